"""Order admission: back-pressure on the order intake when the controller's backlog grows too large.

`Admission` is pure (no bus, clock or database): the controller feeds it its backlog (`backlog` of its
parcels' counts by state) and publishes `signal()` retained on ``wms/{partition}/intake`` whenever `update`
reports a change. Order sources hold new orders while ``accepting`` is false and send them once it is
true again; nothing is dropped, the orders only wait outside.

The backlog counts the parcels the warehouse still has to work on: received up to inspecting. Released
parcels are left out: they only wait for their carrier's next departure, so counting them would make the
signal follow the truck timetable (a saw-tooth of up to one departure interval of throughput) rather
than the load.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from wms.domain import TERMINAL_STATES, ParcelState, Strict

BACKLOG_STATES = frozenset(set(ParcelState) - TERMINAL_STATES - {ParcelState.RELEASED})


def backlog(counts: Mapping[ParcelState, int]) -> int:
    """How many parcels, of these counts by state, are backlog (open and not yet released by the gate)."""
    return sum(n for s, n in counts.items() if s in BACKLOG_STATES)


class IntakeSignal(Strict):
    """Controller → order sources: whether new orders are accepted now, and why (retained)."""

    ts: float
    partition: str
    accepting: bool
    backlog: int = Field(ge=0, description="parcels received but not yet released, held or rejected")
    limit: int = Field(ge=1, description="intake closes when the backlog reaches this")
    resume_below: int = Field(ge=1, description="intake opens again when the backlog falls below this")
    reason: str = ""


class Admission:
    """Hysteresis on the backlog: close the intake at ``limit``, reopen below ``resume_below``."""

    def __init__(self, limit: int, resume_below: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if not 1 <= resume_below <= limit:
            raise ValueError(f"resume_below must be in 1..limit ({limit}), got {resume_below}")
        self.limit = limit
        self.resume_below = resume_below
        self.accepting = True
        self.backlog = 0
        self.closed_times = 0

    @classmethod
    def for_rate(cls, orders_per_hour: float, minutes: float = 20.0, resume_share: float = 0.8) -> Admission:
        """Limits sized to ``minutes`` of orders at a rate, reopening at ``resume_share`` of that."""
        limit = max(1, round(orders_per_hour * minutes / 60.0))
        return cls(limit, max(1, round(limit * resume_share)))

    def update(self, backlog: int) -> bool:
        """Take the current backlog; True when ``accepting`` flipped (publish `signal()` then)."""
        if backlog < 0:
            raise ValueError(f"backlog must be >= 0, got {backlog}")
        self.backlog = backlog
        if self.accepting and backlog >= self.limit:
            self.accepting = False
            self.closed_times += 1
            return True
        if not self.accepting and backlog < self.resume_below:
            self.accepting = True
            return True
        return False

    def reason(self) -> str:
        """Why the intake is in its current state, for operators and order sources."""
        b = self.backlog
        if not self.accepting:
            return f"intake closed: backlog {b} reached limit {self.limit}; reopens below {self.resume_below}"
        if self.closed_times:
            return f"intake reopened: backlog {b} fell below {self.resume_below}"
        return f"accepting: backlog {b} below limit {self.limit}"

    def signal(self, partition: str, ts: float) -> IntakeSignal:
        """The message to publish retained on ``topics.intake(partition)``."""
        return IntakeSignal(
            ts=ts,
            partition=partition,
            accepting=self.accepting,
            backlog=self.backlog,
            limit=self.limit,
            resume_below=self.resume_below,
            reason=self.reason(),
        )
