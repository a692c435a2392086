"""The picking block of the routing contract: parallel aisles, 2 or 3 cross aisles, a depot in front.

Aisle ``i`` runs along x = i × pitch from y = 0 to y = L; cross aisles run along y = 0, y = L (and
y = L/2 with three). A pick ``(aisle, position_m)`` is taken inside that aisle at that y. Travel is along
aisles and cross aisles only, so the shortest distance between two points has a closed form, which the
numpy oracle evaluates for whole sets of points at once; the networkx graph is the same geometry for
planners that want a graph (OR-Tools over several blocks, the controller's Layout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import networkx as nx
import numpy as np

if TYPE_CHECKING:
    from wms.layout import Layout


class PickError(ValueError):
    """A pick, layout or order that cannot be planned; the message names the row."""


class Pick(NamedTuple):
    """A point inside the block: picked from aisle ``aisle`` at ``position_m`` metres from the front."""

    aisle: int
    position_m: float


@dataclass(frozen=True, slots=True)
class Route:
    """A closed (or start-to-end) route: picks in visiting order and its length under the oracle."""

    method: str
    length_m: float
    sequence: tuple[int, ...]
    walk_m: float = field(default=math.nan)
    """Length of the path the method itself prescribes (a heuristic may walk further than its
    sequence needs); equal to ``length_m`` for exact and OR-Tools routes."""


@dataclass(frozen=True, slots=True)
class Block:
    """One block of parallel aisles with its cross aisles and its depot on the front cross aisle."""

    aisles: int
    aisle_length_m: float
    aisle_pitch_m: float
    cross_aisles: int = 2
    depot_aisle: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.aisles, int) and self.aisles >= 1):
            problems.append(f"aisles must be a whole number ≥ 1, got {self.aisles!r}")
        for key in ("aisle_length_m", "aisle_pitch_m"):
            v = getattr(self, key)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                problems.append(f"{key} must be a positive number, got {v!r}")
        if self.cross_aisles not in (2, 3):
            problems.append(f"cross_aisles must be 2 or 3, got {self.cross_aisles!r}")
        if not (isinstance(self.depot_aisle, int) and 0 <= self.depot_aisle < max(int(self.aisles), 1)):
            problems.append(f"depot_aisle {self.depot_aisle!r} is not one of the aisles 0..{self.aisles - 1}")
        if problems:
            raise PickError("layout: " + "; ".join(problems))

    @property
    def cross_ys(self) -> tuple[float, ...]:
        """The y of each cross aisle, front first."""
        length = float(self.aisle_length_m)
        return (0.0, length) if self.cross_aisles == 2 else (0.0, length / 2, length)

    @property
    def depot(self) -> Pick:
        """The depot as a point: front cross aisle at the x of the depot aisle."""
        return Pick(self.depot_aisle, 0.0)

    def x(self, aisle: int) -> float:
        """The x of an aisle."""
        return aisle * float(self.aisle_pitch_m)

    def check(self, picks: Sequence[tuple[int, float]], what: str = "pick") -> list[Pick]:
        """Validate points against the block, raising a PickError naming the first bad row."""
        out = []
        for i, p in enumerate(picks):
            try:
                aisle, pos = p
            except (TypeError, ValueError):
                raise PickError(f"{what} {i}: expected (aisle, position_m), got {p!r}") from None
            if isinstance(aisle, bool) or not isinstance(aisle, int | np.integer):
                raise PickError(f"{what} {i}: aisle must be a whole number, got {aisle!r}")
            if not 0 <= aisle < self.aisles:
                raise PickError(f"{what} {i}: aisle {aisle} does not exist (aisles 0..{self.aisles - 1})")
            if isinstance(pos, bool) or not isinstance(pos, int | float | np.floating | np.integer):
                raise PickError(f"{what} {i}: position_m must be a number, got {pos!r}")
            if not (math.isfinite(pos) and 0.0 <= pos <= self.aisle_length_m):
                raise PickError(
                    f"{what} {i}: position_m {pos} is outside aisle {aisle} (0..{self.aisle_length_m} m)"
                )
            out.append(Pick(int(aisle), float(pos)))
        return out

    def distances(
        self, a: Sequence[tuple[int, float]], b: Sequence[tuple[int, float]] | None = None
    ) -> np.ndarray:
        """Shortest travel distances between every point of ``a`` and every point of ``b`` (numpy)."""
        pa = np.asarray(a, dtype=float).reshape(-1, 2)
        pb = pa if b is None else np.asarray(b, dtype=float).reshape(-1, 2)
        xa, ya = pa[:, 0:1] * self.aisle_pitch_m, pa[:, 1:2]
        xb, yb = pb[:, 0][None, :] * self.aisle_pitch_m, pb[:, 1][None, :]
        via = np.min([np.abs(ya - c) + np.abs(yb - c) for c in self.cross_ys], axis=0)
        same = pa[:, 0:1] == pb[:, 0][None, :]
        return np.where(same, np.abs(ya - yb), np.abs(xa - xb) + via)

    def tour_matrix(self, picks: Sequence[tuple[int, float]]) -> np.ndarray:
        """Distance matrix over the depot (index 0) and the picks (index i + 1)."""
        return self.distances([self.depot, *picks])

    def sequence_length(self, picks: Sequence[tuple[int, float]], sequence: Sequence[int]) -> float:
        """Length of the closed route depot → picks in ``sequence`` order → depot under the oracle."""
        d = self.tour_matrix(picks)
        stops = [0, *(i + 1 for i in sequence), 0]
        return float(sum(d[u, v] for u, v in zip(stops, stops[1:], strict=False)))

    def graph(self, picks: Sequence[tuple[int, float]] = (), prefix: str = "") -> nx.Graph:
        """The aisles and cross aisles as a weighted graph, with a node ``{prefix}P{i}`` per pick.

        Cross-aisle nodes are ``{prefix}X{c}-{aisle}``, the depot is ``{prefix}D`` (attached to the front
        cross aisle at zero length); nodes carry ``pos`` = (x, y) for joining blocks into larger layouts.
        """
        g = nx.Graph()
        ys = self.cross_ys
        for a in range(self.aisles):
            x = self.x(a)
            points: dict[float, str] = {y: f"{prefix}X{c}-{a}" for c, y in enumerate(ys)}
            for pa, py in picks:
                if pa == a:
                    points.setdefault(float(py), f"{prefix}L{a}-{float(py)!r}")
            chain = sorted(points.items())
            for y, name in chain:
                g.add_node(name, pos=(x, y))
            for (y0, u), (y1, v) in zip(chain, chain[1:], strict=False):
                g.add_edge(u, v, weight=y1 - y0)
            for i, (pa, py) in enumerate(picks):
                if pa == a:
                    g.add_node(f"{prefix}P{i}", pos=(x, float(py)))
                    g.add_edge(f"{prefix}P{i}", points[float(py)], weight=0.0)
            if a > 0:
                for c in range(len(ys)):
                    g.add_edge(f"{prefix}X{c}-{a - 1}", f"{prefix}X{c}-{a}", weight=float(self.aisle_pitch_m))
        g.add_node(f"{prefix}D", pos=(self.x(self.depot_aisle), 0.0))
        g.add_edge(f"{prefix}D", f"{prefix}X0-{self.depot_aisle}", weight=0.0)
        return g

    @classmethod
    def from_storage(cls, storage: object) -> Block:
        """The block of a ``wms.config.Storage`` (the reference warehouse's storage section)."""
        return cls(
            aisles=storage.aisles,  # type: ignore[attr-defined]
            aisle_length_m=storage.aisle_length_m,  # type: ignore[attr-defined]
            aisle_pitch_m=storage.aisle_pitch_m,  # type: ignore[attr-defined]
            cross_aisles=storage.cross_aisles,  # type: ignore[attr-defined]
            depot_aisle=storage.depot_aisle,  # type: ignore[attr-defined]
        )


def layout_point(layout: Layout, block: Block, node: str) -> Pick | None:
    """Where a node of the controller's Layout lies in the block, or None if it is outside it."""
    pos = layout.pos.get(node)
    if pos is None:
        return None
    aisle = round(pos.x / block.aisle_pitch_m)
    if abs(aisle * block.aisle_pitch_m - pos.x) > 1e-9 or not 0 <= aisle < block.aisles:
        return None
    if not -1e-9 <= pos.y <= block.aisle_length_m + 1e-9:
        return None
    return Pick(aisle, min(max(pos.y, 0.0), block.aisle_length_m))
