/*
 * render.c - meta.json values, file types and safe names (VIEW.md §2).
 *
 * JSON rules, and where VIEW.md is silent our choices (man/lancefs.1):
 *   integers      exact, 64-bit included (unsigned printed unsigned)
 *   floats        shortest decimal that round-trips in the column's own
 *                 precision; integral values keep a ".0"; NaN/Inf -> null
 *   dates         YYYY-MM-DD
 *   times         HH:MM:SS with as many fraction digits as the unit has
 *   timestamps    YYYY-MM-DDTHH:MM:SS[.fraction per unit]; with a zone
 *                 the UTC instant followed by "Z"; naive ones no suffix
 *   durations     integers in the column's unit
 *   decimals      strings with exactly `scale` fraction digits
 *   binary        (nested, or fixed-size) lowercase hex strings
 *   json          (lance.json, JSONB) the JSON value itself (jsonb.c)
 *   lists, fixed-size lists -> arrays; structs -> objects;
 *   maps          arrays of {"key": k, "value": v}
 */
#include "render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonb.h"

static int put(struct lc_buf *b, const char *s, struct lc_err *err)
{
	return lc_buf_append(b, s, strlen(s), err);
}

/* Round v to the nearest value (ties to even) of a 16-bit binary float
 * with `man` mantissa bits and exponent bias `bias`, as its bits: too big
 * is infinite, NaN the quiet NaN. */
static uint16_t round_small(double v, int man, int bias)
{
	uint16_t sign = signbit(v) ? 0x8000 : 0;
	unsigned inf = (2u * (unsigned)bias + 1) << man;
	double a = fabs(v), f, m;
	int e;

	if (isnan(v))
		return (uint16_t)(inf | 1u << (man - 1));
	if (isinf(v))
		return sign | (uint16_t)inf;
	if (a < ldexp(1, 1 - bias))	/* subnormal (rounding up to the
					 * least normal carries right) */
		return sign | (uint16_t)nearbyint(ldexp(a, bias - 1 + man));
	f = frexp(a, &e);		/* a = f * 2^e, f in [0.5, 1) */
	m = nearbyint(ldexp(f, man + 1));
	if (m >= ldexp(1, man + 1)) {
		m /= 2;
		e++;
	}
	if ((unsigned)(e - 1 + bias) << man >= inf)
		return sign | (uint16_t)inf;
	return sign | (uint16_t)((unsigned)(e - 1 + bias) << man |
				 ((unsigned)m & ((1u << man) - 1)));
}

uint16_t render_to_half(double v)
{
	return round_small(v, 10, 15);
}

uint16_t render_to_bf16(double v)
{
	return round_small(v, 7, 127);
}

double render_bf16_to_double(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

double render_half_to_double(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	double v;

	if (exp == 0)
		v = ldexp(man, -24);
	else if (exp == 31)
		v = man ? NAN : INFINITY;
	else
		v = ldexp(man | 0x400, exp - 25);
	return sign ? -v : v;
}

enum width { F64, F32, F16, BF16 };

static bool reads_back(const char *s, double v, enum width w)
{
	switch (w) {
	case F64:
		return strtod(s, NULL) == v;
	case F32:
		return strtof(s, NULL) == (float)v;
	case F16:
		return render_to_half(strtod(s, NULL)) == render_to_half(v);
	default:
		return render_to_bf16(strtod(s, NULL)) == render_to_bf16(v);
	}
}

/*
 * The shortest digits that read back as the value in its width, as
 * Python's repr writes them: plain from 1e-4 up to 1e16 (%g writes 30.0
 * as 3e+01), with an exponent outside; integral values keep a ".0".
 */
static void shortest(char *out, size_t cap, double v, enum width w)
{
	const char *e;
	int prec, x;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (reads_back(out, v, w))
			break;
	}
	if (!strchr(out, 'e') && fabs(v) >= 1e16 && isfinite(v))
		/* %g writes up to 17 digits plain (1.2877670929382192e+16
		 * as 12877670929382192); Python from 1e16 on does not */
		snprintf(out, cap, "%.*e", prec - 1, v);
	if ((e = strchr(out, 'e')) && (x = atoi(e + 1)) >= -4 && x < 16) {
		char plain[64];

		if (x >= prec - 1) {
			/* the shortest digits, then zeros: %.0f would write
			 * the value's own digits past them (a halffloat's
			 * -48544 for -4.854e+04) */
			int k = 0, nd = 0;

			if (out[0] == '-')
				plain[k++] = '-';
			for (const char *q = out; q < e; q++)
				if (*q >= '0' && *q <= '9')
					plain[k++] = *q, nd++;
			while (nd++ <= x)
				plain[k++] = '0';
			plain[k] = 0;
		} else {
			snprintf(plain, sizeof(plain), "%.*f", prec - 1 - x,
				 v);
		}
		if (strlen(plain) < cap && reads_back(plain, v, w))
			memcpy(out, plain, strlen(plain) + 1);
	}
	if (!strpbrk(out, ".enN"))
		strncat(out, ".0", cap - strlen(out) - 1);
}

void render_double(char *out, size_t cap, double v)
{
	shortest(out, cap, v, F64);
}

void render_float(char *out, size_t cap, float v)
{
	shortest(out, cap, (double)v, F32);
}

void render_half(char *out, size_t cap, uint16_t h)
{
	shortest(out, cap, render_half_to_double(h), F16);
}

void render_bf16(char *out, size_t cap, uint16_t h)
{
	shortest(out, cap, render_bf16_to_double(h), BF16);
}

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int put_date(struct lc_buf *b, int64_t days, struct lc_err *err)
{
	int64_t y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		return lc_buf_printf(b, err, "%04" PRId64 "-%02u-%02u", y, m,
				     d);
	return lc_buf_printf(b, err, "%+05" PRId64 "-%02u-%02u", y, m, d);
}

static const int64_t unit_per_sec[] = { 1, 1000, 1000000, 1000000000 };
static const int unit_digits[] = { 0, 3, 6, 9 };

/* Split a count of `unit` into floor seconds and a non-negative fraction. */
static void split_units(int64_t v, enum lance_time_unit u, int64_t *sec,
			int64_t *frac)
{
	int64_t per = unit_per_sec[u];

	*sec = v / per;
	*frac = v % per;
	if (*frac < 0) {
		*frac += per;
		(*sec)--;
	}
}

static int put_clock(struct lc_buf *b, int64_t sec_of_day, int64_t frac,
		     enum lance_time_unit u, struct lc_err *err)
{
	int rc = lc_buf_printf(b, err, "%02d:%02d:%02d",
			       (int)(sec_of_day / 3600),
			       (int)(sec_of_day / 60 % 60),
			       (int)(sec_of_day % 60));

	if (!rc && unit_digits[u])
		rc = lc_buf_printf(b, err, ".%0*" PRId64, unit_digits[u],
				   frac);
	return rc;
}

static int put_timestamp(struct lc_buf *b, int64_t v,
			 const struct lance_type *t, struct lc_err *err)
{
	int64_t sec, frac, days, sod;
	int rc;

	split_units(v, t->unit, &sec, &frac);
	days = sec / 86400;
	sod = sec % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	rc = put(b, "\"", err);
	if (!rc)
		rc = put_date(b, days, err);
	if (!rc)
		rc = put(b, "T", err);
	if (!rc)
		rc = put_clock(b, sod, frac, t->unit, err);
	if (!rc && t->tz && *t->tz)
		rc = put(b, "Z", err);
	if (!rc)
		rc = put(b, "\"", err);
	return rc;
}

static int put_time(struct lc_buf *b, int64_t v, const struct lance_type *t,
		    struct lc_err *err)
{
	int64_t sec, frac;
	int rc;

	split_units(v, t->unit, &sec, &frac);
	sec %= 86400;
	if (sec < 0)
		sec += 86400;
	rc = put(b, "\"", err);
	if (!rc)
		rc = put_clock(b, sec, frac, t->unit, err);
	if (!rc)
		rc = put(b, "\"", err);
	return rc;
}

int render_decimal(struct lc_buf *b, const uint8_t *p, size_t n, int scale,
		   bool quoted, struct lc_err *err)
{
	uint32_t limb[8];	/* up to 256 bits, little-endian limbs */
	size_t nl = n / 4;
	char digits[80 + 128];	/* 78 digits at most, then up to a
				 * scale of 127 in leading zeros */
	int nd = 0, neg = p[n - 1] >> 7, rc;

	for (size_t i = 0; i < nl; i++)
		limb[i] = lc_le32(p + 4 * i);
	if (neg) {	/* negate: invert and add one */
		uint64_t carry = 1;

		for (size_t i = 0; i < nl; i++) {
			uint64_t s = (uint64_t)(uint32_t)~limb[i] + carry;

			limb[i] = (uint32_t)s;
			carry = s >> 32;
		}
	}
	for (;;) {
		uint64_t rem = 0;
		int zero = 1;

		for (size_t i = nl; i-- > 0;) {
			uint64_t cur = rem << 32 | limb[i];

			limb[i] = (uint32_t)(cur / 10);
			rem = cur % 10;
			if (limb[i])
				zero = 0;
		}
		digits[nd++] = (char)('0' + rem);
		if (zero)
			break;
	}
	if (scale > 127 || scale < -128)
		return LC_CORRUPT(err, "decimal scale %d", scale);
	while (nd <= scale)
		digits[nd++] = '0';
	rc = put(b, neg ? (quoted ? "\"-" : "-") : (quoted ? "\"" : ""),
		 err);
	for (int i = nd - 1; !rc && i >= 0; i--) {
		char c[3] = { digits[i], 0, 0 };

		if (i == scale - 1 && scale > 0) {
			c[0] = '.';
			c[1] = digits[i];
		}
		rc = put(b, c, err);
	}
	/* a negative scale: the digits count tens, hundreds, ... */
	for (int z = scale; !rc && z < 0 && !(nd == 1 && digits[0] == '0');
	     z++)
		rc = put(b, "0", err);
	if (!rc && quoted)
		rc = put(b, "\"", err);
	return rc;
}

static int put_hex(struct lc_buf *b, const uint8_t *p, size_t n,
		   struct lc_err *err)
{
	static const char hex[] = "0123456789abcdef";
	int rc = lc_buf_reserve(b, 2 * n + 2, err);

	if (rc)
		return rc;
	b->data[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = (uint8_t)hex[p[i] >> 4];
		b->data[b->len++] = (uint8_t)hex[p[i] & 15];
	}
	b->data[b->len++] = '"';
	b->data[b->len] = 0;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

int render_json_string(struct lc_buf *b, const char *str, size_t n,
		       struct lc_err *err)
{
	const uint8_t *s = (const uint8_t *)str;
	int rc = put(b, "\"", err);

	for (size_t i = 0; !rc && i < n;) {
		uint8_t c = s[i];
		size_t len;

		if (c == '"' || c == '\\') {
			char e[3] = { '\\', (char)c, 0 };

			rc = put(b, e, err);
			i++;
		} else if (c < 0x20) {
			static const char *named[32] = {
				['\b'] = "\\b", ['\f'] = "\\f",
				['\n'] = "\\n", ['\r'] = "\\r",
				['\t'] = "\\t",
			};
			if (named[c])
				rc = put(b, named[c], err);
			else
				rc = lc_buf_printf(b, err, "\\u%04x", c);
			i++;
		} else if ((len = utf8_len(s + i, n - i))) {
			rc = lc_buf_append(b, s + i, len, err);
			i += len;
		} else {
			rc = put(b, "\xef\xbf\xbd", err);	/* U+FFFD */
			i++;
		}
	}
	if (!rc)
		rc = put(b, "\"", err);
	return rc;
}

static _Thread_local bool exact;

void render_exact(bool on)
{
	exact = on;
}

static int put_float_json(struct lc_buf *b, double v, const char *text,
			  struct lc_err *err)
{
	const char *name = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

	if (!isnan(v) && !isinf(v))
		return put(b, text, err);
	if (!exact)
		return put(b, "null", err);
	/* the mark's NUL written as JSON writes it */
	return lc_buf_printf(b, err, "\"\\u0000%s%s\"",
			     &RENDER_FLOAT_MARK[1], name);
}

/* A bfloat16 vector: its n items from `from` of `items`, two bytes
 * each (fixed_size_binary(2) under the extension), as numbers. */
static int put_bf16s(struct lc_buf *b, const struct lance_array *items,
		     uint64_t from, uint64_t n, struct lc_err *err)
{
	char num[64];
	int rc = put(b, "[", err);

	for (uint64_t j = from; !rc && j < from + n; j++) {
		uint16_t h = lc_le16(items->values + 2 * j);

		if (j > from)
			rc = put(b, ",", err);
		if (rc)
			break;
		if (!lance_array_is_valid(items, j)) {
			rc = put(b, "null", err);
			continue;
		}
		render_bf16(num, sizeof(num), h);
		rc = put_float_json(b, render_bf16_to_double(h), num, err);
	}
	return rc ? rc : put(b, "]", err);
}

int render_json_value(struct lc_buf *b, const struct lance_array *a,
		      uint64_t i, struct lc_err *err)
{
	const struct lance_type *t = a->type;
	const uint8_t *v;
	unsigned w = lance_type_width(t);
	char num[64];
	int rc = 0;

	if (!lance_array_is_valid(a, i) || t->id == LANCE_T_NULL)
		return put(b, "null", err);
	v = a->values ? a->values + i * w : NULL;
	switch (t->id) {
	case LANCE_T_BOOL:
		return put(b, (a->values[i >> 3] >> (i & 7)) & 1 ? "true" :
			   "false", err);
	case LANCE_T_INT8:
		return lc_buf_printf(b, err, "%d", (int8_t)v[0]);
	case LANCE_T_UINT8:
		return lc_buf_printf(b, err, "%u", v[0]);
	case LANCE_T_INT16:
		return lc_buf_printf(b, err, "%d", (int16_t)lc_le16(v));
	case LANCE_T_UINT16:
		return lc_buf_printf(b, err, "%u", lc_le16(v));
	case LANCE_T_INT32:
		return lc_buf_printf(b, err, "%" PRId32, (int32_t)lc_le32(v));
	case LANCE_T_UINT32:
		return lc_buf_printf(b, err, "%" PRIu32, lc_le32(v));
	case LANCE_T_INT64:
	case LANCE_T_DURATION:
		return lc_buf_printf(b, err, "%" PRId64, (int64_t)lc_le64(v));
	case LANCE_T_UINT64:
		return lc_buf_printf(b, err, "%" PRIu64, lc_le64(v));
	case LANCE_T_FLOAT16: {
		uint16_t h = lc_le16(v);

		render_half(num, sizeof(num), h);
		return put_float_json(b, render_half_to_double(h), num, err);
	}
	case LANCE_T_FLOAT32: {
		float f;

		memcpy(&f, v, 4);
		render_float(num, sizeof(num), f);
		return put_float_json(b, f, num, err);
	}
	case LANCE_T_FLOAT64: {
		double d;

		memcpy(&d, v, 8);
		render_double(num, sizeof(num), d);
		return put_float_json(b, d, num, err);
	}
	case LANCE_T_UTF8:
		return render_json_string(b, (const char *)a->values +
					  a->offsets[i],
					  (size_t)(a->offsets[i + 1] -
						   a->offsets[i]), err);
	case LANCE_T_BINARY:
		if (t->json)
			return jsonb_to_json(b, a->values + a->offsets[i],
					     (size_t)(a->offsets[i + 1] -
						      a->offsets[i]), err);
		return put_hex(b, a->values + a->offsets[i],
			       (size_t)(a->offsets[i + 1] - a->offsets[i]),
			       err);
	case LANCE_T_FIXED_BINARY:
		return put_hex(b, v, w, err);
	case LANCE_T_DATE32:
		rc = put(b, "\"", err);
		if (!rc)
			rc = put_date(b, (int32_t)lc_le32(v), err);
		return rc ? rc : put(b, "\"", err);
	case LANCE_T_DATE64: {
		/* a day (milliseconds at midnight, as Arrow means them), or
		 * the instant in it that a value off midnight holds */
		static const struct lance_type ms = {
			.id = LANCE_T_TIMESTAMP, .unit = LANCE_UNIT_MS };
		int64_t t64 = (int64_t)lc_le64(v), days = t64 / 86400000;

		if (t64 % 86400000)
			return put_timestamp(b, t64, &ms, err);
		rc = put(b, "\"", err);
		if (!rc)
			rc = put_date(b, days, err);
		return rc ? rc : put(b, "\"", err);
	}
	case LANCE_T_TIME32:
		return put_time(b, (int32_t)lc_le32(v), t, err);
	case LANCE_T_TIME64:
		return put_time(b, (int64_t)lc_le64(v), t, err);
	case LANCE_T_TIMESTAMP:
		return put_timestamp(b, (int64_t)lc_le64(v), t, err);
	case LANCE_T_DECIMAL128:
	case LANCE_T_DECIMAL256:
		return render_decimal(b, v, w, t->scale, true, err);
	case LANCE_T_LIST:
	case LANCE_T_FIXED_LIST: {
		const struct lance_array *items = &a->children[0];
		uint64_t lo, hi;

		if (t->bfloat16)
			return put_bf16s(b, items, i * (uint64_t)t->width,
					 (uint64_t)t->width, err);

		if (t->id == LANCE_T_LIST) {
			lo = a->offsets[i];
			hi = a->offsets[i + 1];
		} else {
			lo = i * (uint64_t)t->width;
			hi = lo + (uint64_t)t->width;
		}
		rc = put(b, "[", err);
		for (uint64_t j = lo; !rc && j < hi; j++) {
			if (j > lo)
				rc = put(b, ",", err);
			if (!rc)
				rc = render_json_value(b, items, j, err);
		}
		return rc ? rc : put(b, "]", err);
	}
	case LANCE_T_MAP: {
		const struct lance_array *ent = &a->children[0];

		rc = put(b, "[", err);
		for (uint64_t j = a->offsets[i];
		     !rc && j < a->offsets[i + 1]; j++) {
			if (j > a->offsets[i])
				rc = put(b, ",", err);
			if (!rc)
				rc = put(b, "{\"key\":", err);
			if (!rc && ent->n_children > 0)
				rc = render_json_value(b, &ent->children[0],
						       j, err);
			if (!rc)
				rc = put(b, ",\"value\":", err);
			if (!rc && ent->n_children > 1)
				rc = render_json_value(b, &ent->children[1],
						       j, err);
			if (!rc)
				rc = put(b, "}", err);
		}
		return rc ? rc : put(b, "]", err);
	}
	case LANCE_T_STRUCT:
		rc = put(b, "{", err);
		for (size_t c = 0; !rc && c < a->n_children; c++) {
			const struct lance_array *ch = &a->children[c];
			const char *name = ch->field ? ch->field->name : "";

			if (c)
				rc = put(b, ",", err);
			if (!rc)
				rc = render_json_string(b, name, strlen(name),
							err);
			if (!rc)
				rc = put(b, ":", err);
			if (!rc)
				rc = render_json_value(b, ch, i, err);
		}
		return rc ? rc : put(b, "}", err);
	default:
		return put(b, "null", err);
	}
}

static int has(const uint8_t *h, size_t n, size_t off, const char *magic,
	       size_t len)
{
	return n >= off + len && !memcmp(h + off, magic, len);
}

enum {
	SNIFF_JPG,
	SNIFF_PNG,
	SNIFF_GIF,
	SNIFF_WEBP,
	SNIFF_WAV,
	SNIFF_BMP,
	SNIFF_TIF,
	SNIFF_AVIF,
	SNIFF_HEIC,
	SNIFF_MP4,
	SNIFF_FLAC,
	SNIFF_PDF,
	SNIFF_NPY,
	SNIFF_BIN,
};

const char *const render_sniff_exts[RENDER_SNIFF_N] = {
	[SNIFF_JPG] = "jpg",
	[SNIFF_PNG] = "png",
	[SNIFF_GIF] = "gif",
	[SNIFF_WEBP] = "webp",
	[SNIFF_WAV] = "wav",
	[SNIFF_BMP] = "bmp",
	[SNIFF_TIF] = "tif",
	[SNIFF_AVIF] = "avif",
	[SNIFF_HEIC] = "heic",
	[SNIFF_MP4] = "mp4",
	[SNIFF_FLAC] = "flac",
	[SNIFF_PDF] = "pdf",
	[SNIFF_NPY] = "npy",
	[SNIFF_BIN] = "bin",
};

unsigned render_sniff(const uint8_t *h, size_t n)
{
	if (has(h, n, 0, "\xff\xd8\xff", 3))
		return SNIFF_JPG;
	if (has(h, n, 0, "\x89PNG\r\n\x1a\n", 8))
		return SNIFF_PNG;
	if (has(h, n, 0, "GIF87a", 6) || has(h, n, 0, "GIF89a", 6))
		return SNIFF_GIF;
	if (has(h, n, 0, "RIFF", 4) && has(h, n, 8, "WEBP", 4))
		return SNIFF_WEBP;
	if (has(h, n, 0, "RIFF", 4) && has(h, n, 8, "WAVE", 4))
		return SNIFF_WAV;
	if (has(h, n, 0, "BM", 2))
		return SNIFF_BMP;
	if (has(h, n, 0, "II*\0", 4) || has(h, n, 0, "MM\0*", 4))
		return SNIFF_TIF;
	if (has(h, n, 4, "ftyp", 4) && n >= 12) {	/* the box needs a brand */
		if (has(h, n, 8, "avif", 4) || has(h, n, 8, "avis", 4))
			return SNIFF_AVIF;
		if (has(h, n, 8, "heic", 4) || has(h, n, 8, "heix", 4) ||
		    has(h, n, 8, "mif1", 4) || has(h, n, 8, "msf1", 4))
			return SNIFF_HEIC;
		return SNIFF_MP4;
	}
	if (has(h, n, 0, "fLaC", 4))
		return SNIFF_FLAC;
	if (has(h, n, 0, "%PDF-", 5))
		return SNIFF_PDF;
	if (has(h, n, 0, "\x93NUMPY", 6))
		return SNIFF_NPY;
	return SNIFF_BIN;
}

/*
 * Row and file names escape as little as they can: '/', NUL and a
 * leading '.' become %2F, %00 and %2E, and a '%' is written %25 only
 * where it would read as one of those (or as %25 before one: "%252F" is
 * the value "%2F"), so "50% off", "cat%20photo" and "100%25" are
 * themselves. "@versions" and "@tags" show as %40versions and %40tags
 * (render_row_name), so "%40versions" escapes too.
 *
 * Whether s[j..n) starts an escape's code after its '%': "25"s, then 2F
 * or 00, or, for a '%' that starts the name (`first`), 2E or the rest
 * of %40versions or %40tags.
 */
static bool code_at(const char *s, size_t n, size_t j, bool first)
{
	while (n - j >= 2 && s[j] == '2' && s[j + 1] == '5')
		j += 2;
	if (n - j < 2)
		return false;
	if (!memcmp(s + j, "2F", 2) || !memcmp(s + j, "00", 2))
		return true;
	return first && (!memcmp(s + j, "2E", 2) ||
			 (n - j == 10 && !memcmp(s + j, "40versions", 10)) ||
			 (n - j == 6 && !memcmp(s + j, "40tags", 6)));
}

static bool escape_at(const char *s, size_t n, size_t i)
{
	return s[i] == '%' && code_at(s, n, i + 1, i == 0);
}

void render_cut(char *name, size_t max)
{
	size_t n = strlen(name);

	if (n <= max)
		return;
	n = max;
	while (n && ((unsigned char)name[n] & 0xc0) == 0x80)
		n--;			/* a character's continuation */
	if (n >= 2 && name[n - 2] == '%')
		n -= 2;
	else if (n >= 1 && name[n - 1] == '%')
		n -= 1;
	name[n] = 0;
}

char *render_column_stem(const char *name)
{
	char *e = render_escape_name(name, strlen(name));

	if (e && strlen(e) > 255 - 1 - RENDER_EXT_MAX) {
		/* the escaped name is longer than what is cut to */
		render_cut(e, 255 - 1 - RENDER_EXT_MAX - 9);
		sprintf(e + strlen(e), "~%08x",
			(unsigned)(lc_hash_str(name) & 0xffffffffu));
	}
	return e;
}

char *render_escape_name(const char *s, size_t n)
{
	char *out = lc_malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == 0 || (i == 0 && c == '.') ||
		    escape_at(s, n, i)) {
			snprintf(o, 4, "%%%02X", c);
			o += 3;
		} else {
			*o++ = (char)c;
		}
	}
	*o = 0;
	return out;
}

char *render_row_name(const char *s, size_t n)
{
	char *out = render_escape_name(s, n);

	/* not hidden behind the mount's own folders */
	if (out && ((n == 9 && !memcmp(s, "@versions", 9)) ||
		    (n == 5 && !memcmp(s, "@tags", 5)))) {
		memmove(out + 3, out + 1, n);	/* 3n+1 bytes were made */
		memcpy(out, "%40", 3);
	}
	return out;
}

int render_row_value(char **out, const char *name)
{
	size_t n = strlen(name), k = 0;
	char *v = lc_malloc(n + 1), *back;
	int rc;

	*out = NULL;
	if (!v)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *e = name + i;
		bool at0 = i == 0, more = n - i >= 3;

		if (more && !memcmp(e, "%2F", 3))
			v[k++] = '/';
		else if (more && at0 && !memcmp(e, "%2E", 3))
			v[k++] = '.';
		else if (at0 && (!strcmp(e, "%40versions") ||
				 !strcmp(e, "%40tags")))
			v[k++] = '@';
		else if (more && !memcmp(e, "%25", 3) &&
			 code_at(name, n, i + 3, at0))
			v[k++] = '%';
		else {
			v[k++] = *e;	/* "%00" too: no value shows so */
			continue;
		}
		i += 2;
	}
	v[k] = 0;
	back = render_row_name(v, k);
	/* a leading '.' shows as %2E (a dot folder would hide the row) */
	rc = !back ? ENOMEM :
	     !strcmp(back, name) ||
	     (*name == '.' && !strncmp(back, "%2E", 3) &&
	      !strcmp(back + 3, name + 1)) ? 0 : EINVAL;
	lc_free(back);
	if (rc)
		lc_free(v);
	else
		*out = v;
	return rc;
}
