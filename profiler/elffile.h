/*
 * ELF access for Go binaries: section and segment headers through libelf, section
 * contents read in bounded pieces with pread (or mapped read-only for the pclntab),
 * and the symbol table streamed in fixed-size chunks, so that a 100 MiB binary never
 * costs its size in memory.
 *
 * Only 64-bit little-endian ELF files (x86-64 and arm64, the platforms Go runs on in
 * Kubernetes) are accepted; anything else is refused with -ENOTSUP.
 */
#ifndef PODPROF_ELFFILE_H
#define PODPROF_ELFFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds on what is read from a binary (a corrupt or hostile file cannot exceed them). */
#define ELF_MAX_SECTIONS 4096
#define ELF_MAX_SEGMENTS 256
#define ELF_MAX_SMALL_SECTION (4u << 20) /* read fully into memory */
#define ELF_MAX_PCLNTAB (512u << 20)

struct elf_section {
	char name[64];
	uint64_t addr;   /* virtual address at link time */
	uint64_t offset; /* in the file */
	uint64_t size;
	uint32_t type;   /* SHT_* */
	uint32_t link;
	uint64_t entsize;
};

struct elf_segment {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_R | PF_W | PF_X */
};

struct elf_file {
	int fd;
	uint64_t file_size;
	uint16_t machine; /* EM_X86_64, EM_AARCH64 */
	uint16_t type;    /* ET_EXEC or ET_DYN (PIE) */
	struct elf_section *sections;
	size_t nsections;
	struct elf_segment segments[ELF_MAX_SEGMENTS];
	size_t nsegments;
	char build_id[128]; /* GNU build id as hex, else the Go build id, or "" */
};

/*
 * Opens path and reads its headers. Returns 0 or -errno (-ENOEXEC for a file that is
 * not a valid ELF file, -ENOTSUP for a class/byte order/machine we do not read). The
 * caller owns *ef (elf_file_close). Thread-safe (no shared state).
 */
int elf_file_open(const char *path, struct elf_file *ef);
void elf_file_close(struct elf_file *ef);

/* The section with this name, or NULL. */
const struct elf_section *elf_file_section(const struct elf_file *ef, const char *name);

/* Reads len bytes at file offset off (bounded by the file size). Returns 0 or -errno
 * (-EIO for a short read: a truncated file). */
int elf_file_pread(const struct elf_file *ef, uint64_t off, void *dst, size_t len);

/* Reads the whole content of a section of at most ELF_MAX_SMALL_SECTION bytes into a
 * malloc'd buffer the caller frees. */
int elf_file_read_section(const struct elf_file *ef, const struct elf_section *s,
			  unsigned char **out);

/*
 * Reads len bytes at link-time virtual address va from the file, through the loadable
 * segments (only file-backed bytes; bss reads as -EFAULT). Returns 0 or -errno.
 */
int elf_file_read_va(const struct elf_file *ef, uint64_t va, void *dst, size_t len);

/* The file offset of virtual address va, or -EFAULT when it is not file-backed. */
int elf_file_va_to_offset(const struct elf_file *ef, uint64_t va, uint64_t *off);

/* The lowest p_vaddr of the PT_LOAD segments (page-aligned down), for load bias. */
uint64_t elf_file_base_vaddr(const struct elf_file *ef);

/*
 * Looks up the values of the given symbol names in .symtab by streaming .strtab and
 * .symtab in fixed-size chunks. values[i] is set for each name found (found[i] = 1).
 * Returns 0 (even if some are missing), -ENOENT when there is no .symtab, or -errno.
 */
int elf_file_lookup_symbols(const struct elf_file *ef, const char *const *names, size_t n,
			    uint64_t *values, int *found);

#endif
