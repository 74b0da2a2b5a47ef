/*
 * Symbolization of heap-profile stacks exactly as runtime/pprof writes them.
 *
 * For each stack (return PCs): leading runtime frames are dropped (hideRuntime: frames
 * whose function at the raw PC starts with "runtime." or, from 1.24, with
 * "internal/runtime/"; a stack of runtime frames only is kept whole), an inline group
 * cut off at the end is completed (expandFinalInlineFrame), every PC is symbolized at
 * PC-1 to its innermost frame, runtime.goexit is dropped, and consecutive PCs of
 * inlined calls within one physical function become one Location with several Lines
 * (innermost first), as pprof's pcDeck does. Symbolized PCs are cached per binary.
 */
#ifndef PODPROF_SYMBOLIZE_H
#define PODPROF_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

#include "pclntab.h"
#include "pprof.h"

struct symcache;

/* Bound on cached PCs per binary; the cache starts over when it is full. */
#define SYMCACHE_MAX_ENTRIES 65536

/* Creates a cache over table t (not owned) for Go minor version go_minor. */
struct symcache *symcache_new(const struct pclntab *t, int go_minor);
void symcache_free(struct symcache *c);
/* Entries held, and bytes of memory they use. */
size_t symcache_entries(const struct symcache *c);
size_t symcache_memory(const struct symcache *c);

/* Starts a new profile: Locations cached for the previous builder are forgotten. Call
 * it before the first symcache_stack() of each builder. */
void symcache_begin(struct symcache *c);

/*
 * Turns a stack of runtime return PCs (bias: runtime minus link-time address) into
 * location ids of builder b (mapping_id 0 for none): at most max ids go to locs, their
 * number to *nlocs. Locations carry runtime addresses (PC-1), as runtime/pprof's do.
 * Returns 0 or a negative errno. Not thread-safe (one cache per thread or a lock).
 */
int symcache_stack(struct symcache *c, struct pprof_builder *b, uint64_t mapping_id,
		   uint64_t bias, const uint64_t *pcs, size_t n, uint64_t *locs, size_t max,
		   size_t *nlocs);

#endif
