/*
 * Unit tests of pprof_decode(): every validation error, every limit, hostile inputs
 * (gzip bombs, truncation, random bytes, protobufs that expand hugely in memory).
 * Bad profiles are written with the generated protobuf-c structs, starting from a
 * valid fixture and breaking one thing at a time.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "support.h"
#include "testing.h"

enum {
	S_EMPTY,
	S_ALLOC_OBJECTS,
	S_COUNT,
	S_ALLOC_SPACE,
	S_BYTES,
	S_MAIN,
	S_MAIN_GO,
	S_WORK,
	S_APP,
	S_THREAD,
	S_NSTRINGS
};

/* A valid two-sample profile laid out in protobuf-c structs. */
struct fx {
	Perftools__Profiles__Profile p;
	Perftools__Profiles__ValueType vt[2], *vtp[2], period;
	Perftools__Profiles__Sample s[2], *sp[2];
	uint64_t locids[2][2];
	int64_t vals[2][2];
	Perftools__Profiles__Label lb[1], *lbp[1];
	Perftools__Profiles__Mapping mp[1], *mpp[1];
	Perftools__Profiles__Location lc[2], *lcp[2];
	Perftools__Profiles__Line ln[2], *lnp[2];
	Perftools__Profiles__Function fn[2], *fnp[2];
	char *strings[S_NSTRINGS];
	int64_t comment[1];
};

static void fx_init(struct fx *f)
{
	static const char *const str[S_NSTRINGS] = {
	    "", "alloc_objects", "count", "alloc_space", "bytes", "main.main", "main.go",
	    "main.work", "/bin/app", "thread"};

	memset(f, 0, sizeof(*f));
	perftools__profiles__profile__init(&f->p);
	for (int i = 0; i < S_NSTRINGS; i++)
		f->strings[i] = (char *)str[i];
	f->p.string_table = f->strings;
	f->p.n_string_table = S_NSTRINGS;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&f->vt[i]);
		f->vtp[i] = &f->vt[i];
		perftools__profiles__function__init(&f->fn[i]);
		f->fnp[i] = &f->fn[i];
		f->fn[i].id = (uint64_t)i + 1;
		f->fn[i].name = i ? S_WORK : S_MAIN;
		f->fn[i].filename = S_MAIN_GO;
		perftools__profiles__line__init(&f->ln[i]);
		f->lnp[i] = &f->ln[i];
		f->ln[i].function_id = (uint64_t)i + 1;
		f->ln[i].line = 10 + i;
		perftools__profiles__location__init(&f->lc[i]);
		f->lcp[i] = &f->lc[i];
		f->lc[i].id = (uint64_t)i + 1;
		f->lc[i].mapping_id = 1;
		f->lc[i].address = 0x401000 + (uint64_t)i;
		f->lc[i].line = &f->lnp[i];
		f->lc[i].n_line = 1;
		perftools__profiles__sample__init(&f->s[i]);
		f->sp[i] = &f->s[i];
		f->locids[i][0] = 2;
		f->locids[i][1] = 1;
		f->vals[i][0] = 1 + i;
		f->vals[i][1] = 100 * (1 + i);
		f->s[i].location_id = f->locids[i];
		f->s[i].n_location_id = 2 - (size_t)i;
		f->s[i].value = f->vals[i];
		f->s[i].n_value = 2;
	}
	f->vt[0].type = S_ALLOC_OBJECTS;
	f->vt[0].unit = S_COUNT;
	f->vt[1].type = S_ALLOC_SPACE;
	f->vt[1].unit = S_BYTES;
	f->p.sample_type = f->vtp;
	f->p.n_sample_type = 2;
	perftools__profiles__label__init(&f->lb[0]);
	f->lbp[0] = &f->lb[0];
	f->lb[0].key = S_THREAD;
	f->lb[0].str = S_WORK;
	f->s[0].label = f->lbp;
	f->s[0].n_label = 1;
	f->p.sample = f->sp;
	f->p.n_sample = 2;
	perftools__profiles__mapping__init(&f->mp[0]);
	f->mpp[0] = &f->mp[0];
	f->mp[0].id = 1;
	f->mp[0].memory_start = 0x400000;
	f->mp[0].memory_limit = 0x500000;
	f->mp[0].filename = S_APP;
	f->p.mapping = f->mpp;
	f->p.n_mapping = 1;
	f->p.location = f->lcp;
	f->p.n_location = 2;
	f->p.function = f->fnp;
	f->p.n_function = 2;
	perftools__profiles__value_type__init(&f->period);
	f->period.type = S_ALLOC_SPACE;
	f->period.unit = S_BYTES;
	f->p.period_type = &f->period;
	f->p.period = 524288;
	f->comment[0] = S_APP;
	f->p.comment = f->comment;
	f->p.n_comment = 1;
	f->p.default_sample_type = S_ALLOC_SPACE;
}

static void fx_pack(const struct fx *f, struct buf *out)
{
	size_t n = perftools__profiles__profile__get_packed_size(&f->p);

	buf_reserve(out, n);
	perftools__profiles__profile__pack(&f->p, (uint8_t *)out->data + out->len);
	out->len += n;
}

/* Packs f and decodes it within lim (NULL: defaults); returns pprof_decode's result. */
static int fx_decode(const struct fx *f, const struct pprof_limits *lim)
{
	struct pprof_profile *p = NULL;
	struct buf b;
	int r;

	buf_init(&b, 0);
	fx_pack(f, &b);
	r = pprof_decode(b.data, b.len, lim, &p);
	if (r == 0)
		pprof_profile_free(p);
	buf_free(&b);
	return r;
}

TEST(fixture_is_valid)
{
	struct fx f;
	struct pprof_profile *p = NULL;
	struct buf b;

	fx_init(&f);
	buf_init(&b, 0);
	fx_pack(&f, &b);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_count(p), 2);
	CHECK_EQ(pprof_value_total(p, 1), 300);
	pprof_profile_free(p);
	buf_free(&b);
}

static int first_frame(void *ctx, const char *function, const char *file, int64_t line,
		       uint64_t address)
{
	(void)file;
	(void)address;
	snprintf(ctx, 64, "%s:%lld", function, (long long)line);
	return 1;
}

TEST(sparse_ids_are_resolved)
{
	struct fx f;
	struct pprof_profile *p = NULL;
	struct buf b;
	char frame[64];

	fx_init(&f);
	f.mp[0].id = 900;
	f.lc[0].mapping_id = f.lc[1].mapping_id = 900;
	f.fn[0].id = 77;
	f.fn[1].id = 5;
	f.ln[0].function_id = 77;
	f.ln[1].function_id = 5;
	f.lc[0].id = 1000000;
	f.lc[1].id = 3;
	f.locids[0][0] = 3;
	f.locids[0][1] = 1000000;
	f.locids[1][0] = 3;
	buf_init(&b, 0);
	fx_pack(&f, &b);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_frames(p, 0, first_frame, frame), 1);
	CHECK_STR(frame, "main.work:11");
	pprof_profile_free(p);
	buf_free(&b);
}

#define EXPECT_PROTO(mutation)                                                            \
	do {                                                                              \
		struct fx f_;                                                             \
		fx_init(&f_);                                                             \
		{                                                                         \
			struct fx *f = &f_;                                               \
			mutation;                                                         \
		}                                                                         \
		CHECK_EQ(fx_decode(&f_, NULL), -EPROTO);                                  \
	} while (0)

TEST(string_table_must_start_with_empty_string)
{
	EXPECT_PROTO(f->p.n_string_table = 0);
	EXPECT_PROTO(f->strings[0] = "x");
}

TEST(string_indexes_must_be_in_range)
{
	EXPECT_PROTO(f->vt[1].unit = S_NSTRINGS);
	EXPECT_PROTO(f->vt[0].type = -1);
	EXPECT_PROTO(f->period.unit = 1000);
	EXPECT_PROTO(f->p.drop_frames = S_NSTRINGS);
	EXPECT_PROTO(f->p.keep_frames = -5);
	EXPECT_PROTO(f->p.default_sample_type = S_NSTRINGS + 1);
	EXPECT_PROTO(f->comment[0] = S_NSTRINGS);
	EXPECT_PROTO(f->mp[0].filename = S_NSTRINGS);
	EXPECT_PROTO(f->mp[0].build_id = -1);
	EXPECT_PROTO(f->fn[1].name = S_NSTRINGS);
	EXPECT_PROTO(f->fn[0].system_name = S_NSTRINGS);
	EXPECT_PROTO(f->fn[0].filename = S_NSTRINGS);
	EXPECT_PROTO(f->lb[0].key = S_NSTRINGS);
	EXPECT_PROTO(f->lb[0].str = -2);
	EXPECT_PROTO(f->lb[0].num_unit = S_NSTRINGS);
}

TEST(references_must_exist)
{
	EXPECT_PROTO(f->locids[1][0] = 3);
	EXPECT_PROTO(f->locids[0][1] = 0);
	EXPECT_PROTO(f->lc[1].mapping_id = 2);
	EXPECT_PROTO(f->ln[0].function_id = 3);
	EXPECT_PROTO(f->ln[0].function_id = 0);
}

TEST(ids_must_be_nonzero_and_unique)
{
	EXPECT_PROTO(f->lc[1].id = 1);
	EXPECT_PROTO((f->lc[0].id = 0, f->locids[0][1] = 2));
	EXPECT_PROTO(f->fn[0].id = 2);
	EXPECT_PROTO((f->fn[0].id = 0, f->ln[0].function_id = 2));
	EXPECT_PROTO(f->mp[0].id = 0);
	/* Sparse ids take the hashed path: duplicates are caught there too. */
	EXPECT_PROTO((f->lc[0].id = 50, f->lc[1].id = 50));
	EXPECT_PROTO((f->fn[0].id = 9, f->fn[1].id = 9));
	EXPECT_PROTO((f->fn[0].id = 9, f->fn[1].id = 0));
}

TEST(values_must_match_types_and_be_non_negative)
{
	EXPECT_PROTO(f->s[1].n_value = 1);
	EXPECT_PROTO(f->p.n_sample_type = 1);
	EXPECT_PROTO(f->vals[0][1] = -1);
	EXPECT_PROTO(f->vals[1][0] = INT64_MIN);
}

TEST(limits_give_e2big)
{
	struct pprof_limits lim = pprof_default_limits;
	struct fx f;

	fx_init(&f);
	CHECK_EQ(fx_decode(&f, &lim), 0);
	lim.max_samples = 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_locations = 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_functions = 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_strings = S_NSTRINGS - 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_values = 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_stack_depth = 1;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
	lim = pprof_default_limits;
	lim.max_decompressed = 10;
	CHECK_EQ(fx_decode(&f, &lim), -E2BIG);
}

TEST(compressed_limits)
{
	struct pprof_limits lim = pprof_default_limits;
	struct pprof_profile *p = NULL;
	struct fx f;
	struct buf plain, gz;

	fx_init(&f);
	buf_init(&plain, 0);
	buf_init(&gz, 0);
	fx_pack(&f, &plain);
	CHECK_EQ(pprof_gzip(plain.data, plain.len, &gz), 0);
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), 0);
	pprof_profile_free(p);
	lim.max_compressed = gz.len - 1;
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), -E2BIG);
	lim = pprof_default_limits;
	lim.max_decompressed = plain.len - 1;
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), -E2BIG);
	/* Truncated gzip, and a cut protobuf inside good gzip. */
	CHECK_EQ(pprof_decode(gz.data, gz.len - 5, NULL, &p), -EBADMSG);
	CHECK_EQ(pprof_decode(gz.data, gz.len / 2, NULL, &p), -EBADMSG);
	buf_reset(&gz);
	CHECK_EQ(pprof_gzip(plain.data, plain.len - 3, &gz), 0);
	CHECK_EQ(pprof_decode(gz.data, gz.len, NULL, &p), -EBADMSG);
	buf_free(&plain);
	buf_free(&gz);
}

TEST(truncated_protobuf)
{
	struct pprof_profile *p = NULL;
	struct fx f;
	struct buf b;
	int bad = 0, ok = 0;

	fx_init(&f);
	buf_init(&b, 0);
	fx_pack(&f, &b);
	CHECK_EQ(pprof_decode(b.data, 0, NULL, &p), -EBADMSG);
	/* Mid-field cuts are -EBADMSG, cuts between fields mostly -EPROTO (references to
	 * what was cut off); only cutting the trailing scalar fields leaves a valid profile. */
	for (size_t cut = 1; cut < b.len; cut++) {
		int r = pprof_decode(b.data, cut, NULL, &p);

		if (r == 0)
			pprof_profile_free(p);
		CHECK_MSG(r == -EBADMSG || r == -EPROTO || (r == 0 && cut + 16 > b.len),
			  "cut %zu of %zu: %d", cut, b.len, r);
		bad += r == -EBADMSG;
		ok += r == 0;
	}
	CHECK(bad > (int)b.len / 2);
	CHECK(ok < 8);
	buf_free(&b);
}

/* Deflates n zero bytes as gzip without holding them in memory. */
static int gzip_zeros(size_t n, struct buf *out)
{
	static unsigned char zeros[1 << 16], chunk[1 << 16];
	z_stream z;
	int zr = Z_OK;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	while (zr != Z_STREAM_END) {
		size_t feed = n < sizeof(zeros) ? n : sizeof(zeros);

		if (!z.avail_in) {
			z.next_in = zeros;
			z.avail_in = (uInt)feed;
			n -= feed;
		}
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, n || z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	}
	deflateEnd(&z);
	return 0;
}

TEST(gzip_bomb)
{
	struct pprof_profile *p = NULL;
	struct buf bomb;

	buf_init(&bomb, 0);
	/* 80 MiB of zeros in about 80 KiB: more than the default cap of 64 MiB. */
	CHECK_EQ(gzip_zeros((size_t)80 << 20, &bomb), 0);
	CHECK(bomb.len < (1 << 20));
	CHECK_EQ(pprof_decode(bomb.data, bomb.len, NULL, &p), -E2BIG);
	buf_free(&bomb);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

TEST(random_garbage)
{
	static unsigned char data[4096];
	struct pprof_profile *p = NULL;

	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rng() % sizeof(data);
		int r;

		for (size_t i = 0; i < len; i++)
			data[i] = (unsigned char)rng();
		if (iter % 3 == 0 && len >= 2) {
			data[0] = 0x1f;
			data[1] = 0x8b;
		}
		r = pprof_decode(data, len, NULL, &p);
		if (r == 0)
			pprof_profile_free(p);
		CHECK_MSG(r == -EBADMSG || r == -EPROTO || r == -E2BIG, "iteration %d: %d", iter,
			  r);
	}
}

TEST(mutated_valid_profiles_never_crash)
{
	struct pprof_profile *p = NULL;
	struct fx f;
	struct buf b;

	fx_init(&f);
	buf_init(&b, 0);
	fx_pack(&f, &b);
	for (int iter = 0; iter < 20000; iter++) {
		unsigned char copy[512];
		int r;

		CHECK(b.len <= sizeof(copy));
		memcpy(copy, b.data, b.len);
		for (int k = 0; k < 1 + iter % 3; k++)
			copy[rng() % b.len] = (unsigned char)rng();
		r = pprof_decode(copy, b.len, NULL, &p);
		if (r == 0)
			pprof_profile_free(p);
		CHECK_MSG(r == 0 || r == -EBADMSG || r == -EPROTO || r == -E2BIG, "%d", r);
	}
	buf_free(&b);
}

/* n copies of a field with an empty submessage (two bytes on the wire, a whole row in
 * memory), e.g. tag 0x22: a location. */
static void empty_rows(struct buf *b, const char *tag, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_append(b, tag, 1);
		buf_append(b, "", 1);
	}
}

TEST(memory_budget_stops_expanding_protobufs)
{
	struct pprof_limits lim = pprof_default_limits;
	struct pprof_profile *p = NULL;
	struct buf b, gz;
	size_t n = (size_t)4 << 20;

	/* Let only the budget stand in the way. */
	lim.max_samples = lim.max_locations = SIZE_MAX;
	buf_init(&b, 0);
	buf_init(&gz, 0);
	/* A string table, then 8 MiB of empty locations: 40 bytes in memory for every 2 on
	 * the wire. */
	buf_append(&b, "\x32\x00", 2);
	empty_rows(&b, "\x22", n);
	CHECK_EQ(pprof_decode(b.data, b.len, &lim, &p), -E2BIG);
	/* The same, gzip-compressed to a few kilobytes. */
	CHECK_EQ(pprof_gzip(b.data, b.len, &gz), 0);
	CHECK(gz.len < 64 * 1024);
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), -E2BIG);
	/* 16 sample types and 1M empty samples: 128 MiB of values, refused before they are
	 * allocated (the samples would fail validation afterwards). */
	buf_reset(&b);
	buf_append(&b, "\x32\x00", 2);
	empty_rows(&b, "\x0a", 16);
	empty_rows(&b, "\x12", (size_t)1 << 20);
	CHECK_EQ(pprof_decode(b.data, b.len, &lim, &p), -E2BIG);
	/* A modest count of empty samples fits, then fails validation (no string table). */
	buf_reset(&b);
	empty_rows(&b, "\x12", 1000);
	CHECK_EQ(pprof_decode(b.data, b.len, &lim, &p), -EPROTO);
	buf_free(&b);
	buf_free(&gz);
}

/* With a pool, a decode draws the decompressed bytes, the id maps and the profile's
 * tables from it: the profile holds its tables' memory until it is freed, a refusal
 * fails the decode with the pool's error, and nothing is left held either way. */
TEST(pool_holds_what_a_decode_keeps)
{
	struct pprof_limits lim = pprof_default_limits;
	struct pprof_profile *p = NULL;
	struct test_pool pool;
	struct buf b, gz;
	struct fx f;

	fx_init(&f);
	/* sparse ids: the id maps are sorted copies */
	f.mp[0].id = 900;
	f.lc[0].mapping_id = f.lc[1].mapping_id = 900;
	f.fn[0].id = 77;
	f.ln[0].function_id = 77;
	buf_init(&b, 0);
	buf_init(&gz, 0);
	fx_pack(&f, &b);
	CHECK_EQ(pprof_gzip(b.data, b.len, &gz), 0);
	test_pool_init(&pool, (size_t)64 << 20);
	lim.pool = &pool.pool;
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), 0);
	CHECK(pool.held > 0 && pool.takes > 12);
	/* the profile may grow later (a rename adds strings): it still draws from the pool */
	pprof_profile_free(p);
	p = NULL;
	CHECK_EQ(pool.held, 0);

	/* a bomb, 80 MiB of zeros, within a 1 MiB pool */
	buf_reset(&gz);
	CHECK_EQ(gzip_zeros((size_t)80 << 20, &gz), 0);
	test_pool_init(&pool, 1 << 20);
	CHECK_EQ(pprof_decode(gz.data, gz.len, &lim, &p), -ENOBUFS);
	CHECK_EQ(pool.held, 0);

	/* a protobuf that expands tenfold in memory: refused by the pool first */
	buf_reset(&b);
	buf_append(&b, "\x32\x00", 2);
	empty_rows(&b, "\x22", (size_t)1 << 18);
	test_pool_init(&pool, 1 << 20);
	CHECK_EQ(pprof_decode(b.data, b.len, &lim, &p), -ENOBUFS);
	CHECK_EQ(pool.held, 0);
	/* and decoded when the pool is large enough, then given back */
	test_pool_init(&pool, (size_t)64 << 20);
	lim.max_locations = SIZE_MAX;
	CHECK(pprof_decode(b.data, b.len, &lim, &p) != -ENOBUFS);
	pprof_profile_free(p);
	CHECK_EQ(pool.held, 0);
	buf_free(&b);
	buf_free(&gz);
}
