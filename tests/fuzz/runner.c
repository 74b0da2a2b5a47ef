/*
 * The regression runner: main() of a fuzz target built without libFuzzer (gcc). Feeds
 * every file named on the command line, and every regular file of every directory
 * named, through LLVMFuzzerTestOneInput() once, in name order, after
 * LLVMFuzzerInitialize() when the target has one. A failed check or a sanitizer report
 * ends the process with the input's name printed just before.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	struct buf data;
	int r = fuzz_read_file(path, 64u << 20, &data);

	if (r) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		return 1;
	}
	fprintf(stderr, "input %s (%zu bytes)\n", path, data.len);
	/* a copy of exactly the input's size, so that a read past it is caught */
	{
		uint8_t *copy = malloc(data.len ? data.len : 1);
		if (!copy)
			abort();
		if (data.len)
			memcpy(copy, data.data, data.len);
		LLVMFuzzerTestOneInput(copy, data.len);
		free(copy);
	}
	buf_free(&data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, size_t *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name), failed = 0;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			failed |= run_file(path);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return failed;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int failed = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0 && errno == ENOENT)
			continue; /* a target may have no regression inputs yet */
		if (S_ISDIR(st.st_mode)) {
			failed |= run_dir(argv[i], &count);
		} else {
			failed |= run_file(argv[i]);
			count++;
		}
	}
	printf("%zu inputs replayed%s\n", count, failed ? ", some unreadable" : "");
	return failed;
}
