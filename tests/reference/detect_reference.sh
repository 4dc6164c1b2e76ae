#!/usr/bin/env bash
# `digonce detect` against an independent reference of the contract's rules
# (tests/reference/README.md): streams of work events in eight regions and seven metric CRSs
# (gen_regions.py), each run through `digonce detect --crs <the region's CRS>`, twice (the
# contract's thresholds, then others), and the open alerts at the end compared with what
# reference_detect.py (Python, Shapely, pyproj; no digonce code) finds; the EPSG:27700 regions'
# streams also as Street Manager notifications (to_streetmanager.py), checked against the
# reference's verdict on their contract twin; each region's stream also in three runs of
# `digonce detect` on one kept --data-dir. Needs .venv (tools/setup).
#
#   DIGONCE_BIN=build/bin/digonce tests/reference/detect_reference.sh [--works N --events N --seed N]
#
# Without arguments: 1,500 works and 12,000 events per region, a random seed (printed;
# DIGONCE_REFERENCE_SEED fixes it).
set -euo pipefail
: "${DIGONCE_BIN:?set DIGONCE_BIN to the digonce binary}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/tools/lib.sh"
python="$root/.venv/bin/python"
[[ -x "$python" ]] || die "$python missing: run tools/setup"
data=$(shared_data_dir) || die "the shared data folder (london/, proj/) was not found"
work=$(mktemp -d)
trap 'if [[ -n "${DIGONCE_E2E_KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT

# A new seed each run (printed: pass --seed N to repeat one), so runs cover new streams.
gen_args=("$@")
[[ ${#gen_args[@]} -gt 0 ]] || gen_args=(--works 1500 --events 12000 --seed "${DIGONCE_REFERENCE_SEED:-$RANDOM}")
echo "gen_regions.py ${gen_args[*]}"
"$python" "$root/tests/reference/gen_regions.py" --out "$work" \
  --roads "$data/london/os-highways-roadlinks-clerkenwell.json" "${gen_args[@]}"
failed=0
# verdict LABEL TWIN ALERTS [OPTION...]: the reference on TWIN against the alerts in ALERTS.
verdict() {
  local label=$1 twin=$2 alerts=$3
  shift 3
  if "$python" "$root/tests/reference/reference_detect.py" --input "$twin" --alerts "$alerts" \
    "$@" --proj-data "$data/proj" --authorities "$root/config/london-authorities.yaml" \
    --shared-data "$data"; then
    echo "ok: $label"
  else
    echo "FAIL: $label"
    failed=1
  fi
}
# check LABEL INPUT TWIN OUT [OPTION...]: `digonce detect` on INPUT (with the options) against the
# reference on TWIN (the same events as contract work events; INPUT itself for those).
check() {
  local label=$1 input=$2 twin=$3 out=$4 rc=0
  shift 4
  "$DIGONCE_BIN" detect --input "$input" --output "$out.alerts" "$@" 2>"$out.err" || rc=$?
  if [[ $rc != 0 ]]; then
    echo "FAIL: digonce detect exited $rc on $label: $(tail -n 5 "$out.err")"
    failed=1
  else
    verdict "$label" "$twin" "$out.alerts" "$@" --detect-stderr "$out.err"
  fi
}
# check_restarts LABEL INPUT OUT [OPTION...]: the same, the input in three parts, each a run of
# `digonce detect` on one kept --data-dir (the store reopened twice mid-stream: the pairs it
# holds, open or closed, in records of their own or in a work's group, go on from there); the
# three runs' alerts together against the reference. (The rejected lines' numbers start again
# in each part: not compared.)
check_restarts() {
  local label=$1 input=$2 out=$3 part
  shift 3
  split -n l/3 -d "$input" "$out.part"
  : >"$out.alerts"
  for part in "$out.part00" "$out.part01" "$out.part02"; do
    if ! "$DIGONCE_BIN" detect --input "$part" --output "$part.alerts" --data-dir "$out.dd" "$@" \
      2>"$out.err"; then
      echo "FAIL: digonce detect failed on $label, $part: $(tail -n 5 "$out.err")"
      failed=1
      return
    fi
    cat "$part.alerts" >>"$out.alerts"
  done
  verdict "$label" "$input" "$out.alerts" "$@"
}
for region in $(jq -r '.[].name' "$work/regions.json"); do
  crs=$(jq -r ".[] | select(.name == \"$region\") | .crs" "$work/regions.json")
  for rules in "25 90" "40 30"; do
    set -- $rules
    check "$region, --crs $crs --distance-m $1 --collaboration-days $2" "$work/$region.ndjson" \
      "$work/$region.ndjson" "$work/$region-$1-$2" --crs "$crs" --distance-m "$1" \
      --collaboration-days "$2"
  done
  check_restarts "$region, --crs $crs, stopped and started twice" "$work/$region.ndjson" \
    "$work/$region-restarts" --crs "$crs"
  # The same region's stream as Street Manager notifications (EPSG:27700 regions): `digonce
  # detect` reads those, the reference their contract twin (to_streetmanager.py).
  [[ $crs == EPSG:27700 ]] || continue
  out="$work/$region-sm"
  "$python" "$root/tests/reference/to_streetmanager.py" --input "$work/$region.ndjson" \
    --sm "$out.ndjson" --twin "$out-twin.ndjson" --proj-data "$data/proj"
  check "$region as Street Manager notifications, --crs $crs" "$out.ndjson" "$out-twin.ndjson" \
    "$out" --crs "$crs"
done
exit $failed
