/*
 * HTTP GET against the API server with libcurl: one easy handle per reflector, driven
 * through a private multi handle so that another thread can interrupt a transfer at
 * once (a watch may otherwise sit idle for ten minutes) and so that a caller can check
 * its own deadlines while a response streams in.
 *
 * A response body reaches the caller only when the status is 2xx and the content type
 * is JSON; anything else (an HTML error page from a proxy, a wrong content type) is
 * reported, with the server's Status message when there is one, and never buffered
 * beyond a small bound.
 */
#ifndef PODPROF_K8S_HTTP_H
#define PODPROF_K8S_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "k8s.h"

/* Bound of an error body kept to find the server's message. */
#define K8S_HTTP_ERROR_BODY_MAX 65536

/* Receives decompressed body bytes; returns 0 or a negative errno to abort. */
typedef int (*k8s_body_fn)(void *ctx, const char *data, size_t len);
/* Called about every 250 ms during a transfer; non-zero (a negative errno) aborts. */
typedef int (*k8s_tick_fn)(void *ctx);

struct k8s_request {
	const char *path;   /* path and query, e.g. "/api/v1/pods?limit=500" */
	int64_t timeout_ns; /* the whole transfer; 0: none */
	k8s_body_fn on_body;
	k8s_tick_fn on_tick; /* may be NULL */
	void *ctx;
};

struct k8s_response {
	long status;             /* HTTP status, 0 when none came */
	char content_type[96];
	int64_t retry_after_ns;  /* Retry-After (seconds form), 0 when absent */
	char message[256];       /* why it failed: transport error, Status message, summary */
	uint64_t body_bytes;     /* bytes passed to on_body */
};

struct k8s_http;

/* Creates a client for conn (which must outlive it). connect_timeout_ns 0: 10 s.
 * Returns 0 or -ENOMEM. The caller owns *out. */
int k8s_http_new(const struct k8s_config *conn, int64_t connect_timeout_ns,
		 struct k8s_http **out);
void k8s_http_free(struct k8s_http *h);

/* Makes the current and every later request fail with -ECANCELED. Thread-safe. */
void k8s_http_abort(struct k8s_http *h);

/*
 * Performs a GET. Returns 0 when a 2xx JSON response was read to its end, or:
 *   -EIO          an HTTP error status (resp->status and resp->message say which)
 *   -EPROTO       a 2xx response whose content type is not JSON
 *   -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET (cut mid-response),
 *   -ECONNABORTED (TLS and other transport failures; resp->message has curl's words)
 *   -ECANCELED    k8s_http_abort() was called
 *   the callbacks' errors.
 * Not thread-safe: one request at a time per client.
 */
int k8s_http_get(struct k8s_http *h, const struct k8s_request *req, struct k8s_response *resp);

/* The server's base URL. */
const char *k8s_http_server(const struct k8s_http *h);

#endif
