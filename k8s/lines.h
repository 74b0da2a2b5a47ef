/*
 * The watch stream's line splitter. A watch response is newline-delimited JSON; libcurl
 * hands it over in chunks that may cut an event anywhere and may carry many events. The
 * splitter calls back once per complete line in linear time: lines that lie whole in a
 * chunk are passed in place, only a line cut by a chunk boundary is copied, and that copy
 * is bounded: a line longer than max is an error (-E2BIG), never an allocation.
 */
#ifndef PODPROF_K8S_LINES_H
#define PODPROF_K8S_LINES_H

#include <stddef.h>

#include "common.h"

struct k8s_lines {
	struct buf partial; /* the start of a line cut by a chunk boundary */
	size_t max;         /* bound on one line, newline excluded */
};

/* Called for each non-empty line (no '\n'; a trailing '\r' removed; not NUL-terminated).
 * Returns 0 to go on or a negative errno to stop feeding. */
typedef int (*k8s_line_fn)(void *ctx, const char *line, size_t len);

void k8s_lines_init(struct k8s_lines *l, size_t max);
/* Forgets a partial line (a new response starts). */
void k8s_lines_reset(struct k8s_lines *l);
void k8s_lines_free(struct k8s_lines *l);

/*
 * Feeds a chunk. Returns 0, the callback's error, -E2BIG when a line exceeds max (the
 * splitter is then reset: the caller ends the stream), or -ENOMEM. Not thread-safe.
 */
int k8s_lines_feed(struct k8s_lines *l, const char *data, size_t len, k8s_line_fn fn,
		   void *ctx);

/* Bytes held for a partial line. */
size_t k8s_lines_pending(const struct k8s_lines *l);

#endif
