"""The block model: closed-form oracle against Dijkstra on its graph and on the controller's Layout."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest

from wms.config import CONFIG_DIR, load_warehouse
from wms.layout import Layout, bay_node
from wms.picking.block import Block, Pick, PickError


@pytest.mark.parametrize("cross", [2, 3])
def test_oracle_matches_shortest_paths_on_the_graph(cross: int) -> None:
    rng = random.Random(cross)
    block = Block(6, 20.0, 3.0, cross, 2)
    picks = [
        Pick(rng.randrange(6), rng.choice([0.0, 10.0, 20.0, round(rng.uniform(0, 20), 2)])) for _ in range(25)
    ]
    g = block.graph(picks)
    d = block.distances(picks)
    for i in range(len(picks)):
        reach = nx.single_source_dijkstra_path_length(g, f"P{i}")
        for j in range(len(picks)):
            assert d[i, j] == pytest.approx(reach[f"P{j}"])
        assert block.tour_matrix(picks)[0, i + 1] == pytest.approx(reach["D"])


def test_oracle_agrees_with_the_reference_layout() -> None:
    storage = load_warehouse(CONFIG_DIR / "warehouse.toml").storage
    lay = Layout(storage, 4, 3)
    block = Block.from_storage(storage)
    nodes = [bay_node(a, b) for a in range(storage.aisles) for b in range(0, storage.bays_per_aisle, 3)]
    pts = [Pick(int(round(lay.pos[n].x / storage.aisle_pitch_m)), lay.pos[n].y) for n in nodes]
    idx = [lay.index[n] for n in nodes]
    assert np.allclose(block.distances(pts), lay.dist[np.ix_(idx, idx)])


@pytest.mark.parametrize(
    ("pick", "words"),
    [
        ((12, 3.0), "aisle 12 does not exist"),
        ((-1, 3.0), "aisle -1 does not exist"),
        ((2, 25.0), "outside aisle 2"),
        ((2, -0.5), "outside aisle 2"),
        ((2, float("nan")), "outside aisle 2"),
        ((2.5, 1.0), "whole number"),
        (("x", 1.0), "whole number"),
    ],
)
def test_bad_picks_name_the_row(pick: tuple, words: str) -> None:
    block = Block(10, 24.0, 3.0)
    with pytest.raises(PickError, match=rf"pick 1: .*{words}"):
        block.check([(0, 1.0), pick])


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(PickError, match="cross_aisles"):
        Block(5, 10.0, 3.0, cross_aisles=4)
    with pytest.raises(PickError, match="depot_aisle 5"):
        Block(5, 10.0, 3.0, depot_aisle=5)
    with pytest.raises(PickError, match="aisle_length_m"):
        Block(5, -1.0, 3.0)
