/*
 * Unit tests of pprof/'s streams: a profile whose samples are written as they are added
 * is byte for byte the one pprof_encode writes from the same builder content, with
 * locations, functions and strings created between samples; streams over a subset of
 * the sample types write the parts pprof_split_nonzero makes; errors leave the output
 * as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "support.h"
#include "testing.h"

#define NSAMPLES 5000

static const char *const types[4] = {"alloc_objects", "alloc_space", "inuse_objects",
				     "inuse_space"};
static const char *const units[4] = {"count", "bytes", "count", "bytes"};

/* The values of sample i: some zero in every type, some only in alloc_* or in inuse_*. */
static void values_of(int i, int64_t *v)
{
	int alloc = i % 3 != 0, inuse = i % 5 != 0;

	v[0] = alloc ? i % 7 + 1 : 0;
	v[1] = alloc ? (i % 7 + 1) * 48 : 0;
	v[2] = inuse ? i % 4 + 1 : 0;
	v[3] = inuse ? (i % 4 + 1) * 48 + (int64_t)i * 1000000 : 0;
}

/* The header of the test profile: sample types and period. */
static int begin(struct pprof_builder *b)
{
	for (int t = 0; t < 4; t++)
		if (pprof_builder_add_sample_type(b, types[t], units[t]))
			return -1;
	return pprof_builder_set_period(b, "space", "bytes", 524288);
}

/* The samples, with their mapping, locations and functions made on the way, between
 * samples. Each sample goes to every stream of s (or, with none, to b itself when it is
 * non-zero); then the fields a stream writes last. */
static int fill(struct pprof_builder *b, struct pprof_stream **s, size_t ns)
{
	struct pprof_mapping_info mi = {.memory_start = 0x400000, .memory_limit = 0x800000,
					.filename = "/bin/app", .build_id = "abc",
					.has_functions = 1};
	uint64_t mapping = pprof_builder_mapping(b, &mi);

	for (int i = 0; i < NSAMPLES; i++) {
		uint64_t locs[8];
		int64_t v[4];
		char fn[32], file[32];
		struct pprof_label l[2] = {{.key = "bytes", .num = 48 + i % 3, .num_unit = "bytes"},
					   {.key = "kind", .str = i % 2 ? "odd" : "even"}};
		size_t nl = 1 + (size_t)(i % 4 == 0), depth = 1 + (size_t)i % 8;

		for (size_t d = 0; d < depth; d++) {
			struct pprof_line line;
			snprintf(fn, sizeof(fn), "main.f%d", (i + (int)d) % 97);
			snprintf(file, sizeof(file), "/src/f%d.go", (i + (int)d) % 13);
			line.function_id = pprof_builder_function(b, fn, fn, file, 10);
			line.line = 10 + (i + (int)d) % 50;
			locs[d] = pprof_builder_location(b, mapping, 0x401000 + (uint64_t)line.line * 16,
							 &line, 1);
			if (!line.function_id || !locs[d])
				return -1;
		}
		values_of(i, v);
		for (size_t k = 0; k < ns; k++)
			if (pprof_stream_add_sample(s[k], locs, depth, v, l, nl))
				return -1;
		if (!ns && (v[0] || v[1] || v[2] || v[3]) &&
		    pprof_builder_add_sample(b, locs, depth, v, 4, l, nl))
			return -1;
	}
	pprof_builder_set_time(b, 1700000000000000000, 60000000000);
	return pprof_builder_add_comment(b, "made by the test");
}

/* The profile of begin() and fill(), built the usual way. */
static struct pprof_profile *reference(void)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;

	if (b && begin(b) == 0 && fill(b, NULL, 0) == 0)
		pprof_builder_finish(b, &p);
	pprof_builder_free(b);
	return p;
}

TEST(a_stream_writes_what_encode_writes)
{
	struct pprof_profile *p = reference(), *q = NULL, *r = NULL;
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_stream *s[2] = {NULL, NULL};
	struct buf want, got, gz, again;

	CHECK(p && b);
	buf_init(&want, 0);
	buf_init(&got, 0);
	buf_init(&gz, 0);
	buf_init(&again, 0);
	CHECK_EQ(begin(b), 0);
	CHECK_EQ(pprof_stream_new(b, NULL, 0, 0, &got, &s[0]), 0);
	CHECK_EQ(pprof_stream_new(b, NULL, 0, 1, &gz, &s[1]), 0);
	CHECK_EQ(fill(b, s, 2), 0);
	CHECK_EQ(pprof_stream_finish(s[0]), 0);
	CHECK_EQ(pprof_stream_finish(s[1]), 0);
	CHECK_EQ(pprof_stream_sample_count(s[0]), pprof_sample_count(p));
	CHECK(pprof_sample_count(p) > NSAMPLES / 2 && pprof_sample_count(p) < NSAMPLES);
	CHECK_EQ(pprof_encode(p, 0, &want), 0);
	CHECK_EQ(got.len, want.len);
	CHECK(memcmp(got.data, want.data, want.len) == 0);
	/* compressed: the same protobuf inside */
	CHECK(pprof_is_gzip(gz.data, gz.len));
	CHECK_EQ(pprof_decode(gz.data, gz.len, NULL, &q), 0);
	CHECK_EQ(pprof_encode(q, 0, &again), 0);
	CHECK_EQ(again.len, want.len);
	CHECK(memcmp(again.data, want.data, want.len) == 0);
	/* freeing a finished stream keeps its output */
	pprof_stream_free(s[0]);
	pprof_stream_free(s[1]);
	CHECK_EQ(got.len, want.len);
	CHECK_EQ(pprof_decode(got.data, got.len, NULL, &r), 0);
	pprof_profile_free(p);
	pprof_profile_free(q);
	pprof_profile_free(r);
	pprof_builder_free(b);
	buf_free(&want);
	buf_free(&got);
	buf_free(&gz);
	buf_free(&again);
}

/* Sum of value 0 and 1 of every sample of p, and its sample count. */
static void totals(const struct pprof_profile *p, int64_t *v0, int64_t *v1, size_t *n)
{
	*v0 = pprof_value_total(p, 0);
	*v1 = pprof_value_total(p, 1);
	*n = pprof_sample_count(p);
}

TEST(streams_of_some_types_write_the_nonzero_parts)
{
	struct pprof_profile *p = reference(), **parts = NULL, *got[2] = {NULL, NULL};
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_stream *s[2] = {NULL, NULL};
	const size_t alloc[2] = {0, 1}, inuse[2] = {2, 3};
	struct buf out[2];
	size_t nparts = 0;

	CHECK(p && b);
	buf_init(&out[0], 0);
	buf_init(&out[1], 0);
	CHECK_EQ(begin(b), 0);
	CHECK_EQ(pprof_stream_new(b, alloc, 2, 1, &out[0], &s[0]), 0);
	CHECK_EQ(pprof_stream_new(b, inuse, 2, 1, &out[1], &s[1]), 0);
	CHECK_EQ(fill(b, s, 2), 0);
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(pprof_stream_finish(s[k]), 0);
		CHECK_EQ(pprof_decode(out[k].data, out[k].len, NULL, &got[k]), 0);
	}
	/* pprof_split_nonzero of the whole profile: the alloc part, then the inuse part */
	CHECK_EQ(pprof_split_nonzero(p, &parts, &nparts), 0);
	CHECK_EQ(nparts, 2);
	for (int k = 0; k < 2; k++) {
		int64_t a0, a1, b0, b1;
		size_t an, bn;
		CHECK_EQ(pprof_sample_type_count(got[k]), 2);
		CHECK_STR(pprof_sample_type(got[k], 0, NULL), types[2 * k]);
		CHECK_STR(pprof_sample_type(got[k], 1, NULL), types[2 * k + 1]);
		CHECK_STR(pprof_sample_type(parts[k], 0, NULL), types[2 * k]);
		totals(got[k], &a0, &a1, &an);
		totals(parts[k], &b0, &b1, &bn);
		CHECK_EQ(an, bn);
		CHECK_EQ(a0, b0);
		CHECK_EQ(a1, b1);
		CHECK(a0 > 0 && a1 > 0);
		for (size_t i = 0; i < an; i++)
			CHECK(pprof_sample_values(got[k], i)[0] && pprof_sample_values(got[k], i)[1]);
		CHECK_EQ(pprof_period(got[k]), 524288);
		CHECK_EQ(pprof_time_ns(got[k]), 1700000000000000000);
	}
	for (size_t i = 0; i < nparts; i++)
		pprof_profile_free(parts[i]);
	free(parts);
	for (int k = 0; k < 2; k++) {
		pprof_stream_free(s[k]);
		pprof_profile_free(got[k]);
		buf_free(&out[k]);
	}
	pprof_profile_free(p);
	pprof_builder_free(b);
}

TEST(stream_errors_leave_the_output_as_it_was)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_stream *s = NULL;
	const size_t bad[1] = {4};
	struct buf out, small;
	uint64_t loc = 99;
	int64_t v[4] = {1, 2, 3, 4};

	CHECK(b);
	buf_init(&out, 0);
	buf_init(&small, 64);
	CHECK_EQ(buf_append_str(&out, "kept"), 0);
	CHECK_EQ(begin(b), 0);
	CHECK_EQ(pprof_stream_new(b, bad, 1, 0, &out, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK_EQ(pprof_stream_new(b, NULL, 0, 0, &out, &s), 0);
	CHECK(out.len > 4);
	/* a location the builder does not have */
	CHECK_EQ(pprof_stream_add_sample(s, &loc, 1, v, NULL, 0), -EINVAL);
	/* a stream freed before it finished takes its bytes back */
	pprof_stream_free(s);
	CHECK_EQ(out.len, 4);
	CHECK_STR(out.data, "kept");
	/* past the bound of the output: -E2BIG, then the stream stays failed */
	CHECK_EQ(pprof_stream_new(b, NULL, 0, 0, &small, &s), 0);
	{
		int r = 0;
		for (int i = 0; i < 100 && r == 0; i++)
			r = pprof_stream_add_sample(s, NULL, 0, v, NULL, 0);
		CHECK_EQ(r, -E2BIG);
	}
	CHECK_EQ(pprof_stream_finish(s), -E2BIG);
	pprof_stream_free(s);
	CHECK_EQ(small.len, 0);
	pprof_builder_free(b);
	buf_free(&out);
	buf_free(&small);
}
