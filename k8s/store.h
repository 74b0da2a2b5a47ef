/*
 * The store: the local copy of the watched pods and ReplicaSets, the current target of
 * every pod, and the delivery of target events to the subscriber.
 *
 * Reflectors apply objects to it (upsert, delete) and bracket every list with
 * begin/end: an object the list did not show was deleted meanwhile, so the end of a
 * list removes it ("replace" semantics, without holding two copies: each object
 * remembers the generation of the last list or event that showed it).
 *
 * Every change is computed under the state lock and delivered after it, under a
 * separate (recursive) delivery lock that is taken first, so events reach the
 * subscriber in order, one at a time, and a subscriber may take a snapshot.
 */
#ifndef PODPROF_K8S_STORE_H
#define PODPROF_K8S_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct k8s_store_config {
	size_t max_pods;             /* pods beyond are refused */
	k8s_target_fn on_target;     /* may be NULL */
	void *on_target_ctx;
	struct metric *pods_gauge;   /* may be NULL */
	struct metric *targets_gauge;
	struct metric *replicasets_gauge;
};

struct k8s_store;

/* Returns 0 or -ENOMEM; the caller owns *out. */
int k8s_store_new(const struct k8s_store_config *cfg, struct k8s_store **out);
/* Frees everything (no events are delivered). */
void k8s_store_free(struct k8s_store *s);

/* Starts a list of pods: objects upserted from now on belong to the new generation. */
void k8s_store_pods_begin(struct k8s_store *s);
/* Ends a complete list: pods the list did not show are deleted. Returns how many. */
size_t k8s_store_pods_end(struct k8s_store *s);

/*
 * Adds or replaces a pod (the store takes pod in every case) and updates its target.
 * Returns 0, or -E2BIG when the pod is new and max_pods pods are stored already (it is
 * then dropped), or -ENOMEM. Thread-safe.
 */
int k8s_store_pod_upsert(struct k8s_store *s, struct k8s_pod *pod);
/* Deletes a pod. uid, when not NULL, must match the stored pod's (an older
 * incarnation's deletion does not delete its successor). Returns 0 or -ENOENT. */
int k8s_store_pod_delete(struct k8s_store *s, const char *namespace, const char *name,
			 const char *uid);

/* The same for ReplicaSets. A ReplicaSet change renames the targets of its pods. */
void k8s_store_replicasets_begin(struct k8s_store *s);
size_t k8s_store_replicasets_end(struct k8s_store *s);
int k8s_store_replicaset_upsert(struct k8s_store *s, struct k8s_replicaset *rs);
int k8s_store_replicaset_delete(struct k8s_store *s, const char *namespace, const char *name);

/* See k8s_discovery_snapshot(). */
int k8s_store_snapshot(struct k8s_store *s, struct k8s_target_set *out);

struct k8s_store_stats {
	size_t pods, replicasets, targets, model_bytes;
};
void k8s_store_get_stats(struct k8s_store *s, struct k8s_store_stats *out);

#endif
