#!/usr/bin/env bash
# digonce on a broker that speaks TLS and wants a client certificate (mutual TLS, tools/kafka's
# third listener), through config `kafka.client`'s ssl.* settings: topics are created, ingest and
# detector run exactly-once, an import's clash is read back with tail. A client without a
# certificate, and one that trusts another CA, are refused at once, saying why.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq, openssl.
source "$(dirname "$0")/lib.sh" tls
tools_kafka_only
tls=$("$kafka_tool" tls-bootstrap)
certs=$("$kafka_tool" tls-dir)

# config.yaml with kafka.client set to the given ssl.* lines.
write_config() {
  {
    printf 'boundaries: ""\nkafka:\n  client:\n    security.protocol: SSL\n'
    for line in "$@"; do printf '    %s\n' "$line"; done
  } >"$work/config.yaml"
}
write_config "ssl.ca.location: $certs/ca.pem" "ssl.certificate.location: $certs/client.pem" \
  "ssl.key.location: $certs/client.key"
global+=(--config "$work/config.yaml")

d topics --brokers "$tls" >"$work/topics.log" 2>&1 || fail "topics over TLS: $(cat "$work/topics.log")"
echo "ok: topics created over TLS at $tls"
for stage in ingest detector; do
  start_stage "$stage" "$stage" --brokers "$tls" --data-dir "$work/$stage" --metrics ''
done
cat >"$work/works.ndjson" <<'NDJSON'
{"work_ref":"TLS-1","promoter":"STPR","crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20","geometry":{"type":"Point","coordinates":[530000,180000]}}
{"work_ref":"TLS-2","promoter":"TW","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530010,180000]}}
NDJSON
d import --brokers "$tls" --input "$work/works.ndjson" --no-progress 2>"$work/import.log" ||
  fail "import over TLS: $(cat "$work/import.log")"
d tail --brokers "$tls" --from-beginning --max 1 --idle-timeout 60 >"$work/alerts.ndjson" \
  2>"$work/tail.log" || true
# (-s: jq 1.6's -e passes on empty input)
jq -e -s 'length == 1 and .[0].kind == "clash" and ([.[0].works[].work_ref] == ["TLS-1", "TLS-2"])' \
  "$work/alerts.ndjson" >/dev/null || fail "no clash of TLS-1 and TLS-2: $(cut -c1-300 "$work/alerts.ndjson")"
echo "ok: ingest and detector over TLS, the clash read back: $(jq -c '{alert_id, kind}' "$work/alerts.ndjson")"
stop_stages

# A command whose TLS settings the broker (or the client) refuses must end within 15 s, naming why.
refused() {
  local what="$1" pattern="$2" rc=0 started=$SECONDS
  timeout 60 "$bin" "${global[@]}" topics --brokers "$tls" >"$work/refused.log" 2>&1 || rc=$?
  [[ $rc != 0 && $rc != 124 ]] || fail "topics $what: exit $rc"
  ((SECONDS - started <= 15)) || fail "topics $what took $((SECONDS - started)) s to fail"
  grep -c "$pattern" "$work/refused.log" >/dev/null ||
    fail "topics $what did not say why: $(tail -n 3 "$work/refused.log")"
  echo "ok: topics $what ends in $((SECONDS - started)) s: $(grep -o "$pattern.*" "$work/refused.log" | head -n 1 | cut -c1-160)"
}
write_config "ssl.ca.location: $certs/ca.pem"
refused "without a client certificate" "a broker refused this client: .*alert"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other-ca.key" -out "$work/other-ca.pem" \
  -days 1 -subj "/CN=another CA" 2>/dev/null
write_config "ssl.ca.location: $work/other-ca.pem" "ssl.certificate.location: $certs/client.pem" \
  "ssl.key.location: $certs/client.key"
refused "trusting another CA" "this client refused a broker.s certificate: .*certificate verify failed"
