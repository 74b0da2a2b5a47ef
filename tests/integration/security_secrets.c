/*
 * Security: credentials stay secret, and TLS is verified unless explicitly turned off
 * (SECURITY.md, "Credentials" and "TLS").
 *
 * Secrets: both roles run at debug level with distinctive secrets in every place one
 * can be given: the Coroot API key (API_KEY), the scrape bearer token file, the basic
 * auth password file, the kubeconfig's token (the fake API server requires it, over
 * TLS). Pods ask for bearer and basic auth. The receiver goes down for a while so that
 * profiles are spooled. Then every log, /metrics, /targets (JSON and HTML),
 * /processes, every spool file (header and body) and every file of the directory sink
 * (names and bytes) is searched for each secret, and for the base64 of the basic auth
 * pair: none may appear.
 *
 * TLS: an https Coroot receiver with a certificate from a CA podprof does not know is
 * refused (nothing delivered, the log names the certificate problem); with
 * --insecure-skip-verify it is used and a warning says so once, at start; with
 * --ca-file it is verified. The same for an https scrape target (openssl s_server
 * serving pprof files): refused, then --scrape-insecure-skip-verify (warned once),
 * then --scrape-ca-file.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_common.h"
#include "k8s_fake.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

#define API_KEY "apikey-5ecret-7f3a91"
#define BEARER "bearer-5ecret-c0ffee42"
#define PASSWORD "basicpw-5ecret-d00d17"
#define KUBE_TOKEN "kubetoken-5ecret-beef99"
#define BASIC_USER "scraper"

static void b64(const char *in, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

/* Which secret, if any, appears in data; NULL when none. */
static const char *leaked(const void *data, size_t len)
{
	static char basic[128];
	static const char *secrets[] = {API_KEY, BEARER, PASSWORD, KUBE_TOKEN, basic};

	if (!basic[0])
		b64(BASIC_USER ":" PASSWORD, basic);
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
		if (data && memmem(data, len, secrets[i], strlen(secrets[i])))
			return secrets[i];
	return NULL;
}

/* Searches every file under dir (names and contents). Returns files searched, or -1
 * on a leak. */
static int search_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n >= 0) {
		char path[4096];
		struct stat st;
		struct buf b;
		const char *s;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((s = leaked(de->d_name, strlen(de->d_name))) != NULL) {
			fprintf(stderr, "  %s in the name of %s\n", s, path);
			n = -1;
			break;
		}
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int k = search_tree(path);
			n = k < 0 ? -1 : n + k;
			continue;
		}
		buf_init(&b, 0);
		test_read_file(path, &b);
		if ((s = leaked(b.data, b.len)) != NULL) {
			fprintf(stderr, "  %s in %s\n", s, path);
			n = -1;
		} else {
			n++;
		}
		buf_free(&b);
	}
	closedir(d);
	return n;
}

static int clean(const struct buf *b, const char *what)
{
	const char *s = leaked(b->data, b->len);

	if (s)
		fprintf(stderr, "  %s in %s\n", s, what);
	return s == NULL;
}

static int post(struct fake_kube *k, const char *name, int port, const char *auth)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"metadata\": {\"name\": \"%s\", \"namespace\": \"default\", \"annotations\":"
		 " {\"coroot.com/profile-scrape\": \"true\", \"coroot.com/profile-port\": \"%d\","
		 " \"coroot.com/profile-types\": \"heap,goroutine\","
		 " \"coroot.com/profile-auth\": \"%s\"}},"
		 " \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}",
		 name, port, auth);
	return fake_kube_post(k, "pods", json, NULL) == 200 ? 0 : -EIO;
}

TEST(secrets_never_leave_their_headers)
{
	char *dir = test_tmpdir("sec-secrets"), tokfile[600], pwfile[600], procroot[600],
	     user[128];
	struct fake_kube_opts ko = {.tls = 1, .token = KUBE_TOKEN,
				    .kubeconfig_user = "{token: " KUBE_TOKEN "}"};
	struct fake_kube k;
	struct fake_coroot f;
	struct fc_role cl, nd;
	struct buf pages, lc, ln;
	char *env[] = {"API_KEY=" API_KEY, "PATH=/usr/bin:/bin", NULL};
	const char *recv[] = {"--api-key", API_KEY, NULL};
	pid_t srv, prog;
	int port, r;

	buf_init(&pages, 0);
	buf_init(&lc, 0);
	buf_init(&ln, 0);
	fake_prepare(&f, "sec-coroot");
	r = fake_kube_start(&k, &ko);
	if (r == -ENOENT)
		SKIP("python3 or the fake API server is missing");
	CHECK_EQ(r, 0);
	CHECK_EQ(fake_start(&f, recv), 0);
	snprintf(tokfile, sizeof(tokfile), "%s/token", dir);
	snprintf(pwfile, sizeof(pwfile), "%s/password", dir);
	CHECK_EQ(test_write_file(tokfile, BEARER "\n", strlen(BEARER) + 1), 0);
	CHECK_EQ(test_write_file(pwfile, PASSWORD "\n", strlen(PASSWORD) + 1), 0);
	port = test_free_port();
	srv = fc_pprofsrv(port, NULL);
	CHECK(srv > 0);
	CHECK_EQ(post(&k, "bearer", port, "bearer"), 0);
	CHECK_EQ(post(&k, "basic", port, "basic"), 0);
	{
		const char *args[] = {"-child", "-min", "1h", "-max", "1h", NULL};
		prog = fc_go_spawn("churn-exe", args, NULL);
	}
	CHECK(prog > 0);
	snprintf(procroot, sizeof(procroot), "%s/proc", dir);
	fc_proc_link(procroot, prog);

	snprintf(user, sizeof(user), "--scrape-basic-auth-user=%s", BASIC_USER);
	fc_role_init(&cl, "cluster", dir);
	cl.envp = env;
	fc_role_arg(&cl, "--kubeconfig");
	fc_role_arg(&cl, k.kubeconfig);
	fc_role_arg(&cl, "--profiles-endpoint");
	fc_role_arg(&cl, f.url);
	fc_role_arg(&cl, "--scrape-interval=2s");
	fc_role_arg(&cl, "--scrape-types=heap,goroutine");
	fc_role_arg(&cl, "--scrape-bearer-token-file");
	fc_role_arg(&cl, tokfile);
	fc_role_arg(&cl, user);
	fc_role_arg(&cl, "--scrape-basic-auth-password-file");
	fc_role_arg(&cl, pwfile);
	fc_role_arg(&cl, "--log-level=debug");
	fc_role_arg(&cl, "--retry-backoff-max=1s");
	fc_role_init(&nd, "node", dir);
	nd.envp = env;
	fc_role_arg(&nd, "--interval=1s");
	fc_role_arg(&nd, "--proc-root");
	fc_role_arg(&nd, procroot);
	fc_role_arg(&nd, "--profiles-endpoint");
	fc_role_arg(&nd, f.url);
	fc_role_arg(&nd, "--log-level=debug");
	fc_role_arg(&nd, "--retry-backoff-max=1s");
	CHECK_EQ(fc_role_start(&cl), 0);
	CHECK_EQ(fc_role_start(&nd), 0);
	CHECK_EQ(fake_wait_count(&f, 4, 20000), 0);
	/* the receiver accepted the key: it was sent where it belongs */
	{
		cJSON *reqs = fake_requests(&f), *q;
		int keyed = 0;
		cJSON_ArrayForEach(q, reqs)
		{
			const char *h = fake_header(q, "x-api-key");
			keyed += h && strcmp(h, API_KEY) == 0;
		}
		cJSON_Delete(reqs);
		CHECK(keyed >= 4);
	}
	/* down for a while: profiles wait in the spools */
	fake_stop(&f);
	usleep(3000000);
	CHECK_EQ(fc_role_get(&cl, "/metrics", &pages), 200);
	CHECK_EQ(fc_role_get(&cl, "/targets?format=json", &pages), 200);
	CHECK_EQ(fc_role_get(&cl, "/targets", &pages), 200);
	CHECK_EQ(fc_role_get(&nd, "/metrics", &pages), 200);
	CHECK_EQ(fc_role_get(&nd, "/processes", &pages), 200);
	/* discovery worked (the kubeconfig token was sent) and both auth kinds are used */
	CHECK_MSG(strstr(pages.data, "\"pod\":\"bearer\"") &&
			  strstr(pages.data, "\"pod\":\"basic\""),
		  "the targets are missing: %s", pages.data);
	CHECK(fc_role_stop(&cl) >= 0);
	CHECK(fc_role_stop(&nd) >= 0);
	test_read_file(cl.log, &lc);
	test_read_file(nd.log, &ln);
	CHECK_MSG(lc.len > 0 && strstr(lc.data, "DEBUG") != NULL, "no debug lines");
	CHECK(clean(&lc, "the cluster log"));
	CHECK(clean(&ln, "the node log"));
	CHECK(clean(&pages, "the HTTP pages"));
	{
		int a = search_tree(cl.spool), b = search_tree(nd.spool);
		int c = search_tree(cl.out), d = search_tree(nd.out);
		printf("  searched %d + %d spool files, %d + %d output files\n", a, b, c, d);
		CHECK(a > 0 && b > 0 && c > 0 && d > 0);
	}
	test_stop(srv, 3000);
	test_stop(prog, 3000);
	fake_kube_stop(&k);
	fake_cleanup(&f);
	fc_role_free(&cl, 0);
	fc_role_free(&nd, 0);
	buf_free(&pages);
	buf_free(&lc);
	buf_free(&ln);
	test_rmtree(dir);
	free(dir);
}

/* ---- TLS ------------------------------------------------------------------------------ */

static int certs(char *dir, size_t len)
{
	char cmd[2048];

	snprintf(dir, len, "%s/kube-certs", test_binary_dir());
	snprintf(cmd, sizeof(cmd), "sh %s/tests/tools/kube_certs.sh %s", test_source_dir(), dir);
	return test_sh(cmd, NULL, 0) == 0 ? 0 : -EIO;
}

/* `podprof upload` of one profile to url with extra options; returns the log. */
static int upload(const char *dir, const char *url, const char *opt, struct buf *log)
{
	char in[600], logpath[600], cmd[4096];
	static int seq;

	snprintf(in, sizeof(in), "%s/in", dir);
	mkdir(in, 0755);
	if (test_write_profiles(in, 1, 1, 0) != 0)
		return -EIO;
	snprintf(logpath, sizeof(logpath), "%s/upload%d.log", dir, ++seq);
	snprintf(cmd, sizeof(cmd),
		 "%s upload --service-name tls --profiles-endpoint %s --flush-timeout %ds "
		 "--retry-backoff-min 200ms --listen= %s %s/000001.pb.gz",
		 test_podprof_bin(), url, 3 * test_time_scale(), opt, in);
	return test_sh(cmd, log, 1);
}

TEST(tls_is_verified_unless_turned_off)
{
	char *dir = test_tmpdir("sec-tls"), cd[600], cert[700], key[700], ca[700], opt[800];
	const char *tls[] = {"--tls-cert", cert, "--tls-key", key, NULL};
	struct fake_coroot f;
	struct buf log;

	buf_init(&log, 0);
	if (certs(cd, sizeof(cd)) != 0)
		SKIP("openssl cannot make the test certificates");
	snprintf(cert, sizeof(cert), "%s/server.crt", cd);
	snprintf(key, sizeof(key), "%s/server.key", cd);
	snprintf(ca, sizeof(ca), "%s/ca.crt", cd);
	fake_prepare(&f, "sec-tls-coroot");
	CHECK_EQ(fake_start(&f, tls), 0);
	snprintf(f.url, sizeof(f.url), "https://127.0.0.1:%d/v1/profiles", f.port);

	/* an unknown CA: refused */
	CHECK(upload(dir, f.url, "", &log) != 0);
	CHECK_EQ(fake_count(&f), 0);
	CHECK_MSG(strstr(log.data, "certificate") || strstr(log.data, "SSL"), "%s", log.data);
	/* verification off: used, and said once at start */
	buf_reset(&log);
	CHECK_EQ(upload(dir, f.url, "--insecure-skip-verify", &log), 0);
	CHECK_EQ(fake_count(&f), 1);
	{
		const char *w = strstr(log.data, "verification is off");
		CHECK_MSG(w && !strstr(w + 1, "verification is off"), "%s", log.data);
		CHECK(strstr(log.data, "WARN") != NULL);
	}
	/* the right CA: verified, no warning */
	buf_reset(&log);
	snprintf(opt, sizeof(opt), "--ca-file %s", ca);
	CHECK_EQ(upload(dir, f.url, opt, &log), 0);
	CHECK_EQ(fake_count(&f), 2);
	CHECK(strstr(log.data, "verification is off") == NULL);
	fake_cleanup(&f);

	/* an https scrape target */
	{
		char www[600], path[700], logpath[700], accept[32], tgt[128], out[700];
		struct buf body, cl;
		pid_t s;
		int port = test_free_port();
		const char *modes[] = {"", "--scrape-insecure-skip-verify", opt};
		int want_files[] = {0, 1, 1};

		snprintf(www, sizeof(www), "%s/www/debug/pprof", dir);
		{
			char cmd[800];
			snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", www);
			CHECK_EQ(test_sh(cmd, NULL, 0), 0);
		}
		buf_init(&body, 0);
		CHECK_EQ(test_profile_body(7, &body), 0);
		snprintf(path, sizeof(path), "%s/goroutine", www);
		CHECK_EQ(test_write_file(path, body.data, body.len), 0);
		buf_free(&body);
		snprintf(accept, sizeof(accept), "%d", port);
		snprintf(logpath, sizeof(logpath), "%s/s_server.log", dir);
		{
			char cmd[2048];
			snprintf(cmd, sizeof(cmd),
				 "cd '%s/www' && exec openssl s_server -quiet -accept 127.0.0.1:%d "
				 "-cert '%s' -key '%s' -WWW",
				 dir, port, cert, key);
			char *argv[] = {"/bin/sh", "-c", cmd, NULL};
			s = test_spawn(argv, NULL, logpath);
			fc_track(s);
		}
		CHECK_EQ(test_wait_port(port, 10000), 0);
		snprintf(tgt, sizeof(tgt), "--target=https://127.0.0.1:%d", port);
		snprintf(opt, sizeof(opt), "--scrape-ca-file=%s", ca);
		for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
			char cmd[4096];
			struct fc_bodies b = {0};
			snprintf(out, sizeof(out), "%s/scraped%zu", dir, m);
			snprintf(cmd, sizeof(cmd),
				 "%s cluster --once %s --scrape-types=goroutine --listen= "
				 "--output-dir %s %s",
				 test_podprof_bin(), tgt, out, modes[m]);
			buf_init(&cl, 0);
			test_sh(cmd, &cl, 1);
			fc_bodies_from_dir(&b, out);
			CHECK_MSG((b.n > 0) == want_files[m], "%s: %zu files\n%s", modes[m], b.n,
				  cl.data);
			if (m == 0)
				CHECK_MSG(strstr(cl.data, "certificate") || strstr(cl.data, "SSL"),
					  "%s", cl.data);
			if (m == 1) {
				const char *w = strstr(cl.data, "verification of https scrape");
				CHECK_MSG(w && !strstr(w + 1, "verification of https scrape"), "%s",
					  cl.data);
			}
			if (m == 2)
				CHECK(strstr(cl.data, "verification of https scrape") == NULL);
			fc_bodies_free(&b);
			buf_free(&cl);
		}
		test_stop(s, 2000);
	}
	buf_free(&log);
	test_rmtree(dir);
	free(dir);
}
