/*
 * imgcheck.h - can a reader open this file as the image it claims to be?
 * The check behind -o validate_images, run on a binary column's bytes
 * before a staged row becomes a Lance row. Knows nothing of FUSE or Lance.
 *
 * Which format: the content wins when its first bytes are a known magic
 * (FF D8 FF: JPEG; the 8-byte PNG signature: PNG), whatever the name
 * says; otherwise the extension decides (jpg, jpeg, jpe, jfif: JPEG; png:
 * PNG; any case). Anything else passes unchecked.
 *
 *   JPEG  decodes completely with TurboJPEG at 1/8 scale; a warning
 *         (truncated data, corrupt entropy data, extraneous bytes) is an
 *         error, as are more than 500 progressive scans and more pixels
 *         than PIL opens (2 * 89478485, its decompression-bomb limit).
 *   PNG   signature, IHDR first (length 13, width and height 1..2^31-1,
 *         a legal bit depth for the color type, methods 0, interlace 0 or
 *         1), every chunk whole, a correct CRC on every critical chunk
 *         (as libpng demands; ancillary chunks are not checked), PLTE
 *         before IDAT for palette images, at least one IDAT, and IEND.
 *         Bytes after IEND are ignored, as libpng and PIL ignore them.
 *         The compressed pixel data itself is not inflated.
 *
 * Thread-safe: no global state; every call uses its own decoder.
 */
#ifndef LANCEFS_IMGCHECK_H
#define LANCEFS_IMGCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "lc.h"

/* Pixels above which a JPEG is refused (PIL's DecompressionBombError). */
#define IMGCHECK_MAX_PIXELS 178956970ull

/*
 * Check the `n` bytes at `p` (p may be NULL when n is 0). `ext` is the
 * file's extension, with or without its leading dot; NULL or "" for none.
 * Returns 0 when the file passes. A file that fails is EINVAL with kind
 * LC_EK_USAGE and a message naming the reason ("not a decodable JPEG:
 * Premature end of JPEG file", "PNG header: bad CRC"); the caller adds
 * which file it was. ENOMEM when a decoder cannot be set up.
 */
int imgcheck(const uint8_t *p, size_t n, const char *ext,
	     struct lc_err *err) LC_MUST_USE;

#endif
