#!/usr/bin/env python3
"""Static checks of the Docker deployment files (no Docker engine needed).

Usage: python3 docker/check.py   (from anywhere; needs Python 3.11+ and PyYAML)

Parses docker/docker-compose.yml, the clusters override merged on top of it, docker/Dockerfile,
.env.example and .dockerignore, and asserts the properties the deployment relies on.
Prints "docker files: N checks passed" and exits 0, or lists every failure and exits 1.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - environment problem, not a check failure
    sys.exit("docker/check.py: PyYAML is required (pip install pyyaml)")

DOCKER_DIR = Path(__file__).resolve().parent
ROOT = DOCKER_DIR.parent
COMPOSE = DOCKER_DIR / "docker-compose.yml"
COMPOSE_CLUSTERS = DOCKER_DIR / "docker-compose.clusters.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

# Every configuration variable of the server: each must reach the tenantry container.
ENV_VARS = [
    "TENANTRY_LISTEN",
    "TENANTRY_MONGODB_URI",
    "TENANTRY_CLUSTERS",
    "TENANTRY_DB_PREFIX",
    "TENANTRY_BASE_DOMAINS",
    "TENANTRY_JWT_SECRET",
    "TENANTRY_JWT_PUBLIC_KEYS",
    "TENANTRY_JWKS_FILE",
    "TENANTRY_JWT_ISSUER",
    "TENANTRY_JWT_AUDIENCE",
    "TENANTRY_ADMIN_KEY_SHA256",
    "TENANTRY_LOG_FORMAT",
    "RUST_LOG",
]
# Workspace members (crates/devdb is deliberately not one and must stay out of the image).
def workspace_members() -> list[str]:
    """The workspace members, read from the root Cargo.toml (crates/<name>)."""
    import tomllib
    with open(ROOT / "Cargo.toml", "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    return [m.split("/", 1)[1] for m in members]


MEMBERS = workspace_members()
DEFAULT_URI = "mongodb://mongo:27017/?replicaSet=rs0"
SECOND_CLUSTER = "second=mongodb://mongo2:27017/?replicaSet=rs1"


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


# ----------------------------------------------------------------------------------------------
# Compose helpers
# ----------------------------------------------------------------------------------------------

def load_yaml(c: Checker, path: Path) -> dict:
    if not c.check(path.is_file(), f"{rel(path)} exists"):
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        c.check(False, f"{rel(path)} is valid YAML ({' '.join(str(e).split())})")
        return {}
    c.check(isinstance(data, dict) and isinstance(data.get("services"), dict),
            f"{rel(path)} is a compose file with a `services` mapping")
    return data if isinstance(data, dict) else {}


def env_dict(env: object) -> dict[str, str | None]:
    """Normalise `environment` (mapping or list of KEY[=VALUE]) to a dict."""
    if isinstance(env, dict):
        return {str(k): (None if v is None else str(v)) for k, v in env.items()}
    out: dict[str, str | None] = {}
    for item in env or []:
        key, sep, value = str(item).partition("=")
        out[key] = value if sep else None
    return out


def merge(base: object, override: object, key: str = "") -> object:
    """Approximation of `docker compose -f base -f override` merging, enough for these files."""
    if key == "environment":
        return {**env_dict(base), **env_dict(override)}
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base[k], v, k) if k in base else v
        return out
    if key in ("ports", "volumes") and isinstance(base, list) and isinstance(override, list):
        return base + [v for v in override if v not in base]
    return override


def as_text(value: object) -> str:
    """A command/test (string or list) as one string."""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def as_args(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else as_text(value).split()


def named_volume_for(service: dict, target: str, top_volumes: dict) -> str | None:
    """Name of the named volume mounted at `target`, if it is declared at the top level."""
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            src, dst, kind = vol.get("source"), vol.get("target"), vol.get("type", "volume")
        else:
            parts = str(vol).split(":")
            src, dst = (parts[0], parts[1]) if len(parts) >= 2 else (None, parts[0])
            kind = "volume" if src and not src.startswith(("/", ".", "~", "$")) else "bind"
        if dst == target and kind == "volume" and src in top_volumes:
            return src
    return None


def port_mappings(service: dict) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) for each entry of `ports`."""
    out = []
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out.append((str(p.get("host_ip", "")), str(p.get("published", "")), str(p.get("target", ""))))
            continue
        parts = str(p).split("/")[0].split(":")
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            out.append(("", parts[0], parts[1]))
        else:
            out.append(("", "", parts[0]))
    return out


def check_mongo(c: Checker, label: str, compose: dict, name: str, rs: str) -> None:
    services = compose.get("services") or {}
    svc = services.get(name)
    if not c.check(isinstance(svc, dict), f"{label}: service `{name}` exists"):
        return
    c.check(str(svc.get("image", "")).startswith("mongo:7"), f"{label}: `{name}` uses image mongo:7")
    args = as_args(svc.get("command"))
    c.check("--replSet" in args and args[args.index("--replSet") + 1:][:1] == [rs],
            f"{label}: `{name}` runs with `--replSet {rs}`")
    c.check("--bind_ip_all" in args, f"{label}: `{name}` runs with `--bind_ip_all`")
    hc = svc.get("healthcheck")
    if c.check(isinstance(hc, dict) and hc.get("test") and not hc.get("disable"),
               f"{label}: `{name}` has a healthcheck"):
        test = as_text(hc["test"])
        c.check("mongosh" in test, f"{label}: `{name}` healthcheck uses mongosh")
        c.check("rs.initiate" in test and re.search(r"_id\s*:\s*['\"]" + re.escape(rs) + r"['\"]", test),
                f"{label}: `{name}` healthcheck initiates replica set {rs} (rs.initiate)")
        c.check(re.search(r"host\s*:\s*['\"]" + re.escape(name) + r":27017['\"]", test),
                f"{label}: `{name}` replica-set member host is '{name}:27017'")
    top_volumes = compose.get("volumes") or {}
    c.check(named_volume_for(svc, "/data/db", top_volumes),
            f"{label}: `{name}` stores /data/db on a named volume declared under top-level `volumes`")


def check_tenantry(c: Checker, label: str, compose: dict, mongos: list[str], fixed: dict[str, str]) -> None:
    svc = (compose.get("services") or {}).get("tenantry")
    if not c.check(isinstance(svc, dict), f"{label}: service `tenantry` exists"):
        return
    build = svc.get("build")
    c.check(isinstance(build, dict) and build.get("context") == ".."
            and build.get("dockerfile") == "docker/Dockerfile",
            f"{label}: `tenantry` builds with context `..` and dockerfile `docker/Dockerfile`")
    if isinstance(build, dict) and build.get("context") and build.get("dockerfile"):
        c.check((DOCKER_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE,
                f"{label}: `tenantry` build resolves to {rel(DOCKERFILE)}")

    deps = svc.get("depends_on")
    for m in mongos:
        c.check(isinstance(deps, dict) and isinstance(deps.get(m), dict)
                and deps[m].get("condition") == "service_healthy",
                f"{label}: `tenantry` depends_on `{m}` with condition service_healthy")

    hc = svc.get("healthcheck")
    c.check(isinstance(hc, dict) and "/healthz" in as_text(hc.get("test")) and not hc.get("disable"),
            f"{label}: `tenantry` has a healthcheck on /healthz")

    ports = port_mappings(svc)
    c.check(ports and all(h == "127.0.0.1" and t == "8080" for h, _, t in ports),
            f"{label}: `tenantry` publishes container port 8080 on 127.0.0.1 only (got {ports})")

    env = env_dict(svc.get("environment"))
    missing = [v for v in ENV_VARS if v not in env]
    c.check(not missing, f"{label}: `tenantry` environment passes {', '.join(missing)}")
    for var, value in env.items():
        if var in fixed:
            c.check(value == fixed[var], f"{label}: `tenantry` sets {var}={fixed[var]} (got {value!r})")
        elif value is not None:
            # Passed from the environment: the value must interpolate the variable of the same name.
            refs = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", value)
            c.check(refs == [var], f"{label}: `tenantry` {var} is taken from ${{{var}}} (got {value!r})")
    c.check(DEFAULT_URI in (env.get("TENANTRY_MONGODB_URI") or ""),
            f"{label}: TENANTRY_MONGODB_URI defaults to {DEFAULT_URI}")


def check_compose(c: Checker) -> None:
    base = load_yaml(c, COMPOSE)
    override = load_yaml(c, COMPOSE_CLUSTERS)
    check_mongo(c, "compose", base, "mongo", "rs0")
    check_tenantry(c, "compose", base, ["mongo"], {"TENANTRY_LISTEN": "0.0.0.0:8080"})

    clusters = merge(base, override)
    label = "compose+clusters"
    check_mongo(c, label, clusters, "mongo", "rs0")
    check_mongo(c, label, clusters, "mongo2", "rs1")
    vols = [named_volume_for(clusters.get("services", {}).get(m) or {}, "/data/db", clusters.get("volumes") or {})
            for m in ("mongo", "mongo2")]
    c.check(None not in vols and vols[0] != vols[1], f"{label}: each mongo has its own named volume")
    check_tenantry(c, label, clusters, ["mongo", "mongo2"],
                   {"TENANTRY_LISTEN": "0.0.0.0:8080", "TENANTRY_CLUSTERS": SECOND_CLUSTER})


# ----------------------------------------------------------------------------------------------
# Dockerfile
# ----------------------------------------------------------------------------------------------

def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; comments dropped, line continuations joined."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        full = (buf + line).strip()
        buf = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    if buf.strip():
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def copy_sources(args: str) -> list[str]:
    """Source paths of a COPY instruction (flags dropped, destination dropped)."""
    if args.lstrip().startswith("["):
        parts = json.loads(args[args.index("["):])
    else:
        parts = [p for p in args.split() if not p.startswith("--")]
    return [p.rstrip("/") or "/" for p in parts[:-1]]


def check_dockerfile(c: Checker) -> None:
    if not c.check(DOCKERFILE.is_file(), f"{rel(DOCKERFILE)} exists"):
        return
    instrs = parse_dockerfile(DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for ins in instrs:
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    if not c.check(len(stages) >= 2, "Dockerfile: multi-stage build (at least two FROM)"):
        return
    builder, runtime = stages[0], stages[-1]
    b_from = builder[0][1].split()
    c.check(b_from[0].startswith("rust:1.95-bookworm") and len(b_from) == 3 and b_from[1].upper() == "AS",
            "Dockerfile: builder stage is `FROM rust:1.95-bookworm[-slim] AS <name>`")
    builder_name = b_from[2] if len(b_from) == 3 else ""
    c.check(runtime[0][1].split()[0] == "debian:bookworm-slim", "Dockerfile: runtime stage is debian:bookworm-slim")

    # Dependency-cache layer: manifests + lockfile copied, then a cargo build, then the sources.
    builds = [i for i, (ins, a) in enumerate(builder) if ins == "RUN" and "cargo build" in a]
    if c.check(len(builds) >= 2, "Dockerfile: builder runs `cargo build` twice (dependencies, then sources)"):
        first, last = builds[0], builds[-1]
        before = [s for ins, a in builder[:first] if ins == "COPY" for s in copy_sources(a)]
        between = [s for ins, a in builder[first:last] if ins == "COPY" for s in copy_sources(a)]
        wanted = ["Cargo.toml", "Cargo.lock"] + [f"crates/{m}/Cargo.toml" for m in MEMBERS]
        missing = [w for w in wanted if w not in before]
        c.check(not missing, f"Dockerfile: dependency layer copies manifests first (missing: {missing})")
        c.check(all(s in wanted or s.startswith(".cargo") for s in before),
                f"Dockerfile: nothing but manifests/cargo config copied before the dependency build ({before})")
        c.check(re.search(r"src/lib\.rs", builder[first][1]) and "main.rs" in builder[first][1],
                "Dockerfile: dependency build uses stub sources (src/lib.rs, src/main.rs)")
        missing_src = [m for m in MEMBERS if f"crates/{m}" not in between]
        c.check(not missing_src, f"Dockerfile: real sources copied after the dependency build (missing: {missing_src})")
        c.check("touch" in builder[last][1], "Dockerfile: copied sources are touched before the real build")
        final = builder[last][1]
        for flag in ("--release", "--locked", "-p tenantry-api", "--bin tenantry"):
            c.check(flag in final, f"Dockerfile: final cargo build uses `{flag}`")

    # crates/devdb (GPL) must never reach the image.
    all_sources = [s for ins, a in instrs if ins in ("COPY", "ADD") for s in copy_sources(a)]
    c.check(not any("devdb" in s for s in all_sources) and not any("devdb" in a for _, a in instrs),
            "Dockerfile: never references crates/devdb")
    c.check(not any(s in (".", "crates", "./crates", "/") for s in all_sources),
            f"Dockerfile: copies workspace members explicitly, not `.` or all of crates/ ({all_sources})")

    rt = {ins: [a for i, a in runtime if i == ins] for ins, _ in runtime}
    c.check(any("--from=" + builder_name in a for a in rt.get("COPY", [])),
            "Dockerfile: runtime copies the binary from the builder stage")
    run_rt = " ".join(rt.get("RUN", []))
    c.check("curl" in run_rt and "ca-certificates" in run_rt,
            "Dockerfile: runtime installs ca-certificates and curl")
    users = rt.get("USER", [])
    c.check(users and users[-1].split(":")[0] not in ("root", "0"), "Dockerfile: runtime runs as a non-root USER")
    c.check(any(re.search(r"(^|\s)8080(/tcp)?(\s|$)", a) for a in rt.get("EXPOSE", [])), "Dockerfile: EXPOSE 8080")
    env_text = " ".join(rt.get("ENV", []))
    c.check("TENANTRY_LISTEN=0.0.0.0:8080" in env_text, "Dockerfile: ENV TENANTRY_LISTEN=0.0.0.0:8080")
    c.check("TENANTRY_LOG_FORMAT=json" in env_text, "Dockerfile: ENV TENANTRY_LOG_FORMAT=json")
    hcs = rt.get("HEALTHCHECK", [])
    c.check(hcs and "CMD" in hcs[-1] and "/healthz" in hcs[-1], "Dockerfile: HEALTHCHECK on /healthz")

    def exec_form(ins: str) -> object:
        try:
            return json.loads(rt.get(ins, ["null"])[-1])
        except json.JSONDecodeError:
            return None

    c.check(exec_form("ENTRYPOINT") == ["tenantry"], 'Dockerfile: ENTRYPOINT ["tenantry"]')
    c.check(exec_form("CMD") == ["serve"], 'Dockerfile: CMD ["serve"]')


# ----------------------------------------------------------------------------------------------
# .env.example and .dockerignore
# ----------------------------------------------------------------------------------------------

def check_env_example(c: Checker) -> None:
    if not c.check(ENV_EXAMPLE.is_file(), f"{rel(ENV_EXAMPLE)} exists"):
        return
    text = ENV_EXAMPLE.read_text()
    missing = [v for v in ENV_VARS if not re.search(rf"^#?\s*{v}=", text, re.M)]
    c.check(not missing, f".env.example documents every variable (missing: {missing})")
    bad = [ln for ln in text.splitlines()
           if ln.strip() and not ln.lstrip().startswith("#") and not re.match(r"^[A-Z_][A-Z0-9_]*=", ln)]
    c.check(not bad, f".env.example has only comments and KEY=value lines (bad: {bad})")


def check_dockerignore(c: Checker) -> None:
    if not c.check(DOCKERIGNORE.is_file(), f"{rel(DOCKERIGNORE)} exists"):
        return
    lines = {ln.strip().rstrip("/") for ln in DOCKERIGNORE.read_text().splitlines()
             if ln.strip() and not ln.startswith("#")}
    for pattern, why in (("crates/devdb", "GPL test tooling"), (".env", "secrets"),
                         ("**/target", "build output"), (".git", "history")):
        c.check(pattern in lines, f".dockerignore excludes {pattern} ({why})")


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main() -> int:
    c = Checker()
    check_compose(c)
    check_dockerfile(c)
    check_env_example(c)
    check_dockerignore(c)
    if c.failures:
        for f in c.failures:
            print(f"FAIL: expected {f}", file=sys.stderr)
        print(f"docker files: {len(c.failures)} of {c.passed + len(c.failures)} checks failed", file=sys.stderr)
        return 1
    print(f"docker files: {c.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
