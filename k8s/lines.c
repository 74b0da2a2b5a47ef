/*
 * The watch stream's line splitter (see lines.h).
 */
#include "lines.h"

#include <errno.h>
#include <string.h>

void k8s_lines_init(struct k8s_lines *l, size_t max)
{
	l->max = max;
	/* the partial copy never holds more than one line */
	buf_init(&l->partial, max ? max : 1);
}

void k8s_lines_reset(struct k8s_lines *l)
{
	/* a huge partial line must not keep its memory after the error */
	if (l->partial.cap > 65536)
		buf_free(&l->partial);
	else
		buf_reset(&l->partial);
}

void k8s_lines_free(struct k8s_lines *l)
{
	buf_free(&l->partial);
}

size_t k8s_lines_pending(const struct k8s_lines *l)
{
	return l->partial.len;
}

static int emit(const char *line, size_t len, k8s_line_fn fn, void *ctx)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return 0;
	return fn(ctx, line, len);
}

int k8s_lines_feed(struct k8s_lines *l, const char *data, size_t len, k8s_line_fn fn,
		   void *ctx)
{
	const char *p = data, *end = data + len;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l->partial.len + n > l->max) {
			k8s_lines_reset(l);
			return -E2BIG;
		}
		if (!nl) {
			r = buf_append(&l->partial, p, n);
			if (r) {
				k8s_lines_reset(l);
				return r == -E2BIG ? -E2BIG : -ENOMEM;
			}
			return 0;
		}
		if (l->partial.len) {
			r = buf_append(&l->partial, p, n);
			if (r) {
				k8s_lines_reset(l);
				return r == -E2BIG ? -E2BIG : -ENOMEM;
			}
			r = emit(l->partial.data, l->partial.len, fn, ctx);
			k8s_lines_reset(l);
		} else {
			r = emit(p, n, fn, ctx);
		}
		if (r)
			return r;
		p = nl + 1;
	}
	return 0;
}
