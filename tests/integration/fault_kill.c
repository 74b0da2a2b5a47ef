/*
 * Fault injection, podprof itself SIGKILLed: the guarantee of SECURITY.md ("What the
 * uploader guarantees"), tested as stated:
 *
 *   - everything in the spool survives a SIGKILL and is delivered after the restart
 *     (the spool's contents are taken while podprof is frozen with SIGSTOP, just
 *     before the SIGKILL);
 *   - what is lost is only what sat in the memory queue at that moment: at most the
 *     queue length that /metrics showed just before, plus what was submitted between
 *     that read and the SIGSTOP;
 *   - a profile is delivered twice only when podprof was killed while sending it (at
 *     most one per SIGKILL: one transfer is in flight at a time);
 *   - nothing else goes missing, and every drop is counted.
 *
 * Both roles are killed twice: once while the receiver is down (the spool holds what
 * waits), once while it is up and podprof is busy delivering.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_fixture.h"
#include "support.h"
#include "testing.h"

#define RSS_BOUND_KIB (48 * 1024)
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* Checks one role at the end; 1 when the guarantee held. */
static int account(struct fixture *x, struct fc_role *r, const char *key,
		   const struct fc_bodies *snap)
{
	struct fc_bodies acc = {0}, rcv = {0}, sp = {0}, have = {0};
	struct fc_account a;
	long survived;
	int ok;

	fc_bodies_from_dir(&acc, r->out);
	fx_received(x, key, &rcv);
	fc_bodies_from_spool(&sp, r->spool);
	fc_account(&acc, &rcv, &sp, &a);
	/* the spool's contents at each SIGKILL: received since, or still spooled */
	fc_bodies_merge(&have, &rcv);
	fc_bodies_merge(&have, &sp);
	survived = fc_bodies_found(snap, &have);
	printf("  %s: %ld accepted: %ld delivered, %ld in the spool, %ld missing, %ld counted "
	       "dropped, at most %ld lost in memory; %ld duplicates (at most %d), %ld unknown; "
	       "spool at the kills: %ld of %zu survived\n",
	       r->name, a.accepted, a.delivered, a.spooled, a.missing, r->dropped,
	       r->lost_bound, a.duplicates, r->kills, a.unknown, survived, snap->n);
	ok = a.accepted > 0 && a.unknown == 0 && survived == (long)snap->n && snap->n > 0 &&
	     a.duplicates <= r->kills && r->dropped <= a.missing + r->kills &&
	     a.missing <= r->dropped + r->lost_bound;
	fc_bodies_free(&acc);
	fc_bodies_free(&rcv);
	fc_bodies_free(&sp);
	fc_bodies_free(&have);
	return ok;
}

TEST(sigkill_keeps_the_spool_and_loses_only_the_memory_queue)
{
	struct fixture x;
	struct fc_bodies snap_c = {0}, snap_n = {0};
	int r;

	/* a spool that is never full here: every drop would be a loss */
	r = fx_setup(&x, "fault-kill", "64MiB");
	if (r == -ENOENT) {
		fx_teardown(&x, 1);
		SKIP("python3, the fake servers or the Go test programs are missing");
	}
	CHECK_EQ(r, 0);
	fc_monitor_start();
	CHECK_EQ(fx_start_roles(&x), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);
	usleep(3000000);

	/* 1. the receiver down: the memory queue overflows into the spool (64 KiB) */
	fx_coroot_kill(&x);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 1, 30000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 1, 30000), 0);
	usleep(1000000);
	CHECK_EQ(fc_role_kill(&x.cluster, &snap_c), 0);
	CHECK_EQ(fc_role_kill(&x.node, &snap_n), 0);
	printf("  spool at the first kill: cluster %zu, node %zu profiles\n", snap_c.n, snap_n.n);
	CHECK(snap_c.n > 0 && snap_n.n > 0);
	/* restarted on the same spool; the receiver back a moment later */
	CHECK_EQ(fx_start_roles(&x), 0);
	usleep(1500000);
	CHECK_EQ(fx_coroot_up(&x), 0);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 0, 30000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 0, 30000), 0);

	/* 2. killed while delivering, with the receiver up */
	usleep(2500000);
	CHECK_EQ(fc_role_kill(&x.cluster, &snap_c), 0);
	CHECK_EQ(fc_role_kill(&x.node, &snap_n), 0);
	CHECK_EQ(fx_start_roles(&x), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);
	usleep(3000000);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 0, 30000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 0, 30000), 0);

	/* the end */
	CHECK(fc_role_stop(&x.cluster) >= 0);
	CHECK(fc_role_stop(&x.node) >= 0);
	fc_monitor_stop();
	printf("  resident memory at most: cluster %ld KiB, node %ld KiB\n", fc_monitor_max_kib(0),
	       fc_monitor_max_kib(1));
	if (!UNDER_SANITIZER && !getenv("PODPROF_WRAPPER")) {
		CHECK(fc_monitor_max_kib(0) > 0 && fc_monitor_max_kib(0) <= RSS_BOUND_KIB);
		CHECK(fc_monitor_max_kib(1) > 0 && fc_monitor_max_kib(1) <= RSS_BOUND_KIB);
	}
	CHECK(account(&x, &x.cluster, "cluster-key", &snap_c));
	CHECK(account(&x, &x.node, "node-key", &snap_n));
	/* an unfinished spool write of a killed run is cleaned up, never delivered torn */
	CHECK_EQ(fc_log_count(x.node.log, "skipping spool file"), 0);
	CHECK_EQ(fc_log_count(x.cluster.log, "skipping spool file"), 0);
	fc_bodies_free(&snap_c);
	fc_bodies_free(&snap_n);
	fx_teardown(&x, 1);
}
