/*
 * The API server's version (see version.h).
 */
#include "version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>

#define STREAMING_MAJOR 1
#define STREAMING_MINOR 32
#define VERSION_PART_MAX 10000 /* larger is not a Kubernetes version */

/* A version number at the start of s ("32", "32+"); -1 when there is none. */
static int number(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return v < VERSION_PART_MAX ? (int)v : -1;
}

static int pair(const cJSON *doc, const char *major_key, const char *minor_key, int *major,
		int *minor)
{
	*major = number(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, major_key)));
	*minor = number(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, minor_key)));
	return *major >= 0 && *minor >= 0 ? 0 : -EINVAL;
}

/* "v1.28.3-eks-4f4795d" */
static int git_version(const cJSON *doc, int *major, int *minor)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "gitVersion"));
	const char *dot;

	if (!s || *s != 'v')
		return -EINVAL;
	*major = number(s + 1);
	dot = *major >= 0 ? s + 1 : NULL;
	while (dot && *dot >= '0' && *dot <= '9')
		dot++;
	*minor = dot && *dot == '.' ? number(dot + 1) : -1;
	return *major >= 0 && *minor >= 0 ? 0 : -EINVAL;
}

int k8s_version_parse(const char *doc, size_t len, int *major, int *minor)
{
	cJSON *json;
	int e = -EINVAL;

	if (!doc || len > K8S_VERSION_DOC_MAX)
		return -EINVAL;
	json = cJSON_ParseWithLength(doc, len);
	if (cJSON_IsObject(json) &&
	    (pair(json, "emulationMajor", "emulationMinor", major, minor) == 0 ||
	     pair(json, "major", "minor", major, minor) == 0 || git_version(json, major, minor) == 0))
		e = 0;
	cJSON_Delete(json);
	return e;
}

bool k8s_version_streams(int major, int minor)
{
	return major > STREAMING_MAJOR || (major == STREAMING_MAJOR && minor >= STREAMING_MINOR);
}
