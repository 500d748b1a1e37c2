/*
 * writer.c - writing one Lance data file (2.0, 2.1 or 2.2).
 *
 * The file is built in memory, in file order: page buffers (each padded
 * to 64 bytes), global buffer 0 (the FileDescriptor), one ColumnMetadata
 * per column, the column-metadata offset table, the global-buffer offset
 * table and the 40-byte footer (file-format.md 2.1).  A big add() (at
 * least PAGE_ROWS rows or PAGE_BYTES bytes) is encoded straight into that
 * image, so its values are copied once; smaller ones are gathered in
 * writer-owned arrays until PAGE_ROWS rows or PEND_BYTES bytes, then
 * encoded.  Pages hold at most PAGE_ROWS rows or about PAGE_BYTES bytes
 * per column.  (lance 12 reads 2.0 struct columns only as one page, so
 * those pages are written by finish().)
 *
 * Encodings (the sets file-format.md 8.1 lists as read by lance 12):
 *   2.0  Nullable(no/some/all nulls)(Flat) for fixed width and bools,
 *        Binary{no_nulls(Flat64 ends), Flat8, null_adjustment} for
 *        strings and binary, Nullable(FixedSizeList(no_nulls(Flat))),
 *        List{no_nulls(Flat64 ends), null_offset_adjustment} + an items
 *        column, SimpleStruct + child columns (no null structs),
 *        Dictionary{indices, Binary items} per page, blob v1 as
 *        PackedStruct descriptors under a blob column encoding.
 *   2.1+ one walk of each leaf's struct and list layers gives raw u16
 *        rep/def levels (struct validity folded in); mini-block flat /
 *        variable{flat32|64} for short values (with a per-page
 *        dictionary for dictionary columns, a repetition index for
 *        lists), full-zip (control words, a repetition index) for long
 *        strings, binary, vectors and wide values, all-null (2.1
 *        AllNull, 2.2 Constant) pages, blob v1 (2.1) as a blob layout
 *        around descriptors, blob v2 (2.2) as full-zip records of
 *        inline blobs. 2.2 sets has_large_chunk (u32 chunk words and
 *        value sizes).
 *
 * Protobufs are emitted by a small wire writer here (pbw_*): nested
 * messages are written in place and their length prefix inserted when
 * they close.
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>

#define PAGE_ROWS 8192u
#define PAGE_BYTES (1u << 20)
#define PEND_BYTES (8u << 20)	/* small batches, all columns together */
#define CHUNK_MAX_VALUES 4096u
#define CHUNK_TARGET (16u << 10)	/* aim; 2.1's hard limit is 32 KiB */
#define MAX_DEPTH 16
#define OUT_LIMIT ((size_t)1 << 40)

#define URL_ARRAY20 "/lance.encodings.ArrayEncoding"
#define URL_LAYOUT21 "/lance.encodings21.PageLayout"
#define URL_COLUMN "/lance.encodings.ColumnEncoding"

/* RepDefLayer (encodings_v2_1.proto) */
enum {
	L_ALL_VALID_ITEM = 1,
	L_ALL_VALID_LIST = 2,
	L_NULLABLE_ITEM = 3,
	L_NULLABLE_LIST = 4,
	L_EMPTYABLE_LIST = 5,
	L_NULL_AND_EMPTY_LIST = 6,
};

/* ------------------------------------------------------------ pb writer */

struct pbw {
	struct lc_buf b;
	int rc;		/* sticky first failure; later calls no-op */
	struct lc_err *err;
};

static void pbw_init(struct pbw *p, struct lc_err *err)
{
	lc_buf_init(&p->b, 0);
	p->rc = 0;
	p->err = err;
}

static size_t varint_to(uint8_t *t, uint64_t v)
{
	size_t n = 0;

	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static void pbw_raw(struct pbw *p, const void *d, size_t n)
{
	if (!p->rc)
		p->rc = lc_buf_append(&p->b, d, n, p->err);
}

static void pbw_varint(struct pbw *p, uint64_t v)
{
	uint8_t t[10];

	pbw_raw(p, t, varint_to(t, v));
}

static void pbw_u64(struct pbw *p, uint32_t field, uint64_t v)
{
	pbw_varint(p, (uint64_t)field << 3);
	pbw_varint(p, v);
}

static void pbw_bytes(struct pbw *p, uint32_t field, const void *d, size_t n)
{
	pbw_varint(p, (uint64_t)field << 3 | 2);
	pbw_varint(p, n);
	pbw_raw(p, d, n);
}

static void pbw_str(struct pbw *p, uint32_t field, const char *s)
{
	pbw_bytes(p, field, s, strlen(s));
}

static size_t pbw_begin(const struct pbw *p)
{
	return p->b.len;
}

/* Close the nested message started at `start` as field `field`. */
static void pbw_end(struct pbw *p, uint32_t field, size_t start)
{
	uint8_t hdr[20];
	size_t n, len;

	if (p->rc)
		return;
	len = p->b.len - start;
	n = varint_to(hdr, (uint64_t)field << 3 | 2);
	n += varint_to(hdr + n, len);
	p->rc = lc_buf_reserve(&p->b, n, p->err);
	if (p->rc)
		return;
	memmove(p->b.data + start + n, p->b.data + start, len);
	memcpy(p->b.data + start, hdr, n);
	p->b.len += n;
}

/* An empty nested message (a oneof case with no fields). */
static void pbw_empty(struct pbw *p, uint32_t field)
{
	pbw_bytes(p, field, "", 0);
}

static void pbw_packed(struct pbw *p, uint32_t field, const uint64_t *v,
		       size_t n)
{
	size_t s = pbw_begin(p);

	for (size_t i = 0; i < n; i++)
		pbw_varint(p, v[i]);
	pbw_end(p, field, s);
}

/* ------------------------------------------------------------ state */

struct wpage {
	uint64_t off[4], size[4];
	unsigned n_buf;
	uint64_t length, priority;
	uint8_t *any;		/* serialized Any of the page encoding */
	size_t any_len;
};

struct wcol {
	const struct lance_field *field;
	struct wpage *pages;
	size_t n_pages, cap;
	uint64_t rows;		/* so far (2.0 item columns: items; 2.0
				 * structs: counted here, paged by finish) */
	bool blob20;		/* a 2.0 blob column: ColumnEncoding blob */
};

struct lance_writer {
	const struct lance_schema *schema;
	const struct lance_field **top;
	size_t n_top;
	uint16_t major, minor;	/* as requested: 2.0, 2.1, 2.2 */
	bool v20, large;
	struct wcol *cols;
	size_t n_cols, cap_cols;
	struct lc_buf *out;	/* the file image so far: own or the caller's */
	struct lc_buf own;
	uint64_t rows;
	bool broken;		/* an add() failed half way, or finished */
	/* small batches gathered for the next pages (writer-owned arrays,
	 * one per top-level field) */
	struct lance_array *pend;
	uint64_t pend_rows, pend_bytes;
};

/* Per-page level context for 2.1+ leaves. */
struct levels {
	uint16_t *rep, *def;	/* NULL when absent */
	uint64_t n;		/* level entries */
	uint64_t *vis;		/* with lists: the level of each value */
	uint16_t max_rep;	/* list layers; a row starts at this rep */
	uint32_t layers[MAX_DEPTH + 2];
	size_t n_layers;
};

static bool bit_get(const uint8_t *b, uint64_t i)
{
	return (b[i >> 3] >> (i & 7)) & 1;
}

/* The bytes of one vector (fixed-size list) of type t: booleans are
 * bits. */
static uint64_t vec_bytes(const struct lance_type *t)
{
	unsigned w = lance_type_width(t->item);

	return w ? (uint64_t)t->width * w : ((uint64_t)t->width + 7) / 8;
}

/* Lists and maps (a list of key-value structs) share their layout. */
static bool is_list(const struct lance_type *t)
{
	return t->id == LANCE_T_LIST || t->id == LANCE_T_MAP;
}

static bool valid_at(const struct lance_array *a, uint64_t i)
{
	return lance_array_is_valid(a, i);
}

static uint64_t null_count(const struct lance_array *a, uint64_t s,
			   uint64_t e)
{
	uint64_t n = 0;

	if (!a->validity)
		return 0;
	for (uint64_t i = s; i < e; i++)
		n += !bit_get(a->validity, i);
	return n;
}

/* ------------------------------------------------------------ output */

static int out_pad(struct lance_writer *w, size_t align, struct lc_err *err)
{
	static const uint8_t zeros[64];
	size_t pad = (align - w->out->len % align) % align;

	return lc_buf_append(w->out, zeros, pad, err);
}

/* Append n bits of src starting at bit `from`, LSB first, to the output;
 * with src NULL, n set bits. */
static int out_bits(struct lance_writer *w, const uint8_t *src,
		    uint64_t from, uint64_t n, struct lc_err *err)
{
	size_t nb = (size_t)((n + 7) / 8);
	uint8_t *d;
	int rc;

	rc = lc_buf_reserve(w->out, nb, err);
	if (rc)
		return rc;
	d = w->out->data + w->out->len;
	memset(d, 0, nb);
	for (uint64_t i = 0; i < n; i++)
		if (!src || bit_get(src, from + i))
			d[i >> 3] |= (uint8_t)(1u << (i & 7));
	w->out->len += nb;
	return 0;
}

/* Close page buffer i, begun at off[i], after writing it returned rc:
 * its size, then padding to 64 bytes. */
static int buf_close(struct lance_writer *w, const uint64_t *off,
		     uint64_t *size, unsigned i, int rc, struct lc_err *err)
{
	size[i] = w->out->len - off[i];
	return rc ? rc : out_pad(w, 64, err);
}

static int out_le(struct lance_writer *w, uint64_t v, unsigned bytes,
		  struct lc_err *err)
{
	uint8_t t[8];

	lc_put_le64(t, v);
	return lc_buf_append(w->out, t, bytes, err);
}

/* ------------------------------------------------------------ columns */

static struct wcol *col_of(struct lance_writer *w,
			   const struct lance_field *f)
{
	for (size_t i = 0; i < w->n_cols; i++)
		if (w->cols[i].field == f)
			return &w->cols[i];
	return NULL;
}

/* Record a page of `col`: takes the encoding bytes in `enc` (freed). */
static int page_add(struct lance_writer *w, struct wcol *col,
		    uint64_t length, unsigned n_buf, const uint64_t *off,
		    const uint64_t *size, const char *url, struct pbw *enc,
		    struct lc_err *err)
{
	struct pbw any;
	struct wpage *p;
	int rc = enc->rc;

	if (rc)
		goto out;
	if (col->n_pages == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 8;

		p = lc_realloc(col->pages, cap * sizeof(*p));
		if (!p) {
			rc = LC_NOMEM(err);
			goto out;
		}
		col->pages = p;
		col->cap = cap;
	}
	pbw_init(&any, err);
	pbw_str(&any, 1, url);
	pbw_bytes(&any, 2, enc->b.data, enc->b.len);
	rc = any.rc;
	if (rc) {
		lc_buf_reset(&any.b);
		goto out;
	}
	p = &col->pages[col->n_pages++];
	memset(p, 0, sizeof(*p));
	p->n_buf = n_buf;
	for (unsigned i = 0; i < n_buf; i++) {
		p->off[i] = off[i];
		p->size[i] = size[i];
	}
	p->length = length;
	p->priority = w->v20 ? 0 : col->rows;
	col->rows += length;
	p->any = any.b.data;
	p->any_len = any.b.len;
out:
	lc_buf_reset(&enc->b);
	return rc;
}

/* Rows [s, e) of a page starting at s: at most PAGE_ROWS rows, and stop
 * once about PAGE_BYTES of data are in. */
static uint64_t page_end(const struct lance_field *f,
			 const struct lance_array *a, uint64_t s, uint64_t e)
{
	const struct lance_type *t = lance_array_type(f);
	uint64_t bytes = 0, i;

	for (i = s; i < e && i - s < PAGE_ROWS && bytes < PAGE_BYTES; i++) {
		switch (t->id) {
		case LANCE_T_UTF8:
		case LANCE_T_BINARY:
		case LANCE_T_LIST:
		case LANCE_T_MAP:
			bytes += a->offsets[i + 1] - a->offsets[i];
			if (is_list(t))
				bytes += (a->offsets[i + 1] -
					  a->offsets[i]) * 8;
			break;
		case LANCE_T_FIXED_LIST:
			bytes += vec_bytes(t);
			break;
		default:
			bytes += lance_type_width(t);
			break;
		}
	}
	return i;
}

/* ------------------------------------------------------------ 2.0 */

/* ArrayEncoding{flat{bits, buffer{index}}} as field `field`. */
static void ae_flat(struct pbw *p, uint32_t field, unsigned bits,
		    unsigned buf)
{
	size_t s = pbw_begin(p), f, b;

	f = pbw_begin(p);
	pbw_u64(p, 1, bits);
	b = pbw_begin(p);
	pbw_u64(p, 1, buf);
	pbw_end(p, 2, b);
	pbw_end(p, 1, f);
	pbw_end(p, field, s);
}

/* ArrayEncoding{nullable{no_nulls{values = flat}}} as field `field`. */
static void ae_nonull_flat(struct pbw *p, uint32_t field, unsigned bits,
			   unsigned buf)
{
	size_t s = pbw_begin(p), n, nn;

	n = pbw_begin(p);
	nn = pbw_begin(p);
	ae_flat(p, 1, bits, buf);
	pbw_end(p, 1, nn);
	pbw_end(p, 2, n);
	pbw_end(p, field, s);
}

static int v20_fixed(struct lance_writer *w, struct wcol *col,
		     const struct lance_field *f, const struct lance_array *a,
		     uint64_t s, uint64_t e, struct lc_err *err)
{
	const struct lance_type *t = &f->type;
	bool fsl = t->id == LANCE_T_FIXED_LIST;
	const struct lance_array *v = fsl ? &a->children[0] : a;
	unsigned iw = lance_type_width(fsl ? t->item : t);
	uint64_t d = fsl ? (uint64_t)t->width : 1, n = e - s;
	uint64_t nulls = null_count(a, s, e), off[3], size[3];
	bool inulls = fsl && null_count(v, s * d, e * d);
	unsigned nb = 0, ivb = 0, bits = iw ? iw * 8 : 1;
	struct pbw enc;
	size_t ns, nk, vs;
	int rc;

	pbw_init(&enc, err);
	ns = pbw_begin(&enc);
	if (nulls == n) {
		pbw_empty(&enc, 3);	/* Nullable.all_nulls */
		pbw_end(&enc, 2, ns);
		return page_add(w, col, n, 0, off, size, URL_ARRAY20, &enc,
				err);
	}
	if (nulls) {
		off[nb] = w->out->len;
		rc = out_bits(w, a->validity, s, n, err);
		rc = buf_close(w, off, size, nb, rc, err);
		if (rc)
			goto fail;
		nb++;
	}
	if (inulls) {	/* the vectors' items' */
		ivb = nb;
		off[nb] = w->out->len;
		rc = out_bits(w, v->validity, s * d, n * d, err);
		rc = buf_close(w, off, size, nb, rc, err);
		if (rc)
			goto fail;
		nb++;
	}
	off[nb] = w->out->len;
	if (!iw)	/* booleans, or vectors of them */
		rc = out_bits(w, v->values, s * d, n * d, err);
	else
		rc = lc_buf_append(w->out, v->values + s * d * iw,
				   (size_t)(n * d * iw), err);
	rc = buf_close(w, off, size, nb, rc, err);
	if (rc)
		goto fail;
	nk = pbw_begin(&enc);
	if (nulls)
		ae_flat(&enc, 1, 1, 0);	/* some_nulls.validity */
	vs = pbw_begin(&enc);
	if (fsl) {
		size_t fl = pbw_begin(&enc);

		pbw_u64(&enc, 1, (uint64_t)t->width);
		if (inulls) {	/* items: nullable{some_nulls{...}} */
			size_t is = pbw_begin(&enc), in = pbw_begin(&enc);
			size_t isn = pbw_begin(&enc);

			ae_flat(&enc, 1, 1, ivb);
			ae_flat(&enc, 2, bits, nb);
			pbw_end(&enc, 2, isn);
			pbw_end(&enc, 2, in);
			pbw_end(&enc, 2, is);
		} else {
			ae_nonull_flat(&enc, 2, bits, nb);
		}
		pbw_end(&enc, 3, fl);	/* ArrayEncoding.fixed_size_list */
	} else {
		size_t fl = pbw_begin(&enc), b;

		pbw_u64(&enc, 1, bits);
		b = pbw_begin(&enc);
		pbw_u64(&enc, 1, nb);
		pbw_end(&enc, 2, b);
		pbw_end(&enc, 1, fl);	/* ArrayEncoding.flat */
	}
	pbw_end(&enc, nulls ? 2 : 1, vs);	/* .values */
	pbw_end(&enc, nulls ? 2 : 1, nk);	/* some_nulls / no_nulls */
	pbw_end(&enc, 2, ns);		/* ArrayEncoding.nullable */
	return page_add(w, col, n, nb + 1, off, size, URL_ARRAY20, &enc, err);
fail:
	lc_buf_reset(&enc.b);
	return rc;
}

/* Binary: u64 end offsets (+ adj for nulls), then the valid bytes. */
static int v20_binary(struct lance_writer *w, struct wcol *col,
		      const struct lance_array *a, uint64_t s, uint64_t e,
		      struct lc_err *err)
{
	uint64_t n = e - s, total = 0, off[2], size[2], end = 0;
	struct pbw enc;
	size_t b;
	int rc;

	pbw_init(&enc, err);
	for (uint64_t i = s; i < e; i++)
		if (valid_at(a, i))
			total += a->offsets[i + 1] - a->offsets[i];
	if (null_count(a, s, e) == n) {
		b = pbw_begin(&enc);
		pbw_empty(&enc, 3);
		pbw_end(&enc, 2, b);
		return page_add(w, col, n, 0, off, size, URL_ARRAY20, &enc,
				err);
	}
	off[0] = w->out->len;
	for (uint64_t i = s; i < e; i++) {
		bool ok = valid_at(a, i);

		if (ok)
			end += a->offsets[i + 1] - a->offsets[i];
		rc = out_le(w, ok ? end : end + total + 1, 8, err);
		if (rc)
			goto fail;
	}
	rc = buf_close(w, off, size, 0, 0, err);
	if (rc)
		goto fail;
	off[1] = w->out->len;
	for (uint64_t i = s; i < e; i++) {
		if (!valid_at(a, i))
			continue;
		rc = lc_buf_append(w->out, a->values + a->offsets[i],
				   (size_t)(a->offsets[i + 1] - a->offsets[i]),
				   err);
		if (rc)
			goto fail;
	}
	rc = buf_close(w, off, size, 1, 0, err);
	if (rc)
		goto fail;
	b = pbw_begin(&enc);
	ae_nonull_flat(&enc, 1, 64, 0);
	ae_flat(&enc, 2, 8, 1);
	pbw_u64(&enc, 3, total + 1);
	pbw_end(&enc, 6, b);		/* ArrayEncoding.binary */
	return page_add(w, col, n, 2, off, size, URL_ARRAY20, &enc, err);
fail:
	lc_buf_reset(&enc.b);
	return rc;
}

/* ------------------------------------------------------------ dictionaries */

/*
 * The dictionary of a page of a dictionary column: the distinct values of
 * rows [first, first + n) of a (strings, binary, fixed-width values or
 * booleans), first seen first, and each row's index into them (w bytes,
 * little-endian; a null row's is `null_index`).
 */
/* dict_build's errno where the keys cannot index the page's values: the
 * page is made smaller (down to one row) and tried again. */
#define DICT_FULL E2BIG

struct dict {
	const struct lance_array *a;
	uint64_t n;		/* distinct values */
	uint64_t *at;		/* n: a row of a holding each */
	uint64_t bytes;		/* their bytes, together */
	uint8_t *idx;		/* one index per row */
	unsigned w;
	unsigned vw;		/* a value's width; 0: strings, binary */
	bool bits;		/* booleans: vw 1 here, one bit stored */
	bool large;		/* large strings or binary: u64 offsets */
};

/* f's path from its top-level column ("s.l.item"), for messages: in
 * buf, cut short where it does not fit. */
static const char *field_path(char *buf, size_t cap,
			      const struct lance_field *f)
{
	const struct lance_field *chain[64];
	size_t n = 0, len = 0;

	for (; f && n < 64; f = f->parent)
		chain[n++] = f;
	buf[0] = 0;
	while (n-- && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s",
					len ? "." : "", chain[n]->name);
	return buf;
}

static void dict_reset(struct dict *d)
{
	lc_free(d->at);
	lc_free(d->idx);
	memset(d, 0, sizeof(*d));
}

static void put_le(uint8_t *p, uint64_t v, unsigned w)
{
	for (unsigned i = 0; i < w; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Row k's value in d->a: its bytes, *len of them. */
static const uint8_t *dict_val(const struct dict *d, uint64_t k,
			       uint64_t *len)
{
	static const uint8_t no_yes[2] = { 0, 1 };
	const struct lance_array *a = d->a;

	if (d->bits) {
		*len = 1;
		return &no_yes[(a->values[k >> 3] >> (k & 7)) & 1];
	}
	if (d->vw) {
		*len = d->vw;
		return a->values + k * d->vw;
	}
	*len = a->offsets[k + 1] - a->offsets[k];
	return a->values + a->offsets[k];
}

uint64_t lance_dict_capacity(enum lance_type_id keys)
{
	switch (keys) {
	case LANCE_T_INT8:
		return 1ull << 7;
	case LANCE_T_UINT8:
		return 1ull << 8;
	case LANCE_T_INT16:
		return 1ull << 15;
	case LANCE_T_UINT16:
		return 1ull << 16;
	case LANCE_T_INT32:
		return 1ull << 31;
	case LANCE_T_UINT32:
		return 1ull << 32;
	case LANCE_T_INT64:
	case LANCE_T_UINT64:	/* read as signed, as before */
		return 1ull << 63;
	default:
		return 0;
	}
}

static int dict_build(struct dict *d, const struct lance_field *f,
		      const struct lance_array *a, uint64_t first, uint64_t n,
		      bool null_item, struct lc_err *err)
{
	const struct lance_type kt = { .id = f->type.dict_index };
	uint64_t cap = 16, *slot, max = lance_dict_capacity(kt.id) - 1;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	d->a = a;
	d->w = lance_type_width(&kt);
	d->bits = f->type.id == LANCE_T_BOOL;
	d->vw = d->bits ? 1 : lance_type_width(&f->type);
	d->large = f->type.large;
	if (!d->w || max == UINT64_MAX)
		return LC_UNSUPPORTED(err, "field %s: dictionary keys of type "
				      "%d", f->name, (int)kt.id);
	while (cap < 2 * n)
		cap *= 2;
	slot = lc_malloc((size_t)cap * sizeof(*slot));
	d->at = lc_malloc((size_t)n * sizeof(*d->at) + 8);
	d->idx = lc_calloc((size_t)n + 1, d->w);
	if (!slot || !d->at || !d->idx) {
		lc_free(slot);
		dict_reset(d);
		return LC_NOMEM(err);
	}
	for (uint64_t i = 0; i < cap; i++)
		slot[i] = UINT64_MAX;
	for (uint64_t r = 0; r < n; r++) {
		uint64_t k = first + r, len, h, x = 0;
		const uint8_t *p;

		if (!valid_at(a, k))
			continue;	/* indices filled below */
		p = dict_val(d, k, &len);
		for (h = lc_hash_bytes(p, len);; h++) {
			uint64_t j = slot[h & (cap - 1)], olen;
			const uint8_t *o;

			if (j == UINT64_MAX) {
				x = slot[h & (cap - 1)] = d->n;
				d->at[d->n++] = k;
				d->bytes += len;
				break;
			}
			o = dict_val(d, d->at[j], &olen);
			if (olen == len && !memcmp(o, p, (size_t)len)) {
				x = j;
				break;
			}
		}
		put_le(d->idx + r * d->w, x, d->w);
	}
	lc_free(slot);
	if (d->n + null_item > max + 1) {
		char path[256];

		rc = lc_err_set(err, DICT_FULL, LC_EK_LIMIT, __FILE__, __LINE__,
				"field %s: %" PRIu64 " distinct values in a "
				"page; its keys hold %" PRIu64,
				field_path(path, sizeof(path), f),
				d->n + null_item, max + 1);
		dict_reset(d);
		return rc;
	}
	for (uint64_t r = 0; r < n; r++)
		if (!valid_at(a, first + r))
			put_le(d->idx + r * d->w, null_item ? d->n : 0, d->w);
	return 0;
}

/* A page's dictionary items: its distinct values, or where it has none
 * (every value null) one empty item the placeholder indices point at. */
static uint64_t dict_items(const struct dict *d)
{
	return d->n ? d->n : 1;
}

/* The distinct values' bytes, one after the other. */
static int dict_values(struct lance_writer *w, const struct dict *d,
		       struct lc_err *err)
{
	uint64_t len;
	int rc = 0;

	for (uint64_t j = 0; j < d->n && !rc; j++) {
		const uint8_t *p = dict_val(d, d->at[j], &len);

		rc = lc_buf_append(w->out, p, (size_t)len, err);
	}
	return rc;
}

/* A fixed-width dictionary's `items` items: its distinct values, then
 * zeros (the null item, or the one placeholder of a page without
 * values); booleans as a bitmap. */
static int dict_fixed_items(struct lance_writer *w, const struct dict *d,
			    uint64_t items, struct lc_err *err)
{
	int rc = 0;

	if (!d->bits) {
		rc = dict_values(w, d, err);
		for (uint64_t i = d->n * d->vw; i < items * d->vw && !rc; i++)
			rc = out_le(w, 0, 1, err);
		return rc;
	}
	for (uint64_t i = 0; i < (items + 7) / 8 && !rc; i++) {
		unsigned byte = 0;
		uint64_t len;

		for (uint64_t j = 8 * i; j < 8 * i + 8 && j < d->n; j++)
			byte |= (unsigned)*dict_val(d, d->at[j], &len)
				<< (j & 7);
		rc = out_le(w, byte, 1, err);
	}
	return rc;
}

/* The distinct values as a block: fixed-width ones Flat
 * (dict_fixed_items); else Variable{offsets = flat{32}}: u32 32, u32
 * where the bytes start, n + 1 u32 offsets into them, the bytes; for
 * large types the same in u64 (flat{64}). */
static int dict_block(struct lance_writer *w, const struct dict *d,
		      struct lc_err *err)
{
	const struct lance_array *a = d->a;
	unsigned ow = d->large ? 8 : 4;
	uint64_t o = 0;
	int rc = 0;

	if (d->vw)
		return dict_fixed_items(w, d, dict_items(d), err);
	if (!d->large && d->bytes > UINT32_MAX)
		return LC_LIMIT(err, "a dictionary of %" PRIu64 " bytes",
				d->bytes);
	rc = out_le(w, 8 * ow, ow, err);
	if (!rc)
		rc = out_le(w, 2 * ow + ow * (dict_items(d) + 1), ow, err);
	if (!rc)
		rc = out_le(w, 0, ow, err);
	if (!rc && !d->n)	/* the one empty item */
		rc = out_le(w, 0, ow, err);
	for (uint64_t j = 0; j < d->n && !rc; j++) {
		o += a->offsets[d->at[j] + 1] - a->offsets[d->at[j]];
		rc = out_le(w, o, ow, err);
	}
	return rc ? rc : dict_values(w, d, err);
}

/* 2.0 dictionary items of fixed width: Nullable{no_nulls{values}} or,
 * with the null item last, Nullable{some_nulls{validity, values}}, the
 * values Flat; in buffers 1 and 2 (as Lance writes them). */
static int v20_dict_fixed(struct lance_writer *w, const struct dict *d,
			  bool null_item, struct pbw *enc, uint64_t *off,
			  uint64_t *size, struct lc_err *err)
{
	uint64_t items = d->n + null_item;
	size_t it, ns, nk;
	unsigned nb = 1;
	int rc = 0;

	if (null_item) {	/* every item valid but the last */
		off[nb] = w->out->len;
		for (uint64_t i = 0; i < (items + 7) / 8 && !rc; i++) {
			uint64_t left = items - 1 - 8 * i;

			rc = out_le(w, left >= 8 ? 0xff : (1u << left) - 1, 1,
				    err);
		}
		rc = buf_close(w, off, size, nb++, rc, err);
	}
	off[nb] = w->out->len;
	if (!rc)	/* the null item's value zeros */
		rc = dict_fixed_items(w, d, items, err);
	rc = buf_close(w, off, size, nb, rc, err);
	if (rc)
		return rc;
	it = pbw_begin(enc);
	ns = pbw_begin(enc);
	nk = pbw_begin(enc);
	if (null_item)
		ae_flat(enc, 1, 1, 1);		/* some_nulls.validity */
	ae_flat(enc, null_item ? 2 : 1, d->bits ? 1 : 8 * d->vw, nb);
							/* .values */
	pbw_end(enc, null_item ? 2 : 1, nk);	/* some_nulls / no_nulls */
	pbw_end(enc, 2, ns);			/* ArrayEncoding.nullable */
	pbw_end(enc, 2, it);			/* .items */
	return 0;
}

/* 2.0 dictionary items of strings or binary: Binary{u64 offsets, bytes},
 * the null item's offset past the adjustment; in buffers 1 and 2. */
static int v20_dict_binary(struct lance_writer *w, const struct dict *d,
			   bool null_item, struct pbw *enc, uint64_t *off,
			   uint64_t *size, struct lc_err *err)
{
	const struct lance_array *a = d->a;
	uint64_t end = 0;
	size_t it, b;
	int rc = 0;

	off[1] = w->out->len;
	for (uint64_t j = 0; j < d->n && !rc; j++) {
		end += a->offsets[d->at[j] + 1] - a->offsets[d->at[j]];
		rc = out_le(w, end, 8, err);
	}
	if (!rc && null_item)
		rc = out_le(w, end + d->bytes + 1, 8, err);
	rc = buf_close(w, off, size, 1, rc, err);
	off[2] = w->out->len;
	if (!rc)
		rc = dict_values(w, d, err);
	rc = buf_close(w, off, size, 2, rc, err);
	if (rc)
		return rc;
	it = pbw_begin(enc);
	b = pbw_begin(enc);
	ae_nonull_flat(enc, 1, 64, 1);		/* item offsets */
	ae_flat(enc, 2, 8, 2);			/* item bytes */
	pbw_u64(enc, 3, d->bytes + 1);
	pbw_end(enc, 6, b);			/* Encoding.binary */
	pbw_end(enc, 2, it);			/* .items */
	return 0;
}

/* 2.0: Dictionary{indices, items, n}, the items Binary or fixed-width;
 * a null row indexes a null item after the values, as Lance writes it. */
static int v20_dict(struct lance_writer *w, struct wcol *col,
		    const struct lance_field *f, const struct lance_array *a,
		    uint64_t s, uint64_t e, struct lc_err *err)
{
	uint64_t n = e - s, nulls = null_count(a, s, e);
	uint64_t off[3], size[3];
	unsigned n_buf;
	struct dict d;
	struct pbw enc;
	size_t k;
	int rc;

	rc = dict_build(&d, f, a, s, n, nulls > 0, err);
	if (rc)
		return rc;
	off[0] = w->out->len;
	rc = lc_buf_append(w->out, d.idx, (size_t)(n * d.w), err);
	rc = buf_close(w, off, size, 0, rc, err);
	pbw_init(&enc, err);
	k = pbw_begin(&enc);
	ae_nonull_flat(&enc, 1, d.w * 8, 0);	/* indices */
	if (!rc)
		rc = d.vw ? v20_dict_fixed(w, &d, nulls > 0, &enc, off, size,
					   err)
			  : v20_dict_binary(w, &d, nulls > 0, &enc, off, size,
					    err);
	n_buf = d.vw && !nulls ? 2 : 3;
	if (!rc) {
		pbw_u64(&enc, 3, d.n + (nulls > 0));
		pbw_end(&enc, 7, k);		/* .dictionary */
	}
	dict_reset(&d);
	if (rc) {
		lc_buf_reset(&enc.b);
		return rc;
	}
	return page_add(w, col, n, n_buf, off, size, URL_ARRAY20, &enc, err);
}

/* ------------------------------------------------------------ blobs */

/*
 * The bytes of blob rows [s, e) of a, each at a 64-byte boundary of the
 * file, and their descriptors, u64 position and size, in d (16 bytes a
 * row): an empty value is (0, 0). A null is (1, 0) where `def` is NULL
 * (2.0: nulls are a's), else a row of def level k > 0 is (k << 16, 0)
 * (2.1+: the level of the null struct or blob).
 */
static int blob_payloads(struct lance_writer *w, const struct lance_array *a,
			 uint64_t s, uint64_t e, const uint16_t *def,
			 uint8_t *d, struct lc_err *err)
{
	for (uint64_t i = s; i < e; i++) {
		uint64_t len = a->offsets[i + 1] - a->offsets[i], pos = 0;
		uint8_t *x = d + 16 * (i - s);
		int rc = 0;

		if (def ? def[i - s] != 0 : !valid_at(a, i)) {
			pos = def ? (uint64_t)def[i - s] << 16 : 1;
			len = 0;
		} else if (len) {
			rc = out_pad(w, 64, err);
			pos = w->out->len;
			if (!rc)
				rc = lc_buf_append(w->out,
						   a->values + a->offsets[i],
						   (size_t)len, err);
		}
		if (rc)
			return rc;
		lc_put_le64(x, pos);
		lc_put_le64(x + 8, len);
	}
	return out_pad(w, 64, err);
}

/* 2.0 blob v1: the payloads, then a page of descriptors, PackedStruct
 * of two u64 (a null is (1, 0)). */
static int v20_blob(struct lance_writer *w, struct wcol *col,
		    const struct lance_array *a, uint64_t s, uint64_t e,
		    struct lc_err *err)
{
	uint64_t n = e - s, off[1], size[1];
	uint8_t *d = lc_malloc((size_t)n * 16 + 1);
	struct pbw enc;
	size_t k;
	int rc;

	if (!d)
		return LC_NOMEM(err);
	rc = blob_payloads(w, a, s, e, NULL, d, err);
	off[0] = w->out->len;
	if (!rc)
		rc = lc_buf_append(w->out, d, (size_t)n * 16, err);
	rc = buf_close(w, off, size, 0, rc, err);
	lc_free(d);
	if (rc)
		return rc;
	pbw_init(&enc, err);
	k = pbw_begin(&enc);
	ae_nonull_flat(&enc, 1, 64, 0);		/* position */
	ae_nonull_flat(&enc, 1, 64, 0);		/* size */
	pbw_empty(&enc, 2);			/* in page buffer 0 */
	pbw_end(&enc, 9, k);			/* .packed_struct */
	return page_add(w, col, n, 1, off, size, URL_ARRAY20, &enc, err);
}

static int v20_field(struct lance_writer *w, const struct lance_field *f,
		     const struct lance_array *a, uint64_t s, uint64_t e,
		     struct lc_err *err);

static int v20_list(struct lance_writer *w, struct wcol *col,
		    const struct lance_array *a, uint64_t s, uint64_t e,
		    struct lc_err *err)
{
	uint64_t n = e - s, items = a->offsets[e] - a->offsets[s];
	uint64_t off[1], size[1];
	struct pbw enc;
	size_t b;
	int rc = 0;

	pbw_init(&enc, err);
	off[0] = w->out->len;
	for (uint64_t i = s; i < e && !rc; i++) {
		uint64_t end = a->offsets[i + 1] - a->offsets[s];

		rc = out_le(w, valid_at(a, i) ? end : end + items + 1, 8, err);
	}
	rc = buf_close(w, off, size, 0, rc, err);
	if (rc)
		return rc;
	b = pbw_begin(&enc);
	ae_nonull_flat(&enc, 1, 64, 0);
	pbw_u64(&enc, 2, items + 1);
	pbw_u64(&enc, 3, items);
	pbw_end(&enc, 4, b);		/* ArrayEncoding.list */
	return page_add(w, col, n, 1, off, size, URL_ARRAY20, &enc, err);
}

static int v20_field(struct lance_writer *w, const struct lance_field *f,
		     const struct lance_array *a, uint64_t s, uint64_t e,
		     struct lc_err *err)
{
	struct wcol *col = col_of(w, f);
	int rc = 0;

	for (uint64_t p = s, q; p < e && !rc; p = q) {
		q = page_end(f, a, p, e);
		if (f->blob != LANCE_BLOB_NONE) {
			rc = v20_blob(w, col, a, p, q, err);
			continue;
		}
		if (f->type.dict) {
			while ((rc = v20_dict(w, col, f, a, p, q, err)) ==
			       DICT_FULL && q - p > 1) {
				lc_err_clear(err);
				q = p + (q - p) / 2;
			}
			continue;
		}
		switch (f->type.id) {
		case LANCE_T_STRUCT:
			/* lance 12 reads only one-page struct columns: the
			 * page is written by finish() */
			q = e;
			col->rows += e - s;
			break;
		case LANCE_T_LIST:
			rc = v20_list(w, col, a, p, q, err);
			if (!rc)
				rc = v20_field(w, f->children[0],
					       &a->children[0],
					       a->offsets[p], a->offsets[q],
					       err);
			break;
		case LANCE_T_UTF8:
		case LANCE_T_BINARY:
			rc = v20_binary(w, col, a, p, q, err);
			break;
		default:
			rc = v20_fixed(w, col, f, a, p, q, err);
			break;
		}
	}
	if (!rc && f->type.id == LANCE_T_STRUCT)
		for (size_t i = 0; i < f->n_children && !rc; i++)
			rc = v20_field(w, f->children[i], &a->children[i], s,
				       e, err);
	return rc;
}

/* ------------------------------------------------------------ 2.1+ */

/* CompressiveEncoding for the values of a leaf, as field `field`. */
static void enc21_values(struct pbw *p, uint32_t field,
			 const struct lance_type *t, bool item_validity)
{
	size_t s = pbw_begin(p), k, fl;

	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		k = pbw_begin(p);	/* Variable */
		fl = pbw_begin(p);	/* offsets: Enc{flat{32|64}} */
		{
			size_t f2 = pbw_begin(p);

			pbw_u64(p, 1, t->large ? 64 : 32);
			pbw_end(p, 1, f2);
		}
		pbw_end(p, 1, fl);
		pbw_end(p, 2, k);
		break;
	case LANCE_T_FIXED_LIST:
		k = pbw_begin(p);
		pbw_u64(p, 1, (uint64_t)t->width);
		fl = pbw_begin(p);
		{
			size_t f2 = pbw_begin(p);

			pbw_u64(p, 1, lance_type_width(t->item) ?
				      lance_type_width(t->item) * 8u : 1);
			pbw_end(p, 1, f2);
		}
		pbw_end(p, 2, fl);
		if (item_validity)
			pbw_u64(p, 3, 1);
		pbw_end(p, 11, k);
		break;
	default:
		k = pbw_begin(p);
		pbw_u64(p, 1, lance_type_width(t) ? lance_type_width(t) * 8u
						  : 1);
		pbw_end(p, 1, k);
		break;
	}
	pbw_end(p, field, s);
}

/* Enc{flat{16}} as field `field` (raw u16 levels). */
static void enc21_flat16(struct pbw *p, uint32_t field)
{
	size_t s = pbw_begin(p), k = pbw_begin(p);

	pbw_u64(p, 1, 16);
	pbw_end(p, 1, k);
	pbw_end(p, field, s);
}

static void enc21_layers(struct pbw *p, uint32_t field,
			 const struct levels *lv)
{
	uint64_t v[MAX_DEPTH + 2];

	for (size_t i = 0; i < lv->n_layers; i++)
		v[i] = lv->layers[i];
	pbw_packed(p, field, v, lv->n_layers);
}

/* Blob v1 descriptors, PackedStruct{[64, 64], flat{128}}, and blob v2
 * records, VariablePackedStruct{kind u8, position u64, size u64,
 * blob_id u32, blob_uri (u32 length, bytes)}, as field `field`. */
static void enc21_blob(struct pbw *p, uint32_t field,
		       enum lance_blob_kind kind)
{
	static const unsigned bits[] = { 8, 64, 64, 32 };
	size_t s = pbw_begin(p), k, f, e;

	if (kind == LANCE_BLOB_V1) {
		static const uint64_t pv[] = { 64, 64 };

		k = pbw_begin(p);
		pbw_packed(p, 1, pv, 2);
		e = pbw_begin(p);
		f = pbw_begin(p);
		pbw_u64(p, 1, 128);
		pbw_end(p, 1, f);
		pbw_end(p, 2, e);
		pbw_end(p, 12, k);
		pbw_end(p, field, s);
		return;
	}
	k = pbw_begin(p);
	for (size_t i = 0; i < 5; i++) {
		size_t fl = pbw_begin(p), v, o;

		e = pbw_begin(p);		/* .value: Enc */
		if (i < 4) {
			f = pbw_begin(p);
			pbw_u64(p, 1, bits[i]);
			pbw_end(p, 1, f);	/* Enc.flat */
			pbw_end(p, 1, e);
			pbw_u64(p, 2, bits[i]);	/* bits_per_value */
		} else {
			v = pbw_begin(p);
			o = pbw_begin(p);
			f = pbw_begin(p);
			pbw_u64(p, 1, 32);
			pbw_end(p, 1, f);	/* Enc.flat */
			pbw_end(p, 1, o);	/* Variable.offsets */
			pbw_end(p, 2, v);	/* Enc.variable */
			pbw_end(p, 1, e);
			pbw_u64(p, 3, 32);	/* bits_per_length */
		}
		pbw_end(p, 1, fl);	/* .fields */
	}
	pbw_end(p, 13, k);
	pbw_end(p, field, s);
}

/* Where values come from: rows/items [first, first + n) of `a`. */
struct vsrc {
	const struct lance_array *a;
	const struct lance_type *t;
	uint64_t first;
	unsigned w;		/* bytes per value; 0 = bits (booleans, or
				 * vectors of them: a is their items) or
				 * variable */
	bool var;
	bool ivalid;		/* vectors: a's validity is their items' */
	enum lance_blob_kind blob;	/* blob descriptors (v1) / records (v2) */
	const struct levels *blob_lv;	/* v1: the layers around them */
	const struct dict *dict;	/* values are indices into it */
};

/* Bits a value where they are bits (v->w 0, not variable). */
static uint64_t vsrc_bits(const struct vsrc *v)
{
	return v->t->id == LANCE_T_FIXED_LIST ? (uint64_t)v->t->width : 1;
}

static uint64_t vsrc_bytes(const struct vsrc *v, uint64_t i, uint64_t c)
{
	uint64_t n = 0;

	uint64_t ow = v->t->large ? 8 : 4;

	if (!v->var)
		return v->w ? c * v->w : (c * vsrc_bits(v) + 7) / 8;
	for (uint64_t k = v->first + i; k < v->first + i + c; k++)
		if (valid_at(v->a, k))
			n += v->a->offsets[k + 1] - v->a->offsets[k];
	/* offsets (32 or 64 bits), the bytes, padded to an offset */
	return ((c + 1) * ow + n + ow - 1) & ~(ow - 1);
}

static uint64_t pad8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

/* Level range of the chunk holding values [v0, v0 + c) of nv. */
static uint64_t chunk_level_end(const struct levels *lv, uint64_t v0,
				uint64_t c, uint64_t nv)
{
	if (v0 + c == nv)
		return lv->n;
	if (lv->vis)
		return lv->vis[v0 + c - 1] + 1;
	return v0 + c;
}

/* A mini-block chunk's item validity buffer (vectors with a null item):
 * its bytes, or 0. */
static uint64_t chunk_ivalid(const struct vsrc *v, uint64_t c)
{
	return v->ivalid ? (c * (uint64_t)v->t->width + 7) / 8 : 0;
}

static uint64_t chunk_size(const struct lance_writer *w,
			   const struct levels *lv, const struct vsrc *v,
			   uint64_t v0, uint64_t c, uint64_t nl)
{
	uint64_t h = 2 + (lv->rep ? 2 : 0) + (lv->def ? 2 : 0) +
		     (w->large ? 4 : 2) * (chunk_ivalid(v, 1) ? 2 : 1);

	h = pad8(h);
	if (lv->rep)
		h += pad8(nl * 2);
	if (lv->def)
		h += pad8(nl * 2);
	return h + pad8(chunk_ivalid(v, c)) + pad8(vsrc_bytes(v, v0, c));
}

static uint64_t pow2_floor(uint64_t x)
{
	uint64_t p = 1;

	while (p * 2 <= x)
		p *= 2;
	return p;
}

static unsigned log2u(uint64_t x)
{
	unsigned k = 0;

	while ((1ull << k) < x)
		k++;
	return k;
}

/* Write one chunk's value buffer: values [i, i + c) of v. */
static int chunk_values(struct lance_writer *w, const struct vsrc *v,
			uint64_t i, uint64_t c, struct lc_err *err)
{
	const struct lance_array *a = v->a;
	uint64_t k0 = v->first + i;
	int rc = 0;

	if (!v->var && !v->w)
		return out_bits(w, a->values, k0 * vsrc_bits(v),
				c * vsrc_bits(v), err);
	if (!v->var)
		return lc_buf_append(w->out, a->values + k0 * v->w,
				     (size_t)(c * v->w), err);
	{
		unsigned ow = v->t->large ? 8 : 4;
		uint64_t o = (c + 1) * ow;

		rc = out_le(w, o, ow, err);
		for (uint64_t k = k0; k < k0 + c && !rc; k++) {
			if (valid_at(a, k))
				o += a->offsets[k + 1] - a->offsets[k];
			rc = out_le(w, o, ow, err);
		}
		for (uint64_t k = k0; k < k0 + c && !rc; k++)
			if (valid_at(a, k))
				rc = lc_buf_append(
					w->out, a->values + a->offsets[k],
					(size_t)(a->offsets[k + 1] -
						 a->offsets[k]), err);
		if (!rc)
			rc = out_pad(w, ow, err);
	}
	return rc;
}

/* A mini-block page of nv values and the levels in lv. */
static int v21_miniblock(struct lance_writer *w, struct wcol *col,
			 uint64_t rows, const struct vsrc *v, uint64_t nv,
			 const struct levels *lv, struct lc_err *err)
{
	uint64_t *words = NULL, *ridx = NULL, nchunks = 0, cap = 0;
	uint64_t off[4], size[4], v0 = 0, l0 = 0;
	unsigned nb = 2;
	struct pbw enc;
	size_t m, b1 = 0, b4 = 0;
	int rc = 0;

	pbw_init(&enc, err);
	off[1] = w->out->len;
	while (v0 < nv) {
		uint64_t rem = nv - v0, c, l1, sz, start;

		c = rem <= CHUNK_MAX_VALUES ? rem
			: pow2_floor(CHUNK_MAX_VALUES);
		for (;;) {
			l1 = chunk_level_end(lv, v0, c, nv);
			sz = chunk_size(w, lv, v, v0, c, l1 - l0);
			/* Lance: a chunk before the last holds 2^k
			 * values, k >= 1 */
			if (sz <= CHUNK_TARGET || c <= 2)
				break;
			c = (c & (c - 1)) ? pow2_floor(c) : c / 2;
		}
		/* 2.1: 32 KiB; both: u16 level-buffer sizes; 2.2: a u32
		 * metadata word of size / 8 << 4 */
		if ((!w->large && sz > LANCE_V21_CHUNK_MAX) ||
		    l1 - l0 > 32767 || sz > (1ull << 31)) {
			char path[256];

			rc = LC_LIMIT(err, "field %s: a mini-block chunk of "
				      "%" PRIu64 " bytes and %" PRIu64
				      " levels does not fit",
				      field_path(path, sizeof(path),
						 col->field), sz, l1 - l0);
			goto out;
		}
		if (nchunks == cap) {
			uint64_t *p;

			cap = cap ? cap * 2 : 64;
			p = lc_realloc(words, (size_t)cap * sizeof(*p));
			if (!p) {
				rc = LC_NOMEM(err);
				goto out;
			}
			words = p;
			p = lc_realloc(ridx, (size_t)cap * 2 * sizeof(*p));
			if (!p) {
				rc = LC_NOMEM(err);
				goto out;
			}
			ridx = p;
		}
		/* the chunk: header, levels, values, each padded to 8 */
		start = w->out->len;
		rc = out_le(w, lv->rep || lv->def ? l1 - l0 : 0, 2, err);
		if (!rc && lv->rep)
			rc = out_le(w, (l1 - l0) * 2, 2, err);
		if (!rc && lv->def)
			rc = out_le(w, (l1 - l0) * 2, 2, err);
		if (!rc && chunk_ivalid(v, c))
			rc = out_le(w, chunk_ivalid(v, c), w->large ? 4 : 2,
				    err);
		if (!rc)
			rc = out_le(w, vsrc_bytes(v, v0, c), w->large ? 4 : 2,
				    err);
		if (!rc)
			rc = out_pad(w, 8, err);
		for (uint64_t l = l0; l < l1 && !rc && lv->rep; l++)
			rc = out_le(w, lv->rep[l], 2, err);
		if (!rc)
			rc = out_pad(w, 8, err);
		for (uint64_t l = l0; l < l1 && !rc && lv->def; l++)
			rc = out_le(w, lv->def[l], 2, err);
		if (!rc)
			rc = out_pad(w, 8, err);
		if (!rc && chunk_ivalid(v, c))	/* buffer 0: item validity */
			rc = out_bits(w, v->a->validity,
				      (v->first + v0) * (uint64_t)v->t->width,
				      c * (uint64_t)v->t->width, err);
		if (!rc)
			rc = out_pad(w, 8, err);
		if (!rc)
			rc = chunk_values(w, v, v0, c, err);
		if (!rc)
			rc = out_pad(w, 8, err);
		if (rc)
			goto out;
		if (w->out->len - start != sz) {
			rc = LC_CORRUPT(err, "writer: chunk of %zu bytes, "
					"planned %" PRIu64,
					w->out->len - start, sz);
			goto out;
		}
		words[nchunks] = (sz / 8 - 1) << 4 |
				 (v0 + c == nv ? 0 : log2u(c));
		if (lv->rep) {
			/* rows whose last level is in this chunk, and the
			 * levels of a row that goes on into the next */
			uint64_t done = 0, last = l0;

			for (uint64_t l = l0; l < l1; l++)
				if (lv->rep[l] == lv->max_rep) {
					done += l > l0;
					last = l;
				}
			if (l1 == lv->n || lv->rep[l1] == lv->max_rep) {
				done++;
				ridx[2 * nchunks + 1] = 0;
			} else {
				ridx[2 * nchunks + 1] = l1 - last;
			}
			ridx[2 * nchunks] = done;
		}
		nchunks++;
		v0 += c;
		l0 = l1;
	}
	rc = buf_close(w, off, size, 1, 0, err);
	if (rc)
		goto out;
	off[0] = w->out->len;
	for (uint64_t i = 0; i < nchunks && !rc; i++)
		rc = out_le(w, words[i], w->large ? 4 : 2, err);
	rc = buf_close(w, off, size, 0, rc, err);
	if (!rc && v->dict) {
		off[nb] = w->out->len;
		rc = dict_block(w, v->dict, err);
		rc = buf_close(w, off, size, nb, rc, err);
		nb++;
	}
	if (!rc && lv->rep) {
		off[nb] = w->out->len;
		for (uint64_t i = 0; i < 2 * nchunks && !rc; i++)
			rc = out_le(w, ridx[i], 8, err);
		rc = buf_close(w, off, size, nb, rc, err);
		nb++;
	}
	if (rc)
		goto out;
	if (v->blob) {	/* Layout.blob{inner_layout = Layout{...}} */
		b4 = pbw_begin(&enc);
		b1 = pbw_begin(&enc);
	}
	m = pbw_begin(&enc);
	if (lv->rep)
		enc21_flat16(&enc, 1);
	if (lv->def)
		enc21_flat16(&enc, 2);
	if (v->blob)
		enc21_blob(&enc, 3, v->blob);
	else
		enc21_values(&enc, 3, v->t, chunk_ivalid(v, 1) > 0);
	if (v->dict && v->dict->vw) {	/* Flat */
		size_t d4 = pbw_begin(&enc), dfl = pbw_begin(&enc);

		pbw_u64(&enc, 1, v->dict->bits ? 1
				 : 8 * (uint64_t)v->dict->vw);
		pbw_end(&enc, 1, dfl);
		pbw_end(&enc, 4, d4);
		pbw_u64(&enc, 5, dict_items(v->dict));
	} else if (v->dict) {	/* Variable{offsets = flat{32 or 64}} */
		size_t d4 = pbw_begin(&enc), dv = pbw_begin(&enc);
		size_t dof = pbw_begin(&enc), dfl = pbw_begin(&enc);

		pbw_u64(&enc, 1, v->dict->large ? 64 : 32);
		pbw_end(&enc, 1, dfl);
		pbw_end(&enc, 1, dof);
		pbw_end(&enc, 2, dv);
		pbw_end(&enc, 4, d4);
		pbw_u64(&enc, 5, dict_items(v->dict));
	}
	enc21_layers(&enc, 6, lv);
	pbw_u64(&enc, 7, chunk_ivalid(v, 1) ? 2 : 1);	/* buffers a chunk */
	if (lv->rep)
		pbw_u64(&enc, 8, 1);
	pbw_u64(&enc, 9, nv);
	if (w->large)
		pbw_u64(&enc, 10, 1);
	pbw_end(&enc, 1, m);
	if (v->blob) {
		pbw_end(&enc, 1, b1);
		enc21_layers(&enc, 2, v->blob_lv);
		pbw_end(&enc, 4, b4);
	}
	rc = page_add(w, col, rows, nb, off, size, URL_LAYOUT21, &enc, err);
out:
	lc_buf_reset(&enc.b);
	lc_free(words);
	lc_free(ridx);
	return rc;
}

/*
 * An all-null (2.1) / constant-null (2.2) page. A leaf of its own
 * (layers [NULLABLE_ITEM]) has no buffers; any other (a field of a
 * struct, a list) has two, raw u16 repetition levels (empty without
 * lists) then definition levels: Lance reads both buffers of such a page
 * (lance 12 fails on a page without them).
 */
static int v21_allnull(struct lance_writer *w, struct wcol *col,
		       uint64_t rows, const struct levels *lv,
		       struct lc_err *err)
{
	uint64_t off[2] = { 0, 0 }, size[2] = { 0, 0 };
	bool levels = lv->rep || lv->n_layers > 1;
	unsigned nb = 0;
	struct pbw enc;
	size_t c;
	int rc = 0;

	for (unsigned b = 0; levels && b < 2; b++) {
		const uint16_t *v = b ? lv->def : lv->rep;

		off[b] = w->out->len;
		for (uint64_t l = 0; v && l < lv->n && !rc; l++)
			rc = out_le(w, v[l], 2, err);
		rc = buf_close(w, off, size, b, rc, err);
		if (rc)
			return rc;
		nb = 2;
	}
	pbw_init(&enc, err);
	c = pbw_begin(&enc);
	enc21_layers(&enc, 5, lv);
	if (levels && w->large) {
		if (lv->rep)
			pbw_u64(&enc, 9, lv->n);
		if (lv->def)
			pbw_u64(&enc, 10, lv->n);
	}
	pbw_end(&enc, 2, c);
	return page_add(w, col, rows, nb, off, size, URL_LAYOUT21, &enc, err);
}

static unsigned bits_for(uint64_t max)
{
	unsigned b = 0;

	while ((1ull << b) <= max)
		b++;
	return b;
}

/*
 * A full-zip page of `rows` rows and the nv values of lv's levels: per
 * level a control word (rep << bits_def | def) where the page has levels,
 * then for a visible level its value (fixed width: its bytes, nulls'
 * too; variable: where valid, its length and bytes); a repetition index
 * of where each row starts for variable values and for lists.
 */
/* Bytes of item validity before each vector of a full-zip page. */
static unsigned ivalid_bytes(const struct vsrc *v)
{
	return v->ivalid ? (unsigned)(v->t->width + 7) / 8 : 0;
}

/* Vector k's item validity, one bit per item from the first. */
static int out_item_validity(struct lance_writer *w, const struct vsrc *v,
			     uint64_t k, struct lc_err *err)
{
	uint64_t d = (uint64_t)v->t->width;
	int rc = 0;

	for (uint64_t j = 0; j < d && !rc; j += 8) {
		unsigned byte = 0;

		for (uint64_t b = 0; b < 8 && j + b < d; b++)
			byte |= (unsigned)valid_at(v->a, k * d + j + b) << b;
		rc = out_le(w, byte, 1, err);
	}
	return rc;
}

static int v21_fullzip(struct lance_writer *w, struct wcol *col,
		       const struct vsrc *v, uint64_t rows, uint64_t nv,
		       const struct levels *lv, struct lc_err *err)
{
	const struct lance_array *a = v->a;
	uint64_t off[2], size[2], *idx = NULL, maxdef = 0, vi = 0, r = 0;
	unsigned bits_def, bits_rep, cw, ow = v->t->large ? 8 : 4, iw = 1;
	bool rix = v->var || lv->rep;
	struct pbw enc;
	size_t f;
	int rc = 0;

	for (uint64_t l = 0; lv->def && l < lv->n; l++)
		if (lv->def[l] > maxdef)
			maxdef = lv->def[l];
	bits_def = lv->def ? (maxdef ? bits_for(maxdef) : 1) : 0;
	bits_rep = lv->rep ? bits_for(lv->max_rep) : 0;
	cw = !(bits_def + bits_rep) ? 0 : bits_def + bits_rep <= 8 ? 1
	     : bits_def + bits_rep <= 16 ? 2 : 4;
	if (rix) {
		idx = lc_malloc((size_t)(rows + 1) * sizeof(*idx));
		if (!idx)
			return LC_NOMEM(err);
	}
	off[0] = w->out->len;
	for (uint64_t l = 0; l < lv->n && !rc; l++) {
		uint64_t k = v->first + vi;
		uint16_t def = lv->def ? lv->def[l] : 0;
		uint16_t rep = lv->rep ? lv->rep[l] : 0;

		if (idx && (!lv->rep || rep == lv->max_rep) && r < rows)
			idx[r++] = w->out->len - off[0];
		if (cw)
			rc = out_le(w, (uint64_t)rep << bits_def | def, cw,
				    err);
		if (rc || (lv->vis && (vi >= nv || lv->vis[vi] != l)))
			continue;	/* a null or empty list: no value */
		vi++;
		if (!v->var) {
			rc = v->ivalid ? out_item_validity(w, v, k, err) : 0;
			if (!rc)
				rc = lc_buf_append(w->out,
						   a->values + k * v->w, v->w,
						   err);
		} else if (!def) {
			uint64_t len = a->offsets[k + 1] - a->offsets[k];

			if (ow == 4 && len > UINT32_MAX) {
				rc = LC_LIMIT(err, "field %s: value of %"
					      PRIu64 " bytes needs a large "
					      "type", col->field->name, len);
				break;
			}
			rc = out_le(w, len, ow, err);
			if (!rc)
				rc = lc_buf_append(w->out,
						   a->values + a->offsets[k],
						   (size_t)len, err);
		}
	}
	if (!rc && (vi != nv || (idx && r != rows)))
		rc = LC_CORRUPT(err, "writer: full-zip page of %" PRIu64
				" values and %" PRIu64 " rows, levels say %"
				PRIu64 " and %" PRIu64, nv, rows, vi, r);
	rc = buf_close(w, off, size, 0, rc, err);
	if (!rc && idx) {
		idx[rows] = size[0];
		iw = size[0] <= UINT8_MAX ? 1 : size[0] <= UINT16_MAX ? 2
		     : size[0] <= UINT32_MAX ? 4 : 8;
		off[1] = w->out->len;
		for (uint64_t i = 0; i <= rows && !rc; i++)
			rc = out_le(w, idx[i], iw, err);
		rc = buf_close(w, off, size, 1, rc, err);
	}
	lc_free(idx);
	if (rc)
		return rc;
	pbw_init(&enc, err);
	f = pbw_begin(&enc);
	if (bits_rep)
		pbw_u64(&enc, 1, bits_rep);
	if (bits_def)
		pbw_u64(&enc, 2, bits_def);
	if (v->var)
		pbw_u64(&enc, 4, ow * 8u);
	else
		pbw_u64(&enc, 3, (v->w + ivalid_bytes(v)) * 8u);
	pbw_u64(&enc, 5, lv->n);
	pbw_u64(&enc, 6, nv);
	if (v->blob)
		enc21_blob(&enc, 7, v->blob);
	else
		enc21_values(&enc, 7, v->t, v->ivalid);
	enc21_layers(&enc, 8, lv);
	pbw_end(&enc, 3, f);
	return page_add(w, col, rows, rix ? 2 : 1, off, size, URL_LAYOUT21,
			&enc, err);
}

/*
 * The levels of one leaf over rows [s, e) of its top-level field: a[0]
 * is the top-level array, a[m] the leaf, f[k] the field of a[k]. A first
 * walk counts levels and values and finds the layers that hold nulls or
 * empty lists; def levels are then numbered from the leaf outwards (a
 * list's "null" before its "empty"), and a second walk writes them.
 */
struct walk {
	const struct lance_array *const *a;
	const struct lance_field *const *f;
	size_t m;
	int inner;		/* depth of the inner-most list; -1: none */
	bool null[MAX_DEPTH + 1], empty[MAX_DEPTH + 1];
	uint16_t dnull[MAX_DEPTH + 1], dempty[MAX_DEPTH + 1];
	uint16_t rep[MAX_DEPTH + 1];	/* a list's items after its first */
	uint16_t max_rep;	/* lists on the path; a row's first level */
	struct levels *lv;	/* NULL on the first walk */
	uint64_t n, nv, zeros;	/* levels, values, levels of def 0 */
	uint64_t first;		/* the leaf index of value 0 */
	bool gap;		/* values not one run of leaf indices */
};

static void walk_put(struct walk *w, uint16_t rep, uint16_t def,
		     bool value, uint64_t leaf)
{
	struct levels *lv = w->lv;

	if (lv && lv->rep)
		lv->rep[w->n] = rep;
	if (lv && lv->def)
		lv->def[w->n] = def;
	if (value) {
		if (lv && lv->vis)
			lv->vis[w->nv] = w->n;
		if (!w->nv)
			w->first = leaf;
		else if (leaf != w->first + w->nv)
			w->gap = true;
		w->nv++;
	}
	w->zeros += def == 0;
	w->n++;
}

/* Element i of a[k], its first level repeating at `rep`. A null inside
 * the inner-most list keeps a value slot (structs keep the leaf's
 * indices); a null or empty list, or a null outside it, has none. */
static void walk_at(struct walk *w, size_t k, uint64_t i, uint16_t rep)
{
	const struct lance_array *a = w->a[k];

	if (!valid_at(a, i)) {
		w->null[k] = true;
		walk_put(w, rep, w->dnull[k], (int)k > w->inner, i);
	} else if (k == w->m) {
		walk_put(w, rep, 0, true, i);
	} else if (!is_list(&w->f[k]->type)) {
		walk_at(w, k + 1, i, rep);
	} else if (a->offsets[i + 1] == a->offsets[i]) {
		w->empty[k] = true;
		walk_put(w, rep, w->dempty[k], false, i);
	} else {
		for (uint64_t j = a->offsets[i]; j < a->offsets[i + 1]; j++)
			walk_at(w, k + 1, j,
				j == a->offsets[i] ? rep : w->rep[k]);
	}
}

/* A walk of the path a[0..m] (fields f): its list layers' rep levels,
 * the outer-most list's being the page's max. */
static void walk_init(struct walk *w, const struct lance_array *const *a,
		      const struct lance_field *const *f, size_t m)
{
	uint16_t r = 0;

	memset(w, 0, sizeof(*w));
	w->a = a;
	w->f = f;
	w->m = m;
	w->inner = -1;
	for (size_t k = 0; k < m; k++)
		if (is_list(&f[k]->type)) {
			r++;
			w->inner = (int)k;
		}
	w->max_rep = r;
	for (size_t k = 0; k < m; k++)	/* outer-most list: level r */
		if (is_list(&f[k]->type))
			w->rep[k] = --r;
}

static void walk_rows(struct walk *w, uint64_t s, uint64_t e,
		      struct levels *lv)
{
	w->lv = lv;
	w->n = w->nv = w->zeros = 0;
	w->gap = false;
	for (uint64_t i = s; i < e; i++)
		walk_at(w, 0, i, w->max_rep);
}

/* The largest value of a 2.1 mini-block page two of which share a chunk
 * with three runs of RUN_LEVELS levels (4 bytes each: before, between
 * and, in the last chunk, after them). */
#define RUN_LEVELS 1024u
#define OUTER_NULLS_MAX ((LANCE_V21_CHUNK_MAX - 3 * 4 * RUN_LEVELS - 128) / 2)

/* The levels of rows [s, e) of the leaf a[m] (struct walk's path) in
 * lv (to free: rep, def, vis), walked by wk; *items: the layers of
 * structs or items holding nulls. */
static int levels_build(struct walk *wk, struct levels *lv,
			uint16_t *items, const struct lance_array *const *a,
			const struct lance_field *const *f, size_t m,
			uint64_t s, uint64_t e, struct lc_err *err)
{
	uint16_t next = 1;

	memset(lv, 0, sizeof(*lv));
	*items = 0;
	walk_init(wk, a, f, m);
	lv->max_rep = wk->max_rep;
	walk_rows(wk, s, e, NULL);
	for (size_t k = m + 1; k-- > 0;) {
		uint32_t *layer = &lv->layers[m - k];

		if (k < m && is_list(&f[k]->type)) {
			if (wk->null[k])
				wk->dnull[k] = next++;
			if (wk->empty[k])
				wk->dempty[k] = next++;
			*layer = wk->null[k] && wk->empty[k] ?
				 L_NULL_AND_EMPTY_LIST :
				 wk->null[k] ? L_NULLABLE_LIST :
				 wk->empty[k] ? L_EMPTYABLE_LIST :
				 L_ALL_VALID_LIST;
		} else {
			if (wk->null[k]) {
				wk->dnull[k] = next++;
				++*items;
			}
			*layer = wk->null[k] ? L_NULLABLE_ITEM
					     : L_ALL_VALID_ITEM;
		}
	}
	lv->n_layers = m + 1;
	lv->n = wk->n;
	if (lv->max_rep) {
		lv->rep = lc_calloc((size_t)wk->n, sizeof(*lv->rep));
		lv->vis = lc_calloc((size_t)wk->nv + 1, sizeof(*lv->vis));
	}
	if (next > 1)
		lv->def = lc_calloc((size_t)wk->n, sizeof(*lv->def));
	if ((lv->max_rep && (!lv->rep || !lv->vis)) ||
	    (next > 1 && !lv->def))
		return LC_NOMEM(err);
	walk_rows(wk, s, e, lv);
	return 0;
}

static void levels_reset(struct levels *lv)
{
	lc_free(lv->rep);
	lc_free(lv->def);
	lc_free(lv->vis);
}

/* Rows [s, e) of the leaf a[m] (struct walk's path) as one page. */
static int v21_page(struct lance_writer *w, struct wcol *col,
		    const struct lance_array *const *a,
		    const struct lance_field *const *f, size_t m,
		    uint64_t s, uint64_t e, struct lc_err *err)
{
	const struct lance_type *t = &f[m]->type;
	struct walk wk;
	struct levels lv;
	struct vsrc v = { .a = a[m], .t = t };
	uint16_t items;
	uint64_t maxlen = 0;
	bool zip;
	int rc;

	rc = levels_build(&wk, &lv, &items, a, f, m, s, e, err);
	if (rc)
		goto out;
	if (wk.gap) {
		rc = LC_USAGE(err, "field %s: items under a null list or "
			      "struct", f[m]->name);
		goto out;
	}
	/* nothing to show (a null-type column never has), or only nulls
	 * of one layer */
	if (!wk.nv || t->id == LANCE_T_NULL ||
	    (!lv.max_rep && items == 1 && !wk.zeros)) {
		rc = v21_allnull(w, col, e - s, &lv, err);
		goto out;
	}
	v.first = wk.first;
	if (t->dict) {	/* indices into the page's distinct values */
		const struct lance_type kt = { .id = t->dict_index };
		struct lance_array ia = { .length = wk.nv };
		struct dict d;

		rc = dict_build(&d, f[m], a[m], wk.first, wk.nv, false, err);
		if (rc)
			goto out;
		ia.values = d.idx;
		ia.values_len = wk.nv * d.w;
		v.a = &ia;
		v.t = &kt;
		v.w = d.w;
		v.first = 0;
		v.dict = &d;
		rc = v21_miniblock(w, col, e - s, &v, wk.nv, &lv, err);
		dict_reset(&d);
		goto out;
	}
	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		v.var = true;
		for (uint64_t i = v.first; i < v.first + wk.nv; i++)
			if (a[m]->offsets[i + 1] - a[m]->offsets[i] > maxlen)
				maxlen = a[m]->offsets[i + 1] -
					 a[m]->offsets[i];
		zip = t->id == LANCE_T_BINARY || maxlen >= 256 || t->large;
		break;
	case LANCE_T_FIXED_LIST:
		/* a value is a vector's items; its own validity is in lv,
		 * its items' (where any is null) before each value in a
		 * full-zip page, in a buffer of each chunk in a mini-block
		 * one; vectors of booleans go mini-block, as Lance */
		v.w = (unsigned)t->width * lance_type_width(t->item);
		v.a = &a[m]->children[0];
		v.ivalid = null_count(v.a, v.first * (uint64_t)t->width,
				      (v.first + wk.nv) *
				      (uint64_t)t->width) > 0;
		maxlen = v.w;
		zip = v.w > 0;
		break;
	default:
		v.w = lance_type_width(t);
		maxlen = v.w;
		zip = v.w > 256;
		break;
	}
	/*
	 * Lance's full-zip readers before lance#9254 (Sep 2026; LanceDB 0.39
	 * has one) take a null of a layer outside a page's inner-most list
	 * for a value: such a page goes mini-block, in 2.1 where two values
	 * and a run of levels fit a 32 KiB chunk (pages cut around the nulls
	 * made full-zip pages LanceDB 0.39 also misread).
	 */
	for (int k = 0; zip && k < wk.inner; k++)
		if (!is_list(&f[k]->type) && wk.null[k]) {
			char path[256];

			if (!w->large && maxlen > OUTER_NULLS_MAX)
				rc = LC_LIMIT(err, "field %s: a value of %"
					      PRIu64 " bytes in a list under "
					      "a null %s (file version 2.1 "
					      "holds %u at most there)",
					      field_path(path, sizeof(path),
							 f[m]),
					      maxlen, f[k]->name,
					      OUTER_NULLS_MAX);
			zip = false;
			break;
		}
	if (!rc && zip)
		rc = v21_fullzip(w, col, &v, e - s, wk.nv, &lv, err);
	else if (!rc)
		rc = v21_miniblock(w, col, e - s, &v, wk.nv, &lv, err);
out:
	levels_reset(&lv);
	return rc;
}

/*
 * Blob rows [s, e) of the leaf a[m] (2.1+; struct walk's path, structs
 * only): the payloads, then a page of their descriptors. v1 (2.1): a
 * blob layout, the path's layers, around a mini-block of (u64 position,
 * u64 size), a null's position holding its def level (k << 16). v2
 * (2.2): a full-zip page of records, every blob kind 0 (in this file),
 * under the path's levels.
 */
static int v21_blob(struct lance_writer *w, struct wcol *col,
		    const struct lance_array *const *a,
		    const struct lance_field *const *f, size_t m,
		    uint64_t s, uint64_t e, struct lc_err *err)
{
	static const struct lance_type rec_type = { .id = LANCE_T_BINARY };
	enum { REC = 25 };	/* kind, position, size, blob_id, uri length */
	uint64_t n = e - s;
	struct walk wk;
	struct levels lv, dlv = { .n = n, .n_layers = 1 };
	struct lance_array da = { .length = n };
	struct vsrc v = { .a = &da, .t = &rec_type, .blob = f[m]->blob };
	uint8_t *d = lc_malloc((size_t)n * 16 + 1), *rec = NULL;
	uint16_t items;
	int rc;

	rc = levels_build(&wk, &lv, &items, a, f, m, s, e, err);
	if (!rc && !d)
		rc = LC_NOMEM(err);
	if (!rc)
		rc = blob_payloads(w, a[m], s, e, lv.def, d, err);
	if (rc)
		goto out;
	if (v.blob == LANCE_BLOB_V1) {
		da.values = d;
		da.values_len = n * 16;
		v.w = 16;
		v.blob_lv = &lv;
		dlv.layers[0] = L_ALL_VALID_ITEM;
		rc = v21_miniblock(w, col, n, &v, n, &dlv, err);
		goto out;
	}
	rec = lc_calloc((size_t)n * REC + 1, 1);
	da.offsets = lc_calloc((size_t)n + 1, sizeof(*da.offsets));
	if (!rec || !da.offsets) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (!lv.def || !lv.def[i]) {	/* kind 0, blob_id 0, no uri */
			memcpy(rec + da.values_len + 1, d + 16 * i, 16);
			da.values_len += REC;
		}
		da.offsets[i + 1] = da.values_len;
	}
	da.values = rec;
	v.var = true;
	rc = v21_fullzip(w, col, &v, n, n, &lv, err);
out:
	levels_reset(&lv);
	lc_free(d);
	lc_free(rec);
	lc_free(da.offsets);
	return rc;
}

/*
 * Where a page of rows [p, e) of a list path ends: where the first list
 * holds about a page of data (page_end), or before a run of rows without
 * values (empty or null lists) of more than RUN_LEVELS levels, which then
 * makes a page of its own (levels only, any number): a mini-block chunk
 * carries the levels before its first value and holds 32 KiB (2.1) or
 * 32,767 levels at most.
 */
static uint64_t v21_page_end(struct walk *wk, size_t lk, uint64_t p,
			     uint64_t e)
{
	uint64_t q = page_end(wk->f[lk], wk->a[lk], p, e), run = 0, at = p;

	for (uint64_t i = p; i < q; i++) {
		walk_rows(wk, i, i + 1, NULL);
		if (!wk->nv) {
			at = run ? at : i;
			run += wk->n;
		} else if (run > RUN_LEVELS) {
			return at > p ? at : i;
		} else {
			run = 0;
		}
	}
	return run > RUN_LEVELS && at > p ? at : q;
}

/* The pages of each leaf under a[k] (field f[k]), rows [s, e) of the
 * top level; a page ends where the first list on the path (else the
 * leaf) holds about a page of data. */
static int v21_field(struct lance_writer *w, const struct lance_array **a,
		     const struct lance_field **f, size_t k, uint64_t s,
		     uint64_t e, struct lc_err *err)
{
	struct walk wk;
	size_t lk = 0;
	int rc = 0;

	if (f[k]->blob != LANCE_BLOB_NONE) {	/* under structs (check_field) */
		for (uint64_t p = s, q; p < e && !rc; p = q) {
			q = page_end(f[k], a[k], p, e);
			rc = v21_blob(w, col_of(w, f[k]), a, f, k, p, q, err);
		}
		return rc;
	}
	if (f[k]->type.id == LANCE_T_STRUCT || is_list(&f[k]->type)) {
		for (size_t i = 0; i < f[k]->n_children && !rc; i++) {
			f[k + 1] = f[k]->children[i];
			a[k + 1] = &a[k]->children[i];
			rc = v21_field(w, a, f, k + 1, s, e, err);
		}
		return rc;
	}
	while (lk < k && !is_list(&f[lk]->type))
		lk++;
	walk_init(&wk, a, f, k);
	for (uint64_t p = s, q; p < e && !rc; p = q) {
		q = lk < k ? v21_page_end(&wk, lk, p, e)
			   : page_end(f[k], a[k], p, e);
		while ((rc = v21_page(w, col_of(w, f[k]), a, f, k, p, q,
				      err)) == DICT_FULL && q - p > 1) {
			lc_err_clear(err);	/* before any output */
			q = p + (q - p) / 2;
		}
	}
	return rc;
}

/* ------------------------------------------------------------ checks */

static bool is_fixed(const struct lance_type *t)
{
	return t->id == LANCE_T_BOOL || lance_type_width(t) > 0;
}

/* Can the writer write field f in file version 2.minor? `in_list`: f
 * is inside a list. */
static int check_field(const struct lance_field *f, unsigned depth,
		       bool in_list, uint16_t minor, struct lc_err *err)
{
	const struct lance_type *t = &f->type;

	if (depth >= MAX_DEPTH)
		return LC_LIMIT(err, "field %s: nested more than %d deep",
				f->name, MAX_DEPTH);
	if (f->blob != LANCE_BLOB_NONE) {
		/* as Lance: v1 up to 2.1, v2 from 2.2; inside structs
		 * but not lists (one descriptor a row) */
		if (in_list)
			return LC_UNSUPPORTED(err, "field %s: a blob inside "
					      "a list", f->name);
		if ((f->blob == LANCE_BLOB_V1) != (minor < 2))
			return LC_UNSUPPORTED(err, "field %s: blob %s in "
					      "file version 2.%u", f->name,
					      f->blob == LANCE_BLOB_V1 ? "v1"
					      : "v2", minor);
		return 0;
	}
	if (t->dict && t->id != LANCE_T_UTF8 && t->id != LANCE_T_BINARY &&
	    !is_fixed(t))
		return LC_UNSUPPORTED(err, "field %s: dictionaries of %s "
				      "cannot be written", f->name,
				      f->logical_type);
	/* a 2.1 dictionary block is Flat, whose readers take values of
	 * 4,096 bytes at most */
	if (t->dict && minor && lance_type_width(t) > 4096)
		return LC_UNSUPPORTED(err, "field %s: dictionaries of %s "
				      "in file version 2.%u", f->name,
				      f->logical_type, minor);
	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
	case LANCE_T_NULL:	/* all-null pages */
		return 0;
	case LANCE_T_FIXED_LIST:
		if (!t->item || !is_fixed(t->item) || t->width <= 0)
			return LC_UNSUPPORTED(err, "field %s: fixed-size "
					      "lists of %s", f->name,
					      f->logical_type);
		/* what our reader takes (format/v21.c) */
		if (minor && t->width > 65536)
			return LC_UNSUPPORTED(err, "field %s: vectors of %d "
					      "items in file version 2.%u "
					      "(65,536 at most)", f->name,
					      t->width, minor);
		return 0;
	case LANCE_T_MAP:
		if (minor < 2)	/* as Lance */
			return LC_UNSUPPORTED(err, "field %s: maps in file "
					      "version 2.%u", f->name, minor);
		/* fall through */
	case LANCE_T_LIST:
		if (f->n_children != 1)
			return LC_CORRUPT(err, "field %s: list with %zu "
					  "children", f->name, f->n_children);
		return check_field(f->children[0], depth + 1, true, minor,
				   err);
	case LANCE_T_STRUCT:
		for (size_t i = 0; i < f->n_children; i++) {
			int rc = check_field(f->children[i], depth + 1,
					     in_list, minor, err);

			if (rc)
				return rc;
		}
		return 0;
	default:
		if (!is_fixed(t))
			return LC_UNSUPPORTED(err, "field %s: type %s cannot "
					      "be written", f->name,
					      f->logical_type);
		return 0;
	}
}

static bool offsets_ok(const struct lance_array *a, uint64_t n,
		       uint64_t limit)
{
	if (!a->offsets)
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (a->offsets[i + 1] < a->offsets[i])
			return false;
	return a->offsets[n] <= limit;
}

/* The structs an array is a field of, inner-most first: where one is
 * null, so are its fields, whatever their nullability (as in Arrow). */
struct outer {
	const struct lance_array *a;
	const struct outer *up;
};

/* Whether `a` holds a null at a row where no struct around it is null. */
static bool unmasked_null(const struct lance_array *a,
			  const struct outer *up, uint64_t len)
{
	if (!null_count(a, 0, len))
		return false;
	for (uint64_t i = 0; i < len; i++) {
		const struct outer *o = up;

		while (o && valid_at(o->a, i))
			o = o->up;
		if (!o && !valid_at(a, i))
			return true;
	}
	return false;
}

/* Is array `a` of `len` rows shaped as lance.h says for field f? `up`:
 * the structs around it (2.1 and later, where a null struct's fields
 * are not stored), NULL for a top-level field or a list's items. */
static int check_array(const struct lance_writer *w,
		       const struct lance_field *f,
		       const struct lance_array *a, uint64_t len,
		       const struct outer *up, struct lc_err *err)
{
	const struct lance_type *t = lance_array_type(f);
	uint64_t need;

	if (a->length != len)
		return LC_USAGE(err, "field %s: %" PRIu64 " rows, expected %"
				PRIu64, f->name, a->length, len);
	if (a->type && a->type->id != t->id)
		return LC_USAGE(err, "field %s: array of type %d, field is "
				"%s", f->name, (int)a->type->id,
				f->logical_type);
	if (!f->nullable && unmasked_null(a, up, len))
		return LC_USAGE(err, "field %s: nulls in a non-nullable "
				"field", f->name);
	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		if (!offsets_ok(a, len, a->values_len) ||
		    (a->values_len && !a->values))
			return LC_USAGE(err, "field %s: offsets out of order "
					"or past the %" PRIu64 " value bytes",
					f->name, a->values_len);
		return 0;
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		if (a->n_children != 1 ||
		    !offsets_ok(a, len, a->children[0].length))
			return LC_USAGE(err, "field %s: list offsets out of "
					"order or past the items", f->name);
		for (uint64_t i = 0; !w->v20 && i < len; i++)
			if (!valid_at(a, i) &&
			    a->offsets[i + 1] != a->offsets[i])
				return LC_USAGE(err, "field %s: row %" PRIu64
						" is a null list with items",
						f->name, i);
		return check_array(w, f->children[0], &a->children[0],
				   a->children[0].length, NULL, err);
	case LANCE_T_STRUCT:
		if (a->n_children != f->n_children)
			return LC_USAGE(err, "field %s: %zu children, field "
					"has %zu", f->name, a->n_children,
					f->n_children);
		if (w->v20 && null_count(a, 0, len))
			return LC_USAGE(err, "field %s: Lance file version "
					"2.0 cannot store null structs",
					f->name);
		for (size_t i = 0; i < f->n_children; i++) {
			struct outer in = { a, up };
			int rc = check_array(w, f->children[i],
					     &a->children[i], len,
					     w->v20 ? NULL : &in, err);

			if (rc)
				return rc;
		}
		return 0;
	case LANCE_T_FIXED_LIST: {
		const struct lance_array *c = a->children;
		uint64_t items = len * (uint64_t)t->width;

		if (a->n_children != 1 || c->length != items ||
		    c->values_len < (lance_type_width(t->item) ?
				     items * lance_type_width(t->item) :
				     (items + 7) / 8) ||
		    (items && !c->values))
			return LC_USAGE(err, "field %s: fixed-size list needs "
					"one child of %" PRIu64 " items",
					f->name, items);
		return 0;
	}
	case LANCE_T_NULL:
		if (null_count(a, 0, len) != len)
			return LC_USAGE(err, "field %s: values in a field of "
					"type null", f->name);
		return 0;
	default:
		need = lance_type_width(t) ? len * lance_type_width(t)
					   : (len + 7) / 8;
		if (a->values_len < need || (need && !a->values))
			return LC_USAGE(err, "field %s: %" PRIu64 " value "
					"bytes, need %" PRIu64, f->name,
					a->values_len, need);
		return 0;
	}
}

/* ------------------------------------------------------------ API */

static int add_cols(struct lance_writer *w, const struct lance_field *f,
		    struct lc_err *err)
{
	bool blob = f->blob != LANCE_BLOB_NONE;
	bool inner = !blob && (f->type.id == LANCE_T_STRUCT ||
			       is_list(&f->type));

	if (w->v20 || !inner) {
		if (w->n_cols == w->cap_cols) {
			size_t cap = w->cap_cols ? w->cap_cols * 2 : 16;
			struct wcol *p = lc_realloc(w->cols, cap * sizeof(*p));

			if (!p)
				return LC_NOMEM(err);
			w->cols = p;
			w->cap_cols = cap;
		}
		memset(&w->cols[w->n_cols], 0, sizeof(w->cols[0]));
		w->cols[w->n_cols].blob20 = w->v20 && blob;
		w->cols[w->n_cols++].field = f;
	}
	for (size_t i = 0; !blob && i < f->n_children; i++) {
		int rc = add_cols(w, f->children[i], err);

		if (rc)
			return rc;
	}
	return 0;
}

int lance_writer_check_field(const struct lance_field *f, uint16_t major,
			     uint16_t minor, struct lc_err *err)
{
	if (major != 2 || minor > 2)
		return LC_UNSUPPORTED(err, "writer: file version %u.%u (only "
				      "2.0, 2.1 and 2.2 are written)", major,
				      minor);
	return check_field(f, 0, false, minor, err);
}

int lance_writer_new(struct lance_writer **out,
		     const struct lance_schema *schema,
		     const int32_t *top_field_ids, size_t n, uint16_t major,
		     uint16_t minor, struct lc_err *err)
{
	struct lance_writer *w;
	int rc;

	*out = NULL;
	if (major != 2 || minor > 2)
		return LC_UNSUPPORTED(err, "writer: file version %u.%u (only "
				      "2.0, 2.1 and 2.2 are written)", major,
				      minor);
	if (!n)
		return LC_USAGE(err, "writer: no fields");
	w = lc_calloc(1, sizeof(*w));
	if (!w)
		return LC_NOMEM(err);
	w->schema = schema;
	w->major = major;
	w->minor = minor;
	w->v20 = minor == 0;
	w->large = minor >= 2;
	lc_buf_init(&w->own, OUT_LIMIT);
	w->out = &w->own;
	w->top = lc_calloc(n, sizeof(*w->top));
	w->pend = lc_calloc(n, sizeof(*w->pend));
	if (!w->top || !w->pend) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const struct lance_field *f;

		f = lance_schema_field_by_id(schema, top_field_ids[i]);
		if (!f || f->parent) {
			rc = LC_USAGE(err, "writer: field id %d is not a "
				      "top-level field of the schema",
				      top_field_ids[i]);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if (w->top[k] == f) {
				rc = LC_USAGE(err, "writer: field %s given "
					      "twice", f->name);
				goto fail;
			}
		rc = check_field(f, 0, false, minor, err);
		if (rc)
			goto fail;
		w->top[w->n_top++] = f;
		rc = add_cols(w, f, err);
		if (rc)
			goto fail;
	}
	*out = w;
	return 0;
fail:
	lance_writer_free(w);
	return rc;
}

/* ------------------------------------------------------------ batching */

/* Data bytes of rows [s, e) of a (for the page and batching policy). */
static uint64_t est_bytes(const struct lance_field *f,
			  const struct lance_type *t,
			  const struct lance_array *a, uint64_t s, uint64_t e)
{
	uint64_t n = 0;

	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		return a->offsets[e] - a->offsets[s] + (e - s) * 8;
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		return est_bytes(f->children[0],
				 lance_array_type(f->children[0]),
				 &a->children[0], a->offsets[s],
				 a->offsets[e]) + (e - s) * 8;
	case LANCE_T_FIXED_LIST:
		return (e - s) * vec_bytes(t);
	case LANCE_T_STRUCT:
		for (size_t i = 0; i < f->n_children; i++)
			n += est_bytes(f->children[i],
				       lance_array_type(f->children[i]),
				       &a->children[i], s, e);
		return n;
	default:
		return lance_type_width(t) ? (e - s) * lance_type_width(t)
					   : (e - s + 7) / 8;
	}
}

/* Capacity of a pending buffer of `n` bytes: the next power of two, so
 * growing by small appends reallocates O(log n) times. */
static size_t cap_of(uint64_t n)
{
	size_t c = 64;

	while (c < n)
		c *= 2;
	return c;
}

static int grow(uint8_t **p, uint64_t old, uint64_t want, struct lc_err *err)
{
	uint8_t *q;

	if (*p && cap_of(want) <= cap_of(old))
		return 0;
	q = lc_realloc(*p, cap_of(want));
	if (!q)
		return LC_NOMEM(err);
	*p = q;
	return 0;
}

static void bits_put(uint8_t *d, uint64_t at, const uint8_t *s,
		     uint64_t from, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = at + i;

		if (!s || bit_get(s, from + i))
			d[k >> 3] |= (uint8_t)(1u << (k & 7));
		else
			d[k >> 3] &= (uint8_t)~(1u << (k & 7));
	}
}

/* Append rows [a, b) of s to the writer-owned pending array d. */
static int pend_append(struct lance_array *d, const struct lance_field *f,
		       const struct lance_type *t,
		       const struct lance_array *s, uint64_t a, uint64_t b,
		       struct lc_err *err)
{
	uint64_t n = b - a, len = d->length, tot = len + n;
	unsigned w = lance_type_width(t);
	int rc;

	d->type = t;
	d->field = f;
	if (s->validity || d->validity) {
		bool fresh = !d->validity;

		rc = grow(&d->validity, (len + 7) / 8, (tot + 7) / 8, err);
		if (rc)
			return rc;
		if (fresh)
			bits_put(d->validity, 0, NULL, 0, len);
		bits_put(d->validity, len, s->validity, a, n);
	}
	switch (t->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
	case LANCE_T_LIST:
	case LANCE_T_MAP: {
		uint64_t base = d->offsets ? d->offsets[len] : 0;
		uint64_t *o;

		o = lc_realloc(d->offsets, cap_of((tot + 1) * 8));
		if (!o)
			return LC_NOMEM(err);
		d->offsets = o;
		o[0] = len ? o[0] : 0;
		for (uint64_t i = 1; i <= n; i++)
			o[len + i] = base + s->offsets[a + i] - s->offsets[a];
		if (is_list(t)) {
			if (!d->children) {
				d->children = lc_calloc(
					1, sizeof(*d->children));
				if (!d->children)
					return LC_NOMEM(err);
				d->n_children = 1;
			}
			rc = pend_append(d->children, f->children[0],
					 lance_array_type(f->children[0]),
					 s->children,
					 s->offsets[a], s->offsets[b], err);
			if (rc)
				return rc;
			break;
		}
		rc = grow(&d->values, d->values_len,
			  d->values_len + o[tot] - base, err);
		if (rc)
			return rc;
		if (o[tot] > base)	/* all empty: values may be NULL */
			memcpy(d->values + d->values_len,
			       s->values + s->offsets[a],
			       (size_t)(o[tot] - base));
		d->values_len += o[tot] - base;
		break;
	}
	case LANCE_T_FIXED_LIST:
	case LANCE_T_STRUCT: {
		size_t nc = t->id == LANCE_T_STRUCT ? f->n_children : 1;

		if (!d->children) {
			d->children = lc_calloc(nc, sizeof(*d->children));
			if (!d->children)
				return LC_NOMEM(err);
			d->n_children = nc;
		}
		for (size_t i = 0; i < nc; i++) {
			uint64_t k = t->id == LANCE_T_STRUCT ? 1
				     : (uint64_t)t->width;

			rc = pend_append(&d->children[i],
					 t->id == LANCE_T_STRUCT
					 ? f->children[i] : NULL,
					 t->id == LANCE_T_STRUCT
					 ? lance_array_type(f->children[i])
					 : t->item,
					 &s->children[i], a * k, b * k, err);
			if (rc)
				return rc;
		}
		break;
	}
	case LANCE_T_BOOL:
		rc = grow(&d->values, (len + 7) / 8, (tot + 7) / 8, err);
		if (rc)
			return rc;
		bits_put(d->values, len, s->values, a, n);
		d->values_len = (tot + 7) / 8;
		break;
	default:	/* a null-type column has no values (w 0) */
		rc = grow(&d->values, len * w, tot * w, err);
		if (rc)
			return rc;
		if (n && w)
			memcpy(d->values + len * w, s->values + a * w,
			       (size_t)(n * w));
		d->values_len = tot * w;
		break;
	}
	d->length = tot;
	return 0;
}

/* Encode rows [0, len) of cols (one array per top-level field). */
static int encode(struct lance_writer *w, const struct lance_array *cols,
		  uint64_t len, struct lc_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < w->n_top && !rc; i++) {
		if (w->v20) {
			rc = v20_field(w, w->top[i], &cols[i], 0, len, err);
		} else {
			const struct lance_array *a[MAX_DEPTH + 1];
			const struct lance_field *f[MAX_DEPTH + 1];

			a[0] = &cols[i];
			f[0] = w->top[i];
			rc = v21_field(w, a, f, 0, 0, len, err);
		}
	}
	if (rc)
		w->broken = true;
	else
		w->rows += len;
	return rc;
}

static void pend_reset(struct lance_writer *w)
{
	for (size_t i = 0; w->pend && i < w->n_top; i++)
		lance_array_reset(&w->pend[i]);
	w->pend_rows = 0;
	w->pend_bytes = 0;
}

static int pend_flush(struct lance_writer *w, struct lc_err *err)
{
	int rc;

	if (!w->pend_rows)
		return 0;
	rc = encode(w, w->pend, w->pend_rows, err);
	pend_reset(w);
	return rc;
}

int lance_writer_add(struct lance_writer *w, const struct lance_array *cols,
		     struct lc_err *err)
{
	uint64_t len = w->n_top ? cols[0].length : 0, bytes = 0;
	int rc;

	if (w->broken)
		return LC_USAGE(err, "writer: an earlier add failed");
	for (size_t i = 0; i < w->n_top; i++) {
		rc = check_array(w, w->top[i], &cols[i], len, NULL, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < w->n_top; i++)
		bytes += est_bytes(w->top[i], lance_array_type(w->top[i]),
				   &cols[i], 0, len);
	/* a big batch is encoded as it is: its values are copied once */
	if (len >= PAGE_ROWS || bytes >= PAGE_BYTES) {
		rc = pend_flush(w, err);
		return rc ? rc : encode(w, cols, len, err);
	}
	/* small batches gather into pages of a sensible size */
	for (size_t i = 0; i < w->n_top; i++) {
		rc = pend_append(&w->pend[i], w->top[i],
				 lance_array_type(w->top[i]), &cols[i], 0, len,
				 err);
		if (rc) {
			w->broken = true;
			pend_reset(w);
			return rc;
		}
	}
	w->pend_rows += len;
	w->pend_bytes += bytes;
	if (w->pend_rows >= PAGE_ROWS || w->pend_bytes >= PEND_BYTES)
		return pend_flush(w, err);
	return 0;
}

static unsigned legacy_encoding(const struct lance_field *f)
{
	switch (f->type.id) {
	case LANCE_T_STRUCT:
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		return 0;
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		return 2;
	default:
		return 1;
	}
}

static void pb_kv(struct pbw *p, const char *key, const void *value,
		  size_t len)
{
	size_t m = pbw_begin(p);

	pbw_str(p, 1, key);
	pbw_bytes(p, 2, value, len);
	pbw_end(p, 10, m);
}

/* A Field of the file's schema (global buffer 0): the dataset's, except
 * that a blob v2 field is, as Lance writes it, a packed struct of its
 * descriptor (children with no ids, after it). */
static void pb_field(struct pbw *p, const struct lance_field *f)
{
	static const char *const blob2[][2] = {
		{ "kind", "uint8" }, { "position", "uint64" },
		{ "size", "uint64" }, { "blob_id", "uint32" },
		{ "blob_uri", "string" } };
	bool v2 = f->blob == LANCE_BLOB_V2;
	size_t s = pbw_begin(p);

	pbw_str(p, 2, f->name);
	pbw_u64(p, 3, (uint64_t)(int64_t)f->id);
	pbw_u64(p, 4, (uint64_t)(int64_t)f->parent_id);
	pbw_str(p, 5, f->logical_type);
	if (f->nullable)
		pbw_u64(p, 6, 1);
	pbw_u64(p, 7, legacy_encoding(f));
	if (v2) {
		pb_kv(p, "lance-encoding:blob", "true", 4);
		pb_kv(p, "lance-encoding:packed", "true", 4);
	}
	for (size_t i = 0; !v2 && i < f->n_metadata; i++)
		pb_kv(p, f->metadata[i].key, f->metadata[i].value,
		      f->metadata[i].value_len);
	pbw_end(p, 1, s);
	for (size_t i = 0; v2 && i < 5; i++) {
		s = pbw_begin(p);
		pbw_str(p, 2, blob2[i][0]);
		pbw_u64(p, 3, UINT64_MAX);	/* -1 */
		pbw_u64(p, 4, UINT64_MAX);
		pbw_str(p, 5, blob2[i][1]);
		pbw_u64(p, 7, i < 4 ? 1 : 2);
		pbw_end(p, 1, s);
	}
	for (size_t i = 0; !v2 && i < f->n_children; i++)
		pb_field(p, f->children[i]);
}

/* Encoding{direct{encoding = Any}} as field `field`. */
static void pb_direct(struct pbw *p, uint32_t field, const uint8_t *any,
		      size_t len)
{
	size_t s = pbw_begin(p), d = pbw_begin(p);

	pbw_bytes(p, 1, any, len);
	pbw_end(p, 2, d);
	pbw_end(p, field, s);
}

static void pb_column(struct pbw *p, const struct wcol *c)
{
	static const uint8_t values[] = { 0x0a, 0x00 };	/* values{} */
	static const uint8_t blob[] = { 0x1a, 0x04, 0x0a, 0x02, 0x0a, 0x00 };
	struct pbw any;

	pbw_init(&any, p->err);
	pbw_str(&any, 1, URL_COLUMN);
	if (c->blob20)	/* blob{inner = values{}} */
		pbw_bytes(&any, 2, blob, sizeof(blob));
	else
		pbw_bytes(&any, 2, values, sizeof(values));
	if (any.rc && !p->rc)
		p->rc = any.rc;
	pb_direct(p, 1, any.b.data, any.b.len);
	lc_buf_reset(&any.b);
	for (size_t i = 0; i < c->n_pages; i++) {
		const struct wpage *pg = &c->pages[i];
		size_t s = pbw_begin(p);

		pbw_packed(p, 1, pg->off, pg->n_buf);
		pbw_packed(p, 2, pg->size, pg->n_buf);
		pbw_u64(p, 3, pg->length);
		pb_direct(p, 4, pg->any, pg->any_len);
		pbw_u64(p, 5, pg->priority);
		pbw_end(p, 2, s);
	}
}

int lance_writer_finish(struct lance_writer *w, uint8_t **bytes,
			size_t *len, struct lance_data_file *df_out,
			struct lc_err *err)
{
	struct lance_data_file df = { 0 };
	struct pbw p;
	uint64_t *cmo = NULL, gbo[2];
	uint64_t meta_start;
	size_t s;
	int rc;

	*bytes = NULL;
	*len = 0;
	if (w->broken)
		return LC_USAGE(err, "writer: an earlier add failed");
	rc = pend_flush(w, err);
	if (rc)
		return rc;
	pbw_init(&p, err);
	for (size_t i = 0; w->v20 && i < w->n_cols; i++) {
		struct wcol *c = &w->cols[i];
		uint64_t n = c->rows;

		if (c->field->type.id != LANCE_T_STRUCT || !n)
			continue;
		c->rows = 0;
		pbw_empty(&p, 5);	/* ArrayEncoding.simple_struct */
		rc = page_add(w, c, n, 0, NULL, NULL, URL_ARRAY20, &p, err);
		if (rc)
			return rc;
		pbw_init(&p, err);
	}
	/* global buffer 0: FileDescriptor{schema, length} */
	rc = out_pad(w, 64, err);
	if (rc)
		return rc;
	s = pbw_begin(&p);
	for (size_t i = 0; i < w->n_top; i++)
		pb_field(&p, w->top[i]);
	pbw_end(&p, 1, s);
	pbw_u64(&p, 2, w->rows);
	rc = p.rc;
	if (rc)
		goto out;
	gbo[0] = w->out->len;
	gbo[1] = p.b.len;
	rc = lc_buf_append(w->out, p.b.data, p.b.len, err);
	if (rc)
		goto out;
	cmo = lc_calloc(w->n_cols * 2 + 1, sizeof(*cmo));
	if (!cmo) {
		rc = LC_NOMEM(err);
		goto out;
	}
	meta_start = w->out->len;
	for (size_t i = 0; i < w->n_cols; i++) {
		lc_buf_reset(&p.b);
		pbw_init(&p, err);
		pb_column(&p, &w->cols[i]);
		rc = p.rc;
		if (!rc) {
			cmo[2 * i] = w->out->len;
			cmo[2 * i + 1] = p.b.len;
			rc = lc_buf_append(w->out, p.b.data, p.b.len, err);
		}
		if (rc)
			goto out;
	}
	{
		uint64_t cmo_at = w->out->len, gbo_at;

		for (size_t i = 0; i < 2 * w->n_cols && !rc; i++)
			rc = out_le(w, cmo[i], 8, err);
		gbo_at = w->out->len;
		for (size_t i = 0; i < 2 && !rc; i++)
			rc = out_le(w, gbo[i], 8, err);
		if (!rc)
			rc = out_le(w, meta_start, 8, err);
		if (!rc)
			rc = out_le(w, cmo_at, 8, err);
		if (!rc)
			rc = out_le(w, gbo_at, 8, err);
		if (!rc)
			rc = out_le(w, 1, 4, err);
		if (!rc)
			rc = out_le(w, w->n_cols, 4, err);
		if (!rc)
			rc = out_le(w, w->v20 ? 0 : w->major, 2, err);
		if (!rc)
			rc = out_le(w, w->v20 ? 3 : w->minor, 2, err);
		if (!rc)
			rc = lc_buf_append(w->out, "LANC", 4, err);
		if (rc)
			goto out;
	}
	if (df_out) {
		df.fields = lc_calloc(w->n_cols + 1, sizeof(*df.fields));
		df.column_indices = lc_calloc(w->n_cols + 1,
					      sizeof(*df.column_indices));
		if (!df.fields || !df.column_indices) {
			lc_free(df.fields);
			lc_free(df.column_indices);
			rc = LC_NOMEM(err);
			goto out;
		}
		for (size_t i = 0; i < w->n_cols; i++) {
			df.fields[i] = w->cols[i].field->id;
			df.column_indices[i] = (int32_t)i;
		}
		df.n_fields = df.n_column_indices = w->n_cols;
		df.major = w->major;
		df.minor = w->minor;
		df.size = w->out->len;
	}
	if (w->out == &w->own) {
		rc = lc_buf_take(w->out, bytes, len, err);
	} else {
		*bytes = w->out->data;
		*len = w->out->len;
	}
	if (rc) {
		lc_free(df.fields);
		lc_free(df.column_indices);
		goto out;
	}
	if (df_out)
		*df_out = df;
	w->broken = true;	/* finished: no more adds */
out:
	lc_buf_reset(&p.b);
	lc_free(cmo);
	return rc;
}

void lance_writer_free(struct lance_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_cols; i++) {
		for (size_t k = 0; k < w->cols[i].n_pages; k++)
			lc_free(w->cols[i].pages[k].any);
		lc_free(w->cols[i].pages);
	}
	lc_free(w->cols);
	pend_reset(w);
	lc_free(w->pend);
	lc_free(w->top);
	lc_buf_reset(&w->own);
	lc_free(w);
}

void lance_writer_build_in(struct lance_writer *w, struct lc_buf *buf)
{
	lc_buf_clear(buf);
	w->out = buf;
}
