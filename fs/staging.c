/*
 * staging.c - the staging journal; see staging.h for the layout and the
 * recovery rule.
 */
#include "staging.h"

#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Spare inodes kept ready: open empty files and unnamed row folders the
 * filler makes, up to SPARE_FILES and SPARE_DIRS; and those of landed
 * rows, emptied and kept (files closed), up to SPARE_MAX of each. */
#define SPARE_FILES 64
#define SPARE_DIRS 32
#define SPARE_MAX 4096
/* Landed batches whose rows are out, waiting for a sync to forget them */
#define GONE_MAX 16
#define ID_SIZE sizeof(((struct staging_batch *)0)->uuid)

struct staging {
	char *dir;
	pthread_mutex_t mu;	/* protects next_id and the cleaner's state */
	uint64_t next_id;
	uint64_t last_row;	/* the newest row's id: ids only grow */
	atomic_bool no_xattr;	/* names go in .name files */
	atomic_int readers;	/* staging_reading */
	/* the cleaner: takes the rows of landed batches out of DIR/rows,
	 * off the committing thread, then forgets the batches */
	pthread_cond_t cv;
	pthread_t cleaner;
	bool threads_ok, cleaner_on, stopping;
	/* batches handed over, the first being taken; rows sorted, and no
	 * longer listed */
	struct staging_batch *landed;
	size_t n_landed, cap_landed;
	/* then their ids, until a sync makes the rows' removal durable:
	 * after a burst of commits, or GONE_MAX of them (forget_gone) */
	char gone[GONE_MAX][ID_SIZE];
	size_t n_gone;
	struct timespec last_take;	/* monotonic */
	bool draining;			/* drain waits: forget at once */
	/* spare inodes in DIR/spare, made ahead by the filler (take_spare) */
	pthread_cond_t spare_cv;
	pthread_t filler;
	int lock_fd;		/* DIR, flock()ed while open */
	bool filler_on, spare_off;
	bool holds;		/* staged rows or batches, when opened */
	bool keep;		/* DIR is the user's: stays when emptied */
	uint64_t spare_next;
	int spare_fd[SPARE_MAX];	/* -1: opened when taken */
	uint64_t spare_file[SPARE_MAX];
	/* row ids, ascending from spare_dir[dir_first]: taken from the
	 * front, and new ones (the largest ids, mostly) go at the end */
	uint64_t spare_dir[SPARE_MAX];
	size_t n_spare_files, n_spare_dirs, dir_first;
	/* spare files taken (linked into place), whose names in DIR/spare
	 * the filler removes */
	uint64_t taken[SPARE_MAX];
	size_t n_taken;
	/* rows committed with files open for writing, and how many
	 * (staging_row_writers); held_all: no room to count, so no
	 * landed folder is kept until the mount ends */
	struct held { uint64_t id; int n; } *held;
	size_t n_held, cap_held;
	bool held_all;
};

/* A row's name: an extended attribute of its folder (no inode to make
 * and free per row), or a .name file in it where the staging's file
 * system has no user attributes (and in staging older lancefs made). */
#define NAME_XATTR "user.lancefs.name"

#define MAX_BATCH_FILE (64u << 20)

static int mkdir_p(const char *path, struct lc_err *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return LC_USAGE(err, "%s: path too long", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = 0;
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return LC_SYS(err, errno, "staging: mkdir %s: "
					      "%s", buf, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno;
	lc_wait_begin();
	if (fsync(fd) < 0)
		rc = errno;
	lc_wait_end();
	close(fd);
	return rc;
}

/* The dataset URI the staging folder `dir` holds changes of (its file
 * "dataset") into had[cap]: false where it says none. */
static bool owner_of(const char *dir, char *had, size_t cap)
{
	char path[4300];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/dataset", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, had, cap - 1);
		close(fd);
	}
	if (n < 0)
		return false;
	had[n] = 0;
	return true;
}

int staging_default_root(char *out, size_t cap, struct lc_err *err)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg)
		snprintf(out, cap, "%s/lancefs", xdg);
	else if (geteuid() == 0)
		snprintf(out, cap, "/var/lib/lancefs");
	else if (home && *home)
		snprintf(out, cap, "%s/.local/state/lancefs", home);
	else
		return LC_USAGE(err, "no staging folder: set staging_dir=, "
				"XDG_STATE_HOME or HOME");
	return 0;
}

int staging_default_dir(char *out, size_t cap, const char *dataset_uri,
			struct lc_err *err)
{
	char base[3000], safe[200];
	/* FNV-1a from the start value every release named folders with */
	uint64_t h = lc_hash_str_from(1469598103934665603ull, dataset_uri);
	size_t k = 0;
	int rc;

	/* a readable tail of the URI, then the hash: unique and findable */
	for (const char *p = dataset_uri; *p && k < sizeof(safe) - 1; p++)
		safe[k++] = (*p >= 'a' && *p <= 'z') ||
				    (*p >= 'A' && *p <= 'Z') ||
				    (*p >= '0' && *p <= '9') || *p == '.' ||
				    *p == '-' ?
			    *p : '_';
	safe[k] = 0;
	if (k > 60)
		memmove(safe, safe + k - 60, 61);
	if ((rc = staging_default_root(base, sizeof(base), err)))
		return rc;
	if ((size_t)snprintf(out, cap, "%s/%s-%016" PRIx64, base, safe, h) >=
	    cap)
		return LC_USAGE(err, "staging folder name too long");
	return 0;
}

void staging_each(const char *root,
		  void (*f)(void *ctx, const char *dir, const char *dataset,
			    size_t rows),
		  void *ctx)
{
	char dir[4200], uri[4200], rows[4300];
	struct dirent *de;
	DIR *d = opendir(root);

	while (d && (de = readdir(d))) {
		struct dirent *re;
		size_t n = 0;
		DIR *r;

		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !owner_of(dir, uri, sizeof(uri)))
			continue;
		snprintf(rows, sizeof(rows), "%s/rows", dir);
		for (r = opendir(rows); r && (re = readdir(r));)
			n += strcmp(re->d_name, ".") && strcmp(re->d_name, "..");
		if (r)
			closedir(r);
		f(ctx, dir, uri, n);
	}
	if (d)
		closedir(d);
}

static int rm_cb(const char *path, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove folder `path` and what it holds: 0, or -1 with errno. */
static int remove_tree(const char *path)
{
	if (!rmdir(path) || errno == ENOENT)
		return 0;
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) == 0 ||
	       errno == ENOENT ? 0 : -1;
}

static int read_name(char *buf, size_t cap, const char *row_dir);

/* The newest row's id in rows_dir; the unnamed row folders made ahead
 * (a crash leaves them, empty or holding spares) are removed. */
static int scan_rows(uint64_t *max, const char *rows_dir)
{
	DIR *d = opendir(rows_dir);
	struct dirent *de;

	*max = 0;
	if (!d)
		return errno;
	while ((de = readdir(d))) {
		char path[4600], name[1100];
		char *end;
		uint64_t id;

		if (de->d_name[0] != 'R')
			continue;
		id = strtoull(de->d_name + 1, &end, 16);
		if (*end)
			continue;
		snprintf(path, sizeof(path), "%s/%s", rows_dir, de->d_name);
		if (read_name(name, sizeof(name), path) && !remove_tree(path))
			continue;
		if (id > *max)
			*max = id;
	}
	closedir(d);
	return 0;
}

static bool recycle(struct staging *s, int dfd, const char *name, bool file);
static int forget(struct staging *s, const char *uuids, size_t n,
		  struct lc_err *err);
static int sync_fs(const char *dir);
static int put_file(const char *dir, const char *name, const void *data,
		    size_t len, bool durable);

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Whether row `id` is in a landed batch handed to the cleaner (under
 * mu). */
static bool landed_row(const struct staging *s, uint64_t id)
{
	for (size_t i = 0; i < s->n_landed; i++) {
		const struct staging_batch *b = &s->landed[i];

		if (bsearch(&id, b->rows, b->n_rows, sizeof(id), cmp_u64))
			return true;
	}
	return false;
}

void staging_row_writers(struct staging *s, uint64_t id, int n)
{
	size_t k;

	pthread_mutex_lock(&s->mu);
	for (k = 0; k < s->n_held && s->held[k].id != id; k++)
		;
	if (k == s->n_held && n > 0) {
		if (k == s->cap_held) {
			size_t cap = k ? 2 * k : 8;
			struct held *v = lc_realloc(s->held, cap * sizeof(*v));

			if (v) {
				s->held = v;
				s->cap_held = cap;
			}
		}
		if (k < s->cap_held)
			s->held[s->n_held++] = (struct held){ id, 0 };
		else
			s->held_all = true;
	}
	if (k < s->n_held && (s->held[k].n += n) <= 0)
		s->held[k] = s->held[--s->n_held];
	pthread_mutex_unlock(&s->mu);
}

/* Whether row `id` still has files open for writing (mu not held). */
static bool row_held(struct staging *s, uint64_t id)
{
	bool yes;

	pthread_mutex_lock(&s->mu);
	yes = s->held_all;
	for (size_t k = 0; k < s->n_held && !yes; k++)
		yes = s->held[k].id == id;
	pthread_mutex_unlock(&s->mu);
	return yes;
}

/* Whether a landed row's folder becomes a spare with its files in it
 * (see leave_spare). */
static bool keep_files(struct staging *s)
{
	bool ok;

	if (atomic_load(&s->readers))
		return false;	/* a reader may hold one of them */
	pthread_mutex_lock(&s->mu);
	ok = s->filler_on && !s->spare_off && s->n_spare_dirs < SPARE_MAX;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* The file's mtime: this second (`before`: the one before) and `nsec`
 * nanoseconds, which mark what the file is (MARK_NSEC complete,
 * STAGING_SPARE_NSEC spare, STAGING_FILL_NSEC a commit's copy; a mark's
 * second is the one before: a time in the future makes ls -l show a
 * year and make warn of clock skew). 0, or an errno. */
static int stamp(int fd, bool before, long nsec)
{
	struct timespec t[2] = { { 0, UTIME_OMIT } };

	clock_gettime(CLOCK_REALTIME, &t[1]);
	t[1].tv_sec -= before;
	t[1].tv_nsec = nsec;
	return futimens(fd, t) < 0 ? errno : 0;
}

/*
 * Leave the file `name` of a landed row (in dfd) in its folder, emptied
 * and marked spare: the next row that folder holds makes its file of
 * that name by opening it (staging_create), and a cp -r of folders
 * alike (image.jpg and meta.json in each) makes no file and moves none
 * once its first rows have landed. False where the file goes instead: a
 * spare the last row left and this one did not use, or an error.
 */
static bool leave_spare(int dfd, const char *name)
{
	struct stat sb;
	bool ok;
	int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	ok = !fstat(fd, &sb) && !staging_is_spare(&sb) && !ftruncate(fd, 0) &&
	     !stamp(fd, false, STAGING_SPARE_NSEC);
	close(fd);
	return ok;
}

/* Remove the folder `name` of row `id` from DIR/rows (dfd): the folder
 * becomes a spare while the pool has room, its files left in it as
 * spares, or else they become spare files; unless a file of it is still
 * open for writing (staging_row_writers). False when something of it is
 * left. */
static bool empty_row(struct staging *s, int dfd, const char *name,
		      uint64_t id)
{
	char path[4500];
	struct dirent *fe;
	bool held = row_held(s, id), empty = true;
	bool keep = !held && keep_files(s);
	DIR *r;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				      O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT;
	if (!(r = fdopendir(fd))) {
		close(fd);
		return false;
	}
	while ((fe = readdir(r))) {
		const char *f = fe->d_name;

		if (!strcmp(f, ".") || !strcmp(f, ".."))
			continue;
		if (fe->d_type == DT_REG && !staging_own_file(f) && !held &&
		    (keep ? leave_spare(dirfd(r), f) :
			    recycle(s, dirfd(r), f, true)))
			continue;
		if (unlinkat(dirfd(r), f, 0) < 0)
			empty = false;
	}
	closedir(r);
	if (empty && !held && recycle(s, dfd, name, false))
		return true;
	snprintf(path, sizeof(path), "%s/rows/%s", s->dir, name);
	return !remove_tree(path);
}

/* Take the rows of a landed batch out of DIR/rows. Its record goes only
 * once that is on disk (sync_then_forget): until then recovery finds the
 * batch landed and takes out what is left. */
static int take_rows(struct staging *s, const struct staging_batch *b,
		     struct lc_err *err)
{
	char dir[4200];
	bool all = true;
	int dfd;

	snprintf(dir, sizeof(dir), "%s/rows", s->dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return LC_SYS(err, errno, "staging: %s: %s", dir,
			      strerror(errno));
	for (size_t i = 0; i < b->n_rows; i++) {
		char name[24];

		snprintf(name, sizeof(name), "R%016" PRIx64, b->rows[i]);
		all = empty_row(s, dfd, name, b->rows[i]) && all;
	}
	close(dfd);
	if (!all)
		return LC_SYS(err, EIO, "staging: %s: rows of batch %s could "
			      "not be removed", dir, b->uuid);
	return 0;
}

/* Sync the staging, then forget batches whose rows are out. */
static int sync_then_forget(struct staging *s, const char *uuids, size_t n,
			    struct lc_err *err)
{
	int rc = sync_fs(s->dir);

	if (rc)
		return LC_SYS(err, rc, "staging: %s: %s", s->dir,
			      strerror(rc));
	return forget(s, uuids, n, err);
}

/* Forget the batches in s->gone (under mu, which it lets go). One sync
 * for many: the staging's file system writes back everything dirty in
 * it, and during a cp -r that is the files of rows about to commit,
 * which would otherwise never reach the disk (writes.c sync_due). */
static void forget_gone(struct staging *s)
{
	char ids[GONE_MAX][ID_SIZE];
	size_t n = s->n_gone;
	struct lc_err err = { 0 };

	memcpy(ids, s->gone, n * sizeof(*ids));
	pthread_mutex_unlock(&s->mu);
	/* a failure leaves the records to the next mount's recovery,
	 * which finds their rows out */
	if (sync_then_forget(s, ids[0], n, &err))
		syslog(LOG_WARNING, "%s (the next mount retries)", err.msg);
	pthread_mutex_lock(&s->mu);
	s->n_gone = 0;
}

static void *cleaner_main(void *arg)
{
	struct staging *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		bool quiet = !s->n_landed &&
			     (s->stopping || s->draining ||
			      lc_since(&s->last_take) >= STAGING_SYNC_AFTER);

		if (s->n_gone && (s->n_gone == GONE_MAX || quiet)) {
			forget_gone(s);
			pthread_cond_broadcast(&s->cv);
			continue;
		}
		if (s->n_landed) {
			/* the first stays in the list while it is taken,
			 * so that its rows are not listed */
			struct staging_batch b = s->landed[0];
			struct lc_err err = { 0 };
			int rc;

			pthread_mutex_unlock(&s->mu);
			/* a failure leaves the batch to the next mount's
			 * recovery */
			if ((rc = take_rows(s, &b, &err)))
				syslog(LOG_WARNING, "%s (the next mount "
				       "retries)", err.msg);
			pthread_mutex_lock(&s->mu);
			if (!rc)
				memcpy(s->gone[s->n_gone++], b.uuid, ID_SIZE);
			clock_gettime(CLOCK_MONOTONIC, &s->last_take);
			staging_batch_reset(&s->landed[0]);
			memmove(s->landed, s->landed + 1,
				--s->n_landed * sizeof(*s->landed));
			pthread_cond_broadcast(&s->cv);
			continue;
		}
		if (s->stopping)
			break;
		if (s->n_gone) {
			struct timespec t;

			clock_gettime(CLOCK_REALTIME, &t);
			lc_add_secs(&t, STAGING_SYNC_AFTER);
			pthread_cond_timedwait(&s->cv, &s->mu, &t);
		} else {
			pthread_cond_wait(&s->cv, &s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Wait until the cleaner has taken every landed batch's rows and
 * forgotten the batches. */
static void drain(struct staging *s)
{
	pthread_mutex_lock(&s->mu);
	s->draining = true;
	pthread_cond_broadcast(&s->cv);
	while (s->cleaner_on && (s->n_landed || s->n_gone))
		pthread_cond_wait(&s->cv, &s->mu);
	s->draining = false;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Spare inodes. A file system makes an inode slowly (ext4 without a
 * journal more slowly still after many deletes), and a mkdir or create
 * through the mount waits for it. So a thread of its own, the filler,
 * keeps empty files ready in DIR/spare, and a staged file is one of them
 * linked into place (the filler removes its spare name later); and keeps
 * row folders ready in DIR/rows, with the next ids and no name yet, and
 * a new row is the oldest of them, named (a rename would cost more). A
 * spare file is open and unmarked: incomplete, as staging.h wants a
 * new file; an unnamed row is no row (staging_rows). The folders of
 * landed rows come back as spare folders with their files left in them
 * (leave_spare), and a file of a name found there is that one: no link,
 * and nothing for the filler to remove. A crash leaves spares (and
 * spare names of staged files) behind; the next staging_open removes
 * them.
 */
static void spare_path(char *out, size_t cap, const struct staging *s,
		       char kind, uint64_t n)
{
	snprintf(out, cap, "%s/spare/%c%016" PRIx64, s->dir, kind, n);
}

/* Put a spare file (its fd, or -1) or unnamed row folder in the pool
 * (under mu), or remove it when the pool is full, spares are off, or a
 * newer row was made meanwhile (a row's id must be newer than every
 * row made before it). */
static void spare_return(struct staging *s, uint64_t n, bool file, int fd)
{
	char path[4200];
	size_t k;

	if (file && !s->spare_off && s->n_spare_files < SPARE_MAX) {
		s->spare_fd[s->n_spare_files] = fd;
		s->spare_file[s->n_spare_files++] = n;
	} else if (!file && !s->spare_off && s->n_spare_dirs < SPARE_MAX &&
		   n > s->last_row) {
		uint64_t *v = s->spare_dir;

		if (s->dir_first + s->n_spare_dirs == SPARE_MAX) {
			memmove(v, v + s->dir_first, s->n_spare_dirs * sizeof(*v));
			s->dir_first = 0;
		}
		for (k = s->dir_first + s->n_spare_dirs;
		     k > s->dir_first && v[k - 1] > n; k--)
			v[k] = v[k - 1];
		v[k] = n;
		s->n_spare_dirs++;
	} else if (file) {
		spare_path(path, sizeof(path), s, 'F', n);
		if (fd >= 0)
			close(fd);
		unlink(path);
	} else {
		staging_row_path(path, sizeof(path), s, n);
		(void)remove_tree(path);
	}
}

/* Remove the names in DIR/spare of the spare files taken so far (under
 * mu, which it lets go for each). */
static void unlink_taken(struct staging *s)
{
	char path[4200];

	while (s->n_taken) {
		spare_path(path, sizeof(path), s, 'F', s->taken[--s->n_taken]);
		pthread_mutex_unlock(&s->mu);
		unlink(path);
		pthread_mutex_lock(&s->mu);
	}
}

static void *filler_main(void *arg)
{
	struct staging *s = arg;
	char path[4200];

	snprintf(path, sizeof(path), "%s/spare", s->dir);
	(void)mkdir(path, 0700);
	pthread_mutex_lock(&s->mu);
	while (!s->stopping && !s->spare_off) {
		bool file = s->n_spare_files < SPARE_FILES;
		bool dir = s->n_spare_dirs < SPARE_DIRS, ok;
		uint64_t n;
		int fd = -1;

		if (s->n_taken >= SPARE_FILES / 2) {
			unlink_taken(s);
			continue;
		}
		if (!file && !dir) {
			if (s->n_taken) {
				/* names of taken spares go in runs, but
				 * within a moment */
				struct timespec t;

				clock_gettime(CLOCK_REALTIME, &t);
				lc_add_secs(&t, 0.05);
				pthread_cond_timedwait(&s->spare_cv, &s->mu,
						       &t);
				unlink_taken(s);
			} else {
				pthread_cond_wait(&s->spare_cv, &s->mu);
			}
			continue;
		}
		/* a row folder usually gets two files or more */
		if (file && dir)
			file = s->n_spare_files <= 2 * s->n_spare_dirs;
		n = file ? s->spare_next++ : s->next_id++;
		pthread_mutex_unlock(&s->mu);
		if (file) {
			spare_path(path, sizeof(path), s, 'F', n);
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				  0600);
			ok = fd >= 0;
		} else {
			staging_row_path(path, sizeof(path), s, n);
			ok = mkdir(path, 0700) == 0;
		}
		pthread_mutex_lock(&s->mu);
		if (!ok) {	/* a full disk, say: try at the next take */
			pthread_cond_wait(&s->spare_cv, &s->mu);
			continue;
		}
		spare_return(s, n, file, fd);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/*
 * Make a landed row's file or folder (`name` in dfd) a spare, emptied,
 * while spares are in use and the pool has room: false where it is not
 * taken. An inode renamed costs less than one made and one freed, and
 * ext4 without a journal, making one, scans past every inode freed in
 * the last seconds (with the frees, a sixth of the daemon's time in a
 * cp -r of thousands of folders).
 */
static bool recycle(struct staging *s, int dfd, const char *name, bool file)
{
	char to[4200];
	uint64_t n;
	bool ok;
	int fd;

	if (file && atomic_load(&s->readers))
		return false;	/* a reader may hold this one */
	pthread_mutex_lock(&s->mu);
	ok = s->filler_on && !s->spare_off &&
	     (file ? s->n_spare_files : s->n_spare_dirs) < SPARE_MAX;
	n = !ok ? 0 : file ? s->spare_next++ : s->next_id++;
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		return false;
	fd = openat(dfd, name, (file ? O_WRONLY : O_RDONLY | O_DIRECTORY) |
				       O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* as the filler makes them: a file empty and incomplete (unmarked),
	 * a folder unnamed */
	if (file)
		ok = !ftruncate(fd, 0) && !staging_mark_fd(fd, true);
	else
		ok = !fremovexattr(fd, NAME_XATTR) || errno == ENODATA ||
		     errno == ENOTSUP;
	close(fd);
	if (file)
		spare_path(to, sizeof(to), s, 'F', n);
	else
		staging_row_path(to, sizeof(to), s, n);
	if (!ok || renameat(dfd, name, AT_FDCWD, to))
		return false;
	pthread_mutex_lock(&s->mu);
	spare_return(s, n, file, -1);
	pthread_mutex_unlock(&s->mu);
	return true;
}

/* The spare file n, at `from`, is in place under another name: its
 * spare name goes to the filler to remove, or now. */
static void spare_taken(struct staging *s, uint64_t n, const char *from)
{
	bool queued = false;

	pthread_mutex_lock(&s->mu);
	if (s->filler_on && s->n_taken < SPARE_MAX) {
		s->taken[s->n_taken++] = n;
		queued = true;
		/* the first starts the filler's clock, and many make a run */
		if (s->n_taken == 1 || s->n_taken >= SPARE_FILES / 2)
			pthread_cond_signal(&s->spare_cv);
	}
	pthread_mutex_unlock(&s->mu);
	if (!queued)
		unlink(from);
}

/* Start the filler once threads may run (under mu): false where spares
 * are not used. */
static bool spares_on(struct staging *s)
{
	if (!s->threads_ok || s->spare_off || s->stopping)
		return false;
	if (!s->filler_on) {
		if (lc_thread_start(&s->filler, "lancefs spares", filler_main,
				    s))
			s->spare_off = true;
		else
			s->filler_on = true;
	}
	return !s->spare_off;
}

/* Link a spare file to `path`, which must not exist; *fd gets it: 0,
 * EEXIST, or -1 when there is no spare and the caller makes the file
 * itself. */
static int take_spare(struct staging *s, const char *path, int *fd)
{
	char from[4200];
	uint64_t n;
	int sfd, rc;

	pthread_mutex_lock(&s->mu);
	if (!spares_on(s) || !s->n_spare_files) {
		pthread_cond_signal(&s->spare_cv);
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	n = s->spare_file[--s->n_spare_files];
	sfd = s->spare_fd[s->n_spare_files];
	/* the filler refills in runs, woken at half and not at each take:
	 * a wake-up per file costs more than the file on some machines */
	if (s->n_spare_files <= SPARE_FILES / 2)
		pthread_cond_signal(&s->spare_cv);
	pthread_mutex_unlock(&s->mu);
	spare_path(from, sizeof(from), s, 'F', n);
	/* linked into place, its spare name removed later by the filler: a
	 * rename would wait for DIR/spare, which the filler holds while it
	 * makes an inode, and costs more than a link */
	if (!linkat(AT_FDCWD, from, AT_FDCWD, path, 0)) {
		spare_taken(s, n, from);
		if (sfd < 0 &&
		    (sfd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			unlink(path);	/* a landed row's: the caller makes one */
			return -1;
		}
		*fd = sfd;
		(void)futimens(sfd, NULL);	/* made now, for ls -l */
		return 0;
	}
	rc = errno;
	pthread_mutex_lock(&s->mu);
	if (rc == EPERM)	/* no hard links here */
		s->spare_off = true;
	spare_return(s, n, true, sfd);
	pthread_mutex_unlock(&s->mu);
	/* anything else (a folder gone, a full disk) the caller's own
	 * create meets too, and reports */
	return rc == EEXIST ? EEXIST : -1;
}

/* Whether row `id`'s folder is one made ahead, unnamed, in the pool.
 * Under mu. */
static bool made_ahead(const struct staging *s, uint64_t id)
{
	const uint64_t *v = s->spare_dir + s->dir_first;

	return bsearch(&id, v, s->n_spare_dirs, sizeof(*v), cmp_u64) != NULL;
}

/* The id of a new row, whose folder the filler made already (0) or the
 * caller makes (-1). Ids grow in the order rows are made. */
static int take_row(struct staging *s, uint64_t *id)
{
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (spares_on(s) && s->n_spare_dirs) {
		*id = s->spare_dir[s->dir_first++];
		if (!--s->n_spare_dirs)
			s->dir_first = 0;
		rc = 0;
		if (s->n_spare_dirs <= SPARE_DIRS / 2)
			pthread_cond_signal(&s->spare_cv);
	} else {
		*id = s->next_id++;
		pthread_cond_signal(&s->spare_cv);
	}
	s->last_row = *id;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Stop making spares and remove those made. */
static void spares_stop(struct staging *s)
{
	char path[4200];
	bool on;

	pthread_mutex_lock(&s->mu);
	s->spare_off = true;
	pthread_cond_broadcast(&s->spare_cv);
	on = s->filler_on;
	s->filler_on = false;
	pthread_mutex_unlock(&s->mu);
	if (on)
		pthread_join(s->filler, NULL);
	pthread_mutex_lock(&s->mu);
	unlink_taken(s);
	pthread_mutex_unlock(&s->mu);
	while (s->n_spare_files) {
		size_t k = --s->n_spare_files;

		if (s->spare_fd[k] >= 0)
			close(s->spare_fd[k]);
		spare_path(path, sizeof(path), s, 'F', s->spare_file[k]);
		unlink(path);
	}
	while (s->n_spare_dirs) {
		staging_row_path(path, sizeof(path), s,
				 s->spare_dir[s->dir_first + --s->n_spare_dirs]);
		(void)remove_tree(path);
	}
	s->dir_first = 0;
	snprintf(path, sizeof(path), "%s/spare", s->dir);
	rmdir(path);
}

/* Open the spare left at `path` by the folder's last row (leave_spare),
 * which becomes the new file: 0, ENOENT where there is none, EEXIST
 * where something that is no spare is there, or another errno. */
static int take_left(const char *path, int flags, int *fd)
{
	struct stat sb;

	*fd = open(path, O_RDWR | (flags & O_APPEND) | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return errno == EISDIR || errno == ELOOP ? EEXIST : errno;
	if (!fstat(*fd, &sb) && staging_is_spare(&sb)) {
		/* made now, for ls -l; and a spare no more, so that a crash
		 * before its first write finds a file being written */
		(void)futimens(*fd, NULL);
		return 0;
	}
	close(*fd);
	*fd = -1;
	return EEXIST;
}

int staging_create(struct staging *s, const char *path, int flags, int *fd)
{
	int rc = take_left(path, flags, fd);

	if (rc != ENOENT)
		return rc;
	rc = take_spare(s, path, fd);
	if (rc > 0)
		return rc;
	if (!rc && (flags & O_APPEND) && fcntl(*fd, F_SETFL, O_APPEND) < 0) {
		rc = errno;
		close(*fd);
		*fd = -1;
		unlink(path);
	}
	if (rc >= 0)
		return rc;
	*fd = open(path, (flags & (O_ACCMODE | O_APPEND)) | O_CREAT | O_EXCL |
				 O_CLOEXEC, 0600);
	return *fd < 0 ? errno : 0;
}

/*
 * Whether the locked folder s->dir is a staging already (one lancefs
 * made, or one the user's folder became: DIR/kept), or empty: then,
 * unless `made` now, it was there before, the user's (a staging_dir=
 * made for lancefs), and stays, emptied, when the staging is gone
 * (staging_remove_if_empty). A folder holding anything else is refused:
 * lancefs would take its files for its own.
 */
static int take_folder(struct staging *s, bool made, struct lc_err *err)
{
	static const char *const ours[] = { "dataset", "rows", "batches",
					    "kept", "spare", "trash" };
	struct dirent *de;
	DIR *d = opendir(s->dir);
	bool staging = false, other = false, kept = false;

	if (!d)
		return LC_SYS(err, errno, "staging: %s: %s", s->dir,
			      strerror(errno));
	while ((de = readdir(d))) {
		bool known = false;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (size_t i = 0; i < sizeof(ours) / sizeof(*ours); i++) {
			size_t n = strlen(ours[i]);
			const char *t = de->d_name;

			/* or put_file's temporary, left by a crash */
			known = known || !strcmp(t, ours[i]) ||
				(t[0] == '.' && !strncmp(t + 1, ours[i], n) &&
				 !strcmp(t + 1 + n, ".tmp"));
		}
		kept = kept || !strcmp(de->d_name, "kept");
		staging = staging || known;
		other = other || !known;
	}
	closedir(d);
	if (other && !staging)
		return LC_USAGE(err, "staging folder %s holds files of its "
				"own: give staging_dir= an empty or new "
				"folder", s->dir);
	if (!staging && !made) {
		int rc = put_file(s->dir, "kept", "", 0, true);

		if (rc)
			return LC_SYS(err, rc, "staging: %s/kept: %s", s->dir,
				      strerror(rc));
		kept = true;
	}
	s->keep = kept;
	return 0;
}

int staging_open(struct staging **out, const char *dir, struct lc_err *err)
{
	struct staging *s;
	char path[4200];
	bool made;
	int rc;

	*out = NULL;
	s = lc_calloc(1, sizeof(*s));
	if (!s || !(s->dir = lc_strdup(dir))) {
		lc_free(s);
		return LC_NOMEM(err);
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->spare_cv, NULL);
	atomic_init(&s->no_xattr, false);
	atomic_init(&s->readers, 0);
	s->lock_fd = -1;
	made = access(dir, F_OK) < 0;
	rc = mkdir_p(dir, err);
	/* one mount at a time: a second would clear the first's spares,
	 * recover its batches and commit its rows (the lock goes with the
	 * process, however it ends) */
	if (!rc && ((s->lock_fd = open(dir, O_RDONLY | O_DIRECTORY |
						  O_CLOEXEC)) < 0 ||
		    flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0))
		rc = errno == EWOULDBLOCK ?
			     LC_USAGE(err, "staging folder %s is in use by "
				      "another mount (unmount it, or give "
				      "this one its own staging_dir=; a mount "
				      "detached while busy keeps it until "
				      "nothing uses it)", dir) :
			     LC_SYS(err, errno, "staging: %s: %s", dir,
				    strerror(errno));
	if (!rc)
		rc = take_folder(s, made, err);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/rows", dir);
		rc = mkdir_p(path, err);
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/batches", dir);
		rc = mkdir_p(path, err);
	}
	if (!rc) {
		/* the spares a crash left, and the folder of landed rows
		 * older versions kept */
		snprintf(path, sizeof(path), "%s/spare", dir);
		(void)remove_tree(path);
		snprintf(path, sizeof(path), "%s/trash", dir);
		(void)remove_tree(path);
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/rows", dir);
		rc = scan_rows(&s->next_id, path);
		if (rc)
			rc = LC_SYS(err, rc, "staging: %s: %s", path,
				    strerror(rc));
		s->holds = s->next_id > 0;
	}
	if (!rc) {
		/* nor an id a batch record names, whose row went (rm -r
		 * while its commit's outcome was unknown): a new row under
		 * it would be taken for that batch's */
		struct staging_batch *bs = NULL;
		size_t nb = 0;

		rc = staging_batches(&bs, &nb, s, err);
		s->holds = s->holds || nb;
		for (size_t i = 0; i < nb; i++) {
			for (size_t k = 0; k < bs[i].n_rows; k++)
				if (bs[i].rows[k] > s->next_id)
					s->next_id = bs[i].rows[k];
			staging_batch_reset(&bs[i]);
		}
		lc_free(bs);
		s->next_id++;
	}
	if (rc) {
		staging_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int staging_claim(struct staging *s, const char *dataset,
		  struct lc_err *err)
{
	char path[4200], had[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/dataset", s->dir);
	if (owner_of(s->dir, had, sizeof(had))) {
		if (!strcmp(had, dataset))
			return 0;
		if (s->holds)
			return LC_USAGE(err, "staging folder %s holds staged "
					"changes of %s, not of %s: mount that "
					"dataset to commit them, or give this "
					"mount another staging_dir=", s->dir,
					had, dataset);
	}
	/* a staging older lancefs made is taken as the dataset's */
	rc = put_file(s->dir, "dataset", dataset, strlen(dataset), true);
	return rc ? LC_SYS(err, rc, "staging: %s: %s", path, strerror(rc)) :
		    0;
}

void staging_free(struct staging *s)
{
	if (!s)
		return;
	spares_stop(s);
	if (s->cleaner_on) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->cleaner, NULL);
	}
	lc_free(s->landed);	/* the cleaner took every batch */
	lc_free(s->held);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->spare_cv);
	pthread_mutex_destroy(&s->mu);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	lc_free(s->dir);
	lc_free(s);
}

void staging_allow_threads(struct staging *s)
{
	pthread_mutex_lock(&s->mu);
	s->threads_ok = true;
	pthread_mutex_unlock(&s->mu);
}

const char *staging_dir(const struct staging *s)
{
	return s->dir;
}

void staging_row_path(char *out, size_t cap, const struct staging *s,
		      uint64_t id)
{
	snprintf(out, cap, "%s/rows/R%016" PRIx64, s->dir, id);
}

/* Read a row's name into buf; 0 or an errno. */
static int read_name(char *buf, size_t cap, const char *row_dir)
{
	char path[4300];
	ssize_t n;
	int fd;

	n = getxattr(row_dir, NAME_XATTR, buf, cap - 1);
	if (n > 0) {
		buf[n] = 0;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/.name", row_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = 0;
	return 0;
}

struct find_ctx {
	const char *name;
	uint64_t id;
	bool found;
};

static int find_cb(void *ctx, uint64_t id, const char *name)
{
	struct find_ctx *f = ctx;

	if (strcmp(name, f->name))
		return 0;
	f->id = id;
	f->found = true;
	return 1;
}

int staging_row_find(uint64_t *id, struct staging *s, const char *name)
{
	struct find_ctx f = { name, 0, false };
	int rc = staging_rows(s, find_cb, &f, NULL);

	if (rc && rc != 1)
		return rc;
	if (!f.found)
		return ENOENT;
	*id = f.id;
	return 0;
}

/* Write `len` bytes to DIR/NAME through a temp file (.NAME.tmp) and a
 * rename: a crash leaves the old file or the new one. `durable` also
 * syncs the file and the folder; otherwise the writes thread syncs the
 * staging's file system when what was closed waits uncommitted
 * (STAGING_SYNC_AFTER: one syncfs, not one per file). */
static int put_file(const char *dir, const char *name, const void *data,
		    size_t len, bool durable)
{
	char tmp[4400], path[4400];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	lc_wait_begin();
	if (write(fd, data, len) != (ssize_t)len ||
	    (durable && fsync(fd) < 0))
		rc = errno ? errno : EIO;
	lc_wait_end();
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = errno;
	if (!rc && durable)
		rc = sync_dir(dir);
	if (rc)
		unlink(tmp);
	return rc;
}

/* syncfs(2) of the file system holding `dir`: 0 or an errno. */
static int sync_fs(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno;
	if (syncfs(fd) < 0)
		rc = errno;
	close(fd);
	return rc;
}

static const char *const kind_names[] = { "folder", "file", "update",
					  "delete" };

/* Removed file names are written with '%' and newlines escaped. */
static int info_text(struct lc_buf *b, const struct staging_info *i,
		     struct lc_err *err)
{
	int rc = lc_buf_printf(b, err, "lancefs-row 1\nkind %s\n",
			       kind_names[i->kind]);

	if (!rc && (i->kind == STAGING_UPDATE || i->kind == STAGING_DELETE))
		rc = lc_buf_printf(b, err, "base %" PRIu64 " %" PRIu64 " %"
				   PRIu64 "\n", i->base.version,
				   i->base.fragment_id, i->base.offset);
	if (!rc && i->base.key && (i->kind == STAGING_UPDATE ||
				   i->kind == STAGING_DELETE))
		rc = lc_buf_printf(b, err, "key %" PRIu64 "\n", i->base.key);
	for (size_t k = 0; !rc && k < i->n_removed; k++) {
		rc = lc_buf_printf(b, err, "removed ");
		for (const char *p = i->removed[k]; !rc && *p; p++)
			rc = *p == '%' || *p == '\n' ?
				     lc_buf_printf(b, err, "%%%02x",
						   (unsigned)(uint8_t)*p) :
				     lc_buf_append(b, p, 1, err);
		if (!rc)
			rc = lc_buf_append(b, "\n", 1, err);
	}
	if (!rc && i->interrupted)
		rc = lc_buf_printf(b, err, "interrupted\n");
	return rc;
}

static int add_removed(struct staging_info *i, const char *name, size_t n)
{
	char **v = lc_realloc(i->removed, (i->n_removed + 1) * sizeof(*v));
	char *c;
	size_t k = 0;

	if (!v)
		return ENOMEM;
	i->removed = v;
	c = lc_malloc(n + 1);
	if (!c)
		return ENOMEM;
	for (size_t j = 0; j < n; j++) {
		unsigned x;

		if (name[j] == '%' && j + 2 < n &&
		    sscanf(name + j + 1, "%2x", &x) == 1) {
			c[k++] = (char)x;
			j += 2;
		} else {
			c[k++] = name[j];
		}
	}
	c[k] = 0;
	i->removed[i->n_removed++] = c;
	return 0;
}

static int parse_info(struct staging_info *out, char *text)
{
	char *line, *save = NULL;
	bool first = true;

	memset(out, 0, sizeof(*out));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			if (strcmp(line, "lancefs-row 1"))
				return EINVAL;
			first = false;
		} else if (!strncmp(line, "kind ", 5)) {
			size_t k;

			for (k = 0; k < 4; k++)
				if (!strcmp(line + 5, kind_names[k]))
					break;
			if (k == 4)
				return EINVAL;
			out->kind = (enum staging_kind)k;
		} else if (!strncmp(line, "base ", 5)) {
			uint64_t number;	/* older records: not used */

			if (sscanf(line + 5, "%" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64, &out->base.version,
				   &out->base.fragment_id, &out->base.offset,
				   &number) < 3)
				return EINVAL;
		} else if (!strncmp(line, "key ", 4)) {
			if (sscanf(line + 4, "%" SCNu64, &out->base.key) != 1)
				return EINVAL;
		} else if (!strncmp(line, "removed ", 8)) {
			if (add_removed(out, line + 8, strlen(line + 8)))
				return ENOMEM;
		} else if (!strcmp(line, "interrupted")) {
			out->interrupted = true;
		}
	}
	return first ? EINVAL : 0;
}

void staging_info_reset(struct staging_info *i)
{
	for (size_t k = 0; k < i->n_removed; k++)
		lc_free(i->removed[k]);
	lc_free(i->removed);
	memset(i, 0, sizeof(*i));
}

int staging_info_copy(struct staging_info *dst, const struct staging_info *src,
		      struct lc_err *err)
{
	*dst = *src;
	dst->removed = NULL;
	dst->n_removed = 0;
	for (size_t k = 0; k < src->n_removed; k++) {
		char **v = lc_realloc(dst->removed, (k + 1) * sizeof(*v));

		if (!v || !(v[k] = lc_strdup(src->removed[k]))) {
			if (v)
				dst->removed = v;
			staging_info_reset(dst);
			return LC_NOMEM(err);
		}
		dst->removed = v;
		dst->n_removed = k + 1;
	}
	return 0;
}

int staging_row_info(struct staging_info *out, const struct staging *s,
		     uint64_t id, struct lc_err *err)
{
	char path[4400];
	char *text;
	struct stat sb;
	FILE *f;
	int rc;

	memset(out, 0, sizeof(*out));
	staging_row_path(path, sizeof(path), s, id);
	strcat(path, "/.row");
	f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? 0 :
		       LC_SYS(err, errno, "staging: %s: %s", path,
			      strerror(errno));
	if (fstat(fileno(f), &sb) < 0 || sb.st_size > MAX_BATCH_FILE) {
		fclose(f);
		return LC_CORRUPT(err, "staging: %s: too big", path);
	}
	text = lc_malloc((size_t)sb.st_size + 1);
	if (!text) {
		fclose(f);
		return LC_NOMEM(err);
	}
	text[fread(text, 1, (size_t)sb.st_size, f)] = 0;
	fclose(f);
	rc = parse_info(out, text);
	lc_free(text);
	if (rc) {
		staging_info_reset(out);
		return rc == ENOMEM ? LC_NOMEM(err) :
		       LC_CORRUPT(err, "staging: %s: not a row record", path);
	}
	return 0;
}

int staging_row_set_info(struct staging *s, uint64_t id,
			 const struct staging_info *info, struct lc_err *err)
{
	char dir[4200];
	struct lc_buf b;
	int rc;

	staging_row_path(dir, sizeof(dir), s, id);
	lc_buf_init(&b, 0);
	rc = info_text(&b, info, err);
	if (!rc && (rc = put_file(dir, ".row", b.data, b.len, false)))
		rc = LC_SYS(err, rc, "staging: %s/.row: %s", dir,
			    strerror(rc));
	lc_buf_reset(&b);
	return rc;
}

/* Name a new row folder: 0 or an errno. */
static int name_row(struct staging *s, const char *dir, const char *name)
{
	size_t len = strlen(name);
	char path[4300];
	int fd, rc;

	if (!atomic_load(&s->no_xattr)) {
		if (!setxattr(dir, NAME_XATTR, name, len, XATTR_CREATE))
			return 0;
		if (errno == ENOTSUP || errno == EOPNOTSUPP)
			atomic_store(&s->no_xattr, true);
		else if (errno != ERANGE && errno != E2BIG && errno != ENOSPC)
			return errno;
		/* too long for an attribute there: this row's goes in a
		 * file */
	}
	/* the folder is new: one write(2) of the name, no temp file (a
	 * kill -9 cannot split a write; power loss is what the writes
	 * thread's syncs are for) */
	snprintf(path, sizeof(path), "%s/.name", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	rc = fd < 0 ? errno : write(fd, name, len) != (ssize_t)len ?
			      (errno ? errno : EIO) : 0;
	if (fd >= 0)
		close(fd);
	return rc;
}

int staging_row_rename(struct staging *s, uint64_t id, const char *name,
		       const char *file, struct lc_err *err)
{
	char dir[4200], path[4300], from[4500], to[4500];
	int rc = 0;

	staging_row_path(dir, sizeof(dir), s, id);
	if (file) {
		/* the file gets its new name beside the old one first: a
		 * crash anywhere leaves the row's file under the row's
		 * name (and maybe the other name too: staging.h) */
		snprintf(from, sizeof(from), "%s/%s", dir, file);
		snprintf(to, sizeof(to), "%s/%s", dir, name);
		if (link(from, to) < 0 && (errno != EEXIST || unlink(to) < 0 ||
					   link(from, to) < 0))
			return LC_SYS(err, errno, "staging: %s: %s", to,
				      strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/.name", dir);
	/* setxattr replaces the attribute at once; a row named by a .name
	 * file keeps being named by it */
	if (access(path, F_OK) == 0 ||
	    setxattr(dir, NAME_XATTR, name, strlen(name), XATTR_REPLACE) < 0)
		rc = put_file(dir, ".name", name, strlen(name), false);
	if (rc) {
		if (file)
			unlink(to);
		return LC_SYS(err, rc, "staging: %s/.name: %s", dir,
			      strerror(rc));
	}
	if (file && unlink(from) < 0)
		return LC_SYS(err, errno, "staging: %s: %s", from,
			      strerror(errno));
	return 0;
}

int staging_row_add(uint64_t *id, struct staging *s, const char *name,
		    const struct staging_info *info, struct lc_err *err)
{
	char dir[4200];
	size_t len = strlen(name);
	int rc;

	if (!len || len > 1024 || strchr(name, '/'))
		return LC_USAGE(err, "staging: bad row name");
	rc = take_row(s, id);
	staging_row_path(dir, sizeof(dir), s, *id);
	if (rc < 0)
		rc = mkdir(dir, 0700) < 0 ? errno : 0;
	else
		(void)utimensat(AT_FDCWD, dir, NULL, 0);	/* made now */
	if (rc)
		return LC_SYS(err, rc, "staging: mkdir %s: %s", dir,
			      strerror(rc));
	/* .row before .name: a row is listed once it has a name, and then
	 * it is already what it should be. A folder needs no .row. */
	if (info && info->kind != STAGING_FOLDER &&
	    (rc = staging_row_set_info(s, *id, info, err)))
		return rc;
	if ((rc = name_row(s, dir, name)))
		return LC_SYS(err, rc, "staging: naming %s: %s", dir,
			      strerror(rc));
	return 0;
}

int staging_row_new(uint64_t *id, struct staging *s, const char *name,
		    struct lc_err *err)
{
	uint64_t existing;

	if (!staging_row_find(&existing, s, name))
		return lc_err_set(err, EEXIST, LC_EK_USAGE, __FILE__, __LINE__,
				  "%s: a staged row of that name exists",
				  name);
	return staging_row_add(id, s, name, NULL, err);
}

/*
 * A staged file is complete once marked: MARK_NSEC nanoseconds in its
 * mtime. Marking costs no extra file (ext4 makes and frees inodes
 * slowly), and a write after it (through a descriptor the writer still
 * holds, a shell's redirection that it closed once already; passthrough
 * writes never reach the daemon) stamps the time anew, which takes the
 * mark off. A new file's time is never the mark. Staged files are made
 * 0600; one found 0644 and unmarked was marked complete by a lancefs
 * from before the stamp, whose mark was the mode.
 */
#define MODE_MARKED_BEFORE 0644
#define MARK_NSEC 999999999L

bool staging_own_file(const char *name)
{
	return !strcmp(name, ".name") || !strcmp(name, ".row") ||
	       !strcmp(name, "..name.tmp") || !strcmp(name, "..row.tmp") ||
	       !strcmp(name, STAGING_FILL_TMP) ||
	       !strcmp(name, STAGING_META_FILL);
}

bool staging_is_marked(const struct stat *sb)
{
	return sb->st_mtim.tv_nsec == MARK_NSEC;
}

bool staging_is_spare(const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_size == 0 &&
	       sb->st_mtim.tv_nsec == STAGING_SPARE_NSEC;
}

int staging_mark_fd(int fd, bool writing)
{
	return writing ? stamp(fd, false, 0) : stamp(fd, true, MARK_NSEC);
}

int staging_mark_fill_fd(int fd)
{
	return stamp(fd, true, STAGING_FILL_NSEC);
}

int staging_row_clear_partial(bool *had, const struct staging *s,
			      uint64_t id, struct lc_err *err)
{
	char dir[4200], path[4600];
	struct dirent *de;
	DIR *d;

	*had = false;
	staging_row_path(dir, sizeof(dir), s, id);
	d = opendir(dir);
	if (!d)
		return LC_SYS(err, errno, "staging: %s: %s", dir,
			      strerror(errno));
	while ((de = readdir(d))) {
		struct stat sb;

		if (staging_own_file(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_mtim.tv_nsec == MARK_NSEC)
			continue;
		if (staging_is_spare(&sb) ||	/* the last row's, unused */
		    sb.st_mtim.tv_nsec == STAGING_FILL_NSEC) {
			unlink(path);
			continue;
		}
		if ((sb.st_mode & 07777) == MODE_MARKED_BEFORE) {
			/* marked the old way: the new mark, and the mode
			 * of any staged file, so that a write after can
			 * take the mark off */
			int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0 && !staging_mark_fd(fd, false))
				(void)fchmod(fd, 0600);
			if (fd >= 0)
				close(fd);
			continue;
		}
		*had = true;
		unlink(path);
	}
	closedir(d);
	return 0;
}

bool staging_remove_if_empty(struct staging *s)
{
	static const char *const subs[] = { "rows", "batches" };
	char path[4200];
	size_t i;

	spares_stop(s);
	drain(s);
	for (i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, subs[i]);
		if (rmdir(path) < 0)
			break;
	}
	if (i == sizeof(subs) / sizeof(*subs)) {
		/* nothing staged: nothing to claim it for */
		snprintf(path, sizeof(path), "%s/dataset", s->dir);
		unlink(path);
		if (!s->keep) {
			rmdir(s->dir);
		} else {	/* the user's, as it was */
			snprintf(path, sizeof(path), "%s/kept", s->dir);
			if (!unlink(path))
				(void)sync_dir(s->dir);
		}
		return true;
	}
	while (i--) {		/* not empty: put back what went */
		snprintf(path, sizeof(path), "%s/%s", s->dir, subs[i]);
		mkdir(path, 0700);
	}
	return false;
}

void staging_reading(struct staging *s, int delta)
{
	atomic_fetch_add(&s->readers, delta);
}

int staging_sync(const struct staging *s)
{
	return sync_fs(s->dir);
}

int staging_row_remove(struct staging *s, uint64_t id, struct lc_err *err)
{
	char dir[4200], path[4300];

	staging_row_path(dir, sizeof(dir), s, id);
	/* unnamed first, in one step: from then on the row is gone (no
	 * mount loads an unnamed folder, and the next one removes what is
	 * left of it), so a crash or a failure while its files go (.row
	 * among them, in no set order) leaves no row of another kind (a
	 * revert's name, as a new row) */
	snprintf(path, sizeof(path), "%s/.name", dir);
	if ((removexattr(dir, NAME_XATTR) < 0 && errno != ENODATA &&
	     errno != ENOTSUP && errno != ENOENT) ||
	    (unlink(path) < 0 && errno != ENOENT))
		return LC_SYS(err, errno, "staging: removing %s: %s", dir,
			      strerror(errno));
	(void)remove_tree(dir);
	return 0;
}

int staging_rows(struct staging *s, staging_row_cb cb, void *ctx,
		 struct lc_err *err)
{
	char dir[4200];
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/rows", s->dir);
	d = opendir(dir);
	if (!d)
		return LC_SYS(err, errno, "staging: %s: %s", dir,
			      strerror(errno));
	while ((de = readdir(d))) {
		char *end;
		uint64_t id;

		if (de->d_name[0] != 'R')
			continue;
		id = strtoull(de->d_name + 1, &end, 16);
		if (*end)
			continue;
		if (n == cap) {
			uint64_t *p;

			cap = cap ? 2 * cap : 64;
			p = lc_realloc(ids, cap * sizeof(*ids));
			if (!p) {
				rc = LC_NOMEM(err);
				break;
			}
			ids = p;
		}
		ids[n++] = id;
	}
	closedir(d);
	if (!rc && n) {
		size_t k = 0;

		qsort(ids, n, sizeof(*ids), cmp_u64);
		/* known without a look: folders made ahead (no row yet) and
		 * the rows of landed batches (their folders going) */
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < n; i++)
			if (!made_ahead(s, ids[i]) && !landed_row(s, ids[i]))
				ids[k++] = ids[i];
		pthread_mutex_unlock(&s->mu);
		n = k;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		char row[4200], name[1100];

		staging_row_path(row, sizeof(row), s, ids[i]);
		if (read_name(name, sizeof(name), row))
			continue;	/* half-made by a crash: no name yet */
		rc = cb(ctx, ids[i], name);
	}
	lc_free(ids);
	return rc;
}

int staging_batch_begin(struct staging_batch *out, struct staging *s,
			const uint64_t *rows, size_t n, uint64_t read_version,
			const char *uuid, struct lc_err *err)
{
	char dir[4200];
	struct lc_buf b;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->rows = lc_malloc((n ? n : 1) * sizeof(*rows));
	if (!out->rows)
		return LC_NOMEM(err);
	if (n)
		memcpy(out->rows, rows, n * sizeof(*rows));
	out->n_rows = n;
	out->read_version = read_version;
	if (uuid && strlen(uuid) == sizeof(out->uuid) - 1 &&
	    strspn(uuid, "0123456789abcdef-") == sizeof(out->uuid) - 1)
		memcpy(out->uuid, uuid, sizeof(out->uuid));
	else if (uuid)
		rc = LC_USAGE(err, "staging: bad transaction id '%.40s'", uuid);
	else
		rc = lc_uuid(out->uuid, err);
	if (rc) {
		staging_batch_reset(out);
		return rc;
	}
	lc_buf_init(&b, 0);
	rc = lc_buf_printf(&b, err, "lancefs-batch 1\n%s\n%" PRIu64 "\n",
			   out->uuid, read_version);
	for (size_t i = 0; !rc && i < n; i++)
		rc = lc_buf_printf(&b, err, "%016" PRIx64 "\n", rows[i]);
	if (rc) {
		lc_buf_reset(&b);
		staging_batch_reset(out);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s/batches", s->dir);
	rc = put_file(dir, out->uuid, b.data, b.len, true);
	lc_buf_reset(&b);
	if (!rc)
		return 0;
	staging_batch_reset(out);
	return LC_SYS(err, rc, "staging: recording a batch in %s: %s", s->dir,
		      strerror(rc));
}

/* Remove the records of the batches `uuids` (n ids of ID_SIZE bytes
 * each, back to back). */
static int forget(struct staging *s, const char *uuids, size_t n,
		  struct lc_err *err)
{
	char dir[4200], path[4300];
	int rc;

	snprintf(dir, sizeof(dir), "%s/batches", s->dir);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, uuids + ID_SIZE * i);
		if (unlink(path) < 0 && errno != ENOENT)
			return LC_SYS(err, errno, "staging: %s: %s", path,
				      strerror(errno));
	}
	rc = sync_dir(dir);
	return rc ? LC_SYS(err, rc, "staging: %s: %s", dir, strerror(rc)) : 0;
}

/* Hand a landed batch to the cleaner (a copy, its rows sorted): false
 * where there is no cleaner, or no memory. */
static bool hand_over(struct staging *s, const struct staging_batch *b)
{
	struct staging_batch c = *b;
	bool ok;

	c.rows = lc_malloc((b->n_rows ? b->n_rows : 1) * sizeof(*c.rows));
	if (!c.rows)
		return false;
	if (b->n_rows)
		memcpy(c.rows, b->rows, b->n_rows * sizeof(*c.rows));
	qsort(c.rows, c.n_rows, sizeof(*c.rows), cmp_u64);
	pthread_mutex_lock(&s->mu);
	if (s->threads_ok && !s->cleaner_on && !s->stopping &&
	    !lc_thread_start(&s->cleaner, "lancefs cleaner", cleaner_main, s))
		s->cleaner_on = true;
	ok = s->cleaner_on && !s->stopping;
	if (ok && s->n_landed == s->cap_landed) {
		size_t cap = s->cap_landed ? 2 * s->cap_landed : 4;
		struct staging_batch *v = lc_realloc(s->landed,
						     cap * sizeof(*v));

		ok = v != NULL;
		if (ok) {
			s->landed = v;
			s->cap_landed = cap;
		}
	}
	if (ok) {
		s->landed[s->n_landed++] = c;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		staging_batch_reset(&c);
	return ok;
}

int staging_batch_done(struct staging *s, const struct staging_batch *b,
		       struct lc_err *err)
{
	/* the batch record goes only once its rows are out of rows/ and
	 * that is synced: a crash in between leaves a batch whose
	 * transaction landed, and recovery takes out what is left */
	int rc;

	if (hand_over(s, b))
		return 0;
	rc = take_rows(s, b, err);
	return rc ? rc : sync_then_forget(s, b->uuid, 1, err);
}

int staging_batch_abandon(struct staging *s, const struct staging_batch *b,
			  struct lc_err *err)
{
	return forget(s, b->uuid, 1, err);
}

static int parse_batch(struct staging_batch *out, const char *text)
{
	const char *p = text;
	char *end;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (strncmp(p, "lancefs-batch 1\n", 16))
		return EINVAL;
	p += 16;
	if (strlen(p) < 37 || p[36] != '\n')
		return EINVAL;
	memcpy(out->uuid, p, 36);
	p += 37;
	out->read_version = strtoull(p, &end, 10);
	if (*end != '\n')
		return EINVAL;
	p = end + 1;
	while (*p) {
		uint64_t id = strtoull(p, &end, 16);

		if (*end != '\n' || end == p)
			return EINVAL;
		if (out->n_rows == cap) {
			uint64_t *r;

			cap = cap ? 2 * cap : 64;
			r = lc_realloc(out->rows, cap * sizeof(*r));
			if (!r)
				return ENOMEM;
			out->rows = r;
		}
		out->rows[out->n_rows++] = id;
		p = end + 1;
	}
	return 0;
}

int staging_batches(struct staging_batch **out, size_t *n, struct staging *s,
		    struct lc_err *err)
{
	char dir[4200];
	struct staging_batch *v = NULL;
	struct dirent *de;
	size_t cnt = 0;
	DIR *d;
	int rc = 0;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/batches", s->dir);
	d = opendir(dir);
	if (!d)
		return LC_SYS(err, errno, "staging: %s: %s", dir,
			      strerror(errno));
	while (!rc && (de = readdir(d))) {
		char path[4600];
		uint8_t *text = NULL;
		struct stat sb;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;	/* temp files of an interrupted begin */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f || fstat(fileno(f), &sb) < 0 ||
		    (uint64_t)sb.st_size > MAX_BATCH_FILE) {
			if (f)
				fclose(f);
			continue;
		}
		text = lc_malloc((size_t)sb.st_size + 1);
		if (!text) {
			fclose(f);
			rc = LC_NOMEM(err);
			break;
		}
		text[fread(text, 1, (size_t)sb.st_size, f)] = 0;
		fclose(f);
		{
			struct staging_batch *p = lc_realloc(v, (cnt + 1) *
								     sizeof(*v));

			if (!p) {
				lc_free(text);
				rc = LC_NOMEM(err);
				break;
			}
			v = p;
		}
		if (parse_batch(&v[cnt], (const char *)text)) {
			staging_batch_reset(&v[cnt]);
			rc = LC_CORRUPT(err, "staging: %s: not a batch record",
					path);
		} else {
			cnt++;
		}
		lc_free(text);
	}
	closedir(d);
	if (rc) {
		for (size_t i = 0; i < cnt; i++)
			staging_batch_reset(&v[i]);
		lc_free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void staging_batch_reset(struct staging_batch *b)
{
	lc_free(b->rows);
	memset(b, 0, sizeof(*b));
}
