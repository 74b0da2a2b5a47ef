/*
 * The node side's memory and its bucket bound, against real Go processes with many
 * allocation call paths (tests/go/manystacks, one heap bucket per path):
 *  - a process with 2^16 buckets is read by `podprof heap` and by the node role within
 *    a peak RSS that does not depend on its size, and every one of its stacks is there;
 *  - beyond --heap-max-buckets (PODPROF_HEAP_MAX_BUCKETS) a read stops at the bound: the
 *    profile holds the newest buckets and says it is partial (a comment in the profile,
 *    the status on `podprof ps` and /processes, podprof_heap_partial_total), and the other
 *    processes of the node are read in full.
 * The node role runs over a proc root that lists only the test's processes (links to
 * their /proc entries), so that other Go processes of the machine change nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profcmp.h"
#include "support.h"
#include "testing.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* Peak RSS podprof may reach reading a 2^16-bucket process (a few MiB of it are the
 * binary and its libraries). */
#define BIG_READ_RSS_KIB (32 * 1024)

/* Processes a test started, stopped after it whether its checks passed or not. */
static pid_t children[4];
static size_t nchildren;

static pid_t child(pid_t pid)
{
	if (pid > 0 && nchildren < sizeof(children) / sizeof(children[0]))
		children[nchildren++] = pid;
	return pid;
}

static void stop_children(void)
{
	for (size_t i = 0; i < nchildren; i++)
		test_stop(children[i], 5000);
	nchildren = 0;
}

/* RSS checks need podprof's own high-water mark: not under a sanitizer or valgrind. */
static int rss_checked(void)
{
	return !UNDER_SANITIZER && !getenv("PODPROF_WRAPPER");
}

/* Starts manystacks with 2^depth call paths; returns its pid once it is ready, or -1. */
static pid_t start_manystacks(const char *dir, int depth)
{
	char ver[32], bin[1024], ready[600], d[16];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/%s/manystacks-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(ready, sizeof(ready), "%s/ready%d", dir, depth);
	snprintf(d, sizeof(d), "%d", depth);
	{
		char *argv[] = {bin, "-depth", d, "-ready", ready, NULL};
		pid = test_spawn(argv, NULL, NULL);
	}
	child(pid);
	return pid > 0 && test_wait_file(ready, 180000) == 0 ? pid : -1;
}

/* A proc root under dir that lists only pids (links to their /proc entries). */
static void fake_proc_root(const char *dir, const pid_t *pids, size_t n, char *root,
			   size_t len)
{
	snprintf(root, len, "%s/proc", dir);
	mkdir(root, 0755);
	for (size_t i = 0; i < n; i++) {
		char link[700], target[64];
		snprintf(link, sizeof(link), "%s/%d", root, (int)pids[i]);
		snprintf(target, sizeof(target), "/proc/%d", (int)pids[i]);
		if (symlink(target, link) != 0)
			fprintf(stderr, "  cannot link %s: %s\n", link, strerror(errno));
	}
}

/* Runs podprof with argv (argv[0] is replaced by its path), its output into log; returns
 * its exit status and its peak RSS in KiB. */
static int run_podprof(char **argv, const char *log, long *maxrss_kib)
{
	argv[0] = (char *)test_podprof_bin();
	return test_run_measured(argv, log, maxrss_kib, NULL);
}

/* The line of a ps-like table (pid first) for pid, or NULL; the line is copied. */
static const char *row_of(const char *table, pid_t pid, char *line, size_t len)
{
	char needle[32];
	const char *p = table;
	size_t n;

	snprintf(needle, sizeof(needle), "%d ", (int)pid);
	while (p && (p = strstr(p, needle)) != NULL) {
		if (p == table || p[-1] == '\n')
			break;
		p++;
	}
	if (!p)
		return NULL;
	n = strcspn(p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(line, p, n);
	line[n] = '\0';
	return line;
}

static void big_read(const char *dir)
{
	char prof[512], log[512], out[512], root[600];
	struct canon c = {0};
	struct buf lg;
	long rss_heap = -1, rss_node = -1;
	pid_t prog;

	buf_init(&lg, 0);
	snprintf(prof, sizeof(prof), "%s/heap.pb.gz", dir);
	snprintf(log, sizeof(log), "%s/podprof.log", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	prog = start_manystacks(dir, 16);
	CHECK_MSG(prog > 0, "manystacks did not get ready");
	fake_proc_root(dir, &prog, 1, root, sizeof(root));
	{
		char pid[16];
		char *argv[] = {NULL, "heap", pid, "-o", prof, NULL};
		snprintf(pid, sizeof(pid), "%d", (int)prog);
		CHECK_EQ(run_podprof(argv, log, &rss_heap), 0);
	}
	{
		char *argv[] = {NULL, "node", "--once", "--listen=", "--proc-root", root,
				"--output-dir", out, NULL};
		CHECK_EQ(run_podprof(argv, log, &rss_node), 0);
	}
	test_read_file(log, &lg);
	printf("  2^16 call paths: podprof heap peak RSS %ld KiB, node --once %ld KiB\n", rss_heap,
	       rss_node);
	/* every call path is in the profile: 2^16 leaves, each its own stack */
	CHECK(canon_load(prof, &c) == 0);
	CHECK_MSG(c.n >= 65536, "%zu stacks", c.n);
	CHECK_MSG(strstr(lg.data ? lg.data : "", "partial") == NULL, "%s", lg.data);
	if (rss_checked()) {
		CHECK_MSG(rss_heap <= BIG_READ_RSS_KIB, "podprof heap: %ld KiB", rss_heap);
		CHECK_MSG(rss_node <= BIG_READ_RSS_KIB, "podprof node: %ld KiB", rss_node);
	}
	canon_free(&c);
	buf_free(&lg);
}

TEST(a_big_process_is_read_in_bounded_memory)
{
	char *dir = test_tmpdir("bigread");

	if (test_go_newest() == NULL)
		SKIP("no Go toolchain installed");
	big_read(dir);
	stop_children();
	test_rmtree(dir);
	free(dir);
}

/* Counts the profiles under dir whose `go tool pprof -raw` text holds needle and
 * other; returns how many hold needle, *with_other of them also other. */
static int profiles_with(const char *dir, const char *needle, const char *other, int *with_other)
{
	struct buf list, raw;
	char cmd[1024], *line, *save = NULL;
	int n = 0;

	*with_other = 0;
	buf_init(&list, 0);
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.pb.gz' | sort", dir);
	test_sh(cmd, &list, 0);
	for (line = strtok_r(list.data ? list.data : (char[]){0}, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		buf_init(&raw, 0);
		if (test_pprof_raw(line, &raw) == 0 && strstr(raw.data, needle)) {
			n++;
			*with_other += strstr(raw.data, other) != NULL;
		}
		buf_free(&raw);
	}
	buf_free(&list);
	return n;
}

static void bounded_reads(const char *dir)
{
	char ver[32], heapgen[1024], own[512], prof[512], full[512], root[600], out[512], log[512],
		listen[64], url[160], line[1024];
	struct buf o, raw, page, metrics;
	struct canon c = {0}, all = {0};
	pid_t pids[2], node = -1;
	int port = test_free_port(), with_comment = 0, n;

	buf_init(&o, 0);
	buf_init(&raw, 0);
	buf_init(&page, 0);
	buf_init(&metrics, 0);
	snprintf(heapgen, sizeof(heapgen), "%s/%s/heapgen-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	snprintf(prof, sizeof(prof), "%s/p.pb.gz", dir);
	snprintf(full, sizeof(full), "%s/full.pb.gz", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(log, sizeof(log), "%s/node.log", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	/* 2^12 call paths, and a small process next to it */
	pids[0] = start_manystacks(dir, 12);
	CHECK_MSG(pids[0] > 0, "manystacks did not get ready");
	{
		char *argv[] = {heapgen, "-profile", own, NULL};
		pids[1] = child(test_spawn(argv, NULL, NULL));
	}
	CHECK(pids[1] > 0 && test_wait_file(own, 30000) == 0);
	fake_proc_root(dir, pids, 2, root, sizeof(root));

	/* podprof heap: the newest 1000 buckets, a partial profile that says so */
	snprintf(line, sizeof(line), "%s heap --heap-max-buckets 1000 %d -o %s", test_podprof_bin(),
		 (int)pids[0], prof);
	CHECK_MSG(test_sh(line, &o, 1) == 0, "%s", o.data);
	CHECK_MSG(strstr(o.data, "partial") != NULL, "%s", o.data);
	CHECK(canon_load(prof, &c) == 0);
	CHECK_MSG(c.n > 0 && c.n <= 1000, "%zu stacks", c.n);
	/* what it holds is exact: each of its stacks as in the whole profile */
	snprintf(line, sizeof(line), "%s heap %d -o %s", test_podprof_bin(), (int)pids[0], full);
	CHECK_MSG(test_sh(line, &o, 1) == 0, "%s", o.data);
	CHECK(canon_load(full, &all) == 0);
	CHECK_MSG(all.n > 4096, "%zu stacks", all.n);
	for (size_t i = 0; i < c.n; i++) {
		const struct canon_stack *s = canon_find(&all, c.stacks[i].key);
		CHECK_MSG(s != NULL, "%s", c.stacks[i].key);
		for (int k = 0; k < 4; k++)
			CHECK_MSG(s->v[k] == c.stacks[i].v[k], "%s: value %d", s->key, k);
	}
	canon_free(&c);
	canon_free(&all);
	CHECK(test_pprof_raw(prof, &raw) == 0);
	CHECK_MSG(strstr(raw.data, "partial") != NULL, "no comment says the profile is partial");
	/* the small process under the same bound: complete */
	buf_reset(&o);
	snprintf(line, sizeof(line), "%s heap --heap-max-buckets 1000 %d -o %s", test_podprof_bin(),
		 (int)pids[1], prof);
	CHECK_MSG(test_sh(line, &o, 1) == 0, "%s", o.data);
	CHECK_MSG(strstr(o.data, "partial") == NULL, "%s", o.data);

	/* podprof ps, the bound from the environment */
	buf_reset(&o);
	snprintf(line, sizeof(line), "PODPROF_HEAP_MAX_BUCKETS=1000 %s ps --proc-root %s",
		 test_podprof_bin(), root);
	CHECK_MSG(test_sh(line, &o, 1) == 0, "%s", o.data);
	CHECK_MSG(row_of(o.data, pids[0], line, sizeof(line)) && strstr(line, "partial"), "%s",
		  o.data);
	CHECK_MSG(row_of(o.data, pids[1], line, sizeof(line)) && strstr(line, "profiling"), "%s",
		  o.data);

	/* the node role: the big process is read partially every cycle, the other in full */
	{
		char *argv[] = {(char *)test_podprof_bin(), "node", "--interval=1s",
				"--heap-max-buckets=1000", "--proc-root", root, "--output-dir", out,
				"--listen", listen, NULL};
		node = child(test_spawn(argv, NULL, log));
	}
	CHECK(node > 0 && test_wait_port(port, 10000) == 0);
	usleep(3500000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/processes", port);
	CHECK_EQ(test_http_get(url, &page), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	CHECK_EQ(test_http_get(url, &metrics), 200);
	test_stop(node, 10000);
	nchildren--; /* the node is the last child */
	CHECK_MSG(row_of(page.data, pids[0], line, sizeof(line)) && strstr(line, "partial") &&
			  strstr(line, " 1000 "),
		  "%s", page.data);
	CHECK_MSG(row_of(page.data, pids[1], line, sizeof(line)) && strstr(line, "profiling"), "%s",
		  page.data);
	CHECK_MSG(test_metric_value(metrics.data, "podprof_heap_partial_total ") >= 2, "%s", metrics.data);
	CHECK_MSG(test_metric_value(metrics.data, "podprof_go_processes{status=\"partial\"} ") == 1, "%s",
		  metrics.data);
	CHECK_MSG(test_metric_value(metrics.data, "podprof_go_processes{status=\"profiling\"} ") == 1, "%s",
		  metrics.data);
	/* uploaded: the big process's profiles carry the comment, the other's do not */
	n = profiles_with(out, "main.left", "partial", &with_comment);
	CHECK_MSG(n >= 1 && with_comment == n, "%d profiles of manystacks, %d say partial", n,
		  with_comment);
	n = profiles_with(out, "main.smallRetained", "partial", &with_comment);
	CHECK_MSG(n >= 1 && with_comment == 0, "%d profiles of heapgen, %d say partial", n,
		  with_comment);
	buf_free(&o);
	buf_free(&raw);
	buf_free(&page);
	buf_free(&metrics);
}

TEST(reads_stop_at_the_bucket_bound)
{
	char *dir = test_tmpdir("bound");

	if (test_go_newest() == NULL)
		SKIP("no Go toolchain installed");
	bounded_reads(dir);
	stop_children();
	test_rmtree(dir);
	free(dir);
}
