/*
 * Logging: leveled, module-tagged lines on stderr.
 *
 * Every line is "<RFC 3339 UTC time> <LEVEL> <module>: <message>". The macros check
 * the level before the arguments are evaluated or formatted, so a disabled debug line
 * costs one atomic load. A module sets LOG_MODULE before including this header.
 * Nothing secret (API keys, tokens, passwords) is ever passed to these functions.
 */
#ifndef PODPROF_LOG_H
#define PODPROF_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern _Atomic int log_threshold;

/* Sets the most verbose level written. Thread-safe. */
void log_set_level(enum log_level level);

/* Parses "error", "warn"/"warning", "info", "debug". Returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Writes one line; use the macros below instead. Thread-safe (one write(2) per line). */
void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifndef LOG_MODULE
#define LOG_MODULE "podprof"
#endif

#define log_at(level, ...)                                                        \
	do {                                                                      \
		if ((int)(level) <= atomic_load_explicit(&log_threshold,          \
							 memory_order_relaxed))   \
			log_write((level), LOG_MODULE, __VA_ARGS__);              \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

/*
 * A rate limiter for messages that could repeat every cycle ("logged once per
 * minute"). Zero-initialise it; log_ratelimit_allow() returns 1 at most once per
 * interval_ns and is thread-safe.
 */
struct log_ratelimit {
	_Atomic int64_t next_ns;
};
int log_ratelimit_allow(struct log_ratelimit *rl, int64_t interval_ns);

#endif
