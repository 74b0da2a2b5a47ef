/*
 * The API server's Kubernetes version, from its /version document, and what it says
 * about streaming lists.
 *
 * The reflector decides whether to try the streaming list from what the server says
 * about itself rather than by trying and waiting: a server that does not know the
 * parameters ignores them and answers like a plain watch, and only silence would then
 * tell. Streaming lists (the WatchList feature gate) are on by default from Kubernetes
 * 1.32; an older server gets paginated lists from the first sync on.
 */
#ifndef PODPROF_K8S_VERSION_H
#define PODPROF_K8S_VERSION_H

#include <stdbool.h>
#include <stddef.h>

/* Bound of the /version document. */
#define K8S_VERSION_DOC_MAX 16384

/*
 * Reads major and minor from a /version document (len bytes, not NUL-terminated):
 * emulationMajor/emulationMinor when present (the version whose features a server
 * emulating an older release has), else major/minor (clouds write "28+"), else
 * gitVersion ("v1.28.3-eks-4f4795d"). Returns 0 or -EINVAL. Thread-safe.
 */
int k8s_version_parse(const char *doc, size_t len, int *major, int *minor);

/* Whether a server of this version serves streaming lists by default (1.32 or later). */
bool k8s_version_streams(int major, int minor);

#endif
