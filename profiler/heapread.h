/*
 * The heap-profile bucket walker: reads runtime.mbuckets of a live Go process and
 * returns each bucket's stack and the counts the runtime would publish at this moment,
 * for the process's Go version.
 *
 * Bucket layout (64-bit, every release 1.19..1.27): a 48-byte header {next, allnext,
 * typ, hash, size, nstk}, nstk stack words, then the memRecord {active, future[3]} of
 * four cycles: {allocs, frees, alloc_bytes, free_bytes} (32 bytes) up to 1.26,
 * {allocs, frees} (16 bytes) from 1.27, where bytes are counts times the size.
 * Published counts, as runtime.MemProfile computes them without writing anything:
 * active + future[cycle % 3]; when that is zero for every bucket (no GC yet), active
 * plus all three futures.
 *
 * The walk hands buckets over one at a time instead of collecting them: a process can
 * hold millions of buckets (golang/go#69590: gigabytes of them), and what a bucket costs
 * podprof is then only what its consumer keeps of it.
 */
#ifndef PODPROF_HEAPREAD_H
#define PODPROF_HEAPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "gobin.h"
#include "procmem.h"
#include "profiler.h"

struct heap_counts {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

/* One bucket as a walk hands it over; stk points into the walker's buffer and is valid
 * during the call only. */
struct heap_bucket {
	uint64_t addr;        /* in the process; stable for the bucket's life (never freed) */
	uint64_t size;        /* object size */
	uint32_t nstk;
	const uint64_t *stk;  /* runtime addresses, return PCs */
	struct heap_counts counts;
};

/* What a walk learns besides the buckets. rate, bias, cycle and folded are set before
 * the first bucket is handed over. */
struct heap_walk_info {
	int64_t rate;     /* runtime.MemProfileRate at the time of the read */
	uint64_t bias;    /* the walk's bias: runtime minus link-time address */
	uint32_t cycle;
	int folded;       /* no GC yet: futures folded in */
	size_t nbuckets;  /* buckets walked */
	int partial;      /* the list goes on past max_buckets: the newest were walked */
};

struct heap_limits {
	size_t max_buckets; /* the walk stops after as many (0: GOHEAP_DEFAULT_MAX_BUCKETS) */
	size_t max_depth;   /* default 1024 (the runtime's maxProfStackDepth) */
};

/* Called for each bucket; a non-zero return stops the walk, which returns it. */
typedef int (*heap_bucket_fn)(void *ctx, const struct heap_bucket *b,
			      const struct heap_walk_info *info);

/*
 * Walks the bucket list of the process behind m, newest bucket first, with the
 * addresses of b shifted by bias (the load bias for PIE, 0 otherwise), and calls fn for
 * each bucket; with fn NULL the buckets are only counted and checked (their stacks and
 * counts are not read). After lim->max_buckets buckets the walk stops with
 * info->partial set when the list goes on: a bound on time and on what a caller keeps
 * per bucket. Memory is constant whatever the list's length. Returns 0, -ESRCH (the
 * process exited), -EFAULT (memory not readable where the list points), -EPROTO (the
 * list is not a bucket list: wrong type, absurd depth, a cycle), fn's non-zero return,
 * or -errno. What fn was given before an error is not taken back: a caller that builds
 * something from the buckets discards it on error. One thread at a time per procmem.
 */
int heap_walk(struct procmem *m, const struct gobin *b, uint64_t bias,
	      const struct heap_limits *lim, heap_bucket_fn fn, void *ctx,
	      struct heap_walk_info *info);

/* Reads runtime.MemProfileRate. */
int heap_read_rate(struct procmem *m, const struct gobin *b, uint64_t bias, int64_t *rate);

/* runtime/pprof's scaleHeapSample: the unsampled estimate of count objects of total
 * size bytes sampled at rate. */
void heap_scale(int64_t count, int64_t size, int64_t rate, int64_t *out_count,
		int64_t *out_size);

#endif
