/*
 * Exec credential plugins (see exec.h).
 *
 * The plugin's stdout goes to a pipe that is read with poll() against a deadline and a
 * size bound; stderr is inherited, because plugins explain their failures there
 * ("aws: credentials expired, run aws sso login"). A plugin that outlives the deadline
 * is killed.
 */
#define LOG_MODULE "k8s"
#include "exec.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void k8s_exec_spec_free(struct k8s_exec_spec *spec)
{
	if (!spec)
		return;
	free(spec->command);
	for (char **a = spec->args; a && *a; a++)
		free(*a);
	free(spec->args);
	for (char **e = spec->env; e && *e; e++) {
		explicit_bzero(*e, strlen(*e)); /* env entries may carry secrets */
		free(*e);
	}
	free(spec->env);
	free(spec->api_version);
	memset(spec, 0, sizeof(*spec));
}

void k8s_exec_result_free(struct k8s_exec_result *r)
{
	k8s_blob_free(&r->token);
	k8s_blob_free(&r->cert);
	k8s_blob_free(&r->key);
	r->expiry_ns = 0;
}

int k8s_parse_rfc3339(const char *s, int64_t *out_ns)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0, scale = 100000000, offset = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = atoi(p + 1), m = atoi(p + 4);
		offset = (int64_t)(h * 3600 + m * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out_ns = ((int64_t)t - offset) * NS_PER_SEC + frac;
	return 0;
}

static int copy_blob(struct k8s_blob *b, const char *s)
{
	b->len = strlen(s);
	b->data = strdup(s);
	return b->data ? 0 : -ENOMEM;
}

int k8s_exec_parse(const char *json, size_t len, const char *api_version,
		   struct k8s_exec_result *out, char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	const cJSON *status, *v;
	const char *kind, *apiv;
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (!doc) {
		snprintf(err, errlen, "its output is not JSON");
		goto out;
	}
	kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "kind"));
	apiv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "apiVersion"));
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		snprintf(err, errlen, "its output is not an ExecCredential");
		goto out;
	}
	if (api_version && (!apiv || strcmp(apiv, api_version) != 0)) {
		snprintf(err, errlen, "it answered apiVersion %.64s, expected %.64s",
			 apiv ? apiv : "(none)", api_version);
		goto out;
	}
	status = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsObject(status)) {
		snprintf(err, errlen, "its ExecCredential has no status");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(status, "token");
	if (cJSON_IsString(v) && *v->valuestring && copy_blob(&out->token, v->valuestring))
		goto nomem;
	v = cJSON_GetObjectItemCaseSensitive(status, "clientCertificateData");
	if (cJSON_IsString(v) && *v->valuestring) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
		if (!cJSON_IsString(k) || !*k->valuestring) {
			snprintf(err, errlen, "status.clientCertificateData without clientKeyData");
			goto out;
		}
		if (copy_blob(&out->cert, v->valuestring) || copy_blob(&out->key, k->valuestring))
			goto nomem;
	}
	if (!out->token.data && !out->cert.data) {
		snprintf(err, errlen, "its ExecCredential has neither status.token nor "
				      "status.clientCertificateData");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(status, "expirationTimestamp");
	if (cJSON_IsString(v) && *v->valuestring &&
	    k8s_parse_rfc3339(v->valuestring, &out->expiry_ns)) {
		snprintf(err, errlen, "status.expirationTimestamp \"%.40s\" is not RFC 3339",
			 v->valuestring);
		goto out;
	}
	r = 0;
	goto out;
nomem:
	r = -ENOMEM;
	snprintf(err, errlen, "out of memory");
out:
	if (r)
		k8s_exec_result_free(out);
	cJSON_Delete(doc);
	return r;
}

/* The plugin's environment: envp, then spec->env, then KUBERNETES_EXEC_INFO. */
static char **build_env(const struct k8s_exec_spec *spec, char **info)
{
	char *const *base = spec->envp ? spec->envp : environ;
	size_t nbase = 0, nextra = 0, n = 0;
	char **env;

	while (base && base[nbase])
		nbase++;
	while (spec->env && spec->env[nextra])
		nextra++;
	if (asprintf(info,
		     "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
		     "\"spec\":{\"interactive\":false}}",
		     spec->api_version) < 0) {
		*info = NULL;
		return NULL;
	}
	env = calloc(nbase + nextra + 2, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < nbase; i++)
		env[n++] = base[i];
	for (size_t i = 0; i < nextra; i++)
		env[n++] = spec->env[i];
	env[n++] = *info;
	return env;
}

/* Reads fd until EOF, the bound or the deadline. Returns 0, -EFBIG or -ETIMEDOUT. */
static int read_output(int fd, struct buf *out, int64_t deadline)
{
	char chunk[8192];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - time_mono_ns();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(left / NS_PER_MS) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (buf_append(out, chunk, (size_t)n))
			return -EFBIG;
	}
}

int k8s_exec_run(const struct k8s_exec_spec *spec, struct k8s_exec_result *out, char *err,
		 size_t errlen)
{
	posix_spawn_file_actions_t fa;
	char **env = NULL, *info = NULL;
	int pipefd[2] = {-1, -1}, status = 0, r = -ENOMEM, fa_ok = 0;
	pid_t pid = -1;
	struct buf output;

	memset(out, 0, sizeof(*out));
	buf_init(&output, K8S_EXEC_OUTPUT_MAX);
	env = build_env(spec, &info);
	if (!env) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		r = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	fa_ok = 1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	r = posix_spawnp(&pid, spec->command, &fa, NULL, spec->args, env);
	if (r != 0) {
		snprintf(err, errlen, "cannot run %s: %s", spec->command, strerror(r));
		r = -r;
		pid = -1;
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	r = read_output(pipefd[0], &output, time_mono_ns() + K8S_EXEC_TIMEOUT_NS);
	if (r) {
		snprintf(err, errlen, "%s: %s", spec->command,
			 r == -ETIMEDOUT ? "did not finish in time"
			 : r == -EFBIG	 ? "wrote more than 1 MiB"
					 : strerror(-r));
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (r)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = -EIO;
		if (WIFEXITED(status))
			snprintf(err, errlen, "%s exited with status %d", spec->command,
				 WEXITSTATUS(status));
		else
			snprintf(err, errlen, "%s was killed by signal %d", spec->command,
				 WTERMSIG(status));
		goto out;
	}
	r = k8s_exec_parse(output.data ? output.data : "", output.len, spec->api_version, out,
			   err, errlen);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (output.data)
		explicit_bzero(output.data, output.len);
	buf_free(&output);
	free(env);
	free(info);
	return r;
}
