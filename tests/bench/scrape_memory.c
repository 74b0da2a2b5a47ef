/*
 * Benchmark of the cluster role's memory against hostile targets: `podprof cluster
 * --once` with default settings over a healthy Go service and six hostile servers (a
 * slowloris, an endless body, a gzip bomb, an HTML page, a redirect loop, a server that
 * never answers; tests/integration/hostile_round.h), three times, beside a round over
 * the healthy service alone.
 *
 * Figures, each printed: podprof's peak RSS (VmHWM of its process) in each round; the
 * hostile rounds' peak over the healthy one against the scrape buffer budget (64 MiB,
 * the default), which bounds what all responses in flight hold together. Goal: the
 * hostile round's peak RSS at most 96 MiB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hostile_round.h"
#include "support.h"

#define ROUNDS 3
#define BUDGET_MIB 64.0
#define GOAL_MIB 96.0
/* a round: the 10 s scrape timeout, the CPU profile's 10 s on top, and the upload */
#define ROUND_TIMEOUT_S 120

int main(void)
{
	int isolated = test_net_isolate(); /* nothing leaves the machine */
	long long escapes = test_net_no_routes();
	struct hostile_round h;
	struct round_result alone, hostile;
	double worst = 0;
	int r = hostile_round_start(&h, "bench-scrape-memory"), fail = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (r == -ENOENT) {
		printf("bench_scrape_memory: skipped: no Go toolchain or pprofsrv build\n");
		hostile_round_stop(&h);
		return 0;
	}
	if (r != 0 || hostile_round_run(&h, "alone", 0, NULL, ROUND_TIMEOUT_S, &alone) != 0 ||
	    alone.status != 0) {
		fprintf(stderr, "bench_scrape_memory: the healthy round failed (%d)\n", r);
		hostile_round_stop(&h);
		return 1;
	}
	printf("healthy target alone: peak RSS %.1f MiB\n", alone.hwm_kb / 1024.0);
	for (int i = 0; i < ROUNDS; i++) {
		double mib, over;
		char name[32];

		snprintf(name, sizeof(name), "hostile-%d", i);
		if (hostile_round_run(&h, name, 1, NULL, ROUND_TIMEOUT_S, &hostile) != 0 ||
		    hostile.status != 0 ||
		    hostile_round_profiles(&hostile, "healthy", "cpu") < 1) {
			printf("FAIL: hostile round %d: status %d, see %s\n", i, hostile.status,
			       hostile.log);
			fail = 1;
			continue;
		}
		mib = hostile.hwm_kb / 1024.0;
		over = (hostile.hwm_kb - alone.hwm_kb) / 1024.0;
		printf("with six hostile targets, round %d: peak RSS %.1f MiB, %.1f MiB over the "
		       "healthy round = %.2f of the %.0f MiB scrape buffer budget\n",
		       i + 1, mib, over, over / BUDGET_MIB, BUDGET_MIB);
		worst = mib > worst ? mib : worst;
	}
	printf("memory: hostile round peak RSS at most %.1f MiB (goal <= %.0f MiB; budget %.0f "
	       "MiB)\n", worst, GOAL_MIB, BUDGET_MIB);
	if (worst > GOAL_MIB) {
		printf("FAIL: peak RSS %.1f MiB\n", worst);
		fail = 1;
	}
	hostile_round_stop(&h);
	fail |= test_net_escaped(isolated, escapes);
	printf("%s\n", fail ? "bench_scrape_memory: FAIL" : "bench_scrape_memory: ok");
	return fail;
}
