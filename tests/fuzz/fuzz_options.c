/*
 * The option parser (config_parse) with an argument vector and an environment from
 * the input, for each command. Properties: it returns 0, 1 (--help) or -EINVAL; a
 * parsed configuration has every defaulted setting, durations and sizes within their
 * bounds, at most CONFIG_MAX_LIST values per repeatable option, positional arguments
 * taken from argv, and an upload URL (when one is derived) that is http(s).
 *
 * Input: the command (1 byte), the number of arguments (1 byte, at most 31), then
 * NUL-separated: the arguments, then environment entries ("NAME=value").
 */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "options.h"

#define MAX_ARGS 32
#define MAX_ENV 64

static const struct {
	enum podprof_command cmd;
	const char *name;
} commands[] = {
	{CMD_NODE, "node"},   {CMD_CLUSTER, "cluster"}, {CMD_HEAP, "heap"},
	{CMD_PS, "ps"},       {CMD_UPLOAD, "upload"},   {CMD_TARGETS, "targets"},
};

static void check(enum podprof_command cmd, const struct podprof_config *c, char **argv,
		  int argc)
{
	char *url;

	FUZZ_CHECK(c->log_level);
	FUZZ_CHECK(c->nargs < (size_t)argc);
	for (size_t i = 0; i < c->nargs; i++) {
		int from_argv = 0;
		for (int k = 1; k < argc; k++)
			from_argv |= c->args[i] == argv[k];
		FUZZ_CHECK(from_argv);
	}
	FUZZ_CHECK(c->targets.n <= CONFIG_MAX_LIST && c->labels.n <= CONFIG_MAX_LIST);
	if (cmd & (CMD_NODE | CMD_CLUSTER | CMD_UPLOAD)) {
		FUZZ_CHECK(c->upload_timeout_ns >= NS_PER_SEC / 10 &&
			   c->upload_timeout_ns <= 600 * NS_PER_SEC);
		FUZZ_CHECK(c->retry_backoff_min_ns >= NS_PER_MS &&
			   c->retry_backoff_max_ns >= NS_PER_MS);
		FUZZ_CHECK(c->queue_max_bytes >= 64 * 1024);
		url = config_profiles_url(c);
		if (url) {
			/* what libcurl will POST to: an http(s) URL with a host */
			CURLU *u = curl_url();
			char *scheme = NULL, *host = NULL;
			FUZZ_CHECK(u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK);
			FUZZ_CHECK(curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
				   curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK);
			FUZZ_CHECK(strcasecmp(scheme, "http") == 0 ||
				   strcasecmp(scheme, "https") == 0);
			FUZZ_CHECK(*host);
			curl_free(scheme);
			curl_free(host);
			curl_url_cleanup(u);
			free(url);
		}
	}
	if (cmd == CMD_NODE) {
		FUZZ_CHECK(c->interval_ns >= NS_PER_SEC && c->interval_ns <= 3600 * NS_PER_SEC);
		FUZZ_CHECK(c->go_heap_profiler && c->proc_root && *c->proc_root);
	}
	if (cmd == CMD_CLUSTER)
		FUZZ_CHECK(c->scrape_types && c->streaming_list);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf help;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	buf_init(&help, 0);
	FUZZ_CHECK(config_markdown(&help) == 0);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		FUZZ_CHECK(config_help(commands[i].cmd, "usage", "summary", &help) == 0);
	buf_free(&help);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t which = fuzz_u8(&in) % (sizeof(commands) / sizeof(commands[0]));
	int nargs = fuzz_u8(&in) % MAX_ARGS, argc = 1, nenv = 0, r;
	char *argv[MAX_ARGS + 1] = {0}, *envp[MAX_ENV + 1] = {0}, *s;
	struct podprof_config cfg;

	argv[0] = fuzz_strndup(commands[which].name, strlen(commands[which].name));
	while (argc <= nargs && (s = fuzz_token(&in, 0)) != NULL)
		argv[argc++] = s;
	while (nenv < MAX_ENV && (s = fuzz_token(&in, 0)) != NULL)
		envp[nenv++] = s;
	r = config_parse(commands[which].cmd, argc, argv, envp, &cfg);
	FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL);
	if (r == 0) {
		check(commands[which].cmd, &cfg, argv, argc);
		config_free(&cfg);
	}
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	for (int i = 0; i < nenv; i++)
		free(envp[i]);
	return 0;
}
