"""Sort areas as plain arrays: loaders for RHCR ``.grid``, MovingAI / LoRR ``.map`` and the project's grid.

A cell is ``y * width + x``. ``moves[cell, d]`` says whether a robot may step from ``cell`` by ``DIRS[d]``;
waiting is always allowed. Every finite RHCR weight counts as a one-step move, ``inf`` forbids it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import networkx as nx
import numpy as np

from wms.sorting.grid import SortGrid

DIRS: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1))
"""Moves as (dx, dy): +x, -x, +y, -y. RHCR's NORTH is +y, SOUTH -y, EAST +x, WEST -x."""

_GRID_TYPES = ("Obstacle", "Travel", "Induct", "Eject")
_MAP_FREE, _MAP_BLOCKED = ".G", "@OTW"


class MapError(ValueError):
    """A sort area that does not parse or cannot host the run."""


@dataclass(frozen=True, eq=False)
class SortMap:
    """Passable cells, allowed moves, induct cells and chutes (each with its eject cells)."""

    name: str
    width: int
    height: int
    passable: np.ndarray
    moves: np.ndarray
    inducts: np.ndarray
    induct_names: tuple[str, ...]
    chute_names: tuple[str, ...]
    chute_ptr: np.ndarray
    chute_cells: np.ndarray

    @property
    def cells(self) -> int:
        """Number of cells, passable or not."""
        return self.width * self.height

    @property
    def chutes(self) -> int:
        """Number of chutes."""
        return len(self.chute_names)

    def ejects(self, chute: int) -> np.ndarray:
        """Eject cells of chute number ``chute``."""
        return self.chute_cells[self.chute_ptr[chute] : self.chute_ptr[chute + 1]]

    def xy(self, cell: int) -> tuple[int, int]:
        """(x, y) of a cell."""
        return int(cell) % self.width, int(cell) // self.width

    def successors(self) -> np.ndarray:
        """``succ[cell, d]``: the cell reached by move ``d``, or -1 when the move is not allowed."""
        succ = np.full((self.cells, 4), -1, dtype=np.int32)
        xs = np.arange(self.cells) % self.width
        ys = np.arange(self.cells) // self.width
        for d, (dx, dy) in enumerate(DIRS):
            nx, ny = xs + dx, ys + dy
            inside = (nx >= 0) & (nx < self.width) & (ny >= 0) & (ny < self.height)
            target = np.where(inside, ny * self.width + nx, 0)
            ok = self.moves[:, d] & inside & self.passable & self.passable[target]
            succ[ok, d] = target[ok]
        return succ


def _grid_moves(passable: np.ndarray, width: int, height: int) -> np.ndarray:
    """Every move between two 4-neighbouring passable cells, both ways."""
    moves = np.zeros((width * height, 4), dtype=bool)
    grid = passable.reshape(height, width)
    for d, (dx, dy) in enumerate(DIRS):
        ok = np.zeros((height, width), dtype=bool)
        ys = slice(max(0, -dy), height - max(0, dy))
        xs = slice(max(0, -dx), width - max(0, dx))
        ys2 = slice(max(0, dy), height - max(0, -dy))
        xs2 = slice(max(0, dx), width - max(0, -dx))
        ok[ys, xs] = grid[ys, xs] & grid[ys2, xs2]
        moves[:, d] = ok.ravel()
    return moves


def _pack_chutes(groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays (pointers, cells) of a list of eject-cell groups."""
    ptr = np.zeros(len(groups) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(g) for g in groups])
    cells = np.array([c for g in groups for c in g], dtype=np.int64)
    return ptr, cells


def parse_grid(text: str, name: str = "grid") -> SortMap:
    """Parse an RHCR ``.grid`` file (see shared/maps/README.md); errors name line and column."""
    lines = text.splitlines()

    def fail(line: int, col: int, msg: str) -> MapError:
        return MapError(f"{name}:{line}:{col}: {msg}")

    if len(lines) < 3:
        raise fail(len(lines) + 1, 1, "expected 'Grid size', 'X,Y' and a header line")
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", lines[1])
    if not m:
        raise fail(2, 1, f"expected the grid size as 'X,Y', got {lines[1]!r}")
    width, height = int(m.group(1)), int(m.group(2))
    if width < 1 or height < 1:
        raise fail(2, 1, "grid size must be positive")
    n = width * height
    kind = np.full(n, -1, dtype=np.int8)
    moves = np.zeros((n, 4), dtype=bool)
    induct_cells: list[int] = []
    induct_names: list[str] = []
    stations: dict[str, list[int]] = {}
    order = (2, 1, 3, 0)  # file columns NORTH, WEST, SOUTH, EAST -> DIRS index +y, -x, -y, +x
    for ln, raw in enumerate(lines[3:], start=4):
        if not raw.strip():
            continue
        fields = raw.split(",")
        cols = list(accumulate([1] + [len(f) + 1 for f in fields]))
        if len(fields) != 10:
            raise fail(ln, 1, f"expected 10 comma-separated fields, got {len(fields)}")
        typ = fields[1].strip()
        if typ not in _GRID_TYPES:
            raise fail(ln, cols[1], f"unknown cell type {typ!r} (expected one of {', '.join(_GRID_TYPES)})")
        try:
            x, y = int(fields[3]), int(fields[4])
        except ValueError:
            raise fail(ln, cols[3], "x and y must be integers") from None
        if not (0 <= x < width and 0 <= y < height):
            raise fail(ln, cols[3], f"cell ({x}, {y}) lies outside the {width}x{height} grid")
        cell = y * width + x
        if kind[cell] >= 0:
            raise fail(ln, cols[3], f"cell ({x}, {y}) is given twice")
        kind[cell] = _GRID_TYPES.index(typ)
        for k in range(5):
            w = fields[5 + k].strip()
            if w == "inf":
                continue
            try:
                value = float(w)
            except ValueError:
                raise fail(ln, cols[5 + k], f"weight {w!r} is neither a number nor 'inf'") from None
            if value < 0:
                raise fail(ln, cols[5 + k], f"negative weight {w}")
            if k < 4:
                moves[cell, order[k]] = True
        station = fields[2].strip()
        if typ == "Induct":
            induct_cells.append(cell)
            induct_names.append(station)
        elif typ == "Eject":
            stations.setdefault(station, []).append(cell)
    missing = np.flatnonzero(kind < 0)
    if missing.size:
        x, y = int(missing[0]) % width, int(missing[0]) // width
        raise fail(len(lines) + 1, 1, f"{missing.size} cells are missing, the first ({x}, {y})")
    passable = kind > 0
    ptr, cells = _pack_chutes(list(stations.values()))
    return SortMap(
        name,
        width,
        height,
        passable,
        moves & passable[:, None],
        np.array(induct_cells, dtype=np.int64),
        tuple(induct_names),
        tuple(stations),
        ptr,
        cells,
    )


def parse_map(text: str, name: str = "map") -> SortMap:
    """Parse a MovingAI / LoRR ``.map``: ``E`` cells are inducts, ``S`` cells eject into blocked cells."""
    lines = text.splitlines()

    def fail(line: int, col: int, msg: str) -> MapError:
        return MapError(f"{name}:{line}:{col}: {msg}")

    header: dict[str, str] = {}
    ln = 0
    while ln < len(lines) and lines[ln].strip() != "map":
        parts = lines[ln].split()
        if len(parts) != 2 or parts[0] not in ("type", "height", "width"):
            raise fail(ln + 1, 1, f"expected 'type', 'height', 'width' or 'map', got {lines[ln]!r}")
        header[parts[0]] = parts[1]
        ln += 1
    if ln == len(lines):
        raise fail(ln + 1, 1, "no 'map' line")
    try:
        height, width = int(header["height"]), int(header["width"])
    except (KeyError, ValueError):
        raise fail(ln + 1, 1, "the header needs integer 'height' and 'width'") from None
    rows = lines[ln + 1 : ln + 1 + height]
    if len(rows) < height:
        raise fail(ln + 2 + len(rows), 1, f"expected {height} rows, got {len(rows)}")
    grid = np.empty((height, width), dtype="<U1")
    for y, row in enumerate(rows):
        row = row.rstrip("\r\n")
        if len(row) != width:
            raise fail(ln + 2 + y, min(len(row), width) + 1, f"expected {width} characters, got {len(row)}")
        for x, ch in enumerate(row):
            if ch not in _MAP_FREE + _MAP_BLOCKED + "ES":
                raise fail(ln + 2 + y, x + 1, f"unknown map character {ch!r}")
        grid[y] = list(row)
    flat = grid.ravel()
    passable = ~np.isin(flat, list(_MAP_BLOCKED))
    moves = _grid_moves(passable, width, height)
    inducts = np.flatnonzero(flat == "E")
    drops = set(np.flatnonzero(flat == "S").tolist())
    groups: dict[int, list[int]] = {}
    lone: list[int] = []
    for s in sorted(drops):
        x, y = s % width, s // width
        found = False
        for dx, dy in ((0, -1), (-1, 0), (1, 0), (0, 1)):
            nx, ny = x + dx, y + dy
            if 0 <= nx < width and 0 <= ny < height and not passable[ny * width + nx]:
                groups.setdefault(ny * width + nx, []).append(s)
                found = True
        if not found:
            lone.append(s)
    keys = sorted(groups) + lone
    chute_groups = [sorted(groups[k]) for k in sorted(groups)] + [[s] for s in lone]
    ptr, cells = _pack_chutes(chute_groups)
    return SortMap(
        name,
        width,
        height,
        passable,
        moves,
        inducts.astype(np.int64),
        tuple(f"E{c % width}_{c // width}" for c in inducts),
        tuple(f"C{k % width}_{k // width}" for k in keys),
        ptr,
        cells,
    )


def from_sort_grid(grid: SortGrid, name: str = "config") -> SortMap:
    """The project's generated sort grid (two-way moves between neighbouring cells)."""
    w, h = grid.width, grid.height

    def xy(node: str) -> tuple[int, int]:
        x, y = node[1:].split("_")
        return int(x), int(y)

    def cell(node: str) -> int:
        x, y = xy(node)
        return y * w + x

    passable = np.zeros(w * h, dtype=bool)
    passable[[cell(v) for v in grid.graph.nodes]] = True
    moves = np.zeros((w * h, 4), dtype=bool)
    for a, b in grid.graph.edges:
        (xa, ya), (xb, yb) = xy(a), xy(b)
        moves[cell(a), DIRS.index((xb - xa, yb - ya))] = True
        moves[cell(b), DIRS.index((xa - xb, ya - yb))] = True
    ptr, cells = _pack_chutes([[cell(e) for e in ch.eject if e in grid.graph] for ch in grid.chutes])
    return SortMap(
        name,
        w,
        h,
        passable,
        moves,
        np.array([cell(i) for i in grid.inducts], dtype=np.int64),
        tuple(grid.inducts),
        tuple(ch.chute for ch in grid.chutes),
        ptr,
        cells,
    )


def load_sort_map(path: str | Path) -> SortMap:
    """Read a ``.grid`` (RHCR) or ``.map`` (MovingAI / LoRR) file."""
    p = Path(path)
    if p.suffix not in (".grid", ".map"):
        raise MapError(f"{p}: unknown map format {p.suffix!r} (expected .grid or .map)")
    try:
        text = p.read_text()
    except OSError as exc:
        raise MapError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MapError(f"{p}: not a text file") from None
    if p.suffix == ".grid":
        return parse_grid(text, p.name)
    return parse_map(text, p.name)


def _main_component(m: SortMap) -> np.ndarray:
    """Cells of the strongly connected part holding the most induct and eject cells."""
    succ = m.successors()
    g = nx.DiGraph()
    g.add_nodes_from(np.flatnonzero(m.passable).tolist())
    src, d = np.nonzero(succ >= 0)
    g.add_edges_from(zip(src.tolist(), succ[src, d].tolist(), strict=True))
    goals = set(m.inducts.tolist()) | set(m.chute_cells.tolist())
    best = max(nx.strongly_connected_components(g), key=lambda comp: (len(goals & comp), len(comp)))
    inside = np.zeros(m.cells, dtype=bool)
    inside[list(best)] = True
    return inside


def start_cells(m: SortMap) -> np.ndarray:
    """Cells a robot may start on: those from which the inducts and eject cells can be reached."""
    inside = _main_component(m)
    succ = m.successors()
    can = inside.copy()
    changed = True
    while changed:
        nxt = can | (m.passable & (can[np.where(succ >= 0, succ, 0)] & (succ >= 0)).any(axis=1))
        changed = bool((nxt != can).any())
        can = nxt
    return np.flatnonzero(can)


def check_sort_map(m: SortMap, robots: int) -> np.ndarray:
    """Raise MapError unless every induct and eject cell reaches every other and the robots fit.

    Returns the cells robots may start on (``start_cells``)."""
    if m.inducts.size == 0:
        raise MapError(f"{m.name}: no induct cells")
    if m.chutes == 0:
        raise MapError(f"{m.name}: no chutes")
    free = int(m.passable.sum())
    if robots > free:
        raise MapError(f"{m.name}: {robots} robots do not fit on {free} free cells")
    inside = _main_component(m)
    for i, c in enumerate(m.inducts.tolist()):
        if not inside[c]:
            raise MapError(f"{m.name}: induct {m.induct_names[i]} at {m.xy(c)} cannot be reached (or left)")
    for k in range(m.chutes):
        for c in m.ejects(k).tolist():
            if not inside[c]:
                raise MapError(
                    f"{m.name}: chute {m.chute_names[k]}, eject cell {m.xy(c)}, cannot be reached (or left)"
                )
    usable = start_cells(m)
    if robots > usable.size:
        raise MapError(
            f"{m.name}: {robots} robots do not fit on the {usable.size} cells that reach the inducts"
        )
    return usable
