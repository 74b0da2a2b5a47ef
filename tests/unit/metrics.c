/*
 * Unit tests of the metrics registry: the exact exposition text, escaping, name rules,
 * registration identity, series removal, value formatting, exact totals under
 * concurrent updates, and an independent reading of the exposition by the official
 * Prometheus Python parser.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "support.h"
#include "testing.h"

/* Renders r into a fresh string (caller frees), or NULL on error. */
static char *render(struct metrics_registry *r)
{
	struct buf b;

	buf_init(&b, 0);
	if (metrics_render(r, &b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* Checks the rendering of r against want; frees nothing. */
#define CHECK_RENDER(r, want)                                                    \
	do {                                                                     \
		char *got_ = render(r);                                          \
		int same_ = got_ && strcmp(got_, (want)) == 0;                   \
		if (!same_)                                                      \
			fprintf(stderr, "--- got:\n%s--- want:\n%s---\n",        \
				got_ ? got_ : "(null)", (want));                 \
		free(got_);                                                      \
		CHECK(same_);                                                    \
	} while (0)

TEST(counter_without_labels)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric *m = metrics_counter(r, "podprof_scrapes_total", "Scrapes done.");

	CHECK(m);
	CHECK_RENDER(r, "# HELP podprof_scrapes_total Scrapes done.\n"
			"# TYPE podprof_scrapes_total counter\n"
			"podprof_scrapes_total 0\n");
	metric_inc(m);
	metric_add(m, 41);
	metric_add(m, -5); /* ignored on a counter */
	metric_add(m, NAN);
	CHECK(metric_value(m) == 42);
	CHECK_RENDER(r, "# HELP podprof_scrapes_total Scrapes done.\n"
			"# TYPE podprof_scrapes_total counter\n"
			"podprof_scrapes_total 42\n");
	/* a second lookup of the shorthand gives the same series */
	CHECK(metrics_counter(r, "podprof_scrapes_total", "Scrapes done.") == m);
	metrics_registry_free(r);
}

TEST(counter_and_gauge_with_labels)
{
	static const char *const labels[] = {"result", "role"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f =
	    metrics_family(r, METRIC_COUNTER, "podprof_uploads_total", "Uploads by result.",
			   labels, 2, NULL, 0);
	struct metric_family *g = metrics_family(r, METRIC_GAUGE, "podprof_queue_length",
						 "Queued profiles.", NULL, 0, NULL, 0);
	const char *ok[] = {"ok", "node"}, *err[] = {"error", "node"};

	CHECK(f && g);
	metric_add(metrics_series(f, ok), 3);
	metric_inc(metrics_series(f, err));
	metric_inc(metrics_series(f, ok));
	metric_set(metrics_series(g, NULL), 7);
	metric_add(metrics_series(g, NULL), -9.5);
	CHECK_RENDER(r, "# HELP podprof_uploads_total Uploads by result.\n"
			"# TYPE podprof_uploads_total counter\n"
			"podprof_uploads_total{result=\"ok\",role=\"node\"} 4\n"
			"podprof_uploads_total{result=\"error\",role=\"node\"} 1\n"
			"# HELP podprof_queue_length Queued profiles.\n"
			"# TYPE podprof_queue_length gauge\n"
			"podprof_queue_length -2.5\n");
	metrics_registry_free(r);
}

TEST(histogram_text)
{
	static const double bounds[] = {0.5, 1};
	static const char *const labels[] = {"target"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric *h = metrics_histogram(r, "req_seconds", "Request time.", bounds, 2);
	struct metric_family *f = metrics_family(r, METRIC_HISTOGRAM, "scrape_seconds",
						 "Scrape time.", labels, 1, bounds, 2);
	const char *a[] = {"a"};

	CHECK(h && f);
	metric_observe(h, 0.25);
	metric_observe(h, 1); /* upper bounds are inclusive */
	metric_observe(h, 2.5);
	metric_observe(metrics_series(f, a), 0.75);
	metric_inc(h); /* not for histograms: ignored */
	metric_set(h, 100);
	CHECK_EQ(metric_count(h), 3);
	CHECK(metric_value(h) == 3.75);
	CHECK_RENDER(r, "# HELP req_seconds Request time.\n"
			"# TYPE req_seconds histogram\n"
			"req_seconds_bucket{le=\"0.5\"} 1\n"
			"req_seconds_bucket{le=\"1\"} 2\n"
			"req_seconds_bucket{le=\"+Inf\"} 3\n"
			"req_seconds_sum 3.75\n"
			"req_seconds_count 3\n"
			"# HELP scrape_seconds Scrape time.\n"
			"# TYPE scrape_seconds histogram\n"
			"scrape_seconds_bucket{target=\"a\",le=\"0.5\"} 0\n"
			"scrape_seconds_bucket{target=\"a\",le=\"1\"} 1\n"
			"scrape_seconds_bucket{target=\"a\",le=\"+Inf\"} 1\n"
			"scrape_seconds_sum{target=\"a\"} 0.75\n"
			"scrape_seconds_count{target=\"a\"} 1\n");
	metrics_registry_free(r);
}

TEST(histogram_without_buckets_and_nan)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric *h = metrics_histogram(r, "h", "", NULL, 0);

	CHECK(h);
	metric_observe(h, 3);
	metric_observe(h, NAN);
	CHECK_EQ(metric_count(h), 2);
	CHECK_RENDER(r, "# HELP h \n"
			"# TYPE h histogram\n"
			"h_bucket{le=\"+Inf\"} 2\n"
			"h_sum NaN\n"
			"h_count 2\n");
	metrics_registry_free(r);
}

TEST(escaping)
{
	static const char *const labels[] = {"v"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f = metrics_family(r, METRIC_GAUGE, "esc",
						 "Back\\slash, \"quotes\" and\nnewline.", labels,
						 1, NULL, 0);
	const char *v1[] = {"a\\b"}, *v2[] = {"say \"hi\""}, *v3[] = {"two\nlines"},
		   *v4[] = {"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\xb9"}, *v5[] = {"bad\xff\xc3"},
		   *v6[] = {""};

	CHECK(f);
	metric_set(metrics_series(f, v1), 1);
	metric_set(metrics_series(f, v2), 2);
	metric_set(metrics_series(f, v3), 3);
	metric_set(metrics_series(f, v4), 4);
	metric_set(metrics_series(f, v5), 5);
	metric_set(metrics_series(f, v6), 6);
	CHECK_RENDER(r, "# HELP esc Back\\\\slash, \"quotes\" and\\nnewline.\n"
			"# TYPE esc gauge\n"
			"esc{v=\"a\\\\b\"} 1\n"
			"esc{v=\"say \\\"hi\\\"\"} 2\n"
			"esc{v=\"two\\nlines\"} 3\n"
			"esc{v=\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\xb9\"} 4\n"
			"esc{v=\"bad\xef\xbf\xbd\xef\xbf\xbd\"} 5\n"
			"esc{v=\"\"} 6\n");
	metrics_registry_free(r);
}

TEST(name_validation)
{
	static const char *const bad_names[] = {"", "1abc", "a-b", "a b", "a.b", "\xc3\xa9"};
	static const char *const good_names[] = {"a", "_x", ":x", "a:b_c9", "A_Z"};
	static const char *const bad_labels[] = {"", "__x", "1a", "a:b", "a-b"};
	struct metrics_registry *r = metrics_registry_new();
	static const double unordered[] = {1, 0.5}, dup[] = {1, 1}, inf[] = {1, INFINITY};
	const char *le[] = {"le"}, *twice[] = {"a", "a"}, *none[] = {NULL};

	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++)
		CHECK_MSG(!metrics_counter(r, bad_names[i], "x"), "accepted %s", bad_names[i]);
	CHECK(!metrics_counter(r, NULL, "x"));
	for (size_t i = 0; i < ARRAY_SIZE(good_names); i++)
		CHECK_MSG(metrics_counter(r, good_names[i], "x"), "refused %s", good_names[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad_labels); i++) {
		const char *l[] = {bad_labels[i]};
		CHECK_MSG(!metrics_family(r, METRIC_GAUGE, "g", "", l, 1, NULL, 0),
			  "accepted label %s", bad_labels[i]);
	}
	CHECK(!metrics_family(r, METRIC_GAUGE, "g", "", none, 1, NULL, 0));
	CHECK(!metrics_family(r, METRIC_GAUGE, "g", "", twice, 2, NULL, 0));
	/* le is reserved in histograms only */
	CHECK(!metrics_family(r, METRIC_HISTOGRAM, "h", "", le, 1, NULL, 0));
	CHECK(metrics_family(r, METRIC_GAUGE, "g_le", "", le, 1, NULL, 0));
	/* bucket bounds: strictly increasing, finite; none for other types */
	CHECK(!metrics_histogram(r, "h1", "", unordered, 2));
	CHECK(!metrics_histogram(r, "h2", "", dup, 2));
	CHECK(!metrics_histogram(r, "h3", "", inf, 2));
	CHECK(!metrics_family(r, METRIC_COUNTER, "c", "", NULL, 0, unordered, 2));
	metrics_registry_free(r);
}

TEST(reregistration)
{
	static const char *const ab[] = {"a", "b"}, *const ba[] = {"b", "a"};
	static const double b1[] = {1, 2}, b2[] = {1, 3};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f = metrics_family(r, METRIC_COUNTER, "c", "help", ab, 2, NULL, 0);
	struct metric_family *h = metrics_family(r, METRIC_HISTOGRAM, "h", "", NULL, 0, b1, 2);

	CHECK(f && h);
	CHECK(metrics_family(r, METRIC_COUNTER, "c", "other help", ab, 2, NULL, 0) == f);
	CHECK(!metrics_family(r, METRIC_GAUGE, "c", "help", ab, 2, NULL, 0));
	CHECK(!metrics_family(r, METRIC_COUNTER, "c", "help", ba, 2, NULL, 0));
	CHECK(!metrics_family(r, METRIC_COUNTER, "c", "help", ab, 1, NULL, 0));
	CHECK(!metrics_counter(r, "c", "help"));
	CHECK(metrics_family(r, METRIC_HISTOGRAM, "h", "", NULL, 0, b1, 2) == h);
	CHECK(!metrics_family(r, METRIC_HISTOGRAM, "h", "", NULL, 0, b2, 2));
	/* names that collide with a histogram's samples */
	CHECK(!metrics_counter(r, "h_count", ""));
	CHECK(!metrics_gauge(r, "h_bucket", ""));
	CHECK(metrics_histogram(r, "c_x", "", b1, 2));
	CHECK(metrics_counter(r, "x_sum", ""));
	CHECK(!metrics_histogram(r, "x", "", b1, 2));
	/* the help of the first registration stays */
	{
		char *text = render(r);
		CHECK(text && strstr(text, "# HELP c help\n"));
		free(text);
	}
	metrics_registry_free(r);
}

TEST(series_removal)
{
	static const char *const labels[] = {"container_id"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f = metrics_family(r, METRIC_COUNTER, "alloc_bytes_total", "B.",
						 labels, 1, NULL, 0);
	const char *a[] = {"aaa"}, *b[] = {"bbb"};
	struct metric *ma = metrics_series(f, a), *mb = metrics_series(f, b);

	CHECK(ma && mb && ma != mb);
	CHECK(metrics_series(f, a) == ma);
	metric_add(ma, 10);
	metric_add(mb, 20);
	CHECK_EQ(metrics_series_remove(f, a), 0);
	CHECK_EQ(metrics_series_remove(f, a), -ENOENT);
	CHECK_RENDER(r, "# HELP alloc_bytes_total B.\n"
			"# TYPE alloc_bytes_total counter\n"
			"alloc_bytes_total{container_id=\"bbb\"} 20\n");
	ma = metrics_series(f, a);
	CHECK(ma && metric_value(ma) == 0);
	CHECK_EQ(metrics_series_remove(f, b), 0);
	CHECK_RENDER(r, "# HELP alloc_bytes_total B.\n"
			"# TYPE alloc_bytes_total counter\n"
			"alloc_bytes_total{container_id=\"aaa\"} 0\n");
	metrics_registry_free(r);
}

/* the render hook: called before every rendering, its context freed once when replaced
 * or when the registry goes */
struct hook_state {
	struct metric *g;
	int calls;
	int *freed;
};

static void hook_collect(void *ctx)
{
	struct hook_state *h = ctx;
	metric_set(h->g, ++h->calls);
}

static void hook_free(void *ctx)
{
	struct hook_state *h = ctx;
	(*h->freed)++;
}

TEST(render_hook)
{
	struct metrics_registry *r = metrics_registry_new();
	int freed1 = 0, freed2 = 0;
	struct hook_state h1 = {.freed = &freed1}, h2 = {.freed = &freed2};

	h1.g = h2.g = metrics_gauge(r, "renders", "R.");
	metrics_on_render(r, hook_collect, hook_free, &h1);
	CHECK_RENDER(r, "# HELP renders R.\n# TYPE renders gauge\nrenders 1\n");
	CHECK_RENDER(r, "# HELP renders R.\n# TYPE renders gauge\nrenders 2\n");
	CHECK_EQ(h1.calls, 2);
	metrics_on_render(r, hook_collect, hook_free, &h2);
	CHECK_EQ(freed1, 1);
	CHECK_RENDER(r, "# HELP renders R.\n# TYPE renders gauge\nrenders 1\n");
	CHECK_EQ(h1.calls, 2);
	CHECK_EQ(freed2, 0);
	metrics_registry_free(r);
	CHECK_EQ(freed1, 1);
	CHECK_EQ(freed2, 1);
}

TEST(many_series)
{
	static const char *const labels[] = {"container_id"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f =
	    metrics_family(r, METRIC_GAUGE, "g", "", labels, 1, NULL, 0);
	struct metric **handles = calloc(20000, sizeof(*handles));
	char id[96];

	CHECK(f && handles);
	for (int i = 0; i < 20000; i++) {
		const char *v[] = {id};
		snprintf(id, sizeof(id), "containerd://%064x", i);
		handles[i] = metrics_series(f, v);
		CHECK(handles[i]);
		metric_set(handles[i], i);
	}
	for (int i = 0; i < 20000; i += 7) {
		const char *v[] = {id};
		snprintf(id, sizeof(id), "containerd://%064x", i);
		CHECK(metrics_series(f, v) == handles[i]);
		CHECK(metric_value(handles[i]) == i);
	}
	for (int i = 0; i < 20000; i += 2) {
		const char *v[] = {id};
		snprintf(id, sizeof(id), "containerd://%064x", i);
		CHECK_EQ(metrics_series_remove(f, v), 0);
	}
	{
		char *text = render(r);
		size_t lines = 0;
		CHECK(text);
		for (char *p = text; *p; p++)
			lines += *p == '\n';
		free(text);
		CHECK_EQ(lines, 2 + 10000);
	}
	free(handles);
	metrics_registry_free(r);
}

TEST(value_formatting)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
	    {42, "42"},
	    {-7, "-7"},
	    {-0.0, "0"},
	    {1e15, "1000000000000000"},
	    {9007199254740993.0, "9007199254740992"},
	    {0.1, "0.1"},
	    {1.0 / 3, "0.3333333333333333"},
	    {2.5e-7, "2.5e-07"},
	    {1e20, "1e+20"},
	    {123456.789, "123456.789"},
	    {INFINITY, "+Inf"},
	    {-INFINITY, "-Inf"},
	    {NAN, "NaN"},
	};
	char want[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct metrics_registry *r = metrics_registry_new();
		metric_set(metrics_gauge(r, "v", "value"), cases[i].v);
		snprintf(want, sizeof(want), "# HELP v value\n# TYPE v gauge\nv %s\n",
			 cases[i].text);
		CHECK_RENDER(r, want);
		metrics_registry_free(r);
	}
	/* large counters stay exact */
	{
		struct metrics_registry *r = metrics_registry_new();
		struct metric *c = metrics_counter(r, "c", "");
		metric_add(c, 1e15);
		metric_inc(c);
		metric_add(c, 0.5);
		CHECK(metric_value(c) == 1e15 + 1.5);
		CHECK_RENDER(r, "# HELP c \n# TYPE c counter\nc 1000000000000001.5\n");
		metric_add(c, INFINITY);
		CHECK_RENDER(r, "# HELP c \n# TYPE c counter\nc +Inf\n");
		metrics_registry_free(r);
	}
}

TEST(null_handles_are_ignored)
{
	metric_inc(NULL);
	metric_add(NULL, 1);
	metric_set(NULL, 1);
	metric_observe(NULL, 1);
	CHECK(metric_value(NULL) == 0);
	CHECK_EQ(metric_count(NULL), 0);
	CHECK(!metrics_series(NULL, NULL));
	CHECK_EQ(metrics_series_remove(NULL, NULL), -ENOENT);
	CHECK_EQ(metrics_render(NULL, NULL), 0);
	metrics_registry_free(NULL);
}

TEST(duration_buckets)
{
	CHECK(metrics_duration_buckets_len >= 10);
	CHECK(metrics_duration_buckets[0] == 0.001);
	CHECK(metrics_duration_buckets[metrics_duration_buckets_len - 1] == 120);
	for (size_t i = 1; i < metrics_duration_buckets_len; i++)
		CHECK(metrics_duration_buckets[i] > metrics_duration_buckets[i - 1]);
	{
		struct metrics_registry *r = metrics_registry_new();
		CHECK(metrics_histogram(r, "d", "", metrics_duration_buckets,
					metrics_duration_buckets_len));
		metrics_registry_free(r);
	}
}

/* ---- concurrency ---- */

#define THREADS 4
#define ITERATIONS 1000000
#define SERIES_PER_THREAD 2000

struct worker {
	int id;
	struct metric *counter, *fraction, *gauge, *histogram;
	struct metric_family *family;
};

static void *hammer(void *arg)
{
	static const double values[] = {0.5, 1, 2, 4};
	struct worker *w = arg;

	for (int i = 0; i < ITERATIONS; i++) {
		metric_inc(w->counter);
		metric_add(w->fraction, 0.5);
		metric_add(w->gauge, 1);
		metric_observe(w->histogram, values[i & 3]);
	}
	return NULL;
}

static void *create_series(void *arg)
{
	struct worker *w = arg;
	char id[32];
	const char *v[] = {id};

	for (int i = 0; i < SERIES_PER_THREAD; i++) {
		snprintf(id, sizeof(id), "t%d-%d", w->id, i);
		metric_inc(metrics_series(w->family, v));
		snprintf(id, sizeof(id), "shared-%d", i % 10);
		metric_inc(metrics_series(w->family, v));
	}
	return NULL;
}

TEST(concurrent_updates_are_exact)
{
	static const double bounds[] = {0.5, 1, 2};
	struct metrics_registry *r = metrics_registry_new();
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct metric *counter = metrics_counter(r, "c_total", ""),
		      *fraction = metrics_counter(r, "f_total", ""),
		      *gauge = metrics_gauge(r, "g", ""),
		      *histogram = metrics_histogram(r, "h", "", bounds, 3);
	char *text;

	CHECK(counter && fraction && gauge && histogram);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){i, counter, fraction, gauge, histogram, NULL};
		CHECK_EQ(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(metric_value(counter) == THREADS * ITERATIONS);
	CHECK(metric_value(fraction) == THREADS * ITERATIONS / 2);
	CHECK(metric_value(gauge) == THREADS * ITERATIONS);
	CHECK_EQ(metric_count(histogram), THREADS * ITERATIONS);
	CHECK(metric_value(histogram) == THREADS * (ITERATIONS / 4) * 7.5);
	text = render(r);
	CHECK(text);
	CHECK_MSG(strstr(text, "h_bucket{le=\"0.5\"} 1000000\n") &&
		      strstr(text, "h_bucket{le=\"1\"} 2000000\n") &&
		      strstr(text, "h_bucket{le=\"2\"} 3000000\n") &&
		      strstr(text, "h_bucket{le=\"+Inf\"} 4000000\n") &&
		      strstr(text, "h_sum 7500000\n") && strstr(text, "h_count 4000000\n") &&
		      strstr(text, "c_total 4000000\n") && strstr(text, "f_total 2000000\n"),
		  "%s", text);
	free(text);
	metrics_registry_free(r);
}

TEST(concurrent_series_creation)
{
	static const char *const labels[] = {"id"};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f =
	    metrics_family(r, METRIC_COUNTER, "s_total", "", labels, 1, NULL, 0);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char *text, *p;
	size_t samples = 0;

	CHECK(f);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.id = i, .family = f};
		CHECK_EQ(pthread_create(&t[i], NULL, create_series, &w[i]), 0);
	}
	/* render while the series are being created */
	for (int i = 0; i < 20; i++) {
		text = render(r);
		CHECK(text);
		free(text);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 10; i++) {
		char id[16];
		const char *v[] = {id};
		snprintf(id, sizeof(id), "shared-%d", i);
		CHECK(metric_value(metrics_series(f, v)) == THREADS * SERIES_PER_THREAD / 10);
	}
	for (int i = 0; i < THREADS; i++) {
		char id[16];
		const char *v[] = {id};
		snprintf(id, sizeof(id), "t%d-%d", i, SERIES_PER_THREAD - 1);
		CHECK(metric_value(metrics_series(f, v)) == 1);
	}
	text = render(r);
	CHECK(text);
	for (p = text; (p = strstr(p, "\ns_total{")); p++)
		samples++;
	free(text);
	CHECK_EQ(samples, THREADS * SERIES_PER_THREAD + 10);
	metrics_registry_free(r);
}

/* ---- independent reader: prometheus_client's parser ---- */

static const char parser_script[] =
    "import json, math, sys\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "text = open(sys.argv[1], encoding='utf-8').read()\n"
    "for fam in text_string_to_metric_families(text):\n"
    "    print('family', fam.name, fam.type, json.dumps(fam.documentation))\n"
    "    for s in fam.samples:\n"
    "        labels = json.dumps(sorted(s.labels.items()), ensure_ascii=False)\n"
    "        print('sample', s.name, labels, repr(s.value))\n";

TEST(prometheus_python_parser_agrees)
{
	static const char *const labels[] = {"container_id", "note"};
	static const double bounds[] = {0.005, 0.25, 1, 60};
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *alloc =
	    metrics_family(r, METRIC_COUNTER, "container_go_alloc_bytes_total",
			   "Bytes allocated.\nSecond line \\ with backslash.", labels, 2, NULL, 0);
	struct metric_family *dur = metrics_family(r, METRIC_HISTOGRAM, "podprof_scrape_seconds",
						   "Scrape duration.", labels, 2, bounds, 4);
	struct metric *g = metrics_gauge(r, "podprof_spool_bytes", "Spool \"size\".");
	const char *v1[] = {"abc123", "plain"},
		   *v2[] = {"def456", "q\"uote \\ back\nnew \xc3\xa9\xe2\x9c\x93"};
	char *dir = test_tmpdir("metrics"), path[512], cmd[1200], script[512];
	char *text = NULL;
	struct buf out;
	int st;

	CHECK(alloc && dur && g);
	metric_add(metrics_series(alloc, v1), 1e15);
	metric_add(metrics_series(alloc, v2), 12345.5);
	metric_observe(metrics_series(dur, v1), 0.003);
	metric_observe(metrics_series(dur, v1), 0.5);
	metric_observe(metrics_series(dur, v1), 100);
	metric_set(g, -INFINITY);
	text = render(r);
	CHECK(text);
	snprintf(path, sizeof(path), "%s/metrics.txt", dir);
	snprintf(script, sizeof(script), "%s/parse.py", dir);
	CHECK_EQ(test_write_file(path, text, strlen(text)), 0);
	CHECK_EQ(test_write_file(script, parser_script, strlen(parser_script)), 0);
	free(text);
	metrics_registry_free(r);

	buf_init(&out, 1 << 20);
	if (test_sh("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null", NULL, 0) != 0) {
		buf_free(&out);
		test_rmtree(dir);
		free(dir);
		SKIP("/usr/bin/python3 has no prometheus_client (apt-get install "
		     "python3-prometheus-client)");
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s'", script, path);
	st = test_sh(cmd, &out, 1);
	test_rmtree(dir);
	free(dir);
	CHECK_MSG(st == 0, "parser exit %d: %s", st, out.data ? out.data : "");
	/* The parser names counter families without _total and keeps it on samples. */
	CHECK_STR(out.data,
		  "family container_go_alloc_bytes counter \"Bytes allocated.\\nSecond line "
		  "\\\\ with backslash.\"\n"
		  "sample container_go_alloc_bytes_total [[\"container_id\", \"abc123\"], "
		  "[\"note\", \"plain\"]] 1000000000000000.0\n"
		  "sample container_go_alloc_bytes_total [[\"container_id\", \"def456\"], "
		  "[\"note\", \"q\\\"uote \\\\ back\\nnew \xc3\xa9\xe2\x9c\x93\"]] 12345.5\n"
		  "family podprof_scrape_seconds histogram \"Scrape duration.\"\n"
		  "sample podprof_scrape_seconds_bucket [[\"container_id\", \"abc123\"], "
		  "[\"le\", \"0.005\"], [\"note\", \"plain\"]] 1.0\n"
		  "sample podprof_scrape_seconds_bucket [[\"container_id\", \"abc123\"], "
		  "[\"le\", \"0.25\"], [\"note\", \"plain\"]] 1.0\n"
		  "sample podprof_scrape_seconds_bucket [[\"container_id\", \"abc123\"], "
		  "[\"le\", \"1\"], [\"note\", \"plain\"]] 2.0\n"
		  "sample podprof_scrape_seconds_bucket [[\"container_id\", \"abc123\"], "
		  "[\"le\", \"60\"], [\"note\", \"plain\"]] 2.0\n"
		  "sample podprof_scrape_seconds_bucket [[\"container_id\", \"abc123\"], "
		  "[\"le\", \"+Inf\"], [\"note\", \"plain\"]] 3.0\n"
		  "sample podprof_scrape_seconds_sum [[\"container_id\", \"abc123\"], "
		  "[\"note\", \"plain\"]] 100.503\n"
		  "sample podprof_scrape_seconds_count [[\"container_id\", \"abc123\"], "
		  "[\"note\", \"plain\"]] 3.0\n"
		  "family podprof_spool_bytes gauge \"Spool \\\"size\\\".\"\n"
		  "sample podprof_spool_bytes [] -inf\n");
	buf_free(&out);
}
