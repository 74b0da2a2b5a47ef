/*
 * One queued profile as the uploader's modules see it: the URL query that carries its
 * service name and labels, its kind and time, and the gzip pprof body, in one
 * allocation. The memory queue links items; the spool writes them to disk and reads
 * them back; the sinks send or write them. Also the file helpers the spool and the
 * directory sink share. Private to agent/.
 */
#ifndef PODPROF_UPLOAD_ITEM_H
#define PODPROF_UPLOAD_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

struct upload_meta;

/* Bounds on what a producer may hand over. */
#define UPLOAD_QUERY_MAX (16 * 1024)          /* the encoded query string */
#define UPLOAD_BODY_MAX ((size_t)64 << 20)    /* one gzip pprof body */
#define UPLOAD_KIND_MAX 32                    /* kind, sanitised, with its NUL */

struct upload_item {
	struct list_node node; /* in the uploader's memory queue */
	uint64_t seq;          /* order of submission; survives in the spool file name */
	int64_t time_ns;       /* end of the profile's window (wall clock) */
	char kind[UPLOAD_KIND_MAX];
	int inflight;          /* being sent by the uploader thread */
	int overflow;          /* in flight while the bound needed its room: leaves
				  memory (spool or drop) unless it is delivered */
	size_t query_len;
	size_t len;
	char *query;           /* "service.name=...&name=value", NUL-terminated */
	unsigned char *body;
};

/*
 * Allocates an item holding copies of query (query_len bytes) and body (len bytes) in
 * one block; with body NULL the len bytes are left for the caller to fill. kind is
 * sanitised to [A-Za-z0-9._-] (empty becomes "profile"). Returns
 * NULL on allocation failure. The caller owns the item (upload_item_free).
 * Thread-safe.
 */
struct upload_item *upload_item_new(uint64_t seq, int64_t time_ns, const char *kind,
				    const char *query, size_t query_len, const void *body,
				    size_t len);

/*
 * Fills *view as an item that points at query and body instead of holding copies (for
 * writing a profile to the spool without copying it): the view owns nothing and must
 * not be freed, linked or outlive query and body. kind is sanitised as by
 * upload_item_new. Thread-safe.
 */
void upload_item_view(struct upload_item *view, uint64_t seq, int64_t time_ns,
		      const char *kind, const char *query, size_t query_len, const void *body,
		      size_t len);

/* Frees an item (NULL is ignored). */
void upload_item_free(struct upload_item *it);

/* Bytes the item holds in memory, as counted against the queue bound. */
size_t upload_item_size(const struct upload_item *it);

/*
 * Appends the Coroot query for meta to out: service.name first, then every label,
 * each name and value URL-encoded. Returns 0, -EINVAL (no service name, an empty
 * label name or a label named service.name) or -E2BIG (longer than
 * UPLOAD_QUERY_MAX). Thread-safe.
 */
int upload_query_build(const struct upload_meta *meta, struct buf *out);

/*
 * Copies s into out (outlen bytes, at least 2) keeping only [A-Za-z0-9._-]: any other
 * byte becomes '_', runs of '_' collapse, no ".." survives, leading and trailing '_'
 * and '.' are trimmed, and the result is cut to outlen - 1 bytes. Returns the length,
 * 0 when nothing is left (out is then empty). Thread-safe.
 */
size_t upload_sanitize_name(const char *s, char *out, size_t outlen);

/* Longest path the uploader builds (directories and file names included). */
#define UPLOAD_PATH_MAX 4096

/* Reads up to n bytes from fd (less only at the end of the file), restarting on EINTR.
 * Returns the count read or -errno. */
ssize_t upload_read_all(int fd, void *p, size_t n);

/* Writes n bytes to fd, restarting on EINTR and short writes. Returns 0 or -errno. */
int upload_write_all(int fd, const void *p, size_t n);

/* mkdir -p: creates path and its missing parents with mode. Returns 0 or -errno. */
int upload_make_dirs(const char *path, unsigned mode);

#endif
