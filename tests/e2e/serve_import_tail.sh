#!/usr/bin/env bash
# `digonce import` and `digonce tail` against `digonce serve`'s embedded broker: an NDJSON file
# and a multi-line GeoJSON FeatureCollection, each with bad items, are imported (bad items named
# by line or feature, skipped, exit 2; the good ones produced keyed by work_ref and live at
# GET /v1/works); `tail` prints the clash they make, filtered by kind, authority and state, and the
# submitted records with --envelope; the collection saved with a byte order mark imports too; a
# self-crossing polygon is imported as repaired, with a note naming its line; a point outside the
# metric CRS's area is refused, or with --no-crs-check produced and rejected by ingest.
# Needs curl and jq.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_import_tail.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_serve
[[ -n "$brokers" ]] || fail "serve did not print its Kafka bootstrap"
check "serve up at $base, embedded broker at $brokers"

# import_refusing FILE NAME LABEL PATTERN...: imports FILE, which holds refused items (exit 2);
# each PATTERN (grep) must be in what import wrote to stderr ($work/NAME.err).
import_refusing() {
  local file=$1 name=$2 label=$3 rc=0 pattern
  shift 3
  "$DIGONCE_BIN" import --brokers "$brokers" --input "$file" 2>"$work/$name.err" || rc=$?
  [[ $rc == 2 ]] || fail "$label: exit $rc, expected 2: $(cat "$work/$name.err")"
  for pattern in "$@"; do
    grep -q -- "$pattern" "$work/$name.err" || fail "$label: '$pattern' not in: $(cat "$work/$name.err")"
  done
  check "$label: $(tail -n1 "$work/$name.err")"
}

cat >"$work/works.ndjson" <<'NDJSON'
{"work_ref":"IMP-A","promoter":"STPR","geometry":{"type":"LineString","coordinates":[[-0.12700,51.50300],[-0.12650,51.50400]]},"start":"2026-03-16","end":"2026-03-20"}
{"work_ref":"IMP-B","promoter":"TFL","geometry":{"type":"LineString","coordinates":[[-0.12697,51.50302],[-0.12647,51.50402]]},"start":"2026-03-18","end":"2026-03-25"}

{"work_ref":"IMP-BAD","promoter":"STPR","geometry":{"type":"Point","coordinates":[-0.127,51.503]},"end":"2026-03-20"}
{"work_ref": "IMP-BROKEN",
{"work_ref":"IMP-C","promoter":"TW","geometry":{"type":"Polygon","coordinates":[[[-0.1402,51.5388],[-0.1398,51.5392],[-0.1398,51.5388],[-0.1402,51.5392],[-0.1402,51.5388]]]},"start":"2026-04-01","end":"2026-04-02"}
NDJSON
import_refusing "$work/works.ndjson" import1 "NDJSON import" '^line 4: start: is required' \
  '^line 5: invalid JSON' '^line 6: note: work IMP-C: geometry is not valid (Self-intersection' \
  '3 records produced.*geometries repaired: 1'

cat >"$work/works.geojson" <<'GEOJSON'
{
  "type": "FeatureCollection",
  "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.1100, 51.5200]},
     "properties": {"work_ref": "IMP-F1", "promoter": "TW", "start": "2026-05-01", "end": "2026-05-03"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.1000, 51.5100]},
     "properties": {"work_ref": "IMP-F2", "promoter": "TW", "start": "2026-05-01", "end": "2026-05-03"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.1000, 51.5100]},
     "properties": {"work_ref": "IMP-F3", "promoter": "TW", "start": "2026-05-04", "end": "2026-05-03"}}
  ]
}
GEOJSON
import_refusing "$work/works.geojson" import2 "FeatureCollection import" \
  '^feature 3: properties.end: is before start' '2 records produced.*one FeatureCollection'

# NDJSON whose first line is broken is still NDJSON: line 1 named, the rest imported.
printf '%s\n' '{"work_ref": "IMP-X",' \
  '{"work_ref":"IMP-D","promoter":"TW","geometry":{"type":"Point","coordinates":[-0.1500,51.5400]},"start":"2026-06-01","end":"2026-06-02"}' \
  >"$work/first-bad.ndjson"
import_refusing "$work/first-bad.ndjson" import3 "NDJSON with a bad first line" \
  '^line 1: invalid JSON' '2 lines; 1 records produced'

# The clash of IMP-A and IMP-B, from the alerts topic, filtered.
"$DIGONCE_BIN" tail --brokers "$brokers" --from-beginning --kind clash --authority 5990 --max 1 \
  --idle-timeout 30 >"$work/tail.ndjson" 2>"$work/tail.err" || fail "tail: $(cat "$work/tail.err")"
[[ $(wc -l <"$work/tail.ndjson") == 1 ]] || fail "tail printed $(wc -l <"$work/tail.ndjson") lines"
jq -e '.kind == "clash" and ([.works[].work_ref] == ["IMP-A","IMP-B"])' "$work/tail.ndjson" >/dev/null ||
  fail "tail's alert: $(cat "$work/tail.ndjson")"
check "tail --kind clash --authority 5990: $(jq -c '{alert_id, kind, state, revision}' "$work/tail.ndjson")"
"$DIGONCE_BIN" tail --brokers "$brokers" --from-beginning --authority 5210 --idle-timeout 3 \
  >"$work/tail2.ndjson" 2>/dev/null || fail "tail for Camden failed"
[[ ! -s "$work/tail2.ndjson" ]] || fail "tail --authority 5210 printed Westminster's alert"
check "tail --authority 5210: nothing"
"$DIGONCE_BIN" tail --brokers "$brokers" --from-beginning --state open --max 1 --idle-timeout 30 \
  >"$work/tail4.ndjson" 2>/dev/null || fail "tail --state open failed"
jq -e '.state == "open"' "$work/tail4.ndjson" >/dev/null || fail "tail --state open: $(cat "$work/tail4.ndjson")"
"$DIGONCE_BIN" tail --brokers "$brokers" --from-beginning --state closed --idle-timeout 3 \
  >"$work/tail3.ndjson" 2>/dev/null || fail "tail --state closed failed"
[[ ! -s "$work/tail3.ndjson" ]] || fail "tail --state closed printed an open alert: $(cat "$work/tail3.ndjson")"
"$DIGONCE_BIN" tail --brokers "$brokers" --state sideways --idle-timeout 1 >/dev/null 2>"$work/tail5.err" &&
  fail "tail --state sideways was taken"
check "tail --state open: the clash; --state closed: nothing; --state sideways refused: $(head -n1 "$work/tail5.err")"

"$DIGONCE_BIN" tail --brokers "$brokers" --topic works.submitted --from-beginning --envelope \
  --max 6 --idle-timeout 30 >"$work/submitted.ndjson" 2>/dev/null || fail "tail of works.submitted"
keys=$(jq -r .key "$work/submitted.ndjson" | sort | tr '\n' ' ')
[[ $keys == "IMP-A IMP-B IMP-C IMP-D IMP-F1 IMP-F2 " ]] || fail "works.submitted keys: $keys"
# Each record's timestamp: ms since 1970, from the import's producer, within the last hour.
jq -se --argjson now "$(date +%s%3N)" \
  'length == 6 and all(.[]; (.timestamp | type) == "number" and
     .timestamp <= $now + 1000 and .timestamp > $now - 3600000)' \
  "$work/submitted.ndjson" >/dev/null || fail "tail --envelope timestamps: $(jq -c .timestamp "$work/submitted.ndjson" | tr '\n' ' ')"
check "tail --envelope of works.submitted: keys $keys"

# A point in Sydney is outside EPSG:27700's area: import refuses it, unless --no-crs-check,
# which leaves that check to ingest (the item is produced, and ingest rejects it saying why).
printf '%s\n' '{"work_ref":"IMP-SYD","promoter":"TW","geometry":{"type":"Point","coordinates":[151.2,-33.9]},"start":"2026-06-01","end":"2026-06-02"}' \
  >"$work/sydney.ndjson"
import_refusing "$work/sydney.ndjson" import5 "a point outside the metric CRS's area" '^line 1: geometry'
"$DIGONCE_BIN" import --brokers "$brokers" --input "$work/sydney.ndjson" --no-crs-check \
  2>"$work/import6.err" || fail "import --no-crs-check: exit $?: $(cat "$work/import6.err")"
grep -q '1 records produced.*not checked (--no-crs-check)' "$work/import6.err" ||
  fail "import --no-crs-check: $(cat "$work/import6.err")"
syd=""
for _ in $(seq 1 60); do
  syd=$("$DIGONCE_BIN" tail --brokers "$brokers" --topic works.rejected --from-beginning --envelope \
    --idle-timeout 1 2>/dev/null | jq -c 'select(.key == "IMP-SYD")' || true)
  [[ -n "$syd" ]] && break
done
jq -e '.headers["digonce.reason"] | test("geometry")' >/dev/null <<<"$syd" ||
  fail "IMP-SYD, imported with --no-crs-check, not rejected by ingest with a reason: $syd"
check "import --no-crs-check: produced; ingest rejected it: $(jq -r '.headers["digonce.reason"]' <<<"$syd" | cut -c1-90)"

for _ in $(seq 1 100); do
  n=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/works" | jq '[.works[].work_ref | select(startswith("IMP-"))] | length')
  [[ $n == 6 ]] && break
  sleep 0.1
done
[[ $n == 6 ]] || fail "GET /v1/works holds $n of the 6 imported works"
check "the 6 imported works are live at GET /v1/works"
# The collection again, saved "UTF-8 with BOM", its works renamed IMP-G*.
{ printf '\xef\xbb\xbf'; sed 's/IMP-F/IMP-G/' "$work/works.geojson"; } >"$work/bom.geojson"
import_refusing "$work/bom.geojson" import2b "FeatureCollection with a byte order mark" \
  '2 records produced.*one FeatureCollection'
# A FeatureCollection on one NDJSON line, its crs given once for all features (GeoJSON 2008):
# the bad feature named and skipped, the good one produced in EPSG:27700.
echo '{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:27700"}},"features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[530000,180000]},"properties":{"work_ref":"IMP-H1","promoter":"TW","start":"2026-05-01","end":"2026-05-03"}},{"type":"Feature","geometry":{"type":"Point","coordinates":[530000,180000]},"properties":{"work_ref":"IMP-H2","promoter":"TW","start":"2026-05-04","end":"2026-05-03"}}]}' >"$work/fc-line.ndjson"
import_refusing "$work/fc-line.ndjson" import4 "a FeatureCollection on one line" \
  '^line 1 feature 2: properties.end: is before start' '1 lines; 1 records produced'
# IMP-H1 went in EPSG:27700 (the collection's crs): live at Charing Cross, not refused by ingest.
h1=""
for _ in $(seq 1 100); do
  h1=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/works/IMP-H1" || true)
  jq -e -s 'length == 1 and (.[0].geometry.coordinates[0] | . > -0.14 and . < -0.10)' >/dev/null <<<"$h1" && break
  sleep 0.1
done
jq -e -s 'length == 1 and (.[0].geometry.coordinates[0] | . > -0.14 and . < -0.10)' >/dev/null <<<"$h1" ||
  fail "IMP-H1 is not live where its EPSG:27700 coordinates put it: $h1"
check "the collection's crs reached its feature: IMP-H1 at $(jq -c .geometry.coordinates <<<"$h1")"

# A record without a key, sent to partitions 0 and 1 of works.submitted (at least one is not the
# partition that owns its work, so ingest forwards it there): each copy is rejected with the
# bytes as sent, its source headers naming where it was sent, not the forwarded copy, and the
# record's own header (a trace id) kept through the forward and the rejection.
bad='{"work_ref":"IMP-FAR", "promoter":"TW","geometry":{"type":"Point","coordinates":[900000,100000]},"crs":"EPSG:27700","start":"2026-05-01","end":"2026-05-03"}'
for p in 0 1; do
  printf '%s\n' "$bad" | kcat -P -b "$brokers" -t digonce.works.submitted -p "$p" -H traceparent=00-4bf92f-01
done
"$DIGONCE_BIN" tail --brokers "$brokers" --topic works.rejected --from-beginning --envelope \
  --idle-timeout 5 >"$work/rejected.ndjson" 2>/dev/null || true
far=$(jq -c --arg bad "$bad" 'select(.value == $bad)' "$work/rejected.ndjson")
[[ $(jq -s length <<<"$far") == 2 ]] || fail "expected IMP-FAR rejected twice with its bytes as sent: $(cat "$work/rejected.ndjson")"
jq -e -s 'map(.headers["digonce.source.topic"] == "digonce.works.submitted") | all' <<<"$far" >/dev/null ||
  fail "source topic: $far"
[[ $(jq -r '.headers["digonce.source.partition"]' <<<"$far" | sort | tr '\n' ' ') == "0 1 " ]] ||
  fail "the source partitions are not the ones sent to (0 and 1): $far"
jq -e -s 'map(select(.headers["digonce.forwarded.via"] != null)) | length >= 1' <<<"$far" >/dev/null ||
  fail "no rejection names the forwarded copy: $far"
jq -e -s 'map(.headers.traceparent == "00-4bf92f-01" and .headers["digonce.forwarded.from"] == null) | all' \
  <<<"$far" >/dev/null || fail "the record's own header was not kept (or digonce.forwarded.from leaked): $far"
check "a keyless record on a partition that does not own it: rejected with its bytes as sent, its source where it was sent, its own header kept"
# A record that is not UTF-8: rejected, and tail --envelope still prints JSON, with the bytes in
# base64.
printf '{"work_ref":"U\xff\xfe"}\n' | kcat -P -b "$brokers" -t digonce.works.submitted -p 0 -k BAD-UTF8
"$DIGONCE_BIN" tail --brokers "$brokers" --topic works.rejected --from-beginning --envelope \
  --idle-timeout 5 >"$work/rejected3.ndjson" 2>/dev/null || true
python3 - "$work/rejected3.ndjson" <<'PY' || fail "tail --envelope of a record that is not UTF-8: $(cat -v "$work/rejected3.ndjson")"
import base64, json, sys
lines = [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines()]
bad = [l for l in lines if l["key"] == "BAD-UTF8"]
assert len(bad) == 1 and bad[0]["value"] is None, bad
assert base64.b64decode(bad[0]["value_base64"]) == b'{"work_ref":"U\xff\xfe"}', bad
PY
check "tail --envelope: a value that is not UTF-8 comes as value_base64, every line JSON"

stop_serve
