/*
 * `podprof upload` as a process against receivers that misbehave: answers slower than
 * --upload-timeout, connections closed in the middle of the body, 500 forever, 400
 * for everything. In each case podprof keeps running until its flush timeout, exits
 * normally, its memory stays bounded (VmHWM from /proc) while far more data than the
 * queue bound passes through, and its /metrics (via --listen) say what happened:
 * retries for the transient failures, drops by reason for the final ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

#define NFILES 300
#define FILLER 400 /* about 15 KiB per gzip profile: 4+ MiB in all */

#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_KB (400 * 1024) /* shadow memory and quarantine */
#else
#define RSS_LIMIT_KB (40 * 1024)
#endif

struct observed {
	int status;          /* exit status of podprof */
	long hwm_kb;         /* highest VmHWM seen */
	int alive_checks;    /* /metrics answers while running */
	double retries, rejected, spool_full, success, too_large;
	long log_rejected, log_spool_full; /* from the final log line */
};

static double metric_of(const char *text, const char *series)
{
	double v = prom_value(text, series);
	return v < 0 ? 0 : v;
}

/* Runs podprof upload against f for about flush seconds, polling /metrics and
 * /proc/<pid>/status. */
static int run(struct fake_coroot *f, const char *in, const char *flush, struct observed *o)
{
	char listen[64], url[128], spool[4096], log[4096], **argv;
	const char *opts[] = {"upload", "--service-name", "bad-peer", "--profiles-endpoint",
			      f->url, "--listen", listen, "--spool-dir", spool,
			      "--spool-max-bytes", "1MiB", "--queue-max-bytes", "256KiB",
			      "--flush-timeout", flush, "--upload-timeout", "500ms",
			      "--retry-backoff-min", "50ms", "--retry-backoff-max", "300ms", NULL};
	int port = test_free_port(), n = 0, r = -1;
	struct buf text;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	snprintf(spool, sizeof(spool), "%s/spool", f->dir);
	snprintf(log, sizeof(log), "%s/podprof.log", f->dir);
	argv = calloc(NFILES + 64, sizeof(char *));
	argv[n++] = (char *)test_podprof_bin();
	for (size_t i = 0; opts[i]; i++)
		argv[n++] = (char *)opts[i];
	for (int id = 1; id <= NFILES; id++)
		if (asprintf(&argv[n++], "%s/%06d.pb.gz", in, id) < 0)
			abort();
	argv[n] = NULL;
	buf_init(&text, 0);
	pid = test_spawn(argv, NULL, log);
	if (pid < 0)
		goto out;
	for (;;) {
		long hwm = test_proc_kb(pid, "VmHWM");

		if (hwm > o->hwm_kb)
			o->hwm_kb = hwm;
		buf_reset(&text);
		if (test_http_get(url, &text) == 200) {
			o->alive_checks++;
			o->retries = metric_of(text.data, "podprof_upload_retries_total");
			o->rejected = metric_of(
			    text.data, "podprof_upload_dropped_total{reason=\"rejected\"}");
			o->too_large = metric_of(
			    text.data, "podprof_upload_dropped_total{reason=\"too_large\"}");
			o->spool_full = metric_of(
			    text.data, "podprof_upload_dropped_total{reason=\"spool_full\"}");
			o->success = metric_of(
			    text.data, "podprof_uploads_total{sink=\"coroot\",result=\"success\"}");
		}
		o->status = test_wait(pid, 200);
		if (o->status != -ETIMEDOUT)
			break;
	}
	buf_reset(&text);
	if (test_read_file(log, &text) == 0 && text.data) {
		o->log_rejected = test_log_dropped(text.data, "rejected");
		o->log_spool_full = test_log_dropped(text.data, "spool_full");
	}
	fprintf(stderr, "  exit %d, VmHWM %ld kB, retries %.0f, rejected %.0f, spool_full %.0f, "
		"delivered %.0f, %d metrics reads\n",
		o->status, o->hwm_kb, o->retries, o->rejected, o->spool_full, o->success,
		o->alive_checks);
	r = 0;
out:
	buf_free(&text);
	for (int i = n - NFILES; i < n; i++)
		free(argv[i]);
	free(argv);
	return r;
}

static char *in_dir;

static void remove_input(void)
{
	test_rmtree(in_dir);
}

static char *make_input(void)
{
	char *dir = test_tmpdir("badpeer-in");

	if (test_write_profiles(dir, 1, NFILES, FILLER) != 0) {
		test_rmtree(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static char *input_dir(void)
{
	static char *in;

	if (!in) {
		in = in_dir = make_input();
		if (in)
			atexit(remove_input);
	}
	return in;
}

/* Common checks: podprof lived until its flush timeout and exited by itself, its
 * metrics were served, and its memory stayed bounded. */
static int lived_and_bounded(const struct observed *o)
{
	if (o->status != 0 && o->status != 1) {
		fprintf(stderr, "    exit status %d\n", o->status);
		return 0;
	}
	/* under a wrapper (valgrind) the resident memory is the wrapper's */
	if (o->alive_checks < 5 || o->hwm_kb <= 0 ||
	    (o->hwm_kb > RSS_LIMIT_KB && !getenv("PODPROF_WRAPPER"))) {
		fprintf(stderr, "    %d metrics reads, VmHWM %ld kB\n", o->alive_checks, o->hwm_kb);
		return 0;
	}
	return 1;
}

TEST(slow_receiver_is_retried_with_timeouts)
{
	const char *extra[] = {"--mode", "slow", "--slow", "2", NULL};
	struct observed o;
	struct fake_coroot f;

	CHECK(input_dir() != NULL);
	fake_prepare(&f, "bad-slow");
	CHECK(fake_start(&f, extra) == 0);
	CHECK(run(&f, input_dir(), "3s", &o) == 0);
	CHECK(lived_and_bounded(&o));
	CHECK(o.retries >= 2);
	CHECK_EQ(o.success, 0);
	CHECK_EQ(o.rejected, 0);
	CHECK_EQ(fake_count(&f), 0);
	fake_cleanup(&f);
}

TEST(connection_closed_mid_body_is_retried)
{
	const char *extra[] = {"--mode", "close", NULL};
	struct observed o;
	struct fake_coroot f;

	CHECK(input_dir() != NULL);
	fake_prepare(&f, "bad-close");
	CHECK(fake_start(&f, extra) == 0);
	CHECK(run(&f, input_dir(), "3s", &o) == 0);
	CHECK(lived_and_bounded(&o));
	CHECK(o.retries >= 5);
	CHECK_EQ(o.success, 0);
	CHECK_EQ(o.rejected, 0);
	/* 4+ MiB submitted, 1 MiB of spool: the oldest were dropped, and counted */
	CHECK(o.spool_full > 0);
	CHECK_EQ(o.status, 1);
	fake_cleanup(&f);
}

TEST(server_errors_forever_are_retried_and_bounded)
{
	const char *extra[] = {"--mode", "status", "--status", "500", NULL};
	struct observed o;
	struct fake_coroot f;

	CHECK(input_dir() != NULL);
	fake_prepare(&f, "bad-500");
	CHECK(fake_start(&f, extra) == 0);
	CHECK(run(&f, input_dir(), "3s", &o) == 0);
	CHECK(lived_and_bounded(&o));
	CHECK(o.retries >= 5);
	CHECK_EQ(o.success, 0);
	CHECK_EQ(o.rejected, 0);
	CHECK(o.spool_full > 0);
	fake_cleanup(&f);
}

TEST(bad_request_drops_everything_and_says_so)
{
	const char *extra[] = {"--mode", "status", "--status", "400", NULL};
	struct observed o;
	struct fake_coroot f;

	CHECK(input_dir() != NULL);
	fake_prepare(&f, "bad-400");
	CHECK(fake_start(&f, extra) == 0);
	CHECK(run(&f, input_dir(), "20s", &o) == 0);
	CHECK(lived_and_bounded(&o));
	CHECK_EQ(o.retries, 0);
	CHECK_EQ(o.success, 0);
	/* every profile was answered 400 and dropped, as the metrics and the final
	 * log line say */
	CHECK(o.rejected > 0);
	CHECK_EQ(o.log_rejected + o.log_spool_full, NFILES);
	CHECK_EQ(o.status, 1);
	fake_cleanup(&f);
}
