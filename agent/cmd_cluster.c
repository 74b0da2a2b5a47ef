/*
 * `podprof cluster`: the cluster role. Targets come from Kubernetes (pods annotated
 * coroot.com/profile-scrape) or, without Kubernetes, from --target flags and a
 * targets file; the scraper fetches their pprof endpoints and the uploader delivers
 * what it makes of them. /targets shows every target's state.
 */
#define LOG_MODULE "cluster"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "k8s.h"
#include "pprof.h"
#include "role.h"
#include "scraper.h"
#include "targets_file.h"

#define TARGETS_FILE_CHECK (5 * NS_PER_SEC)
#define DEFAULT_CPU_DURATION (10 * NS_PER_SEC)

struct cluster {
	struct role role;
	struct scraper *scraper;
	struct k8s_config *conn;
	struct k8s_discovery *discovery;
	unsigned shard, shards;
	/* the targets file: what it added last time, to remove what it no longer lists */
	char **file_ids;
	size_t nfile_ids;
	int64_t file_mtime;
	off_t file_size;
};

static int emit(void *ctx, const struct scrape_profile_meta *meta, const struct pprof_profile *p)
{
	struct cluster *c = ctx;
	struct upload_label labels[SCRAPE_MAX_LABELS];
	struct upload_meta um = {.service_name = meta->service_name,
				 .kind = meta->kind,
				 .labels = labels,
				 .nlabels = meta->nlabels,
				 .time_ns = meta->time_ns};

	for (size_t i = 0; i < meta->nlabels; i++) {
		labels[i].name = meta->label_names[i];
		labels[i].value = meta->label_values[i];
	}
	return uploader_submit_profile(c->role.uploader, &um, p);
}

static int targets_page(void *ctx, const char *format, struct buf *out, const char **ctype)
{
	struct cluster *c = ctx;
	int json = format && strcmp(format, "json") == 0;

	*ctype = json ? "application/json" : "text/html; charset=utf-8";
	return scraper_status(c->scraper, json, out);
}

static int in_shard(const struct cluster *c, const char *key);

/* A discovered target, as the scraper takes it (called from a reflector thread). */
static void on_target(void *ctx, enum k8s_target_event ev, const struct k8s_target *t)
{
	struct cluster *c = ctx;
	struct scrape_target st = {0};

	if (!c->scraper)
		return;
	if (ev == K8S_TARGET_REMOVED) {
		scraper_target_remove(c->scraper, t->id);
		return;
	}
	/* a shard owns whole pods: the key is the pod's uid */
	if (!in_shard(c, t->pod_uid)) {
		scraper_target_remove(c->scraper, t->id); /* an update may move it away */
		return;
	}
	st.id = t->id;
	st.base_url = t->url;
	st.service_name = t->service_name;
	st.instance_uid = t->pod_uid;
	st.types = t->types; /* the same bits as enum scrape_type */
	st.cpu_seconds = t->cpu_seconds;
	st.auth = t->auth == K8S_AUTH_BEARER  ? SCRAPE_AUTH_BEARER
		  : t->auth == K8S_AUTH_BASIC ? SCRAPE_AUTH_BASIC
					      : SCRAPE_AUTH_NONE;
	st.label_names[0] = "namespace";
	st.label_values[0] = t->namespace;
	st.label_names[1] = "pod";
	st.label_values[1] = t->pod;
	st.label_names[2] = "node";
	st.label_values[2] = t->node;
	st.nlabels = 3;
	if (t->container) {
		st.label_names[3] = "container";
		st.label_values[3] = t->container;
		st.nlabels = 4;
	}
	if (scraper_target_set(c->scraper, &st) != 0)
		log_warn("%s: not scraped (out of memory)", t->id);
}

/* Does id belong to this agent's shard? */
static int in_shard(const struct cluster *c, const char *key)
{
	return c->shards <= 1 || hash64(key, strlen(key), 0) % c->shards == c->shard;
}

/*
 * "N/M", or "auto/M" where N is the ordinal at the end of the host name (a
 * StatefulSet's pods are named <name>-0, <name>-1, ...).
 */
static int parse_shard(const char *s, unsigned *n, unsigned *m)
{
	char *end, host[256] = "";
	unsigned long a, b;

	if (strncmp(s, "auto/", 5) == 0) {
		const char *dash;
		gethostname(host, sizeof(host) - 1);
		dash = strrchr(host, '-');
		a = dash ? strtoul(dash + 1, &end, 10) : 0;
		if (!dash || end == dash + 1 || *end)
			return -EINVAL;
		end = (char *)s + 4;
	} else {
		a = strtoul(s, &end, 10);
		if (end == s)
			return -EINVAL;
	}
	if (*end != '/')
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (*end || b == 0 || b > 1024 || a >= b)
		return -EINVAL;
	*n = (unsigned)a;
	*m = (unsigned)b;
	return 0;
}

/* --target [SERVICE=]URL */
static int add_flag_target(struct cluster *c, const char *spec)
{
	char base[1024], hostport[300], service[300] = "";
	const char *url = spec, *eq = strchr(spec, '=');
	struct scrape_target t = {0};

	/* "name=http://..." names the service; a URL itself holds no '=' before "://" */
	if (eq && (!strstr(spec, "://") || eq < strstr(spec, "://"))) {
		snprintf(service, sizeof(service), "%.*s", (int)(eq - spec), spec);
		url = eq + 1;
	}
	if (targets_url_parse(url, base, sizeof(base), hostport, sizeof(hostport))) {
		fprintf(stderr, "podprof cluster: invalid value \"%s\" for --target: expected "
				"[SERVICE=]http(s)://HOST:PORT[/PATH]\n", spec);
		return -EINVAL;
	}
	if (!in_shard(c, base))
		return 0;
	t.id = base;
	t.base_url = base;
	t.service_name = service[0] ? service : hostport;
	t.label_names[0] = "instance";
	t.label_values[0] = hostport;
	t.nlabels = 1;
	return scraper_target_set(c->scraper, &t);
}

/* The targets file's additions: its targets go to the scraper, their ids to ids. */
struct file_targets {
	struct cluster *c;
	char **ids;
	size_t nids;
};

static int file_target_wanted(void *ctx, const char *base)
{
	return in_shard(((struct file_targets *)ctx)->c, base);
}

static int file_target_add(void *ctx, const struct scrape_target *t)
{
	struct file_targets *ft = ctx;
	char **grown;
	int r = scraper_target_set(ft->c->scraper, t);

	if (r)
		return r;
	grown = realloc(ft->ids, (ft->nids + 1) * sizeof(char *));
	if (grown) {
		ft->ids = grown;
		ft->ids[ft->nids++] = strdup(t->id);
	}
	return 0;
}

/* (Re)reads the targets file when it changed. Errors keep the previous targets. */
static void load_targets_file(struct cluster *c, const char *path)
{
	struct file_targets ft = {.c = c};
	struct targets_file_ops ops = {file_target_wanted, file_target_add, &ft};
	struct stat st;
	struct buf data;
	char chunk[65536];
	size_t n;
	int64_t mtime;
	FILE *f;
	int r = 0;

	if (stat(path, &st) != 0) {
		log_warn("targets file %s: %s; keeping the previous targets", path, strerror(errno));
		return;
	}
	/* nanoseconds: a file rewritten within the same second is seen too */
	mtime = (int64_t)st.st_mtim.tv_sec * NS_PER_SEC + st.st_mtim.tv_nsec;
	if (mtime == c->file_mtime && st.st_size == c->file_size && c->file_mtime)
		return;
	buf_init(&data, TARGETS_FILE_MAX);
	f = fopen(path, "re");
	while (f && !r && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = buf_append(&data, chunk, n);
	if (f)
		fclose(f);
	if (!f || r) {
		log_error("targets file %s: %s", path,
			  r == -E2BIG ? "larger than 4 MiB" : strerror(errno));
		goto out;
	}
	r = targets_file_parse(data.data, data.len, &ops);
	if (r < 0) {
		log_error("targets file %s: %s; keeping the previous targets", path,
			  r == -E2BIG ? "more than 10000 targets"
				      : "not a JSON array of {\"targets\": [...], \"labels\": {...}} "
					"groups (targets must be \"host:port\" strings, labels strings)");
		goto seen;
	}
	/* what the file no longer lists goes away */
	for (size_t i = 0; i < c->nfile_ids; i++) {
		int kept = 0;
		for (size_t k = 0; k < ft.nids && !kept; k++)
			kept = ft.ids[k] && strcmp(ft.ids[k], c->file_ids[i]) == 0;
		if (!kept)
			scraper_target_remove(c->scraper, c->file_ids[i]);
		free(c->file_ids[i]);
	}
	free(c->file_ids);
	c->file_ids = ft.ids;
	c->nfile_ids = ft.nids;
	ft.ids = NULL;
	log_info("targets file %s: %zu targets", path, c->nfile_ids);
seen:
	/* read (well or not): not again until it changes */
	c->file_mtime = mtime;
	c->file_size = st.st_size;
out:
	for (size_t i = 0; ft.ids && i < ft.nids; i++)
		free(ft.ids[i]);
	free(ft.ids);
	buf_free(&data);
}

/*
 * Every target holds a connection while its CPU profile runs, so 1,000 targets need
 * more than the usual soft limit of 1,024 open files: raise it to the hard limit, as
 * Go programs (Coroot's agent among them) do at start.
 */
static void raise_open_files_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("cannot raise the open files limit: %s", strerror(errno));
}

static char *read_secret(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return strdup(buf);
}

/*
 * Settles the length of a CPU profile against the scrape interval. Given explicitly
 * (flag or PODPROF_SCRAPE_CPU_DURATION), it must be shorter than the interval, or
 * the command exits 2. Otherwise it adapts, as Coroot's cluster agent accepts any
 * PROFILES_SCRAPE_INTERVAL: 10 s, or the interval less a second when that is shorter
 * (a CPU scrape takes its seconds plus the transfer), at least 1 s, whole seconds
 * (Go's handler takes whole seconds); the choice is logged once. With a 1 s interval a
 * CPU profile lasts the whole interval: the scraper then skips a target's CPU slot
 * while its last profile still runs, so that two never overlap.
 */
static int cpu_duration(struct podprof_config *cfg, int *adapted)
{
	int64_t interval = cfg->scrape_interval_ns, d;
	char di[32], dd[32];

	*adapted = 0;
	if (cfg->scrape_cpu_seconds_ns) {
		d = cfg->scrape_cpu_seconds_ns / NS_PER_SEC * NS_PER_SEC;
		if (d < interval)
			return 0;
		time_format_duration(interval, di, sizeof(di));
		time_format_duration(d, dd, sizeof(dd));
		fprintf(stderr, "podprof cluster: --scrape-cpu-duration (PODPROF_SCRAPE_CPU_DURATION) "
				"%s must be shorter than --scrape-interval (PROFILES_SCRAPE_INTERVAL) "
				"%s; leave it unset to fit CPU profiles to the interval\n", dd, di);
		return -EINVAL;
	}
	d = interval - NS_PER_SEC;
	if (d > DEFAULT_CPU_DURATION)
		d = DEFAULT_CPU_DURATION;
	d = d / NS_PER_SEC * NS_PER_SEC;
	if (d < NS_PER_SEC)
		d = NS_PER_SEC;
	cfg->scrape_cpu_seconds_ns = d;
	*adapted = d != DEFAULT_CPU_DURATION;
	return 0;
}

/* Says once what cpu_duration() chose for the interval. */
static void log_cpu_duration(const struct podprof_config *cfg)
{
	char di[32], dd[32];

	time_format_duration(cfg->scrape_interval_ns, di, sizeof(di));
	time_format_duration(cfg->scrape_cpu_seconds_ns, dd, sizeof(dd));
	if (cfg->scrape_cpu_seconds_ns < cfg->scrape_interval_ns)
		log_info("CPU profiles last %s: the scrape interval %s leaves no room for %ds",
			 dd, di, (int)(DEFAULT_CPU_DURATION / NS_PER_SEC));
	else
		log_info("CPU profiles last %s, the whole scrape interval %s: a target's CPU "
			 "profile is skipped while its last one still runs", dd, di);
}

int cmd_cluster(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	struct scraper_config scfg;
	struct cluster c;
	char *password = NULL;
	unsigned types;
	int status = 2, cpu_adapted = 0, r;

	memset(&c, 0, sizeof(c));
	r = config_parse(CMD_CLUSTER, argc, argv, envp, &cfg);
	if (r == 1)
		return config_print_help(CMD_CLUSTER, "podprof cluster [options]",
					 "Runs the cluster role: scrapes the pprof endpoints of the pods "
					 "annotated coroot.com/profile-scrape: \"true\" (or of --target "
					 "URLs and a --targets-file), turns cumulative profiles into "
					 "per-interval deltas, and uploads them to Coroot or writes them "
					 "under --output-dir.");
	if (r)
		return 2;
	if (cfg.nargs) {
		fprintf(stderr, "podprof cluster: unexpected argument '%s'\n", cfg.args[0]);
		goto out;
	}
	if (scrape_types_parse(cfg.scrape_types, &types)) {
		fprintf(stderr, "podprof cluster: invalid value \"%s\" for --scrape-types "
				"(PODPROF_SCRAPE_TYPES): expected a comma-separated list of cpu, heap, "
				"block, mutex, goroutine\n", cfg.scrape_types);
		goto out;
	}
	if (cfg.shard && parse_shard(cfg.shard, &c.shard, &c.shards)) {
		fprintf(stderr, "podprof cluster: invalid value \"%s\" for --shard (PODPROF_SHARD): "
				"expected N/M with 0 <= N < M <= 1024, or auto/M on a host named "
				"<name>-<N>\n", cfg.shard);
		goto out;
	}
	if (cfg.scrape_interval_ns && cpu_duration(&cfg, &cpu_adapted) != 0)
		goto out;
	if (cfg.scrape_basic_auth_password_file &&
	    !(password = read_secret(cfg.scrape_basic_auth_password_file))) {
		fprintf(stderr, "podprof cluster: cannot read --scrape-basic-auth-password-file "
				"%s\n", cfg.scrape_basic_auth_password_file);
		goto out;
	}
	/* Kubernetes unless only static targets were given (an explicit kubeconfig adds
	 * the cluster's pods to them) */
	if (cfg.kubeconfig || !(cfg.targets.n || cfg.targets_file)) {
		struct k8s_config_source src;
		char err[1024];
		role_k8s_source(&cfg, envp, &src);
		if (k8s_config_load(&src, &c.conn, err, sizeof(err)) != 0) {
			fprintf(stderr, "podprof cluster: %s%s\n", err,
				cfg.targets.n || cfg.targets_file
					? ""
					: " (without Kubernetes, give --target or --targets-file)");
			goto out;
		}
	}
	status = 1;
	raise_open_files_limit();
	if (role_start(&cfg, "profiles", &c.role) != 0)
		goto out;
	if (cpu_adapted && (types & SCRAPE_CPU))
		log_cpu_duration(&cfg);
	memset(&scfg, 0, sizeof(scfg));
	/* scraping off (PROFILES_SCRAPE_INTERVAL=0): the agent runs, serving its metrics */
	scfg.interval_ns = cfg.scrape_interval_ns ? cfg.scrape_interval_ns : 3600 * NS_PER_SEC;
	scfg.timeout_ns = cfg.scrape_timeout_ns;
	scfg.cpu_seconds = (int)(cfg.scrape_cpu_seconds_ns / NS_PER_SEC);
	scfg.types = types;
	scfg.max_concurrency = (size_t)cfg.scrape_concurrency;
	scfg.max_body_bytes = (size_t)cfg.scrape_max_bytes;
	scfg.max_buffer_bytes = (size_t)cfg.scrape_buffer_budget;
	scfg.ca_file = cfg.scrape_ca_file;
	scfg.insecure_skip_verify = cfg.scrape_insecure_skip_verify;
	scfg.bearer_token_file = cfg.scrape_bearer_token_file;
	scfg.basic_user = cfg.scrape_basic_auth_user;
	scfg.basic_password = password;
	scfg.emit = emit;
	scfg.emit_ctx = &c;
	scfg.metrics = c.role.metrics;
	if (cfg.scrape_insecure_skip_verify)
		log_warn("TLS certificate verification of https scrape targets is off "
			 "(scrape-insecure-skip-verify)");
	if (cfg.scrape_interval_ns == 0) {
		log_info("scraping is off (PROFILES_SCRAPE_INTERVAL=0)");
	} else {
		r = scraper_new(&scfg, &c.scraper);
		if (r) {
			log_error("cannot start the scraper: %s", strerror(-r));
			goto stop;
		}
		for (size_t i = 0; i < cfg.targets.n; i++) {
			if (add_flag_target(&c, cfg.targets.items[i]) == -EINVAL) {
				status = 2;
				goto stop;
			}
		}
		if (cfg.targets_file)
			load_targets_file(&c, cfg.targets_file);
		if (c.role.http)
			http_server_add_page(c.role.http, "/targets", targets_page, &c);
	}
	if (c.conn) {
		struct k8s_discovery_config dc;
		role_k8s_discovery(&cfg, &dc);
		dc.conn = c.conn;
		dc.metrics = c.role.metrics;
		dc.on_target = on_target;
		dc.on_target_ctx = &c;
		r = k8s_discovery_start(&dc, &c.discovery);
		if (r) {
			status = r == -EINVAL ? 2 : 1;
			goto stop;
		}
		log_info("discovering annotated pods through %s", k8s_config_origin(c.conn));
	}
	/* --once scrapes what the first list of pods names */
	if (c.discovery && cfg.once) {
		int64_t until = time_mono_ns() + cfg.sync_timeout_ns;
		while (!podprof_stop_requested && time_mono_ns() < until &&
		       k8s_discovery_wait_ready(c.discovery, 200 * NS_PER_MS) != 0)
			;
		if (!k8s_discovery_ready(c.discovery))
			log_warn("no complete list of pods from %s within the sync timeout",
				 k8s_config_server(c.conn));
	}
	/* ready once the first list of pods is known (static targets: at once) */
	if (c.role.http && (!c.discovery || k8s_discovery_ready(c.discovery)))
		http_server_set_ready(c.role.http, 1);
	if (cfg.once) {
		if (c.scraper && scraper_scrape_all(c.scraper, cfg.scrape_timeout_ns * 2 +
							       cfg.scrape_cpu_seconds_ns + 30 * NS_PER_SEC))
			log_warn("not every scrape finished in time");
		if (uploader_flush(c.role.uploader, cfg.upload_timeout_ns * 3) != 0)
			log_warn("some profiles were not delivered before exiting%s",
				 cfg.spool_dir ? "; they stay in the spool" : "");
	} else {
		while (!role_sleep(c.discovery && !k8s_discovery_ready(c.discovery)
					   ? 200 * NS_PER_MS
					   : TARGETS_FILE_CHECK)) {
			if (c.role.http && c.discovery && k8s_discovery_ready(c.discovery))
				http_server_set_ready(c.role.http, 1);
			if (cfg.targets_file && c.scraper)
				load_targets_file(&c, cfg.targets_file);
		}
	}
	status = 0;
stop:
	if (c.role.http)
		http_server_stop(c.role.http);
	c.role.http = NULL;
	/* discovery first: its callbacks feed the scraper */
	k8s_discovery_free(c.discovery);
	scraper_free(c.scraper);
	k8s_config_free(c.conn);
	role_stop(&c.role);
	for (size_t i = 0; i < c.nfile_ids; i++)
		free(c.file_ids[i]);
	free(c.file_ids);
out:
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	config_free(&cfg);
	return status;
}
