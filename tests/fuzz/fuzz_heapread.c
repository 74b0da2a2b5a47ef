/*
 * The heap bucket walker on a fake process: the input is a memory image and the
 * addresses of runtime.MemProfileRate, runtime.mProfCycle and runtime.mbuckets in it
 * (a fake struct gobin); heap_walk walks the bucket list through a procmem backed by
 * the image (procmem_open_image), so cycles, absurd depths, misaligned or unmapped
 * pointers and counts that overflow are all the input's to choose. Every bucket goes
 * into a heap profile (heap_writer), symbolized with the function table of the seed's
 * own binary (corpus/pclntab/heapgen-*), as one profile or as the node role's two.
 * Properties: the walk keeps the limits and stops at the bucket bound only when the
 * list goes on, every bucket is an aligned address of the image, a walk that reaches
 * the end of the list saw no address twice, and the profile of a walk decodes.
 *
 * Input (little-endian): Go minor (1 byte), flags (1 byte: bit 0 small limits, bit 1
 * the node role's two profiles),
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

/* What the walk's callback checks and builds. */
struct walk_check {
	const struct heap_limits *lim;
	uint64_t base;
	size_t len;
	int minor;
	uint64_t first[64]; /* the first buckets' addresses */
	size_t nfirst, seen, repeats;
	struct heap_writer *w;
};

static int on_bucket(void *ctx, const struct heap_bucket *b, const struct heap_walk_info *info)
{
	struct walk_check *wc = ctx;

	FUZZ_CHECK(b->nstk <= 1024 && b->nstk <= wc->lim->max_depth);
	FUZZ_CHECK(b->addr % 8 == 0 && b->addr >= wc->base && b->addr - wc->base < wc->len);
	FUZZ_CHECK(info->nbuckets == wc->seen + 1 && info->nbuckets <= wc->lim->max_buckets);
	if (wc->minor >= 27)
		FUZZ_CHECK(b->counts.alloc_bytes == b->counts.allocs * b->size &&
			   b->counts.free_bytes == b->counts.frees * b->size);
	for (size_t k = 0; k < wc->nfirst; k++)
		wc->repeats += wc->first[k] == b->addr;
	if (wc->nfirst < 64)
		wc->first[wc->nfirst++] = b->addr;
	wc->seen++;
	return wc->w ? heap_writer_add(wc->w, b, NULL, info) : 0;
}

/* Finishes the profile(s) of a walk and decodes them. */
static void check_profiles(struct walk_check *wc, const struct heap_walk_info *info,
			   struct buf *out, size_t nparts)
{
	size_t samples[2] = {0, 0};
	int r = heap_writer_finish(wc->w, info, samples);

	if (r && r != -ENOMEM && r != -E2BIG)
		printf("heap_writer_finish: %d\n", r);
	FUZZ_CHECK(r == 0 || r == -ENOMEM || r == -E2BIG);
	for (size_t i = 0; r == 0 && i < nparts; i++) {
		struct pprof_profile *q = NULL;
		r = pprof_decode(out[i].data, out[i].len, NULL, &q);
		if (r)
			printf("the profile written does not decode: %d\n", r);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(pprof_sample_count(q) == samples[i] && samples[i] <= info->nbuckets);
		pprof_profile_free(q);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct pprof_mapping_info map = {.memory_start = 0x400000, .memory_limit = 0x800000,
					 .filename = "/heapgen"};
	struct heap_profile_spec spec = {.type_names = heap_type_names_coroot, .time_ns = 1,
					 .duration_ns = 2, .mapping = &map};
	struct walk_check wc = {0};
	struct heap_walk_info info;
	struct symcache *c = NULL;
	struct gobin b;
	struct heap_limits lim = {0};
	struct procmem *m;
	struct buf out[2];
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
	wc.lim = &lim;
	wc.base = base;
	wc.len = in.n;
	wc.minor = b.info.minor;
	buf_init(&out[0], 0);
	buf_init(&out[1], 0);
	spec.split = (flags & 2) != 0;
	if (table) {
		c = symcache_new(table, table_minor);
		FUZZ_CHECK(c && heap_writer_new(&spec, c, out, &wc.w) == 0);
	}
	r = heap_walk(m, &b, bias, &lim, on_bucket, &wc, &info);
	FUZZ_CHECK(r == 0 || r == -EFAULT || r == -EPROTO || r == -ENOMEM || r == -E2BIG);
	if (r == 0) {
		FUZZ_CHECK(info.nbuckets == wc.seen);
		FUZZ_CHECK(!info.partial || info.nbuckets == lim.max_buckets);
		/* a list that ends has no cycle: no address came twice */
		FUZZ_CHECK(info.partial || wc.repeats == 0);
		if (wc.w)
			check_profiles(&wc, &info, out, spec.split ? 2 : 1);
	}
	heap_writer_free(wc.w);
	symcache_free(c);
	buf_free(&out[0]);
	buf_free(&out[1]);
	FUZZ_CHECK(procmem_write_u64(m, base, 0) == -EROFS);
	procmem_close(m);
	return 0;
}
