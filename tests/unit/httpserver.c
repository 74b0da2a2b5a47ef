/*
 * Unit tests of the agent's HTTP server: the endpoints and their content types, status
 * pages registered while serving, methods and bodies refused, listen address parsing,
 * IPv6, bind errors, and bounds against idle and oversized clients. Requests go through
 * libcurl, or a raw socket where a client must misbehave.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "httpserver_internal.h"
#include "support.h"
#include "testing.h"

struct reply {
	long status;
	struct buf body;
	char content_type[128];
	char allow[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *rep = ctx;
	return buf_append(&rep->body, p, size * n) ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *rep = ctx;
	size_t len = size * n;

	if (len > 6 && strncasecmp(p, "Allow:", 6) == 0) {
		size_t v = len - 6 < sizeof(rep->allow) ? len - 6 : sizeof(rep->allow) - 1;
		memcpy(rep->allow, p + 6, v);
		rep->allow[v] = '\0';
		/* trim spaces and CRLF */
		while (v && (rep->allow[v - 1] == '\r' || rep->allow[v - 1] == '\n'))
			rep->allow[--v] = '\0';
		memmove(rep->allow, rep->allow + strspn(rep->allow, " "),
			strlen(rep->allow + strspn(rep->allow, " ")) + 1);
	}
	return len;
}

/* method "HEAD" uses CURLOPT_NOBODY; body (may be NULL) is sent as-is. Returns the
 * status or a negative value when no response came. rep->body must be freed. */
static long request(const char *method, const char *url, const char *body, struct reply *rep)
{
	CURL *c = curl_easy_init();
	char *ct = NULL;

	memset(rep, 0, sizeof(*rep));
	buf_init(&rep->body, 1 << 20);
	rep->status = -1;
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rep);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rep);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || body)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(rep->content_type, sizeof(rep->content_type), "%s", ct);
	}
	curl_easy_cleanup(c);
	return rep->status;
}

static void url_of(char *out, size_t n, const char *host, int port, const char *path)
{
	snprintf(out, n, "http://%s:%d%s", host, port, path);
}

static const char *body_of(struct reply *rep)
{
	return rep->body.data ? rep->body.data : "";
}

/* ---- endpoints ---- */

TEST(endpoints)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct http_server *s = NULL;
	struct reply rep;
	char url[256];
	struct buf want;
	int port;

	metric_add(metrics_counter(reg, "podprof_test_total", "A test counter."), 5);
	CHECK_EQ(http_server_start("127.0.0.1:0", reg, &s), 0);
	port = http_server_port(s);
	CHECK(port > 0);

	url_of(url, sizeof(url), "127.0.0.1", port, "/metrics");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_STR(rep.content_type, "text/plain; version=0.0.4; charset=utf-8");
	buf_init(&want, 0);
	CHECK_EQ(metrics_render(reg, &want), 0);
	CHECK_STR(body_of(&rep), want.data);
	buf_free(&want);
	buf_free(&rep.body);

	url_of(url, sizeof(url), "127.0.0.1", port, "/metrics?name[]=x");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	buf_free(&rep.body);

	url_of(url, sizeof(url), "127.0.0.1", port, "/healthz");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_STR(body_of(&rep), "ok\n");
	CHECK_STR(rep.content_type, "text/plain; charset=utf-8");
	buf_free(&rep.body);

	url_of(url, sizeof(url), "127.0.0.1", port, "/readyz");
	CHECK_EQ(request("GET", url, NULL, &rep), 503);
	CHECK_STR(body_of(&rep), "not ready\n");
	buf_free(&rep.body);
	http_server_set_ready(s, 1);
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_STR(body_of(&rep), "ready\n");
	buf_free(&rep.body);
	http_server_set_ready(s, 0);
	CHECK_EQ(request("GET", url, NULL, &rep), 503);
	buf_free(&rep.body);

	url_of(url, sizeof(url), "127.0.0.1", port, "/nope");
	CHECK_EQ(request("GET", url, NULL, &rep), 404);
	buf_free(&rep.body);
	url_of(url, sizeof(url), "127.0.0.1", port, "/metrics/");
	CHECK_EQ(request("GET", url, NULL, &rep), 404);
	buf_free(&rep.body);

	url_of(url, sizeof(url), "127.0.0.1", port, "/metrics");
	CHECK_EQ(request("HEAD", url, NULL, &rep), 200);
	CHECK_EQ(rep.body.len, 0);
	CHECK_STR(rep.content_type, "text/plain; version=0.0.4; charset=utf-8");
	buf_free(&rep.body);

	CHECK_EQ(request("POST", url, "x=1", &rep), 405);
	CHECK_STR(rep.allow, "GET, HEAD");
	buf_free(&rep.body);
	CHECK_EQ(request("DELETE", url, NULL, &rep), 405);
	CHECK_STR(rep.allow, "GET, HEAD");
	buf_free(&rep.body);
	CHECK_EQ(request("PUT", url, NULL, &rep), 405);
	buf_free(&rep.body);
	/* a GET that carries a body */
	CHECK_EQ(request("GET", url, "some body", &rep), 413);
	buf_free(&rep.body);
	/* and the server is still fine */
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	buf_free(&rep.body);

	http_server_stop(s);
	metrics_registry_free(reg);
}

TEST(no_registry_serves_empty_metrics)
{
	struct http_server *s = NULL;
	struct reply rep;
	char url[256];

	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	url_of(url, sizeof(url), "127.0.0.1", http_server_port(s), "/metrics");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_EQ(rep.body.len, 0);
	buf_free(&rep.body);
	http_server_stop(s);
}

/* ---- pages ---- */

static int page_targets(void *ctx, const char *format, struct buf *out,
			const char **content_type)
{
	(void)format;
	*content_type = "application/json";
	return buf_printf(out, "{\"targets\":%d}\n", *(int *)ctx);
}

static int page_fails(void *ctx, const char *format, struct buf *out,
			const char **content_type)
{
	(void)format;
	(void)ctx;
	(void)content_type;
	buf_append_str(out, "partial");
	return -EIO;
}

static int page_path(void *ctx, const char *format, struct buf *out,
			const char **content_type)
{
	(void)format;
	(void)content_type;
	return buf_printf(out, "page %d\n", (int)(intptr_t)ctx);
}

#define LATE_PAGES 30

struct adder {
	struct http_server *s;
	int failures;
};

static void *add_pages(void *arg)
{
	struct adder *a = arg;
	char path[32];

	for (int i = 0; i < LATE_PAGES; i++) {
		snprintf(path, sizeof(path), "/p%d", i);
		if (http_server_add_page(a->s, path, page_path, (void *)(intptr_t)i) != 0)
			a->failures++;
		usleep(2000);
	}
	return NULL;
}

TEST(pages)
{
	struct http_server *s = NULL;
	struct reply rep;
	char url[256];
	int ntargets = 3, port, found = 0;
	struct adder a = {0};
	pthread_t t;

	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	port = http_server_port(s);
	CHECK_EQ(http_server_add_page(s, "/targets", page_targets, &ntargets), 0);
	CHECK_EQ(http_server_add_page(s, "/fail", page_fails, NULL), 0);
	CHECK_EQ(http_server_add_page(s, "/targets", page_targets, &ntargets), -EEXIST);
	CHECK_EQ(http_server_add_page(s, "/metrics", page_targets, &ntargets), -EEXIST);
	CHECK_EQ(http_server_add_page(s, "/healthz", page_targets, &ntargets), -EEXIST);
	CHECK_EQ(http_server_add_page(s, "targets", page_targets, &ntargets), -EINVAL);
	CHECK_EQ(http_server_add_page(s, "/x", NULL, NULL), -EINVAL);

	url_of(url, sizeof(url), "127.0.0.1", port, "/targets");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_STR(rep.content_type, "application/json");
	CHECK_STR(body_of(&rep), "{\"targets\":3}\n");
	buf_free(&rep.body);
	url_of(url, sizeof(url), "127.0.0.1", port, "/fail");
	CHECK_EQ(request("GET", url, NULL, &rep), 500);
	CHECK(!strstr(body_of(&rep), "partial"));
	buf_free(&rep.body);

	/* registration while requests are being served */
	a.s = s;
	CHECK_EQ(pthread_create(&t, NULL, add_pages, &a), 0);
	for (int round = 0; round < 2000 && found < LATE_PAGES; round++) {
		char want[32];
		long st;

		url_of(url, sizeof(url), "127.0.0.1", port, "");
		snprintf(url + strlen(url), sizeof(url) - strlen(url), "/p%d", found);
		st = request("GET", url, NULL, &rep);
		snprintf(want, sizeof(want), "page %d\n", found);
		if (st == 200) {
			CHECK_STR(body_of(&rep), want);
			found++;
		} else {
			CHECK_EQ(st, 404);
		}
		buf_free(&rep.body);
	}
	pthread_join(t, NULL);
	CHECK_EQ(a.failures, 0);
	CHECK_EQ(found, LATE_PAGES);
	/* 2 + 30 pages: the table is full */
	CHECK_EQ(http_server_add_page(s, "/one-more", page_path, NULL), -ENOSPC);
	http_server_stop(s);
}

/* ---- listen addresses ---- */

TEST(listen_parse)
{
	static const struct {
		const char *in, *host;
		int port;
	} good[] = {
	    {"127.0.0.1:8080", "127.0.0.1", 8080},
	    {":9100", "", 9100},
	    {"0.0.0.0:0", "0.0.0.0", 0},
	    {"[::1]:65535", "::1", 65535},
	    {"[::]:80", "::", 80},
	    {"localhost:1", "localhost", 1},
	    {"node-1.example.com:443", "node-1.example.com", 443},
	};
	static const char *const bad[] = {
	    ":",       "host:",   "1.2.3.4:99999", "[::1",    "abc",      "",
	    "[::1]",   "[::1]:",  "::1:80",        "h:-1",    "h:+80",    "h:8o",
	    "[]:80",   "[zz]:80", "a b:80",        "h:123456", "h:80 ",   "[::1]x:80",
	    "h:0x50",  "[1.2.3.4]:80",
	};
	char host[64];
	int port;
	struct http_server *s = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		port = -1;
		CHECK_MSG(http_listen_parse(good[i].in, host, sizeof(host), &port) == 0, "%s",
			  good[i].in);
		CHECK_STR(host, good[i].host);
		CHECK_EQ(port, good[i].port);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_MSG(http_listen_parse(bad[i], host, sizeof(host), &port) == -EINVAL,
			  "accepted \"%s\"", bad[i]);
	}
	CHECK_EQ(http_listen_parse(NULL, host, sizeof(host), &port), -EINVAL);
	/* the host does not fit */
	CHECK_EQ(http_listen_parse("localhost:80", host, 9, &port), -EINVAL);
	CHECK_EQ(http_listen_parse("localhost:80", NULL, 0, NULL), 0);
	/* start refuses the same strings before binding anything */
	CHECK_EQ(http_server_start("[::1", NULL, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK_EQ(http_server_start("1.2.3.4:99999", NULL, &s), -EINVAL);
}

static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

TEST(ipv6_listener)
{
	struct http_server *s = NULL;
	struct reply rep;
	char url[256];

	if (!have_ipv6_loopback())
		SKIP("no IPv6 loopback (::1) on this machine");
	CHECK_EQ(http_server_start("[::1]:0", NULL, &s), 0);
	url_of(url, sizeof(url), "[::1]", http_server_port(s), "/healthz");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	CHECK_STR(body_of(&rep), "ok\n");
	buf_free(&rep.body);
	/* bound to ::1 only: IPv4 loopback is not served */
	url_of(url, sizeof(url), "127.0.0.1", http_server_port(s), "/healthz");
	CHECK(request("GET", url, NULL, &rep) < 0);
	buf_free(&rep.body);
	http_server_stop(s);
}

TEST(all_interfaces_is_dual_stack)
{
	struct http_server *s = NULL;
	struct reply rep;
	char url[256];

	/* port 0 on every interface: briefly exposed, but only for the test's duration */
	CHECK_EQ(http_server_start(":0", NULL, &s), 0);
	url_of(url, sizeof(url), "127.0.0.1", http_server_port(s), "/healthz");
	CHECK_EQ(request("GET", url, NULL, &rep), 200);
	buf_free(&rep.body);
	if (have_ipv6_loopback()) {
		url_of(url, sizeof(url), "[::1]", http_server_port(s), "/healthz");
		CHECK_EQ(request("GET", url, NULL, &rep), 200);
		buf_free(&rep.body);
	}
	http_server_stop(s);
}

TEST(port_in_use)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	struct http_server *s = NULL, *s2 = NULL;
	char listen_addr[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(fd, 1), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", ntohs(a.sin_port));
	CHECK_EQ(http_server_start(listen_addr, NULL, &s), -EADDRINUSE);
	CHECK(s == NULL);
	close(fd);

	/* two servers on one port */
	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	port = http_server_port(s);
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", port);
	CHECK_EQ(http_server_start(listen_addr, NULL, &s2), -EADDRINUSE);
	http_server_stop(s);
	/* once stopped, the port can be bound again at once (SO_REUSEADDR) */
	CHECK_EQ(http_server_start(listen_addr, NULL, &s2), 0);
	CHECK_EQ(http_server_port(s2), port);
	http_server_stop(s2);
}

/* ---- misbehaving clients ---- */

/* Starts a non-blocking connect to 127.0.0.1:port. Returns the fd or -1. */
static int connect_nb(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req on a fresh connection and reads until EOF or 5 s pass. Returns the HTTP
 * status of the answer, 0 when the server closed without one, or -1. */
static int raw_exchange(int port, const char *req, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};
	char resp[4096];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	/* the server may answer and close before it has read everything */
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	while (got < sizeof(resp) - 1) {
		ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	close(fd);
	if (got > 12 && strncmp(resp, "HTTP/1.", 7) == 0)
		status = atoi(resp + 9);
	return status;
}

static int healthz(int port)
{
	struct reply rep;
	char url[128];
	long st;

	url_of(url, sizeof(url), "127.0.0.1", port, "/healthz");
	st = request("GET", url, NULL, &rep);
	buf_free(&rep.body);
	return (int)st;
}

TEST(oversized_requests_are_refused)
{
	struct http_server *s = NULL;
	size_t big = 256 * 1024;
	char *req = malloc(big + 256);
	int port, st;

	CHECK(req);
	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	port = http_server_port(s);

	/* a request line far beyond the per-connection memory */
	strcpy(req, "GET /");
	memset(req + 5, 'a', big);
	strcpy(req + 5 + big, " HTTP/1.1\r\nHost: x\r\n\r\n");
	/* 0: the server may close before all was sent, and the reset can beat the answer */
	st = raw_exchange(port, req, strlen(req));
	CHECK_MSG(st == 414 || st == 0, "status %d", st);

	/* a header far beyond it */
	strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + strlen(req), 'b', big);
	strcpy(req + strlen("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ") + big, "\r\n\r\n");
	st = raw_exchange(port, req, strlen(req));
	CHECK_MSG(st == 431 || st == 0, "status %d", st);

	/* many headers */
	req[0] = '\0';
	strcat(req, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; strlen(req) < big; i++)
		snprintf(req + strlen(req), 64, "X-H%d: v\r\n", i);
	strcat(req, "\r\n");
	st = raw_exchange(port, req, strlen(req));
	CHECK_MSG(st == 431 || st == 0, "status %d", st);

	/* a body announced on GET, sent raw */
	strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	CHECK_EQ(raw_exchange(port, req, strlen(req)), 413);
	strcpy(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n");
	CHECK_EQ(raw_exchange(port, req, strlen(req)), 413);
	/* garbage */
	strcpy(req, "\x01\x02\x03 nonsense\r\n\r\n");
	st = raw_exchange(port, req, strlen(req));
	CHECK_MSG(st == 400 || st == 0, "status %d", st);

	CHECK_EQ(healthz(port), 200);
	free(req);
	http_server_stop(s);
}

#define IDLE_CLIENTS 200

TEST(idle_clients_do_not_wedge_the_server)
{
	struct http_server *s = NULL;
	int fds[IDLE_CLIENTS], port, opened = 0;

	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	port = http_server_port(s);
	for (int i = 0; i < IDLE_CLIENTS; i++) {
		fds[i] = connect_nb(port);
		opened += fds[i] >= 0;
	}
	CHECK_EQ(opened, IDLE_CLIENTS);
	usleep(300 * 1000);
	for (int i = 0; i < IDLE_CLIENTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* once they are gone, a well-behaved client is served promptly: the server may
	 * not have seen every close yet, and until it has, the address's connection limit
	 * turns a new one away at once (a retry then gets in) */
	{
		int64_t t0 = time_mono_ns();
		int st;

		while ((st = healthz(port)) != 200 && time_mono_ns() - t0 < 5 * NS_PER_SEC)
			usleep(20 * 1000);
		CHECK_EQ(st, 200);
		CHECK(time_mono_ns() - t0 < 5 * NS_PER_SEC);
	}
	http_server_stop(s);
}

TEST(idle_clients_time_out)
{
	static const struct http_limits limits = {8, 1, 32 * 1024, 0};
	struct http_server *s = NULL;
	int fds[20], port;
	int64_t t0;
	char c;

	CHECK_EQ(http_server_start_limits("127.0.0.1:0", NULL, &limits, &s), 0);
	port = http_server_port(s);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		CHECK((fds[i] = connect_nb(port)) >= 0);
	/* more idle clients than connection slots stay connected and silent; the idle
	 * timeout frees the slots in turn, so a real client gets through */
	t0 = time_mono_ns();
	CHECK_EQ(healthz(port), 200);
	CHECK(time_mono_ns() - t0 < 15 * NS_PER_SEC);
	/* the first idle connection was closed by the server: EOF */
	{
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		CHECK_EQ(poll(&p, 1, 5000), 1);
		CHECK_EQ(recv(fds[0], &c, 1, 0), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		close(fds[i]);
	http_server_stop(s);
}

TEST(stop_with_open_connections)
{
	struct http_server *s = NULL;
	int fds[4];

	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = connect_nb(http_server_port(s));
	usleep(100 * 1000);
	http_server_stop(s);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	http_server_stop(NULL);
}

TEST(server_thread_is_named)
{
	struct http_server *s = NULL;
	int named = 0;
	DIR *d;
	struct dirent *e;

	CHECK_EQ(http_server_start("127.0.0.1:0", NULL, &s), 0);
	CHECK_EQ(healthz(http_server_port(s)), 200);
	d = opendir("/proc/self/task");
	CHECK(d);
	while ((e = readdir(d))) {
		char path[300];
		struct buf comm;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		buf_init(&comm, 64);
		if (test_read_file(path, &comm) == 0 && comm.data &&
		    strcmp(comm.data, "podprof-http\n") == 0)
			named = 1;
		buf_free(&comm);
	}
	closedir(d);
	http_server_stop(s);
	CHECK(named);
}
