/*
 * The alloc counts a process's heap buckets had at the previous cycle: what the node
 * role subtracts to upload per-cycle alloc deltas, kept between cycles for every
 * process of the node, so it is kept small.
 *
 * The runtime's bucket list only ever grows at its head and never changes behind it,
 * so a cycle's walk meets the buckets of the previous walk again in the same order,
 * after the new ones. The baseline is therefore not a table keyed by bucket but the
 * previous walk itself: per bucket, its address as a signed gap from the one before and
 * its two counts, as varints in one allocation (about 8 bytes a bucket), read back with
 * a cursor in step with the new walk, while the next baseline is written.
 */
#ifndef PODPROF_ALLOCBASE_H
#define PODPROF_ALLOCBASE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct alloc_baseline {
	unsigned char *data; /* n x (zigzag varint address gap, varint allocs, varint bytes) */
	size_t len, n;
	uint64_t head;       /* the first (newest) bucket's address; 0 when empty */
};

/* One walk against a baseline: reads it and writes the next one. */
struct alloc_pass {
	const struct alloc_baseline *prev;
	const unsigned char *p; /* cursor into prev */
	size_t left;
	uint64_t addr;
	int phase;              /* new buckets, then the previous ones, then unknown ones */
	struct buf next;
	uint64_t last, head;
	size_t n;
};

/* Frees b's memory; b is then empty. */
void alloc_baseline_free(struct alloc_baseline *b);
/* Bytes of memory b holds. */
size_t alloc_baseline_memory(const struct alloc_baseline *b);

/* Starts a walk against prev (which must stay unchanged until the pass ends). */
void alloc_pass_begin(struct alloc_pass *ps, const struct alloc_baseline *prev);
/*
 * The next bucket of the walk, at addr, with its counts now (allocs, alloc bytes):
 * fills prev_counts with what the baseline holds for it. A bucket created since the
 * previous walk had nothing (0, 0); a bucket the previous walk did not see although it
 * was there (beyond its bucket bound, or a list that does not continue as it did) has
 * no known baseline and gets its counts now (a delta of 0). The next baseline keeps the
 * larger of the two. Returns 0 or -ENOMEM (the pass is then to be discarded).
 */
int alloc_pass_step(struct alloc_pass *ps, uint64_t addr, const uint64_t counts[2],
		    uint64_t prev_counts[2]);
/* Ends the walk: b (the baseline the pass read, or another) becomes the walk's. */
int alloc_pass_end(struct alloc_pass *ps, struct alloc_baseline *b);
/* Ends the walk without a new baseline (the read failed). */
void alloc_pass_discard(struct alloc_pass *ps);

#endif
