/*
 * Bounded growable buffer. Capacity doubles (amortised O(1) append) but never beyond
 * the bound plus the terminating NUL. With a pool, the pool is asked for every growth
 * of the capacity before the allocation and gets the capacity back when it is freed.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
	b->pool = NULL;
}

void buf_init_pool(struct buf *b, size_t max, struct buf_pool *pool)
{
	buf_init(b, max);
	b->pool = pool;
}

void buf_free(struct buf *b)
{
	size_t cap = b->cap;

	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	/* given back once it is freed, not before: the next taker's memory and this
	 * would both be resident */
	if (b->pool && cap)
		b->pool->give(b->pool, cap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return -E2BIG;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if (b->pool) {
		int r = b->pool->take(b->pool, cap - b->cap);
		if (r)
			return r;
	}
	p = realloc(b->data, cap);
	if (!p) {
		if (b->pool)
			b->pool->give(b->pool, cap - b->cap);
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);
	if (r)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	if (b->pool && b->cap)
		b->pool->give(b->pool, b->cap);
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
