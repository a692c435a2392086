"""Closed parcels as counts: they leave the controller's memory, the database keeps them in full."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from wms.domain import SLA_S, ParcelState


@dataclass
class Tally:
    """How many parcels ended in each terminal state, how many left within 24 hours, the last holds."""

    by_state: Counter[str] = field(default_factory=Counter)
    dispatched_in_sla: int = 0
    holds: deque[str] = field(default_factory=lambda: deque(maxlen=10))

    @property
    def total(self) -> int:
        """Parcels closed so far."""
        return sum(self.by_state.values())

    def add(
        self, state: ParcelState, received_at: float, done_at: float | None, order_no: str, reason: str
    ) -> None:
        """Count one parcel that reached ``state`` (dispatched, held or rejected)."""
        self.by_state[state.value] += 1
        if state == ParcelState.DISPATCHED and done_at is not None and done_at - received_at <= SLA_S:
            self.dispatched_in_sla += 1
        if state == ParcelState.HELD:
            self.holds.append(f"{order_no}: {reason}")

    def restore(self, state: str, count: int, in_sla: int) -> None:
        """Count parcels closed before a restart (``in_sla``: of them, dispatched within 24 hours)."""
        self.by_state[state] += count
        if state == ParcelState.DISPATCHED.value:
            self.dispatched_in_sla += in_sla

    def sla_met_pct(self) -> float:
        """Share of dispatched parcels that left within 24 hours of their order."""
        dispatched = self.by_state.get(ParcelState.DISPATCHED.value, 0)
        return round(100.0 * self.dispatched_in_sla / dispatched, 3) if dispatched else 100.0
