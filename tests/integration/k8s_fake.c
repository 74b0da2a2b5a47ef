/*
 * The fake Kubernetes API server as a test fixture (see k8s_fake.h).
 */
#include "k8s_fake.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"
#include "support.h"

#define PYTHON "/usr/bin/python3"

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	if (ctx)
		buf_append(ctx, p, size * n);
	return size * n;
}

static int request(struct fake_kube *f, const char *method, const char *path,
		   const char *json, struct buf *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[1024];
	long status = -1;

	snprintf(url, sizeof(url), "%s/_control/%s", f->control, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json ? json : "{}");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (f->tls) {
		char ca[700];
		snprintf(ca, sizeof(ca), "%s/ca.crt", f->certs);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (int)status;
}

int fake_kube_post(struct fake_kube *f, const char *path, const char *json, struct buf *out)
{
	return request(f, "POST", path, json, out);
}

int fake_kube_delete(struct fake_kube *f, const char *path)
{
	return request(f, "DELETE", path, NULL, NULL);
}

cJSON *fake_kube_stats(struct fake_kube *f)
{
	struct buf out;
	cJSON *doc = NULL;

	buf_init(&out, 0);
	if (request(f, "GET", "stats", NULL, &out) == 200)
		doc = cJSON_ParseWithLength(out.data, out.len);
	buf_free(&out);
	return doc;
}

int fake_kube_requests(const cJSON *stats, const char *resource, const char *verb)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(stats, "requests_by_resource");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(by, resource), verb);

	return cJSON_IsNumber(n) ? n->valueint : 0;
}

int fake_kube_load_config(struct fake_kube *f, struct k8s_config **conn)
{
	struct k8s_config_source src = {.kubeconfig = f->kubeconfig};
	char err[512];
	int r = k8s_config_load(&src, conn, err, sizeof(err));

	if (r)
		fprintf(stderr, "  %s\n", err);
	return r;
}

const char *fake_kube_file(struct fake_kube *f, const char *name, const char *content)
{
	static char path[8][700];
	static int slot;
	char *p = path[slot++ % 8];

	snprintf(p, 700, "%s/%s", f->dir, name);
	test_write_file(p, content, strlen(content));
	return p;
}

static int make_certs(struct fake_kube *f)
{
	char cmd[1400];

	snprintf(f->certs, sizeof(f->certs), "%s/kube-certs", test_binary_dir());
	snprintf(cmd, sizeof(cmd), "sh %s/tests/tools/kube_certs.sh %s", test_source_dir(),
		 f->certs);
	return test_sh(cmd, NULL, 0) == 0 ? 0 : -EIO;
}

/* Servers still running at exit (a failed check returns before fake_kube_stop): their
 * pids and directories, copied, since a test's struct fake_kube lives on its stack. */
static struct {
	pid_t pid;
	char dir[512];
} running[16];

static void stop_leftovers(void)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		if (running[i].pid <= 0)
			continue;
		test_stop(running[i].pid, 3000);
		if (!getenv("PODPROF_KEEP_TMP"))
			test_rmtree(running[i].dir);
		running[i].pid = 0;
	}
}

static void track(const struct fake_kube *f, int add)
{
	static int registered;

	if (add && !registered) {
		atexit(stop_leftovers);
		registered = 1;
	}
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		if (add && running[i].pid <= 0) {
			running[i].pid = f->pid;
			snprintf(running[i].dir, sizeof(running[i].dir), "%s", f->dir);
			return;
		}
		if (!add && running[i].pid == f->pid)
			running[i].pid = 0;
	}
}

int fake_kube_start(struct fake_kube *f, const struct fake_kube_opts *o)
{
	char script[700], portfile[700], maxev[32], cert[700], key[700], ca[700];
	char *argv[32];
	int n = 0;
	char *tmp;
	struct buf port;

	memset(f, 0, sizeof(*f));
	snprintf(script, sizeof(script), "%s/tests/tools/fake_kube.py", test_source_dir());
	if (access(PYTHON, X_OK) != 0 || access(script, R_OK) != 0)
		return -ENOENT;
	tmp = test_tmpdir("k8s");
	snprintf(f->dir, sizeof(f->dir), "%s", tmp);
	free(tmp);
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/server.log", f->dir);
	argv[n++] = PYTHON;
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--quiet";
	argv[n++] = "--exit-with-parent"; /* no server outlives a crashed test */
	if (o && o->tls) {
		if (make_certs(f))
			return -EIO;
		f->tls = 1;
		snprintf(cert, sizeof(cert), "%s/server.crt", f->certs);
		snprintf(key, sizeof(key), "%s/server.key", f->certs);
		snprintf(ca, sizeof(ca), "%s/ca.crt", f->certs);
		argv[n++] = "--tls-cert";
		argv[n++] = cert;
		argv[n++] = "--tls-key";
		argv[n++] = key;
		if (o->client_ca) {
			argv[n++] = "--client-ca";
			argv[n++] = ca;
		}
	}
	if (o && o->token) {
		argv[n++] = "--token";
		argv[n++] = (char *)o->token;
	}
	if (o && o->forbid_token) {
		argv[n++] = "--forbid-token";
		argv[n++] = (char *)o->forbid_token;
	}
	if (o && o->streaming_list)
		argv[n++] = "--streaming-list";
	if (o && o->ignore_initial_events)
		argv[n++] = "--ignore-initial-events";
	if (o && o->watch_gone) {
		argv[n++] = "--watch-gone";
		argv[n++] = (char *)o->watch_gone;
	}
	if (o && o->server_version) {
		argv[n++] = "--server-version";
		argv[n++] = (char *)o->server_version;
	}
	if (o && o->max_events) {
		snprintf(maxev, sizeof(maxev), "%d", o->max_events);
		argv[n++] = "--max-events";
		argv[n++] = maxev;
	}
	argv[n] = NULL;
	f->pid = test_spawn(argv, NULL, f->log);
	track(f, 1);
	if (f->pid < 0 || test_wait_file(portfile, 20000) != 0) {
		fake_kube_stop(f);
		return -EIO;
	}
	buf_init(&port, 0);
	test_read_file(portfile, &port);
	f->port = atoi(port.data ? port.data : "0");
	buf_free(&port);
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", f->tls ? "https" : "http", f->port);
	snprintf(f->control, sizeof(f->control), "%s", f->url);
	{
		struct buf kc;
		buf_init(&kc, 0);
		buf_printf(&kc,
			   "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
			   "contexts:\n- name: fake\n  context: {cluster: fake, user: tester}\n"
			   "clusters:\n- name: fake\n  cluster:\n    server: %s\n",
			   f->url);
		if (f->tls)
			buf_printf(&kc, "    certificate-authority: %s/ca.crt\n", f->certs);
		buf_printf(&kc, "users:\n- name: tester\n  user: %s\n",
			   o && o->kubeconfig_user ? o->kubeconfig_user : "{}");
		snprintf(f->kubeconfig, sizeof(f->kubeconfig), "%s",
			 fake_kube_file(f, "kubeconfig", kc.data));
		buf_free(&kc);
	}
	return 0;
}

void fake_kube_stop(struct fake_kube *f)
{
	track(f, 0);
	if (f->pid > 0)
		test_stop(f->pid, 3000);
	f->pid = 0;
	if (f->dir[0] && !getenv("PODPROF_KEEP_TMP"))
		test_rmtree(f->dir);
	f->dir[0] = '\0';
}

static long status_kib(const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *fp = fopen("/proc/self/status", "re");

	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, field, n) == 0)
			v = strtol(line + n, NULL, 10);
	if (fp)
		fclose(fp);
	return v;
}

long test_vm_hwm_kib(void)
{
	return status_kib("VmHWM:");
}

long test_vm_rss_kib(void)
{
	return status_kib("VmRSS:");
}
