/*
 * .gopclntab reader (Go 1.18+ formats).
 *
 * Header (pointer-size words after 8 bytes of magic/pad/quantum/ptrsize): nfunc, nfiles,
 * textStart (0 from 1.26 on: use moduledata.text), funcnameOffset, cuOffset,
 * filetabOffset, pctabOffset, pclnOffset; all offsets from the table start. The function
 * table at pclnOffset holds nfunc+1 {entryoff, funcoff} u32 pairs (the last entry is the
 * end of text); _func records live at pclnOffset+funcoff. Every offset read from the
 * table is checked against the table's size before use: a corrupt binary yields
 * -EPROTO, never an out-of-bounds read.
 */
#define LOG_MODULE "pclntab"
#include "pclntab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

#define MAGIC_118 0xfffffff0u
#define MAGIC_120 0xfffffff1u
#define PCDATA_INLTREE 2
#define FUNCDATA_INLTREE 3
#define MAX_INLINE_DEPTH 64

/* moduledata field offsets (amd64/arm64, verified per version) */
#define MD_TEXT 176
#define MD_GOFUNC_118 304
#define MD_GOFUNC_120 320
#define MD_GOFUNC_127 344

struct pclntab {
	const unsigned char *data; /* the table */
	size_t size;
	void *map;                 /* the mapping holding it */
	size_t map_len;
	int go_minor;
	unsigned quantum;
	uint64_t nfunc;
	uint64_t text_start;
	uint64_t funcname_off, cu_off, filetab_off, pctab_off, pcln_off;
	size_t func_size;   /* sizeof(_func): 40 (1.18-1.19) or 44 */
	uint64_t gofunc;    /* moduledata.gofunc, 0 if unknown (no inline info then) */
	size_t inl_size;    /* sizeof(inlinedCall): 20 (<=1.19) or 16 */
	/* the inline trees are read from the file through these segments */
	int fd;
	struct elf_segment segments[ELF_MAX_SEGMENTS];
	size_t nsegments;
	uint64_t file_size;
};

struct func_rec {
	uint32_t entryoff;
	int32_t nameoff;
	uint32_t pcfile, pcln, npcdata, cuoff;
	int32_t start_line;
	uint8_t funcid, nfuncdata;
	uint64_t off; /* of the record in the table */
};

static int rd_u32(const struct pclntab *t, uint64_t off, uint32_t *v)
{
	if (off > t->size || t->size - off < 4)
		return -EPROTO;
	memcpy(v, t->data + off, 4);
	return 0;
}

/* A NUL-terminated string at off, checked to end inside the table. */
static const char *str_at(const struct pclntab *t, uint64_t off)
{
	const void *nul;
	if (off >= t->size)
		return NULL;
	nul = memchr(t->data + off, '\0', t->size - off);
	return nul ? (const char *)t->data + off : NULL;
}

static int read_func(const struct pclntab *t, uint64_t idx, struct func_rec *f)
{
	uint32_t funcoff;
	const unsigned char *p;
	uint64_t off;

	if (idx >= t->nfunc || rd_u32(t, t->pcln_off + idx * 8 + 4, &funcoff))
		return -EPROTO;
	off = t->pcln_off + funcoff;
	if (off > t->size || t->size - off < t->func_size)
		return -EPROTO;
	p = t->data + off;
	memcpy(&f->entryoff, p + 0, 4);
	memcpy(&f->nameoff, p + 4, 4);
	memcpy(&f->pcfile, p + 20, 4);
	memcpy(&f->pcln, p + 24, 4);
	memcpy(&f->npcdata, p + 28, 4);
	memcpy(&f->cuoff, p + 32, 4);
	if (t->func_size == 44) {
		memcpy(&f->start_line, p + 36, 4);
		f->funcid = p[40];
		f->nfuncdata = p[43];
	} else {
		f->start_line = 0;
		f->funcid = p[36];
		f->nfuncdata = p[39];
	}
	if (f->npcdata > 1024 ||
	    t->size - off - t->func_size < ((uint64_t)f->npcdata + f->nfuncdata) * 4)
		return -EPROTO;
	f->off = off;
	return 0;
}

/* The u32 pcdata table offset i of f, or 0 when absent. */
static uint32_t pcdata_off(const struct pclntab *t, const struct func_rec *f, uint32_t i)
{
	uint32_t v = 0;
	if (i >= f->npcdata)
		return 0;
	memcpy(&v, t->data + f->off + t->func_size + i * 4, 4);
	return v;
}

static int uvarint(const struct pclntab *t, uint64_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		unsigned char c;
		if (*pos >= t->size)
			return -EPROTO;
		c = t->data[(*pos)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EPROTO;
}

/* Evaluates the pc-value table at pctab+off for target, starting at entry. */
static int pcvalue(const struct pclntab *t, uint32_t off, uint64_t entry, uint64_t target,
		   int32_t *val)
{
	uint64_t pos = t->pctab_off + off, pc = entry;
	uint32_t v = UINT32_MAX; /* -1; the runtime's int32 arithmetic wraps, C's must not */
	int first = 1;

	if (off == 0)
		return -ENOENT;
	for (;;) {
		uint64_t uvd, pcd;
		if (uvarint(t, &pos, &uvd))
			return -EPROTO;
		if (uvd == 0 && !first)
			return -ENOENT;
		first = 0;
		/* zigzag: -(d >> 1) - 1 for odd d, d >> 1 for even, in 32 bits */
		v += (uvd & 1) ? ~(uint32_t)(uvd >> 1) : (uint32_t)(uvd >> 1);
		if (uvarint(t, &pos, &pcd))
			return -EPROTO;
		pc += pcd * t->quantum;
		if (target < pc) {
			*val = (int32_t)v;
			return 0;
		}
	}
}

/* Index of the function holding pc (binary search over the function table). */
static int find_index(const struct pclntab *t, uint64_t pc, uint64_t *idx)
{
	uint64_t lo = 0, hi = t->nfunc, rel;
	uint32_t first, end;

	if (pc < t->text_start || t->nfunc == 0)
		return -ENOENT;
	rel = pc - t->text_start;
	if (rd_u32(t, t->pcln_off, &first) || rd_u32(t, t->pcln_off + t->nfunc * 8, &end))
		return -EPROTO;
	if (rel < first || rel >= end)
		return -ENOENT;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		uint32_t e;
		if (rd_u32(t, t->pcln_off + mid * 8, &e))
			return -EPROTO;
		if (e <= rel)
			lo = mid;
		else
			hi = mid;
	}
	*idx = lo;
	return 0;
}

static const char *func_name(const struct pclntab *t, int32_t nameoff)
{
	if (nameoff < 0)
		return NULL;
	return str_at(t, t->funcname_off + (uint64_t)nameoff);
}

static const char *file_name(const struct pclntab *t, const struct func_rec *f, int32_t fno)
{
	uint32_t fileoff;
	if (fno < 0 || rd_u32(t, t->cu_off + ((uint64_t)f->cuoff + (uint64_t)fno) * 4, &fileoff) ||
	    fileoff == UINT32_MAX)
		return NULL;
	return str_at(t, t->filetab_off + fileoff);
}

static int read_file_va(const struct pclntab *t, uint64_t va, void *dst, size_t len)
{
	for (size_t i = 0; i < t->nsegments; i++) {
		const struct elf_segment *g = &t->segments[i];
		if (va >= g->vaddr && va - g->vaddr < g->filesz && len <= g->filesz - (va - g->vaddr)) {
			uint64_t off = g->offset + (va - g->vaddr);
			ssize_t n;
			if (off > t->file_size || len > t->file_size - off)
				return -EPROTO;
			n = pread(t->fd, dst, len, (off_t)off);
			return n == (ssize_t)len ? 0 : -EIO;
		}
	}
	return -EPROTO;
}

struct inl_call {
	int32_t nameoff, parent_pc, start_line;
	uint8_t funcid;
};

static int read_inline(const struct pclntab *t, const struct func_rec *f, int32_t ix,
		       struct inl_call *ic)
{
	unsigned char raw[20];
	uint32_t fdoff;
	uint64_t va;

	if (!t->gofunc || f->nfuncdata <= FUNCDATA_INLTREE || ix < 0)
		return -ENOENT;
	memcpy(&fdoff, t->data + f->off + t->func_size + f->npcdata * 4 + FUNCDATA_INLTREE * 4, 4);
	if (fdoff == UINT32_MAX)
		return -ENOENT;
	va = t->gofunc + fdoff + (uint64_t)ix * t->inl_size;
	if (read_file_va(t, va, raw, t->inl_size))
		return -EPROTO;
	if (t->inl_size == 16) {
		ic->funcid = raw[0];
		memcpy(&ic->nameoff, raw + 4, 4);
		memcpy(&ic->parent_pc, raw + 8, 4);
		memcpy(&ic->start_line, raw + 12, 4);
	} else {
		ic->funcid = raw[2];
		memcpy(&ic->nameoff, raw + 12, 4);
		memcpy(&ic->parent_pc, raw + 16, 4);
		ic->start_line = 0;
	}
	return 0;
}

int pclntab_func(const struct pclntab *t, uint64_t pc, uint64_t *entry, uint64_t *end,
		 const char **name)
{
	struct func_rec f;
	uint64_t idx;
	uint32_t next;
	int r = find_index(t, pc, &idx);

	if (r)
		return r;
	if ((r = read_func(t, idx, &f)) || rd_u32(t, t->pcln_off + (idx + 1) * 8, &next))
		return r ? r : -EPROTO;
	if (entry)
		*entry = t->text_start + f.entryoff;
	if (end)
		*end = t->text_start + next;
	if (name && !(*name = func_name(t, f.nameoff)))
		return -EPROTO;
	return 0;
}

int pclntab_frame(const struct pclntab *t, uint64_t pc, struct go_frame *fr)
{
	struct func_rec f;
	struct inl_call ic;
	uint64_t idx, entry;
	int32_t ix = -1, fno, line;
	int r = find_index(t, pc, &idx);

	if (r)
		return r;
	if ((r = read_func(t, idx, &f)))
		return r;
	entry = t->text_start + f.entryoff;
	memset(fr, 0, sizeof(*fr));
	fr->entry = entry;
	if (pcdata_off(t, &f, PCDATA_INLTREE) &&
	    pcvalue(t, pcdata_off(t, &f, PCDATA_INLTREE), entry, pc, &ix) == 0 && ix >= 0 &&
	    read_inline(t, &f, ix, &ic) == 0) {
		fr->function = func_name(t, ic.nameoff);
		fr->start_line = ic.start_line;
		fr->inlined = 1;
	} else {
		fr->function = func_name(t, f.nameoff);
		fr->start_line = f.start_line;
	}
	if (!fr->function)
		return -EPROTO;
	if (pcvalue(t, f.pcfile, entry, pc, &fno) == 0)
		fr->file = file_name(t, &f, fno);
	if (!fr->file)
		fr->file = "?";
	if (pcvalue(t, f.pcln, entry, pc, &line) == 0)
		fr->line = line;
	return 0;
}

int pclntab_inline_parents(const struct pclntab *t, uint64_t pc, uint64_t *out, size_t max)
{
	struct func_rec f;
	struct inl_call ic;
	uint64_t idx, entry;
	int32_t ix;
	size_t n = 0;
	int r = find_index(t, pc, &idx);

	if (r)
		return r;
	if ((r = read_func(t, idx, &f)))
		return r;
	entry = t->text_start + f.entryoff;
	if (!pcdata_off(t, &f, PCDATA_INLTREE) ||
	    pcvalue(t, pcdata_off(t, &f, PCDATA_INLTREE), entry, pc, &ix) != 0)
		return 0;
	for (int depth = 0; ix >= 0 && depth < MAX_INLINE_DEPTH; depth++) {
		uint64_t parent;
		if (read_inline(t, &f, ix, &ic))
			return -EPROTO;
		if (ic.parent_pc < 0)
			return -EPROTO;
		parent = entry + (uint64_t)ic.parent_pc;
		if (n < max)
			out[n++] = parent + 1;
		if (pcvalue(t, pcdata_off(t, &f, PCDATA_INLTREE), entry, parent, &ix) != 0)
			break;
	}
	return (int)n;
}

int pclntab_find(const struct pclntab *t, const char *name, uint64_t *entry, uint64_t *end)
{
	for (uint64_t i = 0; i < t->nfunc; i++) {
		struct func_rec f;
		const char *n;
		uint32_t next;

		if (read_func(t, i, &f))
			return -EPROTO;
		n = func_name(t, f.nameoff);
		if (!n || strcmp(n, name) != 0)
			continue;
		if (rd_u32(t, t->pcln_off + (i + 1) * 8, &next))
			return -EPROTO;
		*entry = t->text_start + f.entryoff;
		*end = t->text_start + next;
		return 0;
	}
	return -ENOENT;
}

uint64_t pclntab_text_start(const struct pclntab *t)
{
	return t->text_start;
}

size_t pclntab_nfunc(const struct pclntab *t)
{
	return (size_t)t->nfunc;
}

/* Checks a moduledata candidate at va: its first word points at the table and its text
 * field lies in an executable segment. On success sets text and gofunc. */
static int check_moduledata(struct pclntab *t, const struct elf_file *ef, uint64_t va,
			    uint64_t table_va)
{
	uint64_t words[3], text, gofunc;
	size_t gofunc_off = t->go_minor >= 27 ? MD_GOFUNC_127
			    : t->go_minor >= 20 ? MD_GOFUNC_120
						: MD_GOFUNC_118;

	if (elf_file_read_va(ef, va, &words[0], 8) || words[0] != table_va)
		return -ENOENT;
	if (elf_file_read_va(ef, va + MD_TEXT, &text, 8) ||
	    elf_file_read_va(ef, va + gofunc_off, &gofunc, 8))
		return -ENOENT;
	for (size_t i = 0; i < ef->nsegments; i++) {
		const struct elf_segment *g = &ef->segments[i];
		if ((g->flags & 1 /* PF_X */) && text >= g->vaddr && text - g->vaddr < g->memsz) {
			uint64_t off;
			t->text_start = text;
			/* gofunc must be file-backed data; otherwise go without inline info */
			t->gofunc = elf_file_va_to_offset(ef, gofunc, &off) == 0 ? gofunc : 0;
			return 0;
		}
	}
	return -ENOENT;
}

/* Scans a data section for an aligned word equal to table_va. */
static int search_moduledata(struct pclntab *t, const struct elf_file *ef, uint64_t table_va)
{
	static const char *const where[] = {".go.module", ".noptrdata", ".data"};
	for (size_t w = 0; w < ARRAY_SIZE(where); w++) {
		const struct elf_section *s = elf_file_section(ef, where[w]);
		unsigned char *data;
		if (!s || elf_file_read_section(ef, s, &data))
			continue;
		for (uint64_t off = 0; off + 8 <= s->size; off += 8) {
			uint64_t v;
			memcpy(&v, data + off, 8);
			if (v == table_va && check_moduledata(t, ef, s->addr + off, table_va) == 0) {
				free(data);
				return 0;
			}
		}
		free(data);
	}
	return -ENOENT;
}

int pclntab_open(const struct elf_file *ef, int go_minor, uint64_t moduledata_va,
		 struct pclntab **out)
{
	const struct elf_section *s = elf_file_section(ef, ".gopclntab");
	struct pclntab *t;
	uint64_t hdr[8], page = (uint64_t)sysconf(_SC_PAGESIZE), delta;
	uint32_t magic;
	int r = -EPROTO;

	*out = NULL;
	if (!s)
		s = elf_file_section(ef, ".data.rel.ro.gopclntab");
	if (!s || s->type == 8 /* SHT_NOBITS */ || s->size < 72)
		return -ENOENT;
	if (s->size > ELF_MAX_PCLNTAB)
		return -E2BIG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	delta = s->offset % page;
	t->map_len = s->size + delta;
	t->map = mmap(NULL, t->map_len, PROT_READ, MAP_PRIVATE, ef->fd, (off_t)(s->offset - delta));
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		r = -errno;
		goto fail;
	}
	t->data = (const unsigned char *)t->map + delta;
	t->size = s->size;
	t->go_minor = go_minor;
	memcpy(&magic, t->data, 4);
	if ((magic != MAGIC_118 && magic != MAGIC_120) || t->data[4] || t->data[5]) {
		r = -ENOTSUP;
		goto fail;
	}
	t->quantum = t->data[6];
	if (t->data[7] != 8 || (t->quantum != 1 && t->quantum != 4)) {
		r = -ENOTSUP;
		goto fail;
	}
	memcpy(hdr, t->data + 8, sizeof(hdr));
	t->nfunc = hdr[0];
	t->text_start = hdr[2];
	t->funcname_off = hdr[3];
	t->cu_off = hdr[4];
	t->filetab_off = hdr[5];
	t->pctab_off = hdr[6];
	t->pcln_off = hdr[7];
	if (t->nfunc > t->size / 8 || t->funcname_off >= t->size || t->cu_off >= t->size ||
	    t->filetab_off >= t->size || t->pctab_off >= t->size || t->pcln_off >= t->size ||
	    t->size - t->pcln_off < (t->nfunc + 1) * 8)
		goto fail;
	t->func_size = magic == MAGIC_120 ? 44 : 40;
	t->inl_size = go_minor >= 20 ? 16 : 20;

	/* module data: text start (needed from 1.26, where the header says 0) and gofunc */
	if (!(moduledata_va && check_moduledata(t, ef, moduledata_va, s->addr) == 0) &&
	    search_moduledata(t, ef, s->addr) != 0) {
		if (t->text_start == 0) {
			r = -ENOENT;
			log_debug("no module data found for the pclntab");
			goto fail;
		}
		t->gofunc = 0; /* symbolization still works, without inline names */
	}
	t->fd = fcntl(ef->fd, F_DUPFD_CLOEXEC, 0);
	if (t->fd < 0) {
		r = -errno;
		goto fail;
	}
	memcpy(t->segments, ef->segments, sizeof(ef->segments[0]) * ef->nsegments);
	t->nsegments = ef->nsegments;
	t->file_size = ef->file_size;
	*out = t;
	return 0;
fail:
	pclntab_close(t);
	return r;
}

void pclntab_close(struct pclntab *t)
{
	if (!t)
		return;
	if (t->map)
		munmap(t->map, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}
