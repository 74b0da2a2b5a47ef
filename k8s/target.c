/*
 * Target derivation and the target object (see target.h and k8s.h).
 *
 * A target is one allocation: a reference count, the public struct and its strings.
 * It never changes once built, so a scraper may keep it (k8s_target_ref) while the
 * store replaces it with a newer version.
 */
#define LOG_MODULE "k8s"
#include "target.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct target_impl {
	_Atomic long refs;
	struct k8s_target pub;
	char data[];
};

static const char *const type_names[] = {"cpu", "heap", "block", "mutex", "goroutine"};

static struct target_impl *impl_of(const struct k8s_target *t)
{
	return (struct target_impl *)((char *)t - offsetof(struct target_impl, pub));
}

const struct k8s_target *k8s_target_ref(const struct k8s_target *t)
{
	if (t)
		atomic_fetch_add_explicit(&impl_of(t)->refs, 1, memory_order_relaxed);
	return t;
}

void k8s_target_unref(const struct k8s_target *t)
{
	struct target_impl *impl;

	if (!t)
		return;
	impl = impl_of(t);
	if (atomic_fetch_sub_explicit(&impl->refs, 1, memory_order_acq_rel) == 1)
		free(impl);
}

char *k8s_profile_types_format(unsigned types, char *out, size_t len)
{
	size_t n = 0;

	if (!len)
		return out;
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (types & (1u << i) && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "",
					      type_names[i]);
	return out;
}

char *k8s_target_labels_format(const struct k8s_target *t, char *out, size_t len)
{
	snprintf(out, len, "namespace=%s pod=%s node=%s%s%s", t->namespace, t->pod, t->node,
		 t->container ? " container=" : "", t->container ? t->container : "");
	return out;
}

static int str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

size_t k8s_target_bytes(const struct k8s_target *t)
{
	return t ? k8s_alloc_bytes(impl_of(t)) : 0;
}

int k8s_target_differs(const struct k8s_target *a, const struct k8s_target *b)
{
	return str_differs(a->id, b->id) || str_differs(a->url, b->url) ||
	       str_differs(a->service_name, b->service_name) ||
	       str_differs(a->node, b->node) || str_differs(a->container, b->container) ||
	       str_differs(a->pod_uid, b->pod_uid) || a->types != b->types ||
	       a->cpu_seconds != b->cpu_seconds || a->auth != b->auth;
}

int k8s_profile_types_parse(const char *s, unsigned *out, char *bad, size_t badlen)
{
	unsigned types = 0;
	const char *p = s;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p), i;

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		for (i = 0; i < ARRAY_SIZE(type_names); i++)
			if (strlen(type_names[i]) == n && strncasecmp(p, type_names[i], n) == 0)
				break;
		if (n && i == ARRAY_SIZE(type_names)) {
			snprintf(bad, badlen, "%.*s", (int)(n > 64 ? 64 : n), p);
			return -EINVAL;
		}
		if (n)
			types |= 1u << i;
		if (!end)
			break;
		p = end + 1;
	}
	if (!types) {
		snprintf(bad, badlen, "%s", "");
		return -EINVAL;
	}
	*out = types;
	return 0;
}

/* What the annotations say, validated. */
struct spec {
	uint16_t port;
	const char *container; /* the one container the port belongs to, or NULL */
	char scheme[8];
	char path[K8S_DEFAULT_MAX_ANNOTATION + 1];
	unsigned types;
	int cpu_seconds;
	enum k8s_target_auth auth;
};

#define INVALID(...) (snprintf(reason, reasonlen, __VA_ARGS__), -EINVAL)

static int parse_port(const struct k8s_pod *pod, const char *ann_name, const char *v,
		      struct spec *s, char *reason, size_t reasonlen)
{
	const char *owner = NULL;
	int owners = 0;

	if (*v && strspn(v, "0123456789") == strlen(v)) {
		unsigned long n = strlen(v) > 5 ? 0 : strtoul(v, NULL, 10);
		if (n < 1 || n > 65535)
			return INVALID("annotation %s: \"%.32s\" is not a port (1-65535)",
				       ann_name, v);
		s->port = (uint16_t)n;
		for (size_t i = 0; i < pod->nports; i++) {
			const char *c = pod->containers[pod->ports[i].container];
			if (pod->ports[i].number != n || (owner && strcmp(owner, c) == 0))
				continue;
			owner = c;
			owners++;
		}
		/* an undeclared port of a single-container pod can only be that container's */
		if (!owners && pod->ncontainers == 1)
			owner = pod->containers[0], owners = 1;
		s->container = owners == 1 ? owner : NULL;
		return 0;
	}
	for (size_t i = 0; i < pod->nports; i++) {
		if (pod->ports[i].name && strcmp(pod->ports[i].name, v) == 0) {
			s->port = pod->ports[i].number;
			s->container = pod->containers[pod->ports[i].container];
			return 0;
		}
	}
	return INVALID("annotation %s: \"%.64s\" is neither a port number nor the name of a "
		       "TCP port of a container",
		       ann_name, v);
}

static int parse_spec(const struct k8s_pod *pod, struct spec *s, char *reason, size_t reasonlen)
{
	int coroot = pod->ann[K8S_ANN_SCRAPE] && strcmp(pod->ann[K8S_ANN_SCRAPE], "true") == 0;
	int port_ann = coroot ? K8S_ANN_PORT : K8S_ANN_PYRO_PORT, wanted = port_ann;
	const char *v;
	char bad[80];
	int r;

	/* a value too long to keep is invalid whatever it says */
	for (int i = 0; i < K8S_ANN_COUNT; i++)
		if (pod->ann_too_long & (1u << i))
			return INVALID("annotation %s: value longer than the kept bound",
				       k8s_annotation_names[i]);
	if (!pod->ann[port_ann])
		port_ann = port_ann == K8S_ANN_PORT ? K8S_ANN_PYRO_PORT : K8S_ANN_PORT;
	v = pod->ann[port_ann];
	if (!v)
		return INVALID("annotation %s is missing", k8s_annotation_names[wanted]);
	r = parse_port(pod, k8s_annotation_names[port_ann], v, s, reason, reasonlen);
	if (r)
		return r;

	v = pod->ann[K8S_ANN_SCHEME];
	if (!v || strcasecmp(v, "http") == 0)
		strcpy(s->scheme, "http");
	else if (strcasecmp(v, "https") == 0)
		strcpy(s->scheme, "https");
	else
		return INVALID("annotation %s: \"%.32s\" is not http or https",
			       k8s_annotation_names[K8S_ANN_SCHEME], v);

	v = pod->ann[K8S_ANN_PATH] ? pod->ann[K8S_ANN_PATH] : K8S_DEFAULT_PATH;
	if (v[0] != '/')
		return INVALID("annotation %s: \"%.64s\" does not start with /",
			       k8s_annotation_names[K8S_ANN_PATH], v);
	for (const char *c = v; *c; c++)
		if (*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#' || *c == '\\' ||
		    (unsigned char)*c >= 0x80)
			return INVALID("annotation %s: \"%.64s\" is not a plain URL path",
				       k8s_annotation_names[K8S_ANN_PATH], v);
	snprintf(s->path, sizeof(s->path), "%s", v);
	/* the scraper appends "/profile", "/heap", ...: no trailing slash */
	for (size_t n = strlen(s->path); n > 0 && s->path[n - 1] == '/'; n--)
		s->path[n - 1] = '\0';

	s->types = K8S_PROFILE_ALL;
	v = pod->ann[K8S_ANN_TYPES];
	if (v && k8s_profile_types_parse(v, &s->types, bad, sizeof(bad)))
		return INVALID(bad[0] ? "annotation %s: unknown profile type \"%s\" (expected "
					"cpu, heap, block, mutex, goroutine)"
				      : "annotation %s: no profile type listed%s",
			       k8s_annotation_names[K8S_ANN_TYPES], bad);

	s->cpu_seconds = 0;
	v = pod->ann[K8S_ANN_CPU_SECONDS];
	if (v) {
		unsigned long n = 0;
		if (*v && strlen(v) <= 4 && strspn(v, "0123456789") == strlen(v))
			n = strtoul(v, NULL, 10);
		if (n < 1 || n > K8S_CPU_SECONDS_MAX)
			return INVALID("annotation %s: \"%.32s\" is not a number of seconds "
				       "between 1 and %d",
				       k8s_annotation_names[K8S_ANN_CPU_SECONDS], v,
				       K8S_CPU_SECONDS_MAX);
		s->cpu_seconds = (int)n;
	}

	v = pod->ann[K8S_ANN_AUTH];
	if (!v || strcasecmp(v, "none") == 0)
		s->auth = K8S_AUTH_NONE;
	else if (strcasecmp(v, "bearer") == 0)
		s->auth = K8S_AUTH_BEARER;
	else if (strcasecmp(v, "basic") == 0)
		s->auth = K8S_AUTH_BASIC;
	else
		return INVALID("annotation %s: \"%.32s\" is not none, bearer or basic",
			       k8s_annotation_names[K8S_ANN_AUTH], v);
	return 0;
}

/* Appends a copy of s to the target's data. */
static const char *put(char **cursor, const char *s)
{
	size_t n = strlen(s) + 1;
	char *out = *cursor;

	memcpy(out, s, n);
	*cursor += n;
	return out;
}

int k8s_target_from_pod(const struct k8s_pod *pod, const char *workload,
			const struct k8s_target **out, char *reason, size_t reasonlen)
{
	const char *ip = pod->ips[0];
	struct spec *s = NULL;
	struct target_impl *t;
	char id[K8S_NAME_MAX * 2 + 16], address[96], *cursor;
	const char *node = pod->node ? pod->node : "";
	size_t size, url_len;
	int r = 0;

	*out = NULL;
	if (reasonlen)
		reason[0] = '\0';
	if (!(pod->ann[K8S_ANN_SCRAPE] && strcmp(pod->ann[K8S_ANN_SCRAPE], "true") == 0) &&
	    !(pod->ann[K8S_ANN_PYRO_SCRAPE] && strcmp(pod->ann[K8S_ANN_PYRO_SCRAPE], "true") == 0))
		return 0;
	if (pod->phase != K8S_PHASE_RUNNING || !ip)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (parse_spec(pod, s, reason, reasonlen))
		goto out; /* not a target; reason says why */
	snprintf(id, sizeof(id), "%s/%s:%u", pod->namespace, pod->name, s->port);
	snprintf(address, sizeof(address), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, s->port);
	url_len = strlen(s->scheme) + 3 + strlen(address) + strlen(s->path) + 1;
	size = sizeof(*t) + strlen(id) + 1 + url_len + strlen(s->scheme) + 1 + strlen(address) +
	       1 + strlen(s->path) + 1 + strlen("/k8s///") + strlen(pod->namespace) +
	       strlen(workload) + 1 + strlen(pod->namespace) + 1 + strlen(pod->name) + 1 +
	       strlen(node) + 1 + (s->container ? strlen(s->container) + 1 : 0) +
	       strlen(pod->uid) + 1;
	t = calloc(1, size);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	atomic_init(&t->refs, 1);
	cursor = t->data;
	t->pub.id = put(&cursor, id);
	t->pub.url = cursor;
	cursor += snprintf(cursor, url_len, "%s://%s%s", s->scheme, address, s->path) + 1;
	t->pub.scheme = put(&cursor, s->scheme);
	t->pub.address = put(&cursor, address);
	t->pub.path = put(&cursor, s->path);
	t->pub.service_name = cursor;
	cursor += sprintf(cursor, "/k8s/%s/%s", pod->namespace, workload) + 1;
	t->pub.namespace = put(&cursor, pod->namespace);
	t->pub.pod = put(&cursor, pod->name);
	t->pub.node = put(&cursor, node);
	t->pub.container = s->container ? put(&cursor, s->container) : NULL;
	t->pub.pod_uid = put(&cursor, pod->uid);
	t->pub.types = s->types;
	t->pub.cpu_seconds = s->cpu_seconds;
	t->pub.auth = s->auth;
	t->pub.port = s->port;
	*out = &t->pub;
out:
	free(s);
	return r;
}
