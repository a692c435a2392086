"""Aisle runs for OR-Tools: the reduction keeps the optimum, the two-sweep seed, routes from any ends."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from wms.picking.aisle_tsp import expand, runs, seed_from, two_sweep
from wms.picking.bench import storage_picks
from wms.picking.block import Block, Pick
from wms.picking.exact import exact_route, path_length
from wms.picking.heuristics import combined_route
from wms.picking.ortools_route import ortools_route


def _picks(seed: int, block: Block, n: int, storage: str = "random") -> list[Pick]:
    return storage_picks(np.random.default_rng(seed), block, n, storage)


def test_runs_split_each_stretch_at_its_largest_gap() -> None:
    block = Block(3, 24.0, 3.0, 3, 0)
    picks = [Pick(1, 2.0), Pick(1, 3.0), Pick(1, 10.0), Pick(1, 3.0), Pick(1, 12.0)]
    picks += [Pick(1, 20.0), Pick(1, 22.0), Pick(2, 5.0)]
    got = [(r.aisle, r.ys) for r in runs(block, picks)]
    # 12 m is the middle cross aisle: a point alone; 2, 3 | 10 split at the 7 m gap
    assert got == [(1, (12.0,)), (1, (2.0, 3.0)), (1, (10.0,)), (1, (20.0,)), (1, (22.0,)), (2, (5.0,))]
    cut = [(r.aisle, r.ys) for r in runs(block, picks, [Pick(1, 2.5)])]
    # a route end inside the aisle cuts it too: 2 | 2.5 | 3, 10 split at their gap
    assert cut[1:4] == [(1, (2.0,)), (1, (3.0,)), (1, (10.0,))] and len(cut) == len(got) + 1


@pytest.mark.parametrize("cross", [2, 3])
@pytest.mark.parametrize("storage", ["random", "abc"])
def test_exact_routes_take_every_run_in_one_pass(cross: int, storage: str) -> None:
    """The reduction keeps optimality: the exact route, read as runs in one pass each, is no longer."""
    block = Block(12, 24.0, 3.0, cross, 0)
    for seed in range(6):
        picks = _picks(seed, block, 60, storage)
        ex = exact_route(block, picks)
        items = runs(block, picks)
        seq = expand(items, seed_from(items, picks, ex.sequence), picks)
        assert sorted(seq) == list(range(len(picks)))
        assert path_length(block, picks, seq, block.depot, block.depot) == pytest.approx(ex.length_m)


@pytest.mark.parametrize("cross", [2, 3])
def test_two_sweep_is_a_valid_loop_no_longer_than_combined(cross: int) -> None:
    for depot in (0, 4):
        block = Block(9, 24.0, 3.0, cross, depot)
        for seed in range(5):
            picks = _picks(seed, block, 40, "abc" if seed % 2 else "random") + [Pick(depot, 0.0)]
            seq = two_sweep(block, picks, runs(block, picks), block.depot)
            assert sorted(seq) == list(range(len(picks)))
            length = path_length(block, picks, seq, block.depot, block.depot)
            assert length >= exact_route(block, picks).length_m - 1e-9
            if cross == 2:  # the combined walk is one of the loops the programme chooses from
                assert length <= combined_route(block, picks).walk_m + 1e-9


@pytest.mark.parametrize("cross", [2, 3])
def test_ortools_route_is_valid_and_never_below_exact(cross: int) -> None:
    block = Block(10, 24.0, 3.0, cross, 2)
    for seed, storage in enumerate(["random", "abc", "random"]):
        picks = _picks(seed, block, 80, storage)
        r = ortools_route(block, picks, 0.3)
        assert r.method == "ortools" and sorted(r.sequence) == list(range(len(picks)))
        assert r.length_m == pytest.approx(path_length(block, picks, r.sequence, block.depot, block.depot))
        ex = exact_route(block, picks).length_m
        assert ex - 1e-9 <= r.length_m <= 1.02 * ex
        start, end = Pick(9, 24.0), Pick(0, 12.0 if cross == 3 else 0.0)
        o = ortools_route(block, picks, 0.3, start, end)
        assert sorted(o.sequence) == list(range(len(picks)))
        assert o.length_m == pytest.approx(path_length(block, picks, o.sequence, start, end))
        assert o.length_m >= exact_route(block, picks, start, end).length_m - 1e-9


def _brute(block: Block, picks: list[Pick], start: Pick, end: Pick) -> float:
    return min(path_length(block, picks, p, start, end) for p in itertools.permutations(range(len(picks))))


def _best_over_runs(block: Block, picks: list[Pick], start: Pick, end: Pick) -> float:
    items = runs(block, picks, (start, end))
    return min(
        path_length(block, picks, expand(items, list(zip(perm, dirs, strict=True)), picks), start, end)
        for perm in itertools.permutations(range(len(items)))
        for dirs in itertools.product((True, False), repeat=len(items))
    )


def test_runs_keep_the_optimum_from_ends_inside_aisles() -> None:
    """Every run in one pass, the runs cut at the route's ends: the best such route is the optimum."""
    rng = random.Random(7)
    for trial in range(170):  # trials 56, 120 and 168 need the cut at the start
        block = Block(3, 20.0, 3.0, 2 + trial % 2, 0)
        start = Pick(rng.randrange(3), float(rng.randrange(1, 40)) / 2)
        picks = [
            Pick(start.aisle if rng.random() < 0.5 else rng.randrange(3), float(rng.randrange(0, 41)) / 2)
            for _ in range(5)
        ]
        end = start if trial % 3 == 0 else Pick(rng.randrange(3), float(rng.randrange(1, 40)) / 2)
        if trial % 10 and trial not in (56, 120, 168):
            continue  # a sample keeps the test quick
        assert _best_over_runs(block, picks, start, end) == pytest.approx(_brute(block, picks, start, end))


def test_ends_inside_aisles_match_brute_force() -> None:
    rng = random.Random(7)
    known = [Pick(1, 3.0), Pick(1, 19.5), Pick(0, 7.0), Pick(0, 1.5), Pick(0, 12.5)]  # needs the cut
    cases = [(Block(3, 20.0, 3.0), known, Pick(0, 8.5), end) for end in (Pick(0, 7.0), Pick(0, 8.5))]
    for trial in range(12):
        picks = [Pick(rng.randrange(4), float(rng.randrange(0, 41)) / 2) for _ in range(6)]
        start = Pick(rng.randrange(4), float(rng.randrange(1, 40)) / 2)
        end = start if trial % 3 == 0 else Pick(rng.randrange(4), float(rng.randrange(1, 40)) / 2)
        cases.append((Block(4, 20.0, 3.0, 2 + trial % 2, 0), picks, start, end))
    for block, picks, start, end in cases:
        r = ortools_route(block, picks, 0.2, start, end)
        assert sorted(r.sequence) == list(range(len(picks)))
        assert r.length_m == pytest.approx(path_length(block, picks, r.sequence, start, end))
        assert r.length_m == pytest.approx(_brute(block, picks, start, end))


def test_no_picks() -> None:
    block = Block(4, 20.0, 3.0, 3, 1)
    assert ortools_route(block, []).length_m == 0.0
    r = ortools_route(block, [], 0.1, Pick(0, 5.0), Pick(3, 20.0))
    assert r.sequence == () and r.length_m == pytest.approx(15.0 + 9.0)
