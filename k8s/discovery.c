/*
 * Discovery (k8s.h): the store, the pods reflector and, when asked, the ReplicaSets
 * reflector that names pods after their Deployment, plus the metrics.
 *
 * The pods reflector waits a few seconds for the ReplicaSets' first list before its
 * own, so that targets are named after their Deployment from their first event
 * instead of being renamed a moment later; when ReplicaSets cannot be read (RBAC),
 * the pod-template-hash rule names them just as well for Deployments. The two share
 * what they learn about the server's streaming lists: a server that cannot stream
 * costs one of them the finding out, never both.
 */
#define LOG_MODULE "k8s"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "model.h"
#include "query.h"
#include "reflector.h"
#include "store.h"

#define DEFAULT_MAX_PODS 100000
#define DEFAULT_MAX_EVENT (16u << 20)
#define DEFAULT_MAX_LIST (64u << 20)
#define RS_WAIT_NS (5 * NS_PER_SEC)
#define SELECTOR_MAX 4096

struct k8s_discovery {
	struct k8s_store *store;
	struct k8s_reflector *pods, *rs;
	struct k8s_model_limits limits;
	struct k8s_reflector_metrics rm;
	char *field_selector;
	_Atomic int64_t streaming_verdict; /* the reflectors', shared */
};

/* ---- the reflectors' callbacks ---------------------------------------------------- */

static void pods_begin(void *ctx)
{
	k8s_store_pods_begin(((struct k8s_discovery *)ctx)->store);
}

static int pods_upsert(void *ctx, const cJSON *obj)
{
	struct k8s_discovery *d = ctx;
	struct k8s_pod *pod;
	int r = k8s_pod_from_json(obj, &d->limits, &pod);

	return r ? r : k8s_store_pod_upsert(d->store, pod);
}

static void pods_remove(void *ctx, const cJSON *obj)
{
	struct k8s_discovery *d = ctx;
	const char *ns = k8s_json_namespace(obj), *name = k8s_json_name(obj);

	if (ns && name)
		k8s_store_pod_delete(d->store, ns, name, k8s_json_uid(obj));
}

static void pods_end(void *ctx)
{
	struct k8s_discovery *d = ctx;
	size_t gone = k8s_store_pods_end(d->store);

	if (gone)
		log_info("pods: %zu pods deleted while the watch was interrupted", gone);
}

static const struct k8s_reflector_ops pod_ops = {pods_begin, pods_upsert, pods_remove, pods_end};

static void rs_begin(void *ctx)
{
	k8s_store_replicasets_begin(((struct k8s_discovery *)ctx)->store);
}

static int rs_upsert(void *ctx, const cJSON *obj)
{
	struct k8s_discovery *d = ctx;
	struct k8s_replicaset *rs;
	int r = k8s_replicaset_from_json(obj, &rs);

	return r ? r : k8s_store_replicaset_upsert(d->store, rs);
}

static void rs_remove(void *ctx, const cJSON *obj)
{
	struct k8s_discovery *d = ctx;
	const char *ns = k8s_json_namespace(obj), *name = k8s_json_name(obj);

	if (ns && name)
		k8s_store_replicaset_delete(d->store, ns, name);
}

static void rs_end(void *ctx)
{
	k8s_store_replicasets_end(((struct k8s_discovery *)ctx)->store);
}

static const struct k8s_reflector_ops rs_ops = {rs_begin, rs_upsert, rs_remove, rs_end};

/* ---- start and stop --------------------------------------------------------------- */

static int valid_selector(const char *what, const char *s)
{
	if (!s)
		return 1;
	if (strlen(s) > SELECTOR_MAX) {
		log_error("the %s selector is longer than %d bytes", what, SELECTOR_MAX);
		return 0;
	}
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			log_error("the %s selector holds a control character", what);
			return 0;
		}
	return 1;
}

static int valid_node(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > K8S_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return 0;
	return 1;
}

static void register_metrics(struct k8s_discovery *d, struct metrics_registry *m,
			     struct k8s_store_config *sc)
{
	static const char *const reason[] = {"reason"}, *const type[] = {"type"};

	if (!m)
		return;
	sc->pods_gauge = metrics_gauge(m, "podprof_k8s_pods", "Pods in the discovery's model.");
	sc->targets_gauge = metrics_gauge(m, "podprof_targets_discovered",
					  "Pprof targets derived from annotated running pods.");
	d->rm.watch_restarts = metrics_counter(m, "podprof_k8s_watch_restarts_total",
					       "Watches of the Kubernetes API that ended and were "
					       "started again.");
	d->rm.relists = metrics_counter(m, "podprof_k8s_relists_total",
					"Lists after the first (410 Gone, restarts).");
	d->rm.errors = metrics_family(m, METRIC_COUNTER, "podprof_k8s_errors_total",
				      "Failed Kubernetes API requests and watch streams, by "
				      "reason.", reason, 1, NULL, 0);
	d->rm.events = metrics_family(m, METRIC_COUNTER, "podprof_k8s_events_total",
				      "Watch events processed, by type.", type, 1, NULL, 0);
}

int k8s_discovery_start(const struct k8s_discovery_config *cfg, struct k8s_discovery **out)
{
	struct k8s_store_config sc = {0};
	struct k8s_reflector_config rc = {0};
	struct k8s_discovery *d;
	int r = -EINVAL;

	if (!cfg->conn) {
		log_error("discovery needs a Kubernetes configuration");
		return -EINVAL;
	}
	if (cfg->namespace && *cfg->namespace && !k8s_valid_namespace(cfg->namespace)) {
		log_error("namespace \"%.80s\" is not a valid namespace name (a DNS label)",
			  cfg->namespace);
		return -EINVAL;
	}
	if (cfg->node_name && *cfg->node_name && !valid_node(cfg->node_name)) {
		log_error("node \"%.80s\" is not a valid node name", cfg->node_name);
		return -EINVAL;
	}
	if (!valid_selector("field", cfg->field_selector) ||
	    !valid_selector("label", cfg->label_selector))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = -ENOMEM;
	d->field_selector = k8s_field_selector(cfg->node_name, cfg->field_selector);
	if (!d->field_selector && errno == ENOMEM)
		goto fail;
	register_metrics(d, cfg->metrics, &sc);
	sc.max_pods = cfg->max_pods ? cfg->max_pods : DEFAULT_MAX_PODS;
	sc.on_target = cfg->on_target;
	sc.on_target_ctx = cfg->on_target_ctx;
	r = k8s_store_new(&sc, &d->store);
	if (r)
		goto fail;

	rc.namespace = cfg->namespace;
	rc.conn = cfg->conn;
	rc.ctx = d;
	rc.max_event_bytes = cfg->max_event_bytes ? cfg->max_event_bytes : DEFAULT_MAX_EVENT;
	rc.max_list_bytes = cfg->max_list_bytes ? cfg->max_list_bytes : DEFAULT_MAX_LIST;
	rc.backoff_min_ns = cfg->backoff_min_ns;
	rc.backoff_max_ns = cfg->backoff_max_ns;
	rc.backoff_reset_ns = cfg->backoff_reset_ns;
	rc.request_timeout_ns = cfg->request_timeout_ns ? cfg->request_timeout_ns : 60 * NS_PER_SEC;
	rc.watch_timeout_min_s = cfg->watch_timeout_min_s > 0 ? cfg->watch_timeout_min_s : 300;
	rc.watch_timeout_max_s = cfg->watch_timeout_max_s > 0 ? cfg->watch_timeout_max_s : 600;
	if (rc.watch_timeout_max_s < rc.watch_timeout_min_s)
		rc.watch_timeout_max_s = rc.watch_timeout_min_s;
	rc.initial_events_idle_ns = cfg->initial_events_idle_ns ? cfg->initial_events_idle_ns
								: 5 * NS_PER_SEC;
	rc.streaming = cfg->streaming_list;
	rc.streaming_verdict = &d->streaming_verdict;
	rc.metrics = &d->rm;
	if (cfg->watch_replicasets) {
		/* ReplicaSets are few; the user's selectors are about pods */
		rc.name = "replicasets";
		rc.api = "/apis/apps/v1";
		rc.resource = "replicasets";
		rc.rbac_hint = "list and watch on replicasets (apiGroups: [apps]), or "
			       "--watch-replicasets=false";
		rc.ops = &rs_ops;
		r = k8s_reflector_start(&rc, &d->rs);
		if (r)
			goto fail;
	}
	rc.name = "pods";
	rc.api = "/api/v1";
	rc.resource = "pods";
	rc.rbac_hint = "list and watch on pods (apiGroups: [\"\"])";
	rc.field_selector = d->field_selector;
	rc.label_selector = cfg->label_selector;
	rc.ops = &pod_ops;
	rc.wait_for = d->rs;
	/* the ReplicaSets' first list may include the finding out that the server does
	 * not stream: then the pods' does not (and the wait is not paid twice) */
	rc.wait_ns = RS_WAIT_NS + rc.initial_events_idle_ns;
	r = k8s_reflector_start(&rc, &d->pods);
	if (r)
		goto fail;
	log_info("discovering pods%s%s%s%s%s from %s",
		 cfg->namespace && *cfg->namespace ? " in namespace " : "",
		 cfg->namespace && *cfg->namespace ? cfg->namespace : "",
		 d->field_selector ? " with field selector " : "",
		 d->field_selector ? d->field_selector : "",
		 cfg->label_selector && *cfg->label_selector ? " and a label selector" : "",
		 k8s_config_server(cfg->conn));
	*out = d;
	return 0;
fail:
	log_error("cannot start Kubernetes discovery: %s", strerror(-r));
	k8s_discovery_free(d);
	return r;
}

void k8s_discovery_free(struct k8s_discovery *d)
{
	if (!d)
		return;
	/* the threads first: they use the store */
	k8s_reflector_free(d->pods);
	k8s_reflector_free(d->rs);
	k8s_store_free(d->store);
	free(d->field_selector);
	free(d);
}

bool k8s_discovery_ready(struct k8s_discovery *d)
{
	if (!k8s_reflector_synced(d->pods))
		return false;
	return !d->rs || k8s_reflector_synced(d->rs) || k8s_reflector_denied(d->rs);
}

int k8s_discovery_wait_ready(struct k8s_discovery *d, int64_t timeout_ns)
{
	int64_t until = time_mono_ns() + timeout_ns;

	while (!k8s_discovery_ready(d)) {
		if (time_mono_ns() >= until)
			return -ETIMEDOUT;
		time_sleep_ns(10 * NS_PER_MS);
	}
	return 0;
}

int k8s_discovery_snapshot(struct k8s_discovery *d, struct k8s_target_set *out)
{
	return k8s_store_snapshot(d->store, out);
}

void k8s_discovery_get_stats(struct k8s_discovery *d, struct k8s_discovery_stats *out)
{
	struct k8s_store_stats ss;
	struct k8s_reflector_stats ps, rs = {0};

	k8s_store_get_stats(d->store, &ss);
	k8s_reflector_get_stats(d->pods, &ps);
	if (d->rs)
		k8s_reflector_get_stats(d->rs, &rs);
	out->pods = ss.pods;
	out->replicasets = ss.replicasets;
	out->targets = ss.targets;
	out->model_bytes = ss.model_bytes;
	out->events = ps.events + rs.events;
	out->lists = ps.lists + rs.lists;
	out->relists = ps.relists + rs.relists;
	out->watch_restarts = ps.watch_restarts + rs.watch_restarts;
	out->errors = ps.errors + rs.errors;
	out->streaming = ps.streaming;
}
