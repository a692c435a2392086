"""Assignment of tasks to idle robots: min-cost matching with OR-Tools, and the greedy baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    ``len(robots)`` tasks are considered, so queue order (due time) is kept.
    """
    tasks = list(tasks[: len(robots)])
    if not tasks or not robots:
        return []
    solver = SimpleLinearSumAssignment()
    for i, task in enumerate(tasks):
        for j, robot in enumerate(robots):
            c = cost(task, robot)
            if not 0 <= c < float("inf"):
                raise ValueError(f"cost of task {task!r} on robot {robot!r} is {c!r}; need finite and ≥ 0")
            solver.add_arc_with_cost(i, j, round(c * SCALE))
    if solver.solve() != solver.OPTIMAL:
        return nearest_idle(tasks, robots, cost)
    return [(task, robots[solver.right_mate(i)]) for i, task in enumerate(tasks)]
