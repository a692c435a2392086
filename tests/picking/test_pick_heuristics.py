"""The heuristics' walks: legal moves, every pick taken, and textbook cases by hand."""

from __future__ import annotations

import random

import pytest

from wms.picking.block import Block, Pick
from wms.picking.heuristics import HEURISTICS, _Walk, largest_gap_route, return_route, sshape_route


def test_walks_are_legal_and_take_every_pick() -> None:
    rng = random.Random(3)
    for cross in (2, 3):
        block = Block(8, 20.0, 3.0, cross, 3)
        for n in (1, 2, 7, 25):
            picks = [
                Pick(rng.randrange(8), rng.choice([0.0, 20.0, round(rng.uniform(0, 20), 2)]))
                for _ in range(n)
            ]
            for name, fn in HEURISTICS.items():
                r = fn(block, picks)
                assert sorted(r.sequence) == list(range(n)), name
                assert block.sequence_length(picks, r.sequence) == pytest.approx(r.length_m)


def test_illegal_move_is_refused() -> None:
    w = _Walk(Block(3, 10.0, 3.0), [])
    w.go(0, 4.0)
    with pytest.raises(ValueError, match="illegal move"):
        w.go(1, 4.0)


def test_textbook_walks() -> None:
    block = Block(4, 10.0, 2.0)
    picks = [Pick(1, 2.0), Pick(1, 8.0), Pick(3, 1.0)]
    # S-shape: to aisle 1 (2), up it (10), across the back (4), down aisle 3 (10), home (6)
    assert sshape_route(block, picks).walk_m == pytest.approx(2 + 10 + 4 + 10 + 6)
    # return: to aisle 1 (2), to 8 and back (16), to aisle 3 (4), to 1 and back (2), home (6)
    assert return_route(block, picks).walk_m == pytest.approx(2 + 16 + 4 + 2 + 6)
    # largest gap: aisle 1 up, aisle 2's pick at 9 from the back (largest gap 0..9), aisle 3 down
    assert largest_gap_route(block, [*picks, Pick(2, 9.0)]).walk_m == pytest.approx(
        2 + 10 + 2 + 2 + 2 + 10 + 6
    )
