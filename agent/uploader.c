/*
 * The uploader (see uploader.h for the contract).
 *
 * Shape: producers append items to a memory queue under one mutex and signal the
 * uploader thread; the thread takes the oldest item, sends it without holding the
 * mutex, and comes back to record the outcome. Every item carries a sequence number
 * given at submission (and kept in its spool file name across restarts), so "oldest"
 * is simply the lowest sequence among the memory queue's head and the spool's oldest
 * file. That keeps the order right even when newer items overflow to the spool while
 * an older one is in flight from memory.
 *
 * Bounds are enforced by the producer that crosses them, inside submit: the oldest
 * items move from memory to the spool (or are dropped without a spool), and the spool
 * deletes its oldest files; an oldest item that is in flight at that moment leaves
 * when its attempt fails. Disk work therefore happens in the producer's thread, but
 * never network work: producers do not wait for Coroot.
 *
 * The thread (uploader_thread.c) never polls: it sleeps on a condition variable until
 * work arrives, the backoff delay ends, a flush asks for an attempt now, or stop is
 * requested (which also aborts a transfer in progress).
 */
#define LOG_MODULE "uploader"
#include "uploader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pprof.h"
#include "sink_coroot.h"
#include "sink_dir.h"
#include "spool.h"
#include "upload_item.h"
#include "uploader_internal.h"

#define DEFAULT_TIMEOUT_NS (10 * NS_PER_SEC)
#define DEFAULT_QUEUE_MAX ((uint64_t)8 << 20)
#define DEFAULT_SPOOL_MAX ((uint64_t)256 << 20)
#define DEFAULT_BACKOFF_MIN_NS (500 * NS_PER_MS)
#define DEFAULT_BACKOFF_MAX_NS (300 * NS_PER_SEC)

uint64_t uploader_pending_locked(const struct uploader *u)
{
	return u->queue_len + (u->spool ? spool_count(u->spool) : 0);
}

void uploader_update_gauges(struct uploader *u)
{
	metric_set(u->m.queue_length, (double)u->queue_len);
	metric_set(u->m.queue_bytes, (double)u->queue_bytes);
	if (u->spool) {
		metric_set(u->m.spool_files, (double)spool_count(u->spool));
		metric_set(u->m.spool_bytes, (double)spool_bytes(u->spool));
		metric_set(u->m.spool_unsynced, (double)spool_unsynced(u->spool));
	}
}

/* Counts n dropped profiles; called with the lock held (or before the thread runs). */
void uploader_drop(struct uploader *u, enum upload_drop_reason reason, enum upload_sink sink,
		   uint64_t n, uint64_t bytes)
{
	if (n == 0)
		return;
	u->st.dropped += n;
	uploader_metrics_dropped(&u->m, reason, sink, n, bytes);
}

struct upload_item *uploader_oldest_idle(const struct uploader *u)
{
	for (struct list_node *n = u->queue.next; n != &u->queue; n = n->next) {
		struct upload_item *it = list_entry(n, struct upload_item, node);
		if (!it->inflight)
			return it;
	}
	return NULL;
}

void uploader_unlink_item(struct uploader *u, struct upload_item *it)
{
	if (it->overflow)
		u->overflow_bytes -= upload_item_size(it);
	list_remove(&it->node);
	u->queue_len--;
	u->queue_bytes -= upload_item_size(it);
}

/* Moves it (already off the memory queue) to the spool, or drops it. Lock held. */
void uploader_spool_or_drop(struct uploader *u, struct upload_item *it,
			    enum upload_drop_reason no_spool_reason)
{
	size_t evicted = 0;
	int r;

	if (!u->spool) {
		uploader_drop(u, no_spool_reason, UPLOAD_SINK_COROOT, 1, it->len);
		return;
	}
	r = spool_put(u->spool, it, &evicted);
	uploader_drop(u, UPLOAD_DROP_SPOOL_FULL, UPLOAD_SINK_COROOT, evicted, 0);
	if (r == -EFBIG)
		uploader_drop(u, UPLOAD_DROP_SPOOL_FULL, UPLOAD_SINK_COROOT, 1, it->len);
	else if (r)
		uploader_drop(u, UPLOAD_DROP_SPOOL_ERROR, UPLOAD_SINK_COROOT, 1, it->len);
}

/*
 * Keeps the memory queue within its bound, oldest first. The oldest may be in flight:
 * it is then marked to leave memory when its attempt fails (settle), and its bytes
 * count as gone, so that exactly the oldest leave whatever the thread is doing.
 * Lock held.
 */
static void enforce_queue_bound(struct uploader *u)
{
	while (u->queue_bytes - u->overflow_bytes > u->queue_max) {
		struct upload_item *it = NULL;

		for (struct list_node *n = u->queue.next; n != &u->queue && !it; n = n->next) {
			it = list_entry(n, struct upload_item, node);
			if (it->overflow)
				it = NULL;
		}
		if (!it)
			break;
		if (it->inflight) {
			it->overflow = 1;
			u->overflow_bytes += upload_item_size(it);
			continue;
		}
		uploader_unlink_item(u, it);
		uploader_spool_or_drop(u, it, UPLOAD_DROP_QUEUE_FULL);
		upload_item_free(it);
	}
}

/* The lowest sequence still pending, in flight or not; UINT64_MAX when none. */
static uint64_t oldest_pending_seq(const struct uploader *u)
{
	uint64_t seq = u->inflight_seq;

	if (!list_empty(&u->queue)) {
		const struct upload_item *it = list_entry(u->queue.next, struct upload_item, node);
		if (it->seq < seq)
			seq = it->seq;
	}
	if (u->spool && spool_oldest_seq(u->spool) < seq)
		seq = spool_oldest_seq(u->spool);
	return seq;
}

static int init_sync(struct uploader *u)
{
	pthread_condattr_t ca;
	int r;

	r = pthread_condattr_init(&ca);
	if (r)
		return -r;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&u->wake, &ca);
	if (!r)
		r = pthread_cond_init(&u->done, &ca);
	pthread_condattr_destroy(&ca);
	if (!r)
		r = pthread_mutex_init(&u->lock, NULL);
	return -r;
}

/* Applies defaults and checks the configuration. */
static int check_config(const struct uploader_config *in, struct uploader_config *c)
{
	*c = *in;
	if (c->endpoint && !*c->endpoint)
		c->endpoint = NULL;
	if (c->output_dir && !*c->output_dir)
		c->output_dir = NULL;
	if (c->spool_dir && !*c->spool_dir)
		c->spool_dir = NULL;
	if (!c->endpoint && !c->output_dir) {
		log_error("no profiles endpoint and no output directory: nowhere to send profiles");
		return -EINVAL;
	}
	if (c->timeout_ns < 0 || c->backoff_min_ns < 0 || c->backoff_max_ns < 0) {
		log_error("upload timeout and retry backoff must not be negative");
		return -EINVAL;
	}
	if (!c->timeout_ns)
		c->timeout_ns = DEFAULT_TIMEOUT_NS;
	if (!c->backoff_min_ns)
		c->backoff_min_ns = DEFAULT_BACKOFF_MIN_NS;
	if (!c->backoff_max_ns)
		c->backoff_max_ns = DEFAULT_BACKOFF_MAX_NS;
	if (c->backoff_max_ns < c->backoff_min_ns) {
		log_error("retry-backoff-max must not be shorter than retry-backoff-min");
		return -EINVAL;
	}
	if (!c->queue_max_bytes)
		c->queue_max_bytes = DEFAULT_QUEUE_MAX;
	if (!c->spool_max_bytes)
		c->spool_max_bytes = DEFAULT_SPOOL_MAX;
	if (c->spool_dir && !c->endpoint) {
		log_info("no profiles endpoint: the spool directory %s is not used", c->spool_dir);
		c->spool_dir = NULL;
	}
	return 0;
}

static int open_sinks(struct uploader *u, const struct uploader_config *c)
{
	struct sink_coroot_config scfg;
	int r;

	if (c->output_dir) {
		r = sink_dir_new(c->output_dir, &u->dir);
		if (r)
			return r;
	}
	if (!c->endpoint)
		return 0;
	scfg = (struct sink_coroot_config){.endpoint = c->endpoint,
					   .api_key = c->api_key,
					   .ca_file = c->ca_file,
					   .insecure_skip_verify = c->insecure_skip_verify,
					   .timeout_ns = c->timeout_ns};
	r = sink_coroot_new(&scfg, &u->coroot);
	if (r)
		return r;
	u->endpoint_log = strdup(sink_coroot_endpoint(u->coroot));
	if (!u->endpoint_log)
		return -ENOMEM;
	if (c->insecure_skip_verify)
		log_warn("TLS certificate verification is off for %s (insecure-skip-verify)",
			 u->endpoint_log);
	if (c->spool_dir) {
		r = spool_open(c->spool_dir, c->spool_max_bytes, &u->spool);
		if (r)
			return r;
		u->next_seq = spool_next_seq(u->spool);
		/* a bound lowered since the last run */
		uploader_drop(u, UPLOAD_DROP_SPOOL_FULL, UPLOAD_SINK_COROOT,
			      spool_trim(u->spool), 0);
		if (spool_count(u->spool))
			log_info("%zu profiles (%" PRIu64 " bytes) wait in the spool %s from an "
				 "earlier run; they go first",
				 spool_count(u->spool), spool_bytes(u->spool), c->spool_dir);
	}
	return 0;
}

int uploader_new(const struct uploader_config *cfg, struct uploader **out)
{
	struct uploader_config c;
	struct uploader *u = NULL;
	int r = -EINVAL;

	if (!cfg || !out)
		goto fail;
	r = check_config(cfg, &c);
	if (r)
		goto fail;
	r = -ENOMEM;
	u = calloc(1, sizeof(*u));
	if (!u)
		goto fail;
	list_init(&u->queue);
	u->queue_max = c.queue_max_bytes;
	u->backoff_min = c.backoff_min_ns;
	u->backoff_max = c.backoff_max_ns;
	u->inflight_seq = UINT64_MAX;
	u->next_seq = 1;
	u->rng = (uint64_t)time_real_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)u;
	if (!u->rng)
		u->rng = 1;
	r = init_sync(u);
	if (r) {
		free(u);
		u = NULL;
		goto fail;
	}
	uploader_metrics_init(&u->m, c.metrics);
	r = open_sinks(u, &c);
	if (r)
		goto fail;
	uploader_update_gauges(u);
	if (u->coroot) {
		r = -pthread_create(&u->thread, NULL, uploader_thread_main, u);
		if (r) {
			log_error("cannot start the uploader thread: %s", strerror(-r));
			goto fail;
		}
		u->thread_started = 1;
		u->logged_start = 1;
		log_info("uploading to %s%s%s", u->endpoint_log, u->dir ? " and writing to " : "",
			 u->dir ? c.output_dir : "");
	} else {
		log_info("writing profiles to %s", c.output_dir);
	}
	*out = u;
	return 0;
fail:
	uploader_free(u);
	return r;
}

/* Counts one profile refused at submission, logging why at most once per minute. */
static void drop_invalid(struct uploader *u, const struct upload_meta *meta, size_t len,
			 const char *why, int err)
{
	pthread_mutex_lock(&u->lock);
	if (log_ratelimit_allow(&u->rl_invalid, UPLOADER_LOG_INTERVAL_NS))
		log_error("a profile of %s was not queued: %s (%s)",
			  meta->service_name && *meta->service_name ? meta->service_name
								    : "(no service name)",
			  why, strerror(-err));
	uploader_drop(u, UPLOAD_DROP_INVALID,
		      u->coroot ? UPLOAD_SINK_COROOT : UPLOAD_SINK_DIRECTORY, 1, len);
	pthread_mutex_unlock(&u->lock);
}

/*
 * Write-ahead: with a spool, every profile is a spool file before submit returns, so
 * that a SIGKILL (an OOM kill, an eviction) loses none of them, whether Coroot is up
 * or not; the thread reads it back to send it. Written from the caller's body with no
 * copy in memory, and without the lock, so that the thread sends while producers
 * write. Returns 0 when the file is written and indexed (evictions the bound needed
 * are counted), or the spool's error: the caller then queues the profile in memory.
 * Called without the lock.
 */
static int write_ahead(struct uploader *u, uint64_t seq, const struct upload_meta *meta,
		       int64_t time_ns, const struct buf *query, const void *body, size_t len)
{
	struct spool_written w;
	struct upload_item view;
	int r;

	upload_item_view(&view, seq, time_ns, meta->kind, query->data, query->len, body, len);
	r = spool_prepare(u->spool, &view, &w);
	if (r)
		return r;
	/* the room first, so that the directory never holds more than the bound */
	pthread_mutex_lock(&u->lock);
	uploader_drop(u, UPLOAD_DROP_SPOOL_FULL, UPLOAD_SINK_COROOT, spool_reserve(u->spool, &w),
		      0);
	pthread_mutex_unlock(&u->lock);
	r = spool_write(u->spool, &view, &w);
	pthread_mutex_lock(&u->lock);
	if (r)
		spool_unreserve(u->spool, &w);
	else
		r = spool_add(u->spool, &w);
	if (!r)
		pthread_cond_signal(&u->wake);
	uploader_update_gauges(u);
	pthread_mutex_unlock(&u->lock);
	spool_written_free(&w);
	return r;
}

/* Queues the profile for the HTTP sink: in the spool when there is one (write-ahead),
 * else (or when the spool cannot take it) as a copy in the memory queue. */
static int enqueue(struct uploader *u, const struct upload_meta *meta, int64_t time_ns,
		   const struct buf *query, const void *body, size_t len)
{
	struct upload_item *it;
	uint64_t seq;

	pthread_mutex_lock(&u->lock);
	seq = u->next_seq++;
	pthread_mutex_unlock(&u->lock);
	if (u->spool && write_ahead(u, seq, meta, time_ns, query, body, len) == 0)
		return 0;
	it = upload_item_new(seq, time_ns, meta->kind, query->data, query->len, body, len);
	if (!it) {
		drop_invalid(u, meta, len, "no memory for it", -ENOMEM);
		return -ENOMEM;
	}
	pthread_mutex_lock(&u->lock);
	if (u->stopped) {
		/* nobody sends any more: straight to the spool */
		uploader_spool_or_drop(u, it, UPLOAD_DROP_SHUTDOWN);
		upload_item_free(it);
	} else {
		list_push_back(&u->queue, &it->node);
		u->queue_len++;
		u->queue_bytes += upload_item_size(it);
		enforce_queue_bound(u);
		pthread_cond_signal(&u->wake);
	}
	uploader_update_gauges(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

int uploader_submit(struct uploader *u, const struct upload_meta *meta, const void *body,
		    size_t len)
{
	struct buf query;
	int64_t time_ns;
	int r;

	buf_init(&query, UPLOAD_QUERY_MAX + 1);
	r = upload_query_build(meta, &query);
	if (r) {
		drop_invalid(u, meta, len,
			     r == -E2BIG ? "labels too long"
					 : "no service name, or an empty or reserved label name",
			     r);
		goto out;
	}
	if (len > UPLOAD_BODY_MAX || (len && !body)) {
		r = body ? -E2BIG : -EINVAL;
		drop_invalid(u, meta, len, "body too large or missing", r);
		goto out;
	}
	time_ns = meta->time_ns > 0 ? meta->time_ns : time_real_ns();
	pthread_mutex_lock(&u->lock);
	u->st.submitted++;
	pthread_mutex_unlock(&u->lock);
	/* Coroot's copy first: with a spool it is then on disk, so that a kill between
	 * the two writes can leave a profile without its local file, never a local file
	 * whose profile is lost */
	if (u->coroot)
		r = enqueue(u, meta, time_ns, &query, body, len);
	if (u->dir) {
		int w;

		w = sink_dir_write(u->dir, meta->service_name, meta->kind, time_ns, body, len);
		pthread_mutex_lock(&u->lock);
		if (w) {
			uploader_drop(u, UPLOAD_DROP_WRITE_ERROR, UPLOAD_SINK_DIRECTORY, 1, len);
		} else {
			u->st.written++;
			uploader_metrics_written(&u->m, len);
		}
		pthread_mutex_unlock(&u->lock);
		/* a failed file write does not fail a profile that Coroot will get */
		if (!u->coroot)
			r = w;
	}
out:
	buf_free(&query);
	return r;
}

/*
 * The kind of one part of a split profile, from its first named sample type:
 * "go_runtime:heap_alloc_objects:count" in a "heap" profile gives "heap-alloc_objects".
 */
static void part_kind(const char *kind, const struct pprof_profile *p, char *out, size_t len)
{
	const char *type = "";
	size_t n, kl = kind ? strlen(kind) : 0;

	for (size_t i = 0; i < pprof_sample_type_count(p) && !*type; i++)
		type = pprof_sample_type(p, i, NULL);
	/* Coroot's names are <source>:<type>:<unit> */
	if (strchr(type, ':')) {
		const char *last = strrchr(type, ':');
		type = strchr(type, ':') + 1;
		n = (size_t)(last - type);
	} else {
		n = strlen(type);
	}
	if (kl && n > kl && strncmp(type, kind, kl) == 0 && type[kl] == '_') {
		type += kl + 1;
		n -= kl + 1;
	}
	snprintf(out, len, "%s%s%.*s", kind ? kind : "", kl && n ? "-" : "", (int)n, type);
}

int uploader_submit_profile(struct uploader *u, const struct upload_meta *meta,
			    const struct pprof_profile *p)
{
	struct pprof_profile **parts = NULL;
	size_t nparts = 0;
	struct buf body;
	int r, first_err = 0;

	buf_init(&body, UPLOAD_BODY_MAX);
	r = pprof_split_nonzero(p, &parts, &nparts);
	if (r) {
		drop_invalid(u, meta, 0, "cannot split it", r);
		goto out;
	}
	for (size_t i = 0; i < nparts; i++) {
		struct upload_meta part = *meta;
		char kind[96];

		/* parts of one profile get their own file names: "heap-alloc_objects" */
		if (nparts > 1) {
			part_kind(meta->kind, parts[i], kind, sizeof(kind));
			part.kind = kind;
		}
		buf_reset(&body);
		r = pprof_encode(parts[i], 1, &body);
		if (r)
			drop_invalid(u, meta, 0, "cannot encode it", r);
		else
			r = uploader_submit(u, &part, body.data, body.len);
		if (r && !first_err)
			first_err = r;
	}
	r = first_err;
out:
	for (size_t i = 0; i < nparts; i++)
		pprof_profile_free(parts[i]);
	free(parts);
	buf_free(&body);
	return r;
}

int uploader_flush(struct uploader *u, int64_t timeout_ns)
{
	int64_t deadline = time_mono_ns() + (timeout_ns > 0 ? timeout_ns : 0);
	struct timespec ts = {.tv_sec = deadline / NS_PER_SEC, .tv_nsec = deadline % NS_PER_SEC};
	uint64_t target;
	int r = 0;

	pthread_mutex_lock(&u->lock);
	target = u->next_seq;
	if (u->coroot && !u->stopped && oldest_pending_seq(u) < target) {
		/* whoever flushes is about to wait or exit: one attempt now, not after the
		 * backoff (the backoff itself is not reset) */
		u->kick = 1;
		pthread_cond_signal(&u->wake);
	}
	while (u->coroot && !u->stopped && oldest_pending_seq(u) < target) {
		if (pthread_cond_timedwait(&u->done, &u->lock, &ts) == ETIMEDOUT) {
			r = oldest_pending_seq(u) < target ? -ETIMEDOUT : 0;
			break;
		}
	}
	if (u->stopped && oldest_pending_seq(u) < target)
		r = -ETIMEDOUT;
	pthread_mutex_unlock(&u->lock);
	return r;
}

size_t uploader_pending(struct uploader *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = (size_t)uploader_pending_locked(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uploader_get_stats(struct uploader *u, struct uploader_stats *st)
{
	pthread_mutex_lock(&u->lock);
	*st = u->st;
	st->pending = uploader_pending_locked(u);
	pthread_mutex_unlock(&u->lock);
}

void uploader_stop(struct uploader *u)
{
	char summary[256];

	pthread_mutex_lock(&u->lock);
	if (u->stopped) {
		pthread_mutex_unlock(&u->lock);
		return;
	}
	u->stopping = 1;
	if (u->coroot)
		sink_coroot_abort(u->coroot);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
	if (u->thread_started)
		pthread_join(u->thread, NULL);
	u->thread_started = 0;

	pthread_mutex_lock(&u->lock);
	/* oldest first, so that a spool bound deletes the oldest */
	while (!list_empty(&u->queue)) {
		struct upload_item *it = list_entry(u->queue.next, struct upload_item, node);

		uploader_unlink_item(u, it);
		uploader_spool_or_drop(u, it, UPLOAD_DROP_SHUTDOWN);
		upload_item_free(it);
	}
	/* what waits for the next run survives a crash of the node too */
	if (u->spool)
		spool_sync(u->spool);
	uploader_update_gauges(u);
	u->stopped = 1;
	pthread_cond_broadcast(&u->done);
	if (u->logged_start) {
		uploader_metrics_drop_summary(&u->m, summary, sizeof(summary));
		log_info("stopped: %" PRIu64 " profiles delivered, %" PRIu64 " written, %" PRIu64
			 " dropped%s, %" PRIu64 " left in the spool",
			 u->st.delivered, u->st.written, u->st.dropped, summary,
			 uploader_pending_locked(u));
	}
	pthread_mutex_unlock(&u->lock);
}

void uploader_free(struct uploader *u)
{
	if (!u)
		return;
	uploader_stop(u);
	sink_coroot_free(u->coroot);
	sink_dir_free(u->dir);
	spool_close(u->spool);
	free(u->endpoint_log);
	pthread_cond_destroy(&u->wake);
	pthread_cond_destroy(&u->done);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
