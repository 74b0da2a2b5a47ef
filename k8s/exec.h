/*
 * Exec credential plugins (kubeconfig users[].user.exec), client.authentication.k8s.io
 * v1 and v1beta1: the command runs without a shell (posix_spawn) with its args, the
 * process environment plus its env entries and KUBERNETES_EXEC_INFO; its stdout is an
 * ExecCredential whose status holds a token (or a client certificate and key) and an
 * optional expirationTimestamp. Plugins that need a terminal (interactiveMode: Always)
 * are rejected when the kubeconfig is read: podprof never has one.
 */
#ifndef PODPROF_K8S_EXEC_H
#define PODPROF_K8S_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Bounds of a plugin run. */
#define K8S_EXEC_OUTPUT_MAX (1u << 20)
#define K8S_EXEC_TIMEOUT_NS (60 * NS_PER_SEC)

struct k8s_exec_spec {
	char *command;     /* absolute, or searched in PATH (a relative one with a slash
			    * was resolved against the kubeconfig's directory) */
	char **args;       /* NULL-terminated, args[0] is command */
	char **env;        /* NULL-terminated NAME=VALUE entries added to the environment */
	char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
	char *const *envp; /* base environment (NULL: the process's); not owned */
};

struct k8s_exec_result {
	struct k8s_blob token;
	struct k8s_blob cert, key; /* PEM client certificate and key, when returned */
	int64_t expiry_ns;         /* wall clock; 0 when the credential does not expire */
};

void k8s_exec_spec_free(struct k8s_exec_spec *spec);
void k8s_exec_result_free(struct k8s_exec_result *r);

/*
 * Runs the plugin and parses its output. Returns 0, or a negative errno with one line in
 * err (exit status, what was wrong with the output; never the output itself, which is
 * secret). Blocks up to K8S_EXEC_TIMEOUT_NS. Thread-safe.
 */
int k8s_exec_run(const struct k8s_exec_spec *spec, struct k8s_exec_result *out, char *err,
		 size_t errlen);

/* Parses an ExecCredential JSON document (the plugin's stdout). Same returns. */
int k8s_exec_parse(const char *json, size_t len, const char *api_version,
		   struct k8s_exec_result *out, char *err, size_t errlen);

/* Parses an RFC 3339 timestamp ("2024-05-01T12:00:00Z", fractions and offsets
 * allowed) into Unix nanoseconds. Returns 0 or -EINVAL. */
int k8s_parse_rfc3339(const char *s, int64_t *out_ns);

#endif
