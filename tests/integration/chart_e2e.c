/*
 * The chart end to end, without a cluster: the processes the rendered Deployment and
 * DaemonSet would start (their command, arguments and environment, with the
 * secretKeyRef, fieldRef and $(VAR) values resolved as the kubelet resolves them)
 * run here against the fake API server (over TLS, with a service-account token, as
 * in a pod) and the fake Coroot receiver:
 *  - the cluster Deployment's environment discovers the annotated pods (as `podprof
 *    targets`, which shares the discovery options), the local scraper's only those of
 *    its node;
 *  - the cluster Deployment scrapes an annotated pod (a Go program serving
 *    net/http/pprof on 127.0.0.1) and its profiles arrive under the pod's workload,
 *    with the API key from the Secret; its probes answer;
 *  - the DaemonSet's node container, in force mode (set as a Coroot resource's
 *    spec.nodeAgent.env would set it), switches heap sampling on in a Go program
 *    whose linker turned it off and uploads its heap profiles, labelled with the node;
 *  - the DaemonSet's local scraper scrapes the annotated pods of its node only;
 *  - what the scrapers requested from the API server is exactly what the rendered
 *    ClusterRole grants.
 * What stands in for the pod: volumes are directories under a temporary root (paths in
 * the environment are rewritten), LISTEN is moved to a free port on 127.0.0.1 and
 * PODPROF_SERVICEACCOUNT_DIR points at the token directory; nothing else is added.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chart_common.h"
#include "support.h"
#include "testing.h"

#define TOKEN "e2e-service-account-token"
#define API_KEY "e2e-project-key"
#define NODE "node-1"

static struct {
	int state;
	char why[512];
	char *dir;
	char *certs;
	struct chart_peer kube;
	pid_t target_pid;  /* pprofsrv: the annotated pods' pprof endpoint */
	int target_port;
	pid_t noprof_pid;  /* a Go program with heap profiling off */
} g;

/* One phase: a fresh receiver and a rendering that points at it. */
struct phase {
	char *dir;
	struct chart_peer coroot;
	struct chart_render r;
	pid_t pid;
	int port;
	char *log;
};

#define MAX_PHASES 16
static struct phase *live[MAX_PHASES]; /* started, not yet stopped: stopped at exit */
static void phase_stop(struct phase *ph);

static void cleanup(void)
{
	for (int i = 0; i < MAX_PHASES; i++)
		if (live[i])
			phase_stop(live[i]);
	if (g.target_pid > 0)
		test_stop(g.target_pid, 2000);
	if (g.noprof_pid > 0)
		test_stop(g.noprof_pid, 2000);
	chart_stop_peer(&g.kube);
	if (g.dir && !getenv("PODPROF_KEEP_TMP"))
		test_rmtree(g.dir);
}

/* The newest toolchain's build of a Go test program (caller frees), or NULL. */
static char *go_program(const char *name)
{
	const char *go = test_go_newest();
	const char *v = go ? strstr(go, "go-1.") : NULL;
	char *path = chart_asprintf("%s/go1.%d/%s", test_go_cache_dir(), v ? atoi(v + 5) : 0,
				    name);

	if (access(path, X_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static int read_int_file(const char *path, int timeout_ms)
{
	struct buf b;
	int v = 0;

	if (test_wait_file(path, timeout_ms) != 0)
		return -1;
	for (int t = 0; t < timeout_ms && v <= 0; t += 50) {
		buf_init(&b, 64);
		if (test_read_file(path, &b) == 0 && b.data)
			v = atoi(b.data);
		buf_free(&b);
		if (v <= 0)
			usleep(50000);
	}
	return v;
}

/* Pods the scrapers must find: Deployment api -> ReplicaSet -> pod on node-1, and a
 * bare pod "other" on node-2, both annotated and served by pprofsrv. */
static int post_objects(void)
{
	char *rs = chart_asprintf(
		"{\"metadata\": {\"name\": \"api-7d4b9c8f5d\", \"namespace\": \"shop\","
		" \"labels\": {\"app\": \"api\", \"pod-template-hash\": \"7d4b9c8f5d\"},"
		" \"ownerReferences\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
		" \"name\": \"api\", \"uid\": \"0b6f0d38-4e61-4c3e-9d3c-000000000001\","
		" \"controller\": true}]}}");
	char *pods = chart_asprintf(
		"{\"items\": ["
		"{\"metadata\": {\"name\": \"api-7d4b9c8f5d-x2k9p\", \"namespace\": \"shop\","
		" \"labels\": {\"app\": \"api\", \"pod-template-hash\": \"7d4b9c8f5d\"},"
		" \"annotations\": {\"coroot.com/profile-scrape\": \"true\","
		" \"coroot.com/profile-port\": \"%d\"},"
		" \"ownerReferences\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"ReplicaSet\","
		" \"name\": \"api-7d4b9c8f5d\", \"uid\": \"0b6f0d38-4e61-4c3e-9d3c-000000000002\","
		" \"controller\": true}]},"
		" \"spec\": {\"nodeName\": \"" NODE "\", \"containers\": [{\"name\": \"api\","
		" \"image\": \"example/api:1\", \"ports\": [{\"containerPort\": %d}]}]},"
		" \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}},"
		"{\"metadata\": {\"name\": \"other\", \"namespace\": \"shop\","
		" \"annotations\": {\"coroot.com/profile-scrape\": \"true\","
		" \"coroot.com/profile-port\": \"%d\", \"coroot.com/profile-types\": \"heap\"}},"
		" \"spec\": {\"nodeName\": \"node-2\", \"containers\": [{\"name\": \"other\","
		" \"image\": \"example/other:1\"}]},"
		" \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}]}",
		g.target_port, g.target_port, g.target_port);
	char *ca = chart_asprintf("%s/ca.crt", g.certs);
	char *url_rs = chart_asprintf("https://127.0.0.1:%d/_control/replicasets", g.kube.port);
	char *url_pods = chart_asprintf("https://127.0.0.1:%d/_control/pods", g.kube.port);
	int r = chart_http_post(url_rs, ca, rs) == 200 && chart_http_post(url_pods, ca, pods) == 200
			? 0
			: -1;
	free(rs);
	free(pods);
	free(ca);
	free(url_rs);
	free(url_pods);
	return r;
}

static int setup(void)
{
	char *cmd, *portfile, *pidfile, *cert, *key;
	static char *target, *noprof;
	int r;

	if (g.state)
		return g.state;
	g.state = -1;
	if (!chart_renderer(g.why, sizeof(g.why)))
		return g.state;
	target = go_program("pprofsrv-exe");
	noprof = go_program("noprof-exe");
	if (!target || !noprof) {
		snprintf(g.why, sizeof(g.why), "the Go test programs pprofsrv and noprof are not "
					       "built (tests/go/build.sh)");
		return g.state;
	}
	if (access(chart_swagger(), R_OK) != 0) {
		snprintf(g.why, sizeof(g.why), "no OpenAPI document at %s", chart_swagger());
		return g.state;
	}
	g.dir = test_tmpdir("chart-e2e");
	atexit(cleanup);
	g.certs = chart_asprintf("%s/kube-certs", test_binary_dir());
	cmd = chart_asprintf("'%s/tests/tools/kube_certs.sh' '%s'", test_source_dir(), g.certs);
	r = test_sh(cmd, NULL, 1);
	free(cmd);
	if (r != 0) {
		snprintf(g.why, sizeof(g.why), "kube_certs.sh failed (%d)", r);
		return g.state;
	}
	cert = chart_asprintf("%s/server.crt", g.certs);
	key = chart_asprintf("%s/server.key", g.certs);
	{
		/* the request log (not --quiet) tells which API requests podprof made */
		const char *extra[] = {"--tls-cert", cert, "--tls-key", key, "--token", TOKEN, NULL};
		r = chart_start_kube(&g.kube, g.dir, extra);
	}
	free(cert);
	free(key);
	if (r != 0) {
		snprintf(g.why, sizeof(g.why), "the fake API server did not start");
		return g.state;
	}
	portfile = chart_asprintf("%s/pprofsrv.port", g.dir);
	{
		char *argv[] = {(char *)target, "-port-file", portfile, NULL};
		g.target_pid = test_spawn(argv, NULL, "/dev/null");
	}
	g.target_port = read_int_file(portfile, 15000);
	free(portfile);
	pidfile = chart_asprintf("%s/noprof.pid", g.dir);
	{
		/* a name of its own: its service.name is the executable's name */
		char *copy = chart_asprintf("%s/chart-e2e-noprof", g.dir);
		char *cp = chart_asprintf("cp '%s' '%s'", noprof, copy);
		char *argv[] = {copy, pidfile, NULL};
		if (test_sh(cp, NULL, 1) == 0)
			g.noprof_pid = test_spawn(argv, NULL, "/dev/null");
		free(cp);
		free(copy);
	}
	r = read_int_file(pidfile, 15000);
	free(pidfile);
	if (g.target_port <= 0 || r <= 0) {
		snprintf(g.why, sizeof(g.why), "the Go test programs did not start");
		return g.state;
	}
	if (post_objects() != 0) {
		snprintf(g.why, sizeof(g.why), "the fake API server refused the test pods");
		return g.state;
	}
	g.state = 1;
	return g.state;
}

#define NEED_SETUP()                                                                   \
	do {                                                                           \
		if (setup() != 1)                                                      \
			SKIP("%s", g.why);                                             \
	} while (0)

static int phase_start(struct phase *ph, const char *name)
{
	char *url;
	int st;

	memset(ph, 0, sizeof(*ph));
	for (int i = 0; i < MAX_PHASES; i++)
		if (!live[i]) {
			live[i] = ph;
			break;
		}
	ph->dir = chart_asprintf("%s/%s", g.dir, name);
	mkdir(ph->dir, 0755);
	if (chart_start_coroot(&ph->coroot, ph->dir, (const char *const[]){"--api-key", API_KEY,
									 NULL}) != 0)
		return -1;
	url = chart_asprintf("coroot.url=http://127.0.0.1:%d", ph->coroot.port);
	{
		char *values = chart_asprintf("%s/e2e.yaml", chart_values_dir());
		const char *args[] = {"--name", "e2e", "--namespace", "podprof", "-f", values,
				      "--set", url, NULL};
		st = chart_render(args, &ph->r);
		free(values);
	}
	free(url);
	if (st != 0)
		fprintf(stderr, "  rendering failed: %s\n", ph->r.err ? ph->r.err : "");
	return st == 0 ? 0 : -1;
}

static void phase_stop(struct phase *ph)
{
	for (int i = 0; i < MAX_PHASES; i++)
		if (live[i] == ph)
			live[i] = NULL;
	if (ph->pid > 0)
		test_stop(ph->pid, 5000);
	chart_stop_peer(&ph->coroot);
	chart_render_free(&ph->r);
	free(ph->dir);
	free(ph->log);
	memset(ph, 0, sizeof(*ph));
}

/*
 * Starts the process of a rendered container as the kubelet would. Returns 0, or -1
 * with why; *exited holds the status when the process ended at once.
 */
static int run_container(struct phase *ph, cJSON *workload, const char *container,
			 const char *pod_name, char *why, size_t whylen)
{
	cJSON *c = chart_container(workload, container);
	char *root = chart_asprintf("%s/%s-fs", ph->dir, container);
	char *sa = chart_asprintf("%s/serviceaccount", root);
	char *listen, *sa_env, *file, *service_port;
	char **argv = NULL, **envp = NULL;
	int r = -1;

	if (!c) {
		snprintf(why, whylen, "no container %s", container);
		goto out;
	}
	mkdir(root, 0755);
	mkdir(sa, 0755);
	/* what the service-account token volume holds */
	file = chart_asprintf("%s/token", sa);
	test_write_file(file, TOKEN, strlen(TOKEN));
	free(file);
	file = chart_asprintf("%s/namespace", sa);
	test_write_file(file, "podprof", 7);
	free(file);
	{
		char *ca = chart_asprintf("%s/ca.crt", g.certs), *text = chart_slurp(ca);
		file = chart_asprintf("%s/ca.crt", sa);
		if (text)
			test_write_file(file, text, strlen(text));
		free(text);
		free(ca);
		free(file);
	}
	ph->port = test_free_port();
	listen = chart_asprintf("LISTEN=127.0.0.1:%d", ph->port);
	sa_env = chart_asprintf("PODPROF_SERVICEACCOUNT_DIR=%s", sa);
	service_port = chart_asprintf("%d", g.kube.port);
	{
		const char *extra[] = {listen, sa_env, NULL};
		const char *objects[] = {"coroot-api-key/key=" API_KEY, NULL};
		struct chart_pod pod = {.namespace = "podprof", .pod_name = pod_name,
					.node_name = NODE, .pod_ip = "127.0.0.1",
					.docs = ph->r.docs, .objects = objects, .root = root,
					.service_host = "127.0.0.1", .service_port = service_port,
					.extra_env = extra};
		if (chart_process(c, &pod, &argv, &envp, why, whylen) != 0)
			goto free_env;
	}
	ph->log = chart_asprintf("%s/%s.log", ph->dir, container);
	ph->pid = test_spawn(argv, envp, ph->log);
	{
		/* listening, or gone (a configuration error ends it at once) */
		int st = ph->pid > 0 ? -ETIMEDOUT : -1, up = 0;
		for (int t = 0; t < 15000 && st == -ETIMEDOUT && !up; t += 100) {
			up = test_wait_port(ph->port, 100) == 0;
			if (!up)
				st = test_wait(ph->pid, 0);
		}
		if (!up) {
			char *log = chart_slurp(ph->log);
			snprintf(why, whylen, "%s did not start (status %d): %.1500s", container,
				 st, log ? log : "");
			free(log);
			ph->pid = st >= 0 ? 0 : ph->pid;
			goto free_env;
		}
	}
	r = 0;
free_env:
	free(listen);
	free(sa_env);
	free(service_port);
out:
	chart_strv_free(argv);
	chart_strv_free(envp);
	free(root);
	free(sa);
	return r;
}

/*
 * Runs `podprof targets` with the environment of a rendered scraper container (its
 * command with "targets" for "cluster": the same discovery options and variables).
 * Returns the exit status; the output lands in *out (caller frees).
 */
static int run_targets(struct phase *ph, cJSON *workload, const char *container,
		       const char *pod_name, char **out, char *why, size_t whylen)
{
	cJSON *c = chart_container(workload, container);
	char *root = chart_asprintf("%s/%s-targets-fs", ph->dir, container);
	char *sa = chart_asprintf("%s/serviceaccount", root), *file, *sa_env, *service_port;
	char *log = chart_asprintf("%s/%s-targets.log", ph->dir, container);
	char **argv = NULL, **envp = NULL;
	int st = -1;

	*out = NULL;
	mkdir(root, 0755);
	mkdir(sa, 0755);
	file = chart_asprintf("%s/token", sa);
	test_write_file(file, TOKEN, strlen(TOKEN));
	free(file);
	{
		char *ca = chart_asprintf("%s/ca.crt", g.certs), *text = chart_slurp(ca);
		file = chart_asprintf("%s/ca.crt", sa);
		if (text)
			test_write_file(file, text, strlen(text));
		free(text);
		free(ca);
		free(file);
	}
	sa_env = chart_asprintf("PODPROF_SERVICEACCOUNT_DIR=%s", sa);
	service_port = chart_asprintf("%d", g.kube.port);
	{
		const char *extra[] = {sa_env, NULL};
		const char *objects[] = {"coroot-api-key/key=" API_KEY, NULL};
		struct chart_pod pod = {.namespace = "podprof", .pod_name = pod_name,
					.node_name = NODE, .pod_ip = "127.0.0.1",
					.docs = ph->r.docs, .objects = objects, .root = root,
					.service_host = "127.0.0.1", .service_port = service_port,
					.extra_env = extra};
		if (c && chart_process(c, &pod, &argv, &envp, why, whylen) == 0 && argv[1] &&
		    strcmp(argv[1], "cluster") == 0) {
			pid_t pid;
			free(argv[1]);
			argv[1] = strdup("targets");
			pid = test_spawn(argv, envp, log);
			st = test_wait(pid, 60000);
			if (st == -ETIMEDOUT)
				test_stop(pid, 2000);
			*out = chart_slurp(log);
		} else if (c) {
			snprintf(why, whylen, "%s does not run `podprof cluster`", container);
		}
	}
	chart_strv_free(argv);
	chart_strv_free(envp);
	free(sa_env);
	free(service_port);
	free(root);
	free(sa);
	free(log);
	return st;
}

/* GET the rendered probe paths of a container on the test's listen port. */
static int probe(struct phase *ph, cJSON *workload, const char *container, const char *which,
		 int timeout_ms)
{
	cJSON *c = chart_container(workload, container);
	char path[256], url[512];
	int code = -1;

	snprintf(path, sizeof(path), "%sProbe.httpGet.path", which);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ph->port,
		 cJSON_GetStringValue(chart_get(c, path)));
	for (int t = 0; t <= timeout_ms && code != 200; t += 200) {
		code = test_http_get(url, NULL);
		if (code != 200)
			usleep(200000);
	}
	return code;
}

static int discovery_missing(struct phase *ph, char *why)
{
	char *log = chart_slurp(ph->log);
	int missing = log && strstr(log, "no targets: give --target or --targets-file");

	if (missing)
		snprintf(why, 512, "podprof cluster does not discover pods from Kubernetes yet "
				   "(it asks for --target); the chart's cluster role cannot run");
	free(log);
	return missing;
}

TEST(cluster_env_discovers_the_annotated_pods_in_cluster)
{
	static struct phase ph; /* static: stopped at exit if a check returns early */
	cJSON *dep, *ds;
	char why[1024] = "", *out = NULL, want[128];
	int st;

	NEED_SETUP();
	CHECK(phase_start(&ph, "targets") == 0);
	/* the Deployment's environment: the service account, every namespace */
	dep = chart_find(ph.r.docs, "Deployment", NULL);
	st = run_targets(&ph, dep, "cluster", "e2e-podprof-cluster-6b7f9c7d8-q4xzt", &out, why,
			 sizeof(why));
	CHECK_MSG(st == 0, "status %d %s: %s", st, why, out ? out : "");
	snprintf(want, sizeof(want), "shop/api-7d4b9c8f5d-x2k9p:%d ", g.target_port);
	CHECK_MSG(strstr(out, want) && strstr(out, " /k8s/shop/api "), "%s", out);
	snprintf(want, sizeof(want), "shop/other:%d ", g.target_port);
	CHECK_MSG(strstr(out, want), "%s", out);
	free(out);
	/* the DaemonSet's local scraper: its node's pods only */
	ds = chart_find(ph.r.docs, "DaemonSet", NULL);
	st = run_targets(&ph, ds, "local-scraper", "e2e-podprof-node-7xq2m", &out, why,
			 sizeof(why));
	CHECK_MSG(st == 0, "status %d %s: %s", st, why, out ? out : "");
	CHECK_MSG(strstr(out, " /k8s/shop/api ") && !strstr(out, "shop/other:"), "%s", out);
	free(out);
	phase_stop(&ph);
}

TEST(cluster_deployment_scrapes_the_annotated_pods)
{
	static struct phase ph; /* static: stopped at exit if a check returns early */
	cJSON *dep, *up;
	char why[2048];

	NEED_SETUP();
	CHECK(phase_start(&ph, "cluster") == 0);
	dep = chart_find(ph.r.docs, "Deployment", NULL);
	CHECK(dep);
	if (run_container(&ph, dep, "cluster", "e2e-podprof-cluster-6b7f9c7d8-q4xzt", why,
			  sizeof(why)) != 0) {
		if (discovery_missing(&ph, why)) {
			phase_stop(&ph);
			SKIP("%s", why);
		}
		phase_stop(&ph);
		CHECK_MSG(0, "%s", why);
	}
	CHECK_EQ(probe(&ph, dep, "cluster", "liveness", 5000), 200);
	CHECK_EQ(probe(&ph, dep, "cluster", "readiness", 20000), 200);
	/* the Deployment's pod, named through its ReplicaSet; a CPU profile too */
	up = chart_wait_upload(&ph.coroot, "/k8s/shop/api", "go:profile_cpu:nanoseconds", 60000);
	CHECK_MSG(up, "no CPU profile of /k8s/shop/api arrived; podprof's log: %s", ph.log);
	CHECK_STR(cJSON_GetStringValue(chart_get(up, "headers.x-api-key")), API_KEY);
	CHECK_STR(cJSON_GetStringValue(chart_get(up, "labels.namespace")), "shop");
	CHECK_STR(cJSON_GetStringValue(chart_get(up, "labels.node")), NODE);
	cJSON_Delete(up);
	up = chart_wait_upload(&ph.coroot, "/k8s/shop/api", "go:heap_inuse_space:bytes", 30000);
	CHECK_MSG(up, "no heap profile of /k8s/shop/api arrived");
	cJSON_Delete(up);
	/* the pod of node-2 too: the cluster role sees the whole cluster */
	up = chart_wait_upload(&ph.coroot, "/k8s/shop/other", NULL, 30000);
	CHECK_MSG(up, "no profile of /k8s/shop/other arrived");
	cJSON_Delete(up);
	phase_stop(&ph);
}

TEST(daemonset_node_container_forces_heap_profiling_on)
{
	static struct phase ph; /* static: stopped at exit if a check returns early */
	cJSON *ds, *up;
	char why[2048];

	NEED_SETUP();
	CHECK(phase_start(&ph, "node") == 0);
	ds = chart_find(ph.r.docs, "DaemonSet", NULL);
	CHECK(ds);
	/* force mode comes from node.env, as a Coroot resource's nodeAgent.env sets it */
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(chart_container(ds, "node"),
							   "GO_HEAP_PROFILER"), "value")),
		  "force");
	if (getuid() != 0) {
		phase_stop(&ph);
		SKIP("reading other processes' memory needs root here");
	}
	CHECK_MSG(run_container(&ph, ds, "node", "e2e-podprof-node-7xq2m", why, sizeof(why)) == 0,
		  "%s", why);
	CHECK_EQ(probe(&ph, ds, "node", "liveness", 5000), 200);
	CHECK_EQ(probe(&ph, ds, "node", "readiness", 30000), 200);
	up = chart_wait_upload(&ph.coroot, "chart-e2e-noprof", "go_runtime:heap_alloc_space:bytes",
			       60000);
	CHECK_MSG(up, "no heap profile of chart-e2e-noprof arrived; podprof's log: %s", ph.log);
	CHECK_STR(cJSON_GetStringValue(chart_get(up, "headers.x-api-key")), API_KEY);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(chart_get(up, "labels"),
									"host.name")),
		  NODE);
	cJSON_Delete(up);
	{
		/* its MemProfileRate was 0 (set by the linker): force mode switched it on */
		char url[128], needle[32], *line;
		struct buf page;
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/processes", ph.port);
		snprintf(needle, sizeof(needle), "\n%-8d ", (int)g.noprof_pid);
		buf_init(&page, 1 << 20);
		CHECK_EQ(test_http_get(url, &page), 200);
		line = strstr(page.data, needle);
		CHECK_MSG(line, "pid %d is not on /processes:\n%s", (int)g.noprof_pid, page.data);
		{
			char go[32], rate[32];
			CHECK(sscanf(line + 1, "%*d %31s %31s", go, rate) == 2);
			CHECK_MSG(atoll(rate) > 0, "MemProfileRate still %s:\n%.300s", rate, line + 1);
		}
		buf_free(&page);
	}
	phase_stop(&ph);
}

TEST(daemonset_local_scraper_scrapes_its_node_only)
{
	static struct phase ph; /* static: stopped at exit if a check returns early */
	cJSON *ds, *up, *reqs, *r;
	char why[2048];

	NEED_SETUP();
	CHECK(phase_start(&ph, "local") == 0);
	ds = chart_find(ph.r.docs, "DaemonSet", NULL);
	CHECK(chart_container(ds, "local-scraper"));
	if (run_container(&ph, ds, "local-scraper", "e2e-podprof-node-7xq2m", why,
			  sizeof(why)) != 0) {
		if (discovery_missing(&ph, why)) {
			phase_stop(&ph);
			SKIP("%s", why);
		}
		phase_stop(&ph);
		CHECK_MSG(0, "%s", why);
	}
	CHECK_EQ(probe(&ph, ds, "local-scraper", "readiness", 20000), 200);
	up = chart_wait_upload(&ph.coroot, "/k8s/shop/api", "go:heap_inuse_space:bytes", 60000);
	CHECK_MSG(up, "no heap profile of /k8s/shop/api arrived; log: %s", ph.log);
	cJSON_Delete(up);
	/* one more scrape round: the pod of node-2 must still be absent */
	sleep(6);
	reqs = chart_coroot_requests(&ph.coroot);
	cJSON_ArrayForEach(r, reqs)
	{
		const char *s = cJSON_GetStringValue(chart_get(r, "service"));
		CHECK_MSG(s && !strstr(s, "other"), "the local scraper of " NODE " scraped %s", s);
	}
	cJSON_Delete(reqs);
	phase_stop(&ph);
}

/* (group, resource, verb) of one API request line of the fake server's log. */
static int classify(const char *line, char *group, char *resource, char *verb)
{
	const char *p = strstr(line, "GET /api");
	char path[1024];
	const char *q, *res, *seg;
	int n = 0;

	if (!p || strstr(line, "/_control"))
		return 0;
	sscanf(p + 4, "%1023s", path);
	q = strchr(path, '?');
	if (strncmp(path, "/api/v1/", 8) == 0) {
		strcpy(group, "");
		res = path + 8;
	} else if (strncmp(path, "/apis/", 6) == 0) {
		const char *g1 = path + 6, *slash = strchr(g1, '/');
		if (!slash || !strchr(slash + 1, '/'))
			return 0; /* discovery */
		snprintf(group, 64, "%.*s", (int)(slash - g1), g1);
		res = strchr(slash + 1, '/') + 1;
	} else {
		return 0;
	}
	if (strncmp(res, "watch/", 6) == 0)
		res += 6;
	if (strncmp(res, "namespaces/", 11) == 0 && strchr(res + 11, '/'))
		res = strchr(res + 11, '/') + 1;
	for (seg = res; *seg && seg != q; seg++)
		n += *seg == '/';
	snprintf(resource, 64, "%.*s", (int)strcspn(res, "/?"), res);
	if (!*resource)
		return 0;
	if (q && (strstr(q, "watch=1") || strstr(q, "watch=true")))
		strcpy(verb, "watch");
	else
		strcpy(verb, n ? "get" : "list");
	return 1;
}

TEST(scrapers_request_exactly_what_the_cluster_role_grants)
{
	static struct phase ph; /* static: stopped at exit if a check returns early */
	char *log, *line, *save = NULL, used[1024] = "", granted[1024] = "";
	cJSON *role, *rule;
	size_t o = 0;

	NEED_SETUP();
	/* the requests of the runs above; alone, run the cluster role first */
	log = chart_slurp(g.kube.log);
	if (!log || !strstr(log, "GET /api/v1/pods")) {
		free(log);
		SKIP("no scraper ran in this process (the tests above were skipped or filtered)");
	}
	CHECK(phase_start(&ph, "rbac") == 0);
	role = chart_find(ph.r.docs, "ClusterRole", NULL);
	CHECK(role);
	cJSON_ArrayForEach(rule, chart_get(role, "rules"))
	{
		cJSON *v;
		cJSON_ArrayForEach(v, chart_get(rule, "verbs"))
			o += (size_t)snprintf(granted + o, sizeof(granted) - o, "%s/%s/%s;",
					      cJSON_GetStringValue(cJSON_GetArrayItem(chart_get(rule, "apiGroups"), 0)),
					      cJSON_GetStringValue(cJSON_GetArrayItem(chart_get(rule, "resources"), 0)),
					      cJSON_GetStringValue(v));
	}
	o = 0;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char group[64], resource[64], verb[16], key[160];
		if (!classify(line, group, resource, verb))
			continue;
		snprintf(key, sizeof(key), "%s/%s/%s;", group, resource, verb);
		CHECK_MSG(strstr(granted, key), "podprof requested %s, not granted by the "
			  "ClusterRole (%s)", key, granted);
		if (!strstr(used, key))
			o += (size_t)snprintf(used + o, sizeof(used) - o, "%s", key);
	}
	free(log);
	/* and everything granted was used: nothing more than needed */
	for (char *k = granted; *k; k = strchr(k, ';') + 1) {
		char key[160];
		snprintf(key, sizeof(key), "%.*s", (int)(strchr(k, ';') - k + 1), k);
		CHECK_MSG(strstr(used, key), "the ClusterRole grants %s, which podprof never "
			  "requested (used: %s)", key, used);
	}
	phase_stop(&ph);
}
