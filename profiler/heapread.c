/*
 * The bucket walk. Reads take no locks in the target, so values can be a moment apart
 * across buckets (the runtime's own reader is not atomic across buckets either); the
 * list itself is safe to walk: buckets are immutable once linked and never freed, and
 * new ones are only prepended.
 *
 * Nothing is kept per bucket. A cycle (a corrupt list) is found with Brent's algorithm,
 * which needs two words instead of a set of every address seen: within three times the
 * way into the cycle plus its length, or not at all when the bucket bound comes first
 * (the buckets handed over until then may repeat). Whether the runtime would fold the future cycles in (no bucket has published
 * counts yet) is decided before the walk by a look at the list up to the first bucket
 * that has some, which after the first GC is one of the first few.
 */
#define LOG_MODULE "heapread"
#include "heapread.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common.h"

#define HEADER 48
#define BUCKET_MEM 1
#define MAX_RECORD 128
#define MAX_DEPTH 1024

/* A scaled value as an int64: values beyond its range (from corrupt counts) saturate. */
static int64_t scaled(double v)
{
	return v >= 0x1p63 ? INT64_MAX : (int64_t)v;
}

void heap_scale(int64_t count, int64_t size, int64_t rate, int64_t *out_count, int64_t *out_size)
{
	double avg, scale;

	/* negative values never come from a real bucket; they scale to nothing */
	if (count <= 0 || size <= 0) {
		*out_count = 0;
		*out_size = 0;
		return;
	}
	if (rate <= 1) {
		*out_count = count;
		*out_size = size;
		return;
	}
	avg = (double)size / (double)count;
	scale = 1 / (1 - exp(-avg / (double)rate));
	*out_count = scaled((double)count * scale);
	*out_size = scaled((double)size * scale);
}

int heap_read_rate(struct procmem *m, const struct gobin *b, uint64_t bias, int64_t *rate)
{
	return procmem_read(m, b->mem_profile_rate + bias, rate, sizeof(*rate));
}

static void add_cycle(struct heap_counts *c, const uint64_t *w, int words)
{
	c->allocs += w[0];
	c->frees += w[1];
	if (words == 4) {
		c->alloc_bytes += w[2];
		c->free_bytes += w[3];
	}
}

/* Reads the header of the bucket at addr and checks it. */
static int read_header(struct procmem *m, uint64_t addr, size_t max_depth, uint64_t *hdr)
{
	int r;

	if (addr & 7)
		return -EPROTO;
	if ((r = procmem_read(m, addr, hdr, HEADER)))
		return r;
	/* typ must be memProfile; nstk must be within what the runtime can record */
	if (hdr[2] != BUCKET_MEM || hdr[5] > max_depth || hdr[5] > MAX_DEPTH)
		return -EPROTO;
	return 0;
}

/*
 * Whether the runtime would publish active plus every future cycle: when no bucket has
 * published counts (active + future[idx]) yet, i.e. before the first GC. Looks until
 * the first bucket that has some, and at most at max buckets (beyond them a list that
 * long with nothing published is taken as not collected yet).
 */
static int all_unpublished(struct procmem *m, uint64_t head, const struct heap_limits *lim,
			   int words, uint32_t idx, int *folded)
{
	size_t record = (size_t)words * 8 * 4, n = 0;
	uint64_t hdr[HEADER / 8], raw[MAX_RECORD / 8];
	int r;

	*folded = 0;
	for (uint64_t addr = head; addr; addr = hdr[1]) {
		struct heap_counts c = {0};

		if (n++ == lim->max_buckets)
			break;
		if ((r = read_header(m, addr, lim->max_depth, hdr)) ||
		    (r = procmem_read(m, addr + HEADER + hdr[5] * 8, raw, record)))
			return r;
		add_cycle(&c, raw, words);
		add_cycle(&c, raw + (size_t)words * (1 + idx), words);
		if (c.allocs || c.frees)
			return 0;
	}
	*folded = head != 0;
	return 0;
}

int heap_walk(struct procmem *m, const struct gobin *b, uint64_t bias,
	      const struct heap_limits *lim, heap_bucket_fn fn, void *ctx,
	      struct heap_walk_info *info)
{
	/* per-cycle words: 4 up to 1.26, 2 from 1.27 */
	int words = b->info.minor >= 27 ? 2 : 4;
	size_t record = (size_t)words * 8 * 4, power = 1, steps = 0;
	struct heap_limits l = {GOHEAP_DEFAULT_MAX_BUCKETS, MAX_DEPTH};
	uint64_t head, tortoise = 0, hdr[HEADER / 8], words_buf[MAX_DEPTH + MAX_RECORD / 8];
	uint32_t cycle_raw, idx;
	int r;

	if (lim && lim->max_buckets)
		l.max_buckets = lim->max_buckets;
	if (lim && lim->max_depth)
		l.max_depth = lim->max_depth;
	memset(info, 0, sizeof(*info));
	info->bias = bias;
	if ((r = heap_read_rate(m, b, bias, &info->rate)) ||
	    (r = procmem_read(m, b->mprof_cycle + bias, &cycle_raw, sizeof(cycle_raw))) ||
	    (r = procmem_read(m, b->mbuckets + bias, &head, sizeof(head))))
		goto out;
	/* 1.19+: mProfCycleHolder keeps cycle << 1 | flushed */
	info->cycle = cycle_raw >> 1;
	idx = info->cycle % 3;
	if (fn && (r = all_unpublished(m, head, &l, words, idx, &info->folded)))
		goto out;
	for (uint64_t addr = head; addr; addr = hdr[1]) {
		struct heap_bucket bk = {.addr = addr, .stk = words_buf};
		const uint64_t *cyc;

		if (info->nbuckets == l.max_buckets) {
			info->partial = 1;
			break;
		}
		/* Brent: the tortoise waits at a bucket while the walk goes on for twice as
		 * long as last time; meeting it again means a cycle */
		if (addr == tortoise) {
			r = -EPROTO;
			goto out;
		}
		if (++steps == power) {
			tortoise = addr;
			power *= 2;
			steps = 0;
		}
		if ((r = read_header(m, addr, l.max_depth, hdr)))
			goto out;
		info->nbuckets++;
		if (!fn)
			continue;
		bk.size = hdr[4];
		bk.nstk = (uint32_t)hdr[5];
		/* the stack and the memRecord after it, in one read */
		if ((r = procmem_read(m, addr + HEADER, words_buf, hdr[5] * 8 + record)))
			goto out;
		cyc = words_buf + hdr[5];
		if (info->folded) {
			/* no garbage collection yet: the runtime folds every future cycle in */
			for (int c = 0; c < 4; c++)
				add_cycle(&bk.counts, cyc + (size_t)words * c, words);
		} else {
			/* active, then future[cycle % 3] (the slot mProf_Flush would fold in) */
			add_cycle(&bk.counts, cyc, words);
			add_cycle(&bk.counts, cyc + (size_t)words * (1 + idx), words);
		}
		if (words == 2) {
			bk.counts.alloc_bytes = bk.counts.allocs * bk.size;
			bk.counts.free_bytes = bk.counts.frees * bk.size;
		}
		if ((r = fn(ctx, &bk, info)))
			goto out;
	}
	r = 0;
out:
	return r;
}
