# Shared by the integration scripts that run digonce's stages on the broker (big_work_test.sh,
# restart_test.sh, gateway_test.sh, load_test.sh, sasl_test.sh, sasl_ssl_test.sh, tls_test.sh).
# Source it with the test's name, then:
#   d ARGS...                 runs `digonce GLOBAL ARGS...` (GLOBAL: --topic-prefix, plus what
#                             the script adds to the array `global`, e.g. --config)
#   start_stage NAME ARGS...  the same in the background, output in $work/NAME.log; killed at exit
#   stop_stages               SIGTERM to each started stage; each must exit 0
#   fail MESSAGE              prints it and the logs' tails, exits 1
#   tools_kafka_only          exits 77 (ctest's skip) unless the broker is tools/kafka's, whose
#                             extra listeners the test needs
#   clash_through WHAT ADDR   the whole path through the brokers at ADDR: topics, ingest and
#                             detector, an import of two clashing works, the clash read back with
#                             tail, the stages stopped (WHAT names the path in messages)
#   refused_at ADDR WHAT PATTERN  `digonce topics` at ADDR must fail within 15 s, its output
#                             matching PATTERN (grep), the reason it gives (WHAT: in messages)
#   sasl_config               writes $work/config.yaml for tools/kafka's SASL PLAIN user (its
#                             password from DIGONCE_TEST_SASL_PASSWORD, set to the right one),
#                             then stdin's lines, and adds it to global
#   other_ca_pem              prints the path of a CA certificate that signed nothing the broker
#                             has (made once)
#   free_port                 a port on 127.0.0.1 free to listen on (tools/lib.sh's)
# Sets bin, brokers, work (a fresh folder, removed at exit unless DIGONCE_KEEP_WORK is set),
# prefix (the test's own topic prefix) and kafka_tool. Needs DIGONCE_BIN and
# DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start).
# shellcheck shell=bash
set -euo pipefail
name="${1:?source lib.sh with the name of the test}"
# free_port, and log/die (tools/lib.sh sets DIGONCE_ROOT and, unless set, DIGONCE_BUILD).
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)/lib.sh"
bin="${DIGONCE_BIN:?set DIGONCE_BIN}"
brokers="${DIGONCE_KAFKA_BOOTSTRAP:?set DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start)}"
kafka_tool="$DIGONCE_ROOT/tools/kafka"
work=$(mktemp -d "${TMPDIR:-/tmp}/digonce-$name.XXXXXX")
prefix="test-$name-$$."
global=(--topic-prefix "$prefix")
pids=()

it_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ -n "${DIGONCE_KEEP_WORK:-}" ]]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap it_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$work"/*.log >&2 || true
  exit 1
}

d() { "$bin" "${global[@]}" "$@"; }

start_stage() {
  local log="$1"
  shift
  "$bin" "${global[@]}" "$@" >"$work/$log.log" 2>&1 &
  pids+=($!)
}

stop_stages() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" || true; done
  for p in "${pids[@]}"; do wait "$p" || fail "a stage did not stop cleanly (exit $?)"; done
  pids=()
}

tools_kafka_only() {
  if [[ $("$kafka_tool" bootstrap) != "$brokers" ]]; then
    echo "skipped: $brokers is not tools/kafka's broker (no $name listener known)"
    exit 77
  fi
}

clash_through() {
  local what="$1" at="$2" stage
  d topics --brokers "$at" >"$work/topics.log" 2>&1 || fail "topics over $what: $(cat "$work/topics.log")"
  echo "ok: topics created over $what at $at"
  for stage in ingest detector; do
    start_stage "$stage" "$stage" --brokers "$at" --data-dir "$work/$stage" --metrics ''
  done
  cat >"$work/works.ndjson" <<NDJSON
{"work_ref":"$name-1","promoter":"STPR","crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20","geometry":{"type":"Point","coordinates":[530000,180000]}}
{"work_ref":"$name-2","promoter":"TW","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530010,180000]}}
NDJSON
  d import --brokers "$at" --input "$work/works.ndjson" --no-progress 2>"$work/import.log" ||
    fail "import over $what: $(cat "$work/import.log")"
  d tail --brokers "$at" --from-beginning --max 1 --idle-timeout 60 >"$work/alerts.ndjson" \
    2>"$work/tail.log" || true
  # (-s: jq 1.6's -e passes on empty input)
  jq -e -s --arg a "$name-1" --arg b "$name-2" \
    'length == 1 and .[0].kind == "clash" and ([.[0].works[].work_ref] == [$a, $b])' \
    "$work/alerts.ndjson" >/dev/null ||
    fail "no clash of $name-1 and $name-2: $(cut -c1-300 "$work/alerts.ndjson")"
  echo "ok: ingest and detector over $what, the clash read back: $(jq -c '{alert_id, kind}' "$work/alerts.ndjson")"
  stop_stages
}

sasl_config() {
  {
    cat <<YAML
boundaries: ""
kafka:
  client:
    security.protocol: SASL_PLAINTEXT
    sasl.mechanisms: PLAIN
    sasl.username: digonce
    sasl.password_env: DIGONCE_TEST_SASL_PASSWORD
YAML
    cat
  } >"$work/config.yaml"
  export DIGONCE_TEST_SASL_PASSWORD=digonce-test-secret
  global+=(--config "$work/config.yaml")
}

# other_ca_pem: a CA certificate that signed nothing of the broker's (for "trusting another CA"),
# made once in $work; prints its path.
other_ca_pem() {
  [[ -f "$work/other-ca.pem" ]] ||
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other-ca.key" -out "$work/other-ca.pem" \
      -days 1 -subj "/CN=another CA" 2>/dev/null || fail "openssl could not make a CA"
  echo "$work/other-ca.pem"
}

refused_at() {
  local at="$1" what="$2" pattern="$3" rc=0 started=$SECONDS
  timeout 60 "$bin" "${global[@]}" topics --brokers "$at" >"$work/refused.log" 2>&1 || rc=$?
  [[ $rc != 0 && $rc != 124 ]] || fail "topics $what: exit $rc"
  ((SECONDS - started <= 15)) || fail "topics $what took $((SECONDS - started)) s to fail"
  grep -c "$pattern" "$work/refused.log" >/dev/null ||
    fail "topics $what did not say why: $(tail -n 3 "$work/refused.log")"
  echo "ok: topics $what ends in $((SECONDS - started)) s: $(grep -o "$pattern.*" "$work/refused.log" | head -n 1 | cut -c1-160)"
}
