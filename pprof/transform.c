/*
 * Transformations for upload: renaming sample types (Go's names -> Coroot's), and
 * splitting a profile into parts without zero values.
 *
 * Why split: Coroot stores one row per sample and sample type, zero or not. A heap
 * profile's samples are often non-zero in alloc_* but zero in inuse_* (freed memory),
 * and a delta'd profile has many all-zero samples. Grouping the types by their pattern
 * of zero samples gives parts in which every kept sample is non-zero in every named
 * type: heap becomes {alloc_*} and {inuse_*}, CPU stays whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

int pprof_rename_sample_types(struct pprof_profile *p, const struct pprof_rename *map,
			      size_t n, int keep_unmatched)
{
	int64_t new_def = p->default_sample_type;
	int ret = -EINVAL;

	for (size_t k = 0; k < n; k++)
		if (!map[k].from_type || !map[k].to_type)
			goto out;
	for (size_t i = 0; i < pp_ntypes(p); i++) {
		struct pp_vtype *t = PP_ROW(&p->types, struct pp_vtype, i);
		const char *type = pp_str(p, t->type), *unit = pp_str(p, t->unit);
		const struct pprof_rename *m = NULL;
		int64_t idx = 0;

		for (size_t k = 0; k < n && !m; k++)
			if (strcmp(map[k].from_type, type) == 0 &&
			    (!map[k].from_unit || strcmp(map[k].from_unit, unit) == 0))
				m = &map[k];
		if (!m && keep_unmatched)
			continue;
		if (m && m->to_type[0]) {
			idx = pprof_profile_add_string(p, m->to_type, strlen(m->to_type));
			if (idx < 0) {
				ret = (int)idx;
				goto out;
			}
		}
		/* The default sample type follows its type's new name. */
		if (p->default_sample_type &&
		    strcmp(pp_str(p, p->default_sample_type), pp_str(p, t->type)) == 0)
			new_def = idx;
		t->type = idx;
	}
	p->default_sample_type = new_def;
	ret = 0;
out:
	return ret;
}

/* Per value column t, hash[t]: a hash of the set of samples that are non-zero in it,
 * in one walk over the values (a multiply and a shift per non-zero value). */
static void zero_patterns(const struct pprof_profile *p, uint64_t *hash)
{
	size_t nt = pp_ntypes(p);

	for (size_t i = 0; i < pp_nsamples(p); i++) {
		const int64_t *v = pp_values(p, i);

		for (size_t t = 0; t < nt; t++) {
			if (v[t]) {
				uint64_t h = (hash[t] ^ (i + 1)) * UINT64_C(0x9e3779b97f4a7c15);

				hash[t] = h ^ (h >> 29);
			}
		}
	}
}

static int same_pattern(const struct pprof_profile *p, size_t a, size_t b)
{
	size_t i = 0;

	while (i < pp_nsamples(p) && !pp_values(p, i)[a] == !pp_values(p, i)[b])
		i++;
	return i == pp_nsamples(p);
}

static int named(const struct pprof_profile *p, size_t t)
{
	return pp_str(p, PP_ROW(&p->types, struct pp_vtype, t)->type)[0] != '\0';
}

/* Makes the part for group g (types with group[t] == g; unnamed ones join group 0)
 * when any of its samples survive; *part stays NULL otherwise. */
static int make_part(const struct pprof_profile *p, const size_t *group, size_t g,
		     int any_named, unsigned char *keep, size_t *cols,
		     struct pprof_profile **part)
{
	size_t nt = pp_ntypes(p), ncols = 0, ndecide = 0, kept = 0;
	size_t *decide = cols + nt; /* the columns that decide which samples stay */

	for (size_t t = 0; t < nt; t++) {
		if (group[t] != g && (g != 0 || named(p, t)))
			continue;
		cols[ncols++] = t;
		/* Only named types decide: an unnamed value is never stored by Coroot. */
		if (!any_named || named(p, t))
			decide[ndecide++] = t;
	}
	for (size_t i = 0; i < pp_nsamples(p); i++) {
		const int64_t *v = pp_values(p, i);
		unsigned char k = 0;

		for (size_t c = 0; c < ndecide && !k; c++)
			k = v[decide[c]] != 0;
		keep[i] = k;
		kept += k;
	}
	*part = NULL;
	return kept ? pprof_profile_subset(p, keep, cols, ncols, part) : 0;
}

int pprof_split_nonzero(const struct pprof_profile *p, struct pprof_profile ***out, size_t *n)
{
	size_t nt = pp_ntypes(p), ngroups = 0, nparts = 0;
	size_t *group = calloc(nt + 1, sizeof(*group)), *rep = calloc(nt + 1, sizeof(*rep));
	size_t *cols = calloc(2 * nt + 1, sizeof(*cols));
	uint64_t *hash = calloc(nt + 1, sizeof(*hash));
	unsigned char *keep = malloc(pp_nsamples(p) + 1);
	struct pprof_profile **parts = calloc(nt + 1, sizeof(*parts));
	int any_named = 0, ret = -ENOMEM;

	if (!group || !rep || !cols || !hash || !keep || !parts)
		goto out;
	zero_patterns(p, hash);
	for (size_t t = 0; t < nt; t++) {
		size_t g;

		if (!named(p, t))
			continue;
		any_named = 1;
		for (g = 0; g < ngroups; g++)
			if (hash[rep[g]] == hash[t] && same_pattern(p, rep[g], t))
				break;
		if (g == ngroups)
			rep[ngroups++] = t;
		group[t] = g;
	}
	/* With no named type at all there is one part of everything. */
	if (!any_named && nt)
		ngroups = 1;
	for (size_t g = 0; g < ngroups; g++) {
		ret = make_part(p, group, g, any_named, keep, cols, &parts[nparts]);
		if (ret)
			goto out;
		nparts += parts[nparts] != NULL;
	}
	*out = parts;
	*n = nparts;
	parts = NULL;
	ret = 0;
out:
	for (size_t i = 0; parts && i < nparts; i++)
		pprof_profile_free(parts[i]);
	free(parts);
	free(keep);
	free(hash);
	free(cols);
	free(rep);
	free(group);
	return ret;
}
