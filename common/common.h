/*
 * podprof's shared foundations, the public header of common/: logging, the bounded
 * buffer, the list type, hashing, clocks and durations, varints, and the metrics
 * registry.
 * Every other folder includes this header and nothing else from common/.
 */
#ifndef PODPROF_COMMON_H
#define PODPROF_COMMON_H

#include "buf.h"
#include "hash.h"
#include "list.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"
#include "varint.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
