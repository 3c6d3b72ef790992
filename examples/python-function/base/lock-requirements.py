"""Print a Poetry lock file's packages as a pip requirements file with hashes.

    python3 lock-requirements.py poetry.lock [--group main] > requirements.txt

Every package of the group is pinned (`name==version`) with the sha256 of every file the lock
lists, and keeps its environment marker, so `pip download`/`pip install --require-hashes`
fetch and install exactly what Poetry locked. Standard library only (tomllib): it runs before
any environment exists, on the host, to build the base image.
"""

from __future__ import annotations

import argparse
import sys
import tomllib


def requirements(lock: dict, group: str) -> list[str]:
    lines = []
    for package in sorted(lock["package"], key=lambda p: p["name"]):
        if group not in package.get("groups", ["main"]):
            continue
        markers = package.get("markers")
        if isinstance(markers, dict):  # per-group markers
            markers = markers.get(group)
        line = f"{package['name']}=={package['version']}"
        if markers:
            line += f" ; {markers}"
        hashes = sorted({f["hash"] for f in package["files"]})
        if not hashes:
            raise SystemExit(f"{package['name']} {package['version']}: the lock lists no files")
        lines.append(" \\\n    ".join([line, *(f"--hash={h}" for h in hashes)]))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lock")
    ap.add_argument("--group", default="main")
    args = ap.parse_args()
    with open(args.lock, "rb") as f:
        lock = tomllib.load(f)
    lines = requirements(lock, args.group)
    if not lines:
        raise SystemExit(f"{args.lock}: no package in group {args.group!r}")
    print(f"# generated from {args.lock} (group {args.group}) by lock-requirements.py")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
