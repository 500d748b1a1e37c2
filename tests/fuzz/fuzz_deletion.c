/* fuzz_deletion.c - the two deletion-file parsers. The first byte picks
 * the format (even: Arrow IPC, odd: roaring bitmap); the rest is the
 * file. */
#include "lance.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lance_deletion d;
	struct lc_err err = { 0 };
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		rc = lance_deletion_parse_bitmap(&d, data + 1, size - 1, &err);
	else
		rc = lance_deletion_parse_arrow(&d, data + 1, size - 1, &err);
	if (!rc) {
		for (size_t i = 1; i < d.n; i++)
			if (d.offsets[i] <= d.offsets[i - 1])
				__builtin_trap();	/* must be sorted */
		if (d.n && !lance_deletion_contains(&d, d.offsets[d.n / 2]))
			__builtin_trap();
		lance_deletion_reset(&d);
	}
	return 0;
}
