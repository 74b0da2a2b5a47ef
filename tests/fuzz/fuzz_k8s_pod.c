/*
 * Pod JSON: the trimmed model (k8s_pod_from_json under the input's limits), the
 * workload name, the target derivation and the target's formatting, for a pod, a
 * ReplicaSet, a list page ({"items": [...]}) or an array of objects. Properties: the
 * model keeps its bounds, and a target is well formed (its URL is scheme://address
 * followed by its path, its address the pod's IP and the port).
 *
 * Input: a limits selector (1 byte), then JSON.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "k8s.h"
#include "model.h"
#include "naming.h"
#include "target.h"

static const struct k8s_model_limits limit_sets[4] = {
	{0, 0, 0},
	{K8S_DEFAULT_MAX_ANNOTATION, K8S_DEFAULT_MAX_CONTAINERS, K8S_DEFAULT_MAX_PORTS},
	{8, 1, 1},
	{100000, 1000, 1000}, /* above the defaults: clamped */
};

static void check_target(const struct k8s_pod *pod, const char *workload,
			 const struct k8s_target *t)
{
	char expect[2048], text[2048];

	FUZZ_CHECK(t->port != 0 && t->types && !(t->types & ~(unsigned)K8S_PROFILE_ALL));
	FUZZ_CHECK(t->cpu_seconds >= 0 && t->cpu_seconds <= K8S_CPU_SECONDS_MAX);
	/* "/debug/pprof", never a trailing slash ("/" becomes "") */
	FUZZ_CHECK((t->path[0] == '/' || !t->path[0]) && !strpbrk(t->path, "?# \\"));
	FUZZ_CHECK(!t->path[0] || t->path[strlen(t->path) - 1] != '/');
	snprintf(expect, sizeof(expect), "%s://%s%s", t->scheme, t->address, t->path);
	FUZZ_CHECK(strcmp(expect, t->url) == 0);
	snprintf(expect, sizeof(expect), strchr(pod->ips[0], ':') ? "[%s]:%u" : "%s:%u",
		 pod->ips[0], t->port);
	FUZZ_CHECK(strcmp(expect, t->address) == 0);
	snprintf(expect, sizeof(expect), "/k8s/%s/%s", pod->namespace, workload);
	FUZZ_CHECK(strcmp(expect, t->service_name) == 0);
	FUZZ_CHECK(strcmp(t->pod, pod->name) == 0 && strcmp(t->namespace, pod->namespace) == 0);
	FUZZ_CHECK(strcmp(t->pod_uid, pod->uid) == 0);
	FUZZ_CHECK(!k8s_target_differs(t, t));
	FUZZ_CHECK(k8s_target_bytes(t) > strlen(t->url));
	k8s_target_labels_format(t, text, sizeof(text));
	k8s_profile_types_format(t->types, text, sizeof(text));
	FUZZ_CHECK(text[0]);
	k8s_profile_types_format(t->types, text, 7); /* truncated */
	FUZZ_CHECK(strlen(text) < 7);
}

static void one_object(const cJSON *obj, const struct k8s_model_limits *lim)
{
	struct k8s_replicaset *rs = NULL;
	struct k8s_pod *pod;
	const struct k8s_target *t;
	char workload[300], reason[256];
	int r;

	r = k8s_replicaset_from_json(obj, &rs);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	r = k8s_pod_from_json(obj, lim, &pod);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		for (int i = 0; i < K8S_ANN_COUNT; i++)
			FUZZ_CHECK(!pod->ann[i] ||
				   strlen(pod->ann[i]) <= (lim->max_annotation
							   ? lim->max_annotation
							   : K8S_DEFAULT_MAX_ANNOTATION));
		FUZZ_CHECK(pod->ncontainers <= K8S_DEFAULT_MAX_CONTAINERS);
		FUZZ_CHECK(pod->nports <= K8S_DEFAULT_MAX_PORTS);
		FUZZ_CHECK(k8s_pod_bytes(pod) >= pod->size);
		FUZZ_CHECK(strcmp(k8s_phase_name(pod->phase), "") != 0);
		/* with and without the owning ReplicaSet known */
		for (int with_rs = 0; with_rs < 2; with_rs++) {
			k8s_workload_name(pod, with_rs ? rs : NULL, workload, sizeof(workload));
			FUZZ_CHECK(workload[0]);
			r = k8s_target_from_pod(pod, workload, &t, reason, sizeof(reason));
			FUZZ_CHECK(r == 0);
			if (t) {
				FUZZ_CHECK(reason[0] == '\0');
				check_target(pod, workload, t);
				k8s_target_unref(k8s_target_ref(t));
				k8s_target_unref(t);
			}
		}
		k8s_workload_name(pod, rs, workload, 4); /* truncated */
		FUZZ_CHECK(strlen(workload) < 4);
		free(pod);
	}
	free(rs);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const struct k8s_model_limits *lim = &limit_sets[fuzz_u8(&in) & 3];
	cJSON *doc = cJSON_ParseWithLength((const char *)in.p, in.n);
	const cJSON *items, *item;

	if (!doc)
		return 0;
	items = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (cJSON_IsArray(items)) {
		cJSON_ArrayForEach(item, items)
			one_object(item, lim);
	} else {
		one_object(doc, lim);
	}
	cJSON_Delete(doc);
	return 0;
}
