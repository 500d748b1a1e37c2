/*
 * bench_read.c - reads every image of a dataset through the view (the code
 * `lancefs cat` and the mount share, in-process, no fork per file) and
 * the same bytes from plain files, and prints the throughput ratio.
 *
 *   bench_read --export DATASET DIR   write the row files out as plain files
 *   bench_read DATASET DIR            time both, warm (each read twice)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "view.h"

struct walk {
	struct view *v;
	const char *dir;
	int export;
	uint64_t files, bytes;
	struct lc_err *err;
	char row[1024];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int file_cb(void *ctx, uint64_t index, const char *name,
		   const struct vnode *node)
{
	struct walk *w = ctx;
	struct lc_buf b;
	int rc;

	(void)index;
	if (!strcmp(name, "meta.json"))
		return 0;
	lc_buf_init(&b, 0);
	rc = view_read_file(&b, w->v, node, w->err);
	if (!rc && w->export) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", w->dir, w->row);
		mkdir(path, 0777);
		snprintf(path, sizeof(path), "%s/%s/%s", w->dir, w->row, name);
		f = fopen(path, "wb");
		if (!f || fwrite(b.data, 1, b.len, f) != b.len)
			rc = LC_SYS(w->err, EIO, "%s: write failed", path);
		if (f)
			fclose(f);
	}
	w->files++;
	w->bytes += b.len;
	lc_buf_reset(&b);
	return rc;
}

static int row_cb(void *ctx, uint64_t index, const char *name,
		  const struct vnode *node)
{
	struct walk *w = ctx;

	(void)index;
	snprintf(w->row, sizeof(w->row), "%s", name);
	return view_readdir(w->v, node, 0, file_cb, w, w->err);
}

static int walk_view(struct walk *w)
{
	struct vnode root;
	int rc = view_root(&root, w->v, w->err);

	if (!rc)
		rc = view_readdir(w->v, &root, 0, row_cb, w, w->err);
	vnode_reset(&root);
	return rc;
}

/* Read every file under dir/<row>/ as a dataloader would. */
static int walk_plain(const char *dir, uint64_t *files, uint64_t *bytes)
{
	char cmd[4200], path[4096];
	FILE *list;
	static char buf[1 << 20];

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | sort", dir);
	list = popen(cmd, "r");
	if (!list)
		return EIO;
	while (fgets(path, sizeof(path), list)) {
		int fd;
		ssize_t n;

		path[strcspn(path, "\n")] = 0;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			*bytes += (uint64_t)n;
		close(fd);
		(*files)++;
	}
	pclose(list);
	return 0;
}

int main(int argc, char **argv)
{
	struct lc_err err = { 0 };
	struct walk w = { .err = &err };
	int export = argc == 4 && !strcmp(argv[1], "--export");
	const char *ds, *dir;
	double t0, tv = 0, tp = 0;
	uint64_t pf = 0, pb = 0;

	if (argc != 3 && !export) {
		fprintf(stderr, "usage: bench_read [--export] DATASET DIR\n");
		return 1;
	}
	ds = argv[argc - 2];
	dir = argv[argc - 1];
	if (view_open(&w.v, ds, NULL, &err)) {
		fprintf(stderr, "bench_read: %s\n", err.msg);
		return 2;
	}
	w.dir = dir;
	w.export = export;
	for (int pass = 0; pass < (export ? 1 : 2); pass++) {
		w.files = w.bytes = 0;
		t0 = now();
		if (walk_view(&w)) {
			fprintf(stderr, "bench_read: %s\n", err.msg);
			return 2;
		}
		tv = now() - t0;
		if (export)
			break;
		pf = pb = 0;
		t0 = now();
		walk_plain(dir, &pf, &pb);
		tp = now() - t0;
	}
	view_free(w.v);
	if (export) {
		printf("exported %" PRIu64 " files, %" PRIu64 " bytes\n",
		       w.files, w.bytes);
		return 0;
	}
	if (pf != w.files || pb != w.bytes) {
		fprintf(stderr, "bench_read: view has %" PRIu64 " files/%" PRIu64
			" bytes, plain tree %" PRIu64 "/%" PRIu64 "\n",
			w.files, w.bytes, pf, pb);
		return 2;
	}
	printf("files %" PRIu64 ", bytes %" PRIu64 "\n", w.files, w.bytes);
	printf("view (lancefs cat logic) %.3f s  %.1f MB/s  %.0f files/s\n",
	       tv, w.bytes / tv / 1e6, w.files / tv);
	printf("plain files on disk      %.3f s  %.1f MB/s  %.0f files/s\n",
	       tp, pb / tp / 1e6, pf / tp);
	printf("ratio view/plain (throughput): %.2f\n", tp / tv);
	return 0;
}
