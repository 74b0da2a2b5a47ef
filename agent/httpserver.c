/*
 * The agent's HTTP server on libmicrohttpd.
 *
 * We open the listening socket ourselves and hand it to MHD (MHD_OPTION_LISTEN_SOCKET):
 * that way a bind failure is reported with its real errno and the address, IPv6 and
 * dual-stack choices are explicit, and the bound port (port 0) comes from getsockname.
 * MHD runs one internal polling thread with bounded connections (in all and per client
 * address), per-connection memory (which caps the request line and headers: MHD
 * answers 414/431 beyond it) and an idle timeout, so slow or silent clients cannot pin
 * the server forever, nor keep other clients out meanwhile.
 *
 * Every request is answered from the first access-handler call, before any body is
 * read: methods other than GET/HEAD get 405, a request announcing a body gets 413, and
 * MHD closes such connections after the answer. MHD strips the body of HEAD answers.
 *
 * Status pages live in a fixed table under a mutex; the handler copies the callback out
 * and calls it unlocked, so a page may be registered while requests are served (pages
 * are never removed, so a copied entry cannot go stale).
 */
#define LOG_MODULE "http"
#include "httpserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpserver_internal.h"

#define HTTP_MAX_PAGES 32
#define HTTP_MAX_PATH 128
#define HTTP_MAX_HOST 256
#define HTTP_BACKLOG 128
/* Bodies we generate: /metrics grows with the series count, pages with their tables. */
#define HTTP_MAX_METRICS_BODY (64u << 20)
#define HTTP_MAX_PAGE_BODY (16u << 20)

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct http_page {
	char path[HTTP_MAX_PATH];
	http_page_fn fn;
	void *ctx;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct metrics_registry *metrics;
	int port;
	_Atomic int ready;
	int thread_named; /* touched by the server thread only */
	struct log_ratelimit mhd_log_rl;
	pthread_mutex_t pages_lock;
	struct http_page pages[HTTP_MAX_PAGES];
	size_t npages;
};

/* ---- listen addresses ---- */

static int parse_port(const char *s, int *port)
{
	long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

/* A host name as DNS allows it (letters, digits, '-', '.'), or an IPv4 literal. */
static int valid_hostname(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* An IPv6 literal, possibly with a zone ("fe80::1%eth0"); numeric, no lookup. */
static int valid_ipv6(const char *s)
{
	struct addrinfo hints = {.ai_family = AF_INET6, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai = NULL;
	int ok = getaddrinfo(s, NULL, &hints, &ai) == 0;

	if (ai)
		freeaddrinfo(ai);
	return ok;
}

int http_listen_parse(const char *listen, char *host, size_t hostlen, int *port)
{
	char h[HTTP_MAX_HOST];
	const char *colon, *hs;
	size_t hn;
	int p;

	if (!listen)
		return -EINVAL;
	if (listen[0] == '[') {
		const char *bracket = strchr(listen, ']');

		if (!bracket || bracket[1] != ':')
			return -EINVAL;
		hs = listen + 1;
		hn = (size_t)(bracket - hs);
		colon = bracket + 1;
		if (hn == 0 || hn >= sizeof(h))
			return -EINVAL;
		memcpy(h, hs, hn);
		h[hn] = '\0';
		if (!valid_ipv6(h))
			return -EINVAL;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hs = listen;
		hn = (size_t)(colon - hs);
		/* an empty host means all interfaces; otherwise a name or IPv4 literal
		 * (IPv6 needs brackets, so a second colon is an error) */
		if (hn && !valid_hostname(hs, hn))
			return -EINVAL;
		memcpy(h, hs, hn);
		h[hn] = '\0';
	}
	if (parse_port(colon + 1, &p))
		return -EINVAL;
	if (host) {
		if (hn >= hostlen)
			return -EINVAL;
		memcpy(host, h, hn + 1);
	}
	if (port)
		*port = p;
	return 0;
}

/* Creates a listening socket bound to sa. Returns the fd or -errno. */
static int listen_on(const struct sockaddr *sa, socklen_t salen, int v6only)
{
	int one = 1, fd, r;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* restarts must not wait for TIME_WAIT; a live listener still gives EADDRINUSE */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, sa, salen) < 0 || listen(fd, HTTP_BACKLOG) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Binds host:port. An empty host means every interface: IPv6 "::" in dual-stack mode
 * so that IPv4 clients are served too, or 0.0.0.0 when the machine has no IPv6.
 * A name is resolved now and the first address that binds wins.
 */
static int open_listener(const char *host, int port)
{
	char service[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int fd = -EADDRNOTAVAIL, g;

	if (!*host) {
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_ANY)};

		fd = listen_on((struct sockaddr *)&a6, sizeof(a6), 0);
		if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
			fd = listen_on((struct sockaddr *)&a4, sizeof(a4), 0);
		if (fd < 0)
			log_error("cannot listen on :%d: %s", port, strerror(-fd));
		return fd;
	}
	snprintf(service, sizeof(service), "%d", port);
	g = getaddrinfo(host, service, &hints, &res);
	if (g != 0) {
		log_error("cannot resolve listen host %s: %s", host, gai_strerror(g));
		return -EADDRNOTAVAIL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		/* "[::]:port" means every interface, as "::" does in Go: dual-stack */
		int v6only = !(ai->ai_family == AF_INET6 &&
			       IN6_IS_ADDR_UNSPECIFIED(
				   &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr));

		fd = listen_on(ai->ai_addr, ai->ai_addrlen, v6only);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		log_error("cannot listen on %s%s%s:%d: %s", strchr(host, ':') ? "[" : "", host,
			  strchr(host, ':') ? "]" : "", port, strerror(-fd));
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- requests ---- */

/* Queues a response; body is freed by MHD when owned, else must be static. */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body,
			       size_t len, int owned, const char *content_type,
			       const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE
							       : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status,
				    const char *text)
{
	return respond(c, status, (char *)text, strlen(text), 0, CT_TEXT, NULL);
}

/* Answers with a generated body: 200 with it, or 500 when generation failed. */
static enum MHD_Result respond_buf(struct MHD_Connection *c, struct buf *b, int err,
				   const char *content_type)
{
	char *body;
	size_t len;

	if (err) {
		buf_free(b);
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	body = buf_steal(b, &len);
	if (!body)
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return respond(c, MHD_HTTP_OK, body, len, 1, content_type, NULL);
}

static int has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);

	return te || (cl && strspn(cl, "0") != strlen(cl));
}

static enum MHD_Result serve_page(struct http_server *s, struct MHD_Connection *c,
				  const char *url)
{
	struct http_page page = {.fn = NULL};
	const char *content_type = CT_TEXT;
	struct buf b;
	int r;

	pthread_mutex_lock(&s->pages_lock);
	for (size_t i = 0; i < s->npages; i++) {
		if (strcmp(s->pages[i].path, url) == 0) {
			page = s->pages[i];
			break;
		}
	}
	pthread_mutex_unlock(&s->pages_lock);
	if (!page.fn)
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	buf_init(&b, HTTP_MAX_PAGE_BODY);
	r = page.fn(page.ctx, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"), &b,
		    &content_type);
	if (r)
		log_warn("page %s failed: %s", url, strerror(-r));
	return respond_buf(c, &b, r, content_type ? content_type : CT_TEXT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	static const char not_allowed[] = "method not allowed\n";
	struct http_server *s = cls;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (!s->thread_named) {
		/* MHD calls its thread "MHD-single"; name it after us in thread lists */
		pthread_setname_np(pthread_self(), "podprof-http");
		s->thread_named = 1;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)not_allowed,
			       strlen(not_allowed), 0, CT_TEXT, "GET, HEAD");
	/* We answer on the first call, so a body can only be announced, not received;
	 * the check on upload_data_size covers a call that carries data anyway. */
	if (*upload_data_size || has_body(c)) {
		*upload_data_size = 0;
		return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body not accepted\n");
	}
	if (strcmp(url, "/metrics") == 0) {
		struct buf b;
		int r;

		buf_init(&b, HTTP_MAX_METRICS_BODY);
		r = metrics_render(s->metrics, &b);
		if (r)
			log_warn("rendering /metrics failed: %s", strerror(-r));
		return respond_buf(c, &b, r, CT_METRICS);
	}
	if (strcmp(url, "/healthz") == 0)
		return respond_text(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return atomic_load(&s->ready) ? respond_text(c, MHD_HTTP_OK, "ready\n")
					      : respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
							     "not ready\n");
	return serve_page(s, c, url);
}

/* MHD's own messages (client errors, limits reached): rate-limited, they repeat. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							 va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	size_t n;

	if (!log_ratelimit_allow(&s->mhd_log_rl, 10 * NS_PER_SEC))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("libmicrohttpd: %s", msg);
}

/* ---- lifecycle ---- */

int http_server_start_limits(const char *listen, struct metrics_registry *metrics,
			     const struct http_limits *limits, struct http_server **out)
{
	char host[HTTP_MAX_HOST];
	struct http_server *s = NULL;
	int port, fd = -1, ret = -EINVAL;

	*out = NULL;
	if (http_listen_parse(listen, host, sizeof(host), &port) || !limits->connections ||
	    !limits->timeout_s || !limits->connection_memory) {
		log_error("invalid listen address %s", listen ? listen : "(null)");
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->metrics = metrics;
	pthread_mutex_init(&s->pages_lock, NULL);
	fd = open_listener(host, port);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	s->port = bound_port(fd);
	s->daemon = MHD_start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, limits->connections, MHD_OPTION_CONNECTION_TIMEOUT,
	    limits->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits->connection_memory,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits->per_ip, MHD_OPTION_END);
	if (!s->daemon) {
		log_error("cannot start the HTTP server on %s", listen);
		/* MHD closes the socket on some failure paths and not on others */
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		ret = -EIO;
		goto out;
	}
	log_info("serving /metrics, /healthz, /readyz on %s (port %d)", listen, s->port);
	*out = s;
	s = NULL;
	ret = 0;
out:
	if (s) {
		pthread_mutex_destroy(&s->pages_lock);
		free(s);
	}
	return ret;
}

int http_server_start(const char *listen, struct metrics_registry *metrics,
		      struct http_server **out)
{
	static const struct http_limits limits = HTTP_LIMITS_DEFAULT;

	return http_server_start_limits(listen, metrics, &limits, out);
}

int http_server_port(const struct http_server *s)
{
	return s ? s->port : -1;
}

int http_server_add_page(struct http_server *s, const char *path, http_page_fn fn, void *ctx)
{
	static const char *const reserved[] = {"/metrics", "/healthz", "/readyz"};
	int ret = -EEXIST;

	if (!s || !path || path[0] != '/' || !fn || strlen(path) >= HTTP_MAX_PATH)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(path, reserved[i]) == 0)
			return -EEXIST;
	pthread_mutex_lock(&s->pages_lock);
	for (size_t i = 0; i < s->npages; i++)
		if (strcmp(s->pages[i].path, path) == 0)
			goto out;
	if (s->npages == HTTP_MAX_PAGES) {
		ret = -ENOSPC;
		goto out;
	}
	strcpy(s->pages[s->npages].path, path);
	s->pages[s->npages].fn = fn;
	s->pages[s->npages].ctx = ctx;
	s->npages++;
	ret = 0;
out:
	pthread_mutex_unlock(&s->pages_lock);
	return ret;
}

void http_server_set_ready(struct http_server *s, int ready)
{
	if (s)
		atomic_store(&s->ready, ready != 0);
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	/* joins the server thread and closes the listening socket */
	MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->pages_lock);
	free(s);
}
