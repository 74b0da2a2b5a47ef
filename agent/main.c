/*
 * podprof's entry point: dispatches to a command (see `podprof --help`).
 */
#define LOG_MODULE "main"
#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

extern char **environ;

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, char **envp);
	const char *summary;
} commands[] = {
	{"cluster", cmd_cluster, "run the cluster role: scrape the pprof endpoints of annotated pods"},
	{"node", cmd_node, "run the node role: heap profiles of every Go process on this node"},
	{"heap", cmd_heap, "write one Go process's heap profile (PID) as a pprof file"},
	{"ps", cmd_ps, "list the Go processes the node role would profile"},
	{"upload", cmd_upload, "upload pprof files to Coroot (or a directory), with retries"},
	{"targets", cmd_targets, "list the pprof targets the cluster role would scrape"},
};

static void usage(FILE *f)
{
	fprintf(f, "podprof %s: a Kubernetes profiling agent for Go services\n\n"
		   "Usage: podprof COMMAND [options]\n\nCommands:\n",
		PODPROF_VERSION);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n", "version", "print the version");
	fprintf(f, "\nRun 'podprof COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	int status;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("podprof %s\n", PODPROF_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "options-markdown") == 0) {
		/* the README's option table is generated from the option table */
		struct buf out;
		buf_init(&out, 0);
		status = config_markdown(&out) ? 1 : 0;
		if (!status)
			fputs(out.data, stdout);
		buf_free(&out);
		return status;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		/*
		 * glibc gives every thread that allocates its own arena (up to 8 per core),
		 * and memory freed in one is not reused by another: with the scraper's
		 * workers decoding large profiles that fragmentation, not the data, set the
		 * agent's peak RSS. Two arenas are plenty for podprof's few threads.
		 * And buffers from 1 MiB up are mapped on their own, whatever was freed
		 * before: glibc raises that threshold (to 32 MiB) each time such a buffer is
		 * freed, after which the large responses of the scraper came from the arenas
		 * and stayed resident once freed, up to half again over the budget that
		 * bounds them (tests/integration/scrape_memory.c). Fixing it ends glibc's
		 * adjustments, which also kept the free memory on top of an arena up to
		 * twice the threshold: kept so here (2 MiB), or the scraper's everyday
		 * profiles, freed and allocated again, would give pages back and fault them
		 * in again; tests/bench/scrape.c shows the same CPU per profile either way.
		 */
		mallopt(M_ARENA_MAX, 2);
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
		mallopt(M_TRIM_THRESHOLD, 2 << 20);
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
			fprintf(stderr, "podprof: libcurl initialisation failed\n");
			return 1;
		}
		commands_install_signals();
		status = commands[i].run(argc - 1, argv + 1, environ);
		curl_global_cleanup();
		return status;
	}
	fprintf(stderr, "podprof: unknown command '%s' (see podprof --help)\n", argv[1]);
	return 2;
}
