"""The gate's buyer history in the controller's database, so the controller's memory stays flat.

`DbHistory` answers the rules (`wms.inspection.rules.GateHistory`) from the ``order_`` table, which holds
every order the controller received. The gate writes four columns of an order when it decides on it:
``at_gate`` and ``address_key`` when it declares the order, ``released_at`` and ``quota_fen`` when it
releases it (``quota_fen`` goes down when a return gives quota back). Each question is one indexed
query: ``(buyer_id, at_gate)``, ``(buyer_id, released_at)``, ``(address_key, buyer_id)``, or the key.

Every call runs in the caller's unit of work when there is one (``unit`` joins it, as `Repo.unit`
does), so a read sees what the same decision wrote before it, exactly as an in-memory history would;
and a unit that rolls back takes its history changes with it, so the history never runs ahead of the
parcels. A restarted controller reads the same rows: nothing is rebuilt at start.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, distinct, func, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement
from sqlmodel import Session, select

from wms.config import CustomsConfig
from wms.domain import CustomsOrder
from wms.inspection.rules import DAY_S, local_year, normalize_address
from wms.store.models import OrderRow
from wms.store.statements import Statements

Unit = Callable[[], AbstractContextManager[Session]]

_O = OrderRow
_DECLARED = select(_O.order_no).where(_O.order_no == bindparam("no"), _O.at_gate.is_not(None))  # type: ignore[union-attr]
_IN_WINDOW = (
    select(func.count())
    .select_from(_O)
    .where(_O.buyer_id == bindparam("buyer"), _O.at_gate >= bindparam("since"))  # type: ignore[operator]
)
_RELEASED = select(func.coalesce(func.sum(_O.quota_fen), 0)).where(
    _O.buyer_id == bindparam("buyer"),
    _O.released_at >= bindparam("lo"),  # type: ignore[operator]
    _O.released_at < bindparam("hi"),  # type: ignore[operator]
)
_AT_ADDRESS = select(func.count(distinct(_O.buyer_id))).where(_O.address_key == bindparam("key"))
_OTHERS_AT_ADDRESS = select(func.count(distinct(_O.buyer_id))).where(
    _O.address_key == bindparam("key"), _O.buyer_id != bindparam("buyer")
)
_QUOTA = select(_O.quota_fen).where(_O.order_no == bindparam("no"))
_BY_NO = _O.order_no == bindparam("no")
_DECLARE = update(_O).where(_BY_NO).values(at_gate=func.coalesce(_O.at_gate, bindparam("now")))
_DECLARE_AT = _DECLARE.values(address_key=bindparam("key"))
_RELEASE = update(_O).where(_BY_NO).values(released_at=bindparam("now"), quota_fen=bindparam("fen"))
_SET_QUOTA = update(_O).where(_BY_NO).values(quota_fen=bindparam("fen"))


class DbHistory:
    """A `GateHistory` kept in the ``order_`` rows of the controller's database.

    It gives the in-memory `BuyerHistory`'s answers for the same calls, with one difference of scope: an
    order is declared once, at the first time it is noted (the in-memory history would count a second
    note of the same order number again in `orders_in_window`; the controller never notes an order twice).
    Orders must be in the database before they are noted: the controller stores each one on arrival.
    ``buyer_id`` arguments of the ``note_`` methods are taken from the stored order instead.
    """

    def __init__(self, unit: Unit, return_window_days: int = 30, utc_offset_h: float = 8.0) -> None:
        self._unit = unit
        self._sql: Statements | None = None  # compiled for the database's dialect at the first query
        self.return_window_days = return_window_days
        self.utc_offset_h = utc_offset_h

    @classmethod
    def for_customs(cls, unit: Unit, customs: CustomsConfig, utc_offset_h: float = 8.0) -> DbHistory:
        """A history on ``unit`` using the return window of a customs config."""
        return cls(unit, customs.return_window_days, utc_offset_h)

    # what the rules read -----------------------------------------------------------------------------

    def declared(self, order_no: str) -> bool:
        """Whether an order with this number was declared before."""
        return self._scalar(_DECLARED, no=order_no) is not None

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        """Goods value (fen) released to this buyer in this calendar year, less returns within the window."""
        lo, hi = year_span(year, self.utc_offset_h)
        return int(self._scalar(_RELEASED, buyer=buyer_id, lo=lo, hi=hi))

    def orders_in_window(self, buyer_id: str, since: float) -> int:
        """Orders declared for this buyer at or after ``since``."""
        return int(self._scalar(_IN_WINDOW, buyer=buyer_id, since=since))

    def buyers_at_address(self, address: str, including: str | None = None) -> int:
        """Distinct buyers declared at this address, counting ``including`` too if given."""
        key = normalize_address(address)
        if including is None:
            return int(self._scalar(_AT_ADDRESS, key=key))
        return 1 + int(self._scalar(_OTHERS_AT_ADDRESS, key=key, buyer=including))

    # what the gate records -----------------------------------------------------------------------------

    def record_order(self, order: CustomsOrder, now: float) -> None:
        """Remember a declared order: its time for the buyer, its buyer at its address."""
        self.note_order(order.order_no, order.buyer_id_number, order.consignee_address, order.order_type, now)

    def note_order(self, order_no: str, buyer_id: str, address: str, order_type: str, now: float) -> None:
        """`record_order` from the stored columns of an order."""
        if order_type == "o2o":  # the store's counter is nobody's delivery address
            self._update(_DECLARE, order_no, now=now)
        else:
            self._update(_DECLARE_AT, order_no, now=now, key=normalize_address(address))

    def record_release(self, order: CustomsOrder, now: float) -> None:
        """Count a released order's goods value against its buyer's quota for the year of release."""
        self.note_release(order.order_no, order.buyer_id_number, order.goods_value_fen, now)

    def note_release(self, order_no: str, buyer_id: str, value_fen: int, now: float) -> None:
        """`record_release` from the stored columns of an order; released again, it counts once (the last)."""
        self._update(_RELEASE, order_no, now=now, fen=value_fen)

    def record_return(self, order: CustomsOrder, now: float, released_at: float) -> bool:
        """A returned order restores the quota if returned within the window; True if it did."""
        if not self.within_return_window(now, released_at):
            return False
        counted = self._quota(order.order_no)
        return counted is not None and self.restore_quota(order.order_no, counted) > 0

    def within_return_window(self, now: float, released_at: float) -> bool:
        """Whether a return now of goods released at ``released_at`` gives the buyer's quota back."""
        return now - released_at <= self.return_window_days * DAY_S

    def restore_quota(self, order_no: str, value_fen: int) -> int:
        """Take up to ``value_fen`` of a released order off its buyer's yearly total; the fen restored."""
        if value_fen <= 0:
            return 0
        counted = self._quota(order_no)
        if counted is None:  # never released
            return 0
        take = min(value_fen, counted)
        if take > 0:
            self._update(_SET_QUOTA, order_no, fen=counted - take)
        return take

    # -------------------------------------------------------------------------------------------------

    def _quota(self, order_no: str) -> int | None:
        fen = self._scalar(_QUOTA, no=order_no)
        return None if fen is None else int(fen)

    # Statements compiled once and run on the unit's connection (`Statements`): a fraction of the cost
    # of ORM execution, or of Core's. The flush first writes what the unit holds pending (an order
    # stored earlier in it), as an ORM query's autoflush would; with nothing pending it costs nothing.
    # The history columns are written only here, never through loaded rows, so nothing in the session
    # goes stale.

    def _scalar(self, stmt: ClauseElement, **params: object) -> Any:
        with self._unit() as s:
            s.flush()
            conn = s.connection()
            return self._statements(conn).scalar(conn, stmt, params)

    def _update(self, stmt: ClauseElement, order_no: str, **values: object) -> None:
        with self._unit() as s:
            s.flush()
            conn = s.connection()
            if self._statements(conn).execute(conn, stmt, {"no": order_no, **values}) != 1:
                raise KeyError(f"order {order_no} is not in the database")

    def _statements(self, conn: Connection) -> Statements:
        if self._sql is None:
            self._sql = Statements(conn.dialect)
        return self._sql


@functools.lru_cache(maxsize=64)
def year_span(year: int, utc_offset_h: float) -> tuple[float, float]:
    """The instants ``[start, end)`` whose `local_year` is ``year``, exactly as floats compare."""
    return _year_start(year, utc_offset_h), _year_start(year + 1, utc_offset_h)


def _year_start(year: int, utc_offset_h: float) -> float:
    """The earliest float instant whose `local_year` is ``year`` or later.

    `local_year` reads the instant rounded to the microsecond, so the new year can begin a fraction of a
    microsecond before midnight: found by bisection over the floats next to midnight.
    """
    tz = UTC if utc_offset_h == 0 else timezone(timedelta(hours=utc_offset_h))
    try:
        hi = datetime(year, 1, 1, tzinfo=tz).timestamp()
        lo = hi - 1e-3
        if not local_year(lo, utc_offset_h) < year <= local_year(hi, utc_offset_h):
            raise ValueError(year)
    except (ValueError, OverflowError, OSError):  # beyond what datetime represents
        return -math.inf if year < 1970 else math.inf
    while True:
        mid = (lo + hi) / 2
        if not lo < mid < hi:
            return hi
        if local_year(mid, utc_offset_h) >= year:
            hi = mid
        else:
            lo = mid
