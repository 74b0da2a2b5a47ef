/*
 * Security: the node role writes to another process's memory only in force mode, only
 * the 8-byte runtime.MemProfileRate word, and only when it reads 0 at an address that
 * was validated (SECURITY.md, "Writing to other processes").
 *
 *   - enabled mode (the default): a process whose MemProfileRate is 0 (tests/go/noprof:
 *     the Go linker turned heap profiling off) still reads 0 after several cycles of
 *     `podprof node` and after `podprof heap`;
 *   - force mode against tampered copies of the same binary, whose .symtab entry for
 *     runtime.MemProfileRate points at another word (one that holds 0, so that a
 *     careless check would write there), or whose runtime.mbuckets points elsewhere:
 *     neither that word nor the real MemProfileRate changes, and `podprof ps` says why;
 *   - force mode against the untampered binary writes exactly once, 524288 into
 *     MemProfileRate (the control: the reads here do see a write).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elffile.h"
#include "fault_common.h"
#include "support.h"
#include "testing.h"

#define SHT_SYMTAB_ 2
#define SYM_SIZE 24

struct sym {
	uint64_t entry_off; /* file offset of the Elf64_Sym */
	uint64_t value, size;
	uint16_t shndx;
};

/* Looks name up in .symtab. 0 or -ENOENT. */
static int find_sym(const char *path, const char *name, struct sym *out)
{
	struct elf_file ef;
	const struct elf_section *symtab = NULL, *strtab;
	unsigned char *syms = NULL;
	char *strs = NULL;
	int r = -ENOENT;

	if (elf_file_open(path, &ef))
		return -EIO;
	for (size_t i = 0; i < ef.nsections; i++)
		if (ef.sections[i].type == SHT_SYMTAB_)
			symtab = &ef.sections[i];
	if (!symtab)
		goto out;
	strtab = &ef.sections[symtab->link];
	syms = malloc(symtab->size);
	strs = malloc(strtab->size + 1);
	if (!syms || !strs || elf_file_pread(&ef, symtab->offset, syms, symtab->size) ||
	    elf_file_pread(&ef, strtab->offset, strs, strtab->size))
		goto out;
	strs[strtab->size] = '\0';
	for (uint64_t k = 0; k + SYM_SIZE <= symtab->size; k += SYM_SIZE) {
		uint32_t nameoff;
		memcpy(&nameoff, syms + k, 4);
		if (nameoff >= strtab->size || strcmp(strs + nameoff, name) != 0)
			continue;
		out->entry_off = symtab->offset + k;
		memcpy(&out->shndx, syms + k + 6, 2);
		memcpy(&out->value, syms + k + 8, 8);
		memcpy(&out->size, syms + k + 16, 8);
		r = 0;
		break;
	}
out:
	free(syms);
	free(strs);
	elf_file_close(&ef);
	return r;
}

/* The runtime's 8-byte variables in .noptrbss: candidates for a word that reads 0. */
static size_t zero_candidates(const char *path, uint64_t *addrs, size_t max)
{
	struct elf_file ef;
	const struct elf_section *symtab = NULL, *bss;
	unsigned char *syms = NULL;
	size_t n = 0, bss_index = 0;

	if (elf_file_open(path, &ef))
		return 0;
	bss = elf_file_section(&ef, ".noptrbss");
	for (size_t i = 0; i < ef.nsections; i++) {
		if (ef.sections[i].type == SHT_SYMTAB_)
			symtab = &ef.sections[i];
		if (bss && &ef.sections[i] == bss)
			bss_index = i;
	}
	if (!symtab || !bss || !(syms = malloc(symtab->size)) ||
	    elf_file_pread(&ef, symtab->offset, syms, symtab->size))
		goto out;
	for (uint64_t k = 0; k + SYM_SIZE <= symtab->size && n < max; k += SYM_SIZE) {
		uint16_t shndx;
		uint64_t value, size;
		memcpy(&shndx, syms + k + 6, 2);
		memcpy(&value, syms + k + 8, 8);
		memcpy(&size, syms + k + 16, 8);
		if (shndx == bss_index && size == 8 && (value & 7) == 0)
			addrs[n++] = value;
	}
out:
	free(syms);
	elf_file_close(&ef);
	return n;
}

/* Reads the 8-byte word at addr in pid; 0 or -errno. */
static int peek(pid_t pid, uint64_t addr, int64_t *v)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, v, 8, (off_t)addr) != 8)
		r = -EIO;
	close(fd);
	return r;
}

/* A copy of src with the value of .symtab entry at entry_off replaced. */
static int patched_copy(const char *src, const char *dst, uint64_t entry_off, uint64_t value)
{
	/* an Elf64_Sym: name (4), info, other, shndx (2), then value (8) */
	return test_patched_copy(src, dst, entry_off + 8, &value, sizeof(value));
}

static const char *noprof_path(char *out, size_t len)
{
	const char *go = test_go_newest(), *p = go ? strstr(go, "go-1.") : NULL;

	snprintf(out, len, "%s/go1.%d/noprof-exe", test_go_cache_dir(), p ? atoi(p + 5) : 0);
	return out;
}

/* Starts bin with a pid file in dir; returns the pid once it runs, or -1. */
static pid_t start_noprof(const char *bin, const char *dir, const char *tag)
{
	char pidfile[600];
	char *argv[] = {(char *)bin, pidfile, NULL};
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", dir, tag);
	pid = test_spawn(argv, NULL, NULL);
	fc_track(pid);
	if (pid <= 0 || test_wait_file(pidfile, 20000) != 0)
		return -1;
	usleep(200000);
	return pid;
}

/* Runs `podprof node` over the processes linked in procroot for ms with mode. */
static int run_node(const char *dir, const char *procroot, const char *mode, int ms,
		    struct buf *log)
{
	char logpath[600], out[600], modearg[64];
	char *argv[] = {(char *)test_podprof_bin(), "node", "--interval=1s", "--listen=",
			"--proc-root", (char *)procroot, "--output-dir", out, modearg, NULL};
	pid_t pid;
	int st;

	snprintf(logpath, sizeof(logpath), "%s/node-%s.log", dir, mode);
	snprintf(out, sizeof(out), "%s/out-%s", dir, mode);
	snprintf(modearg, sizeof(modearg), "--go-heap-profiler=%s", mode);
	pid = test_spawn(argv, NULL, logpath);
	fc_track(pid);
	usleep((useconds_t)ms * 1000);
	st = test_stop(pid, 10000);
	test_read_file(logpath, log);
	return st;
}

TEST(enabled_mode_never_writes)
{
	char bin[1024], *dir = test_tmpdir("sec-enabled"), procroot[600], cmd[2048];
	struct sym rate;
	struct buf log, out;
	int64_t v = -1;
	pid_t pid;

	buf_init(&log, 0);
	buf_init(&out, 0);
	noprof_path(bin, sizeof(bin));
	if (access(bin, X_OK) != 0)
		SKIP("%s is missing", bin);
	CHECK(find_sym(bin, "runtime.MemProfileRate", &rate) == 0);
	snprintf(procroot, sizeof(procroot), "%s/proc", dir);
	pid = start_noprof(bin, dir, "noprof");
	CHECK(pid > 0);
	fc_proc_link(procroot, pid);
	CHECK(peek(pid, rate.value, &v) == 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(run_node(dir, procroot, "enabled", 3500, &log), 0);
	CHECK(peek(pid, rate.value, &v) == 0);
	CHECK_MSG(v == 0, "MemProfileRate became %lld in enabled mode", (long long)v);
	CHECK(strstr(log.data, "switched on") == NULL);
	/* the one-shot command without --force does not write either */
	snprintf(cmd, sizeof(cmd), "%s heap %d -o %s/h.pb.gz", test_podprof_bin(), (int)pid, dir);
	CHECK_EQ(test_sh(cmd, &out, 1), 1);
	CHECK(peek(pid, rate.value, &v) == 0);
	CHECK_EQ(v, 0);
	test_stop(pid, 3000);
	buf_free(&log);
	buf_free(&out);
	test_rmtree(dir);
	free(dir);
}

TEST(tampered_symbols_are_never_written)
{
	char bin[1024], *dir = test_tmpdir("sec-force"), procroot[600], tampered[600],
		tampered2[600], needle[64];
	uint64_t cands[512], target = 0;
	struct sym rate, mbuckets, modata;
	struct buf log, ps;
	int64_t v = -1, w = -1;
	pid_t pid, pid2, ctl;
	size_t n;

	buf_init(&log, 0);
	buf_init(&ps, 0);
	noprof_path(bin, sizeof(bin));
	if (access(bin, X_OK) != 0)
		SKIP("%s is missing", bin);
	CHECK(find_sym(bin, "runtime.MemProfileRate", &rate) == 0);
	CHECK(find_sym(bin, "runtime.mbuckets", &mbuckets) == 0);
	CHECK(find_sym(bin, "runtime.firstmoduledata", &modata) == 0);
	snprintf(procroot, sizeof(procroot), "%s/proc", dir);

	/* a word of the running program that reads 0 and stays 0 (checked twice) */
	ctl = start_noprof(bin, dir, "probe");
	CHECK(ctl > 0);
	n = zero_candidates(bin, cands, 512);
	usleep(500000);
	for (size_t i = 0; i < n && !target; i++) {
		int64_t a = -1, b = -1;
		if (cands[i] == rate.value || cands[i] == mbuckets.value)
			continue;
		if (peek(ctl, cands[i], &a) == 0 && a == 0 && (usleep(100000), 1) &&
		    peek(ctl, cands[i], &b) == 0 && b == 0)
			target = cands[i];
	}
	test_stop(ctl, 3000);
	CHECK_MSG(target != 0, "no zero word among %zu .noptrbss variables", n);

	/* MemProfileRate redirected to that word */
	snprintf(tampered, sizeof(tampered), "%s/noprof-rate-redirected", dir);
	CHECK(patched_copy(bin, tampered, rate.entry_off, target) == 0);
	pid = start_noprof(tampered, dir, "tampered");
	CHECK(pid > 0);
	fc_proc_link(procroot, pid);
	/* runtime.mbuckets redirected to other data */
	snprintf(tampered2, sizeof(tampered2), "%s/noprof-mbuckets-redirected", dir);
	CHECK(patched_copy(bin, tampered2, mbuckets.entry_off, modata.value) == 0);
	pid2 = start_noprof(tampered2, dir, "tampered2");
	CHECK(pid2 > 0);
	fc_proc_link(procroot, pid2);

	CHECK(peek(pid, target, &w) == 0 && w == 0);
	CHECK_EQ(run_node(dir, procroot, "force", 3500, &log), 0);
	CHECK(peek(pid, target, &w) == 0);
	CHECK(peek(pid, rate.value, &v) == 0);
	CHECK_MSG(w == 0 && v == 0, "written: the redirected word is %lld, MemProfileRate %lld",
		  (long long)w, (long long)v);
	CHECK(peek(pid2, rate.value, &v) == 0);
	CHECK_MSG(v == 0, "MemProfileRate of the mbuckets-tampered process became %lld",
		  (long long)v);
	CHECK_MSG(strstr(log.data, "switched on") == NULL, "%s", log.data);
	{
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "%s ps --proc-root %s", test_podprof_bin(), procroot);
		test_sh(cmd, &ps, 1);
	}
	snprintf(needle, sizeof(needle), "%d ", (int)pid);
	CHECK_MSG(strstr(ps.data, needle) && strstr(ps.data, "does not point at the variable"),
		  "%s", ps.data);
	test_stop(pid, 3000);
	test_stop(pid2, 3000);

	/* the control: the untampered binary in force mode gets exactly the one write */
	fc_proc_unlink(procroot, pid);
	fc_proc_unlink(procroot, pid2);
	pid = start_noprof(bin, dir, "control");
	CHECK(pid > 0);
	fc_proc_link(procroot, pid);
	buf_reset(&log);
	CHECK_EQ(run_node(dir, procroot, "force", 2500, &log), 0);
	CHECK(peek(pid, rate.value, &v) == 0);
	CHECK_EQ(v, 524288);
	{
		const char *first = strstr(log.data, "heap profiling switched on");
		CHECK(first != NULL && strstr(first + 1, "heap profiling switched on") == NULL);
	}
	test_stop(pid, 3000);
	buf_free(&log);
	buf_free(&ps);
	test_rmtree(dir);
	free(dir);
}
