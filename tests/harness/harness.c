/* harness.c - runs the tests of one binary; see harness.h. */
#include "harness.h"

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
