"""The controller's chute plan: each destination gets chutes in proportion to its volume, spread out.

A destination (carrier, route) with one chute near the inducts draws every robot carrying its parcels to
one spot; with a dozen destinations and a hundred robots the aisles around those chutes lock up. Here the
chutes are dealt out row by row from the inducts in D'Hondt order, so every row holds chutes of every
destination in proportion to its share, and each induct sends a parcel to its destination's chute nearest
to it. The chutes farthest from the inducts (one by default) stay spare, for destinations the configuration
does not name (first come, first served).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence

from wms.config import Carrier
from wms.sorting.grid import Chute

Dest = tuple[str, str]


def seat_order(volumes: Sequence[float], seats: int) -> list[int]:
    """Destination indices in the order D'Hondt awards ``seats`` seats: one each first, largest first."""
    n = len(volumes)
    first = sorted(range(n), key=lambda i: (-volumes[i], i))[: min(n, seats)]
    order = list(first)
    chosen = set(first)
    count = [1 if i in chosen else 0 for i in range(n)]
    heap = [(-volumes[i] / 2.0, i) for i in first]
    heapq.heapify(heap)
    while len(order) < seats and heap:
        _, i = heapq.heappop(heap)
        order.append(i)
        count[i] += 1
        heapq.heappush(heap, (-volumes[i] / (count[i] + 1), i))
    return order


def destinations(carriers: Iterable[Carrier]) -> list[tuple[Dest, float]]:
    """Every (carrier, route) of the configuration with its expected share: the carrier's split evenly."""
    return [((c.code, r), c.share / len(c.routes)) for c in carriers for r in c.routes]


class SpreadChutePlan:
    """Destination → its chutes, and for a parcel the destination's chute nearest the induct it leaves."""

    def __init__(
        self,
        chutes: Sequence[Chute],
        dests: Sequence[tuple[Dest, float]],
        distance: Callable[[str, str], float],
        spare: int = 1,
    ) -> None:
        rows = sorted(chutes, key=lambda c: (c.induct_distance, c.y, c.x, c.chute))
        keep = max(len(rows) - spare, min(len(rows), len(dests)))
        order = seat_order([v for _, v in dests], keep)
        self.chutes: dict[Dest, list[Chute]] = {}
        for chute, i in zip(rows, order, strict=False):
            self.chutes.setdefault(dests[i][0], []).append(chute)
        self.spare = [c.chute for c in rows[len(order) :]]
        self.assigned: dict[Dest, str] = {}  # spare chutes taken by destinations outside the plan
        self._distance = distance
        self._by_id = {c.chute: c for c in chutes}
        self._nearest: dict[tuple[Dest, str], tuple[float, str]] = {}  # metres to it, the chute

    def chute_ids(self, carrier: str, route: str) -> list[str]:
        """The destination's chutes (a spare one, taken now, for a destination outside the plan)."""
        key = (carrier, route)
        planned = self.chutes.get(key)
        if planned:
            return [c.chute for c in planned]
        chute = self._spare_for(key)
        return [chute] if chute else []

    def chute_for(self, carrier: str, route: str, near: str) -> str | None:
        """The destination's chute whose eject cells are nearest ``near``; None when it has none."""
        found = self._nearest_chute(carrier, route, near)
        return None if found is None else found[1]

    def eject_m(self, carrier: str, route: str, near: str) -> float | None:
        """Metres from ``near`` to the nearest eject cell of that chute; None when there is no chute."""
        found = self._nearest_chute(carrier, route, near)
        return None if found is None else found[0]

    def _nearest_chute(self, carrier: str, route: str, near: str) -> tuple[float, str] | None:
        """(metres, chute) of `chute_for`, found once: a destination keeps its chutes once it has some."""
        key = (carrier, route)
        found = self._nearest.get((key, near))
        if found is None:
            ids = self.chute_ids(carrier, route)
            if not ids:
                return None
            found = self._nearest[(key, near)] = min(
                (min(self._distance(near, e) for e in self._by_id[c].eject), c) for c in ids
            )
        return found

    def restore(self, used: dict[Dest, str]) -> None:
        """After a restart: spare chutes that destinations outside the plan had taken stay theirs."""
        for key, chute in used.items():
            if key not in self.chutes and chute in self.spare and chute not in self.assigned.values():
                self.assigned[key] = chute

    def _spare_for(self, key: Dest) -> str | None:
        if key not in self.assigned:
            taken = set(self.assigned.values())
            free = next((c for c in self.spare if c not in taken), None)
            if free is None:
                return None
            self.assigned[key] = free
        return self.assigned[key]
