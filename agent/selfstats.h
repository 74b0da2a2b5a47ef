/*
 * podprof's own resource use as metrics (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds, ... and the allocator's figures),
 * read when /metrics is rendered.
 */
#ifndef PODPROF_SELFSTATS_H
#define PODPROF_SELFSTATS_H

#include "metrics.h"

struct selfstats_values {
	double cpu_seconds, start_seconds;
	double resident_bytes, virtual_bytes;
	double open_fds, max_fds; /* max_fds -1: unlimited */
	double threads;
	double heap_in_use_bytes, heap_system_bytes;
};

/* Reads the figures of the process whose /proc directory is proc_self ("/proc/self");
 * the allocator's are always this process's. Returns 0 or -errno. */
int selfstats_read(const char *proc_self, struct selfstats_values *v);

/* Registers the series in m, updated at every rendering. proc_self (NULL:
 * "/proc/self") must outlive m. Returns 0 or -ENOMEM. */
int selfstats_register(struct metrics_registry *m, const char *proc_self);

#endif
