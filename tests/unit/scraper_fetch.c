/*
 * The scraper library against a local HTTP server (libmicrohttpd, in this process)
 * whose paths behave well or badly: every failure is classified into a result and an
 * error a person can act on, in bounded time; cumulative profiles become deltas that
 * keep every value of merged samples, restart after a counter reset, and are never
 * delta'd again when they come from a godeltaprof endpoint (whose absence, however a
 * server says it, falls back to the plain endpoint); targets keep or restart their
 * state on update; the request carries the query, the seconds parameter once, the
 * credentials, and stays within the concurrency bound.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"
#include "scraper.h"
#include "support.h"
#include "testing.h"

#define SEC NS_PER_SEC
#define FOREVER (INT64_C(10) * 365 * 86400 * SEC) /* no scheduled scrape during a test */
#define MAX_BODY (256u << 10)
#define MAX_PROFILE (4u << 20)

/* ---- the local server -------------------------------------------------------------- */

static struct MHD_Daemon *daemon_;
static int port_;
static _Atomic int phase = 1;    /* scales the cumulative values served */
static _Atomic int in_flight, max_in_flight; /* requests other than CPU profiles */
static _Atomic int cpu_in_flight, max_cpu_in_flight;
static _Atomic int hits_delta_heap, hits_delta_mutex, hits_delta_block;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_cpu_query[512], seen_heap_query[512], seen_auth[256];
static int seen_seconds_count;
static struct buf bomb, big;

/* A "function" frame list: leaf first. */
static uint64_t loc(struct pprof_builder *b, const char *fn, int line)
{
	struct pprof_line l = {pprof_builder_function(b, fn, NULL, "/src/app/main.go", 1), line};
	return pprof_builder_location(b, 0, 0x1000 + (uint64_t)line, &l, 1);
}

/*
 * The profiles of the "good" server at phase k. Heap: main.work allocates from one
 * stack in two size classes (two samples, told apart by their "bytes" label) and once
 * more in a duplicate of the first sample; main.idle's values never change.
 */
static int profile_body(const char *name, int k, struct buf *out)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	uint64_t root, work[2], idle[2], lk[2], park[2];
	int r = -ENOMEM;

	if (!b)
		return -ENOMEM;
	root = loc(b, "main.main", 1);
	work[0] = loc(b, "main.work", 10);
	work[1] = root;
	idle[0] = loc(b, "main.idle", 20);
	idle[1] = root;
	lk[0] = loc(b, "main.lock", 30);
	lk[1] = root;
	park[0] = loc(b, "main.park", 40);
	park[1] = root;
	if (strcmp(name, "profile") == 0) {
		int64_t v[2] = {10, 100000000};
		pprof_builder_add_sample_type(b, "samples", "count");
		pprof_builder_add_sample_type(b, "cpu", "nanoseconds");
		pprof_builder_set_period(b, "cpu", "nanoseconds", 10000000);
		pprof_builder_add_sample(b, work, 2, v, 2, NULL, 0);
	} else if (strcmp(name, "heap") == 0 || strcmp(name, "delta_heap") == 0) {
		struct pprof_label b16 = {"bytes", NULL, 16, "bytes"}, b32 = {"bytes", NULL, 32,
									    "bytes"};
		int64_t v1[4] = {10 * k, 160 * k, 3, 48}, v2[4] = {5 * k, 160 * k, 1, 32},
			v3[4] = {1 * k, 16 * k, 1, 16}, v4[4] = {7, 700, 7, 700};
		pprof_builder_add_sample_type(b, "alloc_objects", "count");
		pprof_builder_add_sample_type(b, "alloc_space", "bytes");
		pprof_builder_add_sample_type(b, "inuse_objects", "count");
		pprof_builder_add_sample_type(b, "inuse_space", "bytes");
		pprof_builder_set_period(b, "space", "bytes", 524288);
		pprof_builder_add_sample(b, work, 2, v1, 4, &b16, 1);
		pprof_builder_add_sample(b, work, 2, v2, 4, &b32, 1);
		pprof_builder_add_sample(b, work, 2, v3, 4, &b16, 1);
		pprof_builder_add_sample(b, idle, 2, v4, 4, NULL, 0);
	} else if (strcmp(name, "block") == 0 || strcmp(name, "mutex") == 0) {
		int64_t v[2] = {2 * k, 1000 * k};
		pprof_builder_add_sample_type(b, "contentions", "count");
		pprof_builder_add_sample_type(b, "delay", "nanoseconds");
		pprof_builder_set_period(b, "contentions", "count", 1);
		pprof_builder_add_sample(b, lk, 2, v, 2, NULL, 0);
	} else if (strcmp(name, "goroutine") == 0) {
		int64_t v[1] = {4};
		pprof_builder_add_sample_type(b, "goroutine", "count");
		pprof_builder_set_period(b, "goroutine", "count", 1);
		pprof_builder_add_sample(b, park, 2, v, 1, NULL, 0);
	} else {
		r = -ENOENT;
		goto out;
	}
	r = pprof_builder_finish(b, &p);
	if (!r)
		r = pprof_encode(p, 1, out);
out:
	pprof_profile_free(p);
	pprof_builder_free(b);
	return r;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     const void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result count_seconds(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	(void)kind, (void)value;
	if (strcmp(key, "seconds") == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

static enum MHD_Result query_of(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct buf *q = cls;
	(void)kind;
	buf_printf(q, "%s%s=%s", q->len ? "&" : "", key, value ? value : "");
	return MHD_YES;
}

static enum MHD_Result serve_good(struct MHD_Connection *c, const char *name)
{
	struct buf body;
	enum MHD_Result ret;

	buf_init(&body, 0);
	if (profile_body(name, atomic_load(&phase), &body) != 0) {
		buf_free(&body);
		return reply(c, 404, "text/plain", "404 page not found\n", 19,
			     MHD_RESPMEM_PERSISTENT);
	}
	ret = reply(c, 200, "application/octet-stream", body.data, body.len,
		    MHD_RESPMEM_MUST_COPY);
	buf_free(&body);
	return ret;
}

/* Paths: /<case>/debug/pprof/<name>. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **ctx)
{
	char kase[32] = "", name[32] = "";
	const char *auth;
	enum MHD_Result ret;
	int now, cpu;

	(void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
	(void)ctx;
	sscanf(url, "/%31[^/]/debug/pprof/%31s", kase, name);
	cpu = strcmp(name, "profile") == 0;
	now = atomic_fetch_add(cpu ? &cpu_in_flight : &in_flight, 1) + 1;
	for (int m = atomic_load(cpu ? &max_cpu_in_flight : &max_in_flight); now > m;)
		if (atomic_compare_exchange_weak(cpu ? &max_cpu_in_flight : &max_in_flight, &m, now))
			break;
	if (strcmp(kase, "slow") == 0)
		usleep(150000);
	if (strcmp(kase, "query") == 0 || strcmp(kase, "auth") == 0) {
		struct buf q;
		int nsec = 0;
		buf_init(&q, 0);
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_of, &q);
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_seconds, &nsec);
		auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		pthread_mutex_lock(&seen_lock);
		if (strcmp(name, "profile") == 0) {
			snprintf(seen_cpu_query, sizeof(seen_cpu_query), "%s", q.data ? q.data : "");
			seen_seconds_count = nsec;
		} else if (strcmp(name, "heap") == 0) {
			snprintf(seen_heap_query, sizeof(seen_heap_query), "%s", q.data ? q.data : "");
		}
		snprintf(seen_auth, sizeof(seen_auth), "%s", auth ? auth : "");
		pthread_mutex_unlock(&seen_lock);
		buf_free(&q);
	}
	if (strcmp(kase, "good") == 0 || strcmp(kase, "slow") == 0 ||
	    strcmp(kase, "query") == 0 || strcmp(kase, "auth") == 0) {
		ret = strncmp(name, "delta_", 6) == 0
			      ? reply(c, 404, "text/plain", "Unknown profile\n", 16,
				      MHD_RESPMEM_PERSISTENT)
			      : serve_good(c, name);
	} else if (strcmp(kase, "godelta") == 0) {
		if (strcmp(name, "delta_heap") == 0) {
			atomic_fetch_add(&hits_delta_heap, 1);
			ret = serve_good(c, name);
		} else if (strcmp(name, "delta_block") == 0) {
			/* Go's net/http/pprof for an unknown profile */
			atomic_fetch_add(&hits_delta_block, 1);
			ret = reply(c, 404, "text/plain", "Unknown profile\n", 16,
				    MHD_RESPMEM_PERSISTENT);
		} else if (strcmp(name, "delta_mutex") == 0) {
			/* a router whose catch-all route answers a page */
			static const char page[] = "<!DOCTYPE html><html><body>app</body></html>";
			atomic_fetch_add(&hits_delta_mutex, 1);
			ret = reply(c, 200, "text/html; charset=utf-8", page, sizeof(page) - 1,
				    MHD_RESPMEM_PERSISTENT);
		} else {
			ret = serve_good(c, name);
		}
	} else if (strcmp(kase, "inuse") == 0 && strcmp(name, "profile") == 0) {
		static const char msg[] =
			"Could not enable CPU profiling: cpu profiling already in use\n";
		ret = reply(c, 500, "text/plain; charset=utf-8", msg, sizeof(msg) - 1,
			    MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(kase, "html") == 0) {
		static const char page[] = "<html><body>Welcome</body></html>";
		ret = reply(c, 200, "text/html", page, sizeof(page) - 1, MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(kase, "empty") == 0) {
		ret = reply(c, 200, "application/octet-stream", "", 0, MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(kase, "garbage") == 0) {
		static const char text[] = "this is not a profile";
		ret = reply(c, 200, "application/octet-stream", text, sizeof(text) - 1,
			    MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(kase, "redirect") == 0) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL,
									    MHD_RESPMEM_PERSISTENT);
		char loc[256];
		snprintf(loc, sizeof(loc), "http://127.0.0.1:%d%s", port_, url);
		MHD_add_response_header(resp, "Location", loc);
		ret = MHD_queue_response(c, 302, resp);
		MHD_destroy_response(resp);
	} else if (strcmp(kase, "big") == 0) {
		ret = reply(c, 200, "application/octet-stream", big.data, big.len,
			    MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(kase, "bomb") == 0) {
		ret = reply(c, 200, "application/octet-stream", bomb.data, bomb.len,
			    MHD_RESPMEM_PERSISTENT);
	} else {
		ret = reply(c, 404, "text/plain", "404 page not found\n", 19,
			    MHD_RESPMEM_PERSISTENT);
	}
	atomic_fetch_sub(cpu ? &cpu_in_flight : &in_flight, 1);
	return ret;
}

/* At exit: the server's threads joined, its bodies freed (a clean memcheck report). */
static void server_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	buf_free(&bomb);
	buf_free(&big);
}

static int server_start(void)
{
	const union MHD_DaemonInfo *info;

	if (daemon_)
		return 0;
	curl_global_init(CURL_GLOBAL_ALL);
	atexit(server_stop);
	if (!bomb.data) {
		/* 64 MiB of zeros in 64 KiB: 16 gzip members of 4 MiB each, compressed as
		 * tightly as deflate goes */
		size_t n = 4u << 20;
		unsigned char *zeros = calloc(1, n), member[8192];
		z_stream z;
		memset(&z, 0, sizeof(z));
		buf_init(&bomb, 0);
		if (!zeros || deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		z.next_in = zeros;
		z.avail_in = (uInt)n;
		z.next_out = member;
		z.avail_out = sizeof(member);
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			return -EIO;
		for (int i = 0; i < 16; i++)
			buf_append(&bomb, member, sizeof(member) - z.avail_out);
		deflateEnd(&z);
		free(zeros);
		buf_init(&big, 0);
		for (size_t i = 0; i < 4 * MAX_BODY / 8; i++)
			buf_append(&big, "\x1f\x8b\x08\x00xxxx", 8);
	}
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				   0, NULL, NULL, on_request, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
				   30u, MHD_OPTION_END);
	if (!daemon_)
		return -EIO;
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	port_ = info ? info->port : 0;
	return port_ > 0 ? 0 : -EIO;
}

/* A port that accepts connections (the kernel's backlog) and never answers. */
static int hang_socket(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- what the scraper hands over ---------------------------------------------------- */

struct emitted {
	char service[64], kind[16], labels[128];
	struct pprof_profile *p;
};

static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emitted emitted[512];
static size_t nemitted;

static int on_emit(void *ctx, const struct scrape_profile_meta *m, const struct pprof_profile *p)
{
	(void)ctx;
	pthread_mutex_lock(&emit_lock);
	if (nemitted < ARRAY_SIZE(emitted)) {
		struct emitted *e = &emitted[nemitted++];
		struct buf l;
		snprintf(e->service, sizeof(e->service), "%s", m->service_name);
		snprintf(e->kind, sizeof(e->kind), "%s", m->kind);
		buf_init(&l, sizeof(e->labels) - 1);
		for (size_t i = 0; i < m->nlabels; i++)
			buf_printf(&l, "%s=%s;", m->label_names[i], m->label_values[i]);
		snprintf(e->labels, sizeof(e->labels), "%s", l.data ? l.data : "");
		buf_free(&l);
		e->p = pprof_profile_dup(p);
	}
	pthread_mutex_unlock(&emit_lock);
	return 0;
}

static void emitted_clear(void)
{
	pthread_mutex_lock(&emit_lock);
	for (size_t i = 0; i < nemitted; i++)
		pprof_profile_free(emitted[i].p);
	nemitted = 0;
	pthread_mutex_unlock(&emit_lock);
}

/* The last profile emitted for service and kind, or NULL. */
static const struct pprof_profile *last_emitted(const char *service, const char *kind)
{
	const struct pprof_profile *p = NULL;
	pthread_mutex_lock(&emit_lock);
	for (size_t i = 0; i < nemitted; i++)
		if (strcmp(emitted[i].service, service) == 0 && strcmp(emitted[i].kind, kind) == 0)
			p = emitted[i].p;
	pthread_mutex_unlock(&emit_lock);
	return p;
}

static size_t count_emitted(const char *service)
{
	size_t n = 0;
	pthread_mutex_lock(&emit_lock);
	for (size_t i = 0; i < nemitted; i++)
		n += strcmp(emitted[i].service, service) == 0;
	pthread_mutex_unlock(&emit_lock);
	return n;
}

struct leaf_ctx {
	char leaf[64];
	int depth;
};

static int first_frame(void *ctx, const char *fn, const char *file, int64_t line, uint64_t a)
{
	struct leaf_ctx *l = ctx;
	(void)file, (void)line, (void)a;
	if (l->depth++ == 0)
		snprintf(l->leaf, sizeof(l->leaf), "%s", fn);
	return 0;
}

/* Sum of value i over the samples whose leaf function is fn. */
static int64_t leaf_total(const struct pprof_profile *p, const char *fn, size_t i)
{
	int64_t t = 0;
	for (size_t s = 0; s < pprof_sample_count(p); s++) {
		struct leaf_ctx l = {"", 0};
		pprof_sample_frames(p, s, first_frame, &l);
		if (strcmp(l.leaf, fn) == 0)
			t += pprof_sample_values(p, s)[i];
	}
	return t;
}

static const char *type_at(const struct pprof_profile *p, size_t i)
{
	return i < pprof_sample_type_count(p) ? pprof_sample_type(p, i, NULL) : "(none)";
}

/* ---- the scraper under test ---------------------------------------------------------- */

/* A scraper with the scrape buffer budget budget (0: the default). */
static struct scraper *start_budget(struct metrics_registry *m, int64_t timeout,
				    size_t concurrency, const char *token_file, size_t budget)
{
	struct scraper_config cfg = {
		.interval_ns = FOREVER,
		.timeout_ns = timeout,
		.cpu_seconds = 1,
		.max_concurrency = concurrency,
		.max_body_bytes = MAX_BODY,
		.max_profile_bytes = MAX_PROFILE,
		.max_buffer_bytes = budget,
		.bearer_token_file = token_file,
		.basic_user = "scraper",
		.basic_password = "s3cret",
		.emit = on_emit,
		.metrics = m,
	};
	struct scraper *s = NULL;

	if (server_start() != 0 || scraper_new(&cfg, &s) != 0)
		return NULL;
	return s;
}

static struct scraper *start(struct metrics_registry *m, int64_t timeout, size_t concurrency,
			     const char *token_file)
{
	return start_budget(m, timeout, concurrency, token_file, 0);
}

static int add(struct scraper *s, const char *kase, int port, const char *query,
	       enum scrape_auth auth, const char *uid)
{
	char base[256];
	struct scrape_target t = {.id = kase, .base_url = base, .service_name = kase,
				  .instance_uid = uid, .auth = auth, .nlabels = 1};

	t.label_names[0] = "case";
	t.label_values[0] = kase;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/%s/debug/pprof%s", port ? port : port_,
		 kase, query ? query : "");
	return scraper_target_set(s, &t);
}

/* The /targets JSON entry of a type of a target. */
static const cJSON *status_of(const cJSON *root, const char *id, const char *type)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets"))
	{
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(t, "id");
		if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0)
			return cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(t, "types"), type);
	}
	return NULL;
}

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static cJSON *status_json(struct scraper *s)
{
	struct buf b;
	cJSON *root;

	buf_init(&b, 0);
	if (scraper_status(s, 1, &b) != 0) {
		buf_free(&b);
		return NULL;
	}
	root = cJSON_Parse(b.data);
	buf_free(&b);
	return root;
}

/* Value of a series in the registry's exposition, or -1. */
static double series_value(struct metrics_registry *m, const char *series)
{
	struct buf b;
	double v = -1;
	size_t n = strlen(series);

	buf_init(&b, 0);
	metrics_render(m, &b);
	for (const char *p = b.data; p && (p = strstr(p, series)) != NULL; p++) {
		if ((p == b.data || p[-1] == '\n') && p[n] == ' ') {
			v = atof(p + n + 1);
			break;
		}
	}
	buf_free(&b);
	return v;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Every way a target can fail, scraped at once: classified, bounded, and shown. */
TEST(error_classification)
{
	static const struct {
		const char *kase, *type, *result, *error;
	} want[] = {
		{"notfound", "heap", "http_error", "HTTP 404: no /heap endpoint"},
		{"notfound", "cpu", "http_error", "HTTP 404: no /profile endpoint"},
		{"inuse", "cpu", "http_error", "another client is running a CPU profile"},
		{"html", "goroutine", "invalid", "an HTML page"},
		{"html", "heap", "invalid", "an HTML page"},
		{"empty", "block", "invalid", "an empty response"},
		{"garbage", "mutex", "invalid", "not a pprof profile"},
		{"redirect", "goroutine", "http_error", "redirects"},
		{"big", "goroutine", "too_large", "response larger than 262144 bytes"},
		{"bomb", "goroutine", "too_large", "larger than the profile limits"},
		{"hang", "heap", "timeout", "timed out after"},
		{"hang", "cpu", "timeout", "timed out after"},
		{"refused", "heap", "network_error", ""},
	};
	static const char *const cases[] = {"good", "notfound", "inuse", "html", "empty",
					    "garbage", "redirect", "big", "bomb"};
	/* timeout k s, CPU profiles 1 s: k is 1 but under valgrind */
	int k = test_time_scale();
	struct metrics_registry *m = metrics_registry_new();
	struct scraper *s = start(m, k * SEC, 64, NULL);
	int hang_port = 0, hang_fd = hang_socket(&hang_port), refused = test_free_port();
	int64_t t0;
	cJSON *root = NULL;

	CHECK(s && hang_fd >= 0);
	emitted_clear();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_EQ(add(s, cases[i], 0, NULL, SCRAPE_AUTH_NONE, NULL), 0);
	CHECK_EQ(add(s, "hang", hang_port, NULL, SCRAPE_AUTH_NONE, NULL), 0);
	CHECK_EQ(add(s, "refused", refused, NULL, SCRAPE_AUTH_NONE, NULL), 0);
	t0 = time_mono_ns();
	CHECK_EQ(scraper_scrape_all(s, 30 * SEC), 0);
	/* the hanging CPU request ends at timeout + seconds: k + 1 s */
	printf("  scrape_all took %.2f s\n", (double)(time_mono_ns() - t0) / 1e9);
	CHECK(time_mono_ns() - t0 < (3 + 2 * k) * SEC);
	root = status_json(s);
	CHECK(root);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const cJSON *st = status_of(root, want[i].kase, want[i].type);
		char series[160];
		CHECK_MSG(st, "%s %s missing", want[i].kase, want[i].type);
		CHECK_MSG(strcmp(str_of(st, "state"), "down") == 0 &&
				  strstr(str_of(st, "error"), want[i].error) &&
				  str_of(st, "error")[0],
			  "%s %s: state %s, error \"%s\"", want[i].kase, want[i].type,
			  str_of(st, "state"), str_of(st, "error"));
		/* bounded: the timeout, plus the seconds of a CPU profile */
		CHECK_MSG(num_of(st, "last_duration_seconds") < 1 + 2.5 * k, "%s %s took %.2f s",
			  want[i].kase, want[i].type, num_of(st, "last_duration_seconds"));
		snprintf(series, sizeof(series), "podprof_scrapes_total{type=\"%s\",result=\"%s\"}",
			 want[i].type, want[i].result);
		CHECK_MSG(series_value(m, series) >= 1, "%s is %g", series, series_value(m, series));
	}
	/* the timeouts are the configured ones: k s, and k s + 1 s for CPU */
	CHECK(num_of(status_of(root, "hang", "heap"), "last_duration_seconds") >= 0.9 * k);
	CHECK(num_of(status_of(root, "hang", "cpu"), "last_duration_seconds") >= 0.9 * k + 1);
	/* the healthy target beside them is unaffected */
	for (unsigned t = 1; t <= SCRAPE_GOROUTINE; t <<= 1) {
		const cJSON *st = status_of(root, "good", scrape_type_name(t));
		CHECK_MSG(st && strcmp(str_of(st, "state"), "up") == 0 && !str_of(st, "error")[0],
			  "good %s: %s", scrape_type_name(t), str_of(st, "error"));
	}
	/* failed targets hand nothing to the uploader */
	for (size_t i = 1; i < ARRAY_SIZE(cases); i++)
		CHECK_MSG(count_emitted(cases[i]) == 0, "%s emitted a profile", cases[i]);
	CHECK(series_value(m, "podprof_scrapes_total{type=\"cpu\",result=\"success\"}") == 1);
	{
		size_t healthy = 0;
		CHECK_EQ(scraper_target_count(s, &healthy), ARRAY_SIZE(cases) + 2);
		CHECK_EQ(healthy, 1);
	}
	cJSON_Delete(root);
	scraper_free(s);
	metrics_registry_free(m);
	close(hang_fd);
}

/* Cumulative values become per-scrape deltas: the first scrape is a baseline, merged
 * samples keep all four heap values, a counter reset counts from zero. */
TEST(deltas)
{
	struct scraper *s = start(NULL, 5 * SEC, 64, NULL);
	const struct pprof_profile *p;

	CHECK(s);
	emitted_clear();
	CHECK_EQ(add(s, "good", 0, NULL, SCRAPE_AUTH_NONE, "uid-1"), 0);

	/* phase 1: the baseline; in-use values are absolute, alloc values zero */
	atomic_store(&phase, 1);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK(p);
	CHECK_STR(type_at(p, 0), "go:heap_alloc_objects:count");
	CHECK_STR(type_at(p, 1), "go:heap_alloc_space:bytes");
	CHECK_STR(type_at(p, 2), "go:heap_inuse_objects:count");
	CHECK_STR(type_at(p, 3), "go:heap_inuse_space:bytes");
	CHECK_EQ(pprof_value_total(p, 0), 0);
	CHECK_EQ(pprof_value_total(p, 1), 0);
	CHECK_EQ(leaf_total(p, "main.work", 2), 3 + 1 + 1);
	CHECK_EQ(leaf_total(p, "main.work", 3), 48 + 32 + 16);
	CHECK_EQ(leaf_total(p, "main.idle", 3), 700);
	CHECK(pprof_duration_ns(p) > 0 && pprof_time_ns(p) > 0);
	p = last_emitted("good", "block");
	CHECK(p);
	CHECK_STR(type_at(p, 0), "go:block_contentions:count");
	CHECK_STR(type_at(p, 1), "go:block_delay:nanoseconds");
	CHECK_EQ(pprof_value_total(p, 0), 0);
	CHECK_EQ(pprof_value_total(p, 1), 0);
	p = last_emitted("good", "mutex");
	CHECK(p);
	CHECK_STR(type_at(p, 0), "go:mutex_contentions:count");
	CHECK_STR(type_at(p, 1), "go:mutex_delay:nanoseconds");
	p = last_emitted("good", "cpu");
	CHECK(p);
	CHECK_STR(type_at(p, 0), "");
	CHECK_STR(type_at(p, 1), "go:profile_cpu:nanoseconds");
	CHECK_EQ(leaf_total(p, "main.work", 1), 100000000);
	CHECK_EQ(pprof_duration_ns(p), 1 * SEC);
	p = last_emitted("good", "goroutine");
	CHECK(p);
	CHECK_STR(type_at(p, 0), "go:goroutine_goroutine:count");
	CHECK_EQ(leaf_total(p, "main.park", 0), 4);

	/* phase 3: every value of the three main.work samples grew by 2 * its rate */
	atomic_store(&phase, 3);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK_EQ(leaf_total(p, "main.work", 0), (10 + 5 + 1) * 2);
	CHECK_EQ(leaf_total(p, "main.work", 1), (160 + 160 + 16) * 2);
	CHECK_EQ(leaf_total(p, "main.work", 2), 3 + 1 + 1);
	CHECK_EQ(leaf_total(p, "main.work", 3), 48 + 32 + 16);
	CHECK_EQ(leaf_total(p, "main.idle", 0), 0);
	CHECK_EQ(leaf_total(p, "main.idle", 1), 0);
	CHECK_EQ(leaf_total(p, "main.idle", 3), 700);
	p = last_emitted("good", "block");
	CHECK_EQ(leaf_total(p, "main.lock", 0), 4);
	CHECK_EQ(leaf_total(p, "main.lock", 1), 2000);
	p = last_emitted("good", "mutex");
	CHECK_EQ(leaf_total(p, "main.lock", 0), 4);
	CHECK_EQ(leaf_total(p, "main.lock", 1), 2000);

	/* phase 2: the counters went down (a restart): the current values are the delta */
	atomic_store(&phase, 2);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK_EQ(leaf_total(p, "main.work", 0), (10 + 5 + 1) * 2);
	CHECK_EQ(leaf_total(p, "main.work", 1), (160 + 160 + 16) * 2);
	CHECK(pprof_value_total(p, 0) >= 0 && pprof_value_total(p, 1) >= 0);
	p = last_emitted("good", "block");
	CHECK_EQ(leaf_total(p, "main.lock", 0), 4);

	/* and from there on, deltas again */
	atomic_store(&phase, 5);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK_EQ(leaf_total(p, "main.work", 0), (10 + 5 + 1) * 3);
	CHECK_EQ(leaf_total(p, "main.work", 1), (160 + 160 + 16) * 3);
	/* the labels and the service name travel with every profile */
	pthread_mutex_lock(&emit_lock);
	for (size_t i = 0; i < nemitted; i++)
		CHECK(strcmp(emitted[i].labels, "case=good;") == 0);
	pthread_mutex_unlock(&emit_lock);
	scraper_free(s);
	emitted_clear();
}

/* godeltaprof's endpoints already serve deltas: used when there, never delta'd again,
 * and the plain endpoints used when not, however the server says so. */
TEST(godeltaprof)
{
	struct scraper *s = start(NULL, 5 * SEC, 64, NULL);
	const struct pprof_profile *p;
	cJSON *root;

	CHECK(s);
	emitted_clear();
	atomic_store(&hits_delta_heap, 0);
	atomic_store(&hits_delta_block, 0);
	atomic_store(&hits_delta_mutex, 0);
	CHECK_EQ(add(s, "godelta", 0, NULL, SCRAPE_AUTH_NONE, NULL), 0);
	atomic_store(&phase, 1);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	/* uploaded as served, not taken for a baseline */
	p = last_emitted("godelta", "heap");
	CHECK(p);
	CHECK_EQ(leaf_total(p, "main.work", 0), 10 + 5 + 1);
	CHECK_EQ(leaf_total(p, "main.work", 1), 160 + 160 + 16);
	atomic_store(&phase, 3);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	/* not the difference to the previous one */
	p = last_emitted("godelta", "heap");
	CHECK_EQ(leaf_total(p, "main.work", 0), (10 + 5 + 1) * 3);
	CHECK_EQ(leaf_total(p, "main.work", 1), (160 + 160 + 16) * 3);
	CHECK_EQ(leaf_total(p, "main.work", 3), 48 + 32 + 16);
	/* block and mutex come from the plain endpoints, as deltas */
	p = last_emitted("godelta", "block");
	CHECK(p);
	CHECK_EQ(leaf_total(p, "main.lock", 0), 4);
	p = last_emitted("godelta", "mutex");
	CHECK_MSG(p, "no mutex profile: the catch-all page of delta_mutex was not taken for "
		     "\"no godeltaprof\"");
	CHECK_EQ(leaf_total(p, "main.lock", 0), 4);
	/* probed once, then remembered */
	CHECK_EQ(atomic_load(&hits_delta_heap), 2);
	CHECK_EQ(atomic_load(&hits_delta_block), 1);
	CHECK_EQ(atomic_load(&hits_delta_mutex), 1);
	root = status_json(s);
	CHECK(root);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(status_of(root, "godelta", "heap"),
							    "godeltaprof")));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(status_of(root, "godelta", "block"),
							     "godeltaprof")));
	CHECK_STR(str_of(status_of(root, "godelta", "mutex"), "state"), "up");
	cJSON_Delete(root);
	scraper_free(s);
	emitted_clear();
}

/* An unchanged target keeps its delta state; a new instance (pod uid) starts over. */
TEST(target_update)
{
	struct scraper *s = start(NULL, 5 * SEC, 64, NULL);
	const struct pprof_profile *p;
	size_t healthy;

	CHECK(s);
	emitted_clear();
	CHECK_EQ(add(s, "good", 0, NULL, SCRAPE_AUTH_NONE, "uid-1"), 0);
	atomic_store(&phase, 1);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	/* the same again (discovery resends unchanged targets) */
	CHECK_EQ(add(s, "good", 0, NULL, SCRAPE_AUTH_NONE, "uid-1"), 0);
	CHECK_EQ(scraper_target_count(s, &healthy), 1);
	CHECK_EQ(healthy, 1);
	atomic_store(&phase, 2);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK_EQ(leaf_total(p, "main.work", 0), 10 + 5 + 1);
	/* a restarted pod: the same id with another uid is a new baseline */
	CHECK_EQ(add(s, "good", 0, NULL, SCRAPE_AUTH_NONE, "uid-2"), 0);
	CHECK_EQ(scraper_target_count(s, &healthy), 1);
	CHECK_EQ(healthy, 0); /* not scraped yet */
	atomic_store(&phase, 4);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	p = last_emitted("good", "heap");
	CHECK_EQ(pprof_value_total(p, 0), 0);
	CHECK_EQ(leaf_total(p, "main.work", 3), 48 + 32 + 16);
	scraper_target_remove(s, "good");
	scraper_target_remove(s, "not-there");
	CHECK_EQ(scraper_target_count(s, NULL), 0);
	/* nothing to scrape: returns at once */
	{
		int64_t t0 = time_mono_ns();
		CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
		CHECK(time_mono_ns() - t0 < SEC);
	}
	/* invalid targets */
	{
		struct scrape_target t = {.id = "", .base_url = "http://x", .service_name = "x"};
		CHECK_EQ(scraper_target_set(s, &t), -EINVAL);
		t.id = "x";
		t.service_name = "";
		CHECK_EQ(scraper_target_set(s, &t), -EINVAL);
		t.service_name = "x";
		t.nlabels = SCRAPE_MAX_LABELS + 1;
		CHECK_EQ(scraper_target_set(s, &t), -EINVAL);
	}
	scraper_free(s);
	emitted_clear();
}

/* The request: the target's query kept, seconds once with the configured value, and
 * none on the heap request. */
TEST(request_query)
{
	struct scraper *s = start(NULL, 5 * SEC, 64, NULL);

	CHECK(s);
	CHECK_EQ(add(s, "query", 0, "?seconds=30&tenant=a", SCRAPE_AUTH_NONE, NULL), 0);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	pthread_mutex_lock(&seen_lock);
	CHECK_EQ(seen_seconds_count, 1);
	CHECK_STR(seen_cpu_query, "tenant=a&seconds=1");
	CHECK_STR(seen_heap_query, "tenant=a");
	CHECK_STR(seen_auth, "");
	pthread_mutex_unlock(&seen_lock);
	scraper_free(s);
	emitted_clear();
}

TEST(credentials)
{
	char *dir = test_tmpdir("scrape-auth"), path[512];
	struct scraper *s;

	snprintf(path, sizeof(path), "%s/token", dir);
	CHECK_EQ(test_write_file(path, "tok-123\n", 8), 0);
	s = start(NULL, 5 * SEC, 64, path);
	CHECK(s);
	CHECK_EQ(add(s, "auth", 0, NULL, SCRAPE_AUTH_BEARER, NULL), 0);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	pthread_mutex_lock(&seen_lock);
	CHECK_STR(seen_auth, "Bearer tok-123");
	pthread_mutex_unlock(&seen_lock);
	CHECK_EQ(add(s, "auth", 0, NULL, SCRAPE_AUTH_BASIC, NULL), 0);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	pthread_mutex_lock(&seen_lock);
	CHECK_STR(seen_auth, "Basic c2NyYXBlcjpzM2NyZXQ="); /* scraper:s3cret */
	pthread_mutex_unlock(&seen_lock);
	CHECK_EQ(add(s, "auth", 0, NULL, SCRAPE_AUTH_NONE, NULL), 0);
	CHECK_EQ(scraper_scrape_all(s, 10 * SEC), 0);
	pthread_mutex_lock(&seen_lock);
	CHECK_STR(seen_auth, "");
	pthread_mutex_unlock(&seen_lock);
	scraper_free(s);
	emitted_clear();
	test_rmtree(dir);
	free(dir);
}

TEST(concurrency_bound)
{
	struct scraper *s = start(NULL, 5 * SEC, 3, NULL);
	cJSON *root;
	int64_t t0;

	CHECK(s);
	atomic_store(&max_in_flight, 0);
	atomic_store(&max_cpu_in_flight, 0);
	for (int i = 0; i < 8; i++) {
		char id[32], base[128];
		struct scrape_target t = {.id = id, .base_url = base, .service_name = "slow"};
		snprintf(id, sizeof(id), "slow-%d", i);
		snprintf(base, sizeof(base), "http://127.0.0.1:%d/slow/debug/pprof", port_);
		CHECK_EQ(scraper_target_set(s, &t), 0);
	}
	t0 = time_mono_ns();
	CHECK_EQ(scraper_scrape_all(s, 30 * SEC), 0);
	/* 8 targets x 4 types (and 3 godeltaprof probes each) of 150 ms, 3 at a time; the
	 * 8 CPU profiles, which mostly wait, are not held back by the bound */
	printf("  40 slow scrapes, at most %d at once besides %d CPU profiles, in %.2f s\n",
	       atomic_load(&max_in_flight), atomic_load(&max_cpu_in_flight),
	       (double)(time_mono_ns() - t0) / 1e9);
	CHECK(atomic_load(&max_in_flight) <= 3);
	CHECK(atomic_load(&max_in_flight) >= 2);
	CHECK(atomic_load(&max_cpu_in_flight) >= 4 && atomic_load(&max_cpu_in_flight) <= 8);
	root = status_json(s);
	CHECK(root);
	for (int i = 0; i < 8; i++) {
		char id[32];
		snprintf(id, sizeof(id), "slow-%d", i);
		for (unsigned t = 1; t <= SCRAPE_GOROUTINE; t <<= 1)
			CHECK_STR(str_of(status_of(root, id, scrape_type_name(t)), "state"), "up");
	}
	cJSON_Delete(root);
	scraper_free(s);
	emitted_clear();
}

/*
 * The scrape buffer budget: gzip bombs (a 64 KiB body, 64 MiB of zeros inside) beside
 * healthy targets, with a budget of 2 MiB, under the 4 MiB profile bound. What the
 * responses hold together never passes the budget; each bomb's scrape fails with an
 * error that names the budget (the response holding the most gives way, whether it is
 * a decompression or a body waiting for one); the healthy targets' profiles all
 * arrive; and every byte goes back to the budget at the end.
 */
TEST(buffer_budget)
{
	const size_t budget = 2u << 20;
	int k = test_time_scale();
	struct metrics_registry *m = metrics_registry_new();
	struct scraper *s = start_budget(m, 5 * k * SEC, 64, NULL, budget);
	cJSON *root;
	double used = -1;

	CHECK(s);
	emitted_clear();
	for (int i = 0; i < 12; i++) {
		char id[32], base[128];
		struct scrape_target t = {.id = id, .base_url = base, .service_name = id};
		const char *kase = i % 2 ? "bomb" : "good";
		snprintf(id, sizeof(id), "%s-%d", kase, i / 2);
		snprintf(base, sizeof(base), "http://127.0.0.1:%d/%s/debug/pprof", port_, kase);
		CHECK_EQ(scraper_target_set(s, &t), 0);
	}
	CHECK_EQ(scraper_scrape_all(s, 60 * SEC), 0);
	root = status_json(s);
	CHECK(root);
	for (int i = 0; i < 6; i++) {
		char good[32], bad[32];
		snprintf(good, sizeof(good), "good-%d", i);
		snprintf(bad, sizeof(bad), "bomb-%d", i);
		for (unsigned t = 1; t <= SCRAPE_GOROUTINE; t <<= 1) {
			const cJSON *g = status_of(root, good, scrape_type_name(t));
			const cJSON *b = status_of(root, bad, scrape_type_name(t));
			CHECK_MSG(strcmp(str_of(g, "state"), "up") == 0, "%s %s: %s \"%s\"", good,
				  scrape_type_name(t), str_of(g, "state"), str_of(g, "error"));
			CHECK_MSG(strcmp(str_of(b, "state"), "down") == 0 &&
					  strstr(str_of(b, "error"), "scrape buffer budget (2.0 MiB)"),
				  "%s %s: %s \"%s\"", bad, scrape_type_name(t), str_of(b, "state"),
				  str_of(b, "error"));
		}
		CHECK_EQ(count_emitted(good), 5);
		CHECK_EQ(count_emitted(bad), 0);
	}
	cJSON_Delete(root);
	printf("  peak %.0f KiB of a %zu KiB budget; %g scrapes waited, %g failed for it\n",
	       series_value(m, "podprof_scrape_buffer_peak_bytes") / 1024, budget / 1024,
	       series_value(m, "podprof_scrape_buffer_waits_total"),
	       series_value(m, "podprof_scrape_buffer_failures_total"));
	CHECK_EQ(series_value(m, "podprof_scrape_buffer_budget_bytes"), (double)budget);
	CHECK(series_value(m, "podprof_scrape_buffer_peak_bytes") > 64 * 1024);
	CHECK(series_value(m, "podprof_scrape_buffer_peak_bytes") <= (double)budget);
	CHECK(series_value(m, "podprof_scrape_buffer_failures_total") >= 6 * 5);
	/* the last jobs are freed just after scrape_all returns */
	for (int i = 0; i < 100; i++) {
		if ((used = series_value(m, "podprof_scrape_buffer_bytes")) == 0)
			break;
		usleep(10000);
	}
	CHECK_EQ(used, 0);
	scraper_free(s);
	metrics_registry_free(m);
	emitted_clear();
}

TEST(status_page_escapes)
{
	struct scraper *s = start(NULL, 5 * SEC, 64, NULL);
	struct scrape_target t = {.id = "x\"<b>", .base_url = "http://127.0.0.1:1/<i>",
				  .service_name = "svc&co", .nlabels = 1};
	struct buf html;
	cJSON *root;

	CHECK(s);
	t.label_names[0] = "pod";
	t.label_values[0] = "<script>alert(1)</script>";
	CHECK_EQ(scraper_target_set(s, &t), 0);
	buf_init(&html, 0);
	CHECK_EQ(scraper_status(s, 0, &html), 0);
	CHECK(strstr(html.data, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	CHECK(strstr(html.data, "svc&amp;co"));
	CHECK(!strstr(html.data, "<script>"));
	CHECK(!strstr(html.data, "<i>"));
	buf_free(&html);
	root = status_json(s);
	CHECK(root);
	CHECK_STR(str_of(status_of(root, "x\"<b>", "heap"), "state"), "unknown");
	CHECK_STR(str_of(status_of(root, "x\"<b>", "heap"), "last_scrape"), "never");
	cJSON_Delete(root);
	scraper_free(s);
}
