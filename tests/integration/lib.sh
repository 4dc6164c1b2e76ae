# Shared by the integration scripts that run digonce's stages on the broker (big_work_test.sh,
# sasl_test.sh, tls_test.sh). Source it with the test's name, then:
#   d ARGS...                 runs `digonce GLOBAL ARGS...` (GLOBAL: --topic-prefix, plus what
#                             the script adds to the array `global`, e.g. --config)
#   start_stage NAME ARGS...  the same in the background, output in $work/NAME.log; killed at exit
#   stop_stages               SIGTERM to each started stage; each must exit 0
#   fail MESSAGE              prints it and the logs' tails, exits 1
#   tools_kafka_only          exits 77 (ctest's skip) unless the broker is tools/kafka's, whose
#                             extra listeners the test needs
# Sets bin, brokers, work (a fresh folder, removed at exit unless DIGONCE_KEEP_WORK is set),
# prefix (the test's own topic prefix) and kafka_tool. Needs DIGONCE_BIN and
# DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start).
# shellcheck shell=bash
set -euo pipefail
name="${1:?source lib.sh with the name of the test}"
bin="${DIGONCE_BIN:?set DIGONCE_BIN}"
brokers="${DIGONCE_KAFKA_BOOTSTRAP:?set DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start)}"
kafka_tool="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)/kafka"
work=$(mktemp -d "${TMPDIR:-/tmp}/digonce-$name.XXXXXX")
prefix="test-$name-$$."
global=(--topic-prefix "$prefix")
pids=()

it_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ -n "${DIGONCE_KEEP_WORK:-}" ]]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap it_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$work"/*.log >&2 || true
  exit 1
}

d() { "$bin" "${global[@]}" "$@"; }

start_stage() {
  local log="$1"
  shift
  "$bin" "${global[@]}" "$@" >"$work/$log.log" 2>&1 &
  pids+=($!)
}

stop_stages() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" || true; done
  for p in "${pids[@]}"; do wait "$p" || fail "a stage did not stop cleanly (exit $?)"; done
  pids=()
}

tools_kafka_only() {
  if [[ $("$kafka_tool" bootstrap) != "$brokers" ]]; then
    echo "skipped: $brokers is not tools/kafka's broker (no $name listener known)"
    exit 77
  fi
}
