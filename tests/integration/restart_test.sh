#!/usr/bin/env bash
# Restarts of a detector on the real broker:
#   1. after kill -9, started again with its --instance-id, it has its partitions back within 5 s
#      (a static group member: without that, the group waits 10 s for the dead member to expire);
#   2. a second live instance with the same --instance-id stops the first within 15 s, saying so;
#   3. started with another detection.metric_crs than its partitions' works were measured in, it
#      stops at once (no restarts with new clients), naming both CRSs and the new deployment the
#      change needs, on its own data folder and on an empty one (restored from the changelog);
#   4. with the CRS it had, it goes on with its works (a third work meets the first two);
#   5. the records of an ingest with another metric CRS are set aside by the detector, not
#      measured as if in its own.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP, jq.
source "$(dirname "$0")/lib.sh" restart
config_dir="$(cd "$(dirname "$0")/../../config" && pwd)"

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN; fails after SECONDS.
wait_for() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $1 within $3 s: $(tail -n 5 "$1")"
}

clash_through "the broker" "$brokers"

# 1. kill -9, then the same instance again.
start_stage detector-1 detector --brokers "$brokers" --data-dir "$work/detector" \
  --instance-id restart-a --metrics ''
wait_for "$work/detector-1.log" "detector: partition [0-9]* assigned" 60
grep -q "static member ${prefix}detector-restart-a" "$work/detector-1.log" ||
  fail "the detector is not a static member: $(grep consuming "$work/detector-1.log")"
kill -KILL "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'
started=$SECONDS
start_stage detector-2 detector --brokers "$brokers" --data-dir "$work/detector" \
  --instance-id restart-a --metrics ''
wait_for "$work/detector-2.log" "detector: partition [0-9]* assigned" 5
echo "ok: after kill -9 the same instance had partitions back within $((SECONDS - started)) s (a static member)"

# 2. A twin: same id, another data folder. The first stops, saying why; the twin goes on.
first=${pids[-1]}
start_stage detector-twin detector --brokers "$brokers" --data-dir "$work/detector-twin" \
  --instance-id restart-a --metrics ''
rc=0
for ((i = 0; i < 150; i++)); do
  kill -0 "$first" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$first" 2>/dev/null && fail "an instance whose id another took still runs after 15 s"
wait "$first" || rc=$?
[[ $rc != 0 ]] || fail "an instance whose id another took exited 0"
# Whichever of its stages hears first (a consumer fenced by the twin's join, or a producer by its
# transactions) stops the process.
grep -qE "fenced: another instance with (group instance|transactional) id .* this one stops" \
  "$work/detector-2.log" ||
  fail "the fenced instance did not say why: $(tail -n 3 "$work/detector-2.log")"
kept=()
for p in "${pids[@]}"; do [[ $p == "$first" ]] || kept+=("$p"); done
pids=("${kept[@]}")
echo "ok: a second instance with its id stopped the first (exit $rc): $(grep -o "fenced: another.*" "$work/detector-2.log" | head -n 1)"
stop_stages

# 3. Another metric CRS.
mkdir "$work/cfg"
cp "$config_dir"/*.yaml "$work/cfg/"
sed -i 's/metric_crs: "EPSG:27700"/metric_crs: "EPSG:32630"/' "$work/cfg/digonce.yaml"
grep -q 'metric_crs: "EPSG:32630"' "$work/cfg/digonce.yaml" || fail "config/digonce.yaml has no metric_crs line to change"
# On its own data folder, and on an empty one (the works restored from the changelog, as after a
# lost disk).
for dir in detector detector-elsewhere; do
  started=$SECONDS
  rc=0
  timeout 120 "$bin" --config "$work/cfg/digonce.yaml" "${global[@]}" detector --brokers "$brokers" \
    --data-dir "$work/$dir" --instance-id restart-a --metrics '' >"$work/refused.log" 2>&1 || rc=$?
  [[ $rc != 0 && $rc != 124 ]] || fail "a detector with another metric CRS on $dir: exit $rc (124: still running after 120 s)"
  grep -q "the store holds works measured in EPSG:27700, and this detector measures in EPSG:32630" \
    "$work/refused.log" || fail "the refusal does not name both CRSs: $(tail -n 5 "$work/refused.log")"
  grep -q "new deployment" "$work/refused.log" || fail "the refusal does not say what to do"
  if grep -q "starting over with new Kafka clients" "$work/refused.log"; then
    fail "a refused setting was retried with new clients"
  fi
  echo "ok: another metric CRS refused on $dir in $((SECONDS - started)) s (exit $rc): $(grep -o "partition [0-9]* of.*" "$work/refused.log" | head -n 1 | cut -c1-200)"
done

# 4. The CRS it had: the partition's works are still there (a third work meets the first two).
start_stage detector detector --brokers "$brokers" --data-dir "$work/detector" \
  --instance-id restart-a --metrics ''
cat >"$work/third.ndjson" <<NDJSON
{"work_ref":"restart-3","promoter":"BT","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530005,180005]}}
NDJSON
start_stage ingest ingest --brokers "$brokers" --data-dir "$work/ingest" --metrics ''
d import --brokers "$brokers" --input "$work/third.ndjson" --no-progress 2>"$work/import.log" ||
  fail "import: $(cat "$work/import.log")"
d tail --brokers "$brokers" --from-beginning --max 3 --idle-timeout 60 >"$work/alerts.ndjson" \
  2>"$work/tail.log" || true
jq -e -s 'length == 3 and ([.[] | select(.works[].work_ref == "restart-3")] | length == 2)' \
  "$work/alerts.ndjson" >/dev/null ||
  fail "the third work did not meet the first two: $(cut -c1-300 "$work/alerts.ndjson")"
echo "ok: started again with EPSG:27700, its works were still there: the third work met both"
stop_stages
echo "ok: stages stopped cleanly"

# 5. An ingest configured with another metric CRS than the detector's: the detector sets its works
# aside at once (the dead-letter topic keeps them), naming both CRSs, instead of measuring them
# as if in its own; the partition goes on.
start_stage detector detector --brokers "$brokers" --data-dir "$work/detector" \
  --instance-id restart-a --metrics ''
"$bin" --config "$work/cfg/digonce.yaml" "${global[@]}" ingest --brokers "$brokers" \
  --data-dir "$work/ingest-utm" --metrics '' >"$work/ingest-utm.log" 2>&1 &
pids+=($!)
cat >"$work/fourth.ndjson" <<NDJSON
{"work_ref":"restart-4","promoter":"BT","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530000,180000]}}
NDJSON
d import --brokers "$brokers" --input "$work/fourth.ndjson" --no-progress 2>"$work/import.log" ||
  fail "import: $(cat "$work/import.log")"
wait_for "$work/detector.log" "set aside on ${prefix}dead-letter (1 so far in this partition): ingest measured this work in EPSG:32630, and this detector measures in EPSG:27700" 90
kill -0 "${pids[0]}" 2>/dev/null || fail "the detector stopped: $(tail -n 3 "$work/detector.log")"
if grep -q "failed (attempt" "$work/detector.log"; then
  fail "a work in another CRS was retried, not set aside at once"
fi
d tail --brokers "$brokers" --topic dead-letter --from-beginning --envelope --max 1 \
  --idle-timeout 30 >"$work/dead.ndjson" 2>"$work/tail.log" || true
jq -e '.headers["digonce.reason"] | startswith("ingest measured this work in EPSG:32630")' \
  "$work/dead.ndjson" >/dev/null ||
  fail "no set-aside record on dead-letter: $(cut -c1-300 "$work/dead.ndjson") $(tail -n 2 "$work/tail.log")"
echo "ok: a work an ingest measured in another CRS was set aside by the detector (on dead-letter, committed): $(grep -o "set aside on.*" "$work/detector.log" | head -n 1)"
stop_stages
