/*
 * Helpers of the fault-injection and security tests: podprof's roles as processes that
 * are stopped, killed and restarted over one spool, the peers they talk to (Go targets
 * on fixed ports, a private /proc of chosen processes), a thread that samples the
 * resident memory of the podprof processes every 100 ms, file descriptor and thread
 * counts, and the accounting of every profile podprof accepted: the bodies written to
 * the output directory (the directory sink writes exactly the bytes it queues for
 * Coroot) against what the fake Coroot receiver recorded and what is left in the spool.
 */
#ifndef PODPROF_TEST_FAULT_COMMON_H
#define PODPROF_TEST_FAULT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

#define FC_MAX_ARGS 64

/* A podprof role (node or cluster) run as a process, possibly several times. */
struct fc_role {
	const char *name;          /* "node", "cluster": also the log's name */
	char dir[512];             /* its own directory */
	char spool[600];           /* <dir>/spool */
	char out[600];             /* <dir>/out: the output directory (ground truth) */
	char log[600];             /* <dir>/<name>.log, appended to by every run */
	char listen[64];           /* 127.0.0.1:<port> */
	char metrics_url[96];
	char *argv[FC_MAX_ARGS];   /* podprof <name> ..., NULL-terminated */
	char **envp;               /* NULL: inherit */
	pid_t pid;                 /* running process, or -1 */
	int runs;                  /* processes started so far */
	int kills;                 /* of which SIGKILLed */
	/* from the uploader's final log line of every graceful stop, and from /metrics
	 * read just before every SIGKILL */
	long dropped;              /* profiles dropped, every reason */
	long dropped_spool_full;
	long delivered;            /* delivered according to podprof */
	long lost_bound;           /* what each SIGKILL may have lost from memory, summed */
};

/* Prepares r (directories, base arguments: role name, --listen, --spool-dir,
 * --output-dir); more arguments with fc_role_arg. dir_base: a test directory. */
void fc_role_init(struct fc_role *r, const char *name, const char *dir_base);
/* Appends one argument (copied). */
void fc_role_arg(struct fc_role *r, const char *arg);
/* Starts a run and waits until /healthz answers. 0 or -errno. */
int fc_role_start(struct fc_role *r);
/* SIGTERM, waits for the exit and takes the counts of the uploader's final log line.
 * Returns the exit status, or -1 when the run logged no final line. */
int fc_role_stop(struct fc_role *r);
struct fc_bodies;
/* Reads /metrics (the counts of this run so far), freezes the process (SIGSTOP), adds
 * the bodies in its spool to *spooled (may be NULL), and SIGKILLs it. 0 or -errno. */
int fc_role_kill(struct fc_role *r, struct fc_bodies *spooled);
/* GET /metrics or another page of the running process; HTTP status. */
int fc_role_get(struct fc_role *r, const char *path, struct buf *out);
/* A series of the running process's /metrics, or -1. */
double fc_role_metric(struct fc_role *r, const char *series);
/* Waits up to ms until the running process's spool is empty (nonempty 0: everything
 * delivered) or holds profiles (nonempty 1: the memory queue overflowed). 0 or
 * -ETIMEDOUT (said on stderr). */
int fc_role_wait_spool(struct fc_role *r, int nonempty, int ms);
/* The sum of every series of a metric family (name without labels), or -1. */
double fc_prom_sum(const char *text, const char *family);
/* Frees the arguments; with rm, removes the directory. Stops a running process. */
void fc_role_free(struct fc_role *r, int rm);

/* Resident memory sampling: slot 0..3 watch a pid each (0 = none); a thread reads
 * VmRSS of every watched pid every 100 ms and keeps the largest value per slot. */
void fc_monitor_start(void);
void fc_monitor_watch(int slot, pid_t pid);
long fc_monitor_max_kib(int slot);
long fc_monitor_samples(void);
void fc_monitor_stop(void);

/* Open descriptors and threads of pid, or -1. */
int fc_count_fds(pid_t pid);
int fc_count_threads(pid_t pid);
/* Prints each open descriptor of pid on stderr, one line each: what it points at, and
 * for a TCP socket its local and remote port and state (from /proc/<pid>/net/tcp*). */
void fc_print_fds(pid_t pid, const char *title);
/* The least and the most of both over ms milliseconds, sampled every 100 ms. */
struct fc_range {
	int fd_min, fd_max, thr_min, thr_max;
};
void fc_sample_range(pid_t pid, int ms, struct fc_range *out);

/* A multiset of profile bodies, by a 64-bit hash of their bytes. */
struct fc_bodies {
	uint64_t *h;
	size_t n, cap;
};
void fc_bodies_add(struct fc_bodies *b, const void *data, size_t len);
void fc_bodies_free(struct fc_bodies *b);
/* Adds every body of src to dst. */
void fc_bodies_merge(struct fc_bodies *dst, const struct fc_bodies *src);
/* Adds the bodies of every *.pb.gz file under dir (recursively). 0 or -errno. */
int fc_bodies_from_dir(struct fc_bodies *b, const char *dir);
/* How many profile bodies the directory (searched as fc_bodies_from_dir) holds. */
long fc_files_in(const char *dir);
/* Adds the bodies of every spool file in dir (their header removed). */
int fc_bodies_from_spool(struct fc_bodies *b, const char *dir);
/* Adds the bodies a fake Coroot receiver recorded in record_dir whose X-Api-Key
 * header is api_key (NULL: every one). */
int fc_bodies_from_receiver(struct fc_bodies *b, const char *record_dir, const char *api_key);

/* What became of the accepted profiles. */
struct fc_account {
	long accepted;    /* bodies in the output directory */
	long delivered;   /* of them received at least once */
	long duplicates;  /* receptions beyond the first */
	long spooled;     /* not received, still in the spool */
	long missing;     /* neither received nor spooled */
	long unknown;     /* received, but never accepted: must not happen */
};
void fc_account(const struct fc_bodies *accepted, const struct fc_bodies *received,
		const struct fc_bodies *spooled, struct fc_account *a);
/* How many bodies of sub are found in b (as a multiset). */
long fc_bodies_found(const struct fc_bodies *sub, const struct fc_bodies *b);

/* A private proc root: a directory with a link <pid> -> /proc/<pid> per chosen
 * process, so that the node role sees only the test's processes. */
void fc_proc_link(const char *root, pid_t pid);
void fc_proc_unlink(const char *root, pid_t pid);

/* Starts a Go test program of the newest toolchain (build/go-programs/go1.NN/<prog>)
 * with arguments (NULL-terminated). Returns the pid or -errno. */
pid_t fc_go_spawn(const char *prog, const char *const *args, const char *log);
/* Starts tests/go/pprofsrv on 127.0.0.1:port (light load) and waits for the port. */
pid_t fc_pprofsrv(int port, const char *log);

/* Kills pid at exit if it is still a running child then (a failed check leaves a
 * test early). fc_role_start and fc_go_spawn track their processes. */
void fc_track(pid_t pid);

/* Lines of log (a file) containing needle. */
int fc_log_count(const char *log_path, const char *needle);

#endif
