"""Shortest distances to goals on a sort map, honouring one-way moves: reverse BFS, lazily, cached.

A goal is a cell (``goal < cells``) or a whole chute (``goal = cells + chute``: the distance to its nearest
eject cell). Tables live as rows of one matrix so the compiled planners can index them by slot.
"""

from __future__ import annotations

from collections import OrderedDict

import numba
import numpy as np

from wms.sorting.maps import SortMap


@numba.njit(cache=True)
def _bfs(pred: np.ndarray, sources: np.ndarray, out: np.ndarray, unreachable: int) -> None:
    """Fill ``out`` with the step count from every cell to the nearest source (reverse BFS)."""
    out[:] = unreachable
    queue = np.empty(out.shape[0], dtype=np.int32)
    head, tail = 0, 0
    for s in sources:
        if out[s] != 0:
            out[s] = 0
            queue[tail] = s
            tail += 1
    while head < tail:
        c = queue[head]
        head += 1
        nd = out[c] + 1
        for k in range(pred.shape[1]):
            p = pred[c, k]
            if p >= 0 and out[p] == unreachable:
                out[p] = nd
                queue[tail] = p
                tail += 1


def predecessors(succ: np.ndarray) -> np.ndarray:
    """``pred[cell, k]``: cells with a move into ``cell`` (-1 padded)."""
    n = succ.shape[0]
    pred = np.full((n, 4), -1, dtype=np.int32)
    fill = np.zeros(n, dtype=np.int64)
    for d in range(4):
        src = np.flatnonzero(succ[:, d] >= 0)
        dst = succ[src, d]
        pred[dst, fill[dst]] = src
        fill[dst] += 1
    return pred


class Distances:
    """Distance tables by goal, kept in the rows ("slots") of ``self.table``; slots in use are pinned."""

    def __init__(self, m: SortMap, max_bytes: int = 2 << 30) -> None:
        self.map = m
        self.succ = m.successors()
        self.pred = predecessors(self.succ)
        free = int(m.passable.sum())
        self.dtype = np.uint16 if free < np.iinfo(np.uint16).max else np.uint32
        self.unreachable = int(np.iinfo(self.dtype).max)
        row = m.cells * np.dtype(self.dtype).itemsize
        self.max_slots = max(16, max_bytes // row)
        self.table = np.empty((min(256, self.max_slots), m.cells), dtype=self.dtype)
        self._slot: dict[int, int] = {}
        self._goal: list[int] = []
        self._pins: list[int] = []
        self._idle: OrderedDict[int, None] = OrderedDict()
        self.computed = 0

    def sources(self, goal: int) -> np.ndarray:
        """Cells that satisfy ``goal``."""
        if goal < self.map.cells:
            return np.array([goal], dtype=np.int64)
        return self.map.ejects(goal - self.map.cells)

    def _new_slot(self) -> int:
        if len(self._goal) < self.table.shape[0]:
            self._goal.append(-1)
            self._pins.append(0)
            return len(self._goal) - 1
        if self._idle:
            s, _ = self._idle.popitem(last=False)
            del self._slot[self._goal[s]]
            return s
        grow = min(self.table.shape[0] * 2, max(self.max_slots, self.table.shape[0] + 1))
        bigger = np.empty((grow, self.map.cells), dtype=self.dtype)
        bigger[: self.table.shape[0]] = self.table
        self.table = bigger
        return self._new_slot()

    def slot(self, goal: int) -> int:
        """Slot of ``goal``'s table, computing it if needed (not pinned)."""
        s = self._slot.get(goal)
        if s is None:
            s = self._new_slot()
            _bfs(self.pred, self.sources(goal), self.table[s], self.unreachable)
            self._slot[goal] = s
            self._goal[s] = goal
            self._idle[s] = None
            self.computed += 1
        elif s in self._idle:
            self._idle.move_to_end(s)
        return s

    def pin(self, goal: int) -> int:
        """Slot of ``goal``'s table, kept until ``unpin``."""
        s = self.slot(goal)
        self._pins[s] += 1
        self._idle.pop(s, None)
        return s

    def unpin(self, slot: int) -> None:
        """Release one pin of a slot."""
        self._pins[slot] -= 1
        if self._pins[slot] == 0:
            self._idle[slot] = None

    def to(self, goal: int) -> np.ndarray:
        """Distance from every cell to ``goal`` (a view; valid until the slot is reused)."""
        return self.table[self.slot(goal)]


LEFT = np.array([2, 3, 1, 0], dtype=np.int64)
"""Heading after a 90° turn to the left, by heading (``DIRS`` order +x, -x, +y, -y; +x -> +y -> -x -> -y)."""
RIGHT = np.array([3, 2, 0, 1], dtype=np.int64)
"""Heading after a 90° turn to the right."""


def turn_predecessors(succ: np.ndarray) -> np.ndarray:
    """``pred[c * 4 + h, k]``: the states one timestep before (cell ``c``, heading ``h``), -1 padded.

    A robot gets there by moving forward in ``h`` from the cell behind, or by turning 90° in place from
    ``(c, right[h])`` (a left turn) or ``(c, left[h])`` (a right turn); `_bfs` runs over these as over cells.
    """
    cells = succ.shape[0]
    pred = np.full((cells * 4, 3), -1, dtype=np.int32)
    for h in range(4):
        src = np.flatnonzero(succ[:, h] >= 0)
        pred[succ[src, h] * 4 + h, 0] = src * 4 + h
        pred[np.arange(cells) * 4 + h, 1] = np.arange(cells) * 4 + RIGHT[h]
        pred[np.arange(cells) * 4 + h, 2] = np.arange(cells) * 4 + LEFT[h]
    return pred


class TurnDistances(Distances):
    """``Distances`` plus, per slot, turn-aware distances over (cell, heading): ``turn[slot, cell * 4 + h]``.

    A timestep moves a robot one cell forward in its heading (where ``succ`` allows) or turns it 90° in place;
    a goal is reached at any heading. ``table`` (cell distances, no turns) stays for the task rules.
    """

    def __init__(self, m: SortMap, max_bytes: int = 2 << 30) -> None:
        super().__init__(m, max_bytes // 5)
        self.turn_pred = turn_predecessors(self.succ)
        free = int(m.passable.sum()) * 4
        self.turn_dtype = np.uint16 if free < np.iinfo(np.uint16).max else np.uint32
        self.turn_unreachable = int(np.iinfo(self.turn_dtype).max)
        self.turn = np.empty((self.table.shape[0], m.cells * 4), dtype=self.turn_dtype)

    def slot(self, goal: int) -> int:
        """Slot of ``goal``'s tables (cell and turn-aware), computing them if needed (not pinned)."""
        before = self.computed
        s = super().slot(goal)
        if self.turn.shape[0] < self.table.shape[0]:
            bigger = np.empty((self.table.shape[0], self.turn.shape[1]), dtype=self.turn_dtype)
            bigger[: self.turn.shape[0]] = self.turn
            self.turn = bigger
        if self.computed != before:
            at_any_heading = (self.sources(goal)[:, None] * 4 + np.arange(4)).ravel()
            _bfs(self.turn_pred, at_any_heading, self.turn[s], self.turn_unreachable)
        return s

    def turn_to(self, goal: int) -> np.ndarray:
        """Turn-aware distance from every state ``cell * 4 + heading`` to ``goal`` (a view)."""
        return self.turn[self.slot(goal)]
