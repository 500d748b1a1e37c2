/* fuzz_imgcheck.c - the -o validate_images check over untrusted image
 * bytes. The first byte picks the extension the file is named with (jpg,
 * png, bin, none), so both the magic and the extension paths are taken;
 * the rest is the file. Inputs whose JPEG header claims more than 4M
 * pixels are skipped, as libjpeg-turbo's own fuzzers skip them: a
 * progressive image makes libjpeg allocate for every pixel, which is
 * slow here and proves nothing about our code. */
#include <stdbool.h>

#include <turbojpeg.h>

#include "imgcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool too_large(const uint8_t *p, size_t n)
{
	int w = 0, h = 0, subsamp, cs;
	tjhandle tj = tjInitDecompress();
	bool big = false;

	if (!tj)
		return true;
	if (tjDecompressHeader3(tj, p, (unsigned long)n, &w, &h, &subsamp,
				&cs) == 0)
		big = (uint64_t)w * (uint64_t)h > (4u << 20);
	tjDestroy(tj);
	return big;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const exts[] = { "jpg", "png", "bin", NULL };
	struct lc_err err = { 0 };
	int rc;

	if (size < 1)
		return 0;
	if (size > 1 && too_large(data + 1, size - 1))
		return 0;
	rc = imgcheck(size > 1 ? data + 1 : NULL, size - 1, exts[data[0] & 3],
		      &err);
	/* a failure is a refusal with a reason, or a failed allocation */
	if (rc && !(rc == EINVAL && err.kind == LC_EK_USAGE && err.msg[0]) &&
	    rc != ENOMEM)
		__builtin_trap();
	if (!rc && err.code)
		__builtin_trap();
	return 0;
}
