/*
 * Helpers of the uploader's tests (see uploader_fake.h).
 */
#include "uploader_fake.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pprof.h"
#include "support.h"

/* Receivers still running: a failed CHECK leaves its test early, so they are stopped
 * at exit instead of lingering. */
static pid_t running[16];

static void stop_leftovers(void)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (running[i] > 0)
			test_stop(running[i], 1000);
}

void fake_global_init(void)
{
	static int done;

	if (!done) {
		curl_global_init(CURL_GLOBAL_ALL);
		signal(SIGPIPE, SIG_IGN);
		atexit(stop_leftovers);
		done = 1;
	}
}

static void track(pid_t old, pid_t pid)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		if (running[i] == old) {
			running[i] = pid;
			return;
		}
	}
}

void fake_prepare(struct fake_coroot *f, const char *tag)
{
	fake_global_init();
	memset(f, 0, sizeof(*f));
	f->pid = -1;
	f->dir = test_tmpdir(tag);
	if (asprintf(&f->record, "%s/rec", f->dir) < 0)
		abort();
	f->port = test_free_port();
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1/profiles", f->port);
}

int fake_start(struct fake_coroot *f, const char *const *extra)
{
	char script[4096], port[16], log[4096];
	char *argv[32];
	int n = 0;

	snprintf(script, sizeof(script), "%s/tests/tools/fake_coroot.py", test_source_dir());
	snprintf(port, sizeof(port), "%d", f->port);
	snprintf(log, sizeof(log), "%s/fake.log", f->dir);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--record-dir";
	argv[n++] = f->record;
	for (size_t i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	f->pid = test_spawn(argv, NULL, log);
	if (f->pid < 0)
		return f->pid;
	track(0, f->pid);
	if (test_wait_port(f->port, 15000) != 0 || test_wait(f->pid, 0) != -ETIMEDOUT) {
		fprintf(stderr, "  fake_coroot did not start; see %s\n", log);
		fake_stop(f);
		return -EIO;
	}
	return 0;
}

void fake_stop(struct fake_coroot *f)
{
	if (f->pid > 0) {
		test_stop(f->pid, 2000);
		track(f->pid, 0);
	}
	f->pid = -1;
}

void fake_cleanup(struct fake_coroot *f)
{
	fake_stop(f);
	if (f->dir && !getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(f->dir);
	free(f->dir);
	free(f->record);
	f->dir = f->record = NULL;
}

int fake_control(struct fake_coroot *f, const char *query)
{
	char url[512];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/control?%s", f->port, query);
	return test_http_get(url, NULL);
}

int fake_stat(struct fake_coroot *f, const char *name)
{
	char url[128];
	struct buf b;
	cJSON *j;
	int v = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", f->port);
	buf_init(&b, 0);
	if (test_http_get(url, &b) == 200 && (j = cJSON_Parse(b.data)) != NULL) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, name);
		if (cJSON_IsNumber(n))
			v = n->valueint;
		cJSON_Delete(j);
	}
	buf_free(&b);
	return v;
}

cJSON *fake_requests(const struct fake_coroot *f)
{
	char path[4096];
	struct buf b;
	cJSON *arr = cJSON_CreateArray();
	char *line, *save = NULL;

	snprintf(path, sizeof(path), "%s/requests.jsonl", f->record);
	buf_init(&b, 0);
	if (test_read_file(path, &b) != 0 || !b.data) {
		buf_free(&b);
		return arr;
	}
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);
		if (!r) {
			cJSON_Delete(arr);
			arr = NULL;
			break;
		}
		cJSON_AddItemToArray(arr, r);
	}
	buf_free(&b);
	return arr;
}

int fake_count(const struct fake_coroot *f)
{
	cJSON *arr = fake_requests(f);
	int n = arr ? cJSON_GetArraySize(arr) : -1;

	cJSON_Delete(arr);
	return n;
}

int fake_wait_count(const struct fake_coroot *f, int n, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (fake_count(f) >= n)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

char *fake_body_path(const struct fake_coroot *f, const cJSON *r)
{
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(r, "file");
	char *p;

	if (!cJSON_IsString(file) || asprintf(&p, "%s/%s", f->record, file->valuestring) < 0)
		return NULL;
	return p;
}

static const char *member(const cJSON *r, const char *obj, const char *name)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, obj);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *fake_label(const cJSON *r, const char *name)
{
	return member(r, "labels", name);
}

const char *fake_header(const cJSON *r, const char *name)
{
	return member(r, "headers", name);
}

long fake_body_id(const struct fake_coroot *f, const cJSON *r)
{
	char *path = fake_body_path(f, r);
	struct buf b;
	long id = -1;

	buf_init(&b, 0);
	if (path && test_read_file(path, &b) == 0)
		id = test_body_id(b.data, b.len);
	buf_free(&b);
	free(path);
	return id;
}

struct pprof_profile *test_profile(long id)
{
	return test_profile_sized(id, 0);
}

struct pprof_profile *test_profile_sized(long id, int filler)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	struct pprof_line line;
	char name[128];
	uint64_t loc;
	int64_t v = id;

	if (!b)
		return NULL;
	snprintf(name, sizeof(name), "main.profile%06ld", id);
	pprof_builder_add_sample_type(b, "samples", "count");
	pprof_builder_set_period(b, "samples", "count", 1);
	pprof_builder_set_time(b, 1700000000 * NS_PER_SEC + id, 10 * NS_PER_SEC);
	line.function_id = pprof_builder_function(b, name, name, "/src/main.go", 10);
	line.line = 12;
	loc = pprof_builder_location(b, 0, 0x1000 + (uint64_t)id, &line, 1);
	if (!loc || pprof_builder_add_sample(b, &loc, 1, &v, 1, NULL, 0) != 0)
		goto out;
	for (int i = 0; i < filler; i++) {
		uint64_t locs[2];
		int64_t fv = 1 + i;

		snprintf(name, sizeof(name), "example.com/service/pkg%d.(*T%ld).method%d", i % 7,
			 id, i);
		line.function_id = pprof_builder_function(b, name, name, "/src/pkg/file.go", i);
		line.line = 20 + i;
		locs[0] = pprof_builder_location(b, 0, 0x100000 + (uint64_t)i, &line, 1);
		locs[1] = loc;
		if (!locs[0] || pprof_builder_add_sample(b, locs, 2, &fv, 1, NULL, 0) != 0)
			goto out;
	}
	pprof_builder_finish(b, &p);
out:
	pprof_builder_free(b);
	return p;
}

int test_profile_body(long id, struct buf *out)
{
	struct pprof_profile *p = test_profile(id);
	int r;

	if (!p)
		return -ENOMEM;
	r = pprof_encode(p, 1, out);
	pprof_profile_free(p);
	return r;
}

long test_body_id(const void *body, size_t len)
{
	struct pprof_profile *p = NULL;
	long id = -1;

	if (pprof_decode(body, len, NULL, &p) == 0 && pprof_sample_count(p) > 0 &&
	    pprof_sample_type_count(p) > 0)
		id = (long)pprof_sample_values(p, 0)[0];
	pprof_profile_free(p);
	return id;
}

double prom_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

double registry_value(struct metrics_registry *r, const char *series)
{
	struct buf b;
	double v;

	buf_init(&b, 0);
	if (metrics_render(r, &b) != 0 || !b.data) {
		buf_free(&b);
		return -1;
	}
	v = prom_value(b.data, series);
	buf_free(&b);
	return v;
}

int test_write_profiles(const char *dir, long from, long to, int filler)
{
	int r = 0;

	for (long id = from; id <= to && !r; id++) {
		struct pprof_profile *p = test_profile_sized(id, filler);
		char path[4096];
		struct buf b;

		buf_init(&b, 0);
		snprintf(path, sizeof(path), "%s/%06ld.pb.gz", dir, id);
		r = p ? pprof_encode(p, 1, &b) : -ENOMEM;
		if (!r)
			r = test_write_file(path, b.data, b.len);
		buf_free(&b);
		pprof_profile_free(p);
	}
	return r;
}

long test_proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

long test_log_dropped(const char *log, const char *reason)
{
	const char *line = NULL, *p, *end;
	char key[64];

	for (p = strstr(log, "uploader: stopped:"); p; p = strstr(p + 1, "uploader: stopped:"))
		line = p;
	if (!line)
		return -1;
	end = strchr(line, '\n');
	snprintf(key, sizeof(key), "%s=", reason);
	p = strstr(line, key);
	if (!p || (end && p > end))
		return 0;
	return strtol(p + strlen(key), NULL, 10);
}
