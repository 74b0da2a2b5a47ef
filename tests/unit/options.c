/* Unit tests of the option table: defaults, environment, flags, precedence, errors. */
#include <errno.h>
#include <stdarg.h>

#include "agent.h"
#include "profiler.h"
#include "testing.h"

static int parse(enum podprof_command cmd, char **env, struct podprof_config *cfg, ...)
{
	char *argv[32] = {"upload"};
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, cfg);
	while ((a = va_arg(ap, char *)) != NULL && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	return config_parse(cmd, argc, argv, env, cfg);
}

TEST(defaults_apply)
{
	struct podprof_config c;
	char *env[] = {NULL};

	CHECK_EQ(parse(CMD_NODE, env, &c, NULL), 0);
	CHECK_STR(c.listen, "0.0.0.0:10301");
	CHECK_EQ(c.upload_timeout_ns, 10 * NS_PER_SEC);
	CHECK_EQ(c.spool_max_bytes, 256ull << 20);
	CHECK_EQ(c.retry_backoff_min_ns, 500 * NS_PER_MS);
	CHECK_EQ(c.retry_backoff_max_ns, 300 * NS_PER_SEC);
	CHECK(!c.insecure_skip_verify);
	CHECK(c.api_key == NULL);
	config_free(&c);
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, NULL), 0);
	CHECK_STR(c.listen, "");
	CHECK_EQ(c.flush_timeout_ns, 30 * NS_PER_SEC);
	config_free(&c);
}

TEST(environment_then_flags)
{
	struct podprof_config c;
	char *env[] = {"API_KEY=secret1", "PODPROF_UPLOAD_TIMEOUT=3s", "INSECURE_SKIP_VERIFY=true",
		       "COLLECTOR_ENDPOINT=http://coroot:8080/", "API_KEY=secret2", NULL};

	CHECK_EQ(parse(CMD_NODE, env, &c, "--upload-timeout", "5s", NULL), 0);
	/* later environment entries win, as in a Kubernetes env list */
	CHECK_STR(c.api_key, "secret2");
	/* a flag beats its variable */
	CHECK_EQ(c.upload_timeout_ns, 5 * NS_PER_SEC);
	CHECK(c.insecure_skip_verify);
	{
		char *url = config_profiles_url(&c);
		CHECK_STR(url, "http://coroot:8080/v1/profiles");
		free(url);
	}
	config_free(&c);
}

TEST(profiles_endpoint_overrides_base_urls)
{
	struct podprof_config c;
	char *env[] = {"COROOT_URL=http://a:1", "PROFILES_ENDPOINT=https://b:2/custom", NULL};
	char *url;

	CHECK_EQ(parse(CMD_CLUSTER, env, &c, NULL), 0);
	url = config_profiles_url(&c);
	CHECK_STR(url, "https://b:2/custom");
	free(url);
	config_free(&c);

	char *env2[] = {"COROOT_URL=http://a:1", NULL};
	CHECK_EQ(parse(CMD_CLUSTER, env2, &c, NULL), 0);
	url = config_profiles_url(&c);
	CHECK_STR(url, "http://a:1/v1/profiles");
	free(url);
	config_free(&c);

	char *env3[] = {NULL};
	CHECK_EQ(parse(CMD_CLUSTER, env3, &c, NULL), 0);
	CHECK(config_profiles_url(&c) == NULL);
	config_free(&c);
}

TEST(empty_environment_values_are_unset)
{
	struct podprof_config c;
	char *env[] = {"PODPROF_UPLOAD_TIMEOUT=", "API_KEY=", NULL};
	CHECK_EQ(parse(CMD_NODE, env, &c, NULL), 0);
	CHECK_EQ(c.upload_timeout_ns, 10 * NS_PER_SEC);
	CHECK(c.api_key == NULL);
	config_free(&c);
}

TEST(flag_forms)
{
	struct podprof_config c;
	char *env[] = {NULL};

	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--service-name=svc", "--insecure-skip-verify",
		       "--label", "a=b", "--label=c=d=e", "f1", "--", "--f2", NULL),
		 0);
	CHECK_STR(c.service_name, "svc");
	CHECK(c.insecure_skip_verify);
	CHECK_EQ(c.labels.n, 2);
	CHECK_STR(c.labels.items[0], "a=b");
	CHECK_STR(c.labels.items[1], "c=d=e");
	CHECK_EQ(c.nargs, 2);
	CHECK_STR(c.args[0], "f1");
	CHECK_STR(c.args[1], "--f2");
	config_free(&c);
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--insecure-skip-verify=false", NULL), 0);
	CHECK(!c.insecure_skip_verify);
	config_free(&c);
}

TEST(help_is_reported)
{
	struct podprof_config c;
	char *env[] = {NULL};
	struct buf out;

	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--help", NULL), 1);
	config_free(&c);
	buf_init(&out, 0);
	CHECK_EQ(config_help(CMD_UPLOAD, "podprof upload [options] FILE...", "Uploads.", &out), 0);
	CHECK(strstr(out.data, "--spool-dir DIR") != NULL);
	CHECK(strstr(out.data, "env PODPROF_SPOOL_DIR") != NULL);
	CHECK(strstr(out.data, "(default 30s)") != NULL);
	/* options of other commands are not offered */
	CHECK(strstr(out.data, "--once") == NULL);
	buf_free(&out);
}

TEST(bad_values_are_rejected)
{
	struct podprof_config c;
	char *env[] = {NULL};
	static const char *const bad[][2] = {
		{"--upload-timeout", "ten"},     {"--upload-timeout", "10"},
		{"--upload-timeout", "1h"},      {"--upload-timeout", "-1s"},
		{"--spool-max-bytes", "lots"},   {"--queue-max-bytes", "1"},
		{"--profiles-endpoint", "coroot:8080"}, {"--profiles-endpoint", "ftp://x/"},
		{"--profiles-endpoint", "http://"}, {"--insecure-skip-verify", "maybe"},
		{"--listen", "nonsense"},        {"--log-level", "loud"},
		{"--label", "=x"},               {"--label", "novalue"},
		{"--spool-dir", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char arg[256];
		snprintf(arg, sizeof(arg), "%s=%s", bad[i][0], bad[i][1]);
		CHECK_MSG(parse(CMD_UPLOAD, env, &c, arg, NULL) == -EINVAL, "%s", arg);
	}
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--no-such-flag", NULL), -EINVAL);
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "-x", NULL), -EINVAL);
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--once", NULL), -EINVAL); /* not an upload flag */
	CHECK_EQ(parse(CMD_UPLOAD, env, &c, "--service-name", NULL), -EINVAL);
	{
		char *benv[] = {"PODPROF_UPLOAD_TIMEOUT=soon", NULL};
		CHECK_EQ(parse(CMD_NODE, benv, &c, NULL), -EINVAL);
	}
}

TEST(markdown_lists_every_option)
{
	struct buf out;
	buf_init(&out, 0);
	CHECK_EQ(config_markdown(&out), 0);
	CHECK(strstr(out.data, "| `--api-key KEY` | `API_KEY` |") != NULL);
	CHECK(strstr(out.data, "| `--listen ADDR` | `LISTEN` | `0.0.0.0:10301` | node, cluster |") !=
	      NULL);
	buf_free(&out);
}

TEST(the_heap_bucket_bound_is_a_node_side_option)
{
	struct podprof_config c;
	char *env[] = {NULL}, *benv[] = {"PODPROF_HEAP_MAX_BUCKETS=5000", NULL};

	CHECK_EQ(parse(CMD_NODE, env, &c, NULL), 0);
	CHECK_EQ(c.heap_max_buckets, GOHEAP_DEFAULT_MAX_BUCKETS);
	config_free(&c);
	CHECK_EQ(parse(CMD_PS, benv, &c, NULL), 0);
	CHECK_EQ(c.heap_max_buckets, 5000);
	config_free(&c);
	CHECK_EQ(parse(CMD_HEAP, benv, &c, "--heap-max-buckets", "2000", NULL), 0);
	CHECK_EQ(c.heap_max_buckets, 2000);
	config_free(&c);
	/* at least one bucket; not an option of the cluster role */
	CHECK_EQ(parse(CMD_NODE, env, &c, "--heap-max-buckets=0", NULL), -EINVAL);
	CHECK_EQ(parse(CMD_CLUSTER, env, &c, "--heap-max-buckets=10", NULL), -EINVAL);
}
