/* fuzz_cache_chunk.c - the disk cache's chunk-file header and block slots
 * (objstore/cache.h), which come from a directory anyone may have written
 * to. The first byte is flags: bit 0 repairs the header crc, bit 1 each
 * slot's own crc, so the fuzzer gets past them. The rest is a chunk file's
 * first bytes. Checks the invariants cache.c relies on: a header that
 * decodes also checks against itself, and an accepted slot's block has a
 * length in (0, CACHE_BLOCK] equal to the one asked for. */
#include "cache.h"
#include "lc.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void repair_slot(uint8_t *buf, size_t n, uint32_t idx)
{
	size_t at = CACHE_SLOT_OFF + (size_t)idx * CACHE_SLOT_LEN;

	if (!lc_range_ok(at, CACHE_SLOT_LEN, n))
		return;
	cache_slot_encode(buf + at, idx, lc_le32(buf + at + 4),
			  lc_le32(buf + at + 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_hdr h, zero = { 0 };
	uint8_t flags, *buf;
	size_t n;

	if (size < 1)
		return 0;
	flags = data[0];
	n = size - 1;
	buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);
	if ((flags & 1) && n >= CACHE_HDR_LEN)
		lc_put_le32(buf + 64, lc_crc32(buf, 64));
	if (cache_hdr_decode(buf, n, &h)) {
		(void)cache_hdr_check(buf, n, &zero);
		goto out;
	}
	if (cache_hdr_check(buf, n, &h))
		abort();
	for (uint32_t i = 0; i < CACHE_CHUNK_BLOCKS; i++) {
		uint64_t idx = (uint64_t)h.chunk * CACHE_CHUNK_BLOCKS + i;
		uint32_t len = cache_block_len(h.size, idx), want;
		uint64_t at = CACHE_DATA_OFF + (uint64_t)i * CACHE_BLOCK;

		if (flags & 2)
			repair_slot(buf, n, i);
		if (cache_slot_check(buf, n, i, len, &want))
			continue;
		if (!len || len > CACHE_BLOCK)
			abort();
		/* what cache.c does next, with pread instead of memory */
		if (lc_range_ok(at, len, n))
			(void)(lc_crc32(buf + at, len) == want);
	}
out:
	free(buf);
	return 0;
}
