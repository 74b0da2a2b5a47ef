/*
 * The HTTP server's bounds, exposed for tests that need small limits (a one-second
 * idle timeout, a handful of connections) to check them quickly. The agent itself
 * uses http_server_start(), i.e. HTTP_LIMITS_DEFAULT.
 */
#ifndef PODPROF_HTTPSERVER_INTERNAL_H
#define PODPROF_HTTPSERVER_INTERNAL_H

#include <stddef.h>

#include "httpserver.h"

struct http_limits {
	unsigned connections;     /* concurrent connections; more wait in the backlog */
	unsigned timeout_s;       /* idle seconds before a connection is closed */
	size_t connection_memory; /* per connection: request line + headers + buffers */
	unsigned per_ip;          /* connections of one client address (0: no limit);
				   * more are closed at once */
};

/*
 * One address cannot hold more than a fraction of the slots, so that idle or slow
 * clients from one place (a scanner, a broken scraper) never keep the kubelet's probes
 * and Prometheus out; the slots' memory is taken only as connections use it.
 */
#define HTTP_LIMITS_DEFAULT {256, 10, 32 * 1024, 32}

/* http_server_start() with explicit limits (each must be non-zero). */
int http_server_start_limits(const char *listen, struct metrics_registry *metrics,
			     const struct http_limits *limits, struct http_server **out);

#endif
