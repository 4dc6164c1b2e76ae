#!/usr/bin/env bash
# A stage started before its Kafka cluster (no broker needed): it waits, saying so, with its
# metrics endpoint already answering (a liveness probe on it, as the Helm chart's, must not kill
# a stage that waits: /healthz 200, /readyz 503 saying why), a second instance on its data folder stops at once, and SIGTERM ends the
# wait with exit 0. Then what stops any command at
# start: a config key nobody knows, a --log-level that is not one, an HTTP port out of range.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/stage_waits.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# A port nothing listens on: the brokers are "unreachable".
nobody=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$DIGONCE_BIN" ingest --brokers "127.0.0.1:$nobody" --data-dir "$work/ingest" \
  --metrics "127.0.0.1:$metrics" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  grep -q "waiting for the Kafka brokers 127.0.0.1:$nobody" "$log" && break
  kill -0 "$pid" 2>/dev/null || fail "ingest exited instead of waiting for its brokers"
  sleep 0.1
done
grep -q "waiting for the Kafka brokers 127.0.0.1:$nobody" "$log" || fail "no 'waiting for the Kafka brokers' line in 20 s"
check "ingest without a reachable broker waits, saying so"
code=$(curl -s -o "$work/metrics.txt" -w '%{http_code}' "http://127.0.0.1:$metrics/metrics" || true)
[[ $code == 200 ]] || fail "metrics endpoint while waiting: HTTP $code"
check "its metrics endpoint answers while it waits (HTTP 200)"
code=$(curl -s -o "$work/healthz.json" -w '%{http_code}' "http://127.0.0.1:$metrics/healthz" || true)
[[ $code == 200 ]] || fail "/healthz while waiting: HTTP $code: $(cat "$work/healthz.json")"
code=$(curl -s -o "$work/readyz.json" -w '%{http_code}' "http://127.0.0.1:$metrics/readyz" || true)
[[ $code == 503 ]] || fail "/readyz while waiting: HTTP $code, not 503: $(cat "$work/readyz.json")"
grep -qF '"reason":"waiting for the Kafka brokers and topics"' "$work/readyz.json" ||
  fail "/readyz while waiting does not say why: $(cat "$work/readyz.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$metrics/healthz" || true)
[[ $code == 405 ]] || fail "POST /healthz: HTTP $code, not 405"
check "while it waits, /healthz is 200 (alive) and /readyz 503, saying what it waits for"
version=$("$DIGONCE_BIN" --version)
[[ $version =~ ^digonce\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "digonce --version: '$version'"
grep -c "^digonce_build_info{version=\"${version#digonce }\"} 1" "$work/metrics.txt" >/dev/null ||
  fail "no digonce_build_info for ${version#digonce }: $(grep build_info "$work/metrics.txt")"
grep -c "info $version\$" "$log" >/dev/null || fail "the log does not start with '$version'"
check "--version says '$version'; the stage's log and digonce_build_info say the same"
# A second ingest on the same data folder stops at once, while the first still waits.
rc=0
started=$(date +%s)
out=$(timeout 20 "$DIGONCE_BIN" ingest --brokers "127.0.0.1:$nobody" --data-dir "$work/ingest" \
  --metrics '' 2>&1) || rc=$?
[[ $rc == 1 ]] || fail "a second ingest on the same data folder: exit $rc, not 1: $out"
(($(date +%s) - started <= 5)) || fail "a second ingest on the same data folder took $(($(date +%s) - started)) s to stop"
grep -qF "ingest.lock is held by another running digonce (pid $pid)" <<<"$out" ||
  fail "a second ingest on the same data folder did not say why: $out"
check "a second ingest on the same data folder stops at once, naming the first (its brokers unreachable)"
kill -TERM "$pid"
rc=0
started=$(date +%s)
wait "$pid" || rc=$?
pid=""
[[ $rc == 0 ]] || fail "ingest exited $rc after SIGTERM while waiting"
(($(date +%s) - started <= 5)) || fail "SIGTERM took more than 5 s to end the wait"
check "SIGTERM ends the wait at once, exit 0"

refused() {  # refused WORDS COMMAND...: the command exits non-zero at once, its output has WORDS
  local words=$1 out rc=0
  shift
  out=$(timeout 20 "$@" 2>&1) || rc=$?
  [[ $rc != 0 && $rc != 124 ]] || fail "not refused (exit $rc): $*"
  grep -qF -- "$words" <<<"$out" || fail "refused without '$words': $out"
}
printf 'notifer:\n  webhooks: []\n' >"$work/typo.yaml"
refused "notifer: unknown key" "$DIGONCE_BIN" ingest --config "$work/typo.yaml" --brokers 127.0.0.1:1 \
  --data-dir "$work/ingest2"
check "a misspelt config section stops a stage at start, naming it (--config after the command)"
refused "debg not in" "$DIGONCE_BIN" --log-level debg ingest --brokers 127.0.0.1:1 --data-dir "$work/i3"
check "--log-level debg is refused"
refused "the port must be a number from 0 to 65535" "$DIGONCE_BIN" gateway --brokers 127.0.0.1:1 \
  --http 127.0.0.1:99999 --api-keys "$root/config/dev-api-keys.yaml"
check "an HTTP port above 65535 is refused"
