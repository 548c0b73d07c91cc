{{/* The chart name, or nameOverride: app.kubernetes.io/name, and the scrape job. */}}
{{- define "gie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resources' name: <release>-<name>, or the release name when it contains the name. */}}
{{- define "gie.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "gie.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gie.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gie.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: github-insights-exporter
{{- end }}

{{- define "gie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gie.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gie.configMapName" -}}
{{- default (include "gie.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/* The pod template of the Deployment and of the sharded StatefulSet; only sharding differs. */}}
{{- define "gie.podTemplate" -}}
{{- $secret := required "credentials.existingSecret: name the Secret holding the GitHub token or App key" .Values.credentials.existingSecret }}
{{- $app := eq .Values.credentials.type "app" }}
{{- if not (has .Values.credentials.type (list "token" "app")) }}
{{- fail (printf "credentials.type: %q is neither token nor app" .Values.credentials.type) }}
{{- end }}
metadata:
  labels:
    {{- include "gie.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/part-of: github-insights-exporter
    app.kubernetes.io/component: exporter
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if not .Values.existingConfigMap }}
    # A changed configuration rolls the pods: the exporter reads it at start-up.
    checksum/config: {{ toYaml .Values.config | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "gie.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: 10
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: exporter
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/github-insights-exporter/config.yml
        - --web.listen-address=:{{ .Values.service.port }}
        - --log.format={{ .Values.logFormat }}
        {{- if .Values.sharding.enabled }}
        - --shard.index=$(SHARD_INDEX)
        - --shard.count={{ .Values.sharding.shards }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        {{- if $app }}
        - name: GITHUB_EXPORTER_GITHUB__APP__APP_ID
          value: {{ required "credentials.app.id: the GitHub App's id" .Values.credentials.app.id | quote }}
        - name: GITHUB_EXPORTER_GITHUB__APP__PRIVATE_KEY_FILE
          value: /var/run/secrets/github-insights-exporter/{{ .Values.credentials.app.privateKeyKey }}
        {{- else }}
        - name: GITHUB_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $secret }}
              key: {{ .Values.credentials.tokenKey }}
        {{- end }}
        {{- if .Values.sharding.enabled }}
        # The pod's ordinal: 0 for <name>-0, and so on.
        - name: SHARD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http-metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: /-/healthy
          port: http-metrics
        periodSeconds: 2
        failureThreshold: 30
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http-metrics
        periodSeconds: 20
        timeoutSeconds: 5
        failureThreshold: 3
      # Ready once every enabled collector has finished its first run.
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http-metrics
        periodSeconds: 10
        timeoutSeconds: 5
        failureThreshold: 3
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/github-insights-exporter
          readOnly: true
        {{- if $app }}
        - name: credentials
          mountPath: /var/run/secrets/github-insights-exporter
          readOnly: true
        {{- end }}
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "gie.configMapName" . }}
        items:
          - key: config.yml
            path: config.yml
    {{- if $app }}
    - name: credentials
      secret:
        secretName: {{ $secret }}
        defaultMode: 0400
        items:
          - key: {{ .Values.credentials.app.privateKeyKey }}
            path: {{ .Values.credentials.app.privateKeyKey }}
    {{- end }}
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
