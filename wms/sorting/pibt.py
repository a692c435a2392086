"""PIBT: one timestep of priority inheritance with backtracking over one-way grid moves (Okumura et al. 2022).

Each robot, highest priority first, takes the free candidate cell (its allowed moves and staying put)
closest to its goal; a robot standing on that cell is asked to move away first, inheriting the priority, and
the asker backtracks to its next candidate when that fails. No two robots end in one cell and no two swap.

``TurnPibt`` is the same over (cell, heading) for the turn-in-place model: a robot's candidates are its
forward cell and, keeping its cell, turning 90° left or right or waiting, ordered by turn-aware distance
(``TurnDistances``); a robot asked to make way can only move forward. Collisions and swaps are still cells'.
"""

from __future__ import annotations

import numba
import numpy as np

from wms.sorting.distances import LEFT, RIGHT, Distances, TurnDistances


@numba.njit(cache=True)
def _candidates(
    a: int,
    succ: np.ndarray,
    dist: np.ndarray,
    here: int,
    occ_now: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
    out: np.ndarray,
) -> int:
    """Write robot ``a``'s candidate cells, best first, into ``out``; return how many (insertion sort)."""
    key = np.empty(5, dtype=np.float64)
    k = 0
    for d in range(5):
        v = here if d == 4 else succ[here, d]
        if v < 0:
            continue
        busy = 1.0 if occ_now[v] >= 0 and v != here else 0.0
        kv = dist[v] + crowd[0] * busy + crowd[1] * noise[a, d]
        i = k
        while i > 0 and key[i - 1] > kv:
            key[i] = key[i - 1]
            out[i] = out[i - 1]
            i -= 1
        key[i] = kv
        out[i] = v
        k += 1
    return k


@numba.njit(cache=True)
def _pibt(
    root: int,
    succ: np.ndarray,
    table: np.ndarray,
    slot: np.ndarray,
    pos: np.ndarray,
    nxt: np.ndarray,
    occ_now: np.ndarray,
    occ_next: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
    agent: np.ndarray,
    cands: np.ndarray,
    count: np.ndarray,
    tried: np.ndarray,
) -> None:
    """PIBT from ``root`` with an explicit stack (frames: robot, its candidates, how many tried)."""
    depth = 0
    agent[0] = root
    count[0] = _candidates(root, succ, table[slot[root]], pos[root], occ_now, noise, crowd, cands[0])
    tried[0] = 0
    child = 0  # 0: none pending, 1: child succeeded, -1: child failed
    while depth >= 0:
        a = agent[depth]
        b = agent[depth - 1] if depth > 0 else -1
        if child == 1:
            child = 0
            depth -= 1
            child = 1 if depth >= 0 else 0
            continue
        child = 0
        pushed = False
        while tried[depth] < count[depth]:
            v = cands[depth, tried[depth]]
            tried[depth] += 1
            if occ_next[v] >= 0:
                continue
            if b >= 0 and v == pos[b]:
                continue
            occ_next[v] = a
            nxt[a] = v
            c = occ_now[v]
            if c >= 0 and c != a and nxt[c] < 0:
                depth += 1
                agent[depth] = c
                count[depth] = _candidates(
                    c, succ, table[slot[c]], pos[c], occ_now, noise, crowd, cands[depth]
                )
                tried[depth] = 0
                pushed = True
                break
            child = 1
            break
        if pushed:
            continue
        if child == 1:
            continue
        here = pos[a]
        occ_next[here] = a
        nxt[a] = here
        depth -= 1
        child = -1 if depth >= 0 else 0


@numba.njit(cache=True)
def pibt_step(
    succ: np.ndarray,
    table: np.ndarray,
    slot: np.ndarray,
    pos: np.ndarray,
    order: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
) -> np.ndarray:
    """Next cell of every robot; ``order`` lists robots by falling priority.

    ``noise[a, d]`` (in [0, 1)) breaks ties between candidate moves ``d`` (4 = stay) of robot ``a``;
    ``crowd = (busy, tie)`` weighs a candidate cell occupied now and the noise against the distance.
    """
    n = pos.shape[0]
    cells = succ.shape[0]
    nxt = np.full(n, -1, dtype=np.int64)
    occ_now = np.full(cells, -1, dtype=np.int64)
    occ_next = np.full(cells, -1, dtype=np.int64)
    for a in range(n):
        occ_now[pos[a]] = a
    agent = np.empty(n + 1, dtype=np.int64)
    cands = np.empty((n + 1, 5), dtype=np.int64)
    count = np.empty(n + 1, dtype=np.int64)
    tried = np.empty(n + 1, dtype=np.int64)
    for a in order:
        if nxt[a] < 0:
            _pibt(a, succ, table, slot, pos, nxt, occ_now, occ_next, noise, crowd, agent, cands, count, tried)
    return nxt


class Pibt:
    """Lifelong PIBT: priority grows with the time since a robot's last task, ties broken at random."""

    def __init__(
        self, dist: Distances, rng: np.random.Generator, busy: float = 0.5, tie: float = 0.1
    ) -> None:
        self.dist = dist
        self.rng = rng
        self.crowd = np.array([busy, tie], dtype=np.float64)
        self._tie: np.ndarray | None = None

    def step(self, pos: np.ndarray, slot: np.ndarray, since: np.ndarray) -> np.ndarray:
        """Next cell of every robot."""
        n = pos.shape[0]
        if self._tie is None or self._tie.shape[0] != n:
            self._tie = self.rng.random(n)
        order = np.argsort(-(since + self._tie), kind="stable")
        noise = self.rng.random((n, 5))
        return pibt_step(self.dist.succ, self.dist.table, slot, pos, order, noise, self.crowd)


@numba.njit(cache=True)
def _turn_candidates(
    a: int,
    succ: np.ndarray,
    dist: np.ndarray,
    here: int,
    h: int,
    left: np.ndarray,
    right: np.ndarray,
    occ_now: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
    out: np.ndarray,
    out_h: np.ndarray,
) -> int:
    """Robot ``a``'s candidate states (cell, heading), best first by turn-aware distance; return how many.

    Options: forward (``succ[here, h]``, when allowed), turn left, turn right, wait; the last three keep the
    cell. The crowd terms are those of ``_candidates``: a forward cell occupied now, and tie-breaking noise.
    """
    key = np.empty(4, dtype=np.float64)
    k = 0
    for d in range(4):
        if d == 0:
            v, nh = succ[here, h], h
        elif d == 1:
            v, nh = here, left[h]
        elif d == 2:
            v, nh = here, right[h]
        else:
            v, nh = here, h
        if v < 0:
            continue
        busy = 1.0 if occ_now[v] >= 0 and v != here else 0.0
        kv = dist[v * 4 + nh] + crowd[0] * busy + crowd[1] * noise[a, d]
        i = k
        while i > 0 and key[i - 1] > kv:
            key[i] = key[i - 1]
            out[i] = out[i - 1]
            out_h[i] = out_h[i - 1]
            i -= 1
        key[i] = kv
        out[i] = v
        out_h[i] = nh
        k += 1
    return k


@numba.njit(cache=True)
def _exit_rank(
    succ: np.ndarray, here: int, h: int, asker: int, occ_now: np.ndarray, occ_next: np.ndarray
) -> int:
    """How well heading ``h`` lets a robot asked to vacate ``here`` leave next step: 0 a free cell ahead,
    1 an occupied or taken one (its robot may make way later), 4 none (no move, or only onto the asker's
    cell)."""
    f = succ[here, h]
    if f < 0 or f == asker:
        return 4
    if occ_next[f] >= 0 or occ_now[f] >= 0:
        return 1
    return 0


@numba.njit(cache=True)
def _turn_pibt(
    root: int,
    succ: np.ndarray,
    turn: np.ndarray,
    slot: np.ndarray,
    pos: np.ndarray,
    head: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    nxt: np.ndarray,
    nxt_h: np.ndarray,
    occ_now: np.ndarray,
    occ_next: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
    agent: np.ndarray,
    cands: np.ndarray,
    cands_h: np.ndarray,
    count: np.ndarray,
    tried: np.ndarray,
) -> None:
    """``_pibt`` over (cell, heading): a robot asked to vacate its cell can do so only by moving forward.

    A robot that cannot leave (all its candidates taken) keeps its cell, with its best in-place option.
    """
    depth = 0
    agent[0] = root
    count[0] = _turn_candidates(
        root,
        succ,
        turn[slot[root]],
        pos[root],
        head[root],
        left,
        right,
        occ_now,
        noise,
        crowd,
        cands[0],
        cands_h[0],
    )
    tried[0] = 0
    child = 0  # 0: none pending, 1: child succeeded, -1: child failed
    while depth >= 0:
        a = agent[depth]
        b = agent[depth - 1] if depth > 0 else -1
        if child == 1:
            depth -= 1
            child = 1 if depth >= 0 else 0
            continue
        child = 0
        pushed = False
        while tried[depth] < count[depth]:
            i = tried[depth]
            v = cands[depth, i]
            tried[depth] += 1
            if occ_next[v] >= 0:
                continue
            if b >= 0 and v == pos[b]:
                continue
            occ_next[v] = a
            nxt[a] = v
            nxt_h[a] = cands_h[depth, i]
            c = occ_now[v]
            if c >= 0 and c != a and nxt[c] < 0:
                depth += 1
                agent[depth] = c
                count[depth] = _turn_candidates(
                    c,
                    succ,
                    turn[slot[c]],
                    pos[c],
                    head[c],
                    left,
                    right,
                    occ_now,
                    noise,
                    crowd,
                    cands[depth],
                    cands_h[depth],
                )
                tried[depth] = 0
                pushed = True
                break
            child = 1
            break
        if pushed:
            continue
        if child == 1:
            continue
        # every candidate failed: stay on the cell (claimed by the asker, who then backtracks). Unasked, a
        # robot takes its best in-place option by distance. A robot asked to make way turns to face a cell it
        # could leave to next step (free, else occupied or taken; never the asker's), or towards such a
        # heading when it needs two turns. Among equals it keeps its heading (a chain of robots making way
        # then builds up over steps instead of being undone), else turns at random.
        here = pos[a]
        occ_next[here] = a
        nxt[a] = here
        nxt_h[a] = head[a]
        best = 1e9
        for j in range(count[depth]):
            if cands[depth, j] != here:
                continue
            nh = cands_h[depth, j]
            if b < 0:
                nxt_h[a] = nh
                break
            esc = _exit_rank(succ, here, nh, pos[b], occ_now, occ_next)
            # no exit ahead after this turn, but one more turn may face one (never true of waiting)
            if (
                esc == 4
                and nh != head[a]
                and min(
                    _exit_rank(succ, here, left[nh], pos[b], occ_now, occ_next),
                    _exit_rank(succ, here, right[nh], pos[b], occ_now, occ_next),
                )
                < 4
            ):
                esc = 3
            key = esc + (0.0 if nh == head[a] else 0.1 + 0.8 * noise[a, nh])
            if key < best:
                best = key
                nxt_h[a] = nh
        depth -= 1
        child = -1 if depth >= 0 else 0


@numba.njit(cache=True)
def turn_pibt_step(
    succ: np.ndarray,
    turn: np.ndarray,
    slot: np.ndarray,
    pos: np.ndarray,
    head: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    order: np.ndarray,
    noise: np.ndarray,
    crowd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Next cell and heading of every robot under the turn-in-place model; ``order`` by falling priority.

    ``turn[slot[a], cell * 4 + h]`` is robot ``a``'s turn-aware distance table; ``noise[a, d]`` breaks ties
    between forward, turn left, turn right and wait (``d`` = 0..3).
    """
    n = pos.shape[0]
    cells = succ.shape[0]
    nxt = np.full(n, -1, dtype=np.int64)
    nxt_h = np.full(n, -1, dtype=np.int64)
    occ_now = np.full(cells, -1, dtype=np.int64)
    occ_next = np.full(cells, -1, dtype=np.int64)
    for a in range(n):
        occ_now[pos[a]] = a
    agent = np.empty(n + 1, dtype=np.int64)
    cands = np.empty((n + 1, 4), dtype=np.int64)
    cands_h = np.empty((n + 1, 4), dtype=np.int64)
    count = np.empty(n + 1, dtype=np.int64)
    tried = np.empty(n + 1, dtype=np.int64)
    for a in order:
        if nxt[a] < 0:
            _turn_pibt(
                a,
                succ,
                turn,
                slot,
                pos,
                head,
                left,
                right,
                nxt,
                nxt_h,
                occ_now,
                occ_next,
                noise,
                crowd,
                agent,
                cands,
                cands_h,
                count,
                tried,
            )
    return nxt, nxt_h


class TurnPibt:
    """Lifelong PIBT over (cell, heading): forward, turn 90° in place, or wait; priorities as in ``Pibt``.

    Making way takes several steps here (a robot turns before it can leave), so a jam can freeze with the same
    robots failing the same requests in the same order every step. A robot that has kept its cell for
    ``patience`` steps or more therefore gets a random share of its priority each step, which reshuffles the
    stuck robots' order until the jam unwinds; robots that move keep the plain order.
    """

    def __init__(
        self,
        dist: TurnDistances,
        rng: np.random.Generator,
        busy: float = 0.5,
        tie: float = 0.1,
        patience: int = 4,
    ) -> None:
        self.dist = dist
        self.rng = rng
        self.crowd = np.array([busy, tie], dtype=np.float64)
        self.patience = patience
        self._tie: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._still: np.ndarray | None = None

    def step(
        self, pos: np.ndarray, head: np.ndarray, slot: np.ndarray, since: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Next cell and heading of every robot."""
        n = pos.shape[0]
        if self._tie is None or self._tie.shape[0] != n or self._last is None or self._still is None:
            self._tie = self.rng.random(n)
            self._last = pos.copy()
            self._still = np.zeros(n, dtype=np.int64)
        self._still = np.where(pos == self._last, self._still + 1, 0)
        self._last = pos.copy()
        prio = since + self._tie
        stuck = self._still >= self.patience
        prio[stuck] *= self.rng.random(int(stuck.sum()))
        order = np.argsort(-prio, kind="stable")
        noise = self.rng.random((n, 4))
        return turn_pibt_step(
            self.dist.succ, self.dist.turn, slot, pos, head, LEFT, RIGHT, order, noise, self.crowd
        )
