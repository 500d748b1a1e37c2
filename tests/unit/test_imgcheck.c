/* test_imgcheck.c - the -o validate_images check: real JPEGs and PNGs
 * made in memory pass; truncated, corrupted and mislabelled ones fail
 * with a message naming the reason; content beats the extension. */
#include <pthread.h>

#include "harness.h"
#include "imgcheck.h"
#include "imgfix.h"

/* A refused file: EINVAL, LC_EK_USAGE, and exactly this message. */
#define CHECK_BAD(p, n, ext, text)                                         \
	do {                                                               \
		struct lc_err e_ = { 0 };                                  \
		int rc_ = imgcheck((p), (n), (ext), &e_);                  \
		if (rc_ != EINVAL || e_.kind != LC_EK_USAGE ||             \
		    strcmp(e_.msg, (text))) {                              \
			fprintf(stderr, "%s:%d: rc %d kind %d \"%s\", "    \
				"expected \"%s\"\n", __FILE__, __LINE__,   \
				rc_, (int)e_.kind, e_.msg, (text));        \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_GOOD(p, n, ext)                                              \
	do {                                                               \
		struct lc_err e_ = { 0 };                                  \
		CHECK_OK(imgcheck((p), (n), (ext), &e_), &e_);             \
	} while (0)

/* Deterministic bytes with no 0xFF in them (so no JPEG marker). */
static void fill_noise(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)((seed >> 16) % 255);
	}
}

/* ------------------------------------------------------------ JPEG */

TEST(jpeg_good)
{
	static const struct {
		int pf, samp, flags;
	} kinds[] = {
		{ TJPF_RGB, TJSAMP_420, 0 },
		{ TJPF_RGB, TJSAMP_444, TJFLAG_PROGRESSIVE },
		{ TJPF_GRAY, TJSAMP_GRAY, 0 },
		{ TJPF_CMYK, TJSAMP_444, 0 },	/* decodes to CMYK only */
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = 0;
		uint8_t *j = imgfix_jpeg(64, 48, kinds[k].pf, kinds[k].samp,
					 kinds[k].flags, &n);

		CHECK(j);
		CHECK_GOOD(j, n, "jpg");
		CHECK_GOOD(j, n, ".JPEG");
		CHECK_GOOD(j, n, NULL);
		CHECK_GOOD(j, n, "bin");	/* the magic decides */
		free(j);
	}
}

TEST(jpeg_truncated)
{
	size_t n = 0;
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &n);
	uint8_t *half, *pj;
	size_t pn = 0;

	CHECK(j);
	half = malloc(n / 2);
	CHECK(half);
	memcpy(half, j, n / 2);
	CHECK_BAD(half, n / 2, "jpg",
		  "not a decodable JPEG: Premature end of JPEG file");
	/* the magic alone makes it a JPEG */
	CHECK_BAD(half, n / 2, NULL,
		  "not a decodable JPEG: Premature end of JPEG file");
	/* one byte short: only the EOI marker is missing */
	CHECK_BAD(j, n - 1, "jpg",
		  "not a decodable JPEG: Premature end of JPEG file");
	/* progressive: the scans after the cut are missing */
	pj = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_444, TJFLAG_PROGRESSIVE,
			 &pn);
	CHECK(pj);
	CHECK_BAD(pj, pn * 2 / 3, "jpg",
		  "not a decodable JPEG: Premature end of JPEG file");
	free(pj);
	free(half);
	free(j);
}

TEST(jpeg_garbage_after_soi)
{
	size_t n = 0;
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &n);
	uint8_t *bad;

	CHECK(j);
	/* SOI, 200 bytes of noise, then the rest of a good JPEG */
	bad = malloc(n + 200);
	CHECK(bad);
	memcpy(bad, j, 2);
	fill_noise(bad + 2, 200, 7);
	memcpy(bad + 202, j + 2, n - 2);
	CHECK_BAD(bad, n + 200, "jpg", "not a decodable JPEG: Corrupt JPEG "
		  "data: 200 extraneous bytes before marker 0xe0");
	/* SOI, then noise only */
	fill_noise(bad + 2, n + 198, 9);
	CHECK_BAD(bad, n + 200, "jpeg", "not a decodable JPEG: no image in "
		  "it");
	free(bad);
	free(j);
}

TEST(jpeg_random_bytes)
{
	uint8_t noise[1000];

	fill_noise(noise, sizeof(noise), 1);
	noise[0] = 0x12;
	noise[1] = 0x34;
	CHECK_BAD(noise, sizeof(noise), "jpg", "not a decodable JPEG: "
		  "Not a JPEG file: starts with 0x12 0x34");
	CHECK_BAD(noise, sizeof(noise), "JFIF", "not a decodable JPEG: "
		  "Not a JPEG file: starts with 0x12 0x34");
	CHECK_BAD(noise, sizeof(noise), "jpe", "not a decodable JPEG: "
		  "Not a JPEG file: starts with 0x12 0x34");
	CHECK_BAD(noise, 0, "jpg", "not a decodable JPEG: the file is empty");
	CHECK_BAD(NULL, 0, "jpg", "not a decodable JPEG: the file is empty");
	CHECK_BAD(noise, 1, "jpg", "not a decodable JPEG: Not a JPEG file: "
		  "starts with 0x12 0xff");
}

/* A header that claims more pixels than PIL opens is refused before
 * libjpeg allocates for it. */
TEST(jpeg_too_large)
{
	size_t n = 0, off = 2;
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &n);

	CHECK(j);
	/* walk the marker segments to SOF0: FF C0 len(2) P Y(2) X(2) */
	while (off + 9 <= n && j[off] == 0xff && j[off + 1] != 0xc0)
		off += 2 + ((size_t)j[off + 2] << 8 | j[off + 3]);
	CHECK(off + 9 <= n && j[off + 1] == 0xc0);
	j[off + 5] = 20000 >> 8;
	j[off + 6] = 20000 & 0xff;
	j[off + 7] = 20000 >> 8;
	j[off + 8] = 20000 & 0xff;
	CHECK_BAD(j, n, "jpg", "JPEG of 20000x20000 pixels: more than "
		  "178956970");
	free(j);
}

/* ------------------------------------------------------------ PNG */

TEST(png_good)
{
	size_t n = 0;
	uint8_t *p = imgfix_png(16, 8, &n);
	uint8_t *more;

	CHECK(p);
	CHECK_GOOD(p, n, "png");
	CHECK_GOOD(p, n, "PNG");
	CHECK_GOOD(p, n, NULL);
	/* an ancillary chunk with a wrong CRC is skipped, as libpng does */
	more = malloc(n + 16);
	CHECK(more);
	memcpy(more, p, IMGFIX_PNG_IDAT);
	imgfix_chunk(more + IMGFIX_PNG_IDAT, "tEXt", (const uint8_t *)"a\0b",
		     3);
	more[IMGFIX_PNG_IDAT + 14] ^= 1;
	memcpy(more + IMGFIX_PNG_IDAT + 15, p + IMGFIX_PNG_IDAT,
	       n - IMGFIX_PNG_IDAT);
	CHECK_GOOD(more, n + 15, "png");
	/* bytes after IEND are ignored */
	memcpy(more, p, n);
	memset(more + n, 0, 16);
	CHECK_GOOD(more, n + 16, "png");
	free(more);
	free(p);
}

TEST(png_bad_header)
{
	size_t n = 0;
	uint8_t *p = imgfix_png(16, 8, &n);
	uint8_t *ihdr;

	CHECK(p);
	ihdr = p + IMGFIX_PNG_IHDR + 8;
	/* a wrong CRC on IHDR */
	p[IMGFIX_PNG_IHDR + 8 + 13] ^= 0x40;
	CHECK_BAD(p, n, "png", "PNG header: bad CRC");
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_GOOD(p, n, "png");
	/* fields out of range, each with a correct CRC */
	imgfix_put32(ihdr, 0);
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: 0x8 pixels is out of range");
	imgfix_put32(ihdr, 0x80000000u);
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: 2147483648x8 pixels is out of "
		  "range");
	imgfix_put32(ihdr, 16);
	ihdr[8] = 4;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: bit depth 4 is not allowed with "
		  "color type 2");
	ihdr[8] = 8;
	ihdr[9] = 5;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: no color type 5");
	ihdr[9] = 2;
	ihdr[10] = 1;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: unknown compression method 1");
	ihdr[10] = 0;
	ihdr[11] = 1;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: unknown filter method 1");
	ihdr[11] = 0;
	ihdr[12] = 2;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG header: unknown interlace method 2");
	ihdr[12] = 0;
	/* a palette image needs PLTE before IDAT */
	ihdr[9] = 3;
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_BAD(p, n, "png", "PNG: a palette image with no PLTE before "
		  "IDAT");
	ihdr[9] = 2;
	/* IHDR of the wrong length */
	p[IMGFIX_PNG_IHDR + 3] = 12;
	CHECK_BAD(p, n, "png", "PNG header: IHDR of 12 bytes, not 13");
	p[IMGFIX_PNG_IHDR + 3] = 13;
	/* not IHDR first */
	memcpy(p + IMGFIX_PNG_IHDR + 4, "IDAT", 4);
	CHECK_BAD(p, n, "png", "PNG header: the first chunk is 'IDAT', not "
		  "'IHDR'");
	memcpy(p + IMGFIX_PNG_IHDR + 4, "IH\x01R", 4);
	CHECK_BAD(p, n, "png", "PNG header: bad chunk type");
	memcpy(p + IMGFIX_PNG_IHDR + 4, "IHDR", 4);
	imgfix_png_crc(p, IMGFIX_PNG_IHDR);
	CHECK_GOOD(p, n, "png");
	CHECK_BAD(p, 8, "png", "PNG header: no IHDR chunk");
	CHECK_BAD(p, 15, "png", "PNG header: truncated IHDR chunk");
	CHECK_BAD(p, 30, "png", "PNG header: truncated IHDR chunk");
	CHECK_BAD(p, 7, "png", "PNG header: bad signature");
	free(p);
}

TEST(png_truncated)
{
	size_t n = 0;
	uint8_t *p = imgfix_png(16, 8, &n);
	char want[128];
	uint8_t *cut;

	CHECK(p);
	/* tightly sized copies, so ASan sees any read past the end */
	cut = malloc(n - 12);
	CHECK(cut);
	memcpy(cut, p, n - 12);
	snprintf(want, sizeof(want), "PNG: no IEND chunk (the file ends "
		 "after %zu bytes)", n - 12);
	CHECK_BAD(cut, n - 12, "png", want);
	free(cut);
	free(p);
}

TEST(png_bad_chunks)
{
	size_t n = 0;
	uint8_t *p = imgfix_png(16, 8, &n);
	char want[128];

	CHECK(p);
	/* a flipped bit in the pixel data: IDAT's CRC no longer matches */
	p[IMGFIX_PNG_IDAT + 20] ^= 0x08;
	CHECK_BAD(p, n, "png", "PNG: chunk 'IDAT' at byte 33: bad CRC");
	p[IMGFIX_PNG_IDAT + 20] ^= 0x08;
	/* cut inside IDAT */
	CHECK_BAD(p, IMGFIX_PNG_IDAT + 30, "png",
		  "PNG: chunk 'IDAT' at byte 33 is truncated");
	/* cut inside IEND */
	snprintf(want, sizeof(want), "PNG: truncated chunk at byte %zu",
		 n - 12);
	CHECK_BAD(p, n - 1, "png", want);
	/* a length over 2^31-1 */
	p[IMGFIX_PNG_IDAT] = 0x80;
	CHECK_BAD(p, n, "png", "PNG: chunk 'IDAT' at byte 33 is truncated");
	p[IMGFIX_PNG_IDAT] = 0;
	/* IEND straight after IHDR: no pixel data */
	memcpy(p + IMGFIX_PNG_IDAT, p + n - 12, 12);
	CHECK_BAD(p, IMGFIX_PNG_IDAT + 12, "png", "PNG: no IDAT chunk");
	free(p);
}

/* ------------------------------------------------------------ which format */

TEST(content_beats_extension)
{
	size_t pn = 0, jn = 0;
	uint8_t *p = imgfix_png(16, 8, &pn);
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &jn);
	uint8_t noise[64];

	CHECK(p && j);
	/* a good PNG named .jpg is a good PNG, and the other way round */
	CHECK_GOOD(p, pn, "jpg");
	CHECK_GOOD(j, jn, "png");
	/* a broken PNG named .jpg is judged as a PNG */
	p[IMGFIX_PNG_IHDR + 8 + 13] ^= 1;
	CHECK_BAD(p, pn, "jpg", "PNG header: bad CRC");
	/* a broken JPEG named .png is judged as a JPEG */
	CHECK_BAD(j, jn / 2, "png",
		  "not a decodable JPEG: Premature end of JPEG file");
	/* no magic: the extension decides */
	fill_noise(noise, sizeof(noise), 3);
	CHECK_BAD(noise, sizeof(noise), "png", "PNG header: bad signature");
	CHECK_GOOD(noise, sizeof(noise), "bin");
	CHECK_GOOD(noise, sizeof(noise), "gif");
	CHECK_GOOD(noise, sizeof(noise), "");
	CHECK_GOOD(noise, sizeof(noise), NULL);
	CHECK_GOOD(noise, 0, "txt");
	CHECK_GOOD(NULL, 0, NULL);
	free(p);
	free(j);
}

/* ------------------------------------------------------------ threads */

struct worker {
	const uint8_t *good, *bad;
	size_t good_n, bad_n;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 50; i++) {
		struct lc_err e1 = { 0 }, e2 = { 0 };

		if (imgcheck(w->good, w->good_n, "jpg", &e1) != 0)
			w->failures++;
		if (imgcheck(w->bad, w->bad_n, "jpg", &e2) != EINVAL ||
		    strcmp(e2.msg, "not a decodable JPEG: Premature end of "
			   "JPEG file"))
			w->failures++;
	}
	return NULL;
}

/* Handles are per call and error text per handle: threads that check
 * good and bad files at once each see their own answers. */
TEST(threads)
{
	size_t n = 0;
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &n);
	struct worker w[4];
	pthread_t th[4];

	CHECK(j);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ j, j, n, n / 2, 0 };
		CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_U64(w[i].failures, 0);
	free(j);
}

TEST_MAIN(TEST_ENTRY(jpeg_good), TEST_ENTRY(jpeg_truncated),
	  TEST_ENTRY(jpeg_garbage_after_soi), TEST_ENTRY(jpeg_random_bytes),
	  TEST_ENTRY(jpeg_too_large), TEST_ENTRY(png_good),
	  TEST_ENTRY(png_bad_header), TEST_ENTRY(png_truncated),
	  TEST_ENTRY(png_bad_chunks), TEST_ENTRY(content_beats_extension),
	  TEST_ENTRY(threads))
