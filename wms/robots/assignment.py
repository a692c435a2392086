"""Task assignment of the walking skeleton: each task, oldest first, to the nearest idle robot."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def nearest_idle(
    tasks: Sequence[str], robots: Sequence[str], cost: Callable[[str, str], float]
) -> list[tuple[str, str]]:
    """Greedy pairs (task, robot): tasks in the given order each take the cheapest remaining robot."""
    free = list(robots)
    pairs: list[tuple[str, str]] = []
    for task in tasks:
        if not free:
            break
        robot = min(free, key=lambda r: (cost(task, r), r))
        free.remove(robot)
        pairs.append((task, robot))
    return pairs
