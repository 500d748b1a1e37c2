/*
 * deletion.c - a fragment's deletion vector (table-format.md section 4):
 * the physical offsets of its deleted rows, from either file type.
 *
 * .arrow: an Arrow IPC *file* holding one record batch of one non-null
 * UInt32 column named row_id, values in any order. Lance compresses the
 * body with ZSTD: each buffer is an i64 uncompressed length and a ZSTD
 * frame, or -1 and the raw bytes. Debian has no flatbuffers C library, so
 * a small bounds-checked flatbuffer reader below walks only the tables we
 * need: Footer, Block, Message, RecordBatch, FieldNode, Buffer,
 * BodyCompression, and Schema/Field/Int to check the column.
 *
 * .bin: a portable-format roaring bitmap (both cookies), read by CRoaring
 * and then checked container by container before anything trusts its
 * cardinalities.
 */
#include "lance_int.h"

#include <stdlib.h>
#include <zstd.h>

#include <roaring/roaring.h>

/* Deleted rows we accept per fragment (a row address has 32 bits). */
#define MAX_DELETED (1u << 26)
#define ARROW_MAGIC "ARROW1"

/* ------------------------------------------------------ flatbuffers */

/* A flatbuffer: every position is an offset into b[0..n). */
struct fb {
	const uint8_t *b;
	size_t n;
};

struct fb_table {
	const struct fb *fb;
	size_t pos;		/* table start */
	size_t vt;		/* vtable start */
	uint16_t vt_len;	/* vtable bytes */
	uint16_t tab_len;	/* table bytes */
};

static int fb_table_at(struct fb_table *t, const struct fb *fb, size_t pos,
		       const char *what, struct lc_err *err)
{
	int32_t so;
	int64_t vt;

	if (!lc_range_ok(pos, 4, fb->n))
		return LC_CORRUPT(err, "%s: table at %zu is outside the %zu-"
				  "byte flatbuffer", what, pos, fb->n);
	so = (int32_t)lc_le32(fb->b + pos);
	vt = (int64_t)pos - so;
	if (vt < 0 || !lc_range_ok((uint64_t)vt, 4, fb->n))
		return LC_CORRUPT(err, "%s: vtable of the table at %zu is "
				  "outside the flatbuffer", what, pos);
	t->fb = fb;
	t->pos = pos;
	t->vt = (size_t)vt;
	t->vt_len = lc_le16(fb->b + t->vt);
	t->tab_len = lc_le16(fb->b + t->vt + 2);
	if (t->vt_len < 4 || (t->vt_len & 1) ||
	    !lc_range_ok(t->vt, t->vt_len, fb->n) || t->tab_len < 4 ||
	    !lc_range_ok(pos, t->tab_len, fb->n))
		return LC_CORRUPT(err, "%s: malformed vtable at %zu", what,
				  t->vt);
	return 0;
}

/* Position of field `idx` holding `size` bytes, or 0 when absent. A
 * field that runs past its table is corrupt (-1). */
static int64_t fb_field(const struct fb_table *t, unsigned idx, size_t size)
{
	size_t e = 4 + 2 * (size_t)idx;
	uint16_t off;

	if (e + 2 > t->vt_len)
		return 0;
	off = lc_le16(t->fb->b + t->vt + e);
	if (!off)
		return 0;
	if (!lc_range_ok(off, size, t->tab_len))
		return -1;
	return (int64_t)(t->pos + off);
}

static int fb_u8(uint8_t *out, const struct fb_table *t, unsigned idx,
		 uint8_t def, const char *what, struct lc_err *err)
{
	int64_t p = fb_field(t, idx, 1);

	*out = def;
	if (p < 0)
		return LC_CORRUPT(err, "%s: field %u outside its table", what,
				  idx);
	*out = p ? t->fb->b[p] : def;
	return 0;
}

static int fb_i16(int16_t *out, const struct fb_table *t, unsigned idx,
		  int16_t def, const char *what, struct lc_err *err)
{
	int64_t p = fb_field(t, idx, 2);

	*out = def;
	if (p < 0)
		return LC_CORRUPT(err, "%s: field %u outside its table", what,
				  idx);
	*out = p ? (int16_t)lc_le16(t->fb->b + p) : def;
	return 0;
}

static int fb_i32(int32_t *out, const struct fb_table *t, unsigned idx,
		  int32_t def, const char *what, struct lc_err *err)
{
	int64_t p = fb_field(t, idx, 4);

	*out = def;
	if (p < 0)
		return LC_CORRUPT(err, "%s: field %u outside its table", what,
				  idx);
	*out = p ? (int32_t)lc_le32(t->fb->b + p) : def;
	return 0;
}

static int fb_i64(int64_t *out, const struct fb_table *t, unsigned idx,
		  int64_t def, const char *what, struct lc_err *err)
{
	int64_t p = fb_field(t, idx, 8);

	*out = def;
	if (p < 0)
		return LC_CORRUPT(err, "%s: field %u outside its table", what,
				  idx);
	*out = p ? (int64_t)lc_le64(t->fb->b + p) : def;
	return 0;
}

/* Follow the uoffset in field `idx`; *out = 0 when the field is absent. */
static int fb_ref(size_t *out, const struct fb_table *t, unsigned idx,
		  const char *what, struct lc_err *err)
{
	int64_t p = fb_field(t, idx, 4);
	uint32_t off;

	*out = 0;
	if (p < 0)
		return LC_CORRUPT(err, "%s: field %u outside its table", what,
				  idx);
	if (!p)
		return 0;
	off = lc_le32(t->fb->b + p);
	if (!off || !lc_range_ok((uint64_t)p + off, 4, t->fb->n))
		return LC_CORRUPT(err, "%s: field %u points outside the "
				  "flatbuffer", what, idx);
	*out = (size_t)p + off;
	return 0;
}

static int fb_subtable(struct fb_table *sub, bool *present,
		       const struct fb_table *t, unsigned idx,
		       const char *what, struct lc_err *err)
{
	size_t pos;
	int rc = fb_ref(&pos, t, idx, what, err);

	*present = false;
	if (rc || !pos)
		return rc;
	*present = true;
	return fb_table_at(sub, t->fb, pos, what, err);
}

/* A vector of `elem`-byte items: position of item 0 and the count. */
static int fb_vector(size_t *pos, uint32_t *count, const struct fb_table *t,
		     unsigned idx, size_t elem, const char *what,
		     struct lc_err *err)
{
	size_t v;
	int rc = fb_ref(&v, t, idx, what, err);

	*pos = 0;
	*count = 0;
	if (rc || !v)
		return rc;
	*count = lc_le32(t->fb->b + v);
	if (*count > (t->fb->n - v - 4) / elem)
		return LC_CORRUPT(err, "%s: vector of %u items overruns the "
				  "flatbuffer", what, *count);
	*pos = v + 4;
	return 0;
}

static int fb_root(struct fb_table *t, const struct fb *fb, const char *what,
		   struct lc_err *err)
{
	if (fb->n < 8)
		return LC_CORRUPT(err, "%s: %zu-byte flatbuffer", what, fb->n);
	return fb_table_at(t, fb, lc_le32(fb->b), what, err);
}

/* ------------------------------------------------------ Arrow IPC file */

/* Schema must be exactly one non-dictionary field: row_id, UInt32. */
static int check_schema(const struct fb_table *footer, struct lc_err *err)
{
	const char *w = "deletion file schema";
	struct fb_table schema, field, itype;
	bool present;
	size_t fpos, name;
	uint32_t nf, nlen;
	uint8_t type_type, sign;
	int32_t bits;
	int rc;

	rc = fb_subtable(&schema, &present, footer, 1, w, err);
	if (rc)
		return rc;
	if (!present)
		return LC_CORRUPT(err, "%s: missing", w);
	rc = fb_vector(&fpos, &nf, &schema, 1, 4, w, err);
	if (rc)
		return rc;
	if (nf != 1)
		return LC_CORRUPT(err, "%s: %u columns, expected 1 (row_id)",
				  w, nf);
	rc = fb_table_at(&field, footer->fb, fpos + lc_le32(footer->fb->b +
							     fpos), w, err);
	if (rc)
		return rc;
	rc = fb_ref(&name, &field, 0, w, err);
	if (rc)
		return rc;
	nlen = name ? lc_le32(footer->fb->b + name) : 0;
	if (!name || nlen != 6 || !lc_range_ok(name + 4, 6, footer->fb->n) ||
	    memcmp(footer->fb->b + name + 4, "row_id", 6))
		return LC_CORRUPT(err, "%s: the column is not named row_id",
				  w);
	rc = fb_u8(&type_type, &field, 2, 0, w, err);
	if (rc)
		return rc;
	if (type_type != 2)	/* Type.Int */
		return LC_CORRUPT(err, "%s: row_id has Arrow type %u, expected"
				  " Int (2)", w, type_type);
	rc = fb_subtable(&itype, &present, &field, 3, w, err);
	if (rc)
		return rc;
	if (!present)
		return LC_CORRUPT(err, "%s: row_id has no Int details", w);
	rc = fb_i32(&bits, &itype, 0, 0, w, err);
	if (!rc)
		rc = fb_u8(&sign, &itype, 1, 0, w, err);
	if (rc)
		return rc;
	if (bits != 32 || sign)
		return LC_CORRUPT(err, "%s: row_id is a %s %d-bit integer, "
				  "expected UInt32", w,
				  sign ? "signed" : "unsigned", bits);
	return 0;
}

/* One body buffer, decompressed when the batch says so; *own is set when
 * the bytes were allocated. */
static int body_buffer(const uint8_t **out, uint8_t **own, size_t *out_len,
		       const uint8_t *body, uint64_t body_len, int64_t off,
		       int64_t len, bool zstd, uint64_t want,
		       struct lc_err *err)
{
	int64_t ulen;
	size_t got;

	*out = NULL;
	*own = NULL;
	*out_len = 0;
	if (off < 0 || len < 0 ||
	    !lc_range_ok((uint64_t)off, (uint64_t)len, body_len))
		return LC_CORRUPT(err, "deletion file: buffer %" PRId64 "+%"
				  PRId64 " is outside the %" PRIu64 "-byte "
				  "body", off, len, body_len);
	body += off;
	if (!zstd || len == 0) {
		*out = body;
		*out_len = (size_t)len;
		return 0;
	}
	if (len < 8)
		return LC_CORRUPT(err, "deletion file: compressed buffer of %"
				  PRId64 " bytes has no length prefix", len);
	ulen = (int64_t)lc_le64(body);
	if (ulen == -1) {
		*out = body + 8;
		*out_len = (size_t)len - 8;
		return 0;
	}
	if (ulen < 0 || (uint64_t)ulen < want || (uint64_t)ulen - want > 64)
		return LC_CORRUPT(err, "deletion file: buffer claims %" PRId64
				  " uncompressed bytes, expected %" PRIu64,
				  ulen, want);
	{
		unsigned long long fcs =
			ZSTD_getFrameContentSize(body + 8, (size_t)len - 8);

		if (fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
		    fcs != (unsigned long long)ulen)
			return LC_CORRUPT(err, "deletion file: zstd frame "
					  "holds %llu bytes, the prefix says %"
					  PRId64, fcs, ulen);
	}
	*own = lc_malloc((size_t)ulen);
	if (!*own)
		return LC_NOMEM(err);
	got = ZSTD_decompress(*own, (size_t)ulen, body + 8, (size_t)len - 8);
	if (ZSTD_isError(got) || got != (size_t)ulen) {
		lc_free(*own);
		*own = NULL;
		return LC_CORRUPT(err, "deletion file: zstd: %s",
				  ZSTD_isError(got) ? ZSTD_getErrorName(got) :
				  "short frame");
	}
	*out = *own;
	*out_len = (size_t)ulen;
	return 0;
}

/* Append the values of the record batch in block `bpos` to d. */
static int read_batch(struct lance_deletion *d, size_t *cap,
		      const uint8_t *buf, size_t len, const uint8_t *block,
		      struct lc_err *err)
{
	const char *w = "deletion file record batch";
	int64_t off = (int64_t)lc_le64(block);
	int32_t mlen = (int32_t)lc_le32(block + 8);
	int64_t blen = (int64_t)lc_le64(block + 16);
	struct fb_table msg, rb, comp;
	struct fb mfb;
	size_t mstart, npos, bpos;
	uint32_t nn, nb;
	uint8_t htype;
	bool present, zstd = false;
	int64_t rows, vlen, voff, nulls;
	const uint8_t *vals;
	uint8_t *own = NULL;
	size_t vbytes;
	int rc;

	if (off < 8 || mlen < 8 || blen < 0 ||
	    !lc_range_ok((uint64_t)off, (uint64_t)mlen, len) ||
	    !lc_range_ok((uint64_t)off + (uint64_t)mlen, (uint64_t)blen, len))
		return LC_CORRUPT(err, "%s: block %" PRId64 "+%d+%" PRId64
				  " is outside the %zu-byte file", w, off,
				  mlen, blen, len);
	/* 0xFFFFFFFF continuation, then the flatbuffer length; or the
	 * pre-1.0 form with the length alone. */
	mstart = (size_t)off + 4;
	if (lc_le32(buf + off) == 0xFFFFFFFFu)
		mstart += 4;
	mfb.b = buf + mstart;
	mfb.n = (size_t)off + (size_t)mlen - mstart;
	rc = fb_root(&msg, &mfb, w, err);
	if (!rc)
		rc = fb_u8(&htype, &msg, 1, 0, w, err);
	if (rc)
		return rc;
	if (htype != 3)		/* MessageHeader.RecordBatch */
		return LC_CORRUPT(err, "%s: message type %u, expected a "
				  "record batch (3)", w, htype);
	rc = fb_subtable(&rb, &present, &msg, 2, w, err);
	if (!rc && !present)
		rc = LC_CORRUPT(err, "%s: no header", w);
	if (!rc)
		rc = fb_i64(&rows, &rb, 0, 0, w, err);
	if (!rc)
		rc = fb_vector(&npos, &nn, &rb, 1, 16, w, err);
	if (!rc)
		rc = fb_vector(&bpos, &nb, &rb, 2, 16, w, err);
	if (!rc)
		rc = fb_subtable(&comp, &present, &rb, 3, w, err);
	if (rc)
		return rc;
	if (present) {
		uint8_t codec, method;

		rc = fb_u8(&codec, &comp, 0, 0, w, err);
		if (!rc)
			rc = fb_u8(&method, &comp, 1, 0, w, err);
		if (rc)
			return rc;
		if (codec != 1 || method != 0)
			return LC_UNSUPPORTED(err, "%s: body compression codec"
					      " %u method %u (only ZSTD "
					      "per-buffer is supported)", w,
					      codec, method);
		zstd = true;
	}
	if (nn != 1 || nb != 2)
		return LC_CORRUPT(err, "%s: %u field nodes and %u buffers, "
				  "expected 1 and 2", w, nn, nb);
	nulls = (int64_t)lc_le64(mfb.b + npos + 8);
	if (rows < 0 || (int64_t)lc_le64(mfb.b + npos) != rows)
		return LC_CORRUPT(err, "%s: %" PRId64 " rows but the column "
				  "has %" PRId64, w, rows,
				  (int64_t)lc_le64(mfb.b + npos));
	if (nulls)
		return LC_CORRUPT(err, "%s: row_id has %" PRId64 " nulls", w,
				  nulls);
	if ((uint64_t)rows > MAX_DELETED - d->n)
		return LC_LIMIT(err, "%s: more than %u deleted rows", w,
				MAX_DELETED);
	voff = (int64_t)lc_le64(mfb.b + bpos + 16);
	vlen = (int64_t)lc_le64(mfb.b + bpos + 24);
	rc = body_buffer(&vals, &own, &vbytes, buf + off + mlen,
			 (uint64_t)blen, voff, vlen, zstd,
			 (uint64_t)rows * 4, err);
	if (rc)
		return rc;
	if (vbytes / 4 < (uint64_t)rows) {
		lc_free(own);
		return LC_CORRUPT(err, "%s: %zu value bytes for %" PRId64
				  " rows", w, vbytes, rows);
	}
	if (d->n + (size_t)rows > *cap) {
		size_t ncap = d->n + (size_t)rows;
		uint32_t *p = lc_realloc(d->offsets, ncap * sizeof(*p));

		if (!p) {
			lc_free(own);
			return LC_NOMEM(err);
		}
		d->offsets = p;
		*cap = ncap;
	}
	for (int64_t i = 0; i < rows; i++)
		d->offsets[d->n++] = lc_le32(vals + 4 * i);
	lc_free(own);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void sort_unique(struct lance_deletion *d)
{
	size_t w = 0;

	if (d->n < 2)
		return;
	qsort(d->offsets, d->n, sizeof(*d->offsets), cmp_u32);
	for (size_t i = 0; i < d->n; i++)
		if (!w || d->offsets[i] != d->offsets[w - 1])
			d->offsets[w++] = d->offsets[i];
	d->n = w;
}

int lance_deletion_parse_arrow(struct lance_deletion *out, const uint8_t *buf,
			       size_t len, struct lc_err *err)
{
	struct lance_deletion d = { NULL, 0 };
	struct fb_table footer;
	struct fb ffb;
	size_t bpos, cap = 0;
	uint32_t nbatches;
	int32_t flen;
	int16_t version;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len < 6 + 2 + 4 + 6 || memcmp(buf, ARROW_MAGIC, 6) ||
	    memcmp(buf + len - 6, ARROW_MAGIC, 6))
		return LC_CORRUPT(err, "deletion file: not an Arrow IPC file "
				  "(no ARROW1 magic at both ends)");
	flen = (int32_t)lc_le32(buf + len - 10);
	if (flen <= 0 || (size_t)flen > len - 18)
		return LC_CORRUPT(err, "deletion file: footer length %d does "
				  "not fit the %zu-byte file", flen, len);
	ffb.b = buf + len - 10 - flen;
	ffb.n = (size_t)flen;
	rc = fb_root(&footer, &ffb, "deletion file footer", err);
	if (!rc)
		rc = fb_i16(&version, &footer, 0, 0, "deletion file footer",
			    err);
	if (!rc && version < 3)	/* MetadataVersion V4 */
		rc = LC_UNSUPPORTED(err, "deletion file: Arrow metadata "
				    "version %d is older than V4", version);
	if (!rc)
		rc = check_schema(&footer, err);
	if (!rc)
		rc = fb_vector(&bpos, &nbatches, &footer, 3, 24,
			       "deletion file footer", err);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < nbatches; i++) {
		rc = read_batch(&d, &cap, buf, len, ffb.b + bpos + 24 * i,
				err);
		if (rc) {
			lance_deletion_reset(&d);
			return rc;
		}
	}
	sort_unique(&d);
	*out = d;
	return 0;
}

/* ------------------------------------------------------ roaring */

/* CRoaring 0.2.66 checks that a portable bitmap fits its buffer but not
 * what the containers say; check every one before trusting cardinality.
 * Returns the number of values, or -1. */
static int64_t roaring_checked_count(const roaring_bitmap_t *r)
{
	const roaring_array_t *ra = &r->high_low_container;
	int64_t total = 0;

	for (int32_t i = 0; i < ra->size; i++) {
		const void *c = ra->containers[i];

		if (i && ra->keys[i] <= ra->keys[i - 1])
			return -1;
		switch (ra->typecodes[i]) {
		case ARRAY_CONTAINER_TYPE_CODE: {
			const array_container_t *a = c;

			if (a->cardinality < 0 || a->cardinality > 4096)
				return -1;
			for (int32_t j = 1; j < a->cardinality; j++)
				if (a->array[j] <= a->array[j - 1])
					return -1;
			total += a->cardinality;
			break;
		}
		case BITSET_CONTAINER_TYPE_CODE: {
			const bitset_container_t *b = c;
			int64_t pop = 0;

			for (int j = 0; j < 1024; j++)
				pop += __builtin_popcountll(b->array[j]);
			if (pop != b->cardinality)
				return -1;
			total += pop;
			break;
		}
		case RUN_CONTAINER_TYPE_CODE: {
			const run_container_t *rc = c;
			int64_t next = 0;

			if (rc->n_runs < 0)
				return -1;
			for (int32_t j = 0; j < rc->n_runs; j++) {
				int64_t v = rc->runs[j].value;
				int64_t l = rc->runs[j].length;

				if (v < next || v + l > 0xffff)
					return -1;
				next = v + l + 1;
				total += l + 1;
			}
			break;
		}
		default:
			return -1;
		}
	}
	return total;
}

int lance_deletion_parse_bitmap(struct lance_deletion *out,
				const uint8_t *buf, size_t len,
				struct lc_err *err)
{
	roaring_bitmap_t *r;
	size_t used;
	int64_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	used = roaring_bitmap_portable_deserialize_size((const char *)buf,
							len);
	if (!used)
		return LC_CORRUPT(err, "deletion bitmap: not a portable "
				  "roaring bitmap (%zu bytes)", len);
	if (used != len)
		return LC_CORRUPT(err, "deletion bitmap: %zu trailing bytes "
				  "after the bitmap", len - used);
	r = roaring_bitmap_portable_deserialize_safe((const char *)buf, len);
	if (!r)
		return LC_CORRUPT(err, "deletion bitmap: does not deserialize");
	n = roaring_checked_count(r);
	if (n < 0) {
		rc = LC_CORRUPT(err, "deletion bitmap: containers are "
				"unsorted, overlapping or miscounted");
		goto out;
	}
	if (n > MAX_DELETED) {
		rc = LC_LIMIT(err, "deletion bitmap: %" PRId64 " deleted rows,"
			      " more than %u", n, MAX_DELETED);
		goto out;
	}
	out->offsets = lc_calloc((size_t)n, sizeof(uint32_t));
	if (!out->offsets) {
		rc = LC_NOMEM(err);
		goto out;
	}
	roaring_bitmap_to_uint32_array(r, out->offsets);
	out->n = (size_t)n;
out:
	roaring_bitmap_free(r);
	return rc;
}

void lance_deletion_reset(struct lance_deletion *d)
{
	if (!d)
		return;
	lc_free(d->offsets);
	d->offsets = NULL;
	d->n = 0;
}

bool lance_deletion_contains(const struct lance_deletion *d, uint64_t off)
{
	size_t lo = 0, hi = d->n;

	if (off > UINT32_MAX)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->offsets[mid] < off)
			lo = mid + 1;
		else if (d->offsets[mid] > off)
			hi = mid;
		else
			return true;
	}
	return false;
}
