/*
 * Discovery against a misbehaving API server: malformed JSON (events and lists), an
 * event larger than the bound, bytes forever without a newline, a list page of 100,000
 * pods, more pods than --max-pods, a wrong content type, HTML error pages, 5xx, 429
 * with Retry-After, 403 with its RBAC hint, a server slower than the timeout. Each
 * must give a clear error (counted in podprof_k8s_errors_total by reason), keep memory
 * bounded, and recover as soon as the server behaves again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"
#include "k8s_fake.h"
#include "support.h"
#include "testing.h"

struct env {
	struct fake_kube f;
	struct k8s_config *conn;
	struct k8s_discovery *d;
	struct metrics_registry *m;
	int pods; /* annotated pods created so far */
};

static struct k8s_discovery_config config(struct env *e)
{
	struct k8s_discovery_config dc = {0};

	dc.conn = e->conn;
	dc.metrics = e->m;
	dc.max_event_bytes = 1u << 20;
	dc.max_list_bytes = 16u << 20;
	dc.backoff_min_ns = 20 * NS_PER_MS;
	dc.backoff_max_ns = 200 * NS_PER_MS;
	dc.request_timeout_ns = 10 * NS_PER_SEC;
	dc.watch_timeout_min_s = 30;
	dc.watch_timeout_max_s = 40;
	return dc;
}

static int setup(struct env *e, const struct fake_kube_opts *o)
{
	struct k8s_config_source src = {0};
	char err[512];
	int r;

	memset(e, 0, sizeof(*e));
	r = fake_kube_start(&e->f, o);
	if (r)
		return r;
	src.kubeconfig = e->f.kubeconfig;
	r = k8s_config_load(&src, &e->conn, err, sizeof(err));
	if (r)
		fprintf(stderr, "  %s\n", err);
	e->m = metrics_registry_new();
	return r;
}

static void teardown(struct env *e)
{
	k8s_discovery_free(e->d);
	k8s_config_free(e->conn);
	metrics_registry_free(e->m);
	fake_kube_stop(&e->f);
}

/* The value of podprof_k8s_errors_total{reason="<reason>"}, 0 when absent. */
static double errors(struct env *e, const char *reason)
{
	struct buf out;
	char needle[128];
	const char *p;
	double v = 0;

	buf_init(&out, 0);
	metrics_render(e->m, &out);
	snprintf(needle, sizeof(needle), "podprof_k8s_errors_total{reason=\"%s\"} ", reason);
	p = out.data ? strstr(out.data, needle) : NULL;
	if (p)
		v = strtod(p + strlen(needle), NULL);
	buf_free(&out);
	return v;
}

/* Creates one more annotated pod and waits until it is a target. */
static int add_and_see(struct env *e, int timeout_ms)
{
	char body[512], id[64];
	int n = e->pods++;

	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"ok-%d\",\"namespace\":\"default\",\"annotations\":"
		 "{\"coroot.com/profile-scrape\":\"true\",\"coroot.com/profile-port\":\"6060\"}}}",
		 n);
	if (fake_kube_post(&e->f, "pods", body, NULL) != 200 &&
	    fake_kube_post(&e->f, "pods", body, NULL) != 201)
		return 0;
	snprintf(id, sizeof(id), "default/ok-%d:6060", n);
	for (int t = 0; t <= timeout_ms; t += 20) {
		struct k8s_target_set set;
		int found = 0;
		if (k8s_discovery_snapshot(e->d, &set) == 0) {
			for (size_t i = 0; i < set.n; i++)
				found |= strcmp(set.targets[i]->id, id) == 0;
			k8s_target_set_free(&set);
		}
		if (found)
			return 1;
		usleep(20000);
	}
	return 0;
}

static int start_within(struct env *e, struct k8s_discovery_config *dc, int64_t ns)
{
	if (k8s_discovery_start(dc, &e->d))
		return 0;
	return k8s_discovery_wait_ready(e->d, ns) == 0;
}

static int start(struct env *e, struct k8s_discovery_config *dc)
{
	return start_within(e, dc, 30 * NS_PER_SEC);
}

/* Injects a fault into the pods watch, makes the watch come back to meet it, and
 * checks the error reason and the recovery. */
static int watch_fault(struct env *e, const char *fault, const char *reason)
{
	double before = errors(e, reason);
	char body[256];

	snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"count\":1,\"verb\":\"watch\","
				     "\"resource\":\"pods\"}", fault);
	if (fake_kube_post(&e->f, "fault", body, NULL) != 200)
		return 0;
	fake_kube_post(&e->f, "drop", NULL, NULL);
	for (int t = 0; t < 15000 && errors(e, reason) == before; t += 20)
		usleep(20000);
	if (errors(e, reason) == before) {
		fprintf(stderr, "  %s: no %s error counted\n", fault, reason);
		return 0;
	}
	return add_and_see(e, 15000);
}

#if defined(__SANITIZE_ADDRESS__)
/* the same code at a fifth of the scale: ASan's quarantine keeps freed memory (no RSS
 * verdict) and its allocator makes 100,000 pods take a minute */
#define MANY_PODS 20000
#define SANITIZER 1
#else
#define MANY_PODS 100000
#define SANITIZER 0
#endif

TEST(bad_watch_streams)
{
	struct env e;
	struct k8s_discovery_config dc;
	long rss0, rss1;
	int r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	dc = config(&e);
	CHECK(start(&e, &dc));
	CHECK(add_and_see(&e, 10000));
	rss0 = test_vm_rss_kib();
	CHECK(watch_fault(&e, "bad_json", "malformed_json"));
	/* a 64 MiB event against a 1 MiB bound, then bytes without end */
	CHECK(watch_fault(&e, "huge_event", "too_large"));
	CHECK(watch_fault(&e, "endless", "too_large"));
	CHECK(watch_fault(&e, "wrong_content_type", "content_type"));
	CHECK(watch_fault(&e, "html_500", "server_error"));
	CHECK(watch_fault(&e, "status_503", "server_error"));
	rss1 = test_vm_rss_kib();
	printf("  RSS before %ld KiB, after %ld KiB\n", rss0, rss1);
	/* nothing near the 64 MiB the server sent was kept */
	CHECK(SANITIZER || rss1 - rss0 < 16 * 1024);
	teardown(&e);
}

TEST(bad_lists)
{
	struct env e;
	struct k8s_discovery_config dc;
	long hwm0, hwm1;
	int r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	/* every list fails at first: the list restarts, discovery becomes ready after */
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"bad_json\",\"count\":1,\"verb\":\"list\","
					       "\"resource\":\"pods\"}", NULL), 200);
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"html_500\",\"count\":1,\"verb\":\"list\","
					       "\"resource\":\"pods\"}", NULL), 200);
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"wrong_content_type\",\"count\":1,"
					       "\"verb\":\"list\",\"resource\":\"pods\"}", NULL), 200);
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"huge_list\",\"count\":1,\"verb\":"
					       "\"list\",\"resource\":\"pods\"}", NULL), 200);
	dc = config(&e);
	dc.streaming_list = K8S_STREAMING_OFF;
	dc.max_pods = 1000;
	hwm0 = test_vm_hwm_kib();
	CHECK(start(&e, &dc));
	hwm1 = test_vm_hwm_kib();
	CHECK(errors(&e, "malformed_json") >= 1);
	CHECK(errors(&e, "server_error") >= 1);
	CHECK(errors(&e, "content_type") >= 1);
	/* the page of 100,000 pods stopped at the 16 MiB bound */
	CHECK(errors(&e, "too_large") >= 1);
	printf("  peak RSS grew by %ld KiB through a 100,000-pod list page\n", hwm1 - hwm0);
	CHECK(SANITIZER || hwm1 - hwm0 < 64 * 1024);
	CHECK(add_and_see(&e, 10000));
	teardown(&e);
}

TEST(more_pods_than_the_bound)
{
	struct env e;
	struct k8s_discovery_config dc;
	struct k8s_discovery_stats st;
	struct buf log;
	char path[700];
	int saved, fd, r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(fake_kube_post(&e.f, "bulk", "{\"count\":3000,\"annotated_every\":10,"
					      "\"managed_fields\":true}", NULL), 200);
	snprintf(path, sizeof(path), "%s/stderr.log", e.f.dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	saved = dup(2);
	dup2(fd, 2);
	dc = config(&e);
	dc.max_pods = 1000;
	r = start(&e, &dc);
	dup2(saved, 2);
	close(saved);
	close(fd);
	CHECK(r);
	k8s_discovery_get_stats(e.d, &st);
	printf("  %zu pods kept of 3000, %zu targets, %zu bytes of model\n", st.pods, st.targets,
	       st.model_bytes);
	CHECK_EQ(st.pods, 1000);
	CHECK(errors(&e, "object_limit") >= 1);
	buf_init(&log, 0);
	test_read_file(path, &log);
	CHECK_MSG(log.data && strstr(log.data, "pods: the bound on pods was reached: 2000 not kept "
						 "of a list (raise --max-pods)"),
		  "%s", log.data ? log.data : "");
	buf_free(&log);
	teardown(&e);
}

TEST(a_list_of_100000_pods_with_a_smaller_bound)
{
	char bulk[128];
	struct env e;
	struct k8s_discovery_config dc;
	struct k8s_discovery_stats st;
	long hwm0, hwm1;
	int64_t t0;
	int r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	snprintf(bulk, sizeof(bulk), "{\"count\":%d,\"annotated_every\":100,"
				     "\"managed_fields\":false}", MANY_PODS);
	CHECK_EQ(fake_kube_post(&e.f, "bulk", bulk, NULL), 200);
	/* on loopback, the server's gzip only costs time (Python compressing 250 MB) */
	CHECK_EQ(fake_kube_post(&e.f, "gzip", "{\"threshold\":1000000000000}", NULL), 200);
	dc = config(&e);
	dc.max_pods = 5000;
	dc.streaming_list = K8S_STREAMING_OFF;
	hwm0 = test_vm_hwm_kib();
	t0 = time_mono_ns();
	CHECK(start_within(&e, &dc, 200 * NS_PER_SEC));
	hwm1 = test_vm_hwm_kib();
	k8s_discovery_get_stats(e.d, &st);
	printf("  %d pods listed in %.1f s: %zu kept, %zu targets; peak RSS grew by %ld KiB\n",
	       MANY_PODS, (double)(time_mono_ns() - t0) / 1e9, st.pods, st.targets, hwm1 - hwm0);
	CHECK_EQ(st.pods, 5000);
	CHECK(errors(&e, "object_limit") >= 1);
	/* pages of 500 are parsed one at a time: no more than a few pages' worth */
	CHECK(SANITIZER || hwm1 - hwm0 < 48 * 1024);
	teardown(&e);
}

TEST(throttled_forbidden_and_slow)
{
	struct env e;
	struct k8s_discovery_config dc;
	struct buf log;
	char path[700];
	int64_t t0;
	int saved, fd, r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	/* 403 before the first list: logged loudly with the RBAC hint, retried */
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"status_403\",\"count\":3,"
					       "\"resource\":\"pods\"}", NULL), 200);
	snprintf(path, sizeof(path), "%s/stderr.log", e.f.dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	saved = dup(2);
	dup2(fd, 2);
	dc = config(&e);
	r = start(&e, &dc);
	dup2(saved, 2);
	close(saved);
	close(fd);
	CHECK(r);
	CHECK(errors(&e, "forbidden") >= 3);
	buf_init(&log, 0);
	test_read_file(path, &log);
	/* once a minute, not three times */
	CHECK_MSG(log.data && strstr(log.data, "HTTP 403 (pods is forbidden: User") &&
			  strstr(log.data, "podprof's service account needs list and watch "
					   "on pods") &&
			  strstr(strstr(log.data, "HTTP 403") + 1, "HTTP 403") == NULL,
		  "%s", log.data ? log.data : "");
	buf_free(&log);
	/* 429 with Retry-After: 1: the retry waits that long */
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"status_429\",\"count\":1,\"verb\":"
					       "\"watch\",\"resource\":\"pods\"}", NULL), 200);
	t0 = time_mono_ns();
	fake_kube_post(&e.f, "drop", NULL, NULL);
	CHECK(add_and_see(&e, 15000));
	CHECK(errors(&e, "throttled") >= 1);
	CHECK(time_mono_ns() - t0 >= 900 * NS_PER_MS);
	/* a list slower than the request timeout: a timeout, then a normal list */
	k8s_discovery_free(e.d);
	e.d = NULL;
	CHECK_EQ(fake_kube_post(&e.f, "fault", "{\"kind\":\"slow\",\"count\":1,\"seconds\":3,"
					       "\"verb\":\"list\",\"resource\":\"pods\"}", NULL), 200);
	dc.request_timeout_ns = NS_PER_SEC;
	dc.streaming_list = K8S_STREAMING_OFF;
	CHECK(start(&e, &dc));
	CHECK(errors(&e, "timeout") >= 1);
	CHECK(add_and_see(&e, 10000));
	teardown(&e);
}

/* A server whose watches end at once, empty: client-go's "very short watch". */
static const char short_watch_server[] =
	"import http.server, sys\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def do_GET(self):\n"
	"        body = b'' if 'watch=1' in self.path else \\\n"
	"            b'{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}'\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Type', 'application/json')\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(body)\n"
	"    def log_message(self, *a):\n"
	"        pass\n"
	"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
	"open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]))\n"
	"__import__('os').rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"s.serve_forever()\n";

TEST(very_short_watches_back_off)
{
	struct env e;
	struct k8s_discovery_config dc;
	struct k8s_config_source src = {0};
	struct k8s_discovery_stats st;
	char portfile[700], kc[512], err[256], *argv[4];
	struct buf port;
	pid_t pid;
	int r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	snprintf(portfile, sizeof(portfile), "%s/short.port", e.f.dir);
	argv[0] = "/usr/bin/python3";
	argv[1] = (char *)fake_kube_file(&e.f, "short.py", short_watch_server);
	argv[2] = portfile;
	argv[3] = NULL;
	pid = test_spawn(argv, NULL, NULL);
	CHECK(pid > 0);
	CHECK_EQ(test_wait_file(portfile, 10000), 0);
	buf_init(&port, 0);
	test_read_file(portfile, &port);
	snprintf(kc, sizeof(kc), "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, "
				 "context: {cluster: x}}]\nclusters: [{name: x, cluster: {server: "
				 "'http://127.0.0.1:%s'}}]\n", port.data);
	buf_free(&port);
	k8s_config_free(e.conn);
	e.conn = NULL;
	src.kubeconfig = fake_kube_file(&e.f, "short.kubeconfig", kc);
	CHECK_EQ(k8s_config_load(&src, &e.conn, err, sizeof(err)), 0);
	dc = config(&e);
	dc.streaming_list = K8S_STREAMING_OFF;
	dc.backoff_min_ns = 100 * NS_PER_MS;
	dc.backoff_max_ns = 400 * NS_PER_MS;
	CHECK(start(&e, &dc));
	usleep(1500 * 1000);
	k8s_discovery_get_stats(e.d, &st);
	/* each empty watch is a failure that backs off: a handful, not thousands */
	printf("  %llu watch restarts in 1.5 s\n", (unsigned long long)st.watch_restarts);
	CHECK(errors(&e, "short_watch") >= 2);
	CHECK(st.watch_restarts <= 20);
	k8s_discovery_free(e.d);
	e.d = NULL;
	test_stop(pid, 2000);
	teardown(&e);
}

TEST(unreachable_server)
{
	struct env e;
	struct k8s_discovery_config dc;
	struct k8s_config_source src = {0};
	char kc[512], err[256];
	int port = test_free_port(), r = setup(&e, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	/* nothing listens on port: connection refused, counted, retried */
	snprintf(kc, sizeof(kc), "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, "
				 "context: {cluster: x}}]\nclusters: [{name: x, cluster: {server: "
				 "'http://127.0.0.1:%d'}}]\n", port);
	k8s_config_free(e.conn);
	e.conn = NULL;
	src.kubeconfig = fake_kube_file(&e.f, "down.kubeconfig", kc);
	CHECK_EQ(k8s_config_load(&src, &e.conn, err, sizeof(err)), 0);
	dc = config(&e);
	CHECK_EQ(k8s_discovery_start(&dc, &e.d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(e.d, 500 * NS_PER_MS), -ETIMEDOUT);
	for (int t = 0; t < 10000 && errors(&e, "connect") < 1; t += 20)
		usleep(20000);
	CHECK(errors(&e, "connect") >= 1);
	CHECK(!k8s_discovery_ready(e.d));
	teardown(&e);
}
