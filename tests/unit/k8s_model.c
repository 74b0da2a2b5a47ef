/*
 * Unit tests of the model: pods from realistic fixtures (managedFields and all) and
 * their memory, target derivation (every annotation rule and invalid value), workload
 * naming (owner references, the pod-template-hash rule, pod-name fallbacks), and the
 * store (events, replace semantics, new incarnations, ReplicaSet renames, bounds,
 * warnings once per change, snapshots).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "naming.h"
#include "store.h"
#include "support.h"
#include "target.h"
#include "testing.h"

static cJSON *load_fixture(const char *name)
{
	char path[1024];
	struct buf b;
	cJSON *doc;

	snprintf(path, sizeof(path), "%s/%s", K8S_TEST_DATA, name);
	buf_init(&b, 0);
	if (test_read_file(path, &b))
		return NULL;
	doc = cJSON_ParseWithLength(b.data, b.len);
	buf_free(&b);
	return doc;
}

static struct k8s_pod *fixture_pod(const char *name)
{
	cJSON *doc = load_fixture(name);
	struct k8s_pod *p = NULL;

	if (doc && k8s_pod_from_json(doc, NULL, &p))
		p = NULL;
	cJSON_Delete(doc);
	return p;
}

/* A pod from parts: annotations, containers and owner references as JSON fragments. */
struct spec {
	const char *ns, *name, *uid, *phase, *ip, *annotations, *containers, *owners, *labels,
		*node;
};

static struct k8s_pod *make_pod(const struct spec *s)
{
	struct buf j;
	cJSON *doc;
	struct k8s_pod *p = NULL;

	buf_init(&j, 0);
	buf_printf(&j,
		   "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\","
		   "\"annotations\":{%s},\"labels\":{%s},\"ownerReferences\":[%s]},"
		   "\"spec\":{\"nodeName\":\"%s\",\"containers\":[%s]},"
		   "\"status\":{\"phase\":\"%s\"%s%s%s}}",
		   s->name ? s->name : "api-0", s->ns ? s->ns : "shop", s->uid ? s->uid : "uid-1",
		   s->annotations ? s->annotations : "", s->labels ? s->labels : "",
		   s->owners ? s->owners : "", s->node ? s->node : "node-1",
		   s->containers ? s->containers : "{\"name\":\"app\"}",
		   s->phase ? s->phase : "Running", s->ip && *s->ip ? ",\"podIP\":\"" : "",
		   s->ip && *s->ip ? s->ip : "", s->ip && *s->ip ? "\"" : "");
	doc = cJSON_Parse(j.data);
	if (doc && k8s_pod_from_json(doc, NULL, &p))
		p = NULL;
	cJSON_Delete(doc);
	buf_free(&j);
	return p;
}

#define SCRAPE "\"coroot.com/profile-scrape\":\"true\","

TEST(pods_from_fixtures)
{
	struct k8s_pod *p = fixture_pod("deployment-pod.json");

	CHECK(p);
	CHECK_STR(p->uid, "d39828b6-86df-4f7f-a13f-3ba48ecac2ad");
	CHECK_STR(p->namespace, "shop");
	CHECK_STR(p->name, "checkout-7d9c8b6f5d-x2w4k");
	CHECK_STR(p->node, "ip-10-0-3-17.eu-west-1.compute.internal");
	CHECK_EQ(p->phase, K8S_PHASE_RUNNING);
	CHECK_STR(p->ips[0], "10.244.129.84");
	CHECK_STR(p->ips[1], "fd00:10:244::1a");
	CHECK_EQ(p->owner_kind, K8S_OWNER_REPLICASET);
	CHECK_STR(p->owner_name, "checkout-7d9c8b6f5d");
	CHECK_STR(p->template_hash, "7d9c8b6f5d");
	CHECK_STR(p->ann[K8S_ANN_SCRAPE], "true");
	CHECK_STR(p->ann[K8S_ANN_PORT], "pprof");
	CHECK_STR(p->ann[K8S_ANN_TYPES], "cpu, heap,goroutine");
	CHECK(p->ann[K8S_ANN_PATH] == NULL);
	CHECK_EQ(p->ncontainers, 2);
	CHECK_STR(p->containers[0], "checkout");
	CHECK_STR(p->containers[1], "istio-proxy");
	/* UDP is no pprof endpoint: 3 TCP ports kept of 4 */
	CHECK_EQ(p->nports, 3);
	CHECK_STR(p->ports[1].name, "pprof");
	CHECK_EQ(p->ports[1].number, 6060);
	CHECK_EQ(p->ports[1].container, 0);
	CHECK_EQ(p->ports[2].number, 15090);
	CHECK_EQ(p->ports[2].container, 1);
	/* 14 KiB of JSON (managedFields, last-applied-configuration): well under 1 KiB kept */
	printf("  deployment pod: %zu bytes in the model\n", k8s_pod_bytes(p));
	CHECK(k8s_pod_bytes(p) < 1024);
	free(p);

	p = fixture_pod("statefulset-pod.json");
	CHECK(p && p->owner_kind == K8S_OWNER_STATEFULSET);
	CHECK_STR(p->ann[K8S_ANN_PYRO_SCRAPE], "true");
	CHECK(p->ports[0].name == NULL && p->ports[0].number == 5432);
	free(p);
	p = fixture_pod("static-pod.json");
	CHECK(p && p->owner_kind == K8S_OWNER_NODE);
	CHECK_STR(p->owner_name, "cp-1");
	free(p);
	p = fixture_pod("pending-pod.json");
	CHECK(p && p->phase == K8S_PHASE_PENDING && !p->ips[0] && !p->node);
	free(p);
	{
		cJSON *doc = load_fixture("replicaset.json");
		struct k8s_replicaset *rs;
		CHECK_EQ(k8s_replicaset_from_json(doc, &rs), 0);
		CHECK_STR(rs->name, "checkout-7d9c8b6f5d");
		CHECK_EQ(rs->owner_kind, K8S_OWNER_DEPLOYMENT);
		CHECK_STR(rs->owner_name, "checkout");
		CHECK(k8s_replicaset_bytes(rs) < 256);
		free(rs);
		cJSON_Delete(doc);
	}
}

TEST(pod_json_that_is_not_a_pod)
{
	static const char *const bad[] = {
		"{}", "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}",
		"{\"metadata\":{\"name\":\"\",\"namespace\":\"b\",\"uid\":\"u\"}}",
		"{\"metadata\":{\"name\":5,\"namespace\":\"b\",\"uid\":\"u\"}}",
	};
	struct k8s_pod *p;
	char longname[400];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cJSON *doc = cJSON_Parse(bad[i]);
		CHECK_MSG(k8s_pod_from_json(doc, NULL, &p) == -EINVAL, "%s", bad[i]);
		cJSON_Delete(doc);
	}
	/* a name longer than Kubernetes allows: refused, not kept */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(make_pod(&(struct spec){.name = longname}) == NULL);
	/* odd types are ignored, not trusted */
	{
		cJSON *doc = cJSON_Parse(
			"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"u\","
			"\"annotations\":{\"coroot.com/profile-port\":6060}},"
			"\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":["
			"{\"containerPort\":\"80\"},{\"containerPort\":70000},"
			"{\"containerPort\":8080}]}]},"
			"\"status\":{\"phase\":17,\"podIPs\":\"x\"}}");
		CHECK_EQ(k8s_pod_from_json(doc, NULL, &p), 0);
		CHECK(p->ann[K8S_ANN_PORT] == NULL);
		CHECK_EQ(p->nports, 1);
		CHECK_EQ(p->ports[0].number, 8080);
		CHECK_EQ(p->phase, K8S_PHASE_UNKNOWN);
		free(p);
		cJSON_Delete(doc);
	}
}

TEST(annotation_values_are_bounded)
{
	char ann[3000];
	struct k8s_pod *p;
	const struct k8s_target *t;
	char reason[256];

	snprintf(ann, sizeof(ann), SCRAPE "\"coroot.com/profile-port\":\"6060\","
					  "\"coroot.com/profile-path\":\"/%02000d\"", 0);
	p = make_pod(&(struct spec){.annotations = ann, .ip = "10.0.0.1"});
	CHECK(p && p->ann[K8S_ANN_PATH] == NULL && (p->ann_too_long & (1u << K8S_ANN_PATH)));
	CHECK(k8s_pod_bytes(p) < 1024);
	CHECK_EQ(k8s_target_from_pod(p, "w", &t, reason, sizeof(reason)), 0);
	CHECK(t == NULL);
	CHECK_STR(reason, "annotation coroot.com/profile-path: value longer than the kept bound");
	free(p);
}

/* Derives the target of a running pod at 10.1.2.3 with these annotations. */
static const struct k8s_target *derive(const char *annotations, const char *containers,
				       char *reason, size_t len)
{
	struct k8s_pod *p = make_pod(&(struct spec){.annotations = annotations,
						    .containers = containers, .ip = "10.1.2.3"});
	const struct k8s_target *t = NULL;

	if (p && k8s_target_from_pod(p, "api", &t, reason, len))
		t = NULL;
	free(p);
	return t;
}

#define TWO_CONTAINERS                                                                   \
	"{\"name\":\"app\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080},"         \
	"{\"name\":\"pprof\",\"containerPort\":6060}]},"                                   \
	"{\"name\":\"sidecar\",\"ports\":[{\"name\":\"admin\",\"containerPort\":15000}]}"

TEST(targets_from_annotations)
{
	char reason[512], labels[512];
	const struct k8s_target *t;

	/* the Coroot pair, with a declared port: the container is known */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"6060\"", TWO_CONTAINERS, reason,
		   sizeof(reason));
	CHECK(t);
	CHECK_STR(t->id, "shop/api-0:6060");
	CHECK_STR(t->url, "http://10.1.2.3:6060/debug/pprof");
	CHECK_STR(t->address, "10.1.2.3:6060");
	CHECK_STR(t->scheme, "http");
	CHECK_STR(t->path, "/debug/pprof");
	CHECK_STR(t->service_name, "/k8s/shop/api");
	CHECK_STR(t->container, "app");
	CHECK_STR(t->pod_uid, "uid-1");
	CHECK_EQ(t->types, K8S_PROFILE_ALL);
	CHECK_EQ(t->cpu_seconds, 0);
	CHECK_EQ(t->auth, K8S_AUTH_NONE);
	CHECK_STR(k8s_target_labels_format(t, labels, sizeof(labels)),
		  "namespace=shop pod=api-0 node=node-1 container=app");
	k8s_target_unref(t);
	/* an undeclared port of a two-container pod belongs to no single container */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"7777\"", TWO_CONTAINERS, reason,
		   sizeof(reason));
	CHECK(t && t->container == NULL && t->port == 7777);
	CHECK_STR(k8s_target_labels_format(t, labels, sizeof(labels)),
		  "namespace=shop pod=api-0 node=node-1");
	k8s_target_unref(t);
	/* ... but of a one-container pod it can only be that container's */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"7777\"", NULL, reason, sizeof(reason));
	CHECK(t && t->container && strcmp(t->container, "app") == 0);
	k8s_target_unref(t);
	/* a named port */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"admin\"", TWO_CONTAINERS, reason,
		   sizeof(reason));
	CHECK(t && t->port == 15000 && strcmp(t->container, "sidecar") == 0);
	k8s_target_unref(t);
	/* Pyroscope's pair */
	t = derive("\"pyroscope.io/scrape\":\"true\",\"pyroscope.io/port\":\"pprof\"",
		   TWO_CONTAINERS, reason, sizeof(reason));
	CHECK(t && t->port == 6060);
	k8s_target_unref(t);
	/* path, scheme, types and CPU seconds */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-path\":"
			  "\"/internal/pprof/\",\"coroot.com/profile-scheme\":\"HTTPS\","
			  "\"coroot.com/profile-types\":\" heap , cpu\","
			  "\"coroot.com/profile-cpu-seconds\":\"5\","
			  "\"coroot.com/profile-auth\":\"bearer\"",
		   NULL, reason, sizeof(reason));
	CHECK(t);
	CHECK_EQ(t->auth, K8S_AUTH_BEARER);
	CHECK_STR(t->url, "https://10.1.2.3:6060/internal/pprof");
	CHECK_STR(t->path, "/internal/pprof");
	CHECK_EQ(t->types, K8S_PROFILE_CPU | K8S_PROFILE_HEAP);
	CHECK_EQ(t->cpu_seconds, 5);
	{
		char types[64];
		CHECK_STR(k8s_profile_types_format(t->types, types, sizeof(types)), "cpu,heap");
	}
	k8s_target_unref(t);
	/* path "/" is the root: the scraper appends /heap etc. */
	t = derive(SCRAPE "\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-path\":\"/\"",
		   NULL, reason, sizeof(reason));
	CHECK(t && strcmp(t->url, "http://10.1.2.3:6060") == 0);
	k8s_target_unref(t);
}

TEST(targets_need_running_pods_with_an_ip)
{
	static const char *const phases[] = {"Pending", "Succeeded", "Failed", "Unknown"};
	const char *ann = SCRAPE "\"coroot.com/profile-port\":\"6060\"";
	const struct k8s_target *t;
	struct k8s_pod *p;
	char reason[256];

	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		p = make_pod(&(struct spec){.annotations = ann, .phase = phases[i], .ip = "10.0.0.9"});
		CHECK_EQ(k8s_target_from_pod(p, "w", &t, reason, sizeof(reason)), 0);
		CHECK(t == NULL && reason[0] == '\0');
		free(p);
	}
	p = make_pod(&(struct spec){.annotations = ann, .ip = ""});
	CHECK_EQ(k8s_target_from_pod(p, "w", &t, reason, sizeof(reason)), 0);
	CHECK(t == NULL && reason[0] == '\0');
	free(p);
	/* not annotated, or not "true" */
	t = derive("\"coroot.com/profile-port\":\"6060\"", NULL, reason, sizeof(reason));
	CHECK(t == NULL && !reason[0]);
	t = derive("\"coroot.com/profile-scrape\":\"yes\",\"coroot.com/profile-port\":\"6060\"",
		   NULL, reason, sizeof(reason));
	CHECK(t == NULL && !reason[0]);
	/* IPv6 */
	p = make_pod(&(struct spec){.annotations = ann, .ip = "fd00::17"});
	CHECK_EQ(k8s_target_from_pod(p, "w", &t, reason, sizeof(reason)), 0);
	CHECK(t && strcmp(t->url, "http://[fd00::17]:6060/debug/pprof") == 0);
	k8s_target_unref(t);
	free(p);
}

TEST(invalid_annotations_name_the_annotation)
{
	static const struct {
		const char *ann, *reason;
	} cases[] = {
		{"", "annotation coroot.com/profile-port is missing"},
		{"\"coroot.com/profile-port\":\"abc\"",
		 "annotation coroot.com/profile-port: \"abc\" is neither a port number nor the name "
		 "of a TCP port of a container"},
		{"\"coroot.com/profile-port\":\"0\"",
		 "annotation coroot.com/profile-port: \"0\" is not a port (1-65535)"},
		{"\"coroot.com/profile-port\":\"70000\"",
		 "annotation coroot.com/profile-port: \"70000\" is not a port (1-65535)"},
		{"\"coroot.com/profile-port\":\"0000006060\"",
		 "annotation coroot.com/profile-port: \"0000006060\" is not a port (1-65535)"},
		{"\"coroot.com/profile-port\":\"\"",
		 "annotation coroot.com/profile-port: \"\" is neither a port number"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-types\":\"cpu,allocs\"",
		 "annotation coroot.com/profile-types: unknown profile type \"allocs\""},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-types\":\" , \"",
		 "annotation coroot.com/profile-types: no profile type listed"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-scheme\":\"ftp\"",
		 "annotation coroot.com/profile-scheme: \"ftp\" is not http or https"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-path\":\"debug\"",
		 "annotation coroot.com/profile-path: \"debug\" does not start with /"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-path\":\"/x?y=1\"",
		 "annotation coroot.com/profile-path: \"/x?y=1\" is not a plain URL path"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-cpu-seconds\":\"0\"",
		 "annotation coroot.com/profile-cpu-seconds: \"0\" is not a number of seconds "
		 "between 1 and 600"},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-cpu-seconds\":\"601\"",
		 "annotation coroot.com/profile-cpu-seconds: \"601\""},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-cpu-seconds\":\"10s\"",
		 "annotation coroot.com/profile-cpu-seconds: \"10s\""},
		{"\"coroot.com/profile-port\":\"6060\",\"coroot.com/profile-auth\":\"mtls\"",
		 "annotation coroot.com/profile-auth: \"mtls\" is not none, bearer or basic"},
	};
	char ann[512], reason[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(ann, sizeof(ann), "\"coroot.com/profile-scrape\":\"true\"%s%s",
			 cases[i].ann[0] ? "," : "", cases[i].ann);
		CHECK_MSG(derive(ann, TWO_CONTAINERS, reason, sizeof(reason)) == NULL, "case %zu", i);
		CHECK_MSG(strncmp(reason, cases[i].reason, strlen(cases[i].reason)) == 0,
			  "case %zu: \"%s\"", i, reason);
	}
	/* a pyroscope pod names pyroscope's annotation */
	CHECK(derive("\"pyroscope.io/scrape\":\"true\"", NULL, reason, sizeof(reason)) == NULL);
	CHECK_STR(reason, "annotation pyroscope.io/port is missing");
}

static const char *workload(const struct spec *s, const struct k8s_replicaset *rs)
{
	static char out[256];
	struct k8s_pod *p = make_pod(s);

	if (!p)
		return "(no pod)";
	k8s_workload_name(p, rs, out, sizeof(out));
	free(p);
	return out;
}

#define OWNER(kind, name) "{\"kind\":\"" kind "\",\"name\":\"" name "\",\"controller\":true}"

TEST(naming_from_owner_references)
{
	struct k8s_replicaset rs = {.namespace = "shop", .name = "web-5d8f7c9b6"};

	/* ReplicaSet known: its owner, whatever its kind; a bare ReplicaSet is itself */
	rs.owner_kind = K8S_OWNER_DEPLOYMENT;
	rs.owner_name = "web";
	CHECK_STR(workload(&(struct spec){.name = "web-5d8f7c9b6-abcde",
					  .owners = OWNER("ReplicaSet", "web-5d8f7c9b6")},
			   &rs),
		  "web");
	rs.owner_kind = K8S_OWNER_OTHER;
	rs.owner_name = "canary-rollout";
	CHECK_STR(workload(&(struct spec){.owners = OWNER("ReplicaSet", "web-5d8f7c9b6")}, &rs),
		  "canary-rollout");
	rs.owner_name = NULL;
	CHECK_STR(workload(&(struct spec){.owners = OWNER("ReplicaSet", "web-5d8f7c9b6")}, &rs),
		  "web-5d8f7c9b6");
	/* ReplicaSet unknown: the pod-template-hash rule */
	CHECK_STR(workload(&(struct spec){.owners = OWNER("ReplicaSet", "my-app-v2-7b9f8d6c5"),
					  .labels = "\"pod-template-hash\":\"7b9f8d6c5\""},
			   NULL),
		  "my-app-v2");
	/* ... which needs the label to match the name's suffix */
	CHECK_STR(workload(&(struct spec){.owners = OWNER("ReplicaSet", "my-app-v2-7b9f8d6c5"),
					  .labels = "\"pod-template-hash\":\"other\""},
			   NULL),
		  "my-app-v2-7b9f8d6c5");
	CHECK_STR(workload(&(struct spec){.owners = OWNER("DaemonSet", "fluent-bit")}, NULL),
		  "fluent-bit");
	CHECK_STR(workload(&(struct spec){.owners = OWNER("StatefulSet", "kafka")}, NULL), "kafka");
	CHECK_STR(workload(&(struct spec){.owners = OWNER("CloneSet", "game")}, NULL), "game");
	/* Job: a CronJob's (scheduled minutes, 8 digits or more) or its own */
	CHECK_STR(workload(&(struct spec){.owners = OWNER("Job", "report-28571234")}, NULL),
		  "report");
	CHECK_STR(workload(&(struct spec){.owners = OWNER("Job", "migrate-42")}, NULL),
		  "migrate-42");
	CHECK_STR(workload(&(struct spec){.owners = OWNER("Job", "db-migrate")}, NULL),
		  "db-migrate");
	/* a static pod's mirror */
	CHECK_STR(workload(&(struct spec){.name = "kube-apiserver-cp-1", .node = "cp-1",
					  .owners = OWNER("Node", "cp-1")},
			   NULL),
		  "kube-apiserver");
	CHECK_STR(workload(&(struct spec){.name = "etcd", .node = "cp-1",
					  .owners = OWNER("Node", "cp-1")},
			   NULL),
		  "etcd");
	/* the controller reference wins over the others */
	CHECK_STR(workload(&(struct spec){.owners = "{\"kind\":\"ConfigMap\",\"name\":\"cm\"},"
						    OWNER("StatefulSet", "zk")},
			   NULL),
		  "zk");
	/* the fixtures */
	{
		static const struct {
			const char *file, *workload;
		} f[] = {{"deployment-pod.json", "checkout"}, {"statefulset-pod.json", "postgres"},
			 {"daemonset-pod.json", "node-exporter"}, {"cronjob-pod.json", "report"},
			 {"static-pod.json", "kube-apiserver"}, {"pending-pod.json", "web"}};
		char out[256];
		for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
			struct k8s_pod *p = fixture_pod(f[i].file);
			CHECK(p);
			k8s_workload_name(p, NULL, out, sizeof(out));
			CHECK_MSG(strcmp(out, f[i].workload) == 0, "%s: %s", f[i].file, out);
			free(p);
		}
	}
}

static const char *by_name(const char *pod)
{
	static char out[256];
	k8s_workload_by_pod_name(pod, out, sizeof(out));
	return out;
}

TEST(naming_by_pod_name)
{
	CHECK_STR(by_name("catalog-7d9c8b6f5d-x2w4k"), "catalog");       /* Deployment */
	CHECK_STR(by_name("legacy-5f4d3c2b1a-zz9qq"), "legacy");         /* hex hash */
	CHECK_STR(by_name("report-28571234-7xkzp"), "report");           /* CronJob */
	CHECK_STR(by_name("node-agent-q8z5v"), "node-agent");            /* DaemonSet, Job */
	CHECK_STR(by_name("postgres-0"), "postgres");                    /* StatefulSet */
	CHECK_STR(by_name("web-frontend-12"), "web-frontend");
	CHECK_STR(by_name("standalone"), "standalone");
	CHECK_STR(by_name("my-app-eeeee"), "my-app-eeeee");              /* vowels: no suffix */
	CHECK_STR(by_name("my-service"), "my-service");
	CHECK_STR(by_name("-bcdfg"), "-bcdfg");                          /* never empty */
	CHECK_STR(by_name("x"), "x");
	{
		char out[256];
		k8s_workload_by_job_name("nightly-backup-29000000", out, sizeof(out));
		CHECK_STR(out, "nightly-backup");
		k8s_workload_by_job_name("1234567890", out, sizeof(out));
		CHECK_STR(out, "1234567890");
	}
}

/* ---- the store -------------------------------------------------------------------- */

struct recorder {
	struct buf log; /* "+id url;" "~id url;" "-id;" */
	struct k8s_store *store;
	int snapshot_in_callback;
	size_t snapshot_n;
};

static void record(void *ctx, enum k8s_target_event ev, const struct k8s_target *t)
{
	struct recorder *r = ctx;

	buf_printf(&r->log, "%c%s %s;", "+~-"[ev], t->id,
		   ev == K8S_TARGET_REMOVED ? "" : t->service_name);
	if (r->snapshot_in_callback) {
		struct k8s_target_set set;
		if (k8s_store_snapshot(r->store, &set) == 0) {
			r->snapshot_n = set.n;
			k8s_target_set_free(&set);
		}
	}
}

static const char *take(struct recorder *r)
{
	static char out[4096];
	snprintf(out, sizeof(out), "%s", r->log.data ? r->log.data : "");
	buf_reset(&r->log);
	return out;
}

static struct k8s_pod *pod(const char *name, const char *uid, const char *phase,
			   const char *port, const char *owners)
{
	char ann[256];

	snprintf(ann, sizeof(ann), SCRAPE "\"coroot.com/profile-port\":\"%s\"", port);
	return make_pod(&(struct spec){.name = name, .uid = uid, .phase = phase,
				       .ip = "10.0.0.1", .annotations = ann, .owners = owners});
}

TEST(store_events)
{
	struct recorder rec = {0};
	struct k8s_store_config cfg = {.max_pods = 3, .on_target = record, .on_target_ctx = &rec};
	struct k8s_store *s;
	struct k8s_store_stats st;
	size_t empty_bytes;

	buf_init(&rec.log, 0);
	CHECK_EQ(k8s_store_new(&cfg, &s), 0);
	rec.store = s;
	k8s_store_get_stats(s, &st);
	empty_bytes = st.model_bytes;
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u1", "Running", "6060", NULL)), 0);
	CHECK_STR(take(&rec), "+shop/a-0:6060 /k8s/shop/a;");
	/* the same again: no event */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u1", "Running", "6060", NULL)), 0);
	CHECK_STR(take(&rec), "");
	/* a new port is a new target id */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u1", "Running", "7070", NULL)), 0);
	CHECK_STR(take(&rec), "-shop/a-0:6060 ;+shop/a-0:7070 /k8s/shop/a;");
	/* a rename (same id) is an update */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u1", "Running", "7070",
					     OWNER("StatefulSet", "alpha"))),
		 0);
	CHECK_STR(take(&rec), "~shop/a-0:7070 /k8s/shop/alpha;");
	/* a new incarnation under the same name: removed, then added */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u2", "Running", "7070",
					     OWNER("StatefulSet", "alpha"))),
		 0);
	CHECK_STR(take(&rec), "-shop/a-0:7070 ;+shop/a-0:7070 /k8s/shop/alpha;");
	/* a pod that stops running stops being a target, and comes back */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u2", "Succeeded", "7070", NULL)), 0);
	CHECK_STR(take(&rec), "-shop/a-0:7070 ;");
	CHECK_EQ(k8s_store_pod_upsert(s, pod("a-0", "u2", "Running", "7070", NULL)), 0);
	CHECK_STR(take(&rec), "+shop/a-0:7070 /k8s/shop/a;");
	/* the deletion of an older incarnation does not delete its successor */
	CHECK_EQ(k8s_store_pod_delete(s, "shop", "a-0", "u1"), -ENOENT);
	CHECK_STR(take(&rec), "");
	CHECK_EQ(k8s_store_pod_delete(s, "shop", "a-0", "u2"), 0);
	CHECK_STR(take(&rec), "-shop/a-0:7070 ;");
	CHECK_EQ(k8s_store_pod_delete(s, "shop", "a-0", NULL), -ENOENT);
	/* the bound: new pods are refused, updates of kept ones are not */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("b-0", "b", "Running", "1", NULL)), 0);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("c-0", "c", "Running", "1", NULL)), 0);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("d-0", "d", "Running", "1", NULL)), 0);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("e-0", "e", "Running", "1", NULL)), -E2BIG);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("d-0", "d", "Running", "2", NULL)), 0);
	k8s_store_get_stats(s, &st);
	CHECK_EQ(st.pods, 3);
	CHECK_EQ(st.targets, 3);
	take(&rec);
	/* a snapshot from inside a callback does not deadlock */
	rec.snapshot_in_callback = 1;
	CHECK_EQ(k8s_store_pod_delete(s, "shop", "b-0", NULL), 0);
	CHECK_EQ(rec.snapshot_n, 2);
	rec.snapshot_in_callback = 0;
	/* a list replaces the state: what it did not show was deleted */
	take(&rec);
	k8s_store_pods_begin(s);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("c-0", "c", "Running", "1", NULL)), 0);
	CHECK_EQ(k8s_store_pod_upsert(s, pod("f-0", "f", "Running", "1", NULL)), 0);
	CHECK_EQ(k8s_store_pods_end(s), 1);
	CHECK_STR(take(&rec), "+shop/f-0:1 /k8s/shop/f;-shop/d-0:2 ;");
	{
		struct k8s_target_set set;
		CHECK_EQ(k8s_store_snapshot(s, &set), 0);
		CHECK_EQ(set.n, 2);
		CHECK_STR(set.targets[0]->id, "shop/c-0:1");
		CHECK_STR(set.targets[1]->id, "shop/f-0:1");
		k8s_target_set_free(&set);
	}
	/* an empty list deletes everything; the memory returns to the empty store's */
	k8s_store_pods_begin(s);
	CHECK_EQ(k8s_store_pods_end(s), 2);
	k8s_store_get_stats(s, &st);
	CHECK_EQ(st.pods, 0);
	CHECK_EQ(st.targets, 0);
	CHECK_EQ(st.model_bytes, empty_bytes);
	k8s_store_free(s);
	buf_free(&rec.log);
}

TEST(store_replicasets_rename_targets)
{
	struct recorder rec = {0};
	struct k8s_store_config cfg = {.max_pods = 100, .on_target = record, .on_target_ctx = &rec};
	struct k8s_store *s;
	struct k8s_replicaset *rs;
	cJSON *doc;

	buf_init(&rec.log, 0);
	CHECK_EQ(k8s_store_new(&cfg, &s), 0);
	/* no pod-template-hash label: named after the ReplicaSet until it is known */
	CHECK_EQ(k8s_store_pod_upsert(s, pod("web-6b7c8d9f5-bcdfg", "w1", "Running", "6060",
					     OWNER("ReplicaSet", "web-6b7c8d9f5"))),
		 0);
	CHECK_STR(take(&rec), "+shop/web-6b7c8d9f5-bcdfg:6060 /k8s/shop/web-6b7c8d9f5;");
	doc = cJSON_Parse("{\"metadata\":{\"name\":\"web-6b7c8d9f5\",\"namespace\":\"shop\","
			  "\"ownerReferences\":[" OWNER("Deployment", "web") "]}}");
	CHECK_EQ(k8s_replicaset_from_json(doc, &rs), 0);
	cJSON_Delete(doc);
	CHECK_EQ(k8s_store_replicaset_upsert(s, rs), 0);
	CHECK_STR(take(&rec), "~shop/web-6b7c8d9f5-bcdfg:6060 /k8s/shop/web;");
	/* a ReplicaSet of another namespace with the same name changes nothing */
	doc = cJSON_Parse("{\"metadata\":{\"name\":\"web-6b7c8d9f5\",\"namespace\":\"other\"}}");
	CHECK_EQ(k8s_replicaset_from_json(doc, &rs), 0);
	cJSON_Delete(doc);
	CHECK_EQ(k8s_store_replicaset_upsert(s, rs), 0);
	CHECK_STR(take(&rec), "");
	/* the ReplicaSets' list no longer shows it: back to the fallback */
	k8s_store_replicasets_begin(s);
	CHECK_EQ(k8s_store_replicasets_end(s), 2);
	CHECK_STR(take(&rec), "~shop/web-6b7c8d9f5-bcdfg:6060 /k8s/shop/web-6b7c8d9f5;");
	k8s_store_free(s);
	buf_free(&rec.log);
}

TEST(store_warns_once_per_change)
{
	struct k8s_store_config cfg = {.max_pods = 10};
	struct k8s_store *s;
	char path[512];
	struct buf out;
	int saved = dup(2), fd, n = 0;
	const char *p;

	snprintf(path, sizeof(path), "/tmp/podprof-k8s-warn-%d.log", (int)getpid());
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	CHECK(fd >= 0);
	dup2(fd, 2);
	CHECK_EQ(k8s_store_new(&cfg, &s), 0);
	for (int i = 0; i < 5; i++) /* the same invalid value, again and again */
		k8s_store_pod_upsert(s, pod("x-0", "x", "Running", "abc", NULL));
	k8s_store_pod_upsert(s, pod("x-0", "x", "Running", "0", NULL)); /* another: warned */
	k8s_store_pod_upsert(s, pod("x-0", "x", "Running", "1", NULL)); /* fixed */
	k8s_store_pod_upsert(s, pod("x-0", "x", "Running", "0", NULL)); /* broken again */
	k8s_store_free(s);
	dup2(saved, 2);
	close(saved);
	close(fd);
	buf_init(&out, 0);
	CHECK_EQ(test_read_file(path, &out), 0);
	unlink(path);
	for (p = out.data; p && (p = strstr(p, "is not scraped")) != NULL; p++)
		n++;
	CHECK_MSG(n == 3, "%d warnings:\n%s", n, out.data ? out.data : "");
	CHECK(strstr(out.data, "pod shop/x-0 is not scraped: annotation coroot.com/profile-port: "
			       "\"abc\"") != NULL);
	buf_free(&out);
}
