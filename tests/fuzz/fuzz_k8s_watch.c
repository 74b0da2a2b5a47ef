/*
 * Kubernetes watch streams, as the reflector receives them: the body is cut into chunks
 * at places chosen by the input (libcurl may cut anywhere), split into lines
 * (k8s_lines_feed), each line decoded (k8s_event_parse) and applied to a store the way
 * discovery applies it (pods and ReplicaSets through their models, deletions, the end
 * of a streaming list, a relist after an ERROR). Properties: every target event the
 * store delivers is consistent (ADDED for a new id, UPDATED and REMOVED for a known
 * one) and the store's snapshot equals the targets delivered.
 *
 * Input: flags (1 byte: bit 0 a small line bound, bits 1-2 the pod bound), a chunking
 * seed (1 byte), then the stream.
 */
#include <errno.h>
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "k8s.h"
#include "lines.h"
#include "model.h"
#include "store.h"
#include "target.h"

struct watch {
	struct k8s_store *store;
	struct k8s_model_limits limits;
	char **ids; /* targets delivered and not removed */
	size_t nids, cap;
	size_t lines, events;
};

static size_t find_id(const struct watch *w, const char *id)
{
	for (size_t i = 0; i < w->nids; i++)
		if (strcmp(w->ids[i], id) == 0)
			return i;
	return SIZE_MAX;
}

static void check_target(const struct k8s_target *t)
{
	FUZZ_CHECK(t->id && t->url && t->scheme && t->address && t->path && t->service_name);
	FUZZ_CHECK(t->namespace && t->pod && t->node && t->pod_uid);
	FUZZ_CHECK(strcmp(t->scheme, "http") == 0 || strcmp(t->scheme, "https") == 0);
	FUZZ_CHECK(strncmp(t->url, t->scheme, strlen(t->scheme)) == 0);
	FUZZ_CHECK(strncmp(t->service_name, "/k8s/", 5) == 0);
	FUZZ_CHECK((t->path[0] == '/' || !t->path[0]) && t->port != 0);
	FUZZ_CHECK(t->types != 0 && (t->types & ~(unsigned)K8S_PROFILE_ALL) == 0);
}

static void on_target(void *ctx, enum k8s_target_event ev, const struct k8s_target *t)
{
	struct watch *w = ctx;
	size_t i = find_id(w, t->id);

	check_target(t);
	switch (ev) {
	case K8S_TARGET_ADDED:
		FUZZ_CHECK(i == SIZE_MAX);
		if (w->nids == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 16;
			w->ids = realloc(w->ids, w->cap * sizeof(*w->ids));
			FUZZ_CHECK(w->ids);
		}
		w->ids[w->nids++] = fuzz_strndup(t->id, strlen(t->id));
		break;
	case K8S_TARGET_UPDATED:
		FUZZ_CHECK(i != SIZE_MAX);
		break;
	case K8S_TARGET_REMOVED:
		FUZZ_CHECK(i != SIZE_MAX);
		free(w->ids[i]);
		w->ids[i] = w->ids[--w->nids];
		break;
	}
}

static void check_pod(const struct k8s_pod *p, const struct k8s_model_limits *lim)
{
	FUZZ_CHECK(p->uid && *p->uid && strlen(p->uid) <= K8S_NAME_MAX);
	FUZZ_CHECK(p->namespace && *p->namespace && strlen(p->namespace) <= K8S_NAME_MAX);
	FUZZ_CHECK(p->name && *p->name && strlen(p->name) <= K8S_NAME_MAX);
	FUZZ_CHECK(p->ncontainers <= lim->max_containers && p->nports <= lim->max_ports);
	for (int i = 0; i < K8S_ANN_COUNT; i++)
		FUZZ_CHECK(!p->ann[i] || strlen(p->ann[i]) <= lim->max_annotation);
	for (size_t i = 0; i < p->nports; i++)
		FUZZ_CHECK(p->ports[i].container < p->ncontainers && p->ports[i].number);
	FUZZ_CHECK(k8s_pod_bytes(p) >= p->size);
}

static int is_replicaset(const cJSON *obj)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	return kind && strcmp(kind, "ReplicaSet") == 0;
}

/* What discovery's reflector callbacks do (k8s/discovery.c). */
static void upsert(struct watch *w, const cJSON *obj)
{
	int r;

	if (is_replicaset(obj)) {
		struct k8s_replicaset *rs;
		r = k8s_replicaset_from_json(obj, &rs);
		if (r == 0) {
			FUZZ_CHECK(strlen(rs->namespace) <= K8S_NAME_MAX &&
				   strlen(rs->name) <= K8S_NAME_MAX);
			r = k8s_store_replicaset_upsert(w->store, rs);
		}
	} else {
		struct k8s_pod *pod;
		r = k8s_pod_from_json(obj, &w->limits, &pod);
		if (r == 0) {
			check_pod(pod, &w->limits);
			r = k8s_store_pod_upsert(w->store, pod);
		}
	}
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
}

static void delete(struct watch *w, const cJSON *obj)
{
	const char *ns = k8s_json_namespace(obj), *name = k8s_json_name(obj);

	if (!ns || !name)
		return;
	if (is_replicaset(obj))
		k8s_store_replicaset_delete(w->store, ns, name);
	else
		k8s_store_pod_delete(w->store, ns, name, k8s_json_uid(obj));
}

static int on_line(void *ctx, const char *line, size_t len)
{
	struct watch *w = ctx;
	struct k8s_event ev;
	char why[80];

	w->lines++;
	FUZZ_CHECK(len > 0 && memchr(line, '\n', len) == NULL);
	if (k8s_event_parse(line, len, &ev, why, sizeof(why)) != 0) {
		FUZZ_CHECK(why[0] && ev.doc == NULL);
		return -EBADMSG; /* the reflector ends the watch */
	}
	w->events++;
	FUZZ_CHECK(cJSON_IsObject(ev.object) && ev.type < K8S_EVENT_COUNT);
	FUZZ_CHECK(!ev.resource_version || *ev.resource_version);
	switch (ev.type) {
	case K8S_EVENT_ADDED:
	case K8S_EVENT_MODIFIED:
		upsert(w, ev.object);
		break;
	case K8S_EVENT_DELETED:
		delete(w, ev.object);
		break;
	case K8S_EVENT_BOOKMARK:
		if (ev.initial_events_end) {
			k8s_store_pods_end(w->store);
			k8s_store_replicasets_end(w->store);
		}
		break;
	default:
		/* a 410 is followed by a relist: a new generation starts */
		if (ev.code == 410) {
			k8s_store_pods_begin(w->store);
			k8s_store_replicasets_begin(w->store);
		}
		break;
	}
	k8s_event_free(&ev);
	return 0;
}

static void check_snapshot(struct watch *w)
{
	struct k8s_target_set set;
	struct k8s_store_stats st;

	FUZZ_CHECK(k8s_store_snapshot(w->store, &set) == 0);
	FUZZ_CHECK(set.n == w->nids);
	for (size_t i = 0; i < set.n; i++) {
		FUZZ_CHECK(find_id(w, set.targets[i]->id) != SIZE_MAX);
		if (i)
			FUZZ_CHECK(strcmp(set.targets[i - 1]->id, set.targets[i]->id) < 0);
	}
	k8s_target_set_free(&set);
	k8s_store_get_stats(w->store, &st);
	FUZZ_CHECK(st.targets == w->nids && st.targets <= st.pods);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_u8(&in), seed = fuzz_u8(&in);
	static const size_t max_pods[4] = {100000, 1, 3, 16};
	struct k8s_store_config cfg = {.max_pods = max_pods[(flags >> 1) & 3],
				       .on_target = on_target};
	struct watch w = {.limits = {K8S_DEFAULT_MAX_ANNOTATION, K8S_DEFAULT_MAX_CONTAINERS,
				     K8S_DEFAULT_MAX_PORTS}};
	struct k8s_lines lines;
	uint32_t state = seed * 2654435761u + 1;

	if (flags & 8)
		w.limits = (struct k8s_model_limits){16, 2, 3};
	cfg.on_target_ctx = &w;
	FUZZ_CHECK(k8s_store_new(&cfg, &w.store) == 0);
	k8s_lines_init(&lines, flags & 1 ? 200 : 16u << 20);
	k8s_store_pods_begin(w.store);
	while (in.n) {
		const uint8_t *chunk;
		size_t want, n;
		int r;

		/* chunk sizes from a small generator: 1 byte to a few KiB */
		state ^= state << 13;
		state ^= state >> 17;
		state ^= state << 5;
		want = state % 8 == 0 ? 1 + state % 7 : 1 + (state >> 8) % 4096;
		n = fuzz_take(&in, want, &chunk);
		r = k8s_lines_feed(&lines, (const char *)chunk, n, on_line, &w);
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG);
		FUZZ_CHECK(k8s_lines_pending(&lines) <= lines.max);
		if (r)
			k8s_lines_reset(&lines); /* the watch ends; the next one starts afresh */
	}
	check_snapshot(&w);
	k8s_store_pods_end(w.store);
	check_snapshot(&w);
	k8s_lines_free(&lines);
	k8s_store_free(w.store);
	for (size_t i = 0; i < w.nids; i++)
		free(w.ids[i]);
	free(w.ids);
	return 0;
}
