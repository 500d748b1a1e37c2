/* fuzz_rowids.c - RowIdSequence and RowVersionSequence expansion. The
 * first two bytes are the row count the caller expects (little-endian);
 * the rest is the serialized sequence, given to both (a RowVersionSequence
 * is walked as runs). */
#include "lance_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_run(void *ctx, uint64_t version, uint64_t len,
		     struct lc_err *err)
{
	(void)ctx;
	(void)version;
	(void)len;
	(void)err;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lc_err err = { 0 };
	uint64_t *ids = NULL;
	int rc;

	if (size < 2)
		return 0;
	if (!lance_rowids_parse(&ids, lc_le16(data), data + 2, size - 2,
				&err))
		lc_free(ids);
	lc_err_clear(&err);
	rc = lance__row_versions_runs(data + 2, size - 2, lc_le16(data),
				      count_run, NULL, &err);
	(void)rc;
	return 0;
}
