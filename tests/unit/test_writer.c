/*
 * test_writer.c - format/writer.c: files we write read back through our
 * own reader (every version, every supported shape, many pages), and
 * hostile arguments are refused with clear messages.  LanceDB reading
 * the same files is tests/data/writer/ (label interop).
 */
#include "harness.h"
#include "../data/writer/wdata.h"

#include "ostore.h"

/* Compare rows [xi, xi + n) of x with [yi, yi + n) of y; prints the first
 * difference. */
static bool same_rows(const struct lance_field *f, const struct lance_type *t,
		      const struct lance_array *x, uint64_t xi,
		      const struct lance_array *y, uint64_t yi, uint64_t n)
{
	unsigned w = lance_type_width(t);
	const char *name = f ? f->name : "item";

	for (uint64_t r = 0; r < n; r++) {
		uint64_t i = xi + r, j = yi + r;
		bool vx = lance_array_is_valid(x, i);
		bool vy = lance_array_is_valid(y, j);

		if (vx != vy) {
			fprintf(stderr, "%s row %llu: valid %d, read %d\n",
				name, (unsigned long long)i, vx, vy);
			return false;
		}
		if (!vx)
			continue;
		switch (t->id) {
		case LANCE_T_BOOL:
			if (((x->values[i >> 3] >> (i & 7)) & 1) !=
			    ((y->values[j >> 3] >> (j & 7)) & 1))
				goto diff;
			break;
		case LANCE_T_UTF8:
		case LANCE_T_BINARY: {
			uint64_t lx = x->offsets[i + 1] - x->offsets[i];
			uint64_t ly = y->offsets[j + 1] - y->offsets[j];

			if (lx != ly ||
			    memcmp(x->values + x->offsets[i],
				   y->values + y->offsets[j], (size_t)lx))
				goto diff;
			break;
		}
		case LANCE_T_FIXED_LIST: {
			size_t d = (size_t)t->width;

			if (!same_rows(NULL, t->item, &x->children[0], i * d,
				       &y->children[0], j * d, d))
				goto diff;
			break;
		}
		case LANCE_T_LIST:
		case LANCE_T_MAP: {
			uint64_t lx = x->offsets[i + 1] - x->offsets[i];
			uint64_t ly = y->offsets[j + 1] - y->offsets[j];

			if (lx != ly ||
			    !same_rows(f->children[0], &f->children[0]->type,
				       &x->children[0], x->offsets[i],
				       &y->children[0], y->offsets[j], lx))
				goto diff;
			break;
		}
		case LANCE_T_STRUCT:
			for (size_t c = 0; c < f->n_children; c++)
				if (!same_rows(f->children[c],
					       &f->children[c]->type,
					       &x->children[c], i,
					       &y->children[c], j, 1))
					goto diff;
			break;
		default:
			if (memcmp(x->values + i * w, y->values + j * w, w))
				goto diff;
			break;
		}
		continue;
diff:
		fprintf(stderr, "%s row %llu differs\n", name,
			(unsigned long long)i);
		return false;
	}
	return true;
}

/* Every top-level field read whole and row by row at random spots. */
static void check_file(struct wfile *wf, const struct wd_opts *o)
{
	struct lc_err err = { 0 };
	uint64_t seed = 12345;

	CHECK_EQ_U64(lance_file_rows(wf->f), wf->rows);
	for (size_t t = 0; t < WD_NTOP; t++) {
		const struct lance_field *f = wf->schema.top[t];
		struct lance_array want, got = { 0 };
		bool ok;

		wd_column(&want, &wf->schema, t, 0, wf->rows, o);
		CHECK_OK(lance_file_read(&got, wf->f, f, 0, wf->rows, &err),
			 &err);
		CHECK_EQ_U64(got.length, wf->rows);
		ok = same_rows(f, &f->type, &want, 0, &got, 0, wf->rows);
		lance_array_reset(&got);
		if (!ok)
			fprintf(stderr, "field %s, whole column\n", f->name);
		for (int k = 0; ok && k < 40; k++) {
			uint64_t r;

			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			r = (seed >> 33) % wf->rows;
			CHECK_OK(lance_file_read(&got, wf->f, f, r, 1, &err),
				 &err);
			ok = got.length == 1 &&
			     same_rows(f, &f->type, &want, r, &got, 0, 1);
			if (!ok)
				fprintf(stderr, "field %s, row %llu alone\n",
					f->name, (unsigned long long)r);
			lance_array_reset(&got);
		}
		wd_free(&want);
		CHECK(ok);
	}
}

static void round_trip_with(uint16_t minor, uint64_t rows, uint64_t batch,
			    const struct wd_opts *opts)
{
	struct wd_opts o = *opts;
	struct lc_err err = { 0 };
	struct wfile wf;
	int rc;

	rc = wfile_write(&wf, minor, rows, batch, &o, NULL, &err);
	if (rc) {
		fprintf(stderr, "write 2.%u: %s\n", minor, err.msg);
		wfile_free(&wf);
		CHECK(rc == 0);
	}
	check_file(&wf, &o);
	wfile_free(&wf);
}

static void round_trip(uint16_t minor, uint64_t rows, uint64_t batch,
		       bool big, bool edge)
{
	round_trip_with(minor, rows, batch,
			&(struct wd_opts){ .big = big,
					   .struct_nulls = minor > 0,
					   .edge = edge });
}

TEST(small_20) { round_trip(0, 50, 50, false, false); }
TEST(small_21) { round_trip(1, 50, 50, false, false); }
TEST(small_22) { round_trip(2, 50, 50, false, false); }
TEST(big_20) { round_trip(0, 20000, 20000, true, false); }
TEST(big_21) { round_trip(1, 20000, 20000, true, false); }
TEST(big_22) { round_trip(2, 20000, 20000, true, false); }
TEST(batches_20) { round_trip(0, 20000, 3001, false, false); }
TEST(batches_21) { round_trip(1, 20000, 3001, false, false); }
TEST(batches_22) { round_trip(2, 20000, 3001, false, false); }
/* Many tiny adds gather into pages: one page for 2000 rows. */
static void tiny_batches(uint16_t minor, uint64_t batch)
{
	struct wd_opts o = { .struct_nulls = minor > 0 };
	struct lc_err err = { 0 };
	struct wfile wf;
	size_t pages;
	int rc;

	rc = wfile_write(&wf, minor, 2000, batch, &o, NULL, &err);
	if (rc) {
		fprintf(stderr, "write 2.%u: %s\n", minor, err.msg);
		wfile_free(&wf);
		CHECK(rc == 0);
	}
	pages = wf.f->cols[0].n_pages;
	check_file(&wf, &o);
	wfile_free(&wf);
	CHECK_EQ_U64(pages, 1);
}

TEST(tiny_20) { tiny_batches(0, 1); }
TEST(tiny_21) { tiny_batches(1, 7); }
TEST(tiny_22) { tiny_batches(2, 3); }
TEST(edge_20) { round_trip(0, 300, 300, false, true); }
TEST(edge_21) { round_trip(1, 300, 300, false, true); }
TEST(edge_22) { round_trip(2, 300, 300, false, true); }
/* A struct field null in every row of a valid struct: an all-null page
 * with levels (tests/data/writer's nullkid mode has LanceDB read it). */
static void kid_null(uint16_t minor)
{
	round_trip_with(minor, 300, 300,
			&(struct wd_opts){ .struct_nulls = minor > 0,
					   .kid_null = true });
}
TEST(kid_null_20) { kid_null(0); }
TEST(kid_null_21) { kid_null(1); }
TEST(kid_null_22) { kid_null(2); }

/* ---------------------------------------------------------- refusals */

typedef void (*spoil_fn)(struct lance_array *, const struct lance_schema *);

static void expect_add_error(uint16_t minor, spoil_fn spoil,
			     const char *needle)
{
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct wd_opts o = { .struct_nulls = true };
	struct lance_array cols[WD_NTOP];
	struct lance_writer *w = NULL;
	int32_t ids[WD_NTOP];
	int rc;

	CHECK_OK(wd_schema(&s, &err), &err);
	for (size_t i = 0; i < WD_NTOP; i++) {
		ids[i] = s.top[i]->id;
		wd_column(&cols[i], &s, i, 0, 100, &o);
	}
	spoil(cols, &s);
	rc = lance_writer_new(&w, &s, ids, WD_NTOP, 2, minor, &err);
	if (!rc)
		rc = lance_writer_add(w, cols, &err);
	lance_writer_free(w);
	for (size_t i = 0; i < WD_NTOP; i++)
		wd_free(&cols[i]);
	lance_schema_reset(&s);
	if (!rc || !strstr(err.msg, needle))
		fprintf(stderr, "rc %d, message \"%s\", wanted \"%s\"\n", rc,
			err.msg, needle);
	CHECK(rc != 0);
	CHECK(strstr(err.msg, needle) != NULL);
}

static void spoil_nothing(struct lance_array *c, const struct lance_schema *s)
{
	(void)c;
	(void)s;
}

static void spoil_length(struct lance_array *c, const struct lance_schema *s)
{
	(void)s;
	c[3].length = 99;
}

static void spoil_items(struct lance_array *c, const struct lance_schema *s)
{
	(void)s;
	c[10].children[0].length -= 1;
}

static void spoil_type(struct lance_array *c, const struct lance_schema *s)
{
	c[1].type = &s->top[2]->type;	/* int32 column claims double */
}

static void spoil_offsets(struct lance_array *c, const struct lance_schema *s)
{
	(void)s;
	c[4].offsets[50] = c[4].values_len + 10;
}

static void spoil_notnull(struct lance_array *c, const struct lance_schema *s)
{
	(void)s;
	c[0].validity = wd_alloc(13);	/* id is NOT NULL */
}

static void spoil_null_list(struct lance_array *c,
			    const struct lance_schema *s)
{
	(void)s;
	/* row 0 becomes null but keeps its items */
	c[10].validity[0] &= 0xfe;
}

TEST(refuse_items)
{
	expect_add_error(1, spoil_items,
			 "field li: list offsets out of order or past "
			 "the items");
}
TEST(refuse_length_msg)
{
	expect_add_error(2, spoil_length,
			 "field flag: 99 rows, expected 100");
}
TEST(refuse_type)
{
	expect_add_error(1, spoil_type,
			 "field i32: array of type");
}
TEST(refuse_offsets)
{
	expect_add_error(0, spoil_offsets,
			 "field name: offsets");
}
TEST(refuse_notnull)
{
	expect_add_error(2, spoil_notnull,
			 "field id: nulls in a non-nullable field");
}
TEST(refuse_null_struct_20)
{
	expect_add_error(0, spoil_nothing,
			 "field st: Lance file version 2.0 cannot store "
			 "null structs");
}
TEST(refuse_null_list_items_21)
{
	expect_add_error(1, spoil_null_list,
			 "field li: row 0 is a null list with items");
}

TEST(refuse_version)
{
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_writer *w = NULL;
	int32_t id = 0, bad = 11;

	CHECK_OK(wd_schema(&s, &err), &err);
	CHECK(lance_writer_new(&w, &s, &id, 1, 2, 3, &err) != 0);
	CHECK(strstr(err.msg, "file version 2.3") != NULL);
	CHECK(w == NULL);
	lc_err_clear(&err);
	CHECK(lance_writer_new(&w, &s, &bad, 1, 2, 1, &err) != 0);
	CHECK(strstr(err.msg, "field id 11 is not a top-level field") != NULL);
	lance_schema_reset(&s);
}

/*
 * Write `a` (rows of s->top[0]) as a one-column 2.minor file, added in
 * batches of `batch` rows (0: one), and read it back through our reader:
 * true when every row reads as written, the whole file at once and rows
 * alone (every row of a small file; else 40 spread over it, the last
 * among them). A blob file must list only the blob field.
 */
static bool write_read_back(const struct lance_schema *s,
			    const struct lance_array *a, uint16_t minor,
			    uint64_t batch)
{
	static char path[] = "data/one.lance";
	const struct lance_field *fld = s->top[0];
	const struct lance_type *t = lance_array_type(fld);
	uint64_t rows = a->length;
	struct lc_err err = { 0 };
	struct lance_writer *w = NULL;
	struct lance_array got = { 0 };
	struct ostore *st = NULL;
	struct lance_file *f = NULL;
	struct lance_data_file df = { 0 };
	uint8_t *bytes = NULL;
	size_t len = 0;
	int32_t id = fld->id;
	bool ok = false;
	int rc;

	rc = lance_writer_new(&w, s, &id, 1, 2, minor, &err);
	for (uint64_t r = 0, n; !rc && r < rows; r += n) {
		struct lance_array part = *a;	/* rows [r, r + n) */
		uint64_t *o = NULL;
		uint8_t *v = NULL;

		n = batch && rows - r > batch ? batch : rows - r;
		if (n < rows) {	/* batches: strings or binary only */
			o = wd_alloc((n + 1) * 8);
			v = wd_bitmap(n);
			for (uint64_t i = 0; i <= n; i++)
				o[i] = a->offsets[r + i];
			for (uint64_t i = 0; i < n; i++)
				wd_setbit(v, i, lance_array_is_valid(a, r + i));
			part.offsets = o;
			part.validity = v;
			part.length = n;
		}
		rc = lance_writer_add(w, &part, &err);
		free(o);
		free(v);
	}
	if (!rc)
		rc = lance_writer_finish(w, &bytes, &len, &df, &err);
	lance_writer_free(w);
	if (!rc && fld->blob && (df.n_fields != 1 || df.fields[0] != fld->id))
		rc = LC_CORRUPT(&err, "blob file lists %zu fields",
				df.n_fields);
	df.path = path;
	if (!rc)
		rc = ostore_mem_new(&st, &err);
	if (!rc)
		rc = ostore_put(st, path, bytes, len, 0, &err);
	lc_free(bytes);
	if (!rc)
		rc = lance_file_open(&f, st, &df, s, &err);
	if (!rc)
		rc = lance_file_read(&got, f, fld, 0, rows, &err);
	if (!rc)
		ok = got.length == rows &&
		     same_rows(fld, t, a, 0, &got, 0, rows);
	lance_array_reset(&got);
	for (uint64_t k = 0; ok && k < (rows < 40 ? rows : 40); k++) {
		uint64_t i = rows < 40 || k < 10 ? k
			     : k == 39 ? rows - 1 : (k * 7919) % rows;

		rc = lance_file_read(&got, f, fld, i, 1, &err);
		ok = !rc && got.length == 1 &&
		     same_rows(fld, t, a, i, &got, 0, 1);
		lance_array_reset(&got);
	}
	if (rc)
		fprintf(stderr, "2.%u: %s\n", minor, err.msg);
	lance_file_free(f);
	ostore_free(st);
	lc_free(df.fields);
	lc_free(df.column_indices);
	return ok;
}

/* Write `a` (rows of s->top[0]) as one batch of a 2.minor file: true when
 * the writer refuses it with a message holding `needle`. */
static bool write_refused(const struct lance_schema *s,
			  const struct lance_array *a, uint16_t minor,
			  const char *needle)
{
	struct lc_err err = { 0 };
	struct lance_writer *w = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	int32_t id = s->top[0]->id;
	int rc = lance_writer_new(&w, s, &id, 1, 2, minor, &err);

	if (!rc)
		rc = lance_writer_add(w, a, &err);
	if (!rc)
		rc = lance_writer_finish(w, &bytes, &len, NULL, &err);
	lc_free(bytes);
	lance_writer_free(w);
	if (!rc || !strstr(err.msg, needle))
		fprintf(stderr, "2.%u: rc %d, message \"%s\", wanted \"%s\"\n",
			minor, rc, err.msg, needle);
	return rc && strstr(err.msg, needle);
}

/* A blob v1 and a blob v2 column, as LanceDB declares them. */
static const struct wd_def blob1[] = {
	{ "b", -1, "large_binary|lance-encoding:blob=true", true } };
static const struct wd_def blob2[] = {
	{ "b", -1, "struct|ARROW:extension:name=lance.blob.v2", true },
	{ "data", 0, "large_binary", true },
	{ "uri", 0, "string", true } };

/* Shapes a version cannot be written with are refused up front. */
static void expect_new_error(const struct wd_def *defs, size_t n,
			     uint16_t minor, const char *needle)
{
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_writer *w = NULL;
	int32_t id = 0;
	int rc;

	CHECK_OK(wd_schema_of(&s, defs, n, &err), &err);
	rc = lance_writer_new(&w, &s, &id, 1, 2, minor, &err);
	lance_writer_free(w);
	lance_schema_reset(&s);
	if (!rc || !strstr(err.msg, needle))
		fprintf(stderr, "rc %d, message \"%s\", wanted \"%s\"\n", rc,
			err.msg, needle);
	CHECK(rc != 0 && w == NULL);
	CHECK(strstr(err.msg, needle) != NULL);
}

TEST(refuse_shapes)
{
	static const struct wd_def wide_dict[] = {
		{ "d", -1, "dict:fixed_size_binary:5000:int8:false", true } };
	static const struct wd_def listed_blob[] = {
		{ "l", -1, "list", true },
		{ "b", 0, "large_binary|lance-encoding:blob=true", true } };
	static const struct wd_def wide_vec[] = {
		{ "v", -1, "fixed_size_list:float:70000", true } };
	static const struct wd_def deep[] = {
		{ "l0", -1, "list", true }, { "l1", 0, "list", true },
		{ "l2", 1, "list", true }, { "l3", 2, "list", true },
		{ "l4", 3, "list", true }, { "l5", 4, "list", true },
		{ "l6", 5, "list", true }, { "l7", 6, "list", true },
		{ "l8", 7, "list", true }, { "l9", 8, "list", true },
		{ "la", 9, "list", true }, { "lb", 10, "list", true },
		{ "lc", 11, "list", true }, { "ld", 12, "list", true },
		{ "le", 13, "list", true }, { "lf", 14, "list", true },
		{ "x", 15, "int32", true } };

	expect_new_error(wide_dict, 1, 1, "field d: dictionaries of "
			 "dict:fixed_size_binary:5000:int8:false in file "
			 "version 2.1");
	expect_new_error(deep, 17, 2, "field x: nested more than 16 deep");
	expect_new_error(wide_vec, 1, 2, "field v: vectors of 70000 items "
			 "in file version 2.2");
	/* one descriptor a row: blobs go inside structs, not lists */
	expect_new_error(listed_blob, 2, 1, "field b: a blob inside a list");
	/* as Lance: blob v1 up to 2.1, v2 from 2.2 */
	expect_new_error(blob1, 1, 2, "field b: blob v1 in file version 2.2");
	expect_new_error(blob2, 3, 1, "field b: blob v2 in file version 2.1");
}

/*
 * Blob columns (v1 in 2.0 and 2.1, v2 in 2.2) written in batches read
 * back as their bytes: empty, null, one byte, 100 KB and 3 MB values,
 * 20,000 rows (several pages), each row read alone too.
 */
static void blob_round_trip(enum lance_blob_kind kind, uint16_t minor)
{
	enum { ROWS = 20000 };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a;
	uint64_t total = 0;

	CHECK_OK(wd_schema_of(&s, kind == LANCE_BLOB_V1 ? blob1 : blob2,
			      kind == LANCE_BLOB_V1 ? 1 : 3, &err), &err);
	CHECK(s.top[0]->blob == kind);
	memset(&a, 0, sizeof(a));
	a.type = lance_array_type(s.top[0]);
	a.field = s.top[0];
	a.length = ROWS;
	a.validity = wd_bitmap(ROWS);
	a.offsets = wd_alloc((ROWS + 1) * 8);
	for (uint64_t i = 0; i < ROWS; i++) {
		uint64_t n = i == 3 ? 100000 : i == 4 ? 3u << 20 : i % 5;

		a.offsets[i] = total;
		wd_setbit(a.validity, i, i % 7 != 6);
		total += i % 7 != 6 ? n : 0;
	}
	a.offsets[ROWS] = total;
	a.values = wd_alloc((size_t)total);
	a.values_len = total;
	for (uint64_t k = 0; k < total; k++)
		a.values[k] = (uint8_t)(k * 7 + k / 251);
	CHECK(write_read_back(&s, &a, minor, 3000));
	free(a.validity);
	free(a.offsets);
	free(a.values);
	lance_schema_reset(&s);
}

/* What the reader makes of a struct holding a blob v2 that a fragment
 * lacks (lance_array_init_null: all null) holds the blob as its bytes,
 * as the writer takes blobs: written and read back. */
TEST(null_blob_arrays)
{
	static const struct wd_def defs[] = {
		{ "s", -1, "struct", true },
		{ "b", 0, "struct|ARROW:extension:name=lance.blob.v2", true },
		{ "data", 1, "large_binary", true },
		{ "uri", 1, "string", true } };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a;

	CHECK_OK(wd_schema_of(&s, defs, 4, &err), &err);
	CHECK(s.top[0]->children[0]->blob == LANCE_BLOB_V2);
	CHECK_OK(lance_array_init_null(&a, s.top[0], 5, &err), &err);
	CHECK(a.n_children == 1 && a.children[0].type->id == LANCE_T_BINARY);
	CHECK(write_read_back(&s, &a, 2, 3000));
	lance_array_reset(&a);
	lance_schema_reset(&s);
}

/* A map (2.2, as in Lance): null, empty and one-entry rows, a null
 * value, read back whole and row by row; refused in 2.1. */
TEST(map_22)
{
	static const struct wd_def defs[] = {
		{ "m", -1, "map", true }, { "entries", 0, "struct", false },
		{ "key", 1, "string", false }, { "value", 1, "int32", true } };
	uint64_t off[5] = { 0, 2, 2, 2, 3 }, koff[4] = { 0, 1, 3, 3 };
	int32_t vals[3] = { 1, 0, 3 };
	uint8_t valid = 0xd, vvalid = 0x5;	/* row 1 null; value 1 null */
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a, ent, kv[2];

	CHECK_OK(wd_schema_of(&s, defs, 4, &err), &err);
	wd_init(&kv[0], &s.fields[2], 3);
	kv[0].offsets = koff;		/* "a", "bc", "" */
	kv[0].values = (uint8_t *)"abc";
	kv[0].values_len = 3;
	wd_init(&kv[1], &s.fields[3], 3);
	kv[1].values = (uint8_t *)vals;
	kv[1].values_len = sizeof(vals);
	kv[1].validity = &vvalid;
	wd_init(&ent, &s.fields[1], 3);
	ent.children = kv;
	ent.n_children = 2;
	wd_init(&a, &s.fields[0], 4);
	a.offsets = off;	/* [{a:1},{bc:null}], null, [], [{"":3}] */
	a.validity = &valid;
	a.children = &ent;
	a.n_children = 1;
	CHECK(write_read_back(&s, &a, 2, 0));
	lance_schema_reset(&s);
	expect_new_error(defs, 4, 1, "field m: maps in file version 2.1");
}

/*
 * Dictionary pages: 200 distinct values with int8 keys (128 at most a
 * page) go in smaller pages; a list column whose page's values are all
 * null gets a dictionary of one empty item; a single row of 200 distinct
 * items cannot be written, naming the column.
 */
TEST(dict_pages)
{
	static const struct wd_def flat[] = {
		{ "d", -1, "dict:string:int8:false", true } };
	static const struct wd_def listed[] = {
		{ "l", -1, "list", true },
		{ "item", 0, "dict:string:int32:false", true } };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a, it;
	char v[600];
	uint64_t off[201], loff[3] = { 0, 1, 3 }, ioff[4] = { 0, 0, 0, 0 };
	uint8_t none = 0;

	for (int i = 0; i <= 200; i++)
		off[i] = (uint64_t)i * 3;
	for (int i = 0; i < 200; i++)
		memcpy(v + i * 3, (char[4]){ (char)('a' + i % 26),
					     (char)('a' + i / 26 % 26), 'x',
					     0 }, 3);
	CHECK_OK(wd_schema_of(&s, flat, 1, &err), &err);
	wd_init(&a, &s.fields[0], 200);
	a.offsets = off;
	a.values = (uint8_t *)v;
	a.values_len = 600;
	for (uint16_t minor = 0; minor <= 2; minor++)
		CHECK(write_read_back(&s, &a, minor, 0));
	lance_schema_reset(&s);

	CHECK_OK(wd_schema_of(&s, listed, 2, &err), &err);
	wd_init(&it, &s.fields[1], 3);		/* [[null], [null, null]] */
	it.offsets = ioff;
	it.validity = &none;
	wd_init(&a, &s.fields[0], 2);
	a.offsets = loff;
	a.children = &it;
	a.n_children = 1;
	for (uint16_t minor = 0; minor <= 2; minor++)
		CHECK(write_read_back(&s, &a, minor, 0));
	lance_schema_reset(&s);

	{	/* one row of 200 distinct strings, int8 keys */
		static const struct wd_def l8[] = {
			{ "l", -1, "list", true },
			{ "item", 0, "dict:string:int8:false", true } };
		uint64_t one[2] = { 0, 200 };

		CHECK_OK(wd_schema_of(&s, l8, 2, &err), &err);
		wd_init(&it, &s.fields[1], 200);
		it.offsets = off;
		it.values = (uint8_t *)v;
		it.values_len = 600;
		wd_init(&a, &s.fields[0], 1);
		a.offsets = one;
		a.children = &it;
		a.n_children = 1;
		CHECK(write_refused(&s, &a, 1, "field l.item: 200 distinct"));
		lance_schema_reset(&s);
	}
}

/* Lists of big strings (two of 40,000 bytes side by side, after a run of
 * empty lists): Lance's mini-block chunks cannot hold them (a chunk
 * before the last holds two values at least, 32 KiB in 2.1); full-zip
 * pages do, in every version. */
TEST(big_list_items)
{
	static const struct wd_def defs[] = {
		{ "l", -1, "list", true }, { "item", 0, "string", true } };
	enum { BIG = 40000, RUN = 3000, ROWS = RUN + 2 };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a, it;
	uint64_t *off = wd_alloc((ROWS + 1) * 8), ioff[4];
	uint8_t *v = wd_alloc(2 * BIG + 1);

	memset(v, 'q', 2 * BIG + 1);
	for (uint64_t i = 0; i <= ROWS; i++)	/* ["q"], [] x RUN, [b, b] */
		off[i] = i == 0 ? 0 : i <= RUN + 1 ? 1 : 3;
	ioff[0] = 0;
	ioff[1] = 1;
	ioff[2] = 1 + BIG;
	ioff[3] = 1 + 2 * BIG;
	CHECK_OK(wd_schema_of(&s, defs, 2, &err), &err);
	wd_init(&it, &s.fields[1], 3);
	it.offsets = ioff;
	it.values = v;
	it.values_len = 2 * BIG + 1;
	wd_init(&a, &s.fields[0], ROWS);
	a.offsets = off;
	a.children = &it;
	a.n_children = 1;
	for (uint16_t minor = 0; minor <= 2; minor++)
		CHECK(write_read_back(&s, &a, minor, 0));
	free(off);
	free(v);
	lance_schema_reset(&s);
}

/*
 * Long runs of rows without values before a value: 8,191 empty lists
 * then [1] (a 2.1 chunk of 32 KiB could not carry their levels), and
 * 8,000 rows of five empty inner lists then [[7]] (40,001 levels: more
 * than a chunk's u16 level sizes hold), read back in every version.
 */
TEST(empty_list_runs)
{
	static const struct wd_def one[] = {
		{ "l", -1, "list", true }, { "item", 0, "int32", true } };
	static const struct wd_def two[] = {
		{ "l", -1, "list", true }, { "item", 0, "list", true },
		{ "item", 1, "int32", true } };

	for (int shape = 0; shape < 2; shape++)
	for (uint16_t minor = 0; minor <= 2; minor++) {
		uint64_t rows = shape ? 8001 : 8192, inner = shape ? 40001 : 1;
		struct lc_err err = { 0 };
		struct lance_schema s = { 0 };
		struct lance_array a, mid, leaf;
		int32_t seven = shape ? 7 : 1;
		uint64_t *off = wd_alloc((rows + 1) * 8);
		uint64_t *ioff = wd_alloc((inner + 1) * 8);

		CHECK_OK(wd_schema_of(&s, shape ? two : one, shape ? 3 : 2,
				      &err), &err);
		wd_init(&leaf, &s.fields[shape ? 2 : 1], 1);
		leaf.values = (uint8_t *)&seven;
		leaf.values_len = 4;
		for (uint64_t i = 0; i <= rows; i++)	/* outer lists */
			off[i] = shape ? (i < rows ? 5 * i : inner)
				       : (i == rows ? 1 : 0);
		for (uint64_t i = 0; i <= inner; i++)	/* inner lists */
			ioff[i] = i == inner ? 1 : 0;
		wd_init(&mid, &s.fields[1], inner);
		mid.offsets = ioff;
		mid.children = &leaf;
		mid.n_children = 1;
		wd_init(&a, &s.fields[0], rows);
		a.offsets = off;
		a.children = shape ? &mid : &leaf;
		a.n_children = 1;
		if (!write_read_back(&s, &a, minor, 0)) {
			fprintf(stderr, "shape %d, 2.%u\n", shape, minor);
			harness_failed = 1;
		}
		free(off);
		free(ioff);
		lance_schema_reset(&s);
	}
}

/* 2.1: a value too big for a mini-block chunk, in a list under a struct
 * that is null in a row of its page, is refused naming the field (the
 * full-zip page Lance 12 would take misreads such nulls); 2.2 writes it
 * mini-block, and 2.1 the same page without the null. */
TEST(big_value_under_null_struct)
{
	static const struct wd_def defs[] = {
		{ "s", -1, "struct", true }, { "l", 0, "list", true },
		{ "item", 1, "string", true } };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a, l, it;
	uint64_t off[3] = { 0, 1, 1 }, ioff[2] = { 0, 20000 };
	uint8_t valid = 0x1;		/* row 1: s is null */
	uint8_t *v = wd_alloc(20000);

	memset(v, 'z', 20000);
	CHECK_OK(wd_schema_of(&s, defs, 3, &err), &err);
	wd_init(&it, &s.fields[2], 1);
	it.offsets = ioff;
	it.values = v;
	it.values_len = 20000;
	wd_init(&l, &s.fields[1], 2);
	l.offsets = off;
	l.children = &it;
	l.n_children = 1;
	wd_init(&a, &s.fields[0], 2);
	a.validity = &valid;
	a.children = &l;
	a.n_children = 1;
	CHECK(write_read_back(&s, &a, 2, 0));
	CHECK(write_refused(&s, &a, 1, "field s.l.item: a value of 20000 bytes in "
			    "a list under a null s"));
	a.validity = NULL;
	CHECK(write_read_back(&s, &a, 1, 0));
	free(v);

	/* 1,024 null structs, [x], 1,024 null structs, [x], 1,024 null
	 * structs: one chunk holds both values and all three runs; x of
	 * 10,176 bytes fits it, 14,272 bytes (the bound until a review) does
	 * not and is refused as such */
	for (int big = 0; big < 2; big++) {
		enum { RUN = 1024, ROWS = 3 * RUN + 2 };
		uint64_t n = big ? 14272 : 10176, *o = wd_alloc((ROWS + 1) * 8);
		uint8_t *sv = wd_bitmap(ROWS);
		uint64_t io[3] = { 0, n, 2 * n };

		v = wd_alloc(2 * n);
		memset(v, 'y', 2 * n);
		for (uint64_t i = 0; i <= ROWS; i++)
			o[i] = i <= RUN ? 0 : i <= 2 * RUN + 1 ? 1 : 2;
		for (uint64_t i = 0; i < ROWS; i++)
			wd_setbit(sv, i, i == RUN || i == 2 * RUN + 1);
		wd_init(&it, &s.fields[2], 2);
		it.offsets = io;
		it.values = v;
		it.values_len = 2 * n;
		wd_init(&l, &s.fields[1], ROWS);
		l.offsets = o;
		l.children = &it;
		l.n_children = 1;
		wd_init(&a, &s.fields[0], ROWS);
		a.validity = sv;
		a.children = &l;
		a.n_children = 1;
		if (!big)
			CHECK(write_read_back(&s, &a, 1, 0));
		else
			CHECK(write_refused(&s, &a, 1, "a value of 14272 bytes "
					    "in a list under"));
		free(o);
		free(sv);
		free(v);
	}
	lance_schema_reset(&s);
}

TEST(blob_v1_20) { blob_round_trip(LANCE_BLOB_V1, 0); }
TEST(blob_v1_21) { blob_round_trip(LANCE_BLOB_V1, 1); }
TEST(blob_v2_22) { blob_round_trip(LANCE_BLOB_V2, 2); }

TEST(list_of_strings_20)
{
	static const struct wd_def defs[] = {
		{ "ls", -1, "list", true }, { "item", 0, "string", true } };
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_array a, it;
	uint64_t off[4] = { 0, 2, 2, 3 }, ioff[4] = { 0, 1, 3, 3 };
	uint8_t valid = 0x5, ivalid = 0x3;

	CHECK_OK(wd_schema_of(&s, defs, 2, &err), &err);
	wd_init(&it, &s.fields[1], 3);
	it.offsets = ioff;
	it.values = (uint8_t *)"abc";
	it.values_len = 3;
	it.validity = &ivalid;	/* ["a", "bc", null] */
	wd_init(&a, &s.fields[0], 3);
	a.offsets = off;		/* [["a","bc"], null, [null]] */
	a.validity = &valid;
	a.children = &it;
	a.n_children = 1;
	CHECK(write_read_back(&s, &a, 0, 0));
	lance_schema_reset(&s);
}

TEST(refuse_after_failure)
{
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_writer *w = NULL;
	struct lance_array a;
	uint8_t *bytes = NULL;
	size_t len;
	int32_t id = 0;

	CHECK_OK(wd_schema(&s, &err), &err);
	CHECK_OK(lance_writer_new(&w, &s, &id, 1, 2, 2, &err), &err);
	wd_column(&a, &s, 0, 0, 10, &(struct wd_opts){ 0 });
	a.values_len = 8;	/* too short for 10 int64 */
	CHECK(lance_writer_add(w, &a, &err) != 0);
	CHECK(strstr(err.msg, "field id: 8 value bytes, need 80") != NULL);
	/* a refused add writes nothing: the writer still works */
	a.values_len = 80;
	lc_err_clear(&err);
	CHECK_OK(lance_writer_add(w, &a, &err), &err);
	CHECK_OK(lance_writer_finish(w, &bytes, &len, NULL, &err), &err);
	CHECK(len > 40 && memcmp(bytes + len - 4, "LANC", 4) == 0);
	CHECK(lance_writer_add(w, &a, &err) != 0);
	lc_free(bytes);
	wd_free(&a);
	lance_writer_free(w);
	lance_schema_reset(&s);
}

TEST_MAIN(TEST_ENTRY(small_20), TEST_ENTRY(small_21), TEST_ENTRY(small_22),
	  TEST_ENTRY(big_20), TEST_ENTRY(big_21), TEST_ENTRY(big_22),
	  TEST_ENTRY(batches_20), TEST_ENTRY(batches_21),
	  TEST_ENTRY(batches_22), TEST_ENTRY(edge_20), TEST_ENTRY(tiny_20),
	  TEST_ENTRY(tiny_21), TEST_ENTRY(tiny_22), TEST_ENTRY(edge_21),
	  TEST_ENTRY(edge_22), TEST_ENTRY(kid_null_20),
	  TEST_ENTRY(kid_null_21), TEST_ENTRY(kid_null_22),
	  TEST_ENTRY(blob_v1_20), TEST_ENTRY(blob_v1_21), TEST_ENTRY(blob_v2_22),
	  TEST_ENTRY(map_22), TEST_ENTRY(dict_pages), TEST_ENTRY(big_list_items),
	  TEST_ENTRY(big_value_under_null_struct),
	  TEST_ENTRY(empty_list_runs),
	  TEST_ENTRY(refuse_items),
	  TEST_ENTRY(refuse_length_msg), TEST_ENTRY(refuse_type),
	  TEST_ENTRY(refuse_offsets), TEST_ENTRY(refuse_notnull),
	  TEST_ENTRY(refuse_null_struct_20),
	  TEST_ENTRY(refuse_null_list_items_21), TEST_ENTRY(refuse_version),
	  TEST_ENTRY(refuse_after_failure),
	  TEST_ENTRY(refuse_shapes), TEST_ENTRY(list_of_strings_20),
	  TEST_ENTRY(null_blob_arrays))
