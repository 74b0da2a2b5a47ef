/*
 * Stack symbolization with a per-binary PC cache. See symbolize.h for the rules; each
 * one mirrors a step of runtime/pprof's writeHeapProto and appendLocsForStack, so that
 * a profile read from outside is the one the process would write itself.
 */
#define LOG_MODULE "symbolize"
#include "symbolize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_EXPAND 64

/* One cached lookup: the frame at a PC (sym) or only the function name at a raw PC. */
struct entry {
	uint64_t key; /* pc << 1 | raw */
	const char *function;
	const char *file;
	int64_t line;
	int64_t start_line;
	uint64_t func_entry;
	int32_t inlined;
	int32_t ok;
	/* the Location that began at this PC in the current build (pprof's b.locs) */
	uint64_t loc_id;
	uint32_t loc_gen;
	uint32_t loc_npcs;
};

struct symcache {
	const struct pclntab *t;
	int go_minor;
	uint32_t gen;                /* current build (symcache_begin) */
	struct entry *slots;
	size_t cap, n;
};

struct symcache *symcache_new(const struct pclntab *t, int go_minor)
{
	struct symcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->t = t;
	c->go_minor = go_minor;
	return c;
}

void symcache_free(struct symcache *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

size_t symcache_entries(const struct symcache *c)
{
	return c->n;
}

size_t symcache_memory(const struct symcache *c)
{
	return sizeof(*c) + c->cap * sizeof(struct entry);
}

static int rehash(struct symcache *c, size_t cap)
{
	struct entry *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++) {
		size_t j;
		if (!c->slots[i].key)
			continue;
		for (j = hash64_u64(c->slots[i].key, 0) & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
			;
		slots[j] = c->slots[i];
	}
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

/* The frame at pc (raw = 0: the PC to symbolize; raw = 1: the function at a raw PC). */
static struct entry *lookup(struct symcache *c, uint64_t pc, int raw)
{
	uint64_t key = pc << 1 | (uint64_t)raw;
	struct go_frame fr;
	struct entry *e;
	size_t i;

	if (key == 0)
		key = 2; /* 0 marks an empty slot; pc 0 never symbolizes anyway */
	if (c->cap) {
		for (i = hash64_u64(key, 0) & (c->cap - 1); c->slots[i].key; i = (i + 1) & (c->cap - 1))
			if (c->slots[i].key == key)
				return &c->slots[i];
	}
	if (c->n >= SYMCACHE_MAX_ENTRIES) {
		/* full: start over rather than grow without bound */
		memset(c->slots, 0, c->cap * sizeof(*c->slots));
		c->n = 0;
	}
	if ((c->n + 1) * 2 > c->cap && rehash(c, c->cap ? c->cap * 2 : 1024))
		return NULL;
	for (i = hash64_u64(key, 0) & (c->cap - 1); c->slots[i].key; i = (i + 1) & (c->cap - 1))
		;
	e = &c->slots[i];
	memset(e, 0, sizeof(*e));
	e->key = key;
	c->n++;
	if (pclntab_frame(c->t, pc, &fr) == 0) {
		e->ok = 1;
		e->function = fr.function;
		e->file = fr.file;
		e->line = fr.line;
		e->start_line = fr.start_line;
		e->func_entry = fr.entry;
		e->inlined = fr.inlined;
	}
	return e;
}

static int is_runtime(const struct symcache *c, const char *name)
{
	return strncmp(name, "runtime.", 8) == 0 ||
	       (c->go_minor >= 24 && strncmp(name, "internal/runtime/", 17) == 0);
}

/* The pcDeck of runtime/pprof: PCs and their frames waiting to become one Location. */
struct deck {
	uint64_t first_addr; /* runtime address of the first PC's frame (PC-1) */
	uint64_t first_pc;   /* link-time PC that began the Location (its cache key) */
	struct entry frames[MAX_EXPAND]; /* copies: a lookup may move the cache's slots */
	size_t n;
};

static int emit(struct symcache *c, struct pprof_builder *b, uint64_t mapping_id,
		struct deck *d, uint64_t *locs, size_t max, size_t *nlocs)
{
	struct pprof_line lines[MAX_EXPAND];
	size_t nl = 0;
	uint64_t id;

	if (d->n == 0)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct entry *e = &d->frames[i];
		if (!e->ok)
			continue;
		lines[nl].function_id =
			pprof_builder_function(b, e->function, e->function, e->file, e->start_line);
		if (!lines[nl].function_id)
			return -ENOMEM;
		lines[nl].line = e->line;
		nl++;
	}
	id = pprof_builder_location(b, mapping_id, d->first_addr, lines, nl);
	if (!id)
		return -ENOMEM;
	{
		struct entry *raw = lookup(c, d->first_pc, 1);
		if (raw) {
			raw->loc_id = id;
			raw->loc_gen = c->gen;
			raw->loc_npcs = (uint32_t)d->n;
		}
	}
	d->n = 0;
	if (*nlocs < max)
		locs[(*nlocs)++] = id;
	return 0;
}

/* pcDeck.tryAdd: may frame e (for a PC) join the deck's Location? */
static int can_join(const struct deck *d, const struct entry *e)
{
	const struct entry *last;

	if (d->n == 0)
		return 1;
	if (d->n == MAX_EXPAND)
		return 0;
	last = &d->frames[d->n - 1];
	if (!last->inlined)       /* the last frame is a physical function: closed */
		return 0;
	if (!last->ok || !e->ok || last->func_entry != e->func_entry)
		return 0;
	return strcmp(last->function, e->function) != 0; /* same name: recursion */
}

static int locations(struct symcache *c, struct pprof_builder *b, uint64_t mapping_id,
		     uint64_t bias, const uint64_t *stk, size_t n, uint64_t *locs, size_t max,
		     size_t *nlocs)
{
	struct deck d = {0};
	int r;

	/* entries are copied out of the cache at once: any lookup may move its slots */
	for (size_t i = 0; i < n; i++) {
		uint64_t pc = stk[i] - bias, sym = pc;
		struct entry raw, e, *found;

		if (!(found = lookup(c, pc, 1)))
			return -ENOMEM;
		raw = *found;
		/* a Location already begun at this PC in this build: reuse it and skip the
		 * PCs it covers, as pprof's appendLocsForStack does */
		if (raw.loc_gen == c->gen && raw.loc_id && raw.loc_npcs <= n - i) {
			if ((r = emit(c, b, mapping_id, &d, locs, max, nlocs)))
				return r;
			if (*nlocs < max)
				locs[(*nlocs)++] = raw.loc_id;
			i += raw.loc_npcs - 1;
			continue;
		}
		/* return PCs: symbolize the call instruction (pc-1), as Frames.Next does */
		if ((raw.ok && pc > raw.func_entry) || (!raw.ok && pc > 0))
			sym = pc - 1;
		if (!(found = lookup(c, sym, 0)))
			return -ENOMEM;
		e = *found;
		if (e.ok && strcmp(e.function, "runtime.goexit") == 0) {
			if ((r = emit(c, b, mapping_id, &d, locs, max, nlocs)))
				return r;
			continue;
		}
		if (!can_join(&d, &e) && (r = emit(c, b, mapping_id, &d, locs, max, nlocs)))
			return r;
		if (d.n == 0) {
			d.first_addr = sym + bias;
			d.first_pc = pc;
		}
		d.frames[d.n++] = e;
	}
	return emit(c, b, mapping_id, &d, locs, max, nlocs);
}

void symcache_begin(struct symcache *c)
{
	if (++c->gen == 0)
		c->gen = 1;
}

int symcache_stack(struct symcache *c, struct pprof_builder *b, uint64_t mapping_id,
		   uint64_t bias, const uint64_t *pcs, size_t n, uint64_t *locs, size_t max,
		   size_t *nlocs)
{
	uint64_t expanded[1024 + MAX_EXPAND];
	size_t start = 0, len = n;
	int r;

	*nlocs = 0;
	if (n > 1024)
		return -E2BIG;

	/* hideRuntime: skip leading runtime frames, judged by the function at the raw PC */
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = lookup(c, pcs[i] - bias, 1);
		if (!e)
			return -ENOMEM;
		if (e->ok && is_runtime(c, e->function))
			continue;
		start = i;
		break;
	}
	len = n - start;
	memcpy(expanded, pcs + start, len * sizeof(*pcs));
	/* expandFinalInlineFrame: a stack cut at its depth limit inside an inline group */
	if (len > 0) {
		uint64_t last = expanded[len - 1] - bias, parents[MAX_EXPAND];
		int np = pclntab_inline_parents(c->t, last - 1, parents, MAX_EXPAND);
		for (int k = 0; k < np; k++)
			expanded[len++] = parents[k] + bias;
	}
	r = locations(c, b, mapping_id, bias, expanded, len, locs, max, nlocs);
	if (r == 0 && *nlocs == 0 && start > 0) {
		/* nothing left after hiding the runtime: show every frame, as pprof's retry */
		r = locations(c, b, mapping_id, bias, pcs, n, locs, max, nlocs);
	}
	return r;
}
