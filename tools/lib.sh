# Shared by the tools/ scripts: paths, logging, and the build.
# shellcheck shell=bash

DIGONCE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DIGONCE_ROOT
DIGONCE_BUILD="${DIGONCE_BUILD:-$DIGONCE_ROOT/build}"
export DIGONCE_BUILD

log() { printf '\033[1m[digonce]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[digonce] error:\033[0m %s\n' "$*" >&2; exit 1; }

# The shared reference data (London boroughs, road links, Street Manager samples, OSTN15 grid):
# $DIGONCE_SHARED_DATA, else ../shared/data beside the checkout, else /work/shared/data.
shared_data_dir() {
  local c
  for c in "${DIGONCE_SHARED_DATA:-}" "$DIGONCE_ROOT/../shared/data" /work/shared/data; do
    if [ -n "$c" ] && [ -f "$c/london/boroughs.geojson" ]; then
      (cd "$c" && pwd)
      return 0
    fi
  done
  return 1
}

# Prints a TCP port on 127.0.0.1 that is free to listen on now, taken below Linux's ephemeral
# range (32768 and up) so that no client connection of another process can grab it before the
# caller binds it.
free_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    port = random.randrange(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("no free port found in 20000..31999")
PY
}

# Configures and builds into a folder: build_tree DIR [cmake args...] -- [targets...]
build_tree() {
  local dir="$1"; shift
  local cmake_args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmake_args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  targets=("$@")
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$DIGONCE_ROOT" -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null ||
      die "cmake configure failed in $dir"
  else
    cmake -S "$DIGONCE_ROOT" -B "$dir" "${cmake_args[@]}" >/dev/null || die "cmake failed in $dir"
  fi
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" -j"${DIGONCE_JOBS:-2}" --target "${targets[@]}" || die "build failed in $dir"
  else
    cmake --build "$dir" -j"${DIGONCE_JOBS:-2}" || die "build failed in $dir"
  fi
}
