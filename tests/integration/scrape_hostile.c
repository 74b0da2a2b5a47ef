/*
 * `podprof cluster` against hostile targets (tests/tools/hostile_pprof.py: slowloris,
 * an endless body, a gzip bomb, an HTML page, a redirect loop, a server that accepts
 * and never answers, a CPU profile already in use, no pprof at all) and, at the same
 * time, a healthy Go service (tests/go/pprofsrv, newest toolchain):
 *
 *   - every scrape of a hostile target ends within the scrape timeout (plus the CPU
 *     seconds for CPU profiles), with a clear per-target, per-type error on
 *     /targets?format=json and a result in podprof_scrapes_total;
 *   - the agent's peak RSS (VmHWM) stays within the scrape buffer budget that all
 *     responses share, and so does the budget's own accounting on /metrics;
 *   - the healthy target's profiles keep arriving at every interval, and nothing is
 *     missed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile_round.h"
#include "profcmp.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

#define INTERVAL_S 4
#define TIMEOUT_S 2
#define CPU_S 1
#define RUN_S 15
/* seconds a bomb's body may take to inflate until the budget refuses it, in the workers */
#define BOMB_WORK_S (SANITIZED ? 8 : 3)
#define MAX_BYTES_MIB 4
/* the scrape buffer budget (the default) */
#define BUDGET_MIB 64

static const struct {
	const char *mode;
	const char *error[5]; /* expected error substring per type: cpu heap block mutex goroutine */
	const char *result;   /* podprof_scrapes_total result of its heap scrapes */
} hostile[] = {
	{"slowloris", {"timed out after", "timed out after", "timed out after", "timed out after",
		       "timed out after"}, "timeout"},
	{"endless", {"response larger than 4194304 bytes", "response larger than 4194304 bytes",
		     "response larger than 4194304 bytes", "response larger than 4194304 bytes",
		     "response larger than 4194304 bytes"}, "too_large"},
	/* its body and what it inflates to outgrow the budget before the profile bound */
	{"bomb", {"scrape buffer budget", "scrape buffer budget", "scrape buffer budget",
		  "scrape buffer budget", "scrape buffer budget"}, "too_large"},
	{"html", {"an HTML page", "an HTML page", "an HTML page", "an HTML page", "an HTML page"},
	 "invalid"},
	{"redirect", {"more than 3 redirects", "more than 3 redirects", "more than 3 redirects",
		      "more than 3 redirects", "more than 3 redirects"}, "http_error"},
	{"blackhole", {"timed out after", "timed out after", "timed out after", "timed out after",
		       "timed out after"}, "timeout"},
	{"cpuinuse", {"HTTP 500: another client is running a CPU profile", "HTTP 404: no /heap",
		      "HTTP 404: no /block", "HTTP 404: no /mutex", "HTTP 404: no /goroutine"},
	 "http_error"},
	{"notfound", {"HTTP 404: no /profile", "HTTP 404: no /heap", "HTTP 404: no /block",
		      "HTTP 404: no /mutex", "HTTP 404: no /goroutine"}, "http_error"},
};
static const char *const kinds[] = {"cpu", "heap", "block", "mutex", "goroutine"};

static pid_t hostile_pid = -1, healthy_pid = -1, agent = -1;

static void stop_all(void)
{
	if (agent > 0)
		test_stop(agent, 5000);
	if (hostile_pid > 0)
		test_stop(hostile_pid, 2000);
	if (healthy_pid > 0)
		test_stop(healthy_pid, 2000);
	agent = hostile_pid = healthy_pid = -1;
}

/* The port of a mode in the hostile server's port file, or -1. */
static int mode_port(const char *ports, const char *mode)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s ", mode);
	for (p = ports; p && (p = strstr(p, key)) != NULL; p++)
		if (p == ports || p[-1] == '\n')
			return atoi(p + strlen(key));
	return -1;
}

static cJSON *get_json(const char *url)
{
	struct buf b;
	cJSON *j = NULL;

	buf_init(&b, 0);
	if (test_http_get(url, &b) == 200)
		j = cJSON_Parse(b.data);
	buf_free(&b);
	return j;
}

static const cJSON *type_of(const cJSON *root, const char *service, const char *type)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets"))
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "service_name");
		if (cJSON_IsString(s) && strcmp(s->valuestring, service) == 0)
			return cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(t, "types"), type);
	}
	return NULL;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Is an upload recorded by the receiver a CPU profile? */
static int is_cpu(const struct fake_coroot *f, const cJSON *r)
{
	char *path = fake_body_path(f, r);
	struct canon c;
	int cpu = 0;

	if (path && canon_load(path, &c) == 0) {
		cpu = c.nvalues == 2 && strcmp(c.types[1], "go:profile_cpu:nanoseconds") == 0;
		canon_free(&c);
	}
	free(path);
	return cpu;
}

TEST(hostile_targets)
{
	char *dir = test_tmpdir("scrape-hostile"), portfile[512], bin[4096], log[600], hlog[600];
	char listen[64], url[128], *argv[64];
	struct fake_coroot fake;
	struct buf ports, metrics;
	int argc = 0, listen_port = test_free_port(), healthy_port;
	int64_t t0, last_cpu_arrival, max_gap = 0;
	int seen = 0, cpu_arrivals = 0;
	long hwm_kb, rss_start_kb;
	cJSON *root;

	atexit(stop_all);
	fake_global_init();
	buf_init(&ports, 0);
	buf_init(&metrics, 0);
	snprintf(bin, sizeof(bin), "%s/%s/pprofsrv-exe", test_go_cache_dir(), "go1.27");
	{
		const char *go = test_go_newest();
		const char *v = go ? strstr(go, "go-1.") : NULL;
		if (!v)
			SKIP("no Go toolchain installed");
		snprintf(bin, sizeof(bin), "%s/go1.%d/pprofsrv-exe", test_go_cache_dir(), atoi(v + 5));
	}
	if (access(bin, X_OK) != 0)
		SKIP("no pprofsrv build at %s", bin);

	/* the hostile servers */
	snprintf(portfile, sizeof(portfile), "%s/hostile.ports", dir);
	snprintf(hlog, sizeof(hlog), "%s/hostile.log", dir);
	{
		char script[4096];
		char *hargv[] = {"/usr/bin/python3", script, "--port-file", portfile, NULL};
		snprintf(script, sizeof(script), "%s/tests/tools/hostile_pprof.py", test_source_dir());
		hostile_pid = test_spawn(hargv, NULL, hlog);
	}
	CHECK(hostile_pid > 0);
	CHECK_MSG(test_wait_file(portfile, 20000) == 0, "hostile servers not up; see %s", hlog);
	CHECK(test_read_file(portfile, &ports) == 0);

	/* the healthy Go service */
	{
		char pf[600];
		struct buf b;
		char *pargv[] = {bin, "-port-file", pf, "-cpu-duty", "0.2", NULL};
		snprintf(pf, sizeof(pf), "%s/healthy.port", dir);
		healthy_pid = test_spawn(pargv, NULL, NULL);
		CHECK(healthy_pid > 0 && test_wait_file(pf, 20000) == 0);
		buf_init(&b, 0);
		CHECK(test_read_file(pf, &b) == 0);
		healthy_port = atoi(b.data);
		buf_free(&b);
	}

	fake_prepare(&fake, "scrape-hostile-fake");
	CHECK(fake_start(&fake, NULL) == 0);

	/* the agent */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", listen_port);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	argv[argc++] = (char *)test_podprof_bin();
	argv[argc++] = "cluster";
	argv[argc++] = "--scrape-interval=4s";
	argv[argc++] = "--scrape-timeout=2s";
	argv[argc++] = "--scrape-cpu-duration=1s";
	argv[argc++] = "--scrape-max-bytes=4MiB";
	argv[argc++] = "--profiles-endpoint";
	argv[argc++] = fake.url;
	argv[argc++] = "--listen";
	argv[argc++] = listen;
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		int port = mode_port(ports.data, hostile[i].mode);
		CHECK_MSG(port > 0, "no port for %s", hostile[i].mode);
		argv[argc++] = "--target";
		if (asprintf(&argv[argc++], "hostile-%s=http://127.0.0.1:%d", hostile[i].mode,
			     port) < 0)
			abort();
	}
	argv[argc++] = "--target";
	if (asprintf(&argv[argc++], "healthy=http://127.0.0.1:%d", healthy_port) < 0)
		abort();
	argv[argc] = NULL;
	hostile_round_small_quarantine();
	agent = test_spawn(argv, NULL, log);
	CHECK(agent > 0);
	CHECK(test_wait_port(listen_port, 10000) == 0);
	rss_start_kb = test_proc_kb(agent, "VmRSS");

	/* run for a few intervals, watching the healthy target's CPU profiles arrive */
	t0 = time_mono_ns();
	last_cpu_arrival = -1;
	while (time_mono_ns() - t0 < (int64_t)RUN_S * NS_PER_SEC) {
		cJSON *reqs = fake_requests(&fake), *r;
		int i = 0;
		cJSON_ArrayForEach(r, reqs)
		{
			const cJSON *svc = cJSON_GetObjectItemCaseSensitive(r, "service");
			if (i++ < seen)
				continue;
			seen = i;
			CHECK_MSG(cJSON_IsString(svc) && strcmp(svc->valuestring, "healthy") == 0,
				  "an upload for %s", cJSON_IsString(svc) ? svc->valuestring : "?");
			if (is_cpu(&fake, r)) {
				int64_t now = time_mono_ns();
				if (last_cpu_arrival > 0 && now - last_cpu_arrival > max_gap)
					max_gap = now - last_cpu_arrival;
				last_cpu_arrival = now;
				cpu_arrivals++;
			}
		}
		cJSON_Delete(reqs);
		CHECK_MSG(test_wait(agent, 0) == -ETIMEDOUT, "the agent exited; see %s", log);
		usleep(200000);
	}
	hwm_kb = test_proc_kb(agent, "VmHWM");

	snprintf(url, sizeof(url), "http://%s/targets?format=json", listen);
	root = get_json(url);
	CHECK(root);
	snprintf(url, sizeof(url), "http://%s/metrics", listen);
	CHECK(test_http_get(url, &metrics) == 200);

	/* every hostile scrape failed clearly, in bounded time */
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		char service[64], series[160];
		snprintf(service, sizeof(service), "hostile-%s", hostile[i].mode);
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			const cJSON *st = type_of(root, service, kinds[k]);
			/* the transfer ends by the timeout; a bomb's body then still has to be
			 * inflated up to the profile bound, by two workers, five at once */
			double bound = TIMEOUT_S + (k == 0 ? CPU_S : 0) + 0.5 +
				       (strcmp(hostile[i].mode, "bomb") == 0 ? BOMB_WORK_S : 0);
			CHECK_MSG(st, "%s %s missing from /targets", service, kinds[k]);
			printf("  %-18s %-9s %-4s %5.2f s  %s\n", service, kinds[k], str_of(st, "state"),
			       num_of(st, "last_duration_seconds"), str_of(st, "error"));
			CHECK_MSG(strcmp(str_of(st, "state"), "down") == 0 &&
					  strstr(str_of(st, "error"), hostile[i].error[k]),
				  "%s %s: %s \"%s\", expected \"%s\"", service, kinds[k],
				  str_of(st, "state"), str_of(st, "error"), hostile[i].error[k]);
			CHECK_MSG(num_of(st, "scrapes") >= 2, "%s %s scraped %g times", service,
				  kinds[k], num_of(st, "scrapes"));
			CHECK_MSG(num_of(st, "last_duration_seconds") <= bound,
				  "%s %s took %.2f s (bound %.1f s)", service, kinds[k],
				  num_of(st, "last_duration_seconds"), bound);
		}
		snprintf(series, sizeof(series), "podprof_scrapes_total{type=\"heap\",result=\"%s\"}",
			 hostile[i].result);
		CHECK_MSG(prom_value(metrics.data, series) >= 2, "%s = %g", series,
			  prom_value(metrics.data, series));
	}
	/* the healthy one, scraped at the same time, is unaffected */
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		const cJSON *st = type_of(root, "healthy", kinds[k]);
		CHECK_MSG(st && strcmp(str_of(st, "state"), "up") == 0 && num_of(st, "failures") == 0,
			  "healthy %s: %s %s", kinds[k], str_of(st, "state"), str_of(st, "error"));
		CHECK_MSG(num_of(st, "scrapes") >= RUN_S / INTERVAL_S, "healthy %s: %g scrapes",
			  kinds[k], num_of(st, "scrapes"));
	}
	cJSON_Delete(root);
	printf("  healthy: %d CPU profiles in %d s, at most %.2f s apart (interval %d s)\n",
	       cpu_arrivals, RUN_S, (double)max_gap / 1e9, INTERVAL_S);
	CHECK(cpu_arrivals >= RUN_S / INTERVAL_S);
	/* every CPU slot started on time (no miss, no collision, checked below); an
	 * arrival can still wait behind a bomb that both workers are inflating */
	CHECK(max_gap <= (int64_t)(INTERVAL_S + 1 + BOMB_WORK_S) * NS_PER_SEC);
	CHECK_EQ(prom_value(metrics.data, "podprof_scrape_missed_total"), 0);
	CHECK_EQ(prom_value(metrics.data, "podprof_scrape_cpu_collisions_avoided_total"), 0);
	CHECK_EQ(prom_value(metrics.data, "podprof_targets{state=\"up\"}"), 1);
	CHECK_EQ(prom_value(metrics.data, "podprof_targets{state=\"down\"}"), ARRAY_SIZE(hostile));

	/* memory: what the agent was allowed to hold, not what the targets sent (1 GiB of
	 * gzip bomb, endless bodies): the scrape buffer budget, which the bodies in flight
	 * and the profiles being inflated share, and slack for the allocator and libcurl;
	 * the budget's own accounting never passed it */
	CHECK_EQ(prom_value(metrics.data, "podprof_scrape_buffer_budget_bytes"),
		 BUDGET_MIB << 20);
	CHECK(prom_value(metrics.data, "podprof_scrape_buffer_peak_bytes") > MAX_BYTES_MIB << 20);
	CHECK(prom_value(metrics.data, "podprof_scrape_buffer_peak_bytes") <= BUDGET_MIB << 20);
	CHECK(prom_value(metrics.data, "podprof_scrape_buffer_failures_total") >= 2 * 5);
	{
		long allowed_mib = BUDGET_MIB + 16;
		long bound_kb = rss_start_kb + (SANITIZED ? 3 : 1) * allowed_mib * 1024L;
		printf("  agent VmRSS at start %.1f MiB, VmHWM %.1f MiB (bound %.1f MiB%s)\n",
		       rss_start_kb / 1024.0, hwm_kb / 1024.0, bound_kb / 1024.0,
		       SANITIZED ? ", sanitizer build" : "");
		CHECK(hwm_kb > 0 && hwm_kb <= bound_kb);
	}
	{
		char hurl[128];
		snprintf(hurl, sizeof(hurl), "http://%s/healthz", listen);
		CHECK_EQ(test_http_get(hurl, NULL), 200);
	}
	CHECK_EQ(test_stop(agent, 10000), 0);
	agent = -1;
	stop_all();
	for (int i = 0; argv[i]; i++)
		if (i > 10 && strncmp(argv[i], "--", 2) != 0)
			free(argv[i]);
	fake_cleanup(&fake);
	buf_free(&ports);
	buf_free(&metrics);
	if (!getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(dir);
	free(dir);
}
