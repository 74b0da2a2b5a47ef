/*
 * The uploader's metrics and drop accounting: the podprof_upload* series (all series
 * of the fixed label sets are created at start, so that a dashboard sees zeros rather
 * than nothing), per-reason drop totals, and the once-per-minute log line that says
 * how many profiles a bound forced out. Private to agent/. Not thread-safe: the
 * uploader calls it under its own mutex (metric updates themselves are atomic).
 */
#ifndef PODPROF_UPLOADER_METRICS_H
#define PODPROF_UPLOADER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

enum upload_drop_reason {
	UPLOAD_DROP_QUEUE_FULL,  /* memory bound, no spool */
	UPLOAD_DROP_SPOOL_FULL,  /* spool bound */
	UPLOAD_DROP_SPOOL_ERROR, /* spool file not writable, or corrupt when read back */
	UPLOAD_DROP_REJECTED,    /* Coroot answered 400 or another final 4xx */
	UPLOAD_DROP_TOO_LARGE,   /* Coroot answered 413 */
	UPLOAD_DROP_SHUTDOWN,    /* queued at shutdown without a spool */
	UPLOAD_DROP_INVALID,     /* bad metadata, encoding failure, out of memory */
	UPLOAD_DROP_WRITE_ERROR, /* the output directory could not be written */
	UPLOAD_DROP_NREASONS
};

enum upload_sink { UPLOAD_SINK_COROOT, UPLOAD_SINK_DIRECTORY, UPLOAD_SINK_N };

enum upload_result { UPLOAD_RESULT_SUCCESS, UPLOAD_RESULT_RETRY, UPLOAD_RESULT_DROPPED,
		     UPLOAD_RESULT_N };

struct uploader_metrics {
	struct metric *uploads[UPLOAD_SINK_N][UPLOAD_RESULT_N];
	struct metric *bytes[UPLOAD_SINK_N][UPLOAD_RESULT_N];
	struct metric *dropped[UPLOAD_DROP_NREASONS];
	struct metric *queue_length, *queue_bytes, *spool_files, *spool_bytes, *spool_unsynced;
	struct metric *retries, *duration;
	uint64_t dropped_total[UPLOAD_DROP_NREASONS];
	uint64_t unlogged[UPLOAD_DROP_NREASONS]; /* drops not yet in a log line */
	struct log_ratelimit rl[UPLOAD_DROP_NREASONS];
};

/* The label value of a drop reason ("queue_full", ...). */
const char *uploader_drop_reason_name(enum upload_drop_reason reason);

/* Registers the families in r (NULL: metrics off, the handles stay NULL) and zeroes
 * the counts. */
void uploader_metrics_init(struct uploader_metrics *m, struct metrics_registry *r);

/* Counts n profiles (bytes in total) dropped for reason from sink, and logs it at
 * most once per minute per reason with the count since the last line. */
void uploader_metrics_dropped(struct uploader_metrics *m, enum upload_drop_reason reason,
			      enum upload_sink sink, uint64_t n, uint64_t bytes);

/* Counts one HTTP attempt that succeeded or will be retried, with its duration. */
void uploader_metrics_result(struct uploader_metrics *m, enum upload_result result,
			     size_t bytes, double seconds);

/* Observes the duration of an attempt whose profile is dropped. */
void uploader_metrics_observe(struct uploader_metrics *m, double seconds);

/* Counts one file written by the directory sink. */
void uploader_metrics_written(struct uploader_metrics *m, size_t bytes);

/* Writes " (reason=n, ...)" for the reasons with drops, or "" when none, to out, and
 * logs nothing further for the drops it reports. */
void uploader_metrics_drop_summary(struct uploader_metrics *m, char *out, size_t outlen);

#endif
