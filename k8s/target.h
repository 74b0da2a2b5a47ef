/*
 * Targets from pods: which pod is scraped, where, and how (the annotation rules).
 *
 * A pod is a target when coroot.com/profile-scrape (or pyroscope.io/scrape) is "true",
 * it is Running and it has an IP. The port (coroot.com/profile-port, else
 * pyroscope.io/port) is a number or the name of a container port. Beyond Coroot:
 * coroot.com/profile-path, -scheme, -types, -cpu-seconds and -auth. An invalid value skips the
 * pod; the reason names the pod and the annotation, for a warning the store logs once
 * per change.
 */
#ifndef PODPROF_K8S_TARGET_H
#define PODPROF_K8S_TARGET_H

#include <stddef.h>

#include "model.h"

/* Limits of the annotation values. */
#define K8S_CPU_SECONDS_MAX 600
#define K8S_DEFAULT_PATH "/debug/pprof"

/*
 * Derives the target of pod, named "/k8s/<namespace>/<workload>". Returns 0 with *out a
 * new target (one reference, the caller's) or NULL when the pod is not a target; then
 * reason holds "" when the pod is simply not one (no annotation, not running, no IP)
 * or why its annotations are invalid. Returns -ENOMEM. Thread-safe.
 */
int k8s_target_from_pod(const struct k8s_pod *pod, const char *workload,
			const struct k8s_target **out, char *reason, size_t reasonlen);

/* Parses a coroot.com/profile-types value into enum k8s_profile_type bits. Returns 0,
 * or -EINVAL with the offending element copied into bad. */
int k8s_profile_types_parse(const char *s, unsigned *out, char *bad, size_t badlen);

/* Memory of a target in the model's accounting (see k8s_alloc_bytes()). */
size_t k8s_target_bytes(const struct k8s_target *t);

#endif
