/*
 * The node role against real Go processes: alloc deltas across cycles add up to the
 * process's own cumulative growth, force mode switches heap sampling on exactly once,
 * and bad inputs (non-Go processes, gone or zombie processes, tampered or truncated
 * binaries, an unreadable process, a Go release newer than the tested ones) give a
 * clear status and never a crash or a bogus profile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elffile.h"
#include "gobin.h"
#include "goproc.h"
#include "profcmp.h"
#include "support.h"
#include "testing.h"


static int read_pid_file(const char *path, int timeout_ms)
{
	struct buf b;
	int pid = -1;
	for (int t = 0; t < timeout_ms && pid <= 0; t += 20) {
		buf_init(&b, 0);
		if (test_read_file(path, &b) == 0 && b.len > 1)
			pid = atoi(b.data);
		buf_free(&b);
		if (pid <= 0)
			usleep(20000);
	}
	return pid;
}

/* Collects the profile files under dir (recursively, sorted by name = by time). */
static size_t list_profiles(const char *dir, char ***out)
{
	struct buf cmd, res;
	size_t n = 0;
	char *line, *save = NULL;

	buf_init(&cmd, 0);
	buf_init(&res, 0);
	buf_printf(&cmd, "find '%s' -name '*.pb.gz' 2>/dev/null | sort", dir);
	test_sh(cmd.data, &res, 0);
	*out = calloc(4096, sizeof(char *));
	for (line = strtok_r(res.data ? res.data : (char[]){0}, "\n", &save); line && n < 4096;
	     line = strtok_r(NULL, "\n", &save))
		(*out)[n++] = strdup(line);
	buf_free(&cmd);
	buf_free(&res);
	return n;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* The node role's cycles so far: its "cycle:" lines (one at the end of each, with
 * --log-level=debug). */
static size_t count_cycles(const char *log)
{
	struct buf b;
	size_t n = 0;

	buf_init(&b, 0);
	if (test_read_file(log, &b) == 0 && b.data)
		for (const char *p = b.data; (p = strstr(p, " node: cycle: ")) != NULL; p++)
			n++;
	buf_free(&b);
	return n;
}

static int run_deltas(const char *ver)
{
	char *dir = test_tmpdir("node"), bin[1024], own[512], out[512], log[512], listen[64],
	     url[128], path[600];
	char **files = NULL;
	size_t nfiles = 0;
	struct canon first = {0}, last = {0};
	struct buf metrics;
	pid_t prog = -1, node = -1;
	int port = test_free_port(), bad = 1, steps = 3;
	int64_t sum_bytes = 0, sum_objects = 0, step_bytes = 0;

	buf_init(&metrics, 0);
	snprintf(bin, sizeof(bin), "%s/%s/heapgen-exe", test_go_cache_dir(), ver);
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(log, sizeof(log), "%s/node.log", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	{
		char *argv[] = {bin, "-profile", own, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	if (prog < 0 || test_wait_file(own, 30000)) {
		fprintf(stderr, "  %s: program not ready\n", ver);
		goto out;
	}
	{
		char *argv[] = {(char *)test_podprof_bin(), "node", "--interval=1s", "--output-dir",
				out, "--listen", listen, "--log-level=debug", NULL};
		node = test_spawn(argv, NULL, log);
	}
	/* step k: wait for a cycle after snapshot k-1, then do the work of step k */
	for (int k = 0; k <= steps; k++) {
		size_t before;
		if (k > 0) {
			snprintf(path, sizeof(path), "%s.%d", own, k);
			kill(prog, SIGUSR1);
			if (test_wait_file(path, 30000)) {
				fprintf(stderr, "  %s: snapshot %d missing\n", ver, k);
				goto out;
			}
		}
		/* two more cycles ended means one began after the snapshot (other Go
		 * processes of the machine write files too: their count says nothing) */
		before = count_cycles(log);
		for (int t = 0; t < 600 && count_cycles(log) < before + 2; t++)
			usleep(100000);
		if (count_cycles(log) < before + 2) {
			fprintf(stderr, "  %s: no cycle after snapshot %d within 60 s\n", ver, k);
			goto out;
		}
	}
	test_http_get(url, &metrics);
	test_stop(node, 10000);
	node = -1;
	nfiles = list_profiles(out, &files);
	for (size_t i = 0; i < nfiles; i++) {
		struct canon c;
		if (canon_load(files[i], &c) != 0) {
			fprintf(stderr, "  %s: undecodable %s\n", ver, files[i]);
			goto out;
		}
		for (size_t t = 0; t < c.nvalues; t++) {
			if (strcmp(c.types[t], "go_runtime:heap_alloc_space:bytes") == 0) {
				sum_bytes += canon_total(&c, t, "/heapgen/main.go");
				step_bytes += canon_total(&c, t, "main.step ");
				if (i == 0 && canon_total(&c, t, NULL) != 0) {
					fprintf(stderr, "  %s: the first cycle uploaded alloc values\n", ver);
					canon_free(&c);
					goto out;
				}
			}
			if (strcmp(c.types[t], "go_runtime:heap_alloc_objects:count") == 0)
				sum_objects += canon_total(&c, t, "/heapgen/main.go");
		}
		canon_free(&c);
	}
	snprintf(path, sizeof(path), "%s.%d", own, steps);
	if (canon_load(own, &first) || canon_load(path, &last)) {
		fprintf(stderr, "  %s: cannot read the program's own profiles\n", ver);
		goto out;
	}
	{
		/* the program's own cumulative growth over the same span */
		int64_t grow_bytes = canon_total(&last, 1, "/heapgen/main.go") -
				     canon_total(&first, 1, "/heapgen/main.go");
		int64_t grow_objects = canon_total(&last, 0, "/heapgen/main.go") -
				       canon_total(&first, 0, "/heapgen/main.go");
		int64_t grow_step = canon_total(&last, 1, "main.step ");
		int64_t tol = (int64_t)nfiles * 64 + 16;
		printf("  %s: %zu files; alloc_space deltas %" PRId64 " vs growth %" PRId64
		       "; objects %" PRId64 " vs %" PRId64 "\n",
		       ver, nfiles, sum_bytes, grow_bytes, sum_objects, grow_objects);
		if (grow_step <= 0 || llabs(step_bytes - grow_step) > tol ||
		    llabs(sum_bytes - grow_bytes) > tol || llabs(sum_objects - grow_objects) > tol) {
			fprintf(stderr, "  %s: deltas do not add up (main.step %" PRId64 " vs %" PRId64
				")\n", ver, step_bytes, grow_step);
			goto out;
		}
	}
	{
		/* the allocation counter of the process's container counts the same bytes
		 * (all of the process's stacks, not only the program's own) */
		double counted = -1;
		const char *p = strstr(metrics.data ? metrics.data : "",
				       "container_go_alloc_bytes_total{container_id=");
		if (p)
			counted = atof(strchr(p, '}') + 1);
		if (counted < (double)sum_bytes - (double)nfiles * 64) {
			fprintf(stderr, "  %s: container_go_alloc_bytes_total %.0f < %" PRId64 "\n",
				ver, counted, sum_bytes);
			goto out;
		}
	}
	bad = 0;
out:
	if (bad) {
		struct buf l;
		buf_init(&l, 0);
		test_read_file(log, &l);
		fprintf(stderr, "  node log:\n%s\n", l.data ? l.data : "");
		buf_free(&l);
	}
	if (node > 0)
		test_stop(node, 5000);
	if (prog > 0)
		test_stop(prog, 5000);
	canon_free(&first);
	canon_free(&last);
	free_list(files, nfiles);
	buf_free(&metrics);
	test_rmtree(dir);
	free(dir);
	return bad;
}

TEST(alloc_deltas_add_up_to_the_process_growth)
{
	char ver[32];
	const char *const *tc;
	size_t ntc = test_go_toolchains(&tc);

	if (ntc == 0)
		SKIP("no Go toolchain installed");
	/* the oldest and the newest layouts (32-byte and 16-byte memRecord cycles) */
	CHECK_EQ(run_deltas("go1.19"), 0);
	CHECK_EQ(run_deltas(test_go_newest_version(ver, sizeof(ver))), 0);
}

static int podprof(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int podprof(struct buf *out, const char *fmt, ...)
{
	struct buf cmd;
	va_list ap;
	int r;

	buf_init(&cmd, 0);
	buf_printf(&cmd, "%s ", test_podprof_bin());
	va_start(ap, fmt);
	{
		char tmp[2048];
		vsnprintf(tmp, sizeof(tmp), fmt, ap);
		buf_append_str(&cmd, tmp);
	}
	va_end(ap);
	r = test_sh(cmd.data, out, 1);
	buf_free(&cmd);
	return r;
}

TEST(force_mode_switches_sampling_on_once)
{
	char ver[32], bin[1024], *dir = test_tmpdir("force"), pidfile[512], prof[512], log[512];
	struct buf out, lg, m;
	struct canon c = {0};
	pid_t prog, node = -1;
	int pid, port = test_free_port();
	char listen[64], url[128];

	buf_init(&out, 0);
	buf_init(&lg, 0);
	buf_init(&m, 0);
	snprintf(bin, sizeof(bin), "%s/%s/noprof-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(prof, sizeof(prof), "%s/heap.pb.gz", dir);
	snprintf(log, sizeof(log), "%s/node.log", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	{
		char *argv[] = {bin, pidfile, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	pid = read_pid_file(pidfile, 20000);
	CHECK(pid == prog);
	/* enabled mode: skipped, and ps says why */
	CHECK_EQ(podprof(&out, "ps"), 0);
	{
		char needle[64];
		snprintf(needle, sizeof(needle), "%d ", pid);
		const char *row = strstr(out.data, needle);
		CHECK_MSG(row != NULL, "%s", out.data);
		CHECK(strstr(row, "rate_zero") != NULL);
		CHECK(strstr(row, "GO_HEAP_PROFILER=force") != NULL);
	}
	buf_reset(&out);
	CHECK_EQ(podprof(&out, "heap %d -o %s", pid, prof), 1);
	CHECK(strstr(out.data, "MemProfileRate=0") != NULL);
	/* the node role in force mode: one write, then the allocation site appears */
	{
		char *argv[] = {(char *)test_podprof_bin(), "node", "--interval=1s",
				"--go-heap-profiler=force", "--output-dir", dir, "--listen", listen,
				"--log-level=debug", NULL};
		node = test_spawn(argv, NULL, log);
	}
	/* the switch, then two more cycles that must not write again */
	{
		char line[96];
		size_t cycles = 0;
		int t;

		snprintf(line, sizeof(line), "pid %d: heap profiling switched on", pid);
		for (t = 0; t < 300; t++) {
			buf_reset(&lg);
			test_read_file(log, &lg);
			if (lg.data && strstr(lg.data, line))
				break;
			usleep(100000);
		}
		cycles = count_cycles(log);
		for (; t < 600 && count_cycles(log) < cycles + 2; t++)
			usleep(100000);
		buf_reset(&lg);
	}
	test_http_get(url, &m);
	test_stop(node, 10000);
	test_read_file(log, &lg);
	/* other Go processes of this machine with sampling off are switched on too: count
	 * the writes to ours through its log line */
	CHECK_MSG(test_metric_value(m.data ? m.data : "", "podprof_heap_force_enabled_total ") >=
			  1,
		  "%s", m.data ? m.data : "");
	{
		char line[96];
		const char *first;
		snprintf(line, sizeof(line), "pid %d: heap profiling switched on", pid);
		first = strstr(lg.data, line);
		CHECK_MSG(first != NULL, "%s", lg.data);
		CHECK_MSG(strstr(first + 1, line) == NULL, "written twice: %s", lg.data);
	}
	/* sampling is on: the site shows once two GC cycles have published its samples,
	 * a matter of seconds on an idle machine, longer on a loaded one */
	for (int t = 0; t < 300; t++) {
		buf_reset(&out);
		CHECK_EQ(podprof(&out, "heap %d -o %s", pid, prof), 0);
		CHECK(canon_load(prof, &c) == 0);
		if (canon_total(&c, 1, "main.allocSite ") > 0)
			break;
		canon_free(&c);
		usleep(100000);
	}
	CHECK_MSG(canon_total(&c, 1, "main.allocSite ") > 0, "allocSite missing after 30 s");
	CHECK_EQ(c.period, 524288);
	canon_free(&c);
	test_stop(prog, 5000);
	buf_free(&out);
	buf_free(&lg);
	buf_free(&m);
	test_rmtree(dir);
	free(dir);
}

TEST(heap_force_flag_enables_a_single_process)
{
	char ver[32], bin[1024], *dir = test_tmpdir("forceflag"), pidfile[512], prof[512];
	struct buf out;
	struct canon c = {0};
	pid_t prog;
	int pid;

	buf_init(&out, 0);
	snprintf(bin, sizeof(bin), "%s/%s/noprof-strip", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(prof, sizeof(prof), "%s/heap.pb.gz", dir);
	{
		char *argv[] = {bin, pidfile, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	pid = read_pid_file(pidfile, 20000);
	CHECK(pid == prog);
	CHECK_EQ(podprof(&out, "heap --force %d -o %s", pid, prof), 0);
	CHECK_MSG(strstr(out.data, "set by --force") != NULL, "%s", out.data);
	usleep(1500000);
	buf_reset(&out);
	CHECK_EQ(podprof(&out, "heap %d -o %s", pid, prof), 0);
	CHECK(canon_load(prof, &c) == 0);
	CHECK(canon_total(&c, 1, "main.allocSite ") > 0);
	canon_free(&c);
	test_stop(prog, 5000);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}

/* The file offset of the .symtab entry of name, and the value of other. */
static int symtab_entry(const char *path, const char *name, const char *other, uint64_t *off,
			uint64_t *other_value)
{
	struct elf_file ef;
	const struct elf_section *symtab = NULL, *strtab;
	unsigned char *syms = NULL, *strs = NULL;
	int r = -ENOENT;

	if (elf_file_open(path, &ef))
		return -EIO;
	for (size_t i = 0; i < ef.nsections; i++)
		if (ef.sections[i].type == 2 /* SHT_SYMTAB */)
			symtab = &ef.sections[i];
	if (!symtab)
		goto out;
	strtab = &ef.sections[symtab->link];
	syms = malloc(symtab->size);
	strs = malloc(strtab->size);
	if (elf_file_pread(&ef, symtab->offset, syms, symtab->size) ||
	    elf_file_pread(&ef, strtab->offset, strs, strtab->size))
		goto out;
	for (uint64_t k = 0; k + 24 <= symtab->size; k += 24) {
		uint32_t nameoff;
		uint64_t value;
		memcpy(&nameoff, syms + k, 4);
		memcpy(&value, syms + k + 8, 8);
		if (nameoff >= strtab->size)
			continue;
		if (strcmp((char *)strs + nameoff, name) == 0)
			*off = symtab->offset + k + 8;
		if (strcmp((char *)strs + nameoff, other) == 0)
			*other_value = value;
	}
	r = *off && *other_value ? 0 : -ENOENT;
out:
	free(syms);
	free(strs);
	elf_file_close(&ef);
	return r;
}

static int count_bucket(void *ctx, const struct heap_bucket *b, const struct heap_walk_info *info)
{
	(void)b;
	(void)info;
	++*(int *)ctx;
	return 0;
}

TEST(bad_inputs_give_clear_statuses)
{
	char ver[32], bin[1024], *dir = test_tmpdir("bad"), tampered[512], truncated[512],
		newer[512], own[512], prof[512];
	struct buf out;
	struct gobin *g = NULL;
	uint64_t off = 0, value = 0;
	pid_t sleeper, prog;
	int r;

	buf_init(&out, 0);
	test_go_newest_version(ver, sizeof(ver));
	snprintf(bin, sizeof(bin), "%s/%s/heapgen-exe", test_go_cache_dir(), ver);
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	snprintf(prof, sizeof(prof), "%s/p.pb.gz", dir);

	/* a process that is not Go */
	{
		char *argv[] = {"/bin/sleep", "30", NULL};
		sleeper = test_spawn(argv, NULL, NULL);
	}
	usleep(100000);
	CHECK_EQ(podprof(&out, "heap %d -o %s", (int)sleeper, prof), 1);
	CHECK_MSG(strstr(out.data, "not a Go process") != NULL, "%s", out.data);
	test_stop(sleeper, 2000);
	/* a pid that does not exist */
	buf_reset(&out);
	CHECK_EQ(podprof(&out, "heap 999999999 -o %s", prof), 1);
	CHECK_MSG(strstr(out.data, "no such process") != NULL, "%s", out.data);
	/* a zombie: exited, not reaped */
	{
		pid_t z = fork();
		if (z == 0)
			_exit(0);
		usleep(200000);
		buf_reset(&out);
		CHECK_EQ(podprof(&out, "heap %d -o %s", (int)z, prof), 1);
		CHECK_MSG(strstr(out.data, "no such process") != NULL ||
				  strstr(out.data, "exited") != NULL,
			  "%s", out.data);
		waitpid(z, NULL, 0);
	}
	/* runtime.mbuckets in .symtab pointing at other data: refused, nothing uploaded */
	snprintf(tampered, sizeof(tampered), "%s/tampered", dir);
	CHECK(symtab_entry(bin, "runtime.mbuckets", "runtime.firstmoduledata", &off, &value) == 0);
	CHECK(test_patched_copy(bin, tampered, off, &value, 8) == 0);
	{
		char *argv[] = {tampered, "-profile", own, NULL};
		prog = test_spawn(argv, NULL, NULL);
	}
	CHECK(test_wait_file(own, 30000) == 0);
	buf_reset(&out);
	r = podprof(&out, "heap %d -o %s", (int)prog, prof);
	CHECK_MSG(r == 1 && strstr(out.data, "malformed") != NULL, "%d %s", r, out.data);
	CHECK(access(prof, F_OK) != 0);
	buf_reset(&out);
	CHECK_EQ(podprof(&out, "ps"), 0);
	/* the process exits before the read: nothing read */
	{
		struct proc_identity id;
		struct heap_walk_info info;
		struct gobin *tb = NULL;
		uint64_t bias = 0;
		int64_t rate;
		int forced = 0, calls = 0;
		char reason[200];
		CHECK(proc_identity_read("/proc", prog, &id) == 0);
		CHECK(gobin_load(bin, &tb) == 0);
		kill(prog, SIGKILL);
		waitpid(prog, NULL, 0);
		r = goproc_read_heap("/proc", prog, &id, tb, 0, &forced, &bias, NULL, count_bucket,
				     &calls, &info, &rate, reason, sizeof(reason));
		CHECK_EQ(r, -ESRCH);
		CHECK(calls == 0 && info.nbuckets == 0);
		gobin_free(tb);
	}
	/* a truncated binary and a newer Go release: inspected without harm */
	snprintf(truncated, sizeof(truncated), "%s/truncated", dir);
	{
		struct buf b;
		struct elf_file ef;
		const struct elf_section *s;
		buf_init(&b, 0);
		CHECK(elf_file_open(bin, &ef) == 0);
		s = elf_file_section(&ef, ".gopclntab");
		CHECK(s != NULL);
		off = s->offset + 4096; /* the table is cut short */
		elf_file_close(&ef);
		CHECK(test_read_file(bin, &b) == 0);
		CHECK(test_write_file(truncated, b.data, off) == 0);
		buf_free(&b);
	}
	r = gobin_load(truncated, &g);
	CHECK_MSG(r != 0 || g->unsupported[0], "a truncated binary was accepted");
	gobin_free(g);
	g = NULL;
	snprintf(newer, sizeof(newer), "%s/newer", dir);
	{
		struct elf_file ef;
		const struct elf_section *s;
		CHECK(elf_file_open(bin, &ef) == 0);
		s = elf_file_section(&ef, ".go.buildinfo");
		CHECK(s != NULL);
		/* "go1.NN" becomes "go1.99" in the inline version string after the header */
		off = s->offset + 33 + 4;
		elf_file_close(&ef);
		CHECK(test_patched_copy(bin, newer, off, "99", 2) == 0);
	}
	CHECK(gobin_load(newer, &g) == 0);
	CHECK_MSG(strstr(g->unsupported, "newer than go1.") != NULL, "%s", g->unsupported);
	gobin_free(g);
	/* an unreadable process: podprof without privileges */
	{
		char *argv[] = {bin, "-profile", own, NULL};
		unlink(own);
		prog = test_spawn(argv, NULL, NULL);
		CHECK(test_wait_file(own, 30000) == 0);
		buf_reset(&out);
		if (access("/usr/bin/setpriv", X_OK) == 0 && getuid() == 0) {
			char cmd[2048];
			chmod(dir, 0777);
			snprintf(cmd, sizeof(cmd),
				 "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "
				 "--inh-caps=-all --bounding-set=-all %s heap %d -o %s/np.pb.gz",
				 test_podprof_bin(), (int)prog, dir);
			r = test_sh(cmd, &out, 1);
			CHECK_MSG(r == 1 && (strstr(out.data, "CAP_SYS_PTRACE") ||
					     strstr(out.data, "ermission")),
				  "%d %s", r, out.data);
		}
		test_stop(prog, 5000);
	}
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}

TEST(opted_out_processes_are_skipped)
{
	char ver[32], bin[1024], *dir = test_tmpdir("optout"), own[512];
	struct buf out;
	pid_t prog;
	char *envp[] = {"COROOT_EBPF_PROFILING=disabled", "PATH=/usr/bin:/bin", NULL};

	buf_init(&out, 0);
	snprintf(bin, sizeof(bin), "%s/%s/heapgen-exe", test_go_cache_dir(),
		 test_go_newest_version(ver, sizeof(ver)));
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	{
		char *argv[] = {bin, "-profile", own, NULL};
		prog = test_spawn(argv, envp, NULL);
	}
	CHECK(test_wait_file(own, 30000) == 0);
	CHECK_EQ(podprof(&out, "ps"), 0);
	{
		char needle[32];
		const char *row;
		snprintf(needle, sizeof(needle), "%d ", (int)prog);
		row = strstr(out.data, needle);
		CHECK_MSG(row && strstr(row, "opted_out"), "%s", out.data);
	}
	test_stop(prog, 5000);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}

/*
 * The node DaemonSet adds exactly CAP_SYS_PTRACE: reading another user's process,
 * checking its environment for the opt-out and force mode's write must all work with
 * that capability alone (no DAC_OVERRIDE, no DAC_READ_SEARCH).
 */
TEST(cap_sys_ptrace_alone_is_enough)
{
	char ver[32], noprof[1024], heapgen[1024], *dir = test_tmpdir("caps"), pidfile[512],
		own[512], cmd[4096];
	const char *caps = "/usr/bin/setpriv --inh-caps=-all,+sys_ptrace "
			   "--ambient-caps=-all,+sys_ptrace --bounding-set=-all,+sys_ptrace";
	struct buf out;
	pid_t a, b;
	int pa;

	if (getuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
		SKIP("needs root and setpriv to drop capabilities");
	buf_init(&out, 0);
	chmod(dir, 0777);
	test_go_newest_version(ver, sizeof(ver));
	snprintf(noprof, sizeof(noprof), "%s/%s/noprof-exe", test_go_cache_dir(), ver);
	snprintf(heapgen, sizeof(heapgen), "%s/%s/heapgen-exe", test_go_cache_dir(), ver);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	{
		/* two processes of another user: one with sampling off, one opted out */
		char *argv1[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				 "--clear-groups", noprof, pidfile, NULL};
		char *argv2[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				 "--clear-groups", heapgen, "-profile", own, NULL};
		char *envp2[] = {"COROOT_EBPF_PROFILING=disabled", "PATH=/usr/bin:/bin", NULL};
		a = test_spawn(argv1, NULL, NULL);
		b = test_spawn(argv2, envp2, NULL);
	}
	pa = read_pid_file(pidfile, 20000);
	CHECK(pa > 0 && test_wait_file(own, 30000) == 0);
	/* force mode's write */
	snprintf(cmd, sizeof(cmd), "%s %s heap --force %d -o %s/forced.pb.gz", caps,
		 test_podprof_bin(), pa, dir);
	CHECK_MSG(test_sh(cmd, &out, 1) == 0, "%s", out.data);
	/* the opt-out is seen although /proc/<pid>/environ is not readable */
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s %s ps", caps, test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 0);
	{
		char needle[32];
		const char *row;
		snprintf(needle, sizeof(needle), "%d ", (int)b);
		row = strstr(out.data, needle);
		CHECK_MSG(row && strstr(row, "opted_out"), "%s", out.data);
	}
	test_stop(a, 5000);
	test_stop(b, 5000);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}
