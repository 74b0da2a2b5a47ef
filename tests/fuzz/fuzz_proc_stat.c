/*
 * What the node role reads of every process besides its memory: /proc/<pid>/stat
 * (proc_stat_parse: state and start time, after a command name that may hold spaces
 * and parentheses) and /proc/<pid>/environ (proc_opted_out, streamed in chunks, under a
 * fake proc root). The input is used as both files. Properties: a parsed stat line
 * has a ") " before its fields; the opt-out answer equals a plain reading of the
 * NUL-separated entries (the first 1 MiB of them).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "goproc.h"

#define PID 4243
#define OPT_OUT "COROOT_EBPF_PROFILING=disabled"
#define MAX_ENVIRON (1u << 20)

static char root[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[600];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(root, sizeof(root), "%s/proc", fuzz_tmpdir());
	snprintf(dir, sizeof(dir), "%s/%d", root, PID);
	FUZZ_CHECK(mkdir(root, 0700) == 0 || errno == EEXIST);
	FUZZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	return 0;
}

/* The entries of environ text, one by one: is the opt-out one of them? */
static int opted_out(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i < size; i++) {
		if (data[i] != '\0')
			continue;
		if (i - start == strlen(OPT_OUT) && memcmp(data + start, OPT_OUT, i - start) == 0)
			return 1;
		start = i + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t starttime;
	char state, path[700];
	int r;

	r = proc_stat_parse((const char *)data, size, &starttime, &state);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		const char *close = memmem(data, size, ") ", 2);
		FUZZ_CHECK(close && memchr(data, state, size));
	}
	FUZZ_CHECK(fuzz_write_file("proc/4243/environ", data, size, path, sizeof(path)) == 0);
	r = proc_opted_out(root, PID);
	if (size <= MAX_ENVIRON)
		FUZZ_CHECK(r == opted_out(data, size));
	else
		FUZZ_CHECK(r == 0 || r == 1);
	return 0;
}
