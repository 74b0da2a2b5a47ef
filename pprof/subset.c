/*
 * A subset of a profile: the samples a mask keeps, the value columns a list names, and
 * only the rows and strings those (and the header) reference.
 *
 * Rows and strings are renumbered in the order of their first use: the header's
 * strings, then the kept samples (their locations, in one walk over their location
 * ids, which is most of the work), then those locations' mappings and functions. The
 * kept samples are counted first and every table of the subset is allocated once, at
 * its size, before anything is copied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

/* One table's renumbering: new[old] is the new id of source row old + 1 (0: not used
 * yet), order[new - 1] the source row of new id new. */
struct renum {
	uint64_t *new, *order;
	size_t used;
};

/* New id of source row old (index), given one on first use. */
static inline uint64_t renum(struct renum *r, size_t old)
{
	uint64_t id = r->new[old];

	if (!id) {
		id = r->new[old] = ++r->used;
		r->order[id - 1] = old;
	}
	return id;
}

struct subset {
	const struct pprof_profile *src;
	struct pprof_profile *dst;
	struct renum str, map, fn, loc;
	uint64_t *mem;
};

/* New index of source string idx (string 0 stays 0). */
static inline int64_t sub_str(struct subset *s, int64_t idx)
{
	return (int64_t)renum(&s->str, (size_t)idx) - 1;
}

/* Reserves exactly n more bytes in t: a table's final size is known here. */
static int reserve_exact(struct buf *t, size_t n)
{
	size_t max = t->max;
	int ret;

	if (t->cap - t->len > n)
		return 0;
	t->max = t->len + n;
	ret = buf_reserve(t, n);
	t->max = max;
	return ret;
}

/* One allocation for the four renumberings: new[] for every source row, then order[]. */
static int renum_init(struct subset *s)
{
	const struct pprof_profile *p = s->src;
	size_t n[4] = {pp_nstrings(p), PP_COUNT(&p->mappings, struct pp_mapping),
		       PP_COUNT(&p->functions, struct pp_function),
		       PP_COUNT(&p->locations, struct pp_location)};
	struct renum *r[4] = {&s->str, &s->map, &s->fn, &s->loc};
	size_t total = n[0] + n[1] + n[2] + n[3];

	s->mem = calloc(2 * total + 1, sizeof(*s->mem));
	if (!s->mem)
		return -ENOMEM;
	for (size_t i = 0, off = 0; i < 4; off += n[i], i++) {
		r[i]->new = s->mem + off;
		r[i]->order = s->mem + total + off;
		r[i]->used = 0;
	}
	/* string 0 is "" in every profile: it keeps index 0 */
	renum(&s->str, 0);
	return 0;
}

/* The profile-wide fields: sample types, period, comments, frame filters, times. */
static int sub_header(struct subset *s, const size_t *cols, size_t ncols)
{
	const struct pprof_profile *src = s->src;
	struct pprof_profile *d = s->dst;
	const int64_t *comments = PP_ROWS(&src->comments, int64_t);
	size_t nc = PP_COUNT(&src->comments, int64_t);
	int ret;

	if ((ret = reserve_exact(&d->types, ncols * sizeof(struct pp_vtype))) ||
	    (ret = reserve_exact(&d->comments, nc * sizeof(int64_t))))
		return ret;
	/* reserved: the pushes below cannot fail */
	for (size_t c = 0; c < ncols; c++) {
		const struct pp_vtype *st = PP_ROW(&src->types, struct pp_vtype, cols[c]);
		struct pp_vtype t = {sub_str(s, st->type), sub_str(s, st->unit)};

		pp_push(&d->types, &t, sizeof(t));
		/* The default type stays only if it is one of this subset's types. */
		if (src->default_sample_type &&
		    strcmp(pp_str(src, src->default_sample_type), pp_str(src, st->type)) == 0)
			d->default_sample_type = t.type;
	}
	for (size_t c = 0; c < nc; c++) {
		int64_t idx = sub_str(s, comments[c]);

		pp_push(&d->comments, &idx, sizeof(idx));
	}
	d->period_type.type = sub_str(s, src->period_type.type);
	d->period_type.unit = sub_str(s, src->period_type.unit);
	d->drop_frames = sub_str(s, src->drop_frames);
	d->keep_frames = sub_str(s, src->keep_frames);
	d->period = src->period;
	d->time_nanos = src->time_nanos;
	d->duration_nanos = src->duration_nanos;
	return 0;
}

static int sub_samples(struct subset *s, const unsigned char *keep, const size_t *cols,
		       size_t ncols)
{
	const struct pprof_profile *src = s->src;
	struct pprof_profile *d = s->dst;
	const struct pp_sample *smp = PP_ROWS(&src->samples, struct pp_sample);
	const uint64_t *ids = PP_ROWS(&src->locids, uint64_t);
	const struct pp_label *labels = PP_ROWS(&src->labels, struct pp_label);
	size_t n = 0, nids = 0, nlabels = 0;
	struct pp_sample *out;
	struct pp_label *out_labels;
	uint64_t *out_ids;
	int64_t *out_values;
	int ret;

	for (size_t i = 0; i < pp_nsamples(src); i++) {
		if (keep[i]) {
			n++;
			nids += smp[i].nlocs;
			nlabels += smp[i].nlabels;
		}
	}
	if ((ret = reserve_exact(&d->samples, n * sizeof(*out))) ||
	    (ret = reserve_exact(&d->values, n * ncols * sizeof(*out_values))) ||
	    (ret = reserve_exact(&d->locids, nids * sizeof(*out_ids))) ||
	    (ret = reserve_exact(&d->labels, nlabels * sizeof(*out_labels))))
		return ret;
	out = PP_ROWS(&d->samples, struct pp_sample);
	out_ids = PP_ROWS(&d->locids, uint64_t);
	out_labels = PP_ROWS(&d->labels, struct pp_label);
	out_values = PP_ROWS(&d->values, int64_t);
	n = nids = nlabels = 0;
	for (size_t i = 0; i < pp_nsamples(src); i++) {
		const uint64_t *sid = ids + smp[i].loc_off;
		const struct pp_label *sl = labels + smp[i].label_off;
		const int64_t *v = pp_values(src, i);

		if (!keep[i])
			continue;
		out[n] = smp[i];
		out[n].loc_off = nids;
		out[n].label_off = nlabels;
		for (uint32_t j = 0; j < smp[i].nlocs; j++)
			out_ids[nids++] = renum(&s->loc, sid[j] - 1);
		for (uint32_t j = 0; j < smp[i].nlabels; j++) {
			struct pp_label l = sl[j];

			l.key = sub_str(s, l.key);
			l.str = sub_str(s, l.str);
			l.num_unit = sub_str(s, l.num_unit);
			out_labels[nlabels++] = l;
		}
		for (size_t c = 0; c < ncols; c++)
			out_values[n * ncols + c] = v[cols[c]];
		n++;
	}
	d->samples.len = n * sizeof(*out);
	d->values.len = n * ncols * sizeof(*out_values);
	d->locids.len = nids * sizeof(*out_ids);
	d->labels.len = nlabels * sizeof(*out_labels);
	d->samples.data[d->samples.len] = d->values.data[d->values.len] = '\0';
	d->locids.data[d->locids.len] = d->labels.data[d->labels.len] = '\0';
	return 0;
}

/* The locations the samples use, in that order, then their mappings and functions. */
static int sub_rows(struct subset *s)
{
	const struct pprof_profile *src = s->src;
	struct pprof_profile *d = s->dst;
	const struct pp_location *loc = PP_ROWS(&src->locations, struct pp_location);
	const struct pp_line *lines = PP_ROWS(&src->lines, struct pp_line);
	size_t nlines = 0;
	int ret;

	for (size_t k = 0; k < s->loc.used; k++)
		nlines += loc[s->loc.order[k]].nlines;
	if ((ret = reserve_exact(&d->locations, s->loc.used * sizeof(struct pp_location))) ||
	    (ret = reserve_exact(&d->lines, nlines * sizeof(struct pp_line))))
		return ret;
	for (size_t k = 0; k < s->loc.used; k++) {
		struct pp_location l = loc[s->loc.order[k]];
		const struct pp_line *ln = lines + l.line_off;

		l.mapping_id = l.mapping_id ? renum(&s->map, l.mapping_id - 1) : 0;
		l.line_off = PP_COUNT(&d->lines, struct pp_line);
		for (uint32_t j = 0; j < l.nlines; j++) {
			struct pp_line x = ln[j];

			x.function_id = renum(&s->fn, x.function_id - 1);
			pp_push(&d->lines, &x, sizeof(x));
		}
		pp_push(&d->locations, &l, sizeof(l));
	}
	if ((ret = reserve_exact(&d->mappings, s->map.used * sizeof(struct pp_mapping))) ||
	    (ret = reserve_exact(&d->functions, s->fn.used * sizeof(struct pp_function))))
		return ret;
	for (size_t k = 0; k < s->map.used; k++) {
		struct pp_mapping m = *PP_ROW(&src->mappings, struct pp_mapping, s->map.order[k]);

		m.filename = sub_str(s, m.filename);
		m.build_id = sub_str(s, m.build_id);
		pp_push(&d->mappings, &m, sizeof(m));
	}
	for (size_t k = 0; k < s->fn.used; k++) {
		struct pp_function f = *PP_ROW(&src->functions, struct pp_function, s->fn.order[k]);

		f.name = sub_str(s, f.name);
		f.system_name = sub_str(s, f.system_name);
		f.filename = sub_str(s, f.filename);
		pp_push(&d->functions, &f, sizeof(f));
	}
	return 0;
}

/* The string table: every string used, in the order of first use. */
static int sub_strings(struct subset *s)
{
	const struct pprof_profile *src = s->src;
	struct pprof_profile *d = s->dst;
	size_t bytes = 0;
	int ret;

	for (size_t k = 1; k < s->str.used; k++)
		bytes += strlen(pp_str(src, (int64_t)s->str.order[k])) + 1;
	if ((ret = reserve_exact(&d->strdata, bytes)) ||
	    (ret = reserve_exact(&d->stroff, (s->str.used - 1) * sizeof(size_t))))
		return ret;
	for (size_t k = 1; k < s->str.used; k++) {
		const char *str = pp_str(src, (int64_t)s->str.order[k]);
		size_t len = strlen(str) + 1, off = d->strdata.len;

		memcpy(d->strdata.data + off, str, len);
		d->strdata.len += len;
		pp_push(&d->stroff, &off, sizeof(off));
	}
	d->strdata.data[d->strdata.len] = '\0';
	return 0;
}

int pprof_profile_subset(const struct pprof_profile *src, const unsigned char *keep,
			 const size_t *cols, size_t ncols, struct pprof_profile **out)
{
	struct subset s = {.src = src};
	int ret = -ENOMEM;

	s.dst = pprof_profile_alloc(NULL);
	if (!s.dst || (ret = renum_init(&s)))
		goto out;
	if ((ret = sub_header(&s, cols, ncols)) || (ret = sub_samples(&s, keep, cols, ncols)) ||
	    (ret = sub_rows(&s)) || (ret = sub_strings(&s)))
		goto out;
	*out = s.dst;
	s.dst = NULL;
out:
	pprof_profile_free(s.dst);
	free(s.mem);
	return ret;
}
