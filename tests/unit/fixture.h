/*
 * fixture.h - helpers shared by the format unit tests: where the LanceDB
 * fixtures live and how to slurp one.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tests/data, found from this header's own path (CMake compiles with
 * absolute source paths). */
static inline const char *fixture_dir(void)
{
	static char dir[4096];

	if (!dir[0]) {
		const char *f = __FILE__;
		const char *slash = strrchr(f, '/');
		int n = slash ? (int)(slash - f) : 1;

		snprintf(dir, sizeof(dir), "%.*s/../data", n > 3000 ? 3000 : n,
			 slash ? f : ".");
	}
	return dir;
}

/* Read tests/data/<rel> into a tightly sized buffer; NULL on failure. */
static inline uint8_t *fixture_read(const char *rel, size_t *len)
{
	char path[4096];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%.3000s/%.1000s", fixture_dir(),
		 rel);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline char *fixture_path(const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%.3000s/%.1000s", fixture_dir(),
		 rel);
	return path;
}

/* Copy what tests/data/<rel> holds into folder `dest` (made if missing);
 * 0 on success. */
static inline int fixture_copy(const char *rel, const char *dest)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%.3000s' && cp -r '%.4000s/.' "
		 "'%.1000s/'", dest, fixture_path(rel), dest);
	return system(cmd) ? -1 : 0;
}

#endif
