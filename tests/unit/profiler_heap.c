/*
 * Unit tests of the node side's heap read on crafted memory images (procmem_open_image):
 * the bucket walk hands over every bucket, newest first, with the counts the runtime
 * would publish (folded before the first GC), stops at the bucket bound only when the
 * list goes on, counts without reading stacks, and finds every cycle; and the alloc
 * baseline gives each bucket of the next walk its previous counts: nothing for new
 * buckets, the counts of the previous walk for the others, and no delta for buckets
 * whose past it does not know.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbase.h"
#include "gobin.h"
#include "heapread.h"
#include "procmem.h"
#include "testing.h"

#define BASE UINT64_C(0x10000)
#define WORDS 8192

/* A fake process: the runtime's variables at the start, then buckets. */
struct image {
	uint64_t w[WORDS];
	size_t used; /* words */
	struct gobin b;
	int minor;
};

static void image_init(struct image *im, int minor, uint32_t cycle)
{
	memset(im, 0, sizeof(*im));
	im->minor = minor;
	im->b.info.major = 1;
	im->b.info.minor = minor;
	im->b.mem_profile_rate = BASE;
	im->b.mprof_cycle = BASE + 8;
	im->b.mbuckets = BASE + 16;
	im->w[0] = 512 * 1024;
	im->w[1] = (uint64_t)cycle << 1;
	im->used = 8;
}

/* Adds a bucket with stack depth nstk (PCs 0x401000 + id * 16 + k) whose active and
 * future cycles have allocs[c] allocations and frees[c] frees of size bytes (c: active,
 * future 0..2); returns its address. It is not linked yet. */
static uint64_t bucket(struct image *im, int id, uint32_t nstk, uint64_t size,
		       const uint64_t allocs[4], const uint64_t frees[4])
{
	size_t at = im->used, words = im->minor >= 27 ? 2 : 4;
	uint64_t *w = &im->w[at];

	w[2] = 1; /* memProfile */
	w[3] = (uint64_t)id;
	w[4] = size;
	w[5] = nstk;
	for (uint32_t k = 0; k < nstk; k++)
		w[6 + k] = 0x401000 + (uint64_t)id * 16 + k;
	for (int c = 0; c < 4; c++) {
		uint64_t *rec = &w[6 + nstk + (size_t)c * words];
		rec[0] = allocs[c];
		rec[1] = frees[c];
		if (words == 4) {
			rec[2] = allocs[c] * size;
			rec[3] = frees[c] * size;
		}
	}
	im->used += 6 + nstk + 4 * words;
	return BASE + at * 8;
}

/* Links buckets addrs[0..n) into the list (addrs[0] the head). */
static void link_list(struct image *im, const uint64_t *addrs, size_t n)
{
	im->w[2] = n ? addrs[0] : 0;
	for (size_t i = 0; i < n; i++)
		im->w[(addrs[i] - BASE) / 8 + 1] = i + 1 < n ? addrs[i + 1] : 0;
}

struct seen {
	size_t n;
	uint64_t addr[64], allocs[64], alloc_bytes[64], pc0[64];
	uint32_t nstk[64];
	int folded;
};

static int record(void *ctx, const struct heap_bucket *b, const struct heap_walk_info *info)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		s->addr[s->n] = b->addr;
		s->allocs[s->n] = b->counts.allocs;
		s->alloc_bytes[s->n] = b->counts.alloc_bytes;
		s->nstk[s->n] = b->nstk;
		s->pc0[s->n] = b->nstk ? b->stk[0] : 0;
	}
	s->folded = info->folded;
	s->n++;
	return 0;
}

static int walk(struct image *im, size_t max_buckets, heap_bucket_fn fn, struct seen *s,
		struct heap_walk_info *info)
{
	struct heap_limits lim = {.max_buckets = max_buckets};
	struct procmem *m = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	if (procmem_open_image(im->w, im->used * 8, BASE, &m))
		return -ENOMEM;
	r = heap_walk(m, &im->b, 0, &lim, fn, s, info);
	procmem_close(m);
	return r;
}

TEST(a_walk_hands_over_every_bucket_newest_first)
{
	static struct image im;
	struct heap_walk_info info;
	struct seen s;
	uint64_t addrs[10];
	const int minors[2] = {21, 27};

	for (int v = 0; v < 2; v++) {
		/* cycle 4: the runtime publishes active + future[4 % 3 = 1] */
		image_init(&im, minors[v], 4);
		for (int i = 0; i < 10; i++) {
			uint64_t a[4] = {(uint64_t)i + 1, 100, (uint64_t)i * 10, 1000};
			uint64_t f[4] = {0, 0, 1, 0};
			addrs[i] = bucket(&im, i, (uint32_t)i % 5, 16 * ((uint64_t)i + 1), a, f);
		}
		link_list(&im, addrs, 10);
		CHECK_EQ(walk(&im, 0, record, &s, &info), 0);
		CHECK_EQ(s.n, 10);
		CHECK(info.nbuckets == 10 && !info.partial && !info.folded && info.rate == 512 * 1024);
		for (int i = 0; i < 10; i++) {
			uint64_t allocs = (uint64_t)i + 1 + (uint64_t)i * 10;
			CHECK_EQ(s.addr[i], addrs[i]);
			CHECK_EQ(s.nstk[i], i % 5);
			CHECK(s.nstk[i] == 0 || s.pc0[i] == 0x401000 + (uint64_t)i * 16);
			CHECK_EQ(s.allocs[i], allocs);
			CHECK_EQ(s.alloc_bytes[i], allocs * 16 * ((uint64_t)i + 1));
		}
	}
}

TEST(before_the_first_gc_every_future_cycle_is_folded_in)
{
	static struct image im;
	struct heap_walk_info info;
	struct seen s;
	uint64_t addrs[3];

	image_init(&im, 27, 0);
	for (int i = 0; i < 3; i++) {
		/* nothing in active or future[0]: nothing published yet */
		uint64_t a[4] = {0, 0, 2, 3}, f[4] = {0, 0, 1, 0};
		addrs[i] = bucket(&im, i, 2, 32, a, f);
	}
	link_list(&im, addrs, 3);
	CHECK_EQ(walk(&im, 0, record, &s, &info), 0);
	CHECK(info.folded && s.folded);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(s.allocs[i], 5);
}

TEST(the_walk_stops_at_the_bucket_bound_only_when_the_list_goes_on)
{
	static struct image im;
	struct heap_walk_info info;
	struct seen s;
	uint64_t addrs[10];

	image_init(&im, 27, 1);
	for (int i = 0; i < 10; i++) {
		uint64_t a[4] = {1, 0, 0, 0}, f[4] = {0, 0, 0, 0};
		addrs[i] = bucket(&im, i, 3, 8, a, f);
	}
	link_list(&im, addrs, 10);
	CHECK_EQ(walk(&im, 4, record, &s, &info), 0);
	CHECK(s.n == 4 && info.nbuckets == 4 && info.partial);
	CHECK_EQ(s.addr[3], addrs[3]);
	CHECK_EQ(walk(&im, 10, record, &s, &info), 0);
	CHECK(s.n == 10 && info.nbuckets == 10 && !info.partial);
	CHECK_EQ(walk(&im, 11, record, &s, &info), 0);
	CHECK(s.n == 10 && !info.partial);
	/* counting only: the same answer */
	CHECK_EQ(walk(&im, 4, NULL, &s, &info), 0);
	CHECK(info.nbuckets == 4 && info.partial);
	CHECK_EQ(walk(&im, 0, NULL, &s, &info), 0);
	CHECK(info.nbuckets == 10 && !info.partial);
}

TEST(counting_does_not_read_stacks)
{
	static struct image im;
	struct heap_walk_info info;
	struct seen s;
	uint64_t a[4] = {1, 0, 0, 0}, f[4] = {0, 0, 0, 0}, addr;

	image_init(&im, 27, 1);
	addr = bucket(&im, 0, 200, 8, a, f);
	link_list(&im, &addr, 1);
	/* the image ends inside the bucket's stack */
	im.used = (size_t)(addr - BASE) / 8 + 6 + 10;
	CHECK_EQ(walk(&im, 0, record, &s, &info), -EFAULT);
	CHECK_EQ(walk(&im, 0, NULL, &s, &info), 0);
	CHECK_EQ(info.nbuckets, 1);
}

TEST(every_cycle_in_the_list_is_found)
{
	static struct image im;
	struct heap_walk_info info;
	struct seen s;

	for (size_t tail = 0; tail < 12; tail++) {
		for (size_t len = 1; len < 40; len += 3) {
			uint64_t addrs[64];
			image_init(&im, 25, 1);
			for (size_t i = 0; i < tail + len; i++) {
				uint64_t a[4] = {1, 0, 0, 0}, f[4] = {0, 0, 0, 0};
				addrs[i] = bucket(&im, (int)i, 1, 8, a, f);
			}
			link_list(&im, addrs, tail + len);
			/* the last bucket points back into the list */
			im.w[(addrs[tail + len - 1] - BASE) / 8 + 1] = addrs[tail];
			CHECK_MSG(walk(&im, 0, record, &s, &info) == -EPROTO, "tail %zu, cycle %zu",
				  tail, len);
			/* Brent's bound: found within three times the way to the cycle's end */
			CHECK_MSG(s.n <= 3 * (tail + len) + 2, "tail %zu, cycle %zu: %zu buckets",
				  tail, len, s.n);
			CHECK_EQ(walk(&im, 0, NULL, &s, &info), -EPROTO);
		}
	}
}

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
