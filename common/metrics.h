/*
 * The metrics registry: counters, gauges and histograms, exposed in the Prometheus
 * text format 0.0.4.
 *
 * A family (name, help, type, label names) is registered once; a series of it (one set
 * of label values) is looked up or created with metrics_series(), which takes the
 * family's lock. The returned handle is then updated with atomic operations only, so
 * threads on a hot path keep the handle and never lock. Rendering takes each family's
 * lock briefly to walk its series.
 */
#ifndef PODPROF_METRICS_H
#define PODPROF_METRICS_H

#include <stddef.h>

#include "buf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics_registry;
struct metric_family;
struct metric; /* one series: a family with one set of label values */

/* Creates an empty registry. Returns NULL on allocation failure. The caller owns it. */
struct metrics_registry *metrics_registry_new(void);
/* Frees the registry and every family and series in it; all handles become invalid. */
void metrics_registry_free(struct metrics_registry *r);

/*
 * Registers a family, or returns the existing one when name, type and label names are
 * the same. label_names has nlabels entries (may be 0). For a histogram, buckets holds
 * nbuckets strictly increasing upper bounds (the +Inf bucket is implicit); for other
 * types pass NULL, 0. Returns NULL on a conflicting re-registration, an invalid metric
 * or label name, or allocation failure. The registry owns the family. Thread-safe.
 */
struct metric_family *metrics_family(struct metrics_registry *r, enum metric_type type,
				     const char *name, const char *help,
				     const char *const *label_names, size_t nlabels,
				     const double *buckets, size_t nbuckets);

/*
 * Returns the series with these label values (nlabels of the family, NULL-free),
 * creating it at zero if needed. Returns NULL on allocation failure. The family owns
 * the series; the handle stays valid until metrics_series_remove() or the registry is
 * freed. Thread-safe.
 */
struct metric *metrics_series(struct metric_family *f, const char *const *label_values);

/*
 * Removes a series (it disappears from the exposition). The caller guarantees that no
 * other thread still uses its handle. Returns 0 or -ENOENT. Thread-safe.
 */
int metrics_series_remove(struct metric_family *f, const char *const *label_values);

/* Shorthands: a family without labels and its single series. */
struct metric *metrics_counter(struct metrics_registry *r, const char *name, const char *help);
struct metric *metrics_gauge(struct metrics_registry *r, const char *name, const char *help);
struct metric *metrics_histogram(struct metrics_registry *r, const char *name,
				 const char *help, const double *buckets, size_t nbuckets);

/* Lock-free updates. metric_add on a counter ignores negative values. NULL is ignored,
 * so that code paths with metrics disabled need no checks. */
void metric_add(struct metric *m, double v);
void metric_inc(struct metric *m);
void metric_set(struct metric *m, double v); /* gauges only */
void metric_observe(struct metric *m, double v); /* histograms only */

/* The current value (counter, gauge) or the sum of observations (histogram). */
double metric_value(const struct metric *m);
/* The number of observations of a histogram (0 for other types). */
unsigned long long metric_count(const struct metric *m);

/*
 * Sets the function called at the start of every metrics_render (for values read when
 * they are asked for, such as the process's own memory), replacing an earlier one
 * (whose collect_free is called). collect may run in several threads at once; it
 * updates its series with the functions above. collect_free (may be NULL) releases ctx
 * when the registry is freed. Call it before the registry is shared between threads.
 */
void metrics_on_render(struct metrics_registry *r, void (*collect)(void *ctx),
		       void (*collect_free)(void *ctx), void *ctx);

/*
 * Appends the whole registry to out in the Prometheus text format 0.0.4: families in
 * registration order, each with HELP and TYPE lines, label values escaped (backslash,
 * double quote, newline). Returns 0 or a negative errno from the buffer. Thread-safe.
 */
int metrics_render(struct metrics_registry *r, struct buf *out);

/* Seconds buckets suited to durations from 1 ms to 2 min. */
extern const double metrics_duration_buckets[];
extern const size_t metrics_duration_buckets_len;

#endif
