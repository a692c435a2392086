"""The storage block as a networkx graph with a numpy distance oracle, and its slots.

Aisle ``i`` runs along x = i × pitch from y = 0 (front cross aisle) to y = L (back cross aisle).
Bay ``b`` of an aisle is picked at y = (b + ½) × bay width. Pack stations and chargers sit in front
of the block and connect to the front cross aisle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from wms.config import Storage
from wms.domain import Point, Zone


@dataclass(frozen=True, slots=True)
class Slot:
    """A storage slot as planners see it."""

    slot: str
    zone: Zone
    aisle: int
    bay: int
    level: int
    node: str
    volume_l: float
    max_kg: float
    hazard_ok: bool
    travel_m: float


PATHS_KEPT = 1 << 16  # shortest paths a Layout remembers (robots drive between the same few nodes)


def bay_node(aisle: int, bay: int) -> str:
    """Graph node where bay ``bay`` of aisle ``aisle`` is picked."""
    return f"A{aisle:02d}-{bay:02d}"


class Layout:
    """Graph of aisles and cross aisles with all-pairs shortest distances precomputed."""

    def __init__(self, storage: Storage, pack_stations: int, chargers: int) -> None:
        self.storage = storage
        self.graph = nx.Graph()
        self.pos: dict[str, Point] = {}
        length = storage.aisle_length_m
        cross_ys = [0.0, length] if storage.cross_aisles == 2 else [0.0, length / 2, length]
        for a in range(storage.aisles):
            x = a * storage.aisle_pitch_m
            ys = sorted(
                {*cross_ys, *((b + 0.5) * storage.bay_width_m for b in range(storage.bays_per_aisle))}
            )
            names = []
            for y in ys:
                name = self._aisle_node(a, y, cross_ys)
                self.pos[name] = Point(x, y)
                names.append(name)
            for u, v in zip(names, names[1:], strict=False):
                self._edge(u, v)
            if a > 0:
                for k in range(len(cross_ys)):
                    self._edge(f"X{k}-{a - 1:02d}", f"X{k}-{a:02d}")
        width = (storage.aisles - 1) * storage.aisle_pitch_m
        self.pack_nodes = self._front_row("PACK", pack_stations, width, -2.0)
        self.charger_nodes = self._front_row("CHG", chargers, width, -4.0)
        self.depot = self.pack_nodes[0]
        self.nodes: list[str] = list(self.graph.nodes)
        self.index: dict[str, int] = {n: i for i, n in enumerate(self.nodes)}
        self._paths: dict[tuple[str, str], tuple[str, ...]] = {}  # the graph never changes: paths neither

    def _aisle_node(self, aisle: int, y: float, cross_ys: list[float]) -> str:
        if y in cross_ys:
            return f"X{cross_ys.index(y)}-{aisle:02d}"
        return bay_node(aisle, int(y / self.storage.bay_width_m))

    def _edge(self, u: str, v: str) -> None:
        pu, pv = self.pos[u], self.pos[v]
        self.graph.add_edge(u, v, weight=abs(pu.x - pv.x) + abs(pu.y - pv.y))

    def _front_row(self, prefix: str, n: int, width: float, y: float) -> list[str]:
        names = []
        for k in range(n):
            x = width * (k + 0.5) / n
            aisle = min(round(x / self.storage.aisle_pitch_m), self.storage.aisles - 1)
            name = f"{prefix}{k + 1}"
            self.pos[name] = Point(x, y)
            self._edge(name, f"X0-{aisle:02d}")
            names.append(name)
        return names

    @cached_property
    def dist(self) -> np.ndarray:
        """The distance matrix, computed at first use: a layout wanted for its positions needs none."""
        return self._distances()

    def _distances(self) -> np.ndarray:
        """All-pairs shortest distances (Floyd–Warshall on numpy: a few hundred nodes in milliseconds)."""
        n = len(self.nodes)
        dist = np.full((n, n), np.inf)
        np.fill_diagonal(dist, 0.0)
        for a, b, w in self.graph.edges(data="weight"):
            i, j = self.index[a], self.index[b]
            dist[i, j] = dist[j, i] = min(dist[i, j], w)
        for k in range(n):
            np.minimum(dist, dist[:, k, None] + dist[None, k, :], out=dist)
        return np.round(dist, 9)  # the same metres whatever the order sums were taken in

    def distance(self, a: str, b: str) -> float:
        """Shortest travel distance in metres between two nodes."""
        return float(self.dist[self.index[a], self.index[b]])

    def path(self, a: str, b: str) -> list[str]:
        """Shortest node sequence from ``a`` to ``b`` (both included)."""
        found = self._paths.get((a, b))
        if found is None:
            if len(self._paths) >= PATHS_KEPT:
                self._paths.clear()
            found = self._paths[(a, b)] = self._descend(a, b)
        return list(found)

    def _descend(self, a: str, b: str) -> tuple[str, ...]:
        """A shortest path read off the distance matrix: from each node, the first neighbour (in the
        graph's order) whose edge plus its distance to ``b`` is the node's own distance to ``b``.

        A few microseconds a node, where Dijkstra took about a millisecond a path on the city layout's
        thousand nodes; pick faces are many, so most pairs are new.
        """
        column = self.dist[:, self.index[b]].tolist()
        index, adjacency = self.index, self.graph.adj
        out, node = [a], a
        while node != b:
            left = column[index[node]]
            node = next(
                v for v, e in adjacency[node].items() if abs(e["weight"] + column[index[v]] - left) < 1e-6
            )
            out.append(node)
        return tuple(out)

    def turns(self, a: str, b: str) -> list[str]:
        """The shortest path from ``a`` to ``b`` by its ends and turning points only (`corners`).

        The same route as `path`, driven node to node over the same distance. A VDA 5050 order over it
        has a node where the robot changes direction, not one at every bay it drives past: the robot
        reports a state and takes an update far less often on the way (the picking floor has no cell
        reservations that would need them).
        """
        return corners(self.path(a, b), self.pos)

    def walk(self, stops: list[str]) -> list[str]:
        """Node sequence visiting ``stops`` in order along shortest paths."""
        out = [stops[0]]
        for a, b in zip(stops, stops[1:], strict=False):
            out += self.path(a, b)[1:]
        return out

    @cached_property
    def slots(self) -> list[Slot]:
        """Every slot of the block: two sides × bays × levels per aisle."""
        s = self.storage
        out = []
        for a in range(s.aisles):
            zone = Zone.DUTY_PAID if a >= s.aisles - s.duty_paid_aisles else Zone.BONDED
            for b in range(s.bays_per_aisle):
                node = bay_node(a, b)
                travel = self.distance(self.depot, node)
                for side in "LR":
                    for lvl in range(s.levels):
                        out.append(
                            Slot(
                                slot=f"S{a:02d}{side}{b:02d}-{lvl}",
                                zone=zone,
                                aisle=a,
                                bay=b,
                                level=lvl,
                                node=node,
                                volume_l=s.slot_volume_l,
                                max_kg=s.slot_max_kg,
                                hazard_ok=a in s.hazard_aisles,
                                travel_m=travel,
                            )
                        )
        return out


def corners(path: list[str], pos: Mapping[str, Point]) -> list[str]:
    """``path`` without the nodes it passes straight through: both ends, every turn and reversal stay."""
    if len(path) < 3:
        return list(path)
    out = [path[0]]
    for prev, node, nxt in zip(path, path[1:], path[2:], strict=False):
        p, q, r = pos[prev], pos[node], pos[nxt]
        cross = (q.x - p.x) * (r.y - q.y) - (q.y - p.y) * (r.x - q.x)
        ahead = (q.x - p.x) * (r.x - q.x) + (q.y - p.y) * (r.y - q.y)
        if abs(cross) > 1e-9 or ahead <= 0:
            out.append(node)
    out.append(path[-1])
    return out
