{{/*
Names, labels, and the environment of the two roles.

Every setting reaches podprof as an environment variable, never as a flag: a flag beats
its variable, so only variables let a user's cluster.env / node.env entry (appended last,
as a Coroot custom resource's spec.clusterAgent.env / spec.nodeAgent.env is) override
what the chart sets.
*/}}

{{- define "podprof.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "podprof.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object names: fullname plus a suffix, kept within 63 characters. */}}
{{- define "podprof.clusterName" -}}
{{- printf "%s-cluster" (include "podprof.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}
{{- define "podprof.nodeName" -}}
{{- printf "%s-node" (include "podprof.fullname" . | trunc 58 | trimSuffix "-") -}}
{{- end -}}

{{- define "podprof.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels; call with (dict "ctx" $ "component" "cluster"|"node"). */}}
{{- define "podprof.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podprof.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "podprof.labels" -}}
helm.sh/chart: {{ include "podprof.chart" .ctx }}
{{ include "podprof.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "podprof.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "podprof.clusterServiceAccount" -}}
{{- if .Values.cluster.serviceAccount.create -}}
{{- default (include "podprof.clusterName" .) .Values.cluster.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.cluster.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "podprof.nodeServiceAccount" -}}
{{- if .Values.node.serviceAccount.create -}}
{{- default (include "podprof.nodeName" .) .Values.node.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.node.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the API key: an existing one, or the chart's own. */}}
{{- define "podprof.apiKeySecretName" -}}
{{- if .Values.coroot.existingSecret.name -}}
{{- .Values.coroot.existingSecret.name -}}
{{- else if .Values.coroot.apiKey -}}
{{- include "podprof.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "podprof.apiKeySecretKey" -}}
{{- if .Values.coroot.existingSecret.name -}}
{{- required "coroot.existingSecret.key is required with coroot.existingSecret.name" .Values.coroot.existingSecret.key -}}
{{- else -}}
api-key
{{- end -}}
{{- end -}}

{{/* Mount paths of the files the chart gives podprof. */}}
{{- define "podprof.corootCAPath" -}}/etc/podprof/coroot-ca/ca.crt{{- end -}}
{{- define "podprof.scrapeCAPath" -}}/etc/podprof/scrape-ca/ca.crt{{- end -}}
{{- define "podprof.scrapeTokenPath" -}}/etc/podprof/scrape-token/token{{- end -}}
{{- define "podprof.scrapePasswordPath" -}}/etc/podprof/scrape-basic/password{{- end -}}
{{- define "podprof.serviceAccountTokenPath" -}}/var/run/secrets/kubernetes.io/serviceaccount/token{{- end -}}

{{/* A CA reference ({secret: {name, key}, configMap: {name, key}}) is set. */}}
{{- define "podprof.hasCA" -}}
{{- if or .secret.name .configMap.name -}}true{{- end -}}
{{- end -}}

{{/* A volume delivering a CA reference as ca.crt; call with (dict "name" N "ca" REF). */}}
{{- define "podprof.caVolume" -}}
- name: {{ .name }}
{{- if .ca.secret.name }}
  secret:
    secretName: {{ .ca.secret.name }}
    items:
      - key: {{ required (printf "%s: secret.key is required" .name) .ca.secret.key }}
        path: ca.crt
{{- else }}
  configMap:
    name: {{ .ca.configMap.name }}
    items:
      - key: {{ required (printf "%s: configMap.key is required" .name) .ca.configMap.key }}
        path: ca.crt
{{- end }}
{{- end -}}

{{/*
The uploader's environment, shared by both roles; call with (dict "ctx" $ "role"
"cluster"|"node"|"local"). Returns a JSON list of EnvVar objects.
*/}}
{{- define "podprof.uploadEnv" -}}
{{- $v := .ctx.Values -}}
{{- $env := list -}}
{{- $secret := include "podprof.apiKeySecretName" .ctx -}}
{{- if $secret -}}
{{- $env = append $env (dict "name" "API_KEY" "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" (include "podprof.apiKeySecretKey" .ctx)))) -}}
{{- end -}}
{{- if $v.coroot.profilesEndpoint -}}
{{- $env = append $env (dict "name" "PROFILES_ENDPOINT" "value" $v.coroot.profilesEndpoint) -}}
{{- else if $v.coroot.url -}}
{{- /* the names each Coroot agent uses for the base URL */ -}}
{{- $env = append $env (dict "name" (ternary "COLLECTOR_ENDPOINT" "COROOT_URL" (eq .role "node")) "value" (trimSuffix "/" $v.coroot.url)) -}}
{{- else -}}
{{- /* no Coroot: profiles are written as files into the pod's profiles volume */ -}}
{{- $env = append $env (dict "name" "PODPROF_OUTPUT_DIR" "value" "/var/lib/podprof/profiles") -}}
{{- end -}}
{{- if $v.coroot.tls.insecureSkipVerify -}}
{{- $env = append $env (dict "name" "INSECURE_SKIP_VERIFY" "value" "true") -}}
{{- end -}}
{{- if include "podprof.hasCA" $v.coroot.tls.ca -}}
{{- $env = append $env (dict "name" "CA_FILE" "value" (include "podprof.corootCAPath" .ctx)) -}}
{{- end -}}
{{- $env = append $env (dict "name" "PODPROF_UPLOAD_TIMEOUT" "value" (toString $v.upload.timeout)) -}}
{{- $env = append $env (dict "name" "PODPROF_SPOOL_DIR" "value" "/var/lib/podprof/spool") -}}
{{- $env = append $env (dict "name" "PODPROF_SPOOL_MAX_BYTES" "value" (toString $v.upload.spool.maxBytes)) -}}
{{- $env = append $env (dict "name" "PODPROF_QUEUE_MAX_BYTES" "value" (toString $v.upload.queueMaxBytes)) -}}
{{- $env = append $env (dict "name" "PODPROF_LOG_LEVEL" "value" (toString $v.logLevel)) -}}
{{- toJson $env -}}
{{- end -}}

{{/*
The scraper's environment (cluster role and the node's local scraper); call with (dict
"ctx" $ "local" true|false). A JSON list of EnvVar objects.
*/}}
{{- define "podprof.scrapeEnv" -}}
{{- $v := .ctx.Values -}}
{{- $c := $v.cluster -}}
{{- $env := list -}}
{{- $env = append $env (dict "name" "PROFILES_SCRAPE_INTERVAL" "value" (toString $c.scrapeInterval)) -}}
{{- $env = append $env (dict "name" "PROFILES_SCRAPE_TIMEOUT" "value" (toString $c.scrapeTimeout)) -}}
{{- if $c.scrapeTypes -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_TYPES" "value" (toString $c.scrapeTypes)) -}}
{{- end -}}
{{- if $c.cpuDuration -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_CPU_DURATION" "value" (toString $c.cpuDuration)) -}}
{{- end -}}
{{- if $c.scrapeConcurrency -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_CONCURRENCY" "value" (toString (int $c.scrapeConcurrency))) -}}
{{- end -}}
{{- if $c.discovery.namespace -}}
{{- $env = append $env (dict "name" "PODPROF_NAMESPACE" "value" $c.discovery.namespace) -}}
{{- end -}}
{{- if $c.discovery.labelSelector -}}
{{- $env = append $env (dict "name" "PODPROF_LABEL_SELECTOR" "value" $c.discovery.labelSelector) -}}
{{- end -}}
{{- if $c.discovery.fieldSelector -}}
{{- $env = append $env (dict "name" "PODPROF_FIELD_SELECTOR" "value" $c.discovery.fieldSelector) -}}
{{- end -}}
{{- $env = append $env (dict "name" "PODPROF_WATCH_REPLICASETS" "value" (ternary "true" "false" (include "podprof.watchReplicaSets" .ctx | eq "true"))) -}}
{{- if .local -}}
{{- $env = append $env (dict "name" "PODPROF_NODE" "valueFrom" (dict "fieldRef" (dict "apiVersion" "v1" "fieldPath" "spec.nodeName"))) -}}
{{- else if gt (int $c.shards) 1 -}}
{{- $env = append $env (dict "name" "PODPROF_SHARD" "value" (printf "auto/%d" (int $c.shards))) -}}
{{- end -}}
{{- $s := $c.scrapeTLS -}}
{{- if include "podprof.hasCA" $s.ca -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_CA_FILE" "value" (include "podprof.scrapeCAPath" .ctx)) -}}
{{- end -}}
{{- if $s.insecureSkipVerify -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_INSECURE_SKIP_VERIFY" "value" "true") -}}
{{- end -}}
{{- $a := $c.scrapeAuth -}}
{{- if $a.bearerToken.secret.name -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_BEARER_TOKEN_FILE" "value" (include "podprof.scrapeTokenPath" .ctx)) -}}
{{- else if $a.bearerToken.serviceAccountToken -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_BEARER_TOKEN_FILE" "value" (include "podprof.serviceAccountTokenPath" .ctx)) -}}
{{- end -}}
{{- if $a.basic.user -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_BASIC_AUTH_USER" "value" $a.basic.user) -}}
{{- $env = append $env (dict "name" "PODPROF_SCRAPE_BASIC_AUTH_PASSWORD_FILE" "value" (include "podprof.scrapePasswordPath" .ctx)) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{- define "podprof.watchReplicaSets" -}}
{{- if kindIs "invalid" .Values.cluster.discovery.watchReplicaSets -}}true{{- else -}}{{ .Values.cluster.discovery.watchReplicaSets }}{{- end -}}
{{- end -}}

{{/*
The Coroot operator's merge of a user's env list into the agent's: an entry whose name
is already there replaces it in place, a new name is appended, and of several entries
with one name the last wins. Call with (list BASE EXTRA); prints a YAML list, one
entry per name.
*/}}
{{- define "podprof.mergeEnv" -}}
{{- $base := index . 0 -}}
{{- $extra := index . 1 -}}
{{- $last := dict -}}
{{- range $i, $e := $extra -}}
{{- $_ := set $last (required (printf "env[%d]: name is required" $i) $e.name) $e -}}
{{- end -}}
{{- $out := list -}}
{{- $seen := dict -}}
{{- range $base -}}
{{- if hasKey $last .name -}}
{{- $out = append $out (get $last .name) -}}
{{- else -}}
{{- $out = append $out . -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- range $extra -}}
{{- if not (hasKey $seen .name) -}}
{{- $out = append $out (get $last .name) -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
The heap profiler mode in effect on the node: the last GO_HEAP_PROFILER of node.env
with a plain value, else node.goHeapProfiler. It decides the capabilities.
*/}}
{{- define "podprof.heapProfilerMode" -}}
{{- $mode := toString .Values.node.goHeapProfiler -}}
{{- range .Values.node.env -}}
{{- if and (eq .name "GO_HEAP_PROFILER") (hasKey . "value") -}}
{{- $mode = toString .value -}}
{{- end -}}
{{- end -}}
{{- if not (has $mode (list "disabled" "enabled" "force")) -}}
{{- fail (printf "GO_HEAP_PROFILER / node.goHeapProfiler: %q is not disabled, enabled or force" $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/*
The node container's capabilities, as a JSON list (see the node section of values.yaml
for why each is there).
*/}}
{{- define "podprof.nodeCapabilities" -}}
{{- toJson (list "SYS_PTRACE") -}}
{{- end -}}

{{/* The container security context of podprof's unprivileged containers. */}}
{{- define "podprof.restrictedContainerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65534
runAsGroup: 65534
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "podprof.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  initialDelaySeconds: 10
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Mounts and volumes of the uploader's files (the Coroot CA). */}}
{{- define "podprof.uploadMounts" -}}
{{- if include "podprof.hasCA" .Values.coroot.tls.ca }}
- name: coroot-ca
  mountPath: /etc/podprof/coroot-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "podprof.uploadVolumes" -}}
{{- if include "podprof.hasCA" .Values.coroot.tls.ca }}
{{ include "podprof.caVolume" (dict "name" "coroot-ca" "ca" .Values.coroot.tls.ca) }}
{{- end }}
{{- end -}}

{{/* Mounts and volumes of the scraper's files (target CA, bearer token, password). */}}
{{- define "podprof.scrapeMounts" -}}
{{- $c := .Values.cluster -}}
{{- if include "podprof.hasCA" $c.scrapeTLS.ca }}
- name: scrape-ca
  mountPath: /etc/podprof/scrape-ca
  readOnly: true
{{- end }}
{{- if $c.scrapeAuth.bearerToken.secret.name }}
- name: scrape-token
  mountPath: /etc/podprof/scrape-token
  readOnly: true
{{- end }}
{{- if $c.scrapeAuth.basic.user }}
- name: scrape-basic
  mountPath: /etc/podprof/scrape-basic
  readOnly: true
{{- end }}
{{- end -}}

{{- define "podprof.scrapeVolumes" -}}
{{- $c := .Values.cluster -}}
{{- if include "podprof.hasCA" $c.scrapeTLS.ca }}
{{ include "podprof.caVolume" (dict "name" "scrape-ca" "ca" $c.scrapeTLS.ca) }}
{{- end }}
{{- with $c.scrapeAuth.bearerToken.secret }}
{{- if .name }}
- name: scrape-token
  secret:
    secretName: {{ .name }}
    items:
      - key: {{ required "cluster.scrapeAuth.bearerToken.secret.key is required" .key }}
        path: token
{{- end }}
{{- end }}
{{- if $c.scrapeAuth.basic.user }}
- name: scrape-basic
  secret:
    secretName: {{ required "cluster.scrapeAuth.basic.passwordSecret.name is required with cluster.scrapeAuth.basic.user" $c.scrapeAuth.basic.passwordSecret.name }}
    items:
      - key: {{ required "cluster.scrapeAuth.basic.passwordSecret.key is required" $c.scrapeAuth.basic.passwordSecret.key }}
        path: password
{{- end }}
{{- end -}}

{{/* The volumes every podprof pod has: the spool, and the profiles directory without Coroot. */}}
{{- define "podprof.hasCoroot" -}}
{{- if or .Values.coroot.url .Values.coroot.profilesEndpoint -}}true{{- end -}}
{{- end -}}
