/*
 * Helpers of the fuzz targets (see fuzz.h).
 */
#include "fuzz.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elffile.h"
#include "log.h"
#include "pclntab.h"

void fuzz_quiet(void)
{
	/* below LOG_ERROR: nothing is written */
	atomic_store(&log_threshold, -1);
}

/* ---- input ------------------------------------------------------------------------ */

static uint64_t take_le(struct fuzz_in *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && in->n; i++) {
		v |= (uint64_t)in->p[0] << (8 * i);
		in->p++;
		in->n--;
	}
	return v;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)take_le(in, 1);
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)take_le(in, 2);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)take_le(in, 4);
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	return take_le(in, 8);
}

size_t fuzz_take(struct fuzz_in *in, size_t n, const uint8_t **out)
{
	if (n > in->n)
		n = in->n;
	*out = in->p;
	in->p += n;
	in->n -= n;
	return n;
}

char *fuzz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *fuzz_token(struct fuzz_in *in, uint8_t sep)
{
	const uint8_t *end;
	size_t n;
	char *s;

	if (!in->n)
		return NULL;
	end = memchr(in->p, sep, in->n);
	n = end ? (size_t)(end - in->p) : in->n;
	s = fuzz_strndup(in->p, n);
	in->p += n + (end != NULL);
	in->n -= n + (end != NULL);
	return s;
}

/* ---- files ------------------------------------------------------------------------ */

static char tmpdir[64];

/* Removes what the targets wrote (files, and files one directory down). */
static void remove_tmpdir(void)
{
	char path[512], sub[1024];
	struct dirent *e, *f;
	DIR *d = opendir(tmpdir), *d2;

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (unlink(path) == 0 || !(d2 = opendir(path)))
			continue;
		while ((f = readdir(d2)) != NULL) {
			snprintf(sub, sizeof(sub), "%s/%s", path, f->d_name);
			unlink(sub);
		}
		closedir(d2);
		rmdir(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	/* under /tmp, never /dev/shm: paths relative to it must not reach /dev by ".." */
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/podprof-fuzz-%d", (int)getpid());
		if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) {
			perror(tmpdir);
			abort();
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fuzz_write_file(const char *name, const void *data, size_t len, char *path, size_t pathlen)
{
	int fd, r;

	snprintf(path, pathlen, "%s/%s", fuzz_tmpdir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	close(fd);
	return r;
}

int fuzz_memfd(const void *data, size_t len, char path[64])
{
	int fd = memfd_create("podprof-fuzz", MFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r) {
		close(fd);
		return r;
	}
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

int fuzz_read_file(const char *path, size_t max, struct buf *out)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	buf_init(out, max);
	while (!r && (n = read(fd, chunk, sizeof(chunk))) > 0)
		r = buf_append(out, chunk, (size_t)n);
	close(fd);
	return r;
}

/* ---- ELF images ------------------------------------------------------------------- */

static int pad_to(struct buf *out, size_t align)
{
	static const char zeros[4096];

	while (out->len % align) {
		size_t n = align - out->len % align;
		int r = buf_append(out, zeros, n < sizeof(zeros) ? n : sizeof(zeros));
		if (r)
			return r;
	}
	return 0;
}

int fuzz_elf_build(uint16_t machine, uint16_t type, const struct fuzz_elf_section *sections,
		   size_t nsections, const struct fuzz_elf_segment *segments, size_t nsegments,
		   struct buf *out)
{
	size_t base = out->len, shnum = nsections + 2, *offsets, shstr_off, shoff;
	struct buf names;
	Elf64_Ehdr eh;
	int r = -ENOMEM;

	offsets = calloc(nsections + 1, sizeof(*offsets));
	if (!offsets)
		return -ENOMEM;
	buf_init(&names, 0);
	/* header and program headers are written last, when the offsets are known */
	if ((r = buf_reserve(out, sizeof(eh) + nsegments * sizeof(Elf64_Phdr))))
		goto out;
	memset(out->data + out->len, 0, sizeof(eh) + nsegments * sizeof(Elf64_Phdr));
	out->len += sizeof(eh) + nsegments * sizeof(Elf64_Phdr);
	for (size_t i = 0; i < nsections; i++) {
		if ((r = pad_to(out, 8)))
			goto out;
		offsets[i] = out->len - base;
		if (sections[i].data && (r = buf_append(out, sections[i].data, sections[i].size)))
			goto out;
	}
	/* .shstrtab: "" then every name */
	if ((r = buf_append(&names, "", 1)))
		goto out;
	for (size_t i = 0; i < nsections; i++)
		if ((r = buf_append(&names, sections[i].name, strlen(sections[i].name) + 1)))
			goto out;
	if ((r = buf_append(&names, ".shstrtab", sizeof(".shstrtab"))))
		goto out;
	shstr_off = out->len - base;
	if ((r = buf_append(out, names.data, names.len)) || (r = pad_to(out, 8)))
		goto out;
	shoff = out->len - base;
	{
		Elf64_Shdr sh;
		size_t name = 1;

		memset(&sh, 0, sizeof(sh));
		if ((r = buf_append(out, &sh, sizeof(sh))))
			goto out;
		for (size_t i = 0; i < nsections; i++) {
			memset(&sh, 0, sizeof(sh));
			sh.sh_name = (Elf64_Word)name;
			sh.sh_type = sections[i].type;
			sh.sh_flags = sections[i].flags;
			sh.sh_addr = sections[i].addr;
			sh.sh_offset = offsets[i];
			sh.sh_size = sections[i].size;
			sh.sh_link = sections[i].link;
			sh.sh_addralign = 8;
			sh.sh_entsize = sections[i].entsize;
			name += strlen(sections[i].name) + 1;
			if ((r = buf_append(out, &sh, sizeof(sh))))
				goto out;
		}
		memset(&sh, 0, sizeof(sh));
		sh.sh_name = (Elf64_Word)name;
		sh.sh_type = SHT_STRTAB;
		sh.sh_offset = shstr_off;
		sh.sh_size = names.len;
		sh.sh_addralign = 1;
		if ((r = buf_append(out, &sh, sizeof(sh))))
			goto out;
	}
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = type;
	eh.e_machine = machine;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = nsegments ? sizeof(eh) : 0;
	eh.e_shoff = shoff;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)nsegments;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = (Elf64_Half)shnum;
	eh.e_shstrndx = (Elf64_Half)(shnum - 1);
	memcpy(out->data + base, &eh, sizeof(eh));
	for (size_t i = 0; i < nsegments; i++) {
		const struct fuzz_elf_segment *g = &segments[i];
		Elf64_Phdr ph;
		int s = g->section;

		memset(&ph, 0, sizeof(ph));
		ph.p_type = PT_LOAD;
		ph.p_flags = g->flags;
		ph.p_vaddr = ph.p_paddr = g->vaddr;
		if (s >= 0 && (size_t)s < nsections && sections[s].data) {
			ph.p_offset = offsets[s];
			ph.p_filesz = sections[s].size;
		}
		ph.p_memsz = g->memsz > ph.p_filesz ? g->memsz : ph.p_filesz;
		ph.p_align = 8;
		memcpy(out->data + base + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
	}
	r = 0;
out:
	free(offsets);
	buf_free(&names);
	return r;
}

/* ---- function tables ------------------------------------------------------------- */

int fuzz_pclntab_parse(const uint8_t *data, size_t size, struct fuzz_pclntab_input *l)
{
	struct fuzz_in in = {data, size};

	if (size < FUZZ_PCLNTAB_HEADER)
		return -EINVAL;
	l->minor = fuzz_u8(&in);
	l->flags = fuzz_u8(&in);
	fuzz_u16(&in);
	l->table_len = fuzz_u32(&in);
	l->text = fuzz_u64(&in);
	l->gofunc = fuzz_u64(&in);
	l->table_va = fuzz_u64(&in);
	for (int i = 0; i < FUZZ_PCLNTAB_NPCS; i++)
		l->pcs[i] = fuzz_u32(&in);
	l->table_len = fuzz_take(&in, l->table_len, &l->table);
	l->inline_len = fuzz_take(&in, in.n, &l->inline_trees);
	/* the module data a page after the table, away from it */
	l->moduledata_va = ((l->table_va + l->table_len + 0xfff) & ~0xfffull) + 0x1000;
	return 0;
}

int fuzz_pclntab_open(const struct fuzz_pclntab_input *l, struct pclntab **out)
{
	uint64_t md[64];
	struct fuzz_elf_section s[3] = {
		{".gopclntab", SHT_PROGBITS, SHF_ALLOC, l->table_va, l->table, l->table_len, 0,
		 0},
		{".noptrdata", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, l->moduledata_va, md,
		 sizeof(md), 0, 0},
		{".go.func", SHT_PROGBITS, SHF_ALLOC, l->gofunc, l->inline_trees, l->inline_len,
		 0, 0},
	};
	struct fuzz_elf_segment g[4] = {
		{l->text, 16u << 20, PF_R | PF_X, -1},
		{l->table_va, 0, PF_R, 0},
		{l->moduledata_va, 0, PF_R | PF_W, 1},
		{l->gofunc, 0, PF_R, 2},
	};
	struct elf_file ef;
	struct buf elf;
	char path[64];
	int fd, r;

	*out = NULL;
	memset(md, 0, sizeof(md));
	if (l->flags & 1) {
		/* runtime.moduledata: pcHeader first, text at 176, gofunc at 304 (1.18-1.19),
		 * 320 (1.20-1.26) or 344 (1.27): all three are set */
		md[0] = l->table_va;
		md[176 / 8] = l->text;
		md[304 / 8] = md[320 / 8] = md[344 / 8] = l->gofunc;
	}
	buf_init(&elf, 0);
	if ((r = fuzz_elf_build(EM_X86_64, ET_EXEC, s, 3, g, 4, &elf)) != 0)
		goto out;
	fd = fuzz_memfd(elf.data, elf.len, path);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = elf_file_open(path, &ef);
	if (r == 0) {
		r = pclntab_open(&ef, l->minor, l->flags & 2 ? l->moduledata_va : 0, out);
		elf_file_close(&ef);
	}
	close(fd);
out:
	buf_free(&elf);
	return r;
}
