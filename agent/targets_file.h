/*
 * Static scrape targets, without Kubernetes: a --target URL, and the targets file in
 * Prometheus file_sd JSON form,
 *   [{"targets": ["10.0.0.5:6060"], "labels": {"service_name": "api", "__scheme__": "https"}}]
 * A file is checked whole before any of it is applied, so that a bad group never
 * leaves half of a file in place. The parsing lives apart from the cluster command so
 * that hostile files can be tested and fuzzed alone. Private to agent/.
 */
#ifndef PODPROF_TARGETS_FILE_H
#define PODPROF_TARGETS_FILE_H

#include <stddef.h>

#include "scraper.h"

/* Bounds: bytes of a targets file, targets it may name (for this agent's shard). */
#define TARGETS_FILE_MAX (4u << 20)
#define TARGETS_FILE_MAX_TARGETS 10000

/*
 * Builds the pprof base URL ("<scheme>://<host>:<port><path>[?query]", the path
 * /debug/pprof when url has none) and "host:port" of url, an http(s) URL. Returns 0,
 * -EINVAL (not an http or https URL, or too long for the buffers) or -ENOMEM.
 * Thread-safe.
 */
int targets_url_parse(const char *url, char *base, size_t baselen, char *hostport,
		      size_t hplen);

/* What a file's targets are handed to. */
struct targets_file_ops {
	/* Whether the target of pprof base URL base is this agent's (its shard's); NULL:
	 * every target is. Called during the check of the whole file and again when
	 * targets are added. */
	int (*wanted)(void *ctx, const char *base);
	/* Adds one target (t and its strings are valid during the call only; t->id is its
	 * base URL). Returns 0, or a negative errno: the target is then not counted. */
	int (*add)(void *ctx, const struct scrape_target *t);
	void *ctx;
};

/*
 * Parses the content of a targets file (len bytes, not necessarily NUL-terminated)
 * and, only when every group is valid, calls ops->add for each wanted target in file
 * order. Returns the number of targets added, -EINVAL when the file is not a JSON array
 * of groups whose "targets" are "host:port" strings and whose labels are strings (then
 * nothing was added), -E2BIG when it names more than TARGETS_FILE_MAX_TARGETS wanted
 * targets (nothing added), or -ENOMEM. Thread-safe when ops is.
 */
int targets_file_parse(const char *data, size_t len, const struct targets_file_ops *ops);

#endif
