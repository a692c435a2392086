"""Shared checks of the gate's buyer history: the database one against the in-memory one, answer by answer."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms.domain import ParcelState
from wms.inspection.rules import BuyerHistory, GateHistory, local_year
from wms.store.models import DeclarationRow, OrderRow, ParcelEvent, ReturnRow

ANSWERS = ("declared", "released_value_in_year", "orders_in_window", "buyers_at_address")
WRITES = ("record_order", "note_order", "record_release", "note_release", "record_return", "restore_quota")


class Twin:
    """A `GateHistory` that asks two histories everything, asserts they agree, and answers with the first.

    ``calls`` counts each method, so a test can show which questions a run really asked.
    """

    def __init__(self, first: GateHistory, second: GateHistory) -> None:
        assert first.utc_offset_h == second.utc_offset_h
        assert first.return_window_days == second.return_window_days
        self.first, self.second = first, second
        self.utc_offset_h = first.utc_offset_h
        self.return_window_days = first.return_window_days
        self.calls: Counter[str] = Counter()
        self.nonzero: Counter[str] = Counter()  # answers that were not 0 / False

    def _both(self, name: str, *args: Any) -> Any:
        a = getattr(self.first, name)(*args)
        b = getattr(self.second, name)(*args)
        assert a == b, f"{name}{args}: {a!r} != {b!r}"
        self.calls[name] += 1
        if a:
            self.nonzero[name] += 1
        return a

    def declared(self, order_no: str) -> bool:
        return self._both("declared", order_no)  # type: ignore[no-any-return]

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        return self._both("released_value_in_year", buyer_id, year)  # type: ignore[no-any-return]

    def orders_in_window(self, buyer_id: str, since: float) -> int:
        return self._both("orders_in_window", buyer_id, since)  # type: ignore[no-any-return]

    def buyers_at_address(self, address: str, including: str | None = None) -> int:
        return self._both("buyers_at_address", address, including)  # type: ignore[no-any-return]

    def record_order(self, order: Any, now: float) -> None:
        self._both("record_order", order, now)

    def note_order(self, order_no: str, buyer_id: str, address: str, order_type: str, now: float) -> None:
        self._both("note_order", order_no, buyer_id, address, order_type, now)

    def record_release(self, order: Any, now: float) -> None:
        self._both("record_release", order, now)

    def note_release(self, order_no: str, buyer_id: str, value_fen: int, now: float) -> None:
        self._both("note_release", order_no, buyer_id, value_fen, now)

    def record_return(self, order: Any, now: float, released_at: float) -> bool:
        return self._both("record_return", order, now, released_at)  # type: ignore[no-any-return]

    def within_return_window(self, now: float, released_at: float) -> bool:
        return self._both("within_return_window", now, released_at)  # type: ignore[no-any-return]

    def restore_quota(self, order_no: str, value_fen: int) -> int:
        return self._both("restore_quota", order_no, value_fen)  # type: ignore[no-any-return]


def rebuilt_from_events(engine: Engine, return_window_days: int, utc_offset_h: float) -> BuyerHistory:
    """An in-memory history rebuilt from the log as a restarted controller used to rebuild it.

    Declared: the first ``at_gate`` event of each order; released: its inventory list; restored: the
    quota its returns gave back. This reads none of the history columns of ``order_``.
    """
    history = BuyerHistory(return_window_days, utc_offset_h)
    with Session(engine) as s:
        at_gate = (
            select(ParcelEvent.order_no, func.min(ParcelEvent.ts).label("ts"))
            .where(ParcelEvent.to_state == ParcelState.AT_GATE.value)
            .group_by(ParcelEvent.order_no)
            .subquery()
        )
        rows = s.exec(
            select(
                OrderRow.order_no,
                OrderRow.buyer_id,
                OrderRow.consignee_address,
                OrderRow.order_type,
                OrderRow.goods_value_fen,
                at_gate.c.ts,
                DeclarationRow.ts,
            )
            .join(at_gate, at_gate.c.order_no == OrderRow.order_no)
            .outerjoin(DeclarationRow, DeclarationRow.order_no == OrderRow.order_no)  # type: ignore[arg-type]
            .order_by(at_gate.c.ts)
        ).all()
        restored = s.exec(
            select(ReturnRow.order_no, func.sum(ReturnRow.quota_restored_fen)).group_by(ReturnRow.order_no)
        ).all()
    for order_no, buyer, address, order_type, value, gate_ts, released in rows:
        history.note_order(order_no, buyer, address, order_type, gate_ts)
        if released is not None:
            history.note_release(order_no, buyer, value, released)
    for order_no, fen in restored:
        if fen:
            history.restore_quota(order_no, int(fen))
    return history


def assert_same_answers(a: GateHistory, b: GateHistory, engine: Engine) -> int:
    """Ask both histories every question about every order, buyer and address the database holds.

    Returns how many answers were not 0 / False, so a caller can check the questions were not all empty.
    """
    with Session(engine) as s:
        orders = s.exec(
            select(
                OrderRow.order_no,
                OrderRow.buyer_id,
                OrderRow.consignee_address,
                OrderRow.received_at,
                OrderRow.at_gate,
                OrderRow.released_at,
            )
        ).all()
    by_buyer: dict[str, set[float]] = {}
    by_address: dict[str, set[str]] = {}
    times: set[float] = set()
    for _no, buyer, address, *stamps in orders:
        known = {t for t in stamps if t is not None}
        times |= known
        by_buyer.setdefault(buyer, set()).update(known)
        by_address.setdefault(address, set()).add(buyer)
    years = sorted({local_year(t, a.utc_offset_h) for t in times} | {1999})
    nonzero = 0

    def same(name: str, *args: Any) -> None:
        nonlocal nonzero
        x, y = getattr(a, name)(*args), getattr(b, name)(*args)
        assert x == y, f"{name}{args}: {x!r} != {y!r}"
        nonzero += bool(x)

    for order_no, *_ in orders:
        same("declared", order_no)
    same("declared", "NO-SUCH-ORDER")
    for buyer, stamps in [*by_buyer.items(), ("NO-SUCH-BUYER", set())]:
        for year in years:
            same("released_value_in_year", buyer, year)
        for since in sorted({-1e18, *stamps, *(t - 86400.0 for t in stamps), *(t + 1e-3 for t in stamps)}):
            same("orders_in_window", buyer, since)
    for address, buyers in [*by_address.items(), ("nowhere at all", set())]:
        same("buyers_at_address", address)
        same("buyers_at_address", f"  {address.upper()} ")  # the same place, spaced and cased otherwise
        for buyer in [*sorted(buyers)[:3], "NO-SUCH-BUYER"]:
            same("buyers_at_address", address, buyer)
    return nonzero
