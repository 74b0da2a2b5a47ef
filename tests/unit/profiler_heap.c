/*
 * Unit tests of the node side's alloc baseline: it gives each bucket of a walk its
 * previous counts: nothing for new buckets, the counts of the previous walk for the
 * others, and no delta for buckets whose past it does not know.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbase.h"
#include "testing.h"

/* One walk of addrs with counts (allocs, bytes) against the baseline; the previous
 * counts each bucket got go to prev. */
static int pass(struct alloc_baseline *base, const uint64_t *addrs, size_t n,
		const uint64_t (*now)[2], uint64_t (*prev)[2])
{
	struct alloc_pass ps;

	alloc_pass_begin(&ps, base);
	for (size_t i = 0; i < n; i++) {
		if (alloc_pass_step(&ps, addrs[i], now[i], prev[i])) {
			alloc_pass_discard(&ps);
			return -1;
		}
	}
	return alloc_pass_end(&ps, base);
}

TEST(the_alloc_baseline_follows_the_list_as_it_grows)
{
	struct alloc_baseline base = {0};
	uint64_t prev[8][2];
	const uint64_t A = 0xc000100000, B = 0xc000100200, C = 0xc000100100, D = 0xc000200000,
		       E = 0xc000200100, F = 0xc000000040, X = 0xc000300000;

	/* the first walk: everything is new */
	{
		const uint64_t l[3] = {A, B, C}, now[3][2] = {{1, 10}, {2, 20}, {3, 30}};
		CHECK_EQ(pass(&base, l, 3, now, prev), 0);
		for (int i = 0; i < 3; i++)
			CHECK(prev[i][0] == 0 && prev[i][1] == 0);
		CHECK_EQ(base.n, 3);
	}
	/* a new bucket at the head; the others as before, B's counts lagging */
	{
		const uint64_t l[4] = {D, A, B, C}, now[4][2] = {{5, 50}, {4, 40}, {1, 10}, {3, 31}};
		CHECK_EQ(pass(&base, l, 4, now, prev), 0);
		CHECK(prev[0][0] == 0 && prev[0][1] == 0);
		CHECK(prev[1][0] == 1 && prev[1][1] == 10);
		CHECK(prev[2][0] == 2 && prev[2][1] == 20);
		CHECK(prev[3][0] == 3 && prev[3][1] == 30);
	}
	/* stopped at a bound of 2: the new head and D */
	{
		const uint64_t l[2] = {E, D}, now[2][2] = {{1, 1}, {6, 60}};
		CHECK_EQ(pass(&base, l, 2, now, prev), 0);
		CHECK(prev[0][0] == 0 && prev[1][0] == 5 && prev[1][1] == 50);
		CHECK_EQ(base.n, 2);
	}
	/* the bound raised: A, beyond what the last walk saw, has no known past */
	{
		const uint64_t l[4] = {F, E, D, A}, now[4][2] = {{1, 1}, {2, 2}, {7, 70}, {9, 90}};
		CHECK_EQ(pass(&base, l, 4, now, prev), 0);
		CHECK(prev[0][0] == 0 && prev[1][0] == 1 && prev[2][0] == 6);
		CHECK(prev[3][0] == 9 && prev[3][1] == 90);
	}
	/* a list that does not go on as it did: from there on nothing is known (B's kept
	 * counts, 2, are not taken for X's past) */
	{
		const uint64_t l[4] = {F, E, X, A}, now[4][2] = {{1, 1}, {3, 3}, {8, 80}, {9, 95}};
		CHECK_EQ(pass(&base, l, 4, now, prev), 0);
		CHECK(prev[1][0] == 2 && prev[2][0] == 8 && prev[2][1] == 80);
		CHECK(prev[3][0] == 9 && prev[3][1] == 95);
	}
	alloc_baseline_free(&base);
	CHECK(base.n == 0 && base.data == NULL);
}

TEST(the_alloc_baseline_is_a_few_bytes_a_bucket)
{
	struct alloc_baseline base = {0};
	struct alloc_pass ps;
	const size_t n = 262144;

	alloc_pass_begin(&ps, &base);
	for (size_t i = 0; i < n; i++) {
		/* buckets about 300 bytes apart, newest highest, counts up to thousands */
		uint64_t now[2] = {i % 3000, (i % 3000) * 48}, prev[2];
		CHECK_EQ(alloc_pass_step(&ps, 0xc000000000 + (n - i) * 304, now, prev), 0);
	}
	CHECK_EQ(alloc_pass_end(&ps, &base), 0);
	printf("  alloc baseline: %.1f bytes a bucket\n",
	       (double)alloc_baseline_memory(&base) / (double)n);
	CHECK(alloc_baseline_memory(&base) <= n * 8);
	alloc_baseline_free(&base);
}
