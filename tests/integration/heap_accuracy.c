/*
 * The proof of the node side: for every installed Go toolchain and every build variant
 * (default, PIE, -ldflags=-s -w, strip), `podprof heap` of a live process agrees with
 * the heap profile the process wrote itself with runtime/pprof, stack by stack (every
 * frame's function, file and line, inlined frames included) and value by value, and
 * `go tool pprof` reads what podprof wrote.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gobin.h"
#include "profcmp.h"
#include "support.h"
#include "testing.h"

static const char *const variants[] = {"exe", "pie", "sw", "strip"};


static int close_enough(int64_t a, int64_t b)
{
	int64_t d = a > b ? a - b : b - a;
	/* only float rounding: math.Exp and libm may differ in the last bit */
	return d <= 1 + (a > 0 ? a : -a) / 1000000000;
}

/* Compares the non-zero stacks of two profiles; prints every difference. */
static int compare(const char *what, const struct canon *own, const struct canon *ours)
{
	int bad = 0;

	if (own->nvalues != 4 || ours->nvalues != 4) {
		fprintf(stderr, "  %s: sample types differ\n", what);
		return 1;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(own->types[i], ours->types[i]) != 0) {
			fprintf(stderr, "  %s: sample type %zu: %s vs %s\n", what, i, own->types[i],
				ours->types[i]);
			bad++;
		}
	}
	if (own->period != ours->period) {
		fprintf(stderr, "  %s: period %" PRId64 " vs %" PRId64 "\n", what, own->period,
			ours->period);
		bad++;
	}
	for (size_t s = 0; s < own->n; s++) {
		const struct canon_stack *a = &own->stacks[s], *b = canon_find(ours, a->key);
		int zero = !a->v[0] && !a->v[1] && !a->v[2] && !a->v[3];
		if (zero)
			continue;
		if (!b) {
			fprintf(stderr, "  %s: %s: stack missing from podprof's profile: %s\n", what,
				canon_leaf(a->key), a->key);
			bad++;
			continue;
		}
		for (int k = 0; k < 4; k++) {
			if (!close_enough(a->v[k], b->v[k])) {
				fprintf(stderr,
					"  %s: %s: %s differs: runtime %" PRId64 ", podprof %" PRId64
					"\n    stack %s\n",
					what, canon_leaf(a->key), own->types[k], a->v[k], b->v[k], a->key);
				bad++;
			}
		}
	}
	for (size_t s = 0; s < ours->n; s++) {
		const struct canon_stack *b = &ours->stacks[s];
		const struct canon_stack *a = canon_find(own, b->key);
		if (!a && (b->v[0] || b->v[1] || b->v[2] || b->v[3])) {
			fprintf(stderr, "  %s: %s: stack only in podprof's profile: %s\n", what,
				canon_leaf(b->key), b->key);
			bad++;
		}
	}
	return bad;
}

/* Runs one program variant; returns the number of mismatches (or -1 for a failure to
 * run it at all). */
static int check_variant(const char *ver, const char *variant, const char *bin, int check_raw)
{
	char *dir = test_tmpdir("heap"), own[512], ours[512], cmd[2048], what[64];
	struct canon a = {0}, b = {0};
	struct buf out;
	pid_t pid;
	int r, bad = -1;
	char *argv[] = {(char *)bin, "-profile", own, NULL};

	snprintf(what, sizeof(what), "%s %s", ver, variant);
	snprintf(own, sizeof(own), "%s/own.pb.gz", dir);
	snprintf(ours, sizeof(ours), "%s/ours.pb.gz", dir);
	buf_init(&out, 0);
	pid = test_spawn(argv, NULL, NULL);
	if (pid < 0 || test_wait_file(own, 30000) != 0) {
		fprintf(stderr, "  %s: the program did not get ready\n", what);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "%s heap %d -o %s", test_podprof_bin(), (int)pid, ours);
	r = test_sh(cmd, &out, 1);
	if (r != 0) {
		fprintf(stderr, "  %s: podprof heap failed (%d): %s\n", what, r, out.data);
		goto out;
	}
	if (canon_load(own, &a) || canon_load(ours, &b)) {
		fprintf(stderr, "  %s: cannot decode the profiles\n", what);
		goto out;
	}
	bad = compare(what, &a, &b);
	/* the program's own functions must be there at all (not a vacuous comparison) */
	if (canon_total(&b, 1, "main.smallRetained") == 0 ||
	    canon_total(&b, 3, "main.inlinedAlloc /") == 0 ||
	    canon_total(&b, 1, "main.deepLeaf200") == 0) {
		fprintf(stderr, "  %s: expected allocation sites missing\n", what);
		bad++;
	}
	if (check_raw) {
		buf_reset(&out);
		r = test_pprof_raw(ours, &out);
		if (r != 0 || !strstr(out.data, "main.callInlined")) {
			fprintf(stderr, "  %s: go tool pprof -raw rejects podprof's profile: %s\n", what,
				out.data);
			bad++;
		}
	}
out:
	if (pid > 0)
		test_stop(pid, 5000);
	canon_free(&a);
	canon_free(&b);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
	return bad;
}

TEST(heap_matches_runtime_pprof_for_every_toolchain_and_variant)
{
	const char *const *tc;
	size_t ntc = test_go_toolchains(&tc);
	int checked = 0, failed = 0;

	if (ntc == 0)
		SKIP("no Go toolchain installed");
	for (size_t i = 0; i < ntc; i++) {
		char ver[32];
		const char *p = strstr(tc[i], "go-1.");
		snprintf(ver, sizeof(ver), "go1.%d", p ? atoi(p + 5) : 0);
		for (size_t v = 0; v < ARRAY_SIZE(variants); v++) {
			char bin[1024];
			int bad;
			snprintf(bin, sizeof(bin), "%s/%s/heapgen-%s", test_go_cache_dir(), ver,
				 variants[v]);
			if (access(bin, X_OK) != 0) {
				fprintf(stderr, "  missing %s\n", bin);
				failed++;
				continue;
			}
			bad = check_variant(ver, variants[v], bin, v == 0);
			checked++;
			if (bad != 0)
				failed++;
			printf("  %s %-5s %s\n", ver, variants[v], bad == 0 ? "same" : "DIFFERENT");
		}
	}
	CHECK_EQ(failed, 0);
	CHECK(checked >= 4);
}

TEST(stripped_binaries_are_located_from_code)
{
	const char *const *tc;
	size_t ntc = test_go_toolchains(&tc);

	if (ntc == 0)
		SKIP("no Go toolchain installed");
	for (size_t i = 0; i < ntc; i++) {
		char ver[32], exe[1024], strip[1024], pie[1024];
		struct gobin *a = NULL, *b = NULL, *c = NULL;
		const char *p = strstr(tc[i], "go-1.");
		snprintf(ver, sizeof(ver), "go1.%d", p ? atoi(p + 5) : 0);
		snprintf(exe, sizeof(exe), "%s/%s/heapgen-exe", test_go_cache_dir(), ver);
		snprintf(strip, sizeof(strip), "%s/%s/heapgen-strip", test_go_cache_dir(), ver);
		snprintf(pie, sizeof(pie), "%s/%s/heapgen-pie", test_go_cache_dir(), ver);
		CHECK_MSG(gobin_load(exe, &a) == 0 && gobin_load(strip, &b) == 0 &&
				  gobin_load(pie, &c) == 0,
			  "%s: cannot inspect", ver);
		CHECK_MSG(a->symbols == GOBIN_SYM_SYMTAB && b->symbols == GOBIN_SYM_CODE, "%s", ver);
		CHECK_MSG(c->pie && !a->pie, "%s", ver);
		/* the same binary, stripped: the code scan finds what .symtab says */
		CHECK_MSG(a->mbuckets == b->mbuckets, "%s mbuckets", ver);
		CHECK_MSG(a->mem_profile_rate == b->mem_profile_rate, "%s MemProfileRate", ver);
		CHECK_MSG(a->mprof_cycle == b->mprof_cycle, "%s mProfCycle", ver);
		CHECK(strncmp(a->info.version, ver, strlen(ver)) == 0);
		gobin_free(a);
		gobin_free(b);
		gobin_free(c);
	}
}
