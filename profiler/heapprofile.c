/*
 * Heap profile writing: scaling and sample layout follow runtime/pprof's
 * writeHeapProto, so that a profile read from outside compares equal to the one the
 * process writes itself. One builder holds the tables; one pprof stream per output
 * profile writes the samples.
 */
#define LOG_MODULE "heapprofile"
#include "heapprofile.h"

#include <errno.h>
#include <stdio.h>
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

#define MAX_LOCS (1024 + 64)
#define MAX_PARTS 2

struct heap_writer {
	struct pprof_builder *b;
	struct pprof_stream *parts[MAX_PARTS];
	size_t nparts;
	struct symcache *c;
	uint64_t mapping_id;
	uint64_t locs[MAX_LOCS];
};

int heap_writer_new(const struct heap_profile_spec *spec, struct symcache *c, struct buf *out,
		    struct heap_writer **out_w)
{
	static const size_t all[4] = {0, 1, 2, 3}, alloc[2] = {0, 1}, inuse[2] = {2, 3};
	const char *const *names = spec && spec->type_names ? spec->type_names
							    : heap_type_names_pprof;
	struct heap_writer *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	*out_w = NULL;
	if (!w || !(w->b = pprof_builder_new()))
		goto out;
	w->c = c;
	for (int i = 0; i < 4; i++)
		if ((r = pprof_builder_add_sample_type(w->b, names[i], units[i])))
			goto out;
	if (spec)
		pprof_builder_set_time(w->b, spec->time_ns, spec->duration_ns);
	if (spec && spec->mapping && !(w->mapping_id = pprof_builder_mapping(w->b, spec->mapping))) {
		r = -ENOMEM;
		goto out;
	}
	w->nparts = spec && spec->split ? 2 : 1;
	if (w->nparts == 1)
		r = pprof_stream_new(w->b, all, 4, 1, &out[0], &w->parts[0]);
	else if (!(r = pprof_stream_new(w->b, alloc, 2, 1, &out[0], &w->parts[0])))
		r = pprof_stream_new(w->b, inuse, 2, 1, &out[1], &w->parts[1]);
	if (r)
		goto out;
	symcache_begin(c);
	*out_w = w;
	w = NULL;
out:
	heap_writer_free(w);
	return r;
}

int heap_writer_add(struct heap_writer *w, const struct heap_bucket *bk,
		    const struct heap_values *values, const struct heap_walk_info *info)
{
	struct pprof_label label = {.key = "bytes"};
	struct heap_values v;
	int64_t vals[4];
	size_t nlocs;
	int r;

	if (values)
		v = *values;
	else
		heap_values_cumulative(bk, &v);
	heap_scale(v.alloc_objects, v.alloc_bytes, info->rate, &vals[0], &vals[1]);
	heap_scale(v.inuse_objects, v.inuse_bytes, info->rate, &vals[2], &vals[3]);
	if (!vals[0] && !vals[1] && !vals[2] && !vals[3])
		return 0;
	r = symcache_stack(w->c, w->b, w->mapping_id, info->bias, bk->stk, bk->nstk, w->locs,
			   MAX_LOCS, &nlocs);
	if (r)
		return r;
	/* the object size, as runtime/pprof labels it (AllocBytes / AllocObjects) */
	if (bk->counts.allocs)
		label.num = (int64_t)(bk->counts.alloc_bytes / bk->counts.allocs);
	for (size_t i = 0; i < w->nparts && !r; i++)
		r = pprof_stream_add_sample(w->parts[i], w->locs, nlocs, vals, &label,
					    label.num ? 1 : 0);
	return r;
}

void heap_writer_set_time(struct heap_writer *w, int64_t time_ns, int64_t duration_ns)
{
	pprof_builder_set_time(w->b, time_ns, duration_ns);
}

int heap_writer_finish(struct heap_writer *w, const struct heap_walk_info *info,
		       size_t *samples)
{
	int r = pprof_builder_set_period(w->b, "space", "bytes", info->rate);
	char comment[128];

	if (!r && info->partial) {
		snprintf(comment, sizeof(comment),
			 "partial profile: only the newest %zu heap buckets were read "
			 "(--heap-max-buckets)", info->nbuckets);
		r = pprof_builder_add_comment(w->b, comment);
	}
	for (size_t i = 0; i < w->nparts && !r; i++) {
		r = pprof_stream_finish(w->parts[i]);
		samples[i] = pprof_stream_sample_count(w->parts[i]);
	}
	return r;
}

void heap_writer_free(struct heap_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < MAX_PARTS; i++)
		pprof_stream_free(w->parts[i]);
	pprof_builder_free(w->b);
	free(w);
}
