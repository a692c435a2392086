"""Lifelong sorting tasks: each robot alternates between an induct (pick up) and its parcel's chute (drop).

``rhcr`` reproduces RHCR's goal rules: a random chute from the destination distribution, then a uniformly
random one of its eject cells; the induct minimising distance + 8 x robots already heading to it.
``free`` lets the system choose: the goal is the whole chute (any of its eject cells, whichever the planner
reaches first), and the induct is chosen by distance plus the expected wait in its queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wms.sorting.distances import Distances

RULES = ("rhcr", "free")
RHCR_PENALTY = 8.0
"""RHCR: an induct costs its distance plus this much per robot already heading to it."""
FREE_PENALTY = 1.0
"""Free rules: about one timestep of queueing per robot ahead (an induct serves one robot per step)."""


@dataclass
class Goal:
    """A goal handed to a robot: the goal id for the distance tables, and what reaching it means."""

    goal: int
    kind: str
    chute: int = -1


class TaskRules:
    """Goal choice under one rule set; tracks how many robots head to each induct."""

    def __init__(
        self,
        rules: str,
        dist: Distances,
        chute_weights: np.ndarray | None,
        rng: np.random.Generator,
        induct_penalty: float | None = None,
    ) -> None:
        if rules not in RULES:
            raise ValueError(f"unknown rules {rules!r} (expected one of {', '.join(RULES)})")
        m = dist.map
        self.rules = rules
        self.dist = dist
        self.map = m
        self.rng = rng
        w = np.ones(m.chutes) if chute_weights is None else np.asarray(chute_weights, dtype=float)
        if w.shape != (m.chutes,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"chute weights need {m.chutes} non-negative values with a positive sum")
        self.cdf = np.cumsum(w / w.sum())
        if rules == "rhcr" and induct_penalty not in (None, RHCR_PENALTY):
            raise ValueError(f"rhcr rules fix the induct penalty at {RHCR_PENALTY}")
        default = RHCR_PENALTY if rules == "rhcr" else FREE_PENALTY
        self.penalty = default if induct_penalty is None else induct_penalty
        self.heading = np.zeros(m.inducts.size, dtype=np.int64)
        self.induct_index = {int(c): i for i, c in enumerate(m.inducts)}
        self._induct_slots = np.array([dist.pin(int(c)) for c in m.inducts], dtype=np.int64)
        self._parcel: dict[int, Goal] = {}

    def draw_chute(self) -> int:
        """A chute from the destination distribution."""
        return int(min(np.searchsorted(self.cdf, self.rng.random(), side="right"), self.cdf.size - 1))

    def _best_induct(self, cell: int) -> int:
        d = self.dist.table[self._induct_slots, cell].astype(np.float64)
        return int(np.argmin(d + self.penalty * self.heading))

    def pickup(self, robot: int, cell: int) -> Goal:
        """Next induct for ``robot`` at ``cell`` (counted as heading there); draws its parcel's chute."""
        i = self._best_induct(cell)
        self.heading[i] += 1
        self._parcel[robot] = self._draw_drop()
        return Goal(int(self.map.inducts[i]), "pickup")

    def _draw_drop(self) -> Goal:
        chute = self.draw_chute()
        if self.rules == "rhcr":
            ejects = self.map.ejects(chute)
            return Goal(int(ejects[self.rng.integers(ejects.size)]), "drop", chute)
        return Goal(self.map.cells + chute, "drop", chute)

    def drop(self, robot: int) -> Goal:
        """Drop goal of the parcel ``robot`` picked up (drawn when its pickup was assigned)."""
        return self._parcel.pop(robot)

    def after(self, robot: int, goal: Goal) -> int:
        """The goal ``robot`` will most likely get after ``goal`` (for planners that look ahead)."""
        if goal.kind == "pickup":
            return self._parcel[robot].goal
        cell = goal.goal if goal.goal < self.map.cells else int(self.map.ejects(goal.chute)[0])
        return int(self.map.inducts[self._best_induct(cell)])

    def reached(self, goal: Goal) -> None:
        """A robot reached ``goal``: it no longer heads to that induct."""
        if goal.kind == "pickup":
            self.heading[self.induct_index[goal.goal]] -= 1
