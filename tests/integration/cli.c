/*
 * The command line contract: every command answers --help, bad input exits 2 with one
 * line naming the input and what was expected, and the README's option table is the
 * one the option table generates.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "testing.h"

static int run(struct buf *out, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s %s", test_podprof_bin(), args);
	buf_reset(out);
	return test_sh(cmd, out, 1);
}

static size_t lines(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

TEST(help_and_version)
{
	static const char *const cmds[] = {"node", "heap", "ps", "upload"};
	struct buf out;

	buf_init(&out, 0);
	CHECK_EQ(run(&out, "--help"), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		CHECK_MSG(strstr(out.data, cmds[i]) != NULL, "%s not listed", cmds[i]);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		char a[64];
		snprintf(a, sizeof(a), "%s --help", cmds[i]);
		CHECK_EQ(run(&out, a), 0);
		CHECK_MSG(strncmp(out.data, "Usage: podprof ", 15) == 0, "%s", out.data);
	}
	CHECK_EQ(run(&out, "version"), 0);
	CHECK(strncmp(out.data, "podprof ", 8) == 0);
	buf_free(&out);
}

TEST(bad_input_exits_2_with_one_line)
{
	static const struct {
		const char *args, *env, *needle;
	} cases[] = {
		{"nosuchcommand", "", "unknown command"},
		{"node --no-such-flag", "", "--no-such-flag"},
		{"node --interval=soon", "", "--interval"},
		{"node --interval=0s", "", "between 1s and 1h0m0s"},
		{"node --profiles-endpoint=coroot:8080", "", "http:// or https://"},
		{"node", "GO_HEAP_PROFILER=sometimes", "GO_HEAP_PROFILER"},
		{"node --go-heap-profiler=on", "", "disabled, enabled, force"},
		{"node", "PODPROF_INTERVAL=10", "PODPROF_INTERVAL (environment)"},
		{"node --listen=localhost", "", "--listen"},
		{"heap", "", "PID"},
		{"heap abc", "", "PID"},
		{"heap 1 2", "", "PID"},
		{"ps extra", "", "unexpected argument"},
		{"upload file.pb.gz", "", "--service-name"},
		{"upload --service-name=x", "", "no FILE"},
		{"node --api-key", "", "needs a value"},
	};
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char cmd[1024];
		int r;
		snprintf(cmd, sizeof(cmd), "%s %s %s", cases[i].env, test_podprof_bin(),
			 cases[i].args);
		buf_reset(&out);
		r = test_sh(cmd, &out, 1);
		CHECK_MSG(r == 2, "'%s' exited %d: %s", cases[i].args, r, out.data);
		CHECK_MSG(lines(out.data) == 1, "'%s' printed %zu lines: %s", cases[i].args,
			  lines(out.data), out.data);
		CHECK_MSG(strstr(out.data, cases[i].needle) != NULL, "'%s': %s", cases[i].args,
			  out.data);
	}
	buf_free(&out);
}

TEST(secrets_are_not_echoed)
{
	struct buf out;
	buf_init(&out, 0);
	/* an API key that fails validation elsewhere is never printed back */
	CHECK_EQ(run(&out, "node --api-key=s3cr3t-key --interval=x"), 2);
	CHECK(strstr(out.data, "s3cr3t-key") == NULL);
	buf_free(&out);
}

TEST(readme_option_table_is_generated)
{
	struct buf readme, gen;
	char path[1024];
	const char *begin, *end;

	buf_init(&readme, 0);
	buf_init(&gen, 0);
	snprintf(path, sizeof(path), "%s/README.md", test_source_dir());
	CHECK(test_read_file(path, &readme) == 0);
	CHECK_EQ(run(&gen, "options-markdown"), 0);
	begin = strstr(readme.data, "<!-- options:begin");
	end = strstr(readme.data, "<!-- options:end -->");
	CHECK(begin && end);
	begin = strchr(begin, '\n') + 1;
	CHECK_MSG((size_t)(end - begin) == gen.len && memcmp(begin, gen.data, gen.len) == 0,
		  "README.md's option table differs from `podprof options-markdown`");
	buf_free(&readme);
	buf_free(&gen);
}
