/*
 * The trimmed pod and ReplicaSet models (see model.h).
 *
 * Building a pod is two passes: the first collects pointers into the cJSON tree and
 * the lengths of what will be kept (a "draft" on the stack), the second allocates the
 * exact size once and copies. One allocation per pod keeps the allocator's overhead
 * (and fragmentation over millions of watch events) small.
 */
#define LOG_MODULE "k8s"
#include "model.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

const char *const k8s_annotation_names[K8S_ANN_COUNT] = {
	"coroot.com/profile-scrape", "coroot.com/profile-port",
	"coroot.com/profile-path",   "coroot.com/profile-scheme",
	"coroot.com/profile-types",  "coroot.com/profile-cpu-seconds",
	"pyroscope.io/scrape",       "pyroscope.io/port",
	"coroot.com/profile-auth",
};

/* Longest IP address text (IPv6 with a zone is still far below). */
#define IP_MAX 64
/* Longest container or port name Kubernetes allows (DNS label / IANA service name). */
#define LABEL_MAX 63

struct draft_port {
	const char *name;
	uint16_t number, container;
};

struct draft {
	const char *uid, *namespace, *name, *node, *ips[2], *owner_name, *template_hash;
	const char *ann[K8S_ANN_COUNT];
	uint16_t ann_too_long;
	uint8_t phase, owner_kind;
	size_t ncontainers, nports;
	const char *containers[K8S_DEFAULT_MAX_CONTAINERS];
	struct draft_port ports[K8S_DEFAULT_MAX_PORTS];
	size_t strings; /* bytes of all kept strings, NULs included */
};

static const char *str_field(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

const char *k8s_json_uid(const cJSON *obj)
{
	return str_field(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid");
}

const char *k8s_json_namespace(const cJSON *obj)
{
	return str_field(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "namespace");
}

const char *k8s_json_name(const cJSON *obj)
{
	return str_field(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");
}

const char *k8s_json_resource_version(const cJSON *obj)
{
	return str_field(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
}

/* Accounts for s (NULL allowed) in d->strings. Returns 0 or -EINVAL when longer than max. */
static int keep(struct draft *d, const char *s, size_t max)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n > max)
		return -EINVAL;
	d->strings += n + 1;
	return 0;
}

static enum k8s_owner_kind owner_kind(const char *kind)
{
	static const struct {
		const char *name;
		enum k8s_owner_kind kind;
	} kinds[] = {
		{"ReplicaSet", K8S_OWNER_REPLICASET},   {"DaemonSet", K8S_OWNER_DAEMONSET},
		{"StatefulSet", K8S_OWNER_STATEFULSET}, {"Job", K8S_OWNER_JOB},
		{"Node", K8S_OWNER_NODE},               {"Deployment", K8S_OWNER_DEPLOYMENT},
	};

	for (size_t i = 0; kind && i < ARRAY_SIZE(kinds); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			return kinds[i].kind;
	return K8S_OWNER_OTHER;
}

/* The controller owner reference (controller: true), else the first one. */
static void find_owner(const cJSON *meta, const char **name, uint8_t *kind)
{
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences");
	const cJSON *ref, *chosen = NULL;

	cJSON_ArrayForEach(ref, refs) {
		if (!str_field(ref, "name"))
			continue;
		if (!chosen)
			chosen = ref;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller"))) {
			chosen = ref;
			break;
		}
	}
	*name = chosen ? str_field(chosen, "name") : NULL;
	*kind = chosen ? (uint8_t)owner_kind(str_field(chosen, "kind")) : K8S_OWNER_NONE;
}

static uint8_t parse_phase(const char *s)
{
	static const char *const names[] = {"Unknown", "Pending", "Running", "Succeeded",
					    "Failed"};
	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (uint8_t)i;
	return K8S_PHASE_UNKNOWN;
}

const char *k8s_phase_name(enum k8s_phase phase)
{
	static const char *const names[] = {"Unknown", "Pending", "Running", "Succeeded",
					    "Failed"};
	return (unsigned)phase < ARRAY_SIZE(names) ? names[phase] : "Unknown";
}

static void draft_containers(struct draft *d, const cJSON *spec, const struct k8s_model_limits *lim)
{
	size_t max_c = lim->max_containers, max_p = lim->max_ports;
	const cJSON *c;

	if (!max_c || max_c > K8S_DEFAULT_MAX_CONTAINERS)
		max_c = K8S_DEFAULT_MAX_CONTAINERS;
	if (!max_p || max_p > K8S_DEFAULT_MAX_PORTS)
		max_p = K8S_DEFAULT_MAX_PORTS;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers")) {
		const char *cname = str_field(c, "name");
		const cJSON *p;

		if (!cname || strlen(cname) > LABEL_MAX)
			continue;
		if (d->ncontainers == max_c)
			break;
		d->containers[d->ncontainers] = cname;
		d->strings += strlen(cname) + 1;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
			const cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "containerPort");
			const char *proto = str_field(p, "protocol"), *pname = str_field(p, "name");

			if (d->nports == max_p)
				break;
			/* pprof is HTTP: UDP and SCTP ports can never be the endpoint */
			if (proto && strcmp(proto, "TCP") != 0)
				continue;
			if (!cJSON_IsNumber(num) || num->valuedouble < 1 ||
			    num->valuedouble > 65535)
				continue;
			if (pname && (!*pname || strlen(pname) > LABEL_MAX))
				pname = NULL;
			d->ports[d->nports].name = pname;
			d->ports[d->nports].number = (uint16_t)num->valuedouble;
			d->ports[d->nports].container = (uint16_t)d->ncontainers;
			d->nports++;
			if (pname)
				d->strings += strlen(pname) + 1;
		}
		d->ncontainers++;
	}
}

static int draft_pod(struct draft *d, const cJSON *obj, const struct k8s_model_limits *lim)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	const cJSON *ip;
	size_t max_ann = lim->max_annotation ? lim->max_annotation : K8S_DEFAULT_MAX_ANNOTATION;
	size_t nips = 0;

	d->uid = str_field(meta, "uid");
	d->namespace = str_field(meta, "namespace");
	d->name = str_field(meta, "name");
	if (!d->uid || !*d->uid || !d->namespace || !*d->namespace || !d->name || !*d->name)
		return -EINVAL;
	d->node = str_field(spec, "nodeName");
	d->template_hash = str_field(cJSON_GetObjectItemCaseSensitive(meta, "labels"),
				     "pod-template-hash");
	find_owner(meta, &d->owner_name, &d->owner_kind);
	d->phase = parse_phase(str_field(status, "phase"));
	d->ips[0] = str_field(status, "podIP");
	nips = d->ips[0] && *d->ips[0] ? 1 : 0;
	if (!nips)
		d->ips[0] = NULL;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(status, "podIPs")) {
		const char *s = str_field(ip, "ip");
		if (!s || !*s || (d->ips[0] && strcmp(s, d->ips[0]) == 0))
			continue;
		if (nips == 2)
			break;
		d->ips[nips++] = s;
	}
	if (keep(d, d->uid, K8S_NAME_MAX) || keep(d, d->namespace, K8S_NAME_MAX) ||
	    keep(d, d->name, K8S_NAME_MAX) || keep(d, d->node, K8S_NAME_MAX) ||
	    keep(d, d->owner_name, K8S_NAME_MAX) || keep(d, d->template_hash, LABEL_MAX) ||
	    keep(d, d->ips[0], IP_MAX) || keep(d, d->ips[1], IP_MAX))
		return -EINVAL;
	for (int i = 0; i < K8S_ANN_COUNT; i++) {
		d->ann[i] = str_field(anns, k8s_annotation_names[i]);
		if (d->ann[i] && keep(d, d->ann[i], max_ann)) {
			/* kept as "too long": target derivation names it in its warning */
			d->ann[i] = NULL;
			d->ann_too_long |= (uint16_t)(1u << i);
		}
	}
	draft_containers(d, spec, lim);
	return 0;
}

static const char *copy_str(char **cursor, const char *s)
{
	size_t n;
	char *out;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	out = *cursor;
	memcpy(out, s, n);
	*cursor += n;
	return out;
}

int k8s_pod_from_json(const cJSON *obj, const struct k8s_model_limits *lim,
		      struct k8s_pod **out)
{
	static const struct k8s_model_limits defaults;
	struct draft *d;
	struct k8s_pod *p;
	size_t size;
	char *cursor;
	int r;

	/* the draft is 7 KiB: on the heap, reflector threads may have small stacks */
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = draft_pod(d, obj, lim ? lim : &defaults);
	if (r)
		goto out;
	size = sizeof(*p) + d->ncontainers * sizeof(char *) +
	       d->nports * sizeof(struct k8s_container_port) + d->strings;
	r = -ENOMEM;
	p = calloc(1, size);
	if (!p)
		goto out;
	p->size = (uint32_t)size;
	p->phase = d->phase;
	p->owner_kind = d->owner_kind;
	p->ncontainers = (uint8_t)d->ncontainers;
	p->nports = (uint16_t)d->nports;
	p->ann_too_long = d->ann_too_long;
	p->containers = (const char **)(p + 1);
	p->ports = (struct k8s_container_port *)(p->containers + d->ncontainers);
	cursor = (char *)(p->ports + d->nports);
	p->uid = copy_str(&cursor, d->uid);
	p->namespace = copy_str(&cursor, d->namespace);
	p->name = copy_str(&cursor, d->name);
	p->node = copy_str(&cursor, d->node);
	p->ips[0] = copy_str(&cursor, d->ips[0]);
	p->ips[1] = copy_str(&cursor, d->ips[1]);
	p->owner_name = copy_str(&cursor, d->owner_name);
	p->template_hash = copy_str(&cursor, d->template_hash);
	for (int i = 0; i < K8S_ANN_COUNT; i++)
		p->ann[i] = copy_str(&cursor, d->ann[i]);
	for (size_t i = 0; i < d->ncontainers; i++)
		p->containers[i] = copy_str(&cursor, d->containers[i]);
	for (size_t i = 0; i < p->nports; i++) {
		p->ports[i].name = copy_str(&cursor, d->ports[i].name);
		p->ports[i].number = d->ports[i].number;
		p->ports[i].container = d->ports[i].container;
	}
	list_init(&p->with_target);
	p->h.hash = k8s_object_key_hash(p->namespace, p->name);
	*out = p;
	r = 0;
out:
	free(d);
	return r;
}

int k8s_replicaset_from_json(const cJSON *obj, struct k8s_replicaset **out)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *ns = str_field(meta, "namespace"), *name = str_field(meta, "name");
	const char *owner;
	uint8_t kind;
	struct k8s_replicaset *rs;
	size_t size;
	char *cursor;

	if (!ns || !*ns || !name || !*name || strlen(ns) > K8S_NAME_MAX ||
	    strlen(name) > K8S_NAME_MAX)
		return -EINVAL;
	find_owner(meta, &owner, &kind);
	if (owner && strlen(owner) > K8S_NAME_MAX)
		return -EINVAL;
	size = sizeof(*rs) + strlen(ns) + strlen(name) + 2 + (owner ? strlen(owner) + 1 : 0);
	rs = calloc(1, size);
	if (!rs)
		return -ENOMEM;
	cursor = (char *)(rs + 1);
	rs->size = (uint32_t)size;
	rs->owner_kind = kind;
	rs->namespace = copy_str(&cursor, ns);
	rs->name = copy_str(&cursor, name);
	rs->owner_name = copy_str(&cursor, owner);
	rs->h.hash = k8s_object_key_hash(ns, name);
	*out = rs;
	return 0;
}

uint64_t k8s_object_key_hash(const char *namespace, const char *name)
{
	/* the NUL separates the parts: ("ab","c") and ("a","bc") differ */
	return hash64(name, strlen(name), hash64(namespace, strlen(namespace) + 1, 0));
}

size_t k8s_alloc_bytes(const void *p)
{
	/* glibc's chunk header is one size_t in front of the usable area */
	return p ? malloc_usable_size((void *)p) + sizeof(size_t) : 0;
}

size_t k8s_pod_bytes(const struct k8s_pod *p)
{
	return k8s_alloc_bytes(p);
}

size_t k8s_replicaset_bytes(const struct k8s_replicaset *rs)
{
	return k8s_alloc_bytes(rs);
}
