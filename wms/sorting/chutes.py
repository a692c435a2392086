"""Chute plan with OR-Tools: destinations (carrier x route) to chutes, re-planned per wave.

Each destination gets chutes in proportion to its expected volume (D'Hondt, which minimises the largest
expected load of any chute); a min-cost flow then places them: high expected load per chute near the
inducts and, when re-planning, destinations kept on their current chutes.
A few chutes are held back as overflow: ``ChuteRouter`` diverts a parcel there while its chute's bag is
full, until the bag is swapped.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

from wms.sorting.distances import Distances
from wms.sorting.maps import SortMap

Dest = tuple[str, str]


@dataclass(frozen=True)
class Destination:
    """A carrier's route and its expected parcels in the wave."""

    carrier: str
    route: str
    volume: float

    @property
    def key(self) -> Dest:
        """(carrier, route)."""
        return (self.carrier, self.route)


@dataclass(frozen=True)
class ChuteSite:
    """A chute as the plan sees it: its travel distance from the nearest induct and that induct's zone."""

    name: str
    induct_distance: float
    zone: int = 0


@dataclass
class ChutePlan:
    """Destination to chutes, the overflow chutes, and the expected load of every assigned chute."""

    chutes: dict[Dest, list[str]]
    overflow: list[str]
    load: dict[str, float] = field(default_factory=dict)
    objective: float = 0.0

    def chute_of(self) -> dict[str, Dest]:
        """Assigned chute to its destination."""
        return {c: d for d, cs in self.chutes.items() for c in cs}

    def weights(self, names: Sequence[str]) -> np.ndarray:
        """Share of parcels each named chute is expected to get (0 for unassigned and overflow chutes)."""
        w = np.array([self.load.get(n, 0.0) for n in names], dtype=float)
        return w / w.sum() if w.sum() > 0 else w


def apportion(volumes: Sequence[float], chutes: int) -> list[int]:
    """Chutes per destination: one each, the rest by D'Hondt (minimises the largest load per chute)."""
    if chutes < len(volumes):
        raise ValueError(f"{len(volumes)} destinations need at least {len(volumes)} chutes, have {chutes}")
    counts = [1] * len(volumes)
    heap = [(-v / 2.0, i) for i, v in enumerate(volumes)]
    heapq.heapify(heap)
    for _ in range(chutes - len(volumes)):
        _, i = heapq.heappop(heap)
        counts[i] += 1
        heapq.heappush(heap, (-volumes[i] / (counts[i] + 1), i))
    return counts


def sites_from_map(m: SortMap, dist: Distances) -> list[ChuteSite]:
    """Chute sites of a sort map: distance from the nearest induct to the chute's nearest eject cell."""
    to_chute = np.array(
        [[dist.to(m.cells + k)[i] for i in m.inducts.tolist()] for k in range(m.chutes)], dtype=float
    )
    return [
        ChuteSite(m.chute_names[k], float(to_chute[k].min()), int(to_chute[k].argmin()))
        for k in range(m.chutes)
    ]


def plan_chutes(
    destinations: Sequence[Destination],
    sites: Sequence[ChuteSite],
    overflow: int = 1,
    previous: ChutePlan | None = None,
    stick: float = 0.5,
) -> ChutePlan:
    """Assign every destination its chutes and hold ``overflow`` chutes back (the farthest left over).

    A min-cost flow (OR-Tools) minimises sum(expected load per chute x distance to the nearest induct)
    minus ``stick`` x (load kept on the ``previous`` plan's chutes x mean distance). Because D'Hondt gives
    every chute about the same expected load, every induct's zone carries load in proportion to its chutes.
    """
    if overflow < 0 or len(sites) - overflow < len(destinations):
        raise ValueError(
            f"{len(destinations)} destinations + {overflow} overflow chutes do not fit on {len(sites)} chutes"
        )
    if not destinations:
        far = sorted(sites, key=lambda s: (-s.induct_distance, s.name))
        return ChutePlan({}, [s.name for s in far[:overflow]], {})
    vol = [max(d.volume, 0.0) for d in destinations]
    counts = apportion([v + 1e-9 for v in vol], len(sites) - overflow)
    per_chute = [v / k for v, k in zip(vol, counts, strict=True)]
    scale = 1000.0 / max(max(per_chute), 1e-9)
    dist = [s.induct_distance for s in sites]
    bonus = stick * max(float(np.mean(dist)), 1.0)
    prev = previous.chute_of() if previous else {}
    nd, nc = len(destinations), len(sites)
    source, sink = nd + nc, nd + nc + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs: dict[int, tuple[int, int]] = {}
    for i, k in enumerate(counts):
        flow.add_arc_with_capacity_and_unit_cost(source, i, k, 0)
    for i, d in enumerate(destinations):
        for j, site in enumerate(sites):
            kept = bonus if prev.get(site.name) == d.key else 0.0
            cost = round(per_chute[i] * scale * (dist[j] - kept) * 10)
            arcs[flow.add_arc_with_capacity_and_unit_cost(i, nd + j, 1, cost)] = (i, j)
    for j in range(nc):
        flow.add_arc_with_capacity_and_unit_cost(nd + j, sink, 1, 0)
    flow.set_node_supply(source, sum(counts))
    flow.set_node_supply(sink, -sum(counts))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise ValueError(f"no chute plan found (min-cost flow status {status})")
    chutes: dict[Dest, list[str]] = {d.key: [] for d in destinations}
    loads: dict[str, float] = {}
    used: set[int] = set()
    for arc, (i, j) in arcs.items():
        if flow.flow(arc):
            chutes[destinations[i].key].append(sites[j].name)
            loads[sites[j].name] = per_chute[i]
            used.add(j)
    index = {s.name: j for j, s in enumerate(sites)}
    for cs in chutes.values():
        cs.sort(key=lambda c: (dist[index[c]], c))
    spare = sorted((j for j in range(nc) if j not in used), key=lambda j: (dist[j], sites[j].name))
    return ChutePlan(
        chutes, [sites[j].name for j in spare[:overflow]], loads, flow.optimal_cost() / scale / 10
    )


class ChuteRouter:
    """Sends each parcel to its destination's emptiest chute, or to an overflow chute while all are full."""

    def __init__(self, plan: ChutePlan, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("bag capacity must be at least 1")
        self.plan = plan
        self.capacity = capacity
        self.fill: dict[str, int] = {}
        self.diverted = 0

    def full(self, chute: str) -> bool:
        """The chute's bag is full."""
        return self.fill.get(chute, 0) >= self.capacity

    def route(self, dest: Dest) -> str | None:
        """Chute for the next parcel to ``dest`` (counted into its bag); None when every bag that could
        take it is full."""
        own = [c for c in self.plan.chutes.get(dest, []) if not self.full(c)]
        if own:
            chute = min(own, key=lambda c: self.fill.get(c, 0))
        else:
            spare = [c for c in self.plan.overflow if not self.full(c)]
            if not spare:
                return None
            chute = spare[0]
            self.diverted += 1
        self.fill[chute] = self.fill.get(chute, 0) + 1
        return chute

    def swap_bag(self, chute: str) -> int:
        """An operator swapped the chute's bag; returns how many parcels the old bag held."""
        return self.fill.pop(chute, 0)

    def replan(self, plan: ChutePlan) -> None:
        """Take a new wave's plan; bags keep their fill."""
        self.plan = plan
