/*
 * Test helper: the fake Kubernetes API server (tests/tools/fake_kube.py) as a child
 * process, its control interface, a kubeconfig pointing at it, and its TLS material
 * (tests/tools/kube_certs.sh). Shared by the k8s integration tests and the benchmark.
 */
#ifndef PODPROF_TEST_K8S_FAKE_H
#define PODPROF_TEST_K8S_FAKE_H

#include <cjson/cJSON.h>
#include <sys/types.h>

#include "common.h"

struct fake_kube {
	pid_t pid;
	int port;
	int tls;
	char dir[512];        /* a temporary directory of its own */
	char url[128];        /* API base URL */
	char control[128];    /* http(s)://127.0.0.1:port (the control interface) */
	char kubeconfig[600]; /* a kubeconfig for url (token or client certificate when TLS) */
	char certs[600];      /* TLS material: ca.crt server.crt client.crt ... */
	char log[600];
};

/* Options of fake_kube_start. */
struct fake_kube_opts {
	int tls;                /* serve https with the test CA */
	int client_ca;          /* require a client certificate or a token (TLS only) */
	const char *token;      /* --token */
	const char *forbid_token;
	int streaming_list;     /* --streaming-list */
	int ignore_initial_events; /* --ignore-initial-events: a server from before 1.27 */
	const char *watch_gone; /* --watch-gone: "event" or "status" (every watch is a 410) */
	const char *server_version; /* --server-version, e.g. "1.26.15"; NULL: the default */
	int max_events;         /* --max-events, 0: the default */
	const char *kubeconfig_user; /* YAML mapping of users[].user, e.g. "{token: x}" */
};

/* Starts the server and waits until it answers. Returns 0 or -errno (the test should
 * SKIP when /usr/bin/python3 or the script is missing: -ENOENT). */
int fake_kube_start(struct fake_kube *f, const struct fake_kube_opts *o);
/* Stops it and removes its directory. */
void fake_kube_stop(struct fake_kube *f);

/* POST (json may be NULL for "{}") or DELETE on /_control/<path>. The answer is appended
 * to out when not NULL. Returns the HTTP status or -1. */
int fake_kube_post(struct fake_kube *f, const char *path, const char *json, struct buf *out);
int fake_kube_delete(struct fake_kube *f, const char *path);
/* GET /_control/stats, parsed; the caller frees it. */
cJSON *fake_kube_stats(struct fake_kube *f);
/* The requests of one verb ("list", "watch", "initial_events") on one resource ("pods")
 * the server has received, from a stats document (fake_kube_stats). */
int fake_kube_requests(const cJSON *stats, const char *resource, const char *verb);

struct k8s_config;
/* Loads the server's kubeconfig into *conn (the caller frees it); on error says why on
 * stderr. Returns 0 or -errno. */
int fake_kube_load_config(struct fake_kube *f, struct k8s_config **conn);

/* Writes a file under the server's directory and returns its path (static buffer). */
const char *fake_kube_file(struct fake_kube *f, const char *name, const char *content);

/* Peak and current resident memory of this process, in KiB. */
long test_vm_hwm_kib(void);
long test_vm_rss_kib(void);

#endif
