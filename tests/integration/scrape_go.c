/*
 * `podprof cluster` against real Go services (tests/go/pprofsrv, built with every
 * installed toolchain) and the fake Coroot receiver: one agent scrapes them all every
 * 3 s with 1 s CPU profiles.
 *
 * For every toolchain: every profile type arrives under Coroot's type names, with the
 * service name and the instance label in the query, and every body is read by
 * `go tool pprof -raw`. On the oldest and the newest toolchain, with the target's
 * allocation work gated: the CPU profiles show main.burnCPU, mutex, block and
 * goroutine profiles show their distinctive functions, and the alloc deltas uploaded
 * for main.allocWork, summed over every window, equal the growth of the target's own
 * cumulative /debug/pprof/allocs over the same span; main.sizesWork, whose heap
 * samples share one stack (one per size class), keeps all four values through the
 * delta. A second newest-toolchain target serves its cumulative heap profile at
 * /debug/pprof/delta_heap: it is used, and uploaded as served, not delta'd again.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pprof.h"
#include "profcmp.h"
#include "support.h"
#include "testing.h"
#include "uploader_fake.h"

#define MAX_PROGS 16
#define INTERVAL_S 3

struct prog {
	char ver[16];
	char service[48];
	int full;       /* the full check (oldest, newest) */
	int delta_heap; /* serves /debug/pprof/delta_heap */
	pid_t pid;
	int port;
	char base[96];  /* http://127.0.0.1:PORT */
	char own_start[512], own_end[512];
};

static struct prog progs[MAX_PROGS];
static size_t nprogs;
static char *dir;
static struct fake_coroot fake;
static pid_t agent = -1;
static char listen_addr[64], agent_log[512];

static void stop_all(void)
{
	if (agent > 0)
		test_stop(agent, 5000);
	agent = -1;
	for (size_t i = 0; i < nprogs; i++)
		if (progs[i].pid > 0)
			test_stop(progs[i].pid, 2000);
	nprogs = 0;
}

static int read_port(const char *path, int timeout_ms)
{
	struct buf b;
	int port = -1;

	if (test_wait_file(path, timeout_ms))
		return -1;
	buf_init(&b, 0);
	if (test_read_file(path, &b) == 0 && b.data)
		port = atoi(b.data);
	buf_free(&b);
	return port;
}

static int start_prog(struct prog *p)
{
	char bin[4096], portfile[600];
	char *argv[12];
	int n = 0;

	if (snprintf(bin, sizeof(bin), "%s/%s/pprofsrv-exe", test_go_cache_dir(), p->ver) >=
		    (int)sizeof(bin) ||
	    snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, p->service) >=
		    (int)sizeof(portfile))
		return -1;
	argv[n++] = bin;
	argv[n++] = "-port-file";
	argv[n++] = portfile;
	argv[n++] = "-cpu-duty";
	argv[n++] = p->full ? "0.1" : "0.03";
	if (p->full && !p->delta_heap)
		argv[n++] = "-paused";
	if (p->delta_heap)
		argv[n++] = "-delta-heap";
	argv[n] = NULL;
	p->pid = test_spawn(argv, NULL, NULL);
	if (p->pid < 0)
		return -1;
	p->port = read_port(portfile, 20000);
	if (p->port <= 0)
		return -1;
	snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", p->port);
	return 0;
}

static int prog_get(const struct prog *p, const char *path, struct buf *out)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", p->base, path);
	return test_http_get(url, out);
}

/* Fetches the program's own cumulative allocs profile into a file. */
static int fetch_own(const struct prog *p, const char *file)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = prog_get(p, "/debug/pprof/allocs", &b) == 200 ? 0 : -EIO;
	if (!r)
		r = test_write_file(file, b.data, b.len);
	buf_free(&b);
	return r;
}

/* The agent's /targets as JSON (caller frees), or NULL. */
static cJSON *targets_json(void)
{
	char url[128];
	struct buf b;
	cJSON *j = NULL;

	snprintf(url, sizeof(url), "http://%s/targets?format=json", listen_addr);
	buf_init(&b, 0);
	if (test_http_get(url, &b) == 200)
		j = cJSON_Parse(b.data);
	buf_free(&b);
	return j;
}

static const cJSON *target_type(const cJSON *root, const struct prog *p, const char *type)
{
	const cJSON *t;
	char url[128];

	snprintf(url, sizeof(url), "%s/debug/pprof", p->base);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets"))
	{
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(t, "url");
		if (cJSON_IsString(u) && strcmp(u->valuestring, url) == 0)
			return cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(t, "types"), type);
	}
	return NULL;
}

/* Successful scrapes of a type of p so far (scrapes - failures), or -1. */
static int scrapes_of(const struct prog *p, const char *type)
{
	cJSON *root = targets_json();
	const cJSON *t = root ? target_type(root, p, type) : NULL;
	int n = -1;

	if (t)
		n = (int)(cJSON_GetObjectItemCaseSensitive(t, "scrapes")->valuedouble -
			  cJSON_GetObjectItemCaseSensitive(t, "failures")->valuedouble);
	cJSON_Delete(root);
	return n;
}

static int wait_scrapes(const struct prog *p, const char *type, int n, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 100) {
		if (scrapes_of(p, type) >= n)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static double agent_metric(const char *series)
{
	char url[128];
	struct buf b;
	double v = -1;

	snprintf(url, sizeof(url), "http://%s/metrics", listen_addr);
	buf_init(&b, 0);
	if (test_http_get(url, &b) == 200)
		v = prom_value(b.data, series);
	buf_free(&b);
	return v;
}

/* What one service uploaded, by kind. */
struct uploads {
	size_t cpu, heap_alloc, heap_inuse, block, mutex, goroutine;
	int cpu_burn, block_fn, mutex_fn, goroutine_fn;
	int64_t alloc_objects, alloc_space;             /* main.allocWork, summed */
	int64_t sizes_alloc_objects, sizes_alloc_space; /* main.sizesWork, summed */
	int64_t sizes_inuse_objects, sizes_inuse_space; /* main.sizesWork, last upload */
	int64_t godelta_first, godelta_last;           /* main.allocWork alloc_space */
	int godelta_monotonic;
	int first_heap_has_alloc;
	unsigned kinds_read; /* kinds of which a body went to go tool pprof */
	int bad;
};

static int has_types(const struct canon *c, const char *const *names, size_t n)
{
	if (c->nvalues != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(c->types[i], names[i]) != 0)
			return 0;
	return 1;
}

/*
 * A block or mutex upload: 1 with both types; 2 or 3 for the contentions or the delay
 * part alone (the uploader splits a profile when one sample's delta is zero in one
 * type only, as the runtime's rounded values allow: no uploaded sample may be zero in
 * one of its types); 0 when it is not of this kind.
 */
static int contention_part(const struct canon *c, const char *const *names)
{
	if (has_types(c, names, 2))
		return 1;
	if (c->nvalues == 1 && strcmp(c->types[0], names[0]) == 0)
		return 2;
	if (c->nvalues == 1 && strcmp(c->types[0], names[1]) == 0)
		return 3;
	return 0;
}

static int type_index(const struct canon *c, const char *name)
{
	for (size_t i = 0; i < c->nvalues; i++)
		if (strcmp(c->types[i], name) == 0)
			return (int)i;
	return -1;
}

static const char *const cpu_types[] = {"", "go:profile_cpu:nanoseconds"};
static const char *const block_types[] = {"go:block_contentions:count",
					  "go:block_delay:nanoseconds"};
static const char *const mutex_types[] = {"go:mutex_contentions:count",
					  "go:mutex_delay:nanoseconds"};
static const char *const goroutine_types[] = {"go:goroutine_goroutine:count"};
static const char *const heap_types[] = {"go:heap_alloc_objects:count", "go:heap_alloc_space:bytes",
					 "go:heap_inuse_objects:count", "go:heap_inuse_space:bytes"};

/* The window of a profile file: TimeNanos and DurationNanos. 0 or -1. */
static int window_of(const char *file, int64_t *time_ns, int64_t *duration_ns)
{
	struct pprof_profile *p = NULL;
	struct buf data;
	int r = -1;

	buf_init(&data, 0);
	if (test_read_file(file, &data) == 0 && pprof_decode(data.data, data.len, NULL, &p) == 0) {
		*time_ns = pprof_time_ns(p);
		*duration_ns = pprof_duration_ns(p);
		r = 0;
	}
	pprof_profile_free(p);
	buf_free(&data);
	return r;
}

/* Classifies one upload of p and adds it to u; appends its path to the list of files
 * for `go tool pprof`. */
static void account(const struct prog *p, const cJSON *r, struct uploads *u, struct buf *files)
{
	char *path = fake_body_path(&fake, r);
	const char *inst = fake_label(r, "instance");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "query");
	char want_inst[64], want_q[160];
	struct canon c;
	int ai, si, ii, is, bk, mk;

	snprintf(want_inst, sizeof(want_inst), "127.0.0.1:%d", p->port);
	snprintf(want_q, sizeof(want_q), "service.name=%s&instance=127.0.0.1%%3A%d", p->service,
		 p->port);
	/* as documented: service.name, then the target's labels (--target: instance) */
	if (!inst || strcmp(inst, want_inst) != 0 || !cJSON_IsString(q) ||
	    strcmp(q->valuestring, want_q) != 0) {
		fprintf(stderr, "  %s: upload with labels %s, query %s\n", p->service,
			inst ? inst : "(none)", cJSON_IsString(q) ? q->valuestring : "?");
		u->bad = 1;
	}
	if (!path || canon_load(path, &c) != 0) {
		fprintf(stderr, "  %s: undecodable upload %s\n", p->service, path ? path : "?");
		u->bad = 1;
		free(path);
		return;
	}
	/* every profile carries its window: CPU its seconds, the others the time since
	 * the previous scrape (about the interval) */
	{
		int64_t tn = 0, dn = 0, now = time_real_ns();
		int cpu = has_types(&c, cpu_types, 2);
		if (window_of(path, &tn, &dn) != 0 || tn < now - 300 * NS_PER_SEC || tn > now ||
		    (cpu ? dn != NS_PER_SEC : dn < NS_PER_SEC || dn > 10 * NS_PER_SEC)) {
			fprintf(stderr, "  %s: upload %s with window %lld ns ending %lld\n",
				p->service, path, (long long)dn, (long long)tn);
			u->bad = 1;
		}
	}
	ai = type_index(&c, "go:heap_alloc_objects:count");
	si = type_index(&c, "go:heap_alloc_space:bytes");
	ii = type_index(&c, "go:heap_inuse_objects:count");
	is = type_index(&c, "go:heap_inuse_space:bytes");
	bk = contention_part(&c, block_types);
	mk = contention_part(&c, mutex_types);
	if (has_types(&c, cpu_types, 2)) {
		u->cpu++;
		u->cpu_burn += canon_total(&c, 1, "main.burnCPU ") > 0;
	} else if (bk) {
		/* a split scrape counts once, by its contentions part */
		u->block += bk != 3;
		u->block_fn += canon_total(&c, bk == 1 ? 1 : 0, "main.blockWork ") > 0;
	} else if (mk) {
		u->mutex += mk != 3;
		u->mutex_fn += canon_total(&c, mk == 1 ? 1 : 0, "main.mutexWork ") > 0;
	} else if (has_types(&c, goroutine_types, 1)) {
		u->goroutine++;
		u->goroutine_fn += canon_total(&c, 0, "main.parkForever ") > 0;
	} else if (ai >= 0 || ii >= 0) {
		/* heap types, possibly split into the alloc and the in-use part */
		for (size_t i = 0; i < c.nvalues; i++) {
			int known = 0;
			for (size_t k = 0; k < 4; k++)
				known |= strcmp(c.types[i], heap_types[k]) == 0;
			if (!known)
				u->bad = 1;
		}
		if (ai >= 0 && si >= 0) {
			int64_t a = canon_total(&c, (size_t)si, "main.allocWork ");
			if (!u->heap_alloc && !u->heap_inuse)
				u->first_heap_has_alloc = 1;
			u->heap_alloc++;
			u->alloc_objects += canon_total(&c, (size_t)ai, "main.allocWork ");
			u->alloc_space += a;
			u->sizes_alloc_objects += canon_total(&c, (size_t)ai, "main.sizesWork ");
			u->sizes_alloc_space += canon_total(&c, (size_t)si, "main.sizesWork ");
			if (u->heap_alloc == 1) {
				u->godelta_first = a;
				u->godelta_monotonic = 1;
			} else if (a <= u->godelta_last) {
				u->godelta_monotonic = 0;
			}
			u->godelta_last = a;
		}
		if (ii >= 0 && is >= 0) {
			u->heap_inuse++;
			u->sizes_inuse_objects = canon_total(&c, (size_t)ii, "main.sizesWork ");
			u->sizes_inuse_space = canon_total(&c, (size_t)is, "main.sizesWork ");
		}
	} else {
		fprintf(stderr, "  %s: upload with unexpected sample types (%s, ...)\n", p->service,
			c.types[0]);
		u->bad = 1;
	}
	/* for go tool pprof: every upload of the fully checked targets, the first of each
	 * kind of the others (one run takes a tenth of a second) */
	{
		unsigned kind = has_types(&c, cpu_types, 2)	     ? 1
				: bk				     ? 2
				: mk				     ? 4
				: has_types(&c, goroutine_types, 1) ? 8
				: ai >= 0			     ? 16
								     : 32;
		if (p->full || !(u->kinds_read & kind))
			buf_printf(files, "%s\n", path);
		u->kinds_read |= kind;
	}
	canon_free(&c);
	free(path);
}

struct has_fn {
	const char *fn;
	int found;
};

static int frame_is(void *ctx, const char *function, const char *file, int64_t line,
		    uint64_t address)
{
	struct has_fn *h = ctx;
	(void)file, (void)line, (void)address;
	if (function && strcmp(function, h->fn) == 0)
		h->found = 1;
	return h->found;
}

/* Samples of a profile file whose stack has function fn. */
static size_t count_samples(const char *file, const char *fn)
{
	struct buf data;
	struct pprof_profile *p = NULL;
	size_t n = 0;

	buf_init(&data, 0);
	if (test_read_file(file, &data) == 0 && pprof_decode(data.data, data.len, NULL, &p) == 0) {
		for (size_t i = 0; i < pprof_sample_count(p); i++) {
			struct has_fn h = {fn, 0};
			pprof_sample_frames(p, i, frame_is, &h);
			n += h.found;
		}
	}
	pprof_profile_free(p);
	buf_free(&data);
	return n;
}

/* Runs `go tool pprof -raw` on every file listed (two at a time); returns the number
 * of files it rejected (their names on stderr), or -1. */
static int pprof_reads_all(const char *list)
{
	const char *go = test_go_newest();
	struct buf cmd, out;
	int r, failed = 0;

	buf_init(&cmd, 0);
	buf_init(&out, 0);
	buf_printf(&cmd,
		   "export HOME=${HOME:-/tmp} GOTOOLCHAIN=local GOFLAGS=; "
		   "xargs -P2 -n1 sh -c '%s tool pprof -raw \"$0\" >/dev/null 2>&1 || "
		   "echo \"REJECTED $0\"' < '%s'",
		   go, list);
	r = test_sh(cmd.data, &out, 1);
	if (r != 0)
		failed = -1;
	for (const char *p = out.data; p && (p = strstr(p, "REJECTED ")) != NULL; p++) {
		fprintf(stderr, "  go tool pprof rejects %.*s\n", (int)strcspn(p + 9, "\n"), p + 9);
		failed++;
	}
	buf_free(&cmd);
	buf_free(&out);
	return failed;
}

static struct prog *prog_of(const char *service)
{
	for (size_t i = 0; i < nprogs; i++)
		if (strcmp(progs[i].service, service) == 0)
			return &progs[i];
	return NULL;
}

static const char *const kinds[] = {"cpu", "heap", "block", "mutex", "goroutine"};

/* Starts the programs, the receiver and the agent; runs the gated work of the full
 * targets. Returns 0 or -1 (the reason on stderr). */
static int run(void)
{
	char **argv;
	size_t argc = 0;
	int listen_port = test_free_port();

	for (size_t i = 0; i < nprogs; i++) {
		if (start_prog(&progs[i]) != 0) {
			fprintf(stderr, "  %s did not start\n", progs[i].service);
			return -1;
		}
	}
	fake_prepare(&fake, "scrape-go-fake");
	if (fake_start(&fake, NULL) != 0)
		return -1;
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", listen_port);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	argv = calloc(2 * nprogs + 16, sizeof(char *));
	if (!argv)
		return -1;
	argv[argc++] = (char *)test_podprof_bin();
	argv[argc++] = "cluster";
	argv[argc++] = "--scrape-interval=3s";
	argv[argc++] = "--scrape-cpu-duration=1s";
	argv[argc++] = "--profiles-endpoint";
	argv[argc++] = fake.url;
	argv[argc++] = "--listen";
	argv[argc++] = listen_addr;
	for (size_t i = 0; i < nprogs; i++) {
		argv[argc++] = "--target";
		if (asprintf(&argv[argc++], "%s=%s", progs[i].service, progs[i].base) < 0)
			abort();
	}
	argv[argc] = NULL;
	agent = test_spawn(argv, NULL, agent_log);
	for (size_t i = 8; i < argc; i += 2)
		free(argv[i + 1]);
	free(argv);
	if (agent <= 0 || test_wait_port(listen_port, 10000) != 0) {
		fprintf(stderr, "  the agent did not start; see %s\n", agent_log);
		return -1;
	}

	/* gated programs: their baseline scrape, then the work, then scrapes after it */
	for (size_t i = 0; i < nprogs; i++) {
		struct prog *p = &progs[i];
		if (!p->full || p->delta_heap)
			continue;
		if (wait_scrapes(p, "heap", 1, 15000) != 0) {
			fprintf(stderr, "  %s: no heap baseline\n", p->service);
			return -1;
		}
		snprintf(p->own_start, sizeof(p->own_start), "%s/%s.start.pb.gz", dir, p->service);
		if (fetch_own(p, p->own_start) != 0 || prog_get(p, "/ctl/resume", NULL) != 200)
			return -1;
	}
	sleep(2 * INTERVAL_S + 1);
	for (size_t i = 0; i < nprogs; i++) {
		struct prog *p = &progs[i];
		int n;
		if (!p->full || p->delta_heap)
			continue;
		if (prog_get(p, "/ctl/pause", NULL) != 200)
			return -1;
		/* a scrape that began after the pause is the second one to end from now */
		n = scrapes_of(p, "heap");
		if (wait_scrapes(p, "heap", n + 2, 15000) != 0) {
			fprintf(stderr, "  %s: heap scrapes stopped\n", p->service);
			return -1;
		}
		snprintf(p->own_end, sizeof(p->own_end), "%s/%s.end.pb.gz", dir, p->service);
		if (fetch_own(p, p->own_end) != 0)
			return -1;
	}
	/* everything scraped so far delivered */
	for (int t = 0; t < 100 && agent_metric("podprof_upload_queue_length") != 0; t++)
		usleep(100000);
	usleep(500000);
	return 0;
}

TEST(scrape_every_toolchain)
{
	const char *const *gos;
	size_t ngo = test_go_toolchains(&gos);
	char list[600];
	struct buf files;
	cJSON *reqs = NULL, *root = NULL, *r;
	static struct uploads u[MAX_PROGS];
	int rejected;
	size_t nread = 0;

	if (ngo == 0)
		SKIP("no Go toolchain installed");
	fake_global_init();
	atexit(stop_all); /* a failed check leaves early */
	dir = test_tmpdir("scrape-go");
	buf_init(&files, 0);
	/* one target per toolchain; the full check on the oldest and the newest */
	for (size_t i = 0; i < ngo && nprogs < MAX_PROGS - 1; i++) {
		const char *v = strstr(gos[i], "go-1.");
		struct prog *p = &progs[nprogs];
		char bin[4096], ver[16];
		memset(p, 0, sizeof(*p));
		snprintf(ver, sizeof(ver), "go1.%d", v ? atoi(v + 5) : 0);
		snprintf(bin, sizeof(bin), "%s/%s/pprofsrv-exe", test_go_cache_dir(), ver);
		if (access(bin, X_OK) != 0) {
			fprintf(stderr, "  %s: no pprofsrv build (%s)\n", ver, bin);
			continue;
		}
		snprintf(p->ver, sizeof(p->ver), "%s", ver);
		snprintf(p->service, sizeof(p->service), "pprofsrv-%s", ver);
		p->full = i == 0 || i == ngo - 1;
		nprogs++;
	}
	CHECK(nprogs > 0);
	/* and the newest again, with a /debug/pprof/delta_heap that serves cumulative values */
	{
		struct prog g = progs[nprogs - 1];
		g.delta_heap = 1;
		g.full = 0;
		snprintf(g.service, sizeof(g.service), "godelta-%s", progs[nprogs - 1].ver);
		progs[nprogs++] = g;
	}

	if (run() != 0) {
		stop_all();
		CHECK_MSG(0, "setup failed; agent log %s", agent_log);
	}

	root = targets_json();
	CHECK(root);
	for (size_t i = 0; i < nprogs; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			const cJSON *st = target_type(root, &progs[i], kinds[k]);
			const cJSON *state = cJSON_GetObjectItemCaseSensitive(st, "state");
			const cJSON *err = cJSON_GetObjectItemCaseSensitive(st, "error");
			CHECK_MSG(cJSON_IsString(state) && strcmp(state->valuestring, "up") == 0,
				  "%s %s: %s (%s)", progs[i].service, kinds[k],
				  cJSON_IsString(state) ? state->valuestring : "missing",
				  cJSON_IsString(err) ? err->valuestring : "");
		}
		if (progs[i].delta_heap)
			CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				target_type(root, &progs[i], "heap"), "godeltaprof")));
		else
			CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
				target_type(root, &progs[i], "heap"), "godeltaprof")));
	}
	cJSON_Delete(root);
	CHECK_EQ(agent_metric("podprof_scrape_missed_total"), 0);
	CHECK_EQ(agent_metric("podprof_scrape_cpu_collisions_avoided_total"), 0);
	CHECK_EQ(agent_metric("podprof_targets{state=\"up\"}"), nprogs);

	/* what arrived (the agent stopped first, so that nothing changes while reading) */
	test_stop(agent, 10000);
	agent = -1;
	reqs = fake_requests(&fake);
	CHECK(reqs && cJSON_GetArraySize(reqs) > 0);
	cJSON_ArrayForEach(r, reqs)
	{
		const cJSON *svc = cJSON_GetObjectItemCaseSensitive(r, "service");
		struct prog *p = cJSON_IsString(svc) ? prog_of(svc->valuestring) : NULL;
		CHECK_MSG(p, "an upload for an unknown service");
		account(p, r, &u[p - progs], &files);
	}
	cJSON_Delete(reqs);

	for (size_t i = 0; i < nprogs; i++) {
		const struct prog *p = &progs[i];
		const struct uploads *x = &u[i];
		printf("  %-16s cpu %zu (burnCPU in %d), heap alloc %zu inuse %zu, block %zu, "
		       "mutex %zu, goroutine %zu\n",
		       p->service, x->cpu, x->cpu_burn, x->heap_alloc, x->heap_inuse, x->block,
		       x->mutex, x->goroutine);
		CHECK_MSG(!x->bad, "%s: malformed uploads", p->service);
		CHECK_MSG(x->cpu >= 2 && x->heap_alloc >= 1 && x->heap_inuse >= 2 &&
				  x->block >= 1 && x->mutex >= 1 && x->goroutine >= 2,
			  "%s: a profile type is missing", p->service);
		CHECK_MSG(x->cpu_burn >= 1 && x->block_fn >= 1 && x->mutex_fn >= 1 &&
				  x->goroutine_fn >= 1,
			  "%s: main.burnCPU %d, main.blockWork %d, main.mutexWork %d, "
			  "main.parkForever %d",
			  p->service, x->cpu_burn, x->block_fn, x->mutex_fn, x->goroutine_fn);
		if (p->delta_heap) {
			struct buf stats;
			buf_init(&stats, 0);
			prog_get(p, "/ctl/stats", &stats);
			printf("  %-16s main.allocWork alloc_space as uploaded: first %" PRId64
			       ", last %" PRId64 " (%s)\n",
			       p->service, x->godelta_first, x->godelta_last,
			       stats.data ? strtok(stats.data, "\n") : "");
			/* served cumulative values went up as they were: no baseline taken, no
			 * second delta */
			CHECK_MSG(x->first_heap_has_alloc && x->godelta_first > 0 &&
					  x->godelta_monotonic && x->godelta_last > x->godelta_first,
				  "%s: the delta_heap profile was delta'd again", p->service);
			CHECK(stats.data && !strstr(stats.data, "\"delta_heap\": 0}"));
			buf_free(&stats);
		}
		if (p->full && !p->delta_heap) {
			struct canon a, b;
			int64_t grow_space, grow_objects, sizes_space, sizes_objects, tol;
			size_t sizes_samples = count_samples(p->own_end, "main.sizesWork");
			CHECK_MSG(x->cpu_burn >= (int)x->cpu - 1, "%s: main.burnCPU in %d of %zu",
				  p->service, x->cpu_burn, x->cpu);
			CHECK(canon_load(p->own_start, &a) == 0);
			CHECK(canon_load(p->own_end, &b) == 0);
			grow_objects = canon_total(&b, 0, "main.allocWork ") -
				       canon_total(&a, 0, "main.allocWork ");
			grow_space = canon_total(&b, 1, "main.allocWork ") -
				     canon_total(&a, 1, "main.allocWork ");
			sizes_objects = canon_total(&b, 0, "main.sizesWork ") -
					canon_total(&a, 0, "main.sizesWork ");
			sizes_space = canon_total(&b, 1, "main.sizesWork ") -
				      canon_total(&a, 1, "main.sizesWork ");
			tol = 2 * (int64_t)x->heap_alloc + 2;
			printf("  %-16s main.allocWork: %zu windows, alloc_space deltas %" PRId64
			       " vs growth %" PRId64 ", alloc_objects %" PRId64 " vs %" PRId64 "\n",
			       p->service, x->heap_alloc, x->alloc_space, grow_space, x->alloc_objects,
			       grow_objects);
			printf("  %-16s main.sizesWork (%zu samples, one stack): alloc_space %" PRId64
			       " vs %" PRId64 ", alloc_objects %" PRId64 " vs %" PRId64
			       ", inuse_space %" PRId64 " vs %" PRId64 ", inuse_objects %" PRId64
			       " vs %" PRId64 "\n",
			       p->service, sizes_samples, x->sizes_alloc_space, sizes_space,
			       x->sizes_alloc_objects, sizes_objects, x->sizes_inuse_space,
			       canon_total(&b, 3, "main.sizesWork "), x->sizes_inuse_objects,
			       canon_total(&b, 2, "main.sizesWork "));
			CHECK_MSG(grow_space > (1 << 20), "%s: main.allocWork grew by %" PRId64,
				  p->service, grow_space);
			CHECK(llabs(x->alloc_space - grow_space) <= tol * 1024);
			CHECK(llabs(x->alloc_objects - grow_objects) <= tol);
			/* the merge case: many samples, one stack, four values each */
			CHECK_MSG(sizes_samples >= 10, "%s: main.sizesWork has %zu samples",
				  p->service, sizes_samples);
			CHECK(sizes_space > 0);
			CHECK(llabs(x->sizes_alloc_space - sizes_space) <= tol * 64);
			CHECK(llabs(x->sizes_alloc_objects - sizes_objects) <= tol);
			CHECK(llabs(x->sizes_inuse_space - canon_total(&b, 3, "main.sizesWork ")) <=
			      64);
			CHECK(llabs(x->sizes_inuse_objects - canon_total(&b, 2, "main.sizesWork ")) <=
			      2);
			CHECK(x->sizes_inuse_space > 0);
			canon_free(&a);
			canon_free(&b);
		}
	}

	/* go tool pprof, the parser Coroot uses, reads every body */
	snprintf(list, sizeof(list), "%s/bodies.txt", dir);
	CHECK(test_write_file(list, files.data, files.len) == 0);
	rejected = pprof_reads_all(list);
	for (size_t i = 0; i < files.len; i++)
		nread += files.data[i] == '\n';
	printf("  go tool pprof -raw: %d of %zu uploads rejected\n", rejected, nread);
	CHECK_EQ(rejected, 0);
	/* and finds main.burnCPU in a CPU profile of the newest target itself */
	{
		cJSON *all = fake_requests(&fake);
		int found = 0;
		cJSON_ArrayForEach(r, all)
		{
			char *path = fake_body_path(&fake, r);
			struct buf out;
			const cJSON *svc = cJSON_GetObjectItemCaseSensitive(r, "service");
			struct canon c;
			if (found || !path ||
			    strcmp(svc->valuestring, progs[nprogs - 2].service) != 0 ||
			    canon_load(path, &c) != 0) {
				free(path);
				continue;
			}
			if (c.nvalues == 2 && strcmp(c.types[1], "go:profile_cpu:nanoseconds") == 0 &&
			    canon_total(&c, 1, "main.burnCPU ") > 0) {
				buf_init(&out, 0);
				CHECK(test_pprof_raw(path, &out) == 0);
				found = strstr(out.data, "main.burnCPU") != NULL;
				buf_free(&out);
			}
			canon_free(&c);
			free(path);
		}
		cJSON_Delete(all);
		CHECK(found);
	}
	buf_free(&files);
	stop_all();
	fake_cleanup(&fake);
	if (!getenv("PODPROF_KEEP_TEST_DIRS"))
		test_rmtree(dir);
	free(dir);
}
