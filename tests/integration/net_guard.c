/*
 * The suite's guard against traffic off the machine (testing.h): every test program
 * runs in a network namespace where only loopback exists, and fails when the kernel
 * counts an attempt to reach any other address. This checks the guard itself, in a
 * namespace of its own (so that its deliberate attempts count there, not against this
 * program): podprof told to scrape a pod address of a real cluster (10.244.0.0/16)
 * reaches nothing, logs the failed scrape, and the attempt is counted; loopback is not
 * counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "testing.h"

/* In a new namespace: runs `podprof cluster --once` against target; returns the
 * packets counted as unroutable meanwhile, or -1. Writes podprof's output to log. */
static long long attempts_of(const char *target, const char *dir, const char *log)
{
	char cmd[4096];
	long long before;
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!test_net_isolate())
			_exit(100);
		before = test_net_no_routes();
		snprintf(cmd, sizeof(cmd),
			 "%s cluster --once --listen= --scrape-timeout 2s --output-dir %s/out "
			 "--target a=%s >%s 2>&1",
			 test_podprof_bin(), dir, target, log);
		if (system(cmd) == -1)
			_exit(101);
		_exit((int)(test_net_no_routes() - before > 99 ? 99 : test_net_no_routes() - before));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) >= 100)
		return -1;
	return WEXITSTATUS(st);
}

TEST(an_address_off_the_machine_is_counted_and_loopback_is_not)
{
	char *dir, log[600];
	struct buf out;
	long long n;

	if (geteuid() != 0 || getenv("PODPROF_TEST_HOST_NETWORK"))
		SKIP("the guard needs root (a network namespace)");
	dir = test_tmpdir("net-guard");
	snprintf(log, sizeof(log), "%s/podprof.log", dir);
	n = attempts_of("http://10.244.3.7:6060", dir, log);
	printf("  a scrape of 10.244.3.7: %lld packets refused\n", n);
	CHECK(n >= 1);
	buf_init(&out, 0);
	CHECK(test_read_file(log, &out) == 0 && out.data);
	CHECK_MSG(strstr(out.data, "scrape failed") && strstr(out.data, "10.244.3.7"), "%s",
		  out.data);
	buf_free(&out);
	/* a closed loopback port: refused by loopback itself, nothing counted */
	n = attempts_of("http://127.0.0.1:1", dir, log);
	CHECK_EQ(n, 0);
	test_rmtree(dir);
	free(dir);
}
