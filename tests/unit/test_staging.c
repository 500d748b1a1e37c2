/* test_staging.c - the staging journal: rows, batches, recovery. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <linux/fs.h>
#include <unistd.h>

#include "harness.h"
#include "staging.h"

struct names {
	char buf[256];
};

static int collect(void *ctx, uint64_t id, const char *name)
{
	struct names *n = ctx;

	(void)id;
	strcat(n->buf, name);
	strcat(n->buf, " ");
	return 0;
}

/* A staged file as lancefs makes one (0600), unmarked. */
static void write_file(const struct staging *s, uint64_t row,
		       const char *name, const char *text)
{
	char dir[4200], path[4400];
	int fd;

	staging_row_path(dir, sizeof(dir), s, row);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static int exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* What the next mount would find: the staged rows' names (into n) and
 * how many batch records. */
static int listed(struct staging *s, struct names *n, size_t *nb,
		  struct lc_err *err)
{
	struct staging_batch *v;
	int rc;

	n->buf[0] = 0;
	rc = staging_rows(s, collect, n, err);
	if (!rc)
		rc = staging_batches(&v, nb, s, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < *nb; i++)
		staging_batch_reset(&v[i]);
	free(v);
	return 0;
}

TEST(rows_and_batches)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200];
	struct lc_err err = { 0 };
	struct staging *s;
	struct staging_batch b, *left;
	struct names n = { "" };
	uint64_t a, c, found, rows[2];
	size_t nb;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&a, s, "cat_001", &err), &err);
	CHECK_OK(staging_row_new(&c, s, "dog_002", &err), &err);
	CHECK(c > a);
	/* names are unique among staged rows */
	CHECK_EQ_U64(staging_row_new(&found, s, "cat_001", &err), EEXIST);
	lc_err_clear(&err);
	CHECK_OK(staging_row_find(&found, s, "dog_002"), &err);
	CHECK_EQ_U64(found, c);
	CHECK_EQ_U64(staging_row_find(&found, s, "nope"), ENOENT);
	write_file(s, a, "image.jpg", "\xff\xd8\xff");
	write_file(s, a, "meta.json", "{\"label\":\"cat\"}");
	CHECK_OK(staging_rows(s, collect, &n, &err), &err);
	CHECK_STR(n.buf, "cat_001 dog_002 ");

	/* a commit attempt is recorded durably before it starts */
	rows[0] = a;
	rows[1] = c;
	CHECK_OK(staging_batch_begin(&b, s, rows, 2, 7, NULL, &err), &err);
	CHECK_EQ_U64(strlen(b.uuid), 36);
	staging_free(s);

	/* "crash": a new process opens the folder and finds the batch */
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_batches(&left, &nb, s, &err), &err);
	CHECK_EQ_U64(nb, 1);
	CHECK_STR(left[0].uuid, b.uuid);
	CHECK_EQ_U64(left[0].read_version, 7);
	CHECK_EQ_U64(left[0].n_rows, 2);
	CHECK_EQ_U64(left[0].rows[0], a);
	CHECK_EQ_U64(left[0].rows[1], c);
	/* ids never repeat after a restart */
	CHECK_OK(staging_row_new(&found, s, "later", &err), &err);
	CHECK(found > c);

	/* it landed: rows and record go */
	CHECK_OK(staging_batch_done(s, &left[0], &err), &err);
	staging_row_path(rp, sizeof(rp), s, a);
	CHECK(!exists(rp));
	staging_batch_reset(&left[0]);
	free(left);
	CHECK_OK(listed(s, &n, &nb, &err), &err);
	CHECK_STR(n.buf, "later ");
	CHECK_EQ_U64(nb, 0);

	/* abandoned: the record goes, the rows stay */
	rows[0] = found;
	staging_batch_reset(&b);
	CHECK_OK(staging_batch_begin(&b, s, rows, 1, 8, NULL, &err), &err);
	CHECK_OK(staging_batch_abandon(s, &b, &err), &err);
	staging_batch_reset(&b);
	CHECK_OK(listed(s, &n, &nb, &err), &err);
	CHECK_STR(n.buf, "later ");
	CHECK_EQ_U64(nb, 0);
	staging_free(s);
	harness_rm_rf(dir);
}

/* A landed batch's rows are no longer listed at once; their folders go
 * in the background (once threads are allowed, else at once), and the
 * batch record only after them, so that what a crash left of them is
 * still a landed batch that recovery finishes. */
static void landed_rows(bool threads)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], path[4400];
	struct lc_err err = { 0 };
	struct staging *s;
	struct staging_batch b, *left;
	struct names n = { "" };
	uint64_t rows[3];
	size_t nb;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	if (threads)
		staging_allow_threads(s);
	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&rows[i], s, name, &err), &err);
		write_file(s, rows[i], "image.jpg", "\xff\xd8\xff");
	}
	CHECK_OK(staging_batch_begin(&b, s, rows, 2, 1, NULL, &err), &err);
	CHECK_OK(staging_batch_done(s, &b, &err), &err);
	CHECK_OK(staging_rows(s, collect, &n, &err), &err);
	CHECK_STR(n.buf, "r2 ");
	staging_row_path(rp, sizeof(rp), s, rows[0]);
	snprintf(path, sizeof(path), "%s/batches/%s", dir, b.uuid);
	if (!threads) {		/* gone by the call */
		CHECK(!exists(rp));
		CHECK(!exists(path));
	}
	staging_free(s);	/* waits for the cleaner */
	CHECK(!exists(rp));
	CHECK(!exists(path));
	staging_batch_reset(&b);

	/* a crash took the first row out and not the second: the record
	 * is still there, and recovery finishes the batch */
	CHECK_OK(staging_open(&s, dir, &err), &err);
	if (threads)
		staging_allow_threads(s);
	CHECK_OK(staging_row_new(&rows[0], s, "r3", &err), &err);
	CHECK_OK(staging_row_new(&rows[1], s, "r4", &err), &err);
	write_file(s, rows[1], "image.jpg", "\xff\xd8\xff");
	CHECK_OK(staging_batch_begin(&b, s, rows, 2, 2, NULL, &err), &err);
	CHECK_OK(staging_row_remove(s, rows[0], &err), &err);
	staging_batch_reset(&b);
	staging_free(s);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(listed(s, &n, &nb, &err), &err);
	CHECK_STR(n.buf, "r2 r4 ");
	CHECK_EQ_U64(nb, 1);
	CHECK_OK(staging_batches(&left, &nb, s, &err), &err);
	CHECK_OK(staging_batch_done(s, &left[0], &err), &err);
	staging_batch_reset(&left[0]);
	free(left);
	CHECK_OK(listed(s, &n, &nb, &err), &err);
	CHECK_STR(n.buf, "r2 ");
	CHECK_EQ_U64(nb, 0);

	/* the last row committed too: nothing is left of the staging */
	if (threads)
		staging_allow_threads(s);
	CHECK_OK(staging_batch_begin(&b, s, rows + 2, 1, 3, NULL, &err), &err);
	CHECK_OK(staging_batch_done(s, &b, &err), &err);
	staging_batch_reset(&b);
	staging_remove_if_empty(s);
	CHECK(rmdir(dir) == 0);	/* mkdtemp's: stays, emptied */
	staging_free(s);
}

/* A row of a batch whose outcome is unknown, removed before a crash:
 * its id is not given to a new row, which recovery would take for the
 * batch's. */
TEST(batch_ids_not_reused)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX";
	struct lc_err err = { 0 };
	struct staging *s;
	struct staging_batch b;
	uint64_t a, c, later;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&a, s, "cat_001", &err), &err);
	CHECK_OK(staging_row_new(&c, s, "dog_002", &err), &err);
	CHECK_OK(staging_batch_begin(&b, s, &c, 1, 7, NULL, &err), &err);
	CHECK_OK(staging_row_remove(s, c, &err), &err);
	staging_batch_reset(&b);
	staging_free(s);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&later, s, "later", &err), &err);
	CHECK(later > c);
	staging_free(s);
	harness_rm_rf(dir);
}

TEST(landed_rows_leave_no_trace)
{
	landed_rows(true);
	landed_rows(false);
}

/* Batches landing one after another (a cp -r committing every few
 * seconds) have their rows taken out at once, and their records kept
 * until commits pause: one sync then makes every removal durable, and
 * the records go. Never more than 16 wait, so that a crash leaves
 * recovery little to ask the dataset. */
TEST(landed_records_go_when_commits_pause)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], path[4400];
	struct lc_err err = { 0 };
	struct staging *s;
	struct staging_batch b[20];
	struct timespec t0;
	size_t waiting;
	int left;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	staging_allow_threads(s);
	for (int i = 0; i < 20; i++) {
		char name[8];
		uint64_t row;

		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&row, s, name, &err), &err);
		write_file(s, row, "image.jpg", "\xff\xd8\xff");
		CHECK_OK(staging_batch_begin(&b[i], s, &row, 1, 1, NULL,
					     &err), &err);
		CHECK_OK(staging_batch_done(s, &b[i], &err), &err);
		if (i == 19)
			staging_row_path(rp, sizeof(rp), s, row);
	}
	for (int i = 0; i < 1000 && exists(rp); i++)
		usleep(10000);
	CHECK(!exists(rp));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	waiting = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/batches/%s", dir, b[i].uuid);
		waiting += exists(path);
	}
	/* the last ones wait for the pause; the first 16 went in one go */
	CHECK(waiting >= 1 && waiting <= 16);
	CHECK(lc_since(&t0) < STAGING_SYNC_AFTER);
	do {
		left = 0;
		for (int i = 0; i < 20; i++) {
			snprintf(path, sizeof(path), "%s/batches/%s", dir,
				 b[i].uuid);
			left += exists(path);
		}
		if (left)
			usleep(20000);
	} while (left && lc_since(&t0) < STAGING_SYNC_AFTER + 5);
	CHECK_EQ_U64(left, 0);
	for (int i = 0; i < 20; i++)
		staging_batch_reset(&b[i]);
	/* the folder was there (mkdtemp: a user's staging_dir=): it stays,
	 * emptied */
	staging_remove_if_empty(s);
	CHECK(rmdir(dir) == 0);
	staging_free(s);
}

/* Names live in an attribute of the row folder; a row named by a .name
 * file (older staging, or a file system without user attributes) is
 * read, and renamed, the same way. */
TEST(row_names)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200];
	char path[4300];
	struct lc_err err = { 0 };
	struct staging *s;
	struct names n = { "" };
	uint64_t a, old, found;
	FILE *f;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&a, s, "cat_001", &err), &err);
	staging_row_path(rp, sizeof(rp), s, a);
	snprintf(path, sizeof(path), "%s/.name", rp);
	/* one or the other: no file where the file system takes user
	 * attributes */
	CHECK(exists(path) != (getxattr(rp, "user.lancefs.name", NULL, 0) > 0));
	/* an older row: its folder and a .name file */
	old = a + 1;
	staging_row_path(rp, sizeof(rp), s, old);
	CHECK(mkdir(rp, 0700) == 0);
	snprintf(path, sizeof(path), "%s/.name", rp);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("dog_002", f);
	fclose(f);
	CHECK_OK(staging_rows(s, collect, &n, &err), &err);
	CHECK_STR(n.buf, "cat_001 dog_002 ");
	CHECK_OK(staging_row_rename(s, a, "cat_003", NULL, &err), &err);
	CHECK_OK(staging_row_rename(s, old, "dog_004", NULL, &err), &err);
	n.buf[0] = 0;
	CHECK_OK(staging_rows(s, collect, &n, &err), &err);
	CHECK_STR(n.buf, "cat_003 dog_004 ");
	CHECK_OK(staging_row_find(&found, s, "dog_004"), &err);
	CHECK_EQ_U64(found, old);
	staging_free(s);
	harness_rm_rf(dir);
}

/* kill -9 between recording a batch and finishing it */
TEST(killed_mid_commit)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX";
	struct lc_err err = { 0 };
	struct staging *s;
	struct staging_batch *left;
	uint64_t row;
	size_t nb;
	pid_t pid;
	int status;

	CHECK(mkdtemp(dir));
	pid = fork();
	if (pid == 0) {
		struct staging_batch b;

		if (staging_open(&s, dir, NULL) ||
		    staging_row_new(&row, s, "x", NULL) ||
		    staging_batch_begin(&b, s, &row, 1, 3, NULL, NULL))
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_batches(&left, &nb, s, &err), &err);
	CHECK_EQ_U64(nb, 1);
	CHECK_EQ_U64(left[0].read_version, 3);
	CHECK_OK(staging_row_find(&row, s, "x"), &err);
	CHECK_EQ_U64(left[0].rows[0], row);
	staging_batch_reset(&left[0]);
	free(left);
	staging_free(s);
	harness_rm_rf(dir);
}

/* A row folder in rows/ made ahead: no name yet. */
static bool unnamed(int dfd, const char *row)
{
	char path[600];

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, row);
	if (getxattr(path, "user.lancefs.name", NULL, 0) >= 0)
		return false;
	snprintf(path, sizeof(path), "%s/.name", row);
	return faccessat(dfd, path, F_OK, 0) < 0;
}

/* Inode numbers of the spares of a kind ready now, and how many there
 * are: 'F' files in spare/ (not one taken already, linked into place,
 * whose spare name is still there), 'D' unnamed row folders in rows/. */
static size_t spares(ino_t *out, size_t cap, const char *dir, char kind)
{
	char path[4200];
	struct dirent *de;
	struct stat sb;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir,
		 kind == 'F' ? "spare" : "rows");
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (de->d_name[0] == (kind == 'F' ? 'F' : 'R') && n < cap &&
		    !fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) &&
		    (kind == 'F' ? sb.st_nlink == 1 :
				   unnamed(dirfd(d), de->d_name)))
			out[n++] = de->d_ino;
	if (d)
		closedir(d);
	return n;
}

/* Once threads are allowed, a new row folder or staged file is a spare
 * made ahead and renamed (linked) into place: what a create would make
 * (empty, mode 0600, dated now, appending when asked), never over an
 * existing file, and soon with no other name; no spare outlives the
 * staging, nor a crash. */
TEST(spare_inodes)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], path[4400];
	struct lc_err err = { 0 };
	struct staging *s;
	struct timespec before;
	struct stat sb;
	ino_t ready[256];
	uint64_t row, again;
	size_t n = 0;
	bool used = false;
	int fd;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	staging_allow_threads(s);
	CHECK_OK(staging_row_new(&row, s, "first", &err), &err);
	for (int i = 0; i < 500 && (n = spares(ready, 256, dir, 'F')) < 8; i++)
		usleep(10000);
	CHECK(n >= 8);
	sleep(1);		/* older than the files made from them */
	n = spares(ready, 256, dir, 'F');
	clock_gettime(CLOCK_REALTIME, &before);
	staging_row_path(rp, sizeof(rp), s, row);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/f%d", rp, i);
		CHECK(staging_create(s, path, O_WRONLY, &fd) == 0);
		CHECK(fstat(fd, &sb) == 0);
		CHECK((sb.st_mode & 07777) == 0600 && sb.st_size == 0);
		/* the spares are a second older; the file clock may lag
		 * the wall clock by a tick */
		CHECK(sb.st_mtim.tv_sec * 1e9 + sb.st_mtim.tv_nsec >=
		      before.tv_sec * 1e9 + before.tv_nsec - 5e7);
		for (size_t k = 0; k < n; k++)
			used |= sb.st_ino == ready[k];
		CHECK(write(fd, "abc", 3) == 3);
		close(fd);
	}
	CHECK(used);
	/* a spare's own name goes within a moment: a staged file deleted
	 * later frees its blocks */
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/f%d", rp, i);
		for (int k = 0; k < 500 && !stat(path, &sb) &&
				sb.st_nlink != 1; k++)
			usleep(10000);
		CHECK(stat(path, &sb) == 0 && sb.st_nlink == 1);
	}
	/* an existing name is refused and keeps its bytes */
	snprintf(path, sizeof(path), "%s/f0", rp);
	CHECK(staging_create(s, path, O_WRONLY, &fd) == EEXIST && fd < 0);
	CHECK(stat(path, &sb) == 0 && sb.st_size == 3);
	/* O_APPEND is kept */
	snprintf(path, sizeof(path), "%s/log", rp);
	CHECK(staging_create(s, path, O_WRONLY | O_APPEND, &fd) == 0);
	CHECK(pwrite(fd, "ab", 2, 0) == 2 && pwrite(fd, "cd", 2, 0) == 2);
	CHECK(fstat(fd, &sb) == 0 && sb.st_size == 4);
	close(fd);
	/* row folders too: made ahead unnamed in rows/, dated when named,
	 * their ids growing in the order rows are made */
	n = spares(ready, 256, dir, 'D');
	CHECK(n > 0);
	used = false;
	for (int i = 0; i < 40; i++) {
		uint64_t before_row = row;
		char name[16];

		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&row, s, name, &err), &err);
		CHECK(row > before_row);
		staging_row_path(rp, sizeof(rp), s, row);
		CHECK(stat(rp, &sb) == 0 && S_ISDIR(sb.st_mode));
		CHECK(sb.st_mtim.tv_sec * 1e9 + sb.st_mtim.tv_nsec >=
		      before.tv_sec * 1e9 + before.tv_nsec - 5e7);
		for (size_t k = 0; k < n; k++)
			used |= sb.st_ino == ready[k];
	}
	CHECK(used);
	/* listed in the order made, and no folder made ahead (once the
	 * filler made some again) */
	for (int i = 0; i < 500 && !spares(ready, 256, dir, 'D'); i++)
		usleep(10000);
	CHECK(spares(ready, 256, dir, 'D') > 0);
	{
		struct names got = { "" };
		char want[256] = "first ";

		for (int i = 0; i < 40; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
				 "r%d ", i);
		CHECK_OK(staging_rows(s, collect, &got, &err), &err);
		CHECK(!strcmp(got.buf, want));
	}
	staging_remove_if_empty(s);	/* rows are left: only spares go */
	snprintf(path, sizeof(path), "%s/spare", dir);
	CHECK(!exists(path));
	CHECK(exists(rp));
	staging_free(s);

	/* a crash leaves spares behind: the next open removes them, and
	 * the unnamed row folders, but no named row */
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path + strlen(path), sizeof(path) - strlen(path),
		 "/F0000000000000007");
	CHECK(fclose(fopen(path, "w")) == 0);
	snprintf(rp, sizeof(rp), "%s/rows/R%016" PRIx64, dir, row + 100);
	CHECK(mkdir(rp, 0700) == 0);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK(!exists(path) && !exists(rp));
	staging_row_path(rp, sizeof(rp), s, row);
	CHECK(exists(rp));
	CHECK_OK(staging_row_new(&again, s, "after", &err), &err);
	CHECK(again == row + 1);
	staging_free(s);
	harness_rm_rf(dir);
}

static bool spare_has(const char *dir, char kind, ino_t ino)
{
	static ino_t all[8192];
	size_t n = spares(all, 8192, dir, kind);

	while (n--)
		if (all[n] == ino)
			return true;
	return false;
}

/* Land `ids` and wait until the cleaner took them out (their record
 * goes once that is on disk). */
static void land(struct staging *s, const char *dir, const uint64_t *ids,
		 size_t n)
{
	struct lc_err err = { 0 };
	struct staging_batch b;
	char path[4400];

	CHECK_OK(staging_batch_begin(&b, s, ids, n, 1, NULL, &err), &err);
	CHECK_OK(staging_batch_done(s, &b, &err), &err);
	snprintf(path, sizeof(path), "%s/batches/%s", dir, b.uuid);
	staging_batch_reset(&b);
	for (int i = 0; i < 3000 && exists(path); i++)
		usleep(10000);
	CHECK(!exists(path));
}

/* Whether a file of inode `ino` is left in any folder of DIR/rows. */
static bool left_has(const char *dir, ino_t ino)
{
	char path[4200];
	struct dirent *de, *fe;
	bool found = false;
	DIR *d, *r;

	snprintf(path, sizeof(path), "%s/rows", dir);
	d = opendir(path);
	while (d && !found && (de = readdir(d))) {
		int fd = de->d_name[0] != 'R' ? -1 :
			 openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY);

		if (fd < 0 || !(r = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (!found && (fe = readdir(r)))
			found = fe->d_ino == ino;
		closedir(r);
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether `path` is a spare file left in its row folder. */
static bool is_left(const char *path)
{
	struct stat sb;

	return !stat(path, &sb) && staging_is_spare(&sb) &&
	       (sb.st_mode & 07777) == 0600;
}

/* With spares in use, a landed row's folder becomes a spare, its files
 * left in it emptied and marked spare. The row that gets the folder
 * takes its new name, and a staged file it makes of a name left there is
 * that file (empty, 0600, incomplete); the files it does not make go
 * when it lands in turn, and the next mount drops them quietly. Not
 * while a staged file is open for reading: that descriptor keeps
 * reading its own bytes. */
TEST(landed_rows_become_spares)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], path[4400];
	struct lc_err err = { 0 };
	struct staging *s;
	char name[16] = "";
	struct stat sb;
	ino_t file_ino, dir_ino;
	uint64_t row, again = 0, found, prev;
	bool dir_back = false, had = true;
	int fd;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	staging_allow_threads(s);

	/* a reader's row first */
	CHECK_OK(staging_row_new(&row, s, "read", &err), &err);
	write_file(s, row, "image.jpg", "abc");
	staging_row_path(rp, sizeof(rp), s, row);
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	CHECK((fd = open(path, O_RDONLY)) >= 0);
	staging_reading(s, 1);
	CHECK(fstat(fd, &sb) == 0);
	file_ino = sb.st_ino;
	land(s, dir, &row, 1);
	CHECK(!exists(rp));
	CHECK(!spare_has(dir, 'F', file_ino) && !left_has(dir, file_ino));
	{
		char got[8] = "";

		CHECK(pread(fd, got, sizeof(got), 0) == 3);
		CHECK(!memcmp(got, "abc", 3));
	}
	close(fd);
	staging_reading(s, -1);

	CHECK_OK(staging_row_new(&row, s, "landed", &err), &err);
	write_file(s, row, "image.jpg", "\xff\xd8\xff");
	write_file(s, row, "meta.json", "{}");
	CHECK_OK(staging_row_set_info(s, row, &(struct staging_info){
			 .kind = STAGING_FILE }, &err), &err);
	staging_row_path(rp, sizeof(rp), s, row);
	CHECK(stat(rp, &sb) == 0);
	dir_ino = sb.st_ino;
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	CHECK(stat(path, &sb) == 0);
	file_ino = sb.st_ino;
	land(s, dir, &row, 1);
	CHECK(spare_has(dir, 'D', dir_ino) && !spare_has(dir, 'F', file_ino));
	/* rows made now get the folder back, with no name nor .row of the
	 * row it held; ids still grow in the order rows are made */
	prev = row;
	for (int i = 0; i < 200 && !dir_back; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&again, s, name, &err), &err);
		CHECK(again > prev);
		prev = again;
		staging_row_path(rp, sizeof(rp), s, again);
		CHECK(stat(rp, &sb) == 0 && S_ISDIR(sb.st_mode));
		dir_back = sb.st_ino == dir_ino;
	}
	CHECK(dir_back);
	CHECK(staging_row_find(&found, s, name) == 0 && found == again);
	CHECK(staging_row_find(&found, s, "landed") == ENOENT);
	{
		struct staging_info info;

		CHECK_OK(staging_row_info(&info, s, again, &err), &err);
		CHECK(info.kind == STAGING_FOLDER);
		staging_info_reset(&info);
	}
	snprintf(path, sizeof(path), "%s/meta.json", rp);
	CHECK(is_left(path));
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	CHECK(is_left(path));
	CHECK(staging_create(s, path, O_WRONLY, &fd) == 0);
	CHECK(fstat(fd, &sb) == 0);
	CHECK(sb.st_ino == file_ino && sb.st_size == 0 &&
	      (sb.st_mode & 07777) == 0600);
	/* a spare no more: a crash now would find a file being written */
	CHECK(!is_left(path));
	CHECK(write(fd, "new", 3) == 3);
	/* not complete until marked, as any new file */
	CHECK(staging_create(s, path, O_WRONLY, &(int){ 0 }) == EEXIST);
	CHECK(staging_mark_fd(fd, false) == 0);
	close(fd);

	/* landed in turn: the file it wrote is left again, the one it did
	 * not make is gone */
	land(s, dir, &again, 1);
	for (int i = 0; i < 500 && !spare_has(dir, 'D', dir_ino); i++)
		usleep(10000);
	CHECK(spare_has(dir, 'D', dir_ino));
	CHECK(left_has(dir, file_ino));

	/* a row holding a spare it did not use: the next mount drops it as
	 * no file of the row, and the row was not cut short */
	dir_back = false;
	for (int i = 200; i < 400 && !dir_back; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&again, s, name, &err), &err);
		staging_row_path(rp, sizeof(rp), s, again);
		CHECK(stat(rp, &sb) == 0);
		dir_back = sb.st_ino == dir_ino;
	}
	CHECK(dir_back);
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	CHECK(is_left(path));
	snprintf(path, sizeof(path), "%s/meta.json", rp);
	CHECK(!exists(path));
	write_file(s, again, "caption.txt", "kept");
	snprintf(path, sizeof(path), "%s/caption.txt", rp);
	CHECK((fd = open(path, O_RDONLY)) >= 0);
	CHECK(staging_mark_fd(fd, false) == 0);
	close(fd);
	/* and a spare taken by a create the crash cut before any write:
	 * that row was being written */
	CHECK_OK(staging_row_new(&row, s, "cut", &err), &err);
	staging_row_path(path, sizeof(path), s, row);
	strcat(path, "/image.jpg");
	CHECK((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	CHECK(futimens(fd, (struct timespec[2]){ { 0, UTIME_OMIT },
						 { 1700000000,
						   STAGING_SPARE_NSEC } }) == 0);
	close(fd);
	CHECK(is_left(path));
	CHECK(staging_create(s, path, O_WRONLY, &fd) == 0);
	close(fd);
	staging_free(s);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_clear_partial(&had, s, again, &err), &err);
	CHECK(!had);
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	CHECK(!exists(path));
	snprintf(path, sizeof(path), "%s/caption.txt", rp);
	CHECK(exists(path));
	CHECK_OK(staging_row_clear_partial(&had, s, row, &err), &err);
	CHECK(had);
	staging_free(s);
	harness_rm_rf(dir);
}

/* Rows listed by staging_rows. */
static int count_rows(void *ctx, uint64_t id, const char *name)
{
	(void)id;
	(void)name;
	(*(size_t *)ctx)++;
	return 0;
}

/* More landed rows than the pool holds, then a few more while it is
 * full and partly taken (its array wraps): rows made after still get
 * growing ids and empty folders of their own, and only they are
 * listed, never a folder waiting in the pool. */
TEST(spare_pool_wraps)
{
	enum { MANY = 4200, FEW = 20 };
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200];
	struct lc_err err = { 0 };
	struct staging *s;
	uint64_t *ids = malloc(MANY * sizeof(*ids)), prev = 0;
	size_t n = 0;

	CHECK(ids && mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	staging_allow_threads(s);
	for (int round = 0; round < 3; round++) {
		size_t rows = round == 1 ? FEW : MANY;

		for (size_t i = 0; i < rows; i++) {
			char name[32];
			struct stat sb;

			snprintf(name, sizeof(name), "r%d_%zu", round, i);
			CHECK_OK(staging_row_new(&ids[i], s, name, &err),
				 &err);
			CHECK(ids[i] > prev);
			prev = ids[i];
			staging_row_path(rp, sizeof(rp), s, ids[i]);
			CHECK(stat(rp, &sb) == 0 && sb.st_nlink == 2);
		}
		n = 0;
		CHECK_OK(staging_rows(s, count_rows, &n, &err), &err);
		CHECK_EQ_U64(n, rows);
		if (round < 2)
			land(s, dir, ids, rows);
	}
	staging_free(s);
	free(ids);
	harness_rm_rf(dir);
}

/* A file marked complete and written after (a descriptor its writer
 * still holds, passthrough writes the daemon never sees) was still being
 * written: the next mount drops it, as one never marked; marked again
 * after the write, it stays. */
TEST(written_after_its_close)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], path[4400];
	struct lc_err err = { 0 };
	struct stat sb;
	struct staging *s;
	uint64_t id;
	bool had;
	int fd;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&id, s, "r", &err), &err);
	staging_row_path(rp, sizeof(rp), s, id);
	snprintf(path, sizeof(path), "%s/caption.txt", rp);
	CHECK_OK(staging_create(s, path, O_WRONLY, &fd), &err);
	CHECK(write(fd, "one\n", 4) == 4);
	CHECK_OK(staging_mark_fd(fd, false), &err);	/* close(2) */
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(!had && exists(path));
	usleep(20 * 1000);	/* past a coarse clock's tick */
	CHECK(write(fd, "two\n", 4) == 4);
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(had && !exists(path));
	close(fd);

	CHECK_OK(staging_create(s, path, O_WRONLY, &fd), &err);
	CHECK(write(fd, "one\n", 4) == 4);
	CHECK_OK(staging_mark_fd(fd, false), &err);
	usleep(20 * 1000);
	CHECK(write(fd, "two\n", 4) == 4);
	CHECK_OK(staging_mark_fd(fd, false), &err);	/* the last close */
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(!had && exists(path));
	close(fd);

	/* the staging's own half-written copy of the row's kind (a crash
	 * in the middle of writing .row) is no file of the row */
	write_file(s, id, "..row.tmp", "FOLD");
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(!had);

	/* a committed file a commit copied into an update's folder, left
	 * by a crash before the commit ended: removed, and no partial
	 * write of the user's (the row showed it as written by the user) */
	write_file(s, id, "image.jpg", "JFIF");
	snprintf(path, sizeof(path), "%s/image.jpg", rp);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_OK(staging_mark_fill_fd(fd), &err);
	close(fd);
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(!had && !exists(path));

	/* an older lancefs's mark: the mode; kept, and marked the new way,
	 * so that a write after takes it off */
	write_file(s, id, "meta.json", "{}");
	snprintf(path, sizeof(path), "%s/meta.json", rp);
	CHECK(chmod(path, 0644) == 0);
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(!had && exists(path));
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	usleep(20 * 1000);
	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, " ", 1) == 1);
	close(fd);
	CHECK_OK(staging_row_clear_partial(&had, s, id, &err), &err);
	CHECK(had && !exists(path));
	staging_free(s);
	harness_rm_rf(dir);
}

TEST(default_dir)
{
	struct lc_err err = { 0 };
	char out[4096];

	setenv("XDG_STATE_HOME", "/state", 1);
	CHECK_OK(staging_default_dir(out, sizeof(out), "/data/photos.lance",
				     &err), &err);
	/* the name earlier releases gave it, so that their staged rows
	 * are found after an upgrade */
	CHECK_STR(out, "/state/lancefs/_data_photos.lance-eec2537bfb0cee91");
	/* another URI, another folder */
	{
		char other[4096];

		CHECK_OK(staging_default_dir(other, sizeof(other),
					     "s3://b/photos.lance", &err),
			 &err);
		CHECK(strcmp(out, other));
	}
	unsetenv("XDG_STATE_HOME");
}

/* Make the folder `dir` impossible to empty: a file in a subfolder that
 * cannot be unlinked (immutable, or for a user other than root a
 * subfolder without write permission). False where neither works. */
static bool unremovable(const char *dir, char *sub, size_t cap)
{
	char path[4400];
	int fd, flags = 0;

	snprintf(sub, cap, "%s/sub", dir);
	snprintf(path, sizeof(path), "%s/f", sub);
	if (mkdir(sub, 0700) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT, 0600)) < 0)
		return false;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags |= FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) {
			close(fd);
			return true;
		}
	}
	close(fd);
	return geteuid() != 0 && chmod(sub, 0500) == 0;
}

static void removable(const char *sub)
{
	char path[4400];
	int fd, flags = 0;

	chmod(sub, 0700);
	snprintf(path, sizeof(path), "%s/f", sub);
	fd = open(path, O_RDONLY);
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags &= ~FS_IMMUTABLE_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	if (fd >= 0)
		close(fd);
}

/* A removal cut short (a crash while a row's files go, here a file that
 * will not go) leaves no row behind, and succeeds: the row is gone once
 * its name is. Before, the folder kept its name while its .row and files
 * went one by one, and the next mount loaded what was left as a new row
 * (a reverted change came back as an empty row of the committed row's
 * name); a removal that failed there kept a row in memory that never
 * committed. */
TEST(removal_cut_short_leaves_no_row)
{
	char dir[] = "/tmp/lancefs-staging-XXXXXX", rp[4200], sub[4300];
	struct lc_err err = { 0 };
	struct staging_info info = { .kind = STAGING_UPDATE };
	struct staging *s;
	struct names n;
	uint64_t keep, gone;
	size_t nb;
	bool cut;

	CHECK(mkdtemp(dir));
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(staging_row_new(&keep, s, "kept", &err), &err);
	info.base.version = 1;
	CHECK_OK(staging_row_add(&gone, s, "cat_001", &info, &err), &err);
	write_file(s, gone, "image.jpg", "jpeg");
	staging_row_path(rp, sizeof(rp), s, gone);
	cut = unremovable(rp, sub, sizeof(sub));
	if (!cut)	/* nothing here to cut it short with */
		fprintf(stderr, "  (no immutable files here: removal whole)\n");
	CHECK_OK(staging_row_remove(s, gone, &err), &err);
	staging_free(s);
	CHECK_OK(staging_open(&s, dir, &err), &err);
	CHECK_OK(listed(s, &n, &nb, &err), &err);
	CHECK_STR(n.buf, "kept ");
	staging_free(s);
	if (cut)
		removable(sub);
	harness_rm_rf(dir);
}

TEST_MAIN(TEST_ENTRY(rows_and_batches), TEST_ENTRY(batch_ids_not_reused), TEST_ENTRY(landed_rows_leave_no_trace),
	  TEST_ENTRY(landed_records_go_when_commits_pause),
	  TEST_ENTRY(row_names),
	  TEST_ENTRY(killed_mid_commit), TEST_ENTRY(spare_inodes),
	  TEST_ENTRY(landed_rows_become_spares), TEST_ENTRY(spare_pool_wraps),
	  TEST_ENTRY(written_after_its_close), TEST_ENTRY(default_dir),
	  TEST_ENTRY(removal_cut_short_leaves_no_row))
