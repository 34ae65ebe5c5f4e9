# Shared by scripts/dev.sh and scripts/test.sh: install what the build needs, build the embedded
# development database (SecantusDB, GPL: its own workspace, never linked into `tenantry`).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVDB_BIN="$ROOT/target/release/tenantry-devdb"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# cmake and a C compiler build WiredTiger; fetched from Debian (or PyPI for cmake) when missing.
ensure_build_tools() {
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v cmake >/dev/null 2>&1; then
    python3 -m pip install --quiet --user cmake && export PATH="$HOME/.local/bin:$PATH"
  fi
  command -v cmake >/dev/null 2>&1 || { echo "cmake is required to build the embedded database" >&2; exit 1; }
}

# Builds target/release/tenantry-devdb (cargo skips the work when it is up to date).
build_devdb() {
  ensure_build_tools
  log "building the embedded development database (first time: a few minutes)"
  # SecantusDB declares a newer rust-version than it needs; this applies to the devdb only.
  cargo build --quiet --release --ignore-rust-version \
    --config 'resolver.incompatible-rust-versions="allow"' \
    --manifest-path "$ROOT/crates/devdb/Cargo.toml" --target-dir "$ROOT/target"
}

# Starts tenantry-devdb in the background; sets DEVDB_PID and DEVDB_URI.
# $1: port (0 = any), $2: data dir (empty = temporary store), $3...: more devdb flags.
start_devdb() {
  local port="$1" dir="$2" fifo
  shift 2
  local args=(--port "$port" "$@")
  if [ -n "$dir" ]; then args+=(--data-dir "$dir"); fi
  fifo="$(mktemp -u)"
  mkfifo "$fifo"
  "$DEVDB_BIN" "${args[@]}" >"$fifo" &
  DEVDB_PID=$!
  local line=""
  read -r -t 60 line <"$fifo" || true
  rm -f "$fifo"
  case "$line" in
    ready\ *) DEVDB_URI="${line#ready }" ;;
    *) echo "the embedded database did not start: ${line:-no output}" >&2; kill "$DEVDB_PID" 2>/dev/null; exit 1 ;;
  esac
}
