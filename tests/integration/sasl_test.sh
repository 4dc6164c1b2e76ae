#!/usr/bin/env bash
# digonce on a broker that wants a user and password (SASL PLAIN, tools/kafka's second
# listener), through config `kafka.client` with the password from the environment: topics are
# created, ingest and detector run exactly-once, an import's clash is read back with tail. A
# wrong password is refused at once by a command, saying the broker refused it, and a stage
# waits, saying the same, until SIGTERM.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq.
source "$(dirname "$0")/lib.sh" sasl
tools_kafka_only
sasl=$("$kafka_tool" sasl-bootstrap)

cat >"$work/config.yaml" <<YAML
boundaries: ""
kafka:
  client:
    security.protocol: SASL_PLAINTEXT
    sasl.mechanisms: PLAIN
    sasl.username: digonce
    sasl.password_env: DIGONCE_TEST_SASL_PASSWORD
YAML
export DIGONCE_TEST_SASL_PASSWORD=digonce-test-secret
global+=(--config "$work/config.yaml")

d topics --brokers "$sasl" >"$work/topics.log" 2>&1 || fail "topics over SASL: $(cat "$work/topics.log")"
echo "ok: topics created over SASL at $sasl"
for stage in ingest detector; do
  start_stage "$stage" "$stage" --brokers "$sasl" --data-dir "$work/$stage" --metrics ''
done
cat >"$work/works.ndjson" <<'NDJSON'
{"work_ref":"SASL-1","promoter":"STPR","crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20","geometry":{"type":"Point","coordinates":[530000,180000]}}
{"work_ref":"SASL-2","promoter":"TW","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530010,180000]}}
NDJSON
d import --brokers "$sasl" --input "$work/works.ndjson" --no-progress 2>"$work/import.log" ||
  fail "import over SASL: $(cat "$work/import.log")"
d tail --brokers "$sasl" --from-beginning --max 1 --idle-timeout 60 >"$work/alerts.ndjson" \
  2>"$work/tail.log" || true
# (-s: jq 1.6's -e passes on empty input)
jq -e -s 'length == 1 and .[0].kind == "clash" and ([.[0].works[].work_ref] == ["SASL-1", "SASL-2"])' \
  "$work/alerts.ndjson" >/dev/null || fail "no clash of SASL-1 and SASL-2: $(cut -c1-300 "$work/alerts.ndjson")"
echo "ok: ingest and detector over SASL, the clash read back: $(jq -c '{alert_id, kind}' "$work/alerts.ndjson")"
stop_stages

export DIGONCE_TEST_SASL_PASSWORD=wrong
rc=0
started=$SECONDS
timeout 60 "$bin" "${global[@]}" topics --brokers "$sasl" >"$work/refused.log" 2>&1 || rc=$?
[[ $rc != 0 && $rc != 124 ]] || fail "topics with a wrong password: exit $rc"
((SECONDS - started <= 15)) || fail "topics with a wrong password took $((SECONDS - started)) s to fail"
grep -c "a broker refused this client: .*SASL authentication error" "$work/refused.log" >/dev/null ||
  fail "topics with a wrong password did not say the broker refused it: $(tail -n 3 "$work/refused.log")"
echo "ok: a wrong password ends a command in $((SECONDS - started)) s, saying the broker refused it"

start_stage waits ingest --brokers "$sasl" --data-dir "$work/ingest2" --metrics ''
for _ in $(seq 1 150); do
  grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" \
    >/dev/null && break
  sleep 0.2
done
grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" >/dev/null ||
  fail "a stage with a wrong password did not say why it waits"
stop_stages
echo "ok: a stage with a wrong password waits, saying the broker refused it, and stops on SIGTERM"
