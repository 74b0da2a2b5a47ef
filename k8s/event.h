/*
 * One line of a watch stream, decoded: {"type": "ADDED", "object": {...}}.
 *
 * The reflector hands every line the splitter (lines.h) cuts to k8s_event_parse() and
 * acts on the result; the decoding lives apart from the reflector's state machine so
 * that it can be tested and fuzzed on hostile lines without a server. Nothing is
 * trusted: the line may be any bytes, the type any string, the object any JSON.
 */
#ifndef PODPROF_K8S_EVENT_H
#define PODPROF_K8S_EVENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

enum k8s_event_type {
	K8S_EVENT_ADDED,
	K8S_EVENT_MODIFIED,
	K8S_EVENT_DELETED,
	K8S_EVENT_BOOKMARK,
	K8S_EVENT_ERROR,
	K8S_EVENT_COUNT
};

struct k8s_event {
	cJSON *doc;                   /* the parsed line, owned by the event */
	enum k8s_event_type type;
	const cJSON *object;          /* a JSON object (never NULL after a successful parse) */
	const char *resource_version; /* metadata.resourceVersion, or NULL when absent or "" */
	bool initial_events_end;      /* a BOOKMARK annotated k8s.io/initial-events-end: "true" */
	double code;                  /* ERROR: the Status's code (0 when absent) */
	const char *message;          /* ERROR: the Status's message, or NULL */
};

/*
 * Parses one event line (len bytes, not NUL-terminated). Returns 0 with *ev filled
 * (free it with k8s_event_free()), or -EBADMSG with one line in err saying what is wrong
 * (not JSON, no type or object, an unknown type); *ev then owns nothing. Strings in *ev
 * point into ev->doc. Thread-safe.
 */
int k8s_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err,
		    size_t errlen);

/* Frees what ev owns. */
void k8s_event_free(struct k8s_event *ev);

/* "added", "modified", ... (the metric label of a type). */
const char *k8s_event_type_name(enum k8s_event_type type);

#endif
