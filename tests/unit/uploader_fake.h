/*
 * Helpers of the uploader's tests: the fake Coroot receiver (tests/tools/fake_coroot.py)
 * as a child process, what it recorded, test profiles that carry an id, and values
 * read from a Prometheus text exposition. Shared by the unit and integration tests.
 */
#ifndef PODPROF_TEST_UPLOADER_FAKE_H
#define PODPROF_TEST_UPLOADER_FAKE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

struct pprof_profile;

struct fake_coroot {
	pid_t pid;
	int port;
	char *dir;    /* test directory: receiver log, record dir */
	char *record; /* <dir>/rec */
	char url[128]; /* http://127.0.0.1:<port>/v1/profiles */
};

/* Calls curl_global_init once per process. */
void fake_global_init(void);

/* Prepares f with a fresh directory and a free port, without starting the receiver
 * (a "down" Coroot at f->url). */
void fake_prepare(struct fake_coroot *f, const char *tag);

/* Starts the receiver on f->port with extra arguments (NULL-terminated, may be NULL)
 * and waits until it listens. Returns 0 or a negative errno. */
int fake_start(struct fake_coroot *f, const char *const *extra);

/* Stops the receiver (if running). */
void fake_stop(struct fake_coroot *f);

/* Stops it and removes its directory. */
void fake_cleanup(struct fake_coroot *f);

/* GET /control?<query>. Returns the HTTP status. */
int fake_control(struct fake_coroot *f, const char *query);

/* A counter of GET /stats ("requests": POSTs seen, "accepted", ...), or -1. */
int fake_stat(struct fake_coroot *f, const char *name);

/* Parses requests.jsonl: a cJSON array of the accepted requests (caller frees),
 * empty when nothing was accepted, NULL on a parse error. */
cJSON *fake_requests(const struct fake_coroot *f);

/* Number of accepted requests recorded. */
int fake_count(const struct fake_coroot *f);

/* Waits until at least n requests were accepted. Returns 0 or -ETIMEDOUT. */
int fake_wait_count(const struct fake_coroot *f, int n, int timeout_ms);

/* Path of the recorded body of request r (malloc'd). */
char *fake_body_path(const struct fake_coroot *f, const cJSON *r);

/* A label or header of request r, or NULL. */
const char *fake_label(const cJSON *r, const char *name);
const char *fake_header(const cJSON *r, const char *name);

/* The id carried by the recorded body of request r (see test_profile), or -1. */
long fake_body_id(const struct fake_coroot *f, const cJSON *r);

/* A CPU-like profile with one sample type ("samples"/"count") and one sample whose
 * value is id (>= 1), under a function named after the id, so each is unique.
 * The caller frees it. */
struct pprof_profile *test_profile(long id);

/* The gzip pprof body of test_profile(id), appended to out. Returns 0 or -errno. */
int test_profile_body(long id, struct buf *out);

/* The id of a body made by test_profile_body (value of the first sample), or -1. */
long test_body_id(const void *body, size_t len);

/* A test_profile(id) with filler extra samples (distinct functions) to make it larger;
 * the first sample still carries the id. The caller frees it. */
struct pprof_profile *test_profile_sized(long id, int filler);

/* Writes test_profile_sized(id, filler) as <dir>/<id, 6 digits>.pb.gz for ids
 * from..to. Returns 0 or -errno. */
int test_write_profiles(const char *dir, long from, long to, int filler);

/* A field of /proc/<pid>/status in kB (VmRSS, VmHWM), or -1. */
long test_proc_kb(pid_t pid, const char *field);

/* From the last "stopped:" line of the uploader in a log text: the number of profiles
 * dropped for reason ("spool_full", ...; 0 when not listed), or -1 when there is no
 * such line. */
long test_log_dropped(const char *log, const char *reason);

/* Value of the sample line "series value" in a Prometheus exposition, where series is
 * the full name with labels exactly as rendered (e.g.
 * podprof_upload_dropped_total{reason="spool_full"}). Returns -1 when absent. */
double prom_value(const char *text, const char *series);

/* prom_value() over metrics_render(r). */
double registry_value(struct metrics_registry *r, const char *series);

#endif
