#!/usr/bin/env bash
# The whole test suite, one command: `bash tests/run.sh` (extra arguments go to pytest).
# Brings up PostgreSQL and Redis if needed and a private 3-master Redis Cluster
# (tests/services.sh --cluster), runs pytest through uv (with the `dev` group: the default
# install is the runtime only), then stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "installing uv (pip install uv)" >&2; python3 -m pip install -q uv; }
eval "$(bash tests/services.sh --cluster)"
export TEST_DATABASE_URL TEST_REDIS_URL TEST_REDIS_CLUSTER_URL TEST_REDIS_CLUSTER_DIR
if [ -n "${TEST_REDIS_CLUSTER_DIR:-}" ]; then
  # Stopping the cluster is clean-up: it must not turn the suite's own exit status into a failure.
  trap 'bash tests/services.sh stop-cluster "$TEST_REDIS_CLUSTER_DIR" || true' EXIT
fi
unset VIRTUAL_ENV  # uv uses the project's .venv; an activated other venv would only make it warn
uv sync --frozen -q --group dev
uv run --frozen --group dev pytest "$@"
