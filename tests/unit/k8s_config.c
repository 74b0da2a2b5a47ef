/*
 * Unit tests of the Kubernetes connection configuration: kubeconfig parsing (every
 * field, inline data and files, relative paths, the exact error for every bad input),
 * the in-cluster service account (IPv6 hosts, token re-reading), the order of the
 * sources, exec credential plugins (ExecCredential parsing, a real plugin run with its
 * args and env, refresh before expiry) and base64.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "exec.h"
#include "kubeconfig.h"
#include "support.h"
#include "testing.h"

static const char *const pem_ca = "-----BEGIN CERTIFICATE-----\nMIIBCA==\n-----END CERTIFICATE-----\n";
static const char *const pem_ca_b64 =
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJDQT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

static char *dir_;

static const char *tmp(void)
{
	if (!dir_)
		dir_ = test_tmpdir("k8s-config");
	return dir_;
}

/* Writes text to <tmp>/name and returns the path (static buffer per call slot). */
static const char *put(const char *name, const char *text)
{
	static char paths[8][4096];
	static int slot;
	char *p = paths[slot++ % 8];

	snprintf(p, 4096, "%s/%s", tmp(), name);
	if (strchr(name, '/')) {
		char d[4096];
		snprintf(d, sizeof(d), "%s", p);
		*strrchr(d, '/') = '\0';
		mkdir(d, 0755);
	}
	test_write_file(p, text, strlen(text));
	return p;
}

static int load_kubeconfig(const char *path, struct k8s_config **c, char *err, size_t len)
{
	struct k8s_config_source src = {.kubeconfig = path};
	return k8s_config_load(&src, c, err, len);
}

/* The current bearer token of c, or "" (static buffer). */
static const char *token_of(struct k8s_config *c)
{
	static char out[256];
	struct k8s_blob t, cert, key;

	out[0] = '\0';
	if (!c->creds || k8s_creds_get(c->creds, &t, &cert, &key))
		return "";
	snprintf(out, sizeof(out), "%s", t.data ? t.data : "");
	k8s_blob_free(&t);
	k8s_blob_free(&cert);
	k8s_blob_free(&key);
	return out;
}

#define KC_HEAD                                                                          \
	"apiVersion: v1\nkind: Config\ncurrent-context: dev\n"                           \
	"contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"             \
	"- name: dev\n  context:\n    cluster: dev-cluster\n    user: dev-user\n"         \
	"    namespace: ignored\n"

TEST(kubeconfig_token_and_inline_ca)
{
	char kc[2048], err[512];
	struct k8s_config *c = NULL;

	snprintf(kc, sizeof(kc),
		 KC_HEAD "clusters:\n- name: dev-cluster\n  cluster:\n"
			 "    server: https://10.0.0.1:6443/\n"
			 "    certificate-authority-data: %s\n"
			 "users:\n- name: dev-user\n  user:\n    token: s3cr3t-token\n",
		 pem_ca_b64);
	CHECK_EQ(load_kubeconfig(put("kc1", kc), &c, err, sizeof(err)), 0);
	CHECK_STR(k8s_config_server(c), "https://10.0.0.1:6443");
	CHECK(c->ca.data && strcmp(c->ca.data, pem_ca) == 0);
	CHECK(!c->insecure);
	CHECK_STR(token_of(c), "s3cr3t-token");
	CHECK(strstr(k8s_config_origin(c), "context dev") != NULL);
	k8s_config_free(c);
}

TEST(kubeconfig_files_relative_to_its_directory)
{
	char kc[2048], err[512];
	struct k8s_config *c = NULL;

	put("certs/ca.pem", pem_ca);
	put("certs/client.crt", "CLIENT CERT PEM\n");
	put("certs/client.key", "CLIENT KEY PEM\n");
	put("certs/token", "file-token\n");
	snprintf(kc, sizeof(kc),
		 KC_HEAD "clusters:\n- name: dev-cluster\n  cluster:\n"
			 "    server: https://k8s.example.com\n"
			 "    certificate-authority: certs/ca.pem\n"
			 "    insecure-skip-tls-verify: false\n"
			 "users:\n- name: dev-user\n  user:\n"
			 "    client-certificate: certs/client.crt\n"
			 "    client-key: %s/certs/client.key\n"
			 "    tokenFile: certs/token\n"
			 "    token: inline-token-loses\n",
		 tmp());
	CHECK_EQ(load_kubeconfig(put("kc2", kc), &c, err, sizeof(err)), 0);
	CHECK(c->ca.data && strcmp(c->ca.data, pem_ca) == 0);
	CHECK_STR(c->client_cert.data, "CLIENT CERT PEM\n");
	CHECK_STR(c->client_key.data, "CLIENT KEY PEM\n");
	/* the token file wins and its trailing newline goes */
	CHECK_STR(token_of(c), "file-token");
	/* a rotated file is read again after a 401 */
	put("certs/token", "rotated-token\n");
	CHECK_STR(token_of(c), "file-token");
	k8s_config_unauthorized(c);
	CHECK_STR(token_of(c), "rotated-token");
	k8s_config_free(c);
}

TEST(kubeconfig_inline_data_wins_over_files)
{
	char kc[2048], err[512];
	struct k8s_config *c = NULL;

	snprintf(kc, sizeof(kc),
		 KC_HEAD "clusters:\n- name: dev-cluster\n  cluster:\n"
			 "    server: http://127.0.0.1:8080\n"
			 "    certificate-authority: /nonexistent/ca\n"
			 "    certificate-authority-data: %s\n"
			 "    insecure-skip-tls-verify: true\n"
			 "users:\n- name: dev-user\n  user:\n"
			 "    client-certificate-data: Q0VSVA==\n"
			 "    client-key-data: S0VZ\n"
			 "    username: admin\n    password: hunter2\n",
		 pem_ca_b64);
	CHECK_EQ(load_kubeconfig(put("kc3", kc), &c, err, sizeof(err)), 0);
	CHECK(c->insecure);
	CHECK(strcmp(c->ca.data, pem_ca) == 0);
	CHECK_STR(c->client_cert.data, "CERT");
	CHECK_STR(c->client_key.data, "KEY");
	CHECK_STR(c->username, "admin");
	CHECK_STR(c->password, "hunter2");
	CHECK(c->creds == NULL);
	k8s_config_free(c);
}

TEST(kubeconfig_colon_list_uses_the_first_file)
{
	char kc[1024], list[4096], err[512];
	struct k8s_config *c = NULL;
	const char *first;

	snprintf(kc, sizeof(kc), KC_HEAD "clusters:\n- name: dev-cluster\n  cluster:\n"
					 "    server: https://first:443\nusers: [{name: dev-user}]\n");
	first = put("kc-first", kc);
	snprintf(list, sizeof(list), "%s:/nonexistent/second", first);
	CHECK_EQ(load_kubeconfig(list, &c, err, sizeof(err)), 0);
	CHECK_STR(k8s_config_server(c), "https://first:443");
	CHECK(c->creds == NULL);
	k8s_config_free(c);
}

TEST(kubeconfig_errors_name_file_and_field)
{
	static const struct {
		const char *body, *expect;
	} cases[] = {
		{"current-context: foo\ncontexts: []\n", "context 'foo' (current-context) not found"},
		{"contexts: []\n", "current-context is not set"},
		{"- just\n- a list\n", "not a kubeconfig (the document is not a mapping)"},
		{"current-context: dev\ncontexts: [{name: dev, context: {user: u}}]\n",
		 "contexts[dev].context.cluster is missing"},
		{KC_HEAD "clusters: []\n",
		 "cluster 'dev-cluster' (contexts[].context.cluster) not found"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {}\n",
		 "clusters[dev-cluster].cluster.server is missing"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 10.0.0.1}\n",
		 "clusters[dev-cluster].cluster.server \"10.0.0.1\" is not an http:// or https:// URL"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a', "
			 "insecure-skip-tls-verify: maybe}\n",
		 "clusters[dev-cluster].cluster.insecure-skip-tls-verify \"maybe\" is not true or "
		 "false"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a', "
			 "certificate-authority-data: '!!notbase64!!'}\n",
		 "clusters[dev-cluster].cluster.certificate-authority-data: not valid base64"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a', "
			 "certificate-authority: /nonexistent/ca.crt}\n",
		 "clusters[dev-cluster].cluster.certificate-authority: cannot read "
		 "/nonexistent/ca.crt: No such file or directory"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users: []\n",
		 "user 'dev-user' (contexts[].context.user) not found"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user: {client-key-data: '%%%%'}\n",
		 "users[dev-user].user.client-key-data: not valid base64"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user: {client-certificate-data: Q0VSVA==}\n",
		 "users[dev-user].user.client-key is missing (a client certificate needs its key)"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user: {tokenFile: no/such/token}\n",
		 "users[dev-user].user.tokenFile: cannot read "},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user:\n    auth-provider: {name: gcp}\n",
		 "users[dev-user].user.auth-provider is not supported"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user:\n    exec: {command: aws, apiVersion: "
			 "client.authentication.k8s.io/v1, interactiveMode: Always}\n",
		 "users[dev-user].user.exec.interactiveMode is Always"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user:\n    exec: {command: no-such-plugin-xyz, "
			 "apiVersion: client.authentication.k8s.io/v1}\n",
		 "users[dev-user].user.exec.command: no-such-plugin-xyz is not found in PATH"},
		{KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user:\n    exec: {command: /bin/true, "
			 "apiVersion: client.authentication.k8s.io/v1alpha1}\n",
		 "users[dev-user].user.exec.apiVersion \"client.authentication.k8s.io/v1alpha1\" is "
		 "not supported"},
		{"key: [unclosed\n", "line 2 column 1: "},
	};
	char err[512], expect[1024];
	struct k8s_config *c = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *path = put("kc-bad", cases[i].body);
		snprintf(expect, sizeof(expect), "kubeconfig %s: %s", path, cases[i].expect);
		err[0] = '\0';
		CHECK_MSG(load_kubeconfig(path, &c, err, sizeof(err)) < 0, "case %zu loaded", i);
		CHECK_MSG(strncmp(err, expect, strlen(expect)) == 0,
			  "case %zu: got \"%s\", want \"%s\"", i, err, expect);
	}
	/* a missing file */
	CHECK(load_kubeconfig("/nonexistent/kubeconfig", &c, err, sizeof(err)) == -ENOENT);
	CHECK_STR(err, "kubeconfig /nonexistent/kubeconfig: cannot read: No such file or directory");
}

TEST(secrets_never_in_errors)
{
	char err[512];
	struct k8s_config *c = NULL;
	const char *path = put("kc-secret",
			       KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}"
				       "\nusers:\n- name: dev-user\n"
				       "  user: {token: TOPSECRET, client-key-data: '!!'}\n");

	CHECK(load_kubeconfig(path, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "TOPSECRET") == NULL);
	CHECK(strstr(err, "client-key-data") != NULL);
}

TEST(in_cluster_service_account)
{
	struct k8s_config_source src = {.service_host = "10.96.0.1", .service_port = "443"};
	char sa[4096], path[4200], err[512];
	struct k8s_config *c = NULL;

	snprintf(sa, sizeof(sa), "%s/sa", tmp());
	mkdir(sa, 0755);
	src.serviceaccount_dir = sa;
	/* no token yet: a clear error naming the file */
	CHECK(k8s_config_load(&src, &c, err, sizeof(err)) < 0);
	snprintf(path, sizeof(path), "in-cluster: cannot read the service account token %s/token: "
		 "No such file or directory", sa);
	CHECK_STR(err, path);
	snprintf(path, sizeof(path), "%s/token", sa);
	test_write_file(path, "tok-1\n", 6);
	CHECK(k8s_config_load(&src, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "ca.crt") != NULL);
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	test_write_file(path, pem_ca, strlen(pem_ca));
	CHECK_EQ(k8s_config_load(&src, &c, err, sizeof(err)), 0);
	CHECK_STR(k8s_config_server(c), "https://10.96.0.1:443");
	CHECK(strcmp(c->ca.data, pem_ca) == 0);
	CHECK_STR(token_of(c), "tok-1");
	/* the kubelet rotates the token: read again after a 401, not before */
	snprintf(path, sizeof(path), "%s/token", sa);
	test_write_file(path, "tok-2\n", 6);
	CHECK_STR(token_of(c), "tok-1");
	k8s_config_unauthorized(c);
	CHECK_STR(token_of(c), "tok-2");
	/* an empty file (being rewritten) keeps the previous token */
	test_write_file(path, "", 0);
	k8s_config_unauthorized(c);
	CHECK_STR(token_of(c), "tok-2");
	k8s_config_free(c);

	/* IPv6 service addresses are bracketed; the port defaults to 443 */
	src.service_host = "fd00:10:96::1";
	src.service_port = NULL;
	test_write_file(path, "tok-3", 5);
	CHECK_EQ(k8s_config_load(&src, &c, err, sizeof(err)), 0);
	CHECK_STR(k8s_config_server(c), "https://[fd00:10:96::1]:443");
	k8s_config_free(c);
	src.service_port = "https";
	CHECK(k8s_config_load(&src, &c, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "KUBERNETES_SERVICE_PORT") != NULL);
}

TEST(source_order)
{
	struct k8s_config_source src = {0};
	struct k8s_config *c = NULL;
	char home[2048], err[512], kc[4096];

	/* nothing at all */
	CHECK(k8s_config_load(&src, &c, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "no Kubernetes configuration") != NULL);
	/* $HOME/.kube/config when not in a cluster */
	snprintf(home, sizeof(home), "%s/home", tmp());
	mkdir(home, 0755);
	snprintf(kc, sizeof(kc), KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: "
					 "{server: 'https://home:6443'}\nusers: [{name: dev-user}]\n");
	put("home/.kube/config", kc);
	src.home = home;
	CHECK_EQ(k8s_config_load(&src, &c, err, sizeof(err)), 0);
	CHECK_STR(k8s_config_server(c), "https://home:6443");
	k8s_config_free(c);
	/* in a cluster, the service account beats ~/.kube/config ... */
	src.service_host = "10.96.0.1";
	src.serviceaccount_dir = "/nonexistent-sa";
	CHECK(k8s_config_load(&src, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "in-cluster") != NULL);
	/* ... and an explicit kubeconfig beats both */
	snprintf(kc, sizeof(kc), "%s/.kube/config", home);
	src.kubeconfig = kc;
	CHECK_EQ(k8s_config_load(&src, &c, err, sizeof(err)), 0);
	k8s_config_free(c);
}

TEST(authorization_header)
{
	char kc[1024], err[512];
	struct k8s_config *c = NULL;
	struct curl_slist *h = NULL;
	CURL *curl = curl_easy_init();

	snprintf(kc, sizeof(kc), KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: "
					 "{server: 'https://a'}\nusers:\n- name: dev-user\n"
					 "  user: {token: abc.def}\n");
	CHECK_EQ(load_kubeconfig(put("kc-auth", kc), &c, err, sizeof(err)), 0);
	CHECK_EQ(k8s_config_setup_handle(c, curl), 0);
	CHECK_EQ(k8s_config_authorize(c, curl, &h), 0);
	CHECK(h && strcmp(h->data, "Authorization: Bearer abc.def") == 0 && !h->next);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	k8s_config_free(c);
}

TEST(base64)
{
	struct k8s_blob b;

	CHECK_EQ(k8s_base64_decode("aGVsbG8=", &b), 0);
	CHECK_STR(b.data, "hello");
	CHECK_EQ(b.len, 5);
	k8s_blob_free(&b);
	CHECK_EQ(k8s_base64_decode("aGVs\nbG8h", &b), 0);
	CHECK_STR(b.data, "hello!");
	k8s_blob_free(&b);
	CHECK_EQ(k8s_base64_decode("", &b), 0);
	CHECK_EQ(b.len, 0);
	k8s_blob_free(&b);
	CHECK_EQ(k8s_base64_decode("aGVsbG8", &b), -EINVAL);  /* dangling bits */
	CHECK_EQ(k8s_base64_decode("aG=Vs", &b), -EINVAL);    /* data after padding */
	CHECK_EQ(k8s_base64_decode("a$==", &b), -EINVAL);
}

TEST(rfc3339)
{
	int64_t ns;

	CHECK_EQ(k8s_parse_rfc3339("1970-01-01T00:01:00Z", &ns), 0);
	CHECK_EQ(ns, 60 * NS_PER_SEC);
	CHECK_EQ(k8s_parse_rfc3339("2024-05-01T12:00:00.5Z", &ns), 0);
	CHECK_EQ(ns, INT64_C(1714564800) * NS_PER_SEC + 500 * NS_PER_MS);
	CHECK_EQ(k8s_parse_rfc3339("2024-05-01T14:00:00+02:00", &ns), 0);
	CHECK_EQ(ns, INT64_C(1714564800) * NS_PER_SEC);
	CHECK_EQ(k8s_parse_rfc3339("2024-05-01 12:00:00", &ns), -EINVAL);
	CHECK_EQ(k8s_parse_rfc3339("2024-05-01T12:00:00", &ns), -EINVAL);
}

TEST(exec_credential_parsing)
{
	static const char *const ok =
		"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		"\"status\":{\"token\":\"k8s-aws-v1.abc\",\"expirationTimestamp\":"
		"\"2030-01-01T00:00:00Z\"}}";
	static const struct {
		const char *json, *err;
	} bad[] = {
		{"not json", "its output is not JSON"},
		{"{\"kind\":\"Status\"}", "its output is not an ExecCredential"},
		{"{\"kind\":\"ExecCredential\","
		 "\"apiVersion\":\"client.authentication.k8s.io/v1beta1\"}",
		 "it answered apiVersion client.authentication.k8s.io/v1beta1, expected "
		 "client.authentication.k8s.io/v1"},
		{"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\"}",
		 "its ExecCredential has no status"},
		{"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
		 "\"status\":{}}",
		 "its ExecCredential has neither status.token nor status.clientCertificateData"},
		{"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
		 "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
		 "status.expirationTimestamp \"tomorrow\" is not RFC 3339"},
	};
	struct k8s_exec_result res;
	char err[256];

	CHECK_EQ(k8s_exec_parse(ok, strlen(ok), "client.authentication.k8s.io/v1", &res, err,
				sizeof(err)),
		 0);
	CHECK_STR(res.token.data, "k8s-aws-v1.abc");
	CHECK_EQ(res.expiry_ns, INT64_C(1893456000) * NS_PER_SEC);
	k8s_exec_result_free(&res);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(k8s_exec_parse(bad[i].json, strlen(bad[i].json),
				     "client.authentication.k8s.io/v1", &res, err, sizeof(err)) < 0);
		CHECK_STR(err, bad[i].err);
	}
}

TEST(exec_plugin_runs_without_a_shell)
{
	char kc[2048], script[1024], err[512];
	struct k8s_config *c = NULL;
	const char *plugin;

	/* the token echoes an argument, an env entry and KUBERNETES_EXEC_INFO's presence;
	 * it expires in 30 s, inside the refresh margin: every use runs the plugin again */
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "n=$(cat %s/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/runs\n"
		 "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) info=yes;; *) info=no;; esac\n"
		 "exp=$(date -u -d @$(( $(date +%%s) + 30 )) +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
		 "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
		 "\"ExecCredential\",\"status\":{\"token\":\"%%s-%%s-%%s-%%s\","
		 "\"expirationTimestamp\":\"%%s\"}}' \"$1\" \"$CLUSTER\" $info $n $exp\n",
		 tmp(), tmp());
	plugin = put("bin/plugin.sh", script);
	chmod(plugin, 0755);
	snprintf(kc, sizeof(kc),
		 KC_HEAD "clusters:\n- name: dev-cluster\n  cluster: {server: 'https://a'}\n"
			 "users:\n- name: dev-user\n  user:\n    exec:\n"
			 "      apiVersion: client.authentication.k8s.io/v1beta1\n"
			 "      command: ./bin/plugin.sh\n"
			 "      args: [\"arg with spaces\"]\n"
			 "      env: [{name: CLUSTER, value: prod}]\n"
			 "      interactiveMode: IfAvailable\n");
	CHECK_EQ(load_kubeconfig(put("kc-exec", kc), &c, err, sizeof(err)), 0);
	/* the plugin runs on first use, not at load time */
	CHECK_EQ(k8s_creds_refreshes(c->creds), 0);
	CHECK_STR(token_of(c), "arg with spaces-prod-yes-1");
	/* a credential that expires within the margin is used for a second at most */
	CHECK_STR(token_of(c), "arg with spaces-prod-yes-1");
	usleep(1100 * 1000);
	CHECK_STR(token_of(c), "arg with spaces-prod-yes-2");
	CHECK_EQ(k8s_creds_refreshes(c->creds), 2);
	k8s_config_free(c);

	/* a failing plugin: an error, and no token */
	plugin = put("bin/fail.sh", "#!/bin/sh\necho 'no credentials' >&2\nexit 3\n");
	chmod(plugin, 0755);
	{
		struct k8s_exec_spec spec = {0};
		struct k8s_exec_result res;
		char *args[] = {(char *)plugin, NULL};
		spec.command = (char *)plugin;
		spec.args = args;
		spec.api_version = "client.authentication.k8s.io/v1";
		CHECK(k8s_exec_run(&spec, &res, err, sizeof(err)) < 0);
		CHECK(strstr(err, "exited with status 3") != NULL);
	}
}

TEST(cleanup)
{
	test_rmtree(tmp());
	free(dir_);
	dir_ = NULL;
}
