#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, deployment-file checks.
# Uses MONGODB_URI when set (a MongoDB replica set); otherwise starts the embedded test database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -D warnings"
cargo clippy --quiet --workspace --all-targets -- -D warnings

if [ -z "${MONGODB_URI:-}" ]; then
  build_devdb
  start_devdb 0 ""
  trap 'kill "$DEVDB_PID" 2>/dev/null || true' EXIT
  export MONGODB_URI="$DEVDB_URI"
  log "test database: embedded SecantusDB at $MONGODB_URI"
else
  log "test database: MONGODB_URI"
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
  python3 -m pip install --quiet pyyaml || true
fi
log "docker/compose file checks"
python3 docker/check.py

log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
