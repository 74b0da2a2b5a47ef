/*
 * Security: what comes from pods and processes is data, never a path, a format string
 * or a command (SECURITY.md, "Input from pods and processes"), and the HTTP server is
 * read-only and bounded from the outside too (its unit tests, tests/unit/httpserver.c,
 * check the details: 405, 413, 431, idle clients, time-outs).
 *
 * Hostile names: an owner reference, a node name, a container name and an annotation
 * of pods in the fake API server, a --target service name, and the name of a Go
 * executable, all holding "../", "%n%s", "$(touch ...)", backquotes, HTML and
 * newlines. Both roles run over them at debug level. Nothing is created outside the
 * output directories and every file name in them is tame; no command ran; no log line,
 * /metrics line or /processes line was forged by a newline; /targets?format=json keeps
 * the names exactly, and the HTML page escapes them.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_common.h"
#include "k8s_fake.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

/* No line of text starts with "FORGED": a newline inside a name would start one. */
static int forged_line(const char *text, const char *what)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "FORGED", 6) == 0) {
			fprintf(stderr, "  a forged line in %s: %.80s\n", what, p);
			return 1;
		}
	}
	return 0;
}

/* Every entry under dir has a tame name and stays inside (no symbolic links). */
static int tame_tree(const char *dir, int *files)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ok = 1;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && ok) {
		char path[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (const char *c = de->d_name; *c && ok; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
		if (!ok || strstr(de->d_name, "..")) {
			fprintf(stderr, "  an untame name under %s: \"%s\"\n", dir, de->d_name);
			ok = 0;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode)) {
			ok = 0;
			break;
		}
		if (S_ISDIR(st.st_mode))
			ok = tame_tree(path, files);
		else
			(*files)++;
	}
	closedir(d);
	return ok;
}

static int exists_any(const char *dir)
{
	const char *names[] = {"PWNED", "PWNED2", "PWNED3", "PWNED4"};
	char path[1024];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (access(path, F_OK) == 0)
			return 1;
		snprintf(path, sizeof(path), "%s", names[i]); /* the working directory */
		if (access(path, F_OK) == 0)
			return 1;
	}
	return 0;
}

static int post_pod(struct fake_kube *k, const char *name, const char *owner,
		    const char *node, const char *container, const char *port)
{
	cJSON *pod = cJSON_CreateObject(), *md, *an, *owners, *o, *spec, *cs, *c, *st;
	char *text;
	int r;

	md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", "default");
	an = cJSON_AddObjectToObject(md, "annotations");
	cJSON_AddStringToObject(an, "coroot.com/profile-scrape", "true");
	cJSON_AddStringToObject(an, "coroot.com/profile-port", port);
	cJSON_AddStringToObject(an, "coroot.com/profile-types", "heap,goroutine");
	owners = cJSON_AddArrayToObject(md, "ownerReferences");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", "apps/v1");
	cJSON_AddStringToObject(o, "kind", "DaemonSet");
	cJSON_AddStringToObject(o, "name", owner);
	cJSON_AddStringToObject(o, "uid", "0b5e7e2a-0000-4000-8000-000000000001");
	cJSON_AddBoolToObject(o, "controller", 1);
	cJSON_AddItemToArray(owners, o);
	spec = cJSON_AddObjectToObject(pod, "spec");
	cJSON_AddStringToObject(spec, "nodeName", node);
	cs = cJSON_AddArrayToObject(spec, "containers");
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "name", container);
	cJSON_AddItemToArray(cs, c);
	st = cJSON_AddObjectToObject(pod, "status");
	cJSON_AddStringToObject(st, "phase", "Running");
	cJSON_AddStringToObject(st, "podIP", "127.0.0.1");
	text = cJSON_PrintUnformatted(pod);
	r = fake_kube_post(k, "pods", text, NULL);
	cJSON_free(text);
	cJSON_Delete(pod);
	return r == 200 ? 0 : -EIO;
}

TEST(hostile_names_are_inert)
{
	char *dir = test_tmpdir("sec-names"), owner[512], node[128], container[128], badport[128],
	     target[1024], exe[1024], procroot[600], exedir[600], real[PATH_MAX];
	struct fake_kube k;
	struct fc_role cl, nd;
	struct buf json, html, metrics, procs, lc, ln;
	int files = 0, port, r;
	pid_t srv, prog;
	cJSON *doc;

	buf_init(&json, 0);
	buf_init(&html, 0);
	buf_init(&metrics, 0);
	buf_init(&procs, 0);
	buf_init(&lc, 0);
	buf_init(&ln, 0);
	fake_global_init();
	r = fake_kube_start(&k, NULL);
	if (r == -ENOENT)
		SKIP("python3 or the fake API server is missing");
	CHECK_EQ(r, 0);
	snprintf(owner, sizeof(owner),
		 "../../d%%n%%s$(touch %s/PWNED)`touch %s/PWNED2`\nFORGED-OWNER <script>x</script>",
		 dir, dir);
	snprintf(node, sizeof(node), "n%%n%%s\nFORGED-NODE");
	snprintf(container, sizeof(container), "c/../%%s%%n\nFORGED-CONTAINER");
	snprintf(badport, sizeof(badport), "abc\nFORGED-ANNOTATION%%n%%s");
	port = test_free_port();
	srv = fc_pprofsrv(port, NULL);
	CHECK(srv > 0);
	{
		char p[16];
		snprintf(p, sizeof(p), "%d", port);
		CHECK_EQ(post_pod(&k, "evil", owner, node, container, p), 0);
		CHECK_EQ(post_pod(&k, "badport", owner, node, container, badport), 0);
	}
	snprintf(target, sizeof(target),
		 "svc/../../%%n%%s$(touch %s/PWNED3)\nFORGED-TARGET<i>=http://127.0.0.1:%d", dir,
		 port);

	/* a Go executable with a hostile name, for the node role */
	snprintf(exedir, sizeof(exedir), "%s/bin", dir);
	mkdir(exedir, 0755);
	snprintf(exe, sizeof(exe), "%s/evil%%n%%s$(touch PWNED4)\nFORGED-EXE <b>", exedir);
	{
		const char *go = test_go_newest(), *p = go ? strstr(go, "go-1.") : NULL;
		char src[1024], cmd[4096];
		snprintf(src, sizeof(src), "%s/go1.%d/churn-exe", test_go_cache_dir(),
			 p ? atoi(p + 5) : 0);
		snprintf(cmd, sizeof(cmd), "cp '%s' \"$DEST\"", src);
		setenv("DEST", exe, 1);
		CHECK_EQ(test_sh(cmd, NULL, 1), 0);
		unsetenv("DEST");
	}
	{
		char *argv[] = {exe, "-child", "-min", "1h", "-max", "1h", NULL};
		prog = test_spawn(argv, NULL, NULL);
		fc_track(prog);
	}
	CHECK(prog > 0);
	snprintf(procroot, sizeof(procroot), "%s/proc", dir);
	fc_proc_link(procroot, prog);

	fc_role_init(&cl, "cluster", dir);
	fc_role_arg(&cl, "--kubeconfig");
	fc_role_arg(&cl, k.kubeconfig);
	fc_role_arg(&cl, "--target");
	fc_role_arg(&cl, target);
	fc_role_arg(&cl, "--scrape-interval=2s");
	fc_role_arg(&cl, "--scrape-types=heap,goroutine");
	fc_role_arg(&cl, "--log-level=debug");
	fc_role_init(&nd, "node", dir);
	fc_role_arg(&nd, "--interval=1s");
	fc_role_arg(&nd, "--proc-root");
	fc_role_arg(&nd, procroot);
	fc_role_arg(&nd, "--log-level=debug");
	CHECK_EQ(fc_role_start(&cl), 0);
	CHECK_EQ(fc_role_start(&nd), 0);
	usleep(5500000);
	CHECK_EQ(fc_role_get(&cl, "/targets?format=json", &json), 200);
	CHECK_EQ(fc_role_get(&cl, "/targets", &html), 200);
	CHECK_EQ(fc_role_get(&cl, "/metrics", &metrics), 200);
	CHECK_EQ(fc_role_get(&nd, "/metrics", &metrics), 200);
	CHECK_EQ(fc_role_get(&nd, "/processes", &procs), 200);
	CHECK_EQ(fc_role_stop(&cl), 0);
	CHECK_EQ(fc_role_stop(&nd), 0);
	test_read_file(cl.log, &lc);
	test_read_file(nd.log, &ln);

	/* no command ran */
	CHECK(!exists_any(dir));
	/* the names were logged (escaped), and forged no line */
	CHECK_MSG(strstr(lc.data, "\\nFORGED-ANNOTATION") != NULL, "%s", lc.data);
	CHECK(!forged_line(lc.data, "the cluster log"));
	CHECK(!forged_line(ln.data, "the node log"));
	CHECK(!forged_line(metrics.data, "/metrics"));
	CHECK(!forged_line(procs.data, "/processes"));
	/* names kept exactly where they are data (JSON), escaped in HTML */
	doc = cJSON_Parse(json.data);
	CHECK(doc != NULL);
	{
		const cJSON *t;
		int seen_owner = 0, seen_target = 0;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "targets"))
		{
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "service_name");
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "labels");
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(l, "container");
			if (cJSON_IsString(s) && strstr(s->valuestring, owner))
				seen_owner = cJSON_IsString(c) && strcmp(c->valuestring, container) == 0;
			if (cJSON_IsString(s) && strstr(s->valuestring, "\nFORGED-TARGET<i>"))
				seen_target = 1;
		}
		cJSON_Delete(doc);
		CHECK_MSG(seen_owner && seen_target, "%s", json.data);
	}
	CHECK(strstr(html.data, "<script>") == NULL && strstr(html.data, "<i>") == NULL);
	CHECK(strstr(html.data, "&lt;script&gt;") != NULL);
	/* files only inside the output directories, with tame names */
	CHECK(tame_tree(cl.out, &files));
	CHECK(tame_tree(nd.out, &files));
	CHECK(files > 0);
	{
		struct fc_bodies b = {0};
		fc_bodies_from_dir(&b, nd.out);
		CHECK_MSG(b.n > 0, "the node role wrote nothing for the hostile executable");
		fc_bodies_free(&b);
		b.n = 0;
		fc_bodies_from_dir(&b, cl.out);
		CHECK_MSG(b.n > 0, "the cluster role wrote nothing");
		fc_bodies_free(&b);
	}
	{
		/* nothing appeared next to the test directory either */
		char parent[PATH_MAX + 8], cmd[PATH_MAX + 128];
		struct buf o;
		CHECK(realpath(dir, real) != NULL);
		snprintf(parent, sizeof(parent), "%s/..", real);
		buf_init(&o, 0);
		snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c -e FORGED -e PWNED -e '^d%%n'",
			 parent);
		test_sh(cmd, &o, 0);
		CHECK_EQ(atoi(o.data ? o.data : "0"), 0);
		buf_free(&o);
	}

	test_stop(prog, 3000);
	test_stop(srv, 3000);
	fake_kube_stop(&k);
	fc_role_free(&cl, 0);
	fc_role_free(&nd, 0);
	buf_free(&json);
	buf_free(&html);
	buf_free(&metrics);
	buf_free(&procs);
	buf_free(&lc);
	buf_free(&ln);
	test_rmtree(dir);
	free(dir);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static long custom(const char *method, const char *url)
{
	CURL *c = curl_easy_init();
	long status = -1;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* A connection to 127.0.0.1:port from 127.0.0.2 (another client address). */
static int connect_from_other(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
			connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

TEST(http_server_is_read_only_end_to_end)
{
	char *dir = test_tmpdir("sec-http"), url[256], *hdr;
	const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"};
	const char *paths[] = {"/metrics", "/processes", "/healthz", "/readyz"};
	struct fc_role nd;
	int fds[200], nfd = 0, port;
	struct buf out;

	fake_global_init();
	buf_init(&out, 0);
	fc_role_init(&nd, "node", dir);
	fc_role_arg(&nd, "--interval=60s");
	CHECK_EQ(fc_role_start(&nd), 0);
	port = atoi(strchr(nd.listen, ':') + 1);
	for (size_t m = 0; m < ARRAY_SIZE(methods); m++) {
		for (size_t p = 0; p < ARRAY_SIZE(paths); p++) {
			snprintf(url, sizeof(url), "http://%s%s", nd.listen, paths[p]);
			CHECK_MSG(custom(methods[m], url) == 405, "%s %s", methods[m], paths[p]);
		}
	}
	snprintf(url, sizeof(url), "http://%s/../../../../etc/passwd", nd.listen);
	CHECK_EQ(test_http_get(url, &out), 404);
	CHECK(strstr(out.data ? out.data : "", "root:") == NULL);
	/* a 64 KiB header is refused (431) or the connection closed, never served */
	{
		CURL *c = curl_easy_init();
		struct curl_slist *h;
		long st = 0;
		hdr = malloc(70000);
		memcpy(hdr, "X-Big: ", 7);
		memset(hdr + 7, 'a', 65536);
		hdr[65543] = '\0';
		h = curl_slist_append(NULL, hdr);
		snprintf(url, sizeof(url), "http://%s/metrics", nd.listen);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		free(hdr);
		CHECK_MSG(st == 431 || st == 0, "status %ld", st);
	}
	/* 200 idle connections from one address do not keep other clients out (the
	 * kubelet's probe, Prometheus) */
	for (int i = 0; i < 200; i++) {
		int fd = connect_from_other(port);
		if (fd >= 0)
			fds[nfd++] = fd;
	}
	{
		int64_t t0 = time_mono_ns();
		snprintf(url, sizeof(url), "http://%s/healthz", nd.listen);
		CHECK_EQ(test_http_get(url, NULL), 200);
		CHECK((time_mono_ns() - t0) < 3 * NS_PER_SEC);
	}
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	CHECK_EQ(fc_role_stop(&nd), 0);
	fc_role_free(&nd, 0);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}
