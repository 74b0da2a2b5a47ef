/*
 * What podprof's fuzz targets (tests/fuzz/fuzz_*.c) share.
 *
 * Each target defines LLVMFuzzerTestOneInput() (and, when it needs set-up,
 * LLVMFuzzerInitialize()). Built with clang it is a libFuzzer executable; built with
 * another compiler it links runner.c instead, a main() that feeds the files named on
 * its command line (directories: every file in them) through the same function, so
 * that the corpora and the regression inputs replay in every build of the suite.
 *
 * A target checks properties, not just the absence of crashes: when a check fails it
 * calls FUZZ_CHECK's abort(), which libFuzzer reports as a crash with the input.
 */
#ifndef PODPROF_FUZZ_H
#define PODPROF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the code under test; a violation aborts with the place. The message
 * goes to stdout: scripts/fuzz.sh closes the targets' stderr (-close_fd_mask=2). */
#define FUZZ_CHECK(cond)                                                             \
	do {                                                                         \
		if (!(cond)) {                                                       \
			printf("%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
			       #cond);                                               \
			fflush(stdout);                                              \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* Silences podprof's log (errors included): hostile input makes every parser log. */
void fuzz_quiet(void);
/* The LLVMFuzzerInitialize() of a target whose only set-up is fuzz_quiet(). */
#define FUZZ_QUIET_INITIALIZE()                                                      \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                            \
	{                                                                            \
		(void)argc;                                                          \
		(void)argv;                                                          \
		fuzz_quiet();                                                        \
		return 0;                                                            \
	}

/* ---- reading structured values from the front of the input ------------------------ */

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* Little-endian integers taken from the front; 0 (or the missing bytes as 0) once the
 * input is used up. */
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Takes up to n bytes; returns how many (*out points at them). */
size_t fuzz_take(struct fuzz_in *in, size_t n, const uint8_t **out);
/* The bytes up to the next sep (excluded, the separator consumed) or to the end, as a
 * new NUL-terminated string (free() it); NULL once the input is used up. */
char *fuzz_token(struct fuzz_in *in, uint8_t sep);
/* A NUL-terminated copy of n bytes (free() it); never NULL (aborts on allocation
 * failure). */
char *fuzz_strndup(const void *p, size_t n);

/* ---- files ------------------------------------------------------------------------ */

/* A private directory for this process, /tmp/podprof-fuzz-<pid> (created once, removed
 * at exit with what is in it, one level of subdirectories included). */
const char *fuzz_tmpdir(void);
/* Writes data to <fuzz_tmpdir()>/name (replacing it) and copies that path into path.
 * Returns 0 or -errno. */
int fuzz_write_file(const char *name, const void *data, size_t len, char *path, size_t pathlen);
/* An anonymous memory file holding data, and its name /proc/self/fd/N in path (64
 * bytes). Returns the descriptor (the caller closes it) or -errno. */
int fuzz_memfd(const void *data, size_t len, char path[64]);
/* Reads a whole file (at most max bytes) into out. Returns 0 or -errno. */
int fuzz_read_file(const char *path, size_t max, struct buf *out);

/* ---- ELF images ------------------------------------------------------------------- */

struct fuzz_elf_section {
	const char *name;
	uint32_t type;  /* SHT_* */
	uint64_t flags; /* SHF_* */
	uint64_t addr;
	const void *data; /* NULL with size: SHT_NOBITS-like, no bytes in the file */
	size_t size;
	uint32_t link;
	uint64_t entsize;
};

struct fuzz_elf_segment {
	uint64_t vaddr, memsz;
	uint32_t flags;  /* PF_* */
	int section;     /* index in the section array whose bytes back the segment (filesz =
			    their size), or -1 for none (filesz 0) */
};

/*
 * Appends a 64-bit little-endian ELF file to out: the header, the PT_LOAD program
 * headers, the section contents (8-byte aligned), the section headers (a null section
 * first, then the given ones, then .shstrtab). Section indexes in link are 1-based
 * (0 is the null section). Returns 0 or a negative errno from the buffer.
 */
int fuzz_elf_build(uint16_t machine, uint16_t type, const struct fuzz_elf_section *sections,
		   size_t nsections, const struct fuzz_elf_segment *segments, size_t nsegments,
		   struct buf *out);

/* ---- function tables ------------------------------------------------------------- */

/*
 * The input form of fuzz_pclntab (described there): a Go function table with the
 * module data and inline trees it needs, which fuzz_pclntab_open() lays out as an ELF
 * file and opens the way podprof opens a binary's table.
 */
#define FUZZ_PCLNTAB_HEADER 96
#define FUZZ_PCLNTAB_NPCS 16

struct fuzz_pclntab_input {
	int minor;
	uint8_t flags;
	uint64_t text, gofunc, table_va, moduledata_va;
	uint32_t pcs[FUZZ_PCLNTAB_NPCS];
	const uint8_t *table, *inline_trees; /* point into the input */
	size_t table_len, inline_len;
};

struct pclntab;

/* Returns 0, or -EINVAL when the input is shorter than the header. */
int fuzz_pclntab_parse(const uint8_t *data, size_t size, struct fuzz_pclntab_input *in);
/* Returns what pclntab_open() returns; the caller owns *out (pclntab_close). */
int fuzz_pclntab_open(const struct fuzz_pclntab_input *in, struct pclntab **out);

#endif
