/*
 * Queued profiles: allocation in one block (so that the queue's byte count is what the
 * heap really holds, and freeing cannot leak a part), the Coroot query string, the
 * sanitising of names that end up in file names, and the small file helpers that the
 * spool and the directory sink share.
 */
#define LOG_MODULE "uploader"
#include "upload_item.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uploader.h"

/* The fields of an item but its query and body. */
static void init_item(struct upload_item *it, uint64_t seq, int64_t time_ns, const char *kind)
{
	memset(it, 0, sizeof(*it));
	list_init(&it->node);
	it->seq = seq;
	it->time_ns = time_ns;
	if (!kind || upload_sanitize_name(kind, it->kind, sizeof(it->kind)) == 0)
		strcpy(it->kind, "profile");
}

void upload_item_view(struct upload_item *view, uint64_t seq, int64_t time_ns,
		      const char *kind, const char *query, size_t query_len, const void *body,
		      size_t len)
{
	init_item(view, seq, time_ns, kind);
	view->query = (char *)query;
	view->query_len = query_len;
	view->body = (unsigned char *)body;
	view->len = len;
}

struct upload_item *upload_item_new(uint64_t seq, int64_t time_ns, const char *kind,
				    const char *query, size_t query_len, const void *body,
				    size_t len)
{
	struct upload_item *it;

	it = malloc(sizeof(*it) + query_len + 1 + len);
	if (!it)
		return NULL;
	init_item(it, seq, time_ns, kind);
	it->query = (char *)(it + 1);
	memcpy(it->query, query, query_len);
	it->query[query_len] = '\0';
	it->query_len = query_len;
	it->body = (unsigned char *)it->query + query_len + 1;
	if (len && body)
		memcpy(it->body, body, len);
	it->len = len;
	return it;
}

void upload_item_free(struct upload_item *it)
{
	free(it);
}

size_t upload_item_size(const struct upload_item *it)
{
	return sizeof(*it) + it->query_len + 1 + it->len;
}

/* Appends name=value (URL-encoded) to out, preceded by '&' unless out is empty. */
static int append_param(struct buf *out, const char *name, const char *value)
{
	char *n = NULL, *v = NULL;
	int r = -ENOMEM;

	n = curl_easy_escape(NULL, name, 0);
	v = curl_easy_escape(NULL, value ? value : "", 0);
	if (!n || !v)
		goto out;
	r = buf_printf(out, "%s%s=%s", out->len ? "&" : "", n, v);
out:
	curl_free(n);
	curl_free(v);
	return r;
}

int upload_query_build(const struct upload_meta *meta, struct buf *out)
{
	size_t start = out->len;
	int r = -EINVAL;

	if (!meta->service_name || !*meta->service_name)
		goto out;
	if (meta->nlabels && !meta->labels)
		goto out;
	r = append_param(out, "service.name", meta->service_name);
	for (size_t i = 0; !r && i < meta->nlabels; i++) {
		const struct upload_label *l = &meta->labels[i];

		/* Coroot keeps only parameters with exactly one value, so a second
		 * service.name would silently lose the service */
		if (!l->name || !*l->name || strcmp(l->name, "service.name") == 0) {
			r = -EINVAL;
			goto out;
		}
		r = append_param(out, l->name, l->value);
	}
	if (r)
		goto out;
	if (out->len - start > UPLOAD_QUERY_MAX) {
		r = -E2BIG;
		goto out;
	}
	r = 0;
out:
	if (r && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

size_t upload_sanitize_name(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return 0;
	for (; *s && n + 1 < outlen; s++) {
		char c = name_char((unsigned char)*s) ? *s : '_';

		if (c == '.' && n > 0 && out[n - 1] == '.')
			c = '_'; /* never "..": the name must not climb out of its directory */
		if (c == '_' && n > 0 && out[n - 1] == '_')
			continue;
		if (n == 0 && (c == '_' || c == '.'))
			continue; /* no hidden files, no leading separator noise */
		out[n++] = c;
	}
	while (n > 0 && (out[n - 1] == '_' || out[n - 1] == '.'))
		n--;
	out[n] = '\0';
	return n;
}

int upload_make_dirs(const char *path, unsigned mode)
{
	char tmp[UPLOAD_PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

ssize_t upload_read_all(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int upload_write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}
