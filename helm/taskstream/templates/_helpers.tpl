{{/* Names, labels and the checks every template relies on. */}}

{{- define "taskstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskstream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "taskstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "taskstream.labels" -}}
helm.sh/chart: {{ include "taskstream.chart" . }}
{{ include "taskstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: taskstream
{{- end }}

{{- define "taskstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "taskstream.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "taskstream.appId" -}}
{{- default (include "taskstream.fullname" .) .Values.dapr.appId }}
{{- end }}

{{- define "taskstream.daprConfigName" -}}
{{- if .Values.dapr.configuration.create }}
{{- include "taskstream.fullname" . }}
{{- else }}
{{- .Values.dapr.configuration.name }}
{{- end }}
{{- end }}

{{/* The Secret holding DATABASE_URL and JWT_SECRET unless existing ones are named. */}}
{{- define "taskstream.secretName" -}}
{{- include "taskstream.fullname" . }}
{{- end }}

{{- define "taskstream.databaseSecret" -}}
{{- default (include "taskstream.secretName" .) .Values.database.existingSecret }}
{{- end }}

{{- define "taskstream.jwtSecret" -}}
{{- default (include "taskstream.secretName" .) .Values.jwt.existingSecret }}
{{- end }}

{{- define "taskstream.appTokenSecret" -}}
{{- default (printf "%s-dapr-app-token" (include "taskstream.fullname" .)) .Values.dapr.appTokenSecret }}
{{- end }}

{{- define "taskstream.apiTokenSecret" -}}
{{- default (printf "%s-dapr-api-token" (include "taskstream.fullname" .)) .Values.dapr.apiTokenSecret }}
{{- end }}

{{/*
A value kept across upgrades: the one already in the Secret if the cluster
has it, else a new random one.
*/}}
{{- define "taskstream.keptRandom" -}}
{{- $secret := lookup "v1" "Secret" .namespace .name }}
{{- if and $secret $secret.data (hasKey $secret.data .key) }}
{{- index $secret.data .key }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}

{{/* Refuses values the service cannot run with, saying why. */}}
{{- define "taskstream.validate" -}}
{{- $db := .Values.database }}
{{- if and (not $db.url) (not $db.existingSecret) }}
{{- fail "database.url or database.existingSecret is required: taskstream runs on an external PostgreSQL in Kubernetes" }}
{{- end }}
{{- if and $db.url (not (or (hasPrefix "postgres://" $db.url) (hasPrefix "postgresql://" $db.url))) }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "database.url must be a postgres:// URL: with more than one replica (replicaCount > 1 or autoscaling) an SQLite file cannot be shared, each pod would have a database of its own" }}
{{- else }}
{{- fail "database.url must be a postgres:// URL: the chart runs taskstream on PostgreSQL only (SQLite needs a writable volume and a single process; use the container image alone for that)" }}
{{- end }}
{{- end }}
{{- if and .Values.jwt.secret (lt (len .Values.jwt.secret) 16) }}
{{- fail "jwt.secret must be at least 16 bytes long" }}
{{- end }}
{{- if and .Values.dapr.jobs.enabled (not .Values.dapr.enabled) }}
{{- fail "dapr.jobs.enabled needs dapr.enabled: the Jobs API is the sidecar's" }}
{{- end }}
{{- if and .Values.dapr.enabled (not .Values.dapr.configuration.create) (not .Values.dapr.configuration.name) }}
{{- fail "dapr.configuration.name is required when dapr.configuration.create is false" }}
{{- end }}
{{- if and .Values.dapr.enabled (eq .Values.dapr.pubsub.authType "password") (or (not .Values.dapr.pubsub.sasl.username) (not .Values.dapr.pubsub.sasl.passwordSecret)) }}
{{- fail "dapr.pubsub.authType=password needs dapr.pubsub.sasl.username and dapr.pubsub.sasl.passwordSecret" }}
{{- end }}
{{- if and .Values.dapr.enabled (gt (int .Values.replicaCount) 1) (not .Values.dapr.pubsub.broadcastName) }}
{{- fail "dapr.pubsub.broadcastName is required with more than one replica: every replica must receive every task-updates message" }}
{{- end }}
{{- if and .Values.dapr.enabled (ge (int .Values.dapr.sidecar.gracefulShutdownSeconds) (int .Values.terminationGracePeriodSeconds)) }}
{{- fail "terminationGracePeriodSeconds must exceed dapr.sidecar.gracefulShutdownSeconds" }}
{{- end }}
{{- if and .Values.kafkaTopics.enabled .Values.config.dedupRetentionHours }}
{{- $consumed := list .Values.kafkaTopics.topics.taskEvents .Values.kafkaTopics.topics.reminders .Values.kafkaTopics.topics.taskUpdates }}
{{- range $consumed }}
{{- if gt (int64 .retentionMs) (mul (int64 $.Values.config.dedupRetentionHours) 3600000) }}
{{- fail (printf "config.dedupRetentionHours (%v h) must cover the retention of topic %s (%v ms): Dapr may redeliver anything the topic still holds" $.Values.config.dedupRetentionHours .name .retentionMs) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Kafka connection metadata both pub/sub components share. */}}
{{- define "taskstream.kafkaMetadata" -}}
{{- $pubsub := .Values.dapr.pubsub -}}
- name: brokers
  value: {{ $pubsub.brokers | quote }}
- name: clientID
  value: {{ $pubsub.clientID | quote }}
- name: authType
  value: {{ $pubsub.authType | quote }}
{{- if eq $pubsub.authType "password" }}
- name: saslUsername
  value: {{ $pubsub.sasl.username | quote }}
- name: saslPassword
  secretKeyRef:
    name: {{ $pubsub.sasl.passwordSecret }}
    key: {{ $pubsub.sasl.passwordSecretKey }}
- name: saslMechanism
  value: {{ $pubsub.sasl.mechanism | quote }}
{{- end }}
- name: version
  value: {{ $pubsub.version | quote }}
{{- with $pubsub.extraMetadata }}
{{ toYaml . }}
{{- end }}
{{- end }}
