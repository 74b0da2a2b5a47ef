/*
 * The Coroot sink: POST <endpoint>?<query> with a gzip pprof body over one libcurl
 * easy handle, reused so that the connection stays open between uploads, and the
 * classification of the outcome into what the uploader does next. Private to agent/;
 * a sink is used by one thread (the uploader's), except sink_coroot_abort().
 */
#ifndef PODPROF_SINK_COROOT_H
#define PODPROF_SINK_COROOT_H

#include <stddef.h>
#include <stdint.h>

struct sink_coroot;

struct sink_coroot_config {
	const char *endpoint; /* full URL of /v1/profiles */
	const char *api_key;  /* may be NULL or empty: no X-Api-Key header */
	const char *ca_file;  /* may be NULL */
	int insecure_skip_verify;
	int64_t timeout_ns;
};

enum sink_outcome {
	SINK_OK,          /* 2xx */
	SINK_RETRY,       /* network error, timeout, 5xx, 408, 429, unexpected status */
	SINK_AUTH,        /* 401, 403, 404 (Coroot: unknown API key): retry, keep data */
	SINK_REJECTED,    /* 400 and other 4xx: the server will never take it */
	SINK_TOO_LARGE,   /* 413 */
};

/* What happened to one request, for the caller's log lines. */
struct sink_result {
	enum sink_outcome outcome;
	long status;        /* HTTP status, 0 when no response came */
	char message[256];  /* curl's error or the server's answer, printable ASCII only */
	double seconds;     /* duration of the request */
};

/*
 * Creates the sink. The strings are copied. Returns 0 or a negative errno (-EINVAL
 * for an endpoint that is not http:// or https://, logged). The caller owns *out.
 * Requires curl_global_init() to have been called.
 */
int sink_coroot_new(const struct sink_coroot_config *cfg, struct sink_coroot **out);

/* Frees the sink and closes its connection. NULL is ignored. */
void sink_coroot_free(struct sink_coroot *s);

/*
 * Sends one profile: query (URL-encoded, without '?') and body (len bytes). Fills
 * *res and returns res->outcome. Blocks for at most the configured timeout.
 */
enum sink_outcome sink_coroot_send(struct sink_coroot *s, const char *query,
				   const void *body, size_t len, struct sink_result *res);

/*
 * Aborts the transfer in progress at once, and every later one (stop). Thread-safe:
 * the one function another thread may call while a send is running.
 */
void sink_coroot_abort(struct sink_coroot *s);

/* The endpoint with any user:password@ part hidden, for log lines. */
const char *sink_coroot_endpoint(const struct sink_coroot *s);

#endif
