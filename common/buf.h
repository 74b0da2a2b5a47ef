/*
 * The one growable byte buffer of podprof, with a hard upper bound.
 *
 * Everything read from outside (HTTP bodies, decompressed data, files) is collected
 * into a buf whose max was chosen for that input; growing past it fails with -E2BIG
 * instead of allocating, so a hostile peer can never make us allocate without limit.
 * The data is always followed by a NUL byte (not counted in len) for text users.
 *
 * A buffer may also draw its memory from a pool that several buffers share (the
 * scraper's budget for the responses it holds): the pool is asked before the buffer
 * grows, for the capacity it adds, and may refuse; what a buffer held goes back to the
 * pool when it is freed or its data is stolen.
 */
#ifndef PODPROF_BUF_H
#define PODPROF_BUF_H

#include <stddef.h>

struct buf_pool {
	/* Asked before a buffer's capacity grows by n bytes: 0 lets it grow, a negative
	 * errno (-ENOBUFS) refuses, and the growth fails with that error. May block. */
	int (*take)(struct buf_pool *pool, size_t n);
	/* n bytes of capacity that a buffer gave up. */
	void (*give)(struct buf_pool *pool, size_t n);
};

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* bound on len; 0 means SIZE_MAX/2 */
	struct buf_pool *pool; /* where the capacity is accounted, or NULL */
};

/* Initialises an empty buffer that may hold up to max bytes (0: unbounded). */
void buf_init(struct buf *b, size_t max);
/* The same, drawing its capacity from pool (which must outlive the buffer's memory). */
void buf_init_pool(struct buf *b, size_t max, struct buf_pool *pool);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes. Returns 0, -E2BIG (bound), the pool's refusal or
 * -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes. Returns 0 or buf_reserve's error; on error b is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int buf_append_str(struct buf *b, const char *s);
/* Appends formatted text. Returns 0, -E2BIG or -ENOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the data out: the caller owns the returned pointer (free()); b becomes empty
 * (and its pool has the capacity back: stolen memory is no longer accounted).
 * Returns a valid empty string rather than NULL when nothing was appended (or NULL on
 * allocation failure). */
char *buf_steal(struct buf *b, size_t *len);

#endif
