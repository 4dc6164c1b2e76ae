#!/usr/bin/env bash
# A stage's stop always ends: on a second broker of its own (tools/kafka with DIGONCE_KAFKA_DIR,
# the main port + 100), a running ingest stage has its cluster replaced by a new one under the
# same address (tools/kafka reset), which makes librdkafka 2.0 wait for ever in closing its
# producer. Then:
#   1. SIGTERM: the process ends within 30 s + a little, either cleanly (exit 0, before 30 s) or
#      by the stop watchdog (exit 143 at 30 s, saying "the stop has not ended after 30 s");
#   2. SIGTERM, and a second SIGTERM 2 s later if it still runs: it ends at once (exit 143,
#      saying "a second SIGTERM").
# If neither stop hangs (a librdkafka that closes after all), the watchdog was not exercised: the
# test says so and is skipped (exit 77).
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start: its jars start the second one).
source "$(dirname "$0")/lib.sh" stop
tools_kafka_only
# A fixed folder (build/kafka-stop-test), so that a broker a timeout left behind is found and
# stopped: by the next run here, and by tools/test at the end of its kafka step.
export DIGONCE_KAFKA_DIR="${DIGONCE_BUILD:-$(dirname "$kafka_tool")/../build}/kafka-stop-test"
export DIGONCE_KAFKA_PORT=$((${brokers##*:} + 100)) KAFKA_HEAP_OPTS="-Xmx384m -Xms128m"
trap '"$kafka_tool" stop >/dev/null 2>&1 || true; it_cleanup' EXIT
"$kafka_tool" stop >>"$work/kafka2.log" 2>&1 || true
b2=$("$kafka_tool" start --fresh 2>>"$work/kafka2.log") || fail "the second broker did not start"
printf 'boundaries: ""\n' >"$work/config.yaml"
global+=(--config "$work/config.yaml")

# Starts ingest on a fresh cluster at $b2, then replaces that cluster under it.
stage_on_replaced_cluster() {
  local log="$1"
  d topics --brokers "$b2" >>"$work/topics.log" 2>&1 || fail "topics on $b2"
  start_stage "$log" ingest --brokers "$b2" --data-dir "$work/$log" --metrics ''
  for _ in $(seq 1 150); do
    grep -c "assigned" "$work/$log.log" >/dev/null && break
    sleep 0.2
  done
  grep -c "assigned" "$work/$log.log" >/dev/null || fail "ingest got no partitions on $b2"
  "$kafka_tool" reset >/dev/null 2>>"$work/kafka2.log" || fail "the second broker did not restart"
  sleep 5
}

# Waits up to $1 s for the last started stage to end; sets rc and took (s).
wait_stage() {
  local limit="$1" p="${pids[-1]}" t0=$SECONDS
  while kill -0 "$p" 2>/dev/null && ((SECONDS - t0 < limit)); do sleep 0.1; done
  kill -0 "$p" 2>/dev/null && fail "the stage still runs $limit s after SIGTERM"
  rc=0
  wait "$p" || rc=$?
  took=$((SECONDS - t0))
  pids=()
}

# SIGTERM to the last started stage, which must still run.
term() {
  kill -TERM "${pids[-1]}" 2>/dev/null || fail "ingest ended by itself after its cluster was replaced"
}

hung=0
stage_on_replaced_cluster ingest1
started=$SECONDS
term
wait_stage 45
took=$((SECONDS - started))
if [[ $rc == 0 ]]; then
  ((took < 30)) || fail "a clean stop took $took s"
  echo "ok: the stop was clean this time (exit 0 after $took s; no hang to cut short)"
else
  [[ $rc == 143 ]] || fail "the stop ended with exit $rc after $took s"
  ((took >= 29)) || fail "the watchdog ended the stop after $took s, before 30 s"
  grep -c "the stop has not ended after 30 s" "$work/ingest1.log" >/dev/null ||
    fail "exit 143 without the watchdog's line"
  echo "ok: a stop that hung ended after $took s with exit 143, saying so"
  hung=$((hung + 1))
fi

stage_on_replaced_cluster ingest2
term
sleep 2
if kill -0 "${pids[-1]}" 2>/dev/null; then
  term
  wait_stage 3
  [[ $rc == 143 ]] || fail "a second SIGTERM: exit $rc"
  grep -c "a second SIGTERM: exiting at once" "$work/ingest2.log" >/dev/null ||
    fail "exit 143 without the second signal's line"
  echo "ok: a second SIGTERM ended a hung stop at once (exit 143, $took s after it)"
  hung=$((hung + 1))
else
  wait_stage 1
  [[ $rc == 0 ]] || fail "the stop ended with exit $rc"
  echo "ok: the stop was clean within 2 s this time (no second SIGTERM needed)"
fi
if ((hung == 0)); then
  echo "skipped: neither stop hung, so the watchdog was not exercised (librdkafka closed cleanly)"
  exit 77
fi
