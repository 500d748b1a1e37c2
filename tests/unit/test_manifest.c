/* test_manifest.c - manifest framing and contents, against manifests
 * LanceDB 0.39 (lance 12) wrote, and hostile variations of them. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include "table.pb-c.h"
#include "transaction.pb-c.h"

#define V1NAMES "lancedb/v1names.lance/"
#define STABLE8 \
	"lancedb/stable.lance/_versions/18446744073709551607.manifest"

static struct lance_manifest *load(const char *rel, struct lc_err *err)
{
	struct lance_manifest *m = NULL;
	size_t len;
	uint8_t *buf = fixture_read(rel, &len);

	if (buf && lance_manifest_parse(&m, buf, len, err))
		fprintf(stderr, "%s: %s\n", rel, err->msg);
	free(buf);
	return m;
}

TEST(v1names_latest)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m = load(V1NAMES "_versions/7.manifest", &err);
	const struct lance_fragment *f;

	CHECK(m);
	CHECK_EQ_U64(m->version, 7);
	CHECK_EQ_U64(m->timestamp_sec, 1795261468);
	CHECK_EQ_U64(m->timestamp_nsec, 499025665);
	CHECK_EQ_U64(m->reader_flags, LANCE_FLAG_DELETION_FILES);
	CHECK_EQ_U64(m->writer_flags, LANCE_FLAG_DELETION_FILES);
	CHECK(m->has_max_fragment_id);
	CHECK_EQ_U64(m->max_fragment_id, 3);
	CHECK_STR(m->data_format, "2.2");
	CHECK_STR(m->writer_library, "lance");
	CHECK_STR(m->writer_version, "12.0.0");
	CHECK_STR(m->transaction_file,
		  "6-06bc10ed-4fd6-40b3-b0f0-8203aa6ed926.txn");
	CHECK(m->has_transaction_section && m->transaction_section == 0);
	CHECK(!m->has_index_section);
	CHECK(m->branch == NULL);
	CHECK_EQ_U64(m->n_base_paths, 0);
	CHECK_EQ_U64(m->n_config, 0);
	CHECK(lance_manifest_config(m, "anything") == NULL);
	CHECK_EQ_U64(m->raw_len, 523);
	CHECK_EQ_U64(m->schema.n_fields, 2);
	CHECK_STR(m->schema.fields[0].logical_type, "double");
	CHECK_STR(m->schema.fields[1].name, "s");
	/* Fragment 2 was deleted entirely and is gone. */
	CHECK_EQ_U64(m->n_fragments, 3);
	CHECK_EQ_U64(m->fragments[0].id, 0);
	CHECK_EQ_U64(m->fragments[1].id, 1);
	CHECK_EQ_U64(m->fragments[2].id, 3);
	f = &m->fragments[0];
	CHECK_EQ_U64(f->physical_rows, 10);
	CHECK_EQ_U64(f->n_files, 1);
	CHECK_STR(f->files[0].path,
		  "data/110101000011101011100010fd0fc7430b84f9f939150cbbf3"
		  ".lance");
	CHECK_EQ_U64(f->files[0].n_fields, 2);
	CHECK_EQ_U64(f->files[0].fields[1], 1);
	CHECK_EQ_U64(f->files[0].n_column_indices, 2);
	CHECK_EQ_U64(f->files[0].column_indices[1], 1);
	CHECK_EQ_U64(f->files[0].major, 2);
	CHECK_EQ_U64(f->files[0].minor, 2);
	CHECK_EQ_U64(f->files[0].size, 763);
	CHECK(!f->files[0].has_base_id);
	CHECK(f->deletion.present && f->deletion.type == LANCE_DEL_ARROW);
	CHECK_EQ_U64(f->deletion.read_version, 4);
	CHECK_EQ_U64(f->deletion.id, 8991738775542555218ull);
	CHECK_EQ_U64(f->deletion.num_deleted, 2);
	CHECK(f->row_ids == NULL && f->row_ids_ext.path == NULL);
	f = &m->fragments[1];
	CHECK_EQ_U64(f->deletion.read_version, 5);
	CHECK_EQ_U64(f->deletion.id, 14216287505641682ull);
	CHECK_EQ_U64(f->deletion.num_deleted, 1);
	f = &m->fragments[2];
	CHECK_EQ_U64(f->physical_rows, 5);
	CHECK(!f->deletion.present);
	lance_manifest_free(m);
}

/* The inline transaction of version 7 is the Delete that dropped
 * fragment 2, byte-identical to its _transactions/ file. */
TEST(inline_transaction)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m = load(V1NAMES "_versions/7.manifest", &err);
	Lpb__Transaction *t;
	uint8_t *file;
	size_t flen;
	uint32_t tlen;
	const uint8_t *p;

	CHECK(m && m->has_transaction_section);
	p = m->raw + m->transaction_section;
	tlen = lc_le32(p);
	CHECK(lc_range_ok(m->transaction_section + 4, tlen, m->raw_len));
	CHECK_OK(lance__pb_check(p + 4, tlen, LANCE_PB_MAX_DEPTH, "txn",
				 &err), &err);
	t = lpb__transaction__unpack(NULL, tlen, p + 4);
	CHECK(t);
	CHECK_EQ_U64(t->read_version, 6);
	CHECK_STR(t->uuid, "06bc10ed-4fd6-40b3-b0f0-8203aa6ed926");
	CHECK_EQ_U64(t->operation_case, LPB__TRANSACTION__OPERATION_DELETE);
	CHECK_EQ_U64(t->delete_->n_deleted_fragment_ids, 1);
	CHECK_EQ_U64(t->delete_->deleted_fragment_ids[0], 2);
	CHECK_EQ_U64(t->delete_->n_updated_fragments, 0);
	CHECK_STR(t->delete_->predicate, "id >= 20 AND id < 30");
	lpb__transaction__free_unpacked(t, NULL);
	file = fixture_read(V1NAMES "_transactions/"
			    "6-06bc10ed-4fd6-40b3-b0f0-8203aa6ed926.txn",
			    &flen);
	CHECK(file);
	CHECK_EQ_U64(flen, tlen);
	CHECK(memcmp(file, p + 4, flen) == 0);
	free(file);
	lance_manifest_free(m);
}

/* Version 1 of the same table: creation is an Overwrite carrying the
 * schema and the first fragment. */
TEST(create_transaction)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m = load(V1NAMES "_versions/1.manifest", &err);
	Lpb__Transaction *t;
	const uint8_t *p;

	CHECK(m && m->has_transaction_section);
	CHECK(!m->fragments[0].deletion.present);
	CHECK_EQ_U64(m->reader_flags, 0);
	CHECK_EQ_U64(m->max_fragment_id, 0);
	p = m->raw + m->transaction_section;
	t = lpb__transaction__unpack(NULL, lc_le32(p), p + 4);
	CHECK(t);
	CHECK_EQ_U64(t->read_version, 0);
	CHECK_EQ_U64(t->operation_case,
		     LPB__TRANSACTION__OPERATION_OVERWRITE);
	CHECK_EQ_U64(t->overwrite->n_fragments, 1);
	CHECK_EQ_U64(t->overwrite->fragments[0]->physical_rows, 10);
	CHECK_EQ_U64(t->overwrite->n_schema, 2);
	CHECK_STR(t->overwrite->schema[1]->name, "s");
	lpb__transaction__free_unpacked(t, NULL);
	lance_manifest_free(m);
}

TEST(stable_row_ids)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m = load(STABLE8, &err);
	const struct lance_fragment *f;

	CHECK(m);
	CHECK_EQ_U64(m->version, 8);
	CHECK_EQ_U64(m->reader_flags, 3);
	CHECK_EQ_U64(m->writer_flags, 3);
	CHECK_EQ_U64(m->next_row_id, 23);
	CHECK_EQ_U64(m->max_fragment_id, 4);
	CHECK_EQ_U64(m->n_fragments, 2);
	f = &m->fragments[0];
	CHECK_EQ_U64(f->id, 3);
	CHECK_EQ_U64(f->physical_rows, 18);
	CHECK(f->row_ids && f->row_ids_len > 0);
	CHECK(!f->deletion.present);
	f = &m->fragments[1];
	CHECK_EQ_U64(f->id, 4);
	CHECK_EQ_U64(f->physical_rows, 3);
	CHECK(f->deletion.present && f->deletion.read_version == 7);
	lance_manifest_free(m);
}

TEST(legacy_and_empty)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m;

	m = load("lancedb/legacy.lance/_versions/3.manifest", &err);
	CHECK(m);
	CHECK_STR(m->data_format, "0.1");
	CHECK_EQ_U64(m->n_fragments, 2);
	CHECK_EQ_U64(m->fragments[0].files[0].major, 0);
	CHECK_EQ_U64(m->fragments[0].files[0].minor, 2);
	CHECK_EQ_U64(m->fragments[0].files[0].n_column_indices, 0);
	CHECK_EQ_U64(m->fragments[0].files[0].n_fields, 2);
	lance_manifest_free(m);

	/* Dictionary values sit before the sections in 0.1 manifests. */
	m = load("lancedb/legacydict.lance/_versions/1.manifest", &err);
	CHECK(m);
	CHECK_EQ_U64(m->transaction_section, 35);
	CHECK(m->raw[0] == 'a' && m->raw[2] == 'c');
	CHECK(lance_schema_field_by_name(&m->schema, "d")->type.dict);
	lance_manifest_free(m);

	m = load("lancedb/empty.lance/_versions/18446744073709551614"
		 ".manifest", &err);
	CHECK(m);
	CHECK_EQ_U64(m->version, 1);
	CHECK_EQ_U64(m->n_fragments, 0);
	CHECK(!m->has_max_fragment_id);
	CHECK_EQ_U64(m->schema.n_fields, 2);
	CHECK_STR(m->data_format, "2.2");
	lance_manifest_free(m);
}

/* ---------------------------------------------------------- hostile */

static int parse_bytes(const uint8_t *buf, size_t len, struct lc_err *err)
{
	struct lance_manifest *m = NULL;
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, buf, len);
	lc_err_clear(err);
	rc = lance_manifest_parse(&m, copy, len, err);
	free(copy);
	lance_manifest_free(m);
	return rc;
}

TEST(truncated_and_framing)
{
	struct lc_err err = { 0 };
	size_t len;
	uint8_t *buf = fixture_read(V1NAMES "_versions/7.manifest", &len);

	CHECK(buf);
	/* Every prefix fails cleanly. */
	for (size_t n = 0; n < len; n++)
		CHECK(parse_bytes(buf, n, &err) == EIO);
	CHECK(parse_bytes(buf, len, &err) == 0);
	buf[len - 1] = 'X';
	CHECK(parse_bytes(buf, len, &err) == EIO);
	CHECK(strstr(err.msg, "bad magic") != NULL);
	buf[len - 1] = 'C';
	/* Manifest length off by one. */
	buf[72] ^= 1;
	CHECK(parse_bytes(buf, len, &err) == EIO);
	CHECK(strstr(err.msg, "does not match") != NULL);
	buf[72] ^= 1;
	/* Position past the end, and negative. */
	lc_put_le64(buf + len - 16, len);
	CHECK(parse_bytes(buf, len, &err) == EIO);
	CHECK(strstr(err.msg, "outside") != NULL);
	lc_put_le64(buf + len - 16, UINT64_MAX);
	CHECK(parse_bytes(buf, len, &err) == EIO);
	lc_put_le64(buf + len - 16, 72);
	/* Footer major version 1 */
	buf[len - 8] = 1;
	CHECK(parse_bytes(buf, len, &err) == EIO);
	CHECK(err.kind == LC_EK_UNSUPPORTED);
	buf[len - 8] = 0;
	/* Garbage in the protobuf. */
	memset(buf + 76, 0xff, 40);
	CHECK(parse_bytes(buf, len, &err) == EIO);
	CHECK(err.kind == LC_EK_CORRUPT);
	free(buf);
}

/* Frame a hand-built Manifest like lance does (no other sections). */
static uint8_t *frame(const Lpb__Manifest *pm, size_t *len)
{
	size_t n = lpb__manifest__get_packed_size(pm);
	uint8_t *buf = malloc(n + 20);

	lc_put_le32(buf, (uint32_t)n);
	lpb__manifest__pack(pm, buf + 4);
	lc_put_le64(buf + 4 + n, 0);
	lc_put_le16(buf + 12 + n, 0);
	lc_put_le16(buf + 14 + n, 2);
	memcpy(buf + 16 + n, "LANC", 4);
	*len = n + 20;
	return buf;
}

static int parse_pb(const Lpb__Manifest *pm, struct lc_err *err)
{
	size_t len;
	uint8_t *buf = frame(pm, &len);
	int rc = parse_bytes(buf, len, err);

	free(buf);
	return rc;
}

TEST(feature_flags)
{
	Lpb__Manifest pm;
	struct lc_err err = { 0 };
	static const uint64_t ok[] = { 1, 2, 4, 8, 16, 32, 128, 0x1bf };

	lpb__manifest__init(&pm);
	pm.version = 1;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		pm.reader_feature_flags = ok[i];
		pm.writer_feature_flags = ok[i] & 256 ? 256 : 0;
		CHECK_OK(parse_pb(&pm, &err), &err);
	}
	pm.reader_feature_flags = 256;
	pm.writer_feature_flags = 256;
	CHECK_OK(parse_pb(&pm, &err), &err);
	pm.writer_feature_flags = 0;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "flag 256") != NULL);
	pm.reader_feature_flags = 0;
	pm.writer_feature_flags = 256;
	CHECK(parse_pb(&pm, &err) == EIO);
	pm.writer_feature_flags = 0;
	pm.reader_feature_flags = 1 | 64 | 512;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(err.kind == LC_EK_UNSUPPORTED);
	CHECK(strstr(err.msg, "unknown bits (64, 512)") != NULL);
	pm.reader_feature_flags = 1ull << 63;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "9223372036854775808") != NULL);
	/* Writer-only bits do not concern a reader. */
	pm.reader_feature_flags = 0;
	pm.writer_feature_flags = 1 << 20;
	CHECK_OK(parse_pb(&pm, &err), &err);
}

TEST(hostile_fragments)
{
	Lpb__Manifest pm;
	Lpb__DataFragment fr[2], *frp[2] = { &fr[0], &fr[1] };
	Lpb__DataFile df, *dfp = &df;
	Lpb__DeletionFile del;
	Lpb__BasePath bp, *bpp = &bp;
	struct lc_err err = { 0 };
	struct lance_manifest *m = NULL;
	uint8_t *buf;
	size_t len;

	lpb__manifest__init(&pm);
	lpb__data_fragment__init(&fr[0]);
	lpb__data_fragment__init(&fr[1]);
	lpb__data_file__init(&df);
	lpb__deletion_file__init(&del);
	lpb__base_path__init(&bp);
	pm.version = 2;
	pm.n_fragments = 2;
	pm.fragments = frp;
	fr[0].id = 5;
	fr[1].id = 5;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "fragment id 5 appears twice") != NULL);
	fr[1].id = 6;
	CHECK_OK(parse_pb(&pm, &err), &err);
	fr[1].id = 1ull << 32;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "32 bits") != NULL);
	fr[1].id = 6;
	fr[1].physical_rows = 1ull << 33;
	CHECK(parse_pb(&pm, &err) == EIO);
	fr[1].physical_rows = 10;
	/* A data file in an unknown base, then in a plain base. */
	df.path = (char *)"f.lance";
	df.has_base_id_case = LPB__DATA_FILE__HAS_BASE_ID_BASE_ID;
	df.base_id = 3;
	fr[1].n_files = 1;
	fr[1].files = &dfp;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "base path 3") != NULL);
	bp.id = 3;
	bp.path = (char *)"/elsewhere/bucket";
	pm.n_base_paths = 1;
	pm.base_paths = &bpp;
	buf = frame(&pm, &len);
	CHECK_OK(lance_manifest_parse(&m, buf, len, &err), &err);
	free(buf);
	CHECK_STR(m->fragments[1].files[0].path, "f.lance");
	CHECK(m->fragments[1].files[0].has_base_id);
	CHECK_STR(m->base_paths[0].path, "/elsewhere/bucket");
	CHECK(m->base_paths[0].name == NULL);
	lance_manifest_free(m);
	m = NULL;
	bp.is_dataset_root = 1;
	buf = frame(&pm, &len);
	CHECK_OK(lance_manifest_parse(&m, buf, len, &err), &err);
	free(buf);
	CHECK_STR(m->fragments[1].files[0].path, "data/f.lance");
	lance_manifest_free(m);
	/* Deletions claiming more rows than the fragment has. */
	del.num_deleted_rows = 11;
	fr[1].deletion_file = &del;
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "11 deleted rows of 10") != NULL);
	del.num_deleted_rows = 1;
	del.file_type = 7;
	CHECK(parse_pb(&pm, &err) == EIO);
	del.file_type = 1;
	CHECK_OK(parse_pb(&pm, &err), &err);
	/* An empty data file path. */
	df.path = (char *)"";
	CHECK(parse_pb(&pm, &err) == EIO);
	CHECK(strstr(err.msg, "empty path") != NULL);
}

TEST(alloc_failures)
{
	size_t len;
	uint8_t *buf = fixture_read(STABLE8, &len);

	CHECK(buf);
	for (unsigned long n = 1; n < 200; n++) {
		struct lance_manifest *m = NULL;
		struct lc_err err = { 0 };
		int rc;

		lc_alloc_fail_after(n);
		rc = lance_manifest_parse(&m, buf, len, &err);
		lc_alloc_fail_after(0);
		if (!rc) {
			lance_manifest_free(m);
			break;
		}
		CHECK(rc == ENOMEM);
	}
	free(buf);
}

/* Version 7 against copies of itself changed one way at a time: only
 * a version holding 7's fragments unchanged, first, under the same
 * schema and config, appends to it. */
TEST(appends)
{
	struct lc_err err = { 0 };
	struct lance_manifest *a = load(V1NAMES "_versions/7.manifest", &err);
	struct lance_manifest *b = load(V1NAMES "_versions/7.manifest", &err);
	struct lance_data_file *df;
	char key[] = "lancefs.name_column", value[] = "s", other[] = "t";
	struct lance_kv kv = { key, (uint8_t *)value, 1 };
	struct lance_kv *config;
	char *name;

	CHECK(a && b && a->n_fragments == 3 && a->fragments[0].n_files);
	CHECK(lance_manifest_appends(a, a));
	CHECK(lance_manifest_appends(a, b));
	/* b adds a fragment to 7's first two: an append; not backwards */
	a->n_fragments = 2;
	CHECK(lance_manifest_appends(a, b));
	CHECK(!lance_manifest_appends(b, a));
	a->n_fragments = 3;
	/* a deletion in an old fragment */
	b->fragments[1].deletion.id++;
	CHECK(!lance_manifest_appends(a, b));
	b->fragments[1].deletion.id--;
	b->fragments[0].deletion.present = !b->fragments[0].deletion.present;
	CHECK(!lance_manifest_appends(a, b));
	b->fragments[0].deletion.present = !b->fragments[0].deletion.present;
	/* a rewritten data file; more rows in a fragment */
	df = &b->fragments[0].files[0];
	df->size++;
	CHECK(!lance_manifest_appends(a, b));
	df->size--;
	b->fragments[2].physical_rows++;
	CHECK(!lance_manifest_appends(a, b));
	b->fragments[2].physical_rows--;
	/* a column renamed; a column's type changed */
	name = b->schema.fields[1].name;
	b->schema.fields[1].name = other;
	CHECK(!lance_manifest_appends(a, b));
	b->schema.fields[1].name = name;
	b->schema.fields[1].nullable = !b->schema.fields[1].nullable;
	CHECK(!lance_manifest_appends(a, b));
	b->schema.fields[1].nullable = !b->schema.fields[1].nullable;
	/* the dataset config (name column) changed */
	config = b->config;
	b->config = &kv;
	b->n_config = 1;
	CHECK(!lance_manifest_appends(a, b));
	b->config = config;
	b->n_config = 0;
	/* stable row ids switched on */
	b->reader_flags |= LANCE_FLAG_STABLE_ROW_IDS;
	CHECK(!lance_manifest_appends(a, b));
	b->reader_flags &= ~(uint64_t)LANCE_FLAG_STABLE_ROW_IDS;
	CHECK(lance_manifest_appends(a, b));
	lance_manifest_free(a);
	lance_manifest_free(b);
}

TEST_MAIN(TEST_ENTRY(v1names_latest), TEST_ENTRY(inline_transaction),
	  TEST_ENTRY(create_transaction), TEST_ENTRY(stable_row_ids),
	  TEST_ENTRY(legacy_and_empty), TEST_ENTRY(truncated_and_framing),
	  TEST_ENTRY(feature_flags), TEST_ENTRY(hostile_fragments),
	  TEST_ENTRY(alloc_failures), TEST_ENTRY(appends))
