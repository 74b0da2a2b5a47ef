/*
 * Open-addressing hash index (see htab.h). Slots store the full hash so that growing
 * never calls back into the caller and most mismatches are rejected without it.
 */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>

#define HTAB_MIN_SLOTS 16

static size_t slots_for(size_t rows)
{
	size_t n = HTAB_MIN_SLOTS;

	/* Keep the load at most 3/4 after rows insertions. */
	while (n - n / 4 <= rows)
		n *= 2;
	return n;
}

int htab_init(struct htab *t, size_t expect)
{
	size_t n = slots_for(expect);

	t->count = 0;
	t->slots = calloc(n, sizeof(*t->slots));
	t->mask = t->slots ? n - 1 : 0;
	return t->slots ? 0 : -ENOMEM;
}

void htab_free(struct htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

size_t htab_find(const struct htab *t, uint64_t hash, htab_eq_fn eq, const void *ctx)
{
	size_t ref = 0;

	for (size_t i = hash & t->mask; t->slots; i = (i + 1) & t->mask) {
		const struct htab_slot *s = &t->slots[i];

		ref = s->ref;
		if (!ref || (s->hash == hash && eq(ctx, ref - 1)))
			break;
	}
	return ref;
}

static void put(struct htab_slot *slots, size_t mask, uint64_t hash, size_t ref)
{
	size_t i = hash & mask;

	while (slots[i].ref)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].ref = ref;
}

int htab_add(struct htab *t, uint64_t hash, size_t index)
{
	size_t n = t->mask + 1;
	int ret = -ENOMEM;

	if (!t->slots || t->count + 1 > n - n / 4) {
		size_t grown = slots_for(t->count + 1);
		struct htab_slot *s = calloc(grown, sizeof(*s));

		if (!s)
			goto out;
		for (size_t i = 0; t->slots && i < n; i++)
			if (t->slots[i].ref)
				put(s, grown - 1, t->slots[i].hash, t->slots[i].ref);
		free(t->slots);
		t->slots = s;
		t->mask = grown - 1;
	}
	put(t->slots, t->mask, hash, index + 1);
	t->count++;
	ret = 0;
out:
	return ret;
}
