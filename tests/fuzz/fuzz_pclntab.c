/*
 * .gopclntab tables: the input's table, module data and inline trees are laid out as
 * an ELF file in memory (a memfd) and opened the way podprof opens a binary
 * (elf_file_open, pclntab_open); then every function is walked by address, frames and
 * inline parents are looked up at PCs of the input's choice, functions are found by
 * name, and a stack is symbolized into a pprof profile (symcache_stack).
 *
 * Input (little-endian):
 *   0  u8  Go minor version (selects the module data and inline tree layouts)
 *   1  u8  flags: bit 0 module data in .noptrdata, bit 1 its address given (as from
 *          .symtab) instead of searched
 *   2  u16 -
 *   4  u32 length L of the table
 *   8  u64 moduledata.text (the text start)
 *   16 u64 moduledata.gofunc (where the inline trees are)
 *   24 u64 the table's address
 *   32 16 x u32 PC offsets from the text start to look up (return PCs of a stack)
 *   96 the table (L bytes), then the bytes at gofunc
 * tools/pclntab_seed.py writes seeds in this form from real Go binaries.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "pclntab.h"
#include "pprof.h"
#include "symbolize.h"

#define NPCS FUZZ_PCLNTAB_NPCS
#define MAX_WALK 2048

static void lookups(const struct pclntab *t, uint64_t pc)
{
	struct go_frame fr;
	uint64_t parents[8];
	int r;

	r = pclntab_frame(t, pc, &fr);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EPROTO);
	if (r == 0)
		FUZZ_CHECK(fr.function && fr.file);
	r = pclntab_inline_parents(t, pc, parents, 8);
	FUZZ_CHECK(r <= 8 && (r >= 0 || r == -ENOENT || r == -EPROTO));
}

static void symbolize(const struct pclntab *t, int minor, const uint64_t *pcs, size_t n)
{
	struct symcache *c = symcache_new(t, minor);
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	uint64_t locs[1200];
	size_t nlocs = 0;
	int64_t v = 1;
	int r;

	FUZZ_CHECK(c && b);
	FUZZ_CHECK(pprof_builder_add_sample_type(b, "samples", "count") == 0);
	for (int round = 0; round < 2; round++) {
		/* the second round is served from the cache */
		symcache_begin(c);
		r = symcache_stack(c, b, 0, 0, pcs, n, locs, 1200, &nlocs);
		FUZZ_CHECK(r == 0 || r == -ENOMEM || r == -EPROTO);
		FUZZ_CHECK(nlocs <= 1200);
		if (r == 0)
			FUZZ_CHECK(pprof_builder_add_sample(b, locs, nlocs, &v, 1, NULL, 0) == 0);
	}
	FUZZ_CHECK(symcache_entries(c) <= SYMCACHE_MAX_ENTRIES && symcache_memory(c) > 0);
	FUZZ_CHECK(pprof_builder_finish(b, &p) == 0);
	{
		struct buf out;
		struct pprof_profile *q = NULL;

		buf_init(&out, 0);
		FUZZ_CHECK(pprof_encode(p, 0, &out) == 0);
		FUZZ_CHECK(pprof_decode(out.data, out.len, NULL, &q) == 0);
		pprof_profile_free(q);
		buf_free(&out);
	}
	pprof_profile_free(p);
	pprof_builder_free(b);
	symcache_free(c);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_pclntab_input l;
	struct pclntab *t = NULL;
	uint64_t pcs[NPCS + MAX_WALK], text;
	const char *names[4];
	size_t npcs = 0, nnames = 0;
	int r;

	if (fuzz_pclntab_parse(data, size, &l))
		return 0;
	r = fuzz_pclntab_open(&l, &t);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -ENOTSUP || r == -EPROTO || r == -E2BIG);
	if (r)
		return 0;
	text = pclntab_text_start(t);
	for (int i = 0; i < NPCS; i++) {
		lookups(t, text + l.pcs[i]);
		if (l.pcs[i])
			pcs[npcs++] = text + l.pcs[i];
	}
	/* every function, by address, as a symbolizer meets them */
	for (uint64_t pc = text, n = 0; n < MAX_WALK && n < pclntab_nfunc(t); n++) {
		uint64_t entry, end;
		const char *name;

		r = pclntab_func(t, pc, &entry, &end, &name);
		FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EPROTO);
		if (r)
			break;
		FUZZ_CHECK(name);
		if (nnames < 4)
			names[nnames++] = name;
		lookups(t, pc);
		if (end > pc + 1)
			lookups(t, end - 1);
		pcs[npcs++] = pc + 1;
		if (end <= pc)
			break;
		pc = end;
	}
	for (size_t i = 0; i <= nnames; i++) {
		uint64_t entry, end;
		r = pclntab_find(t, i < nnames ? names[i] : "no.such.function", &entry, &end);
		FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EPROTO);
	}
	symbolize(t, l.minor, pcs, npcs < 1024 ? npcs : 1024);
	pclntab_close(t);
	return 0;
}
