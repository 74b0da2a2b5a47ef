/*
 * The one growable byte buffer of podprof, with a hard upper bound.
 *
 * Everything read from outside (HTTP bodies, decompressed data, files) is collected
 * into a buf whose max was chosen for that input; growing past it fails with -E2BIG
 * instead of allocating, so a hostile peer can never make us allocate without limit.
 * The data is always followed by a NUL byte (not counted in len) for text users.
 */
#ifndef PODPROF_BUF_H
#define PODPROF_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* bound on len; 0 means SIZE_MAX/2 */
};

/* Initialises an empty buffer that may hold up to max bytes (0: unbounded). */
void buf_init(struct buf *b, size_t max);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes. Returns 0, -E2BIG (bound) or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes. Returns 0, -E2BIG or -ENOMEM; on error b is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int buf_append_str(struct buf *b, const char *s);
/* Appends formatted text. Returns 0, -E2BIG or -ENOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the data out: the caller owns the returned pointer (free()); b becomes empty.
 * Returns a valid empty string rather than NULL when nothing was appended (or NULL on
 * allocation failure). */
char *buf_steal(struct buf *b, size_t *len);

#endif
