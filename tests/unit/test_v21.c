/*
 * test_v21.c - the 2.1/2.2 structural decoder against files LanceDB 0.39
 * (lance 12) wrote (tests/data/v21, made by gen.js there), plus corrupt
 * inputs. Each fixture's JSON holds the manifest schema, the DataFile
 * entry, and per column a hash over every value LanceDB returned and the
 * values of sampled rows (ends, chunk boundaries, random rows).
 *
 * The hash is FNV-1a 64 over a canonical text (see gen.js): null "n",
 * integer decimal + ",", float "f" + float64 bits in hex, bool "t"/"F",
 * string "s<len>:" + bytes (strings over 100 bytes and all binary as
 * "h" + their own FNV-1a in hex), list "[...]", struct "{...}".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lance_int.h"
#include "enc21.pb-c.h"
#include <fcntl.h>
#include <unistd.h>

/* ---------------------------------------------------------------- fixture */

struct fixture {
	json_t *js;
	struct lance_schema schema;
	struct lance_data_file df;
	struct ostore *st;
	struct lance_file *f;
	uint64_t rows;
};

static char data_dir[1024];

static const char *fixture_dir(void)
{
	const char *p = __FILE__, *s = strstr(p, "tests/unit/");

	if (!data_dir[0])
		snprintf(data_dir, sizeof(data_dir), "%.*stests/data/v21",
			 (int)(s - p), p);
	return data_dir;
}

static struct lance_type *new_type(const char *lt);

static int parse_type(struct lance_type *t, const char *lt)
{
	static const struct {
		const char *name;
		enum lance_type_id id;
		bool large;
	} simple[] = {
		{ "bool", LANCE_T_BOOL, 0 },
		{ "int8", LANCE_T_INT8, 0 },
		{ "uint8", LANCE_T_UINT8, 0 },
		{ "int16", LANCE_T_INT16, 0 },
		{ "uint16", LANCE_T_UINT16, 0 },
		{ "int32", LANCE_T_INT32, 0 },
		{ "uint32", LANCE_T_UINT32, 0 },
		{ "int64", LANCE_T_INT64, 0 },
		{ "uint64", LANCE_T_UINT64, 0 },
		{ "float", LANCE_T_FLOAT32, 0 },
		{ "double", LANCE_T_FLOAT64, 0 },
		{ "string", LANCE_T_UTF8, 0 },
		{ "large_string", LANCE_T_UTF8, 1 },
		{ "binary", LANCE_T_BINARY, 0 },
		{ "large_binary", LANCE_T_BINARY, 1 },
		{ "struct", LANCE_T_STRUCT, 0 }, { "list", LANCE_T_LIST, 0 },
		{ "large_list", LANCE_T_LIST, 1 },
		{ "list.struct", LANCE_T_LIST, 0 },
		{ "large_list.struct", LANCE_T_LIST, 1 },
	};

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(lt, simple[i].name)) {
			t->id = simple[i].id;
			t->large = simple[i].large;
			return 0;
		}
	if (!strncmp(lt, "timestamp:us", 12)) {
		t->id = LANCE_T_TIMESTAMP;
		t->unit = LANCE_UNIT_US;
		return 0;
	}
	if (!strncmp(lt, "fixed_size_list:", 16)) {
		char inner[64];
		const char *c = strrchr(lt, ':');

		snprintf(inner, sizeof(inner), "%.*s", (int)(c - lt - 16),
			 lt + 16);
		t->id = LANCE_T_FIXED_LIST;
		t->width = atoi(c + 1);
		t->item = new_type(inner);
		return t->item ? 0 : -1;
	}
	return -1;
}

static struct lance_type *new_type(const char *lt)
{
	struct lance_type *t = calloc(1, sizeof(*t));

	if (t && parse_type(t, lt)) {
		free(t);
		return NULL;
	}
	return t;
}

static void fixture_free(struct fixture *fx)
{
	lance_file_free(fx->f);
	ostore_free(fx->st);
	for (size_t i = 0; i < fx->schema.n_fields; i++) {
		struct lance_field *f = &fx->schema.fields[i];

		free(f->children);
		free(f->type.item);
	}
	free(fx->schema.fields);
	free(fx->schema.top);
	free(fx->df.fields);
	free(fx->df.column_indices);
	json_decref(fx->js);
	memset(fx, 0, sizeof(*fx));
}

/* Load tests/data/v21/<tag>.json and open its data file. */
static int fixture_load(struct fixture *fx, const char *tag)
{
	char path[1200];
	json_error_t je;
	json_t *sc, *df, *a;
	struct lc_err err = { 0 };
	size_t n;

	memset(fx, 0, sizeof(*fx));
	snprintf(path, sizeof(path), "%s/%s.json", fixture_dir(), tag);
	fx->js = json_load_file(path, 0, &je);
	if (!fx->js) {
		fprintf(stderr, "%s: %s\n", path, je.text);
		return -1;
	}
	fx->rows = (uint64_t)json_integer_value(json_object_get(fx->js,
								"rows"));
	sc = json_object_get(fx->js, "schema");
	n = json_array_size(sc);
	fx->schema.fields = calloc(n, sizeof(struct lance_field));
	fx->schema.top = calloc(n, sizeof(struct lance_field *));
	fx->schema.n_fields = n;
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_array_get(sc, i), *md;
		struct lance_field *f = &fx->schema.fields[i];
		const char *ext;

		f->name = (char *)json_string_value(json_object_get(j, "name"));
		f->id = (int32_t)json_integer_value(json_object_get(j, "id"));
		f->parent_id = (int32_t)json_integer_value(
			json_object_get(j, "parent_id"));
		f->logical_type = (char *)json_string_value(
			json_object_get(j, "logical_type"));
		f->nullable = json_is_true(json_object_get(j, "nullable"));
		if (parse_type(&f->type, f->logical_type)) {
			fprintf(stderr, "type %s\n", f->logical_type);
			return -1;
		}
		md = json_object_get(j, "metadata");
		ext = json_string_value(json_object_get(md,
						"ARROW:extension:name"));
		if (ext && !strcmp(ext, "lance.blob.v2"))
			f->blob = LANCE_BLOB_V2;
		ext = json_string_value(json_object_get(md,
						"lance-encoding:blob"));
		if (ext && !strcmp(ext, "true"))
			f->blob = LANCE_BLOB_V1;
		ext = json_string_value(json_object_get(md,
						"lance-encoding:packed"));
		if (ext && !strcmp(ext, "true"))
			f->packed = true;
		f->children = calloc(n, sizeof(struct lance_field *));
	}
	for (size_t i = 0; i < n; i++) {
		struct lance_field *f = &fx->schema.fields[i];

		if (f->parent_id < 0) {
			fx->schema.top[fx->schema.n_top++] = f;
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (fx->schema.fields[k].id == f->parent_id) {
				struct lance_field *p = &fx->schema.fields[k];

				f->parent = p;
				p->children[p->n_children++] = f;
			}
	}
	df = json_object_get(fx->js, "data_file");
	fx->df.path = (char *)json_string_value(json_object_get(df, "path"));
	a = json_object_get(df, "fields");
	fx->df.n_fields = json_array_size(a);
	fx->df.fields = calloc(fx->df.n_fields + 1, sizeof(int32_t));
	for (size_t i = 0; i < fx->df.n_fields; i++)
		fx->df.fields[i] = (int32_t)json_integer_value(
			json_array_get(a, i));
	a = json_object_get(df, "column_indices");
	fx->df.n_column_indices = json_array_size(a);
	fx->df.column_indices = calloc(fx->df.n_column_indices + 1,
				       sizeof(int32_t));
	for (size_t i = 0; i < fx->df.n_column_indices; i++)
		fx->df.column_indices[i] = (int32_t)json_integer_value(
			json_array_get(a, i));
	fx->df.major = (uint32_t)json_integer_value(json_object_get(df,
								    "major"));
	fx->df.minor = (uint32_t)json_integer_value(json_object_get(df,
								    "minor"));
	fx->df.size = (uint64_t)json_integer_value(json_object_get(df,
								   "size"));
	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), tag);
	if (ostore_open_uri(&fx->st, path, NULL, &err) ||
	    lance_file_open(&fx->f, fx->st, &fx->df, &fx->schema, &err)) {
		fprintf(stderr, "%s: %s\n", tag, err.msg);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- canonical text */

struct canon {
	char *p;
	size_t len, cap;
};

static void cput(struct canon *c, const void *p, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->p = realloc(c->p, c->cap);
	}
	memcpy(c->p + c->len, p, n);
	c->len += n;
	c->p[c->len] = 0;
}

static void cputs(struct canon *c, const char *s)
{
	cput(c, s, strlen(s));
}

static uint64_t fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void chash(struct canon *c, uint64_t h)
{
	char t[24];

	snprintf(t, sizeof(t), "h%016llx", (unsigned long long)h);
	cputs(c, t);
}

static void cdouble(struct canon *c, double d)
{
	uint64_t bits;
	char t[24];

	memcpy(&bits, &d, 8);
	snprintf(t, sizeof(t), "f%016llx", (unsigned long long)bits);
	cputs(c, t);
}

static bool is_int(enum lance_type_id id)
{
	return (id >= LANCE_T_INT8 && id <= LANCE_T_UINT64) ||
	       id == LANCE_T_TIMESTAMP || id == LANCE_T_DATE32 ||
	       id == LANCE_T_DATE64;
}

static bool is_unsigned(enum lance_type_id id)
{
	return id == LANCE_T_UINT8 || id == LANCE_T_UINT16 ||
	       id == LANCE_T_UINT32 || id == LANCE_T_UINT64;
}

static void canon_bytes(struct canon *c, bool binary, const uint8_t *p,
			size_t n)
{
	char t[32];

	if (binary || n > 100) {
		chash(c, fnv(p, n));
		return;
	}
	snprintf(t, sizeof(t), "s%zu:", n);
	cputs(c, t);
	cput(c, p, n);
}

/* Row i of an array. */
static void canon_arr(struct canon *c, const struct lance_array *a,
		      uint64_t i)
{
	const struct lance_type *t = a->type;
	unsigned w = lance_type_width(t);
	char tmp[32];

	if (!lance_array_is_valid(a, i)) {
		cputs(c, "n");
		return;
	}
	if (is_int(t->id)) {
		uint64_t u = 0;
		int64_t s;

		memcpy(&u, a->values + i * w, w);
		if (is_unsigned(t->id)) {
			snprintf(tmp, sizeof(tmp), "%llu,",
				 (unsigned long long)u);
		} else {
			unsigned sh = 64 - 8 * w;

			s = (int64_t)(u << sh) >> sh;
			snprintf(tmp, sizeof(tmp), "%lld,", (long long)s);
		}
		cputs(c, tmp);
		return;
	}
	switch (t->id) {
	case LANCE_T_FLOAT32: {
		float f;

		memcpy(&f, a->values + 4 * i, 4);
		cdouble(c, f);
		return;
	}
	case LANCE_T_FLOAT64: {
		double d;

		memcpy(&d, a->values + 8 * i, 8);
		cdouble(c, d);
		return;
	}
	case LANCE_T_BOOL:
		cputs(c, (a->values[i / 8] >> (i % 8)) & 1 ? "t" : "F");
		return;
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		canon_bytes(c, t->id == LANCE_T_BINARY,
			    a->values + a->offsets[i],
			    a->offsets[i + 1] - a->offsets[i]);
		return;
	case LANCE_T_LIST:
		cputs(c, "[");
		for (uint64_t k = a->offsets[i]; k < a->offsets[i + 1]; k++)
			canon_arr(c, &a->children[0], k);
		cputs(c, "]");
		return;
	case LANCE_T_FIXED_LIST:
		cputs(c, "[");
		for (uint64_t k = 0; k < (uint64_t)t->width; k++)
			canon_arr(c, &a->children[0], i * t->width + k);
		cputs(c, "]");
		return;
	case LANCE_T_STRUCT:
		cputs(c, "{");
		for (size_t k = 0; k < a->n_children; k++)
			canon_arr(c, &a->children[k], i);
		cputs(c, "}");
		return;
	default:
		cputs(c, "?");
	}
}

/* A JSON value of a field (or FSL item type when field is NULL). */
static void canon_json(struct canon *c, const struct lance_field *fld,
		       const struct lance_type *t, json_t *j)
{
	if (json_is_null(j)) {
		cputs(c, "n");
		return;
	}
	if (fld && fld->blob != LANCE_BLOB_NONE) {
		uint64_t h = strtoull(json_string_value(
					      json_object_get(j, "h")), NULL,
				      16);

		chash(c, h);
		return;
	}
	if (is_int(t->id)) {
		cputs(c, json_string_value(j));
		cputs(c, ",");
		return;
	}
	switch (t->id) {
	case LANCE_T_FLOAT32:
	case LANCE_T_FLOAT64:
		cdouble(c, json_number_value(j));
		return;
	case LANCE_T_BOOL:
		cputs(c, json_is_true(j) ? "t" : "F");
		return;
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		if (json_is_object(j)) {
			chash(c, strtoull(json_string_value(
						  json_object_get(j, "h")),
					  NULL, 16));
			return;
		}
		canon_bytes(c, false, (const uint8_t *)json_string_value(j),
			    json_string_length(j));
		return;
	case LANCE_T_LIST:
		cputs(c, "[");
		for (size_t k = 0; k < json_array_size(j); k++)
			canon_json(c, fld->children[0],
				   &fld->children[0]->type,
				   json_array_get(j, k));
		cputs(c, "]");
		return;
	case LANCE_T_FIXED_LIST:
		cputs(c, "[");
		for (size_t k = 0; k < json_array_size(j); k++)
			canon_json(c, NULL, t->item, json_array_get(j, k));
		cputs(c, "]");
		return;
	case LANCE_T_STRUCT:
		cputs(c, "{");
		for (size_t k = 0; k < fld->n_children; k++)
			canon_json(c, fld->children[k],
				   &fld->children[k]->type,
				   json_object_get(j, fld->children[k]->name));
		cputs(c, "}");
		return;
	default:
		cputs(c, "?");
	}
}

/* ---------------------------------------------------------- checks */

static int g_reads;

/* Everything about one column: full hash, sampled rows one by one, a
 * few ranges, and value sizes. Returns 0 when all match. */
static int check_column(struct fixture *fx, const char *tag,
			const struct lance_field *fld, json_t *col)
{
	struct lc_err err = { 0 };
	struct lance_array all, one;
	struct canon c = { 0 }, d = { 0 };
	const char *want = json_string_value(json_object_get(col, "hash"));
	json_t *sample = json_object_get(col, "sample"), *v;
	const char *key;
	char got[24];
	int bad = 0;

	if (lance_file_read(&all, fx->f, fld, 0, fx->rows, &err)) {
		fprintf(stderr, "%s.%s: full read: %s\n", tag, fld->name,
			err.msg);
		return 1;
	}
	if (all.length != fx->rows) {
		fprintf(stderr, "%s.%s: %llu rows\n", tag, fld->name,
			(unsigned long long)all.length);
		lance_array_reset(&all);
		return 1;
	}
	for (uint64_t i = 0; i < fx->rows; i++)
		canon_arr(&c, &all, i);
	snprintf(got, sizeof(got), "%016llx",
		 (unsigned long long)fnv(c.p, c.len));
	if (strcmp(got, want)) {
		fprintf(stderr, "%s.%s: hash %s, expected %s\n", tag,
			fld->name, got, want);
		bad = 1;
	}
	json_object_foreach(sample, key, v) {
		uint64_t r = strtoull(key, NULL, 10);

		c.len = d.len = 0;
		memset(&err, 0, sizeof(err));
		if (lance_file_read(&one, fx->f, fld, r, 1, &err)) {
			fprintf(stderr, "%s.%s row %llu: %s\n", tag,
				fld->name, (unsigned long long)r, err.msg);
			bad = 1;
			break;
		}
		g_reads++;
		canon_arr(&c, &one, 0);
		canon_json(&d, fld, &fld->type, v);
		if (c.len != d.len || memcmp(c.p, d.p, c.len)) {
			fprintf(stderr, "%s.%s row %llu: got %.200s expected "
				"%.200s\n", tag, fld->name,
				(unsigned long long)r, c.p, d.p);
			bad = 1;
		}
		lance_array_reset(&one);
	}
	/* ranges against the full read */
	for (uint64_t r = 0; r < fx->rows && !bad; r += fx->rows / 7 + 1) {
		uint64_t n = fx->rows - r < 777 ? fx->rows - r : 777;

		memset(&err, 0, sizeof(err));
		if (lance_file_read(&one, fx->f, fld, r, n, &err)) {
			fprintf(stderr, "%s.%s rows %llu+%llu: %s\n", tag,
				fld->name, (unsigned long long)r,
				(unsigned long long)n, err.msg);
			bad = 1;
			break;
		}
		for (uint64_t i = 0; i < n && !bad; i++) {
			c.len = d.len = 0;
			canon_arr(&c, &one, i);
			canon_arr(&d, &all, r + i);
			if (c.len != d.len || memcmp(c.p, d.p, c.len)) {
				fprintf(stderr, "%s.%s row %llu in a range "
					"read differs\n", tag, fld->name,
					(unsigned long long)(r + i));
				bad = 1;
			}
		}
		lance_array_reset(&one);
	}
	if (!bad && (all.type->id == LANCE_T_UTF8 ||
		     all.type->id == LANCE_T_BINARY)) {
		uint64_t *sz = calloc(fx->rows + 1, 8);
		bool *ok = calloc(fx->rows + 1, 1);

		memset(&err, 0, sizeof(err));
		if (lance_file_value_sizes(sz, ok, fx->f, fld, 0, fx->rows,
					   &err)) {
			fprintf(stderr, "%s.%s sizes: %s\n", tag, fld->name,
				err.msg);
			bad = 1;
		}
		for (uint64_t i = 0; i < fx->rows && !bad; i++)
			if (ok[i] != lance_array_is_valid(&all, i) ||
			    (ok[i] && sz[i] != all.offsets[i + 1] -
						       all.offsets[i])) {
				fprintf(stderr, "%s.%s size of row %llu\n",
					tag, fld->name,
					(unsigned long long)i);
				bad = 1;
			}
		free(sz);
		free(ok);
	}
	free(c.p);
	free(d.p);
	lance_array_reset(&all);
	return bad;
}

static void run_fixture(const char *tag)
{
	struct fixture fx;
	json_t *cols;
	int bad = 0;

	CHECK(fixture_load(&fx, tag) == 0);
	cols = json_object_get(fx.js, "columns");
	for (size_t i = 0; i < fx.schema.n_top; i++) {
		const struct lance_field *f = fx.schema.top[i];

		bad |= check_column(&fx, tag, f, json_object_get(cols,
								 f->name));
	}
	fixture_free(&fx);
	CHECK(!bad);
}

TEST(f21_ints) { run_fixture("21_ints"); }
TEST(f21_ints2) { run_fixture("21_ints2"); }
TEST(f21_floats) { run_fixture("21_floats"); }
TEST(f21_mixed) { run_fixture("21_mixed"); }
TEST(f21_strings) { run_fixture("21_strings"); }
TEST(f21_longstr) { run_fixture("21_longstr"); }
TEST(f21_nested) { run_fixture("21_nested"); }
TEST(f21_images) { run_fixture("21_images"); }
TEST(f21_wide) { run_fixture("21_wide"); }
TEST(f21_fsst) { run_fixture("21_fsst"); }
TEST(f21_opts) { run_fixture("21_opts"); }
TEST(f21_blobv1) { run_fixture("21_blobv1"); }
TEST(f22_ints) { run_fixture("22_ints"); }
TEST(f22_ints2) { run_fixture("22_ints2"); }
TEST(f22_floats) { run_fixture("22_floats"); }
TEST(f22_mixed) { run_fixture("22_mixed"); }
TEST(f22_strings) { run_fixture("22_strings"); }
TEST(f22_longstr) { run_fixture("22_longstr"); }
TEST(f22_nested) { run_fixture("22_nested"); }
TEST(f22_images) { run_fixture("22_images"); }
TEST(f22_wide) { run_fixture("22_wide"); }
TEST(f22_fsst) { run_fixture("22_fsst"); }
TEST(f22_opts) { run_fixture("22_opts"); }
TEST(f22_blobv2) { run_fixture("22_blobv2"); }
TEST(f21_const) { run_fixture("21_const"); }
TEST(f22_const) { run_fixture("22_const"); }


/* ---------------------------------------------------------- corruption */

/* Copy fixture `tag` to a temp store, patch `len` bytes at offset `at`
 * of buffer `buf` of column `col` page 0, and read field `name`. */
static int read_patched(struct lc_err *err, const char *tag,
			const char *name, uint32_t col, size_t buf,
			uint64_t at, const void *bytes, size_t len)
{
	struct fixture fx;
	char tmp[] = "/tmp/v21corruptXXXXXX", cmd[2600], path[1400];
	struct lance_array a;
	struct lance_file *f2 = NULL;
	const struct lance_field *fld;
	uint64_t off;
	int fd, rc;

	if (fixture_load(&fx, tag) || !mkdtemp(tmp))
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -r %s/%s/data %s/", fixture_dir(),
		 tag, tmp);
	if (system(cmd))
		return -1;
	off = fx.f->cols[col].pages[0].buf_off[buf] + at;
	snprintf(path, sizeof(path), "%s/%s", tmp, fx.df.path);
	fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, bytes, len, (off_t)off) != (ssize_t)len)
		return -1;
	close(fd);
	lance_file_free(fx.f);
	fx.f = NULL;
	ostore_free(fx.st);
	fx.st = NULL;
	fld = NULL;
	for (size_t i = 0; i < fx.schema.n_fields; i++)
		if (!strcmp(fx.schema.fields[i].name, name))
			fld = &fx.schema.fields[i];
	if (!fld)
		return -1;
	rc = ostore_open_uri(&fx.st, tmp, NULL, err);
	if (!rc)
		rc = lance_file_open(&f2, fx.st, &fx.df, &fx.schema, err);
	if (!rc) {
		rc = lance_file_read(&a, f2, fld, 0, fx.rows, err);
		if (!rc)
			lance_array_reset(&a);
	}
	lance_file_free(f2);
	fixture_free(&fx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		return -1;
	return rc;
}

#define CHECK_ERR(rc, err, kind_, text)                                    \
	do {                                                               \
		CHECK((rc) > 0);                                           \
		if ((err).kind != (kind_) || !strstr((err).msg, (text))) { \
			fprintf(stderr, "got kind %d: %s\n", (int)(err).kind, \
				(err).msg);                                \
			CHECK(0);                                          \
		}                                                          \
	} while (0)

/* A schema that calls a column of plain integers a blob (v1, then v2):
 * its value sizes and its read fail as corrupt, with no read past the
 * values (found by review: the sizes read descriptors that were not
 * there). */
TEST(blob_schema_over_plain_values)
{
	for (int v2 = 0; v2 < 2; v2++) {
		struct lc_err err = { 0 };
		struct lance_field *fl;
		struct lance_file *f = NULL;
		struct lance_array a;
		struct fixture fx;
		uint64_t sizes[16];
		bool valid[16];
		int rc;

		CHECK(fixture_load(&fx, "21_ints") == 0);
		fl = (struct lance_field *)lance_schema_field_by_name(
			&fx.schema, "u8");
		CHECK(fl);
		if (!fl)
			return;
		fl->type.id = LANCE_T_BINARY;
		fl->type.large = true;
		fl->blob = v2 ? LANCE_BLOB_V2 : LANCE_BLOB_V1;
		CHECK_OK(lance_file_open(&f, fx.st, &fx.df, &fx.schema, &err),
			 &err);
		rc = lance_file_value_sizes(sizes, valid, f, fl, 0, 16, &err);
		CHECK_ERR(rc, err, LC_EK_CORRUPT, "blob");
		lc_err_clear(&err);
		rc = lance_file_read(&a, f, fl, 0, 16, &err);
		CHECK_ERR(rc, err, LC_EK_CORRUPT, "blob");
		lance_file_free(f);
		fixture_free(&fx);
	}
}

TEST(corrupt_chunk_meta)
{
	struct lc_err err = { 0 };
	uint8_t w[4] = { 0xf9, 0xff, 0xff, 0x0f };	/* a 2 GB chunk */
	int rc = read_patched(&err, "22_ints", "id", 0, 0, 0, w, 4);

	CHECK_ERR(rc, err, LC_EK_CORRUPT, "chunks span");
	CHECK(strstr(err.msg, "column 0 page 0"));
}

TEST(corrupt_bit_width)
{
	struct lc_err err = { 0 };
	uint8_t w[4] = { 40, 0, 0, 0 };
	/* i32 chunk 0: u16 levels, u16 def size, u32 value size, pad to
	 * 8, def levels (128 bytes), then the ibp32 width word */
	int rc = read_patched(&err, "22_ints", "i32", 1, 1, 8 + 128, w, 4);

	CHECK_ERR(rc, err, LC_EK_CORRUPT, "bit width 40 for 32-bit values");
	CHECK(strstr(err.msg, "field i32: column 1 page 0 chunk 0: values"));
	if (getenv("V21_SHOW"))
		fprintf(stderr, "%s\n", err.msg);
}

TEST(corrupt_rep_index)
{
	struct lc_err err = { 0 };
	uint8_t w[2] = { 0xff, 0x7f };	/* row 0 starts past row 60 */
	int rc = read_patched(&err, "22_longstr", "t", 0, 1, 0, w, 2);

	CHECK_ERR(rc, err, LC_EK_CORRUPT, "");
	CHECK(strstr(err.msg, "column 0 page 0"));
}

TEST(corrupt_zstd_length)
{
	struct lc_err err = { 0 };
	uint8_t w[8] = { 0, 0, 0, 0, 0, 1, 0, 0 };	/* 2^40 bytes */
	/* row 0: control byte, u32 length, then u64 uncompressed size */
	int rc = read_patched(&err, "22_images", "img", 1, 0, 5, w, 8);

	CHECK_ERR(rc, err, LC_EK_LIMIT, "cap");
	CHECK(strstr(err.msg, "column 1 page 0: value 0: "));
}

TEST(corrupt_fsst_code)
{
	struct lc_err err = { 0 };
	struct fixture fx;
	uint8_t *b = NULL;
	uint64_t n;
	int rc;

	/* the long-string page is full-zip FSST with a real symbol table
	 * (lance 12 wrote its mini-block FSST pages with the encoder off):
	 * end row 0's code string with an escape that has no literal */
	CHECK(fixture_load(&fx, "22_longstr") == 0);
	CHECK_OK(lance__page_buffer(&b, fx.f, &fx.f->cols[0].pages[0], 0,
				    &err), &err);
	n = lc_le32(b + 1);	/* control byte 0 = valid, u32 length */
	{
		uint8_t tail[2] = { 0, 255 };
		bool valid = b[0] == 0;

		fixture_free(&fx);
		lc_free(b);
		CHECK(valid && n >= 2);
		rc = read_patched(&err, "22_longstr", "t", 0, 0, 1 + 4 + n - 2,
				  tail, 2);
	}
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "fsst value");
	CHECK(strstr(err.msg, "column 0 page 0: fsst value 0"));
}

TEST(corrupt_type_url)
{
	struct lc_err err = { 0 };
	struct fixture fx;
	char tmp[] = "/tmp/v21urlXXXXXX", cmd[2600], path[1400];
	struct lance_array a;
	uint8_t *all;
	size_t len;
	FILE *fp;
	int rc;

	/* rename the page Any type everywhere: same length, unknown name */
	CHECK(fixture_load(&fx, "21_ints") == 0);
	CHECK(mkdtemp(tmp));
	snprintf(cmd, sizeof(cmd), "cp -r %s/21_ints/data %s/", fixture_dir(),
		 tmp);
	CHECK(system(cmd) == 0);
	snprintf(path, sizeof(path), "%s/%s", tmp, fx.df.path);
	fp = fopen(path, "r+b");
	CHECK(fp);
	fseek(fp, 0, SEEK_END);
	len = (size_t)ftell(fp);
	all = malloc(len);
	fseek(fp, 0, SEEK_SET);
	CHECK(fread(all, 1, len, fp) == len);
	for (size_t i = 0; i + 11 < len; i++)
		if (!memcmp(all + i, "encodings21", 11))
			memcpy(all + i, "encodings99", 11);
	fseek(fp, 0, SEEK_SET);
	CHECK(fwrite(all, 1, len, fp) == len);
	fclose(fp);
	free(all);
	lance_file_free(fx.f);
	ostore_free(fx.st);
	fx.f = NULL;
	fx.st = NULL;
	CHECK_OK(ostore_open_uri(&fx.st, tmp, NULL, &err), &err);
	CHECK_OK(lance_file_open(&fx.f, fx.st, &fx.df, &fx.schema, &err),
		 &err);
	rc = lance_file_read(&a, fx.f, fx.schema.top[0], 0, 1, &err);
	fixture_free(&fx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	CHECK(system(cmd) == 0);
	CHECK_ERR(rc, err, LC_EK_UNSUPPORTED, "encodings99");
}

/* Hand-built layouts through the pure page decoder. */
static int decode_layout(struct lc_err *err, Lpb21__Layout *lay,
			 uint64_t rows, const uint8_t *const *bufs,
			 const uint64_t *sizes, size_t nb)
{
	uint8_t enc[4096];
	size_t n = lpb21__layout__pack(lay, enc);

	return lance__v21_page_decode(enc, n, rows, bufs, sizes, nb, 0,
				      rows, err);
}

TEST(hostile_layouts)
{
	struct lc_err err = { 0 };
	Lpb21__Layout lay = LPB21__LAYOUT__INIT;
	Lpb21__MiniBlock mb = LPB21__MINI_BLOCK__INIT;
	Lpb21__FullZip fz = LPB21__FULL_ZIP__INIT;
	Lpb21__Enc flat = LPB21__ENC__INIT;
	Lpb21__Flat fl = LPB21__FLAT__INIT;
	uint8_t meta[2] = { 0x11, 0x00 }, chunk[64];	/* 16 bytes */
	const uint8_t *bufs[2] = { meta, chunk };
	uint64_t sizes[2] = { 2, 64 };
	Lpb21__Layer layers[1] = { LPB21__LAYER__LAYER_ALL_VALID_ITEM };
	int rc;

	memset(chunk, 0, sizeof(chunk));
	fl.bits_per_value = 32;
	flat.kind_case = LPB21__ENC__KIND_FLAT;
	flat.flat = &fl;
	mb.value_compression = &flat;
	mb.num_buffers = 1;
	mb.num_items = 2;
	mb.layers = layers;
	mb.n_layers = 1;
	lay.layout_case = LPB21__LAYOUT__LAYOUT_MINI_BLOCK;
	lay.mini_block = &mb;
	/* the only chunk claims 2 values of 32 bits; its header says its
	 * value buffer has 4 bytes */
	chunk[2] = 4;
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 2);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "need 8 bytes");

	memset(&err, 0, sizeof(err));
	mb.num_buffers = 100;
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 2);
	CHECK_ERR(rc, err, LC_EK_UNSUPPORTED, "value buffers per chunk");

	memset(&err, 0, sizeof(err));
	mb.num_buffers = 1;
	fl.bits_per_value = 12;
	chunk[2] = 8;
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 2);
	CHECK_ERR(rc, err, LC_EK_UNSUPPORTED, "12 bits per value");

	memset(&err, 0, sizeof(err));
	fz.bits_rep = 40;
	fz.details_case = LPB21__FULL_ZIP__DETAILS_BITS_PER_VALUE;
	fz.bits_per_value = 32;
	lay.layout_case = LPB21__LAYOUT__LAYOUT_FULL_ZIP;
	lay.full_zip = &fz;
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 1);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "40 rep");

	/* fixed-width full-zip rows past their buffer: row 2^62 of 4-byte
	 * values would be read at byte 2^64, which wraps to 0 */
	memset(&err, 0, sizeof(err));
	fz.bits_rep = 0;
	fz.layers = layers;
	fz.n_layers = 1;
	{
		uint8_t enc[256];
		size_t n = lpb21__layout__pack(&lay, enc);

		rc = lance__v21_page_decode(enc, n, UINT64_C(1) << 63,
					    bufs + 1, sizes + 1, 1,
					    UINT64_C(1) << 62, 1, &err);
	}
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "rows of 4 bytes");

	memset(&err, 0, sizeof(err));
	rc = lance__v21_page_decode((const uint8_t *)"\x0a\xff", 2, 2, bufs,
				    sizes, 2, 0, 2, &err);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "");
}

/* Constant pages: buffer roles follow the inline value and the buffer
 * count; a value buffer is u32 count, u32 lengths, then the buffers. */
TEST(hostile_constant)
{
	struct lc_err err = { 0 };
	Lpb21__Layout lay = LPB21__LAYOUT__INIT;
	Lpb21__ConstantPage cp = LPB21__CONSTANT_PAGE__INIT;
	Lpb21__Layer layers[1] = { LPB21__LAYER__LAYER_NULLABLE_ITEM };
	uint8_t val[32] = { 2, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0,
			    0, 0, 0, 0, 1, 0, 0, 0, 'a' };
	uint8_t def[8] = { 0, 0, 1, 0 }, seven[4] = { 7, 0, 0, 0 };
	const uint8_t *bufs[4] = { val, def, def, def };
	uint64_t sizes[4] = { 21, 0, 4, 4 };
	int rc;

	cp.layers = layers;
	cp.n_layers = 1;
	lay.layout_case = LPB21__LAYOUT__LAYOUT_CONSTANT;
	lay.constant = &cp;
	/* value, no rep, def: "a", null */
	CHECK(decode_layout(&err, &lay, 2, bufs, sizes, 3) == 0);
	CHECK(decode_layout(&err, &lay, 1, bufs, sizes, 1) == 0);
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 4);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "4 buffers and no inline");

	memset(&err, 0, sizeof(err));
	cp.inline_value.data = seven;
	cp.inline_value.len = 4;
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 1);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "1 buffers and an inline");
	cp.inline_value.len = 0;

	memset(&err, 0, sizeof(err));
	sizes[0] = 22;		/* a byte after the value */
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 3);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "1 bytes after the constant");

	memset(&err, 0, sizeof(err));
	sizes[0] = 21;
	val[16] = 2;		/* end offset past the one byte */
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 3);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "offsets 0..2 over 1");

	memset(&err, 0, sizeof(err));
	val[0] = 3;		/* three arrow buffers */
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 3);
	CHECK_ERR(rc, err, LC_EK_UNSUPPORTED, "3 arrow buffers");

	memset(&err, 0, sizeof(err));
	val[0] = 2;
	val[4] = 200;		/* offsets buffer longer than the value */
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 3);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "buffer 0 of 200 bytes");

	memset(&err, 0, sizeof(err));
	val[4] = 8;
	val[16] = 1;
	sizes[2] = 6;		/* three def levels for two rows */
	rc = decode_layout(&err, &lay, 2, bufs, sizes, 3);
	CHECK_ERR(rc, err, LC_EK_CORRUPT, "3 levels for 2 rows");
}

/* Bit p of `lane`'s stream is bit p % t of word lanes * (p / t) + lane. */
static void put_bit(uint8_t *packed, unsigned t, unsigned lanes,
		    unsigned lane, uint64_t p)
{
	uint64_t bit = (lanes * (p / t) + lane) * t + p % t;

	packed[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* FastLanes against a direct implementation of the layout rule. */
TEST(fastlanes_order)
{
	static const unsigned order[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };
	uint8_t packed[128 * 64], out[1024 * 8];

	for (unsigned t = 8; t <= 64; t *= 2)
		for (unsigned w = 0; w <= t; w += (t / 8 > 1 ? 3 : 1)) {
			unsigned lanes = 1024 / t;

			memset(packed, 0, sizeof(packed));
			/* value of element idx: idx * 2654435761 mod 2^w */
			for (unsigned lane = 0; lane < lanes; lane++)
				for (unsigned row = 0; row < t; row++) {
					unsigned idx = order[row / 8] * 16 +
						       (row % 8) * 128 + lane;
					uint64_t v = (uint64_t)idx *
						     2654435761u;

					if (w < 64)
						v &= ((uint64_t)1 << w) - 1;
					for (unsigned b = 0; b < w; b++)
						if ((v >> b) & 1)
							put_bit(packed, t,
								lanes, lane,
								row * w + b);
				}
			lance__fl_unpack(t, w, packed, out);
			for (unsigned i = 0; i < 1024; i++) {
				uint64_t v = (uint64_t)i * 2654435761u, got = 0;

				if (w < 64)
					v &= ((uint64_t)1 << w) - 1;
				memcpy(&got, out + i * (t / 8), t / 8);
				CHECK_EQ_U64(got, v);
			}
		}
}

/* ---------------------------------------------------------- access costs */

static const struct ostore_ops *real_ops;
static struct ostore_ops counting_ops;
static int n_reads;
static uint64_t n_bytes;

static int counting_read(struct ostore_obj *o, uint64_t off, size_t len,
			 void *buf, struct lc_err *err)
{
	n_reads++;
	n_bytes += len;
	return real_ops->read(o, off, len, buf, err);
}

static const struct lance_field *field_named(struct fixture *fx,
					     const char *name)
{
	for (size_t i = 0; i < fx->schema.n_fields; i++)
		if (!strcmp(fx->schema.fields[i].name, name))
			return &fx->schema.fields[i];
	return NULL;
}

/* Reads one row at a time and counts the range reads each costs. */
static int reads_for_row(struct fixture *fx, const char *name, uint64_t row,
			 uint64_t *bytes)
{
	struct lc_err err = { 0 };
	struct lance_array a;
	int before = n_reads;
	uint64_t b0 = n_bytes;

	if (lance_file_read(&a, fx->f, field_named(fx, name), row, 1, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	lance_array_reset(&a);
	if (bytes)
		*bytes = n_bytes - b0;
	return n_reads - before;
}

TEST(random_access_cost)
{
	struct fixture fx;
	uint64_t bytes;

	CHECK(fixture_load(&fx, "22_ints") == 0);
	real_ops = fx.st->ops;
	counting_ops = *real_ops;
	counting_ops.read = counting_read;
	fx.st->ops = &counting_ops;
	/* mini-block: chunk metadata once, then one chunk per row */
	CHECK_EQ_U64(reads_for_row(&fx, "id", 5000, &bytes), 2);
	CHECK(bytes < 4096);
	CHECK_EQ_U64(reads_for_row(&fx, "id", 9999, &bytes), 1);
	CHECK(bytes < 2048);
	CHECK_EQ_U64(reads_for_row(&fx, "i32", 0, NULL), 2);
	fx.st->ops = real_ops;
	fixture_free(&fx);

	/* full-zip: two repetition-index entries and the row's bytes */
	CHECK(fixture_load(&fx, "22_images") == 0);
	real_ops = fx.st->ops;
	counting_ops = *real_ops;
	counting_ops.read = counting_read;
	fx.st->ops = &counting_ops;
	CHECK_EQ_U64(reads_for_row(&fx, "img", 3, &bytes), 3);
	CHECK(bytes < 34000);
	CHECK_EQ_U64(reads_for_row(&fx, "img", 0, &bytes), 3);
	CHECK(bytes < 2100);
	fx.st->ops = real_ops;
	fixture_free(&fx);
}

/* A struct child read on its own, and an empty read. */
TEST(nested_field_and_empty)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	struct lance_array st, a, e;
	const struct lance_field *fa;
	struct canon c = { 0 }, d = { 0 };

	CHECK(fixture_load(&fx, "22_nested") == 0);
	fa = field_named(&fx, "a");
	CHECK(fa && fa->parent);
	CHECK_OK(lance_file_read(&st, fx.f, fa->parent, 100, 300, &err),
		 &err);
	CHECK_OK(lance_file_read(&a, fx.f, fa, 100, 300, &err), &err);
	CHECK_EQ_U64(a.length, 300);
	for (uint64_t i = 0; i < 300; i++) {
		/* a null struct makes its child null too */
		c.len = d.len = 0;
		canon_arr(&c, &a, i);
		if (lance_array_is_valid(&st, i))
			canon_arr(&d, &st.children[0], i);
		else
			cputs(&d, "n");
		CHECK(c.len == d.len && !memcmp(c.p, d.p, c.len));
	}
	CHECK_OK(lance_file_read(&e, fx.f, fx.schema.top[0], 5, 0, &err),
		 &err);
	CHECK_EQ_U64(e.length, 0);
	lance_array_reset(&e);
	lance_array_reset(&a);
	lance_array_reset(&st);
	free(c.p);
	free(d.p);
	fixture_free(&fx);
}

TEST_MAIN(TEST_ENTRY(f21_ints), TEST_ENTRY(f21_ints2),
	  TEST_ENTRY(blob_schema_over_plain_values),
	  TEST_ENTRY(f21_floats), TEST_ENTRY(f21_mixed),
	  TEST_ENTRY(f21_strings), TEST_ENTRY(f21_longstr),
	  TEST_ENTRY(f21_nested), TEST_ENTRY(f21_images),
	  TEST_ENTRY(f21_blobv1), TEST_ENTRY(f22_ints),
	  TEST_ENTRY(f22_ints2), TEST_ENTRY(f22_floats),
	  TEST_ENTRY(f22_mixed), TEST_ENTRY(f22_strings),
	  TEST_ENTRY(f22_longstr), TEST_ENTRY(f22_nested),
	  TEST_ENTRY(f22_images), TEST_ENTRY(f22_blobv2),
	  TEST_ENTRY(f21_wide), TEST_ENTRY(f21_fsst), TEST_ENTRY(f21_opts),
	  TEST_ENTRY(f22_wide), TEST_ENTRY(f22_fsst), TEST_ENTRY(f22_opts),
	  TEST_ENTRY(f21_const), TEST_ENTRY(f22_const),
	  TEST_ENTRY(hostile_constant),
	  TEST_ENTRY(corrupt_chunk_meta), TEST_ENTRY(corrupt_bit_width),
	  TEST_ENTRY(corrupt_rep_index), TEST_ENTRY(corrupt_zstd_length),
	  TEST_ENTRY(corrupt_fsst_code), TEST_ENTRY(corrupt_type_url),
	  TEST_ENTRY(hostile_layouts), TEST_ENTRY(fastlanes_order),
	  TEST_ENTRY(random_access_cost), TEST_ENTRY(nested_field_and_empty))
