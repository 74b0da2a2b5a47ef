/*
 * /proc/<pid>/maps: every line through proc_maps_parse_line, then the whole file as
 * the maps of a process under a fake proc root (procmem_open), whose "mem" file holds
 * a known pattern; reads at the mappings' edges go through the window cache.
 * Properties: a parsed line has start <= end, four permission characters and a bounded
 * path; a read that succeeds returns the bytes at that address of the mem file.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "procmem.h"

#define PID 4242
#define MEM_SIZE (256u << 10)

static char root[512];

static uint8_t pattern(uint64_t addr)
{
	return (uint8_t)(addr * 2654435761u >> 13);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[600], path[700];
	uint8_t *mem = malloc(MEM_SIZE);

	(void)argc;
	(void)argv;
	fuzz_quiet();
	FUZZ_CHECK(mem);
	snprintf(root, sizeof(root), "%s/proc", fuzz_tmpdir());
	snprintf(dir, sizeof(dir), "%s/%d", root, PID);
	FUZZ_CHECK(mkdir(root, 0700) == 0 || errno == EEXIST);
	FUZZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	for (uint64_t i = 0; i < MEM_SIZE; i++)
		mem[i] = pattern(i);
	FUZZ_CHECK(fuzz_write_file("proc/4242/mem", mem, MEM_SIZE, path, sizeof(path)) == 0);
	free(mem);
	return 0;
}

static void read_at(struct procmem *m, uint64_t addr, size_t len)
{
	uint8_t buf[96];
	int r;

	if (len > sizeof(buf))
		len = sizeof(buf);
	r = procmem_read(m, addr, buf, len);
	FUZZ_CHECK(r == 0 || r == -EFAULT || r == -ESRCH || r == -EIO || r == -EINVAL ||
		   r == -EOVERFLOW);
	if (r == 0) {
		/* only the mem file can have answered */
		FUZZ_CHECK(addr < MEM_SIZE && len <= MEM_SIZE - addr);
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK(buf[i] == pattern(addr + i));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const struct proc_mapping *maps;
	struct procmem *m;
	char *line, path[700];
	size_t n;
	int r;

	while ((line = fuzz_token(&in, '\n')) != NULL) {
		struct proc_mapping pm;
		if (proc_maps_parse_line(line, &pm) == 0) {
			FUZZ_CHECK(pm.start <= pm.end && strlen(pm.perms) == 4);
			FUZZ_CHECK(strlen(pm.path) < sizeof(pm.path));
		}
		free(line);
	}
	FUZZ_CHECK(fuzz_write_file("proc/4242/maps", data, size, path, sizeof(path)) == 0);
	r = procmem_open(root, PID, &m);
	FUZZ_CHECK(r == 0 || r == -ESRCH || r == -E2BIG || r == -ENOMEM);
	if (r)
		return 0;
	maps = procmem_mappings(m, &n);
	FUZZ_CHECK(n > 0 && n <= PROC_MAX_MAPPINGS);
	for (size_t i = 0; i < n && i < 64; i++) {
		read_at(m, maps[i].start, 8);
		read_at(m, maps[i].end - 8, 16); /* across the end */
		read_at(m, maps[i].start + (maps[i].end - maps[i].start) / 2, 96);
	}
	read_at(m, 0, 64);
	read_at(m, MEM_SIZE - 4, 8);
	(void)procmem_bytes_read(m);
	procmem_close(m);
	return 0;
}
