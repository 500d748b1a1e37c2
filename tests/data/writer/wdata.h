/*
 * wdata.h - test data for the data-file writer, shared by
 * tests/unit/test_writer.c (round trips through our reader) and
 * tests/data/writer/mkds.c (datasets LanceDB reads).
 *
 * A rich schema with every shape the writer supports, and rows that are
 * a pure function of the row number, so any slice can be rebuilt.
 */
#ifndef WDATA_H
#define WDATA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lance_int.h"
#include "file.pb-c.h"

struct wd_def {
	const char *name;
	int32_t parent;
	const char *type;
	bool nullable;
};

/* Ids are the positions, pre-order. */
static const struct wd_def wd_fields[] = {
	{ "id", -1, "int64", false },		/* 0 */
	{ "i32", -1, "int32", true },		/* 1 */
	{ "f64", -1, "double", true },		/* 2 */
	{ "flag", -1, "bool", true },		/* 3 */
	{ "name", -1, "string", true },		/* 4 */
	{ "text", -1, "string", true },		/* 5 */
	{ "img", -1, "binary", true },		/* 6 */
	{ "nul", -1, "string", true },		/* 7 */
	{ "nuli", -1, "int32", true },		/* 8 */
	{ "vec", -1, "fixed_size_list:float:4", true },	/* 9 */
	{ "li", -1, "list", true },		/* 10 */
	{ "item", 10, "int32", true },		/* 11 */
	{ "st", -1, "struct", true },		/* 12 */
	{ "a", 12, "int32", true },		/* 13 */
	{ "b", 12, "string", true },		/* 14 */
	{ "u8", -1, "uint8", false },		/* 15 */
	{ "d128", -1, "decimal:128:20:2", true },	/* 16 */
	{ "lbin", -1, "large_binary", true },	/* 17 */
	{ "wide", -1, "fixed_size_binary:300", true },	/* 18 */
	{ "ts", -1, "timestamp:us:UTC", true },	/* 19 */
	{ "tags", -1, "list", true },		/* 20 */
	{ "item", 20, "string", true },		/* 21 */
	{ "ll", -1, "list", true },		/* 22 */
	{ "item", 22, "list", true },		/* 23 */
	{ "item", 23, "int32", true },		/* 24 */
	{ "ls", -1, "list", true },		/* 25 */
	{ "item", 25, "struct", true },		/* 26 */
	{ "x", 26, "int32", true },		/* 27 */
	{ "y", 26, "string", true },		/* 28 */
	{ "sl", -1, "struct", true },		/* 29 */
	{ "l", 29, "list", true },		/* 30 */
	{ "item", 30, "int64", true },		/* 31 */
	{ "z", 29, "bool", true },		/* 32 */
	{ "ltags", -1, "list", true },		/* 33 */
	{ "item", 33, "large_string", true },	/* 34 */
	{ "lvec", -1, "list", true },		/* 35 */
	{ "item", 35, "fixed_size_list:float:2", true },	/* 36 */
	{ "dc", -1, "dict:string:int16:false", true },	/* 37 */
	{ "sb", -1, "struct", true },		/* 38 */
	{ "l", 38, "list", true },		/* 39 */
	{ "item", 39, "string", true },		/* 40 */
	{ "v", 38, "list", true },		/* 41 */
	{ "item", 41, "fixed_size_list:float:4", true },	/* 42 */
	{ "dn", -1, "dict:int64:int8:false", true },	/* 43 */
	{ "db", -1, "dict:bool:int8:false", true },	/* 44 */
	{ "vb", -1, "fixed_size_list:bool:3", true },	/* 45 */
};
#define WD_NFIELDS (sizeof(wd_fields) / sizeof(wd_fields[0]))
#define WD_NTOP 28

/* A schema of n <= 48 fields, ids = positions. */
static inline int wd_schema_of(struct lance_schema *out,
			       const struct wd_def *defs, size_t n,
			       struct lc_err *err)
{
	Lpb__Field pf[48], *pp[48];
	Lpb__Field__MetadataEntry me[48], *mp[48];
	char types[48][64], *bar, *eq;

	for (size_t i = 0; i < n && i < 48; i++) {
		lpb__field__init(&pf[i]);
		pf[i].name = (char *)defs[i].name;
		pf[i].id = (int32_t)i;
		pf[i].parent_id = defs[i].parent;
		/* "TYPE|KEY=VALUE": one metadata entry */
		snprintf(types[i], sizeof(types[i]), "%s", defs[i].type);
		pf[i].logical_type = types[i];
		pf[i].nullable = defs[i].nullable;
		bar = strchr(types[i], '|');
		eq = bar ? strchr(bar, '=') : NULL;
		if (eq) {
			*bar = *eq = 0;
			lpb__field__metadata_entry__init(&me[i]);
			me[i].key = bar + 1;
			me[i].value.data = (uint8_t *)eq + 1;
			me[i].value.len = strlen(eq + 1);
			mp[i] = &me[i];
			pf[i].metadata = &mp[i];
			pf[i].n_metadata = 1;
		}
		pp[i] = &pf[i];
	}
	return lance__schema_from_pb(out, pp, n < 48 ? n : 48, err);
}

static inline int wd_schema(struct lance_schema *out, struct lc_err *err)
{
	return wd_schema_of(out, wd_fields, WD_NFIELDS, err);
}

/* Row-level rules. `big` adds a 100 KB and a 5 MB image. */
struct wd_opts {
	bool big;
	bool struct_nulls;	/* not for 2.0 */
	bool edge;		/* li: no items at all; st all null (2.1+);
				 * img all null; name all empty */
	bool kid_null;		/* st valid in every row, st.a null in
				 * every row (an all-null page under a
				 * struct) */
};

static inline bool wd_null(uint64_t i, unsigned every)
{
	return i % every == every - 1;
}

static inline uint64_t wd_img_len(uint64_t i, const struct wd_opts *o)
{
	if (i == 1)
		return 0;
	if (i == 2)
		return 1;
	if (o->big && i == 3)
		return 100000;
	if (o->big && i == 4)
		return 5u << 20;
	return (i * 7) % 300;
}

static inline uint8_t wd_img_byte(uint64_t i, uint64_t k)
{
	return (uint8_t)(i * 31 + k * 7 + (k >> 8));
}

static inline void wd_text(char *buf, uint64_t i, size_t *len)
{
	size_t n = (i % 3) ? 300 + (size_t)(i % 500) : (size_t)(i % 40);

	for (size_t k = 0; k < n; k++)
		buf[k] = (char)('a' + (i + k) % 26);
	*len = n;
}

static inline uint64_t wd_li_len(uint64_t i, const struct wd_opts *o)
{
	if (o->edge || i % 10 == 3 || i % 10 == 5)
		return 0;
	return i % 4 + 1;
}

/* ---------------------------------------------------------- building */

static inline void wd_setbit(uint8_t *b, uint64_t i, bool v)
{
	if (v)
		b[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		b[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static inline void *wd_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static inline uint8_t *wd_bitmap(uint64_t n)
{
	uint8_t *b = wd_alloc((size_t)(n + 7) / 8);

	memset(b, 0xff, (size_t)(n + 7) / 8);
	return b;
}

/* An array for field f with the type pointers set. */
static inline void wd_init(struct lance_array *a, const struct lance_field *f,
			   uint64_t n)
{
	memset(a, 0, sizeof(*a));
	a->type = &f->type;
	a->field = f;
	a->length = n;
}

static inline void wd_fixed(struct lance_array *a, unsigned w, uint64_t n)
{
	a->values_len = w ? n * w : (n + 7) / 8;
	a->values = wd_alloc((size_t)a->values_len);
}

/* A vector column's validity (all valid) and its one child of n vectors'
 * items (f's width each, w bytes an item, 0 for booleans), to fill. */
static inline struct lance_array *wd_vec(struct lance_array *a,
					 const struct lance_field *f,
					 uint64_t n, unsigned w)
{
	struct lance_array *c = wd_alloc(sizeof(*c));
	uint64_t items = n * (uint64_t)f->type.width;

	a->children = c;
	a->n_children = 1;
	a->validity = wd_bitmap(n);
	memset(c, 0, sizeof(*c));
	c->type = f->type.item;
	c->length = items;
	wd_fixed(c, w, items);
	return c;
}

/* The validity and offsets of list rows [first, first + n) whose row i
 * has wd_li_len(i + s) items (none where it is null), and one child
 * array, left for the caller to fill: the number of items. */
static inline uint64_t wd_list(struct lance_array *a, uint64_t first,
			       uint64_t n, const struct wd_opts *o, unsigned s)
{
	uint64_t items = 0;

	a->children = wd_alloc(sizeof(*a->children));
	a->n_children = 1;
	a->validity = wd_bitmap(n);
	a->offsets = wd_alloc((size_t)(n + 1) * 8);
	for (uint64_t r = 0; r < n; r++) {
		a->offsets[r] = items;
		wd_setbit(a->validity, r, o->edge ? (first + r) % (2 + s)
				: (first + r) % 10 != 3 + s);
		items += wd_li_len(first + r + s, o);
	}
	a->offsets[n] = items;
	return items;
}

/* Nested lists (ll, ls, sl): row i's shape, a function of i alone.
 * ll row i: i % 5 lists (null every 13th row; edge: null or empty),
 * list j: (i + j) % 4 items, null where (i + j) % 7 == 3. */
static inline bool wd_ll_row(uint64_t i, const struct wd_opts *o)
{
	return o->edge ? i % 2 == 0 : i % 13 != 12;
}

static inline uint64_t wd_ll_len(uint64_t i, const struct wd_opts *o)
{
	return o->edge || !wd_ll_row(i, o) ? 0 : i % 5;
}

static inline bool wd_ll_inner(uint64_t i, uint64_t j)
{
	return (i + j) % 7 != 3;
}

static inline uint64_t wd_ll_inner_len(uint64_t i, uint64_t j)
{
	return wd_ll_inner(i, j) ? (i + j) % 4 : 0;
}

/* ls row i: i % 4 structs (null every 11th row; edge: one struct,
 * null where structs may be). */
static inline uint64_t wd_ls_len(uint64_t i, const struct wd_opts *o)
{
	return o->edge ? 1 : i % 11 == 7 ? 0 : i % 4;
}

/* sl row i: null every 9th row (where structs may be; edge: all), its
 * list null every 10th, else i % 3 items. */
static inline bool wd_sl_row(uint64_t i, const struct wd_opts *o)
{
	return !o->struct_nulls || (!o->edge && i % 9 != 4);
}

static inline uint64_t wd_sl_len(uint64_t i, const struct wd_opts *o)
{
	return wd_sl_row(i, o) && i % 10 != 6 ? i % 3 : 0;
}

/* sb.l's item k of row i: 300 bytes, and now and then 9,000 (2.1 pages
 * of such values with null structs are cut around the nulls: writer.c
 * OUTER_NULLS). */
static inline uint64_t wd_sb_len(uint64_t i, uint64_t k)
{
	return i % 1000 == 17 && !k ? 9000 : 300;
}

/* Offsets and validity of n rows, row r of which has len(r) items. */
static inline uint64_t wd_offsets(struct lance_array *a, uint64_t n,
				  const uint64_t *lens, const bool *ok)
{
	uint64_t items = 0;

	a->validity = wd_bitmap(n);
	a->offsets = wd_alloc((size_t)(n + 1) * 8);
	for (uint64_t r = 0; r < n; r++) {
		a->offsets[r] = items;
		wd_setbit(a->validity, r, ok[r]);
		items += lens[r];
	}
	a->offsets[n] = items;
	return items;
}

static inline void wd_nested(struct lance_array *a,
			     const struct lance_field *f, uint64_t first,
			     uint64_t n, const struct wd_opts *o)
{
	uint64_t *lens = wd_alloc((size_t)n * 8 + 8), items, k = 0;
	bool *ok = wd_alloc((size_t)n + 1);
	struct lance_array *c;

	switch (f->id) {
	case 22: {	/* ll: list<list<int32>> */
		struct lance_array *it;
		uint64_t *ilens, vals;
		bool *iok;

		for (uint64_t r = 0; r < n; r++) {
			lens[r] = wd_ll_len(first + r, o);
			ok[r] = wd_ll_row(first + r, o);
		}
		a->n_children = 1;
		c = a->children = wd_alloc(sizeof(*c));
		items = wd_offsets(a, n, lens, ok);
		ilens = wd_alloc((size_t)items * 8 + 8);
		iok = wd_alloc((size_t)items + 1);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t j = 0; j < lens[r]; j++, k++) {
				ilens[k] = wd_ll_inner_len(first + r, j);
				iok[k] = wd_ll_inner(first + r, j);
			}
		wd_init(c, f->children[0], items);
		c->n_children = 1;
		it = c->children = wd_alloc(sizeof(*it));
		vals = wd_offsets(c, items, ilens, iok);
		wd_init(it, f->children[0]->children[0], vals);
		wd_fixed(it, 4, vals);
		it->validity = wd_bitmap(vals);
		k = 0;
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t j = 0; j < lens[r]; j++)
				for (uint64_t q = 0;
				     q < wd_ll_inner_len(first + r, j);
				     q++, k++) {
					uint64_t i = first + r;
					int32_t v = (int32_t)(i * 100 + j * 10
							      + q);

					memcpy(it->values + k * 4, &v, 4);
					wd_setbit(it->validity, k,
						  (i + j + q) % 9 != 8);
				}
		free(ilens);
		free(iok);
		break;
	}
	case 25: {	/* ls: list<struct<x: int32, y: string>> */
		struct lance_array *x, *y;

		for (uint64_t r = 0; r < n; r++) {
			lens[r] = wd_ls_len(first + r, o);
			ok[r] = (first + r) % 11 != 7 || o->edge;
		}
		a->n_children = 1;
		c = a->children = wd_alloc(sizeof(*c));
		items = wd_offsets(a, n, lens, ok);
		wd_init(c, f->children[0], items);
		c->n_children = 2;
		c->children = wd_alloc(2 * sizeof(*c->children));
		c->validity = wd_bitmap(items);
		x = &c->children[0];
		y = &c->children[1];
		wd_init(x, f->children[0]->children[0], items);
		wd_fixed(x, 4, items);
		x->validity = wd_bitmap(items);
		wd_init(y, f->children[0]->children[1], items);
		y->validity = wd_bitmap(items);
		y->offsets = wd_alloc((size_t)(items + 1) * 8);
		y->values = wd_alloc((size_t)items * 32 + 1);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t j = 0; j < lens[r]; j++, k++) {
				uint64_t i = first + r;
				int32_t v = (int32_t)(i * 7) - (int32_t)j;

				/* children keep their values under a null
				 * struct: the struct's null is what shows */
				wd_setbit(c->validity, k, o->struct_nulls &&
					  (o->edge || (i + j) % 5 == 4) ?
					  false : true);
				memcpy(x->values + k * 4, &v, 4);
				wd_setbit(x->validity, k, (i + j) % 6 != 5);
				y->offsets[k] = y->values_len;
				wd_setbit(y->validity, k, (i + j) % 8 != 7);
				if ((i + j) % 8 != 7)
					y->values_len += (uint64_t)snprintf(
						(char *)y->values +
						y->values_len, 32,
						"y%llu_%llu",
						(unsigned long long)i,
						(unsigned long long)j);
			}
		y->offsets[items] = y->values_len;
		break;
	}
	case 29: {	/* sl: struct<l: list<int64>, z: bool> */
		struct lance_array *l, *z, *it;

		a->n_children = 2;
		c = a->children = wd_alloc(2 * sizeof(*c));
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			uint64_t i = first + r;

			wd_setbit(a->validity, r, wd_sl_row(i, o));
			lens[r] = wd_sl_len(i, o);
			ok[r] = wd_sl_row(i, o) && i % 10 != 6;
		}
		l = &c[0];
		z = &c[1];
		wd_init(l, f->children[0], n);
		l->n_children = 1;
		it = l->children = wd_alloc(sizeof(*it));
		items = wd_offsets(l, n, lens, ok);
		wd_init(it, f->children[0]->children[0], items);
		wd_fixed(it, 8, items);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t j = 0; j < lens[r]; j++, k++) {
				int64_t v = (int64_t)(first + r) * 1000 +
					    (int64_t)j;

				memcpy(it->values + k * 8, &v, 8);
			}
		wd_init(z, f->children[1], n);
		wd_fixed(z, 0, n);
		z->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			wd_setbit(z->values, r, (first + r) % 2);
			wd_setbit(z->validity, r, (first + r) % 5 != 0);
		}
		break;
	}
	}
	free(lens);
	free(ok);
}

/* Rows [first, first + n) of top-level field `t` (index into schema.top). */
static inline void wd_column(struct lance_array *a,
			     const struct lance_schema *s, size_t t,
			     uint64_t first, uint64_t n,
			     const struct wd_opts *o)
{
	const struct lance_field *f = s->top[t];
	char tb[1024];
	size_t tl;

	wd_init(a, f, n);
	switch (f->id) {
	case 0:
		wd_fixed(a, 8, n);
		for (uint64_t r = 0; r < n; r++) {
			int64_t v = (int64_t)(first + r) * 1000003 - 7;

			memcpy(a->values + r * 8, &v, 8);
		}
		break;
	case 1:
		wd_fixed(a, 4, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			int32_t v = (int32_t)((first + r) * 37 % 100000) -
				    50000;

			memcpy(a->values + r * 4, &v, 4);
			wd_setbit(a->validity, r, !wd_null(first + r, 7));
		}
		break;
	case 2:
		wd_fixed(a, 8, n);
		for (uint64_t r = 0; r < n; r++) {
			double v = (double)(first + r) * 0.5;

			memcpy(a->values + r * 8, &v, 8);
		}
		break;
	case 3:
		wd_fixed(a, 0, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			wd_setbit(a->values, r, (first + r) % 3 == 0);
			wd_setbit(a->validity, r, !wd_null(first + r, 5));
		}
		break;
	case 4:
	case 5:
	case 6:
	case 7:
	case 17: {
		uint64_t total = 0;

		a->offsets = wd_alloc((size_t)(n + 1) * 8);
		a->validity = wd_bitmap(n);
		for (int pass = 0; pass < 2; pass++) {
			total = 0;
			for (uint64_t r = 0; r < n; r++) {
				uint64_t i = first + r, len = 0;
				bool ok = true;

				if (f->id == 4) {
					ok = !wd_null(i, 11);
					tl = (size_t)snprintf(tb, sizeof(tb),
						"name-%llu",
						(unsigned long long)i);
					if (i % 13 == 0 || o->edge)
						tl = 0;
					len = tl;
					if (pass && ok)
						memcpy(a->values + total, tb,
						       tl);
				} else if (f->id == 5) {
					ok = !wd_null(i, 17);
					wd_text(tb, i, &tl);
					len = tl;
					if (pass && ok)
						memcpy(a->values + total, tb,
						       tl);
				} else if (f->id == 6) {
					ok = !wd_null(i, 97) && !o->edge;
					len = wd_img_len(i, o);
					for (uint64_t k = 0;
					     pass && ok && k < len; k++)
						a->values[total + k] =
							wd_img_byte(i, k);
				} else if (f->id == 17) {
					ok = !wd_null(i, 23);
					len = i % 50;
					for (uint64_t k = 0;
					     pass && ok && k < len; k++)
						a->values[total + k] =
							wd_img_byte(i + 1, k);
				} else {
					ok = false;
				}
				if (!ok)
					len = 0;
				if (pass) {
					a->offsets[r] = total;
					wd_setbit(a->validity, r, ok);
				}
				total += len;
			}
			if (!pass) {
				a->values = wd_alloc((size_t)total);
				a->values_len = total;
			}
		}
		a->offsets[n] = total;
		break;
	}
	case 8:
		wd_fixed(a, 4, n);
		a->validity = wd_alloc((size_t)(n + 7) / 8);
		break;
	case 9: {
		struct lance_array *c = wd_vec(a, f, n, 4);

		for (uint64_t r = 0; r < n * 4; r++) {
			float v = (float)(first * 4 + r) / 4.0f;

			memcpy(c->values + r * 4, &v, 4);
		}
		for (uint64_t r = 0; r < n; r++)
			wd_setbit(a->validity, r, !wd_null(first + r, 9));
		break;
	}
	case 10: {
		uint64_t items = wd_list(a, first, n, o, 0);
		struct lance_array *c = a->children;

		wd_init(c, f->children[0], items);
		wd_fixed(c, 4, items);
		c->validity = wd_bitmap(items);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t k = 0; k < wd_li_len(first + r, o); k++) {
				uint64_t j = a->offsets[r] + k;
				int32_t v = (int32_t)((first + r) * 10 + k);

				memcpy(c->values + j * 4, &v, 4);
				wd_setbit(c->validity, j,
					  (first + r + k) % 6 != 0);
			}
		break;
	}
	case 38: {
		/* a nullable struct holding lists of long strings and of
		 * vectors with null items (full-zip pages with a null layer
		 * outside the lists): struct null every 7th row (where
		 * structs may be), lists null every 5th, two items a row */
		struct lance_array *c = wd_alloc(2 * sizeof(*c)), *ls, *lv;
		uint64_t *lens = wd_alloc((size_t)n * 8 + 8);
		bool *ok = wd_alloc((size_t)n + 1);
		uint64_t items = 0;

		a->children = c;
		a->n_children = 2;
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			uint64_t i = first + r;
			bool row = !(o->struct_nulls &&
				     (o->edge || i % 7 == 3));

			wd_setbit(a->validity, r, row);
			ok[r] = row && i % 5 != 1;
			lens[r] = ok[r] ? 2 : 0;
		}
		for (int k = 0; k < 2; k++) {
			wd_init(&c[k], f->children[k], n);
			c[k].n_children = 1;
			c[k].children = wd_alloc(sizeof(*c[k].children));
			items = wd_offsets(&c[k], n, lens, ok);
		}
		ls = c[0].children;
		wd_init(ls, f->children[0]->children[0], items);
		ls->offsets = wd_alloc((size_t)(items + 1) * 8);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t k = 0; k < lens[r]; k++)
				ls->values_len += wd_sb_len(first + r, k);
		ls->values = wd_alloc((size_t)ls->values_len + 1);
		ls->values_len = 0;
		ls->validity = wd_bitmap(items);
		lv = c[1].children;
		wd_init(lv, f->children[1]->children[0], items);
		lv->validity = wd_bitmap(items);
		lv->n_children = 1;
		lv->children = wd_alloc(sizeof(*lv->children));
		memset(lv->children, 0, sizeof(*lv->children));
		lv->children->type = f->children[1]->children[0]->type.item;
		lv->children->length = items * 4;
		wd_fixed(lv->children, 4, items * 4);
		/* and null items now and then (2.1+: with a struct null
		 * nearby, item validity in each mini-block chunk) */
		lv->children->validity = wd_bitmap(items * 4);
		for (uint64_t r = 0; r < n; r++) {	/* item k of row i */
			uint64_t i = first + r;

			for (uint64_t k = 0; k < lens[r]; k++) {
				uint64_t j = c[0].offsets[r] + k;

				uint64_t len = wd_sb_len(i, k);

				ls->offsets[j] = ls->values_len;
				for (uint64_t b = 0; b < len; b++)
					ls->values[ls->values_len + b] =
						(uint8_t)('a' + (i + k + b) % 26);
				ls->values_len += len;
				for (uint64_t d = 0; d < 4; d++) {
					float x = (float)(i * 8 + k * 4 + d) *
						  0.5f;

					memcpy(lv->children->values +
					       (j * 4 + d) * 4, &x, 4);
					wd_setbit(lv->children->validity,
						  j * 4 + d,
						  (i + k + d) % 9 != 4);
				}
			}
		}
		ls->offsets[items] = ls->values_len;
		free(lens);
		free(ok);
		break;
	}
	case 43:
		/* a dictionary of int64s: 40 values (one 0), nulls */
		wd_fixed(a, 8, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			int64_t v = ((int64_t)((first + r) % 40) - 3) *
				    1000000007;

			memcpy(a->values + r * 8, &v, 8);
			wd_setbit(a->validity, r,
				  !wd_null(first + r, 11) && !o->edge);
		}
		break;
	case 45: {
		/* vectors of 3 booleans: null vectors, null items (none in
		 * the edge case: every vector null there) */
		struct lance_array *c = wd_vec(a, f, n, 0);

		c->validity = wd_bitmap(n * 3);
		for (uint64_t r = 0; r < n * 3; r++) {
			uint64_t i = first * 3 + r;

			wd_setbit(c->values, r, i % 5 == 1 || i % 7 == 2);
			wd_setbit(c->validity, r, i % 11 != 4);
		}
		for (uint64_t r = 0; r < n; r++)
			wd_setbit(a->validity, r,
				  !wd_null(first + r, 6) && !o->edge);
		break;
	}
	case 44:
		/* a dictionary of booleans, nulls */
		wd_fixed(a, 0, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			wd_setbit(a->values, r, (first + r) % 4 == 1);
			wd_setbit(a->validity, r,
				  !wd_null(first + r, 7) && !o->edge);
		}
		break;
	case 37: {
		/* a dictionary column: 23 values (one empty), nulls */
		uint64_t bytes = 0;

		a->validity = wd_bitmap(n);
		a->offsets = wd_alloc((size_t)(n + 1) * 8);
		a->values = wd_alloc((size_t)n * 8 + 1);
		for (uint64_t r = 0; r < n; r++) {
			uint64_t i = first + r;

			a->offsets[r] = bytes;
			wd_setbit(a->validity, r, !wd_null(i, 13) && !o->edge);
			if (!wd_null(i, 13) && !o->edge && i % 23)
				bytes += (uint64_t)snprintf(
					(char *)a->values + bytes, 8, "c%u",
					(unsigned)(i % 23));
		}
		a->offsets[n] = bytes;
		a->values_len = bytes;
		break;
	}
	case 35: {
		/* lists of vectors, null vectors among them */
		uint64_t items = wd_list(a, first, n, o, 5);
		struct lance_array *c = a->children, *it;

		wd_init(c, f->children[0], items);
		c->validity = wd_bitmap(items);
		c->n_children = 1;
		it = c->children = wd_alloc(sizeof(*it));
		memset(it, 0, sizeof(*it));
		it->type = f->children[0]->type.item;
		it->length = items * 2;
		wd_fixed(it, 4, items * 2);
		for (uint64_t r = 0; r < n; r++)
			for (uint64_t k = 0; k < wd_li_len(first + r + 5, o);
			     k++) {
				uint64_t j = a->offsets[r] + k;

				for (uint64_t d = 0; d < 2; d++) {
					float v = (float)((first + r) * 10 +
							  k) + 0.25f * d;

					memcpy(it->values + (j * 2 + d) * 4,
					       &v, 4);
				}
				wd_setbit(c->validity, j,
					  (first + r + k) % 7 != 2);
			}
		break;
	}
	case 12: {
		struct lance_array *c = wd_alloc(2 * sizeof(*c));

		a->children = c;
		a->n_children = 2;
		if (o->struct_nulls && !o->kid_null) {
			a->validity = wd_bitmap(n);
			for (uint64_t r = 0; r < n; r++)
				wd_setbit(a->validity, r,
					  !o->edge && !wd_null(first + r, 8));
		}
		wd_init(&c[0], f->children[0], n);
		wd_fixed(&c[0], 4, n);
		c[0].validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			int32_t v = (int32_t)(first + r) * -3;

			memcpy(c[0].values + r * 4, &v, 4);
			wd_setbit(c[0].validity, r,
				  !o->kid_null && !wd_null(first + r, 3));
		}
		wd_init(&c[1], f->children[1], n);
		c[1].offsets = wd_alloc((size_t)(n + 1) * 8);
		c[1].validity = wd_bitmap(n);
		c[1].values = wd_alloc((size_t)n * 24);
		for (uint64_t r = 0; r < n; r++) {
			bool ok = !wd_null(first + r, 4);

			c[1].offsets[r] = c[1].values_len;
			wd_setbit(c[1].validity, r, ok);
			if (ok)
				c[1].values_len += (uint64_t)snprintf(
					(char *)c[1].values + c[1].values_len,
					24, "b%llu",
					(unsigned long long)(first + r));
		}
		c[1].offsets[n] = c[1].values_len;
		break;
	}
	case 15:
		wd_fixed(a, 1, n);
		for (uint64_t r = 0; r < n; r++)
			a->values[r] = (uint8_t)(first + r);
		break;
	case 16:
		wd_fixed(a, 16, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			int64_t v = (int64_t)(first + r) * 12345 - 999;
			int64_t hi = v < 0 ? -1 : 0;

			memcpy(a->values + r * 16, &v, 8);
			memcpy(a->values + r * 16 + 8, &hi, 8);
			wd_setbit(a->validity, r, !wd_null(first + r, 19));
		}
		break;
	case 18:
		wd_fixed(a, 300, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			for (uint64_t k = 0; k < 300; k++)
				a->values[r * 300 + k] =
					wd_img_byte(first + r, k + 5);
			wd_setbit(a->validity, r, !wd_null(first + r, 29));
		}
		break;
	case 19:
		wd_fixed(a, 8, n);
		a->validity = wd_bitmap(n);
		for (uint64_t r = 0; r < n; r++) {
			int64_t v = 1700000000000000 +
				    (int64_t)(first + r) * 1000001;

			memcpy(a->values + r * 8, &v, 8);
			wd_setbit(a->validity, r, !wd_null(first + r, 31));
		}
		break;
	case 20:
	case 33: {
		/* lists of strings: empty, null and long ones among them
		 * (ltags: large strings, other lists) */
		unsigned sh = f->id == 20 ? 1 : 6;
		uint64_t items = wd_list(a, first, n, o, sh), bytes = 0;
		struct lance_array *c = a->children;

		wd_init(c, f->children[0], items);
		c->validity = wd_bitmap(items);
		c->offsets = wd_alloc((size_t)(items + 1) * 8);
		/* item k of row i: a function of (i, k), for any slice */
		c->values = wd_alloc((size_t)items * 200);
		for (uint64_t r = 0; r < n; r++) {
			uint64_t i = first + r;

			for (uint64_t k = 0; k < wd_li_len(i + sh, o); k++) {
				uint64_t j = a->offsets[r] + k;
				uint64_t len = (i + k) % 7 == 0 ? 200
								: (i * 3 + k) % 9;

				c->offsets[j] = bytes;
				for (uint64_t b = 0; b < len; b++)
					c->values[bytes + b] =
						(uint8_t)('a' + (i + k + b) % 26);
				bytes += len;
				wd_setbit(c->validity, j, (i + k) % 11 != 4);
			}
		}
		c->offsets[items] = bytes;
		c->values_len = bytes;
		break;
	}
	case 22:
	case 25:
	case 29:
		wd_nested(a, f, first, n, o);
		break;
	default:
		fprintf(stderr, "wd_column: field %d\n", f->id);
		exit(2);
	}
}

static inline void wd_free(struct lance_array *a)
{
	for (size_t i = 0; i < a->n_children; i++)
		wd_free(&a->children[i]);
	free(a->children);
	free(a->validity);
	free(a->values);
	free(a->offsets);
	memset(a, 0, sizeof(*a));
}

/* A file the tests wrote, open in a store of theirs. */
struct wfile {
	struct lance_schema schema;
	struct ostore *st;
	struct lance_file *f;
	struct lance_data_file df;
	uint64_t rows;
};

static inline void wfile_free(struct wfile *w)
{
	lance_file_free(w->f);
	ostore_free(w->st);
	lc_free(w->df.fields);
	lc_free(w->df.column_indices);
	lance_schema_reset(&w->schema);
}

/* Rows [0, rows) of `schema` (wd_schema's) written as one 2.minor file,
 * added in batches of `batch` rows: its bytes and its data-file entry. */
static inline int wd_write(const struct lance_schema *schema, uint16_t minor,
			   uint64_t rows, uint64_t batch,
			   const struct wd_opts *o, uint8_t **bytes,
			   size_t *len, struct lance_data_file *df,
			   struct lc_err *err)
{
	struct lance_writer *w = NULL;
	int32_t ids[WD_NTOP];
	int rc;

	if (!batch)
		batch = rows ? rows : 1;
	for (size_t i = 0; i < WD_NTOP; i++)
		ids[i] = schema->top[i]->id;
	rc = lance_writer_new(&w, schema, ids, WD_NTOP, 2, minor, err);
	for (uint64_t r = 0; !rc && r < rows; r += batch) {
		struct lance_array cols[WD_NTOP];
		uint64_t n = rows - r < batch ? rows - r : batch;

		for (size_t i = 0; i < WD_NTOP; i++)
			wd_column(&cols[i], schema, i, r, n, o);
		rc = lance_writer_add(w, cols, err);
		for (size_t i = 0; i < WD_NTOP; i++)
			wd_free(&cols[i]);
	}
	if (!rc)
		rc = lance_writer_finish(w, bytes, len, df, err);
	lance_writer_free(w);
	return rc;
}

/* Store wrappers a test may put around the in-memory store (countstore.h's
 * count_store_new): take `inner` over, also when they fail. */
typedef int (*wd_wrap_fn)(struct ostore **out, struct ostore *inner,
			  struct lc_err *err);

/* Write rows in batches of `batch` with `o` as a 2.minor file, put it
 * at data/x.lance of an in-memory store (wrapped by `wrap` if given),
 * check the size the writer reports, and open it. */
static inline int wfile_write(struct wfile *wf, uint16_t minor,
			      uint64_t rows, uint64_t batch,
			      const struct wd_opts *o, wd_wrap_fn wrap,
			      struct lc_err *err)
{
	static char path[] = "data/x.lance";
	struct ostore *mem = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc;

	memset(wf, 0, sizeof(*wf));
	rc = wd_schema(&wf->schema, err);
	if (!rc)
		rc = wd_write(&wf->schema, minor, rows, batch, o, &bytes, &len,
			      &wf->df, err);
	if (!rc)
		rc = ostore_mem_new(&mem, err);
	if (!rc)
		rc = ostore_put(mem, path, bytes, len, 0, err);
	lc_free(bytes);
	if (rc)
		ostore_free(mem);
	else if (wrap)
		rc = wrap(&wf->st, mem, err);
	else
		wf->st = mem;
	wf->df.path = path;
	if (!rc && wf->df.size != len)
		rc = LC_CORRUPT(err, "df.size %llu, file %zu",
				(unsigned long long)wf->df.size, len);
	if (!rc)
		rc = lance_file_open(&wf->f, wf->st, &wf->df, &wf->schema,
				     err);
	wf->rows = rows;
	return rc;
}

#endif
