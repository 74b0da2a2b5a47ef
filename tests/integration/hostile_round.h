/*
 * The hostile scrape round of tests/integration/scrape_memory.c and
 * tests/bench/scrape_memory.c: `podprof cluster --once` over a healthy Go service
 * (tests/go/pprofsrv, newest toolchain) and, beside it, six hostile servers
 * (tests/tools/hostile_pprof.py: slowloris, endless body, gzip bomb, HTML page, redirect
 * loop, a server that never answers), with podprof's peak resident memory (VmHWM, as
 * wait4 reports it when the process ends) and where its log and profiles went.
 */
#ifndef PODPROF_TEST_HOSTILE_ROUND_H
#define PODPROF_TEST_HOSTILE_ROUND_H

#include <sys/types.h>

#include "common.h"

/* Whether this build (and so podprof's) runs under AddressSanitizer, whose redzones,
 * shadow and quarantine count as resident memory of the process. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* The servers of the rounds. */
struct hostile_round {
	char *dir;
	pid_t hostile_pid, healthy_pid;
	struct buf ports; /* the hostile server's "MODE PORT" lines */
	int healthy_port;
};

/* What one round did. */
struct round_result {
	int status;   /* podprof's exit status */
	long hwm_kb;  /* its peak resident memory */
	char log[700], out[700]; /* its log, its output directory */
};

/* Starts the servers under a new temporary directory. Returns 0, -ENOENT when there is
 * no Go toolchain or no pprofsrv build (a reason to skip), or another negative errno. */
int hostile_round_start(struct hostile_round *h, const char *tag);
/* Stops the servers and removes the directory (unless PODPROF_KEEP_TEST_DIRS is set). */
void hostile_round_stop(struct hostile_round *h);
/* The URL of the hostile mode's server ("http://127.0.0.1:PORT"), into out. 0 or -ENOENT. */
int hostile_round_url(const struct hostile_round *h, const char *mode, char *out, size_t len);

/* Runs `podprof cluster --once` over the healthy target and, when with_hostile, the six
 * hostile ones (service names "healthy" and "hostile-MODE"), with extra arguments
 * (NULL-terminated, may be NULL), waiting for it at most timeout_s seconds (then it is
 * killed). name names the run's log and output directory. Returns 0 or -errno. */
int hostile_round_run(struct hostile_round *h, const char *name, int with_hostile,
		      const char *const *extra, int timeout_s, struct round_result *r);

/* In a sanitizer build, makes the podprof processes started from now on keep a small
 * quarantine of freed memory (AddressSanitizer's default, 256 MiB, would count as
 * theirs in a memory check). */
void hostile_round_small_quarantine(void);

/* Profiles of a kind ("cpu", "heap", ...) that a round wrote for a service. */
int hostile_round_profiles(const struct round_result *r, const char *service, const char *kind);

#endif
