/*
 * The decoder's second walk over the bytes (see decode.c): every field of the Profile
 * and of its submessages read into the tables the first walk allocated, string indexes
 * and limits checked where they are read. Location ids and values, nearly all of a
 * profile's bytes, are read in tight loops straight into their tables; the rows of
 * samples and labels are written in place.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "pprof"
#include "decode.h"

/* Parses a message whose fields 1..n are all varints into v[0..n): a field that is absent
 * keeps its value, a repeated one takes the last, unknown fields are skipped. */
static int parse_varints(const uint8_t *p, const uint8_t *end, uint64_t *v, uint32_t n)
{
	while (p < end) {
		uint32_t f;
		unsigned wt;

		if (wire_tag(&p, end, &f, &wt))
			return -EBADMSG;
		if (f > n) {
			if (wire_skip(&p, end, wt))
				return -EBADMSG;
		} else if (wt != WT_VARINT || wire_varint(&p, end, &v[f - 1])) {
			return -EBADMSG;
		}
	}
	return 0;
}

/* Location ids of sample i in [p, end), packed (one id in unpacked form); *count of the
 * sample's ids were read before. */
static int read_location_ids(struct dec *d, const uint8_t *p, const uint8_t *end,
			     uint32_t *count, size_t i)
{
	struct buf *t = &d->p->locids;
	/* as many ids as bytes that end a varint: no more can be read, and the table was
	 * sized by the same count */
	size_t ids = wire_varints_in(p, end), n = 0;
	uint64_t *out, lo = d->locid_min, hi = d->locid_max;
	int ret;

	if (ids > d->depth - *count) {
		log_debug("decode: sample %zu: more than %zu frames", i, d->depth);
		return -E2BIG;
	}
	if ((ret = pprof_decode_reserve(d, t, ids * sizeof(*out))))
		return ret;
	out = (uint64_t *)(void *)(t->data + t->len);
	while (p < end) {
		struct wire_read r = wire_read_varint(p, end);

		if (!r.next || n == ids)
			return -EBADMSG;
		p = r.next;
		out[n++] = r.v;
		lo = r.v < lo ? r.v : lo;
		hi = r.v > hi ? r.v : hi;
	}
	d->locid_min = lo;
	d->locid_max = hi;
	t->len += n * sizeof(*out);
	t->data[t->len] = '\0';
	*count += (uint32_t)n;
	return 0;
}

/* Values of sample i in [p, end); *count were read before. */
static int read_values(struct dec *d, const uint8_t *p, const uint8_t *end, size_t *count,
		       size_t i)
{
	struct buf *t = &d->p->values;
	size_t left = d->ntypes - *count, room = (size_t)(end - p), n = 0;
	int64_t *out;
	int ret;

	if ((ret = pprof_decode_reserve(d, t, (room < left ? room : left) * sizeof(*out))))
		goto out;
	out = (int64_t *)(void *)(t->data + t->len);
	while (p < end) {
		struct wire_read r = wire_read_varint(p, end);

		if (n == left)
			BAD("sample %zu: more values than the %zu types", i, d->ntypes);
		if (!r.next) {
			ret = -EBADMSG;
			goto out;
		}
		if ((int64_t)r.v < 0)
			BAD("sample %zu: negative value", i);
		p = r.next;
		out[n++] = (int64_t)r.v;
	}
	t->len += n * sizeof(*out);
	t->data[t->len] = '\0';
	*count += n;
out:
	return ret;
}

static int read_label(struct dec *d, const uint8_t *p, const uint8_t *end, uint32_t *count,
		      size_t i)
{
	struct buf *t = &d->p->labels;
	struct pp_label *l;
	int ret = 0;

	if (*count == UINT32_MAX)
		return -E2BIG;
	if (!(l = next_row(d, t, sizeof(*l), &ret)))
		return ret;
	*l = (struct pp_label){0, 0, 0, 0};
	while (p < end) {
		uint32_t f;
		unsigned wt;
		uint64_t v;

		if (wire_tag(&p, end, &f, &wt))
			return -EBADMSG;
		if (f > LABEL_NFIELDS) {
			if (wire_skip(&p, end, wt))
				return -EBADMSG;
			continue;
		}
		if (wt != WT_VARINT || wire_varint(&p, end, &v))
			return -EBADMSG;
		if (f == LABEL_KEY)
			l->key = (int64_t)v;
		else if (f == LABEL_STR)
			l->str = (int64_t)v;
		else if (f == LABEL_NUM)
			l->num = (int64_t)v;
		else
			l->num_unit = (int64_t)v;
	}
	if (!str_ok(d, (uint64_t)l->key) || !str_ok(d, (uint64_t)l->str) ||
	    !str_ok(d, (uint64_t)l->num_unit))
		BAD("sample %zu: label: bad string index", i);
	pushed(t, sizeof(*l));
	(*count)++;
out:
	return ret;
}

static int parse_sample(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	struct pprof_profile *pr = d->p;
	size_t i = pp_nsamples(pr), nvalues = 0;
	struct pp_sample s = {PP_COUNT(&pr->locids, uint64_t),
			      PP_COUNT(&pr->labels, struct pp_label), 0, 0};
	struct pp_sample *row;
	int ret = 0;

	while (p < end && !ret) {
		const uint8_t *run = p;
		uint32_t f;
		unsigned wt;
		size_t n;

		if ((ret = wire_tag(&p, end, &f, &wt)))
			break;
		if (f > SAMPLE_LABEL) {
			ret = wire_skip(&p, end, wt);
			continue;
		}
		/* [run, p): a packed run, a submessage, or a lone varint, which reads as a
		 * packed run of one */
		if (wt == WT_LEN) {
			if ((ret = wire_len(&p, end, &n)))
				break;
			run = p;
			p += n;
		} else if (wt == WT_VARINT && f != SAMPLE_LABEL) {
			run = p;
			if ((ret = wire_skip(&p, end, wt)))
				break;
		} else {
			ret = -EBADMSG;
			break;
		}
		if (f == SAMPLE_LOCATION_ID)
			ret = read_location_ids(d, run, p, &s.nlocs, i);
		else if (f == SAMPLE_VALUE)
			ret = read_values(d, run, p, &nvalues, i);
		else
			ret = read_label(d, run, p, &s.nlabels, i);
	}
	if (ret)
		goto out;
	if (nvalues != d->ntypes)
		BAD("sample %zu: %zu values for %zu types", i, nvalues, d->ntypes);
	if ((row = next_row(d, &pr->samples, sizeof(*row), &ret))) {
		*row = s;
		pushed(&pr->samples, sizeof(*row));
	}
out:
	return ret;
}

static int parse_location(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	struct pprof_profile *pr = d->p;
	size_t i = PP_COUNT(&pr->locations, struct pp_location);
	uint64_t v[LOCATION_NFIELDS] = {0};
	struct pp_location r = {0};
	int ret = 0;

	r.line_off = PP_COUNT(&pr->lines, struct pp_line);
	while (p < end && !ret) {
		uint64_t lv[LINE_NFIELDS] = {0};
		struct pp_line ln;
		uint32_t f;
		unsigned wt;
		size_t n;

		if ((ret = wire_tag(&p, end, &f, &wt)))
			break;
		if (f > LOCATION_NFIELDS) {
			ret = wire_skip(&p, end, wt);
		} else if (f != LOCATION_LINE) {
			ret = wt == WT_VARINT ? wire_varint(&p, end, &v[f - 1]) : -EBADMSG;
		} else if (wt != WT_LEN || wire_len(&p, end, &n) ||
			   parse_varints(p, p + n, lv, LINE_NFIELDS)) {
			ret = -EBADMSG;
		} else {
			p += n;
			if (r.nlines == d->depth)
				BAD("location %zu: more than %zu lines", i, d->depth);
			ln = (struct pp_line){lv[LINE_FUNCTION_ID - 1], (int64_t)lv[LINE_LINE - 1],
					      (int64_t)lv[LINE_COLUMN - 1]};
			ret = push(d, &pr->lines, &ln, sizeof(ln));
			r.nlines++;
		}
	}
	if (ret)
		goto out;
	r.mapping_id = v[LOCATION_MAPPING_ID - 1];
	r.address = v[LOCATION_ADDRESS - 1];
	r.is_folded = v[LOCATION_IS_FOLDED - 1] != 0;
	d->locs.ids[i] = v[LOCATION_ID - 1];
	d->locs.dense &= v[LOCATION_ID - 1] == i + 1;
	ret = push(d, &pr->locations, &r, sizeof(r));
out:
	return ret;
}

static int parse_mapping(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	size_t i = PP_COUNT(&d->p->mappings, struct pp_mapping);
	uint64_t v[MAPPING_NFIELDS] = {0};
	struct pp_mapping r;
	int ret = parse_varints(p, end, v, MAPPING_NFIELDS);

	if (ret)
		goto out;
	if (!str_ok(d, v[MAPPING_FILENAME - 1]) || !str_ok(d, v[MAPPING_BUILD_ID - 1]))
		BAD("mapping %zu: bad string index", i);
	r = (struct pp_mapping){v[MAPPING_MEMORY_START - 1], v[MAPPING_MEMORY_LIMIT - 1],
				v[MAPPING_FILE_OFFSET - 1], (int64_t)v[MAPPING_FILENAME - 1],
				(int64_t)v[MAPPING_BUILD_ID - 1],
				v[MAPPING_HAS_FUNCTIONS - 1] != 0,
				v[MAPPING_HAS_FILENAMES - 1] != 0,
				v[MAPPING_HAS_LINE_NUMBERS - 1] != 0,
				v[MAPPING_HAS_INLINE_FRAMES - 1] != 0};
	d->maps.ids[i] = v[MAPPING_ID - 1];
	d->maps.dense &= v[MAPPING_ID - 1] == i + 1;
	ret = push(d, &d->p->mappings, &r, sizeof(r));
out:
	return ret;
}

static int parse_function(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	size_t i = PP_COUNT(&d->p->functions, struct pp_function);
	uint64_t v[FUNCTION_NFIELDS] = {0};
	struct pp_function r;
	int ret = parse_varints(p, end, v, FUNCTION_NFIELDS);

	if (ret)
		goto out;
	if (!str_ok(d, v[FUNCTION_NAME - 1]) || !str_ok(d, v[FUNCTION_SYSTEM_NAME - 1]) ||
	    !str_ok(d, v[FUNCTION_FILENAME - 1]))
		BAD("function %zu: bad string index", i);
	r = (struct pp_function){(int64_t)v[FUNCTION_NAME - 1],
				 (int64_t)v[FUNCTION_SYSTEM_NAME - 1],
				 (int64_t)v[FUNCTION_FILENAME - 1],
				 (int64_t)v[FUNCTION_START_LINE - 1]};
	d->fns.ids[i] = v[FUNCTION_ID - 1];
	d->fns.dense &= v[FUNCTION_ID - 1] == i + 1;
	ret = push(d, &d->p->functions, &r, sizeof(r));
out:
	return ret;
}

static int parse_vtype(const uint8_t *p, const uint8_t *end, struct pp_vtype *t)
{
	uint64_t v[VALUE_TYPE_NFIELDS] = {0, 0};
	int ret = parse_varints(p, end, v, VALUE_TYPE_NFIELDS);

	t->type = (int64_t)v[VALUE_TYPE_TYPE - 1];
	t->unit = (int64_t)v[VALUE_TYPE_UNIT - 1];
	return ret;
}

static int parse_string(struct dec *d, const uint8_t *p, size_t n)
{
	struct pprof_profile *pr = d->p;
	const uint8_t *nul = memchr(p, '\0', n);
	size_t off = pr->strdata.len;
	int ret = 0;

	if (nul)
		n = (size_t)(nul - p);
	/* every profile starts with its string 0, "" */
	if (d->strings_read++ == 0) {
		if (n)
			BAD("string_table[0] is not \"\"");
		goto out;
	}
	if ((ret = pprof_decode_reserve(d, &pr->strdata, n + 1)) ||
	    (ret = pprof_decode_reserve(d, &pr->stroff, sizeof(off))))
		goto out;
	memcpy(pr->strdata.data + off, p, n);
	pr->strdata.data[off + n] = '\0';
	pr->strdata.len += n + 1;
	pr->strdata.data[pr->strdata.len] = '\0';
	ret = push(d, &pr->stroff, &off, sizeof(off));
out:
	return ret;
}

static int read_comments(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	int ret = 0;

	while (p < end && !ret) {
		uint64_t v;

		if (wire_varint(&p, end, &v)) {
			ret = -EBADMSG;
			goto out;
		}
		if (!str_ok(d, v))
			BAD("comment %zu: bad string index", PP_COUNT(&d->p->comments, int64_t));
		ret = push(d, &d->p->comments, &v, sizeof(v));
	}
out:
	return ret;
}

int pprof_decode_fields(struct dec *d, const uint8_t *p, const uint8_t *end)
{
	struct pprof_profile *pr = d->p;
	int ret = 0;

	while (p < end && !ret) {
		const uint8_t *sub = p, *sub_end;
		struct pp_vtype t = {0, 0};
		uint32_t f;
		unsigned wt;
		size_t n = 0;
		uint64_t v = 0;

		/* the first walk checked the framing; this is only defensive */
		if (wire_tag(&p, end, &f, &wt) || !profile_wire_type_ok(f, wt)) {
			ret = -EBADMSG;
			break;
		}
		if (wt == WT_LEN) {
			if ((ret = wire_len(&p, end, &n)))
				break;
			sub = p;
			p += n;
		} else if (wt == WT_VARINT) {
			sub = p;
			if ((ret = wire_varint(&p, end, &v)))
				break;
		} else {
			ret = wire_skip(&p, end, wt);
			continue;
		}
		sub_end = p;
		switch (f) {
		case PROFILE_SAMPLE_TYPE:
			if ((ret = parse_vtype(sub, sub_end, &t)))
				break;
			if (!str_ok(d, (uint64_t)t.type) || !str_ok(d, (uint64_t)t.unit))
				BAD("sample type %zu: bad string index", pp_ntypes(pr));
			ret = push(d, &pr->types, &t, sizeof(t));
			break;
		case PROFILE_SAMPLE:
			ret = parse_sample(d, sub, sub_end);
			break;
		case PROFILE_MAPPING:
			ret = parse_mapping(d, sub, sub_end);
			break;
		case PROFILE_LOCATION:
			ret = parse_location(d, sub, sub_end);
			break;
		case PROFILE_FUNCTION:
			ret = parse_function(d, sub, sub_end);
			break;
		case PROFILE_STRING_TABLE:
			ret = parse_string(d, sub, n);
			break;
		case PROFILE_DROP_FRAMES:
			pr->drop_frames = (int64_t)v;
			break;
		case PROFILE_KEEP_FRAMES:
			pr->keep_frames = (int64_t)v;
			break;
		case PROFILE_TIME_NANOS:
			pr->time_nanos = (int64_t)v;
			break;
		case PROFILE_DURATION_NANOS:
			pr->duration_nanos = (int64_t)v;
			break;
		case PROFILE_PERIOD_TYPE:
			/* a second one replaces the first, as in Go's reader and protobuf-c */
			ret = parse_vtype(sub, sub_end, &pr->period_type);
			break;
		case PROFILE_PERIOD:
			pr->period = (int64_t)v;
			break;
		case PROFILE_COMMENT:
			ret = read_comments(d, sub, sub_end);
			break;
		case PROFILE_DEFAULT_SAMPLE_TYPE:
			pr->default_sample_type = (int64_t)v;
			break;
		default:
			break;
		}
	}
out:
	return ret;
}

