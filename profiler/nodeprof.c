/*
 * The node profiler: the table of processes, one cycle of discovery and heap reads,
 * the per-bucket alloc deltas, the allocation metrics per container.
 *
 * A process is keyed by pid and start time, so a reused pid is a new process; every
 * process, Go or not, is inspected once (its binary once per device and inode), so a
 * cycle over a node's processes costs two small /proc reads per process plus the heap
 * reads of the Go ones. Alloc deltas are keyed by bucket address: buckets are never
 * freed or moved and their counts only grow, so a delta is exact and never negative.
 */
#define LOG_MODULE "node"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "goproc.h"
#include "heapprofile.h"
#include "profiler.h"

#define DEFAULT_MAX_PROCESSES 100000

/* previous cumulative alloc counts of one bucket */
struct prev_slot {
	uint64_t addr;
	uint64_t allocs, alloc_bytes;
};

struct prevmap {
	struct prev_slot *slots;
	size_t cap, n;
};

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
	struct prevmap prev;
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
};

static const char *const status_names[GOPROC_NSTATUS] = {"profiling", "rate_zero", "unsupported",
							 "opted_out", "error"};

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

/* ---- previous counts per bucket ------------------------------------------------------ */

static struct prev_slot *prev_find(struct prevmap *m, uint64_t addr, int create)
{
	size_t i;

	if (create && (m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct prev_slot *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return NULL;
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->slots[k].addr)
				continue;
			for (i = hash64_u64(m->slots[k].addr, 0) & (cap - 1); slots[i].addr;
			     i = (i + 1) & (cap - 1))
				;
			slots[i] = m->slots[k];
		}
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	if (!m->cap)
		return NULL;
	for (i = hash64_u64(addr, 0) & (m->cap - 1); m->slots[i].addr; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].addr == addr)
			return &m->slots[i];
	if (!create)
		return NULL;
	m->slots[i].addr = addr;
	m->n++;
	return &m->slots[i];
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
	free(p->prev.slots);
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

static void emit_profile(struct node_profiler *np, struct proc *p, struct heap_snapshot *s,
			 int64_t now, node_emit_fn emit, void *ctx)
{
	struct heap_values *vals = calloc(s->nbuckets ? s->nbuckets : 1, sizeof(*vals));
	struct heap_profile_spec spec = {.type_names = heap_type_names_coroot};
	struct pprof_profile *prof = NULL;
	int64_t add_bytes = 0, add_objects = 0;
	int first = p->cycles == 0;

	if (!vals)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		const struct heap_bucket *bk = &s->buckets[i];
		struct prev_slot *prev = prev_find(&p->prev, bk->addr, 1);
		uint64_t d_objects = 0, d_bytes = 0;

		heap_values_cumulative(bk, &vals[i]);
		if (!prev)
			continue; /* out of memory: this bucket reports no alloc delta */
		if (!first) {
			/* a bucket never seen before: everything it counted is new */
			if (bk->counts.allocs > prev->allocs)
				d_objects = bk->counts.allocs - prev->allocs;
			if (bk->counts.alloc_bytes > prev->alloc_bytes)
				d_bytes = bk->counts.alloc_bytes - prev->alloc_bytes;
		}
		/* the published counts can lag for a moment after the first GC: keep the
		 * highest seen, so that nothing is counted twice */
		if (bk->counts.allocs > prev->allocs)
			prev->allocs = bk->counts.allocs;
		if (bk->counts.alloc_bytes > prev->alloc_bytes)
			prev->alloc_bytes = bk->counts.alloc_bytes;
		vals[i].alloc_objects = (int64_t)d_objects;
		vals[i].alloc_bytes = (int64_t)d_bytes;
		if (d_objects) {
			int64_t so, sb;
			heap_scale((int64_t)d_objects, (int64_t)d_bytes, s->rate, &so, &sb);
			add_objects += so;
			add_bytes += sb;
		}
	}
	if (p->container) {
		metric_add(p->container->alloc_bytes, (double)add_bytes);
		metric_add(p->container->alloc_objects, (double)add_objects);
	}
	spec.time_ns = time_real_ns();
	spec.duration_ns = p->last_ns ? now - p->last_ns : np->cfg.interval_ns;
	if (emit && heap_profile_build(s, vals, p->bin->syms, p->bias, &spec, &prof) == 0) {
		const char *names[3] = {"container.id", "host.name", "host.id"};
		const char *values[3] = {p->info.container_id, np->cfg.host_name ? np->cfg.host_name : "",
					 np->cfg.host_id ? np->cfg.host_id : ""};
		struct node_profile_meta meta = {
			.proc = &p->info,
			.service_name = p->info.service_name,
			.label_names = names,
			.label_values = values,
			.nlabels = 3,
			.time_ns = spec.time_ns,
			.duration_ns = spec.duration_ns,
		};
		emit(ctx, &meta, prof);
	}
	pprof_profile_free(prof);
	free(vals);
}

static void read_process(struct node_profiler *np, struct proc *p, node_emit_fn emit, void *ctx)
{
	struct heap_snapshot s;
	int64_t t0 = time_mono_ns(), rate = -1;
	char reason[200];
	int forced_before = p->forced, r;

	r = goproc_read_heap(np->cfg.proc_root, p->pid, &p->id, p->bin->bin,
			     np->cfg.mode == GOHEAP_FORCE, &p->forced, &p->bias, &s, &rate, reason,
			     sizeof(reason));
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
	} else {
		p->info.status = GOPROC_PROFILING;
		p->info.reason[0] = '\0';
		p->info.buckets = s.nbuckets;
	}
	pthread_mutex_unlock(&np->lock);
	if (r) {
		if (r != -EAGAIN) {
			metric_inc(np->read_errors);
			log_debug("pid %d: heap not read: %s", p->pid, reason[0] ? reason : strerror(-r));
		}
		return;
	}
	emit_profile(np, p, &s, t0, emit, ctx);
	heap_snapshot_free(&s);
	p->cycles++;
	p->last_ns = t0;
	p->info.read_ns = time_mono_ns() - t0;
	metric_observe(np->read_duration, (double)p->info.read_ns / 1e9);
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
		     p->info.status == GOPROC_ERROR))
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
