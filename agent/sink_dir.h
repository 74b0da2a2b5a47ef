/*
 * The directory sink: every profile as one gzip pprof file under the output directory,
 * <dir>/<service>/<UTC time>-<kind>-<seq>.pb.gz, so that a person finds a service's
 * profiles by name and time and `go tool pprof` opens them directly. Files appear
 * atomically (hidden temporary file, then a rename that never replaces an existing
 * file). The service name comes from pod metadata, so it is sanitised before it
 * becomes a directory name. Private to agent/.
 */
#ifndef PODPROF_SINK_DIR_H
#define PODPROF_SINK_DIR_H

#include <stddef.h>
#include <stdint.h>

struct sink_dir;

/* Longest service directory name; longer names are cut and get a hash suffix. */
#define SINK_DIR_SERVICE_MAX 100

/*
 * Creates the sink for dir (created with its parents if missing). Returns 0 or a
 * negative errno (logged with the path). The caller owns *out.
 */
int sink_dir_new(const char *dir, struct sink_dir **out);

/* Frees the sink; written files stay. NULL is ignored. */
void sink_dir_free(struct sink_dir *d);

/*
 * Writes body (len bytes) for service and kind at time_ns (wall clock). Returns 0 or a
 * negative errno (logged, once per minute). Thread-safe.
 */
int sink_dir_write(struct sink_dir *d, const char *service, const char *kind,
		   int64_t time_ns, const void *body, size_t len);

/* The directory name used for service: out receives at most SINK_DIR_SERVICE_MAX
 * bytes plus a NUL ("unknown" when nothing printable is left). Thread-safe. */
void sink_dir_service_name(const char *service, char *out, size_t outlen);

#endif
