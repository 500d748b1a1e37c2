/*
 * staging.h - the on-disk journal of what users copy into a mount, kept
 * until it is committed (WRITES.md "Staging"). One folder per dataset:
 *
 *   DIR/rows/R<16 hex>/            one staged row (a new row folder or a
 *                                  root-level file); its extended
 *                                  attribute user.lancefs.name holds the
 *                                  name the user gave it (an empty folder
 *                                  with no name is made ahead for a row
 *                                  to come, and no row)
 *       .name                      the name instead, where the file
 *                                  system has no user attributes
 *       <files as the user wrote>
 *       <spare files>              empty, STAGING_SPARE_NSEC nanoseconds
 *                                  in their mtime:
 *                                  the files of the row the folder held
 *                                  before, emptied once it landed, and no
 *                                  files of this row (staging_is_spare);
 *                                  a new file of the same name is one of
 *                                  these, taken
 *   DIR/spare/F<n>                 empty files made ahead, or those of
 *                                  committed rows, emptied; new staged
 *                                  files are these linked (a committed
 *                                  row's folder, its files left in it
 *                                  as spares, becomes an unnamed row in
 *                                  rows/)
 *   DIR/batches/<uuid>             a commit attempt: the transaction id,
 *                                  the version it was planned against and
 *                                  the rows it holds, written and synced
 *                                  before the commit starts
 *
 * Rows are plain folders and files, so they survive kill -9 and reboots.
 * A batch file outlives its commit while the commit's outcome is unknown,
 * and after it landed until its rows are out of rows/ and that is on
 * disk (a background thread takes them out, and syncs once a burst of
 * commits ends); recovery asks the dataset
 * (lance_find_transaction) whether that transaction landed. Staged files
 * are removed only after the manifest is durable. Knows nothing of FUSE.
 */
#ifndef LANCEFS_STAGING_H
#define LANCEFS_STAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "lc.h"

struct stat;
struct staging;

/* The folder that holds the default stagings: $XDG_STATE_HOME/lancefs,
 * else /var/lib/lancefs for root and ~/.local/state/lancefs for others. */
int staging_default_root(char *out, size_t cap, struct lc_err *err)
	LC_MUST_USE;
/* Each staging folder in `root` (a staging_dir= of a database, or the
 * default root) that says whose it is: f(ctx, its path, the dataset URI
 * it holds changes of, how many rows it holds). */
void staging_each(const char *root,
		  void (*f)(void *ctx, const char *dir, const char *dataset,
			    size_t rows),
		  void *ctx);
/* The default folder for a dataset's staging: one subfolder of the
 * default root named after the dataset URI. */
int staging_default_dir(char *out, size_t cap, const char *dataset_uri,
			struct lc_err *err) LC_MUST_USE;

/* Open (creating) the staging folder `dir`. */
int staging_open(struct staging **out, const char *dir,
		 struct lc_err *err) LC_MUST_USE;
/* Claim the staging for `dataset` (its URI, as the mount names it): the
 * staging remembers it (DIR/dataset), and while it holds staged rows or
 * commits of unknown outcome, a claim for another dataset fails (their
 * changes, made by row address, would land in the wrong dataset). */
int staging_claim(struct staging *s, const char *dataset,
		  struct lc_err *err) LC_MUST_USE;
void staging_free(struct staging *s);
/* From now on landed rows are taken out by a thread of its own; before
 * (and so before a daemon forks: threads do not survive fork), by the
 * call that lands them. */
void staging_allow_threads(struct staging *s);
const char *staging_dir(const struct staging *s);

/*
 * What a staged row is, in DIR/rows/R<id>/.row (absent: a folder):
 *   FOLDER   a new row folder (mkdir, cp -r)
 *   FILE     a root-level file: the row folder holds that one file
 *   UPDATE   a committed row rewritten: the folder holds the files the
 *            user wrote, `removed` the files the user unlinked; the
 *            other values come from the committed row `base`
 *   DELETE   a committed row removed (rm -r)
 * `interrupted`: a file of the row was being written when the daemon
 * died; the row waits until the user touches it again.
 */
enum staging_kind {
	STAGING_FOLDER = 0,
	STAGING_FILE,
	STAGING_UPDATE,
	STAGING_DELETE,
};

/* A committed row: the version it was seen in and where it lives. */
struct staging_base {
	uint64_t version;
	uint64_t fragment_id;
	uint64_t offset;
	/* the fragment's data at that version (lance_fragment_key; 0:
	 * unknown): a dataset made anew at the same place has a fragment
	 * of that id too, and its rows are others */
	uint64_t key;
};

struct staging_info {
	enum staging_kind kind;
	struct staging_base base;	/* UPDATE, DELETE */
	char **removed;			/* UPDATE: file names */
	size_t n_removed;
	bool interrupted;
};

void staging_info_reset(struct staging_info *i);
/* Deep copy. */
int staging_info_copy(struct staging_info *dst, const struct staging_info *src,
		      struct lc_err *err) LC_MUST_USE;

/* A new staged row named `name` (unique among staged rows: EEXIST). */
int staging_row_new(uint64_t *id, struct staging *s, const char *name,
		    struct lc_err *err) LC_MUST_USE;
/* A new staged row of any kind; the caller keeps names unique (no scan).
 * `info` NULL: a folder. Name and info are durable on return. */
int staging_row_add(uint64_t *id, struct staging *s, const char *name,
		    const struct staging_info *info,
		    struct lc_err *err) LC_MUST_USE;
/* A row's .row (a folder when it has none). */
int staging_row_info(struct staging_info *out, const struct staging *s,
		     uint64_t id, struct lc_err *err) LC_MUST_USE;
/* Replace a row's .row, or its .name, atomically and durably. */
int staging_row_set_info(struct staging *s, uint64_t id,
			 const struct staging_info *info,
			 struct lc_err *err) LC_MUST_USE;
/* A new name for a row; for a FILE row also for its file (`file`, its
 * old name; NULL for other rows). A crash may leave a FILE row's folder
 * holding its file under both names: the one named like the row is its
 * file, the other is to be removed. */
int staging_row_rename(struct staging *s, uint64_t id, const char *name,
		       const char *file, struct lc_err *err) LC_MUST_USE;

/*
 * Files being written. A staged file is incomplete until it is marked
 * complete (a stamp in its mtime, which any write after takes off); a
 * crash leaves incomplete files behind, and staging_row_clear_partial
 * then removes them (*had: there was one). Every file put in staging
 * gets staging_mark_fd(fd, false) once complete, and
 * staging_mark_fd(fd, true) when it is opened to be written again; a
 * new file is incomplete with no call.
 */
int staging_mark_fd(int fd, bool writing) LC_MUST_USE;
/* Whether a staged file, as fstat(2) gave it, still carries the mark of
 * complete: nothing wrote it since. */
bool staging_is_marked(const struct stat *sb);
/* Create the staged file `path`, which must not exist (EEXIST) or be a
 * spare file left in its folder, for reading and writing (and appending
 * when `flags` has O_APPEND), with mode 0600: 0 with *fd, or an errno. */
int staging_create(struct staging *s, const char *path, int flags,
		   int *fd) LC_MUST_USE;
/* Whether `name` in a row folder is one of the staging's own files (the
 * row's name and kind, their temporary copies, STAGING_FILL_TMP and
 * STAGING_META_FILL): no file of the row. */
bool staging_own_file(const char *name);
/* Where a commit writes a committed file into an update's folder before
 * it takes the file's name. */
#define STAGING_FILL_TMP "..fill.tmp"
/* The meta.json an update commits where the user's must give way to the
 * row's COL.txt (written or removed: the user's meta.json holds the
 * committed string still); ingest reads it in its place. */
#define STAGING_META_FILL "..meta.json"
/* A spare file left in a row folder (the layout above) is empty, with
 * STAGING_SPARE_NSEC nanoseconds in its mtime (a complete staged file
 * has 999999999, staging_mark_fd). Whether `sb`, stat(2) of a file in a
 * row folder, is such a spare: no file of the row. */
#define STAGING_SPARE_NSEC 999999998L
bool staging_is_spare(const struct stat *sb);
/* A committed file a commit copies into an update's folder (see
 * fill_update in writes.c) is complete with STAGING_FILL_NSEC
 * nanoseconds in its mtime: a crash before the commit ended leaves it,
 * and the next mount removes it (it is no file the user wrote). */
#define STAGING_FILL_NSEC 999999997L
int staging_mark_fill_fd(int fd);
int staging_row_clear_partial(bool *had, const struct staging *s,
			      uint64_t id, struct lc_err *err) LC_MUST_USE;
/* Wait until landed rows are out, then remove the staging folder when
 * it holds nothing (no rows, no batches): a mount that wrote nothing
 * leaves nothing behind. A folder that was there before and held no
 * staging (the user's staging_dir=) is emptied, not removed. */
bool staging_remove_if_empty(struct staging *s);
/* A staged file was opened (1) or closed (-1) for reading. Such a
 * descriptor can outlive its row's landing, so while any is open the
 * files of landed rows are removed rather than made spares. */
void staging_reading(struct staging *s, int delta);
/* Row `id` goes into a commit with `n` of its files still open for
 * writing (fsync of an open file commits its row), or, with a negative
 * `n`, that many of them closed. While any is open, the row's folder is
 * removed once it lands, never kept as a spare: a late write would land
 * in the file of another row. */
void staging_row_writers(struct staging *s, uint64_t id, int n);
/* Flush the staging's file system (files closed reach the disk): 0 or
 * an errno. */
int staging_sync(const struct staging *s);
/* Seconds after which a closed staged file not yet committed is synced
 * (on the disk within 5 s, the man page says). The cleaner forgets
 * landed batches after this long without a landing. */
#define STAGING_SYNC_AFTER 4.0
/* The staged row named `name`, or ENOENT. */
int staging_row_find(uint64_t *id, struct staging *s, const char *name);
/* Remove a staged row and everything in it: gone once its name is (an
 * error only where that fails); what a failure leaves of its files the
 * next staging_open removes. */
int staging_row_remove(struct staging *s, uint64_t id,
		       struct lc_err *err) LC_MUST_USE;
/* The folder holding row `id`'s files. */
void staging_row_path(char *out, size_t cap, const struct staging *s,
		      uint64_t id);

typedef int (*staging_row_cb)(void *ctx, uint64_t id, const char *name);
/* Every staged row, oldest first. */
int staging_rows(struct staging *s, staging_row_cb cb, void *ctx,
		 struct lc_err *err) LC_MUST_USE;

struct staging_batch {
	char uuid[37];
	uint64_t read_version;
	uint64_t *rows;
	size_t n_rows;
};

/* Record a commit attempt of `rows` planned against `read_version`,
 * durably (file and folder synced), under a fresh transaction id, or
 * under `uuid` when not NULL (an attempt whose outcome is unknown, made
 * again: its record is replaced). */
int staging_batch_begin(struct staging_batch *out, struct staging *s,
			const uint64_t *rows, size_t n, uint64_t read_version,
			const char *uuid, struct lc_err *err) LC_MUST_USE;
/* The batch landed: its rows are no longer listed, and leave rows/ (in
 * the background once threads are allowed), then the batch record goes
 * after a sync of the staging. */
int staging_batch_done(struct staging *s, const struct staging_batch *b,
		       struct lc_err *err) LC_MUST_USE;
/* The batch did not land (refused or failed): forget the record, keep
 * the rows staged. */
int staging_batch_abandon(struct staging *s, const struct staging_batch *b,
			  struct lc_err *err) LC_MUST_USE;
/* Batches left by a crash, for recovery. */
int staging_batches(struct staging_batch **out, size_t *n, struct staging *s,
		    struct lc_err *err) LC_MUST_USE;
void staging_batch_reset(struct staging_batch *b);

#endif
