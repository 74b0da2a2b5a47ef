/*
 * Unit tests of the uploader against the fake Coroot receiver: delivery exactly once
 * with the right query and headers, the zero-sample split (checked with
 * `go tool pprof -raw`), the directory sink, retries of transient failures, drops of
 * rejected profiles, the wrong API key (kept and retried), flush timeouts and many
 * producers at once. The spool has its own file (uploader_spool.c).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "pprof.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

static const struct upload_label labels[] = {
	{"pod", "api-7f9c6d-x2x"},
	{"note", "a b&c=d%e+f"},
};

static struct uploader_config cfg_for(const char *url, struct metrics_registry *m)
{
	return (struct uploader_config){.endpoint = url,
					.timeout_ns = 2 * NS_PER_SEC,
					.backoff_min_ns = 20 * NS_PER_MS,
					.backoff_max_ns = 200 * NS_PER_MS,
					.metrics = m};
}

static struct upload_meta meta_for(const char *service)
{
	return (struct upload_meta){.service_name = service,
				    .kind = "cpu",
				    .labels = labels,
				    .nlabels = ARRAY_SIZE(labels)};
}

static int submit_ids(struct uploader *u, const struct upload_meta *meta, long from, long to)
{
	for (long id = from; id <= to; id++) {
		struct pprof_profile *p = test_profile(id);
		int r = p ? uploader_submit_profile(u, meta, p) : -ENOMEM;

		pprof_profile_free(p);
		if (r)
			return r;
	}
	return 0;
}

/* Checks that the fake received exactly the ids from..to, each once, in order. */
static int received_in_order(struct fake_coroot *f, long from, long to)
{
	cJSON *arr = fake_requests(f), *r;
	long want = from;
	int ok = arr != NULL;

	cJSON_ArrayForEach(r, arr)
	{
		long id = fake_body_id(f, r);
		if (id != want) {
			fprintf(stderr, "    received id %ld, expected %ld\n", id, want);
			ok = 0;
			break;
		}
		want++;
	}
	if (ok && want != to + 1) {
		fprintf(stderr, "    received up to id %ld, expected up to %ld\n", want - 1, to);
		ok = 0;
	}
	cJSON_Delete(arr);
	return ok;
}

TEST(delivers_each_profile_once_with_query_and_key)
{
	const char *extra[] = {"--api-key", "k-123", NULL};
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct upload_meta meta = meta_for("/k8s/default/api server");
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	cJSON *arr = NULL, *r;
	double port = -1;

	fake_prepare(&f, "up-once");
	CHECK(fake_start(&f, extra) == 0);
	cfg = cfg_for(f.url, m);
	cfg.api_key = "k-123";
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 20) == 0);
	CHECK_EQ(uploader_flush(u, 20 * NS_PER_SEC), 0);
	CHECK_EQ(uploader_pending(u), 0);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.submitted, 20);
	CHECK_EQ(st.delivered, 20);
	CHECK_EQ(st.dropped, 0);
	CHECK(received_in_order(&f, 1, 20));
	arr = fake_requests(&f);
	cJSON_ArrayForEach(r, arr)
	{
		const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r, "client_port");
		CHECK_STR(cJSON_GetObjectItemCaseSensitive(r, "service")->valuestring,
			  "/k8s/default/api server");
		CHECK_STR(fake_label(r, "pod"), "api-7f9c6d-x2x");
		CHECK_STR(fake_label(r, "note"), "a b&c=d%e+f");
		CHECK_STR(fake_header(r, "x-api-key"), "k-123");
		CHECK_STR(fake_header(r, "content-type"), "application/octet-stream");
		/* one connection for all: the easy handle is reused (keep-alive) */
		if (port < 0)
			port = cp->valuedouble;
		CHECK(cp->valuedouble == port);
	}
	CHECK_EQ(registry_value(m, "podprof_uploads_total{sink=\"coroot\",result=\"success\"}"),
		 20);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"queue_full\"}"), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_queue_length"), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_duration_seconds_count"), 20);
	cJSON_Delete(arr);
	uploader_free(u);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(no_api_key_header_without_key)
{
	const char *extra[] = {"--api-key", "server-key", NULL};
	struct upload_meta meta = meta_for("svc");
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	cJSON *arr;

	fake_prepare(&f, "up-nokey");
	CHECK(fake_start(&f, extra) == 0);
	cfg = cfg_for(f.url, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 2) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	arr = fake_requests(&f);
	CHECK_EQ(cJSON_GetArraySize(arr), 2);
	CHECK(fake_header(cJSON_GetArrayItem(arr, 0), "x-api-key") == NULL);
	CHECK(fake_header(cJSON_GetArrayItem(arr, 1), "x-api-key") == NULL);
	cJSON_Delete(arr);
	uploader_free(u);
	fake_cleanup(&f);
}

/* Checks the -raw listing of a body: a Samples section with at least one sample and
 * no value equal to zero. Returns the number of samples, or -1. */
static int raw_samples_without_zero(const char *raw)
{
	const char *p = strstr(raw, "\nSamples:\n");
	int n = 0;

	if (!p)
		return -1;
	p = strchr(p + 10, '\n'); /* skip the sample types line */
	for (p = p ? p + 1 : NULL; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *s = p + strspn(p, " "), *colon = strchr(s, ':');
		char vals[256], *tok, *save = NULL;

		if (strncmp(p, "Locations", 9) == 0 || strncmp(p, "Mappings", 8) == 0)
			break;
		if (*s < '0' || *s > '9')
			continue; /* a label line */
		if (!colon || (size_t)(colon - s) >= sizeof(vals))
			return -1;
		memcpy(vals, s, (size_t)(colon - s));
		vals[colon - s] = '\0';
		for (tok = strtok_r(vals, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (strcmp(tok, "0") == 0)
				return -1;
		n++;
	}
	return n;
}

TEST(zero_samples_are_split_and_never_uploaded)
{
	static const int64_t values[3][4] = {{1, 100, 1, 100}, {0, 0, 3, 300}, {2, 200, 0, 0}};
	struct upload_meta meta = meta_for("heap-svc");
	struct pprof_profile *p = NULL;
	struct pprof_builder *b;
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	cJSON *arr, *r;
	int parts = 0;

	if (!test_go_newest())
		SKIP("no Go toolchain for go tool pprof");
	fake_prepare(&f, "up-split");
	CHECK(fake_start(&f, NULL) == 0);
	b = pprof_builder_new();
	CHECK(b != NULL);
	pprof_builder_add_sample_type(b, "alloc_objects", "count");
	pprof_builder_add_sample_type(b, "alloc_space", "bytes");
	pprof_builder_add_sample_type(b, "inuse_objects", "count");
	pprof_builder_add_sample_type(b, "inuse_space", "bytes");
	pprof_builder_set_time(b, 1700000000 * NS_PER_SEC, 0);
	for (int i = 0; i < 3; i++) {
		char fn[32];
		struct pprof_line line = {.line = 10 + i};
		uint64_t loc;

		snprintf(fn, sizeof(fn), "main.alloc%d", i);
		line.function_id = pprof_builder_function(b, fn, fn, "/src/heap.go", 1);
		loc = pprof_builder_location(b, 0, 0x2000 + (uint64_t)i, &line, 1);
		CHECK(pprof_builder_add_sample(b, &loc, 1, values[i], 4, NULL, 0) == 0);
	}
	CHECK(pprof_builder_finish(b, &p) == 0);
	pprof_builder_free(b);
	cfg = cfg_for(f.url, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(uploader_submit_profile(u, &meta, p) == 0);
	pprof_profile_free(p);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	arr = fake_requests(&f);
	CHECK_EQ(cJSON_GetArraySize(arr), 2);
	cJSON_ArrayForEach(r, arr)
	{
		char *path = fake_body_path(&f, r);
		struct buf raw;
		int n;

		buf_init(&raw, 0);
		CHECK_EQ(test_pprof_raw(path, &raw), 0);
		n = raw_samples_without_zero(raw.data);
		CHECK_MSG(n == 2, "%d samples in:\n%s", n, raw.data);
		CHECK(strstr(raw.data, "alloc_objects") || strstr(raw.data, "inuse_objects"));
		parts++;
		buf_free(&raw);
		free(path);
	}
	CHECK_EQ(parts, 2);
	cJSON_Delete(arr);
	uploader_free(u);
	fake_cleanup(&f);
}

/* Walks dir recursively: counts entries whose name starts with '.', and checks every
 * file name against re. Returns the number of matching files, or -1. */
static int scan_output(const char *dir, regex_t *re, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while (n >= 0 && (de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || lstat(path, &st) != 0) {
			fprintf(stderr, "    unexpected %s\n", path);
			n = -1;
		} else if (S_ISDIR(st.st_mode) && depth == 0) {
			int k = scan_output(path, re, 1);
			n = k < 0 ? -1 : n + k;
		} else if (S_ISREG(st.st_mode) && depth == 1 &&
			   regexec(re, de->d_name, 0, NULL, 0) == 0) {
			struct buf b;
			struct pprof_profile *p = NULL;

			buf_init(&b, 0);
			if (test_read_file(path, &b) != 0 ||
			    pprof_decode(b.data, b.len, NULL, &p) != 0)
				n = -1;
			else
				n++;
			pprof_profile_free(p);
			buf_free(&b);
		} else {
			fprintf(stderr, "    unexpected %s\n", path);
			n = -1;
		}
	}
	closedir(d);
	return n;
}

TEST(directory_sink_names_files_atomically)
{
	struct upload_meta meta = {.service_name = "/k8s/../ns/ api", .kind = "heap"};
	struct uploader_config cfg = {.output_dir = NULL};
	struct uploader_stats st;
	struct uploader *u = NULL;
	char *dir = test_tmpdir("up-dir"), out[4096], sub[4200];
	regex_t re;
	struct stat sst;

	snprintf(out, sizeof(out), "%s/out/nested", dir);
	cfg.output_dir = out;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 3) == 0);
	meta.service_name = "../../etc";
	meta.kind = "../cpu";
	CHECK(submit_ids(u, &meta, 4, 4) == 0);
	CHECK_EQ(uploader_flush(u, NS_PER_SEC), 0);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.written, 4);
	CHECK_EQ(st.pending, 0);
	uploader_free(u);
	/* "/k8s/../ns/ api" -> "k8s_._ns_api": no separator, no "..", nothing hidden */
	snprintf(sub, sizeof(sub), "%s/k8s_._ns_api", out);
	CHECK(stat(sub, &sst) == 0 && S_ISDIR(sst.st_mode));
	snprintf(sub, sizeof(sub), "%s/etc", out);
	CHECK(stat(sub, &sst) == 0 && S_ISDIR(sst.st_mode));
	CHECK(regcomp(&re, "^[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z-(heap|cpu)-[0-9]{6}\\.pb\\.gz$",
		      REG_EXTENDED | REG_NOSUB) == 0);
	CHECK_EQ(scan_output(out, &re, 0), 4);
	regfree(&re);
	test_rmtree(dir);
	free(dir);
}

TEST(both_sinks_get_every_profile)
{
	struct upload_meta meta = meta_for("both");
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char out[4096];
	regex_t re;

	fake_prepare(&f, "up-both");
	snprintf(out, sizeof(out), "%s/out", f.dir);
	cfg = cfg_for(f.url, NULL);
	cfg.output_dir = out;
	CHECK(uploader_new(&cfg, &u) == 0);
	/* the receiver is down: the directory has them at submit time anyway */
	CHECK(submit_ids(u, &meta, 1, 3) == 0);
	CHECK(regcomp(&re, "^[0-9]{8}T.*-cpu-[0-9]{6}\\.pb\\.gz$", REG_EXTENDED | REG_NOSUB) ==
	      0);
	CHECK_EQ(scan_output(out, &re, 0), 3);
	regfree(&re);
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.written, 3);
	CHECK_EQ(st.delivered, 3);
	CHECK(received_in_order(&f, 1, 3));
	uploader_free(u);
	fake_cleanup(&f);
}

TEST(transient_failures_are_retried_then_delivered)
{
	static const int codes[] = {500, 503, 429, 408};
	struct metrics_registry *m = metrics_registry_new();
	struct upload_meta meta = meta_for("retry");
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	long next = 1;

	fake_prepare(&f, "up-retry");
	CHECK(fake_start(&f, NULL) == 0);
	cfg = cfg_for(f.url, m);
	CHECK(uploader_new(&cfg, &u) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		char q[64];

		snprintf(q, sizeof(q), "mode=fail-first&status=%d&count=3", codes[i]);
		CHECK_EQ(fake_control(&f, q), 200);
		CHECK(submit_ids(u, &meta, next, next + 1) == 0);
		next += 2;
		CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
		CHECK_EQ(registry_value(m, "podprof_upload_retries_total"), 3 * (i + 1));
	}
	uploader_get_stats(u, &st);
	CHECK_EQ(st.delivered, next - 1);
	CHECK_EQ(st.dropped, 0);
	CHECK(received_in_order(&f, 1, next - 1));
	CHECK_EQ(registry_value(m, "podprof_uploads_total{sink=\"coroot\",result=\"retry\"}"),
		 12);
	uploader_free(u);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(rejected_profiles_are_dropped_and_counted)
{
	struct metrics_registry *m = metrics_registry_new();
	struct upload_meta meta = meta_for("reject");
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	static const char junk[] = "\x1f\x8b not a gzip pprof at all";

	fake_prepare(&f, "up-reject");
	CHECK(fake_start(&f, NULL) == 0);
	cfg = cfg_for(f.url, m);
	CHECK(uploader_new(&cfg, &u) == 0);
	/* a body the real parser refuses: the receiver's own 400 */
	CHECK(uploader_submit(u, &meta, junk, sizeof(junk) - 1) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"rejected\"}"), 1);
	/* injected 400s, then 413 */
	CHECK_EQ(fake_control(&f, "mode=status&status=400"), 200);
	CHECK(submit_ids(u, &meta, 1, 3) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"rejected\"}"), 4);
	CHECK_EQ(fake_control(&f, "mode=status&status=413"), 200);
	CHECK(submit_ids(u, &meta, 4, 5) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"too_large\"}"), 2);
	CHECK_EQ(registry_value(m, "podprof_upload_retries_total"), 0);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.dropped, 6);
	CHECK_EQ(st.delivered, 0);
	CHECK_EQ(st.pending, 0);
	CHECK_EQ(fake_count(&f), 0);
	/* and the next good profile still goes through */
	CHECK_EQ(fake_control(&f, "mode=ok"), 200);
	CHECK(submit_ids(u, &meta, 6, 6) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 6, 6));
	uploader_free(u);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(wrong_api_key_keeps_profiles_and_retries)
{
	const char *extra[] = {"--api-key", "right", NULL};
	struct metrics_registry *m = metrics_registry_new();
	struct upload_meta meta = meta_for("auth");
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	int waited = 0;

	fake_prepare(&f, "up-404");
	CHECK(fake_start(&f, extra) == 0);
	cfg = cfg_for(f.url, m);
	cfg.api_key = "wrong";
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 2) == 0);
	while (registry_value(m, "podprof_upload_retries_total") < 4 && waited < 10000) {
		usleep(20000);
		waited += 20;
	}
	CHECK(registry_value(m, "podprof_upload_retries_total") >= 4);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.pending, 2);
	CHECK_EQ(st.dropped, 0);
	CHECK_EQ(fake_count(&f), 0);
	/* the operator fixes the key (here: the server learns ours) */
	CHECK_EQ(fake_control(&f, "api_key=wrong"), 200);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 2));
	uploader_free(u);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(flush_times_out_while_coroot_is_down)
{
	struct upload_meta meta = meta_for("down");
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	int64_t t0;

	fake_prepare(&f, "up-down");
	cfg = cfg_for(f.url, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 1) == 0);
	t0 = time_mono_ns();
	CHECK_EQ(uploader_flush(u, 300 * NS_PER_MS), -ETIMEDOUT);
	CHECK(time_mono_ns() - t0 >= 290 * NS_PER_MS);
	CHECK(time_mono_ns() - t0 < 3 * NS_PER_SEC);
	CHECK_EQ(uploader_pending(u), 1);
	uploader_free(u);
	fake_cleanup(&f);
}

TEST(invalid_metadata_is_refused)
{
	struct upload_label bad[] = {{"service.name", "x"}};
	struct upload_meta meta = {.service_name = ""};
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg = {.endpoint = "http://127.0.0.1:1/v1/profiles",
				      .metrics = m};
	struct uploader *u = NULL;
	struct buf body;

	fake_global_init();
	buf_init(&body, 0);
	CHECK(test_profile_body(1, &body) == 0);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK_EQ(uploader_submit(u, &meta, body.data, body.len), -EINVAL);
	meta.service_name = "svc";
	meta.labels = bad;
	meta.nlabels = 1;
	CHECK_EQ(uploader_submit(u, &meta, body.data, body.len), -EINVAL);
	CHECK_EQ(uploader_pending(u), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"invalid\"}"), 2);
	uploader_free(u);
	/* no sink at all, and a nonsense backoff */
	cfg = (struct uploader_config){.endpoint = NULL};
	CHECK_EQ(uploader_new(&cfg, &u), -EINVAL);
	cfg = (struct uploader_config){.endpoint = "ftp://x/", .output_dir = NULL};
	CHECK_EQ(uploader_new(&cfg, &u), -EINVAL);
	cfg = (struct uploader_config){.endpoint = "http://x/",
				       .backoff_min_ns = NS_PER_SEC,
				       .backoff_max_ns = NS_PER_MS};
	CHECK_EQ(uploader_new(&cfg, &u), -EINVAL);
	buf_free(&body);
	metrics_registry_free(m);
}

struct producer {
	struct uploader *u;
	long from;
	int r;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct upload_meta meta = meta_for("threads");

	p->r = submit_ids(p->u, &meta, p->from, p->from + 49);
	return NULL;
}

TEST(many_producers_each_profile_once)
{
	struct uploader_config cfg;
	struct producer prod[4];
	pthread_t th[4];
	struct fake_coroot f;
	struct uploader *u = NULL;
	cJSON *arr, *r;
	char seen[201] = {0};

	fake_prepare(&f, "up-threads");
	CHECK(fake_start(&f, NULL) == 0);
	cfg = cfg_for(f.url, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	for (int i = 0; i < 4; i++) {
		prod[i] = (struct producer){.u = u, .from = 1 + 50 * i};
		CHECK(pthread_create(&th[i], NULL, produce, &prod[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(prod[i].r, 0);
	}
	CHECK_EQ(uploader_flush(u, 30 * NS_PER_SEC), 0);
	arr = fake_requests(&f);
	CHECK_EQ(cJSON_GetArraySize(arr), 200);
	cJSON_ArrayForEach(r, arr)
	{
		long id = fake_body_id(&f, r);
		CHECK(id >= 1 && id <= 200);
		CHECK_MSG(!seen[id], "id %ld twice", id);
		seen[id] = 1;
	}
	cJSON_Delete(arr);
	uploader_free(u);
	fake_cleanup(&f);
}

TEST(tls_is_verified_unless_told_otherwise)
{
	const char *extra[] = {"--tls-cert", NULL, "--tls-key", NULL, NULL};
	struct metrics_registry *m = metrics_registry_new();
	struct upload_meta meta = meta_for("tls");
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char cert[4096], key[4096], cmd[12288], url[160];
	double retries;

	fake_prepare(&f, "up-tls");
	snprintf(cert, sizeof(cert), "%s/cert.pem", f.dir);
	snprintf(key, sizeof(key), "%s/key.pem", f.dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s'",
		 key, cert);
	if (test_sh(cmd, NULL, 1) != 0)
		SKIP("openssl cannot make a test certificate");
	extra[1] = cert;
	extra[3] = key;
	CHECK(fake_start(&f, extra) == 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/profiles", f.port);
	/* an unknown CA: refused, kept, retried */
	cfg = cfg_for(url, m);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 1) == 0);
	CHECK_EQ(uploader_flush(u, 500 * NS_PER_MS), -ETIMEDOUT);
	/* the first handshake may be slow (valgrind): wait for its refusal */
	for (int64_t until = time_mono_ns() + 30 * NS_PER_SEC;
	     registry_value(m, "podprof_upload_retries_total") < 1 && time_mono_ns() < until;)
		time_sleep_ns(20 * NS_PER_MS);
	retries = registry_value(m, "podprof_upload_retries_total");
	uploader_free(u);
	CHECK_MSG(retries >= 1, "no refused attempt in 30 s");
	/* the CA given with ca_file */
	cfg = cfg_for(url, NULL);
	cfg.ca_file = cert;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 1, 1) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	uploader_free(u);
	/* verification off */
	cfg = cfg_for(url, NULL);
	cfg.insecure_skip_verify = 1;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, &meta, 2, 2) == 0);
	CHECK_EQ(uploader_flush(u, 10 * NS_PER_SEC), 0);
	uploader_free(u);
	CHECK(received_in_order(&f, 1, 2));
	metrics_registry_free(m);
	fake_cleanup(&f);
}
