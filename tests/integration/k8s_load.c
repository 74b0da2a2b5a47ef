/*
 * What discovery costs the API server, counted by the fake API server per resource:
 *
 *  - a server whose lists work and whose every watch answers 410 Gone (as an ERROR
 *    event, and as the HTTP status), or ends at once after a bookmark, gets no more
 *    requests over 30 s than the backoff allows, and at most one streaming list per
 *    resource;
 *  - a 410 that ends healthy watching (an ERROR event, or the HTTP status on a watch
 *    resumed after a cut) costs exactly one relist, at once; a 410 on the watch that
 *    follows that relist waits for the backoff;
 *  - a server that ignores sendInitialEvents (synthetic ADDED events, no
 *    initial-events-end bookmark) costs the initial-events wait once per discovery,
 *    and a 410 then costs one paginated relist, not another wait; one that sends a
 *    plain bookmark first gives itself away without the wait;
 *  - a server whose /version is older than the streaming list's default (1.32) is
 *    never asked for one: the first sync does not wait.
 *
 * The bound of the first test is exact, not statistical: the reflector's delays are
 * drawn in [max(min, ceiling/2), ceiling] with a ceiling doubling from 800 ms to 30 s,
 * so the k-th delay in a row is at least max(800 ms, min(30 s, 800 ms * 2^(k-1)) / 2)
 * whatever the jitter draws; worst_case_requests() adds those floors up over the
 * window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"
#include "k8s_fake.h"
#include "support.h"
#include "testing.h"

#define WINDOW_S 30
#define BACKOFF_MIN_NS (800 * NS_PER_MS) /* the defaults, spelled out for the bound */
#define BACKOFF_MAX_NS (30 * NS_PER_SEC)
#define MAX_RATE 2.0 /* requests per second and resource, the guarantee */
#define HEALTHY_NS (2500 * NS_PER_MS) /* more than the reflector's healthy watching */

static const char *const resources[] = {"pods", "replicasets"};

static int post_pods(struct fake_kube *f, int n)
{
	char body[1024];

	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body),
			 "{\"metadata\":{\"name\":\"app-%d\",\"namespace\":\"shop\",\"annotations\":"
			 "{\"coroot.com/profile-scrape\":\"true\",\"coroot.com/profile-port\":"
			 "\"6060\"}},\"status\":{\"phase\":\"Running\"}}", i);
		if (fake_kube_post(f, "pods", body, NULL) != 200)
			return -1;
	}
	return 0;
}

static struct k8s_discovery_config config(struct k8s_config *conn)
{
	struct k8s_discovery_config dc = {0};

	dc.conn = conn;
	dc.watch_replicasets = true;
	dc.request_timeout_ns = 10 * NS_PER_SEC;
	return dc;
}

/* Requests of verb on resource so far; "plain_watch": the watches that are not streaming
 * lists. */
static int requests(struct fake_kube *f, const char *resource, const char *verb)
{
	cJSON *st = fake_kube_stats(f);
	int n = !st ? -1
	      : strcmp(verb, "plain_watch") == 0
		      ? fake_kube_requests(st, resource, "watch") -
				fake_kube_requests(st, resource, "initial_events")
		      : fake_kube_requests(st, resource, verb);

	cJSON_Delete(st);
	return n;
}

/* Waits up to timeout_ms for requests(f, resource, verb) to reach want; returns it. */
static int wait_requests(struct fake_kube *f, const char *resource, const char *verb, int want,
			 int timeout_ms)
{
	int n = requests(f, resource, verb);

	for (int t = 0; n < want && t < timeout_ms; t += 20) {
		usleep(20000);
		n = requests(f, resource, verb);
	}
	return n;
}

static size_t targets(struct k8s_discovery *d)
{
	struct k8s_discovery_stats st;

	k8s_discovery_get_stats(d, &st);
	return st.targets;
}

/*
 * The most list and watch requests of one resource a reflector can make in window_ns
 * against a server that fails every watch at once: a round (a list, then its watch) at
 * time 0 and after each delay, the delays at their floors; plus the one streaming list
 * it may try first.
 */
static int worst_case_requests(int64_t window_ns, int64_t min_ns, int64_t max_ns)
{
	int64_t t = 0, ceiling = 0;
	int rounds = 0;

	while (t <= window_ns) {
		rounds++;
		ceiling = !ceiling ? min_ns : ceiling > max_ns / 2 ? max_ns : ceiling * 2;
		t += ceiling / 2 > min_ns ? ceiling / 2 : min_ns;
	}
	return 2 * rounds + 1;
}

#define NFORMS 3

TEST(failing_watches_are_not_hammered)
{
	/* 410 as an ERROR event, as the HTTP status; and watches that end at once after a
	 * bookmark (no 410: the watch alone is retried) */
	static const char *const forms[NFORMS] = {"event", "status", "brief"};
	struct fake_kube f[NFORMS];
	struct k8s_config *conn[NFORMS] = {NULL};
	struct k8s_discovery *d[NFORMS] = {NULL};
	int bound = worst_case_requests((int64_t)WINDOW_S * NS_PER_SEC, BACKOFF_MIN_NS,
					BACKOFF_MAX_NS);
	int lists[NFORMS][2], watches[NFORMS][2], streams[NFORMS][2], n;
	int64_t start;

	for (int i = 0; i < NFORMS; i++) {
		struct fake_kube_opts o = {.watch_gone = i < 2 ? forms[i] : NULL};
		int r = fake_kube_start(&f[i], &o);
		if (r == -ENOENT)
			SKIP("no /usr/bin/python3 or fake_kube.py");
		CHECK_EQ(r, 0);
		CHECK_EQ(post_pods(&f[i], 3), 0);
		if (i == 2)
			CHECK_EQ(fake_kube_post(&f[i], "fault", "{\"kind\":\"brief\","
						"\"count\":1000000000,\"verb\":\"watch\"}", NULL),
				 200);
		CHECK_EQ(fake_kube_load_config(&f[i], &conn[i]), 0);
	}
	start = time_mono_ns();
	for (int i = 0; i < NFORMS; i++) {
		struct k8s_discovery_config dc = config(conn[i]);
		/* the defaults: 800 ms to 30 s, the 5 s initial-events wait */
		CHECK_EQ(k8s_discovery_start(&dc, &d[i]), 0);
	}
	time_sleep_ns(start + (int64_t)WINDOW_S * NS_PER_SEC - time_mono_ns());
	for (int i = 0; i < NFORMS; i++) {
		cJSON *st = fake_kube_stats(&f[i]);
		CHECK(st != NULL);
		for (size_t k = 0; k < ARRAY_SIZE(resources); k++) {
			lists[i][k] = fake_kube_requests(st, resources[k], "list");
			watches[i][k] = fake_kube_requests(st, resources[k], "watch");
			streams[i][k] = fake_kube_requests(st, resources[k], "initial_events");
			n = lists[i][k] + watches[i][k];
			printf("  %-6s %-11s %3d requests in %d s (%d lists, %d watches, %d "
			       "streaming lists): %.2f/s; bound %d (%.2f/s), guarantee %.1f/s\n",
			       forms[i], resources[k], n, WINDOW_S, lists[i][k], watches[i][k],
			       streams[i][k], (double)n / WINDOW_S, bound, (double)bound / WINDOW_S,
			       MAX_RATE);
		}
		cJSON_Delete(st);
	}
	for (int i = 0; i < NFORMS; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(resources); k++) {
			n = lists[i][k] + watches[i][k];
			CHECK_MSG(n <= bound, "%s, %s: %d requests in %d s", resources[k], forms[i],
				  n, WINDOW_S);
			CHECK((double)n / WINDOW_S <= MAX_RATE);
			/* a server that failed a streaming list is not asked for another */
			CHECK_INT(streams[i][k], <=, 1);
			/* and it is not given up on: the reflector keeps trying */
			CHECK_INT(n, >=, 6);
		}
		/* the lists work: the first sync completed */
		CHECK(k8s_discovery_ready(d[i]));
		CHECK_EQ(targets(d[i]), 3);
	}
	for (int i = 0; i < NFORMS; i++) {
		k8s_discovery_free(d[i]);
		k8s_config_free(conn[i]);
		fake_kube_stop(&f[i]);
	}
}

TEST(a_410_after_a_healthy_watch_costs_one_immediate_relist)
{
	struct fake_kube f;
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct k8s_discovery_config dc;
	int scale = test_time_scale(), lists[2], watches[2], n;
	int64_t backoff = 6 * NS_PER_SEC * scale, t0;

	if (fake_kube_start(&f, NULL) == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(post_pods(&f, 2), 0);
	CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
	dc = config(conn);
	/* every delay is exactly this long: a relist within it was not delayed */
	dc.backoff_min_ns = dc.backoff_max_ns = backoff;
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, 10 * NS_PER_SEC), 0);
	/* both watches open, and healthy for a while (bookmarks every second) */
	for (size_t k = 0; k < ARRAY_SIZE(resources); k++)
		CHECK_EQ(wait_requests(&f, resources[k], "plain_watch", 1, 5000), 1);
	time_sleep_ns(HEALTHY_NS * scale);
	for (size_t k = 0; k < ARRAY_SIZE(resources); k++) {
		lists[k] = requests(&f, resources[k], "list");
		watches[k] = requests(&f, resources[k], "plain_watch");
	}
	/* the pods' next watch answers 410 at once */
	CHECK_EQ(fake_kube_post(&f, "fault", "{\"kind\":\"gone\",\"count\":1,\"verb\":\"watch\","
					     "\"resource\":\"pods\"}", NULL), 200);
	t0 = time_mono_ns();
	CHECK_EQ(fake_kube_post(&f, "expire", NULL, NULL), 200);
	/* one relist each, at once */
	for (size_t k = 0; k < ARRAY_SIZE(resources); k++) {
		n = wait_requests(&f, resources[k], "list", lists[k] + 1, 3000 * scale);
		CHECK_MSG(n == lists[k] + 1, "%s: %d lists, %d before the 410", resources[k], n,
			  lists[k]);
	}
	CHECK_MSG(time_mono_ns() - t0 < backoff / 2, "the relists took %.1f s",
		  (double)(time_mono_ns() - t0) / 1e9);
	/* the pods' relist was followed by a watch that failed at once: that one waits */
	time_sleep_ns(t0 + backoff * 3 / 4 - time_mono_ns());
	CHECK_EQ(requests(&f, "pods", "list"), lists[0] + 1);
	CHECK_EQ(requests(&f, "pods", "plain_watch"), watches[0] + 1);
	CHECK_EQ(requests(&f, "replicasets", "list"), lists[1] + 1);
	CHECK_EQ(requests(&f, "replicasets", "plain_watch"), watches[1] + 1);
	/* then lists again, once, and converges */
	n = wait_requests(&f, "pods", "list", lists[0] + 2, (int)(backoff / NS_PER_MS) + 3000 * scale);
	CHECK_EQ(n, lists[0] + 2);
	CHECK_EQ(post_pods(&f, 3), 0);
	for (int t = 0; t < 5000 * scale && targets(d) != 3; t += 20)
		usleep(20000);
	CHECK_EQ(targets(d), 3);
	CHECK_EQ(requests(&f, "pods", "list"), lists[0] + 2);
	CHECK_EQ(requests(&f, "replicasets", "list"), lists[1] + 1);
	/* healthy watching that ends with a cut, then a 410 (the HTTP status) on the
	 * resumed watch: the end of healthy watching too, one relist at once */
	time_sleep_ns(HEALTHY_NS * scale);
	CHECK_EQ(fake_kube_post(&f, "fault", "{\"kind\":\"status_410\",\"count\":1,"
					     "\"verb\":\"watch\",\"resource\":\"pods\"}", NULL), 200);
	t0 = time_mono_ns();
	CHECK_EQ(fake_kube_post(&f, "drop", NULL, NULL), 200);
	CHECK_EQ(wait_requests(&f, "pods", "list", lists[0] + 3, 3000 * scale), lists[0] + 3);
	CHECK(time_mono_ns() - t0 < backoff / 2);
	CHECK_EQ(requests(&f, "replicasets", "list"), lists[1] + 1);
	k8s_discovery_free(d);
	k8s_config_free(conn);
	fake_kube_stop(&f);
}

/* Starts discovery on a server that ignores sendInitialEvents but reports a version that
 * has streaming lists. */
static void ignoring_server(int bookmarks, int64_t idle_ns, int64_t ready_within_ns)
{
	struct fake_kube f;
	struct fake_kube_opts o = {.ignore_initial_events = 1};
	struct k8s_config *conn = NULL;
	struct k8s_discovery *d = NULL;
	struct k8s_discovery_config dc;
	struct k8s_discovery_stats st;
	int scale = test_time_scale(), lists[2], r;
	int64_t t0, ready_ns;

	r = fake_kube_start(&f, &o);
	if (r == -ENOENT)
		SKIP("no fake server");
	CHECK_EQ(r, 0);
	CHECK_EQ(post_pods(&f, 2), 0);
	if (!bookmarks) /* the idle bookmarks would give the server away */
		CHECK_EQ(fake_kube_post(&f, "bookmarks", "{\"interval\":1000}", NULL), 200);
	CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
	dc = config(conn);
	dc.initial_events_idle_ns = idle_ns;
	dc.backoff_min_ns = dc.backoff_max_ns = 6 * NS_PER_SEC * scale;
	t0 = time_mono_ns();
	CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
	CHECK_EQ(k8s_discovery_wait_ready(d, ready_within_ns * scale), 0);
	ready_ns = time_mono_ns() - t0;
	printf("  ignoring sendInitialEvents, %s: first sync in %.2f s (the wait: %.1f s)\n",
	       bookmarks ? "bookmarks every second" : "no bookmarks", (double)ready_ns / 1e9,
	       (double)idle_ns / 1e9);
	CHECK_EQ(targets(d), 2);
	k8s_discovery_get_stats(d, &st);
	CHECK(!st.streaming);
	/* one streaming list for the whole discovery: what one reflector learnt, the other
	 * did not pay for */
	CHECK_EQ(requests(&f, "pods", "initial_events") +
			 requests(&f, "replicasets", "initial_events"),
		 1);
	for (int round = 0; round < 2; round++) {
		time_sleep_ns(HEALTHY_NS * scale); /* healthy watches */
		for (size_t k = 0; k < ARRAY_SIZE(resources); k++)
			lists[k] = requests(&f, resources[k], "list");
		t0 = time_mono_ns();
		CHECK_EQ(fake_kube_post(&f, "expire", NULL, NULL), 200);
		for (size_t k = 0; k < ARRAY_SIZE(resources); k++)
			CHECK_EQ(wait_requests(&f, resources[k], "list", lists[k] + 1, 3000 * scale),
				 lists[k] + 1);
		printf("  410 %d: one paginated relist per resource in %.2f s\n", round + 1,
		       (double)(time_mono_ns() - t0) / 1e9);
		CHECK(time_mono_ns() - t0 < idle_ns);
	}
	/* no second wait, no second streaming list */
	CHECK_EQ(requests(&f, "pods", "initial_events") +
			 requests(&f, "replicasets", "initial_events"),
		 1);
	CHECK_EQ(post_pods(&f, 4), 0);
	for (int t = 0; t < 5000 * scale && targets(d) != 4; t += 20)
		usleep(20000);
	CHECK_EQ(targets(d), 4);
	k8s_discovery_free(d);
	k8s_config_free(conn);
	fake_kube_stop(&f);
}

TEST(a_server_ignoring_initial_events_costs_one_wait_per_lifetime)
{
	ignoring_server(0, 4 * NS_PER_SEC, 15 * NS_PER_SEC);
}

TEST(a_plain_bookmark_before_the_initial_events_end_gives_the_server_away)
{
	/* the wait is a minute: only the bookmark can end the streaming list early */
	ignoring_server(1, 60 * NS_PER_SEC, 10 * NS_PER_SEC);
}

TEST(first_sync_on_an_old_server_does_not_wait)
{
	/* a 1.26 server ignores the parameters; a 1.31 one has them behind a gate that is
	 * off by default (here: on, and still not used) */
	static const struct fake_kube_opts opts[] = {
		{.ignore_initial_events = 1, .server_version = "1.26.15"},
		{.streaming_list = 1, .server_version = "1.31.4"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		struct fake_kube f;
		struct k8s_config *conn = NULL;
		struct k8s_discovery *d = NULL;
		struct k8s_discovery_config dc;
		int64_t t0, ready_ns;
		int r = fake_kube_start(&f, &opts[i]);

		if (r == -ENOENT)
			SKIP("no fake server");
		CHECK_EQ(r, 0);
		CHECK_EQ(post_pods(&f, 2), 0);
		CHECK_EQ(fake_kube_post(&f, "bookmarks", "{\"interval\":1000}", NULL), 200);
		CHECK_EQ(fake_kube_load_config(&f, &conn), 0);
		dc = config(conn);
		dc.initial_events_idle_ns = 60 * NS_PER_SEC; /* a wait would show */
		t0 = time_mono_ns();
		CHECK_EQ(k8s_discovery_start(&dc, &d), 0);
		CHECK_EQ(k8s_discovery_wait_ready(d, 5 * NS_PER_SEC * test_time_scale()), 0);
		ready_ns = time_mono_ns() - t0;
		printf("  Kubernetes %s: first sync in %.3f s, paginated\n",
		       opts[i].server_version, (double)ready_ns / 1e9);
		CHECK_EQ(targets(d), 2);
		for (size_t k = 0; k < ARRAY_SIZE(resources); k++) {
			CHECK_EQ(requests(&f, resources[k], "initial_events"), 0);
			CHECK_EQ(requests(&f, resources[k], "list"), 1);
		}
		k8s_discovery_free(d);
		k8s_config_free(conn);
		fake_kube_stop(&f);
	}
}
