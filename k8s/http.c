/*
 * HTTP GET against the API server (see http.h).
 */
#define LOG_MODULE "k8s"
#include "http.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

struct k8s_http {
	const struct k8s_config *conn;
	CURL *curl;
	CURLM *multi;
	_Atomic int aborted;
	struct buf url;
	char errbuf[CURL_ERROR_SIZE];
	/* the request in flight */
	const struct k8s_request *req;
	struct k8s_response *resp;
	int mode;     /* 0: before the first body byte, 1: to the caller, 2: error body */
	int body_err; /* the error that stopped the transfer from a callback */
	struct buf error_body;
};

int k8s_http_new(const struct k8s_config *conn, int64_t connect_timeout_ns,
		 struct k8s_http **out)
{
	struct k8s_http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->conn = conn;
	buf_init(&h->url, 65536);
	buf_init(&h->error_body, K8S_HTTP_ERROR_BODY_MAX);
	h->curl = curl_easy_init();
	h->multi = curl_multi_init();
	if (!h->curl || !h->multi || k8s_config_setup_handle(conn, h->curl)) {
		k8s_http_free(h);
		return -ENOMEM;
	}
	if (connect_timeout_ns <= 0)
		connect_timeout_ns = 10 * NS_PER_SEC;
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "podprof/" PODPROF_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(connect_timeout_ns / NS_PER_MS));
	curl_easy_setopt(h->curl, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
	/* a watch may be idle for minutes: keepalive notices a peer that vanished */
	curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPINTVL, 10L);
	*out = h;
	return 0;
}

void k8s_http_free(struct k8s_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	buf_free(&h->url);
	buf_free(&h->error_body);
	free(h);
}

void k8s_http_abort(struct k8s_http *h)
{
	atomic_store(&h->aborted, 1);
	curl_multi_wakeup(h->multi);
}

const char *k8s_http_server(const struct k8s_http *h)
{
	return h->conn->server;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct k8s_http *h = ctx;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		long v = strtol(p + 12, NULL, 10);
		/* the date form is rare from API servers; it counts as absent */
		if (v > 0 && v < 24 * 3600)
			h->resp->retry_after_ns = (int64_t)v * NS_PER_SEC;
	} else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		h->resp->retry_after_ns = 0; /* a new response (after 100 Continue) */
	}
	return len;
}

static int is_json(const char *ct)
{
	return strncasecmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct k8s_http *h = ctx;
	size_t len = size * n;
	int r;

	if (h->mode == 0) {
		char *ct = NULL;
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->resp->status);
		curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(h->resp->content_type, sizeof(h->resp->content_type), "%s", ct ? ct : "");
		if (h->resp->status < 200 || h->resp->status > 299) {
			h->mode = 2;
		} else if (!is_json(h->resp->content_type)) {
			/* do not read on: an endless wrong answer costs nothing */
			h->body_err = -EPROTO;
			return 0;
		} else {
			h->mode = 1;
		}
	}
	if (h->mode == 2) {
		size_t room = K8S_HTTP_ERROR_BODY_MAX - h->error_body.len;
		buf_append(&h->error_body, p, len < room ? len : room);
		/* enough to find the message: stop reading an endless error page */
		if (h->error_body.len == K8S_HTTP_ERROR_BODY_MAX)
			return 0;
		return len;
	}
	h->resp->body_bytes += len;
	r = h->req->on_body(h->req->ctx, p, len);
	if (r) {
		h->body_err = r;
		return 0;
	}
	return len;
}

/* One line of printable text out of an error body. */
static void summarize(struct k8s_http *h)
{
	struct k8s_response *resp = h->resp;
	const char *body = h->error_body.data ? h->error_body.data : "";
	size_t n = 0;
	cJSON *doc;

	if (is_json(resp->content_type) &&
	    (doc = cJSON_ParseWithLength(body, h->error_body.len)) != NULL) {
		const char *msg =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "message"));
		if (msg) {
			snprintf(resp->message, sizeof(resp->message), "%s", msg);
			cJSON_Delete(doc);
			goto clean;
		}
		cJSON_Delete(doc);
	}
	if (strncasecmp(resp->content_type, "text/html", 9) == 0 ||
	    body[strspn(body, " \r\n\t")] == '<') {
		snprintf(resp->message, sizeof(resp->message),
			 "an HTML page (%s), not a Kubernetes Status: a proxy or load balancer "
			 "answered",
			 resp->content_type[0] ? resp->content_type : "no content type");
		return;
	}
	snprintf(resp->message, sizeof(resp->message), "%.200s", body);
clean:
	for (char *c = resp->message; *c && n < sizeof(resp->message); c++, n++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
}

static int map_curl_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	default:
		return -ECONNABORTED;
	}
}

/* Drives the transfer. Returns curl's result code, or sets *err for an abort. */
static CURLcode drive(struct k8s_http *h, const struct k8s_request *req, int *err)
{
	CURLcode result = CURLE_OK;
	int running = 1;

	if (curl_multi_add_handle(h->multi, h->curl) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running) {
		CURLMsg *msg;
		int left;

		if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
			result = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				result = msg->data.result;
		if (!running)
			break;
		if (atomic_load(&h->aborted)) {
			*err = -ECANCELED;
			break;
		}
		if (req->on_tick && (*err = req->on_tick(req->ctx)) != 0)
			break;
		curl_multi_poll(h->multi, NULL, 0, 250, NULL);
	}
	curl_multi_remove_handle(h->multi, h->curl);
	return result;
}

static void wipe_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

int k8s_http_get(struct k8s_http *h, const struct k8s_request *req, struct k8s_response *resp)
{
	struct curl_slist *headers = NULL, *n;
	CURLcode rc;
	int r, abort_err = 0;

	memset(resp, 0, sizeof(*resp));
	if (atomic_load(&h->aborted))
		return -ECANCELED;
	buf_reset(&h->url);
	buf_reset(&h->error_body);
	h->req = req;
	h->resp = resp;
	h->mode = 0;
	h->body_err = 0;
	h->errbuf[0] = '\0';
	r = buf_printf(&h->url, "%s%s", h->conn->server, req->path);
	if (r)
		return r == -E2BIG ? -EINVAL : r;
	n = curl_slist_append(NULL, "Accept: application/json");
	if (!n)
		return -ENOMEM;
	headers = n;
	r = k8s_config_authorize(h->conn, h->curl, &headers);
	if (r) {
		snprintf(resp->message, sizeof(resp->message), "no credentials: %s", strerror(-r));
		wipe_headers(headers);
		return r;
	}
	curl_easy_setopt(h->curl, CURLOPT_URL, h->url.data);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ns / NS_PER_MS));
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	rc = drive(h, req, &abort_err);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	wipe_headers(headers);
	if (!resp->status)
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (abort_err) {
		snprintf(resp->message, sizeof(resp->message), "%s",
			 abort_err == -ECANCELED ? "stopped" : strerror(-abort_err));
		return abort_err;
	}
	if (h->mode == 2 || (resp->status && (resp->status < 200 || resp->status > 299))) {
		summarize(h);
		return -EIO;
	}
	if (h->body_err) {
		if (h->body_err == -EPROTO)
			snprintf(resp->message, sizeof(resp->message),
				 "content type \"%s\" is not application/json", resp->content_type);
		return h->body_err;
	}
	if (rc != CURLE_OK) {
		snprintf(resp->message, sizeof(resp->message), "%s",
			 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		return map_curl_error(rc);
	}
	if (h->mode == 0) {
		/* an empty 2xx body: nothing was checked yet */
		char *ct = NULL;
		curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(resp->content_type, sizeof(resp->content_type), "%s", ct ? ct : "");
		if (!is_json(resp->content_type)) {
			snprintf(resp->message, sizeof(resp->message),
				 "content type \"%s\" is not application/json", resp->content_type);
			return -EPROTO;
		}
	}
	return 0;
}
