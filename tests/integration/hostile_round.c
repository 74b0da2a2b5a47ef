/*
 * The hostile scrape round (see hostile_round.h). The peak resident memory is the one
 * the kernel keeps for the process (ru_maxrss of wait4, VmHWM at its end): sampling
 * /proc while it runs could miss a peak between two samples.
 */
#include "hostile_round.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static const char *const modes[] = {"slowloris", "endless", "bomb", "html", "redirect",
				    "blackhole"};

int hostile_round_start(struct hostile_round *h, const char *tag)
{
	const char *go = test_go_newest(), *v = go ? strstr(go, "go-1.") : NULL;
	char bin[4096], portfile[600], script[4096], log[600];
	char *hargv[4 + ARRAY_SIZE(modes) + 1] = {"/usr/bin/python3", script, "--port-file",
						  portfile};
	char *pargv[] = {bin, "-port-file", portfile, "-cpu-duty", "0.2", NULL};
	struct buf b;
	int r = -ENOENT;

	memset(h, 0, sizeof(*h));
	h->hostile_pid = h->healthy_pid = -1;
	buf_init(&h->ports, 0);
	if (!v)
		return r;
	snprintf(bin, sizeof(bin), "%s/go1.%d/pprofsrv-exe", test_go_cache_dir(), atoi(v + 5));
	if (access(bin, X_OK) != 0)
		return r;
	h->dir = test_tmpdir(tag);
	snprintf(script, sizeof(script), "%s/tests/tools/hostile_pprof.py", test_source_dir());
	snprintf(portfile, sizeof(portfile), "%s/hostile.ports", h->dir);
	snprintf(log, sizeof(log), "%s/hostile.log", h->dir);
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		hargv[4 + i] = (char *)modes[i];
	h->hostile_pid = test_spawn(hargv, NULL, log);
	r = -EIO;
	if (h->hostile_pid < 0 || test_wait_file(portfile, 20000) != 0 ||
	    test_read_file(portfile, &h->ports) != 0)
		return r;
	snprintf(portfile, sizeof(portfile), "%s/healthy.port", h->dir);
	h->healthy_pid = test_spawn(pargv, NULL, NULL);
	if (h->healthy_pid < 0 || test_wait_file(portfile, 20000) != 0)
		return r;
	buf_init(&b, 0);
	if (test_read_file(portfile, &b) == 0 && b.data)
		h->healthy_port = atoi(b.data);
	buf_free(&b);
	hostile_round_small_quarantine();
	return h->healthy_port > 0 ? 0 : -EIO;
}

void hostile_round_small_quarantine(void)
{
	char opts[512];
	const char *old = getenv("ASAN_OPTIONS");

	if (!SANITIZED || (old && strstr(old, "quarantine_size_mb")))
		return;
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=16", old ? old : "",
		 old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

void hostile_round_stop(struct hostile_round *h)
{
	if (h->hostile_pid > 0)
		test_stop(h->hostile_pid, 2000);
	if (h->healthy_pid > 0)
		test_stop(h->healthy_pid, 2000);
	h->hostile_pid = h->healthy_pid = -1;
	buf_free(&h->ports);
	if (h->dir && !getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(h->dir);
	free(h->dir);
	h->dir = NULL;
}

int hostile_round_url(const struct hostile_round *h, const char *mode, char *out, size_t len)
{
	char key[64];

	snprintf(key, sizeof(key), "%s ", mode);
	for (const char *p = h->ports.data; p && (p = strstr(p, key)) != NULL; p++) {
		if (p == h->ports.data || p[-1] == '\n') {
			snprintf(out, len, "http://127.0.0.1:%d", atoi(p + strlen(key)));
			return 0;
		}
	}
	return -ENOENT;
}

/* Waits at most timeout_s for pid, killing it then; its exit status and peak RSS. */
static int wait_peak(pid_t pid, int timeout_s, long *hwm_kb)
{
	for (int waited = 0;; waited += 20) {
		struct rusage ru;
		int st;
		pid_t w = wait4(pid, &st, WNOHANG, &ru);

		if (w == pid) {
			*hwm_kb = ru.ru_maxrss;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (w < 0)
			return -errno;
		if (waited == timeout_s * 1000)
			kill(pid, SIGKILL);
		usleep(20000);
	}
}

int hostile_round_run(struct hostile_round *h, const char *name, int with_hostile,
		      const char *const *extra, int timeout_s, struct round_result *r)
{
	char *argv[64], targets[ARRAY_SIZE(modes) + 1][128];
	int argc = 0, nt = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	snprintf(r->log, sizeof(r->log), "%s/%s.log", h->dir, name);
	snprintf(r->out, sizeof(r->out), "%s/%s.out", h->dir, name);
	argv[argc++] = (char *)test_podprof_bin();
	argv[argc++] = "cluster";
	argv[argc++] = "--once";
	argv[argc++] = "--listen=";
	argv[argc++] = "--output-dir";
	argv[argc++] = r->out;
	snprintf(targets[nt], sizeof(targets[nt]), "healthy=http://127.0.0.1:%d", h->healthy_port);
	argv[argc++] = "--target";
	argv[argc++] = targets[nt++];
	for (size_t i = 0; with_hostile && i < ARRAY_SIZE(modes); i++) {
		char url[96];
		if (hostile_round_url(h, modes[i], url, sizeof(url)) != 0)
			return -ENOENT;
		snprintf(targets[nt], sizeof(targets[nt]), "hostile-%s=%s", modes[i], url);
		argv[argc++] = "--target";
		argv[argc++] = targets[nt++];
	}
	for (size_t i = 0; extra && extra[i] && argc < (int)ARRAY_SIZE(argv) - 1; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc] = NULL;
	pid = test_spawn(argv, NULL, r->log);
	if (pid < 0)
		return pid;
	r->status = wait_peak(pid, timeout_s, &r->hwm_kb);
	return r->status < 0 ? r->status : 0;
}

int hostile_round_profiles(const struct round_result *r, const char *service, const char *kind)
{
	char path[800], infix[32];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", r->out, service);
	snprintf(infix, sizeof(infix), "-%s-", kind);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL)
		n += strstr(e->d_name, infix) && strstr(e->d_name, ".pb.gz") != NULL;
	if (d)
		closedir(d);
	return n;
}
