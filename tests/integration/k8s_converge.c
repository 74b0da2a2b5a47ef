/*
 * Discovery converges, against the fake API server: 1,000 random pod operations (pods
 * annotated or not, phases changing, IPs appearing and going, ports by number and by
 * name, deletions and re-creations) with fault bursts between them (410 expiries,
 * dropped connections, cut events, server restarts that renumber resource versions,
 * malformed and oversized events, endless lines, HTML and 5xx answers, 429, wrong
 * content types, tiny HTTP chunks, gzip). After each burst the target set (snapshot)
 * and the subscriber's view built from the events must both equal the set computed
 * here from the operations. Also: the streaming list, node mode, token rotation in
 * cluster (TLS), client certificates, and the metrics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"
#include "k8s_fake.h"
#include "support.h"
#include "testing.h"

#define NNS 3
#define NPER 40
#define NPODS (NNS * NPER)

/* What the test asked the server for, per pod name. */
struct want {
	int exists, annotation; /* 0 none, 1 coroot, 2 pyroscope, 3 coroot with a bad port */
	int phase;              /* 0 Running, 1 Pending, 2 Succeeded */
	int ip;                 /* 0 none, 1 or 2: two addresses */
	int port;               /* 0: "6060", 1: "pprof" (named, 6060), 2: "7070" */
	int node;               /* 1 or 2 */
};

struct view {
	pthread_mutex_t mu;
	char *items[NPODS * 2]; /* "id url service" of the subscriber's targets */
	size_t n;
	int bad; /* an ADDED for a present id, an UPDATED or REMOVED for an absent one */
};

static uint64_t rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void line_of(const struct k8s_target *t, char *out, size_t len)
{
	snprintf(out, len, "%s %s %s", t->id, t->url, t->service_name);
}

static ssize_t view_find(struct view *v, const char *id)
{
	size_t n = strlen(id);
	for (size_t i = 0; i < v->n; i++)
		if (strncmp(v->items[i], id, n) == 0 && v->items[i][n] == ' ')
			return (ssize_t)i;
	return -1;
}

static void on_target(void *ctx, enum k8s_target_event ev, const struct k8s_target *t)
{
	struct view *v = ctx;
	char line[512];
	ssize_t i;

	line_of(t, line, sizeof(line));
	pthread_mutex_lock(&v->mu);
	i = view_find(v, t->id);
	if ((ev == K8S_TARGET_ADDED) == (i >= 0))
		v->bad++;
	if (i >= 0) {
		free(v->items[i]);
		v->items[i] = v->items[--v->n];
	}
	if (ev != K8S_TARGET_REMOVED && v->n < ARRAY_SIZE(v->items))
		v->items[v->n++] = strdup(line);
	pthread_mutex_unlock(&v->mu);
}

static void pod_ip(int i, int variant, char *out, size_t len)
{
	snprintf(out, len, "127.%d.%d.%d", 100 + variant, i / 200, i % 200 + 1);
}

static int is_target(const struct want *w)
{
	return w->exists && (w->annotation == 1 || w->annotation == 2) && w->phase == 0 && w->ip;
}

/* The expected lines, sorted, joined with newlines. */
static void expected(const struct want *w, int node, struct buf *out)
{
	char *lines[NPODS];
	size_t n = 0;

	for (int i = 0; i < NPODS; i++) {
		char ip[32], line[512];
		if (!is_target(&w[i]) || (node && w[i].node != node))
			continue;
		pod_ip(i, w[i].ip, ip, sizeof(ip));
		snprintf(line, sizeof(line), "ns-%d/p-%d:%s http://%s:%s/debug/pprof /k8s/ns-%d/db-%d",
			 i / NPER, i % NPER, w[i].port == 2 ? "7070" : "6060", ip,
			 w[i].port == 2 ? "7070" : "6060", i / NPER, i / NPER);
		lines[n++] = strdup(line);
	}
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(lines[b - 1], lines[b]) > 0; b--) {
			char *t = lines[b];
			lines[b] = lines[b - 1];
			lines[b - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "%s\n", lines[i]);
		free(lines[i]);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void actual_snapshot(struct k8s_discovery *d, struct buf *out)
{
	struct k8s_target_set set;
	char line[512];

	if (k8s_discovery_snapshot(d, &set))
		return;
	for (size_t i = 0; i < set.n; i++) {
		line_of(set.targets[i], line, sizeof(line));
		buf_printf(out, "%s\n", line);
	}
	k8s_target_set_free(&set);
}

static void actual_view(struct view *v, struct buf *out)
{
	char *sorted[NPODS * 2];
	size_t n;

	pthread_mutex_lock(&v->mu);
	n = v->n;
	memcpy(sorted, v->items, n * sizeof(char *));
	qsort(sorted, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s\n", sorted[i]);
	pthread_mutex_unlock(&v->mu);
}

/* Waits until the snapshot and the subscriber's view equal the expectation. */
static int converged(struct k8s_discovery *d, struct view *v, const struct want *w, int node,
		     int timeout_ms, const char *when)
{
	struct buf exp, snap, seen;
	int ok = 0;

	buf_init(&exp, 0);
	buf_init(&snap, 0);
	buf_init(&seen, 0);
	expected(w, node, &exp);
	for (int t = 0; t <= timeout_ms && !ok; t += 20) {
		buf_reset(&snap);
		buf_reset(&seen);
		actual_snapshot(d, &snap);
		actual_view(v, &seen);
		ok = strcmp(exp.data ? exp.data : "", snap.data ? snap.data : "") == 0 &&
		     strcmp(exp.data ? exp.data : "", seen.data ? seen.data : "") == 0;
		if (!ok)
			usleep(20000);
	}
	if (!ok)
		fprintf(stderr, "  not converged %s\n  expected:\n%s  snapshot:\n%s  view:\n%s", when,
			exp.data ? exp.data : "", snap.data ? snap.data : "",
			seen.data ? seen.data : "");
	buf_free(&exp);
	buf_free(&snap);
	buf_free(&seen);
	return ok;
}

/* Sends the pod's wanted state to the server. */
static int apply(struct fake_kube *f, int i, const struct want *w)
{
	static const char *const phases[] = {"Running", "Pending", "Succeeded"};
	static const char *const ports[] = {"6060", "pprof", "7070"};
	char path[64], ip[32], body[2048], ann[256] = "";

	if (!w->exists) {
		snprintf(path, sizeof(path), "pods/ns-%d/p-%d", i / NPER, i % NPER);
		int st = fake_kube_delete(f, path);
		return st == 200 || st == 404 ? 0 : -1;
	}
	if (w->annotation == 1 || w->annotation == 3)
		snprintf(ann, sizeof(ann), "\"coroot.com/profile-scrape\":\"true\","
					   "\"coroot.com/profile-port\":\"%s\"",
			 w->annotation == 3 ? "nope" : ports[w->port]);
	else if (w->annotation == 2)
		snprintf(ann, sizeof(ann),
			 "\"pyroscope.io/scrape\":\"true\",\"pyroscope.io/port\":\"%s\"",
			 ports[w->port]);
	if (w->ip)
		pod_ip(i, w->ip, ip, sizeof(ip));
	else
		ip[0] = '\0';
	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"p-%d\",\"namespace\":\"ns-%d\",\"annotations\":{%s},"
		 "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\","
		 "\"name\":\"db-%d\",\"uid\":\"sts-%d\",\"controller\":true}]},"
		 "\"spec\":{\"nodeName\":\"node-%d\",\"containers\":[{\"name\":\"app\",\"ports\":"
		 "[{\"name\":\"pprof\",\"containerPort\":6060}]},{\"name\":\"sidecar\"}]},"
		 "\"status\":{\"phase\":\"%s\",\"podIP\":\"%s\"}}",
		 i % NPER, i / NPER, ann, i / NPER, i / NPER, w->node, phases[w->phase], ip);
	{
		int st = fake_kube_post(f, "pods", body, NULL);
		return st == 200 || st == 201 ? 0 : -1;
	}
}

static void random_op(struct fake_kube *f, struct want *wants, int *failures)
{
	int i = (int)rnd(NPODS);
	struct want *w = &wants[i];

	switch (rnd(w->exists ? 6 : 2)) {
	case 0: /* (re)create at random */
	case 1:
		w->exists = 1;
		w->annotation = (int)rnd(4);
		w->phase = rnd(4) == 0 ? (int)rnd(3) : 0;
		w->ip = w->phase == 1 ? 0 : (int)rnd(3);
		w->port = (int)rnd(3);
		w->node = 1 + (int)rnd(2);
		break;
	case 2:
		w->exists = 0;
		break;
	case 3: /* a phase change */
		w->phase = (int)rnd(3);
		if (w->phase == 1)
			w->ip = 0;
		break;
	case 4: /* an IP appears or changes */
		w->ip = 1 + (int)rnd(2);
		break;
	default: /* annotation or port change */
		if (rnd(2))
			w->annotation = (int)rnd(4);
		else
			w->port = (int)rnd(3);
	}
	if (apply(f, i, w))
		(*failures)++;
}

static void fault_burst(struct fake_kube *f, int round)
{
	static const char *const faults[] = {
		"{\"kind\":\"bad_json\",\"count\":1,\"verb\":\"watch\",\"resource\":\"pods\"}",
		"{\"kind\":\"html_500\",\"count\":2,\"resource\":\"pods\"}",
		"{\"kind\":\"status_503\",\"count\":2,\"resource\":\"pods\"}",
		"{\"kind\":\"status_429\",\"count\":1,\"resource\":\"pods\"}",
		"{\"kind\":\"wrong_content_type\",\"count\":1,\"resource\":\"pods\"}",
		"{\"kind\":\"huge_event\",\"count\":1,\"verb\":\"watch\",\"resource\":\"pods\"}",
		"{\"kind\":\"endless\",\"count\":1,\"verb\":\"watch\",\"resource\":\"pods\"}",
		"{\"kind\":\"bad_json\",\"count\":1,\"verb\":\"list\",\"resource\":\"pods\"}",
		"{\"kind\":\"status_401\",\"count\":1,\"resource\":\"pods\"}",
	};
	int n = 1 + (int)rnd(3);

	for (int k = 0; k < n; k++) {
		char chunking[96];
		switch (rnd(8)) {
		case 0:
			fake_kube_post(f, "expire", NULL, NULL);
			break;
		case 1:
			fake_kube_post(f, "drop", rnd(2) ? "{\"partial\":true}" : NULL, NULL);
			break;
		case 2:
			fake_kube_post(f, "restart", NULL, NULL);
			break;
		case 3:
			snprintf(chunking, sizeof(chunking), "{\"size\":%u,\"batch\":%u}",
				 round % 3 ? 0 : 7 + rnd(300), 1 + rnd(5));
			fake_kube_post(f, "chunking", chunking, NULL);
			break;
		case 4:
			fake_kube_post(f, "gzip", rnd(2) ? "{\"threshold\":1,\"watch\":true}"
							 : "{\"threshold\":131072,\"watch\":false}",
				       NULL);
			break;
		default:
			fake_kube_post(f, "fault", faults[rnd(ARRAY_SIZE(faults))], NULL);
			/* a drop makes the watch come back and meet the fault */
			fake_kube_post(f, "drop", NULL, NULL);
		}
	}
}

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->items[i]);
	v->n = 0;
}

static struct k8s_discovery_config quick(struct k8s_config *conn, struct view *v)
{
	struct k8s_discovery_config dc = {0};

	dc.conn = conn;
	dc.watch_replicasets = true;
	dc.max_event_bytes = 1u << 20;
	dc.max_list_bytes = 8u << 20;
	dc.backoff_min_ns = 20 * NS_PER_MS;
	dc.backoff_max_ns = 300 * NS_PER_MS;
	dc.request_timeout_ns = 10 * NS_PER_SEC;
	dc.watch_timeout_min_s = 2; /* watches end normally and resume often */
	dc.watch_timeout_max_s = 4;
	dc.initial_events_idle_ns = NS_PER_SEC;
	dc.on_target = on_target;
	dc.on_target_ctx = v;
	return dc;
}

static void run_random(int streaming, int ops)
{
	struct fake_kube f;
	struct fake_kube_opts o = {.streaming_list = streaming, .max_events = 300};
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct view v = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct want *wants = calloc(NPODS, sizeof(*wants));
	struct k8s_discovery_stats st;
	struct metrics_registry *m = metrics_registry_new();
	struct k8s_discovery_config dc;
	struct buf metrics;
	int failures = 0, r;

	buf_init(&metrics, 0);
	r = fake_kube_start(&f, &o);
	if (r == -ENOENT)
		SKIP("no /usr/bin/python3 or fake_kube.py");
	CHECK_EQ(r, 0);
	CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
	/* a first population before discovery starts: the initial list sees it */
	for (int i = 0; i < 60; i++)
		random_op(&f, wants, &failures);
	dc = quick(conn, &v);
	dc.metrics = m;
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, 20 * NS_PER_SEC), 0);
	CHECK(converged(d, &v, wants, 0, 10000, "after the first list"));
	for (int done = 60, round = 0; done < ops; round++) {
		fault_burst(&f, round);
		for (int k = 0; k < 50 && done < ops; k++, done++)
			random_op(&f, wants, &failures);
		CHECK_MSG(converged(d, &v, wants, 0, 20000, "after a fault burst"), "round %d",
			  round);
	}
	CHECK_EQ(failures, 0);
	CHECK_EQ(v.bad, 0);
	k8s_discovery_get_stats(d, &st);
	printf("  %d ops: %llu events, %llu lists (%llu relists), %llu watch restarts, %llu "
	       "errors, streaming %s\n",
	       ops, (unsigned long long)st.events, (unsigned long long)st.lists,
	       (unsigned long long)st.relists, (unsigned long long)st.watch_restarts,
	       (unsigned long long)st.errors, st.streaming ? "yes" : "no");
	CHECK(st.relists > 0 && st.watch_restarts > 0 && st.errors > 0);
	CHECK_EQ(st.streaming, streaming != 0);
	/* the metrics say the same */
	CHECK_EQ(metrics_render(m, &metrics), 0);
	CHECK(strstr(metrics.data, "podprof_k8s_pods ") != NULL);
	CHECK(strstr(metrics.data, "podprof_targets_discovered ") != NULL);
	CHECK(strstr(metrics.data, "podprof_k8s_relists_total ") != NULL);
	CHECK(strstr(metrics.data, "podprof_k8s_watch_restarts_total ") != NULL);
	CHECK(strstr(metrics.data, "podprof_k8s_events_total{type=\"modified\"}") != NULL);
	CHECK(strstr(metrics.data, "podprof_k8s_errors_total{reason=") != NULL);
	k8s_discovery_free(d);
	d = NULL;
	view_free(&v);
	k8s_config_free(conn);
	metrics_registry_free(m);
	buf_free(&metrics);
	free(wants);
	fake_kube_stop(&f);
}

TEST(converges_through_faults_list_and_watch)
{
	run_random(0, 1000);
}

TEST(converges_through_faults_streaming_list)
{
	run_random(1, 300);
}

TEST(node_mode_sees_only_its_node)
{
	struct fake_kube f;
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct view v = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct want wants[NPODS] = {0};
	struct k8s_discovery_config dc;
	struct k8s_discovery_stats st;
	int failures = 0, on2 = 0;

	if (fake_kube_start(&f, NULL) == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
	for (int i = 0; i < NPODS; i++) {
		wants[i] = (struct want){.exists = 1, .annotation = 1, .ip = 1, .node = 1 + i % 2};
		on2 += wants[i].node == 2;
		CHECK_EQ(apply(&f, i, &wants[i]), 0);
	}
	dc = quick(conn, &v);
	dc.node_name = "node-2";
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, 20 * NS_PER_SEC), 0);
	CHECK(converged(d, &v, wants, 2, 10000, "in node mode"));
	k8s_discovery_get_stats(d, &st);
	/* the server filtered: the other node's pods never reached the model */
	CHECK_EQ(st.pods, on2);
	for (int i = 0; i < 20; i++)
		random_op(&f, wants, &failures);
	CHECK(converged(d, &v, wants, 2, 10000, "after changes in node mode"));
	k8s_discovery_free(d);
	view_free(&v);
	k8s_config_free(conn);
	fake_kube_stop(&f);
}

TEST(token_rotation_in_cluster_over_tls)
{
	struct fake_kube f;
	struct fake_kube_opts o = {.tls = 1, .token = "token-one"};
	struct k8s_config_source src = {.service_host = "127.0.0.1"};
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct view v = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct want wants[NPODS] = {0};
	struct metrics_registry *m = metrics_registry_new();
	struct k8s_discovery_config dc;
	struct buf metrics;
	char port[16], sa[700], err[512], cmd[3000];
	int failures = 0, r;

	r = fake_kube_start(&f, &o);
	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	/* a service account directory as the kubelet mounts it */
	snprintf(sa, sizeof(sa), "%s/sa", f.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/ca.crt %s/ca.crt", sa, f.certs, sa);
	CHECK_EQ(test_sh(cmd, NULL, 0), 0);
	fake_kube_file(&f, "sa/token", "token-one\n");
	snprintf(port, sizeof(port), "%d", f.port);
	src.service_port = port;
	src.serviceaccount_dir = sa;
	CHECK_EQ(k8s_config_load(&src, &conn, err, sizeof(err)), 0);
	CHECK(strncmp(k8s_config_server(conn), "https://127.0.0.1:", 18) == 0);
	for (int i = 0; i < 10; i++) {
		wants[i] = (struct want){.exists = 1, .annotation = 1, .ip = 1, .node = 1};
		CHECK_EQ(apply(&f, i, &wants[i]), 0);
	}
	dc = quick(conn, &v);
	dc.metrics = m;
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, 20 * NS_PER_SEC), 0);
	CHECK(converged(d, &v, wants, 0, 10000, "with the first token"));
	/* the kubelet rotates the token; the server accepts only the new one */
	CHECK_EQ(fake_kube_post(&f, "token", "{\"token\":\"token-two\"}", NULL), 200);
	fake_kube_file(&f, "sa/token", "token-two\n");
	fake_kube_post(&f, "drop", NULL, NULL);
	for (int i = 0; i < 30; i++)
		random_op(&f, wants, &failures);
	CHECK(converged(d, &v, wants, 0, 15000, "after the token rotation"));
	CHECK_EQ(failures, 0);
	buf_init(&metrics, 0);
	metrics_render(m, &metrics);
	CHECK_MSG(strstr(metrics.data, "podprof_k8s_errors_total{reason=\"unauthorized\"}") != NULL,
		  "%s", metrics.data);
	buf_free(&metrics);
	k8s_discovery_free(d);
	view_free(&v);
	k8s_config_free(conn);
	metrics_registry_free(m);
	fake_kube_stop(&f);
}

TEST(client_certificate_authentication)
{
	struct fake_kube f;
	struct fake_kube_opts o = {.tls = 1, .client_ca = 1, .token = "unused-token"};
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct view v = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct want wants[NPODS] = {0};
	struct k8s_discovery_config dc;
	char user[1600];
	int r;

	/* the kubeconfig's user is filled once the certificates exist */
	r = fake_kube_start(&f, &o);
	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	snprintf(user, sizeof(user), "{client-certificate: %s/client.crt, client-key: %s/client.key}",
		 f.certs, f.certs);
	{
		struct buf kc;
		buf_init(&kc, 0);
		buf_printf(&kc,
			   "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
			   "contexts:\n- name: fake\n  context: {cluster: fake, user: tester}\n"
			   "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
			   "    certificate-authority: %s/ca.crt\n"
			   "users:\n- name: tester\n  user: %s\n",
			   f.url, f.certs, user);
		fake_kube_file(&f, "kubeconfig", kc.data);
		buf_free(&kc);
	}
	CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
	wants[0] = (struct want){.exists = 1, .annotation = 1, .ip = 1, .node = 1};
	CHECK_EQ(apply(&f, 0, &wants[0]), 0);
	dc = quick(conn, &v);
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, 20 * NS_PER_SEC), 0);
	CHECK(converged(d, &v, wants, 0, 10000, "with a client certificate"));
	k8s_discovery_free(d);
	view_free(&v);
	k8s_config_free(conn);
	fake_kube_stop(&f);
}
