/*
 * pprof: the profile data model of podprof, the public header of pprof/.
 *
 * A struct pprof_profile is a profile in the public pprof schema (profile.proto),
 * either built here with a struct pprof_builder or decoded from bytes received from
 * outside. Decoding validates every index, so code that walks a decoded profile never
 * follows a dangling reference. On top of the model: gzip with a hard cap on the
 * decompressed size, the delta of cumulative profiles (for scraped heap/block/mutex),
 * renaming of sample types (for Coroot's type names) and the split of a profile into
 * uploadable parts without zero samples.
 *
 * Unless said otherwise, functions return 0 or a negative errno, objects are owned by
 * whoever created them, and an object may be used by one thread at a time.
 */
#ifndef PODPROF_PPROF_H
#define PODPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct pprof_profile;
struct pprof_builder;
struct pprof_delta;

/* Bounds applied when decoding input from outside. */
struct pprof_limits {
	size_t max_compressed;   /* bytes of gzip input */
	size_t max_decompressed; /* bytes of protobuf after gunzip */
	size_t max_samples;
	size_t max_locations;    /* also bounds mappings */
	size_t max_functions;
	size_t max_strings;
	size_t max_stack_depth;  /* locations in one sample, lines in one location */
	size_t max_values;       /* sample types (values per sample) */
	/* Where the memory of the decompressed bytes, the decode's work and the decoded
	 * profile's tables is accounted (NULL: nowhere); the profile's tables give theirs
	 * back when it is freed, so the pool must outlive the profile. A refusal fails the
	 * decode with the pool's error. */
	struct buf_pool *pool;
};

/* Defaults that fit any real Go profile: 16 MiB compressed, 64 MiB decompressed,
 * 1M samples/locations/functions/strings, 1024 frames deep, 16 sample types. */
extern const struct pprof_limits pprof_default_limits;

/* ---- building ---------------------------------------------------------------------- */

struct pprof_line {
	uint64_t function_id; /* from pprof_builder_function() */
	int64_t line;
};

struct pprof_mapping_info {
	uint64_t memory_start, memory_limit, file_offset;
	const char *filename; /* may be NULL */
	const char *build_id; /* may be NULL */
	int has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

/* A sample label: a string label when str is non-NULL, else a numeric one (num, with
 * an optional num_unit such as "bytes"). */
struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

/* Creates an empty builder (string 0 is ""). Returns NULL on allocation failure. */
struct pprof_builder *pprof_builder_new(void);
void pprof_builder_free(struct pprof_builder *b);

/* Interns s (deduplicated) and returns its index, or a negative errno. */
int64_t pprof_builder_string(struct pprof_builder *b, const char *s);
/* Appends a sample type (type/unit, e.g. "alloc_space"/"bytes"). Order = value order. */
int pprof_builder_add_sample_type(struct pprof_builder *b, const char *type, const char *unit);
int pprof_builder_set_period(struct pprof_builder *b, const char *type, const char *unit,
			     int64_t period);
int pprof_builder_set_default_sample_type(struct pprof_builder *b, const char *type);
void pprof_builder_set_time(struct pprof_builder *b, int64_t time_ns, int64_t duration_ns);
int pprof_builder_add_comment(struct pprof_builder *b, const char *comment);

/* Adds a mapping; returns its id (>= 1), or 0 on allocation failure. */
uint64_t pprof_builder_mapping(struct pprof_builder *b, const struct pprof_mapping_info *m);
/* Returns the id (>= 1) of the function with these fields, adding it if new; 0 on
 * allocation failure. system_name and filename may be NULL. */
uint64_t pprof_builder_function(struct pprof_builder *b, const char *name,
				const char *system_name, const char *filename, int64_t start_line);
/* Returns the id (>= 1) of the location (mapping_id 0 = none, address, lines innermost
 * first), adding it if no identical one exists; 0 on allocation failure. */
uint64_t pprof_builder_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
				const struct pprof_line *lines, size_t nlines);
/* Appends a sample: location ids leaf first, one value per sample type, labels. */
int pprof_builder_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nlocs,
			     const int64_t *values, size_t nvalues,
			     const struct pprof_label *labels, size_t nlabels);
/* Turns the builder's content into a profile, which the caller owns. The builder stays
 * valid (and may be freed). */
int pprof_builder_finish(struct pprof_builder *b, struct pprof_profile **out);

/* ---- streaming ---------------------------------------------------------------------- */

/* Sample types one stream writes at most, and labels per streamed sample. */
#define PPROF_STREAM_MAX_TYPES 16
#define PPROF_STREAM_MAX_LABELS 16

struct pprof_stream;

/*
 * Starts writing the profile being built in b as protobuf (gzip-compressed when gzip is
 * non-zero) appended to out, with the samples written as they are added instead of
 * kept: memory is b's tables (strings, functions, locations, mappings) and the
 * compressor's state, whatever the number of samples. The profile's sample types are
 * b's types listed in cols (ncols of them, in that order; cols NULL: all of b's), so
 * that several streams over one builder, each with its own out, write parts of one
 * profile in one pass. b's sample types must be set before; its other header fields
 * (period, time, comments, mappings) may be set until pprof_stream_finish. b must
 * outlive the stream. The bytes are those pprof_encode writes for the same profile.
 * Returns 0, -EINVAL (a column b does not have, more than PPROF_STREAM_MAX_TYPES) or
 * -ENOMEM; the caller owns *s.
 */
int pprof_stream_new(struct pprof_builder *b, const size_t *cols, size_t ncols, int gzip,
		     struct buf *out, struct pprof_stream **s);
/* Writes a sample: location ids of b, leaf first; values, one per sample type of b (the
 * stream takes its columns); labels. A sample whose values are zero in every column of
 * the stream is left out (and 0 returned). -EINVAL for an unknown location id or more
 * than PPROF_STREAM_MAX_LABELS labels; -E2BIG past out's bound, -ENOMEM: the stream
 * then fails for good. */
int pprof_stream_add_sample(struct pprof_stream *s, const uint64_t *location_ids, size_t nlocs,
			    const int64_t *values, const struct pprof_label *labels,
			    size_t nlabels);
/* Samples written so far. */
size_t pprof_stream_sample_count(const struct pprof_stream *s);
/* Writes b's tables and header fields and ends the stream: out then holds the whole
 * profile. Returns 0 or the stream's error. */
int pprof_stream_finish(struct pprof_stream *s);
/* Frees the stream. One that did not finish takes back what it appended to out. */
void pprof_stream_free(struct pprof_stream *s);

/* ---- decoding and encoding --------------------------------------------------------- */

/*
 * Decodes a pprof profile, gzip-compressed or not (detected by the magic bytes), within
 * lim (NULL = pprof_default_limits). Every id and string index is checked; errors:
 * -E2BIG (a limit, or decoding would take more than 16 times the protobuf's size in
 * memory, at most 1 GiB), -EBADMSG (not gzip/protobuf: truncated, a known field with a
 * wrong wire type, a group, a varint past 64 bits), -EPROTO (a reference to a missing
 * location/function/mapping/string, a duplicate or zero id, a sample with a wrong number
 * of values, a negative value where none is allowed). Time and memory are linear in len
 * whatever the input. On success the caller owns *out. Thread-safe.
 */
int pprof_decode(const void *data, size_t len, const struct pprof_limits *lim,
		 struct pprof_profile **out);

/* Serialises p as protobuf, gzip-compressed when gzip is non-zero, appending to out;
 * on error (-E2BIG past out's bound, -ENOMEM) out is left as it was. */
int pprof_encode(const struct pprof_profile *p, int gzip, struct buf *out);

/* Deep copy. Returns NULL on allocation failure. */
struct pprof_profile *pprof_profile_dup(const struct pprof_profile *p);
void pprof_profile_free(struct pprof_profile *p);

/* ---- reading ----------------------------------------------------------------------- */

size_t pprof_sample_type_count(const struct pprof_profile *p);
/* Type and unit strings of sample type i (owned by p). */
const char *pprof_sample_type(const struct pprof_profile *p, size_t i, const char **unit);
size_t pprof_sample_count(const struct pprof_profile *p);
/* Values of sample i (pprof_sample_type_count() of them, owned by p). */
const int64_t *pprof_sample_values(const struct pprof_profile *p, size_t i);
/* Sum over all samples of value i. */
int64_t pprof_value_total(const struct pprof_profile *p, size_t value_index);
int64_t pprof_time_ns(const struct pprof_profile *p);
int64_t pprof_duration_ns(const struct pprof_profile *p);
int64_t pprof_period(const struct pprof_profile *p);

/* Calls fn for every frame of sample i, leaf first, each Line of each Location in
 * order (inlined frames innermost first); a Location without lines is one frame with
 * function and file "" and line 0. Stops early when fn returns non-zero, and returns
 * that value (-EINVAL when there is no sample i). Strings are owned by p. */
typedef int (*pprof_frame_fn)(void *ctx, const char *function, const char *file,
			      int64_t line, uint64_t address);
int pprof_sample_frames(const struct pprof_profile *p, size_t i, pprof_frame_fn fn, void *ctx);

/* ---- transforming ------------------------------------------------------------------ */

void pprof_set_time(struct pprof_profile *p, int64_t time_ns, int64_t duration_ns);

/* One renaming: sample type from/unit -> to (to may be "" to blank the type). */
struct pprof_rename {
	const char *from_type;
	const char *from_unit; /* NULL matches any unit */
	const char *to_type;
};
/* Renames sample types per map (first match wins); types without a match keep their
 * name when keep_unmatched, else become "". */
int pprof_rename_sample_types(struct pprof_profile *p, const struct pprof_rename *map,
			      size_t n, int keep_unmatched);

/*
 * Splits p into the profiles to upload so that no uploaded sample has a zero value for
 * any named sample type (Coroot stores a row per sample and type): sample types whose
 * values are zero for exactly the same samples go to one part (heap: alloc_* in one,
 * inuse_* in another), types with an empty name join the first part, samples that are
 * zero in every type of a part are left out of it, and a part with no sample is not
 * produced. *out receives *n new profiles (possibly 0), owned by the caller along with
 * the array (free each with pprof_profile_free, then free(*out)).
 */
int pprof_split_nonzero(const struct pprof_profile *p, struct pprof_profile ***out, size_t *n);

/* ---- gzip -------------------------------------------------------------------------- */

/* Appends the gzip compression of in to out. */
int pprof_gzip(const void *in, size_t len, struct buf *out);
/* Appends the decompression of gzip data in to out; -E2BIG when it would exceed
 * max_out bytes (a gzip bomb), -EBADMSG when corrupt or truncated. */
int pprof_gunzip(const void *in, size_t len, size_t max_out, struct buf *out);
/* Non-zero when data starts with the gzip magic. */
int pprof_is_gzip(const void *data, size_t len);

/* ---- deltas of cumulative profiles -------------------------------------------------- */

enum pprof_delta_result {
	PPROF_DELTA_OK = 0,       /* p holds the delta since the previous profile */
	PPROF_DELTA_BASELINE = 1, /* first profile: remembered; cumulative values zeroed */
	PPROF_DELTA_RESET = 2,    /* a value went down: the source restarted; p holds the
				     current values (all counted since the restart) */
};

/* Cumulative values per sample the delta state keeps at most. */
#define PPROF_MAX_CUMULATIVE 16

/* Creates empty delta state for one source (one target and profile type). */
struct pprof_delta *pprof_delta_new(void);
void pprof_delta_free(struct pprof_delta *d);

/*
 * Turns p, the latest cumulative profile of a source, into the change since the
 * previous one. Samples are keyed by their full symbolized stack (function, file and
 * line of every frame) and their labels; samples with the same key are merged first by
 * adding every value. Value i is cumulative when cumulative[i] is non-zero (ncumulative
 * entries; missing entries count as not cumulative); other values stay absolute.
 * Returns a non-negative enum pprof_delta_result or a negative errno. A profile whose
 * sample types (or cumulative flags) differ from the previous one's restarts the
 * baseline (PPROF_DELTA_RESET). On error the state is unchanged and p may have had its
 * duplicate samples merged.
 */
int pprof_delta_apply(struct pprof_delta *d, struct pprof_profile *p, const int *cumulative,
		      size_t ncumulative);
/* Bytes of memory the state holds. */
size_t pprof_delta_memory(const struct pprof_delta *d);

/* Fills cumulative[] (pprof_sample_type_count(p) entries) for Go's own profiles:
 * alloc_objects, alloc_space, contentions and delay are cumulative; the others not. */
void pprof_go_cumulative(const struct pprof_profile *p, int *cumulative);

#endif
