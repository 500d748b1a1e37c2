/*
 * test_v20.c - the 2.0 decoder against files written by LanceDB 0.39
 * (lance 12) with LANCE_FILE_WRITER_MAX_PAGE_BYTES=2048, so most columns
 * span several pages, plus hostile pages built by hand.
 */
#include "filefix.h"

#include "enc20.pb-c.h"

#include "../data/v20/scal20_expect.h"
#include "../data/v20/nest20_expect.h"
#include "../data/v20/img20_expect.h"

struct col_expect {
	const char *name;
	const char *const *cells;
};

static const struct fspec scal_spec[] = {
	{ "i8", -1, LANCE_T_INT8, 0, 0, 0, 0 },
	{ "u8", -1, LANCE_T_UINT8, 0, 0, 0, 0 },
	{ "i16", -1, LANCE_T_INT16, 0, 0, 0, 0 },
	{ "u16", -1, LANCE_T_UINT16, 0, 0, 0, 0 },
	{ "i32", -1, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "u32", -1, LANCE_T_UINT32, 0, 0, 0, 0 },
	{ "i64", -1, LANCE_T_INT64, 0, 0, 0, 0 },
	{ "u64", -1, LANCE_T_UINT64, 0, 0, 0, 0 },
	{ "f32", -1, LANCE_T_FLOAT32, 0, 0, 0, 0 },
	{ "f64", -1, LANCE_T_FLOAT64, 0, 0, 0, 0 },
	{ "b", -1, LANCE_T_BOOL, 0, 0, 0, 0 },
	{ "bn", -1, LANCE_T_BOOL, 0, 0, 0, 0 },
	{ "ts", -1, LANCE_T_TIMESTAMP, 0, 0, 0, 0 },
	{ "d32", -1, LANCE_T_DATE32, 0, 0, 0, 0 },
};

static const struct col_expect scal_cols[] = {
	{ "i8", scal20_i8 }, { "u8", scal20_u8 }, { "i16", scal20_i16 },
	{ "u16", scal20_u16 }, { "i32", scal20_i32 }, { "u32", scal20_u32 },
	{ "i64", scal20_i64 }, { "u64", scal20_u64 }, { "f32", scal20_f32 },
	{ "f64", scal20_f64 }, { "b", scal20_b }, { "bn", scal20_bn },
	{ "ts", scal20_ts }, { "d32", scal20_d32 },
};

static const struct fspec nest_spec[] = {
	{ "s", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "ls", -1, LANCE_T_UTF8, 0, 0, 1, 0 },
	{ "bin", -1, LANCE_T_BINARY, 0, 0, 0, 0 },
	{ "dict", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "fsl", -1, LANCE_T_FIXED_LIST, 4, LANCE_T_FLOAT32, 0, 0 },
	{ "fsln", -1, LANCE_T_FIXED_LIST, 4, LANCE_T_FLOAT32, 0, 0 },
	{ "li", -1, LANCE_T_LIST, 0, 0, 0, 0 },
	{ "item", 6, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "st", -1, LANCE_T_STRUCT, 0, 0, 0, 0 },
	{ "a", 8, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "b", 8, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "c", 8, LANCE_T_FLOAT64, 0, 0, 0, 0 },
	{ "fsb", -1, LANCE_T_FIXED_BINARY, 5, 0, 0, 0 },
	{ "dec", -1, LANCE_T_DECIMAL128, 0, 0, 0, 0 },
};

static const struct col_expect nest_cols[] = {
	{ "s", nest20_s }, { "ls", nest20_ls }, { "bin", nest20_bin },
	{ "dict", nest20_dict }, { "fsl", nest20_fsl },
	{ "fsln", nest20_fsln }, { "li", nest20_li }, { "st", nest20_st },
	{ "fsb", nest20_fsb }, { "dec", nest20_dec },
};

static const struct fspec img_spec[] = {
	{ "img", -1, LANCE_T_BINARY, 0, 0, 0, 0 },
	{ "blob", -1, LANCE_T_BINARY, 0, 0, 1, 1 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Read every column whole, then single rows and two-row windows around
 * every page boundary of the column (and of its children). */
static int check_table(const char *path, const struct fspec *spec,
		       size_t n_spec, const struct col_expect *cols,
		       size_t n_cols, uint64_t rows, size_t *multi_page)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	int rc = fixture_open(&fx, path, spec, n_spec, false, &err);

	if (rc) {
		fprintf(stderr, "open %s: %s\n", path, err.msg);
		fixture_reset(&fx);
		return rc;
	}
	*multi_page = 0;
	for (size_t c = 0; !rc && c < n_cols; c++) {
		const struct lance_field *fl = fixture_field(&fx,
							     cols[c].name);
		int32_t ci = lance__file_column(fx.f, fl->id);
		const struct lance_column *col = &fx.f->cols[ci];

		rc = fixture_check(&fx, cols[c].name, cols[c].cells, 0, rows);
		if (col->n_pages > 1)
			(*multi_page)++;
		for (size_t p = 0; !rc && p < col->n_pages; p++) {
			uint64_t r = col->pages[p].first_row;

			if (r >= rows)
				break;
			rc = fixture_check(&fx, cols[c].name, cols[c].cells,
					   r, 1);
			if (!rc && r > 0)
				rc = fixture_check(&fx, cols[c].name,
						   cols[c].cells, r - 1, 2);
		}
		if (!rc)
			rc = fixture_check(&fx, cols[c].name, cols[c].cells,
					   rows - 1, 1);
		if (!rc)
			rc = fixture_check(&fx, cols[c].name, cols[c].cells,
					   rows / 3, rows / 2);
		if (!rc)
			rc = fixture_check(&fx, cols[c].name, cols[c].cells,
					   rows / 2, 0);
	}
	fixture_reset(&fx);
	return rc;
}

TEST(scalars)
{
	size_t multi;

	CHECK(!check_table("v20/scal20.lance", scal_spec, N(scal_spec),
			   scal_cols, N(scal_cols), SCAL20_ROWS, &multi));
	CHECK(multi >= 8);
}

TEST(nested)
{
	size_t multi;

	CHECK(!check_table("v20/nest20.lance", nest_spec, N(nest_spec),
			   nest_cols, N(nest_cols), NEST20_ROWS, &multi));
	CHECK(multi >= 6);
}

/* Which encodings the fixture really exercises. */
TEST(encodings_seen)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	struct lance_array a;
	int seen[32] = { 0 };

	CHECK_OK(fixture_open(&fx, "v20/nest20.lance", nest_spec,
			      N(nest_spec), false, &err), &err);
	/* parse every column through a read */
	for (size_t c = 0; c < N(nest_cols); c++) {
		CHECK_OK(lance_file_read(&a, fx.f, fixture_field(&fx,
				nest_cols[c].name), 0, 1, &err), &err);
		lance_array_reset(&a);
	}
	for (uint32_t c = 0; c < fx.f->n_cols; c++) {
		const struct lance_column *col = &fx.f->cols[c];

		for (size_t p = 0; p < col->n_pages; p++) {
			Lpb20__Encoding *e = lpb20__encoding__unpack(
				NULL, col->pages[p].enc_len,
				col->pages[p].enc);

			CHECK(e);
			if (e->kind_case == LPB20__ENCODING__KIND_NULLABLE &&
			    e->nullable->nullability_case ==
				    LPB20__NULLABLE__NULLABILITY_SOME_NULLS)
				seen[30] = 1;
			seen[e->kind_case & 31] = 1;
			lpb20__encoding__free_unpacked(e, NULL);
		}
	}
	CHECK(seen[LPB20__ENCODING__KIND_BINARY]);
	CHECK(seen[LPB20__ENCODING__KIND_DICTIONARY]);
	CHECK(seen[LPB20__ENCODING__KIND_LIST]);
	CHECK(seen[LPB20__ENCODING__KIND_SIMPLE_STRUCT]);
	CHECK(seen[LPB20__ENCODING__KIND_NULLABLE]);
	CHECK(seen[30]);
	/* list items span pages although the offsets do not */
	CHECK(fx.f->cols[7].n_pages > 1);
	fixture_reset(&fx);
}

static uint64_t expect_len(const char *cell)
{
	if (cell[0] == 'x')
		return (strlen(cell) - 1) / 2;
	if (cell[0] == 'L')
		return strtoull(cell + 1, NULL, 10);
	return 0;
}

TEST(images_and_blobs)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	const struct lance_field *img, *blob;
	struct lance_array a;
	uint64_t sizes[IMG20_ROWS], before;
	bool valid[IMG20_ROWS];
	char buf[256];

	CHECK_OK(fixture_open(&fx, "v20/img20.lance", img_spec, N(img_spec),
			      false, &err), &err);
	img = fixture_field(&fx, "img");
	blob = fixture_field(&fx, "blob");
	CHECK(fx.f->cols[0].n_pages > 1);
	for (uint64_t r = 0; r < IMG20_ROWS; r++)
		CHECK(!fixture_check(&fx, "img", img20_img, r, 1));
	CHECK(!fixture_check(&fx, "img", img20_img, 0, IMG20_ROWS));
	/* blob v1: lance_file_read returns the bytes */
	CHECK(!fixture_check(&fx, "blob", img20_blob_bytes, 0, IMG20_ROWS));
	for (uint64_t r = 0; r < IMG20_ROWS; r++)
		CHECK(!fixture_check(&fx, "blob", img20_blob_bytes, r, 1));
	/* sizes come from offsets and descriptors alone */
	before = fixture_bytes_read;
	CHECK_OK(lance_file_value_sizes(sizes, valid, fx.f, img, 0,
					IMG20_ROWS, &err), &err);
	CHECK(fixture_bytes_read - before < 64 * IMG20_ROWS);
	for (uint64_t r = 0; r < IMG20_ROWS; r++) {
		CHECK(valid[r] == (strcmp(img20_img[r], "null") != 0));
		CHECK_EQ_U64(sizes[r], expect_len(img20_img[r]));
	}
	before = fixture_bytes_read;
	CHECK_OK(lance_file_value_sizes(sizes, valid, fx.f, blob, 0,
					IMG20_ROWS, &err), &err);
	CHECK(fixture_bytes_read - before < 64 * IMG20_ROWS);
	for (uint64_t r = 0; r < IMG20_ROWS; r++) {
		CHECK(valid[r] == (strcmp(img20_blob_bytes[r], "null") != 0));
		CHECK_EQ_U64(sizes[r], expect_len(img20_blob_bytes[r]));
	}
	/* the descriptors LanceDB returned agree with what we fetched */
	for (uint64_t r = 0; r < IMG20_ROWS; r++) {
		unsigned long long pos, size;

		CHECK(sscanf(img20_blob[r], "{%llu,%llu}", &pos, &size) == 2);
		if (!valid[r])
			CHECK(pos == 1 && size == 0);
		else
			CHECK_EQ_U64(size, sizes[r]);
	}
	/* one image costs its bytes plus a few offsets: bounded reads */
	before = fixture_bytes_read;
	CHECK_OK(lance_file_read(&a, fx.f, img, 7, 1, &err), &err);
	buf[0] = 0;
	canon(buf, sizeof(buf), &a, 0);
	CHECK_STR(buf, img20_img[7]);
	CHECK(fixture_bytes_read - before <= expect_len(img20_img[7]) + 16);
	lance_array_reset(&a);
	fixture_reset(&fx);
}

TEST(bounded_reads)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	struct lance_array a;
	uint64_t before;

	CHECK_OK(fixture_open(&fx, "v20/scal20.lance", scal_spec,
			      N(scal_spec), false, &err), &err);
	before = fixture_bytes_read;
	CHECK_OK(lance_file_read(&a, fx.f, fixture_field(&fx, "i64"), 123, 1,
				 &err), &err);
	CHECK_EQ_U64(fixture_bytes_read - before, 8);
	lance_array_reset(&a);
	before = fixture_bytes_read;
	CHECK_OK(lance_file_read(&a, fx.f, fixture_field(&fx, "i32"), 123, 1,
				 &err), &err);
	CHECK(fixture_bytes_read - before <= 5);	/* value + validity */
	lance_array_reset(&a);
	fixture_reset(&fx);
}

/* ---- hostile pages, built by hand */

static Lpb20__BufRef *bref(Lpb20__BufRef *r, uint32_t i)
{
	lpb20__buf_ref__init(r);
	r->index = i;
	return r;
}

static Lpb20__Encoding *flat(Lpb20__Encoding *e, Lpb20__Flat *f,
			     Lpb20__BufRef *r, uint64_t bits, uint32_t buf)
{
	lpb20__encoding__init(e);
	lpb20__flat__init(f);
	f->bits_per_value = bits;
	f->buffer = bref(r, buf);
	e->kind_case = LPB20__ENCODING__KIND_FLAT;
	e->flat = f;
	return e;
}

struct packed_enc {
	uint8_t buf[256];
	size_t len;
};

static void pack(struct packed_enc *p, const Lpb20__Encoding *e)
{
	p->len = lpb20__encoding__get_packed_size(e);
	lpb20__encoding__pack(e, p->buf);
}

/* Binary over 2 buffers: u64 ends, bytes. */
static void binary_enc(struct packed_enc *p, uint64_t adj)
{
	Lpb20__Encoding top, ie, be;
	Lpb20__VarBinary vb;
	Lpb20__Flat f1, f2;
	Lpb20__BufRef r1, r2;

	lpb20__encoding__init(&top);
	lpb20__var_binary__init(&vb);
	vb.indices = flat(&ie, &f1, &r1, 64, 0);
	vb.bytes = flat(&be, &f2, &r2, 8, 1);
	vb.null_adjustment = adj;
	top.kind_case = LPB20__ENCODING__KIND_BINARY;
	top.binary = &vb;
	pack(p, &top);
}

static const struct lance_type t_utf8 = { .id = LANCE_T_UTF8 };
static const struct lance_type t_i32 = { .id = LANCE_T_INT32 };

TEST(hostile_binary)
{
	struct packed_enc p;
	uint8_t ends[24], bytes[8] = "abcdefg";
	const uint8_t *bufs[2] = { ends, bytes };
	uint64_t sizes[2] = { 24, 7 };
	struct lance_array a;
	struct lc_err err = { 0 };
	int rc;

	binary_enc(&p, 100);
	lc_put_le64(ends, 2);
	lc_put_le64(ends + 8, 2 + 100);	/* null, ends at 2 */
	lc_put_le64(ends + 16, 7);
	CHECK_OK(lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
					sizes, 2, 3, 0, 3, &err), &err);
	CHECK(lance_array_is_valid(&a, 0) && !lance_array_is_valid(&a, 1));
	CHECK_EQ_U64(a.offsets[3], 7);
	lance_array_reset(&a);
	/* a middle row alone reads ends [0, 2) and bytes [2, 7) */
	CHECK_OK(lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
					sizes, 2, 3, 2, 3, &err), &err);
	CHECK_EQ_U64(a.offsets[1], 5);
	CHECK(!memcmp(a.values, "cdefg", 5));
	lance_array_reset(&a);

	/* offsets past the end of the bytes buffer */
	lc_put_le64(ends + 16, 9);
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
				    sizes, 2, 3, 0, 3, &err);
	CHECK(rc == EIO && err.kind == LC_EK_CORRUPT);
	CHECK(strstr(err.msg, "past its 7 bytes"));
	/* non-monotonic offsets */
	lc_err_clear(&err);
	lc_put_le64(ends + 16, 1);
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
				    sizes, 2, 3, 0, 3, &err);
	CHECK(rc == EIO && strstr(err.msg, "go backwards"));
	/* truncated offsets buffer */
	lc_err_clear(&err);
	sizes[0] = 20;
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
				    sizes, 2, 3, 0, 3, &err);
	CHECK(rc == EIO && strstr(err.msg, "page buffer 0"));
	/* an encoding naming a buffer the page lacks */
	lc_err_clear(&err);
	sizes[0] = 24;
	lc_put_le64(ends + 16, 7);
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
				    sizes, 1, 3, 0, 3, &err);
	CHECK(rc == EIO && strstr(err.msg, "names page buffer 1"));
	/* garbage encoding bytes */
	lc_err_clear(&err);
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, (const uint8_t *)"\xff",
				    1, bufs, sizes, 2, 3, 0, 3, &err);
	CHECK(rc == EIO && err.kind == LC_EK_CORRUPT);
}

TEST(hostile_shapes)
{
	Lpb20__Encoding top, in;
	Lpb20__FixedList fl;
	Lpb20__Codec codec;
	Lpb20__Flat f;
	Lpb20__BufRef r;
	struct lance_type item = { .id = LANCE_T_FLOAT32 };
	struct lance_type fsl = { .id = LANCE_T_FIXED_LIST, .width = 4,
				  .item = &item };
	struct packed_enc p;
	uint8_t vals[64] = { 0 };
	const uint8_t *bufs[1] = { vals };
	uint64_t sizes[1] = { 64 };
	struct lance_array a;
	struct lc_err err = { 0 };
	int rc;

	lpb20__encoding__init(&top);
	lpb20__fixed_list__init(&fl);
	fl.dimension = 4;
	fl.items = flat(&in, &f, &r, 32, 0);
	top.kind_case = LPB20__ENCODING__KIND_FIXED_SIZE_LIST;
	top.fixed_size_list = &fl;
	pack(&p, &top);
	CHECK_OK(lance__v20_decode_page(&a, &fsl, NULL, p.buf, p.len, bufs,
					sizes, 1, 4, 1, 4, &err), &err);
	CHECK_EQ_U64(a.children[0].length, 12);
	lance_array_reset(&a);
	/* more rows than the buffer holds */
	rc = lance__v20_decode_page(&a, &fsl, NULL, p.buf, p.len, bufs,
				    sizes, 1, 5, 0, 5, &err);
	CHECK(rc == EIO && err.kind == LC_EK_CORRUPT);
	/* impossible dimensions */
	lc_err_clear(&err);
	fl.dimension = 0;
	pack(&p, &top);
	rc = lance__v20_decode_page(&a, &fsl, NULL, p.buf, p.len, bufs,
				    sizes, 1, 4, 0, 4, &err);
	CHECK(rc == EIO && strstr(err.msg, "dimension 0"));
	lc_err_clear(&err);
	fl.dimension = 0xffffffffu;
	fsl.width = (int32_t)0x7fffffff;
	pack(&p, &top);
	rc = lance__v20_decode_page(&a, &fsl, NULL, p.buf, p.len, bufs,
				    sizes, 1, 4, 0, 4, &err);
	CHECK(rc == EIO && err.kind == LC_EK_CORRUPT);
	/* a flat of the wrong width for the type */
	lc_err_clear(&err);
	pack(&p, flat(&top, &f, &r, 64, 0));
	rc = lance__v20_decode_page(&a, &t_i32, NULL, p.buf, p.len, bufs,
				    sizes, 1, 4, 0, 4, &err);
	CHECK(rc == EIO && strstr(err.msg, "64 bits per value for a 32-bit"));
	/* encodings we do not decode yet say so by name */
	lc_err_clear(&err);
	flat(&top, &f, &r, 32, 0);
	lpb20__codec__init(&codec);
	codec.scheme = (char *)"zstd";
	f.compression = &codec;
	pack(&p, &top);
	rc = lance__v20_decode_page(&a, &t_i32, NULL, p.buf, p.len, bufs,
				    sizes, 1, 4, 0, 4, &err);
	CHECK(rc == EIO && err.kind == LC_EK_UNSUPPORTED);
	CHECK(strstr(err.msg, "zstd"));
}

TEST(hostile_dict_and_list)
{
	Lpb20__Encoding top, ie, ite, ibe, ofs;
	Lpb20__Dict d;
	Lpb20__VarBinary vb;
	Lpb20__ListOffsets lo;
	Lpb20__Flat f1, f2, f3, f4;
	Lpb20__BufRef r1, r2, r3, r4;
	struct packed_enc p;
	uint8_t idx[4] = { 1, 0, 2, 3 }, ends[16], bytes[4] = "abc";
	const uint8_t *bufs[3] = { idx, ends, bytes };
	uint64_t sizes[3] = { 4, 16, 3 };
	struct lance_array a;
	struct lc_err err = { 0 };
	int rc;

	lpb20__encoding__init(&top);
	lpb20__dict__init(&d);
	lpb20__var_binary__init(&vb);
	d.indices = flat(&ie, &f1, &r1, 8, 0);
	vb.indices = flat(&ite, &f2, &r2, 64, 1);
	vb.bytes = flat(&ibe, &f3, &r3, 8, 2);
	vb.null_adjustment = 4;
	lpb20__encoding__init(&ofs);
	ofs.kind_case = LPB20__ENCODING__KIND_BINARY;
	ofs.binary = &vb;
	d.items = &ofs;
	d.num_dictionary_items = 2;
	top.kind_case = LPB20__ENCODING__KIND_DICTIONARY;
	top.dictionary = &d;
	pack(&p, &top);
	lc_put_le64(ends, 1);
	lc_put_le64(ends + 8, 3);
	CHECK_OK(lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
					sizes, 3, 4, 0, 3, &err), &err);
	CHECK(!lance_array_is_valid(&a, 1));
	CHECK_EQ_U64(a.offsets[3], 3);
	CHECK(!memcmp(a.values, "abc", 3));
	lance_array_reset(&a);
	rc = lance__v20_decode_page(&a, &t_utf8, NULL, p.buf, p.len, bufs,
				    sizes, 3, 4, 0, 4, &err);
	CHECK(rc == EIO && strstr(err.msg, "dictionary index 3"));

	/* list offsets beyond num_items, then going backwards */
	lc_err_clear(&err);
	lpb20__encoding__init(&top);
	lpb20__list_offsets__init(&lo);
	lo.offsets = flat(&ie, &f4, &r4, 64, 1);
	lo.num_items = 2;
	lo.null_offset_adjustment = 3;
	top.kind_case = LPB20__ENCODING__KIND_LIST;
	top.list = &lo;
	pack(&p, &top);
	lc_put_le64(ends, 2);
	lc_put_le64(ends + 8, 2 + 3);	/* null */
	CHECK_OK(lance__v20_decode_page(&a, &t_i32, NULL, p.buf, p.len, bufs,
					sizes, 3, 2, 0, 2, &err), &err);
	CHECK(lance_array_is_valid(&a, 0) && !lance_array_is_valid(&a, 1));
	CHECK_EQ_U64(a.offsets[1], 2);
	CHECK_EQ_U64(a.offsets[2], 2);
	lance_array_reset(&a);
	lc_put_le64(ends + 8, 1);
	rc = lance__v20_decode_page(&a, &t_i32, NULL, p.buf, p.len, bufs,
				    sizes, 3, 2, 0, 2, &err);
	CHECK(rc == EIO && strstr(err.msg, "list offset 1 at row 1"));
	lc_err_clear(&err);
	lo.num_items = 1;
	pack(&p, &top);
	rc = lance__v20_decode_page(&a, &t_i32, NULL, p.buf, p.len, bufs,
				    sizes, 3, 2, 0, 1, &err);
	CHECK(rc == EIO && strstr(err.msg, "page has 1 items"));
}

TEST_MAIN(TEST_ENTRY(scalars), TEST_ENTRY(nested), TEST_ENTRY(encodings_seen),
	  TEST_ENTRY(images_and_blobs), TEST_ENTRY(bounded_reads),
	  TEST_ENTRY(hostile_binary), TEST_ENTRY(hostile_shapes),
	  TEST_ENTRY(hostile_dict_and_list))
