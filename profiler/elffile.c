/*
 * ELF headers through libelf; contents through pread with our own bounds. libelf's
 * handle is released once the headers are copied, so an open elf_file costs a file
 * descriptor and a few kilobytes, whatever the size of the binary.
 */
#define LOG_MODULE "elf"
#include "elffile.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define CHUNK (64u << 10)
#define MAX_CANDIDATES 16
#define MAX_SYMBOL_NAME 256

static int read_note_build_id(struct elf_file *ef)
{
	const struct elf_section *s = elf_file_section(ef, ".note.gnu.build-id");
	unsigned char note[256];
	uint32_t namesz, descsz, type;
	int go = 0;

	if (!s) {
		s = elf_file_section(ef, ".note.go.buildid");
		go = 1;
	}
	if (!s || s->size < 12 || s->size > sizeof(note))
		return 0;
	if (elf_file_pread(ef, s->offset, note, s->size))
		return 0;
	memcpy(&namesz, note, 4);
	memcpy(&descsz, note + 4, 4);
	memcpy(&type, note + 8, 4);
	{
		uint64_t desc = 12 + (((uint64_t)namesz + 3) & ~3ull);
		if (desc + descsz > s->size)
			return 0;
		if (go) {
			size_t n = descsz < sizeof(ef->build_id) - 1 ? descsz : sizeof(ef->build_id) - 1;
			for (size_t i = 0; i < n; i++) {
				unsigned char c = note[desc + i];
				ef->build_id[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '_';
			}
			ef->build_id[n] = '\0';
		} else {
			size_t n = descsz * 2 < sizeof(ef->build_id) - 1 ? descsz : 0;
			for (size_t i = 0; i < n; i++)
				snprintf(ef->build_id + 2 * i, 3, "%02x", note[desc + i]);
		}
	}
	return 0;
}

int elf_file_open(const char *path, struct elf_file *ef)
{
	Elf *elf = NULL;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	size_t shstrndx, nphdr;
	struct stat st;
	int r = -ENOEXEC;

	memset(ef, 0, sizeof(*ef));
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(ef->fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode))
		goto fail;
	ef->file_size = (uint64_t)st.st_size;
	elf_version(EV_CURRENT);
	elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		goto fail;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    (eh.e_machine != EM_X86_64 && eh.e_machine != EM_AARCH64)) {
		r = -ENOTSUP;
		goto fail;
	}
	ef->machine = eh.e_machine;
	ef->type = eh.e_type;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		goto fail;
	if (elf_getshdrnum(elf, &ef->nsections) != 0 || ef->nsections > ELF_MAX_SECTIONS)
		goto fail;
	ef->sections = calloc(ef->nsections ? ef->nsections : 1, sizeof(*ef->sections));
	if (!ef->sections) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; (scn = elf_nextscn(elf, scn)) != NULL;) {
		GElf_Shdr sh;
		const char *name;
		struct elf_section *s;
		size_t idx = elf_ndxscn(scn);

		if (!gelf_getshdr(scn, &sh) || idx >= ef->nsections)
			goto fail;
		s = &ef->sections[idx];
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
		s->addr = sh.sh_addr;
		s->offset = sh.sh_offset;
		s->size = sh.sh_size;
		s->type = sh.sh_type;
		s->link = sh.sh_link;
		s->entsize = sh.sh_entsize;
		/* a section that claims bytes past the end of the file is truncated/corrupt:
		 * keep its header but make every read of it fail */
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > ef->file_size || sh.sh_size > ef->file_size - sh.sh_offset))
			s->size = 0;
		(void)i;
	}
	if (elf_getphdrnum(elf, &nphdr) != 0)
		goto fail;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			goto fail;
		if (ph.p_type != PT_LOAD)
			continue;
		if (ef->nsegments == ELF_MAX_SEGMENTS)
			goto fail;
		ef->segments[ef->nsegments++] = (struct elf_segment){
			.vaddr = ph.p_vaddr,
			.memsz = ph.p_memsz,
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.flags = ph.p_flags,
		};
	}
	if (ef->nsegments == 0)
		goto fail;
	elf_end(elf);
	elf = NULL;
	read_note_build_id(ef);
	return 0;
fail:
	if (elf)
		elf_end(elf);
	elf_file_close(ef);
	return r;
}

void elf_file_close(struct elf_file *ef)
{
	if (ef->fd >= 0)
		close(ef->fd);
	ef->fd = -1;
	free(ef->sections);
	ef->sections = NULL;
	ef->nsections = 0;
}

const struct elf_section *elf_file_section(const struct elf_file *ef, const char *name)
{
	for (size_t i = 0; i < ef->nsections; i++)
		if (strcmp(ef->sections[i].name, name) == 0)
			return &ef->sections[i];
	return NULL;
}

int elf_file_pread(const struct elf_file *ef, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;

	if (off > ef->file_size || len > ef->file_size - off)
		return -EIO;
	while (done < len) {
		ssize_t n = pread(ef->fd, (char *)dst + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int elf_file_read_section(const struct elf_file *ef, const struct elf_section *s,
			  unsigned char **out)
{
	unsigned char *p;
	int r;

	*out = NULL;
	if (s->type == SHT_NOBITS || s->size == 0)
		return -ENODATA;
	if (s->size > ELF_MAX_SMALL_SECTION)
		return -E2BIG;
	p = malloc(s->size);
	if (!p)
		return -ENOMEM;
	r = elf_file_pread(ef, s->offset, p, s->size);
	if (r) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

int elf_file_va_to_offset(const struct elf_file *ef, uint64_t va, uint64_t *off)
{
	for (size_t i = 0; i < ef->nsegments; i++) {
		const struct elf_segment *g = &ef->segments[i];
		if (va >= g->vaddr && va - g->vaddr < g->filesz) {
			*off = g->offset + (va - g->vaddr);
			return 0;
		}
	}
	return -EFAULT;
}

int elf_file_read_va(const struct elf_file *ef, uint64_t va, void *dst, size_t len)
{
	for (size_t i = 0; i < ef->nsegments; i++) {
		const struct elf_segment *g = &ef->segments[i];
		if (va >= g->vaddr && va - g->vaddr < g->filesz) {
			if (len > g->filesz - (va - g->vaddr))
				return -EFAULT;
			return elf_file_pread(ef, g->offset + (va - g->vaddr), dst, len);
		}
	}
	return -EFAULT;
}

uint64_t elf_file_base_vaddr(const struct elf_file *ef)
{
	uint64_t lo = UINT64_MAX;
	for (size_t i = 0; i < ef->nsegments; i++)
		if (ef->segments[i].vaddr < lo)
			lo = ef->segments[i].vaddr;
	return lo & ~(uint64_t)0xfff;
}

struct candidates {
	uint32_t off[MAX_CANDIDATES];
	size_t n;
};

/* Finds every offset in the string table where names[i] ends a string. */
static int scan_strtab(const struct elf_file *ef, const struct elf_section *strtab,
		       const char *const *names, size_t n, struct candidates *cand)
{
	unsigned char *chunk = malloc(CHUNK + MAX_SYMBOL_NAME);
	uint64_t pos = 0;
	size_t keep = 0;
	int r = 0;

	if (!chunk)
		return -ENOMEM;
	while (pos < strtab->size) {
		size_t want = strtab->size - pos < CHUNK ? (size_t)(strtab->size - pos) : CHUNK;
		size_t avail;

		r = elf_file_pread(ef, strtab->offset + pos, chunk + keep, want);
		if (r)
			break;
		avail = keep + want;
		/* chunk[0] is at table offset pos - keep */
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(names[i]);
			for (size_t j = 0; j + len < avail; j++) {
				if (chunk[j + len] != '\0' || memcmp(chunk + j, names[i], len) != 0)
					continue;
				/* matches found in the kept overlap were recorded last round */
				if (j + len < keep)
					continue;
				if (cand[i].n < MAX_CANDIDATES)
					cand[i].off[cand[i].n++] = (uint32_t)(pos - keep + j);
			}
		}
		pos += want;
		keep = avail < MAX_SYMBOL_NAME ? avail : MAX_SYMBOL_NAME;
		memmove(chunk, chunk + avail - keep, keep);
	}
	free(chunk);
	return r;
}

int elf_file_lookup_symbols(const struct elf_file *ef, const char *const *names, size_t n,
			    uint64_t *values, int *found)
{
	const struct elf_section *symtab = NULL, *strtab;
	struct candidates *cand = NULL;
	Elf64_Sym *syms = NULL;
	uint64_t pos = 0;
	int r = -ENOENT;

	for (size_t i = 0; i < n; i++)
		found[i] = 0;
	for (size_t i = 0; i < ef->nsections; i++)
		if (ef->sections[i].type == SHT_SYMTAB)
			symtab = &ef->sections[i];
	if (!symtab || symtab->size == 0 || symtab->link >= ef->nsections)
		goto out;
	strtab = &ef->sections[symtab->link];
	if (strtab->type != SHT_STRTAB || strtab->size == 0 || strtab->size > UINT32_MAX)
		goto out;
	cand = calloc(n, sizeof(*cand));
	syms = malloc(CHUNK);
	if (!cand || !syms) {
		r = -ENOMEM;
		goto out;
	}
	r = scan_strtab(ef, strtab, names, n, cand);
	if (r)
		goto out;
	while (pos + sizeof(Elf64_Sym) <= symtab->size) {
		uint64_t left = (symtab->size - pos) / sizeof(Elf64_Sym);
		size_t count = left < CHUNK / sizeof(Elf64_Sym) ? (size_t)left
								: CHUNK / sizeof(Elf64_Sym);
		r = elf_file_pread(ef, symtab->offset + pos, syms, count * sizeof(Elf64_Sym));
		if (r)
			goto out;
		for (size_t k = 0; k < count; k++) {
			if (syms[k].st_shndx == SHN_UNDEF)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (found[i])
					continue;
				for (size_t c = 0; c < cand[i].n; c++) {
					if (syms[k].st_name == cand[i].off[c]) {
						values[i] = syms[k].st_value;
						found[i] = 1;
					}
				}
			}
		}
		pos += count * sizeof(Elf64_Sym);
	}
	r = 0;
out:
	free(cand);
	free(syms);
	return r;
}
