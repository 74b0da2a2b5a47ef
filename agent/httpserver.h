/*
 * The agent's HTTP server (libmicrohttpd): /metrics in the Prometheus text format,
 * /healthz (the process is alive), /readyz (the role has finished its first
 * list/scan), and read-only status pages that roles register. Only GET and HEAD are
 * answered; requests and connections are bounded.
 */
#ifndef PODPROF_HTTPSERVER_H
#define PODPROF_HTTPSERVER_H

#include "common.h"

struct http_server;

/* A status page: appends the body to out and sets *content_type (static string).
 * format is the request's "format" query argument (e.g. "json"), or NULL. Called from
 * the server's thread; must be thread-safe. Returns 0 or -errno (500). */
typedef int (*http_page_fn)(void *ctx, const char *format, struct buf *out,
			    const char **content_type);

/*
 * Starts serving on listen ("host:port", ":port", "[v6]:port"; port 0 picks a free
 * one). metrics may be NULL (then /metrics is empty). Returns 0, -EINVAL for a
 * malformed address, or -errno from bind (logged with the address). The caller owns
 * *out.
 */
int http_server_start(const char *listen, struct metrics_registry *metrics,
		      struct http_server **out);

/* The TCP port actually bound. */
int http_server_port(const struct http_server *s);

/* Registers a page at path (e.g. "/targets") before or after start. Returns 0 or -errno. */
int http_server_add_page(struct http_server *s, const char *path, http_page_fn fn, void *ctx);

/* Sets what /readyz answers (200 when ready, 503 before). Thread-safe. */
void http_server_set_ready(struct http_server *s, int ready);

/* Stops the server and frees it. */
void http_server_stop(struct http_server *s);

/* Validates a listen address without binding. Returns 0 or -EINVAL. */
int http_listen_parse(const char *listen, char *host, size_t hostlen, int *port);

#endif
