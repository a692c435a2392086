"""Pick routing of the walking skeleton: nearest neighbour over the layout's distance oracle."""

from __future__ import annotations

from collections.abc import Callable


def nearest_neighbour(start: str, stops: list[str], end: str, dist: Callable[[str, str], float]) -> list[str]:
    """Visit every stop, always going to the nearest unvisited one next, then go to ``end``."""
    left = list(dict.fromkeys(stops))
    route = [start]
    here = start
    while left:
        nxt = min(left, key=lambda s: (dist(here, s), s))
        left.remove(nxt)
        route.append(nxt)
        here = nxt
    route.append(end)
    return route


def route_length(route: list[str], dist: Callable[[str, str], float]) -> float:
    """Total travel of a route in metres."""
    return sum(dist(a, b) for a, b in zip(route, route[1:], strict=False))
