/*
 * What every long-running command sets up the same way: the metrics registry, the
 * HTTP server on --listen, and the uploader with its sinks from the upload options.
 */
#ifndef PODPROF_ROLE_H
#define PODPROF_ROLE_H

#include "httpserver.h"
#include "k8s.h"
#include "options.h"
#include "uploader.h"

struct role {
	struct metrics_registry *metrics;
	struct http_server *http; /* NULL when --listen is empty */
	struct uploader *uploader;
	char *endpoint;           /* the Coroot profiles URL, or NULL */
	const char *output_dir;   /* the directory sink, or NULL */
};

/*
 * Starts the registry, the server and the uploader from cfg. With no endpoint and no
 * --output-dir, profiles go to default_output_dir (the laptop default). Returns 0 or a
 * negative errno after logging what failed; on failure everything started is stopped.
 */
int role_start(const struct podprof_config *cfg, const char *default_output_dir,
	       struct role *r);

/* Stops the uploader (spooling what is left), the server and the registry. */
void role_stop(struct role *r);

/* The last "NAME=value" of envp for name (Kubernetes semantics), or NULL. */
const char *role_env(char **envp, const char *name);

/* Where the Kubernetes configuration comes from, from the options and environment. */
void role_k8s_source(const struct podprof_config *cfg, char **envp,
		     struct k8s_config_source *src);

/* The discovery settings from the options (conn, callbacks and metrics left unset). */
void role_k8s_discovery(const struct podprof_config *cfg, struct k8s_discovery_config *dc);

/* Sleeps up to ns, returning early (non-zero) when a stop was requested. */
int role_sleep(int64_t ns);

#endif
