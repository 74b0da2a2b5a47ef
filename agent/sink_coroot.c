/*
 * The Coroot sink (see sink_coroot.h). Everything that does not change between
 * requests (headers, TLS settings, timeouts) is set once on the easy handle; a request
 * only sets the URL and the body, so libcurl keeps the connection to Coroot alive.
 *
 * The easy handle is driven through a private multi handle (which is what
 * curl_easy_perform does inside) so that stop can interrupt a transfer with
 * curl_multi_wakeup(); a progress callback could do the same, but keeping libcurl's
 * progress meter on costs several percent of throughput on every request.
 *
 * How answers are read, from Coroot's handler: 200 is success; 400 means the profile
 * or its service name is bad and will stay bad; 404 "project not found" means the API
 * key is unknown, which an operator fixes, so the data is kept. Everything transient
 * (no connection, timeouts, 5xx, 408, 429) is retried by the caller.
 */
#define LOG_MODULE "uploader"
#include "sink_coroot.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

#define SINK_RESPONSE_MAX 4096
#define SINK_URL_MAX (64 * 1024)
#define SINK_UPLOAD_BUFFER (512L * 1024)

struct sink_coroot {
	CURL *curl;
	CURLM *multi;
	_Atomic int aborted;
	struct curl_slist *headers;
	char *endpoint;
	char *endpoint_log; /* without credentials */
	char query_sep;     /* '?' or '&' when the endpoint has a query already */
	struct buf response;
	struct buf url;
	struct buf last_url; /* what CURLOPT_URL is set to */
	char errbuf[CURL_ERROR_SIZE];
};

/* Keeps the first SINK_RESPONSE_MAX bytes of the answer; the rest is read and ignored. */
static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink_coroot *s = ctx;
	size_t len = size * n, room = SINK_RESPONSE_MAX - s->response.len;

	if (room)
		buf_append(&s->response, p, len < room ? len : room);
	return len;
}

/* Copies text into out as one line of printable ASCII. */
static void printable(const char *text, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < outlen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c > 0x7e)
			c = '?';
		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Copies url with its user:password part, if any, replaced by three asterisks. */
static char *redact(const char *url)
{
	const char *host = strstr(url, "://"), *at, *slash;
	char *out = NULL;

	if (!host)
		return strdup(url);
	host += 3;
	slash = strchr(host, '/');
	at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at)
		return strdup(url);
	if (asprintf(&out, "%.*s***%s", (int)(host - url), url, at) < 0)
		return NULL;
	return out;
}

static int add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *n = curl_slist_append(*list, h);

	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

int sink_coroot_new(const struct sink_coroot_config *cfg, struct sink_coroot **out)
{
	struct sink_coroot *s;
	long timeout_ms = (long)(cfg->timeout_ns / NS_PER_MS);
	char *key_header = NULL;
	int r = -ENOMEM;

	if (strncasecmp(cfg->endpoint, "http://", 7) != 0 &&
	    strncasecmp(cfg->endpoint, "https://", 8) != 0) {
		log_error("the profiles endpoint must be an http:// or https:// URL");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	buf_init(&s->response, SINK_RESPONSE_MAX);
	buf_init(&s->url, SINK_URL_MAX);
	buf_init(&s->last_url, SINK_URL_MAX);
	s->endpoint = strdup(cfg->endpoint);
	s->endpoint_log = redact(cfg->endpoint);
	s->curl = curl_easy_init();
	s->multi = curl_multi_init();
	if (!s->endpoint || !s->endpoint_log || !s->curl || !s->multi)
		goto fail;
	s->query_sep = strchr(s->endpoint, '?') ? '&' : '?';
	if (add_header(&s->headers, "Content-Type: application/octet-stream") ||
	    add_header(&s->headers, "Expect:")) /* no 100-continue round trip */
		goto fail;
	if (cfg->api_key && *cfg->api_key) {
		if (asprintf(&key_header, "X-Api-Key: %s", cfg->api_key) < 0) {
			key_header = NULL;
			goto fail;
		}
		r = add_header(&s->headers, key_header);
		if (r)
			goto fail;
		r = -ENOMEM;
	}
	if (timeout_ms <= 0)
		timeout_ms = 10000;
	curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "podprof/" PODPROF_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	/* profiles are often larger than libcurl's 64 KiB default: fewer copies and
	 * send() calls per upload */
	curl_easy_setopt(s->curl, CURLOPT_UPLOAD_BUFFERSIZE, SINK_UPLOAD_BUFFER);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
	if (cfg->ca_file && *cfg->ca_file)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->insecure_skip_verify) {
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*out = s;
	s = NULL;
	r = 0;
fail:
	if (key_header) {
		/* the key must not linger in freed memory longer than needed */
		explicit_bzero(key_header, strlen(key_header));
		free(key_header);
	}
	sink_coroot_free(s);
	return r;
}

void sink_coroot_free(struct sink_coroot *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	free(s->endpoint);
	free(s->endpoint_log);
	buf_free(&s->response);
	buf_free(&s->url);
	buf_free(&s->last_url);
	free(s);
}

void sink_coroot_abort(struct sink_coroot *s)
{
	atomic_store(&s->aborted, 1);
	curl_multi_wakeup(s->multi);
}

/* curl_easy_perform, interruptible by sink_coroot_abort. */
static CURLcode perform(struct sink_coroot *s)
{
	CURLcode cc = CURLE_ABORTED_BY_CALLBACK;
	CURLMsg *msg;
	int running = 1, left;

	if (atomic_load(&s->aborted) || curl_multi_add_handle(s->multi, s->curl) != CURLM_OK)
		return cc;
	while (running && !atomic_load(&s->aborted)) {
		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(s->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->curl)
			cc = msg->data.result;
	curl_multi_remove_handle(s->multi, s->curl);
	if (atomic_load(&s->aborted)) {
		snprintf(s->errbuf, sizeof(s->errbuf), "aborted: the uploader is stopping");
		cc = CURLE_ABORTED_BY_CALLBACK;
	}
	return cc;
}

const char *sink_coroot_endpoint(const struct sink_coroot *s)
{
	return s->endpoint_log;
}

static enum sink_outcome classify(long status)
{
	if (status >= 200 && status < 300)
		return SINK_OK;
	if (status == 401 || status == 403 || status == 404)
		return SINK_AUTH;
	if (status == 413)
		return SINK_TOO_LARGE;
	if (status == 408 || status == 429)
		return SINK_RETRY;
	if (status >= 400 && status < 500)
		return SINK_REJECTED;
	/* 5xx, and anything a Coroot server never answers (1xx, 3xx): a proxy or a
	 * misconfiguration between us and Coroot, which can be fixed; keep the data */
	return SINK_RETRY;
}

enum sink_outcome sink_coroot_send(struct sink_coroot *s, const char *query,
				   const void *body, size_t len, struct sink_result *res)
{
	CURLcode cc;
	double secs = 0;

	memset(res, 0, sizeof(*res));
	res->outcome = SINK_RETRY;
	buf_reset(&s->url);
	buf_reset(&s->response);
	s->errbuf[0] = '\0';
	if (buf_printf(&s->url, "%s%c%s", s->endpoint, s->query_sep, query) != 0) {
		snprintf(res->message, sizeof(res->message), "URL too long");
		res->outcome = SINK_REJECTED;
		return res->outcome;
	}
	/* the same service sends the same query: spare libcurl parsing the URL again */
	if (strcmp(s->url.data, s->last_url.data ? s->last_url.data : "") != 0) {
		curl_easy_setopt(s->curl, CURLOPT_URL, s->url.data);
		buf_reset(&s->last_url);
		buf_append(&s->last_url, s->url.data, s->url.len);
	}
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	cc = perform(s);
	curl_easy_getinfo(s->curl, CURLINFO_TOTAL_TIME, &secs);
	res->seconds = secs;
	if (cc != CURLE_OK) {
		const char *msg = s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc);
		printable(msg, strlen(msg), res->message, sizeof(res->message));
		return res->outcome;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &res->status);
	printable(s->response.data ? s->response.data : "", s->response.len, res->message,
		  sizeof(res->message));
	res->outcome = classify(res->status);
	return res->outcome;
}
