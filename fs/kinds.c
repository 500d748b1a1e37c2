/*
 * kinds.c - sniffed value kinds per data file, in memory and on disk.
 *
 * Why: a row folder lists its files by name, and a file column's name
 * carries the value's type (image.jpg, image.png), which comes from the
 * value's first bytes. A walk of a fresh mount would read part of every
 * value (from the object store, or from cache_dir=, which serves whole
 * 64 KiB blocks) just to name the files. A data file's values never
 * change, so what they are is learned once per data file and kept.
 *
 * The file DIR/kinds/<16 hex>.k, named by a hash of its key:
 *
 *   [0, 8)     "lancefsK"
 *   [8, 12)    KINDS_VERSION            [12, 16)  RENDER_SNIFF_N
 *   [16, 24)   rows                     [24, 28)  key length K
 *   [28, 28+K) the key: root, path, size and field, '\n'-separated
 *   then       one byte per row: KIND_*
 *   last 4     crc32 of everything before it
 *
 * Integers little-endian. Written whole through the local store (temp
 * file, rename), so readers see an old file or a new one. A record of
 * SAVE_WHOLE_ROWS rows or more is written when its last row becomes
 * known, every record that learned anything at unmount; a crash loses
 * only what was learned since.
 */
#include "kinds.h"
#include "ostore.h"
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BUCKETS 1024u
#define HDR_LEN 28u
#define MAX_ROWS ((uint64_t)1 << 32)
#define SAVE_WHOLE_ROWS 256u

struct kinds {
	struct kinds *next;		/* bucket chain */
	char *key;
	uint64_t rows;
	atomic_uchar *codes;
	atomic_ullong known;		/* rows not KIND_UNKNOWN */
	atomic_int dirty;		/* learned since loaded or written */
};

struct kinds_table {
	pthread_mutex_t mu;		/* protects the buckets */
	struct ostore *dir;		/* DIR/kinds, or NULL */
	char *root;
	struct kinds *b[BUCKETS];
};

int kinds_encode(struct lc_buf *out, const char *key, const uint8_t *codes,
		 uint64_t rows, struct lc_err *err)
{
	size_t klen = strlen(key), start = out->len;
	uint8_t h[HDR_LEN], c[4];
	int rc;

	if (rows > MAX_ROWS || klen > UINT32_MAX)
		return LC_USAGE(err, "kinds: %" PRIu64 " rows", rows);
	memcpy(h, "lancefsK", 8);
	lc_put_le32(h + 8, KINDS_VERSION);
	lc_put_le32(h + 12, RENDER_SNIFF_N);
	lc_put_le64(h + 16, rows);
	lc_put_le32(h + 24, (uint32_t)klen);
	if ((rc = lc_buf_append(out, h, HDR_LEN, err)) ||
	    (rc = lc_buf_append(out, key, klen, err)) ||
	    (rc = lc_buf_append(out, codes, (size_t)rows, err)))
		return rc;
	lc_put_le32(c, lc_crc32(out->data + start, out->len - start));
	return lc_buf_append(out, c, 4, err);
}

int kinds_decode(const uint8_t *p, size_t n, const char *key, uint64_t rows,
		 uint8_t *codes)
{
	size_t klen = strlen(key);

	if (n < HDR_LEN + 4 || memcmp(p, "lancefsK", 8) ||
	    lc_le32(p + 8) != KINDS_VERSION ||
	    lc_le32(p + 12) != RENDER_SNIFF_N || lc_le64(p + 16) != rows ||
	    lc_le32(p + 24) != klen || rows > MAX_ROWS ||
	    n - HDR_LEN - 4 != klen + rows ||
	    memcmp(p + HDR_LEN, key, klen) ||
	    lc_le32(p + n - 4) != lc_crc32(p, n - 4))
		return EINVAL;
	p += HDR_LEN + klen;
	for (uint64_t i = 0; i < rows; i++)
		if (p[i] >= KIND_EXT0 + RENDER_SNIFF_N)
			return EINVAL;
	memcpy(codes, p, (size_t)rows);
	return 0;
}

static void file_name(char out[24], const char *key)
{
	snprintf(out, 24, "%016" PRIx64 ".k", lc_hash_str(key));
}

/* Fill `k` from its file, if there is a good one. */
static void load(struct kinds_table *t, struct kinds *k)
{
	size_t want = HDR_LEN + strlen(k->key) + (size_t)k->rows + 4, len;
	uint8_t *buf = NULL, *codes;
	char name[24];

	file_name(name, k->key);
	if (!t->dir || ostore_get(&buf, &len, t->dir, name, want, NULL))
		return;
	if ((codes = lc_malloc(k->rows + 1)) &&
	    !kinds_decode(buf, len, k->key, k->rows, codes)) {
		uint64_t known = 0;

		for (uint64_t i = 0; i < k->rows; i++) {
			atomic_store_explicit(&k->codes[i], codes[i],
					      memory_order_relaxed);
			known += codes[i] != KIND_UNKNOWN;
		}
		atomic_store(&k->known, known);
	}
	lc_free(codes);
	lc_free(buf);
}

/* Write `k` whole (the local store writes a temp file and renames it).
 * Failures (a full disk) only mean sniffing again later. */
static void save(struct kinds_table *t, struct kinds *k)
{
	struct lc_buf b;
	uint8_t *codes;
	char name[24];
	int rc;

	if (!t->dir || !(codes = lc_malloc(k->rows + 1)))
		return;
	for (uint64_t i = 0; i < k->rows; i++)
		codes[i] = atomic_load_explicit(&k->codes[i],
						memory_order_relaxed);
	lc_buf_init(&b, 0);
	file_name(name, k->key);
	rc = kinds_encode(&b, k->key, codes, k->rows, NULL);
	if (!rc)
		rc = ostore_put(t->dir, name, b.data, b.len, 0, NULL);
	(void)rc;
	lc_buf_reset(&b);
	lc_free(codes);
}

int kinds_open(struct kinds_table **out, const char *dir, const char *root,
	       struct lc_err *err)
{
	struct kinds_table *t = lc_calloc(1, sizeof(*t));

	*out = NULL;
	if (!t || !(t->root = lc_strdup(root))) {
		lc_free(t);
		return LC_NOMEM(err);
	}
	pthread_mutex_init(&t->mu, NULL);
	/* DIR/kinds, made if DIR is there; without it, memory only */
	if (dir) {
		char sub[4200];
		struct stat sb;

		snprintf(sub, sizeof(sub), "%s/kinds", dir);
		if (!stat(dir, &sb) && S_ISDIR(sb.st_mode) &&
		    (mkdir(sub, 0700) == 0 || errno == EEXIST) &&
		    ostore_local_new(&t->dir, sub, NULL))
			t->dir = NULL;
	}
	*out = t;
	return 0;
}

void kinds_free(struct kinds_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < BUCKETS; i++) {
		struct kinds *k = t->b[i], *next;

		for (; k; k = next) {
			next = k->next;
			if (atomic_exchange(&k->dirty, 0))
				save(t, k);
			lc_free(k->codes);
			lc_free(k->key);
			lc_free(k);
		}
	}
	ostore_free(t->dir);
	pthread_mutex_destroy(&t->mu);
	lc_free(t->root);
	lc_free(t);
}

struct kinds *kinds_get(struct kinds_table *t, const char *path,
			uint64_t size, int32_t field, uint64_t rows)
{
	struct kinds *k;
	size_t klen = strlen(t->root) + strlen(path) + 48;
	char *key = lc_malloc(klen);
	unsigned h;

	if (!key || rows > MAX_ROWS) {
		lc_free(key);
		return NULL;
	}
	snprintf(key, klen, "%s\n%s\n%" PRIu64 "\n%" PRId32, t->root, path,
		 size, field);
	h = (unsigned)(lc_hash_str(key) % BUCKETS);
	pthread_mutex_lock(&t->mu);
	for (k = t->b[h]; k; k = k->next)
		if (!strcmp(k->key, key))
			break;
	if (k) {
		pthread_mutex_unlock(&t->mu);
		lc_free(key);
		return k;
	}
	k = lc_calloc(1, sizeof(*k));
	if (k && !(k->codes = lc_calloc(rows + 1, 1))) {
		lc_free(k);
		k = NULL;
	}
	if (k) {
		k->key = key;
		k->rows = rows;
		/* one small local file, read under the lock so that a
		 * record is loaded once */
		load(t, k);
		k->next = t->b[h];
		t->b[h] = k;
	} else {
		lc_free(key);
	}
	pthread_mutex_unlock(&t->mu);
	return k;
}

unsigned kinds_at(const struct kinds *k, uint64_t row)
{
	if (row >= k->rows)
		return KIND_UNKNOWN;
	return atomic_load_explicit(&k->codes[row], memory_order_relaxed);
}

void kinds_set(struct kinds_table *t, struct kinds *k, uint64_t row,
	       unsigned kind)
{
	unsigned char was = KIND_UNKNOWN;

	if (row >= k->rows || kind == KIND_UNKNOWN ||
	    kind >= KIND_EXT0 + RENDER_SNIFF_N ||
	    !atomic_compare_exchange_strong(&k->codes[row], &was,
					    (unsigned char)kind))
		return;
	atomic_store(&k->dirty, 1);
	/* a big record is written as soon as it is whole; small ones (many
	 * small fragments) wait for unmount: no write per row in a walk */
	if (atomic_fetch_add(&k->known, 1) + 1 == k->rows &&
	    k->rows >= SAVE_WHOLE_ROWS && atomic_exchange(&k->dirty, 0))
		save(t, k);
}
