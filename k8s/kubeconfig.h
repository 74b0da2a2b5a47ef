/*
 * The kubeconfig file, read with libyaml: the current context's cluster (server,
 * certificate-authority(-data), insecure-skip-tls-verify) and user (token, tokenFile,
 * client-certificate(-data), client-key(-data), username/password, exec). Relative
 * file paths are relative to the kubeconfig's directory. auth-provider (the removed
 * gcp/azure/oidc helpers) is rejected with a message pointing at exec plugins.
 *
 * Every error names the file and the field, e.g.
 *   kubeconfig /x: context 'foo' (current-context) not found
 *   kubeconfig /x: users[admin].user.client-key-data: not valid base64
 */
#ifndef PODPROF_K8S_KUBECONFIG_H
#define PODPROF_K8S_KUBECONFIG_H

#include <stddef.h>

#include "config.h"

/*
 * Fills c from the kubeconfig at path. envp is the environment exec plugins will get
 * (NULL: the process's). Returns 0, or a negative errno with one line in err.
 * Not thread-safe only in that c must not be shared yet.
 */
int k8s_kubeconfig_load(const char *path, char *const *envp, struct k8s_config *c, char *err,
			size_t errlen);

/* Decodes padded standard base64 (whitespace ignored) into b. Returns 0, -EINVAL or -ENOMEM. */
int k8s_base64_decode(const char *in, struct k8s_blob *b);

#endif
