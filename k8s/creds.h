/*
 * Bearer credentials that change over time, kept current for every request.
 *
 *  - a static token (kubeconfig users[].user.token): never changes;
 *  - a token file (in-cluster service account, kubeconfig tokenFile): bound service
 *    account tokens rotate (the kubelet rewrites the file, typically hourly), so the
 *    file is re-read every minute, as client-go does, and at once after a 401;
 *  - an exec credential plugin (EKS, GKE, ...): run without a shell, re-run before the
 *    credential's expirationTimestamp and after a 401.
 *
 * Thread-safe: the reflectors of one discovery share one. Never logs a secret.
 */
#ifndef PODPROF_K8S_CREDS_H
#define PODPROF_K8S_CREDS_H

#include <stdint.h>

#include "common.h"
#include "config.h"
#include "exec.h"

/* How often a token file is re-read. */
#define K8S_TOKEN_REREAD_NS (60 * NS_PER_SEC)
/* An exec credential is refreshed this long before it expires. */
#define K8S_EXEC_EARLY_NS (60 * NS_PER_SEC)

struct k8s_creds;

/* Sources; each constructor takes its arguments by copy. They return NULL on
 * allocation failure. */
struct k8s_creds *k8s_creds_static(const char *token);
/* token_file must have been read successfully once: initial holds its content. */
struct k8s_creds *k8s_creds_file(const char *path, const struct k8s_blob *initial);
/* Takes ownership of spec. */
struct k8s_creds *k8s_creds_exec(struct k8s_exec_spec *spec);
void k8s_creds_free(struct k8s_creds *c);

/*
 * Copies the current token into *token (caller frees and wipes with k8s_blob_free) and
 * the client certificate and key an exec plugin returned into cert/key (empty when
 * none), refreshing them first when due. Returns 0 or a negative errno (an exec plugin
 * that failed and no token to fall back on).
 */
int k8s_creds_get(struct k8s_creds *c, struct k8s_blob *token, struct k8s_blob *cert,
		  struct k8s_blob *key);

/* The server said 401: refresh before the next use. */
void k8s_creds_invalidate(struct k8s_creds *c);

/* For tests: how many times the token file was read or the plugin run. */
unsigned long k8s_creds_refreshes(struct k8s_creds *c);

#endif
