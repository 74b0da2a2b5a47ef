/*
 * Service names: "/k8s/<namespace>/<workload>", the workload found from owner
 * references first (they are authoritative) and from the pod's name only when there
 * are none, with Coroot's pod-name rules. The result is never empty.
 *
 *  - ReplicaSet: its own owner (a Deployment, or e.g. an Argo Rollout) when the
 *    ReplicaSet is known; otherwise the pod-template-hash rule: a ReplicaSet named
 *    "<deployment>-<pod-template-hash label value>" belongs to that Deployment.
 *  - DaemonSet, StatefulSet, any other controller: the owner's name.
 *  - Job: a CronJob's Job is named "<cronjob>-<scheduled time in minutes>" (8 digits or
 *    more): the CronJob; other Jobs as they are.
 *  - Node (a static pod's mirror, named "<name>-<node>"): the name without the node.
 *  - no owner: Coroot's pod-name rules (see k8s_workload_by_pod_name()).
 */
#ifndef PODPROF_K8S_NAMING_H
#define PODPROF_K8S_NAMING_H

#include <stddef.h>

#include "model.h"

/* Writes the workload of pod into out (NUL-terminated, truncated to outlen). rs is the
 * ReplicaSet that owns the pod when it is known, else NULL. Thread-safe. */
void k8s_workload_name(const struct k8s_pod *pod, const struct k8s_replicaset *rs, char *out,
		       size_t outlen);


/* The CronJob of a Job named "<cronjob>-<8+ digits>", else the Job's name. */
void k8s_workload_by_job_name(const char *job, char *out, size_t outlen);

#endif
