/*
 * One scrape request: the URL of a profile type, the libcurl options that bound it
 * (time, size, redirects, protocols), the credentials a target asked for, and the
 * classification of its outcome into an error a person can act on.
 */
#define LOG_MODULE "scraper"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAX_TOKEN_BYTES (64u << 10)
#define TOKEN_CHECK_INTERVAL (10 * NS_PER_SEC)
#define MAX_REDIRECTS 3L

const char *fetch_path(unsigned type, int godelta)
{
	switch (type) {
	case SCRAPE_CPU:
		return "/profile";
	case SCRAPE_HEAP:
		return godelta ? "/delta_heap" : "/heap";
	case SCRAPE_BLOCK:
		return godelta ? "/delta_block" : "/block";
	case SCRAPE_MUTEX:
		return godelta ? "/delta_mutex" : "/mutex";
	default:
		return "/goroutine";
	}
}

int scrape_url(const char *base, unsigned type, int godelta, int cpu_seconds, char *out,
	       size_t len)
{
	size_t path_len = strcspn(base, "?#"), w;
	const char *q = base[path_len] == '?' ? base + path_len + 1 : NULL;
	char sep = '?';
	int n;

	n = snprintf(out, len, "%.*s%s", (int)path_len, base, fetch_path(type, godelta));
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	w = (size_t)n;
	/* the base's own parameters stay, except seconds: CPU sets it once (alloy#3026),
	 * and on heap, block or mutex it would ask Go for a delta over that many seconds
	 * (pyroscope#3979) */
	while (q && *q && *q != '#') {
		size_t param_len = strcspn(q, "&#"), name_len = strcspn(q, "=&#");
		if (param_len && !(name_len == 7 && strncmp(q, "seconds", 7) == 0)) {
			n = snprintf(out + w, len - w, "%c%.*s", sep, (int)param_len, q);
			if (n < 0 || (size_t)n >= len - w)
				return -ENAMETOOLONG;
			w += (size_t)n;
			sep = '&';
		}
		q += param_len;
		if (*q == '&')
			q++;
	}
	if (type == SCRAPE_CPU) {
		n = snprintf(out + w, len - w, "%cseconds=%d", sep, cpu_seconds);
		if (n < 0 || (size_t)n >= len - w)
			return -ENAMETOOLONG;
	}
	return 0;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->headers);
	buf_free(&j->body);
	if (j->t) {
		pthread_mutex_lock(&j->s->lock);
		list_remove(&j->jobs);
		target_put(j->s, j->t);
		pthread_mutex_unlock(&j->s->lock);
	}
	free(j);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct job *j = ctx;
	int r = buf_append(&j->body, p, size * n);

	/* no memory in the budget now: curl keeps the bytes until the loop resumes it */
	if (r == -EAGAIN)
		return CURL_WRITEFUNC_PAUSE;
	/* past the bound or refused by the budget: stop the transfer (CURLE_WRITE_ERROR) */
	if (r)
		return 0;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct job *j = ctx;
	size_t len = size * n;

	if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
		size_t k = 13, w = 0;
		while (k < len && p[k] == ' ')
			k++;
		while (k < len && w + 1 < sizeof(j->content_type) && p[k] != '\r' && p[k] != '\n')
			j->content_type[w++] = p[k++];
		j->content_type[w] = '\0';
	}
	return len;
}

/* The bearer token, re-read when its file changes (bound service-account tokens rotate). */
static const char *bearer_token(struct scraper *s)
{
	const char *path = s->cfg.bearer_token_file;
	int64_t now = time_mono_ns();
	struct stat st;

	if (!path || !*path)
		return NULL;
	if (s->token && now - s->token_checked < TOKEN_CHECK_INTERVAL)
		return s->token;
	s->token_checked = now;
	if (stat(path, &st) == 0 && s->token && st.st_mtime == s->token_mtime)
		return s->token;
	{
		char *tok = malloc(MAX_TOKEN_BYTES + 1);
		ssize_t n = -1;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (tok && fd >= 0)
			n = read(fd, tok, MAX_TOKEN_BYTES);
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			if (log_ratelimit_allow(&s->token_log, 60 * NS_PER_SEC))
				log_error("cannot read the bearer token file %s: %s", path,
					  n < 0 ? strerror(errno) : "empty");
			free(tok);
			return s->token; /* keep the last good one */
		}
		while (n > 0 && isspace((unsigned char)tok[n - 1]))
			n--;
		tok[n] = '\0';
		free(s->token);
		s->token = tok;
		s->token_mtime = st.st_mtime;
	}
	return s->token;
}

int fetch_start(struct scraper *s, struct target *t, struct tstate *st)
{
	struct job *j = calloc(1, sizeof(*j));
	int64_t timeout = s->cfg.timeout_ns;
	int r;

	if (!j)
		return -ENOMEM;
	j->s = s;
	j->st = st;
	budget_job_init(s, j);
	/* godeltaprof endpoints are probed once per target, then remembered */
	j->godelta = st->type != SCRAPE_CPU && st->type != SCRAPE_GOROUTINE && st->godelta >= 0;
	if (st->type == SCRAPE_CPU)
		timeout += (int64_t)t->cpu_seconds * NS_PER_SEC;
	r = scrape_url(t->base_url, st->type, j->godelta, t->cpu_seconds, j->url, sizeof(j->url));
	if (r) {
		free(j);
		return r;
	}
	j->easy = curl_easy_init();
	if (!j->easy) {
		free(j);
		return -ENOMEM;
	}
	curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)(timeout / NS_PER_MS));
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)((s->cfg.timeout_ns < 5 * NS_PER_SEC ? s->cfg.timeout_ns
								   : 5 * NS_PER_SEC) /
				NS_PER_MS));
	/* an idle connection is kept for the next scrape of its target, and no longer:
	 * connections to a target that went away close two intervals later */
	curl_easy_setopt(j->easy, CURLOPT_MAXAGE_CONN,
			 (long)((2 * s->cfg.interval_ns + s->cfg.timeout_ns) / NS_PER_SEC + 1));
	/* a redirect loop or a redirect to another scheme ends quickly */
	curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(j->easy, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(j->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "podprof/" PODPROF_VERSION);
	/* Go's pprof endpoints gzip the body themselves; a proxy may add a Content-Encoding
	 * on top, which libcurl undoes: the bound of on_body applies to what it decodes,
	 * and a declared length over the bound stops the transfer before it starts */
	curl_easy_setopt(j->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(j->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->cfg.max_body_bytes);
	if (s->cfg.ca_file)
		curl_easy_setopt(j->easy, CURLOPT_CAINFO, s->cfg.ca_file);
	if (s->cfg.insecure_skip_verify) {
		curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->auth == SCRAPE_AUTH_BEARER) {
		const char *tok = bearer_token(s);
		if (tok) {
			size_t len = strlen(tok) + 32;
			char *h = malloc(len);
			if (h) {
				snprintf(h, len, "Authorization: Bearer %s", tok);
				j->headers = curl_slist_append(NULL, h);
				/* the header holds a secret: wipe our copy */
				memset(h, 0, len);
				free(h);
			}
			curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
		}
	} else if (t->auth == SCRAPE_AUTH_BASIC && s->cfg.basic_user) {
		curl_easy_setopt(j->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(j->easy, CURLOPT_USERNAME, s->cfg.basic_user);
		curl_easy_setopt(j->easy, CURLOPT_PASSWORD,
				 s->cfg.basic_password ? s->cfg.basic_password : "");
	}
	if (curl_multi_add_handle(s->multi, j->easy) != CURLM_OK) {
		curl_easy_cleanup(j->easy);
		curl_slist_free_all(j->headers);
		free(j);
		return -ENOMEM;
	}
	t->refs++;
	j->t = t;
	j->started = time_mono_ns();
	j->started_wall = time_real_ns();
	st->busy = 1;
	st->last_time = j->started_wall;
	if (st->type != SCRAPE_CPU)
		s->in_flight++;
	s->pending_jobs++;
	list_push_back(&s->flight, &j->node);
	list_push_back(&s->jobs, &j->jobs);
	return 0;
}

/* Marks a job's pair idle and accounts it as finished (lock held). */
static void finish_locked(struct scraper *s, struct job *j)
{
	j->st->busy = 0;
	s->pending_jobs--;
	pthread_cond_broadcast(&s->idle);
}

/* Takes a transfer off the flight list (lock held); its handle is out of the multi. */
static void detach_locked(struct scraper *s, struct job *j)
{
	list_remove(&j->node);
	if (j->st->type != SCRAPE_CPU)
		s->in_flight--;
	if (j->evict)
		s->evictions--;
	if (j->paused) {
		j->paused = 0;
		s->npaused--;
	}
}

/* Records a transfer's failure and frees it. */
static void fail(struct scraper *s, struct job *j, const char *result, const char *err,
		 int64_t duration)
{
	scrape_record(s, j->t, j->st, 0, result, err, duration, j->body.len);
	pthread_mutex_lock(&s->lock);
	finish_locked(s, j);
	pthread_mutex_unlock(&s->lock);
	job_free(j);
}

void fetch_budget_turn(struct scraper *s)
{
	struct list_node *pos, *tmp, gone;
	char err[SCRAPE_ERROR_LEN];
	int resume;

	list_init(&gone);
	pthread_mutex_lock(&s->lock);
	/* when memory came back, and now and then to let them see that none does */
	resume = s->buf_released ||
		 (s->npaused && time_mono_ns() - s->buf_resume_time >= BUDGET_STUCK_NS);
	s->buf_released = 0;
	if (resume)
		s->buf_resume_time = time_mono_ns();
	if (s->evictions) {
		list_for_each_safe(pos, tmp, &s->flight)
		{
			struct job *j = list_entry(pos, struct job, node);
			if (j->evict) {
				detach_locked(s, j);
				list_push_back(&gone, &j->node);
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	while (!list_empty(&gone)) {
		struct job *j = list_entry(list_pop_front(&gone), struct job, node);
		curl_multi_remove_handle(s->multi, j->easy);
		budget_failed(s, j, err, sizeof(err));
		fail(s, j, "too_large", err, time_mono_ns() - j->started);
	}
	if (!resume)
		return;
	/* only this thread changes the flight list; curl may call on_body from within
	 * curl_easy_pause, which pauses the transfer again when memory is still short */
	list_for_each_safe(pos, tmp, &s->flight)
	{
		struct job *j = list_entry(pos, struct job, node);
		int paused;

		pthread_mutex_lock(&s->lock);
		paused = j->paused;
		if (paused) {
			j->paused = 0;
			s->npaused--;
		}
		pthread_mutex_unlock(&s->lock);
		if (paused)
			curl_easy_pause(j->easy, CURLPAUSE_CONT);
	}
}

/* A short, printable excerpt of an error body ("cpu profiling already in use"). */
static void body_excerpt(const struct buf *b, char *out, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < b->len && w + 1 < len && w < 80; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\n' || c == '\r')
			break;
		out[w++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[w] = '\0';
}

/*
 * Did a request for a godeltaprof endpoint find one? Go's net/http/pprof answers 404 to
 * an unknown profile name, but a service with its own router may answer anything else
 * (a 200 HTML page from a catch-all route, 400, 401, an empty body). Only a 2xx gzip
 * body counts, as godeltaprof always compresses; whatever else comes back is taken as
 * "not served", so that the plain endpoint is used (and delta'd here) rather than a
 * probe that fails at every interval.
 */
static int godelta_found(const struct job *j)
{
	return j->status >= 200 && j->status <= 299 && pprof_is_gzip(j->body.data, j->body.len);
}

void fetch_done(struct scraper *s, CURLMsg *msg)
{
	struct job *j = NULL;
	char err[SCRAPE_ERROR_LEN];
	const char *result = NULL;
	int64_t duration;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
	curl_multi_remove_handle(s->multi, msg->easy_handle);
	j->result = msg->data.result;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->status);
	duration = time_mono_ns() - j->started;
	pthread_mutex_lock(&s->lock);
	detach_locked(s, j);
	pthread_mutex_unlock(&s->lock);

	/* refused memory, or asked to give way before the loop aborted it */
	if (budget_failed(s, j, err, sizeof(err))) {
		fail(s, j, "too_large", err, duration);
		return;
	}
	if (j->result == CURLE_OK && j->godelta && !godelta_found(j)) {
		/* no godeltaprof here: remember, and ask for the plain endpoint at once */
		pthread_mutex_lock(&s->lock);
		j->st->godelta = -1;
		finish_locked(s, j);
		if (!j->t->removed && fetch_start(s, j->t, j->st) != 0)
			j->st->busy = 0;
		pthread_mutex_unlock(&s->lock);
		job_free(j);
		return;
	}
	if (j->result == CURLE_WRITE_ERROR || j->result == CURLE_FILESIZE_EXCEEDED) {
		result = "too_large";
		snprintf(err, sizeof(err), "response larger than %zu bytes", s->cfg.max_body_bytes);
	} else if (j->result == CURLE_OPERATION_TIMEDOUT) {
		result = "timeout";
		snprintf(err, sizeof(err), "timed out after %.1f s (%zu bytes received%s)",
			 (double)duration / 1e9, j->body.len,
			 j->waited ? ", waiting for scrape buffer memory" : "");
	} else if (j->result == CURLE_TOO_MANY_REDIRECTS) {
		result = "http_error";
		snprintf(err, sizeof(err), "more than %ld redirects", MAX_REDIRECTS);
	} else if (j->result != CURLE_OK) {
		result = j->result == CURLE_PEER_FAILED_VERIFICATION || j->result == CURLE_SSL_CONNECT_ERROR
				 ? "tls_error"
				 : "network_error";
		snprintf(err, sizeof(err), "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(j->result));
	} else if (j->status < 200 || j->status > 299) {
		char excerpt[96];
		body_excerpt(&j->body, excerpt, sizeof(excerpt));
		result = "http_error";
		if (j->status == 404)
			snprintf(err, sizeof(err), "HTTP 404: no %s endpoint (is net/http/pprof "
				 "registered?)", fetch_path(j->st->type, j->godelta));
		else if (j->st->type == SCRAPE_CPU && j->status == 500 &&
			 strstr(excerpt, "already in use"))
			snprintf(err, sizeof(err), "HTTP 500: another client is running a CPU profile "
				 "(%s)", excerpt);
		else
			snprintf(err, sizeof(err), "HTTP %ld%s%s", j->status, excerpt[0] ? ": " : "",
				 excerpt);
	} else if (strncasecmp(j->content_type, "text/html", 9) == 0) {
		result = "invalid";
		snprintf(err, sizeof(err), "an HTML page (Content-Type %s), not a profile",
			 j->content_type);
	} else if (j->body.len == 0) {
		result = "invalid";
		snprintf(err, sizeof(err), "an empty response");
	}
	if (result) {
		fail(s, j, result, err, duration);
		return;
	}
	/* decoding, deltas and the upload happen on a worker; the loop goes on */
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	process_queue(s, j);
}
