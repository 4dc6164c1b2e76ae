#!/usr/bin/env bash
# The HTTP API on a real broker (the e2e tests run it inside `serve` on the embedded broker, which
# has no transactions):
#
#   gateway_test.sh [gateway]  `digonce gateway` as a process of its own beside `digonce ingest`
#                              and `digonce detector` (the production layout)
#   gateway_test.sh serve      `digonce serve --brokers`: everything in one process
#
# Two works posted over HTTP give one open clash at GET /v1/alerts (read_committed, from the
# ledger's transactions); a DELETE closes it (revision 2). gateway: a work posted while ingest is
# killed is accepted and its clash appears once ingest is back, one posted and deleted then
# (before the live view can show it) is cancelled, not refused, and one cancelled through import
# then is 404 once the view has it; a gateway killed with SIGKILL
# comes back with the same views, read from the topics. serve: killed with SIGKILL and started
# again on its data folder, it has the same views and alerts a work posted then. SIGTERM stops
# every process with exit 0. Needs curl and jq.
#
#   DIGONCE_BIN=build/bin/digonce DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) \
#     tests/integration/gateway_test.sh [serve]
mode="${1:-gateway}"
[[ $mode == gateway || $mode == serve ]] || { echo "usage: gateway_test.sh [gateway|serve]" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$mode"
keys="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/config/dev-api-keys.yaml"

# start_gateway LOG: a gateway (or serve, with its data folder) on a free port; sets url once
# /healthz is 200 (both views read and, under serve, the stages' partitions assigned).
start_gateway() {
  local log="$1"
  if [[ $mode == serve ]]; then
    start_stage "$log" serve --brokers "$brokers" --http 127.0.0.1:0 --api-keys "$keys" \
      --data-dir "$work/serve"
  else
    start_stage "$log" gateway --brokers "$brokers" --http 127.0.0.1:0 --api-keys "$keys"
  fi
  gateway_pid=${pids[-1]}
  url=""
  for _ in $(seq 1 300); do
    kill -0 "$gateway_pid" 2>/dev/null || fail "the $mode process exited during start-up"
    [[ -n "$url" ]] || url=$(grep -o 'HTTP API at http://[0-9.:]*' "$work/$log.log" | sed 's/HTTP API at //' || true)
    if [[ -n "$url" && $(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true) == 200 ]]; then
      return 0
    fi
    sleep 0.1
  done
  fail "the $mode process was not healthy within 30 s"
}
# api METHOD PATH KEY [BODY]: prints the body, then the status code on the last line.
api() {
  local args=(-s -X "$1" -w '\n%{http_code}' -H "Authorization: Bearer $3")
  [[ -n "${4-}" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
  curl "${args[@]}" "$url$2" || echo 000
}
# kill9 PID: SIGKILL, and the process is no longer one stop_stages stops.
kill9() {
  local keep=() p
  kill -KILL "$1"
  wait "$1" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
  pids=("${keep[@]}")
}
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
# want_status CODE WHAT: the last api answer ($r) must have status CODE.
want_status() {
  [[ $(status_of "$r") == "$1" ]] || fail "$2: expected $1, got $(status_of "$r"): $(body_of "$r")"
}
# until_alerts QUERY JQ WHAT: polls GET /v1/alerts?QUERY (ops key) until JQ holds, 60 s at most.
until_alerts() {
  local body
  for _ in $(seq 1 600); do
    body=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$url/v1/alerts?$1" || true)
    jq -e "$2" >/dev/null 2>&1 <<<"$body" && return 0
    sleep 0.1
  done
  fail "$3 not seen at GET /v1/alerts?$1 within 60 s: $body"
}
line() {  # line REF PROMOTER DX: a 110 m line in Whitehall, DX degrees east of the first
  printf '{"work_ref":"%s","promoter":"%s","geometry":{"type":"LineString","coordinates":[[%s,51.50300],[%s,51.50400]]},"start":"2027-03-16","end":"2027-03-20"}' \
    "$1" "$2" "$(awk -v d="$3" 'BEGIN { printf "%.5f", -0.12700 + d }')" \
    "$(awk -v d="$3" 'BEGIN { printf "%.5f", -0.12650 + d }')"
}
point() {  # point REF PROMOTER LON LAT: a point work at the same dates
  printf '{"work_ref":"%s","promoter":"%s","geometry":{"type":"Point","coordinates":[%s,%s]},"start":"2027-03-16","end":"2027-03-20"}' \
    "$1" "$2" "$3" "$4"
}

d topics --brokers "$brokers" >"$work/topics.log" 2>&1 || fail "topics: $(cat "$work/topics.log")"
if [[ $mode == gateway ]]; then
  start_stage ingest ingest --brokers "$brokers" --data-dir "$work/ingest" --metrics ''
  ingest_pid=${pids[-1]}
  probes=$(free_port)
  start_stage detector detector --brokers "$brokers" --data-dir "$work/detector" \
    --metrics "127.0.0.1:$probes"
  start_gateway gateway
  echo "ok: ingest, detector and a gateway at $url on $brokers"
  # The detector's probes on its metrics port: ready once both its loops are in their groups
  # with their partitions restored; alive throughout.
  ready=""
  for _ in $(seq 1 300); do
    ready=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$probes/readyz" || true)
    [[ $(tail -n1 <<<"$ready") == 200 ]] && break
    sleep 0.1
  done
  [[ $(tail -n1 <<<"$ready") == 200 ]] || fail "the detector's /readyz: $ready"
  jq -e '.status == "ok" and ([.loops[].name] == ["detector", "ledger"]) and
         all(.loops[]; .joined and .clients_up and .restoring == 0 and .assigned > 0)' \
    <<<"$(sed '$d' <<<"$ready")" >/dev/null || fail "the detector's /readyz body: $ready"
  live=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$probes/healthz" || true)
  [[ $(tail -n1 <<<"$live") == 200 ]] || fail "the detector's /healthz: $live"
  echo "ok: the detector's /readyz and /healthz are 200, naming its detector and ledger loops"
else
  start_gateway serve
  echo "ok: serve at $url on $brokers"
fi

r=$(api POST /v1/works dev-stpr-key "$(line GW-A STPR 0)")
want_status 202 "work A"
r=$(api POST /v1/works dev-tfl-key "$(line GW-B TFL 0.00003)")
want_status 202 "work B"
posted=$(date +%s%N)
until_alerts state=open '[.alerts[] | select(.kind == "clash" and .revision == 1 and
  ([.works[].work_ref] == ["GW-A", "GW-B"]))] | length == 1' "the clash of GW-A and GW-B"
echo "ok: the clash of two works posted over HTTP at GET /v1/alerts after $(( ($(date +%s%N) - posted) / 1000000 )) ms"
r=$(api GET "/v1/works?bbox=-0.13,51.50,-0.12,51.51" dev-ops-key)
[[ $(status_of "$r") == 200 ]] && body_of "$r" | jq -e '[.works[].work_ref] == ["GW-A", "GW-B"]' >/dev/null ||
  fail "GET /v1/works: expected GW-A and GW-B, got $(status_of "$r"): $(body_of "$r")"
echo "ok: both works at GET /v1/works?bbox"

r=$(api DELETE /v1/works/GW-B dev-tfl-key)
want_status 202 "DELETE GW-B"
until_alerts state=closed '[.alerts[] | select(.state == "closed" and .revision == 2)] | length == 1' \
  "the clash closed (revision 2)"
until_alerts state=open '.alerts | length == 0' "no open alert"
echo "ok: DELETE of GW-B closed the clash (revision 2)"

if [[ $mode == gateway ]]; then
  # While ingest is down the gateway still accepts works (they wait in works.submitted).
  kill9 "$ingest_pid"
  r=$(api POST /v1/works dev-tfl-key "$(point GW-C TFL -0.12701 51.50301)")
  want_status 202 "work C with ingest down"
  # Not live yet: a read of it says it was accepted, with Retry-After, not that it does not exist.
  h=$(curl -s -D - -o "$work/get-c.json" -H 'Authorization: Bearer dev-tfl-key' "$url/v1/works/GW-C" || true)
  grep -q '^HTTP/1.1 404' <<<"$h" && grep -qi '^retry-after: 1' <<<"$h" &&
    jq -e '.error | test("was accepted and is not live yet")' "$work/get-c.json" >/dev/null ||
    fail "GET of GW-C before the view shows it: $h $(cat "$work/get-c.json")"
  r=$(api GET /v1/works/GW-C dev-stpr-key)
  body_of "$r" | jq -e '.error == "no live work GW-C"' >/dev/null ||
    fail "another promoter's GET of GW-C told more than 'no live work': $(body_of "$r")"
  # Nor may another promoter take the reference over while the view does not show it yet.
  r=$(api POST /v1/works dev-stpr-key "$(point GW-C STPR -0.12701 51.50301)")
  [[ $(status_of "$r") == 403 ]] && body_of "$r" | jq -e '.field == "work_ref"' >/dev/null ||
    fail "STPR posting TFL's just-taken GW-C: expected 403 naming work_ref, got $(status_of "$r"): $(body_of "$r")"
  # A work posted and cancelled before the view can show it (ingest is down): the gateway
  # remembers what it took, so the DELETE cancels it (202) rather than answering 404. (GW-D is
  # at GW-A's north end, GW-C at its south end, 116 m apart: a clash of theirs would open or not
  # depending on which of the two works' partitions ingest reads first.)
  r=$(api POST /v1/works dev-tfl-key "$(point GW-D TFL -0.12651 51.50399)")
  want_status 202 "work D with ingest down"
  r=$(api DELETE /v1/works/GW-D dev-stpr-key)
  want_status 404 "DELETE of TFL's GW-D with STPR's key"
  r=$(api DELETE /v1/works/GW-D dev-tfl-key)
  want_status 202 "DELETE of GW-D before the view shows it"
  r=$(api DELETE /v1/works/GW-D dev-tfl-key)
  want_status 404 "a second DELETE of GW-D"
  # A work taken here and cancelled by another path (a record straight into works.submitted, as
  # import or the Street Manager feed write): once the view shows what ingest made of it, the
  # gateway no longer takes it for one not shown yet (it would for a minute otherwise).
  r=$(api POST /v1/works dev-tfl-key "$(point GW-E TFL -0.12000 51.51000)")
  want_status 202 "work E with ingest down"
  echo '{"work_ref":"GW-E","promoter":"TFL","event":"cancel"}' >"$work/cancel-e.ndjson"
  d import --brokers "$brokers" --input "$work/cancel-e.ndjson" --no-progress 2>"$work/import-e.log" ||
    fail "import of GW-E's cancel: $(cat "$work/import-e.log")"
  start_stage ingest ingest --brokers "$brokers" --data-dir "$work/ingest" --metrics ''
  until_alerts state=open '[.alerts[] | select([.works[].work_ref] == ["GW-A", "GW-C"])] | length == 1' \
    "the clash of GW-A and GW-C"
  for _ in $(seq 1 300); do
    r=$(api GET /v1/works/GW-E dev-tfl-key)
    body_of "$r" | jq -e '.error == "no live work GW-E"' >/dev/null && break
    sleep 0.1
  done
  body_of "$r" | jq -e '.error == "no live work GW-E"' >/dev/null ||
    fail "GW-E, cancelled through import, is still taken for pending after 30 s: $(body_of "$r")"
  r=$(api DELETE /v1/works/GW-E dev-tfl-key)
  want_status 404 "DELETE of GW-E, cancelled through import"
  # Its clash with GW-A opened and closed: ingest applies the work, then its cancel.
  until_alerts state=all '[.alerts[] | select(([.works[].work_ref] == ["GW-A", "GW-D"]) and
    .state == "closed" and .revision == 2)] | length == 1' "the clash of GW-A and GW-D closed"
  until_alerts state=open '[.alerts[] | select(.works[].work_ref == "GW-D")] | length == 0' \
    "no open alert of GW-D"
  r=$(api GET /v1/works/GW-D dev-ops-key)
  [[ $(status_of "$r") == 404 ]] || fail "GW-D, cancelled, is live: $(body_of "$r")"
  echo "ok: works posted while ingest was killed were accepted (202; a GET said 'accepted, not live yet')" \
    "and alerted once ingest was back;" \
    "one cancelled by DELETE before the view showed it (202) is not live and in no open alert;" \
    "one cancelled through import is forgotten once the view shows it (404)"
fi

# Killed with SIGKILL: the next one reads the same views from the topics (serve: and its stages
# restore their state, from the checkpoint-less data folder and the changelogs).
kill9 "$gateway_pid"
start_gateway "${mode}2"
if [[ $mode == serve ]]; then
  r=$(api POST /v1/works dev-tfl-key "$(point GW-C TFL -0.12701 51.50301)")
  want_status 202 "work C after the restart"
  until_alerts state=open '[.alerts[] | select([.works[].work_ref] == ["GW-A", "GW-C"])] | length == 1' \
    "the clash of GW-A and GW-C"
  echo "ok: serve killed with SIGKILL and started again: a work posted then clashes with one from before"
fi
r=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$url/v1/alerts?state=all" || true)
want='["GW-A+GW-B closed 2", "GW-A+GW-C open 1"]'
[[ $mode == gateway ]] && want='["GW-A+GW-B closed 2", "GW-A+GW-C open 1", "GW-A+GW-D closed 2"]'
jq -e --argjson want "$want" '[.alerts[] | "\([.works[].work_ref] | join("+")) \(.state) \(.revision)"] |
  sort == $want' >/dev/null <<<"$r" || fail "the restarted $mode process's alerts differ: $r"
r=$(api GET /v1/works dev-ops-key)
body_of "$r" | jq -e '[.works[].work_ref] == ["GW-A", "GW-C"]' >/dev/null ||
  fail "the restarted gateway's works differ: $(body_of "$r")"
r=$(api DELETE /v1/works/GW-B dev-tfl-key)
want_status 404 "DELETE of the cancelled GW-B"
echo "ok: the $mode process restarted after SIGKILL has the same alerts and works"

# (Read whole first: with pipefail, grep -q leaving at its match could fail curl's write, SIGPIPE.)
metrics=$(curl -s "$url/metrics")
grep -q '^digonce_gateway_requests_total{code="404",route="work"} 1$' <<<"$metrics" ||
  fail "the gateway's /metrics does not count the DELETE answered 404: $(grep requests_total <<<"$metrics")"
stop_stages
echo "ok: SIGTERM stopped every process, each with exit 0"
