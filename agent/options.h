/*
 * The option table: every setting of podprof, declared once with its long flag, its
 * environment variable (Coroot's name where Coroot has one, else PODPROF_<NAME>), type,
 * default, bounds and help. Parsing, validation, `--help` and the README's option list
 * are all generated from the table, so they cannot disagree.
 *
 * Precedence: a flag beats its environment variable, which beats the default. A
 * malformed value is reported in one line naming the flag or variable and what was
 * expected; the command then exits with status 2.
 */
#ifndef PODPROF_OPTIONS_H
#define PODPROF_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The commands that take options; an option lists the commands it applies to. */
enum podprof_command {
	CMD_NODE = 1u << 0,
	CMD_CLUSTER = 1u << 1,
	CMD_HEAP = 1u << 2,
	CMD_PS = 1u << 3,
	CMD_UPLOAD = 1u << 4,
	CMD_TARGETS = 1u << 5,
};

#define CONFIG_MAX_LIST 64

/* A repeatable option's values, in the order given. */
struct config_list {
	char *items[CONFIG_MAX_LIST];
	size_t n;
};

/* Every setting, after parsing. Strings are owned by the config. */
struct podprof_config {
	/* general */
	char *listen;
	char *log_level;
	bool once;
	/* upload */
	char *profiles_endpoint;
	char *collector_endpoint;
	char *coroot_url;
	char *api_key;
	char *ca_file;
	bool insecure_skip_verify;
	int64_t upload_timeout_ns;
	char *output_dir;
	char *spool_dir;
	uint64_t spool_max_bytes;
	uint64_t queue_max_bytes;
	int64_t retry_backoff_min_ns;
	int64_t retry_backoff_max_ns;
	/* node role, heap and ps */
	int64_t interval_ns;
	char *go_heap_profiler;
	char *proc_root;
	char *cgroupfs_root;
	char *container_log_dir;
	char *node_name;
	uint64_t heap_max_buckets;
	/* cluster role: scraping */
	int64_t scrape_interval_ns;
	int64_t scrape_timeout_ns;
	int64_t scrape_cpu_seconds_ns;
	char *scrape_types;
	uint64_t scrape_concurrency;
	uint64_t scrape_max_bytes;
	uint64_t scrape_buffer_budget;
	char *scrape_ca_file;
	bool scrape_insecure_skip_verify;
	char *scrape_bearer_token_file;
	char *scrape_basic_auth_user;
	char *scrape_basic_auth_password_file;
	struct config_list targets; /* [SERVICE=]URL */
	char *targets_file;
	char *shard;
	/* heap command */
	char *output;
	bool force;
	/* upload command */
	char *service_name;
	char *kind;
	struct config_list labels; /* NAME=VALUE */
	int64_t flush_timeout_ns;
	/* Kubernetes discovery (cluster role, targets command) */
	char *kubeconfig;
	char *k8s_namespace;
	char *field_selector;
	char *label_selector;
	char *k8s_node;
	bool watch_replicasets;
	char *streaming_list;
	uint64_t max_pods;
	uint64_t max_event_bytes;
	uint64_t max_list_bytes;
	char *serviceaccount_dir;
	/* targets command */
	bool watch;
	int64_t sync_timeout_ns;
	/* positional arguments left after the options (owned by argv) */
	char **args;
	size_t nargs;
};

/*
 * Parses the options of command cmd from the environment (envp, NULL-terminated
 * "NAME=value" strings; later entries win, as with Kubernetes env lists) and argv
 * (argv[0] is the command name). On success fills *cfg (free it with config_free) and
 * returns 0. Returns 1 when --help was asked for (cfg holds nothing then), or -EINVAL
 * after printing one line on stderr naming the bad input. Not thread-safe (start-up).
 */
int config_parse(enum podprof_command cmd, int argc, char **argv, char **envp,
		 struct podprof_config *cfg);

/* Frees the strings of cfg. */
void config_free(struct podprof_config *cfg);

/* Writes the --help text of command cmd to out. */
int config_help(enum podprof_command cmd, const char *usage, const char *summary,
		struct buf *out);

/* Prints the --help text of command cmd on stdout; returns the exit status (0). */
int config_print_help(enum podprof_command cmd, const char *usage, const char *summary);

/* Writes the option list of every command as a Markdown table (the README's). */
int config_markdown(struct buf *out);

/*
 * The Coroot profiles URL derived from the endpoint settings: --profiles-endpoint as is,
 * else --collector-endpoint or --coroot-url with "/v1/profiles" appended. Returns a
 * malloc'd string the caller owns, NULL when no endpoint is configured (or on allocation
 * failure, with errno set to ENOMEM).
 */
char *config_profiles_url(const struct podprof_config *cfg);

#endif
