/*
 * Fault injection, peers: both roles run (the cluster role discovering annotated pods
 * through the fake API server and scraping Go pprof servers, the node role reading
 * churn processes (allocating Go programs) every second), both uploading to the fake Coroot receiver with a
 * small spool, while each peer in turn misbehaves:
 *
 *   - the receiver is SIGKILLed and comes back 3 s later;
 *   - the API server drops its watches, expires every resource version (410), restarts
 *     with a new etcd, the pods change meanwhile, and it is SIGKILLed and started again
 *     on its port (resource versions start over: podprof's are "too large" for it);
 *   - a Go target is SIGKILLed and restarted on its port (its counters start over);
 *   - a profiled process is SIGSTOPped while the node role reads it, for 3 s;
 *   - the receiver is down for 10 s, long enough to fill the spool to its bound;
 *   - both roles are stopped (SIGTERM) while the receiver is down and started again
 *     on the same spool.
 *
 * At the end: every profile the uploader accepted (each one is also written to the
 * output directory, the same bytes) was received exactly once or is still in the
 * spool, or was counted as dropped in the uploader's final log lines, by number;
 * duplicates only where an answer can have been lost (a receiver SIGKILLed during a
 * request, a transfer aborted by a stop); the spool never held more than its bound;
 * the target set equals the annotated Running pods of the API server; the resident
 * memory of each podprof process stayed under 48 MiB, sampled every 100 ms; and open
 * descriptors and threads, counted at a quiet moment after start-up, are back to
 * that baseline after the faults.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_fixture.h"
#include "support.h"
#include "testing.h"

#define SPOOL_MAX_BYTES (128 * 1024)
#define RSS_BOUND_KIB (48 * 1024)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* Memory is bounded for a podprof as shipped: not under a sanitizer or valgrind. */
static int memory_checked(void)
{
	return !UNDER_SANITIZER && !getenv("PODPROF_WRAPPER");
}

/* Bytes of the complete spool files in dir. */
static long spool_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	while (d && (de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (de->d_name[0] == '.' || !strstr(de->d_name, ".spool"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0)
			n += (long)st.st_size;
	}
	if (d)
		closedir(d);
	return n;
}

/* Waits ms while watching that neither spool grows past its bound; returns the
 * largest size seen. */
static long watch_spools(struct fixture *x, int ms)
{
	long most = 0;

	for (int t = 0; t < ms; t += 100) {
		long a = spool_bytes(x->cluster.spool), b = spool_bytes(x->node.spool);
		most = a > most ? a : most;
		most = b > most ? b : most;
		usleep(100000);
	}
	return most;
}

/* Waits until the receiver got n more profiles of key than before. */
static int wait_more(struct fixture *x, const char *key, long before, long n, int ms)
{
	for (int t = 0; t < ms; t += 200) {
		if (fx_received_count(x, key) >= before + n)
			return 0;
		usleep(200000);
	}
	fprintf(stderr, "  %s: fewer than %ld new profiles in %d ms\n", key, n, ms);
	return -ETIMEDOUT;
}

/* The accounting of one role at the end; returns 1 when it holds. */
static int account(struct fixture *x, struct fc_role *r, const char *key, long dup_allowed)
{
	struct fc_bodies acc = {0}, rcv = {0}, sp = {0};
	struct fc_account a;
	int ok;

	fc_bodies_from_dir(&acc, r->out);
	fx_received(x, key, &rcv);
	fc_bodies_from_spool(&sp, r->spool);
	fc_account(&acc, &rcv, &sp, &a);
	printf("  %s: %ld accepted: %ld delivered, %ld in the spool, %ld missing, %ld counted "
	       "dropped (%ld spool_full); %ld duplicates (at most %ld), %ld unknown; podprof "
	       "says %ld delivered\n",
	       r->name, a.accepted, a.delivered, a.spooled, a.missing, r->dropped,
	       r->dropped_spool_full, a.duplicates, dup_allowed, a.unknown, r->delivered);
	/* exact, but for the answers that can have been lost (dup_allowed of them): such
	 * a profile was received, and podprof sent it again (a duplicate), or it still
	 * waits in the spool, or a bound dropped it later (counted, yet received) */
	ok = a.accepted > 0 && a.unknown == 0 && a.duplicates <= dup_allowed &&
	     a.missing <= r->dropped && r->dropped <= a.missing + dup_allowed &&
	     r->delivered <= a.delivered && r->delivered >= a.delivered - dup_allowed;
	fc_bodies_free(&acc);
	fc_bodies_free(&rcv);
	fc_bodies_free(&sp);
	return ok;
}

static int node_progress(struct fixture *x, int ms)
{
	long before = fc_files_in(x->node.out);

	usleep((useconds_t)ms * 1000);
	return fc_files_in(x->node.out) > before;
}

TEST(both_roles_survive_every_peer_fault)
{
	struct fixture x;
	struct fc_range base[2], end[2];
	long most_spool = 0, before;
	int ok = 0, r, stops = 0;
	char spool_max[32];

	snprintf(spool_max, sizeof(spool_max), "%d", SPOOL_MAX_BYTES);
	r = fx_setup(&x, "fault-peers", spool_max);
	if (r == -ENOENT) {
		fx_teardown(&x, 1);
		SKIP("python3, the fake servers or the Go test programs are missing");
	}
	CHECK_EQ(r, 0);
	fc_monitor_start();
	CHECK_EQ(fx_start_roles(&x), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);
	CHECK_EQ(wait_more(&x, "cluster-key", 0, 5, 20000), 0);
	CHECK_EQ(wait_more(&x, "node-key", 0, 5, 20000), 0);
	/* the baseline, at a quiet moment: everything up, connections made */
	usleep(1000000);
	fc_sample_range(x.cluster.pid, 2000, &base[0]);
	fc_sample_range(x.node.pid, 1000, &base[1]);
	fc_print_fds(x.cluster.pid, "cluster role, baseline");
	printf("  baseline: cluster %d-%d fds %d-%d threads, node %d-%d fds %d-%d threads\n",
	       base[0].fd_min, base[0].fd_max, base[0].thr_min, base[0].thr_max, base[1].fd_min,
	       base[1].fd_max, base[1].thr_min, base[1].thr_max);

	/* 1. the receiver is killed, and back 3 s later */
	fx_coroot_kill(&x);
	most_spool = watch_spools(&x, 3000);
	CHECK_EQ(fx_coroot_up(&x), 0);
	CHECK_EQ(wait_more(&x, "cluster-key", 0, 3, 20000), 0);
	CHECK_EQ(wait_more(&x, "node-key", 0, 3, 20000), 0);

	/* 2. the API server: dropped watches, 410s, a restart with a new etcd, pods
	 * changing meanwhile, then killed and started again on its port */
	CHECK_EQ(fake_kube_post(&x.kube, "drop", "{\"partial\": true}", NULL), 200);
	CHECK_EQ(fx_pod_delete(&x, 2), 0);
	CHECK_EQ(fx_wait_converged(&x, 15000), 0);
	CHECK_EQ(fake_kube_post(&x.kube, "expire", NULL, NULL), 200);
	CHECK_EQ(fx_target_start(&x, 3), 0);
	CHECK_EQ(fx_pod_post(&x, 3), 0);
	CHECK_EQ(fx_wait_converged(&x, 15000), 0);
	CHECK_EQ(fake_kube_post(&x.kube, "restart", NULL, NULL), 200);
	CHECK_EQ(fx_pod_delete(&x, 3), 0);
	CHECK_EQ(fx_pod_post(&x, 2), 0);
	CHECK_EQ(fx_wait_converged(&x, 15000), 0);
	/* killed, and its new etcd holds other pods than podprof last saw: app-3 is
	 * gone without a DELETED event, app-4 came; only a new list tells */
	x.annotated[2] = 0;
	x.annotated[3] = 1;
	CHECK_EQ(fx_kube_kill_restart(&x), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);

	/* 3. a Go target is killed and restarted on its port */
	fx_target_kill(&x, 0);
	usleep(3000000);
	CHECK_EQ(fx_target_start(&x, 0), 0);

	/* 4. a profiled process stopped while the node role reads it: the role goes on
	 * with the others and stays responsive */
	kill(x.heapgen[0], SIGSTOP);
	CHECK_EQ(fc_role_get(&x.node, "/healthz", NULL), 200);
	CHECK(node_progress(&x, 3000));
	CHECK_EQ(fc_role_get(&x.node, "/metrics", NULL), 200);
	kill(x.heapgen[0], SIGCONT);

	/* 5. the receiver down for 10 s: the spools fill to their bound */
	fx_coroot_kill(&x);
	{
		long m = watch_spools(&x, 10000);
		most_spool = m > most_spool ? m : most_spool;
	}
	printf("  largest spool seen: %ld bytes (bound %d)\n", most_spool, SPOOL_MAX_BYTES);
	CHECK(most_spool <= SPOOL_MAX_BYTES);
	CHECK(fc_role_metric(&x.node, "podprof_upload_dropped_total{reason=\"spool_full\"}") > 0);

	/* back up: what waited is delivered */
	CHECK_EQ(fx_coroot_up(&x), 0);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 0, 30000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 0, 30000), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);

	/* back to the baseline once quiet, against the same number of peers */
	usleep(2000000);
	fc_sample_range(x.cluster.pid, 2000, &end[0]);
	fc_sample_range(x.node.pid, 1000, &end[1]);
	printf("  end: cluster %d-%d fds %d-%d threads, node %d-%d fds %d-%d threads\n",
	       end[0].fd_min, end[0].fd_max, end[0].thr_min, end[0].thr_max, end[1].fd_min,
	       end[1].fd_max, end[1].thr_min, end[1].thr_max);
	if (end[0].fd_min > base[0].fd_max)
		fc_print_fds(x.cluster.pid, "cluster role, at the end");
	if (end[1].fd_min > base[1].fd_max)
		fc_print_fds(x.node.pid, "node role, at the end");
	CHECK(end[0].fd_min <= base[0].fd_max && end[0].thr_min <= base[0].thr_max);
	CHECK(end[1].fd_min <= base[1].fd_max && end[1].thr_min <= base[1].thr_max);

	/* 6. both roles stopped while the receiver is down, started again on their spools */
	fx_coroot_kill(&x);
	usleep(2000000);
	CHECK(fc_role_stop(&x.cluster) >= 0);
	CHECK(fc_role_stop(&x.node) >= 0);
	stops += 2;
	CHECK(spool_bytes(x.node.spool) > 0);
	CHECK_EQ(fx_start_roles(&x), 0);
	before = fx_received_count(&x, "node-key");
	usleep(1000000);
	CHECK_EQ(fx_coroot_up(&x), 0);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 0, 30000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 0, 30000), 0);
	CHECK(fx_received_count(&x, "node-key") > before);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);

	/* the end: both stop, and every accepted profile is accounted for */
	CHECK(fc_role_stop(&x.cluster) >= 0);
	CHECK(fc_role_stop(&x.node) >= 0);
	stops += 2;
	fc_monitor_stop();
	printf("  resident memory at most: cluster %ld KiB, node %ld KiB (%ld samples)\n",
	       fc_monitor_max_kib(0), fc_monitor_max_kib(1), fc_monitor_samples());
	if (memory_checked()) {
		CHECK(fc_monitor_max_kib(0) > 0 && fc_monitor_max_kib(0) <= RSS_BOUND_KIB);
		CHECK(fc_monitor_max_kib(1) > 0 && fc_monitor_max_kib(1) <= RSS_BOUND_KIB);
	}
	CHECK(x.cluster.dropped_spool_full + x.node.dropped_spool_full > 0);
	/* an answer lost: a receiver killed during a request, a transfer aborted by stop */
	CHECK(account(&x, &x.cluster, "cluster-key", x.coroot_kills + stops));
	CHECK(account(&x, &x.node, "node-key", x.coroot_kills + stops));
	ok = 1;
	fx_teardown(&x, ok);
}
