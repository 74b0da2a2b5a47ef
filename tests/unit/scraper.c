/*
 * Unit tests of the scraper's pure parts: the schedule (each target's offset inside the
 * interval and its next due time), the profile type list, and the URL of each profile
 * type (the seconds parameter set once, never twice, and never on cumulative types).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "scraper.h"
#include "testing.h"

#define SEC NS_PER_SEC

TEST(offset_in_range_and_stable)
{
	const int64_t intervals[] = {1, 7, SEC, 15 * SEC, 60 * SEC, 3600 * SEC};
	char id[64];

	for (size_t k = 0; k < ARRAY_SIZE(intervals); k++) {
		for (int i = 0; i < 2000; i++) {
			int64_t o;
			snprintf(id, sizeof(id), "uid-%d/10.0.%d.%d:6060", i, i / 256, i % 256);
			o = scrape_offset(id, intervals[k]);
			CHECK_MSG(o >= 0 && o < intervals[k], "%s: %lld of %lld", id, (long long)o,
				  (long long)intervals[k]);
			/* the same id always lands on the same offset */
			CHECK_EQ(o, scrape_offset(id, intervals[k]));
		}
	}
	CHECK_EQ(scrape_offset("x", 0), 0);
	CHECK_EQ(scrape_offset("x", -5), 0);
}

TEST(offset_spread)
{
	/* 10,000 targets over a 15 s interval in 15 one-second slots: each slot gets its
	 * share within 15% (a hash that clusters would start hundreds of scrapes at once) */
	enum { N = 10000, SLOTS = 15 };
	int slots[SLOTS] = {0}, distinct = 0;
	static int64_t seen[N];
	char id[64];

	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "http://10.%d.%d.%d:6060/debug/pprof", i / 65536,
			 (i / 256) % 256, i % 256);
		seen[i] = scrape_offset(id, 15 * SEC);
		slots[seen[i] / SEC]++;
	}
	for (int k = 0; k < SLOTS; k++)
		CHECK_MSG(slots[k] > N / SLOTS * 85 / 100 && slots[k] < N / SLOTS * 115 / 100,
			  "slot %d has %d of %d", k, slots[k], N);
	/* and nearly every target has an offset of its own */
	for (int i = 0; i < N; i++) {
		int dup = 0;
		for (int k = i + 1; k < N && !dup && k < i + 50; k++)
			dup = seen[k] == seen[i];
		distinct += !dup;
	}
	CHECK_MSG(distinct > N * 99 / 100, "%d distinct of %d", distinct, N);
}

TEST(next_due)
{
	const int64_t interval = 15 * SEC;

	/* the first slot at or after now, on the target's own phase */
	for (int64_t now = 1; now < 100 * SEC; now += 333333337) {
		for (int64_t offset = 0; offset < interval; offset += 1234567891) {
			int64_t due = scrape_next_due(now, interval, offset);
			CHECK_MSG(due >= now && due < now + interval, "now %lld offset %lld: %lld",
				  (long long)now, (long long)offset, (long long)due);
			CHECK_EQ(due % interval, offset);
		}
	}
	/* exactly on a slot: now; one past it: the next one */
	CHECK_EQ(scrape_next_due(30 * SEC + 5, interval, 5), 30 * SEC + 5);
	CHECK_EQ(scrape_next_due(30 * SEC + 6, interval, 5), 45 * SEC + 5);
	/* successive slots are exactly one interval apart, whatever the loop's lateness */
	{
		int64_t due = scrape_next_due(1000, interval, 7 * SEC);
		for (int i = 0; i < 20; i++) {
			int64_t late = due + (i * 97) % (interval / 2);
			int64_t next = scrape_next_due(late + 1, interval, 7 * SEC);
			CHECK_EQ(next, due + interval);
			due = next;
		}
	}
	/* no interval: due now */
	CHECK_EQ(scrape_next_due(42, 0, 3), 42);
	/* a monotonic clock far from zero (days of uptime) */
	{
		int64_t now = INT64_C(86400) * 400 * SEC + 17;
		int64_t due = scrape_next_due(now, 60 * SEC, 59 * SEC);
		CHECK(due >= now && due < now + 60 * SEC && due % (60 * SEC) == 59 * SEC);
	}
}

TEST(types_parse)
{
	unsigned t = 0;

	CHECK_EQ(scrape_types_parse("cpu,heap,block,mutex,goroutine", &t), 0);
	CHECK_EQ(t, SCRAPE_ALL_TYPES);
	CHECK_EQ(scrape_types_parse("heap", &t), 0);
	CHECK_EQ(t, SCRAPE_HEAP);
	CHECK_EQ(scrape_types_parse(" cpu , goroutine ", &t), 0);
	CHECK_EQ(t, SCRAPE_CPU | SCRAPE_GOROUTINE);
	CHECK_EQ(scrape_types_parse("mutex,mutex,block", &t), 0);
	CHECK_EQ(t, SCRAPE_MUTEX | SCRAPE_BLOCK);
	CHECK_EQ(scrape_types_parse("heap,", &t), 0);
	CHECK_EQ(t, SCRAPE_HEAP);

	/* errors leave *out alone */
	t = 12345;
	CHECK_EQ(scrape_types_parse("", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse(",", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("cpu,,heap", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("cpu,memory", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("CPU", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("he", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("heapx", &t), -EINVAL);
	CHECK_EQ(scrape_types_parse("allocs", &t), -EINVAL);
	CHECK_EQ(t, 12345);

	CHECK_STR(scrape_type_name(SCRAPE_CPU), "cpu");
	CHECK_STR(scrape_type_name(SCRAPE_HEAP), "heap");
	CHECK_STR(scrape_type_name(SCRAPE_BLOCK), "block");
	CHECK_STR(scrape_type_name(SCRAPE_MUTEX), "mutex");
	CHECK_STR(scrape_type_name(SCRAPE_GOROUTINE), "goroutine");
	CHECK_STR(scrape_type_name(SCRAPE_CPU | SCRAPE_HEAP), "?");
	CHECK_STR(scrape_type_name(0), "?");
}

/* Occurrences of needle in s. */
static int count(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

TEST(url_paths)
{
	const char *base = "http://10.1.2.3:6060/debug/pprof";
	char url[256];

	CHECK_EQ(scrape_url(base, SCRAPE_CPU, 0, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/profile?seconds=14");
	CHECK_EQ(scrape_url(base, SCRAPE_HEAP, 0, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/heap");
	CHECK_EQ(scrape_url(base, SCRAPE_HEAP, 1, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/delta_heap");
	CHECK_EQ(scrape_url(base, SCRAPE_BLOCK, 0, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/block");
	CHECK_EQ(scrape_url(base, SCRAPE_BLOCK, 1, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/delta_block");
	CHECK_EQ(scrape_url(base, SCRAPE_MUTEX, 0, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/mutex");
	CHECK_EQ(scrape_url(base, SCRAPE_MUTEX, 1, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/delta_mutex");
	CHECK_EQ(scrape_url(base, SCRAPE_GOROUTINE, 0, 14, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/goroutine");
	/* CPU and goroutine have no godeltaprof form */
	CHECK_EQ(scrape_url(base, SCRAPE_CPU, 1, 5, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/profile?seconds=5");
	CHECK_EQ(scrape_url(base, SCRAPE_GOROUTINE, 1, 5, url, sizeof(url)), 0);
	CHECK_STR(url, "http://10.1.2.3:6060/debug/pprof/goroutine");
	/* another base path */
	CHECK_EQ(scrape_url("https://[fd00::1]:8443/internal/pprof", SCRAPE_CPU, 0, 10, url,
			    sizeof(url)), 0);
	CHECK_STR(url, "https://[fd00::1]:8443/internal/pprof/profile?seconds=10");
}

TEST(url_seconds_once)
{
	char url[256];

	/* a base that already carries seconds (a user's URL, a previous attempt): the CPU
	 * URL holds it once, with the configured value */
	CHECK_EQ(scrape_url("http://h:1/debug/pprof?seconds=30", SCRAPE_CPU, 0, 9, url,
			    sizeof(url)), 0);
	CHECK_STR(url, "http://h:1/debug/pprof/profile?seconds=9");
	CHECK_EQ(count(url, "seconds="), 1);
	CHECK_EQ(scrape_url("http://h:1/debug/pprof?seconds=30&seconds=40", SCRAPE_CPU, 0, 9, url,
			    sizeof(url)), 0);
	CHECK_EQ(count(url, "seconds="), 1);
	/* other parameters stay, in order */
	CHECK_EQ(scrape_url("http://h:1/debug/pprof?token=a%20b&seconds=3&x=", SCRAPE_CPU, 0, 9,
			    url, sizeof(url)), 0);
	CHECK_STR(url, "http://h:1/debug/pprof/profile?token=a%20b&x=&seconds=9");
	/* never on cumulative types: heap?seconds=N makes Go answer a delta of its own */
	CHECK_EQ(scrape_url("http://h:1/debug/pprof?seconds=30", SCRAPE_HEAP, 0, 9, url,
			    sizeof(url)), 0);
	CHECK_STR(url, "http://h:1/debug/pprof/heap");
	CHECK_EQ(scrape_url("http://h:1/debug/pprof?a=1&seconds=30&b=2", SCRAPE_MUTEX, 1, 9, url,
			    sizeof(url)), 0);
	CHECK_STR(url, "http://h:1/debug/pprof/delta_mutex?a=1&b=2");
	/* names that merely start with "seconds" are other parameters */
	CHECK_EQ(scrape_url("http://h:1/p?secondsx=1&seconds", SCRAPE_CPU, 0, 2, url, sizeof(url)),
		 0);
	CHECK_STR(url, "http://h:1/p/profile?secondsx=1&seconds=2");
	/* empty parameters and a fragment go */
	CHECK_EQ(scrape_url("http://h:1/p?&&a=1&#frag", SCRAPE_GOROUTINE, 0, 2, url, sizeof(url)),
		 0);
	CHECK_STR(url, "http://h:1/p/goroutine?a=1");
	CHECK_EQ(scrape_url("http://h:1/p#frag", SCRAPE_CPU, 0, 2, url, sizeof(url)), 0);
	CHECK_STR(url, "http://h:1/p/profile?seconds=2");
	/* the same URL whatever number of times it is built */
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(scrape_url("http://h:1/p", SCRAPE_CPU, 0, 14, url, sizeof(url)), 0);
		CHECK_EQ(count(url, "seconds="), 1);
	}
}

TEST(url_too_long)
{
	char big[3000], url[2048];

	memset(big, 'a', sizeof(big));
	memcpy(big, "http://h/", 9);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(scrape_url(big, SCRAPE_HEAP, 0, 1, url, sizeof(url)), -ENAMETOOLONG);
	/* the suffix alone overflows */
	CHECK_EQ(scrape_url("http://h:1/debug/pprof", SCRAPE_CPU, 0, 10, url, 30), -ENAMETOOLONG);
	CHECK_EQ(scrape_url("http://h:1/debug/pprof", SCRAPE_CPU, 0, 10, url, 41), -ENAMETOOLONG);
	CHECK_EQ(scrape_url("http://h:1/d?averyverylongparameter=1", SCRAPE_HEAP, 0, 10, url, 24),
		 -ENAMETOOLONG);
	/* exactly fitting */
	CHECK_EQ(scrape_url("http://h:1/d", SCRAPE_CPU, 0, 10, url, 32), 0);
	CHECK_STR(url, "http://h:1/d/profile?seconds=10");
}
