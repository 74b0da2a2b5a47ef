/*
 * Helpers shared by podprof's C tests: temporary directories, files, child processes,
 * HTTP requests, free ports, the installed Go toolchains and `go tool pprof`.
 * Paths of the source tree, the build tree and the Go program cache come from CMake.
 */
#ifndef PODPROF_TEST_SUPPORT_H
#define PODPROF_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

/* Path to the podprof binary under test. */
const char *test_podprof_bin(void);
const char *test_source_dir(void);
const char *test_binary_dir(void);
/* Directory where tests/go/build.sh caches Go test programs. */
const char *test_go_cache_dir(void);
/* How much slower than normal the test runs (PODPROF_TEST_TIME_SCALE, 1 to 100; set
 * by scripts/valgrind.sh): a test whose checks are timed multiplies its times by it. */
int test_time_scale(void);

/* Creates a fresh temporary directory (caller frees the string). Aborts on failure. */
char *test_tmpdir(const char *tag);
/* Removes a directory tree (best effort). */
void test_rmtree(const char *path);
/* Writes/reads a whole file. Return 0 or -errno. */
int test_write_file(const char *path, const void *data, size_t len);
/* Copies src to dst (mode 0755), then overwrites len bytes at offset off with data.
 * 0, -EINVAL when they lie past the end, or -errno. */
int test_patched_copy(const char *src, const char *dst, uint64_t off, const void *data,
		      size_t len);
int test_read_file(const char *path, struct buf *out);

/* Runs "sh -c cmd", appending its stdout (and stderr when with_stderr) to out when out is
 * non-NULL. Returns the exit status (0..255), 128+signal, or -errno. */
int test_sh(const char *cmd, struct buf *out, int with_stderr);

/* Starts argv[0] with argv (envp NULL = inherit), stdout+stderr appended to log_path
 * (NULL = inherit). Returns the pid or -errno. */
pid_t test_spawn(char *const argv[], char *const envp[], const char *log_path);

/*
 * Moves this process (and so every process it starts from now on) into a network
 * namespace of its own where only loopback exists: nothing it starts can send a packet
 * off the machine. Returns 1 when isolated, 0 when not (not root, or
 * PODPROF_TEST_HOST_NETWORK set). Call it before starting threads.
 */
int test_net_isolate(void);
/* Packets the kernel of this network namespace could not route, IPv4 and IPv6
 * (OutNoRoutes): in an isolated namespace, every attempt to reach an address outside
 * 127.0.0.0/8 and ::1. */
long long test_net_no_routes(void);
/* For a program with a main of its own (the benchmarks): with isolated (from
 * test_net_isolate) and the count at its start, says "FAIL: ..." on stdout and returns
 * 1 when packets tried to leave since, else 0. */
int test_net_escaped(int isolated, long long before);
/* Waits up to timeout_ms for pid to exit; returns its exit status (128+sig when killed),
 * or -ETIMEDOUT. */
int test_wait(pid_t pid, int timeout_ms);
/* SIGTERM, then SIGKILL after grace_ms; reaps. Returns the exit status. */
int test_stop(pid_t pid, int grace_ms);

/* Waits up to timeout_ms for path to exist. 0 or -ETIMEDOUT. */
int test_wait_file(const char *path, int timeout_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int test_free_port(void);
/* Waits until something accepts connections on 127.0.0.1:port. 0 or -ETIMEDOUT. */
int test_wait_port(int port, int timeout_ms);
/* GET url with libcurl; body appended to out (may be NULL). Returns the HTTP status, or
 * a negative value when no response came. */
int test_http_get(const char *url, struct buf *out);

/* A struct buf_pool with a limit that counts what its buffers hold, for the tests of
 * memory drawn from a pool: takes past the limit are refused with -ENOBUFS. */
struct test_pool {
	struct buf_pool pool;
	size_t held, limit, takes;
};
void test_pool_init(struct test_pool *p, size_t limit);

/* The installed Go toolchains (/usr/lib/go-1.NN/bin/go), oldest first. The array and the
 * strings are static. Returns the count. */
size_t test_go_toolchains(const char *const **out);
/* The newest installed go binary, or NULL. */
const char *test_go_newest(void);
/* "go1.NN" of the newest installed toolchain (go1.0 when there is none), in ver. */
const char *test_go_newest_version(char *ver, size_t len);
/* The value of the first line of Prometheus text that starts with prefix, or -1. */
double test_metric_value(const char *text, const char *prefix);
/* Runs argv to its end as test_spawn does; returns its exit status (128+signal), or -1,
 * with its peak RSS in KiB and its wall time in ns (each pointer may be NULL). */
int test_run_measured(char *const argv[], const char *log_path, long *maxrss_kib, int64_t *ns);
/* Runs `go tool pprof -raw file` with the newest toolchain; output appended to out.
 * Returns the exit status. */
int test_pprof_raw(const char *file, struct buf *out);

#endif
