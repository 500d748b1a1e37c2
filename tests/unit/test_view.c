/* test_view.c - the view over small LanceDB-written fixtures: row
 * folders, files, meta.json, hidden entries, names, errors. */
#include <stdlib.h>

#include "fixture.h"
#include "harness.h"
#include "ostore.h"
#include "view.h"

static char *read_path(struct view *v, const char *path, struct lc_err *err)
{
	struct vnode n;
	struct lc_buf b;
	uint8_t *out = NULL;

	lc_buf_init(&b, 0);
	if (view_resolve(&n, v, path, err))
		return NULL;
	if (!view_read_file(&b, v, &n, err))
		(void)!lc_buf_take(&b, &out, NULL, err);
	vnode_reset(&n);
	lc_buf_reset(&b);
	return (char *)out;
}

struct names {
	char buf[1024];
};

static int collect(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct names *n = ctx;

	(void)index;
	(void)node;
	strcat(n->buf, name);
	strcat(n->buf, " ");
	return 0;
}

static int list(struct names *out, struct view *v, const char *path,
		struct lc_err *err)
{
	struct vnode n;
	int rc = view_resolve(&n, v, path, err);

	out->buf[0] = 0;
	if (!rc)
		rc = view_readdir(v, &n, 0, collect, out, err);
	vnode_reset(&n);
	return rc;
}

/* LanceDB wrote d = a, b, a, c, b as dictionary<int32, utf8> in a legacy
 * (0.1) dataset; the values live in the data file, keys in its pages. */
TEST(legacy_dictionary)
{
	static const char *want[] = { "a", "b", "a", "c", "b" };
	struct lc_err err = { 0 };
	struct view *v;

	CHECK_OK(view_open(&v, fixture_path("lancedb/legacydict.lance"), NULL,
			   &err), &err);
	for (int r = 0; r < 5; r++) {
		char path[64], expect[64], *got;

		snprintf(path, sizeof(path), "%08d/meta.json", r);
		snprintf(expect, sizeof(expect),
			 "{\"id\":%d,\"d\":\"%s\"}\n", r, want[r]);
		got = read_path(v, path, &err);
		CHECK(got != NULL);
		CHECK_STR(got, expect);
		free(got);
	}
	view_free(v);
}

TEST(hidden_entries_and_names)
{
	struct lc_err err = { 0 };
	struct view_opts o = { 0 };
	struct names n;
	struct view *v;
	struct vnode node;

	CHECK_OK(view_open(&v, fixture_path("lancedb/legacydict.lance"), NULL,
			   &err), &err);
	CHECK_OK(list(&n, v, "", &err), &err);
	/* only rows are listed at the root */
	CHECK_STR(n.buf, "00000000 00000001 00000002 00000003 00000004 ");
	CHECK_OK(list(&n, v, "@versions", &err), &err);
	CHECK_STR(n.buf, "1 ");
	CHECK_OK(list(&n, v, "@versions/1", &err), &err);
	CHECK_STR(n.buf, "00000000 00000001 00000002 00000003 00000004 ");
	CHECK_OK(list(&n, v, ".lancefs", &err), &err);
	CHECK_STR(n.buf, "status errors ");
	CHECK_OK(list(&n, v, "00000003", &err), &err);
	CHECK_STR(n.buf, "meta.json ");
	/* only canonical row names resolve */
	CHECK_EQ_U64(view_resolve(&node, v, "3", &err), ENOENT);
	CHECK_EQ_U64(view_resolve(&node, v, "000000003", &err), ENOENT);
	CHECK_EQ_U64(view_resolve(&node, v, "00000009", &err), ENOENT);
	CHECK_EQ_U64(view_resolve(&node, v, "@versions/2", &err), ENOENT);
	view_free(v);

	/* a string name column: duplicates get ~<row number> */
	CHECK_OK(view_opts_parse(&o, "name_column=d", &err), &err);
	CHECK_OK(view_open(&v, fixture_path("lancedb/legacydict.lance"), &o,
			   &err), &err);
	CHECK_OK(list(&n, v, "", &err), &err);
	CHECK_STR(n.buf, "a b a~2 c b~4 ");
	CHECK_OK(list(&n, v, "a~2", &err), &err);
	CHECK_STR(n.buf, "meta.json ");
	view_free(v);
	view_opts_reset(&o);
}

TEST(bad_options)
{
	struct lc_err err = { 0 };
	struct view_opts o = { 0 };
	struct view *v;

	CHECK_OK(view_opts_parse(&o, "name_column=nosuch", &err), &err);
	CHECK_EQ_U64(view_open(&v, fixture_path("lancedb/legacydict.lance"),
			       &o, &err), EINVAL);
	CHECK(strstr(err.msg, "nosuch") != NULL);
	view_opts_reset(&o);
	lc_err_clear(&err);
	CHECK_EQ_U64(view_opts_parse(&o, "version=x", &err), EINVAL);
	lc_err_clear(&err);
	CHECK_EQ_U64(view_opts_parse(&o, "bogus=1", &err), ENOENT);
	CHECK_OK(view_opts_parse(&o, "version=7", &err), &err);
	/* a missing tag must not fall back to the version */
	CHECK_EQ_U64(view_opts_parse(&o, "tag=t", &err), EINVAL);
	CHECK(strstr(err.msg, "not both") != NULL);
	lc_err_clear(&err);
	{
		char *path = NULL;

		/* SOURCE@TAG likewise */
		CHECK_EQ_U64(view_split_source(&path, &o,
					       "/nonexistent/x.lance@t", &err),
			     EINVAL);
		lc_free(path);
		lc_err_clear(&err);
		/* a dataset named with an @ is not split */
		CHECK_OK(view_split_source(&path, &o, "s3://b/team@v2.lance",
					   &err), &err);
		CHECK_STR(path, "s3://b/team@v2.lance");
		CHECK(o.tag == NULL);
		lc_free(path);
	}
	CHECK_EQ_U64(view_open(&v, fixture_path("lancedb/legacydict.lance"),
			       &o, &err), ENOENT);
	view_opts_reset(&o);
	lc_err_clear(&err);
	CHECK_EQ_U64(view_open(&v, fixture_path("nosuchdir"), NULL, &err),
		     ENOENT);
}

/* text_files= adds <col>.txt for non-null strings (an empty string is an
 * empty file, a null has none); ext.COL= fixes a binary column's
 * extension. Row 1 of the 2.2 sweep table: c2 "same", ce "", s null,
 * lbin three bytes, bin null. */
TEST(text_files_and_ext)
{
	struct lc_err err = { 0 };
	struct view_opts o = { 0 };
	struct names n;
	struct view *v;
	char *got;

	CHECK_OK(view_opts_parse(&o, "text_files=c2:ce:s", &err), &err);
	CHECK_OK(view_opts_parse(&o, "ext.lbin=dat", &err), &err);
	CHECK_OK(view_open(&v, fixture_path("sweep/22_prims_5.lance"), &o,
			   &err), &err);
	CHECK_OK(list(&n, v, "00000001", &err), &err);
	CHECK_STR(n.buf, "lbin.dat c2.txt ce.txt ceb.bin meta.json ");
	got = read_path(v, "00000001/c2.txt", &err);
	CHECK_STR(got, "same");
	free(got);
	got = read_path(v, "00000001/ce.txt", &err);
	CHECK_STR(got, "");
	free(got);
	/* the strings stay in meta.json too */
	got = read_path(v, "00000001/meta.json", &err);
	CHECK(got && strstr(got, "\"c2\":\"same\""));
	free(got);
	view_free(v);
	view_opts_reset(&o);

	CHECK_OK(view_opts_parse(&o, "text_files=all", &err), &err);
	CHECK_OK(view_open(&v, fixture_path("sweep/22_prims_5.lance"), &o,
			   &err), &err);
	CHECK_OK(list(&n, v, "00000001", &err), &err);
	/* every non-null string column of the row, and no null one (s) */
	CHECK_STR(n.buf, "ls.txt lbin.bin c2.txt ce.txt ceb.bin dict.txt "
		  "meta.json ");
	view_free(v);
	view_opts_reset(&o);

	/* ext. of a column that is not binary is refused */
	CHECK_OK(view_opts_parse(&o, "ext.c2=txt", &err), &err);
	CHECK_EQ_U64(view_open(&v, fixture_path("sweep/22_prims_5.lance"), &o,
			       &err), EINVAL);
	CHECK(strstr(err.msg, "ext.c2") != NULL);
	view_opts_reset(&o);
}

/* Opens of data and deletion files through the view's store
 * (counted_open). */
static int data_opens;
static int (*plain_open)(struct ostore *, const char *, struct ostore_obj **,
			 struct lc_err *);

static int counted_open(struct ostore *st, const char *key,
			struct ostore_obj **out, struct lc_err *err)
{
	data_opens += !strncmp(key, "data/", 5) ||
		      !strncmp(key, "_deletions/", 11);
	return plain_open(st, key, out, err);
}

/* Count the opens of data and deletion files of view v's store. */
static void count_opens(struct view *v)
{
	static struct ostore_ops ops;
	struct lc_err err = { 0 };
	struct vnode root;
	struct ostore *st;

	CHECK_OK(view_root(&root, v, &err), &err);
	st = view_store(&root);
	vnode_reset(&root);
	ops = *st->ops;
	plain_open = ops.open;
	ops.open = counted_open;
	st->ops = &ops;
	data_opens = 0;
}

/* Whether each of @versions/1..n looks up and stats as a folder. */
static int stat_versions(struct view *v, int n, struct lc_err *err)
{
	for (int k = 1; k <= n; k++) {
		struct view_attr a;
		struct vnode node;
		char path[32];
		int rc;

		snprintf(path, sizeof(path), "@versions/%d", k);
		rc = view_resolve(&node, v, path, err);
		if (!rc)
			rc = view_getattr(&a, v, &node, err);
		vnode_reset(&node);
		if (rc || !a.is_dir)
			return rc ? rc : ENOTDIR;
	}
	return 0;
}

/* A version under @versions that is only looked up and stat'ed (ls -l
 * @versions) reads its manifest alone: no deletion file, no row name
 * from its data files; listing it reads them and shows its rows, named
 * (v1names with name_column=s) or as at the root (stable, whose
 * fragments have deletion files). */
TEST(version_rows_when_needed)
{
	static const struct {
		const char *fixture, *opts, *listed, *same_as, *first;
		int versions;
	} cases[] = {
		{ "lancedb/stable.lance", NULL, "@versions/8", "", NULL, 8 },
		{ "lancedb/v1names.lance", "name_column=s", "@versions/2",
		  NULL, "s0 s1 ", 7 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct lc_err err = { 0 };
		struct view_opts o = { 0 };
		struct names n, at;
		struct view *v;

		if (cases[c].opts)
			CHECK_OK(view_opts_parse(&o, cases[c].opts, &err),
				 &err);
		CHECK_OK(view_open(&v, fixture_path(cases[c].fixture), &o,
				   &err), &err);
		count_opens(v);
		CHECK_OK(stat_versions(v, cases[c].versions, &err), &err);
		CHECK_EQ_U64(data_opens, 0);
		CHECK_OK(list(&n, v, cases[c].listed, &err), &err);
		CHECK(data_opens > 0);
		if (cases[c].same_as) {
			CHECK_OK(list(&at, v, cases[c].same_as, &err), &err);
			CHECK_STR(n.buf, at.buf);
		} else {
			CHECK(!strncmp(n.buf, cases[c].first,
				       strlen(cases[c].first)));
		}
		view_free(v);
		view_opts_reset(&o);
	}
}

TEST_MAIN(TEST_ENTRY(legacy_dictionary), TEST_ENTRY(hidden_entries_and_names),
	  TEST_ENTRY(bad_options), TEST_ENTRY(text_files_and_ext),
	  TEST_ENTRY(version_rows_when_needed))
