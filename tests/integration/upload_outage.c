/*
 * Outage integration tests of `podprof upload` as a process: Coroot is down while 200
 * profiles are produced by two runs of podprof that share a spool directory (a
 * restart in the middle); Coroot comes back during the second run and every profile
 * arrives exactly once, oldest first, within a bounded time, each accepted body
 * readable by `go tool pprof`. With a spool bound too small for 200, exactly the
 * oldest are dropped, the drop count in podprof's final log line says how many, and
 * exactly the newest arrive.
 */
#include <dirent.h>
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

#define NPROFILES 200
#define FILLER 40 /* extra samples: about 2 KiB per gzip profile */

/* Runs `podprof upload` over the profile files from..to with opts (NULL-terminated);
 * returns the pid, output appended to log. */
static pid_t start_upload(const char *in, long from, long to, const char *const *opts,
			  const char *log)
{
	char **argv = calloc((size_t)(to - from + 1) + 64, sizeof(char *));
	size_t n = 0;
	pid_t pid;

	argv[n++] = (char *)test_podprof_bin();
	argv[n++] = "upload";
	for (size_t i = 0; opts[i]; i++)
		argv[n++] = (char *)opts[i];
	for (long id = from; id <= to; id++)
		if (asprintf(&argv[n++], "%s/%06ld.pb.gz", in, id) < 0)
			abort();
	argv[n] = NULL;
	pid = test_spawn(argv, NULL, log);
	for (size_t i = n - (size_t)(to - from + 1); i < n; i++)
		free(argv[i]);
	free(argv);
	return pid;
}

static int count_spool(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strstr(de->d_name, ".spool"))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Checks that ids from..to arrived exactly once each, in order, and that
 * `go tool pprof -raw` reads all the bodies. */
static int check_arrivals(struct fake_coroot *f, long from, long to)
{
	cJSON *arr = fake_requests(f), *r;
	struct buf cmd, out;
	long want = from;
	int ok = arr != NULL, st;

	buf_init(&cmd, 0);
	buf_init(&out, 0);
	buf_printf(&cmd,
		   "cd '%s' && HOME=${HOME:-/tmp} GOTOOLCHAIN=local GOFLAGS= %s tool pprof -raw",
		   f->record, test_go_newest() ? test_go_newest() : "go");
	cJSON_ArrayForEach(r, arr)
	{
		long id = fake_body_id(f, r);

		if (id != want) {
			fprintf(stderr, "    arrival %ld is id %ld\n", want - from + 1, id);
			ok = 0;
			break;
		}
		want++;
		buf_printf(&cmd, " %s", cJSON_GetObjectItemCaseSensitive(r, "file")->valuestring);
	}
	if (ok && want != to + 1) {
		fprintf(stderr, "    %ld arrived, expected %ld\n", want - from, to - from + 1);
		ok = 0;
	}
	/* one pprof run merges them all, and fails if any one does not parse */
	if (ok && test_go_newest()) {
		st = test_sh(cmd.data, &out, 1);
		if (st != 0 || !strstr(out.data, "Samples:")) {
			fprintf(stderr, "    go tool pprof -raw failed (%d): %.500s\n", st,
				out.data);
			ok = 0;
		}
	}
	buf_free(&cmd);
	buf_free(&out);
	cJSON_Delete(arr);
	return ok;
}

/* Waits until the log file holds text. */
static int wait_log(const char *path, const char *text, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		struct buf l;
		int found;

		buf_init(&l, 0);
		found = test_read_file(path, &l) == 0 && l.data && strstr(l.data, text);
		buf_free(&l);
		if (found)
			return 0;
		usleep(50000);
	}
	fprintf(stderr, "  no \"%s\" in %s within %d ms\n", text, path, ms);
	return -ETIMEDOUT;
}

/*
 * The scenario: run 1 uploads profiles 1..100 while Coroot is down and exits after a
 * short flush; run 2 starts with 101..200, Coroot comes up a moment later, and run 2
 * delivers everything before its flush timeout. Returns the number of profiles the
 * two runs dropped (-1 on a failed check), and the exit statuses.
 */
static long outage(struct fake_coroot *f, const char *spool_max, int *st1, int *st2)
{
	char in[4096], spool[4096], log1[4096], log2[4096];
	const char *opts1[] = {"--service-name", "/k8s/prod/checkout", "--kind", "cpu",
			       "--label", "cluster=test", "--profiles-endpoint", f->url,
			       "--spool-dir", spool, "--spool-max-bytes", spool_max,
			       "--queue-max-bytes", "64KiB", "--flush-timeout", "1s",
			       "--retry-backoff-min", "50ms", "--retry-backoff-max", "500ms",
			       "--upload-timeout", "2s", NULL};
	const char *opts2[ARRAY_SIZE(opts1)];
	struct buf l1, l2;
	long d1, d2, dropped = -1;
	int64_t t0;
	pid_t pid;

	snprintf(in, sizeof(in), "%s/in", f->dir);
	snprintf(spool, sizeof(spool), "%s/spool", f->dir);
	snprintf(log1, sizeof(log1), "%s/run1.log", f->dir);
	snprintf(log2, sizeof(log2), "%s/run2.log", f->dir);
	buf_init(&l1, 0);
	buf_init(&l2, 0);
	if (mkdir(in, 0755) != 0 || test_write_profiles(in, 1, NPROFILES, FILLER) != 0)
		goto out;

	pid = start_upload(in, 1, NPROFILES / 2, opts1, log1);
	*st1 = test_wait(pid, 60000);
	if (*st1 < 0) {
		test_stop(pid, 1000);
		goto out;
	}
	fprintf(stderr, "  run 1 exited %d, %d files in the spool\n", *st1, count_spool(spool));

	memcpy(opts2, opts1, sizeof(opts1));
	for (size_t i = 0; opts2[i]; i++)
		if (strcmp(opts2[i], "1s") == 0)
			opts2[i] = "60s";
	pid = start_upload(in, NPROFILES / 2 + 1, NPROFILES, opts2, log2);
	/* every profile of run 2 queued (the bounds then dropped exactly the oldest of
	 * all), and a few attempts failed too */
	if (wait_log(log2, "files read", 30000) != 0) {
		test_stop(pid, 1000);
		goto out;
	}
	usleep(300 * 1000);
	if (fake_start(f, NULL) != 0) {
		test_stop(pid, 1000);
		goto out;
	}
	t0 = time_mono_ns();
	*st2 = test_wait(pid, 60000);
	fprintf(stderr, "  run 2 exited %d, %.1f s after Coroot came back\n", *st2,
		(double)(time_mono_ns() - t0) / 1e9);
	if (*st2 < 0) {
		test_stop(pid, 1000);
		goto out;
	}
	if (time_mono_ns() - t0 > 30 * NS_PER_SEC)
		goto out;
	test_read_file(log1, &l1);
	test_read_file(log2, &l2);
	d1 = test_log_dropped(l1.data ? l1.data : "", "spool_full");
	d2 = test_log_dropped(l2.data ? l2.data : "", "spool_full");
	if (d1 < 0 || d2 < 0) {
		fprintf(stderr, "  no final uploader line in the logs of %s\n", f->dir);
		goto out;
	}
	if (test_log_dropped(l1.data, "queue_full") || test_log_dropped(l2.data, "queue_full") ||
	    test_log_dropped(l1.data, "shutdown") || test_log_dropped(l2.data, "shutdown"))
		goto out;
	dropped = d1 + d2;
out:
	buf_free(&l1);
	buf_free(&l2);
	return dropped;
}

TEST(outage_with_restart_delivers_every_profile_once)
{
	struct fake_coroot f;
	int st1 = -1, st2 = -1;

	fake_prepare(&f, "outage");
	CHECK_EQ(outage(&f, "256MiB", &st1, &st2), 0);
	CHECK_EQ(st1, 0); /* nothing lost: the rest is safely in the spool */
	CHECK_EQ(st2, 0);
	CHECK(check_arrivals(&f, 1, NPROFILES));
	fake_cleanup(&f);
}

TEST(outage_with_small_spool_drops_exactly_the_oldest)
{
	struct fake_coroot f;
	int st1 = -1, st2 = -1;
	long dropped;

	fake_prepare(&f, "outage-bound");
	/* room for roughly 40 profiles: every profile is written to the spool first, so
	 * the spool is all the room there is (the memory queue holds none of them) */
	dropped = outage(&f, "96KiB", &st1, &st2);
	fprintf(stderr, "  dropped %ld (spool_full)\n", dropped);
	CHECK(dropped > NPROFILES / 2 && dropped < NPROFILES);
	CHECK(check_arrivals(&f, dropped + 1, NPROFILES));
	CHECK_EQ(st1, 1); /* both runs lost some: "1 when some were dropped" */
	CHECK_EQ(st2, 1);
	fake_cleanup(&f);
}
