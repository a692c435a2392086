"""Pick routing as a TSP over aisle runs, solved by OR-Tools: the aisle structure shrinks the search.

Cut every aisle at its cross aisles (and at a route end that lies inside it); a stretch between two cuts
holding picks splits at its largest gap between consecutive picks into at most two *runs*. Some optimal
route takes every run in one pass, bottom to top or top to bottom: a minimal route walks each stretch
as one traversal, a return from one end, or two returns leaving out the largest gap (Ratliff &
Rosenthal 1983), and each of those passes a run's picks in order. So the route is a generalised TSP
with one cluster per run and two nodes per cluster (up, down), and the arc from one node to the next is
the oracle distance from the first's exit pick to the second's entry pick. OR-Tools solves it with one
mandatory disjunction per run; its optimum is the block's optimum, and the search is far smaller than
the TSP over the picks themselves. ``two_sweep`` seeds it: a loop out along the aisles and back, each
sweep on whichever cross aisle suits, chosen aisle by aisle by a small dynamic programme (a two-block
generalisation of the combined heuristic, not the exact programme of ``wms.picking.exact``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from wms.picking.block import Block, Pick, PickError

EPS = 1e-9
SCALE = 1000  # OR-Tools wants integer arcs: millimetres


@dataclass(frozen=True, slots=True)
class Run:
    """Distinct pick positions of one aisle taken in one pass, ascending."""

    aisle: int
    ys: tuple[float, ...]


def runs(block: Block, picks: Sequence[Pick], ends: Sequence[Pick] = ()) -> list[Run]:
    """The runs of the picks: each stretch between cuts split at its largest gap, cut points alone."""
    cuts: dict[int, set[float]] = {}
    for e in ends:
        cuts.setdefault(e.aisle, set()).add(e.position_m)
    per: dict[int, set[float]] = {}
    for p in picks:
        per.setdefault(p.aisle, set()).add(p.position_m)
    out: list[Run] = []
    for a in sorted(per):
        marks = sorted({*block.cross_ys, *cuts.get(a, ())})
        stretches: list[list[float]] = [[] for _ in marks]
        for y in sorted(per[a]):
            if any(abs(y - m) <= EPS for m in marks):
                out.append(Run(a, (y,)))  # on a cut: a point of its own
            else:
                stretches[max(k for k, m in enumerate(marks) if m < y)].append(y)
        for ys in stretches:
            if len(ys) > 1:
                g = int(np.argmax(np.diff(ys))) + 1
                out += [Run(a, tuple(ys[:g])), Run(a, tuple(ys[g:]))]
            elif ys:
                out.append(Run(a, tuple(ys)))
    return out


def solve_runs(
    block: Block,
    items: Sequence[Run],
    first: Pick,
    last: Pick,
    time_limit_s: float,
    seed: Sequence[tuple[int, bool]] | None = None,
) -> list[tuple[int, bool]]:
    """Order and direction (True = upwards) of the runs on the shortest route found from first to last."""
    closed = first == last
    base = 1 if closed else 2
    entry: list[Pick] = [first] if closed else [first, last]
    leave: list[Pick] = list(entry)
    node_of: list[tuple[int, bool]] = []
    for r, run in enumerate(items):
        lo, hi = Pick(run.aisle, run.ys[0]), Pick(run.aisle, run.ys[-1])
        node_of.append((r, True))
        entry.append(lo)
        leave.append(hi)
        if len(run.ys) > 1:
            node_of.append((r, False))
            entry.append(hi)
            leave.append(lo)
    n = len(entry)
    arcs = np.rint(block.distances(leave, entry) * SCALE).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n, 1, [0], [0 if closed else 1])
    model = pywrapcp.RoutingModel(manager)
    transit = model.RegisterTransitMatrix(arcs.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(transit)
    k = base
    for run in items:
        if len(run.ys) > 1:
            model.AddDisjunction([manager.NodeToIndex(k), manager.NodeToIndex(k + 1)])
            k += 2
        else:
            k += 1
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(round(time_limit_s * 1000))))
    solution = None
    if seed is not None:
        lookup = {key: base + i for i, key in enumerate(node_of)}
        lookup.update({(r, False): lookup[(r, True)] for r, run in enumerate(items) if len(run.ys) == 1})
        model.CloseModelWithParameters(params)
        route = [manager.NodeToIndex(lookup[key]) for key in seed]
        assignment = model.ReadAssignmentFromRoutes([route], True)
        if assignment is not None:
            solution = model.SolveFromAssignmentWithParameters(assignment, params)
    if solution is None:
        solution = model.SolveWithParameters(params)
    if solution is None:
        raise PickError("OR-Tools found no route")  # cannot happen: no side constraints
    order, index = [], solution.Value(model.NextVar(model.Start(0)))
    while not model.IsEnd(index):
        order.append(node_of[manager.IndexToNode(index) - base])
        index = solution.Value(model.NextVar(index))
    return order


def seed_from(items: Sequence[Run], picks: Sequence[Pick], sequence: Sequence[int]) -> list[tuple[int, bool]]:
    """Runs in the order some pick sequence first reaches them, upwards if reached nearer the bottom."""
    where = {(run.aisle, y): r for r, run in enumerate(items) for y in run.ys}
    out: dict[int, bool] = {}
    for i in sequence:
        p = picks[i]
        r = where.get((p.aisle, p.position_m))
        if r is not None and r not in out:
            ys = items[r].ys
            out[r] = p.position_m - ys[0] <= ys[-1] - p.position_m
    return list(out.items())


def expand(items: Sequence[Run], order: Sequence[tuple[int, bool]], picks: Sequence[Pick]) -> tuple[int, ...]:
    """Pick sequence of a run order: each run's picks in its direction, picks at one spot together."""
    members: dict[tuple[int, float], list[int]] = {}
    for i, p in enumerate(picks):
        members.setdefault((p.aisle, p.position_m), []).append(i)
    seq: list[int] = []
    for r, up in order:
        run = items[r]
        for y in run.ys if up else reversed(run.ys):
            seq += members[(run.aisle, y)]
    return tuple(seq)


def two_sweep(
    block: Block, picks: Sequence[Pick], items: Sequence[Run], first: Pick, last: Pick | None = None
) -> list[int]:
    """Route heuristic: a loop of one sweep out left to right and one back, each on any cross aisle.

    A dynamic programme over the aisles picks, per aisle, the cross aisle each sweep arrives and leaves
    on and which runs each sweep walks (the aisle's lower runs by one sweep, the rest by the other); the
    loop passes ``first`` and ``last`` (default ``first``) and opens where joining them costs least. This
    generalises the combined heuristic (whose way back is a sweep along the front) to a middle cross
    aisle. ``items`` are the runs of ``picks`` with ``first`` and ``last`` as cuts.
    """
    last = first if last is None else last
    ys = block.cross_ys
    k = len(ys)
    cy = np.array(ys)
    by_aisle: dict[int, list[tuple[float, float]]] = {}
    for run in items:
        by_aisle.setdefault(run.aisle, []).append((run.ys[0], run.ys[-1]))
    for end in dict.fromkeys((first, last)):  # the loop passes the route's ends
        by_aisle.setdefault(end.aisle, []).append((end.position_m, end.position_m))
    p, q = cy[:, None], cy[None, :]

    def walks(hull: list[tuple[float, float]]) -> np.ndarray:
        """Shortest aisle walk from each cross aisle to each covering ``hull``'s span (none if empty)."""
        lo = hull[0][0] if hull else math.inf
        hi = hull[-1][1] if hull else -math.inf
        a, b = np.minimum(np.minimum(p, q), lo), np.maximum(np.maximum(p, q), hi)
        return (b - a) + np.minimum(np.abs(p - a) + np.abs(q - b), np.abs(p - b) + np.abs(q - a))

    value = np.where(np.eye(k, dtype=bool), 0.0, math.inf)  # both sweeps leave the left turn together
    trail = []
    for a in range(min(by_aisle), max(by_aisle) + 1):
        units = sorted(by_aisle.get(a, []))
        options = []
        for j in range(len(units) + 1):
            lower, upper = walks(units[:j]), walks(units[j:])
            options += [(j, True, lower, upper), (j, False, upper, lower)]
        totals = np.stack([w1[:, :, None, None] + w2[None, None, :, :] for _, _, w1, w2 in options])
        choice = totals.argmin(axis=0)  # [c1 in, c1 out, c2 in, c2 out]
        cand = value[:, None, :, None] + totals.min(axis=0)
        flat = cand.transpose(1, 3, 0, 2).reshape(k, k, k * k)
        trail.append((a, units, options, choice, flat.argmin(axis=2)))
        value = flat.min(axis=2) + 2 * block.aisle_pitch_m
    c1o = c2o = int(np.argmin(np.diag(value)))  # both sweeps meet at the right turn
    members: dict[int, list[tuple[float, int]]] = {}
    for i, pt in enumerate(picks):
        members.setdefault(pt.aisle, []).append((pt.position_m, i))
    out: list[int] = []
    back: list[int] = []
    for a, units, options, choice, arg in reversed(trail):
        c1i, c2i = divmod(int(arg[c1o, c2o]), k)
        j, first_low, _, _ = options[int(choice[c1i, c1o, c2i, c2o])]
        mine, theirs = (units[:j], units[j:]) if first_low else (units[j:], units[:j])
        out = _passed(members.get(a, []), mine, ys[c1i], ys[c1o]) + out
        back += _passed(members.get(a, []), theirs, ys[c2o], ys[c2i])
        c1o, c2o = c1i, c2i
    loop = list(dict.fromkeys(out + back))
    return _open(block, picks, loop, first, last)


def _passed(
    members: list[tuple[float, int]], units: list[tuple[float, float]], p: float, q: float
) -> list[int]:
    """Picks that an aisle walk from ``p`` to ``q`` over the span of ``units`` passes, in passing order."""
    lo = min(p, q, units[0][0]) if units else min(p, q)
    hi = max(p, q, units[-1][1]) if units else max(p, q)
    inside = [(y, i) for y, i in members if lo - EPS <= y <= hi + EPS]
    if abs(p - lo) + abs(q - hi) <= abs(p - hi) + abs(q - lo):  # down first, then up
        first = sorted((t for t in inside if t[0] <= p), key=lambda t: -t[0])
        then = sorted((t for t in inside if t[0] > p), key=lambda t: t[0])
    else:
        first = sorted((t for t in inside if t[0] >= p), key=lambda t: t[0])
        then = sorted((t for t in inside if t[0] < p), key=lambda t: -t[0])
    return [i for _, i in first + then]


def _open(block: Block, picks: Sequence[Pick], loop: list[int], first: Pick, last: Pick) -> list[int]:
    """The loop's picks, either way round, opened where joining ``first`` and ``last`` costs least."""
    best: tuple[float, list[int]] = (math.inf, loop)
    for way in (loop, loop[::-1]) if loop else ():
        pts = [picks[i] for i in way]
        at = np.arange(len(pts))
        nxt = np.roll(at, -1)
        to_first, to_last = block.distances([first, last], pts)
        extra = to_first[nxt] + to_last - block.distances(pts)[at, nxt]
        i = int(np.argmin(extra))
        if extra[i] < best[0]:
            best = (float(extra[i]), way[i + 1 :] + way[: i + 1])
    return best[1]
