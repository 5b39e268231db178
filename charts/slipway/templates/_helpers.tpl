{{/* Chart name, truncated to 63 characters (the DNS label limit). */}}
{{- define "slipway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. Truncated to 52 characters so that suffixes such as
"-postgresql" and "-migrate" still fit in 63.
*/}}
{{- define "slipway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "slipway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "slipway.labels" -}}
helm.sh/chart: {{ include "slipway.chart" . }}
{{ include "slipway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: slipway
{{- end }}

{{/* Selector labels (add app.kubernetes.io/component per workload). */}}
{{- define "slipway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slipway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The worker's ServiceAccount; the API uses none of its own. */}}
{{- define "slipway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-worker" (include "slipway.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "slipway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the servers read: the user's, or the chart's. */}}
{{- define "slipway.secretName" -}}
{{- default (include "slipway.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The Secret the migration hook reads. On install the chart's own Secret does
not exist yet when pre-install hooks run, so the hook gets one of its own
holding only SLIPWAY_DATABASE_URL.
*/}}
{{- define "slipway.migrateSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrate" (include "slipway.fullname" .) }}
{{- end }}
{{- end }}

{{/*
The Secret's data. Fails, saying what to set, when a required value is
missing. Only used when secrets.existingSecret is empty.
*/}}
{{- define "slipway.secretData" -}}
SLIPWAY_ADMIN_TOKEN: {{ required "secrets.adminToken is required: the admin API token, 16+ characters (or set secrets.existingSecret)" .Values.secrets.adminToken | b64enc | quote }}
SLIPWAY_SECRET_KEY: {{ required "secrets.secretKey is required: 32 random bytes, base64 (openssl rand -base64 32) (or set secrets.existingSecret)" .Values.secrets.secretKey | b64enc | quote }}
{{- with .Values.secrets.secretKeyPrevious }}
SLIPWAY_SECRET_KEY_PREVIOUS: {{ . | b64enc | quote }}
{{- end }}
SLIPWAY_DATABASE_URL: {{ include "slipway.databaseUrl" . | b64enc | quote }}
SLIPWAY_REDIS_URL: {{ include "slipway.redisUrl" . | b64enc | quote }}
{{- if .Values.postgresql.enabled }}
POSTGRES_PASSWORD: {{ .Values.postgresql.auth.password | b64enc | quote }}
{{- end }}
{{- end }}

{{- define "slipway.databaseUrl" -}}
{{- if .Values.postgresql.enabled }}
{{- $password := required "postgresql.auth.password is required when postgresql.enabled is true (or set secrets.existingSecret)" .Values.postgresql.auth.password }}
{{- printf "postgres://%s:%s@%s-postgresql:5432/%s" (.Values.postgresql.auth.username | urlquery) ($password | urlquery) (include "slipway.fullname" .) .Values.postgresql.auth.database }}
{{- else }}
{{- required "externalDatabase.url is required: postgres://USER:PASSWORD@HOST:5432/DB (or set postgresql.enabled=true, or secrets.existingSecret)" .Values.externalDatabase.url }}
{{- end }}
{{- end }}

{{- define "slipway.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s-redis:6379" (include "slipway.fullname" .) }}
{{- else }}
{{- required "externalRedis.url is required: redis://HOST:6379 (or set redis.enabled=true, or secrets.existingSecret)" .Values.externalRedis.url }}
{{- end }}
{{- end }}

{{/* Checks made once, whatever is rendered. */}}
{{- define "slipway.validate" -}}
{{- if and .Values.rbac.create .Values.rbac.namespaced (empty .Values.rbac.namespaces) }}
{{- fail "rbac.namespaces is required when rbac.namespaced is true: the namespaces the worker may deploy apps into" }}
{{- end }}
{{- end }}

{{/* An env entry read from the servers' Secret. */}}
{{- define "slipway.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- if .optional }}
      optional: true
{{- end }}
{{- end }}

{{/* Environment shared by the API and the worker. */}}
{{- define "slipway.commonEnv" -}}
{{- $secret := include "slipway.secretName" . -}}
{{ include "slipway.secretEnv" (dict "secret" $secret "key" "SLIPWAY_DATABASE_URL") }}
{{ include "slipway.secretEnv" (dict "secret" $secret "key" "SLIPWAY_REDIS_URL") }}
{{ include "slipway.secretEnv" (dict "secret" $secret "key" "SLIPWAY_SECRET_KEY") }}
{{ include "slipway.secretEnv" (dict "secret" $secret "key" "SLIPWAY_SECRET_KEY_PREVIOUS" "optional" true) }}
- name: SLIPWAY_DATABASE_POOL_SIZE
  value: {{ .Values.config.databasePoolSize | quote }}
- name: SLIPWAY_QUEUE_NAMESPACE
  value: {{ .Values.config.queueNamespace | quote }}
- name: SLIPWAY_DATA_DIR
  value: /data
- name: RUST_LOG
  value: {{ .Values.config.logLevel | quote }}
- name: SLIPWAY_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
{{- with .Values.config.routerUrl }}
- name: SLIPWAY_ROUTER_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.webhookRetrySchedule }}
- name: SLIPWAY_WEBHOOK_RETRY_SCHEDULE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.config.webhookTimeout }}
- name: SLIPWAY_WEBHOOK_TIMEOUT
  value: {{ . | quote }}
{{- end }}
- name: SLIPWAY_WEBHOOK_ALLOW_PRIVATE
  value: {{ .Values.config.webhookAllowPrivate | quote }}
{{- with .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.otel.protocol }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- with .Values.otel.tracesSampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.otel.tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod scheduling for one component: .root and .component (api, worker). */}}
{{- define "slipway.scheduling" -}}
{{- $c := index .root.Values .component }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $c.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $c.topologySpread.maxSkew }}
    topologyKey: {{ $c.topologySpread.topologyKey }}
    whenUnsatisfiable: {{ $c.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "slipway.selectorLabels" .root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/*
The worker's RBAC rules: the one place they are written, used by the
ClusterRole and by each namespaced Role. Exactly what the Kubernetes runtime
declares (worker/src/runtime/kubernetes/permissions.rs, printed by `slipway
kubernetes rbac`); scripts/check-chart fails on any difference. The runtime
creates each app's namespace and its release Secrets, applies its Deployments
and Services (server-side apply is a patch), watches Deployments, ReplicaSets
and Pods to follow rollouts, reads pod logs, and deletes what a release drops
or a deleted app leaves. With .namespaced, the cluster-scoped namespaces rule
is left out (the namespaces must exist).
*/}}
{{- define "slipway.worker.rbacRules" -}}
{{- if not .namespaced }}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["create", "delete", "get", "patch"]
{{- end }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "delete", "list"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "delete", "list", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "delete", "list", "patch", "watch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list", "watch"]
{{- end }}

{{/*
When the migration hook runs: before install and upgrade, except with the
in-chart PostgreSQL, which only exists after install.
*/}}
{{- define "slipway.migrateHook" -}}
{{- if .Values.postgresql.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

{{/* Pod annotations that restart the servers when the chart's Secret changes. */}}
{{- define "slipway.checksumAnnotations" -}}
{{- if not .Values.secrets.existingSecret -}}
checksum/secret: {{ include "slipway.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* Writable places under a read-only root filesystem. */}}
{{- define "slipway.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "slipway.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}
