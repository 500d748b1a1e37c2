/*
 * fuzz_v20_page.c - one 2.0 page decoded from bytes, no I/O
 * (lance__v20_decode_page), and windows of its first row asked
 * (lance__v20_page_window), which must agree with the decode. Input:
 *   u8 type, u16 page_rows, u16 a, u16 b, u8 n_buffers, u16 enc_len,
 *   enc bytes, then per buffer u16 size + bytes (cut short at the end).
 * Each buffer gets its own exactly sized allocation so ASan sees a
 * one-byte over-read. Seeds: real pages of tests/data/v20/ (see
 * tests/fuzz/gen_v20_seeds.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lance_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lance_type t_f32 = { .id = LANCE_T_FLOAT32 };
static struct lance_type t_i32 = { .id = LANCE_T_INT32 };
static struct lance_type types[] = {
	{ .id = LANCE_T_INT32 },
	{ .id = LANCE_T_BOOL },
	{ .id = LANCE_T_UTF8 },
	{ .id = LANCE_T_BINARY },
	{ .id = LANCE_T_FIXED_LIST, .width = 4, .item = &t_f32 },
	{ .id = LANCE_T_FIXED_BINARY, .width = 5 },
	{ .id = LANCE_T_DECIMAL128 },
	{ .id = LANCE_T_UINT64 },
	{ .id = LANCE_T_STRUCT },
	{ .id = LANCE_T_INT8 },
	{ .id = LANCE_T_FLOAT64 },
	{ .id = LANCE_T_LIST },
};

static struct lance_field kid_a = { .name = (char *)"a", .type =
					    { .id = LANCE_T_INT32 } };
static struct lance_field kid_b = { .name = (char *)"b", .type =
					    { .id = LANCE_T_INT32 } };
static struct lance_field *kids[2] = { &kid_a, &kid_b };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lance_field packed = { .name = (char *)"p", .packed = true,
				      .children = kids, .n_children = 2 };
	const uint8_t *p = data, *end = data + size;
	uint8_t *bufs[4] = { 0 };
	uint64_t sizes[4] = { 0 };
	struct lance_array a;
	struct lc_err err = { 0 };
	unsigned ti, rows, lo, hi, nb, elen;
	uint8_t *enc;

	(void)t_i32;
	if (size < 10)
		return 0;
	ti = p[0] % (sizeof(types) / sizeof(types[0]));
	rows = lc_le16(p + 1) % 4097;
	lo = lc_le16(p + 3);
	hi = lc_le16(p + 5);
	nb = p[7] % 5;
	elen = lc_le16(p + 8);
	p += 10;
	if (hi > rows)
		hi = rows;
	if (lo > hi)
		lo = hi;
	if (elen > (size_t)(end - p))
		elen = (unsigned)(end - p);
	enc = malloc(elen ? elen : 1);
	memcpy(enc, p, elen);
	p += elen;
	for (unsigned i = 0; i < nb; i++) {
		size_t len = 0;

		if (end - p >= 2) {
			len = lc_le16(p);
			p += 2;
		}
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		bufs[i] = malloc(len ? len : 1);
		memcpy(bufs[i], p, len);
		sizes[i] = len;
		p += len;
	}
	packed.type.id = LANCE_T_STRUCT;
	if (lance__v20_decode_page(&a, &types[ti], &packed, enc, elen,
				   (const uint8_t *const *)bufs, sizes, nb,
				   rows, lo, hi, &err))
		memset(&a, 0, sizeof(a));
	if (lo < rows) {
		/* windows of row lo; where the decode gave that row too
		 * (a string or binary page), they must agree with it */
		static const struct {
			uint64_t off;
			size_t len;
		} wins[] = { { 0, 64 }, { 1, 5 }, { 70000, 3 } };
		bool var = types[ti].id == LANCE_T_UTF8 ||
			   types[ti].id == LANCE_T_BINARY;

		for (size_t k = 0; k < sizeof(wins) / sizeof(wins[0]); k++) {
			uint8_t dst[64];
			struct lance_win w = { dst, wins[k].off, wins[k].len,
					       0, false, 0 };
			struct lc_err werr = { 0 };
			int rc = lance__v20_page_window(
				&w, enc, elen, (const uint8_t *const *)bufs,
				sizes, nb, rows, lo, &werr);

			if (rc == LANCE_WINDOW_DECODE && werr.code)
				abort();
			if (!rc && var && lo < hi && a.offsets &&
			    a.length == hi - lo) {
				bool v = lance_array_is_valid(&a, 0);
				uint64_t sz = v ? a.offsets[1] - a.offsets[0]
						: 0;
				size_t want = !v || w.off >= sz ? 0 :
					      sz - w.off < w.len ?
					      (size_t)(sz - w.off) : w.len;

				if (v != w.valid || (v && sz != w.size) ||
				    w.got != want ||
				    (want && memcmp(dst, a.values +
						    a.offsets[0] + w.off,
						    want)))
					abort();
			}
		}
	}
	lance_array_reset(&a);
	for (unsigned i = 0; i < nb; i++)
		free(bufs[i]);
	free(enc);
	return 0;
}
