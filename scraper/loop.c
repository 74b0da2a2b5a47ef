/*
 * The event loop: one thread drives every transfer through libcurl's multi interface.
 * Each turn starts what is due (within the concurrency bound, never a second request
 * for a busy target and type), lets curl make progress, hands finished transfers on,
 * and sleeps in curl_multi_poll until the next due time, a socket event, or a wakeup
 * (a new target, scrape_all, shutdown).
 *
 * Schedule: every target has a stable offset inside the interval derived from its id,
 * so that 500 targets do not all start at the same second and a restarted agent keeps
 * each target's rhythm; a (target, type) is due at epoch + k * interval + offset.
 */
#define LOG_MODULE "scraper"
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"

/* Response bodies waiting for a worker, at most (a few seconds of work). */
#define MAX_QUEUED_BYTES ((size_t)32 << 20)

int64_t scrape_offset(const char *id, int64_t interval)
{
	if (interval <= 0)
		return 0;
	return (int64_t)(hash64(id, strlen(id), 0x5c4a9e) % (uint64_t)interval);
}

int64_t scrape_next_due(int64_t now, int64_t interval, int64_t offset)
{
	int64_t base;

	if (interval <= 0)
		return now;
	/* the first slot at or after now: k * interval + offset */
	base = now - now % interval + offset;
	if (base < now)
		base += interval;
	return base;
}

/* Starts every due scrape it may; returns the earliest future due time. */
static int64_t start_due(struct scraper *s, int64_t now)
{
	struct list_node *pos, *tmp;
	int64_t wake = now + NS_PER_SEC;
	int unstarted = 0;

	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		for (int i = 0; i < SCRAPE_NTYPES; i++) {
			struct tstate *st = &t->st[i];
			if (!(t->types & st->type))
				continue;
			if (st->next_due > now) {
				if (st->next_due < wake)
					wake = st->next_due;
				continue;
			}
			if (st->busy) {
				if (s->scrape_now) {
					unstarted = 1;
					continue;
				}
				/* the previous scrape of this pair is still running: skip this
				 * slot rather than pile up (and never two CPU profiles) */
				metric_inc(st->type == SCRAPE_CPU ? s->cpu_collisions : s->missed);
				st->next_due = scrape_next_due(now + 1, s->cfg.interval_ns, t->offset);
				continue;
			}
			/* a CPU profile mostly waits (its seconds) and is bounded by one per
			 * target: counted against the bound, 64 of them would hold every slot
			 * and starve the other types (500 targets with 10 s profiles every
			 * 15 s keep about 330 running) */
			if (st->type != SCRAPE_CPU && s->in_flight >= s->cfg.max_concurrency) {
				unstarted = 1;
				continue;
			}
			/* the workers are behind: the bodies waiting for them are memory, so
			 * new scrapes wait (late, not lost, unless their slot passes) */
			if (s->queued_bytes > MAX_QUEUED_BYTES) {
				unstarted = 1;
				continue;
			}
			if (fetch_start(s, t, st) != 0) {
				/* could not even start (out of memory): try again next slot */
				st->next_due = scrape_next_due(now + 1, s->cfg.interval_ns, t->offset);
				continue;
			}
			st->next_due = scrape_next_due(now + 1, s->cfg.interval_ns, t->offset);
		}
	}
	if (s->scrape_now && !unstarted) {
		s->scrape_now = 0;
		pthread_cond_broadcast(&s->idle);
	}
	return wake;
}

/* Aborts every transfer still running (shutdown). */
static void abort_all(struct scraper *s)
{
	for (;;) {
		struct list_node *n;
		struct job *j;

		pthread_mutex_lock(&s->lock);
		n = list_pop_front(&s->flight);
		if (n) {
			j = list_entry(n, struct job, node);
			j->st->busy = 0;
			if (j->st->type != SCRAPE_CPU)
				s->in_flight--;
			s->pending_jobs--;
		}
		pthread_mutex_unlock(&s->lock);
		if (!n)
			break;
		curl_multi_remove_handle(s->multi, j->easy);
		job_free(j);
	}
}

void *scrape_loop_main(void *arg)
{
	struct scraper *s = arg;
	int64_t last_gauge = 0;

	pthread_setname_np(pthread_self(), "scraper");
	for (;;) {
		int64_t now = time_mono_ns(), wake;
		int still = 0, timeout_ms;
		CURLMsg *msg;
		int left;

		pthread_mutex_lock(&s->lock);
		if (!s->running) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		wake = start_due(s, now);
		if (now - last_gauge > 5 * NS_PER_SEC) {
			scrape_update_gauges(s);
			last_gauge = now;
		}
		pthread_mutex_unlock(&s->lock);

		curl_multi_perform(s->multi, &still);
		while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				fetch_done(s, msg);

		timeout_ms = (int)((wake - time_mono_ns()) / NS_PER_MS);
		if (timeout_ms < 0)
			timeout_ms = 0;
		if (timeout_ms > 1000)
			timeout_ms = 1000;
		curl_multi_poll(s->multi, NULL, 0, timeout_ms, NULL);
	}
	abort_all(s);
	return NULL;
}
