/*
 * Integration test of pprof/ against real Go profiles, with `go tool pprof -raw` as the
 * independent reader.
 *
 * For every installed Go toolchain, tests/go/profgen writes heap, block, mutex and
 * goroutine profiles at two moments with known work in between. We decode them, check
 * that our reading agrees with go tool pprof's, apply the delta and check it equals the
 * second snapshot minus the first as go tool pprof reports them, and check that every
 * profile we produce (re-encoded, delta, split parts, renamed, built) is accepted by
 * go tool pprof with the sample types and values we meant.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "support.h"
#include "testing.h"

/* Keep in step with tests/go/profgen/main.go. */
#define ALLOC_COUNT 4096
#define ALLOC_SIZE 256
#define MAX_TYPES 16

/* What `go tool pprof -raw` says about a profile. */
struct raw {
	char types[512];          /* "type/unit type/unit ..." without [dflt] marks */
	size_t ntypes;
	int64_t total[MAX_TYPES]; /* per type, over all samples */
	int64_t in_fn[MAX_TYPES]; /* per type, over samples with fn in their stack */
	struct buf text;
};

static char *next_line(char **cur)
{
	char *line = *cur, *nl;

	if (!*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	return line;
}

/* Non-zero when a whitespace-separated token of line equals word. */
static int has_token(const char *line, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(line, word); p; p = strstr(p + 1, word))
		if ((p == line || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

#define MAX_LOCATION_ID (1 << 20)

/* Marks in match[] the location ids whose frames include function fn. */
static void raw_locations(const char *text, const char *fn, unsigned char *match)
{
	char *copy = strdup(text), *cur = copy, *line;
	int in_locations = 0;
	long loc = -1;

	while ((line = next_line(&cur)) != NULL) {
		char *p = line, *end;
		long id;

		if (line[0] != ' ') {
			in_locations = strncmp(line, "Locations", 9) == 0;
			continue;
		}
		if (!in_locations)
			continue;
		while (*p == ' ')
			p++;
		/* "  7: 0x4e00c4 M=1 fn file:line s=N", then one line per inlined frame. */
		id = strtol(p, &end, 10);
		if (end != p && *end == ':')
			loc = id;
		if (loc >= 0 && loc < MAX_LOCATION_ID && has_token(p, fn))
			match[loc] = 1;
	}
	free(copy);
}

/* Reads the sample type header line into r. */
static void raw_types(struct raw *r, char *hdr)
{
	char *tok, *save;
	size_t len = 0;

	r->ntypes = 0;
	r->types[0] = '\0';
	for (tok = strtok_r(hdr, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *dflt = strstr(tok, "[dflt]");

		if (dflt)
			*dflt = '\0';
		len += (size_t)snprintf(r->types + len, sizeof(r->types) - len, "%s%s",
					r->ntypes ? " " : "", tok);
		r->ntypes++;
	}
}

/* Adds one sample line ("  v1 v2 ...: id id ...") to the sums. 0 or -EBADMSG. */
static int raw_sample(struct raw *r, char *p, const unsigned char *match)
{
	int64_t v[MAX_TYPES];
	char *end;
	int hit = 0;

	for (size_t t = 0; t < r->ntypes && t < MAX_TYPES; t++) {
		v[t] = strtoll(p, &end, 10);
		p = end;
	}
	if (*p++ != ':')
		return -EBADMSG;
	for (long id = strtol(p, &end, 10); end != p; id = strtol(p, &end, 10)) {
		hit |= id >= 0 && id < MAX_LOCATION_ID && match[id];
		p = end;
	}
	for (size_t t = 0; t < r->ntypes && t < MAX_TYPES; t++) {
		r->total[t] += v[t];
		r->in_fn[t] += hit ? v[t] : 0;
	}
	return 0;
}

/* Parses -raw output: the sample type header, and sums over samples (all, and those
 * whose stack has a location with function fn, fn may be NULL). 0 or -EBADMSG. */
static int raw_parse(struct raw *r, const char *fn)
{
	char *copy = strdup(r->text.data), *cur = copy, *line;
	unsigned char *match = calloc(MAX_LOCATION_ID, 1);
	int in_samples = 0, ret = -EBADMSG;

	memset(r->total, 0, sizeof(r->total));
	memset(r->in_fn, 0, sizeof(r->in_fn));
	if (fn)
		raw_locations(r->text.data, fn, match);
	while ((line = next_line(&cur)) != NULL && strncmp(line, "Locations", 9) != 0) {
		char *p = line;

		if (strncmp(line, "Samples:", 8) == 0) {
			raw_types(r, next_line(&cur));
			in_samples = 1;
			continue;
		}
		while (*p == ' ')
			p++;
		/* Label lines ("bytes:[256]") follow their sample: skip them. */
		if (!in_samples || !((*p >= '0' && *p <= '9') || *p == '-'))
			continue;
		if (raw_sample(r, p, match))
			goto out;
	}
	ret = in_samples ? 0 : -EBADMSG;
out:
	free(copy);
	free(match);
	return ret;
}

/* Runs go tool pprof -raw on path; returns its exit status (parsed into r when 0). */
static int raw_file(const char *path, const char *fn, struct raw *r)
{
	int st;

	buf_init(&r->text, 0);
	st = test_pprof_raw(path, &r->text);
	if (st == 0 && raw_parse(r, fn))
		st = -EBADMSG;
	if (st)
		fprintf(stderr, "    go tool pprof -raw %s: %d\n%.2000s\n", path, st,
			r->text.data ? r->text.data : "");
	return st;
}

static void types_of(const struct pprof_profile *p, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < pprof_sample_type_count(p); i++) {
		const char *unit, *type = pprof_sample_type(p, i, &unit);

		len += (size_t)snprintf(out + len, size - len, "%s%s/%s", i ? " " : "", type, unit);
	}
}

struct fn_match {
	const char *fn;
	int found;
};

static int frame_is(void *ctx, const char *function, const char *file, int64_t line,
		    uint64_t address)
{
	struct fn_match *m = ctx;

	(void)file;
	(void)line;
	(void)address;
	return m->found = strcmp(function, m->fn) == 0;
}

/* Sum of value t over p's samples with fn in their stack. */
static int64_t sum_in_fn(const struct pprof_profile *p, size_t t, const char *fn)
{
	int64_t sum = 0;

	for (size_t i = 0; i < pprof_sample_count(p); i++) {
		struct fn_match m = {fn, 0};

		pprof_sample_frames(p, i, frame_is, &m);
		if (m.found)
			sum += pprof_sample_values(p, i)[t];
	}
	return sum;
}

/* Writes p to dir/name (gzip), has go tool pprof read it, and checks that it sees our
 * sample types and our totals (and, with fn, our sums over fn's samples). */
static int check_accepted(const struct pprof_profile *p, const char *dir, const char *name,
			  const char *fn)
{
	char path[512], types[512];
	struct raw r = {0};
	struct buf enc;
	int ok = 0;

	buf_init(&enc, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pprof_encode(p, 1, &enc) || test_write_file(path, enc.data, enc.len))
		goto out;
	if (raw_file(path, fn, &r))
		goto out;
	types_of(p, types, sizeof(types));
	if (strcmp(types, r.types) != 0) {
		fprintf(stderr, "    %s: types \"%s\", go tool pprof: \"%s\"\n", name, types,
			r.types);
		goto out;
	}
	for (size_t t = 0; t < r.ntypes; t++) {
		int64_t total = pprof_value_total(p, t), in_fn = fn ? sum_in_fn(p, t, fn) : 0;

		if (r.total[t] != total || (fn && r.in_fn[t] != in_fn)) {
			fprintf(stderr, "    %s: type %zu: total %lld/%lld, in %s %lld/%lld\n",
				name, t, (long long)total, (long long)r.total[t], fn ? fn : "-",
				(long long)in_fn, (long long)r.in_fn[t]);
			goto out;
		}
	}
	ok = 1;
out:
	buf_free(&r.text);
	buf_free(&enc);
	return ok;
}

static struct pprof_profile *decode_file(const char *path)
{
	struct pprof_profile *p = NULL;
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = test_read_file(path, &b);
	if (r == 0)
		r = pprof_decode(b.data, b.len, NULL, &p);
	if (r)
		fprintf(stderr, "    %s: %d\n", path, r);
	buf_free(&b);
	return r ? NULL : p;
}

struct kind {
	const char *name;
	const char *fn; /* a function whose samples are compared */
};

static const struct kind kinds[] = {
    {"heap", "main.distinctiveAlloc"}, {"heap", "main.background"},
    {"block", "main.distinctiveBlock"}, {"block", "main.contend.func1"},
    {"mutex", "main.contend.func1"},    {"goroutine", "main.parked"},
};

/* Checks one profile kind of one toolchain's run in dir. */
static int check_kind(const char *dir, const struct kind *k, int *checks)
{
	char f1[512], f2[512], name[128], types[512];
	struct pprof_profile *p1 = NULL, *p2 = NULL, **parts = NULL;
	struct pprof_delta *d = pprof_delta_new();
	int cum[MAX_TYPES], ok = 0, res;
	struct raw r1 = {0}, r2 = {0}, again = {0};
	size_t nparts = 0;

	snprintf(f1, sizeof(f1), "%s/%s.1.pb.gz", dir, k->name);
	snprintf(f2, sizeof(f2), "%s/%s.2.pb.gz", dir, k->name);
	p1 = decode_file(f1);
	p2 = decode_file(f2);
	if (!d || !p1 || !p2 || raw_file(f1, k->fn, &r1) || raw_file(f2, k->fn, &r2))
		goto out;
	/* We read what go tool pprof reads. */
	types_of(p2, types, sizeof(types));
	if (strcmp(types, r2.types) != 0 || pprof_sample_type_count(p2) > MAX_TYPES) {
		fprintf(stderr, "    %s: types \"%s\" vs \"%s\"\n", f2, types, r2.types);
		goto out;
	}
	for (size_t t = 0; t < r2.ntypes; t++)
		if (pprof_value_total(p1, t) != r1.total[t] ||
		    pprof_value_total(p2, t) != r2.total[t])
			goto out;
	/* Re-encoded, a Go profile reads exactly as the original. */
	snprintf(name, sizeof(name), "%s.again.pb.gz", k->name);
	if (!check_accepted(p2, dir, name, k->fn))
		goto out;
	snprintf(f1, sizeof(f1), "%s/%s", dir, name);
	if (raw_file(f1, NULL, &again) || strcmp(again.text.data, r2.text.data) != 0) {
		fprintf(stderr, "    %s: go tool pprof -raw reads it otherwise\n", name);
		goto out;
	}
	/* The delta: second minus first, for fn's samples and in total. */
	pprof_go_cumulative(p2, cum);
	if (pprof_delta_apply(d, p1, cum, pprof_sample_type_count(p1)) != PPROF_DELTA_BASELINE)
		goto out;
	res = pprof_delta_apply(d, p2, cum, pprof_sample_type_count(p2));
	if (res != PPROF_DELTA_OK) {
		fprintf(stderr, "    %s: delta result %d\n", k->name, res);
		goto out;
	}
	for (size_t t = 0; t < r2.ntypes; t++) {
		int64_t want_fn = cum[t] ? r2.in_fn[t] - r1.in_fn[t] : r2.in_fn[t];
		int64_t want_all = cum[t] ? r2.total[t] - r1.total[t] : r2.total[t];

		int64_t got_fn = sum_in_fn(p2, t, k->fn), got_all = pprof_value_total(p2, t);

		if (got_fn != want_fn || got_all != want_all) {
			fprintf(stderr, "    %s %s type %zu: delta %lld (want %lld), "
					"total %lld (want %lld)\n", k->name, k->fn, t,
				(long long)got_fn, (long long)want_fn, (long long)got_all,
				(long long)want_all);
			goto out;
		}
		(*checks)++;
	}
	if (strcmp(k->fn, "main.distinctiveAlloc") == 0 &&
	    (sum_in_fn(p2, 0, k->fn) != ALLOC_COUNT ||
	     sum_in_fn(p2, 1, k->fn) != (int64_t)ALLOC_COUNT * ALLOC_SIZE)) {
		fprintf(stderr, "    distinctiveAlloc: %lld objects, %lld bytes\n",
			(long long)sum_in_fn(p2, 0, k->fn), (long long)sum_in_fn(p2, 1, k->fn));
		goto out;
	}
	if (sum_in_fn(p2, 0, k->fn) <= 0) {
		fprintf(stderr, "    %s: nothing happened in %s\n", k->name, k->fn);
		goto out;
	}
	snprintf(name, sizeof(name), "%s.delta.pb.gz", k->name);
	if (!check_accepted(p2, dir, name, k->fn))
		goto out;
	/* Split parts: accepted, and no zero value in a named type. */
	if (pprof_split_nonzero(p2, &parts, &nparts) || nparts == 0)
		goto out;
	for (size_t i = 0; i < nparts; i++) {
		for (size_t s = 0; s < pprof_sample_count(parts[i]); s++)
			for (size_t t = 0; t < pprof_sample_type_count(parts[i]); t++)
				if (!pprof_sample_values(parts[i], s)[t])
					goto out;
		snprintf(name, sizeof(name), "%s.part%zu.pb.gz", k->name, i);
		if (!check_accepted(parts[i], dir, name, k->fn))
			goto out;
	}
	ok = 1;
out:
	for (size_t i = 0; i < nparts; i++)
		pprof_profile_free(parts[i]);
	free(parts);
	buf_free(&r1.text);
	buf_free(&r2.text);
	buf_free(&again.text);
	pprof_delta_free(d);
	pprof_profile_free(p1);
	pprof_profile_free(p2);
	return ok;
}

/* Coroot's names for a scraped heap profile, as the uploader will send them. */
static int check_renamed_heap(const char *dir)
{
	static const struct pprof_rename coroot[] = {
	    {"alloc_objects", "count", "go:heap_alloc_objects:count"},
	    {"alloc_space", "bytes", "go:heap_alloc_space:bytes"},
	    {"inuse_objects", "count", "go:heap_inuse_objects:count"},
	    {"inuse_space", "bytes", "go:heap_inuse_space:bytes"},
	};
	char path[512];
	struct pprof_profile *p;
	int ok;

	snprintf(path, sizeof(path), "%s/heap.2.pb.gz", dir);
	p = decode_file(path);
	ok = p && pprof_rename_sample_types(p, coroot, ARRAY_SIZE(coroot), 0) == 0 &&
	     strcmp(pprof_sample_type(p, 1, NULL), "go:heap_alloc_space:bytes") == 0 &&
	     check_accepted(p, dir, "heap.coroot.pb.gz", "main.distinctiveAlloc");
	pprof_profile_free(p);
	return ok;
}

/* Runs profgen of one toolchain (go1.NN) and checks everything it wrote. A failed run's
 * directory is kept for inspection. */
static int check_toolchain(const char *ver, int *checks)
{
	char exe[512], cmd[1200];
	char *dir = test_tmpdir("pprof-go");
	int st, ok = 0;

	snprintf(exe, sizeof(exe), "%s/%s/profgen-exe", test_go_cache_dir(), ver);
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", exe, dir);
	st = test_sh(cmd, NULL, 0);
	if (st) {
		fprintf(stderr, "    %s: exit %d\n", cmd, st);
		goto out;
	}
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (!check_kind(dir, &kinds[k], checks)) {
			fprintf(stderr, "    %s: %s %s failed\n", ver, kinds[k].name, kinds[k].fn);
			goto out;
		}
	}
	if (!check_renamed_heap(dir)) {
		fprintf(stderr, "    %s: renamed heap failed\n", ver);
		goto out;
	}
	ok = 1;
out:
	if (ok)
		test_rmtree(dir);
	else
		fprintf(stderr, "    %s: files kept in %s\n", ver, dir);
	free(dir);
	return ok;
}

TEST(go_profiles_of_every_toolchain)
{
	const char *const *gos;
	size_t ngo = test_go_toolchains(&gos);
	int checks = 0, failed = 0;

	if (!ngo)
		SKIP("no Go toolchain under /usr/lib/go-1.*");
	for (size_t g = 0; g < ngo; g++) {
		const char *v = strstr(gos[g], "go-1.");
		char ver[32];

		CHECK(v);
		snprintf(ver, sizeof(ver), "go1.%d", atoi(v + 5));
		printf("  %s\n", ver);
		failed += !check_toolchain(ver, &checks);
	}
	CHECK_EQ(failed, 0);
	CHECK(checks > 0);
}

TEST(built_profile_is_read_by_go_tool_pprof)
{
	struct pprof_mapping_info mi = {0x400000, 0x800000, 0, "/app/server", "0123abcd",
					1, 1, 1, 1};
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	struct pprof_label lb = {"bytes", NULL, 4096, "bytes"};
	char *dir = test_tmpdir("pprof-built");
	uint64_t m, fmain, fwork, finl, loc[3];
	struct pprof_line lmain, lwork[2];

	CHECK(b);
	pprof_builder_add_sample_type(b, "go_runtime:heap_alloc_objects:count", "count");
	pprof_builder_add_sample_type(b, "go_runtime:heap_alloc_space:bytes", "bytes");
	pprof_builder_set_period(b, "space", "bytes", 524288);
	pprof_builder_set_time(b, 1700000000000000000, 60000000000);
	m = pprof_builder_mapping(b, &mi);
	fmain = pprof_builder_function(b, "main.main", "main.main", "/src/main.go", 10);
	fwork = pprof_builder_function(b, "main.work", "main.work", "/src/work.go", 20);
	finl = pprof_builder_function(b, "main.inlined", "main.inlined", "/src/work.go", 40);
	lmain = (struct pprof_line){fmain, 12};
	lwork[0] = (struct pprof_line){finl, 41};
	lwork[1] = (struct pprof_line){fwork, 25};
	loc[0] = pprof_builder_location(b, m, 0x401234, lwork, 2);
	loc[1] = pprof_builder_location(b, m, 0x400100, &lmain, 1);
	for (int i = 0; i < 100; i++) {
		int64_t v[2] = {1 + i, (1 + i) * 4096};

		loc[2] = pprof_builder_location(b, m, 0x402000 + (uint64_t)i * 16, NULL, 0);
		CHECK_EQ(pprof_builder_add_sample(b, (uint64_t[]){loc[2], loc[0], loc[1]}, 3, v, 2,
						  &lb, 1), 0);
	}
	CHECK_EQ(pprof_builder_finish(b, &p), 0);
	pprof_builder_free(b);
	if (!test_go_newest())
		SKIP("no Go toolchain");
	CHECK(check_accepted(p, dir, "built.pb.gz", "main.inlined"));
	CHECK_EQ(sum_in_fn(p, 0, "main.inlined"), 5050);
	/* An empty type name, as Coroot's CPU "samples" type is sent, is accepted too. */
	{
		static const struct pprof_rename blank[] = {
		    {"go_runtime:heap_alloc_objects:count", NULL, ""}};

		CHECK_EQ(pprof_rename_sample_types(p, blank, 1, 1), 0);
		CHECK_STR(pprof_sample_type(p, 0, NULL), "");
		CHECK(check_accepted(p, dir, "blank.pb.gz", "main.work"));
	}
	pprof_profile_free(p);
	test_rmtree(dir);
	free(dir);
}
