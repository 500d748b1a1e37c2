/* v1.c - decoder for legacy v1 files (footer 0.0-0.2): placeholder until it lands. */
#include "lance_int.h"

int lance__v1_open(struct lance_file *f, const uint8_t *tail,
		   size_t tail_len, struct lc_err *err)
{
	(void)tail;
	(void)tail_len;
	return LC_UNSUPPORTED(err, "%s: legacy v1 files are not readable yet",
			      f->path);
}

int lance__v1_read(struct lance_array *out, struct lance_file *f,
		   const struct lance_field *field, uint64_t row, uint64_t n,
		   struct lc_err *err)
{
	(void)out, (void)field, (void)row, (void)n;
	return LC_UNSUPPORTED(err, "%s: v1 decoding", f->path);
}

int lance__v1_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	return lance__sizes_by_decode(sizes, valid, f, field, row, n, err);
}
