#!/usr/bin/env python3
"""Checks that the workspace's rust-version is true: not older than the newest rust-version that
a dependency built on Linux declares (from `cargo metadata`, so the lockfile's versions).

Usage: python3 scripts/msrv.py   (prints the MSRV and the dependencies that set it; exit 1 if
the workspace claims less).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = "x86_64-unknown-linux-gnu"


def version(text: str) -> tuple[int, int, int]:
    """"1.89" and "1.89.0" alike, as (1, 89, 0)."""
    parts = [int(part) for part in text.split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


def dependencies_rust_versions() -> list[tuple[tuple[int, int, int], str]]:
    """(rust-version, name@version) of every package the Linux build uses."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", TARGET],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    metadata = json.loads(out)
    used = {node["id"] for node in metadata["resolve"]["nodes"]}
    used -= set(metadata["workspace_members"])
    return [
        (version(p["rust_version"]), f"{p['name']}@{p['version']}")
        for p in metadata["packages"]
        if p["id"] in used and p.get("rust_version")
    ]


def main() -> int:
    with open(ROOT / "Cargo.toml", "rb") as f:
        claimed = tomllib.load(f)["workspace"]["package"]["rust-version"]
    needed = dependencies_rust_versions()
    newest = max(v for v, _ in needed)
    by = sorted(name for v, name in needed if v == newest)
    shown = ".".join(map(str, newest))
    if version(claimed) < newest:
        print(f"rust-version = {claimed!r} is false: {', '.join(by)} need(s) {shown}")
        return 1
    print(f"rust-version {claimed}: the newest a dependency declares is {shown} ({', '.join(by)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
