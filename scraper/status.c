/*
 * The /targets page: every target with its labels and, per profile type, when it was
 * last scraped, how long it took and what went wrong, like Prometheus's targets page.
 * HTML for people, JSON (?format=json) for scripts and tests.
 */
#define LOG_MODULE "scraper"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static int html_escape(struct buf *out, const char *s)
{
	int r = 0;
	for (; *s && !r; s++) {
		switch (*s) {
		case '<':
			r = buf_append_str(out, "&lt;");
			break;
		case '>':
			r = buf_append_str(out, "&gt;");
			break;
		case '&':
			r = buf_append_str(out, "&amp;");
			break;
		case '"':
			r = buf_append_str(out, "&quot;");
			break;
		case '\'':
			r = buf_append_str(out, "&#39;");
			break;
		default:
			r = buf_append(out, s, 1);
		}
	}
	return r;
}

static void iso_time(int64_t ns, char *out, size_t len)
{
	time_t sec = (time_t)(ns / NS_PER_SEC);
	struct tm tm;
	if (ns <= 0) {
		snprintf(out, len, "never");
		return;
	}
	gmtime_r(&sec, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *state_of(const struct tstate *st)
{
	return st->last_ok < 0 ? "unknown" : st->last_ok ? "up" : "down";
}

static int render_json(struct scraper *s, struct buf *out)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	struct list_node *pos, *tmp;
	char *text = NULL;
	int r = -ENOMEM;

	if (!root)
		return -ENOMEM;
	arr = cJSON_AddArrayToObject(root, "targets");
	cJSON_AddNumberToObject(root, "interval_seconds", (double)s->cfg.interval_ns / 1e9);
	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		cJSON *o = cJSON_CreateObject(), *labels, *types;
		if (!o || !arr)
			goto out;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "id", t->id);
		cJSON_AddStringToObject(o, "url", t->base_url);
		cJSON_AddStringToObject(o, "service_name", t->service_name);
		labels = cJSON_AddObjectToObject(o, "labels");
		for (size_t i = 0; i < t->nlabels && labels; i++)
			cJSON_AddStringToObject(labels, t->label_names[i], t->label_values[i]);
		types = cJSON_AddObjectToObject(o, "types");
		for (int i = 0; i < SCRAPE_NTYPES && types; i++) {
			const struct tstate *st = &t->st[i];
			char when[32];
			cJSON *ty;
			if (!(t->types & st->type))
				continue;
			ty = cJSON_AddObjectToObject(types, scrape_type_name(st->type));
			if (!ty)
				goto out;
			iso_time(st->last_time, when, sizeof(when));
			cJSON_AddStringToObject(ty, "state", state_of(st));
			cJSON_AddStringToObject(ty, "last_scrape", when);
			cJSON_AddNumberToObject(ty, "last_duration_seconds",
						(double)st->last_duration / 1e9);
			cJSON_AddNumberToObject(ty, "last_bytes", (double)st->last_bytes);
			cJSON_AddNumberToObject(ty, "scrapes", (double)st->scrapes);
			cJSON_AddNumberToObject(ty, "failures", (double)st->failures);
			cJSON_AddStringToObject(ty, "error", st->last_error);
			if (st->type != SCRAPE_CPU && st->type != SCRAPE_GOROUTINE)
				cJSON_AddBoolToObject(ty, "godeltaprof", st->godelta > 0);
		}
	}
	text = cJSON_PrintUnformatted(root);
	if (text)
		r = buf_append_str(out, text);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return r;
}

static int render_html(struct scraper *s, struct buf *out)
{
	struct list_node *pos, *tmp;
	int r = buf_printf(out,
			   "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>podprof "
			   "targets</title><style>body{font-family:sans-serif}td,th{padding:2px "
			   "8px;text-align:left;vertical-align:top}.up{color:#080}.down{color:#b00}"
			   "</style></head><body><h1>Targets (%zu)</h1><table><tr><th>target</th>"
			   "<th>service</th><th>labels</th><th>type</th><th>state</th><th>last "
			   "scrape</th><th>duration</th><th>error</th></tr>\n",
			   s->ntargets);

	list_for_each_safe(pos, tmp, &s->targets)
	{
		struct target *t = list_entry(pos, struct target, all);
		for (int i = 0; i < SCRAPE_NTYPES && !r; i++) {
			const struct tstate *st = &t->st[i];
			char when[32];
			if (!(t->types & st->type))
				continue;
			iso_time(st->last_time, when, sizeof(when));
			r = buf_append_str(out, "<tr><td>");
			if (!r)
				r = html_escape(out, t->base_url);
			if (!r)
				r = buf_append_str(out, "</td><td>");
			if (!r)
				r = html_escape(out, t->service_name);
			if (!r)
				r = buf_append_str(out, "</td><td>");
			for (size_t k = 0; k < t->nlabels && !r; k++) {
				r = html_escape(out, t->label_names[k]);
				if (!r)
					r = buf_append_str(out, "=");
				if (!r)
					r = html_escape(out, t->label_values[k]);
				if (!r)
					r = buf_append_str(out, " ");
			}
			if (!r)
				r = buf_printf(out, "</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td>"
						    "<td>%.3f s</td><td>",
					       scrape_type_name(st->type), state_of(st), state_of(st),
					       when, (double)st->last_duration / 1e9);
			if (!r)
				r = html_escape(out, st->last_error);
			if (!r)
				r = buf_append_str(out, "</td></tr>\n");
		}
	}
	if (!r)
		r = buf_append_str(out, "</table></body></html>\n");
	return r;
}

int scraper_status(struct scraper *s, int json, struct buf *out)
{
	int r;
	pthread_mutex_lock(&s->lock);
	r = json ? render_json(s, out) : render_html(s, out);
	pthread_mutex_unlock(&s->lock);
	return r;
}
