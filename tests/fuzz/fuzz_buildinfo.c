/*
 * .go.buildinfo sections (go_buildinfo_parse), both formats: the 1.18+ one with inline
 * strings, and the older one whose pointers are resolved by reading "virtual
 * addresses", here offsets into the input itself from VA_BASE. Also Go version strings
 * (go_version_parse). Properties: a parsed version is printable, parses again to the
 * same release, and the main package path is a bounded string.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "buildinfo.h"
#include "fuzz.h"

#define VA_BASE 0x400000u

struct image {
	const uint8_t *data;
	size_t size;
};

static int read_va(void *ctx, uint64_t va, void *dst, size_t n)
{
	const struct image *im = ctx;

	if (va < VA_BASE || va - VA_BASE > im->size || n > im->size - (va - VA_BASE))
		return -EFAULT;
	memcpy(dst, im->data + (va - VA_BASE), n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image im = {data, size};
	struct go_buildinfo bi;
	int major, minor, r;
	char *text;

	r = go_buildinfo_parse(data, size, read_va, &im, &bi);
	if (r == 0) {
		size_t n = strlen(bi.version);
		FUZZ_CHECK(n > 0 && n < sizeof(bi.version));
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(isprint((unsigned char)bi.version[i]));
		FUZZ_CHECK(go_version_parse(bi.version, &major, &minor) == 0);
		FUZZ_CHECK(major == bi.major && minor == bi.minor);
		FUZZ_CHECK(strlen(bi.main_path) < sizeof(bi.main_path));
	} else {
		FUZZ_CHECK(r == -EPROTO || r == -ENOMEM);
	}
	/* without the reader, the old format cannot be read */
	r = go_buildinfo_parse(data, size, NULL, NULL, &bi);
	FUZZ_CHECK(r == 0 || r == -EPROTO);

	text = fuzz_strndup(data, size);
	if (go_version_parse(text, &major, &minor) == 0)
		FUZZ_CHECK(major >= 1 && major <= 99 && minor >= 0 && minor <= 999);
	free(text);
	return 0;
}
