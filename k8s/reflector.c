/*
 * The reflector (see reflector.h).
 *
 * The thread runs a small state machine: "need a list" (ask /version first when the
 * streaming list is wanted and the server's verdict unknown, then paginated or
 * streaming) or "watch from rv". Each step returns 0 (done as expected), -ENOTSUP (the
 * server does not stream: list at once, the verdict is kept), -ESTALE (the resource
 * version expired: list again), -ERANGE (it is newer than the server's, whose etcd
 * was replaced: list again) or another negative errno (a failure: back off, then
 * retry the same step). Only a 410 that ends a healthy watch relists without the
 * backoff, so no answer of the server's makes the loop spin. The reason of a failure
 * is classified once, where it is known, for the log and the
 * podprof_k8s_errors_total{reason} metric.
 */
#define LOG_MODULE "k8s"
#include "reflector.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "config.h"
#include "event.h"
#include "http.h"
#include "lines.h"
#include "query.h"
#include "version.h"

#define LIST_LIMIT 500
#define RV_MAX 1024
#define CONTINUE_MAX 8192
#define SHORT_WATCH_NS NS_PER_SEC
/* Watching that went on this long since the last list was healthy: the relist after
 * the 410 that ends it is at once. So a server that answers every watch with a 410,
 * however late, gets at most a list and a watch per this time. */
#define HEALTHY_WATCH_NS (2 * NS_PER_SEC)
/* after a streaming list that failed without showing the server cannot stream */
#define STREAMING_RETRY_NS (3600 * NS_PER_SEC)

/* The streaming verdict: 0 not known yet, STREAMS, else a monotonic time until which
 * the server gets paginated lists (NEVER: for good). */
#define STREAMS (-1)
#define NEVER INT64_MAX

enum reason {
	R_CONNECT, R_TIMEOUT, R_RESET, R_TRANSPORT, R_UNAUTHORIZED, R_FORBIDDEN, R_THROTTLED,
	R_SERVER, R_HTTP, R_MALFORMED, R_TOO_LARGE, R_CONTENT_TYPE, R_SHORT_WATCH, R_LIMIT,
	R_CREDENTIALS, R_EXPIRED, R_COUNT
};
static const char *const reason_names[R_COUNT] = {
	"connect", "timeout", "connection_reset", "transport", "unauthorized", "forbidden",
	"throttled", "server_error", "http_status", "malformed_json", "too_large",
	"content_type", "short_watch", "object_limit", "credentials", "expired",
};

struct k8s_reflector {
	struct k8s_reflector_config cfg;
	char *name, *api, *resource, *hint, *namespace, *field_selector, *label_selector;
	struct k8s_http *http;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	_Atomic int stop, synced, denied, streaming_in_use;
	_Atomic uint64_t events, lists, relists, watch_restarts, errors;
	struct k8s_backoff backoff;
	struct buf path, page;
	struct k8s_lines lines;
	char rv[RV_MAX + 1];
	_Atomic int64_t own_verdict, *verdict; /* see STREAMS; verdict may be shared */
	/* the step in progress */
	enum reason reason;     /* of the last failure */
	char detail[320];       /* what failed, for the log */
	int initial_done;       /* streaming: the initial-events-end bookmark came */
	int streaming;          /* the current watch is a streaming list */
	uint64_t step_events;
	int64_t last_data_ns;
	int64_t listed_ns;      /* when the last list completed: watching since then */
	int64_t retry_after_ns; /* of the last failed request */
	struct metric *reason_series[R_COUNT], *event_series[K8S_EVENT_COUNT];
	struct log_ratelimit rl_error, rl_auth, rl_limit;
};

static struct metric *series(struct metric_family *f, struct metric **cache, const char *v)
{
	if (!*cache && f)
		*cache = metrics_series(f, (const char *const[]){v});
	return *cache;
}

static void count_event(struct k8s_reflector *r, enum k8s_event_type t)
{
	atomic_fetch_add(&r->events, 1);
	r->step_events++;
	if (r->cfg.metrics)
		metric_inc(series(r->cfg.metrics->events, &r->event_series[t],
				  k8s_event_type_name(t)));
}

static void count_error(struct k8s_reflector *r, enum reason why)
{
	atomic_fetch_add(&r->errors, 1);
	if (r->cfg.metrics)
		metric_inc(series(r->cfg.metrics->errors, &r->reason_series[why],
				  reason_names[why]));
}

/* Records why a step failed; returns err. */
__attribute__((format(printf, 4, 5))) static int failed(struct k8s_reflector *r, int err,
							 enum reason why, const char *fmt, ...)
{
	va_list ap;

	r->reason = why;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return err;
}

/* Sleeps up to ns; returns non-zero when stopped. */
static int rest(struct k8s_reflector *r, int64_t ns)
{
	struct timespec ts;
	int64_t until;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec + ns;
	ts.tv_sec = until / NS_PER_SEC;
	ts.tv_nsec = until % NS_PER_SEC;
	pthread_mutex_lock(&r->mu);
	while (!atomic_load(&r->stop) &&
	       pthread_cond_timedwait(&r->cond, &r->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&r->mu);
	return atomic_load(&r->stop);
}

/* Classifies a failed HTTP request. Returns the error to propagate. */
static int http_failed(struct k8s_reflector *r, int err, const struct k8s_response *resp)
{
	const char *path = r->path.data;

	r->retry_after_ns = resp->retry_after_ns;
	switch (err) {
	case -EIO:
		break;
	case -ECANCELED:
		return err;
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
		return failed(r, err, R_CONNECT, "GET %s: %s", path, resp->message);
	case -ETIMEDOUT:
		return failed(r, err, R_TIMEOUT, "GET %s: %s", path, resp->message);
	case -ECONNRESET:
		return failed(r, err, R_RESET, "GET %s: %s", path, resp->message);
	case -EPROTO:
		return failed(r, err, R_CONTENT_TYPE, "GET %s: %s", path, resp->message);
	case -E2BIG: {
		int watch = r->streaming || strstr(path, "watch=1") != NULL;
		return failed(r, err, R_TOO_LARGE, "GET %s: %s larger than %zu bytes", path,
			      watch ? "an event is" : "a list page is",
			      watch ? r->cfg.max_event_bytes : r->cfg.max_list_bytes);
	}
	case -EACCES:
	case -ENOKEY:
		return failed(r, err, R_CREDENTIALS, "GET %s: %s", path, resp->message);
	default:
		return failed(r, err, R_TRANSPORT, "GET %s: %s", path,
			      resp->message[0] ? resp->message : strerror(-err));
	}
	if (resp->status == 410)
		return -ESTALE;
	/*
	 * A watch from a resourceVersion the server has not reached: its etcd was
	 * restored or replaced (rvs start over lower), or it lags behind the server that
	 * answered the list. Waiting never helps; client-go lists again (without a
	 * resourceVersion, a consistent read), and so do we.
	 */
	if (resp->status == 504 && strstr(resp->message, "Too large resource version"))
		return -ERANGE;
	if (resp->status == 401 || resp->status == 403) {
		/* a rotated token is the usual cause of a 401; read it again in any case */
		k8s_config_unauthorized(r->cfg.conn);
		if (resp->status == 403 && !atomic_load(&r->synced))
			atomic_store(&r->denied, 1);
		return failed(r, err, resp->status == 401 ? R_UNAUTHORIZED : R_FORBIDDEN,
			      "GET %s: HTTP %ld (%s)", path, resp->status, resp->message);
	}
	if (resp->status == 404 && !atomic_load(&r->synced))
		atomic_store(&r->denied, 1);
	return failed(r, err,
		      resp->status == 429 ? R_THROTTLED : resp->status >= 500 ? R_SERVER : R_HTTP,
		      "GET %s: HTTP %ld: %s", path, resp->status,
		      resp->message[0] ? resp->message : "no message");
}

/* ---- list ------------------------------------------------------------------------- */

static int collect_page(void *ctx, const char *data, size_t len)
{
	struct k8s_reflector *r = ctx;
	return buf_append(&r->page, data, len); /* -E2BIG at the page bound */
}

static int tick(void *ctx)
{
	struct k8s_reflector *r = ctx;

	/* a streaming list that stalls before its bookmark: the server ignores it */
	if (r->streaming && !r->initial_done &&
	    time_mono_ns() - r->last_data_ns > r->cfg.initial_events_idle_ns) {
		snprintf(r->detail, sizeof(r->detail), "no initial-events-end bookmark, and no "
			 "data for %.1f s", (double)r->cfg.initial_events_idle_ns / 1e9);
		return -ENOTSUP;
	}
	return 0;
}

static void build_path(struct k8s_reflector *r, struct k8s_query *q)
{
	q->api = r->api;
	q->resource = r->resource;
	q->namespace = r->namespace;
	q->field_selector = r->field_selector;
	q->label_selector = r->label_selector;
	buf_reset(&r->path);
	k8s_query_build(&r->path, q);
}

/* Says that a bound refused objects (at most once a minute). */
static void refused(struct k8s_reflector *r, size_t n, const char *when)
{
	count_error(r, R_LIMIT);
	if (log_ratelimit_allow(&r->rl_limit, 60 * NS_PER_SEC)) {
		if (n)
			log_error("%s: the bound on %s was reached: %zu not kept %s(raise "
				  "--max-pods)", r->name, r->resource, n, when);
		else
			log_error("%s: the bound on %s was reached: new ones are not kept %s(raise "
				  "--max-pods)", r->name, r->resource, when);
	}
}

/* Applies the items of one list page. Returns 0, -EBADMSG or -ENOMEM. */
static int apply_page(struct k8s_reflector *r, const cJSON *doc, size_t *count, size_t *refused)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items"), *item;
	int invalid = 0;

	if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items)
		return failed(r, -EBADMSG, R_MALFORMED, "GET %s: items is not a list",
			      r->path.data);
	cJSON_ArrayForEach(item, items) {
		int e = r->cfg.ops->upsert(r->cfg.ctx, item);
		if (e == -ENOMEM)
			return failed(r, e, R_TRANSPORT, "out of memory");
		*refused += e == -E2BIG;
		invalid += e == -EINVAL;
		(*count)++;
	}
	if (invalid)
		log_debug("%s: %d list items without namespace, name or uid ignored", r->name,
			  invalid);
	return 0;
}

static int do_list(struct k8s_reflector *r)
{
	struct k8s_query q = {.limit = LIST_LIMIT};
	struct k8s_response resp;
	struct k8s_request req = {.timeout_ns = r->cfg.request_timeout_ns, .on_body = collect_page,
				  .on_tick = tick, .ctx = r};
	char *cont = NULL;
	size_t count = 0, pages = 0, nrefused = 0;
	int64_t start = time_mono_ns();
	int e, restarts = 0;

	r->streaming = 0;
	r->cfg.ops->begin(r->cfg.ctx);
	for (;;) {
		cJSON *doc;
		const cJSON *meta;
		const char *rv, *next;

		q.continue_token = cont;
		build_path(r, &q);
		req.path = r->path.data;
		buf_reset(&r->page);
		e = k8s_http_get(r->http, &req, &resp);
		if (e == -EIO && resp.status == 410 && cont && restarts++ < 3) {
			/* the continue token expired: the list starts over, as a whole */
			log_info("%s: the list's continue token expired; listing again", r->name);
			free(cont);
			cont = NULL;
			count = pages = nrefused = 0;
			r->cfg.ops->begin(r->cfg.ctx);
			continue;
		}
		if (e) {
			e = http_failed(r, e, &resp);
			goto out;
		}
		doc = cJSON_ParseWithLength(r->page.data ? r->page.data : "", r->page.len);
		if (!doc) {
			e = failed(r, -EBADMSG, R_MALFORMED, "GET %s: the list is not valid JSON",
				   r->path.data);
			goto out;
		}
		pages++;
		e = apply_page(r, doc, &count, &nrefused);
		meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
		rv = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion"));
		next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "continue"));
		free(cont);
		cont = NULL;
		if (!e && next && *next) {
			if (strlen(next) > CONTINUE_MAX)
				e = failed(r, -EBADMSG, R_MALFORMED, "GET %s: a continue token "
					   "longer than %d bytes", r->path.data, CONTINUE_MAX);
			else if (!(cont = strdup(next)))
				e = failed(r, -ENOMEM, R_TRANSPORT, "out of memory");
		}
		if (!e && (!rv || !*rv || strlen(rv) > RV_MAX))
			e = failed(r, -EBADMSG, R_MALFORMED, "GET %s: the list has no usable "
				   "metadata.resourceVersion", r->path.data);
		if (!e && !cont)
			snprintf(r->rv, sizeof(r->rv), "%s", rv);
		/* rv and next point into doc: nothing uses them after this */
		cJSON_Delete(doc);
		if (e)
			goto out;
		if (!cont)
			break;
	}
	r->cfg.ops->end(r->cfg.ctx);
	r->listed_ns = time_mono_ns();
	if (nrefused)
		refused(r, nrefused, "of a list ");
	log_info("%s: listed %zu in %zu page%s at resourceVersion %s in %.2f s", r->name, count,
		 pages, pages == 1 ? "" : "s", r->rv, (double)(time_mono_ns() - start) / 1e9);
	e = 0;
out:
	free(cont);
	/* a big page must not keep its memory until the next list */
	buf_free(&r->page);
	buf_init(&r->page, r->cfg.max_list_bytes);
	return e;
}

/* ---- watch ------------------------------------------------------------------------ */

static int remember_rv(struct k8s_reflector *r, const struct k8s_event *ev)
{
	const char *rv = ev->resource_version;

	if (!rv)
		return 0; /* kept: the next event or bookmark will have one */
	if (strlen(rv) > RV_MAX)
		return failed(r, -EBADMSG, R_MALFORMED, "a resourceVersion longer than %d bytes",
			      RV_MAX);
	strcpy(r->rv, rv);
	return 0;
}

static int on_event(struct k8s_reflector *r, const struct k8s_event *ev)
{
	int e;

	count_event(r, ev->type);
	switch (ev->type) {
	case K8S_EVENT_ADDED:
	case K8S_EVENT_MODIFIED:
		e = r->cfg.ops->upsert(r->cfg.ctx, ev->object);
		if (e == -ENOMEM)
			return failed(r, e, R_TRANSPORT, "out of memory");
		if (e == -E2BIG)
			refused(r, 0, "");
		return remember_rv(r, ev);
	case K8S_EVENT_DELETED:
		r->cfg.ops->remove(r->cfg.ctx, ev->object);
		return remember_rv(r, ev);
	case K8S_EVENT_BOOKMARK:
		e = remember_rv(r, ev);
		if (!e && r->streaming && !r->initial_done && !ev->initial_events_end) {
			/* a server that streams sends the annotated bookmark before any other:
			 * this one ignored sendInitialEvents and is sending a plain watch */
			snprintf(r->detail, sizeof(r->detail), "a plain bookmark came before the "
				 "initial-events-end one");
			return -ENOTSUP;
		}
		if (!e && r->streaming && !r->initial_done) {
			r->initial_done = 1;
			r->listed_ns = time_mono_ns();
			r->cfg.ops->end(r->cfg.ctx);
			atomic_fetch_add(&r->lists, 1);
			atomic_store(&r->synced, 1);
			if (!atomic_exchange(&r->streaming_in_use, 1))
				log_info("%s: the server supports streaming lists: using them",
					 r->name);
			log_info("%s: %llu initial events at resourceVersion %s", r->name,
				 (unsigned long long)r->step_events - 1, r->rv);
		}
		return e;
	default: /* K8S_EVENT_ERROR */
		if (ev->code == 410)
			return -ESTALE;
		return failed(r, -EREMOTEIO, ev->code >= 500 ? R_SERVER : R_HTTP,
			      "the watch ended with an error %.0f: %.200s", ev->code,
			      ev->message ? ev->message : "no message");
	}
}

static int on_line(void *ctx, const char *line, size_t len)
{
	struct k8s_reflector *r = ctx;
	struct k8s_event ev;
	char why[80];
	int e = k8s_event_parse(line, len, &ev, why, sizeof(why));

	if (e)
		return failed(r, e, R_MALFORMED, "%s", why);
	e = on_event(r, &ev);
	k8s_event_free(&ev);
	return e;
}

static int on_stream(void *ctx, const char *data, size_t len)
{
	struct k8s_reflector *r = ctx;

	r->last_data_ns = time_mono_ns();
	return k8s_lines_feed(&r->lines, data, len, on_line, r);
}

/* ---- streaming or not ------------------------------------------------------------ */

/* The streaming verdict; a "not for now" whose time has come is forgotten. */
static int64_t streaming_verdict(struct k8s_reflector *r)
{
	int64_t v = atomic_load(r->verdict);

	if (v > 0 && v != NEVER && time_mono_ns() >= v) {
		atomic_compare_exchange_strong(r->verdict, &v, 0);
		return 0;
	}
	return v;
}

/* Paginated lists from now on: for good (NEVER) or for ns. */
static void no_streaming(struct k8s_reflector *r, int64_t ns)
{
	int64_t v = atomic_load(r->verdict);

	if (v != NEVER)
		atomic_store(r->verdict, ns == NEVER ? NEVER : time_mono_ns() + ns);
}

static int collect_version(void *ctx, const char *data, size_t len)
{
	struct k8s_reflector *r = ctx;

	if (r->page.len + len > K8S_VERSION_DOC_MAX)
		return -E2BIG;
	return buf_append(&r->page, data, len);
}

/*
 * Asks /version whether the server streams lists by default. Returns 0 once a verdict
 * is reached (an answer that is not a version means paginated lists for an hour), or
 * the failure of a request that got no answer (the list would fail as well: retried
 * after the delay).
 */
static int ask_version(struct k8s_reflector *r)
{
	struct k8s_request req = {.timeout_ns = r->cfg.request_timeout_ns,
				  .on_body = collect_version, .ctx = r};
	struct k8s_response resp;
	int major = 0, minor = 0, e;

	buf_reset(&r->path);
	buf_append_str(&r->path, "/version");
	req.path = r->path.data;
	buf_reset(&r->page);
	e = k8s_http_get(r->http, &req, &resp);
	if (e && e != -EIO && e != -EPROTO && e != -E2BIG)
		return http_failed(r, e, &resp);
	if (!e)
		e = k8s_version_parse(r->page.data, r->page.len, &major, &minor);
	buf_reset(&r->page);
	if (e) {
		log_info("%s: GET /version: %s; paginated lists for an hour", r->name,
			 resp.status && resp.status != 200 ? resp.message : "no version in the answer");
		no_streaming(r, STREAMING_RETRY_NS);
	} else if (k8s_version_streams(major, minor)) {
		int64_t unknown = 0;
		log_info("%s: Kubernetes %d.%d: trying the streaming list", r->name, major, minor);
		/* unless the other reflector has learnt better meanwhile */
		atomic_compare_exchange_strong(r->verdict, &unknown, STREAMS);
	} else {
		log_info("%s: Kubernetes %d.%d has no streaming lists by default (1.32 has): "
			 "paginated lists", r->name, major, minor);
		no_streaming(r, NEVER);
	}
	return 0;
}

/* Statuses with which a server refuses the streaming list's parameters. */
static int refuses_streaming(long status)
{
	return status == 400 || status == 404 || status == 405 || status == 422;
}

/*
 * A streaming list ended (err) before its initial-events-end bookmark: the next lists
 * are paginated. Returns -ENOTSUP (list at once) when the server showed that it does
 * not stream (it refused the parameters, sent a plain watch, or went silent): for
 * good. Any other failure says nothing about streaming: paginated lists for an hour,
 * the failure returned (list after the delay).
 */
static int streaming_failed(struct k8s_reflector *r, int err, const struct k8s_response *resp)
{
	if (err == -EIO && refuses_streaming(resp->status)) {
		snprintf(r->detail, sizeof(r->detail), "it refused the parameters: HTTP %ld",
			 resp->status);
		err = -ENOTSUP;
	} else if (err == 0) {
		snprintf(r->detail, sizeof(r->detail), "the stream ended without the "
			 "initial-events-end bookmark");
		err = -ENOTSUP;
	}
	if (err == -ENOTSUP) {
		log_info("%s: the server does not stream lists (%s): paginated lists from now on",
			 r->name, r->detail);
		no_streaming(r, NEVER);
		return err;
	}
	err = r->detail[0] || err == -ESTALE ? err : http_failed(r, err, resp);
	log_info("%s: the streaming list failed: paginated lists for an hour", r->name);
	no_streaming(r, STREAMING_RETRY_NS);
	return err;
}

/* ---- one watch -------------------------------------------------------------------- */

/* One watch (streaming: a streaming list followed by its watch). */
static int do_watch(struct k8s_reflector *r, int streaming)
{
	int timeout_s = (int)k8s_backoff_random(&r->backoff, r->cfg.watch_timeout_min_s,
						r->cfg.watch_timeout_max_s);
	struct k8s_query q = {.watch = true, .bookmarks = true, .timeout_s = timeout_s,
			      .resource_version = streaming ? "" : r->rv,
			      .send_initial_events = streaming};
	struct k8s_request req = {.timeout_ns = (int64_t)(timeout_s + 30) * NS_PER_SEC,
				  .on_body = on_stream, .on_tick = tick, .ctx = r};
	struct k8s_response resp;
	int64_t start = time_mono_ns();
	int e;

	r->streaming = streaming;
	r->initial_done = 0;
	r->step_events = 0;
	r->last_data_ns = start;
	k8s_lines_reset(&r->lines);
	build_path(r, &q);
	req.path = r->path.data;
	if (streaming)
		r->cfg.ops->begin(r->cfg.ctx);
	log_debug("%s: watching from resourceVersion \"%s\"%s", r->name, streaming ? "" : r->rv,
		  streaming ? " (streaming list)" : "");
	e = k8s_http_get(r->http, &req, &resp);
	if (streaming && !r->initial_done && e != -ECANCELED)
		return streaming_failed(r, e, &resp);
	/* a watch that was working and got cut resumes like one that ended normally */
	if (e == -ECONNRESET && (!streaming || r->initial_done) &&
	    time_mono_ns() - start >= SHORT_WATCH_NS)
		e = 0;
	if (e)
		return r->detail[0] || e == -ESTALE ? e : http_failed(r, e, &resp);
	/* events or not: a server that ends every watch at once is not to be hammered */
	if (!streaming && time_mono_ns() - start < SHORT_WATCH_NS)
		return failed(r, -EAGAIN, R_SHORT_WATCH, "very short watch: it ended within a "
			      "second (%llu events)", (unsigned long long)r->step_events);
	return 0;
}

/* ---- the thread ------------------------------------------------------------------- */

static void log_failure(struct k8s_reflector *r, int64_t delay)
{
	count_error(r, r->reason);
	if (r->reason == R_UNAUTHORIZED) {
		if (log_ratelimit_allow(&r->rl_auth, 60 * NS_PER_SEC))
			log_error("%s: %s: the API server rejected podprof's credentials (an "
				  "expired or rotated token?); they are read again, retrying",
				  r->name, r->detail);
	} else if (r->reason == R_FORBIDDEN) {
		if (log_ratelimit_allow(&r->rl_auth, 60 * NS_PER_SEC))
			log_error("%s: %s: podprof's service account needs %s (RBAC: a ClusterRole "
				  "bound to it); retrying", r->name, r->detail, r->hint);
	} else if (log_ratelimit_allow(&r->rl_error, 10 * NS_PER_SEC)) {
		log_warn("%s: %s; retrying in %.1f s", r->name, r->detail, (double)delay / 1e9);
	}
}

static void wait_for_other(struct k8s_reflector *r)
{
	int64_t until = time_mono_ns() + r->cfg.wait_ns;
	struct k8s_reflector *o = r->cfg.wait_for;

	while (o && !atomic_load(&r->stop) && time_mono_ns() < until &&
	       !k8s_reflector_synced(o) && !k8s_reflector_denied(o))
		rest(r, 20 * NS_PER_MS);
}

static void listed(struct k8s_reflector *r, int *first)
{
	atomic_store(&r->synced, 1);
	if (!*first) {
		atomic_fetch_add(&r->relists, 1);
		if (r->cfg.metrics)
			metric_inc(r->cfg.metrics->relists);
	}
	*first = 0;
}

static void *run(void *arg)
{
	struct k8s_reflector *r = arg;
	int need_list = 1, first = 1;

	wait_for_other(r);
	while (!atomic_load(&r->stop)) {
		int64_t delay, v = need_list && r->cfg.streaming == K8S_STREAMING_AUTO
					   ? streaming_verdict(r)
					   : NEVER;
		int e;

		r->detail[0] = '\0';
		r->retry_after_ns = 0;
		if (v == 0) {
			e = ask_version(r);
			if (!e)
				continue; /* the list, as the verdict says */
		} else if (v == STREAMS) {
			e = do_watch(r, 1);
			if (e == -ENOTSUP)
				continue; /* the server does not stream: list at once */
			if (r->initial_done) {
				need_list = 0;
				listed(r, &first);
			}
		} else if (need_list) {
			e = do_list(r);
			if (!e) {
				need_list = 0;
				atomic_fetch_add(&r->lists, 1);
				listed(r, &first);
				continue; /* straight to the watch */
			}
		} else {
			e = do_watch(r, 0);
		}
		if (atomic_load(&r->stop) || e == -ECANCELED)
			break;
		if (!need_list) {
			atomic_fetch_add(&r->watch_restarts, 1);
			if (r->cfg.metrics)
				metric_inc(r->cfg.metrics->watch_restarts);
		}
		if (e == -ESTALE && !need_list &&
		    time_mono_ns() - r->listed_ns >= HEALTHY_WATCH_NS) {
			/* the one retry without a delay: the end of healthy watching */
			log_info("%s: resourceVersion %s expired (410 Gone): listing again",
				 r->name, r->rv[0] ? r->rv : "\"\"");
			need_list = 1;
			continue;
		}
		if (e == -ESTALE) {
			need_list = 1;
			failed(r, e, R_EXPIRED, "resourceVersion %s expired (410 Gone) with no "
			       "healthy watching since the list: the new list waits for the backoff",
			       r->rv[0] ? r->rv : "\"\"");
		}
		if (e == -ERANGE) {
			need_list = 1;
			failed(r, e, R_SERVER, "resourceVersion %s is newer than the server's (its "
			       "etcd was restored or replaced?): listing again after the backoff",
			       r->rv[0] ? r->rv : "\"\"");
		}
		if (!e)
			continue;
		delay = k8s_backoff_next(&r->backoff, time_mono_ns());
		/* Retry-After is honoured, within reason */
		if (r->retry_after_ns > delay)
			delay = r->retry_after_ns < 300 * NS_PER_SEC ? r->retry_after_ns
								      : 300 * NS_PER_SEC;
		if (!r->detail[0])
			snprintf(r->detail, sizeof(r->detail), "%s", strerror(-e));
		log_failure(r, delay);
		if (rest(r, delay))
			break;
	}
	return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static char *dup_opt(const char *s)
{
	return strdup(s ? s : "");
}

int k8s_reflector_start(const struct k8s_reflector_config *cfg, struct k8s_reflector **out)
{
	struct k8s_reflector *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;
	char thread_name[16];
	int e = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->verdict = cfg->streaming_verdict ? cfg->streaming_verdict : &r->own_verdict;
	r->name = dup_opt(cfg->name);
	r->api = dup_opt(cfg->api);
	r->resource = dup_opt(cfg->resource);
	r->hint = dup_opt(cfg->rbac_hint);
	r->namespace = dup_opt(cfg->namespace);
	r->field_selector = dup_opt(cfg->field_selector);
	r->label_selector = dup_opt(cfg->label_selector);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	buf_init(&r->path, 65536);
	buf_init(&r->page, cfg->max_list_bytes);
	k8s_lines_init(&r->lines, cfg->max_event_bytes);
	k8s_backoff_init(&r->backoff, cfg->backoff_min_ns, cfg->backoff_max_ns,
			 cfg->backoff_reset_ns);
	if (!r->name || !r->api || !r->resource || !r->hint || !r->namespace ||
	    !r->field_selector || !r->label_selector)
		goto fail;
	e = k8s_http_new(cfg->conn, cfg->request_timeout_ns, &r->http);
	if (e)
		goto fail;
	e = -pthread_create(&r->thread, NULL, run, r);
	if (e)
		goto fail;
	r->started = 1;
	snprintf(thread_name, sizeof(thread_name), "k8s-%s", r->name);
	pthread_setname_np(r->thread, thread_name);
	*out = r;
	return 0;
fail:
	k8s_reflector_free(r);
	return e;
}

void k8s_reflector_free(struct k8s_reflector *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		atomic_store(&r->stop, 1);
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
		k8s_http_abort(r->http);
		pthread_join(r->thread, NULL);
	}
	k8s_http_free(r->http);
	buf_free(&r->path);
	buf_free(&r->page);
	k8s_lines_free(&r->lines);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r->name);
	free(r->api);
	free(r->resource);
	free(r->hint);
	free(r->namespace);
	free(r->field_selector);
	free(r->label_selector);
	free(r);
}

bool k8s_reflector_synced(const struct k8s_reflector *r)
{
	return atomic_load(&((struct k8s_reflector *)r)->synced) != 0;
}

bool k8s_reflector_denied(const struct k8s_reflector *r)
{
	return atomic_load(&((struct k8s_reflector *)r)->denied) != 0;
}

void k8s_reflector_get_stats(const struct k8s_reflector *cr, struct k8s_reflector_stats *out)
{
	struct k8s_reflector *r = (struct k8s_reflector *)cr;

	out->events = atomic_load(&r->events);
	out->lists = atomic_load(&r->lists);
	out->relists = atomic_load(&r->relists);
	out->watch_restarts = atomic_load(&r->watch_restarts);
	out->errors = atomic_load(&r->errors);
	out->streaming = atomic_load(&r->streaming_in_use) != 0;
}
