/*
 * The node profiler: the table of processes, one cycle of discovery and heap reads,
 * the per-bucket alloc deltas, the allocation metrics per container.
 *
 * A process is keyed by pid and start time, so a reused pid is a new process; every
 * process, Go or not, is inspected once (its binary once per device and inode), so a
 * cycle over a node's processes costs two small /proc reads per process plus the heap
 * reads of the Go ones. Alloc deltas are per bucket: buckets are never freed or moved
 * and their counts only grow, so a delta is exact and never negative.
 *
 * A heap read is a stream: each bucket of the walk becomes its alloc delta, an encoded
 * sample of each of the two profiles uploaded (alloc_* deltas, inuse_* values) and an
 * entry of the next alloc baseline, and is forgotten. What a process costs between
 * cycles is its baseline (allocbase.h, about 8 bytes a bucket), and during its read the
 * compressed profiles; both stop growing at --heap-max-buckets, where the read stops
 * and the profiles are marked partial.
 */
#define LOG_MODULE "node"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocbase.h"
#include "common.h"
#include "goproc.h"
#include "heapprofile.h"
#include "profiler.h"

#define DEFAULT_MAX_PROCESSES 100000
/* Bound on one uploaded profile (compressed): the uploader's bound on a body. */
#define MAX_PROFILE_BYTES ((size_t)64 << 20)

struct container {
	char *id;
	int procs;
	struct metric *alloc_bytes, *alloc_objects;
	struct container *next;
};

struct proc {
	int pid;
	struct proc_identity id;
	struct binentry *bin;
	int seen;             /* generation of the last scan that listed it */
	int go;               /* a Go binary */
	int inspected;        /* container, opt-out known */
	int forced;
	int env_unknown;      /* its environment could not be checked for the opt-out */
	int cycles;           /* heap reads done */
	uint64_t bias;
	int64_t last_ns;
	struct alloc_baseline base;
	struct container *container;
	struct goproc_info info;
	struct proc *next;    /* hash chain */
};

struct node_profiler {
	struct node_profiler_config cfg;
	struct bincache *bins;
	pthread_mutex_t lock; /* guards the table for node_profiler_list */
	struct proc **buckets;
	size_t nbuckets, nprocs, ngo;
	int generation;
	struct container *containers;
	struct log_ratelimit full_log;
	/* metrics */
	struct metric_family *alloc_bytes_family, *alloc_objects_family, *procs_family;
	struct metric *status_gauges[GOPROC_NSTATUS];
	struct metric *read_duration, *read_errors, *forced_total, *binaries, *symbols;
	struct metric *partial_total;
};

static const char *const status_names[GOPROC_NSTATUS] = {"profiling", "rate_zero", "unsupported",
							 "opted_out", "error", "partial"};

const char *goproc_status_name(enum goproc_status s)
{
	return s < GOPROC_NSTATUS ? status_names[s] : "unknown";
}

int goheap_mode_parse(const char *s, enum goheap_mode *out)
{
	if (strcmp(s, "disabled") == 0)
		*out = GOHEAP_DISABLED;
	else if (strcmp(s, "enabled") == 0)
		*out = GOHEAP_ENABLED;
	else if (strcmp(s, "force") == 0)
		*out = GOHEAP_FORCE;
	else
		return -EINVAL;
	return 0;
}

/* ---- containers (for the allocation metrics) ------------------------------------------ */

static struct container *container_get(struct node_profiler *np, const char *id)
{
	struct container *c;

	for (c = np->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			break;
	if (!c) {
		const char *labels[1] = {id};
		c = calloc(1, sizeof(*c));
		if (!c || !(c->id = strdup(id))) {
			free(c);
			return NULL;
		}
		if (np->alloc_bytes_family) {
			c->alloc_bytes = metrics_series(np->alloc_bytes_family, labels);
			c->alloc_objects = metrics_series(np->alloc_objects_family, labels);
		}
		c->next = np->containers;
		np->containers = c;
	}
	c->procs++;
	return c;
}

static void container_put(struct node_profiler *np, struct container *c)
{
	struct container **pp;

	if (!c || --c->procs > 0)
		return;
	for (pp = &np->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			const char *labels[1] = {c->id};
			*pp = c->next;
			if (np->alloc_bytes_family) {
				metrics_series_remove(np->alloc_bytes_family, labels);
				metrics_series_remove(np->alloc_objects_family, labels);
			}
			free(c->id);
			free(c);
			return;
		}
	}
}

/* ---- the process table ------------------------------------------------------------------ */

static struct proc **slot_of(struct node_profiler *np, int pid)
{
	struct proc **pp = &np->buckets[hash64_u64((uint64_t)pid, 0) % np->nbuckets];
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void proc_free(struct node_profiler *np, struct proc *p)
{
	if (p->go)
		np->ngo--;
	container_put(np, p->container);
	bincache_put(np->bins, p->bin);
	alloc_baseline_free(&p->base);
	free(p);
}

int node_profiler_new(const struct node_profiler_config *cfg, struct node_profiler **out)
{
	struct node_profiler *np = calloc(1, sizeof(*np));
	static const char *const cid[] = {"container_id"};
	static const char *const st[] = {"status"};

	*out = NULL;
	if (!np)
		return -ENOMEM;
	np->cfg = *cfg;
	if (!np->cfg.proc_root)
		np->cfg.proc_root = "/proc";
	if (!np->cfg.max_processes)
		np->cfg.max_processes = DEFAULT_MAX_PROCESSES;
	if (!np->cfg.max_buckets)
		np->cfg.max_buckets = GOHEAP_DEFAULT_MAX_BUCKETS;
	np->nbuckets = 4096;
	np->buckets = calloc(np->nbuckets, sizeof(*np->buckets));
	np->bins = bincache_new();
	if (!np->buckets || !np->bins) {
		node_profiler_free(np);
		return -ENOMEM;
	}
	pthread_mutex_init(&np->lock, NULL);
	if (cfg->metrics) {
		struct metrics_registry *m = cfg->metrics;
		np->alloc_bytes_family = metrics_family(
			m, METRIC_COUNTER, "container_go_alloc_bytes_total",
			"Bytes allocated by the Go processes of a container since podprof first saw "
			"them (sampled allocations scaled as runtime/pprof does)",
			cid, 1, NULL, 0);
		np->alloc_objects_family = metrics_family(
			m, METRIC_COUNTER, "container_go_alloc_objects_total",
			"Objects allocated by the Go processes of a container since podprof first "
			"saw them (scaled)",
			cid, 1, NULL, 0);
		np->procs_family = metrics_family(m, METRIC_GAUGE, "podprof_go_processes",
						  "Go processes seen on this node, by status", st, 1,
						  NULL, 0);
		for (int i = 0; i < GOPROC_NSTATUS; i++) {
			const char *v[1] = {status_names[i]};
			np->status_gauges[i] = np->procs_family ? metrics_series(np->procs_family, v)
								: NULL;
		}
		np->read_duration = metrics_histogram(
			m, "podprof_heap_read_duration_seconds",
			"Time to read, symbolize and build one process's heap profile",
			metrics_duration_buckets, metrics_duration_buckets_len);
		np->read_errors = metrics_counter(m, "podprof_heap_read_errors_total",
						  "Heap reads that failed (process gone, memory "
						  "unreadable, malformed list)");
		np->partial_total = metrics_counter(m, "podprof_heap_partial_total",
						    "Heap reads stopped at --heap-max-buckets: partial "
						    "profiles (the newest buckets), uploaded as such");
		np->forced_total = metrics_counter(m, "podprof_heap_force_enabled_total",
						   "Processes whose MemProfileRate podprof set (force "
						   "mode)");
		np->binaries = metrics_gauge(m, "podprof_go_binaries", "Executables inspected and cached");
		np->symbols = metrics_gauge(m, "podprof_symbol_cache_entries",
					    "Symbolized PCs cached over all binaries");
	}
	*out = np;
	return 0;
}

void node_profiler_free(struct node_profiler *np)
{
	if (!np)
		return;
	if (np->buckets) {
		for (size_t i = 0; i < np->nbuckets; i++) {
			while (np->buckets[i]) {
				struct proc *p = np->buckets[i];
				np->buckets[i] = p->next;
				proc_free(np, p);
			}
		}
		pthread_mutex_destroy(&np->lock);
	}
	free(np->buckets);
	bincache_free(np->bins);
	free(np);
}

/* Learns a new process: its binary, and if Go, its container and opt-out. */
static int inspect(struct node_profiler *np, struct proc *p)
{
	const struct gobin *b;
	const char *exe_name;
	int r;

	r = bincache_get(np->bins, np->cfg.proc_root, p->pid, p->id.dev, p->id.ino, &p->bin);
	if (r)
		return r;
	b = p->bin->bin;
	if (!b)
		return 0;
	p->go = 1;
	np->ngo++;
	p->info.pid = p->pid;
	p->info.rate = -1;
	snprintf(p->info.exe, sizeof(p->info.exe), "%s", b->path);
	{
		char link[4200];
		ssize_t n;
		snprintf(link, sizeof(link), "%s/%d/exe", np->cfg.proc_root, p->pid);
		n = readlink(link, p->info.exe, sizeof(p->info.exe) - 1);
		p->info.exe[n > 0 ? n : 0] = '\0';
	}
	snprintf(p->info.go_version, sizeof(p->info.go_version), "%s", b->info.version);
	p->info.symbols = gobin_symbol_source_name(b->symbols);
	exe_name = strrchr(p->info.exe, '/');
	exe_name = exe_name ? exe_name + 1 : p->info.exe;
	{
		struct container_info ci;
		if (container_info_read(np->cfg.proc_root, p->pid, np->cfg.container_log_dir,
					exe_name, &ci) != 0) {
			snprintf(ci.container_id, sizeof(ci.container_id), "/");
			snprintf(ci.service_name, sizeof(ci.service_name), "%s", exe_name);
		}
		snprintf(p->info.container_id, sizeof(p->info.container_id), "%s", ci.container_id);
		snprintf(p->info.service_name, sizeof(p->info.service_name), "%s", ci.service_name);
	}
	p->container = container_get(np, p->info.container_id);
	if (b->unsupported[0] || b->symbols == GOBIN_SYM_NONE) {
		p->info.status = GOPROC_UNSUPPORTED;
		snprintf(p->info.reason, sizeof(p->info.reason), "%s",
			 b->unsupported[0] ? b->unsupported : "runtime variables not found");
	} else if ((r = proc_opted_out(np->cfg.proc_root, p->pid)) != 0) {
		/* an environment that cannot be read might hold the opt-out: skip it */
		p->info.status = r > 0 ? GOPROC_OPTED_OUT : GOPROC_ERROR;
		p->env_unknown = r < 0;
		snprintf(p->info.reason, sizeof(p->info.reason), "%s%s",
			 r > 0 ? "COROOT_EBPF_PROFILING=disabled"
			       : "cannot read its environment to check COROOT_EBPF_PROFILING: ",
			 r > 0 ? "" : strerror(-r));
	} else {
		p->info.status = GOPROC_PROFILING;
	}
	return 0;
}

/* One process's heap read in progress: what the walk's callback needs. */
struct read_ctx {
	struct proc *p;
	struct alloc_pass pass;
	struct heap_writer *w; /* NULL when no profile is wanted */
	int first;             /* the process's first read: a baseline, no deltas */
	int64_t add_bytes, add_objects;
};

static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/* A bucket of the walk: its alloc delta, its sample, its entry in the next baseline. */
static int on_bucket(void *ctx, const struct heap_bucket *bk, const struct heap_walk_info *info)
{
	struct read_ctx *rc = ctx;
	uint64_t now[2] = {bk->counts.allocs, bk->counts.alloc_bytes}, before[2], d[2] = {0, 0};
	struct heap_values v;
	int r = alloc_pass_step(&rc->pass, bk->addr, now, before);

	if (r)
		return r;
	heap_values_cumulative(bk, &v);
	/* a bucket new since the previous read counted everything since then; and the
	 * published counts can lag for a moment after the first GC: the baseline keeps the
	 * highest seen, so that nothing is counted twice */
	if (!rc->first) {
		d[0] = delta(now[0], before[0]);
		d[1] = delta(now[1], before[1]);
	}
	v.alloc_objects = d[0] > INT64_MAX ? INT64_MAX : (int64_t)d[0];
	v.alloc_bytes = d[1] > INT64_MAX ? INT64_MAX : (int64_t)d[1];
	if (d[0]) {
		int64_t so, sb;
		heap_scale(v.alloc_objects, v.alloc_bytes, info->rate, &so, &sb);
		rc->add_objects += so;
		rc->add_bytes += sb;
	}
	return rc->w ? heap_writer_add(rc->w, bk, &v, info) : 0;
}

/* Hands the two profiles of a read (alloc deltas in out[0], inuse values in out[1]) to
 * emit, each that has samples; named as the uploader names the parts of one profile. */
static void emit_parts(struct node_profiler *np, struct proc *p, const struct buf *out,
		       const size_t *samples, int partial, int64_t time_ns, int64_t duration_ns,
		       node_emit_fn emit, void *ctx)
{
	static const char *const part_kinds[2] = {"heap-alloc_objects", "heap-inuse_objects"};
	const char *names[4] = {"container.id", "host.name", "host.id", "podprof.partial"};
	const char *values[4] = {p->info.container_id, np->cfg.host_name ? np->cfg.host_name : "",
				 np->cfg.host_id ? np->cfg.host_id : "", "true"};
	struct node_profile_meta meta = {
		.proc = &p->info,
		.service_name = p->info.service_name,
		.label_names = names,
		.label_values = values,
		.nlabels = partial ? 4 : 3,
		.time_ns = time_ns,
		.duration_ns = duration_ns,
	};

	for (int i = 0; i < 2; i++) {
		if (!samples[i])
			continue;
		meta.kind = samples[0] && samples[1] ? part_kinds[i] : "heap";
		emit(ctx, &meta, out[i].data, out[i].len);
	}
}

static void read_process(struct node_profiler *np, struct proc *p, node_emit_fn emit, void *ctx)
{
	struct read_ctx rc = {.p = p, .first = p->cycles == 0};
	struct heap_profile_spec spec = {.type_names = heap_type_names_coroot, .split = 1};
	struct heap_limits lim = {.max_buckets = np->cfg.max_buckets};
	struct heap_walk_info info = {0};
	struct buf out[2];
	size_t samples[2] = {0, 0};
	int64_t t0 = time_mono_ns(), rate = -1, time_ns = 0, duration_ns = 0;
	char reason[200];
	int forced_before = p->forced, was_partial = p->info.status == GOPROC_PARTIAL, r;

	buf_init(&out[0], MAX_PROFILE_BYTES);
	buf_init(&out[1], MAX_PROFILE_BYTES);
	alloc_pass_begin(&rc.pass, &p->base);
	r = emit ? heap_writer_new(&spec, p->bin->syms, out, &rc.w) : 0;
	if (r == 0)
		r = goproc_read_heap(np->cfg.proc_root, p->pid, &p->id, p->bin->bin,
				     np->cfg.mode == GOHEAP_FORCE, &p->forced, &p->bias, &lim,
				     on_bucket, &rc, &info, &rate, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "cannot start its profile: %s", strerror(-r));
	if (r == 0 && rc.w) {
		time_ns = time_real_ns();
		duration_ns = p->last_ns ? t0 - p->last_ns : np->cfg.interval_ns;
		heap_writer_set_time(rc.w, time_ns, duration_ns);
		r = heap_writer_finish(rc.w, &info, samples);
		if (r)
			snprintf(reason, sizeof(reason), "cannot write its profile: %s",
				 strerror(-r));
	}
	if (r == 0)
		r = alloc_pass_end(&rc.pass, &p->base);
	else
		alloc_pass_discard(&rc.pass);
	if (p->forced && !forced_before)
		metric_inc(np->forced_total);
	pthread_mutex_lock(&np->lock);
	p->info.rate = rate;
	p->info.forced = p->forced;
	if (r == -EAGAIN) {
		p->info.status = GOPROC_RATE_ZERO;
		snprintf(p->info.reason, sizeof(p->info.reason), "%s", reason);
	} else if (r) {
		p->info.status = GOPROC_ERROR;
		snprintf(p->info.reason, sizeof(p->info.reason), "%s",
			 reason[0] ? reason : strerror(-r));
	} else if (info.partial) {
		goproc_mark_partial(&p->info, info.nbuckets);
	} else {
		p->info.status = GOPROC_PROFILING;
		p->info.reason[0] = '\0';
		p->info.buckets = info.nbuckets;
	}
	pthread_mutex_unlock(&np->lock);
	if (r) {
		if (r != -EAGAIN) {
			metric_inc(np->read_errors);
			log_debug("pid %d: heap not read: %s", p->pid, reason[0] ? reason : strerror(-r));
		}
		goto out;
	}
	if (info.partial) {
		metric_inc(np->partial_total);
		if (!was_partial)
			log_warn("pid %d (%s): more than %zu heap buckets: the newest are read and "
				 "its profiles marked partial (--heap-max-buckets)",
				 p->pid, p->info.exe, info.nbuckets);
	}
	if (p->container) {
		metric_add(p->container->alloc_bytes, (double)rc.add_bytes);
		metric_add(p->container->alloc_objects, (double)rc.add_objects);
	}
	if (emit)
		emit_parts(np, p, out, samples, info.partial, time_ns, duration_ns, emit, ctx);
	p->cycles++;
	p->last_ns = t0;
	p->info.read_ns = time_mono_ns() - t0;
	metric_observe(np->read_duration, (double)p->info.read_ns / 1e9);
out:
	heap_writer_free(rc.w);
	buf_free(&out[0]);
	buf_free(&out[1]);
}

int node_profiler_cycle(struct node_profiler *np, node_emit_fn emit, void *ctx)
{
	DIR *d = opendir(np->cfg.proc_root);
	struct dirent *e;
	int counts[GOPROC_NSTATUS] = {0};

	if (!d)
		return -errno;
	np->generation++;
	while ((e = readdir(d)) != NULL) {
		struct proc_identity id;
		struct proc **pp, *p;
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == np->cfg.self_pid)
			continue;
		if (proc_identity_read(np->cfg.proc_root, (int)pid, &id) != 0)
			continue; /* gone, a kernel thread, or a zombie */
		pthread_mutex_lock(&np->lock);
		pp = slot_of(np, (int)pid);
		p = *pp;
		if (p && (p->id.starttime != id.starttime || p->id.dev != id.dev ||
			  p->id.ino != id.ino)) {
			/* the pid was reused, or the process exec'd: a new process */
			*pp = p->next;
			np->nprocs--;
			proc_free(np, p);
			p = NULL;
		}
		if (!p) {
			if (np->nprocs >= np->cfg.max_processes) {
				pthread_mutex_unlock(&np->lock);
				if (log_ratelimit_allow(&np->full_log, 60 * NS_PER_SEC))
					log_warn("more than %zu processes: the rest are not inspected",
						 np->cfg.max_processes);
				continue;
			}
			p = calloc(1, sizeof(*p));
			if (!p) {
				pthread_mutex_unlock(&np->lock);
				continue;
			}
			p->pid = (int)pid;
			p->id = id;
			if (inspect(np, p) != 0) {
				pthread_mutex_unlock(&np->lock);
				free(p);
				continue;
			}
			p->next = np->buckets[hash64_u64((uint64_t)pid, 0) % np->nbuckets];
			np->buckets[hash64_u64((uint64_t)pid, 0) % np->nbuckets] = p;
			np->nprocs++;
		}
		p->seen = np->generation;
		pthread_mutex_unlock(&np->lock);
		if (p->go && np->cfg.mode != GOHEAP_DISABLED && !p->env_unknown &&
		    (p->info.status == GOPROC_PROFILING || p->info.status == GOPROC_RATE_ZERO ||
		     p->info.status == GOPROC_ERROR || p->info.status == GOPROC_PARTIAL))
			read_process(np, p, emit, ctx);
		if (p->go)
			counts[p->info.status]++;
	}
	closedir(d);
	/* forget processes that are gone */
	pthread_mutex_lock(&np->lock);
	for (size_t i = 0; i < np->nbuckets; i++) {
		struct proc **pp = &np->buckets[i];
		while (*pp) {
			struct proc *p = *pp;
			if (p->seen != np->generation) {
				*pp = p->next;
				np->nprocs--;
				proc_free(np, p);
			} else {
				pp = &p->next;
			}
		}
	}
	pthread_mutex_unlock(&np->lock);
	for (int i = 0; i < GOPROC_NSTATUS; i++)
		metric_set(np->status_gauges[i], counts[i]);
	metric_set(np->binaries, (double)bincache_count(np->bins));
	metric_set(np->symbols, (double)bincache_symbols(np->bins));
	return 0;
}

size_t node_profiler_list(struct node_profiler *np, struct goproc_info *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&np->lock);
	for (size_t i = 0; i < np->nbuckets; i++)
		for (struct proc *p = np->buckets[i]; p; p = p->next)
			if (p->go && n < max)
				out[n++] = p->info;
	pthread_mutex_unlock(&np->lock);
	return n;
}

size_t node_profiler_count(struct node_profiler *np)
{
	size_t n;
	pthread_mutex_lock(&np->lock);
	n = np->ngo;
	pthread_mutex_unlock(&np->lock);
	return n;
}
