/*
 * k8s/: Kubernetes discovery for the cluster role, its public header.
 *
 * Three things live behind this header:
 *  - k8s_config: where the API server is and how to authenticate, from a kubeconfig or
 *    from the pod's service account (in-cluster). Credentials that expire (a rotated
 *    service-account token, a token file, an exec credential plugin) are refreshed by
 *    the config itself, so every request carries a current one.
 *  - k8s_discovery: one reflector thread per watched resource (pods, and optionally
 *    apps/v1 replicasets for workload names) that lists, then watches, and always
 *    converges to the server's state: through 410 Gone, dropped connections, server
 *    restarts, token rotation and misbehaving servers (bounded memory throughout).
 *  - k8s_target: what the cluster role scrapes, derived from the pods' annotations
 *    (coroot.com/profile-scrape, coroot.com/profile-port, ...; see README.md). A target
 *    is immutable and reference-counted; subscribers receive add/update/remove events.
 *
 * Nothing outside k8s/ ever sees JSON or YAML.
 */
#ifndef PODPROF_K8S_H
#define PODPROF_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* ---- connection configuration ---------------------------------------------------- */

struct k8s_config;

/* Where the configuration comes from; every field may be NULL. */
struct k8s_config_source {
	/* --kubeconfig or $KUBECONFIG; a colon-separated list uses its first entry */
	const char *kubeconfig;
	const char *service_host; /* $KUBERNETES_SERVICE_HOST: in-cluster when set */
	const char *service_port; /* $KUBERNETES_SERVICE_PORT (default 443) */
	/* in-cluster token and CA; NULL: /var/run/secrets/kubernetes.io/serviceaccount */
	const char *serviceaccount_dir;
	const char *home; /* $HOME, for ~/.kube/config */
	/* environment of exec credential plugins (NULL: the process's) */
	char *const *envp;
};

/*
 * Loads the configuration, in kubectl's order: an explicit kubeconfig, else in-cluster
 * when service_host is set, else ~/.kube/config. Every file it names (CA, client
 * certificate and key, token file) is read now, so a bad one fails here. On error
 * returns a negative errno and writes one line into err naming the file and the field,
 * e.g. "kubeconfig /x: context 'foo' (current-context) not found". The caller owns
 * *out (k8s_config_free). Secrets are never written into err or the log.
 */
int k8s_config_load(const struct k8s_config_source *src, struct k8s_config **out, char *err,
		    size_t errlen);

/* Frees the config (wiping secrets). NULL is ignored. */
void k8s_config_free(struct k8s_config *c);

/* The API server's base URL ("https://10.96.0.1:443"), owned by the config. */
const char *k8s_config_server(const struct k8s_config *c);

/* A description for logs: "kubeconfig /root/.kube/config (context kind)" or
 * "in-cluster (service account)". Owned by the config. */
const char *k8s_config_origin(const struct k8s_config *c);

/* ---- targets --------------------------------------------------------------------- */

enum k8s_profile_type {
	K8S_PROFILE_CPU = 1u << 0,
	K8S_PROFILE_HEAP = 1u << 1,
	K8S_PROFILE_BLOCK = 1u << 2,
	K8S_PROFILE_MUTEX = 1u << 3,
	K8S_PROFILE_GOROUTINE = 1u << 4,
	K8S_PROFILE_ALL = (1u << 5) - 1,
};

/* How the scraper authenticates to a target (coroot.com/profile-auth). */
enum k8s_target_auth {
	K8S_AUTH_NONE = 0,
	K8S_AUTH_BEARER, /* "bearer": the scraper's bearer token */
	K8S_AUTH_BASIC,  /* "basic": the scraper's user and password */
};

/*
 * One pprof endpoint to scrape: one per annotated running pod with an IP (one (pod IP,
 * port) whatever the number of containers). Immutable; every string lives as long as
 * the target. Labels: namespace, pod, node, container (NULL when the port belongs to
 * no single container).
 */
struct k8s_target {
	const char *id;           /* "<namespace>/<pod>:<port>", stable while the pod lives */
	const char *url;          /* "<scheme>://<address><path>" */
	const char *scheme;       /* "http" or "https" */
	const char *address;      /* "10.1.2.3:6060" or "[fd00::3]:6060" */
	const char *path;         /* "/debug/pprof" (no trailing slash) */
	const char *service_name; /* "/k8s/<namespace>/<workload>" */
	const char *namespace;
	const char *pod;
	const char *node;         /* "" when not scheduled yet (never for a running pod) */
	const char *container;    /* or NULL */
	const char *pod_uid;
	unsigned types;           /* enum k8s_profile_type bits */
	int cpu_seconds;          /* 0: the scraper's default */
	enum k8s_target_auth auth;
	uint16_t port;
};

/* Takes a reference on t (returns t). Thread-safe. */
const struct k8s_target *k8s_target_ref(const struct k8s_target *t);
/* Drops a reference; the last one frees the target. NULL is ignored. Thread-safe. */
void k8s_target_unref(const struct k8s_target *t);
/* Writes the types as a comma list ("cpu,heap") into out. Returns out. */
char *k8s_profile_types_format(unsigned types, char *out, size_t len);
/* Writes "namespace=<ns> pod=<pod> node=<node>[ container=<c>]" into out. Returns out. */
char *k8s_target_labels_format(const struct k8s_target *t, char *out, size_t len);
/* Non-zero when a and b differ in anything a scraper uses (everything but the refcount). */
int k8s_target_differs(const struct k8s_target *a, const struct k8s_target *b);

/*
 * Coroot's rules on a bare pod name: "<name>-<hash>-<5>" (Deployment),
 * "<name>-<8+ digits>-<5>" (CronJob), "<name>-<digits>" (StatefulSet), "<name>-<5>"
 * (DaemonSet, Job), else the name itself. <5> is five characters of Kubernetes'
 * generated-name alphabet, <hash> 6 to 10 of it or of hex digits. Used where no owner
 * references are known (the node role names containers from their log links).
 */
void k8s_workload_by_pod_name(const char *pod, char *out, size_t outlen);

/* ---- discovery ------------------------------------------------------------------- */

enum k8s_target_event { K8S_TARGET_ADDED, K8S_TARGET_UPDATED, K8S_TARGET_REMOVED };

/*
 * A subscriber. Called from a reflector thread, one call at a time and in order, with
 * no discovery lock held but the delivery lock: it may call k8s_discovery_snapshot()
 * (which then shows the state after the batch being delivered) and must return
 * quickly. It must not wait for a lock that another thread holds while calling into
 * discovery (the delivery lock would then be taken in the other order). t is valid
 * during the call; k8s_target_ref() keeps it. For UPDATED, t is the new version of a
 * target with the same id; a pod replaced under the same name is REMOVED then ADDED.
 */
typedef void (*k8s_target_fn)(void *ctx, enum k8s_target_event ev, const struct k8s_target *t);

enum k8s_streaming_list {
	/* watch-list (initial events + bookmark) where /version says 1.32 or later and the
	 * server does not refuse it; paginated lists elsewhere and after any failure */
	K8S_STREAMING_AUTO = 0,
	K8S_STREAMING_OFF,      /* always paginated list, then watch */
};

struct k8s_discovery_config {
	const struct k8s_config *conn; /* required; must outlive the discovery */
	const char *namespace;         /* NULL or "": every namespace */
	const char *field_selector;    /* e.g. "status.phase=Running", or NULL */
	const char *label_selector;    /* e.g. "app=api,tier!=cache", or NULL */
	const char *node_name;         /* node mode: adds spec.nodeName=<node> */
	bool watch_replicasets;        /* learn ReplicaSet -> Deployment from apps/v1 */
	enum k8s_streaming_list streaming_list;
	size_t max_pods;               /* 0: 100000 */
	size_t max_event_bytes;        /* one watch event, decompressed; 0: 16 MiB */
	size_t max_list_bytes;         /* one list page, decompressed; 0: 64 MiB */
	int64_t backoff_min_ns;        /* 0: 800 ms */
	int64_t backoff_max_ns;        /* 0: 30 s */
	int64_t backoff_reset_ns;      /* healthy time that resets the backoff; 0: 2 min */
	int64_t request_timeout_ns;    /* connect + list requests; 0: 60 s */
	/* watch timeoutSeconds is random in [min, max]; 0: 300 and 600 */
	int watch_timeout_min_s, watch_timeout_max_s;
	/* streaming list: give up on it (for good) after this long without data and
	 * without the initial-events-end bookmark; 0: 5 s */
	int64_t initial_events_idle_ns;
	struct metrics_registry *metrics; /* may be NULL */
	k8s_target_fn on_target;          /* may be NULL */
	void *on_target_ctx;
};

struct k8s_discovery;

/*
 * Validates cfg and starts the reflector threads. Returns 0, -EINVAL after logging what
 * is wrong (a namespace that is not a DNS label, ...), or another negative errno. The
 * caller owns *out and stops it with k8s_discovery_free().
 */
int k8s_discovery_start(const struct k8s_discovery_config *cfg, struct k8s_discovery **out);

/* Stops the threads (interrupting transfers), frees everything. NULL is ignored. No
 * callback runs once it returns. Not to be called from a callback. */
void k8s_discovery_free(struct k8s_discovery *d);

/* True once the first list of pods (and of ReplicaSets, when watched and allowed) is
 * complete. Thread-safe. */
bool k8s_discovery_ready(struct k8s_discovery *d);

/* Waits up to timeout_ns for readiness. Returns 0 or -ETIMEDOUT. Thread-safe. */
int k8s_discovery_wait_ready(struct k8s_discovery *d, int64_t timeout_ns);

/* A consistent copy of the current targets: every ADDED/UPDATED delivered so far and
 * no target whose REMOVED was delivered. Sorted by id. */
struct k8s_target_set {
	const struct k8s_target **targets; /* n references, owned by the set */
	size_t n;
};

/* Fills *out (free it with k8s_target_set_free). Returns 0 or -ENOMEM. Thread-safe. */
int k8s_discovery_snapshot(struct k8s_discovery *d, struct k8s_target_set *out);
void k8s_target_set_free(struct k8s_target_set *s);

struct k8s_discovery_stats {
	size_t pods;         /* pods in the model */
	size_t replicasets;  /* ReplicaSets in the model */
	size_t targets;
	size_t model_bytes;  /* memory of the model, allocator overhead included */
	uint64_t events;     /* watch events processed (all resources) */
	uint64_t lists;      /* complete lists (all resources), streaming or paginated */
	uint64_t relists;    /* lists after the first (410, restarts) */
	uint64_t watch_restarts;
	uint64_t errors;
	bool streaming;      /* the pods reflector uses the streaming list */
};

/* Copies the current figures. Thread-safe. */
void k8s_discovery_get_stats(struct k8s_discovery *d, struct k8s_discovery_stats *out);

#endif
