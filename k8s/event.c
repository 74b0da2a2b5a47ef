/*
 * Watch event lines (see event.h).
 */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *wire, *label;
} types[K8S_EVENT_COUNT] = {
	{"ADDED", "added"},     {"MODIFIED", "modified"}, {"DELETED", "deleted"},
	{"BOOKMARK", "bookmark"}, {"ERROR", "error"},
};

const char *k8s_event_type_name(enum k8s_event_type type)
{
	return (unsigned)type < K8S_EVENT_COUNT ? types[type].label : "unknown";
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int k8s_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err,
		    size_t errlen)
{
	const char *type, *rv, *end;
	int t;

	memset(ev, 0, sizeof(*ev));
	ev->doc = cJSON_ParseWithLength(line, len);
	if (!ev->doc) {
		snprintf(err, errlen, "a watch event is not valid JSON");
		return -EBADMSG;
	}
	type = cJSON_GetStringValue(member(ev->doc, "type"));
	ev->object = member(ev->doc, "object");
	if (!type || !cJSON_IsObject(ev->object)) {
		snprintf(err, errlen, "a watch event without type or object");
		goto bad;
	}
	for (t = 0; t < K8S_EVENT_COUNT && strcmp(type, types[t].wire) != 0; t++)
		;
	if (t == K8S_EVENT_COUNT) {
		snprintf(err, errlen, "unknown watch event type \"%.32s\"", type);
		goto bad;
	}
	ev->type = (enum k8s_event_type)t;
	rv = cJSON_GetStringValue(member(member(ev->object, "metadata"), "resourceVersion"));
	ev->resource_version = rv && *rv ? rv : NULL;
	if (ev->type == K8S_EVENT_BOOKMARK) {
		end = cJSON_GetStringValue(member(member(member(ev->object, "metadata"),
							 "annotations"),
						  "k8s.io/initial-events-end"));
		ev->initial_events_end = end && strcmp(end, "true") == 0;
	} else if (ev->type == K8S_EVENT_ERROR) {
		const cJSON *code = member(ev->object, "code");
		ev->code = cJSON_IsNumber(code) ? code->valuedouble : 0;
		ev->message = cJSON_GetStringValue(member(ev->object, "message"));
	}
	return 0;
bad:
	k8s_event_free(ev);
	return -EBADMSG;
}

void k8s_event_free(struct k8s_event *ev)
{
	cJSON_Delete(ev->doc);
	memset(ev, 0, sizeof(*ev));
}
