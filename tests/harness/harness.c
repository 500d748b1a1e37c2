/* harness.c - runs the tests of one binary; see harness.h. */
#include "harness.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

int harness_failed;

int harness_main(int argc, char **argv)
{
	int ran = 0, failed = 0;

	for (struct test_case *t = harness_tests; t->name; t++) {
		if (argc > 1 && strcmp(argv[1], t->name))
			continue;
		harness_failed = 0;
		t->fn();
		ran++;
		if (harness_failed) {
			failed++;
			fprintf(stderr, "FAIL %s\n", t->name);
		}
	}
	if (!ran) {
		fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
		return 1;
	}
	return failed ? 1 : 0;
}

static int rm_one(const char *path, const struct stat *sb, int type,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		fprintf(stderr, "could not remove %s\n", path);
	return 0;
}

void harness_rm_rf(const char *dir)
{
	(void)nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

void harness_put_file(const char *dir, const char *name, const void *p,
		      size_t n)
{
	char path[4400];
	FILE *f;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "cannot write %s\n", path);
		return;
	}
	if (n && fwrite(p, 1, n, f) != n)
		fprintf(stderr, "short write %s\n", path);
	fclose(f);
}
