#!/usr/bin/env bash
# A work of 99,000 vertices (under detection.max_vertices) crosses ingest and detector on the
# real broker: its records in works.tiled, works.current and the changelogs are 1.6-4 MiB, above
# the broker's default max.message.bytes (1 MiB), which digonce's topics raise to 10 MiB. The
# clash with a point next to it is read back; nothing is dead-lettered.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP, python3, kcat.
source "$(dirname "$0")/lib.sh" big-work

python3 - "$work/works.ndjson" <<'PY'
import json, sys
coords = [[530000 + i * 0.05, 180000 + (i % 2) * 0.05] for i in range(99000)]
works = [
    {"work_ref": "BIG-1", "promoter": "STPR", "crs": "EPSG:27700", "start": "2027-03-05",
     "end": "2027-03-20", "geometry": {"type": "LineString", "coordinates": coords}},
    {"work_ref": "NEAR-1", "promoter": "TW", "crs": "EPSG:27700", "start": "2027-03-06",
     "end": "2027-03-07", "geometry": {"type": "Point", "coordinates": [530100, 180010]}},
]
with open(sys.argv[1], "w") as f:
    for w in works:
        f.write(json.dumps(w) + "\n")
PY

d topics --brokers "$brokers" >/dev/null
for stage in ingest detector; do
  start_stage "$stage" "$stage" --brokers "$brokers" --data-dir "$work/$stage" --metrics ''
done
d import --brokers "$brokers" --input "$work/works.ndjson" \
  --no-progress 2>"$work/import.log" || fail "import: $(cat "$work/import.log")"
d tail --brokers "$brokers" --from-beginning --max 1 \
  --idle-timeout 60 >"$work/alerts.ndjson" 2>/dev/null || true
# (-s: jq 1.6's -e passes on empty input)
jq -e -s 'length == 1 and .[0].kind == "clash" and ([.[0].works[].work_ref] == ["BIG-1", "NEAR-1"])' \
  "$work/alerts.ndjson" >/dev/null || fail "no clash of BIG-1 and NEAR-1: $(cut -c1-300 "$work/alerts.ndjson")"
echo "ok: the clash of a 99,000-vertex work: $(jq -c '{alert_id, kind, distance_m}' "$work/alerts.ndjson")"
n=$(kcat -C -b "$brokers" -t "${prefix}dead-letter" -X isolation.level=read_committed -e \
  -o beginning -q 2>/dev/null | wc -l)
[[ $n == 0 ]] || fail "$n record(s) dead-lettered"
if grep -q "Message size too large" "$work"/*.log; then fail "a record was too large for a topic"; fi
echo "ok: nothing dead-lettered, no record too large"
stop_stages
echo "ok: stages stopped cleanly"
