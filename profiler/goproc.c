/*
 * Process-level checks around the heap read. Everything read from /proc belongs to
 * another process and is bounded; a process can exit or exec at any point, which shows
 * up as -ESRCH, and what was read of it until then is discarded, never uploaded.
 */
#define LOG_MODULE "goproc"
#include "goproc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "procmem.h"

#define MAX_STAT (4u << 10)
#define MAX_ENVIRON (1u << 20)
#define ENV_OPT_OUT "COROOT_EBPF_PROFILING=disabled"

struct bincache {
	struct binentry *head;
	size_t n;
};

struct bincache *bincache_new(void)
{
	return calloc(1, sizeof(struct bincache));
}

static void binentry_free(struct binentry *e)
{
	symcache_free(e->syms);
	gobin_free(e->bin);
	free(e);
}

void bincache_free(struct bincache *c)
{
	if (!c)
		return;
	while (c->head) {
		struct binentry *e = c->head;
		c->head = e->next;
		binentry_free(e);
	}
	free(c);
}

int bincache_get(struct bincache *c, const char *proc_root, int pid, dev_t dev, ino_t ino,
		 struct binentry **out)
{
	struct binentry *e;
	char path[4200];
	int r;

	for (e = c->head; e; e = e->next) {
		if (e->dev == dev && e->ino == ino) {
			e->refs++;
			*out = e;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->dev = dev;
	e->ino = ino;
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, pid);
	r = gobin_load(path, &e->bin);
	if (r && r != -ENOENT && r != -ENOEXEC && r != -ENOTSUP) {
		free(e);
		return r;
	}
	if (e->bin && !e->bin->unsupported[0] && e->bin->symbols != GOBIN_SYM_NONE) {
		e->syms = symcache_new(e->bin->pcln, e->bin->info.minor);
		if (!e->syms) {
			binentry_free(e);
			return -ENOMEM;
		}
	}
	e->refs = 1;
	e->next = c->head;
	c->head = e;
	c->n++;
	*out = e;
	return 0;
}

void bincache_put(struct bincache *c, struct binentry *e)
{
	struct binentry **pp;

	if (!e || --e->refs > 0)
		return;
	for (pp = &c->head; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			c->n--;
			break;
		}
	}
	binentry_free(e);
}

size_t bincache_count(const struct bincache *c)
{
	return c->n;
}

size_t bincache_symbols(const struct bincache *c)
{
	size_t n = 0;
	for (const struct binentry *e = c->head; e; e = e->next)
		if (e->syms)
			n += symcache_entries(e->syms);
	return n;
}

/* The text of field n (1-based, as proc(5) numbers them; n >= 3) of a stat line. */
static int stat_field(const char *content, size_t len, int n, const char **start, size_t *flen)
{
	const char *p = NULL, *end = content + len;
	int field = 2;

	/* the command name is in parentheses and may contain anything: find the last ')' */
	for (size_t i = len; i > 0; i--) {
		if (content[i - 1] == ')') {
			p = content + i;
			break;
		}
	}
	if (!p || p >= end || *p != ' ')
		return -EINVAL;
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end || *p == '\n')
			return -EINVAL;
		if (++field == n) {
			*start = p;
			*flen = 0;
			while (p + *flen < end && p[*flen] != ' ' && p[*flen] != '\n')
				(*flen)++;
			return 0;
		}
		while (p < end && *p != ' ')
			p++;
	}
	return -EINVAL;
}

int proc_stat_u64(const char *content, size_t len, int n, uint64_t *out)
{
	const char *f;
	size_t fl;
	uint64_t v = 0;

	if (stat_field(content, len, n, &f, &fl) || fl == 0 || fl > 20)
		return -EINVAL;
	for (size_t i = 0; i < fl; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(f[i] - '0');
	}
	*out = v;
	return 0;
}

int proc_stat_parse(const char *content, size_t len, uint64_t *starttime, char *state)
{
	const char *f;
	size_t fl;

	if (stat_field(content, len, 3, &f, &fl) || fl != 1)
		return -EINVAL;
	*state = *f;
	return proc_stat_u64(content, len, 22, starttime);
}

int proc_identity_read(const char *proc_root, int pid, struct proc_identity *id)
{
	char path[4200], buf[MAX_STAT];
	struct stat st;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	r = proc_stat_parse(buf, (size_t)n, &id->starttime, &id->state);
	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, pid);
	if (stat(path, &st) != 0)
		return errno == ENOENT ? (id->state == 'Z' ? -ESRCH : -ENOENT) : -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

/* Looks for the opt-out entry in NUL-separated environment text, streamed in chunks:
 * keep is the unterminated tail carried over between calls. */
struct env_scan {
	char buf[8192];
	size_t keep;
	int skip; /* inside an entry too long to match: its tail is no entry of its own */
	int found;
};

static void env_feed(struct env_scan *e, size_t n)
{
	size_t avail = e->keep + n, start = 0, want = strlen(ENV_OPT_OUT);

	for (size_t i = 0; i < avail; i++) {
		if (e->buf[i] != '\0')
			continue;
		if (!e->skip && i - start == want && memcmp(e->buf + start, ENV_OPT_OUT, want) == 0)
			e->found = 1;
		e->skip = 0;
		start = i + 1;
	}
	e->keep = avail - start;
	if (e->skip || e->keep > want) {
		/* a longer entry cannot match: drop its head, and its tail when it comes */
		e->keep = 0;
		e->skip = 1;
	} else {
		memmove(e->buf, e->buf + start, e->keep);
	}
}

/* The environment from the process's memory (env_start..env_end in its stat line): for
 * when /proc/<pid>/environ is not readable (mode 0400, another user) but the process's
 * memory is (CAP_SYS_PTRACE). */
static int opted_out_from_memory(const char *proc_root, int pid, struct env_scan *e)
{
	char path[4200], stat[MAX_STAT];
	uint64_t start, end;
	struct procmem *m = NULL;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0 || proc_stat_u64(stat, (size_t)n, 50, &start) ||
	    proc_stat_u64(stat, (size_t)n, 51, &end) || end < start)
		return -EPROTO;
	if (end - start > MAX_ENVIRON)
		end = start + MAX_ENVIRON;
	r = procmem_open(proc_root, pid, &m);
	while (!r && start < end && !e->found) {
		size_t chunk = sizeof(e->buf) - e->keep;
		if (chunk > end - start)
			chunk = (size_t)(end - start);
		r = procmem_read(m, start, e->buf + e->keep, chunk);
		if (!r)
			env_feed(e, chunk);
		start += chunk;
	}
	procmem_close(m);
	return r;
}

int proc_opted_out(const char *proc_root, int pid)
{
	char path[4200];
	struct env_scan *e = calloc(1, sizeof(*e));
	size_t total = 0;
	ssize_t n = 0;
	int fd, r = 0;

	if (!e)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%d/environ", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = errno == EACCES || errno == EPERM ? opted_out_from_memory(proc_root, pid, e)
						      : -errno;
		goto out;
	}
	while (!e->found && total < MAX_ENVIRON &&
	       (n = read(fd, e->buf + e->keep, sizeof(e->buf) - e->keep)) > 0) {
		total += (size_t)n;
		env_feed(e, (size_t)n);
	}
	if (n < 0 && (errno == EACCES || errno == EPERM) && total == 0)
		r = opted_out_from_memory(proc_root, pid, e);
	close(fd);
out:
	r = r < 0 ? r : e->found;
	free(e);
	return r;
}

int proc_load_bias(const struct procmem *m, const struct gobin *b, uint64_t *bias)
{
	size_t n;
	const struct proc_mapping *maps = procmem_mappings(m, &n);

	if (!b->pie) {
		*bias = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (maps[i].inode == (uint64_t)b->ino && maps[i].offset == b->first_load_off) {
			*bias = maps[i].start - b->base_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/* Validates the list head before anything is written: 0 or a memProfile bucket. */
static int head_is_sane(struct procmem *m, const struct gobin *b, uint64_t bias)
{
	uint64_t head, hdr[6];
	if (procmem_read(m, b->mbuckets + bias, &head, sizeof(head)))
		return 0;
	if (head == 0)
		return 1;
	if ((head & 7) || procmem_read(m, head, hdr, sizeof(hdr)))
		return 0;
	return hdr[2] == 1 && hdr[5] <= 1024;
}

void goproc_mark_partial(struct goproc_info *info, size_t nbuckets)
{
	info->status = GOPROC_PARTIAL;
	info->buckets = nbuckets;
	snprintf(info->reason, sizeof(info->reason),
		 "more than %zu heap buckets: the newest are read (--heap-max-buckets)", nbuckets);
}

int goproc_read_heap(const char *proc_root, int pid, const struct proc_identity *id,
		     const struct gobin *b, int force, int *forced, uint64_t *bias,
		     const struct heap_limits *lim, heap_bucket_fn fn, void *ctx,
		     struct heap_walk_info *info, int64_t *rate, char *reason, size_t reasonlen)
{
	struct procmem *m = NULL;
	struct proc_identity after;
	int r;

	memset(info, 0, sizeof(*info));
	reason[0] = '\0';
	r = procmem_open(proc_root, pid, &m);
	if (r)
		goto out;
	r = proc_load_bias(m, b, bias);
	if (r) {
		snprintf(reason, reasonlen, "executable mapping not found in /proc/%d/maps", pid);
		goto out;
	}
	r = heap_read_rate(m, b, *bias, rate);
	if (r)
		goto out;
	if (*rate < 0 || *rate > (INT64_C(1) << 40)) {
		snprintf(reason, reasonlen, "implausible MemProfileRate %" PRId64
			 " (wrong address?)", *rate);
		r = -EPROTO;
		goto out;
	}
	if (*rate == 0) {
		if (!force || *forced) {
			snprintf(reason, reasonlen,
				 "heap profiling is off in the process (MemProfileRate=0, set by "
				 "the Go linker); GO_HEAP_PROFILER=force turns it on");
			r = -EAGAIN;
			goto out;
		}
		/* force mode: one 8-byte write, only at a validated address that reads 0 */
		if (!head_is_sane(m, b, *bias)) {
			snprintf(reason, reasonlen, "runtime.mbuckets does not look like a bucket "
						    "list; not writing MemProfileRate");
			r = -EPROTO;
			goto out;
		}
		r = procmem_write_u64(m, b->mem_profile_rate + *bias, GOHEAP_FORCE_RATE);
		*forced = 1; /* once per process, whatever the outcome */
		if (r) {
			snprintf(reason, reasonlen, "cannot write MemProfileRate: %s", strerror(-r));
			goto out;
		}
		log_info("pid %d: heap profiling switched on (MemProfileRate 0 -> %d)", pid,
			 GOHEAP_FORCE_RATE);
		*rate = GOHEAP_FORCE_RATE;
	}
	r = heap_walk(m, b, *bias, lim, fn, ctx, info);
	if (r) {
		if (r == -EPROTO)
			snprintf(reason, reasonlen, "the heap profile list is malformed");
		else if (r == -EFAULT)
			snprintf(reason, reasonlen, "heap profile memory not readable");
		goto out;
	}
	/* the same process, still running the same binary? */
	if (proc_identity_read(proc_root, pid, &after) != 0 || after.starttime != id->starttime ||
	    after.dev != id->dev || after.ino != id->ino)
		r = -ESRCH;
out:
	if (r == -ESRCH && reason[0] == '\0')
		snprintf(reason, reasonlen, "the process exited or exec'd during the read");
	if ((r == -EACCES || r == -EPERM) && reason[0] == '\0')
		snprintf(reason, reasonlen,
			 "permission denied reading its memory (podprof needs CAP_SYS_PTRACE)");
	procmem_close(m);
	return r;
}
