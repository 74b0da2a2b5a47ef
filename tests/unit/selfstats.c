/*
 * podprof's own resource metrics: /proc/self/stat parsed field by field (a command
 * name with spaces and parentheses included), descriptors and threads counted, the
 * allocator's figures moving with a real allocation, and the process_* series in the
 * exposition, updated at every rendering.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "selfstats.h"
#include "support.h"
#include "testing.h"

/* A /proc/<pid> stand-in holding stat and an fd directory with nfds entries. */
static char *fake_proc(const char *stat, int nfds)
{
	char *dir = test_tmpdir("selfstats"), path[600];

	snprintf(path, sizeof(path), "%s/stat", dir);
	test_write_file(path, stat, strlen(stat));
	snprintf(path, sizeof(path), "%s/fd", dir);
	mkdir(path, 0755);
	for (int i = 0; i < nfds; i++) {
		snprintf(path, sizeof(path), "%s/fd/%d", dir, i);
		test_write_file(path, "", 0);
	}
	return dir;
}

TEST(stat_fields_after_an_awkward_command_name)
{
	/* comm "a) (b c)": the fields start after the last ')' */
	const char *stat =
		"4242 (a) (b c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 "
		"12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 "
		"0 0\n";
	char *dir = fake_proc(stat, 5);
	struct selfstats_values v;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

	CHECK_EQ(selfstats_read(dir, &v), 0);
	CHECK(v.cpu_seconds > (400.0 / (double)tick) - 1e-9 &&
	      v.cpu_seconds < (400.0 / (double)tick) + 1e-9);
	CHECK_EQ((long long)v.threads, 7);
	CHECK_EQ((long long)v.virtual_bytes, 104857600);
	CHECK_EQ((long long)v.resident_bytes, 2560LL * page);
	CHECK_EQ((long long)v.open_fds, 5);
	/* boot time + 12345 ticks: after the boot, long before now */
	CHECK(v.start_seconds > 1e9 && v.start_seconds < (double)time(NULL));
	test_rmtree(dir);
	free(dir);
}

TEST(malformed_and_missing_stat)
{
	char *dir = fake_proc("4242 (x) S 1 2 3\n", 0), path[600];
	struct selfstats_values v;

	CHECK_EQ(selfstats_read(dir, &v), -EINVAL);
	snprintf(path, sizeof(path), "%s/stat", dir);
	{
		const char *bad = "no parenthesis at all 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";
		test_write_file(path, bad, strlen(bad));
	}
	CHECK_EQ(selfstats_read(dir, &v), -EINVAL);
	unlink(path);
	CHECK_EQ(selfstats_read(dir, &v), -ENOENT);
	test_rmtree(dir);
	free(dir);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	return NULL;
}

TEST(own_process_figures)
{
	struct selfstats_values a, b;
	size_t size = 16u << 20;
	char *block;
	pthread_t t;
	FILE *extra;

	CHECK_EQ(selfstats_read("/proc/self", &a), 0);
	CHECK(a.resident_bytes > 0 && a.virtual_bytes >= a.resident_bytes);
	CHECK(a.open_fds >= 3);
	CHECK(a.max_fds == -1 || a.max_fds >= a.open_fds);
	CHECK(a.threads >= 1);
	CHECK(a.start_seconds <= (double)time(NULL) + 1 &&
	      a.start_seconds > (double)time(NULL) - 3600);
	block = malloc(size);
	CHECK(block != NULL);
	memset(block, 1, size);
	extra = fopen("/proc/self/stat", "r");
	CHECK(extra != NULL);
	CHECK_EQ(pthread_create(&t, NULL, idle_thread, NULL), 0);
	CHECK_EQ(selfstats_read("/proc/self", &b), 0);
	pthread_join(t, NULL);
	/* a replaced allocator (valgrind's, a sanitizer's) reports nothing through
	 * mallinfo2; glibc's must show the block */
	if (a.heap_system_bytes > 0 || b.heap_system_bytes > 0) {
		CHECK(b.heap_in_use_bytes >= a.heap_in_use_bytes + (double)size);
		CHECK(b.heap_system_bytes >= b.heap_in_use_bytes);
	} else {
		printf("  the allocator reports no figures (not glibc's malloc)\n");
	}
	CHECK(b.resident_bytes >= a.resident_bytes + (double)size / 2);
	CHECK_EQ((long long)b.open_fds, (long long)a.open_fds + 1);
	CHECK_EQ((long long)b.threads, (long long)a.threads + 1);
	fclose(extra);
	free(block);
}

static double value_of(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return atof(p + n + 1);
	return -1;
}

TEST(series_in_the_exposition)
{
	struct metrics_registry *m = metrics_registry_new();
	struct buf out;
	double cpu1, cpu2;
	volatile unsigned long spin = 0;
	static const char *const names[] = {
		"process_cpu_seconds_total",  "process_resident_memory_bytes",
		"process_virtual_memory_bytes", "process_open_fds",
		"process_max_fds",            "process_start_time_seconds",
		"podprof_threads",            "podprof_malloc_in_use_bytes",
		"podprof_malloc_system_bytes"};

	CHECK(m != NULL);
	CHECK_EQ(selfstats_register(m, NULL), 0);
	buf_init(&out, 0);
	CHECK_EQ(metrics_render(m, &out), 0);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		CHECK_MSG(value_of(out.data, names[i]) >= 0 || strcmp(names[i], "process_max_fds") == 0,
			  "%s missing or negative", names[i]);
	CHECK(strstr(out.data, "# TYPE process_cpu_seconds_total counter\n") != NULL);
	CHECK(value_of(out.data, "process_resident_memory_bytes") > 1e5);
	cpu1 = value_of(out.data, "process_cpu_seconds_total");
	/* burn some CPU: the counter moves with the process, never back */
	for (int64_t until = time_mono_ns() + 300 * NS_PER_MS; time_mono_ns() < until;)
		spin++;
	buf_reset(&out);
	CHECK_EQ(metrics_render(m, &out), 0);
	cpu2 = value_of(out.data, "process_cpu_seconds_total");
	CHECK_MSG(cpu2 >= cpu1 + 0.1, "cpu %.3f then %.3f", cpu1, cpu2);
	buf_free(&out);
	metrics_registry_free(m);
}
