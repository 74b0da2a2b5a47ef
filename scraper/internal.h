/*
 * The scraper's shared state (not part of the public interface).
 *
 * Ownership: the target table belongs to the scraper and is guarded by s->lock. The
 * event loop thread starts transfers and collects their results; worker threads
 * decode, delta and upload. A (target, type) pair is "busy" from the start of its
 * request until its processing is done, so its delta state is touched by one thread
 * at a time without a lock, and a scrape never overlaps the previous one of the same
 * pair (the overdue one is counted as missed instead).
 */
#ifndef PODPROF_SCRAPER_INTERNAL_H
#define PODPROF_SCRAPER_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>

#include "pprof.h"
#include "scraper.h"

#define SCRAPE_ERROR_LEN 320

struct tstate {
	unsigned type;
	int64_t next_due;       /* monotonic ns */
	int busy;
	int godelta;            /* godeltaprof endpoint: 0 unknown, 1 served, -1 not served */
	struct pprof_delta *delta;
	int64_t window_start;   /* wall clock of the previous scrape, for windows */
	/* for /targets */
	int64_t last_time;      /* wall clock of the last attempt */
	int64_t last_duration;
	int last_ok;            /* -1 never scraped */
	uint64_t scrapes, failures;
	size_t last_bytes;
	char last_error[SCRAPE_ERROR_LEN];
};

struct target {
	char *id, *base_url, *service_name, *instance_uid;
	char *label_names[SCRAPE_MAX_LABELS], *label_values[SCRAPE_MAX_LABELS];
	size_t nlabels;
	unsigned types;
	int cpu_seconds;
	enum scrape_auth auth;
	int64_t offset;         /* within the interval, from the id's hash */
	int refs;               /* transfers and jobs that point at it, plus the table's */
	int removed;
	struct tstate st[SCRAPE_NTYPES];
	struct target *next;    /* hash chain */
	struct list_node all;   /* in s->targets, in insertion order */
};

/* Where a job is, for the buffer budget (budget.c): what it can do to give memory back. */
enum job_phase { JOB_TRANSFER, JOB_QUEUED, JOB_PROCESSING };

/* One request or one processing job. */
struct job {
	struct scraper *s;
	struct target *t;
	struct tstate *st;
	CURL *easy;
	struct curl_slist *headers;
	char url[2048];
	int godelta;            /* this request asked for the godeltaprof endpoint */
	int64_t started;        /* monotonic */
	int64_t started_wall;
	struct buf body;
	long status;
	CURLcode result;
	char content_type[64];
	char errbuf[CURL_ERROR_SIZE];
	struct list_node node;  /* in s->flight while transferring, then in s->work */
	/* the buffer budget (budget.c), under s->lock */
	struct buf_pool pool;   /* what the job's buffers draw from */
	struct list_node jobs;  /* in s->jobs, from the start to job_free */
	enum job_phase phase;
	size_t held, held_max;  /* budget bytes held now, and at most */
	int paused;             /* a transfer paused until memory comes back */
	int evict;              /* a transfer asked to give way: the loop aborts it */
	int dropped;            /* a queued body thrown away to give way */
	int refused;            /* the budget refused its last request */
	int waited;             /* it waited for memory (counted once) */
	int64_t wait_since;     /* monotonic: waiting for memory since, or 0 */
};

struct scraper {
	struct scraper_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t idle;    /* signalled when a job finishes (for scrape_all) */
	struct target **table;
	size_t table_size, ntargets;
	struct list_node targets;
	CURLM *multi;
	/* the loop's own event set: curl's sockets (CURLMOPT_SOCKETFUNCTION) and wakefd */
	int epfd, wakefd;
	int64_t curl_deadline;  /* when curl wants its timeout action (monotonic), or -1 */
	pthread_t loop_thread;
	int running;
	size_t in_flight;       /* transfers under the bound (all but CPU profiles) */
	struct list_node flight; /* their jobs */
	size_t pending_jobs;    /* transfers + processing not finished */
	size_t queued_bytes;    /* response bodies waiting for a worker */
	/* the buffer budget (budget.c): every job's buffers together */
	struct list_node jobs;  /* every job alive */
	size_t buf_used, buf_peak;
	size_t npaused;         /* transfers paused for memory */
	int buf_released;       /* memory came back since the loop last resumed them */
	int64_t buf_release_time; /* monotonic: when memory last came back */
	int64_t buf_resume_time;  /* monotonic: when the loop last resumed them */
	int evictions;          /* transfers asked to give way, not yet aborted */
	size_t buf_waiters;     /* workers waiting for memory */
	pthread_cond_t buf_cond; /* memory came back */
	int scrape_now;         /* scrape_all asked for an immediate round */
	/* work queue for the processing threads */
	struct list_node work;
	pthread_cond_t work_cond;
	pthread_t *workers;
	size_t nworkers;
	int stopping;
	/* credentials */
	char *token;            /* current bearer token (never logged) */
	int64_t token_checked;
	int64_t token_mtime;
	struct log_ratelimit token_log;
	struct log_ratelimit epoll_log; /* a socket the loop could not watch */
	/* metrics */
	struct metric_family *scrapes_family, *duration_family;
	struct metric *targets_up, *targets_down, *targets_unknown, *bytes_total, *delta_bytes,
		*cpu_collisions, *missed;
	struct metric *buf_bytes, *buf_budget, *buf_peak_bytes, *buf_waits, *buf_failures;
};

/* scraper.c */
void target_put(struct scraper *s, struct target *t);
void scrape_record(struct scraper *s, const struct target *t, struct tstate *st, int ok,
		   const char *result, const char *error, int64_t duration, size_t bytes);
void scrape_update_gauges(struct scraper *s);

/* fetch.c: transfers on the event loop */
int fetch_start(struct scraper *s, struct target *t, struct tstate *st);
void fetch_done(struct scraper *s, CURLMsg *msg);
/* The budget's part of the loop: aborts the transfers asked to give way and resumes the
 * paused ones once memory came back. Loop thread, lock not held. */
void fetch_budget_turn(struct scraper *s);
const char *fetch_path(unsigned type, int godelta);
/* The URL of one profile type of a target: the base URL (which may carry a query) with
 * the type's path; a CPU profile gets seconds=cpu_seconds, once, replacing any seconds
 * parameter of the base, which other types drop. Returns 0 or -ENAMETOOLONG. */
int scrape_url(const char *base, unsigned type, int godelta, int cpu_seconds, char *out,
	       size_t len);

/* When no memory came back for this long while a job waits for some, the largest holder
 * gives way; paused transfers are resumed at least this often to see it. */
#define BUDGET_STUCK_NS NS_PER_SEC

/* budget.c: the buffer budget (see there). Every job is in s->jobs from fetch_start to
 * job_free; the workers stop waiting for memory when s->stopping is set and buf_cond
 * signalled. */
/* Sets up a new job's pool and its body buffer, which draws from it. */
void budget_job_init(struct scraper *s, struct job *j);
/* Whether a job's scrape failed for the budget (refused memory, or gave way), and if so
 * writes its error and counts it. Call once, when the failed scrape is recorded. */
int budget_failed(struct scraper *s, const struct job *j, char *err, size_t len);

/* process.c: decode, delta, rename, upload */
int process_start_workers(struct scraper *s);
void process_stop_workers(struct scraper *s);
void process_queue(struct scraper *s, struct job *j);
void job_free(struct job *j);

/* loop.c */
/* Sets up the event set of the loop on s->multi (before the loop runs). 0 or -errno. */
int scrape_loop_init(struct scraper *s);
/* Wakes the loop up: a target came or went, a round was asked for, work finished. Any
 * thread. */
void scrape_loop_wake(struct scraper *s);
void *scrape_loop_main(void *arg);
int64_t scrape_offset(const char *id, int64_t interval);
int64_t scrape_next_due(int64_t now, int64_t interval, int64_t offset);

#endif
