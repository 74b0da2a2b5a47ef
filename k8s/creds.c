/*
 * Bearer credentials kept current (see creds.h).
 *
 * A refresh that fails keeps the previous credential: a token file being rewritten
 * for a moment, or a plugin that fails once, must not stop discovery while the old
 * token may still be valid. The failure is logged at most once a minute.
 */
#define LOG_MODULE "k8s"
#include "creds.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum creds_kind { CREDS_STATIC, CREDS_FILE, CREDS_EXEC };

struct k8s_creds {
	pthread_mutex_t mu;
	enum creds_kind kind;
	struct k8s_blob token;
	char *path;               /* CREDS_FILE */
	struct k8s_exec_spec exec; /* CREDS_EXEC */
	struct k8s_blob cert, key; /* from the plugin */
	int64_t due_ns;           /* monotonic time of the next refresh; 0: now */
	int64_t expiry_ns;        /* wall clock expiry of an exec credential, 0: none */
	unsigned long refreshes;
	struct log_ratelimit rl;
};

static struct k8s_creds *creds_new(enum creds_kind kind)
{
	struct k8s_creds *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = kind;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static int set_token(struct k8s_blob *b, const char *s, size_t n)
{
	/* a token file ends with a newline more often than not */
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	k8s_blob_free(b);
	b->data = strndup(s, n);
	b->len = b->data ? n : 0;
	return b->data ? 0 : -ENOMEM;
}

struct k8s_creds *k8s_creds_static(const char *token)
{
	struct k8s_creds *c = creds_new(CREDS_STATIC);

	if (c && set_token(&c->token, token, strlen(token))) {
		k8s_creds_free(c);
		return NULL;
	}
	return c;
}

struct k8s_creds *k8s_creds_file(const char *path, const struct k8s_blob *initial)
{
	struct k8s_creds *c = creds_new(CREDS_FILE);

	if (!c)
		return NULL;
	c->path = strdup(path);
	if (!c->path || set_token(&c->token, initial->data ? initial->data : "", initial->len)) {
		k8s_creds_free(c);
		return NULL;
	}
	c->due_ns = time_mono_ns() + K8S_TOKEN_REREAD_NS;
	return c;
}

struct k8s_creds *k8s_creds_exec(struct k8s_exec_spec *spec)
{
	struct k8s_creds *c = creds_new(CREDS_EXEC);

	if (!c)
		return NULL;
	c->exec = *spec;
	memset(spec, 0, sizeof(*spec));
	return c;
}

void k8s_creds_free(struct k8s_creds *c)
{
	if (!c)
		return;
	k8s_blob_free(&c->token);
	k8s_blob_free(&c->cert);
	k8s_blob_free(&c->key);
	free(c->path);
	k8s_exec_spec_free(&c->exec);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void refresh_file(struct k8s_creds *c)
{
	struct k8s_blob b = {0};
	int r = k8s_read_file(c->path, K8S_CONFIG_FILE_MAX, &b);

	c->refreshes++;
	c->due_ns = time_mono_ns() + K8S_TOKEN_REREAD_NS;
	if (r == 0 && b.len)
		r = set_token(&c->token, b.data, b.len);
	else if (r == 0)
		r = -ENODATA;
	if (r && log_ratelimit_allow(&c->rl, 60 * NS_PER_SEC))
		log_warn("cannot re-read the token file %s: %s; keeping the previous token",
			 c->path, r == -ENODATA ? "it is empty" : strerror(-r));
	k8s_blob_free(&b);
}

static void refresh_exec(struct k8s_creds *c)
{
	struct k8s_exec_result res;
	char err[512];
	int r = k8s_exec_run(&c->exec, &res, err, sizeof(err));
	int64_t now = time_mono_ns();

	c->refreshes++;
	if (r) {
		/* try again soon, not on every request */
		c->due_ns = now + 5 * NS_PER_SEC;
		if (log_ratelimit_allow(&c->rl, 60 * NS_PER_SEC))
			log_error("exec credential plugin: %s", err);
		return;
	}
	k8s_blob_free(&c->token);
	k8s_blob_free(&c->cert);
	k8s_blob_free(&c->key);
	c->token = res.token;
	c->cert = res.cert;
	c->key = res.key;
	c->expiry_ns = res.expiry_ns;
	if (res.expiry_ns) {
		int64_t left = res.expiry_ns - time_real_ns() - K8S_EXEC_EARLY_NS;
		/* a credential valid for less than the margin is used for a second anyway */
		c->due_ns = now + (left > NS_PER_SEC ? left : NS_PER_SEC);
	} else {
		c->due_ns = INT64_MAX; /* until a 401 */
	}
}

static int dup_blob(struct k8s_blob *dst, const struct k8s_blob *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->data)
		return 0;
	dst->data = malloc(src->len + 1);
	if (!dst->data)
		return -ENOMEM;
	memcpy(dst->data, src->data, src->len + 1);
	dst->len = src->len;
	return 0;
}

int k8s_creds_get(struct k8s_creds *c, struct k8s_blob *token, struct k8s_blob *cert,
		  struct k8s_blob *key)
{
	int r;

	memset(cert, 0, sizeof(*cert));
	memset(key, 0, sizeof(*key));
	pthread_mutex_lock(&c->mu);
	if (c->kind != CREDS_STATIC && time_mono_ns() >= c->due_ns) {
		if (c->kind == CREDS_FILE)
			refresh_file(c);
		else
			refresh_exec(c);
	}
	if (c->kind == CREDS_EXEC && !c->token.data && !c->cert.data) {
		r = -EACCES; /* the plugin never succeeded */
		memset(token, 0, sizeof(*token));
		goto out;
	}
	r = dup_blob(token, &c->token);
	if (!r)
		r = dup_blob(cert, &c->cert);
	if (!r)
		r = dup_blob(key, &c->key);
	if (r) {
		k8s_blob_free(token);
		k8s_blob_free(cert);
		k8s_blob_free(key);
	}
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

void k8s_creds_invalidate(struct k8s_creds *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->kind != CREDS_STATIC)
		c->due_ns = 0;
	pthread_mutex_unlock(&c->mu);
}

unsigned long k8s_creds_refreshes(struct k8s_creds *c)
{
	unsigned long n;

	pthread_mutex_lock(&c->mu);
	n = c->refreshes;
	pthread_mutex_unlock(&c->mu);
	return n;
}
