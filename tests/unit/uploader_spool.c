/*
 * Unit tests of the uploader's bounds and spool: every profile is written to the spool
 * before submit returns (and still sent oldest first), a profile the spool cannot
 * take waits in memory instead, what waits after a failed delivery is synced to disk,
 * the spool survives a restart, the spool bound and the
 * memory bound drop exactly the oldest (checked with the drop counters), shutdown
 * without a spool counts what it drops, and corrupt or foreign files in the spool
 * directory are skipped without blocking the queue.
 */
#include <dirent.h>
#include <errno.h>
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

#define FIXED_TIME (1700000000 * NS_PER_SEC)

static struct uploader_config cfg_for(const char *url, const char *spool,
				      struct metrics_registry *m)
{
	return (struct uploader_config){.endpoint = url,
					.spool_dir = spool,
					.timeout_ns = 2 * NS_PER_SEC,
					.backoff_min_ns = 20 * NS_PER_MS,
					.backoff_max_ns = 200 * NS_PER_MS,
					.metrics = m};
}

/* Submits body under label id=<NNN> for ids from..to. */
static int submit_labelled(struct uploader *u, const char *service, const struct buf *body,
			   long from, long to)
{
	for (long id = from; id <= to; id++) {
		char v[16];
		struct upload_label l = {"id", v};
		struct upload_meta meta = {.service_name = service, .kind = "cpu", .labels = &l,
					   .nlabels = 1, .time_ns = FIXED_TIME};
		int r;

		snprintf(v, sizeof(v), "%03ld", id);
		r = uploader_submit(u, &meta, body->data, body->len);
		if (r)
			return r;
	}
	return 0;
}

static int submit_ids(struct uploader *u, long from, long to)
{
	struct upload_meta meta = {.service_name = "spool", .kind = "cpu"};

	for (long id = from; id <= to; id++) {
		struct pprof_profile *p = test_profile(id);
		int r = p ? uploader_submit_profile(u, &meta, p) : -ENOMEM;

		pprof_profile_free(p);
		if (r)
			return r;
	}
	return 0;
}

/* Checks that the fake received exactly ids from..to in order, read from the body
 * (by_label 0) or from the "id" label (by_label 1). */
static int received_in_order(struct fake_coroot *f, long from, long to, int by_label)
{
	cJSON *arr = fake_requests(f), *r;
	long want = from;
	int ok = arr != NULL;

	cJSON_ArrayForEach(r, arr)
	{
		const char *l = fake_label(r, "id");
		long id = by_label ? (l ? atol(l) : -1) : fake_body_id(f, r);

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

/* Number of entries of dir whose name ends with suffix (or all, suffix NULL). */
static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;

		if (de->d_name[0] == '.' && (!suffix || strcmp(suffix, ".tmp") != 0))
			continue;
		if (!suffix || (len >= sl && strcmp(de->d_name + len - sl, suffix) == 0))
			n++;
	}
	closedir(d);
	return n;
}

static int wait_value(struct metrics_registry *m, const char *series, double v)
{
	for (int waited = 0; waited < 10000; waited += 10) {
		if (registry_value(m, series) >= v)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Size of the spool file that submit_labelled(body) makes (all have the same size:
 * same body, same field widths), measured with an uploader that cannot send. */
static off_t spool_file_size(const char *dir, const char *service, const struct buf *body)
{
	struct uploader_config cfg = cfg_for("http://127.0.0.1:1/v1/profiles", dir, NULL);
	struct uploader *u = NULL;
	struct dirent **names = NULL;
	struct stat sb;
	off_t size = -1;
	int n;

	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	if (uploader_new(&cfg, &u) != 0)
		return -1;
	submit_labelled(u, service, body, 999, 999);
	uploader_free(u);
	n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char path[2048];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (strstr(names[i]->d_name, ".spool") && names[i]->d_name[0] != '.') {
			if (stat(path, &sb) == 0)
				size = sb.st_size;
			unlink(path);
		}
		free(names[i]);
	}
	free(names);
	return size;
}

/* Checks that the receiver recorded exactly the profiles with these "id" labels, in
 * this order. */
static int received_labels(struct fake_coroot *f, const long *ids, int n)
{
	cJSON *arr = fake_requests(f), *r;
	int i = 0, ok = arr != NULL;

	cJSON_ArrayForEach(r, arr)
	{
		const char *l = fake_label(r, "id");

		if (i >= n || !l || atol(l) != ids[i]) {
			fprintf(stderr, "    request %d has id %s\n", i, l ? l : "(none)");
			ok = 0;
			break;
		}
		i++;
	}
	if (ok && i != n) {
		fprintf(stderr, "    %d requests, expected %d\n", i, n);
		ok = 0;
	}
	cJSON_Delete(arr);
	return ok;
}

TEST(every_profile_is_written_ahead_and_sent_oldest_first)
{
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024];
	int files;

	fake_prepare(&f, "sp-order");
	snprintf(spool, sizeof(spool), "%s/spool", f.dir);
	cfg = cfg_for(f.url, spool, m);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, 1, 10) == 0);
	/* a spool file each before submit returned, whatever the memory bound */
	files = count_files(spool, ".spool");
	CHECK_MSG(files == 10, "%d spool files", files);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_files"), files);
	CHECK_EQ(registry_value(m, "podprof_upload_queue_length"), 0);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.pending, 10);
	CHECK_EQ(st.dropped, 0);
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 10, 0));
	CHECK_EQ(count_files(spool, ".spool"), 0);
	CHECK_EQ(count_files(spool, ".tmp"), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_bytes"), 0);
	uploader_free(u);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(spool_survives_restart)
{
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024];
	struct dirent **names = NULL;
	int n;

	fake_prepare(&f, "sp-restart");
	snprintf(spool, sizeof(spool), "%s/spool", f.dir);
	cfg = cfg_for(f.url, spool, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, 1, 10) == 0);
	CHECK_EQ(count_files(spool, ".spool"), 10); /* written ahead */
	uploader_free(u);
	u = NULL;
	/* named so that they sort by age */
	n = scandir(spool, &names, NULL, alphasort);
	CHECK(n >= 10);
	{
		int k = 0;
		for (int i = 0; i < n; i++) {
			char path[4096], head[32] = "";
			FILE *fp;

			if (!strstr(names[i]->d_name, ".spool"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", spool, names[i]->d_name);
			fp = fopen(path, "rb");
			CHECK(fp && fread(head, 1, 16, fp) == 16);
			fclose(fp);
			CHECK(strncmp(head, "podprof-spool 1\n", 16) == 0);
			CHECK_EQ(strtoull(names[i]->d_name, NULL, 10), ++k);
		}
		CHECK_EQ(k, 10);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);

	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK_EQ(uploader_pending(u), 10);
	CHECK(submit_ids(u, 11, 15) == 0);
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 15, 0));
	CHECK_EQ(count_files(spool, ".spool"), 0);
	uploader_free(u);
	fake_cleanup(&f);
}

/* The receiver (not started), its spool path, a test body and the size of its spool
 * file as service; returns that size (<= 0 on failure). */
static off_t prepare(struct fake_coroot *f, const char *tag, char *spool, size_t len,
		     struct buf *body, const char *service)
{
	fake_prepare(f, tag);
	snprintf(spool, len, "%s/spool", f->dir);
	buf_init(body, 0);
	if (test_profile_body(1, body) != 0)
		return -1;
	return spool_file_size(spool, service, body);
}

/* A profile larger than the whole spool cannot be written ahead: it waits in the
 * memory queue instead, and is delivered like any other. */
TEST(a_profile_the_spool_cannot_take_waits_in_memory)
{
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024];
	struct buf body;
	off_t size;

	size = prepare(&f, "sp-memory", spool, sizeof(spool), &body, "big");
	CHECK(size > 0);
	cfg = cfg_for(f.url, spool, m);
	cfg.spool_max_bytes = (uint64_t)size - 1;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "big", &body, 1, 1) == 0);
	CHECK_EQ(count_files(spool, ".spool"), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_queue_length"), 1);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"spool_full\"}"), 0);
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 1, 1));
	uploader_free(u);
	buf_free(&body);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

/* Once a delivery failed, the thread syncs what waits before it sleeps, and again
 * when profiles come in during the backoff; a healthy delivery needs no sync. */
TEST(what_waits_after_a_failure_is_synced)
{
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024];
	struct buf body;

	CHECK(prepare(&f, "sp-sync", spool, sizeof(spool), &body, "sync") > 0);
	cfg = cfg_for(f.url, spool, m);
	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "sync", &body, 1, 1) == 0);
	CHECK(wait_value(m, "podprof_upload_retries_total", 1) == 0);
	CHECK(wait_value(m, "podprof_upload_spool_unsynced_files", 0) == 0);
	/* the thread sleeps a minute: new profiles wake it for a sync, not an attempt */
	CHECK(submit_labelled(u, "sync", &body, 2, 6) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_files"), 6);
	CHECK(wait_value(m, "podprof_upload_spool_unsynced_files", 0) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_retries_total"), 1);
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 6, 1));
	CHECK_EQ(registry_value(m, "podprof_upload_spool_files"), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_unsynced_files"), 0);
	uploader_free(u);
	buf_free(&body);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(spool_bound_drops_exactly_the_oldest)
{
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024];
	struct buf body;
	off_t size;

	size = prepare(&f, "sp-bound", spool, sizeof(spool), &body, "bound");
	CHECK(size > 0);

	/* room for five; everything overflows memory at once; no retry during the test */
	cfg = cfg_for(f.url, spool, m);
	cfg.queue_max_bytes = 1;
	cfg.spool_max_bytes = (uint64_t)(5 * size + size / 2);
	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "bound", &body, 0, 0) == 0);
	/* after the first failed attempt nothing is in flight for a minute */
	CHECK(wait_value(m, "podprof_upload_retries_total", 1) == 0);
	CHECK(submit_labelled(u, "bound", &body, 1, 11) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"spool_full\"}"), 7);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_files"), 5);
	CHECK_EQ(registry_value(m, "podprof_upload_spool_bytes"), 5 * size);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.dropped, 7);
	CHECK_EQ(st.pending, 5);
	uploader_free(u);
	CHECK_EQ(count_files(spool, ".spool"), 5);

	CHECK(fake_start(&f, NULL) == 0);
	cfg = cfg_for(f.url, spool, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 7, 11, 1));
	uploader_free(u);
	buf_free(&body);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(memory_bound_without_spool_drops_the_oldest)
{
	struct metrics_registry *m = metrics_registry_new();
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	struct uploader_config cfg;
	struct uploader_stats st;
	struct fake_coroot f;
	struct uploader *u = NULL;
	struct pprof_line line = {.line = 1};
	struct buf body;
	char name[1100];
	uint64_t loc;
	int64_t v = 5;
	size_t item;

	fake_prepare(&f, "sp-mem");
	/* a plain (not gzip) body of known, identical size for every item */
	memset(name, 'f', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(b != NULL);
	pprof_builder_add_sample_type(b, "samples", "count");
	line.function_id = pprof_builder_function(b, name, NULL, NULL, 0);
	loc = pprof_builder_location(b, 0, 0, &line, 1);
	CHECK(pprof_builder_add_sample(b, &loc, 1, &v, 1, NULL, 0) == 0);
	CHECK(pprof_builder_finish(b, &p) == 0);
	pprof_builder_free(b);
	buf_init(&body, 0);
	CHECK(pprof_encode(p, 0, &body) == 0);
	pprof_profile_free(p);
	/* body + query: an item's own header is smaller than half of it, so 3.5 items
	 * worth of bytes hold exactly three */
	item = body.len + strlen("service.name=mem&id=000") + 1;
	CHECK(item > 1000);
	cfg = cfg_for(f.url, NULL, m);
	cfg.queue_max_bytes = 3 * item + item / 2;
	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "mem", &body, 0, 0) == 0);
	CHECK(wait_value(m, "podprof_upload_retries_total", 1) == 0);
	CHECK(submit_labelled(u, "mem", &body, 1, 9) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"queue_full\"}"), 7);
	CHECK_EQ(registry_value(m, "podprof_upload_queue_length"), 3);
	CHECK_EQ(uploader_pending(u), 3);
	/* flush asks for an attempt now, despite the minute of backoff */
	CHECK(fake_start(&f, NULL) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 7, 9, 1));
	/* shutdown without a spool: what is queued is counted, not lost silently */
	fake_stop(&f);
	CHECK(submit_labelled(u, "mem", &body, 10, 12) == 0);
	uploader_stop(u);
	uploader_get_stats(u, &st);
	CHECK_EQ(st.dropped, 10);
	CHECK_EQ(st.pending, 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"shutdown\"}"), 3);
	uploader_free(u);
	buf_free(&body);
	metrics_registry_free(m);
	fake_cleanup(&f);
}

/* Finds the spool file of sequence seq. */
static int find_spool_file(const char *dir, unsigned long seq, char *out, size_t outlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = -ENOENT;

	while (d && (de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".spool") && de->d_name[0] != '.' &&
		    strtoul(de->d_name, NULL, 10) == seq) {
			snprintf(out, outlen, "%s/%s", dir, de->d_name);
			r = 0;
		}
	}
	if (d)
		closedir(d);
	return r;
}

/* Copies src to dst, truncated by cut bytes, with the header's sequence set to seq and,
 * when flip, the last byte inverted. */
static int copy_spool_file(const char *src, const char *dst, long cut, unsigned long seq,
			   int flip)
{
	struct buf b;
	char *s;
	int r;

	buf_init(&b, 0);
	r = test_read_file(src, &b);
	if (r)
		goto out;
	s = strstr(b.data, "seq ");
	if (s)
		snprintf(s + 4, 21, "%020lu", seq), s[24] = '\n';
	if (flip)
		b.data[b.len - 1] ^= 0xff;
	r = test_write_file(dst, b.data, b.len - (size_t)cut);
out:
	buf_free(&b);
	return r;
}

TEST(corrupt_and_foreign_spool_files_are_skipped)
{
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	char spool[1024], a[4096], p[4096];
	struct stat sb;

	fake_prepare(&f, "sp-corrupt");
	snprintf(spool, sizeof(spool), "%s/spool", f.dir);
	cfg = cfg_for(f.url, spool, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_ids(u, 1, 2) == 0);
	uploader_free(u);
	u = NULL;
	CHECK_EQ(count_files(spool, ".spool"), 2);
	CHECK(find_spool_file(spool, 2, a, sizeof(a)) == 0);

	snprintf(p, sizeof(p), "%s/README.txt", spool);
	CHECK(test_write_file(p, "hello\n", 6) == 0);
	snprintf(p, sizeof(p), "%s/00000000000000000000-20240101T000000Z.spool", spool);
	CHECK(test_write_file(p, "garbage", 7) == 0);
	snprintf(p, sizeof(p), "%s/00000000000000000050-20240101T000000Z.spool", spool);
	CHECK(copy_spool_file(a, p, 10, 50, 0) == 0); /* truncated */
	snprintf(p, sizeof(p), "%s/00000000000000000060-20240101T000000Z.spool", spool);
	CHECK(copy_spool_file(a, p, 0, 60, 1) == 0); /* bad CRC: found when read */
	snprintf(p, sizeof(p), "%s/00000000000000000070-20240101T000000Z.spool", spool);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/.00000000000000000080-20240101T000000Z.spool.tmp", spool);
	CHECK(test_write_file(p, "half", 4) == 0);

	CHECK(fake_start(&f, NULL) == 0);
	cfg.metrics = m;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 2, 0));
	CHECK_EQ(uploader_pending(u), 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"spool_error\"}"), 1);
	/* new profiles after the bad ones still flow, numbered after the highest file */
	CHECK(submit_ids(u, 3, 3) == 0);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 1, 3, 0));
	uploader_free(u);
	snprintf(p, sizeof(p), "%s/README.txt", spool);
	CHECK(stat(p, &sb) == 0); /* someone else's: left alone */
	snprintf(p, sizeof(p), "%s/.00000000000000000080-20240101T000000Z.spool.tmp", spool);
	CHECK(stat(p, &sb) != 0); /* our own unfinished write: removed */
	metrics_registry_free(m);
	fake_cleanup(&f);
}

TEST(spool_directory_is_locked)
{
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL, *u2 = NULL;
	char spool[1024];

	fake_prepare(&f, "sp-lock");
	snprintf(spool, sizeof(spool), "%s/spool", f.dir);
	cfg = cfg_for(f.url, spool, NULL);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK_EQ(uploader_new(&cfg, &u2), -EBUSY);
	uploader_free(u);
	CHECK(uploader_new(&cfg, &u2) == 0);
	uploader_free(u2);
	fake_cleanup(&f);
}

/*
 * The drops counted while the oldest profile is still in flight: want exactly, when no
 * attempt has failed yet around the reading. On a loaded machine the attempt may time
 * out before the newer profiles are all submitted; the oldest then leaves first and
 * one more drop is the right count (the final deliveries are checked either way).
 */
static int drops_in_flight(struct metrics_registry *m, const char *series, double want)
{
	double r0 = registry_value(m, "podprof_upload_retries_total");
	double v = registry_value(m, series);
	double r1 = registry_value(m, "podprof_upload_retries_total");

	if (r0 == 0 && r1 == 0)
		return v == want;
	return v == want || v == want + 1;
}

/* Waits until the receiver has seen n requests (a profile is then in flight). */
static int wait_seen(struct fake_coroot *f, int n)
{
	for (int waited = 0; waited < 10000; waited += 5) {
		if (fake_stat(f, "requests") >= n)
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

/*
 * The bounds must drop exactly the oldest even when the oldest is being sent: the
 * receiver holds the first request past the timeout while newer profiles push the
 * bound; the one in flight leaves when its attempt fails, and no newer one is
 * dropped in its place.
 */
TEST(bounds_reach_the_profile_in_flight)
{
	static const long want[] = {7, 8, 9, 17, 18, 19, 20, 21};
	const char *slow[] = {"--mode", "slow", "--slow", "3", NULL};
	struct metrics_registry *m = metrics_registry_new();
	struct uploader_config cfg;
	struct fake_coroot f;
	struct uploader *u = NULL;
	struct pprof_profile *p;
	struct buf body;
	char spool[1024];
	size_t item;
	off_t size;

	fake_prepare(&f, "sp-flight");
	snprintf(spool, sizeof(spool), "%s/spool", f.dir);
	/* a body much larger than an item's own header: 3.5 bodies hold exactly three */
	p = test_profile_sized(1, 40);
	buf_init(&body, 0);
	CHECK(p && pprof_encode(p, 1, &body) == 0);
	pprof_profile_free(p);
	item = body.len + strlen("service.name=flight&id=000") + 1;
	CHECK(item > 1000);
	size = spool_file_size(spool, "flight", &body);
	CHECK(size > 0);
	CHECK(fake_start(&f, slow) == 0);

	/* memory only: room for three; 0 is in flight while 1..9 arrive */
	cfg = cfg_for(f.url, NULL, m);
	cfg.timeout_ns = NS_PER_SEC;
	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	cfg.queue_max_bytes = 3 * item + item / 2;
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "flight", &body, 0, 0) == 0);
	CHECK(wait_seen(&f, 1) == 0);
	CHECK(submit_labelled(u, "flight", &body, 1, 9) == 0);
	CHECK(drops_in_flight(m, "podprof_upload_dropped_total{reason=\"queue_full\"}", 6));
	CHECK(wait_value(m, "podprof_upload_retries_total", 1) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"queue_full\"}"), 7);
	CHECK_EQ(uploader_pending(u), 3);
	CHECK_EQ(fake_control(&f, "mode=ok"), 200);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_in_order(&f, 7, 9, 1));
	uploader_free(u);
	metrics_registry_free(m);
	m = metrics_registry_new();

	/* the spool: room for five files; file 10 is in flight while 11..21 arrive */
	CHECK_EQ(fake_control(&f, "mode=slow"), 200);
	cfg = cfg_for(f.url, spool, m);
	cfg.timeout_ns = NS_PER_SEC;
	cfg.backoff_min_ns = cfg.backoff_max_ns = 60 * NS_PER_SEC;
	cfg.queue_max_bytes = 1;
	cfg.spool_max_bytes = (uint64_t)(5 * size + size / 2);
	CHECK(uploader_new(&cfg, &u) == 0);
	CHECK(submit_labelled(u, "flight", &body, 10, 10) == 0);
	CHECK(wait_seen(&f, 5) == 0); /* 4 requests so far, then this one */
	CHECK(submit_labelled(u, "flight", &body, 11, 21) == 0);
	CHECK(drops_in_flight(m, "podprof_upload_dropped_total{reason=\"spool_full\"}", 6));
	CHECK(wait_value(m, "podprof_upload_retries_total", 1) == 0);
	CHECK_EQ(registry_value(m, "podprof_upload_dropped_total{reason=\"spool_full\"}"), 7);
	CHECK_EQ(uploader_pending(u), 5);
	CHECK_EQ(fake_control(&f, "mode=ok"), 200);
	CHECK_EQ(uploader_flush(u, 15 * NS_PER_SEC), 0);
	CHECK(received_labels(&f, want, ARRAY_SIZE(want)));
	uploader_free(u);
	buf_free(&body);
	metrics_registry_free(m);
	fake_cleanup(&f);
}
