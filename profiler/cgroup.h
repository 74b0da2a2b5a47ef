/*
 * Container identity from /proc/<pid>/cgroup, in the shape Coroot gives it:
 *   /k8s/<namespace>/<pod>/<container>  a Kubernetes container whose pod the node can
 *                                       name (from the kubelet's /var/log/containers
 *                                       links), else /k8s/pod<uid>/<container id>
 *   /docker/<id>, /crio/<id>, /containerd/<id>  other containers
 *   /system.slice/<unit>, /user.slice/...       systemd units: the cgroup path
 *   /                                           the root cgroup
 * and a service name: /k8s/<namespace>/<workload> for Kubernetes (the workload derived
 * from the pod name as Kubernetes builds them), the unit for systemd services, else the
 * executable's name.
 */
#ifndef PODPROF_CGROUP_H
#define PODPROF_CGROUP_H

#include <stddef.h>

struct container_info {
	char cgroup[512];        /* the cgroup path (v2 unified, or v1 name=systemd/cpu) */
	char container_id[576];  /* the container.id label */
	char runtime_id[72];     /* the runtime's container id (64 hex), or "" */
	char pod_uid[40];        /* "" when not a Kubernetes pod */
	char k8s_namespace[64], k8s_pod[254], k8s_container[64];
	char service_name[576];
};

/*
 * Parses the content of a /proc/<pid>/cgroup file (len bytes) into the cgroup path and
 * the container it denotes. log_dir is the kubelet's container log directory
 * ("/var/log/containers"; NULL or "" to not look) used to name Kubernetes containers;
 * exe_name names processes outside containers. Returns 0 or -EINVAL (no usable line).
 * Thread-safe.
 */
int container_info_parse(const char *content, size_t len, const char *log_dir,
			 const char *exe_name, struct container_info *ci);

/* Reads <proc_root>/<pid>/cgroup and parses it (bounded read). */
int container_info_read(const char *proc_root, int pid, const char *log_dir,
			const char *exe_name, struct container_info *ci);

#endif
