/*
 * jsonb.c - JSONB as lance 12 stores JSON columns: the "databend" format
 * of the Rust jsonb crate, version 0.5.6 (src/core/databend/), which lance
 * writes with jsonb::parse_value(text).to_vec() and reads with
 * RawJsonb::to_string().
 *
 * A value is a container: a big-endian u32 header whose top three bits
 * give its kind and whose low 29 bits count its members, then
 *   0x20000000       scalar: one JEntry, then its payload
 *   0x80000000 | n   array: n JEntries, then the n payloads in order
 *   0x40000000 | n   object: n key JEntries, n value JEntries, the n key
 *                    payloads, then the n value payloads
 * A JEntry is a big-endian u32: bit 31 would mark an offset instead of a
 * length (the crate never writes one), bits 28-30 the type and the low 28
 * bits the payload's length:
 *   0 null, 3 false, 4 true (no payload); 1 string (its UTF-8 bytes);
 *   2 number; 5 container (a nested value, header and all);
 *   6 extension (dates, timestamps, binary: never made from JSON text).
 * A number payload starts with a tag byte:
 *   0x00 zero; 0x10 NaN, 0x20 +inf, 0x30 -inf (nothing follows)
 *   0x40 int64, 0x50 uint64: in 1, 2, 4 or 8 big-endian bytes
 *   0x60 float64: 8 big-endian bytes
 *   0x70 decimal: a big-endian two's complement value of 8, 16 or 32
 *        bytes, then the scale (an older form puts a precision byte
 *        before the scale of the 16- and 32-byte ones)
 *
 * What lance writes for JSON text (the crate's parse_value without its
 * arbitrary_precision feature, which lance does not enable, so no
 * decimals): an integer without fraction or exponent is a uint64 when it
 * is in 0..2^64-1 and an int64 when it is negative and in range, in the
 * shortest width that holds it (0 and -0 are the zero tag, 5 is 50 05,
 * -5 is 40 fb); every other number is a float64. Object keys are sorted
 * by their bytes and may not repeat. tests/unit/test_jsonb.c holds bytes
 * LanceDB 0.39 (lance 12.0.0) wrote, and checks both directions on them.
 *
 * The decoder reads untrusted bytes: every length is checked against its
 * container before it is used, a container must be filled exactly, and
 * recursion stops at JSONB_MAX_DEPTH. Text is written as it is decoded;
 * a value that fails is cut off again, whole.
 */
#include "jsonb.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

#define HDR_KIND 0xe0000000u
#define HDR_COUNT 0x1fffffffu
#define HDR_SCALAR 0x20000000u
#define HDR_OBJECT 0x40000000u
#define HDR_ARRAY 0x80000000u

#define JE_OFFSET 0x80000000u
#define JE_TYPE 0x70000000u
#define JE_LEN 0x0fffffffu
#define JE_NULL 0x00000000u
#define JE_STRING 0x10000000u
#define JE_NUMBER 0x20000000u
#define JE_FALSE 0x30000000u
#define JE_TRUE 0x40000000u
#define JE_CONTAINER 0x50000000u
#define JE_EXTENSION 0x60000000u

#define NUM_ZERO 0x00
#define NUM_NAN 0x10
#define NUM_INF 0x20
#define NUM_NEG_INF 0x30
#define NUM_INT 0x40
#define NUM_UINT 0x50
#define NUM_FLOAT 0x60
#define NUM_DECIMAL 0x70

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* An unsigned big-endian integer of n <= 8 bytes. */
static uint64_t be_n(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static int put(struct lc_buf *b, const char *s, struct lc_err *err)
{
	return lc_buf_append(b, s, strlen(s), err);
}

/* ---------------------------------------------------------------- decoding */

/* A decimal: a big-endian two's-complement value of `w` bytes. */
static int put_decimal(struct lc_buf *b, const uint8_t *p, size_t w,
		       unsigned scale, struct lc_err *err)
{
	uint8_t le[32];

	for (size_t i = 0; i < w; i++)
		le[i] = p[w - 1 - i];
	return render_decimal(b, le, w, (int)scale, false, err);
}

static int put_number(struct lc_buf *b, const uint8_t *p, size_t n,
		      struct lc_err *err)
{
	size_t w = n - 1;	/* bytes after the tag */
	char num[64];
	uint64_t u;
	double d;

	if (!n)
		return LC_CORRUPT(err, "JSONB: a number of no bytes");
	switch (p[0]) {
	case NUM_ZERO:
		if (w)
			break;
		return put(b, "0", err);
	case NUM_NAN:
	case NUM_INF:
	case NUM_NEG_INF:	/* as render.c writes them: no JSON has them */
		if (w)
			break;
		return put(b, "null", err);
	case NUM_INT:
	case NUM_UINT:
		if (w != 1 && w != 2 && w != 4 && w != 8)
			break;
		u = be_n(p + 1, w);
		if (p[0] == NUM_UINT)
			return lc_buf_printf(b, err, "%" PRIu64, u);
		if (w < 8 && u >> (8 * w - 1))	/* sign-extend */
			u |= UINT64_MAX << (8 * w);
		return lc_buf_printf(b, err, "%" PRId64, (int64_t)u);
	case NUM_FLOAT:
		if (w != 8)
			break;
		u = be_n(p + 1, 8);
		memcpy(&d, &u, sizeof(d));
		if (isnan(d) || isinf(d))
			return put(b, "null", err);
		render_double(num, sizeof(num), d);
		return put(b, num, err);
	case NUM_DECIMAL:
		/* the scale is the last byte in every form */
		if (w == 9)
			return put_decimal(b, p + 1, 8, p[w], err);
		if (w == 17 || w == 18)
			return put_decimal(b, p + 1, 16, p[w], err);
		if (w == 33 || w == 34)
			return put_decimal(b, p + 1, 32, p[w], err);
		break;
	default:
		return LC_CORRUPT(err, "JSONB: number tag 0x%02x", p[0]);
	}
	return LC_CORRUPT(err, "JSONB: number tag 0x%02x with %zu bytes",
			  p[0], w);
}

static int decode_container(struct lc_buf *b, const uint8_t *p, size_t n,
			    unsigned depth, struct lc_err *err);

/* The member with JEntry `je` and payload [p, p + n). */
static int decode_item(struct lc_buf *b, uint32_t je, const uint8_t *p,
		       size_t n, unsigned depth, struct lc_err *err)
{
	uint32_t type = je & JE_TYPE;

	if (je & JE_OFFSET)
		return LC_CORRUPT(err, "JSONB: JEntry 0x%08x holds an offset",
				  je);
	if (n && (type == JE_NULL || type == JE_FALSE || type == JE_TRUE))
		return LC_CORRUPT(err, "JSONB: %zu payload bytes for a null "
				  "or boolean", n);
	switch (type) {
	case JE_NULL:
		return put(b, "null", err);
	case JE_FALSE:
		return put(b, "false", err);
	case JE_TRUE:
		return put(b, "true", err);
	case JE_STRING:
		return render_json_string(b, (const char *)p, n, err);
	case JE_NUMBER:
		return put_number(b, p, n, err);
	case JE_CONTAINER:
		return decode_container(b, p, n, depth + 1, err);
	case JE_EXTENSION:
		return LC_UNSUPPORTED(err, "JSONB: extension values (dates, "
				      "timestamps, binary) are not shown");
	default:
		return LC_CORRUPT(err, "JSONB: JEntry type 0x%08x", type);
	}
}

static int decode_array(struct lc_buf *b, const uint8_t *p, size_t n,
			uint32_t count, unsigned depth, struct lc_err *err)
{
	uint64_t off = 4 + 4 * (uint64_t)count;
	int rc;

	if (off > n)
		return LC_CORRUPT(err, "JSONB: an array of %" PRIu32 " members "
				  "in %zu bytes", count, n);
	rc = put(b, "[", err);
	for (uint32_t i = 0; !rc && i < count; i++) {
		uint32_t je = be32(p + 4 + 4 * (size_t)i), len = je & JE_LEN;

		if (!lc_range_ok(off, len, n))
			return LC_CORRUPT(err, "JSONB: array member %" PRIu32
					  " of %" PRIu32 " bytes past the end",
					  i, len);
		if (i)
			rc = put(b, ",", err);
		if (!rc)
			rc = decode_item(b, je, p + off, len, depth, err);
		off += len;
	}
	if (!rc && off != n)
		return LC_CORRUPT(err, "JSONB: %" PRIu64 " bytes after an "
				  "array", n - off);
	return rc ? rc : put(b, "]", err);
}

static int decode_object(struct lc_buf *b, const uint8_t *p, size_t n,
			 uint32_t count, unsigned depth, struct lc_err *err)
{
	const uint8_t *je = p + 4;
	uint64_t koff = 4 + 8 * (uint64_t)count, voff;
	int rc;

	if (koff > n)
		return LC_CORRUPT(err, "JSONB: an object of %" PRIu32
				  " members in %zu bytes", count, n);
	/* the keys' payloads come first: the values start after them */
	voff = koff;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t k = be32(je + 4 * (size_t)i);

		if ((k & (JE_OFFSET | JE_TYPE)) != JE_STRING)
			return LC_CORRUPT(err, "JSONB: object key JEntry "
					  "0x%08x is no string", k);
		if (!lc_range_ok(voff, k & JE_LEN, n))
			return LC_CORRUPT(err, "JSONB: object key past the "
					  "end");
		voff += k & JE_LEN;
	}
	rc = put(b, "{", err);
	for (uint32_t i = 0; !rc && i < count; i++) {
		uint32_t klen = be32(je + 4 * (size_t)i) & JE_LEN;
		uint32_t v = be32(je + 4 * ((size_t)count + i));

		if (!lc_range_ok(voff, v & JE_LEN, n))
			return LC_CORRUPT(err, "JSONB: object value %" PRIu32
					  " of %" PRIu32 " bytes past the end",
					  i, v & JE_LEN);
		if (i)
			rc = put(b, ",", err);
		if (!rc)
			rc = render_json_string(b, (const char *)p + koff,
						klen, err);
		if (!rc)
			rc = put(b, ":", err);
		if (!rc)
			rc = decode_item(b, v, p + voff, v & JE_LEN, depth,
					 err);
		koff += klen;
		voff += v & JE_LEN;
	}
	if (!rc && voff != n)
		return LC_CORRUPT(err, "JSONB: %" PRIu64 " bytes after an "
				  "object", n - voff);
	return rc ? rc : put(b, "}", err);
}

/* The value [p, p + n), header and all, `depth` containers deep. */
static int decode_container(struct lc_buf *b, const uint8_t *p, size_t n,
			    unsigned depth, struct lc_err *err)
{
	uint32_t hdr, je;

	if (depth > JSONB_MAX_DEPTH)
		return LC_UNSUPPORTED(err, "JSONB: nested deeper than %d",
				      JSONB_MAX_DEPTH);
	if (n < 4)
		return LC_CORRUPT(err, "JSONB: a value of %zu bytes", n);
	hdr = be32(p);
	switch (hdr & HDR_KIND) {
	case HDR_SCALAR:
		if (hdr != HDR_SCALAR || n < 8)
			return LC_CORRUPT(err, "JSONB: scalar header 0x%08x "
					  "in %zu bytes", hdr, n);
		je = be32(p + 4);
		if ((je & JE_TYPE) == JE_CONTAINER || (je & JE_LEN) != n - 8)
			return LC_CORRUPT(err, "JSONB: scalar JEntry 0x%08x "
					  "for %zu bytes", je, n - 8);
		return decode_item(b, je, p + 8, n - 8, depth, err);
	case HDR_ARRAY:
		return decode_array(b, p, n, hdr & HDR_COUNT, depth, err);
	case HDR_OBJECT:
		return decode_object(b, p, n, hdr & HDR_COUNT, depth, err);
	default:
		return LC_CORRUPT(err, "JSONB: header 0x%08x", hdr);
	}
}

int jsonb_to_json(struct lc_buf *b, const uint8_t *p, size_t n,
		  struct lc_err *err)
{
	size_t start = b->len;
	int rc = decode_container(b, p, n, 1, err);

	if (rc && b->data) {
		b->len = start;
		b->data[start] = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- encoding */

/* n zero bytes, to be filled in later (JEntries). */
static int grow(struct lc_buf *b, size_t n, struct lc_err *err)
{
	int rc = lc_buf_reserve(b, n, err);

	if (rc)
		return rc;
	memset(b->data + b->len, 0, n + 1);
	b->len += n;
	return 0;
}

static int put_u32(struct lc_buf *b, uint32_t v, struct lc_err *err)
{
	int rc = grow(b, 4, err);

	if (!rc)
		put_be(b->data + b->len - 4, v, 4);
	return rc;
}

/* A JSON integer as the crate's parser takes it: uint64 unless negative,
 * in the fewest bytes of 1, 2, 4 and 8 that hold it; zero has a tag of
 * its own. */
static int enc_int(struct lc_buf *b, int64_t v, struct lc_err *err)
{
	uint8_t out[9];
	size_t w;

	if (v == 0) {
		out[0] = NUM_ZERO;
		return lc_buf_append(b, out, 1, err);
	}
	if (v > 0) {
		out[0] = NUM_UINT;
		w = v <= UINT8_MAX ? 1 : v <= UINT16_MAX ? 2 :
		    v <= UINT32_MAX ? 4 : 8;
	} else {
		out[0] = NUM_INT;
		w = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 :
		    v >= INT32_MIN ? 4 : 8;
	}
	put_be(out + 1, (uint64_t)v, w);
	return lc_buf_append(b, out, 1 + w, err);
}

/* jansson holds no NaN or infinity, so a float is always 0x60 + 8. */
static int enc_real(struct lc_buf *b, double d, struct lc_err *err)
{
	uint8_t out[9];
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	out[0] = NUM_FLOAT;
	put_be(out + 1, u, 8);
	return lc_buf_append(b, out, sizeof(out), err);
}

/* An integer literal past int64 (json_load_big): uint64 where it fits. */
static int enc_big(struct lc_buf *b, const char *lit, struct lc_err *err)
{
	uint8_t out[9] = { NUM_UINT };
	unsigned long long u;
	char *end;

	errno = 0;
	u = *lit == '-' ? 0 : strtoull(lit, &end, 10);
	if (*lit == '-' || errno || *end)
		return LC_USAGE(err, "the JSON integer %.64s does not fit in "
				"64 bits", lit);
	put_be(out + 1, (uint64_t)u, 8);
	return lc_buf_append(b, out, sizeof(out), err);
}

static int enc_container(struct lc_buf *b, const json_t *j, unsigned depth,
			 struct lc_err *err);

/* Append member `j`'s payload; *je gets its JEntry. */
static int enc_item(struct lc_buf *b, const json_t *j, uint32_t *je,
		    unsigned depth, struct lc_err *err)
{
	size_t start = b->len;
	uint32_t type;
	int rc;

	switch (json_typeof(j)) {
	case JSON_NULL:
		*je = JE_NULL;
		return 0;
	case JSON_TRUE:
		*je = JE_TRUE;
		return 0;
	case JSON_FALSE:
		*je = JE_FALSE;
		return 0;
	case JSON_INTEGER:
		type = JE_NUMBER;
		rc = enc_int(b, json_integer_value(j), err);
		break;
	case JSON_REAL:
		type = JE_NUMBER;
		rc = enc_real(b, json_real_value(j), err);
		break;
	case JSON_STRING:
		if (json_big_int(j)) {
			type = JE_NUMBER;
			rc = enc_big(b, json_big_int(j), err);
			break;
		}
		type = JE_STRING;
		rc = lc_buf_append(b, json_string_value(j),
				   json_string_length(j), err);
		break;
	default:
		type = JE_CONTAINER;
		rc = enc_container(b, j, depth + 1, err);
		break;
	}
	if (rc)
		return rc;
	if (b->len - start > JE_LEN)
		return LC_USAGE(err, "a JSON %s of %zu bytes (JSONB holds "
				"less than 256 MiB)", type == JE_STRING ?
				"string" : "array or object", b->len - start);
	*je = type | (uint32_t)(b->len - start);
	return 0;
}

static int enc_array(struct lc_buf *b, const json_t *j, unsigned depth,
		     struct lc_err *err)
{
	size_t n = json_array_size(j), at;
	int rc;

	if (n > HDR_COUNT)
		return LC_USAGE(err, "a JSON array of %zu members", n);
	rc = put_u32(b, HDR_ARRAY | (uint32_t)n, err);
	at = b->len;
	if (!rc)
		rc = grow(b, 4 * n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		uint32_t je;

		rc = enc_item(b, json_array_get(j, i), &je, depth, err);
		if (!rc)
			put_be(b->data + at + 4 * i, je, 4);
	}
	return rc;
}

static int cmp_key(const void *a, const void *b)
{
	/* strcmp compares unsigned bytes: Rust's order of str */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int enc_object(struct lc_buf *b, const json_t *j, unsigned depth,
		      struct lc_err *err)
{
	size_t n = json_object_size(j), at, i = 0;
	const char **keys, *key;
	json_t *v;
	int rc;

	if (n > HDR_COUNT)
		return LC_USAGE(err, "a JSON object of %zu members", n);
	keys = lc_malloc(n * sizeof(*keys));
	if (!keys)
		return LC_NOMEM(err);
	json_object_foreach((json_t *)j, key, v)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), cmp_key);
	rc = put_u32(b, HDR_OBJECT | (uint32_t)n, err);
	at = b->len;
	if (!rc)
		rc = grow(b, 8 * n, err);
	for (i = 0; !rc && i < n; i++) {
		size_t len = strlen(keys[i]);

		if (len > JE_LEN)
			rc = LC_USAGE(err, "a JSON key of %zu bytes", len);
		else
			rc = lc_buf_append(b, keys[i], len, err);
		if (!rc)
			put_be(b->data + at + 4 * i, JE_STRING | len, 4);
	}
	for (i = 0; !rc && i < n; i++) {
		uint32_t je;

		rc = enc_item(b, json_object_get(j, keys[i]), &je, depth, err);
		if (!rc)
			put_be(b->data + at + 4 * (n + i), je, 4);
	}
	lc_free(keys);
	return rc;
}

static int enc_container(struct lc_buf *b, const json_t *j, unsigned depth,
			 struct lc_err *err)
{
	if (depth > JSONB_MAX_DEPTH)
		return LC_USAGE(err, "JSON nested deeper than %d",
				JSONB_MAX_DEPTH);
	if (json_is_array(j))
		return enc_array(b, j, depth, err);
	return enc_object(b, j, depth, err);
}

int jsonb_from_json(struct lc_buf *b, const json_t *j, struct lc_err *err)
{
	size_t start = b->len;
	uint32_t je;
	int rc;

	if (json_is_array(j) || json_is_object(j)) {
		rc = enc_container(b, j, 1, err);
	} else {
		rc = put_u32(b, HDR_SCALAR, err);
		if (!rc)
			rc = grow(b, 4, err);
		if (!rc)
			rc = enc_item(b, j, &je, 1, err);
		if (!rc)
			put_be(b->data + start + 4, je, 4);
	}
	if (rc && b->data) {
		b->len = start;
		b->data[start] = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- big integers */

/* An integer literal past int64 becomes the string NUL, BIG_MARK, the
 * literal: no text a mount shows starts so (a user would have to write
 * it on purpose). */
#define BIG_MARK "lancefs.bigint:"
#define BIG_MARK_LEN (sizeof(BIG_MARK) - 1)

/* Whether [p, p + n) is a JSON integer: -?(0|[1-9][0-9]*). */
static bool is_json_int(const char *p, size_t n)
{
	size_t i = n && p[0] == '-';

	if (i >= n || p[i] < '0' || p[i] > '9' || (p[i] == '0' && n > i + 1))
		return false;
	for (; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* Whether the integer literal [p, p + n) fits int64. */
static bool fits_int64(const char *p, size_t n)
{
	char buf[32];
	char *end;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = 0;
	errno = 0;
	(void)strtoll(buf, &end, 10);
	return !errno && !*end;
}

/* The end of the JSON string starting at p[i] (a '"'): past its closing
 * quote, or n. */
static size_t string_end(const char *p, size_t i, size_t n)
{
	for (i++; i < n && p[i] != '"'; i++)
		if (p[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

/* `text` with every integer literal past int64 outside strings turned
 * into "\u0000lancefs.bigint:LITERAL", or NULL (no memory). */
static char *quote_big_ints(const char *p, size_t n, size_t *out_n)
{
	struct lc_err e = { 0 };
	struct lc_buf b;
	int rc = 0;

	lc_buf_init(&b, 0);
	for (size_t i = 0, j; i < n && !rc; i = j) {
		if (p[i] == '"') {
			j = string_end(p, i, n);
		} else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) {
			for (j = i + 1; j < n && p[j] && strchr("0123456789.eE+-",
							      p[j]); j++)
				;
			if (is_json_int(p + i, j - i) &&
			    !fits_int64(p + i, j - i)) {
				rc = lc_buf_append(&b, "\"\\u0000" BIG_MARK, 7 +
						   BIG_MARK_LEN, &e);
				if (!rc)
					rc = lc_buf_append(&b, p + i, j - i,
							   &e);
				if (!rc)
					rc = lc_buf_append(&b, "\"", 1, &e);
				continue;
			}
		} else {
			j = i + 1;
		}
		rc = lc_buf_append(&b, p + i, j - i, &e);
	}
	if (rc) {
		lc_buf_reset(&b);
		return NULL;
	}
	*out_n = b.len;
	return (char *)b.data;
}

json_t *json_load_big(const void *text, size_t n, size_t flags,
		      json_error_t *je)
{
	json_t *j = json_loadb(text, n, flags, je);
	size_t qn;
	char *q;

	if (j || json_error_code(je) != json_error_numeric_overflow ||
	    !(q = quote_big_ints(text, n, &qn)))
		return j;
	j = json_loadb(q, qn, flags, je);
	lc_free(q);
	return j;
}

const char *json_big_int(const json_t *j)
{
	const char *s;
	size_t n;

	if (!json_is_string(j) || (n = json_string_length(j)) <= 1 +
	    BIG_MARK_LEN)
		return NULL;
	s = json_string_value(j);
	if (s[0] || memcmp(s + 1, BIG_MARK, BIG_MARK_LEN) ||
	    !is_json_int(s + 1 + BIG_MARK_LEN, n - 1 - BIG_MARK_LEN))
		return NULL;
	return s + 1 + BIG_MARK_LEN;
}

char *json_dumps_big(const json_t *j, size_t flags)
{
	static const char mark[] = "\"\\u0000" BIG_MARK;
	char *t = json_dumps(j, flags), *o;
	size_t n, m = sizeof(mark) - 1;

	if (!t)
		return NULL;
	n = strlen(t);
	o = t;
	for (size_t i = 0, e; i < n; i = e) {
		e = t[i] == '"' ? string_end(t, i, n) : i + 1;
		if (t[i] == '"' && e - i > m + 1 && !memcmp(t + i, mark, m) &&
		    is_json_int(t + i + m, e - i - m - 1)) {
			memmove(o, t + i + m, e - i - m - 1);
			o += e - i - m - 1;
		} else {
			memmove(o, t + i, e - i);
			o += e - i;
		}
	}
	*o = 0;
	return t;
}
