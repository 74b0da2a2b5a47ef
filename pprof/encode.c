/*
 * Encoding: the profile's tables are laid out as protobuf-c message structs (one
 * allocation per kind of row, pointing straight at the profile's own id, value and
 * string arrays where the layouts agree) and packed by protobuf-c; ids are row index
 * + 1 (see profile.h). Optionally gzip-compressed, as `go tool pprof` and Coroot read it.
 */
#include <errno.h>
#include <stdlib.h>

#include "profile.h"
#include "profile.pb-c.h"

/* Every array the message borrows, freed together. */
struct pb {
	Perftools__Profiles__Profile msg;
	Perftools__Profiles__ValueType period_type;
	char **strings;
	Perftools__Profiles__ValueType *vt, **vtp;
	Perftools__Profiles__Sample *s, **sp;
	Perftools__Profiles__Label *lb, **lbp;
	Perftools__Profiles__Mapping *mp, **mpp;
	Perftools__Profiles__Location *lc, **lcp;
	Perftools__Profiles__Line *ln, **lnp;
	Perftools__Profiles__Function *fn, **fnp;
};

static void pb_free(struct pb *b)
{
	void *ptrs[] = {b->strings, b->vt, b->vtp, b->s, b->sp, b->lb, b->lbp, b->mp,
			b->mpp, b->lc, b->lcp, b->ln, b->lnp, b->fn, b->fnp};

	for (size_t i = 0; i < ARRAY_SIZE(ptrs); i++)
		free(ptrs[i]);
}

/* n structs and n pointers to them; 0 or -ENOMEM. */
#define ALLOC_ROWS(rows, ptrs, n)                                                         \
	(((rows) = calloc((n) + 1, sizeof(*(rows)))) &&                                   \
		 ((ptrs) = calloc((n) + 1, sizeof(*(ptrs))))                              \
	     ? 0                                                                          \
	     : -ENOMEM)

static int pb_header(struct pb *b, const struct pprof_profile *p)
{
	Perftools__Profiles__Profile *m = &b->msg;
	size_t nstr = pp_nstrings(p), nt = pp_ntypes(p);
	int ret = -ENOMEM;

	b->strings = calloc(nstr, sizeof(*b->strings));
	if (!b->strings || ALLOC_ROWS(b->vt, b->vtp, nt))
		goto out;
	for (size_t i = 0; i < nstr; i++)
		b->strings[i] = (char *)(uintptr_t)pp_str(p, (int64_t)i);
	for (size_t i = 0; i < nt; i++) {
		const struct pp_vtype *t = PP_ROW(&p->types, struct pp_vtype, i);

		perftools__profiles__value_type__init(&b->vt[i]);
		b->vt[i].type = t->type;
		b->vt[i].unit = t->unit;
		b->vtp[i] = &b->vt[i];
	}
	perftools__profiles__value_type__init(&b->period_type);
	b->period_type.type = p->period_type.type;
	b->period_type.unit = p->period_type.unit;
	m->string_table = b->strings;
	m->n_string_table = nstr;
	m->sample_type = b->vtp;
	m->n_sample_type = nt;
	m->period_type = &b->period_type;
	m->period = p->period;
	m->time_nanos = p->time_nanos;
	m->duration_nanos = p->duration_nanos;
	m->drop_frames = p->drop_frames;
	m->keep_frames = p->keep_frames;
	m->default_sample_type = p->default_sample_type;
	m->comment = PP_ROWS(&p->comments, int64_t);
	m->n_comment = PP_COUNT(&p->comments, int64_t);
	ret = 0;
out:
	return ret;
}

static int pb_samples(struct pb *b, const struct pprof_profile *p)
{
	size_t ns = pp_nsamples(p), nt = pp_ntypes(p), nlabels = 0, k = 0;
	int ret = -ENOMEM;

	for (size_t i = 0; i < ns; i++)
		nlabels += PP_ROW(&p->samples, struct pp_sample, i)->nlabels;
	if (ALLOC_ROWS(b->s, b->sp, ns) || ALLOC_ROWS(b->lb, b->lbp, nlabels))
		goto out;
	for (size_t i = 0; i < ns; i++) {
		const struct pp_sample *s = PP_ROW(&p->samples, struct pp_sample, i);
		const struct pp_label *l = PP_ROW(&p->labels, struct pp_label, s->label_off);
		Perftools__Profiles__Sample *o = &b->s[i];

		perftools__profiles__sample__init(o);
		o->location_id = PP_ROW(&p->locids, uint64_t, s->loc_off);
		o->n_location_id = s->nlocs;
		o->value = pp_values(p, i);
		o->n_value = nt;
		o->label = &b->lbp[k];
		o->n_label = s->nlabels;
		for (uint32_t j = 0; j < s->nlabels; j++, k++) {
			perftools__profiles__label__init(&b->lb[k]);
			b->lb[k].key = l[j].key;
			b->lb[k].str = l[j].str;
			b->lb[k].num = l[j].num;
			b->lb[k].num_unit = l[j].num_unit;
			b->lbp[k] = &b->lb[k];
		}
		b->sp[i] = o;
	}
	b->msg.sample = b->sp;
	b->msg.n_sample = ns;
	ret = 0;
out:
	return ret;
}

static int pb_tables(struct pb *b, const struct pprof_profile *p)
{
	size_t nm = PP_COUNT(&p->mappings, struct pp_mapping);
	size_t nl = PP_COUNT(&p->locations, struct pp_location);
	size_t nln = PP_COUNT(&p->lines, struct pp_line);
	size_t nf = PP_COUNT(&p->functions, struct pp_function);
	int ret = -ENOMEM;

	if (ALLOC_ROWS(b->mp, b->mpp, nm) || ALLOC_ROWS(b->lc, b->lcp, nl) ||
	    ALLOC_ROWS(b->ln, b->lnp, nln) || ALLOC_ROWS(b->fn, b->fnp, nf))
		goto out;
	for (size_t i = 0; i < nm; i++) {
		const struct pp_mapping *r = PP_ROW(&p->mappings, struct pp_mapping, i);
		Perftools__Profiles__Mapping *o = &b->mp[i];

		perftools__profiles__mapping__init(o);
		o->id = i + 1;
		o->memory_start = r->memory_start;
		o->memory_limit = r->memory_limit;
		o->file_offset = r->file_offset;
		o->filename = r->filename;
		o->build_id = r->build_id;
		o->has_functions = r->has_functions;
		o->has_filenames = r->has_filenames;
		o->has_line_numbers = r->has_line_numbers;
		o->has_inline_frames = r->has_inline_frames;
		b->mpp[i] = o;
	}
	for (size_t i = 0; i < nln; i++) {
		const struct pp_line *r = PP_ROW(&p->lines, struct pp_line, i);

		perftools__profiles__line__init(&b->ln[i]);
		b->ln[i].function_id = r->function_id;
		b->ln[i].line = r->line;
		b->ln[i].column = r->column;
		b->lnp[i] = &b->ln[i];
	}
	for (size_t i = 0; i < nl; i++) {
		const struct pp_location *r = PP_ROW(&p->locations, struct pp_location, i);
		Perftools__Profiles__Location *o = &b->lc[i];

		perftools__profiles__location__init(o);
		o->id = i + 1;
		o->mapping_id = r->mapping_id;
		o->address = r->address;
		o->line = &b->lnp[r->line_off];
		o->n_line = r->nlines;
		o->is_folded = r->is_folded;
		b->lcp[i] = o;
	}
	for (size_t i = 0; i < nf; i++) {
		const struct pp_function *r = PP_ROW(&p->functions, struct pp_function, i);
		Perftools__Profiles__Function *o = &b->fn[i];

		perftools__profiles__function__init(o);
		o->id = i + 1;
		o->name = r->name;
		o->system_name = r->system_name;
		o->filename = r->filename;
		o->start_line = r->start_line;
		b->fnp[i] = o;
	}
	b->msg.mapping = b->mpp;
	b->msg.n_mapping = nm;
	b->msg.location = b->lcp;
	b->msg.n_location = nl;
	b->msg.function = b->fnp;
	b->msg.n_function = nf;
	ret = 0;
out:
	return ret;
}

int pprof_encode(const struct pprof_profile *p, int gzip, struct buf *out)
{
	struct pb b = {.msg = PERFTOOLS__PROFILES__PROFILE__INIT};
	struct buf plain, *dst = gzip ? &plain : out;
	size_t size, start = out->len;
	int ret;

	buf_init(&plain, 0);
	if ((ret = pb_header(&b, p)) || (ret = pb_samples(&b, p)) || (ret = pb_tables(&b, p)))
		goto out;
	size = perftools__profiles__profile__get_packed_size(&b.msg);
	ret = buf_reserve(dst, size);
	if (ret)
		goto out;
	perftools__profiles__profile__pack(&b.msg, (uint8_t *)dst->data + dst->len);
	dst->len += size;
	dst->data[dst->len] = '\0';
	if (gzip)
		ret = pprof_gzip(plain.data, plain.len, out);
out:
	if (ret && out->len != start) {
		out->len = start;
		out->data[start] = '\0';
	}
	buf_free(&plain);
	pb_free(&b);
	return ret;
}
