/*
 * The small value parsers that settings and annotations go through, each given the
 * input as a string: Go durations (time_parse_duration, and time_format_duration back),
 * sizes (size_parse), profile type lists (scrape_types_parse for --scrape-types,
 * k8s_profile_types_parse for coroot.com/profile-types), listen addresses
 * (http_listen_parse), log levels, and workload names from pod and Job names.
 * Properties: a parsed duration formats to text that parses to the same value (and
 * so does any non-negative duration made of the input's first 8 bytes); a decimal
 * size is its number; a type list --scrape-types accepts means the same to the
 * annotation parser, and formatting a set parses back to it; a listen address keeps
 * its port in range; a workload name is a non-empty prefix of the pod's name.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "httpserver.h"
#include "k8s.h"
#include "log.h"
#include "naming.h"
#include "scraper.h"
#include "target.h"
#include "timeutil.h"

static void durations(const char *s, const uint8_t *data, size_t size)
{
	int64_t ns, back;
	char text[64];
	int r = time_parse_duration(s, &ns);

	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0) {
		FUZZ_CHECK(ns >= 0);
		time_format_duration(ns, text, sizeof(text));
		FUZZ_CHECK(time_parse_duration(text, &back) == 0 && back == ns);
	}
	if (size >= 8) {
		memcpy(&ns, data, 8);
		time_format_duration(ns, text, sizeof(text));
		if (ns >= 0)
			FUZZ_CHECK(time_parse_duration(text, &back) == 0 && back == ns);
	}
}

static void sizes(const char *s)
{
	uint64_t v;
	int r = size_parse(s, &v);

	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0 && *s && strspn(s, "0123456789") == strlen(s))
		FUZZ_CHECK(v == strtoull(s, NULL, 10));
}

static void types(const char *s)
{
	unsigned a = 0, b = 0, c = 0;
	char bad[80], text[64];
	int ra = scrape_types_parse(s, &a), rb = k8s_profile_types_parse(s, &b, bad, sizeof(bad));

	FUZZ_CHECK(ra == 0 || ra == -EINVAL);
	FUZZ_CHECK(rb == 0 || rb == -EINVAL);
	/* the flag's grammar is the stricter one */
	if (ra == 0)
		FUZZ_CHECK(rb == 0 && a == b);
	if (rb == 0) {
		FUZZ_CHECK(b && !(b & ~(unsigned)K8S_PROFILE_ALL));
		k8s_profile_types_format(b, text, sizeof(text));
		FUZZ_CHECK(scrape_types_parse(text, &c) == 0 && c == b);
		for (unsigned bit = 1; bit & K8S_PROFILE_ALL; bit <<= 1)
			if (b & bit)
				FUZZ_CHECK(strstr(text, scrape_type_name(bit)));
	} else {
		FUZZ_CHECK(strlen(bad) < sizeof(bad));
	}
}

static void listen_address(const char *s)
{
	char host[256];
	int port = -1, r = http_listen_parse(s, host, sizeof(host), &port);

	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		FUZZ_CHECK(port >= 0 && port <= 65535 && strlen(host) < sizeof(host) &&
			   strlen(host) <= strlen(s));
	(void)http_listen_parse(s, NULL, 0, &port);
}

static void names(const char *s)
{
	char out[300], small[5];
	enum log_level level;

	if (log_parse_level(s, &level) == 0)
		FUZZ_CHECK(level >= LOG_ERROR && level <= LOG_DEBUG);
	if (!*s)
		return;
	k8s_workload_by_pod_name(s, out, sizeof(out));
	FUZZ_CHECK(out[0] && strncmp(out, s, strlen(out)) == 0);
	k8s_workload_by_pod_name(s, small, sizeof(small));
	FUZZ_CHECK(strlen(small) < sizeof(small));
	k8s_workload_by_job_name(s, out, sizeof(out));
	FUZZ_CHECK(strncmp(out, s, strlen(out)) == 0);
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);

	durations(s, data, size);
	sizes(s);
	types(s);
	listen_address(s);
	names(s);
	free(s);
	return 0;
}
