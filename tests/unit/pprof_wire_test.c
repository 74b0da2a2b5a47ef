/*
 * The wire format of pprof/ against protobuf-c's, the independent reader and writer:
 * real Go profiles (the fuzz seed corpus, go1.19 to go1.27), random synthetic profiles
 * and their mutations are read by protobuf-c and by pprof_decode(), which must agree on
 * whether each is valid and on every field of those that are; what pprof_encode()
 * writes must read back to the same content and be exactly what protobuf-c packs.
 * Then the hostile inputs, one fault at a time: truncated varints and lengths, unknown
 * fields of every wire type, groups, wrong wire types, unpacked repeated fields,
 * overflowing varints.
 *
 * Where the two readers differ on purpose, Go's reader decides: a varint whose tenth
 * byte overflows 64 bits, a field number above 2^29 - 1 and a bool field of another
 * wire type than varint are errors (protobuf-c truncates the first two and reads the
 * third), and a length may take up to ten bytes (protobuf-c stops at five). The
 * differential tests tell those cases apart with a walk of the schema (divergence()).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "support.h"
#include "testing.h"

typedef Perftools__Profiles__Profile pb_profile;

static uint64_t rng_state = 0x2545f4914f6cdd1d;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- writing protobuf by hand ---------------------------------------------------------- */

static void put_varint(struct buf *b, uint64_t v)
{
	unsigned char c;

	while (v >= 0x80) {
		c = (unsigned char)(v | 0x80);
		buf_append(b, &c, 1);
		v >>= 7;
	}
	c = (unsigned char)v;
	buf_append(b, &c, 1);
}

static void put_tag(struct buf *b, uint64_t field, unsigned wt)
{
	put_varint(b, field << 3 | wt);
}

static void put_uint(struct buf *b, uint64_t field, uint64_t v)
{
	put_tag(b, field, 0);
	put_varint(b, v);
}

static void put_bytes(struct buf *b, uint64_t field, const void *data, size_t len)
{
	put_tag(b, field, 2);
	put_varint(b, len);
	buf_append(b, data, len);
}

/* Repeated varints: packed, or one field each. */
static void put_repeated(struct buf *b, uint64_t field, const uint64_t *v, size_t n, int unpacked)
{
	struct buf packed;

	if (unpacked) {
		for (size_t i = 0; i < n; i++)
			put_uint(b, field, v[i]);
		return;
	}
	buf_init(&packed, 0);
	for (size_t i = 0; i < n; i++)
		put_varint(&packed, v[i]);
	put_bytes(b, field, packed.data, packed.len);
	buf_free(&packed);
}

/* ---- a small profile, with a fault put into one of its messages ------------------------- */

enum msg {
	M_PROFILE,
	M_VALUE_TYPE,
	M_SAMPLE,
	M_LABEL,
	M_MAPPING,
	M_LOCATION,
	M_LINE,
	M_FUNCTION,
	M_PERIOD_TYPE,
	M_COUNT
};

static const char *const msg_name[M_COUNT] = {"Profile", "ValueType", "Sample", "Label",
					      "Mapping", "Location", "Line", "Function",
					      "period_type"};

/* What goes into the first message of kind msg, at the end of its fields. */
struct fault {
	enum msg msg;
	const void *bytes;
	size_t len;
	int unpacked; /* repeated scalars one field each */
};

/* A submessage field: tag, length, body; the fault goes into the body first when it is
 * meant for this message and not used yet. */
static void put_sub(struct buf *b, uint64_t field, struct buf *body, enum msg m, struct fault *f)
{
	if (f && f->msg == m && f->bytes) {
		buf_append(body, f->bytes, f->len);
		f->bytes = NULL;
	}
	put_bytes(b, field, body->data, body->len);
	buf_reset(body);
}

static const char *const small_strings[] = {"",	  "samples", "count", "bytes", "/bin/app",
					    "main.f", "main.go", "thread"};

/* Writes the small profile: 2 samples (one with a label), a mapping, 2 locations, a
 * function, period type, time and a comment. */
static void small_profile(struct buf *out, const struct fault *fault)
{
	struct fault f = fault ? *fault : (struct fault){M_COUNT, NULL, 0, 0};
	uint64_t ids0[] = {1, 2}, ids1[] = {2}, v0[] = {5}, v1[] = {7}, comment[] = {4};
	struct buf m, sub;

	buf_init(&m, 0);
	buf_init(&sub, 0);
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 2);
	put_sub(out, 1, &m, M_VALUE_TYPE, &f);
	put_repeated(&m, 1, ids0, 2, f.unpacked);
	put_repeated(&m, 2, v0, 1, f.unpacked);
	put_uint(&sub, 1, 7);
	put_uint(&sub, 3, 42);
	put_uint(&sub, 4, 3);
	put_sub(&m, 3, &sub, M_LABEL, &f);
	put_sub(out, 2, &m, M_SAMPLE, &f);
	put_repeated(&m, 1, ids1, 1, f.unpacked);
	put_repeated(&m, 2, v1, 1, f.unpacked);
	put_sub(out, 2, &m, M_COUNT, NULL);
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 0x400000);
	put_uint(&m, 3, 0x500000);
	put_uint(&m, 5, 4);
	put_uint(&m, 7, 1);
	put_sub(out, 3, &m, M_MAPPING, &f);
	for (uint64_t i = 1; i <= 2; i++) {
		put_uint(&m, 1, i);
		put_uint(&m, 2, 1);
		put_uint(&m, 3, 0x401000 + 0x100 * i);
		put_uint(&sub, 1, 1);
		put_uint(&sub, 2, 10 * i);
		put_uint(&sub, 3, i - 1);
		put_sub(&m, 4, &sub, M_LINE, &f);
		put_sub(out, 4, &m, M_LOCATION, &f);
	}
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 5);
	put_uint(&m, 4, 6);
	put_uint(&m, 5, 3);
	put_sub(out, 5, &m, M_FUNCTION, &f);
	for (size_t i = 0; i < ARRAY_SIZE(small_strings); i++)
		put_bytes(out, 6, small_strings[i], strlen(small_strings[i]));
	put_uint(out, 9, 1000);
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 2);
	put_sub(out, 11, &m, M_PERIOD_TYPE, &f);
	put_uint(out, 12, 1);
	put_repeated(out, 13, comment, 1, f.unpacked);
	if (f.msg == M_PROFILE && f.bytes)
		buf_append(out, f.bytes, f.len);
	buf_free(&m);
	buf_free(&sub);
}

/* ---- the reference: protobuf-c's reading, checked the simple way ------------------------ */

/* protobuf-c's reading of data, gunzipped first when it is gzip; NULL when it fails. */
static pb_profile *ref_unpack(const void *data, size_t len)
{
	pb_profile *m = NULL;
	struct buf plain;

	buf_init(&plain, 0);
	if (pprof_is_gzip(data, len)) {
		if (pprof_gunzip(data, len, (size_t)1 << 30, &plain))
			goto out;
		data = plain.data;
		len = plain.len;
	}
	m = perftools__profiles__profile__unpack(NULL, len, data);
out:
	buf_free(&plain);
	return m;
}

/* Rows' ids sorted, with their indexes: a lookup table for the reference. */
struct ref_ids {
	struct ref_id {
		uint64_t id;
		size_t index;
	} *v;
	size_t n;
};

static int cmp_ref_id(const void *a, const void *b)
{
	const struct ref_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Index of the row with id, or -1. */
static long ref_find(const struct ref_ids *t, uint64_t id)
{
	struct ref_id key = {id, 0}, *hit;

	hit = t->n ? bsearch(&key, t->v, t->n, sizeof(key), cmp_ref_id) : NULL;
	return hit ? (long)hit->index : -1;
}

/* Indexes n rows by the uint64 id at offset off of each; 0 when the ids are non-zero
 * and distinct. */
static int ref_index(struct ref_ids *t, void *const *rows, size_t n, size_t off)
{
	t->v = calloc(n + 1, sizeof(*t->v));
	t->n = n;
	for (size_t i = 0; i < n; i++) {
		memcpy(&t->v[i].id, (const char *)rows[i] + off, sizeof(uint64_t));
		t->v[i].index = i;
	}
	qsort(t->v, n, sizeof(*t->v), cmp_ref_id);
	for (size_t i = 0; i < n; i++)
		if (t->v[i].id == 0 || (i > 0 && t->v[i].id == t->v[i - 1].id))
			return -1;
	return 0;
}

struct ref {
	pb_profile *m;
	struct ref_ids maps, fns, locs;
};

static void ref_free(struct ref *r)
{
	free(r->maps.v);
	free(r->fns.v);
	free(r->locs.v);
	if (r->m)
		perftools__profiles__profile__free_unpacked(r->m, NULL);
	memset(r, 0, sizeof(*r));
}

static int ref_str(const pb_profile *m, int64_t idx)
{
	return idx >= 0 && (uint64_t)idx < m->n_string_table;
}

/* What pprof_decode() must return for m (read within lim), by the rules of pprof.h. */
static int ref_verdict(struct ref *r, const struct pprof_limits *lim)
{
	const pb_profile *m = r->m;
	int ids_ok;

	if (m->n_sample > lim->max_samples || m->n_location > lim->max_locations ||
	    m->n_mapping > lim->max_locations || m->n_function > lim->max_functions ||
	    m->n_string_table > lim->max_strings || m->n_sample_type > lim->max_values)
		return -E2BIG;
	for (size_t i = 0; i < m->n_sample; i++)
		if (m->sample[i]->n_location_id > lim->max_stack_depth)
			return -E2BIG;
	ids_ok = ref_index(&r->maps, (void *const *)m->mapping, m->n_mapping,
			   offsetof(Perftools__Profiles__Mapping, id)) == 0;
	ids_ok &= ref_index(&r->fns, (void *const *)m->function, m->n_function,
			    offsetof(Perftools__Profiles__Function, id)) == 0;
	ids_ok &= ref_index(&r->locs, (void *const *)m->location, m->n_location,
			    offsetof(Perftools__Profiles__Location, id)) == 0;
	if (!ids_ok || m->n_string_table == 0 || m->string_table[0][0] != '\0')
		return -EPROTO;
	for (size_t i = 0; i < m->n_sample_type; i++)
		if (!ref_str(m, m->sample_type[i]->type) || !ref_str(m, m->sample_type[i]->unit))
			return -EPROTO;
	if ((m->period_type &&
	     (!ref_str(m, m->period_type->type) || !ref_str(m, m->period_type->unit))) ||
	    !ref_str(m, m->drop_frames) || !ref_str(m, m->keep_frames) ||
	    !ref_str(m, m->default_sample_type))
		return -EPROTO;
	for (size_t i = 0; i < m->n_comment; i++)
		if (!ref_str(m, m->comment[i]))
			return -EPROTO;
	for (size_t i = 0; i < m->n_mapping; i++)
		if (!ref_str(m, m->mapping[i]->filename) || !ref_str(m, m->mapping[i]->build_id))
			return -EPROTO;
	for (size_t i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *f = m->function[i];

		if (!ref_str(m, f->name) || !ref_str(m, f->system_name) || !ref_str(m, f->filename))
			return -EPROTO;
	}
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *l = m->location[i];

		if ((l->mapping_id && ref_find(&r->maps, l->mapping_id) < 0) ||
		    l->n_line > lim->max_stack_depth)
			return -EPROTO;
		for (size_t j = 0; j < l->n_line; j++)
			if (ref_find(&r->fns, l->line[j]->function_id) < 0)
				return -EPROTO;
	}
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *s = m->sample[i];

		if (s->n_value != m->n_sample_type)
			return -EPROTO;
		for (size_t k = 0; k < s->n_value; k++)
			if (s->value[k] < 0)
				return -EPROTO;
		for (size_t k = 0; k < s->n_location_id; k++)
			if (ref_find(&r->locs, s->location_id[k]) < 0)
				return -EPROTO;
		for (size_t k = 0; k < s->n_label; k++) {
			const Perftools__Profiles__Label *l = s->label[k];

			if (!ref_str(m, l->key) || !ref_str(m, l->str) || !ref_str(m, l->num_unit))
				return -EPROTO;
		}
	}
	return 0;
}

/* ---- where Go's reader and protobuf-c differ -------------------------------------------- */

enum { SAME, ONLY_GO_REJECTS, ONLY_PROTOBUF_C_REJECTS };

/* Reads a varint as Go does; *diverges gets what protobuf-c would make of it. NULL when
 * it is cut short or longer than ten bytes (both readers reject those). */
static const unsigned char *div_varint(const unsigned char *p, const unsigned char *end,
				       uint64_t *v, int *diverges, int is_length)
{
	const unsigned char *start = p;

	*v = 0;
	for (int shift = 0; p < end && shift < 70; shift += 7) {
		unsigned char b = *p++;

		if (shift == 63 && b > 1)
			*diverges = ONLY_GO_REJECTS;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (is_length && p - start > 5 && !*diverges)
				*diverges = ONLY_PROTOBUF_C_REJECTS;
			return p;
		}
	}
	return NULL;
}

/* Submessage kind of field f of message m (M_COUNT: not a submessage); *is_bool for the
 * bool fields. */
static enum msg div_field(enum msg m, uint64_t f, int *is_bool)
{
	static const enum msg profile[] = {M_COUNT,  M_VALUE_TYPE, M_SAMPLE,  M_MAPPING,
					   M_LOCATION, M_FUNCTION, M_COUNT};

	*is_bool = (m == M_MAPPING && f >= 7 && f <= 10) || (m == M_LOCATION && f == 5);
	if (m == M_PROFILE)
		return f <= 5 ? profile[f] : f == 11 ? M_VALUE_TYPE : M_COUNT;
	if (m == M_SAMPLE && f == 3)
		return M_LABEL;
	if (m == M_LOCATION && f == 4)
		return M_LINE;
	return M_COUNT;
}

/* Which reader alone rejects message m in [p, end), if one does. */
static int divergence_in(const unsigned char *p, const unsigned char *end, enum msg m)
{
	int d = SAME;

	while (p < end && d != ONLY_GO_REJECTS) {
		uint64_t tag, v;
		enum msg sub;
		int is_bool;

		if (!(p = div_varint(p, end, &tag, &d, 0)))
			break;
		if ((tag >> 3) == 0)
			break; /* both reject field 0 */
		if (tag > UINT32_MAX) {
			d = ONLY_GO_REJECTS;
			break;
		}
		sub = div_field(m, tag >> 3, &is_bool);
		if (is_bool && (tag & 7) != 0)
			d = ONLY_GO_REJECTS;
		switch (tag & 7) {
		case 0:
			p = div_varint(p, end, &v, &d, 0);
			break;
		case 1:
		case 5:
			v = (tag & 7) == 1 ? 8 : 4;
			p = (uint64_t)(end - p) < v ? NULL : p + v;
			break;
		case 2:
			if (!(p = div_varint(p, end, &v, &d, 1)) || v > (uint64_t)(end - p))
				return d;
			if (sub != M_COUNT) {
				int in = divergence_in(p, p + v, sub);

				d = in != SAME ? in : d;
			} else {
				/* a packed run may hold an overflowing varint too */
				for (const unsigned char *q = p; q && q < p + v;)
					q = div_varint(q, p + v, &tag, &d, 0);
			}
			p += v;
			break;
		default:
			return d;
		}
		if (!p)
			break;
	}
	return d;
}

static int divergence(const void *data, size_t len)
{
	const unsigned char *p = data;
	struct buf plain;
	int d;

	buf_init(&plain, 0);
	if (pprof_is_gzip(data, len) && pprof_gunzip(data, len, (size_t)1 << 30, &plain) == 0) {
		p = (const unsigned char *)plain.data;
		len = plain.len;
	}
	d = divergence_in(p, p + len, M_PROFILE);
	buf_free(&plain);
	return d;
}

/* ---- comparing two readings ------------------------------------------------------------- */

#define DIFF(...)                                                                         \
	do {                                                                              \
		fprintf(stderr, "    differ: " __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                                    \
		return 0;                                                                 \
	} while (0)

/* Non-zero when o (what we wrote, ids = index + 1) holds what r read, ids resolved. */
static int same_content(const struct ref *r, const pb_profile *o)
{
	const pb_profile *m = r->m;
	int64_t pt[2] = {0, 0}, opt[2] = {0, 0};

	if (m->n_string_table != o->n_string_table)
		DIFF("%zu strings, %zu", m->n_string_table, o->n_string_table);
	for (size_t i = 0; i < m->n_string_table; i++)
		if (strcmp(m->string_table[i], o->string_table[i]) != 0)
			DIFF("string %zu", i);
	if (m->n_sample_type != o->n_sample_type)
		DIFF("sample types");
	for (size_t i = 0; i < m->n_sample_type; i++)
		if (m->sample_type[i]->type != o->sample_type[i]->type ||
		    m->sample_type[i]->unit != o->sample_type[i]->unit)
			DIFF("sample type %zu", i);
	if (m->period_type) {
		pt[0] = m->period_type->type;
		pt[1] = m->period_type->unit;
	}
	if (o->period_type) {
		opt[0] = o->period_type->type;
		opt[1] = o->period_type->unit;
	}
	if (pt[0] != opt[0] || pt[1] != opt[1] || m->period != o->period ||
	    m->time_nanos != o->time_nanos || m->duration_nanos != o->duration_nanos ||
	    m->drop_frames != o->drop_frames || m->keep_frames != o->keep_frames ||
	    m->default_sample_type != o->default_sample_type)
		DIFF("header");
	if (m->n_comment != o->n_comment ||
	    (m->n_comment && memcmp(m->comment, o->comment, m->n_comment * sizeof(int64_t))))
		DIFF("comments");
	if (m->n_mapping != o->n_mapping)
		DIFF("mappings");
	for (size_t i = 0; i < m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *a = m->mapping[i], *b = o->mapping[i];

		if (b->id != i + 1 || a->memory_start != b->memory_start ||
		    a->memory_limit != b->memory_limit || a->file_offset != b->file_offset ||
		    a->filename != b->filename || a->build_id != b->build_id ||
		    !a->has_functions != !b->has_functions ||
		    !a->has_filenames != !b->has_filenames ||
		    !a->has_line_numbers != !b->has_line_numbers ||
		    !a->has_inline_frames != !b->has_inline_frames)
			DIFF("mapping %zu", i);
	}
	if (m->n_function != o->n_function)
		DIFF("functions");
	for (size_t i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *a = m->function[i], *b = o->function[i];

		if (b->id != i + 1 || a->name != b->name || a->system_name != b->system_name ||
		    a->filename != b->filename || a->start_line != b->start_line)
			DIFF("function %zu", i);
	}
	if (m->n_location != o->n_location)
		DIFF("locations");
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *a = m->location[i], *b = o->location[i];
		long mi = a->mapping_id ? ref_find(&r->maps, a->mapping_id) : -1;

		if (b->id != i + 1 || a->address != b->address || !a->is_folded != !b->is_folded ||
		    (long)b->mapping_id - 1 != mi || a->n_line != b->n_line)
			DIFF("location %zu", i);
		for (size_t j = 0; j < a->n_line; j++)
			if ((long)b->line[j]->function_id - 1 !=
				    ref_find(&r->fns, a->line[j]->function_id) ||
			    a->line[j]->line != b->line[j]->line ||
			    a->line[j]->column != b->line[j]->column)
				DIFF("location %zu line %zu", i, j);
	}
	if (m->n_sample != o->n_sample)
		DIFF("%zu samples, %zu", m->n_sample, o->n_sample);
	for (size_t i = 0; i < m->n_sample; i++) {
		const Perftools__Profiles__Sample *a = m->sample[i], *b = o->sample[i];

		if (a->n_value != b->n_value || a->n_location_id != b->n_location_id ||
		    a->n_label != b->n_label ||
		    (a->n_value && memcmp(a->value, b->value, a->n_value * sizeof(int64_t))))
			DIFF("sample %zu", i);
		for (size_t k = 0; k < a->n_location_id; k++)
			if ((long)b->location_id[k] - 1 != ref_find(&r->locs, a->location_id[k]))
				DIFF("sample %zu location %zu", i, k);
		for (size_t k = 0; k < a->n_label; k++)
			if (a->label[k]->key != b->label[k]->key ||
			    a->label[k]->str != b->label[k]->str ||
			    a->label[k]->num != b->label[k]->num ||
			    a->label[k]->num_unit != b->label[k]->num_unit)
				DIFF("sample %zu label %zu", i, k);
	}
	return 1;
}

/* Non-zero when what pprof_encode() wrote for p reads back (protobuf-c) as r's content,
 * is byte for byte what protobuf-c packs for what it read, and gunzips to itself when
 * written compressed. */
static int encoding_agrees(const struct ref *r, const struct pprof_profile *p)
{
	pb_profile *o = NULL;
	struct buf raw, gz, back, repacked;
	int ok = 0;

	buf_init(&raw, 0);
	buf_init(&gz, 0);
	buf_init(&back, 0);
	buf_init(&repacked, 0);
	if (pprof_encode(p, 0, &raw) || pprof_encode(p, 1, &gz) ||
	    pprof_gunzip(gz.data, gz.len, (size_t)1 << 30, &back)) {
		fprintf(stderr, "    encoding failed\n");
		goto out;
	}
	if (back.len != raw.len || memcmp(back.data, raw.data, raw.len) != 0) {
		fprintf(stderr, "    the gzip encoding is not the plain one\n");
		goto out;
	}
	o = perftools__profiles__profile__unpack(NULL, raw.len, (const uint8_t *)raw.data);
	if (!o) {
		fprintf(stderr, "    protobuf-c cannot read the encoding\n");
		goto out;
	}
	if (!same_content(r, o))
		goto out;
	buf_reserve(&repacked, perftools__profiles__profile__get_packed_size(o));
	repacked.len = perftools__profiles__profile__pack(o, (uint8_t *)repacked.data);
	if (repacked.len != raw.len || memcmp(repacked.data, raw.data, raw.len) != 0) {
		fprintf(stderr, "    protobuf-c packs it otherwise (%zu bytes, ours %zu)\n",
			repacked.len, raw.len);
		goto out;
	}
	ok = 1;
out:
	if (o)
		perftools__profiles__profile__free_unpacked(o, NULL);
	buf_free(&raw);
	buf_free(&gz);
	buf_free(&back);
	buf_free(&repacked);
	return ok;
}

/*
 * Reads data both ways. Returns pprof_decode()'s result and sets *agree: the two agree
 * on whether the input is valid (with strict, on the exact error, for inputs with one
 * fault) and, when it is, on its content, and the encoding agrees too (see above).
 * Without strict, an input that only one of the readers rejects for one of the known
 * reasons (see divergence()) counts as agreed.
 */
static int decode_both(const void *data, size_t len, int strict, int *agree)
{
	const struct pprof_limits *lim = &pprof_default_limits;
	struct ref r = {0};
	struct pprof_profile *p = NULL;
	int want, got = pprof_decode(data, len, NULL, &p);

	r.m = ref_unpack(data, len);
	want = !r.m ? -EBADMSG : ref_verdict(&r, lim);
	*agree = (got == 0) == (want == 0) && (!strict || got == want);
	if (*agree && got == 0)
		*agree = encoding_agrees(&r, p);
	else if (!*agree && !strict)
		*agree = divergence(data, len) ==
			 (got == -EBADMSG ? ONLY_GO_REJECTS : ONLY_PROTOBUF_C_REJECTS);
	if (!*agree)
		fprintf(stderr, "    pprof_decode: %d, reference: %d\n", got, want);
	pprof_profile_free(p);
	ref_free(&r);
	return got;
}

/* ---- the corpus of real Go profiles ------------------------------------------------------ */

#define MAX_CORPUS 64

struct corpus {
	struct buf body[MAX_CORPUS];
	char name[MAX_CORPUS][256];
	size_t n;
};

/* The pprof seed corpus: a flags byte, then a profile (gzip or not) of a Go toolchain. */
static void corpus_load(struct corpus *c)
{
	char dir[512], path[800];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/pprof", test_source_dir());
	c->n = 0;
	d = opendir(dir);
	while (d && (e = readdir(d)) != NULL && c->n < MAX_CORPUS) {
		struct buf *b = &c->body[c->n];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf_init(b, 0);
		if (test_read_file(path, b) != 0 || b->len < 2) {
			buf_free(b);
			continue;
		}
		memmove(b->data, b->data + 1, --b->len);
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", e->d_name);
		c->n++;
	}
	if (d)
		closedir(d);
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		buf_free(&c->body[i]);
}

TEST(real_go_profiles_read_as_protobuf_c_reads_them)
{
	struct corpus c;
	int agree, accepted = 0;

	corpus_load(&c);
	CHECK_MSG(c.n >= 10, "%zu profiles in the seed corpus", c.n);
	for (size_t i = 0; i < c.n; i++) {
		int r = decode_both(c.body[i].data, c.body[i].len, 1, &agree);

		CHECK_MSG(agree, "%s", c.name[i]);
		accepted += r == 0;
	}
	/* a few are meant for the fuzzer's tight limits; the defaults take them all */
	CHECK_EQ(accepted, (int)c.n);
	corpus_free(&c);
}

/* ---- synthetic profiles ---------------------------------------------------------------- */

/* Every allocation of a synthetic message, freed together. */
struct pool {
	void *p[4096];
	size_t n;
};

static void *pool_alloc(struct pool *pl, size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (pl->n < ARRAY_SIZE(pl->p))
		pl->p[pl->n++] = p;
	return p;
}

static void pool_free(struct pool *pl)
{
	while (pl->n)
		free(pl->p[--pl->n]);
}

#define NEW(pl, type, n) ((type *)pool_alloc(pl, (n) * sizeof(type)))

/* An id for row i: dense (i + 1), or sparse and distinct, some above 2^32. */
static uint64_t synth_id(size_t i, int sparse)
{
	return sparse ? (rng() & ~(uint64_t)0xfff) + 4096 * (i + 1) : i + 1;
}

/* Any int64, now and then a negative one (ten bytes on the wire). */
static int64_t any_int(void)
{
	uint64_t r = rng();

	return r % 5 == 0 ? -(int64_t)(r % 1000) : (int64_t)(r % 100000);
}

/* A random valid profile in protobuf-c structs. */
static void synth(struct pool *pl, pb_profile *m, int sparse)
{
	size_t ns = 1 + rng() % 24, nm = rng() % 3, nf = 1 + rng() % 12, nl = 1 + rng() % 20;
	size_t nsmp = rng() % 40, nt = 1 + rng() % 4;

	perftools__profiles__profile__init(m);
	m->n_string_table = ns;
	m->string_table = NEW(pl, char *, ns);
	for (size_t i = 0; i < ns; i++) {
		size_t len = i ? rng() % 24 : 0;
		char *s = NEW(pl, char, len + 1);

		for (size_t k = 0; k < len; k++)
			s[k] = (char)(1 + rng() % 255);
		m->string_table[i] = s;
	}
#define STR() ((int64_t)(rng() % ns))
	m->n_sample_type = nt;
	m->sample_type = NEW(pl, Perftools__Profiles__ValueType *, nt);
	for (size_t i = 0; i < nt; i++) {
		m->sample_type[i] = NEW(pl, Perftools__Profiles__ValueType, 1);
		perftools__profiles__value_type__init(m->sample_type[i]);
		m->sample_type[i]->type = STR();
		m->sample_type[i]->unit = STR();
	}
	m->n_mapping = nm;
	m->mapping = NEW(pl, Perftools__Profiles__Mapping *, nm);
	for (size_t i = 0; i < nm; i++) {
		Perftools__Profiles__Mapping *x = NEW(pl, Perftools__Profiles__Mapping, 1);

		perftools__profiles__mapping__init(x);
		m->mapping[i] = x;
		x->id = synth_id(i, sparse);
		x->memory_start = rng();
		x->memory_limit = rng() >> (rng() % 64);
		x->file_offset = rng() % 3 ? 0 : rng();
		x->filename = STR();
		x->build_id = STR();
		x->has_functions = rng() & 1;
		x->has_filenames = rng() & 1;
		x->has_line_numbers = rng() & 1;
		x->has_inline_frames = rng() & 1;
	}
	m->n_function = nf;
	m->function = NEW(pl, Perftools__Profiles__Function *, nf);
	for (size_t i = 0; i < nf; i++) {
		Perftools__Profiles__Function *x = m->function[i] =
		    NEW(pl, Perftools__Profiles__Function, 1);

		perftools__profiles__function__init(x);
		x->id = synth_id(i, sparse);
		x->name = STR();
		x->system_name = STR();
		x->filename = STR();
		x->start_line = any_int();
	}
	m->n_location = nl;
	m->location = NEW(pl, Perftools__Profiles__Location *, nl);
	for (size_t i = 0; i < nl; i++) {
		Perftools__Profiles__Location *x = m->location[i] =
		    NEW(pl, Perftools__Profiles__Location, 1);
		size_t n = rng() % 4;

		perftools__profiles__location__init(x);
		x->id = synth_id(i, sparse);
		x->mapping_id = nm && rng() % 4 ? m->mapping[rng() % nm]->id : 0;
		x->address = rng() % 2 ? rng() : rng() % 4096;
		x->is_folded = rng() % 8 == 0;
		x->n_line = n;
		x->line = NEW(pl, Perftools__Profiles__Line *, n);
		for (size_t j = 0; j < n; j++) {
			x->line[j] = NEW(pl, Perftools__Profiles__Line, 1);
			perftools__profiles__line__init(x->line[j]);
			x->line[j]->function_id = m->function[rng() % nf]->id;
			x->line[j]->line = any_int();
			x->line[j]->column = rng() % 3 ? 0 : any_int();
		}
	}
	m->n_sample = nsmp;
	m->sample = NEW(pl, Perftools__Profiles__Sample *, nsmp);
	for (size_t i = 0; i < nsmp; i++) {
		Perftools__Profiles__Sample *x = NEW(pl, Perftools__Profiles__Sample, 1);
		size_t n = rng() % 10, nlb = rng() % 3;

		perftools__profiles__sample__init(x);
		m->sample[i] = x;
		x->n_location_id = n;
		x->location_id = NEW(pl, uint64_t, n);
		for (size_t k = 0; k < n; k++)
			x->location_id[k] = m->location[rng() % nl]->id;
		x->n_value = nt;
		x->value = NEW(pl, int64_t, nt);
		for (size_t k = 0; k < nt; k++)
			x->value[k] = rng() % 4 == 0 ? 0 : (int64_t)(rng() >> (1 + rng() % 63));
		x->n_label = nlb;
		x->label = NEW(pl, Perftools__Profiles__Label *, nlb);
		for (size_t k = 0; k < nlb; k++) {
			Perftools__Profiles__Label *l = NEW(pl, Perftools__Profiles__Label, 1);

			perftools__profiles__label__init(l);
			x->label[k] = l;
			l->key = STR();
			if (rng() % 2) {
				l->str = STR();
			} else {
				l->num = any_int();
				l->num_unit = STR();
			}
		}
	}
	if (rng() % 4) {
		m->period_type = NEW(pl, Perftools__Profiles__ValueType, 1);
		perftools__profiles__value_type__init(m->period_type);
		m->period_type->type = STR();
		m->period_type->unit = STR();
	}
	m->period = any_int();
	m->time_nanos = rng() % 2 ? (int64_t)(rng() >> 1) : any_int();
	m->duration_nanos = any_int();
	m->drop_frames = rng() % 3 ? 0 : STR();
	m->keep_frames = rng() % 3 ? 0 : STR();
	m->default_sample_type = rng() % 2 ? 0 : STR();
	m->n_comment = rng() % 3;
	m->comment = NEW(pl, int64_t, m->n_comment);
	for (size_t i = 0; i < m->n_comment; i++)
		m->comment[i] = STR();
#undef STR
}

static void pack(const pb_profile *m, struct buf *out)
{
	size_t n = perftools__profiles__profile__get_packed_size(m);

	buf_reset(out);
	buf_reserve(out, n);
	out->len = perftools__profiles__profile__pack(m, (uint8_t *)out->data);
}

/* The Profile's own fields in another order: each field number's fields keep their
 * order among themselves, field numbers are put in a random order. */
static void shuffle_fields(const struct buf *in, struct buf *out)
{
	struct field {
		uint64_t rank;
		size_t off, len;
	} f[8192];
	uint64_t rank[64];
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)in->data, *end = p + in->len;

	for (size_t i = 0; i < ARRAY_SIZE(rank); i++)
		rank[i] = rng() % 1000;
	while (p < end && n < ARRAY_SIZE(f)) {
		const unsigned char *start = p;
		uint64_t tag = 0, len = 0;
		int shift = 0;

		do
			tag |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
		while (*p++ & 0x80);
		if ((tag & 7) == 0) {
			while (*p++ & 0x80)
				;
		} else {
			shift = 0;
			do
				len |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
			while (*p++ & 0x80);
			p += len;
		}
		f[n].rank = rank[(tag >> 3) % 64] * 100000 + n;
		f[n].off = (size_t)(start - (const unsigned char *)in->data);
		f[n].len = (size_t)(p - start);
		n++;
	}
	/* insertion sort by rank: stable within a field number by construction */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && f[j - 1].rank > f[j].rank; j--) {
			struct field t = f[j];
			f[j] = f[j - 1];
			f[j - 1] = t;
		}
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_append(out, in->data + f[i].off, f[i].len);
}

TEST(synthetic_profiles_read_and_write_as_protobuf_c_does)
{
	struct buf b, shuffled, gz;
	int agree;

	buf_init(&b, 0);
	buf_init(&shuffled, 0);
	buf_init(&gz, 0);
	for (int iter = 0; iter < 400; iter++) {
		struct pool pl = {.n = 0};
		pb_profile m;

		synth(&pl, &m, iter % 3 == 0);
		pack(&m, &b);
		CHECK_MSG(decode_both(b.data, b.len, 1, &agree) == 0 && agree, "profile %d", iter);
		/* any order of the Profile's fields reads the same */
		shuffle_fields(&b, &shuffled);
		CHECK_EQ(shuffled.len, b.len);
		CHECK_MSG(decode_both(shuffled.data, shuffled.len, 1, &agree) == 0 && agree,
			  "profile %d, fields shuffled", iter);
		buf_reset(&gz);
		CHECK_EQ(pprof_gzip(shuffled.data, shuffled.len, &gz), 0);
		CHECK_MSG(decode_both(gz.data, gz.len, 1, &agree) == 0 && agree,
			  "profile %d, gzip", iter);
		pool_free(&pl);
	}
	buf_free(&b);
	buf_free(&shuffled);
	buf_free(&gz);
}

/* Damages 1 to 3 bytes of a copy of in. */
static void mutate(const struct buf *in, struct buf *out)
{
	buf_reset(out);
	buf_append(out, in->data, in->len);
	for (uint64_t k = 0, n = 1 + rng() % 3; k < n && out->len; k++) {
		size_t at = rng() % out->len;

		switch (rng() % 4) {
		case 0:
			out->data[at] = (char)rng();
			break;
		case 1:
			out->data[at] ^= (char)(1 << (rng() % 8));
			break;
		case 2: /* a likely varint or length */
			out->data[at] = (char)(rng() % 2 ? rng() % 0x80 : 0x80 | rng());
			break;
		default:
			out->len = at; /* cut */
			break;
		}
	}
}

TEST(mutated_profiles_are_judged_as_protobuf_c_judges_them)
{
	struct corpus c;
	struct buf b, mutated;
	int agree, accepted = 0, rejected = 0;

	corpus_load(&c);
	buf_init(&b, 0);
	buf_init(&mutated, 0);
	for (int iter = 0; iter < 6000; iter++) {
		struct pool pl = {.n = 0};
		const struct buf *in = &b;
		pb_profile m;
		int r;

		if (iter % 2 && c.n) {
			/* the plain (not gzip) real profiles */
			in = &c.body[rng() % c.n];
			if (pprof_is_gzip(in->data, in->len))
				continue;
		} else {
			synth(&pl, &m, iter % 4 == 0);
			pack(&m, &b);
		}
		mutate(in, &mutated);
		r = decode_both(mutated.data, mutated.len, 0, &agree);
		CHECK_MSG(agree, "iteration %d: %d", iter, r);
		accepted += r == 0;
		rejected += r != 0;
		pool_free(&pl);
	}
	/* both outcomes are common: the test exercised both */
	CHECK(accepted > 500 && rejected > 500);
	buf_free(&b);
	buf_free(&mutated);
	corpus_free(&c);
}

/* ---- one fault at a time ---------------------------------------------------------------- */

/* pprof_decode()'s result for the small profile with fault f (NULL: none); protobuf-c's
 * verdict in *ref (0 or -EBADMSG, or the reference's -EPROTO/-E2BIG). */
static int small_decode(const struct fault *f, int *ref, struct buf *encoded)
{
	struct pprof_profile *p = NULL;
	struct ref rf = {0};
	struct buf b;
	int r;

	buf_init(&b, 0);
	small_profile(&b, f);
	r = pprof_decode(b.data, b.len, NULL, &p);
	rf.m = ref_unpack(b.data, b.len);
	*ref = rf.m ? ref_verdict(&rf, &pprof_default_limits) : -EBADMSG;
	if (encoded) {
		buf_reset(encoded);
		if (r == 0 && (!encoding_agrees(&rf, p) || pprof_encode(p, 0, encoded)))
			r = -EINVAL;
	}
	ref_free(&rf);
	pprof_profile_free(p);
	buf_free(&b);
	return r;
}

TEST(small_profile_is_valid)
{
	struct buf a;
	int ref;

	buf_init(&a, 0);
	CHECK_EQ(small_decode(NULL, &ref, &a), 0);
	CHECK_EQ(ref, 0);
	CHECK(a.len > 50);
	buf_free(&a);
}

TEST(unknown_fields_of_every_wire_type_are_skipped_in_every_message)
{
	/* field 99 as a varint, a fixed64, bytes and a fixed32; field 2^29 - 1, the last */
	static const struct {
		const char *bytes;
		size_t len;
	} unknown[] = {
	    {"\x98\x06\xac\x02", 4},
	    {"\x99\x06\x01\x02\x03\x04\x05\x06\x07\x08", 10},
	    {"\x9a\x06\x03\x08\x96\x01", 6},
	    {"\x9d\x06\xff\xff\xff\xff", 6},
	    {"\xf8\xff\xff\xff\x0f\x01", 6},
	};
	struct buf want, got;
	int ref;

	buf_init(&want, 0);
	buf_init(&got, 0);
	CHECK_EQ(small_decode(NULL, &ref, &want), 0);
	for (int m = 0; m < M_COUNT; m++) {
		for (size_t u = 0; u < ARRAY_SIZE(unknown); u++) {
			struct fault f = {(enum msg)m, unknown[u].bytes, unknown[u].len, 0};

			CHECK_MSG(small_decode(&f, &ref, &got) == 0 && ref == 0, "%s, unknown %zu",
				  msg_name[m], u);
			/* skipped without a trace: the same profile */
			CHECK_MSG(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
				  "%s, unknown %zu", msg_name[m], u);
		}
	}
	buf_free(&want);
	buf_free(&got);
}

TEST(groups_and_undefined_wire_types_are_rejected_in_every_message)
{
	/* field 99: start group, end group, wire types 6 and 7 */
	static const char *const bad[] = {"\x9b\x06\x9c\x06", "\x9c\x06", "\x9e\x06\x00",
					  "\x9f\x06\x00"};

	for (int m = 0; m < M_COUNT; m++) {
		for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
			struct fault f = {(enum msg)m, bad[k], strlen(bad[k]) + (k >= 2), 0};
			int ref;

			CHECK_MSG(small_decode(&f, &ref, NULL) == -EBADMSG && ref == -EBADMSG,
				  "%s, wire type %zu", msg_name[m], 3 + k + (k >= 2));
		}
	}
}

/* Field numbers of each message and their kind: v varint, b bool (a varint), p repeated
 * varint (packed or not), m submessage or bytes. */
static const char *const fields_of[M_COUNT] = {
    [M_PROFILE] = "mmmmmmvvvvmvpv", [M_VALUE_TYPE] = "vv",    [M_SAMPLE] = "ppm",
    [M_LABEL] = "vvvv",		    [M_MAPPING] = "vvvvvvbbbb", [M_LOCATION] = "vvvmb",
    [M_LINE] = "vvv",		    [M_FUNCTION] = "vvvvv",     [M_PERIOD_TYPE] = "vv",
};

TEST(known_fields_with_another_wire_type_are_rejected)
{
	static const char *const value_of[] = {"\x01", "12345678", "\x01x", "", "", "1234"};

	for (int m = 0; m < M_COUNT; m++) {
		const char *kinds = fields_of[m];

		for (size_t i = 0; kinds[i]; i++) {
			for (unsigned wt = 0; wt <= 5; wt++) {
				struct buf bad;
				struct fault f;
				int ref, r;

				if (wt == 3 || wt == 4 || (wt == 0 && kinds[i] != 'm') ||
				    (wt == 2 && kinds[i] != 'v' && kinds[i] != 'b'))
					continue;
				buf_init(&bad, 0);
				put_tag(&bad, i + 1, wt);
				/* a value of that wire type: 1 byte, 8, "x", 4 */
				buf_append(&bad, value_of[wt], strlen(value_of[wt]));
				f = (struct fault){(enum msg)m, bad.data, bad.len, 0};
				r = small_decode(&f, &ref, NULL);
				/* protobuf-c reads a bool of any wire type; Go's reader does not */
				CHECK_MSG(r == -EBADMSG && (ref == -EBADMSG || kinds[i] == 'b'),
					  "%s field %zu wire type %u: %d", msg_name[m], i + 1, wt,
					  r);
				buf_free(&bad);
			}
		}
	}
}

TEST(unpacked_repeated_fields_read_as_packed_ones)
{
	struct fault unpacked = {M_COUNT, NULL, 0, 1};
	struct buf want, got, mixed;
	struct pprof_profile *p = NULL;
	int ref;

	buf_init(&want, 0);
	buf_init(&got, 0);
	buf_init(&mixed, 0);
	CHECK_EQ(small_decode(NULL, &ref, &want), 0);
	CHECK_EQ(small_decode(&unpacked, &ref, &got), 0);
	CHECK_EQ(ref, 0);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
	/* A run split in pieces, packed and not: location ids 1, 2, 2, values 3, 4. */
	put_bytes(&mixed, 6, "", 0);
	put_bytes(&mixed, 6, "v", 1);
	put_bytes(&mixed, 1, "\x08\x01\x10\x01", 4);
	put_bytes(&mixed, 1, "\x08\x01\x10\x01", 4); /* a second sample type */
	put_bytes(&mixed, 4, "\x08\x01", 2);
	put_bytes(&mixed, 4, "\x08\x02", 2);
	put_bytes(&mixed, 2, "\x08\x01\x0a\x01\x02\x08\x02\x12\x01\x03\x10\x04", 12);
	put_uint(&mixed, 13, 1);
	put_bytes(&mixed, 13, "\x01", 1);
	CHECK_EQ(pprof_decode(mixed.data, mixed.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_count(p), 1);
	CHECK_EQ(pprof_sample_values(p, 0)[0], 3);
	CHECK_EQ(pprof_sample_values(p, 0)[1], 4);
	pprof_profile_free(p);
	{
		pb_profile *m = ref_unpack(mixed.data, mixed.len);

		CHECK(m);
		CHECK_EQ(m->sample[0]->n_location_id, 3);
		CHECK_EQ(m->sample[0]->location_id[2], 2);
		CHECK_EQ(m->n_comment, 2);
		perftools__profiles__profile__free_unpacked(m, NULL);
	}
	buf_free(&want);
	buf_free(&got);
	buf_free(&mixed);
}

/* pprof_decode() of the small profile with bytes appended to the Profile. */
static int with_tail(const void *bytes, size_t len)
{
	struct fault f = {M_PROFILE, bytes, len, 0};
	int ref;

	return small_decode(&f, &ref, NULL);
}

/* Same, appended to message m, with protobuf-c's verdict. */
static int with_fault(enum msg m, const void *bytes, size_t len, int *ref)
{
	struct fault f = {m, bytes, len, 0};

	return small_decode(&f, ref, NULL);
}

TEST(truncated_varints_and_lengths_are_rejected)
{
	int ref;

	/* a tag, a varint, a length cut short at the end of the input */
	CHECK_EQ(with_tail("\xf8", 1), -EBADMSG);
	CHECK_EQ(with_tail("\x48\xff", 2), -EBADMSG);
	CHECK_EQ(with_tail("\x48\xff\xff\xff", 4), -EBADMSG);
	CHECK_EQ(with_tail("\x12\x85", 2), -EBADMSG);
	/* lengths past the end of the input and of the enclosing message */
	CHECK_EQ(with_tail("\x12\x05\x08", 3), -EBADMSG);
	CHECK_EQ(with_tail("\x32\x7f", 2), -EBADMSG);
	CHECK_EQ(with_tail("\x12\xff\xff\xff\xff\x0f", 6), -EBADMSG);
	CHECK(with_fault(M_SAMPLE, "\x1a\x09\x08\x01", 4, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_LOCATION, "\x22\x05", 2, &ref) == -EBADMSG && ref == -EBADMSG);
	/* a packed run, and a submessage, that end in the middle of a varint */
	CHECK(with_fault(M_SAMPLE, "\x0a\x01\x81", 3, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_SAMPLE, "\x0a\x02\x01\x81", 4, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_LINE, "\x10", 1, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_LABEL, "\x18\x80", 2, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_MAPPING, "\x80", 1, &ref) == -EBADMSG && ref == -EBADMSG);
}

TEST(varints_longer_than_64_bits_are_rejected)
{
	struct pprof_profile *p = NULL;
	struct buf b;
	int ref;

	/* ten bytes, the last holding bit 63: time_nanos -1, a valid value */
	buf_init(&b, 0);
	small_profile(&b, NULL);
	buf_append(&b, "\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_time_ns(p), -1);
	pprof_profile_free(p);
	buf_free(&b);
	/* a tenth byte with more than bit 63, as Go's reader rejects it */
	CHECK_EQ(with_tail("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11), -EBADMSG);
	CHECK_EQ(with_tail("\x48\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 11), -EBADMSG);
	/* eleven bytes: protobuf-c rejects it too */
	CHECK(with_fault(M_PROFILE, "\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x01", 12,
			 &ref) == -EBADMSG && ref == -EBADMSG);
	/* in a packed run, a submessage, a length and a tag */
	CHECK_EQ(with_fault(M_SAMPLE, "\x0a\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x03", 12, &ref),
		 -EBADMSG);
	CHECK_EQ(with_fault(M_LINE, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7e", 11, &ref),
		 -EBADMSG);
	CHECK_EQ(with_tail("\x32\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11), -EBADMSG);
	CHECK_EQ(with_tail("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00", 11), -EBADMSG);
}

TEST(lengths_may_take_up_to_ten_bytes)
{
	struct pprof_profile *p = NULL;
	struct buf b;

	/* an empty string, its length in six bytes: valid protobuf, as Go reads it */
	buf_init(&b, 0);
	small_profile(&b, NULL);
	buf_append(&b, "\x32\x80\x80\x80\x80\x80\x00", 7);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_count(p), 2);
	pprof_profile_free(p);
	buf_free(&b);
}

TEST(field_numbers_must_be_valid)
{
	int ref;

	/* 0, and 2^29 (a five-byte tag) */
	CHECK(with_fault(M_PROFILE, "\x00\x05", 2, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK(with_fault(M_SAMPLE, "\x00\x05", 2, &ref) == -EBADMSG && ref == -EBADMSG);
	CHECK_EQ(with_tail("\x80\x80\x80\x80\x10\x01", 6), -EBADMSG);
	CHECK_EQ(with_fault(M_LABEL, "\x80\x80\x80\x80\x10\x01", 6, &ref), -EBADMSG);
}

TEST(the_last_period_type_wins)
{
	struct pprof_profile *p = NULL;
	pb_profile *m;
	struct buf b, enc;

	/* as Go's reader and protobuf-c take it: the second replaces the first */
	buf_init(&b, 0);
	buf_init(&enc, 0);
	small_profile(&b, NULL);
	buf_append(&b, "\x5a\x02\x08\x03", 4);
	m = ref_unpack(b.data, b.len);
	CHECK(m && m->period_type->type == 3 && m->period_type->unit == 0);
	perftools__profiles__profile__free_unpacked(m, NULL);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_encode(p, 0, &enc), 0);
	m = ref_unpack(enc.data, enc.len);
	CHECK(m && m->period_type->type == 3 && m->period_type->unit == 0);
	perftools__profiles__profile__free_unpacked(m, NULL);
	pprof_profile_free(p);
	buf_free(&b);
	buf_free(&enc);
}

static int frame_name(void *ctx, const char *function, const char *file, int64_t line,
		      uint64_t address)
{
	(void)file;
	(void)line;
	(void)address;
	snprintf(ctx, 32, "%s", function);
	return 1;
}

TEST(strings_end_at_their_first_nul)
{
	struct pprof_profile *p = NULL;
	char name[32];
	struct buf b;

	buf_init(&b, 0);
	put_bytes(&b, 6, "", 0);
	put_bytes(&b, 6, "ma\0in.f", 7);
	put_bytes(&b, 5, "\x08\x01\x10\x01", 4);
	put_bytes(&b, 4, "\x08\x01\x22\x02\x08\x01", 6);
	put_bytes(&b, 2, "\x0a\x01\x01", 3);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_frames(p, 0, frame_name, name), 1);
	CHECK_STR(name, "ma");
	pprof_profile_free(p);
	/* string 0 must be empty: "\0x" is */
	buf_reset(&b);
	put_bytes(&b, 6, "\0x", 2);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	pprof_profile_free(p);
	buf_free(&b);
}

static int frame_address(void *ctx, const char *function, const char *file, int64_t line,
			 uint64_t address)
{
	uint64_t **next = ctx;

	(void)function;
	(void)file;
	(void)line;
	*(*next)++ = address;
	return 0;
}

TEST(sparse_ids_are_resolved_whatever_their_bits)
{
	/* 200000 locations whose ids differ only above bit 32, in descending order: the
	 * worst case of an index keyed on low bits, and input an attacker controls */
	size_t n = 200000;
	struct pprof_profile *p = NULL;
	uint64_t addr[2], *next = addr, ids[2];
	struct buf b, loc;

	buf_init(&b, 0);
	buf_init(&loc, 0);
	put_bytes(&b, 6, "", 0);
	for (size_t i = 0; i < n; i++) {
		put_uint(&loc, 1, (uint64_t)(n - i) << 32 | 5);
		put_uint(&loc, 3, 0x1000 + i);
		put_bytes(&b, 4, loc.data, loc.len);
		buf_reset(&loc);
	}
	ids[0] = (uint64_t)1 << 32 | 5;	      /* the last location */
	ids[1] = (uint64_t)n << 32 | 5;	      /* the first */
	put_repeated(&loc, 1, ids, 2, 0);
	put_bytes(&b, 2, loc.data, loc.len);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), 0);
	CHECK_EQ(pprof_sample_frames(p, 0, frame_address, &next), 0);
	CHECK_EQ(addr[0], 0x1000 + n - 1);
	CHECK_EQ(addr[1], 0x1000);
	pprof_profile_free(p);
	/* a repeated one among them is found too */
	put_bytes(&b, 4, "\x08\x05", 2);
	put_bytes(&b, 4, "\x08\x05", 2);
	CHECK_EQ(pprof_decode(b.data, b.len, NULL, &p), -EPROTO);
	buf_free(&b);
	buf_free(&loc);
}

/* ---- the encoder's chunks and bounds ------------------------------------------------------ */

/* A profile of about 600 KiB of protobuf: many more than one chunk of the encoder. */
static struct pprof_profile *large_profile(void)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	uint64_t locs[500];

	pprof_builder_add_sample_type(b, "alloc_objects", "count");
	pprof_builder_add_sample_type(b, "alloc_space", "bytes");
	for (size_t i = 0; i < ARRAY_SIZE(locs); i++) {
		char name[32];
		struct pprof_line ln;

		snprintf(name, sizeof(name), "main.fn%zu", i);
		ln.function_id = pprof_builder_function(b, name, name, "main.go", (int64_t)i);
		ln.line = (int64_t)(i * 3);
		locs[i] = pprof_builder_location(b, 0, 0x400000 + i * 16, &ln, 1);
	}
	for (int i = 0; i < 20000; i++) {
		uint64_t stack[12];
		int64_t v[2] = {1 + (int64_t)(rng() % 100), (int64_t)(rng() % 1000000)};

		for (size_t k = 0; k < ARRAY_SIZE(stack); k++)
			stack[k] = locs[rng() % ARRAY_SIZE(locs)];
		pprof_builder_add_sample(b, stack, ARRAY_SIZE(stack), v, 2, NULL, 0);
	}
	pprof_builder_finish(b, &p);
	pprof_builder_free(b);
	return p;
}

TEST(gzip_encoding_spans_many_chunks)
{
	struct pprof_profile *p = large_profile();
	struct buf raw, gz, back;

	CHECK(p);
	buf_init(&raw, 0);
	buf_init(&gz, 0);
	buf_init(&back, 0);
	CHECK_EQ(pprof_encode(p, 0, &raw), 0);
	CHECK(raw.len > (size_t)512 << 10);
	/* appended after what out holds already */
	buf_append(&gz, "prefix", 6);
	CHECK_EQ(pprof_encode(p, 1, &gz), 0);
	CHECK_EQ(memcmp(gz.data, "prefix", 6), 0);
	CHECK_EQ(pprof_gunzip(gz.data + 6, gz.len - 6, (size_t)1 << 30, &back), 0);
	CHECK(back.len == raw.len && memcmp(back.data, raw.data, raw.len) == 0);
	pprof_profile_free(p);
	buf_free(&raw);
	buf_free(&gz);
	buf_free(&back);
}

TEST(encoding_past_the_bound_of_out_leaves_it_as_it_was)
{
	struct pprof_profile *p = large_profile();
	struct buf small;

	CHECK(p);
	for (int gzip = 0; gzip <= 1; gzip++) {
		buf_init(&small, 100000);
		buf_append(&small, "abc", 3);
		CHECK_EQ(pprof_encode(p, gzip, &small), -E2BIG);
		CHECK_EQ(small.len, 3);
		CHECK_STR(small.data, "abc");
		buf_free(&small);
	}
	pprof_profile_free(p);
}

/* ---- gunzip's cap ---------------------------------------------------------------------- */

TEST(gunzip_cap_is_exact)
{
	struct buf data, gz, out, two;

	buf_init(&data, 0);
	buf_init(&gz, 0);
	buf_init(&two, 0);
	for (int i = 0; i < 200000; i++) {
		char c = (char)('a' + rng() % 4);

		buf_append(&data, &c, 1);
	}
	CHECK_EQ(pprof_gzip(data.data, data.len, &gz), 0);
	/* exactly the cap, one byte less, and out's own bound at the size */
	buf_init(&out, 0);
	CHECK_EQ(pprof_gunzip(gz.data, gz.len, data.len, &out), 0);
	CHECK(out.len == data.len && memcmp(out.data, data.data, data.len) == 0);
	buf_free(&out);
	buf_init(&out, 0);
	CHECK_EQ(pprof_gunzip(gz.data, gz.len, data.len - 1, &out), -E2BIG);
	CHECK_EQ(out.len, 0);
	buf_free(&out);
	buf_init(&out, data.len);
	CHECK_EQ(pprof_gunzip(gz.data, gz.len, data.len, &out), 0);
	CHECK_EQ(out.len, data.len);
	buf_free(&out);
	buf_init(&out, data.len - 1);
	CHECK_EQ(pprof_gunzip(gz.data, gz.len, data.len, &out), -E2BIG);
	buf_free(&out);
	/* two members: the trailer's size is the second's only */
	buf_append(&two, gz.data, gz.len);
	CHECK_EQ(pprof_gzip("xyz", 3, &two), 0);
	buf_init(&out, 0);
	CHECK_EQ(pprof_gunzip(two.data, two.len, (size_t)1 << 30, &out), 0);
	CHECK_EQ(out.len, data.len + 3);
	CHECK_EQ(memcmp(out.data + data.len, "xyz", 3), 0);
	buf_free(&out);
	/* a trailer that claims more than the input could hold is only a hint, bounded by
	 * deflate's best ratio (1032:1) */
	gz.data[gz.len - 1] = (char)0x7f;
	buf_init(&out, 0);
	CHECK_EQ(pprof_gunzip(gz.data, gz.len, (size_t)1 << 30, &out), -EBADMSG);
	CHECK(out.cap <= 2 * (gz.len * 1032 + 2));
	buf_free(&out);
	buf_free(&data);
	buf_free(&gz);
	buf_free(&two);
}
