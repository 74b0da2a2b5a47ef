/*
 * The annotation rules: a running pod whose annotations (coroot.com/profile-... and
 * pyroscope.io/...), container ports and name come from the input goes through the model
 * and the target derivation. Properties: a pod is a target exactly when a scrape
 * annotation is "true" and nothing else is invalid; then its port, scheme, types,
 * CPU seconds and credentials are what the annotations say, and an invalid pod always
 * comes with a reason naming an annotation.
 *
 * Input: which annotations are set (2 bytes, bit i for k8s_annotation_names[i]),
 * shape (1 byte: bit 0 IPv6, bits 1-2 containers, bits 3-4 ports per container, bit 5
 * not running), then NUL-separated: the annotation values in order, for every port its
 * name followed by its number (2 bytes), and the pod's name.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "k8s.h"
#include "model.h"
#include "target.h"

static int is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static void check(const struct k8s_pod *pod, const struct k8s_target *t, const char *reason)
{
	const char *scrape = pod->ann[K8S_ANN_SCRAPE], *pyro = pod->ann[K8S_ANN_PYRO_SCRAPE];
	int wanted = (scrape && strcmp(scrape, "true") == 0) || (pyro && strcmp(pyro, "true") == 0);
	const char *port, *v;
	unsigned types;
	char bad[80];

	if (!wanted || pod->phase != K8S_PHASE_RUNNING) {
		FUZZ_CHECK(!t && !reason[0]);
		return;
	}
	if (!t) {
		/* invalid: the reason names the annotation at fault */
		FUZZ_CHECK(strncmp(reason, "annotation ", 11) == 0);
		return;
	}
	FUZZ_CHECK(!reason[0] && pod->ann_too_long == 0);
	/* the port annotation of the scrape annotation that is "true", else the other */
	if (scrape && strcmp(scrape, "true") == 0)
		port = pod->ann[K8S_ANN_PORT] ? pod->ann[K8S_ANN_PORT]
					      : pod->ann[K8S_ANN_PYRO_PORT];
	else
		port = pod->ann[K8S_ANN_PYRO_PORT] ? pod->ann[K8S_ANN_PYRO_PORT]
						   : pod->ann[K8S_ANN_PORT];
	FUZZ_CHECK(port);
	if (is_number(port)) {
		FUZZ_CHECK(strtoul(port, NULL, 10) == t->port);
	} else {
		int named = 0;
		for (size_t i = 0; i < pod->nports; i++)
			named |= pod->ports[i].name && strcmp(pod->ports[i].name, port) == 0 &&
				 pod->ports[i].number == t->port;
		FUZZ_CHECK(named);
	}
	v = pod->ann[K8S_ANN_SCHEME];
	FUZZ_CHECK(strcasecmp(v ? v : "http", t->scheme) == 0);
	v = pod->ann[K8S_ANN_TYPES];
	if (v) {
		FUZZ_CHECK(k8s_profile_types_parse(v, &types, bad, sizeof(bad)) == 0);
		FUZZ_CHECK(types == t->types);
	} else {
		FUZZ_CHECK(t->types == K8S_PROFILE_ALL);
	}
	v = pod->ann[K8S_ANN_CPU_SECONDS];
	FUZZ_CHECK(v ? (is_number(v) && strtoul(v, NULL, 10) == (unsigned long)t->cpu_seconds &&
			t->cpu_seconds >= 1 && t->cpu_seconds <= K8S_CPU_SECONDS_MAX)
		     : t->cpu_seconds == 0);
	v = pod->ann[K8S_ANN_AUTH];
	FUZZ_CHECK(t->auth == (!v || strcasecmp(v, "none") == 0 ? K8S_AUTH_NONE
			       : strcasecmp(v, "bearer") == 0  ? K8S_AUTH_BEARER
								: K8S_AUTH_BASIC));
	if (t->container) {
		int found = 0;
		for (size_t i = 0; i < pod->ncontainers; i++)
			found |= strcmp(pod->containers[i], t->container) == 0;
		FUZZ_CHECK(found);
	}
}

static cJSON *build_pod(struct fuzz_in *in)
{
	uint16_t present = fuzz_u16(in);
	uint8_t shape = fuzz_u8(in);
	int ncontainers = (shape >> 1) & 3, nports = (shape >> 3) & 3;
	cJSON *pod = cJSON_CreateObject(), *meta, *anns, *spec, *containers, *status, *ips, *o;
	char *name;

	meta = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(meta, "uid", "6f1c7d2e-4b5a-4c8d-9e0f-1a2b3c4d5e6f");
	cJSON_AddStringToObject(meta, "namespace", "default");
	anns = cJSON_AddObjectToObject(meta, "annotations");
	for (int i = 0; i < K8S_ANN_COUNT; i++) {
		char *v;
		if (!(present & (1u << i)))
			continue;
		v = fuzz_token(in, 0);
		cJSON_AddStringToObject(anns, k8s_annotation_names[i], v ? v : "");
		free(v);
	}
	spec = cJSON_AddObjectToObject(pod, "spec");
	cJSON_AddStringToObject(spec, "nodeName", "node-1");
	containers = cJSON_AddArrayToObject(spec, "containers");
	for (int c = 0; c < ncontainers; c++) {
		cJSON *ctr = cJSON_CreateObject(), *ports;
		char cname[8];
		snprintf(cname, sizeof(cname), "c%d", c);
		cJSON_AddStringToObject(ctr, "name", cname);
		ports = cJSON_AddArrayToObject(ctr, "ports");
		for (int p = 0; p < nports; p++) {
			char *pname = fuzz_token(in, 0);
			cJSON *port = cJSON_CreateObject();
			if (pname && *pname)
				cJSON_AddStringToObject(port, "name", pname);
			cJSON_AddNumberToObject(port, "containerPort", fuzz_u16(in));
			cJSON_AddStringToObject(port, "protocol", "TCP");
			cJSON_AddItemToArray(ports, port);
			free(pname);
		}
		cJSON_AddItemToArray(containers, ctr);
	}
	name = fuzz_token(in, 0);
	cJSON_AddStringToObject(meta, "name", name && *name ? name : "api-7d4b9c8f6d-x2x7k");
	free(name);
	status = cJSON_AddObjectToObject(pod, "status");
	cJSON_AddStringToObject(status, "phase", shape & 32 ? "Pending" : "Running");
	cJSON_AddStringToObject(status, "podIP", shape & 1 ? "fd00::17" : "10.244.1.17");
	ips = cJSON_AddArrayToObject(status, "podIPs");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ip", shape & 1 ? "fd00::17" : "10.244.1.17");
	cJSON_AddItemToArray(ips, o);
	return pod;
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	cJSON *obj = build_pod(&in);
	struct k8s_pod *pod;
	const struct k8s_target *t;
	char reason[256];
	int r = k8s_pod_from_json(obj, NULL, &pod);

	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_CHECK(k8s_target_from_pod(pod, "api", &t, reason, sizeof(reason)) == 0);
		check(pod, t, reason);
		k8s_target_unref(t);
		free(pod);
	}
	cJSON_Delete(obj);
	return 0;
}
