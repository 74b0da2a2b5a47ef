/*
 * Static targets: --target URLs and the targets file (see targets_file.h).
 */
#include "targets_file.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int targets_url_parse(const char *url, char *base, size_t baselen, char *hostport,
		      size_t hplen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		goto out;
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	{
		size_t pl = path ? strlen(path) : 0;
		int n;
		while (pl > 0 && path[pl - 1] == '/')
			pl--;
		snprintf(hostport, hplen, "%s:%s", host, port ? port : "80");
		/* a query stays (a tenant, a token the endpoint wants); the scraper adds each
		 * type's path before it and drops a seconds parameter of its own */
		n = snprintf(base, baselen, "%s://%s%.*s%s%s", scheme, hostport,
			     pl ? (int)pl : (int)strlen("/debug/pprof"), pl ? path : "/debug/pprof",
			     query ? "?" : "", query ? query : "");
		if (n < 0 || (size_t)n >= baselen)
			goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return r;
}

/* One pass over the groups of a file: the check (apply 0) or the additions. */
struct pass {
	const struct targets_file_ops *ops;
	int apply;
	size_t n; /* targets counted (check) or added (apply) */
};

/* Checks or adds the targets of one file_sd group. Returns 0 or a negative errno. */
static int add_group(const cJSON *group, struct pass *p)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(group, "targets");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(group, "labels"), *l, *e;
	const char *scheme = "http", *path = "/debug/pprof", *service = NULL;
	struct scrape_target t = {0};

	/* labels is an object: the members of an array (or of anything else) have no names */
	if (!cJSON_IsArray(targets) || (labels && !cJSON_IsObject(labels) && !cJSON_IsNull(labels)))
		return -EINVAL;
	cJSON_ArrayForEach(l, labels)
	{
		if (!cJSON_IsString(l))
			return -EINVAL;
		if (strcmp(l->string, "__scheme__") == 0)
			scheme = l->valuestring;
		else if (strcmp(l->string, "__metrics_path__") == 0)
			path = l->valuestring;
		else if (strcmp(l->string, "service_name") == 0 ||
			 strcmp(l->string, "service.name") == 0)
			service = l->valuestring;
		else if (strncmp(l->string, "__", 2) != 0 && t.nlabels < SCRAPE_MAX_LABELS - 1) {
			t.label_names[t.nlabels] = l->string;
			t.label_values[t.nlabels++] = l->valuestring;
		}
	}
	cJSON_ArrayForEach(e, targets)
	{
		char url[1024], base[1024], hostport[300];

		if (!cJSON_IsString(e) ||
		    (size_t)snprintf(url, sizeof(url), "%s://%s%s", scheme, e->valuestring, path) >=
			    sizeof(url) ||
		    targets_url_parse(url, base, sizeof(base), hostport, sizeof(hostport)))
			return -EINVAL;
		if (p->ops->wanted && !p->ops->wanted(p->ops->ctx, base))
			continue;
		if (!p->apply) {
			if (p->n >= TARGETS_FILE_MAX_TARGETS)
				return -E2BIG;
			p->n++;
			continue;
		}
		t.id = base;
		t.base_url = base;
		t.service_name = service ? service : hostport;
		t.label_names[t.nlabels] = "instance";
		t.label_values[t.nlabels] = hostport;
		t.nlabels++;
		if (p->ops->add(p->ops->ctx, &t) == 0)
			p->n++;
		t.nlabels--;
	}
	return 0;
}

int targets_file_parse(const char *data, size_t len, const struct targets_file_ops *ops)
{
	struct pass check = {.ops = ops}, apply = {.ops = ops, .apply = 1};
	cJSON *root = cJSON_ParseWithLength(data ? data : "", data ? len : 0), *g;
	int r = -EINVAL;

	if (!cJSON_IsArray(root))
		goto out;
	/* the whole file is checked before anything is added */
	cJSON_ArrayForEach(g, root)
	{
		r = add_group(g, &check);
		if (r)
			goto out;
	}
	cJSON_ArrayForEach(g, root)
		add_group(g, &apply);
	r = (int)apply.n;
out:
	cJSON_Delete(root);
	return r;
}
