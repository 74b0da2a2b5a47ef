/*
 * Retry delays with full jitter (see backoff.h).
 */
#include "backoff.h"

#include <time.h>
#include <unistd.h>

#include "common.h"

static uint64_t next_random(struct k8s_backoff *b)
{
	/* xorshift64*: plenty for jitter, and private to the reflector's thread */
	uint64_t x = b->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * UINT64_C(2685821657736338717);
}

void k8s_backoff_init(struct k8s_backoff *b, int64_t min_ns, int64_t max_ns, int64_t reset_ns)
{
	b->min_ns = min_ns > 0 ? min_ns : 800 * NS_PER_MS;
	b->max_ns = max_ns > 0 ? max_ns : 30 * NS_PER_SEC;
	if (b->max_ns < b->min_ns)
		b->max_ns = b->min_ns;
	b->reset_ns = reset_ns > 0 ? reset_ns : 120 * NS_PER_SEC;
	b->ceiling_ns = 0;
	b->last_fail_ns = 0;
	b->rng = hash64_u64((uint64_t)time_real_ns() ^ ((uint64_t)getpid() << 32),
			    (uint64_t)(uintptr_t)b) | 1;
}

int64_t k8s_backoff_random(struct k8s_backoff *b, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(next_random(b) % (uint64_t)(hi - lo + 1));
}

void k8s_backoff_healthy(struct k8s_backoff *b, int64_t now_ns)
{
	if (b->ceiling_ns && now_ns - b->last_fail_ns >= b->reset_ns)
		b->ceiling_ns = 0;
}

int64_t k8s_backoff_next(struct k8s_backoff *b, int64_t now_ns)
{
	k8s_backoff_healthy(b, now_ns);
	if (!b->ceiling_ns)
		b->ceiling_ns = b->min_ns;
	else if (b->ceiling_ns < b->max_ns)
		b->ceiling_ns = b->ceiling_ns > b->max_ns / 2 ? b->max_ns : b->ceiling_ns * 2;
	b->last_fail_ns = now_ns;
	/* never below half the ceiling nor the minimum: a hammered server gets ever longer
	 * rests, whatever the draws */
	return k8s_backoff_random(b, b->ceiling_ns / 2 > b->min_ns ? b->ceiling_ns / 2 : b->min_ns,
				  b->ceiling_ns);
}
