/*
 * The Prometheus exposition with label values from outside (container ids, pod and
 * namespace names reach metric labels): families and series declared from the input,
 * updated, some removed, rendered (metrics_render), and the text read back by a strict
 * reader of the text format 0.0.4. Properties: every line is a HELP, TYPE or sample
 * line; label values are quoted with only \\, \" and \n escapes, hold no raw newline
 * and are valid UTF-8; values parse as numbers; and the label values of a fixed family
 * read back as the values given (invalid UTF-8 replaced by U+FFFD), removed series
 * gone.
 *
 * Input: type (1 byte), number of labels (1 byte), then NUL-separated: the family name,
 * its help, its label names, and series: label values followed by a value (8 bytes).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "metrics.h"

#define MAX_SERIES 64
#define FIXED "podprof_fuzz_fixed"

/* The bytes of s with invalid UTF-8 replaced, one byte at a time, by U+FFFD. */
static char *sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;
	char *out = malloc(3 * n + 1);

	FUZZ_CHECK(out);
	for (size_t i = 0; i < n;) {
		size_t len = 0;
		unsigned cp = 0;
		if (p[i] < 0x80)
			len = 1;
		else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			len = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			len = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			len = 4;
		if (len > 1) {
			cp = p[i] & (0x7f >> len);
			for (size_t k = 1; k < len; k++) {
				if (i + k >= n || (p[i + k] & 0xc0) != 0x80) {
					len = 0;
					break;
				}
				cp = cp << 6 | (p[i + k] & 0x3f);
			}
			if (len && ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
				    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
				len = 0;
		}
		if (!len) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	return out;
}

static int valid_utf8(const char *s, size_t n)
{
	char *copy = fuzz_strndup(s, n), *clean = sanitize(copy);
	int ok = strcmp(copy, clean) == 0;

	free(copy);
	free(clean);
	return ok;
}

#define MAX_SEEN (2 * MAX_SERIES + 2)

struct seen {
	char *values[MAX_SEEN];
	size_t n;
};

/* Reads one quoted label value at *p (after the opening quote); returns it decoded. */
static char *read_value(const char **p, const char *end)
{
	struct buf v;
	const char *s = *p;

	buf_init(&v, 0);
	for (;;) {
		FUZZ_CHECK(s < end && *s != '\n');
		if (*s == '"')
			break;
		if (*s == '\\') {
			FUZZ_CHECK(s + 1 < end && (s[1] == '\\' || s[1] == '"' || s[1] == 'n'));
			FUZZ_CHECK(buf_append(&v, s[1] == 'n' ? "\n" : s + 1, 1) == 0);
			s += 2;
			continue;
		}
		FUZZ_CHECK(buf_append(&v, s, 1) == 0);
		s++;
	}
	*p = s + 1;
	FUZZ_CHECK(buf_append(&v, "", 1) == 0);
	FUZZ_CHECK(valid_utf8(v.data, v.len - 1));
	return v.data;
}

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Checks one sample line; records the container_id values of podprof_fuzz_fixed. */
static void sample_line(const char *s, const char *end, struct seen *seen)
{
	const char *name = s, *v;
	size_t nlen;
	char *num, *stop;
	int fixed;

	FUZZ_CHECK(name_char(*s, 1));
	while (s < end && name_char(*s, 0))
		s++;
	nlen = (size_t)(s - name);
	fixed = nlen == strlen(FIXED) && memcmp(name, FIXED, nlen) == 0;
	if (s < end && *s == '{') {
		s++;
		while (*s != '}') {
			const char *lname = s;
			char *value;
			FUZZ_CHECK(name_char(*s, 1) && *s != ':');
			while (s < end && name_char(*s, 0) && *s != ':')
				s++;
			FUZZ_CHECK(s + 1 < end && s[0] == '=' && s[1] == '"');
			s += 2;
			value = read_value(&s, end);
			if (fixed && (size_t)(s - lname) > 12 &&
			    memcmp(lname, "container_id=", 13) == 0) {
				FUZZ_CHECK(seen->n < MAX_SEEN);
				seen->values[seen->n++] = value;
			} else {
				free(value);
			}
			FUZZ_CHECK(s < end && (*s == ',' || *s == '}'));
			if (*s == ',')
				s++;
		}
		s++;
	}
	FUZZ_CHECK(s < end && *s == ' ');
	v = s + 1;
	num = fuzz_strndup(v, (size_t)(end - v));
	if (strcmp(num, "+Inf") && strcmp(num, "-Inf") && strcmp(num, "NaN")) {
		(void)strtod(num, &stop);
		FUZZ_CHECK(*num && !*stop);
	}
	free(num);
}

static void check_exposition(const struct buf *text, struct seen *seen)
{
	const char *p = text->data ? text->data : "", *end = p + text->len;

	FUZZ_CHECK(text->len == 0 || end[-1] == '\n');
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl);
		if (strncmp(p, "# HELP ", 7) == 0) {
			/* the help text: only \\ and \n escapes */
			for (const char *c = p + 7; c < nl; c++)
				if (*c == '\\') {
					FUZZ_CHECK(c + 1 < nl && (c[1] == '\\' || c[1] == 'n'));
					c++;
				}
			FUZZ_CHECK(valid_utf8(p, (size_t)(nl - p)));
		} else if (strncmp(p, "# TYPE ", 7) == 0) {
			FUZZ_CHECK(memmem(p, (size_t)(nl - p), " counter", 8) ||
				   memmem(p, (size_t)(nl - p), " gauge", 6) ||
				   memmem(p, (size_t)(nl - p), " histogram", 10));
		} else {
			sample_line(p, nl, seen);
		}
		p = nl + 1;
	}
}

static int contains(char *const *set, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(set[i], s) == 0)
			return 1;
	return 0;
}

FUZZ_QUIET_INITIALIZE()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double bounds[] = {0.001, 0.1, 1, 10};
	struct fuzz_in in = {data, size};
	enum metric_type type = (enum metric_type)(fuzz_u8(&in) % 3);
	size_t nlabels = fuzz_u8(&in) % 5, nseries = 0, nkept = 0;
	struct metrics_registry *r = metrics_registry_new();
	struct metric_family *fixed, *f;
	char *name = fuzz_token(&in, 0), *help = fuzz_token(&in, 0);
	char *labels[4] = {0}, *kept[MAX_SERIES], *removed[MAX_SERIES];
	const char *const fixed_label[] = {"container_id"};
	size_t nremoved = 0;
	struct seen seen = {0};
	struct buf text;

	FUZZ_CHECK(r);
	fixed = metrics_family(r, METRIC_COUNTER, FIXED, "a \"fixed\" family\\",
			       fixed_label, 1, NULL, 0);
	FUZZ_CHECK(fixed);
	for (size_t i = 0; i < nlabels; i++)
		labels[i] = fuzz_token(&in, 0);
	f = metrics_family(r, type, name ? name : "", help, (const char *const *)labels, nlabels,
			   type == METRIC_HISTOGRAM ? bounds : NULL,
			   type == METRIC_HISTOGRAM ? 4 : 0);
	if (f == fixed)
		f = NULL; /* the same declaration: its series are checked apart */
	while (in.n && nseries < MAX_SERIES) {
		char *values[4] = {0};
		uint64_t bits;
		double v;
		struct metric *m;

		for (size_t i = 0; i < nlabels; i++) {
			values[i] = fuzz_token(&in, 0);
			if (!values[i])
				values[i] = fuzz_strndup("", 0);
		}
		bits = fuzz_u64(&in);
		memcpy(&v, &bits, sizeof(v));
		m = metrics_series(f, (const char *const *)values);
		if (m) {
			if (type == METRIC_COUNTER)
				metric_add(m, v);
			else if (type == METRIC_GAUGE)
				metric_set(m, v);
			else
				metric_observe(m, v);
		}
		/* the fixed family gets the first value as its container_id */
		if (nlabels) {
			struct metric *fm = metrics_series(fixed, (const char *const *)values);
			if (fm) {
				metric_inc(fm);
				if (bits % 5 == 0 &&
				    metrics_series_remove(fixed, (const char *const *)values) == 0)
					removed[nremoved++] = sanitize(values[0]);
				else
					kept[nkept++] = sanitize(values[0]);
			}
		}
		for (size_t i = 0; i < nlabels; i++)
			free(values[i]);
		nseries++;
	}
	buf_init(&text, 0);
	FUZZ_CHECK(metrics_render(r, &text) == 0);
	check_exposition(&text, &seen);
	/* what was kept is there (a later series with equal text may have removed it) */
	for (size_t i = 0; i < seen.n; i++)
		FUZZ_CHECK(contains(kept, nkept, seen.values[i]));
	for (size_t i = 0; i < nkept; i++)
		FUZZ_CHECK(contains(seen.values, seen.n, kept[i]) ||
			   contains(removed, nremoved, kept[i]));
	buf_free(&text);
	for (size_t i = 0; i < seen.n; i++)
		free(seen.values[i]);
	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	for (size_t i = 0; i < nremoved; i++)
		free(removed[i]);
	for (size_t i = 0; i < nlabels; i++)
		free(labels[i]);
	free(name);
	free(help);
	metrics_registry_free(r);
	return 0;
}
