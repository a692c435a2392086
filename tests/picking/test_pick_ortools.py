"""OR-Tools routes: optimal on small blocks, any start and end, robots across several blocks."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from wms.picking.block import Block, Pick, PickError
from wms.picking.exact import exact_route, path_length
from wms.picking.ortools_route import graph_route, ortools_route, route, solve_path


def test_ortools_matches_exact_on_small_blocks() -> None:
    rng = random.Random(4)
    for cross in (2, 3):
        block = Block(6, 20.0, 3.0, cross, 0)
        picks = [Pick(rng.randrange(6), round(rng.uniform(0, 20), 1)) for _ in range(8)] + [Pick(2, 5.0)] * 2
        r = ortools_route(block, picks, 0.2)
        assert sorted(r.sequence) == list(range(len(picks)))
        assert r.length_m == pytest.approx(block.sequence_length(picks, r.sequence))
        assert r.length_m == pytest.approx(exact_route(block, picks).length_m)
        start, end = Pick(5, 20.0), Pick(0, 0.0)
        o = ortools_route(block, picks, 0.2, start, end)
        assert o.length_m == pytest.approx(exact_route(block, picks, start, end).length_m)
        assert o.length_m == pytest.approx(path_length(block, picks, o.sequence, start, end))


def test_tiny_matrices() -> None:
    assert solve_path([[0.0]], 0, 0) == [0, 0]
    assert solve_path([[0, 1], [1, 0]], 0, 0) == [0, 1, 0]
    assert solve_path([[0, 1], [1, 0]], 0, 1) == [0, 1]
    assert route(Block(2, 5.0, 1.0), [], "ortools").length_m == 0.0
    with pytest.raises(PickError, match="unknown routing method"):
        route(Block(2, 5.0, 1.0), [], "teleport")


def test_robot_route_across_two_blocks() -> None:
    west, east = Block(4, 10.0, 3.0), Block(3, 16.0, 2.5, cross_aisles=3)
    g = nx.compose(
        west.graph([Pick(1, 4.0), Pick(3, 9.0)], "W:"), east.graph([Pick(0, 12.0), Pick(2, 3.0)], "E:")
    )
    g.add_edge("W:X0-3", "E:X0-0", weight=20.0)  # a main aisle joins the two fronts
    stops = ["W:P0", "W:P1", "E:P0", "E:P1"]
    path, length = graph_route(g, "W:D", stops, "W:D", 0.2)
    assert path[0] == path[-1] == "W:D" and sorted(path[1:-1]) == sorted(stops)
    d = dict(nx.all_pairs_dijkstra_path_length(g))
    assert length == pytest.approx(sum(d[a][b] for a, b in zip(path, path[1:], strict=False)))
    # the cheapest tour crosses the link once each way and is no longer than any other order
    import itertools

    best = min(
        sum(d[a][b] for a, b in zip(["W:D", *p, "W:D"], [*p, "W:D"], strict=False))
        for p in itertools.permutations(stops)
    )
    assert length == pytest.approx(best)
    with pytest.raises(PickError, match="not in the layout graph"):
        graph_route(g, "W:D", ["nowhere"], "W:D")
