/*
 * The world of the fault-injection tests: a fake Coroot receiver (a new record
 * directory per incarnation, so that a restart never overwrites what the last one
 * recorded), a fake Kubernetes API server that can be killed and started again on its
 * port (its pods posted again, as etcd would have kept them), Go pprof targets on
 * fixed ports behind annotated pods, churn processes (a heapgen variant) for the node role behind a
 * private /proc, and both podprof roles uploading with a spool.
 */
#ifndef PODPROF_TEST_FAULT_FIXTURE_H
#define PODPROF_TEST_FAULT_FIXTURE_H

#include <sys/types.h>

#include "fault_common.h"
#include "k8s_fake.h"
#include "uploader_fake.h"

#define FX_TARGETS 4 /* app-1 .. app-4; app-4 only after the pod changes */
#define FX_HEAPGENS 2

struct fixture {
	char *dir;
	char procroot[600];
	struct fake_coroot coroot;
	int coroot_runs;      /* incarnations: records in <dir>/rec1, rec2, ... */
	int coroot_kills;
	struct fake_kube kube;
	int target_port[FX_TARGETS];
	pid_t target[FX_TARGETS];
	int annotated[FX_TARGETS]; /* which pods exist in the API server */
	pid_t heapgen[FX_HEAPGENS];
	struct fc_role cluster, node;
};

/* Starts the peers (receiver, API server with app-1..3 annotated plus a pod that is
 * not annotated and one that is Pending, pprof targets, heapgens) and prepares the
 * roles' arguments (spool bound spool_max). Returns 0 or -errno (ENOENT: something
 * to run is missing; the test skips). */
int fx_setup(struct fixture *x, const char *tag, const char *spool_max);
/* Starts both roles, watched by the memory monitor (slot 0 cluster, 1 node); 0 or
 * -errno. */
int fx_start_roles(struct fixture *x);
/* Stops everything; with ok, removes the directory. */
void fx_teardown(struct fixture *x, int ok);

/* The receiver: start a new incarnation (new record directory), kill it. */
int fx_coroot_up(struct fixture *x);
void fx_coroot_kill(struct fixture *x);
/* Profiles accepted by every incarnation so far for api_key (NULL: all). */
int fx_received(struct fixture *x, const char *api_key, struct fc_bodies *b);
long fx_received_count(struct fixture *x, const char *api_key);

/* The API server: SIGKILL, then a new process on the same port with the pods posted
 * again. 0 or -errno. */
int fx_kube_kill_restart(struct fixture *x);
/* Posts (or deletes) the pod app-<i+1>. */
int fx_pod_post(struct fixture *x, int i);
int fx_pod_delete(struct fixture *x, int i);
/* Waits until the cluster role's /targets lists exactly the annotated Running pods
 * that the API server holds. 0, or -ETIMEDOUT with what differed on stderr. */
int fx_wait_converged(struct fixture *x, int timeout_ms);

/* The Go target app-<i+1>: SIGKILL, start again on its port. */
void fx_target_kill(struct fixture *x, int i);
int fx_target_start(struct fixture *x, int i);

#endif
