#!/usr/bin/env bash
# The whole test suite, one command: `bash tests/run.sh` (extra arguments go to pytest).
# Brings up PostgreSQL and Redis if needed (tests/services.sh), then runs pytest through uv
# (with the `dev` group: the default install is the runtime only).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "installing uv (pip install uv)" >&2; python3 -m pip install -q uv; }
eval "$(bash tests/services.sh)"
export TEST_DATABASE_URL TEST_REDIS_URL
unset VIRTUAL_ENV  # uv uses the project's .venv; an activated other venv would only make it warn
uv sync --frozen -q --group dev
exec uv run --frozen --group dev pytest "$@"
