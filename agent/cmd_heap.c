/*
 * `podprof heap PID` and `podprof ps`: the node side, one process at a time.
 */
#define LOG_MODULE "heap"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "pprof.h"
#include "profiler.h"

/* Writes data to path atomically (temp file + rename), or to stdout for "-". */
static int write_output(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	FILE *f;
	int ok;

	if (strcmp(path, "-") == 0)
		return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "wbe");
	if (!f)
		return -errno;
	ok = fwrite(data, 1, len, f) == len;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static int parse_pid(const char *s, int *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*pid = (int)v;
	return 0;
}

int cmd_heap(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	struct goproc_info info;
	struct buf out;
	char defname[64];
	const char *path;
	int pid, partial = 0, status = 2, r;

	buf_init(&out, 0);
	r = config_parse(CMD_HEAP, argc, argv, envp, &cfg);
	if (r == 1)
		return config_print_help(CMD_HEAP, "podprof heap PID [-o FILE] [--force]",
					 "Reads the heap profile of the Go process PID out of its memory and "
					 "writes it as a gzip pprof file, with the same sample types, values and "
					 "scaling as the process's own runtime/pprof heap profile. Open it with "
					 "`go tool pprof FILE`.");
	if (r)
		return 2;
	if (cfg.nargs != 1 || parse_pid(cfg.args[0], &pid)) {
		fprintf(stderr, "podprof heap: expected one PID (a positive number)%s%s\n",
			cfg.nargs ? ", got " : "", cfg.nargs ? cfg.args[0] : "");
		goto out;
	}
	status = 1;
	r = goheap_read_pid(cfg.proc_root, pid, cfg.force, (size_t)cfg.heap_max_buckets, &info,
			    &partial, &out);
	if (r) {
		const char *why = info.reason[0] ? info.reason : strerror(-r);
		if (r == -ENOENT)
			why = "not a Go process";
		else if (r == -ESRCH && !info.reason[0])
			why = "no such process";
		fprintf(stderr, "podprof heap: pid %d: %s\n", pid, why);
		goto out;
	}
	if (partial)
		fprintf(stderr, "podprof heap: pid %d: more than %zu heap buckets: the profile is "
			"partial, it holds the newest (--heap-max-buckets)\n", pid, info.buckets);
	snprintf(defname, sizeof(defname), "heap-%d.pb.gz", pid);
	path = cfg.output ? cfg.output : defname;
	r = write_output(path, out.data, out.len);
	if (r) {
		fprintf(stderr, "podprof heap: cannot write %s: %s\n", path, strerror(-r));
		goto out;
	}
	if (strcmp(path, "-") != 0)
		fprintf(stderr, "pid %d (%s, %s): %zu buckets, MemProfileRate %lld%s -> %s\n", pid,
			info.exe, info.go_version, info.buckets, (long long)info.rate,
			info.forced ? " (set by --force)" : "", path);
	status = 0;
out:
	buf_free(&out);
	config_free(&cfg);
	return status;
}

static int print_row(void *ctx, const struct goproc_info *i)
{
	char rate[24] = "-";

	(void)ctx;
	if (i->rate >= 0)
		snprintf(rate, sizeof(rate), "%lld", (long long)i->rate);
	printf("%-8d %-11s %-8s %-13s %-12s %-24s %s%s%s\n", i->pid,
	       i->go_version[0] ? i->go_version : "-", rate, i->symbols ? i->symbols : "-",
	       goproc_status_name(i->status), i->container_id[0] ? i->container_id : "-", i->exe,
	       i->reason[0] ? "  # " : "", i->reason);
	return 0;
}

int cmd_ps(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	enum goheap_mode mode;
	int r = config_parse(CMD_PS, argc, argv, envp, &cfg);

	if (r == 1)
		return config_print_help(CMD_PS, "podprof ps",
					 "Lists the Go processes the node role would profile: pid, Go version, "
					 "MemProfileRate, where their runtime symbols come from, and their status "
					 "or the reason they are skipped.");
	if (r)
		return 2;
	if (cfg.nargs) {
		fprintf(stderr, "podprof ps: unexpected argument '%s'\n", cfg.args[0]);
		config_free(&cfg);
		return 2;
	}
	goheap_mode_parse(cfg.go_heap_profiler, &mode);
	printf("%-8s %-11s %-8s %-13s %-12s %-24s %s\n", "PID", "GO", "RATE", "SYMBOLS", "STATUS",
	       "CONTAINER", "EXE");
	r = goheap_ps(cfg.proc_root, mode, (size_t)cfg.heap_max_buckets, print_row, NULL);
	if (r < 0)
		fprintf(stderr, "podprof ps: cannot list %s: %s\n", cfg.proc_root, strerror(-r));
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}
