/*
 * kinds.h - what each value of a sniffed file column is (its extension,
 * or null), remembered per data file so that listing a row folder needs
 * no value bytes once a row was seen: in memory for the mount, and with
 * cache_dir= in DIR/kinds/ for later mounts.
 *
 * A data file never changes under its name (Lance writes new files), so
 * what its values are is a fact about (dataset root, path, size, field).
 * Files on disk are untrusted: a damaged, foreign or stale one is
 * ignored, and the rows are sniffed again.
 */
#ifndef LANCEFS_KINDS_H
#define LANCEFS_KINDS_H

#include "lance.h"

#include <stdatomic.h>

#define KINDS_VERSION 1u
enum { KIND_UNKNOWN = 0, KIND_NULL = 1, KIND_EXT0 = 2 };	/* 2 + index */

struct kinds_table;	/* one dataset's */
struct kinds;		/* one (data file, field) */

/* `dir` is cache_dir= or NULL (memory only); `root` names the dataset. */
int kinds_open(struct kinds_table **out, const char *dir, const char *root,
	       struct lc_err *err) LC_MUST_USE;
/* Writes what was learned since it was loaded, then frees. */
void kinds_free(struct kinds_table *t);

/* The record of field `field` in data file `path` (`size` bytes as the
 * manifest says, `rows` rows), loaded from disk the first time; NULL when
 * out of memory. Lives as long as the table. */
struct kinds *kinds_get(struct kinds_table *t, const char *path,
			uint64_t size, int32_t field, uint64_t rows);
/* KIND_UNKNOWN, KIND_NULL or KIND_EXT0 + render_sniff index. */
unsigned kinds_at(const struct kinds *k, uint64_t row);
/* Note what row `row` is; a big record is written out once every row is
 * known (kinds.c), the rest at kinds_free. */
void kinds_set(struct kinds_table *t, struct kinds *k, uint64_t row,
	       unsigned kind);

/* The file format, for kinds.c and its fuzz target. `key` names the
 * record; decode fills codes[rows] and is 0 only for a whole, intact file
 * of this version holding exactly that key and row count. */
int kinds_encode(struct lc_buf *out, const char *key, const uint8_t *codes,
		 uint64_t rows, struct lc_err *err) LC_MUST_USE;
int kinds_decode(const uint8_t *p, size_t n, const char *key, uint64_t rows,
		 uint8_t *codes);

#endif
