/*
 * The fault-injection tests' world (see fault_fixture.h).
 */
#include "fault_fixture.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define PYTHON "/usr/bin/python3"
#define NS "fault"

/* ---- the API server ---------------------------------------------------------------- */

static int kube_spawn(struct fixture *x, int port)
{
	char script[700], portfile[700], portarg[16], log[700];
	char *argv[] = {PYTHON, script, "--port", portarg, "--port-file", portfile, "--quiet",
			"--exit-with-parent", NULL};
	struct buf b;

	snprintf(script, sizeof(script), "%s/tests/tools/fake_kube.py", test_source_dir());
	if (access(PYTHON, X_OK) != 0 || access(script, R_OK) != 0)
		return -ENOENT;
	snprintf(portfile, sizeof(portfile), "%s/kube.port", x->dir);
	snprintf(log, sizeof(log), "%s/kube.log", x->dir);
	snprintf(portarg, sizeof(portarg), "%d", port);
	unlink(portfile);
	x->kube.pid = test_spawn(argv, NULL, log);
	fc_track(x->kube.pid);
	if (x->kube.pid < 0 || test_wait_file(portfile, 20000) != 0)
		return -EIO;
	buf_init(&b, 0);
	test_read_file(portfile, &b);
	x->kube.port = atoi(b.data ? b.data : "0");
	buf_free(&b);
	snprintf(x->kube.url, sizeof(x->kube.url), "http://127.0.0.1:%d", x->kube.port);
	snprintf(x->kube.control, sizeof(x->kube.control), "%s", x->kube.url);
	snprintf(x->kube.dir, sizeof(x->kube.dir), "%s", x->dir);
	return test_wait_port(x->kube.port, 10000);
}

int fx_pod_post(struct fixture *x, int i)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"metadata\": {\"name\": \"app-%d\", \"namespace\": \"" NS "\","
		 " \"labels\": {\"app\": \"app\"},"
		 " \"annotations\": {\"coroot.com/profile-scrape\": \"true\","
		 " \"coroot.com/profile-port\": \"%d\","
		 " \"coroot.com/profile-types\": \"cpu,heap,block,mutex,goroutine\"}},"
		 " \"spec\": {\"containers\": [{\"name\": \"app\"}]},"
		 " \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}",
		 i + 1, x->target_port[i]);
	x->annotated[i] = 1;
	return fake_kube_post(&x->kube, "pods", json, NULL) == 200 ? 0 : -EIO;
}

int fx_pod_delete(struct fixture *x, int i)
{
	char path[64];

	snprintf(path, sizeof(path), "pods/" NS "/app-%d", i + 1);
	x->annotated[i] = 0;
	return fake_kube_delete(&x->kube, path) == 200 ? 0 : -EIO;
}

/* The pods that are not targets: one without annotations, one Pending. */
static int post_other_pods(struct fixture *x)
{
	const char *plain = "{\"metadata\": {\"name\": \"plain\", \"namespace\": \"" NS "\"},"
			    " \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}";
	const char *pending =
		"{\"metadata\": {\"name\": \"pending\", \"namespace\": \"" NS "\","
		" \"annotations\": {\"coroot.com/profile-scrape\": \"true\","
		" \"coroot.com/profile-port\": \"1\"}}, \"status\": {\"phase\": \"Pending\"}}";

	if (fake_kube_post(&x->kube, "pods", plain, NULL) != 200 ||
	    fake_kube_post(&x->kube, "pods", pending, NULL) != 200)
		return -EIO;
	return 0;
}

int fx_kube_kill_restart(struct fixture *x)
{
	int r;

	kill(x->kube.pid, SIGKILL);
	test_wait(x->kube.pid, 5000);
	x->kube.pid = -1;
	usleep(500000); /* down for a moment: requests fail with "connection refused" */
	r = kube_spawn(x, x->kube.port);
	if (r)
		return r;
	/* what etcd kept, posted again; resource versions start over */
	r = post_other_pods(x);
	for (int i = 0; i < FX_TARGETS && !r; i++)
		if (x->annotated[i])
			r = fx_pod_post(x, i);
	return r;
}

/* ids "namespace/pod" of the annotated Running pods with an IP the API server holds */
static int api_targets(struct fixture *x, char ids[][64], int max)
{
	char url[256];
	struct buf b;
	cJSON *doc, *item;
	int n = 0;

	snprintf(url, sizeof(url), "%s/api/v1/pods", x->kube.url);
	buf_init(&b, 0);
	if (test_http_get(url, &b) != 200) {
		buf_free(&b);
		return -1;
	}
	doc = cJSON_ParseWithLength(b.data, b.len);
	buf_free(&b);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "items"))
	{
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		const cJSON *an = cJSON_GetObjectItemCaseSensitive(md, "annotations");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "status");
		const cJSON *scrape = cJSON_GetObjectItemCaseSensitive(an, "coroot.com/profile-scrape");
		const cJSON *phase = cJSON_GetObjectItemCaseSensitive(st, "phase");
		const cJSON *ip = cJSON_GetObjectItemCaseSensitive(st, "podIP");

		if (!cJSON_IsString(scrape) || strcmp(scrape->valuestring, "true") != 0 ||
		    !cJSON_IsString(phase) || strcmp(phase->valuestring, "Running") != 0 ||
		    !cJSON_IsString(ip) || n >= max)
			continue;
		snprintf(ids[n++], 64, "%s/%s",
			 cJSON_GetObjectItemCaseSensitive(md, "namespace")->valuestring,
			 cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring);
	}
	cJSON_Delete(doc);
	return n;
}

/* ids "namespace/pod" of the cluster role's targets */
static int role_targets(struct fixture *x, char ids[][64], int max)
{
	struct buf b;
	cJSON *doc, *t;
	int n = 0;

	buf_init(&b, 0);
	if (fc_role_get(&x->cluster, "/targets?format=json", &b) != 200) {
		buf_free(&b);
		return -1;
	}
	doc = cJSON_ParseWithLength(b.data, b.len);
	buf_free(&b);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "targets"))
	{
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "labels");
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(l, "namespace");
		const cJSON *pod = cJSON_GetObjectItemCaseSensitive(l, "pod");
		if (n < max && cJSON_IsString(ns) && cJSON_IsString(pod))
			snprintf(ids[n++], 64, "%s/%s", ns->valuestring, pod->valuestring);
	}
	cJSON_Delete(doc);
	return n;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int fx_wait_converged(struct fixture *x, int timeout_ms)
{
	char want[16][64], have[16][64];
	int nw = -1, nh = -1, same = 0;

	for (int t = 0; t <= timeout_ms && !same; t += 250) {
		nw = api_targets(x, want, 16);
		nh = role_targets(x, have, 16);
		if (nw >= 0 && nw == nh) {
			qsort(want, (size_t)nw, sizeof(want[0]), cmp_id);
			qsort(have, (size_t)nh, sizeof(have[0]), cmp_id);
			same = 1;
			for (int i = 0; same && i < nw; i++)
				same = strcmp(want[i], have[i]) == 0;
		}
		if (!same)
			usleep(250000);
	}
	if (same)
		return 0;
	fprintf(stderr, "  targets did not converge: the API server has %d:", nw);
	for (int i = 0; i < nw; i++)
		fprintf(stderr, " %s", want[i]);
	fprintf(stderr, "; /targets has %d:", nh);
	for (int i = 0; i < nh; i++)
		fprintf(stderr, " %s", have[i]);
	fprintf(stderr, "\n");
	return -ETIMEDOUT;
}

/* ---- the receiver ------------------------------------------------------------------- */

int fx_coroot_up(struct fixture *x)
{
	free(x->coroot.record);
	if (asprintf(&x->coroot.record, "%s/rec%d", x->coroot.dir, ++x->coroot_runs) < 0)
		abort();
	return fake_start(&x->coroot, NULL);
}

void fx_coroot_kill(struct fixture *x)
{
	if (x->coroot.pid <= 0)
		return;
	kill(x->coroot.pid, SIGKILL);
	fake_stop(&x->coroot); /* reaps it */
	x->coroot_kills++;
}

int fx_received(struct fixture *x, const char *api_key, struct fc_bodies *b)
{
	int r = 0;

	for (int i = 1; i <= x->coroot_runs && !r; i++) {
		char rec[4096];
		snprintf(rec, sizeof(rec), "%s/rec%d", x->coroot.dir, i);
		r = fc_bodies_from_receiver(b, rec, api_key);
	}
	return r;
}

long fx_received_count(struct fixture *x, const char *api_key)
{
	struct fc_bodies b = {0};
	long n;

	fx_received(x, api_key, &b);
	n = (long)b.n;
	fc_bodies_free(&b);
	return n;
}

/* ---- Go processes ------------------------------------------------------------------- */

int fx_target_start(struct fixture *x, int i)
{
	char log[700];

	snprintf(log, sizeof(log), "%s/app-%d.log", x->dir, i + 1);
	x->target[i] = fc_pprofsrv(x->target_port[i], log);
	if (x->target[i] <= 0)
		return x->target[i] ? x->target[i] : -EIO;
	fc_proc_link(x->procroot, x->target[i]);
	return 0;
}

void fx_target_kill(struct fixture *x, int i)
{
	if (x->target[i] <= 0)
		return;
	fc_proc_unlink(x->procroot, x->target[i]);
	kill(x->target[i], SIGKILL);
	test_wait(x->target[i], 5000);
	x->target[i] = -1;
}

static void role_common_args(struct fixture *x, struct fc_role *r, const char *key,
			     const char *spool_max)
{
	fc_role_arg(r, "--profiles-endpoint");
	fc_role_arg(r, x->coroot.url);
	fc_role_arg(r, "--api-key");
	fc_role_arg(r, key);
	fc_role_arg(r, "--spool-max-bytes");
	fc_role_arg(r, spool_max);
	fc_role_arg(r, "--queue-max-bytes");
	fc_role_arg(r, "64KiB");
	fc_role_arg(r, "--retry-backoff-min");
	fc_role_arg(r, "100ms");
	fc_role_arg(r, "--retry-backoff-max");
	fc_role_arg(r, "1s");
	fc_role_arg(r, "--upload-timeout");
	fc_role_arg(r, "3s");
}

int fx_setup(struct fixture *x, const char *tag, const char *spool_max)
{
	char kc[4096];
	int r;

	memset(x, 0, sizeof(*x));
	for (int i = 0; i < FX_TARGETS; i++)
		x->target[i] = -1;
	for (int i = 0; i < FX_HEAPGENS; i++)
		x->heapgen[i] = -1;
	x->kube.pid = -1;
	x->dir = test_tmpdir(tag);
	snprintf(x->procroot, sizeof(x->procroot), "%s/proc", x->dir);
	mkdir(x->procroot, 0755);
	fake_prepare(&x->coroot, "fault-coroot");
	r = fx_coroot_up(x);
	if (r)
		return r;
	r = kube_spawn(x, 0);
	if (r)
		return r;
	snprintf(kc, sizeof(kc),
		 "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
		 "contexts:\n- name: fake\n  context: {cluster: fake, user: tester}\n"
		 "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
		 "users:\n- name: tester\n  user: {}\n",
		 x->kube.url);
	snprintf(x->kube.kubeconfig, sizeof(x->kube.kubeconfig), "%s/kubeconfig", x->dir);
	test_write_file(x->kube.kubeconfig, kc, strlen(kc));
	for (int i = 0; i < FX_TARGETS; i++)
		x->target_port[i] = test_free_port();
	for (int i = 0; i < FX_TARGETS - 1; i++) {
		r = fx_target_start(x, i);
		if (r)
			return r;
		r = fx_pod_post(x, i);
		if (r)
			return r;
	}
	r = post_other_pods(x);
	if (r)
		return r;
	/* churn children (a heapgen variant that allocates until it is killed; not
	 * heapgen itself, whose stacks other tests sum over every process they see) */
	for (int i = 0; i < FX_HEAPGENS; i++) {
		const char *args[] = {"-child", "-min", "1h", "-max", "1h", NULL};
		x->heapgen[i] = fc_go_spawn("churn-exe", args, NULL);
		if (x->heapgen[i] <= 0)
			return -ENOENT;
		fc_proc_link(x->procroot, x->heapgen[i]);
	}

	fc_role_init(&x->cluster, "cluster", x->dir);
	fc_role_arg(&x->cluster, "--kubeconfig");
	fc_role_arg(&x->cluster, x->kube.kubeconfig);
	fc_role_arg(&x->cluster, "--scrape-interval");
	fc_role_arg(&x->cluster, "2s");
	fc_role_arg(&x->cluster, "--scrape-cpu-duration");
	fc_role_arg(&x->cluster, "1s");
	fc_role_arg(&x->cluster, "--scrape-timeout");
	fc_role_arg(&x->cluster, "2s");
	role_common_args(x, &x->cluster, "cluster-key", spool_max);

	fc_role_init(&x->node, "node", x->dir);
	fc_role_arg(&x->node, "--interval");
	fc_role_arg(&x->node, "1s");
	fc_role_arg(&x->node, "--proc-root");
	fc_role_arg(&x->node, x->procroot);
	role_common_args(x, &x->node, "node-key", spool_max);
	return 0;
}

int fx_start_roles(struct fixture *x)
{
	int r = fc_role_start(&x->cluster);

	if (!r)
		r = fc_role_start(&x->node);
	/* the resident memory monitor follows the new processes */
	fc_monitor_watch(0, x->cluster.pid);
	fc_monitor_watch(1, x->node.pid);
	return r;
}

void fx_teardown(struct fixture *x, int ok)
{
	if (!ok) {
		char cmd[1400];
		snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' '%s' >&2", x->cluster.log, x->node.log);
		test_sh(cmd, NULL, 0);
	}
	fc_role_free(&x->cluster, 0);
	fc_role_free(&x->node, 0);
	for (int i = 0; i < FX_TARGETS; i++)
		fx_target_kill(x, i);
	for (int i = 0; i < FX_HEAPGENS; i++) {
		if (x->heapgen[i] > 0) {
			kill(x->heapgen[i], SIGCONT);
			test_stop(x->heapgen[i], 3000);
		}
	}
	if (x->kube.pid > 0)
		test_stop(x->kube.pid, 3000);
	x->kube.pid = -1;
	fake_stop(&x->coroot);
	if (ok && !getenv("PODPROF_KEEP_TEST_DIRS")) {
		test_rmtree(x->dir);
		fake_cleanup(&x->coroot);
	} else {
		fprintf(stderr, "  kept %s and %s\n", x->dir, x->coroot.dir);
		free(x->coroot.dir);
		free(x->coroot.record);
	}
	free(x->dir);
}
