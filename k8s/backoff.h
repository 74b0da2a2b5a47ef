/*
 * Retry delays of the reflectors: client-go's defaults (800 ms doubling to 30 s) with
 * jitter (a delay drawn uniformly between half the current ceiling and the ceiling,
 * never below the minimum), so that many agents restarted together do not hit the API
 * server in step; the ceiling returns to its minimum after a healthy stretch (2 minutes
 * by default). The floor doubles with the ceiling, as client-go's does, so the load a
 * failing server gets has a bound whatever the draws: the k-th delay in a row is at
 * least max(min, min * 2^(k-1) / 2), and at least max / 2 once the ceiling is reached.
 * Not thread-safe: one per reflector.
 */
#ifndef PODPROF_K8S_BACKOFF_H
#define PODPROF_K8S_BACKOFF_H

#include <stdint.h>

struct k8s_backoff {
	int64_t min_ns, max_ns, reset_ns;
	int64_t ceiling_ns;    /* the current ceiling; 0 before the first failure */
	int64_t last_fail_ns;  /* monotonic time of the last failure */
	uint64_t rng;
};

void k8s_backoff_init(struct k8s_backoff *b, int64_t min_ns, int64_t max_ns, int64_t reset_ns);

/* Records a failure at now_ns and returns the delay before the next attempt. */
int64_t k8s_backoff_next(struct k8s_backoff *b, int64_t now_ns);

/* Records that things went well up to now_ns: after reset_ns without failure the
 * ceiling returns to its minimum. */
void k8s_backoff_healthy(struct k8s_backoff *b, int64_t now_ns);

/* A uniformly distributed random number in [lo, hi] from the backoff's generator. */
int64_t k8s_backoff_random(struct k8s_backoff *b, int64_t lo, int64_t hi);

#endif
