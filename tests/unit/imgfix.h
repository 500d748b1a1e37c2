/*
 * imgfix.h - real images made in memory for the -o validate_images tests:
 * JPEGs from TurboJPEG's encoder, PNGs written chunk by chunk with zlib
 * (signature, IHDR, IDAT, IEND, each with its CRC).
 */
#ifndef IMGFIX_H
#define IMGFIX_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>
#include <zlib.h>

/* A w x h gradient in pixel format `pf`, encoded with `samp` (TJSAMP_*)
 * and `flags` (0, TJFLAG_PROGRESSIVE). Returns a malloc'd buffer of
 * *n bytes, or NULL. */
static inline uint8_t *imgfix_jpeg(int w, int h, int pf, int samp, int flags,
				   size_t *n)
{
	int ps = tjPixelSize[pf];
	uint8_t *src = malloc((size_t)w * (size_t)h * (size_t)ps);
	unsigned char *jpg = NULL;
	unsigned long len = 0;
	uint8_t *out = NULL;
	tjhandle tj = tjInitCompress();

	if (!src || !tj)
		goto done;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < ps; c++)
				src[((size_t)y * w + x) * ps + c] =
					(uint8_t)(x * 4 + y * 2 + c * 50);
	if (tjCompress2(tj, src, w, w * ps, h, pf, &jpg, &len, samp, 90,
			flags) < 0)
		goto done;
	out = malloc(len);
	if (out) {
		memcpy(out, jpg, len);
		*n = len;
	}
done:
	tjFree(jpg);
	if (tj)
		tjDestroy(tj);
	free(src);
	return out;
}

static inline void imgfix_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Recompute the CRC of the chunk at `off` (after editing its data). */
static inline void imgfix_png_crc(uint8_t *png, size_t off)
{
	uint32_t len = (uint32_t)png[off] << 24 | (uint32_t)png[off + 1] << 16 |
		       (uint32_t)png[off + 2] << 8 | png[off + 3];

	imgfix_put32(png + off + 8 + len,
		     (uint32_t)crc32(0, png + off + 4, len + 4));
}

static inline size_t imgfix_chunk(uint8_t *out, const char *type,
				  const uint8_t *data, uint32_t len)
{
	imgfix_put32(out, len);
	memcpy(out + 4, type, 4);
	if (len)
		memcpy(out + 8, data, len);
	imgfix_put32(out + 8 + len, (uint32_t)crc32(0, out + 4, len + 4));
	return 12 + (size_t)len;
}

/* Byte offsets of the chunks in imgfix_png's output. */
#define IMGFIX_PNG_IHDR 8
#define IMGFIX_PNG_IDAT 33

/* A w x h 8-bit RGB gradient PNG: signature, IHDR, one IDAT, IEND.
 * Returns a malloc'd buffer of *n bytes, or NULL. */
static inline uint8_t *imgfix_png(uint32_t w, uint32_t h, size_t *n)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
					'\n' };
	size_t stride = 1 + (size_t)w * 3, raw_len = stride * h;
	uLongf z_len = compressBound((uLong)raw_len);
	uint8_t *raw = malloc(raw_len), *z = malloc(z_len);
	uint8_t *png = malloc(8 + 25 + 12 + z_len + 12);
	uint8_t ihdr[13] = { 0 };
	size_t off = 0;

	if (!raw || !z || !png)
		goto fail;
	for (uint32_t y = 0; y < h; y++) {
		raw[y * stride] = 0;	/* filter type None */
		for (size_t i = 1; i < stride; i++)
			raw[y * stride + i] = (uint8_t)(i * 3 + y * 5);
	}
	if (compress2(z, &z_len, raw, (uLong)raw_len, 9) != Z_OK)
		goto fail;
	imgfix_put32(ihdr, w);
	imgfix_put32(ihdr + 4, h);
	ihdr[8] = 8;		/* bit depth */
	ihdr[9] = 2;		/* truecolour */
	memcpy(png, sig, 8);
	off = 8;
	off += imgfix_chunk(png + off, "IHDR", ihdr, 13);
	off += imgfix_chunk(png + off, "IDAT", z, (uint32_t)z_len);
	off += imgfix_chunk(png + off, "IEND", NULL, 0);
	free(raw);
	free(z);
	*n = off;
	return png;
fail:
	free(raw);
	free(z);
	free(png);
	return NULL;
}

#endif
