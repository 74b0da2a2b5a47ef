/*
 * The heap bucket walker on a fake process: the input is a memory image and the
 * addresses of runtime.MemProfileRate, runtime.mProfCycle and runtime.mbuckets in it
 * (a fake struct gobin); heap_read walks the bucket list through a procmem backed by
 * the image (procmem_open_image), so cycles, absurd depths, misaligned or unmapped
 * pointers and counts that overflow are all the input's to choose. A snapshot that
 * is read becomes a heap profile (heap_profile_build), symbolized with the function
 * table of the seed's own binary (corpus/pclntab/heapgen-*), and is encoded.
 * Properties: the snapshot keeps the limits, its stacks partition its PCs, every
 * bucket is a distinct aligned address of the image, and the profile decodes.
 *
 * Input (little-endian): Go minor (1 byte), flags (1 byte: bit 0 small limits),
 * max depth (2 bytes, 0: default), max buckets (4 bytes, 0: default), the image's
 * address (8), the addresses of MemProfileRate, mProfCycle and mbuckets (8 each), the
 * load bias (8), then the image. tools/heap_seed.py dumps seeds from a live heapgen.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "gobin.h"
#include "heapprofile.h"
#include "heapread.h"
#include "pclntab.h"
#include "pprof.h"
#include "procmem.h"
#include "symbolize.h"

#define HEADER 48

static struct buf table_input;
static struct pclntab *table;
static int table_minor;

/* The function table of the binary the seeds were dumped from, if it is there. */
static void load_table(void)
{
	char dir[600], path[1200];
	struct fuzz_pclntab_input in;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/corpus/pclntab", PODPROF_FUZZ_DIR);
	d = opendir(dir);
	while (d && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "heapgen-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (fuzz_read_file(path, 16u << 20, &table_input) == 0 &&
		    fuzz_pclntab_parse((const uint8_t *)table_input.data, table_input.len,
				       &in) == 0 &&
		    fuzz_pclntab_open(&in, &table) == 0) {
			table_minor = in.minor;
			break;
		}
		buf_free(&table_input);
	}
	if (d)
		closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	load_table();
	return 0;
}

static void check_snapshot(const struct heap_snapshot *s, const struct heap_limits *lim,
			   uint64_t base, size_t len, int minor)
{
	size_t pcs = 0;

	FUZZ_CHECK(s->nbuckets <= (lim->max_buckets ? lim->max_buckets : 1000000));
	for (size_t i = 0; i < s->nbuckets; i++) {
		const struct heap_bucket *b = &s->buckets[i];
		FUZZ_CHECK(b->stk == pcs && b->nstk <= 1024);
		FUZZ_CHECK(!lim->max_depth || b->nstk <= lim->max_depth);
		FUZZ_CHECK(b->addr % 8 == 0 && b->addr >= base && b->addr - base < len);
		for (size_t k = 0; k < i && k < 64; k++)
			FUZZ_CHECK(s->buckets[k].addr != b->addr);
		if (minor >= 27)
			FUZZ_CHECK(b->counts.alloc_bytes == b->counts.allocs * b->size &&
				   b->counts.free_bytes == b->counts.frees * b->size);
		pcs += b->nstk;
	}
	FUZZ_CHECK(pcs == s->npcs);
}

static void build_profile(const struct heap_snapshot *s, uint64_t bias)
{
	struct symcache *c = symcache_new(table, table_minor);
	struct pprof_mapping_info map = {.memory_start = 0x400000, .memory_limit = 0x800000,
					 .filename = "/heapgen"};
	struct heap_profile_spec spec = {.type_names = heap_type_names_coroot, .time_ns = 1,
					 .duration_ns = 2, .mapping = &map};
	struct pprof_profile *p = NULL, *q = NULL;
	struct buf out;
	int r;

	FUZZ_CHECK(c);
	r = heap_profile_build(s, NULL, c, bias, &spec, &p);
	if (r && r != -ENOMEM && r != -EPROTO && r != -E2BIG)
		printf("heap_profile_build: %d\n", r);
	FUZZ_CHECK(r == 0 || r == -ENOMEM || r == -EPROTO || r == -E2BIG);
	if (r == 0) {
		FUZZ_CHECK(pprof_sample_count(p) <= s->nbuckets);
		buf_init(&out, 0);
		FUZZ_CHECK(pprof_encode(p, 1, &out) == 0);
		r = pprof_decode(out.data, out.len, NULL, &q);
		if (r)
			printf("the profile built does not decode: %d\n", r);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(pprof_sample_count(q) == pprof_sample_count(p));
		pprof_profile_free(q);
		buf_free(&out);
		pprof_profile_free(p);
	}
	symcache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct gobin b;
	struct heap_limits lim = {0};
	struct heap_snapshot s;
	struct procmem *m;
	uint64_t base, bias;
	uint8_t flags;
	int r;

	if (size < HEADER)
		return 0;
	memset(&b, 0, sizeof(b));
	b.info.major = 1;
	b.info.minor = fuzz_u8(&in);
	flags = fuzz_u8(&in);
	lim.max_depth = fuzz_u16(&in);
	lim.max_buckets = fuzz_u32(&in);
	if (flags & 1) {
		lim.max_depth %= 64;
		lim.max_buckets %= 64;
	}
	if (!lim.max_depth)
		lim.max_depth = 1024;
	if (!lim.max_buckets)
		lim.max_buckets = 1000000;
	base = fuzz_u64(&in);
	b.mem_profile_rate = fuzz_u64(&in);
	b.mprof_cycle = fuzz_u64(&in);
	b.mbuckets = fuzz_u64(&in);
	bias = fuzz_u64(&in);
	r = procmem_open_image(in.p, in.n, base, &m);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r)
		return 0;
	r = heap_read(m, &b, bias, &lim, &s);
	FUZZ_CHECK(r == 0 || r == -EFAULT || r == -EPROTO || r == -E2BIG || r == -ENOMEM);
	if (r == 0) {
		check_snapshot(&s, &lim, base, in.n, b.info.minor);
		if (table)
			build_profile(&s, bias);
		heap_snapshot_free(&s);
	} else {
		FUZZ_CHECK(s.nbuckets == 0 && !s.buckets && !s.pcs);
	}
	FUZZ_CHECK(procmem_write_u64(m, base, 0) == -EROFS);
	procmem_close(m);
	return 0;
}
