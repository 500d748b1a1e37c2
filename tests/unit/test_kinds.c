/* test_kinds.c - sniffed kinds per data file: the file format, and what a
 * later mount with the same cache_dir= finds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "kinds.h"
#include "render.h"

static const char *key = "s3://b/db/t.lance\ndata/a.lance\n1234\n3";

static void encoded(struct lc_buf *b, const uint8_t *codes, uint64_t rows)
{
	lc_buf_init(b, 0);
	if (kinds_encode(b, key, codes, rows, NULL))
		abort();
}

/* A file decodes to what was encoded; any flipped byte, a cut, another
 * key or another row count is refused. */
TEST(file_round_trip)
{
	uint8_t codes[5] = { KIND_EXT0, KIND_NULL, KIND_UNKNOWN,
			     KIND_EXT0 + RENDER_SNIFF_N - 1, KIND_EXT0 + 1 };
	uint8_t got[5];
	struct lc_buf b;

	encoded(&b, codes, 5);
	CHECK_EQ_U64(kinds_decode(b.data, b.len, key, 5, got), 0);
	CHECK(!memcmp(got, codes, 5));
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 0x20;
		CHECK_EQ_U64(kinds_decode(b.data, b.len, key, 5, got), EINVAL);
		b.data[i] ^= 0x20;
	}
	for (size_t n = 0; n < b.len; n++)
		CHECK_EQ_U64(kinds_decode(b.data, n, key, 5, got), EINVAL);
	CHECK_EQ_U64(kinds_decode(b.data, b.len, key, 4, got), EINVAL);
	CHECK_EQ_U64(kinds_decode(b.data, b.len, "s3://b/db/t.lance\n"
				  "data/a.lance\n1235\n3", 5, got), EINVAL);
	lc_buf_reset(&b);
	/* a code past the table is refused even with a good crc */
	codes[0] = KIND_EXT0 + RENDER_SNIFF_N;
	encoded(&b, codes, 5);
	CHECK_EQ_U64(kinds_decode(b.data, b.len, key, 5, got), EINVAL);
	lc_buf_reset(&b);
}

/* Files in DIR/kinds; the path of one of them goes to `one` if given. */
static int count_files(const char *dir, char *one, size_t cap)
{
	char path[300];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/kinds", dir);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (one && !n &&
		    snprintf(one, cap, "%s/%s", path, e->d_name) >= (int)cap)
			abort();
		n++;
	}
	closedir(d);
	return n;
}

static struct kinds_table *table(const char *dir, const char *root)
{
	struct lc_err err = { 0 };
	struct kinds_table *t;

	if (kinds_open(&t, dir, root, &err))
		abort();
	return t;
}

#define BIG 300	/* rows: written as soon as whole */

static unsigned kind_of_row(uint64_t r)
{
	return r == 2 ? KIND_NULL : KIND_EXT0 + (unsigned)(r % RENDER_SNIFF_N);
}

/* What one mount learned, the next one with the same cache_dir= knows:
 * a big record as soon as its last row is known, a small or partial one
 * once the first mount ends; never for another dataset, file or field. */
TEST(later_mount_knows)
{
	char dir[] = "/tmp/lancefs-kinds-XXXXXX";
	struct kinds_table *t;
	struct kinds *k, *p, *q;

	CHECK(mkdtemp(dir) != NULL);
	t = table(dir, "s3://b/db/t.lance");
	k = kinds_get(t, "data/a.lance", 1234, 3, BIG);
	p = kinds_get(t, "data/b.lance", 99, 3, 3);
	q = kinds_get(t, "data/c.lance", 99, 3, 2);
	CHECK(k && p && q && k == kinds_get(t, "data/a.lance", 1234, 3, BIG));
	CHECK_EQ_U64(kinds_at(k, 0), KIND_UNKNOWN);
	for (uint64_t r = 0; r < BIG; r++)
		kinds_set(t, k, r, kind_of_row(r));
	kinds_set(t, k, 0, KIND_EXT0 + 5);	/* known already: kept */
	CHECK_EQ_U64(kinds_at(k, 0), KIND_EXT0);
	CHECK_EQ_U64(count_files(dir, NULL, 0), 1);	/* whole: written */
	kinds_set(t, p, 1, KIND_EXT0 + 2);
	kinds_set(t, q, 0, KIND_NULL);
	kinds_set(t, q, 1, KIND_EXT0);
	CHECK_EQ_U64(count_files(dir, NULL, 0), 1);	/* small: not yet */
	kinds_free(t);				/* now all of them */
	CHECK_EQ_U64(count_files(dir, NULL, 0), 3);

	t = table(dir, "s3://b/db/t.lance");
	k = kinds_get(t, "data/a.lance", 1234, 3, BIG);
	p = kinds_get(t, "data/b.lance", 99, 3, 3);
	q = kinds_get(t, "data/c.lance", 99, 3, 2);
	for (uint64_t r = 0; r < BIG; r++)
		CHECK_EQ_U64(kinds_at(k, r), kind_of_row(r));
	CHECK_EQ_U64(kinds_at(q, 0), KIND_NULL);
	CHECK_EQ_U64(kinds_at(q, 1), KIND_EXT0);
	CHECK_EQ_U64(kinds_at(p, 0), KIND_UNKNOWN);
	CHECK_EQ_U64(kinds_at(p, 1), KIND_EXT0 + 2);
	CHECK_EQ_U64(kinds_at(p, 7), KIND_UNKNOWN);	/* past end */
	CHECK_EQ_U64(kinds_at(kinds_get(t, "data/a.lance", 1234, 4, BIG),
			      0), KIND_UNKNOWN);
	CHECK_EQ_U64(kinds_at(kinds_get(t, "data/a.lance", 1235, 3, BIG),
			      0), KIND_UNKNOWN);
	kinds_free(t);

	t = table(dir, "s3://b/db/other.lance");
	k = kinds_get(t, "data/a.lance", 1234, 3, BIG);
	CHECK_EQ_U64(kinds_at(k, 0), KIND_UNKNOWN);
	kinds_free(t);
	harness_rm_rf(dir);
}

/* A damaged file is ignored (the rows are sniffed again) and replaced. */
TEST(damaged_file_is_ignored)
{
	char dir[] = "/tmp/lancefs-kinds-XXXXXX", path[600];
	struct kinds_table *t;
	struct kinds *k;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	t = table(dir, "/data/t.lance");
	k = kinds_get(t, "data/a.lance", 10, 1, 2);
	kinds_set(t, k, 0, KIND_EXT0);
	kinds_set(t, k, 1, KIND_EXT0);
	kinds_free(t);
	CHECK_EQ_U64(count_files(dir, path, sizeof(path)), 1);
	CHECK((f = fopen(path, "r+b")) != NULL);
	fseek(f, -6, SEEK_END);		/* a row's byte */
	fputc(KIND_EXT0 + 1, f);
	fclose(f);
	t = table(dir, "/data/t.lance");
	k = kinds_get(t, "data/a.lance", 10, 1, 2);
	CHECK_EQ_U64(kinds_at(k, 0), KIND_UNKNOWN);
	CHECK_EQ_U64(kinds_at(k, 1), KIND_UNKNOWN);
	kinds_set(t, k, 0, KIND_EXT0);
	kinds_set(t, k, 1, KIND_EXT0);
	kinds_free(t);
	t = table(dir, "/data/t.lance");
	k = kinds_get(t, "data/a.lance", 10, 1, 2);
	CHECK_EQ_U64(kinds_at(k, 1), KIND_EXT0);
	kinds_free(t);
	harness_rm_rf(dir);
}

/* Without cache_dir= (or with one that cannot be used) kinds live in
 * memory only. */
TEST(memory_only)
{
	struct kinds_table *t = table(NULL, "/data/t.lance");
	struct kinds *k = kinds_get(t, "data/a.lance", 10, 1, 1);

	kinds_set(t, k, 0, KIND_NULL);
	CHECK_EQ_U64(kinds_at(k, 0), KIND_NULL);
	kinds_free(t);
	t = table("/nonexistent/lancefs-cache", "/data/t.lance");
	k = kinds_get(t, "data/a.lance", 10, 1, 1);
	kinds_set(t, k, 0, KIND_EXT0);
	CHECK_EQ_U64(kinds_at(k, 0), KIND_EXT0);
	kinds_free(t);
}

TEST_MAIN(TEST_ENTRY(file_round_trip), TEST_ENTRY(later_mount_knows),
	  TEST_ENTRY(damaged_file_is_ignored), TEST_ENTRY(memory_only))
