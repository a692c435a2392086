"""Assignment of picking batches to idle robots on travel cost, solved exactly with OR-Tools.

A drop-in for the walking skeleton's ``nearest_idle``: the same arguments and result, but the pairs
minimise the total cost over all robots at once (linear sum assignment) instead of greedily. Tasks are
given in release order (earliest cut-off first); when there are more tasks than robots, the first ones
are served, so urgency is never traded for travel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ortools.graph.python import linear_sum_assignment

from wms.picking.block import PickError

SCALE = 1000  # integer costs for the solver: millimetres (or milliseconds)


def assign_batches(
    tasks: Sequence[str], robots: Sequence[str], cost: Callable[[str, str], float]
) -> list[tuple[str, str]]:
    """Pairs (task, robot) of least total cost; each robot gets at most one task, tasks in order first."""
    served = list(tasks)[: len(robots)]
    if not served:
        return []
    size = len(robots)  # pad with free dummy tasks so the matching is square
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    for t in range(size):
        for r, robot in enumerate(robots):
            c = cost(served[t], robot) if t < len(served) else 0.0
            if not c >= 0 or c == float("inf"):
                raise PickError(
                    f"cost of task {served[t]!r} on robot {robot!r} is {c!r}; need a finite number ≥ 0"
                )
            solver.add_arc_with_cost(t, r, int(round(c * SCALE)))
    if solver.solve() != solver.OPTIMAL:
        raise PickError(
            "the assignment solver found no assignment"
        )  # a complete bipartite graph always has one
    return [(served[t], robots[solver.right_mate(t)]) for t in range(len(served))]
