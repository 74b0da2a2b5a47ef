/*
 * Request paths of list and watch (see query.h).
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int k8s_query_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s && !r; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			r = buf_append(out, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			r = buf_append(out, e, 3);
		}
	}
	return r;
}

/* Appends "<sep>name=" and the escaped value. */
static int param(struct buf *out, int *first, const char *name, const char *value)
{
	int r = buf_printf(out, "%c%s=", *first ? '?' : '&', name);

	*first = 0;
	return r ? r : k8s_query_escape(out, value);
}

int k8s_query_build(struct buf *out, const struct k8s_query *q)
{
	int first = 1, r;
	char num[32];

	if (q->namespace && *q->namespace)
		r = buf_printf(out, "%s/namespaces/%s/%s", q->api, q->namespace, q->resource);
	else
		r = buf_printf(out, "%s/%s", q->api, q->resource);
	if (!r && q->watch)
		r = param(out, &first, "watch", "1");
	if (!r && q->send_initial_events)
		r = param(out, &first, "sendInitialEvents", "true");
	if (!r && q->send_initial_events)
		r = param(out, &first, "resourceVersionMatch", "NotOlderThan");
	if (!r && q->resource_version)
		r = param(out, &first, "resourceVersion", q->resource_version);
	if (!r && q->bookmarks)
		r = param(out, &first, "allowWatchBookmarks", "true");
	if (!r && q->timeout_s > 0) {
		snprintf(num, sizeof(num), "%d", q->timeout_s);
		r = param(out, &first, "timeoutSeconds", num);
	}
	if (!r && q->limit > 0) {
		snprintf(num, sizeof(num), "%d", q->limit);
		r = param(out, &first, "limit", num);
	}
	if (!r && q->continue_token && *q->continue_token)
		r = param(out, &first, "continue", q->continue_token);
	if (!r && q->field_selector && *q->field_selector)
		r = param(out, &first, "fieldSelector", q->field_selector);
	if (!r && q->label_selector && *q->label_selector)
		r = param(out, &first, "labelSelector", q->label_selector);
	return r;
}

char *k8s_field_selector(const char *node, const char *user)
{
	char *out = NULL;

	if (node && *node) {
		if (asprintf(&out, "spec.nodeName=%s%s%s", node, user && *user ? "," : "",
			     user && *user ? user : "") < 0) {
			errno = ENOMEM;
			return NULL;
		}
		return out;
	}
	if (user && *user) {
		out = strdup(user);
		if (!out)
			errno = ENOMEM;
		return out;
	}
	errno = 0;
	return NULL;
}

bool k8s_valid_namespace(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}
