/*
 * Go binaries, corrupted: the input is an ELF file (in a memfd) inspected the way the
 * node role inspects a process's executable: elf_file_open, the symbol lookup that
 * streams .symtab, section and address reads, and gobin_load (.go.buildinfo, .symtab
 * or the scan of the runtime's code, .gopclntab). Properties: errors are the documented
 * ones; a binary podprof would profile has its runtime variables in writable segments
 * and a function table that answers lookups.
 *
 * tools/elf_seed.py makes the seeds: small ELF files with the real headers and the
 * sections podprof reads of Go binaries built by every toolchain.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "elffile.h"
#include "fuzz.h"
#include "gobin.h"
#include "pclntab.h"

static const char *const names[] = {
	"runtime.mbuckets", "runtime.MemProfileRate", "runtime.mProfCycle",
	"runtime.firstmoduledata", "main.main",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void inspect_elf(const char *path)
{
	struct elf_file ef;
	uint64_t values[NNAMES];
	int found[NNAMES], r;
	unsigned char *data, word[8];

	r = elf_file_open(path, &ef);
	FUZZ_CHECK(r == 0 || r == -ENOEXEC || r == -ENOTSUP || r == -ENOMEM);
	if (r)
		return;
	FUZZ_CHECK(ef.nsegments > 0 && ef.nsegments <= ELF_MAX_SEGMENTS);
	FUZZ_CHECK(ef.nsections <= ELF_MAX_SECTIONS);
	FUZZ_CHECK(strlen(ef.build_id) < sizeof(ef.build_id));
	r = elf_file_lookup_symbols(&ef, names, NNAMES, values, found);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EIO || r == -ENOMEM);
	for (size_t i = 0; r == 0 && i < NNAMES; i++) {
		uint64_t off;
		if (!found[i])
			continue;
		if (elf_file_va_to_offset(&ef, values[i], &off) == 0)
			(void)elf_file_read_va(&ef, values[i], word, sizeof(word));
	}
	for (size_t i = 0; i < ef.nsections; i++) {
		const struct elf_section *s = &ef.sections[i];
		FUZZ_CHECK(strlen(s->name) < sizeof(s->name));
		r = elf_file_read_section(&ef, s, &data);
		FUZZ_CHECK(r == 0 || r == -ENODATA || r == -E2BIG || r == -EIO || r == -ENOMEM);
		if (r == 0)
			free(data);
		(void)elf_file_read_va(&ef, s->addr, word, sizeof(word));
	}
	(void)elf_file_base_vaddr(&ef);
	elf_file_close(&ef);
}

static void inspect_gobin(const char *path)
{
	struct gobin *b = NULL;
	int r = gobin_load(path, &b);

	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -ENOEXEC || r == -ENOTSUP || r == -EPROTO ||
		   r == -ENOMEM || r == -EIO || r == -ENODATA || r == -E2BIG);
	if (r) {
		FUZZ_CHECK(!b);
		return;
	}
	FUZZ_CHECK(strlen(b->unsupported) < sizeof(b->unsupported));
	FUZZ_CHECK(strlen(b->info.version) < sizeof(b->info.version));
	(void)gobin_symbol_source_name(b->symbols);
	if (!b->unsupported[0]) {
		FUZZ_CHECK(b->info.major == 1 && b->info.minor >= GO_MIN_MINOR &&
			   b->info.minor <= GO_MAX_MINOR);
		FUZZ_CHECK(b->pcln && b->symbols != GOBIN_SYM_NONE);
	}
	if (b->pcln) {
		uint64_t pc = pclntab_text_start(b->pcln), entry, end;
		const char *name;
		struct go_frame fr;

		for (int n = 0; n < 64 && pclntab_func(b->pcln, pc, &entry, &end, &name) == 0;
		     n++) {
			FUZZ_CHECK(name);
			if (pclntab_frame(b->pcln, pc, &fr) == 0)
				FUZZ_CHECK(fr.function && fr.file);
			if (end <= pc)
				break;
			pc = end;
		}
	}
	gobin_free(b);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_memfd(data, size, path);

	FUZZ_CHECK(fd >= 0);
	inspect_elf(path);
	inspect_gobin(path);
	close(fd);
	return 0;
}
