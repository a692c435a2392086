"""The storage graph and the sortation grid: distances, paths, slots, chutes."""

from __future__ import annotations

import numpy as np

from wms.config import CONFIG_DIR, Sortation, load_warehouse
from wms.layout import Layout, bay_node
from wms.sorting.grid import build_grid

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
    """Layout.path runs Dijkstra once per pair of nodes; the lists it returns are copies."""
    import networkx as nx

    from wms import layout as layout_mod

    lay = Layout(CFG.storage, pack_stations=4, chargers=3)
    calls: list[tuple[str, str]] = []
    real = nx.dijkstra_path

    def counted(graph, a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(graph, a, b)

    monkeypatch.setattr(layout_mod.nx, "dijkstra_path", counted)
    first = lay.path(lay.depot, bay_node(2, 5))
    first.append("scribbled")
    again = lay.path(lay.depot, bay_node(2, 5))
    assert calls == [(lay.depot, bay_node(2, 5))]
    assert again == first[:-1] and again[0] == lay.depot and again[-1] == bay_node(2, 5)


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


def test_no_robot_drops_on_the_cell_that_leads_into_an_induct() -> None:
    grid = build_grid(CFG_CITY.sortation, chargers=2)
    above = {f"G{grid.pos[i][0] / grid.cell_m:.0f}_1" for i in grid.inducts}
    under_chutes = [c for c in grid.chutes if f"G{c.x}_1" in above]
    assert under_chutes  # the city grid has inducts right below chutes of the first row
    for chute in grid.chutes:
        assert not set(chute.eject) & above and len(chute.eject) >= 3
