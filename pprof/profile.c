/*
 * The profile object: creation, copy, the read accessors of pprof.h, and dropping
 * samples in place, one of the two primitives the transformations are built from (the
 * other, copying a subset, is subset.c).
 */
#include "profile.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Every table of a profile, for the operations that treat them alike. */
static const size_t table_offsets[] = {
	offsetof(struct pprof_profile, strdata),   offsetof(struct pprof_profile, stroff),
	offsetof(struct pprof_profile, types),     offsetof(struct pprof_profile, samples),
	offsetof(struct pprof_profile, values),    offsetof(struct pprof_profile, locids),
	offsetof(struct pprof_profile, labels),    offsetof(struct pprof_profile, mappings),
	offsetof(struct pprof_profile, locations), offsetof(struct pprof_profile, lines),
	offsetof(struct pprof_profile, functions), offsetof(struct pprof_profile, comments),
};

static struct buf *table(const struct pprof_profile *p, size_t i)
{
	return (struct buf *)(void *)((char *)(uintptr_t)p + table_offsets[i]);
}

/* Initialises every table with room for size bytes (at least the NUL of buf), so that no
 * table's data is ever NULL and row arithmetic never starts from a null pointer. */
static int init_tables(struct pprof_profile *p, const struct pprof_profile *sizes,
		       struct buf_pool *pool)
{
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(table_offsets); i++)
		buf_init_pool(table(p, i), 0, pool);
	for (size_t i = 0; i < ARRAY_SIZE(table_offsets) && !ret; i++)
		ret = buf_reserve(table(p, i), sizes ? table(sizes, i)->len : 0);
	return ret;
}

struct pprof_profile *pprof_profile_alloc(struct buf_pool *pool)
{
	struct pprof_profile *p = calloc(1, sizeof(*p));

	if (p && (init_tables(p, NULL, pool) || pprof_profile_add_string(p, "", 0) < 0)) {
		pprof_profile_free(p);
		p = NULL;
	}
	return p;
}

void pprof_profile_free(struct pprof_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(table_offsets); i++)
		buf_free(table(p, i));
	free(p);
}

struct pprof_profile *pprof_profile_dup(const struct pprof_profile *p)
{
	struct pprof_profile *d = calloc(1, sizeof(*d));

	if (!d)
		goto out;
	*d = *p;
	if (init_tables(d, p, NULL)) {
		pprof_profile_free(d);
		d = NULL;
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(table_offsets); i++) {
		const struct buf *st = table(p, i);

		buf_append(table(d, i), st->data, st->len); /* reserved: cannot fail */
	}
out:
	return d;
}

int64_t pprof_profile_add_string(struct pprof_profile *p, const char *s, size_t len)
{
	size_t off = p->strdata.len;
	int64_t ret = -ENOMEM;

	if (buf_reserve(&p->stroff, sizeof(off)))
		goto out;
	/* buf keeps a NUL after its data; appending len + 1 bytes stores ours explicitly. */
	if (buf_append(&p->strdata, s, len) || buf_append(&p->strdata, "", 1)) {
		p->strdata.len = off;
		goto out;
	}
	ret = (int64_t)pp_nstrings(p);
	pp_push(&p->stroff, &off, sizeof(off)); /* reserved above: cannot fail */
out:
	return ret;
}

void pprof_profile_keep_samples(struct pprof_profile *p, const unsigned char *keep)
{
	size_t ns = pp_nsamples(p), nt = pp_ntypes(p), w = 0;
	struct pp_sample *s = PP_ROWS(&p->samples, struct pp_sample);
	int64_t *v = PP_ROWS(&p->values, int64_t);

	for (size_t i = 0; i < ns; i++) {
		if (!keep[i])
			continue;
		if (w != i) {
			s[w] = s[i];
			memmove(v + w * nt, v + i * nt, nt * sizeof(*v));
		}
		w++;
	}
	p->samples.len = w * sizeof(*s);
	p->values.len = w * nt * sizeof(*v);
}

/* ---- reading ----------------------------------------------------------------------- */

size_t pprof_sample_type_count(const struct pprof_profile *p)
{
	return pp_ntypes(p);
}

const char *pprof_sample_type(const struct pprof_profile *p, size_t i, const char **unit)
{
	const struct pp_vtype *t = i < pp_ntypes(p) ? PP_ROW(&p->types, struct pp_vtype, i) : NULL;

	if (unit)
		*unit = t ? pp_str(p, t->unit) : NULL;
	return t ? pp_str(p, t->type) : NULL;
}

size_t pprof_sample_count(const struct pprof_profile *p)
{
	return pp_nsamples(p);
}

const int64_t *pprof_sample_values(const struct pprof_profile *p, size_t i)
{
	return i < pp_nsamples(p) ? pp_values(p, i) : NULL;
}

int64_t pprof_value_total(const struct pprof_profile *p, size_t value_index)
{
	int64_t sum = 0;

	for (size_t i = 0; value_index < pp_ntypes(p) && i < pp_nsamples(p); i++) {
		int64_t v = pp_values(p, i)[value_index];

		/* Saturate rather than wrap: a total is a report, not an input. */
		if (__builtin_add_overflow(sum, v, &sum))
			sum = v > 0 ? INT64_MAX : INT64_MIN;
	}
	return sum;
}

int64_t pprof_time_ns(const struct pprof_profile *p)
{
	return p->time_nanos;
}

int64_t pprof_duration_ns(const struct pprof_profile *p)
{
	return p->duration_nanos;
}

int64_t pprof_period(const struct pprof_profile *p)
{
	return p->period;
}

void pprof_set_time(struct pprof_profile *p, int64_t time_ns, int64_t duration_ns)
{
	p->time_nanos = time_ns;
	p->duration_nanos = duration_ns;
}

int pprof_sample_frames(const struct pprof_profile *p, size_t i, pprof_frame_fn fn, void *ctx)
{
	const struct pp_sample *s;
	const uint64_t *ids;
	int ret = -EINVAL;

	if (i >= pp_nsamples(p))
		goto out;
	ret = 0;
	s = PP_ROW(&p->samples, struct pp_sample, i);
	ids = PP_ROW(&p->locids, uint64_t, s->loc_off);
	for (uint32_t k = 0; k < s->nlocs && !ret; k++) {
		const struct pp_location *l = PP_ROW(&p->locations, struct pp_location, ids[k] - 1);
		const struct pp_line *ln = PP_ROW(&p->lines, struct pp_line, l->line_off);

		/* An unsymbolized location is still a frame: report its address alone. */
		if (l->nlines == 0)
			ret = fn(ctx, "", "", 0, l->address);
		for (uint32_t j = 0; j < l->nlines && !ret; j++) {
			const struct pp_function *f =
			    PP_ROW(&p->functions, struct pp_function, ln[j].function_id - 1);

			ret = fn(ctx, pp_str(p, f->name), pp_str(p, f->filename), ln[j].line,
				 l->address);
		}
	}
out:
	return ret;
}
