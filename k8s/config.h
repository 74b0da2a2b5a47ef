/*
 * The connection configuration behind struct k8s_config (k8s.h): resolution of where
 * it comes from (explicit kubeconfig, in-cluster, ~/.kube/config), the in-cluster
 * service account, and what every request needs from it (TLS options, the current
 * credentials). The kubeconfig file itself is read by kubeconfig.c, credentials that
 * change over time are kept by creds.c.
 */
#ifndef PODPROF_K8S_CONFIG_H
#define PODPROF_K8S_CONFIG_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "k8s.h"

/* Bound of every file the configuration reads (kubeconfig, CA, certificate, key,
 * token): real ones are a few KiB. */
#define K8S_CONFIG_FILE_MAX (4u << 20)
#define K8S_DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bytes (PEM text, a token); wiped when freed. */
struct k8s_blob {
	char *data; /* NUL-terminated, NULL when empty */
	size_t len;
};

struct k8s_creds;

struct k8s_config {
	char *server;       /* base URL without a trailing slash */
	char *origin;       /* for logs */
	struct k8s_blob ca; /* PEM bundle; empty: the system's CAs */
	bool insecure;      /* insecure-skip-tls-verify */
	struct k8s_blob client_cert, client_key; /* PEM, from the kubeconfig */
	char *username, *password;                 /* basic authentication */
	struct k8s_creds *creds;                   /* bearer token source, or NULL */
};

/* Frees and wipes a blob. */
void k8s_blob_free(struct k8s_blob *b);

/* Reads a whole file of at most max bytes into b. Returns 0, -EFBIG or -errno. */
int k8s_read_file(const char *path, size_t max, struct k8s_blob *b);

/* path as is when absolute, else relative to dir. The caller frees the result. */
char *k8s_resolve_path(const char *dir, const char *path);

/*
 * Sets everything that does not change between requests on a new handle: TLS (CA,
 * verification, static client certificate), basic authentication. Returns 0 or
 * -ENOMEM. Thread-safe (the config is read-only).
 */
int k8s_config_setup_handle(const struct k8s_config *c, CURL *curl);

/*
 * Sets the credentials of the next request: appends "Authorization: Bearer ..." to
 * *headers (refreshing a token file or an exec plugin's token when due) and sets the
 * client certificate an exec plugin returned. Returns 0, or a negative errno after
 * logging why no credentials could be had. Thread-safe.
 */
int k8s_config_authorize(const struct k8s_config *c, CURL *curl, struct curl_slist **headers);

/* A request was answered 401: the credentials are re-read before the next request. */
void k8s_config_unauthorized(const struct k8s_config *c);

/* Allocates an empty config (kubeconfig.c fills one). */
struct k8s_config *k8s_config_alloc(void);

#endif
