"""The storage graph and the sortation grid: distances, paths, slots, chutes."""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np

from wms.config import CONFIG_DIR, Sortation, load_warehouse
from wms.layout import Layout, bay_node, corners
from wms.sorting.grid import SortGrid, build_grid

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CFG_CITY = load_warehouse(CONFIG_DIR / "city.toml")


def test_distances_are_shortest_rectilinear_paths() -> None:
    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    s = CFG.storage
    assert np.allclose(lay.dist, lay.dist.T) and np.isfinite(lay.dist).all()
    # same aisle: straight along it
    a, b = bay_node(3, 2), bay_node(3, 10)
    assert abs(lay.distance(a, b) - 8 * s.bay_width_m) < 1e-9
    # different aisles: out through the nearer cross aisle
    y1, y2 = 2.5 * s.bay_width_m, 4.5 * s.bay_width_m
    across = 2 * s.aisle_pitch_m + min(y1 + y2, 2 * s.aisle_length_m - y1 - y2)
    assert abs(lay.distance(bay_node(1, 2), bay_node(3, 4)) - across) < 1e-9
    walk = lay.walk([lay.depot, a, b])
    assert walk[0] == lay.depot and walk[-1] == b and a in walk


def _driven(lay: Layout, path: list[str]) -> float:
    pts = [(lay.pos[n].x, lay.pos[n].y) for n in path]
    return sum(math.dist(p, q) for p, q in zip(pts, pts[1:], strict=False))


def test_turns_keep_the_route_and_its_length_with_a_node_only_where_the_direction_changes() -> None:
    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    nodes = sorted(lay.pos)
    rng = random.Random(7)
    for _ in range(300):
        a, b = rng.sample(nodes, 2)
        full, turns = lay.path(a, b), lay.turns(a, b)
        assert turns[0] == a and turns[-1] == b
        kept = iter(full)
        assert all(n in kept for n in turns)  # an ordered subsequence of the shortest path
        assert abs(_driven(lay, turns) - _driven(lay, full)) < 1e-9  # the robot drives node to node
        # every dropped node lies on the straight leg between the turns around it
        legs = {n: i for i, n in enumerate(turns)}
        for i, n in enumerate(full):
            if n not in legs:
                before = max(legs[m] for m in full[:i] if m in legs)
                p, q, r = lay.pos[turns[before]], lay.pos[n], lay.pos[turns[before + 1]]
                assert abs((q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x)) < 1e-9
    # along one aisle: its two ends, nothing between, however many bays lie on the way
    a, b = bay_node(3, 2), bay_node(3, 10)
    assert len(lay.path(a, b)) == 9 and lay.turns(a, b) == [a, b]
    assert corners([a], lay.pos) == [a] and corners([a, b], lay.pos) == [a, b]


def test_distances_are_computed_at_first_use_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A layout wanted for its positions (the simulators') computes no all-pairs matrix; a planner's once."""
    calls: list[int] = []
    real = Layout._distances

    def counted(self: Layout) -> np.ndarray:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Layout, "_distances", counted)
    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    assert lay.pos[lay.pack_nodes[0]] is not None and calls == []
    d = lay.distance(lay.depot, bay_node(2, 5))
    assert lay.distance(lay.depot, bay_node(2, 5)) == d and calls == [1]
    assert lay.dist is lay.dist and calls == [1]


def test_a_path_asked_again_is_remembered_and_each_caller_gets_its_own_list(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Layout.path finds a pair's path once; the lists it returns are copies."""
    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    calls: list[tuple[str, str]] = []
    real = Layout._descend

    def counted(self: Layout, a: str, b: str) -> tuple[str, ...]:
        calls.append((a, b))
        return real(self, a, b)

    monkeypatch.setattr(Layout, "_descend", counted)
    first = lay.path(lay.depot, bay_node(2, 5))
    first.append("scribbled")
    again = lay.path(lay.depot, bay_node(2, 5))
    assert calls == [(lay.depot, bay_node(2, 5))]
    assert again == first[:-1] and again[0] == lay.depot and again[-1] == bay_node(2, 5)


def test_paths_are_shortest_walks_on_the_graph() -> None:
    lay = Layout(CFG_CITY.storage, pack_stations=6, chargers=5)
    rng = random.Random(3)
    nodes = sorted(lay.pos)
    for _ in range(300):
        a, b = rng.sample(nodes, 2)
        path = lay.path(a, b)
        assert path[0] == a and path[-1] == b and len(set(path)) == len(path)
        length = sum(lay.graph[u][v]["weight"] for u, v in zip(path, path[1:], strict=False))
        assert abs(length - nx.dijkstra_path_length(lay.graph, a, b)) < 1e-6
    assert lay.path(a, a) == [a]


def test_slots_cover_block_with_zones_and_hazard_rating() -> None:
    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    s = CFG.storage
    assert len(lay.slots) == s.aisles * s.bays_per_aisle * 2 * s.levels
    duty = {sl.aisle for sl in lay.slots if sl.zone == "duty_paid"}
    assert duty == set(range(s.aisles - s.duty_paid_aisles, s.aisles))
    assert {sl.aisle for sl in lay.slots if sl.hazard_ok} == set(s.hazard_aisles)


def test_sort_grid_chutes_are_reachable_from_every_induct() -> None:
    grid = build_grid(
        Sortation(width=12, height=9, inducts=2, chute_spacing=3, conveyor_to_gate_s=10), chargers=2
    )
    assert len(grid.chutes) == 3 * 2  # x in 2, 5, 8; y in 2, 5
    assert all(g in grid.graph for g in grid.inducts + grid.chargers + grid.parking)
    for chute in grid.chutes:
        assert f"G{chute.x}_{chute.y}" not in grid.graph  # the chute itself is blocked
        for induct in grid.inducts:
            assert grid.distance(induct, chute.eject[0]) >= 1
    dists = [c.induct_distance for c in grid.chutes]
    assert dists == sorted(dists)


def _way_in(grid: SortGrid, induct: str) -> str:
    """The one neighbour of an induct that is not on its own row."""
    (way,) = [n for n in grid.graph[induct] if grid.pos[n][1] != grid.pos[induct][1]]
    return way


def test_no_robot_drops_on_the_cell_that_leads_into_an_induct() -> None:
    grid = build_grid(CFG_CITY.sortation, chargers=2)
    ways_in = {_way_in(grid, i) for i in grid.inducts}
    beside_chutes = [
        c for c in grid.chutes if f"G{c.x}_{c.y - 1}" in ways_in or f"G{c.x}_{c.y + 1}" in ways_in
    ]
    assert beside_chutes  # the city grid has inducts right below chutes of the first row
    for chute in grid.chutes:
        assert not set(chute.eject) & ways_in and len(chute.eject) >= 3


def test_two_induct_sides_put_half_the_inducts_on_the_top_row_and_parking_on_the_side_columns() -> None:
    cfg = Sortation(width=30, height=11, inducts=7, induct_sides=2, chute_spacing=3, conveyor_to_gate_s=10)
    grid = build_grid(cfg, chargers=4)
    rows = sorted(grid.pos[i][1] for i in grid.inducts)
    assert rows == [0.0] * 4 + [10.0] * 3
    sides = {grid.pos[c][0] for c in grid.parking + grid.chargers}
    assert sides == {0.0, 29.0}
    assert len(grid.parking) + len(grid.chargers) == 2 * (11 - 2)
    assert {grid.pos[c][0] for c in grid.chargers} == {0.0, 29.0}  # chargers on both sides
    assert not set(grid.inducts) & set(grid.parking + grid.chargers)
    ways_in = {_way_in(grid, i) for i in grid.inducts}
    assert not ways_in & {e for c in grid.chutes for e in c.eject}
    # the top row of chutes is about as near an induct as the bottom row, not across the grid
    top, bottom = max(c.y for c in grid.chutes), min(c.y for c in grid.chutes)
    nearest = {y: min(c.induct_distance for c in grid.chutes if c.y == y) for y in (top, bottom)}
    assert nearest[bottom] <= nearest[top] <= 2.0
    one_side = build_grid(cfg.model_copy(update={"induct_sides": 1}), chargers=4)
    assert min(c.induct_distance for c in one_side.chutes if c.y == top) >= 7.0
