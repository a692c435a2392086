"""PIBT: one timestep of priority inheritance with backtracking over one-way grid moves (Okumura et al. 2022).

Each robot, highest priority first, takes the free candidate cell (its allowed moves and staying put)
closest to its goal; a robot standing on that cell is asked to move away first, inheriting the priority, and
the asker backtracks to its next candidate when that fails. No two robots end in one cell and no two swap.
"""

from __future__ import annotations

import numba
import numpy as np

from wms.sorting.distances import Distances


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
