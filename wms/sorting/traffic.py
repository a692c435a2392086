"""Traffic planners for lifelong sorting: plain PIBT, and windowed PIBT repaired by neighbourhood search.

``lns`` keeps a collision-free plan of ``window`` steps for every robot (a PIBT roll-out starts it). Each
timestep it shifts the plan by one step, extends it with one PIBT step, then repairs it: it takes a delayed
robot and the robots in its way, re-plans them one by one with space-time A* against everyone else's
reserved cells, and keeps the new paths when the robots end the window closer to their goals (the current
goal, then the expected next one). The first step of the plan is executed.
"""

from __future__ import annotations

import numba
import numpy as np

from wms.sorting.distances import Distances, TurnDistances
from wms.sorting.pibt import Pibt, TurnPibt, pibt_step

PLANNERS = ("pibt", "lns")
TURN_PLANNERS = ("pibt",)
"""Planners of the turn-in-place model (``--rotation``): robot state is (cell, heading)."""


@numba.njit(cache=True)
def _cost(row: np.ndarray, d1: np.ndarray, d2: np.ndarray, d12: int) -> int:
    """Distance left at the end of a window path: to the goal and on to the next one, or to the next one."""
    stage = 0
    for t in range(row.shape[0]):
        if stage == 0 and d1[row[t]] == 0:
            stage = 1
    end = row[row.shape[0] - 1]
    return int(d1[end]) + d12 if stage == 0 else int(d2[end])


@numba.njit(cache=True)
def _costs(
    path: np.ndarray, table: np.ndarray, slot: np.ndarray, nslot: np.ndarray, d12: np.ndarray
) -> np.ndarray:
    """``_cost`` of every robot."""
    n = path.shape[0]
    out = np.empty(n, dtype=np.int64)
    for a in range(n):
        out[a] = _cost(path[a], table[slot[a]], table[nslot[a]], d12[a])
    return out


@numba.njit(cache=True)
def _rollout(
    succ: np.ndarray,
    table: np.ndarray,
    slot: np.ndarray,
    nslot: np.ndarray,
    since: np.ndarray,
    tie: np.ndarray,
    path: np.ndarray,
    start: int,
    crowd: np.ndarray,
) -> None:
    """Fill ``path[:, start + 1:]`` by PIBT from ``path[:, start]`` (guided to the next goal once reached)."""
    n, h1 = path.shape
    eff = slot.copy()
    prio = since.astype(np.float64) + tie
    for a in range(n):
        for t in range(start + 1):
            if table[slot[a], path[a, t]] == 0:
                eff[a] = nslot[a]
    for t in range(start, h1 - 1):
        order = np.argsort(-prio)
        noise = np.random.random((n, 5))
        nxt = pibt_step(succ, table, eff, path[:, t].copy(), order, noise, crowd)
        for a in range(n):
            path[a, t + 1] = nxt[a]
            prio[a] += 1.0
            if eff[a] == slot[a] and table[slot[a], nxt[a]] == 0:
                eff[a] = nslot[a]
                prio[a] = tie[a]


@numba.njit(cache=True)
def _reserve(res: np.ndarray, row: np.ndarray, a: int) -> None:
    """Mark robot ``a``'s window path in the reservation table (time x cell)."""
    for t in range(row.shape[0]):
        res[t, row[t]] = a


@numba.njit(cache=True)
def _release(res: np.ndarray, row: np.ndarray, a: int) -> None:
    """Clear robot ``a``'s window path from the reservation table."""
    for t in range(row.shape[0]):
        if res[t, row[t]] == a:
            res[t, row[t]] = -1


@numba.njit(cache=True)
def _heap_push(keys: np.ndarray, vals: np.ndarray, size: int, key: int, val: int) -> int:
    """Push onto a binary min-heap kept in two arrays; returns the new size."""
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        p = (i - 1) >> 1
        if keys[p] <= keys[i]:
            break
        keys[p], keys[i] = keys[i], keys[p]
        vals[p], vals[i] = vals[i], vals[p]
        i = p
    return size + 1


@numba.njit(cache=True)
def _heap_pop(keys: np.ndarray, vals: np.ndarray, size: int) -> int:
    """Drop the heap's top (read ``vals[0]`` first); returns the new size."""
    size -= 1
    keys[0] = keys[size]
    vals[0] = vals[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        if left + 1 < size and keys[left + 1] < keys[left]:
            c = left + 1
        if keys[i] <= keys[c]:
            break
        keys[c], keys[i] = keys[i], keys[c]
        vals[c], vals[i] = vals[i], vals[c]
        i = c
    return size


@numba.njit(cache=True)
def _astar(
    a: int,
    start: int,
    succ: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
    d12: int,
    res: np.ndarray,
    out: np.ndarray,
    seen: np.ndarray,
    parent: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    stamp: int,
    max_expand: int,
    work: np.ndarray,
) -> int:
    """Space-time A* for robot ``a`` over the window, avoiding reserved cells and swaps; -1 when stuck.

    Minimises the distance left at the window's end (``_cost``); writes the path into ``out``.
    """
    h = out.shape[0] - 1
    cells = succ.shape[0]
    stage0 = 1 if d1[start] == 0 else 0
    node = (stage0 * (h + 1)) * cells + start
    seen[node] = stamp
    parent[node] = -1
    pot = int(d1[start]) + d12 if stage0 == 0 else int(d2[start])
    size = _heap_push(keys, vals, 0, pot * 128 + h, node)
    expanded = 0
    while size > 0:
        node = vals[0]
        size = _heap_pop(keys, vals, size)
        cell = node % cells
        rest = node // cells
        t = rest % (h + 1)
        stage = rest // (h + 1)
        if t == h:
            best = int(d1[cell]) + d12 if stage == 0 else int(d2[cell])
            while node >= 0:
                out[(node // cells) % (h + 1)] = node % cells
                node = parent[node]
            return best
        expanded += 1
        work[0] += 1
        if expanded > max_expand:
            return -1
        for d in range(5):
            v = cell if d == 4 else succ[cell, d]
            if v < 0 or res[t + 1, v] >= 0:
                continue
            b = res[t, v]
            if v != cell and b >= 0 and res[t + 1, cell] == b:
                continue
            st = 1 if stage == 1 or d1[v] == 0 else 0
            child = (st * (h + 1) + t + 1) * cells + v
            if seen[child] == stamp:
                continue
            seen[child] = stamp
            parent[child] = node
            pot = int(d1[v]) + d12 if st == 0 else int(d2[v])
            size = _heap_push(keys, vals, size, (t + 1 + pot) * 128 + (h - t - 1), child)
    return -1


@numba.njit(cache=True)
def _lns(
    succ: np.ndarray,
    table: np.ndarray,
    slot: np.ndarray,
    nslot: np.ndarray,
    d12: np.ndarray,
    weight: np.ndarray,
    path: np.ndarray,
    cost: np.ndarray,
    iters: int,
    group: int,
    max_expand: int,
    seen: np.ndarray,
    parent: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    stamp0: int,
    budget: int,
) -> tuple[int, int, int]:
    """Repair ``path`` in place for ``iters`` neighbourhoods or ``budget`` A* expansions, whichever is first.

    Returns (neighbourhoods accepted, last search stamp, A* expansions)."""
    n, h1 = path.shape
    h = h1 - 1
    cells = succ.shape[0]
    res = np.full((h1, cells), -1, dtype=np.int64)
    for a in range(n):
        _reserve(res, path[a], a)
    ideal = np.empty(n, dtype=np.int64)
    for a in range(n):
        d1 = table[slot[a]]
        p0 = int(d1[path[a, 0]]) + d12[a]
        ideal[a] = max(p0 - h, 0)
    old = np.empty((group, h1), dtype=np.int64)
    new = np.empty((group, h1), dtype=np.int64)
    members = np.empty(group, dtype=np.int64)
    newcost = np.empty(group, dtype=np.int64)
    inset = np.zeros(n, dtype=np.bool_)
    stamp = stamp0
    accepted = 0
    work = np.zeros(1, dtype=np.int64)
    for _ in range(iters):
        if work[0] >= budget:
            break
        # a delayed robot (best of a few drawn at random), then the robots on its ideal path
        a = np.random.randint(n)
        for _k in range(3):
            c = np.random.randint(n)
            if (cost[c] - ideal[c]) * weight[c] > (cost[a] - ideal[a]) * weight[a]:
                a = c
        if cost[a] <= ideal[a]:
            continue
        m = 0
        members[m] = a
        inset[a] = True
        m += 1
        cell = path[a, 0]
        d1, d2 = table[slot[a]], table[nslot[a]]
        stage = 1 if d1[cell] == 0 else 0
        for t in range(1, h1):
            best, bestp = cell, 1 << 30
            for d in range(4):
                v = succ[cell, d]
                if v < 0:
                    continue
                p = int(d1[v]) + d12[a] if stage == 0 else int(d2[v])
                if p < bestp:
                    best, bestp = v, p
            cell = best
            if stage == 0 and d1[cell] == 0:
                stage = 1
            for tt in (t - 1, t):
                b = res[tt, cell]
                if b >= 0 and not inset[b] and m < group:
                    members[m] = b
                    inset[b] = True
                    m += 1
        before = 0.0
        for i in range(m):
            b = members[i]
            before += weight[b] * cost[b]
            old[i] = path[b]
            _release(res, path[b], b)
        # re-plan in random order
        for i in range(m - 1, 0, -1):
            j = np.random.randint(i + 1)
            members[i], members[j] = members[j], members[i]
            old[i], old[j] = old[j].copy(), old[i].copy()
        after = 0.0
        ok = True
        done = 0
        for i in range(m):
            b = members[i]
            stamp += 1
            c = _astar(
                b,
                path[b, 0],
                succ,
                table[slot[b]],
                table[nslot[b]],
                d12[b],
                res,
                new[i],
                seen,
                parent,
                keys,
                vals,
                stamp,
                max_expand,
                work,
            )
            if c < 0:
                ok = False
                break
            _reserve(res, new[i], b)
            newcost[i] = c
            after += weight[b] * c
            done += 1
        if ok and after <= before:
            for i in range(m):
                b = members[i]
                path[b] = new[i]
                cost[b] = newcost[i]
            accepted += 1
        else:
            for i in range(done):
                _release(res, new[i], members[i])
            for i in range(m):
                _reserve(res, old[i], members[i])
        for i in range(m):
            inset[members[i]] = False
    return accepted, stamp, work[0]


@numba.njit(cache=True)
def _seed(s: int) -> None:
    """Seed numba's own random generator (used by the compiled planners)."""
    np.random.seed(s)


class WindowedLns:
    """Windowed PIBT plans repaired by LNS with space-time A* (in the spirit of WPPL, LoRR 2023)."""

    def __init__(
        self,
        dist: Distances,
        rng: np.random.Generator,
        window: int = 10,
        iters: int = 600,
        group: int = 8,
        max_expand: int = 2000,
        age: float = 0.02,
        budget: int = 1_000_000,
        fresh_every: int = 0,
    ) -> None:
        self.dist = dist
        self.rng = rng
        self.window, self.iters, self.group, self.max_expand, self.age = window, iters, group, max_expand, age
        self.budget, self.fresh_every = budget, fresh_every
        self._steps = 0
        self.fresh_wins = 0
        self.crowd = np.array([0.5, 0.1])
        self.path: np.ndarray | None = None
        self._tie: np.ndarray | None = None
        size = 2 * (window + 1) * dist.map.cells
        self._seen = np.zeros(size, dtype=np.int64)
        self._parent = np.empty(size, dtype=np.int64)
        self._keys = np.empty(size + 1, dtype=np.int64)
        self._vals = np.empty(size + 1, dtype=np.int64)
        self._stamp = 0
        self.accepted = 0
        self.work = 0

    def step(
        self, pos: np.ndarray, slot: np.ndarray, since: np.ndarray, nslot: np.ndarray, d12: np.ndarray
    ) -> np.ndarray:
        """Next cell of every robot."""
        n, h = pos.shape[0], self.window
        table, succ = self.dist.table, self.dist.succ
        if self._tie is None or self._tie.shape[0] != n:
            self._tie = self.rng.random(n)
        _seed(int(self.rng.integers(2**31)))
        weight = 1.0 + self.age * since
        path: np.ndarray | None = None
        cost = np.zeros(0, dtype=np.int64)
        if self.path is not None and self.path.shape[0] == n and np.array_equal(self.path[:, 1], pos):
            path = np.empty_like(self.path)
            path[:, :h] = self.path[:, 1:]
            _rollout(succ, table, slot, nslot, since, self._tie, path, h - 1, self.crowd)
            cost = _costs(path, table, slot, nslot, d12)
        self._steps += 1
        if path is None or (self.fresh_every > 0 and self._steps % self.fresh_every == 0):
            fresh = np.empty((n, h + 1), dtype=np.int64)
            fresh[:, 0] = pos
            _rollout(succ, table, slot, nslot, since, self._tie, fresh, 0, self.crowd)
            fresh_cost = _costs(fresh, table, slot, nslot, d12)
            if path is None or float(weight @ fresh_cost) < float(weight @ cost):
                path, cost = fresh, fresh_cost
                self.fresh_wins += 1
        accepted, self._stamp, self.work = _lns(
            succ,
            table,
            slot,
            nslot,
            d12,
            weight,
            path,
            cost,
            self.iters,
            self.group,
            self.max_expand,
            self._seen,
            self._parent,
            self._keys,
            self._vals,
            self._stamp,
            self.budget,
        )
        self.accepted += accepted
        self.path = path
        return path[:, 1].copy()


class PibtPlanner:
    """Plain PIBT behind the planner interface."""

    def __init__(self, dist: Distances, rng: np.random.Generator) -> None:
        self.pibt = Pibt(dist, rng)

    def step(
        self, pos: np.ndarray, slot: np.ndarray, since: np.ndarray, nslot: np.ndarray, d12: np.ndarray
    ) -> np.ndarray:
        """Next cell of every robot."""
        return self.pibt.step(pos, slot, since)


def warm_up(rotation: bool = False) -> None:
    """Compile the planners' kernels on a 2 x 2 ring (numba caches them on disk), so timings exclude it."""
    from wms.sorting.maps import SortMap

    moves = np.zeros((4, 4), dtype=bool)
    moves[0, 0] = moves[1, 2] = moves[3, 1] = moves[2, 3] = True  # a ring 0 -> 1 -> 3 -> 2 -> 0
    ring = SortMap(
        "warm-up",
        2,
        2,
        np.ones(4, dtype=bool),
        moves,
        np.array([0]),
        ("I",),
        ("C",),
        np.array([0, 1]),
        np.array([3]),
    )
    dist = Distances(ring)
    rng = np.random.default_rng(0)
    pos, slot, nslot = np.array([0, 3]), np.array([dist.pin(3), dist.pin(0)]), np.array([dist.pin(0)] * 2)
    since, d12 = np.zeros(2, dtype=np.int64), np.array([3, 0])
    for name in PLANNERS:
        make_planner(name, dist, rng).step(pos, slot, since, nslot, d12)
    if rotation:
        turn = TurnDistances(ring)
        tslot = np.array([turn.pin(3), turn.pin(0)])
        TurnPibt(turn, rng).step(pos, np.array([0, 2]), tslot, since)


def make_planner(
    name: str, dist: Distances, rng: np.random.Generator, **options: float
) -> PibtPlanner | WindowedLns:
    """The traffic planner called ``name`` (see ``PLANNERS``)."""
    if name == "pibt":
        return PibtPlanner(dist, rng)
    if name == "lns":
        return WindowedLns(dist, rng, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown planner {name!r} (expected one of {', '.join(PLANNERS)})")


def make_turn_planner(name: str, dist: TurnDistances, rng: np.random.Generator) -> TurnPibt:
    """The planner ``name`` under the turn-in-place model; only those in ``TURN_PLANNERS`` have one."""
    if name not in TURN_PLANNERS:
        raise ValueError(
            f"planner {name!r} has no turn-in-place model (rotation needs one of {', '.join(TURN_PLANNERS)})"
        )
    return TurnPibt(dist, rng)
