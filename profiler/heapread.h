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
 */
#ifndef PODPROF_HEAPREAD_H
#define PODPROF_HEAPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "gobin.h"
#include "procmem.h"

struct heap_counts {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

struct heap_bucket {
	uint64_t addr; /* in the process; stable for the bucket's life (never freed) */
	uint64_t size; /* object size */
	uint32_t nstk;
	size_t stk;    /* index of the first PC in heap_snapshot.pcs */
	struct heap_counts counts;
};

struct heap_snapshot {
	struct heap_bucket *buckets;
	size_t nbuckets;
	uint64_t *pcs; /* runtime addresses, return PCs */
	size_t npcs;
	int64_t rate;  /* runtime.MemProfileRate at the time of the read */
	uint32_t cycle;
	int folded;    /* no GC yet: futures folded in */
};

struct heap_limits {
	size_t max_buckets; /* default 1,000,000 */
	size_t max_depth;   /* default 1024 (the runtime's maxProfStackDepth) */
};

/*
 * Walks the bucket list of the process behind m, with the addresses of b shifted by
 * bias (the load bias for PIE, 0 otherwise). Returns 0, -ESRCH (the process exited),
 * -EFAULT (memory not readable where the list points), -EPROTO (the list is not a
 * bucket list: wrong type, absurd depth, a cycle), -E2BIG (a limit), or -errno. On
 * error nothing is returned (no partial snapshot). The caller frees *out with
 * heap_snapshot_free. One thread at a time per procmem.
 */
int heap_read(struct procmem *m, const struct gobin *b, uint64_t bias,
	      const struct heap_limits *lim, struct heap_snapshot *out);
void heap_snapshot_free(struct heap_snapshot *s);

/* Reads runtime.MemProfileRate. */
int heap_read_rate(struct procmem *m, const struct gobin *b, uint64_t bias, int64_t *rate);

/* runtime/pprof's scaleHeapSample: the unsampled estimate of count objects of total
 * size bytes sampled at rate. */
void heap_scale(int64_t count, int64_t size, int64_t rate, int64_t *out_count,
		int64_t *out_size);

#endif
