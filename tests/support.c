/*
 * Implementation of the test helpers. Simple and blocking: tests are not hot paths.
 */
#include "support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_podprof_bin(void)
{
	const char *env = getenv("PODPROF_BIN");
	return env && *env ? env : PODPROF_TEST_BIN;
}

const char *test_source_dir(void)
{
	return PODPROF_TEST_SOURCE_DIR;
}

const char *test_binary_dir(void)
{
	return PODPROF_TEST_BINARY_DIR;
}

const char *test_go_cache_dir(void)
{
	return PODPROF_TEST_GO_CACHE;
}

char *test_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/podprof-%s-XXXXXX", base, tag) < 0 || !mkdtemp(path)) {
		perror("test_tmpdir");
		abort();
	}
	return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : 0;
}

void test_rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(data, 1, len, f) == len;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -EIO;
}

int test_read_file(const char *path, struct buf *out)
{
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");
	int r = 0;

	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = buf_append(out, chunk, n);
		if (r)
			break;
	}
	fclose(f);
	return r;
}

int test_sh(const char *cmd, struct buf *out, int with_stderr)
{
	char *full;
	char chunk[4096];
	size_t n;
	FILE *p;
	int st;

	if (asprintf(&full, "%s%s", cmd, with_stderr ? " 2>&1" : "") < 0)
		return -ENOMEM;
	p = popen(full, "r");
	free(full);
	if (!p)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		if (out)
			buf_append(out, chunk, n);
	st = pclose(p);
	if (st < 0)
		return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

pid_t test_spawn(char *const argv[], char *const envp[], const char *log_path)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* a test that fails leaves early, perhaps without stopping what it started:
		 * its children die with it, instead of holding ctest's output pipe open
		 * until the test's timeout */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		if (log_path) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		if (envp)
			execve(argv[0], argv, envp);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int test_wait(pid_t pid, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return decode_status(st);
		if (r < 0)
			return -errno;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

int test_stop(pid_t pid, int grace_ms)
{
	int r;

	kill(pid, SIGTERM);
	r = test_wait(pid, grace_ms);
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		r = test_wait(pid, 5000);
	}
	return r;
}

int test_wait_file(const char *path, int timeout_ms)
{
	struct stat st;
	for (int t = 0; t <= timeout_ms; t += 20) {
		if (stat(path, &st) == 0)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

int test_time_scale(void)
{
	const char *v = getenv("PODPROF_TEST_TIME_SCALE");
	int k = v ? atoi(v) : 1;

	return k < 1 ? 1 : k > 100 ? 100 : k;
}

int test_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int test_wait_port(int port, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	if (b && buf_append(b, p, size * n))
		return 0;
	return size * n;
}

int test_http_get(const char *url, struct buf *out)
{
	CURL *c = curl_easy_init();
	long status = -1;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return (int)status;
}

static int version_cmp(const void *a, const void *b)
{
	const char *sa = *(const char *const *)a, *sb = *(const char *const *)b;
	return strverscmp(sa, sb);
}

size_t test_go_toolchains(const char *const **out)
{
	static char *paths[32];
	static size_t n;
	static int done;

	if (!done) {
		glob_t g;
		done = 1;
		if (glob("/usr/lib/go-1.*/bin/go", 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && n < 32; i++)
				paths[n++] = strdup(g.gl_pathv[i]);
			globfree(&g);
		}
		qsort(paths, n, sizeof(paths[0]), version_cmp);
	}
	*out = (const char *const *)paths;
	return n;
}

const char *test_go_newest(void)
{
	const char *const *list;
	size_t n = test_go_toolchains(&list);
	return n ? list[n - 1] : NULL;
}

const char *test_go_newest_version(char *ver, size_t len)
{
	const char *go = test_go_newest();
	const char *p = go ? strstr(go, "go-1.") : NULL;

	snprintf(ver, len, "go1.%d", p ? atoi(p + 5) : 0);
	return ver;
}

double test_metric_value(const char *text, const char *prefix)
{
	const char *p = text;

	while (p && (p = strstr(p, prefix)) != NULL) {
		if (p == text || p[-1] == '\n')
			return atof(p + strlen(prefix));
		p++;
	}
	return -1;
}

int test_run_measured(char *const argv[], const char *log_path, long *maxrss_kib, int64_t *ns)
{
	struct rusage ru;
	int64_t t0 = time_mono_ns();
	int st = 0;
	pid_t pid = test_spawn(argv, NULL, log_path);

	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid)
		return -1;
	if (ns)
		*ns = time_mono_ns() - t0;
	if (maxrss_kib)
		*maxrss_kib = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int test_pprof_raw(const char *file, struct buf *out)
{
	const char *go = test_go_newest();
	char *cmd;
	int r;

	if (!go)
		return -ENOENT;
	if (asprintf(&cmd, "HOME=${HOME:-/tmp} GOTOOLCHAIN=local GOFLAGS= %s tool pprof -raw '%s'",
		     go, file) < 0)
		return -ENOMEM;
	r = test_sh(cmd, out, 1);
	free(cmd);
	return r;
}

/* Copies a file, then overwrites len bytes at offset with data. */
int test_patched_copy(const char *src, const char *dst, uint64_t off, const void *data,
		      size_t len)
{
	struct buf b;
	int r;
	buf_init(&b, 0);
	r = test_read_file(src, &b);
	if (!r && off + len <= b.len)
		memcpy(b.data + off, data, len);
	else if (!r)
		r = -EINVAL;
	if (!r)
		r = test_write_file(dst, b.data, b.len);
	chmod(dst, 0755);
	buf_free(&b);
	return r;
}

int test_net_isolate(void)
{
	struct ifreq ifr;
	int fd, ok;

	if (getenv("PODPROF_TEST_HOST_NETWORK") || geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNET) != 0) {
		perror("test_net_isolate: unshare(CLONE_NEWNET)");
		return 0;
	}
	/* a new namespace's loopback is down */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		fprintf(stderr, "test_net_isolate: cannot bring up loopback in the test's network "
				"namespace\n");
		exit(2);
	}
	return 1;
}

long long test_net_no_routes(void)
{
	char names[1024], values[1024], key[64];
	long long total = 0, v;
	FILE *f = fopen("/proc/self/net/snmp", "r");

	/* pairs of lines: "Ip: <names>" then "Ip: <values>" */
	while (f && fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *ns, *vs, *n = strtok_r(names, " \n", &ns), *x = strtok_r(values, " \n", &vs);
		if (!n || strcmp(n, "Ip:") != 0)
			continue;
		while ((n = strtok_r(NULL, " \n", &ns)) && (x = strtok_r(NULL, " \n", &vs)))
			if (strcmp(n, "OutNoRoutes") == 0)
				total += atoll(x);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/net/snmp6", "r");
	while (f && fscanf(f, "%63s %lld", key, &v) == 2)
		if (strcmp(key, "Ip6OutNoRoutes") == 0)
			total += v;
	if (f)
		fclose(f);
	return total;
}

int test_net_escaped(int isolated, long long before)
{
	long long n = isolated ? test_net_no_routes() - before : 0;

	if (n <= 0)
		return 0;
	printf("FAIL: %lld packets were sent to addresses outside 127.0.0.0/8 and ::1 "
	       "(refused: only loopback exists here)\n", n);
	return 1;
}

static int test_pool_take(struct buf_pool *pool, size_t n)
{
	struct test_pool *p = (struct test_pool *)(void *)pool;

	if (n > p->limit - p->held)
		return -ENOBUFS;
	p->held += n;
	p->takes++;
	return 0;
}

static void test_pool_give(struct buf_pool *pool, size_t n)
{
	((struct test_pool *)(void *)pool)->held -= n;
}

void test_pool_init(struct test_pool *p, size_t limit)
{
	p->pool.take = test_pool_take;
	p->pool.give = test_pool_give;
	p->held = p->takes = 0;
	p->limit = limit;
}
