#!/usr/bin/env python3
"""The running server against its own OpenAPI document, with schemathesis (pinned in
scripts/requirements-checks.txt; settings in schemathesis.toml, hooks in hooks.py).

Starts `target/debug/tenantry serve` on a free 127.0.0.1 port against MONGODB_URI, provisions a
tenant with a product and an admin token, then runs every schemathesis check over the `/v1`
routes (with the token) and then over the admin and operations routes (with the admin key):
requests valid by the document are accepted, invalid ones rejected, every response matches its
documented status, headers and schema, and nothing answers 5xx (but 503 `projection_lagging`).
Exits non-zero on any finding. Usage: MONGODB_URI=... python3 tests/api-contract/run.py
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from hashlib import sha256
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BINARY = ROOT / "target" / "debug" / "tenantry"
LOG = ROOT / "target" / "api-contract" / "server.log"
SEED = os.environ.get("API_CONTRACT_SEED", "1")
EXAMPLES = os.environ.get("API_CONTRACT_EXAMPLES", "50")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_ready(base, server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"tenantry serve exited ({server.returncode}); see {LOG}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    sys.exit(f"tenantry serve not ready after 60 s; see {LOG}")


def schemathesis(base, token, paths):
    # `python -m schemathesis.cli` (the `st` script may not be on PATH where pip put it).
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"), "run", base + "/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--include-path-regex", paths,
        # An import's body is a stream of NDJSON lines, which no JSON Schema describes (and
        # schemathesis cannot send): tests/api/transfer.rs covers it.
        "--exclude-path-regex", "/import$",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", EXAMPLES,
        "--seed", SEED,
        "--generation-database", "none",
        "--no-color",
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=str(HERE))
    print(f"==> schemathesis over {paths}", flush=True)
    # Its working directory is under target/: schemathesis keeps a cache where it runs.
    return subprocess.run(command, env=env, cwd=LOG.parent).returncode


def main():
    mongodb = os.environ.get("MONGODB_URI")
    if not mongodb:
        sys.exit("MONGODB_URI is required")
    if not BINARY.exists():
        sys.exit(f"{BINARY} is missing: build it first (cargo build -p tenantry-api)")
    admin_key = secrets.token_hex(24)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        TENANTRY_MONGODB_URI=mongodb,
        TENANTRY_LISTEN=f"127.0.0.1:{port}",
        TENANTRY_ADMIN_KEY_SHA256=sha256(admin_key.encode()).hexdigest(),
        TENANTRY_JWT_SECRET=secrets.token_hex(32),
        TENANTRY_PROJECTION_WAIT_MS="200",
    )
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as log:
        server = subprocess.Popen([str(BINARY), "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_ready(base, server)
        tenant = f"contract-{secrets.token_hex(4)}"
        call(base, "POST", "/admin/tenants", admin_key, {"id": tenant, "name": "API contract"})
        token = call(base, "POST", f"/admin/tenants/{tenant}/tokens", admin_key,
                     {"sub": "schemathesis", "roles": ["admin"]})["token"]
        call(base, "POST", "/v1/products", token,
             {"sku": "contract-1", "name": "Contract", "price_cents": 100, "stock": 1000})
        # The tenant routes first: the admin run may suspend or delete any tenant it names.
        failed = schemathesis(base, token, "^/v1/")
        failed |= schemathesis(base, admin_key, "^/(admin|healthz|readyz|metrics|openapi)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if failed:
        sys.exit(f"schemathesis found mismatches between the server and /openapi.json (log: {LOG})")
    print("==> the server and /openapi.json agree", flush=True)


if __name__ == "__main__":
    main()
