/*
 * cache.c - a read cache that wraps any object store (S3 in practice).
 *
 * Why: over S3 every ostore_read is a ranged GET, a round trip of 5 ms or
 * more. The format layer reads a data file's footer and metadata, then one
 * value range (~100 KB, an image) per row; loaders go through rows in
 * order (first epoch) or shuffled.
 *
 * Identity. Only objects with an etag are cached. A block is named by the
 * SHA-256 of (store root, key, etag, size) and its index, so a replaced
 * object (new etag) is another name: a miss, never stale bytes. Objects
 * without an etag are read straight through.
 *
 * Blocks. Content is cut into aligned 64 KiB blocks (CACHE_BLOCK). An
 * image of ~100 KB touches two or three blocks, fetched as one request of
 * at most 192 KiB: shuffled reads waste under half a request's bytes,
 * where 1 MiB blocks would fetch ten times the image. Sequential reads do
 * not need big blocks, because read-ahead fetches many blocks per request.
 * 64 KiB is also Lance's own I/O block on cloud stores (s3.md §14) and
 * keeps the per-block bookkeeping (~100 bytes) under 0.2 %.
 *
 * Memory. Blocks sit in one hash table and one LRU list under c->mu,
 * bounded by cache_size= bytes and cache_entries= blocks. A reader pins
 * the blocks it needs (refs), so eviction skips them while it copies; the
 * lock is never held across I/O or a copy. A missing block is inserted as
 * LOADING by the thread that will fetch it; others wanting it wait on
 * the block's wait queue (one of c->done_cv[], by hash; a load wakes only
 * the queues of blocks with waiters), so two readers of one block cause
 * one request. The missing blocks of one read that are contiguous are
 * fetched with one ranged read of the inner store. If a loader fails, its
 * blocks are dropped and each waiter tries once more itself.
 *
 * Read-ahead. Each open object tracks up to RA_STREAMS streams (the format
 * layer may interleave two sequential walks, e.g. offsets and values). A
 * read that starts within [end - 4 MiB, end + 512 KiB] of a stream's last
 * end continues it (parallel readers of one walk arrive out of order);
 * from the third read in a row the stream keeps a window of blocks queued
 * ahead of the reader, 256 KiB at first and doubling each time the reader
 * has used half of it, up to 8 MiB (at most a quarter of cache_size), in
 * jobs of 1 MiB that the worker pool (cache_threads=) fetches in
 * parallel. Demand reads run in the caller's thread and never queue behind
 * read-ahead; a job pins its object (refs), so closing it during a
 * prefetch is safe, and jobs of a closed object are skipped. With a disk
 * cache, the blocks a stream has walked over and left RA_KEEP behind are
 * let go from memory once the disk holds them, so a scan recycles a few
 * MiB of block memory rather than touching fresh pages.
 *
 * Disk (cache_dir=). Blocks fetched are also written to chunk files of
 * 16 MiB of content under DIR/v1/, named by the hex identity digest and
 * chunk index (never by keys); cache.h has the layout. Each block carries
 * a crc32 and the header names the content, so a torn write, a crash or a
 * flipped byte is a miss and the block is fetched and rewritten. Writers
 * only ever write identical bytes for a name; files are born whole (temp
 * file + link), so mounts sharing a directory cannot make each other
 * serve wrong bytes. The directory is bounded by cache_dir_size= bytes
 * and cache_entries= files, evicting whole files least recently used
 * (mtime, refreshed at most once a minute on use, keeps the order across
 * remounts). Each mount enforces the bounds on what it has seen: the
 * files present when it started plus those it wrote.
 *
 * Warmup. ostore_cache_warm queues a key; at most half the workers warm
 * at once, taking jobs only when no read-ahead is queued. A warm job reads
 * the slots of each 1 MiB range and fetches only the runs missing on
 * disk, writing them there (not to memory).
 *
 * Locks: c->mu (blocks, LRU, job queues, store activity counts), o->ra_mu
 * (one object's streams), d->mu (disk index, chunk files kept open). None
 * is held while another is taken, nor across I/O other than the unlink
 * of an evicted file and the close of a kept-open chunk file let go. The
 * block pool's own lock (c->pool.mu) is innermost: an eviction frees
 * blocks under c->mu.
 */
#include "ostore.h"
#include "cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define DEF_MEM ((uint64_t)256 << 20)
#define DEF_DISK ((uint64_t)10 << 30)
#define DEF_ENTRIES 100000u
#define DEF_THREADS 8u
#define MAX_THREADS 64u

#define PIECE_BLOCKS 64u	/* a demand read is done 4 MiB at a time */
#define JOB_BLOCKS 16u		/* read-ahead and warmup request: 1 MiB */
#define RA_STREAMS 4
#define RA_MIN ((uint64_t)256 << 10)
#define RA_MAX ((uint64_t)8 << 20)
#define RA_GAP ((uint64_t)512 << 10)
#define RA_BACK ((uint64_t)4 << 20)
#define RA_KEEP ((uint64_t)16 << 20)	/* kept behind a stream, disk cache */
#define RA_START 2		/* sequential reads before read-ahead */
#define WAIT_QUEUES 16u
#define IOV_BLOCKS 64u		/* blocks per disk read: 4 MiB */

_Static_assert(CACHE_CHUNK_BLOCKS % JOB_BLOCKS == 0,
	       "a job must not straddle two chunk files");

enum { BLK_LOADING, BLK_READY, BLK_FAILED };
/* what a claim found, per block */
enum { GOT_PRESENT, GOT_MINE, GOT_DISK, GOT_FETCHED, GOT_FAILED };

struct cblock {
	uint8_t id[32];
	uint64_t idx;
	struct cblock *hnext;		/* hash chain */
	struct cblock *prev, *next;	/* LRU, only while READY */
	uint8_t *data;
	uint32_t len;
	int state;
	int refs;			/* pins: readers copying, the loader */
	int waiters;			/* readers waiting for it to load */
	int on_disk;			/* cache_dir= holds it too */
};

struct copen;

struct dent {				/* one chunk file */
	uint8_t id[32];
	uint32_t chunk;
	uint64_t bytes;			/* what the file occupies (st_blocks) */
	time_t stamped;			/* when we last set its mtime */
	struct copen *open;		/* kept open, or NULL */
	int written;			/* by this mount: in the page cache */
	struct dent *hnext, *prev, *next;
};

/* A chunk file kept open for reading, with its header and slots as read
 * when it was opened: a hit then costs the block reads alone, not an
 * open, a header read and a close. Dropped when we write to the file or
 * find a block its slots lack (another mount may have written it). */
struct copen {
	int fd;
	int dfd;			/* the same file, O_DIRECT; or -1 */
	int refs;			/* the dent's, and readers'; d->mu */
	struct dent *owner;		/* NULL once dropped */
	size_t alen;
	uint8_t area[CACHE_DATA_OFF];
};

#define OPEN_CHUNKS 64u			/* kept open at once, at most */

struct disk {
	pthread_mutex_t mu;
	int dirfd;			/* DIR/v1 */
	uint64_t limit, max_files;
	uint64_t bytes, files;		/* protected by mu */
	struct dent **tab;
	size_t mask;
	struct dent lru;		/* lru.next is the most recent */
	struct copen *opens[OPEN_CHUNKS];	/* replaced in turn; mu */
	unsigned open_next;
};

/*
 * Block memory: one mapping of 64 KiB slots, as many as cache_size= holds,
 * handed out last freed first. Filling the cache then never grows a malloc
 * heap: a thread's arena grows by mprotect(), which takes the process's
 * address-space lock for writing and stalls the other threads' page faults
 * and O_DIRECT reads (perf: ~750 such sleeps in a second epoch of 2,000
 * images from cache_dir, which this pool made 20 % faster). Huge pages
 * (MADV_HUGEPAGE) made it slower: each first touch then zeroes 2 MiB.
 * Past its slots (pinned blocks may briefly exceed the bound) blocks come
 * from malloc.
 */
struct pool {
	pthread_mutex_t mu;
	uint8_t *base;			/* NULL: malloc only */
	size_t len;			/* of the mapping */
	uint32_t n, used;		/* slots; slots ever handed out */
	void *free;			/* freed slots, linked through their
					 * first bytes */
};

struct cache_store;

struct cjob {
	struct cjob *next;
	struct cache_store *cs;
	struct cache_obj *o;		/* read-ahead: a pinned object */
	uint64_t b0, nb;
	char *key;			/* warmup */
	unsigned gen;
};

struct cache {
	pthread_mutex_t mu;
	/* a block left LOADING; a block's waiters sleep on one of these
	 * (by its hash), so a load wakes only readers that may want it */
	pthread_cond_t done_cv[WAIT_QUEUES];
	pthread_cond_t work_cv;		/* a job was queued, or stop */
	pthread_cond_t idle_cv;		/* a job finished */
	int refs;			/* stores sharing this cache */

	struct cblock **tab;
	size_t mask;
	struct cblock lru;		/* lru.next is the most recent */
	uint64_t mem_bytes, mem_limit;
	uint64_t n_blocks, max_entries;
	uint32_t piece_blocks;
	uint64_t ra_max;

	struct cjob *pf_head, *pf_tail;	/* read-ahead: first */
	struct cjob *warm_head, *warm_tail;
	unsigned warm_running, warm_max, warm_gen;
	int stop;
	pthread_t *threads;
	unsigned nthreads;		/* workers wanted (cache_threads=) */
	unsigned started;		/* workers running; c->mu */

	struct disk *disk;		/* NULL without cache_dir= */

	struct pool pool;

	_Atomic uint64_t hits, misses, disk_hits;
	_Atomic uint64_t warm_done, warm_total, warm_pending, warm_failed;
};

struct cache_store {
	struct ostore base;
	struct ostore *inner;
	struct cache *c;
	unsigned active;		/* jobs running for it; c->mu */
	int closing;			/* being freed; c->mu */
};

struct ra_stream {
	int used;
	uint64_t next;			/* where the last read ended */
	uint64_t ahead;			/* read-ahead queued up to here */
	uint64_t window;
	unsigned run;			/* sequential reads so far */
	unsigned tick;
	uint64_t passed;		/* blocks before this one let go */
};

struct cache_obj {
	struct ostore_obj base;
	struct ostore_obj *inner;
	struct cache *c;
	atomic_int refs;		/* the opener, plus each queued job */
	atomic_int closed;
	int cacheable;			/* has an etag */
	uint8_t id[32];
	pthread_mutex_t ra_mu;
	struct ra_stream ra[RA_STREAMS];	/* ra_mu */
	unsigned tick;				/* ra_mu */
};

static const struct ostore_ops cache_ops;

static struct cache_store *to_cs(struct ostore *st)
{
	return (struct cache_store *)st;
}

static struct cache_obj *to_co(struct ostore_obj *o)
{
	return (struct cache_obj *)o;
}

/* ---- block memory ---------------------------------------------------- */

static void pool_init(struct pool *p, uint64_t bytes)
{
	uint64_t n = bytes / CACHE_BLOCK;
	size_t len;
	uint8_t *m;

	pthread_mutex_init(&p->mu, NULL);
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	len = (size_t)n * CACHE_BLOCK;
	if (!n || len / CACHE_BLOCK != n)
		return;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return;
	p->base = m;
	p->len = len;
	p->n = (uint32_t)n;
}

static void pool_fini(struct pool *p)
{
	if (p->base)
		munmap(p->base, p->len);
	pthread_mutex_destroy(&p->mu);
}

/* Memory for one block (CACHE_BLOCK bytes, 4 KiB aligned), or NULL. */
static uint8_t *pool_get(struct pool *p)
{
	void *b = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->free) {
		b = p->free;
		memcpy(&p->free, b, sizeof(void *));
	} else if (p->used < p->n) {
		b = p->base + (size_t)p->used++ * CACHE_BLOCK;
	}
	pthread_mutex_unlock(&p->mu);
	if (!b && posix_memalign(&b, 4096, CACHE_BLOCK))
		b = NULL;
	return b;
}

static void pool_put(struct pool *p, uint8_t *b)
{
	if (!b)
		return;
	if (!p->base || (uintptr_t)b < (uintptr_t)p->base ||
	    (uintptr_t)b >= (uintptr_t)p->base + p->len) {
		free(b);
		return;
	}
	pthread_mutex_lock(&p->mu);
	memcpy(b, &p->free, sizeof(void *));
	p->free = b;
	pthread_mutex_unlock(&p->mu);
}

/* ---- on-disk format (cache.h) ------------------------------------- */

static const uint8_t hdr_magic[8] = { 'l', 'a', 'n', 'c', 'e', 'f', 's', 'C' };
static const uint8_t slot_magic[4] = { 'L', 'F', 'B', '1' };

void cache_hdr_encode(uint8_t out[CACHE_HDR_LEN], const struct cache_hdr *h)
{
	memcpy(out, hdr_magic, 8);
	lc_put_le32(out + 8, CACHE_VERSION);
	lc_put_le32(out + 12, CACHE_BLOCK);
	lc_put_le32(out + 16, CACHE_CHUNK_BLOCKS);
	lc_put_le32(out + 20, h->chunk);
	lc_put_le64(out + 24, h->size);
	memcpy(out + 32, h->id, 32);
	lc_put_le32(out + 64, lc_crc32(out, 64));
}

int cache_hdr_decode(const uint8_t *area, size_t n, struct cache_hdr *out)
{
	if (n < CACHE_HDR_LEN || memcmp(area, hdr_magic, 8) ||
	    lc_le32(area + 64) != lc_crc32(area, 64) ||
	    lc_le32(area + 8) != CACHE_VERSION ||
	    lc_le32(area + 12) != CACHE_BLOCK ||
	    lc_le32(area + 16) != CACHE_CHUNK_BLOCKS)
		return EIO;
	out->chunk = lc_le32(area + 20);
	out->size = lc_le64(area + 24);
	memcpy(out->id, area + 32, 32);
	return 0;
}

int cache_hdr_check(const uint8_t *area, size_t n,
		    const struct cache_hdr *want)
{
	struct cache_hdr h;

	if (cache_hdr_decode(area, n, &h) || h.chunk != want->chunk ||
	    h.size != want->size || memcmp(h.id, want->id, 32))
		return EIO;
	return 0;
}

void cache_slot_encode(uint8_t out[CACHE_SLOT_LEN], uint32_t idx,
		       uint32_t len, uint32_t data_crc)
{
	uint8_t tmp[16];

	memcpy(out, slot_magic, 4);
	lc_put_le32(out + 4, len);
	lc_put_le32(out + 8, data_crc);
	lc_put_le32(tmp, idx);
	memcpy(tmp + 4, out, 12);
	lc_put_le32(out + 12, lc_crc32(tmp, 16));
}

int cache_slot_check(const uint8_t *area, size_t n, uint32_t idx,
		     uint32_t want_len, uint32_t *data_crc)
{
	const uint8_t *p;
	uint8_t tmp[16];

	if (idx >= CACHE_CHUNK_BLOCKS ||
	    !lc_range_ok(CACHE_SLOT_OFF + (uint64_t)idx * CACHE_SLOT_LEN,
			 CACHE_SLOT_LEN, n))
		return ENOENT;
	p = area + CACHE_SLOT_OFF + idx * CACHE_SLOT_LEN;
	lc_put_le32(tmp, idx);
	memcpy(tmp + 4, p, 12);
	if (memcmp(p, slot_magic, 4) || lc_le32(p + 12) != lc_crc32(tmp, 16) ||
	    lc_le32(p + 4) != want_len || !want_len ||
	    want_len > CACHE_BLOCK)
		return ENOENT;
	*data_crc = lc_le32(p + 8);
	return 0;
}

/* ---- settings ------------------------------------------------------ */

/* "256M", "10G", "65536", "64KiB": binary units. */
static int parse_u64(const struct ostore_conf *conf, const char *name,
		     int sized, uint64_t def, uint64_t *out,
		     struct lc_err *err)
{
	const char *v = ostore_conf_get(conf, name);

	*out = def;
	if (v && ostore_parse_count(v, sized, out))
		return LC_USAGE(err, "%s=%s: not a %s", name, v,
				sized ? "size (like 512M or 10G)" : "number");
	return 0;
}

/* ---- identity ------------------------------------------------------ */

static int ident(uint8_t out[32], const char *root, const char *key,
		 const char *etag, uint64_t size, struct lc_err *err)
{
	static const char tag[] = "lancefs-cache-v1";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t sz[8];
	unsigned olen = 0;
	int ok;

	if (!ctx)
		return LC_NOMEM(err);
	lc_put_le64(sz, size);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, tag, sizeof(tag)) &&
	     EVP_DigestUpdate(ctx, root, strlen(root) + 1) &&
	     EVP_DigestUpdate(ctx, key, strlen(key) + 1) &&
	     EVP_DigestUpdate(ctx, etag, strlen(etag) + 1) &&
	     EVP_DigestUpdate(ctx, sz, 8) &&
	     EVP_DigestFinal_ex(ctx, out, &olen) && olen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : LC_SYS(err, EIO, "%s: SHA-256 failed", key);
}

/* ---- disk cache ---------------------------------------------------- */

static void chunk_name(char out[80], const uint8_t id[32], uint32_t chunk)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	snprintf(out + 64, 16, ".%x", chunk);
}

/* "<64 hex>.<hex chunk>" back to its parts; EINVAL for other names. */
static int chunk_parse(const char *name, uint8_t id[32], uint32_t *chunk)
{
	unsigned long v;
	char *end;

	for (int i = 0; i < 64; i++) {
		char ch = name[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' :
			ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;

		if (d < 0)
			return EINVAL;
		if (i & 1)
			id[i / 2] = (uint8_t)(id[i / 2] | d);
		else
			id[i / 2] = (uint8_t)(d << 4);
	}
	if (name[64] != '.' || !name[65] || name[65] == '-')
		return EINVAL;
	errno = 0;
	v = strtoul(name + 65, &end, 16);
	if (errno || *end || v > UINT32_MAX)
		return EINVAL;
	*chunk = (uint32_t)v;
	return 0;
}

static size_t dent_hash(const struct disk *d, const uint8_t *id,
			uint32_t chunk)
{
	return (size_t)(lc_le64(id) ^ (chunk * 0x9e3779b97f4a7c15ull)) &
	       d->mask;
}

static void dent_unlink_lru(struct dent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void dent_front(struct disk *d, struct dent *e)
{
	e->next = d->lru.next;
	e->prev = &d->lru;
	d->lru.next->prev = e;
	d->lru.next = e;
}

static struct dent *dent_find(struct disk *d, const uint8_t *id,
			      uint32_t chunk)
{
	struct dent *e = d->tab[dent_hash(d, id, chunk)];

	while (e && (e->chunk != chunk || memcmp(e->id, id, 32)))
		e = e->hnext;
	return e;
}

/* Add an entry at the front (most recent) of the LRU. d->mu held. */
static struct dent *dent_add(struct disk *d, const uint8_t *id,
			     uint32_t chunk)
{
	struct dent *e = lc_calloc(1, sizeof(*e));
	size_t h = dent_hash(d, id, chunk);

	if (!e)
		return NULL;
	memcpy(e->id, id, 32);
	e->chunk = chunk;
	e->hnext = d->tab[h];
	d->tab[h] = e;
	dent_front(d, e);
	d->files++;
	return e;
}

static void copen_put(struct copen *o)
{
	if (--o->refs == 0) {
		close(o->fd);
		if (o->dfd >= 0)
			close(o->dfd);
		lc_free(o);
	}
}

/* Stop keeping e's file open (readers using it finish first). d->mu held. */
static void copen_drop(struct disk *d, struct dent *e)
{
	struct copen *o = e->open;

	if (!o)
		return;
	e->open = NULL;
	o->owner = NULL;
	for (unsigned i = 0; i < OPEN_CHUNKS; i++)
		if (d->opens[i] == o)
			d->opens[i] = NULL;
	copen_put(o);
}

static void dent_drop(struct disk *d, struct dent *e)
{
	struct dent **pp = &d->tab[dent_hash(d, e->id, e->chunk)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	copen_drop(d, e);
	dent_unlink_lru(e);
	d->bytes -= e->bytes;
	d->files--;
	lc_free(e);
}

/* Unlink least recently used files until the bounds hold. d->mu held. */
static void disk_evict(struct disk *d)
{
	while ((d->bytes > d->limit || d->files > d->max_files) &&
	       d->lru.prev != &d->lru) {
		struct dent *e = d->lru.prev;
		char name[80];

		chunk_name(name, e->id, e->chunk);
		(void)unlinkat(d->dirfd, name, 0);
		dent_drop(d, e);
	}
}

/* Account a chunk file just written through `fd` at what it now occupies
 * and make it the most recent. Measured under the lock, because writers of
 * one file race: the file only grows, so the last measure is the truest.
 * False when the bounds evicted it at once (or it could not be
 * accounted). */
static bool disk_charge(struct disk *d, const uint8_t *id, uint32_t chunk,
			int fd)
{
	bool kept;
	struct dent *e;
	struct stat sb;

	pthread_mutex_lock(&d->mu);
	e = dent_find(d, id, chunk);
	if (e) {
		dent_unlink_lru(e);
		dent_front(d, e);
	} else {
		e = dent_add(d, id, chunk);
	}
	if (e) {
		copen_drop(d, e);	/* its slots changed */
		e->written = 1;
		if (!fstat(fd, &sb)) {
			d->bytes -= e->bytes;
			e->bytes = (uint64_t)sb.st_blocks * 512;
			d->bytes += e->bytes;
		}
	}
	disk_evict(d);
	kept = e && dent_find(d, id, chunk) == e;
	pthread_mutex_unlock(&d->mu);
	return kept;
}

/* A hit in the file open as `fd`: most recent now; 1 if the file's mtime
 * should be refreshed. */
static int disk_touch(struct disk *d, const uint8_t *id, uint32_t chunk,
		      int fd)
{
	time_t now = time(NULL);
	struct dent *e;
	struct stat sb;
	int stamp = 0;

	pthread_mutex_lock(&d->mu);
	e = dent_find(d, id, chunk);
	if (!e && (e = dent_add(d, id, chunk)) && !fstat(fd, &sb)) {
		/* another mount wrote it since we scanned */
		e->bytes = (uint64_t)sb.st_blocks * 512;
		d->bytes += e->bytes;
	}
	if (e) {
		dent_unlink_lru(e);
		dent_front(d, e);
		if (now - e->stamped >= 60) {
			e->stamped = now;
			stamp = 1;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return stamp;
}

static size_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* preadv until `total` bytes or the end; iov is used up on the way. */
static size_t preadv_full(int fd, struct iovec *iov, int cnt, uint64_t off,
			  size_t total)
{
	size_t got = 0;

	while (got < total && cnt > 0) {
		ssize_t r = preadv(fd, iov, cnt, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return got;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Open chunk file `chunk` of `id` and check its header; -1 if absent or
 * unusable. `area` gets the header and slot table (*n bytes of it). */
static int chunk_open_read(struct disk *d, const uint8_t *id, uint64_t size,
			   uint32_t chunk, uint8_t *area, size_t *n)
{
	struct cache_hdr want = { .chunk = chunk, .size = size };
	char name[80];
	int fd;

	memcpy(want.id, id, 32);
	chunk_name(name, id, chunk);
	fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	*n = pread_full(fd, area, CACHE_DATA_OFF, 0);
	if (cache_hdr_check(area, *n, &want)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Chunk `chunk` open for reading, the one kept open if there is one
 * (*kept set), else opened now and kept if the index knows the file. NULL
 * if it is missing or not ours. Release with chunk_put. */
static struct copen *chunk_get(struct disk *d, const uint8_t *id,
			       uint64_t size, uint32_t chunk, int *kept)
{
	struct copen *o;
	struct dent *e;
	int direct;

	pthread_mutex_lock(&d->mu);
	e = dent_find(d, id, chunk);
	o = e ? e->open : NULL;
	if (o)
		o->refs++;
	direct = !e || !e->written;
	pthread_mutex_unlock(&d->mu);
	*kept = o != NULL;
	if (o)
		return o;
	o = lc_malloc(sizeof(*o));
	if (!o)
		return NULL;
	o->fd = chunk_open_read(d, id, size, chunk, o->area, &o->alen);
	if (o->fd < 0) {
		lc_free(o);
		return NULL;
	}
	/* Files an earlier mount wrote are read past the page cache: a
	 * block read back goes to the memory cache anyway, and the copy
	 * through the page cache was a third of the daemon's time serving
	 * a second epoch. What this mount wrote is still in the page cache,
	 * and O_DIRECT would wait for it to reach the disk first. -1 also
	 * where the file system refuses O_DIRECT. */
	o->dfd = -1;
	if (direct) {
		char name[80];

		chunk_name(name, id, chunk);
		o->dfd = openat(d->dirfd, name, O_RDONLY | O_DIRECT |
				O_CLOEXEC);
	}
	o->refs = 1;
	o->owner = NULL;
	pthread_mutex_lock(&d->mu);
	e = dent_find(d, id, chunk);
	if (e && !e->open) {
		unsigned k = d->open_next++ % OPEN_CHUNKS;

		if (d->opens[k])
			copen_drop(d, d->opens[k]->owner);
		e->open = o;
		o->owner = e;
		o->refs++;
		d->opens[k] = o;
	}
	pthread_mutex_unlock(&d->mu);
	return o;
}

static void chunk_put(struct disk *d, struct copen *o, int stale)
{
	pthread_mutex_lock(&d->mu);
	if (stale && o->owner)
		copen_drop(d, o->owner);
	copen_put(o);
	pthread_mutex_unlock(&d->mu);
}

/* Which of blocks [b0, b0+n) of one chunk the disk holds intact; their
 * bytes go to data[i] (new buffers). Returns the bytes found. */
static uint64_t disk_load(struct cache *c, const uint8_t *id, uint64_t size,
			  uint64_t b0, uint32_t n, uint8_t **data)
{
	struct disk *d = c->disk;
	uint32_t chunk = (uint32_t)(b0 / CACHE_CHUNK_BLOCKS);
	uint64_t found = 0;
	struct copen *o;
	int kept, lacking = 0;

	o = chunk_get(d, id, size, chunk, &kept);
	if (!o)
		return 0;
	/* Runs of blocks the slots say are there are read with one preadv
	 * each: one big disk request, not one per 64 KiB block. */
	for (uint32_t i = 0; i < n;) {
		uint32_t in = (uint32_t)((b0 + i) % CACHE_CHUNK_BLOCKS), j;
		uint32_t want[IOV_BLOCKS], alen;
		struct iovec iov[IOV_BLOCKS], iov2[IOV_BLOCKS];
		size_t total = 0, got;
		uint8_t *p;

		for (j = i; j < n && j - i < IOV_BLOCKS; j++) {
			uint32_t len = cache_block_len(size, b0 + j);

			if (cache_slot_check(o->area, o->alen,
					     (uint32_t)((b0 + j) %
							CACHE_CHUNK_BLOCKS),
					     len, &want[j - i]))
				break;
			alen = o->dfd >= 0 ? (len + 4095u) & ~4095u : len;
			if (!(p = pool_get(&c->pool)))
				break;
			data[j] = p;
			iov[j - i].iov_base = p;
			iov[j - i].iov_len = alen;
			total += alen;
		}
		if (j == i) {	/* absent (or no memory): a miss */
			lacking = 1;
			i++;
			continue;
		}
		memcpy(iov2, iov, (j - i) * sizeof(*iov));
		lc_wait_begin();
		got = preadv_full(o->dfd >= 0 ? o->dfd : o->fd, iov,
				  (int)(j - i), CACHE_DATA_OFF +
				  (uint64_t)in * CACHE_BLOCK, total);
		if (!got && o->dfd >= 0)	/* O_DIRECT refused: buffered */
			got = preadv_full(o->fd, iov2, (int)(j - i),
					  CACHE_DATA_OFF +
					  (uint64_t)in * CACHE_BLOCK, total);
		lc_wait_end();
		for (uint32_t k = i; k < j; k++) {
			uint32_t len = cache_block_len(size, b0 + k);
			uint64_t at = (uint64_t)(k - i) * CACHE_BLOCK;

			if (got < at + len || lc_crc32(data[k], len) != want[k - i]) {
				pool_put(&c->pool, data[k]);	/* damaged: a
								 * miss, rewritten
								 * later */
				data[k] = NULL;
				continue;
			}
			found += len;
		}
		i = j;
	}
	if (found && disk_touch(d, id, chunk, o->fd))
		(void)futimens(o->fd, NULL);
	/* slots read before another mount wrote more: read them again */
	chunk_put(d, o, kept && lacking);
	return found;
}

/* Blocks of [b0, b0+n) (one chunk) whose slots say they are on disk. */
static void disk_present(struct cache *c, const uint8_t *id, uint64_t size,
			 uint64_t b0, uint32_t n, uint8_t *present)
{
	uint32_t chunk = (uint32_t)(b0 / CACHE_CHUNK_BLOCKS);
	uint8_t area[CACHE_DATA_OFF];
	size_t alen;
	uint32_t dummy;
	int fd;

	memset(present, 0, n);
	fd = chunk_open_read(c->disk, id, size, chunk, area, &alen);
	if (fd < 0)
		return;
	for (uint32_t i = 0; i < n; i++)
		present[i] = !cache_slot_check(area, alen,
				(uint32_t)((b0 + i) % CACHE_CHUNK_BLOCKS),
				cache_block_len(size, b0 + i), &dummy);
	close(fd);
}

/* A chunk file open for writing, with a valid header: the existing one,
 * or a new one born whole (temp file, header, link). -1 on failure. */
static int chunk_open_write(struct disk *d, const uint8_t *id, uint64_t size,
			    uint32_t chunk)
{
	struct cache_hdr want = { .chunk = chunk, .size = size };
	uint8_t hdr[CACHE_HDR_LEN], rnd[8];
	char name[80], tmp[40];
	int fd;

	memcpy(want.id, id, 32);
	chunk_name(name, id, chunk);
	fd = openat(d->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		if (pread_full(fd, hdr, CACHE_HDR_LEN, 0) == CACHE_HDR_LEN &&
		    !cache_hdr_check(hdr, CACHE_HDR_LEN, &want))
			return fd;
		/* damaged header: replace the file, never patch it */
		close(fd);
		(void)unlinkat(d->dirfd, name, 0);
	} else if (errno != ENOENT) {
		return -1;
	}
	if (lc_random(rnd, sizeof(rnd), NULL))
		return -1;
	snprintf(tmp, sizeof(tmp), "tmp.%016" PRIx64, lc_le64(rnd));
	fd = openat(d->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -1;
	cache_hdr_encode(hdr, &want);
	if (pwrite_full(fd, hdr, CACHE_HDR_LEN, 0))
		goto fail;
	if (linkat(d->dirfd, tmp, d->dirfd, name, 0) == 0) {
		(void)unlinkat(d->dirfd, tmp, 0);
		return fd;
	}
	if (errno != EEXIST)
		goto fail;
	/* another writer made it first: use theirs */
	(void)unlinkat(d->dirfd, tmp, 0);
	close(fd);
	fd = openat(d->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && (pread_full(fd, hdr, CACHE_HDR_LEN, 0) != CACHE_HDR_LEN ||
			cache_hdr_check(hdr, CACHE_HDR_LEN, &want))) {
		close(fd);
		fd = -1;
	}
	return fd;
fail:
	close(fd);
	(void)unlinkat(d->dirfd, tmp, 0);
	return -1;
}

/* Write blocks [b0, b0+n) of one run to disk; `buf` holds their bytes,
 * back to back. Errors (a full disk) only leave blocks uncached: -1 then,
 * 0 if every block was written. */
static int disk_store(struct cache *c, const uint8_t *id, uint64_t size,
		      uint64_t b0, uint32_t n, const uint8_t *buf)
{
	struct disk *d = c->disk;
	uint32_t i = 0;
	int rc = 0;

	while (i < n) {
		uint32_t chunk = (uint32_t)((b0 + i) / CACHE_CHUNK_BLOCKS);
		int fd = chunk_open_write(d, id, size, chunk);

		for (; i < n && (b0 + i) / CACHE_CHUNK_BLOCKS == chunk; i++) {
			uint32_t in = (uint32_t)((b0 + i) % CACHE_CHUNK_BLOCKS);
			uint32_t len = cache_block_len(size, b0 + i);
			const uint8_t *p = buf + (uint64_t)i * CACHE_BLOCK;
			uint8_t slot[CACHE_SLOT_LEN];

			if (fd < 0) {
				rc = -1;
				continue;
			}
			cache_slot_encode(slot, in, len, lc_crc32(p, len));
			if (pwrite_full(fd, p, len, CACHE_DATA_OFF +
					(uint64_t)in * CACHE_BLOCK) ||
			    pwrite_full(fd, slot, CACHE_SLOT_LEN,
					CACHE_SLOT_OFF +
					(uint64_t)in * CACHE_SLOT_LEN))
				rc = -1;
		}
		if (fd >= 0) {
			if (!disk_charge(d, id, chunk, fd))
				rc = -1;	/* evicted already */
			close(fd);
		}
	}
	return rc;
}

struct scanned {
	struct dent *e;
	int64_t mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct scanned *x = a, *y = b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* Learn the files already in DIR/v1 (most recently used last in time,
 * first in the LRU), drop stale temp files, then enforce the bounds. */
static int disk_scan(struct disk *d, struct lc_err *err)
{
	struct scanned *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	time_t now = time(NULL);
	int fd = dup(d->dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return LC_SYS(err, errno, "cache_dir: %s", strerror(errno));
	}
	while ((de = readdir(dir))) {
		struct stat sb;
		uint8_t id[32];
		uint32_t chunk;
		struct dent *e;

		if (fstatat(d->dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (!strncmp(de->d_name, "tmp.", 4)) {
			if (now - sb.st_mtime > 3600)
				(void)unlinkat(d->dirfd, de->d_name, 0);
			continue;
		}
		if (chunk_parse(de->d_name, id, &chunk) ||
		    dent_find(d, id, chunk))
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct scanned *nv = lc_realloc(v, ncap * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
			cap = ncap;
		}
		e = dent_add(d, id, chunk);
		if (!e)
			goto nomem;
		e->bytes = (uint64_t)sb.st_blocks * 512;
		e->stamped = sb.st_mtime;
		d->bytes += e->bytes;
		v[n].e = e;
		v[n++].mtime = (int64_t)sb.st_mtime;
	}
	closedir(dir);
	/* re-thread the LRU oldest-first so the newest ends at the front */
	if (n)
		qsort(v, n, sizeof(*v), by_mtime);
	for (size_t i = 0; i < n; i++) {
		dent_unlink_lru(v[i].e);
		dent_front(d, v[i].e);
	}
	lc_free(v);
	disk_evict(d);
	return 0;
nomem:
	closedir(dir);
	lc_free(v);
	return LC_NOMEM(err);
}

static void disk_free(struct disk *d)
{
	if (!d)
		return;
	while (d->lru.next != &d->lru)
		dent_drop(d, d->lru.next);
	lc_free(d->tab);
	if (d->dirfd >= 0)
		close(d->dirfd);
	pthread_mutex_destroy(&d->mu);
	lc_free(d);
}

static size_t pow2_at_least(uint64_t n, size_t lo, size_t hi)
{
	size_t v = lo;

	while (v < n && v < hi)
		v <<= 1;
	return v;
}

static int disk_new(struct disk **out, const char *dir, uint64_t limit,
		    uint64_t max_files, struct lc_err *err)
{
	struct disk *d = lc_calloc(1, sizeof(*d));
	int top, rc;

	*out = NULL;
	if (!d)
		return LC_NOMEM(err);
	pthread_mutex_init(&d->mu, NULL);
	d->dirfd = -1;
	d->limit = limit;
	d->max_files = max_files;
	d->lru.next = d->lru.prev = &d->lru;
	d->mask = pow2_at_least(max_files, 1024, (size_t)1 << 20) - 1;
	d->tab = lc_calloc(d->mask + 1, sizeof(*d->tab));
	if (!d->tab) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = LC_SYS(err, errno, "cache_dir=%s: %s", dir,
			    strerror(errno));
		goto fail;
	}
	top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0) {
		rc = LC_SYS(err, errno, "cache_dir=%s: %s", dir,
			    strerror(errno));
		goto fail;
	}
	if (mkdirat(top, "v1", 0700) && errno != EEXIST) {
		rc = LC_SYS(err, errno, "cache_dir=%s/v1: %s", dir,
			    strerror(errno));
		close(top);
		goto fail;
	}
	d->dirfd = openat(top, "v1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(top);
	if (d->dirfd < 0) {
		rc = LC_SYS(err, errno, "cache_dir=%s/v1: %s", dir,
			    strerror(errno));
		goto fail;
	}
	rc = disk_scan(d, err);
	if (rc)
		goto fail;
	*out = d;
	return 0;
fail:
	disk_free(d);
	return rc;
}

/* ---- memory blocks (all under c->mu) ------------------------------- */

static size_t blk_hash(const struct cache *c, const uint8_t *id,
		       uint64_t idx)
{
	return (size_t)(lc_le64(id) ^ (idx * 0x9e3779b97f4a7c15ull)) &
	       c->mask;
}

static struct cblock *blk_find(struct cache *c, const uint8_t *id,
			       uint64_t idx)
{
	struct cblock *b = c->tab[blk_hash(c, id, idx)];

	while (b && (b->idx != idx || memcmp(b->id, id, 32)))
		b = b->hnext;
	return b;
}

static void blk_unhash(struct cache *c, struct cblock *b)
{
	struct cblock **pp = &c->tab[blk_hash(c, b->id, b->idx)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
}

static pthread_cond_t *done_cv(struct cache *c, const struct cblock *b)
{
	return &c->done_cv[blk_hash(c, b->id, b->idx) % WAIT_QUEUES];
}

static void lru_front(struct cache *c, struct cblock *b)
{
	b->next = c->lru.next;
	b->prev = &c->lru;
	c->lru.next->prev = b;
	c->lru.next = b;
}

static void lru_unlink(struct cblock *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
}

static void blk_free(struct cache *c, struct cblock *b)
{
	pool_put(&c->pool, b->data);
	lc_free(b);
}

/* Forget an unpinned READY block. */
static void blk_drop(struct cache *c, struct cblock *b)
{
	blk_unhash(c, b);
	lru_unlink(b);
	c->mem_bytes -= b->len;
	c->n_blocks--;
	blk_free(c, b);
}

/* Drop unpinned blocks, least recent first, until the bounds hold. */
static void mem_evict(struct cache *c)
{
	struct cblock *b = c->lru.prev;

	while ((c->mem_bytes > c->mem_limit || c->n_blocks > c->max_entries) &&
	       b != &c->lru) {
		struct cblock *p = b->prev;

		if (!b->refs)
			blk_drop(c, b);
		b = p;
	}
}

/* Let go of blocks [b0, b1) of `id` that the disk holds too and nobody
 * is reading: a sequential read has passed them. */
static void mem_pass(struct cache *c, const uint8_t *id, uint64_t b0,
		     uint64_t b1)
{
	pthread_mutex_lock(&c->mu);
	for (uint64_t i = b0; i < b1; i++) {
		struct cblock *b = blk_find(c, id, i);

		if (b && b->state == BLK_READY && !b->refs && b->on_disk)
			blk_drop(c, b);
	}
	pthread_mutex_unlock(&c->mu);
}

static void blk_unpin(struct cache *c, struct cblock *b)
{
	if (--b->refs == 0 && b->state == BLK_FAILED)
		blk_free(c, b);
}

/*
 * Look up blocks [b0, b0+n) of `o`. Absent ones are inserted LOADING,
 * pinned once for the caller, who must load them (got[i] = GOT_MINE).
 * With `pin`, present and loading blocks are pinned too (blk[i]); without,
 * only the caller's own are returned. ENOMEM leaves the earlier blocks
 * claimed: the caller publishes (fails) them as usual.
 */
static int claim(struct cache *c, struct cache_obj *o, uint64_t b0,
		 uint32_t n, struct cblock **blk, uint8_t *got, int pin)
{
	for (uint32_t i = 0; i < n; i++) {
		struct cblock *b = blk_find(c, o->id, b0 + i);

		blk[i] = NULL;
		got[i] = GOT_PRESENT;
		if (b) {
			if (!pin)
				continue;
			b->refs++;
			if (b->state == BLK_READY) {
				lru_unlink(b);
				lru_front(c, b);
			}
			blk[i] = b;
			continue;
		}
		b = lc_calloc(1, sizeof(*b));
		if (!b) {
			for (uint32_t j = i; j < n; j++) {
				blk[j] = NULL;
				got[j] = GOT_PRESENT;
			}
			return ENOMEM;
		}
		memcpy(b->id, o->id, 32);
		b->idx = b0 + i;
		b->state = BLK_LOADING;
		b->refs = 1;
		b->hnext = c->tab[blk_hash(c, b->id, b->idx)];
		c->tab[blk_hash(c, b->id, b->idx)] = b;
		blk[i] = b;
		got[i] = GOT_MINE;
	}
	return 0;
}

/* Make the caller's loaded blocks READY (or drop the failed ones) and wake
 * their waiters; without `keep` the loader's pin goes too. */
static void publish(struct cache *c, struct cblock **blk, uint8_t *got,
		    uint32_t n, int keep)
{
	pthread_mutex_lock(&c->mu);
	for (uint32_t i = 0; i < n; i++) {
		struct cblock *b = blk[i];

		if (!b || got[i] == GOT_PRESENT)
			continue;
		if (b->data) {
			b->state = BLK_READY;
			lru_front(c, b);
			c->mem_bytes += b->len;
			c->n_blocks++;
		} else {
			b->state = BLK_FAILED;
			got[i] = GOT_FAILED;
			blk_unhash(c, b);
		}
		if (b->waiters)
			pthread_cond_broadcast(done_cv(c, b));
		if (!keep) {
			blk_unpin(c, b);
			blk[i] = NULL;
		}
	}
	mem_evict(c);
	pthread_mutex_unlock(&c->mu);
}

/* Fetch blocks [b0, b0+n) of `o` with one ranged read of the inner store,
 * into one buffer; the caller frees it. */
static int fetch_run(struct cache_obj *o, uint64_t b0, uint32_t n,
		     uint8_t **out, struct lc_err *err)
{
	uint64_t off = b0 * CACHE_BLOCK;
	uint64_t end = (b0 + n) * CACHE_BLOCK;
	uint8_t *buf;
	int rc;

	if (end > o->base.size)
		end = o->base.size;
	buf = lc_malloc((size_t)(end - off));
	if (!buf)
		return LC_NOMEM(err);
	atomic_fetch_add(&o->c->misses, 1);
	rc = ostore_read(o->inner, off, (size_t)(end - off), buf, err);
	if (rc) {
		lc_free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* Load the caller's blocks (got[i] == GOT_MINE) among [b0, b0+n): from
 * disk where it has them, the rest one inner request per contiguous run.
 * Every loaded block gets data; got[] says where it came from. */
static int load_mine(struct cache_obj *o, uint64_t b0, uint32_t n,
		     struct cblock **blk, uint8_t *got, struct lc_err *err)
{
	struct cache *c = o->c;
	int rc = 0;

	if (c->disk) {
		uint8_t *data[PIECE_BLOCKS];
		uint32_t i = 0;

		while (i < n) {
			uint32_t j = i, k;

			while (j < n && got[j] == GOT_MINE &&
			       (j == i || (b0 + j) % CACHE_CHUNK_BLOCKS))
				j++;
			if (j == i) {
				i++;
				continue;
			}
			memset(data, 0, sizeof(data));
			if (disk_load(c, o->id, o->base.size, b0 + i, j - i,
				      data)) {
				for (k = i; k < j; k++) {
					if (!data[k - i])
						continue;
					blk[k]->data = data[k - i];
					blk[k]->len = cache_block_len(
						o->base.size, b0 + k);
					blk[k]->on_disk = 1;
					got[k] = GOT_DISK;
					atomic_fetch_add(&c->disk_hits,
							 blk[k]->len);
				}
			}
			i = j;
		}
	}
	for (uint32_t i = 0; i < n && !rc;) {
		uint32_t j = i;
		uint8_t *buf;
		int stored;

		while (j < n && got[j] == GOT_MINE)
			j++;
		if (j == i) {
			i++;
			continue;
		}
		rc = fetch_run(o, b0 + i, j - i, &buf, err);
		if (rc)
			break;
		for (uint32_t k = i; k < j; k++) {
			uint32_t len = cache_block_len(o->base.size, b0 + k);

			blk[k]->data = pool_get(&c->pool);
			if (!blk[k]->data) {
				rc = LC_NOMEM(err);
				continue;
			}
			memcpy(blk[k]->data,
			       buf + (uint64_t)(k - i) * CACHE_BLOCK, len);
			blk[k]->len = len;
			got[k] = GOT_FETCHED;
		}
		stored = c->disk && !disk_store(c, o->id, o->base.size,
						b0 + i, j - i, buf);
		for (uint32_t k = i; k < j; k++)
			blk[k]->on_disk = stored;
		lc_free(buf);
		i = j;
	}
	return rc;
}

/* ---- read-ahead ------------------------------------------------------ */

static void obj_unref(struct cache_obj *o)
{
	if (atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	ostore_close(o->inner);
	pthread_mutex_destroy(&o->ra_mu);
	lc_free(o->base.key);
	lc_free(o->base.etag);
	lc_free(o);
}

static void *worker(void *arg);

/* While set, no worker starts and read-ahead is not queued (reads go on,
 * in the reader's thread): see ostore_hold_threads. */
static atomic_bool held;

void ostore_hold_threads(bool hold)
{
	atomic_store(&held, hold);
}

/*
 * Workers start with the first job, not with the cache: a FUSE mount
 * opens its stores before fuse_daemonize forks, and neither threads nor
 * the condition variables they wait on survive a fork. Called with c->mu
 * held, never while held.
 */
static void start_workers(struct cache *c)
{
	if (c->started)
		return;
	while (c->started < c->nthreads &&
	       !lc_thread_start(&c->threads[c->started], "lancefs fetch",
			    worker, c))
		c->started++;
}

/* Queue read-ahead of blocks [b0, b1) in jobs of JOB_BLOCKS. */
static void queue_prefetch(struct cache_obj *o, uint64_t b0, uint64_t b1)
{
	struct cache *c = o->c;
	struct cache_store *cs = to_cs(o->base.st);

	for (uint64_t b = b0; b < b1;) {
		uint64_t e = (b / JOB_BLOCKS + 1) * JOB_BLOCKS;
		struct cjob *j;

		if (atomic_load(&held))
			return;
		if (!(j = lc_calloc(1, sizeof(*j))))
			return;
		if (e > b1)
			e = b1;
		j->cs = cs;
		j->o = o;
		j->b0 = b;
		j->nb = e - b;
		atomic_fetch_add(&o->refs, 1);
		pthread_mutex_lock(&c->mu);
		if (c->pf_tail)
			c->pf_tail->next = j;
		else
			c->pf_head = j;
		c->pf_tail = j;
		start_workers(c);
		pthread_cond_signal(&c->work_cv);
		pthread_mutex_unlock(&c->mu);
		b = e;
	}
}

/* Note a read of [off, off+len); queue read-ahead if a stream holds, and
 * let go of what the stream has left behind. */
static void ra_note(struct cache_obj *o, uint64_t off, size_t len)
{
	struct cache *c = o->c;
	uint64_t end = off + len, from = 0, to = 0, pass0 = 0, pass1 = 0;
	struct ra_stream *s = NULL, *victim = &o->ra[0];

	if (!c->nthreads)
		return;
	pthread_mutex_lock(&o->ra_mu);
	o->tick++;
	for (int i = 0; i < RA_STREAMS; i++) {
		struct ra_stream *t = &o->ra[i];

		if (t->used && off + RA_BACK >= t->next &&
		    off <= t->next + RA_GAP) {
			s = t;
			break;
		}
		if (!t->used || t->tick < victim->tick)
			victim = t;
	}
	if (!s) {
		/* Readers a little out of order split a scan into several
		 * streams: one starting within RA_BACK ahead of another
		 * carries on what that one let go of; any other lets go
		 * only of what it walks over itself. */
		uint64_t passed = (off + CACHE_BLOCK - 1) / CACHE_BLOCK;

		for (int i = 0; i < RA_STREAMS; i++) {
			struct ra_stream *t = &o->ra[i];

			if (t != victim && t->used && off > t->next &&
			    off - t->next <= RA_BACK && t->passed < passed)
				passed = t->passed;
		}
		memset(victim, 0, sizeof(*victim));
		victim->used = 1;
		victim->next = end;
		/* halved: the first fill doubles it to RA_MIN */
		victim->window = (RA_MIN < c->ra_max ? RA_MIN : c->ra_max) / 2;
		victim->tick = o->tick;
		victim->passed = passed;
		goto out;
	}
	s->tick = o->tick;
	s->run++;
	/* With a disk cache, the blocks a stream has walked over and left
	 * RA_KEEP behind are let go: a scan then reuses the same memory
	 * instead of touching fresh pages all along, which cost a fifth of
	 * the daemon's time reading a second epoch. Not closer: parallel
	 * readers of one scan are spread out, and a reader that lags reads
	 * what was let go from disk again (32 readers of a 2,000-image epoch
	 * read a quarter of it twice with 4 MiB, 7 % with 8). */
	if (c->disk && s->run >= RA_START && end > RA_KEEP &&
	    (end - RA_KEEP) / CACHE_BLOCK > s->passed) {
		pass1 = (end - RA_KEEP) / CACHE_BLOCK;
		pass0 = pass1 - s->passed > RA_KEEP / CACHE_BLOCK ?
				pass1 - RA_KEEP / CACHE_BLOCK : s->passed;
		s->passed = pass1;
	}
	if (end > s->next)
		s->next = end;
	if (s->run < RA_START)
		goto out;
	if (s->ahead < end)
		s->ahead = end;
	/* refill when the reader has used half of what is queued ahead of
	 * it, growing the window only then: reads that do not advance
	 * (offsets read again and again) queue nothing more */
	if (s->ahead >= o->base.size || s->ahead - end > s->window / 2)
		goto out;
	s->window = s->window * 2 > c->ra_max ? c->ra_max : s->window * 2;
	from = s->ahead;
	to = end + s->window;
	if (to > o->base.size)
		to = o->base.size;
	if (to <= from)
		goto out;
	s->ahead = to;
out:
	pthread_mutex_unlock(&o->ra_mu);
	if (pass1 > pass0)
		mem_pass(c, o->id, pass0, pass1);
	if (to > from)
		queue_prefetch(o, from / CACHE_BLOCK,
			       (to + CACHE_BLOCK - 1) / CACHE_BLOCK);
}

static void run_prefetch(struct cache_obj *o, uint64_t b0, uint32_t n)
{
	struct cache *c = o->c;
	struct cblock *blk[JOB_BLOCKS];
	uint8_t got[JOB_BLOCKS];
	struct lc_err err = { 0 };

	if (atomic_load(&o->closed))
		return;
	pthread_mutex_lock(&c->mu);
	(void)claim(c, o, b0, n, blk, got, 0);
	pthread_mutex_unlock(&c->mu);
	(void)load_mine(o, b0, n, blk, got, &err);
	publish(c, blk, got, n, 0);
}

/* ---- warmup ---------------------------------------------------------- */

static int cache_open(struct ostore *st, const char *key,
		      struct ostore_obj **out, struct lc_err *err);
static void cache_close(struct ostore_obj *obj);

static int warm_stale(struct cache_store *cs, unsigned gen)
{
	struct cache *c = cs->c;
	int stale;

	pthread_mutex_lock(&c->mu);
	stale = c->stop || c->warm_gen != gen || cs->closing;
	pthread_mutex_unlock(&c->mu);
	return stale;
}

static void run_warm(struct cache_store *cs, const char *key, unsigned gen)
{
	struct cache *c = cs->c;
	struct ostore_obj *obj;
	struct cache_obj *o;
	struct lc_err err = { 0 };
	uint64_t nblocks;

	if (cache_open(&cs->base, key, &obj, &err)) {
		atomic_fetch_add(&c->warm_failed, 1);	/* gone, refused */
		return;
	}
	o = to_co(obj);
	if (!o->cacheable)
		goto out;
	atomic_fetch_add(&c->warm_total, o->base.size);
	nblocks = (o->base.size + CACHE_BLOCK - 1) / CACHE_BLOCK;
	for (uint64_t b = 0; b < nblocks; b += JOB_BLOCKS) {
		uint32_t n = nblocks - b < JOB_BLOCKS ? (uint32_t)(nblocks - b)
						      : JOB_BLOCKS;
		uint8_t present[JOB_BLOCKS];
		uint64_t bytes = 0;

		if (warm_stale(cs, gen))
			break;
		disk_present(c, o->id, o->base.size, b, n, present);
		for (uint32_t i = 0; i < n;) {
			uint32_t j = i;
			uint8_t *buf;

			while (j < n && !present[j])
				j++;
			if (j == i) {
				i++;
				continue;
			}
			if (fetch_run(o, b + i, j - i, &buf, &err)) {
				atomic_fetch_add(&c->warm_failed, 1);
				goto out;
			}
			/* warm_done counts what is on the disk: a full disk,
			 * or a cache too small for it, leaves it short */
			if (!disk_store(c, o->id, o->base.size, b + i, j - i,
					buf))
				memset(present + i, 1, j - i);
			lc_free(buf);
			i = j;
		}
		for (uint32_t i = 0; i < n; i++)
			if (present[i])
				bytes += cache_block_len(o->base.size, b + i);
		atomic_fetch_add(&c->warm_done, bytes);
	}
out:
	cache_close(obj);
}

/* ---- workers --------------------------------------------------------- */

static void *worker(void *arg)
{
	struct cache *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct cjob *j = NULL;

		if (c->pf_head) {
			j = c->pf_head;
			c->pf_head = j->next;
			if (!c->pf_head)
				c->pf_tail = NULL;
		} else if (c->warm_head && c->warm_running < c->warm_max) {
			j = c->warm_head;
			c->warm_head = j->next;
			if (!c->warm_head)
				c->warm_tail = NULL;
			c->warm_running++;
		}
		if (!j) {
			if (c->stop)
				break;
			pthread_cond_wait(&c->work_cv, &c->mu);
			continue;
		}
		j->cs->active++;
		pthread_mutex_unlock(&c->mu);
		if (j->o) {
			run_prefetch(j->o, j->b0, (uint32_t)j->nb);
			obj_unref(j->o);
		} else {
			run_warm(j->cs, j->key, j->gen);
		}
		pthread_mutex_lock(&c->mu);
		if (!j->o) {
			c->warm_running--;
			atomic_fetch_sub(&c->warm_pending, 1);
			pthread_cond_signal(&c->work_cv);
		}
		j->cs->active--;
		pthread_cond_broadcast(&c->idle_cv);
		lc_free(j->key);
		lc_free(j);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- store operations ------------------------------------------------ */

static int cache_open(struct ostore *st, const char *key,
		      struct ostore_obj **out, struct lc_err *err)
{
	struct cache_store *cs = to_cs(st);
	struct ostore_obj *in;
	struct cache_obj *o;
	int rc;

	rc = ostore_open(&in, cs->inner, key, err);
	if (rc)
		return rc;
	o = lc_calloc(1, sizeof(*o));
	if (!o || !(o->base.key = lc_strdup(key)) ||
	    (in->etag && !(o->base.etag = lc_strdup(in->etag)))) {
		if (o)
			lc_free(o->base.key);
		lc_free(o);
		ostore_close(in);
		return LC_NOMEM(err);
	}
	o->base.st = st;
	o->base.size = in->size;
	o->inner = in;
	o->c = cs->c;
	atomic_init(&o->refs, 1);
	atomic_init(&o->closed, 0);
	pthread_mutex_init(&o->ra_mu, NULL);
	if (in->etag) {
		rc = ident(o->id, in->st->root ? in->st->root : "", key,
			   in->etag, in->size, err);
		if (rc) {
			obj_unref(o);
			return rc;
		}
		o->cacheable = 1;
	}
	*out = &o->base;
	return 0;
}

/* One piece of a demand read: at most c->piece_blocks blocks. */
static int read_piece(struct cache_obj *o, uint64_t off, size_t len,
		      uint8_t *buf, struct lc_err *err)
{
	struct cache *c = o->c;
	uint64_t b0 = off / CACHE_BLOCK;
	uint32_t n = (uint32_t)((off + len - 1) / CACHE_BLOCK - b0 + 1);
	struct cblock *blk[PIECE_BLOCKS];
	uint8_t got[PIECE_BLOCKS];

	for (int attempt = 0;; attempt++) {
		uint64_t fetched = 0;
		int rc, failed = 0, waited = 0;

		pthread_mutex_lock(&c->mu);
		rc = claim(c, o, b0, n, blk, got, 1);
		pthread_mutex_unlock(&c->mu);
		if (rc)
			rc = LC_NOMEM(err);
		else
			rc = load_mine(o, b0, n, blk, got, err);
		publish(c, blk, got, n, 1);

		pthread_mutex_lock(&c->mu);
		for (uint32_t i = 0; i < n; i++) {
			if (!blk[i])
				continue;
			while (blk[i]->state == BLK_LOADING) {
				if (!waited) {	/* for another's fetch */
					waited = 1;
					pthread_mutex_unlock(&c->mu);
					lc_wait_begin();
					pthread_mutex_lock(&c->mu);
					continue;
				}
				blk[i]->waiters++;
				pthread_cond_wait(done_cv(c, blk[i]), &c->mu);
				blk[i]->waiters--;
			}
			if (blk[i]->state == BLK_FAILED)
				failed = 1;
		}
		pthread_mutex_unlock(&c->mu);
		if (waited)
			lc_wait_end();

		if (!rc && !failed) {
			/* pinned READY blocks: immutable, copy unlocked */
			for (uint32_t i = 0; i < n; i++) {
				uint64_t bs = (b0 + i) * CACHE_BLOCK;
				uint64_t lo = off > bs ? off : bs;
				uint64_t hi = off + len < bs + blk[i]->len ?
					      off + len : bs + blk[i]->len;

				memcpy(buf + (lo - off), blk[i]->data + (lo - bs),
				       (size_t)(hi - lo));
				if (got[i] == GOT_FETCHED)
					fetched += hi - lo;
			}
			atomic_fetch_add(&c->hits, len - fetched);
		}
		pthread_mutex_lock(&c->mu);
		for (uint32_t i = 0; i < n; i++)
			if (blk[i])
				blk_unpin(c, blk[i]);
		mem_evict(c);
		pthread_mutex_unlock(&c->mu);
		if (rc || !failed)
			return rc;
		if (attempt == 1)
			return lc_err_set(err, EIO, LC_EK_REMOTE, __FILE__,
					  __LINE__, "%s: fetch of bytes %" PRIu64
					  "+%zu failed in another reader",
					  o->base.key, off, len);
	}
}

static int cache_read(struct ostore_obj *obj, uint64_t off, size_t len,
		      void *buf, struct lc_err *err)
{
	struct cache_obj *o = to_co(obj);
	uint8_t *p = buf;

	if (!o->cacheable)
		return ostore_read(o->inner, off, len, buf, err);
	ra_note(o, off, len);
	while (len) {
		uint64_t b0 = off / CACHE_BLOCK;
		uint64_t piece_end = (b0 + o->c->piece_blocks) * CACHE_BLOCK;
		size_t n = piece_end - off < len ? (size_t)(piece_end - off)
						 : len;
		int rc = read_piece(o, off, n, p, err);

		if (rc)
			return rc;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void cache_close(struct ostore_obj *obj)
{
	struct cache_obj *o = to_co(obj);

	atomic_store(&o->closed, 1);
	obj_unref(o);
}

static int cache_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		      void *ctx, struct lc_err *err)
{
	return ostore_list(to_cs(st)->inner, dir, cb, ctx, err);
}

static int cache_put(struct ostore *st, const char *key, const void *data,
		     size_t len, int if_absent, struct lc_err *err)
{
	/* no invalidation needed: new content comes with a new etag */
	return ostore_put(to_cs(st)->inner, key, data, len, if_absent, err);
}

static int cache_del(struct ostore *st, const char *key, struct lc_err *err)
{
	return ostore_delete(to_cs(st)->inner, key, err);
}

static int store_new(struct ostore **out, struct ostore *inner,
		     struct cache *c, struct lc_err *err)
{
	struct cache_store *cs = lc_calloc(1, sizeof(*cs));

	if (!cs || !(cs->base.root = lc_strdup(inner->root ? inner->root
							   : ""))) {
		lc_free(cs);
		return LC_NOMEM(err);
	}
	cs->base.ops = &cache_ops;
	cs->base.conf = inner->conf;
	cs->inner = inner;
	cs->c = c;
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
	*out = &cs->base;
	return 0;
}

static int cache_sub(struct ostore *st, const char *dir, struct ostore **out,
		     struct lc_err *err)
{
	struct cache_store *cs = to_cs(st);
	struct ostore *in;
	int rc;

	rc = ostore_sub(&in, cs->inner, dir, err);
	if (rc)
		return rc;
	rc = store_new(out, in, cs->c, err);
	if (rc)
		ostore_free(in);
	return rc;
}

static void cache_stats(struct ostore *st, struct ostore_stats *out)
{
	struct cache_store *cs = to_cs(st);
	struct cache *c = cs->c;

	if (cs->inner->ops->stats)
		cs->inner->ops->stats(cs->inner, out);
	out->hits += atomic_load(&c->hits);
	out->misses += atomic_load(&c->misses);
	out->disk_hits += atomic_load(&c->disk_hits);
	out->warm_done += atomic_load(&c->warm_done);
	out->warm_total += atomic_load(&c->warm_total);
	out->warm_pending += atomic_load(&c->warm_pending);
	out->warm_failed += atomic_load(&c->warm_failed);
	pthread_mutex_lock(&c->mu);
	out->mem_bytes += c->mem_bytes;
	pthread_mutex_unlock(&c->mu);
	if (c->disk) {
		pthread_mutex_lock(&c->disk->mu);
		out->disk_bytes += c->disk->bytes;
		pthread_mutex_unlock(&c->disk->mu);
	}
}

static void cache_unref(struct cache *c)
{
	int last;

	pthread_mutex_lock(&c->mu);
	last = --c->refs == 0;
	if (last) {
		c->stop = 1;
		pthread_cond_broadcast(&c->work_cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	for (unsigned i = 0; i < c->started; i++)
		pthread_join(c->threads[i], NULL);
	while (c->lru.next != &c->lru) {
		struct cblock *b = c->lru.next;

		lru_unlink(b);
		blk_free(c, b);
	}
	disk_free(c->disk);
	pool_fini(&c->pool);
	lc_free(c->threads);
	lc_free(c->tab);
	for (unsigned i = 0; i < WAIT_QUEUES; i++)
		pthread_cond_destroy(&c->done_cv[i]);
	pthread_cond_destroy(&c->work_cv);
	pthread_cond_destroy(&c->idle_cv);
	pthread_mutex_destroy(&c->mu);
	lc_free(c);
}

/* Take this store's jobs off the queues, or out of `list` into it. */
static struct cjob *take_jobs(struct cjob **head, struct cjob **tail,
			      struct cache_store *cs, struct cjob *list)
{
	struct cjob **pp = head, *last = NULL;

	while (*pp) {
		struct cjob *j = *pp;

		if (cs && j->cs != cs) {
			last = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->next = list;
		list = j;
	}
	*tail = last;
	return list;
}

static void drop_jobs(struct cache *c, struct cjob *list)
{
	while (list) {
		struct cjob *j = list;

		list = j->next;
		if (j->o)
			obj_unref(j->o);
		else
			atomic_fetch_sub(&c->warm_pending, 1);
		lc_free(j->key);
		lc_free(j);
	}
}

static void cache_free(struct ostore *st)
{
	struct cache_store *cs = to_cs(st);
	struct cache *c = cs->c;
	struct cjob *mine;

	/* queued jobs of this store go; running ones finish first */
	pthread_mutex_lock(&c->mu);
	mine = take_jobs(&c->pf_head, &c->pf_tail, cs, NULL);
	mine = take_jobs(&c->warm_head, &c->warm_tail, cs, mine);
	cs->closing = 1;	/* its running warmups stop at their next run */
	while (cs->active)
		pthread_cond_wait(&c->idle_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	drop_jobs(c, mine);
	ostore_free(cs->inner);
	lc_free(cs->base.root);
	lc_free(cs);
	cache_unref(c);
}

static const struct ostore_ops cache_ops = {
	.kind = OSTORE_KIND_CACHE,
	.open = cache_open,
	.read = cache_read,
	.close = cache_close,
	.list = cache_list,
	.put = cache_put,
	.del = cache_del,
	.sub = cache_sub,
	.stats = cache_stats,
	.free = cache_free,
};

int ostore_cache_wrap(struct ostore **out, struct ostore *inner,
		      const struct ostore_conf *conf, struct lc_err *err)
{
	uint64_t mem, disk_size, entries, threads;
	const char *dir = ostore_conf_get(conf, "cache_dir");
	struct cache *c;
	int rc;

	*out = NULL;
	if ((rc = parse_u64(conf, "cache_size", 1, DEF_MEM, &mem, err)) ||
	    (rc = parse_u64(conf, "cache_dir_size", 1, DEF_DISK, &disk_size,
			    err)) ||
	    (rc = parse_u64(conf, "cache_entries", 0, DEF_ENTRIES, &entries,
			    err)) ||
	    (rc = parse_u64(conf, "cache_threads", 0, DEF_THREADS, &threads,
			    err)))
		goto fail_inner;
	if (threads > MAX_THREADS) {
		rc = LC_USAGE(err, "cache_threads=%" PRIu64 ": at most %u",
			      threads, MAX_THREADS);
		goto fail_inner;
	}
	if (!entries) {
		rc = LC_USAGE(err, "cache_entries=0: needs at least one");
		goto fail_inner;
	}
	c = lc_calloc(1, sizeof(*c));
	if (!c) {
		rc = LC_NOMEM(err);
		goto fail_inner;
	}
	pthread_mutex_init(&c->mu, NULL);
	for (unsigned i = 0; i < WAIT_QUEUES; i++)
		pthread_cond_init(&c->done_cv[i], NULL);
	pthread_cond_init(&c->work_cv, NULL);
	pthread_cond_init(&c->idle_cv, NULL);
	c->lru.next = c->lru.prev = &c->lru;
	pool_init(&c->pool, mem / CACHE_BLOCK < entries ? mem :
						     entries * CACHE_BLOCK);
	c->mem_limit = mem;
	c->max_entries = entries;
	c->piece_blocks = (uint32_t)(mem / 4 / CACHE_BLOCK);
	if (c->piece_blocks < 1)
		c->piece_blocks = 1;
	if (c->piece_blocks > PIECE_BLOCKS)
		c->piece_blocks = PIECE_BLOCKS;
	c->ra_max = mem / 4 < RA_MAX ? mem / 4 : RA_MAX;
	if (c->ra_max < CACHE_BLOCK)
		c->ra_max = CACHE_BLOCK;
	c->mask = pow2_at_least(2 * (mem / CACHE_BLOCK), 1024,
				(size_t)1 << 20) - 1;
	c->tab = lc_calloc(c->mask + 1, sizeof(*c->tab));
	c->threads = lc_calloc(threads ? threads : 1, sizeof(*c->threads));
	if (!c->tab || !c->threads) {
		rc = LC_NOMEM(err);
		goto fail_cache;
	}
	if (dir) {
		rc = disk_new(&c->disk, dir, disk_size, entries, err);
		if (rc)
			goto fail_cache;
	}
	c->warm_max = threads > 1 ? (unsigned)threads / 2 : 1;
	c->nthreads = (unsigned)threads;
	rc = store_new(out, inner, c, err);
	if (rc)
		goto fail_cache;
	return 0;
fail_cache:
	c->refs = 1;
	cache_unref(c);
fail_inner:
	ostore_free(inner);
	return rc;
}

int ostore_cache_warm(struct ostore *st, const char *key, struct lc_err *err)
{
	struct cache_store *cs;
	struct cache *c;
	struct cjob *j;

	if (st->ops != &cache_ops)
		return 0;
	cs = to_cs(st);
	c = cs->c;
	if (!c->disk || !c->nthreads)
		return LC_USAGE(err, "warmup needs cache_dir= and "
				"cache_threads= of at least 1");
	if (atomic_load(&held))
		return LC_SYS(err, EAGAIN, "warmup: not before the mount is "
			      "up");
	j = lc_calloc(1, sizeof(*j));
	if (!j || !(j->key = lc_strdup(key))) {
		lc_free(j);
		return LC_NOMEM(err);
	}
	j->cs = cs;
	atomic_fetch_add(&c->warm_pending, 1);
	pthread_mutex_lock(&c->mu);
	j->gen = c->warm_gen;
	if (c->warm_tail)
		c->warm_tail->next = j;
	else
		c->warm_head = j;
	c->warm_tail = j;
	start_workers(c);
	pthread_cond_signal(&c->work_cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void ostore_cache_warm_cancel(struct ostore *st)
{
	struct cache *c;
	struct cjob *list;

	if (st->ops != &cache_ops)
		return;
	c = to_cs(st)->c;
	pthread_mutex_lock(&c->mu);
	list = take_jobs(&c->warm_head, &c->warm_tail, NULL, NULL);
	c->warm_gen++;
	pthread_mutex_unlock(&c->mu);
	drop_jobs(c, list);
}

void ostore_cache_warm_wait(struct ostore *st)
{
	struct cache *c;

	if (st->ops != &cache_ops)
		return;
	c = to_cs(st)->c;
	pthread_mutex_lock(&c->mu);
	while (c->warm_head || c->warm_running)
		pthread_cond_wait(&c->idle_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}
