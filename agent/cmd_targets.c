/*
 * `podprof targets`: what the cluster role would scrape. Runs Kubernetes discovery
 * exactly as the cluster role does, waits for the first complete list, prints one line
 * per target (id, URL, service name, labels) and exits; with --watch it then prints
 * every target added, updated or removed until SIGTERM.
 *
 * Output (stdout, one line per target, fields separated by spaces; nothing in them has
 * a space):
 *   <id> <url> <service name> namespace=<ns> pod=<pod> node=<node>[ container=<c>]
 *        [ types=<list>][ cpu_seconds=<n>][ auth=bearer|basic]
 * and with --watch, after the list: the same line prefixed with "added", "updated" or
 * "removed". Logs and the summary go to stderr.
 */
#define LOG_MODULE "targets"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "k8s.h"
#include "role.h"

/*
 * With --watch, the targets are followed through the events alone, from the first one:
 * the listing printed at readiness is this view (the events of the first list are
 * delivered before discovery says it is ready), so no change is printed twice or lost,
 * and the callback never waits for a thread that waits for discovery.
 */
struct view_entry {
	char *id;
	char *line;
};

struct printer {
	pthread_mutex_t mu;
	struct view_entry *v;
	size_t n, cap;
	int listed; /* the listing is printed: events are printed from now on */
	int failed; /* out of memory: the view is incomplete */
};


/* One output line (without the newline), malloc'd; NULL when out of memory. */
static char *format_target(const struct k8s_target *t)
{
	char labels[1024], types[64] = "", extra[64] = "";
	char *out;

	if (t->types != K8S_PROFILE_ALL)
		k8s_profile_types_format(t->types, types, sizeof(types));
	if (t->cpu_seconds)
		snprintf(extra, sizeof(extra), " cpu_seconds=%d", t->cpu_seconds);
	if (asprintf(&out, "%s %s %s %s%s%s%s%s", t->id, t->url, t->service_name,
		     k8s_target_labels_format(t, labels, sizeof(labels)), types[0] ? " types=" : "",
		     types, extra,
		     t->auth == K8S_AUTH_NONE ? ""
		     : t->auth == K8S_AUTH_BEARER ? " auth=bearer"
						  : " auth=basic") < 0)
		return NULL;
	return out;
}

/* The position of id in the sorted view, or where it would go. */
static size_t find(const struct printer *p, const char *id, int *found)
{
	size_t lo = 0, hi = p->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->v[mid].id, id);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void on_target(void *ctx, enum k8s_target_event ev, const struct k8s_target *t)
{
	static const char *const prefixes[] = {"added", "updated", "removed"};
	struct printer *p = ctx;
	char *line = format_target(t);
	size_t i;
	int found;

	pthread_mutex_lock(&p->mu);
	if (!line) {
		p->failed = 1;
		goto out;
	}
	if (p->listed)
		printf("%s %s\n", prefixes[ev], line);
	i = find(p, t->id, &found);
	if (ev == K8S_TARGET_REMOVED) {
		if (found) {
			free(p->v[i].id);
			free(p->v[i].line);
			memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof(*p->v));
			p->n--;
		}
		free(line);
	} else if (found) {
		free(p->v[i].line);
		p->v[i].line = line;
	} else {
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			struct view_entry *v = realloc(p->v, cap * sizeof(*v));
			if (!v) {
				p->failed = 1;
				free(line);
				goto out;
			}
			p->v = v;
			p->cap = cap;
		}
		memmove(&p->v[i + 1], &p->v[i], (p->n - i) * sizeof(*p->v));
		p->v[i].id = strdup(t->id);
		p->v[i].line = line;
		if (!p->v[i].id)
			p->failed = 1;
		p->n++;
	}
out:
	pthread_mutex_unlock(&p->mu);
}

static void printer_free(struct printer *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].id);
		free(p->v[i].line);
	}
	free(p->v);
	pthread_mutex_destroy(&p->mu);
}

/* Prints the current targets: from the events' view with --watch, else a snapshot.
 * Returns the number printed, or -1 when out of memory. */
static ssize_t print_listing(struct k8s_discovery *d, struct printer *p, int watch)
{
	struct k8s_target_set set;
	ssize_t n = 0;

	if (watch) {
		pthread_mutex_lock(&p->mu);
		for (size_t i = 0; i < p->n; i++)
			printf("%s\n", p->v[i].line);
		n = p->failed ? -1 : (ssize_t)p->n;
		p->listed = 1;
		pthread_mutex_unlock(&p->mu);
		return n;
	}
	if (k8s_discovery_snapshot(d, &set))
		return -1;
	for (size_t i = 0; i < set.n && n >= 0; i++) {
		char *line = format_target(set.targets[i]);
		if (!line) {
			n = -1;
			break;
		}
		printf("%s\n", line);
		free(line);
		n++;
	}
	k8s_target_set_free(&set);
	return n;
}

static int run(const struct podprof_config *cfg, char **envp)
{
	struct k8s_config_source src;
	struct printer printer = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct k8s_discovery_config dc = {0};
	struct k8s_discovery *d = NULL;
	struct k8s_config *conn = NULL;
	struct k8s_discovery_stats st;
	ssize_t printed;
	char err[1024];
	int64_t until;
	int status = 2, r;

	role_k8s_source(cfg, envp, &src);
	r = k8s_config_load(&src, &conn, err, sizeof(err));
	if (r) {
		fprintf(stderr, "podprof targets: %s\n", err);
		goto out;
	}
	role_k8s_discovery(cfg, &dc);
	dc.conn = conn;
	dc.on_target = cfg->watch ? on_target : NULL;
	dc.on_target_ctx = &printer;
	r = k8s_discovery_start(&dc, &d);
	if (r) {
		status = r == -EINVAL ? 2 : 1;
		goto out;
	}
	status = 1;
	until = time_mono_ns() + cfg->sync_timeout_ns;
	while (!podprof_stop_requested && k8s_discovery_wait_ready(d, 100 * NS_PER_MS) != 0)
		if (time_mono_ns() >= until) {
			fprintf(stderr, "podprof targets: the first list of pods from %s did not "
					"complete within %.0f s (see the errors above)\n",
				k8s_config_server(conn), (double)cfg->sync_timeout_ns / 1e9);
			goto out;
		}
	if (podprof_stop_requested)
		goto out;
	printed = print_listing(d, &printer, cfg->watch);
	fflush(stdout);
	if (printed < 0) {
		fprintf(stderr, "podprof targets: out of memory\n");
		goto out;
	}
	k8s_discovery_get_stats(d, &st);
	fprintf(stderr, "podprof targets: %zd target%s from %zu pods (%s)\n", printed,
		printed == 1 ? "" : "s", st.pods, k8s_config_origin(conn));
	if (cfg->watch)
		while (!role_sleep(NS_PER_SEC))
			;
	status = 0;
out:
	/* the threads first: they call on_target */
	k8s_discovery_free(d);
	k8s_config_free(conn);
	printer_free(&printer);
	return status;
}

int cmd_targets(int argc, char **argv, char **envp)
{
	struct podprof_config cfg;
	enum log_level level;
	int r, status;

	r = config_parse(CMD_TARGETS, argc, argv, envp, &cfg);
	if (r == 1)
		return config_print_help(
			CMD_TARGETS, "podprof targets [options]",
			"Lists the pprof targets the cluster role would scrape: discovers the "
			"pods annotated coroot.com/profile-scrape: \"true\" through the "
			"Kubernetes API (the kubeconfig, or the service account in a cluster), "
			"prints one line per target (id, URL, service name, labels) once the "
			"first list is complete, and exits. With --watch, then prints every "
			"target added, updated or removed until SIGTERM.");
	if (r)
		return 2;
	if (cfg.nargs) {
		fprintf(stderr, "podprof targets: unexpected argument '%s'\n", cfg.args[0]);
		config_free(&cfg);
		return 2;
	}
	if (log_parse_level(cfg.log_level, &level) == 0)
		log_set_level(level);
	/* a pipe reader (grep, a test) sees each line as it is printed */
	setvbuf(stdout, NULL, _IOLBF, 0);
	status = run(&cfg, envp);
	config_free(&cfg);
	return status;
}
