/*
 * Profile comparison for tests: a profile reduced to its stacks, each written as
 * "function file:line" for every line of every location (leaf first), with the values
 * of samples that share a stack summed. Two profiles compare by these stacks, which is
 * what Coroot keys on.
 */
#ifndef PODPROF_TEST_PROFCMP_H
#define PODPROF_TEST_PROFCMP_H

#include <stddef.h>
#include <stdint.h>

#define PROFCMP_MAX_VALUES 8

struct canon_stack {
	char *key;
	int64_t v[PROFCMP_MAX_VALUES];
};

struct canon {
	struct canon_stack *stacks;
	size_t n;
	size_t nvalues;
	char types[PROFCMP_MAX_VALUES][64];
	int64_t period;
};

/* Reads and decodes a pprof file (gzip or not) into c. Returns 0 or -errno. */
int canon_load(const char *path, struct canon *c);
void canon_free(struct canon *c);
/* The stack with this key, or NULL. */
const struct canon_stack *canon_find(const struct canon *c, const char *key);
/* The total of value i over stacks whose key contains needle (all when NULL). */
int64_t canon_total(const struct canon *c, size_t i, const char *needle);
/* The leaf function of a key (static buffer). */
const char *canon_leaf(const char *key);

#endif
