/*
 * Heap profiles from bucket snapshots, in runtime/pprof's shape: sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes (or
 * Coroot's go_runtime:heap_* names), period type space/bytes with MemProfileRate as the
 * period, values scaled by scaleHeapSample, and a numeric "bytes" label with the
 * object size.
 */
#ifndef PODPROF_HEAPPROFILE_H
#define PODPROF_HEAPPROFILE_H

#include <stdint.h>

#include "heapread.h"
#include "pprof.h"
#include "symbolize.h"

/* Unscaled values of one bucket to report. */
struct heap_values {
	int64_t alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
};

/* The runtime/pprof sample type names, and Coroot's for externally read heaps. */
extern const char *const heap_type_names_pprof[4];
extern const char *const heap_type_names_coroot[4];

struct heap_profile_spec {
	const char *const *type_names; /* 4 names; NULL = heap_type_names_pprof */
	int64_t time_ns, duration_ns;  /* 0 = unset */
	const struct pprof_mapping_info *mapping; /* the executable, or NULL */
};

/* The cumulative values of a bucket, as runtime.MemProfile reports them. */
void heap_values_cumulative(const struct heap_bucket *b, struct heap_values *v);

/*
 * Builds the profile of snapshot s, one sample per bucket with non-zero values;
 * values[i] holds bucket i's unscaled values (NULL: cumulative, as the runtime would
 * report). Symbols come from c; bias is runtime minus link-time address. The caller
 * owns *out. Returns 0 or a negative errno.
 */
int heap_profile_build(const struct heap_snapshot *s, const struct heap_values *values,
		       struct symcache *c, uint64_t bias, const struct heap_profile_spec *spec,
		       struct pprof_profile **out);

#endif
