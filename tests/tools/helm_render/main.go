// helm_render renders a Helm chart the way `helm template` does, for podprof's chart
// tests on machines without the helm binary: Go's text/template with the sprig
// functions (Debian's golang-github-masterminds-sprig-dev) and the Helm built-ins the
// chart uses. It is a test tool, not a Helm replacement: no dependencies, no hooks, no
// lookup against a cluster, no schema file.
//
// Usage:
//
//	helm_render [--name NAME] [--namespace NS] [-f values.yaml]... [--set k=v]...
//	            [--set-string k=v]... [--output yaml|json] [--notes FILE]
//	            [--kube-version v1.34.0] CHART_DIR
//
// What it mirrors from Helm 3, because the chart must behave the same under both:
//   - values: the chart's values.yaml, then each -f file, then --set/--set-string in
//     order; maps merge deeply, anything else is replaced, null deletes a key. Numbers
//     from YAML files are float64 (Helm decodes values through JSON), numbers from
//     --set are int64 (Helm's strvals), so a template that compares numbers must
//     convert them (int ...) exactly as it must under Helm.
//   - objects: .Values, .Release (Name, Namespace, Service "Helm", IsInstall,
//     IsUpgrade, Revision), .Chart (the Chart.yaml fields, capitalised: Name, Version,
//     AppVersion, ...), .Capabilities (KubeVersion, APIVersions.Has), .Template (Name,
//     BasePath).
//   - functions: sprig's text functions without env/expandenv, and include, tpl,
//     required, fail, toYaml, fromYaml, fromYamlArray, toJson, fromJson,
//     fromJsonArray, lookup (always empty, as under `helm template`).
//   - missing keys render as empty (missingkey=zero, "<no value>" removed).
//   - files under templates/ whose names start with "_" only define templates;
//     NOTES.txt is rendered apart (--notes); every other file is split into YAML
//     documents, empty ones dropped, each checked to be valid YAML, and the documents
//     are printed sorted by Helm's install order of kinds, each under a
//     "# Source: CHART/templates/FILE" comment.
//
// --output json prints one JSON array of the documents instead (for tests that inspect
// them). Errors go to stderr as "Error: ..." with exit status 1, as helm does.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// setArg is one --set or --set-string, kept in command-line order.
type setArg struct {
	text     string
	asString bool
}

type setFlag struct {
	list     *[]setArg
	asString bool
}

func (s setFlag) String() string { return "" }
func (s setFlag) Set(v string) error {
	*s.list = append(*s.list, setArg{v, s.asString})
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("helm_render", flag.ContinueOnError)
	name := fs.String("name", "release-name", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	output := fs.String("output", "yaml", "yaml or json")
	notes := fs.String("notes", "", "also render NOTES.txt into this file")
	kubeVersion := fs.String("kube-version", "v1.34.0", "Kubernetes version for .Capabilities")
	var valueFiles multiFlag
	var sets []setArg
	fs.Var(&valueFiles, "f", "values file (repeatable)")
	fs.Var(&valueFiles, "values", "values file (repeatable)")
	fs.Var(setFlag{&sets, false}, "set", "set a value: a.b=c[,d.e=f] (repeatable)")
	fs.Var(setFlag{&sets, true}, "set-string", "set a string value (repeatable)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("expected exactly one chart directory")
	}
	if *output != "yaml" && *output != "json" {
		return fmt.Errorf("--output %q: expected yaml or json", *output)
	}
	chartDir := fs.Arg(0)

	chart, err := loadChart(chartDir)
	if err != nil {
		return err
	}
	values, err := readValuesFile(filepath.Join(chartDir, "values.yaml"), true)
	if err != nil {
		return err
	}
	for _, f := range valueFiles {
		v, err := readValuesFile(f, false)
		if err != nil {
			return err
		}
		values = coalesce(values, v)
	}
	for _, s := range sets {
		if err := applySet(values, s.text, s.asString); err != nil {
			return fmt.Errorf("failed parsing --set data %q: %v", s.text, err)
		}
	}
	dropNulls(values)

	r := &renderer{
		chartName: chart["Name"].(string),
		top: map[string]interface{}{
			"Values": values,
			"Release": map[string]interface{}{
				"Name": *name, "Namespace": *namespace, "Service": "Helm",
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Chart":        chart,
			"Capabilities": capabilities(*kubeVersion),
		},
	}
	docs, notesText, err := r.render(chartDir)
	if err != nil {
		return err
	}
	if *notes != "" {
		if err := os.WriteFile(*notes, []byte(notesText), 0o644); err != nil {
			return err
		}
	}
	return printDocs(docs, *output)
}

// reorder moves flags before the positional chart argument, as helm accepts both orders.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// ---- chart and values -----------------------------------------------------------

func loadChart(dir string) (map[string]interface{}, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var raw map[string]interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	out := map[string]interface{}{}
	for k, v := range raw {
		out[strings.ToUpper(k[:1])+k[1:]] = normalize(v, true)
	}
	for _, k := range []string{"Name", "Version", "ApiVersion"} {
		if s, ok := out[k].(string); !ok || s == "" {
			return nil, fmt.Errorf("Chart.yaml: %s is required", strings.ToLower(k[:1])+k[1:])
		}
	}
	if _, ok := out["AppVersion"]; !ok {
		out["AppVersion"] = ""
	}
	return out, nil
}

func readValuesFile(p string, chartDefaults bool) (map[string]interface{}, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		if chartDefaults && os.IsNotExist(err) {
			return map[string]interface{}{}, nil
		}
		return nil, err
	}
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := normalize(raw, true).(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: values must be a map", p)
	}
	return m, nil
}

// normalize turns decoded YAML into JSON-like Go values: map[string]interface{},
// []interface{}, string, bool, nil and numbers (float64 when floats is set, as Helm's
// values decoding makes them; int64 otherwise).
func normalize(v interface{}, floats bool) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = normalize(x, floats)
		}
		return t
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x, floats)
		}
		return m
	case []interface{}:
		for i, x := range t {
			t[i] = normalize(x, floats)
		}
		return t
	case int:
		if floats {
			return float64(t)
		}
		return int64(t)
	case int64:
		if floats {
			return float64(t)
		}
		return t
	case uint64:
		if floats {
			return float64(t)
		}
		return int64(t)
	default:
		return v
	}
}

// coalesce merges src over dst (Helm's rule for user values): maps merge deeply,
// other values replace, a null in src deletes the key (dropNulls removes the markers).
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		dv, exists := dst[k]
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dv.(map[string]interface{})
		switch {
		case sv == nil:
			dst[k] = nil
		case exists && sIsMap && dIsMap:
			dst[k] = coalesce(dm, sm)
		default:
			dst[k] = sv
		}
	}
	return dst
}

func dropNulls(m map[string]interface{}) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]interface{}:
			dropNulls(t)
		}
	}
}

// applySet applies one --set argument: comma-separated key=value pairs; keys are
// dotted paths with optional [N] list indexes; "\," and "\." escape. Values are typed
// as Helm's strvals does (int64, bool, null) unless asString.
func applySet(values map[string]interface{}, text string, asString bool) error {
	for _, pair := range splitEscaped(text, ',') {
		eq := indexUnescaped(pair, '=')
		if eq < 0 {
			return fmt.Errorf("key %q has no value", pair)
		}
		key, raw := pair[:eq], unescape(pair[eq+1:])
		var val interface{} = raw
		if !asString {
			val = typedValue(raw)
		}
		if err := setPath(values, splitEscaped(key, '.'), val); err != nil {
			return err
		}
	}
	return nil
}

func typedValue(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(s, "0")) {
		return i
	}
	return s
}

func setPath(m map[string]interface{}, parts []string, val interface{}) error {
	part := unescape(parts[0])
	idx := -1
	if lb := strings.IndexByte(part, '['); lb >= 0 && strings.HasSuffix(part, "]") {
		n, err := strconv.Atoi(part[lb+1 : len(part)-1])
		if err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("bad list index in %q", part)
		}
		idx, part = n, part[:lb]
	}
	if part == "" {
		return errors.New("empty key")
	}
	last := len(parts) == 1
	if idx < 0 {
		if last {
			m[part] = val
			return nil
		}
		sub, ok := m[part].(map[string]interface{})
		if !ok {
			sub = map[string]interface{}{}
			m[part] = sub
		}
		return setPath(sub, parts[1:], val)
	}
	list, _ := m[part].([]interface{})
	for len(list) <= idx {
		list = append(list, nil)
	}
	m[part] = list
	if last {
		list[idx] = val
		return nil
	}
	sub, ok := list[idx].(map[string]interface{})
	if !ok {
		sub = map[string]interface{}{}
		list[idx] = sub
	}
	return setPath(sub, parts[1:], val)
}

func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func indexUnescaped(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func capabilities(kubeVersion string) map[string]interface{} {
	v := strings.TrimPrefix(kubeVersion, "v")
	parts := strings.SplitN(v, ".", 3)
	major, minor := parts[0], ""
	if len(parts) > 1 {
		minor = parts[1]
	}
	apis := map[string]bool{}
	for _, a := range []string{"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "batch/v1",
		"policy/v1", "networking.k8s.io/v1", "apps/v1/DaemonSet", "apps/v1/Deployment",
		"apps/v1/StatefulSet", "v1/Service", "v1/ServiceAccount", "v1/Secret", "v1/ConfigMap",
		"rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding"} {
		apis[a] = true
	}
	return map[string]interface{}{
		"KubeVersion": map[string]interface{}{
			"Version": "v" + v, "Major": major, "Minor": minor, "GitVersion": "v" + v,
		},
		"APIVersions": apiVersions(apis),
	}
}

// apiVersions gives .Capabilities.APIVersions.Has.
type apiVersions map[string]bool

func (a apiVersions) Has(v string) bool { return a[v] }

// ---- rendering --------------------------------------------------------------------

type renderer struct {
	chartName string
	top       map[string]interface{}
	tmpl      *template.Template
	depth     int
}

type document struct {
	source string
	text   string
	obj    map[string]interface{}
	kind   string
	name   string
	order  int
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYaml
	f["fromYaml"] = fromYaml
	f["fromYamlArray"] = fromYamlArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromJsonArray"] = fromJSONArray
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		if r.depth > 100 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		r.depth++
		defer func() { r.depth-- }()
		var b bytes.Buffer
		if err := r.tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.tmpl.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(b.String(), "<no value>", ""), nil
	}
	return f
}

func (r *renderer) render(chartDir string) ([]document, string, error) {
	tdir := filepath.Join(chartDir, "templates")
	var files []string
	err := filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Strings(files)
	r.tmpl = template.New(r.chartName).Funcs(r.funcs()).Option("missingkey=zero")
	names := map[string]string{}
	for _, p := range files {
		rel, _ := filepath.Rel(chartDir, p)
		name := path.Join(r.chartName, filepath.ToSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		if _, err := r.tmpl.New(name).Parse(string(data)); err != nil {
			return nil, "", fmt.Errorf("parse error in %q: %v", name, err)
		}
		names[p] = name
	}
	var docs []document
	notes := ""
	for _, p := range files {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") {
			continue
		}
		name := names[p]
		text, err := r.execute(name)
		if err != nil {
			return nil, "", err
		}
		if base == "NOTES.txt" {
			notes = text
			continue
		}
		ds, err := splitDocuments(name, text)
		if err != nil {
			return nil, "", err
		}
		docs = append(docs, ds...)
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].order < docs[j].order })
	return docs, notes, nil
}

func (r *renderer) execute(name string) (string, error) {
	data := map[string]interface{}{}
	for k, v := range r.top {
		data[k] = v
	}
	data["Template"] = map[string]interface{}{
		"Name": name, "BasePath": path.Join(r.chartName, "templates"),
	}
	var b bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("template: %v", err)
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

// installOrder is Helm's InstallOrder of kinds; unknown kinds go last.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

func kindOrder(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

// splitDocuments splits a rendered file at "---" lines, drops empty documents and
// checks each remaining one: valid YAML, a map with apiVersion, kind and metadata.name.
func splitDocuments(source, text string) ([]document, error) {
	var out []document
	var cur []string
	flush := func() error {
		body := strings.Join(cur, "\n")
		cur = nil
		if isEmptyDoc(body) {
			return nil
		}
		var raw interface{}
		dec := yaml.NewDecoder(strings.NewReader(body))
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("YAML parse error on %s: %v", source, err)
		}
		obj, ok := normalize(raw, false).(map[string]interface{})
		if !ok {
			return fmt.Errorf("%s: a document is not a map", source)
		}
		kind, _ := obj["kind"].(string)
		meta, _ := obj["metadata"].(map[string]interface{})
		name, _ := meta["name"].(string)
		if _, ok := obj["apiVersion"].(string); !ok || kind == "" {
			return fmt.Errorf("%s: a document has no apiVersion or kind", source)
		}
		if name == "" {
			return fmt.Errorf("%s: %s has no metadata.name", source, kind)
		}
		out = append(out, document{source: source, text: strings.Trim(body, "\n"),
			obj: obj, kind: kind, name: name, order: kindOrder(kind)})
		return nil
	}
	for _, line := range strings.Split(text, "\n") {
		if line == "---" || strings.HasPrefix(line, "--- ") {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur = append(cur, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func isEmptyDoc(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func printDocs(docs []document, output string) error {
	if output == "json" {
		objs := make([]interface{}, len(docs))
		for i, d := range docs {
			objs[i] = d.obj
		}
		b, err := json.MarshalIndent(objs, "", "  ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", d.source, d.text)
	}
	_, err := os.Stdout.WriteString(b.String())
	return err
}

// ---- YAML and JSON functions (Helm's semantics) -------------------------------------

// toYaml marshals like Helm (sigs.k8s.io/yaml): 2-space indentation, keys sorted,
// integral floats printed as integers, no trailing newline. An error renders "".
func toYaml(v interface{}) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(integralFloats(v)); err != nil {
		return ""
	}
	enc.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

func integralFloats(v interface{}) interface{} {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
		return t
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = integralFloats(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = integralFloats(x)
		}
		return l
	default:
		return v
	}
}

func fromYaml(s string) map[string]interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	m, ok := normalize(raw, true).(map[string]interface{})
	if !ok {
		return map[string]interface{}{}
	}
	return m
}

func fromYamlArray(s string) []interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return []interface{}{err.Error()}
	}
	l, _ := normalize(raw, true).([]interface{})
	return l
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(integralFloats(v))
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var l []interface{}
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return []interface{}{err.Error()}
	}
	return l
}
