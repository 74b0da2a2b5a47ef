/*
 * The scrape buffer budget: one bound (cfg.max_buffer_bytes) on the memory that every
 * response held by the scraper takes together, from its first byte to the end of its
 * processing: the body as it arrives, the body waiting for a worker, its decompression,
 * the decode's id maps and the decoded profile's tables. The bounds of one response
 * (max_body_bytes, max_profile_bytes, the decoder's own) hold as well; this one keeps a
 * handful of hostile targets (endless bodies, gzip bombs) from adding their bounds up
 * into an OOM kill. Not in it: the delta state a target keeps between scrapes (it is
 * not in flight, and max_delta_bytes bounds it), what the uploader makes of a profile
 * (its queue is bounded), libcurl's own buffers and the short-lived arrays of a delta.
 *
 * Every job's buffers draw from the budget through the job's struct buf_pool, for the
 * capacity they allocate and before they allocate it: a buffer's capacity is at most
 * twice its content, and pages of it never touched are not resident, so what the
 * responses keep resident stays under the budget.
 *
 * When a growth does not fit, a large response gives way and a small one waits:
 *   - a response holding an eighth of the budget or more is large: the largest holder
 *     gives way when it is large. The one asking is refused (its scrape fails and says
 *     why); another is made to: a transfer is aborted by the loop, a body waiting for
 *     a worker is dropped at once, a profile being decoded ends or asks for more (and
 *     is refused) soon. Hostile responses are the large ones: they grow to the bounds.
 *   - otherwise the one asking waits for memory to come back: a transfer is paused
 *     (CURL_WRITEFUNC_PAUSE: its socket is not read, TCP holds the sender back), a
 *     worker blocks. Healthy targets' responses are small: when many of them fill the
 *     budget, they take turns instead of failing.
 *   - when no memory has come back for BUDGET_STUCK_NS while one waits (small responses that
 *     all wait for each other), the largest holder gives way all the same.
 * So every wait ends, and a bomb or an endless body ends as soon as it is the largest
 * holder and memory runs short, while the healthy responses beside it wait a moment.
 */
#define LOG_MODULE "scraper"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

#define MIB (1024.0 * 1024.0)
/* A response holding this part of the budget or more gives way first. */
#define LARGE_SHARE 8

static struct job *job_of(struct buf_pool *pool)
{
	return (struct job *)(void *)((char *)pool - offsetof(struct job, pool));
}

/* The job other than j that holds the most, or NULL (lock held). */
static struct job *largest_other(struct scraper *s, const struct job *j)
{
	struct list_node *pos, *tmp;
	struct job *big = NULL;

	list_for_each_safe(pos, tmp, &s->jobs)
	{
		struct job *o = list_entry(pos, struct job, jobs);
		if (o != j && o->held && (!big || o->held > big->held))
			big = o;
	}
	return big;
}

/* j gives n bytes back (lock held); whoever waits for memory may try again. */
static void release_locked(struct scraper *s, struct job *j, size_t n)
{
	s->buf_used -= n;
	j->held -= n;
	s->buf_release_time = time_mono_ns();
	metric_set(s->buf_bytes, (double)s->buf_used);
	if (s->buf_waiters)
		pthread_cond_broadcast(&s->buf_cond);
	if (s->npaused && !s->buf_released) {
		s->buf_released = 1;
		scrape_loop_wake(s);
	}
}

/*
 * Makes big give its memory back (lock held, and dropped for a while). Returns non-zero
 * when the memory came back at once (a queued body), zero when it comes later (a
 * transfer the loop will abort, a profile being decoded, which ends on its own).
 */
static int give_way(struct scraper *s, struct job *big)
{
	struct buf body;

	if (big->phase == JOB_TRANSFER) {
		if (!big->evict) {
			big->evict = 1;
			s->evictions++;
			scrape_loop_wake(s);
		}
		return 0;
	}
	if (big->phase != JOB_QUEUED)
		return 0;
	/* the worker that takes it finds it dropped and records the failure */
	body = big->body;
	buf_init(&big->body, 0);
	big->dropped = 1;
	s->queued_bytes -= body.len;
	release_locked(s, big, body.cap);
	body.pool = NULL; /* given back above */
	pthread_mutex_unlock(&s->lock);
	buf_free(&body);
	pthread_mutex_lock(&s->lock);
	return 1;
}

/* Whether j, waiting since it first asked, waited BUDGET_STUCK_NS with no memory coming back. */
static int stuck(const struct scraper *s, const struct job *j, int64_t now)
{
	int64_t since = j->wait_since > s->buf_release_time ? j->wait_since : s->buf_release_time;

	return j->wait_since && now - since >= BUDGET_STUCK_NS;
}

/* Waits (a worker) until memory comes back or BUDGET_STUCK_NS pass (lock held). */
static void wait_for_memory(struct scraper *s)
{
	int64_t deadline = time_real_ns() + BUDGET_STUCK_NS;
	struct timespec ts = {.tv_sec = deadline / NS_PER_SEC, .tv_nsec = deadline % NS_PER_SEC};

	s->buf_waiters++;
	pthread_cond_timedwait(&s->buf_cond, &s->lock, &ts);
	s->buf_waiters--;
}

/* struct buf_pool's take: n more bytes for job j, or a wait, or a refusal. */
static int take(struct buf_pool *pool, size_t n)
{
	struct job *j = job_of(pool), *big;
	struct scraper *s = j->s;
	size_t large = s->cfg.max_buffer_bytes / LARGE_SHARE;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	j->refused = 0;
	while (n > s->cfg.max_buffer_bytes - s->buf_used) {
		int64_t now = time_mono_ns();
		int jam;

		if (!j->wait_since)
			j->wait_since = now;
		jam = stuck(s, j, now) || s->stopping;
		big = largest_other(s, j);
		if (!big || j->held + n >= big->held) {
			/* j would hold the most */
			if (j->held + n >= large || jam) {
				j->refused = 1;
				ret = -ENOBUFS;
				goto out;
			}
		} else if ((big->held >= large || jam) && give_way(s, big)) {
			continue;
		}
		if (!j->waited) {
			j->waited = 1;
			metric_inc(s->buf_waits);
		}
		if (j->phase == JOB_TRANSFER) {
			/* on_body pauses the transfer; the loop resumes it */
			if (!j->paused) {
				j->paused = 1;
				s->npaused++;
			}
			ret = -EAGAIN;
			goto out;
		}
		wait_for_memory(s);
	}
	s->buf_used += n;
	j->held += n;
	j->wait_since = 0;
	if (j->held > j->held_max)
		j->held_max = j->held;
	metric_set(s->buf_bytes, (double)s->buf_used);
	if (s->buf_used > s->buf_peak) {
		s->buf_peak = s->buf_used;
		metric_set(s->buf_peak_bytes, (double)s->buf_peak);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* struct buf_pool's give. */
static void give(struct buf_pool *pool, size_t n)
{
	struct job *j = job_of(pool);

	pthread_mutex_lock(&j->s->lock);
	release_locked(j->s, j, n);
	pthread_mutex_unlock(&j->s->lock);
}

void budget_job_init(struct scraper *s, struct job *j)
{
	j->pool.take = take;
	j->pool.give = give;
	j->phase = JOB_TRANSFER;
	buf_init_pool(&j->body, s->cfg.max_body_bytes, &j->pool);
}

int budget_failed(struct scraper *s, const struct job *j, char *err, size_t len)
{
	double budget = (double)s->cfg.max_buffer_bytes / MIB;
	int gave_way, refused;
	size_t held_max;

	pthread_mutex_lock(&s->lock);
	gave_way = j->evict || j->dropped;
	refused = j->refused;
	held_max = j->held_max;
	pthread_mutex_unlock(&s->lock);
	if (gave_way)
		snprintf(err, len, "dropped at %.1f MiB to make room for other responses: the "
			 "scrape buffer budget (%.1f MiB) was used up and this response held the "
			 "most of it", (double)held_max / MIB, budget);
	else if (refused)
		snprintf(err, len, "over the scrape buffer budget (%.1f MiB): this response held "
			 "%.1f MiB, the most of any, and needed more", budget,
			 (double)held_max / MIB);
	else
		return 0;
	metric_inc(s->buf_failures);
	return 1;
}
