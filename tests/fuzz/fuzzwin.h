/*
 * fuzzwin.h - window reads checked against full reads, for the fuzz
 * targets that open whole data files (datafile, v1).
 */
#ifndef FUZZWIN_H
#define FUZZWIN_H

#include <stdlib.h>
#include <string.h>

#include "lance_int.h"

/*
 * A window of row r, and where it and a full read of the row both
 * succeed, that they agree (the same validity, size and bytes). Returns
 * the value's size when the window was served, else 0.
 */
static uint64_t window(struct lance_file *f, const struct lance_field *fl,
		       uint64_t r, uint64_t off, size_t len)
{
	struct lc_err err = { 0 };
	struct lance_array a;
	uint8_t *buf = malloc(len ? len : 1);
	uint64_t size, vsize;
	size_t got, want;
	bool valid, v;
	int rc;

	rc = lance_file_read_window(buf, &got, &valid, &size, f, fl, r, off,
				    len, &err);
	if (rc == LANCE_WINDOW_DECODE && err.code)
		abort();	/* a decode answer leaves err alone */
	if (rc) {
		free(buf);
		return 0;
	}
	if (!lance_file_read(&a, f, fl, r, 1, &err)) {
		if (a.length != 1 || !a.offsets)
			abort();
		v = lance_array_is_valid(&a, 0);
		vsize = v ? a.offsets[1] - a.offsets[0] : 0;
		want = !v || off >= vsize ? 0 :
		       vsize - off < len ? (size_t)(vsize - off) : len;
		if (v != valid || vsize != size || got != want ||
		    (got && memcmp(buf, a.values + a.offsets[0] + off, got)))
			abort();
		lance_array_reset(&a);
	}
	free(buf);
	return size;
}

static void windows(struct lance_file *f, const struct lance_field *fl,
		    uint64_t r)
{
	uint64_t size = window(f, fl, r, 0, 64);

	if (size) {
		(void)window(f, fl, r, size - 1, 16);
		(void)window(f, fl, r, size / 2, 3);
		(void)window(f, fl, r, size, 4);
	}
}

#endif
