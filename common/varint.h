/*
 * Base-128 varints (protobuf's encoding) for compact state that podprof writes and reads
 * back itself: per-source delta baselines, per-process alloc counts. The reader trusts
 * its input (it never reads anything from outside: pprof/wire.h has the checked reader
 * for that), so it is a plain loop.
 */
#ifndef PODPROF_VARINT_H
#define PODPROF_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The longest varint: 64 bits in 7-bit groups. */
#define VARINT_MAX_BYTES 10

/* Writes v at p (room for VARINT_MAX_BYTES); returns the bytes written. */
static inline size_t varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Reads the varint at *p, which moves past it. */
static inline uint64_t varint_get(const unsigned char **p)
{
	uint64_t v = 0;
	int shift = 0;

	while (**p & 0x80) {
		v |= (uint64_t)(**p & 0x7f) << shift;
		(*p)++;
		shift += 7;
	}
	v |= (uint64_t)**p << shift;
	(*p)++;
	return v;
}

/* Signed values as varints, small magnitudes short (zigzag). */
static inline uint64_t varint_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t varint_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
