/*
 * Fault injection, podprof itself SIGKILLed: the guarantee of SECURITY.md ("What the
 * uploader guarantees"), tested as stated. With a spool, every profile is written to
 * it before it is accepted (write-ahead), so:
 *
 *   - nothing accepted is lost by a SIGKILL, at any moment: every profile in the
 *     output directory, and every one in the spool at a kill (its contents are taken
 *     while podprof is frozen with SIGSTOP, just before the SIGKILL: a kill may fall
 *     between the spool file and the local file of one profile), arrives;
 *   - a profile arrives twice only when podprof was killed while sending it (at most
 *     one per SIGKILL: one transfer is in flight at a time), so never when the kills
 *     fall in an outage of Coroot;
 *   - nothing else arrives, and every drop is counted.
 *
 * Both roles are killed twice at chosen moments (once while the receiver is down,
 * once while it is up and podprof is busy delivering), then 20 times each at random
 * moments of an outage, restarted every time on the same spool.
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
#define KILL_ROUNDS 20
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* dst += the bodies of add that dst lacks, once each (a set union: bodies are unique,
 * each holds its own time; a spool file seen at several kills counts once). */
static void bodies_union(struct fc_bodies *dst, const struct fc_bodies *add)
{
	for (size_t i = 0; i < add->n; i++) {
		struct fc_bodies one = {.h = &add->h[i], .n = 1, .cap = 1};
		if (fc_bodies_found(&one, dst) == 0)
			fc_bodies_merge(dst, &one);
	}
}

/* Checks one role at the end; 1 when the guarantee held. max_duplicates: how many
 * profiles may have been sent twice (one per kill while delivering). */
static int account(struct fixture *x, struct fc_role *r, const char *key,
		   const struct fc_bodies *snap, long max_duplicates)
{
	struct fc_bodies acc = {0}, rcv = {0}, sp = {0}, have = {0};
	struct fc_account a;
	long survived;
	int ok;

	/* accepted: the local files, and what the spool held at the kills */
	fc_bodies_from_dir(&acc, r->out);
	bodies_union(&acc, snap);
	fx_received(x, key, &rcv);
	fc_bodies_from_spool(&sp, r->spool);
	fc_account(&acc, &rcv, &sp, &a);
	/* the spool's contents at each SIGKILL: received since, or still spooled */
	fc_bodies_merge(&have, &rcv);
	fc_bodies_merge(&have, &sp);
	survived = fc_bodies_found(snap, &have);
	printf("  %s: %ld accepted: %ld delivered, %ld in the spool, %ld missing, %ld counted "
	       "dropped; %ld duplicates (at most %ld), %ld unknown; spool at the %d kills: "
	       "%ld of %zu survived\n",
	       r->name, a.accepted, a.delivered, a.spooled, a.missing, r->dropped,
	       a.duplicates, max_duplicates, a.unknown, r->kills, survived, snap->n);
	ok = a.accepted > 0 && a.unknown == 0 && survived == (long)snap->n && snap->n > 0 &&
	     a.duplicates <= max_duplicates && r->dropped == 0 && a.missing == 0;
	fc_bodies_free(&acc);
	fc_bodies_free(&rcv);
	fc_bodies_free(&sp);
	fc_bodies_free(&have);
	return ok;
}

TEST(sigkill_loses_nothing_accepted)
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

	/* 1. the receiver down: what is taken waits in the spool */
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
	/* one kill of each while delivering */
	CHECK(account(&x, &x.cluster, "cluster-key", &snap_c, 1));
	CHECK(account(&x, &x.node, "node-key", &snap_n, 1));
	/* an unfinished spool write of a killed run is cleaned up, never delivered torn */
	CHECK_EQ(fc_log_count(x.node.log, "skipping spool file"), 0);
	CHECK_EQ(fc_log_count(x.cluster.log, "skipping spool file"), 0);
	fc_bodies_free(&snap_c);
	fc_bodies_free(&snap_n);
	fx_teardown(&x, 1);
}

/* Kills the role after a random pause of 0.2 to 2.5 s, then starts it again. */
static int kill_at_random(struct fc_role *r, struct fc_bodies *snap, int slot,
			  unsigned *seed)
{
	usleep(200000 + (useconds_t)(rand_r(seed) % 2300) * 1000);
	if (fc_role_kill(r, snap) != 0)
		return -1;
	if (fc_role_start(r) != 0)
		return -1;
	fc_monitor_watch(slot, r->pid);
	return 0;
}

TEST(random_sigkills_during_an_outage_deliver_every_profile_once)
{
	struct fixture x;
	struct fc_bodies snap_c = {0}, snap_n = {0};
	const char *env = getenv("PODPROF_TEST_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time_real_ns();
	int r;

	r = fx_setup(&x, "fault-kill-random", "64MiB");
	if (r == -ENOENT) {
		fx_teardown(&x, 1);
		SKIP("python3, the fake servers or the Go test programs are missing");
	}
	CHECK_EQ(r, 0);
	printf("  seed %u (PODPROF_TEST_SEED repeats this run)\n", seed);
	fc_monitor_start();
	CHECK_EQ(fx_start_roles(&x), 0);
	CHECK_EQ(fx_wait_converged(&x, 20000), 0);
	usleep(2000000);
	fx_coroot_kill(&x);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		CHECK_EQ(kill_at_random(&x.cluster, &snap_c, 0, &seed), 0);
		CHECK_EQ(kill_at_random(&x.node, &snap_n, 1, &seed), 0);
	}
	usleep(1500000);
	CHECK_EQ(fx_coroot_up(&x), 0);
	CHECK_EQ(fc_role_wait_spool(&x.cluster, 0, 60000), 0);
	CHECK_EQ(fc_role_wait_spool(&x.node, 0, 60000), 0);
	CHECK(fc_role_stop(&x.cluster) >= 0);
	CHECK(fc_role_stop(&x.node) >= 0);
	fc_monitor_stop();
	/* every kill fell in the outage: nothing was being delivered, nothing repeats */
	CHECK(account(&x, &x.cluster, "cluster-key", &snap_c, 0));
	CHECK(account(&x, &x.node, "node-key", &snap_n, 0));
	CHECK_EQ(fc_log_count(x.node.log, "skipping spool file"), 0);
	CHECK_EQ(fc_log_count(x.cluster.log, "skipping spool file"), 0);
	fc_bodies_free(&snap_c);
	fc_bodies_free(&snap_n);
	fx_teardown(&x, 1);
}
