/*
 * cache.h - the read cache's on-disk format, for cache.c and its fuzz
 * target. Nothing here is for the layers above: they see the cache only
 * through ostore.h (ostore_cache_wrap, ostore_cache_warm, stats).
 *
 * A chunk file holds up to CACHE_CHUNK_BLOCKS blocks of one object's
 * content (one identity: store root, key, etag, size):
 *
 *   [0, 68)       header: "lancefsC", version, block size, blocks per
 *                 chunk, chunk index, object size (le64), the 32-byte
 *                 identity digest, crc32 of the preceding 64 bytes
 *   [128, 4224)   one 16-byte slot per block: "LFB1", length, crc32 of
 *                 the block's bytes, crc32 of (block index, first 12
 *                 slot bytes); all zero while the block is absent
 *   [8192, ...)   block i of the chunk at 8192 + i * CACHE_BLOCK
 *
 * All integers little-endian. Everything read back is untrusted: a block
 * is served only if the header names the wanted content, the slot is
 * intact and has the length the object's size implies, and the bytes
 * match the slot's crc.
 */
#ifndef OSTORE_CACHE_H
#define OSTORE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_BLOCK ((uint32_t)64 * 1024)
#define CACHE_CHUNK_BLOCKS 256u		/* 16 MiB of content per file */
#define CACHE_VERSION 1u
#define CACHE_HDR_LEN 68u
#define CACHE_SLOT_OFF 128u
#define CACHE_SLOT_LEN 16u
#define CACHE_DATA_OFF 8192u

_Static_assert(CACHE_SLOT_OFF + CACHE_CHUNK_BLOCKS * CACHE_SLOT_LEN <=
	       CACHE_DATA_OFF, "slot table overlaps the data");
_Static_assert(CACHE_HDR_LEN <= CACHE_SLOT_OFF, "header overlaps slots");

struct cache_hdr {
	uint32_t chunk;
	uint64_t size;		/* the whole object's, in bytes */
	uint8_t id[32];		/* digest of root, key, etag, size */
};

void cache_hdr_encode(uint8_t out[CACHE_HDR_LEN], const struct cache_hdr *h);
/* 0 if the first `n` bytes of a chunk file hold a valid header naming
 * exactly `want`; EIO otherwise. */
int cache_hdr_check(const uint8_t *area, size_t n, const struct cache_hdr *want);
/* Decode a header without comparing it to anything (fuzzing, tools). */
int cache_hdr_decode(const uint8_t *area, size_t n, struct cache_hdr *out);

void cache_slot_encode(uint8_t out[CACHE_SLOT_LEN], uint32_t idx,
		       uint32_t len, uint32_t crc);
/* The slot of block `idx` (within the chunk) in the first `n` bytes of a
 * chunk file: 0 and the data's crc if it is intact and records exactly
 * `want_len` bytes; ENOENT if absent or damaged. */
int cache_slot_check(const uint8_t *area, size_t n, uint32_t idx,
		     uint32_t want_len, uint32_t *crc);

/* Bytes of block `idx` of an object of `size` bytes (0 past its end). */
static inline uint32_t cache_block_len(uint64_t size, uint64_t idx)
{
	uint64_t off = idx * CACHE_BLOCK;

	if (off >= size)
		return 0;
	return size - off < CACHE_BLOCK ? (uint32_t)(size - off)
					 : CACHE_BLOCK;
}

#endif
