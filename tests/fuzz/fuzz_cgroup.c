/*
 * /proc/<pid>/cgroup content (container_info_parse), with a kubelet log directory
 * whose link names (<pod>_<namespace>_<container>-<id>.log) name Kubernetes
 * containers; the input may add one such name. Properties: a parsed file yields a
 * cgroup path starting with '/', a container id and a service name, a runtime id of
 * 64 lowercase hex digits or none, a pod uid of 36 characters or none, and every field
 * within its buffer.
 *
 * Input: flags (1 byte); with bit 0 set, a first line naming a file to create in the
 * log directory; then the cgroup file.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fuzz.h"

#define ID "3e9b1c4f2a7d6e8b0c5f1a2d3e4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"

static char logdir[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const links[] = {
		"api-7d4b9c8f6d-x2x7k_default_app-" ID ".log",
		("coredns-5d78c9869d-abcde_kube-system_coredns-"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log"),
		("web-0_shop_web-"
		 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.log"),
	};
	char rel[512], path[700];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(logdir, sizeof(logdir), "%s/containers", fuzz_tmpdir());
	FUZZ_CHECK(mkdir(logdir, 0700) == 0 || errno == EEXIST);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(rel, sizeof(rel), "containers/%s", links[i]);
		FUZZ_CHECK(fuzz_write_file(rel, "", 0, path, sizeof(path)) == 0);
	}
	return 0;
}

static int hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct container_info ci;
	char *name = NULL, path[1024] = "";
	int r;

	if (fuzz_u8(&in) & 1) {
		name = fuzz_token(&in, '\n');
		if (name && *name && !strchr(name, '/') && strlen(name) < 250 &&
		    strcmp(name, ".") && strcmp(name, "..")) {
			char rel[1024];
			snprintf(rel, sizeof(rel), "%s/%s", logdir, name);
			/* a new name only: the fixed ones stay */
			if (access(rel, F_OK) != 0) {
				snprintf(rel, sizeof(rel), "containers/%s", name);
				if (fuzz_write_file(rel, "", 0, path, sizeof(path)) != 0)
					path[0] = '\0';
			}
		}
	}
	r = container_info_parse((const char *)in.p, in.n, logdir, "server", &ci);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_CHECK(ci.cgroup[0] == '/');
		FUZZ_CHECK(ci.container_id[0] && ci.service_name[0]);
		FUZZ_CHECK(!ci.runtime_id[0] || hex64(ci.runtime_id));
		FUZZ_CHECK(!ci.pod_uid[0] || strlen(ci.pod_uid) == 36);
		FUZZ_CHECK(strlen(ci.k8s_namespace) < sizeof(ci.k8s_namespace) &&
			   strlen(ci.k8s_pod) < sizeof(ci.k8s_pod) &&
			   strlen(ci.k8s_container) < sizeof(ci.k8s_container));
		if (ci.k8s_pod[0])
			FUZZ_CHECK(strncmp(ci.container_id, "/k8s/", 5) == 0);
	}
	if (path[0])
		unlink(path);
	free(name);
	return 0;
}
