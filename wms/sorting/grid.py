"""The project's own sortation grid, generated from a few parameters.

Chutes are blocked cells in a regular pattern; a robot drops a parcel from one of the four cells
beside a chute (its eject cells). Induct stations sit along the bottom row, chargers and parking
along the top row; or, with two induct sides, inducts along the bottom and top rows and chargers and
parking along the left and right columns. Cell (x, y) is node ``"G{x}_{y}"``; one cell is ``cell_m`` metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from wms.config import Sortation


def cell(x: int, y: int) -> str:
    """Node name of grid cell (x, y)."""
    return f"G{x}_{y}"


@dataclass
class Chute:
    """A chute: where parcels for one destination fall into a bag."""

    chute: str
    x: int
    y: int
    eject: list[str]
    induct_distance: float = 0.0


@dataclass
class SortGrid:
    """Cells robots may use, chutes, induct cells, chargers and parking."""

    width: int
    height: int
    cell_m: float
    graph: nx.Graph
    chutes: list[Chute]
    inducts: list[str]
    chargers: list[str]
    parking: list[str]
    pos: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lengths: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def path(self, a: str, b: str) -> list[str]:
        """Shortest cell sequence from ``a`` to ``b``."""
        return nx.shortest_path(self.graph, a, b)

    def adjacent(self) -> dict[str, list[str]]:
        """Each cell's neighbours (in a fixed order, so routes are reproducible)."""
        return {n: sorted(self.graph[n]) for n in sorted(self.graph)}

    def against_lanes(self, spacing: int) -> frozenset[tuple[str, str]]:
        """Moves against the lanes: between two rows of chutes one lane runs east and the next west,
        and likewise north and south between two columns; rows and columns of chutes have no direction."""

        def way(k: int) -> int:
            r = (k - 2) % spacing
            return 0 if r == 0 else 1 if r % 2 else -1

        moves = set()
        for a in self.graph:
            for b in self.graph[a]:
                (xa, ya), (xb, yb) = self.pos[a], self.pos[b]
                dx, dy = round((xb - xa) / self.cell_m), round((yb - ya) / self.cell_m)
                lane = way(round(ya / self.cell_m)) if dy == 0 else way(round(xa / self.cell_m))
                if lane and lane != dx + dy:
                    moves.add((a, b))
        return frozenset(moves)

    def homes(self) -> list[str]:
        """Cells for robots to start on, one each: parking, chargers, then the rows below, top down."""
        work = set(self.inducts) | {e for c in self.chutes for e in c.eject}
        rest = sorted(
            (n for n in self.pos if n not in work and n not in self.parking and n not in self.chargers),
            key=lambda n: (-self.pos[n][1], self.pos[n][0]),
        )
        return [*self.parking, *self.chargers, *rest]

    def distance(self, a: str, b: str) -> float:
        """Shortest travel distance in metres (one breadth-first search per source, cached)."""
        lengths = self._lengths.get(a)
        if lengths is None:
            lengths = self._lengths[a] = nx.single_source_shortest_path_length(self.graph, a)
        return lengths[b] * self.cell_m


def _spread(width: int, n: int) -> list[int]:
    """``n`` positions spread evenly over ``width`` cells (inducts along a row, chargers along the edge)."""
    return [round((k + 0.5) * width / n) for k in range(n)]


def build_grid(cfg: Sortation, chargers: int) -> SortGrid:
    """Generate the grid: chutes every ``chute_spacing`` cells inside a travel border."""
    w, h, sp = cfg.width, cfg.height, cfg.chute_spacing
    blocked: set[tuple[int, int]] = set()
    chutes: list[Chute] = []
    bottom = cfg.inducts if cfg.induct_sides == 1 else (cfg.inducts + 1) // 2
    top = cfg.inducts - bottom
    induct_cells = [(x, 0) for x in _spread(w, bottom)] + [(x, h - 1) for x in _spread(w, top)]
    inducts = [cell(x, y) for x, y in induct_cells]
    at_induct = {(x, 1 if y == 0 else h - 2) for x, y in induct_cells}
    for cy in range(2, h - 2, sp):
        for cx in range(2, w - 2, sp):
            blocked.add((cx, cy))
            # the cell right above an induct is the way into it: robots do not stop there to drop
            sides = ((0, -1), (-1, 0), (1, 0), (0, 1))
            ej = [cell(cx + dx, cy + dy) for dx, dy in sides if (cx + dx, cy + dy) not in at_induct]
            chutes.append(Chute(chute=f"C{len(chutes) + 1:03d}", x=cx, y=cy, eject=ej))
    g = nx.grid_2d_graph(w, h)
    g.remove_nodes_from(blocked)
    graph = nx.relabel_nodes(g, {n: cell(*n) for n in g.nodes})
    pos = {
        cell(x, y): (x * cfg.cell_m, y * cfg.cell_m)
        for x in range(w)
        for y in range(h)
        if (x, y) not in blocked
    }
    edge = [cell(x, y) for x, y in cfg.edge()]
    charger_cells = [edge[i] for i in _spread(len(edge), chargers)]
    parking = [c for c in edge if c not in charger_cells]
    grid = SortGrid(w, h, cfg.cell_m, graph, chutes, inducts, charger_cells, parking, pos)
    lengths = [nx.single_source_shortest_path_length(graph, i) for i in inducts]
    for ch in chutes:
        ch.induct_distance = min(min(ls[e] for e in ch.eject) for ls in lengths) * cfg.cell_m
    chutes.sort(key=lambda c: (c.induct_distance, c.chute))
    return grid
