/*
 * `podprof targets` end to end against the fake API server: the listing (ids, URLs,
 * service names, labels), the selectors and the node mode, in-cluster configuration
 * from the environment, --watch printing additions, updates and removals until
 * SIGTERM, bad kubeconfigs (exit 2, the file and the field named), an unreachable
 * server (exit 1 after --sync-timeout), and a cross-check with kubectl as an
 * independent client of the same server.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s_fake.h"
#include "support.h"
#include "testing.h"

static int run(struct buf *out, const char *env, const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "%s %s targets %s 2>/dev/null", env ? env : "",
		 test_podprof_bin(), args);
	buf_reset(out);
	return test_sh(cmd, out, 0);
}

static int post_pod(struct fake_kube *f, const char *ns, const char *name, const char *extra)
{
	char body[2048];
	int st;

	snprintf(body, sizeof(body),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{\"tier\":\"%s\"},"
		 "\"annotations\":{\"coroot.com/profile-scrape\":\"true\","
		 "\"coroot.com/profile-port\":\"pprof\"%s}},"
		 "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"app\",\"ports\":"
		 "[{\"name\":\"pprof\",\"containerPort\":6060}]},{\"name\":\"proxy\"}]},"
		 "\"status\":{\"phase\":\"Running\",\"podIP\":\"127.1.0.%zu\"}}",
		 name, ns, strchr(name, 'w') ? "web" : "api", extra ? extra : "",
		 strstr(name, "-2") ? "node-2" : "node-1", strlen(name) + strlen(ns));
	st = fake_kube_post(f, "pods", body, NULL);
	return st == 200 || st == 201 ? 0 : -1;
}

static int populate(struct fake_kube *f)
{
	return post_pod(f, "shop", "api-1", NULL) || post_pod(f, "shop", "web-2", NULL) ||
	       post_pod(f, "blog", "api-2",
			",\"coroot.com/profile-types\":\"heap\","
			"\"coroot.com/profile-cpu-seconds\":\"7\"") ||
	       fake_kube_post(f, "bulk", "{\"count\":20,\"namespace\":\"bench\",\"annotated_every\":0}",
			      NULL) != 200;
}

TEST(lists_targets)
{
	struct fake_kube f;
	struct buf out;
	char args[1024];
	int r = fake_kube_start(&f, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(populate(&f), 0);
	buf_init(&out, 0);
	snprintf(args, sizeof(args), "--kubeconfig %s", f.kubeconfig);
	CHECK_EQ(run(&out, NULL, args), 0);
	CHECK_STR(out.data,
		  "blog/api-2:6060 http://127.1.0.9:6060/debug/pprof /k8s/blog/api namespace=blog "
		  "pod=api-2 node=node-2 container=app types=heap cpu_seconds=7\n"
		  "shop/api-1:6060 http://127.1.0.9:6060/debug/pprof /k8s/shop/api namespace=shop "
		  "pod=api-1 node=node-1 container=app\n"
		  "shop/web-2:6060 http://127.1.0.9:6060/debug/pprof /k8s/shop/web namespace=shop "
		  "pod=web-2 node=node-2 container=app\n");
	/* KUBECONFIG works as the flag does */
	snprintf(args, sizeof(args), "KUBECONFIG=%s:/nonexistent", f.kubeconfig);
	CHECK_EQ(run(&out, args, "--namespace shop"), 0);
	CHECK(strncmp(out.data, "shop/api-1:6060 ", 16) == 0 && strstr(out.data, "blog/") == NULL);
	/* selectors and the node mode are the server's filters */
	snprintf(args, sizeof(args), "--kubeconfig %s --label-selector 'tier in (web)'", f.kubeconfig);
	CHECK_EQ(run(&out, NULL, args), 0);
	CHECK(strncmp(out.data, "shop/web-2:6060 ", 16) == 0 &&
	      !strchr(strchr(out.data, '\n') + 1, '\n'));
	snprintf(args, sizeof(args), "--kubeconfig %s --node node-2", f.kubeconfig);
	CHECK_EQ(run(&out, NULL, args), 0);
	CHECK(strstr(out.data, "shop/api-1") == NULL && strstr(out.data, "shop/web-2") &&
	      strstr(out.data, "blog/api-2"));
	snprintf(args, sizeof(args), "--kubeconfig %s --field-selector metadata.namespace=blog "
				     "--streaming-list off --watch-replicasets=false", f.kubeconfig);
	CHECK_EQ(run(&out, NULL, args), 0);
	CHECK(strncmp(out.data, "blog/api-2:6060 ", 16) == 0 && !strstr(out.data, "shop/"));
	buf_free(&out);
	fake_kube_stop(&f);
}

TEST(same_pods_as_kubectl)
{
	struct fake_kube f;
	struct buf mine, theirs;
	char cmd[2048];
	int r;

	if (access("/usr/bin/kubectl", X_OK) != 0)
		SKIP("no kubectl");
	r = fake_kube_start(&f, &(struct fake_kube_opts){.tls = 1, .token = "tok",
							 .kubeconfig_user = "{token: tok}"});
	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(populate(&f), 0);
	buf_init(&mine, 0);
	buf_init(&theirs, 0);
	/* the annotated running pods as kubectl sees them, in podprof's order */
	snprintf(cmd, sizeof(cmd),
		 "kubectl --kubeconfig %s get pods -A -o jsonpath='{range .items[*]}"
		 "{.metadata.namespace}/{.metadata.name}:6060 {.status.phase} "
		 "{.metadata.annotations.coroot\\.com/profile-scrape}{\"\\n\"}{end}' | "
		 "awk '$2 == \"Running\" && $3 == \"true\" {print $1}' | sort",
		 f.kubeconfig);
	CHECK_EQ(test_sh(cmd, &theirs, 0), 0);
	snprintf(cmd, sizeof(cmd), "%s targets --kubeconfig %s 2>/dev/null | cut -d' ' -f1",
		 test_podprof_bin(), f.kubeconfig);
	CHECK_EQ(test_sh(cmd, &mine, 0), 0);
	CHECK(theirs.len > 0);
	CHECK_STR(mine.data, theirs.data);
	buf_free(&mine);
	buf_free(&theirs);
	fake_kube_stop(&f);
}

TEST(in_cluster_from_the_environment)
{
	struct fake_kube f;
	struct buf out;
	char env[2048], cmd[2048];
	int r = fake_kube_start(&f, &(struct fake_kube_opts){.tls = 1, .token = "sa-token"});

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(populate(&f), 0);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/sa && cp %s/ca.crt %s/sa/", f.dir, f.certs, f.dir);
	CHECK_EQ(test_sh(cmd, NULL, 0), 0);
	fake_kube_file(&f, "sa/token", "sa-token\n");
	buf_init(&out, 0);
	snprintf(env, sizeof(env),
		 "env -u KUBECONFIG HOME=/nonexistent KUBERNETES_SERVICE_HOST=127.0.0.1 "
		 "KUBERNETES_SERVICE_PORT=%d PODPROF_SERVICEACCOUNT_DIR=%s/sa",
		 f.port, f.dir);
	CHECK_EQ(run(&out, env, ""), 0);
	CHECK(strstr(out.data, "shop/api-1:6060 ") != NULL);
	/* the wrong token: 401 until the sync timeout, exit 1 */
	fake_kube_file(&f, "sa/token", "wrong\n");
	CHECK_EQ(run(&out, env, "--sync-timeout 1s"), 1);
	buf_free(&out);
	fake_kube_stop(&f);
}

static int wait_for(const char *path, const char *needle, int timeout_ms)
{
	struct buf b;
	int found = 0;

	buf_init(&b, 0);
	for (int t = 0; t <= timeout_ms && !found; t += 50) {
		buf_reset(&b);
		test_read_file(path, &b);
		found = b.data && strstr(b.data, needle);
		if (!found)
			usleep(50000);
	}
	buf_free(&b);
	return found;
}

TEST(watch_prints_changes_until_sigterm)
{
	struct fake_kube f;
	char out_path[700];
	char *argv[] = {(char *)test_podprof_bin(), "targets", "--kubeconfig", NULL, "--watch",
			"--log-level", "error", NULL};
	int r = fake_kube_start(&f, &(struct fake_kube_opts){.streaming_list = 1});
	pid_t pid;

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(post_pod(&f, "shop", "api-1", NULL), 0);
	snprintf(out_path, sizeof(out_path), "%s/watch.out", f.dir);
	argv[3] = f.kubeconfig;
	pid = test_spawn(argv, NULL, out_path);
	CHECK(pid > 0);
	CHECK(wait_for(out_path, "shop/api-1:6060 http://", 20000));
	CHECK_EQ(post_pod(&f, "shop", "web-2", NULL), 0);
	CHECK(wait_for(out_path, "added shop/web-2:6060 http://127.1.0.9:6060/debug/pprof "
				 "/k8s/shop/web namespace=shop pod=web-2 node=node-2 container=app\n",
		       20000));
	CHECK_EQ(post_pod(&f, "shop", "web-2", ",\"coroot.com/profile-path\":\"/pp\""), 0);
	CHECK(wait_for(out_path, "updated shop/web-2:6060 http://127.1.0.9:6060/pp ", 20000));
	fake_kube_post(&f, "expire", NULL, NULL);
	CHECK_EQ(fake_kube_delete(&f, "pods/shop/api-1"), 200);
	CHECK(wait_for(out_path, "removed shop/api-1:6060 ", 20000));
	CHECK_EQ(test_stop(pid, 5000), 0);
	fake_kube_stop(&f);
}

TEST(bad_configuration_exits_2)
{
	struct fake_kube f;
	struct buf out;
	char cmd[2048], expect[1024];
	const char *kc;
	int r = fake_kube_start(&f, NULL);

	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	buf_init(&out, 0);
	kc = fake_kube_file(&f, "bad.kubeconfig", "current-context: foo\ncontexts: []\n");
	snprintf(cmd, sizeof(cmd), "%s targets --kubeconfig %s", test_podprof_bin(), kc);
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	snprintf(expect, sizeof(expect),
		 "podprof targets: kubeconfig %s: context 'foo' (current-context) not found\n", kc);
	CHECK_STR(out.data, expect);
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s targets --kubeconfig /nonexistent/kc", test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	CHECK_STR(out.data, "podprof targets: kubeconfig /nonexistent/kc: cannot read: No such file "
			    "or directory\n");
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s targets --kubeconfig %s --namespace Not_A_Namespace",
		 test_podprof_bin(), f.kubeconfig);
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	CHECK(strstr(out.data, "namespace \"Not_A_Namespace\" is not a valid namespace name") != NULL);
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s targets --max-pods lots", test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	CHECK(strstr(out.data, "--max-pods") != NULL);
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s targets --streaming-list sometimes", test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	CHECK(strstr(out.data, "auto, off") != NULL);
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST HOME=/nonexistent %s "
				   "targets", test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 2);
	CHECK(strstr(out.data, "no Kubernetes configuration") != NULL);
	/* nothing listens: exit 1 after the sync timeout, with the reason logged */
	buf_reset(&out);
	kc = fake_kube_file(&f, "down.kubeconfig",
			    "current-context: x\ncontexts: [{name: x, context: {cluster: x}}]\n"
			    "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:1'}}]\n");
	snprintf(cmd, sizeof(cmd), "%s targets --kubeconfig %s --sync-timeout 1s",
		 test_podprof_bin(), kc);
	CHECK_EQ(test_sh(cmd, &out, 1), 1);
	CHECK(strstr(out.data, "did not complete within 1 s") != NULL);
	CHECK(strstr(out.data, "Connection refused") || strstr(out.data, "connect"));
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "%s targets --help", test_podprof_bin());
	CHECK_EQ(test_sh(cmd, &out, 1), 0);
	CHECK(strncmp(out.data, "Usage: podprof targets", 22) == 0);
	CHECK(strstr(out.data, "--kubeconfig FILE") && strstr(out.data, "KUBECONFIG"));
	buf_free(&out);
	fake_kube_stop(&f);
}
