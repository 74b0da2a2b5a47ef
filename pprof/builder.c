/*
 * The profile builder: a profile under construction plus three hash indexes that
 * deduplicate strings, functions (all fields equal) and locations (same mapping,
 * address and line list), so that callers may ask for a frame's id once per sample
 * without growing the tables. Ids are row index + 1, as everywhere in pprof/.
 */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

struct pprof_builder {
	struct pprof_profile *p;
	struct htab strings, functions, locations;
};

struct pprof_builder *pprof_builder_new(void)
{
	struct pprof_builder *b = calloc(1, sizeof(*b));

	if (!b)
		goto out;
	b->p = pprof_profile_alloc(NULL);
	if (!b->p || htab_init(&b->strings, 0) || htab_init(&b->functions, 0) ||
	    htab_init(&b->locations, 0) || htab_add(&b->strings, hash64("", 0, 0), 0)) {
		pprof_builder_free(b);
		b = NULL;
	}
out:
	return b;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	pprof_profile_free(b->p);
	htab_free(&b->strings);
	htab_free(&b->functions);
	htab_free(&b->locations);
	free(b);
}

struct str_key {
	const struct pprof_profile *p;
	const char *s;
};

static int str_eq(const void *ctx, size_t i)
{
	const struct str_key *k = ctx;

	return strcmp(pp_str(k->p, (int64_t)i), k->s) == 0;
}

int64_t pprof_builder_string(struct pprof_builder *b, const char *s)
{
	struct str_key k = {b->p, s ? s : ""};
	size_t len = strlen(k.s);
	uint64_t h = hash64(k.s, len, 0);
	size_t ref = htab_find(&b->strings, h, str_eq, &k);
	int64_t ret = (int64_t)ref - 1;

	if (ref)
		goto out;
	ret = pprof_profile_add_string(b->p, k.s, len);
	if (ret < 0)
		goto out;
	if (htab_add(&b->strings, h, (size_t)ret)) {
		/* Drop the string again so that the table and the index agree. */
		b->p->stroff.len -= sizeof(size_t);
		ret = -ENOMEM;
	}
out:
	return ret;
}

static int add_vtype(struct pprof_builder *b, const char *type, const char *unit,
		     struct pp_vtype *t)
{
	int64_t ti = pprof_builder_string(b, type), ui = pprof_builder_string(b, unit);
	int ret = -ENOMEM;

	if (ti < 0 || ui < 0)
		goto out;
	t->type = ti;
	t->unit = ui;
	ret = 0;
out:
	return ret;
}

int pprof_builder_add_sample_type(struct pprof_builder *b, const char *type, const char *unit)
{
	struct pp_vtype t;
	int ret = -EINVAL;

	/* Existing samples have one value per type already: their count cannot change. */
	if (pprof_sample_count(b->p))
		goto out;
	ret = add_vtype(b, type, unit, &t);
	if (ret)
		goto out;
	ret = pp_push(&b->p->types, &t, sizeof(t));
out:
	return ret;
}

int pprof_builder_set_period(struct pprof_builder *b, const char *type, const char *unit,
			     int64_t period)
{
	int ret = add_vtype(b, type, unit, &b->p->period_type);

	if (!ret)
		b->p->period = period;
	return ret;
}

int pprof_builder_set_default_sample_type(struct pprof_builder *b, const char *type)
{
	int64_t i = pprof_builder_string(b, type);

	if (i >= 0)
		b->p->default_sample_type = i;
	return i < 0 ? (int)i : 0;
}

void pprof_builder_set_time(struct pprof_builder *b, int64_t time_ns, int64_t duration_ns)
{
	pprof_set_time(b->p, time_ns, duration_ns);
}

int pprof_builder_add_comment(struct pprof_builder *b, const char *comment)
{
	int64_t i = pprof_builder_string(b, comment);

	return i < 0 ? (int)i : pp_push(&b->p->comments, &i, sizeof(i));
}

uint64_t pprof_builder_mapping(struct pprof_builder *b, const struct pprof_mapping_info *m)
{
	struct pp_mapping r = {
	    .memory_start = m->memory_start,
	    .memory_limit = m->memory_limit,
	    .file_offset = m->file_offset,
	    .filename = pprof_builder_string(b, m->filename),
	    .build_id = pprof_builder_string(b, m->build_id),
	    .has_functions = !!m->has_functions,
	    .has_filenames = !!m->has_filenames,
	    .has_line_numbers = !!m->has_line_numbers,
	    .has_inline_frames = !!m->has_inline_frames,
	};

	int ok = r.filename >= 0 && r.build_id >= 0 && !pp_push(&b->p->mappings, &r, sizeof(r));

	return ok ? PP_COUNT(&b->p->mappings, struct pp_mapping) : 0;
}

struct fn_key {
	const struct pprof_profile *p;
	struct pp_function f;
};

static int fn_eq(const void *ctx, size_t i)
{
	const struct fn_key *k = ctx;
	const struct pp_function *f = PP_ROW(&k->p->functions, struct pp_function, i);

	return f->name == k->f.name && f->system_name == k->f.system_name &&
	       f->filename == k->f.filename && f->start_line == k->f.start_line;
}

uint64_t pprof_builder_function(struct pprof_builder *b, const char *name,
				const char *system_name, const char *filename, int64_t start_line)
{
	struct fn_key k = {b->p,
			   {pprof_builder_string(b, name), pprof_builder_string(b, system_name),
			    pprof_builder_string(b, filename), start_line}};
	size_t n = PP_COUNT(&b->p->functions, struct pp_function);
	uint64_t h, id = 0;

	if (k.f.name < 0 || k.f.system_name < 0 || k.f.filename < 0)
		goto out;
	h = hash64(&k.f, sizeof(k.f), 1);
	id = htab_find(&b->functions, h, fn_eq, &k);
	if (id)
		goto out;
	if (pp_push(&b->p->functions, &k.f, sizeof(k.f)))
		goto out;
	if (htab_add(&b->functions, h, n)) {
		b->p->functions.len -= sizeof(k.f);
		goto out;
	}
	id = n + 1;
out:
	return id;
}

struct loc_key {
	const struct pprof_profile *p;
	uint64_t mapping_id, address;
	const struct pprof_line *lines;
	size_t nlines;
};

static int loc_eq(const void *ctx, size_t i)
{
	const struct loc_key *k = ctx;
	const struct pp_location *l = PP_ROW(&k->p->locations, struct pp_location, i);
	const struct pp_line *ln = PP_ROW(&k->p->lines, struct pp_line, l->line_off);

	if (l->mapping_id != k->mapping_id || l->address != k->address ||
	    l->nlines != k->nlines || l->is_folded)
		return 0;
	for (size_t j = 0; j < k->nlines; j++)
		if (ln[j].function_id != k->lines[j].function_id ||
		    ln[j].line != k->lines[j].line || ln[j].column)
			return 0;
	return 1;
}

uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				const struct pprof_line *lines, size_t nlines)
{
	struct loc_key k = {b->p, mapping_id, address, lines, nlines};
	size_t nfn = PP_COUNT(&b->p->functions, struct pp_function);
	size_t n = PP_COUNT(&b->p->locations, struct pp_location);
	size_t lines_len = b->p->lines.len;
	struct pp_location l = {mapping_id, address, PP_COUNT(&b->p->lines, struct pp_line),
				(uint32_t)nlines, 0};
	uint64_t h = hash64_u64(address, hash64_u64(mapping_id, 2)), id = 0;

	if (mapping_id > PP_COUNT(&b->p->mappings, struct pp_mapping) || nlines > UINT32_MAX)
		goto out;
	for (size_t j = 0; j < nlines; j++) {
		if (lines[j].function_id == 0 || lines[j].function_id > nfn)
			goto out;
		h = hash64_u64(lines[j].function_id, hash64_u64((uint64_t)lines[j].line, h));
	}
	id = htab_find(&b->locations, h, loc_eq, &k);
	if (id)
		goto out;
	for (size_t j = 0; j < nlines; j++) {
		struct pp_line ln = {lines[j].function_id, lines[j].line, 0};

		if (pp_push(&b->p->lines, &ln, sizeof(ln)))
			goto out;
	}
	if (pp_push(&b->p->locations, &l, sizeof(l)))
		goto out;
	if (htab_add(&b->locations, h, n)) {
		b->p->locations.len -= sizeof(l);
		goto out;
	}
	id = n + 1;
out:
	if (!id)
		b->p->lines.len = lines_len;
	return id;
}

int pprof_builder_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nlocs,
			     const int64_t *values, size_t nvalues,
			     const struct pprof_label *labels, size_t nlabels)
{
	struct pprof_profile *p = b->p;
	size_t nloc_rows = PP_COUNT(&p->locations, struct pp_location);
	struct pp_sample s = {PP_COUNT(&p->locids, uint64_t), PP_COUNT(&p->labels, struct pp_label),
			      (uint32_t)nlocs, (uint32_t)nlabels};
	size_t locids_len = p->locids.len, labels_len = p->labels.len;
	int ret = -EINVAL;

	if (nvalues != pp_ntypes(p) || nlocs > UINT32_MAX || nlabels > UINT32_MAX)
		goto out;
	for (size_t i = 0; i < nlocs; i++)
		if (location_ids[i] == 0 || location_ids[i] > nloc_rows)
			goto out;
	for (size_t i = 0; i < nlabels; i++)
		if (!labels[i].key)
			goto out;
	ret = -ENOMEM;
	if (nlocs && pp_push(&p->locids, location_ids, nlocs * sizeof(*location_ids)))
		goto out;
	for (size_t i = 0; i < nlabels; i++) {
		struct pp_label l = {pprof_builder_string(b, labels[i].key), 0, 0, 0};

		if (labels[i].str)
			l.str = pprof_builder_string(b, labels[i].str);
		else {
			l.num = labels[i].num;
			l.num_unit = pprof_builder_string(b, labels[i].num_unit);
		}
		if (l.key < 0 || l.str < 0 || l.num_unit < 0 || pp_push(&p->labels, &l, sizeof(l)))
			goto out;
	}
	/* Reserve both rows first so that values and samples can never get out of step. */
	if (buf_reserve(&p->samples, sizeof(s)) ||
	    buf_reserve(&p->values, nvalues * sizeof(*values)))
		goto out;
	if (nvalues)
		pp_push(&p->values, values, nvalues * sizeof(*values));
	pp_push(&p->samples, &s, sizeof(s));
	ret = 0;
out:
	if (ret) {
		p->locids.len = locids_len;
		p->labels.len = labels_len;
	}
	return ret;
}

struct pprof_profile *pprof_builder_table(struct pprof_builder *b)
{
	return b->p;
}

int pprof_builder_finish(struct pprof_builder *b, struct pprof_profile **out)
{
	struct pprof_profile *p = pprof_profile_dup(b->p);

	if (p)
		*out = p;
	return p ? 0 : -ENOMEM;
}
