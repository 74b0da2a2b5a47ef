/*
 * The decoder's state, private to pprof/, shared by its two files: decode.c (the entry
 * point, the first walk over the bytes, the resolution of ids) and decode_fields.c (the
 * second walk: every field into the tables), with the memory budget that every
 * allocation of a decode is charged against (see decode.c).
 */
#ifndef PODPROF_PPROF_DECODE_H
#define PODPROF_PPROF_DECODE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "profile.h"
#include "wire.h"

/* The rows' ids in input order; dense when they are 1..n (Go's writer does that), else
 * looked up by binary search in a copy sorted by id. A sort, not a hash table: ids come
 * from outside, and no choice of them makes it slower than linear to build. */
struct idmap {
	uint64_t *ids;
	size_t n;
	int dense;
	struct id_row {
		uint64_t id, index;
	} *sorted;
};

/* One decode: the profile being filled, the budget left, and what the first walk
 * counted that the second needs. */
struct dec {
	const struct pprof_limits *lim;
	struct pprof_profile *p;
	size_t len;          /* bytes of protobuf */
	size_t budget;       /* bytes the decoder may still allocate */
	size_t nstrings;     /* rows of the string table */
	size_t strings_read; /* of them, read so far */
	size_t ntypes;       /* sample types: values per sample */
	size_t depth;        /* most location ids per sample, lines per location */
	uint64_t locid_min, locid_max; /* of the samples' location ids */
	struct idmap maps, fns, locs;
	size_t pooled;       /* taken from lim->pool for the id maps */
};

#define BAD(...)                                                                          \
	do {                                                                              \
		log_debug("decode: " __VA_ARGS__);                                        \
		ret = -EPROTO;                                                            \
		goto out;                                                                 \
	} while (0)

/* Whether a field of Profile may have wire type wt (any, for a field it does not have). */
static inline int profile_wire_type_ok(uint32_t f, unsigned wt)
{
	if (f <= PROFILE_STRING_TABLE || f == PROFILE_PERIOD_TYPE)
		return wt == WT_LEN;
	if (f == PROFILE_COMMENT) /* packed or not */
		return wt == WT_LEN || wt == WT_VARINT;
	return f > PROFILE_DEFAULT_SAMPLE_TYPE || wt == WT_VARINT;
}

/* Takes size bytes from d's budget; -E2BIG when they are not left. */
int pprof_decode_charge(struct dec *d, size_t size);
/* Makes room for n more bytes in table t, charging the growth to d's budget first. */
int pprof_decode_reserve(struct dec *d, struct buf *t, size_t n);

/* Appends a row to table t. */
static inline int push(struct dec *d, struct buf *t, const void *row, size_t size)
{
	int ret = t->cap - t->len > size ? 0 : pprof_decode_reserve(d, t, size);

	if (!ret) {
		memcpy(t->data + t->len, row, size);
		t->len += size;
		t->data[t->len] = '\0';
	}
	return ret;
}

/* Room for one more row of size bytes at the end of table t, written in place and
 * then counted with pushed(); NULL with *ret set when there is none. */
static inline void *next_row(struct dec *d, struct buf *t, size_t size, int *ret)
{
	if (t->cap - t->len <= size && (*ret = pprof_decode_reserve(d, t, size)))
		return NULL;
	return t->data + t->len;
}

static inline void pushed(struct buf *t, size_t size)
{
	t->len += size;
	t->data[t->len] = '\0';
}

static inline int str_ok(const struct dec *d, uint64_t idx)
{
	/* int64 on the wire: a negative index reads as a huge one */
	return idx < d->nstrings;
}

/* The second walk: parses the Profile in [p, end) into d's tables, which the first walk
 * allocated, checking string indexes and limits; ids stay as the input has them. */
int pprof_decode_fields(struct dec *d, const uint8_t *p, const uint8_t *end);

#endif
