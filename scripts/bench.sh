#!/usr/bin/env bash
# The benchmark (docs/BENCHMARKS.md): Tenantry over HTTP vs the raw MongoDB driver, and
# scale figures (connections, memory, first requests, provisioning, migrations).
#
#   bash scripts/bench.sh [--quick] [--out DIR] [other tenantry-bench options, see --help]
#
# Builds the release binaries, starts the embedded database (SecantusDB, temporary store) unless
# MONGODB_URI names a MongoDB replica set, and runs target/release/tenantry-bench, which starts
# `tenantry serve` on 127.0.0.1 itself. Results: DIR/tenantry-bench.{json,md} (default
# target/bench). `--quick` (CI smoke check, < 2 minutes after the build) fails only on errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# Ten thousand tenants mean many sockets and files in the server and the database.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ -z "${MONGODB_URI:-}" ]; then
  build_devdb
fi
log "building release binaries (tenantry, tenantry-bench)"
cargo build --quiet --release -p tenantry-api -p tenantry-bench --bin tenantry --bin tenantry-bench

if [ -z "${MONGODB_URI:-}" ]; then
  start_devdb 0 ""
  trap 'kill "$DEVDB_PID" 2>/dev/null || true' EXIT
  export MONGODB_URI="$DEVDB_URI"
  export BENCH_DB_PID="$DEVDB_PID"
  log "database: embedded SecantusDB at $MONGODB_URI"
else
  log "database: MONGODB_URI"
fi

log "running tenantry-bench $*"
"$ROOT/target/release/tenantry-bench" "$@"
