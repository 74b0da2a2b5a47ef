/*
 * The option table and its parser. See options.h for the contract.
 *
 * One row per setting. A setting that several commands share but that defaults
 * differently for one of them (the metrics listener is off for `upload`) is two rows
 * with disjoint command sets; everything else is looked up by flag for the command
 * being parsed, so a flag of another command is reported as unknown for this one.
 */
#define LOG_MODULE "config"
#include "options.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpserver.h"
#include "profiler.h"

enum opt_type {
	OT_STRING,
	OT_PATH,
	OT_BOOL,
	OT_DURATION,
	OT_SIZE,
	OT_URL,
	OT_LISTEN,
	OT_LEVEL,
	OT_LABEL, /* repeatable NAME=VALUE, into a struct config_list */
	OT_LIST,  /* repeatable non-empty value, into a struct config_list */
	OT_ENUM,  /* one of choices */
};

struct opt_def {
	const char *flag; /* long flag without the dashes */
	char short_flag;  /* -x alias, or 0 */
	const char *env;  /* environment variable, or NULL */
	enum opt_type type;
	const char *def; /* default as a user would write it, or NULL */
	int64_t min, max; /* bounds of durations (ns) and sizes (bytes) */
	unsigned commands;
	size_t offset; /* into struct podprof_config */
	const char *metavar;
	const char *help;
	const char *const *choices; /* OT_ENUM: NULL-terminated */
};

#define ROLES (CMD_NODE | CMD_CLUSTER)
#define UPLOADING (CMD_NODE | CMD_CLUSTER | CMD_UPLOAD)
#define OFF(field) offsetof(struct podprof_config, field)
#define SEC NS_PER_SEC
#define MIB (INT64_C(1) << 20)
#define NODE_SIDE (CMD_NODE | CMD_HEAP | CMD_PS)
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static const char *const heap_modes[] = {"disabled", "enabled", "force", NULL};
static const char *const streaming_modes[] = {"auto", "off", NULL};
#define K8S_CMDS (CMD_CLUSTER | CMD_TARGETS)

static const struct opt_def options[] = {
	{"listen", 0, "LISTEN", OT_LISTEN, "0.0.0.0:10301", 0, 0, ROLES, OFF(listen), "ADDR",
	 "serve /metrics, /healthz and /readyz on this address (empty: off)", NULL},
	{"listen", 0, "LISTEN", OT_LISTEN, "", 0, 0, CMD_UPLOAD, OFF(listen), "ADDR",
	 "serve /metrics, /healthz and /readyz on this address (empty: off)", NULL},
	{"log-level", 0, "PODPROF_LOG_LEVEL", OT_LEVEL, "info", 0, 0, ~0u, OFF(log_level), "LEVEL",
	 "error, warn, info or debug", NULL},
	{"once", 0, "PODPROF_ONCE", OT_BOOL, "false", 0, 0, ROLES, OFF(once), NULL,
	 "do one collection cycle, flush the uploader and exit", NULL},
	{"profiles-endpoint", 0, "PROFILES_ENDPOINT", OT_URL, NULL, 0, 0, UPLOADING,
	 OFF(profiles_endpoint), "URL",
	 "full URL that profiles are POSTed to (overrides --collector-endpoint)", NULL},
	{"collector-endpoint", 0, "COLLECTOR_ENDPOINT", OT_URL, NULL, 0, 0, UPLOADING,
	 OFF(collector_endpoint), "URL", "Coroot base URL; profiles go to <URL>/v1/profiles", NULL},
	{"coroot-url", 0, "COROOT_URL", OT_URL, NULL, 0, 0, UPLOADING, OFF(coroot_url), "URL",
	 "Coroot base URL (the cluster agent's name for --collector-endpoint)", NULL},
	{"api-key", 0, "API_KEY", OT_STRING, NULL, 0, 0, UPLOADING, OFF(api_key), "KEY",
	 "Coroot project API key, sent as X-Api-Key", NULL},
	{"ca-file", 0, "CA_FILE", OT_PATH, NULL, 0, 0, UPLOADING, OFF(ca_file), "FILE",
	 "CA bundle that verifies the Coroot endpoint's certificate", NULL},
	{"insecure-skip-verify", 0, "INSECURE_SKIP_VERIFY", OT_BOOL, "false", 0, 0, UPLOADING,
	 OFF(insecure_skip_verify), NULL, "do not verify the Coroot endpoint's TLS certificate", NULL},
	{"upload-timeout", 0, "PODPROF_UPLOAD_TIMEOUT", OT_DURATION, "10s", SEC / 10, 600 * SEC,
	 UPLOADING, OFF(upload_timeout_ns), "DUR", "timeout of one upload request", NULL},
	{"output-dir", 0, "PODPROF_OUTPUT_DIR", OT_PATH, NULL, 0, 0, UPLOADING, OFF(output_dir),
	 "DIR",
	 "also write every profile as a gzip pprof file under DIR (default ./profiles when no "
	 "endpoint is set)", NULL},
	{"spool-dir", 0, "PODPROF_SPOOL_DIR", OT_PATH, NULL, 0, 0, UPLOADING, OFF(spool_dir), "DIR",
	 "keep profiles that cannot be delivered yet in DIR, across restarts", NULL},
	{"spool-max-bytes", 0, "PODPROF_SPOOL_MAX_BYTES", OT_SIZE, "256MiB", 0, INT64_MAX,
	 UPLOADING, OFF(spool_max_bytes), "SIZE", "bound of the spool; the oldest go first", NULL},
	{"queue-max-bytes", 0, "PODPROF_QUEUE_MAX_BYTES", OT_SIZE, "8MiB", 64 * 1024, 4096 * MIB,
	 UPLOADING, OFF(queue_max_bytes), "SIZE", "bound of the in-memory upload queue", NULL},
	{"retry-backoff-min", 0, "PODPROF_RETRY_BACKOFF_MIN", OT_DURATION, "500ms", NS_PER_MS,
	 3600 * SEC, UPLOADING, OFF(retry_backoff_min_ns), "DUR", "first delay before a retry", NULL},
	{"retry-backoff-max", 0, "PODPROF_RETRY_BACKOFF_MAX", OT_DURATION, "5m", NS_PER_MS,
	 24 * 3600 * SEC, UPLOADING, OFF(retry_backoff_max_ns), "DUR",
	 "longest delay between retries", NULL},
	{"service-name", 0, NULL, OT_STRING, NULL, 0, 0, CMD_UPLOAD, OFF(service_name), "NAME",
	 "service.name the profiles are uploaded under (required)", NULL},
	{"kind", 0, NULL, OT_STRING, "profile", 0, 0, CMD_UPLOAD, OFF(kind), "KIND",
	 "profile kind used in output file names (heap, cpu, ...)", NULL},
	{"label", 0, NULL, OT_LABEL, NULL, 0, 0, CMD_UPLOAD, OFF(labels), "NAME=VALUE",
	 "add a label to every profile (repeatable)", NULL},
	{"flush-timeout", 0, NULL, OT_DURATION, "30s", 0, 24 * 3600 * SEC, CMD_UPLOAD,
	 OFF(flush_timeout_ns), "DUR", "how long to wait for delivery before exiting", NULL},
	{"interval", 0, "PODPROF_INTERVAL", OT_DURATION, "60s", SEC, 3600 * SEC, CMD_NODE,
	 OFF(interval_ns), "DUR", "how often the heap of every Go process is read", NULL},
	{"go-heap-profiler", 0, "GO_HEAP_PROFILER", OT_ENUM, "enabled", 0, 0, CMD_NODE | CMD_PS,
	 OFF(go_heap_profiler), "MODE",
	 "disabled, enabled (processes whose heap profiling is on) or force (also switch it "
	 "on where the Go linker turned it off)", heap_modes},
	{"proc-root", 0, "PODPROF_PROC_ROOT", OT_PATH, "/proc", 0, 0, NODE_SIDE, OFF(proc_root),
	 "DIR", "where the processes are listed (the host's /proc with hostPID)", NULL},
	{"cgroupfs-root", 0, "CGROUPFS_ROOT", OT_PATH, "/sys/fs/cgroup", 0, 0, CMD_NODE,
	 OFF(cgroupfs_root), "DIR",
	 "accepted for compatibility with Coroot's node agent; containers are named from "
	 "/proc/<pid>/cgroup", NULL},
	{"container-log-dir", 0, "PODPROF_CONTAINER_LOG_DIR", OT_PATH, "/var/log/containers", 0, 0,
	 CMD_NODE, OFF(container_log_dir), "DIR",
	 "the kubelet's container log links, used to name Kubernetes containers "
	 "/k8s/<namespace>/<pod>/<container>", NULL},
	{"heap-max-buckets", 0, "PODPROF_HEAP_MAX_BUCKETS", OT_SIZE,
	 STRINGIFY(GOHEAP_DEFAULT_MAX_BUCKETS), 1, 100000000, NODE_SIDE, OFF(heap_max_buckets), "N",
	 "heap buckets (allocation call paths) read from one process at most; past them the "
	 "newest are read and the profile is marked partial", NULL},
	{"node-name", 0, "NODE_NAME", OT_STRING, NULL, 0, 0, CMD_NODE, OFF(node_name), "NAME",
	 "host.name label of the profiles (default: the host name)", NULL},
	{"output", 'o', NULL, OT_STRING, NULL, 0, 0, CMD_HEAP, OFF(output), "FILE",
	 "write the profile to FILE (- for stdout; default heap-<PID>.pb.gz)", NULL},
	{"force", 0, NULL, OT_BOOL, "false", 0, 0, CMD_HEAP, OFF(force), NULL,
	 "switch heap sampling on first if the process has it off", NULL},
	{"scrape-interval", 0, "PROFILES_SCRAPE_INTERVAL", OT_DURATION, "60s", 0, 3600 * SEC,
	 CMD_CLUSTER, OFF(scrape_interval_ns), "DUR",
	 "how often every target is scraped (0: scraping off)", NULL},
	{"scrape-timeout", 0, "PROFILES_SCRAPE_TIMEOUT", OT_DURATION, "10s", SEC / 10, 600 * SEC,
	 CMD_CLUSTER, OFF(scrape_timeout_ns), "DUR",
	 "timeout of one scrape; a CPU scrape gets its seconds on top", NULL},
	{"scrape-cpu-duration", 0, "PODPROF_SCRAPE_CPU_DURATION", OT_DURATION, NULL, SEC,
	 600 * SEC, CMD_CLUSTER, OFF(scrape_cpu_seconds_ns), "DUR",
	 "length of a CPU profile in whole seconds, shorter than the interval (default: 10s, "
	 "or the interval less 1s when that is shorter, at least 1s)", NULL},
	{"scrape-types", 0, "PODPROF_SCRAPE_TYPES", OT_STRING, "cpu,heap,block,mutex,goroutine", 0,
	 0, CMD_CLUSTER, OFF(scrape_types), "LIST",
	 "profile types scraped by default (a pod's coroot.com/profile-types overrides)", NULL},
	{"scrape-concurrency", 0, "PODPROF_SCRAPE_CONCURRENCY", OT_SIZE, "64", 1, 10000,
	 CMD_CLUSTER, OFF(scrape_concurrency), "N",
	 "scrape requests in flight at most (CPU profiles, one per target at most, are not "
	 "counted: they wait on the target)", NULL},
	{"scrape-max-bytes", 0, "PODPROF_SCRAPE_MAX_BYTES", OT_SIZE, "32MiB", 4096, 1024 * MIB,
	 CMD_CLUSTER, OFF(scrape_max_bytes), "SIZE",
	 "largest response accepted from a target (as sent)", NULL},
	{"scrape-buffer-budget", 0, "PODPROF_SCRAPE_BUFFER_BUDGET", OT_SIZE, "64MiB", MIB,
	 65536 * MIB, CMD_CLUSTER, OFF(scrape_buffer_budget), "SIZE",
	 "memory for the responses being received and decoded, all targets together; when "
	 "it runs out, the largest response fails and the others wait", NULL},
	{"scrape-ca-file", 0, "PODPROF_SCRAPE_CA_FILE", OT_PATH, NULL, 0, 0, CMD_CLUSTER,
	 OFF(scrape_ca_file), "FILE", "CA bundle that verifies https targets", NULL},
	{"scrape-insecure-skip-verify", 0, "PODPROF_SCRAPE_INSECURE_SKIP_VERIFY", OT_BOOL, "false",
	 0, 0, CMD_CLUSTER, OFF(scrape_insecure_skip_verify), NULL,
	 "do not verify the certificates of https targets", NULL},
	{"scrape-bearer-token-file", 0, "PODPROF_SCRAPE_BEARER_TOKEN_FILE", OT_PATH, NULL, 0, 0,
	 CMD_CLUSTER, OFF(scrape_bearer_token_file), "FILE",
	 "bearer token sent to targets annotated coroot.com/profile-auth: bearer (re-read when "
	 "it changes; e.g. the service account token)", NULL},
	{"scrape-basic-auth-user", 0, "PODPROF_SCRAPE_BASIC_AUTH_USER", OT_STRING, NULL, 0, 0,
	 CMD_CLUSTER, OFF(scrape_basic_auth_user), "USER",
	 "user sent to targets annotated coroot.com/profile-auth: basic", NULL},
	{"scrape-basic-auth-password-file", 0, "PODPROF_SCRAPE_BASIC_AUTH_PASSWORD_FILE", OT_PATH,
	 NULL, 0, 0, CMD_CLUSTER, OFF(scrape_basic_auth_password_file), "FILE",
	 "file holding the password for --scrape-basic-auth-user", NULL},
	{"target", 0, NULL, OT_LIST, NULL, 0, 0, CMD_CLUSTER, OFF(targets), "[SERVICE=]URL",
	 "scrape this pprof endpoint (e.g. http://10.0.0.5:6060), without Kubernetes "
	 "(repeatable)", NULL},
	{"targets-file", 0, "PODPROF_TARGETS_FILE", OT_PATH, NULL, 0, 0, CMD_CLUSTER,
	 OFF(targets_file), "FILE",
	 "static targets in Prometheus file_sd JSON form, re-read when it changes", NULL},
	{"shard", 0, "PODPROF_SHARD", OT_STRING, NULL, 0, 0, CMD_CLUSTER, OFF(shard), "N/M",
	 "scrape only the targets of shard N of M (by pod uid), for M replicas; auto/M takes N "
	 "from a StatefulSet pod's name", NULL},
	{"kubeconfig", 0, "KUBECONFIG", OT_PATH, NULL, 0, 0, K8S_CMDS, OFF(kubeconfig), "FILE",
	 "kubeconfig to use (default: the pod's service account in a cluster, else "
	 "~/.kube/config); of a colon-separated list, the first file", NULL},
	{"namespace", 0, "PODPROF_NAMESPACE", OT_STRING, NULL, 0, 0, K8S_CMDS, OFF(k8s_namespace),
	 "NS", "discover the pods of this namespace only (default: every namespace)", NULL},
	{"field-selector", 0, "PODPROF_FIELD_SELECTOR", OT_STRING, NULL, 0, 0, K8S_CMDS,
	 OFF(field_selector), "SEL",
	 "Kubernetes field selector of the pods to discover, e.g. metadata.namespace!=kube-system",
	 NULL},
	{"label-selector", 0, "PODPROF_LABEL_SELECTOR", OT_STRING, NULL, 0, 0, K8S_CMDS,
	 OFF(label_selector), "SEL", "label selector of the pods to discover, e.g. tier in (api,web)",
	 NULL},
	{"node", 0, "PODPROF_NODE", OT_STRING, NULL, 0, 0, K8S_CMDS, OFF(k8s_node), "NAME",
	 "discover only the pods of this node (field selector spec.nodeName=NAME)", NULL},
	{"watch-replicasets", 0, "PODPROF_WATCH_REPLICASETS", OT_BOOL, "true", 0, 0, K8S_CMDS,
	 OFF(watch_replicasets), "BOOL",
	 "watch apps/v1 ReplicaSets to name pods after their Deployment (RBAC: list and watch "
	 "replicasets); false: the pod-template-hash rule", NULL},
	{"streaming-list", 0, "PODPROF_STREAMING_LIST", OT_ENUM, "auto", 0, 0, K8S_CMDS,
	 OFF(streaming_list), "MODE",
	 "auto (a watch with initial events where the API server supports it, else list then "
	 "watch) or off", streaming_modes},
	{"max-pods", 0, "PODPROF_MAX_PODS", OT_SIZE, "100000", 1, 10000000, K8S_CMDS, OFF(max_pods),
	 "N", "bound on the pods kept; pods beyond it are not discovered (logged)", NULL},
	{"max-event-bytes", 0, "PODPROF_MAX_EVENT_BYTES", OT_SIZE, "16MiB", 64 * 1024, 1024 * MIB,
	 K8S_CMDS, OFF(max_event_bytes), "SIZE",
	 "bound on one watch event (decompressed); a larger one is an error", NULL},
	{"max-list-bytes", 0, "PODPROF_MAX_LIST_BYTES", OT_SIZE, "64MiB", MIB, 4096 * MIB, K8S_CMDS,
	 OFF(max_list_bytes), "SIZE",
	 "bound on one page of a list (decompressed); a larger one is an error", NULL},
	{"serviceaccount-dir", 0, "PODPROF_SERVICEACCOUNT_DIR", OT_PATH,
	 "/var/run/secrets/kubernetes.io/serviceaccount", 0, 0, K8S_CMDS, OFF(serviceaccount_dir),
	 "DIR", "token and ca.crt of the in-cluster service account (the token is re-read every "
	 "minute)", NULL},
	{"watch", 0, NULL, OT_BOOL, "false", 0, 0, CMD_TARGETS, OFF(watch), NULL,
	 "after the list, print targets added, updated and removed until SIGTERM", NULL},
	{"sync-timeout", 0, "PODPROF_SYNC_TIMEOUT", OT_DURATION, "30s", SEC / 10, 3600 * SEC,
	 K8S_CMDS, OFF(sync_timeout_ns), "DUR",
	 "how long to wait for the first complete list of pods (targets, and cluster --once)",
	 NULL},
};

static const struct {
	unsigned cmd;
	const char *name;
} command_names[] = {
	{CMD_NODE, "node"}, {CMD_CLUSTER, "cluster"}, {CMD_HEAP, "heap"},
	{CMD_PS, "ps"},     {CMD_UPLOAD, "upload"}, {CMD_TARGETS, "targets"},
};

static const char *type_expectation(enum opt_type t)
{
	switch (t) {
	case OT_BOOL:
		return "true or false";
	case OT_DURATION:
		return "a duration such as 10s, 1m30s or 500ms";
	case OT_SIZE:
		return "a size such as 1048576, 512KiB or 64MiB";
	case OT_URL:
		return "an http:// or https:// URL with a host";
	case OT_LISTEN:
		return "HOST:PORT, :PORT or [IPv6]:PORT";
	case OT_LEVEL:
		return "error, warn, info or debug";
	case OT_LABEL:
		return "NAME=VALUE with a non-empty NAME";
	case OT_ENUM:
		return "one of the listed values";
	default:
		return "a non-empty value";
	}
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "true", "yes", "y", "on"};
	static const char *const no[] = {"0", "f", "false", "no", "n", "off"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int check_url(const char *s)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	if (!*host)
		goto out;
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

/* Stores value into cfg for option o. Returns 0 or -EINVAL (bad value), -ENOMEM. */
static int store(const struct opt_def *o, const char *value, struct podprof_config *cfg)
{
	char *base = (char *)cfg + o->offset;
	int64_t ns;
	uint64_t size;
	enum log_level level;
	char host[256];
	int port;

	switch (o->type) {
	case OT_BOOL:
		return parse_bool(value, (bool *)base);
	case OT_DURATION:
		if (time_parse_duration(value, &ns) || ns < o->min || ns > o->max)
			return -EINVAL;
		*(int64_t *)base = ns;
		return 0;
	case OT_SIZE:
		if (size_parse(value, &size) || size < (uint64_t)o->min || size > (uint64_t)o->max)
			return -EINVAL;
		*(uint64_t *)base = size;
		return 0;
	case OT_URL:
		if (*value && check_url(value))
			return -EINVAL;
		break;
	case OT_LISTEN:
		if (*value && http_listen_parse(value, host, sizeof(host), &port))
			return -EINVAL;
		break;
	case OT_LEVEL:
		if (log_parse_level(value, &level))
			return -EINVAL;
		break;
	case OT_LABEL:
	case OT_LIST: {
		struct config_list *l = (struct config_list *)base;
		const char *eq = strchr(value, '=');
		if (o->type == OT_LABEL && (!eq || eq == value))
			return -EINVAL;
		if (!*value)
			return -EINVAL;
		if (l->n == CONFIG_MAX_LIST)
			return -E2BIG;
		l->items[l->n] = strdup(value);
		if (!l->items[l->n])
			return -ENOMEM;
		l->n++;
		return 0;
	}
	case OT_PATH:
		if (!*value)
			return -EINVAL;
		break;
	case OT_ENUM: {
		const char *const *c = o->choices;
		while (*c && strcmp(*c, value) != 0)
			c++;
		if (!*c)
			return -EINVAL;
		break;
	}
	case OT_STRING:
		break;
	}
	{
		char **slot = (char **)base;
		char *copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*slot);
		*slot = copy;
	}
	return 0;
}

static void report(const char *source, int is_env, const struct opt_def *o, const char *value,
		   int err)
{
	char bounds[128] = "";

	if (o->type == OT_DURATION && (o->min || o->max)) {
		char lo[32], hi[32];
		time_format_duration(o->min, lo, sizeof(lo));
		time_format_duration(o->max, hi, sizeof(hi));
		snprintf(bounds, sizeof(bounds), " between %s and %s", lo, hi);
	}
	if (o->type == OT_ENUM) {
		size_t n = 0;
		for (const char *const *c = o->choices; *c && n < sizeof(bounds); c++)
			n += (size_t)snprintf(bounds + n, sizeof(bounds) - n, "%s%s",
					      n ? ", " : ": ", *c);
	}
	if (err == -E2BIG)
		fprintf(stderr, "podprof: too many %s%s values (at most %d)\n", is_env ? "" : "--",
			source, CONFIG_MAX_LIST);
	else
		fprintf(stderr, "podprof: invalid value \"%s\" for %s%s%s: expected %s%s\n",
			o->type == OT_STRING && strstr(o->flag, "key") ? "<redacted>" : value,
			is_env ? "" : "--", source, is_env ? " (environment)" : "",
			type_expectation(o->type), bounds);
}

static const struct opt_def *find_flag(enum podprof_command cmd, const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if ((options[i].commands & cmd) && strlen(options[i].flag) == len &&
		    strncmp(options[i].flag, name, len) == 0)
			return &options[i];
	return NULL;
}

/* The last "NAME=value" of envp for name (Kubernetes semantics: later entries win). */
static const char *env_lookup(char **envp, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);

	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			found = *e + n + 1;
	return found;
}

int config_parse(enum podprof_command cmd, int argc, char **argv, char **envp,
		 struct podprof_config *cfg)
{
	int r;

	memset(cfg, 0, sizeof(*cfg));
	/* defaults, then the environment */
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		const struct opt_def *o = &options[i];
		const char *v;

		if (!(o->commands & cmd))
			continue;
		if (o->def && (r = store(o, o->def, cfg)) != 0) {
			fprintf(stderr, "podprof: internal error: default of --%s\n", o->flag);
			goto fail;
		}
		if (o->env && (v = env_lookup(envp, o->env)) && *v) {
			r = store(o, v, cfg);
			if (r) {
				report(o->env, 1, o, v, r);
				goto fail;
			}
		}
	}
	/* then the flags */
	cfg->args = calloc((size_t)argc + 1, sizeof(char *));
	if (!cfg->args) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *value;
		const struct opt_def *o;
		size_t len;

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				cfg->args[cfg->nargs++] = argv[i];
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			config_free(cfg);
			return 1;
		}
		if (a[0] == '-' && a[1] != '-' && a[1] != '\0' && a[2] == '\0') {
			const struct opt_def *so = NULL;
			for (size_t k = 0; k < ARRAY_SIZE(options); k++)
				if ((options[k].commands & cmd) && options[k].short_flag == a[1])
					so = &options[k];
			if (so) {
				if (i + 1 >= argc) {
					fprintf(stderr, "podprof %s: option '-%c' needs a value\n",
						argv[0], a[1]);
					r = -EINVAL;
					goto fail;
				}
				r = store(so, argv[++i], cfg);
				if (r) {
					report(so->flag, 0, so, argv[i], r);
					goto fail;
				}
				continue;
			}
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (a[0] == '-' && a[1] != '\0') {
				fprintf(stderr, "podprof %s: unknown option '%s' (see --help)\n",
					argv[0], a);
				r = -EINVAL;
				goto fail;
			}
			cfg->args[cfg->nargs++] = argv[i];
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = find_flag(cmd, name, len);
		if (!o) {
			fprintf(stderr, "podprof %s: unknown option '--%.*s' (see --help)\n", argv[0],
				(int)len, name);
			r = -EINVAL;
			goto fail;
		}
		if (eq)
			value = eq + 1;
		else if (o->type == OT_BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "podprof %s: option '--%s' needs a value (%s)\n", argv[0],
				o->flag, type_expectation(o->type));
			r = -EINVAL;
			goto fail;
		}
		r = store(o, value, cfg);
		if (r) {
			report(o->flag, 0, o, value, r);
			goto fail;
		}
	}
	return 0;
fail:
	config_free(cfg);
	return r == -ENOMEM ? -ENOMEM : -EINVAL;
}

void config_free(struct podprof_config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		const struct opt_def *o = &options[i];
		char **slot = (char **)((char *)cfg + o->offset);

		switch (o->type) {
		case OT_STRING:
		case OT_PATH:
		case OT_URL:
		case OT_LISTEN:
		case OT_LEVEL:
		case OT_ENUM:
			free(*slot);
			*slot = NULL;
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		struct config_list *l = (struct config_list *)((char *)cfg + options[i].offset);
		if (options[i].type != OT_LABEL && options[i].type != OT_LIST)
			continue;
		for (size_t k = 0; k < l->n; k++)
			free(l->items[k]);
		l->n = 0;
	}
	free(cfg->args);
	cfg->args = NULL;
	cfg->nargs = 0;
}

/* Appends text wrapped at width 80, continuation lines indented by indent. */
static int wrap(struct buf *out, const char *text, size_t col, size_t indent)
{
	const char *p = text;
	int r = 0;

	while (*p && !r) {
		const char *end = p, *brk = NULL;
		while (*end && (size_t)(end - p) + col <= 78) {
			if (*end == ' ')
				brk = end;
			end++;
		}
		if (*end && brk)
			end = brk;
		r = buf_append(out, p, (size_t)(end - p));
		p = end;
		while (*p == ' ')
			p++;
		if (*p && !r)
			r = buf_printf(out, "\n%*s", (int)indent, "");
		col = indent;
	}
	return r ? r : buf_append_str(out, "\n");
}

int config_help(enum podprof_command cmd, const char *usage, const char *summary,
		struct buf *out)
{
	int r = buf_printf(out, "Usage: %s\n\n", usage);

	if (!r)
		r = wrap(out, summary, 0, 0);
	if (!r)
		r = buf_append_str(out, "\nOptions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(options) && !r; i++) {
		const struct opt_def *o = &options[i];
		char left[64], help[512];
		int n;

		if (!(o->commands & cmd))
			continue;
		n = snprintf(left, sizeof(left), "  %s%c%s--%s%s%s", o->short_flag ? "-" : "",
			     o->short_flag ? o->short_flag : ' ', o->short_flag ? ", " : "   ",
			     o->flag, o->metavar ? " " : "", o->metavar ? o->metavar : "");
		{
			/* a false boolean is the absence of the flag: not worth saying */
			int show = o->def && *o->def && strcmp(o->def, "false") != 0;
			snprintf(help, sizeof(help), "%s%s%s%s%s%s", o->help,
				 show ? " (default " : "", show ? o->def : "", show ? ")" : "",
				 o->env ? "; env " : "", o->env ? o->env : "");
		}
		if (n >= 29)
			r = buf_printf(out, "%s\n%30s", left, "");
		else
			r = buf_printf(out, "%-30s", left);
		if (!r)
			r = wrap(out, help, 30, 30);
	}
	if (!r)
		r = buf_append_str(out, "      --help                  show this help\n");
	return r;
}

int config_print_help(enum podprof_command cmd, const char *usage, const char *summary)
{
	struct buf help;
	int r;

	buf_init(&help, 0);
	r = config_help(cmd, usage, summary, &help);
	if (!r)
		fputs(help.data, stdout);
	buf_free(&help);
	return r ? 1 : 0;
}

int config_markdown(struct buf *out)
{
	int r = buf_append_str(out, "| flag | environment | default | commands | meaning |\n"
				    "| --- | --- | --- | --- | --- |\n");

	for (size_t i = 0; i < ARRAY_SIZE(options) && !r; i++) {
		const struct opt_def *o = &options[i];
		struct buf cmds;

		buf_init(&cmds, 0);
		for (size_t c = 0; c < ARRAY_SIZE(command_names); c++)
			if (o->commands & command_names[c].cmd)
				buf_printf(&cmds, "%s%s", cmds.len ? ", " : "", command_names[c].name);
		r = buf_printf(out, "| `--%s%s%s` | %s%s%s | %s%s%s | %s | %s |\n", o->flag,
			       o->metavar ? " " : "", o->metavar ? o->metavar : "",
			       o->env ? "`" : "", o->env ? o->env : "", o->env ? "`" : "",
			       o->def && *o->def ? "`" : "", o->def && *o->def ? o->def : "",
			       o->def && *o->def ? "`" : "", cmds.data ? cmds.data : "", o->help);
		buf_free(&cmds);
	}
	return r;
}

char *config_profiles_url(const struct podprof_config *cfg)
{
	const char *base = cfg->collector_endpoint ? cfg->collector_endpoint : cfg->coroot_url;
	char *url = NULL;
	size_t n;

	if (cfg->profiles_endpoint && *cfg->profiles_endpoint)
		return strdup(cfg->profiles_endpoint);
	if (!base || !*base)
		return NULL;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (asprintf(&url, "%.*s/v1/profiles", (int)n, base) < 0)
		return NULL;
	return url;
}
