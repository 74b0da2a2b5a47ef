/*
 * The API server's /version document (k8s/version.c), as the reflector receives it
 * before deciding on streaming lists. Properties: an answer is either refused
 * (-EINVAL) or gives a major and a minor within the bound of a version part, and the
 * streaming decision follows from them alone.
 */
#include <errno.h>

#include "fuzz.h"
#include "version.h"

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int major = -1, minor = -1;
	int r = k8s_version_parse((const char *)data, size, &major, &minor);

	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_CHECK(major >= 0 && major < 10000 && minor >= 0 && minor < 10000);
		FUZZ_CHECK(k8s_version_streams(major, minor) ==
			   (major > 1 || (major == 1 && minor >= 32)));
	}
	FUZZ_CHECK(size <= K8S_VERSION_DOC_MAX || r == -EINVAL);
	return 0;
}
