#!/usr/bin/env bash
# `digonce detect`'s command line and input edges: --distance-m 0 keeps only works that touch,
# bad figures are refused with a message, a UTF-8 BOM before the first line and a huge number in
# an unknown field lose nothing, "kind" values other than "section58" are ignored, a self-crossing
# polygon is taken as repaired and its work named; a kept --data-dir goes on and refuses another
# metric CRS; the output is never the input, nor emptied by a refused run (empty options, a
# folder for --input, bad config values named); an alert's highway_authorities are the areas
# holding its location, not the authorities the works name; the heap asks for huge pages unless
# told not to.
set -euo pipefail
: "${DIGONCE_BIN:?set DIGONCE_BIN to the digonce binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
check() { echo "ok: $*"; }

# A and B touch (B is A's end point); C is 1 mm from B; all in EPSG:27700, same dates.
cat >"$work/touch.ndjson" <<'NDJSON'
{"work_ref":"A","promoter":"P","geometry":{"type":"LineString","coordinates":[[530000,180000],[530010,180000]]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"}
{"work_ref":"B","promoter":"P","geometry":{"type":"Point","coordinates":[530010,180000]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"}
{"work_ref":"C","promoter":"P","geometry":{"type":"Point","coordinates":[530010.001,180000]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"}
NDJSON
pairs() { jq -r '[.works[].work_ref] | join("-")' "$1" | sort | tr '\n' ' '; }

"$DIGONCE_BIN" detect --input "$work/touch.ndjson" --output "$work/d0.ndjson" --distance-m 0 2>"$work/err"
[[ $(pairs "$work/d0.ndjson") == "A-B " ]] || fail "--distance-m 0: expected only A-B, got $(pairs "$work/d0.ndjson")"
check "--distance-m 0: only the works that touch (A-B)"
"$DIGONCE_BIN" detect --input "$work/touch.ndjson" --output "$work/d25.ndjson" 2>"$work/err"
[[ $(pairs "$work/d25.ndjson") == "A-B A-C B-C " ]] || fail "default 25 m: got $(pairs "$work/d25.ndjson")"
check "default distance: A-B, A-C, B-C"

# highway_authorities is the contract's: the authorities whose area holds the location, not those
# the works name (TfL and the City's 5030 on two works in Westminster; a Manchester pair naming
# its own authority, outside the London boundaries: none). The works keep what they name.
cat >"$work/named.ndjson" <<'NDJSON'
{"work_ref":"A","promoter":"P1","highway_authority":"TFL","crs":"EPSG:27700","geometry":{"type":"Point","coordinates":[530000,180000]},"start":"2026-06-01","end":"2026-06-10"}
{"work_ref":"B","promoter":"P2","highway_authority":"5030","crs":"EPSG:27700","geometry":{"type":"Point","coordinates":[530010,180000]},"start":"2026-06-01","end":"2026-06-10"}
{"work_ref":"C","promoter":"P1","highway_authority":"4215","crs":"EPSG:27700","geometry":{"type":"Point","coordinates":[383000,398000]},"start":"2026-06-01","end":"2026-06-10"}
{"work_ref":"D","promoter":"P2","crs":"EPSG:27700","geometry":{"type":"Point","coordinates":[383010,398000]},"start":"2026-06-01","end":"2026-06-10"}
NDJSON
"$DIGONCE_BIN" detect --input "$work/named.ndjson" --output "$work/named.out" --no-progress 2>"$work/err"
got=$(jq -c '[([.works[].work_ref] | join("-")), .highway_authorities, [.works[].highway_authority]]' "$work/named.out" | sort | tr '\n' ' ')
[[ $got == '["A-B",["5990"],["TFL","5030"]] ["C-D",[],["4215",null]] ' ]] ||
  fail "highway_authorities: $got"
check "highway_authorities hold the areas holding the location only (A-B: 5990; C-D in Manchester: none); the works keep the authority they name"

for bad in -5 nan inf 1e9 abc; do
  if "$DIGONCE_BIN" detect --input "$work/touch.ndjson" --output "$work/x" --distance-m "$bad" 2>"$work/err"; then
    fail "--distance-m $bad was accepted"
  fi
  grep -q -- "--distance-m: must be a number of metres" "$work/err" || fail "--distance-m $bad: $(cat "$work/err")"
done
if "$DIGONCE_BIN" detect --input "$work/touch.ndjson" --output "$work/x" --collaboration-days -1 2>"$work/err"; then
  fail "--collaboration-days -1 was accepted"
fi
grep -q -- "--collaboration-days: must be a number of days" "$work/err" || fail "--collaboration-days -1: $(cat "$work/err")"
check "bad --distance-m and --collaboration-days are refused: $(head -1 "$work/err")"
# A gap of exactly 0.7 days under --collaboration-days 0.7 is a collaboration (gap <= window).
cat >"$work/window.ndjson" <<'NDJSON'
{"work_ref":"A","promoter":"P","geometry":{"type":"Point","coordinates":[530000,180000]},"crs":"EPSG:27700","start":"2026-05-20T00:00:00Z","end":"2026-06-01T00:00:00Z"}
{"work_ref":"B","promoter":"P","geometry":{"type":"Point","coordinates":[530010,180000]},"crs":"EPSG:27700","start":"2026-06-01T16:48:00Z","end":"2026-06-05T00:00:00Z"}
NDJSON
"$DIGONCE_BIN" detect --input "$work/window.ndjson" --output "$work/window.out" --collaboration-days 0.7 --no-progress 2>"$work/err"
[[ $(jq -r '.kind + " " + (.gap_days | tostring)' "$work/window.out") == "collaboration 0.7" ]] ||
  fail "--collaboration-days 0.7, gap 0.7 days: $(cat "$work/window.out")"
check "--collaboration-days 0.7 keeps a gap of exactly 0.7 days (a collaboration)"

# Empty values, a folder for --input, an output left as it was, and the config's values named.
echo keep >"$work/kept2.out"
refused() {  # refused PATTERN ARGS...: digonce ARGS must fail, saying PATTERN, --output intact
  local pattern=$1
  shift
  if "$DIGONCE_BIN" "$@" 2>"$work/err"; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$work/err" || fail "$*: expected '$pattern', got: $(cat "$work/err")"
  [[ $(cat "$work/kept2.out") == keep ]] || fail "$*: the output was touched"
}
refused "--crs: must not be empty" detect --input "$work/touch.ndjson" --output "$work/kept2.out" --crs ""
refused "--input $work: is a folder, not a file" detect --input "$work" --output "$work/kept2.out"
refused "--topic-prefix 'a b': a topic name takes only" --topic-prefix "a b" detect \
  --input "$work/touch.ndjson" --output "$work/kept2.out"
printf 'detection:\n  distance_m: 5e6\ntiles:\n  size_m: 2e7\n' >"$work/far.yaml"
refused "detection.distance_m from 0 to 1000000" --config "$work/far.yaml" detect \
  --input "$work/touch.ndjson" --output "$work/kept2.out"
printf 'topics:\n  prefix:\n' >"$work/null.yaml"
refused "prefix: has no value" --config "$work/null.yaml" detect \
  --input "$work/touch.ndjson" --output "$work/kept2.out"
refused "--metrics: must be HOST:PORT" ingest --brokers 127.0.0.1:1 --metrics bogus
check "empty options, a folder for --input, a bad topic prefix, a far distance and a key with no value in the config are refused, naming them; the output left as it was"

# A BOM before the first line; a huge number and a "kind" of another system in unknown fields.
{
  printf '\xef\xbb\xbf'
  echo '{"work_ref":"A","promoter":"P","external_id":123456789012345678901234567890,"kind":"permit","geometry":{"type":"Point","coordinates":[-0.1274,51.5073]},"start":"2027-03-05","end":"2027-03-20"}'
  echo '{"work_ref":"B","promoter":"P","meta":{"n":1e999},"geometry":{"type":"Point","coordinates":[-0.1273,51.5073]},"start":"2027-03-05","end":"2027-03-20"}'
} >"$work/edges.ndjson"
"$DIGONCE_BIN" detect --input "$work/edges.ndjson" --output "$work/edges.out" 2>"$work/err"
grep -q "rejected: 0 item" "$work/err" || fail "lines were rejected: $(cat "$work/err")"
grep -q "^note:" "$work/err" && fail "a repair note for valid geometries: $(cat "$work/err")"
[[ $(jq -r '.kind + " " + ([.works[].work_ref] | join("-"))' "$work/edges.out") == "clash A-B" ]] ||
  fail "expected one clash A-B: $(cat "$work/edges.out")"
check "BOM, a 30-digit number and 1e999 in unknown fields, kind \"permit\": nothing lost, one clash A-B"

# A self-crossing polygon (a bow tie) is taken as GEOS MakeValid repairs it, and its work named
# (not its line: each "line N:" on stderr is a line detect skipped).
cat >"$work/bowtie.ndjson" <<'NDJSON'
{"work_ref":"OK","promoter":"P","geometry":{"type":"Point","coordinates":[530000,180000]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"}
{"work_ref":"BOW","promoter":"P","geometry":{"type":"Polygon","coordinates":[[[530000,180000],[530010,180010],[530010,180000],[530000,180010],[530000,180000]]]},"crs":"EPSG:27700","start":"2027-03-05","end":"2027-03-20"}
NDJSON
"$DIGONCE_BIN" detect --input "$work/bowtie.ndjson" --output "$work/bowtie.out" 2>"$work/err"
grep -q '^note: work BOW: geometry is not valid (Self-intersection' "$work/err" ||
  fail "no note naming the repaired work: $(cat "$work/err")"
grep -q '^line ' "$work/err" && fail "a 'line N:' for a line that was not skipped: $(cat "$work/err")"
grep -q 'rejected: 0 item(s) on 0 line(s); geometries repaired: 1' "$work/err" ||
  fail "the summary does not count the repair: $(cat "$work/err")"
[[ $(pairs "$work/bowtie.out") == "BOW-OK " ]] || fail "the repaired work was not detected: $(cat "$work/bowtie.out")"
check "a self-crossing polygon: $(head -1 "$work/err" | cut -c1-90)..., detected as repaired"

# One JSON document over several lines is not NDJSON: each line is refused (exit 0, as bad
# lines are skipped), and the summary adds a note saying what the input must be.
jq -s '{type: "FeatureCollection", features: [.[] | {type: "Feature", geometry,
  properties: (del(.geometry))}]}' "$work/touch.ndjson" >"$work/pretty.json"
"$DIGONCE_BIN" detect --input "$work/pretty.json" --output "$work/pretty.out" 2>"$work/err" ||
  fail "detect on a pretty-printed document did not exit 0: $(tail -n 3 "$work/err")"
grep -q "note: no line held a work; the input must be NDJSON" "$work/err" ||
  fail "no note for an input of one document over several lines: $(tail -n 3 "$work/err")"
"$DIGONCE_BIN" detect --input "$work/touch.ndjson" --output "$work/x" 2>"$work/err"
grep -q "no line held a work" "$work/err" && fail "the note for a good input: $(cat "$work/err")"
check "one document over several lines: every line refused, and a note says NDJSON"

# A kept --data-dir: the next run goes on from it (A and B in one run, C in the next: C's pairs
# with both), and refuses another metric CRS, whose metres and cells are not the store's.
head -2 "$work/touch.ndjson" >"$work/ab.ndjson"
tail -1 "$work/touch.ndjson" >"$work/c.ndjson"
"$DIGONCE_BIN" detect --input "$work/ab.ndjson" --output "$work/ab.out" --data-dir "$work/dd" 2>"$work/err"
"$DIGONCE_BIN" detect --input "$work/c.ndjson" --output "$work/c.out" --data-dir "$work/dd" 2>"$work/err"
[[ $(pairs "$work/c.out") == "A-C B-C " ]] || fail "a kept store: expected A-C B-C, got $(pairs "$work/c.out")"
echo keep >"$work/kept.out"
if "$DIGONCE_BIN" detect --input "$work/c.ndjson" --output "$work/kept.out" --data-dir "$work/dd" --crs EPSG:32630 2>"$work/err"; then
  fail "a kept store measured in EPSG:27700 was used with --crs EPSG:32630"
fi
grep -q "the store holds works measured in EPSG:27700, and this detector measures in EPSG:32630" "$work/err" || fail "--crs EPSG:32630 on a kept store: $(cat "$work/err")"
[[ $(cat "$work/kept.out") == keep ]] || fail "a refused run emptied its --output"
check "a kept --data-dir goes on (A-C B-C); another --crs is refused, the output left as it was: $(cut -c1-90 "$work/err")"
# The output is never the input (it would be emptied before it is read).
cp "$work/touch.ndjson" "$work/same.ndjson"
if "$DIGONCE_BIN" detect --input "$work/same.ndjson" --output "$work/./same.ndjson" 2>"$work/err"; then
  fail "--output onto the input was accepted"
fi
cmp -s "$work/same.ndjson" "$work/touch.ndjson" || fail "--output onto the input changed the input"
check "--output onto the input is refused, the input intact: $(cut -c1-80 "$work/err")"
if "$DIGONCE_BIN" detect --input - --output "$work/same.ndjson" <"$work/same.ndjson" 2>"$work/err"; then
  fail "--output onto the file standard input reads was accepted"
fi
cmp -s "$work/same.ndjson" "$work/touch.ndjson" || fail "--output onto standard input's file changed it"
check "--output onto the file on standard input is refused too"
# A refused --crs leaves a fresh --data-dir unmarked: the next run, with the right one, goes on.
if "$DIGONCE_BIN" detect --input "$work/ab.ndjson" --output "$work/x" --data-dir "$work/dd2" --crs EPSG:4326 2>"$work/err"; then
  fail "--crs EPSG:4326 (degrees) was accepted"
fi
"$DIGONCE_BIN" detect --input "$work/ab.ndjson" --output "$work/ab2.out" --data-dir "$work/dd2" 2>"$work/err" ||
  fail "a fresh --data-dir after a refused --crs: $(cat "$work/err")"
[[ $(pairs "$work/ab2.out") == "A-B " ]] || fail "after a refused --crs: expected A-B, got $(pairs "$work/ab2.out")"
check "a refused --crs does not mark a fresh --data-dir"

# A mistyped command is named, with the commands there are (CLI11 said only "A subcommand is
# required").
rc=0
"$DIGONCE_BIN" detcet --input x 2>"$work/err" || rc=$?
[[ $rc != 0 ]] && grep -q 'unknown command "detcet"; the commands are serve, .*detect' "$work/err" ||
  fail "a mistyped command: exit $rc: $(cat "$work/err")"
check "a mistyped command is named: $(head -c 60 "$work/err")..."
rc=0
"$DIGONCE_BIN" --bogus 2>"$work/err" || rc=$?
[[ $rc != 0 ]] && grep -q 'unknown option "--bogus"; the commands are' "$work/err" ||
  fail "an unknown option before the command: exit $rc: $(cat "$work/err")"
check "an unknown option before the command is called an option"

# The heap on huge pages (base/huge_pages.h): where the kernel gives them on request, digonce
# starts itself again asking for them (its heap's mapping is flagged "hg"), keeping its name,
# unless DIGONCE_HUGE_PAGES=0; either way the run's output is the same. Started through ld.so
# (or valgrind, where there is one) it does not start again, as that would run the loader.
heap_flags() { # env... : the VmFlags of the [heap] mapping of a detect run waiting for input, and its name
  rm -f "$work/fifo"
  mkfifo "$work/fifo"
  env "$@" "${hp_bin:-$DIGONCE_BIN}" detect --input "$work/fifo" --output "$work/hp.out" --no-progress 2>/dev/null &
  local pid=$! flags=""
  # The process has a heap before its restart too (unflagged): give the restart, a few
  # milliseconds from the start, time to happen before the first look.
  sleep 0.3
  for _ in $(seq 50); do # the heap's first growth
    flags=$(awk '/\[heap\]/ { h = 1 } h && /^VmFlags:/ { print; exit }' "/proc/$pid/smaps" 2>/dev/null || true)
    [[ -n $flags ]] && break
    sleep 0.1
  done
  local name
  name=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  cat "$work/touch.ndjson" >"$work/fifo"
  wait "$pid" || fail "detect with $*: exit $?"
  [[ $(pairs "$work/hp.out") == "A-B A-C B-C " ]] || fail "detect with $*: got $(pairs "$work/hp.out")"
  echo "$flags name=$name"
}
if grep -q '\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
  asked=$(heap_flags DIGONCE_X=1)
  [[ $asked == *" hg"* ]] || fail "the heap was not marked for huge pages"
  own_name=$(basename "$DIGONCE_BIN" | cut -c1-15)
  [[ $asked == *" name=$own_name" ]] || fail "started again, the process is not named $own_name: $asked"
  # Through a link of another name, the process keeps the link's name, as the kernel gave it.
  mkdir -p "$work/bin"
  ln -s "$(readlink -f "$DIGONCE_BIN")" "$work/bin/dg-link"
  linked=$(hp_bin="$work/bin/dg-link" heap_flags DIGONCE_X=1)
  [[ $linked == *" hg"*" name=dg-link" ]] || fail "started through a link, the process is not named dg-link: $linked"
  [[ $(heap_flags DIGONCE_HUGE_PAGES=0) != *" hg"* ]] ||
    fail "DIGONCE_HUGE_PAGES=0: the heap was marked for huge pages"
  [[ $(heap_flags GLIBC_TUNABLES=glibc.malloc.hugetlb=0) != *" hg"* ]] ||
    fail "GLIBC_TUNABLES=glibc.malloc.hugetlb=0 was overridden"
  check "the heap asks for huge pages (the process still named ${asked##* name=}, or ${linked##* name=} through a link), unless DIGONCE_HUGE_PAGES=0 or the operator's GLIBC_TUNABLES says otherwise"
  loader=$(readlink -f /lib64/ld-linux-x86-64.so.2 2>/dev/null || true)
  if [[ -x $loader ]]; then
    out=$("$loader" "$DIGONCE_BIN" --version 2>&1) || fail "digonce through ld.so: exit $?: $out"
    [[ $out == digonce* ]] || fail "digonce through ld.so ran something else: $out"
    check "started through ld.so, digonce runs itself, not the loader: $out"
  fi
  if command -v valgrind >/dev/null; then
    out=$(valgrind -q "$DIGONCE_BIN" --version 2>&1) || fail "digonce under valgrind: exit $?: $out"
    [[ $out == digonce* ]] || fail "digonce under valgrind ran something else: $out"
    check "under valgrind, digonce runs itself: $out"
  fi
else
  check "huge pages: the kernel's mode is not madvise here, nothing to check"
fi
