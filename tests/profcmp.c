/* Profile reduction for comparisons in tests. */
#include "profcmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pprof.h"
#include "support.h"

static int add_frame(void *ctx, const char *function, const char *file, int64_t line,
		     uint64_t address)
{
	struct buf *key = ctx;
	(void)address;
	return buf_printf(key, "%s%s %s:%lld", key->len ? ";" : "", function ? function : "?",
			  file ? file : "?", (long long)line);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct canon_stack *)a)->key, ((const struct canon_stack *)b)->key);
}

int canon_load(const char *path, struct canon *c)
{
	struct pprof_profile *p = NULL;
	struct buf data;
	int r;

	memset(c, 0, sizeof(*c));
	buf_init(&data, 0);
	r = test_read_file(path, &data);
	if (r)
		goto out;
	r = pprof_decode(data.data, data.len, NULL, &p);
	if (r)
		goto out;
	c->nvalues = pprof_sample_type_count(p);
	if (c->nvalues > PROFCMP_MAX_VALUES) {
		r = -E2BIG;
		goto out;
	}
	for (size_t i = 0; i < c->nvalues; i++)
		snprintf(c->types[i], sizeof(c->types[i]), "%s", pprof_sample_type(p, i, NULL));
	c->period = pprof_period(p);
	c->stacks = calloc(pprof_sample_count(p) + 1, sizeof(*c->stacks));
	if (!c->stacks) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < pprof_sample_count(p); i++) {
		struct buf key;
		const int64_t *v = pprof_sample_values(p, i);
		buf_init(&key, 0);
		pprof_sample_frames(p, i, add_frame, &key);
		c->stacks[c->n].key = buf_steal(&key, NULL);
		for (size_t k = 0; k < c->nvalues; k++)
			c->stacks[c->n].v[k] = v[k];
		c->n++;
	}
	qsort(c->stacks, c->n, sizeof(*c->stacks), cmp_key);
	/* merge equal keys */
	{
		size_t w = 0;
		for (size_t i = 0; i < c->n; i++) {
			if (w > 0 && strcmp(c->stacks[w - 1].key, c->stacks[i].key) == 0) {
				for (size_t k = 0; k < c->nvalues; k++)
					c->stacks[w - 1].v[k] += c->stacks[i].v[k];
				free(c->stacks[i].key);
			} else {
				c->stacks[w++] = c->stacks[i];
			}
		}
		c->n = w;
	}
out:
	pprof_profile_free(p);
	buf_free(&data);
	if (r)
		canon_free(c);
	return r;
}

void canon_free(struct canon *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->stacks[i].key);
	free(c->stacks);
	memset(c, 0, sizeof(*c));
}

const struct canon_stack *canon_find(const struct canon *c, const char *key)
{
	struct canon_stack k = {.key = (char *)key};
	return bsearch(&k, c->stacks, c->n, sizeof(*c->stacks), cmp_key);
}

int64_t canon_total(const struct canon *c, size_t i, const char *needle)
{
	int64_t t = 0;
	for (size_t s = 0; s < c->n; s++)
		if (!needle || strstr(c->stacks[s].key, needle))
			t += c->stacks[s].v[i];
	return t;
}

const char *canon_leaf(const char *key)
{
	static char leaf[256];
	size_t n = strcspn(key, " ;");
	if (n >= sizeof(leaf))
		n = sizeof(leaf) - 1;
	memcpy(leaf, key, n);
	leaf[n] = '\0';
	return leaf;
}
