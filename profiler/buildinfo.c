/*
 * .go.buildinfo parsing.
 *
 * Layout: a 32-byte header, "\xff Go buildinf:" (14 bytes), pointer size, flags
 * (bit 0 big-endian, bit 1 inline strings, the 1.18+ format). With inline strings the
 * version and the module info follow the header as uvarint-length-prefixed strings;
 * before 1.18 the header holds two pointers to Go string headers instead.
 */
#include "buildinfo.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char magic[] = "\xff Go buildinf:";
#define MAGIC_LEN 14
#define HEADER_LEN 32
#define MAX_STRING (1u << 20)

int go_version_parse(const char *v, int *major, int *minor)
{
	char *end;
	long a, b;

	if (strncmp(v, "devel ", 6) == 0)
		v += 6;
	if (strncmp(v, "go", 2) != 0 || !isdigit((unsigned char)v[2]))
		return -EINVAL;
	a = strtol(v + 2, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return -EINVAL;
	b = strtol(end + 1, &end, 10);
	if (a < 1 || a > 99 || b < 0 || b > 999)
		return -EINVAL;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

static int uvarint(const unsigned char *p, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char c;
		if (*pos >= len)
			return -EPROTO;
		c = p[(*pos)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EPROTO;
}

/* Copies the main package path ("path\t<pkg>\n") out of the module info. */
static void parse_modinfo(const char *mod, size_t len, struct go_buildinfo *bi)
{
	const char *p = mod, *end = mod + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l > 5 && strncmp(p, "path\t", 5) == 0) {
			size_t n = l - 5 < sizeof(bi->main_path) - 1 ? l - 5 : sizeof(bi->main_path) - 1;
			memcpy(bi->main_path, p + 5, n);
			bi->main_path[n] = '\0';
			return;
		}
		p += l + 1;
	}
}

static int copy_version(const unsigned char *s, size_t n, struct go_buildinfo *bi)
{
	if (n == 0 || n >= sizeof(bi->version))
		return -EPROTO;
	memcpy(bi->version, s, n);
	bi->version[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)bi->version[i]))
			return -EPROTO;
	return go_version_parse(bi->version, &bi->major, &bi->minor) ? -EPROTO : 0;
}

int go_buildinfo_parse(const unsigned char *data, size_t len,
		       int (*read_va)(void *ctx, uint64_t va, void *dst, size_t n), void *ctx,
		       struct go_buildinfo *bi)
{
	unsigned ptrsize, flags;

	memset(bi, 0, sizeof(*bi));
	if (len < HEADER_LEN || memcmp(data, magic, MAGIC_LEN) != 0)
		return -EPROTO;
	ptrsize = data[14];
	flags = data[15];
	if (ptrsize != 4 && ptrsize != 8)
		return -EPROTO;
	if (flags & 2) {
		size_t pos = HEADER_LEN;
		uint64_t n;
		int r;

		if (uvarint(data, len, &pos, &n) || n > len - pos)
			return -EPROTO;
		r = copy_version(data + pos, (size_t)n, bi);
		if (r)
			return r;
		pos += (size_t)n;
		if (uvarint(data, len, &pos, &n) == 0 && n <= len - pos) {
			const char *mod = (const char *)data + pos;
			/* module info is wrapped in 16-byte sentinels */
			if (n >= 33 && mod[n - 17] == '\n')
				parse_modinfo(mod + 16, (size_t)n - 32, bi);
		}
		return 0;
	}
	/* pre-1.18: pointers (in the binary's byte order) to Go string headers */
	if (!read_va || (flags & 1) || ptrsize != 8)
		return -EPROTO;
	{
		uint64_t vptr, hdr[2];
		unsigned char *s;
		int r;

		memcpy(&vptr, data + 16, 8);
		if (read_va(ctx, vptr, hdr, sizeof(hdr)) || hdr[1] == 0 || hdr[1] > 64)
			return -EPROTO;
		s = malloc(hdr[1]);
		if (!s)
			return -ENOMEM;
		r = read_va(ctx, hdr[0], s, hdr[1]) ? -EPROTO : copy_version(s, hdr[1], bi);
		free(s);
		return r;
	}
}

static int file_read_va(void *ctx, uint64_t va, void *dst, size_t n)
{
	return elf_file_read_va(ctx, va, dst, n);
}

int go_buildinfo_read(const struct elf_file *ef, struct go_buildinfo *bi)
{
	const struct elf_section *s = elf_file_section(ef, ".go.buildinfo");
	unsigned char *data;
	int r;

	if (!s)
		return -ENOENT;
	r = elf_file_read_section(ef, s, &data);
	if (r)
		return r == -ENODATA ? -EPROTO : r;
	r = go_buildinfo_parse(data, s->size, file_read_va, (void *)ef, bi);
	free(data);
	return r;
}
