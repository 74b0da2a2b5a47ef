/*
 * Go binary inspection: .go.buildinfo for the version, .symtab (streamed) or the
 * runtime's code for the variables, .gopclntab for symbols. A binary that is Go but
 * cannot be profiled (too old, too new, stripped on a platform whose code we do not
 * scan, corrupt tables) is still returned, with a reason, so that `podprof ps` can say
 * why.
 */
#define LOG_MODULE "gobin"
#include "gobin.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codescan.h"
#include "common.h"

#define MAX_FUNC_CODE (64u << 10)
/* runtime.MemProfileRate's initial value, the same in every supported release */
#define GO_DEFAULT_MEM_PROFILE_RATE (512 * 1024)

enum { SYM_MBUCKETS, SYM_RATE, SYM_CYCLE, SYM_MODULEDATA, NSYMS };

static const char *const symbol_names[NSYMS] = {
	"runtime.mbuckets", "runtime.MemProfileRate", "runtime.mProfCycle",
	"runtime.firstmoduledata",
};

const char *gobin_symbol_source_name(enum gobin_symbol_source s)
{
	switch (s) {
	case GOBIN_SYM_SYMTAB:
		return "symtab";
	case GOBIN_SYM_CODE:
		return "pclntab+code";
	default:
		return "none";
	}
}

/* Is va inside a writable loadable segment (data or bss)? */
static int in_writable(const struct elf_file *ef, uint64_t va)
{
	for (size_t i = 0; i < ef->nsegments; i++) {
		const struct elf_segment *g = &ef->segments[i];
		if ((g->flags & PF_W) && va >= g->vaddr && va - g->vaddr < g->memsz)
			return 1;
	}
	return 0;
}

/* The n-th RIP-relative load target in function fn (wide: 64-bit). */
static int scan_function(const struct elf_file *ef, const struct pclntab *t, const char *fn,
			 int wide, size_t nth, uint64_t *target)
{
	uint64_t entry, end, targets[8];
	uint8_t *code;
	size_t n;
	int r = pclntab_find(t, fn, &entry, &end);

	if (r)
		return r;
	if (end <= entry || end - entry > MAX_FUNC_CODE)
		return -EPROTO;
	code = malloc(end - entry);
	if (!code)
		return -ENOMEM;
	r = elf_file_read_va(ef, entry, code, end - entry);
	if (r == 0) {
		n = x86_rip_loads(code, end - entry, entry, wide, targets, ARRAY_SIZE(targets));
		if (n > nth && in_writable(ef, targets[nth]))
			*target = targets[nth];
		else
			r = -ENOENT;
	}
	free(code);
	return r;
}

/*
 * Is the address found for runtime.MemProfileRate really that variable? Force mode
 * writes there, so a wrong address (a tampered or corrupt .symtab, a code scan gone
 * astray) must never pass for it. Since go1.21 the variable is statically initialised
 * (`var MemProfileRate int = 512 * 1024`) and lives in .noptrdata, so the binary
 * itself holds 524288 at its address; go1.19 and go1.20 initialise it at start from a
 * function call, so it sits in .noptrbss, with no bytes in the file to compare.
 */
static int rate_address_ok(const struct elf_file *ef, const struct gobin *b)
{
	int64_t initial;

	if (elf_file_read_va(ef, b->mem_profile_rate, &initial, sizeof(initial)) == 0)
		return initial == GO_DEFAULT_MEM_PROFILE_RATE;
	return b->info.minor <= 20;
}

static int find_by_code(struct gobin *b, const struct elf_file *ef)
{
	if (ef->machine != EM_X86_64) {
		snprintf(b->unsupported, sizeof(b->unsupported),
			 "stripped binary (no .symtab) on a platform other than amd64");
		return -ENOTSUP;
	}
	if (scan_function(ef, b->pcln, "runtime.mProf_FlushLocked", 1, 0, &b->mbuckets) ||
	    scan_function(ef, b->pcln, "runtime.profilealloc", 1, 1, &b->mem_profile_rate) ||
	    scan_function(ef, b->pcln, "runtime.mProf_Flush", 0, 0, &b->mprof_cycle)) {
		snprintf(b->unsupported, sizeof(b->unsupported),
			 "stripped binary: runtime variables not found in the runtime's code");
		return -ENOENT;
	}
	b->symbols = GOBIN_SYM_CODE;
	return 0;
}

int gobin_load(const char *path, struct gobin **out)
{
	struct elf_file ef;
	struct gobin *b = NULL;
	uint64_t values[NSYMS];
	int found[NSYMS], r, have_symtab;
	struct stat st;

	*out = NULL;
	r = elf_file_open(path, &ef);
	if (r)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	if (fstat(ef.fd, &st) == 0) {
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	snprintf(b->path, sizeof(b->path), "%s", path);
	r = go_buildinfo_read(&ef, &b->info);
	if (r == -ENOENT)
		goto out; /* not Go */
	b->machine = ef.machine;
	b->pie = ef.type == ET_DYN;
	b->base_vaddr = elf_file_base_vaddr(&ef);
	memcpy(b->build_id, ef.build_id, sizeof(b->build_id));
	for (size_t i = 0; i < ef.nsegments; i++) {
		if (ef.segments[i].offset == 0 ||
		    (ef.segments[i].vaddr & ~0xfffull) == b->base_vaddr)
			b->first_load_off = ef.segments[i].offset & ~0xfffull;
		if (ef.segments[i].flags & PF_X)
			b->text = ef.segments[i];
	}
	r = 0;
	if (b->info.version[0] == '\0') {
		snprintf(b->unsupported, sizeof(b->unsupported), "malformed .go.buildinfo");
		goto out;
	}
	if (b->info.major != 1 || b->info.minor < GO_MIN_MINOR) {
		snprintf(b->unsupported, sizeof(b->unsupported),
			 "%s is older than go1.%d, the oldest release podprof reads", b->info.version,
			 GO_MIN_MINOR);
		goto out;
	}
	if (b->info.minor > GO_MAX_MINOR) {
		snprintf(b->unsupported, sizeof(b->unsupported),
			 "%s is newer than go1.%d, the newest release podprof was tested with "
			 "(its heap layout may differ)",
			 b->info.version, GO_MAX_MINOR);
		goto out;
	}
	have_symtab = elf_file_lookup_symbols(&ef, symbol_names, NSYMS, values, found) == 0;
	r = pclntab_open(&ef, b->info.minor, have_symtab && found[SYM_MODULEDATA]
						     ? values[SYM_MODULEDATA] : 0,
			 &b->pcln);
	if (r) {
		snprintf(b->unsupported, sizeof(b->unsupported), "unreadable .gopclntab (%s)",
			 strerror(-r));
		r = 0;
		goto out;
	}
	if (have_symtab && found[SYM_MBUCKETS] && found[SYM_RATE] && found[SYM_CYCLE]) {
		b->mbuckets = values[SYM_MBUCKETS];
		b->mem_profile_rate = values[SYM_RATE];
		b->mprof_cycle = values[SYM_CYCLE];
		b->symbols = GOBIN_SYM_SYMTAB;
		if (!in_writable(&ef, b->mbuckets) || !in_writable(&ef, b->mem_profile_rate) ||
		    !in_writable(&ef, b->mprof_cycle)) {
			snprintf(b->unsupported, sizeof(b->unsupported),
				 "runtime variables in .symtab point outside the data segments");
			b->symbols = GOBIN_SYM_NONE;
		}
	} else {
		find_by_code(b, &ef);
	}
	if (b->symbols != GOBIN_SYM_NONE && !rate_address_ok(&ef, b)) {
		snprintf(b->unsupported, sizeof(b->unsupported),
			 "runtime.MemProfileRate (%s) does not point at the variable: the binary "
			 "holds no 524288 there",
			 gobin_symbol_source_name(b->symbols));
		b->symbols = GOBIN_SYM_NONE;
	}
out:
	elf_file_close(&ef);
	if (r) {
		gobin_free(b);
		return r;
	}
	*out = b;
	return 0;
}

void gobin_free(struct gobin *b)
{
	if (!b)
		return;
	pclntab_close(b->pcln);
	free(b);
}
