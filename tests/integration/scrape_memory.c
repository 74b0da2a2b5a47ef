/*
 * The scraper's memory against hostile targets: a `podprof cluster --once` round over a
 * healthy Go service and six hostile servers (hostile_round.h), beside a round over the
 * healthy service alone. Each hostile response is bounded on its own (32 MiB as sent,
 * 64 MiB decompressed); together they must stay within the scrape buffer budget:
 *   - podprof's peak RSS in the hostile round is at most its peak in the healthy round
 *     plus the budget (64 MiB by default) and room for the allocator and libcurl;
 *   - every scrape of the gzip bomb fails with an error that names the target and the
 *     budget (a bomb's body and its decompression together outgrow any budget);
 *   - the healthy service's profiles arrive all the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile_round.h"
#include "support.h"
#include "testing.h"

#define BUDGET_MIB 64 /* the default --scrape-buffer-budget */
/* beyond the budget: libcurl's buffers of ~35 connections, the allocator's slack, a
 * buffer copied while it grows (the goal: 96 MiB in all, idle podprof being 12 MiB) */
#define SLACK_MIB 20

static const char *const kinds[] = {"cpu", "heap", "block", "mutex", "goroutine"};

/* The line of log that says why a scrape of target url's kind failed, or NULL. */
static const char *failure_line(const char *log, const char *url, const char *kind)
{
	char key[256];

	snprintf(key, sizeof(key), "%s/debug/pprof: %s scrape failed: ", url, kind);
	return log ? strstr(log, key) : NULL;
}

static struct hostile_round h;

static void stop_servers(void)
{
	hostile_round_stop(&h);
}

TEST(hostile_round_within_budget)
{
	/* the memory goes in the first second; the timeouts only make the round last */
	static const char *const extra[] = {"--scrape-timeout=3s", "--scrape-cpu-duration=1s",
					    NULL};
	struct round_result alone, hostile;
	struct buf log;
	char bomb[96];
	long bound_kb;
	int r = hostile_round_start(&h, "scrape-memory");

	atexit(stop_servers);
	if (r == -ENOENT)
		SKIP("no Go toolchain or pprofsrv build");
	CHECK_EQ(r, 0);
	CHECK_EQ(hostile_round_url(&h, "bomb", bomb, sizeof(bomb)), 0);
	CHECK_EQ(hostile_round_run(&h, "alone", 0, extra, 60 * test_time_scale(), &alone), 0);
	CHECK_EQ(hostile_round_run(&h, "hostile", 1, extra, 60 * test_time_scale(), &hostile), 0);
	bound_kb = alone.hwm_kb + (BUDGET_MIB + SLACK_MIB) * (SANITIZED ? 2 : 1) * 1024L;
	printf("  peak RSS: healthy target alone %.1f MiB, with the six hostile ones %.1f MiB "
	       "(bound %.1f MiB: + the %d MiB budget + %d MiB%s)\n",
	       alone.hwm_kb / 1024.0, hostile.hwm_kb / 1024.0, bound_kb / 1024.0, BUDGET_MIB,
	       SLACK_MIB, SANITIZED ? ", twice for the sanitizer" : "");
	CHECK_EQ(alone.status, 0);
	CHECK_EQ(hostile.status, 0);
	/* under a wrapper (valgrind) the resident memory is the wrapper's */
	if (!getenv("PODPROF_WRAPPER"))
		CHECK(hostile.hwm_kb > 0 && hostile.hwm_kb <= bound_kb);

	/* the healthy target's profiles of a first scrape: CPU, heap in use, goroutines
	 * (and a second scrape's, when the target's slot in the interval comes up during
	 * the round) */
	CHECK(hostile_round_profiles(&hostile, "healthy", "cpu") >= 1);
	CHECK(hostile_round_profiles(&hostile, "healthy", "heap") >= 1);
	CHECK(hostile_round_profiles(&hostile, "healthy", "goroutine") >= 1);

	/* the bomb's failures name it and the budget */
	buf_init(&log, 0);
	CHECK_EQ(test_read_file(hostile.log, &log), 0);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		const char *line = failure_line(log.data, bomb, kinds[k]);
		const char *end = line ? strchr(line, '\n') : NULL;
		CHECK_MSG(line, "no failure logged for %s %s; see %s", bomb, kinds[k], hostile.log);
		printf("  %.*s\n", end ? (int)(end - line) : 160, line);
		CHECK_MSG(strstr(line, "scrape buffer budget (64.0 MiB)") &&
				  (!end || strstr(line, "scrape buffer budget") < end),
			  "%s %s: not a budget error", bomb, kinds[k]);
	}
	buf_free(&log);
	hostile_round_stop(&h);
}
