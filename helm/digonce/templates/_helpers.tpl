{{- define "digonce.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "digonce.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "digonce.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "digonce.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "digonce.brokers" -}}
{{- required "kafka.brokers is required (the Kafka bootstrap servers)" .Values.kafka.brokers -}}
{{- end -}}

{{/* Kafka credentials for every container that talks to Kafka: kafka.secretEnvFrom's keys as
environment variables (for config.kafka.client's *_env keys), kafka.caSecret at /etc/digonce-kafka
(for ssl.ca.location). Each renders list items, or nothing. */}}
{{- define "digonce.kafkaEnvFrom" -}}
{{- with .Values.kafka.secretEnvFrom }}
- secretRef: {name: {{ . }}}
{{- end }}
{{- end -}}
{{- define "digonce.kafkaMount" -}}
{{- if .Values.kafka.caSecret }}
- {name: kafka-ca, mountPath: /etc/digonce-kafka, readOnly: true}
{{- end }}
{{- end -}}
{{- define "digonce.kafkaVolume" -}}
{{- with .Values.kafka.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{- define "digonce.scrape" -}}
{{- if .root.Values.metrics.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* A stateful stage: ingest or detector. */}}
{{- define "digonce.stage" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $port := .port -}}
{{- $spec := index $root.Values $name -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "digonce.fullname" $root }}-{{ $name }}
  labels:
    {{- include "digonce.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  clusterIP: None
  selector:
    {{- include "digonce.selector" (dict "root" $root "component" $name) | nindent 4 }}
  ports:
    - {name: metrics, port: {{ $port }}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "digonce.fullname" $root }}-{{ $name }}
  labels:
    {{- include "digonce.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  serviceName: {{ include "digonce.fullname" $root }}-{{ $name }}
  replicas: {{ $spec.replicas }}
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      {{- include "digonce.selector" (dict "root" $root "component" $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "digonce.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $name }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- include "digonce.scrape" (dict "root" $root "port" $port) | nindent 8 }}
    spec:
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # A stopping stage commits its transaction and hands its partitions back.
      terminationGracePeriodSeconds: 60
      containers:
        - name: {{ $name }}
          image: {{ include "digonce.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - --config=/etc/digonce/digonce.yaml
            - {{ $name }}
            - --brokers={{ include "digonce.brokers" $root }}
            - --data-dir=/var/lib/digonce
            # Stable per pod: names the Kafka transactional ids, so a restarted pod fences its
            # predecessor's open transaction at once.
            - --instance-id=$(POD_NAME)
            - --metrics=0.0.0.0:{{ $port }}
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          {{- if $root.Values.kafka.secretEnvFrom }}
          envFrom:
            {{- include "digonce.kafkaEnvFrom" $root | nindent 12 }}
          {{- end }}
          ports:
            - {name: metrics, containerPort: {{ $port }}}
          # /healthz fails only for a loop stuck past streams.stall_s (restart it); /readyz
          # while the stage waits for its brokers, joins its group or restores its partitions,
          # so that a rolling update moves to the next pod once this one has its state back.
          livenessProbe:
            httpGet: {path: /healthz, port: metrics}
            initialDelaySeconds: 10
            periodSeconds: 10
          readinessProbe:
            httpGet: {path: /readyz, port: metrics}
            periodSeconds: 5
          resources:
            {{- toYaml $spec.resources | nindent 12 }}
          volumeMounts:
            - {name: config, mountPath: /etc/digonce, readOnly: true}
            - {name: state, mountPath: /var/lib/digonce}
            {{- include "digonce.kafkaMount" $root | nindent 12 }}
      volumes:
        - name: config
          configMap:
            name: {{ include "digonce.fullname" $root }}-config
        {{- include "digonce.kafkaVolume" $root | nindent 8 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: state
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $spec.storage.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $spec.storage.size }}
{{- end -}}
