/*
 * The uploader's metrics (see uploader_metrics.h).
 */
#define LOG_MODULE "uploader"
#include "uploader_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DROP_LOG_INTERVAL_NS (60 * NS_PER_SEC)

static const char *const reason_names[UPLOAD_DROP_NREASONS] = {
	"queue_full", "spool_full", "spool_error", "rejected",
	"too_large",  "shutdown",   "invalid",     "write_error",
};

static const char *const reason_help[UPLOAD_DROP_NREASONS] = {
	"the memory queue is full (queue-max-bytes) and there is no spool; the oldest go first",
	"the spool is full (spool-max-bytes); the oldest go first",
	"a spool file could not be written, or was corrupt when read back",
	"Coroot rejected them (HTTP 400 or another final 4xx)",
	"Coroot found them too large (HTTP 413)",
	"they were still queued at shutdown and there is no spool",
	"invalid metadata or profile, or out of memory",
	"the output directory could not be written",
};

static const char *const sink_names[UPLOAD_SINK_N] = {"coroot", "directory"};
static const char *const result_names[UPLOAD_RESULT_N] = {"success", "retry", "dropped"};

const char *uploader_drop_reason_name(enum upload_drop_reason reason)
{
	return reason_names[reason];
}

void uploader_metrics_init(struct uploader_metrics *m, struct metrics_registry *r)
{
	static const char *const sink_result[] = {"sink", "result"};
	static const char *const reason[] = {"reason"};
	struct metric_family *uploads, *bytes, *dropped;

	memset(m, 0, sizeof(*m));
	if (!r)
		return;
	uploads = metrics_family(r, METRIC_COUNTER, "podprof_uploads_total",
				 "Profiles handled by the uploader's sinks, by outcome of the "
				 "attempt (retry: will be sent again)",
				 sink_result, 2, NULL, 0);
	bytes = metrics_family(r, METRIC_COUNTER, "podprof_upload_bytes_total",
			       "Bytes of gzip pprof handled by the uploader's sinks, by outcome",
			       sink_result, 2, NULL, 0);
	dropped = metrics_family(r, METRIC_COUNTER, "podprof_upload_dropped_total",
				 "Profiles the uploader gave up on, by reason", reason, 1, NULL, 0);
	for (int s = 0; s < UPLOAD_SINK_N; s++) {
		for (int res = 0; res < UPLOAD_RESULT_N; res++) {
			const char *v[] = {sink_names[s], result_names[res]};

			if (s == UPLOAD_SINK_DIRECTORY && res == UPLOAD_RESULT_RETRY)
				continue; /* a file write is not retried */
			if (uploads)
				m->uploads[s][res] = metrics_series(uploads, v);
			if (bytes)
				m->bytes[s][res] = metrics_series(bytes, v);
		}
	}
	for (int i = 0; dropped && i < UPLOAD_DROP_NREASONS; i++) {
		const char *v[] = {reason_names[i]};
		m->dropped[i] = metrics_series(dropped, v);
	}
	m->queue_length = metrics_gauge(r, "podprof_upload_queue_length",
					"Profiles waiting in the uploader's memory queue");
	m->queue_bytes = metrics_gauge(r, "podprof_upload_queue_bytes",
				       "Bytes held by the uploader's memory queue");
	m->spool_files = metrics_gauge(r, "podprof_upload_spool_files",
				       "Profiles waiting in the on-disk spool");
	m->spool_bytes = metrics_gauge(r, "podprof_upload_spool_bytes",
				       "Bytes of the on-disk spool");
	m->spool_unsynced = metrics_gauge(r, "podprof_upload_spool_unsynced_files",
					  "Spool files not yet fsynced: they survive a restart of "
					  "podprof, not yet a crash of the node");
	m->retries = metrics_counter(r, "podprof_upload_retries_total",
				     "Upload attempts that failed and will be retried");
	m->duration = metrics_histogram(r, "podprof_upload_duration_seconds",
					"Duration of upload requests to Coroot",
					metrics_duration_buckets, metrics_duration_buckets_len);
}

void uploader_metrics_dropped(struct uploader_metrics *m, enum upload_drop_reason reason,
			      enum upload_sink sink, uint64_t n, uint64_t bytes)
{
	if (n == 0)
		return;
	metric_add(m->dropped[reason], (double)n);
	metric_add(m->uploads[sink][UPLOAD_RESULT_DROPPED], (double)n);
	metric_add(m->bytes[sink][UPLOAD_RESULT_DROPPED], (double)bytes);
	m->dropped_total[reason] += n;
	m->unlogged[reason] += n;
	if (!log_ratelimit_allow(&m->rl[reason], DROP_LOG_INTERVAL_NS))
		return;
	log_warn("dropped %" PRIu64 " profiles (%s): %s", m->unlogged[reason],
		 reason_names[reason], reason_help[reason]);
	m->unlogged[reason] = 0;
}

void uploader_metrics_result(struct uploader_metrics *m, enum upload_result result,
			     size_t bytes, double seconds)
{
	metric_inc(m->uploads[UPLOAD_SINK_COROOT][result]);
	metric_add(m->bytes[UPLOAD_SINK_COROOT][result], (double)bytes);
	if (result == UPLOAD_RESULT_RETRY)
		metric_inc(m->retries);
	metric_observe(m->duration, seconds);
}

void uploader_metrics_observe(struct uploader_metrics *m, double seconds)
{
	metric_observe(m->duration, seconds);
}

void uploader_metrics_written(struct uploader_metrics *m, size_t bytes)
{
	metric_inc(m->uploads[UPLOAD_SINK_DIRECTORY][UPLOAD_RESULT_SUCCESS]);
	metric_add(m->bytes[UPLOAD_SINK_DIRECTORY][UPLOAD_RESULT_SUCCESS], (double)bytes);
}

void uploader_metrics_drop_summary(struct uploader_metrics *m, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < UPLOAD_DROP_NREASONS; i++) {
		int w;

		if (!m->dropped_total[i])
			continue;
		w = snprintf(out + n, outlen - n, "%s%s=%" PRIu64, n ? ", " : " (",
			     reason_names[i], m->dropped_total[i]);
		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
		m->unlogged[i] = 0;
	}
	if (n && n + 2 <= outlen)
		memcpy(out + n, ")", 2);
}
