/*
 * Benchmarks of the node side, each against a figure measured in the same run:
 *  - reading, symbolizing and encoding the heap profile of a Go process with more than
 *    10,000 distinct allocation stacks, cold (new symbol cache) and warm, against the
 *    process's own pprof.Lookup("heap").WriteTo; goals: ratio <= 1.0 cold, <= 0.5 warm;
 *  - `podprof node --once` over 50 Go processes: peak RSS <= 32 MiB;
 *  - one process with 2^14 and with 2^18 allocation call paths (16k and 262k heap
 *    buckets): the peak RSS of `podprof heap` and of `podprof node --once` over it, per
 *    bucket and in all (limit 64 MiB at 262k buckets, and 64 bytes per added bucket),
 *    and `podprof heap`'s time against the process's own WriteTo (limit 0.5);
 *  - streaming the .symtab of a 100 MiB binary: added RSS <= 8 MiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elffile.h"
#include "goproc.h"
#include "heapprofile.h"
#include "support.h"
#include "testing.h"

static int failures;

static void verdict(const char *name, double value, double limit, const char *unit)
{
	int ok = value <= limit;
	printf("%-32s %10.3f %s (limit %.3f) %s\n", name, value, unit, limit, ok ? "ok" : "MISSED");
	if (!ok)
		failures++;
}

static long vm_kib(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0)
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

static int write_bucket(void *ctx, const struct heap_bucket *b, const struct heap_walk_info *info)
{
	return heap_writer_add(ctx, b, NULL, info);
}

/* One read + symbolize + encode with the given cache; returns ns, or -1. */
static int64_t read_once(struct bincache *bins, int pid, size_t *buckets)
{
	struct proc_identity id;
	struct binentry *bin = NULL;
	struct heap_walk_info info;
	struct heap_writer *w = NULL;
	struct buf out;
	uint64_t bias = 0;
	int64_t rate, t0 = time_mono_ns(), t = -1;
	size_t samples;
	int forced = 0;
	char reason[200];

	buf_init(&out, 0);
	if (proc_identity_read("/proc", pid, &id) ||
	    bincache_get(bins, "/proc", pid, id.dev, id.ino, &bin) || !bin->syms ||
	    heap_writer_new(NULL, bin->syms, &out, &w))
		goto out;
	if (goproc_read_heap("/proc", pid, &id, bin->bin, 0, &forced, &bias, NULL, write_bucket,
			     w, &info, &rate, reason, sizeof(reason)))
		goto out;
	*buckets = info.nbuckets;
	if (heap_writer_finish(w, &info, &samples) == 0)
		t = time_mono_ns() - t0;
out:
	heap_writer_free(w);
	buf_free(&out);
	bincache_put(bins, bin);
	return t;
}

TEST(heap_read_vs_writeto)
{
	failures = 0;
	char ver[32], bin[1024], *dir = test_tmpdir("bench"), ready[512];
	struct buf info;
	pid_t prog;
	int64_t writeto = 0, cold = INT64_MAX, warm = INT64_MAX;
	size_t buckets = 0;

	buf_init(&info, 0);
	snprintf(bin, sizeof(bin), "%s/%s/manystacks-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	{
		char *argv[] = {bin, "-ready", ready, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	for (int t = 0; t < 600 && test_read_file(ready, &info) != 0; t++)
		usleep(100000);
	CHECK_MSG(info.data && strstr(info.data, "writeto_ns"), "the program did not get ready");
	writeto = atoll(strstr(info.data, "writeto_ns") + 11);
	for (int i = 0; i < 3; i++) {
		struct bincache *bins = bincache_new();
		int64_t c = read_once(bins, prog, &buckets), w;
		for (int k = 0; k < 3; k++) {
			w = read_once(bins, prog, &buckets);
			if (w > 0 && w < warm)
				warm = w;
		}
		if (c > 0 && c < cold)
			cold = c;
		bincache_free(bins);
	}
	test_stop(prog, 5000);
	printf("%-32s %10zu\n", "buckets (distinct stacks)", buckets);
	printf("%-32s %10.3f ms\n", "process WriteTo (best of 5)", (double)writeto / 1e6);
	printf("%-32s %10.3f ms\n", "podprof cold (best of 3)", (double)cold / 1e6);
	printf("%-32s %10.3f ms\n", "podprof warm (best of 9)", (double)warm / 1e6);
	CHECK(buckets >= 10000);
	verdict("ratio cold / WriteTo", (double)cold / (double)writeto, 1.0, "");
	verdict("ratio warm / WriteTo", (double)warm / (double)writeto, 0.5, "");
	buf_free(&info);
	test_rmtree(dir);
	free(dir);
	CHECK_EQ(failures, 0);
}

/* Runs podprof with argv (argv[0] is replaced by its path) and its output into log;
 * returns its exit status, its peak RSS in KiB and its wall time in ns. */
static int run_podprof(char **argv, const char *log, long *maxrss_kib, int64_t *ns)
{
	argv[0] = (char *)test_podprof_bin();
	return test_run_measured(argv, log, maxrss_kib, ns);
}

struct big_run {
	size_t buckets;
	long heap_kib, node_kib;
	int64_t heap_ns, writeto_ns;
};

/* manystacks with 2^depth call paths: podprof heap (best time and highest RSS of 3) and
 * podprof node --once over a proc root that lists it alone. */
static int measure_big(int depth, struct big_run *res)
{
	char ver[32], bin[1024], *dir = test_tmpdir("benchbig"), ready[512], d[16], pid_s[16],
	     prof[512], log[512], out[512], root[512], link[600], target[64];
	struct buf info, lg;
	pid_t prog;
	int bad = 1;

	memset(res, 0, sizeof(*res));
	res->heap_ns = INT64_MAX;
	buf_init(&info, 0);
	buf_init(&lg, 0);
	snprintf(bin, sizeof(bin), "%s/%s/manystacks-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(prof, sizeof(prof), "%s/heap.pb.gz", dir);
	snprintf(log, sizeof(log), "%s/podprof.log", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(root, sizeof(root), "%s/proc", dir);
	snprintf(d, sizeof(d), "%d", depth);
	{
		char *argv[] = {bin, "-depth", d, "-ready", ready, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	for (int t = 0; t < 3000 && test_read_file(ready, &info) != 0; t++)
		usleep(100000);
	if (!info.data || !strstr(info.data, "writeto_ns"))
		goto out;
	res->writeto_ns = atoll(strstr(info.data, "writeto_ns") + 11);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)prog);
	mkdir(root, 0755);
	snprintf(link, sizeof(link), "%s/%d", root, (int)prog);
	snprintf(target, sizeof(target), "/proc/%d", (int)prog);
	if (symlink(target, link) != 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		char *argv[] = {NULL, "heap", pid_s, "-o", prof, NULL};
		long kib;
		int64_t ns;
		unlink(log);
		if (run_podprof(argv, log, &kib, &ns) != 0)
			goto out;
		if (ns < res->heap_ns)
			res->heap_ns = ns;
		if (kib > res->heap_kib)
			res->heap_kib = kib;
	}
	/* "pid N (...): M buckets, ..." */
	if (test_read_file(log, &lg) == 0 && lg.data && strstr(lg.data, "): "))
		res->buckets = (size_t)atoll(strstr(lg.data, "): ") + 3);
	{
		char *argv[] = {NULL, "node", "--once", "--listen=", "--proc-root", root,
				"--output-dir", out, NULL};
		int64_t ns;
		if (run_podprof(argv, log, &res->node_kib, &ns) != 0)
			goto out;
	}
	bad = 0;
out:
	if (prog > 0)
		test_stop(prog, 5000);
	buf_free(&info);
	buf_free(&lg);
	test_rmtree(dir);
	free(dir);
	return bad;
}

TEST(heap_memory_per_bucket)
{
	struct big_run small, big;
	double marginal;

	failures = 0;
	CHECK_MSG(measure_big(14, &small) == 0, "2^14 call paths: no measurement");
	CHECK_MSG(measure_big(18, &big) == 0, "2^18 call paths: no measurement");
	CHECK(small.buckets >= 16384 && big.buckets >= 262144);
	printf("%-32s %10s %10s\n", "", "2^14", "2^18");
	printf("%-32s %10zu %10zu\n", "buckets", small.buckets, big.buckets);
	printf("%-32s %10.1f %10.1f\n", "podprof heap peak RSS (MiB)", small.heap_kib / 1024.0,
	       big.heap_kib / 1024.0);
	printf("%-32s %10.0f %10.0f\n", "  per bucket (bytes)",
	       small.heap_kib * 1024.0 / (double)small.buckets,
	       big.heap_kib * 1024.0 / (double)big.buckets);
	printf("%-32s %10.1f %10.1f\n", "node --once peak RSS (MiB)", small.node_kib / 1024.0,
	       big.node_kib / 1024.0);
	printf("%-32s %10.0f %10.0f\n", "  per bucket (bytes)",
	       small.node_kib * 1024.0 / (double)small.buckets,
	       big.node_kib * 1024.0 / (double)big.buckets);
	printf("%-32s %10.3f %10.3f\n", "process WriteTo (ms, best of 5)",
	       (double)small.writeto_ns / 1e6, (double)big.writeto_ns / 1e6);
	printf("%-32s %10.3f %10.3f\n", "podprof heap (ms, best of 3)", (double)small.heap_ns / 1e6,
	       (double)big.heap_ns / 1e6);
	verdict("heap peak RSS, 2^18 paths", big.heap_kib / 1024.0, 64.0, "MiB");
	verdict("node --once peak RSS, 2^18 paths", big.node_kib / 1024.0, 64.0, "MiB");
	marginal = (double)(big.heap_kib - small.heap_kib) * 1024.0 /
		   (double)(big.buckets - small.buckets);
	verdict("heap RSS per added bucket", marginal, 64.0, "B");
	marginal = (double)(big.node_kib - small.node_kib) * 1024.0 /
		   (double)(big.buckets - small.buckets);
	verdict("node RSS per added bucket", marginal, 64.0, "B");
	verdict("ratio heap / WriteTo, 2^18", (double)big.heap_ns / (double)big.writeto_ns, 0.5, "");
	CHECK_EQ(failures, 0);
}

TEST(node_once_over_50_processes)
{
	static const char *const variants[] = {"exe", "pie", "sw", "strip"};
	char ver[32], *dir = test_tmpdir("bench50"), out[512];
	pid_t progs[50];
	struct rusage ru;
	int st, started = 0;
	pid_t node;

	failures = 0;
	test_go_newest_version(ver, sizeof(ver));
	snprintf(out, sizeof(out), "%s/out", dir);
	for (int i = 0; i < 50; i++) {
		char bin[1024], own[512];
		snprintf(bin, sizeof(bin), "%s/%s/heapgen-%s", test_go_cache_dir(), ver,
			 variants[i % 4]);
		snprintf(own, sizeof(own), "%s/own%d.pb.gz", dir, i);
		char *argv[] = {bin, "-profile", own, NULL};
		progs[i] = test_spawn(argv, NULL, NULL);
	}
	for (int t = 0; t < 600 && started < 50; t++) {
		started = 0;
		for (int i = 0; i < 50; i++) {
			char own[512];
			struct stat sb;
			snprintf(own, sizeof(own), "%s/own%d.pb.gz", dir, i);
			started += stat(own, &sb) == 0;
		}
		usleep(100000);
	}
	{
		char *argv[] = {(char *)test_podprof_bin(), "node", "--once", "--listen=",
				"--output-dir", out, NULL};
		node = test_spawn(argv, NULL, NULL);
	}
	CHECK(node > 0 && wait4(node, &st, 0, &ru) == node);
	for (int i = 0; i < 50; i++)
		test_stop(progs[i], 5000);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	{
		struct buf list;
		char cmd[1024];
		size_t files = 0;
		buf_init(&list, 0);
		snprintf(cmd, sizeof(cmd), "find %s -name '*.pb.gz' | wc -l", out);
		test_sh(cmd, &list, 0);
		files = list.data ? (size_t)atol(list.data) : 0;
		printf("%-32s %10d\n", "Go processes", started);
		printf("%-32s %10zu\n", "profiles written", files);
		CHECK(files >= 50);
		buf_free(&list);
	}
	verdict("node --once peak RSS", (double)ru.ru_maxrss / 1024.0, 32.0, "MiB");
	test_rmtree(dir);
	free(dir);
	CHECK_EQ(failures, 0);
}

/* Makes an ELF file of about 100 MiB with a large symbol table (cached in the build
 * tree): 1.2 million symbols and a 64 MiB data section. */
static int make_big_binary(const char *path)
{
	char cmd[8192], src[1100];
	struct stat st;

	if (stat(path, &st) == 0 && st.st_size > (90 << 20))
		return 0;
	snprintf(src, sizeof(src), "%s.s", path);
	snprintf(cmd, sizeof(cmd),
		 "awk 'BEGIN { print \".data\"; for (i = 0; i < 1200000; i++) "
		 "printf(\".globl podprof_bench_symbol_%%07d\\npodprof_bench_symbol_%%07d: .quad %%d\\n\", i, i, i); "
		 "print \".globl _start\\n.text\\n_start: ret\"; print \".section .bigdata,\\\"aw\\\"\\n.zero 67108864\" }' "
		 "> '%s' && as -o '%s.o' '%s' && ld -o '%s' '%s.o' && rm -f '%s' '%s.o'",
		 src, path, src, path, path, src, path);
	return test_sh(cmd, NULL, 1) == 0 ? 0 : -EIO;
}

/* In a fresh child process, so that earlier tests do not set the high-water mark:
 * streams the symbol table and reports the RSS it added, in KiB, through a pipe. */
static long symtab_rss_in_child(const char *path, int *found_ok)
{
	int fds[2];
	long res[2] = {-1, 0};
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		const char *names[] = {"podprof_bench_symbol_1199999", "runtime.mbuckets"};
		uint64_t values[2];
		int found[2] = {0, 0};
		struct elf_file ef;
		long before, after, out[2] = {-1, 0};
		if (elf_file_open(path, &ef) == 0) {
			before = vm_kib("VmHWM:");
			if (elf_file_lookup_symbols(&ef, names, 2, values, found) == 0) {
				after = vm_kib("VmHWM:");
				out[0] = after - before;
				out[1] = found[0] && !found[1] && values[0] != 0;
			}
			elf_file_close(&ef);
		}
		(void)!write(fds[1], out, sizeof(out));
		_exit(0);
	}
	close(fds[1]);
	(void)!read(fds[0], res, sizeof(res));
	close(fds[0]);
	waitpid(pid, NULL, 0);
	*found_ok = (int)res[1];
	return res[0];
}

TEST(symtab_streaming_memory)
{
	char path[1024];
	struct stat st;
	long added;
	int found_ok = 0;

	failures = 0;
	snprintf(path, sizeof(path), "%s/bench-bigsymtab", test_binary_dir());
	CHECK(make_big_binary(path) == 0);
	CHECK(stat(path, &st) == 0);
	added = symtab_rss_in_child(path, &found_ok);
	CHECK(added >= 0);
	CHECK_MSG(found_ok, "the last symbol of the table was not found");
	printf("%-32s %10.1f MiB\n", "binary size", (double)st.st_size / (1 << 20));
	verdict("RSS added by .symtab streaming", (double)added / 1024.0, 8.0, "MiB");
	CHECK_EQ(failures, 0);
}
