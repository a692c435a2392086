"""Compare two ``wms bench day --json`` files, ignoring wall time, memory and other timing fields.

Usage: ``python tools/day_diff.py old.json new.json``; prints every difference (path: old != new) and
exits 1 if there is any, 0 if the simulated days are identical.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TIMING_KEYS = frozenset(
    {
        "wall",
        "wall_s",
        "rss_mb",
        "peak_rss_mb",
        "planner_peak_rss_mb",
        "cpu_s",
        "controller_s",  # the split of the loop's seconds by owner: timing too
        "simulators_s",
        "seconds",
        "controller_ms_per_order",
        "simulators_ms_per_order",
        "callbacks_s",  # the world process's loop seconds by owner
        "controller_waited_s",  # wall seconds the controller waited for the world
        "world_peak_rss_mb",
    }
)


def _skip(key: str) -> bool:
    """Whether a field is about the run's wall time or memory, not about the simulated day."""
    return key in TIMING_KEYS or key.startswith(("wall time", "peak memory", "CPU s"))


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Every difference between ``a`` and ``b`` outside the timing fields, as ``path: a != b`` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            if _skip(key):
                continue
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(f"{where}: only in {'new' if key not in a else 'old'}")
            else:
                out += diff(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{path}: {len(a)} items != {len(b)} items"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def main(argv: list[str]) -> int:
    """Print the differences of the two files named in ``argv``; 1 if any."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f, open(argv[1]) as g:
        lines = diff(json.load(f), json.load(g))
    for line in lines[:200]:
        print(line)
    if len(lines) > 200:
        print(f"... and {len(lines) - 200} more")
    print(f"{len(lines)} differences" if lines else "identical (timing fields ignored)")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
