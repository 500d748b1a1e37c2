/*
 * test_cache.c - the read cache (objstore/cache.c) over a counting store:
 * an in-memory store whose objects carry an etag (a crc of their bytes),
 * that counts ranged reads and their bytes, can be made slow, and notes
 * which requests start past the byte the reader is at.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "ostore.h"

#define MiB ((size_t)1 << 20)
#define KiB ((size_t)1 << 10)

/* ---- the counting store ---------------------------------------------- */

struct etag_of {
	char key[64];
	char etag[16];
};

struct cnt_store {
	struct ostore base;
	struct ostore *mem;
	int no_etag;
	int delay_us;
	atomic_ulong reads, bytes;
	atomic_ulong ahead;		/* reads starting at or past reader_end */
	_Atomic uint64_t reader_end;	/* set by a test before each read */
	struct etag_of tags[64];
	int ntags;
	char prefix[32];		/* a sub-store: keys under it, */
	struct cnt_store *parent;	/* whose mem and etags it uses */
};

struct cnt_obj {
	struct ostore_obj base;
	struct ostore_obj *in;
};

static atomic_int open_objs;		/* inner objects not closed yet */

static struct cnt_store *to_cnt(struct ostore *st)
{
	return (struct cnt_store *)st;
}

static int cnt_open(struct ostore *st, const char *key,
		    struct ostore_obj **out, struct lc_err *err)
{
	struct cnt_store *c = to_cnt(st);
	struct cnt_store *top = c->parent ? c->parent : c;
	struct cnt_obj *o = calloc(1, sizeof(*o));
	char full[128];
	int rc;

	snprintf(full, sizeof(full), "%s%s", c->prefix, key);
	rc = ostore_open(&o->in, top->mem, full, err);
	if (rc) {
		free(o);
		return rc;
	}
	o->base.st = st;
	o->base.key = strdup(key);
	o->base.size = o->in->size;
	for (int i = 0; i < top->ntags && !c->no_etag; i++)
		if (!strcmp(top->tags[i].key, full))
			o->base.etag = strdup(top->tags[i].etag);
	atomic_fetch_add(&open_objs, 1);
	*out = &o->base;
	return 0;
}

static int cnt_read(struct ostore_obj *obj, uint64_t off, size_t len,
		    void *buf, struct lc_err *err)
{
	struct cnt_store *c = to_cnt(obj->st);

	if (c->parent)
		c = c->parent;	/* a sub-store counts in its parent */
	if (off >= atomic_load(&c->reader_end))
		atomic_fetch_add(&c->ahead, 1);
	atomic_fetch_add(&c->reads, 1);
	atomic_fetch_add(&c->bytes, len);
	if (c->delay_us)
		usleep((useconds_t)c->delay_us);
	return ostore_read(((struct cnt_obj *)obj)->in, off, len, buf, err);
}

static void cnt_close(struct ostore_obj *obj)
{
	struct cnt_obj *o = (struct cnt_obj *)obj;

	ostore_close(o->in);
	free(o->base.key);
	free(o->base.etag);
	free(o);
	atomic_fetch_sub(&open_objs, 1);
}

static int cnt_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		    void *ctx, struct lc_err *err)
{
	return ostore_list(to_cnt(st)->mem, dir, cb, ctx, err);
}

static int cnt_put(struct ostore *st, const char *key, const void *data,
		   size_t len, int if_absent, struct lc_err *err)
{
	struct cnt_store *c = to_cnt(st);
	int i, rc = ostore_put(c->mem, key, data, len, if_absent, err);

	if (rc)
		return rc;
	for (i = 0; i < c->ntags && strcmp(c->tags[i].key, key); i++)
		;
	if (i == c->ntags)
		snprintf(c->tags[c->ntags++].key, 64, "%s", key);
	snprintf(c->tags[i].etag, 16, "\"%08lx\"",
		 crc32(0L, data, (uInt)len));
	return 0;
}

static int cnt_del(struct ostore *st, const char *key, struct lc_err *err)
{
	return ostore_delete(to_cnt(st)->mem, key, err);
}

static int cnt_sub(struct ostore *st, const char *dir, struct ostore **out,
		   struct lc_err *err)
{
	struct cnt_store *c = to_cnt(st), *s = calloc(1, sizeof(*s));

	(void)err;
	s->base.ops = st->ops;
	s->base.root = malloc(strlen(st->root) + strlen(dir) + 2);
	sprintf(s->base.root, "%s%s/", st->root, dir);
	if (strlen(c->prefix) + strlen(dir) + 2 > sizeof(s->prefix))
		abort();
	strcat(strcat(strcpy(s->prefix, c->prefix), dir), "/");
	s->parent = c->parent ? c->parent : c;
	*out = &s->base;
	return 0;
}

static void cnt_free(struct ostore *st)
{
	if (!to_cnt(st)->parent)
		ostore_free(to_cnt(st)->mem);
	free(st->root);
	free(st);
}

static const struct ostore_ops cnt_ops = {
	.kind = OSTORE_KIND_UNKNOWN,
	.open = cnt_open,
	.read = cnt_read,
	.close = cnt_close,
	.list = cnt_list,
	.put = cnt_put,
	.del = cnt_del,
	.sub = cnt_sub,
	.free = cnt_free,
};

static struct cnt_store *cnt_new(void)
{
	struct cnt_store *c = calloc(1, sizeof(*c));

	c->base.ops = &cnt_ops;
	c->base.root = strdup("cnt:");
	if (ostore_mem_new(&c->mem, NULL))
		abort();
	atomic_store(&c->reader_end, UINT64_MAX);
	return c;
}

/* Deterministic bytes for object `seed`, kept by the caller to compare. */
static uint8_t *put_obj(struct cnt_store *c, const char *key, size_t n,
			unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	if (ostore_put(&c->base, key, p, n, 0, NULL))
		abort();
	return p;
}

/* A cache over `c` with settings `opts` (NULL-terminated). */
static struct ostore *wrap(struct cnt_store *c, const char *const *opts,
			   struct ostore_conf **conf)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	if (ostore_conf_new(conf, &err))
		abort();
	for (; opts && *opts; opts++)
		if (ostore_conf_parse(*conf, *opts, &err))
			abort();
	if (ostore_cache_wrap(&st, &c->base, *conf, &err)) {
		fprintf(stderr, "wrap: %s\n", err.msg);
		abort();
	}
	return st;
}

static void unwrap(struct ostore *st, struct ostore_conf *conf)
{
	ostore_free(st);
	ostore_conf_free(conf);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void make_tmpdir(char *dir)
{
	strcpy(dir, "/tmp/lancefs-cache-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

/* Sequential scan of a whole object, `step` bytes per read; 0 if every
 * byte matched `want`. */
static int scan(struct ostore *st, struct cnt_store *c, const char *key,
		const uint8_t *want, size_t step, int pause_us)
{
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	uint8_t *buf = malloc(step);
	int bad = 0;

	if (ostore_open(&o, st, key, &err))
		return fprintf(stderr, "open %s: %s\n", key, err.msg), 1;
	for (uint64_t off = 0; off < o->size && !bad; off += step) {
		size_t n = o->size - off < step ? (size_t)(o->size - off)
						: step;

		if (c)
			atomic_store(&c->reader_end, off + n);
		if (ostore_read(o, off, n, buf, &err)) {
			fprintf(stderr, "read %s: %s\n", key, err.msg);
			bad = 1;
		} else if (memcmp(buf, want + off, n)) {
			fprintf(stderr, "%s: wrong bytes at %" PRIu64 "\n",
				key, off);
			bad = 1;
		}
		if (pause_us)
			usleep((useconds_t)pause_us);
	}
	if (c)
		atomic_store(&c->reader_end, UINT64_MAX);
	ostore_close(o);
	free(buf);
	return bad;
}

static struct ostore_stats stats_of(struct ostore *st)
{
	struct ostore_stats s;

	ostore_stats(st, &s);
	return s;
}

/* ---- tests ----------------------------------------------------------- */

struct rr_arg {
	struct ostore_obj *o;
	const uint8_t *want;
	uint64_t seed;
	int iters;
	atomic_int *bad;
};

static void *random_reader(void *arg)
{
	struct rr_arg *a = arg;
	uint64_t s = a->seed, size = a->o->size;
	uint8_t *buf = malloc(400 * KiB);
	struct lc_err err = { 0 };

	for (int i = 0; i < a->iters && !atomic_load(a->bad); i++) {
		uint64_t off = rnd(&s) % size;
		size_t len = (size_t)(rnd(&s) % (300 * KiB)) + 1;
		int burst = rnd(&s) % 4 == 0 ? 6 : 1;	/* some sequential */

		for (int k = 0; k < burst; k++, off += len) {
			if (off >= size)
				break;
			if (len > size - off)
				len = (size_t)(size - off);
			if (ostore_read(a->o, off, len, buf, &err) ||
			    memcmp(buf, a->want + off, len)) {
				fprintf(stderr, "read %zu at %" PRIu64 ": %s\n",
					len, off, err.msg);
				atomic_store(a->bad, 1);
				break;
			}
		}
	}
	free(buf);
	return NULL;
}

static void random_ranges(const char *const *opts, int iters)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/a.lance", 8 * MiB + 12345, 1);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, opts, &conf);
	struct lc_err err = { 0 };
	pthread_t t[8];
	struct rr_arg a[8];
	atomic_int bad = 0;
	struct ostore_obj *o;

	CHECK_OK(ostore_open(&o, st, "data/a.lance", &err), &err);
	for (int i = 0; i < 8; i++) {
		a[i] = (struct rr_arg){ o, want, 0x9e3779b97f4a7c15ull * (i + 1),
					iters, &bad };
		CHECK(!pthread_create(&t[i], NULL, random_reader, &a[i]));
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CHECK(!atomic_load(&bad));
	CHECK(stats_of(st).hits > 0);
	ostore_close(o);
	unwrap(st, conf);
	CHECK_EQ_U64(atomic_load(&open_objs), 0);
	free(want);
}

/* Arbitrary ranges from many threads always give the inner bytes: with
 * a cache smaller than the object (constant eviction), a big one, and
 * with a disk cache. */
TEST(random_ranges_small_cache)
{
	const char *opts[] = { "cache_size=1M", "cache_threads=4", NULL };

	random_ranges(opts, 1500);
}

TEST(random_ranges_big_cache)
{
	const char *opts[] = { "cache_size=64M", NULL };

	random_ranges(opts, 1500);
}

TEST(random_ranges_disk)
{
	char dir[64], opt[96];
	const char *opts[] = { "cache_size=2M", opt, NULL };
	/* smaller than one chunk file: written and evicted all the time */
	const char *churn[] = { "cache_size=2M", opt, "cache_dir_size=3M",
				NULL };

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	random_ranges(opts, 400);
	random_ranges(opts, 400);	/* again, now mostly from disk */
	random_ranges(churn, 400);
	harness_rm_rf(dir);
}

/* A memory cache of one block: almost every block a reader pins lies
 * past the block pool (malloc'd) and every load evicts one; the bytes
 * stay right, from the inner store and from disk. */
TEST(random_ranges_one_block)
{
	char dir[64], opt[96];
	const char *opts[] = { "cache_size=64KiB", opt, NULL };

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	random_ranges(opts, 300);
	random_ranges(opts, 300);
	harness_rm_rf(dir);
}

/* A 100 KB image at a random offset costs one request of at most three
 * blocks; reading it again costs none. */
TEST(one_request_per_image)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/img.lance", 50 * MiB, 2);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	uint8_t buf[100 * 1000];
	uint64_t offs[25], s = 7;

	for (int i = 0; i < 25; i++)
		offs[i] = (uint64_t)((i * 11) % 25) * 2 * MiB +
			  rnd(&s) % MiB;
	CHECK_OK(ostore_open(&o, st, "data/img.lance", &err), &err);
	for (int i = 0; i < 25; i++) {
		unsigned long r0 = atomic_load(&c->reads);
		unsigned long b0 = atomic_load(&c->bytes);

		CHECK_OK(ostore_read(o, offs[i], sizeof(buf), buf, &err), &err);
		CHECK(!memcmp(buf, want + offs[i], sizeof(buf)));
		CHECK_EQ_U64(atomic_load(&c->reads) - r0, 1);
		CHECK(atomic_load(&c->bytes) - b0 <= 3 * 64 * KiB);
	}
	for (int i = 0; i < 25; i++) {
		unsigned long r0 = atomic_load(&c->reads);

		CHECK_OK(ostore_read(o, offs[i], sizeof(buf), buf, &err), &err);
		CHECK(!memcmp(buf, want + offs[i], sizeof(buf)));
		CHECK_EQ_U64(atomic_load(&c->reads) - r0, 0);
	}
	CHECK(stats_of(st).hits >= 25 * sizeof(buf));
	CHECK_EQ_U64(stats_of(st).misses, 25);
	ostore_close(o);
	unwrap(st, conf);
	free(want);
}

/* Reading a 50 MB object in row order makes far fewer requests than
 * reads, and nearly all of them start past the byte the reader is at. */
TEST(sequential_scan_reads_ahead)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/seq.lance", 50 * MiB, 3);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	unsigned long reads, ahead;
	size_t nreads = (50 * MiB + 100 * KiB - 1) / (100 * KiB);

	c->delay_us = 2000;
	CHECK(!scan(st, c, "data/seq.lance", want, 100 * KiB, 100));
	reads = atomic_load(&c->reads);
	ahead = atomic_load(&c->ahead);
	fprintf(stderr, "%zu reads, %lu requests, %lu ahead of the reader\n",
		nreads, reads, ahead);
	CHECK(reads * 5 < nreads);
	CHECK(ahead * 10 >= reads * 9);
	unwrap(st, conf);
	free(want);
}

/* Reading the same few bytes again and again, a little further on each
 * time (a format reading one offset after another), keeps one small
 * read-ahead window: the window grows only as the reader uses it. */
TEST(reads_in_place_stay_small)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/offs.lance", 50 * MiB, 5);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	unsigned long bytes = 0;
	uint8_t buf[16];

	CHECK_OK(ostore_open(&o, st, "data/offs.lance", &err), &err);
	for (uint64_t i = 0; i < 2000; i++) {
		uint64_t off = 4096 + 8 * i;

		CHECK_OK(ostore_read(o, off, sizeof(buf), buf, &err), &err);
		CHECK(!memcmp(buf, want + off, sizeof(buf)));
	}
	/* until the workers are done with what was queued */
	for (int quiet = 0, i = 0; quiet < 5 && i < 400; i++) {
		unsigned long now = atomic_load(&c->bytes);

		quiet = now == bytes ? quiet + 1 : 0;
		bytes = now;
		usleep(20000);
	}
	if (bytes > 1 * MiB)
		fprintf(stderr, "%lu bytes fetched for 32 KiB read\n", bytes);
	CHECK(bytes <= 1 * MiB);
	ostore_close(o);
	unwrap(st, conf);
	free(want);
}

/* Memory stays under cache_size while scanning and reading at random. */
TEST(memory_bound)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/m.lance", 20 * MiB, 4);
	const char *opts[] = { "cache_size=1M", NULL };
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, opts, &conf);
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	uint8_t *buf = malloc(200 * KiB);
	uint64_t s = 99, peak = 0;

	CHECK_OK(ostore_open(&o, st, "data/m.lance", &err), &err);
	for (int i = 0; i < 600; i++) {
		uint64_t off = i < 200 ? (uint64_t)i * 100 * KiB
				       : rnd(&s) % (o->size - 200 * KiB);
		uint64_t m;

		CHECK_OK(ostore_read(o, off, 200 * KiB, buf, &err), &err);
		CHECK(!memcmp(buf, want + off, 200 * KiB));
		m = stats_of(st).mem_bytes;
		if (m > peak)
			peak = m;
		CHECK(m <= MiB);
	}
	fprintf(stderr, "peak %" PRIu64 " bytes cached\n", peak);
	CHECK(peak > MiB / 2);
	ostore_close(o);
	unwrap(st, conf);
	free(buf);
	free(want);
}

struct same_arg {
	struct ostore_obj *o;
	pthread_barrier_t *bar;
	uint64_t off;
	const uint8_t *want;
	atomic_int *bad;
};

static void *same_reader(void *arg)
{
	struct same_arg *a = arg;
	struct lc_err err = { 0 };
	uint8_t buf[8000];

	pthread_barrier_wait(a->bar);
	if (ostore_read(a->o, a->off, sizeof(buf), buf, &err) ||
	    memcmp(buf, a->want + a->off, sizeof(buf)))
		atomic_store(a->bad, 1);
	return NULL;
}

/* Eight threads wanting the same block at once cause one request (no
 * read-ahead here: their reads would look sequential). */
TEST(one_fetch_per_block)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/s.lance", MiB, 5);
	const char *opts[] = { "cache_threads=0", NULL };
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, opts, &conf);
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	pthread_barrier_t bar;
	pthread_t t[8];
	struct same_arg a[8];
	atomic_int bad = 0;

	c->delay_us = 50000;
	CHECK_OK(ostore_open(&o, st, "data/s.lance", &err), &err);
	pthread_barrier_init(&bar, NULL, 8);
	for (int i = 0; i < 8; i++) {
		/* all inside block 3, at different offsets */
		a[i] = (struct same_arg){ o, &bar,
					  3 * 64 * KiB + (uint64_t)i * 7000,
					  want, &bad };
		CHECK(!pthread_create(&t[i], NULL, same_reader, &a[i]));
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	CHECK(!atomic_load(&bad));
	CHECK_EQ_U64(atomic_load(&c->reads), 1);
	ostore_close(o);
	unwrap(st, conf);
	free(want);
}

static void replaced(const char *dir)
{
	struct cnt_store *c = cnt_new();
	uint8_t *a = put_obj(c, "_latest.manifest", 300 * KiB, 6), *b;
	char opt[96];
	const char *opts[] = { opt, NULL };
	struct ostore_conf *conf;
	struct ostore *st;

	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	st = wrap(c, dir ? opts : NULL, &conf);
	CHECK(!scan(st, NULL, "_latest.manifest", a, 300 * KiB, 0));
	/* same key, same size, new bytes: a new etag */
	b = put_obj(c, "_latest.manifest", 300 * KiB, 7);
	CHECK(!scan(st, NULL, "_latest.manifest", b, 300 * KiB, 0));
	CHECK_EQ_U64(atomic_load(&c->reads), 2);
	unwrap(st, conf);
	free(a);
	free(b);
}

/* A replaced object is a miss, not stale bytes, in memory and on disk. */
TEST(replaced_object_not_stale)
{
	char dir[64];

	replaced(NULL);
	make_tmpdir(dir);
	replaced(dir);
	harness_rm_rf(dir);
}

/* Objects without an etag are read straight through, every time. */
TEST(no_etag_reads_through)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "x", 100 * KiB, 8), buf[1000];
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	struct lc_err err = { 0 };
	struct ostore_obj *o;

	c->no_etag = 1;
	CHECK_OK(ostore_open(&o, st, "x", &err), &err);
	for (int i = 0; i < 3; i++) {
		CHECK_OK(ostore_read(o, 500, sizeof(buf), buf, &err), &err);
		CHECK(!memcmp(buf, want + 500, sizeof(buf)));
	}
	CHECK_EQ_U64(atomic_load(&c->reads), 3);
	CHECK_EQ_U64(stats_of(st).hits, 0);
	ostore_close(o);
	unwrap(st, conf);
	free(want);
}

/* A second "mount" (new cache over a fresh store, same cache_dir) serves
 * a whole scan from disk, with no request at all. */
TEST(disk_survives_remount)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, "cache_size=4M", NULL };
	struct cnt_store *c1 = cnt_new(), *c2 = cnt_new();
	uint8_t *want = put_obj(c1, "data/d.lance", 20 * MiB + 5, 9);
	uint8_t *again = put_obj(c2, "data/d.lance", 20 * MiB + 5, 9);
	struct ostore_conf *conf;
	struct ostore *st;

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	st = wrap(c1, opts, &conf);
	CHECK(!scan(st, c1, "data/d.lance", want, 100 * KiB, 0));
	CHECK(atomic_load(&c1->reads) > 0);
	/* read-ahead workers may still be writing the last blocks out */
	for (int i = 0; i < 200 && stats_of(st).disk_bytes < 20 * MiB; i++)
		usleep(50 * 1000);
	CHECK(stats_of(st).disk_bytes >= 20 * MiB);
	unwrap(st, conf);

	st = wrap(c2, opts, &conf);
	CHECK(stats_of(st).disk_bytes >= 20 * MiB);
	CHECK(!scan(st, c2, "data/d.lance", again, 100 * KiB, 0));
	CHECK_EQ_U64(atomic_load(&c2->reads), 0);
	CHECK(stats_of(st).disk_hits >= 20 * MiB);
	unwrap(st, conf);
	harness_rm_rf(dir);
	free(want);
	free(again);
}

/* Memory after a scan of a 40 MiB object that fits in cache_size: it
 * all stays without a disk cache; with one, the blocks the scan has
 * passed are let go (they are on disk), and a second scan reads them
 * back from disk, not from the store. */
static int mem_after_scan(const char *dir, uint64_t *mem,
			  unsigned long *reads_again)
{
	char opt[96];
	const char *opts[] = { "cache_size=64M", opt, NULL };
	struct cnt_store *c = cnt_new();
	struct ostore_conf *conf;
	struct ostore *st;
	unsigned long reads;
	uint8_t *want;
	int bad;

	snprintf(opt, sizeof(opt), "cache_dir=%s", dir ? dir : "");
	if (!dir)
		opts[1] = NULL;
	want = put_obj(c, "data/p.lance", 40 * MiB, 12);
	st = wrap(c, opts, &conf);
	bad = scan(st, c, "data/p.lance", want, 100 * KiB, 0);
	/* the read-ahead workers have queued nothing past the end */
	for (int i = 0; i < 100; i++) {
		reads = atomic_load(&c->reads);
		usleep(20 * 1000);
		if (atomic_load(&c->reads) == reads)
			break;
	}
	*mem = stats_of(st).mem_bytes;
	reads = atomic_load(&c->reads);
	bad |= scan(st, c, "data/p.lance", want, 100 * KiB, 0);
	*reads_again = atomic_load(&c->reads) - reads;
	unwrap(st, conf);
	free(want);
	return bad;
}

TEST(scan_leaves_memory_to_disk)
{
	char dir[64];
	unsigned long again;
	uint64_t mem;

	CHECK(!mem_after_scan(NULL, &mem, &again));
	fprintf(stderr, "no disk: %" PRIu64 " MiB in memory, %lu requests "
		"again\n", mem / MiB, again);
	CHECK(mem >= 40 * MiB);
	CHECK_EQ_U64(again, 0);

	make_tmpdir(dir);
	CHECK(!mem_after_scan(dir, &mem, &again));
	fprintf(stderr, "disk: %" PRIu64 " MiB in memory, %lu requests "
		"again\n", mem / MiB, again);
	CHECK(mem <= 20 * MiB);	/* the 16 MiB kept behind the reader */
	CHECK_EQ_U64(again, 0);
	harness_rm_rf(dir);
}

/* A cache over `c2` with settings `opts` (a cache_dir= among them), whose
 * disk an earlier mount over `c1` filled with object `key` (`want`, the
 * same in both stores) by reading it all: a second epoch's start. */
static struct ostore *next_mount(struct cnt_store *c1, struct cnt_store *c2,
				 const char *const *opts, const char *key,
				 const uint8_t *want,
				 struct ostore_conf **conf)
{
	struct ostore *st = wrap(c1, opts, conf);

	if (scan(st, c1, key, want, 1 * MiB, 0))
		abort();
	unwrap(st, *conf);
	return wrap(c2, opts, conf);
}

/* Parallel readers of one epoch are spread out: one that lags the others
 * by 6 MiB, reading a dataset a second time from a cache_dir= an earlier
 * mount filled, still finds the blocks in memory: each byte comes from
 * disk once. */
TEST(lagging_reader_reads_from_memory)
{
	const uint64_t size = 48 * MiB, lag = 6 * MiB, step = 100 * KiB;
	char dir[64], opt[96];
	const char *opts[] = { "cache_size=64M", opt, NULL };
	struct cnt_store *c1 = cnt_new(), *c2 = cnt_new();
	uint8_t *want = put_obj(c1, "data/l.lance", size, 14);
	uint8_t *again = put_obj(c2, "data/l.lance", size, 14);
	uint8_t *buf = malloc(step);
	struct ostore_conf *conf;
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	struct ostore *st;

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	st = next_mount(c1, c2, opts, "data/l.lance", want, &conf);
	CHECK_OK(ostore_open(&o, st, "data/l.lance", &err), &err);
	for (uint64_t lead = 0; lead < size + lag; lead += step) {
		uint64_t at[2] = { lead, lead - lag };

		for (int k = 0; k < 2; k++) {
			size_t n;

			if (at[k] >= size)	/* past the end, or before 0 */
				continue;
			n = size - at[k] < step ? (size_t)(size - at[k]) : step;
			CHECK_OK(ostore_read(o, at[k], n, buf, &err), &err);
			CHECK(!memcmp(buf, again + at[k], n));
		}
	}
	ostore_close(o);
	fprintf(stderr, "%" PRIu64 " MiB read from disk for %" PRIu64
		" MiB\n", stats_of(st).disk_hits / MiB, size / MiB);
	CHECK(stats_of(st).disk_hits <= size + 2 * MiB);
	CHECK_EQ_U64(atomic_load(&c2->reads), 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
	free(buf);
	free(want);
	free(again);
}

/* A format reads an offset near the start of a file, then a value near
 * its end, row after row, from a cache_dir= an earlier mount filled: the
 * two walks are streams, but neither walks over the other's blocks, so
 * the block of offsets stays in memory (read from disk once, not once a
 * row). */
TEST(hot_blocks_stay_near_a_stream)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, NULL };
	struct cnt_store *c1 = cnt_new(), *c2 = cnt_new();
	uint8_t *want = put_obj(c1, "data/h.lance", 12 * MiB, 13);
	uint8_t *again = put_obj(c2, "data/h.lance", 12 * MiB, 13);
	struct ostore_conf *conf;
	struct lc_err err = { 0 };
	struct ostore_obj *o;
	struct ostore *st;
	uint8_t buf[8];

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	st = next_mount(c1, c2, opts, "data/h.lance", want, &conf);
	CHECK_OK(ostore_open(&o, st, "data/h.lance", &err), &err);
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t near = 100 + 8 * i, far = 12 * MiB - 4000 + 8 * i;

		CHECK_OK(ostore_read(o, near, 8, buf, &err), &err);
		CHECK(!memcmp(buf, again + near, 8));
		CHECK_OK(ostore_read(o, far, 8, buf, &err), &err);
		CHECK(!memcmp(buf, again + far, 8));
	}
	ostore_close(o);
	fprintf(stderr, "%" PRIu64 " bytes read from disk\n",
		stats_of(st).disk_hits);
	CHECK(stats_of(st).disk_hits <= 2 * MiB);
	CHECK_EQ_U64(atomic_load(&c2->reads), 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
	free(want);
	free(again);
}

/*
 * A file system that refuses O_DIRECT, at the open (as FUSE mounts and
 * some others do) or at the read: this binary's openat64 and preadv64
 * stand in front of libc's for the cache's calls.
 */
enum { DIRECT_OK, DIRECT_NO_OPEN, DIRECT_NO_READ };
static atomic_int direct_mode;
static atomic_int direct_fd = -1;	/* the O_DIRECT file, DIRECT_NO_READ */
static atomic_int direct_refused;
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_preadv)(int, const struct iovec *, int, off_t);

/* libc's own, found before any thread runs */
__attribute__((constructor)) static void find_real(void)
{
	real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT,
								  "openat64");
	real_preadv = (ssize_t (*)(int, const struct iovec *, int, off_t))
		dlsym(RTLD_NEXT, "preadv64");
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((flags & O_DIRECT) && direct_mode == DIRECT_NO_OPEN) {
		atomic_fetch_add(&direct_refused, 1);
		errno = EINVAL;
		return -1;
	}
	fd = real_openat(dirfd, path, flags, mode);
	if (fd >= 0 && (flags & O_DIRECT) && direct_mode == DIRECT_NO_READ)
		direct_fd = fd;
	return fd;
}

ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (direct_mode == DIRECT_NO_READ && fd == direct_fd) {
		atomic_fetch_add(&direct_refused, 1);
		errno = EINVAL;
		return -1;
	}
	return real_preadv(fd, iov, cnt, off);
}

/* Where O_DIRECT is refused, blocks are read back from cache_dir through
 * the page cache: the same bytes, no request. */
TEST(disk_without_o_direct)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, "cache_size=4M", NULL };
	struct ostore_conf *conf;
	struct ostore *st;

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	/* each mode its own bytes, so its own chunk files */
	for (int mode = DIRECT_NO_OPEN; mode <= DIRECT_NO_READ; mode++) {
		struct cnt_store *c1 = cnt_new(), *c2 = cnt_new();
		uint8_t *want = put_obj(c1, "data/d.lance", 3 * MiB + 7,
					(unsigned)mode);
		uint8_t *again = put_obj(c2, "data/d.lance", 3 * MiB + 7,
					 (unsigned)mode);

		st = wrap(c1, opts, &conf);
		CHECK(!scan(st, c1, "data/d.lance", want, 100 * KiB, 0));
		for (int i = 0; i < 200 && stats_of(st).disk_bytes < 3 * MiB;
		     i++)
			usleep(50 * 1000);
		CHECK(stats_of(st).disk_bytes >= 3 * MiB);
		unwrap(st, conf);

		direct_mode = mode;
		direct_refused = 0;
		st = wrap(c2, opts, &conf);
		CHECK(!scan(st, c2, "data/d.lance", again, 100 * KiB, 0));
		CHECK_EQ_U64(atomic_load(&c2->reads), 0);
		CHECK(stats_of(st).disk_hits >= 3 * MiB);
		CHECK(atomic_load(&direct_refused) > 0);
		unwrap(st, conf);
		direct_mode = DIRECT_OK;
		direct_fd = -1;
		free(want);
		free(again);
	}
	harness_rm_rf(dir);
}

struct cfile {
	char path[512];
	off_t size;
};

/* The chunk files of the cache, largest first. */
static int list_files(const char *dir, struct cfile *out, int max)
{
	char sub[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(sub, sizeof(sub), "%s/v1", dir);
	d = opendir(sub);
	while (d && (de = readdir(d)) && n < max) {
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(out[n].path, sizeof(out[n].path), "%s/%s", sub,
			 de->d_name);
		if (stat(out[n].path, &sb) == 0) {
			out[n].size = sb.st_size;
			n++;
		}
	}
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (out[j].size > out[i].size) {
				struct cfile t = out[i];

				out[i] = out[j];
				out[j] = t;
			}
	return n;
}

static uint64_t dir_bytes(const char *dir, int *files)
{
	char sub[128];
	struct dirent *de;
	uint64_t total = 0;
	DIR *d;

	*files = 0;
	snprintf(sub, sizeof(sub), "%s/v1", dir);
	d = opendir(sub);
	while (d && (de = readdir(d))) {
		char path[512];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
		if (stat(path, &sb) == 0) {
			total += (uint64_t)sb.st_blocks * 512;
			(*files)++;
		}
	}
	if (d)
		closedir(d);
	return total;
}

static void flip(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	if (fd < 0 || pread(fd, &b, 1, at) != 1)
		abort();
	b ^= 0x40;
	if (pwrite(fd, &b, 1, at) != 1)
		abort();
	close(fd);
}

/* Flipped data, a flipped slot, a truncated file and a damaged header
 * are all detected: the bytes served are the store's, the damaged blocks
 * are fetched again and rewritten, and the next mount needs nothing. */
TEST(disk_corruption_detected)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, NULL };
	struct cnt_store *c = cnt_new();
	uint8_t *x = put_obj(c, "x", 20 * MiB, 10);
	uint8_t *y = put_obj(c, "y", MiB, 11);
	struct ostore_conf *conf;
	struct ostore *st;
	struct cfile f[8];
	unsigned long before;

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	st = wrap(c, opts, &conf);
	CHECK(!scan(st, NULL, "x", x, MiB, 0));
	CHECK(!scan(st, NULL, "y", y, MiB, 0));
	unwrap(st, conf);

	/* x.0 (16 MiB), x.1 (4 MiB), y.0 (1 MiB) */
	CHECK_EQ_U64(list_files(dir, f, 8), 3);
	flip(f[0].path, 8192 + 5 * 65536 + 100);	/* data of block 5 */
	flip(f[0].path, 128 + 7 * 16 + 9);		/* slot of block 7 */
	CHECK(truncate(f[1].path, 8192 + 2 * 65536 + 30000) == 0);
	flip(f[2].path, 40);				/* header */

	c = cnt_new();
	free(put_obj(c, "x", 20 * MiB, 10));
	free(put_obj(c, "y", MiB, 11));
	st = wrap(c, opts, &conf);
	CHECK(!scan(st, c, "x", x, 100 * KiB, 0));
	CHECK(!scan(st, c, "y", y, 100 * KiB, 0));
	before = atomic_load(&c->reads);
	fprintf(stderr, "%lu requests to repair\n", before);
	CHECK(before >= 4);
	unwrap(st, conf);

	c = cnt_new();
	free(put_obj(c, "x", 20 * MiB, 10));
	free(put_obj(c, "y", MiB, 11));
	st = wrap(c, opts, &conf);
	CHECK(!scan(st, c, "x", x, 100 * KiB, 0));
	CHECK(!scan(st, c, "y", y, 100 * KiB, 0));
	CHECK_EQ_U64(atomic_load(&c->reads), 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
	free(x);
	free(y);
}

/* The disk cache holds to cache_entries= files and cache_dir_size=
 * bytes, also when a later mount asks for less. */
TEST(disk_bounds)
{
	char dir[64], opt[96];
	const char *by_files[] = { opt, "cache_entries=10", NULL };
	const char *by_bytes[] = { opt, "cache_dir_size=3M", NULL };
	const char *smaller[] = { opt, "cache_dir_size=1M", NULL };
	struct cnt_store *c = cnt_new();
	uint8_t *want[40];
	struct ostore_conf *conf;
	struct ostore *st;
	char key[16];
	int files;
	uint64_t bytes;

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		want[i] = put_obj(c, key, 256 * KiB, 20 + (unsigned)i);
	}
	st = wrap(c, by_files, &conf);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK(!scan(st, NULL, key, want[i], 256 * KiB, 0));
		dir_bytes(dir, &files);
		CHECK(files <= 10);
	}
	CHECK_EQ_U64(files, 10);
	unwrap(st, conf);

	c = cnt_new();
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		free(put_obj(c, key, 256 * KiB, 20 + (unsigned)i));
	}
	st = wrap(c, by_bytes, &conf);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK(!scan(st, NULL, key, want[i], 256 * KiB, 0));
		bytes = dir_bytes(dir, &files);
		CHECK(bytes <= 3 * MiB);
		CHECK(stats_of(st).disk_bytes <= 3 * MiB);
	}
	CHECK(bytes >= 2 * MiB);
	unwrap(st, conf);

	st = wrap(cnt_new(), smaller, &conf);
	CHECK(dir_bytes(dir, &files) <= MiB);
	CHECK(files > 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
	for (int i = 0; i < 40; i++)
		free(want[i]);
}

/* Warmup copies whole objects to disk, one request per missing 1 MiB,
 * skips what is there, reports progress, and a later mount then reads
 * everything with no request. */
TEST(warmup_fills_disk)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, NULL };
	struct cnt_store *c = cnt_new();
	uint8_t *w[3];
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_stats s;
	struct lc_err err = { 0 };
	const char *keys[] = { "a", "b", "c" };

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	for (int i = 0; i < 3; i++)
		w[i] = put_obj(c, keys[i], 5 * MiB + 100, 30 + (unsigned)i);
	st = wrap(c, opts, &conf);
	/* two MiB of "a" already on disk are not fetched again */
	for (int i = 0; i < 2; i++) {
		struct ostore_obj *o;
		uint8_t *buf = malloc(MiB);

		CHECK_OK(ostore_open(&o, st, "a", &err), &err);
		CHECK_OK(ostore_read(o, (uint64_t)i * 3 * MiB, MiB, buf, &err),
			 &err);
		CHECK(!memcmp(buf, w[0] + i * 3 * MiB, MiB));
		ostore_close(o);
		free(buf);
	}
	CHECK_EQ_U64(atomic_load(&c->reads), 2);
	for (int i = 0; i < 3; i++)
		CHECK_OK(ostore_cache_warm(st, keys[i], &err), &err);
	ostore_cache_warm_wait(st);
	s = stats_of(st);
	CHECK_EQ_U64(s.warm_total, 3 * (5 * MiB + 100));
	CHECK_EQ_U64(s.warm_done, s.warm_total);
	CHECK_EQ_U64(s.warm_pending, 0);
	CHECK_EQ_U64(atomic_load(&c->reads), 2 + 4 + 2 * 6);
	CHECK_OK(ostore_cache_warm(st, "b", &err), &err);
	ostore_cache_warm_wait(st);
	CHECK_EQ_U64(atomic_load(&c->reads), 2 + 4 + 2 * 6);
	unwrap(st, conf);

	c = cnt_new();
	for (int i = 0; i < 3; i++)
		free(put_obj(c, keys[i], 5 * MiB + 100, 30 + (unsigned)i));
	st = wrap(c, opts, &conf);
	for (int i = 0; i < 3; i++)
		CHECK(!scan(st, c, keys[i], w[i], 100 * KiB, 0));
	CHECK_EQ_U64(atomic_load(&c->reads), 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
	for (int i = 0; i < 3; i++)
		free(w[i]);
}

/* A disk cache too small for the object: warm_done counts what the
 * disk holds, not what was fetched (a warmup that reports 100% must
 * mean the data is there). */
TEST(warmup_counts_what_stays)
{
	char dir[64], opt[96];
	const char *opts[] = { opt, "cache_dir_size=1M", NULL };
	struct cnt_store *c = cnt_new();
	struct ostore_conf *conf;
	struct ostore *st;
	struct ostore_stats s;
	struct lc_err err = { 0 };

	make_tmpdir(dir);
	snprintf(opt, sizeof(opt), "cache_dir=%s", dir);
	free(put_obj(c, "big", 5 * MiB + 100, 7));
	st = wrap(c, opts, &conf);
	CHECK_OK(ostore_cache_warm(st, "big", &err), &err);
	ostore_cache_warm_wait(st);
	s = stats_of(st);
	CHECK_EQ_U64(s.warm_total, 5 * MiB + 100);
	CHECK_EQ_U64(s.warm_pending, 0);
	CHECK(s.warm_done < s.warm_total);
	CHECK(s.warm_done <= s.disk_bytes);
	CHECK_EQ_U64(s.warm_failed, 0);
	/* a data file gone from the store is counted, not passed over */
	CHECK_OK(ostore_cache_warm(st, "gone", &err), &err);
	ostore_cache_warm_wait(st);
	s = stats_of(st);
	CHECK_EQ_U64(s.warm_failed, 1);
	CHECK_EQ_U64(s.warm_pending, 0);
	unwrap(st, conf);
	harness_rm_rf(dir);
}

/* Warmup needs a disk cache; a store that is no cache has nothing to
 * warm. */
TEST(warmup_needs_cache_dir)
{
	struct cnt_store *c = cnt_new();
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	struct ostore *mem;
	struct lc_err err = { 0 };

	CHECK_EQ_U64(ostore_cache_warm(st, "k", &err), EINVAL);
	CHECK(strstr(err.msg, "cache_dir") != NULL);
	unwrap(st, conf);
	CHECK_OK(ostore_mem_new(&mem, &err), &err);
	CHECK_OK(ostore_cache_warm(mem, "k", &err), &err);
	ostore_free(mem);
}

/* Closing an object, and freeing the store, while read-ahead is under way
 * is safe (ASan) and leaks no inner object. */
TEST(close_during_prefetch)
{
	struct cnt_store *c = cnt_new();
	uint8_t *want = put_obj(c, "data/p.lance", 30 * MiB, 12);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf);
	struct lc_err err = { 0 };
	uint8_t buf[100 * 1000];

	c->delay_us = 20000;
	for (int i = 0; i < 20; i++) {
		struct ostore_obj *o;
		uint64_t off = (uint64_t)i * MiB;

		CHECK_OK(ostore_open(&o, st, "data/p.lance", &err), &err);
		for (int k = 0; k < 3; k++, off += sizeof(buf)) {
			CHECK_OK(ostore_read(o, off, sizeof(buf), buf, &err),
				 &err);
			CHECK(!memcmp(buf, want + off, sizeof(buf)));
		}
		ostore_close(o);
	}
	unwrap(st, conf);
	CHECK_EQ_U64(atomic_load(&open_objs), 0);
	free(want);
}

/* Settings are checked, and a failed wrap frees the store it was given. */
TEST(settings)
{
	struct lc_err err = { 0 };
	struct ostore_conf *conf;
	struct ostore *st;
	/* not numbers at all: refused as given, whatever the store */
	const char *form[] = { "cache_size=12Q", "cache_size=-1",
			       "cache_dir_size=1M2", "cache_threads=q",
			       "connect_timeout=abc" };
	/* out of range: refused by the cache */
	const char *bad[] = { "cache_threads=100", "cache_entries=0" };

	for (size_t i = 0; i < sizeof(form) / sizeof(form[0]); i++) {
		CHECK_OK(ostore_conf_new(&conf, &err), &err);
		CHECK_EQ_U64(ostore_conf_parse(conf, form[i], &err), EINVAL);
		CHECK(strstr(err.msg, form[i]) != NULL);
		lc_err_clear(&err);
		ostore_conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_OK(ostore_conf_new(&conf, &err), &err);
		CHECK_OK(ostore_conf_parse(conf, bad[i], &err), &err);
		CHECK_EQ_U64(ostore_cache_wrap(&st, &cnt_new()->base, conf,
					       &err), EINVAL);
		CHECK(st == NULL);
		CHECK(strstr(err.msg, bad[i]) != NULL);
		lc_err_clear(&err);
		ostore_conf_free(conf);
	}
	CHECK_OK(ostore_conf_new(&conf, &err), &err);
	CHECK_OK(ostore_conf_parse(conf, "cache_size=3KiB", &err), &err);
	CHECK_OK(ostore_cache_wrap(&st, &cnt_new()->base, conf, &err), &err);
	unwrap(st, conf);
}

/* A sub-store shares the cache: its reads count in the parent's stats
 * and its blocks are named by the full path. */
TEST(sub_store_shares_cache)
{
	struct cnt_store *c = cnt_new();
	uint8_t *x = put_obj(c, "db/ds/data/x", 300 * KiB, 40);
	uint8_t *y = put_obj(c, "data/x", 300 * KiB, 41);
	struct ostore_conf *conf;
	struct ostore *st = wrap(c, NULL, &conf), *sub;
	struct lc_err err = { 0 };

	CHECK_OK(ostore_sub(&sub, st, "db/ds", &err), &err);
	CHECK_EQ_U64(sub->ops->kind, OSTORE_KIND_CACHE);
	for (int i = 0; i < 2; i++) {
		CHECK(!scan(sub, NULL, "data/x", x, 300 * KiB, 0));
		CHECK(!scan(st, NULL, "data/x", y, 300 * KiB, 0));
	}
	CHECK_EQ_U64(atomic_load(&c->reads), 2);
	CHECK_EQ_U64(stats_of(st).hits, 2 * 300 * KiB);
	CHECK_EQ_U64(stats_of(sub).misses, 2);
	ostore_free(sub);
	unwrap(st, conf);
	free(x);
	free(y);
}

/* Local datasets are not wrapped: the kernel's page cache serves them. */
TEST(local_not_wrapped)
{
	struct lc_err err = { 0 };
	struct ostore *st;

	CHECK_OK(ostore_open_uri(&st, "/tmp", NULL, &err), &err);
	CHECK_EQ_U64(st->ops->kind, OSTORE_KIND_LOCAL);
	ostore_free(st);
}

TEST_MAIN(TEST_ENTRY(random_ranges_small_cache),
	  TEST_ENTRY(random_ranges_big_cache), TEST_ENTRY(random_ranges_disk),
	  TEST_ENTRY(random_ranges_one_block),
	  TEST_ENTRY(one_request_per_image),
	  TEST_ENTRY(sequential_scan_reads_ahead),
	  TEST_ENTRY(reads_in_place_stay_small), TEST_ENTRY(memory_bound),
	  TEST_ENTRY(one_fetch_per_block),
	  TEST_ENTRY(replaced_object_not_stale),
	  TEST_ENTRY(no_etag_reads_through),
	  TEST_ENTRY(disk_survives_remount),
	  TEST_ENTRY(scan_leaves_memory_to_disk),
	  TEST_ENTRY(lagging_reader_reads_from_memory),
	  TEST_ENTRY(hot_blocks_stay_near_a_stream),
	  TEST_ENTRY(disk_without_o_direct),
	  TEST_ENTRY(disk_corruption_detected), TEST_ENTRY(disk_bounds),
	  TEST_ENTRY(warmup_fills_disk), TEST_ENTRY(warmup_counts_what_stays),
	  TEST_ENTRY(warmup_needs_cache_dir),
	  TEST_ENTRY(close_during_prefetch), TEST_ENTRY(settings),
	  TEST_ENTRY(sub_store_shares_cache), TEST_ENTRY(local_not_wrapped))
