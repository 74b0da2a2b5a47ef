/*
 * Decoding of pprof bytes from outside: gunzip (capped), then a reader of the protobuf
 * wire format (wire.h) that parses straight into podprof's own layout (profile.h) and
 * checks every limit, string index and reference on the way.
 *
 * Two walks over the bytes. The first reads the framing only (tags and lengths, down
 * to the fields of samples and locations) and counts the rows of every table, so that
 * the limits hold before anything is allocated, every table is allocated once at its
 * size, and string indexes can be checked where they are read although Go writes the
 * string table after everything that refers to it. The second walk parses every field
 * into the tables. References by id are resolved last, when every id is known.
 *
 * Why not protobuf-c's unpack: it allocates a struct per sample, location and line and
 * 8 bytes per varint, which made decoding cost three times the gunzip of the same
 * profile; the cluster role decodes every scraped profile, and tests/bench/scrape.c
 * holds its CPU to 3x the gunzip+gzip floor. protobuf-c and profile.proto stay as the
 * reference: tests/unit/pprof_wire_test.c decodes real and mutated profiles with both
 * and checks that they agree.
 *
 * Both forms of a repeated scalar are read (packed, as Go writes them, or one field per
 * value); unknown fields are skipped by their wire type; a known field with another wire
 * type than its own is -EBADMSG, as in Go's pprof reader (protobuf-c, the reference
 * reader of the unit tests, agrees but for bools, which it takes in any wire type). A
 * string ends at its first NUL byte: the string table holds C strings.
 *
 * Why a budget: a protobuf of empty submessages or one-byte varints expands in memory
 * (two bytes of input make a 32-byte location, one byte an 8-byte location id). Every
 * allocation is charged against DECODE_BUDGET_FACTOR times the input (at most
 * DECODE_BUDGET_MAX) before it is made, and decoding stops with -E2BIG when it would go
 * past that. Go's profiles need 2 to 6 times their protobuf size. The caller's pool
 * (struct pprof_limits), when there is one, is a second bound shared with other work:
 * the gunzip buffer and the profile's tables draw from it as they grow, the id maps
 * when they are allocated.
 *
 * Why renumbering: the input's ids are only checked for being non-zero, unique and
 * referenced correctly; afterwards each row's id is its index + 1, so every later walk
 * of the profile indexes arrays directly.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "pprof"
#include "decode.h"

#define DECODE_BUDGET_FACTOR 16
#define DECODE_BUDGET_MIN ((size_t)1 << 20)
#define DECODE_BUDGET_MAX ((size_t)1 << 30)

const struct pprof_limits pprof_default_limits = {
    .max_compressed = (size_t)16 << 20,
    .max_decompressed = (size_t)64 << 20,
    .max_samples = (size_t)1 << 20,
    .max_locations = (size_t)1 << 20,
    .max_functions = (size_t)1 << 20,
    .max_strings = (size_t)1 << 20,
    .max_stack_depth = 1024,
    .max_values = 16,
};

/* ---- the budget --------------------------------------------------------------------- */

/* Takes size bytes from the budget; -E2BIG when they are not left. */
int pprof_decode_charge(struct dec *d, size_t size)
{
	if (size > d->budget) {
		log_debug("decode: %zu bytes of protobuf exceed the memory budget", d->len);
		return -E2BIG;
	}
	d->budget -= size;
	return 0;
}

/* Takes size bytes for the id maps (memory outside the profile's tables) from the budget
 * and from the caller's pool, which gets them back when the decode ends. */
static int charge_maps(struct dec *d, size_t size)
{
	int ret = pprof_decode_charge(d, size);

	if (!ret && d->lim->pool && !(ret = d->lim->pool->take(d->lim->pool, size)))
		d->pooled += size;
	return ret;
}

/* Makes room for n more bytes in table t, charging the growth first; the capacity is
 * computed as buf_reserve() will grow it (doubling). */
int pprof_decode_reserve(struct dec *d, struct buf *t, size_t n)
{
	size_t cap;
	int ret;

	if (t->cap - t->len > n)
		return 0;
	if (n > d->budget)
		return pprof_decode_charge(d, n);
	cap = t->cap ? t->cap : 256;
	while (cap < t->len + n + 1)
		cap *= 2;
	ret = pprof_decode_charge(d, cap - t->cap);
	return ret ? ret : buf_reserve(t, n);
}

/* Makes room for exactly n more bytes in table t, not rounded up to a power of two, for
 * the tables whose size the first walk counted: that size is t's bound while it is
 * allocated. */
static int reserve_exact(struct dec *d, struct buf *t, size_t n)
{
	size_t max = t->max;
	int ret;

	if (t->cap - t->len > n)
		return 0;
	ret = pprof_decode_charge(d, t->len + n + 1 - t->cap);
	if (ret)
		return ret;
	t->max = t->len + n;
	ret = buf_reserve(t, n);
	t->max = max;
	return ret;
}

/* ---- id -> index maps --------------------------------------------------------------- */

/* Index + 1 of the row with this id, or 0 when there is none. */
static inline size_t idmap_find(const struct idmap *m, uint64_t id)
{
	size_t lo = 0, hi = m->n;

	if (m->dense)
		return id - 1 < m->n ? (size_t)id : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->sorted[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->sorted[lo].id == id ? (size_t)m->sorted[lo].index + 1 : 0;
}

/* Sorts the ids read into m when they are not 1..n (a radix sort: eight passes over
 * the bytes of the ids); -EPROTO on a zero or repeated id. */
static int idmap_index(struct dec *d, struct idmap *m, const char *what)
{
	struct id_row *tmp = NULL, *from, *to;
	int ret = 0;

	if (m->dense)
		goto out;
	if ((ret = charge_maps(d, 2 * (m->n + 1) * sizeof(*tmp))))
		goto out;
	ret = -ENOMEM;
	m->sorted = malloc((m->n + 1) * sizeof(*m->sorted));
	tmp = malloc((m->n + 1) * sizeof(*tmp));
	if (!m->sorted || !tmp)
		goto out;
	for (size_t i = 0; i < m->n; i++)
		m->sorted[i] = (struct id_row){m->ids[i], i};
	from = m->sorted;
	to = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[257] = {0};
		struct id_row *t;

		for (size_t i = 0; i < m->n; i++)
			count[((from[i].id >> shift) & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < m->n; i++)
			to[count[(from[i].id >> shift) & 0xff]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	/* eight passes: the sorted rows are back in m->sorted */
	ret = 0;
	for (size_t i = 0; i < m->n && !ret; i++) {
		if (m->sorted[i].id == 0 || (i > 0 && m->sorted[i].id == m->sorted[i - 1].id)) {
			log_debug("decode: %s id %llu is zero or repeated", what,
				  (unsigned long long)m->sorted[i].id);
			ret = -EPROTO;
		}
	}
out:
	free(tmp);
	return ret;
}

static void idmap_free(struct idmap *m)
{
	free(m->ids);
	free(m->sorted);
}

/* ---- the first walk: framing and row counts ----------------------------------------- */

/* Rows of each table, from the first walk: the Profile's, indexed by field number, and
 * those inside samples and locations. */
struct counts {
	size_t rows[PROFILE_STRING_TABLE + 1];
	size_t string_bytes, locids, labels, lines;
};

/* Counts the location ids and labels of a sample, or the lines of a location (field
 * counted: its field number for them). Only the framing is checked here. */
static int scan_rows(const uint8_t *p, const uint8_t *end, uint32_t ids, uint32_t counted,
		     size_t *nids, size_t *nrows)
{
	while (p < end) {
		const uint8_t *value;
		uint32_t f;
		unsigned wt;
		size_t n;

		if (wire_tag(&p, end, &f, &wt))
			return -EBADMSG;
		value = p;
		if (wt == WT_LEN) {
			if (wire_len(&p, end, &n))
				return -EBADMSG;
			value = p;
			p += n;
		} else if (wire_skip(&p, end, wt)) {
			return -EBADMSG;
		}
		if (f == ids)
			*nids += wt == WT_LEN ? wire_varints_in(value, p) : 1;
		else if (f == counted)
			(*nrows)++;
	}
	return 0;
}

static int scan_profile(const uint8_t *p, const uint8_t *end, struct counts *c)
{
	while (p < end) {
		const uint8_t *value;
		uint32_t f;
		unsigned wt;
		size_t n = 0, none = 0;
		int ret = 0;

		if (wire_tag(&p, end, &f, &wt) || !profile_wire_type_ok(f, wt))
			return -EBADMSG;
		if (wt != WT_LEN) {
			if (wire_skip(&p, end, wt))
				return -EBADMSG;
			continue;
		}
		if (wire_len(&p, end, &n))
			return -EBADMSG;
		value = p;
		p += n;
		if (f <= PROFILE_STRING_TABLE)
			c->rows[f]++;
		if (f == PROFILE_STRING_TABLE)
			c->string_bytes += n;
		else if (f == PROFILE_SAMPLE)
			ret = scan_rows(value, p, SAMPLE_LOCATION_ID, SAMPLE_LABEL, &c->locids,
					&c->labels);
		else if (f == PROFILE_LOCATION)
			ret = scan_rows(value, p, 0, LOCATION_LINE, &none, &c->lines);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_counts(const struct counts *c, const struct pprof_limits *lim)
{
	const size_t *n = c->rows;
	int ret = 0;

	if (n[PROFILE_SAMPLE] > lim->max_samples || n[PROFILE_LOCATION] > lim->max_locations ||
	    n[PROFILE_MAPPING] > lim->max_locations || n[PROFILE_FUNCTION] > lim->max_functions ||
	    n[PROFILE_STRING_TABLE] > lim->max_strings ||
	    n[PROFILE_SAMPLE_TYPE] > lim->max_values) {
		log_debug("decode: too large: %zu samples, %zu locations, %zu mappings, "
			  "%zu functions, %zu strings, %zu sample types",
			  n[PROFILE_SAMPLE], n[PROFILE_LOCATION], n[PROFILE_MAPPING],
			  n[PROFILE_FUNCTION], n[PROFILE_STRING_TABLE], n[PROFILE_SAMPLE_TYPE]);
		ret = -E2BIG;
	}
	return ret;
}

static int alloc_ids(struct dec *d, struct idmap *m, size_t n)
{
	int ret = charge_maps(d, (n + 1) * sizeof(*m->ids));

	if (ret)
		return ret;
	m->n = n;
	m->dense = 1;
	m->ids = malloc((n + 1) * sizeof(*m->ids));
	return m->ids ? 0 : -ENOMEM;
}

/* Allocates every table whose size the first walk told. */
static int alloc_tables(struct dec *d, const struct counts *c)
{
	struct pprof_profile *p = d->p;
	const size_t *n = c->rows;
	size_t values;
	int ret = -E2BIG;

	if (__builtin_mul_overflow(n[PROFILE_SAMPLE], n[PROFILE_SAMPLE_TYPE], &values) ||
	    __builtin_mul_overflow(values, sizeof(int64_t), &values))
		goto out;
	if ((ret = alloc_ids(d, &d->maps, n[PROFILE_MAPPING])) ||
	    (ret = alloc_ids(d, &d->fns, n[PROFILE_FUNCTION])) ||
	    (ret = alloc_ids(d, &d->locs, n[PROFILE_LOCATION])) ||
	    (ret = reserve_exact(d, &p->types, n[PROFILE_SAMPLE_TYPE] * sizeof(struct pp_vtype))) ||
	    (ret = reserve_exact(d, &p->samples, n[PROFILE_SAMPLE] * sizeof(struct pp_sample))) ||
	    (ret = reserve_exact(d, &p->values, values)) ||
	    (ret = reserve_exact(d, &p->mappings,
				 n[PROFILE_MAPPING] * sizeof(struct pp_mapping))) ||
	    (ret = reserve_exact(d, &p->locations,
				 n[PROFILE_LOCATION] * sizeof(struct pp_location))) ||
	    (ret = reserve_exact(d, &p->functions,
				 n[PROFILE_FUNCTION] * sizeof(struct pp_function))) ||
	    (ret = reserve_exact(d, &p->stroff, n[PROFILE_STRING_TABLE] * sizeof(size_t))) ||
	    (ret = reserve_exact(d, &p->strdata, c->string_bytes + n[PROFILE_STRING_TABLE])) ||
	    (ret = reserve_exact(d, &p->locids, c->locids * sizeof(uint64_t))) ||
	    (ret = reserve_exact(d, &p->labels, c->labels * sizeof(struct pp_label))) ||
	    (ret = reserve_exact(d, &p->lines, c->lines * sizeof(struct pp_line))))
		goto out;
	ret = 0;
out:
	return ret;
}

/* ---- references ---------------------------------------------------------------------- */

/* Replaces the ids in ids[0..n) by the index + 1 of their row in m; the index of the
 * first id that has no row, or n. */
static size_t resolve_ids(const struct idmap *m, uint64_t *ids, size_t n)
{
	size_t bad = n;

	if (m->dense) {
		/* ids are already index + 1: only the range is checked, branch-free */
		uint64_t out = 0;

		for (size_t k = 0; k < n; k++)
			out |= ids[k] - 1 >= m->n;
		for (size_t k = 0; out && k < n && bad == n; k++)
			if (ids[k] - 1 >= m->n)
				bad = k;
		return bad;
	}
	for (size_t k = 0; k < n && bad == n; k++) {
		size_t idx = idmap_find(m, ids[k]);

		if (idx)
			ids[k] = idx;
		else
			bad = k;
	}
	return bad;
}

static int resolve(struct dec *d)
{
	struct pprof_profile *p = d->p;
	struct pp_location *locs = PP_ROWS(&p->locations, struct pp_location);
	struct pp_line *lines = PP_ROWS(&p->lines, struct pp_line);
	uint64_t *locids = PP_ROWS(&p->locids, uint64_t);
	size_t nlocs = PP_COUNT(&p->locations, struct pp_location), k;
	int ret;

	if ((ret = idmap_index(d, &d->maps, "mapping")) ||
	    (ret = idmap_index(d, &d->fns, "function")) ||
	    (ret = idmap_index(d, &d->locs, "location")))
		goto out;
	for (size_t i = 0; i < nlocs; i++) {
		struct pp_line *ln = lines + locs[i].line_off;
		uint64_t mid = locs[i].mapping_id;

		if (mid && !(locs[i].mapping_id = idmap_find(&d->maps, mid)))
			BAD("location %zu: no mapping %llu", i, (unsigned long long)mid);
		for (uint32_t j = 0; j < locs[i].nlines; j++) {
			uint64_t fid = ln[j].function_id;

			if (!(ln[j].function_id = idmap_find(&d->fns, fid)))
				BAD("location %zu: no function %llu", i, (unsigned long long)fid);
		}
	}
	/* Every location id belongs to a sample, in sample order: one run over them all,
	 * unless the ids are dense and the range seen while parsing is within it. */
	k = d->locs.dense && d->locid_min >= 1 && d->locid_max <= d->locs.n
		? PP_COUNT(&p->locids, uint64_t)
		: resolve_ids(&d->locs, locids, PP_COUNT(&p->locids, uint64_t));
	if (k < PP_COUNT(&p->locids, uint64_t)) {
		size_t i = 0;

		while (i + 1 < pp_nsamples(p) &&
		       PP_ROW(&p->samples, struct pp_sample, i + 1)->loc_off <= k)
			i++;
		BAD("sample %zu: no location %llu", i, (unsigned long long)locids[k]);
	}
	if (!str_ok(d, (uint64_t)p->period_type.type) ||
	    !str_ok(d, (uint64_t)p->period_type.unit) || !str_ok(d, (uint64_t)p->drop_frames) ||
	    !str_ok(d, (uint64_t)p->keep_frames) || !str_ok(d, (uint64_t)p->default_sample_type))
		BAD("profile: bad string index");
	ret = 0;
out:
	return ret;
}

/* ---- entry point -------------------------------------------------------------------- */

static int decode_protobuf(const uint8_t *data, size_t len, const struct pprof_limits *lim,
			   struct pprof_profile **out)
{
	struct dec d = {.lim = lim, .len = len, .locid_min = UINT64_MAX};
	struct counts c;
	int ret;

	memset(&c, 0, sizeof(c));
	if ((ret = scan_profile(data, data + len, &c)) || (ret = check_counts(&c, lim)))
		goto out;
	if (c.rows[PROFILE_STRING_TABLE] == 0)
		BAD("string_table[0] is not \"\"");
	d.budget = len > (DECODE_BUDGET_MAX - DECODE_BUDGET_MIN) / DECODE_BUDGET_FACTOR
		       ? DECODE_BUDGET_MAX
		       : DECODE_BUDGET_MIN + len * DECODE_BUDGET_FACTOR;
	d.nstrings = c.rows[PROFILE_STRING_TABLE];
	d.ntypes = c.rows[PROFILE_SAMPLE_TYPE];
	d.depth = lim->max_stack_depth < UINT32_MAX ? lim->max_stack_depth : UINT32_MAX;
	ret = -ENOMEM;
	d.p = pprof_profile_alloc(lim->pool);
	if (!d.p)
		goto out;
	if ((ret = alloc_tables(&d, &c)) || (ret = pprof_decode_fields(&d, data, data + len)) ||
	    (ret = resolve(&d)))
		goto out;
	*out = d.p;
	d.p = NULL;
out:
	idmap_free(&d.maps);
	idmap_free(&d.fns);
	idmap_free(&d.locs);
	if (d.pooled)
		lim->pool->give(lim->pool, d.pooled);
	pprof_profile_free(d.p);
	return ret;
}

int pprof_decode(const void *data, size_t len, const struct pprof_limits *lim,
		 struct pprof_profile **out)
{
	struct buf plain;
	int ret = -E2BIG;

	if (!lim)
		lim = &pprof_default_limits;
	buf_init_pool(&plain, lim->max_decompressed, lim->pool);
	if (pprof_is_gzip(data, len)) {
		if (len > lim->max_compressed)
			goto out;
		ret = pprof_gunzip(data, len, lim->max_decompressed, &plain);
		if (ret)
			goto out;
		data = plain.data;
		len = plain.len;
	} else if (len > lim->max_decompressed) {
		goto out;
	}
	ret = -EBADMSG;
	if (len == 0)
		goto out;
	ret = decode_protobuf(data, len, lim, out);
out:
	buf_free(&plain);
	return ret;
}
