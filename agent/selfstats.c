/*
 * podprof's own resource use, read from /proc/self whenever /metrics is rendered: the
 * process_* series every Prometheus client exports (CPU time, resident and virtual
 * memory, descriptors and their limit, start time), the thread count, and what glibc's
 * allocator holds: the bytes in use and the bytes it has from the system. RSS growing
 * while "in use" stays flat is memory the allocator keeps, not data podprof keeps.
 */
#define LOG_MODULE "agent"
#include "selfstats.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"
#include "goproc.h"

struct selfstats {
	pthread_mutex_t lock; /* one reader at a time: the CPU counter adds differences */
	const char *proc_self;
	double cpu_seen;
	struct metric *cpu, *rss, *vsize, *fds, *max_fds, *start, *threads, *heap_used,
		*heap_system;
};

/* The boot time (/proc/stat btime, seconds since the epoch): read once. */
static double boot_time;
static pthread_once_t boot_time_once = PTHREAD_ONCE_INIT;

static void read_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &boot_time) == 1)
			break;
	fclose(f);
}

int selfstats_read(const char *proc_self, struct selfstats_values *v)
{
	char path[256], text[4096];
	uint64_t utime, stime, threads, starttime, vsize, rss;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	FILE *f;
	size_t n;
	DIR *d;
	struct dirent *e;
	struct rlimit rl;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/stat", proc_self);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* proc(5): utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24 */
	if (proc_stat_u64(text, n, 14, &utime) || proc_stat_u64(text, n, 15, &stime) ||
	    proc_stat_u64(text, n, 20, &threads) || proc_stat_u64(text, n, 22, &starttime) ||
	    proc_stat_u64(text, n, 23, &vsize) || proc_stat_u64(text, n, 24, &rss))
		return -EINVAL;
	if (tick <= 0)
		tick = 100;
	pthread_once(&boot_time_once, read_boot_time);
	v->cpu_seconds = (double)(utime + stime) / (double)tick;
	v->start_seconds = boot_time + (double)starttime / (double)tick;
	v->virtual_bytes = (double)vsize;
	v->resident_bytes = (double)rss * (double)(page > 0 ? page : 4096);
	v->threads = (double)threads;
	snprintf(path, sizeof(path), "%s/fd", proc_self);
	d = opendir(path);
	if (d) {
		/* in our own fd directory, the descriptor reading it is not counted */
		int skip = strcmp(proc_self, "/proc/self") == 0 ? dirfd(d) : -1;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && atoi(e->d_name) != skip)
				v->open_fds++;
		closedir(d);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		v->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
	{
		struct mallinfo2 mi = mallinfo2();
		v->heap_in_use_bytes = (double)(mi.uordblks + mi.hblkhd);
		v->heap_system_bytes = (double)(mi.arena + mi.hblkhd);
	}
	return 0;
}

static void collect(void *ctx)
{
	struct selfstats *s = ctx;
	struct selfstats_values v;

	pthread_mutex_lock(&s->lock);
	if (selfstats_read(s->proc_self, &v) == 0) {
		if (v.cpu_seconds > s->cpu_seen) {
			metric_add(s->cpu, v.cpu_seconds - s->cpu_seen);
			s->cpu_seen = v.cpu_seconds;
		}
		metric_set(s->rss, v.resident_bytes);
		metric_set(s->vsize, v.virtual_bytes);
		metric_set(s->fds, v.open_fds);
		metric_set(s->max_fds, v.max_fds);
		metric_set(s->start, v.start_seconds);
		metric_set(s->threads, v.threads);
		metric_set(s->heap_used, v.heap_in_use_bytes);
		metric_set(s->heap_system, v.heap_system_bytes);
	}
	pthread_mutex_unlock(&s->lock);
}

static void selfstats_free(void *ctx)
{
	struct selfstats *s = ctx;

	pthread_mutex_destroy(&s->lock);
	free(s);
}

int selfstats_register(struct metrics_registry *m, const char *proc_self)
{
	struct selfstats *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->proc_self = proc_self ? proc_self : "/proc/self";
	s->cpu = metrics_counter(m, "process_cpu_seconds_total",
				 "Total user and system CPU time spent in seconds");
	s->rss = metrics_gauge(m, "process_resident_memory_bytes", "Resident memory size in bytes");
	s->vsize = metrics_gauge(m, "process_virtual_memory_bytes", "Virtual memory size in bytes");
	s->fds = metrics_gauge(m, "process_open_fds", "Number of open file descriptors");
	s->max_fds = metrics_gauge(m, "process_max_fds",
				   "Maximum number of open file descriptors (-1: unlimited)");
	s->start = metrics_gauge(m, "process_start_time_seconds",
				 "Start time of the process since unix epoch in seconds");
	s->threads = metrics_gauge(m, "podprof_threads", "Threads of the podprof process");
	s->heap_used = metrics_gauge(m, "podprof_malloc_in_use_bytes",
				     "Bytes of podprof's allocations in use (glibc mallinfo2)");
	s->heap_system = metrics_gauge(m, "podprof_malloc_system_bytes",
				       "Bytes the allocator holds from the system, in use or "
				       "free (glibc mallinfo2)");
	if (!s->cpu || !s->rss || !s->vsize || !s->fds || !s->max_fds || !s->start ||
	    !s->threads || !s->heap_used || !s->heap_system) {
		selfstats_free(s);
		return -ENOMEM;
	}
	metrics_on_render(m, collect, selfstats_free, s);
	return 0;
}
