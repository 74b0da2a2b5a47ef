/*
 * The trimmed models of pods and ReplicaSets: what discovery keeps of each object.
 *
 * A pod's JSON is parsed with cJSON, the few fields podprof uses are copied into one
 * allocation, and the JSON is freed at once; managedFields, the spec beyond container
 * names and ports, conditions, statuses and every annotation podprof does not read are
 * never kept. Every kept string is bounded (names by Kubernetes' own 253 bytes,
 * annotation values by a configurable bound), so the memory of a pod does not depend
 * on the size of its JSON. A typical pod costs a few hundred bytes (k8s_pod_bytes()).
 */
#ifndef PODPROF_K8S_MODEL_H
#define PODPROF_K8S_MODEL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s.h"

/* Longest name, namespace, uid, node or owner name accepted (DNS subdomain). */
#define K8S_NAME_MAX 253
/* Defaults of struct k8s_model_limits. */
#define K8S_DEFAULT_MAX_ANNOTATION 1024
#define K8S_DEFAULT_MAX_CONTAINERS 64
#define K8S_DEFAULT_MAX_PORTS 256

enum k8s_phase {
	K8S_PHASE_UNKNOWN,
	K8S_PHASE_PENDING,
	K8S_PHASE_RUNNING,
	K8S_PHASE_SUCCEEDED,
	K8S_PHASE_FAILED,
};

enum k8s_owner_kind {
	K8S_OWNER_NONE,
	K8S_OWNER_REPLICASET,
	K8S_OWNER_DAEMONSET,
	K8S_OWNER_STATEFULSET,
	K8S_OWNER_JOB,
	K8S_OWNER_NODE, /* a static pod's mirror */
	K8S_OWNER_DEPLOYMENT, /* only as a ReplicaSet's owner */
	K8S_OWNER_OTHER,
};

/* The annotations podprof reads, in the order of k8s_annotation_names. */
enum k8s_annotation {
	K8S_ANN_SCRAPE,      /* coroot.com/profile-scrape */
	K8S_ANN_PORT,        /* coroot.com/profile-port */
	K8S_ANN_PATH,        /* coroot.com/profile-path */
	K8S_ANN_SCHEME,      /* coroot.com/profile-scheme */
	K8S_ANN_TYPES,       /* coroot.com/profile-types */
	K8S_ANN_CPU_SECONDS, /* coroot.com/profile-cpu-seconds */
	K8S_ANN_PYRO_SCRAPE, /* pyroscope.io/scrape */
	K8S_ANN_PYRO_PORT,   /* pyroscope.io/port */
	K8S_ANN_AUTH,        /* coroot.com/profile-auth */
	K8S_ANN_COUNT
};
extern const char *const k8s_annotation_names[K8S_ANN_COUNT];

struct k8s_model_limits {
	size_t max_annotation; /* longest annotation value kept; 0: the default */
	size_t max_containers; /* containers kept per pod; 0: the default */
	size_t max_ports;      /* TCP container ports kept per pod; 0: the default */
};

struct k8s_container_port {
	const char *name; /* NULL when the port has no name */
	uint16_t number;
	uint16_t container; /* index into containers */
};

/* The store's hash-table link, the first member of the models so that a pointer to it
 * is a pointer to the object. */
struct k8s_hentry {
	struct k8s_hentry *next;
	uint64_t hash; /* k8s_object_key_hash(namespace, name) */
};

/* One pod, keyed by namespace and name (a new uid under the same name is a new pod
 * replacing the old one). The fields above "the model" are the store's bookkeeping. */
struct k8s_pod {
	struct k8s_hentry h;            /* first: the store's hash chain */
	struct list_node with_target;   /* the store's list of pods that have a target */
	const struct k8s_target *target;/* the current target, or NULL */
	uint32_t gen;                   /* list generation that last saw the pod */
	uint32_t warned;                /* hash of the last warning logged, 0 for none */
	/* the model */
	uint32_t size;                  /* bytes of this one allocation */
	uint16_t nports;
	uint16_t ann_too_long;          /* bit i: annotation i was longer than kept */
	uint8_t phase;                  /* enum k8s_phase */
	uint8_t owner_kind;             /* enum k8s_owner_kind */
	uint8_t ncontainers;
	const char *uid, *namespace, *name, *node;
	const char *ips[2];             /* status.podIPs (podIP first); NULL when absent */
	const char *owner_name;         /* the controller owner reference, or NULL */
	const char *template_hash;      /* label pod-template-hash, or NULL */
	const char *ann[K8S_ANN_COUNT]; /* values of the annotations podprof reads, or NULL */
	const char **containers;        /* names of spec.containers */
	struct k8s_container_port *ports;
};

/* One ReplicaSet: who owns it (a Deployment, usually). */
struct k8s_replicaset {
	struct k8s_hentry h; /* first: the store's hash chain */
	uint32_t gen;
	uint32_t size;
	uint8_t owner_kind; /* enum k8s_owner_kind */
	const char *namespace, *name;
	const char *owner_name; /* or NULL */
};

/*
 * Builds a pod from its JSON object (a list item or a watch event's object). Returns 0,
 * -EINVAL when obj is not a usable pod (metadata.uid, name or namespace missing, or a
 * name longer than Kubernetes allows), or -ENOMEM. The caller owns *out (free()); the
 * store bookkeeping fields are zero. Thread-safe.
 */
int k8s_pod_from_json(const cJSON *obj, const struct k8s_model_limits *lim,
		      struct k8s_pod **out);

/* The same for a ReplicaSet. */
int k8s_replicaset_from_json(const cJSON *obj, struct k8s_replicaset **out);

/* The uid of a pod's JSON object (for DELETED events), or NULL. */
const char *k8s_json_uid(const cJSON *obj);
/* metadata.namespace and metadata.name of an object, or NULL. */
const char *k8s_json_namespace(const cJSON *obj);
const char *k8s_json_name(const cJSON *obj);
/* metadata.resourceVersion, or NULL. */
const char *k8s_json_resource_version(const cJSON *obj);

/* Memory of one model object as the allocator sees it (usable size + its header). */
size_t k8s_pod_bytes(const struct k8s_pod *p);
size_t k8s_replicaset_bytes(const struct k8s_replicaset *rs);
/* Memory of any heap block in the same accounting, 0 for NULL. */
size_t k8s_alloc_bytes(const void *p);

/* The hash that keys ReplicaSets (and looks a pod's owner up). */
uint64_t k8s_object_key_hash(const char *namespace, const char *name);

const char *k8s_phase_name(enum k8s_phase phase);

#endif
