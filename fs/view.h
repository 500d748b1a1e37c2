/*
 * view.h - the dataset as a tree of folders and files (VIEW.md §2), with
 * no FUSE in it: `lancefs ls/cat` and the mount both walk this.
 *
 *   ROOT            live rows (hidden: @versions, @tags)
 *   ROW             <column>.<ext> per non-null binary/blob value,
 *                   <column>.txt for text_files columns, meta.json
 *   VERSIONS        one ROOT per version (read-only), not listed
 *   TAGS            one ROOT per tag, not listed
 *   DBROOT          a database: one ROOT per dataset, named without .lance
 *
 * A vnode names one entry and holds a reference on the snapshot it came
 * from, so it keeps reading the version it was found in.
 */
#ifndef LANCEFS_VIEW_H
#define LANCEFS_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lance.h"

struct view_ext {
	char *column;
	char *ext;
};

struct view_opts {
	char *name_column;	/* NULL: dataset config lancefs.name_column;
				 * "" : row numbers */
	char **text_columns;	/* text_files=COL,COL */
	size_t n_text_columns;
	bool text_all;		/* text_files=all */
	struct view_ext *exts;	/* ext.COL=EXT */
	size_t n_exts;
	uint64_t version;	/* version=N (0: latest) */
	char *tag;		/* tag=NAME */
	struct ostore_conf *store;	/* object-store settings (region=,
					 * cache_dir=, ...); owned by the
					 * options the caller parsed, a view
					 * borrows them */
	bool writable;		/* a writable mount: .lancefs/commit is
				 * shown, and a SOURCE ending in .lance
				 * with no dataset yet opens as an empty
				 * dataset (version 0), made by its first
				 * commit */
};

void view_opts_reset(struct view_opts *o);
/* Parse one lancefs -o option (name_column=, text_files=, ext.COL=,
 * version=, tag=, and the object store's settings). Returns 0 if taken,
 * ENOENT if not a view option. */
int view_opts_parse(struct view_opts *o, const char *opt, struct lc_err *err);
/* SOURCE@N and SOURCE@TAG, unless SOURCE itself exists: *path (caller
 * frees) is SOURCE, and the version or tag goes into `o`. */
int view_split_source(char **path, struct view_opts *o, const char *src,
		      struct lc_err *err) LC_MUST_USE;

enum vnode_kind {
	VN_NONE = 0,
	VN_DBROOT,
	VN_ROOT,
	VN_VERSIONS,
	VN_TAGS,
	VN_ROW,
	VN_FILE,
	VN_CTL,		/* .lancefs/ */
	VN_CTLFILE,	/* .lancefs/status, .lancefs/errors */
};

enum view_ctl_file {
	VIEW_CTL_STATUS = 0,
	VIEW_CTL_ERRORS,
	VIEW_CTL_WARMUP,	/* writable mounts: a write fills the
				 * disk cache (cache_dir=) */
	VIEW_CTL_COMMIT,	/* writable mounts: a write commits */
	VIEW_CTL_COUNT,
};

struct view;
struct view_ds;
struct view_snap;

struct vnode {
	enum vnode_kind kind;
	struct view_ds *ds;		/* borrowed from the view */
	struct view_snap *snap;		/* a reference, or NULL */
	struct lance_row_ref row;	/* ROW, FILE */
	int file;			/* FILE: index of the file column,
					 * or VIEW_META_JSON */
};

#define VIEW_META_JSON (-1)

struct view_attr {
	bool is_dir;
	uint64_t size;
	int64_t mtime_sec;
	int32_t mtime_nsec;
	uint64_t nlink;
};

int view_open(struct view **out, const char *source,
	      const struct view_opts *opts, struct lc_err *err) LC_MUST_USE;
void view_free(struct view *v);

void vnode_reset(struct vnode *n);
void vnode_copy(struct vnode *dst, const struct vnode *src);

int view_root(struct vnode *out, struct view *v,
	      struct lc_err *err) LC_MUST_USE;
/* ENOENT when `name` is not in `dir`. */
int view_lookup(struct vnode *out, struct view *v, const struct vnode *dir,
		const char *name, struct lc_err *err) LC_MUST_USE;
/* Walk a '/'-separated path from the root ("" is the root). */
int view_resolve(struct vnode *out, struct view *v, const char *path,
		 struct lc_err *err) LC_MUST_USE;

/* Called for each entry in order; `index` counts from 0; a non-zero
 * return stops the listing. */
typedef int (*view_dir_cb)(void *ctx, uint64_t index, const char *name,
			   const struct vnode *node);
/* List `dir` from entry `start` on. */
int view_readdir(struct view *v, const struct vnode *dir, uint64_t start,
		 view_dir_cb cb, void *ctx, struct lc_err *err) LC_MUST_USE;

int view_getattr(struct view_attr *out, struct view *v, const struct vnode *n,
		 struct lc_err *err) LC_MUST_USE;
/* Bytes [off, off + len) of a file node (fewer at its end). */
int view_read_range(struct lc_buf *out, struct view *v, const struct vnode *n,
		    uint64_t off, size_t len, struct lc_err *err) LC_MUST_USE;
/* The whole content of a FILE node. */
int view_read_file(struct lc_buf *out, struct view *v, const struct vnode *n,
		   struct lc_err *err) LC_MUST_USE;

/* The row folder of row `number` in the ROOT `root`; ENOENT if none. */
int view_row(struct vnode *out, const struct vnode *root, uint64_t number,
	     struct lc_err *err) LC_MUST_USE;
/* The same, the row at `offset` of the fragment with id `fragment_id`
 * (an address: what a staged change records). */
int view_row_at(struct vnode *out, const struct vnode *root,
		uint64_t fragment_id, uint64_t offset,
		struct lc_err *err) LC_MUST_USE;
/* Number of file columns a row may hold (FILE nodes use 0..n-1, and
 * VIEW_META_JSON). */
size_t view_file_columns(const struct vnode *n);
/* True when the node's snapshot is the one its dataset's root shows. */
bool view_is_current(const struct vnode *n);

/*
 * .lancefs/status is a JSON object the view fills (source, version, rows,
 * cache counters) and a mount may extend: `extra` is called with the
 * buffer positioned inside the object and appends ,"key":value pairs.
 */
typedef int (*view_status_fn)(void *ctx, struct lc_buf *b,
			      struct lc_err *err);
void view_set_status_fn(struct view *v, view_status_fn fn, void *ctx);
/* Note a failure a user should see in .lancefs/errors: the node it hit
 * and the message. Keeps the last VIEW_MAX_ERRORS. */
#define VIEW_MAX_ERRORS 256
void view_note_error(struct view *v, const struct vnode *n,
		     const struct lc_err *err);
/* The same for a path the view does not show ("ROW/FILE", "-"). */
void view_note_line(struct view *v, const char *path,
		    const struct lc_err *err);
uint64_t view_error_count(struct view *v);
/* What .lancefs/errors holds, appended to b. */
int view_errors(struct lc_buf *b, struct view *v, struct lc_err *err)
	LC_MUST_USE;
/* The same, its messages as "lancefs: MESSAGE" lines on `out`: what
 * opening the view met and went past (a database member left out). */
void view_say_errors(struct view *v, FILE *out);

/* True when the node's snapshot is one its dataset's root showed (or
 * shows): never one of @versions or @tags, even of the same version. */
bool view_shown(const struct vnode *n);
/* The root of a tag and what is below it carry the tag's number (1, 2,
 * ... in the order tags are looked up, kept for the mount's life; 0 for
 * anything else): @tags/T is not @versions/N, nor @tags/U. Only those up
 * to VIEW_TAG_MAX can be named by it. view_tag_root finds a tag's root
 * looked up before: 0, or ESTALE. */
#define VIEW_TAG_MAX 2047u
unsigned view_tag_of(const struct vnode *n);
int view_tag_root(struct vnode *out, struct view_ds *ds, unsigned tag,
		  uint64_t version) LC_MUST_USE;
/* True when `b`'s snapshot holds every row and file of `a`'s as `a`'s
 * does, both shown by their dataset's root: `b`'s version only appended
 * rows to `a`'s (lance_manifest_appends), or is `a`'s. Inodes of `a`'s
 * may then be served from `b`'s. */
bool view_covers(const struct vnode *a, const struct vnode *b);
/* True when two row nodes (from any snapshots) hold the same physical
 * row: same fragment id and offset. */
bool view_same_row(const struct vnode *a, const struct vnode *b);

/* The name of a FILE node in its row folder ("image.jpg"); ENOENT when
 * its value is null. */
int view_file_name(char *out, size_t cap, const struct vnode *n,
		   struct lc_err *err) LC_MUST_USE;
/* The folder name of a ROW (or FILE) node. */
int view_row_name(char *out, size_t cap, const struct vnode *n,
		  struct lc_err *err) LC_MUST_USE;
/* Where a ROW or FILE node's row lives: its snapshot's version, its
 * fragment's id and its offset there. */
void view_row_where(uint64_t *version, uint64_t *fragment_id,
		    uint64_t *offset, const struct vnode *n);
/* The lance_fragment_key of a ROW or FILE node's fragment. */
uint64_t view_row_key(const struct vnode *n);
/* lance_manifest_other_table of ROOT node `root`'s version. */
bool view_other_table(const struct vnode *root, uint64_t version,
		      uint64_t fragment_id, uint64_t key);
/* The ROOT of `version` of a dataset view (0: the current one). */
int view_root_at(struct vnode *out, struct view *v, uint64_t version,
		 struct lc_err *err) LC_MUST_USE;

/* The same for one dataset of the view (a database member, or the
 * mount's only one, view_single): its root at `version` (0: the one it
 * shows), following new versions, and its member name (NULL for a
 * dataset mount). */
int view_ds_root(struct vnode *out, struct view_ds *ds, uint64_t version,
		 struct lc_err *err) LC_MUST_USE;
/* Follow new versions: move the dataset's root to its newest version.
 * Returns 0 with *changed false when there is nothing newer (or the view
 * is pinned). Nodes of older versions stay valid. */
int view_ds_refresh(bool *changed, struct view_ds *ds, struct lc_err *err)
	LC_MUST_USE;
const char *view_ds_name(const struct view_ds *ds);
/* Remove the local folder of a dataset that has no version yet, if it is
 * empty (made for it at mount or by mkdir, and never committed to). */
void view_ds_drop_unborn(struct view_ds *ds);
struct view_ds *view_single(struct view *v);
/* Whether the database's dataset `name` was left out at open: its
 * manifest could not be read (.lancefs/errors says why). */
bool view_db_left_out(struct view *v, const char *name);
/* mkdir NAME in a writable database mount: a new empty member, made a
 * dataset by its first commit. EEXIST, EROFS. */
int view_db_mkdir(struct view_ds **out, struct view *v, const char *name,
		  struct lc_err *err) LC_MUST_USE;
/* Datasets other writers made in the database since (NAME.lance folders
 * with a version) become members; members whose folder went are gone
 * (view_ds_gone) until it comes back. *added says whether the members
 * shown changed. 0 on a dataset mount. */
int view_db_rescan(bool *added, struct view *v, struct lc_err *err)
	LC_MUST_USE;
/* A database member not shown (its folder went): lookups miss it. */
bool view_ds_gone(struct view_ds *ds);
/* The database member at position i (in name order), NULL past the
 * end or on a dataset mount. */
struct view_ds *view_db_member(struct view *v, size_t i);

/* For `lancefs info`: the snapshot behind a dataset node. */
const struct lance_manifest *view_manifest(const struct vnode *n);
struct ostore *view_store(const struct vnode *n);

#endif
