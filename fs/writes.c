/*
 * writes.c - staged rows in memory over the staging journal, and the
 * commit triggers. See writes.h.
 *
 * Locking: `mu` protects the row index, the counters and the timer; it
 * is held over small local-disk calls (mkdir, open, rename) but never
 * over data reads or writes, which go through descriptors. `commit_mu`
 * serializes commits (and the view refreshes they make); a commit holds
 * `mu` only to pick its rows and to settle them, and marks them
 * `committing` in between, so that changes to them wait (wait_row).
 */
#include "writes.h"

#include "jsonb.h"
#include "render.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* A row counts as finished once nothing happened in it for this long:
 * cp -r writes a folder's files back to back, far closer than this. */
#define WR_SETTLE 0.5
#define HASH_BITS 14
#define NBUCKETS (1u << HASH_BITS)
#define MAX_FILES 65535u
#define NRECENT 64

/* Changes to the staging not yet synced: when the first was made, and
 * the latest (sync_due). */
struct unsynced {
	struct timespec since, last;
	bool on;
};

struct wfile {
	char *name;		/* NULL: gone (its index is not reused) */
	unsigned writers;
	uint64_t size;		/* at the last close */
	bool complete;		/* marked complete on disk: closes after a
				 * flush need no second mark */
	bool unseen;		/* a writer's writes do not reach us */
	bool renamed;		/* renamed while open: never reverted to
				 * the committed file of its first name */
};

/* A staged file unlinked or replaced while open for writing: its
 * handles write on into the file, which no commit takes, and fstat
 * answers from `fd` until the last of them closes. */
struct orphan {
	uint64_t id;
	uint32_t fidx;
	unsigned writers;
	int fd;
};

struct wrow {
	uint64_t id;
	char *name;
	struct staging_info info;
	struct wfile *files;
	size_t n_files;
	unsigned writers;	/* open for writing, all files */
	struct timespec last;	/* last change, monotonic */
	struct unsynced disk;	/* changes since the last staging sync */
	uint64_t gen;		/* counts changes */
	uint64_t refused_gen;	/* gen when last refused, 0 = never */
	bool committing;	/* in the commit running (claim, unclaim) */
	uint64_t claimed;	/* its bytes when that commit took it */
	uint64_t claimed_gen;	/* its gen then: a change since (a close
				 * of a file the commit may have read part
				 * of) keeps it staged when it lands */
	/* landed with a file still open (an fsync's own row): it stays,
	 * an update of the row it landed as (row_stays) */
	bool stays;
	struct staging_base stay;
	uint64_t landed;	/* committed in this version: the row stays
				 * (committing) until the view shows it */
	bool pending;		/* in an attempt of unknown outcome */
	unsigned held;		/* writers a commit took it with, told to
				 * the staging (staging_row_writers) */
	bool refused_now;	/* refused by the commit running */
	/* its files hold its committed row's values (fill_update), as of
	 * gen same_gen; the commit running left it out, unchanged */
	bool same, same_now;
	uint64_t same_gen;
	/* an update whose row another writer deleted (or moved) since it
	 * was staged: refused, and listed by its name (not at its row) so
	 * that it can be read and removed (rm -r) through the mount */
	bool gone;
	pid_t by;		/* the thread that last changed it, or 0 */
	struct wrow *by_name_next, *by_id_next, *by_base_next;
};

struct writes {
	struct view *v;
	struct view_ds *ds;	/* the dataset staged rows go to */
	struct staging *stg;
	struct wr_opts o;
	char *name_column, *file_column, *format_version;
	wr_moved_fn moved_fn;
	void *moved_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;		/* rows settled, released */
	pthread_cond_t tick;		/* the thread's: timer, stop, queue */
	struct timespec wake_at;	/* when the thread wakes (0: awake) */
	struct wrow **rows;		/* ascending id */
	size_t n_rows, cap_rows;
	struct wrow *by_name[NBUCKETS], *by_id[NBUCKETS],
		*by_base[NBUCKETS];
	size_t n_staying;	/* rows with `stays` (change_at) */
	/* the row each of the threads seen lately changed last, in a slot
	 * by thread id (settled) */
	struct recent { pid_t tid; uint64_t row; } recent[NRECENT];
	atomic_size_t n_changes;	/* rows in by_base: lookups of
					 * committed rows skip the lock
					 * while there are none */
	uint64_t bytes;			/* staged bytes */
	/* rows and bytes the commit running took: the limits count the
	 * rest, so a commit over them takes about that much */
	size_t held_rows;
	uint64_t held_bytes;
	bool armed;			/* the quiet period runs */
	struct timespec deadline;	/* when it ends */
	bool limit;			/* over a limit: look at limit_at */
	struct timespec limit_at;
	struct unsynced removals;	/* of staged rows, since a sync */
	uint64_t syncs;			/* of the staging, by sync_due */
	bool stopping;
	bool moved;			/* for the thread to tell the mount */
	bool refollow;			/* a landed version the view missed */
	struct timespec refollow_at;	/* when to try it again */
	uint64_t commits, last_version;
	/* the status's last error, while it stands: a commit's failure
	 * until a commit settles everything it was asked for, a row's
	 * refusal while a row is refused */
	char *failure, *refusal;
	uint64_t failures;		/* failed() calls */
	/* Attempts whose outcome is unknown (the manifest put got no
	 * answer, or the daemon died during it): their rows go again
	 * under the same transaction id, before any other row, so that a
	 * late landing of the first put counts as theirs, never twice. */
	struct staging_batch *pending;
	size_t n_pending;
	struct orphan *orphans;
	size_t n_orphans, cap_orphans;

	/* Held (read) from taking a root to listing the staged rows;
	 * (write) by a commit dropping the rows it committed. */
	pthread_rwlock_t listing;
	pthread_mutex_t commit_mu;
	/* the thread that asked for the commit running, and the process
	 * that ran it (a shell waiting for `lancefs commit`): what they
	 * wrote is settled, they wait for the commit (ask_of; under
	 * commit_mu) */
	pid_t askers[2];
	size_t n_askers;
	pthread_t thread;
	bool thread_on;
};

/* ------------------------------------------------------------ helpers */

/* A line in .lancefs/errors: the message names the row and file; a
 * database mount adds the dataset. */
static void note(struct writes *w, const struct lc_err *why)
{
	const char *name = view_ds_name(w->ds);

	view_note_line(w->v, name ? name : "-", why);
}

/* For cleanups whose failure changes nothing for the user. */
static void best_effort(int rc)
{
	(void)rc;
}

static void now_mono(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static unsigned bucket(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> (64 - HASH_BITS));
}

static uint64_t base_key(uint64_t frag, uint64_t off)
{
	return frag * 0x100000001b3ull ^ off;
}

static bool is_change(const struct wrow *r)
{
	return r->info.kind == STAGING_UPDATE ||
	       r->info.kind == STAGING_DELETE;
}

/* Found by its committed row's address (by_base), or by its name. */
static bool at_base(const struct wrow *r)
{
	return is_change(r) && !r->gone;
}

static void row_link(struct writes *w, struct wrow *r)
{
	unsigned b = bucket(r->id);

	r->by_id_next = w->by_id[b];
	w->by_id[b] = r;
	if (at_base(r)) {
		b = bucket(base_key(r->info.base.fragment_id,
				    r->info.base.offset));
		r->by_base_next = w->by_base[b];
		w->by_base[b] = r;
		atomic_fetch_add(&w->n_changes, 1);
	} else {
		b = bucket(lc_hash_str(r->name));
		r->by_name_next = w->by_name[b];
		w->by_name[b] = r;
	}
}

static void unlink_from(struct wrow **head, struct wrow *r, size_t off)
{
	for (struct wrow **p = head; *p;
	     p = (struct wrow **)((char *)*p + off))
		if (*p == r) {
			*p = *(struct wrow **)((char *)r + off);
			return;
		}
}

static void row_unlink(struct writes *w, struct wrow *r)
{
	unlink_from(&w->by_id[bucket(r->id)], r,
		    offsetof(struct wrow, by_id_next));
	if (at_base(r)) {
		unlink_from(&w->by_base[bucket(base_key(
				    r->info.base.fragment_id,
				    r->info.base.offset))], r,
			    offsetof(struct wrow, by_base_next));
		atomic_fetch_sub(&w->n_changes, 1);
	}
	else
		unlink_from(&w->by_name[bucket(lc_hash_str(r->name))], r,
			    offsetof(struct wrow, by_name_next));
}

static struct wrow *row_by_id(struct writes *w, uint64_t id)
{
	for (struct wrow *r = w->by_id[bucket(id)]; r; r = r->by_id_next)
		if (r->id == id)
			return r;
	return NULL;
}

static struct wrow *row_by_name(struct writes *w, const char *name)
{
	for (struct wrow *r = w->by_name[bucket(lc_hash_str(name))]; r;
	     r = r->by_name_next)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

static struct wrow *row_by_base(struct writes *w, uint64_t frag,
				uint64_t off)
{
	for (struct wrow *r = w->by_base[bucket(base_key(frag, off))]; r;
	     r = r->by_base_next)
		if (r->info.base.fragment_id == frag &&
		    r->info.base.offset == off)
			return r;
	return NULL;
}

static void row_free(struct wrow *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_files; i++)
		lc_free(r->files[i].name);
	lc_free(r->files);
	staging_info_reset(&r->info);
	lc_free(r->name);
	lc_free(r);
}

/* Append to the index (ids only grow, so the array stays sorted). */
static int row_insert(struct writes *w, struct wrow *r, struct lc_err *err)
{
	if (w->n_rows == w->cap_rows) {
		size_t cap = w->cap_rows ? w->cap_rows * 2 : 256;
		struct wrow **v = lc_realloc(w->rows, cap * sizeof(*v));

		if (!v)
			return LC_NOMEM(err);
		w->rows = v;
		w->cap_rows = cap;
	}
	w->rows[w->n_rows++] = r;
	row_link(w, r);
	return 0;
}

static size_t row_pos(struct writes *w, uint64_t id)
{
	size_t lo = 0, hi = w->n_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->rows[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The bytes of row r's files, as w->bytes counts them. */
static uint64_t row_bytes(const struct wrow *r)
{
	uint64_t n = 0;

	for (size_t k = 0; k < r->n_files; k++)
		if (r->files[k].name)
			n += r->files[k].size;
	return n;
}

/* Under w->mu: row r is no longer in the commit running (it stays
 * staged, or it landed and goes); the limits count it again, or not at
 * all. */
static void unclaim(struct writes *w, struct wrow *r)
{
	if (!r->committing)
		return;
	r->committing = false;
	w->held_rows--;
	w->held_bytes -= r->claimed;
}

/* Drop a row from memory (its staging folder is the caller's). */
static void row_drop(struct writes *w, struct wrow *r)
{
	size_t i = row_pos(w, r->id);

	if (i < w->n_rows && w->rows[i] == r) {
		memmove(w->rows + i, w->rows + i + 1,
			(w->n_rows - i - 1) * sizeof(*w->rows));
		w->n_rows--;
	}
	if (r->stays)
		w->n_staying--;
	row_unlink(w, r);
	unclaim(w, r);
	w->bytes -= row_bytes(r);
	row_free(r);
}

static void row_path(char *out, size_t cap, struct writes *w, uint64_t id,
		     const char *file)
{
	staging_row_path(out, cap, w->stg, id);
	if (file)
		snprintf(out + strlen(out), cap - strlen(out), "/%s", file);
}

/* The file at `path`, file fidx of row id with `writers` open for
 * writing, is about to be unlinked: it becomes an orphan (under mu). */
static int orphan_add(struct writes *w, uint64_t id, uint32_t fidx,
		      unsigned writers, const char *path, struct lc_err *err)
{
	int fd;

	if (w->n_orphans == w->cap_orphans) {
		size_t cap = w->cap_orphans ? 2 * w->cap_orphans : 4;
		struct orphan *v = lc_realloc(w->orphans, cap * sizeof(*v));

		if (!v)
			return LC_NOMEM(err);
		w->orphans = v;
		w->cap_orphans = cap;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return LC_SYS(err, errno, "staging: %s: %s", path,
			      strerror(errno));
	w->orphans[w->n_orphans++] = (struct orphan){ id, fidx, writers, fd };
	return 0;
}

/* File i of row r went, an orphan now: its writers leave the row, which
 * no longer waits for them (nor does the staging's cleaner). */
static void writers_leave(struct writes *w, struct wrow *r, size_t i)
{
	r->writers -= r->files[i].writers;
	r->files[i].writers = 0;
	for (; r->held > r->writers; r->held--)
		staging_row_writers(w->stg, r->id, -1);
}

/* Undo orphan_add's last `n` (the unlink or rename failed). */
static void orphans_undo(struct writes *w, size_t n)
{
	while (n--)
		close(w->orphans[--w->n_orphans].fd);
}

static struct orphan *orphan_of(struct writes *w, uint64_t id, uint32_t fidx)
{
	for (size_t i = 0; i < w->n_orphans; i++)
		if (w->orphans[i].id == id && w->orphans[i].fidx == fidx)
			return &w->orphans[i];
	return NULL;
}

static ssize_t file_index(const struct wrow *r, const char *name)
{
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].name && !strcmp(r->files[i].name, name))
			return (ssize_t)i;
	return -1;
}

bool wr_same_column(const char *mine, const char *shown)
{
	size_t n = ingest_stem_len(shown), m = ingest_stem_len(mine);
	bool same;
	char *e;

	/* meta.json sets no one column; only COL.txt sets a string
	 * column's text file (ingest refuses another) */
	if (!strcmp(mine, "meta.json") || !strcmp(shown, "meta.json") ||
	    ingest_ignored(mine) || !strcmp(shown + n, ".txt"))
		return false;
	if (m == n && !memcmp(mine, shown, n))
		return true;
	/* the column's own name for the view's escaped one (a%2Fb.jpg) */
	e = render_escape_name(mine, m);
	same = e && strlen(e) == n && !memcmp(e, shown, n);
	lc_free(e);
	return same;
}

/* The user's file of row `r` that takes the place of the committed
 * file `name` (wr_same_column), or -1. */
static ssize_t column_file(const struct wrow *r, const char *name)
{
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].name &&
		    wr_same_column(r->files[i].name, name))
			return (ssize_t)i;
	return -1;
}

/* Room for one more file in row `r`, and *copy of its name: after this
 * file_take cannot fail (a file moved into place is never left out). */
static int file_room(struct wrow *r, const char *name, char **copy,
		     struct lc_err *err)
{
	struct wfile *v;

	if (r->n_files >= MAX_FILES)
		return lc_err_set(err, ENOSPC, LC_EK_LIMIT, __FILE__, __LINE__,
				  "%s: too many files in one row", r->name);
	v = lc_realloc(r->files, (r->n_files + 1) * sizeof(*v));
	if (!v)
		return LC_NOMEM(err);
	r->files = v;
	if (!(*copy = lc_strdup(name)))
		return LC_NOMEM(err);
	return 0;
}

/* The file made room for by file_room, named `copy` (taken). */
static uint32_t file_take(struct wrow *r, char *copy)
{
	memset(&r->files[r->n_files], 0, sizeof(r->files[0]));
	r->files[r->n_files].name = copy;
	return (uint32_t)r->n_files++;
}

static int file_add(struct wrow *r, const char *name, uint32_t *fidx,
		    struct lc_err *err)
{
	char *copy;
	int rc = file_room(r, name, &copy, err);

	if (!rc)
		*fidx = file_take(r, copy);
	return rc;
}

static bool limit_reached(const struct writes *w, size_t rows,
			  uint64_t bytes)
{
	return (w->o.commit_rows && rows >= w->o.commit_rows) ||
	       (w->o.commit_bytes && bytes >= w->o.commit_bytes);
}

static bool over_limit(const struct writes *w)
{
	size_t rows = w->n_rows > w->held_rows ? w->n_rows - w->held_rows : 0;
	uint64_t bytes = w->bytes > w->held_bytes ?
			 w->bytes - w->held_bytes : 0;

	return limit_reached(w, rows, bytes);
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Something changed in the staging at `now`: on the disk within
 * STAGING_SYNC_AFTER, committed or synced (sync_due). Under mu. */
static void unsynced_at(struct unsynced *u, const struct timespec *now)
{
	u->last = *now;
	if (!u->on) {
		u->since = u->last;
		u->on = true;
	}
}

/* A sync started at t0: what changed before it is on the disk, what
 * changed since waits from t0. */
static void unsynced_clear(struct unsynced *u, const struct timespec *t0)
{
	if (!u->on)
		return;
	if (earlier(&u->last, t0))
		u->on = false;
	else
		u->since = *t0;
}

/* Whether `u` is due for a sync at `now`; if not, *next becomes the
 * time it will be, if that is sooner. */
static bool unsynced_due(const struct unsynced *u, const struct timespec *now,
			 struct timespec *next)
{
	struct timespec t = u->since;

	if (!u->on)
		return false;
	lc_add_secs(&t, STAGING_SYNC_AFTER);
	if (!earlier(now, &t))
		return true;
	if (!next->tv_sec || earlier(&t, next))
		*next = t;
	return false;
}

/* The thread whose request this FUSE thread serves (wr_caller). */
static _Thread_local pid_t caller;

void wr_caller(pid_t tid)
{
	caller = tid;
}

static void changed(struct writes *w, struct wrow *r)
{
	now_mono(&r->last);
	r->gen++;
	unsynced_at(&r->disk, &r->last);
	if (caller) {
		struct recent *t = &w->recent[(unsigned)caller % NRECENT];

		r->by = caller;
		t->tid = caller;
		t->row = r->id;
	}
}

/*
 * Whether row r is settled for an explicit commit: quiet for WR_SETTLE,
 * or the thread that last changed it has changed another row since, or
 * ended (cp -r went on to the next folder, or exited). An automatic
 * commit waits out the time alone. Under mu.
 */
static bool settled(const struct writes *w, const struct wrow *r)
{
	const struct recent *t = &w->recent[(unsigned)r->by % NRECENT];

	if (lc_since(&r->last) >= WR_SETTLE)
		return true;
	if (!r->by)
		return false;
	for (size_t i = 0; i < w->n_askers; i++)
		if (w->askers[i] == r->by)
			return true;
	if (t->tid == r->by && t->row != r->id)
		return true;
	return !lc_pid_running(r->by);
}

/* The thread must look at `t`: woken if it would sleep past it. */
static void wake_by(struct writes *w, const struct timespec *t)
{
	if (earlier(t, &w->wake_at))
		pthread_cond_signal(&w->tick);
}

/* Over a limit at `now`: look, once the rows closed by then settle,
 * whether the settled rows reach it, unless a look or the end of the
 * quiet period comes sooner. Under mu. */
static void limit_soon(struct writes *w, const struct timespec *now)
{
	struct timespec t = *now;

	lc_add_secs(&t, WR_SETTLE);
	if (w->limit || !earlier(&t, &w->deadline))
		return;
	w->limit_at = t;
	w->limit = true;
	wake_by(w, &t);
}

/* Start a quiet period of `secs` from `now`. Under mu. */
static void quiet_from(struct writes *w, const struct timespec *now,
		       double secs)
{
	w->deadline = *now;
	lc_add_secs(&w->deadline, secs);
	w->armed = true;
	wake_by(w, &w->deadline);
}

/* A row closed: start the quiet period unless it runs (it is not
 * pushed back), and over a limit look soon. Under mu. */
static void arm(struct writes *w, bool over)
{
	struct timespec now;

	now_mono(&now);
	if (!w->armed)
		quiet_from(w, &now, w->o.commit_delay);
	if (over)
		limit_soon(w, &now);
}

/* Whether every file of the row open for writing was flushed, which
 * close() does before it returns: the kernel sends their RELEASE after,
 * so the row's writers are about to be gone. */
static bool closing(const struct wrow *r)
{
	if (!r->writers)
		return false;
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].writers && !r->files[i].complete)
			return false;
	return true;
}

/* Whether file `name` of r is closed but for its release (flushed,
 * complete, still counted open). */
static bool file_closing(const struct wrow *r, const char *name)
{
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].name && !strcmp(r->files[i].name, name))
			return r->files[i].writers && r->files[i].complete;
	return false;
}

/* Wait (w->mu held) while row `id` is closing, until `until` (NULL:
 * WR_SETTLE from now) at most: a program that closed its files and goes
 * on (a commit, mv, rm -r) must not find them still open. With `name`,
 * only that file (mv of a file just closed while the row has another
 * open). */
static void settle_row(struct writes *w, uint64_t id, const char *name,
		       const struct timespec *until)
{
	struct timespec t;
	struct wrow *r;

	if (!until) {
		now_mono(&t);
		lc_add_secs(&t, WR_SETTLE);
		until = &t;
	}
	lc_wait_begin();
	while ((r = row_by_id(w, id)) &&
	       (name ? file_closing(r, name) : closing(r)))
		if (pthread_cond_timedwait(&w->cv, &w->mu, until))
			break;
	lc_wait_end();
}

/* Wait while a commit holds the row; NULL when it is gone after it. */
static struct wrow *wait_row(struct writes *w, uint64_t id)
{
	struct wrow *r;

	lc_wait_begin();
	while ((r = row_by_id(w, id)) && r->committing)
		pthread_cond_wait(&w->cv, &w->mu);
	lc_wait_end();
	return r;
}

/* Whether row r may change: not while it is in an attempt of unknown
 * outcome (pending), which may have committed it as it was then; a
 * change now could be lost when that attempt is found landed. */
static int changeable(const struct wrow *r)
{
	return r && r->pending ? EBUSY : 0;
}

/* wait_row for a change: a pending row is answered at once (EBUSY, by
 * changeable), not after its next attempt, which may wait long on a
 * store that does not answer. */
static struct wrow *wait_to_change(struct writes *w, uint64_t id)
{
	struct wrow *r = row_by_id(w, id);

	return r && r->pending ? r : wait_row(w, id);
}

/* wait_row, then settle_row if the row is closing (rm -r right after a
 * copy or an edit). */
static struct wrow *wait_row_closed(struct writes *w, uint64_t id)
{
	struct wrow *r = wait_row(w, id);

	if (r && closing(r)) {
		settle_row(w, id, NULL, NULL);
		r = wait_row(w, id);
	}
	return r;
}

static bool name_ok(const char *name)
{
	return *name && strlen(name) <= 255 && !strchr(name, '/') &&
	       !staging_own_file(name);
}

/* A new row's name (a root file's: its first `n` bytes, the stem) must
 * be one the mount shows again once the row is committed. */
static int shown_back(const char *name, size_t n, struct lc_err *err)
{
	char stem[256], *v = NULL;
	int rc;

	snprintf(stem, sizeof(stem), "%.*s", (int)n, name);
	rc = render_row_value(&v, stem);
	lc_free(v);
	if (rc == EINVAL)
		return LC_USAGE(err, "%s: no name-column value shows as this "
				"name", name);
	return rc;
}

static int new_row(struct writes *w, const char *name,
		   const struct staging_info *info, struct wrow **out,
		   struct lc_err *err)
{
	struct wrow *r = lc_calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r || !(r->name = lc_strdup(name))) {
		lc_free(r);
		return LC_NOMEM(err);
	}
	rc = staging_info_copy(&r->info, info, err);
	if (!rc)
		rc = staging_row_add(&r->id, w->stg, name, info, err);
	if (!rc)
		rc = row_insert(w, r, err);
	if (rc) {
		row_free(r);
		return rc;
	}
	changed(w, r);
	*out = r;
	return 0;
}

/* ------------------------------------------------------------ rows */

int wr_find(struct writes *w, const char *name, uint64_t *id,
	    enum staging_kind *kind)
{
	struct wrow *r;
	int rc = ENOENT;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_name(w, name))) {
		*id = r->id;
		*kind = r->info.kind;
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_find_change(struct writes *w, uint64_t fragment_id, uint64_t offset,
		   uint64_t *id, enum staging_kind *kind)
{
	struct wrow *r;
	int rc = ENOENT;

	if (!atomic_load(&w->n_changes))
		return ENOENT;	/* readdir of a million rows: no lock */
	pthread_mutex_lock(&w->mu);
	if ((r = row_by_base(w, fragment_id, offset))) {
		*id = r->id;
		*kind = r->info.kind;
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_row_kind(struct writes *w, uint64_t id, enum staging_kind *kind)
{
	struct wrow *r;
	int rc = ESTALE;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id))) {
		*kind = r->info.kind;
		rc = 0;
	}
	for (size_t i = 0; i < w->n_orphans && rc; i++)
		if (w->orphans[i].id == id) {
			*kind = STAGING_FILE;	/* only its open files are left */
			rc = 0;
		}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* A copy of some names, for callbacks made without the lock. */
struct listing {
	struct listed {
		uint64_t pos, id;
		char *name;
		int kind;
	} *v;
	size_t n, cap;
};

static int listing_add(struct listing *l, uint64_t pos, uint64_t id,
		       const char *name, int kind)
{
	struct listed *v = l->v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		if (!(v = lc_realloc(l->v, cap * sizeof(*v))))
			return ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(v[l->n].name = lc_strdup(name)))
		return ENOMEM;
	v[l->n].pos = pos;
	v[l->n].id = id;
	v[l->n].kind = kind;
	l->n++;
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		lc_free(l->v[i].name);
	lc_free(l->v);
}

/* Listings never keep a commit waiting for long: a writer waiting
 * goes first. */
static void init_listing(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

void wr_list_begin(struct writes *w)
{
	if (!pthread_rwlock_tryrdlock(&w->listing))
		return;
	lc_wait_begin();	/* behind a commit dropping its rows */
	pthread_rwlock_rdlock(&w->listing);
	lc_wait_end();
}

void wr_list_end(struct writes *w)
{
	pthread_rwlock_unlock(&w->listing);
}

struct wr_rows {
	struct listing l;
	struct staging_base *deleted;	/* rm -r of committed rows */
	size_t n_deleted;
	const char **names;	/* of the new rows in l, sorted */
	size_t n_names;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int base_cmp(const void *a, const void *b)
{
	const struct staging_base *x = a, *y = b;

	if (x->fragment_id != y->fragment_id)
		return x->fragment_id < y->fragment_id ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int deleted_add(struct wr_rows *c, const struct staging_base *b)
{
	if (!(c->n_deleted & (c->n_deleted + 1))) {	/* 0, 1, 3, 7... */
		struct staging_base *v =
			lc_realloc(c->deleted, 2 * (c->n_deleted + 1) *
						       sizeof(*v));

		if (!v)
			return ENOMEM;
		c->deleted = v;
	}
	c->deleted[c->n_deleted++] = *b;
	return 0;
}

int wr_rows_take(struct writes *w, uint64_t seen, struct wr_rows **out)
{
	struct wr_rows *c = lc_calloc(1, sizeof(*c));
	int rc = c ? 0 : ENOMEM;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n_rows && !rc; i++) {
		struct wrow *r = w->rows[i];

		if (!at_base(r) && (!r->landed || r->landed > seen))
			rc = listing_add(&c->l, r->id, r->id, r->name,
					 r->info.kind);
		else if (r->info.kind == STAGING_DELETE &&
			 (!r->landed || r->landed > seen))
			rc = deleted_add(c, &r->info.base);
	}
	pthread_mutex_unlock(&w->mu);
	if (!rc && c->n_deleted)
		qsort(c->deleted, c->n_deleted, sizeof(*c->deleted),
		      base_cmp);
	if (!rc && c->l.n &&
	    !(c->names = lc_calloc(c->l.n, sizeof(*c->names))))
		rc = ENOMEM;
	for (size_t i = 0; !rc && i < c->l.n; i++)
		if (c->l.v[i].kind == STAGING_FOLDER ||
		    c->l.v[i].kind == STAGING_FILE)
			c->names[c->n_names++] = c->l.v[i].name;
	if (!rc && c->n_names)
		qsort(c->names, c->n_names, sizeof(*c->names), name_cmp);
	if (rc) {
		wr_rows_free(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

int wr_rows_list(const struct wr_rows *c, uint64_t start, wr_row_cb cb,
		 void *ctx)
{
	const struct listing *l = &c->l;
	size_t lo = 0, hi = l->n;
	int rc = 0;

	while (lo < hi) {	/* the first at or past start */
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].id < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < l->n && !rc; i++)
		rc = cb(ctx, l->v[i].pos, l->v[i].id, l->v[i].name,
			(enum staging_kind)l->v[i].kind);
	return rc;
}

bool wr_rows_named(const struct wr_rows *c, const char *name)
{
	return c->n_names && bsearch(&name, c->names, c->n_names,
				     sizeof(*c->names), name_cmp);
}

bool wr_rows_deleted(const struct wr_rows *c, uint64_t fragment_id,
		     uint64_t offset)
{
	struct staging_base key = { .fragment_id = fragment_id,
				    .offset = offset };

	return c->n_deleted && bsearch(&key, c->deleted, c->n_deleted,
				       sizeof(key), base_cmp);
}

void wr_rows_free(struct wr_rows *c)
{
	if (c) {
		lc_free(c->deleted);
		lc_free(c->names);
		listing_free(&c->l);
		lc_free(c);
	}
}

/*
 * A new or changed row `name` needs data files of the dataset's columns:
 * where the writer cannot make them (a type it does not write in the
 * dataset's file version), EOPNOTSUPP at once, not rows that no commit
 * can take. Deletions need none.
 */
static int can_write(struct writes *w, const char *name, struct lc_err *err)
{
	struct lc_err why = { 0 };
	struct vnode root;
	int rc = view_ds_root(&root, w->ds, 0, err);

	if (rc)
		return rc;
	if (view_manifest(&root)->version &&
	    ingest_writable(view_manifest(&root), &why)) {
		rc = lc_err_set(err, EOPNOTSUPP, LC_EK_USAGE, __FILE__,
				__LINE__, "%s: rows cannot be added to or "
				"changed in this dataset (only deleted): %s",
				name, why.msg);
		note(w, err);	/* the errno alone says little */
	}
	vnode_reset(&root);
	return rc;
}

int wr_mkdir(struct writes *w, const char *name, uint64_t *id,
	     struct lc_err *err)
{
	struct staging_info info = { .kind = STAGING_FOLDER };
	struct wrow *r;
	int rc;

	if (!name_ok(name))
		return LC_USAGE(err, "%s: not a row name", name);
	if ((rc = shown_back(name, strlen(name), err)) ||
	    (rc = can_write(w, name, err)))
		return rc;
	pthread_mutex_lock(&w->mu);
	if (row_by_name(w, name))
		rc = EEXIST;
	else
		rc = new_row(w, name, &info, &r, err);
	if (!rc)
		*id = r->id;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* A row held back by a file a crash cut short (interrupted) goes on
 * once written again or touched. Under mu. A row that stays has its
 * update's record already (on_landed), which this must not undo. */
static void resume(struct writes *w, struct wrow *r)
{
	if (r->info.interrupted) {
		r->info.interrupted = false;
		if (!r->stays)
			best_effort(staging_row_set_info(w->stg, r->id,
							 &r->info, NULL));
	}
}

/* Open a row's file; under mu. */
static int open_file(struct writes *w, struct wrow *r, const char *name,
		     int flags, bool create, const struct lc_buf *seed,
		     uint32_t *fidx, int *fd, struct lc_err *err)
{
	char path[4600];
	ssize_t i = file_index(r, name);
	/* a create writes (the mount's handle counts it a writer until its
	 * release), whatever its access mode: flock(1) creates read-only */
	bool writer = create || (flags & O_ACCMODE) != O_RDONLY;
	bool fresh = i < 0, fresh_on_disk = fresh;
	int oflags = (flags & (O_ACCMODE | O_TRUNC | O_APPEND)) | O_CLOEXEC;
	int rc;

	if (fresh && !create)
		return ENOENT;
	if (!fresh && create && (flags & O_EXCL))
		return EEXIST;
	if (!name_ok(name))
		return LC_USAGE(err, "%s/%s: not a file name lancefs can "
				"stage", r->name, name);
	row_path(path, sizeof(path), w, r->id, name);
	if (fresh)
		rc = staging_create(w->stg, path, oflags, fd);
	else
		rc = (*fd = open(path, oflags)) < 0 ? errno : 0;
	if (rc == EEXIST && fresh) {
		/* a stray file the index does not know: written over, so
		 * marked writing below like any reopened file */
		rc = (*fd = open(path, oflags)) < 0 ? errno : 0;
		fresh_on_disk = false;
	}
	if (rc)
		return LC_SYS(err, rc, "staging: %s: %s", path, strerror(rc));
	/* a file made now is not complete: a new file never is
	 * (staging.h); one reopened for writing is marked writing again,
	 * also while an earlier writer's release is still to come */
	if (writer && !fresh_on_disk && (rc = staging_mark_fd(*fd, true))) {
		close(*fd);
		if (fresh)
			unlink(path);
		return LC_SYS(err, rc, "staging: %s: %s", path, strerror(rc));
	}
	/* a new file starts as the seed (a committed file copied up) */
	if (fresh && seed && seed->len &&
	    pwrite(*fd, seed->data, seed->len, 0) != (ssize_t)seed->len) {
		rc = LC_SYS(err, errno ? errno : EIO, "staging: %s: %s", path,
			    strerror(errno ? errno : EIO));
		unlink(path);
		close(*fd);
		return rc;
	}
	if (writer && !fresh)
		r->files[i].complete = false;
	if (fresh) {
		uint32_t k;

		rc = file_add(r, name, &k, err);
		if (rc) {
			close(*fd);
			unlink(path);
			return rc;
		}
		i = k;
	}
	if (!writer && !create)		/* closed by wr_file_closed(false) */
		staging_reading(w->stg, 1);
	if (writer) {
		r->files[i].writers++;
		r->writers++;
		resume(w, r);
		changed(w, r);
	}
	*fidx = (uint32_t)i;
	return 0;
}

int wr_create_root_file(struct writes *w, const char *name, uint64_t *id,
			uint32_t *fidx, int *fd, struct lc_err *err)
{
	struct staging_info info = { .kind = STAGING_FILE };
	struct wrow *r;
	int rc;

	if (!name_ok(name) || !strcmp(name, "meta.json"))
		return LC_USAGE(err, "%s: not a row name", name);
	if ((rc = shown_back(name, ingest_stem_len(name), err)) ||
	    (rc = can_write(w, name, err)))
		return rc;
	pthread_mutex_lock(&w->mu);
	if (row_by_name(w, name)) {
		rc = EEXIST;
	} else {
		rc = new_row(w, name, &info, &r, err);
		if (!rc)
			rc = open_file(w, r, name, O_RDWR, true, NULL, fidx,
				       fd, err);
		if (rc && r) {
			struct lc_err e2 = { 0 };

			best_effort(staging_row_remove(w->stg, r->id, &e2));
			row_drop(w, r);
		}
	}
	if (!rc)
		*id = r->id;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

static int base_of(struct staging_info *info, char *name, size_t cap,
		   const struct vnode *row, struct lc_err *err)
{
	view_row_where(&info->base.version, &info->base.fragment_id,
		       &info->base.offset, row);
	info->base.key = view_row_key(row);
	return view_row_name(name, cap, row, err);
}

/* The change row of the committed row at (frag, off); first, a row that
 * landed there and stays is waited for (its commit makes it that
 * change, row_stays), so no second change of the row is made. Under
 * mu. */
static struct wrow *change_at(struct writes *w, uint64_t frag, uint64_t off)
{
	for (;;) {
		struct wrow *r = row_by_base(w, frag, off), *s = NULL;

		for (size_t i = 0; !r && w->n_staying && i < w->n_rows && !s;
		     i++)
			if (w->rows[i]->stays &&
			    w->rows[i]->stay.fragment_id == frag &&
			    w->rows[i]->stay.offset == off)
				s = w->rows[i];
		if (!s)
			return r;
		wait_row(w, s->id);
	}
}

int wr_change_row(struct writes *w, const struct vnode *row, bool adds,
		  uint64_t *id, struct lc_err *err)
{
	struct staging_info info = { .kind = STAGING_UPDATE };
	struct wrow *r;
	char name[1100];
	int rc = base_of(&info, name, sizeof(name), row, err);

	if (!rc && adds)
		rc = can_write(w, name, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&w->mu);
	r = change_at(w, info.base.fragment_id, info.base.offset);
	if (r)
		r = wait_to_change(w, r->id);
	if (r)
		rc = r->info.kind == STAGING_DELETE ? ENOENT : changeable(r);
	else if (!view_is_current(row))
		rc = ESTALE;	/* a commit (its change's) moved the row */
	else
		rc = new_row(w, name, &info, &r, err);
	if (!rc)
		*id = r->id;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_delete_row(struct writes *w, const struct vnode *row,
		  struct lc_err *err)
{
	struct staging_info info = { .kind = STAGING_DELETE };
	struct wrow *r;
	char name[1100];
	int rc = base_of(&info, name, sizeof(name), row, err);

	if (rc)
		return rc;
	pthread_mutex_lock(&w->mu);
	r = change_at(w, info.base.fragment_id, info.base.offset);
	if (r && !r->pending)
		r = wait_row_closed(w, r->id);
	if (r && r->info.kind == STAGING_DELETE) {
		rc = ENOENT;
	} else if ((rc = changeable(r))) {
		;
	} else if (r && r->writers) {
		rc = EBUSY;	/* a file of its update is open for writing */
	} else if (r) {
		/* the caller found it empty, without the lock: a file
		 * written since keeps it (rmdir(2) of a folder not empty) */
		for (size_t i = 0; i < r->n_files && !rc; i++)
			if (r->files[i].name)
				rc = ENOTEMPTY;
		if (!rc) {
			staging_info_reset(&r->info);
			r->info = info;
			rc = staging_row_set_info(w->stg, r->id, &r->info,
						  err);
			changed(w, r);
		}
	} else if (!view_is_current(row)) {
		rc = ESTALE;	/* a commit (its change's) moved the row */
	} else {
		rc = new_row(w, name, &info, &r, err);
	}
	if (!rc)
		arm(w, false);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Take the new row r out of the staging (under mu); its files still
 * open for writing become orphans. */
static int remove_row(struct writes *w, struct wrow *r, struct lc_err *err)
{
	size_t had = w->n_orphans;
	struct timespec now;
	int rc = 0;

	for (size_t i = 0; i < r->n_files && !rc; i++)
		if (r->files[i].name && r->files[i].writers) {
			char path[4600];

			row_path(path, sizeof(path), w, r->id,
				 r->files[i].name);
			rc = orphan_add(w, r->id, (uint32_t)i,
					r->files[i].writers, path, err);
		}
	if (!rc)
		rc = staging_row_remove(w->stg, r->id, err);
	if (rc) {
		orphans_undo(w, w->n_orphans - had);
		return rc;
	}
	for (size_t i = 0; i < r->n_files; i++)
		writers_leave(w, r, i);
	row_drop(w, r);
	now_mono(&now);
	unsynced_at(&w->removals, &now);
	return 0;
}

int wr_remove_row(struct writes *w, uint64_t id, struct lc_err *err)
{
	struct wrow *r;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	if (!r || !r->pending)
		r = wait_row_closed(w, id);
	if (!r) {
		rc = ESTALE;	/* committed meanwhile: look again */
	} else if ((rc = changeable(r))) {
		;
	} else if (r->info.kind == STAGING_FOLDER || r->gone) {
		for (size_t i = 0; i < r->n_files; i++)
			if (r->files[i].name)
				rc = ENOTEMPTY;
	} else if (is_change(r)) {
		rc = EINVAL;
	}
	if (!rc)
		rc = remove_row(w, r, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Whether staged row r holds no file (hidden ones count). */
static bool no_files(const struct wrow *r)
{
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].name)
			return false;
	return true;
}

int wr_rename_row(struct writes *w, uint64_t id, const char *name,
		  struct lc_err *err)
{
	struct wrow *r, *o;
	char *copy = NULL, *fcopy = NULL;
	ssize_t f = -1;
	int rc = 0;

	if (!name_ok(name) || !strcmp(name, "meta.json"))
		return LC_USAGE(err, "%s: not a row name", name);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		r = row_by_id(w, id);
		o = row_by_name(w, name);
		if (r && r->committing && !r->pending)
			wait_row(w, id);
		else if (o && o->committing && !o->pending)
			wait_row(w, o->id);
		else
			break;
	}
	if (r && r->info.kind == STAGING_FILE)
		f = file_index(r, r->name);	/* named like its row */
	if (!r || is_change(r))
		rc = r ? EPERM : ESTALE;	/* committed meanwhile */
	else if ((rc = changeable(r)) || (rc = changeable(o)))
		;
	else if ((rc = shown_back(name, r->info.kind == STAGING_FILE ?
					  ingest_stem_len(name) :
					  strlen(name), err)))
		;	/* as a new row's name, by mkdir or create */
	else if (o == r)
		goto out;
	else if (o && (o->info.kind == STAGING_FILE) !=
			      (r->info.kind == STAGING_FILE))
		rc = r->info.kind == STAGING_FILE ? EISDIR : ENOTDIR;
	else if (o && o->info.kind != STAGING_FILE && !no_files(o))
		rc = ENOTEMPTY;	/* a folder replaces an empty one only */
	else if (!(copy = lc_strdup(name)) ||
		 (f >= 0 && !(fcopy = lc_strdup(name))))
		rc = LC_NOMEM(err);
	if (!rc && o)
		rc = remove_row(w, o, err);
	if (!rc)
		rc = staging_row_rename(w->stg, id, name,
					f >= 0 ? r->name : NULL, err);
	if (!rc) {
		if (f >= 0) {
			lc_free(r->files[f].name);
			r->files[f].name = fcopy;
			fcopy = NULL;
		}
		row_unlink(w, r);
		lc_free(r->name);
		r->name = copy;
		copy = NULL;
		row_link(w, r);
		changed(w, r);
		arm(w, false);
	}
out:
	lc_free(copy);
	lc_free(fcopy);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* ------------------------------------------------------------ files */

int wr_file_find(struct writes *w, uint64_t id, const char *name,
		 uint32_t *fidx)
{
	struct wrow *r;
	ssize_t i;
	int rc = ENOENT;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id)) && (i = file_index(r, name)) >= 0) {
		*fidx = (uint32_t)i;
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

bool wr_file_ignored(struct writes *w, uint64_t id, uint32_t fidx)
{
	struct wrow *r;
	bool ignored = false;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id)) && fidx < r->n_files &&
	    r->files[fidx].name)
		ignored = ingest_ignored(r->files[fidx].name);
	pthread_mutex_unlock(&w->mu);
	return ignored;
}

int wr_file_name(struct writes *w, uint64_t id, uint32_t fidx, char *out,
		 size_t cap)
{
	struct wrow *r;
	int rc = ESTALE;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id)) && fidx < r->n_files &&
	    r->files[fidx].name) {
		snprintf(out, cap, "%s", r->files[fidx].name);
		rc = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_file_stat(struct writes *w, uint64_t id, uint32_t fidx,
		 struct stat *st)
{
	char path[4600];
	struct wrow *r;
	struct orphan *o;
	int rc = ESTALE;

	pthread_mutex_lock(&w->mu);
	/* a landed row's files leave the staging in the background */
	if ((r = row_by_id(w, id)) && !r->landed && fidx < r->n_files &&
	    r->files[fidx].name) {
		row_path(path, sizeof(path), w, id, r->files[fidx].name);
		rc = stat(path, st) < 0 ? errno : 0;
	} else if ((o = orphan_of(w, id, fidx))) {
		rc = fstat(o->fd, st) < 0 ? errno : 0;
		st->st_nlink = 0;	/* a spare's name may still link it */
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_row_stat(struct writes *w, uint64_t id, struct stat *st)
{
	char dir[4200];

	row_path(dir, sizeof(dir), w, id, NULL);
	return stat(dir, st) < 0 ? errno : 0;
}

int wr_statvfs(struct writes *w, struct statvfs *st)
{
	return statvfs(staging_dir(w->stg), st) < 0 ? errno : 0;
}

int wr_list_files(struct writes *w, uint64_t id, uint64_t start,
		  wr_file_cb cb, void *ctx)
{
	struct listing l = { 0 };
	struct wrow *r;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	for (size_t i = (size_t)start; r && i < r->n_files && !rc; i++)
		if (r->files[i].name)
			rc = listing_add(&l, i, i, r->files[i].name, 0);
	pthread_mutex_unlock(&w->mu);
	if (!r)
		rc = ESTALE;
	for (size_t i = 0; i < l.n && !rc; i++)
		rc = cb(ctx, l.v[i].pos, (uint32_t)l.v[i].id, l.v[i].name);
	listing_free(&l);
	return rc;
}

/* Where an UPDATE row marks committed file `name` removed, or -1. Under
 * mu. */
static ssize_t removed_at(const struct wrow *r, const char *name)
{
	for (size_t i = 0; i < r->info.n_removed; i++)
		if (!strcmp(r->info.removed[i], name))
			return (ssize_t)i;
	return -1;
}

/*
 * A staged file wins over a mark that removes its name: an unlink or a
 * move out of an update marks the name before the file goes, a create
 * or a move in unmarks it after the file is there, so a kill -9 between
 * the two leaves the file and the mark, and the row is as it was before
 * the unlink or after the create.
 */
bool wr_is_removed(struct writes *w, uint64_t id, const char *name)
{
	struct wrow *r;
	bool yes;

	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	yes = r && file_index(r, name) < 0 &&
	      (removed_at(r, name) >= 0 || column_file(r, name) >= 0);
	pthread_mutex_unlock(&w->mu);
	return yes;
}

/* An update removes committed file `name` (on disk first). */
static int add_removed(struct writes *w, struct wrow *r, const char *name,
		       struct lc_err *err)
{
	char *c, **v;
	int rc;

	if (removed_at(r, name) >= 0)
		return 0;
	c = lc_strdup(name);
	v = c ? lc_realloc(r->info.removed, (r->info.n_removed + 1) *
					    sizeof(*v)) : NULL;
	if (!v) {
		lc_free(c);
		return LC_NOMEM(err);
	}
	r->info.removed = v;
	v[r->info.n_removed++] = c;
	if ((rc = staging_row_set_info(w->stg, r->id, &r->info, err)))
		lc_free(r->info.removed[--r->info.n_removed]);
	return rc;
}

/* An update's removed file `name` made again: no longer removed, on
 * disk first (an error leaves the row as it was). */
static int unremove(struct writes *w, struct wrow *r, const char *name,
		    struct lc_err *err)
{
	ssize_t k = removed_at(r, name);
	char *back;
	int rc;

	if (k < 0)
		return 0;
	back = r->info.removed[k];
	r->info.removed[k] = r->info.removed[--r->info.n_removed];
	rc = staging_row_set_info(w->stg, r->id, &r->info, err);
	if (rc) {
		r->info.removed[r->info.n_removed++] = r->info.removed[k];
		r->info.removed[k] = back;
	} else {
		lc_free(back);
	}
	return rc;
}

/* A complete staged file (it outlives a crash) drops the mark of its
 * name: the committed file it replaces is removed with it. Under mu. */
static void unmark_complete(struct writes *w, struct wrow *r,
			    const struct wfile *f)
{
	/* a commit reads the marks without the lock (fill_update); a mark
	 * it leaves is harmless, the file wins */
	if (r->committing)
		return;
	if (f->name && f->complete && !f->writers &&
	    r->info.kind == STAGING_UPDATE && removed_at(r, f->name) >= 0)
		best_effort(unremove(w, r, f->name, &(struct lc_err){ 0 }));
}

/* Whether an update removes a committed file that no staged file
 * replaces. Under mu. */
static bool removes(const struct wrow *r)
{
	for (size_t i = 0; i < r->info.n_removed; i++)
		if (file_index(r, r->info.removed[i]) < 0)
			return true;
	return false;
}

/* wr_file_open's work on row `r` (under mu; NULL: gone). */
static int open_in(struct writes *w, struct wrow *r, const char *name,
		   int flags, bool create, const struct lc_buf *seed,
		   uint32_t *fidx, int *fd, struct lc_err *err)
{
	int rc;

	if (!r)
		return ESTALE;
	if (r->info.kind == STAGING_DELETE)
		return ENOENT;
	if (r->info.kind == STAGING_FILE && strcmp(name, r->name))
		return ENOTDIR;
	if ((create || (flags & O_ACCMODE) != O_RDONLY) &&
	    (rc = changeable(r)))
		return rc;
	/* a mark of its name stays until the file is complete (a crash
	 * before drops the file: wr_is_removed, unmark_complete) */
	return open_file(w, r, name, flags, create, seed, fidx, fd, err);
}

int wr_file_open(struct writes *w, uint64_t id, const char *name, int flags,
		 bool create, const struct lc_buf *seed, uint32_t *fidx,
		 int *fd, struct lc_err *err)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	/* reading a pending row waits for no attempt either */
	rc = open_in(w, wait_to_change(w, id), name, flags, create, seed,
		     fidx, fd, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void wr_file_flushed(struct writes *w, uint64_t id, uint32_t fidx, int fd,
		     bool done)
{
	struct wrow *r;

	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	/* only when no other descriptor still writes the file */
	if (r && fidx < r->n_files && r->files[fidx].writers == 1 &&
	    (r->files[fidx].complete != done || r->files[fidx].unseen) &&
	    !staging_mark_fd(fd, !done))
		r->files[fidx].complete = done;
	pthread_mutex_unlock(&w->mu);
}

void wr_file_unseen(struct writes *w, uint64_t id, uint32_t fidx)
{
	struct wrow *r;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id)) && fidx < r->n_files)
		r->files[fidx].unseen = true;
	pthread_mutex_unlock(&w->mu);
}

/* An update that holds no file and removes none (its files reverted
 * or unlinked again). */
static bool empty_update(const struct wrow *r)
{
	return r->info.kind == STAGING_UPDATE && !removes(r) &&
	       !r->committing && !r->pending && no_files(r);
}

void wr_file_closed(struct writes *w, uint64_t id, uint32_t fidx, int fd,
		    bool writer)
{
	struct orphan *o;
	struct wrow *r;
	struct stat st;
	bool have = fd >= 0 && fstat(fd, &st) == 0;

	if (!writer) {
		if (fd >= 0) {
			close(fd);
			staging_reading(w->stg, -1);
		}
		return;
	}
	pthread_mutex_lock(&w->mu);
	if ((o = orphan_of(w, id, fidx))) {
		/* its row no longer counts it (writers_leave) */
		if (!--o->writers) {
			close(o->fd);
			*o = w->orphans[--w->n_orphans];
		}
		pthread_mutex_unlock(&w->mu);
		if (fd >= 0)
			close(fd);
		return;
	}
	r = row_by_id(w, id);
	if (r && fidx < r->n_files) {
		struct wfile *f = &r->files[fidx];

		if (f->writers)
			f->writers--;
		if (r->writers)
			r->writers--;
		if (r->held > r->writers) {
			r->held--;
			staging_row_writers(w->stg, id, -1);
		}
		if (f->name && have) {
			w->bytes += (uint64_t)st.st_size - f->size;
			f->size = (uint64_t)st.st_size;
		}
		/* writes the daemon does not see (passthrough) take the
		 * mark off, and then it goes on again here */
		if (!f->writers && fd >= 0 &&
		    (!f->complete ||
		     (f->unseen && !(have && staging_is_marked(&st)))) &&
		    !staging_mark_fd(fd, false))
			f->complete = true;
		if (!f->writers)
			f->unseen = false;
		unmark_complete(w, r, f);
		changed(w, r);
		if (!r->writers && empty_update(r) &&
		    !staging_row_remove(w->stg, id, &(struct lc_err){ 0 }))
			row_drop(w, r);	/* nothing left to change */
		else if (!r->writers)
			arm(w, over_limit(w));
		pthread_cond_broadcast(&w->cv);	/* wait_closing */
	} else if (fd >= 0) {
		best_effort(staging_mark_fd(fd, false));	/* row gone */
		staging_row_writers(w->stg, id, -1);	/* landed open */
	}
	pthread_mutex_unlock(&w->mu);
	if (fd >= 0)
		close(fd);
}

int wr_file_truncate(struct writes *w, uint64_t id, const char *name,
		     uint64_t size, struct lc_err *err)
{
	char path[4600];
	struct wrow *r;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	r = wait_to_change(w, id);
	if (!r || file_index(r, name) < 0)
		rc = r ? ENOENT : ESTALE;
	else
		rc = changeable(r);
	if (!rc) {
		struct wfile *f = &r->files[file_index(r, name)];
		int fd;

		row_path(path, sizeof(path), w, id, name);
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
			rc = errno;
		/* the cut took a closed file's mark off; an open one's
		 * goes on again at its release */
		else if (f->complete && !f->writers)
			rc = staging_mark_fd(fd, false);
		else
			f->complete = false;
		if (rc) {
			rc = LC_SYS(err, rc, "staging: %s: %s", path,
				    strerror(rc));
		} else {
			w->bytes += size - f->size;
			f->size = size;
		}
		if (fd >= 0)
			close(fd);
		changed(w, r);
		if (!r->writers)
			arm(w, false);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Whether the file at `path` has `size` bytes. */
static bool holds_size(const char *path, uint64_t size)
{
	struct stat st;

	return !stat(path, &st) && (uint64_t)st.st_size == size;
}

/* Whether the file at `path` holds exactly `want`. */
static bool holds(const char *path, const struct lc_buf *want)
{
	uint8_t buf[65536];
	struct stat st;
	size_t at = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool same = fd >= 0 && !fstat(fd, &st) &&
		    (uint64_t)st.st_size == want->len;

	while (same && at < want->len) {
		size_t n = want->len - at < sizeof(buf) ? want->len - at :
							  sizeof(buf);
		ssize_t got = pread(fd, buf, n, (off_t)at);

		same = got == (ssize_t)n && !memcmp(buf, want->data + at, n);
		at += n;
	}
	if (fd >= 0)
		close(fd);
	return same;
}

/* Whether the file of row `id` at `fidx` may be reverted: an UPDATE's,
 * written by this one handle only; *gen then (under mu). */
static struct wfile *revertible(struct writes *w, uint64_t id, uint32_t fidx,
				uint64_t *gen)
{
	struct wrow *r = row_by_id(w, id);

	if (!r || r->committing || r->pending ||
	    r->info.kind != STAGING_UPDATE ||
	    fidx >= r->n_files || !r->files[fidx].name ||
	    r->files[fidx].writers != 1 || r->files[fidx].renamed ||
	    removed_at(r, r->files[fidx].name) >= 0)
		return NULL;
	*gen = r->gen;
	return &r->files[fidx];
}

void wr_file_revert(struct writes *w, uint64_t id, uint32_t fidx,
		    const struct lc_buf *committed)
{
	struct wfile *f;
	char path[4600];
	uint64_t gen, gen2;

	pthread_mutex_lock(&w->mu);
	f = revertible(w, id, fidx, &gen);
	if (f)
		row_path(path, sizeof(path), w, id, f->name);
	pthread_mutex_unlock(&w->mu);
	/* the bytes are compared without the lock (a big file takes a
	 * while); nothing changed the row meanwhile, or it stays */
	if (!f || !holds(path, committed))
		return;
	pthread_mutex_lock(&w->mu);
	f = revertible(w, id, fidx, &gen2);
	if (f && gen2 == gen && !unlink(path)) {
		struct wrow *r = row_by_id(w, id);

		w->bytes -= f->size;
		lc_free(f->name);
		f->name = NULL;
		changed(w, r);
	}
	pthread_mutex_unlock(&w->mu);
}

/* wr_file_unlink's work on row `r`, changeable (under mu). */
static int unlink_in(struct writes *w, struct wrow *r, const char *name,
		     bool committed, struct lc_err *err)
{
	ssize_t i = file_index(r, name);
	bool mark = committed && r->info.kind == STAGING_UPDATE &&
		    removed_at(r, name) < 0;
	char path[4600];
	int rc = 0;

	if (i < 0 && !committed)
		return ENOENT;
	/* the mark before the file goes (wr_is_removed) */
	if (mark && (rc = add_removed(w, r, name, err)))
		return rc;
	if (i >= 0) {
		row_path(path, sizeof(path), w, r->id, name);
		if (r->files[i].writers &&
		    (rc = orphan_add(w, r->id, (uint32_t)i,
				     r->files[i].writers, path, err)))
			goto undo;
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = LC_SYS(err, errno, "staging: %s: %s", path,
				    strerror(errno));
			orphans_undo(w, r->files[i].writers ? 1 : 0);
			goto undo;
		}
		w->bytes -= r->files[i].size;
		lc_free(r->files[i].name);
		r->files[i].name = NULL;
		writers_leave(w, r, (size_t)i);
	}
	changed(w, r);
	arm(w, false);
	return 0;
undo:
	if (mark)
		best_effort(unremove(w, r, name, &(struct lc_err){ 0 }));
	return rc;
}

int wr_file_unlink(struct writes *w, uint64_t id, const char *name,
		   bool committed, struct lc_err *err)
{
	struct wrow *r;
	int rc;

	pthread_mutex_lock(&w->mu);
	r = wait_to_change(w, id);
	rc = !r ? ESTALE : changeable(r);
	if (!rc)
		rc = unlink_in(w, r, name, committed, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* wr_file_replace's file: `data` complete in a temporary of row `r`,
 * then renamed over `name` (under mu). */
static int replace_in(struct writes *w, struct wrow *r, const char *name,
		      const struct lc_buf *data, struct lc_err *err)
{
	ssize_t j = file_index(r, name);
	char tmp[4600], path[4600], *copy = NULL;
	uint32_t k;
	int fd, rc = 0;

	if (!name_ok(name))
		return LC_USAGE(err, "%s/%s: not a file name lancefs can "
				"stage", r->name, name);
	if ((rc = file_room(r, name, &copy, err)))	/* before it moves */
		return rc;
	row_path(tmp, sizeof(tmp), w, r->id, STAGING_FILL_TMP);
	row_path(path, sizeof(path), w, r->id, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		lc_free(copy);
		return LC_SYS(err, errno, "staging: %s: %s", tmp,
			      strerror(errno));
	}
	if (data->len && pwrite(fd, data->data, data->len, 0) !=
				 (ssize_t)data->len)
		rc = errno ? errno : EIO;
	if (!rc)
		rc = staging_mark_fd(fd, false);	/* complete */
	close(fd);
	if (!rc && j >= 0 && r->files[j].writers &&
	    (rc = orphan_add(w, r->id, (uint32_t)j, r->files[j].writers, path,
			     err))) {
		unlink(tmp);
		lc_free(copy);
		return rc;
	}
	if (!rc && rename(tmp, path) < 0) {
		rc = errno;
		orphans_undo(w, j >= 0 && r->files[j].writers ? 1 : 0);
	}
	if (rc) {
		unlink(tmp);
		lc_free(copy);
		return LC_SYS(err, rc, "staging: %s: %s", path, strerror(rc));
	}
	if (j >= 0) {
		w->bytes -= r->files[j].size;
		lc_free(r->files[j].name);
		r->files[j].name = NULL;
		writers_leave(w, r, (size_t)j);
	}
	k = file_take(r, copy);
	r->files[k].complete = true;
	r->files[k].size = data->len;
	w->bytes += data->len;
	unmark_complete(w, r, &r->files[k]);
	resume(w, r);	/* written again */
	changed(w, r);
	arm(w, over_limit(w));
	return 0;
}

int wr_file_replace(struct writes *w, uint64_t id, const char *name,
		    const struct lc_buf *data, struct lc_err *err)
{
	struct wrow *r;
	int rc;

	pthread_mutex_lock(&w->mu);
	r = wait_to_change(w, id);
	rc = !r ? ESTALE : changeable(r);
	if (!rc && r->info.kind == STAGING_DELETE)
		rc = ENOENT;
	if (!rc && r->info.kind == STAGING_FILE && strcmp(name, r->name))
		rc = ENOTDIR;
	if (!rc)
		rc = replace_in(w, r, name, data, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wr_file_rename(struct writes *w, uint64_t id, const char *name,
		   uint64_t to_id, const char *to_name, bool under,
		   struct lc_err *err)
{
	char from[4600], to[4600], *moved = NULL, *slot = NULL;
	struct wrow *a, *b;
	ssize_t i, j;
	bool mark;
	int rc = 0;

	if (!name_ok(to_name))
		return LC_USAGE(err, "%s: not a file name lancefs can stage",
				to_name);
	pthread_mutex_lock(&w->mu);
	/* neither row may be in a commit while a file moves, nor the file
	 * be about to close (an editor's rename right after close()) */
	for (bool settled = false;;) {
		a = row_by_id(w, id);
		b = row_by_id(w, to_id);
		if (a && a->committing && !a->pending) {
			wait_row(w, id);
		} else if (b && b->committing && !b->pending) {
			wait_row(w, to_id);
		} else if (a && !settled &&
			   (closing(a) || file_closing(a, name))) {
			settled = true;
			settle_row(w, id, closing(a) ? NULL : name, NULL);
		} else {
			break;
		}
	}
	if (!a || !b) {
		rc = ESTALE;
		goto out;
	}
	if ((rc = changeable(a)) || (rc = changeable(b)))
		goto out;
	if (a->info.kind == STAGING_FILE || b->info.kind == STAGING_FILE ||
	    b->info.kind == STAGING_DELETE) {
		rc = EPERM;
		goto out;
	}
	if ((i = file_index(a, name)) < 0) {
		rc = ENOENT;
		goto out;
	}
	j = file_index(b, to_name);
	if (a == b && i == j)
		goto out;	/* onto itself */
	/* a file still written moves only within its row, where it keeps
	 * its index, which its open handles hold */
	if (a->files[i].writers && a != b) {
		rc = EBUSY;
		goto out;
	}
	if (a->files[i].writers && !(moved = lc_strdup(to_name))) {
		rc = LC_NOMEM(err);
		goto out;
	}
	/* the slot it takes in `b`, before anything moves */
	if (!moved && (rc = file_room(b, to_name, &slot, err)))
		goto out;
	row_path(from, sizeof(from), w, id, name);
	row_path(to, sizeof(to), w, to_id, to_name);
	if (j >= 0 && b->files[j].writers &&
	    (rc = orphan_add(w, to_id, (uint32_t)j, b->files[j].writers, to,
			     err)))
		goto out;
	/* the committed file under it removed before the file moves
	 * (wr_is_removed) */
	mark = under && a->info.kind == STAGING_UPDATE &&
	       removed_at(a, name) < 0;
	if (mark && (rc = add_removed(w, a, name, err))) {
		orphans_undo(w, j >= 0 && b->files[j].writers ? 1 : 0);
		goto out;
	}
	if (rename(from, to) < 0) {
		rc = LC_SYS(err, errno, "staging: %s: %s", to,
			    strerror(errno));
		orphans_undo(w, j >= 0 && b->files[j].writers ? 1 : 0);
		if (mark)
			best_effort(unremove(w, a, name,
					     &(struct lc_err){ 0 }));
		goto out;
	}
	if (j >= 0) {	/* replaced */
		w->bytes -= b->files[j].size;
		lc_free(b->files[j].name);
		b->files[j].name = NULL;
		writers_leave(w, b, (size_t)j);
	}
	if (moved) {	/* its close drops a mark of the new name */
		lc_free(a->files[i].name);
		a->files[i].name = moved;
		a->files[i].renamed = true;
		moved = NULL;
	} else {
		uint64_t size = a->files[i].size;
		bool complete = a->files[i].complete;
		uint32_t k;

		lc_free(a->files[i].name);
		a->files[i].name = NULL;
		k = file_take(b, slot);
		slot = NULL;
		b->files[k].complete = complete;
		b->files[k].size = size;
		unmark_complete(w, b, &b->files[k]);
	}
	changed(w, a);
	changed(w, b);
	arm(w, false);	/* a refused row may be fixed by a rename */
out:
	pthread_mutex_unlock(&w->mu);
	lc_free(moved);
	lc_free(slot);
	return rc;
}

void wr_touch(struct writes *w, uint64_t id)
{
	struct wrow *r;

	pthread_mutex_lock(&w->mu);
	if ((r = row_by_id(w, id))) {
		resume(w, r);
		changed(w, r);
		arm(w, false);
	}
	pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------ commits */

/* An update that changes nothing (only ignored files, nothing removed)
 * is not worth a version, nor is a folder holding no file a row yet; a
 * new row with an ignored name (.DS_Store, an rsync or editor temporary
 * at the root) is never a row. */
static bool no_op(const struct wrow *r)
{
	if (r->info.kind == STAGING_FILE)
		return ingest_ignored(r->name);
	if (r->info.kind == STAGING_FOLDER && ingest_hidden(r->name))
		return true;
	if (r->info.kind == STAGING_DELETE || removes(r))
		return false;
	/* an update, or a folder, holding no file ingest reads (rsync and
	 * tar make every folder before their files; an explicit commit
	 * between would make all-null rows, and of a new dataset's first
	 * version a table of names) */
	for (size_t i = 0; i < r->n_files; i++)
		if (r->files[i].name && !ingest_ignored(r->files[i].name))
			return false;
	return true;
}

/* Whether row r is closed, and in no commit: a commit takes it once it
 * settles. */
static bool closed(const struct wrow *r)
{
	return !r->committing && !no_op(r) && !r->writers &&
	       !r->info.interrupted;
}

/* Whether row r has been still long enough for a commit: for an
 * explicit one (`now`) settled, for the quiet period's WR_SETTLE. */
static bool still(const struct writes *w, const struct wrow *r, bool now)
{
	return now ? settled(w, r) : lc_since(&r->last) >= WR_SETTLE;
}

/* Whether a commit takes row r: `force` at once; an explicit one (`now`)
 * every row settled, also those it refused before; the quiet period's
 * those quiet for WR_SETTLE. Under mu. */
static bool ready(const struct writes *w, const struct wrow *r,
		  uint64_t force, bool now)
{
	if (r->id == force)
		return !r->committing && !no_op(r);
	if (!closed(r))
		return false;
	if (!now && r->refused_gen && r->refused_gen == r->gen)
		return false;	/* refused, unchanged since */
	return still(w, r, now);
}

/* Whether row r waits only to settle before a commit takes it (not
 * when a commit refused it and it has not changed since). */
static bool settling(const struct wrow *r)
{
	return closed(r) && (!r->refused_gen || r->refused_gen != r->gen);
}

/* The thread asking for a commit (wr_caller), and the process that ran
 * it where that one has a single thread, which then waits for it (the
 * shell of `echo > FILE; lancefs commit`, a script's subprocess.run):
 * what they wrote is settled. Not further up, nor a process of several
 * threads, one of which may be writing on. Into w->askers (commit_mu
 * held). */
static void ask_of(struct writes *w)
{
	long parent = caller ? lc_proc_stat_num(caller, 2) : -1;

	w->n_askers = 0;
	if (caller)
		w->askers[w->n_askers++] = caller;
	if (parent > 1 && lc_proc_stat_num((pid_t)parent, 18) == 1)
		w->askers[w->n_askers++] = (pid_t)parent;
}

/* An explicit commit waits (w->mu held, let go while waiting), WR_SETTLE
 * at most, for closed rows to settle: a program that just wrote one and
 * goes on with it, or is still copying it, is not cut between files. */
static void wait_settled(struct writes *w)
{
	struct timespec until, t;

	now_mono(&until);
	lc_add_secs(&until, WR_SETTLE);
	lc_wait_begin();
	for (;;) {
		bool all = true;

		/* settled first: most rows are, at their time */
		for (size_t i = 0; i < w->n_rows && all; i++)
			all = settled(w, w->rows[i]) || w->rows[i]->pending ||
			      !closed(w->rows[i]);
		now_mono(&t);
		if (all || !earlier(&t, &until))
			break;
		/* a thread's end is not told: look again soon (w->cv
		 * waits by the monotonic clock) */
		lc_add_secs(&t, 0.01);
		pthread_cond_timedwait(&w->cv, &w->mu, &t);
	}
	lc_wait_end();
}

/* An explicit commit right after close() must take the closed rows:
 * wait (w->mu held, let go while waiting, so rows may come meanwhile), a
 * moment at most, for the releases of the rows closing now, not of those
 * closed later. */
static void wait_closing(struct writes *w)
{
	uint64_t *ids = lc_malloc((w->n_rows ? w->n_rows : 1) * sizeof(*ids));
	struct timespec until;
	size_t n = 0;

	if (!ids)
		return;		/* no wait: those rows wait for the next */
	for (size_t i = 0; i < w->n_rows; i++)
		if (closing(w->rows[i]))
			ids[n++] = w->rows[i]->id;
	now_mono(&until);
	lc_add_secs(&until, WR_SETTLE);
	for (size_t k = 0; k < n; k++)
		settle_row(w, ids[k], NULL, &until);
	lc_free(ids);
}

struct refusals {
	struct writes *w;
	uint64_t force;
	bool force_refused;
	size_t n;
	size_t unchanged;	/* rows left out as unchanged */
};

static void on_refused(void *ctx, uint64_t id, const char *name,
		       const struct lc_err *why)
{
	struct refusals *f = ctx;
	struct writes *w = f->w;
	struct wrow *r;

	(void)name;
	note(w, why);
	syslog(LOG_WARNING, "%s%s", why->code == ENOENT ? "" : "refused: ",
	       why->msg);
	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	if (r && why->code == ENOENT && r->info.kind == STAGING_DELETE) {
		/* its row is gone already: left out, and dropped with the
		 * rows left out unchanged (drop_unchanged) */
		r->same_now = true;
		r->same_gen = r->gen;
		f->unchanged++;
		pthread_mutex_unlock(&w->mu);
		return;
	}
	if (r) {
		struct wrow *o = row_by_name(w, r->name);

		r->refused_gen = r->gen;
		r->refused_now = true;
		/* its row is gone: listed by name, unless a staged row
		 * has that name */
		if (why->code == ESTALE && at_base(r) && !o &&
		    r->info.kind == STAGING_UPDATE) {
			row_unlink(w, r);
			r->gone = true;
			row_link(w, r);
		}
	}
	lc_free(w->refusal);
	w->refusal = lc_strdup(why->msg);
	pthread_mutex_unlock(&w->mu);
	if (id == f->force)
		f->force_refused = true;
	f->n++;
}

/* Ingest asks, once an update's committed row passed its check: one
 * whose files hold that row's values is left out (and then goes). */
static bool on_unchanged(void *ctx, uint64_t id)
{
	struct refusals *f = ctx;
	struct wrow *r;
	bool same;

	pthread_mutex_lock(&f->w->mu);
	r = row_by_id(f->w, id);
	same = r && r->same;
	if (same)
		r->same_now = true;
	pthread_mutex_unlock(&f->w->mu);
	f->unchanged += same;
	return same;
}

/* Ingest tells where a row landed. One with a file still open (an
 * fsync commits its own row while the file is written), or closed since
 * the commit took it (the commit may have read part of what was
 * written), stays staged as an update of the row it landed as, its
 * record rewritten first, so what is written after the fsync commits too
 * (found by its address there: its number is not recorded). Staying
 * when nothing changed costs only a check: the update commits nothing. */
static bool on_landed(void *ctx, uint64_t id, uint64_t version,
		      uint64_t frag, uint64_t off, uint64_t key, bool revoke)
{
	struct refusals *f = ctx;
	struct writes *w = f->w;
	struct staging_info info = { .kind = STAGING_UPDATE };
	struct wrow *r;
	bool stays = false;

	pthread_mutex_lock(&w->mu);
	r = row_by_id(w, id);
	if (revoke && r && r->stays) {
		r->stays = false;
		w->n_staying--;
	} else if (!revoke && r && (r->writers || r->gen != r->claimed_gen) &&
		   (r->info.kind == STAGING_FOLDER ||
		    r->info.kind == STAGING_UPDATE)) {
		info.base.version = version;
		info.base.fragment_id = frag;
		info.base.offset = off;
		info.base.key = key;
		stays = !staging_row_set_info(w->stg, id, &info,
					      &(struct lc_err){ 0 });
		if (stays) {
			r->stays = true;
			r->stay = info.base;
			w->n_staying++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return stays;
}

static void hand_over(struct writes *w);

/* Drop the rows of ids[n] the commit left out as unchanged, with their
 * folders, unless changed or opened since. The mount forgets the names
 * of what they held that the row does not (hidden files, backups): the
 * thread tells it, as after a commit. */
static void drop_unchanged(struct writes *w, const uint64_t *ids, size_t n)
{
	pthread_rwlock_wrlock(&w->listing);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < n; i++) {
		struct wrow *r = row_by_id(w, ids[i]);

		/* (a retry after a conflict may have refused it since) */
		if (r && r->same_now && !r->refused_now &&
		    r->gen == r->same_gen &&
		    !r->writers && !r->committing && !r->pending &&
		    !staging_row_remove(w->stg, r->id, &(struct lc_err){ 0 })) {
			row_drop(w, r);
			w->moved = true;
		}
	}
	if (w->moved)
		pthread_cond_signal(&w->tick);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_rwlock_unlock(&w->listing);
}

/* Copy into an UPDATE row's folder the committed files it neither
 * replaces nor removes, so that the folder holds the whole row. */
struct fill {
	struct writes *w;
	struct wrow *r;		/* committing: only read here */
	struct lc_err *err;
	int rc;
	char **copied;		/* committed files written to the folder */
	size_t n_copied;
	json_t *user_meta;	/* the meta.json the user wrote, or NULL */
	const struct lance_schema *schema;	/* the committed row's */
	/* whether the user's files hold what the committed row's do:
	 * those that did (a file of the same name, or COL.txt the
	 * string in its meta.json), whether one did not */
	bool *matched;
	bool differ;
	json_t *theirs_meta;	/* the committed meta.json, parsed */
};

/* Whether JSON value u (the user's) is c (rendered from the committed
 * row), as ingest sees them: equal, of the same type (an integer is not
 * a real: a JSON column keeps which it was), -0.0 not 0.0. */
static bool json_same(const json_t *u, const json_t *c)
{
	if (json_is_real(u) && json_is_real(c))
		return json_real_value(u) == json_real_value(c) &&
		       signbit(json_real_value(u)) ==
			       signbit(json_real_value(c));
	if (json_is_array(u) && json_is_array(c)) {
		if (json_array_size(u) != json_array_size(c))
			return false;
		for (size_t i = 0; i < json_array_size(u); i++)
			if (!json_same(json_array_get(u, i),
				       json_array_get(c, i)))
				return false;
		return true;
	}
	if (json_is_object(u) && json_is_object(c)) {
		const char *k;
		json_t *v;

		if (json_object_size(u) != json_object_size(c))
			return false;
		json_object_foreach((json_t *)u, k, v)
			if (!json_object_get(c, k) ||
			    !json_same(v, json_object_get(c, k)))
				return false;
		return true;
	}
	return json_equal((json_t *)u, (json_t *)c);
}

/* JSON as ingest reads meta.json (a NUL in a string is a value, a byte
 * order mark is skipped). */
static json_t *meta_parse(const struct lc_buf *text)
{
	json_error_t je;
	size_t bom = text->len >= 3 && !memcmp(text->data, "\xef\xbb\xbf", 3) ?
			     3 : 0;

	return json_load_big(text->data + bom, text->len - bom,
			     JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
}

/*
 * Whether the user's meta.json, f->user_meta, gives row r the values of
 * the committed one, f->theirs_meta: each key it has names a column
 * holding that value. A column it leaves out keeps its value
 * (meta_merge).
 */
static bool meta_same(const struct fill *f)
{
	const json_t *c = f->theirs_meta, *u = f->user_meta;
	bool same = json_is_object(u) && json_is_object(c);
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)u, k, v) {
		if (!same)
			break;
		same = json_object_get(c, k) &&
		       json_same(v, json_object_get(c, k));
	}
	return same;
}

/* Read file `path` whole into b (initialized): false when it cannot. */
static bool read_whole(struct lc_buf *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && !lc_buf_read_fd(b, fd, &(struct lc_err){ 0 });

	if (fd >= 0)
		close(fd);
	return ok;
}

/* The column a row's file `name` holds, its meta.json key, in `key` (cap
 * bytes): the column whose file stem the view makes is the name's without
 * its extension (a%2Fb.txt: "a/b"), or that stem itself. False where the
 * name has no extension. */
static bool file_key(const struct lance_schema *s, const char *name,
		     char *key, size_t cap)
{
	const char *dot = strrchr(name, '.');
	size_t n = dot && dot != name ? (size_t)(dot - name) : 0;

	for (size_t i = 0; n && s && i < s->n_top; i++) {
		char *e = render_column_stem(s->top[i]->name);
		bool same = e && strlen(e) == n && !memcmp(e, name, n);

		lc_free(e);
		if (same) {
			snprintf(key, cap, "%s", s->top[i]->name);
			return true;
		}
	}
	snprintf(key, cap, "%.*s", (int)n, name);
	return n > 0;
}

/* The committed file `node` into b, its values exact (NaN and
 * infinities kept, not made null). */
static int read_theirs(struct fill *f, const struct vnode *node,
		       struct lc_buf *b, struct lc_err *err)
{
	int rc;

	render_exact(true);
	rc = view_read_file(b, f->w->v, node, err);
	render_exact(false);
	return rc;
}

/* Whether the user's COL.txt, where the committed row has no such file
 * (a string column in meta.json), holds the string meta.json shows. */
static bool text_same(const struct fill *f, const char *name)
{
	const char *dot = strrchr(name, '.');
	const struct lance_field *col = NULL;
	json_t *v = NULL;
	struct lc_buf want = { 0 };
	char path[4600], key[4096];

	if (dot && !strcmp(dot, ".txt") && f->theirs_meta &&
	    file_key(f->schema, name, key, sizeof(key))) {
		v = json_object_get(f->theirs_meta, key);
		col = lance_schema_field_by_name(f->schema, key);
	}
	/* only a string column takes COL.txt */
	if (!json_is_string(v) || !col || col->type.id != LANCE_T_UTF8 ||
	    col->type.json)
		return false;
	row_path(path, sizeof(path), f->w, f->r->id, name);
	want.data = (uint8_t *)json_string_value(v);	/* read only */
	want.len = json_string_length(v);
	return holds(path, &want);
}

/* Whether the user's file `name` of the row holds what the committed
 * one, `node`, does (meta.json: the same values, which fill_cb read). */
static bool file_same(struct fill *f, const char *name,
		      const struct vnode *node)
{
	struct lc_buf theirs;
	struct view_attr a;
	char path[4600];
	bool same;

	if (!strcmp(name, "meta.json"))
		return meta_same(f);
	row_path(path, sizeof(path), f->w, f->r->id, name);
	/* another size differs, unread */
	if (view_getattr(&a, f->w->v, node, &(struct lc_err){ 0 }) ||
	    !holds_size(path, a.size))
		return false;
	lc_buf_init(&theirs, 0);
	same = !read_theirs(f, node, &theirs, &(struct lc_err){ 0 }) &&
	       holds(path, &theirs);
	lc_buf_reset(&theirs);
	return same;
}

/* True when the user's own meta.json sets the column a committed file
 * (caption.txt with text_files=) would: what the user wrote wins. */
static bool user_meta_sets(const struct fill *f, const char *file)
{
	char key[4096];

	return f->user_meta && file_key(f->schema, file, key, sizeof(key)) &&
	       json_object_get(f->user_meta, key) != NULL;
}

/* The i-th name row r touches: its files, then those it removed (NULL
 * past both, or for a file slot now empty). */
static const char *touched_name(const struct wrow *r, size_t i)
{
	if (i < r->n_files)
		return r->files[i].name;
	i -= r->n_files;
	return i < r->info.n_removed ? r->info.removed[i] : NULL;
}

/*
 * Drop from JSON object j the keys of the columns that files set: those
 * row r's user wrote (caption.txt, a new image.png) or removed by
 * unlinking their file (the file wins, or its absence), and `more`, the
 * committed files copied beside them (caption.txt with text_files=).
 */
static void drop_file_keys(json_t *j, const struct wrow *r,
			   const struct lance_schema *s, char *const *more,
			   size_t n_more)
{
	size_t n_touched = r->n_files + r->info.n_removed;

	for (size_t i = 0; i < n_touched + n_more; i++) {
		const char *n = i < n_touched ? touched_name(r, i) :
						more[i - n_touched];
		char key[4096];

		/* meta.json itself, and files ingest does not read */
		if (n && strcmp(n, "meta.json") && !ingest_ignored(n) &&
		    file_key(s, n, key, sizeof(key)))
			json_object_del(j, key);
	}
}

/* Put JSON object j as meta.json text into b (initialized). */
static int meta_text(struct lc_buf *b, const json_t *j, struct lc_err *err)
{
	char *text = json_dumps_big(j, JSON_COMPACT | JSON_ENSURE_ASCII |
					       JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return LC_NOMEM(err);
	rc = lc_buf_append(b, text, strlen(text), err);
	free(text);
	return rc;
}

/* Write `name` of the update's folder: made whole beside, then named (a
 * crash meanwhile leaves no file of the row cut short, which the next
 * mount would hold back as the user's unfinished write, only staging's
 * own temporary). */
static int fill_write(struct fill *f, const char *name, const struct lc_buf *b)
{
	char path[4600], tmp[4600];
	int fd, rc = 0;

	row_path(path, sizeof(path), f->w, f->r->id, name);
	row_path(tmp, sizeof(tmp), f->w, f->r->id, STAGING_FILL_TMP);
	errno = 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b->data, b->len) != (ssize_t)b->len ||
	    staging_mark_fill_fd(fd) || rename(tmp, path) < 0)
		rc = LC_SYS(f->err, errno ? errno : EIO, "staging: %s: %s",
			    path, strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

static int fill_cb(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct fill *f = ctx;
	struct lc_buf b;
	ssize_t mine;
	int rc;

	(void)index;
	/* the committed values, which the update's meta.json starts from
	 * (meta_merge): without them what the user's leaves out would be
	 * nulled, so a read that fails fails the fill */
	if (!strcmp(name, "meta.json")) {
		lc_buf_init(&b, 0);
		rc = read_theirs(f, node, &b, f->err);
		if (!rc && !(f->theirs_meta = meta_parse(&b)))
			rc = LC_SYS(f->err, EIO, "%s: the committed meta.json "
				    "does not parse", f->r->name);
		lc_buf_reset(&b);
		if ((f->rc = rc))
			return rc;
	}
	if ((mine = file_index(f->r, name)) >= 0 ||
	    (mine = column_file(f->r, name)) >= 0) {
		if (!f->differ && f->matched &&
		    file_same(f, f->r->files[mine].name, node))
			f->matched[mine] = true;
		else
			f->differ = true;
		return 0;
	}
	if (!strcmp(name, "meta.json"))
		return 0;	/* meta_merge writes the update's */
	if (removed_at(f->r, name) >= 0 || user_meta_sets(f, name))
		return 0;
	lc_buf_init(&b, 0);
	rc = read_theirs(f, node, &b, f->err);
	if (!rc) {
		char **v = lc_realloc(f->copied, (f->n_copied + 1) *
						 sizeof(*v));

		if (!v || !(v[f->n_copied] = lc_strdup(name))) {
			if (v)
				f->copied = v;
			rc = LC_NOMEM(f->err);
		} else {
			f->copied = v;
			f->n_copied++;
		}
	}
	if (!rc)
		rc = fill_write(f, name, &b);
	lc_buf_reset(&b);
	f->rc = rc;
	return rc;
}

/* Whether the user's meta.json value v of key k gives way to a file:
 * k is a string column whose COL.txt the user wrote or removed, and v
 * its committed value (meta_merge). */
static bool yields(const struct fill *f, const char *k, const json_t *v)
{
	const struct lance_field *col = lance_schema_field_by_name(f->schema,
								   k);
	char key[4096];
	const char *name, *dot;

	if (!col || col->type.id != LANCE_T_UTF8 || col->type.json ||
	    !json_same(v, json_object_get(f->theirs_meta, k)))
		return false;
	for (size_t i = 0; i < f->r->n_files + f->r->info.n_removed; i++)
		if ((name = touched_name(f->r, i)) &&
		    (dot = strrchr(name, '.')) && !strcmp(dot, ".txt") &&
		    file_key(f->schema, name, key, sizeof(key)) &&
		    !strcmp(key, k))
			return true;
	return false;
}

/*
 * The user's meta.json written into a committed row sets what it says:
 * a column it has no key for keeps its committed value (write null to
 * clear one). So a copier that writes a row's files in turn, with a
 * commit between caption.txt and a meta.json without a caption, loses
 * nothing. Ingest reads the merge (STAGING_META_FILL): the committed
 * values, less the columns files set, under the user's. Where the user's
 * still holds the committed string of a column whose COL.txt the user
 * wrote or removed (the meta.json shown holds the committed values until
 * the commit: an edit of another key keeps it), the file, or its
 * absence, wins. A value the user changed there stays, and must agree
 * with a written file.
 */
static int meta_merge(struct fill *f)
{
	json_t *mine;
	const char *k;
	json_t *v;
	struct lc_buf b;
	int rc = 0;

	/* none committed (binary columns alone); the user's is bad (ingest
	 * reads it, and says why); or the user removed it, which clears
	 * its columns */
	if (!json_is_object(f->theirs_meta) ||
	    (file_index(f->r, "meta.json") >= 0 ?
		     !json_is_object(f->user_meta) :
		     removed_at(f->r, "meta.json") >= 0))
		return 0;
	if (!(mine = json_deep_copy(f->theirs_meta)))
		return LC_NOMEM(f->err);
	drop_file_keys(mine, f->r, f->schema, f->copied, f->n_copied);
	json_object_foreach(f->user_meta, k, v) {
		if (yields(f, k, v))
			continue;
		if (json_object_set(mine, k, v)) {
			rc = LC_NOMEM(f->err);
			break;
		}
	}
	lc_buf_init(&b, 0);
	if (!rc)
		rc = meta_text(&b, mine, f->err);
	if (!rc)
		rc = fill_write(f, STAGING_META_FILL, &b);
	lc_buf_reset(&b);
	json_decref(mine);
	return rc;
}

/*
 * Fill the folder of update r for ingest; *same: its files hold what the
 * committed row's do (cp -r or rsync of rows again), and it removes
 * none, so that it changes nothing.
 */
static int fill_update(struct writes *w, struct wrow *r, bool *same,
		       struct lc_err *err)
{
	struct fill f = { .w = w, .r = r, .err = err };
	struct vnode root, row;
	char stale[4600];
	int rc;

	/* an earlier attempt's, which a crash left */
	row_path(stale, sizeof(stale), w, r->id, STAGING_META_FILL);
	unlink(stale);
	rc = view_ds_root(&root, w->ds, r->info.base.version, err);
	*same = false;
	/* no such version, or one of another table (made anew in the
	 * dataset's place): nothing of it to fill, and ingest refuses the
	 * change (check_base) */
	if (rc == ENOENT) {
		lc_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	if (view_other_table(&root, r->info.base.version,
			     r->info.base.fragment_id, r->info.base.key)) {
		vnode_reset(&root);
		return 0;
	}
	/* the row's snapshot's, which holds it until reset */
	f.schema = &view_manifest(&root)->schema;
	rc = view_row_at(&row, &root, r->info.base.fragment_id,
			 r->info.base.offset, err);
	vnode_reset(&root);
	if (rc == ENOENT)
		return 0;	/* gone: ingest refuses the row */
	if (rc)
		return rc;
	if (file_index(r, "meta.json") >= 0) {
		char path[4600];
		struct lc_buf text;

		/* a bad one is refused by ingest, with the reason */
		row_path(path, sizeof(path), w, r->id, "meta.json");
		lc_buf_init(&text, 0);
		if (read_whole(&text, path))
			f.user_meta = meta_parse(&text);
		lc_buf_reset(&text);
	}
	f.matched = removes(r) ? NULL :
		    lc_calloc(r->n_files ? r->n_files : 1, sizeof(bool));
	/* meta.json comes last, after the files it must give way to */
	rc = view_readdir(w->v, &row, 0, fill_cb, &f, err);
	if (!rc && !f.rc)
		rc = meta_merge(&f);
	*same = !rc && !f.rc && !f.differ && f.matched;
	for (size_t i = 0; *same && i < r->n_files; i++)
		*same = f.matched[i] || !r->files[i].name ||
			ingest_ignored(r->files[i].name) ||
			text_same(&f, r->files[i].name);
	vnode_reset(&row);
	lc_free(f.matched);
	json_decref(f.theirs_meta);
	for (size_t i = 0; i < f.n_copied; i++)
		lc_free(f.copied[i]);
	lc_free(f.copied);
	json_decref(f.user_meta);
	return rc ? rc : f.rc;
}

/* Take back what fill_update copied into a row that stays staged: the
 * folder holds the user's files only, or a later unlink of a committed
 * file would be undone by its stale copy. Under mu. */
static void unfill(struct writes *w, struct wrow *r)
{
	char dir[4200], path[4600];
	struct dirent *de;
	DIR *d;

	row_path(dir, sizeof(dir), w, r->id, NULL);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		/* committed files never start with a dot; staging's do */
		if ((de->d_name[0] == '.' &&
		     strcmp(de->d_name, STAGING_META_FILL)) ||
		    file_index(r, de->d_name) >= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* A landed row that stays (on_landed): now an update of the row it
 * landed as, holding its files as they are (under mu, the view on the
 * version it landed in). */
static void row_stays(struct writes *w, struct wrow *r)
{
	if (r->info.kind == STAGING_UPDATE)
		unfill(w, r);
	row_unlink(w, r);
	for (size_t i = 0; i < r->info.n_removed; i++)
		lc_free(r->info.removed[i]);
	lc_free(r->info.removed);
	r->info.removed = NULL;
	r->info.n_removed = 0;
	r->info.kind = STAGING_UPDATE;
	r->info.base = r->stay;
	r->info.interrupted = false;	/* as its record (on_landed) */
	r->stays = false;
	w->n_staying--;
	r->landed = 0;
	r->same = false;
	unclaim(w, r);
	row_link(w, r);
	changed(w, r);
	arm(w, false);
}

/* Move the view to the newest version; the thread tells the mount. */
static int follow(struct writes *w, bool landed, struct lc_err *err)
{
	bool moved;
	int rc = view_ds_refresh(&moved, w->ds, err);

	if (!rc && (moved || landed)) {
		pthread_mutex_lock(&w->mu);
		w->moved = true;
		pthread_cond_signal(&w->tick);
		pthread_mutex_unlock(&w->mu);
	}
	return rc;
}

/* Under w->mu: row `r` goes in the commit being planned, ids[*n]. */
static void claim(struct writes *w, struct wrow *r, uint64_t *ids, size_t *n)
{
	/* an fsync commits a file still open: its folder must not become
	 * another row's while it may be written */
	if (r->writers > r->held) {
		staging_row_writers(w->stg, r->id, (int)(r->writers - r->held));
		r->held = r->writers;
	}
	r->claimed = row_bytes(r);
	r->claimed_gen = r->gen;
	w->held_rows++;
	w->held_bytes += r->claimed;
	r->committing = true;
	r->refused_now = r->same = r->same_now = false;
	ids[(*n)++] = r->id;
}

/* Under w->mu: the rows of batch `b` are (or no longer are) pending. */
static void mark_pending(struct writes *w, const struct staging_batch *b,
			 bool on)
{
	for (size_t i = 0; i < b->n_rows; i++) {
		struct wrow *r = row_by_id(w, b->rows[i]);

		if (r)
			r->pending = on;
	}
}

/* Under w->mu: rows `ids` went out in attempt `a`, whose outcome is
 * unknown. */
static void pending_add(struct writes *w, const struct ingest_attempt *a,
			const uint64_t *ids, size_t n)
{
	struct staging_batch *v = lc_realloc(w->pending, (w->n_pending + 1) *
						       sizeof(*v));
	struct staging_batch *b;

	if (!v)
		return;	/* the record stays: the next mount settles it */
	w->pending = v;
	b = &v[w->n_pending];
	memset(b, 0, sizeof(*b));
	if (!(b->rows = lc_malloc((n ? n : 1) * sizeof(*ids))))
		return;
	memcpy(b->rows, ids, n * sizeof(*ids));
	b->n_rows = n;
	b->read_version = a->since;
	memcpy(b->uuid, a->uuid, sizeof(b->uuid));
	w->n_pending++;
	mark_pending(w, b, true);
}

static int commit_ids(struct writes *w, uint64_t *ids, size_t n,
		      uint64_t force, struct ingest_attempt *again,
		      uint64_t *version, struct lc_err *err);

/* The oldest attempt of unknown outcome, made again (or found landed). */
static int commit_pending(struct writes *w, uint64_t *version,
			  struct lc_err *err)
{
	struct staging_batch *b = &w->pending[0];
	struct ingest_attempt a = { .since = b->read_version };
	uint64_t *ids = lc_malloc((b->n_rows ? b->n_rows : 1) * sizeof(*ids));
	size_t n = 0;
	int rc;

	if (!ids)
		return LC_NOMEM(err);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < b->n_rows; i++) {
		struct wrow *r = row_by_id(w, b->rows[i]);

		if (r && !r->committing)
			claim(w, r, ids, &n);
	}
	pthread_mutex_unlock(&w->mu);
	memcpy(a.uuid, b->uuid, sizeof(a.uuid));
	rc = commit_ids(w, ids, n, 0, &a, version, err);
	if (!a.uuid[0]) {	/* settled */
		pthread_mutex_lock(&w->mu);
		mark_pending(w, b, false);
		pthread_mutex_unlock(&w->mu);
		staging_batch_reset(b);
		memmove(w->pending, w->pending + 1,
			--w->n_pending * sizeof(*w->pending));
	}
	return rc;
}

/* Rows whose last commit refused them and that were not changed since
 * (w->mu held). */
static size_t refused_rows(const struct writes *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_rows; i++)
		n += w->rows[i]->refused_gen &&
		     w->rows[i]->refused_gen == w->rows[i]->gen;
	return n;
}

/* A commit's failure, where users look for it: the status's last error
 * and .lancefs/errors (refused rows are noted one by one). */
static void failed(struct writes *w, const struct lc_err *err)
{
	pthread_mutex_lock(&w->mu);
	lc_free(w->failure);
	w->failure = lc_strdup(err->msg);
	w->failures++;
	pthread_mutex_unlock(&w->mu);
	note(w, err);
}

/* Whether row r is an update of a committed row holding nothing but
 * ignored files (an rsync --inplace of the row as it is, with its
 * .DS_Store), settled: it changes nothing, and a commit drops it as
 * unchanged, its files with it. Under mu. */
static bool junk_update(const struct writes *w, const struct wrow *r,
			bool now)
{
	return r->info.kind == STAGING_UPDATE && no_op(r) &&
	       !r->committing && !r->writers && !r->info.interrupted &&
	       still(w, r, now);
}

/* Whether no row would go in a commit (what status counts as staged
 * rows), nor a pending attempt. Under commit_mu. */
static bool nothing_staged(struct writes *w)
{
	bool none = !w->n_pending;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; none && i < w->n_rows; i++)
		none = no_op(w->rows[i]);
	pthread_mutex_unlock(&w->mu);
	return none;
}

static int commit_locked(struct writes *w, uint64_t force, bool now,
			 uint64_t *version, struct lc_err *err)
{
	struct lc_err perr = { 0 };
	uint64_t *ids, failures;
	size_t n = 0, junk = 0;
	struct wrow *forced;
	int rc, prc = 0;

	*version = 0;
	pthread_mutex_lock(&w->mu);
	failures = w->failures;
	pthread_mutex_unlock(&w->mu);
	/* what others committed since, so that our plan starts there; a
	 * store that cannot tell is the commit's failure, said where
	 * commits' failures are (its rows stay staged), unless nothing is
	 * staged: then there is nothing to fail (an unmount of a dataset
	 * deleted under the mount) */
	rc = follow(w, false, err);
	if (rc && nothing_staged(w)) {
		lc_err_clear(err);
		return 0;
	}
	if (rc) {
		lc_err_prefix(err, "commit: ");
		failed(w, err);
		return rc;
	}
	/* pending attempts first; one that fails again does not hold
	 * back the other rows (its own stay out of their commit) */
	for (size_t k = w->n_pending; k && !prc; k--)
		prc = commit_pending(w, version, &perr);
	pthread_mutex_lock(&w->mu);
	forced = force ? row_by_id(w, force) : NULL;
	if (prc && forced && forced->pending) {	/* its fsync fails */
		pthread_mutex_unlock(&w->mu);
		*err = perr;
		return prc;
	}
	if (now) {
		wait_closing(w);
		pthread_mutex_unlock(&w->mu);
		ask_of(w);
		pthread_mutex_lock(&w->mu);
		wait_settled(w);
	}
	/* sized after the waits, which let mu go; junk updates from the
	 * end down */
	ids = lc_malloc((w->n_rows ? w->n_rows : 1) * sizeof(*ids));
	if (!ids) {
		pthread_mutex_unlock(&w->mu);
		return LC_NOMEM(err);
	}
	for (size_t i = 0; i < w->n_rows; i++) {
		struct wrow *r = w->rows[i];

		if (r->pending)
			continue;
		if (ready(w, r, force, now)) {
			claim(w, r, ids, &n);
		} else if (!force && junk_update(w, r, now)) {
			r->same_now = true;
			r->same_gen = r->gen;
			r->refused_now = false;
			ids[w->n_rows - ++junk] = r->id;
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (junk)
		drop_unchanged(w, ids + w->n_rows - junk, junk);
	if (!n) {
		lc_free(ids);
		rc = prc;
		if (prc)
			*err = perr;
	} else {
		rc = commit_ids(w, ids, n, force, NULL, version, err);
		if (!rc && prc && !force) {	/* all was asked for */
			*err = perr;
			rc = prc;
		}
	}
	pthread_mutex_lock(&w->mu);
	/* nothing failed (rows refused are no failure): none stands */
	if (w->failures == failures && !prc && !w->n_pending) {
		lc_free(w->failure);
		w->failure = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/*
 * Where the dataset holds a column the writer cannot write (new rows and
 * edits are refused at once, can_write; or another writer added it
 * since), a row that needs data files (new, or an update: an unlink
 * without the rmdir of rm -r) is refused and stays staged; deletions go
 * on. Drops such rows from ids (marked committing; released here).
 */
static void refuse_unwritable(struct writes *w, struct refusals *f,
			      uint64_t *ids, size_t *n)
{
	struct lc_err why = { 0 };
	struct vnode root;
	int rc;

	if (view_ds_root(&root, w->ds, 0, &why))
		return;		/* the commit says what is wrong */
	rc = view_manifest(&root)->version ?
		     ingest_writable(view_manifest(&root), &why) : 0;
	vnode_reset(&root);
	for (size_t i = 0; rc && i < *n; i++) {
		struct lc_err e = why;
		struct wrow *r;

		pthread_mutex_lock(&w->mu);
		r = row_by_id(w, ids[i]);
		pthread_mutex_unlock(&w->mu);
		if (!r || r->info.kind == STAGING_DELETE)
			continue;
		lc_err_prefix(&e, "%s: rows cannot be added to or changed in "
			      "this dataset (only deleted): ", r->name);
		on_refused(f, r->id, r->name, &e);
		pthread_mutex_lock(&w->mu);
		unclaim(w, r);
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		memmove(ids + i, ids + i + 1, (*n - i - 1) * sizeof(*ids));
		(*n)--;
		i--;
	}
}

/* Commit the rows `ids` (marked committing; the array is freed): a new
 * transaction, or `again` (ingest_commit_rows's, updated as it says).
 * A new one whose outcome stays unknown makes its rows pending. */
static int commit_ids(struct writes *w, uint64_t *ids, size_t n,
		      uint64_t force, struct ingest_attempt *again,
		      uint64_t *version, struct lc_err *err)
{
	struct refusals f = { w, force, false, 0, 0 };
	struct ingest_attempt a = { 0 }, first = { 0 };
	uint64_t n_done = 0;
	struct vnode root = { 0 };
	int rc = 0;

	if (again)
		a = first = *again;
	if (!first.uuid[0])
		refuse_unwritable(w, &f, ids, &n);
	for (size_t i = 0; i < n; i++) {
		struct lc_err why = { 0 };
		struct wrow *r;
		uint64_t gen = 0;
		bool same;

		pthread_mutex_lock(&w->mu);
		r = row_by_id(w, ids[i]);
		if (r)
			gen = r->gen;
		pthread_mutex_unlock(&w->mu);
		if (!r || r->info.kind != STAGING_UPDATE)
			continue;
		if (!fill_update(w, r, &same, &why)) {
			/* as compared: not closed since; not in a retried
			 * attempt, whose record has it. One still open (an
			 * fsync's) is left out and stays staged: what is
			 * written after commits next time */
			pthread_mutex_lock(&w->mu);
			r->same = same && r->gen == gen && !first.uuid[0];
			r->same_gen = gen;
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		/* without its committed values the row would lose them:
		 * it waits, staged */
		lc_err_prefix(&why, "%s: cannot read the committed row: ",
			      r->name);
		on_refused(&f, r->id, r->name, &why);
		pthread_mutex_lock(&w->mu);
		unfill(w, r);
		unclaim(w, r);
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		memmove(ids + i, ids + i + 1, (n - i - 1) * sizeof(*ids));
		n--;
		i--;
	}
	if (!n && !first.uuid[0])	/* an attempt settles even so */
		goto out;
	for (int attempt = 0; !rc; attempt++) {
		const struct lance_manifest *m;

		rc = view_ds_root(&root, w->ds, 0, err);
		if (rc)
			break;
		m = view_manifest(&root);
		a = first;
		rc = ingest_commit_rows(version, &n_done, view_store(&root),
					w->stg, ids, n, m->version, &a,
					m->version ? &m->schema : NULL,
					&w->o.ingest, on_refused, on_unchanged,
					on_landed, &f, err);
		vnode_reset(&root);
		if (rc != EBUSY || err->kind != LC_EK_CONFLICT || attempt >= 3)
			break;
		/* someone touched our rows' fragments: start again from
		 * their version; the rows they changed get refused */
		lc_err_clear(err);
		rc = follow(w, false, err);
	}
	pthread_mutex_lock(&w->mu);
	/* a version that landed settles its rows even when cleaning the
	 * staging failed after it: they must not be committed again (the
	 * batch record left behind lets the next mount finish the job) */
	if (*version) {
		for (size_t i = 0; i < n; i++) {
			struct wrow *r = row_by_id(w, ids[i]);

			if (!r)
				continue;
			if (r->refused_now || r->same_now) {	/* not in it */
				unclaim(w, r);
				continue;
			}
			r->landed = *version;
		}
		w->commits++;
		w->last_version = *version;
	}
	if (a.uuid[0] && !first.uuid[0]) {
		/* the attempt's rows, as its batch record holds them: not
		 * those it refused, which stay staged whatever it did */
		uint64_t *went = lc_malloc((n ? n : 1) * sizeof(*went));
		size_t k = 0;

		for (size_t i = 0; went && i < n; i++) {
			struct wrow *r = row_by_id(w, ids[i]);

			if (r && !r->refused_now && !r->same_now)
				went[k++] = ids[i];
		}
		if (went)	/* else the record stays: the next mount
				 * settles it */
			pending_add(w, &a, went, k);
		lc_free(went);
	}
	if (again)
		*again = a;
	for (size_t i = 0; i < n; i++) {
		struct wrow *r = row_by_id(w, ids[i]);

		/* a landed row's folder is the staging's to remove */
		if (r && r->info.kind == STAGING_UPDATE && !r->landed)
			unfill(w, r);
		if (r && !r->landed)
			unclaim(w, r);
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (*version) {
		struct lc_err e2 = { 0 };

		/* the version is durable: a view that cannot show it yet
		 * (a store's passing failure) is not the commit's failure;
		 * the thread tries again each second */
		if (follow(w, true, &e2)) {
			syslog(LOG_WARNING, "version %" PRIu64 " committed, "
			       "but the view stays on an older one for now: "
			       "%s", *version, e2.msg);
			pthread_mutex_lock(&w->mu);
			w->refollow = true;
			pthread_mutex_unlock(&w->mu);
		}
		/* only now, and not during a listing: one that took the
		 * older root lists them staged */
		pthread_rwlock_wrlock(&w->listing);
		pthread_mutex_lock(&w->mu);
		for (size_t i = 0; i < n; i++) {
			struct wrow *r = row_by_id(w, ids[i]);

			if (r && r->landed && r->stays)
				row_stays(w, r);
			else if (r && r->landed)
				row_drop(w, r);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_rwlock_unlock(&w->listing);
	}
	if (!rc && f.unchanged)	/* else looked at again next time */
		drop_unchanged(w, ids, n);
	if (rc)
		failed(w, err);
out:
	lc_free(ids);
	/* an fsync fails for its own row; a commit of everything for any
	 * (the others land all the same) */
	if (!rc && f.n && (f.force_refused || !force))
		rc = lc_err_set(err, EINVAL, LC_EK_USAGE, __FILE__, __LINE__,
				"%zu staged row%s refused (see .lancefs/errors)",
				f.n, f.n == 1 ? "" : "s");
	return rc;
}

int wr_commit(struct writes *w, uint64_t force, uint64_t *version,
	      struct lc_err *err)
{
	struct wrow *r;
	bool kept;
	int rc;

	pthread_mutex_lock(&w->mu);
	r = force ? row_by_id(w, force) : NULL;
	kept = force == WR_SYNC_ONLY || (r && no_op(r));
	pthread_mutex_unlock(&w->mu);
	if (kept) {
		/* never a version: an fsync makes the staging durable */
		*version = 0;
		rc = staging_sync(w->stg);
		return rc ? LC_SYS(err, rc, "staging: sync: %s",
				   strerror(rc)) : 0;
	}
	pthread_mutex_lock(&w->commit_mu);
	rc = commit_locked(w, force, true, version, err);
	pthread_mutex_unlock(&w->commit_mu);
	/* the mount hears of what changed before the caller goes on (a
	 * stat right after finds no name the commit took away) */
	hand_over(w);
	return rc;
}

/* ------------------------------------------------------------ thread */

static void hand_over(struct writes *w)
{
	bool moved;

	pthread_mutex_lock(&w->mu);
	moved = w->moved;
	w->moved = false;
	pthread_mutex_unlock(&w->mu);
	if (moved && w->moved_fn)
		w->moved_fn(w->moved_ctx);
}

/* After a commit: rows left staged that will be ready once they
 * settle are looked at again after the quiet period (which a row
 * closed since may have started), or soon over a limit; with none
 * left, nothing is. Open rows start it again when they close. */
static void rearm(struct writes *w)
{
	struct timespec now;
	bool left = false;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n_rows && !left; i++)
		left = settling(w->rows[i]);
	now_mono(&now);
	if (!left)
		w->armed = w->limit = false;
	else if (!w->armed)
		quiet_from(w, &now, w->o.commit_delay > WR_SETTLE ?
				    w->o.commit_delay : WR_SETTLE);
	if (left && over_limit(w))
		limit_soon(w, &now);
	pthread_mutex_unlock(&w->mu);
}

/* A closed row still settling: when it settles, and its bytes. */
struct to_settle {
	struct timespec at;
	uint64_t bytes;
};

static int cmp_settle(const void *a, const void *b)
{
	const struct timespec *x = &((const struct to_settle *)a)->at;
	const struct timespec *y = &((const struct to_settle *)b)->at;

	return earlier(x, y) ? -1 : earlier(y, x);
}

/*
 * Over a limit: whether the rows settled (and not in a commit) reach
 * it. A commit then takes batches of the limit's size, and not only the
 * rows of a copy that had settled when it crossed the limit (leaving
 * the others under it, to wait out the quiet period). If not, *next
 * becomes when the rows closed so far will reach it as they settle (0:
 * they will not; rows closed later look again as they close), so that
 * a copy going on looks once per batch, not once per row: each look
 * walks every staged row under the lock. Under mu.
 */
static bool settled_over(const struct writes *w, struct timespec *next)
{
	struct to_settle *later = lc_malloc(w->n_rows * sizeof(*later));
	struct timespec now;
	size_t rows = 0, n = 0;
	uint64_t bytes = 0;
	bool over;

	now_mono(&now);
	*next = (struct timespec){ 0 };
	for (size_t i = 0; i < w->n_rows; i++) {
		const struct wrow *r = w->rows[i];
		struct timespec t = r->last;

		if (r->pending || !settling(r))
			continue;
		lc_add_secs(&t, WR_SETTLE);
		if (!earlier(&now, &t)) {
			rows++;
			bytes += row_bytes(r);
			continue;
		}
		if (later)
			later[n++] = (struct to_settle){ t, row_bytes(r) };
	}
	over = limit_reached(w, rows, bytes);
	if (!over && !later) {
		*next = now;	/* no memory: look again a moment later */
		lc_add_secs(next, WR_SETTLE);
	} else if (!over) {
		qsort(later, n, sizeof(*later), cmp_settle);
		for (size_t k = 0; k < n; k++) {
			rows++;
			bytes += later[k].bytes;
			if (limit_reached(w, rows, bytes)) {
				*next = later[k].at;
				break;
			}
		}
	}
	lc_free(later);
	return over;
}

/*
 * Whether a row changed STAGING_SYNC_AFTER ago or more (a file closed,
 * removed, renamed) is still neither committed nor synced, or a staged
 * row was removed that long ago (under mu). Rows commit within a few
 * seconds of their last close (commit_delay and the commit's own time),
 * and the cleaner empties their files then: data the kernel had not yet
 * written back never reaches the staging's disk, so a cp -r writes each
 * byte once, into the data files. Where the commit is later (a longer
 * commit_delay, a refused row, a slow store), the staging is synced
 * instead. When none is due, *next (if set) is when one will be.
 */
static bool sync_due(const struct writes *w, struct timespec *next)
{
	struct timespec now;

	now_mono(&now);
	for (size_t i = 0; i < w->n_rows; i++)
		if (unsynced_due(&w->rows[i]->disk, &now, next))
			return true;
	return unsynced_due(&w->removals, &now, next);
}

/* The staging was synced from `t0` on (under mu). */
static void synced_since(struct writes *w, const struct timespec *t0)
{
	for (size_t i = 0; i < w->n_rows; i++)
		unsynced_clear(&w->rows[i]->disk, t0);
	unsynced_clear(&w->removals, t0);
}

static void *thread_main(void *arg)
{
	struct writes *w = arg;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		struct timespec t, next = { 0 };
		bool due = false, sync_now;

		if (w->moved) {
			pthread_mutex_unlock(&w->mu);
			hand_over(w);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->refollow && lc_since(&w->refollow_at) >= 0) {
			struct lc_err e = { 0 };

			w->refollow = false;
			pthread_mutex_unlock(&w->mu);
			pthread_mutex_lock(&w->commit_mu);
			if (follow(w, true, &e)) {
				pthread_mutex_lock(&w->mu);
				w->refollow = true;
				now_mono(&w->refollow_at);
				w->refollow_at.tv_sec++;
				pthread_mutex_unlock(&w->mu);
			}
			pthread_mutex_unlock(&w->commit_mu);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->armed && lc_since(&w->deadline) >= 0) {
			w->armed = w->limit = false;
			due = true;
		} else if (w->limit && lc_since(&w->limit_at) >= 0) {
			due = settled_over(w, &w->limit_at);
			w->limit = !due && w->limit_at.tv_sec;
		}
		sync_now = sync_due(w, &next);
		if (!due && !sync_now) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			t.tv_sec += 1;
			if (w->armed && earlier(&w->deadline, &t))
				t = w->deadline;
			if (w->limit && earlier(&w->limit_at, &t))
				t = w->limit_at;
			if (next.tv_sec && earlier(&next, &t))
				t = next;
			w->wake_at = t;
			pthread_cond_timedwait(&w->tick, &w->mu, &t);
			w->wake_at = (struct timespec){ 0 };
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		if (sync_now) {
			struct timespec t0;

			now_mono(&t0);
			staging_sync(w->stg);
			pthread_mutex_lock(&w->mu);
			synced_since(w, &t0);
			w->syncs++;
			pthread_mutex_unlock(&w->mu);
		}
		if (due) {
			struct lc_err err = { 0 };
			uint64_t v;

			pthread_mutex_lock(&w->commit_mu);
			if (commit_locked(w, 0, false, &v, &err) &&
			    err.kind != LC_EK_USAGE)
				syslog(LOG_ERR, "commit: %s", err.msg);
			pthread_mutex_unlock(&w->commit_mu);
			rearm(w);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	hand_over(w);
	return NULL;
}

/* ------------------------------------------------------------ open */

struct load {
	struct writes *w;
	struct lc_err *err;
	struct vnode root;	/* the dataset now, or kind VN_NONE */
};

/* Whether change `b` was made on another table than the dataset's now
 * (lance_manifest_other_table). */
static bool made_anew(struct load *l, const struct staging_base *b)
{
	return l->root.kind == VN_ROOT &&
	       view_other_table(&l->root, b->version, b->fragment_id, b->key);
}

/* Remove the files of FILE row r not named like it. */
static void drop_others(struct writes *w, struct wrow *r)
{
	char path[4600];

	for (size_t i = 0; i < r->n_files; i++) {
		if (!r->files[i].name || !strcmp(r->files[i].name, r->name))
			continue;
		row_path(path, sizeof(path), w, r->id, r->files[i].name);
		if (unlink(path) < 0)
			continue;
		w->bytes -= r->files[i].size;
		lc_free(r->files[i].name);
		r->files[i].name = NULL;
	}
}

static int load_cb(void *ctx, uint64_t id, const char *name)
{
	struct load *l = ctx;
	struct writes *w = l->w;
	struct wrow *r = lc_calloc(1, sizeof(*r));
	char dir[4200];
	struct dirent *de;
	bool partial;
	DIR *d;
	int rc;

	if (!r || !(r->name = lc_strdup(name))) {
		lc_free(r);
		return LC_NOMEM(l->err);
	}
	r->id = id;
	rc = staging_row_info(&r->info, w->stg, id, l->err);
	if (!rc)
		rc = staging_row_clear_partial(&partial, w->stg, id, l->err);
	if (!rc && partial && r->info.kind != STAGING_FILE) {
		struct lc_err why = { 0 };

		/* a file was being written when the daemon died */
		r->info.interrupted = true;
		rc = staging_row_set_info(w->stg, id, &r->info, l->err);
		lc_err_set(&why, EINVAL, LC_EK_USAGE, __FILE__, __LINE__,
			   "%s: a file was being written when lancefs "
			   "stopped; it was dropped, and the row waits until "
			   "it is written again (or touched)", name);
		note(w, &why);
	}
	if (!rc && is_change(r) && made_anew(l, &r->info.base)) {
		struct lc_err why = { 0 };

		/* it would show in (or hide) another row at its address:
		 * a deletion goes, an update is listed by its name (as a
		 * commit finds it: on_refused) */
		if (r->info.kind == STAGING_DELETE) {
			rc = staging_row_remove(w->stg, id, l->err);
			(void)ingest_made_anew(&why, name, true,
					       r->info.base.version);
			if (!rc)
				note(w, &why);
			row_free(r);
			return rc;
		}
		r->gone = !row_by_name(w, name);
	}
	staging_row_path(dir, sizeof(dir), w->stg, id);
	d = rc ? NULL : opendir(dir);
	while (d && !rc && (de = readdir(d))) {
		struct stat sb;
		char path[4600];
		uint32_t k;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    staging_own_file(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		rc = file_add(r, de->d_name, &k, l->err);
		if (!rc) {
			/* the incomplete ones went in clear_partial */
			r->files[k].complete = true;
			r->files[k].size = (uint64_t)sb.st_size;
			w->bytes += (uint64_t)sb.st_size;
		}
	}
	if (d)
		closedir(d);
	if (!rc && r->info.kind == STAGING_FILE) {
		if (file_index(r, name) >= 0) {
			drop_others(w, r);	/* a crash in a rename left
						 * them */
		} else {
			/* a root file whose copy never began, or was
			 * dropped above: nothing of it to commit, and no
			 * commit could read it */
			for (size_t i = 0; i < r->n_files; i++)
				if (r->files[i].name)
					w->bytes -= r->files[i].size;
			rc = staging_row_remove(w->stg, id, l->err);
			if (!rc && partial) {
				struct lc_err why = { 0 };

				lc_err_set(&why, EINVAL, LC_EK_USAGE,
					   __FILE__, __LINE__, "%s: was being "
					   "written when lancefs stopped; it "
					   "was dropped", name);
				note(w, &why);
			}
			row_free(r);
			return rc;
		}
	}
	if (!rc)
		rc = row_insert(w, r, l->err);
	if (rc) {
		row_free(r);
		return rc;
	}
	now_mono(&r->last);
	r->gen = 1;
	unsynced_at(&r->disk, &r->last);	/* a killed daemon may have
						 * left it so */
	return 0;
}

int wr_open(struct writes **out, struct view *v, struct view_ds *ds,
	    const char *source,
	    const struct wr_opts *o, wr_moved_fn moved, void *ctx,
	    struct lc_err *err)
{
	struct writes *w = lc_calloc(1, sizeof(*w));
	char dir[4096];
	struct vnode root;
	int rc;

	*out = NULL;
	if (!w)
		return LC_NOMEM(err);
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->commit_mu, NULL);
	init_listing(&w->listing);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cv, &a);
		pthread_cond_init(&w->tick, &a);
		pthread_condattr_destroy(&a);
	}
	w->v = v;
	w->ds = ds;
	w->o = *o;
	w->moved_fn = moved;
	w->moved_ctx = ctx;
	if ((o->ingest.name_column &&
	     !(w->name_column = lc_strdup(o->ingest.name_column))) ||
	    (o->ingest.file_column &&
	     !(w->file_column = lc_strdup(o->ingest.file_column))) ||
	    (o->ingest.format_version &&
	     !(w->format_version = lc_strdup(o->ingest.format_version)))) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	w->o.ingest.name_column = w->name_column;
	w->o.ingest.file_column = w->file_column;
	w->o.ingest.format_version = w->format_version;
	w->o.staging_dir = NULL;
	if (o->staging_dir)
		snprintf(dir, sizeof(dir), "%s", o->staging_dir);
	else if ((rc = staging_default_dir(dir, sizeof(dir), source, err)))
		goto fail;
	rc = staging_open(&w->stg, dir, err);
	if (!rc)
		rc = staging_claim(w->stg, source, err);
	if (rc)
		goto fail;
	rc = view_ds_root(&root, ds, 0, err);
	if (rc)
		goto fail;
	rc = ingest_recover(NULL, &w->pending, &w->n_pending,
			    view_store(&root), w->stg, err);
	if (!rc) {
		/* the root's reference stays the caller's */
		struct load l = { .w = w, .err = err, .root = root };

		rc = staging_rows(w->stg, load_cb, &l, err);
	}
	vnode_reset(&root);
	if (rc)
		goto fail;
	for (size_t k = 0; k < w->n_pending; k++)
		mark_pending(w, &w->pending[k], true);
	/* the view may be older than what recovery found landed */
	rc = follow(w, false, err);
	if (rc)
		goto fail;
	if (w->n_rows) {	/* recovered rows: commit them */
		w->armed = true;
		now_mono(&w->deadline);
	}
	*out = w;
	return 0;
fail:
	wr_close(w);
	return rc;
}

int wr_follow(struct writes *w, struct lc_err *err)
{
	int rc;

	pthread_mutex_lock(&w->commit_mu);
	rc = follow(w, false, err);
	pthread_mutex_unlock(&w->commit_mu);
	return rc;
}

/* Start the thread after fuse_daemonize: threads do not survive fork. */
int wr_start(struct writes *w, struct lc_err *err)
{
	if (lc_thread_start(&w->thread, "lancefs commit", thread_main, w))
		return LC_SYS(err, EAGAIN, "cannot start the commit thread");
	w->thread_on = true;
	if (w->stg)
		staging_allow_threads(w->stg);
	return 0;
}

bool wr_close(struct writes *w)
{
	bool empty = true;

	if (!w)
		return true;
	if (w->thread_on) {
		pthread_mutex_lock(&w->mu);
		w->stopping = true;
		pthread_cond_broadcast(&w->cv);
		pthread_cond_signal(&w->tick);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	if (w->stg) {
		struct lc_err err = { 0 };
		uint64_t v;

		/* unmount: what is ready goes in (rows still open for
		 * writing, and refused rows, stay staged) */
		pthread_mutex_lock(&w->commit_mu);
		if (commit_locked(w, 0, true, &v, &err) && err.code)
			syslog(LOG_ERR, "commit at unmount: %s", err.msg);
		pthread_mutex_unlock(&w->commit_mu);
		staging_sync(w->stg);
		empty = staging_remove_if_empty(w->stg);
	}
	hand_over(w);
	for (size_t i = 0; i < w->n_rows; i++)
		row_free(w->rows[i]);
	lc_free(w->rows);
	staging_free(w->stg);
	for (size_t i = 0; i < w->n_pending; i++)
		staging_batch_reset(&w->pending[i]);
	lc_free(w->pending);
	for (size_t i = 0; i < w->n_orphans; i++)
		close(w->orphans[i].fd);
	lc_free(w->orphans);
	lc_free(w->failure);
	lc_free(w->refusal);
	lc_free(w->name_column);
	lc_free(w->file_column);
	lc_free(w->format_version);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->commit_mu);
	pthread_rwlock_destroy(&w->listing);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->tick);
	lc_free(w);
	return empty;
}

int wr_status(struct writes *w, const char *key, struct lc_buf *b,
	      struct lc_err *err)
{
	size_t staged = 0, refused;
	const char *last;
	int rc;

	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n_rows; i++)
		staged += !no_op(w->rows[i]);
	refused = refused_rows(w);
	/* .lancefs/errors keeps every error; the status the one that
	 * stands (a refusal is set anew whenever a row is refused) */
	last = w->failure ? w->failure : refused ? w->refusal : NULL;
	rc = render_json_string(b, key, strlen(key), err);
	if (!rc)
		rc = lc_buf_printf(b, err, ":{\"staged_rows\":%zu,"
			   "\"staged_bytes\":%" PRIu64 ",\"commits\":%" PRIu64
			   ",\"last_version\":%" PRIu64 ",\"refused_rows\":%"
			   PRIu64 ",\"commit_delay\":%g,\"staging_syncs\":%"
			   PRIu64 ",\"last_error\":",
			   staged, w->bytes, w->commits, w->last_version,
			   (uint64_t)refused, w->o.commit_delay, w->syncs);
	if (!rc && last)
		rc = render_json_string(b, last, strlen(last), err);
	else if (!rc)
		rc = lc_buf_append(b, "null", 4, err);
	if (!rc)
		rc = lc_buf_append(b, "}", 1, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}
