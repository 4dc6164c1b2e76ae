#!/usr/bin/env bash
# digonce on a broker that wants a user and password (SASL PLAIN, tools/kafka's second
# listener), through config `kafka.client` with the password from the environment: topics are
# created, ingest and detector run exactly-once, an import's clash is read back with tail. A
# wrong password is refused at once by a command, saying the broker refused it, and a stage
# waits, saying the same, until SIGTERM.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq.
set -euo pipefail
bin="${DIGONCE_BIN:?set DIGONCE_BIN}"
: "${DIGONCE_KAFKA_BOOTSTRAP:?set DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start)}"
kafka_tool="$(dirname "$0")/../../tools/kafka"
# The SASL listener is tools/kafka's: against another broker there is none to test.
if [[ $("$kafka_tool" bootstrap) != "$DIGONCE_KAFKA_BOOTSTRAP" ]]; then
  echo "skipped: $DIGONCE_KAFKA_BOOTSTRAP is not tools/kafka's broker (no SASL listener known)"
  exit 77
fi
sasl=$("$kafka_tool" sasl-bootstrap)
work=$(mktemp -d)
prefix="test-sasl-$$."
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$work"/*.log >&2 || true
  exit 1
}

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
d() { "$bin" --config "$work/config.yaml" --topic-prefix "$prefix" "$@"; }
bg() { exec "$bin" --config "$work/config.yaml" --topic-prefix "$prefix" "$@"; }  # with &: $! is digonce

d topics --brokers "$sasl" >"$work/topics.log" 2>&1 || fail "topics over SASL: $(cat "$work/topics.log")"
echo "ok: topics created over SASL at $sasl"
for stage in ingest detector; do
  bg "$stage" --brokers "$sasl" --data-dir "$work/$stage" --metrics '' >"$work/$stage.log" 2>&1 &
  pids+=($!)
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
for p in "${pids[@]}"; do kill -TERM "$p" || true; done
for p in "${pids[@]}"; do wait "$p" || fail "a stage did not stop cleanly"; done
pids=()

export DIGONCE_TEST_SASL_PASSWORD=wrong
rc=0
started=$SECONDS
timeout 60 "$bin" --config "$work/config.yaml" --topic-prefix "$prefix" topics --brokers "$sasl" \
  >"$work/refused.log" 2>&1 || rc=$?
[[ $rc != 0 && $rc != 124 ]] || fail "topics with a wrong password: exit $rc"
((SECONDS - started <= 15)) || fail "topics with a wrong password took $((SECONDS - started)) s to fail"
grep -c "a broker refused this client: .*SASL authentication error" "$work/refused.log" >/dev/null ||
  fail "topics with a wrong password did not say the broker refused it: $(tail -n 3 "$work/refused.log")"
echo "ok: a wrong password ends a command in $((SECONDS - started)) s, saying the broker refused it"

bg ingest --brokers "$sasl" --data-dir "$work/ingest2" --metrics '' >"$work/waits.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" \
    >/dev/null && break
  sleep 0.2
done
grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" >/dev/null ||
  fail "a stage with a wrong password did not say why it waits"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || fail "the waiting stage did not stop cleanly on SIGTERM"
pids=()
echo "ok: a stage with a wrong password waits, saying the broker refused it, and stops on SIGTERM"
