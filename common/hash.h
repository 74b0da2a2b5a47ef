/*
 * Non-cryptographic hashing for keys podprof computes itself (stack keys, target
 * offsets, shard assignment). Stable across runs and machines: values derived from it
 * (a target's offset in the interval, its shard) must not change when the agent restarts.
 */
#ifndef PODPROF_HASH_H
#define PODPROF_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of n bytes, continuing from seed (use 0 to start). */
uint64_t hash64(const void *data, size_t n, uint64_t seed);
/* Mixes one 64-bit value into a running hash. */
uint64_t hash64_u64(uint64_t v, uint64_t seed);

#endif
