#!/usr/bin/env bash
# docs/openapi.yaml against `digonce serve` (embedded broker): tests/e2e/openapi_check.py, run
# with the Python packages of tests/requirements.txt (.venv, made by tools/setup).
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_openapi.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python="$root/.venv/bin/python"
[[ -x "$python" ]] || fail "$python missing: run tools/setup"
start_serve
"$python" "$root/tests/e2e/openapi_check.py" --base "$base" --spec "$root/docs/openapi.yaml" ||
  fail "docs/openapi.yaml does not match the server"
stop_serve
