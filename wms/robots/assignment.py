"""Assignment of tasks to idle robots: min-cost matching with OR-Tools, and the greedy baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from ortools.graph.python.linear_sum_assignment import SimpleLinearSumAssignment

SCALE = 1000  # costs are metres; the solver wants integers (millimetres)


def nearest_idle(
    tasks: Sequence[str], robots: Sequence[str], cost: Callable[[str, str], float]
) -> list[tuple[str, str]]:
    """Greedy pairs (task, robot): tasks in the given order each take the cheapest remaining robot."""
    free = list(robots)
    pairs: list[tuple[str, str]] = []
    for task in tasks:
        if not free:
            break
        robot = min(free, key=lambda r: (cost(task, r), r))
        free.remove(robot)
        pairs.append((task, robot))
    return pairs


def min_cost_assignment(
    tasks: Sequence[str], robots: Sequence[str], cost: Callable[[str, str], float]
) -> list[tuple[str, str]]:
    """Pairs (task, robot) of least total travel; as many pairs as the smaller side has members.

    With more tasks than robots, the tasks that matter most should come first: only the first
    ``len(robots)`` tasks are considered, so queue order (due time) is kept. With fewer tasks than
    robots, the solver (which wants a square matrix) gets only the robots among some task's ``k``
    cheapest, for ``k`` tasks, and as many tasks of no cost to fill the square: some least-cost
    assignment gives every task one of its ``k`` cheapest robots (at most ``k - 1`` of them are taken by
    the other tasks, so a task elsewhere can swap to a free one at no extra cost).
    """
    tasks = list(tasks[: len(robots)])
    if not tasks or not robots:
        return []
    costs = np.empty((len(tasks), len(robots)))
    for i, task in enumerate(tasks):
        for j, robot in enumerate(robots):
            c = cost(task, robot)
            if not 0 <= c < float("inf"):
                raise ValueError(f"cost of task {task!r} on robot {robot!r} is {c!r}; need finite and ≥ 0")
            costs[i, j] = c
    k = len(tasks)
    if k == 1:  # one task (the common case): its cheapest robot, the one the solver alone would be given
        return [(tasks[0], robots[int(np.argpartition(costs[0], 0)[0])])]
    cols = np.unique(np.argpartition(costs, k - 1, axis=1)[:, :k]) if k < len(robots) else np.arange(k)
    n = len(cols)
    square = np.zeros((n, n), dtype=np.int64)  # rows from k on: tasks that are not there, at no cost
    square[:k] = np.rint(costs[:, cols] * SCALE)
    left, right = np.divmod(np.arange(n * n, dtype=np.int32), np.int32(n))
    solver = SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(left, right, square.ravel())
    if solver.solve() != solver.OPTIMAL:
        return nearest_idle(tasks, robots, cost)
    return [(task, robots[int(cols[solver.right_mate(i)])]) for i, task in enumerate(tasks)]
