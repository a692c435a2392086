"""Provably optimal slot assignment: min-cost flow on an aggregated graph with a checked dual certificate.

Precedence: first place as many SKUs as any plan can (a max flow over SKU types and slot kinds), then
minimise the objective of :mod:`wms.slotting.model` among those plans. Aggregation is lossless: SKUs of
one type and equal velocity form a class, slots of one kind and equal travel form a class, and members of a
class are interchangeable, so a class-to-class flow disaggregates into an assignment of the same cost.

Arcs from every SKU class to every slot class it fits would be millions, so OR-Tools solves the flow on a
sparse set (slot classes near the travel an SKU class gets in its zone's sorted order and in a greedy plan)
and the result is priced against the *full* graph: node potentials are the least ones with non-negative
reduced cost on every residual arc of the flow (Bellman-Ford; they exist because OR-Tools' flow is optimal
on its arcs), and every SKU class → slot class arc of the full graph is checked to have non-negative
reduced cost too, exactly in integers, per slot kind through a lower envelope of lines. Violated arcs join
the sparse graph and the flow is solved again until none is violated. The potentials are then a dual
solution of the full model with the flow's cost: a proven lower bound, ``lower_bound == objective``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

from wms.slotting.baselines import greedy_fill
from wms.slotting.model import (
    COST_SCALE,
    Assignment,
    Instance,
    SkuItem,
    SlotItem,
    SlottingError,
    SlottingRules,
    group_sorted,
)

_SRC, _DST = 0, 1
_INT_LIMIT = 2**62


def solve_optimal(
    skus: Iterable[SkuItem], slots: Iterable[SlotItem], rules: SlottingRules, *, window: int = 1
) -> Assignment:
    """The optimal assignment with its proof (``lower_bound == objective``, ``optimal``)."""
    return optimise(Instance(skus, slots, rules), window=window)


class _Graph:
    """SKU classes, slot classes and the class arcs (as keys ``i * n_slot + j``) the flow may use."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.members = np.flatnonzero(inst.placeable)
        key = np.stack([inst.sku_type[self.members], inst.vel[self.members]], axis=1)
        ukey, inverse = np.unique(key, axis=0, return_inverse=True)
        self.sku_cls = inverse.ravel()
        self.c_type, self.c_vel = ukey[:, 0], ukey[:, 1]
        self.c_n = np.bincount(self.sku_cls, minlength=len(ukey)).astype(np.int64)
        ukey, inverse = np.unique(
            np.stack([inst.slot_kind, inst.travel], axis=1), axis=0, return_inverse=True
        )
        self.slot_cls = inverse.ravel()
        self.s_kind, self.s_travel = ukey[:, 0], ukey[:, 1]
        self.s_cap = np.bincount(self.slot_cls, minlength=len(ukey)).astype(np.int64)
        self.n_sku, self.n_slot = len(self.c_n), len(self.s_cap)
        self.by_kind = group_sorted(self.s_kind)  # slot classes of each kind, travel ascending
        self.kind_of_group = [int(self.s_kind[g[0]]) for g in self.by_kind]
        self.group_pos = np.zeros(self.n_slot, dtype=np.int64)
        self.group_of = np.zeros(self.n_slot, dtype=np.int64)
        for q, g in enumerate(self.by_kind):
            self.group_pos[g] = np.arange(len(g))
            self.group_of[g] = q
        self.group_len = np.array([len(g) for g in self.by_kind], dtype=np.int64)
        self.group_start = np.array([g[0] for g in self.by_kind], dtype=np.int64)  # classes are kind-sorted
        self.fit_cls = [np.flatnonzero(inst.compat[self.c_type, k]) for k in self.kind_of_group]
        self.arcs = np.zeros(0, dtype=np.int64)

    def slope(self, j: np.ndarray) -> np.ndarray:
        """Cost per milli-pick of an arc into slot class ``j``: travel minus the overflow travel."""
        return self.s_travel[j] - self.inst.overflow

    def cost(self, keys: np.ndarray) -> np.ndarray:
        """Unit cost of class arcs."""
        return self.c_vel[keys // self.n_slot] * self.slope(keys % self.n_slot)

    def add(self, keys: np.ndarray) -> int:
        """Add arcs to the flow's graph; return how many were new."""
        before = len(self.arcs)
        self.arcs = np.union1d(self.arcs, keys)
        return len(self.arcs) - before

    def zone_targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Per SKU class, the least and greatest travel its members get in the zone's sorted order."""
        inst = self.inst
        lo = np.full(self.n_sku, np.iinfo(np.int64).max)
        hi = np.full(self.n_sku, -1)
        zones_sku, zones_slot = inst.sku_zone[self.members], inst.slot_zone
        for zone in set(zones_sku.tolist()):
            mine = np.flatnonzero(zones_sku == zone)
            travel = np.sort(inst.travel[zones_slot == zone])
            if len(travel) == 0:
                continue
            order = mine[np.argsort(-inst.vel[self.members[mine]], kind="stable")]
            t = travel[np.minimum(np.arange(len(order)), len(travel) - 1)]
            np.minimum.at(lo, self.sku_cls[order], t)
            np.maximum.at(hi, self.sku_cls[order], t)
        return lo, hi

    def windows(self, lo: np.ndarray, hi: np.ndarray, window: int) -> np.ndarray:
        """Arcs from each SKU class to the slot classes of each kind it fits with travel in [lo, hi] ± window.

        The window counts slot classes of the kind on each side; SKU classes with hi < 0 get no arcs.
        """
        out = []
        for g, cls in zip(self.by_kind, self.fit_cls, strict=True):
            cls = cls[hi[cls] >= 0]
            if len(cls) == 0:
                continue
            travel = self.s_travel[g]
            a = np.maximum(np.searchsorted(travel, lo[cls]) - window, 0)
            b = np.minimum(np.searchsorted(travel, hi[cls], side="right") + window, len(g))
            b = np.maximum(a + 1, b)
            a = np.minimum(a, len(g) - 1)
            counts = b - a
            rows = np.repeat(cls, counts)
            offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            out.append(rows * self.n_slot + g[np.repeat(a, counts) + offs])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def near(self, cls: np.ndarray, slot_cls: np.ndarray, window: int) -> np.ndarray:
        """Arcs from SKU classes to the given slot classes and their neighbours in travel within the kind."""
        out = []
        for off in range(-window, window + 1):
            pos = self.group_pos[slot_cls] + off
            ok = (pos >= 0) & (pos < self.group_len[self.group_of[slot_cls]])
            out.append(cls[ok] * self.n_slot + self.group_start[self.group_of[slot_cls][ok]] + pos[ok])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def plan_travel(self, pairs: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """Per SKU class, the least and greatest travel a plan gives its members (hi < 0: none placed)."""
        inst = self.inst
        where = np.full(len(inst.skus), -1)
        where[self.members] = np.arange(len(self.members))
        k = np.array([where[inst.sku_index[a]] for a in pairs], dtype=np.int64)
        j = np.array([inst.slot_index[b] for b in pairs.values()], dtype=np.int64)
        ok = k >= 0
        return self.travel_range(self.sku_cls[k[ok]], inst.travel[j[ok]])

    def travel_range(self, cls: np.ndarray, travel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least and greatest of ``travel`` per SKU class ``cls`` (hi < 0 for classes not mentioned)."""
        lo = np.full(self.n_sku, np.iinfo(np.int64).max)
        hi = np.full(self.n_sku, -1)
        np.minimum.at(lo, cls, travel)
        np.maximum.at(hi, cls, travel)
        return lo, hi

    def assigned_travel(self, flow: _Flow) -> tuple[np.ndarray, np.ndarray]:
        """Per SKU class, the least and greatest travel the flow gives it (hi < 0: none placed)."""
        used = flow.middle_flow() > 0
        return self.travel_range(flow.pairs[used, 0], self.s_travel[flow.pairs[used, 1]])

    def repair(self, flow: _Flow) -> np.ndarray:
        """Arcs from SKU classes the sparse graph cannot route to every fitting slot class past the cut."""
        mf = max_flow.SimpleMaxFlow()
        mf.add_arcs_with_capacity(flow.tails.astype(np.int32), flow.heads.astype(np.int32), flow.caps)
        mf.solve(_SRC, _DST)
        cut = np.zeros(flow.n_nodes, dtype=bool)
        cut[mf.get_source_side_min_cut()] = True
        stuck = np.flatnonzero(cut[2 : 2 + self.n_sku])
        open_slots = np.flatnonzero(~cut[2 + self.n_sku :])
        out = [
            i * self.n_slot + open_slots[self.inst.compat[self.c_type[i], self.s_kind[open_slots]]]
            for i in stuck.tolist()
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class _Flow:
    """One OR-Tools min-cost flow of ``supply`` units over the graph's current arcs."""

    def __init__(self, graph: _Graph, supply: int) -> None:
        gr = graph
        self.pairs = np.stack([gr.arcs // gr.n_slot, gr.arcs % gr.n_slot], axis=1)
        n_s, n_t = gr.n_sku, gr.n_slot
        self.n_sku, self.n_nodes = n_s, 2 + n_s + n_t
        sku_node, slot_node = 2 + np.arange(n_s), 2 + n_s + np.arange(n_t)
        self.tails = np.concatenate([np.full(n_s, _SRC), sku_node[self.pairs[:, 0]], slot_node])
        self.heads = np.concatenate([sku_node, slot_node[self.pairs[:, 1]], np.full(n_t, _DST)])
        # SKU → slot arcs never bind (the source arc caps a class), so their residual is always open
        self.caps = np.concatenate([gr.c_n, gr.c_n[self.pairs[:, 0]] + 1, gr.s_cap])
        self.costs = np.concatenate([np.zeros(n_s, np.int64), gr.cost(gr.arcs), np.zeros(n_t, np.int64)])
        mcf = min_cost_flow.SimpleMinCostFlow()
        mcf.add_arcs_with_capacity_and_unit_cost(
            self.tails.astype(np.int32), self.heads.astype(np.int32), self.caps, self.costs
        )
        mcf.set_nodes_supplies(np.array([_SRC, _DST], np.int32), np.array([supply, -supply], np.int64))
        self.status = mcf.solve()
        self.ok = self.status == mcf.OPTIMAL
        self.flow = (
            mcf.flows(np.arange(len(self.tails), dtype=np.int32)) if self.ok else np.zeros(0, np.int64)
        )
        self.cost = int(mcf.optimal_cost()) if self.ok else 0

    def middle_flow(self) -> np.ndarray:
        """Flow on the SKU → slot arcs, in the order of ``pairs``."""
        return self.flow[self.n_sku : self.n_sku + len(self.pairs)]

    def residual_arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Residual arcs (tail, head, cost): forward where below capacity, backward where carrying flow."""
        fwd = self.flow < self.caps
        bwd = self.flow > 0
        tails = np.concatenate([self.tails[fwd], self.heads[bwd]])
        heads = np.concatenate([self.heads[fwd], self.tails[bwd]])
        return tails, heads, np.concatenate([self.costs[fwd], -self.costs[bwd]])


def _envelope(slopes: np.ndarray, icpts: np.ndarray) -> np.ndarray:
    """Indices of the lines y = s·x + k forming the lower envelope over x ≥ 0, left to right."""
    order = np.lexsort((icpts, -slopes))  # slope descending, then intercept ascending
    hull: list[int] = []
    for j in order.tolist():
        s, k = int(slopes[j]), int(icpts[j])
        if hull and int(slopes[hull[-1]]) == s:
            continue  # same slope, higher intercept: never below
        while hull:
            s1, k1 = int(slopes[hull[-1]]), int(icpts[hull[-1]])
            if k <= k1:  # at x = 0 already lower and steeper down: the last line is dominated
                hull.pop()
                continue
            if len(hull) >= 2:
                s0, k0 = int(slopes[hull[-2]]), int(icpts[hull[-2]])
                # last is useless if the new line crosses line -2 no later than last crosses line -2
                if (k - k0) * (s0 - s1) <= (k1 - k0) * (s0 - s):
                    hull.pop()
                    continue
            break
        hull.append(j)
    return np.array(hull, dtype=np.int64)


def _envelope_min(slopes: np.ndarray, icpts: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact min over lines at each x ≥ 0 and the line achieving it."""
    hull = _envelope(slopes, icpts)
    s, k = slopes[hull], icpts[hull]
    if len(hull) == 1:
        return xs * s[0] + k[0], np.full(len(xs), hull[0])
    cross = (k[1:] - k[:-1]) / (s[:-1] - s[1:])  # where line h+1 takes over from line h
    pos = np.searchsorted(cross, xs.astype(np.float64))
    last = len(hull) - 1
    while True:  # float breakpoints may misplace x: along the hull the values at x fall, then rise
        here = xs * s[pos] + k[pos]
        left = np.where(pos > 0, xs * s[np.maximum(pos - 1, 0)] + k[np.maximum(pos - 1, 0)], here)
        right = np.where(pos < last, xs * s[np.minimum(pos + 1, last)] + k[np.minimum(pos + 1, last)], here)
        step = np.where(left < here, -1, np.where(right < here, 1, 0))
        if not step.any():
            return here, hull[pos]
        pos = pos + step


def _raise(p: np.ndarray, tails: np.ndarray, heads: np.ndarray, costs: np.ndarray, max_rounds: int) -> bool:
    """Raise potentials ``p`` in place to the least values ≥ p with c + p_u − p_v ≥ 0 on every arc.

    Bellman-Ford on the reversed arcs, relaxing only arcs into nodes whose potential rose in the last
    round. False if it has not settled within ``max_rounds`` (then a negative cycle is likely).
    """
    order = np.argsort(heads, kind="stable")
    t_s, h_s, c_s = tails[order], heads[order], costs[order]
    start = np.searchsorted(h_s, np.arange(len(p) + 1))
    frontier = np.arange(len(p))
    for _ in range(max_rounds):
        lo, hi = start[frontier], start[frontier + 1]
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return True
        idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(total)
        u, cand = t_s[idx], p[h_s[idx]] - c_s[idx]
        up = cand > p[u]
        if not up.any():
            return True
        u, cand = u[up], cand[up]
        np.maximum.at(p, u, cand)
        mark = np.zeros(len(p), dtype=bool)
        mark[u] = True
        frontier = np.flatnonzero(mark)
    return False


def _reduced_ok(p: np.ndarray, tails: np.ndarray, heads: np.ndarray, costs: np.ndarray) -> bool:
    """Whether every arc has non-negative reduced cost under ``p``."""
    return bool(np.all(costs + p[tails] - p[heads] >= 0))


def _violations(graph: _Graph, p: np.ndarray) -> np.ndarray:
    """Arcs of the full graph with negative reduced cost: per SKU class and slot kind, the most negative."""
    n_s = graph.n_sku
    p_sku, p_slot = p[2 : 2 + n_s], p[2 + n_s :]
    out = []
    for g, cls in zip(graph.by_kind, graph.fit_cls, strict=True):
        if len(cls) == 0:
            continue
        # c_ij + p_i − p_j ≥ 0 for all j  ⇔  min_j (slope_j · vel_i − p_j) ≥ −p_i
        best, arg = _envelope_min(graph.slope(g), -p_slot[g], graph.c_vel[cls])
        neg = best + p_sku[cls] < 0
        out.append(cls[neg] * graph.n_slot + g[arg[neg]])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def optimise(inst: Instance, *, window: int = 1, max_rounds: int = 40) -> Assignment:
    """Solve ``inst`` exactly; see the module docstring for the method and the proof."""
    placed_max, shortfalls = inst.max_placed()
    if placed_max == 0:
        empty = inst.result("optimal", {}, inst.unplaced_reasons({}, shortfalls), optimal=True)
        empty.lower_bound, empty.shortfalls = empty.objective, list(shortfalls.values())
        return empty
    graph = _Graph(inst)
    _check_range(graph)
    order = np.lexsort((np.arange(len(inst.skus)), -inst.vel)).tolist()
    graph.add(graph.windows(*graph.zone_targets(), window))
    graph.add(graph.windows(*graph.plan_travel(greedy_fill(inst, order)), window))
    flow, p = None, None
    solves = 0
    for _ in range(max_rounds):
        flow = _Flow(graph, placed_max)
        solves += 1
        if not flow.ok:
            if graph.add(graph.repair(flow)) == 0:
                break
            continue
        p = _price(graph, flow)
        if p is not None:
            break
    if flow is None or not flow.ok:
        raise RuntimeError(f"min-cost flow failed: {flow.status if flow else 'not run'}")
    pairs = _disaggregate(graph, flow)
    proven = p is not None
    lower = (flow.cost + int(inst.vel[graph.members].sum()) * inst.overflow) / COST_SCALE if proven else None
    result = inst.result(
        "optimal",
        pairs,
        inst.unplaced_reasons(pairs, shortfalls),
        lower_bound=lower,
        optimal=proven,
        shortfalls=list(shortfalls.values()),
        notes=[f"{solves} flow solve(s) over {len(graph.arcs)} of the class arcs"],
    )
    if proven and result.objective != lower:
        raise AssertionError(f"disaggregated objective {result.objective} differs from the flow's {lower}")
    return result


def _price(graph: _Graph, flow: _Flow) -> np.ndarray | None:
    """Potentials proving ``flow`` optimal on the full graph, or None after adding the arcs they violate.

    The potentials are the least ones satisfying every residual arc of the flow (they exist because the
    flow is optimal on its own arcs); the envelope check then tries every arc of the full graph.
    """
    tails, heads, costs = flow.residual_arcs()
    p = np.zeros(flow.n_nodes, dtype=np.int64)
    if not _raise(p, tails, heads, costs, 4 * flow.n_nodes) or not _reduced_ok(p, tails, heads, costs):
        raise RuntimeError("the flow's residual graph has a negative cycle: OR-Tools' result is not optimal")
    bad = _violations(graph, p)
    if len(bad) == 0:
        return p
    graph.add(graph.near(bad // graph.n_slot, bad % graph.n_slot, 2))
    return None


def _check_range(graph: _Graph) -> None:
    """Fail unless costs × nodes fit OR-Tools' int64 with room (its cost scaling multiplies by nodes)."""
    largest = int(graph.c_vel.max(initial=0)) * int(graph.inst.overflow)
    if largest * (graph.n_sku + graph.n_slot + 4) >= _INT_LIMIT // 4:
        raise SlottingError(
            f"velocity × travel up to {largest / COST_SCALE:g} m/day for one SKU is too large for exact"
            " integer costs over this many classes"
        )


def _disaggregate(graph: _Graph, flow: _Flow) -> dict[str, str]:
    """Concrete SKU → slot pairs from the class flow: each arc takes the next members of its classes."""
    inst = graph.inst
    f = flow.middle_flow()
    used = f > 0
    i, j, f = flow.pairs[used, 0], flow.pairs[used, 1], f[used]
    sku_order = np.argsort(graph.sku_cls, kind="stable")  # members grouped by class
    slot_order = np.argsort(graph.slot_cls, kind="stable")
    sku_start = np.concatenate([[0], np.cumsum(graph.c_n)])[:-1]
    slot_start = np.concatenate([[0], np.cumsum(graph.s_cap)])[:-1]
    # where each arc's share starts inside its SKU class and inside its slot class
    by_i = np.lexsort((j, i))
    by_j = np.lexsort((i, j))
    off_i = np.zeros(len(f), dtype=np.int64)
    off_j = np.zeros(len(f), dtype=np.int64)
    off_i[by_i] = _offsets(i[by_i], f[by_i])
    off_j[by_j] = _offsets(j[by_j], f[by_j])
    total = int(f.sum())
    step = np.arange(total) - np.repeat(np.cumsum(f) - f, f)
    sku_pos = np.repeat(sku_start[i] + off_i, f) + step
    slot_pos = np.repeat(slot_start[j] + off_j, f) + step
    skus = graph.members[sku_order[sku_pos]]
    slots = slot_order[slot_pos]
    return {inst.skus[k].sku: inst.slots[s].slot for k, s in zip(skus.tolist(), slots.tolist(), strict=True)}


def _offsets(group: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Running total of ``size`` within runs of equal ``group`` (exclusive), for group-sorted input."""
    run = np.cumsum(size) - size
    first = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    starts = np.repeat(run[first], np.diff(np.concatenate([first, [len(group)]])))
    return run - starts
