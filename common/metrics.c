/*
 * The metrics registry and its Prometheus text exposition (format 0.0.4).
 *
 * Shape: the registry holds a list of families in registration order under its own
 * mutex; each family holds its series in a chained hash table (fast lookup with
 * thousands of series, one per container) plus a list in creation order (the order of
 * the exposition), both under the family's mutex. A series never moves once created,
 * so its handle can be used without any lock:
 *
 *   - counters keep integral increments in an atomic integer (metric_inc is a single
 *     fetch_add and stays exact past 2^53 increments of 1) and any fractional part as
 *     a double stored as bits, added with a compare-and-swap loop;
 *   - gauges keep one double as bits (set is a store, add a CAS loop);
 *   - histograms keep one atomic count per bucket (not cumulative: observe touches
 *     one slot) plus the +Inf slot, and the sum as double bits. The rendered _count
 *     is the sum of the slots, so it always equals the +Inf bucket even while other
 *     threads observe.
 *
 * A series is identified by its escaped label text (l1="v1",l2="v2"), which is also
 * what rendering prints, so lookups and the exposition agree on identity. Label
 * values that are not valid UTF-8 have the bad bytes replaced by U+FFFD, since the
 * exposition format must be UTF-8.
 *
 * Lock order: registry, then family (only metrics_render takes both).
 */
#define LOG_MODULE "metrics"
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "list.h"
#include "log.h"
#include "timeutil.h"

/* Bounds on what callers may declare; exceeding them is a programming error. */
#define METRICS_MAX_LABELS 16
#define METRICS_MAX_BUCKETS 64
#define METRICS_MAX_NAME 256
/* Label values come from outside (container ids, pod names): bound one series' label
 * text and a family's number of series, so a cardinality bug cannot eat the heap. */
#define METRICS_MAX_LABEL_TEXT 8192
#define METRICS_MAX_SERIES 100000
#define METRICS_TABLE_INITIAL 16

const double metrics_duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					   0.1,   0.25,   0.5,   1,    2.5,   5,
					   10,    30,     60,    120};
const size_t metrics_duration_buckets_len =
    sizeof(metrics_duration_buckets) / sizeof(metrics_duration_buckets[0]);

struct metric {
	struct metric_family *family;
	struct metric *hash_next; /* chain in the family's table */
	struct list_node node;    /* family's series, creation order */
	uint64_t hash;
	char *labels; /* escaped label text, "" without labels */
	enum metric_type type;
	_Atomic uint64_t ints; /* counter: integral increments */
	_Atomic uint64_t bits; /* double: counter remainder, gauge value, histogram sum */
	_Atomic uint64_t slots[]; /* histogram: per-bucket counts, last one is +Inf */
};

struct metric_family {
	struct list_node node; /* registry's families, registration order */
	enum metric_type type;
	char *name;
	char *help;
	char **label_names;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	pthread_mutex_t lock;
	struct metric **table; /* size is a power of two */
	size_t table_size;
	size_t nseries;
	struct list_node series;
	struct log_ratelimit full_log;
};

struct metrics_registry {
	pthread_mutex_t lock;
	struct list_node families;
	/* called before each rendering (metrics_on_render) */
	void (*collect)(void *ctx);
	void (*collect_free)(void *ctx);
	void *collect_ctx;
};

static uint64_t to_bits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

static double from_bits(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, to_bits(from_bits(old) + v),
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* ---- names and escaping ---- */

static int valid_metric_name(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++, n++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    *p == '_' || *p == ':';
		if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
			return 0;
	}
	return n <= METRICS_MAX_NAME;
}

static int valid_label_name(const char *s)
{
	size_t n = 0;

	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return 0;
	for (const char *p = s; *p; p++, n++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
		if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
			return 0;
	}
	return n <= METRICS_MAX_NAME;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends s escaped: backslash and newline always, double quote when quote is set
 * (label values; HELP text leaves quotes alone). Invalid UTF-8 becomes U+FFFD. */
static int append_escaped(struct buf *out, const char *s, int quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), run = 0;
	int r = 0;

	for (size_t i = 0; i < n;) {
		const char *esc = NULL;
		size_t len = utf8_len(p + i, n - i);

		if (p[i] == '\\')
			esc = "\\\\";
		else if (p[i] == '\n')
			esc = "\\n";
		else if (p[i] == '"' && quote)
			esc = "\\\"";
		else if (len == 0)
			esc = "\xef\xbf\xbd";
		if (!esc) {
			i += len;
			run += len;
			continue;
		}
		r = buf_append(out, s + i - run, run);
		if (!r)
			r = buf_append_str(out, esc);
		if (r)
			return r;
		run = 0;
		i++;
	}
	return buf_append(out, s + n - run, run);
}

/*
 * Formats a sample value as Prometheus parsers read it: integers without exponent or
 * fraction (up to 2^63, beyond which %.0f would print long digit strings), other values
 * with the fewest digits that read back to the same double, and +Inf/-Inf/NaN.
 */
static void format_value(double v, char out[40])
{
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) { /* also -0 */
		strcpy(out, "0");
		return;
	}
	if (v == trunc(v) && fabs(v) < 9.2e18) {
		snprintf(out, 40, "%lld", (long long)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* ---- registry and families ---- */

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	list_init(&r->families);
	return r;
}

static void series_free(struct metric *m)
{
	if (!m)
		return;
	free(m->labels);
	free(m);
}

static void family_free(struct metric_family *f)
{
	struct list_node *pos, *tmp;

	if (!f)
		return;
	list_for_each_safe(pos, tmp, &f->series)
		series_free(list_entry(pos, struct metric, node));
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->table);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void metrics_registry_free(struct metrics_registry *r)
{
	struct list_node *pos, *tmp;

	if (!r)
		return;
	if (r->collect_free)
		r->collect_free(r->collect_ctx);
	list_for_each_safe(pos, tmp, &r->families)
		family_free(list_entry(pos, struct metric_family, node));
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int same_shape(const struct metric_family *f, enum metric_type type,
		      const char *const *label_names, size_t nlabels, const double *buckets,
		      size_t nbuckets)
{
	if (f->type != type || f->nlabels != nlabels || f->nbounds != nbuckets)
		return 0;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(f->label_names[i], label_names[i]) != 0)
			return 0;
	for (size_t i = 0; i < nbuckets; i++)
		if (f->bounds[i] != buckets[i])
			return 0;
	return 1;
}

/* Whether name a equals b followed by one of a histogram's sample suffixes. */
static int is_histogram_sample_of(const char *a, const char *b)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	size_t n = strlen(b);

	if (strncmp(a, b, n) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(a + n, suffixes[i]) == 0)
			return 1;
	return 0;
}

/* Checks the declaration itself: names, label count, bucket bounds. */
static int valid_declaration(enum metric_type type, const char *name,
			     const char *const *label_names, size_t nlabels,
			     const double *buckets, size_t nbuckets)
{
	if (!valid_metric_name(name) || nlabels > METRICS_MAX_LABELS ||
	    (nlabels && !label_names))
		return 0;
	for (size_t i = 0; i < nlabels; i++) {
		if (!valid_label_name(label_names[i]))
			return 0;
		/* le is the bucket label of histograms */
		if (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(label_names[i], label_names[j]) == 0)
				return 0;
	}
	if (type != METRIC_HISTOGRAM)
		return !buckets && nbuckets == 0;
	if (nbuckets > METRICS_MAX_BUCKETS || (nbuckets && !buckets))
		return 0;
	for (size_t i = 0; i < nbuckets; i++) {
		/* +Inf is implicit; NaN has no place in an ordering */
		if (!isfinite(buckets[i]) || (i && !(buckets[i] > buckets[i - 1])))
			return 0;
	}
	return 1;
}

static struct metric_family *family_new(enum metric_type type, const char *name,
					const char *help, const char *const *label_names,
					size_t nlabels, const double *buckets, size_t nbuckets)
{
	struct metric_family *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->type = type;
	f->nlabels = nlabels;
	f->nbounds = nbuckets;
	pthread_mutex_init(&f->lock, NULL);
	list_init(&f->series);
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->table_size = METRICS_TABLE_INITIAL;
	f->table = calloc(f->table_size, sizeof(*f->table));
	if (nlabels)
		f->label_names = calloc(nlabels, sizeof(*f->label_names));
	if (nbuckets)
		f->bounds = malloc(nbuckets * sizeof(*f->bounds));
	if (!f->name || !f->help || !f->table || (nlabels && !f->label_names) ||
	    (nbuckets && !f->bounds))
		goto fail;
	for (size_t i = 0; i < nlabels; i++) {
		f->label_names[i] = strdup(label_names[i]);
		if (!f->label_names[i])
			goto fail;
	}
	if (nbuckets)
		memcpy(f->bounds, buckets, nbuckets * sizeof(*f->bounds));
	return f;
fail:
	family_free(f);
	return NULL;
}

struct metric_family *metrics_family(struct metrics_registry *r, enum metric_type type,
				     const char *name, const char *help,
				     const char *const *label_names, size_t nlabels,
				     const double *buckets, size_t nbuckets)
{
	struct metric_family *f = NULL;
	struct list_node *pos, *tmp;

	if (!r || !valid_declaration(type, name, label_names, nlabels, buckets, nbuckets)) {
		log_error("invalid declaration of metric %s", name ? name : "(null)");
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	list_for_each_safe(pos, tmp, &r->families) {
		struct metric_family *g = list_entry(pos, struct metric_family, node);

		if (strcmp(g->name, name) == 0) {
			if (same_shape(g, type, label_names, nlabels, buckets, nbuckets))
				f = g;
			else
				log_error("metric %s re-registered with another type, labels "
					  "or buckets", name);
			goto out;
		}
		/* a histogram's x_count etc. would collide with a family of that name */
		if ((g->type == METRIC_HISTOGRAM && is_histogram_sample_of(name, g->name)) ||
		    (type == METRIC_HISTOGRAM && is_histogram_sample_of(g->name, name))) {
			log_error("metric %s collides with the samples of %s", name, g->name);
			goto out;
		}
	}
	f = family_new(type, name, help, label_names, nlabels, buckets, nbuckets);
	if (f)
		list_push_back(&r->families, &f->node);
out:
	pthread_mutex_unlock(&r->lock);
	return f;
}

/* ---- series ---- */

/* Builds the escaped label text of a series into out. */
static int label_text(const struct metric_family *f, const char *const *values,
		      struct buf *out)
{
	int r = 0;

	for (size_t i = 0; i < f->nlabels && !r; i++) {
		if (!values[i])
			return -EINVAL;
		r = buf_printf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
		if (!r)
			r = append_escaped(out, values[i], 1);
		if (!r)
			r = buf_append_str(out, "\"");
	}
	return r;
}

/* Finds the series with this label text; *prevp gets the chain link pointing to it. */
static struct metric *lookup(struct metric_family *f, const char *text, uint64_t h,
			     struct metric ***prevp)
{
	struct metric **pp = &f->table[h & (f->table_size - 1)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if ((*pp)->hash == h && strcmp((*pp)->labels, text) == 0)
			break;
	}
	if (prevp)
		*prevp = pp;
	return *pp;
}

/* Doubles the table when it is full; on allocation failure the chains just grow. */
static void maybe_grow(struct metric_family *f)
{
	size_t size = f->table_size * 2;
	struct metric **table;
	struct list_node *pos, *tmp;

	if (f->nseries < f->table_size)
		return;
	table = calloc(size, sizeof(*table));
	if (!table)
		return;
	list_for_each_safe(pos, tmp, &f->series) {
		struct metric *m = list_entry(pos, struct metric, node);
		struct metric **slot = &table[m->hash & (size - 1)];

		m->hash_next = *slot;
		*slot = m;
	}
	free(f->table);
	f->table = table;
	f->table_size = size;
}

struct metric *metrics_series(struct metric_family *f, const char *const *label_values)
{
	struct metric *m = NULL;
	struct metric **slot;
	struct buf text;
	size_t nslots;
	uint64_t h;

	if (!f || (f->nlabels && !label_values))
		return NULL;
	buf_init(&text, METRICS_MAX_LABEL_TEXT);
	if (label_text(f, label_values, &text) || buf_append(&text, "", 0)) {
		log_error("metric %s: label values invalid or too long", f->name);
		goto out_free;
	}
	h = hash64(text.data, text.len, 0);
	pthread_mutex_lock(&f->lock);
	m = lookup(f, text.data, h, NULL);
	if (m)
		goto out;
	if (f->nseries >= METRICS_MAX_SERIES) {
		if (log_ratelimit_allow(&f->full_log, 60 * NS_PER_SEC))
			log_error("metric %s: more than %d series, dropping new ones", f->name,
				  METRICS_MAX_SERIES);
		goto out;
	}
	nslots = f->type == METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
	m = calloc(1, sizeof(*m) + nslots * sizeof(m->slots[0]));
	if (!m)
		goto out;
	m->family = f;
	m->type = f->type;
	m->hash = h;
	m->labels = strdup(text.data); /* not buf_steal: keep only the bytes needed */
	if (!m->labels) {
		free(m);
		m = NULL;
		goto out;
	}
	for (size_t i = 0; i < nslots; i++)
		atomic_init(&m->slots[i], 0);
	atomic_init(&m->ints, 0);
	atomic_init(&m->bits, to_bits(0.0));
	slot = &f->table[h & (f->table_size - 1)];
	m->hash_next = *slot;
	*slot = m;
	list_push_back(&f->series, &m->node);
	f->nseries++;
	maybe_grow(f);
out:
	pthread_mutex_unlock(&f->lock);
out_free:
	buf_free(&text);
	return m;
}

int metrics_series_remove(struct metric_family *f, const char *const *label_values)
{
	struct metric *m, **pp;
	struct buf text;
	int r = -ENOENT;

	if (!f || (f->nlabels && !label_values))
		return -ENOENT;
	buf_init(&text, METRICS_MAX_LABEL_TEXT);
	if (label_text(f, label_values, &text) || buf_append(&text, "", 0))
		goto out_free;
	pthread_mutex_lock(&f->lock);
	m = lookup(f, text.data, hash64(text.data, text.len, 0), &pp);
	if (m) {
		*pp = m->hash_next;
		list_remove(&m->node);
		f->nseries--;
		series_free(m);
		r = 0;
	}
	pthread_mutex_unlock(&f->lock);
out_free:
	buf_free(&text);
	return r;
}

static struct metric *unlabelled(struct metrics_registry *r, enum metric_type type,
				 const char *name, const char *help, const double *buckets,
				 size_t nbuckets)
{
	struct metric_family *f = metrics_family(r, type, name, help, NULL, 0, buckets, nbuckets);

	return f ? metrics_series(f, NULL) : NULL;
}

struct metric *metrics_counter(struct metrics_registry *r, const char *name, const char *help)
{
	return unlabelled(r, METRIC_COUNTER, name, help, NULL, 0);
}

struct metric *metrics_gauge(struct metrics_registry *r, const char *name, const char *help)
{
	return unlabelled(r, METRIC_GAUGE, name, help, NULL, 0);
}

struct metric *metrics_histogram(struct metrics_registry *r, const char *name,
				 const char *help, const double *buckets, size_t nbuckets)
{
	return unlabelled(r, METRIC_HISTOGRAM, name, help, buckets, nbuckets);
}

/* ---- updates ---- */

void metric_add(struct metric *m, double v)
{
	if (!m)
		return;
	switch (m->type) {
	case METRIC_COUNTER:
		if (!(v > 0)) /* negative, zero and NaN */
			return;
		/* Integral steps stay exact in the integer; 2^53 bounds exact conversion. */
		if (v < 9007199254740992.0 && v == trunc(v))
			atomic_fetch_add_explicit(&m->ints, (uint64_t)v, memory_order_relaxed);
		else
			atomic_add_double(&m->bits, v);
		break;
	case METRIC_GAUGE:
		atomic_add_double(&m->bits, v);
		break;
	case METRIC_HISTOGRAM:
		break;
	}
}

void metric_inc(struct metric *m)
{
	if (m && m->type == METRIC_COUNTER)
		atomic_fetch_add_explicit(&m->ints, 1, memory_order_relaxed);
	else
		metric_add(m, 1);
}

void metric_set(struct metric *m, double v)
{
	if (m && m->type == METRIC_GAUGE)
		atomic_store_explicit(&m->bits, to_bits(v), memory_order_relaxed);
}

void metric_observe(struct metric *m, double v)
{
	const double *bounds;
	size_t lo = 0, hi;

	if (!m || m->type != METRIC_HISTOGRAM)
		return;
	bounds = m->family->bounds;
	hi = m->family->nbounds;
	if (isnan(v)) {
		lo = hi; /* NaN is less or equal to no bound: only +Inf holds it */
	} else {
		/* first bound >= v */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (bounds[mid] < v)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	atomic_fetch_add_explicit(&m->slots[lo], 1, memory_order_relaxed);
	atomic_add_double(&m->bits, v);
}

double metric_value(const struct metric *m)
{
	double v;

	if (!m)
		return 0;
	v = from_bits(atomic_load_explicit(&m->bits, memory_order_relaxed));
	if (m->type == METRIC_COUNTER)
		v += (double)atomic_load_explicit(&m->ints, memory_order_relaxed);
	return v;
}

unsigned long long metric_count(const struct metric *m)
{
	unsigned long long n = 0;

	if (!m || m->type != METRIC_HISTOGRAM)
		return 0;
	for (size_t i = 0; i <= m->family->nbounds; i++)
		n += atomic_load_explicit(&m->slots[i], memory_order_relaxed);
	return n;
}

/* ---- rendering ---- */

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* One sample line: name{labels[,extra]} value */
static int sample(struct buf *out, const char *name, const char *suffix, const char *labels,
		  const char *extra, double v)
{
	char num[40];
	int braces = *labels || extra;

	format_value(v, num);
	return buf_printf(out, "%s%s%s%s%s%s%s %s\n", name, suffix, braces ? "{" : "", labels,
			  *labels && extra ? "," : "", extra ? extra : "", braces ? "}" : "",
			  num);
}

static int render_histogram(struct buf *out, const struct metric_family *f,
			    const struct metric *m)
{
	unsigned long long cum = 0;
	char le[64], num[40];
	int r = 0;

	for (size_t i = 0; i <= f->nbounds && !r; i++) {
		cum += atomic_load_explicit(&m->slots[i], memory_order_relaxed);
		if (i < f->nbounds)
			format_value(f->bounds[i], num);
		snprintf(le, sizeof(le), "le=\"%s\"", i < f->nbounds ? num : "+Inf");
		r = sample(out, f->name, "_bucket", m->labels, le, (double)cum);
	}
	if (!r)
		r = sample(out, f->name, "_sum", m->labels, NULL,
			   from_bits(atomic_load_explicit(&m->bits, memory_order_relaxed)));
	if (!r)
		r = sample(out, f->name, "_count", m->labels, NULL, (double)cum);
	return r;
}

static int render_family(struct metric_family *f, struct buf *out)
{
	struct list_node *pos, *tmp;
	int r;

	r = buf_printf(out, "# HELP %s ", f->name);
	if (!r)
		r = append_escaped(out, f->help, 0);
	if (!r)
		r = buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
	pthread_mutex_lock(&f->lock);
	list_for_each_safe(pos, tmp, &f->series) {
		struct metric *m = list_entry(pos, struct metric, node);

		if (r)
			break;
		if (f->type == METRIC_HISTOGRAM)
			r = render_histogram(out, f, m);
		else
			r = sample(out, f->name, "", m->labels, NULL, metric_value(m));
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

void metrics_on_render(struct metrics_registry *r, void (*collect)(void *ctx),
		       void (*collect_free)(void *ctx), void *ctx)
{
	if (r->collect_free)
		r->collect_free(r->collect_ctx);
	r->collect = collect;
	r->collect_free = collect_free;
	r->collect_ctx = ctx;
}

int metrics_render(struct metrics_registry *r, struct buf *out)
{
	struct list_node *pos, *tmp;
	int ret = 0;

	if (!r)
		return 0;
	if (r->collect)
		r->collect(r->collect_ctx);
	pthread_mutex_lock(&r->lock);
	list_for_each_safe(pos, tmp, &r->families) {
		ret = render_family(list_entry(pos, struct metric_family, node), out);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
