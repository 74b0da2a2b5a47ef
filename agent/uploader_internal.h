/*
 * The uploader's shared state, between its API side (uploader.c: submission, bounds,
 * flush, stop) and its sending thread (uploader_thread.c). Private to agent/.
 *
 * Locking: everything below lock is protected by it, except coroot (used by the
 * thread only, and by stop through sink_coroot_abort) and the sinks' own state.
 */
#ifndef PODPROF_UPLOADER_INTERNAL_H
#define PODPROF_UPLOADER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "common.h"
#include "uploader.h"
#include "uploader_metrics.h"

struct upload_item;

#define UPLOADER_LOG_INTERVAL_NS (60 * NS_PER_SEC)

struct uploader {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread sleeps on it */
	pthread_cond_t done; /* flush waits on it */
	pthread_t thread;
	int thread_started;
	int logged_start;    /* a start line was logged: log the summary at stop */
	int stopping, stopped;
	int kick;            /* a flush asked for an attempt now, backoff or not */

	struct sink_coroot *coroot; /* used by the thread only */
	struct sink_dir *dir;
	struct spool *spool;
	char *endpoint_log;

	struct list_node queue; /* memory items, oldest first */
	size_t queue_len;
	uint64_t queue_bytes, queue_max;
	uint64_t overflow_bytes; /* of the item in flight that the bound has pushed out */
	uint64_t next_seq;
	uint64_t inflight_seq; /* UINT64_MAX when nothing is in flight */

	int64_t backoff_min, backoff_max;
	unsigned failures;     /* consecutive failed attempts */
	int64_t next_attempt;  /* monotonic ns */
	uint64_t rng;

	struct uploader_stats st; /* pending is computed */
	struct uploader_metrics m;
	struct log_ratelimit rl_fail, rl_auth, rl_reject, rl_invalid;
};

/* Profiles waiting: memory queue + spool. Lock held. */
uint64_t uploader_pending_locked(const struct uploader *u);

/* Publishes the queue and spool gauges. Lock held. */
void uploader_update_gauges(struct uploader *u);

/* Counts n profiles (bytes in all) dropped from sink for reason. Lock held (or no
 * thread running). */
void uploader_drop(struct uploader *u, enum upload_drop_reason reason, enum upload_sink sink,
		   uint64_t n, uint64_t bytes);

/* The oldest memory item that is not in flight, or NULL. Lock held. */
struct upload_item *uploader_oldest_idle(const struct uploader *u);

/* Takes it off the memory queue (the caller then owns it). Lock held. */
void uploader_unlink_item(struct uploader *u, struct upload_item *it);

/* Writes it (off the memory queue) to the spool, or counts it dropped for
 * no_spool_reason when there is no spool. it stays the caller's. Lock held. */
void uploader_spool_or_drop(struct uploader *u, struct upload_item *it,
			    enum upload_drop_reason no_spool_reason);

/* The sending thread (pthread start routine; arg is the uploader). */
void *uploader_thread_main(void *arg);

#endif
