/*
 * Benchmark of Kubernetes discovery against the fake API server: 10,000 realistic pods
 * (about 4 KiB of JSON each, managedFields included; every 10th annotated) listed, then
 * 10,000 watch events. podprof's discovery runs in a child process (a small driver: the
 * library, as the cluster role and `podprof targets` use it), so that its peak RSS is
 * its own. The peers, on the same server in the same run: `kubectl get pods -A -o name`
 * and the official Python client's paginated list_pod_for_all_namespaces.
 *
 * The server is one from before streaming lists (Kubernetes 1.26: it ignores
 * sendInitialEvents and answers a streaming list with a plain watch), the kind on which
 * waiting for the initial-events-end bookmark would cost the first sync seconds.
 * podprof's first sync with the default --streaming-list auto is measured against its
 * paginated list (--streaming-list off) in the same run.
 *
 * Goals (the run fails when one is missed): podprof lists at least 3x faster than
 * kubectl, with at most a quarter of kubectl's peak RSS, keeps under 1 KiB per pod
 * (the model's own accounting), and its first sync takes at most 1.5x its paginated
 * list's. In a sanitizer build podprof's figures are printed without the peers and
 * without a verdict on time and RSS.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "k8s.h"
#include "k8s_fake.h"
#include "support.h"

#define PODS 10000
#define EVENTS 10000
#define ROUNDS 3         /* podprof's list */
#define PEER_ROUNDS 2    /* kubectl's list; the Python client's is run once (30 s) */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER 1      /* no verdict on time and RSS: the peers are not run */
#else
#define SANITIZER 0
#endif
#define MIN_SPEEDUP 3.0
#define MAX_RSS_FRACTION 0.25
#define MAX_BYTES_PER_POD 1024.0
#define MAX_FIRST_SYNC_RATIO 1.5 /* auto against off, on a server without streaming lists */

struct run {
	double seconds, cpu_seconds;
	long maxrss_kib;
	int status;
};

struct driver_result {
	double ready_s, events_s;
	long hwm_kib;
	size_t pods, targets, model_bytes;
	int streaming;
};

static double now_s(void)
{
	return (double)time_mono_ns() / 1e9;
}

static double modified_events(struct metrics_registry *m)
{
	static const char *const type[] = {"type"}, *const v[] = {"modified"};
	struct metric_family *f = metrics_family(m, METRIC_COUNTER, "podprof_k8s_events_total",
						 "Watch events processed, by type.", type, 1, NULL, 0);
	return f ? metric_value(metrics_series(f, v)) : 0;
}

/* The child: discovery until ready, then (events) until EVENTS MODIFIED events. */
static void driver(struct fake_kube *f, int events, enum k8s_streaming_list mode, int out_fd)
{
	struct k8s_config_source src = {.kubeconfig = f->kubeconfig};
	struct k8s_discovery_config dc = {0};
	struct driver_result res = {0};
	struct k8s_discovery_stats st;
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct metrics_registry *m = metrics_registry_new();
	char err[512];
	double t0 = now_s(), base;

	if (k8s_config_load(&src, &conn, err, sizeof(err)))
		_exit(3);
	dc.conn = conn;
	dc.watch_replicasets = true;
	dc.streaming_list = mode;
	dc.metrics = m;
	if (k8s_discovery_start(&dc, &d) || k8s_discovery_wait_ready(d, 120 * NS_PER_SEC))
		_exit(4);
	res.ready_s = now_s() - t0;
	if (events) {
		char body[64];
		base = modified_events(m);
		t0 = now_s();
		snprintf(body, sizeof(body), "{\"count\":%d}", EVENTS);
		if (fake_kube_post(f, "bulk_events", body, NULL) != 200)
			_exit(5);
		while (modified_events(m) < base + EVENTS) {
			if (now_s() - t0 > 120)
				_exit(6);
			usleep(2000);
		}
		res.events_s = now_s() - t0;
	}
	k8s_discovery_get_stats(d, &st);
	res.pods = st.pods;
	res.targets = st.targets;
	res.model_bytes = st.model_bytes;
	res.streaming = st.streaming;
	res.hwm_kib = test_vm_hwm_kib();
	if (write(out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(7);
	_exit(0);
}

static int run_driver(struct fake_kube *f, int events, enum k8s_streaming_list mode,
		      struct driver_result *res, struct run *r)
{
	int fds[2];
	struct rusage ru;
	double t0 = now_s();
	pid_t pid;
	int st;

	if (pipe(fds))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		driver(f, events, mode, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], res, sizeof(*res)) != (ssize_t)sizeof(*res))
		memset(res, 0, sizeof(*res));
	close(fds[0]);
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	r->seconds = now_s() - t0;
	r->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r->maxrss_kib = ru.ru_maxrss;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->status;
}

/* Runs a peer command, its output discarded; wall time, CPU and peak RSS. */
static int run_peer(char *const argv[], char *const envp[], struct run *r)
{
	struct rusage ru;
	double t0 = now_s();
	pid_t pid = test_spawn(argv, envp, "/dev/null");
	int st;

	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
		return -1;
	r->seconds = now_s() - t0;
	r->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r->maxrss_kib = ru.ru_maxrss;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->status;
}

static const char python_list[] =
	"import sys\n"
	"from kubernetes import client, config\n"
	"config.load_kube_config(sys.argv[1])\n"
	"v1 = client.CoreV1Api()\n"
	"n, cont = 0, None\n"
	"while True:\n"
	"    r = v1.list_pod_for_all_namespaces(limit=500, _continue=cont)\n"
	"    n += len(r.items)\n"
	"    cont = r.metadata._continue\n"
	"    if not cont:\n"
	"        break\n"
	"assert n >= %d, n\n";

static void best(const struct run *runs, int n, struct run *out)
{
	*out = runs[0];
	for (int i = 1; i < n; i++) {
		if (runs[i].seconds < out->seconds) {
			out->seconds = runs[i].seconds;
			out->cpu_seconds = runs[i].cpu_seconds;
		}
		if (runs[i].maxrss_kib < out->maxrss_kib)
			out->maxrss_kib = runs[i].maxrss_kib;
	}
}

int main(void)
{
	struct fake_kube f;
	struct run pp[ROUNDS], kc[ROUNDS], py[ROUNDS], pp_best, kc_best, py_best, ev_run;
	struct driver_result res[ROUNDS], off[ROUNDS], ev;
	struct run off_run;
	char home[800], home_env[820], body[128], script_body[1024];
	char *kubectl_argv[] = {"/usr/bin/kubectl", "--kubeconfig", NULL, "get", "pods", "-A",
				"-o", "name", NULL};
	char *warmup_argv[] = {"/usr/bin/kubectl", "--kubeconfig", NULL, "get", "namespaces",
			       NULL};
	char *python_argv[] = {"/usr/bin/python3", NULL, NULL, NULL};
	char *peer_env[] = {home_env, "PATH=/usr/bin:/bin", NULL};
	double ready_best = 1e9, off_best = 1e9, bytes_per_pod, speedup, rss_fraction;
	struct fake_kube_opts old_server = {.ignore_initial_events = 1,
					    .server_version = "1.26.15"};
	int fail = 0, have_kubectl = !SANITIZER && access("/usr/bin/kubectl", X_OK) == 0;
	int have_python = !SANITIZER && access("/usr/bin/python3", X_OK) == 0;
	const char *script;

	int isolated = test_net_isolate(); /* nothing leaves the machine */
	long long escapes = test_net_no_routes();

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_ALL);
	log_set_level(LOG_WARN);
	if (fake_kube_start(&f, &old_server)) {
		printf("SKIP: no fake API server (/usr/bin/python3, tests/tools/fake_kube.py)\n");
		return 0;
	}
	snprintf(body, sizeof(body), "{\"count\":%d,\"namespace\":\"bench\",\"annotated_every\":10,"
				     "\"managed_fields\":true}", PODS);
	if (fake_kube_post(&f, "bulk", body, NULL) != 200) {
		printf("FAIL: the fake server did not create the pods\n");
		fake_kube_stop(&f);
		return 1;
	}
	/* idle bookmarks about once a minute, as a real API server sends them */
	if (fake_kube_post(&f, "bookmarks", "{\"interval\":60}", NULL) != 200) {
		printf("FAIL: the fake server did not take the bookmark interval\n");
		fake_kube_stop(&f);
		return 1;
	}
	snprintf(home, sizeof(home), "%s/home", f.dir);
	snprintf(home_env, sizeof(home_env), "HOME=%s", home);
	mkdir(home, 0755);
	kubectl_argv[2] = f.kubeconfig;
	warmup_argv[2] = f.kubeconfig;
	snprintf(script_body, sizeof(script_body), python_list, PODS);
	script = fake_kube_file(&f, "list.py", script_body);
	python_argv[1] = (char *)script;
	python_argv[2] = f.kubeconfig;
	if (have_python)
		have_python = run_peer(python_argv, peer_env, &py[0]) == 0;
	/* warm-up: kubectl caches discovery under $HOME, as it does for its users */
	if (have_kubectl)
		run_peer(warmup_argv, peer_env, &kc[0]);
	for (int i = 0; i < ROUNDS; i++) {
		if (run_driver(&f, 0, K8S_STREAMING_AUTO, &res[i], &pp[i]) != 0 ||
		    run_driver(&f, 0, K8S_STREAMING_OFF, &off[i], &off_run) != 0) {
			printf("FAIL: the podprof driver failed (status %d, %d)\n", pp[i].status,
			       off_run.status);
			fail = 1;
			goto out;
		}
		if (res[i].ready_s < ready_best)
			ready_best = res[i].ready_s;
		if (off[i].ready_s < off_best)
			off_best = off[i].ready_s;
		if (have_kubectl && i < PEER_ROUNDS && run_peer(kubectl_argv, peer_env, &kc[i]) != 0) {
			printf("FAIL: kubectl failed (status %d)\n", kc[i].status);
			fail = 1;
			goto out;
		}
	}
	if (run_driver(&f, 1, K8S_STREAMING_AUTO, &ev, &ev_run) != 0) {
		printf("FAIL: the podprof driver failed in the events phase (status %d)\n",
		       ev_run.status);
		fail = 1;
		goto out;
	}
	best(pp, ROUNDS, &pp_best);
	pp_best.seconds = ready_best; /* the list itself, without the process's exit */
	bytes_per_pod = (double)ev.model_bytes / (double)(ev.pods ? ev.pods : 1);
	printf("k8s.pods                          %zu (about 4 KiB of JSON each, managedFields "
	       "included; %zu targets)\n", res[0].pods, res[0].targets);
	printf("k8s.podprof_list_s                %.3f (best of %d: start to the first list "
	       "complete, --streaming-list auto: %s)\n",
	       pp_best.seconds, ROUNDS, res[0].streaming ? "streaming list" : "paginated list");
	printf("k8s.podprof_paginated_list_s      %.3f (best of %d, --streaming-list off)\n",
	       off_best, ROUNDS);
	printf("k8s.first_sync_vs_paginated       %.2f (auto against off on a server from before "
	       "streaming lists; goal <= %.1f)\n", pp_best.seconds / off_best,
	       MAX_FIRST_SYNC_RATIO);
	if (pp_best.seconds > off_best * MAX_FIRST_SYNC_RATIO) {
		printf("FAIL: podprof's first sync is more than %.1fx its paginated list\n",
		       MAX_FIRST_SYNC_RATIO);
		fail = 1;
	}
	printf("k8s.podprof_cpu_s                 %.3f (best of %d, whole driver process)\n",
	       pp_best.cpu_seconds, ROUNDS);
	printf("k8s.podprof_peak_rss_MiB          %.1f (best of %d; the events phase: %.1f)\n",
	       pp_best.maxrss_kib / 1024.0, ROUNDS, ev_run.maxrss_kib / 1024.0);
	printf("k8s.podprof_events_s              %.3f (%d MODIFIED events, %.0f events/s)\n",
	       ev.events_s, EVENTS, EVENTS / (ev.events_s > 0 ? ev.events_s : 1));
	printf("k8s.podprof_model_bytes_per_pod   %.0f (%zu bytes for %zu pods, hash tables and "
	       "targets included)\n", bytes_per_pod, ev.model_bytes, ev.pods);
	if (have_kubectl) {
		best(kc, PEER_ROUNDS, &kc_best);
		speedup = kc_best.seconds / pp_best.seconds;
		rss_fraction = (double)pp_best.maxrss_kib / (double)kc_best.maxrss_kib;
		printf("k8s.kubectl_list_s                %.3f (best of %d, kubectl get pods -A -o "
		       "name)\n", kc_best.seconds, PEER_ROUNDS);
		printf("k8s.kubectl_cpu_s                 %.3f\n", kc_best.cpu_seconds);
		printf("k8s.kubectl_peak_rss_MiB          %.1f\n", kc_best.maxrss_kib / 1024.0);
		printf("k8s.speedup_vs_kubectl            %.2f (goal >= %.1f)\n", speedup, MIN_SPEEDUP);
		printf("k8s.rss_fraction_of_kubectl       %.3f (goal <= %.2f)\n", rss_fraction,
		       MAX_RSS_FRACTION);
		if (speedup < MIN_SPEEDUP) {
			printf("FAIL: podprof lists less than %.1fx faster than kubectl\n",
			       MIN_SPEEDUP);
			fail = 1;
		}
		if (rss_fraction > MAX_RSS_FRACTION) {
			printf("FAIL: podprof's peak RSS is above %.2f of kubectl's\n",
			       MAX_RSS_FRACTION);
			fail = 1;
		}
	} else {
		printf("k8s.kubectl                       %s: no ratio\n",
		       SANITIZER ? "not run in a sanitizer build" : "not installed");
	}
	if (have_python) {
		best(py, 1, &py_best);
		printf("k8s.python_client_list_s          %.3f (one run, "
		       "list_pod_for_all_namespaces limit=500)\n", py_best.seconds);
		printf("k8s.python_client_peak_rss_MiB    %.1f\n", py_best.maxrss_kib / 1024.0);
		printf("k8s.speedup_vs_python_client      %.2f\n", py_best.seconds / pp_best.seconds);
		printf("k8s.rss_fraction_of_python_client %.3f\n",
		       (double)pp_best.maxrss_kib / (double)py_best.maxrss_kib);
	} else {
		printf("k8s.python_client                 %s: no ratio\n",
		       SANITIZER ? "not run in a sanitizer build" : "unavailable");
	}
	if (SANITIZER)
		printf("k8s.verdict                       none on time and RSS (sanitizer build)\n");
	if (bytes_per_pod >= MAX_BYTES_PER_POD) {
		printf("FAIL: %.0f bytes per pod in the model (goal < %.0f)\n", bytes_per_pod,
		       MAX_BYTES_PER_POD);
		fail = 1;
	}
	if (ev.pods != PODS) {
		printf("FAIL: %zu pods in the model, %d expected\n", ev.pods, PODS);
		fail = 1;
	}
out:
	fake_kube_stop(&f);
	curl_global_cleanup();
	return fail | test_net_escaped(isolated, escapes);
}
