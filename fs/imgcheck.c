/*
 * imgcheck.c - the checks of -o validate_images (see imgcheck.h).
 *
 * JPEG. TurboJPEG (libjpeg-turbo 2.1 as in Debian 12) decodes the whole
 * stream: at 1/8 scale the inverse DCT shrinks to the DC term, but every
 * scan is still entropy-decoded, so truncated or corrupt data is found.
 * TJFLAG_STOPONWARNING turns libjpeg's warnings ("Premature end of JPEG
 * file", "Corrupt JPEG data: ...") into errors; TJFLAG_LIMITSCANS stops
 * progressive files built to take forever. The handle is made and freed
 * per call: TurboJPEG handles must not be shared between threads, and its
 * error text is per handle or thread-local. The pixel cap comes before
 * decoding because a progressive JPEG makes libjpeg allocate a
 * coefficient buffer for the whole image, whatever the output scale.
 *
 * PNG. A walk over the chunks (PNG specification §5.3): a chunk is a
 * 4-byte big-endian length (at most 2^31-1), a 4-byte type of ASCII
 * letters, the data, and a CRC-32 over type and data. Bit 5 of the first
 * type byte clear marks a critical chunk.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>

#include <turbojpeg.h>

#include "imgcheck.h"

_Static_assert(sizeof(size_t) <= sizeof(unsigned long),
	       "TurboJPEG takes sizes as unsigned long");

static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
				    '\n' };

enum img_kind { IMG_OTHER, IMG_JPEG, IMG_PNG };

static enum img_kind sniff(const uint8_t *p, size_t n, const char *ext)
{
	static const char *const jpeg_exts[] = { "jpg", "jpeg", "jpe",
						 "jfif" };

	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return IMG_JPEG;
	if (n >= sizeof(png_sig) && !memcmp(p, png_sig, sizeof(png_sig)))
		return IMG_PNG;
	if (!ext)
		return IMG_OTHER;
	if (*ext == '.')
		ext++;
	for (size_t i = 0; i < sizeof(jpeg_exts) / sizeof(jpeg_exts[0]); i++)
		if (!strcasecmp(ext, jpeg_exts[i]))
			return IMG_JPEG;
	if (!strcasecmp(ext, "png"))
		return IMG_PNG;
	return IMG_OTHER;
}

/* ---------------------------------------------------------------- JPEG */

/* The smallest scale TurboJPEG offers that is still >= 1/8. */
static tjscalingfactor smallest_scale(void)
{
	tjscalingfactor best = { 1, 1 };
	tjscalingfactor *sf;
	int n = 0;

	sf = tjGetScalingFactors(&n);
	for (int i = 0; sf && i < n; i++) {
		if (sf[i].num <= 0 || sf[i].denom <= 0 ||
		    (long)sf[i].num * 8 < (long)sf[i].denom)
			continue;
		if ((long)sf[i].num * best.denom < (long)best.num * sf[i].denom)
			best = sf[i];
	}
	return best;
}

static int check_jpeg(const uint8_t *p, size_t n, struct lc_err *err)
{
	const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
	int w = 0, h = 0, subsamp = 0, cs = -1, pf, sw, sh;
	tjscalingfactor sc;
	uint8_t *out = NULL;
	size_t out_len;
	tjhandle tj;
	int rc = 0;

	if (n == 0)
		return LC_USAGE(err, "not a decodable JPEG: the file is empty");
	tj = tjInitDecompress();
	if (!tj)
		return LC_SYS(err, ENOMEM, "cannot start a JPEG decoder: %s",
			      tjGetErrorStr2(NULL));
	if (tjDecompressHeader3(tj, p, (unsigned long)n, &w, &h, &subsamp,
				&cs) < 0) {
		rc = LC_USAGE(err, "not a decodable JPEG: %s",
			      tjGetErrorStr2(tj));
		goto out_free;
	}
	if (w < 1 || h < 1) {	/* a tables-only stream has no image */
		rc = LC_USAGE(err, "not a decodable JPEG: no image in it");
		goto out_free;
	}
	if ((uint64_t)w * (uint64_t)h > IMGCHECK_MAX_PIXELS) {
		rc = LC_USAGE(err, "JPEG of %dx%d pixels: more than %llu",
			      w, h, IMGCHECK_MAX_PIXELS);
		goto out_free;
	}
	if (cs == TJCS_GRAY)
		pf = TJPF_GRAY;
	else if (cs == TJCS_CMYK || cs == TJCS_YCCK)
		pf = TJPF_CMYK;	/* libjpeg converts these to nothing else */
	else
		pf = TJPF_RGB;
	sc = smallest_scale();
	sw = TJSCALED(w, sc);
	sh = TJSCALED(h, sc);
	out_len = (size_t)sw * (size_t)sh * (size_t)tjPixelSize[pf];
	out = malloc(out_len);
	if (!out) {
		rc = LC_NOMEM(err);
		goto out_free;
	}
	if (tjDecompress2(tj, p, (unsigned long)n, out, sw,
			  sw * tjPixelSize[pf], sh, pf, flags) < 0)
		rc = LC_USAGE(err, "not a decodable JPEG: %s",
			      tjGetErrorStr2(tj));
out_free:
	free(out);
	tjDestroy(tj);
	return rc;
}

/* ---------------------------------------------------------------- PNG */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool type_ok(const uint8_t *t)
{
	for (int i = 0; i < 4; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= 'a' && t[i] <= 'z')))
			return false;
	return true;
}

/* PNG spec, table 11.1: the bit depths each color type allows. */
static bool depth_ok(unsigned color, unsigned depth)
{
	switch (color) {
	case 0:		/* greyscale */
		return depth == 1 || depth == 2 || depth == 4 || depth == 8 ||
		       depth == 16;
	case 3:		/* indexed */
		return depth == 1 || depth == 2 || depth == 4 || depth == 8;
	case 2:		/* truecolour */
	case 4:		/* greyscale with alpha */
	case 6:		/* truecolour with alpha */
		return depth == 8 || depth == 16;
	}
	return false;
}

/* The 13 bytes of IHDR's data; its length and CRC are already checked. */
static int check_ihdr(const uint8_t *d, unsigned *color, struct lc_err *err)
{
	uint32_t w = be32(d), h = be32(d + 4);

	if (w < 1 || w > INT32_MAX || h < 1 || h > INT32_MAX)
		return LC_USAGE(err, "PNG header: %" PRIu32 "x%" PRIu32
				" pixels is out of range", w, h);
	if (d[9] != 0 && d[9] != 2 && d[9] != 3 && d[9] != 4 && d[9] != 6)
		return LC_USAGE(err, "PNG header: no color type %u", d[9]);
	if (!depth_ok(d[9], d[8]))
		return LC_USAGE(err, "PNG header: bit depth %u is not allowed "
				"with color type %u", d[8], d[9]);
	if (d[10])
		return LC_USAGE(err, "PNG header: unknown compression method "
				"%u", d[10]);
	if (d[11])
		return LC_USAGE(err, "PNG header: unknown filter method %u",
				d[11]);
	if (d[12] > 1)
		return LC_USAGE(err, "PNG header: unknown interlace method %u",
				d[12]);
	*color = d[9];
	return 0;
}

/* IHDR, the first chunk: its type, length, CRC and fields. `len` is
 * the length field; n - off >= 12. */
static int check_first(const uint8_t *p, size_t n, size_t off, uint32_t len,
		       unsigned *color, struct lc_err *err)
{
	const uint8_t *t = p + off + 4;

	if (!type_ok(t))
		return LC_USAGE(err, "PNG header: bad chunk type");
	if (memcmp(t, "IHDR", 4))
		return LC_USAGE(err, "PNG header: the first chunk is '%.4s', "
				"not 'IHDR'", (const char *)t);
	if (len != 13)
		return LC_USAGE(err, "PNG header: IHDR of %" PRIu32 " bytes, "
				"not 13", len);
	if (n - off < 12 + 13)
		return LC_USAGE(err, "PNG header: truncated IHDR chunk");
	if (lc_crc32(t, 4 + 13) != be32(t + 4 + 13))
		return LC_USAGE(err, "PNG header: bad CRC");
	return check_ihdr(t + 4, color, err);
}

static int check_png(const uint8_t *p, size_t n, struct lc_err *err)
{
	bool plte = false, idat = false;
	unsigned color = 0;
	size_t off = sizeof(png_sig);
	uint32_t len;
	int rc;

	if (n < sizeof(png_sig) || memcmp(p, png_sig, sizeof(png_sig)))
		return LC_USAGE(err, "PNG header: bad signature");
	if (n - off == 0)
		return LC_USAGE(err, "PNG header: no IHDR chunk");
	if (n - off < 12)
		return LC_USAGE(err, "PNG header: truncated IHDR chunk");
	len = be32(p + off);
	rc = check_first(p, n, off, len, &color, err);
	if (rc)
		return rc;
	/* off <= n holds: each chunk was checked to fit before the step */
	for (off += 12 + (size_t)len;; off += 12 + (size_t)len) {
		const uint8_t *t = p + off + 4;

		if (n - off == 0)
			return LC_USAGE(err, "PNG: no IEND chunk (the file "
					"ends after %zu bytes)", n);
		if (n - off < 12)
			return LC_USAGE(err, "PNG: truncated chunk at byte "
					"%zu", off);
		len = be32(p + off);
		if (!type_ok(t))
			return LC_USAGE(err, "PNG: bad chunk type at byte %zu",
					off);
		if (len > INT32_MAX || len > n - off - 12)
			return LC_USAGE(err, "PNG: chunk '%.4s' at byte %zu is "
					"truncated", (const char *)t, off);
		if (!(t[0] & 0x20) &&	/* critical */
		    lc_crc32(t, (size_t)len + 4) != be32(t + 4 + len))
			return LC_USAGE(err, "PNG: chunk '%.4s' at byte %zu: "
					"bad CRC", (const char *)t, off);
		if (!memcmp(t, "PLTE", 4)) {
			plte = true;
		} else if (!memcmp(t, "IDAT", 4)) {
			if (color == 3 && !plte)
				return LC_USAGE(err, "PNG: a palette image "
						"with no PLTE before IDAT");
			idat = true;
		} else if (!memcmp(t, "IEND", 4)) {
			break;
		}
	}
	if (!idat)
		return LC_USAGE(err, "PNG: no IDAT chunk");
	return 0;
}

/* ---------------------------------------------------------------- entry */

int imgcheck(const uint8_t *p, size_t n, const char *ext, struct lc_err *err)
{
	switch (sniff(p, n, ext)) {
	case IMG_JPEG:
		return check_jpeg(p, n, err);
	case IMG_PNG:
		return check_png(p, n, err);
	case IMG_OTHER:
		break;
	}
	return 0;
}
