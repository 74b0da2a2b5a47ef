/*
 * An open-addressing hash index over rows stored elsewhere, private to pprof/.
 *
 * The table holds only (hash, row index) pairs; the rows live in the caller's arrays
 * and equality is the caller's callback, so one index type serves strings, functions,
 * locations and id lookups. Linear probing, power-of-two size, at most 3/4 full:
 * O(1) amortised insert and lookup. Not thread-safe.
 */
#ifndef PODPROF_PPROF_HTAB_H
#define PODPROF_PPROF_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_slot {
	uint64_t hash;
	size_t ref; /* row index + 1; 0 = empty */
};

struct htab {
	struct htab_slot *slots;
	size_t mask; /* slot count - 1 */
	size_t count;
};

/* Non-zero when row index matches the key the caller is looking up (ctx). */
typedef int (*htab_eq_fn)(const void *ctx, size_t index);

/* Initialises an empty index sized for expect rows. 0 or -ENOMEM. */
int htab_init(struct htab *t, size_t expect);
void htab_free(struct htab *t);
/* Returns the index + 1 of a row with this hash for which eq(ctx, index) holds, or 0. */
size_t htab_find(const struct htab *t, uint64_t hash, htab_eq_fn eq, const void *ctx);
/* Adds row index under hash (the caller has checked it is not there). 0 or -ENOMEM. */
int htab_add(struct htab *t, uint64_t hash, size_t index);

#endif
