/*
 * Common start-up and shutdown of the agent's commands.
 */
#define LOG_MODULE "agent"
#include "role.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "selfstats.h"

int role_start(const struct podprof_config *cfg, const char *default_output_dir,
	       struct role *r)
{
	struct uploader_config ucfg;
	enum log_level level;
	int ret = -ENOMEM;

	memset(r, 0, sizeof(*r));
	if (log_parse_level(cfg->log_level, &level) == 0)
		log_set_level(level);
	r->metrics = metrics_registry_new();
	if (!r->metrics || selfstats_register(r->metrics, NULL) != 0)
		goto fail;
	if (cfg->listen && *cfg->listen) {
		ret = http_server_start(cfg->listen, r->metrics, &r->http);
		if (ret)
			goto fail;
	}
	r->endpoint = config_profiles_url(cfg);
	r->output_dir = cfg->output_dir ? cfg->output_dir
					: (r->endpoint ? NULL : default_output_dir);
	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.endpoint = r->endpoint;
	ucfg.api_key = cfg->api_key;
	ucfg.ca_file = cfg->ca_file;
	ucfg.insecure_skip_verify = cfg->insecure_skip_verify;
	ucfg.timeout_ns = cfg->upload_timeout_ns;
	ucfg.output_dir = r->output_dir;
	ucfg.spool_dir = cfg->spool_dir;
	ucfg.spool_max_bytes = cfg->spool_max_bytes;
	ucfg.queue_max_bytes = cfg->queue_max_bytes;
	ucfg.backoff_min_ns = cfg->retry_backoff_min_ns;
	ucfg.backoff_max_ns = cfg->retry_backoff_max_ns;
	ucfg.metrics = r->metrics;
	ret = uploader_new(&ucfg, &r->uploader);
	if (ret)
		goto fail;
	return 0;
fail:
	role_stop(r);
	return ret;
}

void role_stop(struct role *r)
{
	uploader_free(r->uploader);
	r->uploader = NULL;
	http_server_stop(r->http);
	r->http = NULL;
	metrics_registry_free(r->metrics);
	r->metrics = NULL;
	free(r->endpoint);
	r->endpoint = NULL;
}

int role_sleep(int64_t ns)
{
	int64_t until = time_mono_ns() + ns;

	while (!podprof_stop_requested) {
		int64_t left = until - time_mono_ns();
		if (left <= 0)
			return 0;
		time_sleep_ns(left < 100 * NS_PER_MS ? left : 100 * NS_PER_MS);
	}
	return 1;
}

const char *role_env(char **envp, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);

	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			found = *e + n + 1;
	return found;
}

void role_k8s_source(const struct podprof_config *cfg, char **envp,
		     struct k8s_config_source *src)
{
	memset(src, 0, sizeof(*src));
	src->kubeconfig = cfg->kubeconfig;
	src->service_host = role_env(envp, "KUBERNETES_SERVICE_HOST");
	src->service_port = role_env(envp, "KUBERNETES_SERVICE_PORT");
	src->serviceaccount_dir = cfg->serviceaccount_dir;
	src->home = role_env(envp, "HOME");
	src->envp = envp;
}

void role_k8s_discovery(const struct podprof_config *cfg, struct k8s_discovery_config *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->namespace = cfg->k8s_namespace;
	dc->field_selector = cfg->field_selector;
	dc->label_selector = cfg->label_selector;
	dc->node_name = cfg->k8s_node;
	dc->watch_replicasets = cfg->watch_replicasets;
	dc->streaming_list = cfg->streaming_list && strcmp(cfg->streaming_list, "off") == 0
				     ? K8S_STREAMING_OFF
				     : K8S_STREAMING_AUTO;
	dc->max_pods = (size_t)cfg->max_pods;
	dc->max_event_bytes = (size_t)cfg->max_event_bytes;
	dc->max_list_bytes = (size_t)cfg->max_list_bytes;
}
