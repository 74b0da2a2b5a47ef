/*
 * Process-level checks around the heap read. Everything read from /proc belongs to
 * another process and is bounded; a process can exit or exec at any point, which shows
 * up as -ESRCH and is never turned into a partial profile.
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

int proc_stat_parse(const char *content, size_t len, uint64_t *starttime, char *state)
{
	const char *p = NULL;
	unsigned long long v = 0;
	int field = 2;

	/* the command name is in parentheses and may contain anything: find the last ')' */
	for (size_t i = len; i > 0; i--) {
		if (content[i - 1] == ')') {
			p = content + i;
			break;
		}
	}
	if (!p || p >= content + len || *p != ' ')
		return -EINVAL;
	/* fields after the name: 3 state, ... 22 starttime */
	while (p < content + len && field < 22) {
		while (p < content + len && *p == ' ')
			p++;
		field++;
		if (p >= content + len)
			return -EINVAL;
		if (field == 3)
			*state = *p;
		if (field == 22) {
			char *end;
			char num[24];
			size_t n = 0;
			while (p + n < content + len && n < sizeof(num) - 1 && p[n] >= '0' && p[n] <= '9')
				n++;
			if (n == 0)
				return -EINVAL;
			memcpy(num, p, n);
			num[n] = '\0';
			v = strtoull(num, &end, 10);
			*starttime = v;
			return 0;
		}
		while (p < content + len && *p != ' ')
			p++;
	}
	return -EINVAL;
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

int proc_opted_out(const char *proc_root, int pid)
{
	char path[4200], buf[8192];
	size_t keep = 0, total = 0, want = strlen(ENV_OPT_OUT);
	ssize_t n;
	int fd, found = 0;

	snprintf(path, sizeof(path), "%s/%d/environ", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* NUL-separated entries, streamed; an entry may straddle two reads */
	while (!found && total < MAX_ENVIRON &&
	       (n = read(fd, buf + keep, sizeof(buf) - keep)) > 0) {
		size_t avail = keep + (size_t)n, start = 0;
		total += (size_t)n;
		for (size_t i = 0; i < avail; i++) {
			if (buf[i] != '\0')
				continue;
			if (i - start == want && memcmp(buf + start, ENV_OPT_OUT, want) == 0)
				found = 1;
			start = i + 1;
		}
		keep = avail - start;
		if (keep > want)
			keep = 0; /* a longer entry cannot match; drop its head */
		else
			memmove(buf, buf + start, keep);
	}
	close(fd);
	return found;
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

int goproc_read_heap(const char *proc_root, int pid, const struct proc_identity *id,
		     const struct gobin *b, int force, int *forced, uint64_t *bias,
		     struct heap_snapshot *out, int64_t *rate, char *reason, size_t reasonlen)
{
	struct procmem *m = NULL;
	struct proc_identity after;
	int r;

	memset(out, 0, sizeof(*out));
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
	r = heap_read(m, b, *bias, NULL, out);
	if (r) {
		if (r == -EPROTO)
			snprintf(reason, reasonlen, "the heap profile list is malformed");
		else if (r == -EFAULT)
			snprintf(reason, reasonlen, "heap profile memory not readable");
		goto out;
	}
	/* the same process, still running the same binary? */
	if (proc_identity_read(proc_root, pid, &after) != 0 || after.starttime != id->starttime ||
	    after.dev != id->dev || after.ino != id->ino) {
		heap_snapshot_free(out);
		r = -ESRCH;
	}
out:
	if (r == -ESRCH && reason[0] == '\0')
		snprintf(reason, reasonlen, "the process exited or exec'd during the read");
	if ((r == -EACCES || r == -EPERM) && reason[0] == '\0')
		snprintf(reason, reasonlen,
			 "permission denied reading its memory (podprof needs CAP_SYS_PTRACE)");
	procmem_close(m);
	return r;
}
