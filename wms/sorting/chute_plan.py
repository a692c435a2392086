"""Chute plan of the walking skeleton: each destination takes the first free chute nearest the inducts."""

from __future__ import annotations

from wms.sorting.grid import Chute


class FirstFreeChutePlan:
    """Destination (carrier, route) → chute, assigned on first demand from chutes ordered by distance."""

    def __init__(self, chutes: list[Chute]) -> None:
        self._order = [c.chute for c in sorted(chutes, key=lambda c: (c.induct_distance, c.chute))]
        self.assigned: dict[tuple[str, str], str] = {}

    def chute_for(self, carrier: str, route: str) -> str | None:
        """The destination's chute, taking a free one if it has none; None when every chute is taken."""
        key = (carrier, route)
        if key not in self.assigned:
            used = set(self.assigned.values())
            free = next((c for c in self._order if c not in used), None)
            if free is None:
                return None
            self.assigned[key] = free
        return self.assigned[key]
