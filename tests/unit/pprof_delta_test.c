/*
 * Unit tests of the deltas of cumulative profiles: baseline, normal deltas, merging of
 * duplicate keys (every value added), new and vanished keys, resets, sample type
 * changes, and the memory the state keeps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "support.h"
#include "testing.h"

static const char *const heap_types[][2] = {{"alloc_objects", "count"},
					    {"alloc_space", "bytes"},
					    {"inuse_objects", "count"},
					    {"inuse_space", "bytes"}};
static const int heap_cum[] = {1, 1, 0, 0};

/* One sample: stack "fnK" (leaf) -> main.main; the leaf's location address is addr, so
 * two samples may have different locations but the same symbolized stack. */
struct smp {
	int fn;
	uint64_t addr;
	int64_t v[4];
	const char *label; /* "k=v" string label or NULL; "#n" numeric bytes label */
	const char *label2;
};

static int add_label(const char *spec, struct pprof_label *l, char *key, char *val)
{
	if (!spec)
		return 0;
	if (spec[0] == '#') {
		*l = (struct pprof_label){"bytes", NULL, atoll(spec + 1), "bytes"};
		return 1;
	}
	sscanf(spec, "%31[^=]=%31s", key, val);
	*l = (struct pprof_label){key, val, 0, NULL};
	return 1;
}

static struct pprof_profile *make(const char *const (*types)[2], size_t ntypes,
				  const struct smp *s, size_t n)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	struct pprof_line ln;
	uint64_t root;

	if (!b)
		return NULL;
	for (size_t t = 0; t < ntypes; t++)
		pprof_builder_add_sample_type(b, types[t][0], types[t][1]);
	ln = (struct pprof_line){pprof_builder_function(b, "main.main", NULL, "main.go", 1), 9};
	root = pprof_builder_location(b, 0, 0x100, &ln, 1);
	for (size_t i = 0; i < n; i++) {
		char fn[32], k1[32], v1[32], k2[32], v2[32];
		struct pprof_label labels[2];
		size_t nl = 0;
		uint64_t stack[2];

		snprintf(fn, sizeof(fn), "fn%d", s[i].fn);
		ln = (struct pprof_line){pprof_builder_function(b, fn, NULL, "f.go", 1), s[i].fn};
		stack[0] = pprof_builder_location(
		    b, 0, s[i].addr ? s[i].addr : 0x1000u + (unsigned)s[i].fn, &ln, 1);
		stack[1] = root;
		nl += add_label(s[i].label, &labels[nl], k1, v1);
		nl += add_label(s[i].label2, &labels[nl], k2, v2);
		if (pprof_builder_add_sample(b, stack, 2, s[i].v, ntypes, labels, nl))
			goto out;
	}
	pprof_builder_finish(b, &p);
out:
	pprof_builder_free(b);
	return p;
}

static int leaf_fn(void *ctx, const char *function, const char *file, int64_t line,
		   uint64_t address)
{
	(void)file;
	(void)line;
	(void)address;
	*(int *)ctx = atoi(function + 2);
	return 1;
}

/* Values of the sample whose leaf is fnK (the first one), or NULL. */
static const int64_t *values_of(const struct pprof_profile *p, int k)
{
	for (size_t i = 0; i < pprof_sample_count(p); i++) {
		int fn = -1;

		pprof_sample_frames(p, i, leaf_fn, &fn);
		if (fn == k)
			return pprof_sample_values(p, i);
	}
	return NULL;
}

#define CHECK_VALUES(p, k, a, b, c, d)                                                    \
	do {                                                                              \
		const int64_t *v_ = values_of((p), (k));                                  \
		CHECK_MSG(v_ != NULL, "no sample fn%d", (k));                              \
		CHECK_EQ(v_[0], (a));                                                     \
		CHECK_EQ(v_[1], (b));                                                     \
		CHECK_EQ(v_[2], (c));                                                     \
		CHECK_EQ(v_[3], (d));                                                     \
	} while (0)

/* Applies the heap delta to a profile of the given samples; the profile is returned
 * through *out (caller frees) and the result code returned. */
static int apply(struct pprof_delta *d, const struct smp *s, size_t n, struct pprof_profile **out)
{
	struct pprof_profile *p = make(heap_types, 4, s, n);

	*out = p;
	return p ? pprof_delta_apply(d, p, heap_cum, 4) : -ENOMEM;
}

TEST(baseline_then_deltas)
{
	static const struct smp s1[] = {{1, 0, {10, 1000, 2, 200}, NULL, NULL},
					{2, 0, {5, 500, 5, 500}, NULL, NULL}};
	static const struct smp s2[] = {{1, 0, {15, 1500, 1, 100}, NULL, NULL},
					{2, 0, {5, 500, 4, 400}, NULL, NULL},
					{3, 0, {7, 70, 7, 70}, NULL, NULL}};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 2, &p), PPROF_DELTA_BASELINE);
	/* Cumulative values zeroed, the others absolute. */
	CHECK_VALUES(p, 1, 0, 0, 2, 200);
	CHECK_VALUES(p, 2, 0, 0, 5, 500);
	pprof_profile_free(p);
	CHECK_EQ(apply(d, s2, 3, &p), PPROF_DELTA_OK);
	CHECK_VALUES(p, 1, 5, 500, 1, 100);
	CHECK_VALUES(p, 2, 0, 0, 4, 400);
	/* A new key: its whole value happened in this window. */
	CHECK_VALUES(p, 3, 7, 70, 7, 70);
	CHECK_EQ(pprof_sample_count(p), 3);
	pprof_profile_free(p);
	pprof_delta_free(d);
}

TEST(duplicates_merge_by_adding_every_value)
{
	/* fn1 twice with different addresses (same symbolized stack), once more with the
	 * labels in another order; fn1 with another label value is a different key. */
	static const struct smp s1[] = {
	    {1, 0x5000, {1, 10, 2, 20}, "a=x", "#64"},
	    {1, 0x5004, {3, 30, 4, 40}, "#64", "a=x"},
	    {1, 0x5008, {5, 50, 6, 60}, "a=x", "#64"},
	    {1, 0x5000, {100, 1000, 100, 1000}, "a=y", "#64"},
	};
	static const struct smp s2[] = {
	    {1, 0x5000, {2, 20, 1, 10}, "a=x", "#64"},
	    {1, 0x6000, {10, 100, 1, 10}, "#64", "a=x"},
	    {1, 0x5000, {100, 1000, 100, 1000}, "a=y", "#64"},
	};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;
	const int64_t *v;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 4, &p), PPROF_DELTA_BASELINE);
	CHECK_EQ(pprof_sample_count(p), 2);
	/* Every value was added, not only the first: inuse = 2+4+6, 20+40+60. */
	v = pprof_sample_values(p, 0);
	CHECK_EQ(v[0], 0);
	CHECK_EQ(v[2], 12);
	CHECK_EQ(v[3], 120);
	pprof_profile_free(p);
	/* Baseline alloc was 9/90 for the merged key; now 12/120 in total. */
	CHECK_EQ(apply(d, s2, 3, &p), PPROF_DELTA_OK);
	CHECK_EQ(pprof_sample_count(p), 2);
	v = pprof_sample_values(p, 0);
	CHECK_EQ(v[0], 3);
	CHECK_EQ(v[1], 30);
	CHECK_EQ(v[2], 2);
	CHECK_EQ(v[3], 20);
	v = pprof_sample_values(p, 1);
	CHECK_EQ(v[0], 0);
	CHECK_EQ(v[1], 0);
	CHECK_EQ(v[2], 100);
	pprof_profile_free(p);
	pprof_delta_free(d);
}

TEST(vanished_keys_are_forgotten)
{
	static const struct smp s1[] = {{1, 0, {10, 100, 0, 0}, NULL, NULL},
					{2, 0, {20, 200, 0, 0}, NULL, NULL}};
	static const struct smp s2[] = {{1, 0, {11, 110, 0, 0}, NULL, NULL}};
	static const struct smp s3[] = {{1, 0, {12, 120, 0, 0}, NULL, NULL},
					{2, 0, {25, 250, 0, 0}, NULL, NULL}};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;
	size_t mem2;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 2, &p), PPROF_DELTA_BASELINE);
	pprof_profile_free(p);
	CHECK_EQ(apply(d, s2, 1, &p), PPROF_DELTA_OK);
	CHECK_VALUES(p, 1, 1, 10, 0, 0);
	pprof_profile_free(p);
	mem2 = pprof_delta_memory(d);
	/* fn2 was forgotten: it counts as new, not as 25 - 20. */
	CHECK_EQ(apply(d, s3, 2, &p), PPROF_DELTA_OK);
	CHECK_VALUES(p, 1, 1, 10, 0, 0);
	CHECK_VALUES(p, 2, 25, 250, 0, 0);
	pprof_profile_free(p);
	CHECK(pprof_delta_memory(d) > mem2);
	pprof_delta_free(d);
}

TEST(a_value_going_down_is_a_reset)
{
	static const struct smp s1[] = {{1, 0, {10, 100, 1, 1}, NULL, NULL},
					{2, 0, {20, 200, 1, 1}, NULL, NULL}};
	static const struct smp s2[] = {{1, 0, {30, 300, 1, 1}, NULL, NULL},
					{2, 0, {3, 300, 1, 1}, NULL, NULL}};
	static const struct smp s3[] = {{1, 0, {31, 310, 1, 1}, NULL, NULL},
					{2, 0, {5, 305, 1, 1}, NULL, NULL}};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 2, &p), PPROF_DELTA_BASELINE);
	pprof_profile_free(p);
	/* fn2's count went down (its bytes went up): the source restarted. Everything
	 * counted since then is the delta, fn1's too. */
	CHECK_EQ(apply(d, s2, 2, &p), PPROF_DELTA_RESET);
	CHECK_VALUES(p, 1, 30, 300, 1, 1);
	CHECK_VALUES(p, 2, 3, 300, 1, 1);
	pprof_profile_free(p);
	/* The reset profile is the new baseline. */
	CHECK_EQ(apply(d, s3, 2, &p), PPROF_DELTA_OK);
	CHECK_VALUES(p, 1, 1, 10, 1, 1);
	CHECK_VALUES(p, 2, 2, 5, 1, 1);
	pprof_profile_free(p);
	pprof_delta_free(d);
}

TEST(non_cumulative_values_may_go_down)
{
	static const struct smp s1[] = {{1, 0, {10, 100, 9, 90}, NULL, NULL}};
	static const struct smp s2[] = {{1, 0, {10, 100, 1, 10}, NULL, NULL}};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 1, &p), PPROF_DELTA_BASELINE);
	pprof_profile_free(p);
	CHECK_EQ(apply(d, s2, 1, &p), PPROF_DELTA_OK);
	CHECK_VALUES(p, 1, 0, 0, 1, 10);
	pprof_profile_free(p);
	pprof_delta_free(d);
}

TEST(sample_type_change_restarts_the_baseline)
{
	static const char *const mutex_types[][2] = {{"contentions", "count"},
						     {"delay", "nanoseconds"}};
	static const int mutex_cum[] = {1, 1};
	static const struct smp s1[] = {{1, 0, {10, 100, 0, 0}, NULL, NULL}};
	static const struct smp s2[] = {{1, 0, {12, 130, 0, 0}, NULL, NULL}};
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;

	CHECK(d);
	CHECK_EQ(apply(d, s1, 1, &p), PPROF_DELTA_BASELINE);
	pprof_profile_free(p);
	p = make(mutex_types, 2, s2, 1);
	CHECK(p);
	CHECK_EQ(pprof_delta_apply(d, p, mutex_cum, 2), PPROF_DELTA_RESET);
	CHECK_EQ(pprof_sample_values(p, 0)[0], 12);
	CHECK_EQ(pprof_sample_values(p, 0)[1], 130);
	pprof_profile_free(p);
	p = make(mutex_types, 2, s2, 1);
	CHECK(p);
	CHECK_EQ(pprof_delta_apply(d, p, mutex_cum, 2), PPROF_DELTA_OK);
	CHECK_EQ(pprof_sample_values(p, 0)[0], 0);
	/* The same types with other cumulative flags: a change too. */
	CHECK_EQ(pprof_delta_apply(d, p, mutex_cum, 1), PPROF_DELTA_RESET);
	pprof_profile_free(p);
	pprof_delta_free(d);
}

TEST(window_deltas_add_up_to_the_cumulative_change)
{
	/* Keys k and k + 30 share a symbolized stack: merging is exercised as well. */
	enum { KEYS = 50, ROUNDS = 6 };
	struct smp s[KEYS];
	int64_t sum0 = 0, sum1 = 0, first = 0, last = 0;
	struct pprof_delta *d = pprof_delta_new();

	CHECK(d);
	for (int r = 0; r < ROUNDS; r++) {
		struct pprof_profile *p;
		int res;

		for (int k = 0; k < KEYS; k++)
			s[k] = (struct smp){k % 30, 0x9000u + (unsigned)k,
					    {(int64_t)(r * k), (int64_t)(r * k * 64), 1, 64},
					    NULL, NULL};
		res = apply(d, s, KEYS, &p);
		CHECK(res == (r ? PPROF_DELTA_OK : PPROF_DELTA_BASELINE));
		sum0 += pprof_value_total(p, 0);
		sum1 += pprof_value_total(p, 1);
		for (size_t i = 0; i < pprof_sample_count(p); i++)
			CHECK(pprof_sample_values(p, i)[0] >= 0);
		pprof_profile_free(p);
		last = 0;
		for (int k = 0; k < KEYS; k++)
			last += (int64_t)(r * k);
		if (r == 0)
			first = last;
	}
	CHECK_EQ(sum0, last - first);
	CHECK_EQ(sum1, (last - first) * 64);
	pprof_delta_free(d);
}

TEST(state_memory_is_small)
{
	enum { KEYS = 20000 };
	struct smp *s = calloc(KEYS, sizeof(*s));
	struct pprof_delta *d = pprof_delta_new();
	struct pprof_profile *p;
	size_t empty, mem;

	CHECK(s && d);
	empty = pprof_delta_memory(d);
	CHECK(empty < 256);
	for (int k = 0; k < KEYS; k++)
		s[k] = (struct smp){k, 0, {1, 2, 3, 4}, NULL, NULL};
	CHECK_EQ(apply(d, s, KEYS, &p), PPROF_DELTA_BASELINE);
	pprof_profile_free(p);
	mem = pprof_delta_memory(d);
	/* a varint key gap (about 8 bytes for sorted 64-bit keys) and 2 small varint
	 * values: under 16 bytes a key, and counted (at least the gaps) */
	CHECK_MSG(mem - empty < (size_t)KEYS * 16, "%zu bytes for %d keys", mem, KEYS);
	CHECK_MSG(mem - empty >= (size_t)KEYS * 8, "%zu bytes for %d keys", mem, KEYS);
	free(s);
	pprof_delta_free(d);
}

TEST(go_cumulative_types)
{
	static const char *const mutex_types[][2] = {{"contentions", "count"},
						     {"delay", "nanoseconds"}};
	static const char *const other[][2] = {{"goroutine", "count"},
					       {"go:heap_alloc_space:bytes", "bytes"}};
	static const struct smp none[1];
	struct pprof_profile *p = make(heap_types, 4, none, 0);
	int cum[4] = {9, 9, 9, 9};

	CHECK(p);
	pprof_go_cumulative(p, cum);
	CHECK(cum[0] && cum[1] && !cum[2] && !cum[3]);
	pprof_profile_free(p);
	p = make(mutex_types, 2, none, 0);
	CHECK(p);
	pprof_go_cumulative(p, cum);
	CHECK(cum[0] && cum[1]);
	pprof_profile_free(p);
	p = make(other, 2, none, 0);
	CHECK(p);
	pprof_go_cumulative(p, cum);
	CHECK(!cum[0] && !cum[1]);
	pprof_profile_free(p);
}
