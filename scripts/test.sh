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

log "rust-version is true (scripts/msrv.py)"
python3 scripts/msrv.py

# Licences and banned crates (deny.toml); the tool is built once into target/tools.
CARGO_DENY_VERSION=0.20.2
CARGO_DENY="$ROOT/target/tools/bin/cargo-deny"
if ! "$CARGO_DENY" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  log "installing cargo-deny $CARGO_DENY_VERSION into target/tools (once per checkout, ~2 min)"
  cargo install --quiet --locked --no-default-features --version "$CARGO_DENY_VERSION" \
    --root "$ROOT/target/tools" cargo-deny
fi
log "cargo deny check licenses bans"
"$CARGO_DENY" --log-level error check licenses bans

if [ -z "${MONGODB_URI:-}" ]; then
  build_devdb
  # Commits fsynced before they are acknowledged: the crash tests rely on it.
  start_devdb 0 "" --sync-commits
  trap 'kill "$DEVDB_PID" 2>/dev/null || true' EXIT
  export MONGODB_URI="$DEVDB_URI"
  log "test database: embedded SecantusDB at $MONGODB_URI"
else
  log "test database: MONGODB_URI"
fi

# The tools of the deployment-file checks and of the OpenAPI validation below, pinned in
# scripts/requirements-checks.txt, installed only when one is missing or at another version
# (--break-system-packages only if this Python is externally managed, PEP 668).
if ! python3 docker/check.py --requirements; then
  log "installing the pinned check tools (scripts/requirements-checks.txt)"
  pip_install=(python3 -m pip install --quiet --root-user-action=ignore -r scripts/requirements-checks.txt)
  "${pip_install[@]}" 2>/dev/null || "${pip_install[@]}" --break-system-packages
fi
log "deployment file checks: compose config, hadolint, kubernetes-validate (docker/check.py)"
python3 docker/check.py

# A real OpenID Connect provider for the identity tests (npm `oidc-provider`, pinned by
# tests/oidc-provider/package-lock.json), installed again only when the lockfile changed.
OIDC_DIR=tests/oidc-provider
if [ ! -d "$OIDC_DIR/node_modules/oidc-provider" ] \
  || [ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null 2>&1 || { echo "Node.js and npm are needed by the identity tests" >&2; exit 1; }
  log "installing the test OpenID provider (npm ci in $OIDC_DIR)"
  npm ci --prefix "$OIDC_DIR" --no-audit --no-fund --loglevel=error
fi

# A real headless browser renders /docs and drives /console in the tests (Debian's Chromium and
# its WebDriver, chromium-driver, of the same version).
if { ! command -v chromium || ! command -v chromedriver; } >/dev/null 2>&1 \
  && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing chromium and chromium-driver (for the docs and console browser tests)"
  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } || true
fi
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  && export TENANTRY_REQUIRE_BROWSER=1

log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

# The OpenAPI document the tests compared with the running server is valid OpenAPI 3.1.
log "OpenAPI 3.1 validation"
python3 -m openapi_spec_validator crates/api/tests/api/snapshots/openapi.json

# The running server against that document (schemathesis): what it documents is what it
# accepts and answers. The tests above built target/debug/tenantry.
log "API contract: schemathesis against /openapi.json (tests/api-contract)"
python3 tests/api-contract/run.py
