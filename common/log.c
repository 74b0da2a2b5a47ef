/*
 * Logging implementation. A line is formatted into a stack buffer and written with
 * one write(2) so that lines from different threads never interleave; control
 * characters in the message are escaped, so that one call is always one line.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

_Atomic int log_threshold = LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

int log_parse_level(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"error", LOG_ERROR}, {"warn", LOG_WARN}, {"warning", LOG_WARN},
		     {"info", LOG_INFO},   {"debug", LOG_DEBUG}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(name, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Appends msg to line[n..cap) with control characters escaped ("\n", "\x1b"): names
 * and values logged come from outside (pods, annotations, processes, servers), and a
 * newline in one must not forge a log line of its own, nor an escape sequence drive
 * the terminal of whoever reads the log. Returns the new length; past cap - 1 the
 * text is cut (the caller marks it).
 */
static size_t escape(char *line, size_t n, size_t cap, const char *msg, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len && n < cap; i++) {
		unsigned char c = (unsigned char)msg[i];
		char esc[4];
		size_t k = 0;

		if (c >= 0x20 && c != 0x7f) {
			line[n++] = (char)c;
			continue;
		}
		esc[k++] = '\\';
		if (c == '\n') {
			esc[k++] = 'n';
		} else if (c == '\r') {
			esc[k++] = 'r';
		} else if (c == '\t') {
			esc[k++] = 't';
		} else {
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		}
		if (n + k + 1 >= cap) {
			n = cap; /* cut: no half escape */
			break;
		}
		memcpy(line + n, esc, k);
		n += k;
	}
	return n;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
	char line[2048], msg[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000L,
		     level_names[level], module);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r > 0)
		n = escape(line, n, sizeof(line), msg, (size_t)r < sizeof(msg) ? (size_t)r
									  : sizeof(msg) - 1);
	if (n > sizeof(line) - 2) {
		/* truncated: mark it so that nobody mistakes it for the whole message */
		n = sizeof(line) - 2;
		memcpy(line + n - 3, "...", 3);
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

int log_ratelimit_allow(struct log_ratelimit *rl, int64_t interval_ns)
{
	int64_t now = time_mono_ns();
	int64_t next = atomic_load(&rl->next_ns);

	if (now < next)
		return 0;
	return atomic_compare_exchange_strong(&rl->next_ns, &next, now + interval_ns);
}
