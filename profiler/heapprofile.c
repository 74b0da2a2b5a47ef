/*
 * Heap profile building: scaling and sample layout follow runtime/pprof's
 * writeHeapProto, so that a profile read from outside compares equal to the one the
 * process writes itself.
 */
#define LOG_MODULE "heapprofile"
#include "heapprofile.h"

#include <errno.h>
#include <stdlib.h>

#include "common.h"

const char *const heap_type_names_pprof[4] = {"alloc_objects", "alloc_space", "inuse_objects",
					      "inuse_space"};
const char *const heap_type_names_coroot[4] = {
	"go_runtime:heap_alloc_objects:count", "go_runtime:heap_alloc_space:bytes",
	"go_runtime:heap_inuse_objects:count", "go_runtime:heap_inuse_space:bytes"};
static const char *const units[4] = {"count", "bytes", "count", "bytes"};

/* A count read from another process as a profile value: never negative, at most
 * INT64_MAX (the memory may be corrupt, or read in the middle of an update). */
static int64_t count_value(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

void heap_values_cumulative(const struct heap_bucket *b, struct heap_values *v)
{
	const struct heap_counts *c = &b->counts;

	v->alloc_objects = count_value(c->allocs);
	v->alloc_bytes = count_value(c->alloc_bytes);
	/* more frees than allocations is not a state the runtime publishes: nothing in use */
	v->inuse_objects = c->allocs > c->frees ? count_value(c->allocs - c->frees) : 0;
	v->inuse_bytes = c->alloc_bytes > c->free_bytes ? count_value(c->alloc_bytes - c->free_bytes)
							: 0;
}

int heap_profile_build(const struct heap_snapshot *s, const struct heap_values *values,
		       struct symcache *c, uint64_t bias, const struct heap_profile_spec *spec,
		       struct pprof_profile **out)
{
	const char *const *names = spec && spec->type_names ? spec->type_names
							    : heap_type_names_pprof;
	struct pprof_builder *b = pprof_builder_new();
	uint64_t *locs = NULL, mapping_id = 0;
	int r = -ENOMEM;

	*out = NULL;
	if (!b)
		goto out;
	locs = malloc((1024 + 64) * sizeof(*locs));
	if (!locs)
		goto out;
	for (int i = 0; i < 4; i++)
		if ((r = pprof_builder_add_sample_type(b, names[i], units[i])))
			goto out;
	if ((r = pprof_builder_set_period(b, "space", "bytes", s->rate)))
		goto out;
	if (spec)
		pprof_builder_set_time(b, spec->time_ns, spec->duration_ns);
	symcache_begin(c);
	if (spec && spec->mapping && !(mapping_id = pprof_builder_mapping(b, spec->mapping))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->nbuckets; i++) {
		const struct heap_bucket *bk = &s->buckets[i];
		struct heap_values v;
		struct pprof_label label = {.key = "bytes"};
		int64_t vals[4];
		size_t nlocs;

		if (values)
			v = values[i];
		else
			heap_values_cumulative(bk, &v);
		heap_scale(v.alloc_objects, v.alloc_bytes, s->rate, &vals[0], &vals[1]);
		heap_scale(v.inuse_objects, v.inuse_bytes, s->rate, &vals[2], &vals[3]);
		if (!vals[0] && !vals[1] && !vals[2] && !vals[3])
			continue;
		r = symcache_stack(c, b, mapping_id, bias, s->pcs + bk->stk, bk->nstk, locs,
				   1024 + 64, &nlocs);
		if (r)
			goto out;
		/* the object size, as runtime/pprof labels it (AllocBytes / AllocObjects) */
		if (bk->counts.allocs)
			label.num = (int64_t)(bk->counts.alloc_bytes / bk->counts.allocs);
		r = pprof_builder_add_sample(b, locs, nlocs, vals, 4, &label, label.num ? 1 : 0);
		if (r)
			goto out;
	}
	r = pprof_builder_finish(b, out);
out:
	free(locs);
	pprof_builder_free(b);
	return r;
}
