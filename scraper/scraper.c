/*
 * The scraper's public interface: the target table, its life cycle, and what the
 * /targets page shows. Transfers live in fetch.c and loop.c, processing in process.c.
 */
#define LOG_MODULE "scraper"
#include "scraper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_INTERVAL (60 * NS_PER_SEC)
#define DEFAULT_TIMEOUT (10 * NS_PER_SEC)
#define DEFAULT_CONCURRENCY 64
#define DEFAULT_BODY (32u << 20)
#define DEFAULT_PROFILE (64u << 20)
#define DEFAULT_BUFFER_BUDGET ((size_t)64 << 20)

static const char *const type_names[SCRAPE_NTYPES] = {"cpu", "heap", "block", "mutex",
						       "goroutine"};

const char *scrape_type_name(unsigned type)
{
	for (int i = 0; i < SCRAPE_NTYPES; i++)
		if (type == 1u << i)
			return type_names[i];
	return "?";
}

int scrape_types_parse(const char *s, unsigned *out)
{
	unsigned set = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");
		int found = 0;
		while (n > 0 && p[0] == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		for (int i = 0; i < SCRAPE_NTYPES && n; i++) {
			if (strlen(type_names[i]) == n && strncmp(p, type_names[i], n) == 0) {
				set |= 1u << i;
				found = 1;
			}
		}
		if (!found)
			return -EINVAL;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (!set)
		return -EINVAL;
	*out = set;
	return 0;
}

static void metrics_init(struct scraper *s)
{
	static const char *const labels[] = {"type", "result"};
	static const char *const tl[] = {"type"};
	static const char *const state[] = {"state"};
	struct metrics_registry *m = s->cfg.metrics;
	struct metric_family *f;

	if (!m)
		return;
	s->scrapes_family = metrics_family(m, METRIC_COUNTER, "podprof_scrapes_total",
					   "Scrapes by profile type and result", labels, 2, NULL, 0);
	s->duration_family = metrics_family(m, METRIC_HISTOGRAM, "podprof_scrape_duration_seconds",
					    "Duration of scrapes (CPU profiles include their "
					    "seconds), by profile type",
					    tl, 1, metrics_duration_buckets,
					    metrics_duration_buckets_len);
	f = metrics_family(m, METRIC_GAUGE, "podprof_targets",
			   "Scrape targets by state (up: the last scrape of every type succeeded)",
			   state, 1, NULL, 0);
	if (f) {
		s->targets_up = metrics_series(f, (const char *[]){"up"});
		s->targets_down = metrics_series(f, (const char *[]){"down"});
		s->targets_unknown = metrics_series(f, (const char *[]){"unknown"});
	}
	s->bytes_total = metrics_counter(m, "podprof_scrape_bytes_total",
					 "Bytes received from targets (as sent, compressed)");
	s->delta_bytes = metrics_gauge(m, "podprof_scrape_delta_state_bytes",
				       "Memory held by the delta state of cumulative profiles");
	s->cpu_collisions = metrics_counter(m, "podprof_scrape_cpu_collisions_avoided_total",
					    "CPU scrapes postponed because the target's previous CPU "
					    "profile was still running");
	s->missed = metrics_counter(m, "podprof_scrape_missed_total",
				    "Scrapes skipped because the previous one of the same target "
				    "and type had not finished by the next interval");
	s->buf_bytes = metrics_gauge(m, "podprof_scrape_buffer_bytes",
				     "Memory held by the responses being received, waiting and "
				     "decoded (buffer capacity), out of the scrape buffer budget");
	s->buf_budget = metrics_gauge(m, "podprof_scrape_buffer_budget_bytes",
				      "The scrape buffer budget (--scrape-buffer-budget)");
	s->buf_peak_bytes = metrics_gauge(m, "podprof_scrape_buffer_peak_bytes",
					  "The most podprof_scrape_buffer_bytes has been");
	s->buf_waits = metrics_counter(m, "podprof_scrape_buffer_waits_total",
				       "Scrapes that waited for memory of the scrape buffer budget "
				       "(a paused transfer, a decode on hold)");
	s->buf_failures = metrics_counter(m, "podprof_scrape_buffer_failures_total",
					  "Scrapes failed because the scrape buffer budget was used "
					  "up (the response holding the most gives way)");
	metric_set(s->buf_budget, (double)s->cfg.max_buffer_bytes);
}

int scraper_new(const struct scraper_config *cfg, struct scraper **out)
{
	struct scraper *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->epfd = s->wakefd = -1;
	s->cfg = *cfg;
	if (s->cfg.interval_ns <= 0)
		s->cfg.interval_ns = DEFAULT_INTERVAL;
	if (s->cfg.timeout_ns <= 0)
		s->cfg.timeout_ns = DEFAULT_TIMEOUT;
	if (s->cfg.cpu_seconds <= 0)
		s->cfg.cpu_seconds = 10;
	/* the CPU profile must end before the next one is due */
	if ((int64_t)s->cfg.cpu_seconds * NS_PER_SEC >= s->cfg.interval_ns)
		s->cfg.cpu_seconds = (int)(s->cfg.interval_ns / NS_PER_SEC) - 1;
	if (s->cfg.cpu_seconds < 1)
		s->cfg.cpu_seconds = 1;
	if (!s->cfg.types)
		s->cfg.types = SCRAPE_ALL_TYPES;
	if (!s->cfg.max_concurrency)
		s->cfg.max_concurrency = DEFAULT_CONCURRENCY;
	if (!s->cfg.max_body_bytes)
		s->cfg.max_body_bytes = DEFAULT_BODY;
	if (!s->cfg.max_profile_bytes)
		s->cfg.max_profile_bytes = DEFAULT_PROFILE;
	if (!s->cfg.max_buffer_bytes)
		s->cfg.max_buffer_bytes = DEFAULT_BUFFER_BUDGET;
	if (!s->cfg.processing_threads)
		s->cfg.processing_threads = 2;
	if (!s->cfg.max_delta_bytes)
		s->cfg.max_delta_bytes = 16u << 20;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_cond_init(&s->work_cond, NULL);
	pthread_cond_init(&s->buf_cond, NULL);
	list_init(&s->targets);
	list_init(&s->work);
	list_init(&s->flight);
	list_init(&s->jobs);
	s->table_size = 1024;
	s->table = calloc(s->table_size, sizeof(*s->table));
	s->multi = curl_multi_init();
	if (!s->table || !s->multi)
		goto fail;
	/* idle connections kept for reuse: libcurl's default (4 per transfer ever added at
	 * once) lets the cache creep up to 4 x the concurrency, one descriptor each, as the
	 * peak of simultaneous transfers grows; a fixed bound keeps the descriptors flat */
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->cfg.max_concurrency);
	r = scrape_loop_init(s);
	if (r)
		goto fail;
	r = -ENOMEM;
	metrics_init(s);
	r = process_start_workers(s);
	if (r)
		goto fail;
	s->running = 1;
	if (pthread_create(&s->loop_thread, NULL, scrape_loop_main, s) != 0) {
		s->running = 0;
		r = -EAGAIN;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	scraper_free(s);
	return r;
}

static void target_free(struct target *t)
{
	free(t->id);
	free(t->base_url);
	free(t->service_name);
	free(t->instance_uid);
	for (size_t i = 0; i < t->nlabels; i++) {
		free(t->label_names[i]);
		free(t->label_values[i]);
	}
	for (int i = 0; i < SCRAPE_NTYPES; i++)
		pprof_delta_free(t->st[i].delta);
	free(t);
}

void target_put(struct scraper *s, struct target *t)
{
	(void)s;
	if (--t->refs == 0)
		target_free(t);
}

void scraper_free(struct scraper *s)
{
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->running = 0;
		pthread_mutex_unlock(&s->lock);
		scrape_loop_wake(s);
		pthread_join(s->loop_thread, NULL);
	}
	process_stop_workers(s);
	while (!list_empty(&s->targets)) {
		struct target *t = list_entry(list_pop_front(&s->targets), struct target, all);
		target_put(s, t);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	free(s->table);
	free(s->token);
	pthread_cond_destroy(&s->work_cond);
	pthread_cond_destroy(&s->buf_cond);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct target **slot(struct scraper *s, const char *id)
{
	struct target **pp = &s->table[hash64(id, strlen(id), 0) % s->table_size];
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void unlink_target(struct scraper *s, struct target **pp)
{
	struct target *t = *pp;
	*pp = t->next;
	list_remove(&t->all);
	t->removed = 1;
	s->ntargets--;
	target_put(s, t);
}

static int same_labels(const struct target *t, const struct scrape_target *n)
{
	if (t->nlabels != n->nlabels)
		return 0;
	for (size_t i = 0; i < n->nlabels; i++)
		if (strcmp(t->label_names[i], n->label_names[i]) ||
		    strcmp(t->label_values[i], n->label_values[i]))
			return 0;
	return 1;
}

int scraper_target_set(struct scraper *s, const struct scrape_target *n)
{
	struct target **pp, *t;
	unsigned types;
	int cpu_seconds, r = -ENOMEM;

	if (!n->id || !*n->id || !n->base_url || !n->service_name || !*n->service_name ||
	    n->nlabels > SCRAPE_MAX_LABELS)
		return -EINVAL;
	/* what the target gets, defaults applied: compared as such with the current one */
	types = n->types ? n->types : s->cfg.types;
	cpu_seconds = n->cpu_seconds > 0 ? n->cpu_seconds : s->cfg.cpu_seconds;
	if ((int64_t)cpu_seconds * NS_PER_SEC >= s->cfg.interval_ns)
		cpu_seconds = s->cfg.cpu_seconds;
	pthread_mutex_lock(&s->lock);
	pp = slot(s, n->id);
	if (*pp) {
		t = *pp;
		/* the same target as before: keep its schedule and delta state */
		if (!t->removed && strcmp(t->base_url, n->base_url) == 0 &&
		    strcmp(t->service_name, n->service_name) == 0 &&
		    strcmp(t->instance_uid, n->instance_uid ? n->instance_uid : "") == 0 &&
		    t->types == types && t->cpu_seconds == cpu_seconds &&
		    t->auth == n->auth && same_labels(t, n)) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		/* changed: a new target (a new uid means a restarted process, a new URL a
		 * different one), so its baselines start over */
		unlink_target(s, pp);
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->id = strdup(n->id);
	t->base_url = strdup(n->base_url);
	t->service_name = strdup(n->service_name);
	t->instance_uid = strdup(n->instance_uid ? n->instance_uid : "");
	if (!t->id || !t->base_url || !t->service_name || !t->instance_uid)
		goto fail;
	for (size_t i = 0; i < n->nlabels; i++) {
		t->label_names[i] = strdup(n->label_names[i]);
		t->label_values[i] = strdup(n->label_values[i]);
		t->nlabels = i + 1;
		if (!t->label_names[i] || !t->label_values[i])
			goto fail;
	}
	t->types = types;
	t->cpu_seconds = cpu_seconds;
	t->auth = n->auth;
	t->offset = scrape_offset(t->id, s->cfg.interval_ns);
	t->refs = 1;
	for (int i = 0; i < SCRAPE_NTYPES; i++) {
		t->st[i].type = 1u << i;
		t->st[i].last_ok = -1;
		t->st[i].next_due = scrape_next_due(time_mono_ns(), s->cfg.interval_ns, t->offset);
	}
	t->next = s->table[hash64(t->id, strlen(t->id), 0) % s->table_size];
	s->table[hash64(t->id, strlen(t->id), 0) % s->table_size] = t;
	list_push_back(&s->targets, &t->all);
	s->ntargets++;
	/* said once per target (an unchanged target returns above): a pod's annotation
	 * is the user's wish, not a reason to stop */
	if (n->cpu_seconds > 0 && n->cpu_seconds != cpu_seconds)
		log_warn("%s: CPU profiles of %ds do not fit the scrape interval; they last "
			 "%ds (coroot.com/profile-cpu-seconds must be shorter than "
			 "PROFILES_SCRAPE_INTERVAL)", t->id, n->cpu_seconds, cpu_seconds);
	r = 0;
	goto out;
fail:
	target_free(t);
out:
	pthread_mutex_unlock(&s->lock);
	scrape_loop_wake(s);
	return r;
}

void scraper_target_remove(struct scraper *s, const char *id)
{
	struct target **pp;

	pthread_mutex_lock(&s->lock);
	pp = slot(s, id);
	if (*pp)
		unlink_target(s, pp);
	pthread_mutex_unlock(&s->lock);
}

size_t scraper_target_count(struct scraper *s, size_t *healthy)
{
	struct list_node *pos, *tmp;
	size_t n, ok = 0;

	pthread_mutex_lock(&s->lock);
	n = s->ntargets;
	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		int up = 1;
		for (int i = 0; i < SCRAPE_NTYPES; i++)
			if ((t->types & (1u << i)) && t->st[i].last_ok != 1)
				up = 0;
		ok += up;
	}
	pthread_mutex_unlock(&s->lock);
	if (healthy)
		*healthy = ok;
	return n;
}

int scraper_scrape_all(struct scraper *s, int64_t timeout_ns)
{
	int64_t deadline = time_real_ns() + timeout_ns;
	struct timespec ts = {.tv_sec = deadline / NS_PER_SEC, .tv_nsec = deadline % NS_PER_SEC};
	struct list_node *pos, *tmp;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		for (int i = 0; i < SCRAPE_NTYPES; i++)
			t->st[i].next_due = 0;
	}
	s->scrape_now = 1;
	pthread_mutex_unlock(&s->lock);
	scrape_loop_wake(s);
	pthread_mutex_lock(&s->lock);
	/* the loop clears scrape_now once every due scrape has started */
	while ((s->scrape_now || s->pending_jobs > 0) && r == 0)
		if (pthread_cond_timedwait(&s->idle, &s->lock, &ts) == ETIMEDOUT)
			r = -ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void scrape_record(struct scraper *s, const struct target *t, struct tstate *st, int ok,
		   const char *result, const char *error, int64_t duration, size_t bytes)
{
	const char *type = scrape_type_name(st->type);
	int was_ok, changed;

	if (s->scrapes_family) {
		const char *v[2] = {type, result};
		metric_inc(metrics_series(s->scrapes_family, v));
	}
	if (s->duration_family) {
		const char *v[1] = {type};
		metric_observe(metrics_series(s->duration_family, v), (double)duration / 1e9);
	}
	metric_add(s->bytes_total, (double)bytes);
	pthread_mutex_lock(&s->lock);
	was_ok = st->last_ok;
	changed = !ok && strcmp(st->last_error, error) != 0;
	st->last_ok = ok;
	st->last_duration = duration;
	st->last_bytes = bytes;
	st->scrapes++;
	if (!ok)
		st->failures++;
	snprintf(st->last_error, sizeof(st->last_error), "%s", ok ? "" : error);
	pthread_mutex_unlock(&s->lock);
	/* logged when the state changes, not at every interval */
	if (changed)
		log_warn("%s: %s scrape failed: %s", t->id, type, error);
	else if (ok && was_ok == 0)
		log_info("%s: %s scrapes work again", t->id, type);
}

void scrape_update_gauges(struct scraper *s)
{
	struct list_node *pos, *tmp;
	size_t up = 0, down = 0, unknown = 0, bytes = 0;

	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		int any_down = 0, any_unknown = 0;
		for (int i = 0; i < SCRAPE_NTYPES; i++) {
			const struct tstate *st = &t->st[i];
			if (!(t->types & st->type))
				continue;
			any_down |= st->last_ok == 0;
			any_unknown |= st->last_ok < 0;
			/* a busy pair's delta belongs to its worker, which may be replacing it */
			if (!st->busy && st->delta)
				bytes += pprof_delta_memory(st->delta);
		}
		if (any_down)
			down++;
		else if (any_unknown)
			unknown++;
		else
			up++;
	}
	metric_set(s->targets_up, (double)up);
	metric_set(s->targets_down, (double)down);
	metric_set(s->targets_unknown, (double)unknown);
	metric_set(s->delta_bytes, (double)bytes);
}
