/*
 * The one-shot commands' side of the profiler: `podprof heap PID` (a cumulative
 * profile, as the process's own runtime/pprof would write it) and `podprof ps`.
 */
#define LOG_MODULE "heap"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "goproc.h"
#include "heapprofile.h"
#include "procmem.h"
#include "profiler.h"

/* Fills info for pid from its binary (status UNSUPPORTED/PROFILING, opt-out). */
static int describe(const char *proc_root, int pid, struct bincache *bins,
		    struct proc_identity *id, struct binentry **bin, struct goproc_info *info)
{
	char link[4200];
	ssize_t n;
	const struct gobin *b;
	int r;

	memset(info, 0, sizeof(*info));
	info->pid = pid;
	info->rate = -1;
	r = proc_identity_read(proc_root, pid, id);
	if (r)
		return r;
	r = bincache_get(bins, proc_root, pid, id->dev, id->ino, bin);
	if (r)
		return r;
	b = (*bin)->bin;
	if (!b)
		return -ENOENT;
	snprintf(link, sizeof(link), "%s/%d/exe", proc_root, pid);
	n = readlink(link, info->exe, sizeof(info->exe) - 1);
	info->exe[n > 0 ? n : 0] = '\0';
	snprintf(info->go_version, sizeof(info->go_version), "%s", b->info.version);
	info->symbols = gobin_symbol_source_name(b->symbols);
	{
		struct container_info ci;
		const char *exe_name = strrchr(info->exe, '/');
		exe_name = exe_name ? exe_name + 1 : info->exe;
		if (container_info_read(proc_root, pid, "/var/log/containers", exe_name, &ci) == 0) {
			snprintf(info->container_id, sizeof(info->container_id), "%s", ci.container_id);
			snprintf(info->service_name, sizeof(info->service_name), "%s", ci.service_name);
		}
	}
	if (b->unsupported[0] || b->symbols == GOBIN_SYM_NONE) {
		info->status = GOPROC_UNSUPPORTED;
		snprintf(info->reason, sizeof(info->reason), "%s",
			 b->unsupported[0] ? b->unsupported : "runtime variables not found");
		return -ENOTSUP;
	}
	r = proc_opted_out(proc_root, pid);
	if (r != 0) {
		info->status = r > 0 ? GOPROC_OPTED_OUT : GOPROC_ERROR;
		snprintf(info->reason, sizeof(info->reason), "%s%s",
			 r > 0 ? "COROOT_EBPF_PROFILING=disabled"
			       : "cannot read its environment to check COROOT_EBPF_PROFILING: ",
			 r > 0 ? "" : strerror(-r));
		return r > 0 ? 0 : r;
	}
	info->status = GOPROC_PROFILING;
	return 0;
}

/* The walk's callback: every bucket into the profile, cumulative values. */
static int write_bucket(void *ctx, const struct heap_bucket *b, const struct heap_walk_info *info)
{
	return heap_writer_add(ctx, b, NULL, info);
}

/* The executable's text mapping of pid, so that pprof tools can match addresses. */
static int text_mapping(const char *proc_root, int pid, const struct gobin *b,
			struct pprof_mapping_info *mapping)
{
	struct procmem *m = NULL;
	const struct proc_mapping *maps;
	size_t n;
	int found = 0;

	if (procmem_open(proc_root, pid, &m) != 0)
		return 0;
	maps = procmem_mappings(m, &n);
	for (size_t i = 0; i < n && !found; i++) {
		if (maps[i].inode == (uint64_t)b->ino && maps[i].perms[2] == 'x') {
			mapping->memory_start = maps[i].start;
			mapping->memory_limit = maps[i].end;
			mapping->file_offset = maps[i].offset;
			mapping->build_id = b->build_id;
			mapping->has_functions = mapping->has_filenames = 1;
			mapping->has_line_numbers = mapping->has_inline_frames = 1;
			found = 1;
		}
	}
	procmem_close(m);
	return found;
}

int goheap_read_pid(const char *proc_root, int pid, int force, size_t max_buckets,
		    struct goproc_info *info, int *partial, struct buf *out)
{
	struct bincache *bins = bincache_new();
	struct binentry *bin = NULL;
	struct proc_identity id;
	struct pprof_mapping_info mapping = {0};
	struct heap_profile_spec spec = {0};
	struct heap_limits lim = {.max_buckets = max_buckets};
	struct heap_walk_info walk;
	struct heap_writer *w = NULL;
	uint64_t bias = 0;
	size_t samples;
	int forced = 0, r;

	*partial = 0;
	if (!bins)
		return -ENOMEM;
	r = describe(proc_root, pid, bins, &id, &bin, info);
	if (r)
		goto out;
	if (text_mapping(proc_root, pid, bin->bin, &mapping)) {
		mapping.filename = info->exe;
		spec.mapping = &mapping;
	}
	spec.time_ns = time_real_ns();
	r = heap_writer_new(&spec, bin->syms, out, &w);
	if (r)
		goto out;
	r = goproc_read_heap(proc_root, pid, &id, bin->bin, force, &forced, &bias, &lim,
			     write_bucket, w, &walk, &info->rate, info->reason,
			     sizeof(info->reason));
	info->forced = forced;
	if (r) {
		info->status = r == -EAGAIN ? GOPROC_RATE_ZERO : GOPROC_ERROR;
		goto out;
	}
	info->buckets = walk.nbuckets;
	if (walk.partial)
		goproc_mark_partial(info, walk.nbuckets);
	r = heap_writer_finish(w, &walk, &samples);
	*partial = walk.partial;
out:
	/* an unfinished writer takes back what it wrote */
	heap_writer_free(w);
	bincache_put(bins, bin);
	bincache_free(bins);
	return r;
}

/* How many heap buckets the node role would read: marks info partial beyond the bound
 * (the list is walked that far, not further; its stacks are not read). */
static void count_buckets(struct procmem *m, const struct gobin *b, uint64_t bias,
			  size_t max_buckets, struct goproc_info *info)
{
	struct heap_limits lim = {.max_buckets = max_buckets};
	struct heap_walk_info walk;

	if (heap_walk(m, b, bias, &lim, NULL, NULL, &walk) != 0)
		return;
	info->buckets = walk.nbuckets;
	if (walk.partial)
		goproc_mark_partial(info, walk.nbuckets);
}

int goheap_ps(const char *proc_root, enum goheap_mode mode, size_t max_buckets,
	      int (*fn)(void *ctx, const struct goproc_info *info), void *ctx)
{
	struct bincache *bins = bincache_new();
	DIR *d = opendir(proc_root);
	struct dirent *e;
	int listed = 0, self = (int)getpid();

	if (!bins || !d) {
		int r = d ? -ENOMEM : -errno;
		if (d)
			closedir(d);
		bincache_free(bins);
		return r;
	}
	while ((e = readdir(d)) != NULL) {
		struct goproc_info info;
		struct proc_identity id;
		struct binentry *bin = NULL;
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int r;

		if (*end || pid <= 0 || pid == self)
			continue;
		r = describe(proc_root, (int)pid, bins, &id, &bin, &info);
		if (r == 0 && info.status == GOPROC_PROFILING) {
			struct procmem *m = NULL;
			uint64_t bias;
			if (procmem_open(proc_root, (int)pid, &m) == 0 &&
			    proc_load_bias(m, bin->bin, &bias) == 0 &&
			    heap_read_rate(m, bin->bin, bias, &info.rate) == 0) {
				if (info.rate == 0 && mode != GOHEAP_FORCE) {
					info.status = GOPROC_RATE_ZERO;
					snprintf(info.reason, sizeof(info.reason),
						 "heap profiling is off in the process "
						 "(MemProfileRate=0); GO_HEAP_PROFILER=force turns it on");
				} else if (info.rate == 0) {
					snprintf(info.reason, sizeof(info.reason),
						 "MemProfileRate=0: force mode will set %d",
						 GOHEAP_FORCE_RATE);
				} else {
					count_buckets(m, bin->bin, bias, max_buckets, &info);
				}
			} else {
				info.status = GOPROC_ERROR;
				snprintf(info.reason, sizeof(info.reason),
					 "cannot read its memory (podprof needs CAP_SYS_PTRACE)");
			}
			procmem_close(m);
		}
		if (r == 0 || r == -ENOTSUP || (r < 0 && info.go_version[0])) {
			listed++;
			if (fn(ctx, &info))
				break;
		}
		bincache_put(bins, bin);
	}
	closedir(d);
	bincache_free(bins);
	return listed;
}
