/*
 * v20.c - decoder for Lance 2.0 data files (footer 0.3 or 2.0).
 *
 * Every page carries an ArrayEncoding tree (file-format.md section 3):
 * Nullable / Flat / Binary / Dictionary / FixedSizeList / FixedSizeBinary /
 * PackedStruct at the leaves, List (offsets only) and SimpleStruct (no
 * buffers) for nested fields, whose children live in later columns with
 * their own page boundaries.
 *
 * Reading rows [a, b) of a page fetches only the byte ranges it needs:
 * Flat reads [a*w, b*w) (bitmaps: the bytes holding bits [a, b)); Binary
 * reads the end offsets [a-1, b) and then the bytes [start, end) in one
 * go; a list reads its offsets and then asks the item column for the item
 * range. The decoder core (decode_into and friends) works on a `v20_src`,
 * which reads page buffers either from the file or from memory, so the
 * fuzzer can drive it with no I/O (lance__v20_decode_page).
 *
 * Parsed page encodings are cached per column in f->dec, built under
 * f->mu (parsing does no I/O) and immutable afterwards.
 */
#include "lance_int.h"

#include <stdlib.h>

#include "enc20.pb-c.h"

#define URL_ARRAY "/lance.encodings.ArrayEncoding"
#define URL_COLUMN "/lance.encodings.ColumnEncoding"
/* Rows or items decoded in one call; keeps every count far from
 * overflow in byte arithmetic. */
#define MAX_ROWS (1ull << 31)
#define MAX_DICT_ITEMS (1u << 24)

typedef Lpb20__Encoding enc_t;

/* ------------------------------------------------------------ byte source */

struct v20_src {
	int (*read)(void *ctx, size_t idx, uint64_t off, size_t len,
		    uint8_t *dst, struct lc_err *err);
	void *ctx;
	const uint64_t *buf_size;
	size_t n_buffers;
};

struct dctx {
	const struct v20_src *src;
	bool sizes_only;	/* Binary: offsets only, no bytes */
};

static int buf_index(size_t *out, const struct dctx *c,
		     const Lpb20__BufRef *ref, struct lc_err *err)
{
	uint32_t idx = ref ? ref->index : 0;

	if (ref && ref->kind != LPB20__BUF_REF__KIND__PAGE)
		return LC_UNSUPPORTED(err, "2.0 %s buffers are not supported",
				      ref->kind == LPB20__BUF_REF__KIND__COLUMN
					      ? "column" : "file");
	if (idx >= c->src->n_buffers)
		return LC_CORRUPT(err, "encoding names page buffer %u, the "
				  "page has %zu", idx, c->src->n_buffers);
	*out = idx;
	return 0;
}

/* Read [off, off + len) of page buffer `idx` into a new allocation. */
static int src_fetch(uint8_t **out, const struct dctx *c, size_t idx,
		     uint64_t off, uint64_t len, struct lc_err *err)
{
	uint8_t *buf;
	int rc;

	*out = NULL;
	if (!lc_range_ok(off, len, c->src->buf_size[idx]))
		return LC_CORRUPT(err, "page buffer %zu: bytes %" PRIu64 "+%"
				  PRIu64 " are past its %" PRIu64 " bytes",
				  idx, off, len, c->src->buf_size[idx]);
	if (len > LANCE_MAX_VALUE_BYTES)
		return LC_LIMIT(err, "page buffer %zu: %" PRIu64 "-byte read",
				idx, len);
	buf = lc_malloc((size_t)len);
	if (!buf)
		return LC_NOMEM(err);
	rc = len ? c->src->read(c->src->ctx, idx, off, (size_t)len, buf, err)
		 : 0;
	if (rc) {
		lc_free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* ------------------------------------------------------------ bit helpers */

static inline bool bit_get(const uint8_t *p, uint64_t i)
{
	return (p[i >> 3] >> (i & 7)) & 1;
}

static inline void bit_put(uint8_t *p, uint64_t i, bool v)
{
	if (v)
		p[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		p[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static void bits_copy(uint8_t *dst, uint64_t doff, const uint8_t *src,
		      uint64_t soff, uint64_t n)
{
	if (!(doff & 7) && !(soff & 7)) {
		memcpy(dst + (doff >> 3), src + (soff >> 3), (size_t)(n >> 3));
		for (uint64_t i = n & ~7ull; i < n; i++)
			bit_put(dst, doff + i, bit_get(src, soff + i));
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		bit_put(dst, doff + i, bit_get(src, soff + i));
}

static uint8_t *bitmap_new(uint64_t n, bool ones)
{
	size_t len = (size_t)((n + 7) / 8);
	uint8_t *p = lc_malloc(len ? len : 1);

	if (p)
		memset(p, ones ? 0xff : 0, len ? len : 1);
	return p;
}

/* ------------------------------------------------------------ arrays */

static const struct lance_type T_U8 = { .id = LANCE_T_UINT8 };
static const struct lance_type T_U16 = { .id = LANCE_T_UINT16 };
static const struct lance_type T_U32 = { .id = LANCE_T_UINT32 };
static const struct lance_type T_U64 = { .id = LANCE_T_UINT64 };

static bool is_var(const struct lance_type *t)
{
	return t->id == LANCE_T_UTF8 || t->id == LANCE_T_BINARY;
}

/* An all-null array of `n` rows shaped like `type` (and `field`). */
static int make_nulls(struct lance_array *out, const struct lance_type *type,
		      const struct lance_field *field, uint64_t n,
		      struct lc_err *err)
{
	unsigned w = lance_type_width(type);

	out->type = type;
	out->field = field;
	out->length = n;
	if (n > MAX_ROWS || (w && n > LANCE_MAX_VALUE_BYTES / w))
		return LC_LIMIT(err, "%" PRIu64 " null values", n);
	out->validity = bitmap_new(n, false);
	if (!out->validity)
		return LC_NOMEM(err);
	if (is_var(type) || type->id == LANCE_T_LIST ||
	    type->id == LANCE_T_MAP) {
		out->offsets = lc_calloc((size_t)n + 1, sizeof(uint64_t));
		if (!out->offsets)
			return LC_NOMEM(err);
	} else if (type->id == LANCE_T_BOOL) {
		out->values = bitmap_new(n, false);
		out->values_len = (n + 7) / 8;
		if (!out->values)
			return LC_NOMEM(err);
	} else if (w) {
		out->values = lc_calloc((size_t)n ? (size_t)n : 1, w);
		out->values_len = n * w;
		if (!out->values)
			return LC_NOMEM(err);
	}
	if (type->id == LANCE_T_FIXED_LIST) {
		if (!type->item || type->width <= 0)
			return LC_CORRUPT(err, "fixed-size list without an "
					  "item type or width");
		out->children = lc_calloc(1, sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = 1;
		return make_nulls(&out->children[0], type->item, NULL,
				  n * (uint64_t)type->width, err);
	}
	if (type->id == LANCE_T_STRUCT && field && field->n_children) {
		out->children = lc_calloc(field->n_children,
					  sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = field->n_children;
		for (size_t i = 0; i < field->n_children; i++) {
			const struct lance_field *ch = field->children[i];
			int rc = make_nulls(&out->children[i], &ch->type, ch,
					    n, err);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Append `src` (same shape) to `dst`; `src` is left for the caller to
 * reset. An empty `dst` (length 0, no buffers) takes src over. */
int lance__array_append(struct lance_array *dst, struct lance_array *src,
		      struct lc_err *err)
{
	uint64_t n = dst->length + src->length;
	unsigned w = lance_type_width(dst->type);

	if (!dst->length && !dst->values && !dst->offsets &&
	    !dst->children) {
		const struct lance_type *t = dst->type;
		const struct lance_field *fl = dst->field;

		*dst = *src;
		dst->type = t;
		dst->field = fl;
		memset(src, 0, sizeof(*src));
		return 0;
	}
	if (dst->validity || src->validity) {
		uint8_t *v = bitmap_new(n, true);

		if (!v)
			return LC_NOMEM(err);
		if (dst->validity)
			bits_copy(v, 0, dst->validity, 0, dst->length);
		if (src->validity)
			bits_copy(v, dst->length, src->validity, 0,
				  src->length);
		lc_free(dst->validity);
		dst->validity = v;
	}
	if (dst->type->id == LANCE_T_BOOL) {
		uint8_t *v = lc_realloc(dst->values, (size_t)((n + 7) / 8));

		if (!v)
			return LC_NOMEM(err);
		dst->values = v;
		bits_copy(v, dst->length, src->values, 0, src->length);
		dst->values_len = (n + 7) / 8;
	} else if (w || is_var(dst->type)) {
		uint64_t nb = dst->values_len + src->values_len;
		uint8_t *v = lc_realloc(dst->values, nb ? (size_t)nb : 1);

		if (!v)
			return LC_NOMEM(err);
		dst->values = v;
		if (src->values_len)
			memcpy(v + dst->values_len, src->values,
			       (size_t)src->values_len);
	}
	if (dst->offsets && src->offsets) {
		uint64_t base = dst->offsets[dst->length];
		uint64_t *o = lc_realloc(dst->offsets,
					 ((size_t)n + 1) * sizeof(*o));

		if (!o)
			return LC_NOMEM(err);
		dst->offsets = o;
		for (uint64_t i = 1; i <= src->length; i++)
			o[dst->length + i] = base + src->offsets[i];
	}
	if (!dst->type || dst->type->id != LANCE_T_BOOL)
		dst->values_len += src->values_len;
	for (size_t i = 0; i < dst->n_children && i < src->n_children; i++) {
		int rc = lance__array_append(&dst->children[i],
					     &src->children[i], err);

		if (rc)
			return rc;
	}
	dst->length = n;
	return 0;
}

/* ------------------------------------------------------------ leaves */

static int decode_into(struct lance_array *out, const struct dctx *c,
		       const enc_t *e, const struct lance_type *type,
		       const struct lance_field *field, uint64_t a,
		       uint64_t b, struct lc_err *err);

static const char *enc_name(int kind)
{
	static const char *const names[] = {
		"unset", "flat", "nullable", "fixed_size_list", "list",
		"struct", "binary", "dictionary", "fsst", "packed_struct",
		"bitpacked", "fixed_size_binary", "bitpacked_for_non_neg",
		"constant", "inline_bitpacking", "out_of_line_bitpacking",
		"variable", "packed_struct_fixed_width_mini_block", "block",
		"rle", "general_mini_block", "byte_stream_split",
	};

	if (kind < 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}

/* Values [a, b) of a Flat buffer of `bits` per value: bytes, or for
 * bits == 1 a bitmap starting at bit 0. */
static int flat_read(uint8_t **out, uint64_t *out_len, const struct dctx *c,
		     const Lpb20__Flat *fl, unsigned bits, uint64_t a,
		     uint64_t b, struct lc_err *err)
{
	size_t idx;
	uint8_t *raw;
	int rc;

	if (fl->compression && fl->compression->scheme &&
	    fl->compression->scheme[0])
		return LC_UNSUPPORTED(err, "2.0 flat encoding with general "
				      "compression (%.32s) is not supported "
				      "yet", fl->compression->scheme);
	if (fl->bits_per_value != bits)
		return LC_CORRUPT(err, "flat encoding of %" PRIu64 " bits per "
				  "value for a %u-bit type",
				  fl->bits_per_value, bits);
	rc = buf_index(&idx, c, fl->buffer, err);
	if (rc)
		return rc;
	if (bits == 1) {
		uint64_t first = a / 8, last = (b + 7) / 8;
		uint8_t *bm;

		rc = src_fetch(&raw, c, idx, first, last - first, err);
		if (rc)
			return rc;
		bm = bitmap_new(b - a, false);
		if (!bm) {
			lc_free(raw);
			return LC_NOMEM(err);
		}
		bits_copy(bm, 0, raw, a & 7, b - a);
		lc_free(raw);
		*out = bm;
		*out_len = (b - a + 7) / 8;
		return 0;
	}
	if (bits % 8)
		return LC_UNSUPPORTED(err, "flat encoding of %u bits per "
				      "value", bits);
	rc = src_fetch(&raw, c, idx, a * (bits / 8), (b - a) * (bits / 8),
		       err);
	if (rc)
		return rc;
	*out = raw;
	*out_len = (b - a) * (bits / 8);
	return 0;
}

/* Decode a run of unsigned integers (offsets, indices) of any Flat width
 * up to 64 bits through the generic path, widened to u64. */
static int read_u64s(uint64_t **out, const struct dctx *c, const enc_t *e,
		     uint64_t a, uint64_t b, struct lc_err *err)
{
	struct lance_array arr = { 0 };
	uint64_t *v;
	int rc;

	*out = NULL;
	rc = decode_into(&arr, c, e, &T_U64, NULL, a, b, err);
	if (rc)
		goto out;
	if (arr.values_len != (b - a) * 8) {
		rc = LC_CORRUPT(err, "offsets decoded to %" PRIu64 " bytes, "
				"wanted %" PRIu64, arr.values_len,
				(b - a) * 8);
		goto out;
	}
	v = lc_malloc((size_t)(b - a) * 8 + 8);
	if (!v) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (uint64_t i = 0; i < b - a; i++)
		v[i] = lc_le64(arr.values + 8 * i);
	*out = v;
out:
	lance_array_reset(&arr);
	return rc;
}

/*
 * Binary: `indices` are u64 end offsets; raw >= null_adjustment marks a
 * null whose end is raw - null_adjustment (section 3.2). Rows [a, b) need
 * the ends [a-1, b) and then the bytes [start, end).
 */
static int binary_range(struct lance_array *out, const struct dctx *c,
			const Lpb20__VarBinary *bin,
			const struct lance_type *type, uint64_t a, uint64_t b,
			struct lc_err *err)
{
	uint64_t a0 = a ? a - 1 : 0, n = b - a, adj = bin->null_adjustment;
	uint64_t *raw = NULL, start = 0, prev;
	struct lance_array bytes = { 0 };
	int rc;

	if (!bin->indices || !bin->bytes)
		return LC_CORRUPT(err, "binary encoding without indices or "
				  "bytes");
	rc = read_u64s(&raw, c, bin->indices, a0, b, err);
	if (rc)
		return rc;
	out->offsets = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	if (!out->offsets) {
		rc = LC_NOMEM(err);
		goto out;
	}
	if (a) {
		start = adj && raw[0] >= adj ? raw[0] - adj : raw[0];
	}
	prev = start;
	out->offsets[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = raw[i + (a ? 1 : 0)], end = r;
		bool null = adj && r >= adj;

		if (null) {
			end = r - adj;
			if (!out->validity) {
				out->validity = bitmap_new(n, true);
				if (!out->validity) {
					rc = LC_NOMEM(err);
					goto out;
				}
			}
			bit_put(out->validity, i, false);
		}
		if (end < prev) {
			rc = LC_CORRUPT(err, "binary offsets go backwards at "
					"row %" PRIu64 " (%" PRIu64 " after %"
					PRIu64 ")", a + i, end, prev);
			goto out;
		}
		prev = end;
		out->offsets[i + 1] = end - start;
	}
	if (prev - start > LANCE_MAX_VALUE_BYTES) {
		rc = LC_LIMIT(err, "%" PRIu64 " bytes of binary values",
			      prev - start);
		goto out;
	}
	if (!c->sizes_only && prev > start) {
		rc = decode_into(&bytes, c, bin->bytes, &T_U8, NULL, start,
				 prev, err);
		if (rc)
			goto out;
		out->values = bytes.values;
		out->values_len = bytes.values_len;
		bytes.values = NULL;
	} else if (!c->sizes_only) {
		out->values = lc_malloc(1);
		if (!out->values) {
			rc = LC_NOMEM(err);
			goto out;
		}
	}
	(void)type;
out:
	lance_array_reset(&bytes);
	lc_free(raw);
	return rc;
}

/* Width of a dictionary's indices: the Flat under any Nullable. */
static const struct lance_type *dict_index_type(const enc_t *e)
{
	while (e && e->kind_case == LPB20__ENCODING__KIND_NULLABLE) {
		const Lpb20__Nullable *nl = e->nullable;

		if (nl->nullability_case ==
		    LPB20__NULLABLE__NULLABILITY_NO_NULLS)
			e = nl->no_nulls->values;
		else if (nl->nullability_case ==
			 LPB20__NULLABLE__NULLABILITY_SOME_NULLS)
			e = nl->some_nulls->values;
		else
			break;
	}
	if (!e || e->kind_case != LPB20__ENCODING__KIND_FLAT)
		return &T_U8;
	switch (e->flat->bits_per_value) {
	case 16:
		return &T_U16;
	case 32:
		return &T_U32;
	case 64:
		return &T_U64;
	default:
		return &T_U8;
	}
}

static uint64_t index_at(const struct lance_array *idx, uint64_t i)
{
	switch (lance_type_width(idx->type)) {
	case 2:
		return lc_le16(idx->values + 2 * i);
	case 4:
		return lc_le32(idx->values + 4 * i);
	case 8:
		return lc_le64(idx->values + 8 * i);
	default:
		return idx->values[i];
	}
}

/*
 * Dictionary. lance's own string dictionaries have u8 indices where 0 is
 * null and k is items[k - 1]; an Arrow dictionary column keeps its keys
 * (any integer width, k is items[k]) with nulls in the keys or the items,
 * and its items are strings, binary, fixed-width values or booleans.
 */
static int dict_range(struct lance_array *out, const struct dctx *c,
		      const Lpb20__Dict *d, const struct lance_type *type,
		      uint64_t a, uint64_t b, struct lc_err *err)
{
	struct lance_array idx = { 0 }, items = { 0 };
	uint64_t n = b - a, total = 0, nitems = d->num_dictionary_items;
	uint64_t base = type->dict ? 0 : 1;
	uint64_t *pick = NULL;
	bool bits = type->id == LANCE_T_BOOL;
	unsigned w = is_var(type) || bits ? 0 : lance_type_width(type);
	int rc;

	if (!d->indices || !d->items)
		return LC_CORRUPT(err, "dictionary without indices or items");
	if (nitems > MAX_DICT_ITEMS)
		return LC_LIMIT(err, "dictionary of %" PRIu64 " items",
				nitems);
	rc = decode_into(&idx, c, d->indices, dict_index_type(d->indices),
			 NULL, a, b, err);
	if (!rc)
		rc = decode_into(&items, c, d->items, type, NULL, 0, nitems,
				 err);
	if (!rc && ((w && items.values_len / w < nitems) ||
		    (bits && items.values_len < (nitems + 7) / 8)))
		rc = LC_CORRUPT(err, "dictionary items of %" PRIu64 " bytes "
				"for %" PRIu64 " values", items.values_len,
				nitems);
	if (rc)
		goto out;
	pick = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	if (!w && !bits)
		out->offsets = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	if (!pick || (!w && !bits && !out->offsets)) {
		rc = LC_NOMEM(err);
		goto out;
	}
	if (out->offsets)
		out->offsets[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = index_at(&idx, i);
		bool valid = lance_array_is_valid(&idx, i) && k >= base;

		if (valid && k - base >= nitems) {
			rc = LC_CORRUPT(err, "dictionary index %" PRIu64 " at "
					"row %" PRIu64 ", dictionary has %"
					PRIu64 " items", k, a + i, nitems);
			goto out;
		}
		if (valid)
			valid = lance_array_is_valid(&items, k - base);
		pick[i] = valid ? k - base : 0;
		if (!valid) {
			if (!out->validity) {
				out->validity = bitmap_new(n, true);
				if (!out->validity) {
					rc = LC_NOMEM(err);
					goto out;
				}
			}
			bit_put(out->validity, i, false);
		} else if (out->offsets) {
			total += items.offsets[k - base + 1] -
				 items.offsets[k - base];
		}
		if (out->offsets)
			out->offsets[i + 1] = total;
	}
	if (bits) {
		/* a null's value is item 0's, or false */
		out->values = bitmap_new(n, false);
		if (!out->values) {
			rc = LC_NOMEM(err);
			goto out;
		}
		out->values_len = (n + 7) / 8;
		for (uint64_t i = 0; i < n && nitems; i++)
			bit_put(out->values, i, bit_get(items.values, pick[i]));
		goto out;
	}
	if (w)
		total = n * w;	/* a null's value is item 0's, or zeros */
	if (c->sizes_only && !w)
		goto out;
	out->values = lc_calloc(1, total ? (size_t)total : 1);
	if (!out->values) {
		rc = LC_NOMEM(err);
		goto out;
	}
	out->values_len = total;
	for (uint64_t i = 0; i < n && nitems; i++) {
		uint64_t at = w ? pick[i] * w : items.offsets[pick[i]];
		uint64_t len = w ? w : out->offsets[i + 1] - out->offsets[i];

		if (len)
			memcpy(out->values + (w ? i * w : out->offsets[i]),
			       items.values + at, (size_t)len);
	}
out:
	lc_free(pick);
	lance_array_reset(&idx);
	lance_array_reset(&items);
	return rc;
}

/* Fixed-width struct records: returns the widths of the children (bytes)
 * and the raw records of rows [a, b). */
static int packed_read(uint8_t **rec, uint64_t *rec_w, uint64_t *widths,
		       size_t max_children, const struct dctx *c,
		       const Lpb20__Packed *ps, uint64_t a, uint64_t b,
		       struct lc_err *err)
{
	uint64_t w = 0;
	size_t idx;
	int rc;

	if (ps->n_inner > max_children)
		return LC_CORRUPT(err, "packed struct of %zu children, the "
				  "field has %zu", ps->n_inner, max_children);
	for (size_t i = 0; i < ps->n_inner; i++) {
		const enc_t *in = ps->inner[i];

		while (in && in->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
		       in->nullable->nullability_case ==
			       LPB20__NULLABLE__NULLABILITY_NO_NULLS)
			in = in->nullable->no_nulls->values;
		if (!in || in->kind_case != LPB20__ENCODING__KIND_FLAT) {
			int k = in ? (int)in->kind_case : 0;

			return LC_UNSUPPORTED(err, "packed struct child %zu "
					      "is %s, only flat is supported",
					      i, enc_name(k));
		}
		if (in->flat->bits_per_value % 8 ||
		    in->flat->bits_per_value == 0 ||
		    in->flat->bits_per_value > 8 * 256)
			return LC_UNSUPPORTED(err, "packed struct child %zu "
					      "of %" PRIu64 " bits", i,
					      in->flat->bits_per_value);
		widths[i] = in->flat->bits_per_value / 8;
		w += widths[i];
	}
	if (w == 0)
		return LC_CORRUPT(err, "packed struct with no children");
	rc = buf_index(&idx, c, ps->buffer, err);
	if (rc)
		return rc;
	*rec_w = w;
	return src_fetch(rec, c, idx, a * w, (b - a) * w, err);
}

static int packed_range(struct lance_array *out, const struct dctx *c,
			const Lpb20__Packed *ps,
			const struct lance_field *field, uint64_t a,
			uint64_t b, struct lc_err *err)
{
	uint64_t widths[64], w, n = b - a, off = 0;
	uint8_t *rec = NULL;
	int rc;

	if (!field || field->n_children != ps->n_inner ||
	    field->n_children > 64)
		return LC_CORRUPT(err, "packed struct of %zu children for a "
				  "field of %zu", ps->n_inner,
				  field ? field->n_children : 0);
	rc = packed_read(&rec, &w, widths, 64, c, ps, a, b, err);
	if (rc)
		return rc;
	out->children = lc_calloc(ps->n_inner ? ps->n_inner : 1,
				  sizeof(*out->children));
	if (!out->children) {
		rc = LC_NOMEM(err);
		goto out;
	}
	out->n_children = ps->n_inner;
	for (size_t i = 0; i < ps->n_inner; i++) {
		const struct lance_field *ch = field->children[i];
		struct lance_array *o = &out->children[i];
		unsigned cw = lance_type_width(&ch->type);

		o->type = &ch->type;
		o->field = ch;
		o->length = n;
		if (cw != widths[i]) {
			rc = LC_UNSUPPORTED(err, "packed struct child %s: %"
					    PRIu64 " bytes stored for a %u-"
					    "byte type", ch->name, widths[i],
					    cw);
			goto out;
		}
		o->values = lc_malloc(n ? (size_t)(n * cw) : 1);
		if (!o->values) {
			rc = LC_NOMEM(err);
			goto out;
		}
		o->values_len = n * cw;
		for (uint64_t r = 0; r < n; r++)
			memcpy(o->values + r * cw, rec + r * w + off, cw);
		off += cw;
	}
out:
	lc_free(rec);
	return rc;
}

static int fixed_binary_range(struct lance_array *out, const struct dctx *c,
			      const Lpb20__FixedBinary *fb,
			      const struct lance_type *type, uint64_t a,
			      uint64_t b, struct lc_err *err)
{
	uint64_t w = fb->byte_width, n = b - a;
	struct lance_array bytes = { 0 };
	int rc;

	if (!fb->bytes || w == 0 || w > (1u << 20))
		return LC_CORRUPT(err, "fixed-size binary of width %" PRIu64,
				  w);
	if (type->id == LANCE_T_FIXED_BINARY &&
	    (uint64_t)type->width != w)
		return LC_CORRUPT(err, "fixed-size binary of width %" PRIu64
				  " for a %d-byte field", w, type->width);
	if (type->id != LANCE_T_FIXED_BINARY && !is_var(type))
		return LC_CORRUPT(err, "fixed-size binary encoding for a "
				  "type %d field", (int)type->id);
	if (c->sizes_only && is_var(type)) {
		bytes.length = 0;
	} else {
		rc = decode_into(&bytes, c, fb->bytes, &T_U8, NULL, a * w,
				 b * w, err);
		if (rc)
			return rc;
		out->values = bytes.values;
		out->values_len = bytes.values_len;
		bytes.values = NULL;
		lance_array_reset(&bytes);
	}
	if (is_var(type)) {
		out->offsets = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
		if (!out->offsets)
			return LC_NOMEM(err);
		for (uint64_t i = 0; i <= n; i++)
			out->offsets[i] = i * w;
	}
	return 0;
}

static int nullable_range(struct lance_array *out, const struct dctx *c,
			  const Lpb20__Nullable *nl,
			  const struct lance_type *type,
			  const struct lance_field *field, uint64_t a,
			  uint64_t b, struct lc_err *err)
{
	const Lpb20__SomeNulls *sn;
	const enc_t *v;
	uint8_t *bm = NULL;
	uint64_t bm_len;
	int rc;

	switch (nl->nullability_case) {
	case LPB20__NULLABLE__NULLABILITY_NO_NULLS:
		if (!nl->no_nulls->values)
			return LC_CORRUPT(err, "no_nulls without values");
		return decode_into(out, c, nl->no_nulls->values, type, field,
				   a, b, err);
	case LPB20__NULLABLE__NULLABILITY_ALL_NULLS:
		return make_nulls(out, type, field, b - a, err);
	case LPB20__NULLABLE__NULLABILITY_SOME_NULLS:
		break;
	default:
		return LC_CORRUPT(err, "nullable encoding with no case");
	}
	sn = nl->some_nulls;
	v = sn->validity;
	while (v && v->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
	       v->nullable->nullability_case ==
		       LPB20__NULLABLE__NULLABILITY_NO_NULLS)
		v = v->nullable->no_nulls->values;
	if (!sn->values || !v)
		return LC_CORRUPT(err, "some_nulls without validity or values");
	if (v->kind_case != LPB20__ENCODING__KIND_FLAT)
		return LC_UNSUPPORTED(err, "validity encoded as %s",
				      enc_name((int)v->kind_case));
	rc = decode_into(out, c, sn->values, type, field, a, b, err);
	if (rc)
		return rc;
	rc = flat_read(&bm, &bm_len, c, v->flat, 1, a, b, err);
	if (rc)
		return rc;
	if (out->validity) {
		for (uint64_t i = 0; i < bm_len; i++)
			out->validity[i] &= bm[i];
		lc_free(bm);
	} else {
		out->validity = bm;
	}
	return 0;
}

/*
 * Decode rows [a, b) of the leaf encoding `e` into `out`, shaped for
 * `type` (`field` is needed only for packed structs).
 */
static int decode_into(struct lance_array *out, const struct dctx *c,
		       const enc_t *e, const struct lance_type *type,
		       const struct lance_field *field, uint64_t a,
		       uint64_t b, struct lc_err *err)
{
	unsigned w;

	out->type = type;
	out->field = field;
	out->length = b - a;
	if (b < a || b - a > MAX_ROWS)
		return LC_LIMIT(err, "%" PRIu64 "..%" PRIu64 ": too many "
				"values", a, b);
	switch (e->kind_case) {
	case LPB20__ENCODING__KIND_NULLABLE:
		return nullable_range(out, c, e->nullable, type, field, a, b,
				      err);
	case LPB20__ENCODING__KIND_FLAT:
		if (type->id == LANCE_T_BOOL)
			return flat_read(&out->values, &out->values_len, c,
					 e->flat, 1, a, b, err);
		w = lance_type_width(type);
		if (!w)
			return LC_CORRUPT(err, "flat encoding for a "
					  "variable-width or nested type %d",
					  (int)type->id);
		if (b > UINT64_MAX / w)
			return LC_CORRUPT(err, "flat range overflows");
		return flat_read(&out->values, &out->values_len, c, e->flat,
				 8 * w, a, b, err);
	case LPB20__ENCODING__KIND_FIXED_SIZE_LIST: {
		const Lpb20__FixedList *fl = e->fixed_size_list;
		uint64_t d = fl->dimension;

		if (type->id != LANCE_T_FIXED_LIST || !type->item)
			return LC_CORRUPT(err, "fixed-size list encoding for "
					  "a type %d field", (int)type->id);
		if (d == 0 || d != (uint64_t)type->width || !fl->items)
			return LC_CORRUPT(err, "fixed-size list of dimension %"
					  PRIu64 " for a list of %d",
					  d, type->width);
		if (b > MAX_ROWS / d)
			return LC_LIMIT(err, "fixed-size list of %" PRIu64
					" x %" PRIu64 " items", b, d);
		out->children = lc_calloc(1, sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = 1;
		return decode_into(&out->children[0], c, fl->items,
				   type->item, NULL, a * d, b * d, err);
	}
	case LPB20__ENCODING__KIND_BINARY:
		if (!is_var(type))
			return LC_CORRUPT(err, "binary encoding for a type %d "
					  "field", (int)type->id);
		return binary_range(out, c, e->binary, type, a, b, err);
	case LPB20__ENCODING__KIND_DICTIONARY:
		if (!is_var(type) && !lance_type_width(type) &&
		    type->id != LANCE_T_BOOL)
			return LC_UNSUPPORTED(err, "dictionary encoding for a "
					      "type %d field", (int)type->id);
		return dict_range(out, c, e->dictionary, type, a, b, err);
	case LPB20__ENCODING__KIND_FIXED_SIZE_BINARY:
		return fixed_binary_range(out, c, e->fixed_size_binary, type,
					  a, b, err);
	case LPB20__ENCODING__KIND_PACKED_STRUCT:
		if (type->id != LANCE_T_STRUCT)
			return LC_CORRUPT(err, "packed struct encoding for a "
					  "type %d field", (int)type->id);
		return packed_range(out, c, e->packed_struct, field, a, b,
				    err);
	case LPB20__ENCODING__KIND_LIST:
	case LPB20__ENCODING__KIND_SIMPLE_STRUCT:
		return LC_CORRUPT(err, "%s encoding where values were "
				  "expected", enc_name((int)e->kind_case));
	case LPB20__ENCODING__KIND_FSST:
	case LPB20__ENCODING__KIND_BITPACKED:
	case LPB20__ENCODING__KIND_BITPACKED_FOR_NON_NEG:
	case LPB20__ENCODING__KIND_CONSTANT:
		return LC_UNSUPPORTED(err, "2.0 %s encoding is not supported "
				      "yet", enc_name((int)e->kind_case));
	case LPB20__ENCODING__KIND__NOT_SET:
		return LC_CORRUPT(err, "array encoding with no case");
	default:
		return LC_UNSUPPORTED(err, "%s encoding (pre-2025 2.1 format) "
				      "in a 2.0 page",
				      enc_name((int)e->kind_case));
	}
}

/*
 * Rows [a, b) of a List page: per row the end item (relative to the
 * page's first item) and the validity. ends[0] is the start of row a.
 */
static int list_range(uint64_t **ends_out, uint8_t **valid_out,
		      const struct dctx *c, const Lpb20__ListOffsets *lo,
		      uint64_t a, uint64_t b, struct lc_err *err)
{
	uint64_t a0 = a ? a - 1 : 0, n = b - a;
	uint64_t adj = lo->null_offset_adjustment, *raw = NULL, *ends;
	uint8_t *valid = NULL;
	int rc;

	*ends_out = NULL;
	*valid_out = NULL;
	if (!lo->offsets)
		return LC_CORRUPT(err, "list encoding without offsets");
	if (b - a > MAX_ROWS)
		return LC_LIMIT(err, "%" PRIu64 " list rows", b - a);
	rc = read_u64s(&raw, c, lo->offsets, a0, b, err);
	if (rc)
		return rc;
	ends = lc_malloc(((size_t)n + 1) * sizeof(*ends));
	if (!ends) {
		rc = LC_NOMEM(err);
		goto out;
	}
	ends[0] = a ? (adj && raw[0] >= adj ? raw[0] - adj : raw[0]) : 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = raw[i + (a ? 1 : 0)], end = r;

		if (adj && r >= adj) {
			end = r - adj;
			if (!valid) {
				valid = bitmap_new(n, true);
				if (!valid) {
					rc = LC_NOMEM(err);
					goto out;
				}
			}
			bit_put(valid, i, false);
		}
		if (end < ends[i] || end > lo->num_items) {
			rc = LC_CORRUPT(err, "list offset %" PRIu64 " at row %"
					PRIu64 " after %" PRIu64 " (page has %"
					PRIu64 " items)", end, a + i, ends[i],
					lo->num_items);
			goto out;
		}
		ends[i + 1] = end;
	}
	*ends_out = ends;
	*valid_out = valid;
	ends = NULL;
	valid = NULL;
out:
	lc_free(ends);
	lc_free(valid);
	lc_free(raw);
	return rc;
}

/* ------------------------------------------------------------ pure entry */

struct mem_ctx {
	const uint8_t *const *bufs;
};

static int mem_read(void *ctx, size_t idx, uint64_t off, size_t len,
		    uint8_t *dst, struct lc_err *err)
{
	struct mem_ctx *m = ctx;

	(void)err;
	memcpy(dst, m->bufs[idx] + off, len);
	return 0;
}

static int parse_array_enc(enc_t **out, const uint8_t *enc, size_t len,
			   struct lc_err *err)
{
	int rc = lance__pb_check(enc, len, LANCE_PB_MAX_DEPTH,
				 "2.0 page encoding", err);

	*out = NULL;
	if (rc)
		return rc;
	*out = lpb20__encoding__unpack(NULL, len, enc);
	if (!*out)
		return LC_CORRUPT(err, "2.0 page encoding does not parse");
	return 0;
}

int lance__v20_decode_page(struct lance_array *out,
			   const struct lance_type *type,
			   const struct lance_field *field,
			   const uint8_t *enc, size_t enc_len,
			   const uint8_t *const *bufs,
			   const uint64_t *sizes, size_t n_bufs,
			   uint64_t page_rows, uint64_t a, uint64_t b,
			   struct lc_err *err)
{
	struct mem_ctx m = { bufs };
	struct v20_src src = { mem_read, &m, sizes, n_bufs };
	struct dctx c = { &src, false };
	enc_t *e;
	int rc;

	memset(out, 0, sizeof(*out));
	if (a > b || b > page_rows)
		return LC_USAGE(err, "rows %" PRIu64 "..%" PRIu64 " of a %"
				PRIu64 "-row page", a, b, page_rows);
	rc = parse_array_enc(&e, enc, enc_len, err);
	if (rc)
		return rc;
	if (e->kind_case == LPB20__ENCODING__KIND_LIST) {
		uint64_t *ends = NULL;
		uint8_t *valid = NULL;

		rc = list_range(&ends, &valid, &c, e->list, a, b, err);
		if (!rc) {
			uint64_t base = ends[0];

			out->type = type;
			out->length = b - a;
			for (uint64_t i = 0; i <= b - a; i++)
				ends[i] -= base;
			out->offsets = ends;
			out->validity = valid;
		}
	} else {
		rc = decode_into(out, &c, e, type, field, a, b, err);
	}
	lpb20__encoding__free_unpacked(e, NULL);
	if (rc)
		lance_array_reset(out);
	return rc;
}

/* ------------------------------------------------------------ file state */

struct v20_col {
	bool parsed;
	bool blob;		/* ColumnEncoding blob{} */
	enc_t **pages;		/* parsed page encodings */
	uint64_t *item_base;	/* list columns: first item of each page */
	uint64_t rows;		/* sum of page lengths */
};

struct v20_state {
	struct v20_col *cols;
	uint32_t n_cols;
};

static void v20_free(struct lance_file *f)
{
	struct v20_state *s = f->dec;

	if (!s)
		return;
	for (uint32_t c = 0; c < s->n_cols; c++) {
		struct v20_col *col = &s->cols[c];

		for (size_t p = 0; col->pages && p < f->cols[c].n_pages; p++)
			if (col->pages[p])
				lpb20__encoding__free_unpacked(col->pages[p],
							       NULL);
		lc_free(col->pages);
		lc_free(col->item_base);
	}
	lc_free(s->cols);
	lc_free(s);
	f->dec = NULL;
}

/* Parse column `ci`'s encodings into `col` (not yet published). */
static int parse_column(struct v20_col *col, struct lance_file *f,
			uint32_t ci, struct lc_err *err)
{
	const struct lance_column *lc = &f->cols[ci];
	bool all_lists = lc->n_pages > 0;
	int rc;

	if (lc->type_url[0] && strcmp(lc->type_url, URL_COLUMN))
		return LC_UNSUPPORTED(err, "column %u: column encoding %.64s",
				      ci, lc->type_url);
	if (lc->enc_len) {
		Lpb20__ColumnEnc *ce;

		rc = lance__pb_check(lc->enc, lc->enc_len, LANCE_PB_MAX_DEPTH,
				     "column encoding", err);
		if (rc)
			return rc;
		ce = lpb20__column_enc__unpack(NULL, lc->enc_len, lc->enc);
		if (!ce)
			return LC_CORRUPT(err, "column %u: column encoding "
					  "does not parse", ci);
		col->blob = ce->kind_case == LPB20__COLUMN_ENC__KIND_BLOB;
		rc = ce->kind_case == LPB20__COLUMN_ENC__KIND_ZONE_INDEX
			     ? LC_UNSUPPORTED(err, "column %u: zone-index "
					      "column encoding", ci)
			     : 0;
		lpb20__column_enc__free_unpacked(ce, NULL);
		if (rc)
			return rc;
	}
	col->pages = lc_calloc(lc->n_pages ? lc->n_pages : 1,
			       sizeof(*col->pages));
	if (!col->pages)
		return LC_NOMEM(err);
	for (size_t p = 0; p < lc->n_pages; p++) {
		const struct lance_page *pg = &lc->pages[p];

		if (strcmp(pg->type_url, URL_ARRAY))
			return LC_UNSUPPORTED(err, "column %u page %zu: page "
					      "encoding %.64s in a 2.0 file",
					      ci, p, pg->type_url);
		rc = parse_array_enc(&col->pages[p], pg->enc, pg->enc_len,
				     err);
		if (rc) {
			lc_err_prefix(err, "column %u page %zu: ", ci, p);
			return rc;
		}
		if (col->pages[p]->kind_case != LPB20__ENCODING__KIND_LIST)
			all_lists = false;
		col->rows = pg->first_row + pg->length;
	}
	if (all_lists) {
		col->item_base = lc_malloc((lc->n_pages + 1) *
					   sizeof(uint64_t));
		if (!col->item_base)
			return LC_NOMEM(err);
		col->item_base[0] = 0;
		for (size_t p = 0; p < lc->n_pages; p++) {
			uint64_t k = col->pages[p]->list->num_items;

			if (k > UINT64_MAX - col->item_base[p])
				return LC_CORRUPT(err, "column %u: list item "
						  "counts overflow", ci);
			col->item_base[p + 1] = col->item_base[p] + k;
		}
	}
	return 0;
}

static void col_reset(struct v20_col *col, size_t n_pages)
{
	for (size_t p = 0; col->pages && p < n_pages; p++)
		if (col->pages[p])
			lpb20__encoding__free_unpacked(col->pages[p], NULL);
	lc_free(col->pages);
	lc_free(col->item_base);
	memset(col, 0, sizeof(*col));
}

/* The parsed state of column `ci`, parsing it on first use. */
static int get_col(const struct v20_col **out, struct lance_file *f,
		   uint32_t ci, struct lc_err *err)
{
	struct v20_state *s;
	struct v20_col *col;
	int rc = 0;

	if (ci >= f->n_cols)
		return LC_CORRUPT(err, "column %u of %u", ci, f->n_cols);
	pthread_mutex_lock(&f->mu);
	s = f->dec;
	if (!s) {
		s = lc_calloc(1, sizeof(*s));
		if (s)
			s->cols = lc_calloc(f->n_cols ? f->n_cols : 1,
					    sizeof(*s->cols));
		if (!s || !s->cols) {
			lc_free(s);
			rc = LC_NOMEM(err);
			goto out_unlock;
		}
		s->n_cols = f->n_cols;
		f->dec = s;
		f->dec_free = v20_free;
	}
	col = &s->cols[ci];
	if (!col->parsed) {
		rc = parse_column(col, f, ci, err);
		if (rc) {
			col_reset(col, f->cols[ci].n_pages);
			goto out_unlock;
		}
		col->parsed = true;
	}
	*out = col;
out_unlock:
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* ------------------------------------------------------------ file reads */

struct file_ctx {
	struct lance_file *f;
	const struct lance_page *p;
};

static int file_read(void *ctx, size_t idx, uint64_t off, size_t len,
		     uint8_t *dst, struct lc_err *err)
{
	struct file_ctx *fc = ctx;

	return lance__file_pread(fc->f, fc->p->buf_off[idx] + off, len, dst,
				 err);
}

/* Calls `fn` for each page piece of rows [row, row + n) of column `ci`. */
typedef int (*page_fn)(void *arg, const struct dctx *c, const enc_t *e,
		       size_t page, uint64_t a, uint64_t b,
		       struct lc_err *err);

static int for_pages(struct lance_file *f, int32_t ci,
		     const struct v20_col *col, uint64_t row, uint64_t n,
		     bool sizes_only, page_fn fn, void *arg,
		     struct lc_err *err)
{
	const struct lance_column *lc = &f->cols[ci];
	uint64_t r = row, end = row + n;
	size_t p = 0;
	int rc;

	if (!lc_range_ok(row, n, col->rows))
		return LC_CORRUPT(err, "column %d: rows %" PRIu64 "+%" PRIu64
				  " asked, its pages hold %" PRIu64, ci, row,
				  n, col->rows);
	if (n && !lance__page_for_row(lc, row, &p))
		return LC_CORRUPT(err, "column %d: no page holds row %" PRIu64,
				  ci, row);
	for (; r < end && p < lc->n_pages; p++) {
		const struct lance_page *pg = &lc->pages[p];
		struct file_ctx fc = { f, pg };
		struct v20_src src = { file_read, &fc, pg->buf_size,
				       pg->n_buffers };
		struct dctx c = { &src, sizes_only };
		uint64_t a = r - pg->first_row, b = pg->length;

		if (!pg->length)
			continue;
		if (end - pg->first_row < b)
			b = end - pg->first_row;
		rc = fn(arg, &c, col->pages[p], p, a, b, err);
		if (rc) {
			lc_err_prefix(err, "column %d page %zu: ", ci, p);
			return rc;
		}
		r = pg->first_row + b;
	}
	return 0;
}

struct leaf_arg {
	struct lance_array *out;
	const struct lance_field *field;
	const struct lance_type *type;
};

static int leaf_page(void *arg, const struct dctx *c, const enc_t *e,
		     size_t page, uint64_t a, uint64_t b, struct lc_err *err)
{
	struct leaf_arg *la = arg;
	struct lance_array part = { 0 };
	int rc;

	(void)page;
	rc = decode_into(&part, c, e, la->type, la->field, a, b, err);
	if (!rc)
		rc = lance__array_append(la->out, &part, err);
	lance_array_reset(&part);
	return rc;
}

struct blob_arg {
	uint64_t *pos, *size;
	uint64_t k;
};

/* Blob v1 descriptors: PackedStruct(u64 position, u64 size). */
static int blob_page(void *arg, const struct dctx *c, const enc_t *e,
		     size_t page, uint64_t a, uint64_t b, struct lc_err *err)
{
	struct blob_arg *ba = arg;
	uint64_t widths[2], w;
	uint8_t *rec;
	int rc;

	(void)page;
	while (e->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
	       e->nullable->nullability_case ==
		       LPB20__NULLABLE__NULLABILITY_NO_NULLS &&
	       e->nullable->no_nulls->values)
		e = e->nullable->no_nulls->values;
	if (e->kind_case != LPB20__ENCODING__KIND_PACKED_STRUCT)
		return LC_CORRUPT(err, "blob descriptors encoded as %s",
				  enc_name((int)e->kind_case));
	rc = packed_read(&rec, &w, widths, 2, c, e->packed_struct, a, b, err);
	if (rc)
		return rc;
	if (e->packed_struct->n_inner != 2 || widths[0] != 8 ||
	    widths[1] != 8) {
		lc_free(rec);
		return LC_CORRUPT(err, "blob descriptors of %zu fields, %"
				  PRIu64 " bytes", e->packed_struct->n_inner,
				  w);
	}
	for (uint64_t i = 0; i < b - a; i++, ba->k++) {
		ba->pos[ba->k] = lc_le64(rec + 16 * i);
		ba->size[ba->k] = lc_le64(rec + 16 * i + 8);
	}
	lc_free(rec);
	return 0;
}

static int read_blob(struct lance_array *out, struct lance_file *f,
		     const struct lance_field *field, int32_t ci,
		     const struct v20_col *col, uint64_t row, uint64_t n,
		     bool sizes_only, struct lc_err *err)
{
	struct blob_arg ba = { 0 };
	uint64_t total = 0, fsize = ostore_size(f->obj);
	int rc;

	if (field->type.id != LANCE_T_BINARY)
		return LC_CORRUPT(err, "blob column for a type %d field",
				  (int)field->type.id);
	ba.pos = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	ba.size = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	out->offsets = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	if (!ba.pos || !ba.size || !out->offsets) {
		rc = LC_NOMEM(err);
		goto out;
	}
	rc = for_pages(f, ci, col, row, n, sizes_only, blob_page, &ba, err);
	if (rc)
		goto out;
	if (ba.k != n) {
		rc = LC_CORRUPT(err, "blob column %d: %" PRIu64 " descriptors"
				" for %" PRIu64 " rows", ci, ba.k, n);
		goto out;
	}
	out->length = n;
	out->offsets[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		/* (1, 0) is a null, (0, 0) an empty value */
		if (ba.size[i] == 0 && ba.pos[i] == 1) {
			if (!out->validity) {
				out->validity = bitmap_new(n, true);
				if (!out->validity) {
					rc = LC_NOMEM(err);
					goto out;
				}
			}
			bit_put(out->validity, i, false);
		} else if (ba.size[i] &&
			   !lc_range_ok(ba.pos[i], ba.size[i], fsize)) {
			rc = LC_CORRUPT(err, "blob of row %" PRIu64 " at %"
					PRIu64 "+%" PRIu64 " is past the end "
					"of the file", row + i, ba.pos[i],
					ba.size[i]);
			goto out;
		} else {
			if (ba.size[i] > LANCE_MAX_VALUE_BYTES - total) {
				rc = LC_LIMIT(err, "blob rows of more than %"
					      PRIu64 " bytes",
					      (uint64_t)LANCE_MAX_VALUE_BYTES);
				goto out;
			}
			total += ba.size[i];
		}
		out->offsets[i + 1] = total;
	}
	if (sizes_only)
		goto out;
	out->values = lc_malloc(total ? (size_t)total : 1);
	if (!out->values) {
		rc = LC_NOMEM(err);
		goto out;
	}
	out->values_len = total;
	/* One read per run of payloads that sit back to back. */
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1, len = out->offsets[i + 1] - out->offsets[i];

		if (!len) {
			i++;
			continue;
		}
		while (j < n && ba.size[j] &&
		       ba.pos[j] == ba.pos[j - 1] + ba.size[j - 1]) {
			len += ba.size[j];
			j++;
		}
		rc = lance__file_pread(f, ba.pos[i], (size_t)len,
				       out->values + out->offsets[i], err);
		if (rc)
			goto out;
		i = j;
	}
out:
	lc_free(ba.pos);
	lc_free(ba.size);
	return rc;
}

static int read_field(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      uint64_t n, bool sizes_only, int depth,
		      struct lc_err *err);

struct list_arg {
	const struct v20_col *col;
	uint64_t *offsets;	/* global item ends, n + 1 */
	uint8_t *validity;
	uint64_t k;		/* rows done */
	uint64_t n;
};

static int list_page(void *arg, const struct dctx *c, const enc_t *e,
		     size_t page, uint64_t a, uint64_t b, struct lc_err *err)
{
	struct list_arg *la = arg;
	uint64_t *ends = NULL, base;
	uint8_t *valid = NULL;
	int rc;

	if (e->kind_case != LPB20__ENCODING__KIND_LIST || !la->col->item_base)
		return LC_CORRUPT(err, "list column page encoded as %s",
				  enc_name((int)e->kind_case));
	rc = list_range(&ends, &valid, c, e->list, a, b, err);
	if (rc)
		return rc;
	base = la->col->item_base[page];
	if (la->k == 0)
		la->offsets[0] = base + ends[0];
	else if (base + ends[0] != la->offsets[la->k])
		rc = LC_CORRUPT(err, "list items are not contiguous: page "
				"starts at item %" PRIu64 ", previous row "
				"ended at %" PRIu64, base + ends[0],
				la->offsets[la->k]);
	for (uint64_t i = 0; !rc && i < b - a; i++) {
		la->offsets[la->k + i + 1] = base + ends[i + 1];
		if (valid && !bit_get(valid, i)) {
			if (!la->validity) {
				la->validity = bitmap_new(la->n, true);
				if (!la->validity)
					rc = LC_NOMEM(err);
			}
			if (la->validity)
				bit_put(la->validity, la->k + i, false);
		}
	}
	la->k += b - a;
	lc_free(ends);
	lc_free(valid);
	return rc;
}

static int read_list(struct lance_array *out, struct lance_file *f,
		     const struct lance_field *field, int32_t ci,
		     const struct v20_col *col, uint64_t row, uint64_t n,
		     int depth, struct lc_err *err)
{
	struct list_arg la = { col, NULL, NULL, 0, n };
	uint64_t lo;
	int rc;

	if (field->n_children != 1)
		return LC_CORRUPT(err, "list field with %zu children",
				  field->n_children);
	la.offsets = lc_malloc(((size_t)n + 1) * sizeof(uint64_t));
	if (!la.offsets)
		return LC_NOMEM(err);
	la.offsets[0] = 0;
	rc = for_pages(f, ci, col, row, n, false, list_page, &la, err);
	if (rc)
		goto out;
	lo = la.offsets[0];
	for (uint64_t i = 0; i <= n; i++)
		la.offsets[i] -= lo;
	out->children = lc_calloc(1, sizeof(*out->children));
	if (!out->children) {
		rc = LC_NOMEM(err);
		goto out;
	}
	out->n_children = 1;
	out->length = n;
	rc = read_field(&out->children[0], f, field->children[0], lo,
			la.offsets[n], false, depth + 1, err);
	if (rc)
		goto out;
	out->offsets = la.offsets;
	out->validity = la.validity;
	la.offsets = NULL;
	la.validity = NULL;
out:
	lc_free(la.offsets);
	lc_free(la.validity);
	return rc;
}

static int read_field(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      uint64_t n, bool sizes_only, int depth,
		      struct lc_err *err)
{
	const struct v20_col *col = NULL;
	int32_t ci = lance__file_column(f, field->id);
	int rc;

	out->type = &field->type;
	out->field = field;
	if (depth > 32)
		return LC_LIMIT(err, "fields nested deeper than 32");
	if (n > MAX_ROWS)
		return LC_LIMIT(err, "%" PRIu64 " rows in one read", n);
	if (ci < 0)
		return LC_NOTFOUND(err, "field %d (%s) has no column in this "
				   "file", field->id, field->name);
	rc = get_col(&col, f, (uint32_t)ci, err);
	if (rc)
		return rc;
	if (col->blob)
		return read_blob(out, f, field, ci, col, row, n, sizes_only,
				 err);
	switch (field->type.id) {
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		if (sizes_only)
			return LC_UNSUPPORTED(err, "sizes of a list field");
		return read_list(out, f, field, ci, col, row, n, depth, err);
	case LANCE_T_STRUCT:
		if (field->packed)
			break;
		if (!lc_range_ok(row, n, col->rows))
			return LC_CORRUPT(err, "struct column %d: rows %"
					  PRIu64 "+%" PRIu64 " asked, it "
					  "holds %" PRIu64, ci, row, n,
					  col->rows);
		out->length = n;
		if (!field->n_children)
			return 0;
		out->children = lc_calloc(field->n_children,
					  sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = field->n_children;
		for (size_t i = 0; i < field->n_children; i++) {
			rc = read_field(&out->children[i], f,
					field->children[i], row, n, false,
					depth + 1, err);
			if (rc)
				return rc;
		}
		return 0;
	default:
		break;
	}
	{
		struct leaf_arg la = { out, field, &field->type };

		out->length = 0;
		rc = for_pages(f, ci, col, row, n, sizes_only, leaf_page, &la,
			       err);
		if (rc)
			return rc;
		if (out->length != n)
			return LC_CORRUPT(err, "column %d decoded %" PRIu64
					  " rows, wanted %" PRIu64, ci,
					  out->length, n);
		if (n == 0 && is_var(&field->type) && !out->offsets) {
			out->offsets = lc_calloc(1, sizeof(uint64_t));
			if (!out->offsets)
				return LC_NOMEM(err);
		}
	}
	return 0;
}

int lance__v20_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	return read_field(out, f, field, row, n, false, 0, err);
}

int lance__v20_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		     const struct lance_field *field, uint64_t row, uint64_t n,
		     struct lc_err *err)
{
	struct lance_array a = { 0 };
	int rc;

	if (!is_var(&field->type))
		return lance__sizes_by_decode(sizes, valid, f, field, row, n,
					      err);
	rc = read_field(&a, f, field, row, n, true, 0, err);
	if (!rc && (!a.offsets || a.length != n))
		rc = LC_CORRUPT(err, "value sizes: decoded %" PRIu64 " of %"
				PRIu64 " rows", a.length, n);
	for (uint64_t i = 0; !rc && i < n; i++) {
		valid[i] = lance_array_is_valid(&a, i);
		sizes[i] = a.offsets[i + 1] - a.offsets[i];
	}
	lance_array_reset(&a);
	return rc;
}

/* ------------------------------------------------------------ windows */

/* The Flat buffer holding bytes stored as they are, or NULL. */
static const Lpb20__Flat *plain_bytes(const enc_t *e)
{
	while (e && e->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
	       e->nullable->nullability_case ==
		       LPB20__NULLABLE__NULLABILITY_NO_NULLS)
		e = e->nullable->no_nulls->values;
	if (!e || e->kind_case != LPB20__ENCODING__KIND_FLAT ||
	    e->flat->bits_per_value != 8 ||
	    (e->flat->compression && e->flat->compression->scheme &&
	     e->flat->compression->scheme[0]))
		return NULL;
	return e->flat;
}

/* Row a of a Binary encoding: its ends as binary_range reads them, then
 * the window's bytes from the Flat bytes buffer. */
static int binary_window(struct lance_win *w, const struct dctx *c,
			 const Lpb20__VarBinary *bin, uint64_t a,
			 struct lc_err *err)
{
	uint64_t adj = bin->null_adjustment, *raw, start, end, r;
	const Lpb20__Flat *fl;
	size_t idx, n;
	int rc;

	if (!bin->indices || !bin->bytes || !(fl = plain_bytes(bin->bytes)) ||
	    buf_index(&idx, c, fl->buffer, NULL))
		return LANCE_WINDOW_DECODE;
	rc = read_u64s(&raw, c, bin->indices, a ? a - 1 : 0, a + 1, err);
	if (rc)
		return rc;
	start = a ? (adj && raw[0] >= adj ? raw[0] - adj : raw[0]) : 0;
	r = raw[a ? 1 : 0];
	lc_free(raw);
	end = adj && r >= adj ? r - adj : r;
	if (end < start)
		return LANCE_WINDOW_DECODE;
	if (adj && r >= adj)
		return 0;	/* a null */
	if (end - start > LANCE_MAX_VALUE_BYTES ||
	    !lc_range_ok(start, end - start, c->src->buf_size[idx]))
		return LANCE_WINDOW_DECODE;
	w->valid = true;
	w->size = end - start;
	n = lance__win_clip(w, w->size);
	rc = n ? c->src->read(c->src->ctx, idx, start + w->off, n, w->dst,
			      err) : 0;
	if (!rc)
		w->got = n;
	return rc;
}

/* Row a of a page of strings or binary: Nullable layers, then Binary. */
static int page_window(struct lance_win *w, const struct dctx *c,
		       const enc_t *e, uint64_t a, struct lc_err *err)
{
	for (int depth = 0; e && depth < 8; depth++) {
		const Lpb20__Nullable *nl;
		const Lpb20__SomeNulls *sn;
		const enc_t *v;
		uint8_t *bm;
		uint64_t bl;
		bool set;
		int rc;

		if (e->kind_case == LPB20__ENCODING__KIND_BINARY)
			return binary_window(w, c, e->binary, a, err);
		if (e->kind_case != LPB20__ENCODING__KIND_NULLABLE)
			return LANCE_WINDOW_DECODE;
		nl = e->nullable;
		switch (nl->nullability_case) {
		case LPB20__NULLABLE__NULLABILITY_NO_NULLS:
			e = nl->no_nulls->values;
			continue;
		case LPB20__NULLABLE__NULLABILITY_ALL_NULLS:
			return 0;
		case LPB20__NULLABLE__NULLABILITY_SOME_NULLS:
			break;
		default:
			return LANCE_WINDOW_DECODE;
		}
		sn = nl->some_nulls;
		v = sn->validity;
		while (v && v->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
		       v->nullable->nullability_case ==
			       LPB20__NULLABLE__NULLABILITY_NO_NULLS)
			v = v->nullable->no_nulls->values;
		if (!sn->values || !v ||
		    v->kind_case != LPB20__ENCODING__KIND_FLAT ||
		    v->flat->bits_per_value != 1 ||
		    (v->flat->compression && v->flat->compression->scheme &&
		     v->flat->compression->scheme[0]))
			return LANCE_WINDOW_DECODE;
		rc = flat_read(&bm, &bl, c, v->flat, 1, a, a + 1, err);
		if (rc)
			return rc;
		set = bm[0] & 1;
		lc_free(bm);
		if (!set)
			return 0;
		e = sn->values;
	}
	return LANCE_WINDOW_DECODE;
}

/* Row a of a blob v1 column: its descriptor, then the payload's window
 * from wherever in the file it sits. */
static int blob_window(struct lance_win *w, struct lance_file *f,
		       const struct dctx *c, const enc_t *e, uint64_t a,
		       struct lc_err *err)
{
	uint64_t widths[2], rw, pos, size;
	uint8_t *rec;
	size_t n;
	int rc;

	while (e->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
	       e->nullable->nullability_case ==
		       LPB20__NULLABLE__NULLABILITY_NO_NULLS &&
	       e->nullable->no_nulls->values)
		e = e->nullable->no_nulls->values;
	if (e->kind_case != LPB20__ENCODING__KIND_PACKED_STRUCT)
		return LANCE_WINDOW_DECODE;
	rc = packed_read(&rec, &rw, widths, 2, c, e->packed_struct, a, a + 1,
			 err);
	if (rc)
		return rc;
	pos = lc_le64(rec);
	size = lc_le64(rec + 8);
	lc_free(rec);
	if (e->packed_struct->n_inner != 2 || widths[0] != 8 ||
	    widths[1] != 8)
		return LANCE_WINDOW_DECODE;
	if (size == 0 && pos == 1)
		return 0;	/* a null, as read_blob has it */
	if ((size && !lc_range_ok(pos, size, ostore_size(f->obj))) ||
	    size > LANCE_MAX_VALUE_BYTES)
		return LANCE_WINDOW_DECODE;
	w->valid = true;
	w->size = size;
	n = lance__win_clip(w, size);
	rc = n ? lance__file_pread(f, pos + w->off, n, w->dst, err) : 0;
	if (!rc)
		w->got = n;
	return rc;
}

int lance__v20_window(struct lance_win *w, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      struct lc_err *err)
{
	const struct v20_col *col;
	const struct lance_column *lc;
	const struct lance_page *pg;
	int32_t ci = lance__file_column(f, field->id);
	size_t p;
	int rc;

	if (ci < 0)
		return LANCE_WINDOW_DECODE;
	rc = get_col(&col, f, (uint32_t)ci, err);
	if (rc)
		return rc;
	lc = &f->cols[ci];
	if ((col->blob && field->type.id != LANCE_T_BINARY) ||
	    (!col->blob && !is_var(&field->type)) || row >= col->rows ||
	    !(pg = lance__page_for_row(lc, row, &p)))
		return LANCE_WINDOW_DECODE;
	{
		struct file_ctx fc = { f, pg };
		struct v20_src src = { file_read, &fc, pg->buf_size,
				       pg->n_buffers };
		struct dctx c = { &src, false };
		uint64_t a = row - pg->first_row;

		rc = col->blob ? blob_window(w, f, &c, col->pages[p], a, err)
			       : page_window(w, &c, col->pages[p], a, err);
	}
	if (rc > 0)
		lc_err_prefix(err, "column %d page %zu: ", ci, p);
	return rc;
}

int lance__v20_page_window(struct lance_win *w, const uint8_t *enc,
			   size_t enc_len, const uint8_t *const *bufs,
			   const uint64_t *sizes, size_t n_bufs,
			   uint64_t page_rows, uint64_t row,
			   struct lc_err *err)
{
	struct mem_ctx m = { bufs };
	struct v20_src src = { mem_read, &m, sizes, n_bufs };
	struct dctx c = { &src, false };
	enc_t *e;
	int rc;

	if (row >= page_rows)
		return LC_USAGE(err, "row %" PRIu64 " of a %" PRIu64 "-row "
				"page", row, page_rows);
	rc = parse_array_enc(&e, enc, enc_len, err);
	if (rc)
		return rc;
	rc = page_window(w, &c, e, row, err);
	lpb20__encoding__free_unpacked(e, NULL);
	return rc;
}
