/*
 * fuzz_datafile.c - a whole .lance data file from the fuzzer: the footer,
 * the column-metadata tables, the file descriptor and every page decoder
 * behind lance_file_read, for each file version. The input is stored in an
 * in-memory object store and read through a fixed schema that covers the
 * common column shapes; whatever the bytes claim, reading must fail
 * cleanly or return arrays that are internally consistent, and a window
 * read (lance_file_read_window) that succeeds must agree with the full
 * read of its row.
 */
#include <stdio.h>
#include <stdlib.h>

#include "file.pb-c.h"
#include "lance_int.h"
#include "fuzzwin.h"

static struct lance_type t_i64 = { .id = LANCE_T_INT64 };
static struct lance_type t_str = { .id = LANCE_T_UTF8 };
static struct lance_type t_bin = { .id = LANCE_T_BINARY };
static struct lance_type t_f32 = { .id = LANCE_T_FLOAT32 };
static struct lance_type t_fsl = { .id = LANCE_T_FIXED_LIST, .width = 4,
				   .item = &t_f32 };
static struct lance_type t_list = { .id = LANCE_T_LIST };
static struct lance_type t_i32 = { .id = LANCE_T_INT32 };
static struct lance_type t_bool = { .id = LANCE_T_BOOL };

static struct lance_field fields[] = {
	{ .name = (char *)"id", .id = 0, .parent_id = -1, .nullable = true },
	{ .name = (char *)"name", .id = 1, .parent_id = -1, .nullable = true },
	{ .name = (char *)"image", .id = 2, .parent_id = -1, .nullable = true },
	{ .name = (char *)"vec", .id = 3, .parent_id = -1, .nullable = true },
	{ .name = (char *)"tags", .id = 4, .parent_id = -1, .nullable = true },
	{ .name = (char *)"item", .id = 5, .parent_id = 4, .nullable = true },
	{ .name = (char *)"flag", .id = 6, .parent_id = -1, .nullable = true },
};
static struct lance_field *top[] = { &fields[0], &fields[1], &fields[2],
				     &fields[3], &fields[4], &fields[6] };
static struct lance_field *list_children[] = { &fields[5] };
static struct lance_schema schema = {
	.fields = fields, .n_fields = 7, .top = top, .n_top = 6,
};

static void setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	fields[0].type = t_i64;
	fields[1].type = t_str;
	fields[2].type = t_bin;
	fields[3].type = t_fsl;
	fields[4].type = t_list;
	fields[4].children = list_children;
	fields[4].n_children = 1;
	fields[5].type = t_i32;
	fields[5].parent = &fields[4];
	fields[6].type = t_bool;
}

static void check_array(const struct lance_array *a)
{
	if (a->offsets) {
		for (uint64_t i = 0; i < a->length; i++)
			if (a->offsets[i] > a->offsets[i + 1])
				abort();
		if (a->n_children == 0 && a->offsets[a->length] > a->values_len)
			abort();
	}
	for (size_t c = 0; c < a->n_children; c++)
		check_array(&a->children[c]);
}

/*
 * The file's own schema, from its FileDescriptor (global buffer 0), with
 * the column mapping Lance uses (2.0: every field in pre-order; 2.1+:
 * leaves, packed structs and blobs), so the decoders see the types the
 * file was written with. Returns 0 when there is one to use.
 */
static int own_schema(struct lance_schema *sc, struct lance_data_file *df,
		      const uint8_t *d, size_t n)
{
	Lpb__FileDescriptor *fd;
	uint64_t gbo, pos, len;
	bool v20;
	int rc = -1;

	if (n < 40 || memcmp(d + n - 4, "LANC", 4))
		return -1;
	v20 = lc_le16(d + n - 8) == 0 ||
	      (lc_le16(d + n - 8) == 2 && lc_le16(d + n - 6) == 0);
	gbo = lc_le64(d + n - 24);
	if (!lc_range_ok(gbo, 16, n))
		return -1;
	pos = lc_le64(d + gbo);
	len = lc_le64(d + gbo + 8);
	if (!lc_range_ok(pos, len, n) ||
	    lance__pb_check(d + pos, (size_t)len, LANCE_PB_MAX_DEPTH, "fd",
			    NULL))
		return -1;
	fd = lpb__file_descriptor__unpack(NULL, (size_t)len, d + pos);
	if (!fd)
		return -1;
	if (fd->schema && fd->schema->n_fields < 256 &&
	    !lance__schema_from_pb(sc, fd->schema->fields,
				   fd->schema->n_fields, NULL)) {
		df->fields = calloc(sc->n_fields + 1, sizeof(int32_t));
		df->column_indices = calloc(sc->n_fields + 1, sizeof(int32_t));
		for (size_t i = 0; i < sc->n_fields; i++) {
			const struct lance_field *f = &sc->fields[i], *p;
			bool under = false;

			for (p = f->parent; p; p = p->parent)
				if (p->packed || p->blob != LANCE_BLOB_NONE)
					under = true;
			if (under || (!v20 && f->n_children && !f->packed &&
				      f->blob == LANCE_BLOB_NONE))
				continue;
			df->fields[df->n_fields] = f->id;
			df->column_indices[df->n_fields] =
				(int32_t)df->n_fields;
			df->n_fields++;
		}
		df->n_column_indices = df->n_fields;
		rc = 0;
	}
	lpb__file_descriptor__free_unpacked(fd, NULL);
	return rc;
}

static void read_all(struct lance_file *f, const struct lance_schema *sc)
{
	struct lc_err err = { 0 };

	for (size_t i = 0; i < sc->n_top; i++) {
		uint64_t rows = lance_file_rows(f), n = rows < 16 ? rows : 16;
		uint64_t sizes[16];
		bool valid[16];
		struct lance_array a;

		lc_err_clear(&err);
		if (!lance_file_read(&a, f, sc->top[i], 0, n, &err)) {
			check_array(&a);
			lance_array_reset(&a);
		}
		lc_err_clear(&err);
		if (rows > 1 && !lance_file_read(&a, f, sc->top[i], rows / 2,
						 1, &err))
			lance_array_reset(&a);
		lc_err_clear(&err);
		if (sc->top[i]->type.id == LANCE_T_BINARY ||
		    sc->top[i]->type.id == LANCE_T_UTF8 ||
		    sc->top[i]->blob != LANCE_BLOB_NONE)
			(void)!lance_file_value_sizes(sizes, valid, f,
						      sc->top[i], 0, n, &err);
		if (rows) {
			windows(f, sc->top[i], 0);
			windows(f, sc->top[i], rows / 2);
			windows(f, sc->top[i], rows - 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 2.0 lists every field in a column; 2.1+ only the leaves */
	static int32_t ids20[] = { 0, 1, 2, 3, 4, 5, 6 };
	static int32_t cols20[] = { 0, 1, 2, 3, 4, 5, 6 };
	static int32_t ids21[] = { 0, 1, 2, 3, 5, 6 };
	static int32_t cols21[] = { 0, 1, 2, 3, 4, 5 };
	struct lance_data_file df = { .path = (char *)"data/f.lance" };
	struct lc_err err = { 0 };
	struct ostore *st;
	struct lance_file *f;
	uint16_t major, minor;

	setup();
	(void)major;
	(void)minor;
	if (ostore_mem_new(&st, &err))
		return 0;
	if (ostore_put(st, df.path, data, size, 0, &err))
		goto out;
	{
		struct lance_schema own = { 0 };
		struct lance_data_file odf = { .path = df.path };

		if (!own_schema(&own, &odf, data, size)) {
			lc_err_clear(&err);
			if (!lance_file_open(&f, st, &odf, &own, &err)) {
				read_all(f, &own);
				lance_file_free(f);
			}
		}
		free(odf.fields);
		free(odf.column_indices);
		lance_schema_reset(&own);
	}
	for (int layout = 0; layout < 2; layout++) {
		df.fields = layout ? ids21 : ids20;
		df.column_indices = layout ? cols21 : cols20;
		df.n_fields = df.n_column_indices = layout ? 6 : 7;
		lc_err_clear(&err);
		if (lance_file_open(&f, st, &df, &schema, &err))
			continue;
		lance_file_version(f, &major, &minor);
		read_all(f, &schema);
		lance_file_free(f);
	}
out:
	ostore_free(st);
	return 0;
}
