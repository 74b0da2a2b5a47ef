/*
 * Benchmark of the uploader: throughput of 100 KiB gzip bodies to a loopback receiver
 * (libmicrohttpd, inside this process, discarding bodies with 200) against the same
 * bytes sent by a plain libcurl easy loop in the same run (alternating rounds), and
 * the peak RSS of this process while 22,000 profiles pass through the uploader (the
 * last 2,000 with its 8 MiB memory queue kept nearly full).
 *
 * Prints one line per figure and fails when the uploader reaches less than 0.8 of the
 * plain loop's throughput or the peak RSS exceeds 32 MiB.
 *
 * Then the write-ahead: the same rounds through an uploader with a spool (every profile
 * written to a spool file, read back and deleted; the spool in the build directory, on
 * the disk a spool lives on), paired with the plain loop again. Printed: its ratio to
 * the plain loop, its cost per profile over the memory-only uploader, and beside it the
 * cost of one fdatasync'd file per profile, measured in the same run: what write-ahead
 * with a flush each would add. On loopback a 100 KiB delivery takes about 0.1 ms and
 * the write-ahead (a file written with its CRC, read back and checked, deleted) about
 * 0.35 ms, a ratio near 0.25; a flush per profile (0.5 to 1.5 ms here) would bring it
 * under 0.15, where the benchmark fails.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "pprof.h"
#include "support.h"

#define BODY_BYTES (100 * 1024)
#define ROUNDS 20
#define PER_ROUND 1000 /* 20,000 profiles through the uploader in all */
#define MIN_RATIO 0.8
#define MAX_RSS_MIB 32.0
#define PRODUCER_AHEAD 8 /* profiles the producer lets wait before it pauses */
/* then a phase with the memory queue (8 MiB) kept nearly full, for the peak RSS */
#define FULL_PROFILES 2000
#define FULL_AHEAD 80
#define SPOOL_ROUNDS 6
#define SPOOL_PER_ROUND 500
#define MIN_SPOOL_RATIO 0.15
#define FSYNC_FILES 200

static _Atomic unsigned long long received_bytes;
static _Atomic unsigned long received_requests;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **ctx)
{
	static int marker;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls, (void)url, (void)method, (void)version, (void)upload_data;
	if (!*ctx) {
		*ctx = &marker; /* headers only: wait for the body */
		return MHD_YES;
	}
	if (*upload_data_size) {
		atomic_fetch_add(&received_bytes, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&received_requests, 1);
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double peak_rss_mib(void)
{
	char line[256];
	double kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kb / 1024;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p, (void)ctx;
	return size * n;
}

/* The peer: one easy handle, the same request the uploader makes, in a loop. */
static double curl_loop(const char *url, const struct buf *body, int rounds)
{
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	int64_t t0;
	double secs;

	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	t0 = time_mono_ns();
	for (int i = 0; i < rounds; i++) {
		long status = 0;

		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    status != 200) {
			fprintf(stderr, "curl loop: request %d failed (status %ld)\n", i, status);
			secs = -1;
			goto out;
		}
	}
	secs = (double)(time_mono_ns() - t0) / 1e9;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return secs < 0 ? -1 : (double)rounds * (double)body->len / secs / 1e6;
}

/* Sends profiles through u, fed by one producer that never lets more than ahead
 * wait, and waits for their delivery. Returns MB/s, or -1. */
static double uploader_round(struct uploader *u, const struct buf *body, int profiles,
			     size_t ahead)
{
	struct upload_meta meta = {.service_name = "bench", .kind = "cpu"};
	int64_t t0 = time_mono_ns();

	for (int i = 0; i < profiles; i++) {
		while (uploader_pending(u) >= ahead)
			time_sleep_ns(NS_PER_MS / 10);
		if (uploader_submit(u, &meta, body->data, body->len) != 0)
			return -1;
	}
	if (uploader_flush(u, 60 * NS_PER_SEC) != 0)
		return -1;
	return (double)profiles * (double)body->len / ((double)(time_mono_ns() - t0) / 1e9) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double best(const double *v, int n)
{
	double b = v[0];

	for (int i = 1; i < n; i++)
		b = v[i] > b ? v[i] : b;
	return b;
}

/* Microseconds to write, fdatasync and rename one file of body, then delete it. */
static double fsync_file_us(const char *dir, const struct buf *body)
{
	char tmp[4200], path[4200];
	int64_t t0 = time_mono_ns();

	for (int i = 0; i < FSYNC_FILES; i++) {
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/.f%d.tmp", dir, i);
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, body->data, body->len) != (ssize_t)body->len ||
		    fdatasync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0)
			return -1;
		unlink(path);
	}
	return (double)(time_mono_ns() - t0) / 1e3 / FSYNC_FILES;
}

int main(void)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned char *raw = malloc(BODY_BYTES);
	struct buf body;
	char url[128], upload_url[128];
	double curl_mbps[ROUNDS], up_mbps[ROUNDS], ratios[ROUNDS], rss;
	double best_curl, best_up, ratio, curl_cpu = 0, up_cpu = 0, full_mbps;
	struct uploader_config cfg = {.timeout_ns = 10 * NS_PER_SEC};
	struct uploader_stats st, spool_st;
	struct uploader *u = NULL;
	double spool_curl[SPOOL_ROUNDS], spool_mbps[SPOOL_ROUNDS], spool_ratios[SPOOL_ROUNDS];
	double spool_ratio, fsync_us, mem_us, wal_us;
	char spool[4096];
	uint64_t dropped = 0;
	uint64_t x = 88172645463325252ULL;
	size_t body_len;
	int fail = 0, isolated = test_net_isolate(); /* nothing leaves the machine */
	long long escapes = test_net_no_routes();

	if (!raw)
		return 1;
	curl_global_init(CURL_GLOBAL_ALL);
	log_set_level(LOG_WARN);
	/* incompressible content: the gzip body is as large as its input */
	for (size_t i = 0; i < BODY_BYTES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		raw[i] = (unsigned char)x;
	}
	buf_init(&body, 0);
	if (pprof_gzip(raw, BODY_BYTES - 64, &body) != 0)
		return 1;
	free(raw);
	body_len = body.len;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_END);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		fprintf(stderr, "cannot start the receiver\n");
		return 1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/profiles?service.name=bench",
		 (unsigned)info->port);

	/* rounds alternate between the peer and the uploader, so that each pair sees the
	 * same machine (other load comes and goes); the verdict is the median of the
	 * pairs' ratios */
	snprintf(upload_url, sizeof(upload_url), "http://127.0.0.1:%u/v1/profiles",
		 (unsigned)info->port);
	cfg.endpoint = upload_url;
	if (uploader_new(&cfg, &u) != 0)
		return 1;
	for (int r = 0; r < ROUNDS; r++) {
		double c0 = cpu_seconds(), c1, c2;

		curl_mbps[r] = curl_loop(url, &body, PER_ROUND);
		c1 = cpu_seconds();
		up_mbps[r] = uploader_round(u, &body, PER_ROUND, PRODUCER_AHEAD);
		c2 = cpu_seconds();
		curl_cpu += c1 - c0;
		up_cpu += c2 - c1;
		if (curl_mbps[r] <= 0 || up_mbps[r] <= 0) {
			fprintf(stderr, "round %d failed\n", r);
			return 1;
		}
		ratios[r] = up_mbps[r] / curl_mbps[r];
	}
	full_mbps = uploader_round(u, &body, FULL_PROFILES, FULL_AHEAD);
	uploader_get_stats(u, &st);
	uploader_free(u);
	rss = peak_rss_mib();

	/* the write-ahead, paired with the plain loop again */
	snprintf(spool, sizeof(spool), "%s/bench-uploader-spool", test_binary_dir());
	test_rmtree(spool);
	cfg.spool_dir = spool;
	if (uploader_new(&cfg, &u) != 0)
		return 1;
	for (int r = 0; r < SPOOL_ROUNDS; r++) {
		spool_curl[r] = curl_loop(url, &body, SPOOL_PER_ROUND);
		spool_mbps[r] = uploader_round(u, &body, SPOOL_PER_ROUND, PRODUCER_AHEAD);
		if (spool_curl[r] <= 0 || spool_mbps[r] <= 0) {
			fprintf(stderr, "spool round %d failed\n", r);
			return 1;
		}
		spool_ratios[r] = spool_mbps[r] / spool_curl[r];
	}
	uploader_get_stats(u, &spool_st);
	uploader_free(u);
	fsync_us = fsync_file_us(spool, &body);
	test_rmtree(spool);
	MHD_stop_daemon(d);
	buf_free(&body);
	curl_global_cleanup();

	best_curl = best(curl_mbps, ROUNDS);
	best_up = best(up_mbps, ROUNDS);
	ratio = median(ratios, ROUNDS);
	printf("uploader.body_bytes               %zu\n", body_len);
	printf("uploader.curl_loop_MBps           %.1f (best of %d rounds of %d requests; "
	       "median %.1f)\n",
	       best_curl, ROUNDS, PER_ROUND, median(curl_mbps, ROUNDS));
	printf("uploader.uploader_MBps            %.1f (best of %d rounds of %d profiles; "
	       "median %.1f)\n",
	       best_up, ROUNDS, PER_ROUND, median(up_mbps, ROUNDS));
	printf("uploader.ratio                    %.3f (median of the %d paired rounds' ratios; "
	       "minimum %.2f)\n",
	       ratio, ROUNDS, MIN_RATIO);
	printf("uploader.ratio_best               %.3f (best round against best round)\n",
	       best_up / best_curl);
	printf("uploader.cpu_us_per_request       %.1f peer, %.1f uploader (this process, "
	       "receiver included)\n",
	       curl_cpu * 1e6 / (ROUNDS * PER_ROUND), up_cpu * 1e6 / (ROUNDS * PER_ROUND));
	printf("uploader.full_queue_MBps          %.1f (%d profiles, %d kept waiting)\n", full_mbps,
	       FULL_PROFILES, FULL_AHEAD);
	printf("uploader.peak_rss_MiB             %.1f (%d profiles through the uploader, the "
	       "last %d with a full queue; maximum %.0f)\n",
	       rss, ROUNDS * PER_ROUND + FULL_PROFILES, FULL_PROFILES, MAX_RSS_MIB);
	spool_ratio = median(spool_ratios, SPOOL_ROUNDS);
	/* per profile: the delivery's time at each median rate */
	mem_us = (double)body_len / median(up_mbps, ROUNDS);
	wal_us = (double)body_len / median(spool_mbps, SPOOL_ROUNDS);
	printf("uploader.spool_ratio              %.3f (write-ahead uploader against the plain "
	       "loop, median of %d paired rounds of %d; minimum %.2f)\n",
	       spool_ratio, SPOOL_ROUNDS, SPOOL_PER_ROUND, MIN_SPOOL_RATIO);
	printf("uploader.write_ahead_us           %.0f per profile over the memory-only uploader "
	       "(%.0f vs %.0f us a profile)\n",
	       wal_us - mem_us, wal_us, mem_us);
	printf("uploader.fdatasync_file_us        %.0f per profile (a file written, fdatasync'd "
	       "and renamed, %d of them: write-ahead with a flush each)\n",
	       fsync_us, FSYNC_FILES);
	dropped = st.dropped + (st.delivered != (uint64_t)ROUNDS * PER_ROUND + FULL_PROFILES) +
		  spool_st.dropped + (spool_st.delivered != (uint64_t)SPOOL_ROUNDS * SPOOL_PER_ROUND);
	printf("uploader.dropped                  %llu\n", (unsigned long long)dropped);
	printf("uploader.received_requests        %lu\n", atomic_load(&received_requests));
#if defined(__SANITIZE_ADDRESS__)
	/* podprof's code is instrumented and libcurl is not: no fair ratio, no real RSS */
	printf("uploader.verdict                  none (sanitizer build)\n");
	(void)ratio;
#else
	if (ratio < MIN_RATIO) {
		printf("FAIL: uploader throughput below %.2f of the plain libcurl loop\n",
		       MIN_RATIO);
		fail = 1;
	}
	if (spool_ratio < MIN_SPOOL_RATIO) {
		printf("FAIL: the write-ahead uploader below %.2f of the plain libcurl loop\n",
		       MIN_SPOOL_RATIO);
		fail = 1;
	}
	if (rss > MAX_RSS_MIB) {
		printf("FAIL: peak RSS above %.0f MiB\n", MAX_RSS_MIB);
		fail = 1;
	}
#endif
	if (dropped) {
		printf("FAIL: the uploader dropped profiles\n");
		fail = 1;
	}
	return fail | test_net_escaped(isolated, escapes);
}
