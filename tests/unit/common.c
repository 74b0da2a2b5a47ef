/* Unit tests of common/: durations, sizes, the bounded buffer (and its pool), the list,
 * hashing and the log rate limiter. */
#include <errno.h>
#include <stdint.h>

#include "common.h"
#include "support.h"
#include "testing.h"

TEST(duration_parses_go_syntax)
{
	static const struct {
		const char *in;
		int64_t ns;
	} ok[] = {
		{"0", 0},
		{"10s", 10 * NS_PER_SEC},
		{"1m", 60 * NS_PER_SEC},
		{"1m30s", 90 * NS_PER_SEC},
		{"250ms", 250 * NS_PER_MS},
		{"1.5h", 5400 * NS_PER_SEC},
		{"2h45m", (2 * 3600 + 45 * 60) * NS_PER_SEC},
		{"100us", 100000},
		{"100\xc2\xb5s", 100000},
		{"7ns", 7},
		{".5s", 500 * NS_PER_MS},
		{"1.s", NS_PER_SEC},
		{"0s", 0},
	};
	static const char *const bad[] = {"", "10", "s", "-1s", "1x", "1s ", " 1s", "1..5s",
					  "abc", "5m1", "."};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int64_t ns = -1;
		CHECK_MSG(time_parse_duration(ok[i].in, &ns) == 0, "%s", ok[i].in);
		CHECK_EQ(ns, ok[i].ns);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t ns;
		CHECK_MSG(time_parse_duration(bad[i], &ns) == -EINVAL, "%s", bad[i]);
	}
	{
		int64_t ns;
		CHECK_EQ(time_parse_duration("9999999999h", &ns), -ERANGE);
		CHECK_EQ(time_parse_duration("99999999999999999999s", &ns), -ERANGE);
	}
}

TEST(duration_formats_like_go)
{
	char s[32];
	time_format_duration(0, s, sizeof(s));
	CHECK_STR(s, "0s");
	time_format_duration(90 * NS_PER_SEC, s, sizeof(s));
	CHECK_STR(s, "1m30s");
	time_format_duration(250 * NS_PER_MS, s, sizeof(s));
	CHECK_STR(s, "250ms");
	time_format_duration(3600 * NS_PER_SEC + 1500 * NS_PER_MS, s, sizeof(s));
	CHECK_STR(s, "1h0m1.5s");
	time_format_duration(10 * NS_PER_SEC, s, sizeof(s));
	CHECK_STR(s, "10s");
	time_format_duration(19998579, s, sizeof(s));
	CHECK_STR(s, "19.998579ms");
	time_format_duration(1500, s, sizeof(s));
	CHECK_STR(s, "1.5us");
	time_format_duration(7, s, sizeof(s));
	CHECK_STR(s, "7ns");
}

TEST(size_parses_suffixes)
{
	uint64_t v;
	CHECK(size_parse("1048576", &v) == 0 && v == 1048576);
	CHECK(size_parse("64MiB", &v) == 0 && v == 64ull << 20);
	CHECK(size_parse("64mb", &v) == 0 && v == 64000000ull);
	CHECK(size_parse("512k", &v) == 0 && v == 512ull << 10);
	CHECK(size_parse("1G", &v) == 0 && v == 1ull << 30);
	CHECK_EQ(size_parse("", &v), -EINVAL);
	CHECK_EQ(size_parse("-1", &v), -EINVAL);
	CHECK_EQ(size_parse("10 MiB", &v), -EINVAL);
	CHECK_EQ(size_parse("10TiB", &v), -EINVAL);
	CHECK_EQ(size_parse("99999999999999999999", &v), -ERANGE);
	CHECK_EQ(size_parse("99999999999999G", &v), -ERANGE);
}

TEST(buf_is_bounded)
{
	struct buf b;
	char *s;
	size_t n;

	buf_init(&b, 10);
	CHECK_EQ(buf_append(&b, "hello", 5), 0);
	CHECK_EQ(buf_printf(&b, "%d", 12345), 0);
	CHECK_EQ(b.len, 10);
	CHECK_STR(b.data, "hello12345");
	CHECK_EQ(buf_append(&b, "x", 1), -E2BIG);
	CHECK_EQ(buf_printf(&b, "x"), -E2BIG);
	CHECK_EQ(b.len, 10);
	CHECK_STR(b.data, "hello12345");
	CHECK_EQ(buf_append(&b, NULL, 0), 0);
	buf_reset(&b);
	CHECK_EQ(b.len, 0);
	CHECK_EQ(buf_append_str(&b, "ab"), 0);
	s = buf_steal(&b, &n);
	CHECK_EQ(n, 2);
	CHECK_STR(s, "ab");
	free(s);
	CHECK(b.data == NULL && b.len == 0);
	s = buf_steal(&b, &n);
	CHECK(s && n == 0 && s[0] == '\0');
	free(s);
	/* a huge request fails cleanly instead of overflowing */
	CHECK_EQ(buf_reserve(&b, SIZE_MAX), -E2BIG);
	buf_free(&b);
}

TEST(buf_grows_past_initial_capacity)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 100000; i++)
		CHECK_EQ(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ(b.len, 1000000);
	CHECK(b.data[b.len] == '\0');
	CHECK(memcmp(b.data + 999990, "0123456789", 10) == 0);
	buf_free(&b);
}

TEST(buf_draws_its_capacity_from_a_pool)
{
	struct test_pool c;
	struct buf b, other;
	char chunk[1000];
	size_t cap;
	char *s;

	test_pool_init(&c, 4096);
	memset(chunk, 'x', sizeof(chunk));
	buf_init_pool(&b, 0, &c.pool);
	CHECK_EQ(c.held, 0);
	/* every growth is asked for, and the pool holds the capacity, not the length */
	CHECK_EQ(buf_append(&b, chunk, 100), 0);
	CHECK_EQ(c.held, b.cap);
	CHECK_EQ(buf_append(&b, chunk, 1000), 0);
	CHECK_EQ(buf_append(&b, chunk, 1000), 0);
	CHECK_EQ(c.held, b.cap);
	CHECK(c.takes >= 2);
	/* a refusal fails the append with the pool's error and changes nothing */
	cap = b.cap;
	CHECK_EQ(buf_append(&b, chunk, 1000), 0);
	CHECK_EQ(buf_append(&b, chunk, 1000), -ENOBUFS);
	CHECK_EQ(b.len, 3100);
	CHECK(b.cap >= cap && c.held == b.cap);
	/* freeing gives it all back; so does stealing the data */
	buf_free(&b);
	CHECK_EQ(c.held, 0);
	CHECK_EQ(buf_append(&b, chunk, 10), 0);
	CHECK(c.held > 0);
	s = buf_steal(&b, NULL);
	CHECK_EQ(c.held, 0);
	free(s);
	/* a buffer without a pool asks nobody */
	buf_init(&other, 0);
	CHECK_EQ(buf_append(&other, chunk, 1000), 0);
	CHECK_EQ(c.held, 0);
	buf_free(&other);
}

struct item {
	int v;
	struct list_node node;
};

TEST(list_keeps_fifo_order)
{
	struct list_node head = LIST_INIT(head), *pos, *tmp;
	struct item items[5];
	int expect = 0;

	CHECK(list_empty(&head));
	for (int i = 0; i < 5; i++) {
		items[i].v = i;
		list_push_back(&head, &items[i].node);
	}
	list_remove(&items[2].node);
	list_for_each_safe(pos, tmp, &head)
	{
		struct item *it = list_entry(pos, struct item, node);
		if (expect == 2)
			expect++;
		CHECK_EQ(it->v, expect);
		expect++;
	}
	CHECK_EQ(list_entry(list_pop_front(&head), struct item, node)->v, 0);
	list_push_front(&head, &items[2].node);
	CHECK_EQ(list_entry(list_pop_front(&head), struct item, node)->v, 2);
	CHECK_EQ(list_entry(list_pop_front(&head), struct item, node)->v, 1);
	CHECK_EQ(list_entry(list_pop_front(&head), struct item, node)->v, 3);
	CHECK_EQ(list_entry(list_pop_front(&head), struct item, node)->v, 4);
	CHECK(list_pop_front(&head) == NULL);
}

TEST(hash_is_stable_and_spread)
{
	/* Values derived from the hash (shards, offsets) must not change between releases. */
	uint64_t a = hash64("podprof", 7, 0);
	int buckets[16] = {0};

	CHECK(a == hash64("podprof", 7, 0));
	CHECK(a != hash64("podprof", 7, 1));
	CHECK(a != hash64("podproF", 7, 0));
	CHECK(hash64("", 0, 0) != hash64("", 0, 1));
	for (int i = 0; i < 16000; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "pod-%d", i);
		buckets[hash64(key, (size_t)n, 0) % 16]++;
	}
	for (int i = 0; i < 16; i++)
		CHECK_MSG(buckets[i] > 850 && buckets[i] < 1150, "bucket %d has %d", i, buckets[i]);
}

TEST(log_ratelimit_allows_once_per_interval)
{
	struct log_ratelimit rl = {0};
	CHECK_EQ(log_ratelimit_allow(&rl, 50 * NS_PER_MS), 1);
	CHECK_EQ(log_ratelimit_allow(&rl, 50 * NS_PER_MS), 0);
	time_sleep_ns(60 * NS_PER_MS);
	CHECK_EQ(log_ratelimit_allow(&rl, 50 * NS_PER_MS), 1);
	CHECK_EQ(log_ratelimit_allow(&rl, 50 * NS_PER_MS), 0);
}

TEST(log_level_names)
{
	enum log_level l;
	CHECK(log_parse_level("debug", &l) == 0 && l == LOG_DEBUG);
	CHECK(log_parse_level("WARNING", &l) == 0 && l == LOG_WARN);
	CHECK(log_parse_level("error", &l) == 0 && l == LOG_ERROR);
	CHECK_EQ(log_parse_level("verbose", &l), -EINVAL);
}
