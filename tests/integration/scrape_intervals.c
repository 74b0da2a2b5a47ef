/*
 * `podprof cluster` with the scrape intervals Coroot users set (PROFILES_SCRAPE_INTERVAL
 * through the environment, as a Coroot custom resource does): 1 s, 3 s, 5 s, 10 s and
 * 15 s, each against a real Go service (tests/go/pprofsrv, newest toolchain) that logs
 * every CPU profile request it serves (start, end, status).
 *
 * For every interval: the agent runs (no exit), logs once the CPU duration it chose
 * (10 s, or the interval less 1 s, at least 1 s), the service answers every CPU
 * request with 200 after that many seconds, no two CPU requests to the service ever
 * overlap, and the CPU profiles arrive in the output directory with that duration.
 * A pod whose coroot.com/profile-cpu-seconds does not fit the interval (through the fake
 * Kubernetes API server) gets a warning and the agent's duration, never an exit; an
 * explicit --scrape-cpu-duration (or PODPROF_SCRAPE_CPU_DURATION) as long as the
 * interval is an error: exit 2 and one line naming both settings.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s_fake.h"
#include "pprof.h"
#include "support.h"
#include "testing.h"

#define RUN_S 44
#define NRUNS 6
#define POD_INTERVAL_S 5
#define POD_CPU_SECONDS "20"

struct run {
	int interval_s;
	int want_cpu_s;   /* the duration the agent must choose */
	int kube;         /* the target is a pod of the fake API server */
	pid_t srv, agent;
	long long term, exited; /* when the agent was told to stop, when it had exited */
	char svc[32], cpu_log[600], out[600], log[600];
	int port;
};

static struct run runs[NRUNS] = {
	{.interval_s = 1, .want_cpu_s = 1},
	{.interval_s = 3, .want_cpu_s = 2},
	{.interval_s = 5, .want_cpu_s = 4},
	{.interval_s = 10, .want_cpu_s = 9},
	{.interval_s = 15, .want_cpu_s = 10},
	{.interval_s = POD_INTERVAL_S, .want_cpu_s = POD_INTERVAL_S - 1, .kube = 1},
};
static char *dir;
static struct fake_kube kube;

static int start_srv(struct run *r)
{
	const char *go = test_go_newest(), *v = go ? strstr(go, "go-1.") : NULL;
	char bin[4096], portfile[600];
	struct buf b;

	if (!v)
		return -1;
	snprintf(bin, sizeof(bin), "%s/go1.%d/pprofsrv-exe", test_go_cache_dir(), atoi(v + 5));
	snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, r->svc);
	snprintf(r->cpu_log, sizeof(r->cpu_log), "%s/%s.cpu.log", dir, r->svc);
	r->srv = test_spawn((char *[]){bin, "-port-file", portfile, "-cpu-duty", "0.05",
				       "-cpu-log", r->cpu_log, NULL},
			    NULL, NULL);
	if (r->srv < 0 || test_wait_file(portfile, 20000))
		return -1;
	buf_init(&b, 0);
	test_read_file(portfile, &b);
	r->port = b.data ? atoi(b.data) : 0;
	buf_free(&b);
	return r->port > 0 ? 0 : -1;
}

static int post_pod(const struct run *r)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"metadata\": {\"name\": \"%s\", \"namespace\": \"default\","
		 " \"annotations\": {\"coroot.com/profile-scrape\": \"true\","
		 " \"coroot.com/profile-port\": \"%d\","
		 " \"coroot.com/profile-cpu-seconds\": \"" POD_CPU_SECONDS "\"}},"
		 " \"spec\": {\"containers\": [{\"name\": \"app\"}]},"
		 " \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}",
		 r->svc, r->port);
	return fake_kube_post(&kube, "pods", json, NULL) == 200 ? 0 : -1;
}

static int start_agent(struct run *r)
{
	char interval[64], target[128], path[600];
	char *env[] = {interval, path, NULL};
	char *argv[12];
	int n = 0;

	snprintf(interval, sizeof(interval), "PROFILES_SCRAPE_INTERVAL=%ds", r->interval_s);
	snprintf(path, sizeof(path), "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	snprintf(r->out, sizeof(r->out), "%s/%s.out", dir, r->svc);
	snprintf(r->log, sizeof(r->log), "%s/%s.agent.log", dir, r->svc);
	argv[n++] = (char *)test_podprof_bin();
	argv[n++] = "cluster";
	argv[n++] = "--listen=";
	argv[n++] = "--output-dir";
	argv[n++] = r->out;
	if (r->kube) {
		argv[n++] = "--kubeconfig";
		argv[n++] = kube.kubeconfig;
	} else {
		snprintf(target, sizeof(target), "%s=http://127.0.0.1:%d", r->svc, r->port);
		argv[n++] = "--target";
		argv[n++] = target;
	}
	argv[n] = NULL;
	r->agent = test_spawn(argv, env, r->log);
	return r->agent > 0 ? 0 : -1;
}

/* The CPU requests the service logged, sorted by start. */
struct req {
	long long start, end;
	int status;
};

static int cmp_req(const void *a, const void *b)
{
	const struct req *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static size_t read_reqs(const char *path, struct req *out, size_t max)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (!f)
		return 0;
	while (n < max && fscanf(f, "%lld %lld %d", &out[n].start, &out[n].end,
				 &out[n].status) == 3)
		n++;
	fclose(f);
	qsort(out, n, sizeof(out[0]), cmp_req);
	return n;
}

/* Counts the CPU profiles under dir/<svc>/ and checks that each is a pprof profile of
 * want_s seconds; returns the count, or -1 (with a message) for a wrong one. */
static int cpu_profiles(const struct run *r)
{
	char sub[700], path[1400];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(sub, sizeof(sub), "%s/%s", r->out, r->kube ? "default" : r->svc);
	d = opendir(sub);
	if (!d && r->kube) {
		/* the pod's service name is its workload: whatever the one directory is */
		DIR *top = opendir(r->out);
		while (top && (de = readdir(top)) != NULL)
			if (de->d_name[0] != '.')
				snprintf(sub, sizeof(sub), "%s/%s", r->out, de->d_name);
		if (top)
			closedir(top);
		d = opendir(sub);
	}
	if (!d) {
		fprintf(stderr, "  %s: no output directory %s\n", r->svc, sub);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct pprof_profile *p = NULL;
		struct buf b;
		int64_t dur;

		if (!strstr(de->d_name, "-cpu-") || !strstr(de->d_name, ".pb.gz"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
		buf_init(&b, 0);
		if (test_read_file(path, &b) != 0 || pprof_decode(b.data, b.len, NULL, &p) != 0) {
			fprintf(stderr, "  %s: %s is not a pprof profile\n", r->svc, path);
			buf_free(&b);
			closedir(d);
			return -1;
		}
		dur = pprof_duration_ns(p);
		pprof_profile_free(p);
		buf_free(&b);
		if (dur != (int64_t)r->want_cpu_s * NS_PER_SEC) {
			fprintf(stderr, "  %s: %s lasts %lld ns, not %d s\n", r->svc, path,
				(long long)dur, r->want_cpu_s);
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	return n;
}

static int log_has(const char *path, const char *needle)
{
	struct buf b;
	int found;

	buf_init(&b, 0);
	found = test_read_file(path, &b) == 0 && b.data && strstr(b.data, needle);
	buf_free(&b);
	return found;
}

static void stop_all(void)
{
	static int done;

	if (done++)
		return;
	for (int i = 0; i < NRUNS; i++) {
		if (runs[i].agent > 0)
			test_stop(runs[i].agent, 5000);
		if (runs[i].srv > 0)
			test_stop(runs[i].srv, 2000);
		runs[i].agent = runs[i].srv = -1;
	}
	if (kube.pid > 0)
		fake_kube_stop(&kube);
}

TEST(every_interval_gets_cpu_profiles_that_never_overlap)
{
	int r;

	dir = test_tmpdir("scrape-intervals");
	atexit(stop_all); /* a failed check leaves the test early: stop what it started */
	r = fake_kube_start(&kube, &(struct fake_kube_opts){0});
	if (r == -ENOENT) {
		SKIP("python3 or the fake API server is missing");
	}
	CHECK_EQ(r, 0);
	for (int i = 0; i < NRUNS; i++) {
		snprintf(runs[i].svc, sizeof(runs[i].svc), "%s%ds", runs[i].kube ? "pod" : "svc",
			 runs[i].interval_s);
		CHECK_EQ(start_srv(&runs[i]), 0);
		if (runs[i].kube)
			CHECK_EQ(post_pod(&runs[i]), 0);
		CHECK_EQ(start_agent(&runs[i]), 0);
	}
	sleep(RUN_S);
	for (int i = 0; i < NRUNS; i++) {
		/* still running: no interval makes the agent exit */
		if (test_wait(runs[i].agent, 0) != -ETIMEDOUT) {
			fprintf(stderr, "  PROFILES_SCRAPE_INTERVAL=%ds: the agent exited; see %s\n",
				runs[i].interval_s, runs[i].log);
			CHECK(0);
		}
	}
	for (int i = 0; i < NRUNS; i++) {
		runs[i].term = (long long)time_real_ns();
		test_stop(runs[i].agent, 5000);
		runs[i].exited = (long long)time_real_ns();
		runs[i].agent = -1;
	}

	for (int i = 0; i < NRUNS; i++) {
		struct run *x = &runs[i];
		struct req reqs[256];
		size_t n = read_reqs(x->cpu_log, reqs, 256), done = 0, ended = 0;
		char chose[96];
		int files;

		fprintf(stderr, "  %s: interval %ds, %zu CPU requests\n", x->svc, x->interval_s, n);
		/* the choice is said once (10 s, the default, needs no word) */
		snprintf(chose, sizeof(chose), "CPU profiles last %ds", x->want_cpu_s);
		if (x->want_cpu_s != 10 && !x->kube)
			CHECK(log_has(x->log, chose));
		if (x->kube)
			CHECK(log_has(x->log, "CPU profiles of " POD_CPU_SECONDS
					      "s do not fit the scrape interval"));
		/* a 15 s interval over 44 s: at least two slots whatever the offset */
		CHECK(n >= 2);
		for (size_t k = 0; k < n; k++) {
			if (k > 0 && reqs[k].start < reqs[k - 1].end) {
				fprintf(stderr, "  %s: CPU request %zu started %lld ms before the "
						"previous one ended\n",
					x->svc, k, (reqs[k - 1].end - reqs[k].start) / 1000000);
				CHECK(0);
			}
			/* what ended before the agent exited may have become a profile; what
			 * ended before it was told to stop must have (but perhaps the last) */
			ended += reqs[k].end < x->exited;
			if (reqs[k].end >= x->term)
				continue; /* cut short by the stop */
			CHECK_EQ(reqs[k].status, 200);
			/* Go's handler sleeps the seconds asked for */
			CHECK(reqs[k].end - reqs[k].start >= (long long)x->want_cpu_s * NS_PER_SEC);
			CHECK(reqs[k].end - reqs[k].start <
			      (long long)(x->want_cpu_s + 2) * NS_PER_SEC);
			done++;
		}
		files = cpu_profiles(x);
		CHECK(files >= 0);
		/* every completed profile arrived but perhaps one the stop caught in flight,
		 * and none that the service did not finish before the agent exited */
		fprintf(stderr, "  %s: %d CPU profiles; %zu requests done before the stop, %zu "
				"before the exit\n", x->svc, files, done, ended);
		CHECK(files >= 2 && (size_t)files + 1 >= done && (size_t)files <= ended);
	}
	stop_all();
	test_rmtree(dir);
	free(dir);
}

TEST(an_explicit_duration_as_long_as_the_interval_is_an_error)
{
	char *env[] = {"PROFILES_SCRAPE_INTERVAL=10s", "PODPROF_SCRAPE_CPU_DURATION=10s", NULL};
	struct buf out;
	char cmd[4200];
	pid_t pid;

	/* the flag */
	snprintf(cmd, sizeof(cmd),
		 "PROFILES_SCRAPE_INTERVAL=10s %s cluster --scrape-cpu-duration 10s "
		 "--target a=http://127.0.0.1:1 --output-dir /nonexistent --listen= 2>&1; "
		 "echo \"exit=$?\"",
		 test_podprof_bin());
	buf_init(&out, 0);
	test_sh(cmd, &out, 1);
	CHECK(out.data && strstr(out.data, "exit=2"));
	CHECK(strstr(out.data, "--scrape-cpu-duration (PODPROF_SCRAPE_CPU_DURATION) 10s must be "
			       "shorter than --scrape-interval (PROFILES_SCRAPE_INTERVAL) 10s"));
	buf_free(&out);
	/* the variable */
	pid = test_spawn((char *[]){(char *)test_podprof_bin(), "cluster", "--listen=",
				    "--target", "a=http://127.0.0.1:1", "--output-dir",
				    "/nonexistent", NULL},
			 env, "/dev/null");
	CHECK(pid > 0);
	CHECK_EQ(test_wait(pid, 10000), 2);
}
