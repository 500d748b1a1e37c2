/*
 * ostore.h - the object-store interface: everything above it (format/, fs/)
 * gets bytes only through these calls, so the S3 backend drops in beside
 * the local one. Keys are '/'-separated paths relative to the store's root.
 * Knows nothing of Lance.
 */
#ifndef OSTORE_H
#define OSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lc.h"

struct ostore;
struct ostore_obj;
struct ostore_conf;

struct ostore_entry {
	const char *name;	/* last path component */
	uint64_t size;		/* bytes, 0 for directories */
	int is_dir;		/* a common prefix on object stores */
	int64_t mtime;		/* seconds since the epoch, 0 if unknown */
};

/* Called once per entry; a non-zero return stops the listing and is
 * returned by ostore_list. */
typedef int (*ostore_list_cb)(void *ctx, const struct ostore_entry *e);

enum ostore_kind {
	OSTORE_KIND_UNKNOWN = 0,
	OSTORE_KIND_LOCAL,
	OSTORE_KIND_MEM,
	OSTORE_KIND_S3,
	OSTORE_KIND_CACHE,
};

/* Counters a store keeps (remote backends and caches); zero elsewhere. */
struct ostore_stats {
	uint64_t requests;	/* HTTP requests sent, retries included */
	uint64_t retries;
	uint64_t errors;	/* requests that failed for good */
	uint64_t bytes_fetched;	/* body bytes received */
	uint64_t bytes_sent;
	uint64_t in_flight;	/* requests under way now */
	uint64_t hits;		/* cache: bytes served from memory or disk */
	uint64_t misses;	/* cache: reads that went to the store */
	uint64_t disk_hits;	/* cache: bytes loaded from the disk cache */
	uint64_t mem_bytes;	/* cache: bytes held in memory / on disk */
	uint64_t disk_bytes;
	uint64_t warm_done;	/* warmup: bytes of queued objects now on
				 * disk (present before, or fetched) */
	uint64_t warm_total;	/* bytes of the objects warmup opened */
	uint64_t warm_pending;	/* objects queued or being warmed */
	uint64_t warm_failed;	/* objects warmup could not open or fetch */
};

struct ostore_ops {
	enum ostore_kind kind;
	int (*open)(struct ostore *st, const char *key,
		    struct ostore_obj **out, struct lc_err *err);
	int (*read)(struct ostore_obj *o, uint64_t off, size_t len,
		    void *buf, struct lc_err *err);
	void (*close)(struct ostore_obj *o);
	int (*list)(struct ostore *st, const char *dir, ostore_list_cb cb,
		    void *ctx, struct lc_err *err);
	int (*put)(struct ostore *st, const char *key, const void *data,
		   size_t len, int if_absent, struct lc_err *err);
	int (*del)(struct ostore *st, const char *key, struct lc_err *err);
	/* a store rooted at directory `dir` of this one */
	int (*sub)(struct ostore *st, const char *dir, struct ostore **out,
		   struct lc_err *err);
	/* optional: add this store's counters to *out */
	void (*stats)(struct ostore *st, struct ostore_stats *out);
	void (*free)(struct ostore *st);
};

struct ostore {
	const struct ostore_ops *ops;
	char *root;		/* what the user named, for messages */
	const struct ostore_conf *conf;	/* borrowed; outlives the store */
};

struct ostore_obj {
	struct ostore *st;
	char *key;
	uint64_t size;
	char *etag;		/* identity of this content (ETag, or mtime
				 * and size), NULL if unknown: caches key
				 * on it, so a replaced object is a miss */
};

/*
 * Store settings: -o options in Lance's storage_options spelling
 * (region=, endpoint=, aws_access_key_id=, ...) and the cache's
 * (cache_size=, cache_dir=). A conf outlives every store opened with it.
 */
int ostore_conf_new(struct ostore_conf **out, struct lc_err *err) LC_MUST_USE;
void ostore_conf_free(struct ostore_conf *c);
/* Take one "key=value" option: 0 if it is a store setting, ENOENT if
 * not (the caller tries its own), EINVAL with a message if malformed. */
int ostore_conf_parse(struct ostore_conf *c, const char *opt,
		      struct lc_err *err) LC_MUST_USE;
/* Hide the values of secrets (a secret key, a session token) among the
 * `len` bytes of an -o argument that its parser cut into NUL-ended
 * tokens, in place: the argument is the process's argv, which ps(1)
 * shows (the store keeps its own copies). */
void ostore_conf_hide_secrets(char *arg, size_t len);
/* A count ("65536"), and with `sized` a size ("256M", "10G", "64KiB":
 * K, M, G, T are powers of 1024): 0, or EINVAL. */
int ostore_parse_count(const char *v, bool sized, uint64_t *out);
/* The value of `key` in its canonical spelling ("region",
 * "access_key_id", ...), whichever alias set it; NULL if unset. */
const char *ostore_conf_get(const struct ostore_conf *c, const char *key);

/* The local path `uri` names into `out`: a path as it is, a file:// URI's
 * path %-decoded (as Lance reads it); false for another scheme. */
bool ostore_local_path(char *out, size_t cap, const char *uri);
/*
 * Open the store holding `uri`: "/abs/path", "rel/path", "file:///abs",
 * "s3://bucket/prefix" or "oss://bucket/prefix". The URI names the
 * store's root; keys are relative to it. `conf` may be NULL (defaults,
 * credentials from the environment).
 */
int ostore_open_uri(struct ostore **out, const char *uri,
		    const struct ostore_conf *conf,
		    struct lc_err *err) LC_MUST_USE;
void ostore_free(struct ostore *st);
/* A store rooted at a subdirectory of `st` (a dataset in a database). */
int ostore_sub(struct ostore **out, struct ostore *st, const char *dir,
	       struct lc_err *err) LC_MUST_USE;

/* Open one object for ranged reads; ENOENT with LC_EK_NOTFOUND if absent. */
int ostore_open(struct ostore_obj **out, struct ostore *st, const char *key,
		struct lc_err *err) LC_MUST_USE;
/* Read exactly `len` bytes at `off`; a short object is EIO (corrupt). */
int ostore_read(struct ostore_obj *o, uint64_t off, size_t len, void *buf,
		struct lc_err *err) LC_MUST_USE;
void ostore_close(struct ostore_obj *o);
/* At most `cap` descriptors of local objects stay open between reads
 * (0: half of RLIMIT_NOFILE, the default); for tests. */
void ostore_local_fd_cap(size_t cap);
static inline uint64_t ostore_size(const struct ostore_obj *o)
{
	return o->size;
}

/* Read a whole object of at most `limit` bytes into a new buffer. */
int ostore_get(uint8_t **out, size_t *len, struct ostore *st,
	       const char *key, size_t limit, struct lc_err *err) LC_MUST_USE;
/* List the direct children of directory `dir` ("" for the root). A missing
 * directory lists nothing. */
int ostore_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		void *ctx, struct lc_err *err) LC_MUST_USE;
/* Write an object; with if_absent, EEXIST if the key already exists and the
 * write is atomic (readers see all of it or none). */
int ostore_put(struct ostore *st, const char *key, const void *data,
	       size_t len, int if_absent, struct lc_err *err) LC_MUST_USE;
int ostore_delete(struct ostore *st, const char *key,
		  struct lc_err *err) LC_MUST_USE;
/* Counters of this store and the stores under it (zeros if it keeps none). */
void ostore_stats(struct ostore *st, struct ostore_stats *out);

/*
 * The read cache (cache.c) for remote stores: fixed blocks of objects that
 * have an etag, in a memory LRU (cache_size=, default 256M) and optionally
 * on local disk (cache_dir=, cache_dir_size= default 10G); cache_entries=
 * (default 100000) bounds blocks in memory and files on disk;
 * cache_threads= (default 8) sets the read-ahead and warmup workers.
 *
 * ostore_cache_wrap takes ownership of `inner`, also when it fails (then
 * inner is freed). list/put/del/sub pass through; stats add the cache's.
 */
int ostore_cache_wrap(struct ostore **out, struct ostore *inner,
		      const struct ostore_conf *conf,
		      struct lc_err *err) LC_MUST_USE;
/* Queue `key` for warmup: a worker copies the whole object into the disk
 * cache at low priority, fetching only the blocks not there yet, while
 * reads go on. Returns at once; warm_done/warm_total/warm_pending in the
 * stats follow it. A store that is not a cache has nothing to warm (0);
 * a cache without cache_dir= (or cache_threads=0) is EINVAL. */
int ostore_cache_warm(struct ostore *st, const char *key,
		      struct lc_err *err) LC_MUST_USE;
/* A process about to fork (a FUSE mount before fuse_daemonize) holds the
 * caches' worker threads back; threads and the state they wait on do not
 * survive a fork. Read-ahead is skipped and warmup refused meanwhile. */
void ostore_hold_threads(bool hold);
/* Drop queued warmups and stop running ones at their next block run. */
void ostore_cache_warm_cancel(struct ostore *st);
/* Wait until no warmup is queued or running. */
void ostore_cache_warm_wait(struct ostore *st);

/* For backends: EIO (corrupt) for a key that is absolute or climbs out
 * of the store with "..": keys come from manifests. */
int ostore_check_key(const char *key, struct lc_err *err) LC_MUST_USE;

/* Backends */
int ostore_local_new(struct ostore **out, const char *dir,
		     struct lc_err *err) LC_MUST_USE;
/* An in-memory store for tests and fuzzers; fill it with ostore_put. */
int ostore_mem_new(struct ostore **out, struct lc_err *err) LC_MUST_USE;

#endif
