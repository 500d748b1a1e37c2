/* fuzz_kinds.c - the sniffed-kinds file (fs/kinds.c), which comes from
 * cache_dir=, a directory anyone may have written to. The first byte is
 * flags: bit 0 repairs the trailing crc so the fuzzer gets past it. The
 * key and row count asked for are the ones the file claims (bounded), so
 * decoding gets to the codes. Checks: an accepted file holds only known
 * codes and encodes back to exactly its bytes. */
#include "kinds.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf, *codes = NULL;
	char *key = NULL;
	struct lc_buf again;
	uint64_t rows;
	uint32_t klen;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	if (n < 32 || !(buf = malloc(n)))
		return 0;
	memcpy(buf, data + 1, n);
	if (data[0] & 1)
		lc_put_le32(buf + n - 4, lc_crc32(buf, n - 4));
	rows = lc_le64(buf + 16);
	klen = lc_le32(buf + 24);
	if (rows > n || klen > n - 28)
		goto out;
	key = malloc((size_t)klen + 1);
	codes = malloc((size_t)rows + 1);
	if (!key || !codes)
		goto out;
	memcpy(key, buf + 28, klen);
	key[klen] = 0;
	if (kinds_decode(buf, n, key, rows, codes))
		goto out;
	for (uint64_t i = 0; i < rows; i++)
		if (codes[i] >= KIND_EXT0 + RENDER_SNIFF_N)
			abort();
	lc_buf_init(&again, 0);
	if (kinds_encode(&again, key, codes, rows, NULL) || again.len != n ||
	    memcmp(again.data, buf, n))
		abort();
	lc_buf_reset(&again);
out:
	free(codes);
	free(key);
	free(buf);
	return 0;
}
