/* fuzz_rowids.c - RowIdSequence and RowVersionSequence expansion. The
 * first two bytes are the row count the caller expects (little-endian);
 * the rest is the serialized sequence, given to both parsers. */
#include "lance.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lc_err err = { 0 };
	uint64_t *ids = NULL;

	if (size < 2)
		return 0;
	if (!lance_rowids_parse(&ids, lc_le16(data), data + 2, size - 2,
				&err))
		lc_free(ids);
	lc_err_clear(&err);
	if (!lance_row_versions_parse(&ids, lc_le16(data), data + 2,
				      size - 2, &err))
		lc_free(ids);
	return 0;
}
