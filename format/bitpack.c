/*
 * bitpack.c - FastLanes unpacking (file-format.md 4.8).
 *
 * A block is 1024 values of t bits (t = 8, 16, 32, 64) packed to w bits,
 * stored as w * (1024 / t) words of t bits. With LANES = 1024 / t, lane l
 * holds the values of rows 0..t-1 as a stream of w-bit fields, row r's
 * field at bit r * w of the lane; bit p of a lane is bit p % t of word
 * LANES * (p / t) + l. Row r of lane l is value
 *   ORDER[r / 8] * 16 + (r % 8) * 128 + l,  ORDER = 0 4 2 6 1 5 3 7.
 */
#include "lance_int.h"

static const unsigned fl_order[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };

static uint64_t load_word(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void store_word(uint8_t *p, unsigned bytes, uint64_t v)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void lance__fl_unpack(unsigned t, unsigned w, const uint8_t *in,
		      uint8_t *out)
{
	unsigned lanes = 1024 / t, bytes = t / 8;
	uint64_t mask = w >= 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1;

	for (unsigned lane = 0; lane < lanes; lane++) {
		for (unsigned row = 0; row < t; row++) {
			unsigned idx = fl_order[row / 8] * 16 +
				       (row % 8) * 128 + lane;
			uint64_t v = 0;

			if (w) {
				uint64_t p = (uint64_t)row * w;
				unsigned word = (unsigned)(p / t);
				unsigned bit = (unsigned)(p % t);
				uint64_t lo = load_word(
					in + ((size_t)lanes * word + lane) *
						     bytes, bytes);

				v = lo >> bit;
				if (bit + w > t) {
					uint64_t hi = load_word(
						in + ((size_t)lanes *
						      (word + 1) + lane) *
							     bytes, bytes);

					v |= hi << (t - bit);
				}
				v &= mask;
			}
			store_word(out + (size_t)idx * bytes, bytes, v);
		}
	}
}
