/*
 * Heap profiles written bucket by bucket, in runtime/pprof's shape: sample types
 * alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes (or
 * Coroot's go_runtime:heap_* names), period type space/bytes with MemProfileRate as the
 * period, values scaled by scaleHeapSample, and a numeric "bytes" label with the
 * object size.
 *
 * A writer turns each bucket of a walk into an encoded sample at once (pprof streams):
 * what it keeps is the symbolized frames and locations, which the binary bounds, and
 * the compressed output, a few bytes a bucket; never the buckets or their stacks.
 */
#ifndef PODPROF_HEAPPROFILE_H
#define PODPROF_HEAPPROFILE_H

#include <stddef.h>
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
	int split;                     /* two profiles: alloc_* values, and inuse_* values */
	int64_t time_ns, duration_ns;  /* 0 = unset */
	const struct pprof_mapping_info *mapping; /* the executable, or NULL */
};

/* The cumulative values of a bucket, as runtime.MemProfile reports them. */
void heap_values_cumulative(const struct heap_bucket *b, struct heap_values *v);

struct heap_writer;

/*
 * Starts a heap profile written as gzip pprof to out[0]; with spec->split, one with the
 * alloc_* types to out[0] and one with the inuse_* types to out[1], each leaving out the
 * samples that are zero in both of its types (what the uploader's split would do).
 * Symbols come from c (one writer at a time per cache). spec is read here, its time
 * may be set again before the end (heap_writer_set_time); out must outlive the writer.
 * Returns 0 or a negative errno; the caller owns *w.
 */
int heap_writer_new(const struct heap_profile_spec *spec, struct symcache *c, struct buf *out,
		    struct heap_writer **w);
/* Writes bucket b of a walk (info: its rate and bias) with the unscaled values v (NULL:
 * cumulative, as the runtime would report). Buckets with nothing to report are skipped.
 * Returns 0 or a negative errno (the writer has then failed for good). */
int heap_writer_add(struct heap_writer *w, const struct heap_bucket *b,
		    const struct heap_values *v, const struct heap_walk_info *info);
/* The profile's time (end of its window) and duration, 0 = unset. */
void heap_writer_set_time(struct heap_writer *w, int64_t time_ns, int64_t duration_ns);
/* Ends the profile(s) of a walk: the period is its rate, and a walk that stopped at its
 * bucket bound gets a comment saying the profile is partial. samples[i] (one entry per
 * output) receives the samples written to out[i]. Returns 0 or a negative errno. */
int heap_writer_finish(struct heap_writer *w, const struct heap_walk_info *info,
		       size_t *samples);
/* Frees the writer; what an unfinished writer appended to out is taken back. */
void heap_writer_free(struct heap_writer *w);

#endif
