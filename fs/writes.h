/*
 * writes.h - what a writable mount adds to the view (VIEW.md §3,
 * WRITES.md): the staged rows, their files, and when they are committed.
 * Knows nothing of FUSE; fs/mount.c maps its calls onto the kernel's.
 *
 * Every staged row has an id (staging.h) and is one of
 *   new      FOLDER (a row folder) or FILE (a root-level file), found by
 *            the name the user gave it
 *   change   UPDATE or DELETE of a committed row, found by where that row
 *            lives (fragment id, offset)
 * A row's files have small indexes, stable while the row lives, so that
 * the mount can name them in inode numbers.
 *
 * Commits: a row is ready when none of its files is open for writing and
 * it has been quiet for a moment (WR_SETTLE); the first close after a
 * quiet spell arms a timer of commit_delay seconds, at the end of which
 * every ready row goes into one version. fsync and .lancefs/commit
 * commit at once (wr_commit). A background thread runs the timer, and
 * tells the mount (moved_fn) when the view moved to a new version so it
 * can drop the kernel's stale entries outside of any request.
 */
#ifndef LANCEFS_WRITES_H
#define LANCEFS_WRITES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "ingest.h"
#include "staging.h"
#include "view.h"

struct writes;

struct wr_opts {
	const char *staging_dir;	/* NULL: staging_default_dir */
	double commit_delay;		/* seconds */
	uint64_t commit_rows;		/* 0: no limit */
	uint64_t commit_bytes;		/* 0: no limit */
	struct ingest_opts ingest;
};

/* The view moved to a new version (or staged rows became committed
 * rows). Called from the writes thread. */
typedef void (*wr_moved_fn)(void *ctx);

/* Open the staging of the dataset `ds` of `v` (at `source`), settle what
 * a crash left (ingest_recover, half-written files), and start the
 * background thread. */
int wr_open(struct writes **out, struct view *v, struct view_ds *ds,
	    const char *source,
	    const struct wr_opts *o, wr_moved_fn moved, void *ctx,
	    struct lc_err *err) LC_MUST_USE;
/* Start the background thread (after fuse_daemonize: no thread lives
 * through its fork). */
int wr_start(struct writes *w, struct lc_err *err) LC_MUST_USE;
/* Commit every ready row (waits), then stop: true when nothing stays
 * staged. */
bool wr_close(struct writes *w);
/* Move the view to the newest version (refresh=), serialized with
 * commits; the mount hears of it through moved_fn. */
int wr_follow(struct writes *w, struct lc_err *err) LC_MUST_USE;

/* ------------------------------------------------------------ rows */

/* A staged new row by name; ENOENT. */
int wr_find(struct writes *w, const char *name, uint64_t *id,
	    enum staging_kind *kind);
/* The staged change of the committed row (fragment_id, offset); ENOENT. */
int wr_find_change(struct writes *w, uint64_t fragment_id, uint64_t offset,
		   uint64_t *id, enum staging_kind *kind);
/* ESTALE when the row is gone (committed or removed). */
int wr_row_kind(struct writes *w, uint64_t id, enum staging_kind *kind);

/* A listing of the root: taken between wr_list_begin and wr_list_end,
 * its root and the staged rows agree (a commit leaves them staged until
 * it ends). */
void wr_list_begin(struct writes *w);
void wr_list_end(struct writes *w);
/* A copy of the staged new rows, but for those committed in version
 * `seen` or earlier (the root of `seen` lists them): a listing that
 * spans several READDIR pages pins its root and this copy at its start,
 * so a row that lands or goes between two pages is listed once, and a
 * row removed before it began is not listed when its removal commits
 * between two pages. */
struct wr_rows;
int wr_rows_take(struct writes *w, uint64_t seen,
		 struct wr_rows **out) LC_MUST_USE;
/* The copy's rows, oldest first, from id `start` on. A non-zero return
 * of `cb` stops. `pos` (for readdir) is the row's id: ids only grow, so
 * a listing resumed from pos + 1 neither skips nor repeats a row. */
typedef int (*wr_row_cb)(void *ctx, uint64_t pos, uint64_t id,
			 const char *name, enum staging_kind kind);
int wr_rows_list(const struct wr_rows *l, uint64_t start, wr_row_cb cb,
		 void *ctx);
/* Whether the committed row at (fragment_id, offset) of the copy's root
 * was staged for deletion (rm -r) when the copy was taken. */
bool wr_rows_deleted(const struct wr_rows *l, uint64_t fragment_id,
		     uint64_t offset);
/* Whether a staged new row of the copy (a folder or a root file, not a
 * change of a committed row) has the name `name`. */
bool wr_rows_named(const struct wr_rows *l, const char *name);
void wr_rows_free(struct wr_rows *l);

/* mkdir NAME: a new row folder. EEXIST when a staged row has the name
 * (the caller checks committed rows). */
int wr_mkdir(struct writes *w, const char *name, uint64_t *id,
	     struct lc_err *err) LC_MUST_USE;
/* A root-level file NAME: a FILE row holding the file, opened for
 * writing: *fidx names the file, *fd is its descriptor. */
int wr_create_root_file(struct writes *w, const char *name, uint64_t *id,
			uint32_t *fidx, int *fd,
			struct lc_err *err) LC_MUST_USE;
/* The UPDATE row of the committed ROW (or FILE) node `row`, made if
 * needed; ENOENT when the row is staged for deletion, ESTALE when `row`
 * is of an older version than the view's (a commit, maybe of the row's
 * own change, moved it: look it up again). With `adds` (a file written
 * or moved in, not only unlinked, as rm -r does before its rmdir),
 * EOPNOTSUPP where the dataset's columns cannot be written here. New
 * rows (wr_mkdir, wr_create_root_file) get that check too. */
int wr_change_row(struct writes *w, const struct vnode *row, bool adds,
		  uint64_t *id, struct lc_err *err) LC_MUST_USE;
/* rm -r of a committed row: it becomes a DELETE (its staged update, if
 * any, becomes the delete: ENOTEMPTY while it holds a file); ESTALE as
 * wr_change_row. */
int wr_delete_row(struct writes *w, const struct vnode *row,
		  struct lc_err *err) LC_MUST_USE;
/* rmdir of a staged new row (ENOTEMPTY unless it holds no files) or of a
 * FILE row's file (unlink). */
int wr_remove_row(struct writes *w, uint64_t id,
		  struct lc_err *err) LC_MUST_USE;
/* mv of a new row to a name no other row has, or a root-level file's
 * (FILE) row over another's, which goes (EBUSY while it is open for
 * writing); the file takes the new name too. */
int wr_rename_row(struct writes *w, uint64_t id, const char *name,
		  struct lc_err *err) LC_MUST_USE;

/* The staging folder of a staged row, and the staging's disk. */
int wr_row_stat(struct writes *w, uint64_t id, struct stat *st);
int wr_statvfs(struct writes *w, struct statvfs *st);

/* ------------------------------------------------------------ files */

/* A file of a staged row by name; ENOENT. */
int wr_file_find(struct writes *w, uint64_t id, const char *name,
		 uint32_t *fidx);
/* Its name, for an index; ESTALE when gone. */
/* Whether file `fidx` of row `id` is one no commit reads (hidden, a
 * temporary, an editor's backup). */
bool wr_file_ignored(struct writes *w, uint64_t id, uint32_t fidx);
int wr_file_name(struct writes *w, uint64_t id, uint32_t fidx, char *out,
		 size_t cap);
int wr_file_stat(struct writes *w, uint64_t id, uint32_t fidx,
		 struct stat *st);
/* The row's files from position `start`. */
typedef int (*wr_file_cb)(void *ctx, uint64_t pos, uint32_t fidx,
			  const char *name);
int wr_list_files(struct writes *w, uint64_t id, uint64_t start,
		  wr_file_cb cb, void *ctx);
/* True when an UPDATE row's committed file `name` was unlinked, or a
 * staged file takes its place (wr_same_column). */
bool wr_is_removed(struct writes *w, uint64_t id, const char *name);
/* Whether a staged file named `mine` sets the column of the committed
 * file the view shows as `shown`, and so takes its place: image.png for
 * image.jpg (the view names a committed file by its bytes). */
bool wr_same_column(const char *mine, const char *shown);

/*
 * Open (creating with `create`) file `name` of row `id`: open(2) flags.
 * A writer is counted until wr_file_closed. `seed`, when not NULL, is
 * the committed content an UPDATE row's file starts from (opened for
 * writing without O_TRUNC); it is only used when the file is new, or
 * with O_TRUNC (then it replaces the file's content).
 */
int wr_file_open(struct writes *w, uint64_t id, const char *name, int flags,
		 bool create, const struct lc_buf *seed, uint32_t *fidx,
		 int *fd, struct lc_err *err) LC_MUST_USE;
/* close(2) of a writer reached us (`done`), or it writes again after
 * one: the file is complete as it is, or no longer. A kill -9 between
 * close(2) and the release that follows it must not lose the file. */
void wr_file_flushed(struct writes *w, uint64_t id, uint32_t fidx, int fd,
		     bool done);
/* A writer of the file writes past us (passthrough): until its last
 * writer is closed, every flush marks it complete anew (a write since
 * the last one took that mark off on disk: staging_mark_fd). */
void wr_file_unseen(struct writes *w, uint64_t id, uint32_t fidx);
/* Close a descriptor from wr_file_open / wr_create_root_file. */
void wr_file_closed(struct writes *w, uint64_t id, uint32_t fidx, int fd,
		    bool writer);
int wr_file_truncate(struct writes *w, uint64_t id, const char *name,
		     uint64_t size, struct lc_err *err) LC_MUST_USE;
/* Before the release of the last writer of an UPDATE row's file that
 * its open copied from the committed one: the copy goes if it still
 * holds exactly `committed` (touch, or an open for writing that wrote
 * nothing, changes no row). */
void wr_file_revert(struct writes *w, uint64_t id, uint32_t fidx,
		    const struct lc_buf *committed);
/* unlink: a staged file goes; in an UPDATE row a committed file
 * (`committed`) is marked removed. */
int wr_file_unlink(struct writes *w, uint64_t id, const char *name,
		   bool committed, struct lc_err *err) LC_MUST_USE;
/* A new file `name` of row `id` holding `data`, complete, in place of a
 * staged one of that name (which its open descriptors keep): written
 * beside it and renamed over it, so neither a commit nor a crash comes
 * between the old file going and the new one. */
int wr_file_replace(struct writes *w, uint64_t id, const char *name,
		    const struct lc_buf *data, struct lc_err *err) LC_MUST_USE;
/* rename within or between staged rows (replaces the target). `under`:
 * row `id` is an update whose committed row has a file `name` too, which
 * goes with it (one change: no commit comes between). */
int wr_file_rename(struct writes *w, uint64_t id, const char *name,
		   uint64_t to_id, const char *to_name, bool under,
		   struct lc_err *err) LC_MUST_USE;
/* Something changed in the row (utimens, chmod): it is not quiet, and no
 * longer waits after a crash. */
void wr_touch(struct writes *w, uint64_t id);

/* ------------------------------------------------------------ commits */

/* A `force` that names no row: every ready row commits now, and no
 * refusal fails the call (an fsync of a row a commit moved away). */
#define WR_FORCE_NONE (UINT64_MAX - 1)
/* For `force`: no commit, the staging synced (an fsync of a file no
 * commit reads, wr_file_ignored). */
#define WR_SYNC_ONLY (UINT64_MAX - 2)

/*
 * Commit now every settled row (no file open for writing, and quiet for
 * half a second or left by the thread that wrote it: gone on to another
 * row, or ended; waits half a second at most for that), and row `force`
 * (0: none) even if it is not. Waits for a commit already running, and
 * a moment for the releases of files already closed (the kernel sends
 * them after close(2) returns). A `force` row that never makes a version
 * (a hidden name, an update of hidden files only) has the staging synced
 * instead, and nothing is committed.
 * *version: the version made (0: nothing to commit). Returns EINVAL
 * when `force` (or, without force, every row) was refused.
 */
int wr_commit(struct writes *w, uint64_t force, uint64_t *version,
	      struct lc_err *err) LC_MUST_USE;

/* The thread (its id, as the kernel gives it with a request; 0 when
 * unknown) whose request the calling thread serves: the rows changed
 * until the next call are marked with it, so that an explicit commit
 * takes a row the moment that thread goes on to another or ends, or
 * asks for the commit (itself, or, single-threaded, the process it
 * runs), and never one it is still writing (within half a second). Set by each request that
 * changes rows or commits, 0 by those whose thread says nothing of
 * progress. */
void wr_caller(pid_t tid);

/* "KEY":{staged_rows,...} for .lancefs/status. */
int wr_status(struct writes *w, const char *key, struct lc_buf *b,
	      struct lc_err *err) LC_MUST_USE;

#endif
