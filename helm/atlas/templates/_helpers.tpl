{{/*
Naming. Every resource is "<base>-<part>", where base is fullnameOverride, or the release name
when it already starts with the chart's name, or "<release>-<name>". Base is kept to 30
characters so that the longest name, "<base>-channel-<20 characters>", stays a valid DNS label.
*/}}
{{- define "atlas.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 30 | trimSuffix "-" -}}
{{- end }}

{{- define "atlas.fullname" -}}
{{- $base := .Values.fullnameOverride -}}
{{- if not $base -}}
{{- $name := include "atlas.name" . -}}
{{- $base = hasPrefix $name .Release.Name | ternary .Release.Name (printf "%s-%s" .Release.Name $name) -}}
{{- end -}}
{{- $base | trunc 30 | trimSuffix "-" -}}
{{- end }}

{{/* "<base>-<part>" for a dict with root and part. */}}
{{- define "atlas.resourceName" -}}
{{- printf "%s-%s" (include "atlas.fullname" .root) .part -}}
{{- end }}

{{- define "atlas.configMapName" -}}
{{- include "atlas.resourceName" (dict "root" . "part" "config") -}}
{{- end }}

{{/* The Secret holding ATLAS_PASSWORD_SEAL_KEYS: the user's, or the chart's own. */}}
{{- define "atlas.sealSecretName" -}}
{{- .Values.passwordSealKeys.existingSecret | default (include "atlas.resourceName" (dict "root" . "part" "seal-keys")) -}}
{{- end }}

{{- define "atlas.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "atlas.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end }}

{{/* Image tag as a label value: at most 63 characters of [A-Za-z0-9_.-]. */}}
{{- define "atlas.version" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $tag "_" | trunc 63 | trimSuffix "-" | trimSuffix "_" | trimSuffix "." -}}
{{- end }}

{{- define "atlas.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end }}

{{/*
Labels. "atlas.labels" and "atlas.selectorLabels" take a dict: root (the chart context),
component (account, registry, api, channel, topics, or "" for shared resources) and, for a
channel, instance (the entry's name).
*/}}
{{- define "atlas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atlas.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- if .instance }}
atlas-streams.io/channel: {{ .instance }}
{{- end }}
{{- end }}

{{- define "atlas.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "atlas.selectorLabels" . }}
app.kubernetes.io/version: {{ include "atlas.version" .root | quote }}
app.kubernetes.io/part-of: atlas-streams
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Shared configuration as "NAME: value" lines: the ConfigMap's data, and the topics hook's env
(the hook runs before the ConfigMap exists). Empty values are left out.
*/}}
{{- define "atlas.configData" -}}
{{- $v := .Values -}}
{{- $out := dict "KAFKA_BROKERS" (join "," $v.kafka.brokers) -}}
{{- $names := dict
  "logLevel" "ATLAS_LOG_LEVEL"
  "partitions" "ATLAS_PARTITIONS"
  "replication" "ATLAS_REPLICATION"
  "acks" "ATLAS_ACKS"
  "contracts" "ATLAS_CONTRACTS"
  "flushFrequency" "ATLAS_FLUSH_FREQUENCY"
  "clientId" "ATLAS_CLIENT_ID"
  "bcryptCost" "ATLAS_BCRYPT_COST"
  "autoRegister" "ATLAS_AUTO_REGISTER"
  "loginAttemptLimit" "ATLAS_LOGIN_ATTEMPT_LIMIT"
  "loginAttemptWindow" "ATLAS_LOGIN_ATTEMPT_WINDOW"
  "transitionTimeout" "ATLAS_TRANSITION_TIMEOUT"
  "timerShards" "ATLAS_TIMER_SHARDS"
  "timerTick" "ATLAS_TIMER_TICK" -}}
{{- range $key, $env := $names -}}
{{- $val := get $v.config $key -}}
{{- if not (or (kindIs "invalid" $val) (eq (toString $val) "")) -}}
{{- $_ := set $out $env (toString $val) -}}
{{- end -}}
{{- end -}}
{{- range $section := list $v.config.extra $v.topics $v.groups -}}
{{- range $env, $val := $section -}}
{{- if not (or (kindIs "invalid" $val) (eq (toString $val) "")) -}}
{{- $_ := set $out $env (toString $val) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $env := keys $out | sortAlpha }}
{{ $env }}: {{ get $out $env | quote }}
{{- end -}}
{{- end }}

{{/* The Secret holding ATLAS_API_TOKENS: the user's, or the chart's own. */}}
{{- define "atlas.apiTokensSecretName" -}}
{{- .Values.api.tokens.existingSecret | default (include "atlas.resourceName" (dict "root" . "part" "api-tokens")) -}}
{{- end }}

{{/* The value of ATLAS_API_TOKENS in the chart's own Secret: the configured tokens; else the
one generated before (lookup), else a new random one. */}}
{{- define "atlas.apiTokensValue" -}}
{{- if .Values.api.tokens.values -}}
{{- join "," .Values.api.tokens.values -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "atlas.apiTokensSecretName" .) -}}
{{- $data := dig "data" .Values.api.tokens.secretKey "" ($existing | default dict) -}}
{{- if $data -}}
{{- b64dec $data -}}
{{- else -}}
{{- if not (hasKey .Values "__generatedAPIToken") -}}
{{- $_ := set .Values "__generatedAPIToken" (randAlphaNum 40) -}}
{{- end -}}
{{- get .Values "__generatedAPIToken" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* The Secret holding CHANNEL_TICKET_VERIFY_KEYS: the user's, or the chart's own. */}}
{{- define "atlas.ticketSecretName" -}}
{{- .Values.channel.tickets.existingSecret | default (include "atlas.resourceName" (dict "root" . "part" "ticket-keys")) -}}
{{- end }}

{{/* Checks of values that a schema cannot express; fails the render with a clear message. */}}
{{- define "atlas.validate" -}}
{{- $v := .Values -}}
{{- if not $v.kafka.brokers -}}
{{- fail "kafka.brokers: list at least one bootstrap broker (host:port)" -}}
{{- end -}}
{{- if and $v.passwordSealKeys.existingSecret $v.passwordSealKeys.keys -}}
{{- fail "passwordSealKeys: set existingSecret or keys, not both" -}}
{{- end -}}
{{- range $i, $k := $v.passwordSealKeys.keys -}}
{{- if ne (len (b64dec (toString $k))) 32 -}}
{{- fail (printf "passwordSealKeys.keys[%d]: want base64 of exactly 32 bytes (openssl rand -base64 32)" $i) -}}
{{- end -}}
{{- end -}}
{{- if $v.channels -}}
{{- if and $v.channel.tickets.existingSecret $v.channel.tickets.verifyKeys -}}
{{- fail "channel.tickets: set existingSecret or verifyKeys, not both" -}}
{{- end -}}
{{- if not (or $v.channel.tickets.existingSecret $v.channel.tickets.verifyKeys) -}}
{{- fail "channel.tickets: channels admit players only with entry tickets; set existingSecret or verifyKeys (the login server's public keys)" -}}
{{- end -}}
{{- end -}}
{{- $uuid := "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" -}}
{{- $names := dict -}}
{{- $ids := dict -}}
{{- $slots := dict -}}
{{- range $i, $c := $v.channels -}}
{{- $where := printf "channels[%d]" $i -}}
{{- $name := toString (get $c "name") -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$" $name) -}}
{{- fail (printf "%s.name %q: want a DNS label of at most 20 characters (a-z, 0-9, -)" $where $name) -}}
{{- end -}}
{{- if hasKey $names $name -}}
{{- fail (printf "%s.name %q: used twice" $where $name) -}}
{{- end -}}
{{- $_ := set $names $name true -}}
{{- $sid := toString (get $c "serviceId") | lower -}}
{{- if not (regexMatch $uuid $sid) -}}
{{- fail (printf "%s.serviceId %q: want a uuid, unique to this instance" $where $sid) -}}
{{- end -}}
{{- if hasKey $ids $sid -}}
{{- fail (printf "%s.serviceId %s: used by two instances (each instance needs its own consumer group)" $where $sid) -}}
{{- end -}}
{{- $_ := set $ids $sid true -}}
{{- if not (hasKey $c "worldId") -}}
{{- fail (printf "%s.worldId: required" $where) -}}
{{- end -}}
{{- $tenant := mergeOverwrite (deepCopy $v.channel.tenant) (get $c "tenant" | default dict) -}}
{{- if not (regexMatch $uuid (toString $tenant.id)) -}}
{{- fail (printf "%s: tenant id %q is not a uuid (set channel.tenant.id)" $where (toString $tenant.id)) -}}
{{- end -}}
{{- $ports := dict -}}
{{- $list := get $c "channels" -}}
{{- if not $list -}}
{{- fail (printf "%s.channels: list at least one {id, port}" $where) -}}
{{- end -}}
{{- range $j, $ch := $list | default list -}}
{{- if not (and (hasKey $ch "id") (hasKey $ch "port")) -}}
{{- fail (printf "%s.channels[%d]: want id and port" $where $j) -}}
{{- end -}}
{{- $port := int $ch.port -}}
{{- if or (lt $port 1) (gt $port 65535) (eq $port (int $v.http.port)) (hasKey $ports (toString $port)) -}}
{{- fail (printf "%s.channels[%d].port %d: want a free port from 1 to 65535, other than http.port and the instance's other ports" $where $j $port) -}}
{{- end -}}
{{- $_ := set $ports (toString $port) true -}}
{{- $slot := printf "%s/%v/%v" (toString $tenant.id) $c.worldId $ch.id -}}
{{- if hasKey $slots $slot -}}
{{- fail (printf "%s.channels[%d]: world %v channel %v is already served by another instance" $where $j $c.worldId $ch.id) -}}
{{- end -}}
{{- $_ := set $slots $slot true -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
The pod template of a long-running workload. Takes a dict:
  root      the chart context
  component account, registry, api or channel
  instance  channel entry name ("" otherwise)
  settings  the workload's values (for a channel: its entry merged over `channel`)
  args      the container's arguments
  ports     extra container ports (list of ContainerPort)
  env       extra env vars of the workload (list of EnvVar), before the user's extraEnv
  sealKeys  whether the container gets ATLAS_PASSWORD_SEAL_KEYS
*/}}
{{- define "atlas.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $s := .settings -}}
{{- $labels := dict "root" $root "component" .component "instance" .instance -}}
metadata:
  labels:
    {{- include "atlas.labels" $labels | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $s.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "atlas.configData" $root | sha256sum }}
    {{- if and .sealKeys (not $v.passwordSealKeys.existingSecret) }}
    checksum/seal-keys: {{ include "atlas.sealKeysValue" $root | sha256sum }}
    {{- end }}
    {{- if $v.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $v.http.port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $s.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "atlas.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- /* No variables for the namespace's Services: atlas-api, kafka ... would look like settings. */}}
  enableServiceLinks: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $s.terminationGracePeriodSeconds }}
  {{- with $s.nodeSelector | default $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.tolerations | default $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.affinity | default $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $s.topologySpreadConstraints }}
  {{- $constraints := list }}
  {{- range . }}
  {{- $c := deepCopy . }}
  {{- if not (hasKey $c "labelSelector") }}
  {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "atlas.selectorLabels" $labels | fromYaml)) }}
  {{- end }}
  {{- $constraints = append $constraints $c }}
  {{- end }}
  topologySpreadConstraints:
    {{- toYaml $constraints | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "atlas.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- with $v.image.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      args:
        {{- toYaml .args | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $v.http.port }}
          protocol: TCP
        {{- with .ports }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "atlas.configMapName" $root }}
      env:
        - name: ATLAS_HTTP_LISTEN
          value: {{ printf ":%v" $v.http.port | quote }}
        {{- if $v.storage.enabled }}
        - name: ATLAS_STORAGE_DIR
          value: {{ $v.storage.mountPath | quote }}
        {{- end }}
        {{- if .sealKeys }}
        - name: ATLAS_PASSWORD_SEAL_KEYS
          valueFrom:
            secretKeyRef:
              name: {{ include "atlas.sealSecretName" $root }}
              key: {{ $v.passwordSealKeys.secretKey }}
        {{- end }}
        {{- include "atlas.kafkaSecurityEnv" $root | nindent 8 }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $s.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $v.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml $s.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $v.storage.enabled }}
        - name: storage
          mountPath: {{ $v.storage.mountPath }}
        {{- end }}
        {{- include "atlas.kafkaSecurityMounts" $root | nindent 8 }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- include "atlas.kafkaSecurityVolumes" $root | nindent 4 }}
    {{- if $v.storage.enabled }}
    - name: storage
      emptyDir:
        {{- with $v.storage.medium }}
        medium: {{ . }}
        {{- end }}
        {{- with $v.storage.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- end }}
{{- end }}

{{/*
The value of ATLAS_PASSWORD_SEAL_KEYS in the chart's own Secret: the configured keys; else the
key of the Secret already in the cluster (so upgrades keep it); else one new random key.
*/}}
{{- define "atlas.sealKeysValue" -}}
{{- if .Values.passwordSealKeys.keys -}}
{{- join "," .Values.passwordSealKeys.keys -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "atlas.sealSecretName" .) -}}
{{- $data := dig "data" .Values.passwordSealKeys.secretKey "" ($existing | default dict) -}}
{{- if $data -}}
{{- b64dec $data -}}
{{- else -}}
{{- if not (hasKey .Values "__generatedSealKey") -}}
{{- $_ := set .Values "__generatedSealKey" (randBytes 32) -}}
{{- end -}}
{{- get .Values "__generatedSealKey" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
Kafka security of every container that talks to Kafka: the KAFKA_TLS_* and KAFKA_SASL_*
settings, with the CA, client certificate and SASL password mounted from Secrets as files
(a password never sits in an env value, where `kubectl describe` would show it).
*/}}
{{- define "atlas.kafkaSecurityEnv" -}}
{{- $k := .Values.kafka -}}
{{- if or $k.tls.enabled $k.tls.caSecret $k.tls.clientCertSecret }}
- name: KAFKA_TLS
  value: "true"
{{- end }}
{{- if $k.tls.caSecret }}
- name: KAFKA_TLS_CA_FILE
  value: {{ printf "/etc/atlas/kafka-ca/%s" $k.tls.caKey | quote }}
{{- end }}
{{- if $k.tls.clientCertSecret }}
- name: KAFKA_TLS_CERT_FILE
  value: /etc/atlas/kafka-client/tls.crt
- name: KAFKA_TLS_KEY_FILE
  value: /etc/atlas/kafka-client/tls.key
{{- end }}
{{- with $k.tls.serverName }}
- name: KAFKA_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if $k.sasl.mechanism }}
{{- if not (has $k.sasl.mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) }}
{{- fail "kafka.sasl.mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" }}
{{- end }}
{{- if or (not $k.sasl.username) (not $k.sasl.passwordSecret) }}
{{- fail "kafka.sasl: a mechanism needs username and passwordSecret" }}
{{- end }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ $k.sasl.username | quote }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "/etc/atlas/kafka-sasl/%s" $k.sasl.passwordKey | quote }}
{{- end }}
{{- end -}}

{{- define "atlas.kafkaSecurityMounts" -}}
{{- $k := .Values.kafka -}}
{{- if $k.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/atlas/kafka-ca
  readOnly: true
{{- end }}
{{- if $k.tls.clientCertSecret }}
- name: kafka-client
  mountPath: /etc/atlas/kafka-client
  readOnly: true
{{- end }}
{{- if $k.sasl.mechanism }}
- name: kafka-sasl
  mountPath: /etc/atlas/kafka-sasl
  readOnly: true
{{- end }}
{{- end -}}

{{- define "atlas.kafkaSecurityVolumes" -}}
{{- $k := .Values.kafka -}}
{{- if $k.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ $k.tls.caSecret }}
{{- end }}
{{- if $k.tls.clientCertSecret }}
- name: kafka-client
  secret:
    secretName: {{ $k.tls.clientCertSecret }}
{{- end }}
{{- if $k.sasl.mechanism }}
- name: kafka-sasl
  secret:
    secretName: {{ $k.sasl.passwordSecret }}
{{- end }}
{{- end -}}
