/*
 * Where the API server is and how to talk to it (see config.h and k8s.h).
 *
 * TLS material is held in memory and handed to libcurl as blobs (CURLOPT_CAINFO_BLOB,
 * CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB), whether it came inline from a kubeconfig
 * (*-data fields) or from a file: a file is read once, when the configuration is
 * loaded, so that a missing one is reported at start-up with the field that names it.
 */
#define LOG_MODULE "k8s"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "kubeconfig.h"

void k8s_blob_free(struct k8s_blob *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

int k8s_read_file(const char *path, size_t max, struct k8s_blob *b)
{
	struct buf content;
	char chunk[16384];
	FILE *f = fopen(path, "re");
	size_t n;
	int r = 0;

	memset(b, 0, sizeof(*b));
	if (!f)
		return -errno;
	buf_init(&content, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = buf_append(&content, chunk, n);
		if (r)
			break;
	}
	if (!r && ferror(f))
		r = -EIO;
	fclose(f);
	explicit_bzero(chunk, sizeof(chunk));
	if (r) {
		if (content.data)
			explicit_bzero(content.data, content.len);
		buf_free(&content);
		return r == -E2BIG ? -EFBIG : r;
	}
	b->data = buf_steal(&content, &b->len);
	return b->data ? 0 : -ENOMEM;
}

char *k8s_resolve_path(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

struct k8s_config *k8s_config_alloc(void)
{
	return calloc(1, sizeof(struct k8s_config));
}

void k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->origin);
	k8s_blob_free(&c->ca);
	k8s_blob_free(&c->client_cert);
	k8s_blob_free(&c->client_key);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->username);
	free(c->password);
	k8s_creds_free(c->creds);
	free(c);
}

const char *k8s_config_server(const struct k8s_config *c)
{
	return c->server;
}

const char *k8s_config_origin(const struct k8s_config *c)
{
	return c->origin;
}

/* The service account of the pod podprof runs in. */
static int load_in_cluster(const struct k8s_config_source *src, struct k8s_config *c,
			   char *err, size_t errlen)
{
	const char *dir = src->serviceaccount_dir ? src->serviceaccount_dir : K8S_DEFAULT_SA_DIR;
	const char *port = src->service_port && *src->service_port ? src->service_port : "443";
	struct k8s_blob token = {0};
	char path[4096];
	int r;

	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5) {
		snprintf(err, errlen, "in-cluster: KUBERNETES_SERVICE_PORT \"%.16s\" is not a port",
			 port);
		return -EINVAL;
	}
	/* an IPv6 service address must be bracketed in a URL */
	if (asprintf(&c->server,
		     strchr(src->service_host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		     src->service_host, port) < 0 ||
	    asprintf(&c->origin, "in-cluster (service account %s)", dir) < 0) {
		c->server = c->origin = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	r = k8s_read_file(path, K8S_CONFIG_FILE_MAX, &token);
	if (r || !token.len) {
		snprintf(err, errlen, "in-cluster: cannot read the service account token %s: %s",
			 path, r ? strerror(-r) : "it is empty");
		k8s_blob_free(&token);
		return r ? r : -EINVAL;
	}
	c->creds = k8s_creds_file(path, &token);
	k8s_blob_free(&token);
	if (!c->creds)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	r = k8s_read_file(path, K8S_CONFIG_FILE_MAX, &c->ca);
	if (r) {
		snprintf(err, errlen, "in-cluster: cannot read the service account CA %s: %s",
			 path, strerror(-r));
		return r;
	}
	return 0;
}

int k8s_config_load(const struct k8s_config_source *src, struct k8s_config **out, char *err,
		    size_t errlen)
{
	struct k8s_config *c = k8s_config_alloc();
	char *path = NULL;
	int r = -ENOMEM;

	if (errlen)
		err[0] = '\0';
	if (!c)
		goto out;
	if (src->kubeconfig && *src->kubeconfig) {
		/* KUBECONFIG may be a list: its first entry is used (documented) */
		size_t n = strcspn(src->kubeconfig, ":");
		path = strndup(src->kubeconfig, n);
		if (!path)
			goto out;
		r = k8s_kubeconfig_load(path, src->envp, c, err, errlen);
	} else if (src->service_host && *src->service_host) {
		r = load_in_cluster(src, c, err, errlen);
	} else if (src->home && *src->home) {
		if (asprintf(&path, "%s/.kube/config", src->home) < 0) {
			path = NULL;
			goto out;
		}
		if (access(path, F_OK) == 0)
			r = k8s_kubeconfig_load(path, src->envp, c, err, errlen);
		else
			r = -ENOENT;
	} else {
		r = -ENOENT;
	}
	if (r == -ENOENT && !err[0])
		snprintf(err, errlen, "no Kubernetes configuration: not in a cluster "
				      "(KUBERNETES_SERVICE_HOST is not set), no --kubeconfig or "
				      "KUBECONFIG, and no %s",
			 path ? path : "$HOME/.kube/config ($HOME is not set)");
	if (r)
		goto out;
	if (c->insecure)
		log_warn("TLS certificate verification of the Kubernetes API server %s is off "
			 "(insecure-skip-tls-verify in %s)", c->server, c->origin);
	*out = c;
	c = NULL;
out:
	if (r && errlen && !err[0])
		snprintf(err, errlen, "cannot load the Kubernetes configuration: %s", strerror(-r));
	free(path);
	k8s_config_free(c);
	return r;
}

int k8s_config_setup_handle(const struct k8s_config *c, CURL *curl)
{
	struct curl_blob blob;

	if (c->ca.data) {
		blob.data = c->ca.data;
		blob.len = c->ca.len;
		blob.flags = CURL_BLOB_COPY;
		if (curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK)
			return -ENOMEM;
	}
	if (c->insecure) {
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->client_cert.data) {
		blob.data = c->client_cert.data;
		blob.len = c->client_cert.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
		if (curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob) != CURLE_OK)
			return -ENOMEM;
		blob.data = c->client_key.data;
		blob.len = c->client_key.len;
		curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
		if (curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob) != CURLE_OK)
			return -ENOMEM;
	}
	if (c->username) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	return 0;
}

int k8s_config_authorize(const struct k8s_config *c, CURL *curl, struct curl_slist **headers)
{
	struct k8s_blob token, cert, key;
	struct curl_slist *n;
	char *header = NULL;
	int r;

	if (!c->creds)
		return 0;
	r = k8s_creds_get(c->creds, &token, &cert, &key);
	if (r)
		return r;
	if (token.data && asprintf(&header, "Authorization: Bearer %s", token.data) < 0) {
		header = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (header) {
		n = curl_slist_append(*headers, header);
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		*headers = n;
	}
	if (cert.data) {
		struct curl_blob b = {.data = cert.data, .len = cert.len, .flags = CURL_BLOB_COPY};
		curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &b);
		b.data = key.data;
		b.len = key.len;
		curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &b);
	}
out:
	if (header) {
		explicit_bzero(header, strlen(header));
		free(header);
	}
	k8s_blob_free(&token);
	k8s_blob_free(&cert);
	k8s_blob_free(&key);
	return r;
}

void k8s_config_unauthorized(const struct k8s_config *c)
{
	if (c->creds)
		k8s_creds_invalidate(c->creds);
}
