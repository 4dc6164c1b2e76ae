#!/usr/bin/env bash
# `digonce load` (the end-to-end figures of docs/PERFORMANCE.md) through ingest and detector on
# the broker: 2,000 events at 1,000/s, every clash back, exit 0. Its figures are not checked.
#
#   DIGONCE_BIN=build/bin/digonce DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) \
#     tests/integration/load_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" load
d topics --brokers "$brokers" >"$work/topics.log" 2>&1 || fail "topics: $(cat "$work/topics.log")"
# Topics that exist with fewer replicas than topics.replication are left as they are, with a
# warning that names them (here: made with 1, asked for 3).
printf 'topics:\n  replication: 3\n' >"$work/r3.yaml"
"$bin" --config "$work/r3.yaml" "${global[@]}" topics --brokers "$brokers" >"$work/topics3.log" 2>&1 ||
  fail "topics again with replication 3: $(cat "$work/topics3.log")"
grep -q "warning topics with fewer replicas per partition than topics.replication (3): ${prefix}works.submitted (1), " \
  "$work/topics3.log" || fail "no warning of the topics' single replicas: $(cat "$work/topics3.log")"
start_stage ingest ingest --brokers "$brokers" --data-dir "$work/ingest" --metrics ''
start_stage detector detector --brokers "$brokers" --data-dir "$work/detector" --metrics ''
d load --brokers "$brokers" --events 2000 --rate 1000 --timeout 90 >"$work/load.out" 2>"$work/load.log" ||
  fail "digonce load failed: $(cat "$work/load.out" "$work/load.log")"
cat "$work/load.out"
grep -q '^clash alerts back  1000 of 1000 ' "$work/load.out" || fail "not every clash came back"
grep -q '^latency ms  *p50 [0-9.]* *p90 [0-9.]* *p99 [0-9.]*' "$work/load.out" || fail "no latency line"
stop_stages
echo "ok: digonce load: 2000 events through the stages, 1000 clashes back"
