/*
 * The bucket walk. Reads take no locks in the target, so values can be a moment apart
 * across buckets (the runtime's own reader is not atomic across buckets either); the
 * list itself is safe to walk: buckets are immutable once linked and never freed, and
 * new ones are only prepended.
 */
#define LOG_MODULE "heapread"
#include "heapread.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define HEADER 48
#define BUCKET_MEM 1
#define MAX_RECORD 128

static const struct heap_limits default_limits = {1000000, 1024};

/* An open-addressing set of bucket addresses, to stop on a cycle. */
struct addrset {
	uint64_t *slots;
	size_t cap, n;
};

static int addrset_add(struct addrset *s, uint64_t a)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++) {
			if (!s->slots[k])
				continue;
			for (i = hash64_u64(s->slots[k], 0) & (cap - 1); slots[i]; i = (i + 1) & (cap - 1))
				;
			slots[i] = s->slots[k];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (i = hash64_u64(a, 0) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == a)
			return -EPROTO; /* seen before: a cycle */
	s->slots[i] = a;
	s->n++;
	return 0;
}

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

/* Buckets grow the arrays by doubling; pcs likewise. The first call allocates even when
 * nothing is needed yet (a first bucket with no stack): the arrays are never NULL once a
 * bucket is kept, so that pcs + stk is always a valid pointer. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 256;
	void *q;
	if (need <= *cap && *p)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

int heap_read(struct procmem *m, const struct gobin *b, uint64_t bias,
	      const struct heap_limits *lim, struct heap_snapshot *out)
{
	/* per-cycle words: 4 up to 1.26, 2 from 1.27 */
	int words = b->info.minor >= 27 ? 2 : 4;
	size_t record = (size_t)words * 8 * 4, bcap = 0, pcap = 0;
	uint64_t head, raw[MAX_RECORD / 8];
	struct addrset seen = {0};
	struct heap_snapshot s = {0};
	uint32_t cycle_raw, idx;
	int all_zero = 1, r;

	if (!lim)
		lim = &default_limits;
	memset(out, 0, sizeof(*out));
	if ((r = heap_read_rate(m, b, bias, &s.rate)) ||
	    (r = procmem_read(m, b->mprof_cycle + bias, &cycle_raw, sizeof(cycle_raw))) ||
	    (r = procmem_read(m, b->mbuckets + bias, &head, sizeof(head))))
		goto fail;
	/* 1.19+: mProfCycleHolder keeps cycle << 1 | flushed */
	s.cycle = cycle_raw >> 1;
	idx = s.cycle % 3;
	for (uint64_t addr = head; addr; ) {
		uint64_t hdr[6];
		struct heap_bucket *bk;
		uint64_t *cyc;

		if (addr & 7) {
			r = -EPROTO;
			goto fail;
		}
		if (s.nbuckets == lim->max_buckets) {
			r = -E2BIG;
			goto fail;
		}
		if ((r = addrset_add(&seen, addr)) || (r = procmem_read(m, addr, hdr, sizeof(hdr))))
			goto fail;
		/* typ must be memProfile; nstk must be within what the runtime can record */
		if (hdr[2] != BUCKET_MEM || hdr[5] > lim->max_depth || hdr[5] > 1024) {
			r = -EPROTO;
			goto fail;
		}
		if ((r = grow((void **)&s.buckets, &bcap, s.nbuckets + 1, sizeof(*s.buckets))) ||
		    (r = grow((void **)&s.pcs, &pcap, s.npcs + hdr[5], sizeof(*s.pcs))))
			goto fail;
		bk = &s.buckets[s.nbuckets];
		memset(bk, 0, sizeof(*bk));
		bk->addr = addr;
		bk->size = hdr[4];
		bk->nstk = (uint32_t)hdr[5];
		bk->stk = s.npcs;
		if ((r = procmem_read(m, addr + HEADER, s.pcs + s.npcs, hdr[5] * 8)) ||
		    (r = procmem_read(m, addr + HEADER + hdr[5] * 8, raw, record)))
			goto fail;
		s.npcs += hdr[5];
		cyc = raw;
		/* active, then future[cycle % 3] (the slot mProf_Flush would fold in) */
		add_cycle(&bk->counts, cyc, words);
		add_cycle(&bk->counts, cyc + (size_t)words * (1 + idx), words);
		if (bk->counts.allocs || bk->counts.frees)
			all_zero = 0;
		s.nbuckets++;
		addr = hdr[1];
	}
	if (all_zero && s.nbuckets) {
		/* no garbage collection yet: the runtime folds every future cycle in */
		s.folded = 1;
		for (size_t i = 0; i < s.nbuckets; i++) {
			struct heap_bucket *bk = &s.buckets[i];
			uint64_t rec_addr = bk->addr + HEADER + (uint64_t)bk->nstk * 8;
			memset(&bk->counts, 0, sizeof(bk->counts));
			if ((r = procmem_read(m, rec_addr, raw, record)))
				goto fail;
			for (int c = 0; c < 4; c++)
				add_cycle(&bk->counts, raw + (size_t)words * c, words);
		}
	}
	if (words == 2) {
		for (size_t i = 0; i < s.nbuckets; i++) {
			s.buckets[i].counts.alloc_bytes = s.buckets[i].counts.allocs * s.buckets[i].size;
			s.buckets[i].counts.free_bytes = s.buckets[i].counts.frees * s.buckets[i].size;
		}
	}
	free(seen.slots);
	*out = s;
	return 0;
fail:
	free(seen.slots);
	heap_snapshot_free(&s);
	return r;
}

void heap_snapshot_free(struct heap_snapshot *s)
{
	free(s->buckets);
	free(s->pcs);
	memset(s, 0, sizeof(*s));
}
