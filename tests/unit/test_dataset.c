/* test_dataset.c - versions, tags and snapshots of LanceDB datasets: row
 * numbering with deletions and stable row ids, base paths, lazy files. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include <pthread.h>
#include <unistd.h>

#include "table.pb-c.h"

static struct ostore *open_fixture(const char *name)
{
	struct ostore *st = NULL;
	struct lc_err err = { 0 };
	char rel[256];

	snprintf(rel, sizeof(rel), "lancedb/%s", name);
	if (ostore_open_uri(&st, fixture_path(rel), NULL, &err))
		fprintf(stderr, "%s: %s\n", rel, err.msg);
	return st;
}

/* A fresh empty directory store. */
static struct ostore *temp_store(char *dir, size_t len)
{
	struct ostore *st = NULL;
	struct lc_err err = { 0 };

	snprintf(dir, len, "/tmp/lancefs-test-XXXXXX");
	if (!mkdtemp(dir) || ostore_local_new(&st, dir, &err))
		return NULL;
	return st;
}

static int put(struct ostore *st, const char *key, const void *data,
	       size_t len)
{
	struct lc_err err = { 0 };

	return ostore_put(st, key, data, len, 0, &err);
}

TEST(versions_both_schemes)
{
	struct ostore *st = open_fixture("v1names.lance");
	struct lance_version_info *v;
	struct lc_err err = { 0 };
	size_t n;

	CHECK(st);
	CHECK_OK(lance_list_versions(&v, &n, st, &err), &err);
	CHECK_EQ_U64(n, 7);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_U64(v[i].version, i + 1);
	CHECK_STR(v[6].manifest_key, "_versions/7.manifest");
	lance_versions_free(v, n);
	ostore_free(st);

	st = open_fixture("stable.lance");
	CHECK(st);
	CHECK_OK(lance_list_versions(&v, &n, st, &err), &err);
	CHECK_EQ_U64(n, 8);
	CHECK_EQ_U64(v[0].version, 1);
	CHECK_STR(v[0].manifest_key,
		  "_versions/18446744073709551614.manifest");
	CHECK_EQ_U64(v[7].version, 8);
	lance_versions_free(v, n);
	ostore_free(st);
}

TEST(versions_hostile_listing)
{
	char dir[64];
	struct ostore *st = temp_store(dir, sizeof(dir));
	struct lance_version_info *v;
	struct lc_err err = { 0 };
	size_t n;

	CHECK(st);
	CHECK(lance_list_versions(&v, &n, st, &err) == ENOENT);
	CHECK(err.kind == LC_EK_NOTFOUND);
	/* Only things that are not manifests: still no dataset. */
	CHECK(!put(st, "_versions/latest_version_hint.json",
		   "{\"version\":3}", 13));
	CHECK(!put(st, "_versions/3.manifest#1", "x", 1));
	CHECK(!put(st, "_versions/d9223372036854775809.manifest", "x", 1));
	CHECK(!put(st, "_versions/abc.manifest", "x", 1));
	CHECK(!put(st, "_versions/99999999999999999999999.manifest", "x", 1));
	CHECK(!put(st, "_latest.manifest", "x", 1));
	lc_err_clear(&err);
	CHECK(lance_list_versions(&v, &n, st, &err) == ENOENT);
	CHECK(!put(st, "_versions/2.manifest", "x", 1));
	CHECK(!put(st, "_versions/10.manifest", "x", 1));
	CHECK_OK(lance_list_versions(&v, &n, st, &err), &err);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(v[0].version, 2);
	CHECK_EQ_U64(v[1].version, 10);
	lance_versions_free(v, n);
	/* A V2 name next to V1 names is refused. */
	CHECK(!put(st, "_versions/18446744073709551612.manifest", "x", 1));
	lc_err_clear(&err);
	CHECK(lance_list_versions(&v, &n, st, &err) == EIO);
	CHECK(strstr(err.msg, "both manifest naming schemes") != NULL);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* A version asked for by number is opened by its manifest's name in
 * either scheme, with no listing of _versions (here one that fails: a
 * name of the other scheme beside them); the latest, or a version not
 * there, takes the listing. */
TEST(snapshot_by_number)
{
	static const struct {
		const char *fixture, *other;
	} cases[] = {
		{ "lancedb/v1names.lance",
		  "_versions/18446744073709551612.manifest" },
		{ "lancedb/stable.lance", "_versions/3.manifest" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char dir[64];
		struct ostore *st = temp_store(dir, sizeof(dir));
		struct lance_snapshot *s = NULL;
		struct lc_err err = { 0 };

		CHECK(st);
		CHECK(!fixture_copy(cases[c].fixture, dir));
		CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
		CHECK_EQ_U64(lance_snapshot_manifest(s)->version, c ? 8 : 7);
		lance_snapshot_free(s);
		CHECK(!put(st, cases[c].other, "x", 1));
		CHECK_OK(lance_snapshot_open(&s, st, 2, &err), &err);
		CHECK_EQ_U64(lance_snapshot_manifest(s)->version, 2);
		lance_snapshot_free(s);
		CHECK(lance_snapshot_open(&s, st, 0, &err) == EIO);
		CHECK(strstr(err.msg, "both manifest naming schemes"));
		lc_err_clear(&err);
		CHECK(lance_snapshot_open(&s, st, 99, &err) == EIO);
		ostore_free(st);
		harness_rm_rf(dir);
	}
}

TEST(tags)
{
	struct ostore *st = open_fixture("v1names.lance");
	char dir[64];
	struct lance_tag *t;
	struct lc_err err = { 0 };
	size_t n;
	static const char snake[] =
		"{\"branch\": \"dev\", \"version\": 4, \"created_at\": "
		"\"2026-01-01T00:00:00Z\", \"manifest_size\": 10}";

	CHECK(st);
	CHECK_OK(lance_list_tags(&t, &n, st, &err), &err);
	CHECK_EQ_U64(n, 2);
	CHECK_STR(t[0].name, "after-deletes");
	CHECK_EQ_U64(t[0].version, 7);
	CHECK(t[0].branch == NULL);
	CHECK_STR(t[1].name, "first");
	CHECK_EQ_U64(t[1].version, 1);
	lance_tags_free(t, n);
	ostore_free(st);

	/* No tags at all; snake_case keys; then a broken tag file. */
	st = temp_store(dir, sizeof(dir));
	CHECK(st);
	CHECK_OK(lance_list_tags(&t, &n, st, &err), &err);
	CHECK_EQ_U64(n, 0);
	lance_tags_free(t, n);
	CHECK(!put(st, "_refs/tags/b.json", snake, sizeof(snake) - 1));
	CHECK_OK(lance_list_tags(&t, &n, st, &err), &err);
	CHECK_EQ_U64(n, 1);
	CHECK_STR(t[0].branch, "dev");
	CHECK_EQ_U64(t[0].version, 4);
	lance_tags_free(t, n);
	CHECK(!put(st, "_refs/tags/a.json", "{\"version\": -1}", 15));
	CHECK(lance_list_tags(&t, &n, st, &err) == EIO);
	CHECK(strstr(err.msg, "_refs/tags/a.json") != NULL);
	CHECK(!put(st, "_refs/tags/a.json", "[1", 2));
	lc_err_clear(&err);
	CHECK(lance_list_tags(&t, &n, st, &err) == EIO);
	CHECK(strstr(err.msg, "not JSON") != NULL);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Row numbers of every live row, via row_at, checked against find_row. */
static int collect(uint64_t *nums, size_t cap, struct lance_snapshot *s)
{
	struct lc_err err = { 0 };
	uint64_t n = lance_snapshot_num_rows(s);

	if (n > cap)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		struct lance_row_ref r, f;

		if (lance_snapshot_row_at(&r, s, i, &err) ||
		    lance_snapshot_find_row(&f, s, r.number, &err) ||
		    f.frag != r.frag || f.offset != r.offset ||
		    f.number != r.number)
			return -1;
		nums[i] = r.number;
	}
	return (int)n;
}

TEST(snapshot_deletions)
{
	struct ostore *st = open_fixture("v1names.lance");
	struct lance_snapshot *s;
	struct lance_row_ref r;
	struct lc_err err = { 0 };
	uint64_t nums[64];
	static const uint64_t want[] = { 0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 12,
					 13, 14, 15, 16, 17, 18, 20, 21, 22,
					 23, 24 };

	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->version, 7);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 22);
	CHECK(collect(nums, 64, s) == 22);
	for (size_t i = 0; i < 22; i++)
		CHECK_EQ_U64(nums[i], want[i]);
	CHECK_OK(lance_snapshot_row_at(&r, s, 16, &err), &err);
	CHECK(r.frag == 1 && r.offset == 8 && r.number == 18);
	CHECK_OK(lance_snapshot_find_row(&r, s, 24, &err), &err);
	CHECK(r.frag == 2 && r.offset == 4);
	CHECK(lance_snapshot_find_row(&r, s, 3, &err) == ENOENT);
	CHECK(err.kind == LC_EK_NOTFOUND);
	CHECK(lance_snapshot_find_row(&r, s, 19, &err) == ENOENT);
	CHECK(lance_snapshot_find_row(&r, s, 25, &err) == ENOENT);
	CHECK(lance_snapshot_row_at(&r, s, 22, &err) == ENOENT);
	lance_snapshot_free(s);

	/* Version 6 still has fragment 2 (rows 20..29). */
	CHECK_OK(lance_snapshot_open(&s, st, 6, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 32);
	CHECK_OK(lance_snapshot_find_row(&r, s, 34, &err), &err);
	CHECK(r.frag == 3 && r.offset == 4);
	CHECK(lance_snapshot_find_row(&r, s, 19, &err) == ENOENT);
	lance_snapshot_free(s);

	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 99, &err) == ENOENT);
	CHECK(strstr(err.msg, "version 99 does not exist") != NULL);
	ostore_free(st);
}

TEST(snapshot_bitmap_legacy_empty)
{
	struct ostore *st = open_fixture("bitmap.lance");
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	uint64_t nums[64];
	static const uint64_t legacy[] = { 0, 2, 3, 4, 5, 6, 7 };

	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK(collect(nums, 64, s) == 9);
	for (size_t i = 0; i < 9; i++)
		CHECK_EQ_U64(nums[i], 6001 + i);
	lance_snapshot_free(s);
	ostore_free(st);

	st = open_fixture("legacy.lance");
	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK(collect(nums, 64, s) == 7);
	for (size_t i = 0; i < 7; i++)
		CHECK_EQ_U64(nums[i], legacy[i]);
	lance_snapshot_free(s);
	ostore_free(st);

	st = open_fixture("empty.lance");
	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 0);
	{
		struct lance_row_ref r;

		CHECK(lance_snapshot_row_at(&r, s, 0, &err) == ENOENT);
		CHECK(lance_snapshot_find_row(&r, s, 0, &err) == ENOENT);
	}
	lance_snapshot_free(s);
	ostore_free(st);
}

/* _rowid as LanceDB's query().withRowId() reported it, in scan order. */
TEST(snapshot_stable_ids)
{
	struct ostore *st = open_fixture("stable.lance");
	struct lance_snapshot *s;
	struct lance_row_ref r;
	struct lc_err err = { 0 };
	uint64_t nums[64];
	static const uint64_t latest[] = { 0, 1, 2, 4, 6, 8, 9, 10, 11, 12,
					   13, 14, 15, 16, 17, 18, 19, 5, 20,
					   22 };

	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->version, 8);
	CHECK(collect(nums, 64, s) == 20);
	for (size_t i = 0; i < 20; i++)
		CHECK_EQ_U64(nums[i], latest[i]);
	CHECK_OK(lance_snapshot_find_row(&r, s, 5, &err), &err);
	CHECK(r.frag == 0 && r.offset == 17);
	CHECK_OK(lance_snapshot_find_row(&r, s, 22, &err), &err);
	CHECK(r.frag == 1 && r.offset == 2);
	CHECK(lance_snapshot_find_row(&r, s, 21, &err) == ENOENT);
	CHECK(lance_snapshot_find_row(&r, s, 7, &err) == ENOENT);
	lance_snapshot_free(s);

	/* Version 4: after the update, before compaction. */
	CHECK_OK(lance_snapshot_open(&s, st, 4, &err), &err);
	CHECK(collect(nums, 64, s) == 18);
	for (size_t i = 0; i < 18; i++)
		CHECK_EQ_U64(nums[i], latest[i]);
	lance_snapshot_free(s);
	ostore_free(st);
}

/* Write a framed manifest as _versions/<v>.manifest. */
static int put_manifest(struct ostore *st, const Lpb__Manifest *pm)
{
	size_t n = lpb__manifest__get_packed_size(pm);
	uint8_t *buf = malloc(n + 20);
	char key[64];
	int rc;

	lc_put_le32(buf, (uint32_t)n);
	lpb__manifest__pack(pm, buf + 4);
	lc_put_le64(buf + 4 + n, 0);
	lc_put_le16(buf + 12 + n, 0);
	lc_put_le16(buf + 14 + n, 2);
	memcpy(buf + 16 + n, "LANC", 4);
	snprintf(key, sizeof(key), "_versions/%" PRIu64 ".manifest",
		 pm->version);
	rc = put(st, key, buf, n + 20);
	free(buf);
	return rc;
}

/* A hand-made dataset: fields 0 (int64) and 1 (string) where the only
 * data file holds field 0, and the deletion file lives in a base path
 * (the v1names fixture root) that is a dataset root. */
TEST(snapshot_bases_and_nulls)
{
	char dir[64];
	struct ostore *st = temp_store(dir, sizeof(dir));
	Lpb__Manifest pm;
	Lpb__Field f[2], *fp[2] = { &f[0], &f[1] };
	Lpb__DataFragment fr, *frp = &fr;
	Lpb__DataFile df, *dfp = &df;
	Lpb__DeletionFile del;
	Lpb__BasePath bp, *bpp = &bp;
	int32_t fields[1] = { 0 }, cols[1] = { 0 };
	struct lance_snapshot *s;
	struct lance_array a;
	struct lc_err err = { 0 };
	uint64_t nums[16], sizes[3];
	bool valid[3];
	const struct lance_field *extra, *f0;

	CHECK(st);
	lpb__manifest__init(&pm);
	lpb__field__init(&f[0]);
	lpb__field__init(&f[1]);
	lpb__data_fragment__init(&fr);
	lpb__data_file__init(&df);
	lpb__deletion_file__init(&del);
	lpb__base_path__init(&bp);
	f[0].name = (char *)"id";
	f[0].parent_id = -1;
	f[0].logical_type = (char *)"int64";
	f[1].name = (char *)"extra";
	f[1].id = 1;
	f[1].parent_id = -1;
	f[1].logical_type = (char *)"string";
	f[1].nullable = 1;
	df.path = (char *)"missing.lance";
	df.n_fields = 1;
	df.fields = fields;
	df.n_column_indices = 1;
	df.column_indices = cols;
	df.file_major_version = 2;
	df.file_minor_version = 2;
	del.read_version = 4;
	del.id = 8991738775542555218ull;
	del.num_deleted_rows = 2;
	del.has_base_id_case = LPB__DELETION_FILE__HAS_BASE_ID_BASE_ID;
	del.base_id = 7;
	bp.id = 7;
	bp.is_dataset_root = 1;
	bp.path = fixture_path("lancedb/v1names.lance");
	fr.id = 0;
	fr.physical_rows = 10;
	fr.n_files = 1;
	fr.files = &dfp;
	fr.deletion_file = &del;
	pm.version = 1;
	pm.n_fields = 2;
	pm.fields = fp;
	pm.n_fragments = 1;
	pm.fragments = &frp;
	pm.n_base_paths = 1;
	pm.base_paths = &bpp;
	pm.reader_feature_flags = pm.writer_feature_flags = 1 | 16;
	CHECK(!put_manifest(st, &pm));

	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK(collect(nums, 16, s) == 8);
	CHECK_EQ_U64(nums[3], 4);
	extra = lance_schema_field_by_name(
		&lance_snapshot_manifest(s)->schema, "extra");
	CHECK(extra);
	CHECK_OK(lance_snapshot_read(&a, s, 0, extra, 2, 3, &err), &err);
	CHECK_EQ_U64(a.length, 3);
	CHECK(!lance_array_is_valid(&a, 0) && !lance_array_is_valid(&a, 2));
	CHECK(a.offsets && a.offsets[3] == 0);
	lance_array_reset(&a);
	CHECK_OK(lance_snapshot_value_sizes(sizes, valid, s, 0, extra, 0, 3,
					    &err), &err);
	CHECK(!valid[0] && sizes[2] == 0);
	/* Field 0 is in a data file that does not exist: damage (EIO),
	 * never "no such value" (ENOENT). */
	f0 = lance_schema_field_by_id(&lance_snapshot_manifest(s)->schema,
				      0);
	CHECK(lance_snapshot_read(&a, s, 0, f0, 0, 1, &err) == EIO);
	CHECK(err.kind == LC_EK_CORRUPT);
	CHECK(strstr(err.msg, "data/missing.lance") != NULL);
	lc_err_clear(&err);
	CHECK(lance_snapshot_value_sizes(sizes, valid, s, 0, f0, 0, 1,
					 &err) == EIO);
	CHECK(err.kind == LC_EK_CORRUPT);
	/* Out of range requests. */
	lc_err_clear(&err);
	CHECK(lance_snapshot_read(&a, s, 0, extra, 8, 3, &err) == EINVAL);
	CHECK(lance_snapshot_read(&a, s, 1, extra, 0, 1, &err) == EINVAL);
	lance_snapshot_free(s);

	/* The manifest file must hold the version its name says. */
	pm.version = 2;
	{
		size_t n = lpb__manifest__get_packed_size(&pm);
		uint8_t *buf = malloc(n + 20);

		pm.version = 3;
		n = lpb__manifest__get_packed_size(&pm);
		lc_put_le32(buf, (uint32_t)n);
		lpb__manifest__pack(&pm, buf + 4);
		lc_put_le64(buf + 4 + n, 0);
		lc_put_le16(buf + 12 + n, 0);
		lc_put_le16(buf + 14 + n, 2);
		memcpy(buf + 16 + n, "LANC", 4);
		CHECK(!put(st, "_versions/2.manifest", buf, n + 20));
		free(buf);
	}
	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 0, &err) == EIO);
	CHECK(strstr(err.msg, "_versions/2.manifest: holds version 3") !=
	      NULL);

	/* Deleted offsets past the fragment's rows. */
	pm.version = 4;
	fr.physical_rows = 5;
	CHECK(!put_manifest(st, &pm));
	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 4, &err) == EIO);
	CHECK(strstr(err.msg, "deletes row 5 of a 5-row fragment") != NULL);
	CHECK(strstr(err.msg, "0-4-8991738775542555218.arrow") != NULL);

	/* Stable row ids without a sequence. */
	pm.version = 5;
	fr.physical_rows = 10;
	pm.reader_feature_flags = pm.writer_feature_flags = 1 | 2 | 16;
	CHECK(!put_manifest(st, &pm));
	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 5, &err) == EIO);
	CHECK(strstr(err.msg, "has no row ids") != NULL);

	/* A base path that cannot be opened. */
	pm.version = 6;
	pm.reader_feature_flags = pm.writer_feature_flags = 1 | 16;
	bp.path = (char *)"s3://nowhere/x";
	CHECK(!put_manifest(st, &pm));
	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 6, &err) != 0);
	CHECK(strstr(err.msg, "base path 7") != NULL);

	/* physical_rows 0 means unknown: the first data file is asked;
	 * one the manifest names that is not there is EIO (a damaged
	 * dataset), not ENOENT (a version or row not there) */
	pm.version = 7;
	fr.physical_rows = 0;
	CHECK(!put_manifest(st, &pm));
	lc_err_clear(&err);
	CHECK(lance_snapshot_open(&s, st, 7, &err) == EIO);
	CHECK(strstr(err.msg, "missing.lance") != NULL);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Two fragments whose stable ids collide. */
TEST(snapshot_duplicate_ids)
{
	char dir[64];
	struct ostore *st = temp_store(dir, sizeof(dir));
	Lpb__Manifest pm;
	Lpb__DataFragment fr[2], *frp[2] = { &fr[0], &fr[1] };
	uint8_t seq[] = { 0x0a, 0x06, 0x0a, 0x04, 0x08, 0x05, 0x10, 0x09 };
	struct lance_snapshot *s;
	struct lc_err err = { 0 };

	/* seq = RowIdSequence{ segments: [ range{5..9} ] } */
	CHECK(st);
	lpb__manifest__init(&pm);
	for (int i = 0; i < 2; i++) {
		lpb__data_fragment__init(&fr[i]);
		fr[i].id = (uint64_t)i;
		fr[i].physical_rows = 4;
		fr[i].row_id_sequence_case =
			LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS;
		fr[i].inline_row_ids.data = seq;
		fr[i].inline_row_ids.len = sizeof(seq);
	}
	pm.version = 1;
	pm.n_fragments = 1;
	pm.fragments = frp;
	pm.reader_feature_flags = pm.writer_feature_flags = 2;
	CHECK(!put_manifest(st, &pm));
	CHECK_OK(lance_snapshot_open(&s, st, 1, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 4);
	{
		struct lance_row_ref r;

		CHECK_OK(lance_snapshot_find_row(&r, s, 8, &err), &err);
		CHECK(r.offset == 3);
	}
	lance_snapshot_free(s);
	pm.version = 2;
	pm.n_fragments = 2;
	CHECK(!put_manifest(st, &pm));
	CHECK(lance_snapshot_open(&s, st, 2, &err) == EIO);
	CHECK(strstr(err.msg, "row id 5 belongs to two rows") != NULL);
	ostore_free(st);
	harness_rm_rf(dir);
}

struct reader {
	struct lance_snapshot *s;
	const struct lance_field *f;
	int rc;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;

	for (int i = 0; i < 20; i++) {
		struct lance_array a;
		struct lc_err err = { 0 };

		r->rc = lance_snapshot_read(&a, r->s, (uint32_t)(i % 3), r->f,
					    0, 1, &err);
		if (!r->rc)
			lance_array_reset(&a);
	}
	return NULL;
}

/* Concurrent readers share the lazily opened files. The data decoders
 * may not be there yet, so any result is fine as long as it is the same
 * for everyone and nothing races (TSan/ASan). */
TEST(snapshot_concurrent_reads)
{
	struct ostore *st = open_fixture("v1names.lance");
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	struct reader r[4];
	pthread_t th[4];

	CHECK(st);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	for (int i = 0; i < 4; i++) {
		r[i].s = s;
		r[i].f = lance_schema_field_by_name(
			&lance_snapshot_manifest(s)->schema, "s");
		pthread_create(&th[i], NULL, read_thread, &r[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 1; i < 4; i++)
		CHECK(r[i].rc == r[0].rc);
	lance_snapshot_free(s);
	ostore_free(st);
}

TEST(alloc_failures)
{
	struct ostore *st = open_fixture("stable.lance");

	CHECK(st);
	for (unsigned long n = 1; n < 400; n++) {
		struct lance_snapshot *s = NULL;
		struct lc_err err = { 0 };
		int rc;

		lc_alloc_fail_after(n);
		rc = lance_snapshot_open(&s, st, 0, &err);
		lc_alloc_fail_after(0);
		if (!rc) {
			lance_snapshot_free(s);
			break;
		}
		CHECK(rc == ENOMEM);
	}
	ostore_free(st);
}

TEST_MAIN(TEST_ENTRY(versions_both_schemes),
	  TEST_ENTRY(snapshot_by_number),
	  TEST_ENTRY(versions_hostile_listing), TEST_ENTRY(tags),
	  TEST_ENTRY(snapshot_deletions),
	  TEST_ENTRY(snapshot_bitmap_legacy_empty),
	  TEST_ENTRY(snapshot_stable_ids),
	  TEST_ENTRY(snapshot_bases_and_nulls),
	  TEST_ENTRY(snapshot_duplicate_ids),
	  TEST_ENTRY(snapshot_concurrent_reads), TEST_ENTRY(alloc_failures))
