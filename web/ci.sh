#!/usr/bin/env bash
# CI for the web client, from a fresh Debian machine (run as root from anywhere):
# Chromium from Debian if missing, npm ci, typecheck, build, unit tests, then the end-to-end test
# in headless Chromium against a real `messenger serve` (needs the repo's .venv from
# `uv sync --frozen --group dev` and PostgreSQL on 127.0.0.1:5432, user postgres; the test creates and drops
# its own database).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  echo "--- web: installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
if [ ! -x ../.venv/bin/python ]; then
  echo "web/ci.sh: ../.venv is missing; run 'uv sync --frozen --group dev' at the repo root first" >&2
  exit 2
fi

# PostgreSQL for the end-to-end test's server: the same helper as the Python suite (reuses a
# running one, starts or installs it as needed); the test honours TEST_DATABASE_URL.
eval "$(bash ../tests/services.sh)"
export TEST_DATABASE_URL

echo "--- web: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "--- web: generated API types"
# A stale schema.d.ts is reported, not fatal: the server may gain fields between regenerations;
# src/api/contract.ts makes tsc fail only if something the client relies on changed.
node scripts/gen-api.mjs --check || echo "WARNING: web/src/api/schema.d.ts is stale (cd web && npm run gen:api)"
echo "--- web: typecheck"
npx tsc --noEmit
echo "--- web: build"
npx vite build --logLevel warn
echo "--- web: unit tests"
npx vitest run
echo "--- web: end-to-end (headless chromium, real server)"
node --test --test-concurrency=1 --test-reporter=spec e2e/
