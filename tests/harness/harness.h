/*
 * harness.h - a tiny test harness. Each test binary lists its tests with
 * TEST(name) and ends with TEST_MAIN(); `prog name` runs one test, `prog`
 * runs all. CTest registers one entry per test (see tests/CMakeLists.txt).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern struct test_case harness_tests[];
extern int harness_failed;

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name) { #name, test_##name }

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                 \
	do {                                                               \
		unsigned long long a_ = (unsigned long long)(a);           \
		unsigned long long b_ = (unsigned long long)(b);           \
		if (a_ != b_) {                                            \
			fprintf(stderr, "%s:%d: %s == %llu, expected %llu\n", \
				__FILE__, __LINE__, #a, a_, b_);           \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *a_ = (a), *b_ = (b);                           \
		if (!a_ || !b_ || strcmp(a_, b_)) {                        \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, a_ ? a_ : "(null)", \
				b_ ? b_ : "(null)");                       \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

/* An error-returning call that must succeed; prints the lc_err. */
#define CHECK_OK(call, errp)                                               \
	do {                                                               \
		int rc_ = (call);                                          \
		if (rc_) {                                                 \
			fprintf(stderr, "%s:%d: %s failed (%d): %s\n",     \
				__FILE__, __LINE__, #call, rc_,            \
				(errp)->msg);                              \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

int harness_main(int argc, char **argv);

/* Files for tests: remove a tree (errors printed, not fatal); write a
 * file DIR/NAME, making DIR (one level) if need be. */
void harness_rm_rf(const char *dir);
void harness_put_file(const char *dir, const char *name, const void *p,
		      size_t n);

#define TEST_MAIN(...)                                                     \
	struct test_case harness_tests[] = { __VA_ARGS__, { NULL, NULL } }; \
	int main(int argc, char **argv)                                    \
	{                                                                  \
		return harness_main(argc, argv);                           \
	}

#endif
