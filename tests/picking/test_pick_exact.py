"""The exact programme: equal to brute force, its sequence as long as its optimum, never beaten."""

from __future__ import annotations

import itertools
import random

import pytest

from wms.config import CONFIG_DIR, load_warehouse
from wms.layout import Layout, bay_node
from wms.picking import exact as exact_mod
from wms.picking.block import Block, Pick, PickError
from wms.picking.exact import exact_length, exact_route, path_length
from wms.picking.heuristics import HEURISTICS
from wms.picking.ortools_route import route_on_layout
from wms.picking.routing import route_length


def _brute(block: Block, picks: list[Pick], start: Pick, end: Pick) -> float:
    return min(path_length(block, picks, p, start, end) for p in itertools.permutations(range(len(picks))))


def _instance(rng: random.Random, cross: int) -> tuple[Block, list[Pick]]:
    aisles = rng.randint(1, 5)
    block = Block(aisles, 10.0, rng.choice([1.5, 3.0, 8.0]), cross, rng.randrange(aisles))
    spots = [0.0, 5.0, 10.0]
    picks = [
        Pick(rng.randrange(aisles), rng.choice([*spots, round(rng.uniform(0, 10), 1)]))
        for _ in range(rng.randint(0, 6))
    ]
    return block, picks


@pytest.mark.parametrize("cross", [2, 3])
def test_exact_equals_brute_force_and_its_sequence(cross: int) -> None:
    rng = random.Random(10 + cross)
    for _ in range(150):
        block, picks = _instance(rng, cross)
        r = exact_route(block, picks)
        assert sorted(r.sequence) == list(range(len(picks)))
        assert block.sequence_length(picks, r.sequence) == pytest.approx(r.length_m, abs=1e-9)
        assert r.length_m == pytest.approx(_brute(block, picks, block.depot, block.depot), abs=1e-9)
        assert exact_length(block, picks) == pytest.approx(r.length_m, abs=1e-9)


@pytest.mark.parametrize("cross", [2, 3])
def test_the_length_alone_equals_the_traced_route_on_wide_blocks_with_empty_aisles(cross: int) -> None:
    # exact_length steps over a run of aisles without picks in one min-plus product; the traced
    # programme walks them one by one: both must agree, between any ends
    rng = random.Random(30 + cross)
    exact_mod._empty_run.cache_clear()
    for _ in range(200):
        block = Block(rng.randint(8, 30), rng.choice([18.0, 36.0]), rng.choice([2.5, 3.0]), cross, 0)
        ys = block.cross_ys
        spots = [*ys, *(round(rng.uniform(0, block.aisle_length_m), 1) for _ in range(5))]
        picks = [Pick(rng.randrange(block.aisles), rng.choice(spots)) for _ in range(rng.randint(1, 8))]
        ends = [None, None]
        if rng.random() < 0.4:
            ends = [Pick(rng.randrange(block.aisles), rng.choice(ys)) for _ in range(2)]
        r = exact_route(block, picks, *ends)
        assert exact_length(block, picks, *ends) == pytest.approx(r.length_m, abs=1e-9)
    assert exact_mod._empty_run.cache_info().currsize > 5  # runs of several lengths were stepped over


@pytest.mark.parametrize("cross", [2, 3])
def test_exact_paths_between_different_ends_equal_brute_force(cross: int) -> None:
    rng = random.Random(20 + cross)
    for _ in range(100):
        block, picks = _instance(rng, cross)
        ys = block.cross_ys
        start = Pick(rng.randrange(block.aisles), rng.choice(ys))
        end = Pick(rng.randrange(block.aisles), rng.choice(ys))
        r = exact_route(block, picks, start, end)
        assert path_length(block, picks, r.sequence, start, end) == pytest.approx(r.length_m, abs=1e-9)
        assert r.length_m == pytest.approx(_brute(block, picks, start, end), abs=1e-9)


@pytest.mark.parametrize("cross", [2, 3])
def test_exact_never_longer_than_a_heuristic(cross: int) -> None:
    rng = random.Random(30 + cross)
    block = Block(12, 24.0, 3.0, cross, 0)
    for n in (1, 3, 10, 30, 60):
        for _ in range(8):
            picks = [Pick(rng.randrange(12), round(rng.uniform(0, 24), 2)) for _ in range(n)]
            best = exact_route(block, picks)
            assert block.sequence_length(picks, best.sequence) == pytest.approx(best.length_m)
            for name, fn in HEURISTICS.items():
                r = fn(block, picks)
                assert r.length_m >= best.length_m - 1e-9, name
                assert r.walk_m >= r.length_m - 1e-9, name


def test_degenerate_instances() -> None:
    block = Block(4, 10.0, 3.0, 3, 1)
    assert exact_route(block, []).length_m == 0.0
    assert exact_route(block, [(1, 0.0), (1, 0.0)]).sequence == (0, 1)
    assert exact_route(block, [(1, 0.0), (1, 10.0)]).length_m == pytest.approx(20.0)
    dup = exact_route(block, [(3, 4.0), (3, 4.0), (0, 5.0)])
    assert sorted(dup.sequence) == [0, 1, 2]
    assert exact_route(block, [], (0, 0.0), (3, 10.0)).length_m == pytest.approx(19.0)
    with pytest.raises(PickError, match="not on a cross aisle"):
        exact_route(block, [(0, 1.0)], start=(0, 2.0))


def test_controller_route_on_the_reference_layout_is_optimal() -> None:
    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    lay = Layout(cfg.storage, 4, 3)
    rng = random.Random(7)
    for _ in range(12):
        stops = [bay_node(rng.randrange(12), rng.randrange(20)) for _ in range(rng.randint(1, 6))]
        start, end = rng.choice(lay.pack_nodes + lay.charger_nodes), rng.choice(lay.pack_nodes)
        r = route_on_layout(lay, start, stops, end)
        assert r[0] == start and r[-1] == end and sorted(r[1:-1]) == sorted(set(stops))
        uniq = list(dict.fromkeys(stops))
        best = min(route_length([start, *p, end], lay.distance) for p in itertools.permutations(uniq))
        assert route_length(r, lay.distance) == pytest.approx(best)
    # a start inside an aisle is off the exact programme's ends: OR-Tools takes over, still a valid route
    r = route_on_layout(
        lay, bay_node(3, 5), [bay_node(5, 1), bay_node(0, 19)], lay.pack_nodes[0], time_limit_s=0.05
    )
    assert r[0] == bay_node(3, 5) and sorted(r[1:-1]) == sorted([bay_node(5, 1), bay_node(0, 19)])
    with pytest.raises(PickError, match="not in the layout"):
        route_on_layout(lay, lay.depot, ["A99-99"], lay.depot)
