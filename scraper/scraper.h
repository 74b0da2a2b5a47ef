/*
 * scraper/: the cluster role's pprof scraper, its public header.
 *
 * Targets (from Kubernetes discovery, --target flags or a targets file) are scraped
 * for their Go profiles (CPU, heap, block, mutex, goroutine) by one event loop on
 * libcurl's multi interface, with a global bound on concurrent requests, at most one
 * CPU profile in flight per target, and each target at a stable offset inside the
 * interval. Responses are decoded with bounds on each and on all together (the scrape
 * buffer budget that every response in flight draws from), cumulative types turned
 * into per-window deltas (the first scrape only records the baseline), sample types
 * renamed to Coroot's, and every profile handed to the uploader.
 */
#ifndef PODPROF_SCRAPER_H
#define PODPROF_SCRAPER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct scraper;
struct pprof_profile;

/* Profile types, as a bit set. */
enum scrape_type {
	SCRAPE_CPU = 1u << 0,
	SCRAPE_HEAP = 1u << 1,
	SCRAPE_BLOCK = 1u << 2,
	SCRAPE_MUTEX = 1u << 3,
	SCRAPE_GOROUTINE = 1u << 4,
};
#define SCRAPE_ALL_TYPES 0x1fu
#define SCRAPE_NTYPES 5

/* Parses "cpu,heap,block" into a bit set. Returns 0 or -EINVAL (an unknown name, or
 * an empty list), naming nothing: callers say which input it was. */
int scrape_types_parse(const char *s, unsigned *out);
/* "cpu", "heap", ... for one type bit. */
const char *scrape_type_name(unsigned type);

/* Which credential a target is sent (chosen per pod; the secrets are global). */
enum scrape_auth { SCRAPE_AUTH_NONE, SCRAPE_AUTH_BEARER, SCRAPE_AUTH_BASIC };

#define SCRAPE_MAX_LABELS 8

/* A target as discovery describes it. Strings are copied by scraper_target_set. */
struct scrape_target {
	const char *id;           /* stable key, e.g. "<pod uid>/<ip>:<port>" */
	const char *base_url;     /* "http://10.1.2.3:6060/debug/pprof" (no trailing /) */
	const char *service_name; /* service.name of the uploads */
	const char *instance_uid; /* pod uid: a change resets the delta baselines; may be "" */
	unsigned types;           /* 0: the global default */
	int cpu_seconds;          /* 0: the global default */
	enum scrape_auth auth;
	const char *label_names[SCRAPE_MAX_LABELS];
	const char *label_values[SCRAPE_MAX_LABELS];
	size_t nlabels;           /* namespace, pod, node, container... */
};

/* What travels with a processed profile to the uploader. */
struct scrape_profile_meta {
	const char *service_name;
	const char *kind; /* "cpu", "heap", ... */
	const char *const *label_names;
	const char *const *label_values;
	size_t nlabels;
	int64_t time_ns;
};
/* Receives each processed profile (on a worker thread; p is valid during the call). */
typedef int (*scrape_emit_fn)(void *ctx, const struct scrape_profile_meta *meta,
			      const struct pprof_profile *p);

struct scraper_config {
	int64_t interval_ns;      /* PROFILES_SCRAPE_INTERVAL (60 s) */
	int64_t timeout_ns;       /* PROFILES_SCRAPE_TIMEOUT (10 s); CPU requests get + seconds */
	int cpu_seconds;          /* default 10, always below the interval */
	unsigned types;           /* default SCRAPE_ALL_TYPES */
	size_t max_concurrency;   /* requests in flight (default 64), not counting CPU
				   * profiles, which wait out their seconds (one per target) */
	size_t max_body_bytes;    /* compressed response bound (default 32 MiB) */
	size_t max_profile_bytes; /* decompressed bound (default 64 MiB) */
	size_t max_buffer_bytes;  /* the scrape buffer budget: every response being
				   * received, waiting or decoded, together (64 MiB) */
	const char *ca_file;      /* verifies https targets */
	int insecure_skip_verify;
	const char *bearer_token_file; /* sent to targets with SCRAPE_AUTH_BEARER; re-read on change */
	const char *basic_user, *basic_password; /* SCRAPE_AUTH_BASIC */
	size_t processing_threads; /* decode/delta/encode workers (default 2) */
	size_t max_delta_bytes;   /* delta state of one target and type (default 16 MiB) */
	scrape_emit_fn emit;      /* the uploader, in the agent */
	void *emit_ctx;
	struct metrics_registry *metrics; /* may be NULL */
};

/* Creates the scraper and starts its event loop (thread "scraper") and workers.
 * Returns 0 or a negative errno. The caller owns *out. */
int scraper_new(const struct scraper_config *cfg, struct scraper **out);

/* Stops the loop (transfers in flight are aborted) and frees everything. */
void scraper_free(struct scraper *s);

/* Adds a target or updates the one with the same id. Thread-safe; takes effect at the
 * loop's next turn. Returns 0 or a negative errno. */
int scraper_target_set(struct scraper *s, const struct scrape_target *t);
/* Removes a target and its delta state. Thread-safe. */
void scraper_target_remove(struct scraper *s, const char *id);

/*
 * Scrapes every target once for each of its types now, without waiting for their
 * offsets (CPU profiles still run their full duration), waits until every resulting
 * profile has been handed to the uploader or has failed, and returns: the --once
 * mode. Cumulative types (heap alloc, block, mutex) only record their baseline on a
 * first scrape, so a single cycle uploads CPU, heap in-use and goroutine profiles.
 * Returns 0, or -ETIMEDOUT after timeout_ns.
 */
int scraper_scrape_all(struct scraper *s, int64_t timeout_ns);

/* The /targets page: HTML, or JSON when json is non-zero. Thread-safe. */
int scraper_status(struct scraper *s, int json, struct buf *out);

/* Number of targets, and of targets whose last scrape of every type succeeded. */
size_t scraper_target_count(struct scraper *s, size_t *healthy);

#endif
