/*
 * ingest.c - staged rows become Lance rows: assembly, schema inference
 * and the commit of a batch (see ingest.h).
 *
 * Builders. Each top-level field has a `struct bld` tree shaped like the
 * field (list item, struct children, fixed-size-list items), holding
 * growable validity, values and offsets buffers. A row appends exactly
 * one value to every top-level builder; when any part of a row is
 * refused, every builder is cut back to its previous length
 * (bld_truncate), which is possible because a builder's buffers are a
 * function of its length and its offsets.
 *
 * meta.json is the inverse of render.c's rules (man page, "Files in a
 * row folder"): integers with range checks, numbers for floats, dates,
 * times and timestamps as the ISO strings the view shows, decimals as
 * strings, fixed_size_binary (and binary inside other columns) as
 * lowercase hex, lists and vectors as arrays, structs as objects, and a
 * JSON column's value (any JSON but null) as the JSONB lance writes for
 * it (jsonb.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "imgcheck.h"
#include "ingest.h"
#include "jsonb.h"
#include "render.h"
#include "staging.h"

/* one value read from a file: an Arrow binary or string value has 32-bit
 * offsets */
#define INGEST_MAX_FILE ((1ull << 31) - 1)
#define INGEST_MAX_DEPTH 32

void (*ingest__test_hook)(int point);

/* ---------------------------------------------------------------- builders */

struct bld {
	const struct lance_field *field;	/* NULL for fixed-list items */
	const struct lance_type *type;
	uint64_t length;
	struct lc_buf valid;		/* bitmap, 1 = valid */
	struct lc_buf values;
	struct lc_buf offsets;		/* uint64_t, length + 1 */
	struct bld *kids;
	size_t n_kids;
	struct lance_array *kid_arrs;	/* views for bld_view */
	struct lance_array arr;
};

static bool has_offsets(enum lance_type_id id)
{
	return id == LANCE_T_UTF8 || id == LANCE_T_BINARY ||
	       id == LANCE_T_LIST || id == LANCE_T_MAP;
}

static void bld_reset(struct bld *b)
{
	for (size_t i = 0; i < b->n_kids; i++)
		bld_reset(&b->kids[i]);
	lc_free(b->kids);
	lc_free(b->kid_arrs);
	lc_buf_reset(&b->valid);
	lc_buf_reset(&b->values);
	lc_buf_reset(&b->offsets);
	memset(b, 0, sizeof(*b));
}

static int bld_init(struct bld *b, const struct lance_field *f,
		    const struct lance_type *t, unsigned depth,
		    struct lc_err *err)
{
	uint64_t zero = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	b->field = f;
	b->type = t;
	lc_buf_init(&b->valid, 0);
	if (t->id == LANCE_T_BINARY)
		lc_buf_init_pages(&b->values, 0);	/* files: big */
	else
		lc_buf_init(&b->values, 0);
	lc_buf_init(&b->offsets, 0);
	if (depth > INGEST_MAX_DEPTH)
		return LC_LIMIT(err, "field %s: nested too deep",
				f ? f->name : "item");
	if (has_offsets(t->id)) {
		rc = lc_buf_append(&b->offsets, &zero, sizeof(zero), err);
		if (rc)
			return rc;
	}
	if (t->id == LANCE_T_FIXED_LIST) {
		if (!t->item)
			return LC_UNSUPPORTED(err, "field %s: fixed-size list "
					      "without an item type",
					      f ? f->name : "item");
		b->n_kids = 1;
	} else if (f && (t->id == LANCE_T_LIST || t->id == LANCE_T_MAP ||
			 t->id == LANCE_T_STRUCT)) {
		b->n_kids = f->n_children;
	}
	if (t->id == LANCE_T_LIST && b->n_kids != 1)
		return LC_CORRUPT(err, "field %s: list with %zu children",
				  f ? f->name : "item", b->n_kids);
	if (!b->n_kids)
		return 0;
	b->kids = lc_calloc(b->n_kids, sizeof(*b->kids));
	b->kid_arrs = lc_calloc(b->n_kids, sizeof(*b->kid_arrs));
	if (!b->kids || !b->kid_arrs) {
		b->n_kids = 0;
		return LC_NOMEM(err);
	}
	for (size_t i = 0; i < b->n_kids; i++) {
		if (t->id == LANCE_T_FIXED_LIST)
			rc = bld_init(&b->kids[i], NULL, t->item, depth + 1,
				      err);
		else
			rc = bld_init(&b->kids[i], f->children[i],
				      lance_array_type(f->children[i]),
				      depth + 1, err);
		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t bld_offset(const struct bld *b, uint64_t i)
{
	uint64_t v;

	memcpy(&v, b->offsets.data + i * sizeof(v), sizeof(v));
	return v;
}

/* Cut back to `len` values (len <= length). */
static void bld_truncate(struct bld *b, uint64_t len)
{
	const struct lance_type *t = b->type;
	unsigned w = lance_type_width(t);

	/* also when len == length: children may hold a half-added value */
	if (len > b->length)
		return;
	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		b->values.len = (size_t)bld_offset(b, len);
		b->offsets.len = (size_t)(len + 1) * sizeof(uint64_t);
		break;
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		bld_truncate(&b->kids[0], bld_offset(b, len));
		b->offsets.len = (size_t)(len + 1) * sizeof(uint64_t);
		break;
	case LANCE_T_FIXED_LIST:
		bld_truncate(&b->kids[0], len * (uint64_t)t->width);
		break;
	case LANCE_T_STRUCT:
		for (size_t i = 0; i < b->n_kids; i++)
			bld_truncate(&b->kids[i], len);
		break;
	case LANCE_T_BOOL:
		b->values.len = (size_t)(len + 7) / 8;
		break;
	default:
		b->values.len = (size_t)len * w;
		break;
	}
	b->valid.len = (size_t)(len + 7) / 8;
	b->length = len;
}

static int set_bit(struct lc_buf *bm, uint64_t i, bool v, struct lc_err *err)
{
	size_t need = (size_t)(i / 8) + 1;

	while (bm->len < need) {
		uint8_t z = 0;
		int rc = lc_buf_append(bm, &z, 1, err);

		if (rc)
			return rc;
	}
	if (v)
		bm->data[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bm->data[i / 8] &= (uint8_t)~(1u << (i % 8));
	return 0;
}

/* Finish one value: its validity bit and, for offset types, the end. */
static int bld_end(struct bld *b, bool valid, uint64_t end,
		   struct lc_err *err)
{
	int rc = set_bit(&b->valid, b->length, valid, err);

	if (!rc && has_offsets(b->type->id))
		rc = lc_buf_append(&b->offsets, &end, sizeof(end), err);
	if (!rc)
		b->length++;
	return rc;
}

static int bld_fixed(struct bld *b, const void *v, bool valid,
		     struct lc_err *err)
{
	int rc = lc_buf_append(&b->values, v, lance_type_width(b->type), err);

	return rc ? rc : bld_end(b, valid, 0, err);
}

static int bld_bool(struct bld *b, bool v, bool valid, struct lc_err *err)
{
	int rc = set_bit(&b->values, b->length, v, err);

	return rc ? rc : bld_end(b, valid, 0, err);
}

static int bld_bytes(struct bld *b, const void *p, size_t n, bool valid,
		     struct lc_err *err)
{
	int rc = lc_buf_append(&b->values, p, n, err);

	return rc ? rc : bld_end(b, valid, b->values.len, err);
}

/*
 * An empty value: null when `valid` is false. Null fixed-size lists get
 * valid zero items (a page needs item validity only for null items); a null
 * struct gets null children, and in 2.0, which cannot store null
 * structs, it stays valid (`keep_struct`).
 */
static int bld_empty(struct bld *b, bool valid, bool keep_struct,
		     struct lc_err *err)
{
	const struct lance_type *t = b->type;
	int rc = 0;

	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		return bld_end(b, valid, b->values.len, err);
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		return bld_end(b, valid, b->kids[0].length, err);
	case LANCE_T_FIXED_LIST:
		for (int32_t i = 0; i < t->width && !rc; i++)
			rc = bld_empty(&b->kids[0], true, keep_struct, err);
		return rc ? rc : bld_end(b, valid, 0, err);
	case LANCE_T_STRUCT:
		for (size_t i = 0; i < b->n_kids && !rc; i++)
			rc = bld_empty(&b->kids[i], false, keep_struct, err);
		return rc ? rc : bld_end(b, valid || keep_struct, 0, err);
	case LANCE_T_BOOL:
	case LANCE_T_NULL:
		return bld_bool(b, false, valid && t->id == LANCE_T_BOOL, err);
	default:
		/* zeros of the type's width (a fixed_size_binary may be
		 * any width) */
		rc = lc_buf_reserve(&b->values, lance_type_width(t), err);
		if (rc)
			return rc;
		memset(b->values.data + b->values.len, 0, lance_type_width(t));
		b->values.len += lance_type_width(t);
		return bld_end(b, valid, 0, err);
	}
}

static bool bld_any_null(const struct bld *b)
{
	for (uint64_t i = 0; i < b->length; i++)
		if (!(b->valid.data[i / 8] >> (i % 8) & 1))
			return true;
	return false;
}

/* The builder as a lance_array (borrowed views). */
static void bld_view(struct bld *b)
{
	struct lance_array *a = &b->arr;

	memset(a, 0, sizeof(*a));
	a->type = b->type;
	a->field = b->field;
	a->length = b->length;
	a->validity = bld_any_null(b) ? b->valid.data : NULL;
	a->values = b->values.data;
	a->values_len = b->values.len;
	a->offsets = has_offsets(b->type->id) ?
		     (uint64_t *)(void *)b->offsets.data : NULL;
	for (size_t i = 0; i < b->n_kids; i++) {
		bld_view(&b->kids[i]);
		b->kid_arrs[i] = b->kids[i].arr;
	}
	a->children = b->n_kids ? b->kid_arrs : NULL;
	a->n_children = b->n_kids;
}

/* ---------------------------------------------------------------- meta.json */

/* Where a refusal happened: "ROW/FILE: column 'a.b[2]': ". */
struct where {
	const char *row;
	const char *file;
	char col[256];
	bool v20;
};

static int refuse(struct lc_err *err, const struct where *w, const char *fmt,
		  ...) LC_PRINTF(3, 4);

size_t ingest_stem_len(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && dot != name ? (size_t)(dot - name) : strlen(name);
}

/* The string `j` as a C string, or NULL where it holds a NUL (a value
 * for string columns, not for the text of a date or a number). */
static const char *c_string(const json_t *j)
{
	const char *s = json_string_value(j);

	return strlen(s) == json_string_length(j) ? s : NULL;
}

/* "ROW/FILE", or whichever of them there is (a root file is its own
 * row), for errors. */
static const char *where_at(char *buf, size_t cap, const struct where *w)
{
	if (*w->row && *w->file && strcmp(w->row, w->file))
		snprintf(buf, cap, "%s/%s", w->row, w->file);
	else
		snprintf(buf, cap, "%s", *w->row ? w->row : w->file);
	return buf;
}

static int refuse(struct lc_err *err, const struct where *w, const char *fmt,
		  ...)
{
	char why[384], at[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	where_at(at, sizeof(at), w);
	if (w->col[0])
		return LC_USAGE(err, "%s: column '%s': %s", at, w->col, why);
	return LC_USAGE(err, "%s: %s", at, why);
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		/* (no Lance type holds one: a struct has fields) */
		return json_object_size(j) ? "an object" :
		       "an empty object (write null)";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int wrong(struct lc_err *err, const struct where *w, const char *want,
		 const json_t *j)
{
	return refuse(err, w, "expected %s, found %s", want, json_kind(j));
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n decimal digits at *p into *v; advances *p. */
static bool digits(const char **p, unsigned n, int64_t *v)
{
	int64_t x = 0;

	for (unsigned i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* [+-]YYYY-MM-DD at *p: days since the epoch. */
static bool parse_date(const char **p, int64_t *days)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
					  31, 30, 31 };
	const char *s = *p;
	int64_t y, m, d;
	int sign = 1;
	unsigned yd = 4;

	if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
		yd = 0;
		while (s[yd] >= '0' && s[yd] <= '9' && yd < 7)
			yd++;
		if (yd < 4)
			return false;
	}
	if (!digits(&s, yd, &y) || *s++ != '-' || !digits(&s, 2, &m) ||
	    *s++ != '-' || !digits(&s, 2, &d))
		return false;
	y *= sign;
	if (m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && is_leap(y)))
		return false;
	*days = days_from_civil(y, (unsigned)m, (unsigned)d);
	*p = s;
	return true;
}

static int64_t unit_per_sec(enum lance_time_unit u)
{
	static const int64_t per[] = { 1, 1000, 1000000, 1000000000 };

	return per[u];
}

/* HH:MM:SS[.f] at *p: *out in `unit`; false when malformed or when the
 * fraction has non-zero digits the unit cannot hold (*lossy). */
static bool parse_time(const char **p, enum lance_time_unit unit,
		       int64_t *out, bool *lossy)
{
	const char *s = *p;
	int64_t h, m, sec, frac = 0, per = unit_per_sec(unit), scale = per;

	*lossy = false;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &m) ||
	    *s++ != ':' || !digits(&s, 2, &sec) || h > 23 || m > 59 ||
	    sec > 59)
		return false;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * scale;
			} else if (*s != '0') {
				*lossy = true;
			}
		}
	}
	*out = ((h * 60 + m) * 60 + sec) * per + frac;
	*p = s;
	return true;
}

static int conv_temporal(struct bld *b, const json_t *j, struct where *w,
			 struct lc_err *err)
{
	const struct lance_type *t = b->type;
	const char *s, *p;
	int64_t days, tod, v, per_day;
	int32_t v32;
	bool lossy;

	if (!json_is_string(j))
		return wrong(err, w, t->id == LANCE_T_TIMESTAMP ?
			     "an ISO 8601 timestamp string" :
			     t->id == LANCE_T_DATE32 || t->id == LANCE_T_DATE64
			     ? "a YYYY-MM-DD date string" :
			     "an HH:MM:SS time string", j);
	if (!(s = p = c_string(j)))
		return refuse(err, w, "a time value holding a NUL");
	switch (t->id) {
	case LANCE_T_DATE64:
		/* a day, or an instant in it (milliseconds), as shown */
		if (!parse_date(&p, &days) || (*p && *p != 'T'))
			return refuse(err, w, "'%.64s' is not a YYYY-MM-DD "
				      "date", s);
		tod = 0;
		if (*p && (p++, !parse_time(&p, LANCE_UNIT_MS, &tod, &lossy) ||
			   *p || lossy))
			return refuse(err, w, "'%.64s' is not a YYYY-MM-DD "
				      "date or YYYY-MM-DDTHH:MM:SS.mmm", s);
		if (__builtin_mul_overflow(days, 86400000, &v) ||
		    __builtin_add_overflow(v, tod, &v))
			return refuse(err, w, "date '%.64s' out of range", s);
		return bld_fixed(b, &v, true, err);
	case LANCE_T_DATE32:
		if (!parse_date(&p, &days) || *p)
			return refuse(err, w, "'%.64s' is not a YYYY-MM-DD "
				      "date", s);
		if (days < INT32_MIN || days > INT32_MAX)
			return refuse(err, w, "date '%.64s' out of range", s);
		v32 = (int32_t)days;
		return bld_fixed(b, &v32, true, err);
	case LANCE_T_TIME32:
	case LANCE_T_TIME64:
		if (!parse_time(&p, t->unit, &tod, &lossy) || *p)
			return refuse(err, w, "'%.64s' is not an HH:MM:SS[.f] "
				      "time", s);
		if (lossy)
			return refuse(err, w, "'%.64s' has more fraction "
				      "digits than the column's unit", s);
		if (t->id == LANCE_T_TIME64)
			return bld_fixed(b, &tod, true, err);
		v32 = (int32_t)tod;
		return bld_fixed(b, &v32, true, err);
	default:
		break;
	}
	/* timestamp: DATE[T ]TIME[Z] */
	if (!parse_date(&p, &days) || (*p != 'T' && *p != ' '))
		goto bad_ts;
	p++;
	if (!parse_time(&p, t->unit, &tod, &lossy))
		goto bad_ts;
	if (*p == 'Z')
		p++;
	if (*p)
		goto bad_ts;
	if (lossy)
		return refuse(err, w, "'%.64s' has more fraction digits than "
			      "the column's unit", s);
	/* before 1970 from the next midnight back, so that the first
	 * instant of int64 (1677-09-21T00:12:43.145224192 in ns) fits */
	per_day = 86400 * unit_per_sec(t->unit);
	if (days < 0) {
		days++;
		tod -= per_day;
	}
	if (__builtin_mul_overflow(days, per_day, &v) ||
	    __builtin_add_overflow(v, tod, &v))
		return refuse(err, w, "timestamp '%.64s' out of range", s);
	return bld_fixed(b, &v, true, err);
bad_ts:
	return refuse(err, w, "'%.64s' is not an ISO 8601 timestamp "
		      "(YYYY-MM-DDTHH:MM:SS[.f][Z])", s);
}

/* A decimal's magnitude: 256 bits, little-endian 64-bit words. */
struct mag256 {
	uint64_t w[4];
};

/* m = m * 10 + d: false where that needs more than 256 bits. */
static bool mag_push(struct mag256 *m, unsigned d)
{
	unsigned __int128 c = d;

	for (int i = 0; i < 4; i++) {
		c += (unsigned __int128)m->w[i] * 10;
		m->w[i] = (uint64_t)c;
		c >>= 64;
	}
	return c == 0;
}

static bool mag_less(const struct mag256 *a, const struct mag256 *b)
{
	for (int i = 3; i >= 0; i--)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i];
	return false;
}

static int conv_decimal(struct bld *b, const json_t *j, struct where *w,
			struct lc_err *err)
{
	const struct lance_type *t = b->type;
	struct mag256 mag = { { 0 } }, lim = { { 1 } };
	uint8_t out[32];
	char ibuf[32];
	const char *s, *p;
	bool neg = false, dot = false, ok = true;
	int32_t frac = 0;

	if (json_is_integer(j)) {
		snprintf(ibuf, sizeof(ibuf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(j));
		s = ibuf;
	} else if ((s = json_big_int(j))) {
		/* an integer literal past int64 */
	} else if (json_is_string(j)) {
		if (!(s = c_string(j)))
			return refuse(err, w, "a decimal holding a NUL");
	} else {
		return wrong(err, w, "a decimal string", j);
	}
	if (t->scale < 0 || t->precision > 76)
		return refuse(err, w, "decimal(%d, %d) is not supported",
			      t->precision, t->scale);
	p = s;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!(*p >= '0' && *p <= '9'))
		goto bad;
	for (; *p; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			if (!p[1])
				goto bad;
			continue;
		}
		if (*p < '0' || *p > '9')
			goto bad;
		if (dot && ++frac > t->scale) {
			if (*p != '0')
				return refuse(err, w, "'%.64s' has more than "
					      "%d fraction digits", s,
					      t->scale);
			continue;
		}
		ok = ok && mag_push(&mag, (unsigned)(*p - '0'));
	}
	for (int32_t k = frac < t->scale ? frac : t->scale; k < t->scale;
	     k++)
		ok = ok && mag_push(&mag, 0);
	for (int32_t k = 0; k < t->precision; k++)
		mag_push(&lim, 0);	/* 10^76 fits */
	if (!ok || !mag_less(&mag, &lim))
		goto range;
	/* two's complement, little-endian */
	for (unsigned k = 0, carry = neg; k < sizeof(out); k++) {
		unsigned x = (uint8_t)(mag.w[k / 8] >> (8 * (k % 8)));

		x = (neg ? (~x & 0xff) : x) + carry;
		out[k] = (uint8_t)x;
		carry = x >> 8;
	}
	return bld_fixed(b, out, true, err);
range:
	return refuse(err, w, "'%.64s' does not fit decimal(%d, %d)", s,
		      t->precision, t->scale);
bad:
	return refuse(err, w, "'%.64s' is not a decimal number", s);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int conv_hex(struct bld *b, const json_t *j, struct where *w,
		    struct lc_err *err)
{
	const char *s;
	size_t n;
	uint8_t *buf;
	int rc;

	if (!json_is_string(j))
		return wrong(err, w, "a lowercase hex string", j);
	s = json_string_value(j);
	n = json_string_length(j);
	if (n % 2)
		return refuse(err, w, "hex string of odd length %zu", n);
	if (b->type->id == LANCE_T_FIXED_BINARY &&
	    n / 2 != (size_t)b->type->width)
		return refuse(err, w, "%zu bytes of hex, the column holds %d",
			      n / 2, b->type->width);
	buf = lc_malloc(n / 2 + 1);
	if (!buf)
		return LC_NOMEM(err);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			lc_free(buf);
			return refuse(err, w, "not a lowercase hex string "
				      "(byte %zu)", 2 * i + (hi >= 0));
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	if (b->type->id == LANCE_T_FIXED_BINARY)
		rc = bld_fixed(b, buf, true, err);
	else
		rc = bld_bytes(b, buf, n / 2, true, err);
	lc_free(buf);
	return rc;
}

/* A JSON column's value: encoded straight into the column's bytes. */
static int conv_jsonb(struct bld *b, const json_t *j, struct where *w,
		      struct lc_err *err)
{
	struct lc_err why = { 0 };
	int rc = jsonb_from_json(&b->values, j, &why);

	if (rc == EINVAL)	/* JSONB cannot hold it: the row is refused */
		return refuse(err, w, "%s", why.msg);
	if (rc)
		return lc_err_set(err, rc, why.kind, why.file, why.line, "%s",
				  why.msg);
	return bld_end(b, true, b->values.len, err);
}

static int conv_json(struct bld *b, const json_t *j, struct where *w,
		     unsigned depth, struct lc_err *err);

/* Types a JSON number sets. */
static bool is_number_type(const struct lance_type *t)
{
	switch (t->id) {
	case LANCE_T_INT8: case LANCE_T_UINT8: case LANCE_T_INT16:
	case LANCE_T_UINT16: case LANCE_T_INT32: case LANCE_T_UINT32:
	case LANCE_T_INT64: case LANCE_T_UINT64: case LANCE_T_FLOAT16:
	case LANCE_T_FLOAT32: case LANCE_T_FLOAT64: case LANCE_T_DURATION:
	case LANCE_T_DECIMAL128: case LANCE_T_DECIMAL256:
		return true;
	default:
		return false;
	}
}

static int conv_int(struct bld *b, const json_t *j, struct where *w,
		    struct lc_err *err)
{
	static const struct {
		int64_t lo;
		uint64_t hi;
		unsigned w;
	} r[] = {
		[LANCE_T_INT8] = { INT8_MIN, INT8_MAX, 1 },
		[LANCE_T_UINT8] = { 0, UINT8_MAX, 1 },
		[LANCE_T_INT16] = { INT16_MIN, INT16_MAX, 2 },
		[LANCE_T_UINT16] = { 0, UINT16_MAX, 2 },
		[LANCE_T_INT32] = { INT32_MIN, INT32_MAX, 4 },
		[LANCE_T_UINT32] = { 0, UINT32_MAX, 4 },
		[LANCE_T_INT64] = { INT64_MIN, INT64_MAX, 8 },
		[LANCE_T_UINT64] = { 0, UINT64_MAX, 8 },
	};
	enum lance_type_id id = b->type->id;
	const char *big = json_big_int(j);
	json_int_t v;
	uint8_t out[8];

	if (big && id == LANCE_T_UINT64 && *big != '-') {
		unsigned long long u;

		errno = 0;
		u = strtoull(big, NULL, 10);
		if (!errno)
			return bld_fixed(b, (uint8_t[8]){
				(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16),
				(uint8_t)(u >> 24), (uint8_t)(u >> 32),
				(uint8_t)(u >> 40), (uint8_t)(u >> 48),
				(uint8_t)(u >> 56) }, true, err);
	}
	if (big)
		return refuse(err, w, "%.64s is out of range for %s", big,
			      b->field ? b->field->logical_type :
			      "the item type");
	if (!json_is_integer(j))
		return wrong(err, w, "an integer", j);
	v = json_integer_value(j);
	if (v < r[id].lo || (v > 0 && (uint64_t)v > r[id].hi))
		return refuse(err, w, "%" JSON_INTEGER_FORMAT " is out of "
			      "range for %s", v, b->field ?
			      b->field->logical_type : "the item type");
	for (unsigned k = 0; k < r[id].w; k++)
		out[k] = (uint8_t)((uint64_t)v >> (8 * k));
	return bld_fixed(b, out, true, err);
}

/* A float's value: a JSON number (or one past int64), or a NaN or an
 * infinity as the daemon's own copy of a committed row holds them
 * (render_exact). False where `j` is neither. */
static bool float_of(const json_t *j, double *d)
{
	const char *s;
	size_t n;

	if (json_is_number(j)) {
		*d = json_number_value(j);
		return true;
	}
	if (json_big_int(j)) {
		*d = strtod(json_big_int(j), NULL);
		return true;
	}
	if (!json_is_string(j) || (n = json_string_length(j)) <=
	    RENDER_FLOAT_MARK_LEN)
		return false;
	s = json_string_value(j);
	if (memcmp(s, RENDER_FLOAT_MARK, RENDER_FLOAT_MARK_LEN) ||
	    strlen(s + RENDER_FLOAT_MARK_LEN) != n - RENDER_FLOAT_MARK_LEN)
		return false;
	s += RENDER_FLOAT_MARK_LEN;
	*d = !strcmp(s, "NaN") ? NAN : !strcmp(s, "Infinity") ? INFINITY :
	     !strcmp(s, "-Infinity") ? -INFINITY : 0;
	return *d != 0;
}

static int conv_float(struct bld *b, const json_t *j, struct where *w,
		      struct lc_err *err)
{
	double d;
	float f;
	uint16_t h;

	if (!float_of(j, &d))
		return wrong(err, w, "a number", j);
	switch (b->type->id) {
	case LANCE_T_FLOAT64:
		return bld_fixed(b, &d, true, err);
	case LANCE_T_FLOAT32:
		/* what rounds to FLT_MAX is in range (the view renders it
		 * 3.4028235e+38, above it): from halfway to the next power
		 * of two on, a float would be infinite; halffloat likewise */
		if (isfinite(d) && fabs(d) >= 0x1.ffffffp+127)
			return refuse(err, w, "%g is out of range for float",
				      d);
		f = (float)d;
		return bld_fixed(b, &f, true, err);
	default:
		if (isfinite(d) && fabs(d) >= 65520.0)
			return refuse(err, w, "%g is out of range for "
				      "halffloat", d);
		h = render_to_half(d);
		return bld_fixed(b, &h, true, err);
	}
}

/* An item of a bfloat16 vector (fixed_size_binary(2) underneath). */
static int conv_bf16(struct bld *b, const json_t *j, struct where *w,
		     struct lc_err *err)
{
	uint16_t h;
	double d;

	if (!float_of(j, &d))
		return wrong(err, w, "a number", j);
	h = render_to_bf16(d);
	if ((h & 0x7fff) == 0x7f80 && isfinite(d))
		return refuse(err, w, "%g is out of range for bfloat16", d);
	return bld_fixed(b, (uint8_t[2]){ (uint8_t)h, (uint8_t)(h >> 8) },
			 true, err);
}

static int conv_list(struct bld *b, const json_t *j, struct where *w,
		     unsigned depth, struct lc_err *err)
{
	const struct lance_type *t = b->type;
	size_t n, base = strlen(w->col);
	int rc = 0;

	if (!json_is_array(j))
		return wrong(err, w, "an array", j);
	n = json_array_size(j);
	if (t->id == LANCE_T_FIXED_LIST && n != (size_t)t->width)
		return refuse(err, w, "an array of %zu items, the column "
			      "holds exactly %d", n, t->width);
	for (size_t i = 0; i < n && !rc; i++) {
		const json_t *it = json_array_get(j, i);

		snprintf(w->col + base, sizeof(w->col) - base, "[%zu]", i);
		if (t->bfloat16 && json_is_null(it))
			rc = refuse(err, w, "bfloat16 vectors hold no nulls");
		else if (t->bfloat16)
			rc = conv_bf16(&b->kids[0], it, w, err);
		else
			rc = conv_json(&b->kids[0], it, w, depth + 1, err);
	}
	w->col[base] = 0;
	if (rc)
		return rc;
	return bld_end(b, true, b->kids[0].length, err);
}

/* The key child i of struct b has in meta.json: its name, or for a
 * map's entries "key" and "value", as the view shows them whatever their
 * names. */
static const char *kid_key(const struct bld *b, size_t i)
{
	const struct lance_field *p = b->field ? b->field->parent : NULL;

	if (p && p->type.id == LANCE_T_MAP && i < 2)
		return i ? "value" : "key";
	return b->kids[i].field->name;
}

static int conv_struct(struct bld *b, const json_t *j, struct where *w,
		       unsigned depth, struct lc_err *err)
{
	size_t base = strlen(w->col);
	const char *key;
	json_t *v;
	int rc = 0;

	if (!json_is_object(j))
		return wrong(err, w, "an object", j);
	json_object_foreach((json_t *)j, key, v) {
		bool known = false;

		for (size_t i = 0; i < b->n_kids; i++)
			known |= !strcmp(kid_key(b, i), key);
		if (!known)
			return refuse(err, w, "no field '%.64s' in the struct",
				      key);
	}
	for (size_t i = 0; i < b->n_kids && !rc; i++) {
		const struct lance_field *f = b->kids[i].field;

		snprintf(w->col + base, sizeof(w->col) - base, ".%s",
			 kid_key(b, i));
		v = json_object_get(j, kid_key(b, i));
		if (!v && !f->nullable)
			rc = refuse(err, w, "missing, and it is not "
				    "nullable");
		else
			rc = conv_json(&b->kids[i], v ? v : json_null(), w,
				       depth + 1, err);
	}
	w->col[base] = 0;
	return rc ? rc : bld_end(b, true, 0, err);
}

/* The first field a null struct `f` holds that cannot be null, where
 * a null struct is kept as its fields, all null (2.0): NULL for none. */
static const char *kept_required(const struct lance_field *f)
{
	for (size_t i = 0; i < f->n_children; i++) {
		const struct lance_field *c = f->children[i];
		const char *r;

		if (lance_array_type(c)->id == LANCE_T_STRUCT) {
			if ((r = kept_required(c)))
				return r;
		} else if (!c->nullable) {
			return c->name;
		}
	}
	return NULL;
}

/* Append a null to `b`, or refuse it (where, by `w`). */
static int conv_null(struct bld *b, struct where *w, struct lc_err *err)
{
	const char *req;

	if (b->field && !b->field->nullable)
		return refuse(err, w, "null, and it is not nullable");
	if (w->v20 && b->field && b->type->id == LANCE_T_STRUCT &&
	    (req = kept_required(b->field)))
		return refuse(err, w, "null, but Lance file version 2.0 "
			      "keeps a null struct as its fields, and its "
			      "field '%s' is not nullable", req);
	return bld_empty(b, false, w->v20, err);
}

/* Append JSON value `j` to `b` by the meta.json rules. */
static int conv_json(struct bld *b, const json_t *j, struct where *w,
		     unsigned depth, struct lc_err *err)
{
	const struct lance_type *t = b->type;

	if (depth > INGEST_MAX_DEPTH)
		return refuse(err, w, "nested deeper than %d",
			      INGEST_MAX_DEPTH);
	if (json_is_null(j))
		return conv_null(b, w, err);
	/* an integer literal past int64 (json_load_big): numbers only */
	if (json_big_int(j) && !is_number_type(t) && !t->json)
		return refuse(err, w, "expected %s, found the integer %.64s",
			      t->id == LANCE_T_UTF8 ? "a string" :
			      "a value of the column's type", json_big_int(j));
	switch (t->id) {
	case LANCE_T_NULL:
		return wrong(err, w, "null", j);
	case LANCE_T_BOOL:
		if (!json_is_boolean(j))
			return wrong(err, w, "true or false", j);
		return bld_bool(b, json_is_true(j), true, err);
	case LANCE_T_INT8:
	case LANCE_T_UINT8:
	case LANCE_T_INT16:
	case LANCE_T_UINT16:
	case LANCE_T_INT32:
	case LANCE_T_UINT32:
	case LANCE_T_INT64:
	case LANCE_T_UINT64:
		return conv_int(b, j, w, err);
	case LANCE_T_DURATION:
		if (json_big_int(j))
			return refuse(err, w, "%.64s is out of range for %s",
				      json_big_int(j), "a duration");
		if (!json_is_integer(j))
			return wrong(err, w, "an integer", j);
		return bld_fixed(b, &(int64_t){ json_integer_value(j) }, true,
				 err);
	case LANCE_T_FLOAT16:
	case LANCE_T_FLOAT32:
	case LANCE_T_FLOAT64:
		return conv_float(b, j, w, err);
	case LANCE_T_UTF8:
		if (!json_is_string(j))
			return wrong(err, w, "a string", j);
		return bld_bytes(b, json_string_value(j),
				 json_string_length(j), true, err);
	case LANCE_T_BINARY:
		if (t->json)
			return conv_jsonb(b, j, w, err);
		return conv_hex(b, j, w, err);
	case LANCE_T_FIXED_BINARY:
		return conv_hex(b, j, w, err);
	case LANCE_T_DATE32:
	case LANCE_T_DATE64:
	case LANCE_T_TIME32:
	case LANCE_T_TIME64:
	case LANCE_T_TIMESTAMP:
		return conv_temporal(b, j, w, err);
	case LANCE_T_DECIMAL128:
	case LANCE_T_DECIMAL256:
		return conv_decimal(b, j, w, err);
	case LANCE_T_LIST:
	case LANCE_T_FIXED_LIST:
	case LANCE_T_MAP:	/* [{"key": K, "value": V}, ...], as shown */
		return conv_list(b, j, w, depth, err);
	case LANCE_T_STRUCT:
		return conv_struct(b, j, w, depth, err);
	}
	return refuse(err, w, "a column of type %s", b->field ?
		      b->field->logical_type : "?");
}

/* ---------------------------------------------------------------- assembly */

/*
 * The distinct values of a dictionary column (at any depth) in the rows
 * taken since the builders were last emptied, that is in the data file
 * being built: LanceDB reads none whose column holds more than its keys
 * index (lance_dict_capacity), one key kept for a null item.
 */
struct dseen {
	struct bld *b;		/* the column's values */
	const char *column;	/* the top-level field holding it */
	uint64_t cap;		/* distinct values a file may hold */
	uint64_t counted;	/* b's values in the set */
	uint64_t before;	/* counted before the last row taken */
	uint64_t n;		/* distinct values in it */
	uint64_t *slot;		/* 1 + the index in b of each; 0: empty */
	uint64_t n_slot;	/* a power of two, over twice n */
};

struct ingest_rows {
	const struct lance_schema *schema;
	char *name_column;
	char *file_column;
	bool v20;
	bool validate_images;
	struct bld *cols;		/* one per top-level field */
	struct lance_array *arrs;
	struct lc_buf text;		/* a row's meta.json */
	uint64_t n_rows;
	struct dseen *dicts;
	size_t n_dicts;
};

/* Value i of b (not null) as bytes: *len of them. */
static const uint8_t *bld_value(const struct bld *b, uint64_t i,
				uint64_t *len)
{
	static const uint8_t no_yes[2] = { 0, 1 };
	unsigned w;

	switch (b->type->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		*len = bld_offset(b, i + 1) - bld_offset(b, i);
		return b->values.data + bld_offset(b, i);
	case LANCE_T_BOOL:
		*len = 1;
		return &no_yes[(b->values.data[i / 8] >> (i % 8)) & 1];
	default:
		w = lance_type_width(b->type);
		*len = w;
		return b->values.data + i * w;
	}
}

/* Put value i of d's column in the set (where no equal value is). */
static void dseen_put(struct dseen *d, uint64_t i)
{
	uint64_t len, olen, h;
	const uint8_t *p = bld_value(d->b, i, &len);

	for (h = lc_hash_bytes(p, len);; h++) {
		uint64_t *s = &d->slot[h & (d->n_slot - 1)];
		const uint8_t *o;

		if (!*s) {
			*s = i + 1;
			d->n++;
			return;
		}
		o = bld_value(d->b, *s - 1, &olen);
		if (olen == len && !memcmp(o, p, (size_t)len))
			return;
	}
}

/* The set of values [0, upto) of the column, in n_slot slots. */
static int dseen_fill(struct dseen *d, uint64_t upto, uint64_t n_slot,
		      struct lc_err *err)
{
	if (n_slot != d->n_slot) {
		uint64_t *s = lc_realloc(d->slot, (size_t)n_slot *
						      sizeof(*s));

		if (!s)
			return LC_NOMEM(err);
		d->slot = s;
		d->n_slot = n_slot;
	}
	if (n_slot)
		memset(d->slot, 0, (size_t)n_slot * sizeof(*d->slot));
	d->n = 0;
	for (uint64_t i = 0; i < upto; i++)
		if (d->b->valid.data[i / 8] >> (i % 8) & 1)
			dseen_put(d, i);
	d->counted = upto;
	return 0;
}

/* Take the values the row just added to d's column into the set: 0, or
 * INGEST_FULL (the set as it was) where they would make more than the
 * file may hold. d->before keeps where it stood, for undoing the take
 * when another column of the row is full. */
static int dseen_take(struct dseen *d, struct lc_err *err)
{
	uint64_t end = d->b->length;
	int rc = 0;

	d->before = d->counted;
	for (uint64_t i = d->counted; i < end && !rc; i++) {
		if (!(d->b->valid.data[i / 8] >> (i % 8) & 1))
			continue;
		if (4 * (d->n + 1) > d->n_slot)
			rc = dseen_fill(d, i, d->n_slot ? 2 * d->n_slot : 64,
					err);
		if (!rc)
			dseen_put(d, i);
		if (!rc && d->n > d->cap)
			rc = INGEST_FULL;
	}
	if (rc) {	/* as it was (growing moved `counted` on) */
		(void)dseen_fill(d, d->before, d->n_slot, NULL);
		return rc;
	}
	d->counted = end;
	return 0;
}

/* Register the dictionary columns under b. */
static int dseen_find(struct ingest_rows *r, struct bld *b,
		      const char *column, struct lc_err *err)
{
	uint64_t cap = b->field && b->field->type.dict ?
			       lance_dict_capacity(b->field->type.dict_index) :
			       0;
	int rc = 0;

	if (cap > 1) {
		struct dseen *v = lc_realloc(r->dicts, (r->n_dicts + 1) *
							       sizeof(*v));

		if (!v)
			return LC_NOMEM(err);
		r->dicts = v;
		memset(&v[r->n_dicts], 0, sizeof(*v));
		v[r->n_dicts].b = b;
		v[r->n_dicts].column = column;
		v[r->n_dicts++].cap = cap - 1;
	}
	for (size_t i = 0; i < b->n_kids && !rc; i++)
		rc = dseen_find(r, &b->kids[i], column, err);
	return rc;
}

int ingest_rows_new(struct ingest_rows **out,
		    const struct lance_schema *schema,
		    const struct ingest_opts *opts, bool v20,
		    struct lc_err *err)
{
	struct ingest_rows *r = lc_calloc(1, sizeof(*r));
	int rc = 0;

	*out = NULL;
	if (!r)
		return LC_NOMEM(err);
	r->schema = schema;
	r->v20 = v20;
	r->validate_images = opts && opts->validate_images;
	r->cols = lc_calloc(schema->n_top, sizeof(*r->cols));
	r->arrs = lc_calloc(schema->n_top, sizeof(*r->arrs));
	lc_buf_init(&r->text, 0);
	if (opts && opts->name_column)
		r->name_column = lc_strdup(opts->name_column);
	if (opts && opts->file_column)
		r->file_column = lc_strdup(opts->file_column);
	if (!r->cols || !r->arrs ||
	    (opts && opts->name_column && !r->name_column) ||
	    (opts && opts->file_column && !r->file_column)) {
		ingest_rows_free(r);
		return LC_NOMEM(err);
	}
	for (size_t i = 0; i < schema->n_top && !rc; i++)
		rc = bld_init(&r->cols[i], schema->top[i],
			      lance_array_type(schema->top[i]), 0, err);
	for (size_t i = 0; i < schema->n_top && !rc; i++)
		rc = dseen_find(r, &r->cols[i], schema->top[i]->name, err);
	if (rc) {
		ingest_rows_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void ingest_rows_free(struct ingest_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->cols && i < r->schema->n_top; i++)
		bld_reset(&r->cols[i]);
	lc_free(r->cols);
	lc_buf_reset(&r->text);
	lc_free(r->arrs);
	lc_free(r->name_column);
	lc_free(r->file_column);
	for (size_t i = 0; i < r->n_dicts; i++)
		lc_free(r->dicts[i].slot);
	lc_free(r->dicts);
	lc_free(r);
}

uint64_t ingest_rows_count(const struct ingest_rows *r)
{
	return r->n_rows;
}

int ingest_rows_arrays(const struct lance_array **out, struct ingest_rows *r,
		       struct lc_err *err)
{
	(void)err;
	for (size_t i = 0; i < r->schema->n_top; i++) {
		bld_view(&r->cols[i]);
		r->arrs[i] = r->cols[i].arr;
	}
	*out = r->arrs;
	return 0;
}

bool ingest_hidden(const char *name)
{
	return name[0] == '.' || !strcmp(name, "Thumbs.db");
}

bool ingest_ignored(const char *name)
{
	size_t n = strlen(name);

	/* hidden files (.DS_Store, ._*, swap files), Windows' thumbnails,
	 * editors' backups (meta.json~: Emacs, vim, sed -i~) and Emacs's
	 * auto-saves (#meta.json#) */
	return ingest_hidden(name) || (n && name[n - 1] == '~') ||
	       (n > 1 && name[0] == '#' && name[n - 1] == '#');
}

static bool utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (k > n - i - 1)
			goto bad;
		for (size_t m = 1; m <= k; m++) {
			if ((s[i + m] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i + m] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		    || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			goto bad;
		i += k + 1;
	}
	return true;
bad:
	*bad = i;
	return false;
}

/* A file bigger than one value may be (INGEST_MAX_FILE) refuses its row,
 * from its size, before any of it is read. */
static int too_big(struct lc_err *err, const struct where *w)
{
	return refuse(err, w, "larger than %llu bytes, the most one value "
		      "holds", INGEST_MAX_FILE);
}

/* Room for `extra` more bytes in `out`, for the file being read. */
static int reserve(struct lc_buf *out, size_t extra, const struct where *w,
		   struct lc_err *err)
{
	int rc = lc_buf_reserve(out, extra, err);

	if (rc)
		lc_err_prefix(err, "%s/%s: ", w->row, w->file);
	return rc;
}

/* Append the file `name` in folder `dfd` (or AT_FDCWD) to `out`: a
 * column's values, where it is the row's value (append_row ends it; a
 * refused row's is cut off), or meta.json's text. */
static int read_into(struct lc_buf *out, int dfd, const char *name,
		     off_t size, const struct where *w, struct lc_err *err)
{
	size_t start = out->len;
	struct stat sb;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LC_SYS(err, errno, "%s/%s: %s", w->row, w->file,
			      strerror(errno));
	/* room for the whole file and the read that finds its end: one
	 * allocation, no copy as the buffer grows (`size`: the listing's
	 * stat, or -1) */
	if (size < 0 && !fstat(fd, &sb))
		size = sb.st_size;
	if (size > 0 && (uint64_t)size > INGEST_MAX_FILE)
		rc = too_big(err, w);
	else if (size > 0)
		rc = reserve(out, (size_t)size + 1, w, err);
	while (!rc) {
		size_t room = out->cap > out->len + 1 ?
				      out->cap - out->len - 1 : 0;
		ssize_t n;

		if (!room) {
			rc = reserve(out, 65536, w, err);
			if (rc)
				break;
			room = out->cap - out->len - 1;
		}
		n = read(fd, out->data + out->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = LC_SYS(err, errno, "%s/%s: %s", w->row, w->file,
				    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len - start > INGEST_MAX_FILE)
			rc = too_big(err, w);	/* it grew */
	}
	close(fd);
	if (rc)
		out->len = start;
	return rc;
}

/* What sets each top-level column of the row being assembled. */
struct slot {
	char *file;		/* file name that set it, or "meta.json" */
	bool from_file;		/* its bytes are at the end of the column's
				 * values (from `start`), the row's value
				 * not yet ended */
	size_t start;
	json_t *json;		/* borrowed from the row's meta.json; with
				 * from_file, the same string (the view
				 * shows a text_files= column both ways) */
};

struct row {
	struct ingest_rows *r;
	struct slot *slots;
	json_t *meta;
	struct where w;
};

static void row_reset(struct row *row)
{
	for (size_t i = 0; row->slots && i < row->r->schema->n_top; i++)
		lc_free(row->slots[i].file);
	lc_free(row->slots);
	json_decref(row->meta);
}

/* Why `name` (n bytes) cannot name a top-level Lance column, or NULL:
 * Lance takes a dot there for a path into a struct, and a table whose
 * schema has one cannot be read by LanceDB. */
static const char *bad_column_name(const char *name, size_t n)
{
	if (!n)
		return "an empty name is no column name";
	if (memchr(name, '.', n))
		return "Lance column names hold no '.' (rename the file "
		       "or key)";
	return NULL;
}

static int no_column(struct lc_err *err, struct where *w, const char *name,
		     size_t n)
{
	const char *why = bad_column_name(name, n);

	return refuse(err, w, "no column named '%.*s'%s%s",
		      (int)(n > 128 ? 128 : n), name, why ? ": " : "",
		      why ? why : "");
}

static ssize_t top_index(const struct lance_schema *s, const char *name,
			 size_t n)
{
	for (size_t i = 0; i < s->n_top; i++)
		if (strlen(s->top[i]->name) == n &&
		    !memcmp(s->top[i]->name, name, n))
			return (ssize_t)i;
	return -1;
}

/* The column a row file's stem names: as it is, or as the view shows
 * it (a column "a/b" as a%2Fb.jpg, ".c" as %2Ec.txt, a long name cut). */
static ssize_t file_column(const struct lance_schema *s, const char *stem,
			   size_t n)
{
	ssize_t col = top_index(s, stem, n);

	for (size_t i = 0; col < 0 && i < s->n_top; i++) {
		char *e = render_column_stem(s->top[i]->name);

		if (e && strlen(e) == n && !memcmp(e, stem, n))
			col = (ssize_t)i;
		lc_free(e);
	}
	return col;
}

static int set_slot(struct row *row, size_t col, const char *file,
		    struct lc_err *err)
{
	struct slot *sl = &row->slots[col];
	bool json = !strcmp(file, "meta.json");

	if (sl->file && row->r->schema->top[col]->type.id == LANCE_T_UTF8 &&
	    json != !strcmp(sl->file, "meta.json")) {
		/* COL.txt and meta.json: they must agree (row_end) */
		if (json)
			return 0;
		lc_free(sl->file);
		sl->file = NULL;
	}
	if (sl->file)
		return refuse(err, &row->w, "column '%s' is set by both %s "
			      "and %s", row->r->schema->top[col]->name,
			      sl->file, file);
	sl->file = lc_strdup(file);
	return sl->file ? 0 : LC_NOMEM(err);
}

/* A column set from a file; a JSON column is set in meta.json. */
static bool is_binary(const struct lance_field *f)
{
	return (f->type.id == LANCE_T_BINARY && !f->type.json) ||
	       f->blob != LANCE_BLOB_NONE;
}

/* A file of the row, `at` in folder `dfd` (or AT_FDCWD), of `size`
 * bytes (-1: not known): <column>.<ext> or <column>.txt, `file` ("" for a
 * root-level file, which goes to column `col`). */
static int add_file(struct row *row, int dfd, const char *at,
		    const char *file, ssize_t col, off_t size,
		    struct lc_err *err)
{
	const struct lance_schema *s = row->r->schema;
	const char *dot = strrchr(file, '.');
	struct lc_buf *vals;
	size_t bad, start;
	int rc;

	if (*file)
		row->w.file = file;
	if (col < 0) {
		size_t n = dot && dot != file ? (size_t)(dot - file) :
			   strlen(file);

		col = file_column(s, file, n);
		if (col < 0)
			return no_column(err, &row->w, file, n);
		if (s->top[col]->type.id == LANCE_T_UTF8 &&
		    (!dot || strcmp(dot, ".txt")))
			return refuse(err, &row->w, "column '%s' is a string:"
				      " only %s.txt sets it",
				      s->top[col]->name, s->top[col]->name);
		if (s->top[col]->type.id != LANCE_T_UTF8 &&
		    !is_binary(s->top[col]))
			return refuse(err, &row->w, "column '%s' is %s: set it"
				      " in meta.json", s->top[col]->name,
				      s->top[col]->logical_type);
	}
	rc = set_slot(row, (size_t)col, file, err);
	if (rc)
		return rc;
	row->slots[col].from_file = true;
	/* straight into the column: no copy of the file on the way */
	vals = &row->r->cols[col].values;
	start = vals->len;
	row->slots[col].start = start;
	rc = read_into(vals, dfd, at, size, &row->w, err);
	if (rc)
		return rc;
	if (s->top[col]->type.id == LANCE_T_UTF8 &&
	    !utf8_valid(vals->data + start, vals->len - start, &bad))
		return refuse(err, &row->w, "not valid UTF-8 (byte %zu)",
			      bad);
	if (row->r->validate_images && is_binary(s->top[col])) {
		/* w.file: the file's name, also for a root-level file */
		const char *ext = strrchr(row->w.file, '.');

		rc = imgcheck(vals->data + start, vals->len - start,
			      ext ? ext + 1 : NULL, err);
		if (rc) {
			char here[600];

			lc_err_prefix(err, "%s: ",
				      where_at(here, sizeof(here), &row->w));
		}
		return rc;
	}
	return 0;
}

static int add_meta(struct row *row, int dfd, const char *at, off_t size,
		    struct lc_err *err)
{
	const struct lance_schema *s = row->r->schema;
	struct lc_buf *text = &row->r->text;
	json_error_t je;
	const char *key, *data;
	size_t len, k;
	json_t *v;
	int rc;

	row->w.file = "meta.json";
	text->len = 0;
	rc = read_into(text, dfd, at, size, &row->w, err);
	if (rc)
		return rc;
	data = (const char *)text->data;
	len = text->len;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3)) {
		data += 3;	/* a byte order mark (Windows' editors) */
		len -= 3;
	}
	for (k = 0; k < len && strchr(" \t\r\n", data[k]); k++)
		;
	if (k == len)
		return refuse(err, &row->w, "empty: expected one JSON object");
	/* a NUL in a string is a value (the view writes it \u0000) */
	row->meta = json_load_big(data, len,
				  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!row->meta)
		return refuse(err, &row->w, "bad JSON at line %d column %d: "
			      "%.200s%s", je.line, je.column, je.text,
			      strstr(je.text, "NaN") ||
					      strstr(je.text, "Infinity") ?
				      " (not JSON: write null)" : "");
	if (!json_is_object(row->meta))
		return refuse(err, &row->w, "expected one JSON object, found "
			      "%s", json_kind(row->meta));
	json_object_foreach(row->meta, key, v) {
		ssize_t col = top_index(s, key, strlen(key));

		/* null for a column the dataset lacks: nothing to set (a
		 * row shown before another writer dropped the column) */
		if (col < 0 && json_is_null(v) &&
		    !bad_column_name(key, strlen(key)))
			continue;
		if (col < 0)
			return no_column(err, &row->w, key, strlen(key));
		if (is_binary(s->top[col]))
			return refuse(err, &row->w, "column '%s' is binary: "
				      "it comes from a file %s.<ext>", key,
				      key);
		rc = set_slot(row, (size_t)col, "meta.json", err);
		if (rc)
			return rc;
		row->slots[col].json = v;
	}
	return 0;
}

/* An entry of a row folder: its name and d_type (DT_UNKNOWN where the
 * file system does not say). */
struct dent {
	char *name;
	unsigned char type;
	off_t size;		/* -1: not known */
};

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

static void free_list(struct dent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lc_free(v[i].name);
	lc_free(v);
}

/* The entries of folder `dfd`, sorted, junk and the staging's spare
 * files left out (a stat of each file tells; its size is kept), but
 * STAGING_META_FILL with `fill`. `dir` names the folder in errors. */
static int list_dir(struct dent **out, size_t *n, int dfd, const char *dir,
		    bool fill, struct lc_err *err)
{
	int fd = dfd < 0 ? -1 : dup(dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct dent *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		rc = LC_SYS(err, errno, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		struct stat sb;
		bool known;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (ingest_ignored(de->d_name) &&
		     !(fill && !strcmp(de->d_name, STAGING_META_FILL))))
			continue;
		known = (de->d_type == DT_REG || de->d_type == DT_UNKNOWN) &&
			!fstatat(dirfd(d), de->d_name, &sb,
				 AT_SYMLINK_NOFOLLOW);
		if (known && staging_is_spare(&sb))
			continue;
		if (cnt == cap) {
			struct dent *nv;

			cap = cap ? cap * 2 : 16;
			nv = lc_realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = LC_NOMEM(err);
				break;
			}
			v = nv;
		}
		v[cnt].name = lc_strdup(de->d_name);
		v[cnt].type = known && S_ISREG(sb.st_mode) ? DT_REG :
							       de->d_type;
		v[cnt].size = known ? sb.st_size : -1;
		if (!v[cnt].name) {
			rc = LC_NOMEM(err);
			break;
		}
		cnt++;
	}
	closedir(d);
	if (rc) {
		free_list(v, cnt);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_dent);
	*out = v;
	*n = cnt;
	return 0;
}

/* Whether entry `name` of folder `dfd` is a regular file (d_type, else
 * an lstat). */
static int is_regular(bool *yes, int dfd, const char *name,
		      unsigned char type, const struct where *w,
		      struct lc_err *err)
{
	struct stat sb;

	if (type != DT_UNKNOWN) {
		*yes = type == DT_REG;
		return 0;
	}
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return LC_SYS(err, errno, "%s/%s: %s", w->row, name,
			      strerror(errno));
	*yes = S_ISREG(sb.st_mode);
	return 0;
}

/* The folder's files into slots. */
static int gather_dir(struct row *row, const char *dir, struct lc_err *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dent *ents = NULL;
	size_t n = 0;
	int rc = list_dir(&ents, &n, dfd, dir, true, err);
	bool filled = false;

	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = ents[i].name;
		bool reg = false;

		/* an update's meta.json as its commit made it: sorted
		 * before meta.json, which it stands for */
		if (!strcmp(name, STAGING_META_FILL)) {
			filled = true;
			rc = add_meta(row, dfd, name, ents[i].size, err);
			continue;
		}

		row->w.file = name;
		rc = is_regular(&reg, dfd, name, ents[i].type, &row->w, err);
		if (rc)
			break;
		if (!reg)
			rc = refuse(err, &row->w, "only regular files go in "
				    "a row folder");
		else if (!strcmp(name, "meta.json"))
			rc = filled ? 0 : add_meta(row, dfd, name,
						   ents[i].size, err);
		else
			rc = add_file(row, dfd, name, name, -1, ents[i].size,
				      err);
	}
	/* file names are freed below: keep a copy where a slot needs one */
	free_list(ents, n);
	if (dfd >= 0)
		close(dfd);
	row->w.file = "";
	return rc;
}

/* The column a root-level file fills. */
static int file_target(ssize_t *col, const struct ingest_rows *r,
		       const struct where *w, struct lc_err *err)
{
	const struct lance_schema *s = r->schema;

	*col = -1;
	if (r->file_column) {
		*col = top_index(s, r->file_column, strlen(r->file_column));
		if (*col < 0 || !is_binary(s->top[*col]))
			return refuse(err, w, "file column '%s' is not a "
				      "binary column", r->file_column);
		return 0;
	}
	for (size_t i = 0; i < s->n_top; i++) {
		if (!is_binary(s->top[i]))
			continue;
		if (*col >= 0)
			return refuse(err, w, "the dataset has more than one "
				      "binary column (set file_column=)");
		*col = (ssize_t)i;
	}
	if (*col < 0)
		return refuse(err, w, "the dataset has no binary column");
	return 0;
}

/* Fill the name column from the row's name, unless set already. */
static int fill_name(struct row *row, const char *name, struct lc_err *err)
{
	const struct ingest_rows *r = row->r;
	const struct lance_field *f;
	struct slot *sl;
	ssize_t col;
	size_t bad;
	int rc;

	if (!r->name_column || !r->name_column[0])
		return 0;
	col = top_index(r->schema, r->name_column, strlen(r->name_column));
	if (col < 0 || row->slots[col].file)
		return 0;
	f = r->schema->top[col];
	sl = &row->slots[col];
	sl->file = lc_strdup("the row name");
	if (!sl->file)
		return LC_NOMEM(err);
	sl->from_file = true;
	if (f->type.id == LANCE_T_UTF8 &&
	    !utf8_valid((const uint8_t *)name, strlen(name), &bad)) {
		row->w.file = "";
		return refuse(err, &row->w, "the row name is not valid UTF-8 "
			      "(byte %zu)", bad);
	}
	if (f->type.id == LANCE_T_UTF8 ||
	    (f->type.id == LANCE_T_BINARY && !f->type.json)) {
		/* the value the mount shows under this name again */
		char *v;

		rc = render_row_value(&v, name);
		if (rc == EINVAL) {
			row->w.file = "";
			return refuse(err, &row->w, "no name-column value "
				      "shows as the row name '%.64s'", name);
		}
		if (rc)
			return LC_NOMEM(err);
		rc = lc_buf_append(&row->r->cols[col].values, v, strlen(v),
				   err);
		lc_free(v);
		return rc;
	}
	/* an integer name column: the name as a JSON integer, written as
	 * the mount shows it (no sign, space or leading zero more) */
	sl->from_file = false;
	{
		char *end, back[32];
		json_t *jv = NULL;
		json_error_t je;
		long long v;

		errno = 0;
		v = strtoll(name, &end, 10);
		snprintf(back, sizeof(back), "%lld", v);
		if (*name && !*end && !errno && !strcmp(back, name)) {
			jv = json_integer(v);
		} else if (f->type.id == LANCE_T_UINT64 && *name != '-') {
			/* past int64: the mount shows uint64 values as
			 * they are (jsonb.h's big integers carry them) */
			errno = 0;
			snprintf(back, sizeof(back), "%llu",
				 strtoull(name, &end, 10));
			if (*name && !*end && !errno && !strcmp(back, name) &&
			    !(jv = json_load_big(name, strlen(name),
						 JSON_DECODE_ANY |
						 JSON_ALLOW_NUL, &je)))
				return LC_NOMEM(err);
		}
		if (!jv && (!*name || *end || errno || strcmp(back, name))) {
			row->w.file = "";
			return refuse(err, &row->w, "the name column '%s' is "
				      "%s and '%.64s' is not an integer",
				      f->name, f->logical_type, name);
		}
		if (!row->meta) {
			row->meta = json_object();
			if (!row->meta) {
				json_decref(jv);
				return LC_NOMEM(err);
			}
		}
		rc = !jv ? -1 : json_object_set_new(row->meta, "\x01name",
						    jv);
		if (rc)
			return LC_NOMEM(err);
		sl->json = json_object_get(row->meta, "\x01name");
	}
	return 0;
}

/* Whether JSON value `j` is the string the column's values hold from
 * `start`. */
static bool same_text(const json_t *j, const struct bld *b, size_t start)
{
	size_t n = b->values.len - start;

	return json_is_string(j) && json_string_length(j) == n &&
	       !memcmp(json_string_value(j), b->values.data + start, n);
}

static int append_row(struct row *row, struct lc_err *err)
{
	struct ingest_rows *r = row->r;
	const struct lance_schema *s = r->schema;
	int rc = 0;

	for (size_t i = 0; i < s->n_top && !rc; i++) {
		const struct lance_field *f = s->top[i];
		struct slot *sl = &row->slots[i];
		struct bld *b = &r->cols[i];

		row->w.file = sl->file ? sl->file : "";
		snprintf(row->w.col, sizeof(row->w.col), "%s", f->name);
		if (!sl->file) {
			if (!f->nullable) {
				row->w.col[0] = 0;
				row->w.file = "";
				rc = refuse(err, &row->w, "missing required "
					    "column '%s'", f->name);
			} else {
				rc = conv_null(b, &row->w, err);
			}
		} else if (sl->from_file) {
			if (sl->json && !same_text(sl->json, b, sl->start))
				rc = refuse(err, &row->w, "column '%s' is set "
					    "by both %s and meta.json, to "
					    "different values", f->name,
					    sl->file);
			else
				rc = bld_end(b, true, b->values.len, err);
		} else {
			rc = conv_json(b, sl->json, &row->w, 0, err);
		}
	}
	row->w.col[0] = 0;
	return rc;
}

int ingest_row(struct ingest_rows *r, const char *path, const char *name,
	       bool is_file, struct lc_err *err)
{
	const struct lance_schema *s = r->schema;
	struct row row = { .r = r };
	char stem[1024];
	int rc;

	row.w.row = name;
	row.w.file = "";
	row.w.v20 = r->v20;
	row.slots = lc_calloc(s->n_top ? s->n_top : 1, sizeof(*row.slots));
	if (!row.slots)
		return LC_NOMEM(err);
	if (is_file) {
		ssize_t col;

		row.w.row = name;	/* its own row */
		row.w.file = name;
		rc = file_target(&col, r, &row.w, err);
		if (!rc)
			rc = add_file(&row, AT_FDCWD, path, "", col, -1, err);
		if (!rc && (lc_free(row.slots[col].file),
			    !(row.slots[col].file = lc_strdup(name))))
			rc = LC_NOMEM(err);
		snprintf(stem, sizeof(stem), "%.*s",
			 (int)ingest_stem_len(name), name);
		if (!rc)
			rc = fill_name(&row, stem, err);
	} else {
		rc = gather_dir(&row, path, err);
		if (!rc)
			rc = fill_name(&row, name, err);
	}
	if (!rc)
		rc = append_row(&row, err);
	for (size_t i = 0; !rc && i < r->n_dicts; i++) {
		struct dseen *d = &r->dicts[i];

		rc = dseen_take(d, err);
		if (rc == INGEST_FULL && !r->n_rows)
			rc = lc_err_set(err, EINVAL, LC_EK_USAGE, __FILE__,
					__LINE__, "%s: column %s: more than "
					"%" PRIu64 " distinct values, which "
					"its dictionary's keys cannot index "
					"in one data file", name, d->column,
					d->cap);
		else if (rc == INGEST_FULL)
			lc_err_set(err, rc, LC_EK_LIMIT, __FILE__, __LINE__,
				   "%s: column %s: its dictionary is full "
				   "in this data file", name, d->column);
		/* the columns before took the row's values: not now (in
		 * the room they have, so that cannot fail) */
		for (size_t k = 0; rc && k < i; k++)
			(void)dseen_fill(&r->dicts[k], r->dicts[k].before,
					 r->dicts[k].n_slot, NULL);
	}
	if (rc) {
		for (size_t i = 0; i < s->n_top; i++)
			bld_truncate(&r->cols[i], r->n_rows);
	} else {
		r->n_rows++;
	}
	row_reset(&row);
	return rc;
}

/* ---------------------------------------------------------------- inference */

enum ikind { IK_NONE = 0, IK_INT, IK_FLOAT, IK_BOOL, IK_STR, IK_BIN,
	     IK_LIST, IK_STRUCT };

struct itype {
	enum ikind k;
	bool big, neg;		/* IK_INT: past int64, below 0 (uint64
				 * holds the first without the second) */
	char *name;
	struct itype *item;		/* IK_LIST */
	struct itype *kids;		/* IK_STRUCT */
	size_t n_kids;
};

static void itype_reset(struct itype *t)
{
	if (t->item) {
		itype_reset(t->item);
		lc_free(t->item);
	}
	for (size_t i = 0; i < t->n_kids; i++)
		itype_reset(&t->kids[i]);
	lc_free(t->kids);
	lc_free(t->name);
	memset(t, 0, sizeof(*t));
}

/* `t` becomes a string, keeping its name. */
static void itype_flatten(struct itype *t)
{
	char *name = t->name;

	t->name = NULL;
	itype_reset(t);
	t->name = name;
	t->k = IK_STR;
}

static struct itype *itype_child(struct itype *t, const char *name,
				 struct lc_err *err)
{
	struct itype *nk;

	for (size_t i = 0; i < t->n_kids; i++)
		if (!strcmp(t->kids[i].name, name))
			return &t->kids[i];
	nk = lc_realloc(t->kids, (t->n_kids + 1) * sizeof(*nk));
	if (!nk) {
		LC_NOMEM(err);
		return NULL;
	}
	t->kids = nk;
	memset(&nk[t->n_kids], 0, sizeof(*nk));
	nk[t->n_kids].name = lc_strdup(name);
	if (!nk[t->n_kids].name) {
		LC_NOMEM(err);
		return NULL;
	}
	return &nk[t->n_kids++];
}

/* Widen `t` by a JSON value; a value of another kind leaves the first
 * kind (assembly refuses that row later). */
static int itype_merge(struct itype *t, const json_t *j, unsigned depth,
		       struct lc_err *err)
{
	enum ikind k;
	const char *key, *big;
	json_t *v;
	int rc = 0;

	if (depth > INGEST_MAX_DEPTH)
		return 0;
	switch (json_typeof(j)) {
	case JSON_INTEGER:
		k = IK_INT;
		t->neg |= json_integer_value(j) < 0;
		break;
	case JSON_REAL:
		k = IK_FLOAT;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		k = IK_BOOL;
		break;
	case JSON_STRING:	/* or an integer past int64 (jsonb.h) */
		big = json_big_int(j);
		k = big ? IK_INT : IK_STR;
		t->big |= big != NULL;
		t->neg |= big && big[0] == '-';
		break;
	case JSON_ARRAY:
		k = IK_LIST;
		break;
	case JSON_OBJECT:
		k = IK_STRUCT;
		break;
	default:
		return 0;
	}
	if (t->k == IK_NONE)
		t->k = k;
	else if (t->k == IK_INT && k == IK_FLOAT)
		t->k = IK_FLOAT;
	if (t->k != k && !(t->k == IK_FLOAT && k == IK_INT))
		return 0;
	if (k == IK_LIST) {
		if (!t->item) {
			t->item = lc_calloc(1, sizeof(*t->item));
			if (!t->item)
				return LC_NOMEM(err);
		}
		for (size_t i = 0; i < json_array_size(j) && !rc; i++)
			rc = itype_merge(t->item, json_array_get(j, i),
					 depth + 1, err);
	} else if (k == IK_STRUCT) {
		json_object_foreach((json_t *)j, key, v) {
			struct itype *c = itype_child(t, key, err);

			if (!c)
				return ENOMEM;
			rc = itype_merge(c, v, depth + 1, err);
			if (rc)
				return rc;
		}
	}
	return rc;
}

struct defs {
	struct lance_field_def *v;
	size_t n, cap;
};

static int defs_add(struct defs *d, const char *name, int32_t parent,
		    const char *type, struct lc_err *err)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct lance_field_def *nv = lc_realloc(d->v,
							cap * sizeof(*nv));

		if (!nv)
			return LC_NOMEM(err);
		d->v = nv;
		d->cap = cap;
	}
	d->v[d->n].name = name;
	d->v[d->n].parent = parent;
	d->v[d->n].logical_type = type;
	d->v[d->n].nullable = true;
	d->n++;
	return 0;
}

/* Field definitions of `t`, pre-order. Only-null values and empty
 * structs become strings. */
static int itype_defs(struct defs *d, const struct itype *t,
		      const char *name, int32_t parent, struct lc_err *err)
{
	static const char *names[] = {
		[IK_NONE] = "string", [IK_INT] = "int64",
		[IK_FLOAT] = "double", [IK_BOOL] = "bool",
		[IK_STR] = "string", [IK_BIN] = "binary",
		[IK_LIST] = "list", [IK_STRUCT] = "struct",
	};
	enum ikind k = t->k == IK_STRUCT && !t->n_kids ? IK_STR : t->k;
	int32_t me = (int32_t)d->n;
	int rc = defs_add(d, name, parent, k == IK_INT && t->big && !t->neg ?
				  "uint64" : names[k], err);

	if (rc)
		return rc;
	if (k == IK_LIST) {
		static const struct itype none;

		return itype_defs(d, t->item ? t->item : &none, "item", me,
				  err);
	}
	for (size_t i = 0; k == IK_STRUCT && i < t->n_kids && !rc; i++)
		rc = itype_defs(d, &t->kids[i], t->kids[i].name, me, err);
	return rc;
}

/* Infer from one row folder into the top-level struct `top`. */
static int infer_dir(struct itype *top, const char *dir, struct lc_err *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct lc_err unread = { 0 };
	struct dent *ents;
	size_t n;
	int rc = list_dir(&ents, &n, dfd, dir, false, &unread);
	struct where w = { .row = dir, .file = "meta.json" };
	struct lc_buf text;

	if (rc) {
		if (dfd >= 0)
			close(dfd);
		return 0;	/* unreadable: assembly reports it */
	}
	lc_buf_init(&text, 0);
	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = ents[i].name, *dot = strrchr(name, '.');
		char col[1024];
		struct itype *c;
		json_error_t je;
		json_t *j;

		/* what assembly takes: regular files (a row holding a
		 * folder is refused, and makes no column), a meta.json
		 * read and parsed as add_meta does (what fails, assembly
		 * reports) */
		if (ents[i].type != DT_REG)
			continue;
		if (!strcmp(name, "meta.json")) {
			text.len = 0;
			j = read_into(&text, dfd, name, ents[i].size, &w,
				      &unread) ? NULL :
			    json_load_big(text.data, text.len,
					  JSON_REJECT_DUPLICATES |
					  JSON_ALLOW_NUL, &je);
			if (json_is_object(j))
				rc = itype_merge(top, j, 0, err);
			json_decref(j);
			continue;
		}
		snprintf(col, sizeof(col), "%.*s",
			 (int)ingest_stem_len(name), name);
		c = itype_child(top, col, err);
		if (!c) {
			rc = ENOMEM;
			break;
		}
		if (c->k == IK_NONE)
			c->k = dot && !strcmp(dot, ".txt") ? IK_STR : IK_BIN;
	}
	lc_buf_reset(&text);
	close(dfd);
	free_list(ents, n);
	return rc;
}

static int parse_format(uint16_t *major, uint16_t *minor, const char *v,
			struct lc_err *err);

/* The schema of `top`'s kids into `out`. */
static int itype_schema(struct lance_schema *out, const struct itype *top,
			struct lc_err *err)
{
	struct defs d = { 0 };
	int rc = 0;

	/* a row that sets a column no schema can have is refused */
	for (size_t i = 0; i < top->n_kids && !rc; i++)
		if (!bad_column_name(top->kids[i].name,
				     strlen(top->kids[i].name)))
			rc = itype_defs(&d, &top->kids[i], top->kids[i].name,
					-1, err);
	if (!rc && !d.n)
		rc = LC_USAGE(err, "no columns to infer a schema from");
	if (!rc)
		rc = lance_schema_build(out, d.v, d.n, err);
	lc_free(d.v);
	return rc;
}

/*
 * A column whose inferred shape the data files cannot hold (nesting
 * deeper than the writer goes) becomes a string column: the new dataset
 * can be written, and the rows that set it with such values are refused
 * (lancefs(1)). True when one did.
 */
static bool flatten_unwritable(struct itype *top, const struct lance_schema *s,
			       uint16_t major, uint16_t minor)
{
	bool any = false;

	for (size_t i = 0; i < top->n_kids && i < s->n_top; i++) {
		struct lc_err why = { 0 };

		if (lance_writer_check_field(s->top[i], major, minor, &why)) {
			itype_flatten(&top->kids[i]);
			any = true;
		}
	}
	return any;
}

int ingest_infer_schema(struct lance_schema *out,
			const struct ingest_src *rows, size_t n,
			const struct ingest_opts *opts,
			struct lc_err *err)
{
	const char *name_col = opts && opts->name_column ?
			       opts->name_column : "name";
	struct itype top = { .k = IK_STRUCT };
	uint16_t major = 2, minor = 0;
	bool any_file = false;
	struct itype *c;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (name_col[0]) {
		c = itype_child(&top, name_col, err);
		if (!c)
			return ENOMEM;
		c->k = IK_STR;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		if (rows[i].is_file)
			any_file = true;
		else
			rc = infer_dir(&top, rows[i].path, err);
	}
	if (!rc && any_file) {
		const char *fc = opts && opts->file_column ?
				 opts->file_column : NULL;
		size_t nbin = 0;

		for (size_t i = 0; i < top.n_kids; i++)
			if (top.kids[i].k == IK_BIN) {
				nbin++;
				if (!fc)
					fc = top.kids[i].name;
			}
		if (!fc || (nbin > 1 && !(opts && opts->file_column)))
			fc = nbin > 1 ? fc : "file";
		c = itype_child(&top, fc, err);
		if (!c)
			rc = ENOMEM;
		else if (c->k == IK_NONE)
			c->k = IK_BIN;
	}
	if (!rc)
		rc = parse_format(&major, &minor, opts ? opts->format_version :
				  NULL, err);
	if (!rc)
		rc = itype_schema(out, &top, err);
	if (!rc && flatten_unwritable(&top, out, major, minor)) {
		lance_schema_reset(out);
		rc = itype_schema(out, &top, err);
	}
	itype_reset(&top);
	return rc;
}

/* ---------------------------------------------------------------- commit */

struct staged {
	uint64_t id;
	char *name;
	char *path;	/* the row's folder, or a root-level file */
	bool is_file;
	enum staging_kind kind;
	struct staging_base base;
};

struct staged_list {
	struct staged *v;
	size_t n, cap;
	const struct staging *stg;
	const uint64_t *only;	/* sorted; NULL: every row */
	size_t n_only;
	struct lc_err *err;
};

static void staged_free(struct staged_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		lc_free(l->v[i].name);
		lc_free(l->v[i].path);
	}
	lc_free(l->v);
}

static bool in_sorted(const uint64_t *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int staged_cb(void *ctx, uint64_t id, const char *name)
{
	struct staged_list *l = ctx;
	struct staging_info info;
	struct staged *s;
	char path[4600];
	int rc;

	if (l->only && !in_sorted(l->only, l->n_only, id))
		return 0;
	rc = staging_row_info(&info, l->stg, id, l->err);
	if (rc)
		return rc;
	if (info.interrupted && !l->only) {
		staging_info_reset(&info);
		return 0;	/* waits for the user (staging.h) */
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct staged *nv = lc_realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return LC_NOMEM(l->err);
		l->v = nv;
		l->cap = cap;
	}
	s = &l->v[l->n];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->kind = info.kind;
	s->base = info.base;
	staging_info_reset(&info);
	/* a row staged as a root-level file (its .row says so) holds that
	 * one file, named like the row; the path is the file's */
	s->is_file = s->kind == STAGING_FILE;
	staging_row_path(path, sizeof(path), l->stg, id);
	if (s->is_file)
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
			 "/%.255s", name);
	s->name = lc_strdup(name);
	s->path = lc_strdup(path);
	l->n++;
	return s->name && s->path ? 0 : LC_NOMEM(l->err);
}

/* "2.1" -> 2, 1; legacy (0.x) files cannot be written. */
static int parse_format(uint16_t *major, uint16_t *minor, const char *v,
			struct lc_err *err)
{
	unsigned a, b;
	char tail;

	/* LanceDB's names: stable is 2.2, next the unstable 2.3 */
	if (!v)
		v = "2.0";
	else if (!strcmp(v, "stable"))
		v = "2.2";
	else if (!strcmp(v, "next"))
		v = "2.3";
	if (sscanf(v, "%u.%u%c", &a, &b, &tail) != 2 || a != 2 || b > 2)
		return LC_UNSUPPORTED(err, "data files of version %.32s "
				      "cannot be written", v);
	*major = (uint16_t)a;
	*minor = (uint16_t)b;
	return 0;
}

/* The file version of the dataset in snapshot `s` (its existing data
 * files', else its manifest's data_format) and, in *name_col (NULL if
 * none, caller frees), its config lancefs.name_column. */
static int manifest_format(uint16_t *major, uint16_t *minor, char **name_col,
			   const struct lance_manifest *m, struct lc_err *err)
{
	if (name_col && lance_manifest_config(m, "lancefs.name_column")) {
		*name_col = lc_strdup(lance_manifest_config(
			m, "lancefs.name_column"));
		if (!*name_col)
			return LC_NOMEM(err);
	}
	if (m->n_fragments && m->fragments[0].n_files &&
	    m->fragments[0].files[0].major >= 2) {
		*major = (uint16_t)m->fragments[0].files[0].major;
		*minor = (uint16_t)m->fragments[0].files[0].minor;
		if (*major != 2 || *minor > 2)
			return LC_UNSUPPORTED(err, "data files of version "
					      "%u.%u cannot be written",
					      *major, *minor);
		return 0;
	}
	return parse_format(major, minor, m->data_format, err);
}

static int dataset_format(uint16_t *major, uint16_t *minor, char **name_col,
			  const struct lance_snapshot *s, struct lc_err *err)
{
	return manifest_format(major, minor, name_col,
			       lance_snapshot_manifest(s), err);
}

int ingest_writable(const struct lance_manifest *m, struct lc_err *err)
{
	uint16_t major = 2, minor = 0;
	int rc = manifest_format(&major, &minor, NULL, m, err);

	for (size_t i = 0; !rc && i < m->schema.n_top; i++)
		rc = lance_writer_check_field(m->schema.top[i], major, minor,
					      err);
	return rc;
}

static int data_path(char *out, size_t cap, struct lc_err *err)
{
	char id[37];
	int rc = lc_uuid(id, err);

	if (!rc)
		snprintf(out, cap, "data/%s.lance", id);
	return rc;
}

static void hook(int point)
{
	if (ingest__test_hook)
		ingest__test_hook(point);
}

/* Rows to delete, grouped by fragment for lance_commit (which only
 * reads the offsets: they are ours to grow and free). */
struct dels {
	struct lance_commit_delete *v;
	size_t n;
};

static int dels_add(struct dels *d, uint64_t frag, uint64_t off,
		    struct lc_err *err)
{
	uint32_t *o;
	size_t i;

	for (i = 0; i < d->n && d->v[i].fragment_id != frag; i++)
		;
	if (i == d->n) {
		struct lance_commit_delete *v = lc_realloc(d->v, (i + 1) *
							     sizeof(*v));

		if (!v)
			return LC_NOMEM(err);
		d->v = v;
		memset(&d->v[i], 0, sizeof(d->v[i]));
		d->v[i].fragment_id = frag;
		d->n++;
	}
	o = lc_realloc((void *)d->v[i].offsets, (d->v[i].n + 1) * sizeof(*o));
	if (!o)
		return LC_NOMEM(err);
	o[d->v[i].n++] = (uint32_t)off;
	d->v[i].offsets = o;
	return 0;
}

static void dels_free(struct dels *d)
{
	for (size_t i = 0; i < d->n; i++)
		lc_free((void *)d->v[i].offsets);
	lc_free(d->v);
}

struct plan {
	uint64_t read_version;
	bool create;
	const char *data_format;
	const char *name_column;
	uint16_t major, minor;
	const uint64_t *ids;		/* every row the commit settles */
	size_t n_ids;
	const struct dels *dels;
	struct ingest_attempt *again;	/* ingest_commit_rows's */
	ingest_landed_cb landed;
	void *ctx;
};

/*
 * A data file being stored while the commit reads and encodes the rows
 * of the next: the disk (or the network) and the CPU work at once. One
 * put at a time; its bytes must not change until it is done.
 */
struct put {
	pthread_t thread;
	bool on;
	struct ostore *st;
	char key[128];
	const uint8_t *bytes;
	size_t len;
	int rc;
	struct lc_err err;
};

static void *put_main(void *arg)
{
	struct put *p = arg;

	/* a plain put: the key is a new uuid, nothing to guard against,
	 * and on S3 a create-only put is one part (8 MiB) at most */
	p->rc = ostore_put(p->st, p->key, p->bytes, p->len, 0, &p->err);
	return NULL;
}

/* The outcome of the put in flight, once done (0 with none). */
static int put_wait(struct put *p, struct lc_err *err)
{
	if (!p->on)
		return 0;
	pthread_join(p->thread, NULL);
	p->on = false;
	if (p->rc)
		*err = p->err;
	return p->rc;
}

/* Store `bytes` as `key` in the background (or now, without a thread):
 * they must stay until put_wait. */
static int put_start(struct put *p, struct ostore *st, const char *key,
		     const uint8_t *bytes, size_t len, struct lc_err *err)
{
	p->st = st;
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->bytes = bytes;
	p->len = len;
	p->rc = 0;
	memset(&p->err, 0, sizeof(p->err));
	if (!lc_thread_start(&p->thread, "lancefs commit", put_main, p)) {
		p->on = true;
		return 0;
	}
	put_main(p);
	if (p->rc)
		*err = p->err;
	return p->rc;
}

/* The rows in the builders, for finding those the writer cannot take. */
struct held {
	const struct staged_list *l;
	size_t *rows;		/* indices into l->v */
	size_t n;
	uint64_t *ids;		/* every row the commit settles */
	size_t *n_ids;
	struct dels *dels;
	const struct ingest_opts *o;
	ingest_refused_cb refused;
	void *ctx;
};

/* A data file a commit adds, beside its lance_commit_frag. */
struct frag_of {
	struct lance_data_file df;
	char path[128];
	uint64_t *rows;		/* its staged rows, in order */
	uint64_t *rewrites;	/* the v[i].rewrites, or NULL */
};

/* The fragments a commit adds: one data file each. */
struct frags {
	struct lance_commit_frag *v;	/* what lance_commit takes */
	struct frag_of *of;		/* and beside each, ours */
	size_t n;
	/* the data files are built here in turn, one while the one before
	 * is stored: mappings faulted in once, page-aligned for the local
	 * store's direct writes */
	struct lc_buf out[2];
	struct put put;
};

static void frag_of_reset(struct frag_of *o)
{
	lc_free(o->df.fields);
	lc_free(o->df.column_indices);
	lc_free(o->rows);
	lc_free(o->rewrites);
}

static void frags_free(struct frags *f)
{
	struct lc_err ignored;

	/* on a failed commit's way out: a data file it made stays, as
	 * after any failed commit, unreferenced */
	(void)put_wait(&f->put, &ignored);
	for (size_t i = 0; i < f->n; i++)
		frag_of_reset(&f->of[i]);
	lc_free(f->v);
	lc_free(f->of);
	lc_buf_reset(&f->out[0]);
	lc_buf_reset(&f->out[1]);
	memset(f, 0, sizeof(*f));
}

/* A commit holds at most this much row data in memory: beyond it the
 * rows built so far go to a data file of their own (one fragment). */
#define FRAGMENT_BYTES (16u << 20)

static uint64_t rows_bytes(const struct ingest_rows *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->schema->n_top; i++)
		n += r->cols[i].values.len + r->cols[i].offsets.len;
	return n;
}

/* The builders emptied, their buffers kept for reuse. */
static void rows_empty(struct ingest_rows *r)
{
	for (size_t i = 0; i < r->schema->n_top; i++)
		bld_truncate(&r->cols[i], 0);
	for (size_t i = 0; i < r->n_dicts; i++)	/* cannot fail, as above */
		(void)dseen_fill(&r->dicts[i], 0, r->dicts[i].n_slot, NULL);
	r->n_rows = 0;
}

/* The data file of the rows in `r`, built in `out`: *bytes (in out) and
 * *len of them, described in *df. */
static int encode_rows(struct ingest_rows *r, const struct plan *p,
		       struct lc_buf *out, uint8_t **bytes, size_t *len,
		       struct lance_data_file *df, struct lc_err *err)
{
	const struct lance_schema *schema = r->schema;
	struct lance_writer *wr = NULL;
	const struct lance_array *cols;
	int32_t *top = lc_calloc(schema->n_top ? schema->n_top : 1,
				 sizeof(*top));
	int rc;

	if (!top)
		return LC_NOMEM(err);
	for (size_t i = 0; i < schema->n_top; i++)
		top[i] = schema->top[i]->id;
	rc = lance_writer_new(&wr, schema, top, schema->n_top, p->major,
			      p->minor, err);
	if (!rc) {
		if (!out->pages)
			lc_buf_init_pages(out, 0);
		lance_writer_build_in(wr, out);
		rc = ingest_rows_arrays(&cols, r, err);
	}
	if (!rc)
		rc = lance_writer_add(wr, cols, err);
	if (!rc)
		rc = lance_writer_finish(wr, bytes, len, df, err);
	lance_writer_free(wr);
	lc_free(top);
	return rc;
}

/* The held rows [a, b) in o: their ids and, where an update is among
 * them, per row the address of the committed row it rewrites (its
 * stable row id is kept) or LANCE_NEW_ROW. */
static int held_rows_of(struct frag_of *o, const struct held *h, size_t a,
			size_t b, struct lc_err *err)
{
	bool any = false;

	if (!(o->rows = lc_malloc((b - a) * sizeof(*o->rows))))
		return LC_NOMEM(err);
	for (size_t k = a; k < b; k++) {
		o->rows[k - a] = h->l->v[h->rows[k]].id;
		any |= h->l->v[h->rows[k]].kind == STAGING_UPDATE;
	}
	if (any && !(o->rewrites = lc_malloc((b - a) * sizeof(*o->rewrites))))
		return LC_NOMEM(err);
	for (size_t k = a; any && k < b; k++) {
		const struct staged *sr = &h->l->v[h->rows[k]];

		o->rewrites[k - a] = sr->kind != STAGING_UPDATE ?
			LANCE_NEW_ROW :
			sr->base.fragment_id << 32 | sr->base.offset;
	}
	return 0;
}

/* Write the rows built so far, the held rows [a, b), as one data file
 * under data/ (stored in the background: put_wait), then start the
 * builders again. *encoding: whether it was their encoding that
 * failed. */
static int flush_fragment(struct frags *f, struct ostore *st,
			  struct ingest_rows *r, const struct plan *p,
			  const struct held *h, size_t a, size_t b,
			  bool *encoding, struct lc_err *err)
{
	struct lc_buf *out = &f->out[f->n % 2];	/* not the one in flight */
	uint8_t *bytes = NULL;
	size_t len = 0, n = f->n;
	struct frag_of *o;
	int rc;

	*encoding = false;
	if (r->n_rows != b - a)
		return LC_SYS(err, EIO, "commit: %zu rows built for %zu held",
			      (size_t)r->n_rows, b - a);
	if (!r->n_rows)
		return 0;
	{
		struct lance_commit_frag *v = lc_realloc(f->v, (n + 1) *
							      sizeof(*v));
		struct frag_of *of;

		if (!v)
			return LC_NOMEM(err);
		f->v = v;
		if (!(of = lc_realloc(f->of, (n + 1) * sizeof(*of))))
			return LC_NOMEM(err);
		f->of = of;
	}
	o = &f->of[n];
	memset(o, 0, sizeof(*o));
	rc = held_rows_of(o, h, a, b, err);
	if (!rc) {
		rc = encode_rows(r, p, out, &bytes, &len, &o->df, err);
		*encoding = rc != 0;
	}
	if (!rc)
		rc = data_path(o->path, sizeof(o->path), err);
	if (!rc)
		rc = put_wait(&f->put, err);
	if (!rc)
		rc = put_start(&f->put, st, o->path, bytes, len, err);
	if (rc) {
		frag_of_reset(o);
		return rc;
	}
	o->df.path = NULL;
	memset(&f->v[n], 0, sizeof(f->v[n]));
	f->v[n].n_files = 1;
	f->v[n].physical_rows = r->n_rows;
	f->v[n].rewrites = o->rewrites;
	f->n++;
	rows_empty(r);
	return 0;
}


/* Whether the staged row `sr` makes a data file by itself: 0, or why
 * not. */
static int alone(const struct ingest_rows *r, const struct plan *p,
		 const struct ingest_opts *o, const struct staged *sr,
		 struct lc_err *err)
{
	struct lance_data_file df = { 0 };
	struct ingest_rows *one = NULL;
	uint8_t *bytes;
	struct lc_buf out;
	size_t len;
	int rc = ingest_rows_new(&one, r->schema, o, r->v20, err);

	lc_buf_init(&out, 0);
	if (!rc)
		rc = ingest_row(one, sr->path, sr->name, sr->is_file, err);
	if (!rc)
		rc = encode_rows(one, p, &out, &bytes, &len, &df, err);
	lc_free(df.fields);
	lc_free(df.column_indices);
	lc_buf_reset(&out);
	ingest_rows_free(one);
	return rc;
}

/* Take the refused row `sr` out of the commit. */
static void drop_row(struct held *h, const struct staged *sr)
{
	for (size_t k = *h->n_ids; k-- > 0;)
		if (h->ids[k] == sr->id) {
			memmove(&h->ids[k], &h->ids[k + 1],
				(*h->n_ids - k - 1) * sizeof(*h->ids));
			--*h->n_ids;
			break;
		}
	if (sr->kind != STAGING_UPDATE)
		return;
	for (size_t i = 0; i < h->dels->n; i++) {
		struct lance_commit_delete *d = &h->dels->v[i];
		uint32_t *o = (uint32_t *)d->offsets;

		if (d->fragment_id != sr->base.fragment_id)
			continue;
		for (size_t k = 0; k < d->n; k++)
			if (o[k] == (uint32_t)sr->base.offset) {
				o[k] = o[--d->n];
				break;
			}
		if (!d->n) {	/* no deletion file to write */
			lc_free(o);
			*d = h->dels->v[--h->dels->n];
		}
		return;
	}
}

/* The held rows [a, b) in data files: one, or where together they meet
 * a limit of the writer's that no row meets alone (a value too big for a
 * page where a null of another row's goes too), each half in turn. */
static int flush_range(struct frags *f, struct ostore *st,
		       struct ingest_rows *r, const struct plan *p,
		       const struct held *h, size_t a, size_t b,
		       struct lc_err *err)
{
	bool encoding = false;
	int rc = 0;

	rows_empty(r);
	for (size_t k = a; k < b && !rc; k++) {
		const struct staged *sr = &h->l->v[h->rows[k]];

		rc = ingest_row(r, sr->path, sr->name, sr->is_file, err);
	}
	if (!rc)
		rc = flush_fragment(f, st, r, p, h, a, b, &encoding, err);
	if (rc && encoding && err->kind == LC_EK_LIMIT && b - a > 1) {
		size_t m = a + (b - a) / 2;

		lc_err_clear(err);
		rc = flush_range(f, st, r, p, h, a, m, err);
		if (!rc)
			rc = flush_range(f, st, r, p, h, m, b, err);
	}
	return rc;
}

/*
 * flush_fragment of the held rows. Where their encoding meets a limit of
 * the writer's own (LC_EK_LIMIT: a row of more levels than a mini-block
 * chunk holds, say), each row that cannot make a data file by itself is
 * refused, naming it, and the others are written (flush_range): no row
 * holds up another.
 */
static int flush_held(struct frags *f, struct ostore *st,
		      struct ingest_rows *r, const struct plan *p,
		      struct held *h, struct lc_err *err)
{
	bool encoding = false;
	size_t kept = 0;
	int rc = flush_fragment(f, st, r, p, h, 0, h->n, &encoding, err);

	if (rc && encoding && err->kind == LC_EK_LIMIT && h->refused) {
		for (size_t k = 0; k < h->n; k++) {
			const struct staged *sr = &h->l->v[h->rows[k]];
			struct lc_err why = { 0 };

			if (alone(r, p, h->o, sr, &why) &&
			    why.kind == LC_EK_LIMIT) {
				lc_err_prefix(&why, "%s: ", sr->name);
				h->refused(h->ctx, sr->id, sr->name, &why);
				drop_row(h, sr);
			} else {
				h->rows[kept++] = h->rows[k];
			}
		}
		h->n = kept;
		lc_err_clear(err);
		rc = flush_range(f, st, r, p, h, 0, kept, err);
	}
	if (!rc)
		h->n = 0;
	return rc;
}

/* The rows the caller keeps staged (p->landed) leave the batch `b`,
 * whose record is written again without them, after their own records
 * reach the disk, so that neither this batch nor a recovery of it takes
 * them out of the staging; where that fails they go with it after all
 * (revoked). A crash before the new record takes them out: what landed
 * stays, only what was written after is lost. */
static void keep_landed(struct staging *stg, struct staging_batch *b,
			const struct frags *f, const struct plan *p,
			uint64_t first, uint64_t version)
{
	uint64_t *kept = lc_malloc((b->n_rows ? b->n_rows : 1) *
				   sizeof(*kept));
	struct staging_batch again;
	size_t nk = 0;

	if (!kept)
		return;
	for (size_t i = 0; i < f->n; i++)
		for (uint64_t k = 0; k < f->v[i].physical_rows; k++) {
			uint64_t id = f->of[i].rows[k];

			if (!p->landed(p->ctx, id, version, first + i, k,
				       lance_data_file_key(f->of[i].df.path),
				       false))
				continue;
			kept[nk++] = id;
			for (size_t j = 0; j < b->n_rows; j++)
				if (b->rows[j] == id) {
					b->rows[j] = b->rows[--b->n_rows];
					break;
				}
		}
	if (nk && (staging_sync(stg) ||
		   staging_batch_begin(&again, stg, b->rows, b->n_rows,
				       b->read_version, b->uuid,
				       &(struct lc_err){ 0 }))) {
		for (size_t k = 0; k < nk; k++) {
			(void)p->landed(p->ctx, kept[k], 0, 0, 0, 0, true);
			b->rows[b->n_rows++] = kept[k];
		}
	} else if (nk) {
		staging_batch_reset(&again);
	}
	lc_free(kept);
}

/* Commit the fragments written and the deletions; the batch brackets
 * the commit. */
static int commit_rows(uint64_t *new_version, struct ostore *st,
		       struct staging *stg, const struct lance_schema *schema,
		       struct frags *f, const struct plan *p,
		       struct lc_err *err)
{
	struct lance_commit c = { 0 };
	struct staging_batch b = { 0 };
	struct lance_kv kv = { 0 };
	bool reused = p->again && p->again->uuid[0];
	int rc;

	for (size_t i = 0; i < f->n; i++) {
		f->of[i].df.path = f->of[i].path;
		f->v[i].files = &f->of[i].df;
	}
	c.appends = f->v;
	c.n_appends = f->n;
	c.deletes = p->dels->v;
	c.n_deletes = p->dels->n;
	rc = staging_batch_begin(&b, stg, p->ids, p->n_ids, p->read_version,
				 reused ? p->again->uuid : NULL, err);
	if (rc)
		goto out;
	hook(1);
	c.read_version = p->read_version;
	memcpy(c.uuid, b.uuid, sizeof(c.uuid));
	if (p->create) {
		c.read_version = 0;
		c.new_schema = schema;
		c.data_format = p->data_format;
		if (p->name_column && p->name_column[0]) {
			kv.key = (char *)"lancefs.name_column";
			kv.value = (uint8_t *)p->name_column;
			kv.value_len = strlen(p->name_column);
			c.config = &kv;
			c.n_config = 1;
		}
	}
	rc = lance_commit(new_version, st, &c, err);
	if (rc && (c.unsure || reused)) {
		/* an outcome still unknown, this put's or an earlier one's:
		 * the rows stay staged, and so does the record */
		if (c.unsure)
			lc_err_prefix(err, "no answer to the new manifest, "
				      "which may still land (transaction "
				      "%s): ", c.uuid);
		if (p->again && !reused) {
			memcpy(p->again->uuid, c.uuid, sizeof(c.uuid));
			p->again->since = p->read_version;
		}
		goto out;
	}
	if (rc) {
		struct lc_err e2 = { 0 };

		/* the rows stay staged; the record goes */
		if (staging_batch_abandon(stg, &b, &e2))
			lc_err_prefix(err, "(batch %s kept: %s) ", b.uuid,
				      e2.msg);
		goto out;
	}
	hook(2);
	if (p->landed && c.first_fragment_id != UINT64_MAX)
		keep_landed(stg, &b, f, p, c.first_fragment_id,
			    *new_version);
	rc = staging_batch_done(stg, &b, err);
	if (rc)
		lc_err_prefix(err, "version %" PRIu64 " committed, but: ",
			      *new_version);
out:
	for (size_t i = 0; i < f->n; i++)
		f->of[i].df.path = NULL;
	staging_batch_reset(&b);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int ingest_made_anew(struct lc_err *err, const char *row, bool deletion,
		     uint64_t version)
{
	if (deletion)
		return lc_err_set(err, ENOENT, LC_EK_USAGE, __FILE__, __LINE__,
				  "%s: not deleted: the dataset was made anew "
				  "after version %" PRIu64 " and the row went "
				  "with the old one; the staged deletion is "
				  "dropped", row, version);
	return lc_err_set(err, ESTALE, LC_EK_USAGE, __FILE__, __LINE__,
			  "%s: the dataset was made anew after version %"
			  PRIu64 ", the row went with the old one; remove the "
			  "staged change", row, version);
}

/* A top-level column whose name names another column in `now` than in
 * `then` (renamed, or another renamed onto its name), or NULL. */
static const struct lance_field *renamed(const struct lance_schema *then,
					 const struct lance_schema *now)
{
	for (size_t i = 0; i < then->n_top; i++) {
		const struct lance_field *a = then->top[i];
		const struct lance_field *b =
			lance_schema_field_by_id(now, a->id);
		const struct lance_field *c =
			lance_schema_field_by_name(now, a->name);

		if ((b && strcmp(b->name, a->name)) || (c && c->id != a->id))
			return a;
	}
	return NULL;
}

/* What check_columns found for the last base version it looked at: one
 * manifest read for the changes made on one version. */
struct cols_seen {
	uint64_t version;
	bool known, gone;
	char renamed[128];	/* "" for none */
};

/* An update keeps its row's other values as the version it was made on
 * named them: refused where another writer renamed columns since (a
 * value would land in another column). Dropped and added ones are
 * ingest's to judge (a value for a column gone is refused). */
static int check_columns(const struct staged *r, struct ostore *st,
			 const struct lance_snapshot *s,
			 const struct lance_history *h, struct cols_seen *c,
			 struct lc_err *err)
{
	if (r->kind != STAGING_UPDATE || !h ||
	    !lance_history_projected(h, r->base.version))
		return 0;
	if (!c->known || c->version != r->base.version) {
		struct lance_snapshot *then = NULL;
		const struct lance_field *f;
		struct lc_err e2 = { 0 };
		int rc = lance_snapshot_open_manifest(&then, st,
						      r->base.version, &e2);

		if (rc && rc != ENOENT) {
			*err = e2;
			return rc;
		}
		c->version = r->base.version;
		c->known = true;
		c->gone = rc != 0;
		c->renamed[0] = 0;
		if (!rc && (f = renamed(&lance_snapshot_manifest(then)->schema,
					&lance_snapshot_manifest(s)->schema)))
			snprintf(c->renamed, sizeof(c->renamed), "%s",
				 f->name);
		lance_snapshot_free(then);
	}
	if (c->gone)	/* that version gone: which names changed is unknown */
		return lc_err_set(err, EINVAL, LC_EK_USAGE, __FILE__, __LINE__,
				  "%s: the columns changed after version %"
				  PRIu64 ", which is gone; remove the staged "
				  "change", r->name, r->base.version);
	if (c->renamed[0])
		return lc_err_set(err, EINVAL, LC_EK_USAGE, __FILE__, __LINE__,
				  "%s: another writer renamed columns after "
				  "version %" PRIu64 " (%s); remove the staged "
				  "change", r->name, r->base.version,
				  c->renamed);
	return 0;
}

/* An update or delete must find its committed row still there, where
 * it was and as it was (`h`: what other writers did since the oldest
 * base, or NULL when every base is the snapshot's version); a delete of
 * a row gone already is ENOENT, for the caller to drop. */
static int check_base(const struct staged *r, const struct lance_snapshot *s,
		      const struct lance_history *h, struct ostore *st,
		      struct cols_seen *cols, struct lc_err *err)
{
	struct lc_err why = { 0 };
	bool replaced = false, live, changed;

	if (lance_manifest_other_table(lance_snapshot_manifest(s),
				       r->base.version, r->base.fragment_id,
				       r->base.key))
		return ingest_made_anew(err, r->name,
					r->kind == STAGING_DELETE,
					r->base.version);
	live = lance_snapshot_row_live(s, r->base.fragment_id, r->base.offset);
	/* its fragment's rows moved (a compaction, an overwrite), or, for
	 * an update, which keeps the row's other values, those changed */
	changed = h && lance_history_check(h, r->base.version,
					   r->base.fragment_id,
					   r->kind == STAGING_UPDATE, &replaced,
					   &why);

	/* a row still at its address in a fragment holding the data it
	 * held (a Restore brought it back, its values rewritten in place)
	 * is the one the user removed; without that key (records of older
	 * mounts), only where nothing happened to its fragment */
	if (live && r->kind == STAGING_DELETE && (r->base.key || !changed))
		return 0;
	if (!live && r->kind == STAGING_DELETE && (!changed || replaced))
		/* deleted (or updated: deleted, added anew) by another
		 * writer, or gone with the table it replaced: nothing left
		 * to delete */
		return lc_err_set(err, ENOENT, LC_EK_USAGE, __FILE__,
				  __LINE__, "%s: not deleted: another writer "
				  "%s after version %" PRIu64 " first; the "
				  "staged deletion is dropped", r->name,
				  replaced ? "replaced the table" :
					     "deleted or rewrote the row",
				  r->base.version);
	if (!live)	/* ESTALE: the row is not where it was */
		return lc_err_set(err, ESTALE, LC_EK_USAGE, __FILE__,
				  __LINE__, "%s: the row was deleted or "
				  "rewritten by another writer after version "
				  "%" PRIu64 "; remove the staged change",
				  r->name, r->base.version);
	if (!changed)
		return check_columns(r, st, s, h, cols, err);
	return lc_err_set(err, EINVAL, LC_EK_USAGE, __FILE__, __LINE__,
			  "%s: the row changed after version %" PRIu64 " (%s); "
			  "remove the staged change", r->name,
			  r->base.version, why.msg);
}

/* What other writers did since the oldest base of the changes in `l`
 * older than `read_version`: *out stays NULL when there is none. */
static int bases_history(struct lance_history **out, struct ostore *st,
			 const struct staged_list *l, uint64_t read_version,
			 struct lc_err *err)
{
	uint64_t from = read_version;

	*out = NULL;
	for (size_t i = 0; i < l->n; i++)
		if ((l->v[i].kind == STAGING_UPDATE ||
		     l->v[i].kind == STAGING_DELETE) &&
		    l->v[i].base.version < from)
			from = l->v[i].base.version;
	if (from == read_version)
		return 0;
	return lance_history_load(out, st, from, read_version, err);
}

/* *version: the version transaction `uuid` landed in after `since`, or
 * 0 (also when there is no dataset yet). */
static int landed_in(uint64_t *version, struct ostore *st, const char *uuid,
		     uint64_t since, struct lc_err *err)
{
	struct lc_err e2 = { 0 };
	bool found = false;
	int rc = lance_find_transaction(&found, version, st, since, uuid,
					&e2);

	if (rc && rc != ENOENT) {
		*err = e2;
		return rc;
	}
	if (rc || !found)
		*version = 0;
	return 0;
}

/* An earlier attempt of the rows `l` that landed after all: they leave
 * the staging with its version. */
static int settle_landed(uint64_t *new_version, uint64_t *n_committed,
			 struct ostore *st, struct staging *stg,
			 const struct ingest_attempt *again,
			 const struct staged_list *l, struct lc_err *err)
{
	struct staging_batch b = { .n_rows = l->n };
	uint64_t v;
	int rc = landed_in(&v, st, again->uuid, again->since, err);

	if (rc || !v)
		return rc;
	memcpy(b.uuid, again->uuid, sizeof(b.uuid));
	if (!(b.rows = lc_malloc((l->n ? l->n : 1) * sizeof(*b.rows))))
		return LC_NOMEM(err);
	for (size_t i = 0; i < l->n; i++)
		b.rows[i] = l->v[i].id;
	rc = staging_batch_done(stg, &b, err);
	staging_batch_reset(&b);
	if (rc)
		return rc;
	*new_version = v;
	if (n_committed)
		*n_committed = l->n;
	return 0;
}

int ingest_commit_rows(uint64_t *new_version, uint64_t *n_committed,
		       struct ostore *st, struct staging *stg,
		       const uint64_t *only, size_t n_only,
		       uint64_t read_version, struct ingest_attempt *again,
		       const struct lance_schema *schema,
		       const struct ingest_opts *opts,
		       ingest_refused_cb refused,
		       ingest_unchanged_cb unchanged, ingest_landed_cb landed,
		       void *ctx, struct lc_err *err)
{
	struct staged_list l = { .stg = stg, .err = err };
	struct ingest_opts o = { 0 };
	struct lance_schema inferred = { 0 };
	struct lance_snapshot *snap = NULL;
	struct lance_history *hist = NULL;
	struct ingest_rows *r = NULL;
	struct ingest_src *src = NULL;
	struct dels dels = { 0 };
	struct frags frags = { 0 };
	struct plan p = { 0 };
	struct lc_err no_files = { 0 };	/* why no data file is written */
	uint64_t *ids = NULL, *sorted = NULL;
	size_t n_ids = 0, n_src = 0;
	struct held held = { .l = &l, .n_ids = &n_ids, .dels = &dels,
			     .o = &o, .refused = refused, .ctx = ctx };
	char *cfg_name = NULL, data_format[16];
	struct cols_seen cols = { 0 };
	bool reused = again && again->uuid[0];
	int rc = 0;

	*new_version = 0;
	if (n_committed)
		*n_committed = 0;
	if (opts)
		o = *opts;
	p.major = 2;
	p.create = schema == NULL;
	p.read_version = read_version;
	if (only) {
		sorted = lc_malloc((n_only ? n_only : 1) * sizeof(*sorted));
		if (!sorted)
			return LC_NOMEM(err);
		if (n_only)
			memcpy(sorted, only, n_only * sizeof(*sorted));
		qsort(sorted, n_only, sizeof(*sorted), cmp_id);
		l.only = sorted;
		l.n_only = n_only;
	}
	rc = staging_rows(stg, staged_cb, &l, err);
	if (!rc && reused)
		rc = settle_landed(new_version, n_committed, st, stg, again,
				   &l, err);
	if (rc || !l.n || *new_version)
		goto out;
	if (p.create) {
		src = lc_calloc(l.n, sizeof(*src));
		if (!src) {
			rc = LC_NOMEM(err);
			goto out;
		}
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].kind == STAGING_UPDATE ||
			    l.v[i].kind == STAGING_DELETE)
				continue;
			src[n_src].path = l.v[i].path;
			src[n_src].name = l.v[i].name;
			src[n_src++].is_file = l.v[i].is_file;
		}
		rc = ingest_infer_schema(&inferred, src, n_src, &o, err);
		if (rc)
			goto out;
		schema = &inferred;
		if (!o.name_column)
			o.name_column = "name";
		rc = parse_format(&p.major, &p.minor, o.format_version, err);
	} else {
		rc = lance_snapshot_open(&snap, st, read_version, err);
		/* files of a version not written (legacy 0.1) still take
		 * deletions; new rows and edits are refused below */
		if (!rc && dataset_format(&p.major, &p.minor, &cfg_name, snap,
					  &no_files) != 0 &&
		    no_files.kind != LC_EK_UNSUPPORTED) {
			*err = no_files;
			rc = no_files.code;
		}
		if (!rc)
			rc = bases_history(&hist, st, &l, read_version, err);
		if (!o.name_column)
			o.name_column = cfg_name;
		/* a name column the dataset lacks (a member made without
		 * it, a version that dropped it) would lose the names */
		if (!rc && o.name_column && *o.name_column &&
		    !lance_schema_field_by_name(schema, o.name_column))
			rc = LC_USAGE(err, "%s: no column %s to hold the staged "
				      "rows' names (name_column=); they stay "
				      "staged", st->root, o.name_column);
	}
	if (!rc)
		rc = ingest_rows_new(&r, schema, &o,
				     p.major == 2 && p.minor == 0, err);
	ids = lc_calloc(l.n, sizeof(*ids));
	held.ids = ids;
	held.rows = lc_calloc(l.n, sizeof(*held.rows));
	if (!rc && (!ids || !held.rows))
		rc = LC_NOMEM(err);
	if (rc)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		const struct staged *sr = &l.v[i];
		bool upd = sr->kind == STAGING_UPDATE;
		struct lc_err why = { 0 };

		if (upd || sr->kind == STAGING_DELETE)
			rc = snap ? check_base(sr, snap, hist, st, &cols,
					       &why) :
				    lc_err_set(&why, EINVAL, LC_EK_USAGE,
					       __FILE__, __LINE__, "%s: no "
					       "committed row to change",
					       sr->name);
		if (!rc && sr->kind != STAGING_DELETE && no_files.code) {
			if (refused)
				refused(ctx, sr->id, sr->name, &no_files);
			continue;
		}
		if (!rc && upd && unchanged && unchanged(ctx, sr->id))
			continue;
		if (!rc && sr->kind != STAGING_DELETE)
			rc = ingest_row(r, sr->path, sr->name, sr->is_file,
					&why);
		if (rc == INGEST_FULL) {	/* in the next data file */
			rc = flush_held(&frags, st, r, &p, &held, err);
			if (rc)
				goto out;
			lc_err_clear(&why);
			rc = ingest_row(r, sr->path, sr->name, sr->is_file,
					&why);
		}
		/* ENOENT: a deletion whose row is gone already; ESTALE:
		 * a change whose row is not where it was */
		if ((rc == EINVAL || rc == ENOENT || rc == ESTALE) &&
		    why.kind == LC_EK_USAGE) {
			if (refused)
				refused(ctx, sr->id, sr->name, &why);
			rc = 0;
			continue;
		}
		if (rc) {
			*err = why;
			goto out;
		}
		if (upd || sr->kind == STAGING_DELETE) {
			rc = dels_add(&dels, sr->base.fragment_id,
				      sr->base.offset, err);
			if (rc)
				goto out;
		}
		ids[n_ids++] = sr->id;
		if (sr->kind != STAGING_DELETE)
			held.rows[held.n++] = i;
		if (rows_bytes(r) >= FRAGMENT_BYTES &&
		    (rc = flush_held(&frags, st, r, &p, &held, err)))
			goto out;
	}
	rc = flush_held(&frags, st, r, &p, &held, err);
	if (rc || !n_ids)
		goto out;
	rc = put_wait(&frags.put, err);
	if (rc)
		goto out;
	snprintf(data_format, sizeof(data_format), "%u.%u", p.major, p.minor);
	p.data_format = data_format;	/* "next" as the version it is */
	p.name_column = o.name_column;
	p.ids = ids;
	p.n_ids = n_ids;
	p.dels = &dels;
	p.again = again;
	p.landed = landed;
	p.ctx = ctx;
	rc = commit_rows(new_version, st, stg, r->schema, &frags, &p, err);
	if (!rc && n_committed)
		*n_committed = n_ids;
out:
	if (!rc && reused) {	/* settled */
		struct staging_batch b = { 0 };

		/* nothing of these rows went: no late landing can add them
		 * a second time, and the record goes */
		memcpy(b.uuid, again->uuid, sizeof(b.uuid));
		if (!*new_version)
			rc = staging_batch_abandon(stg, &b, err);
		again->uuid[0] = 0;
	}
	ingest_rows_free(r);
	lance_snapshot_free(snap);
	lance_history_free(hist);
	lance_schema_reset(&inferred);
	dels_free(&dels);
	frags_free(&frags);
	lc_free(cfg_name);
	lc_free(ids);
	lc_free(held.rows);
	lc_free(sorted);
	lc_free(src);
	staged_free(&l);
	return rc;
}

int ingest_commit(uint64_t *new_version, uint64_t *n_committed,
		  struct ostore *st, struct staging *stg,
		  uint64_t read_version, const struct lance_schema *schema,
		  const struct ingest_opts *opts, ingest_refused_cb refused,
		  void *ctx, struct lc_err *err)
{
	return ingest_commit_rows(new_version, n_committed, st, stg, NULL, 0,
				  read_version, NULL, schema, opts, refused,
				  NULL, NULL, ctx, err);
}

int ingest_recover(size_t *landed, struct staging_batch **unsure,
		   size_t *n_unsure, struct ostore *st, struct staging *stg,
		   struct lc_err *err)
{
	struct staging_batch *bs = NULL;
	size_t n = 0, nl = 0, nu = 0;
	int rc = staging_batches(&bs, &n, stg, err);

	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		if (!rc)
			rc = landed_in(&v, st, bs[i].uuid,
				       bs[i].read_version, err);
		if (!rc && v) {
			rc = staging_batch_done(stg, &bs[i], err);
			nl++;
		}
		if (rc || v)
			staging_batch_reset(&bs[i]);
		else
			bs[nu++] = bs[i];	/* kept, in order */
	}
	while (rc && nu)
		staging_batch_reset(&bs[--nu]);
	if (landed)
		*landed = nl;
	*unsure = bs;
	*n_unsure = nu;
	return rc;
}
