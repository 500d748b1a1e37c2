/*
 * test_sweep.c - small, odd datasets from the differential sweep
 * (tests/data/v21/sweep.js, SAVE=...), kept where lancefs once disagreed
 * with LanceDB: every row's meta.json and binary files, read through the
 * view as `lancefs cat` does, must equal the verified output in
 * tests/data/sweep/<name>.expect.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lance.h"
#include "view.h"

static char sweep_dir[1024];

static const char *data_dir(void)
{
	const char *p = __FILE__, *s = strstr(p, "tests/unit/");

	if (!sweep_dir[0])
		snprintf(sweep_dir, sizeof(sweep_dir), "%.*stests/data/sweep",
			 (int)(s - p), p);
	return sweep_dir;
}

struct names {
	char **v;
	struct vnode *n;
	size_t len;
};

static int collect(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct names *nm = ctx;

	(void)index;
	nm->v = realloc(nm->v, (nm->len + 1) * sizeof(*nm->v));
	nm->n = realloc(nm->n, (nm->len + 1) * sizeof(*nm->n));
	nm->v[nm->len] = strdup(name);
	vnode_copy(&nm->n[nm->len], node);
	nm->len++;
	return 0;
}

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->len; i++) {
		free(nm->v[i]);
		vnode_reset(&nm->n[i]);
	}
	free(nm->v);
	free(nm->n);
	memset(nm, 0, sizeof(*nm));
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void put(char **s, size_t *len, const void *p, size_t n)
{
	*s = realloc(*s, *len + n + 1);
	memcpy(*s + *len, p, n);
	*len += n;
	(*s)[*len] = 0;
}

/* The .expect text of one dataset, or NULL with a message. */
static char *render(const char *ds)
{
	struct view_opts o = { 0 };
	struct lc_err err = { 0 };
	struct view *v = NULL;
	struct vnode root;
	struct names rows = { 0 };
	char *out = NULL, line[512];
	size_t len = 0;

	put(&out, &len, "", 0);
	if (view_open(&v, ds, &o, &err) || view_root(&root, v, &err) ||
	    view_readdir(v, &root, 0, collect, &rows, &err)) {
		fprintf(stderr, "%s: %s\n", ds, err.msg);
		free(out);
		view_free(v);
		return NULL;
	}
	vnode_reset(&root);
	for (size_t r = 0; r < rows.len; r++) {
		struct names files = { 0 };
		struct lc_buf meta;

		snprintf(line, sizeof(line), "ROW %s\n", rows.v[r]);
		put(&out, &len, line, strlen(line));
		lc_buf_init(&meta, 0);
		if (view_readdir(v, &rows.n[r], 0, collect, &files, &err)) {
			fprintf(stderr, "%s row %s: %s\n", ds, rows.v[r],
				err.msg);
			goto fail;
		}
		/* meta.json first, then the files by name */
		for (size_t i = 0; i < files.len; i++)
			if (!strcmp(files.v[i], "meta.json") &&
			    view_read_file(&meta, v, &files.n[i], &err)) {
				fprintf(stderr, "%s row %s: %s\n", ds,
					rows.v[r], err.msg);
				lc_buf_reset(&meta);
				names_free(&files);
				goto fail;
			}
		put(&out, &len, meta.data, meta.len);
		lc_buf_reset(&meta);
		for (size_t i = 0; i < files.len; i++) {
			size_t best = files.len;

			for (size_t k = 0; k < files.len; k++)
				if (files.v[k] && strcmp(files.v[k],
							 "meta.json") &&
				    (best == files.len ||
				     strcmp(files.v[k], files.v[best]) < 0))
					best = k;
			if (best == files.len)
				break;
			lc_buf_init(&meta, 0);
			if (view_read_file(&meta, v, &files.n[best], &err)) {
				fprintf(stderr, "%s row %s %s: %s\n", ds,
					rows.v[r], files.v[best], err.msg);
				lc_buf_reset(&meta);
				names_free(&files);
				goto fail;
			}
			snprintf(line, sizeof(line), "FILE %s %zu %016llx\n",
				 files.v[best], meta.len,
				 (unsigned long long)fnv(meta.data,
							 meta.len));
			put(&out, &len, line, strlen(line));
			lc_buf_reset(&meta);
			free(files.v[best]);
			files.v[best] = NULL;
		}
		names_free(&files);
	}
	names_free(&rows);
	view_free(v);
	return out;
fail:
	names_free(&rows);
	view_free(v);
	free(out);
	return NULL;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t len = 0, n;
	char buf[4096];

	if (!f)
		return NULL;
	put(&s, &len, "", 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		put(&s, &len, buf, n);
	fclose(f);
	return s;
}

TEST(sweep_fixtures)
{
	DIR *d = opendir(data_dir());
	struct dirent *e;
	int seen = 0, bad = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[1400], ds[1400];
		char *want, *got;

		if (n < 8 || strcmp(e->d_name + n - 7, ".expect"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", data_dir(), e->d_name);
		snprintf(ds, sizeof(ds), "%s/%.*s.lance", data_dir(),
			 (int)(n - 7), e->d_name);
		want = slurp(path);
		got = render(ds);
		seen++;
		if (!want || !got || strcmp(want, got)) {
			size_t i = 0;

			while (want && got && want[i] && want[i] == got[i])
				i++;
			fprintf(stderr, "%s: differs at byte %zu: got "
				"\"%.120s\"\n", e->d_name, i,
				got ? got + (i > 40 ? i - 40 : 0) : "(error)");
			bad++;
		}
		free(want);
		free(got);
	}
	closedir(d);
	CHECK(seen > 0);
	CHECK(bad == 0);
}

TEST_MAIN(TEST_ENTRY(sweep_fixtures))
