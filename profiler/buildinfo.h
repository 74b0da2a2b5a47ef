/*
 * .go.buildinfo: the section every Go binary (1.13+) carries, even stripped. It tells
 * that a binary is Go at all, its Go version (which selects every layout podprof
 * reads), and the main package path (a service name for processes outside Kubernetes).
 */
#ifndef PODPROF_BUILDINFO_H
#define PODPROF_BUILDINFO_H

#include "elffile.h"

struct go_buildinfo {
	char version[64]; /* "go1.25.12" */
	int major, minor; /* 1, 25 */
	char main_path[256]; /* "example.com/cmd/server", or "" */
};

/*
 * Reads .go.buildinfo of ef. Returns 0, -ENOENT when the binary has no such section
 * (not a Go binary), -EPROTO when it is malformed, or -errno.
 */
int go_buildinfo_read(const struct elf_file *ef, struct go_buildinfo *bi);

/* Parses "go1.25.12", "go1.21rc2", "go1.26-devel_abc" into major/minor. Returns 0 or
 * -EINVAL. */
int go_version_parse(const char *v, int *major, int *minor);

/* Parses the section's bytes (exposed for tests and fuzzing); read_va resolves the
 * pointers of the pre-1.18 format and may be NULL. */
int go_buildinfo_parse(const unsigned char *data, size_t len,
		       int (*read_va)(void *ctx, uint64_t va, void *dst, size_t n), void *ctx,
		       struct go_buildinfo *bi);

#endif
