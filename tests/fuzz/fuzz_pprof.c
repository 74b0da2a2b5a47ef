/*
 * pprof profiles from outside (a scraped target's response): decode (gzip or not),
 * read every sample's frames, encode and decode again, apply the delta twice, rename
 * the sample types and split into uploadable parts, as the scraper does. Properties:
 * what decodes re-encodes to a profile that decodes to the same samples and totals;
 * the second delta of the same profile is OK with every cumulative value zero; no part
 * of a split has a sample that is zero in a named type.
 *
 * Input: flags (1 byte: bit 0 tight limits, bit 1 gzip the re-encoding), then the
 * profile.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "pprof.h"

static const struct pprof_limits tight = {
	.max_compressed = 1 << 16, .max_decompressed = 1 << 17, .max_samples = 64,
	.max_locations = 64, .max_functions = 64, .max_strings = 128, .max_stack_depth = 16,
	.max_values = 4,
};

static int count_frame(void *ctx, const char *function, const char *file, int64_t line,
		       uint64_t address)
{
	size_t *n = ctx;

	(void)line;
	(void)address;
	FUZZ_CHECK(function && file);
	(*n)++;
	return 0;
}

/* Reads everything a consumer reads; returns the number of frames. */
static size_t walk(const struct pprof_profile *p)
{
	size_t ntypes = pprof_sample_type_count(p), frames = 0;

	for (size_t i = 0; i < ntypes; i++) {
		const char *unit, *type = pprof_sample_type(p, i, &unit);
		FUZZ_CHECK(type && unit);
	}
	for (size_t i = 0; i < pprof_sample_count(p); i++) {
		FUZZ_CHECK(ntypes == 0 || pprof_sample_values(p, i));
		FUZZ_CHECK(pprof_sample_frames(p, i, count_frame, &frames) == 0);
	}
	FUZZ_CHECK(pprof_sample_frames(p, pprof_sample_count(p), count_frame, &frames) == -EINVAL);
	(void)pprof_time_ns(p);
	(void)pprof_duration_ns(p);
	(void)pprof_period(p);
	return frames;
}

static void check_same(const struct pprof_profile *a, const struct pprof_profile *b)
{
	FUZZ_CHECK(pprof_sample_type_count(a) == pprof_sample_type_count(b));
	FUZZ_CHECK(pprof_sample_count(a) == pprof_sample_count(b));
	for (size_t i = 0; i < pprof_sample_count(a); i++)
		FUZZ_CHECK(memcmp(pprof_sample_values(a, i), pprof_sample_values(b, i),
				  pprof_sample_type_count(a) * sizeof(int64_t)) == 0);
	FUZZ_CHECK(pprof_time_ns(a) == pprof_time_ns(b) &&
		   pprof_duration_ns(a) == pprof_duration_ns(b) &&
		   pprof_period(a) == pprof_period(b));
}

static void roundtrip(const struct pprof_profile *p, int gzip)
{
	struct pprof_profile *q = NULL;
	struct buf out;
	int r;

	buf_init(&out, 0);
	FUZZ_CHECK(pprof_encode(p, gzip, &out) == 0);
	r = pprof_decode(out.data, out.len, NULL, &q);
	if (r)
		fprintf(stderr, "re-encoded profile does not decode: %s\n", strerror(-r));
	FUZZ_CHECK(r == 0);
	check_same(p, q);
	FUZZ_CHECK(walk(p) == walk(q));
	pprof_profile_free(q);
	buf_free(&out);
}

static void deltas(const struct pprof_profile *p)
{
	struct pprof_profile *a = pprof_profile_dup(p), *b = pprof_profile_dup(p);
	struct pprof_delta *d = pprof_delta_new();
	size_t ntypes = pprof_sample_type_count(p);
	int *cum = calloc(ntypes + 1, sizeof(int)), r;

	FUZZ_CHECK(a && b && d && cum);
	pprof_go_cumulative(p, cum);
	r = pprof_delta_apply(d, a, cum, ntypes);
	FUZZ_CHECK(r == PPROF_DELTA_BASELINE || r < 0);
	if (r == PPROF_DELTA_BASELINE) {
		FUZZ_CHECK(pprof_delta_memory(d) > 0);
		r = pprof_delta_apply(d, b, cum, ntypes);
		FUZZ_CHECK(r == PPROF_DELTA_OK || r < 0);
		for (size_t i = 0; r == PPROF_DELTA_OK && i < pprof_sample_count(b); i++)
			for (size_t k = 0; k < ntypes; k++)
				FUZZ_CHECK(!cum[k] || pprof_sample_values(b, i)[k] == 0);
	}
	if (r >= 0) {
		static const struct pprof_rename map[] = {
			{"alloc_objects", "count", "go:heap_alloc_objects:count"},
			{"samples", NULL, ""},
			{"cpu", "nanoseconds", "go:profile_cpu:nanoseconds"},
		};
		struct pprof_profile **parts = NULL;
		size_t nparts = 0;

		FUZZ_CHECK(pprof_rename_sample_types(b, map, 3, 1) == 0);
		r = pprof_split_nonzero(b, &parts, &nparts);
		FUZZ_CHECK(r == 0 || r == -ENOMEM);
		for (size_t i = 0; i < nparts; i++) {
			size_t nt = pprof_sample_type_count(parts[i]);
			FUZZ_CHECK(pprof_sample_count(parts[i]) > 0);
			for (size_t s = 0; s < pprof_sample_count(parts[i]); s++) {
				int nonzero = 0;
				for (size_t k = 0; k < nt; k++) {
					const char *unit;
					const char *type = pprof_sample_type(parts[i], k, &unit);
					int64_t v = pprof_sample_values(parts[i], s)[k];
					FUZZ_CHECK(!type[0] || v != 0);
					nonzero |= v != 0;
				}
				FUZZ_CHECK(nonzero);
			}
			roundtrip(parts[i], 1);
			pprof_profile_free(parts[i]);
		}
		free(parts);
	}
	free(cum);
	pprof_delta_free(d);
	pprof_profile_free(a);
	pprof_profile_free(b);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_u8(&in);
	struct pprof_profile *p = NULL;
	int r = pprof_decode(in.p, in.n, flags & 1 ? &tight : NULL, &p);

	if (r) {
		FUZZ_CHECK(r == -E2BIG || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
		return 0;
	}
	walk(p);
	roundtrip(p, flags & 2);
	deltas(p);
	pprof_set_time(p, 1, 2);
	FUZZ_CHECK(pprof_time_ns(p) == 1 && pprof_duration_ns(p) == 2);
	pprof_profile_free(p);
	return 0;
}
