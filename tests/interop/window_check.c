/*
 * window_check.c - window reads (lance_snapshot_read_window) against the
 * full reads (lance_snapshot_read) of the same rows, over every dataset
 * the interop fixtures hold (LanceDB-made: legacy, 2.0, 2.1, 2.2, blobs,
 * nulls, empty and big values).
 *
 *   window_check DATA      DATA = build/tests/interop/data
 *
 * For every top-level binary, string and blob field of the latest
 * version, a sample of live rows (the first and last, evenly spaced ones,
 * the first null, the first empty value and the biggest) is read whole,
 * then through windows at 0, 1, 4096, size - 1, size, size + 5, the
 * middle 128 KiB and the whole value; each window must be that slice of
 * the whole value, or LANCE_WINDOW_DECODE. The store counts bytes read: a
 * small window of a big value must cost less than the value. Versions
 * and encodings that store these values plainly must never decode:
 * legacy and 2.0 binary and blob fields, blob fields of every version;
 * and the first 32 bytes and the size (a zero-length window) of any
 * binary value of 256 bytes or more (never in a mini-block: plain or zstd
 * full-zip) must not decode either. Prints
 * one line per field: rows sampled, windows served, windows that decode.
 * Exit status 1 on any mismatch.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "countstore.h"
#include "lance.h"

#define WIN 131072u
#define MAX_SAMPLE 160

static int failures;

#define FAIL(...)                                                          \
	do {                                                               \
		fprintf(stderr, "FAIL ");                                  \
		fprintf(stderr, __VA_ARGS__);                              \
		fprintf(stderr, "\n");                                     \
		failures++;                                                \
	} while (0)

struct tally {
	unsigned rows, served, decoded, cheap;
	uint64_t max_size;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir that start with `prefix` and end with `suffix`. */
static char **list_dir(const char *dir, const char *prefix,
		       const char *suffix, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);

		if (strncmp(e->d_name, prefix, strlen(prefix)) || l < sl ||
		    strcmp(e->d_name + l - sl, suffix))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			v = realloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Must the field's values never decode? */
static bool must_window(const char *ver, const struct lance_field *f)
{
	if (f->blob != LANCE_BLOB_NONE)
		return true;
	return f->type.id == LANCE_T_BINARY &&
	       (!strcmp(ver, "v_legacy") || !strcmp(ver, "v_2.0"));
}

/* Compare one window of a row with its whole value. */
static void check_window(struct tally *t, struct ostore *st,
			 struct lance_snapshot *s, const char *where,
			 const struct lance_field *f,
			 const struct lance_row_ref *r, bool valid,
			 const uint8_t *val, uint64_t size, uint64_t off,
			 size_t len, bool must)
{
	struct lc_err err = { 0 };
	uint8_t *buf = malloc(len ? len : 1);
	uint64_t before = count_store_bytes(st), wsize, cost;
	size_t got, want;
	bool wvalid;
	int rc;

	rc = lance_snapshot_read_window(buf, &got, &wvalid, &wsize, s,
					r->frag, f, r->offset, off, len, &err);
	cost = count_store_bytes(st) - before;
	if (rc == LANCE_WINDOW_DECODE) {
		t->decoded++;
		if (must)
			FAIL("%s row %llu: window %llu+%zu decodes", where,
			     (unsigned long long)r->number,
			     (unsigned long long)off, len);
		if (err.code)
			FAIL("%s row %llu: a decode answer set an error: %s",
			     where, (unsigned long long)r->number, err.msg);
		goto out;
	}
	if (rc) {
		FAIL("%s row %llu: window %llu+%zu: %s", where,
		     (unsigned long long)r->number, (unsigned long long)off,
		     len, err.msg);
		goto out;
	}
	t->served++;
	want = !valid || off >= size ? 0 :
	       size - off < len ? (size_t)(size - off) : len;
	if (wvalid != valid || wsize != (valid ? size : 0) || got != want ||
	    (got && memcmp(buf, val + off, got))) {
		FAIL("%s row %llu: window %llu+%zu gave valid %d size %llu "
		     "got %zu; the value is valid %d size %llu%s", where,
		     (unsigned long long)r->number, (unsigned long long)off,
		     len, wvalid, (unsigned long long)wsize, got, valid,
		     (unsigned long long)size,
		     got == want ? " (bytes differ)" : "");
		goto out;
	}
	/* a window much smaller than the value reads less than the value
	 * (a few offsets or a descriptor, then the window) */
	if (valid && size >= 1024 && (uint64_t)got * 4 <= size) {
		if (cost >= size)
			FAIL("%s row %llu: window %llu+%zu of a %llu-byte "
			     "value read %llu bytes", where,
			     (unsigned long long)r->number,
			     (unsigned long long)off, len,
			     (unsigned long long)size,
			     (unsigned long long)cost);
		else
			t->cheap++;
	}
out:
	free(buf);
}

static void check_row(struct tally *t, struct ostore *st,
		      struct lance_snapshot *s, const char *where,
		      const struct lance_field *f,
		      const struct lance_row_ref *r, bool must)
{
	struct lc_err err = { 0 };
	struct lance_array a;
	const uint8_t *val;
	uint64_t size, mid;
	bool valid;

	if (lance_snapshot_read(&a, s, r->frag, f, r->offset, 1, &err)) {
		FAIL("%s row %llu: full read: %s", where,
		     (unsigned long long)r->number, err.msg);
		return;
	}
	valid = lance_array_is_valid(&a, 0);
	size = valid ? a.offsets[1] - a.offsets[0] : 0;
	val = valid ? a.values + a.offsets[0] : NULL;
	t->rows++;
	if (size > t->max_size)
		t->max_size = size;
	mid = size > WIN ? size / 2 - WIN / 2 : 0;
	/* a file's type is sniffed from its first bytes: binary values
	 * too big for mini-blocks are plain or zstd, both windowed there */
	check_window(t, st, s, where, f, r, valid, val, size, 0, 32,
		     must || (f->type.id == LANCE_T_BINARY && size >= 256));
	/* and its size (a stat) from a zero-length window, just as cheaply */
	check_window(t, st, s, where, f, r, valid, val, size, 0, 0,
		     must || (f->type.id == LANCE_T_BINARY && size >= 256));
	check_window(t, st, s, where, f, r, valid, val, size, 4096, 16384,
		     must);
	check_window(t, st, s, where, f, r, valid, val, size, 0, WIN, must);
	check_window(t, st, s, where, f, r, valid, val, size, 1, WIN, must);
	if (size)
		check_window(t, st, s, where, f, r, valid, val, size,
			     size - 1, WIN, must);
	check_window(t, st, s, where, f, r, valid, val, size, size, WIN,
		     must);
	check_window(t, st, s, where, f, r, valid, val, size, size + 5, 7,
		     must);
	check_window(t, st, s, where, f, r, valid, val, size, mid, WIN, must);
	check_window(t, st, s, where, f, r, valid, val, size, 0,
		     (size_t)size + 3, must);
	lance_array_reset(&a);
}

static bool wanted(const struct lance_field *f)
{
	return !f->parent && (f->blob != LANCE_BLOB_NONE ||
			      f->type.id == LANCE_T_BINARY ||
			      f->type.id == LANCE_T_UTF8);
}

/* Live-row indexes to check: ends, evenly spaced, the first null, the
 * first empty value and the biggest. */
static size_t pick_rows(uint64_t *pick, struct lance_snapshot *s,
			const struct lance_field *f, const char *where)
{
	uint64_t n = lance_snapshot_num_rows(s), best = 0, best_size = 0;
	uint64_t first_null = UINT64_MAX, first_empty = UINT64_MAX;
	size_t k = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct lance_row_ref r;
		struct lc_err err = { 0 };
		uint64_t size;
		bool valid;

		if (lance_snapshot_row_at(&r, s, i, &err) ||
		    lance_snapshot_value_sizes(&size, &valid, s, r.frag, f,
					       r.offset, 1, &err)) {
			FAIL("%s: size of live row %llu: %s", where,
			     (unsigned long long)i, err.msg);
			return 0;
		}
		if (!valid && first_null == UINT64_MAX)
			first_null = i;
		if (valid && !size && first_empty == UINT64_MAX)
			first_empty = i;
		if (valid && size > best_size) {
			best = i;
			best_size = size;
		}
	}
	for (uint64_t i = 0; i < n && k < MAX_SAMPLE - 8; i++)
		if (i < 12 || i + 4 >= n || i % (n / 120 + 1) == 0)
			pick[k++] = i;
	if (first_null != UINT64_MAX)
		pick[k++] = first_null;
	if (first_empty != UINT64_MAX)
		pick[k++] = first_empty;
	if (n)
		pick[k++] = best;
	return k;
}

static void check_dataset(const char *data, const char *ver,
			  const char *name)
{
	char path[2048], where[512];
	struct lc_err err = { 0 };
	struct ostore *local, *st;
	struct lance_snapshot *s;
	const struct lance_schema *sc;
	uint64_t pick[MAX_SAMPLE];

	snprintf(path, sizeof(path), "%s/%s/%s", data, ver, name);
	if (ostore_open_uri(&local, path, NULL, &err) ||
	    count_store_new(&st, local, &err)) {
		FAIL("%s: %s", path, err.msg);
		return;
	}
	if (lance_snapshot_open(&s, st, 0, &err)) {
		/* the fixtures hold refusals too: LanceDB made no dataset */
		if (err.kind != LC_EK_NOTFOUND)
			FAIL("%s: %s", path, err.msg);
		ostore_free(st);
		return;
	}
	sc = &lance_snapshot_manifest(s)->schema;
	for (size_t i = 0; i < sc->n_top; i++) {
		const struct lance_field *f = sc->top[i];
		bool must = must_window(ver, f);
		struct tally t = { 0 };
		size_t k;

		if (!wanted(f))
			continue;
		snprintf(where, sizeof(where), "%s/%s %s", ver, name,
			 f->name);
		k = pick_rows(pick, s, f, where);
		for (size_t j = 0; j < k; j++) {
			struct lance_row_ref r;

			if (lance_snapshot_row_at(&r, s, pick[j], &err)) {
				FAIL("%s: %s", where, err.msg);
				break;
			}
			check_row(&t, st, s, where, f, &r, must);
		}
		printf("%-40s %4u rows, %5u windows served, %5u decode, "
		       "%3u cheap (biggest %llu bytes)%s\n", where, t.rows,
		       t.served, t.decoded, t.cheap,
		       (unsigned long long)t.max_size,
		       must ? " [must window]" : "");
	}
	lance_snapshot_free(s);
	ostore_free(st);
}

int main(int argc, char **argv)
{
	char **vers, **sets;
	size_t nv, ns;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DATA\n", argv[0]);
		return 2;
	}
	vers = list_dir(argv[1], "v_", "", &nv);
	if (!nv) {
		fprintf(stderr, "%s: no v_* folders (make the interop "
			"fixtures first)\n", argv[1]);
		return 1;
	}
	for (size_t v = 0; v < nv; v++) {
		char dir[2048];

		snprintf(dir, sizeof(dir), "%s/%s", argv[1], vers[v]);
		sets = list_dir(dir, "", ".lance", &ns);
		for (size_t i = 0; i < ns; i++)
			check_dataset(argv[1], vers[v], sets[i]);
		free_list(sets, ns);
	}
	free_list(vers, nv);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	else
		printf("window reads agree with full reads\n");
	return failures ? 1 : 0;
}
