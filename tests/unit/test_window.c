/*
 * test_window.c - window reads (lance_file_read_window): files our writer
 * makes (2.0, 2.1, 2.2; nulls, empty values, a 100 KB and a 5 MB image,
 * several pages) read through windows and compared with full reads, the
 * bytes each window costs, the zstd prefix window on its own, and hand-
 * made hostile pages that must decode (LANCE_WINDOW_DECODE) or fail, never
 * read out of bounds. The LanceDB-made datasets are interop_window.
 */
#include <zstd.h>

#include "harness.h"
#include "countstore.h"
#include "../data/writer/wdata.h"
#include "enc20.pb-c.h"
#include "enc21.pb-c.h"
#include "view.h"

#include <unistd.h>

/* ---------------------------------------------------------- written files */

struct stats {
	unsigned served, decoded, cheap;
};

/* One window of row r against the value a full read gave. */
static bool one_window(struct stats *t, struct wfile *wf,
		       const struct lance_field *f, uint64_t r, bool valid,
		       const uint8_t *val, uint64_t size, uint64_t off,
		       size_t len, bool must)
{
	struct lc_err err = { 0 };
	uint8_t *buf = malloc(len + 1);
	uint64_t before = count_store_bytes(wf->st), wsize, cost;
	size_t got, want;
	bool wvalid, ok = true;
	int rc;

	rc = lance_file_read_window(buf, &got, &wvalid, &wsize, wf->f, f, r,
				    off, len, &err);
	cost = count_store_bytes(wf->st) - before;
	if (rc == LANCE_WINDOW_DECODE) {
		t->decoded++;
		ok = !must && !err.code;
		if (!ok)
			fprintf(stderr, "%s row %llu: window %llu+%zu decodes"
				"%s\n", f->name, (unsigned long long)r,
				(unsigned long long)off, len,
				err.code ? " with an error set" : "");
		goto out;
	}
	if (rc) {
		fprintf(stderr, "%s row %llu: window %llu+%zu: %s\n", f->name,
			(unsigned long long)r, (unsigned long long)off, len,
			err.msg);
		ok = false;
		goto out;
	}
	t->served++;
	want = !valid || off >= size ? 0 :
	       size - off < len ? (size_t)(size - off) : len;
	if (wvalid != valid || wsize != size || got != want ||
	    (got && memcmp(buf, val + off, got))) {
		fprintf(stderr, "%s row %llu: window %llu+%zu: valid %d size "
			"%llu got %zu; value valid %d size %llu\n", f->name,
			(unsigned long long)r, (unsigned long long)off, len,
			wvalid, (unsigned long long)wsize, got, valid,
			(unsigned long long)size);
		ok = false;
		goto out;
	}
	if (valid && size >= 1024 && (uint64_t)got * 4 <= size) {
		if (cost >= size) {
			fprintf(stderr, "%s row %llu: window %llu+%zu of %llu "
				"bytes read %llu\n", f->name,
				(unsigned long long)r, (unsigned long long)off,
				len, (unsigned long long)size,
				(unsigned long long)cost);
			ok = false;
		}
		t->cheap++;
	}
out:
	free(buf);
	return ok;
}

/* Every row of field `name` through windows at the spots that matter. */
static bool check_field(struct stats *t, struct wfile *wf, const char *name,
			bool must)
{
	const struct lance_field *f =
		lance_schema_field_by_name(&wf->schema, name);
	uint64_t rows = lance_file_rows(wf->f);
	struct lc_err err = { 0 };

	if (!f)
		return false;
	for (uint64_t r = 0; r < rows; r++) {
		struct lance_array a;
		uint64_t size, spots[9];
		const uint8_t *val;
		bool valid, ok = true;

		if (lance_file_read(&a, wf->f, f, r, 1, &err)) {
			fprintf(stderr, "%s row %llu: %s\n", name,
				(unsigned long long)r, err.msg);
			return false;
		}
		valid = lance_array_is_valid(&a, 0);
		size = valid ? a.offsets[1] - a.offsets[0] : 0;
		val = a.values + a.offsets[0];
		spots[0] = 0;
		spots[1] = 1;
		spots[2] = size ? size - 1 : 0;
		spots[3] = size;
		spots[4] = size + 5;
		spots[5] = size > 65536 ? size / 2 - 32768 : size / 2;
		spots[6] = 4096;
		spots[7] = size > 200 ? size - 200 : 0;
		spots[8] = UINT64_MAX - 3;
		ok = one_window(t, wf, f, r, valid, val, size, 0, 32, must) &&
		     one_window(t, wf, f, r, valid, val, size, 0,
				(size_t)size + 9, must);
		for (int i = 0; ok && i < 9; i++)
			ok = one_window(t, wf, f, r, valid, val, size,
					spots[i], 65536, must);
		lance_array_reset(&a);
		if (!ok)
			return false;
	}
	return true;
}

static void written(uint16_t minor, uint64_t rows, uint64_t batch,
		    const struct wd_opts *o)
{
	/* what the writer stores plainly: 2.0 Binary for every string and
	 * binary, 2.1+ full-zip for binary and long strings */
	static const struct {
		const char *name;
		bool plain20, plain21;
	} cols[] = {
		{ "img", true, true }, { "lbin", true, true },
		{ "text", true, true }, { "name", true, false },
		{ "nul", true, false },
	};
	struct lc_err err = { 0 };
	struct wfile wf;
	int rc = wfile_write(&wf, minor, rows, batch, o, count_store_new,
			     &err);

	if (rc)
		fprintf(stderr, "write 2.%u: %s\n", minor, err.msg);
	CHECK(rc == 0);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		struct stats t = { 0 };
		bool must = minor ? cols[i].plain21 : cols[i].plain20;

		/* an all-null page is a constant one */
		if (o->edge && minor && !strcmp(cols[i].name, "img"))
			must = false;
		bool ok = check_field(&t, &wf, cols[i].name, must);

		fprintf(stderr, "2.%u %s: %u served, %u decode, %u cheap\n",
			minor, cols[i].name, t.served, t.decoded, t.cheap);
		if (!ok)
			wfile_free(&wf);
		CHECK(ok);
		/* the big images: a small window is cheap */
		if (o->big && !strcmp(cols[i].name, "img") && t.cheap < 10) {
			wfile_free(&wf);
			CHECK(t.cheap >= 10);
		}
	}
	wfile_free(&wf);
}

TEST(written_20)
{
	struct wd_opts o = { .big = true };

	written(0, 300, 64, &o);
}

TEST(written_21)
{
	struct wd_opts o = { .big = true, .struct_nulls = true };

	written(1, 300, 64, &o);
}

TEST(written_22)
{
	struct wd_opts o = { .big = true, .struct_nulls = true };

	written(2, 300, 64, &o);
}

/* img all null, name all empty */
TEST(written_edge)
{
	struct wd_opts o = { .edge = true };

	for (uint16_t minor = 0; minor <= 2; minor++) {
		written(minor, 120, 120, &o);
		if (harness_failed)
			return;
	}
}

/* Fields that are not windowed, and arguments that are wrong. */
TEST(refusals)
{
	struct wd_opts o = { .big = false };
	struct lc_err err = { 0 };
	struct wfile wf;
	uint8_t buf[8];
	uint64_t size;
	size_t got;
	bool valid;
	int rc;

	for (uint16_t minor = 0; minor <= 2; minor++) {
		const struct lance_field *i32, *b, *img;

		o.struct_nulls = minor > 0;

		CHECK_OK(wfile_write(&wf, minor, 20, 20, &o, count_store_new, &err),
			 &err);
		i32 = lance_schema_field_by_name(&wf.schema, "i32");
		b = lance_schema_field_by_id(&wf.schema, 14);	/* st.b */
		img = lance_schema_field_by_name(&wf.schema, "img");
		if (!i32 || !b || !b->parent || !img)
			wfile_free(&wf);
		CHECK(i32 && b && b->parent && img);
		rc = lance_file_read_window(buf, &got, &valid, &size, wf.f,
					    i32, 0, 0, 8, &err);
		if (rc == LANCE_WINDOW_DECODE)
			rc = lance_file_read_window(buf, &got, &valid, &size,
						    wf.f, b, 0, 0, 8, &err);
		if (rc == LANCE_WINDOW_DECODE && !err.code)
			rc = lance_file_read_window(buf, &got, &valid, &size,
						    wf.f, img, 20, 0, 8, &err);
		if (rc != EIO || !strstr(err.msg, "rows 20..21")) {
			fprintf(stderr, "2.%u: rc %d, %s\n", minor, rc,
				err.msg);
			wfile_free(&wf);
			CHECK(0);
		}
		lc_err_clear(&err);
		rc = lance_file_read_window(NULL, &got, &valid, &size, wf.f,
					    img, 0, 0, 8, &err);
		if (rc != EINVAL)
			wfile_free(&wf);
		CHECK_EQ_U64(rc, EINVAL);
		lc_err_clear(&err);
		/* no room needed for no bytes: the size alone */
		rc = lance_file_read_window(NULL, &got, &valid, &size, wf.f,
					    img, 4, 0, 0, &err);
		wfile_free(&wf);
		CHECK_OK(rc, &err);
		CHECK(valid && got == 0 && size == wd_img_len(4, &o));
	}
}

/* ---------------------------------------------------------- zstd prefix */

struct membuf {
	const uint8_t *p;
	size_t len;
	uint64_t read;		/* bytes handed out */
};

static int mem_rd(void *ctx, uint64_t off, size_t len, uint8_t *dst,
		  struct lc_err *err)
{
	struct membuf *m = ctx;

	if (!lc_range_ok(off, len, m->len))
		return LC_CORRUPT(err, "read of %zu at %llu past %zu", len,
				  (unsigned long long)off, m->len);
	memcpy(dst, m->p + off, len);
	m->read += len;
	return 0;
}

/* Compressible, but not trivially: words from a little generator. */
static void fill_text(uint8_t *p, size_t n)
{
	uint64_t s = 88172645463325252ull;

	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (s % 5 == 0) ? ' ' : (uint8_t)('a' + s % 7);
	}
}

TEST(zstd_window)
{
	size_t n = 3u << 20, cap = 64u << 10;
	uint8_t *raw = malloc(n), *z = malloc(ZSTD_compressBound(n) + 8);
	uint8_t dst[70000];
	struct lc_err err = { 0 };
	static const struct {
		uint64_t off;
		size_t len;
		int rc;
	} w[] = {
		{ 0, 32, 0 }, { 1, 100, 0 }, { 60000, 5536, 0 },
		{ 65535, 1, 0 }, { 0, 65536, 0 }, { 65535, 2, -1 },
		{ 0, 65537, -1 }, { 3u << 20, 10, 0 }, { UINT64_MAX, 10, 0 },
	};

	fill_text(raw, n);
	for (int bare = 0; bare < 2; bare++) {
		size_t zl = ZSTD_compress(z + 8, ZSTD_compressBound(n), raw, n,
					  3);
		uint8_t *in = bare ? z + 8 : z;
		size_t in_len = bare ? zl : zl + 8;

		CHECK(!ZSTD_isError(zl) && zl < n / 2);
		lc_put_le64(z, n);
		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
			struct membuf m = { in, in_len, 0 };
			uint64_t total;
			size_t got;
			int rc = lance__zstd_window(dst, &got, &total, w[i].off,
						    w[i].len, cap, in_len,
						    mem_rd, &m, &err);

			if (rc != w[i].rc)
				fprintf(stderr, "bare %d window %zu: rc %d "
					"%s\n", bare, i, rc, err.msg);
			CHECK_EQ_U64(rc, w[i].rc);
			CHECK(!err.code);
			if (rc)
				continue;
			CHECK_EQ_U64(total, n);
			CHECK_EQ_U64(got, w[i].off >= n ? 0 : w[i].len);
			CHECK(!memcmp(dst, raw + (w[i].off < n ? w[i].off : 0),
				      got));
			/* about the window plus a block, not the value */
			CHECK(m.read < w[i].off + w[i].len + (300u << 10) ||
			      w[i].off >= n);
			CHECK(m.read < in_len / 2);
		}
	}
	/* a frame cut short, garbage, and no header at all decode */
	{
		size_t zl = ZSTD_compress(z + 8, ZSTD_compressBound(n), raw,
					  4096, 3);
		struct membuf m = { z, zl + 8 - 10, 0 };
		uint64_t total;
		size_t got;

		lc_put_le64(z, 4096);
		CHECK_EQ_U64(lance__zstd_window(dst, &got, &total, 4000, 96,
						cap, m.len, mem_rd, &m, &err),
			     (uint64_t)LANCE_WINDOW_DECODE);
		memset(z + 8, 0x5a, 64);
		m.len = 72;
		CHECK_EQ_U64(lance__zstd_window(dst, &got, &total, 0, 32, cap,
						m.len, mem_rd, &m, &err),
			     (uint64_t)LANCE_WINDOW_DECODE);
		/* declares more than the frame gives */
		zl = ZSTD_compress(z + 8, ZSTD_compressBound(n), raw, 100, 3);
		lc_put_le64(z, 1000);
		m.len = zl + 8;
		CHECK_EQ_U64(lance__zstd_window(dst, &got, &total, 50, 500,
						cap, m.len, mem_rd, &m, &err),
			     (uint64_t)LANCE_WINDOW_DECODE);
		m.len = 0;
		CHECK_EQ_U64(lance__zstd_window(dst, &got, &total, 0, 32, cap,
						0, mem_rd, &m, &err),
			     (uint64_t)LANCE_WINDOW_DECODE);
		CHECK(!err.code);
	}
	free(raw);
	free(z);
}

/* ---------------------------------------------------------- 2.1 pages */

/* A full-zip page of 4 binary rows, bits_def 1, u32 lengths: "hello",
 * null, "", "world!". Buffer 0 the entries, buffer 1 the u32 index. */
struct fzpage {
	uint8_t enc[256];
	size_t enc_len;
	uint8_t data[64];
	uint8_t rix[20];
	uint64_t sizes[2];
};

static void fz_build(struct fzpage *pg, Lpb21__Enc *vc)
{
	Lpb21__Layout lay = LPB21__LAYOUT__INIT;
	Lpb21__FullZip fz = LPB21__FULL_ZIP__INIT;
	Lpb21__Layer layer = LPB21__LAYER__LAYER_NULLABLE_ITEM;
	static const char *vals[] = { "hello", NULL, "", "world!" };
	size_t at = 0;

	fz.bits_def = 1;
	fz.details_case = LPB21__FULL_ZIP__DETAILS_BITS_PER_OFFSET;
	fz.bits_per_offset = 32;
	fz.num_items = 4;
	fz.num_visible_items = 4;
	fz.value_compression = vc;
	fz.n_layers = 1;
	fz.layers = &layer;
	lay.layout_case = LPB21__LAYOUT__LAYOUT_FULL_ZIP;
	lay.full_zip = &fz;
	pg->enc_len = lpb21__layout__pack(&lay, pg->enc);
	for (int r = 0; r < 4; r++) {
		lc_put_le32(pg->rix + 4 * r, (uint32_t)at);
		pg->data[at++] = vals[r] ? 0 : 1;
		if (vals[r]) {
			size_t l = strlen(vals[r]);

			lc_put_le32(pg->data + at, (uint32_t)l);
			memcpy(pg->data + at + 4, vals[r], l);
			at += 4 + l;
		}
	}
	lc_put_le32(pg->rix + 16, (uint32_t)at);
	pg->sizes[0] = at;
	pg->sizes[1] = 20;
}

static int fz_win(struct fzpage *pg, uint64_t row, uint64_t off,
		  size_t len, struct lance_win *w, uint8_t *dst)
{
	/* exactly sized copies: ASan sees any over-read */
	uint8_t *b0 = malloc(pg->sizes[0]), *b1 = malloc(pg->sizes[1]);
	const uint8_t *bufs[2] = { b0, b1 };
	struct lc_err err = { 0 };
	int rc;

	memcpy(b0, pg->data, pg->sizes[0]);
	memcpy(b1, pg->rix, pg->sizes[1]);
	memset(w, 0, sizeof(*w));
	w->dst = dst;
	w->off = off;
	w->len = len;
	rc = lance__v21_page_window(w, pg->enc, pg->enc_len, 4, bufs,
				    pg->sizes, 2, row, &err);
	if (rc == LANCE_WINDOW_DECODE && err.code)
		rc = -100;	/* a decode answer must leave err alone */
	free(b0);
	free(b1);
	return rc;
}

TEST(v21_pages)
{
	Lpb21__Enc var = LPB21__ENC__INIT, gen = LPB21__ENC__INIT;
	Lpb21__Enc fsst = LPB21__ENC__INIT, off32 = LPB21__ENC__INIT;
	Lpb21__Variable v = LPB21__VARIABLE__INIT;
	Lpb21__Flat f32 = LPB21__FLAT__INIT;
	Lpb21__General g = LPB21__GENERAL__INIT;
	Lpb21__BufCompression lz4 = LPB21__BUF_COMPRESSION__INIT;
	Lpb21__Fsst fs = LPB21__FSST__INIT;
	struct fzpage pg;
	struct lance_win w;
	uint8_t dst[16];

	f32.bits_per_value = 32;
	off32.kind_case = LPB21__ENC__KIND_FLAT;
	off32.flat = &f32;
	v.offsets = &off32;
	var.kind_case = LPB21__ENC__KIND_VARIABLE;
	var.variable = &v;
	fz_build(&pg, &var);
	CHECK_EQ_U64(fz_win(&pg, 0, 1, 3, &w, dst), 0);
	CHECK(w.valid && w.size == 5 && w.got == 3 && !memcmp(dst, "ell", 3));
	CHECK_EQ_U64(fz_win(&pg, 1, 0, 16, &w, dst), 0);
	CHECK(!w.valid && w.got == 0);
	CHECK_EQ_U64(fz_win(&pg, 2, 0, 16, &w, dst), 0);
	CHECK(w.valid && w.size == 0 && w.got == 0);
	CHECK_EQ_U64(fz_win(&pg, 3, 4, 16, &w, dst), 0);
	CHECK(w.valid && w.size == 6 && w.got == 2 && !memcmp(dst, "d!", 2));
	CHECK_EQ_U64(fz_win(&pg, 3, 6, 16, &w, dst), 0);
	CHECK(w.got == 0);
	CHECK_EQ_U64(fz_win(&pg, 3, UINT64_MAX, 16, &w, dst), 0);
	CHECK(w.got == 0);
	/* entries a full read refuses decode (the full read says why) */
	pg.data[1] = 9;			/* "hello" claims 9 bytes */
	CHECK_EQ_U64(fz_win(&pg, 0, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	fz_build(&pg, &var);
	pg.data[0] = 2;			/* def 0 with rep 1: no lists here */
	CHECK_EQ_U64(fz_win(&pg, 0, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	fz_build(&pg, &var);
	lc_put_le32(pg.rix + 8, 2);	/* the index goes back */
	CHECK_EQ_U64(fz_win(&pg, 1, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	fz_build(&pg, &var);
	lc_put_le32(pg.rix + 16, 200);	/* past buffer 0 */
	CHECK_EQ_U64(fz_win(&pg, 3, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	fz_build(&pg, &var);
	lc_put_le32(pg.rix + 8, 12);	/* the null row holds a byte */
	CHECK_EQ_U64(fz_win(&pg, 1, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	/* per-value transforms other than zstd decode */
	lz4.scheme = LPB21__SCHEME__SCHEME_LZ4;
	g.compression = &lz4;
	g.values = &var;
	gen.kind_case = LPB21__ENC__KIND_GENERAL;
	gen.general = &g;
	fz_build(&pg, &gen);
	CHECK_EQ_U64(fz_win(&pg, 0, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	fs.values = &var;
	fsst.kind_case = LPB21__ENC__KIND_FSST;
	fsst.fsst = &fs;
	fz_build(&pg, &fsst);
	CHECK_EQ_U64(fz_win(&pg, 0, 0, 4, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
}

/* ---------------------------------------------------------- 2.0 pages */

/* Binary{no_nulls(Flat64 ends), bytes, null_adjustment 12} over rows
 * "abc", null, "", "defghi" (ends 3, 15, 3, 9); bytes = `bytes`. */
static int bin_win(Lpb20__Encoding *bytes, Lpb20__Encoding *outer,
		   const uint8_t *ends, uint64_t row, uint64_t off,
		   size_t len, struct lance_win *w, uint8_t *dst)
{
	Lpb20__Encoding idx = LPB20__ENCODING__INIT;
	Lpb20__Encoding idxf = LPB20__ENCODING__INIT;
	Lpb20__Encoding bin = LPB20__ENCODING__INIT;
	Lpb20__Nullable nl = LPB20__NULLABLE__INIT;
	Lpb20__NoNulls nn = LPB20__NO_NULLS__INIT;
	Lpb20__Flat f64 = LPB20__FLAT__INIT;
	Lpb20__BufRef r0 = LPB20__BUF_REF__INIT;
	Lpb20__VarBinary vb = LPB20__VAR_BINARY__INIT;
	uint8_t enc[256], *b0 = malloc(32), *b1 = malloc(9), *b2 = malloc(1);
	const uint8_t *bufs[3] = { b0, b1, b2 };
	uint64_t sizes[3] = { 32, 9, 1 };
	struct lc_err err = { 0 };
	size_t el;
	int rc;

	r0.index = 0;
	f64.bits_per_value = 64;
	f64.buffer = &r0;
	idxf.kind_case = LPB20__ENCODING__KIND_FLAT;
	idxf.flat = &f64;
	nn.values = &idxf;
	nl.nullability_case = LPB20__NULLABLE__NULLABILITY_NO_NULLS;
	nl.no_nulls = &nn;
	idx.kind_case = LPB20__ENCODING__KIND_NULLABLE;
	idx.nullable = &nl;
	vb.indices = &idx;
	vb.bytes = bytes;
	vb.null_adjustment = 12;
	bin.kind_case = LPB20__ENCODING__KIND_BINARY;
	bin.binary = &vb;
	if (outer) {	/* some_nulls{validity buffer 2, values = bin} */
		outer->nullable->some_nulls->values = &bin;
		el = lpb20__encoding__pack(outer, enc);
	} else {
		el = lpb20__encoding__pack(&bin, enc);
	}
	memcpy(b0, ends, 32);
	memcpy(b1, "abcdefghi", 9);
	b2[0] = 0x0b;			/* rows 0, 1, 3 valid */
	memset(w, 0, sizeof(*w));
	w->dst = dst;
	w->off = off;
	w->len = len;
	rc = lance__v20_page_window(w, enc, el, bufs, sizes, 3, 4, row, &err);
	if (rc == LANCE_WINDOW_DECODE && err.code)
		rc = -100;
	free(b0);
	free(b1);
	free(b2);
	return rc;
}

TEST(v20_pages)
{
	Lpb20__Encoding bytes = LPB20__ENCODING__INIT;
	Lpb20__Encoding some = LPB20__ENCODING__INIT;
	Lpb20__Encoding valid = LPB20__ENCODING__INIT;
	Lpb20__Nullable snl = LPB20__NULLABLE__INIT;
	Lpb20__SomeNulls sn = LPB20__SOME_NULLS__INIT;
	Lpb20__Flat f8 = LPB20__FLAT__INIT, f1 = LPB20__FLAT__INIT;
	Lpb20__BufRef r1 = LPB20__BUF_REF__INIT, r2 = LPB20__BUF_REF__INIT;
	Lpb20__Codec zstd = LPB20__CODEC__INIT;
	uint8_t ends[32], dst[16];
	struct lance_win w;

	lc_put_le64(ends, 3);
	lc_put_le64(ends + 8, 15);
	lc_put_le64(ends + 16, 3);
	lc_put_le64(ends + 24, 9);
	r1.index = 1;
	f8.bits_per_value = 8;
	f8.buffer = &r1;
	bytes.kind_case = LPB20__ENCODING__KIND_FLAT;
	bytes.flat = &f8;
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 0, 1, 5, &w, dst), 0);
	CHECK(w.valid && w.size == 3 && w.got == 2 && !memcmp(dst, "bc", 2));
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 1, 0, 5, &w, dst), 0);
	CHECK(!w.valid && w.got == 0);
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 2, 0, 5, &w, dst), 0);
	CHECK(w.valid && w.size == 0);
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 3, 2, 16, &w, dst), 0);
	CHECK(w.valid && w.size == 6 && w.got == 4 && !memcmp(dst, "fghi", 4));
	/* wrapped in some_nulls: the bitmap says row 2 is null too */
	r2.index = 2;
	f1.bits_per_value = 1;
	f1.buffer = &r2;
	valid.kind_case = LPB20__ENCODING__KIND_FLAT;
	valid.flat = &f1;
	sn.validity = &valid;
	snl.nullability_case = LPB20__NULLABLE__NULLABILITY_SOME_NULLS;
	snl.some_nulls = &sn;
	some.kind_case = LPB20__ENCODING__KIND_NULLABLE;
	some.nullable = &snl;
	CHECK_EQ_U64(bin_win(&bytes, &some, ends, 2, 0, 5, &w, dst), 0);
	CHECK(!w.valid);
	CHECK_EQ_U64(bin_win(&bytes, &some, ends, 3, 0, 3, &w, dst), 0);
	CHECK(w.valid && w.got == 3 && !memcmp(dst, "def", 3));
	/* ends that go back, or past the bytes, decode */
	lc_put_le64(ends + 24, 2);
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 3, 0, 3, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	lc_put_le64(ends + 24, 11);
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 3, 0, 3, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	lc_put_le64(ends + 24, 9);
	/* compressed bytes decode */
	zstd.scheme = (char *)"zstd";
	f8.compression = &zstd;
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 0, 0, 3, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
	f8.compression = NULL;
	/* bytes in a buffer the page lacks: the full read's error */
	r1.index = 7;
	CHECK_EQ_U64(bin_win(&bytes, NULL, ends, 0, 0, 3, &w, dst),
		     (uint64_t)LANCE_WINDOW_DECODE);
}

/* ---------------------------------------------------------- the view */

/* A dataset in a temp dir holding one file our writer made. */
static int make_dataset(char *dir, size_t dlen, uint16_t minor,
			uint64_t rows, const struct wd_opts *o,
			struct lc_err *err)
{
	static const char *fmt[] = { "2.0", "2.1", "2.2" };
	struct lance_commit_frag nf = { 0 };
	struct lance_commit c = { 0 };
	struct ostore *local = NULL;
	struct lance_schema sc = { 0 };
	struct lance_data_file df = { 0 };
	uint8_t *bytes = NULL;
	uint64_t v;
	size_t len;
	int rc;

	snprintf(dir, dlen, "/tmp/lancefs-window-XXXXXX");
	if (!mkdtemp(dir))
		return LC_SYS(err, errno, "mkdtemp");
	rc = wd_schema(&sc, err);
	if (!rc)
		rc = wd_write(&sc, minor, rows, rows, o, &bytes, &len, &df,
			      err);
	if (!rc)
		rc = ostore_local_new(&local, dir, err);
	if (!rc)
		rc = ostore_put(local, "data/x.lance", bytes, len, 0, err);
	lc_free(bytes);
	df.path = (char *)"data/x.lance";
	nf.files = &df;
	nf.n_files = 1;
	nf.physical_rows = rows;
	c.new_schema = &sc;
	c.data_format = fmt[minor];
	c.appends = &nf;
	c.n_appends = 1;
	if (!rc)
		rc = lance_commit(&v, local, &c, err);
	ostore_free(local);
	lc_free(df.fields);
	lc_free(df.column_indices);
	lance_schema_reset(&sc);
	return rc;
}

static uint64_t status_count(struct view *v, const char *key)
{
	struct lc_err err = { 0 };
	struct vnode n;
	struct lc_buf b;
	const char *p;
	uint64_t x = UINT64_MAX;

	lc_buf_init(&b, 0);
	if (!view_resolve(&n, v, ".lancefs/status", &err)) {
		if (!view_read_file(&b, v, &n, &err) &&
		    !lc_buf_append(&b, "", 1, &err) &&
		    (p = strstr((char *)b.data, "\"value_cache\"")) &&
		    (p = strstr(p, key)))
			x = strtoull(p + strlen(key), NULL, 10);
		vnode_reset(&n);
	}
	lc_buf_reset(&b);
	return x;
}

struct files {
	char names[16][64];
	int n;
};

static int collect_files(void *ctx, uint64_t index, const char *name,
			 const struct vnode *node)
{
	struct files *fs = ctx;

	(void)index;
	(void)node;
	if (strcmp(name, "meta.json") && fs->n < 16)
		snprintf(fs->names[fs->n++], 64, "%s", name);
	return 0;
}

/* Every file of the first rows: its size, whole bytes (against the
 * snapshot's value) and slices (against the whole). */
static bool view_rows(struct view *v, const char *dir, uint64_t rows,
		      unsigned *files)
{
	struct lc_err err = { 0 };
	struct lance_snapshot *s;
	struct ostore *st;
	bool ok = true;

	if (ostore_local_new(&st, dir, &err) ||
	    lance_snapshot_open(&s, st, 0, &err)) {
		fprintf(stderr, "%s: %s\n", dir, err.msg);
		return false;
	}
	for (uint64_t r = 0; ok && r < rows; r++) {
		char path[128];
		struct files fs = { .n = 0 };
		struct vnode rn;

		snprintf(path, sizeof(path), "%08llu", (unsigned long long)r);
		ok = !view_resolve(&rn, v, path, &err) &&
		     !view_readdir(v, &rn, 0, collect_files, &fs, &err);
		vnode_reset(&rn);
		for (int i = 0; ok && i < fs.n; i++) {
			const char *dot = strchr(fs.names[i], '.');
			char col[64];
			const struct lance_field *f;
			struct view_attr at;
			struct lance_array a;
			struct lance_row_ref ref;
			struct vnode n;
			struct lc_buf whole;
			uint64_t size, offs[6];

			snprintf(col, sizeof(col), "%.*s",
				 (int)(dot - fs.names[i]), fs.names[i]);
			f = lance_schema_field_by_name(
				&lance_snapshot_manifest(s)->schema, col);
			snprintf(path, sizeof(path), "%08llu/%s",
				 (unsigned long long)r, fs.names[i]);
			lc_buf_init(&whole, 0);
			ok = f && !view_resolve(&n, v, path, &err) &&
			     !view_getattr(&at, v, &n, &err) &&
			     !view_read_file(&whole, v, &n, &err) &&
			     !lance_snapshot_row_at(&ref, s, r, &err) &&
			     !lance_snapshot_read(&a, s, ref.frag, f,
						  ref.offset, 1, &err);
			if (!ok) {
				fprintf(stderr, "%s: %s\n", path, err.msg);
				lc_buf_reset(&whole);
				break;
			}
			size = a.offsets[1] - a.offsets[0];
			ok = lance_array_is_valid(&a, 0) && at.size == size &&
			     whole.len == size &&
			     (!size || !memcmp(whole.data,
					       a.values + a.offsets[0],
					       (size_t)size));
			lance_array_reset(&a);
			offs[0] = 0;
			offs[1] = 1;
			offs[2] = size / 2;
			offs[3] = size ? size - 1 : 0;
			offs[4] = size;
			offs[5] = size + 3;
			for (int k = 0; ok && k < 6; k++) {
				static const size_t lens[] = { 7, 131072 };

				for (int l = 0; ok && l < 2; l++) {
					struct lc_buf b;
					size_t want = offs[k] >= size ? 0 :
						      size - offs[k] < lens[l] ?
						      (size_t)(size - offs[k]) :
						      lens[l];

					lc_buf_init(&b, 0);
					ok = !view_read_range(&b, v, &n,
							      offs[k], lens[l],
							      &err) &&
					     b.len == want &&
					     (!want || !memcmp(b.data,
							       whole.data +
							       offs[k], want));
					lc_buf_reset(&b);
				}
			}
			*files += ok;
			if (!ok)
				fprintf(stderr, "%s: size %llu, %zu read: %s\n",
					path, (unsigned long long)size,
					whole.len, err.msg);
			vnode_reset(&n);
			lc_buf_reset(&whole);
		}
	}
	lance_snapshot_free(s);
	ostore_free(st);
	return ok;
}

/*
 * The view serves plainly stored values window by window: listing rows
 * and reading their files, whole and in slices, gives the snapshot's
 * bytes and never touches the value cache. A string file whose values
 * live in mini-block chunks (2.1+) goes through the cache instead.
 */
TEST(view_files)
{
	struct wd_opts o = { .big = true };
	struct lc_err err = { 0 };

	for (uint16_t minor = 0; minor <= 2; minor++) {
		struct view_opts vo = { 0 };
		char dir[64];
		struct view *v;
		bool ok;
		uint64_t misses;
		unsigned files = 0, text = 0;

		o.struct_nulls = minor > 0;
		CHECK_OK(make_dataset(dir, sizeof(dir), minor, 12, &o, &err),
			 &err);
		CHECK_OK(view_open(&v, dir, NULL, &err), &err);
		ok = view_rows(v, dir, 12, &files);
		misses = status_count(v, "\"misses\":");
		view_free(v);
		if (!ok || misses)
			harness_rm_rf(dir);
		CHECK(ok);
		CHECK_EQ_U64(misses, 0);
		CHECK_EQ_U64(files, 24);	/* img and lbin */

		CHECK_OK(view_opts_parse(&vo, "text_files=name", &err), &err);
		CHECK_OK(view_open(&v, dir, &vo, &err), &err);
		ok = view_rows(v, dir, 12, &text);
		misses = status_count(v, "\"misses\":");
		view_free(v);
		view_opts_reset(&vo);
		harness_rm_rf(dir);
		CHECK(ok);
		CHECK(text > files);	/* name.txt too (a null has none) */
		/* 2.0 Binary is plain; 2.1+ short strings are mini-block */
		CHECK(minor ? misses > 0 && misses != UINT64_MAX : !misses);
	}
}

TEST_MAIN(TEST_ENTRY(written_20), TEST_ENTRY(written_21),
	  TEST_ENTRY(written_22), TEST_ENTRY(written_edge),
	  TEST_ENTRY(refusals), TEST_ENTRY(zstd_window),
	  TEST_ENTRY(v21_pages), TEST_ENTRY(v20_pages),
	  TEST_ENTRY(view_files))
