/*
 * Clocks, Go-style durations and human sizes.
 */
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t time_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

void time_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / NS_PER_SEC, .tv_nsec = ns % NS_PER_SEC};
	if (ns <= 0)
		return;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
	{"ms", NS_PER_MS}, {"s", NS_PER_SEC}, {"m", 60 * NS_PER_SEC},
	{"h", 3600 * NS_PER_SEC},
};

/*
 * Go's grammar: [0-9]*(\.[0-9]*)?unit, repeated; "0" alone needs no unit. The fraction
 * is accumulated in nanoseconds of its unit, so "1.5h" is exact.
 */
int time_parse_duration(const char *s, int64_t *out_ns)
{
	__int128 total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*out_ns = 0;
		return 0;
	}
	while (*p) {
		__int128 whole = 0, frac = 0, frac_scale = 1;
		int digits = 0;
		size_t best = 0;
		int64_t unit = 0;

		while (isdigit((unsigned char)*p)) {
			whole = whole * 10 + (*p++ - '0');
			digits++;
			if (whole > INT64_MAX)
				return -ERANGE;
		}
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				if (frac_scale < INT64_C(1000000000000000000)) {
					frac = frac * 10 + (*p - '0');
					frac_scale *= 10;
				}
				p++;
				digits++;
			}
		}
		if (digits == 0)
			return -EINVAL;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].name);
			if (l > best && strncmp(p, units[i].name, l) == 0) {
				best = l;
				unit = units[i].ns;
			}
		}
		if (best == 0)
			return -EINVAL;
		p += best;
		total += whole * unit + frac * unit / frac_scale;
		if (total > INT64_MAX)
			return -ERANGE;
	}
	*out_ns = (int64_t)total;
	return 0;
}

void time_format_duration(int64_t ns, char *out, size_t outlen)
{
	int64_t h, m, s, rest;

	if (ns == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	if (ns < NS_PER_SEC) {
		/* Go's form: the largest unit below a second, with the fraction it needs */
		static const struct {
			int64_t div;
			const char *unit;
		} small[] = {{NS_PER_MS, "ms"}, {1000, "us"}, {1, "ns"}};
		for (size_t i = 0; i < 3; i++) {
			if (ns >= small[i].div) {
				char frac[16] = "";
				int64_t part = ns % small[i].div;
				if (part) {
					int k = snprintf(frac, sizeof(frac), ".%0*lld",
							 small[i].div == NS_PER_MS ? 6 : 3, (long long)part);
					while (k > 0 && frac[k - 1] == '0')
						frac[--k] = '\0';
				}
				snprintf(out, outlen, "%lld%s%s", (long long)(ns / small[i].div), frac,
					 small[i].unit);
				return;
			}
		}
	}
	h = ns / (3600 * NS_PER_SEC);
	rest = ns % (3600 * NS_PER_SEC);
	m = rest / (60 * NS_PER_SEC);
	rest %= 60 * NS_PER_SEC;
	s = rest / NS_PER_SEC;
	rest %= NS_PER_SEC;
	{
		char sec[48];
		if (rest == 0)
			snprintf(sec, sizeof(sec), "%llds", (long long)s);
		else {
			char frac[16];
			int k = snprintf(frac, sizeof(frac), "%09lld", (long long)rest);
			while (k > 0 && frac[k - 1] == '0')
				frac[--k] = '\0';
			snprintf(sec, sizeof(sec), "%lld.%ss", (long long)s, frac);
		}
		if (h)
			snprintf(out, outlen, "%lldh%lldm%s", (long long)h, (long long)m, sec);
		else if (m)
			snprintf(out, outlen, "%lldm%s", (long long)m, sec);
		else
			snprintf(out, outlen, "%s", sec);
	}
}

int size_parse(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} sfx[] = {
		{"", 1},
		{"b", 1},
		{"k", 1024},
		{"kb", 1000},
		{"kib", 1024},
		{"m", 1024 * 1024},
		{"mb", 1000 * 1000},
		{"mib", 1024 * 1024},
		{"g", 1024ull * 1024 * 1024},
		{"gb", 1000ull * 1000 * 1000},
		{"gib", 1024ull * 1024 * 1024},
	};
	unsigned __int128 v = 0;
	const char *p = s;
	char lower[8];
	size_t n;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > UINT64_MAX)
			return -ERANGE;
	}
	n = strlen(p);
	if (n >= sizeof(lower))
		return -EINVAL;
	/* n < sizeof(lower): the copy ends at p's NUL, within lower */
	for (size_t i = 0; i < sizeof(lower); i++) {
		lower[i] = (char)tolower((unsigned char)p[i]);
		if (!p[i])
			break;
	}
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(lower, sfx[i].suffix) == 0) {
			v *= sfx[i].mult;
			if (v > UINT64_MAX)
				return -ERANGE;
			*out = (uint64_t)v;
			return 0;
		}
	}
	return -EINVAL;
}
