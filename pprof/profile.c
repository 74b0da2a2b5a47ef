/*
 * The profile object: creation, copy, the read accessors of pprof.h, and the two
 * primitives the transformations are built from (dropping samples in place, and
 * copying a subset of samples and value columns into a new, minimal profile).
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
static int init_tables(struct pprof_profile *p, const struct pprof_profile *sizes)
{
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(table_offsets); i++)
		buf_init(table(p, i), 0);
	for (size_t i = 0; i < ARRAY_SIZE(table_offsets) && !ret; i++)
		ret = buf_reserve(table(p, i), sizes ? table(sizes, i)->len : 0);
	return ret;
}

struct pprof_profile *pprof_profile_alloc(void)
{
	struct pprof_profile *p = calloc(1, sizeof(*p));

	if (p && (init_tables(p, NULL) || pprof_profile_add_string(p, "", 0) < 0)) {
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
	if (init_tables(d, p)) {
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

/* ---- subset ------------------------------------------------------------------------ */

/* Old index/id -> new one, filled on first use; 0 = not copied yet. */
struct subset {
	const struct pprof_profile *src;
	struct pprof_profile *dst;
	int64_t *str;     /* per source string: new index (0 only for string 0) */
	uint64_t *map;    /* per source mapping: new id */
	uint64_t *fn;     /* per source function: new id */
	uint64_t *loc;    /* per source location: new id */
};

static int64_t sub_str(struct subset *s, int64_t idx)
{
	const char *str = pp_str(s->src, idx);
	int64_t r = s->str[idx];

	if (idx == 0 || r)
		goto out;
	r = pprof_profile_add_string(s->dst, str, strlen(str));
	if (r > 0)
		s->str[idx] = r;
out:
	return r;
}

/* The following return the new id of a source row, copying it first if needed, or a
 * negative errno. */
static int64_t sub_mapping(struct subset *s, uint64_t id)
{
	struct pp_mapping m;
	int64_t ret = 0;

	if (id == 0)
		goto out;
	ret = (int64_t)s->map[id - 1];
	if (ret)
		goto out;
	m = *PP_ROW(&s->src->mappings, struct pp_mapping, id - 1);
	ret = -ENOMEM;
	if ((m.filename = sub_str(s, m.filename)) < 0 ||
	    (m.build_id = sub_str(s, m.build_id)) < 0 || pp_push(&s->dst->mappings, &m, sizeof(m)))
		goto out;
	s->map[id - 1] = PP_COUNT(&s->dst->mappings, struct pp_mapping);
	ret = (int64_t)s->map[id - 1];
out:
	return ret;
}

static int64_t sub_function(struct subset *s, uint64_t id)
{
	struct pp_function f;
	int64_t ret = (int64_t)s->fn[id - 1];

	if (ret)
		goto out;
	f = *PP_ROW(&s->src->functions, struct pp_function, id - 1);
	ret = -ENOMEM;
	if ((f.name = sub_str(s, f.name)) < 0 || (f.system_name = sub_str(s, f.system_name)) < 0 ||
	    (f.filename = sub_str(s, f.filename)) < 0 || pp_push(&s->dst->functions, &f, sizeof(f)))
		goto out;
	s->fn[id - 1] = PP_COUNT(&s->dst->functions, struct pp_function);
	ret = (int64_t)s->fn[id - 1];
out:
	return ret;
}

static int64_t sub_location(struct subset *s, uint64_t id)
{
	const struct pp_line *lines;
	struct pp_location l;
	int64_t ret = (int64_t)s->loc[id - 1];

	if (ret)
		goto out;
	l = *PP_ROW(&s->src->locations, struct pp_location, id - 1);
	lines = PP_ROW(&s->src->lines, struct pp_line, l.line_off);
	ret = sub_mapping(s, l.mapping_id);
	if (ret < 0)
		goto out;
	l.mapping_id = (uint64_t)ret;
	l.line_off = PP_COUNT(&s->dst->lines, struct pp_line);
	for (uint32_t i = 0; i < l.nlines; i++) {
		struct pp_line ln = lines[i];

		ret = sub_function(s, ln.function_id);
		if (ret < 0)
			goto out;
		ln.function_id = (uint64_t)ret;
		ret = -ENOMEM;
		if (pp_push(&s->dst->lines, &ln, sizeof(ln)))
			goto out;
	}
	ret = -ENOMEM;
	if (pp_push(&s->dst->locations, &l, sizeof(l)))
		goto out;
	s->loc[id - 1] = PP_COUNT(&s->dst->locations, struct pp_location);
	ret = (int64_t)s->loc[id - 1];
out:
	return ret;
}

static int sub_sample(struct subset *s, size_t i, const size_t *cols, size_t ncols)
{
	const struct pp_sample *src = PP_ROW(&s->src->samples, struct pp_sample, i);
	const uint64_t *ids = PP_ROW(&s->src->locids, uint64_t, src->loc_off);
	const struct pp_label *labels = PP_ROW(&s->src->labels, struct pp_label, src->label_off);
	const int64_t *v = pp_values(s->src, i);
	struct pp_sample smp = *src;
	struct pprof_profile *d = s->dst;
	int64_t r;
	int ret = -ENOMEM;

	smp.loc_off = PP_COUNT(&d->locids, uint64_t);
	smp.label_off = PP_COUNT(&d->labels, struct pp_label);
	for (uint32_t k = 0; k < src->nlocs; k++) {
		uint64_t id;

		r = sub_location(s, ids[k]);
		if (r < 0)
			goto out;
		id = (uint64_t)r;
		if (pp_push(&d->locids, &id, sizeof(id)))
			goto out;
	}
	for (uint32_t k = 0; k < src->nlabels; k++) {
		struct pp_label l = labels[k];

		if ((l.key = sub_str(s, l.key)) < 0 || (l.str = sub_str(s, l.str)) < 0 ||
		    (l.num_unit = sub_str(s, l.num_unit)) < 0 || pp_push(&d->labels, &l, sizeof(l)))
			goto out;
	}
	/* Reserve both rows first so that values and samples never get out of step. */
	if (buf_reserve(&d->samples, sizeof(smp)) || buf_reserve(&d->values, ncols * sizeof(*v)))
		goto out;
	for (size_t c = 0; c < ncols; c++)
		pp_push(&d->values, &v[cols[c]], sizeof(*v));
	pp_push(&d->samples, &smp, sizeof(smp));
	ret = 0;
out:
	return ret;
}

/* The profile-wide fields: sample types, period, comments, frame filters, times. */
static int sub_header(struct subset *s, const size_t *cols, size_t ncols)
{
	const struct pprof_profile *src = s->src;
	struct pprof_profile *d = s->dst;
	const int64_t *comments = PP_ROWS(&src->comments, int64_t);
	int64_t r;
	int ret = -ENOMEM;

	for (size_t c = 0; c < ncols; c++) {
		struct pp_vtype t = *PP_ROW(&src->types, struct pp_vtype, cols[c]);

		if ((t.type = sub_str(s, t.type)) < 0 || (t.unit = sub_str(s, t.unit)) < 0 ||
		    pp_push(&d->types, &t, sizeof(t)))
			goto out;
		/* The default type stays only if it is one of this subset's types. */
		if (src->default_sample_type &&
		    strcmp(pp_str(src, src->default_sample_type), pp_str(d, t.type)) == 0)
			d->default_sample_type = t.type;
	}
	for (size_t c = 0; c < PP_COUNT(&src->comments, int64_t); c++)
		if ((r = sub_str(s, comments[c])) < 0 || pp_push(&d->comments, &r, sizeof(r)))
			goto out;
	if ((d->period_type.type = sub_str(s, src->period_type.type)) < 0 ||
	    (d->period_type.unit = sub_str(s, src->period_type.unit)) < 0 ||
	    (d->drop_frames = sub_str(s, src->drop_frames)) < 0 ||
	    (d->keep_frames = sub_str(s, src->keep_frames)) < 0)
		goto out;
	d->period = src->period;
	d->time_nanos = src->time_nanos;
	d->duration_nanos = src->duration_nanos;
	ret = 0;
out:
	return ret;
}

int pprof_profile_subset(const struct pprof_profile *src, const unsigned char *keep,
			 const size_t *cols, size_t ncols, struct pprof_profile **out)
{
	struct subset s = {.src = src};
	int ret = -ENOMEM;

	s.dst = pprof_profile_alloc();
	s.str = calloc(pp_nstrings(src), sizeof(*s.str));
	s.map = calloc(PP_COUNT(&src->mappings, struct pp_mapping) + 1, sizeof(*s.map));
	s.fn = calloc(PP_COUNT(&src->functions, struct pp_function) + 1, sizeof(*s.fn));
	s.loc = calloc(PP_COUNT(&src->locations, struct pp_location) + 1, sizeof(*s.loc));
	if (!s.dst || !s.str || !s.map || !s.fn || !s.loc)
		goto out;
	ret = sub_header(&s, cols, ncols);
	if (ret)
		goto out;
	for (size_t i = 0; i < pp_nsamples(src); i++) {
		if (!keep[i])
			continue;
		ret = sub_sample(&s, i, cols, ncols);
		if (ret)
			goto out;
	}
	*out = s.dst;
	s.dst = NULL;
	ret = 0;
out:
	pprof_profile_free(s.dst);
	free(s.str);
	free(s.map);
	free(s.fn);
	free(s.loc);
	return ret;
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
