/*
 * What podprof knows about one Go binary: its Go version, where the heap-profile
 * variables are (link-time addresses), how they were found, and its function table.
 * Learned once per binary (device + inode) and shared by every process running it.
 */
#ifndef PODPROF_GOBIN_H
#define PODPROF_GOBIN_H

#include <stdint.h>
#include <sys/types.h>

#include "buildinfo.h"
#include "elffile.h"
#include "pclntab.h"

/* The Go releases whose runtime layouts podprof reads (tested against each). */
#define GO_MIN_MINOR 19
#define GO_MAX_MINOR 27

enum gobin_symbol_source {
	GOBIN_SYM_NONE,
	GOBIN_SYM_SYMTAB,  /* .symtab */
	GOBIN_SYM_CODE,    /* stripped: found by scanning the runtime's code */
};

struct gobin {
	dev_t dev;
	ino_t ino;
	char path[256];
	struct go_buildinfo info;
	uint16_t machine;
	int pie;
	uint64_t base_vaddr;      /* lowest PT_LOAD address, page aligned */
	uint64_t first_load_off;  /* its file offset, page aligned */
	struct elf_segment text;  /* the executable segment */
	char build_id[128];
	/* link-time addresses */
	uint64_t mbuckets, mem_profile_rate, mprof_cycle;
	enum gobin_symbol_source symbols;
	struct pclntab *pcln;
	/* when the binary cannot be profiled: a short reason for `podprof ps` and logs */
	char unsupported[160];
};

/*
 * Inspects the Go binary at path (opened through /proc/<pid>/exe by callers, which
 * works across mount namespaces). Returns 0 for a Go binary (possibly unsupported, with
 * ->unsupported set), -ENOENT for a file that is not a Go binary, -ENOEXEC for a file
 * that is not a readable ELF executable, or another -errno. The caller owns *out
 * (gobin_free). Thread-safe.
 */
int gobin_load(const char *path, struct gobin **out);
void gobin_free(struct gobin *b);

/* A short name of how symbols were found: "symtab", "pclntab+code" or "none". */
const char *gobin_symbol_source_name(enum gobin_symbol_source s);

#endif
