/*
 * Processing a scraped profile, on worker threads: decode within bounds, turn
 * cumulative values into the change since the previous scrape (not for godeltaprof's
 * endpoints, which already send deltas), give the sample types Coroot's names, set the
 * window, and hand the profile to the uploader.
 */
#define LOG_MODULE "scraper"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct pprof_rename cpu_names[] = {
	{"samples", "count", ""}, /* Coroot skips unnamed types: only the time is stored */
	{"cpu", "nanoseconds", "go:profile_cpu:nanoseconds"},
};
static const struct pprof_rename heap_names[] = {
	{"alloc_objects", "count", "go:heap_alloc_objects:count"},
	{"alloc_space", "bytes", "go:heap_alloc_space:bytes"},
	{"inuse_objects", "count", "go:heap_inuse_objects:count"},
	{"inuse_space", "bytes", "go:heap_inuse_space:bytes"},
};
static const struct pprof_rename block_names[] = {
	{"contentions", "count", "go:block_contentions:count"},
	{"delay", "nanoseconds", "go:block_delay:nanoseconds"},
};
static const struct pprof_rename mutex_names[] = {
	{"contentions", "count", "go:mutex_contentions:count"},
	{"delay", "nanoseconds", "go:mutex_delay:nanoseconds"},
};
static const struct pprof_rename goroutine_names[] = {
	{"goroutine", "count", "go:goroutine_goroutine:count"},
};

static int rename_for(unsigned type, struct pprof_profile *p)
{
	switch (type) {
	case SCRAPE_CPU:
		return pprof_rename_sample_types(p, cpu_names, ARRAY_SIZE(cpu_names), 0);
	case SCRAPE_HEAP:
		return pprof_rename_sample_types(p, heap_names, ARRAY_SIZE(heap_names), 0);
	case SCRAPE_BLOCK:
		return pprof_rename_sample_types(p, block_names, ARRAY_SIZE(block_names), 0);
	case SCRAPE_MUTEX:
		return pprof_rename_sample_types(p, mutex_names, ARRAY_SIZE(mutex_names), 0);
	default:
		return pprof_rename_sample_types(p, goroutine_names, ARRAY_SIZE(goroutine_names), 0);
	}
}

static void process(struct scraper *s, struct job *j)
{
	struct target *t = j->t;
	struct tstate *st = j->st;
	struct pprof_limits lim = pprof_default_limits;
	struct pprof_profile *p = NULL;
	struct scrape_profile_meta meta;
	char err[SCRAPE_ERROR_LEN];
	const char *result = "invalid";
	int64_t now = time_real_ns(), window;
	size_t bytes = j->body.len;
	int r, cumulative = st->type == SCRAPE_HEAP || st->type == SCRAPE_BLOCK ||
			    st->type == SCRAPE_MUTEX;

	lim.max_compressed = s->cfg.max_body_bytes;
	lim.max_decompressed = s->cfg.max_profile_bytes;
	/* the decompressed bytes and the profile count against the buffer budget too */
	lim.pool = &j->pool;
	r = pprof_decode(j->body.data, j->body.len, &lim, &p);
	/* the profile holds all that is needed of the body now */
	buf_free(&j->body);
	if (r && budget_failed(s, j, err, sizeof(err))) {
		result = "too_large";
		goto fail;
	}
	if (r) {
		snprintf(err, sizeof(err), "not a pprof profile (%s)",
			 r == -E2BIG ? "larger than the profile limits" : strerror(-r));
		result = r == -E2BIG ? "too_large" : "invalid";
		goto fail;
	}
	if (j->godelta) {
		/* /targets shows it, under the lock */
		pthread_mutex_lock(&s->lock);
		st->godelta = 1;
		pthread_mutex_unlock(&s->lock);
	}
	window = st->window_start ? now - st->window_start : s->cfg.interval_ns;
	if (cumulative && !j->godelta) {
		int mask[16] = {0};
		size_t n = pprof_sample_type_count(p);
		if (n > ARRAY_SIZE(mask)) {
			snprintf(err, sizeof(err), "%zu sample types", n);
			goto fail;
		}
		pprof_go_cumulative(p, mask);
		if (!st->delta && !(st->delta = pprof_delta_new())) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		r = pprof_delta_apply(st->delta, p, mask, n);
		if (r < 0) {
			snprintf(err, sizeof(err), "delta failed: %s", strerror(-r));
			goto fail;
		}
		if (r == PPROF_DELTA_RESET)
			log_info("%s: %s values went down: the target restarted; counting from zero",
				 t->id, scrape_type_name(st->type));
	}
	if (st->type == SCRAPE_CPU)
		window = (int64_t)t->cpu_seconds * NS_PER_SEC;
	pprof_set_time(p, now, window);
	r = rename_for(st->type, p);
	if (r) {
		snprintf(err, sizeof(err), "renaming failed: %s", strerror(-r));
		goto fail;
	}
	meta = (struct scrape_profile_meta){.service_name = t->service_name,
					    .kind = scrape_type_name(st->type),
					    .label_names = (const char *const *)t->label_names,
					    .label_values = (const char *const *)t->label_values,
					    .nlabels = t->nlabels,
					    .time_ns = now};
	/* the uploader's split drops what is zero (a first cumulative scrape uploads
	 * nothing but the in-use part of a heap profile) */
	if (s->cfg.emit)
		s->cfg.emit(s->cfg.emit_ctx, &meta, p);
	st->window_start = now;
	if (st->delta && pprof_delta_memory(st->delta) > s->cfg.max_delta_bytes) {
		/* a target with an unbounded number of stacks: start over rather than grow */
		log_warn("%s: %s delta state over %zu bytes; starting a new baseline", t->id,
			 scrape_type_name(st->type), s->cfg.max_delta_bytes);
		pprof_delta_free(st->delta);
		st->delta = NULL;
	}
	scrape_record(s, t, st, 1, "success", NULL, time_mono_ns() - j->started, bytes);
	pprof_profile_free(p);
	return;
fail:
	scrape_record(s, t, st, 0, result, err, time_mono_ns() - j->started, bytes);
	pprof_profile_free(p);
}

static void *worker_main(void *arg)
{
	struct scraper *s = arg;

	pthread_setname_np(pthread_self(), "scrape-worker");
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct list_node *n;
		struct job *j;
		int removed, dropped;

		while (list_empty(&s->work) && !s->stopping)
			pthread_cond_wait(&s->work_cond, &s->lock);
		if (s->stopping && list_empty(&s->work))
			break;
		n = list_pop_front(&s->work);
		j = list_entry(n, struct job, node);
		s->queued_bytes -= j->body.len;
		j->phase = JOB_PROCESSING;
		removed = j->t->removed; /* set under the lock by scraper_target_remove */
		dropped = j->dropped;    /* its body gave way to others' (budget.c) */
		pthread_mutex_unlock(&s->lock);
		if (dropped) {
			char err[SCRAPE_ERROR_LEN];
			budget_failed(s, j, err, sizeof(err));
			scrape_record(s, j->t, j->st, 0, "too_large", err,
				      time_mono_ns() - j->started, 0);
		} else if (!removed) {
			/* a target removed meanwhile is not uploaded for any more */
			process(s, j);
		}
		pthread_mutex_lock(&s->lock);
		j->st->busy = 0;
		s->pending_jobs--;
		pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
		job_free(j);
		/* scrapes held back while the workers were behind may start now */
		scrape_loop_wake(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void process_queue(struct scraper *s, struct job *j)
{
	pthread_mutex_lock(&s->lock);
	list_push_back(&s->work, &j->node);
	j->phase = JOB_QUEUED;
	s->queued_bytes += j->body.len;
	pthread_cond_signal(&s->work_cond);
	pthread_mutex_unlock(&s->lock);
}

int process_start_workers(struct scraper *s)
{
	s->workers = calloc(s->cfg.processing_threads, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (size_t i = 0; i < s->cfg.processing_threads; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
			process_stop_workers(s);
			return -EAGAIN;
		}
		s->nworkers++;
	}
	return 0;
}

void process_stop_workers(struct scraper *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->work_cond);
	pthread_cond_broadcast(&s->buf_cond);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	s->nworkers = 0;
	free(s->workers);
	s->workers = NULL;
}
