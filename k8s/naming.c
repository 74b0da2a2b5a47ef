/*
 * Workload names (see naming.h).
 */
#include "naming.h"

#include <stdio.h>
#include <string.h>

/* The alphabet of Kubernetes' generated suffixes and safe-encoded hashes (no vowels,
 * no 0, 1 or 3, so that they never spell words). */
static int in_alphabet(char c)
{
	return c && strchr("bcdfghjklmnpqrstvwxz2456789", c) != NULL;
}

static int all_in(const char *s, size_t n, int hex_too)
{
	for (size_t i = 0; i < n; i++)
		if (!in_alphabet(s[i]) && !(hex_too && strchr("0123456789abcdef", s[i])))
			return 0;
	return 1;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

static void copy(char *out, size_t outlen, const char *s, size_t n)
{
	if (!outlen)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The position of the last '-' in s[0..n), or NULL. */
static const char *last_dash(const char *s, size_t n)
{
	while (n > 0)
		if (s[--n] == '-')
			return s + n;
	return NULL;
}

void k8s_workload_by_job_name(const char *job, char *out, size_t outlen)
{
	size_t n = strlen(job);
	const char *d = last_dash(job, n);

	if (d && d > job && all_digits(d + 1, n - (size_t)(d + 1 - job)) &&
	    n - (size_t)(d + 1 - job) >= 8) {
		copy(out, outlen, job, (size_t)(d - job));
		return;
	}
	copy(out, outlen, job, n);
}

void k8s_workload_by_pod_name(const char *pod, char *out, size_t outlen)
{
	size_t n = strlen(pod);
	const char *d1 = last_dash(pod, n), *d2;
	size_t s1, s2;

	if (!d1 || d1 == pod) {
		copy(out, outlen, pod, n);
		return;
	}
	s1 = n - (size_t)(d1 + 1 - pod);
	d2 = last_dash(pod, (size_t)(d1 - pod));
	s2 = d2 ? (size_t)(d1 - d2 - 1) : 0;
	if (s1 == 5 && all_in(d1 + 1, 5, 0)) {
		/* Deployment: <name>-<hash>-<5> */
		if (d2 && d2 > pod && s2 >= 6 && s2 <= 10 && all_in(d2 + 1, s2, 1) &&
		    !all_digits(d2 + 1, s2)) {
			copy(out, outlen, pod, (size_t)(d2 - pod));
			return;
		}
		/* CronJob: <name>-<scheduled minutes>-<5> */
		if (d2 && d2 > pod && s2 >= 8 && all_digits(d2 + 1, s2)) {
			copy(out, outlen, pod, (size_t)(d2 - pod));
			return;
		}
		/* DaemonSet, Job: <name>-<5> */
		copy(out, outlen, pod, (size_t)(d1 - pod));
		return;
	}
	/* StatefulSet: <name>-<ordinal> */
	if (all_digits(d1 + 1, s1)) {
		copy(out, outlen, pod, (size_t)(d1 - pod));
		return;
	}
	copy(out, outlen, pod, n);
}

/* "<deployment>-<hash>" with the pod's pod-template-hash: the Deployment. */
static int by_template_hash(const struct k8s_pod *pod, char *out, size_t outlen)
{
	const char *rs = pod->owner_name, *h = pod->template_hash;
	size_t n = strlen(rs), hn = h ? strlen(h) : 0;

	if (!hn || n < hn + 2 || rs[n - hn - 1] != '-' || strcmp(rs + n - hn, h) != 0)
		return 0;
	copy(out, outlen, rs, n - hn - 1);
	return 1;
}

void k8s_workload_name(const struct k8s_pod *pod, const struct k8s_replicaset *rs, char *out,
		       size_t outlen)
{
	const char *owner = pod->owner_name;

	if (!owner || !*owner)
		goto by_name;
	switch (pod->owner_kind) {
	case K8S_OWNER_REPLICASET:
		if (rs) {
			/* a bare ReplicaSet is its own workload */
			copy(out, outlen, rs->owner_name ? rs->owner_name : rs->name,
			     strlen(rs->owner_name ? rs->owner_name : rs->name));
			return;
		}
		if (by_template_hash(pod, out, outlen))
			return;
		copy(out, outlen, owner, strlen(owner));
		return;
	case K8S_OWNER_JOB:
		k8s_workload_by_job_name(owner, out, outlen);
		return;
	case K8S_OWNER_NODE: {
		size_t n = strlen(pod->name), nn = pod->node ? strlen(pod->node) : 0;
		if (nn && n > nn + 1 && pod->name[n - nn - 1] == '-' &&
		    strcmp(pod->name + n - nn, pod->node) == 0) {
			copy(out, outlen, pod->name, n - nn - 1);
			return;
		}
		copy(out, outlen, pod->name, n);
		return;
	}
	case K8S_OWNER_NONE:
		goto by_name;
	default:
		copy(out, outlen, owner, strlen(owner));
		return;
	}
by_name:
	k8s_workload_by_pod_name(pod->name, out, outlen);
	if (outlen && !out[0]) /* never an empty name */
		snprintf(out, outlen, "%s", pod->name[0] ? pod->name : "unknown");
}
