/*
 * The configuration a Coroot custom resource (coroot-operator, coroots.coroot.com/v1)
 * gives its agents configures podprof unchanged (docs/coroot-custom-resource.md).
 *
 * The environment is built as the operator renders it (reference/coroot-compat.md and
 * the operator's node_agent.go / cluster_agent.go): its own variables first (API_KEY
 * from spec.apiKeySecret, INSECURE_SKIP_VERIFY with tlsSkipVerify, CA_FILE with
 * tls.caSecret, PROFILES_ENDPOINT / COROOT_URL, SCRAPE_INTERVAL and
 * METRICS_SCRAPE_INTERVAL, and the variables of telemetry podprof does not handle),
 * then spec.nodeAgent.env / spec.clusterAgent.env merged in (a name already there is
 * replaced in place, a new one appended). podprof runs with exactly that environment
 * (`env -i`) and the operator's own arguments, against the fake Coroot receiver over
 * TLS, and the test checks what took effect from its behaviour: force mode switched
 * heap sampling on in a Go program whose linker turned it off, uploads reached
 * PROFILES_ENDPOINT / COROOT_URL with the key, certificate checks followed
 * INSECURE_SKIP_VERIFY / CA_FILE, the scrape interval followed PROFILES_SCRAPE_INTERVAL,
 * the operator's SCRAPE_INTERVAL changed nothing and broke nothing, and of two entries
 * with one name the later one won.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chart_common.h"
#include "support.h"
#include "testing.h"

#define API_KEY "coroot-project-key"
#define MAX_ENV 64

static struct {
	int state;
	char why[512];
	char *dir;
	char *certs;
	struct chart_peer coroot; /* https, --api-key API_KEY */
	char *base;               /* https://127.0.0.1:PORT, the Coroot URL */
	pid_t noprof_pid;
	pid_t target_pid;
	int target_port;
	int runs;
} g;

static void cleanup(void)
{
	if (g.noprof_pid > 0)
		test_stop(g.noprof_pid, 2000);
	if (g.target_pid > 0)
		test_stop(g.target_pid, 2000);
	chart_stop_peer(&g.coroot);
	if (g.dir && !getenv("PODPROF_KEEP_TMP"))
		test_rmtree(g.dir);
}

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

static int wait_int_file(const char *path)
{
	struct buf b;
	int v = 0;

	for (int t = 0; t < 15000 && v <= 0; t += 50) {
		buf_init(&b, 64);
		if (test_read_file(path, &b) == 0 && b.data)
			v = atoi(b.data);
		buf_free(&b);
		if (v <= 0)
			usleep(50000);
	}
	return v;
}

static int setup(void)
{
	char *noprof, *target, *cmd, *cert, *key, *file;
	int r;

	if (g.state)
		return g.state;
	g.state = -1;
	noprof = go_program("noprof-exe");
	target = go_program("pprofsrv-exe");
	if (!noprof || !target) {
		snprintf(g.why, sizeof(g.why), "the Go test programs noprof and pprofsrv are not "
					       "built (tests/go/build.sh)");
		goto out;
	}
	g.dir = test_tmpdir("chart-coroot");
	atexit(cleanup);
	g.certs = chart_asprintf("%s/kube-certs", test_binary_dir());
	cmd = chart_asprintf("'%s/tests/tools/kube_certs.sh' '%s'", test_source_dir(), g.certs);
	r = test_sh(cmd, NULL, 1);
	free(cmd);
	if (r != 0) {
		snprintf(g.why, sizeof(g.why), "kube_certs.sh failed (%d)", r);
		goto out;
	}
	cert = chart_asprintf("%s/server.crt", g.certs);
	key = chart_asprintf("%s/server.key", g.certs);
	{
		const char *extra[] = {"--api-key", API_KEY, "--tls-cert", cert, "--tls-key", key,
				       NULL};
		r = chart_start_coroot(&g.coroot, g.dir, extra);
	}
	free(cert);
	free(key);
	if (r != 0) {
		snprintf(g.why, sizeof(g.why), "the fake Coroot receiver did not start");
		goto out;
	}
	g.base = chart_asprintf("https://127.0.0.1:%d", g.coroot.port);
	/* a Go program with heap profiling off, under a name of its own */
	file = chart_asprintf("%s/chart-coroot-noprof", g.dir);
	cmd = chart_asprintf("cp '%s' '%s'", noprof, file);
	if (test_sh(cmd, NULL, 1) == 0) {
		char *pidfile = chart_asprintf("%s/noprof.pid", g.dir);
		char *argv[] = {file, pidfile, NULL};
		g.noprof_pid = test_spawn(argv, NULL, "/dev/null");
		if (wait_int_file(pidfile) <= 0)
			g.noprof_pid = -1;
		free(pidfile);
	}
	free(cmd);
	free(file);
	{
		char *portfile = chart_asprintf("%s/pprofsrv.port", g.dir);
		char *argv[] = {target, "-port-file", portfile, NULL};
		g.target_pid = test_spawn(argv, NULL, "/dev/null");
		g.target_port = wait_int_file(portfile);
		free(portfile);
	}
	if (g.noprof_pid <= 0 || g.target_port <= 0) {
		snprintf(g.why, sizeof(g.why), "the Go test programs did not start");
		goto out;
	}
	g.state = 1;
out:
	free(noprof);
	free(target);
	return g.state;
}

#define NEED_SETUP()                                                                   \
	do {                                                                           \
		if (setup() != 1)                                                      \
			SKIP("%s", g.why);                                             \
	} while (0)

/* ---- the environment as the operator renders it ---------------------------------- */

struct env {
	char *names[MAX_ENV];
	char *values[MAX_ENV];
	int n;
};

/* An entry appended as it is (raw pod-spec semantics: a repeated name stays). */
static void env_append(struct env *e, const char *name, const char *value)
{
	e->names[e->n] = strdup(name);
	e->values[e->n] = strdup(value);
	e->n++;
}

/* The operator's mergeEnvVars: a name already there is replaced in place, else appended. */
static void env_merge(struct env *e, const char *name, const char *value)
{
	for (int i = 0; i < e->n; i++) {
		if (strcmp(e->names[i], name) == 0) {
			free(e->values[i]);
			e->values[i] = strdup(value);
			return;
		}
	}
	env_append(e, name, value);
}

static void env_free(struct env *e)
{
	for (int i = 0; i < e->n; i++) {
		free(e->names[i]);
		free(e->values[i]);
	}
	e->n = 0;
}

/*
 * The node agent's variables as the operator sets them for a Coroot resource with
 * spec.apiKeySecret (resolved here to its value), spec.agentsOnly.corootURL = base,
 * and tlsSkipVerify (insecure) or tls.caSecret (CA_FILE). Its container args are
 * ["--cgroupfs-root=/host/sys/fs/cgroup"].
 */
static void operator_node_env(struct env *e, int insecure, int ca)
{
	char *url;

	env_append(e, "SCRAPE_INTERVAL", "15s");
	env_append(e, "API_KEY", API_KEY);
	if (insecure)
		env_append(e, "INSECURE_SKIP_VERIFY", "true");
	if (ca) {
		char *path = chart_asprintf("%s/ca.crt", g.certs);
		env_append(e, "CA_FILE", path); /* /etc/coroot-ca/ca.crt in the pod */
		free(path);
	}
	url = chart_asprintf("%s/v1/metrics", g.base);
	env_append(e, "METRICS_ENDPOINT", url);
	free(url);
	url = chart_asprintf("%s/v1/logs", g.base);
	env_append(e, "LOGS_ENDPOINT", url);
	free(url);
	url = chart_asprintf("%s/v1/traces", g.base);
	env_append(e, "TRACES_ENDPOINT", url);
	free(url);
	url = chart_asprintf("%s/v1/profiles", g.base);
	env_append(e, "PROFILES_ENDPOINT", url);
	free(url);
}

/* The cluster agent's: COROOT_URL, its metrics settings, the key, tlsSkipVerify. Its
 * args are ["--listen=127.0.0.1:10301", "--metrics-wal-dir=/tmp"]. */
static void operator_cluster_env(struct env *e)
{
	env_append(e, "COROOT_URL", g.base);
	env_append(e, "METRICS_SCRAPE_INTERVAL", "15s");
	env_append(e, "KUBE_STATE_METRICS_ADDRESS", "127.0.0.1:10302");
	env_append(e, "API_KEY", API_KEY);
	env_append(e, "INSECURE_SKIP_VERIFY", "true");
}

/* Runs podprof with exactly env (env -i) and args; returns the exit status. */
static int run_podprof(struct env *e, const char *const *args, const char *log,
		       int timeout_ms, int stop_after_ms)
{
	char *argv[32], *envp[MAX_ENV + 1];
	int n = 0, st;
	pid_t pid;

	argv[n++] = (char *)test_podprof_bin();
	for (; args && *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	for (int i = 0; i < e->n; i++)
		envp[i] = chart_asprintf("%s=%s", e->names[i], e->values[i]);
	envp[e->n] = NULL;
	pid = test_spawn(argv, envp, log);
	if (stop_after_ms > 0) {
		st = test_wait(pid, stop_after_ms);
		if (st == -ETIMEDOUT)
			st = test_stop(pid, 10000);
	} else {
		st = test_wait(pid, timeout_ms);
		if (st == -ETIMEDOUT)
			test_stop(pid, 2000);
	}
	for (int i = 0; i < e->n; i++)
		free(envp[i]);
	return st;
}

static int uploads_of(const char *service, const char *type, const char *key, int *total)
{
	cJSON *reqs = chart_coroot_requests(&g.coroot), *r;
	int n = 0;

	*total = 0;
	cJSON_ArrayForEach(r, reqs)
	{
		const char *s = cJSON_GetStringValue(chart_get(r, "service"));
		const char *k = cJSON_GetStringValue(chart_get(r, "headers.x-api-key"));
		(*total)++;
		if (s && strstr(s, service) && (!key || (k && strcmp(k, key) == 0)))
			n++;
	}
	cJSON_Delete(reqs);
	(void)type;
	return n;
}

/* Runs the node role once (up to three times: force mode switches sampling on in the
 * first cycle) until the receiver has noprof's heap profile. Returns the uploads. */
static int node_until_upload(struct env *e, char *log)
{
	const char *args[] = {"node", "--cgroupfs-root=/host/sys/fs/cgroup", "--once", "--listen=",
			      NULL};
	int total, n = 0;

	for (int i = 0; i < 3 && n == 0; i++) {
		int st = run_podprof(e, args, log, 60000, 0);
		if (st != 0)
			return -st;
		n = uploads_of("chart-coroot-noprof", NULL, API_KEY, &total);
	}
	return n;
}

#define NEED_ROOT()                                                                    \
	do {                                                                           \
		if (getuid() != 0)                                                     \
			SKIP("reading other processes' memory needs root here");       \
	} while (0)

TEST(node_agent_env_with_go_heap_profiler_force)
{
	struct env e = {0};
	char *log;
	int n;

	NEED_SETUP();
	NEED_ROOT();
	operator_node_env(&e, 1, 0);
	/* spec.nodeAgent.env */
	env_merge(&e, "GO_HEAP_PROFILER", "force");
	log = chart_asprintf("%s/node-force.log", g.dir);
	n = node_until_upload(&e, log);
	CHECK_MSG(n > 0, "no heap profile of the noprof program reached PROFILES_ENDPOINT with "
		  "the key (%d); log %s", n, log);
	{
		char *text = chart_slurp(log);
		char *want = chart_asprintf("uploading to %s/v1/profiles", g.base);
		CHECK_MSG(text && strstr(text, want), "%s", text);
		CHECK(strstr(text, "(mode force)"));
		free(want);
		free(text);
	}
	free(log);
	env_free(&e);
}

TEST(node_agent_env_with_a_ca_file_instead_of_insecure)
{
	struct env e = {0};
	char *log;
	int before, total, n;

	NEED_SETUP();
	NEED_ROOT();
	uploads_of("chart-coroot-noprof", NULL, API_KEY, &before);
	operator_node_env(&e, 0, 1);
	env_merge(&e, "GO_HEAP_PROFILER", "force");
	log = chart_asprintf("%s/node-ca.log", g.dir);
	n = node_until_upload(&e, log);
	CHECK_MSG(n > 0, "log %s", log);
	uploads_of("", NULL, NULL, &total);
	CHECK_MSG(total > before, "nothing new arrived with CA_FILE");
	free(log);
	env_free(&e);
}

TEST(certificate_checks_stay_on_without_insecure_or_ca)
{
	struct env e = {0};
	const char *args[] = {"node", "--cgroupfs-root=/host/sys/fs/cgroup", "--once", "--listen=",
			      NULL};
	char *log, *text;
	int before, after, st;

	NEED_SETUP();
	NEED_ROOT();
	operator_node_env(&e, 0, 0);
	env_merge(&e, "GO_HEAP_PROFILER", "force");
	/* not the operator's: keeps the retries of the failing run short */
	env_merge(&e, "PODPROF_UPLOAD_TIMEOUT", "1s");
	uploads_of("", NULL, NULL, &before);
	log = chart_asprintf("%s/node-verify.log", g.dir);
	st = run_podprof(&e, args, log, 60000, 0);
	uploads_of("", NULL, NULL, &after);
	text = chart_slurp(log);
	CHECK_MSG(st == 0, "status %d: %s", st, text);
	CHECK_MSG(after == before, "an upload got through an unverified certificate");
	CHECK_MSG(text && (strstr(text, "certificate") || strstr(text, "SSL")),
		  "no certificate error logged: %s", text);
	free(text);
	free(log);
	env_free(&e);
}

TEST(the_operators_scrape_interval_changes_and_breaks_nothing)
{
	struct env e = {0};
	const char *args[] = {"node", "--cgroupfs-root=/host/sys/fs/cgroup", "--once", "--listen=",
			      NULL};
	char *log, *text;
	int st;

	NEED_SETUP();
	NEED_ROOT();
	operator_node_env(&e, 1, 0);
	/* even a value no parser of podprof would take: podprof does not read it */
	env_merge(&e, "SCRAPE_INTERVAL", "every now and then");
	log = chart_asprintf("%s/node-scrape-interval.log", g.dir);
	st = run_podprof(&e, args, log, 60000, 0);
	text = chart_slurp(log);
	CHECK_MSG(st == 0, "status %d: %s", st, text);
	/* the heap interval is podprof's own (PODPROF_INTERVAL, default 60s) */
	CHECK_MSG(text && strstr(text, "every 60s"), "%s", text);
	free(text);
	free(log);
	env_free(&e);
}

TEST(later_entries_win_over_earlier_ones)
{
	struct env e = {0};
	const char *args[] = {"node", "--cgroupfs-root=/host/sys/fs/cgroup", "--once", "--listen=",
			      NULL};
	char *log, *text;
	int st, n;

	NEED_SETUP();
	NEED_ROOT();
	/* a pod spec may carry a name twice (the kubelet passes both; the last counts):
	 * an invalid value first, then a valid one, runs ... */
	operator_node_env(&e, 1, 0);
	env_append(&e, "GO_HEAP_PROFILER", "sometimes");
	env_append(&e, "GO_HEAP_PROFILER", "force");
	log = chart_asprintf("%s/node-last-wins.log", g.dir);
	n = node_until_upload(&e, log);
	CHECK_MSG(n > 0, "GO_HEAP_PROFILER=force (the later entry) did not take effect: %s", log);
	free(log);
	env_free(&e);
	/* ... and the other way round fails, naming the variable */
	operator_node_env(&e, 1, 0);
	env_append(&e, "GO_HEAP_PROFILER", "force");
	env_append(&e, "GO_HEAP_PROFILER", "sometimes");
	log = chart_asprintf("%s/node-last-bad.log", g.dir);
	st = run_podprof(&e, args, log, 20000, 0);
	text = chart_slurp(log);
	CHECK_MSG(st == 2, "status %d: %s", st, text);
	CHECK_MSG(text && strstr(text, "GO_HEAP_PROFILER") && strstr(text, "sometimes"), "%s",
		  text);
	free(text);
	free(log);
	env_free(&e);
	/* the user's entry replaces the operator's (the operator's merge): another key */
	operator_node_env(&e, 1, 0);
	env_merge(&e, "API_KEY", "not-the-project-key");
	env_merge(&e, "GO_HEAP_PROFILER", "force");
	env_merge(&e, "PODPROF_UPLOAD_TIMEOUT", "1s");
	log = chart_asprintf("%s/node-user-key.log", g.dir);
	st = run_podprof(&e, args, log, 60000, 0);
	text = chart_slurp(log);
	/* the receiver knows only API_KEY: the user's key gets 404 "project not found" */
	CHECK_MSG(st == 0 && text && strstr(text, "404"), "status %d: %s", st, text);
	free(text);
	free(log);
	env_free(&e);
}

TEST(cluster_agent_env_with_profiles_scrape_interval)
{
	struct env e = {0};
	char *listen, *target, *log, *text;
	int before, total, cpu = 0, st;

	NEED_SETUP();
	operator_cluster_env(&e);
	/* spec.clusterAgent.env */
	env_merge(&e, "PROFILES_SCRAPE_INTERVAL", "2s");
	env_merge(&e, "PROFILES_SCRAPE_TIMEOUT", "5s");
	env_merge(&e, "PODPROF_SCRAPE_CPU_DURATION", "1s");
	uploads_of("", NULL, NULL, &before);
	/* the operator's --listen, on a free port; its --metrics-wal-dir is the metrics
	 * agent's and no podprof flag (see docs/coroot-custom-resource.md) */
	listen = chart_asprintf("--listen=127.0.0.1:%d", test_free_port());
	target = chart_asprintf("--target=chart-coroot-target=http://127.0.0.1:%d", g.target_port);
	log = chart_asprintf("%s/cluster.log", g.dir);
	{
		const char *args[] = {"cluster", listen, target, NULL};
		st = run_podprof(&e, args, log, 0, 7500);
	}
	text = chart_slurp(log);
	CHECK_MSG(st == 0, "status %d: %s", st, text);
	{
		cJSON *reqs = chart_coroot_requests(&g.coroot), *r;
		int i = 0;
		cJSON_ArrayForEach(r, reqs)
		{
			const char *s = cJSON_GetStringValue(chart_get(r, "service"));
			const char *k = cJSON_GetStringValue(chart_get(r, "headers.x-api-key"));
			if (i++ < before || !s || strcmp(s, "chart-coroot-target") != 0)
				continue;
			CHECK_STR(k, API_KEY);
			/* CPU profiles: one per scrape round */
			cpu += chart_upload_has_type(&g.coroot, r, "go:profile_cpu:nanoseconds");
		}
		cJSON_Delete(reqs);
	}
	uploads_of("", NULL, NULL, &total);
	/* 7.5 s at a 2 s interval: three rounds or more (the default 60s would give one) */
	CHECK_MSG(cpu >= 3, "%d CPU profiles in 7.5 s with PROFILES_SCRAPE_INTERVAL=2s: %s", cpu,
		  text);
	free(text);
	free(listen);
	free(target);
	free(log);
	env_free(&e);
}

TEST(cluster_agent_env_with_scraping_off)
{
	struct env e = {0};
	char *listen, *log, *text, *target;
	int before, after, st;

	NEED_SETUP();
	operator_cluster_env(&e);
	env_merge(&e, "PROFILES_SCRAPE_INTERVAL", "0");
	uploads_of("", NULL, NULL, &before);
	listen = chart_asprintf("--listen=127.0.0.1:%d", test_free_port());
	target = chart_asprintf("--target=http://127.0.0.1:%d", g.target_port);
	log = chart_asprintf("%s/cluster-off.log", g.dir);
	{
		const char *args[] = {"cluster", listen, target, NULL};
		st = run_podprof(&e, args, log, 0, 2500);
	}
	uploads_of("", NULL, NULL, &after);
	text = chart_slurp(log);
	CHECK_MSG(st == 0, "status %d: %s", st, text);
	CHECK_MSG(text && strstr(text, "scraping is off"), "%s", text);
	CHECK_EQ(after, before);
	free(text);
	free(listen);
	free(target);
	free(log);
	env_free(&e);
}
