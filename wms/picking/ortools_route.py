"""Pick routes for any layout with OR-Tools, and the one entry point that routes by method name.

OR-Tools' RoutingModel (one vehicle from a start to an end, guided local search under a time limit)
works on any distance matrix: in a block it routes the picks' aisle runs (``wms.picking.aisle_tsp``,
started from the two-sweep heuristic's loop) with a start and end anywhere, and over a networkx graph
it routes a robot across several blocks joined into one. ``route`` picks the method by
name for commands and benchmarks; ``route_on_layout`` is what the controller calls on its Layout:
exact when the route's ends sit on the block's cross aisles (pack stations and chargers hang off the
front cross aisle), OR-Tools otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from wms.picking.aisle_tsp import expand, runs, seed_from, solve_runs, two_sweep
from wms.picking.block import Block, Pick, PickError, Route, layout_point
from wms.picking.exact import exact_route, path_length
from wms.picking.heuristics import HEURISTICS

if TYPE_CHECKING:
    from wms.layout import Layout

SCALE = 1000  # OR-Tools wants integer arcs: millimetres
METHODS = ("exact", "ortools", *HEURISTICS)


def solve_path(
    dist: np.ndarray, start: int, end: int, time_limit_s: float = 1.0, initial: Sequence[int] | None = None
) -> list[int]:
    """Order visiting every node of ``dist`` from ``start`` to ``end`` (both included, once if equal).

    ``initial`` (the other nodes in some order) seeds the search instead of the cheapest-arc start.
    """
    n = len(dist)
    if n <= 2 or (n == 3 and start != end):
        middle = [i for i in range(n) if i not in (start, end)]
        return [start, *middle] + ([end] if end != start else [start])
    manager = pywrapcp.RoutingIndexManager(n, 1, [start], [end])
    model = pywrapcp.RoutingModel(manager)
    arcs = np.rint(np.asarray(dist, dtype=float) * SCALE).astype(np.int64)
    transit = model.RegisterTransitMatrix(arcs.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(round(time_limit_s * 1000))))
    solution = None
    if initial is not None:
        model.CloseModelWithParameters(params)
        seed = model.ReadAssignmentFromRoutes([list(initial)], True)
        if seed is not None:
            solution = model.SolveFromAssignmentWithParameters(seed, params)
    if solution is None:
        solution = model.SolveWithParameters(params)
    if solution is None:
        raise PickError("OR-Tools found no route")  # cannot happen: the model has no side constraints
    order, index = [], model.Start(0)
    while not model.IsEnd(index):
        order.append(manager.IndexToNode(index))
        index = solution.Value(model.NextVar(index))
    order.append(manager.IndexToNode(index))
    return order


def ortools_route(
    block: Block,
    picks: Sequence[tuple[int, float]],
    time_limit_s: float = 1.0,
    start: tuple[int, float] | None = None,
    end: tuple[int, float] | None = None,
) -> Route:
    """Route through the picks of a block by OR-Tools over the picks' aisle runs (``aisle_tsp``).

    The search visits each run of picks in one pass, up or down, which some optimal route does, so it
    is far smaller than the TSP over the picks. It starts from the two-sweep heuristic's loop (opened
    between the ends), which guided local search then improves.
    """
    began = time.perf_counter()
    pts = block.check(picks)
    first = block.check([start], "start")[0] if start is not None else block.depot
    last = block.check([end], "end")[0] if end is not None else block.depot
    items = runs(block, pts, (first, last))
    if not items:
        return Route("ortools", 0.0, (), 0.0) if first == last else _open_empty(block, first, last)
    loop = two_sweep(block, pts, items, first, last)
    seed, candidates = seed_from(items, pts, loop), [tuple(loop)]
    left = max(time_limit_s - (time.perf_counter() - began), 0.001)
    candidates.insert(0, expand(items, solve_runs(block, items, first, last, left, seed), pts))
    lengths = [path_length(block, pts, seq, first, last) for seq in candidates]
    best = int(np.argmin(lengths))  # the search's route unless the seed it started from is shorter
    return Route("ortools", lengths[best], candidates[best], lengths[best])


def _open_empty(block: Block, first: Pick, last: Pick) -> Route:
    """The empty route from ``first`` straight to ``last``."""
    length = path_length(block, [], (), first, last)
    return Route("ortools", length, (), length)


def route(
    block: Block, picks: Sequence[tuple[int, float]], method: str = "exact", time_limit_s: float = 1.0
) -> Route:
    """Closed route from the depot through the picks by the named method (see ``METHODS``)."""
    if method == "exact":
        return exact_route(block, picks)
    if method == "ortools":
        return ortools_route(block, picks, time_limit_s)
    if method in HEURISTICS:
        return HEURISTICS[method](block, picks)
    raise PickError(f"unknown routing method {method!r}; choose one of {', '.join(METHODS)}")


def graph_route(
    graph: nx.Graph, start: str, stops: Sequence[str], end: str, time_limit_s: float = 1.0
) -> tuple[list[str], float]:
    """Route on any weighted graph (several blocks joined, say): node order and its length in metres."""
    for node in (start, *stops, end):
        if node not in graph:
            raise PickError(f"node {node!r} is not in the layout graph")
    uniq = [s for s in dict.fromkeys(stops) if s not in (start, end)]
    nodes = [start, *([] if end == start else [end]), *uniq]
    dist = np.empty((len(nodes), len(nodes)))
    for i, u in enumerate(nodes):
        reach = nx.single_source_dijkstra_path_length(graph, u, weight="weight")
        for j, v in enumerate(nodes):
            if v not in reach:
                raise PickError(f"node {v!r} cannot be reached from {u!r}")
            dist[i, j] = reach[v]
    order = solve_path(dist, 0, 0 if end == start else 1, time_limit_s)
    path = [nodes[i] for i in order]
    return path, float(sum(dist[order[i], order[i + 1]] for i in range(len(order) - 1)))


def _attach(layout: Layout, block: Block, node: str) -> tuple[Pick, float] | None:
    """A route end as a cross-aisle point plus the stub length to it (pack stations, chargers)."""
    p = layout_point(layout, block, node)
    if p is not None:
        return (p, 0.0) if any(abs(p.position_m - y) <= 1e-9 for y in block.cross_ys) else None
    nbrs = list(layout.graph.neighbors(node)) if node in layout.graph else []
    if len(nbrs) != 1:
        return None
    q = layout_point(layout, block, nbrs[0])
    if q is None or all(abs(q.position_m - y) > 1e-9 for y in block.cross_ys):
        return None
    return q, float(layout.graph[node][nbrs[0]]["weight"])


def route_on_layout(
    layout: Layout,
    start: str,
    stops: Sequence[str],
    end: str,
    method: str = "exact",
    time_limit_s: float = 1.0,
) -> list[str]:
    """Node route start → every distinct stop → end on the controller's Layout (nearest_neighbour's shape).

    ``exact`` is optimal whenever start and end sit on a cross aisle or hang off one by a single edge
    (pack stations, chargers) and the stops are aisle nodes; otherwise, and for ``ortools``, OR-Tools
    searches the Layout's distance oracle for ``time_limit_s``.
    """
    for node in (start, *stops, end):
        if node not in layout.index:
            raise PickError(f"node {node!r} is not in the layout")
    uniq = [s for s in dict.fromkeys(stops)]
    if not uniq:
        return [start, end]
    if method not in ("exact", "ortools"):
        raise PickError(f"unknown layout routing method {method!r}; choose exact or ortools")
    block = Block.from_storage(layout.storage)
    if method == "exact":
        a, b = _attach(layout, block, start), _attach(layout, block, end)
        pts = [layout_point(layout, block, s) for s in uniq]
        if a is not None and b is not None and all(p is not None for p in pts):
            r = exact_route(block, pts, a[0], b[0])  # type: ignore[arg-type]
            return [start, *(uniq[i] for i in r.sequence), end]
    nodes = [start, end, *uniq]
    idx = [layout.index[n] for n in nodes]
    dist = layout.dist[np.ix_(idx, idx)]
    if start == end:
        dist = np.delete(np.delete(dist, 1, axis=0), 1, axis=1)
        order = solve_path(dist, 0, 0, time_limit_s)
        return [start, *(uniq[i - 1] for i in order[1:-1]), end]
    order = solve_path(dist, 0, 1, time_limit_s)
    return [start, *(uniq[i - 2] for i in order[1:-1]), end]
