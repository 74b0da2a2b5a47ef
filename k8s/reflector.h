/*
 * A reflector: one thread that keeps a local copy of one resource (pods, ReplicaSets)
 * equal to the API server's, by the rules of reference/k8s-watch.md:
 *
 *  - list with limit=500 and continue (a 410 on a continue token restarts the list),
 *    or the streaming list (watch=1&sendInitialEvents=true, complete when the bookmark
 *    annotated k8s.io/initial-events-end arrives) where the server says it has them:
 *    its /version is 1.32 or later (asked once) and it does not refuse the parameters.
 *    A streaming list that fails or stalls for any reason is followed by paginated
 *    lists: for good when the server showed it does not stream (a refusal, a plain
 *    bookmark or silence before the initial-events-end one), for an hour otherwise;
 *  - then watch from the list's resourceVersion with bookmarks and a random
 *    timeoutSeconds in [300, 600]; a watch that ends, normally or cut, resumes from the
 *    last resourceVersion seen (bookmarks included) without a new list;
 *  - 410 Gone (an ERROR event or the HTTP status) relists, and the list replaces the
 *    local state: objects that vanished meanwhile are reported deleted;
 *  - every retry waits for the backoff (800 ms to 30 s by default, jitter, Retry-After
 *    honoured; backoff.h), but one: the relist after a 410 that ends healthy watching
 *    (two seconds or more since the list) is at once. So a server that fails every
 *    watch gets a list and a watch per delay at most, whatever it answers. 401 and 403
 *    are logged loudly once a minute with an RBAC hint and make the credentials be
 *    re-read; a watch that ends or is cut within a second, events or not, is a failure
 *    too ("very short watch");
 *  - every input is bounded: one event (16 MiB), one list page (64 MiB), decompressed.
 *
 * The objects reach the caller as cJSON through ops, on the reflector's thread, and
 * are freed as soon as the callback returns.
 */
#ifndef PODPROF_K8S_REFLECTOR_H
#define PODPROF_K8S_REFLECTOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "k8s.h"

struct k8s_reflector_ops {
	/* a list starts: what it shows from now on is the whole state */
	void (*begin)(void *ctx);
	/*
	 * An object of a list, or of an ADDED or MODIFIED event. Returns 0, -E2BIG (a bound
	 * refused it: counted, logged, the stream goes on), -EINVAL (not a usable object:
	 * counted, the stream goes on) or -ENOMEM (the stream stops).
	 */
	int (*upsert)(void *ctx, const cJSON *obj);
	/* The object of a DELETED event. */
	void (*remove)(void *ctx, const cJSON *obj);
	/* a list is complete: objects it did not show are gone */
	void (*end)(void *ctx);
};

/* Metric handles shared by the reflectors (any may be NULL). */
struct k8s_reflector_metrics {
	struct metric *watch_restarts;
	struct metric *relists;
	struct metric_family *errors; /* label: reason */
	struct metric_family *events; /* label: type */
};

struct k8s_reflector_config {
	const char *name;      /* "pods": logs, thread name "k8s-pods" */
	const char *api;       /* "/api/v1" */
	const char *resource;  /* "pods" */
	const char *rbac_hint; /* "get, list and watch on pods" */
	const char *namespace;
	const char *field_selector;
	const char *label_selector;
	const struct k8s_config *conn;
	const struct k8s_reflector_ops *ops;
	void *ctx;
	size_t max_event_bytes, max_list_bytes;
	int64_t backoff_min_ns, backoff_max_ns, backoff_reset_ns;
	int64_t request_timeout_ns;
	int watch_timeout_min_s, watch_timeout_max_s;
	int64_t initial_events_idle_ns;
	enum k8s_streaming_list streaming;
	/* what the reflectors of one server learnt about its streaming lists: a word they
	 * share, zero at first (NULL: the reflector keeps its own) */
	_Atomic int64_t *streaming_verdict;
	const struct k8s_reflector_metrics *metrics;
	/* before its first list, wait up to wait_ns for this one to be synced or denied */
	struct k8s_reflector *wait_for;
	int64_t wait_ns;
};

struct k8s_reflector;

struct k8s_reflector_stats {
	uint64_t events, lists, relists, watch_restarts, errors;
	bool streaming; /* the streaming list is in use */
};

/* Starts the thread. All strings of cfg are copied. Returns 0 or a negative errno; the
 * caller owns *out. */
int k8s_reflector_start(const struct k8s_reflector_config *cfg, struct k8s_reflector **out);

/* Stops the thread (interrupting its transfer) and frees. NULL is ignored. */
void k8s_reflector_free(struct k8s_reflector *r);

/* The first list is complete. Thread-safe. */
bool k8s_reflector_synced(const struct k8s_reflector *r);
/* The server refused the resource (403 or 404) before the first list completed.
 * Thread-safe. */
bool k8s_reflector_denied(const struct k8s_reflector *r);

void k8s_reflector_get_stats(const struct k8s_reflector *r, struct k8s_reflector_stats *out);

#endif
