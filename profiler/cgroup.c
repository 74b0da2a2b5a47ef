/*
 * cgroup parsing and naming. Everything here comes from files another process controls
 * (its cgroup path is chosen by its runtime, but log file names by pod specs), so every
 * copy is bounded and nothing read is ever used as a path except as one component
 * matched against a directory listing.
 */
#define LOG_MODULE "cgroup"
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s.h"

#define MAX_CGROUP_FILE (64u << 10)

static void copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Picks the cgroup path: the v2 "0::" line, else v1 name=systemd, else cpu/memory. */
static int pick_path(const char *content, size_t len, char *out, size_t cap)
{
	const char *p = content, *end = content + len;
	int best = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		int score = 0;

		if (c2) {
			size_t clen = (size_t)(c2 - c1 - 1);
			if (c1 - p == 1 && *p == '0' && clen == 0)
				score = 4;
			else if (clen == 12 && strncmp(c1 + 1, "name=systemd", 12) == 0)
				score = 3;
			else if (memmem(c1 + 1, clen, "cpu", 3) || memmem(c1 + 1, clen, "memory", 6))
				score = 2;
			else
				score = 1;
			if (score > best && le - c2 - 1 > 0 && c2[1] == '/') {
				best = score;
				copy(out, cap, c2 + 1, (size_t)(le - c2 - 1));
			}
		}
		p = le + 1;
	}
	return best ? 0 : -EINVAL;
}

/* Finds a 64-hex container id in the last path components and its runtime. */
static void find_runtime_id(const char *path, struct container_info *ci, const char **runtime)
{
	static const struct {
		const char *prefix;
		const char *runtime;
	} forms[] = {
		{"cri-containerd-", "containerd"}, {"crio-", "crio"}, {"docker-", "docker"},
		{"containerd-", "containerd"},     {"", NULL},
	};
	const char *last = strrchr(path, '/');
	const char *comp = last ? last + 1 : path;
	char parent[64] = "";

	*runtime = NULL;
	if (last && last > path) {
		const char *pp = last - 1;
		while (pp > path && *pp != '/')
			pp--;
		copy(parent, sizeof(parent), pp + (*pp == '/'), (size_t)(last - pp - (*pp == '/')));
	}
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t pl = strlen(forms[i].prefix);
		if (strncmp(comp, forms[i].prefix, pl) != 0 || strlen(comp) < pl + 64 ||
		    !is_hex64(comp + pl))
			continue;
		if (comp[pl + 64] != '\0' && strcmp(comp + pl + 64, ".scope") != 0)
			continue;
		copy(ci->runtime_id, sizeof(ci->runtime_id), comp + pl, 64);
		*runtime = forms[i].runtime;
		if (!*runtime)
			*runtime = strcmp(parent, "docker") == 0 ? "docker" : "containerd";
		return;
	}
}

/* The pod UID from "kubepods-burstable-pod<uid>.slice" or ".../pod<uid>/...". */
static void find_pod_uid(const char *path, struct container_info *ci)
{
	const char *p = strstr(path, "pod");
	while (p) {
		const char *u = p + 3;
		size_t n = 0;
		while ((isxdigit((unsigned char)u[n]) || u[n] == '-' || u[n] == '_') && n < 36)
			n++;
		if (n == 36 && (u[n] == '/' || u[n] == '.' || u[n] == '\0') && strstr(path, "kubepods")) {
			copy(ci->pod_uid, sizeof(ci->pod_uid), u, n);
			for (char *c = ci->pod_uid; *c; c++)
				if (*c == '_')
					*c = '-'; /* systemd escapes the UID's dashes */
			return;
		}
		p = strstr(p + 3, "pod");
	}
}

/*
 * /var/log/containers holds "<pod>_<namespace>_<container>-<64 hex id>.log" links made
 * by the kubelet: the one place on a node that names a container id without the API.
 */
static int lookup_log_dir(const char *log_dir, struct container_info *ci)
{
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (!log_dir || !*log_dir || !ci->runtime_id[0])
		return 0;
	d = opendir(log_dir);
	if (!d)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		const char *name = e->d_name, *u1, *u2, *dash;
		size_t n = strlen(name);
		if (n < 64 + 4 + 6 || strcmp(name + n - 4, ".log") != 0 ||
		    strncmp(name + n - 68, ci->runtime_id, 64) != 0 || name[n - 69] != '-')
			continue;
		u1 = strchr(name, '_');
		u2 = u1 ? strchr(u1 + 1, '_') : NULL;
		dash = name + n - 69;
		if (!u1 || !u2 || u2 > dash)
			continue;
		copy(ci->k8s_pod, sizeof(ci->k8s_pod), name, (size_t)(u1 - name));
		copy(ci->k8s_namespace, sizeof(ci->k8s_namespace), u1 + 1, (size_t)(u2 - u1 - 1));
		copy(ci->k8s_container, sizeof(ci->k8s_container), u2 + 1, (size_t)(dash - u2 - 1));
		found = 1;
	}
	closedir(d);
	return found;
}

int container_info_parse(const char *content, size_t len, const char *log_dir,
			 const char *exe_name, struct container_info *ci)
{
	const char *runtime = NULL;

	memset(ci, 0, sizeof(*ci));
	if (pick_path(content, len, ci->cgroup, sizeof(ci->cgroup)))
		return -EINVAL;
	find_runtime_id(ci->cgroup, ci, &runtime);
	find_pod_uid(ci->cgroup, ci);
	if (ci->runtime_id[0] && lookup_log_dir(log_dir, ci)) {
		char workload[254];
		snprintf(ci->container_id, sizeof(ci->container_id), "/k8s/%s/%s/%s",
			 ci->k8s_namespace, ci->k8s_pod, ci->k8s_container);
		k8s_workload_by_pod_name(ci->k8s_pod, workload, sizeof(workload));
		snprintf(ci->service_name, sizeof(ci->service_name), "/k8s/%s/%s", ci->k8s_namespace,
			 workload);
		return 0;
	}
	if (ci->runtime_id[0]) {
		if (ci->pod_uid[0])
			snprintf(ci->container_id, sizeof(ci->container_id), "/k8s/pod%s/%s",
				 ci->pod_uid, ci->runtime_id);
		else
			snprintf(ci->container_id, sizeof(ci->container_id), "/%s/%s", runtime,
				 ci->runtime_id);
		snprintf(ci->service_name, sizeof(ci->service_name), "%s", ci->container_id);
		return 0;
	}
	snprintf(ci->container_id, sizeof(ci->container_id), "%s", ci->cgroup);
	{
		/* a systemd service is named by its unit; anything else by its executable */
		const char *unit = strrchr(ci->cgroup, '/');
		size_t ul = unit ? strlen(unit + 1) : 0;
		if (strncmp(ci->cgroup, "/system.slice/", 14) == 0 && ul > 8 &&
		    strcmp(unit + 1 + ul - 8, ".service") == 0)
			copy(ci->service_name, sizeof(ci->service_name), unit + 1, ul - 8);
		else
			snprintf(ci->service_name, sizeof(ci->service_name), "%s",
				 exe_name && *exe_name ? exe_name : "unknown");
	}
	return 0;
}

int container_info_read(const char *proc_root, int pid, const char *log_dir,
			const char *exe_name, struct container_info *ci)
{
	char path[4200], *buf;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	buf = malloc(MAX_CGROUP_FILE);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < MAX_CGROUP_FILE && (n = read(fd, buf + len, MAX_CGROUP_FILE - len)) > 0)
		len += (size_t)n;
	close(fd);
	r = container_info_parse(buf, len, log_dir, exe_name, ci);
	free(buf);
	return r;
}
