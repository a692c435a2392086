"""Exclusive cell reservations for robots driving asynchronously on a grid, and routes around held cells.

A robot holds the cell it stands on plus the released (base) cells ahead of it that it has not passed yet,
in driving order. A cell is granted only when no other robot holds it, so two robots never share one.
A robot refused a cell waits for it; the robot holding it is its blocker (a wait-for graph). The
reservations are plain data: the fleet manager decides when to grant, free, re-route or park.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass
class Wait:
    """A robot refused a cell: which one, and since when."""

    cell: str
    since: float


class Reservations:
    """Who holds which cell; who waits for which cell."""

    def __init__(self) -> None:
        self._holds: dict[str, list[str]] = {}
        # more than one holder only after a restart, until the robots report where they are
        self._owners: dict[str, set[str]] = {}
        self.waiting: dict[str, Wait] = {}
        self.waits: Counter[str] = Counter()  # how often each robot had to wait
        self.reroutes: Counter[str] = Counter()  # how often each robot was re-routed or made way

    def holds(self, robot: str) -> list[str]:
        """The cells ``robot`` holds: where it stands first, then its base ahead."""
        return list(self._holds.get(robot, []))

    def holders(self, cell: str) -> set[str]:
        """The robots holding ``cell``."""
        return set(self._owners.get(cell, ()))

    def held_by_any(self, cell: str) -> bool:
        """Whether any robot holds ``cell`` (`holders` without building the set)."""
        return bool(self._owners.get(cell))

    def held(self) -> dict[str, list[str]]:
        """Every robot's cells."""
        return {r: list(cells) for r, cells in self._holds.items() if cells}

    def free_for(self, robot: str, cell: str) -> bool:
        """Whether no robot but ``robot`` holds ``cell``."""
        owners = self._owners.get(cell)
        return not owners or owners == {robot}

    def hold(self, robot: str, cells: Sequence[str]) -> list[str]:
        """Set what ``robot`` holds (as its progress or a restart shows); return the cells this freed."""
        held = self._holds.get(robot)
        if held is not None and held == cells:  # most states of a robot: it holds what it held
            return []
        old = set(held or ())
        new = set(cells)
        freed = []
        for cell in old - new:
            owners = self._owners[cell]
            owners.discard(robot)
            if not owners:
                del self._owners[cell]
                freed.append(cell)
        for cell in new - old:
            self._owners.setdefault(cell, set()).add(robot)
        self._holds[robot] = list(cells)
        return sorted(freed)

    def grant(self, robot: str, ahead: Sequence[str], now: float) -> int:
        """Add the leading cells of ``ahead`` that no other robot holds; return how many.

        The robot waits for the first cell refused, or stops waiting if it got all it asked for.
        """
        n = 0
        while n < len(ahead) and self.free_for(robot, ahead[n]):
            n += 1
        self.hold(robot, [*self._holds.get(robot, []), *ahead[:n]])
        wait = self.waiting.pop(robot, None)
        if n < len(ahead):
            if wait is None:
                self.waits[robot] += 1
            # a robot that got some cells moves on: its wait starts again where it will stop
            self.waiting[robot] = Wait(ahead[n], now if wait is None or n else wait.since)
        return n

    def release(self, robot: str, keep: str | None = None) -> list[str]:
        """Free all that ``robot`` holds but the cell it stands on (``keep``); return the cells freed."""
        self.waiting.pop(robot, None)
        return self.hold(robot, [keep] if keep else [])

    def blocker(self, robot: str) -> str | None:
        """The robot holding the cell ``robot`` waits for (None when it does not wait)."""
        wait = self.waiting.get(robot)
        if wait is None:
            return None
        others = sorted(self._owners.get(wait.cell, set()) - {robot})
        return others[0] if others else None

    def waiters(self, cells: Iterable[str]) -> list[str]:
        """Robots waiting for one of ``cells``, longest waiting first."""
        wanted = set(cells)
        if not wanted:
            return []
        found = [(w.since, r) for r, w in self.waiting.items() if w.cell in wanted]
        return [r for _, r in sorted(found)]

    def stuck(self, robot: str) -> bool:
        """Whether ``robot`` waits for a cell where its blocker will stop: the blocker's last held cell."""
        other = self.blocker(robot)
        return other is not None and self._holds[other][-1] == self.waiting[robot].cell

    def chain(self, robot: str) -> list[str]:
        """``robot`` and the robots it waits behind, each the blocker of the one before (no repeats)."""
        found = [robot]
        while (nxt := self.blocker(found[-1])) is not None and nxt not in found:
            found.append(nxt)
        return found

    def cycle(self, robot: str) -> list[str] | None:
        """The deadlock of ``robot``: robots each stuck behind the next, back to ``robot``; or None."""
        chain = [robot]
        while self.stuck(chain[-1]):
            nxt = self.blocker(chain[-1])
            assert nxt is not None
            if nxt == robot:
                return chain
            if nxt in chain:
                return None  # a cycle ahead that ``robot`` only waits on; found from its own members
            chain.append(nxt)
        return None

    def overdue(self, now: float, after_s: float) -> list[str]:
        """Robots waiting longer than ``after_s``, longest first."""
        found = [(w.since, r) for r, w in self.waiting.items() if now - w.since > after_s]
        return [r for _, r in sorted(found)]

    def check(self) -> list[str]:
        """Problems with the table itself: cells held by two robots (only expected just after a restart)."""
        return [f"{c} held by {', '.join(sorted(o))}" for c, o in sorted(self._owners.items()) if len(o) > 1]


def route(
    adjacent: Mapping[str, Sequence[str]],
    a: str,
    b: str,
    avoid: Collection[str] = (),
    against: Collection[tuple[str, str]] = frozenset(),
    penalty: int = 2,
) -> list[str] | None:
    """Cheapest cell sequence from ``a`` to ``b`` entering no cell of ``avoid``, or None.

    A move costs 1, and ``penalty`` more if it is one of ``against`` (against a lane's direction).
    """
    if a == b:
        return [a]
    if b in avoid:
        return None
    best: dict[str, int] = {a: 0}
    came: dict[str, str] = {}
    heap = [(0, 0, a)]
    pushed = 0
    while heap:
        cost, _, cell = heapq.heappop(heap)
        if cell == b:
            path = [b]
            while path[-1] != a:
                path.append(came[path[-1]])
            return path[::-1]
        if cost > best[cell]:
            continue
        for nxt in adjacent.get(cell, ()):
            if nxt in avoid:
                continue
            c = cost + 1 + (penalty if (cell, nxt) in against else 0)
            if c < best.get(nxt, c + 1):
                best[nxt], came[nxt] = c, cell
                pushed += 1
                heapq.heappush(heap, (c, pushed, nxt))
    return None
