/*
 * Unit tests of what reads the watch stream and builds requests: the line splitter
 * (events cut at every byte boundary, many per chunk, CRLF, oversized lines, linear
 * time), request paths and selector encoding (node mode), namespace validation, the
 * backoff with jitter, and the server version that decides the streaming list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "lines.h"
#include "query.h"
#include "support.h"
#include "version.h"
#include "testing.h"

struct collected {
	struct buf all; /* lines joined with '|' */
	int n;
	int fail_at; /* return an error at this line (1-based), 0: never */
};

static int collect(void *ctx, const char *line, size_t len)
{
	struct collected *c = ctx;

	c->n++;
	if (c->fail_at && c->n == c->fail_at)
		return -EBADMSG;
	buf_append(&c->all, line, len);
	buf_append(&c->all, "|", 1);
	return 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bb\"}}}\r\n"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12345\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{}}\n";
static const char expected[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}|"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bb\"}}}|"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12345\"}}}|"
	"{\"type\":\"DELETED\",\"object\":{}}|";

TEST(lines_split_at_every_byte_boundary)
{
	size_t n = strlen(stream);

	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct k8s_lines l;
			struct collected c = {.n = 0};

			buf_init(&c.all, 0);
			k8s_lines_init(&l, 1024);
			CHECK_EQ(k8s_lines_feed(&l, stream, i, collect, &c), 0);
			CHECK_EQ(k8s_lines_feed(&l, stream + i, j - i, collect, &c), 0);
			CHECK_EQ(k8s_lines_feed(&l, stream + j, n - j, collect, &c), 0);
			CHECK_MSG(c.all.data && strcmp(c.all.data, expected) == 0, "cut at %zu/%zu: %s",
				  i, j, c.all.data ? c.all.data : "(nothing)");
			CHECK_EQ(k8s_lines_pending(&l), 0);
			k8s_lines_free(&l);
			buf_free(&c.all);
		}
	}
}

TEST(lines_byte_by_byte_and_all_at_once)
{
	struct k8s_lines l;
	struct collected c = {.n = 0};
	size_t n = strlen(stream);

	buf_init(&c.all, 0);
	k8s_lines_init(&l, 1024);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(k8s_lines_feed(&l, stream + i, 1, collect, &c), 0);
	CHECK_STR(c.all.data, expected);
	buf_reset(&c.all);
	CHECK_EQ(k8s_lines_feed(&l, stream, n, collect, &c), 0);
	CHECK_STR(c.all.data, expected);
	/* a partial last line waits for its newline */
	buf_reset(&c.all);
	CHECK_EQ(k8s_lines_feed(&l, "{\"half\":", 8, collect, &c), 0);
	CHECK_EQ(k8s_lines_pending(&l), 8);
	CHECK(c.all.len == 0);
	CHECK_EQ(k8s_lines_feed(&l, "1}\n", 3, collect, &c), 0);
	CHECK_STR(c.all.data, "{\"half\":1}|");
	k8s_lines_free(&l);
	buf_free(&c.all);
}

TEST(lines_many_per_chunk)
{
	struct k8s_lines l;
	struct collected c = {.n = 0};
	struct buf chunk;

	buf_init(&chunk, 0);
	buf_init(&c.all, 0);
	for (int i = 0; i < 10000; i++)
		buf_printf(&chunk, "{\"i\":%d}\n", i);
	k8s_lines_init(&l, 64);
	CHECK_EQ(k8s_lines_feed(&l, chunk.data, chunk.len, collect, &c), 0);
	CHECK_EQ(c.n, 10000);
	/* lines whole in a chunk are passed in place: nothing was copied */
	CHECK(l.partial.cap == 0);
	k8s_lines_free(&l);
	buf_free(&chunk);
	buf_free(&c.all);
}

TEST(lines_oversized_is_an_error_not_an_allocation)
{
	struct k8s_lines l;
	struct collected c = {.n = 0};
	char big[5000];

	memset(big, 'x', sizeof(big));
	buf_init(&c.all, 0);
	k8s_lines_init(&l, 4096);
	/* exactly the bound is fine */
	CHECK_EQ(k8s_lines_feed(&l, big, 4096, collect, &c), 0);
	CHECK_EQ(k8s_lines_feed(&l, "\n", 1, collect, &c), 0);
	CHECK_EQ(c.n, 1);
	/* one byte more, across chunks: -E2BIG, and the partial line is dropped */
	CHECK_EQ(k8s_lines_feed(&l, big, 4000, collect, &c), 0);
	CHECK_EQ(k8s_lines_feed(&l, big, 97, collect, &c), -E2BIG);
	CHECK_EQ(k8s_lines_pending(&l), 0);
	CHECK(l.partial.cap <= 65536 || l.partial.data == NULL);
	/* a too long line whole in one chunk, and bytes without any newline */
	CHECK_EQ(k8s_lines_feed(&l, big, 4097, collect, &c), -E2BIG);
	for (int i = 0; i < 4; i++) {
		int r = k8s_lines_feed(&l, big, 1500, collect, &c);
		CHECK(r == 0 || r == -E2BIG);
		if (r)
			break;
	}
	CHECK(l.partial.len <= 4096);
	/* after an error the splitter is usable again */
	k8s_lines_reset(&l);
	buf_reset(&c.all);
	CHECK_EQ(k8s_lines_feed(&l, "{}\n", 3, collect, &c), 0);
	CHECK_STR(c.all.data, "{}|");
	/* a callback error stops feeding and is returned */
	c.fail_at = c.n + 2;
	CHECK_EQ(k8s_lines_feed(&l, "1\n2\n3\n", 6, collect, &c), -EBADMSG);
	k8s_lines_free(&l);
	buf_free(&c.all);
}

TEST(lines_linear_time)
{
	/* a 4 MiB event in 1-byte chunks: quadratic copying would take minutes */
	size_t n = 4u << 20;
	struct k8s_lines l;
	struct collected c = {.n = 0};
	char *data = malloc(n + 1);
	struct timespec t0, t1;

	memset(data, 'y', n);
	data[n] = '\n';
	buf_init(&c.all, 0);
	k8s_lines_init(&l, n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i <= n; i += 1)
		CHECK_EQ(k8s_lines_feed(&l, data + i, 1, collect, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_EQ(c.n, 1);
	CHECK_EQ(c.all.len, n + 1);
	CHECK((t1.tv_sec - t0.tv_sec) < 10);
	k8s_lines_free(&l);
	buf_free(&c.all);
	free(data);
}

static const char *build(const struct k8s_query *q)
{
	static struct buf out;

	buf_free(&out);
	buf_init(&out, 0);
	if (k8s_query_build(&out, q))
		return "(error)";
	return out.data;
}

TEST(request_paths)
{
	struct k8s_query q = {.api = "/api/v1", .resource = "pods", .limit = 500};

	CHECK_STR(build(&q), "/api/v1/pods?limit=500");
	q.namespace = "shop";
	q.continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ==";
	CHECK_STR(build(&q), "/api/v1/namespaces/shop/pods?limit=500&continue="
			     "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ%3D%3D");
	memset(&q, 0, sizeof(q));
	q.api = "/apis/apps/v1";
	q.resource = "replicasets";
	q.watch = true;
	q.resource_version = "12345";
	q.bookmarks = true;
	q.timeout_s = 417;
	CHECK_STR(build(&q), "/apis/apps/v1/replicasets?watch=1&resourceVersion=12345&"
			     "allowWatchBookmarks=true&timeoutSeconds=417");
	/* the streaming list: an empty resourceVersion is sent, not left out */
	q.resource_version = "";
	q.send_initial_events = true;
	CHECK_STR(build(&q), "/apis/apps/v1/replicasets?watch=1&sendInitialEvents=true&"
			     "resourceVersionMatch=NotOlderThan&resourceVersion=&"
			     "allowWatchBookmarks=true&timeoutSeconds=417");
}

TEST(selectors_are_encoded)
{
	struct k8s_query q = {.api = "/api/v1", .resource = "pods"};
	char *fs;

	q.label_selector = "app in (api,web),tier!=cache,!canary";
	q.field_selector = "status.phase=Running";
	CHECK_STR(build(&q), "/api/v1/pods?fieldSelector=status.phase%3DRunning&labelSelector="
			     "app%20in%20%28api%2Cweb%29%2Ctier%21%3Dcache%2C%21canary");
	/* node mode adds spec.nodeName, alone or before the user's selector */
	fs = k8s_field_selector("ip-10-0-3-17.eu-west-1.compute.internal", NULL);
	CHECK_STR(fs, "spec.nodeName=ip-10-0-3-17.eu-west-1.compute.internal");
	free(fs);
	fs = k8s_field_selector("node-1", "status.phase=Running");
	CHECK_STR(fs, "spec.nodeName=node-1,status.phase=Running");
	q.field_selector = fs;
	q.label_selector = NULL;
	CHECK_STR(build(&q),
		  "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1%2Cstatus.phase%3DRunning");
	free(fs);
	fs = k8s_field_selector(NULL, "metadata.namespace!=kube-system");
	CHECK_STR(fs, "metadata.namespace!=kube-system");
	free(fs);
	CHECK(k8s_field_selector("", "") == NULL);
	{
		struct buf b;
		buf_init(&b, 0);
		CHECK_EQ(k8s_query_escape(&b, "a b/c?d&e=f~g_h.i-j\xc3\xa9"), 0);
		CHECK_STR(b.data, "a%20b%2Fc%3Fd%26e%3Df~g_h.i-j%C3%A9");
		buf_free(&b);
	}
}

TEST(namespace_names)
{
	CHECK(k8s_valid_namespace("default"));
	CHECK(k8s_valid_namespace("kube-system"));
	CHECK(k8s_valid_namespace("a1"));
	CHECK(!k8s_valid_namespace(""));
	CHECK(!k8s_valid_namespace("Shop"));
	CHECK(!k8s_valid_namespace("-shop"));
	CHECK(!k8s_valid_namespace("shop-"));
	CHECK(!k8s_valid_namespace("a/b"));
	CHECK(!k8s_valid_namespace("a.b"));
	CHECK(!k8s_valid_namespace("0123456789012345678901234567890123456789012345678901234567890123"));
}

TEST(backoff_jitter_with_a_growing_floor)
{
	struct k8s_backoff b;
	int64_t now = 1000 * NS_PER_SEC, ceiling = 800 * NS_PER_MS, d;

	k8s_backoff_init(&b, 0, 0, 0);
	CHECK_EQ(b.min_ns, 800 * NS_PER_MS);
	CHECK_EQ(b.max_ns, 30 * NS_PER_SEC);
	/* the first delay is the minimum; then between half a doubling ceiling (never below
	 * the minimum) and the ceiling, capped: the floor grows with the ceiling, so a
	 * failing server's load has a bound whatever the draws */
	CHECK_EQ(k8s_backoff_next(&b, now), 800 * NS_PER_MS);
	for (int i = 0; i < 10; i++) {
		ceiling = ceiling * 2 > 30 * NS_PER_SEC ? 30 * NS_PER_SEC : ceiling * 2;
		d = k8s_backoff_next(&b, now += NS_PER_SEC);
		CHECK_MSG(d >= 800 * NS_PER_MS && d >= ceiling / 2 && d <= ceiling,
			  "delay %lld, ceiling %lld", (long long)d, (long long)ceiling);
	}
	CHECK_EQ(b.ceiling_ns, 30 * NS_PER_SEC);
	/* jitter: not every delay is the same; at the cap, from 15 s to 30 s */
	{
		int64_t first = k8s_backoff_next(&b, now), differ = 0;
		for (int i = 0; i < 20; i++) {
			d = k8s_backoff_next(&b, now);
			differ |= d != first;
			CHECK(d >= 15 * NS_PER_SEC && d <= 30 * NS_PER_SEC);
		}
		CHECK(differ);
	}
	/* two minutes without failure reset the ceiling */
	k8s_backoff_healthy(&b, now + 119 * NS_PER_SEC);
	CHECK_EQ(b.ceiling_ns, 30 * NS_PER_SEC);
	CHECK_EQ(k8s_backoff_next(&b, now + 121 * NS_PER_SEC), 800 * NS_PER_MS);
	/* random in a range, inclusive */
	for (int i = 0; i < 1000; i++) {
		d = k8s_backoff_random(&b, 300, 600);
		CHECK(d >= 300 && d <= 600);
	}
}

TEST(server_version_and_streaming_lists)
{
	static const struct {
		const char *doc;
		int major, minor; /* -1: not a version */
		bool streams;
	} cases[] = {
		{"{\"major\":\"1\",\"minor\":\"34\",\"gitVersion\":\"v1.34.1\"}", 1, 34, true},
		{"{\"major\":\"1\",\"minor\":\"32\"}", 1, 32, true},
		{"{\"major\":\"1\",\"minor\":\"31\"}", 1, 31, false},
		/* clouds: "28+" */
		{"{\"major\":\"1\",\"minor\":\"28+\",\"gitVersion\":\"v1.28.3-eks-4f4795d\"}", 1,
		 28, false},
		/* a 1.33 server emulating 1.31 has 1.31's features */
		{"{\"major\":\"1\",\"minor\":\"33\",\"emulationMajor\":\"1\","
		 "\"emulationMinor\":\"31\"}", 1, 31, false},
		/* no major/minor: from gitVersion */
		{"{\"major\":\"\",\"minor\":\"\",\"gitVersion\":\"v1.33.0-rc.1\"}", 1, 33, true},
		{"{\"gitVersion\":\"v2.0.0\"}", 2, 0, true},
		{"{\"major\":\"1\"}", -1, -1, false},
		{"{\"gitVersion\":\"1.30\"}", -1, -1, false},
		{"{\"major\":\"1\",\"minor\":\"99999999999\"}", -1, -1, false},
		{"[1, 32]", -1, -1, false},
		{"not json", -1, -1, false},
		{"", -1, -1, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int major = -7, minor = -7;
		int e = k8s_version_parse(cases[i].doc, strlen(cases[i].doc), &major, &minor);
		CHECK_MSG(e == (cases[i].major < 0 ? -EINVAL : 0), "%s: %d", cases[i].doc, e);
		if (e)
			continue;
		CHECK_MSG(major == cases[i].major && minor == cases[i].minor, "%s: %d.%d",
			  cases[i].doc, major, minor);
		CHECK_MSG(k8s_version_streams(major, minor) == cases[i].streams, "%s", cases[i].doc);
	}
	/* the document's bound */
	{
		char big[K8S_VERSION_DOC_MAX + 64];
		int major, minor;
		const char *doc = "{\"major\":\"1\",\"minor\":\"34\"}";
		memset(big, ' ', sizeof(big));
		memcpy(big, doc, strlen(doc));
		CHECK_EQ(k8s_version_parse(big, sizeof(big), &major, &minor), -EINVAL);
		CHECK_EQ(k8s_version_parse(big, K8S_VERSION_DOC_MAX, &major, &minor), 0);
	}
}
