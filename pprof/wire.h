/*
 * The protobuf wire format as profile.proto uses it, private to pprof/: varints, tags
 * and lengths, read from untrusted bytes (decode.c, decode_fields.c) and written
 * (encode.c).
 *
 * Every Profile field is a varint, a packed run of varints or a length-delimited
 * submessage or string, so only wire types 0 and 2 are ever produced; reading also
 * skips the fixed-size types 1 and 5 of fields it does not know. Groups (3, 4) and the
 * undefined types 6 and 7 are errors, as they are for Go's pprof reader and protobuf-c.
 *
 * The readers take a cursor (*pp) and the end of the enclosing message and never read
 * past it; they return 0 or -EBADMSG. Varints of one and two bytes are read inline:
 * they are nearly all tags, ids and values of a Go profile.
 */
#ifndef PODPROF_PPROF_WIRE_H
#define PODPROF_PPROF_WIRE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_I32 = 5,
};

/* Field numbers of profile.proto's messages. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_DROP_FRAMES = 7,
	PROFILE_KEEP_FRAMES = 8,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};

enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2, VALUE_TYPE_NFIELDS = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3, LABEL_NUM_UNIT = 4, LABEL_NFIELDS = 4 };
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,
	MAPPING_NFIELDS = 10,
};
enum {
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,
	LOCATION_IS_FOLDED = 5,
	LOCATION_NFIELDS = 5,
};
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2, LINE_COLUMN = 3, LINE_NFIELDS = 3 };
enum {
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
	FUNCTION_NFIELDS = 5,
};

/* The longest varint: 64 bits in 7-bit groups. */
#define VARINT_MAX 10

/* Field numbers are at most 2^29 - 1: a tag fits in 32 bits. */
#define TAG(field, wt) ((uint8_t)(((field) << 3) | (wt)))

/* A varint read: the byte after it, or NULL when the input is not a valid varint. It
 * is returned by value (two registers), so that a reading loop keeps its cursor in a
 * register instead of handing its address to the out-of-line case. */
struct wire_read {
	const uint8_t *next;
	uint64_t v;
};

/* Out of line: three bytes and more, with their bounds and overflow checks. */
__attribute__((noinline, unused)) static struct wire_read wire_read_slow(const uint8_t *p,
									  const uint8_t *end)
{
	struct wire_read r = {NULL, 0};

	for (unsigned shift = 0; shift < 7 * VARINT_MAX && p < end; shift += 7) {
		uint8_t b = *p++;

		/* The tenth byte holds bit 63 alone: more would not fit in 64 bits. */
		if (shift == 63 && b > 1)
			break;
		r.v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			r.next = p;
			break;
		}
	}
	return r;
}

static inline struct wire_read wire_read_varint(const uint8_t *p, const uint8_t *end)
{
	if (p < end && *p < 0x80)
		return (struct wire_read){p + 1, *p};
	/* two bytes: most ids and values of a profile with thousands of rows */
	if (end - p >= 2 && p[1] < 0x80)
		return (struct wire_read){p + 2, (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7};
	return wire_read_slow(p, end);
}

static inline int wire_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	struct wire_read r = wire_read_varint(*pp, end);

	if (!r.next)
		return -EBADMSG;
	*pp = r.next;
	*out = r.v;
	return 0;
}

/* Reads a tag: field number (never 0) and wire type. */
static inline int wire_tag(const uint8_t **pp, const uint8_t *end, uint32_t *field, unsigned *wt)
{
	uint64_t t;

	if (wire_varint(pp, end, &t) || t < 8 || t > UINT32_MAX)
		return -EBADMSG;
	*field = (uint32_t)(t >> 3);
	*wt = (unsigned)(t & 7);
	return 0;
}

/* Reads the length of a length-delimited field; it must fit in what is left. */
static inline int wire_len(const uint8_t **pp, const uint8_t *end, size_t *len)
{
	uint64_t n;

	if (wire_varint(pp, end, &n) || n > (uint64_t)(end - *pp))
		return -EBADMSG;
	*len = (size_t)n;
	return 0;
}

/* Skips the value of a field of wire type wt. */
static inline int wire_skip(const uint8_t **pp, const uint8_t *end, unsigned wt)
{
	size_t n;
	uint64_t v;

	switch (wt) {
	case WT_VARINT:
		return wire_varint(pp, end, &v);
	case WT_I64:
		n = 8;
		break;
	case WT_LEN:
		if (wire_len(pp, end, &n))
			return -EBADMSG;
		break;
	case WT_I32:
		n = 4;
		break;
	default:
		return -EBADMSG;
	}
	if (n > (size_t)(end - *pp))
		return -EBADMSG;
	*pp += n;
	return 0;
}

/* Varints in a packed run: the bytes that end one (high bit clear), counted eight at
 * a time (the multiply adds up the eight 0-or-1 bytes into the top byte). */
static inline size_t wire_varints_in(const uint8_t *p, const uint8_t *end)
{
	size_t n = 0;

	for (; end - p >= 8; p += 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w));
		w = (~w & UINT64_C(0x8080808080808080)) >> 7;
		n += (size_t)((w * UINT64_C(0x0101010101010101)) >> 56);
	}
	for (; p < end; p++)
		n += *p < 0x80;
	return n;
}

/* Bytes of the varint encoding of v (1..10). */
static inline size_t wire_varint_size(uint64_t v)
{
	unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);

	return (bits * 9 + 64) / 64;
}

/* Writes v as a varint at p; returns the byte after it. */
static inline uint8_t *wire_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

#endif
