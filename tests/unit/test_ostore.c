/* test_ostore.c - the local and in-memory backends. */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "ostore.h"

struct names {
	char buf[512];
};

static int collect(void *ctx, const struct ostore_entry *e)
{
	struct names *n = ctx;

	strcat(n->buf, e->name);
	strcat(n->buf, e->is_dir ? "/ " : " ");
	return 0;
}

static void exercise(struct ostore *st)
{
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	struct names n = { "" };
	uint8_t *data, buf[4];
	size_t len;

	CHECK_OK(ostore_put(st, "_versions/1.manifest", "abcdef", 6, 1, &err),
		 &err);
	/* put-if-absent never replaces */
	CHECK_EQ_U64(ostore_put(st, "_versions/1.manifest", "zz", 2, 1, &err),
		     EEXIST);
	lc_err_clear(&err);
	CHECK_OK(ostore_put(st, "data/a.lance", "0123456789", 10, 0, &err),
		 &err);
	CHECK_OK(ostore_get(&data, &len, st, "_versions/1.manifest", 100,
			    &err), &err);
	CHECK_EQ_U64(len, 6);
	CHECK(!memcmp(data, "abcdef", 6));
	free(data);
	CHECK_OK(ostore_open(&o, st, "data/a.lance", &err), &err);
	CHECK_EQ_U64(ostore_size(o), 10);
	CHECK_OK(ostore_read(o, 6, 4, buf, &err), &err);
	CHECK(!memcmp(buf, "6789", 4));
	/* past the end is an error naming the object, not a short read */
	CHECK_EQ_U64(ostore_read(o, 8, 4, buf, &err), EIO);
	CHECK(strstr(err.msg, "a.lance") != NULL);
	lc_err_clear(&err);
	ostore_close(o);
	CHECK_EQ_U64(ostore_open(&o, st, "data/missing.lance", &err), ENOENT);
	CHECK_EQ_U64(err.kind, LC_EK_NOTFOUND);
	lc_err_clear(&err);
	CHECK_OK(ostore_list(st, "_versions", collect, &n, &err), &err);
	CHECK_STR(n.buf, "1.manifest ");
	CHECK_EQ_U64(ostore_get(&data, &len, st, "data/a.lance", 5, &err),
		     EFBIG);
	lc_err_clear(&err);
	CHECK_OK(ostore_delete(st, "data/a.lance", &err), &err);
	CHECK_EQ_U64(ostore_open(&o, st, "data/a.lance", &err), ENOENT);
}

TEST(local_backend)
{
	char dir[] = "/tmp/lancefs-ostore-XXXXXX";
	struct lc_err err = { 0 };
	struct ostore *st;
	struct ostore_obj *o;
	char cmd[64];

	CHECK(mkdtemp(dir));
	CHECK_OK(ostore_open_uri(&st, dir, NULL, &err), &err);
	exercise(st);
	/* keys from manifests may not climb out of the dataset */
	CHECK_EQ_U64(ostore_open(&o, st, "../etc/passwd", &err), EIO);
	CHECK_EQ_U64(err.kind, LC_EK_CORRUPT);
	ostore_free(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(uri_forms)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	CHECK_OK(ostore_open_uri(&st, "file:///tmp", NULL, &err), &err);
	ostore_free(st);
	CHECK_EQ_U64(ostore_open_uri(&st, "file://tmp", NULL, &err), EINVAL);
	lc_err_clear(&err);
	CHECK(ostore_open_uri(&st, "gs://bucket/x", NULL, &err) != 0);
	CHECK(strstr(err.msg, "gs://bucket/x") != NULL);
	lc_err_clear(&err);
	CHECK_EQ_U64(ostore_open_uri(&st, "/nonexistent/dir", NULL, &err), ENOENT);
}

TEST(mem_backend)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	CHECK_OK(ostore_mem_new(&st, &err), &err);
	exercise(st);
	ostore_free(st);
}

TEST_MAIN(TEST_ENTRY(local_backend), TEST_ENTRY(uri_forms),
	  TEST_ENTRY(mem_backend))
