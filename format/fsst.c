/*
 * fsst.c - FSST string decompression (file-format.md 4.7.5).
 *
 * Symbol table: u64 header = magic << 32 | encoder_on << 24 |
 * suffix_lim << 16 | terminator << 8 | n_symbols, then n_symbols u64
 * symbols (bytes in string order), then n_symbols one-byte lengths.
 * A code byte c < 255 emits the first len[c] bytes of symbol c; 255 is an
 * escape followed by one literal byte.
 */
#include "lance_int.h"

int lance__fsst_parse(struct lance_fsst *out, const uint8_t *tab,
		      size_t len, struct lc_err *err)
{
	uint64_t hdr;
	unsigned n;

	memset(out, 0, sizeof(*out));
	if (len < 8)
		return LC_CORRUPT(err, "fsst symbol table of %zu bytes", len);
	hdr = lc_le64(tab);
	if ((hdr >> 32) != 0x46535354u)
		return LC_CORRUPT(err, "fsst symbol table has magic %08x",
				  (unsigned)(hdr >> 32));
	n = (unsigned)(hdr & 0xff);
	out->on = (hdr >> 24) & 1;
	if (n > 255 || (uint64_t)n * 9 > len - 8)
		return LC_CORRUPT(err, "fsst symbol table claims %u symbols "
				  "in %zu bytes", n, len);
	out->n = n;
	for (unsigned i = 0; i < n; i++) {
		memcpy(out->sym[i], tab + 8 + 8 * (size_t)i, 8);
		out->len[i] = tab[8 + 8 * (size_t)n + i];
		if (out->len[i] < 1 || out->len[i] > 8)
			return LC_CORRUPT(err, "fsst symbol %u has length %u",
					  i, out->len[i]);
	}
	return 0;
}

size_t lance__fsst_decoded_len(const struct lance_fsst *t,
			       const uint8_t *in, size_t len)
{
	size_t n = 0;

	if (!t->on)
		return len;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == 255) {
			if (++i >= len)
				return SIZE_MAX;
			n++;
		} else if (in[i] < t->n) {
			n += t->len[in[i]];
		} else {
			return SIZE_MAX;
		}
	}
	return n;
}

void lance__fsst_decode(const struct lance_fsst *t, const uint8_t *in,
			size_t len, uint8_t *out)
{
	if (!t->on) {
		memcpy(out, in, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (in[i] == 255) {
			*out++ = in[++i];
		} else {
			memcpy(out, t->sym[in[i]], t->len[in[i]]);
			out += t->len[in[i]];
		}
	}
}
