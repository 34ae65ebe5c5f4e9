#!/usr/bin/env bash
# Profiles the server on the point-read hot path (docs/BENCHMARKS.md, "Where the time goes").
#
#   bash scripts/profile.sh [TENANTS]     (default 100 tenants)
#
# Runs tenantry-bench's point-read scenario for 40 s against the embedded database, records the
# `tenantry serve` process with `perf record --call-graph dwarf` for 15 s in the middle of it, and
# prints the server's CPU by owner (kernel, allocator, HTTP stack, driver, ours...). Output in
# target/profile: perf.data, perf.txt (`perf script`), buckets.md, the bench's results.
# Needs `perf` (Debian: linux-perf; installed when missing and running as root).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
TENANTS="${1:-100}"
OUT="$ROOT/target/profile"
mkdir -p "$OUT"

if ! command -v perf >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "perf is required (Debian package linux-perf)" >&2; exit 1; }
  log "installing linux-perf"
  apt-get install -y -qq linux-perf >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq linux-perf >/dev/null; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
build_devdb
log "building release binaries"
cargo build --quiet --release -p tenantry-api -p tenantry-bench --bin tenantry --bin tenantry-bench
start_devdb 0 ""
trap 'kill "$DEVDB_PID" 2>/dev/null || true' EXIT
export MONGODB_URI="$DEVDB_URI" BENCH_DB_PID="$DEVDB_PID"

log "point reads over $TENANTS tenants for 40 s"
"$ROOT/target/release/tenantry-bench" --out "$OUT" --tenants "$TENANTS" --scenarios point-read \
  --no-baseline --no-scale --no-layers --duration 40 >"$OUT/bench.log" 2>&1 &
BENCH=$!
# The measured run starts a few seconds after seeding (settling, priming, warm-up).
until grep -q "^\[.*seed " "$OUT/bench.log" 2>/dev/null; do
  kill -0 "$BENCH" 2>/dev/null || { cat "$OUT/bench.log" >&2; exit 1; }
  sleep 0.5
done
sleep 10
SERVER="$(pgrep -n -f 'release/tenantry serve')"
log "recording tenantry serve (pid $SERVER) for 15 s"
perf record -q -F 499 --call-graph dwarf,16384 -p "$SERVER" -o "$OUT/perf.data" -- sleep 15 \
  >/dev/null 2>&1
wait "$BENCH"
perf script -i "$OUT/perf.data" -F comm,tid,ip,sym 2>/dev/null >"$OUT/perf.txt"
python3 "$ROOT/scripts/perf_buckets.py" "$OUT/perf.txt" | tee "$OUT/buckets.md"
grep "| point read |" "$OUT/tenantry-bench.md" || true
