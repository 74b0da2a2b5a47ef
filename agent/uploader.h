/*
 * The uploader: one queue, many producers, and the sinks that profiles go to.
 *
 * Producers (the node profiler, the scraper) hand over finished profiles; the uploader
 * writes them to the output directory (if any) at once and delivers them to Coroot's
 * POST /v1/profiles (if an endpoint is set) from its own thread, in order, oldest
 * first. While Coroot is unreachable the queue is kept in memory up to a bound and then
 * overflows, oldest first, to an on-disk spool that survives a restart. Nothing
 * accepted is lost silently: what a bound forces out is counted in
 * podprof_upload_dropped_total{reason} and logged once per minute.
 */
#ifndef PODPROF_UPLOADER_H
#define PODPROF_UPLOADER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct pprof_profile;
struct uploader;

struct uploader_config {
	const char *endpoint;       /* full URL of /v1/profiles, or NULL for no HTTP sink */
	const char *api_key;        /* X-Api-Key header when non-empty; never logged */
	const char *ca_file;        /* extra CA bundle for https endpoints, or NULL */
	int insecure_skip_verify;   /* disables TLS verification (logged at start) */
	int64_t timeout_ns;         /* per request; default 10 s */
	const char *output_dir;     /* directory sink, or NULL */
	const char *spool_dir;      /* on-disk overflow, or NULL for memory only */
	uint64_t spool_max_bytes;   /* bound of the spool (default 256 MiB) */
	uint64_t queue_max_bytes;   /* bound of the in-memory queue (default 8 MiB) */
	int64_t backoff_min_ns;     /* first retry delay (default 500 ms) */
	int64_t backoff_max_ns;     /* longest retry delay (default 5 min) */
	struct metrics_registry *metrics; /* where podprof_upload_* metrics go; may be NULL */
};

struct upload_label {
	const char *name;
	const char *value;
};

/* What travels with a profile besides its bytes. */
struct upload_meta {
	const char *service_name;         /* required, non-empty */
	const char *kind;                 /* short profile kind for file names: "heap", "cpu" */
	const struct upload_label *labels; /* sent as query parameters */
	size_t nlabels;
	int64_t time_ns;                  /* end of the profile's window; 0 = now */
};

/*
 * Creates the uploader and starts its thread (named "uploader"). Profiles left in the
 * spool by an earlier run are queued first. Returns 0 or a negative errno (-EINVAL for
 * an invalid configuration, with a log line naming the setting). The caller owns *out.
 */
int uploader_new(const struct uploader_config *cfg, struct uploader **out);

/*
 * Submits a profile: splits it so that no uploaded sample carries a zero value for any
 * sample type (pprof_split_nonzero), encodes each part as gzip pprof and queues it.
 * p is not taken over. Returns 0 (including when nothing was left to upload) or a
 * negative errno (the profile is then counted as dropped). Thread-safe; never blocks
 * on the network.
 */
int uploader_submit_profile(struct uploader *u, const struct upload_meta *meta,
			    const struct pprof_profile *p);

/*
 * Submits an already encoded gzip pprof body that holds no zero samples (as produced by
 * uploader_submit_profile's split). The bytes are copied. Thread-safe.
 */
int uploader_submit(struct uploader *u, const struct upload_meta *meta, const void *body,
		    size_t len);

/*
 * Waits until every profile queued so far has been delivered or dropped, or until
 * timeout_ns passes. Returns 0, or -ETIMEDOUT with profiles still pending (they stay
 * queued). Thread-safe.
 */
int uploader_flush(struct uploader *u, int64_t timeout_ns);

/* Number of profiles waiting (memory queue + spool). Thread-safe. */
size_t uploader_pending(struct uploader *u);

/* Counts since uploader_new(), for summaries at exit. */
struct uploader_stats {
	uint64_t submitted; /* profiles accepted (after splitting) */
	uint64_t delivered; /* accepted by the HTTP sink */
	uint64_t written;   /* written by the directory sink */
	uint64_t dropped;   /* dropped for any reason */
	uint64_t pending;   /* still queued in memory or the spool */
};
/* Fills *st. Thread-safe. */
void uploader_get_stats(struct uploader *u, struct uploader_stats *st);

/*
 * Stops the thread (aborting a transfer in progress) and empties the memory queue:
 * into the spool when there is one, else counted as dropped with reason "shutdown".
 * Logs one summary line (delivered, dropped by reason, left in the spool). Afterwards
 * uploader_get_stats() gives the final counts (read them after this call so that the
 * shutdown's own drops are included); a later submit still writes the output
 * directory, and its HTTP copy goes straight to the spool (or is dropped, "shutdown").
 * Idempotent; uploader_free() calls it. Not to be called concurrently with itself or
 * uploader_free().
 */
void uploader_stop(struct uploader *u);

/*
 * Stops the thread and frees the uploader. Profiles still queued in memory are written
 * to the spool when there is one (delivered after the next start), else counted as
 * dropped with reason "shutdown".
 */
void uploader_free(struct uploader *u);

#endif
