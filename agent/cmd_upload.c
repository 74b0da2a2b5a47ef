/*
 * `podprof upload`: sends pprof files through the same uploader as the agent roles
 * (Coroot with retries and the spool, and/or the output directory). Useful to deliver
 * profiles captured elsewhere, and the way the uploader is exercised end to end.
 */
#define LOG_MODULE "upload"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "pprof.h"
#include "role.h"
#include "timeutil.h"

/* Reads a whole file into out, whose bound limits the size. */
static int read_file(const char *path, struct buf *out)
{
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");
	int r = 0;

	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !r)
		r = buf_append(out, chunk, n);
	if (!r && ferror(f))
		r = -EIO;
	fclose(f);
	return r;
}

static int upload_file(struct uploader *u, const struct upload_meta *meta, const char *path)
{
	struct pprof_profile *p = NULL;
	struct buf data;
	int r;

	buf_init(&data, pprof_default_limits.max_compressed);
	r = read_file(path, &data);
	if (r) {
		log_error("%s: cannot read: %s", path,
			  r == -E2BIG ? "larger than the profile size limit" : strerror(-r));
		goto out;
	}
	r = pprof_decode(data.data, data.len, NULL, &p);
	if (r) {
		log_error("%s: not a valid pprof profile: %s", path, strerror(-r));
		goto out;
	}
	r = uploader_submit_profile(u, meta, p);
	if (r)
		log_error("%s: not queued: %s", path, strerror(-r));
out:
	pprof_profile_free(p);
	buf_free(&data);
	return r;
}

int cmd_upload(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	struct upload_label labels[CONFIG_MAX_LIST];
	struct uploader_stats st;
	struct upload_meta meta;
	struct role role;
	size_t failed = 0;
	int status = 2, r;

	r = config_parse(CMD_UPLOAD, argc, argv, envp, &cfg);
	if (r == 1)
		return config_print_help(CMD_UPLOAD, "podprof upload [options] FILE...",
					 "Uploads pprof files (gzip or plain protobuf) to Coroot, or writes them "
					 "to a directory, through the agent's uploader: profiles that cannot be "
					 "delivered within --flush-timeout stay in --spool-dir for the next run.");
	if (r)
		return 2;
	if (!cfg.service_name || !*cfg.service_name) {
		fprintf(stderr, "podprof upload: --service-name is required\n");
		goto out;
	}
	if (cfg.nargs == 0) {
		fprintf(stderr, "podprof upload: no FILE given\n");
		goto out;
	}
	status = 1;
	if (role_start(&cfg, "profiles", &role) != 0)
		goto out;
	if (role.http)
		http_server_set_ready(role.http, 1);
	for (size_t i = 0; i < cfg.labels.n; i++) {
		char *eq = strchr(cfg.labels.items[i], '=');
		labels[i].name = cfg.labels.items[i];
		*eq = '\0'; /* the config owns the string; split NAME=VALUE in place */
		labels[i].value = eq + 1;
	}
	meta = (struct upload_meta){.service_name = cfg.service_name,
				    .kind = cfg.kind,
				    .labels = labels,
				    .nlabels = cfg.labels.n};
	for (size_t i = 0; i < cfg.nargs && !podprof_stop_requested; i++)
		if (upload_file(role.uploader, &meta, cfg.args[i]) != 0)
			failed++;

	{
		char d[32];
		time_format_duration(cfg.flush_timeout_ns, d, sizeof(d));
		log_info("%zu files read, %zu invalid; delivering (flush timeout %s)", cfg.nargs,
			 failed, d);
	}
	if (uploader_flush(role.uploader, cfg.flush_timeout_ns) != 0 && cfg.spool_dir)
		log_warn("not everything was delivered within the flush timeout; the rest "
			 "stays in %s for the next run", cfg.spool_dir);
	/* stopping spools what is left, which may drop the oldest: count after it */
	uploader_stop(role.uploader);
	uploader_get_stats(role.uploader, &st);
	role_stop(&role);
	log_info("%zu files: %zu invalid; %llu profiles queued, %llu delivered, %llu written, "
		 "%llu dropped, %llu left in the spool",
		 cfg.nargs, failed, (unsigned long long)st.submitted,
		 (unsigned long long)st.delivered, (unsigned long long)st.written,
		 (unsigned long long)st.dropped, (unsigned long long)st.pending);
	status = failed || st.dropped || (st.pending && !cfg.spool_dir) ? 1 : 0;
out:
	config_free(&cfg);
	return status;
}
