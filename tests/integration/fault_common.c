/*
 * Helpers of the fault-injection and security tests (see fault_common.h).
 */
#include "fault_common.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "uploader_fake.h"

/* ---- children left behind ------------------------------------------------------------ */

/* A failed CHECK leaves the test early: every child started here is killed at exit.
 * Only a running child of ours is killed, so a pid can never belong to a stranger;
 * nothing here reaps (WNOWAIT), the tests do. */
static pid_t tracked[128];

/* 1: pid is our child and runs; 0: it ended (zombie); -1: not our child (reaped). */
static int child_state(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return -1;
	return si.si_pid == 0 ? 1 : 0;
}

static void kill_leftovers(void)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++) {
		if (tracked[i] > 0 && child_state(tracked[i]) == 1) {
			kill(tracked[i], SIGCONT);
			kill(tracked[i], SIGKILL);
			waitpid(tracked[i], NULL, 0);
		}
		tracked[i] = 0;
	}
}

void fc_track(pid_t pid)
{
	static int registered;

	if (pid <= 0)
		return;
	if (!registered) {
		atexit(kill_leftovers);
		registered = 1;
	}
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++) {
		if (tracked[i] <= 0 || child_state(tracked[i]) < 0) {
			tracked[i] = pid;
			return;
		}
	}
}

/* ---- podprof roles ------------------------------------------------------------------ */

void fc_role_init(struct fc_role *r, const char *name, const char *dir_base)
{
	int port = test_free_port();

	memset(r, 0, sizeof(*r));
	r->name = name;
	r->pid = -1;
	snprintf(r->dir, sizeof(r->dir), "%s/%s", dir_base, name);
	mkdir(r->dir, 0755);
	snprintf(r->spool, sizeof(r->spool), "%s/spool", r->dir);
	snprintf(r->out, sizeof(r->out), "%s/out", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/%s.log", r->dir, name);
	snprintf(r->listen, sizeof(r->listen), "127.0.0.1:%d", port);
	snprintf(r->metrics_url, sizeof(r->metrics_url), "http://127.0.0.1:%d/metrics", port);
	fc_role_arg(r, test_podprof_bin());
	fc_role_arg(r, name);
	fc_role_arg(r, "--listen");
	fc_role_arg(r, r->listen);
	fc_role_arg(r, "--spool-dir");
	fc_role_arg(r, r->spool);
	fc_role_arg(r, "--output-dir");
	fc_role_arg(r, r->out);
}

void fc_role_arg(struct fc_role *r, const char *arg)
{
	size_t n = 0;

	while (r->argv[n])
		n++;
	if (n + 1 >= FC_MAX_ARGS)
		abort();
	r->argv[n] = strdup(arg);
}

int fc_role_get(struct fc_role *r, const char *path, struct buf *out)
{
	char url[256];

	snprintf(url, sizeof(url), "http://%s%s", r->listen, path);
	return test_http_get(url, out);
}

int fc_role_start(struct fc_role *r)
{
	char mark[128];
	int fd;

	/* a line in the log between runs, so that each run's lines can be told apart */
	snprintf(mark, sizeof(mark), "=== run %d\n", r->runs + 1);
	fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		if (write(fd, mark, strlen(mark)) < 0)
			perror("write");
		close(fd);
	}
	r->pid = test_spawn(r->argv, r->envp, r->log);
	if (r->pid < 0)
		return r->pid;
	fc_track(r->pid);
	r->runs++;
	for (int t = 0; t < 300; t++) {
		if (fc_role_get(r, "/healthz", NULL) == 200)
			return 0;
		if (test_wait(r->pid, 0) != -ETIMEDOUT) {
			fprintf(stderr, "  podprof %s exited at start; see %s\n", r->name, r->log);
			r->pid = -1;
			return -EIO;
		}
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* The text of the log since the last "=== run" mark. */
static char *last_run_log(const struct fc_role *r)
{
	struct buf b;
	char *p, *q, *res;

	buf_init(&b, 0);
	test_read_file(r->log, &b);
	p = b.data ? b.data : "";
	while ((q = strstr(p, "=== run ")) != NULL && strstr(q + 1, "=== run "))
		p = strstr(q + 1, "=== run ");
	res = strdup(p);
	buf_free(&b);
	return res;
}

int fc_role_stop(struct fc_role *r)
{
	unsigned long delivered, written, dropped;
	const char *line, *p;
	char *text;
	long full;
	int st;

	if (r->pid <= 0)
		return -1;
	st = test_stop(r->pid, 30000);
	r->pid = -1;
	text = last_run_log(r);
	line = NULL;
	for (p = text; (p = strstr(p, "stopped: ")) != NULL; p++)
		line = p;
	if (!line || sscanf(line, "stopped: %lu profiles delivered, %lu written, %lu dropped",
			    &delivered, &written, &dropped) != 3) {
		/* only an uploader with an endpoint logs it */
		int http = 0;
		for (size_t i = 0; r->argv[i]; i++)
			http |= strcmp(r->argv[i], "--profiles-endpoint") == 0;
		free(text);
		if (!http)
			return st;
		fprintf(stderr, "  podprof %s: no final uploader line (exit %d)\n", r->name, st);
		return -1;
	}
	{
		const char *eol = strchr(line, '\n'), *f = strstr(line, "spool_full=");
		full = f && (!eol || f < eol) ? strtol(f + strlen("spool_full="), NULL, 10) : 0;
	}
	r->delivered += (long)delivered;
	r->dropped += (long)dropped;
	r->dropped_spool_full += full > 0 ? full : 0;
	free(text);
	return st;
}

double fc_prom_sum(const char *text, const char *family)
{
	size_t n = strlen(family);
	double sum = -1;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *v;
		if (strncmp(p, family, n) != 0 || (p[n] != '{' && p[n] != ' '))
			continue;
		v = p[n] == '{' ? strstr(p, "} ") : p + n;
		if (!v)
			continue;
		sum = (sum < 0 ? 0 : sum) + atof(v + (p[n] == '{' ? 2 : 1));
	}
	return sum;
}

double fc_role_metric(struct fc_role *r, const char *series)
{
	struct buf b;
	double v = -1;

	buf_init(&b, 0);
	if (fc_role_get(r, "/metrics", &b) == 200)
		v = prom_value(b.data, series);
	buf_free(&b);
	return v;
}

long fc_files_in(const char *dir)
{
	struct fc_bodies b = {0};
	long n;

	fc_bodies_from_dir(&b, dir);
	n = (long)b.n;
	fc_bodies_free(&b);
	return n;
}

int fc_role_kill(struct fc_role *r, struct fc_bodies *spooled)
{
	struct buf m;
	long before, after;
	double q, d, ok;
	int st;

	if (r->pid <= 0)
		return -EINVAL;
	buf_init(&m, 0);
	before = fc_files_in(r->out);
	if (fc_role_get(r, "/metrics", &m) != 200) {
		buf_free(&m);
		return -EIO;
	}
	kill(r->pid, SIGSTOP);
	after = fc_files_in(r->out);
	if (spooled)
		fc_bodies_from_spool(spooled, r->spool);
	q = prom_value(m.data, "podprof_upload_queue_length");
	d = fc_prom_sum(m.data, "podprof_upload_dropped_total");
	ok = prom_value(m.data, "podprof_uploads_total{sink=\"coroot\",result=\"success\"}");
	r->dropped += d > 0 ? (long)d : 0;
	r->delivered += ok > 0 ? (long)ok : 0;
	/* what can be lost: the memory queue at the read, what was submitted between the
	 * read and the freeze (the directory sink writes a profile before the queue takes
	 * it), and + 1: one written before the first count and queued after the read (a
	 * producer submits one at a time) */
	r->lost_bound += (q > 0 ? (long)q : 0) + (after - before) + 1;
	buf_free(&m);
	kill(r->pid, SIGKILL);
	st = test_wait(r->pid, 10000);
	r->pid = -1;
	r->kills++;
	return st == 128 + SIGKILL ? 0 : -EIO;
}

void fc_role_free(struct fc_role *r, int rm)
{
	if (r->pid > 0)
		test_stop(r->pid, 10000);
	r->pid = -1;
	for (size_t i = 0; i < FC_MAX_ARGS && r->argv[i]; i++) {
		free(r->argv[i]);
		r->argv[i] = NULL;
	}
	if (rm && !getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(r->dir);
}

/* ---- resource monitor ------------------------------------------------------------- */

#define FC_SLOTS 4

static struct {
	pthread_t thread;
	atomic_int running;
	_Atomic pid_t pid[FC_SLOTS];
	_Atomic long max_kib[FC_SLOTS];
	atomic_long samples;
} mon;

static void *monitor_main(void *arg)
{
	(void)arg;
	while (atomic_load(&mon.running)) {
		for (int i = 0; i < FC_SLOTS; i++) {
			pid_t pid = atomic_load(&mon.pid[i]);
			long kib;
			if (pid <= 0)
				continue;
			kib = test_proc_kb(pid, "VmRSS");
			if (kib > atomic_load(&mon.max_kib[i]))
				atomic_store(&mon.max_kib[i], kib);
		}
		atomic_fetch_add(&mon.samples, 1);
		usleep(100000);
	}
	return NULL;
}

void fc_monitor_start(void)
{
	for (int i = 0; i < FC_SLOTS; i++) {
		atomic_store(&mon.pid[i], 0);
		atomic_store(&mon.max_kib[i], 0);
	}
	atomic_store(&mon.samples, 0);
	atomic_store(&mon.running, 1);
	if (pthread_create(&mon.thread, NULL, monitor_main, NULL) != 0)
		abort();
}

void fc_monitor_watch(int slot, pid_t pid)
{
	atomic_store(&mon.pid[slot], pid);
}

long fc_monitor_max_kib(int slot)
{
	return atomic_load(&mon.max_kib[slot]);
}

long fc_monitor_samples(void)
{
	return atomic_load(&mon.samples);
}

void fc_monitor_stop(void)
{
	if (!atomic_load(&mon.running))
		return;
	atomic_store(&mon.running, 0);
	pthread_join(mon.thread, NULL);
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int fc_count_fds(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return count_entries(path);
}

int fc_count_threads(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return count_entries(path);
}

int fc_role_wait_spool(struct fc_role *r, int nonempty, int ms)
{
	for (int t = 0; t < ms; t += 200) {
		double files = fc_role_metric(r, "podprof_upload_spool_files");

		if (nonempty ? files > 0 : files == 0)
			return 0;
		usleep(200000);
	}
	fprintf(stderr, "  %s: %s in %d ms\n", r->name,
		nonempty ? "nothing reached the spool" : "the spool was not emptied", ms);
	return -ETIMEDOUT;
}

/* Finds the TCP socket of inode in one /proc/<pid>/net/tcp* table; 0 when found. */
static int tcp_ports(pid_t pid, const char *table, unsigned long inode, unsigned *lport,
		     unsigned *rport, unsigned *state)
{
	char path[64], line[512];
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, table);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (r != 0 && fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned long ino;
		char *c;

		if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, state,
			   &ino) != 4 ||
		    ino != inode)
			continue;
		c = strrchr(local, ':');
		*lport = c ? (unsigned)strtoul(c + 1, NULL, 16) : 0;
		c = strrchr(remote, ':');
		*rport = c ? (unsigned)strtoul(c + 1, NULL, 16) : 0;
		r = 0;
	}
	fclose(f);
	return r;
}

void fc_print_fds(pid_t pid, const char *title)
{
	char path[64];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	fprintf(stderr, "  descriptors of %d (%s):\n", (int)pid, title);
	while ((de = readdir(d)) != NULL) {
		char link[320], target[256];
		unsigned long inode;
		unsigned lp = 0, rp = 0, st = 0;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &inode) == 1 &&
		    (tcp_ports(pid, "tcp", inode, &lp, &rp, &st) == 0 ||
		     tcp_ports(pid, "tcp6", inode, &lp, &rp, &st) == 0))
			fprintf(stderr, "    %s -> %s tcp %u -> %u state %u\n", de->d_name, target,
				lp, rp, st);
		else
			fprintf(stderr, "    %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

void fc_sample_range(pid_t pid, int ms, struct fc_range *o)
{
	o->fd_min = o->thr_min = 1 << 30;
	o->fd_max = o->thr_max = -1;
	for (int t = 0; t <= ms; t += 100) {
		int f = fc_count_fds(pid), th = fc_count_threads(pid);
		if (f >= 0 && f < o->fd_min)
			o->fd_min = f;
		if (f > o->fd_max)
			o->fd_max = f;
		if (th >= 0 && th < o->thr_min)
			o->thr_min = th;
		if (th > o->thr_max)
			o->thr_max = th;
		usleep(100000);
	}
}

/* ---- accounting ------------------------------------------------------------------- */

static void push_hash(struct fc_bodies *b, uint64_t h)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		uint64_t *nh = realloc(b->h, ncap * sizeof(*nh));
		if (!nh)
			abort();
		b->h = nh;
		b->cap = ncap;
	}
	b->h[b->n++] = h;
}

void fc_bodies_add(struct fc_bodies *b, const void *data, size_t len)
{
	push_hash(b, hash64(data, len, 0x9e3779b97f4a7c15ull) ^ (uint64_t)len);
}

void fc_bodies_merge(struct fc_bodies *dst, const struct fc_bodies *src)
{
	for (size_t i = 0; i < src->n; i++)
		push_hash(dst, src->h[i]);
}

void fc_bodies_free(struct fc_bodies *b)
{
	free(b->h);
	memset(b, 0, sizeof(*b));
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int walk(struct fc_bodies *b, const char *dir, int spool)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL && !r) {
		char path[4096];
		struct stat st;
		struct buf data;

		if (de->d_name[0] == '.')
			continue; /* ".", "..", ".lock" and unfinished temporary files */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			r = walk(b, path, spool);
			continue;
		}
		if (!S_ISREG(st.st_mode) || !ends_with(de->d_name, spool ? ".spool" : ".pb.gz"))
			continue;
		buf_init(&data, 0);
		if (test_read_file(path, &data) == 0 && data.len) {
			const char *body = data.data;
			size_t len = data.len;
			if (spool) {
				/* the body follows the header's blank line */
				const char *sep = memmem(data.data, data.len, "\n\n", 2);
				if (!sep) {
					buf_free(&data);
					continue;
				}
				body = sep + 2;
				len = data.len - (size_t)(body - data.data);
			}
			fc_bodies_add(b, body, len);
		}
		buf_free(&data);
	}
	closedir(d);
	return r;
}

int fc_bodies_from_dir(struct fc_bodies *b, const char *dir)
{
	return walk(b, dir, 0);
}

int fc_bodies_from_spool(struct fc_bodies *b, const char *dir)
{
	return walk(b, dir, 1);
}

int fc_bodies_from_receiver(struct fc_bodies *b, const char *record_dir, const char *api_key)
{
	char path[4096];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	snprintf(path, sizeof(path), "%s/requests.jsonl", record_dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) > 0) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(j, "file");
		const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(j, "headers");
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(hdr, "x-api-key");
		struct buf data;

		if (!cJSON_IsString(file)) {
			cJSON_Delete(j);
			r = -EBADMSG;
			continue;
		}
		if (api_key && !(cJSON_IsString(key) && strcmp(key->valuestring, api_key) == 0)) {
			cJSON_Delete(j);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", record_dir, file->valuestring);
		buf_init(&data, 0);
		if (test_read_file(path, &data) == 0)
			fc_bodies_add(b, data.data ? data.data : "", data.len);
		else
			r = -EIO;
		buf_free(&data);
		cJSON_Delete(j);
	}
	free(line);
	fclose(f);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void sort_bodies(const struct fc_bodies *b)
{
	if (b->n)
		qsort(b->h, b->n, sizeof(b->h[0]), cmp_u64);
}

/* Occurrences of h in the sorted b. */
static long occurrences(const struct fc_bodies *b, uint64_t h)
{
	size_t lo = 0, hi = b->n;
	long n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->h[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < b->n && b->h[lo] == h) {
		n++;
		lo++;
	}
	return n;
}

void fc_account(const struct fc_bodies *acc, const struct fc_bodies *rcv,
		const struct fc_bodies *sp, struct fc_account *a)
{
	memset(a, 0, sizeof(*a));
	sort_bodies(acc);
	sort_bodies(rcv);
	sort_bodies(sp);
	a->accepted = (long)acc->n;
	for (size_t i = 0; i < acc->n;) {
		uint64_t h = acc->h[i];
		long na = occurrences(acc, h), nr = occurrences(rcv, h), ns = occurrences(sp, h);
		long got = nr < na ? nr : na, rest = na - got;

		a->delivered += got;
		a->duplicates += nr > na ? nr - na : 0;
		a->spooled += ns < rest ? ns : rest;
		a->missing += rest > ns ? rest - ns : 0;
		i += (size_t)na;
	}
	for (size_t i = 0; i < rcv->n; i++)
		if (occurrences(acc, rcv->h[i]) == 0)
			a->unknown++;
}

long fc_bodies_found(const struct fc_bodies *sub, const struct fc_bodies *b)
{
	long n = 0;

	sort_bodies(b);
	for (size_t i = 0; i < sub->n; i++)
		n += occurrences(b, sub->h[i]) > 0;
	return n;
}

/* ---- processes ---------------------------------------------------------------------- */

void fc_proc_link(const char *root, pid_t pid)
{
	char target[64], link[4096];

	mkdir(root, 0755);
	snprintf(target, sizeof(target), "/proc/%d", (int)pid);
	snprintf(link, sizeof(link), "%s/%d", root, (int)pid);
	if (symlink(target, link) != 0 && errno != EEXIST)
		perror("symlink");
}

void fc_proc_unlink(const char *root, pid_t pid)
{
	char link[4096];

	snprintf(link, sizeof(link), "%s/%d", root, (int)pid);
	unlink(link);
}

pid_t fc_go_spawn(const char *prog, const char *const *args, const char *log)
{
	const char *go = test_go_newest(), *p = go ? strstr(go, "go-1.") : NULL;
	char bin[1024];
	char *argv[32];
	pid_t pid;
	int n = 0;

	if (!p)
		return -ENOENT;
	snprintf(bin, sizeof(bin), "%s/go1.%d/%s", test_go_cache_dir(), atoi(p + 5), prog);
	if (access(bin, X_OK) != 0)
		return -ENOENT;
	argv[n++] = bin;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	pid = test_spawn(argv, NULL, log);
	fc_track(pid);
	return pid;
}

pid_t fc_pprofsrv(int port, const char *log)
{
	char ports[16];
	const char *args[] = {"-port",       ports, "-cpu-duty", "0.02", "-alloc-rate", "65536",
			      "-memprofilerate", "4096", NULL};
	pid_t pid;

	snprintf(ports, sizeof(ports), "%d", port);
	pid = fc_go_spawn("pprofsrv-exe", args, log);
	if (pid > 0 && test_wait_port(port, 20000) != 0) {
		test_stop(pid, 2000);
		return -ETIMEDOUT;
	}
	return pid;
}

int fc_log_count(const char *log_path, const char *needle)
{
	struct buf b;
	int n = 0;

	buf_init(&b, 0);
	test_read_file(log_path, &b);
	for (const char *p = b.data; p && (p = strstr(p, needle)) != NULL; p++)
		n++;
	buf_free(&b);
	return n;
}
