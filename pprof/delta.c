/*
 * Deltas of cumulative profiles (heap alloc_*, block, mutex): what happened between
 * two scrapes of the same source.
 *
 * A sample's key is its full symbolized stack (function name, file and line of every
 * Line of every Location, leaf first; the address for a Location without lines) and its
 * labels in any order, hashed to 64 bits (a collision among the few thousand stacks of
 * one source is vanishingly unlikely: about n^2 / 2^65). Samples with equal keys are
 * first merged by adding every value (Coroot's Go agent added only the first value of
 * multi-value samples).
 *
 * The state is what one source costs while podprof waits for its next scrape, times
 * every target and type, so it is kept compact: the keys sorted, written as varint
 * gaps, each followed by its cumulative values as varints, in one allocation; about
 * 8 + 3 to 5 bytes per value per key instead of a hash table. A new profile's keys are
 * sorted too, and both are walked side by side (a merge join), so nothing is looked up.
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
#define MUL UINT64_C(0x9e3779b97f4a7c15)

struct pprof_delta {
	int have;            /* a baseline exists */
	uint64_t types_hash; /* sample types and cumulative flags of the baseline */
	size_t ncum;
	size_t nkeys;
	unsigned char *state; /* nkeys x (varint key gap, ncum varint values) */
	size_t state_len;
};

/* A kept sample: its key and its index in the profile. */
struct keyed {
	uint64_t key;
	uint32_t idx;
};

struct pprof_delta *pprof_delta_new(void)
{
	return calloc(1, sizeof(struct pprof_delta));
}

void pprof_delta_free(struct pprof_delta *d)
{
	if (!d)
		return;
	free(d->state);
	free(d);
}

size_t pprof_delta_memory(const struct pprof_delta *d)
{
	return sizeof(*d) + d->state_len;
}

/* ---- keys ----------------------------------------------------------------------------- */

/* One cheap step of a running hash: a multiply and a shift per element. */
static inline uint64_t step(uint64_t h, uint64_t v)
{
	h = (h ^ v) * MUL;
	return h ^ (h >> 29);
}

static uint64_t str_hash(const char *s, uint64_t seed)
{
	return hash64(s, strlen(s), seed);
}

/* Per location: the hash of its frames (name, file, line of each line), computed once. */
static int location_keys(const struct pprof_profile *p, uint64_t **out)
{
	size_t nf = PP_COUNT(&p->functions, struct pp_function);
	size_t nl = PP_COUNT(&p->locations, struct pp_location);
	uint64_t *fk = calloc(nf + 1, sizeof(*fk)), *lk = calloc(nl + 1, sizeof(*lk));
	int ret = -ENOMEM;

	if (!fk || !lk)
		goto out;
	for (size_t i = 0; i < nf; i++) {
		const struct pp_function *f = PP_ROW(&p->functions, struct pp_function, i);

		fk[i] = str_hash(pp_str(p, f->filename), str_hash(pp_str(p, f->name), SEED0));
	}
	for (size_t i = 0; i < nl; i++) {
		const struct pp_location *l = PP_ROW(&p->locations, struct pp_location, i);
		const struct pp_line *ln = PP_ROW(&p->lines, struct pp_line, l->line_off);
		uint64_t k = step(SEED1, l->nlines);

		if (l->nlines == 0)
			k = step(k, l->address);
		for (uint32_t j = 0; j < l->nlines; j++)
			k = step(step(k, fk[ln[j].function_id - 1]), (uint64_t)ln[j].line);
		lk[i] = hash64_u64(k, 0);
	}
	*out = lk;
	lk = NULL;
	ret = 0;
out:
	free(fk);
	free(lk);
	return ret;
}

/* Hash of string idx, computed on first use (a label's key is the same few strings in
 * every sample). 0 marks one not computed yet. */
static uint64_t string_key(const struct pprof_profile *p, uint64_t *sk, int64_t idx)
{
	if (!sk[idx])
		sk[idx] = str_hash(pp_str(p, idx), SEED1) | 1;
	return sk[idx];
}

static uint64_t sample_key(const struct pprof_profile *p, size_t i, const uint64_t *lk,
			   uint64_t *sk)
{
	const struct pp_sample *s = PP_ROW(&p->samples, struct pp_sample, i);
	const uint64_t *ids = PP_ROW(&p->locids, uint64_t, s->loc_off);
	const struct pp_label *l = PP_ROW(&p->labels, struct pp_label, s->label_off);
	uint64_t a = step(SEED0, s->nlocs), b = SEED1, labels = 0;
	uint32_t j;

	/* Two chains, frames alternating between them, so that each multiply waits for
	 * the one two frames back rather than the last. */
	for (j = 0; j + 1 < s->nlocs; j += 2) {
		a = step(a, lk[ids[j] - 1]);
		b = step(b, lk[ids[j + 1] - 1]);
	}
	if (j < s->nlocs)
		a = step(a, lk[ids[j] - 1]);
	/* Labels in any order: add up their independent hashes. */
	for (j = 0; j < s->nlabels; j++) {
		uint64_t lh = step(SEED1, string_key(p, sk, l[j].key));

		if (l[j].str)
			lh = step(step(lh, 1), string_key(p, sk, l[j].str));
		else
			lh = step(step(step(lh, 2), (uint64_t)l[j].num),
				  string_key(p, sk, l[j].num_unit));
		labels += lh;
	}
	return hash64_u64(step(step(step(a, 0), b), labels), s->nlabels);
}

static uint64_t types_hash(const struct pprof_profile *p, const int *cum, size_t ncum_in)
{
	uint64_t k = pp_ntypes(p);

	for (size_t i = 0; i < pp_ntypes(p); i++) {
		const struct pp_vtype *t = PP_ROW(&p->types, struct pp_vtype, i);

		k = str_hash(pp_str(p, t->unit), str_hash(pp_str(p, t->type), k));
		k = step(k, i < ncum_in && cum[i]);
	}
	return k;
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

/* Sorts by key (then index) with an LSD radix sort: linear, and stable. The eight
 * byte histograms come from one walk, and the passes go back and forth between a and
 * a scratch copy. n < UINT32_MAX. */
static int sort_keyed(struct keyed *a, size_t n)
{
	struct keyed *tmp = malloc((n + 1) * sizeof(*tmp)), *from = a, *to = tmp;
	uint32_t count[8][256];

	if (!tmp)
		return -ENOMEM;
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 8; d++)
			count[d][(a[i].key >> (8 * d)) & 0xff]++;
	for (int d = 0; d < 8; d++) {
		uint32_t sum = 0;

		for (int b = 0; b < 256; b++) {
			uint32_t c = count[d][b];

			count[d][b] = sum;
			sum += c;
		}
	}
	for (int d = 0; d < 8; d++) {
		struct keyed *t;

		for (size_t i = 0; i < n; i++)
			to[count[d][(from[i].key >> (8 * d)) & 0xff]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	/* an even number of passes ends in a */
	free(tmp);
	return 0;
}

/*
 * Keys p's samples and merges samples with equal keys into the first of them (every
 * value added). Returns the kept samples sorted by key, with their indexes after the
 * merge, in *out (n of them).
 */
static int merge(struct pprof_profile *p, struct keyed **out, size_t *n)
{
	size_t ns = pp_nsamples(p), nt = pp_ntypes(p), kept = 0;
	unsigned char *keep = calloc(ns + 1, 1);
	uint32_t *newidx = malloc((ns + 1) * sizeof(*newidx));
	struct keyed *k = malloc((ns + 1) * sizeof(*k));
	uint64_t *lk = NULL, *sk = calloc(pp_nstrings(p) + 1, sizeof(*sk));
	int ret = -ENOMEM;

	*out = NULL;
	if (ns >= UINT32_MAX) {
		ret = -E2BIG;
		goto out;
	}
	if (!keep || !newidx || !k || !sk)
		goto out;
	ret = location_keys(p, &lk);
	if (ret)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		k[i].key = sample_key(p, i, lk, sk);
		k[i].idx = (uint32_t)i;
	}
	ret = sort_keyed(k, ns);
	if (ret)
		goto out;
	/* equal keys are now adjacent, the earliest sample first (the sort is stable) */
	for (size_t i = 0, w = 0; i < ns; i++) {
		if (w > 0 && k[w - 1].key == k[i].key) {
			int64_t *to = pp_values(p, k[w - 1].idx), *from = pp_values(p, k[i].idx);
			for (size_t t = 0; t < nt; t++)
				to[t] = sat_add(to[t], from[t]);
			continue;
		}
		keep[k[i].idx] = 1;
		k[w++] = k[i];
		kept = w;
	}
	/* indexes after dropping the merged duplicates */
	for (size_t i = 0, r = 0; i < ns; i++)
		newidx[i] = keep[i] ? (uint32_t)r++ : UINT32_MAX;
	for (size_t i = 0; i < kept; i++)
		k[i].idx = newidx[k[i].idx];
	pprof_profile_keep_samples(p, keep);
	*out = k;
	*n = kept;
	k = NULL;
	ret = 0;
out:
	free(lk);
	free(sk);
	free(keep);
	free(newidx);
	free(k);
	return ret;
}

/* ---- the compact state ----------------------------------------------------------------- */

/* A reader over the state, one key (and its values) at a time. */
struct cursor {
	const unsigned char *p;
	size_t left;       /* keys not yet read */
	uint64_t key;
	int64_t vals[PPROF_MAX_CUMULATIVE];
	int valid;
};

static void cursor_next(struct cursor *c, size_t ncum)
{
	c->valid = c->left > 0;
	if (!c->valid)
		return;
	c->left--;
	c->key += varint_get(&c->p);
	for (size_t i = 0; i < ncum; i++)
		c->vals[i] = (int64_t)varint_get(&c->p);
}

static void cursor_start(struct cursor *c, const struct pprof_delta *d)
{
	memset(c, 0, sizeof(*c));
	c->p = d->state;
	c->left = d->nkeys;
	cursor_next(c, d->ncum);
}

/* Advances c to the first key >= key; non-zero when it is equal. */
static int cursor_seek(struct cursor *c, uint64_t key, size_t ncum)
{
	while (c->valid && c->key < key)
		cursor_next(c, ncum);
	return c->valid && c->key == key;
}

/* Encodes the sorted keys and their cumulative values: the next state. */
static int encode_state(const struct pprof_profile *p, const struct keyed *k, size_t n,
			const size_t *cols, size_t ncum, unsigned char **out, size_t *len)
{
	unsigned char *s = malloc(n * (10 + 10 * ncum) + 1), *w = s, *shrunk;
	uint64_t prev = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const int64_t *v = pp_values(p, k[i].idx);
		w += varint_put(w, k[i].key - prev);
		prev = k[i].key;
		for (size_t c = 0; c < ncum; c++)
			w += varint_put(w, (uint64_t)(v[cols[c]] < 0 ? 0 : v[cols[c]]));
	}
	/* the state lives until the next profile: give back what the bound over-reserved */
	shrunk = realloc(s, (size_t)(w - s) + 1);
	*out = shrunk ? shrunk : s;
	*len = (size_t)(w - s);
	return 0;
}

/* Decides how this profile relates to the state (before any value is changed). */
static int classify(const struct pprof_delta *d, const struct pprof_profile *p,
		    const struct keyed *k, size_t n, const size_t *cols, size_t ncum,
		    uint64_t types)
{
	struct cursor c;

	if (!d->have)
		return PPROF_DELTA_BASELINE;
	if (d->types_hash != types || d->ncum != ncum) {
		log_debug("delta: the sample types changed: new baseline");
		return PPROF_DELTA_RESET;
	}
	cursor_start(&c, d);
	for (size_t i = 0; i < n; i++) {
		const int64_t *v = pp_values(p, k[i].idx);
		if (!cursor_seek(&c, k[i].key, ncum))
			continue;
		for (size_t col = 0; col < ncum; col++) {
			if (v[cols[col]] < c.vals[col]) {
				log_debug("delta: a cumulative value went down: restarted");
				return PPROF_DELTA_RESET;
			}
		}
	}
	return PPROF_DELTA_OK;
}

int pprof_delta_apply(struct pprof_delta *d, struct pprof_profile *p, const int *cumulative,
		      size_t ncumulative)
{
	size_t nt = pp_ntypes(p), ncum = 0, n = 0, cols[PPROF_MAX_CUMULATIVE];
	uint64_t types = types_hash(p, cumulative, ncumulative);
	struct keyed *k = NULL;
	unsigned char *state = NULL;
	size_t state_len = 0;
	struct cursor c;
	int ret;

	for (size_t i = 0; i < nt && i < ncumulative; i++) {
		if (!cumulative[i])
			continue;
		if (ncum == PPROF_MAX_CUMULATIVE)
			return -E2BIG;
		cols[ncum++] = i;
	}
	ret = merge(p, &k, &n);
	if (ret)
		goto out;
	ret = encode_state(p, k, n, cols, ncum, &state, &state_len);
	if (ret)
		goto out;
	ret = classify(d, p, k, n, cols, ncum, types);
	/* RESET leaves p as it is: everything in it was counted since the restart */
	if (ret != PPROF_DELTA_RESET) {
		if (ret == PPROF_DELTA_OK)
			cursor_start(&c, d);
		for (size_t i = 0; i < n; i++) {
			int64_t *v = pp_values(p, k[i].idx);
			int found = ret == PPROF_DELTA_OK && cursor_seek(&c, k[i].key, ncum);
			for (size_t col = 0; col < ncum; col++) {
				if (ret == PPROF_DELTA_BASELINE)
					v[cols[col]] = 0;
				else if (found)
					v[cols[col]] = sat_sub(v[cols[col]], c.vals[col]);
			}
		}
	}
	/* keys that vanished are forgotten: the state is exactly this profile's keys */
	free(d->state);
	d->state = state;
	d->state_len = state_len;
	d->nkeys = n;
	state = NULL;
	d->ncum = ncum;
	d->types_hash = types;
	d->have = 1;
out:
	free(state);
	free(k);
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
