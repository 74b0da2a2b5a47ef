/*
 * Alloc baselines (see allocbase.h). The walk goes through three phases: buckets before
 * the previous walk's first one are new; from it on, each bucket must be the next one
 * the baseline lists; once one is not (or the baseline ends), the rest are unknown.
 * Memory, CPU and nothing looked up: one varint read and one written per bucket.
 */
#define LOG_MODULE "node"
#include "allocbase.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { PHASE_NEW, PHASE_KNOWN, PHASE_UNKNOWN };

/* Bytes of one baseline entry at most: three varints. */
#define ENTRY_MAX (3 * VARINT_MAX_BYTES)

void alloc_baseline_free(struct alloc_baseline *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

size_t alloc_baseline_memory(const struct alloc_baseline *b)
{
	return b->len;
}

void alloc_pass_begin(struct alloc_pass *ps, const struct alloc_baseline *prev)
{
	memset(ps, 0, sizeof(*ps));
	ps->prev = prev;
	ps->p = prev->data;
	ps->left = prev->n;
	buf_init(&ps->next, 0);
}

int alloc_pass_step(struct alloc_pass *ps, uint64_t addr, const uint64_t counts[2],
		    uint64_t prev_counts[2])
{
	unsigned char *w;
	uint64_t keep[2];
	int r;

	prev_counts[0] = prev_counts[1] = 0;
	if (ps->phase == PHASE_NEW && ps->prev->n && addr == ps->prev->head)
		ps->phase = PHASE_KNOWN;
	if (ps->phase == PHASE_KNOWN) {
		int listed = ps->left > 0;

		if (listed) {
			ps->left--;
			ps->addr += (uint64_t)varint_unzigzag(varint_get(&ps->p));
			prev_counts[0] = varint_get(&ps->p);
			prev_counts[1] = varint_get(&ps->p);
		}
		/* past the baseline's end, or not the bucket it has next */
		if (!listed || ps->addr != addr) {
			log_debug("alloc baseline: bucket %#llx is not where the previous walk "
				  "had it", (unsigned long long)addr);
			ps->phase = PHASE_UNKNOWN;
		}
	}
	if (ps->phase == PHASE_UNKNOWN) {
		prev_counts[0] = counts[0];
		prev_counts[1] = counts[1];
	}
	keep[0] = counts[0] > prev_counts[0] ? counts[0] : prev_counts[0];
	keep[1] = counts[1] > prev_counts[1] ? counts[1] : prev_counts[1];
	if ((r = buf_reserve(&ps->next, ENTRY_MAX)))
		return r;
	w = (unsigned char *)ps->next.data + ps->next.len;
	w += varint_put(w, varint_zigzag((int64_t)(addr - ps->last)));
	w += varint_put(w, keep[0]);
	w += varint_put(w, keep[1]);
	ps->next.len = (size_t)((char *)w - ps->next.data);
	if (!ps->n++)
		ps->head = addr;
	ps->last = addr;
	return 0;
}

int alloc_pass_end(struct alloc_pass *ps, struct alloc_baseline *b)
{
	size_t len = ps->next.len;
	unsigned char *data = (unsigned char *)buf_steal(&ps->next, &len), *shrunk;

	if (!data)
		return -ENOMEM;
	/* the baseline lives until the next cycle: give back what growing over-reserved */
	shrunk = realloc(data, len + 1);
	free(b->data);
	b->data = shrunk ? shrunk : data;
	b->len = len;
	b->n = ps->n;
	b->head = ps->head;
	return 0;
}

void alloc_pass_discard(struct alloc_pass *ps)
{
	buf_free(&ps->next);
}
