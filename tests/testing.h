/*
 * A single-header test runner for podprof's C tests.
 *
 * TEST(name) { ... } registers a test; CHECK* macros record a failure with its place
 * and leave the current test function. main() is provided: it runs every test (or the
 * ones named on the command line), prints one line per test and a summary, and exits
 * non-zero when any test failed. Include it in exactly one .c file per executable.
 *
 * Nothing a test starts may send a packet off the machine: as root, main() first moves
 * the test program into a network namespace of its own where only loopback exists (every
 * child, podprof and the fake servers included, inherits it), so an address outside
 * 127.0.0.0/8 (or ::1) is unreachable. The kernel counts every such attempt
 * (OutNoRoutes, IPv4 and IPv6); a test during which the count grows fails, naming how
 * many packets tried to leave. PODPROF_TEST_HOST_NETWORK=1 turns this off.
 */
#ifndef PODPROF_TESTING_H
#define PODPROF_TESTING_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*test_fn)(void);

struct test_case {
	const char *name;
	test_fn fn;
};

static struct test_case test_cases[256];
static int test_ncases;
static int test_failed_flag;

static inline void test_register(const char *name, test_fn fn)
{
	if (test_ncases == (int)(sizeof(test_cases) / sizeof(test_cases[0]))) {
		fprintf(stderr, "testing.h: too many tests\n");
		abort();
	}
	test_cases[test_ncases].name = name;
	test_cases[test_ncases].fn = fn;
	test_ncases++;
}

#define TEST(name)                                                               \
	static void name(void);                                                  \
	__attribute__((constructor)) static void test_reg_##name(void)           \
	{                                                                        \
		test_register(#name, name);                                      \
	}                                                                        \
	static void name(void)

static inline void test_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
	test_failed_flag = 1;
}

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			test_fail(__FILE__, __LINE__, #cond);                    \
			return;                                                  \
		}                                                                \
	} while (0)

#define CHECK_MSG(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond)) {                                                   \
			test_fail(__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, "    ");                                 \
			fprintf(stderr, __VA_ARGS__);                            \
			fprintf(stderr, "\n");                                   \
			return;                                                  \
		}                                                                \
	} while (0)

#define CHECK_INT(a, op, b)                                                      \
	do {                                                                     \
		long long test_a_ = (long long)(a), test_b_ = (long long)(b);    \
		if (!(test_a_ op test_b_)) {                                     \
			test_fail(__FILE__, __LINE__, #a " " #op " " #b);        \
			fprintf(stderr, "    left: %lld, right: %lld\n", test_a_, \
				test_b_);                                        \
			return;                                                  \
		}                                                                \
	} while (0)

#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *test_sa_ = (a), *test_sb_ = (b);                     \
		if (!test_sa_ || !test_sb_ || strcmp(test_sa_, test_sb_) != 0) { \
			test_fail(__FILE__, __LINE__, #a " == " #b);             \
			fprintf(stderr, "    left: \"%s\", right: \"%s\"\n",     \
				test_sa_ ? test_sa_ : "(null)",                  \
				test_sb_ ? test_sb_ : "(null)");                 \
			return;                                                  \
		}                                                                \
	} while (0)

/* Marks a test as skipped (a precondition of the machine is missing), with a reason. */
#define SKIP(...)                                                                \
	do {                                                                     \
		fprintf(stderr, "  skipped: ");                                  \
		fprintf(stderr, __VA_ARGS__);                                    \
		fprintf(stderr, "\n");                                           \
		return;                                                          \
	} while (0)

/* In support.c: the network namespace of a test program (see the top of this file). */
int test_net_isolate(void);
long long test_net_no_routes(void);

int main(int argc, char **argv)
{
	int failed = 0, ran = 0, isolated;

	setvbuf(stdout, NULL, _IONBF, 0);
	isolated = test_net_isolate();
	for (int i = 0; i < test_ncases; i++) {
		struct timespec t0, t1;
		int selected = argc < 2;

		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], test_cases[i].name) == 0)
				selected = 1;
		if (!selected)
			continue;
		long long escapes = isolated ? test_net_no_routes() : 0;

		test_failed_flag = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		test_cases[i].fn();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (isolated && (escapes = test_net_no_routes() - escapes) > 0) {
			fprintf(stderr, "  %lld packets were sent to addresses outside 127.0.0.0/8 "
					"and ::1 during this test (refused: only loopback exists here)\n",
				escapes);
			test_failed_flag = 1;
		}
		ran++;
		if (test_failed_flag)
			failed++;
		printf("%s %s (%.3f s)\n", test_failed_flag ? "FAIL" : "ok  ", test_cases[i].name,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	printf("%d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}

#endif
