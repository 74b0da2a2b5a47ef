/*
 * Static targets of `podprof cluster`: --target URLs (service name, path, query) and
 * a Prometheus file_sd targets file that is re-read when it changes: targets it no
 * longer lists go, and a bad file (malformed group, not JSON) changes nothing.
 * The targets need not answer: what is checked is the target set on /targets.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "testing.h"

static pid_t agent = -1;

static void stop_agent(void)
{
	if (agent > 0)
		test_stop(agent, 5000);
	agent = -1;
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (test_write_file(tmp, text, strlen(text)) != 0)
		return -1;
	return rename(tmp, path);
}

/* The targets on /targets, as "url|service|labels;" sorted by url in a string. */
static int target_set(const char *listen, struct buf *out)
{
	char url[128];
	struct buf b;
	cJSON *root, *t;
	char *lines[64];
	int n = 0;

	snprintf(url, sizeof(url), "http://%s/targets?format=json", listen);
	buf_init(&b, 0);
	buf_reset(out);
	if (test_http_get(url, &b) != 200 || !(root = cJSON_Parse(b.data))) {
		buf_free(&b);
		return -1;
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets"))
	{
		struct buf line;
		const cJSON *l;
		buf_init(&line, 0);
		buf_printf(&line, "%s|%s|",
			   cJSON_GetObjectItemCaseSensitive(t, "url")->valuestring,
			   cJSON_GetObjectItemCaseSensitive(t, "service_name")->valuestring);
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "labels"))
			buf_printf(&line, "%s=%s,", l->string, l->valuestring);
		if (n < 64)
			lines[n++] = buf_steal(&line, NULL);
		else
			buf_free(&line);
	}
	for (int i = 0; i < n; i++)
		for (int k = i + 1; k < n; k++)
			if (strcmp(lines[k], lines[i]) < 0) {
				char *x = lines[i];
				lines[i] = lines[k];
				lines[k] = x;
			}
	for (int i = 0; i < n; i++) {
		buf_printf(out, "%s;", lines[i]);
		free(lines[i]);
	}
	cJSON_Delete(root);
	buf_free(&b);
	return n;
}

/* Waits until the target set is want. */
static int wait_set(const char *listen, const char *want, struct buf *got)
{
	for (int t = 0; t < 150; t++) {
		if (target_set(listen, got) >= 0 && strcmp(got->data ? got->data : "", want) == 0)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* Occurrences of needle in the agent's log. */
static int log_count(const char *log, const char *needle)
{
	struct buf b;
	int n = 0;

	buf_init(&b, 0);
	if (test_read_file(log, &b) == 0 && b.data)
		for (const char *p = b.data; (p = strstr(p, needle)) != NULL; p++)
			n++;
	buf_free(&b);
	return n;
}

static int wait_log(const char *log, const char *needle, int n)
{
	for (int t = 0; t < 150; t++) {
		if (log_count(log, needle) >= n)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

TEST(static_targets)
{
	char *dir = test_tmpdir("scrape-targets"), file[512], log[512], out[512], listen[64];
	char text[2048], want[2048], solo[128];
	int p1 = test_free_port(), p2 = test_free_port(), p3 = test_free_port(),
	    p4 = test_free_port(), lp = test_free_port();
	struct buf got;

	atexit(stop_agent);
	buf_init(&got, 0);
	snprintf(file, sizeof(file), "%s/targets.json", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", lp);
	snprintf(text, sizeof(text),
		 "[{\"targets\": [\"127.0.0.1:%d\", \"127.0.0.1:%d\"],"
		 "  \"labels\": {\"service_name\": \"shop\", \"team\": \"pay\","
		 "              \"__scheme__\": \"http\"}},"
		 " {\"targets\": [\"127.0.0.1:%d\"],"
		 "  \"labels\": {\"__metrics_path__\": \"/internal/pprof/\"}}]",
		 p1, p2, p3);
	CHECK(write_atomic(file, text) == 0);
	snprintf(solo, sizeof(solo), "solo=http://127.0.0.1:%d/debug/pprof?tenant=a", p4);
	{
		char *argv[] = {(char *)test_podprof_bin(), "cluster", "--targets-file", file,
				"--target", solo, "--scrape-interval=60s", "--listen", listen,
				"--output-dir", out, NULL};
		agent = test_spawn(argv, NULL, log);
	}
	CHECK(agent > 0 && test_wait_port(lp, 10000) == 0);

	/* the flag's path and query, the file's labels, scheme, path and default service */
	snprintf(want, sizeof(want),
		 "http://127.0.0.1:%d/debug/pprof|shop|team=pay,instance=127.0.0.1:%d,;"
		 "http://127.0.0.1:%d/debug/pprof|shop|team=pay,instance=127.0.0.1:%d,;"
		 "http://127.0.0.1:%d/internal/pprof|127.0.0.1:%d|instance=127.0.0.1:%d,;"
		 "http://127.0.0.1:%d/debug/pprof?tenant=a|solo|instance=127.0.0.1:%d,;",
		 p1, p1, p2, p2, p3, p3, p3, p4, p4);
	/* sorted as target_set sorts */
	{
		struct buf sorted;
		char *parts[8], *save = NULL, *tok;
		int n = 0;
		buf_init(&sorted, 0);
		for (tok = strtok_r(want, ";", &save); tok && n < 8; tok = strtok_r(NULL, ";", &save))
			parts[n++] = tok;
		for (int i = 0; i < n; i++)
			for (int k = i + 1; k < n; k++)
				if (strcmp(parts[k], parts[i]) < 0) {
					char *x = parts[i];
					parts[i] = parts[k];
					parts[k] = x;
				}
		for (int i = 0; i < n; i++)
			buf_printf(&sorted, "%s;", parts[i]);
		snprintf(want, sizeof(want), "%s", sorted.data);
		buf_free(&sorted);
	}
	CHECK_MSG(wait_set(listen, want, &got) == 0, "targets:\n    %s\n  expected:\n    %s",
		  got.data, want);

	/* the file drops two of its targets (rewritten within the same second) */
	snprintf(text, sizeof(text),
		 "[{\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"service_name\": \"shop\", "
		 "\"team\": \"pay\"}}]",
		 p1);
	CHECK(write_atomic(file, text) == 0);
	/* the two that stay, in target_set's order */
	{
		char a[256], b[256];
		int ab;
		snprintf(a, sizeof(a),
			 "http://127.0.0.1:%d/debug/pprof?tenant=a|solo|instance=127.0.0.1:%d,;", p4,
			 p4);
		snprintf(b, sizeof(b),
			 "http://127.0.0.1:%d/debug/pprof|shop|team=pay,instance=127.0.0.1:%d,;", p1,
			 p1);
		ab = strcmp(a, b) < 0;
		snprintf(want, sizeof(want), "%s%s", ab ? a : b, ab ? b : a);
	}
	CHECK_MSG(wait_set(listen, want, &got) == 0, "targets:\n    %s\n  expected:\n    %s",
		  got.data, want);

	/* a malformed group: nothing changes, neither the good group's target added nor the
	 * current ones removed */
	snprintf(text, sizeof(text),
		 "[{\"targets\": [42]}, {\"targets\": [\"127.0.0.1:%d\"]}]", p2);
	CHECK(write_atomic(file, text) == 0);
	CHECK(wait_log(log, "keeping the previous targets", 1) == 0);
	CHECK(target_set(listen, &got) == 2);
	CHECK_STR(got.data, want);
	/* not JSON at all */
	CHECK(write_atomic(file, "{\"targets\": ") == 0);
	CHECK(wait_log(log, "keeping the previous targets", 2) == 0);
	CHECK(target_set(listen, &got) == 2);
	CHECK_STR(got.data, want);
	/* and a bad file is reported once, not at every check */
	sleep(6);
	CHECK_EQ(log_count(log, "keeping the previous targets"), 2);

	/* empty: only the flag's target stays */
	CHECK(write_atomic(file, "[]") == 0);
	snprintf(want, sizeof(want),
		 "http://127.0.0.1:%d/debug/pprof?tenant=a|solo|instance=127.0.0.1:%d,;", p4, p4);
	CHECK_MSG(wait_set(listen, want, &got) == 0, "targets:\n    %s", got.data);

	CHECK_EQ(test_stop(agent, 10000), 0);
	agent = -1;
	buf_free(&got);
	if (!getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(dir);
	free(dir);
}
