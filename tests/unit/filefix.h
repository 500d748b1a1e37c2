/*
 * filefix.h - shared by the data-file decoder tests: hand-built schemas for
 * the fixture tables in tests/data/{v20,v1}/, a store over tests/data that
 * counts the bytes it reads, and the canonical cell format that
 * tests/data/gen_fixtures.js used to write the expected values.
 */
#ifndef FILEFIX_H
#define FILEFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "harness.h"
#include "lance_int.h"

/* One field of a hand-built schema, in pre-order; ids are the indices. */
struct fspec {
	const char *name;
	int parent;			/* index of the parent, or -1 */
	enum lance_type_id id;
	int32_t width;			/* fixed sizes */
	enum lance_type_id item;	/* fixed-size list item */
	bool large;
	bool blob;
};

struct fixture {
	struct lance_schema schema;
	struct lance_type items[64];
	struct lance_field *kids[64][8];
	struct ostore *st;
	struct ostore_ops counting_ops;
	struct lance_file *f;
	int32_t ids[64], cols[64];
};

static uint64_t fixture_bytes_read;
static uint64_t fixture_reads;
static int (*fixture_inner_read)(struct ostore_obj *, uint64_t, size_t,
				 void *, struct lc_err *);

static int counting_read(struct ostore_obj *o, uint64_t off, size_t len,
			 void *buf, struct lc_err *err)
{
	fixture_bytes_read += len;
	fixture_reads++;
	return fixture_inner_read(o, off, len, buf, err);
}

static void fixture_reset(struct fixture *fx)
{
	lance_file_free(fx->f);
	ostore_free(fx->st);
	free(fx->schema.fields);
	free(fx->schema.top);
	memset(fx, 0, sizeof(*fx));
}

/* Build the schema and open tests/data/<path>; v1 files get no column
 * indices. Returns 0 or an errno with err filled. */
static int fixture_open(struct fixture *fx, const char *path,
			const struct fspec *spec, size_t n, bool v1,
			struct lc_err *err)
{
	struct lance_data_file df = { 0 };
	int rc;

	memset(fx, 0, sizeof(*fx));
	fx->schema.fields = calloc(n, sizeof(struct lance_field));
	fx->schema.top = calloc(n, sizeof(struct lance_field *));
	fx->schema.n_fields = n;
	for (size_t i = 0; i < n; i++) {
		struct lance_field *fl = &fx->schema.fields[i];

		fl->name = (char *)spec[i].name;
		fl->id = (int32_t)i;
		fl->parent_id = spec[i].parent;
		fl->type.id = spec[i].id;
		fl->type.width = spec[i].width;
		fl->type.large = spec[i].large;
		fl->type.unit = LANCE_UNIT_US;
		if (spec[i].id == LANCE_T_DECIMAL128) {
			fl->type.precision = 20;
			fl->type.scale = 3;
		}
		if (spec[i].id == LANCE_T_FIXED_LIST) {
			fx->items[i].id = spec[i].item;
			fl->type.item = &fx->items[i];
		}
		fl->nullable = true;
		fl->blob = spec[i].blob ? LANCE_BLOB_V1 : LANCE_BLOB_NONE;
		fl->children = fx->kids[i];
		if (spec[i].parent >= 0) {
			struct lance_field *par =
				&fx->schema.fields[spec[i].parent];

			fl->parent = par;
			par->children[par->n_children++] = fl;
		} else {
			fx->schema.top[fx->schema.n_top++] = fl;
		}
		fx->ids[i] = (int32_t)i;
		fx->cols[i] = (int32_t)i;
	}
	rc = ostore_local_new(&fx->st, fixture_dir(), err);
	if (rc)
		return rc;
	fx->counting_ops = *fx->st->ops;
	fixture_inner_read = fx->st->ops->read;
	fx->counting_ops.read = counting_read;
	fx->st->ops = &fx->counting_ops;
	df.path = (char *)path;
	df.fields = fx->ids;
	df.n_fields = n;
	df.column_indices = v1 ? NULL : fx->cols;
	df.n_column_indices = v1 ? 0 : n;
	df.major = v1 ? 0 : 2;
	df.minor = v1 ? 2 : 0;
	return lance_file_open(&fx->f, fx->st, &df, &fx->schema, err);
}

static const struct lance_field *fixture_field(const struct fixture *fx,
					       const char *name)
{
	for (size_t i = 0; i < fx->schema.n_fields; i++)
		if (!strcmp(fx->schema.fields[i].name, name) &&
		    fx->schema.fields[i].parent_id < 0)
			return &fx->schema.fields[i];
	return NULL;
}

/* ---- canonical cells (see gen_fixtures.js) */

static void cat(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cat(char *out, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(out);
	va_list ap;

	if (len >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(out + len, cap - len, fmt, ap);
	va_end(ap);
}

static void canon_bytes(char *out, size_t cap, const uint8_t *p, uint64_t n)
{
	if (n <= 48) {
		cat(out, cap, "x");
		for (uint64_t i = 0; i < n; i++)
			cat(out, cap, "%02x", p[i]);
	} else {
		uint64_t h = 0xcbf29ce484222325ull;

		for (uint64_t i = 0; i < n; i++) {
			h ^= p[i];
			h *= 0x100000001b3ull;
		}
		cat(out, cap, "L%llu:%016llx", (unsigned long long)n,
		    (unsigned long long)h);
	}
}

static void canon(char *out, size_t cap, const struct lance_array *a,
		  uint64_t i)
{
	const uint8_t *v = a->values;

	if (!lance_array_is_valid(a, i)) {
		cat(out, cap, "null");
		return;
	}
	switch (a->type->id) {
	case LANCE_T_INT8:
		cat(out, cap, "%d", (int8_t)v[i]);
		break;
	case LANCE_T_UINT8:
		cat(out, cap, "%u", v[i]);
		break;
	case LANCE_T_INT16:
		cat(out, cap, "%d", (int16_t)lc_le16(v + 2 * i));
		break;
	case LANCE_T_UINT16:
		cat(out, cap, "%u", lc_le16(v + 2 * i));
		break;
	case LANCE_T_INT32:
	case LANCE_T_DATE32:
		cat(out, cap, "%d", (int32_t)lc_le32(v + 4 * i));
		break;
	case LANCE_T_UINT32:
		cat(out, cap, "%u", lc_le32(v + 4 * i));
		break;
	case LANCE_T_INT64:
	case LANCE_T_TIMESTAMP:
		cat(out, cap, "%lld", (long long)lc_le64(v + 8 * i));
		break;
	case LANCE_T_UINT64:
		cat(out, cap, "%llu", (unsigned long long)lc_le64(v + 8 * i));
		break;
	case LANCE_T_FLOAT32:
		cat(out, cap, "0x%08x", lc_le32(v + 4 * i));
		break;
	case LANCE_T_FLOAT64:
		cat(out, cap, "0x%016llx",
		    (unsigned long long)lc_le64(v + 8 * i));
		break;
	case LANCE_T_BOOL:
		cat(out, cap, "%s", (v[i >> 3] >> (i & 7)) & 1 ? "true"
							       : "false");
		break;
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		canon_bytes(out, cap, v + a->offsets[i],
			    a->offsets[i + 1] - a->offsets[i]);
		break;
	case LANCE_T_FIXED_BINARY:
	case LANCE_T_DECIMAL128: {
		unsigned w = lance_type_width(a->type);

		canon_bytes(out, cap, v + (uint64_t)w * i, w);
		break;
	}
	case LANCE_T_LIST:
	case LANCE_T_FIXED_LIST: {
		uint64_t s, e;

		if (a->type->id == LANCE_T_LIST) {
			s = a->offsets[i];
			e = a->offsets[i + 1];
		} else {
			s = i * (uint64_t)a->type->width;
			e = s + (uint64_t)a->type->width;
		}
		cat(out, cap, "[");
		for (uint64_t k = s; k < e; k++) {
			if (k > s)
				cat(out, cap, ",");
			canon(out, cap, &a->children[0], k);
		}
		cat(out, cap, "]");
		break;
	}
	case LANCE_T_STRUCT:
		cat(out, cap, "{");
		for (size_t k = 0; k < a->n_children; k++) {
			if (k)
				cat(out, cap, ",");
			canon(out, cap, &a->children[k], i);
		}
		cat(out, cap, "}");
		break;
	default:
		cat(out, cap, "?type%d", (int)a->type->id);
	}
}

/* Compare rows [row, row + n) of `name` against the expected cells; prints
 * the first mismatch. Returns 0 when all match. */
static int fixture_check(struct fixture *fx, const char *name,
			 const char *const *expect, uint64_t row, uint64_t n)
{
	const struct lance_field *fl = fixture_field(fx, name);
	struct lance_array a;
	struct lc_err err = { 0 };
	char buf[4096];
	int rc;

	if (!fl) {
		fprintf(stderr, "no field %s\n", name);
		return 1;
	}
	rc = lance_file_read(&a, fx->f, fl, row, n, &err);
	if (rc) {
		fprintf(stderr, "%s rows %llu+%llu: %s\n", name,
			(unsigned long long)row, (unsigned long long)n,
			err.msg);
		return rc;
	}
	if (a.length != n) {
		fprintf(stderr, "%s: %llu rows, wanted %llu\n", name,
			(unsigned long long)a.length, (unsigned long long)n);
		lance_array_reset(&a);
		return 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		buf[0] = 0;
		canon(buf, sizeof(buf), &a, i);
		if (strcmp(buf, expect[row + i])) {
			fprintf(stderr, "%s row %llu: got %.200s, expected "
				"%.200s\n", name,
				(unsigned long long)(row + i), buf,
				expect[row + i]);
			lance_array_reset(&a);
			return 1;
		}
	}
	lance_array_reset(&a);
	return 0;
}

#endif
