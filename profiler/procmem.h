/*
 * Reading (and, in force mode, writing one word of) another process's memory.
 *
 * Reads go through a small cache of windows clamped to the mapping that holds the
 * address (from /proc/<pid>/maps), read with process_vm_readv, falling back to pread
 * on /proc/<pid>/mem. A window never crosses into a neighbouring mapping, so an
 * unmapped neighbour cannot truncate a read; a read of unmapped memory is -EFAULT, and
 * a process that has exited is -ESRCH.
 */
#ifndef PODPROF_PROCMEM_H
#define PODPROF_PROCMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procmem;

struct proc_mapping {
	uint64_t start, end, offset;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];
	char path[128]; /* truncated; for display only */
};

/* Bounds: mappings read from one maps file, and maps file size. */
#define PROC_MAX_MAPPINGS 65536
#define PROC_MAX_MAPS_BYTES (16u << 20)

/*
 * Parses one line of /proc/<pid>/maps. Returns 0, or -EINVAL for a malformed line.
 * Exposed for tests and fuzzing.
 */
int proc_maps_parse_line(const char *line, struct proc_mapping *m);

/*
 * Opens pid's memory under proc_root ("/proc" normally). Reads the maps at once.
 * Returns 0, -ESRCH (gone), -EACCES/-EPERM, or -errno. The caller owns *out.
 * One thread at a time.
 */
int procmem_open(const char *proc_root, pid_t pid, struct procmem **out);
void procmem_close(struct procmem *m);

/*
 * A procmem whose "process memory" is len bytes of image at address base: one readable
 * mapping, reads outside it are -EFAULT, writes -EROFS. For tests and fuzzing of what
 * walks another process's memory (the bucket walker) on a crafted or corrupt image.
 * image must outlive the procmem. Returns 0, -EINVAL or -ENOMEM; the caller owns *out.
 */
int procmem_open_image(const void *image, size_t len, uint64_t base, struct procmem **out);

/* The mappings read at open. */
const struct proc_mapping *procmem_mappings(const struct procmem *m, size_t *n);

/* Reads len bytes at addr. Returns 0, -EFAULT (not mapped or not readable), -ESRCH
 * (the process exited) or -errno. */
int procmem_read(struct procmem *m, uint64_t addr, void *dst, size_t len);

/* Writes the 8-byte word at addr (process_vm_writev, else pwrite on /proc/<pid>/mem).
 * Returns 0 or -errno. */
int procmem_write_u64(struct procmem *m, uint64_t addr, uint64_t value);

/* Bytes read from the process so far, and read system calls made (for metrics/bench). */
uint64_t procmem_bytes_read(const struct procmem *m);
uint64_t procmem_syscalls(const struct procmem *m);

#endif
