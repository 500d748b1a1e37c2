/*
 * fuzz_v1.c - a whole legacy v1 data file from bytes, through an
 * in-memory object store: open it, then read every top-level field whole,
 * a single row, string sizes, and windows of the first rows (which must
 * agree with full reads where both succeed). The first input byte picks the schema
 * (the fixtures' schemas in tests/data/v1/, or a tiny one); the rest is
 * the file. Seeds: the fixture files with their schema byte prepended.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lance_int.h"
#include "fuzzwin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem_store {
	struct ostore st;
	const uint8_t *data;
	size_t size;
};

static int mem_open(struct ostore *st, const char *key,
		    struct ostore_obj **out, struct lc_err *err)
{
	struct mem_store *m = (struct mem_store *)st;
	struct ostore_obj *o = calloc(1, sizeof(*o));

	if (!o)
		return LC_NOMEM(err);
	o->st = st;
	o->key = (char *)key;
	o->size = m->size;
	*out = o;
	return 0;
}

static int mem_read(struct ostore_obj *o, uint64_t off, size_t len,
		    void *buf, struct lc_err *err)
{
	struct mem_store *m = (struct mem_store *)o->st;

	(void)err;
	memcpy(buf, m->data + off, len);
	return 0;
}

static void mem_close(struct ostore_obj *o)
{
	free(o);
}

static const struct ostore_ops mem_ops = {
	.kind = OSTORE_KIND_LOCAL,
	.open = mem_open,
	.read = mem_read,
	.close = mem_close,
};

struct spec {
	enum lance_type_id id;
	int parent;
	int32_t width;
};

static const struct spec wide[] = {
	{ LANCE_T_INT8, -1, 0 }, { LANCE_T_UINT8, -1, 0 },
	{ LANCE_T_INT16, -1, 0 }, { LANCE_T_UINT16, -1, 0 },
	{ LANCE_T_INT32, -1, 0 }, { LANCE_T_UINT32, -1, 0 },
	{ LANCE_T_INT64, -1, 0 }, { LANCE_T_UINT64, -1, 0 },
	{ LANCE_T_FLOAT32, -1, 0 }, { LANCE_T_FLOAT64, -1, 0 },
	{ LANCE_T_BOOL, -1, 0 }, { LANCE_T_BOOL, -1, 0 },
	{ LANCE_T_TIMESTAMP, -1, 0 }, { LANCE_T_DATE32, -1, 0 },
	{ LANCE_T_UTF8, -1, 0 }, { LANCE_T_UTF8, -1, 0 },
	{ LANCE_T_BINARY, -1, 0 }, { LANCE_T_UTF8, -1, 0 },
	{ LANCE_T_FIXED_LIST, -1, 4 }, { LANCE_T_FIXED_LIST, -1, 4 },
	{ LANCE_T_LIST, -1, 0 }, { LANCE_T_INT32, 20, 0 },
	{ LANCE_T_STRUCT, -1, 0 }, { LANCE_T_INT32, 22, 0 },
	{ LANCE_T_UTF8, 22, 0 }, { LANCE_T_FLOAT64, 22, 0 },
	{ LANCE_T_FIXED_BINARY, -1, 5 }, { LANCE_T_DECIMAL128, -1, 0 },
};
static const struct spec multi[] = {
	{ LANCE_T_INT32, -1, 0 }, { LANCE_T_BOOL, -1, 0 },
	{ LANCE_T_UTF8, -1, 0 }, { LANCE_T_LIST, -1, 0 },
	{ LANCE_T_INT16, 3, 0 },
};
static const struct spec img[] = { { LANCE_T_BINARY, -1, 0 } };
static const struct spec tiny[] = {
	{ LANCE_T_INT32, -1, 0 }, { LANCE_T_UTF8, -1, 0 },
};
static const struct {
	const struct spec *s;
	size_t n;
} schemas[] = {
	{ wide, sizeof(wide) / sizeof(wide[0]) },
	{ multi, sizeof(multi) / sizeof(multi[0]) },
	{ img, 1 },
	{ tiny, 2 },
};

static struct lance_type f32 = { .id = LANCE_T_FLOAT32 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_store m = { { &mem_ops, (char *)"mem", NULL }, NULL, 0 };
	struct lance_field fields[32];
	struct lance_field *kids[32][8];
	struct lance_schema schema = { 0 };
	int32_t ids[32];
	struct lance_data_file df = { 0 };
	struct lance_file *f;
	struct lc_err err = { 0 };
	const struct spec *s;
	size_t n, k;

	if (size < 1)
		return 0;
	k = data[0] % 4;
	s = schemas[k].s;
	n = schemas[k].n;
	m.data = data + 1;
	m.size = size - 1;
	memset(fields, 0, sizeof(fields));
	for (size_t i = 0; i < n; i++) {
		fields[i].name = (char *)"f";
		fields[i].id = (int32_t)i;
		fields[i].parent_id = s[i].parent;
		fields[i].nullable = true;
		fields[i].type.id = s[i].id;
		fields[i].type.width = s[i].width;
		if (s[i].id == LANCE_T_FIXED_LIST)
			fields[i].type.item = &f32;
		fields[i].children = kids[i];
		if (s[i].parent >= 0) {
			struct lance_field *par = &fields[s[i].parent];

			par->children[par->n_children++] = &fields[i];
		}
		ids[i] = (int32_t)i;
	}
	schema.fields = fields;
	schema.n_fields = n;
	df.path = (char *)"x.lance";
	df.fields = ids;
	df.n_fields = n;
	if (lance_file_open(&f, &m.st, &df, &schema, &err))
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t rows = lance_file_rows(f), sz[4];
		bool ok[4];
		struct lance_array a;

		if (fields[i].parent_id >= 0)
			continue;
		if (rows > 5000)
			rows = 5000;
		if (!lance_file_read(&a, f, &fields[i], 0, rows, &err))
			lance_array_reset(&a);
		if (rows && !lance_file_read(&a, f, &fields[i], rows - 1, 1,
					     &err))
			lance_array_reset(&a);
		if (rows >= 4)
			(void)!lance_file_value_sizes(sz, ok, f, &fields[i],
						      0, 4, &err);
		for (uint64_t r = 0; r < rows && r < 3; r++)
			windows(f, &fields[i], r);
	}
	lance_file_free(f);
	return 0;
}
