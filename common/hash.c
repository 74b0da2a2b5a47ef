/*
 * A word-at-a-time multiply-mix hash (eight bytes per step, tail bytes packed into a
 * final word) with the splitmix64 finaliser, which gives well-spread low bits for table
 * indexing and modulo sharding. Keys here are short strings and PC lists on hot paths
 * (profile building, symbol caches), where a byte-at-a-time hash was the bottleneck.
 */
#include "hash.h"

#include <string.h>

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t hash64(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = mix(seed + n + UINT64_C(0x9e3779b97f4a7c15));
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	/* the tail, little-endian, so that the value does not depend on the host */
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w ^ ((uint64_t)n << 56)) * UINT64_C(0xc4ceb9fe1a85ec53);
	return mix(h);
}

uint64_t hash64_u64(uint64_t v, uint64_t seed)
{
	return mix(seed ^ mix(v + UINT64_C(0x9e3779b97f4a7c15)));
}
