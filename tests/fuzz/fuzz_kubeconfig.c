/*
 * kubeconfig YAML: the input is written as a kubeconfig file and loaded
 * (k8s_kubeconfig_load), then set on a libcurl handle as a request would use it.
 * Next to the file are ca.crt, client.crt, client.key and token, so that relative
 * references in the seeds are read too. Properties: a failure comes with one line
 * naming the file; a success has an http(s) server URL without a trailing slash, and
 * a client certificate only with its key.
 *
 * The loader reads the files a kubeconfig names, and a file such as /dev/tty or
 * /proc/kmsg would block the fuzzer: inputs that could name something under /dev,
 * /proc, /sys or /run are skipped (YAML can only spell such a path with these bytes
 * in a row or with a backslash escape).
 */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"
#include "k8s.h"
#include "kubeconfig.h"

static CURL *curl;
static char path[512];

static int reaches_special_files(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"dev", "proc", "sys", "run"};

	if (memchr(data, '\\', size))
		return 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (memmem(data, size, bad[i], strlen(bad[i])))
			return 1;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n"
				  "-----END CERTIFICATE-----\n";
	char p[512];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	FUZZ_CHECK(curl);
	FUZZ_CHECK(fuzz_write_file("ca.crt", pem, sizeof(pem) - 1, p, sizeof(p)) == 0);
	FUZZ_CHECK(fuzz_write_file("client.crt", pem, sizeof(pem) - 1, p, sizeof(p)) == 0);
	FUZZ_CHECK(fuzz_write_file("client.key", pem, sizeof(pem) - 1, p, sizeof(p)) == 0);
	FUZZ_CHECK(fuzz_write_file("token", "abc.def\n", 8, p, sizeof(p)) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct k8s_config *c;
	char err[1024] = "";
	int r;

	if (reaches_special_files(data, size))
		return 0;
	FUZZ_CHECK(fuzz_write_file("kubeconfig", data, size, path, sizeof(path)) == 0);
	c = k8s_config_alloc();
	FUZZ_CHECK(c);
	r = k8s_kubeconfig_load(path, envp, c, err, sizeof(err));
	if (r) {
		FUZZ_CHECK(r < 0);
		FUZZ_CHECK(strncmp(err, "kubeconfig ", 11) == 0 && !strchr(err, '\n'));
	} else {
		size_t n;
		FUZZ_CHECK(c->server);
		n = strlen(c->server);
		FUZZ_CHECK(strncasecmp(c->server, "http://", 7) == 0 ||
			   strncasecmp(c->server, "https://", 8) == 0);
		FUZZ_CHECK(n <= 8 || c->server[n - 1] != '/');
		FUZZ_CHECK(!c->client_cert.data == !c->client_key.data);
		FUZZ_CHECK(strcmp(k8s_config_server(c), c->server) == 0 && k8s_config_origin(c));
		curl_easy_reset(curl);
		r = k8s_config_setup_handle(c, curl);
		FUZZ_CHECK(r == 0 || r == -ENOMEM);
	}
	k8s_config_free(c);
	return 0;
}
