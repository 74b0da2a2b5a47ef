/*
 * The cluster role's targets file (Prometheus file_sd JSON, targets_file_parse), with
 * a shard filter chosen by the input, and --target URLs (targets_url_parse).
 * Properties: a file is applied whole or not at all (an error adds nothing); the
 * count returned is the number of targets added; every target's id is its base URL,
 * an http(s) URL that parses again to itself, with its "instance" label last and
 * within SCRAPE_MAX_LABELS labels.
 *
 * Input: the shard count (1 byte, 0 or 1 for none), then the file.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "hash.h"
#include "targets_file.h"

struct ctx {
	unsigned shards;
	size_t added, calls;
};

static int wanted(void *ctx, const char *base)
{
	const struct ctx *c = ctx;

	return c->shards <= 1 || hash64(base, strlen(base), 0) % c->shards == 0;
}

static int add(void *vctx, const struct scrape_target *t)
{
	struct ctx *c = vctx;
	char base[1024], hostport[300];

	c->calls++;
	FUZZ_CHECK(wanted(c, t->base_url));
	FUZZ_CHECK(t->id && t->base_url && t->service_name && strcmp(t->id, t->base_url) == 0);
	FUZZ_CHECK(strncmp(t->base_url, "http://", 7) == 0 ||
		   strncmp(t->base_url, "https://", 8) == 0);
	FUZZ_CHECK(t->nlabels >= 1 && t->nlabels <= SCRAPE_MAX_LABELS);
	FUZZ_CHECK(strcmp(t->label_names[t->nlabels - 1], "instance") == 0);
	for (size_t i = 0; i < t->nlabels; i++)
		FUZZ_CHECK(t->label_names[i] && t->label_values[i]);
	FUZZ_CHECK(targets_url_parse(t->base_url, base, sizeof(base), hostport,
				     sizeof(hostport)) == 0);
	FUZZ_CHECK(strcmp(base, t->base_url) == 0 &&
		   strcmp(hostport, t->label_values[t->nlabels - 1]) == 0);
	/* every other call fails, as scraper_target_set may: not counted */
	if (c->calls % 2 == 0)
		return -ENOMEM;
	c->added++;
	return 0;
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct ctx c = {.shards = fuzz_u8(&in) % 8};
	struct targets_file_ops ops = {wanted, add, &c};
	char base[1024], hostport[300], *url;
	int r = targets_file_parse((const char *)in.p, in.n, &ops);

	FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM || r >= 0);
	if (r < 0)
		FUZZ_CHECK(c.calls == 0);
	else
		FUZZ_CHECK((size_t)r == c.added && c.added <= TARGETS_FILE_MAX_TARGETS);
	/* the input as a --target URL */
	url = fuzz_strndup(in.p, in.n);
	if (targets_url_parse(url, base, sizeof(base), hostport, sizeof(hostport)) == 0)
		FUZZ_CHECK(strncasecmp(base, "http", 4) == 0 && strstr(base, hostport));
	free(url);
	return 0;
}
