/*
 * The in-memory layout of a struct pprof_profile, private to pprof/.
 *
 * Every table is a flat array kept in a struct buf (the project's one growable buffer),
 * so a profile with a million samples is a dozen allocations, a deep copy is a dozen
 * memcpy calls, and nothing points into anything else. References are ids that are
 * always the referenced row's index + 1 (0 = none): the decoder renumbers whatever ids
 * the input used, after checking them, so no lookup table is needed after decoding and
 * the encoder writes index + 1 back as the id. Strings are indexes into the string
 * table as in the protobuf; string 0 is always "".
 *
 * Sample i owns values[i * ntypes .. (i + 1) * ntypes); its location ids and labels are
 * runs in locids and labels found through its offsets, so samples can be dropped or
 * merged by compacting the samples and values arrays alone (unreferenced runs are
 * harmless: nothing walks locids or labels except through a sample).
 */
#ifndef PODPROF_PPROF_PROFILE_H
#define PODPROF_PPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pprof.h"

struct pp_vtype {
	int64_t type, unit; /* string indexes */
};

struct pp_sample {
	size_t loc_off;   /* first location id in locids */
	size_t label_off; /* first label in labels */
	uint32_t nlocs, nlabels;
};

struct pp_label {
	int64_t key, str, num, num_unit; /* key, str, num_unit: string indexes */
};

struct pp_mapping {
	uint64_t memory_start, memory_limit, file_offset;
	int64_t filename, build_id;
	uint8_t has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pp_location {
	uint64_t mapping_id; /* 0 = none */
	uint64_t address;
	size_t line_off; /* first line in lines */
	uint32_t nlines;
	uint8_t is_folded;
};

struct pp_line {
	uint64_t function_id; /* never 0 */
	int64_t line, column;
};

struct pp_function {
	int64_t name, system_name, filename, start_line;
};

struct pprof_profile {
	struct buf strdata;   /* strings back to back, each NUL-terminated */
	struct buf stroff;    /* size_t: offset of string i in strdata */
	struct buf types;     /* struct pp_vtype, one per value */
	struct buf samples;   /* struct pp_sample */
	struct buf values;    /* int64_t: types count per sample, in sample order */
	struct buf locids;    /* uint64_t: location ids of the samples, leaf first */
	struct buf labels;    /* struct pp_label */
	struct buf mappings;  /* struct pp_mapping */
	struct buf locations; /* struct pp_location */
	struct buf lines;     /* struct pp_line */
	struct buf functions; /* struct pp_function */
	struct buf comments;  /* int64_t: string indexes */
	struct pp_vtype period_type;
	int64_t period, time_nanos, duration_nanos;
	int64_t drop_frames, keep_frames, default_sample_type; /* string indexes */
};

/* Row count and row i of a table. */
#define PP_COUNT(b, type) ((b)->len / sizeof(type))
#define PP_ROWS(b, type) ((type *)(void *)(b)->data)
#define PP_ROW(b, type, i) (&PP_ROWS(b, type)[i])

static inline size_t pp_nstrings(const struct pprof_profile *p)
{
	return PP_COUNT(&p->stroff, size_t);
}

static inline size_t pp_ntypes(const struct pprof_profile *p)
{
	return PP_COUNT(&p->types, struct pp_vtype);
}

static inline size_t pp_nsamples(const struct pprof_profile *p)
{
	return PP_COUNT(&p->samples, struct pp_sample);
}

/* String idx of p; idx must be in range (every stored index is). */
static inline const char *pp_str(const struct pprof_profile *p, int64_t idx)
{
	return p->strdata.data + PP_ROWS(&p->stroff, size_t)[idx];
}

/* Values of sample i. */
static inline int64_t *pp_values(const struct pprof_profile *p, size_t i)
{
	return PP_ROWS(&p->values, int64_t) + i * pp_ntypes(p);
}

/* Creates a profile holding only the string "", its tables drawing from pool (may be
 * NULL). Returns NULL on allocation failure. */
struct pprof_profile *pprof_profile_alloc(struct buf_pool *pool);

/* Appends s (len bytes, no NUL inside) to the string table without deduplication.
 * Returns its index or a negative errno. */
int64_t pprof_profile_add_string(struct pprof_profile *p, const char *s, size_t len);

/* Appends a row of size bytes to a table; -ENOMEM on failure, table unchanged. Rows are
 * appended by the hundred thousand when a profile is decoded or split: the common case
 * (room left) is a copy, and only growth goes through buf_append. */
static inline int pp_push(struct buf *table, const void *row, size_t size)
{
	if (table->data && table->cap - table->len > size) {
		memcpy(table->data + table->len, row, size);
		table->len += size;
		table->data[table->len] = '\0';
		return 0;
	}
	return buf_append(table, row, size);
}

/* The profile under construction in b (its tables: strings, functions, locations,
 * mappings, sample types), owned by b. */
struct pprof_profile *pprof_builder_table(struct pprof_builder *b);

/* Keeps the samples i with keep[i] non-zero, in order (their values move along). */
void pprof_profile_keep_samples(struct pprof_profile *p, const unsigned char *keep);

/*
 * Creates a new profile with the samples i of src for which keep[i] is non-zero and the
 * value columns listed in cols (ncols of them, in that order; they become the sample
 * types), copying only the locations, functions, mappings and strings those samples and
 * the profile's header fields reference. The caller owns *out.
 */
int pprof_profile_subset(const struct pprof_profile *src, const unsigned char *keep,
			 const size_t *cols, size_t ncols, struct pprof_profile **out);

#endif
