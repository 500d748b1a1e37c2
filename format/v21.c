/* v21.c - decoder for 2.1+ structural files: placeholder until it lands. */
#include "lance_int.h"

int lance__v21_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	(void)out, (void)field, (void)row, (void)n;
	return LC_UNSUPPORTED(err, "%s: 2.1+ decoding", f->path);
}

int lance__v21_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		     const struct lance_field *field, uint64_t row, uint64_t n,
		     struct lc_err *err)
{
	return lance__sizes_by_decode(sizes, valid, f, field, row, n, err);
}
