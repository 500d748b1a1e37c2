/*
 * test_v1.c - the legacy v1 decoder against files written by LanceDB 0.39
 * with new_table_data_storage_version=legacy (footer 0.2), and hand-built
 * hostile files.
 */
#include "filefix.h"

#include <unistd.h>

#include "file.pb-c.h"

#include "../data/v1/wide1_expect.h"
#include "../data/v1/multi1_expect.h"
#include "../data/v1/img1_expect.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct col_expect {
	const char *name;
	const char *const *cells;
};

static const struct fspec wide_spec[] = {
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
	{ "s", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "ls", -1, LANCE_T_UTF8, 0, 0, 1, 0 },
	{ "bin", -1, LANCE_T_BINARY, 0, 0, 0, 0 },
	{ "dict", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "fsl", -1, LANCE_T_FIXED_LIST, 4, LANCE_T_FLOAT32, 0, 0 },
	{ "fsln", -1, LANCE_T_FIXED_LIST, 4, LANCE_T_FLOAT32, 0, 0 },
	{ "li", -1, LANCE_T_LIST, 0, 0, 0, 0 },
	{ "item", 20, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "st", -1, LANCE_T_STRUCT, 0, 0, 0, 0 },
	{ "a", 22, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "b", 22, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "c", 22, LANCE_T_FLOAT64, 0, 0, 0, 0 },
	{ "fsb", -1, LANCE_T_FIXED_BINARY, 5, 0, 0, 0 },
	{ "dec", -1, LANCE_T_DECIMAL128, 0, 0, 0, 0 },
};

static const struct col_expect wide_cols[] = {
	{ "i8", wide1_i8 }, { "u8", wide1_u8 }, { "i16", wide1_i16 },
	{ "u16", wide1_u16 }, { "i32", wide1_i32 }, { "u32", wide1_u32 },
	{ "i64", wide1_i64 }, { "u64", wide1_u64 }, { "f32", wide1_f32 },
	{ "f64", wide1_f64 }, { "b", wide1_b }, { "bn", wide1_bn },
	{ "ts", wide1_ts }, { "d32", wide1_d32 }, { "s", wide1_s },
	{ "ls", wide1_ls }, { "bin", wide1_bin }, { "dict", wide1_dict },
	{ "fsl", wide1_fsl }, { "fsln", wide1_fsln }, { "li", wide1_li },
	{ "st", wide1_st }, { "fsb", wide1_fsb }, { "dec", wide1_dec },
};

static const struct fspec multi_spec[] = {
	{ "id", -1, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "flag", -1, LANCE_T_BOOL, 0, 0, 0, 0 },
	{ "s", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
	{ "li", -1, LANCE_T_LIST, 0, 0, 0, 0 },
	{ "item", 3, LANCE_T_INT16, 0, 0, 0, 0 },
};

static const struct col_expect multi_cols[] = {
	{ "id", multi1_id }, { "flag", multi1_flag }, { "s", multi1_s },
	{ "li", multi1_li },
};

static const struct fspec img_spec[] = {
	{ "img", -1, LANCE_T_BINARY, 0, 0, 0, 0 },
};

static int check_all(struct fixture *fx, const struct col_expect *cols,
		     size_t n_cols, uint64_t rows, const uint64_t *probe,
		     size_t n_probe)
{
	for (size_t c = 0; c < n_cols; c++) {
		if (fixture_check(fx, cols[c].name, cols[c].cells, 0, rows))
			return 1;
		for (size_t k = 0; k < n_probe; k++)
			if (probe[k] < rows &&
			    fixture_check(fx, cols[c].name, cols[c].cells,
					  probe[k], 1))
				return 1;
		if (fixture_check(fx, cols[c].name, cols[c].cells, rows / 3,
				  rows / 2))
			return 1;
	}
	return 0;
}

TEST(wide)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	uint64_t probe[] = { 0, 1, 17, 30, WIDE1_ROWS - 1 };
	uint16_t major, minor;

	CHECK_OK(fixture_open(&fx, "v1/wide1.lance", wide_spec, N(wide_spec),
			      true, &err), &err);
	lance_file_version(fx.f, &major, &minor);
	CHECK(major == 0 && minor == 2);
	CHECK_EQ_U64(lance_file_rows(fx.f), WIDE1_ROWS);
	CHECK(!check_all(&fx, wide_cols, N(wide_cols), WIDE1_ROWS, probe,
			 N(probe)));
	fixture_reset(&fx);
}

/* 2 100 rows: batches of 1 024, so reads cross batch boundaries. */
TEST(batches)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	uint64_t probe[] = { 0, 1023, 1024, 2047, 2048, MULTI1_ROWS - 1 };
	uint64_t sizes[64];
	bool valid[64];

	CHECK_OK(fixture_open(&fx, "v1/multi1.lance", multi_spec,
			      N(multi_spec), true, &err), &err);
	CHECK(!check_all(&fx, multi_cols, N(multi_cols), MULTI1_ROWS, probe,
			 N(probe)));
	for (size_t c = 0; c < N(multi_cols); c++) {
		CHECK(!fixture_check(&fx, multi_cols[c].name,
				     multi_cols[c].cells, 1000, 60));
		CHECK(!fixture_check(&fx, multi_cols[c].name,
				     multi_cols[c].cells, 2040, 60));
	}
	/* rows 1020..1029 sit in two batches: two page reads */
	{
		struct lance_array a;
		uint64_t before = fixture_reads;

		CHECK_OK(lance_file_read(&a, fx.f, fixture_field(&fx, "id"),
					 1020, 10, &err), &err);
		CHECK_EQ_U64(fixture_reads - before, 2);
		lance_array_reset(&a);
	}
	CHECK_OK(lance_file_value_sizes(sizes, valid, fx.f,
					fixture_field(&fx, "s"), 1000, 64,
					&err), &err);
	for (size_t i = 0; i < 64; i++) {
		const char *cell = multi1_s[1000 + i];

		CHECK(valid[i] == (strcmp(cell, "null") != 0));
		if (valid[i])
			CHECK_EQ_U64(sizes[i], (strlen(cell) - 1) / 2);
	}
	fixture_reset(&fx);
}

TEST(images)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	uint64_t probe[] = { 0, 3, 5 };
	uint64_t before;
	struct lance_array a;

	CHECK_OK(fixture_open(&fx, "v1/img1.lance", img_spec, N(img_spec),
			      true, &err), &err);
	CHECK(!check_all(&fx, (struct col_expect[]){ { "img", img1_img } }, 1,
			 IMG1_ROWS, probe, N(probe)));
	/* one image: two offsets, then its bytes */
	before = fixture_reads;
	CHECK_OK(lance_file_read(&a, fx.f, fixture_field(&fx, "img"), 4, 1,
				 &err), &err);
	CHECK_EQ_U64(fixture_reads - before, 2);
	lance_array_reset(&a);
	fixture_reset(&fx);
}

/* ---- hand-built v1 files */

struct v1_file {
	uint8_t buf[4096];
	size_t len;
};

static void put(struct v1_file *v, const void *p, size_t n)
{
	memcpy(v->buf + v->len, p, n);
	v->len += n;
}

static void put64(struct v1_file *v, uint64_t x)
{
	uint8_t b[8];

	lc_put_le64(b, x);
	put(v, b, 8);
}

/*
 * Field 0 int32 [7, 8, 9]; field 1 utf8 ["ab", "", "cde"]. `bad` breaks
 * one thing: 1 = string offsets go backwards, 2 = page length larger
 * than its data, 3 = batch offsets go backwards, 4 = metadata length past
 * the footer, 5 = string offsets past the end of the file.
 */
static void build_v1(struct v1_file *v, int bad)
{
	Lpb__V1Metadata md = LPB__V1_METADATA__INIT;
	int32_t batches[2] = { 0, 3 }, bad_batches[3] = { 0, 3, 2 };
	uint64_t strings = 0, offs, ints, table, meta;
	uint8_t tmp[256];
	size_t n;

	v->len = 0;
	strings = v->len;
	put(v, "abcde", 5);
	offs = v->len;
	put64(v, strings);
	put64(v, strings + 2);
	put64(v, bad == 1 ? strings + 1 : strings + 2);
	put64(v, bad == 5 ? 1 << 20 : strings + 5);
	ints = v->len;
	for (int i = 7; i <= 9; i++) {
		lc_put_le32(tmp, (uint32_t)i);
		put(v, tmp, 4);
	}
	table = v->len;
	put64(v, ints);
	put64(v, bad == 2 ? 1000 : 3);
	put64(v, offs);
	put64(v, 3);
	md.batch_offsets = bad == 3 ? bad_batches : batches;
	md.n_batch_offsets = bad == 3 ? 3 : 2;
	md.page_table_position = table;
	meta = v->len;
	n = lpb__v1_metadata__pack(&md, tmp + 4);
	lc_put_le32(tmp, (uint32_t)(bad == 4 ? n + 100 : n));
	put(v, tmp, n + 4);
	put64(v, meta);
	lc_put_le16(tmp, 0);
	lc_put_le16(tmp + 2, 2);
	put(v, tmp, 4);
	put(v, "LANC", 4);
}

static const struct fspec tiny_spec[] = {
	{ "n", -1, LANCE_T_INT32, 0, 0, 0, 0 },
	{ "s", -1, LANCE_T_UTF8, 0, 0, 0, 0 },
};

/* Write the file under tests/data/tmp-<pid>/ and open it. */
static int open_built(struct fixture *fx, const struct v1_file *v,
		      struct lc_err *err)
{
	char path[4200], rel[64];
	FILE *fp;

	snprintf(rel, sizeof(rel), "tmp-v1-%d.lance", (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), rel);
	fp = fopen(path, "wb");
	if (!fp || fwrite(v->buf, 1, v->len, fp) != v->len) {
		if (fp)
			fclose(fp);
		return EIO;
	}
	fclose(fp);
	int rc = fixture_open(fx, rel, tiny_spec, N(tiny_spec), true, err);

	unlink(path);
	return rc;
}

TEST(hand_built)
{
	struct fixture fx;
	struct v1_file v;
	struct lc_err err = { 0 };
	struct lance_array a;

	build_v1(&v, 0);
	CHECK_OK(open_built(&fx, &v, &err), &err);
	CHECK_OK(lance_file_read(&a, fx.f, &fx.schema.fields[0], 0, 3, &err),
		 &err);
	CHECK_EQ_U64(lc_le32(a.values + 8), 9);
	lance_array_reset(&a);
	CHECK_OK(lance_file_read(&a, fx.f, &fx.schema.fields[1], 0, 3, &err),
		 &err);
	/* an empty string in a nullable field reads as null */
	CHECK(lance_array_is_valid(&a, 0) && !lance_array_is_valid(&a, 1));
	CHECK(!memcmp(a.values + a.offsets[2], "cde", 3));
	lance_array_reset(&a);
	fixture_reset(&fx);
}

TEST(hostile)
{
	struct fixture fx;
	struct v1_file v;
	struct lc_err err = { 0 };
	struct lance_array a;
	int rc;

	build_v1(&v, 1);
	CHECK_OK(open_built(&fx, &v, &err), &err);
	rc = lance_file_read(&a, fx.f, &fx.schema.fields[1], 0, 3, &err);
	CHECK(rc == EIO && strstr(err.msg, "offset 2 is 1"));
	fixture_reset(&fx);

	lc_err_clear(&err);
	build_v1(&v, 2);
	CHECK_OK(open_built(&fx, &v, &err), &err);
	CHECK_OK(lance_file_read(&a, fx.f, &fx.schema.fields[0], 0, 3, &err),
		 &err);
	lance_array_reset(&a);
	fixture_reset(&fx);

	lc_err_clear(&err);
	build_v1(&v, 3);
	rc = open_built(&fx, &v, &err);
	CHECK(rc == EIO && strstr(err.msg, "batch offset 2 is 2"));
	fixture_reset(&fx);

	lc_err_clear(&err);
	build_v1(&v, 4);
	rc = open_built(&fx, &v, &err);
	CHECK(rc == EIO && strstr(err.msg, "runs past the footer"));
	fixture_reset(&fx);

	lc_err_clear(&err);
	build_v1(&v, 5);
	CHECK_OK(open_built(&fx, &v, &err), &err);
	rc = lance_file_read(&a, fx.f, &fx.schema.fields[1], 1, 2, &err);
	CHECK(rc == EIO && strstr(err.msg, "past the end of the file"));
	fixture_reset(&fx);

	/* truncated: the footer is gone */
	lc_err_clear(&err);
	build_v1(&v, 0);
	v.len -= 3;
	rc = open_built(&fx, &v, &err);
	CHECK(rc == EIO && strstr(err.msg, "no LANC magic"));
	fixture_reset(&fx);
}

TEST(dictionary_unsupported)
{
	struct fixture fx;
	struct lc_err err = { 0 };
	struct lance_array a;
	int rc;

	CHECK_OK(fixture_open(&fx, "v1/wide1.lance", wide_spec, N(wide_spec),
			      true, &err), &err);
	fx.schema.fields[17].type.dict = true;
	rc = lance_file_read(&a, fx.f, &fx.schema.fields[17], 0, 3, &err);
	CHECK(rc == EIO && err.kind == LC_EK_UNSUPPORTED);
	CHECK(strstr(err.msg, "dictionary"));
	fixture_reset(&fx);
}

TEST_MAIN(TEST_ENTRY(wide), TEST_ENTRY(batches), TEST_ENTRY(images),
	  TEST_ENTRY(hand_built), TEST_ENTRY(hostile),
	  TEST_ENTRY(dictionary_unsupported))
