# Shared by the end-to-end scripts: a work folder, `digonce serve` on its embedded broker, and
# cleanup at exit. Source it, then:
#   start_serve [GLOBAL ARGS...]   starts serve (global args such as --config go before `serve`);
#                                  sets base (http://127.0.0.1:PORT) and brokers (its embedded
#                                  Kafka bootstrap), waits for /healthz 200 (60 s at most)
#   stop_serve                     SIGTERM; serve must exit 0
#   check MESSAGE / fail MESSAGE   report; fail prints the server log's tail (and calls
#                                  on_fail, if the script defines it)
# Needs DIGONCE_BIN. DIGONCE_E2E_KEEP=1 keeps the work folder. serve reads the development keys
# (config/dev-api-keys.yaml) unless E2E_API_KEYS names another file.
# shellcheck shell=bash
set -euo pipefail
: "${DIGONCE_BIN:?set DIGONCE_BIN to the digonce binary}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$root/tools/lib.sh"
work=$(mktemp -d)
log="$work/serve.log"
pid=""

e2e_cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [[ -n "${DIGONCE_E2E_KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap e2e_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "---- last lines of the server log:" >&2
  tail -n 30 "$log" >&2 || true
  if declare -F on_fail >/dev/null; then on_fail >&2; fi
  exit 1
}
check() { echo "ok: $*"; }

# raw_exchange URL BYTES: sends BYTES (printf escapes: \r\n) on a new connection to URL's host and
# port and prints what comes back, without carriage returns, until the server closes the
# connection, or for 5 s (the check that reads it then says what was missing).
raw_exchange() {
  local hostport=${1#http://}
  hostport=${hostport%%/*}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
  printf '%b' "$2" >&3
  timeout 5 cat <&3 | tr -d '\r' || true
  exec 3>&-
}

start_serve() {
  "$DIGONCE_BIN" "$@" serve --http 127.0.0.1:0 --data-dir "$work/data" \
    --api-keys "${E2E_API_KEYS:-$root/config/dev-api-keys.yaml}" >"$log" 2>&1 &
  pid=$!
  base=""
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || fail "digonce serve exited during start-up"
    if [[ -z "$base" ]]; then
      base=$(grep -o 'HTTP API at http://[0-9.:]*' "$log" | head -n1 | sed 's/HTTP API at //' || true)
    fi
    if [[ -n "$base" ]] &&
      [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz" || true) == 200 ]]; then
      brokers=$(grep -o 'Kafka bootstrap [0-9.:]*' "$log" | head -n1 | sed 's/Kafka bootstrap //')
      return 0
    fi
    sleep 0.1
  done
  fail "digonce serve not healthy within 60 s"
}

stop_serve() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [[ $rc == 0 ]] || fail "serve exited $rc after SIGTERM"
  check "SIGTERM: serve stopped cleanly"
}
