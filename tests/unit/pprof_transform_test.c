/*
 * Unit tests of the upload transformations: renaming sample types and splitting a
 * profile into parts without zero values.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "support.h"
#include "testing.h"

#define MAX_TYPES 4

/*
 * A profile with ntypes types ("name/unit" strings in types[]) and nsamples samples;
 * sample i has the one-frame stack "fn<i>" (file f.go, line i) under main.main, and the
 * values vals[i][0..ntypes).
 */
static struct pprof_profile *make(const char *const *types, size_t ntypes,
				  const int64_t (*vals)[MAX_TYPES], size_t nsamples)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	uint64_t root;
	struct pprof_line ln;

	if (!b)
		return NULL;
	for (size_t t = 0; t < ntypes; t++) {
		char name[64];
		const char *slash = strchr(types[t], '/');

		snprintf(name, sizeof(name), "%.*s", (int)(slash - types[t]), types[t]);
		pprof_builder_add_sample_type(b, name, slash + 1);
	}
	pprof_builder_set_period(b, "space", "bytes", 512);
	pprof_builder_set_default_sample_type(b, "alloc_space");
	pprof_builder_add_comment(b, "comment");
	pprof_builder_set_time(b, 1000, 10);
	ln = (struct pprof_line){pprof_builder_function(b, "main.main", NULL, "main.go", 1), 5};
	root = pprof_builder_location(b, 0, 0x1000, &ln, 1);
	for (size_t i = 0; i < nsamples; i++) {
		char fn[32];
		uint64_t stack[2];
		struct pprof_label lb = {"thread", "t1", 0, NULL};

		snprintf(fn, sizeof(fn), "fn%zu", i);
		ln = (struct pprof_line){pprof_builder_function(b, fn, NULL, "f.go", 1),
					 (int64_t)i};
		stack[0] = pprof_builder_location(b, 0, 0x2000 + i, &ln, 1);
		stack[1] = root;
		if (pprof_builder_add_sample(b, stack, 2, vals[i], ntypes, &lb, 1))
			goto out;
	}
	pprof_builder_finish(b, &p);
out:
	pprof_builder_free(b);
	return p;
}

static int leaf_name(void *ctx, const char *function, const char *file, int64_t line,
		     uint64_t address)
{
	(void)file;
	(void)line;
	(void)address;
	snprintf(ctx, 32, "%s", function);
	return 1;
}

/* Encodes p, checks it decodes again (our decoder validates every reference) and
 * returns the protobuf-c view for table counts (free with ..._free_unpacked). */
static Perftools__Profiles__Profile *reencode(const struct pprof_profile *p)
{
	struct pprof_profile *q = NULL;
	Perftools__Profiles__Profile *m = NULL;
	struct buf b;

	buf_init(&b, 0);
	if (pprof_encode(p, 0, &b) == 0 && pprof_decode(b.data, b.len, NULL, &q) == 0)
		m = perftools__profiles__profile__unpack(NULL, b.len, (const uint8_t *)b.data);
	pprof_profile_free(q);
	buf_free(&b);
	return m;
}

static void free_parts(struct pprof_profile **parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pprof_profile_free(parts[i]);
	free(parts);
}

static const char *const heap_types[] = {"alloc_objects/count", "alloc_space/bytes",
					 "inuse_objects/count", "inuse_space/bytes"};

TEST(split_heap_into_alloc_and_inuse)
{
	static const int64_t vals[][MAX_TYPES] = {
	    {1, 100, 1, 100}, /* fn0: in both */
	    {2, 200, 0, 0},   /* fn1: freed */
	    {0, 0, 0, 0},     /* fn2: nothing */
	    {0, 0, 3, 300},   /* fn3: inuse only */
	    {4, 400, 0, 0},   /* fn4: freed */
	};
	struct pprof_profile *p = make(heap_types, 4, vals, 5), **parts = NULL;
	Perftools__Profiles__Profile *m;
	const char *unit;
	char leaf[32];
	size_t n = 9;

	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 2);
	/* alloc_*: fn0, fn1, fn4. */
	CHECK_EQ(pprof_sample_type_count(parts[0]), 2);
	CHECK_STR(pprof_sample_type(parts[0], 0, &unit), "alloc_objects");
	CHECK_STR(unit, "count");
	CHECK_STR(pprof_sample_type(parts[0], 1, &unit), "alloc_space");
	CHECK_EQ(pprof_sample_count(parts[0]), 3);
	CHECK_EQ(pprof_sample_values(parts[0], 1)[1], 200);
	CHECK_EQ(pprof_sample_frames(parts[0], 2, leaf_name, leaf), 1);
	CHECK_STR(leaf, "fn4");
	CHECK_EQ(pprof_value_total(parts[0], 0), 7);
	/* inuse_*: fn0, fn3. */
	CHECK_STR(pprof_sample_type(parts[1], 0, &unit), "inuse_objects");
	CHECK_STR(pprof_sample_type(parts[1], 1, &unit), "inuse_space");
	CHECK_EQ(pprof_sample_count(parts[1]), 2);
	CHECK_EQ(pprof_sample_frames(parts[1], 1, leaf_name, leaf), 1);
	CHECK_STR(leaf, "fn3");
	CHECK_EQ(pprof_value_total(parts[1], 1), 400);
	/* The header fields come along; only what the samples use is kept. */
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(pprof_period(parts[i]), 512);
		CHECK_EQ(pprof_time_ns(parts[i]), 1000);
		CHECK_EQ(pprof_duration_ns(parts[i]), 10);
		for (size_t s = 0; s < pprof_sample_count(parts[i]); s++)
			for (size_t t = 0; t < pprof_sample_type_count(parts[i]); t++)
				CHECK(pprof_sample_values(parts[i], s)[t] != 0);
	}
	m = reencode(parts[1]);
	CHECK(m);
	CHECK_EQ(m->n_location, 3);
	CHECK_EQ(m->n_function, 3);
	CHECK_EQ(m->n_comment, 1);
	CHECK_EQ(m->default_sample_type, 0); /* alloc_space is not in this part */
	perftools__profiles__profile__free_unpacked(m, NULL);
	m = reencode(parts[0]);
	CHECK(m);
	CHECK_EQ(m->n_location, 4);
	CHECK_STR(m->string_table[m->default_sample_type], "alloc_space");
	CHECK_STR(m->string_table[m->period_type->type], "space");
	CHECK_EQ(m->n_sample, 3);
	CHECK_EQ(m->sample[0]->n_label, 1);
	CHECK_STR(m->string_table[m->sample[0]->label[0]->str], "t1");
	perftools__profiles__profile__free_unpacked(m, NULL);
	free_parts(parts, n);
	pprof_profile_free(p);
}

TEST(split_keeps_unnamed_types_in_the_first_part)
{
	static const char *const types[] = {"/count", "cpu/nanoseconds"};
	static const int64_t vals[][MAX_TYPES] = {{1, 10}, {1, 0}, {3, 30}};
	struct pprof_profile *p = make(types, 2, vals, 3), **parts = NULL;
	const char *unit;
	size_t n;

	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(pprof_sample_type_count(parts[0]), 2);
	CHECK_STR(pprof_sample_type(parts[0], 0, &unit), "");
	CHECK_STR(unit, "count");
	/* The sample that is zero in the only named type is left out. */
	CHECK_EQ(pprof_sample_count(parts[0]), 2);
	CHECK_EQ(pprof_value_total(parts[0], 0), 4);
	CHECK_EQ(pprof_value_total(parts[0], 1), 40);
	free_parts(parts, n);
	pprof_profile_free(p);
}

TEST(split_groups_types_by_identical_zero_patterns)
{
	static const char *const types[] = {"a/count", "b/count", "/count", "c/count"};
	static const int64_t vals[][MAX_TYPES] = {{1, 0, 1, 5}, {0, 2, 1, 0}, {3, 3, 1, 7}};
	struct pprof_profile *p = make(types, 4, vals, 3), **parts = NULL;
	size_t n;

	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 2);
	/* {a, "", c} (same pattern for a and c; the unnamed type joins the first part). */
	CHECK_EQ(pprof_sample_type_count(parts[0]), 3);
	CHECK_STR(pprof_sample_type(parts[0], 0, NULL), "a");
	CHECK_STR(pprof_sample_type(parts[0], 1, NULL), "");
	CHECK_STR(pprof_sample_type(parts[0], 2, NULL), "c");
	CHECK_EQ(pprof_sample_count(parts[0]), 2);
	CHECK_EQ(pprof_value_total(parts[0], 2), 12);
	CHECK_EQ(pprof_sample_type_count(parts[1]), 1);
	CHECK_STR(pprof_sample_type(parts[1], 0, NULL), "b");
	CHECK_EQ(pprof_sample_count(parts[1]), 2);
	CHECK_EQ(pprof_value_total(parts[1], 0), 5);
	free_parts(parts, n);
	pprof_profile_free(p);
}

TEST(split_of_nothing)
{
	static const int64_t zeros[][MAX_TYPES] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
	static const char *const unnamed[] = {"/count", "/bytes"};
	static const int64_t some[][MAX_TYPES] = {{0, 0}, {0, 5}};
	struct pprof_profile *p = make(heap_types, 4, zeros, 2), **parts = NULL;
	size_t n = 9;

	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 0);
	free_parts(parts, n);
	pprof_profile_free(p);
	/* No types at all. */
	p = make(heap_types, 0, zeros, 0);
	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 0);
	free_parts(parts, n);
	pprof_profile_free(p);
	/* Only unnamed types: one part of every non-zero sample. */
	p = make(unnamed, 2, some, 2);
	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(pprof_sample_count(parts[0]), 1);
	CHECK_EQ(pprof_sample_type_count(parts[0]), 2);
	free_parts(parts, n);
	pprof_profile_free(p);
}

TEST(split_large_profile)
{
	enum { N = 20000 };
	int64_t(*vals)[MAX_TYPES] = calloc(N, sizeof(*vals));
	struct pprof_profile *p, **parts = NULL;
	size_t n;

	CHECK(vals);
	for (size_t i = 0; i < N; i++) {
		vals[i][0] = (int64_t)(i % 3 != 0);
		vals[i][1] = vals[i][0] * 64;
		vals[i][2] = (int64_t)(i % 5 == 0);
		vals[i][3] = vals[i][2] * 64;
	}
	p = make(heap_types, 4, (const int64_t(*)[MAX_TYPES])vals, N);
	free(vals);
	CHECK(p);
	CHECK_EQ(pprof_split_nonzero(p, &parts, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(pprof_sample_count(parts[0]), N - (N + 2) / 3);
	CHECK_EQ(pprof_sample_count(parts[1]), N / 5);
	free_parts(parts, n);
	pprof_profile_free(p);
}

TEST(rename_sample_types)
{
	static const int64_t vals[][MAX_TYPES] = {{1, 2, 3, 4}};
	static const struct pprof_rename coroot[] = {
	    {"alloc_objects", "count", "go:heap_alloc_objects:count"},
	    {"alloc_space", "bytes", "go:heap_alloc_space:bytes"},
	    {"alloc_space", NULL, "never: the first match wins"},
	    {"inuse_space", NULL, ""},
	};
	struct pprof_profile *p = make(heap_types, 4, vals, 1);
	Perftools__Profiles__Profile *m;
	const char *unit;

	CHECK(p);
	CHECK_EQ(pprof_rename_sample_types(p, coroot, ARRAY_SIZE(coroot), 1), 0);
	CHECK_STR(pprof_sample_type(p, 0, &unit), "go:heap_alloc_objects:count");
	CHECK_STR(unit, "count");
	CHECK_STR(pprof_sample_type(p, 1, &unit), "go:heap_alloc_space:bytes");
	CHECK_STR(unit, "bytes");
	CHECK_STR(pprof_sample_type(p, 2, &unit), "inuse_objects");
	CHECK_STR(pprof_sample_type(p, 3, &unit), "");
	CHECK_STR(unit, "bytes");
	m = reencode(p);
	CHECK(m);
	CHECK_STR(m->string_table[m->sample_type[1]->type], "go:heap_alloc_space:bytes");
	/* The default sample type follows the renaming. */
	CHECK_STR(m->string_table[m->default_sample_type], "go:heap_alloc_space:bytes");
	perftools__profiles__profile__free_unpacked(m, NULL);
	pprof_profile_free(p);
}

TEST(rename_blanks_unmatched_types_on_request)
{
	static const int64_t vals[][MAX_TYPES] = {{1, 2, 3, 4}};
	static const struct pprof_rename map[] = {
	    {"inuse_space", "count", "wrong unit: no match"},
	    {"inuse_space", "bytes", "go:heap_inuse_space:bytes"},
	};
	static const struct pprof_rename bad[] = {{NULL, NULL, "x"}};
	struct pprof_profile *p = make(heap_types, 4, vals, 1);

	CHECK(p);
	CHECK_EQ(pprof_rename_sample_types(p, bad, 1, 0), -EINVAL);
	CHECK_STR(pprof_sample_type(p, 0, NULL), "alloc_objects");
	CHECK_EQ(pprof_rename_sample_types(p, map, ARRAY_SIZE(map), 0), 0);
	CHECK_STR(pprof_sample_type(p, 0, NULL), "");
	CHECK_STR(pprof_sample_type(p, 1, NULL), "");
	CHECK_STR(pprof_sample_type(p, 2, NULL), "");
	CHECK_STR(pprof_sample_type(p, 3, NULL), "go:heap_inuse_space:bytes");
	CHECK_EQ(pprof_value_total(p, 3), 4);
	pprof_profile_free(p);
}
