/*
 * Clocks and the parsing of durations and sizes as users write them.
 *
 * Durations follow Go's time.ParseDuration ("10s", "1m30s", "250ms", "1.5h", "0"),
 * because every Coroot setting (PROFILES_SCRAPE_INTERVAL, ...) is written that way.
 * Sizes accept a plain byte count or a binary/decimal suffix ("64MiB", "1G", "512k").
 */
#ifndef PODPROF_TIMEUTIL_H
#define PODPROF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

/* Monotonic clock in nanoseconds. */
int64_t time_mono_ns(void);
/* Wall clock (Unix epoch) in nanoseconds. */
int64_t time_real_ns(void);

/* Parses a Go-style duration into *out_ns. Returns 0, or -EINVAL (malformed, negative
 * or a unit missing) or -ERANGE (overflows int64 nanoseconds). */
int time_parse_duration(const char *s, int64_t *out_ns);

/* Formats ns as a Go-style duration ("1m30s", "250ms", "0s") into out (>= 32 bytes). */
void time_format_duration(int64_t ns, char *out, size_t outlen);

/* Parses a size: "1048576", "512k", "64KiB", "10MB", "1G". Returns 0, -EINVAL or -ERANGE. */
int size_parse(const char *s, uint64_t *out);

/* Sleeps for ns nanoseconds (restarting on EINTR). */
void time_sleep_ns(int64_t ns);

#endif
