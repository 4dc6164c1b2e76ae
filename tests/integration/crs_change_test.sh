#!/usr/bin/env bash
# A detector restarted with another detection.metric_crs than its partitions' works were measured
# in stops at once (no restarts with new clients), saying which CRS each side has and that the
# change needs a new deployment; started again with the CRS it had, it goes on with its works.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP, jq.
source "$(dirname "$0")/lib.sh" crs-change
config_dir="$(cd "$(dirname "$0")/../../config" && pwd)"

clash_through "the broker" "$brokers"
mkdir "$work/cfg"
cp "$config_dir"/*.yaml "$work/cfg/"
sed -i 's/metric_crs: "EPSG:27700"/metric_crs: "EPSG:32630"/' "$work/cfg/digonce.yaml"
grep -q 'metric_crs: "EPSG:32630"' "$work/cfg/digonce.yaml" || fail "config/digonce.yaml has no metric_crs line to change"

# On its own data folder (a clean stop's checkpoint), and on an empty one (the works restored from
# the changelog, as after a lost disk).
for dir in detector detector-elsewhere; do
  started=$SECONDS
  rc=0
  timeout 120 "$bin" --config "$work/cfg/digonce.yaml" "${global[@]}" detector --brokers "$brokers" \
    --data-dir "$work/$dir" --metrics '' >"$work/refused.log" 2>&1 || rc=$?
  [[ $rc != 0 && $rc != 124 ]] || fail "a detector with another metric CRS on $dir: exit $rc (124: still running after 120 s)"
  grep -q "the store holds works measured in EPSG:27700, and this detector measures in EPSG:32630" \
    "$work/refused.log" || fail "the refusal does not name both CRSs: $(tail -n 5 "$work/refused.log")"
  grep -q "new deployment" "$work/refused.log" || fail "the refusal does not say what to do"
  if grep -q "starting over with new Kafka clients" "$work/refused.log"; then
    fail "a refused setting was retried with new clients"
  fi
  echo "ok: another metric CRS refused on $dir in $((SECONDS - started)) s (exit $rc): $(grep -o "partition [0-9]* of.*" "$work/refused.log" | head -n 1 | cut -c1-200)"
done

# The CRS it had: the partition's works are still there (a third work meets the first two).
start_stage detector detector --brokers "$brokers" --data-dir "$work/detector" --metrics ''
cat >"$work/third.ndjson" <<NDJSON
{"work_ref":"crs-change-3","promoter":"BT","crs":"EPSG:27700","start":"2027-03-06","end":"2027-03-07","geometry":{"type":"Point","coordinates":[530005,180005]}}
NDJSON
start_stage ingest ingest --brokers "$brokers" --data-dir "$work/ingest" --metrics ''
d import --brokers "$brokers" --input "$work/third.ndjson" --no-progress 2>"$work/import.log" ||
  fail "import: $(cat "$work/import.log")"
d tail --brokers "$brokers" --from-beginning --max 3 --idle-timeout 60 >"$work/alerts.ndjson" \
  2>"$work/tail.log" || true
jq -e -s 'length == 3 and ([.[] | select(.works[].work_ref == "crs-change-3")] | length == 2)' \
  "$work/alerts.ndjson" >/dev/null ||
  fail "the third work did not meet the first two: $(cut -c1-300 "$work/alerts.ndjson")"
echo "ok: started again with EPSG:27700, its works were still there: the third work met both"
stop_stages
echo "ok: stages stopped cleanly"
