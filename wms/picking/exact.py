"""Exact pick routes in a block with 2 or 3 cross aisles, by dynamic programming, linear in the aisles.

This is the Ratliff–Rosenthal (1983) state-space programme written for any number of cross aisles, the
way Roodbergen & de Koster (2001) extend it to a middle aisle. A minimal route is a connected multigraph
on the aisle and cross-aisle segments in which every vertex has even degree (the start and end odd when
they differ). Each stretch of aisle between two cross aisles holds one of six configurations (nothing,
one traversal, two traversals, a return from the lower or upper end, both ends with the largest gap
between two picks left out), and each cross-aisle edge between neighbouring aisles 0, 1 or 2 copies.
The programme sweeps the aisles left to right keeping, for the column of cross-aisle vertices at the
sweep, each vertex's degree class (zero, odd, even) and which of them are already connected: the
published "equivalence classes", here enumerated mechanically rather than tabulated by hand. Every
transition table is instance-free and cached; one route is then two vectorised min-plus steps per aisle.
The route itself is an Eulerian tour (Hierholzer) of the chosen edges, so its length under the
distance oracle is the programme's optimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np

from wms.picking.block import Block, Pick, PickError, Route

# sub-aisle configurations: (degree added at lower end, at upper end, ends connected)
NONE, FULL1, FULL2, LOW, HIGH, GAP = range(6)
_CONFIG = {
    NONE: (0, 0, False),
    FULL1: (1, 1, True),
    FULL2: (2, 2, True),
    LOW: (2, 0, False),
    HIGH: (0, 2, False),
    GAP: (2, 2, False),
}
# a vertex's requirement at the column's closing: free (degree 0 or even), visited with even, odd degree
FREE, EVEN, ODD = range(3)

State = tuple[tuple[int, ...], tuple[int, ...], bool]  # degree classes, component labels, finished


def _canon(cls: Sequence[int], lab: Sequence[int], done: bool) -> State:
    """Relabel components in order of first appearance so equal states compare equal."""
    seen: dict[int, int] = {}
    out = []
    for c, label in zip(cls, lab, strict=True):
        if c == 0:
            out.append(-1)
        else:
            out.append(seen.setdefault(label, len(seen)))
    return tuple(cls), tuple(out), done


def _add(cls: int, deg: int) -> int:
    """Degree class after adding ``deg`` edge ends: 0 none, 1 odd, 2 even and positive."""
    if deg == 0:
        return cls
    return 1 if ((cls == 1) + deg) % 2 else 2


def _vertical(state: State, combo: tuple[int, ...]) -> State | None:
    """Add one aisle's sub-aisle configurations to the column's vertices."""
    cls, lab, done = state
    if done:
        return state if not any(combo) else None
    k = len(cls)
    added = [0] * k
    for s, opt in enumerate(combo):
        lo, hi, _ = _CONFIG[opt]
        added[s] += lo
        added[s + 1] += hi
    labels = list(lab)
    fresh = 100
    for c in range(k):
        if cls[c] == 0 and added[c]:
            labels[c] = fresh
            fresh += 1
    for s, opt in enumerate(combo):
        if _CONFIG[opt][2]:
            a, b = labels[s], labels[s + 1]
            labels = [a if x == b else x for x in labels]
    return _canon([_add(cls[c], added[c]) for c in range(k)], labels, False)


def _horizontal(state: State, m: tuple[int, ...]) -> tuple[State, tuple[int, ...]] | None:
    """Add m[c] copies of each cross-aisle edge to the next aisle; close the old column's vertices."""
    cls, lab, done = state
    final = tuple(_add(cls[c], m[c]) for c in range(len(cls)))
    if done:
        return (state, final) if not any(m) else None
    labels = []
    for c, copies in enumerate(m):
        if copies == 0:
            labels.append(-1)
        else:
            labels.append(lab[c] if cls[c] else 100 + c)
    old = {lab[c] for c in range(len(cls)) if cls[c]}
    closed = old - set(labels)
    if len(closed) > 1 or (closed and any(m)):
        return None  # a component left behind: the route would be disconnected
    new_cls = [min(copies, 2) for copies in m]
    return _canon(new_cls, labels, bool(closed)), final


@dataclass(frozen=True)
class _Step:
    """Transitions of one step sorted by destination, ready for a vectorised min-plus."""

    src: np.ndarray
    key: np.ndarray  # configuration combo (vertical) or copies tuple index (horizontal)
    starts: np.ndarray
    dst: np.ndarray  # destination state of each group
    counts: np.ndarray  # transitions per group


def _step(rows: list[tuple[int, int, int]]) -> _Step:
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    dst = arr[:, 2]
    starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
    counts = np.diff(np.append(starts, len(dst)))
    return _Step(arr[:, 0].copy(), arr[:, 1].copy(), starts, dst[starts].copy(), counts)


@dataclass(frozen=True)
class _Tables:
    """Everything instance-free about the programme for k cross aisles."""

    states: list[State]
    start: int
    done: int
    combos: list[tuple[int, ...]]
    copies: list[tuple[int, ...]]
    vertical: _Step
    horizontal: list[tuple[int, int, int, tuple[int, ...]]]  # src, copies index, dst, closing classes


@cache
def _tables(k: int) -> _Tables:
    """Enumerate the reachable states and both kinds of transitions for k cross aisles."""
    combos = list(product(range(6), repeat=k - 1))
    copies = list(product(range(3), repeat=k))
    start: State = ((0,) * k, (-1,) * k, False)
    index: dict[State, int] = {start: 0}
    states = [start]
    vrows: list[tuple[int, int, int]] = []
    hrows: list[tuple[int, int, int, tuple[int, ...]]] = []
    todo = [start]

    def intern(s: State) -> int:
        if s not in index:
            index[s] = len(states)
            states.append(s)
            todo.append(s)
        return index[s]

    while todo:  # alternate closed under both steps; a state is reachable by either
        s = todo.pop()
        for ci, combo in enumerate(combos):
            t = _vertical(s, combo)
            if t is not None:
                vrows.append((index[s], ci, intern(t)))
        for mi, m in enumerate(copies):
            res = _horizontal(s, m)
            if res is not None:
                hrows.append((index[s], mi, intern(res[0]), res[1]))
    done = intern(((0,) * k, (-1,) * k, True))
    return _Tables(states, 0, done, combos, copies, _step(vrows), hrows)


@cache
def _closing(k: int, need: tuple[int, ...], last: bool) -> _Step:
    """Horizontal transitions allowed when the old column's vertices must meet ``need``."""
    tab = _tables(k)
    rows = []
    for src, mi, dst, final in tab.horizontal:
        if last and any(tab.copies[mi]):
            continue
        if all(_meets(f, n) for f, n in zip(final, need, strict=True)):
            rows.append((src, mi, dst))
    return _step(rows)


def _meets(cls: int, need: int) -> bool:
    return cls == 2 if need == EVEN else cls == 1 if need == ODD else cls != 1


def _chosen(step: _Step, before: np.ndarray, add: np.ndarray, state: int) -> int:
    """The transition of ``step`` that gives ``state`` its best value from ``before`` (the first of equals,
    as `_relax_value`'s minimum saw them): only that state's transitions are looked at."""
    group = int(np.searchsorted(step.dst, state))
    lo = int(step.starts[group])
    hi = lo + int(step.counts[group])
    return lo + int(np.argmin(before[step.src[lo:hi]] + add[step.key[lo:hi]]))


@dataclass(frozen=True, slots=True)
class _SubAisle:
    """Picks strictly inside one stretch of aisle between two cross aisles."""

    lo: float
    hi: float
    ys: tuple[float, ...]  # distinct pick positions, ascending
    gap: int  # the largest gap between consecutive picks is ys[gap] .. ys[gap + 1]

    def costs(self) -> np.ndarray:
        h = self.hi - self.lo
        inf = math.inf
        if not self.ys:
            return np.array([0.0, h, 2 * h, inf, inf, inf])
        ys = self.ys
        gap = 2 * (h - (ys[self.gap + 1] - ys[self.gap])) if len(ys) > 1 else inf
        return np.array([inf, h, 2 * h, 2 * (ys[-1] - self.lo), 2 * (self.hi - ys[0]), gap])

    def segments(self, opt: int, lo_node: object, hi_node: object) -> list[tuple[object, object, float]]:
        """Edges (with repeats) of a configuration, along lo → picks → hi."""
        pts = [(self.lo, lo_node), *((y, ("L", y)) for y in self.ys), (self.hi, hi_node)]
        segs = list(zip(pts, pts[1:], strict=False))
        if opt == NONE:
            chosen: list = []
        elif opt == FULL1:
            chosen = segs
        elif opt == FULL2:
            chosen = segs * 2
        elif opt == LOW:
            chosen = segs[: len(self.ys)] * 2
        elif opt == HIGH:
            chosen = segs[1:] * 2
        else:
            chosen = (segs[: self.gap + 1] + segs[self.gap + 2 :]) * 2
        return [(u, v, y1 - y0) for (y0, u), (y1, v) in chosen]


def _terminal(block: Block, point: tuple[int, float] | None, what: str) -> tuple[int, int]:
    """(aisle, cross aisle) of a route end, which must lie on a cross aisle."""
    if point is None:
        return block.depot_aisle, 0
    (p,) = block.check([point], what)
    for c, y in enumerate(block.cross_ys):
        if abs(p.position_m - y) <= 1e-9:
            return p.aisle, c
    raise PickError(f"{what}: {tuple(point)} is not on a cross aisle; exact routes start and end on one")


@dataclass
class _Instance:
    """One routing problem laid out for the programme: per-aisle sub-aisles and vertex requirements."""

    block: Block
    picks: list[Pick]
    source: tuple[int, int]
    sink: tuple[int, int]
    subs: list[list[_SubAisle]]
    need: list[list[int]]
    at: dict[tuple, list[int]]  # graph node -> pick indices there
    span: range  # the aisles a route can use: none beyond the outermost pick or end


def _instance(
    block: Block,
    picks: Sequence[tuple[int, float]],
    start: tuple[int, float] | None,
    end: tuple[int, float] | None,
) -> _Instance:
    pts = block.check(picks)
    s, t = _terminal(block, start, "start"), _terminal(block, end, "end")
    k, n, ys = block.cross_aisles, block.aisles, block.cross_ys
    need = [[FREE] * k for _ in range(n)]
    inside: list[list[list[float]]] = [[[] for _ in range(k - 1)] for _ in range(n)]
    at: dict[tuple, list[int]] = {}
    for i, p in enumerate(pts):
        c = next((c for c, y in enumerate(ys) if abs(p.position_m - y) <= 1e-9), None)
        if c is not None:
            need[p.aisle][c] = EVEN
            at.setdefault(("X", p.aisle, c), []).append(i)
        else:
            sub = max(c for c, y in enumerate(ys) if y < p.position_m)
            inside[p.aisle][sub].append(p.position_m)
            at.setdefault(("L", p.aisle, p.position_m), []).append(i)
    need[s[0]][s[1]] = EVEN if s == t else ODD
    need[t[0]][t[1]] = EVEN if s == t else ODD
    used = [p.aisle for p in pts] + [s[0], t[0]]
    empty = [_SubAisle(ys[c], ys[c + 1], (), 0) for c in range(k - 1)]  # shared by every aisle without picks
    subs = [
        [_sub(ys[c], ys[c + 1], inside[a][c]) for c in range(k - 1)] if any(inside[a]) else empty
        for a in range(n)
    ]
    return _Instance(block, pts, s, t, subs, need, at, range(min(used), max(used) + 1))


def _trivial(inst: _Instance) -> bool:
    """Closed route whose every pick sits at the depot vertex itself: nothing to walk."""
    return inst.source == inst.sink and set(inst.at) <= {("X", *inst.source)}


def _programme(inst: _Instance) -> tuple[float, list[tuple[_Step, np.ndarray, np.ndarray, int]]]:
    """Run the programme over the span's aisles: the optimum, and each step with the values before it and
    its costs, to trace the route back (`_chosen`) from the one state the optimum ends in."""
    k = inst.block.cross_aisles
    tab = _tables(k)
    combos, rows = _combo_matrix(k), _columns(k)
    hcost = _cross_costs(inst.block)
    value = np.full(len(tab.states), np.inf)
    value[tab.start] = 0.0
    trail: list[tuple[_Step, np.ndarray, np.ndarray, int]] = []
    for a in inst.span:
        per = np.array([sub.costs() for sub in inst.subs[a]])  # (k-1) × 6
        add = per[rows, combos].sum(axis=1)
        trail.append((tab.vertical, value, add, a))
        value = _relax_value(value, tab.vertical, add)
        step = _closing(k, tuple(inst.need[a]), a == inst.span[-1])
        trail.append((step, value, hcost, a))
        value = _relax_value(value, step, hcost)
    best = float(value[tab.done])
    if not math.isfinite(best):
        raise PickError("no route exists for these picks")  # cannot happen on a valid block
    return best, trail


def exact_length(
    block: Block,
    picks: Sequence[tuple[int, float]],
    start: tuple[int, float] | None = None,
    end: tuple[int, float] | None = None,
) -> float:
    """Length of the shortest route, without tracing the route itself (for batching's many calls)."""
    inst = _instance(block, picks, start, end)
    return 0.0 if _trivial(inst) else _optimum(inst)


def _optimum(inst: _Instance) -> float:
    """The programme's optimum alone: a run of aisles without picks or route ends is one min-plus step."""
    k = inst.block.cross_aisles
    tab = _tables(k)
    combos = _combo_matrix(k)
    hcost = _cross_costs(inst.block)
    value = np.full(len(tab.states), np.inf)
    value[tab.start] = 0.0
    last = inst.span[-1]
    a = inst.span[0]
    while a <= last:
        run = 0
        while a + run < last and not any(inst.need[a + run]) and not any(s.ys for s in inst.subs[a + run]):
            run += 1
        if run:
            value = np.min(value[:, None] + _empty_run(inst.block, run), axis=0)
            a += run
            continue
        per = np.array([sub.costs() for sub in inst.subs[a]])
        value = _relax_value(value, tab.vertical, per[_columns(k), combos].sum(axis=1))
        value = _relax_value(value, _closing(k, tuple(inst.need[a]), a == last), hcost)
        a += 1
    best = float(value[tab.done])
    if not math.isfinite(best):
        raise PickError("no route exists for these picks")  # cannot happen on a valid block
    return best


def _relax_value(value: np.ndarray, step: _Step, add: np.ndarray) -> np.ndarray:
    """One min-plus step: the best value per destination state."""
    out = np.full(len(value), np.inf)
    out[step.dst] = np.minimum.reduceat(value[step.src] + add[step.key], step.starts)
    return out


@cache
def _cross_costs(block: Block) -> np.ndarray:
    """Length of each horizontal transition's cross-aisle edges to the next aisle (copies x pitch)."""
    return np.array([sum(m) for m in _tables(block.cross_aisles).copies], dtype=float) * block.aisle_pitch_m


@cache
def _columns(k: int) -> np.ndarray:
    return np.arange(k - 1)[None, :]


@cache
def _combo_matrix(k: int) -> np.ndarray:
    return np.array(_tables(k).combos, dtype=np.int64).reshape(-1, k - 1)


def _dense(step: _Step, add: np.ndarray, n: int) -> np.ndarray:
    """A step as an n x n min-plus matrix: the cheapest transition from each state to each state."""
    out = np.full((n, n), np.inf)
    np.minimum.at(out, (step.src, np.repeat(step.dst, step.counts)), add[step.key])
    return out


@cache
def _empty_run(block: Block, run: int) -> np.ndarray:
    """Min-plus matrix of ``run`` consecutive aisles with no pick and no route end, inside the span."""
    k = block.cross_aisles
    tab = _tables(k)
    n = len(tab.states)
    if run > 1:
        half = _empty_run(block, run // 2)
        both = np.min(half[:, :, None] + half[None, :, :], axis=1)
        return both if run % 2 == 0 else np.min(both[:, :, None] + _empty_run(block, 1)[None, :, :], axis=1)
    ys = block.cross_ys
    per = np.array([_SubAisle(ys[c], ys[c + 1], (), 0).costs() for c in range(k - 1)])
    vertical = _dense(tab.vertical, per[_columns(k), _combo_matrix(k)].sum(axis=1), n)
    closing = _dense(_closing(k, (FREE,) * k, False), _cross_costs(block), n)
    return np.min(vertical[:, :, None] + closing[None, :, :], axis=1)


def exact_route(
    block: Block,
    picks: Sequence[tuple[int, float]],
    start: tuple[int, float] | None = None,
    end: tuple[int, float] | None = None,
) -> Route:
    """Shortest route from ``start`` through every pick to ``end`` (both default to the depot)."""
    inst = _instance(block, picks, start, end)
    if _trivial(inst):
        return Route("exact", 0.0, tuple(range(len(inst.picks))), 0.0)
    best, trail = _programme(inst)
    tab = _tables(block.cross_aisles)
    edges: list[tuple[tuple, tuple]] = []
    state = tab.done
    for step, before, add, a in reversed(trail):
        tr = _chosen(step, before, add, state)
        key = int(step.key[tr])
        if step is tab.vertical:
            for c, opt in enumerate(tab.combos[key]):
                for u, v, _ in inst.subs[a][c].segments(opt, ("X", a, c), ("X", a, c + 1)):
                    edges.append((_node(a, u), _node(a, v)))
        else:
            for c, copies in enumerate(tab.copies[key]):
                edges += [(("X", a, c), ("X", a + 1, c))] * copies
        state = int(step.src[tr])
    at = dict(inst.at)
    sequence: list[int] = []
    for node in _euler(edges, ("X", *inst.source)):
        sequence.extend(at.pop(node, ()))
    return Route("exact", best, tuple(sequence), best)


def _euler(edges: list[tuple[tuple, tuple]], source: tuple) -> list[tuple]:
    """Hierholzer: a walk from ``source`` over every edge once (closed, or to the other odd vertex)."""
    adj: dict[tuple, list[tuple[tuple, int]]] = {}
    for e, (u, v) in enumerate(edges):
        adj.setdefault(u, []).append((v, e))
        adj.setdefault(v, []).append((u, e))
    used = [False] * len(edges)
    stack, out = [source], []
    while stack:
        nbrs = adj.get(stack[-1], [])
        while nbrs and used[nbrs[-1][1]]:
            nbrs.pop()
        if nbrs:
            v, e = nbrs.pop()
            used[e] = True
            stack.append(v)
        else:
            out.append(stack.pop())
    if not all(used):
        raise PickError("the chosen edges are not connected")  # the programme guarantees they are
    return out[::-1]


def _node(aisle: int, u: object) -> tuple:
    """Graph node of a sub-aisle point: cross vertices pass through, pick points get their aisle."""
    return u if u[0] == "X" else ("L", aisle, u[1])  # type: ignore[index]


def _sub(lo: float, hi: float, ys: list[float]) -> _SubAisle:
    uniq = tuple(sorted(set(ys)))
    gaps = [b - a for a, b in zip(uniq, uniq[1:], strict=False)]
    return _SubAisle(lo, hi, uniq, gaps.index(max(gaps)) if gaps else 0)


def path_length(
    block: Block, picks: Sequence[Pick], sequence: Sequence[int], start: Pick, end: Pick
) -> float:
    """Length of start → picks in ``sequence`` order → end under the block's oracle."""
    pts = [start, *(picks[i] for i in sequence), end]
    d = block.distances(pts)
    return float(sum(d[i, i + 1] for i in range(len(pts) - 1)))
