/*
 * ingest.h - staged rows become Lance rows (VIEW.md §1 and §3,
 * WRITES.md "What a commit writes"). Knows nothing of FUSE.
 *
 *   assembly   one staged row folder (or root-level file) gives one value
 *              per top-level column, appended to column builders:
 *              <column>.<ext> binary bytes as they are, <column>.txt a
 *              string (UTF-8), meta.json any non-binary column, the name
 *              column from the folder name; refusals name the row, the
 *              file and the reason
 *   inference  a new dataset's schema from its first staged rows
 *   commit     complete staged rows -> one data file -> lance_commit,
 *              recorded in the staging journal so that a crash commits
 *              nothing twice (ingest_recover)
 *
 * A root-level file (a staged row whose .row says so; ingest_row's
 * is_file) is a row of its own: its bytes fill the only binary column (or
 * the file column) and its name without the extension fills the name
 * column.
 */
#ifndef LANCEFS_INGEST_H
#define LANCEFS_INGEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "lance.h"
#include "staging.h"

struct ingest_opts {
	const char *name_column;	/* NULL: the dataset's config
					 * lancefs.name_column (new dataset:
					 * "name"); "": none */
	const char *file_column;	/* root-level files; NULL: the only
					 * binary column */
	const char *format_version;	/* new dataset; NULL: "2.0" */
	bool validate_images;		/* refuse undecodable JPEG/PNG */
};

/* ---------------------------------------------------------------- assembly */

/* Per-column builders for the top-level fields of one schema. */
struct ingest_rows;

/* Builders for the top-level columns of `schema` (borrowed; must outlive
 * them). `opts` is copied. `v20`: the data file will be version 2.0
 * (which cannot store null structs: they become structs of nulls). */
int ingest_rows_new(struct ingest_rows **out,
		    const struct lance_schema *schema,
		    const struct ingest_opts *opts, bool v20,
		    struct lc_err *err) LC_MUST_USE;
void ingest_rows_free(struct ingest_rows *r);
uint64_t ingest_rows_count(const struct ingest_rows *r);

/* Hidden files (.DS_Store, ._*, editors' swap files, the staging's own
 * .name and .row), Thumbs.db and editors' backups and auto-saves
 * (NAME~, #NAME#): never values, and at a root never rows. */
bool ingest_ignored(const char *name);
/* Of those, the names a row folder never commits under (not a backup's:
 * editors make backup files, not folders). */
bool ingest_hidden(const char *name);

/*
 * Append one row: `path` is the staged row folder (or, with `is_file`,
 * the root-level file itself), `name` the name the user gave it. On
 * failure nothing is appended and `err` says "ROW/FILE: reason" (EINVAL,
 * LC_EK_USAGE for a refused row, other errnos for I/O), or INGEST_FULL
 * where the row's values would put more distinct values in a dictionary
 * column than one data file may hold: the rows so far make a file, and
 * the row goes in the next. A row that alone holds too many is refused.
 */
#define INGEST_FULL EXFULL
int ingest_row(struct ingest_rows *r, const char *path, const char *name,
	       bool is_file, struct lc_err *err) LC_MUST_USE;

/* The columns built so far, one per top-level field, in schema order;
 * borrowed, valid until the next ingest_row or ingest_rows_free. */
int ingest_rows_arrays(const struct lance_array **out, struct ingest_rows *r,
		       struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- inference */

/* The rows to infer from: folders (or root-level files with is_file). */
struct ingest_src {
	const char *path;
	const char *name;
	bool is_file;
};

/* A new dataset's schema (VIEW.md §1): a nullable "name" string column,
 * a binary column per <column>.<ext> file, a string column per
 * <column>.txt, and int64, double, bool, string, list and struct columns
 * from meta.json. Rows that cannot be read are skipped here (assembly
 * refuses them later). */
int ingest_infer_schema(struct lance_schema *out,
			const struct ingest_src *rows, size_t n,
			const struct ingest_opts *opts,
			struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- commit */

/* A staged row that was refused; it stays staged. With ESTALE, a change
 * whose committed row is no longer where it was (deleted, or moved by a
 * rewrite). With ENOENT, a deletion whose row is gone already: not a
 * refusal, the caller drops it. */
typedef void (*ingest_refused_cb)(void *ctx, uint64_t row, const char *name,
				  const struct lc_err *why);

/* Whether staged update `row`, its committed row found as it was, holds
 * that row's values (the caller compared them): true leaves it out of
 * the commit (no deletion, no data), still staged, for the caller to
 * drop. */
typedef bool (*ingest_unchanged_cb)(void *ctx, uint64_t row);

/* Staged `row` landed in `version` at row `offset` of fragment
 * `fragment_id` (whose data `key` names: lance_fragment_key): true keeps
 * it staged (its batch record does not take it out), for the caller to
 * make it a change of that row. Called again with `revoke` (the other
 * arguments 0) when the batch could not be recorded without it after
 * all: it goes with the batch. */
typedef bool (*ingest_landed_cb)(void *ctx, uint64_t row, uint64_t version,
				 uint64_t fragment_id, uint64_t offset,
				 uint64_t key, bool revoke);

/* Why staged change of `row` (a deletion, or an update) made on
 * `version` of a dataset deleted and made anew since does not land
 * (lance_manifest_other_table): ENOENT for a deletion, which is dropped,
 * ESTALE for an update, with the message in err. */
int ingest_made_anew(struct lc_err *err, const char *row, bool deletion,
		     uint64_t version);

/* A commit attempt whose outcome is unknown: its transaction id, and
 * the version it was planned against (a late landing is newer). */
struct ingest_attempt {
	char uuid[37];
	uint64_t since;
};

/*
 * Commit every complete staged row of `stg` to the dataset in `st`,
 * planned against `read_version` with `schema` (NULL: a new dataset, its
 * schema inferred, config lancefs.name_column=name). Every staged row
 * is taken: the caller commits when its rows are complete (closed).
 * Refused rows are reported through `refused` and stay staged. One data
 * file in the dataset's file version under data/; the batch is recorded
 * before lance_commit and finished after it (abandoned, rows kept, on
 * failure).
 * *new_version is the version written, or 0 when there was nothing to
 * commit; *n_committed counts the rows in it (may be NULL).
 */
int ingest_commit(uint64_t *new_version, uint64_t *n_committed,
		  struct ostore *st, struct staging *stg,
		  uint64_t read_version, const struct lance_schema *schema,
		  const struct ingest_opts *opts, ingest_refused_cb refused,
		  void *ctx, struct lc_err *err) LC_MUST_USE;

/*
 * The same for the staged rows `only` (n_only of them), which may also be
 * updates and deletions of committed rows (staging.h): an update's
 * folder must already hold every value of the row (the caller copies the
 * committed files it does not replace); its committed row is deleted in
 * the same version. An update or delete whose committed row is gone at
 * `read_version` is refused. `only` NULL: every staged row that is not
 * interrupted. `unchanged` (may be NULL) is asked about each update
 * that passed that check.
 *
 * `again` (may be NULL) in: an earlier attempt of these rows whose
 * outcome is unknown (uuid "" for none). If it landed since, its rows
 * are settled with its version; else they go again under its id, so
 * that a late landing is found as theirs instead of adding them twice.
 * Out: uuid "" once settled; else (the manifest put got no answer, or
 * `again` is still unknown) the attempt to pass next time, whose rows
 * and batch record stay.
 */
int ingest_commit_rows(uint64_t *new_version, uint64_t *n_committed,
		       struct ostore *st, struct staging *stg,
		       const uint64_t *only, size_t n_only,
		       uint64_t read_version, struct ingest_attempt *again,
		       const struct lance_schema *schema,
		       const struct ingest_opts *opts,
		       ingest_refused_cb refused,
		       ingest_unchanged_cb unchanged, ingest_landed_cb landed,
		       void *ctx, struct lc_err *err) LC_MUST_USE;

/* The bytes of a root-level file's name that name its row: all but the
 * last extension (a leading dot starts no extension). */
size_t ingest_stem_len(const char *name);

/* Whether data files of the dataset at manifest `m` (a version of it)
 * can be written here: its file version, and every column's type in it.
 * 0, or the errno with `err` naming the column and why. */
int ingest_writable(const struct lance_manifest *m,
		    struct lc_err *err) LC_MUST_USE;

/* Settle the batches a crash left: those whose transaction landed in a
 * version after their read version are done (their rows removed). The
 * others may still land (a put in flight when the daemon died): they go
 * to *unsure (*n_unsure of them; free each with staging_batch_reset,
 * then the array), records kept, for their rows to be committed again
 * under the same transaction id. *landed counts (may be NULL). */
int ingest_recover(size_t *landed, struct staging_batch **unsure,
		   size_t *n_unsure, struct ostore *st, struct staging *stg,
		   struct lc_err *err) LC_MUST_USE;

/* Test hook: called after the batch is recorded, before lance_commit,
 * and again after lance_commit, before the batch is finished. */
extern void (*ingest__test_hook)(int point);

#endif
