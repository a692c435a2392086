"""The controller's open parcels: by order number, and grouped by state as they move."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NoReturn

from wms.domain import OrderBundle, ParcelState


@dataclass
class Parcel:
    """In-memory view of one order's parcel (rebuildable from the database)."""

    order_no: str
    state: ParcelState
    received_at: float
    carrier: str
    route: str
    bundle: OrderBundle | None  # None once closed: memory stays flat over a long shift
    picks: list[tuple[str, str, int, str]] = field(default_factory=list)  # (lot, sku, qty, node)
    done_at: float | None = None
    sampled: bool = False
    hold_reasons: str = ""
    xray_lane: int | None = None
    manual_lane: int | None = None  # the x-ray lane it came from while the hold lane checks it
    reason: str = ""
    order_type: str = "regular"

    def __post_init__(self) -> None:
        if self.bundle is not None:
            self.order_type = self.bundle.order.order_type

    @property
    def o2o(self) -> bool:
        """An on-site pickup order: express path, handed over at a counter."""
        return self.order_type == "o2o"

    def close(self) -> None:
        """Drop what a closed parcel no longer needs; the database keeps the order in full."""
        self.bundle = None
        self.picks = []


class OpenParcels(dict[str, Parcel]):
    """Open parcels by order number, also grouped by state and kept in the order they were received.

    A backlog holds tens of thousands of parcels, and the status, the intake's back-pressure and every
    wave ask about them by state every few seconds: they read a group here instead of scanning all.
    A parcel changes state through `move`, which keeps its group right; reads are a plain dict's.
    """

    def __init__(self) -> None:
        super().__init__()
        self._groups: dict[ParcelState, dict[str, Parcel]] = {s: {} for s in ParcelState}
        self._o2o: dict[str, Parcel] = {}
        self._latest = float("-inf")  # the latest receipt so far
        self._received_order = True  # iteration order is receipt order (as a live intake adds them)

    def __setitem__(self, order_no: str, parcel: Parcel) -> None:
        held = self.get(order_no)
        if held is not None:
            self._forget(held)
            if held.received_at != parcel.received_at:
                self._received_order = False  # it keeps the place of the one it replaces
        elif parcel.received_at < self._latest:
            self._received_order = False  # e.g. a snapshot read back in another order
        self._latest = max(self._latest, parcel.received_at)
        super().__setitem__(order_no, parcel)
        self._groups[parcel.state][order_no] = parcel
        if parcel.o2o:
            self._o2o[order_no] = parcel

    def __delitem__(self, order_no: str) -> None:
        self._forget(self[order_no])
        super().__delitem__(order_no)

    def pop(self, order_no: str, *default: Any) -> Any:  # type: ignore[override]
        """Remove and return the parcel (or ``default``), out of its group too."""
        if order_no in self:
            self._forget(self[order_no])
        return super().pop(order_no, *default)

    def clear(self) -> None:
        """Remove every parcel."""
        super().clear()
        for group in self._groups.values():
            group.clear()
        self._o2o.clear()
        self._latest, self._received_order = float("-inf"), True

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TypeError("OpenParcels changes one parcel at a time (set, pop, del), so its groups stay right")

    update = setdefault = popitem = __ior__ = _refuse  # type: ignore[assignment]

    def _forget(self, parcel: Parcel) -> None:
        self._groups[parcel.state].pop(parcel.order_no, None)
        self._o2o.pop(parcel.order_no, None)

    def move(self, parcel: Parcel, state: ParcelState) -> None:
        """Set the parcel's state (and its group, while it is held here)."""
        if self.get(parcel.order_no) is parcel and parcel.state is not state:
            del self._groups[parcel.state][parcel.order_no]
            self._groups[state][parcel.order_no] = parcel
        parcel.state = state

    def in_state(self, state: ParcelState) -> dict[str, Parcel]:
        """The parcels in ``state`` by order number, in the order they reached it (read only)."""
        return self._groups[state]

    def counts(self) -> dict[ParcelState, int]:
        """How many parcels are in each state that has any."""
        return {s: len(g) for s, g in self._groups.items() if g}

    def o2o(self) -> Iterator[Parcel]:
        """The on-site pickup parcels, in the order they came."""
        return iter(self._o2o.values())

    def oldest(self, n: int, states: frozenset[ParcelState] | set[ParcelState]) -> list[Parcel]:
        """The ``n`` longest received parcels in ``states``, oldest first (ties in the order they came)."""
        wanted = (p for p in self.values() if p.state in states)
        if self._received_order:
            return list(itertools.islice(wanted, n))
        return heapq.nsmallest(n, wanted, key=attrgetter("received_at"))

    def check(self) -> None:
        """Raise if a parcel's state was changed around `move` (its group would be wrong): for tests."""
        for order_no, parcel in self.items():
            if self._groups[parcel.state].get(order_no) is not parcel:
                raise AssertionError(f"{order_no} is {parcel.state.value} but not in that group")
        held = sum(map(len, self._groups.values()))
        if held != len(self):
            raise AssertionError(f"{held} parcels in groups, {len(self)} held")
