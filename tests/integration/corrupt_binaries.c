/*
 * Corrupted Go binaries: bytes flipped in the section headers, .go.buildinfo,
 * .gopclntab and .symtab of real binaries (every toolchain), and truncations at every
 * section boundary. Inspection and symbolization must return errors or results, never
 * read out of bounds: this test is meant for the sanitizer build, where an
 * out-of-bounds read aborts it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elffile.h"
#include "gobin.h"
#include "pclntab.h"
#include "support.h"
#include "testing.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Uses whatever was loaded, as the node role would. */
static void exercise(struct gobin *b)
{
	uint64_t entry, end, pc;
	struct go_frame fr;
	uint64_t parents[16];

	if (!b->pcln)
		return;
	pc = pclntab_text_start(b->pcln);
	for (int i = 0; i < 4000; i++, pc += 97) {
		pclntab_frame(b->pcln, pc, &fr);
		pclntab_inline_parents(b->pcln, pc, parents, 16);
	}
	pclntab_find(b->pcln, "runtime.mProf_FlushLocked", &entry, &end);
	pclntab_find(b->pcln, "no.such.function", &entry, &end);
}

static void try_load(const char *path, int *loaded)
{
	struct gobin *b = NULL;
	if (gobin_load(path, &b) == 0) {
		(*loaded)++;
		exercise(b);
		gobin_free(b);
	}
}

TEST(flipped_bytes_in_real_binaries)
{
	static const char *const targets[] = {".gopclntab", ".go.buildinfo", ".symtab", ".strtab",
					      "headers"};
	const char *const *tc;
	size_t ntc = test_go_toolchains(&tc);
	char *dir = test_tmpdir("corrupt"), out[512];
	int loaded = 0, tried = 0;

	if (ntc == 0)
		SKIP("no Go toolchain installed");
	snprintf(out, sizeof(out), "%s/bin", dir);
	for (size_t i = 0; i < ntc; i++) {
		char bin[1024];
		const char *p = strstr(tc[i], "go-1.");
		struct buf orig;
		struct elf_file ef;

		snprintf(bin, sizeof(bin), "%s/go1.%d/heapgen-%s", test_go_cache_dir(),
			 p ? atoi(p + 5) : 0, i % 2 ? "strip" : "exe");
		buf_init(&orig, 0);
		CHECK(test_read_file(bin, &orig) == 0);
		CHECK(elf_file_open(bin, &ef) == 0);
		for (int round = 0; round < 60; round++) {
			const char *t = targets[round % ARRAY_SIZE(targets)];
			const struct elf_section *s = elf_file_section(&ef, t);
			uint64_t off, len;
			struct buf copy;

			if (strcmp(t, "headers") == 0) {
				off = 0;
				len = 64;
			} else if (s && s->size > 0) {
				off = s->offset;
				len = s->size < 4096 ? s->size : 4096; /* the header and first records */
			} else {
				continue;
			}
			buf_init(&copy, 0);
			CHECK(buf_append(&copy, orig.data, orig.len) == 0);
			for (int k = 0; k < 1 + (int)(next_rand() % 8); k++)
				copy.data[off + next_rand() % len] ^= (char)(1u << (next_rand() % 8));
			CHECK(test_write_file(out, copy.data, copy.len) == 0);
			buf_free(&copy);
			try_load(out, &loaded);
			tried++;
		}
		/* truncated at every section start */
		for (size_t k = 1; k < ef.nsections; k++) {
			if (ef.sections[k].offset == 0 || ef.sections[k].offset >= orig.len)
				continue;
			CHECK(test_write_file(out, orig.data, ef.sections[k].offset + 7) == 0);
			try_load(out, &loaded);
			tried++;
		}
		elf_file_close(&ef);
		buf_free(&orig);
	}
	printf("  %d corrupted binaries inspected, %d loaded as Go binaries\n", tried, loaded);
	CHECK(tried > 100);
	test_rmtree(dir);
	free(dir);
}

TEST(not_elf_at_all)
{
	char *dir = test_tmpdir("notelf"), path[512];
	struct gobin *b = NULL;
	unsigned char junk[4096];

	snprintf(path, sizeof(path), "%s/junk", dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)next_rand();
	memcpy(junk, "\x7f" "ELF", 4);
	CHECK(test_write_file(path, junk, sizeof(junk)) == 0);
	CHECK(gobin_load(path, &b) != 0);
	CHECK(test_write_file(path, "", 0) == 0);
	CHECK(gobin_load(path, &b) != 0);
	CHECK_EQ(gobin_load("/bin/sh", &b), -ENOENT); /* ELF, not Go */
	CHECK(gobin_load(dir, &b) != 0);            /* a directory */
	test_rmtree(dir);
	free(dir);
}
