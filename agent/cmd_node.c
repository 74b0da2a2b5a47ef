/*
 * `podprof node`: the node role. Every --interval it reads the heap of every Go
 * process on the node and hands the profiles to the uploader; /metrics carries the
 * allocation counters per container, /processes lists what it sees.
 */
#define LOG_MODULE "node"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "pprof.h"
#include "profiler.h"
#include "role.h"

#define MAX_LISTED 4096

struct node_ctx {
	struct uploader *uploader;
	struct node_profiler *np;
	unsigned long long emitted;
};

static int emit(void *ctx, const struct node_profile_meta *meta, const void *body, size_t len)
{
	struct node_ctx *c = ctx;
	struct upload_label labels[8];
	struct upload_meta um = {.service_name = meta->service_name,
				 .kind = meta->kind,
				 .labels = labels,
				 .nlabels = meta->nlabels < 8 ? meta->nlabels : 8,
				 .time_ns = meta->time_ns};

	for (size_t i = 0; i < um.nlabels; i++) {
		labels[i].name = meta->label_names[i];
		labels[i].value = meta->label_values[i];
	}
	c->emitted++;
	return uploader_submit(c->uploader, &um, body, len);
}

/* The /processes page: one line per Go process. */
static int processes_page(void *ctx, const char *format, struct buf *out,
			const char **content_type)
{
	(void)format;
	struct node_ctx *c = ctx;
	struct goproc_info *list = malloc(MAX_LISTED * sizeof(*list));
	size_t n;
	int r;

	if (!list)
		return -ENOMEM;
	n = node_profiler_list(c->np, list, MAX_LISTED);
	*content_type = "text/plain; charset=utf-8";
	r = buf_printf(out, "%-8s %-11s %-8s %-13s %-12s %-8s %s\n", "PID", "GO", "RATE", "SYMBOLS",
		       "STATUS", "BUCKETS", "CONTAINER / REASON");
	for (size_t i = 0; i < n && !r; i++)
		r = buf_printf(out, "%-8d %-11s %-8lld %-13s %-12s %-8zu %s%s%s\n", list[i].pid,
			       list[i].go_version, (long long)list[i].rate, list[i].symbols,
			       goproc_status_name(list[i].status), list[i].buckets,
			       list[i].container_id, list[i].reason[0] ? "  # " : "",
			       list[i].reason);
	free(list);
	return r;
}

/* The machine id of the host: through /proc/1/root with hostPID, else our own. */
static void read_machine_id(const char *proc_root, char *out, size_t len)
{
	char path[4200];
	const char *candidates[3];
	FILE *f;

	snprintf(path, sizeof(path), "%s/1/root/etc/machine-id", proc_root);
	candidates[0] = path;
	candidates[1] = "/etc/machine-id";
	candidates[2] = "/sys/class/dmi/id/product_uuid";
	out[0] = '\0';
	for (size_t i = 0; i < 3 && !out[0]; i++) {
		f = fopen(candidates[i], "re");
		if (!f)
			continue;
		if (fgets(out, (int)len, f))
			out[strcspn(out, "\r\n")] = '\0';
		fclose(f);
	}
}

int cmd_node(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	struct node_profiler_config ncfg;
	struct node_ctx ctx = {0};
	struct role role;
	char hostname[256] = "", machine_id[128];
	enum goheap_mode mode;
	int status = 2, r;

	r = config_parse(CMD_NODE, argc, argv, envp, &cfg);
	if (r == 1)
		return config_print_help(CMD_NODE, "podprof node [options]",
					 "Runs the node role: every --interval, reads the heap profile of every "
					 "Go process on this node out of its memory (no change to the "
					 "application) and uploads it to Coroot, or writes it under --output-dir "
					 "(./profiles when no endpoint is set).");
	if (r)
		return 2;
	if (cfg.nargs) {
		fprintf(stderr, "podprof node: unexpected argument '%s'\n", cfg.args[0]);
		goto out;
	}
	goheap_mode_parse(cfg.go_heap_profiler, &mode);
	status = 1;
	if (role_start(&cfg, "profiles", &role) != 0)
		goto out;
	if (cfg.node_name && *cfg.node_name)
		snprintf(hostname, sizeof(hostname), "%s", cfg.node_name);
	else
		gethostname(hostname, sizeof(hostname) - 1);
	read_machine_id(cfg.proc_root, machine_id, sizeof(machine_id));
	memset(&ncfg, 0, sizeof(ncfg));
	ncfg.proc_root = cfg.proc_root;
	ncfg.container_log_dir = cfg.container_log_dir;
	ncfg.mode = mode;
	ncfg.metrics = role.metrics;
	ncfg.host_name = hostname;
	ncfg.host_id = machine_id;
	ncfg.self_pid = (int)getpid();
	ncfg.interval_ns = cfg.interval_ns;
	ncfg.max_buckets = (size_t)cfg.heap_max_buckets;
	r = node_profiler_new(&ncfg, &ctx.np);
	if (r) {
		log_error("cannot start the node profiler: %s", strerror(-r));
		role_stop(&role);
		goto out;
	}
	ctx.uploader = role.uploader;
	if (role.http)
		http_server_add_page(role.http, "/processes", processes_page, &ctx);
	if (mode == GOHEAP_DISABLED)
		log_info("Go heap profiling is disabled (GO_HEAP_PROFILER=disabled)");
	else
		log_info("reading the heap of Go processes under %s every %llds (mode %s)",
			 cfg.proc_root, (long long)(cfg.interval_ns / NS_PER_SEC),
			 cfg.go_heap_profiler);
	do {
		int64_t start = time_mono_ns();
		r = node_profiler_cycle(ctx.np, mode == GOHEAP_DISABLED ? NULL : emit, &ctx);
		if (r)
			log_error("cannot scan %s: %s", cfg.proc_root, strerror(-r));
		else if (role.http)
			http_server_set_ready(role.http, 1);
		/*
		 * A cycle's buffers (a large binary's sections, a big process's buckets) raise
		 * glibc's dynamic mmap and trim thresholds, after which freed memory stays in
		 * the arenas: between cycles the agent holds a few MiB of data, so give the
		 * rest back, or the node's RSS creeps up with every large read.
		 */
		malloc_trim(0);
		log_debug("cycle: %zu Go processes, %.3f s", node_profiler_count(ctx.np),
			  (double)(time_mono_ns() - start) / 1e9);
		if (cfg.once)
			break;
	} while (!role_sleep(cfg.interval_ns - (time_mono_ns() % cfg.interval_ns)));

	if (cfg.once && uploader_flush(role.uploader, cfg.upload_timeout_ns * 3) != 0)
		log_warn("some profiles were not delivered before exiting%s",
			 cfg.spool_dir ? "; they stay in the spool" : "");
	log_info("stopping after %llu profiles", ctx.emitted);
	if (role.http)
		http_server_stop(role.http);
	role.http = NULL;
	node_profiler_free(ctx.np);
	role_stop(&role);
	status = 0;
out:
	config_free(&cfg);
	return status;
}
