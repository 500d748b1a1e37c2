/* test_commit.c - committing new versions: appends and deletes on
 * LanceDB-written datasets, deletion-file writers, stable row ids, both
 * naming schemes, concurrent committers and conflicts, new datasets. Our
 * own reader checks every version we write. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include <pthread.h>
#include <unistd.h>

#include "table.pb-c.h"
#include "transaction.pb-c.h"

/* ------------------------------------------------------------ helpers */

/* A copy of tests/data/lancedb/<name> in a fresh temp dir. */
static struct ostore *copy_fixture(char *dir, size_t len, const char *name)
{
	struct ostore *st = NULL;
	struct lc_err err = { 0 };
	char rel[256];

	snprintf(dir, len, "/tmp/lancefs-commit-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	snprintf(rel, sizeof(rel), "lancedb/%s", name);
	if (fixture_copy(rel, dir) || ostore_local_new(&st, dir, &err))
		return NULL;
	return st;
}

static bool exists(struct ostore *st, const char *key)
{
	struct ostore_obj *o;
	struct lc_err err = { 0 };

	if (ostore_open(&o, st, key, &err))
		return false;
	ostore_close(o);
	return true;
}

/* Row numbers of every live row, via row_at, checked against find_row. */
static int collect(uint64_t *nums, size_t cap, struct lance_snapshot *s)
{
	struct lc_err err = { 0 };
	uint64_t n = lance_snapshot_num_rows(s);

	if (n > cap)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		struct lance_row_ref r, f;

		if (lance_snapshot_row_at(&r, s, i, &err) ||
		    lance_snapshot_find_row(&f, s, r.number, &err) ||
		    f.frag != r.frag || f.offset != r.offset ||
		    f.number != r.number)
			return -1;
		nums[i] = r.number;
	}
	return (int)n;
}

/*
 * A new fragment shaped like fragment `fi` of `m`: its data files copied
 * (from `from`, or st itself) to new names in `st`. `files` must hold
 * the fragment's file count; their paths are malloc'ed.
 */
static int like_fragment(struct lance_commit_frag *out,
			 struct lance_data_file *files, struct ostore *st,
			 struct ostore *from, const struct lance_manifest *m,
			 size_t fi, const char *tag)
{
	const struct lance_fragment *f = &m->fragments[fi];
	struct lc_err err = { 0 };

	for (size_t i = 0; i < f->n_files; i++) {
		uint8_t *buf;
		size_t len;
		char path[256];

		snprintf(path, sizeof(path), "data/%s-%zu-%zu.lance", tag, fi,
			 i);
		if (ostore_get(&buf, &len, from ? from : st, f->files[i].path,
			       1u << 30, &err) ||
		    ostore_put(st, path, buf, len, 0, &err)) {
			fprintf(stderr, "copy %s: %s\n", f->files[i].path,
				err.msg);
			return -1;
		}
		lc_free(buf);
		files[i] = f->files[i];
		files[i].path = strdup(path);
		files[i].size = len;
	}
	memset(out, 0, sizeof(*out));
	out->files = files;
	out->n_files = f->n_files;
	out->physical_rows = f->physical_rows;
	return 0;
}

static void free_paths(struct lance_data_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].path);
}

static struct lance_manifest *latest(struct ostore *st)
{
	struct lance_snapshot *s;
	struct lance_manifest *m = NULL;
	struct lc_err err = { 0 };
	uint8_t *buf;
	size_t len;

	if (lance_snapshot_open(&s, st, 0, &err))
		return NULL;
	buf = malloc(lance_snapshot_manifest(s)->raw_len);
	len = lance_snapshot_manifest(s)->raw_len;
	memcpy(buf, lance_snapshot_manifest(s)->raw, len);
	lance_snapshot_free(s);
	if (lance_manifest_parse(&m, buf, len, &err))
		m = NULL;
	free(buf);
	return m;
}

/* ------------------------------------------------------------ tests */

TEST(deletion_writers)
{
	static const uint32_t vals[] = { 9, 3, 700000, 0, 41, 5 };
	struct lance_deletion d = { 0 };
	struct lc_err err = { 0 };
	uint32_t *many;
	uint8_t *buf;
	size_t len;

	for (size_t n = 0; n <= 6; n++) {
		CHECK_OK(lance_deletion_write_arrow(&buf, &len, vals, n,
						    &err), &err);
		CHECK_OK(lance_deletion_parse_arrow(&d, buf, len, &err),
			 &err);
		lc_free(buf);
		CHECK_EQ_U64(d.n, n);
		for (size_t i = 0; i < n; i++)
			CHECK(lance_deletion_contains(&d, vals[i]));
		lance_deletion_reset(&d);
	}
	many = calloc(6000, sizeof(*many));
	for (uint32_t i = 0; i < 6000; i++)
		many[i] = 5999 - i;
	CHECK_OK(lance_deletion_write_bitmap(&buf, &len, many, 6000, &err),
		 &err);
	free(many);
	CHECK_EQ_U64(lc_le32(buf), 12346);	/* no-run layout */
	CHECK_OK(lance_deletion_parse_bitmap(&d, buf, len, &err), &err);
	lc_free(buf);
	CHECK_EQ_U64(d.n, 6000);
	CHECK(d.offsets[0] == 0 && d.offsets[5999] == 5999);
	lance_deletion_reset(&d);
}

/* Append to the V1-named fixture: the fragment gets max_fragment_id + 1
 * and the rows follow at the next physical positions. */
TEST(append_v1_names)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit c = { 0 };
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	uint64_t v, nums[64];
	uint8_t *hint;
	size_t len;

	CHECK(st);
	m = latest(st);
	CHECK(m && m->version == 7);
	CHECK(like_fragment(&nf, files, st, NULL, m, 2, "a") == 0);
	c.read_version = 7;
	c.appends = &nf;
	c.n_appends = 1;
	/* A 2.1 file in a 2.2 dataset: refused before anything is written. */
	files[0].minor = 1;
	CHECK(lance_commit(&v, st, &c, &err) == EINVAL);
	CHECK(strstr(err.msg, "is version 2.1; the dataset stores 2.2"));
	CHECK(!exists(st, "_versions/8.manifest"));
	files[0].minor = 2;
	memset(c.uuid, 0, sizeof(c.uuid));
	lc_err_clear(&err);
	CHECK_OK(lance_commit(&v, st, &c, &err), &err);
	free_paths(files, nf.n_files);
	CHECK_EQ_U64(v, 8);
	CHECK(exists(st, "_versions/8.manifest"));
	CHECK(strlen(c.uuid) == 36);
	lance_manifest_free(m);

	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	m = (struct lance_manifest *)lance_snapshot_manifest(s);
	CHECK_EQ_U64(m->version, 8);
	CHECK_EQ_U64(m->n_fragments, 4);
	CHECK_EQ_U64(m->fragments[3].id, 4);
	CHECK_EQ_U64(m->max_fragment_id, 4);
	CHECK_STR(m->writer_library, "lancefs");
	CHECK_STR(m->data_format, "2.2");
	CHECK_EQ_U64(m->reader_flags, 1);
	CHECK(m->has_transaction_section && m->transaction_section == 0);
	CHECK(strstr(m->transaction_file, c.uuid) == m->transaction_file + 2);
	CHECK_EQ_U64(collect(nums, 64, s), 27);
	/* Positions: 25 physical rows before the new fragment. */
	for (size_t i = 0; i < 5; i++)
		CHECK_EQ_U64(nums[22 + i], 25 + i);
	lance_snapshot_free(s);

	CHECK_OK(ostore_get(&hint, &len, st,
			    "_versions/latest_version_hint.json", 100, &err),
		 &err);
	CHECK(len == 13 && !memcmp(hint, "{\"version\":8}", 13));
	lc_free(hint);

	/* Earlier versions still read as before. */
	CHECK_OK(lance_snapshot_open(&s, st, 7, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 22);
	lance_snapshot_free(s);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Deletes: arrow vectors grow (old rows kept), a fragment whose last
 * rows go is dropped, and a bitmap vector stays a bitmap. */
TEST(delete_rows)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	static const uint32_t d0[] = { 9, 0 };
	static const uint32_t d3[] = { 0, 1, 2, 3, 4 };
	static const uint64_t want[] = { 1, 2, 4, 6, 7, 8, 10, 11, 12, 13,
					 14, 15, 16, 17, 18 };
	struct lance_commit_delete del[2] = {
		{ 0, d0, 2 },
		{ 3, d3, 5 },
	};
	struct lance_commit c = { 0 };
	struct lance_snapshot *s;
	const struct lance_manifest *m;
	struct lc_err err = { 0 };
	uint64_t v, nums[64];
	char key[128];

	CHECK(st);
	c.read_version = 7;
	c.deletes = del;
	c.n_deletes = 2;
	CHECK_OK(lance_commit(&v, st, &c, &err), &err);
	CHECK_EQ_U64(v, 8);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	m = lance_snapshot_manifest(s);
	CHECK_EQ_U64(m->n_fragments, 2);
	CHECK(m->fragments[0].deletion.present);
	CHECK_EQ_U64(m->fragments[0].deletion.type, LANCE_DEL_ARROW);
	CHECK_EQ_U64(m->fragments[0].deletion.num_deleted, 4);
	CHECK_EQ_U64(m->fragments[0].deletion.read_version, 7);
	snprintf(key, sizeof(key), "_deletions/0-7-%" PRIu64 ".arrow",
		 m->fragments[0].deletion.id);
	CHECK(exists(st, key));
	CHECK_EQ_U64(m->max_fragment_id, 3);	/* ids are never reused */
	CHECK_EQ_U64(collect(nums, 64, s), 15);
	for (size_t i = 0; i < 15; i++)
		CHECK_EQ_U64(nums[i], want[i]);
	lance_snapshot_free(s);
	ostore_free(st);
	harness_rm_rf(dir);

	/* bitmap.lance: 6001 of 6010 rows deleted, as a bitmap. */
	st = copy_fixture(dir, sizeof(dir), "bitmap.lance");
	CHECK(st);
	{
		static const uint32_t d[] = { 6009, 6001 };
		struct lance_commit_delete bd = { 0, d, 2 };
		struct lance_commit bc = { 0 };

		bc.read_version = 2;
		bc.deletes = &bd;
		bc.n_deletes = 1;
		CHECK_OK(lance_commit(&v, st, &bc, &err), &err);
	}
	CHECK_EQ_U64(v, 3);
	CHECK(exists(st, "_versions/3.manifest"));
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	m = lance_snapshot_manifest(s);
	CHECK_EQ_U64(m->fragments[0].deletion.type, LANCE_DEL_BITMAP);
	CHECK_EQ_U64(m->fragments[0].deletion.num_deleted, 6003);
	CHECK_EQ_U64(collect(nums, 64, s), 7);
	for (size_t i = 0; i < 7; i++)
		CHECK_EQ_U64(nums[i], 6002 + i);
	lance_snapshot_free(s);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Stable row ids continue from next_row_id; V2 names. */
TEST(stable_row_ids)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "stable.lance");
	struct lance_data_file files[4];
	struct lance_commit_frag nf[2];
	struct lance_commit c = { 0 };
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lance_row_ref r;
	struct lc_err err = { 0 };
	uint64_t v, nums[64];

	CHECK(st);
	m = latest(st);
	CHECK(m && m->next_row_id == 23);
	CHECK(like_fragment(&nf[0], files, st, NULL, m, 1, "s") == 0);
	nf[1] = nf[0];
	c.read_version = 8;
	c.appends = nf;
	c.n_appends = 2;
	CHECK_OK(lance_commit(&v, st, &c, &err), &err);
	free_paths(files, nf[0].n_files);
	lance_manifest_free(m);
	CHECK_EQ_U64(v, 9);
	CHECK(exists(st, "_versions/18446744073709551606.manifest"));
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	m = (struct lance_manifest *)lance_snapshot_manifest(s);
	CHECK_EQ_U64(m->next_row_id, 29);
	CHECK_EQ_U64(m->reader_flags, 3);
	CHECK_EQ_U64(m->fragments[2].id, 5);
	CHECK_EQ_U64(m->fragments[3].id, 6);
	CHECK_EQ_U64(collect(nums, 64, s), 26);
	for (size_t i = 0; i < 6; i++)
		CHECK_EQ_U64(nums[20 + i], 23 + i);
	CHECK_OK(lance_snapshot_find_row(&r, s, 27, &err), &err);
	CHECK(r.frag == 3 && r.offset == 1);
	lance_snapshot_free(s);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* B planned against the same version as A; A lands first, B rebases. */
TEST(rebase_and_conflicts)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	static const uint32_t a_rows[] = { 1 }, b_rows[] = { 2 };
	struct lance_commit_delete da = { 1, a_rows, 1 }, db = { 1, b_rows, 1 };
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit a = { 0 }, b = { 0 }, x = { 0 };
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	uint64_t v, nums[64];
	bool found;

	CHECK(st);
	m = latest(st);
	CHECK(m);
	CHECK(like_fragment(&nf, files, st, NULL, m, 0, "r") == 0);
	lance_manifest_free(m);
	/* A appends, B deletes row 2 of fragment 1, C deletes row 1. */
	a.read_version = 7;
	a.appends = &nf;
	a.n_appends = 1;
	CHECK_OK(lance_commit(&v, st, &a, &err), &err);
	CHECK_EQ_U64(v, 8);
	b.read_version = 7;
	b.deletes = &db;
	b.n_deletes = 1;
	CHECK_OK(lance_commit(&v, st, &b, &err), &err);
	CHECK_EQ_U64(v, 9);
	x.read_version = 7;
	x.deletes = &da;
	x.n_deletes = 1;
	CHECK_OK(lance_commit(&v, st, &x, &err), &err);
	CHECK_EQ_U64(v, 10);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->fragments[1].deletion
		     .num_deleted, 3);
	/* the rows deleted are not live; their neighbours are */
	{
		uint64_t f1 = lance_snapshot_manifest(s)->fragments[1].id;
		struct lance_row_ref r;

		CHECK(!lance_snapshot_row_live(s, f1, 1));
		CHECK(!lance_snapshot_row_live(s, f1, 2));
		CHECK_OK(lance_snapshot_row_at(&r, s, 0, &err), &err);
		CHECK(lance_snapshot_row_live(
			s, lance_snapshot_manifest(s)->fragments[r.frag].id,
			r.offset));
		CHECK(!lance_snapshot_row_live(s, f1, 1u << 20));
		CHECK(!lance_snapshot_row_live(s, 999999, 0));
	}
	CHECK_EQ_U64(collect(nums, 64, s), 30);
	CHECK_EQ_U64(nums[8], 10);
	CHECK_EQ_U64(nums[9], 13);
	lance_snapshot_free(s);

	/* The same row again, planned at 7: refused, naming the Delete. */
	memset(&x.uuid, 0, sizeof(x.uuid));
	lc_err_clear(&err);
	CHECK(lance_commit(&v, st, &x, &err) == EBUSY);
	CHECK(err.kind == LC_EK_CONFLICT);
	CHECK(strstr(err.msg, "concurrent Delete at version 10") != NULL);
	CHECK(strstr(err.msg, "row 1 of fragment 1") != NULL);

	/* Committing the same transaction twice lands it once. */
	CHECK_OK(lance_commit(&v, st, &b, &err), &err);
	CHECK_EQ_U64(v, 9);
	CHECK_OK(lance_find_transaction(&found, &v, st, 7, b.uuid, &err),
		 &err);
	CHECK(found && v == 9);
	CHECK_OK(lance_find_transaction(&found, &v, st, 9, b.uuid, &err),
		 &err);
	CHECK(!found);
	CHECK_OK(lance_find_transaction(&found, &v, st, 0,
					"00000000-0000-4000-8000-000000000000",
					&err), &err);
	CHECK(!found);
	free_paths(files, nf.n_files);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* A version between ours and the latest was cleaned up: a delete
 * cannot be checked against it, and is refused as a conflict (the
 * caller plans it again on the latest); an append still lands. */
TEST(gap_in_versions)
{
	char dir[64], path[128];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	static const uint32_t rows[] = { 1 };
	struct lance_commit_delete d = { 1, rows, 1 };
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit a = { 0 }, x = { 0 };
	struct lance_manifest *m;
	struct lc_err err = { 0 };
	uint64_t v;

	CHECK(st);
	m = latest(st);
	CHECK(m);
	CHECK(like_fragment(&nf, files, st, NULL, m, 0, "g") == 0);
	lance_manifest_free(m);
	a.read_version = 7;
	a.appends = &nf;
	a.n_appends = 1;
	CHECK_OK(lance_commit(&v, st, &a, &err), &err);
	CHECK_EQ_U64(v, 8);
	memset(&a.uuid, 0, sizeof(a.uuid));
	CHECK_OK(lance_commit(&v, st, &a, &err), &err);
	CHECK_EQ_U64(v, 9);
	snprintf(path, sizeof(path), "%s/_versions/8.manifest", dir);
	CHECK(unlink(path) == 0);
	x.read_version = 7;
	x.deletes = &d;
	x.n_deletes = 1;
	CHECK_EQ_U64(lance_commit(&v, st, &x, &err), EBUSY);
	CHECK(err.kind == LC_EK_CONFLICT);
	CHECK(strstr(err.msg, "version 8 is gone") != NULL);
	lc_err_clear(&err);
	x.read_version = 9;
	memset(&x.uuid, 0, sizeof(x.uuid));
	CHECK_OK(lance_commit(&v, st, &x, &err), &err);
	CHECK_EQ_U64(v, 10);
	/* an append cannot be checked across the gap either (an Overwrite
	 * there would conflict with it): planned again on the latest */
	memset(&a.uuid, 0, sizeof(a.uuid));
	CHECK_EQ_U64(lance_commit(&v, st, &a, &err), EBUSY);
	CHECK(err.kind == LC_EK_CONFLICT);
	CHECK(strstr(err.msg, "version 8 is gone") != NULL);
	lc_err_clear(&err);
	a.read_version = 10;
	memset(&a.uuid, 0, sizeof(a.uuid));
	CHECK_OK(lance_commit(&v, st, &a, &err), &err);
	CHECK_EQ_U64(v, 11);
	free_paths(files, nf.n_files);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* stable.lance was compacted (Rewrite) after version 4. */
TEST(conflict_with_rewrite)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "stable.lance");
	static const uint32_t rows[] = { 0 };
	struct lance_commit_delete d = { 0, rows, 1 };
	struct lance_commit c = { 0 };
	struct lc_err err = { 0 };
	uint64_t v;

	CHECK(st);
	c.read_version = 4;
	c.deletes = &d;
	c.n_deletes = 1;
	CHECK(lance_commit(&v, st, &c, &err) == EBUSY);
	CHECK(strstr(err.msg, "concurrent Rewrite at version") != NULL);
	CHECK(strstr(err.msg, "fragment 0") != NULL);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Whether the history of `st` from `from` to its latest says what
 * `conflict` says (NULL: nothing) of fragment `frag` as of `base`; none
 * of these replaced the table (a Rewrite, versions gone). */
static bool history_says(struct ostore *st, uint64_t from, uint64_t base,
			 uint64_t frag, bool values, const char *conflict)
{
	struct lance_manifest *m = latest(st);
	struct lance_history *h = NULL;
	struct lc_err err = { 0 };
	bool ok = m && !lance_history_load(&h, st, from, m->version, &err);
	bool replaced = true;
	int rc = ok ? lance_history_check(h, base, frag, values, &replaced,
					  &err) :
		      0;

	if (ok && conflict)
		ok = rc == EBUSY && err.kind == LC_EK_CONFLICT &&
		     strstr(err.msg, conflict) && !replaced;
	else if (ok)
		ok = rc == 0;
	if (!ok)
		fprintf(stderr, "  history from %" PRIu64 ", base %" PRIu64
			", fragment %" PRIu64 ": %s\n", from, base, frag,
			err.msg);
	lance_history_free(h);
	lance_manifest_free(m);
	return ok;
}

static void drop_version(const char *dir, uint64_t v)
{
	char path[128];

	/* V2 names count down */
	snprintf(path, sizeof(path), "%s/_versions/%020" PRIu64 ".manifest",
		 dir, UINT64_MAX - v);
	CHECK(unlink(path) == 0);
}

/* What other writers did since a change's base: a Rewrite moved the
 * rows of fragment 0 (stable.lance, version 6); versions gone may have
 * done anything. */
TEST(history_since_base)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "stable.lance");

	CHECK(st);
	CHECK(history_says(st, 4, 4, 0, false, "Rewrite at version 6"));
	CHECK(history_says(st, 4, 6, 0, true, NULL));
	CHECK(history_says(st, 4, 4, 99, true, NULL));
	drop_version(dir, 5);
	CHECK(history_says(st, 4, 4, 99, false, "version 5"));
	CHECK(history_says(st, 4, 6, 0, true, NULL));
	/* versions 4 and 5 gone: unknown from base 4 too */
	drop_version(dir, 4);
	CHECK(history_says(st, 3, 4, 99, false, "version 5"));
	CHECK(history_says(st, 3, 5, 99, true, NULL));
	ostore_free(st);
	harness_rm_rf(dir);
}

struct racer {
	struct ostore *st;
	struct lance_commit_frag *nf;
	uint64_t read_version;
	uint64_t got[4];
	int rc;
	char msg[512];
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 4; i++) {
		struct lance_commit c = { 0 };
		struct lc_err err = { 0 };

		c.read_version = r->read_version;
		c.appends = r->nf;
		c.n_appends = 1;
		r->rc = lance_commit(&r->got[i], r->st, &c, &err);
		if (r->rc) {
			memcpy(r->msg, err.msg, sizeof(r->msg));
			break;
		}
	}
	return NULL;
}

/* Racing committers, each planning against version 7: one wins each
 * put-if-absent, the others rebase; all land, no version twice. */
TEST(concurrent_committers)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct racer r[3];
	pthread_t th[3];
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	bool seen[32] = { false };

	CHECK(st);
	m = latest(st);
	CHECK(m);
	CHECK(like_fragment(&nf, files, st, NULL, m, 2, "c") == 0);
	lance_manifest_free(m);
	for (int i = 0; i < 3; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].st = st;
		r[i].nf = &nf;
		r[i].read_version = 7;
		CHECK(pthread_create(&th[i], NULL, race, &r[i]) == 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++) {
		if (r[i].rc)
			fprintf(stderr, "racer %d: %s\n", i, r[i].msg);
		CHECK(r[i].rc == 0);
		for (int k = 0; k < 4; k++) {
			CHECK(r[i].got[k] >= 8 && r[i].got[k] < 20);
			CHECK(!seen[r[i].got[k]]);
			seen[r[i].got[k]] = true;
		}
	}
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->version, 19);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->n_fragments, 15);
	CHECK_EQ_U64(lance_snapshot_manifest(s)->max_fragment_id, 15);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), 22 + 12 * 5);
	lance_snapshot_free(s);
	free_paths(files, nf.n_files);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* A store whose manifest puts misbehave:
 *   lost_replies > 0: the next ones land, but answer as a timeout does;
 *   lost_replies < 0: they fail before reaching the store;
 *   late_puts > 0: the next ones answer as a timeout and land later, just
 *     before the following manifest put (which then finds it taken);
 *   late_puts < 0: every one answers as a timeout and never lands. */
static int (*inner_put)(struct ostore *st, const char *key, const void *data,
			size_t len, int if_absent, struct lc_err *err);
static int lost_replies, late_puts, manifest_puts;
/* taken_puts > 0: that many manifest puts answer "exists" (others keep
 * committing first), then one answers as a timeout, then "exists"
 * again; txn_timeouts: every transaction file put answers as a
 * timeout */
static int taken_puts;
static bool txn_timeouts;
static char held_key[64];
static void *held;
static size_t held_len;

static int no_answer(struct lc_err *err, const char *key)
{
	return lc_err_set(err, ETIMEDOUT, LC_EK_REMOTE, __FILE__, __LINE__,
			  "%s: PUT failed: timed out", key);
}

static int lossy_put(struct ostore *st, const char *key, const void *data,
		     size_t len, int if_absent, struct lc_err *err)
{
	int rc;

	if (txn_timeouts && !strncmp(key, "_transactions/", 14))
		return no_answer(err, key);
	if (strncmp(key, "_versions/", 10))
		return inner_put(st, key, data, len, if_absent, err);
	if (taken_puts) {
		if (++manifest_puts > 4 * taken_puts)	/* never ends */
			return LC_SYS(err, EIO, "%s: still trying", key);
		if (manifest_puts == taken_puts + 1)
			return no_answer(err, key);
		return lc_err_set(err, EEXIST, LC_EK_NONE, __FILE__, __LINE__,
				  "%s: already exists", key);
	}
	if (held) {			/* the late one lands first */
		struct lc_err e = { 0 };

		(void)inner_put(st, held_key, held, held_len, 1, &e);
		free(held);
		held = NULL;
	}
	manifest_puts++;
	if (lost_replies < 0)
		return LC_SYS(err, EIO, "%s: refused", key);
	if (late_puts < 0)
		return no_answer(err, key);
	if (late_puts > 0) {
		late_puts--;
		snprintf(held_key, sizeof(held_key), "%s", key);
		held = malloc(len);
		memcpy(held, data, len);
		held_len = len;
		return no_answer(err, key);
	}
	rc = inner_put(st, key, data, len, if_absent, err);
	if (rc || !lost_replies)
		return rc;
	lost_replies--;
	return no_answer(err, key);
}

/* A put left without an answer is tried again under the same uuid: a
 * version that landed all the same is found as ours, one that lands late
 * takes the name the retry wanted and is found then; one version each
 * time, never two. A put that really failed stays an error, and one that
 * never gets an answer ends as one, marked unsure. */
/* A copy of v1names.lance (version 7) whose puts go through lossy_put,
 * and a commit of one fragment like its second, read at version 7. */
struct lossy_rig {
	char dir[64];
	struct ostore *st;
	const struct ostore_ops *ops;
	struct ostore_ops lossy;
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit c;
};

static void lossy_open(struct lossy_rig *r, const char *tag)
{
	struct lance_manifest *m;

	memset(r, 0, sizeof(*r));
	r->st = copy_fixture(r->dir, sizeof(r->dir), "v1names.lance");
	CHECK(r->st);
	m = latest(r->st);
	CHECK(m && m->version == 7);
	CHECK(like_fragment(&r->nf, r->files, r->st, NULL, m, 2, tag) == 0);
	lance_manifest_free(m);
	r->ops = r->st->ops;
	r->lossy = *r->ops;
	inner_put = r->ops->put;
	r->lossy.put = lossy_put;
	r->st->ops = &r->lossy;
	r->c.read_version = 7;
	r->c.appends = &r->nf;
	r->c.n_appends = 1;
}

static void lossy_close(struct lossy_rig *r)
{
	r->st->ops = r->ops;
	free_paths(r->files, r->nf.n_files);
	ostore_free(r->st);
	harness_rm_rf(r->dir);
}

TEST(lost_reply)
{
	struct lossy_rig r;
	struct ostore *st;
	struct lance_manifest *m;
	struct lc_err err = { 0 };
	uint64_t v = 0;

	lossy_open(&r, "l");
	if (harness_failed)
		return;
	st = r.st;
	lost_replies = 1;
	CHECK_OK(lance_commit(&v, st, &r.c, &err), &err);
	CHECK_EQ_U64(v, 8);
	CHECK(lost_replies == 0);
	CHECK(!exists(st, "_versions/9.manifest"));
	m = latest(st);
	CHECK(m && m->version == 8 && m->n_fragments == 4);
	lance_manifest_free(m);

	/* the late put lands between the retry's look and its put */
	late_puts = 1;
	manifest_puts = 0;
	memset(r.c.uuid, 0, sizeof(r.c.uuid));
	r.c.read_version = 8;
	CHECK_OK(lance_commit(&v, st, &r.c, &err), &err);
	CHECK_EQ_U64(v, 9);
	CHECK_EQ_U64(manifest_puts, 2);
	CHECK(!exists(st, "_versions/10.manifest"));
	m = latest(st);
	CHECK(m && m->version == 9 && m->n_fragments == 5);
	lance_manifest_free(m);

	/* a put that never reached the store is still an error */
	lost_replies = -1;
	memset(r.c.uuid, 0, sizeof(r.c.uuid));
	r.c.read_version = 9;
	CHECK(lance_commit(&v, st, &r.c, &err) == EIO);
	CHECK(strstr(err.msg, "refused"));
	CHECK(!r.c.unsure);
	CHECK(!exists(st, "_versions/10.manifest"));

	/* never an answer: a few tries, then an error, marked unsure */
	lost_replies = 0;
	late_puts = -1;
	manifest_puts = 0;
	memset(r.c.uuid, 0, sizeof(r.c.uuid));
	lc_err_clear(&err);
	CHECK(lance_commit(&v, st, &r.c, &err) == ETIMEDOUT);
	CHECK(r.c.unsure);
	CHECK_EQ_U64(manifest_puts, 5);
	CHECK(!exists(st, "_versions/10.manifest"));
	late_puts = 0;
	lossy_close(&r);
}

static int count_frag0(void *ctx, const struct ostore_entry *e)
{
	if (!strncmp(e->name, "0-7-", 4))
		++*(int *)ctx;
	return 0;
}

/* A delete whose manifest put answers as a timeout and lands just before
 * the retry's put: the version that landed (the first attempt's) names
 * the deletion file its transaction names, and the retry wrote that
 * same file again, not a second one. */
TEST(late_put_names_its_deletions)
{
	static const uint32_t rows[] = { 9, 0 };
	struct lance_commit_delete del = { 0, rows, 2 };
	Lpb__Transaction *t = NULL;
	struct lance_manifest *m;
	struct lc_err err = { 0 };
	struct lossy_rig r;
	uint8_t *txn = NULL;
	size_t len = 0;
	char key[160];
	uint64_t v = 0;
	int files = 0;

	lossy_open(&r, "d");
	if (harness_failed)
		return;
	r.c.appends = NULL;
	r.c.n_appends = 0;
	r.c.deletes = &del;
	r.c.n_deletes = 1;
	late_puts = 1;
	manifest_puts = 0;
	CHECK_OK(lance_commit(&v, r.st, &r.c, &err), &err);
	CHECK_EQ_U64(v, 8);
	CHECK_EQ_U64(manifest_puts, 2);
	m = latest(r.st);
	CHECK(m && m->version == 8 && m->fragments[0].deletion.present);
	CHECK_OK(ostore_list(r.st, "_deletions", count_frag0, &files, &err),
		 &err);
	CHECK_EQ_U64(files, 1);
	snprintf(key, sizeof(key), "_transactions/7-%s.txn", r.c.uuid);
	CHECK_OK(ostore_get(&txn, &len, r.st, key, 1 << 20, &err), &err);
	if (txn)
		t = lpb__transaction__unpack(NULL, len, txn);
	CHECK(t && t->operation_case == LPB__TRANSACTION__OPERATION_DELETE);
	if (m && t && t->delete_ && t->delete_->n_updated_fragments == 1 &&
	    t->delete_->updated_fragments[0]->deletion_file)
		CHECK_EQ_U64(t->delete_->updated_fragments[0]
				     ->deletion_file->id,
			     m->fragments[0].deletion.id);
	else
		CHECK(!"the transaction names one updated fragment");
	if (t)
		lpb__transaction__free_unpacked(t, NULL);
	lc_free(txn);
	lance_manifest_free(m);
	late_puts = 0;
	lossy_close(&r);
}

/* Attempts are bounded whatever their failures: other writers taking
 * every version, with a timeout on the last attempt the bound allows,
 * end in a conflict after the bound, not in endless tries. A timeout
 * before the manifest's put leaves nothing that could land: the commit
 * fails without being marked unsure. */
TEST(bounded_retries)
{
	struct lossy_rig r;
	struct ostore *st;
	struct lc_err err = { 0 };
	uint64_t v = 0;

	lossy_open(&r, "b");
	if (harness_failed)
		return;
	st = r.st;

	taken_puts = 19;	/* the 20th attempt times out */
	manifest_puts = 0;
	CHECK(lance_commit(&v, st, &r.c, &err) == EBUSY);
	CHECK(err.kind == LC_EK_CONFLICT);
	CHECK(strstr(err.msg, "gave up after 21 attempts"));
	CHECK_EQ_U64(manifest_puts, 21);
	CHECK(r.c.unsure);	/* the 20th may land yet */
	taken_puts = 0;

	txn_timeouts = true;
	manifest_puts = 0;
	memset(r.c.uuid, 0, sizeof(r.c.uuid));
	lc_err_clear(&err);
	CHECK(lance_commit(&v, st, &r.c, &err) == ETIMEDOUT);
	CHECK_EQ_U64(manifest_puts, 0);
	CHECK(!r.c.unsure);
	txn_timeouts = false;
	CHECK(!exists(st, "_versions/8.manifest"));

	lossy_close(&r);
}

/* A new dataset (in memory and on disk) with a LanceDB fixture's schema
 * and data file; then it takes appends and deletes like any other. */
TEST(create_dataset)
{
	char dir[64];
	struct ostore *src = NULL, *st = NULL;
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	struct lance_kv cfg = { (char *)"lancefs.test", (uint8_t *)"1", 1 };
	uint64_t v, nums[64];
	char key[128];

	CHECK_OK(ostore_open_uri(&src, fixture_path("lancedb/v1names.lance"), NULL,
				 &err), &err);
	m = latest(src);
	CHECK(m);
	for (int pass = 0; pass < 2; pass++) {
		struct lance_commit c = { 0 };
		struct lance_commit_delete d;
		static const uint32_t rows[] = { 1, 3 };

		if (pass == 0) {
			CHECK_OK(ostore_mem_new(&st, &err), &err);
		} else {
			snprintf(dir, sizeof(dir),
				 "/tmp/lancefs-commit-XXXXXX");
			CHECK(mkdtemp(dir));
			CHECK_OK(ostore_local_new(&st, dir, &err), &err);
		}
		CHECK(like_fragment(&nf, files, st, src, m, 2, "n") == 0);
		c.new_schema = &m->schema;
		c.config = &cfg;
		c.n_config = 1;
		c.data_format = "2.2";
		c.appends = &nf;
		c.n_appends = 1;
		CHECK_OK(lance_commit(&v, st, &c, &err), &err);
		CHECK_EQ_U64(v, 1);
		CHECK(exists(st, "_versions/18446744073709551614.manifest"));
		snprintf(key, sizeof(key), "_transactions/0-%s.txn", c.uuid);
		CHECK(exists(st, key));
		/* The same create again (a retry whose first put landed
		 * after all) finds version 1 is its own. */
		v = 0;
		CHECK_OK(lance_commit(&v, st, &c, &err), &err);
		CHECK_EQ_U64(v, 1);
		CHECK(!exists(st, "_versions/18446744073709551613.manifest"));
		/* Creating again is a conflict. */
		memset(c.uuid, 0, sizeof(c.uuid));
		lc_err_clear(&err);
		CHECK(lance_commit(&v, st, &c, &err) == EBUSY);
		CHECK(strstr(err.msg, "already exists") != NULL);

		memset(&c, 0, sizeof(c));
		d.fragment_id = 0;
		d.offsets = rows;
		d.n = 2;
		c.read_version = 1;
		c.deletes = &d;
		c.n_deletes = 1;
		c.appends = &nf;
		c.n_appends = 1;
		CHECK_OK(lance_commit(&v, st, &c, &err), &err);
		CHECK_EQ_U64(v, 2);
		CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
		{
			const struct lance_manifest *n =
				lance_snapshot_manifest(s);

			CHECK_EQ_U64(n->n_fragments, 2);
			CHECK_EQ_U64(n->fragments[1].id, 1);
			CHECK_EQ_U64(n->reader_flags, 1);
			CHECK_EQ_U64(n->writer_flags, 1 | 8);
			CHECK_STR(lance_manifest_config(n, "lancefs.test"),
				  "1");
			CHECK_EQ_U64(n->schema.n_fields, m->schema.n_fields);
			CHECK_STR(n->schema.fields[1].name,
				  m->schema.fields[1].name);
		}
		CHECK_EQ_U64(collect(nums, 64, s), 8);
		CHECK_EQ_U64(nums[0], 0);
		CHECK_EQ_U64(nums[1], 2);
		CHECK_EQ_U64(nums[2], 4);
		CHECK_EQ_U64(nums[3], 5);
		lance_snapshot_free(s);
		free_paths(files, nf.n_files);
		ostore_free(st);
		if (pass == 1)
			harness_rm_rf(dir);
	}
	lance_manifest_free(m);
	ostore_free(src);
}

/*
 * What we do not interpret is carried forward: a hand-made version 7
 * with an IndexSection and a Manifest field protobuf-c does not know
 * (number 1000); our version 8 keeps both, byte for byte.
 */
TEST(carry_forward)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	static const uint8_t unknown[] = { 0xc0, 0x3e, 0x05 };
	Lpb__IndexMetadata im = LPB__INDEX_METADATA__INIT;
	Lpb__IndexMetadata *ims[1] = { &im };
	Lpb__IndexSection is = LPB__INDEX_SECTION__INIT;
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit c = { 0 };
	struct lance_manifest *m, *m8;
	Lpb__Manifest *pm;
	struct lc_err err = { 0 };
	uint8_t *raw, *buf, *txn;
	size_t len, ilen, tlen, mlen, o, txn_len;
	uint64_t pos, v;
	char key[256];

	CHECK(st);
	CHECK_OK(ostore_get(&raw, &len, st, "_versions/7.manifest", 1 << 20,
			    &err), &err);
	CHECK_OK(lance_manifest_parse(&m, raw, len, &err), &err);
	pos = lc_le64(raw + len - 16);
	pm = lpb__manifest__unpack(NULL, lc_le32(raw + pos), raw + pos + 4);
	CHECK(pm && m->has_transaction_section);
	tlen = lc_le32(raw + m->transaction_section);
	im.name = (char *)"idx";
	im.dataset_version = 7;
	is.n_indices = 1;
	is.indices = ims;
	ilen = lpb__index_section__get_packed_size(&is);
	pm->has_index_section_case =
		LPB__MANIFEST__HAS_INDEX_SECTION_INDEX_SECTION;
	pm->index_section = 0;
	pm->transaction_section = 4 + ilen;
	mlen = lpb__manifest__get_packed_size(pm);
	buf = calloc(1, 12 + ilen + tlen + mlen + 3 + 16);
	lc_put_le32(buf, (uint32_t)ilen);
	lpb__index_section__pack(&is, buf + 4);
	o = 4 + ilen;
	memcpy(buf + o, raw + m->transaction_section, 4 + tlen);
	o += 4 + tlen;
	lc_put_le32(buf + o, (uint32_t)(mlen + 3));
	lpb__manifest__pack(pm, buf + o + 4);
	memcpy(buf + o + 4 + mlen, unknown, 3);
	lc_put_le64(buf + o + 4 + mlen + 3, o);
	lc_put_le16(buf + o + 4 + mlen + 3 + 8, 0);
	lc_put_le16(buf + o + 4 + mlen + 3 + 10, 2);
	memcpy(buf + o + 4 + mlen + 3 + 12, "LANC", 4);
	CHECK_OK(ostore_put(st, "_versions/7.manifest", buf,
			    o + 4 + mlen + 3 + 16, 0, &err), &err);
	lpb__manifest__free_unpacked(pm, NULL);
	lance_manifest_free(m);
	lc_free(raw);

	m = latest(st);
	CHECK(m && m->has_index_section);
	CHECK(like_fragment(&nf, files, st, NULL, m, 0, "k") == 0);
	lance_manifest_free(m);
	c.read_version = 7;
	c.appends = &nf;
	c.n_appends = 1;
	CHECK_OK(lance_commit(&v, st, &c, &err), &err);
	free_paths(files, nf.n_files);
	CHECK_EQ_U64(v, 8);
	CHECK_OK(ostore_get(&raw, &len, st, "_versions/8.manifest", 1 << 20,
			    &err), &err);
	CHECK_OK(lance_manifest_parse(&m8, raw, len, &err), &err);
	CHECK(m8->has_index_section && m8->index_section == 0);
	CHECK(!memcmp(raw, buf, 4 + ilen));
	CHECK_EQ_U64(m8->transaction_section, 4 + ilen);
	pos = lc_le64(raw + len - 16);
	CHECK(memmem(raw + pos + 4, len - pos - 20, unknown, 3) != NULL);
	/* The inline transaction is the .txn file's bytes. */
	snprintf(key, sizeof(key), "_transactions/%s", m8->transaction_file);
	CHECK_OK(ostore_get(&txn, &txn_len, st, key, 1 << 20, &err), &err);
	CHECK_EQ_U64(lc_le32(raw + 4 + ilen), txn_len);
	CHECK(!memcmp(raw + 8 + ilen, txn, txn_len));
	lc_free(txn);
	lance_manifest_free(m8);
	lc_free(raw);
	free(buf);
	ostore_free(st);
	harness_rm_rf(dir);
}

/* Every allocation failure fails the commit cleanly (no leak, no crash,
 * no half version); later commits rebase over whatever landed. */
TEST(alloc_failures)
{
	char dir[64];
	struct ostore *st = copy_fixture(dir, sizeof(dir), "v1names.lance");
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_manifest *m;
	struct lance_snapshot *s;
	struct lc_err err = { 0 };
	uint32_t row = 0;
	uint64_t v, rows = 22;
	bool done = false;

	CHECK(st);
	m = latest(st);
	CHECK(m);
	CHECK(like_fragment(&nf, files, st, NULL, m, 2, "f") == 0);
	lance_manifest_free(m);
	for (unsigned long n = 1; n < 5000 && !done; n++) {
		struct lance_commit_delete d = { 1, &row, 1 };
		struct lance_commit c = { 0 };
		int rc;

		c.read_version = 7;
		c.appends = &nf;
		c.n_appends = 1;
		c.deletes = &d;
		c.n_deletes = 1;
		lc_err_clear(&err);
		lc_alloc_fail_after(n);
		rc = lance_commit(&v, st, &c, &err);
		lc_alloc_fail_after(0);
		if (rc && rc != ENOMEM)
			fprintf(stderr, "n=%lu: %s\n", n, err.msg);
		CHECK(rc == 0 || rc == ENOMEM);
		if (!rc) {
			rows += 5 - 1;
			done = ++row == 3;
		}
	}
	CHECK(done);
	CHECK_OK(lance_snapshot_open(&s, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(s), rows);
	lance_snapshot_free(s);
	free_paths(files, nf.n_files);
	ostore_free(st);
	harness_rm_rf(dir);
}

TEST_MAIN(TEST_ENTRY(deletion_writers), TEST_ENTRY(append_v1_names),
	  TEST_ENTRY(gap_in_versions), TEST_ENTRY(history_since_base),
	  TEST_ENTRY(lost_reply),
	  TEST_ENTRY(late_put_names_its_deletions), TEST_ENTRY(bounded_retries),
	  TEST_ENTRY(delete_rows), TEST_ENTRY(stable_row_ids),
	  TEST_ENTRY(rebase_and_conflicts), TEST_ENTRY(conflict_with_rewrite),
	  TEST_ENTRY(concurrent_committers), TEST_ENTRY(create_dataset),
	  TEST_ENTRY(carry_forward), TEST_ENTRY(alloc_failures))
