/*
 * Deltas of cumulative profiles (heap alloc_*, block, mutex): what happened between
 * two scrapes of the same source.
 *
 * A sample's key is its full symbolized stack (function name, file and line of every
 * Line of every Location, leaf first; the address for a Location without lines) and its
 * labels in any order, hashed to 128 bits. Samples with equal keys are first merged by
 * adding every value (Coroot's Go agent added only the first value of multi-value
 * samples). The state keeps, per key, nothing but the 128-bit hash and the cumulative
 * values: keys in one dense array, values in another, plus a 32-bit open-addressing
 * index, about 16 + 8 * (cumulative values) + 11 bytes per key for a heap profile.
 * A 128-bit hash collision between two real stacks of one source is not a concern.
 *
 * A counter that goes down means the source restarted (or was replaced behind the same
 * address): the whole profile then counts as new, its current values are the delta, and
 * they become the baseline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "pprof"
#include "profile.h"

#define SEED0 UINT64_C(0x243f6a8885a308d3)
#define SEED1 UINT64_C(0x13198a2e03707344)

struct key {
	uint64_t h0, h1;
};

/* Keys and cumulative values of one profile, with an index over the keys. */
struct keyset {
	struct key *keys;
	int64_t *vals; /* ncum per key */
	uint32_t *index; /* slot -> key index + 1; 0 = empty */
	size_t n, cap;  /* cap: slots, a power of two */
};

struct pprof_delta {
	int have;            /* a baseline exists */
	uint64_t types_hash; /* sample types and cumulative flags of the baseline */
	size_t ncum;
	struct keyset set;
};

static void keyset_free(struct keyset *s)
{
	free(s->keys);
	free(s->vals);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* Index + 1 of key k in s, or 0. */
static size_t keyset_find(const struct keyset *s, struct key k)
{
	uint32_t r = 0;

	for (size_t i = k.h0 & (s->cap - 1); s->cap; i = (i + 1) & (s->cap - 1)) {
		r = s->index[i];
		if (!r || (s->keys[r - 1].h0 == k.h0 && s->keys[r - 1].h1 == k.h1))
			break;
	}
	return r;
}

/* (Re)builds the index over keys[0..n); at most 3/4 full. */
static int keyset_index(struct keyset *s)
{
	size_t cap = 16;
	int ret = -ENOMEM;

	while (cap - cap / 4 <= s->n)
		cap *= 2;
	free(s->index);
	s->index = calloc(cap, sizeof(*s->index));
	s->cap = s->index ? cap : 0;
	if (!s->index)
		goto out;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = s->keys[k].h0 & (cap - 1);

		while (s->index[i])
			i = (i + 1) & (cap - 1);
		s->index[i] = (uint32_t)(k + 1);
	}
	ret = 0;
out:
	return ret;
}

struct pprof_delta *pprof_delta_new(void)
{
	return calloc(1, sizeof(struct pprof_delta));
}

void pprof_delta_free(struct pprof_delta *d)
{
	if (!d)
		return;
	keyset_free(&d->set);
	free(d);
}

size_t pprof_delta_memory(const struct pprof_delta *d)
{
	return sizeof(*d) + d->set.n * (sizeof(struct key) + d->ncum * sizeof(int64_t)) +
	       d->set.cap * sizeof(uint32_t);
}

/* ---- keys ----------------------------------------------------------------------------- */

static struct key mix2(struct key k, uint64_t v)
{
	k.h0 = hash64_u64(v, k.h0);
	k.h1 = hash64_u64(v ^ SEED1, k.h1 + SEED0);
	return k;
}

static struct key str_key(const char *s, struct key k)
{
	size_t len = strlen(s);

	k.h0 = hash64(s, len, k.h0);
	k.h1 = hash64(s, len, k.h1 ^ SEED1);
	return k;
}

/* Per location: the hash of its frames (name, file, line of each line), computed once. */
static int location_keys(const struct pprof_profile *p, struct key **out)
{
	size_t nf = PP_COUNT(&p->functions, struct pp_function);
	size_t nl = PP_COUNT(&p->locations, struct pp_location);
	struct key *fk = calloc(nf + 1, sizeof(*fk)), *lk = calloc(nl + 1, sizeof(*lk));
	int ret = -ENOMEM;

	if (!fk || !lk)
		goto out;
	for (size_t i = 0; i < nf; i++) {
		const struct pp_function *f = PP_ROW(&p->functions, struct pp_function, i);

		fk[i] = str_key(pp_str(p, f->filename),
				str_key(pp_str(p, f->name), (struct key){SEED0, SEED1}));
	}
	for (size_t i = 0; i < nl; i++) {
		const struct pp_location *l = PP_ROW(&p->locations, struct pp_location, i);
		const struct pp_line *ln = PP_ROW(&p->lines, struct pp_line, l->line_off);
		struct key k = {l->nlines, SEED1};

		if (l->nlines == 0)
			k = mix2(k, l->address);
		for (uint32_t j = 0; j < l->nlines; j++) {
			const struct key *f = &fk[ln[j].function_id - 1];

			k = mix2(mix2(mix2(k, f->h0), f->h1), (uint64_t)ln[j].line);
		}
		lk[i] = k;
	}
	*out = lk;
	lk = NULL;
	ret = 0;
out:
	free(fk);
	free(lk);
	return ret;
}

static struct key sample_key(const struct pprof_profile *p, size_t i, const struct key *lk)
{
	const struct pp_sample *s = PP_ROW(&p->samples, struct pp_sample, i);
	const uint64_t *ids = PP_ROW(&p->locids, uint64_t, s->loc_off);
	const struct pp_label *l = PP_ROW(&p->labels, struct pp_label, s->label_off);
	struct key k = {s->nlocs, s->nlabels}, labels = {0, 0};

	for (uint32_t j = 0; j < s->nlocs; j++)
		k = mix2(mix2(k, lk[ids[j] - 1].h0), lk[ids[j] - 1].h1);
	/* Labels in any order: add up their independent hashes. */
	for (uint32_t j = 0; j < s->nlabels; j++) {
		struct key lh = str_key(pp_str(p, l[j].key), (struct key){SEED1, SEED0});

		if (l[j].str)
			lh = str_key(pp_str(p, l[j].str), mix2(lh, 1));
		else
			lh = str_key(pp_str(p, l[j].num_unit),
				     mix2(mix2(lh, 2), (uint64_t)l[j].num));
		labels.h0 += lh.h0;
		labels.h1 += lh.h1;
	}
	k = mix2(mix2(k, labels.h0), labels.h1);
	if (!k.h0 && !k.h1)
		k.h1 = 1;
	return k;
}

static uint64_t types_hash(const struct pprof_profile *p, const int *cum, size_t ncum_in)
{
	struct key k = {pp_ntypes(p), 0};

	for (size_t i = 0; i < pp_ntypes(p); i++) {
		const struct pp_vtype *t = PP_ROW(&p->types, struct pp_vtype, i);

		k = str_key(pp_str(p, t->unit), str_key(pp_str(p, t->type), k));
		k = mix2(k, i < ncum_in && cum[i]);
	}
	return k.h0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		r = b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		r = b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/*
 * Keys p's samples, merging samples with equal keys into the first of them (every
 * value added). Fills s with one key per remaining sample, in sample order.
 */
static int merge(struct pprof_profile *p, struct keyset *s)
{
	size_t ns = pp_nsamples(p), nt = pp_ntypes(p);
	unsigned char *keep = malloc(ns + 1);
	struct key *lk = NULL;
	int ret = -ENOMEM;

	if (ns >= UINT32_MAX) {
		ret = -E2BIG;
		goto out;
	}
	s->keys = calloc(ns + 1, sizeof(*s->keys));
	if (!keep || !s->keys)
		goto out;
	ret = location_keys(p, &lk);
	if (ret)
		goto out;
	for (size_t i = 0; i < ns; i++)
		s->keys[i] = sample_key(p, i, lk);
	/* Index all keys, then drop the later duplicates: with linear probing a lookup
	 * meets the earliest inserted of equal keys first. */
	s->n = ns;
	ret = keyset_index(s);
	if (ret)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		size_t first = keyset_find(s, s->keys[i]) - 1;
		int64_t *to = pp_values(p, first), *from = pp_values(p, i);

		keep[i] = first == i;
		for (size_t t = 0; t < nt && !keep[i]; t++)
			to[t] = sat_add(to[t], from[t]);
	}
	pprof_profile_keep_samples(p, keep);
	s->n = 0;
	for (size_t i = 0; i < ns; i++)
		if (keep[i])
			s->keys[s->n++] = s->keys[i];
	/* The state lives until the next profile: give back the duplicates' room. */
	if (s->n < ns) {
		struct key *k = realloc(s->keys, (s->n + 1) * sizeof(*k));

		if (k)
			s->keys = k;
	}
	ret = keyset_index(s);
out:
	free(lk);
	free(keep);
	return ret;
}

/* Decides how cur (this profile's keys and cumulative values) relates to the state. */
static int classify(const struct pprof_delta *d, const struct keyset *cur, size_t ncum,
		    uint64_t types)
{
	int ret = PPROF_DELTA_BASELINE;

	if (!d->have)
		goto out;
	ret = PPROF_DELTA_RESET;
	if (d->types_hash != types) {
		log_debug("delta: the sample types changed: new baseline");
		goto out;
	}
	for (size_t i = 0; i < cur->n; i++) {
		size_t r = keyset_find(&d->set, cur->keys[i]);

		for (size_t c = 0; r && c < ncum; c++) {
			if (cur->vals[i * ncum + c] < d->set.vals[(r - 1) * ncum + c]) {
				log_debug("delta: a cumulative value went down: restarted");
				goto out;
			}
		}
	}
	ret = PPROF_DELTA_OK;
out:
	return ret;
}

int pprof_delta_apply(struct pprof_delta *d, struct pprof_profile *p, const int *cumulative,
		      size_t ncumulative)
{
	size_t nt = pp_ntypes(p), ncum = 0, *cols = calloc(nt + 1, sizeof(*cols));
	uint64_t types = types_hash(p, cumulative, ncumulative);
	struct keyset cur = {0};
	int ret = -ENOMEM;

	if (!cols)
		goto out;
	for (size_t i = 0; i < nt && i < ncumulative; i++)
		if (cumulative[i])
			cols[ncum++] = i;
	ret = merge(p, &cur);
	if (ret)
		goto out;
	ret = -ENOMEM;
	cur.vals = calloc(cur.n * ncum + 1, sizeof(*cur.vals));
	if (!cur.vals)
		goto out;
	for (size_t i = 0; i < cur.n; i++)
		for (size_t c = 0; c < ncum; c++)
			cur.vals[i * ncum + c] = pp_values(p, i)[cols[c]];
	ret = classify(d, &cur, ncum, types);
	/* RESET leaves p as it is: everything in it was counted since the restart. */
	for (size_t i = 0; i < cur.n && ret != PPROF_DELTA_RESET; i++) {
		size_t r = ret == PPROF_DELTA_OK ? keyset_find(&d->set, cur.keys[i]) : 0;
		int64_t *v = pp_values(p, i);

		for (size_t c = 0; c < ncum; c++) {
			if (ret == PPROF_DELTA_BASELINE)
				v[cols[c]] = 0;
			else if (r)
				v[cols[c]] = sat_sub(v[cols[c]], d->set.vals[(r - 1) * ncum + c]);
		}
	}
	/* Keys that vanished are forgotten: the state is exactly this profile's keys. */
	keyset_free(&d->set);
	d->set = cur;
	memset(&cur, 0, sizeof(cur));
	d->ncum = ncum;
	d->types_hash = types;
	d->have = 1;
out:
	keyset_free(&cur);
	free(cols);
	return ret;
}

void pprof_go_cumulative(const struct pprof_profile *p, int *cumulative)
{
	static const char *const names[] = {"alloc_objects", "alloc_space", "contentions", "delay"};

	for (size_t i = 0; i < pp_ntypes(p); i++) {
		const char *type = pprof_sample_type(p, i, NULL);

		cumulative[i] = 0;
		for (size_t k = 0; k < ARRAY_SIZE(names); k++)
			if (strcmp(type, names[k]) == 0)
				cumulative[i] = 1;
	}
}
