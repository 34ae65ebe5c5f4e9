"""Server CPU by owner, from `perf script -F comm,tid,ip,sym` output (scripts/profile.sh).

Each sample is charged to the owner of its innermost frame (self time); a second table charges
allocator and memcpy samples to the nearest caller that is neither, to show who allocates.
"""

import re
import sys
from collections import Counter

OURS = "Tenantry (api, tenancy, cqrs, commerce, auth)"
KERNEL = "kernel (loopback TCP, scheduler, syscalls)"
OWNERS = [
    ("mongodb::", "mongodb driver"),
    ("bson::", "bson"),
    ("hyper", "hyper (HTTP/1)"),
    ("httparse", "hyper (HTTP/1)"),
    ("axum", "axum, tower, http"),
    ("tower", "axum, tower, http"),
    ("matchit", "axum, tower, http"),
    ("http::", "axum, tower, http"),
    ("tokio", "tokio runtime"),
    ("mio::", "tokio runtime"),
    ("moka", "moka caches"),
    ("crossbeam", "moka caches"),
    ("metrics", "metrics"),
    ("tracing", "tracing"),
    ("serde", "serde, serde_json"),
    ("jsonwebtoken", OURS),
    ("tenantry_", OURS),
    ("tenancy::", OURS),
    ("cqrs::", OURS),
    ("commerce::", OURS),
    ("governor", OURS),
    ("futures", "futures"),
    ("core::", "core, alloc, std, hashbrown"),
    ("alloc::", "core, alloc, std, hashbrown"),
    ("std::", "core, alloc, std, hashbrown"),
    ("hashbrown", "core, alloc, std, hashbrown"),
    ("__vdso", KERNEL),
]
# Frames that only move memory for someone else: charged to the nearest caller not among them.
PLUMBING = ("allocator (mimalloc)", "memcpy, memcmp", "core, alloc, std, hashbrown")
ALLOC = re.compile(r"_mi_|mi_|malloc|free|__rustc::__r")
COPY = re.compile(r"memmove|memcpy|memset|memcmp")


def owner(ip: str, sym: str) -> str:
    if ip.startswith("ffffffff"):
        return KERNEL
    if ALLOC.search(sym):
        return "allocator (mimalloc)"
    if COPY.search(sym):
        return "memcpy, memcmp"
    name = sym.lstrip("<")
    for pattern, who in OWNERS:
        if pattern in name:
            return who
    return "other"


def samples(path: str):
    """Yields each sample's frames as (ip, symbol), innermost first."""
    frames: list[tuple[str, str]] = []
    with open(path, errors="replace") as lines:
        for line in lines:
            if not line.strip():
                if frames:
                    yield frames
                frames = []
            elif line.startswith("\t"):
                ip, _, sym = line.strip().partition(" ")
                frames.append((ip, sym))
    if frames:
        yield frames


def table(title: str, counts: Counter, total: int) -> None:
    print(f"| {title} | share of server CPU samples |\n|---|---:|")
    for who, n in counts.most_common():
        print(f"| {who} | {100 * n / total:.1f} % |")
    print()


def main() -> None:
    by_owner, by_caller, total = Counter(), Counter(), 0
    for frames in samples(sys.argv[1]):
        total += 1
        leaf = owner(*frames[0])
        by_owner[leaf] += 1
        if leaf in ("allocator (mimalloc)", "memcpy, memcmp"):
            callers = (owner(*f) for f in frames[1:])
            caller = next((c for c in callers if c not in PLUMBING), "unknown (not unwound)")
            by_caller[caller] += 1
    if total == 0:
        sys.exit("no samples")
    table(f"Owner of the innermost frame ({total} samples)", by_owner, total)
    table("Allocation and copying, by nearest caller", by_caller, total)


if __name__ == "__main__":
    main()
