/*
 * test_view_faults.c - the view while the object store fails. A dataset
 * like test_s3.py's (named rows, JPEG-framed image.jpg of a few KB to a
 * few hundred, meta.json, three fragments; file versions 2.0 to 2.2) is
 * walked as a mount walks it: lookup of each file, its stat, its bytes,
 * the row's listing. Each step either gives what it gives on a healthy
 * store or fails, and never with ENOENT: a file that is there must not
 * look absent (nor a listing empty) because the store failed. Once the
 * store recovers, a walk of the same view must see everything as on a
 * healthy store: nothing of the failure stays. The store fails
 *   - reads from the k-th on, or only the k-th, for every k a walk makes;
 *   - a third of the reads at random, under four walks at once;
 *   - with "no such object" for the data files (an S3 404).
 * Reads go straight to the store, or through the read cache
 * (objstore/cache.c) over a store whose objects carry an etag.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "harness.h"
#include "countstore.h"
#include "ingest.h"
#include "ostore.h"
#include "staging.h"
#include "view.h"

#define MAX_ROWS 32
#define MAX_FILES 4

/* ---- failing reads --------------------------------------------------- */

static atomic_long n_reads;	/* reads since the counter was reset */
static long fail_from = -1;	/* the first read that fails, or -1 */
static bool fail_once;		/* only that read */
static atomic_int fail_percent;	/* or this share of reads, at random */
static atomic_bool lose_data;	/* the store says data files are gone */
static atomic_long n_failed;	/* walk steps that failed, as allowed */

static int injected(const struct ostore_obj *o, struct lc_err *err)
{
	long k = atomic_fetch_add(&n_reads, 1);
	int pc = atomic_load(&fail_percent);

	if (pc) {
		uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ull;

		if ((h >> 32) % 100 >= (uint64_t)pc)
			return 0;
	} else if (fail_from < 0 || k < fail_from ||
		   (fail_once && k != fail_from)) {
		return 0;
	}
	return lc_err_set(err, EIO, LC_EK_REMOTE, __FILE__, __LINE__,
			  "%s: injected failure of read %ld", o->key, k);
}

/* The view's own (local) store: its reads fail as set above; with a
 * cache, its opens go to the cache instead. */
static const struct ostore_ops *local_ops;
static struct ostore_ops view_ops;
static struct ostore *route_to;	/* the cache, or NULL */

static int view_read(struct ostore_obj *o, uint64_t off, size_t len,
		     void *buf, struct lc_err *err)
{
	return injected(o, err) ? EIO : local_ops->read(o, off, len, buf, err);
}

static int view_open_obj(struct ostore *st, const char *key,
			 struct ostore_obj **out, struct lc_err *err)
{
	if (atomic_load(&lose_data) && !strncmp(key, "data/", 5))
		return LC_NOTFOUND(err, "%s: no such object", key);
	if (route_to)
		return ostore_open(out, route_to, key, err);
	return local_ops->open(st, key, out, err);
}

/* The read cache over a local store of `dir` whose objects have an etag
 * (so the cache keeps their blocks) and whose reads fail as set above:
 * small, so blocks are evicted; `threads` is "cache_threads=N" (0: no
 * read-ahead, the reads come in order). */
static int cache_new(struct ostore **out, const char *dir,
		     const char *threads, struct ostore_conf **conf,
		     struct lc_err *err)
{
	static char fixed[] = "fixed";
	struct ostore *local, *under;
	int rc;

	rc = ostore_local_new(&local, dir, err);
	if (!rc)
		rc = count_store_new(&under, local, err);
	if (rc)
		return rc;
	((struct count_store *)under)->etag = fixed;
	((struct count_store *)under)->fail_read = injected;
	rc = ostore_conf_new(conf, err);
	if (!rc)
		rc = ostore_conf_parse(*conf, threads, err);
	if (!rc)
		rc = ostore_conf_parse(*conf, "cache_size=256K", err);
	if (rc) {
		ostore_free(under);
		return rc;
	}
	return ostore_cache_wrap(out, under, *conf, err);
}

/* ---- the dataset ------------------------------------------------------ */

/* FF D8 FF, then bytes of a generator: test_s3.py's "JPEG-framed"
 * images, big enough on every third row to span many cache blocks. */
static uint8_t *image(uint32_t seed, size_t *n)
{
	uint8_t *b;
	uint32_t x = seed * 2654435761u + 1;

	*n = seed % 3 ? 2000 + seed * 37 % 5000 :
			100000 + seed % 4 * 100000;
	b = malloc(*n);
	if (!b)
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		x = x * 1103515245u + 12345;
		b[i] = (uint8_t)(x >> 16);
	}
	memcpy(b, "\xff\xd8\xff\xe0", 4);
	return b;
}

/* dir/t.lance in file version `version`: three commits (fragments) of
 * rows f<batch>_<k>, each with meta.json and, but for every seventh
 * row, image.jpg. */
static int make_dataset(const char *dir, const char *version,
			struct lc_err *err)
{
	struct ingest_opts o = { .format_version = version };
	char ds[300], sd[300], row[4200];
	struct staging *stg;
	struct ostore *st;
	uint64_t ver = 0;
	uint32_t seed = 0;
	int rc;

	snprintf(ds, sizeof(ds), "%s/t.lance", dir);
	snprintf(sd, sizeof(sd), "%s/staging", dir);
	mkdir(ds, 0755);
	rc = ostore_local_new(&st, ds, err);
	if (rc)
		return rc;
	rc = staging_open(&stg, sd, err);
	if (rc) {
		ostore_free(st);
		return rc;
	}
	for (int batch = 0; !rc && batch < 3; batch++) {
		const struct lance_schema *schema = NULL;
		struct lance_snapshot *snap = NULL;

		for (int k = 0; !rc && k < 6; k++, seed++) {
			char name[32], meta[64];
			uint64_t id;

			snprintf(name, sizeof(name), "f%d_%02d", batch, k);
			rc = staging_row_new(&id, stg, name, err);
			if (rc)
				break;
			staging_row_path(row, sizeof(row), stg, id);
			snprintf(meta, sizeof(meta), "{\"caption\":\"row %u\"}",
				 seed);
			harness_put_file(row, "meta.json", meta, strlen(meta));
			if (seed % 7 != 6) {
				size_t n;
				uint8_t *img = image(seed, &n);

				if (!img)
					rc = LC_NOMEM(err);
				else
					harness_put_file(row, "image.jpg", img, n);
				free(img);
			}
		}
		if (!rc && ver) {
			rc = lance_snapshot_open(&snap, st, 0, err);
			if (!rc)
				schema = &lance_snapshot_manifest(snap)->schema;
		}
		if (!rc)
			rc = ingest_commit(&ver, NULL, st, stg, ver, schema, &o,
					   NULL, NULL, err);
		lance_snapshot_free(snap);
	}
	staging_free(stg);
	ostore_free(st);
	return rc;
}

/* ---- the walk ---------------------------------------------------------- */

struct entry {
	char name[64];
	uint64_t size;
	uint8_t *data;
	size_t len;
};

struct row {
	char name[64];
	struct entry files[MAX_FILES];
	size_t n_files;
	char listing[256];
};

struct walk {
	struct row rows[MAX_ROWS];
	size_t n_rows;
};

struct names {
	char buf[4096];
};

static int add_name(void *ctx, uint64_t index, const char *name,
		    const struct vnode *node)
{
	struct names *n = ctx;

	(void)index;
	(void)node;
	if (strlen(n->buf) + strlen(name) + 2 > sizeof(n->buf))
		return E2BIG;
	strcat(n->buf, name);
	strcat(n->buf, " ");
	return 0;
}

struct setup {
	const char *path;
	const struct view_opts *opts;
	const char *cache_threads;	/* "cache_threads=N", or NULL: no
					 * cache */
	struct ostore_conf *conf;
};

static void close_view(struct view *v, struct setup *su)
{
	if (v)
		view_free(v);
	ostore_free(route_to);
	route_to = NULL;
	ostore_conf_free(su->conf);
	su->conf = NULL;
}

/* A fresh view of the dataset, its reads failing as set (none yet). */
static int open_view(struct view **v, struct setup *su, struct lc_err *err)
{
	struct vnode root;
	struct ostore *st;
	int rc;

	*v = NULL;
	fail_from = -1;
	route_to = NULL;
	if (su->cache_threads) {
		rc = cache_new(&route_to, su->path, su->cache_threads,
			       &su->conf, err);
		if (rc)
			return rc;
	}
	rc = view_open(v, su->path, su->opts, err);
	if (!rc) {
		rc = view_root(&root, *v, err);
		if (rc)
			view_free(*v);
	}
	if (rc) {
		*v = NULL;
		close_view(NULL, su);
		return rc;
	}
	st = view_store(&root);
	vnode_reset(&root);
	if (!local_ops) {
		local_ops = st->ops;
		view_ops = *local_ops;
		view_ops.open = view_open_obj;
		view_ops.read = view_read;
	}
	st->ops = &view_ops;
	atomic_store(&n_reads, 0);
	return 0;
}

/* The rows' files, sizes and bytes on a healthy store. */
static int learn(struct walk *w, struct view *v, struct lc_err *err)
{
	struct names rows = { "" };
	char *save = NULL, *tok;
	struct vnode root;
	int rc;

	memset(w, 0, sizeof(*w));
	rc = view_root(&root, v, err);
	if (rc)
		return rc;
	rc = view_readdir(v, &root, 0, add_name, &rows, err);
	for (tok = strtok_r(rows.buf, " ", &save); !rc && tok;
	     tok = strtok_r(NULL, " ", &save)) {
		struct row *r = &w->rows[w->n_rows++];
		struct names files = { "" };
		char *fsave = NULL, *f;
		struct vnode row;

		snprintf(r->name, sizeof(r->name), "%s", tok);
		rc = view_lookup(&row, v, &root, tok, err);
		if (rc)
			break;
		rc = view_readdir(v, &row, 0, add_name, &files, err);
		if (strlen(files.buf) >= sizeof(r->listing))
			return E2BIG;	/* more files than a test row has */
		memcpy(r->listing, files.buf, strlen(files.buf) + 1);
		for (f = strtok_r(files.buf, " ", &fsave); !rc && f;
		     f = strtok_r(NULL, " ", &fsave)) {
			struct entry *e = &r->files[r->n_files++];
			struct view_attr a;
			struct vnode n;
			struct lc_buf b;

			snprintf(e->name, sizeof(e->name), "%s", f);
			rc = view_lookup(&n, v, &row, f, err);
			if (rc)
				break;
			lc_buf_init(&b, 0);
			rc = view_getattr(&a, v, &n, err);
			if (!rc)
				rc = view_read_file(&b, v, &n, err);
			if (!rc)
				rc = lc_buf_take(&b, &e->data, &e->len, err);
			e->size = a.size;
			lc_buf_reset(&b);
			vnode_reset(&n);
		}
		vnode_reset(&row);
	}
	vnode_reset(&root);
	return rc;
}

static void forget(struct walk *w)
{
	for (size_t i = 0; i < w->n_rows; i++)
		for (size_t j = 0; j < w->rows[i].n_files; j++)
			lc_free(w->rows[i].files[j].data);
}

/* A failed step is fine on a failing store, unless it says "not
 * there". */
static int failed_ok(bool failing, int rc, const struct lc_err *err,
		     const char *what, const char *row, const char *file)
{
	if (failing && rc != ENOENT) {
		atomic_fetch_add(&n_failed, 1);
		return 1;
	}
	fprintf(stderr, "  reads failing from %ld%s, %d%% at random, data "
		"files %s: %s of %s/%s: %s (%d): %s\n", fail_from,
		fail_once ? " (once)" : "", atomic_load(&fail_percent),
		atomic_load(&lose_data) ? "lost" : "there", what, row, file,
		strerror(rc), rc, err->msg);
	return 0;
}

/*
 * Each row as a mount sees it: lookup, stat and read of each file, then
 * the row's listing. A step that succeeds must match the healthy store;
 * one that fails must not be ENOENT (nor fail at all unless `failing`).
 * 1 when all held.
 */
static int walk_rows(const struct walk *w, struct view *v, bool failing)
{
	struct lc_err err = { 0 };
	struct vnode root;
	int ok = 1;

	if (view_root(&root, v, &err))
		return 0;
	for (size_t i = 0; i < w->n_rows; i++) {
		const struct row *r = &w->rows[i];
		struct names ls = { "" };
		struct vnode row;
		int rc;

		lc_err_clear(&err);
		rc = view_lookup(&row, v, &root, r->name, &err);
		if (rc) {
			ok &= failed_ok(failing, rc, &err, "lookup", r->name,
					"");
			continue;
		}
		for (size_t j = 0; j < r->n_files; j++) {
			const struct entry *e = &r->files[j];
			struct view_attr a;
			struct vnode n;
			struct lc_buf b;

			lc_err_clear(&err);
			rc = view_lookup(&n, v, &row, e->name, &err);
			if (rc) {
				ok &= failed_ok(failing, rc, &err, "lookup",
						r->name, e->name);
				continue;
			}
			lc_err_clear(&err);
			rc = view_getattr(&a, v, &n, &err);
			if (rc) {
				ok &= failed_ok(failing, rc, &err, "stat",
						r->name, e->name);
			} else if (a.size != e->size) {
				fprintf(stderr, "  %s/%s: size %llu, expected "
					"%llu\n", r->name, e->name,
					(unsigned long long)a.size,
					(unsigned long long)e->size);
				ok = 0;
			}
			lc_err_clear(&err);
			lc_buf_init(&b, 0);
			rc = view_read_file(&b, v, &n, &err);
			if (rc) {
				ok &= failed_ok(failing, rc, &err, "read",
						r->name, e->name);
			} else if (b.len != e->len ||
				   (e->len && memcmp(b.data, e->data,
						     e->len))) {
				fprintf(stderr, "  %s/%s: wrong bytes\n",
					r->name, e->name);
				ok = 0;
			}
			lc_buf_reset(&b);
			vnode_reset(&n);
		}
		lc_err_clear(&err);
		rc = view_readdir(v, &row, 0, add_name, &ls, &err);
		if (rc) {
			ok &= failed_ok(failing, rc, &err, "readdir", r->name,
					"");
		} else if (strcmp(ls.buf, r->listing)) {
			fprintf(stderr, "  ls %s: \"%s\", expected \"%s\"\n",
				r->name, ls.buf, r->listing);
			ok = 0;
		}
		vnode_reset(&row);
	}
	vnode_reset(&root);
	return ok;
}

/* For every k a walk of a fresh view reaches: reads failing from the
 * k-th on (or only the k-th), a walk; the store recovers, a walk. */
static int sweep(struct setup *su, bool once)
{
	struct lc_err err = { 0 };
	struct walk *w = calloc(1, sizeof(*w));
	struct view *v;
	long total;
	int ok;

	if (!w)
		return 0;
	ok = !open_view(&v, su, &err) && !learn(w, v, &err);
	close_view(v, su);
	ok = ok && !open_view(&v, su, &err);
	if (!ok) {
		fprintf(stderr, "%s: %s\n", su->path, err.msg);
		forget(w);
		free(w);
		return 0;
	}
	ok = walk_rows(w, v, false);
	total = atomic_load(&n_reads);
	close_view(v, su);
	if (total < 10) {
		fprintf(stderr, "%s: a walk made only %ld reads\n", su->path,
			total);
		ok = 0;
	}
	atomic_store(&n_failed, 0);
	for (long k = 0; ok && k < total; k++) {
		if (open_view(&v, su, &err)) {
			fprintf(stderr, "%s: %s\n", su->path, err.msg);
			ok = 0;
			break;
		}
		fail_from = k;
		fail_once = once;
		ok = walk_rows(w, v, true);
		fail_from = -1;
		ok &= walk_rows(w, v, false);
		close_view(v, su);
	}
	if (ok && !atomic_load(&n_failed)) {
		fprintf(stderr, "%s: no step failed\n", su->path);
		ok = 0;
	}
	forget(w);
	free(w);
	return ok;
}

/* Each file version, reads straight to the store (rows named by the
 * dataset's name column) and through the cache (canonical row names, so
 * every data file is first opened after the view is). */
static int sweep_all(bool once)
{
	static const char *const versions[] = { "2.0", "2.1", "2.2" };
	int ok = 1;

	for (size_t i = 0; ok && i < 3; i++) {
		char dir[] = "/tmp/lancefs-vfault-XXXXXX", ds[300];
		struct lc_err err = { 0 };
		struct view_opts unnamed = { 0 };
		struct setup direct = { ds, NULL, NULL, NULL };
		struct setup cached = { ds, &unnamed, "cache_threads=0",
					NULL };

		if (!mkdtemp(dir))
			return 0;
		snprintf(ds, sizeof(ds), "%s/t.lance", dir);
		if (make_dataset(dir, versions[i], &err) ||
		    view_opts_parse(&unnamed, "name_column=", &err)) {
			fprintf(stderr, "%s: %s\n", versions[i], err.msg);
			ok = 0;
		}
		if (ok && !sweep(&direct, once)) {
			fprintf(stderr, "%s, direct: failed\n", versions[i]);
			ok = 0;
		}
		if (ok && !sweep(&cached, once)) {
			fprintf(stderr, "%s, cached: failed\n", versions[i]);
			ok = 0;
		}
		view_opts_reset(&unnamed);
		harness_rm_rf(dir);
	}
	return ok;
}

struct walker {
	const struct walk *w;
	struct view *v;
	int ok;
};

static void *walker_main(void *arg)
{
	struct walker *wk = arg;

	for (int i = 0; i < 3; i++)
		wk->ok &= walk_rows(wk->w, wk->v, true);
	return NULL;
}

/* Four walks at once on one view (as a mount's threads), through the
 * cache with read-ahead threads, a third of the reads failing at random;
 * once the store recovers, a walk that may still meet read-ahead begun
 * before (failures allowed, ENOENT not), then one that must all work. */
static int concurrent(const char *version)
{
	char dir[] = "/tmp/lancefs-vfault-XXXXXX", ds[300];
	struct lc_err err = { 0 };
	struct view_opts unnamed = { 0 };
	struct setup su = { ds, &unnamed, "cache_threads=4", NULL };
	struct walker wk[4];
	pthread_t t[4];
	struct walk *w = calloc(1, sizeof(*w));
	struct view *v = NULL;
	int ok = w && mkdtemp(dir), started = 0;

	snprintf(ds, sizeof(ds), "%s/t.lance", dir);
	ok = ok && !make_dataset(dir, version, &err) &&
	     !view_opts_parse(&unnamed, "name_column=", &err) &&
	     !open_view(&v, &su, &err) && !learn(w, v, &err);
	close_view(v, &su);
	ok = ok && !open_view(&v, &su, &err);
	if (!ok)
		fprintf(stderr, "%s: %s\n", version, err.msg);
	atomic_store(&n_failed, 0);
	atomic_store(&fail_percent, 33);
	for (; ok && started < 4; started++) {
		wk[started] = (struct walker){ w, v, 1 };
		if (pthread_create(&t[started], NULL, walker_main,
				   &wk[started]))
			break;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		ok &= wk[i].ok;
	}
	atomic_store(&fail_percent, 0);
	if (ok && (started < 4 || !atomic_load(&n_failed))) {
		fprintf(stderr, "%s: %d walkers, %ld failed steps\n", version,
			started, atomic_load(&n_failed));
		ok = 0;
	}
	if (ok) {
		ok = walk_rows(w, v, true);
		ok &= walk_rows(w, v, false);
	}
	close_view(v, &su);
	view_opts_reset(&unnamed);
	if (w)
		forget(w);
	free(w);
	harness_rm_rf(dir);
	return ok;
}

/* The store answers "no such object" for the data files the manifest
 * lists (an S3 404: lost, or not yet visible): lookups, stats, reads and
 * listings of the rows fail, never with ENOENT; once the files are back
 * the same view shows everything. Rows have canonical names, so no data
 * file is open before the walk. */
static int lost_data(const char *version)
{
	char dir[] = "/tmp/lancefs-vfault-XXXXXX", ds[300];
	struct lc_err err = { 0 };
	struct view_opts unnamed = { 0 };
	struct setup direct = { ds, &unnamed, NULL, NULL };
	struct setup cached = { ds, &unnamed, "cache_threads=0", NULL };
	struct setup *su[] = { &direct, &cached };
	struct walk *w = calloc(1, sizeof(*w));
	int ok = w && mkdtemp(dir);

	snprintf(ds, sizeof(ds), "%s/t.lance", dir);
	ok = ok && !make_dataset(dir, version, &err) &&
	     !view_opts_parse(&unnamed, "name_column=", &err);
	for (int i = 0; ok && i < 2; i++) {
		struct view *v;

		ok = !open_view(&v, su[i], &err) && !learn(w, v, &err);
		close_view(v, su[i]);
		ok = ok && !open_view(&v, su[i], &err);
		if (!ok) {
			fprintf(stderr, "%s: %s\n", version, err.msg);
			break;
		}
		atomic_store(&n_failed, 0);
		atomic_store(&lose_data, true);
		ok = walk_rows(w, v, true) && atomic_load(&n_failed);
		atomic_store(&lose_data, false);
		ok &= walk_rows(w, v, false);
		close_view(v, su[i]);
		forget(w);
	}
	view_opts_reset(&unnamed);
	free(w);
	harness_rm_rf(dir);
	return ok;
}

TEST(data_file_not_found)
{
	CHECK(lost_data("2.0"));
	CHECK(lost_data("2.1"));
	CHECK(lost_data("2.2"));
}

TEST(reads_fail_from_k)
{
	CHECK(sweep_all(false));
}

TEST(only_read_k_fails)
{
	CHECK(sweep_all(true));
}

TEST(concurrent_walks)
{
	for (int round = 0; round < 4; round++) {
		CHECK(concurrent("2.1"));
		CHECK(concurrent("2.2"));
	}
}

TEST_MAIN(TEST_ENTRY(reads_fail_from_k), TEST_ENTRY(only_read_k_fails),
	  TEST_ENTRY(concurrent_walks), TEST_ENTRY(data_file_not_found))
