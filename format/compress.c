/*
 * compress.c - general compression framings shared by the 2.x decoders
 * (file-format.md 4.7.10):
 *   zstd: u64 uncompressed length + a zstd frame; old writers stored a
 *         bare frame (magic 28 b5 2f fd at offset 0);
 *   lz4:  u32 uncompressed length + one LZ4 block (not the frame format).
 * Output sizes are checked against the declared size and a cap before we
 * allocate, and the library must produce exactly that many bytes.
 * One ZSTD_DCtx per thread, created lazily and freed at thread exit.
 */
#include "lance_int.h"

#include <lz4.h>
#include <pthread.h>
#include <zstd.h>

static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;

static void dctx_free(void *p)
{
	ZSTD_freeDCtx(p);
}

static void dctx_init(void)
{
	dctx_key_ok = pthread_key_create(&dctx_key, dctx_free) == 0;
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *d;

	pthread_once(&dctx_once, dctx_init);
	if (!dctx_key_ok)
		return NULL;
	d = pthread_getspecific(dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		if (d && pthread_setspecific(dctx_key, d)) {
			ZSTD_freeDCtx(d);
			d = NULL;
		}
	}
	return d;
}

static bool is_bare_zstd(const uint8_t *in, size_t len)
{
	/* Frame magic, and the frame header descriptor's reserved bit
	 * (bit 3) clear. */
	return len >= 5 && lc_le32(in) == 0xFD2FB528u && !(in[4] & 0x08);
}

int lance__decompressed_size(uint64_t *out, enum lance_comp comp,
			     const uint8_t *in, size_t in_len,
			     struct lc_err *err)
{
	if (comp == LANCE_COMP_LZ4) {
		if (in_len < 4)
			return LC_CORRUPT(err, "lz4 buffer of %zu bytes has no "
					  "length header", in_len);
		*out = lc_le32(in);
		return 0;
	}
	if (comp != LANCE_COMP_ZSTD)
		return LC_UNSUPPORTED(err, "compression scheme %d", (int)comp);
	if (is_bare_zstd(in, in_len)) {
		unsigned long long n = ZSTD_getFrameContentSize(in, in_len);

		if (n == ZSTD_CONTENTSIZE_UNKNOWN ||
		    n == ZSTD_CONTENTSIZE_ERROR)
			return LC_CORRUPT(err, "bare zstd frame without a "
					  "content size");
		*out = n;
		return 0;
	}
	if (in_len < 8)
		return LC_CORRUPT(err, "zstd buffer of %zu bytes has no "
				  "length header", in_len);
	*out = lc_le64(in);
	return 0;
}

int lance__decompress(uint8_t **out, size_t *out_len, enum lance_comp comp,
		      const uint8_t *in, size_t in_len, size_t cap,
		      struct lc_err *err)
{
	uint64_t want;
	uint8_t *buf = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = lance__decompressed_size(&want, comp, in, in_len, err);
	if (rc)
		return rc;
	if (want > cap || want > LANCE_MAX_DECOMP_BYTES)
		return LC_LIMIT(err, "compressed buffer declares %" PRIu64
				" bytes, cap is %zu", want, cap);
	if (comp == LANCE_COMP_LZ4) {
		int got;

		/* an LZ4 block expands at most ~255 times */
		if (in_len - 4 > INT32_MAX || want > INT32_MAX ||
		    want > (uint64_t)(in_len - 4) * 255 + 16)
			return LC_CORRUPT(err, "lz4 block of %zu bytes cannot "
					  "hold %" PRIu64, in_len, want);
		buf = lc_malloc((size_t)want + 1);
		if (!buf)
			return LC_NOMEM(err);
		got = LZ4_decompress_safe((const char *)in + 4, (char *)buf,
					  (int)(in_len - 4), (int)want);
		if (got < 0 || (uint64_t)got != want) {
			rc = LC_CORRUPT(err, "lz4 block gave %d bytes, header "
					"says %" PRIu64, got, want);
			goto fail;
		}
	} else {
		/* Stream into a buffer that grows only as output appears,
		 * so a small frame cannot make us allocate what it claims. */
		ZSTD_DCtx *d = thread_dctx();
		ZSTD_inBuffer ib = { in, in_len, 0 };
		ZSTD_outBuffer ob;
		size_t cap0 = want < (1u << 20) ? (size_t)want : 1u << 20;

		if (!d)
			return LC_NOMEM(err);
		if (!is_bare_zstd(in, in_len))
			ib.pos = 8;
		ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
		buf = lc_malloc(cap0 + 1);
		if (!buf)
			return LC_NOMEM(err);
		ob.dst = buf;
		ob.size = cap0;
		ob.pos = 0;
		for (;;) {
			size_t r = ZSTD_decompressStream(d, &ob, &ib);

			if (ZSTD_isError(r)) {
				rc = LC_CORRUPT(err, "zstd frame: %s",
						ZSTD_getErrorName(r));
				goto fail;
			}
			if (r == 0)
				break;	/* frame complete */
			if (ob.pos < ob.size && ib.pos == ib.size) {
				rc = LC_CORRUPT(err, "zstd frame is truncated");
				goto fail;
			}
			if (ob.pos == ob.size) {
				size_t nc = ob.size * 2;
				uint8_t *nb;

				if (ob.size >= want) {
					rc = LC_CORRUPT(err, "zstd frame "
						"gives more than the %" PRIu64
						" bytes its header says",
						want);
					goto fail;
				}
				if (nc > want)
					nc = (size_t)want;
				nb = lc_realloc(buf, nc + 1);
				if (!nb) {
					rc = LC_NOMEM(err);
					goto fail;
				}
				buf = nb;
				ob.dst = buf;
				ob.size = nc;
			}
		}
		if (ob.pos != want || ib.pos != ib.size) {
			rc = LC_CORRUPT(err, "zstd frame gave %zu bytes, "
					"header says %" PRIu64, ob.pos, want);
			goto fail;
		}
	}
	*out = buf;
	*out_len = (size_t)want;
	return 0;
fail:
	lc_free(buf);
	return rc;
}

int lance__zstd_window(uint8_t *dst, size_t *got, uint64_t *total,
		       uint64_t off, size_t len, size_t cap, uint64_t in_len,
		       lance__read_fn rd, void *ctx, struct lc_err *err)
{
	ZSTD_DCtx *d = thread_dctx();
	ZSTD_outBuffer ob = { NULL, 0, 0 };
	uint64_t pos = 0, end;
	size_t step = cap + 4096, have = 0;
	uint8_t *in = NULL;
	int rc = 0;

	*got = 0;
	*total = 0;
	if (!in_len)
		return LANCE_WINDOW_DECODE;	/* not even a header */
	if (!d)
		return LC_NOMEM(err);
	if (len < cap && off < cap - len)
		step = (size_t)off + len + 4096;
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	while (pos < in_len) {
		size_t n = in_len - pos < step ? (size_t)(in_len - pos) : step;
		ZSTD_inBuffer ib;

		if (n > have) {
			uint8_t *p = lc_realloc(in, n);

			if (!p) {
				rc = LC_NOMEM(err);
				goto out;
			}
			in = p;
			have = n;
		}
		rc = rd(ctx, pos, n, in, err);
		if (rc)
			goto out;
		ib.src = in;
		ib.size = n;
		ib.pos = 0;
		if (pos == 0) {
			/* the framing's declared size says what to decode */
			if (lance__decompressed_size(total, LANCE_COMP_ZSTD, in,
						     n, NULL)) {
				rc = LANCE_WINDOW_DECODE;
				goto out;
			}
			if (off >= *total)
				goto out;	/* nothing to decode */
			end = *total - off < len ? *total : off + len;
			if (end > cap) {
				rc = LANCE_WINDOW_DECODE;
				goto out;
			}
			ob.dst = lc_malloc((size_t)end);
			if (!ob.dst) {
				rc = LC_NOMEM(err);
				goto out;
			}
			ob.size = (size_t)end;
			if (!is_bare_zstd(in, n))
				ib.pos = 8;
		}
		while (ib.pos < ib.size && ob.pos < ob.size) {
			size_t r = ZSTD_decompressStream(d, &ob, &ib);

			if (ZSTD_isError(r) || (r == 0 && ob.pos < ob.size)) {
				/* a bad or short frame: the full read says
				 * what is wrong with it */
				rc = LANCE_WINDOW_DECODE;
				goto out;
			}
		}
		if (ob.pos == ob.size)
			break;
		pos += n;
		/* a compressed block comes out only whole: read on in
		 * growing pieces until it is in */
		if (step < (1u << 20))
			step *= 2;
	}
	if (ob.pos < ob.size) {
		rc = LANCE_WINDOW_DECODE;
		goto out;
	}
	if (ob.size > off) {
		memcpy(dst, (uint8_t *)ob.dst + off, ob.size - (size_t)off);
		*got = ob.size - (size_t)off;
	}
out:
	lc_free(ob.dst);
	lc_free(in);
	return rc;
}
