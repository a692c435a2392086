"""Assignment of tasks to robots: least total cost, tasks served in queue order, bad costs refused."""

from __future__ import annotations

import itertools
import random

import pytest

from wms.robots.assignment import min_cost_assignment


def test_assignment_is_least_total_cost() -> None:
    rng = random.Random(5)
    for n_tasks, n_robots in ((3, 3), (2, 4), (5, 3)):
        tasks = [f"T{i}" for i in range(n_tasks)]
        robots = [f"R{i}" for i in range(n_robots)]
        table = {(t, r): rng.uniform(0, 50) for t in tasks for r in robots}
        pairs = min_cost_assignment(tasks, robots, lambda t, r, table=table: table[(t, r)])
        served = tasks[:n_robots]
        assert [t for t, _ in pairs] == served and len({r for _, r in pairs}) == len(pairs)
        best = min(
            sum(table[(t, r)] for t, r in zip(served, perm, strict=False))
            for perm in itertools.permutations(robots, len(served))
        )
        assert sum(table[p] for p in pairs) == pytest.approx(best, abs=1e-2)


def test_bad_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="cost of task 'T'"):
        min_cost_assignment(["T"], ["R"], lambda t, r: float("inf"))
