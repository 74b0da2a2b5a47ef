/*
 * The event loop: one thread drives every transfer through libcurl's multi interface,
 * event-driven (curl_multi_socket_action): curl says which sockets it waits on and
 * when it wants a timeout action, the loop keeps them in an epoll set with an eventfd
 * for wakeups (a new target, scrape_all, finished work, shutdown), and each event costs
 * the same however many transfers are open. 500 targets keep about 330 CPU profiles
 * open at once; polling all of them on every event took a third of the agent's CPU.
 * Due scrapes are started (within the concurrency bound, never a second request for a
 * busy target and type) when one is due, after a wakeup and after a transfer ends.
 *
 * Schedule: every target has a stable offset inside the interval derived from its id,
 * so that 500 targets do not all start at the same second and a restarted agent keeps
 * each target's rhythm; a (target, type) is due at epoch + k * interval + offset.
 */
#define LOG_MODULE "scraper"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
			 * new scrapes wait (late, not lost, unless their slot passes); so
			 * they do while responses wait for the scrape buffer budget, but for
			 * CPU profiles, whose few bytes come at the end of their seconds */
			if (s->queued_bytes > MAX_QUEUED_BYTES ||
			    (st->type != SCRAPE_CPU && (s->npaused || s->buf_waiters))) {
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

/* CURLMOPT_SOCKETFUNCTION: curl's interest in a socket, into the epoll set. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct scraper *s = userp;
	struct epoll_event ev = {0};

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	ev.data.fd = fd;
	/* a socket curl saw before is modified; a number reused after a close is added */
	if (epoll_ctl(s->epfd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
		int r = -1;
		if (errno == ENOENT)
			r = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
		else if (errno == EEXIST)
			r = epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
		/* the transfer then ends at its timeout and counts as failed: say why */
		if (r != 0 && log_ratelimit_allow(&s->epoll_log, 60 * NS_PER_SEC))
			log_warn("cannot watch a scrape connection (fd %d): %s", fd,
				 strerror(errno));
	}
	if (!socketp)
		curl_multi_assign(s->multi, fd, s);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct scraper *s = userp;

	(void)multi;
	s->curl_deadline = timeout_ms < 0 ? -1 : time_mono_ns() + (int64_t)timeout_ms * NS_PER_MS;
	return 0;
}

int scrape_loop_init(struct scraper *s)
{
	struct epoll_event ev = {.events = EPOLLIN};

	s->curl_deadline = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wakefd < 0)
		return -errno;
	ev.data.fd = s->wakefd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) != 0)
		return -errno;
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	return 0;
}

void scrape_loop_wake(struct scraper *s)
{
	uint64_t one = 1;

	/* the counter only saturates when the loop is gone; nothing to wake then */
	if (write(s->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("cannot wake the scrape loop: %s", strerror(errno));
}

/* Hands every finished transfer on; returns how many. */
static int collect_done(struct scraper *s)
{
	CURLMsg *msg;
	int left, n = 0;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE) {
			fetch_done(s, msg);
			n++;
		}
	}
	return n;
}

#define MAX_EVENTS 64

void *scrape_loop_main(void *arg)
{
	struct scraper *s = arg;
	struct epoll_event evs[MAX_EVENTS];
	int64_t last_gauge = 0, wake = 0;
	int check = 1; /* start what is due this turn, whatever the time */

	pthread_setname_np(pthread_self(), "scraper");
	for (;;) {
		int64_t now = time_mono_ns(), until;
		int still = 0, timeout_ms, n;

		pthread_mutex_lock(&s->lock);
		if (!s->running) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (check || now >= wake)
			wake = start_due(s, now);
		check = 0;
		if (now - last_gauge > 5 * NS_PER_SEC) {
			scrape_update_gauges(s);
			last_gauge = now;
		}
		pthread_mutex_unlock(&s->lock);

		/* curl's timeouts (new transfers start with one of 0 ms) */
		if (s->curl_deadline >= 0 && time_mono_ns() >= s->curl_deadline) {
			s->curl_deadline = -1;
			curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &still);
		}
		if (collect_done(s))
			check = 1;

		until = wake;
		if (s->curl_deadline >= 0 && s->curl_deadline < until)
			until = s->curl_deadline;
		timeout_ms = (int)((until - time_mono_ns() + NS_PER_MS - 1) / NS_PER_MS);
		if (timeout_ms < 0)
			timeout_ms = 0;
		if (timeout_ms > 1000)
			timeout_ms = 1000;
		n = epoll_wait(s->epfd, evs, MAX_EVENTS, timeout_ms);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, flags = 0;

			if (fd == s->wakefd) {
				uint64_t v;
				if (read(s->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_debug("scrape loop wakeup: %s", strerror(errno));
				check = 1;
				continue;
			}
			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(s->multi, fd, flags, &still);
		}
		if (collect_done(s))
			check = 1;
		/* transfers that give way end (and their slots free), paused ones go on */
		fetch_budget_turn(s);
	}
	abort_all(s);
	return NULL;
}
