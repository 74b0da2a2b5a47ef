/*
 * The uploader's sending thread (see uploader.c for the shape of the whole).
 *
 * It takes the oldest pending profile (the lowest sequence among the memory queue and
 * the spool), sends it without holding the lock, and records the outcome: delivered,
 * kept for a retry after a backoff delay (network errors, 5xx, 408, 429, and the
 * authentication answers 401/403/404, which an operator fixes), or dropped (400,
 * 413, other 4xx). It never polls: between attempts it sleeps on the condition
 * variable, which submit, flush and stop signal. Before it sleeps after a failed
 * attempt, it makes the spool durable (sync_waiting).
 */
#define LOG_MODULE "uploader"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_coroot.h"
#include "spool.h"
#include "upload_item.h"
#include "uploader_internal.h"

#define SPOOL_PATH_MAX UPLOAD_PATH_MAX

/* Delay before the next attempt after u->failures failures: exponential from the
 * minimum, capped at the maximum, the upper half jittered (never below the minimum)
 * so that agents that failed together spread out. */
static int64_t backoff_delay(struct uploader *u)
{
	int64_t base = u->backoff_min, low;
	uint64_t x;

	for (unsigned i = 1; i < u->failures && base < u->backoff_max; i++)
		base = base > u->backoff_max / 2 ? u->backoff_max : base * 2;
	if (base > u->backoff_max)
		base = u->backoff_max;
	/* xorshift64*: quality is irrelevant here, only spread */
	x = u->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	u->rng = x;
	x *= UINT64_C(2685821657736338717);
	low = base / 2 > u->backoff_min ? base / 2 : u->backoff_min;
	return low + (int64_t)(x % (uint64_t)(base - low + 1));
}

static void log_failure(struct uploader *u, const struct sink_result *res, int64_t delay)
{
	char d[32];

	time_format_duration(delay / NS_PER_MS * NS_PER_MS, d, sizeof(d));
	if (res->outcome == SINK_AUTH) {
		if (log_ratelimit_allow(&u->rl_auth, UPLOADER_LOG_INTERVAL_NS))
			log_error("Coroot at %s answered %ld (%s): the API key is not valid for "
				  "any project; check the api-key setting. Profiles are kept "
				  "and retried (next in %s, %" PRIu64 " waiting)",
				  u->endpoint_log, res->status,
				  res->message[0] ? res->message : "no message", d,
				  uploader_pending_locked(u));
		return;
	}
	if (!log_ratelimit_allow(&u->rl_fail, UPLOADER_LOG_INTERVAL_NS))
		return;
	if (res->status)
		log_warn("upload to %s failed with HTTP %ld (%s); retrying in %s, %" PRIu64
			 " profiles waiting",
			 u->endpoint_log, res->status,
			 res->message[0] ? res->message : "no message", d,
			 uploader_pending_locked(u));
	else
		log_warn("upload to %s failed: %s; retrying in %s, %" PRIu64 " profiles waiting",
			 u->endpoint_log, res->message, d, uploader_pending_locked(u));
}

/* Records the outcome of sending it (seq, from the spool or memory). Lock held. */
static void settle(struct uploader *u, struct upload_item *it, int from_spool,
		   const struct sink_result *res)
{
	int64_t delay = 0;
	size_t len = it->len;
	int keep = 0, retry = 0;

	u->inflight_seq = UINT64_MAX;
	switch (res->outcome) {
	case SINK_OK:
		if (u->failures)
			log_info("upload to %s works again after %u failed attempts",
				 u->endpoint_log, u->failures);
		u->failures = 0;
		u->next_attempt = 0;
		u->st.delivered++;
		uploader_metrics_result(&u->m, UPLOAD_RESULT_SUCCESS, it->len, res->seconds);
		break;
	case SINK_RETRY:
	case SINK_AUTH:
		keep = 1;
		if (u->stopping)
			break; /* aborted by stop: not the backend's fault */
		u->failures++;
		delay = backoff_delay(u);
		u->next_attempt = time_mono_ns() + delay;
		retry = 1; /* counted once the item's fate is (a reader of the metrics then
			    * sees the drops a failed attempt causes with the retry) */
		break;
	case SINK_REJECTED:
	case SINK_TOO_LARGE:
		if (log_ratelimit_allow(&u->rl_reject, UPLOADER_LOG_INTERVAL_NS))
			log_error("Coroot at %s rejected a profile (%s, %zu bytes) with HTTP %ld: "
				  "%s; dropped",
				  u->endpoint_log, it->query, it->len, res->status,
				  res->message[0] ? res->message : "no message");
		uploader_metrics_observe(&u->m, res->seconds);
		uploader_drop(u,
			      res->outcome == SINK_TOO_LARGE ? UPLOAD_DROP_TOO_LARGE
							     : UPLOAD_DROP_REJECTED,
			      UPLOAD_SINK_COROOT, 1, it->len);
		break;
	}
	if (from_spool) {
		if (!keep)
			spool_remove(u->spool, it->seq);
		else if (spool_release(u->spool, it->seq))
			uploader_drop(u, UPLOAD_DROP_SPOOL_FULL, UPLOAD_SINK_COROOT, 1, it->len);
		upload_item_free(it);
	} else if (keep && !it->overflow) {
		it->inflight = 0;
	} else if (keep) {
		/* the bound pushed it out while it was in flight */
		uploader_unlink_item(u, it);
		uploader_spool_or_drop(u, it, UPLOAD_DROP_QUEUE_FULL);
		upload_item_free(it);
	} else {
		uploader_unlink_item(u, it);
		upload_item_free(it);
	}
	if (retry) {
		uploader_metrics_result(&u->m, UPLOAD_RESULT_RETRY, len, res->seconds);
		log_failure(u, res, delay);
	}
	uploader_update_gauges(u);
}

/* Picks the oldest idle item. Returns the memory item, or NULL with *spool_seq set
 * and path filled when the oldest is a spool file, or NULL with *spool_seq ==
 * UINT64_MAX when there is nothing to send. Lock held. */
static struct upload_item *pick(struct uploader *u, char *path, size_t pathlen,
				uint64_t *spool_seq)
{
	struct upload_item *it = uploader_oldest_idle(u);
	uint64_t sseq = u->spool ? spool_oldest_seq(u->spool) : UINT64_MAX;

	*spool_seq = UINT64_MAX;
	if (sseq != UINT64_MAX && (!it || sseq < it->seq)) {
		if (spool_take_oldest(u->spool, path, pathlen, spool_seq) == 0) {
			u->inflight_seq = *spool_seq;
			return NULL;
		}
	}
	if (it) {
		it->inflight = 1;
		u->inflight_seq = it->seq;
	}
	return it;
}

/*
 * While delivery fails, what waits must survive a crash of the node, not only a kill
 * of podprof: the spool files written since the last sync are fsynced before the
 * thread waits for its next attempt, and again whenever new ones come in meanwhile.
 * The disk flush runs without the lock, so producers never wait for it. Lock held.
 */
static void sync_waiting(struct uploader *u)
{
	struct spool_sync *b = NULL;

	if (spool_sync_take(u->spool, &b) != 0 || !b)
		return;
	pthread_mutex_unlock(&u->lock);
	spool_sync_run(b);
	pthread_mutex_lock(&u->lock);
	spool_sync_done(u->spool, b);
	uploader_update_gauges(u);
}

void *uploader_thread_main(void *arg)
{
	struct uploader *u = arg;
	char path[SPOOL_PATH_MAX];

	pthread_setname_np(pthread_self(), "uploader");
	pthread_mutex_lock(&u->lock);
	while (!u->stopping) {
		struct upload_item *it;
		struct sink_result res;
		uint64_t sseq;
		int64_t now;
		int r;

		if (u->failures && u->spool && spool_unsynced(u->spool)) {
			sync_waiting(u);
			continue;
		}
		now = time_mono_ns();
		if (uploader_pending_locked(u) == 0) {
			pthread_cond_wait(&u->wake, &u->lock);
			continue;
		}
		if (!u->kick && now < u->next_attempt) {
			struct timespec ts = {.tv_sec = u->next_attempt / NS_PER_SEC,
					      .tv_nsec = u->next_attempt % NS_PER_SEC};
			pthread_cond_timedwait(&u->wake, &u->lock, &ts);
			continue;
		}
		u->kick = 0;
		it = pick(u, path, sizeof(path), &sseq);
		if (!it && sseq == UINT64_MAX) {
			/* everything pending is in flight: cannot happen with one thread */
			pthread_cond_wait(&u->wake, &u->lock);
			continue;
		}
		pthread_mutex_unlock(&u->lock);
		if (!it) {
			r = spool_read(path, &it);
			if (r) {
				pthread_mutex_lock(&u->lock);
				u->inflight_seq = UINT64_MAX;
				if (r == -ENOMEM) {
					/* not the file's fault: try again later */
					if (spool_release(u->spool, sseq))
						uploader_drop(u, UPLOAD_DROP_SPOOL_FULL,
							      UPLOAD_SINK_COROOT, 1, 0);
					u->next_attempt = time_mono_ns() + u->backoff_min;
				} else {
					spool_remove(u->spool, sseq);
					uploader_drop(u, UPLOAD_DROP_SPOOL_ERROR,
						      UPLOAD_SINK_COROOT, 1, 0);
					uploader_update_gauges(u);
				}
				pthread_cond_broadcast(&u->done);
				continue;
			}
		}
		sink_coroot_send(u->coroot, it->query, it->body, it->len, &res);
		pthread_mutex_lock(&u->lock);
		settle(u, it, sseq != UINT64_MAX, &res);
		pthread_cond_broadcast(&u->done);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}
