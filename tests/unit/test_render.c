/* test_render.c - meta.json value rules, sniffing and name escaping. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "render.h"

#define sniff_ext(h, n) render_sniff_exts[render_sniff((h), (n))]

static struct lance_type t_i64 = { .id = LANCE_T_INT64 };
static struct lance_type t_u64 = { .id = LANCE_T_UINT64 };
static struct lance_type t_f64 = { .id = LANCE_T_FLOAT64 };
static struct lance_type t_f32 = { .id = LANCE_T_FLOAT32 };

/* Render value i of a one-buffer fixed-width array. */
static char *render1(const struct lance_type *t, const void *vals, size_t w,
		     uint64_t i)
{
	struct lance_array a = { .type = t, .length = i + 1 };
	struct lc_buf b;
	struct lc_err err = { 0 };
	uint8_t *out;

	a.values = (uint8_t *)vals;
	a.values_len = (i + 1) * w;
	lc_buf_init(&b, 0);
	if (render_json_value(&b, &a, i, &err) ||
	    lc_buf_take(&b, &out, NULL, &err))
		return NULL;
	return (char *)out;
}

#define CHECK_RENDER(t, vals, w, i, want)                                  \
	do {                                                               \
		char *got_ = render1(t, vals, w, i);                       \
		int ok_ = got_ && !strcmp(got_, want);                     \
		if (!ok_)                                                  \
			fprintf(stderr, "rendered %s, expected %s\n",      \
				got_ ? got_ : "(error)", want);            \
		free(got_);                                                \
		CHECK(ok_);                                                \
	} while (0)

TEST(integers_exact)
{
	int64_t i[] = { INT64_MIN, INT64_MAX, -1, 0 };
	uint64_t u[] = { UINT64_MAX };

	CHECK_RENDER(&t_i64, i, 8, 0, "-9223372036854775808");
	CHECK_RENDER(&t_i64, i, 8, 1, "9223372036854775807");
	CHECK_RENDER(&t_i64, i, 8, 2, "-1");
	CHECK_RENDER(&t_u64, u, 8, 0, "18446744073709551615");
}

TEST(floats_shortest)
{
	double d[] = { 0.1, 1.0, -0.0, 1e300, 5e-324, NAN, INFINITY,
		       123456.789, 1.0 / 3 };
	float f[] = { 0.1f, 16777216.0f, 3.14159274f };

	CHECK_RENDER(&t_f64, d, 8, 0, "0.1");
	CHECK_RENDER(&t_f64, d, 8, 1, "1.0");
	CHECK_RENDER(&t_f64, d, 8, 2, "-0.0");
	CHECK_RENDER(&t_f64, d, 8, 3, "1e+300");
	CHECK_RENDER(&t_f64, d, 8, 4, "5e-324");
	CHECK_RENDER(&t_f64, d, 8, 5, "null");
	CHECK_RENDER(&t_f64, d, 8, 6, "null");
	/* the daemon's own copies keep them (render_exact) */
	render_exact(true);
	CHECK_RENDER(&t_f64, d, 8, 5, "\"\\u0000lancefs.float:NaN\"");
	CHECK_RENDER(&t_f64, d, 8, 6, "\"\\u0000lancefs.float:Infinity\"");
	CHECK_RENDER(&t_f64, d, 8, 7, "123456.789");
	render_exact(false);
	CHECK_RENDER(&t_f64, d, 8, 7, "123456.789");
	CHECK_RENDER(&t_f64, d, 8, 8, "0.3333333333333333");
	CHECK_RENDER(&t_f32, f, 4, 0, "0.1");
	CHECK_RENDER(&t_f32, f, 4, 1, "16777216.0");
	CHECK_RENDER(&t_f32, f, 4, 2, "3.1415927");
	/* plain as Python writes them between 1e-4 and 1e16 */
	{
		double r[] = { 30.0, 100.0, 1e15, 1e16, 0.0001, 1.5e-5,
			       -2500.0, 1.2877670929382192e16,
			       -9.999999999999998e16 };
		float rf[] = { 30.0f, 1e10f };

		CHECK_RENDER(&t_f64, r, 8, 0, "30.0");
		CHECK_RENDER(&t_f64, r, 8, 1, "100.0");
		CHECK_RENDER(&t_f64, r, 8, 2, "1000000000000000.0");
		CHECK_RENDER(&t_f64, r, 8, 3, "1e+16");
		CHECK_RENDER(&t_f64, r, 8, 4, "0.0001");
		CHECK_RENDER(&t_f64, r, 8, 5, "1.5e-05");
		CHECK_RENDER(&t_f64, r, 8, 6, "-2500.0");
		/* 17 digits from 1e16 on: %g would write them plain */
		CHECK_RENDER(&t_f64, r, 8, 7, "1.2877670929382192e+16");
		CHECK_RENDER(&t_f64, r, 8, 8, "-9.999999999999998e+16");
		CHECK_RENDER(&t_f32, rf, 4, 0, "30.0");
		CHECK_RENDER(&t_f32, rf, 4, 1, "10000000000.0");
	}
	/* every rendering reads back to the same bits */
	for (int k = 0; k < 1000; k++) {
		double x = ldexp((double)rand() / RAND_MAX, rand() % 200 - 100);
		char buf[64];

		render_double(buf, sizeof(buf), x);
		CHECK(strtod(buf, NULL) == x);
	}
}

TEST(half_floats)
{
	struct lance_type t = { .id = LANCE_T_FLOAT16 };
	uint16_t h[] = { 0x3c00, 0x2e66, 0xc000, 0x7c00, 0x0001 };

	CHECK_RENDER(&t, h, 2, 0, "1.0");
	CHECK_RENDER(&t, h, 2, 1, "0.1");
	CHECK_RENDER(&t, h, 2, 2, "-2.0");
	CHECK_RENDER(&t, h, 2, 3, "null");
	CHECK_RENDER(&t, h, 2, 4, "6e-08");
	/* plain as Python writes them: 100.0, not 1e+02; and no more
	 * digits than the shortest (65504 reads back from 65500) */
	CHECK_RENDER(&t, (uint16_t[]){ 0x5640 }, 2, 0, "100.0");
	CHECK_RENDER(&t, (uint16_t[]){ 0x7bff }, 2, 0, "65500.0");
	CHECK_RENDER(&t, (uint16_t[]){ 0xf9ed }, 2, 0, "-48540.0");
	/* every half reads back to its bits, and rounding is to even */
	for (unsigned k = 0; k < 0x7c00; k++) {
		char buf[64];

		render_half(buf, sizeof(buf), (uint16_t)k);
		CHECK_EQ_U64(render_to_half(strtod(buf, NULL)), k);
		CHECK_EQ_U64(render_to_half(render_half_to_double(
				     (uint16_t)(k | 0x8000))), k | 0x8000);
	}
	CHECK_EQ_U64(render_to_half(1.0 + ldexp(1, -11)), 0x3c00);
	CHECK_EQ_U64(render_to_half(1.0 + 3 * ldexp(1, -11)), 0x3c02);
	CHECK_EQ_U64(render_to_half(65520.0), 0x7c00);
	CHECK_EQ_U64(render_to_half(ldexp(1, -25)), 0);
	CHECK_EQ_U64(render_to_half(ldexp(3, -26)), 1);
}

/* bfloat16 vectors (fixed_size_list:lance.bfloat16:n): numbers. */
TEST(bfloat16_vectors)
{
	struct lance_type item = { .id = LANCE_T_FIXED_BINARY, .width = 2 };
	struct lance_type t = { .id = LANCE_T_FIXED_LIST, .width = 3,
				.item = &item, .bfloat16 = true };
	/* 1.0, 3.140625, -0.5; 1e30 (rounded), +inf, 0 */
	uint8_t v[] = { 0x80, 0x3f, 0x49, 0x40, 0x00, 0xbf,
			0x4a, 0x71, 0x80, 0x7f, 0x00, 0x00 };
	struct lance_array kid = { .type = &item, .length = 6, .values = v,
				   .values_len = sizeof(v) };
	struct lance_array a = { .type = &t, .length = 2, .children = &kid,
				 .n_children = 1 };
	struct lc_err err = { 0 };
	struct lc_buf b;

	lc_buf_init(&b, 0);
	CHECK_OK(render_json_value(&b, &a, 0, &err), &err);
	CHECK_OK(lc_buf_append(&b, " ", 1, &err), &err);
	CHECK_OK(render_json_value(&b, &a, 1, &err), &err);
	CHECK_OK(lc_buf_append(&b, "", 1, &err), &err);
	CHECK_STR((char *)b.data, "[1.0,3.14,-0.5] [1e+30,null,0.0]");
	lc_buf_reset(&b);
	for (unsigned k = 0; k < 0x7f80; k++) {
		char buf[64];

		render_bf16(buf, sizeof(buf), (uint16_t)k);
		CHECK_EQ_U64(render_to_bf16(strtod(buf, NULL)), k);
	}
	CHECK_EQ_U64(render_to_bf16(1.0 + ldexp(1, -8)), 0x3f80);
	CHECK_EQ_U64(render_to_bf16(1.0 + 3 * ldexp(1, -8)), 0x3f82);
	CHECK_EQ_U64(render_to_bf16(3.4e38), 0x7f80);
	CHECK_EQ_U64(render_to_bf16(-1e-40), 0x8001);
}

TEST(dates_and_times)
{
	struct lance_type d32 = { .id = LANCE_T_DATE32 };
	struct lance_type d64 = { .id = LANCE_T_DATE64 };
	struct lance_type ts_us = { .id = LANCE_T_TIMESTAMP,
				    .unit = LANCE_UNIT_US };
	struct lance_type ts_ns_utc = { .id = LANCE_T_TIMESTAMP,
					.unit = LANCE_UNIT_NS,
					.tz = (char *)"UTC" };
	struct lance_type ts_s = { .id = LANCE_T_TIMESTAMP,
				   .unit = LANCE_UNIT_S };
	struct lance_type t32 = { .id = LANCE_T_TIME32,
				  .unit = LANCE_UNIT_MS };
	int32_t days[] = { 0, 19723, -1 };
	int64_t ms[] = { 86400000LL * 19723 + 5, 86400000LL * 19723, -1 };
	int64_t us[] = { 1704164645123456LL, -1 };
	int64_t ns[] = { 1704164645123456789LL };
	int64_t s[] = { 253402300800LL };
	int32_t tms[] = { 3723004 };

	CHECK_RENDER(&d32, days, 4, 0, "\"1970-01-01\"");
	CHECK_RENDER(&d32, days, 4, 1, "\"2024-01-01\"");
	CHECK_RENDER(&d32, days, 4, 2, "\"1969-12-31\"");
	/* a date64 is a day; one off midnight the instant it holds */
	CHECK_RENDER(&d64, ms, 8, 0, "\"2024-01-01T00:00:00.005\"");
	CHECK_RENDER(&d64, ms, 8, 1, "\"2024-01-01\"");
	CHECK_RENDER(&d64, ms, 8, 2, "\"1969-12-31T23:59:59.999\"");
	CHECK_RENDER(&ts_us, us, 8, 0, "\"2024-01-02T03:04:05.123456\"");
	CHECK_RENDER(&ts_us, us, 8, 1, "\"1969-12-31T23:59:59.999999\"");
	CHECK_RENDER(&ts_ns_utc, ns, 8, 0,
		     "\"2024-01-02T03:04:05.123456789Z\"");
	CHECK_RENDER(&ts_s, s, 8, 0, "\"+10000-01-01T00:00:00\"");
	CHECK_RENDER(&t32, tms, 4, 0, "\"01:02:03.004\"");
}

TEST(decimals)
{
	struct lance_type t = { .id = LANCE_T_DECIMAL128, .scale = 2 };
	struct lance_type t0 = { .id = LANCE_T_DECIMAL128, .scale = 0 };
	uint8_t v[3][16] = { { 0 } };

	lc_put_le64(v[0], 12345);		/* 123.45 */
	memset(v[1], 0xff, 16);			/* -1 -> -0.01 */
	lc_put_le64(v[2], 5);			/* 0.05 */
	CHECK_RENDER(&t, v, 16, 0, "\"123.45\"");
	CHECK_RENDER(&t, v, 16, 1, "\"-0.01\"");
	CHECK_RENDER(&t, v, 16, 2, "\"0.05\"");
	CHECK_RENDER(&t0, v, 16, 0, "\"12345\"");
	/* scales a manifest may hold: large (zeros, no overflow), and
	 * negative (the digits count hundreds) */
	{
		struct lance_type big = { .id = LANCE_T_DECIMAL128,
					  .precision = 38, .scale = 120 };
		struct lance_type neg = { .id = LANCE_T_DECIMAL128,
					  .precision = 5, .scale = -2 };
		char want[200] = "\"0.";

		for (int i = 0; i < 115; i++)
			strcat(want, "0");
		strcat(want, "12345\"");
		CHECK_RENDER(&big, v, 16, 0, want);
		CHECK_RENDER(&neg, v, 16, 0, "\"1234500\"");
		CHECK_RENDER(&neg, v, 16, 1, "\"-100\"");
	}
}

TEST(strings_escaped)
{
	struct lance_type t = { .id = LANCE_T_UTF8 };
	const char text[] = "a\"b\\c\n\x01\xc3\xa9\xff";
	uint64_t offs[] = { 0, sizeof(text) - 1 };
	struct lance_array a = { .type = &t, .length = 1,
				 .values = (uint8_t *)text, .offsets = offs };
	struct lc_buf b;
	struct lc_err err = { 0 };

	lc_buf_init(&b, 0);
	CHECK_OK(render_json_value(&b, &a, 0, &err), &err);
	CHECK_STR((char *)b.data,
		  "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
	lc_buf_reset(&b);
}

TEST(sniff)
{
	CHECK_STR(sniff_ext((const uint8_t *)"\xff\xd8\xff\xe0", 4),
		  "jpg");
	CHECK_STR(sniff_ext((const uint8_t *)"\x89PNG\r\n\x1a\n", 8),
		  "png");
	CHECK_STR(sniff_ext((const uint8_t *)"RIFF\0\0\0\0WEBP", 12),
		  "webp");
	CHECK_STR(sniff_ext((const uint8_t *)"\0\0\0\x1c" "ftypavif",
				   12), "avif");
	CHECK_STR(sniff_ext((const uint8_t *)"\0\0\0\x18" "ftypisom",
				   12), "mp4");
	CHECK_STR(sniff_ext((const uint8_t *)"\x93NUMPY", 6), "npy");
	CHECK_STR(sniff_ext((const uint8_t *)"BM", 2), "bmp");
	CHECK_STR(sniff_ext((const uint8_t *)"\0\0\0\x0c" "ftyp", 8),
		  "bin");
	CHECK_STR(sniff_ext((const uint8_t *)"\xff\xd8", 2), "bin");
	CHECK_STR(sniff_ext(NULL, 0), "bin");
}

static void escaped_as(const char *in, size_t n, bool row, const char *want)
{
	char *s = row ? render_row_name(in, n) : render_escape_name(in, n);

	CHECK_STR(s, want);
	free(s);
}

TEST(escape_names)
{
	escaped_as(".a/b%c\0d", 8, false, "%2Ea%2Fb%c%00d");
	escaped_as("x.y", 3, false, "x.y");
	/* a '%' is escaped only where it would read as an escape */
	escaped_as("50% off %20 %2F %25 %2E %252F", 29, false,
		   "50% off %20 %252F %25 %2E %25252F");
	escaped_as("%2Ex", 4, false, "%252Ex");
	escaped_as("@versions", 9, true, "%40versions");
	escaped_as("%40versions", 11, true, "%2540versions");
	escaped_as("@tagsx", 6, true, "@tagsx");
}

static void value_of(const char *name, const char *want)
{
	char *v = NULL;

	CHECK(render_row_value(&v, name) == 0);
	CHECK_STR(v, want);
	free(v);
}

/* A row folder's name gives back the value shown under it: every value
 * (random bytes from a small alphabet rich in escapes) round-trips, and
 * names no value shows as are refused. */
TEST(row_names_round_trip)
{
	static const char abc[] = "%%%25FE0@.xvrsiontag/";
	char *v, *name, *back;
	unsigned seed = 7;

	for (int k = 0; k < 20000; k++) {
		char val[16];
		size_t n = (size_t)(rand_r(&seed) % 12);

		for (size_t i = 0; i < n; i++)
			val[i] = abc[rand_r(&seed) % (sizeof(abc) - 1)];
		val[n] = 0;
		if (k % 50 == 0)
			snprintf(val, sizeof(val), "%s",
				 k % 100 ? "@versions" : "@tags");
		name = render_row_name(val, strlen(val));
		CHECK(name);
		if (!name)
			return;
		if (render_row_value(&back, name) || strcmp(back, val)) {
			fprintf(stderr, "value '%s' shown as '%s'\n", val,
				name);
			CHECK(0);
		}
		free(back);
		free(name);
	}
	CHECK(render_row_value(&v, "x%00y") == EINVAL);
	CHECK(render_row_value(&v, "@versions") == EINVAL);
	value_of(".hidden", ".hidden");
	value_of("cat%20photo", "cat%20photo");
	value_of("a%2Fb%252F", "a/b%2F");
	value_of("100%25", "100%25");
}

TEST_MAIN(TEST_ENTRY(integers_exact), TEST_ENTRY(floats_shortest),
	  TEST_ENTRY(bfloat16_vectors),
	  TEST_ENTRY(half_floats), TEST_ENTRY(dates_and_times),
	  TEST_ENTRY(decimals), TEST_ENTRY(strings_escaped),
	  TEST_ENTRY(sniff), TEST_ENTRY(escape_names),
	  TEST_ENTRY(row_names_round_trip))
