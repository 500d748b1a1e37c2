/*
 * fuzz_v21_page.c - one 2.1+ page decoded from bytes, no I/O, and
 * windows of its first rows (lance__v21_page_window).
 *
 * Input: u16 layout length L, u8 buffer count B (mod 8), B x u32 buffer
 * sizes, u32 page rows, u32 first row, u32 row count, then L bytes of
 * PageLayout protobuf and the buffers back to back (sizes are clipped to
 * what is left). Seeds are real pages of the tests/data/v21 files.
 */
#include <stdlib.h>
#include <string.h>

#include "lance_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *bufs[8] = { 0 };
	uint8_t *copies[8] = { 0 };
	uint64_t sizes[8];
	size_t pos, enc_len, nb;
	uint64_t rows, row, n;
	struct lc_err err = { 0 };

	if (size < 3)
		return 0;
	enc_len = lc_le16(data);
	nb = data[2] % 8;
	pos = 3;
	if (size - pos < nb * 4 + 12)
		return 0;
	for (size_t i = 0; i < nb; i++, pos += 4)
		sizes[i] = lc_le32(data + pos);
	rows = lc_le32(data + pos) % (1u << 20);
	row = lc_le32(data + pos + 4);
	n = lc_le32(data + pos + 8) % 4096;
	pos += 12;
	if (enc_len > size - pos)
		enc_len = size - pos;
	{
		/* tightly sized copies so ASan sees any over-read */
		uint8_t *enc = malloc(enc_len ? enc_len : 1);

		memcpy(enc, data + pos, enc_len);
		pos += enc_len;
		for (size_t i = 0; i < nb; i++) {
			if (sizes[i] > size - pos)
				sizes[i] = size - pos;
			copies[i] = malloc(sizes[i] ? sizes[i] : 1);
			memcpy(copies[i], data + pos, sizes[i]);
			bufs[i] = copies[i];
			pos += sizes[i];
		}
		if (row < rows && n <= rows - row) {
			int rc = lance__v21_page_decode(enc, enc_len, rows,
							bufs, sizes, nb, row,
							n, &err);

			(void)rc;	/* errors are fine, crashes are not */
			/* windows of the first rows asked */
			for (uint64_t r = row; r < row + n && r < row + 3;
			     r++) {
				uint8_t dst[64];
				struct lance_win w = { dst, r - row, 64, 0,
						       false, 0 };
				struct lc_err werr = { 0 };

				rc = lance__v21_page_window(&w, enc, enc_len,
							    rows, bufs, sizes,
							    nb, r, &werr);
				if (rc == LANCE_WINDOW_DECODE && werr.code)
					abort();
			}
		}
		free(enc);
		for (size_t i = 0; i < nb; i++)
			free(copies[i]);
	}
	return 0;
}
