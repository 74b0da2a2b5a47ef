/*
 * Unit tests of pprof/: the builder's deduplication, the read accessors, deep copies,
 * gzip, and the round trip builder -> encode -> decode -> encode.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pprof.h"
#include "support.h"
#include "testing.h"

TEST(strings_are_interned)
{
	struct pprof_builder *b = pprof_builder_new();
	int64_t a, a2, c;

	CHECK(b);
	CHECK_EQ(pprof_builder_string(b, ""), 0);
	CHECK_EQ(pprof_builder_string(b, NULL), 0);
	a = pprof_builder_string(b, "alloc_space");
	c = pprof_builder_string(b, "bytes");
	a2 = pprof_builder_string(b, "alloc_space");
	CHECK_EQ(a, 1);
	CHECK_EQ(c, 2);
	CHECK_EQ(a2, a);
	pprof_builder_free(b);
}

TEST(many_strings_stay_distinct_and_found)
{
	struct pprof_builder *b = pprof_builder_new();
	char s[32];

	CHECK(b);
	for (int i = 0; i < 200000; i++) {
		snprintf(s, sizeof(s), "fn%d", i);
		CHECK_EQ(pprof_builder_string(b, s), i + 1);
	}
	for (int i = 0; i < 200000; i += 7) {
		snprintf(s, sizeof(s), "fn%d", i);
		CHECK_EQ(pprof_builder_string(b, s), i + 1);
	}
	pprof_builder_free(b);
}

TEST(functions_are_deduplicated_by_all_fields)
{
	struct pprof_builder *b = pprof_builder_new();
	uint64_t f1, f2;

	CHECK(b);
	f1 = pprof_builder_function(b, "main.f", "main.f", "main.go", 10);
	CHECK_EQ(f1, 1);
	CHECK_EQ(pprof_builder_function(b, "main.f", "main.f", "main.go", 10), f1);
	f2 = pprof_builder_function(b, "main.f", "main.f", "main.go", 11);
	CHECK_EQ(f2, 2);
	CHECK_EQ(pprof_builder_function(b, "main.f", NULL, "main.go", 10), 3);
	CHECK_EQ(pprof_builder_function(b, "main.f", "main.f", "other.go", 10), 4);
	CHECK_EQ(pprof_builder_function(b, "main.g", "main.f", "main.go", 10), 5);
	CHECK_EQ(pprof_builder_function(b, "main.f", NULL, "main.go", 10), 3);
	pprof_builder_free(b);
}

TEST(locations_are_deduplicated_by_mapping_address_and_lines)
{
	struct pprof_mapping_info mi = {.memory_start = 0x400000, .memory_limit = 0x500000,
					.filename = "/bin/app", .has_functions = 1};
	struct pprof_builder *b = pprof_builder_new();
	uint64_t m, f, g, l1;

	CHECK(b);
	m = pprof_builder_mapping(b, &mi);
	CHECK_EQ(m, 1);
	f = pprof_builder_function(b, "f", NULL, "a.go", 1);
	g = pprof_builder_function(b, "g", NULL, "a.go", 5);
	{
		struct pprof_line one[] = {{f, 3}}, two[] = {{f, 3}, {g, 7}}, other[] = {{f, 4}};

		l1 = pprof_builder_location(b, m, 0x401000, one, 1);
		CHECK_EQ(l1, 1);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, one, 1), l1);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, two, 2), 2);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, other, 1), 3);
		CHECK_EQ(pprof_builder_location(b, m, 0x401004, one, 1), 4);
		CHECK_EQ(pprof_builder_location(b, 0, 0x401000, one, 1), 5);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, NULL, 0), 6);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, two, 2), 2);
		CHECK_EQ(pprof_builder_location(b, m, 0x401000, NULL, 0), 6);
	}
	/* References to what does not exist are refused. */
	{
		struct pprof_line bad[] = {{99, 1}}, zero[] = {{0, 1}};

		CHECK_EQ(pprof_builder_location(b, m, 0x1, bad, 1), 0);
		CHECK_EQ(pprof_builder_location(b, m, 0x1, zero, 1), 0);
		CHECK_EQ(pprof_builder_location(b, 7, 0x1, NULL, 0), 0);
	}
	pprof_builder_free(b);
}

TEST(hundred_thousand_locations)
{
	struct pprof_builder *b = pprof_builder_new();
	uint64_t f;

	CHECK(b);
	f = pprof_builder_function(b, "f", NULL, "a.go", 1);
	for (uint64_t i = 0; i < 100000; i++) {
		struct pprof_line ln = {f, (int64_t)(i % 1000)};

		CHECK_EQ(pprof_builder_location(b, 0, 0x1000 + i, &ln, 1), i + 1);
	}
	for (uint64_t i = 0; i < 100000; i += 3) {
		struct pprof_line ln = {f, (int64_t)(i % 1000)};

		CHECK_EQ(pprof_builder_location(b, 0, 0x1000 + i, &ln, 1), i + 1);
	}
	pprof_builder_free(b);
}

TEST(sample_errors)
{
	struct pprof_builder *b = pprof_builder_new();
	uint64_t f, l;
	int64_t v[2] = {1, 2};
	struct pprof_line ln;

	CHECK(b);
	CHECK_EQ(pprof_builder_add_sample_type(b, "samples", "count"), 0);
	CHECK_EQ(pprof_builder_add_sample_type(b, "cpu", "nanoseconds"), 0);
	f = pprof_builder_function(b, "f", NULL, "a.go", 1);
	ln = (struct pprof_line){f, 2};
	l = pprof_builder_location(b, 0, 0x10, &ln, 1);
	CHECK_EQ(pprof_builder_add_sample(b, &l, 1, v, 1, NULL, 0), -EINVAL);
	{
		uint64_t bad = l + 1, zero = 0;

		CHECK_EQ(pprof_builder_add_sample(b, &bad, 1, v, 2, NULL, 0), -EINVAL);
		CHECK_EQ(pprof_builder_add_sample(b, &zero, 1, v, 2, NULL, 0), -EINVAL);
	}
	{
		struct pprof_label nokey = {.str = "x"};

		CHECK_EQ(pprof_builder_add_sample(b, &l, 1, v, 2, &nokey, 1), -EINVAL);
	}
	CHECK_EQ(pprof_builder_add_sample(b, &l, 1, v, 2, NULL, 0), 0);
	/* The value count is fixed once there are samples. */
	CHECK_EQ(pprof_builder_add_sample_type(b, "more", "count"), -EINVAL);
	pprof_builder_free(b);
}

/* A small profile with inlined frames, labels, two mappings and everything settable. */
static struct pprof_profile *sample_profile(void)
{
	struct pprof_mapping_info mi = {0x400000, 0x500000, 0, "/bin/app", "abc123", 1, 1, 1, 1};
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	uint64_t m, f_main, f_work, f_inl, l_main, l_work, l_bare, stack[3];
	struct pprof_line lm, lw[2];
	struct pprof_label labels[2] = {{"bytes", NULL, 256, "bytes"},
					{"thread", "worker", 0, NULL}};
	int64_t v1[2] = {3, 300}, v2[2] = {5, 500};

	if (!b)
		return NULL;
	pprof_builder_add_sample_type(b, "alloc_objects", "count");
	pprof_builder_add_sample_type(b, "alloc_space", "bytes");
	pprof_builder_set_period(b, "space", "bytes", 524288);
	pprof_builder_set_default_sample_type(b, "alloc_space");
	pprof_builder_set_time(b, 1700000000000000000, 60000000000);
	pprof_builder_add_comment(b, "made by a test");
	m = pprof_builder_mapping(b, &mi);
	f_main = pprof_builder_function(b, "main.main", "main.main", "/src/main.go", 10);
	f_work = pprof_builder_function(b, "main.work", "main.work", "/src/work.go", 20);
	f_inl = pprof_builder_function(b, "main.inl", "main.inl", "/src/work.go", 40);
	lm = (struct pprof_line){f_main, 12};
	lw[0] = (struct pprof_line){f_inl, 41};
	lw[1] = (struct pprof_line){f_work, 25};
	l_main = pprof_builder_location(b, m, 0x401000, &lm, 1);
	l_work = pprof_builder_location(b, m, 0x402000, lw, 2);
	l_bare = pprof_builder_location(b, 0, 0x7f0000001234, NULL, 0);
	stack[0] = l_work;
	stack[1] = l_main;
	pprof_builder_add_sample(b, stack, 2, v1, 2, labels, 2);
	stack[0] = l_bare;
	stack[1] = l_work;
	stack[2] = l_main;
	pprof_builder_add_sample(b, stack, 3, v2, 2, labels + 1, 1);
	if (pprof_builder_finish(b, &p))
		p = NULL;
	pprof_builder_free(b);
	return p;
}

struct frames {
	char text[1024];
	size_t len;
	int stop_after;
};

static int collect_frame(void *ctx, const char *function, const char *file, int64_t line,
			 uint64_t address)
{
	struct frames *f = ctx;
	int n = snprintf(f->text + f->len, sizeof(f->text) - f->len, "%s %s:%lld@%llx;", function,
			 file, (long long)line, (unsigned long long)address);

	f->len += (size_t)n;
	return --f->stop_after == 0 ? 42 : 0;
}

TEST(reading_a_built_profile)
{
	struct pprof_profile *p = sample_profile();
	struct frames fr = {.stop_after = -1};
	const char *unit = NULL;

	CHECK(p);
	CHECK_EQ(pprof_sample_type_count(p), 2);
	CHECK_STR(pprof_sample_type(p, 0, &unit), "alloc_objects");
	CHECK_STR(unit, "count");
	CHECK_STR(pprof_sample_type(p, 1, &unit), "alloc_space");
	CHECK_STR(unit, "bytes");
	CHECK(pprof_sample_type(p, 2, &unit) == NULL);
	CHECK_EQ(pprof_sample_count(p), 2);
	CHECK_EQ(pprof_sample_values(p, 1)[1], 500);
	CHECK(pprof_sample_values(p, 2) == NULL);
	CHECK_EQ(pprof_value_total(p, 0), 8);
	CHECK_EQ(pprof_value_total(p, 1), 800);
	CHECK_EQ(pprof_value_total(p, 2), 0);
	CHECK_EQ(pprof_period(p), 524288);
	CHECK_EQ(pprof_time_ns(p), 1700000000000000000);
	CHECK_EQ(pprof_duration_ns(p), 60000000000);
	CHECK_EQ(pprof_sample_frames(p, 1, collect_frame, &fr), 0);
	CHECK_STR(fr.text, " :0@7f0000001234;main.inl /src/work.go:41@402000;"
			   "main.work /src/work.go:25@402000;main.main /src/main.go:12@401000;");
	fr = (struct frames){.stop_after = 2};
	CHECK_EQ(pprof_sample_frames(p, 1, collect_frame, &fr), 42);
	CHECK_STR(fr.text, " :0@7f0000001234;main.inl /src/work.go:41@402000;");
	CHECK_EQ(pprof_sample_frames(p, 2, collect_frame, &fr), -EINVAL);
	pprof_set_time(p, 5, 6);
	CHECK_EQ(pprof_time_ns(p), 5);
	CHECK_EQ(pprof_duration_ns(p), 6);
	pprof_profile_free(p);
}

TEST(dup_is_deep)
{
	struct pprof_profile *p = sample_profile(), *d;
	struct buf a, b;

	CHECK(p);
	d = pprof_profile_dup(p);
	CHECK(d);
	buf_init(&a, 0);
	buf_init(&b, 0);
	CHECK_EQ(pprof_encode(p, 0, &a), 0);
	pprof_profile_free(p);
	CHECK_EQ(pprof_encode(d, 0, &b), 0);
	CHECK_EQ(a.len, b.len);
	CHECK(memcmp(a.data, b.data, a.len) == 0);
	pprof_profile_free(d);
	buf_free(&a);
	buf_free(&b);
}

TEST(round_trip_keeps_everything)
{
	struct pprof_profile *p = sample_profile(), *q = NULL, *r = NULL;
	struct frames f1 = {.stop_after = -1}, f2 = {.stop_after = -1};
	struct buf plain, gz, again;

	CHECK(p);
	buf_init(&plain, 0);
	buf_init(&gz, 0);
	buf_init(&again, 0);
	CHECK_EQ(pprof_encode(p, 0, &plain), 0);
	CHECK_EQ(pprof_encode(p, 1, &gz), 0);
	CHECK(!pprof_is_gzip(plain.data, plain.len));
	CHECK(pprof_is_gzip(gz.data, gz.len));
	CHECK_EQ(pprof_decode(plain.data, plain.len, NULL, &q), 0);
	CHECK_EQ(pprof_decode(gz.data, gz.len, NULL, &r), 0);
	/* Decoding renumbers ids as index + 1, which is what the builder used: identical. */
	CHECK_EQ(pprof_encode(r, 0, &again), 0);
	CHECK_EQ(again.len, plain.len);
	CHECK(memcmp(again.data, plain.data, plain.len) == 0);
	CHECK_EQ(pprof_sample_count(q), 2);
	CHECK_EQ(pprof_sample_values(q, 0)[0], 3);
	CHECK_EQ(pprof_sample_values(q, 1)[1], 500);
	CHECK_EQ(pprof_period(q), 524288);
	CHECK_EQ(pprof_time_ns(q), 1700000000000000000);
	CHECK_EQ(pprof_duration_ns(q), 60000000000);
	CHECK_EQ(pprof_sample_frames(p, 1, collect_frame, &f1), 0);
	CHECK_EQ(pprof_sample_frames(q, 1, collect_frame, &f2), 0);
	CHECK_STR(f2.text, f1.text);
	pprof_profile_free(p);
	pprof_profile_free(q);
	pprof_profile_free(r);
	buf_free(&plain);
	buf_free(&gz);
	buf_free(&again);
}

TEST(empty_builder_round_trips)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL, *q = NULL;
	struct buf out;

	CHECK(b);
	buf_init(&out, 0);
	CHECK_EQ(pprof_builder_finish(b, &p), 0);
	pprof_builder_free(b);
	CHECK_EQ(pprof_encode(p, 1, &out), 0);
	CHECK_EQ(pprof_decode(out.data, out.len, NULL, &q), 0);
	CHECK_EQ(pprof_sample_count(q), 0);
	CHECK_EQ(pprof_sample_type_count(q), 0);
	pprof_profile_free(p);
	pprof_profile_free(q);
	buf_free(&out);
}

TEST(gzip_round_trip_and_bounds)
{
	static char text[200000];
	struct buf z, back;

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + (i * 7 + i / 13) % 26);
	buf_init(&z, 0);
	buf_init(&back, 0);
	CHECK_EQ(pprof_gzip(text, sizeof(text), &z), 0);
	CHECK(pprof_is_gzip(z.data, z.len));
	CHECK_EQ(pprof_gunzip(z.data, z.len, sizeof(text), &back), 0);
	CHECK_EQ(back.len, sizeof(text));
	CHECK(memcmp(back.data, text, sizeof(text)) == 0);
	/* One byte short of the real size: refused, and out is left as it was. */
	buf_reset(&back);
	buf_append_str(&back, "keep");
	CHECK_EQ(pprof_gunzip(z.data, z.len, sizeof(text) - 1, &back), -E2BIG);
	CHECK_STR(back.data, "keep");
	/* Truncated anywhere: -EBADMSG. */
	for (size_t cut = 1; cut < z.len; cut += z.len / 17 + 1) {
		buf_reset(&back);
		CHECK_EQ(pprof_gunzip(z.data, cut, sizeof(text), &back), -EBADMSG);
	}
	buf_reset(&back);
	CHECK_EQ(pprof_gunzip(z.data, z.len - 1, sizeof(text), &back), -EBADMSG);
	/* Not gzip at all. */
	CHECK_EQ(pprof_gunzip(text, 100, sizeof(text), &back), -EBADMSG);
	CHECK(!pprof_is_gzip("\x1f", 1));
	/* Two members read as one stream; trailing garbage refused. */
	{
		size_t one = z.len;

		CHECK_EQ(pprof_gzip("tail", 4, &z), 0);
		buf_reset(&back);
		CHECK_EQ(pprof_gunzip(z.data, z.len, sizeof(text) + 4, &back), 0);
		CHECK_EQ(back.len, sizeof(text) + 4);
		CHECK(memcmp(back.data + sizeof(text), "tail", 4) == 0);
		z.len = one;
		buf_append(&z, "junk", 4);
		buf_reset(&back);
		CHECK_EQ(pprof_gunzip(z.data, z.len, sizeof(text) + 4, &back), -EBADMSG);
	}
	/* A flipped byte in the deflate data or the CRC: -EBADMSG. */
	z.len -= 4;
	z.data[z.len - 6] ^= 0x55;
	buf_reset(&back);
	CHECK_EQ(pprof_gunzip(z.data, z.len, sizeof(text), &back), -EBADMSG);
	buf_free(&z);
	buf_free(&back);
}

TEST(gzip_of_nothing)
{
	struct buf z, back;

	buf_init(&z, 0);
	buf_init(&back, 0);
	CHECK_EQ(pprof_gzip("", 0, &z), 0);
	CHECK_EQ(pprof_gunzip(z.data, z.len, 0, &back), 0);
	CHECK_EQ(back.len, 0);
	buf_free(&z);
	buf_free(&back);
}
