/*
 * Helpers of the Helm chart tests; see chart_common.h.
 */
#include "chart_common.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pprof.h"
#include "support.h"

#define DEFAULT_SWAGGER "/work/shared/k8s/swagger-v1.34.json"
#define RENDER_MAX (8u << 20)
#define MAX_ENV 512
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static int has_sample_type(const struct chart_peer *p, const char *file, const char *type);

char *chart_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

const char *chart_dir(void)
{
	static char path[4096];
	if (!path[0])
		snprintf(path, sizeof(path), "%s/charts/podprof", test_source_dir());
	return path;
}

const char *chart_values_dir(void)
{
	static char path[4096];
	if (!path[0])
		snprintf(path, sizeof(path), "%s/tests/integration/chart-values", test_source_dir());
	return path;
}

const char *chart_swagger(void)
{
	const char *env = getenv("PODPROF_K8S_SWAGGER");
	return env && *env ? env : DEFAULT_SWAGGER;
}

const char *chart_renderer(char *why, size_t whylen)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/helm_render/helm_render", test_go_cache_dir());
	if (access(path, X_OK) == 0)
		return path;
	snprintf(why, whylen, "%.300s is missing (the chart_renderer fixture builds it with "
			      "tests/tools/helm_render/build.sh)", path);
	return NULL;
}

char *chart_slurp(const char *path)
{
	struct buf b;

	buf_init(&b, 256u << 20);
	if (test_read_file(path, &b) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* Quotes s for sh -c. */
static void shell_quote(struct buf *b, const char *s)
{
	buf_append_str(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			buf_append_str(b, "'\\''");
		else
			buf_append(b, s, 1);
	}
	buf_append_str(b, "'");
}

int chart_render(const char *const *args, struct chart_render *out)
{
	char why[512];
	const char *bin = chart_renderer(why, sizeof(why));
	char *dir = NULL, *notes = NULL, *errf = NULL;
	struct buf cmd, res;
	int st = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!bin) {
		out->err = strdup(why);
		return -ENOENT;
	}
	dir = test_tmpdir("render");
	notes = chart_asprintf("%s/NOTES.txt", dir);
	errf = chart_asprintf("%s/stderr", dir);
	buf_init(&cmd, 0);
	buf_init(&res, RENDER_MAX);
	for (int pass = 0; pass < 2; pass++) {
		buf_reset(&cmd);
		buf_reset(&res);
		shell_quote(&cmd, bin);
		for (const char *const *a = args; a && *a; a++) {
			buf_append_str(&cmd, " ");
			shell_quote(&cmd, *a);
		}
		buf_printf(&cmd, " --output %s --notes ", pass ? "json" : "yaml");
		shell_quote(&cmd, notes);
		buf_append_str(&cmd, " ");
		shell_quote(&cmd, chart_dir());
		buf_append_str(&cmd, " 2>");
		shell_quote(&cmd, errf);
		st = test_sh(cmd.data, &res, 0);
		if (st != 0) {
			out->err = chart_slurp(errf);
			goto done;
		}
		if (pass == 0) {
			out->yaml = buf_steal(&res, NULL);
		} else {
			out->docs = cJSON_Parse(res.data ? res.data : "");
			if (!cJSON_IsArray(out->docs)) {
				out->err = strdup("the renderer's JSON output is not an array");
				st = -EPROTO;
				goto done;
			}
		}
	}
	out->notes = chart_slurp(notes);
	st = 0;
done:
	buf_free(&cmd);
	buf_free(&res);
	test_rmtree(dir);
	free(dir);
	free(notes);
	free(errf);
	return st;
}

void chart_render_free(struct chart_render *r)
{
	free(r->yaml);
	cJSON_Delete(r->docs);
	free(r->notes);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

cJSON *chart_get(cJSON *obj, const char *path)
{
	char part[256];

	while (obj && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		obj = cJSON_GetObjectItemCaseSensitive(obj, part);
		path += n + (path[n] == '.');
	}
	return obj;
}

cJSON *chart_find(cJSON *docs, const char *kind, const char *name)
{
	cJSON *d;

	cJSON_ArrayForEach(d, docs)
	{
		const char *k = cJSON_GetStringValue(chart_get(d, "kind"));
		const char *n = cJSON_GetStringValue(chart_get(d, "metadata.name"));
		if (k && strcmp(k, kind) == 0 && (!name || (n && strcmp(n, name) == 0)))
			return d;
	}
	return NULL;
}

int chart_count(cJSON *docs, const char *kind)
{
	cJSON *d;
	int n = 0;

	cJSON_ArrayForEach(d, docs)
	{
		const char *k = cJSON_GetStringValue(chart_get(d, "kind"));
		n += k && strcmp(k, kind) == 0;
	}
	return n;
}

cJSON *chart_pod_spec(cJSON *workload)
{
	return chart_get(workload, "spec.template.spec");
}

cJSON *chart_container(cJSON *workload, const char *name)
{
	cJSON *c;

	cJSON_ArrayForEach(c, chart_get(chart_pod_spec(workload), "containers"))
	{
		const char *n = cJSON_GetStringValue(chart_get(c, "name"));
		if (n && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

cJSON *chart_env(cJSON *container, const char *name)
{
	cJSON *e, *found = NULL;

	cJSON_ArrayForEach(e, chart_get(container, "env"))
	{
		const char *n = cJSON_GetStringValue(chart_get(e, "name"));
		if (n && strcmp(n, name) == 0)
			found = e;
	}
	return found;
}

void chart_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

const char *chart_envp_get(char **envp, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			found = envp[i] + n + 1;
	return found;
}

/* Decodes standard base64 (the data of a rendered Secret). */
static char *b64decode(const char *in)
{
	static const char *alpha =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(in), o = 0;
	char *out = malloc(len + 1);
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len && in[i] != '='; i++) {
		const char *p = strchr(alpha, in[i]);
		if (!p || !in[i]) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* The value of key in Secret or ConfigMap name: the rendering's own, else pod->objects. */
static char *lookup_object(const struct chart_pod *pod, const char *kind, const char *name,
			   const char *key)
{
	cJSON *obj = chart_find(pod->docs, kind, name);
	size_t nl = strlen(name), kl = strlen(key);

	if (obj) {
		cJSON *data = chart_get(obj, "data");
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, key));
		if (v)
			return strcmp(kind, "Secret") == 0 ? b64decode(v) : strdup(v);
		v = cJSON_GetStringValue(chart_get(chart_get(obj, "stringData"), key));
		return v ? strdup(v) : NULL;
	}
	for (const char *const *o = pod->objects; o && *o; o++)
		if (strncmp(*o, name, nl) == 0 && (*o)[nl] == '/' &&
		    strncmp(*o + nl + 1, key, kl) == 0 && (*o)[nl + 1 + kl] == '=')
			return strdup(*o + nl + 1 + kl + 1);
	return NULL;
}

static char *field_ref(const struct chart_pod *pod, const char *path)
{
	const char *v = NULL;

	if (strcmp(path, "spec.nodeName") == 0)
		v = pod->node_name;
	else if (strcmp(path, "metadata.namespace") == 0)
		v = pod->namespace;
	else if (strcmp(path, "metadata.name") == 0)
		v = pod->pod_name;
	else if (strcmp(path, "status.podIP") == 0)
		v = pod->pod_ip;
	return v ? strdup(v) : NULL;
}

/* Rewrites a path below a mountPath to the directory standing for the volume. */
static char *map_path(const char *value, cJSON *container, const struct chart_pod *pod)
{
	cJSON *m;
	size_t best = 0;
	const char *vol = NULL;

	cJSON_ArrayForEach(m, chart_get(container, "volumeMounts"))
	{
		const char *mp = cJSON_GetStringValue(chart_get(m, "mountPath"));
		size_t n = mp ? strlen(mp) : 0;
		if (n > best && strncmp(value, mp, n) == 0 && (value[n] == '/' || !value[n])) {
			best = n;
			vol = cJSON_GetStringValue(chart_get(m, "name"));
		}
	}
	if (!vol || !pod->root)
		return strdup(value);
	return chart_asprintf("%s/%s%s", pod->root, vol, value + best);
}

/* Expands $(NAME) from the entries so far; $$ is a literal $ (the kubelet's rules). */
static char *expand(const char *s, char **env, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	while (*s) {
		if (s[0] == '$' && s[1] == '$') {
			buf_append_str(&b, "$");
			s += 2;
		} else if (s[0] == '$' && s[1] == '(' && strchr(s, ')')) {
			const char *end = strchr(s, ')'), *val = NULL;
			size_t len = (size_t)(end - s - 2);
			for (size_t i = 0; i < n; i++)
				if (strncmp(env[i], s + 2, len) == 0 && env[i][len] == '=')
					val = env[i] + len + 1;
			if (val)
				buf_append_str(&b, val);
			else
				buf_append(&b, s, (size_t)(end - s + 1));
			s = end + 1;
		} else {
			buf_append(&b, s, 1);
			s++;
		}
	}
	return buf_steal(&b, NULL);
}

int chart_process(cJSON *container, const struct chart_pod *pod, char ***argv_out,
		  char ***envp_out, char *why, size_t whylen)
{
	char **argv = calloc(MAX_ENV, sizeof(char *)), **envp = calloc(MAX_ENV, sizeof(char *));
	size_t na = 0, ne = 0;
	cJSON *e, *m;
	int r = -EINVAL;

	*argv_out = *envp_out = NULL;
	if (!argv || !envp)
		goto out;
	/* the file system of the pod: one directory per mounted volume */
	cJSON_ArrayForEach(m, chart_get(container, "volumeMounts"))
	{
		const char *vol = cJSON_GetStringValue(chart_get(m, "name"));
		if (vol && pod->root) {
			char *d = chart_asprintf("%s/%s", pod->root, vol);
			mkdir(d, 0755);
			free(d);
		}
	}
	if (pod->service_host)
		envp[ne++] = chart_asprintf("KUBERNETES_SERVICE_HOST=%s", pod->service_host);
	if (pod->service_port)
		envp[ne++] = chart_asprintf("KUBERNETES_SERVICE_PORT=%s", pod->service_port);
	if (pod->pod_name)
		envp[ne++] = chart_asprintf("HOSTNAME=%s", pod->pod_name);
	cJSON_ArrayForEach(e, chart_get(container, "env"))
	{
		const char *name = cJSON_GetStringValue(chart_get(e, "name"));
		const char *value = cJSON_GetStringValue(chart_get(e, "value"));
		cJSON *from = chart_get(e, "valueFrom");
		char *v = NULL, *mapped;

		if (!name || ne >= MAX_ENV - 16) {
			snprintf(why, whylen, "an env entry without a name, or too many");
			goto out;
		}
		if (from) {
			cJSON *sk = chart_get(from, "secretKeyRef"), *ck = chart_get(from, "configMapKeyRef");
			cJSON *fr = chart_get(from, "fieldRef");
			cJSON *ref = sk ? sk : ck;
			if (ref)
				v = lookup_object(pod, sk ? "Secret" : "ConfigMap",
						  cJSON_GetStringValue(chart_get(ref, "name")),
						  cJSON_GetStringValue(chart_get(ref, "key")));
			else if (fr)
				v = field_ref(pod, cJSON_GetStringValue(chart_get(fr, "fieldPath")));
			if (!v) {
				char *text = cJSON_PrintUnformatted(from);
				snprintf(why, whylen, "env %s: cannot resolve %s", name, text);
				free(text);
				goto out;
			}
		} else {
			v = expand(value ? value : "", envp, ne);
		}
		mapped = map_path(v, container, pod);
		if (strcmp(mapped, v) == 0 && pod->root && strncmp(v, SA_DIR, strlen(SA_DIR)) == 0) {
			free(mapped);
			mapped = chart_asprintf("%s/serviceaccount%s", pod->root, v + strlen(SA_DIR));
		}
		envp[ne++] = chart_asprintf("%s=%s", name, mapped);
		free(v);
		free(mapped);
	}
	for (const char *const *x = pod->extra_env; x && *x && ne < MAX_ENV - 1; x++)
		envp[ne++] = strdup(*x);
	cJSON_ArrayForEach(e, chart_get(container, "command"))
	{
		const char *a = cJSON_GetStringValue(e);
		if (!a || na >= MAX_ENV - 1)
			goto out;
		argv[na] = na == 0 && strcmp(a, "/usr/bin/podprof") == 0 ? strdup(test_podprof_bin())
								       : expand(a, envp, ne);
		na++;
	}
	cJSON_ArrayForEach(e, chart_get(container, "args"))
	{
		const char *a = cJSON_GetStringValue(e);
		if (!a || na >= MAX_ENV - 1)
			goto out;
		argv[na++] = expand(a, envp, ne);
	}
	if (na == 0) {
		snprintf(why, whylen, "the container has no command (the image's entrypoint is "
				      "/usr/bin/podprof; the chart sets it explicitly)");
		goto out;
	}
	*argv_out = argv;
	*envp_out = envp;
	argv = envp = NULL;
	r = 0;
out:
	chart_strv_free(argv);
	chart_strv_free(envp);
	return r;
}

/* ---- peers ---------------------------------------------------------------------- */

static int start_peer(struct chart_peer *p, const char *dir, const char *tool,
		      const char *const *base, const char *const *extra)
{
	char *script = chart_asprintf("%s/tests/tools/%s", test_source_dir(), tool);
	char *portfile = chart_asprintf("%s/%s.port", dir, tool);
	const char *argv[48];
	int n = 0, r = -1;
	struct buf b;

	argv[n++] = CHART_PYTHON;
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	for (; base && *base && n < 40; base++)
		argv[n++] = *base;
	for (; extra && *extra && n < 46; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	memset(p, 0, sizeof(*p));
	p->dir = strdup(dir);
	p->log = chart_asprintf("%s/%s.log", dir, tool);
	p->pid = test_spawn((char *const *)argv, NULL, p->log);
	if (p->pid < 0 || test_wait_file(portfile, 15000) != 0)
		goto out;
	buf_init(&b, 64);
	if (test_read_file(portfile, &b) == 0 && b.data)
		p->port = atoi(b.data);
	buf_free(&b);
	if (p->port <= 0 || test_wait_port(p->port, 5000) != 0)
		goto out;
	r = 0;
out:
	free(script);
	free(portfile);
	return r;
}

int chart_start_coroot(struct chart_peer *p, const char *dir, const char *const *extra)
{
	char *rec = chart_asprintf("%s/record", dir);
	const char *base[] = {"--record-dir", rec, NULL};
	int r = start_peer(p, dir, "fake_coroot.py", base, extra);

	free(rec);
	return r;
}

int chart_start_kube(struct chart_peer *p, const char *dir, const char *const *extra)
{
	const char *base[] = {"--openapi", chart_swagger(), "--exit-with-parent", NULL};

	return start_peer(p, dir, "fake_kube.py", base, extra);
}

void chart_stop_peer(struct chart_peer *p)
{
	if (p->pid > 0)
		test_stop(p->pid, 3000);
	p->pid = 0;
	free(p->log);
	free(p->dir);
	p->log = p->dir = NULL;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * n;
}

int chart_http_post(const char *url, const char *cafile, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	long code = -1;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (int)code;
}

cJSON *chart_coroot_requests(const struct chart_peer *p)
{
	char *path = chart_asprintf("%s/record/requests.jsonl", p->dir);
	char *text = chart_slurp(path), *line, *save = NULL;
	cJSON *arr = cJSON_CreateArray();

	free(path);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		if (o)
			cJSON_AddItemToArray(arr, o);
	}
	free(text);
	return arr;
}

int chart_upload_has_type(const struct chart_peer *p, cJSON *req, const char *type)
{
	const char *file = cJSON_GetStringValue(chart_get(req, "file"));
	return file && has_sample_type(p, file, type);
}

/* Does the recorded profile file hold a sample type named type? */
static int has_sample_type(const struct chart_peer *p, const char *file, const char *type)
{
	char *path = chart_asprintf("%s/record/%s", p->dir, file);
	struct buf b;
	struct pprof_profile *prof = NULL;
	int found = 0;

	buf_init(&b, 64u << 20);
	if (test_read_file(path, &b) == 0 && pprof_decode(b.data, b.len, NULL, &prof) == 0) {
		for (size_t i = 0; i < pprof_sample_type_count(prof) && !found; i++)
			found = strcmp(pprof_sample_type(prof, i, NULL), type) == 0;
		pprof_profile_free(prof);
	}
	buf_free(&b);
	free(path);
	return found;
}

cJSON *chart_wait_upload(const struct chart_peer *p, const char *service, const char *type,
			 int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t += 200) {
		cJSON *reqs = chart_coroot_requests(p), *r, *hit = NULL;
		cJSON_ArrayForEach(r, reqs)
		{
			const char *s = cJSON_GetStringValue(chart_get(r, "service"));
			const char *f = cJSON_GetStringValue(chart_get(r, "file"));
			if ((!service || (s && strstr(s, service))) &&
			    (!type || (f && has_sample_type(p, f, type)))) {
				hit = cJSON_Duplicate(r, 1);
				break;
			}
		}
		cJSON_Delete(reqs);
		if (hit)
			return hit;
		usleep(200000);
	}
	return NULL;
}
