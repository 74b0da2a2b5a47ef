/*
 * profiler/: the node side of podprof, its public header.
 *
 * Finds the Go processes of a node under /proc, reads their heap profiles out of their
 * memory exactly as their own runtime/pprof would write them, keeps per-process delta
 * state for the uploaded alloc profiles, names each process's container, exports
 * allocation metrics, and (in force mode) switches heap sampling on where the Go linker
 * turned it off.
 */
#ifndef PODPROF_PROFILER_H
#define PODPROF_PROFILER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "pprof.h"

enum goheap_mode { GOHEAP_DISABLED, GOHEAP_ENABLED, GOHEAP_FORCE };

/* Parses "disabled", "enabled" or "force". Returns 0 or -EINVAL. */
int goheap_mode_parse(const char *s, enum goheap_mode *out);

/* The MemProfileRate podprof writes in force mode: the Go default. */
#define GOHEAP_FORCE_RATE 524288

/* Heap buckets read from one process by default (--heap-max-buckets): past them a read
 * stops and the profile is partial. */
#define GOHEAP_DEFAULT_MAX_BUCKETS 1000000

enum goproc_status {
	GOPROC_PROFILING,   /* read every cycle */
	GOPROC_RATE_ZERO,   /* heap profiling off in the process (enabled mode) */
	GOPROC_UNSUPPORTED, /* a Go binary podprof cannot read: see reason */
	GOPROC_OPTED_OUT,   /* COROOT_EBPF_PROFILING=disabled in its environment */
	GOPROC_ERROR,       /* the last read failed: see reason */
	GOPROC_PARTIAL,     /* read every cycle up to the bucket bound: partial profiles */
	GOPROC_NSTATUS
};

/* Short names of the statuses, for ps and metrics ("profiling", "rate_zero", ...,
 * "partial"). */
const char *goproc_status_name(enum goproc_status s);

/* What is known about one Go process (a copy; owns nothing). */
struct goproc_info {
	int pid;
	char exe[256];
	char go_version[64];
	int64_t rate;            /* MemProfileRate last read, -1 if never */
	const char *symbols;     /* "symtab", "pclntab+code", "none" (static string) */
	enum goproc_status status;
	char reason[200];
	char container_id[576];
	char service_name[576];
	int forced;              /* podprof set its MemProfileRate */
	size_t buckets;          /* read at the last read (the bound when partial) */
	int64_t read_ns;         /* duration of the last read */
};

struct node_profiler_config {
	const char *proc_root;         /* "/proc" */
	const char *container_log_dir; /* "/var/log/containers", or NULL */
	enum goheap_mode mode;
	struct metrics_registry *metrics; /* may be NULL */
	const char *host_name;         /* host.name label */
	const char *host_id;           /* host.id label (machine id) */
	size_t max_processes;          /* bound on tracked processes; 0 = 100000 */
	int self_pid;                  /* never profile this pid (podprof itself) */
	int64_t interval_ns;           /* the cycle period: the window of a first profile */
	size_t max_buckets;            /* heap buckets read per process; 0 = the default */
};

struct node_profiler;

/* Creates a node profiler. Returns 0 or a negative errno; the caller owns *out. */
int node_profiler_new(const struct node_profiler_config *cfg, struct node_profiler **out);
void node_profiler_free(struct node_profiler *np);

/* Called for each profile a cycle produces; meta and body belong to the caller of the
 * callback only during the call. body is a gzip pprof profile without zero samples (as
 * uploader_submit takes it). A process's read gives its alloc deltas and its in-use
 * values as two profiles (kinds "heap-alloc_objects" and "heap-inuse_objects"), or as
 * one ("heap") when the other has no sample. labels: container.id, host.name, host.id,
 * and podprof.partial=true on a profile that stopped at the bucket bound. */
struct node_profile_meta {
	const struct goproc_info *proc;
	const char *service_name;
	const char *kind;
	const char *const *label_names;
	const char *const *label_values;
	size_t nlabels;
	int64_t time_ns, duration_ns;
};
typedef int (*node_emit_fn)(void *ctx, const struct node_profile_meta *meta, const void *body,
			    size_t len);

/*
 * One cycle: scans /proc, inspects new processes, reads the heap of every profiled
 * process (up to cfg->max_buckets buckets each), and emits its profile with Coroot's
 * go_runtime:heap_* types: alloc values are the change since the previous cycle (zero
 * on a process's first cycle, which records the baseline), inuse values are absolute.
 * Returns 0 or a negative errno for a failure of the whole scan. Not thread-safe.
 */
int node_profiler_cycle(struct node_profiler *np, node_emit_fn emit, void *ctx);

/* Copies up to max process records (Go processes only, by pid); returns the count.
 * Thread-safe with respect to a concurrent cycle. */
size_t node_profiler_list(struct node_profiler *np, struct goproc_info *out, size_t max);

/* Number of Go processes tracked. Thread-safe. */
size_t node_profiler_count(struct node_profiler *np);

/*
 * One-shot read of pid's heap: the cumulative profile with runtime/pprof's sample
 * types and values, as gzip pprof appended to out, of at most max_buckets buckets (0:
 * the default); beyond them the profile holds the newest, says so in a comment, and
 * *partial is set. With force, a process whose MemProfileRate is 0 gets the default
 * rate first (its profile then holds what was sampled since, usually little). info is
 * filled in either case. Returns 0, -ENOENT (not a Go process), -ENOTSUP (unsupported,
 * reason in info), -EAGAIN (MemProfileRate is 0 and force not given), -ESRCH (gone),
 * or -errno; out is then as it was.
 */
int goheap_read_pid(const char *proc_root, int pid, int force, size_t max_buckets,
		    struct goproc_info *info, int *partial, struct buf *out);

/* Lists the Go processes under proc_root as node_profiler_list would, without reading
 * their heaps (ps): a process with more than max_buckets heap buckets (0: the default)
 * is listed as partial. Calls fn for each; returns the number listed or -errno. */
int goheap_ps(const char *proc_root, enum goheap_mode mode, size_t max_buckets,
	      int (*fn)(void *ctx, const struct goproc_info *info), void *ctx);

#endif
