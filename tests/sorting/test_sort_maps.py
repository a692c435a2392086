"""Sort-area loaders: RHCR .grid, MovingAI / LoRR .map, the project's grid; distances; bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from wms.config import load_warehouse
from wms.sorting.distances import Distances
from wms.sorting.grid import build_grid
from wms.sorting.maps import (
    DIRS,
    MapError,
    check_sort_map,
    from_sort_grid,
    load_sort_map,
    parse_grid,
    parse_map,
)


def maps_dir() -> Path:
    """``shared/maps`` in a folder above this file; skip when there is none."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "maps").is_dir():
            return parent / "shared" / "maps"
    pytest.skip("no shared/maps folder above the tests (public sortation maps live there)")


def test_rhcr_grid_loads_with_its_one_way_lanes() -> None:
    path = maps_dir() / "rhcr-sorting_map.grid"
    m = load_sort_map(path)
    assert (m.width, m.height, len(m.inducts), m.chutes) == (77, 37, 50, 275)
    assert all(m.ejects(k).size == 4 for k in range(m.chutes))
    # read the weights again, independently: NORTH is +y, WEST -x, SOUTH -y, EAST +x
    with path.open() as fh:
        rows = list(csv.reader(fh))[3:]
    names = {"NORTH": (0, 1), "WEST": (-1, 0), "SOUTH": (0, -1), "EAST": (1, 0)}
    for row in rows:
        x, y = int(row[3]), int(row[4])
        for name, weight in zip(("NORTH", "WEST", "SOUTH", "EAST"), row[5:9], strict=True):
            allowed = weight != "inf" and row[1] != "Obstacle"
            assert m.moves[y * 77 + x, DIRS.index(names[name])] == allowed
    check_sort_map(m, 800)


def test_lorr_map_loads_emitters_and_drop_cells() -> None:
    m = load_sort_map(maps_dir() / "lorr-sortation_large.map")
    assert (m.width, m.height, len(m.inducts)) == (500, 140, 620)
    assert len(set(m.chute_cells.tolist())) == 31296
    for k in (0, m.chutes // 2, m.chutes - 1):
        cx, cy = (int(v) for v in m.chute_names[k][1:].split("_"))
        for c in m.ejects(k).tolist():
            x, y = m.xy(c)
            assert abs(x - cx) + abs(y - cy) == 1 and m.passable[c]


def test_project_grid_converts_two_way() -> None:
    cfg = load_warehouse()
    grid = build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots)
    m = from_sort_grid(grid)
    assert m.chutes == len(grid.chutes) and len(m.inducts) == len(grid.inducts)
    assert int(m.moves.sum()) == 2 * grid.graph.number_of_edges()
    check_sort_map(m, 20)


def test_distances_match_networkx_on_one_way_graph() -> None:
    m = load_sort_map(maps_dir() / "rhcr-sorting_map.grid")
    g = nx.DiGraph()
    succ = m.successors()
    for c in np.flatnonzero(m.passable).tolist():
        g.add_edges_from((c, int(v)) for v in succ[c] if v >= 0)
    dist = Distances(m, max_bytes=8 * m.cells * 2)  # eight slots: forces reuse
    for goal in (int(m.inducts[0]), int(m.inducts[17]), int(m.chute_cells[5]), int(m.chute_cells[901])):
        expected = nx.single_target_shortest_path_length(g, goal)
        table = dist.to(goal)
        assert all(table[c] == d for c, d in expected.items())
    for k in (0, 100, 274):
        table = dist.to(m.cells + k)
        for c in (int(m.inducts[3]), int(m.inducts[40])):
            assert table[c] == min(nx.shortest_path_length(g, c, int(e)) for e in m.ejects(k))
    held = dist.pin(int(m.inducts[0]))
    for e in m.chute_cells[:20].tolist():
        dist.to(int(e))
    assert dist.table[held, int(m.inducts[0])] == 0  # a pinned table is never reused


def test_grid_errors_name_line_and_column() -> None:
    head = "Grid size (x, y)\n2,1\nid,type,station,x,y,north,west,south,east,wait\n"
    good = "0,Induct,I1,0,0,inf,inf,inf,1,1\n"
    with pytest.raises(MapError, match=r"t\.grid:5:3: unknown cell type 'Road'"):
        parse_grid(head + good + "1,Road,None,1,0,inf,1,inf,inf,1\n", "t.grid")
    with pytest.raises(MapError, match=r"t\.grid:5:\d+: weight 'x' is neither"):
        parse_grid(head + good + "1,Eject,C1,1,0,inf,x,inf,inf,1\n", "t.grid")
    with pytest.raises(MapError, match=r"t\.grid:5:1: 1 cells are missing"):
        parse_grid(head + good, "t.grid")
    with pytest.raises(MapError, match=r"t\.grid:2:1: expected the grid size"):
        parse_grid("Grid size\nseventy\nheader\n", "t.grid")


def test_map_errors_and_unreachable_or_overfull_areas() -> None:
    with pytest.raises(MapError, match=r"t\.map:6:2: unknown map character 'x'"):
        parse_map("type octile\nheight 2\nwidth 3\nmap\nE.S\n.x@\n", "t.map")
    with pytest.raises(MapError, match=r"t\.map:6:3: expected 3 characters, got 2"):
        parse_map("type octile\nheight 2\nwidth 3\nmap\nE.S\n..\n", "t.map")
    walled = parse_map("type octile\nheight 3\nwidth 5\nmap\n.S@@E\n..@@@\n.....\n", "walled.map")
    with pytest.raises(MapError, match=r"induct E4_0 at \(4, 0\) cannot be reached"):
        check_sort_map(walled, 2)
    open_map = parse_map("type octile\nheight 2\nwidth 3\nmap\nE.S\n..@\n", "small.map")
    check_sort_map(open_map, 5)
    with pytest.raises(MapError, match="6 robots do not fit on 5 free cells"):
        check_sort_map(open_map, 6)
    with pytest.raises(MapError, match="unknown map format"):
        load_sort_map("area.txt")
