/*
 * .gopclntab: the Go runtime's own function table, which survives stripping. podprof
 * symbolizes every PC with it exactly as the runtime does (function, file and line at
 * the PC, the inlined function when the PC lies in inlined code), and finds functions
 * by name when a binary has no .symtab.
 *
 * Formats read: Go 1.18-1.19 (magic 0xfffffff0) and 1.20+ (0xfffffff1), 64-bit. The
 * table is mapped read-only from the file, so it costs page cache, not heap. The
 * module data (text start, gofunc) comes from runtime.firstmoduledata, found through
 * .symtab or, in stripped binaries, by scanning for the pointer to the table.
 */
#ifndef PODPROF_PCLNTAB_H
#define PODPROF_PCLNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "elffile.h"

struct pclntab;

/* One frame: the innermost function at a PC. Strings point into the table. */
struct go_frame {
	const char *function;
	const char *file;
	int64_t line;
	int64_t start_line;
	uint64_t entry; /* entry of the physical function that holds the PC */
	int inlined;    /* the frame is an inlined call (no physical function of its own) */
};

/*
 * Opens the pclntab of ef for Go minor version go_minor (1.x). moduledata_va is the
 * address of runtime.firstmoduledata when known from .symtab, else 0 (it is then
 * searched). Returns 0, -ENOENT (no pclntab), -ENOTSUP (a format not read), -EPROTO
 * (corrupt), or -errno. The caller owns *out. The table keeps no reference to ef.
 * A pclntab is immutable once open and may be shared by threads.
 */
int pclntab_open(const struct elf_file *ef, int go_minor, uint64_t moduledata_va,
		 struct pclntab **out);
void pclntab_close(struct pclntab *t);

/* Link-time address of the start of the text the function table is relative to. */
uint64_t pclntab_text_start(const struct pclntab *t);
/* Number of functions. */
size_t pclntab_nfunc(const struct pclntab *t);

/* The function holding pc: its entry, end and name. Returns 0 or -ENOENT. */
int pclntab_func(const struct pclntab *t, uint64_t pc, uint64_t *entry, uint64_t *end,
		 const char **name);

/* The frame at pc (a PC inside an instruction, i.e. already "return PC - 1").
 * Returns 0, -ENOENT (no function there) or -EPROTO (corrupt tables). */
int pclntab_frame(const struct pclntab *t, uint64_t pc, struct go_frame *fr);

/*
 * The virtual PCs of the callers of an inlined frame at pc, innermost outward, as the
 * runtime records them (entry + parentPc + 1): up to max of them into out. Returns the
 * count (0 when pc is not in inlined code) or a negative errno.
 */
int pclntab_inline_parents(const struct pclntab *t, uint64_t pc, uint64_t *out, size_t max);

/* Finds a function by exact name. Returns 0 with its entry and end, or -ENOENT. */
int pclntab_find(const struct pclntab *t, const char *name, uint64_t *entry, uint64_t *end);

#endif
