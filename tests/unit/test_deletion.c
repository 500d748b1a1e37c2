/* test_deletion.c - deletion vectors: LanceDB's zstd-compressed Arrow IPC
 * files and portable roaring bitmaps, plus hostile variations. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include <roaring/roaring.h>

#define V1DEL "lancedb/v1names.lance/_deletions/"

static int parse_arrow(struct lance_deletion *d, const char *rel)
{
	struct lc_err err = { 0 };
	size_t len;
	uint8_t *buf = fixture_read(rel, &len);
	int rc;

	if (!buf)
		return ENOENT;
	rc = lance_deletion_parse_arrow(d, buf, len, &err);
	if (rc)
		fprintf(stderr, "%s: %s\n", rel, err.msg);
	free(buf);
	return rc;
}

TEST(lancedb_arrow)
{
	struct lance_deletion d;

	CHECK(parse_arrow(&d, V1DEL "0-4-8991738775542555218.arrow") == 0);
	CHECK_EQ_U64(d.n, 2);
	CHECK_EQ_U64(d.offsets[0], 3);
	CHECK_EQ_U64(d.offsets[1], 5);
	CHECK(lance_deletion_contains(&d, 3));
	CHECK(lance_deletion_contains(&d, 5));
	CHECK(!lance_deletion_contains(&d, 4));
	CHECK(!lance_deletion_contains(&d, 0));
	CHECK(!lance_deletion_contains(&d, (1ull << 32) + 3));
	lance_deletion_reset(&d);
	/* The last row of a 10-row fragment. */
	CHECK(parse_arrow(&d, V1DEL "1-5-14216287505641682.arrow") == 0);
	CHECK_EQ_U64(d.n, 1);
	CHECK_EQ_U64(d.offsets[0], 9);
	lance_deletion_reset(&d);
	CHECK(parse_arrow(&d, "lancedb/stable.lance/_deletions/"
			  "4-7-17726622322151630402.arrow") == 0);
	CHECK_EQ_U64(d.n, 1);
	CHECK_EQ_U64(d.offsets[0], 1);
	lance_deletion_reset(&d);
	lance_deletion_reset(&d);
}

/* Written by apache-arrow JS: uncompressed, unsorted, with a duplicate. */
TEST(uncompressed_unsorted)
{
	struct lance_deletion d;

	CHECK(parse_arrow(&d, "deletion_js_unsorted.arrow") == 0);
	CHECK_EQ_U64(d.n, 4);
	CHECK_EQ_U64(d.offsets[0], 2);
	CHECK_EQ_U64(d.offsets[1], 5);
	CHECK_EQ_U64(d.offsets[2], 7);
	CHECK_EQ_U64(d.offsets[3], 4000000000u);
	CHECK(lance_deletion_contains(&d, 4000000000u));
	lance_deletion_reset(&d);
}

TEST(lancedb_bitmap)
{
	struct lance_deletion d;
	struct lc_err err = { 0 };
	size_t len;
	uint8_t *buf = fixture_read("lancedb/bitmap.lance/_deletions/"
				    "0-1-18443649998453956982.bin", &len);

	CHECK(buf);
	CHECK_EQ_U64(len, 8208);
	CHECK_EQ_U64(lc_le32(buf), 12346);
	CHECK_OK(lance_deletion_parse_bitmap(&d, buf, len, &err), &err);
	CHECK_EQ_U64(d.n, 6001);
	for (size_t i = 0; i < d.n; i++)
		CHECK_EQ_U64(d.offsets[i], i);
	CHECK(lance_deletion_contains(&d, 6000));
	CHECK(!lance_deletion_contains(&d, 6001));
	lance_deletion_reset(&d);
	/* Trailing bytes are refused. */
	buf = realloc(buf, len + 1);
	buf[len] = 0;
	CHECK(lance_deletion_parse_bitmap(&d, buf, len + 1, &err) == EIO);
	CHECK(strstr(err.msg, "trailing") != NULL);
	free(buf);
}

/* Run containers (cookie 12347), as lance writes once a bitmap has runs,
 * and an array container. */
TEST(run_and_array_bitmaps)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	struct lance_deletion d;
	struct lc_err err = { 0 };
	size_t len;
	char *buf;

	roaring_bitmap_add_range(r, 100, 70000);
	roaring_bitmap_add(r, 5);
	roaring_bitmap_add(r, 3000000);
	roaring_bitmap_run_optimize(r);
	len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(len);
	CHECK(roaring_bitmap_portable_serialize(r, buf) == len);
	CHECK_EQ_U64(lc_le32((uint8_t *)buf) & 0xffff, 12347);
	CHECK_OK(lance_deletion_parse_bitmap(&d, (uint8_t *)buf, len, &err),
		 &err);
	CHECK_EQ_U64(d.n, 69900 + 2);
	CHECK_EQ_U64(d.offsets[0], 5);
	CHECK_EQ_U64(d.offsets[1], 100);
	CHECK_EQ_U64(d.offsets[d.n - 2], 69999);
	CHECK_EQ_U64(d.offsets[d.n - 1], 3000000);
	lance_deletion_reset(&d);
	free(buf);
	roaring_bitmap_free(r);

	r = roaring_bitmap_of(4, 3, 9, 4, 1);
	len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(len);
	roaring_bitmap_portable_serialize(r, buf);
	CHECK_OK(lance_deletion_parse_bitmap(&d, (uint8_t *)buf, len, &err),
		 &err);
	CHECK_EQ_U64(d.n, 4);
	CHECK_EQ_U64(d.offsets[0], 1);
	CHECK_EQ_U64(d.offsets[3], 9);
	lance_deletion_reset(&d);
	/* An unsorted array container is refused. */
	CHECK_EQ_U64(len, 8 + 4 + 4 + 8);
	buf[16] = 9;
	CHECK(lance_deletion_parse_bitmap(&d, (uint8_t *)buf, len, &err) ==
	      EIO);
	CHECK(strstr(err.msg, "unsorted") != NULL);
	free(buf);
	roaring_bitmap_free(r);
}

/* Every truncation and every single-byte corruption of the real files
 * must fail cleanly or parse; ASan checks the rest. */
static void sweep(const char *rel, int arrow)
{
	size_t len;
	uint8_t *buf = fixture_read(rel, &len);

	if (!buf) {
		harness_failed = 1;
		return;
	}
	for (size_t n = 0; n < len; n += (len > 2000 ? 7 : 1)) {
		struct lance_deletion d;
		struct lc_err err = { 0 };
		uint8_t *cut = malloc(n ? n : 1);
		int rc;

		memcpy(cut, buf, n);
		rc = arrow ? lance_deletion_parse_arrow(&d, cut, n, &err) :
			     lance_deletion_parse_bitmap(&d, cut, n, &err);
		free(cut);
		if (!rc)
			lance_deletion_reset(&d);
		if (rc != EIO || !err.msg[0]) {
			fprintf(stderr, "%s: prefix %zu: rc %d\n", rel, n, rc);
			harness_failed = 1;
		}
	}
	for (size_t i = 0; i < len; i += (len > 2000 ? 13 : 1)) {
		struct lance_deletion d;
		struct lc_err err = { 0 };

		buf[i] ^= 0xa5;
		if (arrow ? !lance_deletion_parse_arrow(&d, buf, len, &err) :
			    !lance_deletion_parse_bitmap(&d, buf, len, &err))
			lance_deletion_reset(&d);
		buf[i] ^= 0xa5;
	}
	free(buf);
}

TEST(hostile_sweep)
{
	sweep(V1DEL "0-4-8991738775542555218.arrow", 1);
	sweep("deletion_js_unsorted.arrow", 1);
	sweep("lancedb/bitmap.lance/_deletions/0-1-18443649998453956982.bin",
	      0);
}

TEST(hostile_arrow)
{
	struct lance_deletion d;
	struct lc_err err = { 0 };
	size_t len;
	uint8_t *buf = fixture_read(V1DEL "0-4-8991738775542555218.arrow",
				    &len);

	CHECK(buf);
	buf[0] = 'B';
	CHECK(lance_deletion_parse_arrow(&d, buf, len, &err) == EIO);
	CHECK(strstr(err.msg, "ARROW1") != NULL);
	buf[0] = 'A';
	/* A footer length reaching before the file. */
	lc_put_le32(buf + len - 10, (uint32_t)len);
	lc_err_clear(&err);
	CHECK(lance_deletion_parse_arrow(&d, buf, len, &err) == EIO);
	CHECK(strstr(err.msg, "footer length") != NULL);
	lc_put_le32(buf + len - 10, 0x7fffffff);
	CHECK(lance_deletion_parse_arrow(&d, buf, len, &err) == EIO);
	free(buf);
	/* A bitmap that is not one. */
	lc_err_clear(&err);
	CHECK(lance_deletion_parse_bitmap(&d, (const uint8_t *)"ARROW1", 6,
					  &err) == EIO);
	CHECK(strstr(err.msg, "not a portable roaring bitmap") != NULL);
}

TEST_MAIN(TEST_ENTRY(lancedb_arrow), TEST_ENTRY(uncompressed_unsorted),
	  TEST_ENTRY(lancedb_bitmap), TEST_ENTRY(run_and_array_bitmaps),
	  TEST_ENTRY(hostile_sweep), TEST_ENTRY(hostile_arrow))
