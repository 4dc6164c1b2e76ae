#!/usr/bin/env bash
# End to end through `digonce serve` (embedded broker): the Street Manager feed endpoint as
# Amazon SNS drives it (tests/e2e/sns_feed_check.py has the list of checks). Needs python3 and
# the openssl command.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_streetmanager_feed.sh
set -euo pipefail
: "${DIGONCE_BIN:?set DIGONCE_BIN to the digonce binary}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/tools/lib.sh"
data="$(shared_data_dir)" || die "shared data not found (set DIGONCE_SHARED_DATA)"
work=$(mktemp -d)
log="$work/serve.log"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 30 "$log" >&2 || true
  exit 1
}

cat >"$work/config.yaml" <<YAML
boundaries: $root/config/london-authorities.yaml
feeds:
  streetmanager:
    cert_hosts: ["127.0.0.1"]
    subscribe_hosts: ["127.0.0.1"]
    topic_arns: ["arn:aws:sns:eu-west-2:000000000000:street-manager-test"]
    allow_http: true
YAML
"$DIGONCE_BIN" --config "$work/config.yaml" serve --http 127.0.0.1:0 --data-dir "$work/data" \
  --api-keys "$root/config/dev-api-keys.yaml" >"$log" 2>&1 &
pid=$!
base=""
for _ in $(seq 1 600); do
  kill -0 "$pid" 2>/dev/null || fail "digonce serve exited during start-up"
  [[ -z "$base" ]] &&
    base=$(grep -o 'HTTP API at http://[0-9.:]*' "$log" | head -n1 | sed 's/HTTP API at //' || true)
  [[ -n "$base" ]] && [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true) == 200 ]] &&
    break
  sleep 0.1
done
[[ -n "$base" ]] || fail "no 'HTTP API at' line within 60 s"
python3 "$root/tests/e2e/sns_feed_check.py" --base "$base" --data "$data" --work "$work" ||
  fail "feed checks failed"
kill -TERM "$pid"
wait "$pid" || fail "serve exited $? after SIGTERM"
pid=""
echo "ok: SIGTERM: serve stopped cleanly"
