/*
 * delwrite.c - writing deletion files (table-format.md section 4): an
 * uncompressed Arrow IPC file holding one UInt32 column `row_id` (.arrow),
 * or a portable Roaring bitmap in the no-run layout (.bin).
 *
 * The Arrow metadata are FlatBuffers, built here back to front the way
 * FlatBuffers builders do (children first, so every uoffset points
 * forward); the few tables we need are spelled out in arrow_* below.
 */
#include "lance_int.h"

#include <roaring/roaring.h>

/* Room for any of our flatbuffers: a schema of one field, a batch of one
 * column, a footer of one block. */
#define FBB_CAP 1024
#define FBB_MAX_FIELDS 8

struct fbb {
	uint8_t buf[FBB_CAP];
	size_t used;		/* bytes in use at the end of buf */
	size_t minalign;
	size_t vt[FBB_MAX_FIELDS];	/* `used` after each field; 0 absent */
	unsigned nf;
	size_t tstart;
};

/* Objects are named by `used` just after they were written: their
 * distance from the end of the finished buffer. */

static void fbb_push(struct fbb *b, const void *p, size_t n)
{
	/* Every caller stays far below FBB_CAP; see FBB_CAP. */
	b->used += n;
	memcpy(b->buf + FBB_CAP - b->used, p, n);
}

static void fbb_pad(struct fbb *b, size_t n)
{
	static const uint8_t zero[8];

	fbb_push(b, zero, n);
}

/* Pad so that after `extra` more bytes the position is `align`-aligned. */
static void fbb_prep(struct fbb *b, size_t align, size_t extra)
{
	if (align > b->minalign)
		b->minalign = align;
	fbb_pad(b, (align - ((b->used + extra) & (align - 1))) & (align - 1));
}

static void fbb_u8(struct fbb *b, uint8_t v)
{
	fbb_push(b, &v, 1);
}

static void fbb_u16(struct fbb *b, uint16_t v)
{
	uint8_t le[2];

	fbb_prep(b, 2, 0);
	lc_put_le16(le, v);
	fbb_push(b, le, 2);
}

static void fbb_u32(struct fbb *b, uint32_t v)
{
	uint8_t le[4];

	fbb_prep(b, 4, 0);
	lc_put_le32(le, v);
	fbb_push(b, le, 4);
}

static void fbb_u64(struct fbb *b, uint64_t v)
{
	uint8_t le[8];

	fbb_prep(b, 8, 0);
	lc_put_le64(le, v);
	fbb_push(b, le, 8);
}

static void fbb_uoffset(struct fbb *b, size_t obj)
{
	fbb_prep(b, 4, 0);
	fbb_u32(b, (uint32_t)(b->used + 4 - obj));
}

static size_t fbb_string(struct fbb *b, const char *s)
{
	size_t n = strlen(s);

	fbb_prep(b, 4, n + 1);
	fbb_pad(b, 1);
	fbb_push(b, s, n);
	fbb_u32(b, (uint32_t)n);
	return b->used;
}

/* A vector of `n` structs of `size` bytes each, given in order. */
static size_t fbb_struct_vec(struct fbb *b, const uint8_t *elems, size_t n,
			     size_t size, size_t align)
{
	fbb_prep(b, 4, n * size);
	fbb_prep(b, align, n * size);
	for (size_t i = n; i-- > 0;)
		fbb_push(b, elems + i * size, size);
	fbb_u32(b, (uint32_t)n);
	return b->used;
}

static size_t fbb_offset_vec(struct fbb *b, const size_t *objs, size_t n)
{
	fbb_prep(b, 4, 4 * n);
	for (size_t i = n; i-- > 0;)
		fbb_uoffset(b, objs[i]);
	fbb_u32(b, (uint32_t)n);
	return b->used;
}

static void fbb_start(struct fbb *b, unsigned nf)
{
	memset(b->vt, 0, sizeof(b->vt));
	b->nf = nf;
	b->tstart = b->used;
}

static void fbb_field_u8(struct fbb *b, unsigned i, uint8_t v)
{
	fbb_u8(b, v);
	b->vt[i] = b->used;
}

static void fbb_field_u16(struct fbb *b, unsigned i, uint16_t v)
{
	fbb_u16(b, v);
	b->vt[i] = b->used;
}

static void fbb_field_u32(struct fbb *b, unsigned i, uint32_t v)
{
	fbb_u32(b, v);
	b->vt[i] = b->used;
}

static void fbb_field_u64(struct fbb *b, unsigned i, uint64_t v)
{
	fbb_u64(b, v);
	b->vt[i] = b->used;
}

static void fbb_field_off(struct fbb *b, unsigned i, size_t obj)
{
	fbb_uoffset(b, obj);
	b->vt[i] = b->used;
}

/* Writes the soffset and, before it, the vtable. */
static size_t fbb_end(struct fbb *b)
{
	size_t tab, vtab;
	uint8_t le[4];

	fbb_u32(b, 0);
	tab = b->used;
	for (unsigned i = b->nf; i-- > 0;)
		fbb_u16(b, (uint16_t)(b->vt[i] ? tab - b->vt[i] : 0));
	fbb_u16(b, (uint16_t)(tab - b->tstart));
	fbb_u16(b, (uint16_t)(4 + 2 * b->nf));
	vtab = b->used;
	lc_put_le32(le, (uint32_t)(vtab - tab));
	memcpy(b->buf + FBB_CAP - tab, le, 4);
	return tab;
}

/* The finished buffer, padded at the end to 8 bytes. */
static const uint8_t *fbb_finish(struct fbb *b, size_t root, size_t *len)
{
	fbb_prep(b, b->minalign > 8 ? b->minalign : 8, 4);
	fbb_uoffset(b, root);
	*len = b->used;
	return b->buf + FBB_CAP - b->used;
}

/* Arrow Schema { endianness Little, fields [row_id: Int{32, unsigned}] } */
static size_t arrow_schema(struct fbb *b)
{
	size_t name, itype, field, fields, children;

	name = fbb_string(b, "row_id");
	children = fbb_offset_vec(b, NULL, 0);
	fbb_start(b, 2);
	fbb_field_u32(b, 0, 32);	/* bitWidth */
	fbb_field_u8(b, 1, 0);		/* is_signed */
	itype = fbb_end(b);
	fbb_start(b, 6);
	fbb_field_off(b, 0, name);
	fbb_field_off(b, 3, itype);
	fbb_field_off(b, 5, children);
	fbb_field_u8(b, 1, 0);		/* nullable */
	fbb_field_u8(b, 2, 2);		/* type_type: Int */
	field = fbb_end(b);
	fields = fbb_offset_vec(b, &field, 1);
	fbb_start(b, 2);
	fbb_field_off(b, 1, fields);
	fbb_field_u16(b, 0, 0);		/* endianness: Little */
	return fbb_end(b);
}

/* Message { version V5, header_type, header, bodyLength } */
static size_t arrow_message(struct fbb *b, uint8_t type, size_t header,
			    uint64_t body_len)
{
	fbb_start(b, 4);
	fbb_field_u64(b, 3, body_len);
	fbb_field_off(b, 2, header);
	fbb_field_u16(b, 0, 4);		/* MetadataVersion.V5 */
	fbb_field_u8(b, 1, type);
	return fbb_end(b);
}

/* Appends an encapsulated message: continuation, length, flatbuffer. */
static int put_message(struct lc_buf *out, struct fbb *b, size_t root,
		       uint32_t *meta_len, struct lc_err *err)
{
	uint8_t pre[8];
	const uint8_t *fb;
	size_t len;
	int rc;

	fb = fbb_finish(b, root, &len);
	lc_put_le32(pre, 0xffffffffu);
	lc_put_le32(pre + 4, (uint32_t)len);
	rc = lc_buf_append(out, pre, 8, err);
	if (!rc)
		rc = lc_buf_append(out, fb, len, err);
	*meta_len = (uint32_t)(8 + len);
	return rc;
}

int lance_deletion_write_arrow(uint8_t **out, size_t *out_len,
			       const uint32_t *offsets, size_t n,
			       struct lc_err *err)
{
	static const uint8_t magic[8] = "ARROW1\0";
	struct lc_buf buf;
	struct fbb *b;
	uint8_t nodes[16], bufs[32], block[24], le[8];
	uint64_t body_len = ((uint64_t)n * 4 + 7) & ~(uint64_t)7;
	uint64_t batch_off;
	uint32_t meta_len, foot_len;
	const uint8_t *fb;
	size_t fb_len, root, schema, rb, vnodes, vbufs, vblocks;
	int rc;

	*out = NULL;
	if (n > UINT32_MAX)
		return LC_USAGE(err, "deletion vector of %zu rows", n);
	b = lc_calloc(1, sizeof(*b));
	if (!b)
		return LC_NOMEM(err);
	lc_buf_init(&buf, 0);
	rc = lc_buf_append(&buf, magic, 8, err);	/* "ARROW1", pad */
	if (rc)
		goto out;

	schema = arrow_schema(b);
	root = arrow_message(b, 1, schema, 0);
	rc = put_message(&buf, b, root, &meta_len, err);
	if (rc)
		goto out;

	/* RecordBatch { length n, nodes [{n, 0}], buffers [validity:
	 * empty, values: n * 4 bytes] } */
	memset(b, 0, sizeof(*b));
	lc_put_le64(nodes, n);
	lc_put_le64(nodes + 8, 0);
	memset(bufs, 0, sizeof(bufs));
	lc_put_le64(bufs + 24, (uint64_t)n * 4);
	vbufs = fbb_struct_vec(b, bufs, 2, 16, 8);
	vnodes = fbb_struct_vec(b, nodes, 1, 16, 8);
	fbb_start(b, 3);
	fbb_field_u64(b, 0, n);
	fbb_field_off(b, 1, vnodes);
	fbb_field_off(b, 2, vbufs);
	rb = fbb_end(b);
	root = arrow_message(b, 3, rb, body_len);
	batch_off = buf.len;
	rc = put_message(&buf, b, root, &meta_len, err);
	for (size_t i = 0; !rc && i < n; i++) {
		lc_put_le32(le, offsets[i]);
		rc = lc_buf_append(&buf, le, 4, err);
	}
	if (!rc && n % 2) {
		memset(le, 0, 4);
		rc = lc_buf_append(&buf, le, 4, err);
	}
	if (rc)
		goto out;
	/* End of stream. */
	lc_put_le32(le, 0xffffffffu);
	lc_put_le32(le + 4, 0);
	rc = lc_buf_append(&buf, le, 8, err);
	if (rc)
		goto out;

	/* Footer { version V5, schema, recordBatches [block] } */
	memset(b, 0, sizeof(*b));
	memset(block, 0, sizeof(block));
	lc_put_le64(block, batch_off);
	lc_put_le32(block + 8, meta_len);
	lc_put_le64(block + 16, body_len);
	vblocks = fbb_struct_vec(b, block, 1, 24, 8);
	schema = arrow_schema(b);
	fbb_start(b, 4);
	fbb_field_off(b, 1, schema);
	fbb_field_off(b, 3, vblocks);
	fbb_field_u16(b, 0, 4);
	root = fbb_end(b);
	fb = fbb_finish(b, root, &fb_len);
	foot_len = (uint32_t)fb_len;
	rc = lc_buf_append(&buf, fb, fb_len, err);
	lc_put_le32(le, foot_len);
	if (!rc)
		rc = lc_buf_append(&buf, le, 4, err);
	if (!rc)
		rc = lc_buf_append(&buf, magic, 6, err);
	if (!rc)
		rc = lc_buf_take(&buf, out, out_len, err);
out:
	lc_buf_reset(&buf);
	lc_free(b);
	return rc;
}

int lance_deletion_write_bitmap(uint8_t **out, size_t *out_len,
				const uint32_t *offsets, size_t n,
				struct lc_err *err)
{
	roaring_bitmap_t *r;
	size_t len;
	int rc = 0;

	*out = NULL;
	r = roaring_bitmap_create();
	if (!r)
		return LC_NOMEM(err);
	roaring_bitmap_add_many(r, n, offsets);
	/* No run_optimize: the no-run layout (cookie 12346). */
	len = roaring_bitmap_portable_size_in_bytes(r);
	*out = lc_malloc(len);
	if (!*out) {
		rc = LC_NOMEM(err);
	} else if (roaring_bitmap_portable_serialize(r, (char *)*out) !=
		   len) {
		lc_free(*out);
		*out = NULL;
		rc = LC_SYS(err, EIO, "roaring: serialized size changed");
	}
	roaring_bitmap_free(r);
	if (!rc)
		*out_len = len;
	return rc;
}
