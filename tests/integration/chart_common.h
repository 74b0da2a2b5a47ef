/*
 * Helpers of the Helm chart tests (chart.c, chart_e2e.c, chart_coroot.c): rendering
 * charts/podprof with tests/tools/helm_render, finding objects and containers in the
 * rendered manifests, and turning a rendered container into the process the kubelet
 * would start (command, arguments, environment), plus the fake peers (fake Coroot
 * receiver, fake API server) the end-to-end tests run podprof against.
 */
#ifndef PODPROF_CHART_COMMON_H
#define PODPROF_CHART_COMMON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

#include "common.h"

#define CHART_PYTHON "/usr/bin/python3"
#define CHART_KUBECTL "/usr/bin/kubectl"

char *chart_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* charts/podprof, tests/integration/chart-values, and the OpenAPI document
 * ($PODPROF_K8S_SWAGGER or /work/shared/k8s/swagger-v1.34.json). Static strings. */
const char *chart_dir(void);
const char *chart_values_dir(void);
const char *chart_swagger(void);

/* The renderer built by the chart_renderer fixture, or NULL (with why) when missing. */
const char *chart_renderer(char *why, size_t whylen);

/* One rendering: the YAML stream as `helm template` prints it, the same documents as
 * a cJSON array, and NOTES.txt. */
struct chart_render {
	char *yaml;
	cJSON *docs;
	char *notes;
	char *err; /* stderr of a failed rendering */
};

/*
 * Renders the chart with extra renderer arguments (NULL-terminated, e.g. "-f", path,
 * "--set", "a=b"). Returns 0 and fills out, or the renderer's exit status (>0, out->err
 * says why) or a negative errno. chart_render_free() in every case.
 */
int chart_render(const char *const *args, struct chart_render *out);
void chart_render_free(struct chart_render *r);

/* The first document of kind (and with the name when name is non-NULL), or NULL. */
cJSON *chart_find(cJSON *docs, const char *kind, const char *name);
/* Number of documents of kind. */
int chart_count(cJSON *docs, const char *kind);
/* spec.template.spec of a workload, and one of its containers by name (NULL: none). */
cJSON *chart_pod_spec(cJSON *workload);
cJSON *chart_container(cJSON *workload, const char *name);
/* The env entry named name of a container, or NULL. */
cJSON *chart_env(cJSON *container, const char *name);
/* A string at a dotted path below obj ("spec.template.spec.hostPID"), or NULL. */
cJSON *chart_get(cJSON *obj, const char *path);

/* What the kubelet would give a rendered container, for running podprof on this host. */
struct chart_pod {
	const char *namespace;   /* metadata.namespace */
	const char *pod_name;    /* metadata.name, HOSTNAME */
	const char *node_name;   /* spec.nodeName */
	const char *pod_ip;      /* status.podIP */
	cJSON *docs;             /* the rendering: the chart's own Secrets are read from it */
	/* Secrets and ConfigMaps that exist besides the chart's: "name/key=value" lines */
	const char *const *objects;
	/* every volumeMount's mountPath is mapped to <root>/<volume name>, which is created;
	 * a value that starts with a mountPath is rewritten (the file system the pod would
	 * see), and so is the in-cluster service account directory */
	const char *root;
	/* KUBERNETES_SERVICE_HOST / _PORT, as the kubelet sets them (NULL: not set) */
	const char *service_host, *service_port;
	/* extra "NAME=value" entries appended last (test plumbing: listen ports, the
	 * service account directory); NULL-terminated, may be NULL */
	const char *const *extra_env;
};

/*
 * The argv (command + args, /usr/bin/podprof replaced by the binary under test) and the
 * environment ("NAME=value", in the container's order with $(VAR) references expanded,
 * as the kubelet does) of a rendered container. Both NULL-terminated, caller frees with
 * chart_strv_free(). Returns 0, or -EINVAL with why filled (an unresolvable reference).
 */
int chart_process(cJSON *container, const struct chart_pod *pod, char ***argv, char ***envp,
		  char *why, size_t whylen);
void chart_strv_free(char **v);
/* The value of NAME in an envp (the last entry), or NULL. */
const char *chart_envp_get(char **envp, const char *name);

/* ---- peers ---------------------------------------------------------------------- */

struct chart_peer {
	pid_t pid;
	int port;
	char *log;
	char *dir;
};

/* Starts tests/tools/fake_coroot.py recording into dir/record (extra args appended,
 * NULL-terminated). Returns 0 or -1. */
int chart_start_coroot(struct chart_peer *p, const char *dir, const char *const *extra);
/* Starts tests/tools/fake_kube.py (extra args appended). Returns 0 or -1. */
int chart_start_kube(struct chart_peer *p, const char *dir, const char *const *extra);
void chart_stop_peer(struct chart_peer *p);
/* POSTs body (JSON) to url, verifying https with cafile (NULL: the system's). Returns
 * the HTTP status or < 0. */
int chart_http_post(const char *url, const char *cafile, const char *body);

/* The requests fake_coroot recorded (requests.jsonl) as a cJSON array (caller frees). */
cJSON *chart_coroot_requests(const struct chart_peer *p);
/*
 * Waits up to timeout_ms for a recorded upload whose service.name contains service (NULL:
 * any) and whose sample types (from the profile file, via `go tool pprof -raw`) include
 * type (NULL: any). Returns the matching request (a copy, caller frees) or NULL.
 */
cJSON *chart_wait_upload(const struct chart_peer *p, const char *service, const char *type,
			 int timeout_ms);

/* Does the profile of a recorded request hold a sample type named type? */
int chart_upload_has_type(const struct chart_peer *p, cJSON *req, const char *type);

/* A whole file (NUL-terminated) or NULL. */
char *chart_slurp(const char *path);

#endif
