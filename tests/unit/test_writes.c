/*
 * test_writes.c - the staged rows of a writable mount and when they are
 * committed (fs/writes.c), driven the way fs/mount.c drives them: the
 * FUSE requests' order, without a kernel.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "fixture.h"
#include "lance.h"
#include "ostore.h"
#include "staging.h"
#include "view.h"
#include "writes.h"

struct late_release {
	struct writes *w;
	uint64_t id;
	uint32_t fidx;
	int fd;
};

/* The kernel sends a file's release after close(2) returned. */
static void *release_later(void *arg)
{
	struct late_release *l = arg;
	struct timespec t = { 0, 100 * 1000 * 1000 };

	nanosleep(&t, NULL);
	wr_file_closed(l->w, l->id, l->fidx, l->fd, true);
	return NULL;
}

static void stage(struct writes *w, const char *row, const char *json,
		 uint64_t *id, uint32_t *fidx, int *fd)
{
	struct lc_err err = { 0 };

	CHECK_OK(wr_mkdir(w, row, id, &err), &err);
	CHECK_OK(wr_file_open(w, *id, "meta.json", O_WRONLY | O_CREAT, true,
			      NULL, fidx, fd, &err), &err);
	CHECK(write(*fd, json, strlen(json)) == (ssize_t)strlen(json));
}

/* The latest version of the dataset in folder `ds`, and its rows. */
static int rows_of(const char *ds, uint64_t *version, uint64_t *rows,
		   struct lc_err *err)
{
	struct ostore *st;
	struct lance_snapshot *snap;
	int rc = ostore_local_new(&st, ds, err);

	if (rc)
		return rc;
	rc = lance_snapshot_open(&snap, st, 0, err);
	if (!rc) {
		*version = lance_snapshot_manifest(snap)->version;
		*rows = lance_snapshot_num_rows(snap);
		lance_snapshot_free(snap);
	}
	ostore_free(st);
	return rc;
}

/* A copy of a LanceDB dataset, its view and its writes (commits only
 * when asked, 60 s quiet period), staged under the same folder. */
struct rig {
	char dir[32];
	char ds[300];
	struct view *v;
	struct writes *w;
};

static double rig_delay = 60;	/* the quiet period of the next rig */

/* The rig's writes, as a new mount opens them. */
static void rig_writes(struct rig *r)
{
	struct wr_opts o = { .commit_delay = rig_delay };
	struct lc_err err = { 0 };
	char sd[300];

	snprintf(sd, sizeof(sd), "%s/staging", r->dir);
	o.staging_dir = sd;
	CHECK_OK(wr_open(&r->w, r->v, view_single(r->v), r->ds, &o, NULL,
			 NULL, &err), &err);
	CHECK_OK(wr_start(r->w, &err), &err);
}

static void rig_open(struct rig *r)
{
	struct view_opts vo = { .writable = true };
	struct lc_err err = { 0 };

	strcpy(r->dir, "/tmp/lancefs-writes-XXXXXX");
	CHECK(mkdtemp(r->dir));
	snprintf(r->ds, sizeof(r->ds), "%s/stable.lance", r->dir);
	CHECK(fixture_copy("lancedb/stable.lance", r->ds) == 0);
	CHECK_OK(view_open(&r->v, r->ds, &vo, &err), &err);
	rig_writes(r);
}

static void rig_close(struct rig *r)
{
	wr_close(r->w);
	view_free(r->v);
	harness_rm_rf(r->dir);
}

/* `lancefs commit` right after cp closed a file: the row goes into the
 * version even though the release of its last file comes later; a row
 * whose file is still being written stays staged. */
TEST(commit_after_close_takes_the_row)
{
	struct lc_err err = { 0 };
	struct late_release l;
	struct rig r;
	struct writes *w;
	enum staging_kind kind;
	pthread_t t;
	uint64_t before, rows, after, ver, id2;
	uint32_t fidx2;
	int fd2;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	l.w = w;
	stage(w, "closed", "{\"id\":1.5,\"s\":\"x\"}", &l.id, &l.fidx, &l.fd);
	CHECK(!harness_failed);
	wr_file_flushed(w, l.id, l.fidx, l.fd, true);	/* close(2) */
	stage(w, "writing", "{\"id\":2.5,", &id2, &fidx2, &fd2);
	CHECK(!harness_failed);
	CHECK(pthread_create(&t, NULL, release_later, &l) == 0);
	CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ_U64(ver, before + 1);
	CHECK_EQ_U64(wr_find(w, "closed", &l.id, &kind), ENOENT);
	CHECK_EQ_U64(wr_find(w, "writing", &id2, &kind), 0);
	/* the dataset itself holds the closed row, and only it */
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(ver, before + 1);
	CHECK_EQ_U64(after, rows + 1);
	wr_file_closed(w, id2, fidx2, fd2, true);
	rig_close(&r);
}

/* Rows made while a commit waits for a closing row to be released
 * (it lets the lock go meanwhile) go into that commit too: the commit's
 * list of rows is sized after the wait (it overflowed under ASan). */
struct adder {
	struct late_release *l;
	int n;
};

static void *add_rows_then_release(void *arg)
{
	struct adder *a = arg;
	struct timespec t = { 0, 50 * 1000 * 1000 };

	nanosleep(&t, NULL);
	for (int i = 0; i < a->n; i++) {
		char name[32];
		uint64_t id;
		uint32_t fidx;
		int fd;

		snprintf(name, sizeof(name), "added_%02d", i);
		stage(a->l->w, name, "{\"id\":3.5,\"s\":\"y\"}", &id, &fidx,
		      &fd);
		wr_file_flushed(a->l->w, id, fidx, fd, true);
		wr_file_closed(a->l->w, id, fidx, fd, true);
	}
	wr_file_closed(a->l->w, a->l->id, a->l->fidx, a->l->fd, true);
	return NULL;
}

TEST(rows_made_during_a_commits_wait)
{
	struct lc_err err = { 0 };
	struct late_release l;
	struct adder a = { &l, 20 };
	struct rig r;
	pthread_t t;
	uint64_t before, rows, after, ver;

	rig_open(&r);
	if (harness_failed)
		return;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	l.w = r.w;
	stage(r.w, "closing", "{\"id\":1.5,\"s\":\"x\"}", &l.id, &l.fidx,
	      &l.fd);
	CHECK(!harness_failed);
	wr_file_flushed(r.w, l.id, l.fidx, l.fd, true);	/* close(2) */
	CHECK(pthread_create(&t, NULL, add_rows_then_release, &a) == 0);
	CHECK_OK(wr_commit(r.w, 0, &ver, &err), &err);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ_U64(ver, before + 1);
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(after, rows + 1 + (uint64_t)a.n);
	rig_close(&r);
}

/* Keeps the first row of a listing in `ctx`. */
static int first_row_cb(void *ctx, uint64_t index, const char *name,
			const struct vnode *node)
{
	struct vnode *first = ctx;

	(void)index;
	(void)name;
	if (node->kind == VN_ROW && first->kind != VN_ROW)
		vnode_copy(first, node);
	return 0;
}

/* The rig's root and its first committed row. */
static void first_row(struct rig *r, struct vnode *root, struct vnode *row)
{
	struct lc_err err = { 0 };

	CHECK_OK(view_root(root, r->v, &err), &err);
	CHECK_OK(view_readdir(r->v, root, 0, first_row_cb, row, &err), &err);
	CHECK(row->kind == VN_ROW);
}

/* An editor writes a temp file, closes it and renames it over the real
 * one at once; rm -r right after a copy; rm -r of a committed row right
 * after a file was added to it: all before the kernel's release of the
 * closed file arrives. None is refused as busy, and the commit after
 * leaves the dataset a row shorter. */
TEST(rename_and_rm_after_close)
{
	struct lc_err err = { 0 };
	struct late_release l;
	struct rig r;
	struct writes *w;
	enum staging_kind kind;
	pthread_t t;
	struct vnode root = { 0 }, row = { 0 };
	uint64_t id, before, rows, ver, after;
	uint32_t fidx;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	l.w = w;
	stage(w, "ed", "{\"id\":1.5,\"s\":\"x\"}", &l.id, &l.fidx, &l.fd);
	CHECK(!harness_failed);
	wr_file_flushed(w, l.id, l.fidx, l.fd, true);	/* close(2) */
	CHECK(pthread_create(&t, NULL, release_later, &l) == 0);
	CHECK_OK(wr_file_rename(w, l.id, "meta.json", l.id, "x.json", false,
				&err),
		 &err);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ_U64(wr_file_find(w, l.id, "x.json", &fidx), 0);

	CHECK_OK(wr_file_open(w, l.id, "y.txt", O_WRONLY | O_CREAT, true,
			      NULL, &l.fidx, &l.fd, &err), &err);
	wr_file_flushed(w, l.id, l.fidx, l.fd, true);
	CHECK(pthread_create(&t, NULL, release_later, &l) == 0);
	CHECK_OK(wr_file_unlink(w, l.id, "x.json", false, &err), &err);
	CHECK_OK(wr_file_unlink(w, l.id, "y.txt", false, &err), &err);
	CHECK_OK(wr_remove_row(w, l.id, &err), &err);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ_U64(wr_find(w, "ed", &id, &kind), ENOENT);

	first_row(&r, &root, &row);
	CHECK_OK(wr_change_row(w, &row, true, &l.id, &err), &err);
	CHECK_OK(wr_file_open(w, l.id, "note.txt", O_WRONLY | O_CREAT, true,
			      NULL, &l.fidx, &l.fd, &err), &err);
	wr_file_flushed(w, l.id, l.fidx, l.fd, true);
	CHECK(pthread_create(&t, NULL, release_later, &l) == 0);
	/* rm -r: the file, then the folder */
	CHECK_OK(wr_file_unlink(w, l.id, "note.txt", false, &err), &err);
	CHECK_OK(wr_delete_row(w, &row, &err), &err);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(ver, before + 1);
	CHECK_EQ_U64(after, rows - 1);
	vnode_reset(&row);
	vnode_reset(&root);
	rig_close(&r);
}

static int count_rows_cb(void *ctx, uint64_t index, const char *name,
			 const struct vnode *node)
{
	(void)index;
	(void)name;
	*(uint64_t *)ctx += node->kind == VN_ROW;
	return 0;
}

static int count_staged_cb(void *ctx, uint64_t pos, uint64_t id,
			   const char *name, enum staging_kind kind)
{
	(void)pos;
	(void)id;
	(void)name;
	(void)kind;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* ls of the root as fs/mount.c lists it: the root's rows, then the
 * staged ones it lacks. */
static int ls_count(struct rig *r, uint64_t *n, struct lc_err *err)
{
	struct vnode root = { 0 };
	struct wr_rows *staged = NULL;
	int rc;

	*n = 0;
	wr_list_begin(r->w);
	rc = view_root(&root, r->v, err);
	if (!rc)
		rc = view_readdir(r->v, &root, 0, count_rows_cb, n, err);
	if (!rc)
		rc = wr_rows_take(r->w, view_manifest(&root)->version,
				  &staged);
	wr_list_end(r->w);
	if (!rc)
		rc = wr_rows_list(staged, 0, count_staged_cb, n);
	wr_rows_free(staged);
	vnode_reset(&root);
	return rc;
}

struct committer {
	struct rig *r;
	int rows;
	atomic_int begun;	/* rows whose staging started */
	atomic_int staged;	/* rows whose staging ended */
	atomic_bool done;
	int rc;
};

/* Rows one by one, each staged, closed and committed. */
static void *commit_rows(void *arg)
{
	struct committer *c = arg;
	struct lc_err err = { 0 };

	for (int k = 0; k < c->rows && !c->rc; k++) {
		char name[16];
		uint64_t id, ver;
		uint32_t fidx;
		int fd;

		snprintf(name, sizeof(name), "r%d", k);
		atomic_fetch_add(&c->begun, 1);
		stage(c->r->w, name, "{\"id\":7.5}", &id, &fidx, &fd);
		atomic_fetch_add(&c->staged, 1);
		wr_file_flushed(c->r->w, id, fidx, fd, true);
		wr_file_closed(c->r->w, id, fidx, fd, true);
		c->rc = wr_commit(c->r->w, 0, &ver, &err);
	}
	atomic_store(&c->done, true);
	return NULL;
}

/* ls while rows are staged and committed one after another: every ls
 * lists each row once, staged or committed, never in neither and never
 * in both. A row staged before the ls began must be there; one whose
 * staging began after it ended cannot be. */
TEST(ls_during_commits_sees_each_row_once)
{
	struct lc_err err = { 0 };
	struct committer c = { 0 };
	struct rig r;
	pthread_t t;
	uint64_t base, n, ver, rows;
	unsigned samples = 0;

	rig_open(&r);
	if (harness_failed)
		return;
	CHECK_OK(ls_count(&r, &base, &err), &err);
	CHECK_OK(rows_of(r.ds, &ver, &rows, &err), &err);
	CHECK_EQ_U64(base, rows);
	c.r = &r;
	c.rows = 12;
	CHECK(pthread_create(&t, NULL, commit_rows, &c) == 0);
	while (!atomic_load(&c.done) && !harness_failed) {
		uint64_t lo = base + (uint64_t)atomic_load(&c.staged), hi;

		CHECK_OK(ls_count(&r, &n, &err), &err);
		hi = base + (uint64_t)atomic_load(&c.begun);
		if (n < lo || n > hi)
			fprintf(stderr, "ls lists %" PRIu64 " rows, not %"
				PRIu64 "..%" PRIu64 "\n", n, lo, hi);
		CHECK(n >= lo && n <= hi);
		samples++;
	}
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_EQ_U64(c.rc, 0);
	CHECK_OK(ls_count(&r, &n, &err), &err);
	CHECK_EQ_U64(n, base + (uint64_t)c.rows);
	CHECK_OK(rows_of(r.ds, &ver, &rows, &err), &err);
	CHECK_EQ_U64(rows, base + (uint64_t)c.rows);
	CHECK(samples > 0);
	rig_close(&r);
}

/* Whether the staging under the rig holds no batch record (the cleaner
 * took every landed row out). */
static bool batches_gone(const struct rig *r)
{
	char path[400];
	struct dirent *de;
	bool empty = true;
	DIR *d;

	snprintf(path, sizeof(path), "%s/staging/batches", r->dir);
	d = opendir(path);
	while (d && empty && (de = readdir(d)))
		empty = de->d_name[0] == '.';
	if (d)
		closedir(d);
	return empty;
}

/* A staged file open for reading when its row lands keeps its bytes,
 * however many rows are staged and committed after it (the staging
 * makes spares of what landed rows leave: not of a file a reader may
 * hold). */
TEST(reader_outlives_its_row)
{
	static const char json[] = "{\"id\":7.5,\"s\":\"held\"}";
	struct lc_err err = { 0 };
	struct rig r;
	struct writes *w;
	uint64_t id, held, ver;
	uint32_t fidx, rfidx;
	char got[64] = "";
	int fd, rfd;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	stage(w, "held", json, &held, &fidx, &fd);
	wr_file_flushed(w, held, fidx, fd, true);
	wr_file_closed(w, held, fidx, fd, true);
	CHECK_OK(wr_file_open(w, held, "meta.json", O_RDONLY, false, NULL,
			      &rfidx, &rfd, &err), &err);
	CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	/* rows staged after it, in what the landed ones left */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5 && !batches_gone(&r); i++)
			usleep(100 * 1000);
		for (int k = 0; k < 4; k++) {
			char row[16];

			snprintf(row, sizeof(row), "next_%d_%d", round, k);
			stage(w, row, "{\"id\":1.5,\"s\":\"overwritten\"}",
			      &id, &fidx, &fd);
			wr_file_flushed(w, id, fidx, fd, true);
			wr_file_closed(w, id, fidx, fd, true);
		}
		CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	}
	for (int i = 0; i < 50 && !batches_gone(&r); i++)
		usleep(100 * 1000);
	CHECK(pread(rfd, got, sizeof(got) - 1, 0) == (ssize_t)strlen(json));
	CHECK_STR(got, json);
	wr_file_closed(w, held, rfidx, rfd, false);
	rig_close(&r);
}

/* A file whose writes the daemon does not see (passthrough): the
 * opener's close(2) marks it complete; a write after it, through a
 * descriptor a child inherited, takes the mark off, and the last close
 * (the release) must put it back, or the next mount after a crash
 * would drop the file as cut. */
TEST(release_marks_after_unseen_writes)
{
	struct rig r;
	struct writes *w;
	struct stat sb;
	uint64_t id;
	uint32_t fidx;
	int fd, probe;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	stage(w, "inherited", "{\"id\":1.5,\"s\":\"x\"}", &id, &fidx, &fd);
	wr_file_unseen(w, id, fidx);
	wr_file_flushed(w, id, fidx, fd, true);	/* the opener's close */
	CHECK(fstat(fd, &sb) == 0 && staging_is_marked(&sb));
	CHECK(write(fd, " ", 1) == 1);			/* the child's write */
	CHECK(fstat(fd, &sb) == 0 && !staging_is_marked(&sb));
	CHECK((probe = dup(fd)) >= 0);
	wr_file_closed(w, id, fidx, fd, true);		/* its release */
	CHECK(fstat(probe, &sb) == 0 && staging_is_marked(&sb));
	close(probe);
	rig_close(&r);
}

/* A second writer opens the file while the first one's release is
 * still to come (echo a > f; echo b >> f: close(2) returns before the
 * release), its writes going through the daemon: when both are closed
 * the file must be marked complete again, or the next mount after a
 * crash drops it as cut. */
TEST(second_writer_before_first_release)
{
	struct lc_err err = { 0 };
	struct rig r;
	struct writes *w;
	struct stat sb;
	uint64_t id;
	uint32_t fidx, fidx2;
	int fd, fd2, probe;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	stage(w, "appended", "{\"id\":1.5,", &id, &fidx, &fd);
	wr_file_flushed(w, id, fidx, fd, true);	/* the first close(2) */
	CHECK(fstat(fd, &sb) == 0 && staging_is_marked(&sb));
	CHECK_OK(wr_file_open(w, id, "meta.json", O_WRONLY | O_APPEND, false,
			      NULL, &fidx2, &fd2, &err), &err);
	CHECK(write(fd2, "\"s\":\"x\"}", 8) == 8);
	wr_file_flushed(w, id, fidx2, fd2, true);	/* the second close(2) */
	CHECK((probe = dup(fd)) >= 0);
	wr_file_closed(w, id, fidx, fd, true);		/* the releases */
	wr_file_closed(w, id, fidx2, fd2, true);
	CHECK(fstat(probe, &sb) == 0 && staging_is_marked(&sb));
	close(probe);
	rig_close(&r);
}

/* A file created read-only (flock(1) makes its lock file so) beside a
 * file still being written: its close must not count as the other's,
 * or the row would commit with that file half-written. */
TEST(read_only_create_beside_a_writer)
{
	struct lc_err err = { 0 };
	struct rig r;
	struct writes *w;
	enum staging_kind kind;
	uint64_t id, before, rows, after, ver;
	uint32_t fidx, lfidx;
	int fd, lfd;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	stage(w, "locked", "{\"id\":1.5,\"s\":\"x\"}", &id, &fidx, &fd);
	CHECK_OK(wr_file_open(w, id, "s.txt", O_RDONLY | O_CREAT, true, NULL,
			      &lfidx, &lfd, &err), &err);
	wr_file_flushed(w, id, lfidx, lfd, true);
	wr_file_closed(w, id, lfidx, lfd, true);
	CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	CHECK_EQ_U64(wr_find(w, "locked", &id, &kind), 0);
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(ver, before);
	CHECK_EQ_U64(after, rows);
	wr_file_closed(w, id, fidx, fd, true);
	rig_close(&r);
}

/* A row refused for a file of no column, fixed by renaming the file,
 * commits after the quiet period like any other change. */
TEST(rename_fixes_a_refused_row)
{
	struct lc_err err = { 0 };
	struct rig r;
	struct writes *w;
	uint64_t id, before, rows, ver = 0, after = 0;
	uint32_t fidx, tfidx;
	int fd, tfd;

	rig_delay = 0.2;
	rig_open(&r);
	rig_delay = 60;
	if (harness_failed)
		return;
	w = r.w;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	stage(w, "fixme", "{\"id\":1.5}", &id, &fidx, &fd);
	CHECK_OK(wr_file_open(w, id, "t.txt", O_WRONLY | O_CREAT, true, NULL,
			      &tfidx, &tfd, &err), &err);
	CHECK(write(tfd, "x", 1) == 1);
	wr_file_flushed(w, id, tfidx, tfd, true);
	wr_file_closed(w, id, tfidx, tfd, true);
	wr_file_flushed(w, id, fidx, fd, true);
	wr_file_closed(w, id, fidx, fd, true);
	/* the quiet period's commit refuses it (no column t) */
	usleep(2000 * 1000);
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(ver, before);
	CHECK_OK(wr_file_rename(w, id, "t.txt", id, "s.txt", false, &err), &err);
	for (int i = 0; i < 50 && !harness_failed; i++) {
		CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
		if (ver > before)
			break;
		usleep(100 * 1000);
	}
	CHECK_EQ_U64(ver, before + 1);
	CHECK_EQ_U64(after, rows + 1);
	rig_close(&r);
}

/* fsync of a file still open commits its row, which stays staged as an
 * update of the row it landed as, the file in it (never emptied into the
 * spare pool while the descriptor may still write): what is written
 * after the fsync commits too, as a change of that row, not a new one. */
TEST(fsync_of_an_open_file_keeps_its_folder_out_of_the_pool)
{
	struct lc_err err = { 0 };
	const char json[] = "{\"id\":4.5,\"s\":\"open\"}";
	const char json2[] = "{\"id\":5.5,\"s\":\"later\"}";
	struct rig r;
	struct writes *w;
	struct stat sb;
	uint64_t id, before, rows, ver, after;
	uint32_t fidx;
	int fd;

	rig_open(&r);
	if (harness_failed)
		return;
	w = r.w;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	stage(w, "fsynced", json, &id, &fidx, &fd);
	CHECK_OK(wr_commit(w, id, &ver, &err), &err);	/* fsync(fd) */
	CHECK_EQ_U64(ver, before + 1);
	for (int i = 0; i < 50 && !batches_gone(&r); i++)
		usleep(100 * 1000);
	CHECK(batches_gone(&r));
	CHECK(fstat(fd, &sb) == 0);
	CHECK_EQ_U64(sb.st_nlink, 1);
	CHECK_EQ_U64(sb.st_size, strlen(json));
	CHECK(pwrite(fd, json2, strlen(json2), 0) == (ssize_t)strlen(json2));
	wr_file_closed(w, id, fidx, fd, true);
	CHECK_OK(wr_commit(w, 0, &ver, &err), &err);
	CHECK_EQ_U64(ver, before + 2);
	CHECK_OK(rows_of(r.ds, &ver, &after, &err), &err);
	CHECK_EQ_U64(after, rows + 1);
	rig_close(&r);
}

/* A root-level file written and closed: *id its row. */
static void root_file(struct writes *w, const char *name, const char *text,
		      uint64_t *id)
{
	struct lc_err err = { 0 };
	uint32_t fidx;
	int fd;

	CHECK_OK(wr_create_root_file(w, name, id, &fidx, &fd, &err), &err);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	wr_file_flushed(w, *id, fidx, fd, true);
	wr_file_closed(w, *id, fidx, fd, true);
}

/* Where a staged file is, from a descriptor of it. */
static void path_of(struct writes *w, uint64_t id, const char *name,
		    char *out, size_t cap)
{
	struct lc_err err = { 0 };
	char link[64];
	uint32_t fidx;
	ssize_t n;
	int fd;

	out[0] = 0;
	CHECK_OK(wr_file_open(w, id, name, O_RDONLY, false, NULL, &fidx,
			      &fd, &err), &err);
	if (harness_failed)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, cap - 1);
	CHECK(n > 0);
	out[n > 0 ? n : 0] = 0;
	wr_file_closed(w, id, fidx, fd, false);
}

static int count_files_cb(void *ctx, uint64_t pos, uint32_t fidx,
			  const char *name)
{
	(void)pos;
	(void)fidx;
	(void)name;
	++*(int *)ctx;
	return 0;
}

/* rsync into the root: a hidden temporary renamed to its name, then
 * another over it. The file moves with its row; a crash that left both
 * names (the rename links the new one first) leaves one after a
 * remount. */
TEST(root_file_rename)
{
	struct lc_err err = { 0 };
	enum staging_kind kind;
	char path[4400], other[4400], buf[16] = "";
	uint64_t a, b, found;
	uint32_t fidx;
	struct rig r;
	int fd, n = 0;

	rig_open(&r);
	if (harness_failed)
		return;
	root_file(r.w, ".pic.jpg.Ab12", "first", &a);
	CHECK_OK(wr_rename_row(r.w, a, "pic.jpg", &err), &err);
	CHECK_EQ_U64(wr_find(r.w, ".pic.jpg.Ab12", &found, &kind), ENOENT);
	CHECK_OK(wr_find(r.w, "pic.jpg", &found, &kind), &err);
	CHECK_EQ_U64(found, a);
	CHECK_EQ_U64(kind, STAGING_FILE);
	CHECK_OK(wr_file_find(r.w, a, "pic.jpg", &fidx), &err);
	root_file(r.w, ".pic.jpg.Cd34", "second", &b);
	CHECK_OK(wr_rename_row(r.w, b, "pic.jpg", &err), &err);
	CHECK_OK(wr_find(r.w, "pic.jpg", &found, &kind), &err);
	CHECK_EQ_U64(found, b);
	CHECK_EQ_U64(wr_row_kind(r.w, a, &kind), ESTALE);
	/* a folder is not replaced, nor replaces: rename(2)'s errnos */
	CHECK_OK(wr_mkdir(r.w, "dir", &found, &err), &err);
	CHECK_EQ_U64(wr_rename_row(r.w, b, "dir", &err), EISDIR);
	CHECK_EQ_U64(wr_rename_row(r.w, found, "pic.jpg", &err), ENOTDIR);

	path_of(r.w, b, "pic.jpg", path, sizeof(path));
	CHECK(strstr(path, "/pic.jpg") != NULL);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 6);
	close(fd);
	CHECK_STR(buf, "second");
	/* the state a crash after the link leaves */
	snprintf(other, sizeof(other), "%.*s/.pic.jpg.Cd34",
		 (int)(strrchr(path, '/') - path), path);
	CHECK(link(path, other) == 0);
	wr_close(r.w);
	rig_writes(&r);
	if (harness_failed)
		return;
	CHECK(access(other, F_OK) < 0 && errno == ENOENT);
	CHECK(access(path, F_OK) == 0);
	CHECK_OK(wr_find(r.w, "pic.jpg", &found, &kind), &err);
	CHECK_OK(wr_list_files(r.w, found, 0, count_files_cb, &n), &err);
	CHECK_EQ_U64(n, 1);
	rig_close(&r);
}

struct bg {
	struct writes *w;
	const struct vnode *row;
	uint64_t out;
	int rc;
};

/* `text` written to file `name` of the update of committed row `row`
 * (made if need be) and closed, as cp does; its id in *id. */
static void edit_row(struct writes *w, const struct vnode *row,
		     const char *name, const char *text, uint64_t *id)
{
	struct lc_err err = { 0 };
	uint32_t fidx;
	int fd;

	CHECK_OK(wr_change_row(w, row, true, id, &err), &err);
	CHECK_OK(wr_file_open(w, *id, name, O_WRONLY | O_CREAT | O_TRUNC,
			      true, NULL, &fidx, &fd, &err), &err);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	wr_file_flushed(w, *id, fidx, fd, true);
	wr_file_closed(w, *id, fidx, fd, true);
}

static void *commit_bg(void *arg)
{
	struct bg *b = arg;
	struct lc_err err = { 0 };

	b->rc = wr_commit(b->w, 0, &b->out, &err);
	return NULL;
}

static void *change_bg(void *arg)
{
	struct bg *b = arg;
	struct lc_err err = { 0 };

	b->rc = wr_change_row(b->w, b->row, true, &b->out, &err);
	return NULL;
}

/* An edit of a committed row while that row's earlier edit commits: the
 * row it names moved, so ESTALE (the kernel looks the path up again)
 * rather than an update of the row's old place, which the next commit
 * would refuse as rewritten by another writer. */
TEST(change_while_its_row_commits)
{
	const char json[] = "{\"s\":\"edited\"}";
	struct lc_err err = { 0 };
	struct vnode root = { 0 }, row = { 0 };
	struct bg c = { 0 }, e = { 0 };
	pthread_t tc, te;
	uint64_t id, before, rows, ver = 0, n;
	struct rig r;

	rig_open(&r);
	if (harness_failed)
		return;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	first_row(&r, &root, &row);
	edit_row(r.w, &row, "meta.json", json, &id);
	/* a listing holds the commit after it landed, its row staged */
	wr_list_begin(r.w);
	c.w = r.w;
	CHECK(pthread_create(&tc, NULL, commit_bg, &c) == 0);
	for (int i = 0; i < 200 && ver <= before; i++) {
		usleep(50 * 1000);
		CHECK_OK(rows_of(r.ds, &ver, &n, &err), &err);
	}
	CHECK_EQ_U64(ver, before + 1);
	e.w = r.w;
	e.row = &row;
	CHECK(pthread_create(&te, NULL, change_bg, &e) == 0);
	usleep(200 * 1000);
	wr_list_end(r.w);
	CHECK(pthread_join(tc, NULL) == 0);
	CHECK(pthread_join(te, NULL) == 0);
	CHECK_OK(c.rc, &err);
	CHECK_EQ_U64(e.rc, ESTALE);
	CHECK_EQ_U64(wr_delete_row(r.w, &row, &err), ESTALE);
	vnode_reset(&row);
	vnode_reset(&root);
	rig_close(&r);
}

/* rm -r of a committed row found it empty, then a file came into it
 * before the delete was recorded (another program's write): the delete
 * is refused (rmdir(2)'s ENOTEMPTY) and the file stays; before, it was
 * unlinked and the row deleted. Once the file goes, the delete is
 * taken. */
TEST(delete_of_a_row_written_meanwhile)
{
	struct lc_err err = { 0 };
	struct vnode root = { 0 }, row = { 0 };
	char path[4600];
	struct rig r;
	uint64_t id;

	rig_open(&r);
	if (harness_failed)
		return;
	first_row(&r, &root, &row);
	edit_row(r.w, &row, "new.txt", "x", &id);
	CHECK_EQ_U64(wr_delete_row(r.w, &row, &err), ENOTEMPTY);
	path_of(r.w, id, "new.txt", path, sizeof(path));
	CHECK(access(path, F_OK) == 0);
	CHECK_OK(wr_file_unlink(r.w, id, "new.txt", false, &err), &err);
	CHECK_OK(wr_delete_row(r.w, &row, &err), &err);
	vnode_reset(&row);
	vnode_reset(&root);
	rig_close(&r);
}

/* Every row's meta.json after the latest commit, one after another. */
struct metas {
	struct view *v;
	struct lc_buf all;
};

static int meta_cb(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct metas *m = ctx;
	struct lc_err err = { 0 };
	struct vnode f = { 0 };
	int rc;

	(void)index;
	(void)name;
	if (node->kind != VN_ROW)
		return 0;
	rc = view_lookup(&f, m->v, node, "meta.json", &err);
	if (!rc)
		rc = view_read_file(&m->all, m->v, &f, &err);
	vnode_reset(&f);
	return rc ? rc : lc_buf_append(&m->all, "\n", 1, &err);
}

/* mv of an edited committed file to another row: the file moves and the
 * committed one under it goes, as one change (before, two: a commit
 * landing between them kept the old file, and the kernel's retry of the
 * rename then copied its stale bytes over the edit). */
TEST(edited_file_moved_to_another_row)
{
	const char json[] = "{\"s\":\"moved\"}";
	struct lc_err err = { 0 };
	struct vnode root = { 0 }, row[2] = { { 0 } };
	struct metas m = { 0 };
	uint64_t a, b, ver, rows, before;
	int k = 0;
	struct rig r;

	rig_open(&r);
	if (harness_failed)
		return;
	CHECK_OK(rows_of(r.ds, &before, &rows, &err), &err);
	first_row(&r, &root, &row[0]);
	CHECK_OK(view_row(&row[1], &root, 1, &err), &err);
	CHECK(row[1].kind == VN_ROW);
	edit_row(r.w, &row[0], "meta.json", json, &a);
	CHECK_OK(wr_change_row(r.w, &row[1], true, &b, &err), &err);
	CHECK_OK(wr_file_rename(r.w, a, "meta.json", b, "meta.json", true,
				&err), &err);
	CHECK_OK(wr_commit(r.w, 0, &ver, &err), &err);
	CHECK_EQ_U64(ver, before + 1);
	vnode_reset(&root);
	CHECK_OK(view_ds_refresh(&(bool){ false }, view_single(r.v), &err),
		 &err);
	CHECK_OK(view_root(&root, r.v, &err), &err);
	m.v = r.v;
	lc_buf_init(&m.all, 0);
	CHECK_OK(view_readdir(r.v, &root, 0, meta_cb, &m, &err), &err);
	CHECK(lc_buf_append(&m.all, "", 1, &err) == 0);
	/* the edit once, and the first row's values gone with its file */
	for (const char *p = (char *)m.all.data; (p = strstr(p, "moved"));
	     p++)
		k++;
	CHECK_EQ_U64(k, 1);
	CHECK(strstr((char *)m.all.data, "{\"id\":null,\"s\":null}"));
	lc_buf_reset(&m.all);
	vnode_reset(&row[0]);
	vnode_reset(&row[1]);
	vnode_reset(&root);
	rig_close(&r);
}

/* Which staged file takes a committed file's place: the same column by
 * its stem, raw or as the view escapes it; never meta.json, an ignored
 * name, or another file for a string column's COL.txt. */
TEST(same_column)
{
	CHECK(wr_same_column("image.png", "image.jpg"));
	CHECK(wr_same_column("image", "image.jpg"));
	CHECK(wr_same_column("a.b.png", "a.b.jpg"));
	CHECK(wr_same_column("%2Fx.png", "%252Fx.jpg"));	/* column %2Fx */
	CHECK(!wr_same_column("image_2.png", "image.jpg"));
	CHECK(!wr_same_column("image.jpg.tmp", "image.jpg"));
	CHECK(!wr_same_column("caption.md", "caption.txt"));
	CHECK(!wr_same_column("meta.json", "meta.json"));
	CHECK(!wr_same_column("meta.png", "meta.json"));
	CHECK(!wr_same_column("._image.png", "._image.jpg"));
	CHECK(!wr_same_column(".DS_Store", ".DS_Store"));
}

TEST_MAIN(TEST_ENTRY(same_column),
	  TEST_ENTRY(commit_after_close_takes_the_row),
	  TEST_ENTRY(edited_file_moved_to_another_row),
	  TEST_ENTRY(delete_of_a_row_written_meanwhile),
	  TEST_ENTRY(change_while_its_row_commits),
	  TEST_ENTRY(root_file_rename),
	  TEST_ENTRY(rows_made_during_a_commits_wait),
	  TEST_ENTRY(second_writer_before_first_release),
	  TEST_ENTRY(read_only_create_beside_a_writer),
	  TEST_ENTRY(rename_fixes_a_refused_row),
	  TEST_ENTRY(fsync_of_an_open_file_keeps_its_folder_out_of_the_pool),
	  TEST_ENTRY(rename_and_rm_after_close),
	  TEST_ENTRY(ls_during_commits_sees_each_row_once),
	  TEST_ENTRY(reader_outlives_its_row),
	  TEST_ENTRY(release_marks_after_unseen_writes))
