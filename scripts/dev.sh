#!/usr/bin/env bash
# Runs Tenantry for development. Without TENANTRY_MONGODB_URI it starts the embedded development
# database (SecantusDB, persisted under ./data/db), creates a local admin key and JWT secret
# (kept in ./data), and prints how to call the API.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

mkdir -p data
secret_file() { # $1: file; creates a random secret there once
  [ -s "$1" ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"; chmod 600 "$1"; }
  cat "$1"
}

if [ -z "${TENANTRY_MONGODB_URI:-}" ]; then
  build_devdb
  start_devdb "${TENANTRY_DEV_DB_PORT:-27018}" "$ROOT/data/db" --sync-commits
  trap 'kill "$DEVDB_PID" 2>/dev/null || true' EXIT
  export TENANTRY_MONGODB_URI="$DEVDB_URI"
fi

ADMIN_KEY="$(secret_file data/dev-admin-key)"
export TENANTRY_ADMIN_KEY_SHA256="${TENANTRY_ADMIN_KEY_SHA256:-$(printf '%s' "$ADMIN_KEY" | sha256sum | cut -d' ' -f1)}"
export TENANTRY_JWT_SECRET="${TENANTRY_JWT_SECRET:-$(secret_file data/dev-jwt-secret)}"
export TENANTRY_LISTEN="${TENANTRY_LISTEN:-127.0.0.1:8080}"
export TENANTRY_LOG_FORMAT="${TENANTRY_LOG_FORMAT:-pretty}"

log "building tenantry"
cargo build --quiet -p tenantry-api --bin tenantry

URL="http://$TENANTRY_LISTEN"
cat <<INFO

  Tenantry: $URL   (database: ${TENANTRY_MONGODB_URI%%\?*})
  Admin key (from data/dev-admin-key; set TENANTRY_ADMIN_KEY_SHA256 to use your own):
    $ADMIN_KEY
  Console (sign in with the admin key): $URL/console
  API docs: $URL/docs

  Try it:
    curl -s -X POST $URL/admin/tenants -H "Authorization: Bearer $ADMIN_KEY" \\
         -H 'Content-Type: application/json' -d '{"id":"acme","name":"Acme Inc."}'
    TOKEN=\$(curl -s -X POST $URL/admin/tenants/acme/tokens -H "Authorization: Bearer $ADMIN_KEY" \\
         -H 'Content-Type: application/json' -d '{"sub":"alice","roles":["admin"]}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
    curl -s $URL/v1/tenant -H "Authorization: Bearer \$TOKEN"

INFO
"$ROOT/target/debug/tenantry" serve &
SERVER_PID=$!
trap 'kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID"; kill "${DEVDB_PID:-}" 2>/dev/null || true' INT TERM EXIT
wait "$SERVER_PID"
