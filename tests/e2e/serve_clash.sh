#!/usr/bin/env bash
# End to end through `digonce serve` (embedded broker): two clashing works posted over HTTP give
# exactly one open clash alert at GET /v1/alerts; the API refuses what it must (401, 400, 403);
# a FeatureCollection goes as a record per work (a later correction holds); a second serve on
# the same data folder is refused; SIGTERM stops the server cleanly. Needs curl and jq.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_clash.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Port 0: the server takes a free port and prints its URL, so parallel runs do not collide.
start_serve --log-level info
check "server up at $base, /healthz: $(curl -s "$base/healthz")"

# request METHOD PATH KEY [BODY]: prints the body, then the status code on the last line.
request() {
  local method=$1 path=$2 key=$3 body=${4-}
  local args=(-s -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json')
  [[ -n "$key" ]] && args+=(-H "Authorization: Bearer $key")
  [[ -n "$body" ]] && args+=(--data-binary "$body")
  curl "${args[@]}" "$base$path" || echo "000"
}
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }

# Two lines a couple of metres apart in Westminster (EPSG:4326), overlapping in time.
work_a='{"work_ref":"E2E-A-1","promoter":"STPR","geometry":{"type":"LineString","coordinates":[[-0.12700,51.50300],[-0.12650,51.50400]]},"start":"2026-03-16","end":"2026-03-20","street_name":"Whitehall"}'
work_b='{"work_ref":"E2E-B-1","promoter":"TFL","geometry":{"type":"LineString","coordinates":[[-0.12697,51.50302],[-0.12647,51.50402]]},"start":"2026-03-18T07:00:00Z","end":"2026-03-25T18:00:00Z"}'

# 401: no key, unknown key.
r=$(request POST /v1/works "" "$work_a")
[[ $(status_of "$r") == 401 ]] || fail "POST without a key: expected 401, got $(status_of "$r"): $(body_of "$r")"
body_of "$r" | jq -e '.error | length > 0' >/dev/null || fail "401 without a JSON error"
check "POST /v1/works without a key -> 401 $(body_of "$r")"
r=$(request GET /v1/alerts "not-a-key-at-all")
[[ $(status_of "$r") == 401 ]] || fail "GET with an unknown key: expected 401, got $(status_of "$r")"
check "GET /v1/alerts with an unknown key -> 401"
# Two Authorization headers: which counts is not defined (a proxy may read the other): 400,
# whichever comes first.
for pair in "dev-ops-key not-a-key" "not-a-key dev-ops-key"; do
  set -- $pair
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H "Authorization: Bearer $2" "$base/v1/works")
  [[ $code == 400 ]] || fail "two Authorization headers ($1 first): expected 400, got $code"
done
# A path that can name no work: 400 naming work_ref, on GET as on DELETE.
for ref in "" "bad%20ref"; do
  r=$(request GET "/v1/works/$ref" dev-ops-key)
  [[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == work_ref ]] ||
    fail "GET /v1/works/$ref: expected 400 naming work_ref, got $(status_of "$r"): $(body_of "$r")"
done
check "two Authorization headers -> 400; GET of a work_ref no work can have -> 400"

# 400: a work without its start, named in the answer.
bad='{"work_ref":"E2E-BAD","promoter":"STPR","geometry":{"type":"Point","coordinates":[-0.127,51.503]},"end":"2026-03-20"}'
r=$(request POST /v1/works dev-stpr-key "$bad")
[[ $(status_of "$r") == 400 ]] || fail "bad body: expected 400, got $(status_of "$r"): $(body_of "$r")"
[[ $(body_of "$r" | jq -r .field) == start ]] || fail "400 does not name the field 'start': $(body_of "$r")"
check "POST /v1/works without start -> 400 $(body_of "$r")"

# 400 from the geometry checks (a point in Sydney is outside EPSG:27700's area) has errors too.
r=$(request POST /v1/works dev-stpr-key '{"work_ref":"E2E-X-1","promoter":"STPR","geometry":{"type":"Point","coordinates":[151.2,-33.9]},"start":"2026-03-16","end":"2026-03-20"}')
[[ $(status_of "$r") == 400 ]] || fail "a point in Sydney: expected 400, got $(status_of "$r"): $(body_of "$r")"
body_of "$r" | jq -e '.field == "geometry" and (.errors | length) == 1 and .errors[0].field == "geometry"' >/dev/null ||
  fail "a point in Sydney: the 400 lacks field and errors: $(body_of "$r")"
check "POST of a point outside the metric CRS's area -> 400 with errors $(body_of "$r" | cut -c1-120)"

# 403: STPR's key submitting TFL's work.
r=$(request POST /v1/works dev-stpr-key "$work_b")
[[ $(status_of "$r") == 403 ]] || fail "other promoter's work: expected 403, got $(status_of "$r"): $(body_of "$r")"
check "POST of TFL's work with STPR's key -> 403 $(body_of "$r")"

# 403: a promoter key setting a Section 58 restriction (only the highway authority sets one).
r=$(request POST /v1/works dev-stpr-key '{"work_ref":"E2E-S58","promoter":"STPR","kind":"section58","geometry":{"type":"Point","coordinates":[-0.1273,51.5073]},"start":"2026-01-01","end":"2026-12-31"}')
[[ $(status_of "$r") == 403 && $(body_of "$r" | jq -r .field) == kind ]] ||
  fail "a promoter's Section 58: expected 403 naming kind, got $(status_of "$r"): $(body_of "$r")"
check "POST of a Section 58 restriction with STPR's key -> 403 $(body_of "$r" | cut -c1-100)"

# The two clashing works, each with its promoter's key.
r=$(request POST /v1/works dev-stpr-key "$work_a")
[[ $(status_of "$r") == 202 ]] || fail "work A: expected 202, got $(status_of "$r"): $(body_of "$r")"
body_of "$r" | jq -e '.work_ref == "E2E-A-1" and .status == "accepted" and (.partition|type) == "number" and (.offset|type) == "number"' >/dev/null ||
  fail "work A: unexpected answer $(body_of "$r")"
check "POST work A -> 202 $(body_of "$r")"
r=$(request POST /v1/works dev-tfl-key "$work_b")
[[ $(status_of "$r") == 202 ]] || fail "work B: expected 202, got $(status_of "$r"): $(body_of "$r")"
posted=$(date +%s%N)
check "POST work B -> 202 $(body_of "$r")"

# The clash alert, within 10 s (the service aims at 1 s).
alerts=""
found=0
for _ in $(seq 1 200); do
  kill -0 "$pid" 2>/dev/null || fail "digonce serve exited while the alert was awaited"
  alerts=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/alerts?state=open" || true)
  if jq -e '[.alerts[] | select(.kind == "clash")] | length >= 1' >/dev/null <<<"$alerts"; then
    found=1
    break
  fi
  sleep 0.05
done
elapsed_ms=$(( ($(date +%s%N) - posted) / 1000000 ))
[[ $found == 1 ]] || fail "no open clash alert within 10 s: $alerts"
jq -e '[.alerts[] | select(.kind == "clash")] | length == 1' >/dev/null <<<"$alerts" ||
  fail "expected exactly one clash alert: $alerts"
jq -e '[.alerts[] | select(.kind == "clash")][0] | [.works[].work_ref] == ["E2E-A-1", "E2E-B-1"] and (.state == "open" or .state == "updated")' \
  >/dev/null <<<"$alerts" || fail "the clash alert does not name both works: $alerts"
check "one open clash alert for E2E-A-1 and E2E-B-1, ${elapsed_ms} ms after the second POST: $(jq -c '.alerts[0] | {alert_id, kind, state, distance_m, highway_authorities}' <<<"$alerts")"

# Promoters see the alert about their work; the live works view holds both works.
for key in dev-stpr-key dev-tfl-key; do
  n=$(curl -s -H "Authorization: Bearer $key" "$base/v1/alerts?state=open" | jq '[.alerts[] | select(.kind == "clash")] | length')
  [[ $n == 1 ]] || fail "$key sees $n clash alerts, expected 1"
done
check "both promoters see the alert"
works=""
for _ in $(seq 1 100); do
  works=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/works?bbox=-0.13,51.50,-0.12,51.51&from=2026-03-01&to=2026-03-31" || true)
  jq -e '[.works[].work_ref] == ["E2E-A-1", "E2E-B-1"]' >/dev/null <<<"$works" && break
  sleep 0.1
done
jq -e '[.works[].work_ref] == ["E2E-A-1", "E2E-B-1"]' >/dev/null <<<"$works" || fail "GET /v1/works: $works"
check "GET /v1/works?bbox=... lists both works"
# The contract's own query template leaves the dates empty: they bound nothing.
blank=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/works?bbox=-0.13,51.50,-0.12,51.51&from=&to=")
jq -e '[.works[].work_ref] == ["E2E-A-1", "E2E-B-1"]' >/dev/null <<<"$blank" || fail "GET /v1/works?...&from=&to=: $blank"
check "GET /v1/works?bbox=...&from=&to= (the contract's template, dates left empty) lists both works"
jq -e 'all(.works[]; .highway_authority == "5990" and .highway_authority_derived == true)' >/dev/null <<<"$works" ||
  fail "GET /v1/works: the derived highway_authority 5990 is missing: $works"
jq -e '.works[0].geometry.coordinates == [[-0.127, 51.503], [-0.1265, 51.504]]' >/dev/null <<<"$works" ||
  fail "GET /v1/works: work A's EPSG:4326 geometry is not as sent: $works"
check "the works carry the highway_authority derived from their location (5990), and their geometry as sent"
# A page at a time: limit, then after = the page's next; the last page has no next.
r=$(request GET "/v1/works?limit=1" dev-ops-key)
body_of "$r" | jq -e '[.works[].work_ref] == ["E2E-A-1"] and .next == "E2E-A-1"' >/dev/null ||
  fail "GET /v1/works?limit=1: $(body_of "$r")"
r=$(request GET "/v1/works?limit=1&after=E2E-A-1" dev-ops-key)
body_of "$r" | jq -e '[.works[].work_ref] == ["E2E-B-1"] and (has("next") | not)' >/dev/null ||
  fail "GET /v1/works?limit=1&after=E2E-A-1: $(body_of "$r")"
r=$(request GET "/v1/alerts?state=open&limit=1" dev-ops-key)
body_of "$r" | jq -e '(.alerts | length) == 1 and (has("next") | not)' >/dev/null ||
  fail "GET /v1/alerts?limit=1 (one alert): $(body_of "$r")"
r=$(request GET "/v1/alerts?limit=0" dev-ops-key)
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == limit ]] || fail "limit=0: $r"
r=$(request GET "/v1/works?bbox=-1,51,1,52&bbox=0,0,0,0" dev-ops-key)
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == bbox ]] || fail "bbox twice: $r"
check "paging: limit=1 gives E2E-A-1 and next, after=next the last page; limit=0 and a filter given twice -> 400"
# TFL may not take over or cancel STPR's live work by posting under its work_ref.
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-A-1","promoter":"TFL","event":"cancel"}')
[[ $(status_of "$r") == 403 && $(body_of "$r" | jq -r .field) == work_ref ]] ||
  fail "TFL's cancel of STPR's work: expected 403 naming work_ref, got $(status_of "$r"): $(body_of "$r")"
r=$(request POST /v1/works dev-tfl-key "${work_b//E2E-B-1/E2E-A-1}")
[[ $(status_of "$r") == 403 ]] || fail "TFL's upsert of STPR's work: expected 403, got $(status_of "$r"): $(body_of "$r")"
check "TFL's key may not cancel or overwrite STPR's live work by POST -> 403 $(body_of "$r")"
# Westminster's authority key reads the alert and the works in its area; Camden's neither.
n=$(curl -s -H 'Authorization: Bearer dev-westminster-key' "$base/v1/alerts?state=open&authority=5990" | jq '.alerts | length')
[[ $n == 1 ]] || fail "Westminster's key sees $n alerts, expected 1"
n=$(curl -s -H 'Authorization: Bearer dev-westminster-key' "$base/v1/works" | jq '.works | length')
[[ $n == 2 ]] || fail "Westminster's key sees $n works, expected 2"
n=$(curl -s -H 'Authorization: Bearer dev-camden-key' "$base/v1/alerts" | jq '.alerts | length')
m=$(curl -s -H 'Authorization: Bearer dev-camden-key' "$base/v1/works" | jq '.works | length')
[[ $n == 0 && $m == 0 ]] || fail "Camden's key sees $n alerts and $m works in Westminster"
check "authority keys: Westminster reads the alert and both works, Camden neither"
r=$(request GET "/v1/works?bbox=1,2,3" dev-ops-key)
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == bbox ]] || fail "bad bbox: $r"
check "GET /v1/works with a bad bbox -> 400"
# Freshness once the stages run (the first alert above also waited for the stages to join their
# consumer groups): a third work next to A, and the time until its alert is served.
work_c='{"work_ref":"E2E-C-1","promoter":"TW","geometry":{"type":"Point","coordinates":[-0.12690,51.50310]},"start":"2026-03-19","end":"2026-03-19"}'
r=$(request POST /v1/works dev-thames-key "$work_c")
[[ $(status_of "$r") == 202 ]] || fail "work C: expected 202, got $(status_of "$r"): $(body_of "$r")"
posted=$(date +%s%N)
found=0
for _ in $(seq 1 1000); do
  alerts=$(curl -s -H 'Authorization: Bearer dev-thames-key' "$base/v1/alerts?state=open" || true)
  if jq -e '[.alerts[] | select(.kind == "clash" and any(.works[]; .work_ref == "E2E-C-1"))] | length >= 1' >/dev/null <<<"$alerts"; then
    found=1
    break
  fi
  sleep 0.01
done
elapsed_ms=$(( ($(date +%s%N) - posted) / 1000000 ))
[[ $found == 1 ]] || fail "no clash alert for E2E-C-1 within 10 s: $alerts"
check "steady state: the clash alert for E2E-C-1 served ${elapsed_ms} ms after its POST was acknowledged (target: 1000 ms)"
jq -e 'all(.alerts[]; any(.works[]; .promoter == "TW"))' >/dev/null <<<"$alerts" ||
  fail "TW's key sees an alert that does not involve TW: $alerts"
check "TW's key sees only the alerts that involve its work"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/metrics") == 200 ]] || fail "/metrics"
metrics=$(curl -s "$base/metrics")
grep -q '^digonce_gateway_requests_total{' <<<"$metrics" || fail "/metrics lacks the gateway's counters"
check "/metrics serves Prometheus text"
# A request that is not HTTP as it should be is answered 400 before the connection closes, and
# counted (route "unread"), as is a body over 8 MiB (413).
first=$(raw_exchange "$base" 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n' | head -n1)
[[ $first == "HTTP/1.1 400 Bad Request" ]] || fail "a malformed request: '$first', expected a 400"
head -c 9000000 /dev/zero | tr '\0' a >"$work/big.txt"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer dev-ops-key' --data-binary @"$work/big.txt" "$base/v1/works") == 413 ]] ||
  fail "a 9 MB body: not 413"
metrics=$(curl -s "$base/metrics")
grep -q '^digonce_gateway_requests_total{code="400",route="unread"} 1' <<<"$metrics" &&
  grep -q '^digonce_gateway_requests_total{code="413",route="unread"} 1' <<<"$metrics" ||
  fail "the 400 and 413 before routing are not counted: $(grep unread <<<"$metrics")"
check "a malformed request -> 400 before the close, a 9 MB body -> 413; both counted (route unread)"
# A refusal goes in its own request's version, not the one before it on the connection; a HEAD's
# has no body.
pair=$(raw_exchange "$base" 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n')
statuses() { grep -o 'HTTP/1\.[01] [0-9][0-9][0-9]' | tr '\n' '|'; }  # (a body ends with no newline)
[[ $(statuses <<<"$pair") == "HTTP/1.0 200|HTTP/1.1 400|" ]] ||
  fail "HTTP/1.0 then a malformed HTTP/1.1 request: $(head -c 400 <<<"$pair")"
pair=$(raw_exchange "$base" 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.0\r\nContent-Length: zz\r\n\r\n')
[[ $(statuses <<<"$pair") == "HTTP/1.1 200|HTTP/1.0 400|" ]] ||
  fail "HTTP/1.1 then a malformed HTTP/1.0 HEAD: $(head -c 400 <<<"$pair")"
[[ $pair != *'HTTP/1.0 400'*malformed* ]] || fail "a refused HEAD has a body: $(head -c 600 <<<"$pair")"
check "a malformed request is refused in its own HTTP version after another on the same connection; a HEAD's refusal has no body"
# A transfer coding other than chunked is not undone: 501 naming it, not "invalid JSON at byte 0";
# an HTTP/1.1 request without Host is 400 (RFC 9112); a bad escape in a parameter names it.
printf '{}' | gzip >"$work/te.gz"
answer=$(curl -s -w '\n%{http_code}' -H 'Authorization: Bearer dev-ops-key' -H 'Transfer-Encoding: gzip, chunked' \
  --data-binary @"$work/te.gz" "$base/v1/works")
[[ $(tail -n1 <<<"$answer") == 501 && $(head -n1 <<<"$answer" | jq -r .field) == Transfer-Encoding ]] ||
  fail "Transfer-Encoding: gzip, chunked: $answer"
nohost=$(raw_exchange "$base" 'GET /v1/areas HTTP/1.1\r\nAuthorization: Bearer dev-ops-key\r\nConnection: close\r\n\r\n')
[[ $(head -n1 <<<"$nohost") == "HTTP/1.1 400 Bad Request" && $(tail -n1 <<<"$nohost" | jq -r .field) == Host ]] ||
  fail "an HTTP/1.1 request without Host: $(head -c 300 <<<"$nohost")"
# ... refused on its headers: no 100 Continue, no wait for the body it announces.
early=$(raw_exchange "$base" 'POST /v1/works HTTP/1.1\r\nAuthorization: Bearer dev-ops-key\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n')
[[ $(head -n1 <<<"$early") == "HTTP/1.1 400 Bad Request" && $(tail -n1 <<<"$early" | jq -r .field) == Host ]] ||
  fail "a POST without Host announcing a body: $(head -c 300 <<<"$early")"
escape=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/works?bbox=%ZZ")
[[ $(jq -r .field <<<"$escape") == bbox ]] || fail "a bad escape in bbox: $escape"
check "Transfer-Encoding: gzip, chunked -> 501 naming it; no Host -> 400 naming it, before any body; bbox=%ZZ -> 400 naming bbox"
# A Transfer-Encoding that does not end in chunked leaves the body's length unknown: 400 and the
# connection closed, so that a request hidden in the body is never read as the next one.
smuggled=$(raw_exchange "$base" 'POST /v1/works HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-ops-key\r\nTransfer-Encoding: gzip\r\n\r\nGET /v1/areas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-ops-key\r\n\r\n')
[[ $(grep -c '^HTTP/1.1 ' <<<"$smuggled") == 1 && $(head -n1 <<<"$smuggled") == "HTTP/1.1 400 Bad Request" ]] ||
  fail "Transfer-Encoding: gzip: $(head -c 400 <<<"$smuggled")"
check "Transfer-Encoding: gzip (not ending in chunked) -> 400 and the connection closed: the request behind it is not answered"

# A gzipped body is refused as such (415, naming Content-Encoding, with Accept-Encoding), not as
# bad JSON, also behind a first "identity" header; only once the key is taken (401 before). A
# target in absolute form (as a proxy sends it) reaches its route.
printf '{}' | gzip >"$work/body.gz"
answer=$(curl -s -D "$work/415.headers" -w '\n%{http_code}' -H 'Authorization: Bearer dev-ops-key' \
  -H 'Content-Encoding: identity' -H 'Content-Encoding: gzip' --data-binary @"$work/body.gz" "$base/v1/works")
[[ $(tail -n1 <<<"$answer") == 415 ]] || fail "a gzipped body: not 415: $answer"
[[ $(head -n1 <<<"$answer" | jq -r .field) == Content-Encoding ]] || fail "415 names no field: $answer"
grep -qi '^Accept-Encoding: identity' "$work/415.headers" || fail "415 without Accept-Encoding"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Encoding: gzip' --data-binary @"$work/body.gz" \
  "$base/v1/works") == 401 ]] || fail "a gzipped body without a key: not 401"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer dev-ops-key' \
  --request-target "$base/v1/alerts?limit=1" "$base/") == 200 ]] || fail "absolute-form target: not 200"
check "a gzipped body -> 415 (field Content-Encoding); an absolute-form target -> its route"

# A FeatureCollection goes as a record per work, each keyed by its own work_ref: a later
# submission of one of its works is not undone by it. (Under the first work_ref, ingest had to
# forward the others, and a forwarded copy landed after the later submission and undid it: 51 of
# 60 such pairs in a review.) An empty FeatureCollection is refused.
fc_point() { # REF DAY: a point in Westminster on 2027-01-DAY
  echo '{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1300,51.5000]},"properties":{"work_ref":"'"$1"'","promoter":"TFL","start":"2027-01-'"$2"'","end":"2027-01-'"$2"'"}}'
}
for i in 1 2 3 4 5 6 7 8; do
  r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":['"$(fc_point "E2E-FA-$i" 05),$(fc_point "E2E-FB-$i" 05)"']}')
  [[ $(status_of "$r") == 202 ]] || fail "FeatureCollection $i: expected 202, got $(status_of "$r"): $(body_of "$r")"
  body_of "$r" | jq -e '.work_refs == ["E2E-FA-'$i'", "E2E-FB-'$i'"] and (.records | length) == 2 and .records[0].partition == .partition' >/dev/null ||
    fail "FeatureCollection $i: the answer lacks work_refs or records: $(body_of "$r")"
  r=$(request POST /v1/works dev-tfl-key "$(fc_point "E2E-FB-$i" 20)")
  [[ $(status_of "$r") == 202 ]] || fail "the correction of E2E-FB-$i: got $(status_of "$r"): $(body_of "$r")"
done
for i in 1 2 3 4 5 6 7 8; do
  start=""
  for _ in $(seq 1 100); do
    start=$(curl -s -H 'Authorization: Bearer dev-tfl-key' "$base/v1/works/E2E-FB-$i" | jq -r '.start // empty')
    [[ $start == 2027-01-20* ]] && break
    sleep 0.05
  done
  sleep 0.2  # a late copy of the collection's would land within this
  start=$(curl -s -H 'Authorization: Bearer dev-tfl-key' "$base/v1/works/E2E-FB-$i" | jq -r '.start // empty')
  [[ $start == 2027-01-20* ]] || fail "E2E-FB-$i starts $start: the FeatureCollection before undid its correction"
done
check "8 FeatureCollections of two works, each then corrected by a single POST: every correction holds"
# An update without a version keeps the version held, and reads show it (a client reading the
# work sends the next version, not one taken as stale).
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-VER-1","promoter":"TFL","version":5,"geometry":{"type":"Point","coordinates":[-0.1090,51.5170]},"start":"2027-02-01","end":"2027-02-02"}')
[[ $(status_of "$r") == 202 ]] || fail "E2E-VER-1 version 5: got $(status_of "$r"): $(body_of "$r")"
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-VER-1","promoter":"TFL","geometry":{"type":"Point","coordinates":[-0.1090,51.5170]},"start":"2027-02-01","end":"2027-02-03"}')
[[ $(status_of "$r") == 202 ]] || fail "E2E-VER-1 without a version: got $(status_of "$r"): $(body_of "$r")"
for _ in $(seq 1 100); do
  held=$(curl -s -H 'Authorization: Bearer dev-tfl-key' "$base/v1/works/E2E-VER-1")
  [[ $(jq -r '.end // empty' <<<"$held") == 2027-02-03* ]] && break
  sleep 0.05
done
jq -e '(.end | startswith("2027-02-03")) and .version == 5' <<<"$held" >/dev/null ||
  fail "an update without a version: expected end 2027-02-03 and version 5 kept, got $held"
check "an update without a version is taken, and the work shows the version it keeps (5)"
# An older version than the live work's: taken (ingest ignores it as stale), but said.
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-VER-1","promoter":"TFL","version":3,"geometry":{"type":"Point","coordinates":[-0.1090,51.5170]},"start":"2027-02-01","end":"2027-02-09"}')
[[ $(status_of "$r") == 202 ]] && body_of "$r" | jq -e '.warnings[0].field == "version" and (.warnings[0].message | contains("older than the version 5"))' >/dev/null ||
  fail "E2E-VER-1 version 3 under a live version 5: expected 202 with a warning on version, got $(status_of "$r"): $(body_of "$r")"
sleep 0.5
held=$(curl -s -H 'Authorization: Bearer dev-tfl-key' "$base/v1/works/E2E-VER-1")
jq -e '(.end | startswith("2027-02-03")) and .version == 5' <<<"$held" >/dev/null ||
  fail "a stale version changed the work: $held"
check "a version older than the live work's -> 202 with a warning on version; the work unchanged"
r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":[]}')
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == features ]] ||
  fail "an empty FeatureCollection: expected 400 naming features, got $(status_of "$r"): $(body_of "$r")"
check "an empty FeatureCollection -> 400 $(body_of "$r")"
# A self-crossing polygon is taken as GEOS repairs it, and the answer says so; a feature whose
# geometry is refused is named by its place in the collection.
bowtie='{"type":"Polygon","coordinates":[[[-0.1277,51.5071],[-0.1274,51.5074],[-0.1274,51.5071],[-0.1277,51.5074],[-0.1277,51.5071]]]}'
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-BOW-1","promoter":"TFL","geometry":'"$bowtie"',"start":"2027-05-01","end":"2027-05-02"}')
[[ $(status_of "$r") == 202 ]] && body_of "$r" | jq -e '.warnings[0].field == "geometry" and (.warnings[0].message | contains("Self-intersection at longitude -0.12"))' >/dev/null ||
  fail "a bow-tie polygon: expected 202 with a warning naming geometry, got $(status_of "$r"): $(body_of "$r")"
check "a self-crossing polygon -> 202 with warnings: $(body_of "$r" | jq -c '.warnings[0].message' | cut -c1-90)"
# Repaired, it is shown reprojected from the metric CRS, to 1e-9 degrees (not -0.12769999999999).
for _ in $(seq 1 100); do
  bow=$(curl -s -H 'Authorization: Bearer dev-tfl-key' "$base/v1/works/E2E-BOW-1")
  [[ $(jq -r '.work_ref // empty' <<<"$bow") == E2E-BOW-1 ]] && break
  sleep 0.05
done
python3 -c '
import json, sys
w = json.loads(sys.argv[1])
def flat(c): return [x for y in c for x in flat(y)] if isinstance(c, list) else [c]
digits = max(len(repr(v).split(".")[1]) if "." in repr(v) else 0 for v in flat(w["geometry"]["coordinates"]))
sys.exit(0 if digits <= 9 else 1)' "$bow" || fail "the repaired bow-tie is shown with round-trip noise: $bow"
check "the repaired polygon is shown to 1e-9 degrees: $(jq -c '.geometry.coordinates[0][0]' <<<"$bow")"
r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":['"$(fc_point "E2E-FC-3" 07)"',{"type":"Feature","geometry":{"type":"Point","coordinates":[151.2,-33.9]},"properties":{"work_ref":"E2E-FC-4","promoter":"TFL","start":"2027-01-07","end":"2027-01-07"}}]}')
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == "features[1].geometry" ]] ||
  fail "a collection with a point in Sydney: expected 400 naming features[1].geometry, got $(status_of "$r"): $(body_of "$r")"
check "a FeatureCollection with a geometry outside the metric CRS's area -> 400 naming $(body_of "$r" | jq -r .field)"
# Problems of different kinds in one collection, each named in feature order: a missing member
# (the parser's) before a point outside the area (the geometry checks').
r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},"properties":{"work_ref":"E2E-FC-5","promoter":"TFL","end":"2027-01-07"}},{"type":"Feature","geometry":{"type":"Point","coordinates":[151.2,-33.9]},"properties":{"work_ref":"E2E-FC-6","promoter":"TFL","start":"2027-01-07","end":"2027-01-07"}},{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},"properties":{"work_ref":"E2E-FC-7","promoter":"TFL","start":"2027-01-07"}}]}')
[[ $(status_of "$r") == 400 ]] && body_of "$r" | jq -e '[.errors[].field] == ["features[0].properties.start", "features[1].geometry", "features[2].properties.end"]' >/dev/null ||
  fail "a collection with a missing start, a point in Sydney and a missing end: expected 400 naming all three, got $(status_of "$r"): $(body_of "$r")"
check "a FeatureCollection with a parse error and a geometry error -> 400 naming both: $(body_of "$r" | jq -c '[.errors[].field]')"
# One work twice in a collection: both events taken, in order, and the second named in a warning.
r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":['"$(fc_point "E2E-DUP-1" 08),$(fc_point "E2E-DUP-1" 09)"']}')
[[ $(status_of "$r") == 202 ]] && body_of "$r" | jq -e '.warnings[0].field == "features[1].properties.work_ref" and (.warnings[0].message | contains("is also features[0].properties.work_ref"))' >/dev/null ||
  fail "a collection with E2E-DUP-1 twice: expected 202 with a warning naming features[1], got $(status_of "$r"): $(body_of "$r")"
check "a FeatureCollection with one work twice -> 202 warning $(body_of "$r" | jq -c '.warnings[0].message' | cut -c1-80)"
# A CRS error of a later feature comes after an earlier feature's parse error.
r=$(request POST /v1/works dev-tfl-key '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},"properties":{"work_ref":"E2E-FC-8","promoter":"TFL","end":"2027-01-07"}},{"type":"Feature","geometry":{"type":"Point","coordinates":[52,-1]},"properties":{"work_ref":"E2E-FC-9","promoter":"TFL","crs":"EPSG:5701","start":"2027-01-07","end":"2027-01-07"}}]}')
[[ $(status_of "$r") == 400 ]] && body_of "$r" | jq -e '.field == "features[0].properties.start" and (.errors | length) == 2 and (.errors[1].message | contains("vertical CRS")) and .errors[1].field == "features[1].properties.crs"' >/dev/null ||
  fail "a parse error in features[0] and a vertical CRS in features[1]: expected them in that order, got $(status_of "$r"): $(body_of "$r")"
check "a FeatureCollection's CRS error sorts by its feature: $(body_of "$r" | jq -c '[.errors[].field]')"
# Beyond 100 errors, the 400 says how many more there were.
many=$(python3 -c 'import json; print(json.dumps({"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.1,51.5]},"properties":{"work_ref":"E2E-M-%d" % i,"promoter":"TFL","end":"2027-01-07"}} for i in range(150)]}))')
r=$(request POST /v1/works dev-tfl-key "$many")
[[ $(status_of "$r") == 400 ]] && body_of "$r" | jq -e '(.errors | length) == 100 and .more_errors == 50' >/dev/null ||
  fail "150 bad features: expected 400 with 100 errors and more_errors 50, got $(status_of "$r"): $(body_of "$r" | cut -c1-300)"
check "150 bad features -> 400 with 100 errors and more_errors $(body_of "$r" | jq .more_errors)"
# A vertical CRS cannot place a work: refused, naming its kind.
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-VERT-1","promoter":"TFL","crs":"EPSG:5701","geometry":{"type":"Point","coordinates":[52,-1]},"start":"2027-01-07","end":"2027-01-07"}')
[[ $(status_of "$r") == 400 && $(body_of "$r" | jq -r .field) == crs ]] && body_of "$r" | jq -e '.error | contains("vertical CRS")' >/dev/null ||
  fail "a work in EPSG:5701 (ODN height): expected 400 naming crs, got $(status_of "$r"): $(body_of "$r")"
check "a work in a vertical CRS -> 400 $(body_of "$r" | jq -r .error | cut -c1-60)"
# A collection with another promoter's work in it: the 403 names that feature's member.
r=$(request POST /v1/works dev-stpr-key '{"type":"FeatureCollection","features":['"$(fc_point "E2E-FC-1" 06 | sed 's/"TFL"/"STPR"/'),$(fc_point "E2E-FC-2" 06)"']}')
[[ $(status_of "$r") == 403 && $(body_of "$r" | jq -r .field) == "features[1].properties.promoter" ]] ||
  fail "a collection holding TFL's work, by STPR's key: expected 403 naming features[1].properties.promoter, got $(status_of "$r"): $(body_of "$r")"
check "a FeatureCollection holding another promoter's work -> 403 naming $(body_of "$r" | jq -r .field)"

# An authority reads the works in its area whatever authority they name: TFL's work at Oxford
# Circus (Westminster) naming Camden is Westminster's to read, and lists the areas it meets.
r=$(request POST /v1/works dev-tfl-key '{"work_ref":"E2E-OXC-1","promoter":"TFL","highway_authority":"5210","geometry":{"type":"Point","coordinates":[-0.1420,51.5150]},"start":"2027-03-01","end":"2027-03-10"}')
[[ $(status_of "$r") == 202 ]] || fail "TFL's work at Oxford Circus: $(status_of "$r"): $(body_of "$r")"
areas=""
for _ in $(seq 1 100); do
  areas=$(curl -s -H 'Authorization: Bearer dev-westminster-key' "$base/v1/works/E2E-OXC-1" | jq -c '.highway_authority_areas // empty')
  [[ -n $areas ]] && break
  sleep 0.05
done
[[ $areas == '["5990"]' ]] || fail "Westminster cannot read TFL's work in its area named for Camden: '$areas'"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer dev-camden-key' "$base/v1/works/E2E-OXC-1") == 200 ]] ||
  fail "Camden, named by the work, cannot read it"
check "a work in Westminster naming Camden: both read it, highway_authority_areas $areas"

# A finished work's reference stays its promoter's: TFL cancels E2E-OXC-1, STPR may not post a
# work under it (403 naming work_ref), TFL may bring it back.
r=$(request DELETE /v1/works/E2E-OXC-1 dev-tfl-key)
[[ $(status_of "$r") == 202 ]] || fail "TFL's DELETE of E2E-OXC-1: $(status_of "$r"): $(body_of "$r")"
code=""
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer dev-ops-key' "$base/v1/works/E2E-OXC-1")
  [[ $code == 404 ]] && break
  sleep 0.05
done
[[ $code == 404 ]] || fail "E2E-OXC-1 still live after its cancel: $code"
oxc_stpr='{"work_ref":"E2E-OXC-1","promoter":"STPR","geometry":{"type":"Point","coordinates":[-0.1420,51.5150]},"start":"2027-04-01","end":"2027-04-10"}'
r_stpr=$(request POST /v1/works dev-stpr-key "$oxc_stpr")
[[ $(status_of "$r_stpr") == 403 && $(body_of "$r_stpr" | jq -r .field) == work_ref ]] &&
  body_of "$r_stpr" | jq -e '.error | contains("a finished work of another promoter")' >/dev/null ||
  fail "STPR's work under TFL's finished E2E-OXC-1: expected 403 naming work_ref, got $(status_of "$r_stpr"): $(body_of "$r_stpr")"
r=$(request POST /v1/works dev-tfl-key "${oxc_stpr//STPR/TFL}")
[[ $(status_of "$r") == 202 ]] || fail "TFL bringing back its E2E-OXC-1: $(status_of "$r"): $(body_of "$r")"
check "a finished work's reference stays its promoter's: STPR -> 403 $(body_of "$r_stpr" | jq -r .error | cut -c1-80), TFL -> 202"

# The same for a work submitted already finished, taken a moment ago (the view never holds it
# as live: ingest publishes only its tombstone): TW's post right after is refused.
done_stpr='{"work_ref":"E2E-DONE-1","promoter":"STPR","status":"completed","geometry":{"type":"Point","coordinates":[-0.1420,51.5150]},"start":"2027-04-01","end":"2027-04-10"}'
r=$(request POST /v1/works dev-stpr-key "$done_stpr")
[[ $(status_of "$r") == 202 ]] || fail "STPR's finished E2E-DONE-1: $(status_of "$r"): $(body_of "$r")"
r=$(request POST /v1/works dev-thames-key "${done_stpr//\"STPR\"/\"TW\"}")
[[ $(status_of "$r") == 403 ]] && body_of "$r" | jq -e '.error | contains("submitted a moment ago")' >/dev/null ||
  fail "TW's work under STPR's just-finished E2E-DONE-1: expected 403, got $(status_of "$r"): $(body_of "$r")"
check "a reference submitted finished a moment ago is taken: TW -> 403"

# A work whose envelope spans Britain (two points, 15,000 tiles of 4 km): its cancel reaches the
# detector and closes its clash. Ingest once sent a copy per tile, each naming every tile (about
# 1 GB): the embedded broker dropped records before the detector read them, and the clash stayed
# open.
wait_clashes_of() { # REF N: wait up to 30 s until N open clashes involve REF (0 if not)
  local n=""
  for _ in $(seq 1 300); do
    n=$(curl -s -H 'Authorization: Bearer dev-ops-key' "$base/v1/alerts?state=open" |
      jq --arg r "$1" '[.alerts[] | select(.kind == "clash" and any(.works[]; .work_ref == $r))] | length')
    [[ $n == "$2" ]] && return 0
    sleep 0.1
  done
  return 1
}
huge='{"work_ref":"E2E-HUGE-1","promoter":"STPR","geometry":{"type":"MultiPoint","coordinates":[[-5.5,50.1],[-1.5,58.6]]},"start":"2027-03-01","end":"2027-03-31"}'
near='{"work_ref":"E2E-HUGE-A","promoter":"TW","geometry":{"type":"Point","coordinates":[-1.5,58.6001]},"start":"2027-03-05","end":"2027-03-06"}'
for w in "$huge" "$near"; do
  r=$(request POST /v1/works dev-ops-key "$w")
  [[ $(status_of "$r") == 202 ]] || fail "a work of the huge pair: $(status_of "$r"): $(body_of "$r")"
done
wait_clashes_of E2E-HUGE-A 1 || fail "no clash of E2E-HUGE-A and the Britain-wide E2E-HUGE-1 within 30 s"
r=$(request DELETE /v1/works/E2E-HUGE-1 dev-ops-key)
[[ $(status_of "$r") == 202 ]] || fail "cancelling E2E-HUGE-1: $(status_of "$r"): $(body_of "$r")"
wait_clashes_of E2E-HUGE-A 0 ||
  fail "E2E-HUGE-1 cancelled, but its clash with E2E-HUGE-A is still open after 30 s"
! grep -q "Offset out of range" "$log" || fail "a stage lost its place on a topic: $(grep -m1 'Offset out of range' "$log")"
check "a work spanning Britain: its clash opened, and closed by its cancel; no record lost"

# A second serve on the same data folder stops at once, naming the first one's pid, and leaves
# the first one's state alone (it would otherwise wipe the stage folders at start).
rc=0
timeout 60 "$DIGONCE_BIN" serve --http 127.0.0.1:0 --data-dir "$work/data" >"$work/second.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a second serve on the same data folder: exit $rc: $(tail -n 3 "$work/second.log")"
grep -q "ingest.lock is held by another running digonce (pid $pid)" "$work/second.log" ||
  fail "the second serve did not say why: $(tail -n 3 "$work/second.log")"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz") == 200 ]] || fail "the first serve is hurt"
[[ -d "$work/data/detector" ]] || fail "the second serve wiped the first one's detector state"
check "a second serve on the same data folder refused: $(grep -o 'ingest.lock is held[^:]*' "$work/second.log")"

# A clean stop on SIGTERM (exit 0).
stop_serve
echo "PASS: serve_clash"
