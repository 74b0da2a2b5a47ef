/*
 * The Helm chart (charts/podprof), rendered as `helm template` would render it (by
 * tests/tools/helm_render: Go's text/template with sprig, no helm binary here), for the
 * default values and every file of tests/integration/chart-values/:
 *  - it renders, the kinds are the ones the values file announces ("# expect:"), and
 *    NOTES.txt renders;
 *  - every manifest validates strictly against the Kubernetes 1.34 OpenAPI definitions
 *    (tests/tools/k8s_schema.py), and the validator is shown to reject a misspelled
 *    field, a wrong type and a repeated key;
 *  - least privilege: ClusterRoles hold exactly list/watch on pods (and on replicasets
 *    when the scrapers watch them), bound only to the service accounts of pods that
 *    run a scraper; no container is privileged; the node container adds exactly the
 *    documented capabilities; everything else runs as 65534 with none; hostPID only on
 *    the DaemonSet; only /var/log/containers from the host, read-only;
 *  - the API key is never a plain value in a pod spec, and the extra env of the values
 *    replaces the chart's entries as the Coroot operator's merge does;
 *  - `kubectl apply --dry-run=client` against the fake API server accepts the manifests:
 *    every rendered kind is served, and every object is "created (dry run)";
 *  - bad values fail the rendering with a clear message.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chart_common.h"
#include "support.h"
#include "testing.h"

#define MAX_RENDERS 64
#define SCRAPER_VERBS "list,watch"

struct rendering {
	char *label;  /* "defaults" or the values file name */
	char *values; /* path or NULL */
	char *expect; /* the "# expect:" line, or NULL */
	struct chart_render r;
	int status;
};

static struct {
	int state;
	char why[512];
	struct rendering all[MAX_RENDERS];
	int n;
} g;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the "# expect: Kind=N ..." line of a values file. */
static char *expect_line(const char *path)
{
	char *text = chart_slurp(path), *p, *out = NULL;

	if (text && (p = strstr(text, "# expect:")) != NULL) {
		p += strlen("# expect:");
		out = strndup(p, strcspn(p, "\n"));
	}
	free(text);
	return out;
}

static void cleanup(void)
{
	for (int i = 0; i < g.n; i++) {
		chart_render_free(&g.all[i].r);
		free(g.all[i].label);
		free(g.all[i].values);
		free(g.all[i].expect);
	}
}

/* Renders the defaults and every values file once; the tests share the results. */
static int setup(void)
{
	DIR *d;
	struct dirent *e;
	char *names[MAX_RENDERS];
	int nn = 0;

	if (g.state)
		return g.state;
	g.state = -1;
	if (!chart_renderer(g.why, sizeof(g.why)))
		return g.state;
	atexit(cleanup);
	d = opendir(chart_values_dir());
	while (d && (e = readdir(d)) != NULL && nn < MAX_RENDERS - 1) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0)
			names[nn++] = strdup(e->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)nn, sizeof(char *), cmp_str);
	g.all[g.n++].label = strdup("defaults");
	for (int i = 0; i < nn; i++) {
		struct rendering *x = &g.all[g.n++];
		x->label = names[i];
		x->values = chart_asprintf("%s/%s", chart_values_dir(), names[i]);
		x->expect = expect_line(x->values);
	}
	for (int i = 0; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		/* a release name per file, so that all renderings can be applied at once */
		char name[64];
		snprintf(name, sizeof(name), "r%d", i);
		{
			const char *args[] = {"--name", name, "--namespace", "podprof",
					      x->values ? "-f" : NULL, x->values, NULL};
			x->status = chart_render(args, &x->r);
		}
	}
	g.state = 1;
	return g.state;
}

#define NEED_RENDERS()                                                                 \
	do {                                                                           \
		if (setup() != 1)                                                      \
			SKIP("%s", g.why);                                             \
	} while (0)

/* ---- rendering ------------------------------------------------------------------- */

TEST(renders_defaults_and_every_values_file)
{
	NEED_RENDERS();
	CHECK(g.n >= 10);
	for (int i = 0; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		CHECK_MSG(x->status == 0, "%s: rendering failed (%d): %s", x->label, x->status,
			  x->r.err ? x->r.err : "");
		CHECK_MSG(x->r.notes && strstr(x->r.notes, "podprof"), "%s: NOTES.txt is empty",
			  x->label);
		CHECK_MSG(x->values == NULL || x->expect != NULL, "%s: no '# expect:' line",
			  x->label);
		CHECK_MSG(strstr(x->r.yaml, "# Source: podprof/templates/") ||
				  cJSON_GetArraySize(x->r.docs) == 0,
			  "%s: no Source comments", x->label);
	}
}

TEST(default_values_install_both_roles)
{
	cJSON *docs, *ds, *dep;

	NEED_RENDERS();
	docs = g.all[0].r.docs;
	CHECK_EQ(chart_count(docs, "Deployment"), 1);
	CHECK_EQ(chart_count(docs, "DaemonSet"), 1);
	CHECK_EQ(chart_count(docs, "ServiceAccount"), 2);
	CHECK_EQ(chart_count(docs, "ClusterRole"), 1);
	CHECK_EQ(chart_count(docs, "ClusterRoleBinding"), 1);
	CHECK_EQ(chart_count(docs, "Service"), 1);
	CHECK_EQ(chart_count(docs, "Secret"), 0);
	CHECK_EQ(chart_count(docs, "StatefulSet"), 0);
	dep = chart_find(docs, "Deployment", NULL);
	CHECK_EQ(cJSON_GetNumberValue(chart_get(dep, "spec.replicas")), 1);
	CHECK_STR(cJSON_GetStringValue(chart_get(dep, "spec.strategy.type")), "Recreate");
	ds = chart_find(docs, "DaemonSet", NULL);
	CHECK(cJSON_IsTrue(chart_get(ds, "spec.template.spec.hostPID")));
	/* no Coroot URL: files in an emptyDir, and NOTES.txt says so */
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(chart_container(ds, "node"),
							   "PODPROF_OUTPUT_DIR"), "value")),
		  "/var/lib/podprof/profiles");
	CHECK(strstr(g.all[0].r.notes, "WARNING: no Coroot URL"));
}

/* Bytes of a Kubernetes quantity or a podprof size ("320Mi", "256MiB", "1Gi"); -1 when
 * unreadable. */
static double quantity_bytes(const char *q)
{
	static const struct {
		const char *sfx;
		double mult;
	} units[] = {{"", 1},	 {"Ki", 1024}, {"KiB", 1024}, {"Mi", 1048576}, {"MiB", 1048576},
		     {"Gi", 1073741824.0}, {"GiB", 1073741824.0}, {"k", 1000}, {"M", 1e6},
		     {"G", 1e9}};
	char *end;
	double v;

	if (!q)
		return -1;
	v = strtod(q, &end);
	for (size_t i = 0; end != q && i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].sfx) == 0)
			return v * units[i].mult;
	return -1;
}

/* The volume of the pod spec that container c mounts at path, or NULL. */
static cJSON *volume_at(cJSON *spec, cJSON *c, const char *path)
{
	cJSON *m, *v;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts"))
	{
		const char *mp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "mountPath"));
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
		if (!mp || !n || strcmp(mp, path) != 0)
			continue;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
		{
			const char *vn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
			if (vn && strcmp(vn, n) == 0)
				return v;
		}
	}
	return NULL;
}

/*
 * Every podprof container of every rendering uploads through a spool (profiles wait on
 * disk while Coroot is down, written before they are accepted), on an emptyDir: an OOM
 * kill restarts the container, not the pod, and the emptyDir outlives the container;
 * bounded by its sizeLimit, which leaves room for podprof's own bound.
 */
TEST(every_role_spools_on_a_volume_that_survives_a_container_restart)
{
	static const char *const kinds[] = {"Deployment", "DaemonSet", "StatefulSet"};
	int containers = 0;

	NEED_RENDERS();
	for (int i = 0; i < g.n; i++) {
		cJSON *d;

		cJSON_ArrayForEach(d, g.all[i].r.docs)
		{
			const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "kind"));
			cJSON *spec, *c;
			int workload = 0;

			for (size_t k = 0; kind && k < sizeof(kinds) / sizeof(kinds[0]); k++)
				workload |= strcmp(kind, kinds[k]) == 0;
			if (!workload)
				continue;
			spec = chart_pod_spec(d);
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
			{
				const char *name = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(c, "name"));
				const char *dir = cJSON_GetStringValue(
					chart_get(chart_env(c, "PODPROF_SPOOL_DIR"), "value"));
				const char *max = cJSON_GetStringValue(
					chart_get(chart_env(c, "PODPROF_SPOOL_MAX_BYTES"), "value"));
				cJSON *vol;
				double limit;

				CHECK_MSG(dir && max, "%s: %s/%s has no spool", g.all[i].label, kind,
					  name ? name : "?");
				vol = volume_at(spec, c, dir);
				CHECK_MSG(vol, "%s: %s/%s: nothing mounted at %s", g.all[i].label, kind,
					  name, dir);
				limit = quantity_bytes(cJSON_GetStringValue(
					chart_get(vol, "emptyDir.sizeLimit")));
				CHECK_MSG(limit > 0, "%s: %s/%s: the spool is not a bounded emptyDir",
					  g.all[i].label, kind, name);
				CHECK_MSG(quantity_bytes(max) > 0 && quantity_bytes(max) < limit,
					  "%s: %s/%s: spool bound %s does not fit the volume's %.0f bytes",
					  g.all[i].label, kind, name, max, limit);
				containers++;
			}
		}
	}
	/* the default rendering alone has two */
	CHECK(containers >= 2);
}

/* Compares the kinds of a rendering with "Kind=N ..." (order-free). */
static int kinds_match(cJSON *docs, const char *expect, char *why, size_t len)
{
	char *copy = strdup(expect), *tok, *save = NULL;
	int total = 0;

	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		int want = eq ? atoi(eq + 1) : -1, got;
		if (eq)
			*eq = '\0';
		got = chart_count(docs, tok);
		total += want;
		if (got != want) {
			snprintf(why, len, "%s: %d rendered, %d expected", tok, got, want);
			free(copy);
			return 0;
		}
	}
	free(copy);
	if (cJSON_GetArraySize(docs) != total) {
		snprintf(why, len, "%d documents rendered, %d expected", cJSON_GetArraySize(docs),
			 total);
		return 0;
	}
	return 1;
}

TEST(values_matrix_renders_the_announced_kinds)
{
	char why[256];

	NEED_RENDERS();
	for (int i = 1; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		CHECK_MSG(x->status == 0, "%s did not render", x->label);
		CHECK_MSG(kinds_match(x->r.docs, x->expect, why, sizeof(why)), "%s: %s", x->label,
			  why);
	}
}

static struct rendering *by_label(const char *label)
{
	for (int i = 0; i < g.n; i++)
		if (strcmp(g.all[i].label, label) == 0)
			return &g.all[i];
	return NULL;
}

TEST(shards_make_a_statefulset_with_auto_shard)
{
	struct rendering *x;
	cJSON *ss, *svc;

	NEED_RENDERS();
	x = by_label("shards.yaml");
	CHECK(x && x->status == 0);
	ss = chart_find(x->r.docs, "StatefulSet", NULL);
	CHECK(ss);
	CHECK_EQ(cJSON_GetNumberValue(chart_get(ss, "spec.replicas")), 3);
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(chart_container(ss, "cluster"),
							   "PODPROF_SHARD"), "value")),
		  "auto/3");
	svc = chart_find(x->r.docs, "Service",
			 cJSON_GetStringValue(chart_get(ss, "spec.serviceName")));
	CHECK_MSG(svc, "the StatefulSet's serviceName names no rendered Service");
	CHECK_STR(cJSON_GetStringValue(chart_get(svc, "spec.clusterIP")), "None");
}

/* ---- schema ---------------------------------------------------------------------- */

static int run_schema(const char *path, struct buf *out)
{
	char *cmd = chart_asprintf("%s '%s/tests/tools/k8s_schema.py' --swagger '%s' '%s'",
				   CHART_PYTHON, test_source_dir(), chart_swagger(), path);
	int st = test_sh(cmd, out, 1);

	free(cmd);
	return st;
}

#define NEED_SWAGGER()                                                                 \
	do {                                                                           \
		if (access(chart_swagger(), R_OK) != 0)                                \
			SKIP("no OpenAPI document at %s (PODPROF_K8S_SWAGGER)",         \
			     chart_swagger());                                         \
	} while (0)

TEST(every_manifest_validates_against_kubernetes_1_34)
{
	char *dir, *path;
	struct buf all, out;
	int st;

	NEED_RENDERS();
	NEED_SWAGGER();
	dir = test_tmpdir("chart-schema");
	path = chart_asprintf("%s/all.yaml", dir);
	buf_init(&all, 0);
	buf_init(&out, 1 << 20);
	for (int i = 0; i < g.n; i++)
		if (g.all[i].r.yaml)
			buf_append_str(&all, g.all[i].r.yaml);
	test_write_file(path, all.data, all.len);
	st = run_schema(path, &out);
	test_rmtree(dir);
	free(dir);
	free(path);
	buf_free(&all);
	CHECK_MSG(st == 0, "schema errors:\n%s", out.data ? out.data : "");
	CHECK(out.data && strstr(out.data, " 0 with errors"));
	buf_free(&out);
}

/* Validates the default rendering after replacing from by to (first occurrence). */
static int schema_of_mutation(const char *from, const char *to, struct buf *out)
{
	const char *y = g.all[0].r.yaml, *at = strstr(y, from);
	char *dir, *path, *text;
	int st;

	if (!at)
		return -ENOENT;
	text = chart_asprintf("%.*s%s%s", (int)(at - y), y, to, at + strlen(from));
	dir = test_tmpdir("chart-schema");
	path = chart_asprintf("%s/mutated.yaml", dir);
	test_write_file(path, text, strlen(text));
	st = run_schema(path, out);
	test_rmtree(dir);
	free(dir);
	free(path);
	free(text);
	return st;
}

TEST(schema_check_rejects_a_misspelled_field)
{
	struct buf out;
	int st;

	NEED_RENDERS();
	NEED_SWAGGER();
	buf_init(&out, 1 << 20);
	st = schema_of_mutation("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true",
				&out);
	CHECK_MSG(st == 1, "status %d:\n%s", st, out.data ? out.data : "");
	CHECK_MSG(strstr(out.data, "securityContext.readOnlyRootFileSystem: unknown property"),
		  "%s", out.data);
	buf_free(&out);
}

TEST(schema_check_rejects_a_wrong_type)
{
	struct buf out;
	int st;

	NEED_RENDERS();
	NEED_SWAGGER();
	buf_init(&out, 1 << 20);
	st = schema_of_mutation("hostPID: true", "hostPID: \"yes please\"", &out);
	CHECK_MSG(st == 1, "status %d:\n%s", st, out.data ? out.data : "");
	CHECK_MSG(strstr(out.data, "spec.template.spec.hostPID: expected a boolean"), "%s",
		  out.data);
	buf_reset(&out);
	st = schema_of_mutation("containerPort: 10301", "containerPort: [10301]", &out);
	CHECK_MSG(st == 1 && strstr(out.data, "containerPort: expected an integer"), "%s",
		  out.data);
	buf_free(&out);
}

TEST(schema_check_rejects_a_repeated_key)
{
	struct buf out;
	int st;

	NEED_RENDERS();
	NEED_SWAGGER();
	buf_init(&out, 1 << 20);
	st = schema_of_mutation("      hostPID: true\n", "      hostPID: true\n      hostPID: false\n",
				&out);
	CHECK_MSG(st != 0 && strstr(out.data, "repeated"), "status %d:\n%s", st, out.data);
	buf_free(&out);
}

/* ---- least privilege ------------------------------------------------------------- */

/* The containers of every workload of a rendering, with the workload. */
#define FOR_EACH_WORKLOAD(docs, w)                                                     \
	cJSON_ArrayForEach(w, docs) if (chart_pod_spec(w))

static int strv_has(cJSON *arr, const char *s)
{
	cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		const char *v = cJSON_GetStringValue(e);
		if (v && strcmp(v, s) == 0)
			return 1;
	}
	return 0;
}

/* "a,b" of a string array, sorted. */
static void joined(cJSON *arr, char *out, size_t len)
{
	char *items[64];
	int n = 0;
	cJSON *e;
	size_t o = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && n < 64) items[n++] = e->valuestring;
	qsort(items, (size_t)n, sizeof(char *), cmp_str);
	for (int i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", items[i]);
}

/* Does any scraper container of the rendering watch ReplicaSets? */
static int scrapers(cJSON *docs, int *watch_rs, char *sas, size_t salen)
{
	cJSON *w, *c;
	int n = 0;
	size_t o = 0;

	*watch_rs = 0;
	sas[0] = '\0';
	FOR_EACH_WORKLOAD(docs, w)
	{
		cJSON_ArrayForEach(c, chart_get(chart_pod_spec(w), "containers"))
		{
			cJSON *cmd = chart_get(c, "command");
			const char *rs;
			if (!strv_has(cmd, "cluster"))
				continue;
			n++;
			rs = cJSON_GetStringValue(
				chart_get(chart_env(c, "PODPROF_WATCH_REPLICASETS"), "value"));
			if (!rs || strcmp(rs, "true") == 0)
				*watch_rs = 1;
			o += (size_t)snprintf(sas + o, salen - o, "%s;",
					      cJSON_GetStringValue(chart_get(
						      chart_pod_spec(w), "serviceAccountName")));
		}
	}
	return n;
}

TEST(cluster_roles_grant_exactly_what_the_scrapers_use)
{
	NEED_RENDERS();
	for (int i = 0; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		cJSON *docs = x->r.docs, *d;
		char sas[1024], got[256];
		int watch_rs, n = scrapers(docs, &watch_rs, sas, sizeof(sas));

		int roles = chart_count(docs, "ClusterRole") + chart_count(docs, "Role");
		const char *ns = NULL;

		CHECK_MSG(roles == n, "%s: %d roles for %d scraper containers", x->label, roles, n);
		CHECK_EQ(chart_count(docs, "ClusterRoleBinding") + chart_count(docs, "RoleBinding"),
			 n);
		/* a Role only where every scraper reads one namespace */
		cJSON_ArrayForEach(d, docs) if (chart_get(d, "spec.template"))
		{
			cJSON *c = chart_container(d, "cluster") ? chart_container(d, "cluster")
								 : chart_container(d, "local-scraper");
			if (c)
				ns = cJSON_GetStringValue(chart_get(chart_env(c, "PODPROF_NAMESPACE"),
								    "value"));
		}
		CHECK_MSG(chart_count(docs, "Role") == (ns ? n : 0), "%s: Roles without a "
			  "namespace, or ClusterRoles with one", x->label);
		cJSON_ArrayForEach(d, docs)
		{
			const char *kind = cJSON_GetStringValue(chart_get(d, "kind"));
			cJSON *rule, *rules = chart_get(d, "rules");
			int pods = 0, rs = 0;

			if (strstr(kind, "RoleBinding")) {
				cJSON *s = cJSON_GetArrayItem(chart_get(d, "subjects"), 0);
				char want[300];
				CHECK_EQ(cJSON_GetArraySize(chart_get(d, "subjects")), 1);
				snprintf(want, sizeof(want), "%s;",
					 cJSON_GetStringValue(chart_get(s, "name")));
				CHECK_MSG(strstr(sas, want), "%s: binding to %s, scrapers run as %s",
					  x->label, want, sas);
				CHECK_STR(cJSON_GetStringValue(chart_get(d, "roleRef.name")),
					  cJSON_GetStringValue(chart_get(d, "metadata.name")));
				continue;
			}
			if (strcmp(kind, "ClusterRole") != 0 && strcmp(kind, "Role") != 0)
				continue;
			if (ns)
				CHECK_STR(cJSON_GetStringValue(chart_get(d, "metadata.namespace")), ns);
			cJSON_ArrayForEach(rule, rules)
			{
				cJSON *groups = chart_get(rule, "apiGroups");
				cJSON *res = chart_get(rule, "resources");
				CHECK_MSG(!chart_get(rule, "nonResourceURLs") &&
						  !chart_get(rule, "resourceNames"),
					  "%s: unexpected rule fields", x->label);
				CHECK_EQ(cJSON_GetArraySize(groups), 1);
				CHECK_EQ(cJSON_GetArraySize(res), 1);
				joined(chart_get(rule, "verbs"), got, sizeof(got));
				CHECK_MSG(strcmp(got, SCRAPER_VERBS) == 0, "%s: verbs %s", x->label,
					  got);
				if (strv_has(groups, "") && strv_has(res, "pods"))
					pods++;
				else if (strv_has(groups, "apps") && strv_has(res, "replicasets"))
					rs++;
				else
					CHECK_MSG(0, "%s: a rule beyond pods and replicasets", x->label);
			}
			CHECK_MSG(pods == 1, "%s: pods granted %d times", x->label, pods);
			CHECK_MSG(rs == watch_rs, "%s: replicasets %s granted but %s watched",
				  x->label, rs ? "" : "not", watch_rs ? "" : "not");
		}
	}
}

/* The capabilities the node container must add: see values.yaml, node section. */
static void expected_node_caps(cJSON *node, char *out, size_t len)
{
	/* SYS_PTRACE in every mode: force mode's write needs the same access as a read */
	(void)node;
	snprintf(out, len, "SYS_PTRACE");
}

static int check_restricted(cJSON *c, const char *where)
{
	cJSON *sc = chart_get(c, "securityContext");
	char drop[128];

	joined(chart_get(sc, "capabilities.drop"), drop, sizeof(drop));
	if (!cJSON_IsTrue(chart_get(sc, "runAsNonRoot")) ||
	    cJSON_GetNumberValue(chart_get(sc, "runAsUser")) != 65534 ||
	    !cJSON_IsTrue(chart_get(sc, "readOnlyRootFilesystem")) ||
	    !cJSON_IsFalse(chart_get(sc, "allowPrivilegeEscalation")) ||
	    !cJSON_IsFalse(chart_get(sc, "privileged")) || strcmp(drop, "ALL") != 0 ||
	    chart_get(sc, "capabilities.add") ||
	    strcmp(cJSON_GetStringValue(chart_get(sc, "seccompProfile.type")) ?: "",
		   "RuntimeDefault") != 0) {
		fprintf(stderr, "    %s: not restricted\n", where);
		return 0;
	}
	return 1;
}

TEST(containers_hold_only_the_documented_privileges)
{
	NEED_RENDERS();
	for (int i = 0; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		cJSON *w;

		FOR_EACH_WORKLOAD(x->r.docs, w)
		{
			const char *kind = cJSON_GetStringValue(chart_get(w, "kind"));
			cJSON *spec = chart_pod_spec(w), *c, *v;
			int ds = strcmp(kind, "DaemonSet") == 0;

			CHECK_MSG(cJSON_IsTrue(chart_get(spec, "hostPID")) == ds,
				  "%s: hostPID on %s", x->label, kind);
			CHECK(!cJSON_IsTrue(chart_get(spec, "hostNetwork")));
			CHECK(!cJSON_IsTrue(chart_get(spec, "hostIPC")));
			CHECK_STR(cJSON_GetStringValue(chart_get(spec, "securityContext.seccompProfile.type")),
				  "RuntimeDefault");
			CHECK_MSG(!chart_get(spec, "initContainers"), "%s", x->label);
			/* the node pod has no token unless it runs a scraper, and then only there */
			if (ds)
				CHECK(cJSON_IsFalse(chart_get(spec, "automountServiceAccountToken")));
			cJSON_ArrayForEach(v, chart_get(spec, "volumes"))
			{
				const char *hp = cJSON_GetStringValue(chart_get(v, "hostPath.path"));
				CHECK_MSG(!hp || (ds && strcmp(hp, "/var/log/containers") == 0),
					  "%s: hostPath %s", x->label, hp);
			}
			cJSON_ArrayForEach(c, chart_get(spec, "containers"))
			{
				const char *name = cJSON_GetStringValue(chart_get(c, "name"));
				char where[256], got[128], want[128];
				cJSON *m;

				snprintf(where, sizeof(where), "%s: %s/%s", x->label, kind, name);
				CHECK_MSG(!cJSON_IsTrue(chart_get(c, "securityContext.privileged")),
					  "%s is privileged", where);
				CHECK_MSG(chart_get(c, "resources.requests.cpu") &&
						  chart_get(c, "resources.requests.memory") &&
						  chart_get(c, "resources.limits.cpu") &&
						  chart_get(c, "resources.limits.memory"),
					  "%s: resources", where);
				CHECK_STR(cJSON_GetStringValue(chart_get(c, "livenessProbe.httpGet.path")),
					  "/healthz");
				CHECK_STR(cJSON_GetStringValue(chart_get(c, "readinessProbe.httpGet.path")),
					  "/readyz");
				cJSON_ArrayForEach(m, chart_get(c, "volumeMounts"))
				{
					const char *mp = cJSON_GetStringValue(chart_get(m, "mountPath"));
					if (mp && strcmp(mp, "/var/log/containers") == 0)
						CHECK_MSG(cJSON_IsTrue(chart_get(m, "readOnly")),
							  "%s: host logs writable", where);
					if (mp && strstr(mp, "serviceaccount"))
						CHECK_MSG(strv_has(chart_get(c, "command"), "cluster"),
							  "%s: an API token it does not need", where);
				}
				if (!(ds && strcmp(name, "node") == 0)) {
					CHECK(check_restricted(c, where));
					continue;
				}
				/* the node container: root, the documented capabilities only */
				CHECK_EQ(cJSON_GetNumberValue(chart_get(c, "securityContext.runAsUser")), 0);
				CHECK(cJSON_IsFalse(chart_get(c, "securityContext.allowPrivilegeEscalation")));
				CHECK(cJSON_IsTrue(chart_get(c, "securityContext.readOnlyRootFilesystem")));
				joined(chart_get(c, "securityContext.capabilities.drop"), got, sizeof(got));
				CHECK_STR(got, "ALL");
				joined(chart_get(c, "securityContext.capabilities.add"), got, sizeof(got));
				expected_node_caps(c, want, sizeof(want));
				CHECK_MSG(strcmp(got, want) == 0, "%s: adds %s, documented %s", where,
					  got, want);
			}
		}
	}
}

TEST(force_mode_from_extra_env_needs_no_more_capabilities)
{
	struct rendering *x;
	cJSON *node;
	char got[128];

	NEED_RENDERS();
	x = by_label("extra-env.yaml");
	CHECK(x && x->status == 0);
	node = chart_container(chart_find(x->r.docs, "DaemonSet", NULL), "node");
	joined(chart_get(node, "securityContext.capabilities.add"), got, sizeof(got));
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(node, "GO_HEAP_PROFILER"), "value")),
		  "force");
	CHECK_STR(got, "SYS_PTRACE");
}

/* ---- configuration --------------------------------------------------------------- */

TEST(api_key_is_never_a_plain_value)
{
	static const char *const plain[] = {"plain-key-in-values", "must-not-appear-anywhere",
					    "k3y", NULL};
	NEED_RENDERS();
	for (int i = 0; i < g.n; i++) {
		struct rendering *x = &g.all[i];
		cJSON *w, *c;
		for (const char *const *p = plain; *p; p++) {
			/* a Secret's data is base64: the plain key appears nowhere */
			CHECK_MSG(!strstr(x->r.yaml, *p), "%s: the API key %s appears in plain",
				  x->label, *p);
		}
		FOR_EACH_WORKLOAD(x->r.docs, w)
		{
			cJSON_ArrayForEach(c, chart_get(chart_pod_spec(w), "containers"))
			{
				cJSON *e = chart_env(c, "API_KEY");
				if (!e)
					continue;
				CHECK_MSG(!chart_get(e, "value"), "%s: API_KEY with a value", x->label);
				CHECK(chart_get(e, "valueFrom.secretKeyRef.name"));
			}
		}
	}
	/* the existing Secret wins over the plain key, and no Secret is made */
	{
		struct rendering *x = by_label("existing-secret.yaml");
		cJSON *dep = chart_find(x->r.docs, "Deployment", NULL);
		cJSON *e = chart_env(chart_container(dep, "cluster"), "API_KEY");
		CHECK_STR(cJSON_GetStringValue(chart_get(e, "valueFrom.secretKeyRef.name")),
			  "coroot-api-key");
		CHECK_STR(cJSON_GetStringValue(chart_get(e, "valueFrom.secretKeyRef.key")), "key");
		CHECK_EQ(chart_count(x->r.docs, "Secret"), 0);
		CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(chart_container(dep, "cluster"),
								   "COROOT_URL"), "value")),
			  "http://coroot-coroot.coroot:8080");
	}
}

/* The names of a container's env, in order, joined by commas. */
static void env_names(cJSON *c, char *out, size_t len)
{
	cJSON *e;
	size_t o = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(e, chart_get(c, "env"))
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", o ? "," : "",
				      cJSON_GetStringValue(chart_get(e, "name")));
}

TEST(extra_env_is_merged_like_the_coroot_operator_does)
{
	struct rendering *x;
	cJSON *node, *cl, *w;
	char names[2048];

	NEED_RENDERS();
	x = by_label("extra-env.yaml");
	CHECK(x && x->status == 0);
	node = chart_container(chart_find(x->r.docs, "DaemonSet", NULL), "node");
	env_names(node, names, sizeof(names));
	/* replaced in place (GO_HEAP_PROFILER, PODPROF_INTERVAL), new names appended in the
	 * order given, every name once */
	CHECK_STR(names, "NODE_NAME,COLLECTOR_ENDPOINT,PODPROF_UPLOAD_TIMEOUT,PODPROF_SPOOL_DIR,"
			 "PODPROF_SPOOL_MAX_BYTES,PODPROF_QUEUE_MAX_BYTES,PODPROF_LOG_LEVEL,"
			 "GO_HEAP_PROFILER,PODPROF_INTERVAL,PODPROF_CONTAINER_LOG_DIR,LISTEN,"
			 "API_KEY,SCRAPE_INTERVAL");
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(node, "GO_HEAP_PROFILER"), "value")),
		  "force");
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(node, "PODPROF_INTERVAL"), "value")),
		  "30s");
	cl = chart_container(chart_find(x->r.docs, "Deployment", NULL), "cluster");
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(cl, "PROFILES_SCRAPE_INTERVAL"),
						 "value")),
		  "30s");
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(cl, "PODPROF_SCRAPE_TYPES"), "value")),
		  "cpu,heap");
	/* no rendering ever repeats a name (kubectl apply and the API server warn on it) */
	for (int i = 0; i < g.n; i++) {
		FOR_EACH_WORKLOAD(g.all[i].r.docs, w)
		{
			cJSON *c;
			cJSON_ArrayForEach(c, chart_get(chart_pod_spec(w), "containers"))
			{
				cJSON *e, *f;
				cJSON_ArrayForEach(e, chart_get(c, "env"))
				{
					int seen = 0;
					cJSON_ArrayForEach(f, chart_get(c, "env")) seen +=
						strcmp(cJSON_GetStringValue(chart_get(e, "name")),
						       cJSON_GetStringValue(chart_get(f, "name"))) == 0;
					CHECK_MSG(seen == 1, "%s: env %s repeated", g.all[i].label,
						  cJSON_GetStringValue(chart_get(e, "name")));
				}
			}
		}
	}
}

TEST(node_local_scraping_gets_a_token_of_its_own)
{
	struct rendering *x;
	cJSON *ds, *local, *node;

	NEED_RENDERS();
	x = by_label("node-local.yaml");
	CHECK(x && x->status == 0);
	ds = chart_find(x->r.docs, "DaemonSet", NULL);
	local = chart_container(ds, "local-scraper");
	node = chart_container(ds, "node");
	CHECK(local && node);
	CHECK(strv_has(chart_get(local, "command"), "cluster"));
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(local, "PODPROF_NODE"),
						 "valueFrom.fieldRef.fieldPath")),
		  "spec.nodeName");
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(local, "PROFILES_SCRAPE_INTERVAL"),
						 "value")),
		  "30s");
	/* two processes in one network namespace: two ports */
	CHECK_STR(cJSON_GetStringValue(chart_get(chart_env(local, "LISTEN"), "value")),
		  "0.0.0.0:10302");
	CHECK(cJSON_IsFalse(chart_get(chart_pod_spec(ds), "automountServiceAccountToken")));
	{
		cJSON *m;
		cJSON_ArrayForEach(m, chart_get(node, "volumeMounts"))
			CHECK_MSG(strcmp(cJSON_GetStringValue(chart_get(m, "name")), "api-token") != 0,
				  "the node container mounts the API token");
	}
}

/* ---- kubectl ---------------------------------------------------------------------- */

/* How kubectl names an object in "created (dry run)": the kind in lower case, qualified
 * by the group when it has one ("deployment.apps/x", "serviceaccount/x"). */
static void kubectl_object_name(cJSON *d, char *out, size_t len)
{
	const char *api = cJSON_GetStringValue(chart_get(d, "apiVersion"));
	const char *kind = cJSON_GetStringValue(chart_get(d, "kind"));
	const char *name = cJSON_GetStringValue(chart_get(d, "metadata.name"));
	const char *slash = api ? strchr(api, '/') : NULL;
	char lower[128];
	size_t i = 0;

	for (; kind && kind[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)kind[i]);
	lower[i] = '\0';
	if (slash)
		snprintf(out, len, "%s.%.*s/%s", lower, (int)(slash - api), api, name ? name : "");
	else
		snprintf(out, len, "%s/%s", lower, name ? name : "");
}

TEST(kubectl_dry_run_accepts_the_manifests)
{
	struct chart_peer kube = {0};
	char *dir = NULL, *kc = NULL, *all = NULL, *cmd = NULL, *text = NULL;
	struct buf out, served, yaml, missing, absent;
	int st, expected = 0, created = 0, unserved = 0;

	NEED_RENDERS();
	NEED_SWAGGER();
	if (access(CHART_KUBECTL, X_OK) != 0)
		SKIP("%s is not installed", CHART_KUBECTL);
	buf_init(&out, 4 << 20);
	buf_init(&served, 1 << 20);
	buf_init(&yaml, 0);
	buf_init(&missing, 0);
	buf_init(&absent, 0);
	dir = test_tmpdir("chart-kubectl");
	CHECK(chart_start_kube(&kube, dir, (const char *const[]){"--quiet", NULL}) == 0);
	kc = chart_asprintf("%s/kubeconfig", dir);
	text = chart_asprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n"
			      "  cluster:\n    server: http://127.0.0.1:%d\n"
			      "contexts:\n- name: fake\n  context: {cluster: fake, user: u, "
			      "namespace: podprof}\ncurrent-context: fake\nusers:\n- name: u\n"
			      "  user: {}\n",
			      kube.port);
	test_write_file(kc, text, strlen(text));
	/* the kinds the fake server serves (" apps/v1 DaemonSet;" entries) */
	cmd = chart_asprintf("HOME='%s' %s --kubeconfig '%s' api-resources --no-headers | "
			     "awk '{print \" \" $(NF-2) \" \" $NF \";\"}'",
			     dir, CHART_KUBECTL, kc);
	st = test_sh(cmd, &served, 1);
	free(cmd);
	cmd = NULL;
	CHECK_MSG(st == 0 && served.data, "kubectl api-resources failed: %s",
		  served.data ? served.data : "");
	/* every object of every rendering in one stream (one release name each); a kind the
	 * server does not serve is a failure: kubectl could not map it */
	for (int i = 0; i < g.n; i++) {
		cJSON *d;
		cJSON_ArrayForEach(d, g.all[i].r.docs)
		{
			char key[160], *json;
			snprintf(key, sizeof(key), " %s %s;",
				 cJSON_GetStringValue(chart_get(d, "apiVersion")),
				 cJSON_GetStringValue(chart_get(d, "kind")));
			if (!strstr(served.data, key)) {
				if (!missing.data || !strstr(missing.data, key))
					buf_append_str(&missing, key);
				unserved++;
			}
			json = cJSON_PrintUnformatted(d);
			buf_printf(&yaml, "---\n%s\n", json);
			free(json);
			expected++;
		}
	}
	if (missing.len) {
		char kinds[1024];

		snprintf(kinds, sizeof(kinds), "%s", missing.data);
		chart_stop_peer(&kube);
		test_rmtree(dir);
		free(dir);
		free(kc);
		free(text);
		buf_free(&out);
		buf_free(&served);
		buf_free(&yaml);
		buf_free(&missing);
		buf_free(&absent);
		CHECK_MSG(0, "kubectl cannot map %d of the %d rendered objects: the fake API "
			  "server (tests/tools/fake_kube.py) does not serve their kinds:%s",
			  unserved, expected, kinds);
	}
	all = chart_asprintf("%s/all.yaml", dir);
	test_write_file(all, yaml.data, yaml.len);
	cmd = chart_asprintf("HOME='%s' %s --kubeconfig '%s' apply --dry-run=client -f '%s'",
			     dir, CHART_KUBECTL, kc, all);
	st = test_sh(cmd, &out, 1);
	chart_stop_peer(&kube);
	for (char *p = out.data; p && (p = strstr(p, " created (dry run)\n")) != NULL; p++)
		created++;
	/* each object by name: kubectl GETs it first, and the server's 404 makes it new */
	for (int i = 0; out.data && i < g.n; i++) {
		cJSON *d;
		cJSON_ArrayForEach(d, g.all[i].r.docs)
		{
			char obj[320], line[360];
			kubectl_object_name(d, obj, sizeof(obj));
			snprintf(line, sizeof(line), "\n%s created (dry run)\n", obj);
			if (strncmp(out.data, line + 1, strlen(line + 1)) != 0 &&
			    !strstr(out.data, line))
				buf_printf(&absent, " %s;", obj);
		}
	}
	test_rmtree(dir);
	free(dir);
	free(kc);
	free(all);
	free(cmd);
	free(text);
	CHECK_MSG(expected > 0, "nothing rendered");
	CHECK_MSG(st == 0, "kubectl apply --dry-run=client failed (%d):\n%s", st, out.data);
	CHECK_MSG(created == expected && absent.len == 0,
		  "%d of %d objects created (dry run); not created:%s\n%s", created, expected,
		  absent.data ? absent.data : " (none)", out.data);
	printf("  %d objects of %d renderings created (dry run)\n", created, g.n);
	buf_free(&out);
	buf_free(&served);
	buf_free(&yaml);
	buf_free(&missing);
	buf_free(&absent);
}

/* ---- bad values -------------------------------------------------------------------- */

static void render_fails(const char *set1, const char *set2, const char *message, int *ok)
{
	struct chart_render r;
	const char *args[] = {"--set", set1, set2 ? "--set" : NULL, set2, NULL};
	int st = chart_render(args, &r);

	*ok = st > 0 && r.err && strstr(r.err, message);
	if (!*ok)
		fprintf(stderr, "    --set %s: status %d, stderr: %s\n", set1, st,
			r.err ? r.err : "(none)");
	chart_render_free(&r);
}

TEST(bad_values_fail_with_a_clear_message)
{
	int ok;

	NEED_RENDERS();
	render_fails("node.goHeapProfiler=sometimes", NULL,
		     "\"sometimes\" is not disabled, enabled or force", &ok);
	CHECK(ok);
	render_fails("node.env[0].name=GO_HEAP_PROFILER", "node.env[0].value=on",
		     "\"on\" is not disabled, enabled or force", &ok);
	CHECK(ok);
	render_fails("cluster.shards=0", NULL, "cluster.shards must be 1 or more", &ok);
	CHECK(ok);
	render_fails("cluster.scrapeAuth.basic.user=u", NULL,
		     "cluster.scrapeAuth.basic.passwordSecret.name is required", &ok);
	CHECK(ok);
	render_fails("node.env[0].value=x", NULL, "env[0]: name is required", &ok);
	CHECK(ok);
}
