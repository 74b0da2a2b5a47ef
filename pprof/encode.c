/*
 * Encoding: the profile's tables written as protobuf (wire.h) straight from the rows,
 * fields in number order, zero scalars left out and repeated scalars packed: the form
 * Go's writer and protobuf-c produce. Ids are row index + 1 (see profile.h). A
 * submessage's length is computed from its row just before the row is written, so
 * nothing is written twice and nothing is moved.
 *
 * Why not protobuf-c's pack: building its message structs from the tables cost four
 * times the writing itself; the output is byte for byte what protobuf-c packs from the
 * same profile (tests/unit/pprof_wire_test.c checks it).
 *
 * With gzip (best speed, the gzip wrapper: what `go tool pprof` and Coroot read), the
 * protobuf goes to zlib in chunks of about ENCODE_CHUNK bytes as it is written, and zlib
 * writes into the caller's buffer: the uncompressed profile is never held whole.
 *
 * A stream (pprof_stream_*) is the same writer turned inside out: the sample types are
 * written first, each sample as it comes, and the builder's tables, which samples only
 * reference, at the end. That is the field order pprof_encode uses, so a stream writes
 * the bytes pprof_encode would write for the same profile, without the samples ever
 * being held: memory is the builder's tables plus zlib's state, whatever the number of
 * samples. Several streams over one builder write parts of one profile (a subset of its
 * sample types each) in one pass over the samples.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.h"
#include "wire.h"

#define ENCODE_CHUNK ((size_t)64 << 10)
/* zlib counts input in uInt: hand it at most this much at a time. */
#define ENCODE_MAX_FEED ((size_t)1 << 30)

struct enc {
	struct buf *out; /* the caller's buffer */
	struct buf *dst; /* where protobuf is written: out, or raw when compressing */
	struct buf raw;  /* protobuf not yet compressed */
	z_stream z;
	int gzip;
	int err;
};

/* Compresses what raw holds into out (and ends the gzip stream when finish is set). */
static int deflate_raw(struct enc *e, int finish)
{
	struct buf *out = e->out;
	const uint8_t *in = (const uint8_t *)e->raw.data;
	size_t left = e->raw.len;
	int zr, ret = 0;

	do {
		size_t room = out->max - out->len;

		if (!e->z.avail_in && left) {
			size_t n = left < ENCODE_MAX_FEED ? left : ENCODE_MAX_FEED;

			e->z.next_in = (Bytef *)(uintptr_t)in;
			e->z.avail_in = (uInt)n;
			in += n;
			left -= n;
		}
		if (room > ENCODE_CHUNK)
			room = ENCODE_CHUNK;
		/* more output is coming and there is no room left under out's bound */
		if (room == 0)
			ret = -E2BIG;
		if (ret || (ret = buf_reserve(out, room)))
			break;
		e->z.next_out = (Bytef *)out->data + out->len;
		e->z.avail_out = (uInt)room;
		zr = deflate(&e->z, finish && !left ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR) {
			ret = -EINVAL;
			break;
		}
		out->len += room - e->z.avail_out;
		out->data[out->len] = '\0';
	} while (finish ? zr != Z_STREAM_END : left || e->z.avail_in || !e->z.avail_out);
	e->raw.len = 0;
	return ret;
}

static uint8_t *room_slow(struct enc *e, size_t n)
{
	struct buf *b = e->dst;

	if (e->gzip && b->len >= ENCODE_CHUNK && (e->err = deflate_raw(e, 0)))
		return NULL;
	if (b->cap - b->len <= n && (e->err = buf_reserve(b, n)))
		return NULL;
	return (uint8_t *)b->data + b->len;
}

/* Where the next n bytes of protobuf go (then handed to commit()), or NULL with e->err
 * set. When compressing, a full chunk is compressed first. */
static inline uint8_t *room(struct enc *e, size_t n)
{
	struct buf *b = e->dst;

	if (b->cap - b->len > n && (!e->gzip || b->len < ENCODE_CHUNK))
		return (uint8_t *)b->data + b->len;
	return room_slow(e, n);
}

/* The bytes up to end, written after room(), become part of the protobuf. */
static void commit(struct enc *e, uint8_t *end)
{
	struct buf *b = e->dst;

	b->len = (size_t)((char *)end - b->data);
	b->data[b->len] = '\0';
}

/* Size of a message whose fields 1..n are the varints v[0..n), zeros left out. */
static inline size_t varints_size(const uint64_t *v, unsigned n)
{
	size_t size = 0;

	for (unsigned i = 0; i < n; i++)
		if (v[i])
			size += 1 + wire_varint_size(v[i]);
	return size;
}

static inline uint8_t *put_varints(uint8_t *w, const uint64_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (v[i]) {
			*w++ = TAG(i + 1, WT_VARINT);
			w = wire_put_varint(w, v[i]);
		}
	}
	return w;
}

/* Writes field f, a submessage of the varints v[0..n) (see varints_size()). */
static int put_message(struct enc *e, unsigned f, const uint64_t *v, unsigned n)
{
	size_t size = varints_size(v, n);
	uint8_t *w = room(e, 1 + VARINT_MAX + size);

	if (!w)
		return e->err;
	*w++ = TAG(f, WT_LEN);
	w = wire_put_varint(w, size);
	commit(e, put_varints(w, v, n));
	return 0;
}

/* Writes field f, a varint, when it is not zero. */
static int put_scalar(struct enc *e, unsigned f, uint64_t v)
{
	uint8_t *w;

	if (!v)
		return 0;
	if (!(w = room(e, 1 + VARINT_MAX)))
		return e->err;
	*w++ = TAG(f, WT_VARINT);
	commit(e, wire_put_varint(w, v));
	return 0;
}

static void label_fields(const struct pp_label *l, uint64_t *v)
{
	v[LABEL_KEY - 1] = (uint64_t)l->key;
	v[LABEL_STR - 1] = (uint64_t)l->str;
	v[LABEL_NUM - 1] = (uint64_t)l->num;
	v[LABEL_NUM_UNIT - 1] = (uint64_t)l->num_unit;
}

/* Writes one sample: nlocs location ids, nv values and nlabels labels. */
static int put_sample_fields(struct enc *e, const uint64_t *ids, uint32_t nlocs,
			     const int64_t *values, size_t nv, const struct pp_label *labels,
			     uint32_t nlabels)
{
	size_t ids_size = 0, values_size = 0, size = 0;
	uint64_t lv[LABEL_NFIELDS];
	uint8_t *w;

	for (uint32_t k = 0; k < nlocs; k++)
		ids_size += wire_varint_size(ids[k]);
	for (size_t k = 0; k < nv; k++)
		values_size += wire_varint_size((uint64_t)values[k]);
	if (nlocs)
		size += 1 + wire_varint_size(ids_size) + ids_size;
	if (nv)
		size += 1 + wire_varint_size(values_size) + values_size;
	for (uint32_t k = 0; k < nlabels; k++) {
		size_t n;

		label_fields(&labels[k], lv);
		n = varints_size(lv, LABEL_NFIELDS);
		size += 1 + wire_varint_size(n) + n;
	}
	if (!(w = room(e, 1 + VARINT_MAX + size)))
		return e->err;
	*w++ = TAG(PROFILE_SAMPLE, WT_LEN);
	w = wire_put_varint(w, size);
	if (nlocs) {
		*w++ = TAG(SAMPLE_LOCATION_ID, WT_LEN);
		w = wire_put_varint(w, ids_size);
		for (uint32_t k = 0; k < nlocs; k++)
			w = wire_put_varint(w, ids[k]);
	}
	if (nv) {
		*w++ = TAG(SAMPLE_VALUE, WT_LEN);
		w = wire_put_varint(w, values_size);
		for (size_t k = 0; k < nv; k++)
			w = wire_put_varint(w, (uint64_t)values[k]);
	}
	for (uint32_t k = 0; k < nlabels; k++) {
		label_fields(&labels[k], lv);
		*w++ = TAG(SAMPLE_LABEL, WT_LEN);
		w = wire_put_varint(w, varints_size(lv, LABEL_NFIELDS));
		w = put_varints(w, lv, LABEL_NFIELDS);
	}
	commit(e, w);
	return 0;
}

static int put_sample(struct enc *e, const struct pprof_profile *p, size_t i)
{
	const struct pp_sample *s = PP_ROW(&p->samples, struct pp_sample, i);

	return put_sample_fields(e, PP_ROW(&p->locids, uint64_t, s->loc_off), s->nlocs,
				 pp_values(p, i), pp_ntypes(p),
				 PP_ROW(&p->labels, struct pp_label, s->label_off), s->nlabels);
}

static int put_mapping(struct enc *e, const struct pprof_profile *p, size_t i)
{
	const struct pp_mapping *m = PP_ROW(&p->mappings, struct pp_mapping, i);
	uint64_t v[MAPPING_NFIELDS] = {
	    i + 1,           m->memory_start,       m->memory_limit,       m->file_offset,
	    (uint64_t)m->filename, (uint64_t)m->build_id, m->has_functions, m->has_filenames,
	    m->has_line_numbers, m->has_inline_frames};

	return put_message(e, PROFILE_MAPPING, v, MAPPING_NFIELDS);
}

static void line_fields(const struct pp_line *l, uint64_t *v)
{
	v[LINE_FUNCTION_ID - 1] = l->function_id;
	v[LINE_LINE - 1] = (uint64_t)l->line;
	v[LINE_COLUMN - 1] = (uint64_t)l->column;
}

static int put_location(struct enc *e, const struct pprof_profile *p, size_t i)
{
	const struct pp_location *l = PP_ROW(&p->locations, struct pp_location, i);
	const struct pp_line *lines = PP_ROW(&p->lines, struct pp_line, l->line_off);
	uint64_t head[] = {i + 1, l->mapping_id, l->address}, lv[LINE_NFIELDS];
	size_t size = varints_size(head, ARRAY_SIZE(head)) + (l->is_folded ? 2 : 0);
	uint8_t *w;

	for (uint32_t j = 0; j < l->nlines; j++) {
		size_t n;

		line_fields(&lines[j], lv);
		n = varints_size(lv, LINE_NFIELDS);
		size += 1 + wire_varint_size(n) + n;
	}
	if (!(w = room(e, 1 + VARINT_MAX + size)))
		return e->err;
	*w++ = TAG(PROFILE_LOCATION, WT_LEN);
	w = wire_put_varint(w, size);
	w = put_varints(w, head, ARRAY_SIZE(head));
	for (uint32_t j = 0; j < l->nlines; j++) {
		line_fields(&lines[j], lv);
		*w++ = TAG(LOCATION_LINE, WT_LEN);
		w = wire_put_varint(w, varints_size(lv, LINE_NFIELDS));
		w = put_varints(w, lv, LINE_NFIELDS);
	}
	if (l->is_folded) {
		*w++ = TAG(LOCATION_IS_FOLDED, WT_VARINT);
		*w++ = 1;
	}
	commit(e, w);
	return 0;
}

static int put_function(struct enc *e, const struct pprof_profile *p, size_t i)
{
	const struct pp_function *f = PP_ROW(&p->functions, struct pp_function, i);
	uint64_t v[FUNCTION_NFIELDS] = {i + 1, (uint64_t)f->name, (uint64_t)f->system_name,
					(uint64_t)f->filename, (uint64_t)f->start_line};

	return put_message(e, PROFILE_FUNCTION, v, FUNCTION_NFIELDS);
}

static int put_string(struct enc *e, const char *s)
{
	size_t n = strlen(s);
	uint8_t *w = room(e, 1 + VARINT_MAX + n);

	if (!w)
		return e->err;
	*w++ = TAG(PROFILE_STRING_TABLE, WT_LEN);
	w = wire_put_varint(w, n);
	memcpy(w, s, n);
	commit(e, w + n);
	return 0;
}

static int put_comments(struct enc *e, const struct pprof_profile *p)
{
	const int64_t *c = PP_ROWS(&p->comments, int64_t);
	size_t n = PP_COUNT(&p->comments, int64_t), size = 0;
	uint8_t *w;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		size += wire_varint_size((uint64_t)c[i]);
	if (!(w = room(e, 1 + VARINT_MAX + size)))
		return e->err;
	*w++ = TAG(PROFILE_COMMENT, WT_LEN);
	w = wire_put_varint(w, size);
	for (size_t i = 0; i < n; i++)
		w = wire_put_varint(w, (uint64_t)c[i]);
	commit(e, w);
	return 0;
}

/* The sample types of p listed in cols (ncols of them; cols NULL: all, in order). */
static int put_types(struct enc *e, const struct pprof_profile *p, const size_t *cols,
		     size_t ncols)
{
	uint64_t v[VALUE_TYPE_NFIELDS];
	int ret = 0;

	for (size_t i = 0; i < ncols && !ret; i++) {
		const struct pp_vtype *t = PP_ROW(&p->types, struct pp_vtype, cols ? cols[i] : i);

		v[VALUE_TYPE_TYPE - 1] = (uint64_t)t->type;
		v[VALUE_TYPE_UNIT - 1] = (uint64_t)t->unit;
		ret = put_message(e, PROFILE_SAMPLE_TYPE, v, VALUE_TYPE_NFIELDS);
	}
	return ret;
}

/* Every field of p after the samples, in field number order. */
static int put_tables(struct enc *e, const struct pprof_profile *p)
{
	const struct pp_vtype *pt = &p->period_type;
	uint64_t v[VALUE_TYPE_NFIELDS];
	int ret = 0;

	for (size_t i = 0; i < PP_COUNT(&p->mappings, struct pp_mapping) && !ret; i++)
		ret = put_mapping(e, p, i);
	for (size_t i = 0; i < PP_COUNT(&p->locations, struct pp_location) && !ret; i++)
		ret = put_location(e, p, i);
	for (size_t i = 0; i < PP_COUNT(&p->functions, struct pp_function) && !ret; i++)
		ret = put_function(e, p, i);
	for (size_t i = 0; i < pp_nstrings(p) && !ret; i++)
		ret = put_string(e, pp_str(p, (int64_t)i));
	if (ret || (ret = put_scalar(e, PROFILE_DROP_FRAMES, (uint64_t)p->drop_frames)) ||
	    (ret = put_scalar(e, PROFILE_KEEP_FRAMES, (uint64_t)p->keep_frames)) ||
	    (ret = put_scalar(e, PROFILE_TIME_NANOS, (uint64_t)p->time_nanos)) ||
	    (ret = put_scalar(e, PROFILE_DURATION_NANOS, (uint64_t)p->duration_nanos)))
		goto out;
	/* the period type is always written, empty or not: the model does not tell an
	 * absent one from an empty one */
	v[VALUE_TYPE_TYPE - 1] = (uint64_t)pt->type;
	v[VALUE_TYPE_UNIT - 1] = (uint64_t)pt->unit;
	if ((ret = put_message(e, PROFILE_PERIOD_TYPE, v, VALUE_TYPE_NFIELDS)) ||
	    (ret = put_scalar(e, PROFILE_PERIOD, (uint64_t)p->period)) ||
	    (ret = put_comments(e, p)))
		goto out;
	ret = put_scalar(e, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)p->default_sample_type);
out:
	return ret;
}

/* Every field of p, in field number order. */
static int put_profile(struct enc *e, const struct pprof_profile *p)
{
	int ret = put_types(e, p, NULL, pp_ntypes(p));

	for (size_t i = 0; i < pp_nsamples(p) && !ret; i++)
		ret = put_sample(e, p, i);
	return ret ? ret : put_tables(e, p);
}

/* Starts writing to out (gzip-compressed when gzip is set). */
static int enc_init(struct enc *e, int gzip, struct buf *out)
{
	/* A zeroed stream is safe to deflateEnd() even when the init below fails. */
	memset(e, 0, sizeof(*e));
	e->out = out;
	e->gzip = gzip;
	buf_init(&e->raw, 0);
	e->dst = gzip ? &e->raw : out;
	/* Best speed, as runtime/pprof writes profiles: the agent's CPU matters more here
	 * than the last tenth of the upload's size. */
	if (gzip && deflateInit2(&e->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	return 0;
}

/* Ends e's stream: everything left is compressed into out. */
static int enc_finish(struct enc *e)
{
	return e->gzip ? deflate_raw(e, 1) : 0;
}

/* Frees e's state; on failure (ret non-zero), out goes back to start. */
static void enc_end(struct enc *e, int ret, size_t start)
{
	if (e->gzip)
		deflateEnd(&e->z);
	buf_free(&e->raw);
	if (ret && e->out->len != start) {
		e->out->len = start;
		e->out->data[start] = '\0';
	}
}

int pprof_encode(const struct pprof_profile *p, int gzip, struct buf *out)
{
	size_t start = out->len;
	struct enc e;
	int ret = enc_init(&e, gzip, out);

	if (!ret)
		ret = put_profile(&e, p);
	if (!ret)
		ret = enc_finish(&e);
	enc_end(&e, ret, start);
	return ret;
}

/* ---- streams ---------------------------------------------------------------------------- */

struct pprof_stream {
	struct pprof_builder *b;
	struct enc e;
	size_t start; /* out's length before the stream */
	size_t cols[PPROF_STREAM_MAX_TYPES], ncols;
	size_t nsamples;
	int err;      /* the first error: the stream writes nothing more */
	int finished;
};

int pprof_stream_new(struct pprof_builder *b, const size_t *cols, size_t ncols, int gzip,
		     struct buf *out, struct pprof_stream **out_s)
{
	const struct pprof_profile *p = pprof_builder_table(b);
	struct pprof_stream *s = NULL;
	int ret = -EINVAL;

	*out_s = NULL;
	if (!cols)
		ncols = pp_ntypes(p);
	if (ncols > PPROF_STREAM_MAX_TYPES)
		goto out;
	for (size_t i = 0; cols && i < ncols; i++)
		if (cols[i] >= pp_ntypes(p))
			goto out;
	ret = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->b = b;
	s->start = out->len;
	s->ncols = ncols;
	for (size_t i = 0; i < ncols; i++)
		s->cols[i] = cols ? cols[i] : i;
	ret = enc_init(&s->e, gzip, out);
	if (!ret)
		ret = put_types(&s->e, p, s->cols, s->ncols);
	if (ret)
		goto out;
	*out_s = s;
	s = NULL;
out:
	if (s) {
		enc_end(&s->e, ret, s->start);
		free(s);
	}
	return ret;
}

int pprof_stream_add_sample(struct pprof_stream *s, const uint64_t *location_ids, size_t nlocs,
			    const int64_t *values, const struct pprof_label *labels,
			    size_t nlabels)
{
	const struct pprof_profile *p = pprof_builder_table(s->b);
	size_t nloc_rows = PP_COUNT(&p->locations, struct pp_location);
	struct pp_label pl[PPROF_STREAM_MAX_LABELS];
	int64_t v[PPROF_STREAM_MAX_TYPES];
	int ret = -EINVAL, nonzero = 0;

	if (s->err || s->finished)
		return s->err ? s->err : -EINVAL;
	for (size_t i = 0; i < s->ncols; i++) {
		v[i] = values[s->cols[i]];
		nonzero |= v[i] != 0;
	}
	if (!nonzero)
		return 0;
	if (nlocs > UINT32_MAX || nlabels > PPROF_STREAM_MAX_LABELS)
		goto out;
	for (size_t i = 0; i < nlocs; i++)
		if (location_ids[i] == 0 || location_ids[i] > nloc_rows)
			goto out;
	for (size_t i = 0; i < nlabels; i++) {
		if (!labels[i].key)
			goto out;
		pl[i].key = pprof_builder_string(s->b, labels[i].key);
		pl[i].str = labels[i].str ? pprof_builder_string(s->b, labels[i].str) : 0;
		pl[i].num = labels[i].str ? 0 : labels[i].num;
		pl[i].num_unit = labels[i].str ? 0 : pprof_builder_string(s->b, labels[i].num_unit);
		if (pl[i].key < 0 || pl[i].str < 0 || pl[i].num_unit < 0) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = put_sample_fields(&s->e, location_ids, (uint32_t)nlocs, v, s->ncols, pl,
				(uint32_t)nlabels);
	if (ret)
		s->err = ret;
	else
		s->nsamples++;
out:
	return ret;
}

size_t pprof_stream_sample_count(const struct pprof_stream *s)
{
	return s->nsamples;
}

int pprof_stream_finish(struct pprof_stream *s)
{
	int ret = s->err ? s->err : s->finished ? -EINVAL : 0;

	if (!ret)
		ret = put_tables(&s->e, pprof_builder_table(s->b));
	if (!ret)
		ret = enc_finish(&s->e);
	if (ret)
		s->err = ret;
	else
		s->finished = 1;
	return ret;
}

void pprof_stream_free(struct pprof_stream *s)
{
	if (!s)
		return;
	/* a stream that did not finish leaves nothing in out */
	enc_end(&s->e, !s->finished, s->start);
	free(s);
}
