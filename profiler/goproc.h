/*
 * One Go process as the node side sees it: identity (pid, start time, executable),
 * the shared per-binary knowledge, load bias, container, opt-out, and the heap read
 * with the checks around it (exit or exec during the read, MemProfileRate, force
 * mode's single guarded write).
 */
#ifndef PODPROF_GOPROC_H
#define PODPROF_GOPROC_H

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "gobin.h"
#include "heapread.h"
#include "profiler.h"
#include "symbolize.h"

/* Per-binary knowledge shared by the processes running it (device + inode). */
struct bincache;
struct binentry {
	dev_t dev;
	ino_t ino;
	struct gobin *bin;       /* NULL when not a Go binary */
	struct symcache *syms;   /* NULL unless bin is supported */
	int refs;
	struct binentry *next;
};

struct bincache *bincache_new(void);
void bincache_free(struct bincache *c);
/* Looks up or loads the binary of pid (through <proc_root>/<pid>/exe). The entry is
 * referenced; release it with bincache_put. Returns 0 or -errno (-ENOENT: no exe, e.g.
 * a kernel thread). */
int bincache_get(struct bincache *c, const char *proc_root, int pid, dev_t dev, ino_t ino,
		 struct binentry **out);
void bincache_put(struct bincache *c, struct binentry *e);
/* Binaries cached, and symbol-cache entries over all of them. */
size_t bincache_count(const struct bincache *c);
size_t bincache_symbols(const struct bincache *c);

/* Identity of a process now: start time (clock ticks, from /proc/<pid>/stat), state
 * and its executable's device/inode. Returns 0, -ESRCH or -errno. */
struct proc_identity {
	uint64_t starttime;
	char state;
	dev_t dev;
	ino_t ino;
};
int proc_identity_read(const char *proc_root, int pid, struct proc_identity *id);

/* Parses the content of /proc/<pid>/stat: the start time and state. -EINVAL when
 * malformed. (The command name may hold spaces and parentheses.) */
int proc_stat_parse(const char *content, size_t len, uint64_t *starttime, char *state);
/* The unsigned decimal field n (1-based, as proc(5) numbers them; n >= 3) of the same
 * text. -EINVAL when missing, negative or not a number. */
int proc_stat_u64(const char *content, size_t len, int n, uint64_t *out);

/* 1 when pid's environment has COROOT_EBPF_PROFILING=disabled, 0 when it has not, a
 * negative errno when it cannot be read (from /proc/<pid>/environ, or else from the
 * process's memory): the caller must not take that as "not opted out". */
int proc_opted_out(const char *proc_root, int pid);

/* The load bias of the binary in the process (runtime minus link-time address), from
 * its mappings. Returns 0 or -ENOENT. */
int proc_load_bias(const struct procmem *m, const struct gobin *b, uint64_t *bias);

/* Marks info partial: its heap read stopped at the bucket bound, after nbuckets. */
void goproc_mark_partial(struct goproc_info *info, size_t nbuckets);

/*
 * Walks the heap buckets of a process whose identity was id (heap_walk: fn for each
 * bucket, within lim, what was seen in *info), and checks afterwards that the same
 * process still runs the same binary: an exec or exit during the read gives -ESRCH,
 * and what fn was given must then be discarded. In force mode, a MemProfileRate of 0 at
 * a validated address is set to GOHEAP_FORCE_RATE once (*forced is set); a process with
 * rate 0 otherwise gives -EAGAIN before any bucket is read. Returns 0 or a negative
 * errno, with a reason in reason when useful.
 */
int goproc_read_heap(const char *proc_root, int pid, const struct proc_identity *id,
		     const struct gobin *b, int force, int *forced, uint64_t *bias,
		     const struct heap_limits *lim, heap_bucket_fn fn, void *ctx,
		     struct heap_walk_info *info, int64_t *rate, char *reason, size_t reasonlen);

#endif
