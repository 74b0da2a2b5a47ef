/*
 * Process memory access. The window cache is what makes a walk of thousands of
 * heap-profile buckets cost tens of system calls instead of thousands: buckets come
 * from the runtime's persistentalloc chunks, so consecutive buckets are usually close.
 */
#define LOG_MODULE "procmem"
#include "procmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

#define WINDOW (64u << 10)
#define NWINDOWS 16

struct window {
	uint64_t start;
	size_t len;
	uint64_t used; /* LRU clock */
	unsigned char *data;
};

struct procmem {
	pid_t pid;
	int use_vm_readv;
	int memfd;
	/* procmem_open_image(): reads come from this buffer instead of a process */
	const unsigned char *image;
	size_t image_len;
	uint64_t image_base;
	char mem_path[64 + 4096];
	struct proc_mapping *maps;
	size_t nmaps;
	struct window windows[NWINDOWS];
	uint64_t clock;
	uint64_t bytes_read, syscalls;
};

int proc_maps_parse_line(const char *line, struct proc_mapping *m)
{
	unsigned long long start, end, off, inode;
	unsigned maj, min;
	char perms[8];
	int pos = 0;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
		   &inode, &pos) < 7)
		return -EINVAL;
	if (end < start || strlen(perms) != 4)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = inode;
	memcpy(m->perms, perms, 5);
	if (pos > 0) {
		size_t n = strcspn(line + pos, "\n");
		if (n >= sizeof(m->path))
			n = sizeof(m->path) - 1;
		memcpy(m->path, line + pos, n);
		m->path[n] = '\0';
	}
	return 0;
}

static int read_maps(struct procmem *m, const char *proc_root)
{
	char path[4200], *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%d/maps", proc_root, (int)m->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct proc_mapping pm, *grown;
		total += (size_t)n;
		if (total > PROC_MAX_MAPS_BYTES || m->nmaps == PROC_MAX_MAPPINGS) {
			r = -E2BIG;
			break;
		}
		if (proc_maps_parse_line(line, &pm))
			continue;
		if ((m->nmaps & (m->nmaps - 1)) == 0) {
			grown = realloc(m->maps, (m->nmaps ? m->nmaps * 2 : 64) * sizeof(*grown));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			m->maps = grown;
		}
		m->maps[m->nmaps++] = pm;
	}
	free(line);
	fclose(f);
	if (!r && m->nmaps == 0)
		r = -ESRCH; /* zombie or kernel thread: no memory */
	return r;
}

int procmem_open(const char *proc_root, pid_t pid, struct procmem **out)
{
	struct procmem *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->pid = pid;
	m->memfd = -1;
	m->use_vm_readv = strcmp(proc_root, "/proc") == 0;
	snprintf(m->mem_path, sizeof(m->mem_path), "%s/%d/mem", proc_root, (int)pid);
	r = read_maps(m, proc_root);
	if (r) {
		procmem_close(m);
		return r;
	}
	*out = m;
	return 0;
}

int procmem_open_image(const void *image, size_t len, uint64_t base, struct procmem **out)
{
	struct procmem *m;

	*out = NULL;
	/* the image must not wrap around the address space */
	if (!image || !len || base > UINT64_MAX - len)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->maps = calloc(1, sizeof(*m->maps));
	if (!m->maps) {
		free(m);
		return -ENOMEM;
	}
	m->pid = -1;
	m->memfd = -1;
	m->image = image;
	m->image_len = len;
	m->image_base = base;
	m->maps[0].start = base;
	m->maps[0].end = base + len;
	memcpy(m->maps[0].perms, "r--p", 5);
	snprintf(m->maps[0].path, sizeof(m->maps[0].path), "[image]");
	m->nmaps = 1;
	*out = m;
	return 0;
}

void procmem_close(struct procmem *m)
{
	if (!m)
		return;
	if (m->memfd >= 0)
		close(m->memfd);
	for (size_t i = 0; i < NWINDOWS; i++)
		free(m->windows[i].data);
	free(m->maps);
	free(m);
}

const struct proc_mapping *procmem_mappings(const struct procmem *m, size_t *n)
{
	*n = m->nmaps;
	return m->maps;
}

uint64_t procmem_bytes_read(const struct procmem *m)
{
	return m->bytes_read;
}

uint64_t procmem_syscalls(const struct procmem *m)
{
	return m->syscalls;
}

static const struct proc_mapping *find_mapping(const struct procmem *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nmaps;
	/* maps are sorted by address */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->maps[mid].end <= addr)
			lo = mid + 1;
		else if (m->maps[mid].start > addr)
			hi = mid;
		else
			return &m->maps[mid];
	}
	return NULL;
}

static int open_mem(struct procmem *m, int flags)
{
	if (m->memfd >= 0 && !(flags & O_RDWR))
		return 0;
	if (m->memfd >= 0)
		close(m->memfd);
	m->memfd = open(m->mem_path, flags | O_CLOEXEC);
	if (m->memfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

/* Reads [addr, addr+len) directly from the process. */
static int raw_read(struct procmem *m, uint64_t addr, void *dst, size_t len)
{
	ssize_t n;
	int r;

	if (m->image) {
		if (addr < m->image_base || addr - m->image_base > m->image_len ||
		    len > m->image_len - (addr - m->image_base))
			return -EFAULT;
		memcpy(dst, m->image + (addr - m->image_base), len);
		m->bytes_read += len;
		return 0;
	}

	if (m->use_vm_readv) {
		struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)addr, len};
		m->syscalls++;
		n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
		if (n == (ssize_t)len) {
			m->bytes_read += len;
			return 0;
		}
		if (n < 0 && errno == ESRCH)
			return -ESRCH;
		if (n < 0 && errno != EPERM && errno != ENOSYS && errno != EFAULT)
			return -errno;
		if (n >= 0 || errno == EFAULT)
			return -EFAULT;
		/* process_vm_readv refused (e.g. seccomp); /proc/<pid>/mem may still work */
		m->use_vm_readv = 0;
	}
	r = open_mem(m, O_RDONLY);
	if (r)
		return r;
	m->syscalls++;
	n = pread(m->memfd, dst, len, (off_t)addr);
	if (n == (ssize_t)len) {
		m->bytes_read += len;
		return 0;
	}
	if (n == 0 || (n < 0 && errno == ESRCH))
		return -ESRCH;
	return n < 0 ? (errno == EIO ? -EFAULT : -errno) : -EFAULT;
}

static struct window *load_window(struct procmem *m, uint64_t addr)
{
	const struct proc_mapping *pm = find_mapping(m, addr);
	struct window *w = &m->windows[0];
	uint64_t start, end;

	if (!pm || pm->perms[0] != 'r')
		return NULL;
	for (size_t i = 1; i < NWINDOWS; i++)
		if (m->windows[i].used < w->used)
			w = &m->windows[i];
	start = addr & ~(uint64_t)(WINDOW - 1);
	if (start < pm->start)
		start = pm->start;
	end = start + WINDOW;
	if (end > pm->end)
		end = pm->end;
	if (!w->data && !(w->data = malloc(WINDOW)))
		return NULL;
	w->len = 0;
	if (raw_read(m, start, w->data, (size_t)(end - start)) != 0)
		return NULL;
	w->start = start;
	w->len = (size_t)(end - start);
	return w;
}

int procmem_read(struct procmem *m, uint64_t addr, void *dst, size_t len)
{
	unsigned char *out = dst;

	while (len > 0) {
		struct window *w = NULL;
		size_t n;

		for (size_t i = 0; i < NWINDOWS; i++) {
			struct window *c = &m->windows[i];
			if (c->len && addr >= c->start && addr - c->start < c->len) {
				w = c;
				break;
			}
		}
		if (!w) {
			/* a large read goes straight to the process */
			if (len >= WINDOW)
				return raw_read(m, addr, out, len);
			w = load_window(m, addr);
			if (!w) {
				int r = raw_read(m, addr, out, len);
				return r ? r : 0;
			}
		}
		w->used = ++m->clock;
		n = w->len - (size_t)(addr - w->start);
		if (n > len)
			n = len;
		memcpy(out, w->data + (addr - w->start), n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int procmem_write_u64(struct procmem *m, uint64_t addr, uint64_t value)
{
	ssize_t n = -1;
	int r;

	if (m->image)
		return -EROFS;
	/* the cached windows may hold the old value */
	for (size_t i = 0; i < NWINDOWS; i++)
		m->windows[i].len = 0;
	/*
	 * process_vm_writev needs only ptrace access (CAP_SYS_PTRACE), while opening
	 * /proc/<pid>/mem for writing also needs file permission on it (mode 0600, owned
	 * by the process's user): try it first. It writes only to writable mappings,
	 * which is where MemProfileRate lives.
	 */
	if (m->use_vm_readv) {
		struct iovec local = {&value, sizeof(value)};
		struct iovec remote = {(void *)(uintptr_t)addr, sizeof(value)};
		n = process_vm_writev(m->pid, &local, 1, &remote, 1, 0);
		if (n == (ssize_t)sizeof(value))
			return 0;
		if (n < 0 && errno == ESRCH)
			return -ESRCH;
	}
	r = open_mem(m, O_RDWR);
	if (r)
		return r;
	n = pwrite(m->memfd, &value, sizeof(value), (off_t)addr);
	close(m->memfd);
	m->memfd = -1;
	if (n == (ssize_t)sizeof(value))
		return 0;
	return n < 0 ? -errno : -EIO;
}
