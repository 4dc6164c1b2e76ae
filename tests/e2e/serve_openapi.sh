#!/usr/bin/env bash
# docs/openapi.yaml against `digonce serve` (embedded broker): tests/e2e/openapi_check.py, run
# with the Python packages of tests/requirements.txt (.venv, made by tools/setup).
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_openapi.sh
set -euo pipefail
: "${DIGONCE_BIN:?set DIGONCE_BIN to the digonce binary}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python="$root/.venv/bin/python"
[[ -x "$python" ]] || { echo "FAIL: $python missing: run tools/setup" >&2; exit 1; }
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
"$DIGONCE_BIN" serve --http 127.0.0.1:0 --data-dir "$work/data" \
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
"$python" "$root/tests/e2e/openapi_check.py" --base "$base" --spec "$root/docs/openapi.yaml" ||
  fail "docs/openapi.yaml does not match the server"
kill -TERM "$pid"
wait "$pid" || fail "serve exited $? after SIGTERM"
pid=""
echo "ok: SIGTERM: serve stopped cleanly"
