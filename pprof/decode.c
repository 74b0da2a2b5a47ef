/*
 * Decoding of pprof bytes from outside: gunzip (capped), protobuf-c unpack under an
 * allocation budget, then a validating copy into podprof's own layout (profile.h).
 *
 * Why a budget: protobuf-c allocates a struct per message and 8 bytes per varint
 * element, so a protobuf made of empty submessages or one-byte varints expands to tens
 * of times its size in memory. The allocator handed to protobuf-c refuses to go past
 * DECODE_BUDGET_FACTOR times the input (never more than DECODE_BUDGET_MAX); frees are
 * not credited, which keeps the bound simple and also covers protobuf-c's scratch
 * allocations. Go's heap, block, mutex and goroutine profiles measure 6 to 9 times their
 * protobuf size; short stacks with labels reach about 11.
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
#include "htab.h"
#include "profile.h"
#include "profile.pb-c.h"

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

typedef Perftools__Profiles__Profile pb_profile;

/* ---- the allocation budget of protobuf-c ------------------------------------------- */

/*
 * protobuf-c allocates a small struct per message (a sample, a location, a line...):
 * tens of thousands of mallocs and frees per profile. They come from an arena here,
 * chunks carved in order and freed all at once after the conversion, which is where
 * most of the decoding time went otherwise.
 */
#define ARENA_CHUNK ((size_t)256 << 10)

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct budget {
	size_t left;
	int exceeded;
	struct chunk *chunks;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	struct chunk *c = b->chunks;
	void *p = NULL;

	size = (size + 15) & ~(size_t)15;
	if (size > b->left) {
		b->exceeded = 1;
		goto out;
	}
	b->left -= size;
	if (!c || c->size - c->used < size) {
		size_t n = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
		c = malloc(sizeof(*c) + n);
		if (!c)
			goto out;
		c->used = 0;
		c->size = n;
		/* a large allocation gets a chunk of its own, behind the current one */
		if (b->chunks && n != ARENA_CHUNK) {
			c->next = b->chunks->next;
			b->chunks->next = c;
		} else {
			c->next = b->chunks;
			b->chunks = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += size;
out:
	return p;
}

static void budget_free(void *data, void *ptr)
{
	/* everything goes at once, in budget_release */
	(void)data;
	(void)ptr;
}

static void budget_release(struct budget *b)
{
	while (b->chunks) {
		struct chunk *c = b->chunks;
		b->chunks = c->next;
		free(c);
	}
}

/* ---- id -> index maps --------------------------------------------------------------- */

/* The rows' ids in input order; dense when they are 1..n (Go's writer does that), else
 * looked up through a hash index. */
struct idmap {
	uint64_t *ids;
	size_t n;
	int dense;
	struct htab index;
};

struct id_key {
	const struct idmap *m;
	uint64_t id;
};

static int id_eq(const void *ctx, size_t i)
{
	const struct id_key *k = ctx;

	return k->m->ids[i] == k->id;
}

/* Index + 1 of the row with this id, or 0 when there is none. */
static size_t idmap_find(const struct idmap *m, uint64_t id)
{
	struct id_key k = {m, id};

	if (m->dense)
		return id >= 1 && id <= m->n ? (size_t)id : 0;
	return htab_find(&m->index, hash64_u64(id, 0), id_eq, &k);
}

/* Takes ids (n of them, malloc'd); -EPROTO on a zero or duplicate id. */
static int idmap_build(struct idmap *m, uint64_t *ids, size_t n, const char *what)
{
	int ret = 0;

	m->ids = ids;
	m->n = n;
	m->dense = 1;
	for (size_t i = 0; i < n && m->dense; i++)
		m->dense = ids[i] == i + 1;
	if (m->dense)
		goto out;
	ret = htab_init(&m->index, n);
	for (size_t i = 0; i < n && !ret; i++) {
		if (ids[i] == 0 || idmap_find(m, ids[i])) {
			log_debug("decode: %s id %llu is zero or repeated", what,
				  (unsigned long long)ids[i]);
			ret = -EPROTO;
		} else {
			ret = htab_add(&m->index, hash64_u64(ids[i], 0), i);
		}
	}
out:
	return ret;
}

static void idmap_free(struct idmap *m)
{
	free(m->ids);
	htab_free(&m->index);
}

/* ---- validating copy ---------------------------------------------------------------- */

struct conv {
	const pb_profile *m;
	const struct pprof_limits *lim;
	struct pprof_profile *p;
	struct idmap maps, fns, locs;
};

static int str_ok(const struct conv *c, int64_t idx)
{
	return idx >= 0 && (uint64_t)idx < c->m->n_string_table;
}

#define BAD(...)                                                                          \
	do {                                                                              \
		log_debug("decode: " __VA_ARGS__);                                        \
		ret = -EPROTO;                                                            \
		goto out;                                                                 \
	} while (0)

static int check_counts(const pb_profile *m, const struct pprof_limits *lim)
{
	int ret = 0;

	if (m->n_sample > lim->max_samples || m->n_location > lim->max_locations ||
	    m->n_mapping > lim->max_locations || m->n_function > lim->max_functions ||
	    m->n_string_table > lim->max_strings || m->n_sample_type > lim->max_values) {
		log_debug("decode: too large: %zu samples, %zu locations, %zu mappings, "
			  "%zu functions, %zu strings, %zu sample types",
			  m->n_sample, m->n_location, m->n_mapping, m->n_function,
			  m->n_string_table, m->n_sample_type);
		ret = -E2BIG;
	}
	return ret;
}

static int conv_strings(struct conv *c)
{
	const pb_profile *m = c->m;
	size_t total = 0;
	int ret = -ENOMEM;

	if (m->n_string_table == 0 || m->string_table[0][0] != '\0')
		BAD("string_table[0] is not \"\"");
	for (size_t i = 1; i < m->n_string_table; i++)
		total += strlen(m->string_table[i]) + 1;
	if (buf_reserve(&c->p->strdata, total) ||
	    buf_reserve(&c->p->stroff, m->n_string_table * sizeof(size_t)))
		goto out;
	for (size_t i = 1; i < m->n_string_table; i++) {
		const char *s = m->string_table[i];

		if (pprof_profile_add_string(c->p, s, strlen(s)) < 0)
			goto out;
	}
	ret = 0;
out:
	return ret;
}

/* Builds the id map of n protobuf rows whose uint64 id sits at offset off. */
static int build_idmap(struct idmap *map, void *const *rows, size_t n, size_t off,
		       const char *what)
{
	uint64_t *ids = malloc((n + 1) * sizeof(*ids));
	int ret = -ENOMEM;

	if (!ids)
		goto out;
	for (size_t i = 0; i < n; i++)
		memcpy(&ids[i], (const char *)rows[i] + off, sizeof(*ids));
	ret = idmap_build(map, ids, n, what); /* takes ids, even on error */
out:
	return ret;
}

static int conv_header(struct conv *c)
{
	const pb_profile *m = c->m;
	struct pprof_profile *p = c->p;
	int ret = -ENOMEM;

	if (buf_reserve(&p->types, m->n_sample_type * sizeof(struct pp_vtype)))
		goto out;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		struct pp_vtype t = {m->sample_type[i]->type, m->sample_type[i]->unit};

		if (!str_ok(c, t.type) || !str_ok(c, t.unit))
			BAD("sample type %zu: bad string index", i);
		pp_push(&p->types, &t, sizeof(t));
	}
	if (m->period_type) {
		p->period_type.type = m->period_type->type;
		p->period_type.unit = m->period_type->unit;
	}
	if (!str_ok(c, p->period_type.type) || !str_ok(c, p->period_type.unit) ||
	    !str_ok(c, m->drop_frames) || !str_ok(c, m->keep_frames) ||
	    !str_ok(c, m->default_sample_type))
		BAD("profile: bad string index");
	for (size_t i = 0; i < m->n_comment; i++) {
		if (!str_ok(c, m->comment[i]))
			BAD("comment %zu: bad string index", i);
		if (pp_push(&p->comments, &m->comment[i], sizeof(int64_t))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	p->period = m->period;
	p->time_nanos = m->time_nanos;
	p->duration_nanos = m->duration_nanos;
	p->drop_frames = m->drop_frames;
	p->keep_frames = m->keep_frames;
	p->default_sample_type = m->default_sample_type;
	ret = 0;
out:
	return ret;
}

static int conv_tables(struct conv *c)
{
	const pb_profile *m = c->m;
	struct pprof_profile *p = c->p;
	int ret = -ENOMEM;

	if (buf_reserve(&p->mappings, m->n_mapping * sizeof(struct pp_mapping)) ||
	    buf_reserve(&p->functions, m->n_function * sizeof(struct pp_function)) ||
	    buf_reserve(&p->locations, m->n_location * sizeof(struct pp_location)))
		goto out;
	for (size_t i = 0; i < m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *x = m->mapping[i];
		struct pp_mapping r = {x->memory_start, x->memory_limit, x->file_offset,
				       x->filename, x->build_id, !!x->has_functions,
				       !!x->has_filenames, !!x->has_line_numbers,
				       !!x->has_inline_frames};

		if (!str_ok(c, r.filename) || !str_ok(c, r.build_id))
			BAD("mapping %zu: bad string index", i);
		pp_push(&p->mappings, &r, sizeof(r));
	}
	for (size_t i = 0; i < m->n_function; i++) {
		const Perftools__Profiles__Function *x = m->function[i];
		struct pp_function r = {x->name, x->system_name, x->filename, x->start_line};

		if (!str_ok(c, r.name) || !str_ok(c, r.system_name) || !str_ok(c, r.filename))
			BAD("function %zu: bad string index", i);
		pp_push(&p->functions, &r, sizeof(r));
	}
	for (size_t i = 0; i < m->n_location; i++) {
		const Perftools__Profiles__Location *x = m->location[i];
		struct pp_location r = {0, x->address, PP_COUNT(&p->lines, struct pp_line),
					(uint32_t)x->n_line, !!x->is_folded};

		if (x->mapping_id && !(r.mapping_id = idmap_find(&c->maps, x->mapping_id)))
			BAD("location %zu: no mapping %llu", i, (unsigned long long)x->mapping_id);
		if (x->n_line > c->lim->max_stack_depth)
			BAD("location %zu: %zu lines", i, x->n_line);
		for (size_t j = 0; j < x->n_line; j++) {
			const Perftools__Profiles__Line *l = x->line[j];
			struct pp_line r_line = {idmap_find(&c->fns, l->function_id), l->line,
						 l->column};

			if (!r_line.function_id)
				BAD("location %zu: no function %llu", i,
				    (unsigned long long)l->function_id);
			if (pp_push(&p->lines, &r_line, sizeof(r_line))) {
				ret = -ENOMEM;
				goto out;
			}
		}
		pp_push(&p->locations, &r, sizeof(r));
	}
	ret = 0;
out:
	return ret;
}

static int conv_sample(struct conv *c, size_t i)
{
	const Perftools__Profiles__Sample *x = c->m->sample[i];
	struct pprof_profile *p = c->p;
	struct pp_sample s = {PP_COUNT(&p->locids, uint64_t), PP_COUNT(&p->labels, struct pp_label),
			      (uint32_t)x->n_location_id, (uint32_t)x->n_label};
	int ret = -ENOMEM;

	if (x->n_value != c->m->n_sample_type)
		BAD("sample %zu: %zu values for %zu types", i, x->n_value, c->m->n_sample_type);
	if (x->n_location_id > c->lim->max_stack_depth) {
		log_debug("decode: sample %zu: %zu frames", i, x->n_location_id);
		ret = -E2BIG;
		goto out;
	}
	for (size_t k = 0; k < x->n_value; k++)
		if (x->value[k] < 0)
			BAD("sample %zu: negative value", i);
	if (buf_reserve(&p->locids, x->n_location_id * sizeof(uint64_t)) ||
	    buf_reserve(&p->labels, x->n_label * sizeof(struct pp_label)))
		goto out;
	for (size_t k = 0; k < x->n_location_id; k++) {
		uint64_t id = idmap_find(&c->locs, x->location_id[k]);

		if (!id)
			BAD("sample %zu: no location %llu", i,
			    (unsigned long long)x->location_id[k]);
		pp_push(&p->locids, &id, sizeof(id));
	}
	for (size_t k = 0; k < x->n_label; k++) {
		const Perftools__Profiles__Label *l = x->label[k];
		struct pp_label r = {l->key, l->str, l->num, l->num_unit};

		if (!str_ok(c, r.key) || !str_ok(c, r.str) || !str_ok(c, r.num_unit))
			BAD("sample %zu: label: bad string index", i);
		pp_push(&p->labels, &r, sizeof(r));
	}
	if (x->n_value)
		pp_push(&p->values, x->value, x->n_value * sizeof(int64_t));
	pp_push(&p->samples, &s, sizeof(s));
	ret = 0;
out:
	return ret;
}

static int convert(const pb_profile *m, const struct pprof_limits *lim, struct pprof_profile **out)
{
	struct conv c = {.m = m, .lim = lim};
	int ret;

	ret = check_counts(m, lim);
	if (ret)
		goto out;
	ret = -ENOMEM;
	c.p = pprof_profile_alloc();
	if (!c.p)
		goto out;
	if ((ret = conv_strings(&c)) || (ret = conv_header(&c)))
		goto out;
	if ((ret = build_idmap(&c.maps, (void *const *)m->mapping, m->n_mapping,
			       offsetof(Perftools__Profiles__Mapping, id), "mapping")) ||
	    (ret = build_idmap(&c.fns, (void *const *)m->function, m->n_function,
			       offsetof(Perftools__Profiles__Function, id), "function")) ||
	    (ret = build_idmap(&c.locs, (void *const *)m->location, m->n_location,
			       offsetof(Perftools__Profiles__Location, id), "location")))
		goto out;
	if ((ret = conv_tables(&c)))
		goto out;
	ret = -ENOMEM;
	if (buf_reserve(&c.p->samples, m->n_sample * sizeof(struct pp_sample)) ||
	    buf_reserve(&c.p->values, m->n_sample * m->n_sample_type * sizeof(int64_t)))
		goto out;
	for (size_t i = 0; i < m->n_sample; i++)
		if ((ret = conv_sample(&c, i)))
			goto out;
	*out = c.p;
	c.p = NULL;
	ret = 0;
out:
	idmap_free(&c.maps);
	idmap_free(&c.fns);
	idmap_free(&c.locs);
	pprof_profile_free(c.p);
	return ret;
}

int pprof_decode(const void *data, size_t len, const struct pprof_limits *lim,
		 struct pprof_profile **out)
{
	struct budget bud = {0, 0, NULL};
	ProtobufCAllocator alloc = {budget_alloc, budget_free, &bud};
	pb_profile *m = NULL;
	struct buf plain;
	int ret = -E2BIG;

	if (!lim)
		lim = &pprof_default_limits;
	buf_init(&plain, lim->max_decompressed);
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
	bud.left = len > (DECODE_BUDGET_MAX - DECODE_BUDGET_MIN) / DECODE_BUDGET_FACTOR
		       ? DECODE_BUDGET_MAX
		       : DECODE_BUDGET_MIN + len * DECODE_BUDGET_FACTOR;
	m = perftools__profiles__profile__unpack(&alloc, len, data);
	if (!m) {
		if (bud.exceeded) {
			log_debug("decode: %zu bytes of protobuf exceed the memory budget", len);
			ret = -E2BIG;
		}
		goto out;
	}
	ret = convert(m, lim, out);
out:
	/* the unpacked message lives in the arena: no per-message frees */
	budget_release(&bud);
	buf_free(&plain);
	return ret;
}
