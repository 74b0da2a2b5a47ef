/*
 * The kubeconfig file (see kubeconfig.h).
 *
 * libyaml loads the file into a document tree (aliases stay references, so a hostile
 * file cannot make the tree explode); the few paths podprof needs are looked up in
 * it. The file is bounded in size before libyaml sees it.
 */
#define LOG_MODULE "k8s"
#include "kubeconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "creds.h"
#include "exec.h"

struct ctx {
	const char *path; /* as given, for messages */
	char *dir;        /* its directory, for relative paths */
	yaml_document_t doc;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *x, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(x->err, x->errlen, "kubeconfig %s: ", x->path);

	if (n >= 0 && (size_t)n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A scalar's text; NULL for a missing node, a non-scalar or YAML null. */
static const char *scalar(yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0))
		return NULL;
	return s;
}

static yaml_node_t *get(struct ctx *x, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(&x->doc, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(&x->doc, p->value);
	}
	return NULL;
}

static const char *get_str(struct ctx *x, yaml_node_t *map, const char *key)
{
	return scalar(get(x, map, key));
}

/* The `inner` mapping of the entry named name in the list `list` ("clusters", ...). */
static yaml_node_t *find_named(struct ctx *x, const char *list, const char *name,
			       const char *inner)
{
	yaml_node_t *seq = get(x, yaml_document_get_root_node(&x->doc), list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *entry = yaml_document_get_node(&x->doc, *i);
		const char *n = get_str(x, entry, "name");
		if (n && strcmp(n, name) == 0) {
			yaml_node_t *v = get(x, entry, inner);
			/* "cluster: {}" and a missing mapping are the same to podprof */
			return v ? v : entry;
		}
	}
	return NULL;
}

int k8s_base64_decode(const char *in, struct k8s_blob *b)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), len = 0, chars = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	char *out = malloc(n / 4 * 3 + 4);

	memset(b, 0, sizeof(*b));
	if (!out)
		return -ENOMEM;
	for (const char *p = in; *p; p++) {
		const char *v;
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		chars++;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = strchr(alphabet, *p);
		if (!v || pad)
			goto bad;
		acc = (acc << 6) | (uint32_t)(v - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* padded, as Go's encoding (which writes kubeconfigs) requires */
	if (chars % 4 || pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		goto bad;
	out[len] = '\0';
	b->data = out;
	b->len = len;
	return 0;
bad:
	explicit_bzero(out, n / 4 * 3 + 4);
	free(out);
	return -EINVAL;
}

/* Reads "<field>-data" (base64) or "<field>" (a file) of map into b. where names the
 * map in messages ("clusters[c].cluster"). Returns 0 (b empty when neither is set). */
static int read_material(struct ctx *x, yaml_node_t *map, const char *where, const char *field,
			 struct k8s_blob *b)
{
	char data_key[64];
	const char *data, *file;
	char *path;
	int r;

	snprintf(data_key, sizeof(data_key), "%s-data", field);
	data = get_str(x, map, data_key);
	file = get_str(x, map, field);
	if (data) {
		r = k8s_base64_decode(data, b);
		if (r == -EINVAL)
			return fail(x, "%s.%s: not valid base64", where, data_key);
		return r;
	}
	if (!file)
		return 0;
	path = k8s_resolve_path(x->dir, file);
	if (!path)
		return -ENOMEM;
	r = k8s_read_file(path, K8S_CONFIG_FILE_MAX, b);
	if (r)
		fail(x, "%s.%s: cannot read %s: %s", where, field, path,
		     r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
	free(path);
	return r ? -EINVAL : 0;
}

static int cluster(struct ctx *x, const char *name, struct k8s_config *c)
{
	char where[320];
	yaml_node_t *cl = find_named(x, "clusters", name, "cluster");
	const char *server, *insecure;
	size_t n;

	if (!cl)
		return fail(x, "cluster '%s' (contexts[].context.cluster) not found", name);
	snprintf(where, sizeof(where), "clusters[%s].cluster", name);
	server = get_str(x, cl, "server");
	if (!server)
		return fail(x, "%s.server is missing", where);
	if (strncasecmp(server, "https://", 8) != 0 && strncasecmp(server, "http://", 7) != 0)
		return fail(x, "%s.server \"%.200s\" is not an http:// or https:// URL", where,
			    server);
	n = strlen(server);
	while (n > 8 && server[n - 1] == '/')
		n--;
	c->server = strndup(server, n);
	if (!c->server)
		return -ENOMEM;
	insecure = get_str(x, cl, "insecure-skip-tls-verify");
	if (insecure && strcasecmp(insecure, "true") != 0 && strcasecmp(insecure, "false") != 0)
		return fail(x, "%s.insecure-skip-tls-verify \"%.32s\" is not true or false", where,
			    insecure);
	c->insecure = insecure && strcasecmp(insecure, "true") == 0;
	return read_material(x, cl, where, "certificate-authority", &c->ca);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Collects exec.args / exec.env into a NULL-terminated array; env entries become
 * NAME=VALUE. Returns 0, -EINVAL (after fail()) or -ENOMEM. */
static int exec_list(struct ctx *x, yaml_node_t *seq, const char *where, int env, char ***out,
		     const char *first)
{
	size_t n = 0, cap = 2;
	char **v;

	if (seq && seq->type == YAML_SEQUENCE_NODE)
		cap += (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	else if (seq && scalar(seq))
		return fail(x, "%s is not a list", where);
	v = calloc(cap, sizeof(char *));
	if (!v)
		return -ENOMEM;
	*out = v;
	if (first && !(v[n++] = strdup(first)))
		return -ENOMEM;
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = yaml_document_get_node(&x->doc, *i);
		if (env) {
			const char *name = get_str(x, item, "name");
			const char *value = get_str(x, item, "value");
			if (!name)
				return fail(x, "%s[].name is missing", where);
			if (asprintf(&v[n], "%s=%s", name, value ? value : "") < 0) {
				v[n] = NULL;
				return -ENOMEM;
			}
			n++;
		} else {
			const char *s = scalar(item);
			if (!(v[n++] = strdup(s ? s : "")))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Whether a command without a slash is in PATH (from envp, else the process's). */
static int in_path(const char *cmd, char *const *envp)
{
	const char *path = NULL;
	char buf[4096];

	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	if (!envp)
		path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? path : ".", cmd);
		if (access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

static int user_exec(struct ctx *x, yaml_node_t *ex, const char *where, char *const *envp,
		     struct k8s_config *c)
{
	struct k8s_exec_spec spec = {0};
	const char *cmd = get_str(x, ex, "command"), *apiv = get_str(x, ex, "apiVersion");
	const char *mode = get_str(x, ex, "interactiveMode");
	char argwhere[340];
	int r;

	if (!cmd)
		return fail(x, "%s.exec.command is missing", where);
	if (!apiv)
		return fail(x, "%s.exec.apiVersion is missing", where);
	if (strcmp(apiv, "client.authentication.k8s.io/v1") != 0 &&
	    strcmp(apiv, "client.authentication.k8s.io/v1beta1") != 0)
		return fail(x, "%s.exec.apiVersion \"%.80s\" is not supported (expected "
			       "client.authentication.k8s.io/v1 or v1beta1)",
			    where, apiv);
	if (mode && strcmp(mode, "Always") == 0)
		return fail(x, "%s.exec.interactiveMode is Always, but podprof never has a "
			       "terminal: use a plugin that works non-interactively",
			    where);
	/* client-go: a command with a slash is relative to the kubeconfig's directory */
	spec.command = strchr(cmd, '/') ? k8s_resolve_path(x->dir, cmd) : strdup(cmd);
	spec.api_version = strdup(apiv);
	spec.envp = envp;
	r = -ENOMEM;
	if (!spec.command || !spec.api_version)
		goto out;
	if (strchr(spec.command, '/') ? access(spec.command, X_OK) != 0 : !in_path(cmd, envp)) {
		r = fail(x, "%s.exec.command: %s %s", where, spec.command,
			 strchr(spec.command, '/') ? "is not an executable file"
						   : "is not found in PATH");
		goto out;
	}
	snprintf(argwhere, sizeof(argwhere), "%s.exec.args", where);
	r = exec_list(x, get(x, ex, "args"), argwhere, 0, &spec.args, spec.command);
	if (r)
		goto out;
	snprintf(argwhere, sizeof(argwhere), "%s.exec.env", where);
	r = exec_list(x, get(x, ex, "env"), argwhere, 1, &spec.env, NULL);
	if (r)
		goto out;
	c->creds = k8s_creds_exec(&spec);
	r = c->creds ? 0 : -ENOMEM;
out:
	k8s_exec_spec_free(&spec);
	return r;
}

static int user(struct ctx *x, const char *name, char *const *envp, struct k8s_config *c)
{
	char where[320];
	yaml_node_t *u = find_named(x, "users", name, "user"), *ex;
	const char *token, *token_file;
	int r;

	if (!u)
		return fail(x, "user '%s' (contexts[].context.user) not found", name);
	snprintf(where, sizeof(where), "users[%s].user", name);
	if (get(x, u, "auth-provider"))
		return fail(x, "%s.auth-provider is not supported (it was removed from "
			       "Kubernetes clients): use an exec credential plugin or a token",
			    where);
	r = read_material(x, u, where, "client-certificate", &c->client_cert);
	if (!r)
		r = read_material(x, u, where, "client-key", &c->client_key);
	if (r)
		return r;
	if (!c->client_cert.data != !c->client_key.data)
		return fail(x, "%s.%s is missing (a client certificate needs its key)", where,
			    c->client_cert.data ? "client-key" : "client-certificate");
	c->username = dup_or_null(get_str(x, u, "username"));
	c->password = dup_or_null(get_str(x, u, "password"));
	token = get_str(x, u, "token");
	token_file = get_str(x, u, "tokenFile");
	ex = get(x, u, "exec");
	if (ex && ex->type == YAML_MAPPING_NODE)
		return user_exec(x, ex, where, envp, c);
	if (token_file) {
		/* the file wins over an inline token, as in client-go: it is the one rotated */
		struct k8s_blob b;
		char *path = k8s_resolve_path(x->dir, token_file);
		if (!path)
			return -ENOMEM;
		r = k8s_read_file(path, K8S_CONFIG_FILE_MAX, &b);
		if (r)
			fail(x, "%s.tokenFile: cannot read %s: %s", where, path, strerror(-r));
		else
			c->creds = k8s_creds_file(path, &b);
		k8s_blob_free(&b);
		free(path);
		if (r)
			return -EINVAL;
		return c->creds ? 0 : -ENOMEM;
	}
	if (token) {
		c->creds = k8s_creds_static(token);
		return c->creds ? 0 : -ENOMEM;
	}
	return 0;
}

static int parse(struct ctx *x, const struct k8s_blob *content, char *const *envp,
		 struct k8s_config *c)
{
	yaml_parser_t parser;
	yaml_node_t *root, *ctx_node;
	const char *current, *cluster_name, *user_name;
	int loaded, r;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)content->data, content->len);
	loaded = yaml_parser_load(&parser, &x->doc);
	if (!loaded) {
		r = fail(x, "line %zu column %zu: %s", parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "not valid YAML");
		yaml_parser_delete(&parser);
		return r;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&x->doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = fail(x, "not a kubeconfig (the document is not a mapping)");
		goto out;
	}
	current = get_str(x, root, "current-context");
	if (!current) {
		r = fail(x, "current-context is not set");
		goto out;
	}
	ctx_node = find_named(x, "contexts", current, "context");
	if (!ctx_node) {
		r = fail(x, "context '%s' (current-context) not found", current);
		goto out;
	}
	cluster_name = get_str(x, ctx_node, "cluster");
	user_name = get_str(x, ctx_node, "user");
	if (!cluster_name) {
		r = fail(x, "contexts[%s].context.cluster is missing", current);
		goto out;
	}
	if (asprintf(&c->origin, "kubeconfig %s (context %s)", x->path, current) < 0) {
		c->origin = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = cluster(x, cluster_name, c);
	if (!r && user_name)
		r = user(x, user_name, envp, c);
out:
	yaml_document_delete(&x->doc);
	return r;
}

int k8s_kubeconfig_load(const char *path, char *const *envp, struct k8s_config *c, char *err,
			size_t errlen)
{
	struct ctx x = {.path = path, .err = err, .errlen = errlen};
	struct k8s_blob content;
	char *copy = strdup(path);
	int r;

	if (!copy)
		return -ENOMEM;
	x.dir = strdup(dirname(copy));
	free(copy);
	if (!x.dir)
		return -ENOMEM;
	r = k8s_read_file(path, K8S_CONFIG_FILE_MAX, &content);
	if (r) {
		fail(&x, "cannot read: %s", r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
		free(x.dir);
		return r;
	}
	r = parse(&x, &content, envp, c);
	k8s_blob_free(&content);
	free(x.dir);
	return r;
}
