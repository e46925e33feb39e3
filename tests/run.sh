#!/usr/bin/env bash
# The whole test suite, one command: `bash tests/run.sh` (extra arguments go to pytest).
# Brings up PostgreSQL and Redis if needed (tests/services.sh), then runs pytest through uv.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "installing uv (pip install uv)" >&2; python3 -m pip install -q uv; }
eval "$(bash tests/services.sh)"
export TEST_DATABASE_URL TEST_REDIS_URL
uv sync --frozen -q
exec uv run --frozen pytest "$@"
