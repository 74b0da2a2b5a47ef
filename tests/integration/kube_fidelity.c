/*
 * Fidelity of the fake Kubernetes API server (tests/tools/fake_kube.py) with clients we
 * did not write: kubectl (every version installed next to the kubectl dispatcher) and the
 * official Python client (tests/tools/kube_client_check.py, run with /usr/bin/python3).
 *
 * podprof's own Kubernetes client is tested against this server, so these tests pin down
 * that the server answers as a real API server would: discovery, tables, selectors,
 * pagination with consistent snapshots, watches (every event type, 410 after a
 * compaction, resumption, bookmarks, streaming lists), TLS with bearer tokens and client
 * certificates, the core and RBAC kinds besides pods (service accounts, services,
 * secrets, config maps, roles and bindings: discovery as the OpenAPI document has them,
 * tables, 404s, dry-run applies; a secret's value never in the server's log), and that
 * every object it returns validates against the 1.34 OpenAPI schema. The servers are shared by the tests (each test resets the state through
 * /_control/reset) and stopped at exit.
 */
#include <curl/curl.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "testing.h"

#define KUBECTL "/usr/bin/kubectl"
#define PYTHON "/usr/bin/python3"
#define TOKEN "s3cret-token"
#define FORBID_TOKEN "forbidden-token"
#define OUT_MAX (16u << 20)

struct server {
	pid_t pid;
	int port;
	char *log;
	char *kubeconfig; /* user with the valid bearer token */
};

static struct {
	int state; /* 0: not set up, 1: ready, -1: a precondition is missing */
	char why[256];
	char *dir;
	char *certs;
	char *swagger;
	int have_python;
	struct server main; /* TLS, bearer token (and one forbidden token) */
	struct server certs_srv; /* TLS, client certificates or token, streaming lists */
} k;

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void stop_server(struct server *s)
{
	if (s->pid > 0)
		test_stop(s->pid, 3000);
	s->pid = 0;
}

static void cleanup(void)
{
	stop_server(&k.main);
	stop_server(&k.certs_srv);
	if (k.dir && !getenv("PODPROF_KEEP_TMP"))
		test_rmtree(k.dir);
}

static int write_kubeconfig(const char *path, int port, const char *user)
{
	char *text = xasprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n"
			       "  cluster:\n    server: https://127.0.0.1:%d\n"
			       "    certificate-authority: %s/ca.crt\n"
			       "users:\n- name: u\n  user:\n%s"
			       "contexts:\n- name: fake\n  context: {cluster: fake, user: u}\n"
			       "current-context: fake\n",
			       port, k.certs, user);
	int r = test_write_file(path, text, strlen(text));

	free(text);
	return r;
}

static char *kubeconfig(const char *name, int port, const char *user)
{
	char *path = xasprintf("%s/%s.kubeconfig", k.dir, name);

	if (write_kubeconfig(path, port, user) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* Starts fake_kube.py over TLS with the given extra arguments (NULL-terminated). */
static int start_server(struct server *s, const char *name, const char *const *extra)
{
	char *script = xasprintf("%s/tests/tools/fake_kube.py", test_source_dir());
	char *portfile = xasprintf("%s/%s.port", k.dir, name);
	char *cert = xasprintf("%s/server.crt", k.certs);
	char *key = xasprintf("%s/server.key", k.certs);
	const char *argv[32] = {PYTHON, script, "--port", "0", "--port-file", portfile,
				"--tls-cert", cert, "--tls-key", key, "--openapi", k.swagger,
				"--exit-with-parent"};
	int n = 13, r = -1;
	struct buf b;

	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	s->log = xasprintf("%s/%s.log", k.dir, name);
	s->pid = test_spawn((char *const *)argv, NULL, s->log);
	if (s->pid < 0 || test_wait_file(portfile, 15000) != 0)
		goto out;
	buf_init(&b, 64);
	if (test_read_file(portfile, &b) == 0 && b.data)
		s->port = atoi(b.data);
	buf_free(&b);
	if (s->port <= 0 || test_wait_port(s->port, 5000) != 0)
		goto out;
	r = 0;
out:
	free(script);
	free(portfile);
	free(cert);
	free(key);
	return r;
}

static int setup(void)
{
	const char *env;
	char *cmd;
	int r;

	if (k.state)
		return k.state;
	k.state = -1;
	if (access(KUBECTL, X_OK) != 0) {
		snprintf(k.why, sizeof(k.why), "%s is not installed", KUBECTL);
		return k.state;
	}
	env = getenv("PODPROF_K8S_SWAGGER");
	if (env && *env) {
		k.swagger = strdup(env);
	} else {
		/* the Kubernetes 1.34 OpenAPI document, kept in the repository */
		char path[1024];
		snprintf(path, sizeof(path), "%s/tests/data/k8s/swagger-v1.34.json",
			 test_source_dir());
		k.swagger = strdup(path);
	}
	if (access(k.swagger, R_OK) != 0) {
		snprintf(k.why, sizeof(k.why), "no OpenAPI document at %s", k.swagger);
		return k.state;
	}
	k.have_python = test_sh(PYTHON " -c 'import kubernetes' >/dev/null 2>&1", NULL, 0) == 0;
	k.dir = test_tmpdir("kube");
	atexit(cleanup);
	/* kubectl writes its discovery cache under $HOME. */
	setenv("HOME", k.dir, 1);
	k.certs = xasprintf("%s/kube-certs", test_binary_dir());
	cmd = xasprintf("'%s/tests/tools/kube_certs.sh' '%s'", test_source_dir(), k.certs);
	r = test_sh(cmd, NULL, 1);
	free(cmd);
	if (r != 0) {
		snprintf(k.why, sizeof(k.why), "kube_certs.sh failed (%d)", r);
		return k.state;
	}
	{
		const char *extra[] = {"--token", TOKEN, "--forbid-token", FORBID_TOKEN, NULL};
		if (start_server(&k.main, "main", extra) != 0) {
			snprintf(k.why, sizeof(k.why), "the fake API server did not start");
			return k.state;
		}
	}
	k.main.kubeconfig = kubeconfig("main", k.main.port, "    token: " TOKEN "\n");
	if (!k.main.kubeconfig)
		return k.state;
	k.state = 1;
	return k.state;
}

#define NEED_SERVER()                                                                  \
	do {                                                                           \
		if (setup() != 1)                                                      \
			SKIP("%s", k.why);                                             \
	} while (0)

#define NEED_PYTHON()                                                                  \
	do {                                                                           \
		NEED_SERVER();                                                         \
		if (!k.have_python)                                                    \
			SKIP("the official Python client is missing (apt-get install " \
			     "python3-kubernetes)");                                   \
	} while (0)

/* ---- talking to the server ---------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;

	if (b && buf_append(b, p, size * n))
		return 0;
	return size * n;
}

/* A /_control/ request; returns the HTTP status (or -1), the body appended to out. */
static int control(const struct server *s, const char *method, const char *path,
		   const char *body, struct buf *out)
{
	CURL *c = curl_easy_init();
	char url[256], ca[PATH_MAX];
	long status = -1;

	if (!c)
		return -1;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/_control/%s", s->port, path);
	snprintf(ca, sizeof(ca), "%s/ca.crt", k.certs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return (int)status;
}

/* GET path with the test CA and, when cert names one (client, rogue-client), that client
 * certificate; no token. Returns the HTTP status, or -1 when the TLS handshake failed. */
static int api_status(const struct server *s, const char *path, const char *cert)
{
	CURL *c = curl_easy_init();
	char url[256], ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	long status = -1;

	if (!c)
		return -1;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", s->port, path);
	snprintf(ca, sizeof(ca), "%s/ca.crt", k.certs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (cert) {
		snprintf(crt, sizeof(crt), "%s/%s.crt", k.certs, cert);
		snprintf(key, sizeof(key), "%s/%s.key", k.certs, cert);
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return (int)status;
}

static int post(const struct server *s, const char *path, const char *body)
{
	return control(s, "POST", path, body, NULL);
}

/* A number from /_control/stats, or -1. */
static long stat_value(const struct server *s, const char *name)
{
	struct buf b;
	char key[64];
	const char *p;
	long v = -1;

	buf_init(&b, 1 << 20);
	snprintf(key, sizeof(key), "\"%s\":", name);
	if (control(s, "GET", "stats", NULL, &b) == 200 && b.data && (p = strstr(b.data, key))) {
		p += strlen(key);
		if (*p == '"')
			p++;
		v = strtol(p, NULL, 10);
	}
	buf_free(&b);
	return v;
}

/* Waits until the server has no watch open; returns the count left. */
static long wait_no_watches(const struct server *s, int timeout_ms)
{
	long n = -1;

	for (int t = 0; t <= timeout_ms; t += 50) {
		n = stat_value(s, "watches_open");
		if (n == 0)
			break;
		usleep(50000);
	}
	return n;
}

static int kubectl(struct buf *out, const char *config, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Runs kubectl with the kubeconfig; stdout and stderr appended to out. */
static int kubectl(struct buf *out, const char *config, const char *fmt, ...)
{
	va_list ap;
	char *args, *cmd;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&args, fmt, ap) < 0)
		abort();
	va_end(ap);
	cmd = xasprintf(KUBECTL " --request-timeout=20s --kubeconfig '%s' %s", config, args);
	r = test_sh(cmd, out, 1);
	free(cmd);
	free(args);
	return r;
}

/* Runs a kube_client_check.py scenario; its report appended to out. */
static int python_check(struct buf *out, const char *config, const char *scenario)
{
	char *cmd = xasprintf(PYTHON " '%s/tests/tools/kube_client_check.py' --kubeconfig '%s' "
				     "--swagger '%s' %s",
			      test_source_dir(), config, k.swagger, scenario);
	int r = test_sh(cmd, out, 1);

	free(cmd);
	return r;
}

/* Collapses runs of blanks into one space and drops trailing blanks of every line, so
 * that kubectl's column padding does not matter. Returns a malloc'd string. */
static char *squeeze(const char *s)
{
	char *out = malloc(strlen(s ? s : "") + 1), *o = out;
	int blank = 0;

	if (!out)
		abort();
	for (; s && *s; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = 1;
			continue;
		}
		if (blank && *s != '\n' && o != out && o[-1] != '\n')
			*o++ = ' ';
		blank = 0;
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* Waits until the file contains text (after squeezing blanks). */
static int wait_text(const char *path, const char *text, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 50) {
		struct buf b;
		int found = 0;

		buf_init(&b, OUT_MAX);
		if (test_read_file(path, &b) == 0 && b.data) {
			char *sq = squeeze(b.data);
			found = strstr(sq, text) != NULL;
			free(sq);
		}
		buf_free(&b);
		if (found)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/* 1 when the texts occur in that order in s. */
static int in_order(const char *s, const char *const *texts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = strstr(s, texts[i]);
		if (!p)
			return 0;
		s = p + strlen(texts[i]);
	}
	return 1;
}

static char *read_squeezed(const char *path)
{
	struct buf b;
	char *s;

	buf_init(&b, OUT_MAX);
	test_read_file(path, &b);
	s = squeeze(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static pid_t spawn_kubectl_watch(const char *config, const char *out_path, const char *extra)
{
	const char *argv[] = {KUBECTL, "--kubeconfig", config, "get", "pods", "-A", "--watch",
			      extra, NULL};

	return test_spawn((char *const *)argv, NULL, out_path);
}

#define POD_JSON                                                                       \
	"{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{%s}},"          \
	"\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"app\",\"ports\":"         \
	"[{\"name\":\"pprof\",\"containerPort\":6060}]}]}%s}"

static int add_pod(const struct server *s, const char *ns, const char *name, const char *labels,
		   const char *node, const char *extra)
{
	char body[1024];

	snprintf(body, sizeof(body), POD_JSON, name, ns, labels, node, extra);
	return post(s, "pods", body);
}

static int delete_pod(const struct server *s, const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "pods/%s/%s", ns, name);
	return control(s, "DELETE", path, NULL, NULL);
}

/* The objects of the kubectl tests. Key order (namespace/name) is the order of lists. */
static int seed(const struct server *s)
{
	if (post(s, "reset", "{}") != 200)
		return -1;
	if (add_pod(s, "shop", "web-1", "\"app\":\"web\"", "node-1", "") != 200 ||
	    add_pod(s, "shop", "web-2", "\"app\":\"web\"", "node-2", "") != 200 ||
	    add_pod(s, "shop", "db-0", "\"app\":\"db\",\"tier\":\"data\"", "node-2", "") != 200 ||
	    add_pod(s, "kube-system", "agent-1", "\"app\":\"agent\"", "node-1", "") != 200 ||
	    add_pod(s, "default", "lonely", "", "node-3", "") != 200)
		return -1;
	if (post(s, "replicasets",
		 "{\"metadata\":{\"name\":\"web-5d4f9c7b8\",\"namespace\":\"shop\"}}") != 200)
		return -1;
	return 0;
}

#define CHECK_OUT(status, out, cond)                                                     \
	CHECK_MSG((status) == 0 && (out).data && (cond), "exit %d, output:\n%s", (status), \
		  (out).data ? (out).data : "")

/* ---- kubectl ------------------------------------------------------------------------- */

TEST(kubectl_get_lists_what_control_created)
{
	struct buf out;
	char *sq = NULL;
	int r;

	NEED_SERVER();
	CHECK(seed(&k.main) == 0);
	buf_init(&out, OUT_MAX);

	/* -o custom-columns reads the objects (JSON); the default output reads tables. */
	r = kubectl(&out, k.main.kubeconfig, "get pods -A --no-headers -o "
					     "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,"
					     "NODE:.spec.nodeName,PORT:.spec.containers[0].ports[0].containerPort");
	sq = squeeze(out.data);
	CHECK_OUT(r, out, strcmp(sq, "default lonely node-3 6060\n"
				     "kube-system agent-1 node-1 6060\n"
				     "shop db-0 node-2 6060\n"
				     "shop web-1 node-1 6060\n"
				     "shop web-2 node-2 6060\n") == 0);
	free(sq);
	buf_reset(&out);

	r = kubectl(&out, k.main.kubeconfig, "get pods -A");
	sq = squeeze(out.data);
	CHECK_OUT(r, out, strncmp(sq, "NAMESPACE NAME READY STATUS RESTARTS AGE\n"
				      "default lonely 1/1 Running 0 ", 51) == 0 &&
				  strstr(sq, "\nshop web-2 1/1 Running 0 ") &&
				  strstr(sq, "\nkube-system agent-1 1/1 Running 0 "));
	free(sq);
	buf_reset(&out);

	r = kubectl(&out, k.main.kubeconfig, "get pods -n shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/db-0\npod/web-1\npod/web-2\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pods -A -l app=web -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/web-1\npod/web-2\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pods -A --field-selector spec.nodeName=node-2 -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/db-0\npod/web-2\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig,
		    "get pods -A -l 'app in (web,db),tier!=data' "
		    "--field-selector spec.nodeName!=node-1,metadata.namespace=shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/web-2\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pods -A -l '!app' -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/lonely\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pods -A --field-selector status.phase!=Running");
	CHECK_OUT(r, out, strstr(out.data, "No resources found"));
	buf_reset(&out);

	/* One object, by name, as a table and as JSON. */
	r = kubectl(&out, k.main.kubeconfig, "get pod web-1 -n shop -o wide");
	sq = squeeze(out.data);
	CHECK_OUT(r, out, strstr(sq, "web-1 1/1 Running 0 ") && strstr(sq, " node-1 <none> <none>"));
	free(sq);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pod db-0 -n shop -o jsonpath='{.metadata.labels.tier} "
					     "{.status.phase} {.metadata.uid}'");
	CHECK_OUT(r, out, strncmp(out.data, "data Running ", 13) == 0 && strlen(out.data) == 13 + 36);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get pod nosuch -n shop");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "NotFound") &&
			  strstr(out.data, "pods \"nosuch\" not found"),
		  "exit %d: %s", r, out.data ? out.data : "");
	buf_reset(&out);

	/* Other resources, discovery, OpenAPI. */
	r = kubectl(&out, k.main.kubeconfig, "get rs -n shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "replicaset.apps/web-5d4f9c7b8\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get ns -o name");
	CHECK_OUT(r, out, strstr(out.data, "namespace/shop\n") && strstr(out.data, "namespace/default\n"));
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "api-resources --no-headers");
	sq = squeeze(out.data);
	CHECK_OUT(r, out, strstr(sq, "pods po v1 true Pod") &&
				  strstr(sq, "replicasets rs apps/v1 true ReplicaSet") &&
				  strstr(sq, "namespaces ns v1 false Namespace"));
	free(sq);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "explain pods.spec.nodeName");
	CHECK_OUT(r, out, strstr(out.data, "FIELD: nodeName <string>"));
	buf_reset(&out);

	/* Deletions through /_control/ show. */
	CHECK(delete_pod(&k.main, "shop", "web-1") == 200);
	CHECK(delete_pod(&k.main, "shop", "web-1") == 404);
	r = kubectl(&out, k.main.kubeconfig, "get pods -n shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/db-0\npod/web-2\n") == 0);
	buf_free(&out);
}

#define SECRET_PLAIN "plain-secret-value-0x5eed"
#define SECRET_B64 "cGxhaW4tc2VjcmV0LXZhbHVlLTB4NWVlZA==" /* base64 of SECRET_PLAIN */

/* Service accounts, services, secrets, config maps and RBAC objects of the kubectl tests. */
static int seed_core_and_rbac(const struct server *s)
{
	static const char *const objects[][2] = {
		{"serviceaccounts", "{\"metadata\":{\"name\":\"agent\",\"namespace\":\"shop\"},"
				    "\"automountServiceAccountToken\":false}"},
		{"services", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":"
			     "{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\","
			     "\"port\":80,\"targetPort\":8080}]}}"},
		{"services", "{\"metadata\":{\"name\":\"edge\",\"namespace\":\"shop\"},\"spec\":"
			     "{\"type\":\"NodePort\",\"clusterIP\":\"127.96.7.7\",\"ports\":"
			     "[{\"port\":443,\"nodePort\":30443}]}}"},
		{"secrets", "{\"metadata\":{\"name\":\"api-key\",\"namespace\":\"shop\"},"
			    "\"stringData\":{\"token\":\"" SECRET_PLAIN "\"}}"},
		{"configmaps", "{\"metadata\":{\"name\":\"cfg\",\"namespace\":\"shop\"},"
			       "\"data\":{\"a\":\"1\",\"b\":\"2\"}}"},
		{"roles", "{\"metadata\":{\"name\":\"pods\",\"namespace\":\"shop\"},\"rules\":"
			  "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}"},
		{"rolebindings", "{\"metadata\":{\"name\":\"pods\",\"namespace\":\"shop\"},"
				 "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
				 "\"Role\",\"name\":\"pods\"},\"subjects\":[{\"kind\":"
				 "\"ServiceAccount\",\"name\":\"agent\",\"namespace\":\"shop\"}]}"},
		{"clusterroles", "{\"metadata\":{\"name\":\"reader\"},\"rules\":[{\"apiGroups\":"
				 "[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"list\",\"watch\"]}]}"},
		{"clusterrolebindings", "{\"metadata\":{\"name\":\"reader\"},\"roleRef\":"
					"{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
					"\"ClusterRole\",\"name\":\"reader\"},\"subjects\":[{\"kind\":"
					"\"ServiceAccount\",\"name\":\"agent\",\"namespace\":\"shop\"},"
					"{\"kind\":\"User\",\"name\":\"alice\"}]}"},
	};

	if (seed(s) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (post(s, objects[i][0], objects[i][1]) != 200)
			return -1;
	return 0;
}

TEST(kubectl_serves_core_and_rbac_kinds)
{
	static const char *const listed[] = {
		"configmaps cm v1 true ConfigMap",
		"secrets v1 true Secret",
		"serviceaccounts sa v1 true ServiceAccount",
		"services svc v1 true Service",
		"clusterrolebindings rbac.authorization.k8s.io/v1 false ClusterRoleBinding",
		"clusterroles rbac.authorization.k8s.io/v1 false ClusterRole",
		"rolebindings rbac.authorization.k8s.io/v1 true RoleBinding",
		"roles rbac.authorization.k8s.io/v1 true Role",
	};
	/* kubectl prints one table per kind, in the order asked for */
	static const char *const tables[] = {
		"NAMESPACE NAME SECRETS AGE\nshop serviceaccount/agent 0 ",
		"NAMESPACE NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE\n",
		"shop service/edge NodePort 127.96.7.7 <none> 443:30443/TCP ",
		"shop service/web ClusterIP 127.",
		" <none> 80/TCP ",
		"NAMESPACE NAME TYPE DATA AGE\nshop secret/api-key Opaque 1 ",
		"NAMESPACE NAME DATA AGE\nshop configmap/cfg 2 ",
		"NAMESPACE NAME CREATED AT\nclusterrole.rbac.authorization.k8s.io/reader 20",
	};
	char *sq = NULL, *manifest = NULL;
	struct buf out;
	int r;

	NEED_SERVER();
	CHECK(seed_core_and_rbac(&k.main) == 0);
	buf_init(&out, OUT_MAX);

	r = kubectl(&out, k.main.kubeconfig, "api-resources --no-headers");
	sq = squeeze(out.data);
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		CHECK_MSG(r == 0 && strstr(sq, listed[i]), "api-resources lacks \"%s\":\n%s",
			  listed[i], sq);
	free(sq);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "api-resources --categories=all -o name");
	CHECK_OUT(r, out, strstr(out.data, "\nservices\n") && strstr(out.data, "pods\n") &&
				  !strstr(out.data, "secrets"));
	buf_reset(&out);

	r = kubectl(&out, k.main.kubeconfig, "get sa,svc,secrets,cm,clusterroles -A");
	sq = squeeze(out.data);
	CHECK_MSG(r == 0 && in_order(sq, tables, sizeof(tables) / sizeof(tables[0])),
		  "exit %d, output:\n%s", r, sq);
	free(sq);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get rolebindings,clusterrolebindings -A -o wide");
	sq = squeeze(out.data);
	CHECK_MSG(r == 0 && strstr(sq, "NAMESPACE NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS\n"
				       "shop rolebinding.rbac.authorization.k8s.io/pods Role/pods ") &&
			  strstr(sq, "\nclusterrolebinding.rbac.authorization.k8s.io/reader "
				     "ClusterRole/reader ") &&
			  strstr(sq, " alice shop/agent\n"),
		  "exit %d, output:\n%s", r, sq);
	free(sq);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get all -n shop -o name");
	CHECK_OUT(r, out, strstr(out.data, "service/edge\nservice/web\n") &&
				  strstr(out.data, "pod/web-1\n") && !strstr(out.data, "secret"));
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get svc -A --field-selector spec.type=NodePort -o name");
	CHECK_OUT(r, out, strcmp(out.data, "service/edge\n") == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get secret api-key -n shop -o jsonpath='{.data.token}'");
	CHECK_OUT(r, out, strcmp(out.data, SECRET_B64) == 0);
	buf_reset(&out);
	r = kubectl(&out, k.main.kubeconfig, "get clusterrole nosuch");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "Error from server (NotFound): "
						     "clusterroles.rbac.authorization.k8s.io "
						     "\"nosuch\" not found"),
		  "exit %d: %s", r, out.data ? out.data : "");
	buf_reset(&out);

	/* a client-side dry run GETs each object: new ones are "created", known ones
	 * "configured" */
	manifest = xasprintf("%s/core-rbac.yaml", k.dir);
	{
		const char *m = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent, "
				"namespace: shop}\n---\napiVersion: v1\nkind: ServiceAccount\n"
				"metadata: {name: fresh, namespace: shop}\n---\napiVersion: v1\n"
				"kind: Secret\nmetadata: {name: fresh, namespace: shop}\n"
				"stringData: {k: v}\n---\napiVersion: rbac.authorization.k8s.io/v1\n"
				"kind: ClusterRoleBinding\nmetadata: {name: fresh}\nroleRef: "
				"{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "
				"reader}\nsubjects: [{kind: ServiceAccount, name: fresh, namespace: "
				"shop}]\n";
		CHECK(test_write_file(manifest, m, strlen(m)) == 0);
	}
	r = kubectl(&out, k.main.kubeconfig, "apply --dry-run=client -f '%s'", manifest);
	CHECK_OUT(r, out, strcmp(out.data, "serviceaccount/agent configured (dry run)\n"
					   "serviceaccount/fresh created (dry run)\n"
					   "secret/fresh created (dry run)\n"
					   "clusterrolebinding.rbac.authorization.k8s.io/fresh created "
					   "(dry run)\n") == 0);
	buf_reset(&out);

	/* Deletions through /_control/ show. */
	CHECK(control(&k.main, "DELETE", "clusterroles/reader", NULL, NULL) == 200);
	CHECK(control(&k.main, "DELETE", "clusterroles/reader", NULL, NULL) == 404);
	CHECK(control(&k.main, "DELETE", "secrets/shop/api-key", NULL, NULL) == 200);
	r = kubectl(&out, k.main.kubeconfig, "get clusterroles,secrets -A -o name");
	CHECK_OUT(r, out, !strstr(out.data, "reader") && !strstr(out.data, "api-key"));
	buf_reset(&out);

	/* the secret's value is nowhere in the server's log */
	CHECK(test_read_file(k.main.log, &out) == 0);
	CHECK_MSG(out.data && !strstr(out.data, SECRET_PLAIN) && !strstr(out.data, SECRET_B64),
		  "the secret is in %s", k.main.log);
	buf_free(&out);
	free(manifest);
}

/* kubectl --watch (a table watch, and a -o name one) sees what /_control/ does after it
 * started, then the 410 of a compaction. chunking, when given, is the body of
 * /_control/chunking for the watch streams (kubectl's initial list is not chunked). */
static void watch_scenario(const char *chunking)
{
	char *table_out = xasprintf("%s/watch-table.out", k.dir);
	char *name_out = xasprintf("%s/watch-name.out", k.dir);
	/* A pod back in Pending shows its containers' waiting reason, as kubectl prints it. */
	const char *order[] = {"ADDED w new 1/1 Running", "MODIFIED w new 0/1 ContainerCreating",
			       "DELETED w new 0/1 ContainerCreating"};
	pid_t p1 = -1, p2 = -1;
	char *sq = NULL;
	int st;

	unlink(table_out);
	unlink(name_out);
	CHECK(post(&k.main, "reset", "{}") == 200);
	CHECK(add_pod(&k.main, "w", "initial", "\"app\":\"w\"", "node-1", "") == 200);
	if (chunking)
		CHECK(post(&k.main, "chunking", chunking) == 200);
	p1 = spawn_kubectl_watch(k.main.kubeconfig, table_out, "--output-watch-events");
	p2 = spawn_kubectl_watch(k.main.kubeconfig, name_out, "-o=name");
	CHECK(p1 > 0 && p2 > 0);
	CHECK_MSG(wait_text(table_out, "ADDED w initial 1/1 Running", 15000) == 0 &&
			  wait_text(name_out, "pod/initial", 15000) == 0,
		  "kubectl did not list the initial pod (%s, %s)", table_out, name_out);
	/* Both watches are open before the changes are made. */
	for (int t = 0; t < 100 && stat_value(&k.main, "watches_open") < 2; t++)
		usleep(50000);
	CHECK_EQ(stat_value(&k.main, "watches_open"), 2);
	CHECK(add_pod(&k.main, "w", "new", "\"app\":\"w\"", "node-1", "") == 200);
	CHECK(add_pod(&k.main, "w", "new", "\"app\":\"w\",\"v\":\"2\"", "node-1",
		      ",\"status\":{\"phase\":\"Pending\"}") == 200);
	CHECK(delete_pod(&k.main, "w", "new") == 200);
	CHECK_MSG(wait_text(table_out, "DELETED w new", 10000) == 0, "no DELETED event in %s",
		  table_out);
	sq = read_squeezed(table_out);
	CHECK_MSG(in_order(sq, order, 3), "events out of order:\n%s", sq);
	free(sq);
	sq = NULL;
	/* A compaction: kubectl prints the ERROR event's Status and ends the watch. */
	CHECK(post(&k.main, "expire", "{}") == 200);
	CHECK_MSG(wait_text(table_out, "ERROR Failure Expired too old resource version:", 10000) == 0,
		  "no ERROR event in %s", table_out);
	CHECK_MSG(wait_text(name_out, "status/<unknown>", 10000) == 0, "no ERROR event in %s",
		  name_out);
	st = test_wait(p1, 10000);
	p1 = -1;
	CHECK_EQ(st, 0);
	st = test_wait(p2, 10000);
	p2 = -1;
	CHECK_EQ(st, 0);
	sq = read_squeezed(name_out);
	CHECK_MSG(strcmp(sq, "pod/initial\npod/new\npod/new\npod/new\nstatus/<unknown>\n") == 0,
		  "-o name watch printed:\n%s", sq);
	CHECK_EQ(wait_no_watches(&k.main, 3000), 0);
	free(sq);
	free(table_out);
	free(name_out);
}

TEST(kubectl_watch_sees_changes_and_expiry)
{
	NEED_SERVER();
	watch_scenario(NULL);
}

TEST(kubectl_watch_chunked)
{
	NEED_SERVER();
	/* 7-byte chunks, and two events per write when they queue up; the next test's
	 * /_control/reset puts the default back. */
	watch_scenario("{\"size\":7,\"batch\":2}");
}

TEST(kubectl_auth_failures)
{
	char *wrong = NULL, *forbid = NULL, *rotated = NULL;
	struct buf out;
	long failures;
	int r;

	NEED_SERVER();
	CHECK(seed(&k.main) == 0);
	wrong = kubeconfig("wrong", k.main.port, "    token: not-the-token\n");
	forbid = kubeconfig("forbid", k.main.port, "    token: " FORBID_TOKEN "\n");
	rotated = kubeconfig("rotated", k.main.port, "    token: rotated-token\n");
	CHECK(wrong && forbid && rotated);
	buf_init(&out, OUT_MAX);
	failures = stat_value(&k.main, "auth_failures");

	r = kubectl(&out, wrong, "get pods -A");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "Unauthorized"), "exit %d: %s", r,
		  out.data ? out.data : "");
	CHECK(stat_value(&k.main, "auth_failures") > failures);
	buf_reset(&out);
	r = kubectl(&out, forbid, "get pods -A");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "Forbidden") &&
			  strstr(out.data, "cannot list resource \"pods\" in API group \"\" at the "
					   "cluster scope"),
		  "exit %d: %s", r, out.data ? out.data : "");
	buf_reset(&out);
	r = kubectl(&out, forbid, "get pods -n shop");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "in the namespace \"shop\""), "exit %d: %s",
		  r, out.data ? out.data : "");
	buf_reset(&out);

	/* Token rotation: the old token stops working at once. */
	CHECK(post(&k.main, "token", "{\"token\":\"rotated-token\"}") == 200);
	r = kubectl(&out, k.main.kubeconfig, "get pods -A -o name");
	CHECK_MSG(r != 0 && out.data && strstr(out.data, "Unauthorized"), "old token: exit %d: %s",
		  r, out.data ? out.data : "");
	buf_reset(&out);
	r = kubectl(&out, rotated, "get pods -n shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/db-0\npod/web-1\npod/web-2\n") == 0);
	CHECK(post(&k.main, "token", "{\"token\":\"" TOKEN "\"}") == 200);
	buf_free(&out);
	free(wrong);
	free(forbid);
	free(rotated);
}

static int ensure_cert_server(void)
{
	const char *extra[] = {"--client-ca", NULL, "--token", TOKEN, "--streaming-list", NULL};
	char *ca;
	int r;

	if (k.certs_srv.pid > 0)
		return 0;
	ca = xasprintf("%s/ca.crt", k.certs);
	extra[1] = ca;
	r = start_server(&k.certs_srv, "certs", extra);
	free(ca);
	if (r == 0) {
		char *user = xasprintf("    client-certificate: %s/client.crt\n"
				       "    client-key: %s/client.key\n",
				       k.certs, k.certs);
		k.certs_srv.kubeconfig = kubeconfig("certs", k.certs_srv.port, user);
		free(user);
	}
	return r == 0 && k.certs_srv.kubeconfig ? 0 : -1;
}

TEST(kubectl_client_certificates)
{
	char *rogue = NULL, *user;
	struct buf out;
	int r;

	NEED_SERVER();
	CHECK_MSG(ensure_cert_server() == 0, "the client-certificate server did not start");
	CHECK(seed(&k.certs_srv) == 0);
	user = xasprintf("    client-certificate: %s/rogue-client.crt\n"
			 "    client-key: %s/rogue-client.key\n",
			 k.certs, k.certs);
	rogue = kubeconfig("rogue", k.certs_srv.port, user);
	free(user);
	CHECK(rogue);
	buf_init(&out, OUT_MAX);

	r = kubectl(&out, k.certs_srv.kubeconfig, "get pods -n shop -o name");
	CHECK_OUT(r, out, strcmp(out.data, "pod/db-0\npod/web-1\npod/web-2\n") == 0);
	buf_reset(&out);
	/* A certificate of another CA fails the handshake, as with a real server. */
	r = kubectl(&out, rogue, "get pods -A");
	CHECK_MSG(r != 0 && out.data && (strstr(out.data, "certificate") || strstr(out.data, "tls")),
		  "rogue certificate: exit %d: %s", r, out.data ? out.data : "");
	buf_reset(&out);
	/* kubectl asks for a password when it has no credentials: use libcurl for that. */
	CHECK_EQ(api_status(&k.certs_srv, "/api/v1/pods", NULL), 401);
	CHECK_EQ(api_status(&k.certs_srv, "/api/v1/pods", "client"), 200);
	CHECK_EQ(api_status(&k.certs_srv, "/version", "client"), 200);
	buf_free(&out);
	free(rogue);
}

/* Every kubectl the dispatcher may run (1.27 to 1.33 next to it) reads the same list. */
TEST(kubectl_versions_agree)
{
	char real[PATH_MAX], *pattern, *slash;
	glob_t g;
	int tried = 0;

	NEED_SERVER();
	if (!realpath(KUBECTL, real) || !(slash = strrchr(real, '/')))
		SKIP("cannot resolve %s", KUBECTL);
	*slash = '\0';
	pattern = xasprintf("%s/kubectl.1.*", real);
	if (glob(pattern, 0, NULL, &g) != 0) {
		free(pattern);
		SKIP("no versioned kubectl next to %s", KUBECTL);
	}
	free(pattern);
	CHECK(seed(&k.main) == 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct buf out;
		char *cmd = xasprintf("'%s' --request-timeout=20s --kubeconfig '%s' get pods -A "
				      "-l app -o name",
				      g.gl_pathv[i], k.main.kubeconfig);
		int r;

		buf_init(&out, OUT_MAX);
		r = test_sh(cmd, &out, 1);
		free(cmd);
		if (r != 0 || !out.data ||
		    strcmp(out.data, "pod/agent-1\npod/db-0\npod/web-1\npod/web-2\n") != 0) {
			fprintf(stderr, "  %s: exit %d:\n%s\n", g.gl_pathv[i], r,
				out.data ? out.data : "");
			buf_free(&out);
			globfree(&g);
			CHECK(!"a kubectl version disagrees");
		}
		buf_free(&out);
		tried++;
	}
	globfree(&g);
	printf("  %d kubectl versions agree\n", tried);
}

/* ---- the official Python client and raw HTTP ------------------------------------------- */

static void python_scenario(const struct server *s, const char *scenario)
{
	struct buf out;
	int r;

	buf_init(&out, OUT_MAX);
	CHECK(post(s, "reset", "{}") == 200);
	r = python_check(&out, s->kubeconfig, scenario);
	CHECK_MSG(r == 0 && out.data && strstr(out.data, "ok "), "%s: exit %d:\n%s", scenario, r,
		  out.data ? out.data : "");
	printf("  %s", strstr(out.data, "ok "));
	buf_free(&out);
}

TEST(python_paginates_1200_pods)
{
	NEED_PYTHON();
	python_scenario(&k.main, "paginate 1200");
}

TEST(python_watch_sees_changes)
{
	NEED_PYTHON();
	python_scenario(&k.main, "watch");
}

TEST(python_stale_resource_versions_get_410)
{
	NEED_PYTHON();
	python_scenario(&k.main, "stale");
}

TEST(python_watch_chunked)
{
	NEED_PYTHON();
	python_scenario(&k.main, "chunked 7");
}

TEST(responses_validate_against_openapi)
{
	NEED_PYTHON();
	python_scenario(&k.main, "schema");
}

TEST(many_concurrent_watches_no_leaks)
{
	NEED_PYTHON();
	python_scenario(&k.main, "many_watches 40");
}

TEST(streaming_list_only_when_enabled)
{
	NEED_PYTHON();
	python_scenario(&k.main, "streaming rejected");
	CHECK_MSG(ensure_cert_server() == 0, "the client-certificate server did not start");
	/* Also the Python client authenticating with a client certificate. */
	python_scenario(&k.certs_srv, "streaming supported");
}

TEST(http_protocol_details)
{
	NEED_PYTHON();
	python_scenario(&k.main, "protocol");
}

TEST(python_lists_core_and_rbac_kinds)
{
	NEED_PYTHON();
	python_scenario(&k.main, "resources");
}

TEST(fault_injection)
{
	NEED_PYTHON();
	python_scenario(&k.main, "faults");
}

/* Last: whatever the clients did, nothing is left open on the servers. */
TEST(servers_left_clean)
{
	NEED_SERVER();
	CHECK_EQ(wait_no_watches(&k.main, 5000), 0);
	CHECK(stat_value(&k.main, "threads") < 8);
	if (k.certs_srv.pid > 0) {
		CHECK_EQ(wait_no_watches(&k.certs_srv, 5000), 0);
		CHECK(stat_value(&k.certs_srv, "threads") < 8);
	}
}
