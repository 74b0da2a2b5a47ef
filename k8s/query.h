/*
 * The request paths of list and watch: resource paths (cluster-wide or one namespace),
 * query parameters percent-encoded, field and label selectors, and the node mode
 * (spec.nodeName=<node> added to the field selector, so that a node agent asks the
 * API server for its own node's pods only).
 */
#ifndef PODPROF_K8S_QUERY_H
#define PODPROF_K8S_QUERY_H

#include <stdbool.h>

#include "common.h"

struct k8s_query {
	const char *api;            /* "/api/v1" or "/apis/apps/v1" */
	const char *resource;       /* "pods", "replicasets" */
	const char *namespace;      /* NULL or "": all namespaces */
	const char *field_selector; /* NULL or "" for none */
	const char *label_selector;
	/* list */
	int limit;                  /* 0: no limit parameter */
	const char *continue_token;
	/* watch */
	bool watch;
	const char *resource_version; /* NULL: parameter absent */
	bool bookmarks;
	int timeout_s;              /* 0: parameter absent */
	bool send_initial_events;   /* streaming list */
};

/* Appends s percent-encoded for a query value (RFC 3986 unreserved kept). */
int k8s_query_escape(struct buf *out, const char *s);

/* Appends the path and query of q to out. Returns 0 or a buffer error. */
int k8s_query_build(struct buf *out, const struct k8s_query *q);

/*
 * The field selector to send: "spec.nodeName=<node>" joined with user's selector when
 * node is set, else the user's. Returns a malloc'd string (NULL when none), or NULL
 * with errno ENOMEM.
 */
char *k8s_field_selector(const char *node, const char *user);

/* Whether s is a valid namespace name (an RFC 1123 DNS label). */
bool k8s_valid_namespace(const char *s);

#endif
