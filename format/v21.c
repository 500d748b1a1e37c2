/*
 * v21.c - decoder for 2.1+ "structural" data files (footer 2.1/2.2/2.3),
 * file-format.md section 4.
 *
 * Three layers:
 *  1. compressive decoders: pure functions from bytes to a `struct blk`
 *     (fixed-width values, variable-width values, FSL item validity), in
 *     the three contexts the format has: mini-block chunk values, whole
 *     blocks (levels, dictionaries) and full-zip per-value;
 *  2. page readers: mini-block, full-zip, constant/all-null and blob
 *     layouts turn "rows [a, b) of this page" into levels plus visible
 *     values. They get bytes through a `struct src`, which is either the
 *     file (range reads) or in-memory buffers (the fuzzer), and cache
 *     per-page metadata (chunk table, dictionary, repetition index) in
 *     f->dec under f->mu, never holding the mutex over I/O;
 *  3. assembly: rep/def levels of every leaf column under a field become
 *     validity bitmaps and list offsets (section 4.1), then the array.
 *
 * Definition levels are rewritten per page into a canonical form so that
 * pages with different layer sets line up: 0 = valid, 2 * j + 1 = null at
 * layer j, 2 * j + 2 = empty list at layer j (j counted inner-most first).
 */
#include "lance_int.h"

#include <stdio.h>

#include "enc21.pb-c.h"

#define PAGE_URL "/lance.encodings21.PageLayout"
#define OLD_PAGE_URL "/lance.encodings.PageLayout"
/* Caps on what one read may make us allocate. */
#define MAX_ITEMS (1ull << 28)
#define MAX_BYTES (1ull << 31)
#define MAX_LAYERS 32
#define MAX_CHUNKS (1ull << 26)
/* a fixed-size list's items, and a value's bits (8 MiB: a flattened
 * 1024 x 1024 x 3 image of float16, or of uint8 twice over) */
#define MAX_DIM (1ull << 23)
#define MAX_VALUE_BITS (64ull << 20)

/* ---------------------------------------------------------------- blocks */

/* Decoded values. Fixed: bits per value (1 = bitmap), n * bits / 8
 * bytes. Variable (bits == 0): n + 1 offsets into data. FSL values carry
 * dim items each and optionally an item validity bitmap. */
struct blk {
	uint64_t n;
	unsigned bits;
	uint8_t *data;
	uint64_t data_len;
	uint64_t *offs;
	uint8_t *ivalid;	/* n * dim bits or NULL */
	uint32_t dim;		/* items per value (FSL), else 1 */
};

static void blk_reset(struct blk *b)
{
	lc_free(b->data);
	lc_free(b->offs);
	lc_free(b->ivalid);
	memset(b, 0, sizeof(*b));
}

static uint64_t fixed_bytes(uint64_t n, unsigned bits)
{
	return bits == 1 ? (n + 7) / 8 : n * (bits / 8);
}

static bool bit_get(const uint8_t *m, uint64_t i)
{
	return (m[i >> 3] >> (i & 7)) & 1;
}

static void bit_set(uint8_t *m, uint64_t i, bool v)
{
	if (v)
		m[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		m[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static void bits_copy(uint8_t *dst, uint64_t doff, const uint8_t *src,
		      uint64_t soff, uint64_t n)
{
	if (!(doff & 7) && !(soff & 7)) {
		memcpy(dst + doff / 8, src + soff / 8, (size_t)(n / 8));
		for (uint64_t i = n & ~7ull; i < n; i++)
			bit_set(dst, doff + i, bit_get(src, soff + i));
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		bit_set(dst, doff + i, bit_get(src, soff + i));
}

/* Fixed block of n values of `bits`, zeroed. */
static int blk_fixed(struct blk *b, uint64_t n, unsigned bits,
		     struct lc_err *err)
{
	memset(b, 0, sizeof(*b));
	if (n > MAX_ITEMS || (bits > 8 && n > MAX_BYTES / (bits / 8)))
		return LC_LIMIT(err, "%" PRIu64 " values of %u bits", n, bits);
	b->n = n;
	b->bits = bits;
	b->dim = 1;
	b->data_len = fixed_bytes(n, bits);
	b->data = lc_calloc(1, (size_t)b->data_len + 1);
	return b->data ? 0 : LC_NOMEM(err);
}

/* A fixed-size list of d booleans a value, decoded as n * d bits: each
 * value's d bits moved to the start of its own ceil(d / 8) bytes, so that
 * values are whole bytes as every other fixed block's (the item bits are
 * packed again when the array is built). */
static int blk_pad_bits(struct blk *b, uint64_t n, uint64_t d,
			struct lc_err *err)
{
	uint64_t B = (d + 7) / 8;
	uint8_t *p;

	if (n > MAX_BYTES / B)
		return LC_LIMIT(err, "%" PRIu64 " lists of %" PRIu64
				" booleans", n, d);
	p = lc_calloc(1, (size_t)(n * B) + 1);
	if (!p)
		return LC_NOMEM(err);
	for (uint64_t i = 0; i < n; i++)
		bits_copy(p + i * B, 0, b->data, i * d, d);
	lc_free(b->data);
	b->data = p;
	b->data_len = n * B;
	b->bits = (unsigned)(8 * B);
	return 0;
}

/* A block of n * d items as n vectors of d items: one value each (of
 * whole bytes: booleans padded, blk_pad_bits). Frees b on failure. */
static int blk_as_vectors(struct blk *b, uint64_t n, uint64_t d,
			  struct lc_err *err)
{
	int rc = 0;

	if (b->bits == 1)
		rc = blk_pad_bits(b, n, d, err);
	else
		b->bits *= (unsigned)d;
	if (rc) {
		blk_reset(b);
		return rc;
	}
	b->dim = (uint32_t)d;
	b->n = n;
	return 0;
}

/* Append values [start, start + cnt) of src to dst (same shape). */
static int blk_append(struct blk *dst, const struct blk *src, uint64_t start,
		      uint64_t cnt, struct lc_err *err)
{
	uint64_t nn;

	if (!dst->data && !dst->offs && !dst->n) {
		dst->bits = src->bits;
		dst->dim = src->dim;
	}
	if (dst->bits != src->bits || dst->dim != src->dim)
		return LC_CORRUPT(err, "pages disagree on value width (%u vs "
				  "%u bits)", dst->bits, src->bits);
	if (!lc_range_ok(start, cnt, src->n))
		return LC_CORRUPT(err, "value slice %" PRIu64 "+%" PRIu64
				  " of %" PRIu64, start, cnt, src->n);
	nn = dst->n + cnt;
	if (nn > MAX_ITEMS)
		return LC_LIMIT(err, "%" PRIu64 " values in one read", nn);
	if (src->bits) {
		uint64_t need = fixed_bytes(nn, src->bits);
		uint8_t *d = lc_realloc(dst->data, (size_t)need + 1);

		if (!d)
			return LC_NOMEM(err);
		dst->data = d;
		if (src->bits == 1)
			bits_copy(d, dst->n, src->data, start, cnt);
		else
			memcpy(d + dst->n * (src->bits / 8),
			       src->data + start * (src->bits / 8),
			       (size_t)(cnt * (src->bits / 8)));
		dst->data_len = need;
	} else {
		uint64_t lo = src->offs[start], hi = src->offs[start + cnt];
		uint64_t base = dst->n ? dst->offs[dst->n] : 0;
		uint64_t *o;
		uint8_t *d;

		if (hi - lo > MAX_BYTES - base)
			return LC_LIMIT(err, "more than %llu value bytes in "
					"one read", MAX_BYTES);
		o = lc_realloc(dst->offs, (size_t)(nn + 1) * sizeof(*o));
		if (!o)
			return LC_NOMEM(err);
		dst->offs = o;
		d = lc_realloc(dst->data, (size_t)(base + hi - lo) + 1);
		if (!d)
			return LC_NOMEM(err);
		dst->data = d;
		memcpy(d + base, src->data + lo, (size_t)(hi - lo));
		o[0] = dst->n ? o[0] : 0;
		for (uint64_t i = 0; i <= cnt; i++)
			o[dst->n + i] = base + src->offs[start + i] - lo;
		dst->data_len = base + hi - lo;
	}
	if (src->ivalid || dst->ivalid) {
		uint64_t items = nn * dst->dim;
		uint8_t *v = lc_realloc(dst->ivalid, (size_t)(items + 7) / 8 +
					1);

		if (!v)
			return LC_NOMEM(err);
		if (!dst->ivalid)	/* earlier values were all valid */
			memset(v, 0xff, (size_t)(items + 7) / 8 + 1);
		dst->ivalid = v;
		if (src->ivalid)
			bits_copy(v, dst->n * dst->dim, src->ivalid,
				  start * src->dim, cnt * src->dim);
		else
			for (uint64_t i = 0; i < cnt * src->dim; i++)
				bit_set(v, dst->n * dst->dim + i, true);
	}
	dst->n = nn;
	return 0;
}

/* Variable block from n + 1 offsets of `w` bytes at p (absolute within
 * region [base, base + len)); offsets are rebased to 0. */
static int blk_var_from(struct blk *b, const uint8_t *region, uint64_t len,
			const uint8_t *offp, unsigned w, uint64_t n,
			uint64_t delta, struct lc_err *err)
{
	uint64_t first, last;

	memset(b, 0, sizeof(*b));
	b->dim = 1;
	if (n > MAX_ITEMS)
		return LC_LIMIT(err, "%" PRIu64 " variable values", n);
	b->offs = lc_malloc((size_t)(n + 1) * sizeof(uint64_t));
	if (!b->offs)
		return LC_NOMEM(err);
	for (uint64_t i = 0; i <= n; i++) {
		uint64_t o = w == 4 ? lc_le32(offp + 4 * i) :
				      lc_le64(offp + 8 * i);

		if (o < delta)
			return LC_CORRUPT(err, "offset %" PRIu64 " of value %"
					  PRIu64 " is below %" PRIu64, o, i,
					  delta);
		b->offs[i] = o - delta;
		if (i && b->offs[i] < b->offs[i - 1])
			return LC_CORRUPT(err, "offsets decrease at value %"
					  PRIu64, i);
	}
	first = b->offs[0];
	last = b->offs[n];
	if (last > len)
		return LC_CORRUPT(err, "value bytes end at %" PRIu64 ", buffer"
				  " has %" PRIu64, last, len);
	if (last - first > MAX_BYTES)
		return LC_LIMIT(err, "%" PRIu64 " value bytes", last - first);
	b->data = lc_malloc((size_t)(last - first) + 1);
	if (!b->data)
		return LC_NOMEM(err);
	memcpy(b->data, region + first, (size_t)(last - first));
	for (uint64_t i = 0; i <= n; i++)
		b->offs[i] -= first;
	b->data_len = last - first;
	b->n = n;
	return 0;
}

static int flat_check(unsigned *bits, uint64_t bpv, struct lc_err *err)
{
	if (bpv == 0 || (bpv != 1 && (bpv % 8 || bpv > 8 * 4096)))
		return LC_UNSUPPORTED(err, "flat encoding with %" PRIu64
				      " bits per value", bpv);
	*bits = (unsigned)bpv;
	return 0;
}

static int comp_scheme(enum lance_comp *out, const Lpb21__BufCompression *c,
		       struct lc_err *err)
{
	if (c && c->scheme == LPB21__SCHEME__SCHEME_ZSTD)
		*out = LANCE_COMP_ZSTD;
	else if (c && c->scheme == LPB21__SCHEME__SCHEME_LZ4)
		*out = LANCE_COMP_LZ4;
	else
		return LC_UNSUPPORTED(err, "general compression scheme %d",
				      c ? (int)c->scheme : -1);
	return 0;
}

/* Fixed values straight from bytes. */
static int decode_flat(struct blk *out, const uint8_t *p, uint64_t len,
		       uint64_t n, unsigned bits, struct lc_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((bits == 1 && (n / 8 > len || (n + 7) / 8 > len)) ||
	    (bits > 1 && n > len / (bits / 8)))
		return LC_CORRUPT(err, "%" PRIu64 " values of %u bits need %"
				  PRIu64 " bytes, buffer has %" PRIu64, n,
				  bits, bits == 1 ? (n + 7) / 8 :
				  n * (bits / 8), len);
	rc = blk_fixed(out, n, bits, err);
	if (rc)
		return rc;
	memcpy(out->data, p, (size_t)out->data_len);
	return 0;
}

/* Inline bit-packing: blocks of [t-bit word w][1024 values packed]. */
static int decode_ibp(struct blk *out, const uint8_t *p, uint64_t len,
		      uint64_t n, uint64_t t64, struct lc_err *err)
{
	unsigned t = (unsigned)t64, tb;
	uint8_t *tmp;
	uint64_t done = 0, pos = 0;
	int rc;

	if (t64 != 8 && t64 != 16 && t64 != 32 && t64 != 64)
		return LC_CORRUPT(err, "inline bit-packing of %" PRIu64
				  "-bit values", t64);
	tb = t / 8;
	if ((n + 1023) / 1024 > len / tb)
		return LC_CORRUPT(err, "%" PRIu64 " bit-packed values in %"
				  PRIu64 " bytes", n, len);
	rc = blk_fixed(out, n, t, err);
	if (rc)
		return rc;
	tmp = lc_malloc(1024 * 8);
	if (!tmp) {
		blk_reset(out);
		return LC_NOMEM(err);
	}
	while (done < n) {
		uint64_t w, need, take = n - done < 1024 ? n - done : 1024;

		if (len - pos < tb) {
			rc = LC_CORRUPT(err, "bit-packed block %" PRIu64
					" has no width word", done / 1024);
			goto out;
		}
		w = tb == 1 ? p[pos] : tb == 2 ? lc_le16(p + pos) :
		    tb == 4 ? lc_le32(p + pos) : lc_le64(p + pos);
		pos += tb;
		if (w > t) {
			rc = LC_CORRUPT(err, "bit width %" PRIu64 " for %u-bit "
					"values", w, t);
			goto out;
		}
		need = 128 * w;
		if (len - pos < need) {
			rc = LC_CORRUPT(err, "bit-packed block of width %"
					PRIu64 " needs %" PRIu64 " bytes, %"
					PRIu64 " left", w, need, len - pos);
			goto out;
		}
		lance__fl_unpack(t, (unsigned)w, p + pos, tmp);
		memcpy(out->data + done * tb, tmp, (size_t)(take * tb));
		pos += need;
		done += take;
	}
out:
	lc_free(tmp);
	if (rc)
		blk_reset(out);
	return rc;
}

static int decode_oolbp(struct blk *out, const Lpb21__OutOfLineBitpack *m,
			const uint8_t *p, uint64_t len, uint64_t n,
			struct lc_err *err)
{
	uint64_t t64 = m->uncompressed_bits_per_value, w, full, tail, blk;
	unsigned t = (unsigned)t64, tb;
	uint8_t *tmp;
	int rc;

	if (t64 != 8 && t64 != 16 && t64 != 32 && t64 != 64)
		return LC_CORRUPT(err, "bit-packing of %" PRIu64 "-bit values",
				  t64);
	if (!m->values || m->values->kind_case != LPB21__ENC__KIND_FLAT)
		return LC_UNSUPPORTED(err, "out-of-line bit-packing without "
				      "a flat width");
	w = m->values->flat->bits_per_value;
	if (w > t)
		return LC_CORRUPT(err, "bit width %" PRIu64 " for %u-bit "
				  "values", w, t);
	tb = t / 8;
	full = n / 1024;
	tail = n % 1024;
	blk = 128 * w;
	if (w && full > len / blk)
		return LC_CORRUPT(err, "%" PRIu64 " bit-packed blocks of %"
				  PRIu64 " bytes do not fit %" PRIu64, full,
				  blk, len);
	if (!w && n > MAX_ITEMS / 16)
		return LC_LIMIT(err, "%" PRIu64 " zero-width values", n);
	rc = blk_fixed(out, n, t, err);
	if (rc)
		return rc;
	if (full > len / (blk ? blk : 1) || (blk && full * blk > len)) {
		blk_reset(out);
		return LC_CORRUPT(err, "%" PRIu64 " bit-packed blocks of %"
				  PRIu64 " bytes do not fit %" PRIu64, full,
				  blk, len);
	}
	tmp = lc_malloc(1024 * 8);
	if (!tmp) {
		blk_reset(out);
		return LC_NOMEM(err);
	}
	for (uint64_t i = 0; i < full; i++) {
		lance__fl_unpack(t, (unsigned)w, p + i * blk, tmp);
		memcpy(out->data + i * 1024 * tb, tmp, 1024 * (size_t)tb);
	}
	rc = 0;
	if (tail) {
		uint64_t rest = len - full * blk;

		if (rest == tail * tb && (rest != blk || w == t)) {
			/* newer writers: the tail unpacked, raw words */
			memcpy(out->data + full * 1024 * tb, p + full * blk,
			       (size_t)rest);
		} else if (rest >= blk) {
			lance__fl_unpack(t, (unsigned)w, p + full * blk, tmp);
			memcpy(out->data + full * 1024 * tb, tmp,
			       (size_t)(tail * tb));
		} else {
			rc = LC_CORRUPT(err, "bit-packed tail of %" PRIu64
					" values has %" PRIu64 " bytes", tail,
					rest);
		}
	}
	lc_free(tmp);
	if (rc)
		blk_reset(out);
	return rc;
}

/* Transpose byte streams back: byte j of value i sits at j * n + i. */
static int unsplit(struct blk *b, struct lc_err *err)
{
	unsigned w = b->bits / 8;
	uint8_t *d;

	if (b->bits < 8 || !b->data)
		return LC_CORRUPT(err, "byte-stream-split of %u-bit values",
				  b->bits);
	d = lc_malloc((size_t)b->data_len + 1);
	if (!d)
		return LC_NOMEM(err);
	for (uint64_t i = 0; i < b->n; i++)
		for (unsigned j = 0; j < w; j++)
			d[i * w + j] = b->data[j * b->n + i];
	lc_free(b->data);
	b->data = d;
	return 0;
}

static int fsst_apply(struct blk *b, const Lpb21__Fsst *m, struct lc_err *err)
{
	struct lance_fsst t;
	struct blk o;
	uint64_t total = 0;
	int rc;

	if (b->bits)
		return LC_CORRUPT(err, "fsst over fixed-width values");
	rc = lance__fsst_parse(&t, m->symbol_table.data, m->symbol_table.len,
			       err);
	if (rc)
		return rc;
	memset(&o, 0, sizeof(o));
	o.dim = 1;
	o.n = b->n;
	o.offs = lc_malloc((size_t)(b->n + 1) * sizeof(uint64_t));
	if (!o.offs)
		return LC_NOMEM(err);
	o.offs[0] = 0;
	for (uint64_t i = 0; i < b->n; i++) {
		size_t l = lance__fsst_decoded_len(&t, b->data + b->offs[i],
						   b->offs[i + 1] - b->offs[i]);

		if (l == SIZE_MAX) {
			blk_reset(&o);
			return LC_CORRUPT(err, "fsst value %" PRIu64 " has a "
					  "bad code", i);
		}
		if (l > MAX_BYTES - total) {
			blk_reset(&o);
			return LC_LIMIT(err, "fsst values decode to more than "
					"%llu bytes", MAX_BYTES);
		}
		total += l;
		o.offs[i + 1] = total;
	}
	o.data = lc_malloc((size_t)total + 1);
	if (!o.data) {
		blk_reset(&o);
		return LC_NOMEM(err);
	}
	o.data_len = total;
	for (uint64_t i = 0; i < b->n; i++)
		lance__fsst_decode(&t, b->data + b->offs[i],
				   b->offs[i + 1] - b->offs[i],
				   o.data + o.offs[i]);
	blk_reset(b);
	*b = o;
	return 0;
}

/* Expand runs: values (fixed) x u8 run lengths, to exactly n values. */
static int rle_expand(struct blk *out, const struct blk *vals,
		      const uint8_t *runs, uint64_t n_runs, uint64_t n,
		      struct lc_err *err)
{
	uint64_t done = 0;
	unsigned w;
	int rc;

	if (vals->bits < 8 || vals->bits % 8)
		return LC_UNSUPPORTED(err, "rle of %u-bit values", vals->bits);
	if (n_runs > vals->n)
		return LC_CORRUPT(err, "%" PRIu64 " run lengths for %" PRIu64
				  " run values", n_runs, vals->n);
	w = vals->bits / 8;
	{
		uint64_t cover = 0;

		for (uint64_t r = 0; r < n_runs; r++)
			cover += runs[r];
		if (cover < n)
			return LC_CORRUPT(err, "runs cover %" PRIu64 " of %"
					  PRIu64 " values", cover, n);
	}
	rc = blk_fixed(out, n, vals->bits, err);
	if (rc)
		return rc;
	for (uint64_t r = 0; r < n_runs && done < n; r++) {
		uint64_t k = runs[r];

		if (k > n - done)
			k = n - done;
		for (uint64_t i = 0; i < k; i++)
			memcpy(out->data + (done + i) * w, vals->data + r * w,
			       w);
		done += k;
	}
	if (done != n) {
		blk_reset(out);
		return LC_CORRUPT(err, "runs cover %" PRIu64 " of %" PRIu64
				  " values", done, n);
	}
	return 0;
}

/* ------------------------------------------- block context (levels etc.) */

static int decode_block(struct blk *out, const Lpb21__Enc *e,
			const uint8_t *p, uint64_t len, uint64_t n,
			int depth, struct lc_err *err);

static int decode_block_var(struct blk *out, const Lpb21__Variable *m,
			    const uint8_t *p, uint64_t len, uint64_t n,
			    struct lc_err *err)
{
	unsigned w;
	uint64_t start, hdr;

	(void)m;
	if (len < 8)
		return LC_CORRUPT(err, "variable block of %" PRIu64 " bytes",
				  len);
	if (p[1] | p[2] | p[3]) {
		/* older form: u8 width, then count and bytes_start */
		w = p[0] / 8;
		if (w != 4 && w != 8)
			return LC_CORRUPT(err, "variable block offsets of %u "
					  "bits", p[0]);
		hdr = 1 + 2 * (uint64_t)w;
		if (len < hdr)
			return LC_CORRUPT(err, "variable block header");
		start = w == 4 ? lc_le32(p + 1 + w) : lc_le64(p + 1 + w);
	} else {
		w = lc_le32(p) / 8;
		if (w != 4 && w != 8)
			return LC_CORRUPT(err, "variable block offsets of %u "
					  "bits", lc_le32(p));
		hdr = 2 * (uint64_t)w;
		if (len < hdr)
			return LC_CORRUPT(err, "variable block header");
		start = w == 4 ? lc_le32(p + 4) : lc_le64(p + 8);
	}
	if (n + 1 > (len - hdr) / w || start > len)
		return LC_CORRUPT(err, "variable block of %" PRIu64 " bytes "
				  "cannot hold %" PRIu64 " offsets", len, n);
	{
		/* offsets index the data region; rebase on offset 0 */
		uint64_t o0 = w == 4 ? lc_le32(p + hdr) : lc_le64(p + hdr);
		int rc = blk_var_from(out, p + start, len - start, p + hdr, w,
				      n, o0, err);

		return rc;
	}
}

static int decode_block(struct blk *out, const Lpb21__Enc *e,
			const uint8_t *p, uint64_t len, uint64_t n,
			int depth, struct lc_err *err)
{
	unsigned bits = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!e)
		return LC_CORRUPT(err, "missing block encoding");
	if (depth > 8)
		return LC_CORRUPT(err, "block encodings nested too deep");
	switch (e->kind_case) {
	case LPB21__ENC__KIND_FLAT:
		rc = flat_check(&bits, e->flat->bits_per_value, err);
		if (rc)
			return rc;
		if (e->flat->data) {
			enum lance_comp c = LANCE_COMP_ZSTD;
			uint8_t *d;
			size_t dl;

			rc = comp_scheme(&c, e->flat->data, err);
			if (!rc)
				rc = lance__decompress(&d, &dl, c, p,
						       (size_t)len, MAX_BYTES,
						       err);
			if (rc)
				return rc;
			rc = decode_flat(out, d, dl, n, bits, err);
			lc_free(d);
			return rc;
		}
		return decode_flat(out, p, len, n, bits, err);
	case LPB21__ENC__KIND_INLINE_BITPACKING:
		return decode_ibp(out, p, len, n,
				  e->inline_bitpacking
					  ->uncompressed_bits_per_value, err);
	case LPB21__ENC__KIND_OUT_OF_LINE_BITPACKING:
		return decode_oolbp(out, e->out_of_line_bitpacking, p, len, n,
				    err);
	case LPB21__ENC__KIND_VARIABLE:
		return decode_block_var(out, e->variable, p, len, n, err);
	case LPB21__ENC__KIND_GENERAL: {
		enum lance_comp c = LANCE_COMP_ZSTD;
		uint8_t *d;
		size_t dl;

		rc = comp_scheme(&c, e->general->compression, err);
		if (!rc)
			rc = lance__decompress(&d, &dl, c, p, (size_t)len,
					       MAX_BYTES, err);
		if (rc)
			return rc;
		rc = decode_block(out, e->general->values, d, dl, n,
				  depth + 1, err);
		lc_free(d);
		return rc;
	}
	case LPB21__ENC__KIND_RLE: {
		/* u64 size of the values region, values, u8 run lengths */
		struct blk v;
		uint64_t vs, nv;

		if (!e->rle->values || !e->rle->run_lengths ||
		    e->rle->values->kind_case != LPB21__ENC__KIND_FLAT)
			return LC_UNSUPPORTED(err, "rle block without flat "
					      "values");
		rc = flat_check(&bits, e->rle->values->flat->bits_per_value,
				err);
		if (rc)
			return rc;
		if (len < 8 || (vs = lc_le64(p)) > len - 8 || bits < 8)
			return LC_CORRUPT(err, "rle block header");
		nv = vs / (bits / 8);
		rc = decode_flat(&v, p + 8, vs, nv, bits, err);
		if (rc)
			return rc;
		rc = rle_expand(out, &v, p + 8 + vs, len - 8 - vs, n, err);
		blk_reset(&v);
		return rc;
	}
	case LPB21__ENC__KIND_FIXED_SIZE_LIST: {
		uint64_t d = e->fixed_size_list->items_per_value;

		if (d == 0 || d > MAX_DIM || n > MAX_ITEMS / d)
			return LC_CORRUPT(err, "fixed-size list of %" PRIu64,
					  d);
		if (e->fixed_size_list->has_validity)
			return LC_UNSUPPORTED(err, "fixed-size list block with"
					      " item validity");
		rc = decode_block(out, e->fixed_size_list->values, p, len,
				  n * d, depth + 1, err);
		if (rc)
			return rc;
		if (!out->bits || out->dim != 1 ||
		    (uint64_t)out->bits * d > MAX_VALUE_BITS) {
			blk_reset(out);
			return LC_UNSUPPORTED(err, "fixed-size list of "
					      "variable items");
		}
		return blk_as_vectors(out, n, d, err);
	}
	case LPB21__ENC__KIND_CONSTANT: {
		const Lpb21__Constant *c = e->constant;

		if (c->value.len == 0 || c->value.len > 4096 ||
		    n > (64u << 20) / c->value.len)
			return LC_UNSUPPORTED(err, "constant block of %zu "
					      "bytes", c->value.len);
		rc = blk_fixed(out, n, (unsigned)c->value.len * 8, err);
		if (rc)
			return rc;
		for (uint64_t i = 0; i < n; i++)
			memcpy(out->data + i * c->value.len, c->value.data,
			       c->value.len);
		return 0;
	}
	default:
		return LC_UNSUPPORTED(err, "block encoding %d",
				      (int)e->kind_case);
	}
}

/* ------------------------------------------ mini-block chunk value context */

struct chunkbufs {
	const uint8_t *p[16];
	uint64_t len[16];
	size_t n, next;
};

static int decode_mb(struct blk *out, const Lpb21__Enc *e,
		     struct chunkbufs *cb, uint64_t n, int depth,
		     struct lc_err *err);

static int take_buf(const uint8_t **p, uint64_t *len, struct chunkbufs *cb,
		    struct lc_err *err)
{
	if (cb->next >= cb->n)
		return LC_CORRUPT(err, "chunk has %zu value buffers, encoding "
				  "wants more", cb->n);
	*p = cb->p[cb->next];
	*len = cb->len[cb->next];
	cb->next++;
	return 0;
}

static int decode_mb(struct blk *out, const Lpb21__Enc *e,
		     struct chunkbufs *cb, uint64_t n, int depth,
		     struct lc_err *err)
{
	const uint8_t *p = NULL;
	uint64_t len = 0;
	unsigned bits = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!e)
		return LC_CORRUPT(err, "missing value encoding");
	if (depth > 8)
		return LC_CORRUPT(err, "value encodings nested too deep");
	switch (e->kind_case) {
	case LPB21__ENC__KIND_FLAT:
	case LPB21__ENC__KIND_INLINE_BITPACKING:
	case LPB21__ENC__KIND_CONSTANT:
		rc = take_buf(&p, &len, cb, err);
		if (rc)
			return rc;
		return decode_block(out, e, p, len, n, depth + 1, err);
	case LPB21__ENC__KIND_VARIABLE: {
		const Lpb21__Enc *o = e->variable->offsets;
		unsigned w;

		if (!o || o->kind_case != LPB21__ENC__KIND_FLAT ||
		    (o->flat->bits_per_value != 32 &&
		     o->flat->bits_per_value != 64))
			return LC_UNSUPPORTED(err, "mini-block variable "
					      "offsets must be flat 32/64");
		w = (unsigned)o->flat->bits_per_value / 8;
		rc = take_buf(&p, &len, cb, err);
		if (rc)
			return rc;
		if (n + 1 > len / w)
			return LC_CORRUPT(err, "%" PRIu64 " offsets do not fit"
					  " a %" PRIu64 "-byte buffer", n + 1,
					  len);
		/* offsets are relative to the buffer start */
		return blk_var_from(out, p, len, p, w, n, 0, err);
	}
	case LPB21__ENC__KIND_FSST:
		rc = decode_mb(out, e->fsst->values, cb, n, depth + 1, err);
		if (!rc)
			rc = fsst_apply(out, e->fsst, err);
		if (rc)
			blk_reset(out);
		return rc;
	case LPB21__ENC__KIND_GENERAL: {
		/* only the chunk's buffer `next` is compressed */
		enum lance_comp c = LANCE_COMP_ZSTD;
		uint8_t *d;
		size_t dl, at = cb->next;
		struct chunkbufs sub = *cb;

		rc = comp_scheme(&c, e->general->compression, err);
		if (rc)
			return rc;
		if (at >= cb->n)
			return LC_CORRUPT(err, "compressed chunk buffer "
					  "missing");
		rc = lance__decompress(&d, &dl, c, cb->p[at],
				       (size_t)cb->len[at], MAX_BYTES, err);
		if (rc)
			return rc;
		sub.p[at] = d;
		sub.len[at] = dl;
		rc = decode_mb(out, e->general->values, &sub, n, depth + 1,
			       err);
		cb->next = sub.next;
		lc_free(d);
		return rc;
	}
	case LPB21__ENC__KIND_RLE: {
		struct blk v, r;
		const Lpb21__Rle *m = e->rle;

		if (!m->values || !m->run_lengths ||
		    m->values->kind_case != LPB21__ENC__KIND_FLAT ||
		    m->run_lengths->kind_case != LPB21__ENC__KIND_FLAT ||
		    m->run_lengths->flat->bits_per_value != 8)
			return LC_UNSUPPORTED(err, "rle needs flat values and "
					      "u8 run lengths");
		rc = flat_check(&bits, m->values->flat->bits_per_value, err);
		if (rc)
			return rc;
		if (bits < 8)
			return LC_UNSUPPORTED(err, "rle of bits");
		rc = take_buf(&p, &len, cb, err);
		if (rc)
			return rc;
		rc = decode_flat(&v, p, len, len / (bits / 8), bits, err);
		if (rc)
			return rc;
		rc = take_buf(&p, &len, cb, err);
		if (!rc)
			rc = decode_flat(&r, p, len, len, 8, err);
		if (rc) {
			blk_reset(&v);
			return rc;
		}
		rc = rle_expand(out, &v, r.data, r.n, n, err);
		blk_reset(&v);
		blk_reset(&r);
		return rc;
	}
	case LPB21__ENC__KIND_BYTE_STREAM_SPLIT:
		rc = decode_mb(out, e->byte_stream_split->values, cb, n,
			       depth + 1, err);
		if (!rc)
			rc = unsplit(out, err);
		if (rc)
			blk_reset(out);
		return rc;
	case LPB21__ENC__KIND_FIXED_SIZE_LIST: {
		const Lpb21__FixedSizeList *m = e->fixed_size_list;
		uint64_t d = m->items_per_value;
		uint8_t *iv = NULL;

		if (d == 0 || d > MAX_DIM || n > MAX_ITEMS / d)
			return LC_CORRUPT(err, "fixed-size list of %" PRIu64,
					  d);
		if (m->has_validity) {
			rc = take_buf(&p, &len, cb, err);
			if (rc)
				return rc;
			if (len < (n * d + 7) / 8)
				return LC_CORRUPT(err, "item validity of %"
						  PRIu64 " bytes for %" PRIu64
						  " items", len, n * d);
			iv = lc_malloc((size_t)(n * d + 7) / 8 + 1);
			if (!iv)
				return LC_NOMEM(err);
			memcpy(iv, p, (size_t)(n * d + 7) / 8);
		}
		rc = decode_mb(out, m->values, cb, n * d, depth + 1, err);
		if (!rc && (!out->bits || out->dim != 1 || out->ivalid ||
			    (uint64_t)out->bits * d > MAX_VALUE_BITS))
			rc = LC_UNSUPPORTED(err, "nested or variable "
					    "fixed-size list items");
		if (!rc)
			rc = blk_as_vectors(out, n, d, err);
		if (rc) {
			lc_free(iv);
			blk_reset(out);
			return rc;
		}
		out->ivalid = iv;
		return 0;
	}
	case LPB21__ENC__KIND_PACKED_STRUCT: {
		uint64_t sum = 0;

		for (size_t i = 0; i < e->packed_struct->n_bits_per_value;
		     i++) {
			uint64_t b = e->packed_struct->bits_per_value[i];

			if (b % 8 || b > 4096)
				return LC_UNSUPPORTED(err, "packed struct field"
						      " of %" PRIu64 " bits",
						      b);
			sum += b;
		}
		rc = decode_mb(out, e->packed_struct->values, cb, n,
			       depth + 1, err);
		if (!rc && out->bits != sum) {
			blk_reset(out);
			rc = LC_CORRUPT(err, "packed struct of %" PRIu64 " bits"
					" stored as %u-bit values", sum,
					out->bits);
		}
		return rc;
	}
	default:
		return LC_UNSUPPORTED(err, "mini-block value encoding %d",
				      (int)e->kind_case);
	}
}

/* ---------------------------------------------------------------- layers */

/* What a page's layers mean: canonical codes for its def levels. */
struct layers {
	unsigned n;			/* inner-most first */
	uint8_t kind[MAX_LAYERS];
	unsigned max_rep;		/* list layers */
	unsigned max_def;
	uint16_t canon[2 * MAX_LAYERS + 1];	/* page def -> canonical */
	unsigned max_visible;		/* page def levels with a value */
};

static bool layer_is_list(unsigned k)
{
	return k == LPB21__LAYER__LAYER_ALL_VALID_LIST ||
	       k == LPB21__LAYER__LAYER_NULLABLE_LIST ||
	       k == LPB21__LAYER__LAYER_EMPTYABLE_LIST ||
	       k == LPB21__LAYER__LAYER_NULL_AND_EMPTY_LIST;
}

static int layers_parse(struct layers *li, const Lpb21__Layer *l, size_t n,
			struct lc_err *err)
{
	unsigned lvl = 1;
	bool seen_list = false;

	memset(li, 0, sizeof(*li));
	if (n > MAX_LAYERS)
		return LC_UNSUPPORTED(err, "%zu structural layers", n);
	li->n = (unsigned)n;
	for (unsigned j = 0; j < n; j++) {
		unsigned k = (unsigned)l[j];

		if (k < 1 || k > 6)
			return LC_CORRUPT(err, "unknown layer kind %u", k);
		li->kind[j] = (uint8_t)k;
		if (layer_is_list(k)) {
			li->max_rep++;
			seen_list = true;
		}
		if (k == LPB21__LAYER__LAYER_NULLABLE_ITEM ||
		    k == LPB21__LAYER__LAYER_NULLABLE_LIST ||
		    k == LPB21__LAYER__LAYER_NULL_AND_EMPTY_LIST)
			li->canon[lvl++] = (uint16_t)(2 * j + 1);
		if (k == LPB21__LAYER__LAYER_EMPTYABLE_LIST ||
		    k == LPB21__LAYER__LAYER_NULL_AND_EMPTY_LIST)
			li->canon[lvl++] = (uint16_t)(2 * j + 2);
		if (!seen_list)
			li->max_visible = lvl - 1;
	}
	li->max_def = lvl - 1;
	return 0;
}

/* ---------------------------------------------------------------- leaves */

/* Levels and visible values of a run of rows of one column. Definition
 * levels are canonical; rep is NULL when the column has no lists. */
struct leaf {
	uint16_t *rep, *def;
	uint64_t n, cap;
	struct blk v;
	bool has_rep;
};

static void leaf_reset(struct leaf *l)
{
	lc_free(l->rep);
	lc_free(l->def);
	blk_reset(&l->v);
	memset(l, 0, sizeof(*l));
}

static int leaf_push(struct leaf *l, uint16_t rep, uint16_t def,
		     struct lc_err *err)
{
	if (l->n == l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 1024;
		uint16_t *r, *d;

		if (cap > MAX_ITEMS)
			return LC_LIMIT(err, "more than %llu levels in one "
					"read", MAX_ITEMS);
		r = lc_realloc(l->rep, (size_t)cap * 2);
		if (!r)
			return LC_NOMEM(err);
		l->rep = r;
		d = lc_realloc(l->def, (size_t)cap * 2);
		if (!d)
			return LC_NOMEM(err);
		l->def = d;
		l->cap = cap;
	}
	l->rep[l->n] = rep;
	l->def[l->n] = def;
	l->n++;
	return 0;
}

/* The value shape a page must produce when it stores no values. */
struct shape {
	unsigned bits;	/* 0 = variable */
	uint32_t dim;
};

static int blk_placeholders(struct blk *b, const struct shape *sh,
			    uint64_t n, struct lc_err *err)
{
	int rc;

	if (sh->bits) {
		rc = blk_fixed(b, n, sh->bits, err);
		if (!rc)
			b->dim = sh->dim ? sh->dim : 1;
		return rc;
	}
	memset(b, 0, sizeof(*b));
	b->dim = 1;
	if (n > MAX_ITEMS)
		return LC_LIMIT(err, "%" PRIu64 " values", n);
	b->offs = lc_calloc((size_t)n + 1, sizeof(uint64_t));
	b->data = lc_malloc(1);
	if (!b->offs || !b->data)
		return LC_NOMEM(err);
	b->n = n;
	return 0;
}

/* ---------------------------------------------------------------- sources */

/* Where page bytes come from: the file, or in-memory buffers. */
struct src {
	struct lance_file *f;		/* NULL: in memory */
	const struct lance_page *p;
	const uint8_t *const *mem;
	const char *what;		/* "column 3 page 0" for messages */
};

/* Bytes [off, off + len) of page buffer `buf` into dst. */
static int src_pread(struct src *s, size_t buf, uint64_t off, uint64_t len,
		     uint8_t *dst, struct lc_err *err)
{
	const struct lance_page *p = s->p;

	if (buf >= p->n_buffers)
		return LC_CORRUPT(err, "%s: page has %zu buffers, wanted %zu",
				  s->what, p->n_buffers, buf);
	if (!lc_range_ok(off, len, p->buf_size[buf]))
		return LC_CORRUPT(err, "%s: bytes %" PRIu64 "+%" PRIu64
				  " of a %" PRIu64 "-byte buffer %zu", s->what,
				  off, len, p->buf_size[buf], buf);
	if (len > MAX_BYTES)
		return LC_LIMIT(err, "%s: read of %" PRIu64 " bytes", s->what,
				len);
	if (s->f)
		return lance__file_pread(s->f, p->buf_off[buf] + off,
					 (size_t)len, dst, err);
	if (len)
		memcpy(dst, s->mem[buf] + off, (size_t)len);
	return 0;
}

static int src_read(uint8_t **out, struct src *s, size_t buf, uint64_t off,
		    uint64_t len, struct lc_err *err)
{
	uint8_t *b;
	int rc;

	*out = NULL;
	if (len > MAX_BYTES)	/* before we allocate; src_pread says why */
		return src_pread(s, buf, off, len, NULL, err);
	b = lc_malloc((size_t)len + 1);
	if (!b)
		return LC_NOMEM(err);
	rc = src_pread(s, buf, off, len, b, err);
	if (rc) {
		lc_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* ---------------------------------------------------------------- pages */

enum pkind { P_MINI = 1, P_FULL, P_CONST, P_BLOB };

/* Parsed page, cached per (column, page) for files. */
struct pstate {
	Lpb21__Layout *lay;
	enum pkind kind;
	const Lpb21__MiniBlock *mb;	/* mini-block, also inside blobs */
	const Lpb21__FullZip *fz;
	const Lpb21__ConstantPage *cp;
	struct layers li;		/* canonical meaning of levels */
	struct layers mli;		/* layers of the stored levels (a
					 * blob's inner layout), else = li */
	uint64_t rows;
	/* mini-block */
	uint64_t n_chunks;
	uint64_t *coff;		/* n_chunks + 1 byte offsets */
	uint64_t *cval;		/* n_chunks + 1 cumulative values */
	uint64_t *crow;		/* n_chunks + 1 cumulative rows ended */
	uint64_t *cleft;	/* leftover levels per chunk */
	struct blk dict;
	bool has_dict;
	size_t rep_index_buf;
	/* constant: the value (inline or from a buffer), whole-page
	 * levels */
	struct blk cv;
	bool has_cv;
	uint16_t *lrep, *ldef;
	uint64_t n_lev;
	/* full-zip */
	unsigned cw_bytes;		/* control word bytes */
	unsigned rix_w;			/* rep index entry size, or 0 */
};

static void pstate_free(struct pstate *ps)
{
	if (!ps)
		return;
	if (ps->lay)
		lpb21__layout__free_unpacked(ps->lay, NULL);
	lc_free(ps->coff);
	lc_free(ps->cval);
	lc_free(ps->crow);
	lc_free(ps->cleft);
	lc_free(ps->lrep);
	lc_free(ps->ldef);
	blk_reset(&ps->cv);
	blk_reset(&ps->dict);
	lc_free(ps);
}

static int mb_init(struct pstate *ps, struct src *s, struct lc_err *err)
{
	const Lpb21__MiniBlock *mb = ps->mb;
	bool large = mb->has_large_chunk;
	unsigned ww = large ? 4 : 2;
	uint64_t msize, n, tot_off = 0, tot_val = 0;
	uint8_t *meta = NULL, *rix = NULL;
	size_t nb = 2;
	int rc;

	if (s->p->n_buffers < 2)
		return LC_CORRUPT(err, "%s: mini-block page has %zu buffers",
				  s->what, s->p->n_buffers);
	if (s->f && s->f->minor >= 2 && !large)
		return LC_CORRUPT(err, "%s: 2.2 mini-block page without large"
				  " chunks", s->what);
	if (mb->num_buffers < 1 || mb->num_buffers > 15)
		return LC_UNSUPPORTED(err, "%s: %" PRIu64 " value buffers per "
				      "chunk", s->what, mb->num_buffers);
	if (!mb->value_compression)
		return LC_CORRUPT(err, "%s: mini-block without a value "
				  "encoding", s->what);
	msize = s->p->buf_size[0];
	if (msize % ww)
		return LC_CORRUPT(err, "%s: chunk metadata of %" PRIu64
				  " bytes", s->what, msize);
	n = msize / ww;
	if (n > MAX_CHUNKS)
		return LC_LIMIT(err, "%s: %" PRIu64 " chunks", s->what, n);
	if (n == 0 && mb->num_items)
		return LC_CORRUPT(err, "%s: %" PRIu64 " items but no chunks",
				  s->what, mb->num_items);
	rc = src_read(&meta, s, 0, 0, msize, err);
	if (rc)
		return rc;
	ps->n_chunks = n;
	ps->coff = lc_calloc((size_t)n + 1, sizeof(uint64_t));
	ps->cval = lc_calloc((size_t)n + 1, sizeof(uint64_t));
	ps->crow = lc_calloc((size_t)n + 1, sizeof(uint64_t));
	ps->cleft = lc_calloc((size_t)n + 1, sizeof(uint64_t));
	if (!ps->coff || !ps->cval || !ps->crow || !ps->cleft) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (uint64_t c = 0; c < n; c++) {
		uint64_t w = ww == 4 ? lc_le32(meta + 4 * c) :
				       lc_le16(meta + 2 * c);
		uint64_t sz = ((w >> 4) + 1) * 8, nv;
		unsigned lg = (unsigned)(w & 15);

		if (c + 1 < n) {
			if (!lg) {
				rc = LC_CORRUPT(err, "%s: chunk %" PRIu64
						" of %" PRIu64 " has no value "
						"count", s->what, c, n);
				goto out;
			}
			nv = 1ull << lg;
		} else {
			if (tot_val > mb->num_items ||
			    (lg && mb->num_items - tot_val > (1ull << lg))) {
				rc = LC_CORRUPT(err, "%s: %" PRIu64 " items do"
						" not fill the chunks",
						s->what, mb->num_items);
				goto out;
			}
			nv = mb->num_items - tot_val;
		}
		ps->coff[c] = tot_off;
		ps->cval[c] = tot_val;
		tot_off += sz;
		tot_val += nv;
	}
	ps->coff[n] = tot_off;
	ps->cval[n] = tot_val;
	if (tot_off > s->p->buf_size[1] || tot_val != mb->num_items) {
		rc = LC_CORRUPT(err, "%s: chunks span %" PRIu64 " bytes and %"
				PRIu64 " values; buffer has %" PRIu64 " bytes, "
				"page %" PRIu64 " items", s->what, tot_off,
				tot_val, s->p->buf_size[1], mb->num_items);
		goto out;
	}
	if (mb->dictionary) {
		uint8_t *d;

		if (mb->num_dictionary_items > MAX_ITEMS) {
			rc = LC_LIMIT(err, "%s: dictionary of %" PRIu64
				      " items", s->what,
				      mb->num_dictionary_items);
			goto out;
		}
		rc = src_read(&d, s, 2, 0, s->p->n_buffers > 2 ?
			      s->p->buf_size[2] : 0, err);
		if (rc)
			goto out;
		rc = decode_block(&ps->dict, mb->dictionary, d,
				  s->p->buf_size[2], mb->num_dictionary_items,
				  0, err);
		lc_free(d);
		if (rc) {
			lc_err_prefix(err, "%s: dictionary: ", s->what);
			goto out;
		}
		ps->has_dict = true;
		nb = 3;
	}
	if (mb->repetition_index_depth) {
		uint64_t d1 = (uint64_t)mb->repetition_index_depth + 1, sum = 0;

		if (mb->repetition_index_depth > 16 ||
		    s->p->n_buffers <= nb ||
		    s->p->buf_size[nb] != n * d1 * 8) {
			rc = LC_CORRUPT(err, "%s: repetition index of depth %u"
					" does not match %" PRIu64 " chunks",
					s->what, mb->repetition_index_depth,
					n);
			goto out;
		}
		rc = src_read(&rix, s, nb, 0, n * d1 * 8, err);
		if (rc)
			goto out;
		for (uint64_t c = 0; c < n; c++) {
			uint64_t done = lc_le64(rix + 8 * (c * d1));
			uint64_t left = lc_le64(rix + 8 * (c * d1 + d1 - 1));

			if (done > ps->rows - sum) {
				rc = LC_CORRUPT(err, "%s: repetition index "
						"counts more than %" PRIu64
						" rows", s->what, ps->rows);
				goto out;
			}
			ps->crow[c] = sum;
			ps->cleft[c] = left;
			sum += done;
		}
		ps->crow[n] = sum;
		if (sum != ps->rows) {
			rc = LC_CORRUPT(err, "%s: repetition index counts %"
					PRIu64 " rows, page has %" PRIu64,
					s->what, sum, ps->rows);
			goto out;
		}
		ps->rep_index_buf = nb;
	} else if (ps->mli.max_rep) {
		rc = LC_UNSUPPORTED(err, "%s: list page without a repetition "
				    "index", s->what);
		goto out;
	} else if (mb->num_items != ps->rows) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " items in a %" PRIu64
				"-row page without lists", s->what,
				mb->num_items, ps->rows);
		goto out;
	}
out:
	lc_free(meta);
	lc_free(rix);
	return rc;
}

/* Levels from a block-encoded buffer, as u16. */
static int decode_levels(uint16_t **out, const Lpb21__Enc *e,
			 const uint8_t *p, uint64_t len, uint64_t n,
			 struct lc_err *err)
{
	struct blk b;
	uint16_t *v;
	int rc;

	*out = NULL;
	if (!e) {		/* raw u16 */
		if (n > len / 2)
			return LC_CORRUPT(err, "%" PRIu64 " raw levels in %"
					  PRIu64 " bytes", n, len);
		rc = decode_flat(&b, p, len, n, 16, err);
	} else {
		rc = decode_block(&b, e, p, len, n, 0, err);
	}
	if (rc)
		return rc;
	if (b.bits != 8 && b.bits != 16 && b.bits != 32 && b.bits != 64) {
		blk_reset(&b);
		return LC_CORRUPT(err, "levels of %u bits", b.bits);
	}
	v = lc_malloc((size_t)n * 2 + 2);
	if (!v) {
		blk_reset(&b);
		return LC_NOMEM(err);
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *q = b.data + i * (b.bits / 8);
		uint64_t x = b.bits == 8 ? q[0] : b.bits == 16 ? lc_le16(q) :
			     b.bits == 32 ? lc_le32(q) : lc_le64(q);

		if (x > 0xffff) {
			lc_free(v);
			blk_reset(&b);
			return LC_CORRUPT(err, "level %" PRIu64 " is %" PRIu64,
					  i, x);
		}
		v[i] = (uint16_t)x;
	}
	blk_reset(&b);
	*out = v;
	return 0;
}

/* Check and canonicalize one (rep, def) pair of a page. */
static int level_canon(uint16_t *def, uint16_t rep, const struct layers *li,
		       struct lc_err *err)
{
	if (rep > li->max_rep)
		return LC_CORRUPT(err, "repetition level %u above %u", rep,
				  li->max_rep);
	if (*def > li->max_def)
		return LC_CORRUPT(err, "definition level %u above %u", *def,
				  li->max_def);
	*def = li->canon[*def];
	return 0;
}

static bool page_visible(const struct layers *li, uint16_t raw_def)
{
	return raw_def <= li->max_visible;
}

/* Decode one mini-block chunk: its levels (canonical) and values. */
static int mb_chunk(struct leaf *out, const struct pstate *ps,
		    const uint8_t *c, uint64_t clen, uint64_t nvals,
		    const char *what, struct lc_err *err)
{
	const Lpb21__MiniBlock *mb = ps->mb;
	unsigned vw = mb->has_large_chunk ? 4 : 2;
	uint64_t pos = 2, nlev, rsz = 0, dsz = 0, vis = 0;
	uint16_t *rep = NULL, *def = NULL;
	struct chunkbufs cb;
	struct blk v;
	int rc;

	memset(&cb, 0, sizeof(cb));
	memset(&v, 0, sizeof(v));
	if (clen < 2)
		return LC_CORRUPT(err, "%s: empty chunk", what);
	nlev = lc_le16(c);
	if (mb->rep_compression) {
		if (clen - pos < 2)
			return LC_CORRUPT(err, "%s: chunk header", what);
		rsz = lc_le16(c + pos);
		pos += 2;
	}
	if (mb->def_compression) {
		if (clen - pos < 2)
			return LC_CORRUPT(err, "%s: chunk header", what);
		dsz = lc_le16(c + pos);
		pos += 2;
	}
	cb.n = (size_t)mb->num_buffers;
	if ((clen - pos) / vw < cb.n)
		return LC_CORRUPT(err, "%s: chunk header", what);
	for (size_t i = 0; i < cb.n; i++) {
		cb.len[i] = vw == 4 ? lc_le32(c + pos) : lc_le16(c + pos);
		pos += vw;
	}
	pos = (pos + 7) & ~7ull;
	if (mb->rep_compression) {
		if (!lc_range_ok(pos, rsz, clen))
			return LC_CORRUPT(err, "%s: rep buffer", what);
		rc = decode_levels(&rep, mb->rep_compression, c + pos, rsz,
				   nlev, err);
		if (rc) {
			lc_err_prefix(err, "%s: rep levels: ", what);
			goto out;
		}
		pos = (pos + rsz + 7) & ~7ull;
	}
	if (mb->def_compression) {
		if (!lc_range_ok(pos, dsz, clen)) {
			rc = LC_CORRUPT(err, "%s: def buffer", what);
			goto out;
		}
		rc = decode_levels(&def, mb->def_compression, c + pos, dsz,
				   nlev, err);
		if (rc) {
			lc_err_prefix(err, "%s: def levels: ", what);
			goto out;
		}
		pos = (pos + dsz + 7) & ~7ull;
	}
	for (size_t i = 0; i < cb.n; i++) {
		if (!lc_range_ok(pos, cb.len[i], clen)) {
			rc = LC_CORRUPT(err, "%s: value buffer %zu of %" PRIu64
					" bytes past the chunk end", what, i,
					cb.len[i]);
			goto out;
		}
		cb.p[i] = c + pos;
		pos = (pos + cb.len[i] + 7) & ~7ull;
	}
	if (!rep && !def)
		nlev = 0;
	else if (ps->mli.max_rep == 0 && nlev != nvals) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " levels for %" PRIu64
				" values", what, nlev, nvals);
		goto out;
	}
	for (uint64_t i = 0; i < nlev; i++) {
		uint16_t r = rep ? rep[i] : 0, d = def ? def[i] : 0;

		if (page_visible(&ps->mli, d))
			vis++;
		rc = level_canon(&d, r, &ps->mli, err);
		if (!rc)
			rc = leaf_push(out, r, d, err);
		if (rc)
			goto out;
	}
	if (nlev && vis != nvals) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " visible levels for %"
				PRIu64 " values", what, vis, nvals);
		goto out;
	}
	if (!nlev)
		for (uint64_t i = 0; i < nvals; i++) {
			rc = leaf_push(out, 0, 0, err);
			if (rc)
				goto out;
		}
	rc = decode_mb(&v, mb->value_compression, &cb, nvals, 0, err);
	if (rc) {
		lc_err_prefix(err, "%s: values: ", what);
		goto out;
	}
	if (v.n != nvals) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " values decoded, %" PRIu64
				" expected", what, v.n, nvals);
		goto out;
	}
	if (ps->has_dict) {
		/* values are indices into the dictionary */
		struct blk m;

		memset(&m, 0, sizeof(m));
		if (!v.bits || v.bits % 8 || v.bits > 64 || v.dim != 1) {
			rc = LC_CORRUPT(err, "%s: dictionary indices of %u "
					"bits", what, v.bits);
			goto out;
		}
		for (uint64_t i = 0; i < v.n && !rc; i++) {
			const uint8_t *q = v.data + i * (v.bits / 8);
			uint64_t x = 0;

			for (unsigned b = 0; b < v.bits / 8; b++)
				x |= (uint64_t)q[b] << (8 * b);
			if (x >= ps->dict.n) {
				rc = LC_CORRUPT(err, "%s: dictionary index %"
						PRIu64 " of %" PRIu64, what, x,
						ps->dict.n);
				break;
			}
			rc = blk_append(&m, &ps->dict, x, 1, err);
		}
		if (!rc && !v.n)
			rc = blk_append(&m, &ps->dict, 0, 0, err);
		blk_reset(&v);
		v = m;
		if (rc)
			goto out;
	}
	rc = blk_append(&out->v, &v, 0, v.n, err);
out:
	blk_reset(&v);
	lc_free(rep);
	lc_free(def);
	return rc;
}

/* Row r of the page ends in which chunk (repetition index)? */
static uint64_t chunk_of_row(const struct pstate *ps, uint64_t r)
{
	uint64_t lo = 0, hi = ps->n_chunks;

	while (lo < hi) {	/* first c with crow[c + 1] > r */
		uint64_t mid = lo + (hi - lo) / 2;

		if (ps->crow[mid + 1] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static uint64_t chunk_of_value(const struct pstate *ps, uint64_t v)
{
	uint64_t lo = 0, hi = ps->n_chunks;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ps->cval[mid + 1] > v)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int mb_decode_chunks(struct leaf *out, struct src *s,
			    const struct pstate *ps, uint64_t c0, uint64_t c1,
			    uint64_t *first_lev, struct lc_err *err)
{
	uint8_t *buf = NULL;
	char what[96];
	int rc;

	/* one read for all chunks c0..c1 */
	rc = src_read(&buf, s, 1, ps->coff[c0], ps->coff[c1 + 1] -
		      ps->coff[c0], err);
	if (rc)
		return rc;
	for (uint64_t c = c0; c <= c1; c++) {
		if (first_lev)
			first_lev[c - c0] = out->n;
		snprintf(what, sizeof(what), "%s chunk %" PRIu64, s->what, c);
		rc = mb_chunk(out, ps, buf + (ps->coff[c] - ps->coff[c0]),
			      ps->coff[c + 1] - ps->coff[c],
			      ps->cval[c + 1] - ps->cval[c], what, err);
		if (rc)
			break;
	}
	lc_free(buf);
	return rc;
}

static bool canon_visible(uint16_t d, unsigned first_list)
{
	return d == 0 || (unsigned)(d - 1) / 2 < first_list;
}

static unsigned first_list_layer(const struct layers *li)
{
	for (unsigned j = 0; j < li->n; j++)
		if (layer_is_list(li->kind[j]))
			return j;
	return li->n + 1;
}

/* Append levels [l0, l1) and their visible values from `tmp` to out. */
static int leaf_take(struct leaf *out, const struct leaf *tmp, uint64_t l0,
		     uint64_t l1, unsigned first_list, struct lc_err *err)
{
	uint64_t v0 = 0, nv = 0;
	int rc;

	for (uint64_t i = 0; i < l0; i++)
		v0 += canon_visible(tmp->def[i], first_list);
	for (uint64_t i = l0; i < l1; i++) {
		nv += canon_visible(tmp->def[i], first_list);
		rc = leaf_push(out, tmp->rep[i], tmp->def[i], err);
		if (rc)
			return rc;
	}
	if (!lc_range_ok(v0, nv, tmp->v.n))
		return LC_CORRUPT(err, "levels name %" PRIu64 " values, page "
				  "holds %" PRIu64, v0 + nv, tmp->v.n);
	return blk_append(&out->v, &tmp->v, v0, nv, err);
}

/* Rows [a, a + cnt) of a mini-block page. */
static int mb_read(struct leaf *out, struct src *s, const struct pstate *ps,
		   uint64_t a, uint64_t cnt, struct lc_err *err)
{
	struct leaf tmp;
	uint64_t c0, c1, l0, l1, *fl = NULL;
	unsigned fll = first_list_layer(&ps->mli);
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if (!cnt)
		return 0;
	if (!ps->mli.max_rep) {
		c0 = chunk_of_value(ps, a);
		c1 = chunk_of_value(ps, a + cnt - 1);
		if (c1 >= ps->n_chunks)
			return LC_CORRUPT(err, "%s: row %" PRIu64 " past the "
					  "chunks", s->what, a + cnt - 1);
		rc = mb_decode_chunks(&tmp, s, ps, c0, c1, NULL, err);
		if (!rc)
			rc = leaf_take(out, &tmp, a - ps->cval[c0],
				       a - ps->cval[c0] + cnt, fll, err);
		leaf_reset(&tmp);
		return rc;
	}
	/* with repetition: the repetition index maps rows to chunks */
	{
		uint64_t ca = chunk_of_row(ps, a), ce;
		int64_t j;

		ce = chunk_of_row(ps, a + cnt - 1);
		if (ce >= ps->n_chunks || ca >= ps->n_chunks)
			return LC_CORRUPT(err, "%s: rows past the repetition "
					  "index", s->what);
		j = (int64_t)(a - ps->crow[ca]) -
		    (ca > 0 && ps->cleft[ca - 1] > 0 ? 1 : 0);
		c0 = ca;
		if (j < 0) {
			/* row a started in an earlier chunk */
			c0 = ca - 1;
			while (c0 > 0 && ps->crow[c0 + 1] == ps->crow[c0] &&
			       ps->cleft[c0 - 1] > 0)
				c0--;
		}
		c1 = ce;
		fl = lc_calloc((size_t)(c1 - c0 + 1), sizeof(uint64_t));
		if (!fl)
			return LC_NOMEM(err);
		rc = mb_decode_chunks(&tmp, s, ps, c0, c1, fl, err);
		if (rc)
			goto out;
		if (j < 0) {
			uint64_t end = c0 + 1 <= c1 ? fl[1] : tmp.n;

			if (ps->cleft[c0] > end - fl[0]) {
				rc = LC_CORRUPT(err, "%s: chunk %" PRIu64
						" leftover %" PRIu64 " exceeds"
						" its levels", s->what, c0,
						ps->cleft[c0]);
				goto out;
			}
			l0 = end - ps->cleft[c0];
		} else {
			/* the j-th row start inside chunk ca */
			uint64_t end = ca + 1 <= c1 ? fl[ca - c0 + 1] : tmp.n;
			int64_t k = -1;

			l0 = end;
			for (uint64_t i = fl[ca - c0]; i < end; i++)
				if (tmp.rep[i] == ps->mli.max_rep && ++k == j) {
					l0 = i;
					break;
				}
			if (k != j) {
				rc = LC_CORRUPT(err, "%s: chunk %" PRIu64
						" lacks row start %" PRId64,
						s->what, ca, j);
				goto out;
			}
		}
		if (l0 >= tmp.n || tmp.rep[l0] != ps->mli.max_rep) {
			rc = LC_CORRUPT(err, "%s: row %" PRIu64 " does not "
					"start a row", s->what, a);
			goto out;
		}
		/* take cnt rows: up to the start of row a + cnt */
		{
			uint64_t seen = 0;

			l1 = tmp.n;
			for (uint64_t i = l0; i < tmp.n; i++)
				if (tmp.rep[i] == ps->mli.max_rep &&
				    seen++ == cnt) {
					l1 = i;
					break;
				}
			if (seen < cnt) {
				rc = LC_CORRUPT(err, "%s: found %" PRIu64
						" of %" PRIu64 " rows",
						s->what, seen, cnt);
				goto out;
			}
		}
		rc = leaf_take(out, &tmp, l0, l1, fll, err);
	}
out:
	lc_free(fl);
	leaf_reset(&tmp);
	return rc;
}

/* ------------------------------------------------------------- full zip */

/* Per-value transforms of a variable full-zip page, outer first. */
struct fz_var {
	bool general;
	enum lance_comp comp;
	const Lpb21__Fsst *fsst;
	bool packed;			/* variable packed struct records */
};

static int fz_var_parse(struct fz_var *o, const Lpb21__Enc *e,
			struct lc_err *err)
{
	memset(o, 0, sizeof(*o));
	for (int depth = 0; e && depth < 4; depth++) {
		int rc;

		switch (e->kind_case) {
		case LPB21__ENC__KIND_GENERAL:
			if (o->general || o->fsst)
				return LC_UNSUPPORTED(err, "nested general "
						      "compression");
			rc = comp_scheme(&o->comp, e->general->compression,
					 err);
			if (rc)
				return rc;
			o->general = true;
			e = e->general->values;
			break;
		case LPB21__ENC__KIND_FSST:
			if (o->fsst)
				return LC_UNSUPPORTED(err, "nested fsst");
			o->fsst = e->fsst;
			e = e->fsst->values;
			break;
		case LPB21__ENC__KIND_VARIABLE:
			return 0;
		case LPB21__ENC__KIND_VARIABLE_PACKED_STRUCT:
			if (o->fsst)
				return LC_UNSUPPORTED(err, "fsst over packed "
						      "structs");
			o->packed = true;
			return 0;
		default:
			return LC_UNSUPPORTED(err, "full-zip per-value "
					      "encoding %d",
					      (int)e->kind_case);
		}
	}
	return LC_UNSUPPORTED(err, "full-zip per-value encoding chain");
}

/* Fixed full-zip values: `bits` of data per value, after `vbytes` of FSL
 * item validity zipped in front of each value (one FSL layer only). */
static int fz_fixed_shape(unsigned *bits, uint32_t *dim, unsigned *vbytes,
			  const Lpb21__Enc *e, uint64_t bpv,
			  struct lc_err *err)
{
	*dim = 1;
	*vbytes = 0;
	if (bpv == 0 || bpv % 8 || bpv > MAX_VALUE_BITS)
		return LC_UNSUPPORTED(err, "full-zip values of %" PRIu64
				      " bits", bpv);
	*bits = (unsigned)bpv;
	if (!e)
		return 0;
	if (e->kind_case == LPB21__ENC__KIND_FIXED_SIZE_LIST) {
		const Lpb21__FixedSizeList *m = e->fixed_size_list;
		uint64_t d = m->items_per_value;

		if (d == 0 || d > MAX_DIM)
			return LC_CORRUPT(err, "fixed-size list of %" PRIu64,
					  d);
		if (!m->values ||
		    m->values->kind_case != LPB21__ENC__KIND_FLAT)
			return LC_UNSUPPORTED(err, "full-zip nested "
					      "fixed-size lists");
		if (m->has_validity)
			*vbytes = (unsigned)((d + 7) / 8);
		if (bpv <= 8ull * *vbytes || (bpv - 8ull * *vbytes) % d ||
		    m->values->flat->bits_per_value !=
		    (bpv - 8ull * *vbytes) / d)
			return LC_CORRUPT(err, "fixed-size list of %" PRIu64
					  " in %" PRIu64 "-bit values", d,
					  bpv);
		*bits = (unsigned)(bpv - 8ull * *vbytes);
		*dim = (uint32_t)d;
		return 0;
	}
	if (e->kind_case == LPB21__ENC__KIND_FLAT &&
	    e->flat->bits_per_value == bpv)
		return 0;
	return LC_UNSUPPORTED(err, "full-zip fixed encoding %d",
			      (int)e->kind_case);
}

/* Parse zipped entries: levels and visible values. `rows` row starts are
 * expected (all of `len` is consumed). Pure. */
static int fz_parse(struct leaf *out, const struct pstate *ps,
		    const uint8_t *p, uint64_t len, uint64_t rows,
		    const char *what, struct lc_err *err)
{
	const Lpb21__FullZip *fz = ps->fz;
	bool var = fz->details_case == LPB21__FULL_ZIP__DETAILS_BITS_PER_OFFSET;
	unsigned cw = ps->cw_bytes, ow = 0;
	uint64_t pos = 0, starts = 0, dmask = ((uint64_t)1 << fz->bits_def) - 1;
	struct fz_var fv = { 0 };
	struct blk v;
	unsigned bits = 0, vbytes = 0;
	uint32_t dim = 1;
	struct lc_buf iv;
	int rc;

	memset(&v, 0, sizeof(v));
	lc_buf_init(&iv, (size_t)MAX_BYTES);
	if (var) {
		rc = fz_var_parse(&fv, fz->value_compression, err);
		if (rc)
			return rc;
		ow = fz->bits_per_offset / 8;
		v.dim = 1;
		v.offs = lc_malloc(sizeof(uint64_t) * 1024);
		if (!v.offs)
			return LC_NOMEM(err);
		v.offs[0] = 0;
	} else {
		rc = fz_fixed_shape(&bits, &dim, &vbytes,
				    fz->value_compression, fz->bits_per_value,
				    err);
		if (rc)
			return rc;
		v.bits = bits;
		v.dim = dim;
	}
	{
		uint64_t cap_vals = var ? 1023 : 0;
		struct lc_buf data;

		lc_buf_init(&data, (size_t)MAX_BYTES);
		while (pos < len) {
			uint64_t word = 0, r, d;
			bool vis, valid;

			if (len - pos < cw) {
				rc = LC_CORRUPT(err, "%s: truncated control "
						"word", what);
				goto fail;
			}
			for (unsigned i = 0; i < cw; i++)
				word |= (uint64_t)p[pos + i] << (8 * i);
			pos += cw;
			r = word >> fz->bits_def;
			d = word & dmask;
			if (r > 0xffff || d > 0xffff) {
				rc = LC_CORRUPT(err, "%s: control word %"
						PRIx64, what, word);
				goto fail;
			}
			if (!ps->li.max_rep || r == ps->li.max_rep)
				starts++;
			vis = page_visible(&ps->li, (uint16_t)d);
			valid = d == 0;
			{
				uint16_t dd = (uint16_t)d;

				rc = level_canon(&dd, (uint16_t)r, &ps->li,
						 err);
				if (!rc)
					rc = leaf_push(out, (uint16_t)r, dd,
						       err);
				if (rc)
					goto fail;
			}
			if (!vis)
				continue;
			if (!var) {
				uint64_t vb = bits / 8;

				if (len - pos < vb + vbytes) {
					rc = LC_CORRUPT(err, "%s: truncated "
							"value", what);
					goto fail;
				}
				if (vbytes) {
					/* item validity bits of this value */
					uint64_t ivb = ((v.n + 1) * dim + 7) /
						       8;

					rc = lc_buf_reserve(&iv, (size_t)ivb +
							    1 - iv.len, err);
					if (rc)
						goto fail;
					memset(iv.data + iv.len, 0,
					       iv.cap - iv.len);
					bits_copy(iv.data, v.n * dim, p + pos,
						  0, dim);
					iv.len = (size_t)((v.n + 1) * dim +
							  7) / 8;
					pos += vbytes;
				}
				rc = lc_buf_append(&data, p + pos, (size_t)vb,
						   err);
				if (rc)
					goto fail;
				pos += vb;
				v.n++;
				continue;
			}
			if (valid) {
				uint64_t l;

				if (len - pos < ow) {
					rc = LC_CORRUPT(err, "%s: truncated "
							"length", what);
					goto fail;
				}
				l = ow == 4 ? lc_le32(p + pos) :
					      lc_le64(p + pos);
				pos += ow;
				if (l > len - pos) {
					rc = LC_CORRUPT(err, "%s: value of %"
							PRIu64 " bytes, %"
							PRIu64 " left", what,
							l, len - pos);
					goto fail;
				}
				if (fv.general) {
					uint8_t *dd;
					size_t dl;

					rc = lance__decompress(&dd, &dl,
							       fv.comp,
							       p + pos,
							       (size_t)l,
							       MAX_BYTES, err);
					if (rc)
						lc_err_prefix(err, "%s: value "
							      "%" PRIu64 ": ",
							      what, v.n);
					if (!rc) {
						rc = lc_buf_append(&data, dd,
								   dl, err);
						lc_free(dd);
					}
				} else {
					rc = lc_buf_append(&data, p + pos,
							   (size_t)l, err);
				}
				if (rc)
					goto fail;
				pos += l;
			}
			if (v.n == cap_vals) {
				uint64_t *o;

				cap_vals = cap_vals * 2 + 1;
				if (cap_vals > MAX_ITEMS) {
					rc = LC_LIMIT(err, "%s: too many "
						      "values", what);
					goto fail;
				}
				o = lc_realloc(v.offs, (size_t)(cap_vals + 1) *
						       sizeof(uint64_t));
				if (!o) {
					rc = LC_NOMEM(err);
					goto fail;
				}
				v.offs = o;
			}
			v.offs[++v.n] = data.len;
		}
		if (starts != rows) {
			rc = LC_CORRUPT(err, "%s: %" PRIu64 " rows in the "
					"zipped bytes, %" PRIu64 " expected",
					what, starts, rows);
			goto fail;
		}
		v.data_len = data.len;
		if (vbytes) {
			v.ivalid = iv.data ? iv.data : lc_malloc(1);
			iv.data = NULL;
			if (!v.ivalid) {
				lc_buf_reset(&data);
				rc = LC_NOMEM(err);
				goto out;
			}
		}
		v.data = data.data ? data.data : lc_malloc(1);
		data.data = NULL;
		lc_buf_reset(&data);
		if (!v.data) {
			rc = LC_NOMEM(err);
			goto out;
		}
		goto done;
fail:
		lc_buf_reset(&data);
		goto out;
	}
done:
	if (var && fv.fsst) {
		rc = fsst_apply(&v, fv.fsst, err);
		if (rc) {
			lc_err_prefix(err, "%s: ", what);
			goto out;
		}
	}
	rc = blk_append(&out->v, &v, 0, v.n, err);
out:
	lc_buf_reset(&iv);
	blk_reset(&v);
	return rc;
}

static int fz_init(struct pstate *ps, struct src *s, struct lc_err *err)
{
	const Lpb21__FullZip *fz = ps->fz;
	unsigned tb = fz->bits_rep + fz->bits_def;

	if (fz->bits_rep > 16 || fz->bits_def > 16)
		return LC_CORRUPT(err, "%s: %u rep and %u def bits", s->what,
				  fz->bits_rep, fz->bits_def);
	ps->cw_bytes = tb == 0 ? 0 : tb <= 8 ? 1 : tb <= 16 ? 2 : 4;
	if (fz->details_case == LPB21__FULL_ZIP__DETAILS_BITS_PER_OFFSET) {
		if (fz->bits_per_offset != 32 && fz->bits_per_offset != 64)
			return LC_CORRUPT(err, "%s: %u-bit offsets", s->what,
					  fz->bits_per_offset);
	} else if (fz->details_case !=
		   LPB21__FULL_ZIP__DETAILS_BITS_PER_VALUE) {
		return LC_CORRUPT(err, "%s: full-zip page without a width",
				  s->what);
	}
	if (s->p->n_buffers < 1)
		return LC_CORRUPT(err, "%s: full-zip page without data",
				  s->what);
	if (s->p->n_buffers >= 2) {
		uint64_t sz = s->p->buf_size[1], w;

		if (ps->rows == UINT64_MAX || sz % (ps->rows + 1))
			return LC_CORRUPT(err, "%s: repetition index of %"
					  PRIu64 " bytes for %" PRIu64
					  " rows", s->what, sz, ps->rows);
		w = sz / (ps->rows + 1);
		if (w != 1 && w != 2 && w != 4 && w != 8)
			return LC_CORRUPT(err, "%s: repetition index entries "
					  "of %" PRIu64 " bytes", s->what, w);
		ps->rix_w = (unsigned)w;
	} else if (fz->details_case !=
		   LPB21__FULL_ZIP__DETAILS_BITS_PER_VALUE ||
		   ps->li.max_rep) {
		return LC_CORRUPT(err, "%s: full-zip page needs a repetition "
				  "index", s->what);
	} else {
		/* fixed-width values found by row * size: all in buffer 0 */
		uint64_t es = ps->cw_bytes + fz->bits_per_value / 8;

		if (es && ps->rows > s->p->buf_size[0] / es)
			return LC_CORRUPT(err, "%s: %" PRIu64 " rows of %"
					  PRIu64 " bytes in %" PRIu64,
					  s->what, ps->rows, es,
					  s->p->buf_size[0]);
	}
	return 0;
}

static int rix_entry(uint64_t *out, struct src *s, const struct pstate *ps,
		     uint64_t r, struct lc_err *err)
{
	uint8_t *b;
	int rc = src_read(&b, s, 1, r * ps->rix_w, ps->rix_w, err);

	if (rc)
		return rc;
	*out = 0;
	for (unsigned i = 0; i < ps->rix_w; i++)
		*out |= (uint64_t)b[i] << (8 * i);
	lc_free(b);
	return 0;
}

static int fz_read(struct leaf *out, struct src *s, const struct pstate *ps,
		   uint64_t a, uint64_t cnt, struct lc_err *err)
{
	uint64_t lo, hi;
	uint8_t *buf;
	int rc;

	if (!cnt)
		return 0;
	if (ps->rix_w) {
		rc = rix_entry(&lo, s, ps, a, err);
		if (!rc)
			rc = rix_entry(&hi, s, ps, a + cnt, err);
		if (rc)
			return rc;
		if (hi < lo)
			return LC_CORRUPT(err, "%s: repetition index goes back"
					  " (%" PRIu64 " after %" PRIu64 ")",
					  s->what, hi, lo);
	} else {
		uint64_t es = ps->cw_bytes + ps->fz->bits_per_value / 8;

		lo = a * es;
		hi = (a + cnt) * es;
	}
	rc = src_read(&buf, s, 0, lo, hi - lo, err);
	if (rc)
		return rc;
	rc = fz_parse(out, ps, buf, hi - lo, cnt, s->what, err);
	lc_free(buf);
	return rc;
}

/* ------------------------------------------------------ constant / null */

/*
 * A constant page's value as lance 12 stores it when it is not inline
 * (variable-width values, or fixed ones over 32 bytes): the Arrow value
 * buffers of a one-element array, as u32 buffer count, one u32 length per
 * buffer, then the buffers back to back, nothing after. One buffer is a
 * fixed-width value; two are offsets (two i32, or two i64 for the large
 * types) and the bytes they index.
 */
static int const_scalar(struct blk *out, const uint8_t *p, uint64_t len,
			struct lc_err *err)
{
	uint64_t rest, lens[2], o0, o1;
	uint32_t nb;
	const uint8_t *q;

	memset(out, 0, sizeof(*out));
	if (len < 4)
		return LC_CORRUPT(err, "constant value of %" PRIu64 " bytes",
				  len);
	nb = lc_le32(p);
	if (nb != 1 && nb != 2)
		return LC_UNSUPPORTED(err, "constant value with %" PRIu32
				      " arrow buffers", nb);
	if (len - 4 < 4ull * nb)
		return LC_CORRUPT(err, "constant value header of %" PRIu64
				  " bytes", len);
	rest = len - 4 - 4ull * nb;
	q = p + 4 + 4 * nb;
	for (uint32_t i = 0; i < nb; i++) {
		lens[i] = lc_le32(p + 4 + 4 * i);
		if (lens[i] > rest)
			return LC_CORRUPT(err, "constant value buffer %" PRIu32
					  " of %" PRIu64 " bytes, %" PRIu64
					  " left", i, lens[i], rest);
		rest -= lens[i];
	}
	if (rest)
		return LC_CORRUPT(err, "%" PRIu64 " bytes after the constant "
				  "value", rest);
	if (nb == 1) {
		int rc;

		if (lens[0] == 0 || lens[0] > 4096)
			return LC_UNSUPPORTED(err, "constant value of %" PRIu64
					      " bytes", lens[0]);
		rc = blk_fixed(out, 1, 8 * (unsigned)lens[0], err);
		if (!rc)
			memcpy(out->data, q, (size_t)lens[0]);
		return rc;
	}
	if (lens[0] == 8) {
		o0 = lc_le32(q);
		o1 = lc_le32(q + 4);
	} else if (lens[0] == 16) {
		o0 = lc_le64(q);
		o1 = lc_le64(q + 8);
	} else {
		return LC_CORRUPT(err, "constant value offsets of %" PRIu64
				  " bytes", lens[0]);
	}
	if (o0 > o1 || o1 > lens[1])
		return LC_CORRUPT(err, "constant value offsets %" PRIu64 "..%"
				  PRIu64 " over %" PRIu64 " bytes", o0, o1,
				  lens[1]);
	out->dim = 1;
	out->offs = lc_malloc(2 * sizeof(uint64_t));
	out->data = lc_malloc((size_t)(o1 - o0) + 1);
	if (!out->offs || !out->data) {
		blk_reset(out);
		return LC_NOMEM(err);
	}
	memcpy(out->data, q + lens[0] + o0, (size_t)(o1 - o0));
	out->offs[0] = 0;
	out->offs[1] = o1 - o0;
	out->data_len = o1 - o0;
	out->n = 1;
	return 0;
}

/*
 * Buffers of a constant page (2.1 AllNullLayout, 2.2 ConstantLayout),
 * told apart by the inline value and the buffer count together, as lance
 * does: inline + 0 (no levels), inline + 2 (rep, def), no inline + 0 or
 * 2 (all null; rep, def), no inline + 1 (value), no inline + 3 (value,
 * rep, def). Levels are raw u16 unless rep/def_compression says
 * otherwise; an empty level buffer means no such levels.
 */
static int const_init(struct pstate *ps, struct src *s, struct lc_err *err)
{
	const Lpb21__ConstantPage *cp = ps->cp;
	const struct lance_page *p = s->p;
	bool inl = cp->inline_value.len > 0;
	size_t nb = p->n_buffers, vb = 0, lb = 0;
	uint64_t rs = 0, ds = 0, nr, nd;
	uint8_t *b = NULL;
	int rc = 0;

	if (nb == 2 || nb == 3)
		lb = nb - 2;
	if (nb == 1 || nb == 3)
		vb = 1;
	if (nb > 3 || (inl && vb))
		return LC_CORRUPT(err, "%s: constant page with %zu buffers "
				  "and %s inline value", s->what, nb,
				  inl ? "an" : "no");
	if (inl) {
		unsigned w = (unsigned)cp->inline_value.len;

		if (w > 32)
			return LC_CORRUPT(err, "%s: inline value of %u bytes",
					  s->what, w);
		rc = blk_fixed(&ps->cv, 1, 8 * w, err);
		if (rc)
			return rc;
		memcpy(ps->cv.data, cp->inline_value.data, w);
		ps->has_cv = true;
	} else if (vb) {
		rc = src_read(&b, s, 0, 0, p->buf_size[0], err);
		if (rc)
			return rc;
		rc = const_scalar(&ps->cv, b, p->buf_size[0], err);
		lc_free(b);
		b = NULL;
		if (rc) {
			lc_err_prefix(err, "%s: ", s->what);
			return rc;
		}
		ps->has_cv = true;
	}
	if (nb >= 2) {
		rs = p->buf_size[lb];
		ds = p->buf_size[lb + 1];
	}
	if (!rs && !ds)
		return 0;
	nr = cp->rep_compression ? cp->num_rep_values : rs / 2;
	nd = cp->def_compression ? cp->num_def_values : ds / 2;
	if (rs && ds && nr != nd)
		return LC_CORRUPT(err, "%s: %" PRIu64 " rep and %" PRIu64
				  " def levels", s->what, nr, nd);
	ps->n_lev = rs ? nr : nd;
	if (ps->n_lev > MAX_ITEMS)
		return LC_LIMIT(err, "%s: %" PRIu64 " levels", s->what,
				ps->n_lev);
	if (rs) {
		rc = src_read(&b, s, lb, 0, rs, err);
		if (rc)
			return rc;
		rc = decode_levels(&ps->lrep, cp->rep_compression, b, rs,
				   ps->n_lev, err);
		lc_free(b);
		b = NULL;
		if (rc) {
			lc_err_prefix(err, "%s: rep levels: ", s->what);
			return rc;
		}
	}
	if (ds) {
		rc = src_read(&b, s, lb + 1, 0, ds, err);
		if (rc)
			return rc;
		rc = decode_levels(&ps->ldef, cp->def_compression, b, ds,
				   ps->n_lev, err);
		lc_free(b);
		if (rc) {
			lc_err_prefix(err, "%s: def levels: ", s->what);
			return rc;
		}
	}
	if (ps->li.max_rep && !ps->lrep)
		return LC_CORRUPT(err, "%s: list page without rep levels",
				  s->what);
	if (!ps->li.max_rep && ps->n_lev != ps->rows)
		return LC_CORRUPT(err, "%s: %" PRIu64 " levels for %" PRIu64
				  " rows", s->what, ps->n_lev, ps->rows);
	return 0;
}

/* n copies of the constant value, shaped as the field wants them. */
static int const_values(struct blk *v, const struct pstate *ps, uint64_t n,
			const struct shape *sh, const char *what,
			struct lc_err *err)
{
	const struct blk *cv = &ps->cv;
	uint64_t w;
	int rc;

	if (!ps->has_cv)
		return blk_placeholders(v, sh, n, err);
	if (!cv->bits) {	/* variable width */
		w = cv->offs[1];
		if (sh->bits)
			return LC_CORRUPT(err, "%s: variable-width constant "
					  "for a %u-bit field", what,
					  sh->bits);
		if (n > MAX_ITEMS || (w && n > MAX_BYTES / w))
			return LC_LIMIT(err, "%s: %" PRIu64 " copies of a %"
					PRIu64 "-byte constant", what, n, w);
		memset(v, 0, sizeof(*v));
		v->dim = 1;
		v->offs = lc_malloc((size_t)(n + 1) * sizeof(uint64_t));
		v->data = lc_malloc((size_t)(n * w) + 1);
		if (!v->offs || !v->data) {
			blk_reset(v);
			return LC_NOMEM(err);
		}
		for (uint64_t i = 0; i < n; i++) {
			v->offs[i] = i * w;
			memcpy(v->data + i * w, cv->data, (size_t)w);
		}
		v->offs[n] = n * w;
		v->data_len = n * w;
		v->n = n;
		return 0;
	}
	if (sh->bits == 1) {	/* bool: an arrow bitmap of one bit */
		rc = blk_fixed(v, n, 1, err);
		if (!rc && (cv->data[0] & 1))
			memset(v->data, 0xff, (size_t)v->data_len);
		return rc;
	}
	if (sh->bits != cv->bits)
		return LC_CORRUPT(err, "%s: constant of %u bits for a %u-bit "
				  "field", what, cv->bits, sh->bits);
	w = cv->bits / 8;
	rc = blk_fixed(v, n, cv->bits, err);
	if (rc)
		return rc;
	v->dim = sh->dim ? sh->dim : 1;
	for (uint64_t i = 0; i < n; i++)
		memcpy(v->data + i * w, cv->data, (size_t)w);
	return 0;
}

static int const_read(struct leaf *out, struct src *s,
		      const struct pstate *ps, uint64_t a, uint64_t cnt,
		      const struct shape *sh, struct lc_err *err)
{
	uint64_t l0 = a, l1 = a + cnt, nvis = 0;
	bool has_lev = ps->lrep || ps->ldef;
	struct blk v;
	int rc;

	if (has_lev && ps->li.max_rep) {
		uint64_t seen = 0;

		l0 = l1 = ps->n_lev;
		for (uint64_t i = 0; i < ps->n_lev; i++) {
			if (ps->lrep[i] != ps->li.max_rep)
				continue;
			if (seen == a)
				l0 = i;
			if (seen == a + cnt) {
				l1 = i;
				break;
			}
			seen++;
		}
		if (l0 == ps->n_lev)
			return LC_CORRUPT(err, "%s: row %" PRIu64 " not in the"
					  " levels", s->what, a);
	}
	for (uint64_t i = l0; i < l1; i++) {
		uint16_t r = ps->lrep ? ps->lrep[i] : 0;
		uint16_t d;

		if (has_lev) {
			d = ps->ldef ? ps->ldef[i] : 0;
		} else {
			/* no levels: every row is the value, or null when
			 * the page has none */
			d = ps->has_cv || !ps->li.max_def ? 0 : 1;
		}
		nvis += page_visible(&ps->li, d);
		rc = level_canon(&d, r, &ps->li, err);
		if (!rc)
			rc = leaf_push(out, r, d, err);
		if (rc)
			return rc;
	}
	rc = const_values(&v, ps, nvis, sh, s->what, err);
	if (rc)
		return rc;
	rc = blk_append(&out->v, &v, 0, v.n, err);
	blk_reset(&v);
	return rc;
}

/* ---------------------------------------------------------------- blob v1 */

/* Descriptors (u64 position, u64 size) -> levels: a null smuggles its
 * (def << 16 | rep) in the position when the size is 0. */
static int blob1_fix(struct leaf *out, uint64_t l0, uint64_t v0,
		     const struct pstate *ps, struct lc_err *err)
{
	/* one descriptor per level, from the page's first value on (earlier
	 * pages may have left levels without values) */
	if (out->n - l0 != out->v.n - v0)
		return LC_CORRUPT(err, "blob page of %" PRIu64 " levels and %"
				  PRIu64 " descriptors", out->n - l0,
				  out->v.n - v0);
	for (uint64_t i = l0; i < out->n; i++) {
		const uint8_t *d = out->v.data + (v0 + i - l0) * 16;
		uint64_t pos = lc_le64(d), size = lc_le64(d + 8);
		uint16_t rep = 0, def = 0;
		int rc;

		if (size == 0 && pos != 0) {
			rep = (uint16_t)(pos & 0xffff);
			def = (uint16_t)(pos >> 16);
		}
		rc = level_canon(&def, rep, &ps->li, err);
		if (rc)
			return rc;
		out->rep[i] = rep;
		out->def[i] = def;
	}
	return 0;
}

/* ---------------------------------------------------------- page dispatch */

static int pstate_build(struct pstate **out, struct src *s, uint64_t rows,
			struct lc_err *err)
{
	const struct lance_page *p = s->p;
	struct pstate *ps;
	const Lpb21__Layout *lay;
	int rc;

	*out = NULL;
	if (strcmp(p->type_url, PAGE_URL)) {
		if (!strcmp(p->type_url, OLD_PAGE_URL))
			return LC_UNSUPPORTED(err, "%s: unsupported pre-release"
					      " 2.1 encoding (%s, before Aug "
					      "2025)", s->what, p->type_url);
		return LC_UNSUPPORTED(err, "%s: page encoding \"%.80s\"",
				      s->what, p->type_url);
	}
	rc = lance__pb_check(p->enc, p->enc_len, LANCE_PB_MAX_DEPTH, s->what,
			     err);
	if (rc)
		return rc;
	ps = lc_calloc(1, sizeof(*ps));
	if (!ps)
		return LC_NOMEM(err);
	ps->rows = rows;
	ps->lay = lpb21__layout__unpack(NULL, p->enc_len, p->enc);
	if (!ps->lay) {
		rc = LC_CORRUPT(err, "%s: page layout does not parse",
				s->what);
		goto fail;
	}
	lay = ps->lay;
	switch (lay->layout_case) {
	case LPB21__LAYOUT__LAYOUT_MINI_BLOCK:
		ps->kind = P_MINI;
		ps->mb = lay->mini_block;
		rc = layers_parse(&ps->li, ps->mb->layers, ps->mb->n_layers,
				  err);
		ps->mli = ps->li;
		if (!rc)
			rc = mb_init(ps, s, err);
		break;
	case LPB21__LAYOUT__LAYOUT_FULL_ZIP:
		ps->kind = P_FULL;
		ps->fz = lay->full_zip;
		rc = layers_parse(&ps->li, ps->fz->layers, ps->fz->n_layers,
				  err);
		ps->mli = ps->li;
		if (!rc)
			rc = fz_init(ps, s, err);
		break;
	case LPB21__LAYOUT__LAYOUT_CONSTANT:
		ps->kind = P_CONST;
		ps->cp = lay->constant;
		rc = layers_parse(&ps->li, ps->cp->layers, ps->cp->n_layers,
				  err);
		ps->mli = ps->li;
		if (!rc)
			rc = const_init(ps, s, err);
		break;
	case LPB21__LAYOUT__LAYOUT_BLOB: {
		const Lpb21__BlobPage *bp = lay->blob;

		ps->kind = P_BLOB;
		if (!bp->inner_layout || bp->inner_layout->layout_case !=
		    LPB21__LAYOUT__LAYOUT_MINI_BLOCK) {
			rc = LC_UNSUPPORTED(err, "%s: blob page whose inner "
					    "layout is not mini-block",
					    s->what);
			break;
		}
		ps->mb = bp->inner_layout->mini_block;
		rc = layers_parse(&ps->mli, ps->mb->layers, ps->mb->n_layers,
				  err);
		if (!rc && ps->mli.max_def)
			rc = LC_CORRUPT(err, "%s: blob descriptors with "
					"levels", s->what);
		if (!rc)
			rc = mb_init(ps, s, err);
		if (!rc)
			rc = layers_parse(&ps->li, bp->layers, bp->n_layers,
					  err);
		if (!rc && ps->li.max_rep)
			rc = LC_UNSUPPORTED(err, "%s: blobs inside lists",
					    s->what);
		break;
	}
	case LPB21__LAYOUT__LAYOUT_SPARSE:
		rc = LC_UNSUPPORTED(err, "%s: 2.3 sparse layout", s->what);
		break;
	default:
		rc = LC_CORRUPT(err, "%s: page without a layout", s->what);
		break;
	}
	if (rc)
		goto fail;
	*out = ps;
	return 0;
fail:
	pstate_free(ps);
	return rc;
}

/* Rows [a, a + cnt) of one page, appended to out. */
static int page_read(struct leaf *out, struct src *s, struct pstate *ps,
		     uint64_t a, uint64_t cnt, const struct shape *sh,
		     struct lc_err *err)
{
	if (!lc_range_ok(a, cnt, ps->rows))
		return LC_CORRUPT(err, "%s: rows %" PRIu64 "+%" PRIu64 " of %"
				  PRIu64, s->what, a, cnt, ps->rows);
	switch (ps->kind) {
	case P_MINI:
		return mb_read(out, s, ps, a, cnt, err);
	case P_FULL:
		return fz_read(out, s, ps, a, cnt, err);
	case P_CONST:
		return const_read(out, s, ps, a, cnt, sh, err);
	case P_BLOB: {
		uint64_t l0 = out->n, v0 = out->v.n;
		int rc = mb_read(out, s, ps, a, cnt, err);

		if (!rc && out->v.bits != 128)
			rc = LC_CORRUPT(err, "%s: blob descriptors of %u bits",
					s->what, out->v.bits);
		if (!rc)
			rc = blob1_fix(out, l0, v0, ps, err);
		return rc;
	}
	}
	return LC_CORRUPT(err, "%s: bad page kind", s->what);
}

/* ---------------------------------------------------------- pure entry */

/* A page held in memory (up to 16 buffers) as a source and its state,
 * for the pure entries; `pg` and `offs` are the caller's storage. */
static int mem_page(struct pstate **ps, struct src *s, struct lance_page *pg,
		    uint64_t offs[16], const uint8_t *enc, size_t enc_len,
		    uint64_t rows, const uint8_t *const *bufs,
		    const uint64_t *sizes, size_t n_bufs, struct lc_err *err)
{
	if (n_bufs > 16)
		return LC_USAGE(err, "%zu buffers", n_bufs);
	memset(pg, 0, sizeof(*pg));
	memset(offs, 0, 16 * sizeof(*offs));
	pg->length = rows;
	pg->n_buffers = n_bufs;
	pg->buf_off = offs;
	pg->buf_size = sizes;
	pg->type_url = PAGE_URL;
	pg->enc = enc;
	pg->enc_len = enc_len;
	s->f = NULL;
	s->p = pg;
	s->mem = bufs;
	s->what = "page";
	return pstate_build(ps, s, rows, err);
}

int lance__v21_page_decode(const uint8_t *enc, size_t enc_len,
			   uint64_t rows, const uint8_t *const *bufs,
			   const uint64_t *sizes, size_t n_bufs, uint64_t row,
			   uint64_t n, struct lc_err *err)
{
	struct lance_page pg;
	struct src s;
	struct pstate *ps;
	struct leaf out;
	struct shape sh = { 0, 1 };
	uint64_t offs[16];
	int rc;

	rc = mem_page(&ps, &s, &pg, offs, enc, enc_len, rows, bufs, sizes,
		      n_bufs, err);
	if (rc)
		return rc;
	memset(&out, 0, sizeof(out));
	rc = page_read(&out, &s, ps, row, n, &sh, err);
	leaf_reset(&out);
	pstate_free(ps);
	return rc;
}

/* ---------------------------------------------------------- page cache */

struct v21_dec {
	size_t *base;		/* first slot of each column */
	struct pstate **ps;	/* protected by f->mu */
	size_t total;
};

static void v21_dec_free(struct lance_file *f)
{
	struct v21_dec *d = f->dec;

	if (!d)
		return;
	for (size_t i = 0; i < d->total; i++)
		pstate_free(d->ps[i]);
	lc_free(d->ps);
	lc_free(d->base);
	lc_free(d);
	f->dec = NULL;
}

static int dec_init_locked(struct lance_file *f, struct lc_err *err)
{
	struct v21_dec *d;
	size_t total = 0;

	if (f->dec)
		return 0;
	d = lc_calloc(1, sizeof(*d));
	if (!d)
		return LC_NOMEM(err);
	d->base = lc_calloc(f->n_cols + 1, sizeof(size_t));
	if (!d->base) {
		lc_free(d);
		return LC_NOMEM(err);
	}
	for (uint32_t c = 0; c < f->n_cols; c++) {
		d->base[c] = total;
		total += f->cols[c].n_pages;
	}
	d->ps = lc_calloc(total + 1, sizeof(*d->ps));
	if (!d->ps) {
		lc_free(d->base);
		lc_free(d);
		return LC_NOMEM(err);
	}
	d->total = total;
	f->dec = d;
	f->dec_free = v21_dec_free;
	return 0;
}

/* The parsed state of a page, built once per file (borrowed). */
static int pstate_get(struct pstate **out, struct src *s, uint32_t col,
		      size_t pidx, struct lc_err *err)
{
	struct lance_file *f = s->f;
	struct v21_dec *d;
	struct pstate *ps;
	size_t slot;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = dec_init_locked(f, err);
	d = f->dec;
	slot = rc ? 0 : d->base[col] + pidx;
	ps = rc ? NULL : d->ps[slot];
	pthread_mutex_unlock(&f->mu);
	if (rc)
		return rc;
	if (ps) {
		*out = ps;
		return 0;
	}
	rc = pstate_build(&ps, s, s->p->length, err);	/* I/O, unlocked */
	if (rc)
		return rc;
	pthread_mutex_lock(&f->mu);
	if (d->ps[slot]) {	/* another thread won the race */
		pstate_free(ps);
		ps = d->ps[slot];
	} else {
		d->ps[slot] = ps;
	}
	pthread_mutex_unlock(&f->mu);
	*out = ps;
	return 0;
}

/* ---------------------------------------------------------- columns */

/* Elements of one depth of a field path, as the levels build them. */
struct clayer {
	uint64_t count, cap;
	uint8_t *valid;
	bool any_null;
	uint64_t *offs;		/* lists: count + 1 child offsets */
};

/* One leaf column under the requested field. */
struct colread {
	int32_t col;
	const struct lance_field *path[MAX_LAYERS];	/* top .. leaf */
	unsigned m;					/* leaf depth */
	struct leaf lf;
	const Lpb21__VarPackedStruct *vps;	/* blob v2 records */
	struct clayer L[MAX_LAYERS];	/* assembled, one per depth */
};

static void colread_reset(struct colread *c)
{
	leaf_reset(&c->lf);
	for (unsigned k = 0; k < MAX_LAYERS; k++) {
		lc_free(c->L[k].valid);
		lc_free(c->L[k].offs);
	}
	memset(c, 0, sizeof(*c));
}

static bool field_is_list(const struct lance_field *f)
{
	return f->blob == LANCE_BLOB_NONE && (f->type.id == LANCE_T_LIST ||
					      f->type.id == LANCE_T_MAP);
}

static int field_shape(struct shape *sh, const struct lance_field *fld,
		       struct lc_err *err)
{
	const struct lance_type *t = &fld->type;

	sh->bits = 0;
	sh->dim = 1;
	if (fld->blob == LANCE_BLOB_V1) {
		sh->bits = 128;
		return 0;
	}
	if (fld->blob == LANCE_BLOB_V2)
		return 0;
	if (fld->packed && t->id == LANCE_T_STRUCT) {
		for (size_t i = 0; i < fld->n_children; i++) {
			unsigned w = lance_type_width(&fld->children[i]->type);

			if (!w)
				return LC_UNSUPPORTED(err, "packed struct "
						      "child %s",
						      fld->children[i]->name);
			sh->bits += 8 * w;
		}
		return 0;
	}
	switch (t->id) {
	case LANCE_T_BOOL:
		sh->bits = 1;
		return 0;
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		return 0;
	case LANCE_T_NULL:
		sh->bits = 8;
		return 0;
	case LANCE_T_FIXED_LIST: {
		unsigned w;

		if (!t->item || t->width <= 0)
			return LC_UNSUPPORTED(err, "fixed-size list type");
		w = lance_type_width(t->item);
		if (!w && t->item->id != LANCE_T_BOOL)
			return LC_UNSUPPORTED(err, "fixed-size list of "
					      "non-fixed items");
		/* booleans: a value's bits in whole bytes (blk_pad_bits) */
		sh->bits = w ? 8 * w * (unsigned)t->width
			     : 8 * (((unsigned)t->width + 7) / 8);
		sh->dim = (uint32_t)t->width;
		return 0;
	}
	default:
		if (!lance_type_width(t))
			return LC_UNSUPPORTED(err, "leaf of type %d",
					      (int)t->id);
		sh->bits = 8 * lance_type_width(t);
		return 0;
	}
}

/* Read levels and values of rows [row, row + n) of column cr->col. */
static int column_read(struct colread *cr, struct lance_file *f,
		       uint64_t row, uint64_t n, struct lc_err *err)
{
	const struct lance_column *col = &f->cols[cr->col];
	struct shape sh;
	uint64_t r = row, end = row + n;
	char what[80];
	int rc;

	rc = field_shape(&sh, cr->path[cr->m], err);
	if (rc)
		return rc;
	while (r < end) {
		size_t pidx;
		const struct lance_page *p = lance__page_for_row(col, r,
								 &pidx);
		struct pstate *ps;
		struct src s;
		uint64_t a, cnt;

		if (!p)
			return LC_CORRUPT(err, "column %d has no page for row "
					  "%" PRIu64, cr->col, r);
		snprintf(what, sizeof(what), "column %d page %zu", cr->col,
			 pidx);
		s.f = f;
		s.p = p;
		s.mem = NULL;
		s.what = what;
		rc = pstate_get(&ps, &s, (uint32_t)cr->col, pidx, err);
		if (rc)
			return rc;
		/* the page's layers must be the field path's, inner first */
		if (ps->li.n != cr->m + 1 && !(ps->li.n == 0 &&
					       !ps->li.max_def)) {
			return LC_CORRUPT(err, "%s: %u structural layers for a"
					  " field %u deep", what, ps->li.n,
					  cr->m + 1);
		}
		for (unsigned j = 0; j < ps->li.n; j++)
			if (layer_is_list(ps->li.kind[j]) !=
			    field_is_list(cr->path[cr->m - j]))
				return LC_CORRUPT(err, "%s: layer %u does not "
						  "match field %s", what, j,
						  cr->path[cr->m - j]->name);
		if (ps->kind == P_FULL && ps->fz->value_compression &&
		    ps->fz->value_compression->kind_case ==
		    LPB21__ENC__KIND_VARIABLE_PACKED_STRUCT)
			cr->vps = ps->fz->value_compression
					  ->variable_packed_struct;
		a = r - p->first_row;
		cnt = p->length - a < end - r ? p->length - a : end - r;
		rc = page_read(&cr->lf, &s, ps, a, cnt, &sh, err);
		if (rc)
			return rc;
		r += cnt;
	}
	return 0;
}

/* ---------------------------------------------------------- assembly */

static int layer_push(struct colread *cr, unsigned k, bool valid,
		      struct lc_err *err)
{
	struct clayer *L = &cr->L[k];

	if (L->count == L->cap) {
		uint64_t cap = L->cap ? L->cap * 2 : 256;
		uint8_t *v;
		uint64_t *o;

		if (cap > MAX_ITEMS)
			return LC_LIMIT(err, "more than %llu elements",
					MAX_ITEMS);
		v = lc_realloc(L->valid, (size_t)cap / 8 + 1);
		if (!v)
			return LC_NOMEM(err);
		L->valid = v;
		if (field_is_list(cr->path[k])) {
			o = lc_realloc(L->offs, (size_t)(cap + 1) * 8);
			if (!o)
				return LC_NOMEM(err);
			L->offs = o;
		}
		L->cap = cap;
	}
	bit_set(L->valid, L->count, valid);
	if (!valid)
		L->any_null = true;
	if (L->offs)
		L->offs[L->count] = cr->L[k + 1].count;
	L->count++;
	return 0;
}

/* Walk the levels (file-format.md 4.1) into per-depth validity and list
 * offsets. Canonical def codes name the layer that is null or empty. */
static int assemble(struct colread *cr, struct lc_err *err)
{
	const struct leaf *lf = &cr->lf;
	unsigned m = cr->m, max_rep = 0, rep_depth[MAX_LAYERS + 1];
	uint64_t leaves = 0;
	int rc;

	for (unsigned k = m + 1; k-- > 0;)	/* inner lists get low reps */
		if (field_is_list(cr->path[k]))
			rep_depth[++max_rep] = k;
	for (uint64_t i = 0; i < lf->n; i++) {
		unsigned r = lf->rep[i], d = lf->def[i], ks, kd;
		bool empty = d && !(d & 1);

		if (r > max_rep)
			return LC_CORRUPT(err, "repetition level %u", r);
		ks = max_rep == 0 || r == max_rep ? 0 : rep_depth[r + 1] + 1;
		if (d && (d - 1) / 2 > m)
			return LC_CORRUPT(err, "definition code %u", d);
		kd = d ? m - (d - 1) / 2 : m + 1;
		if (kd < ks || (empty && !field_is_list(cr->path[kd])))
			return LC_CORRUPT(err, "level %" PRIu64 " (rep %u, "
					  "def %u) does not fit the layers",
					  i, r, d);
		for (unsigned k = ks; k <= m; k++) {
			rc = layer_push(cr, k, k < kd || (k == kd && empty),
					err);
			if (rc)
				return rc;
			if (k == m)
				leaves++;
			if (field_is_list(cr->path[k]) && k >= kd)
				break;
		}
	}
	for (unsigned k = 0; k <= m; k++)
		if (cr->L[k].offs)
			cr->L[k].offs[cr->L[k].count] = cr->L[k + 1].count;
		else if (field_is_list(cr->path[k])) {
			cr->L[k].offs = lc_calloc(1, 8);
			if (!cr->L[k].offs)
				return LC_NOMEM(err);
		}
	if (leaves != lf->v.n)
		return LC_CORRUPT(err, "levels give %" PRIu64 " values, the "
				  "pages hold %" PRIu64, leaves, lf->v.n);
	return 0;
}

/* ---------------------------------------------------------- arrays */

static int copy_validity(struct lance_array *a, const struct clayer *L,
			 struct lc_err *err)
{
	if (!L->any_null)
		return 0;
	a->validity = lc_malloc((size_t)(L->count + 7) / 8 + 1);
	if (!a->validity)
		return LC_NOMEM(err);
	memcpy(a->validity, L->valid, (size_t)(L->count + 7) / 8);
	return 0;
}

static uint8_t *dup_bytes(const void *p, uint64_t n)
{
	uint8_t *d = lc_malloc((size_t)n + 1);

	if (d && n)
		memcpy(d, p, (size_t)n);
	return d;
}

/* Blob v2 descriptor fields from one record (file-format.md 7.2). */
struct blobdesc {
	uint64_t kind, pos, size, id;
};

static int blob2_parse(struct blobdesc *o, const Lpb21__VarPackedStruct *vps,
		       const uint8_t *p, uint64_t len, struct lc_err *err)
{
	uint64_t pos = 0, v[5] = { 0 };

	if (!vps || vps->n_fields < 4)
		return LC_UNSUPPORTED(err, "blob v2 descriptor layout");
	for (size_t j = 0; j < vps->n_fields; j++) {
		const Lpb21__VarPackedField *fe = vps->fields[j];
		uint64_t w;

		if (fe->layout_case ==
		    LPB21__VAR_PACKED_FIELD__LAYOUT_BITS_PER_VALUE) {
			w = fe->bits_per_value / 8;
			if (fe->bits_per_value % 8 || w > 8 || len - pos < w)
				return LC_CORRUPT(err, "blob descriptor field "
						  "%zu", j);
			if (j < 5)
				for (unsigned b = 0; b < w; b++)
					v[j] |= (uint64_t)p[pos + b] << (8 * b);
			pos += w;
		} else {
			uint64_t l;

			w = fe->bits_per_length / 8;
			if ((w != 4 && w != 8) || len - pos < w)
				return LC_CORRUPT(err, "blob descriptor field "
						  "%zu", j);
			l = w == 4 ? lc_le32(p + pos) : lc_le64(p + pos);
			pos += w;
			if (l > len - pos)
				return LC_CORRUPT(err, "blob descriptor field "
						  "%zu", j);
			pos += l;
		}
	}
	o->kind = v[0];
	o->pos = v[1];
	o->size = v[2];
	o->id = v[3];
	return 0;
}

/* The sidecar of blob `id`: data/<file stem>/<id bit-reversed>.blob */
static int blob_sidecar_key(char **out, const struct lance_file *f,
			    uint64_t id, struct lc_err *err)
{
	size_t l = strlen(f->path);
	char *k;

	*out = NULL;
	if (l < 6 || strcmp(f->path + l - 6, ".lance"))
		return LC_CORRUPT(err, "data file %s does not end in .lance",
				  f->path);
	if (id > UINT32_MAX)
		return LC_CORRUPT(err, "blob id %" PRIu64, id);
	k = lc_malloc(l - 6 + 1 + 32 + 5 + 1);
	if (!k)
		return LC_NOMEM(err);
	memcpy(k, f->path, l - 6);
	k[l - 6] = '/';
	for (unsigned b = 0; b < 32; b++)
		k[l - 5 + b] = (id >> b) & 1 ? '1' : '0';
	memcpy(k + l - 5 + 32, ".blob", 6);
	*out = k;
	return 0;
}

static int blob_fetch(uint8_t *dst, struct lance_file *f,
		      const struct blobdesc *d, struct lc_err *err)
{
	struct ostore_obj *o;
	char *key;
	int rc;

	if (d->kind == 0)
		return lance__file_pread(f, d->pos, (size_t)d->size, dst, err);
	if (d->kind == 3)
		return LC_UNSUPPORTED(err, "external blobs (kind 3) are not "
				      "supported");
	if (d->kind != 1 && d->kind != 2)
		return LC_UNSUPPORTED(err, "blob kind %" PRIu64, d->kind);
	rc = blob_sidecar_key(&key, f, d->id, err);
	if (rc)
		return rc;
	rc = ostore_open(&o, f->st, key, err);
	if (!rc) {
		rc = ostore_read(o, d->pos, (size_t)d->size, dst, err);
		ostore_close(o);
	}
	if (rc)
		lc_err_prefix(err, "blob sidecar %s: ", key);
	lc_free(key);
	return rc;
}

/* Descriptor of element i of a blob column (valid elements only). */
static int blob_desc(struct blobdesc *d, const struct colread *cr,
		     uint64_t i, struct lc_err *err)
{
	const struct blk *v = &cr->lf.v;

	memset(d, 0, sizeof(*d));
	if (i >= v->n)
		return LC_CORRUPT(err, "blob element %" PRIu64 " of %" PRIu64
				  " descriptors", i, v->n);
	if (cr->path[cr->m]->blob == LANCE_BLOB_V1) {
		if (v->bits != 128)
			return LC_CORRUPT(err, "blob v1 column without "
					  "descriptors");
		d->pos = lc_le64(v->data + 16 * i);
		d->size = lc_le64(v->data + 16 * i + 8);
		return 0;
	}
	if (v->bits || !v->offs)
		return LC_CORRUPT(err, "blob v2 column of fixed values");
	return blob2_parse(d, cr->vps, v->data + v->offs[i],
			   v->offs[i + 1] - v->offs[i], err);
}

static int fill_blob(struct lance_array *a, struct colread *cr,
		     struct lance_file *f, struct lc_err *err)
{
	const struct clayer *L = &cr->L[cr->m];
	struct blobdesc d;
	uint64_t total = 0;
	int rc;

	a->type = lance_array_type(cr->path[cr->m]);
	a->offsets = lc_calloc((size_t)a->length + 1, sizeof(uint64_t));
	if (!a->offsets)
		return LC_NOMEM(err);
	for (uint64_t i = 0; i < a->length; i++) {
		if (bit_get(L->valid, i)) {
			rc = blob_desc(&d, cr, i, err);
			if (rc)
				return rc;
			if (d.size > MAX_BYTES - total)
				return LC_LIMIT(err, "blobs of more than %llu "
						"bytes in one read", MAX_BYTES);
			total += d.size;
		}
		a->offsets[i + 1] = total;
	}
	a->values = lc_malloc((size_t)total + 1);
	if (!a->values)
		return LC_NOMEM(err);
	a->values_len = total;
	for (uint64_t i = 0; i < a->length; i++) {
		if (!bit_get(L->valid, i) ||
		    a->offsets[i + 1] == a->offsets[i])
			continue;
		rc = blob_desc(&d, cr, i, err);
		if (!rc)
			rc = blob_fetch(a->values + a->offsets[i], f, &d, err);
		if (rc) {
			lc_err_prefix(err, "row %" PRIu64 ": ", i);
			return rc;
		}
	}
	return 0;
}

/* Values of the leaf column into array a (length already set). */
static int fill_leaf(struct lance_array *a, struct colread *cr,
		     struct lance_file *f, struct lc_err *err)
{
	const struct lance_field *fld = cr->path[cr->m];
	const struct lance_type *t = &fld->type;
	const struct blk *v = &cr->lf.v;
	struct shape sh;
	int rc;

	if (fld->blob != LANCE_BLOB_NONE)
		return fill_blob(a, cr, f, err);
	rc = field_shape(&sh, fld, err);
	if (rc)
		return rc;
	if (v->n != a->length || v->bits != sh.bits)
		return LC_CORRUPT(err, "%" PRIu64 " values of %u bits for %"
				  PRIu64 " %s elements of %u bits", v->n,
				  v->bits, a->length, fld->logical_type ?
				  fld->logical_type : "?", sh.bits);
	if (!v->bits) {
		a->offsets = lc_malloc((size_t)(v->n + 1) * 8);
		a->values = dup_bytes(v->data, v->data_len);
		if (!a->offsets || !a->values)
			return LC_NOMEM(err);
		memcpy(a->offsets, v->offs, (size_t)(v->n + 1) * 8);
		a->values_len = v->data_len;
		return 0;
	}
	if (fld->packed && t->id == LANCE_T_STRUCT) {
		unsigned rec = v->bits / 8, at = 0;

		a->children = lc_calloc(fld->n_children, sizeof(*a->children));
		if (!a->children)
			return LC_NOMEM(err);
		a->n_children = fld->n_children;
		for (size_t c = 0; c < fld->n_children; c++) {
			struct lance_array *ch = &a->children[c];
			unsigned w = lance_type_width(&fld->children[c]->type);

			ch->field = fld->children[c];
			ch->type = &ch->field->type;
			ch->length = a->length;
			ch->values = lc_malloc((size_t)(a->length * w) + 1);
			if (!ch->values)
				return LC_NOMEM(err);
			ch->values_len = a->length * w;
			for (uint64_t i = 0; i < a->length; i++)
				memcpy(ch->values + i * w,
				       v->data + i * rec + at, w);
			at += w;
		}
		return 0;
	}
	if (t->id == LANCE_T_FIXED_LIST) {
		struct lance_array *ch;
		uint64_t items = a->length * (uint64_t)t->width;

		if (v->dim != (uint32_t)t->width)
			return LC_CORRUPT(err, "fixed-size list of %u stored "
					  "as %u items", t->width, v->dim);
		a->children = lc_calloc(1, sizeof(*a->children));
		if (!a->children)
			return LC_NOMEM(err);
		a->n_children = 1;
		ch = &a->children[0];
		ch->type = t->item;
		ch->length = items;
		if (t->item->id == LANCE_T_BOOL) {	/* packed again */
			uint64_t B = ((uint64_t)t->width + 7) / 8;

			if (v->data_len < a->length * B)
				return LC_CORRUPT(err, "%" PRIu64 " bytes for "
						  "%" PRIu64 " lists of "
						  "booleans", v->data_len,
						  a->length);
			ch->values = lc_calloc(1, (size_t)(items + 7) / 8 + 1);
			if (!ch->values)
				return LC_NOMEM(err);
			ch->values_len = (items + 7) / 8;
			for (uint64_t i = 0; i < a->length; i++)
				bits_copy(ch->values, i * t->width,
					  v->data + i * B, 0, t->width);
		} else {
			ch->values = dup_bytes(v->data, v->data_len);
			if (!ch->values)
				return LC_NOMEM(err);
			ch->values_len = v->data_len;
		}
		if (v->ivalid) {
			bool all = true;

			for (uint64_t i = 0; i < items && all; i++)
				all = bit_get(v->ivalid, i);
			if (!all) {
				ch->validity = dup_bytes(v->ivalid,
							 (items + 7) / 8);
				if (!ch->validity)
					return LC_NOMEM(err);
			}
		}
		return 0;
	}
	a->values = dup_bytes(v->data, v->data_len);
	if (!a->values)
		return LC_NOMEM(err);
	a->values_len = v->data_len;
	return 0;
}

/* Build the array of field `fld` at depth k from columns [c0, c1). */
static int build(struct lance_array *a, const struct lance_field *fld,
		 unsigned k, struct colread *cols, size_t c0, size_t c1,
		 struct lance_file *f, struct lc_err *err)
{
	struct colread *cr = &cols[c0];
	const struct clayer *L = &cr->L[k];
	int rc;

	memset(a, 0, sizeof(*a));
	if (L->count == 0) {	/* an empty read: an empty array */
		rc = lance_array_init_null(a, fld, 0, err);
		/* a blob's bytes (lance_array_type): no values, not NULL */
		if (!rc && fld->blob != LANCE_BLOB_NONE &&
		    !(a->values = lc_malloc(1)))
			rc = LC_NOMEM(err);
		return rc;
	}
	a->field = fld;
	a->type = &fld->type;
	a->length = L->count;
	rc = copy_validity(a, L, err);
	if (rc)
		return rc;
	if (k == cr->m)
		return fill_leaf(a, cr, f, err);
	if (field_is_list(fld)) {
		a->offsets = (void *)dup_bytes(L->offs, (L->count + 1) * 8);
		a->children = lc_calloc(1, sizeof(*a->children));
		if (!a->offsets || !a->children)
			return LC_NOMEM(err);
		a->n_children = 1;
		return build(&a->children[0], cr->path[k + 1], k + 1, cols,
			     c0, c1, f, err);
	}
	/* struct: one child per field, from the columns under it */
	a->children = lc_calloc(fld->n_children + 1, sizeof(*a->children));
	if (!a->children)
		return LC_NOMEM(err);
	a->n_children = fld->n_children;
	for (size_t i = 0; i < fld->n_children; i++) {
		const struct lance_field *ch = fld->children[i];
		size_t s = c0, e;

		while (s < c1 && cols[s].path[k + 1] != ch)
			s++;
		for (e = s; e < c1 && cols[e].path[k + 1] == ch; e++)
			;
		if (s == c1)
			rc = lance_array_init_null(&a->children[i], ch,
						   a->length, err);
		else
			rc = build(&a->children[i], ch, k + 1, cols, s, e, f,
				   err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------- entry points */

struct readplan {
	struct colread *cols;
	size_t n, cap;
	unsigned k;			/* depth of the requested field */
	const struct lance_field *path[MAX_LAYERS];
};

static void plan_reset(struct readplan *rp)
{
	for (size_t i = 0; i < rp->n; i++)
		colread_reset(&rp->cols[i]);
	lc_free(rp->cols);
	memset(rp, 0, sizeof(*rp));
}

/* Collect the columns under fld (depth k) in pre-order. */
static int plan_walk(struct readplan *rp, struct lance_file *f,
		     const struct lance_field *fld, unsigned k,
		     struct lc_err *err)
{
	int col;

	if (k >= MAX_LAYERS - 2)
		return LC_UNSUPPORTED(err, "fields nested deeper than %d",
				      MAX_LAYERS - 2);
	rp->path[k] = fld;
	col = lance__file_column(f, fld->id);
	if (col >= 0) {
		struct colread *cr;

		if (rp->n == rp->cap) {
			size_t cap = rp->cap ? rp->cap * 2 : 8;
			struct colread *c = lc_realloc(rp->cols,
						       cap * sizeof(*c));

			if (!c)
				return LC_NOMEM(err);
			rp->cols = c;
			rp->cap = cap;
		}
		cr = &rp->cols[rp->n++];
		memset(cr, 0, sizeof(*cr));
		cr->col = col;
		cr->m = k;
		memcpy(cr->path, rp->path, sizeof(cr->path[0]) * (k + 1));
		return 0;
	}
	if (fld->blob != LANCE_BLOB_NONE || fld->packed)
		return 0;	/* stored whole or not at all */
	for (size_t i = 0; i < fld->n_children; i++) {
		int rc = plan_walk(rp, f, fld->children[i], k + 1, err);

		if (rc)
			return rc;
	}
	return 0;
}

static int plan(struct readplan *rp, struct lance_file *f,
		const struct lance_field *field, uint64_t row, uint64_t n,
		struct lc_err *err)
{
	const struct lance_field *chain[MAX_LAYERS];
	unsigned depth = 0;
	int rc;

	memset(rp, 0, sizeof(*rp));
	for (const struct lance_field *p = field; p; p = p->parent) {
		if (depth == MAX_LAYERS - 2)
			return LC_UNSUPPORTED(err, "field nested too deep");
		chain[depth++] = p;
		if (p != field && field_is_list(p))
			return LC_UNSUPPORTED(err, "reading a field inside a "
					      "list on its own (read %s)",
					      p->name);
	}
	for (unsigned i = 0; i < depth; i++)
		rp->path[i] = chain[depth - 1 - i];
	rp->k = depth - 1;
	rc = plan_walk(rp, f, field, rp->k, err);
	if (rc)
		return rc;
	if (!rp->n)
		return LC_NOTFOUND(err, "no column of this file holds field "
				   "%d", field->id);
	for (size_t i = 0; i < rp->n; i++) {
		struct colread *cr = &rp->cols[i];

		rc = column_read(cr, f, row, n, err);
		if (!rc)
			rc = assemble(cr, err);
		if (rc)
			return rc;
		if (cr->L[rp->k].count != n)
			return LC_CORRUPT(err, "column %d gives %" PRIu64
					  " rows, wanted %" PRIu64, cr->col,
					  cr->L[rp->k].count, n);
	}
	return 0;
}

int lance__v21_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	struct readplan rp;
	int rc = plan(&rp, f, field, row, n, err);

	if (!rc)
		rc = build(out, field, rp.k, rp.cols, 0, rp.n, f, err);
	plan_reset(&rp);
	return rc;
}

/* Sizes of variable full-zip values from the repetition index (and, for
 * per-value zstd/lz4, each value's length header): no value bytes. */
static int fz_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		    int32_t colno, uint64_t row, uint64_t n, bool *done,
		    struct lc_err *err)
{
	const struct lance_column *col = &f->cols[colno];
	uint64_t r = row, end = row + n;
	char what[80];
	int rc;

	*done = false;
	for (size_t i = 0; i < col->n_pages; i++) {
		const struct lance_page *p = &col->pages[i];

		if (p->first_row >= end || p->first_row + p->length <= row)
			continue;
		if (strcmp(p->type_url, PAGE_URL))
			return 0;
	}
	while (r < end) {
		size_t pidx;
		const struct lance_page *p = lance__page_for_row(col, r,
								 &pidx);
		struct pstate *ps;
		struct fz_var fv;
		struct src s;
		uint64_t a, cnt, ow;
		uint8_t *ix;

		if (!p)
			return LC_CORRUPT(err, "column %d has no page for row "
					  "%" PRIu64, colno, r);
		snprintf(what, sizeof(what), "column %d page %zu", colno,
			 pidx);
		s.f = f;
		s.p = p;
		s.mem = NULL;
		s.what = what;
		rc = pstate_get(&ps, &s, (uint32_t)colno, pidx, err);
		if (rc)
			return rc;
		if (ps->kind != P_FULL || ps->li.max_rep || !ps->rix_w ||
		    ps->fz->details_case !=
		    LPB21__FULL_ZIP__DETAILS_BITS_PER_OFFSET ||
		    fz_var_parse(&fv, ps->fz->value_compression, NULL) ||
		    fv.fsst || fv.packed || ps->li.max_visible)
			return 0;	/* not this shortcut: decode */
		ow = ps->fz->bits_per_offset / 8;
		a = r - p->first_row;
		cnt = p->length - a < end - r ? p->length - a : end - r;
		rc = src_read(&ix, &s, 1, a * ps->rix_w,
			      (cnt + 1) * ps->rix_w, err);
		if (rc)
			return rc;
		for (uint64_t j = 0; j < cnt && !rc; j++) {
			uint64_t lo = 0, hi = 0, o = r - row + j;

			for (unsigned b = 0; b < ps->rix_w; b++) {
				const uint8_t *q = ix + j * ps->rix_w + b;

				lo |= (uint64_t)q[0] << (8 * b);
				hi |= (uint64_t)q[ps->rix_w] << (8 * b);
			}
			if (hi < lo || hi - lo < ps->cw_bytes) {
				rc = LC_CORRUPT(err, "%s: repetition index "
						"entry %" PRIu64, what, a + j);
				break;
			}
			valid[o] = hi - lo > ps->cw_bytes;
			sizes[o] = 0;
			if (!valid[o])
				continue;
			if (hi - lo < ps->cw_bytes + ow) {
				rc = LC_CORRUPT(err, "%s: entry %" PRIu64
						" too short", what, a + j);
				break;
			}
			sizes[o] = hi - lo - ps->cw_bytes - ow;
			if (fv.general) {
				/* the framing's length header */
				uint64_t hl = fv.comp == LANCE_COMP_LZ4 ? 4 : 8;
				uint8_t *h;

				if (sizes[o] < hl) {
					rc = LC_CORRUPT(err, "%s: compressed "
							"value %" PRIu64, what,
							a + j);
					break;
				}
				rc = src_read(&h, &s, 0, lo + ps->cw_bytes + ow,
					      hl, err);
				if (rc)
					break;
				rc = lance__decompressed_size(&sizes[o],
							      fv.comp, h, hl,
							      err);
				lc_free(h);
			}
		}
		lc_free(ix);
		if (rc)
			return rc;
		r += cnt;
	}
	*done = true;
	return 0;
}

int lance__v21_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		     const struct lance_field *field, uint64_t row, uint64_t n,
		     struct lc_err *err)
{
	struct readplan rp;
	int rc;

	if (field->blob != LANCE_BLOB_NONE) {
		/* from the descriptors, never the payloads */
		struct colread *cr;

		rc = plan(&rp, f, field, row, n, err);
		if (rc)
			goto out;
		cr = &rp.cols[0];
		if (rp.n != 1 || cr->m != rp.k) {
			rc = LC_CORRUPT(err, "blob field without its column");
			goto out;
		}
		for (uint64_t i = 0; i < n; i++) {
			struct blobdesc d;

			valid[i] = bit_get(cr->L[rp.k].valid, i);
			sizes[i] = 0;
			if (!valid[i])
				continue;
			rc = blob_desc(&d, cr, i, err);
			if (rc)
				goto out;
			sizes[i] = d.size;
		}
out:
		plan_reset(&rp);
		return rc;
	}
	if (field->type.id == LANCE_T_UTF8 ||
	    field->type.id == LANCE_T_BINARY) {
		int col = lance__file_column(f, field->id);
		bool done = false;

		if (col >= 0 && !field->parent) {
			rc = fz_sizes(sizes, valid, f, col, row, n, &done, err);
			if (rc || done)
				return rc;
		}
	}
	return lance__sizes_by_decode(sizes, valid, f, field, row, n, err);
}

/* ---------------------------------------------------------- windows */

/* zstd-compressed values are windowed only when the window ends this
 * close to the value's start (a file's type sniffed from its first
 * bytes): further in, each window would decompress all before it, and a
 * full read that the view caches costs less. */
#define ZSTD_WINDOW_MAX (64u << 10)

struct zrd {
	struct src *s;
	uint64_t base;		/* the value's first byte in buffer 0 */
};

static int zrd_read(void *ctx, uint64_t off, size_t len, uint8_t *dst,
		    struct lc_err *err)
{
	struct zrd *z = ctx;

	return src_pread(z->s, 0, z->base + off, len, dst, err);
}

/*
 * Row a of a full-zip page of variable values without lists, stored as
 * they are (no FSST or packed records) or zstd-compressed per value: its
 * two repetition-index entries, the entry's control word and length,
 * then the window's bytes (for zstd, the frame's first bytes, near the
 * start only). The entry must be exactly what fz_parse accepts for one
 * row; anything else is for the full decoder, which says what is wrong.
 */
static int fz_window(struct lance_win *w, struct src *s,
		     const struct pstate *ps, uint64_t a, struct lc_err *err)
{
	const Lpb21__FullZip *fz = ps->fz;
	unsigned cw = ps->cw_bytes, ow, rw = ps->rix_w;
	uint64_t lo = 0, hi = 0, word = 0, r, d, l, head;
	uint8_t ix[16], hb[12];
	struct fz_var fv;
	size_t n;
	int rc;

	if (ps->kind != P_FULL || ps->li.max_rep || !rw ||
	    fz->details_case != LPB21__FULL_ZIP__DETAILS_BITS_PER_OFFSET ||
	    fz_var_parse(&fv, fz->value_compression, NULL) || fv.fsst ||
	    fv.packed || (fv.general && fv.comp != LANCE_COMP_ZSTD))
		return LANCE_WINDOW_DECODE;
	ow = fz->bits_per_offset / 8;
	rc = src_pread(s, 1, a * rw, 2 * rw, ix, err);
	if (rc)
		return rc;
	for (unsigned i = 0; i < rw; i++) {
		lo |= (uint64_t)ix[i] << (8 * i);
		hi |= (uint64_t)ix[rw + i] << (8 * i);
	}
	if (hi < lo || hi - lo < cw || hi - lo > MAX_BYTES ||
	    !lc_range_ok(lo, hi - lo, s->p->buf_size[0]))
		return LANCE_WINDOW_DECODE;
	head = hi - lo < cw + ow ? cw : cw + ow;
	rc = src_pread(s, 0, lo, head, hb, err);
	if (rc)
		return rc;
	for (unsigned i = 0; i < cw; i++)
		word |= (uint64_t)hb[i] << (8 * i);
	r = word >> fz->bits_def;
	d = word & (((uint64_t)1 << fz->bits_def) - 1);
	/* no lists: every def level is visible, 0 is a value, others null */
	if (r || d > ps->li.max_def)
		return LANCE_WINDOW_DECODE;
	if (d)
		return hi - lo == cw ? 0 : LANCE_WINDOW_DECODE;
	if (head != cw + ow)
		return LANCE_WINDOW_DECODE;
	l = ow == 4 ? lc_le32(hb + cw) : lc_le64(hb + cw);
	if (l != hi - lo - cw - ow)
		return LANCE_WINDOW_DECODE;
	if (fv.general) {
		struct zrd z = { s, lo + cw + ow };
		uint64_t total;

		rc = lance__zstd_window(w->dst, &n, &total, w->off, w->len,
					ZSTD_WINDOW_MAX, l, zrd_read, &z, err);
		if (!rc && total > MAX_BYTES)
			rc = LANCE_WINDOW_DECODE;	/* fz_parse's cap */
		if (rc)
			return rc;
		w->valid = true;
		w->size = total;
		w->got = n;
		return 0;
	}
	w->valid = true;
	w->size = l;
	n = lance__win_clip(w, l);
	rc = n ? src_pread(s, 0, lo + cw + ow + w->off, n, w->dst, err) : 0;
	if (!rc)
		w->got = n;
	return rc;
}

/* The window of a blob's payload (d->size bytes): in this file, or in
 * its sidecar. A payload the full read could not fetch whole decodes. */
static int blob_window(struct lance_win *w, struct lance_file *f,
		       const struct blobdesc *d, struct lc_err *err)
{
	struct ostore_obj *o;
	char *key;
	size_t n;
	int rc;

	if (d->size > MAX_BYTES)
		return LANCE_WINDOW_DECODE;
	w->valid = true;
	w->size = d->size;
	if (!d->size)
		return 0;	/* fill_blob fetches nothing either */
	n = lance__win_clip(w, d->size);
	if (d->kind == 0) {
		if (!lc_range_ok(d->pos, d->size, ostore_size(f->obj)))
			return LANCE_WINDOW_DECODE;
		rc = n ? lance__file_pread(f, d->pos + w->off, n, w->dst, err)
		       : 0;
		if (!rc)
			w->got = n;
		return rc;
	}
	if ((d->kind != 1 && d->kind != 2) ||
	    blob_sidecar_key(&key, f, d->id, NULL))
		return LANCE_WINDOW_DECODE;
	rc = ostore_open(&o, f->st, key, err);
	if (!rc) {
		if (!lc_range_ok(d->pos, d->size, ostore_size(o)))
			rc = LANCE_WINDOW_DECODE;
		else if (n)
			rc = ostore_read(o, d->pos + w->off, n, w->dst, err);
		ostore_close(o);
	}
	if (rc > 0)
		lc_err_prefix(err, "blob sidecar %s: ", key);
	else if (!rc)
		w->got = n;
	lc_free(key);
	return rc;
}

/* A blob field's row: its descriptor through the ordinary read path (a
 * few bytes), then the payload's window. */
static int blob_field_window(struct lance_win *w, struct lance_file *f,
			     const struct lance_field *field, uint64_t row,
			     struct lc_err *err)
{
	struct readplan rp;
	struct colread *cr;
	struct blobdesc d;
	int rc = plan(&rp, f, field, row, 1, err);

	if (rc)
		goto out;
	cr = &rp.cols[0];
	if (rp.n != 1 || cr->m != rp.k) {
		rc = LANCE_WINDOW_DECODE;
		goto out;
	}
	if (!bit_get(cr->L[rp.k].valid, 0))
		goto out;	/* a null */
	rc = blob_desc(&d, cr, 0, NULL) ? LANCE_WINDOW_DECODE
					: blob_window(w, f, &d, err);
out:
	plan_reset(&rp);
	return rc;
}

int lance__v21_window(struct lance_win *w, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      struct lc_err *err)
{
	int col = lance__file_column(f, field->id);
	const struct lance_page *p;
	struct pstate *ps;
	struct src s;
	char what[80];
	size_t pidx;
	int rc;

	if (field->blob != LANCE_BLOB_NONE)
		return blob_field_window(w, f, field, row, err);
	if (col < 0 || !(p = lance__page_for_row(&f->cols[col], row, &pidx)))
		return LANCE_WINDOW_DECODE;
	snprintf(what, sizeof(what), "column %d page %zu", col, pidx);
	s.f = f;
	s.p = p;
	s.mem = NULL;
	s.what = what;
	rc = pstate_get(&ps, &s, (uint32_t)col, pidx, err);
	if (rc)
		return rc;
	/* one item layer, as column_read wants for a top-level leaf */
	if (ps->li.n > 1 || (ps->li.n == 0 && ps->li.max_def) ||
	    (ps->li.n == 1 && layer_is_list(ps->li.kind[0])))
		return LANCE_WINDOW_DECODE;
	return fz_window(w, &s, ps, row - p->first_row, err);
}

int lance__v21_page_window(struct lance_win *w, const uint8_t *enc,
			   size_t enc_len, uint64_t rows,
			   const uint8_t *const *bufs, const uint64_t *sizes,
			   size_t n_bufs, uint64_t row, struct lc_err *err)
{
	struct lance_page pg;
	struct src s;
	struct pstate *ps;
	uint64_t offs[16];
	int rc;

	if (row >= rows)
		return LC_USAGE(err, "row %" PRIu64 " of a %" PRIu64 "-row "
				"page", row, rows);
	rc = mem_page(&ps, &s, &pg, offs, enc, enc_len, rows, bufs, sizes,
		      n_bufs, err);
	if (rc)
		return rc;
	rc = fz_window(w, &s, ps, row, err);
	pstate_free(ps);
	return rc;
}
