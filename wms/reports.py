"""Reports read from the database: the bonded ledger reconciliation and the 24-hour dispatch SLA."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms.domain import SLA_S, TERMINAL_STATES, LedgerKind, ParcelState
from wms.store.models import LedgerEntry, LotRow, OrderRow, ParcelRow

BALANCE_KEYS = ("received", "adjusted", "in_stock", "released", "returned", "held", "restocked", "rejected")


@dataclass
class LotBalance:
    """One lot's ledger against its stock: received (+ adjusted) = in stock + released + returned + held.

    ``released`` is net of consumer returns; ``returned`` is what consumers sent back that waits in the
    returns area (returned, not yet restocked); ``adjusted`` sums the signed stock-count corrections.
    ``restocked`` and ``rejected`` are shown for the audit trail and change no balance.
    """

    account_book: str
    sku: str
    lot: str
    received: int
    adjusted: int
    in_stock: int
    released: int
    returned: int
    held: int
    restocked: int = 0
    rejected: int = 0

    @property
    def difference(self) -> int:
        """Units the ledger cannot account for (0 when balanced)."""
        return self.received + self.adjusted - (self.in_stock + self.released + self.returned + self.held)


def balance(
    moves: dict[str, int], in_stock: int, account_book: str = "", sku: str = "", lot: str = ""
) -> LotBalance:
    """The reconciliation of ledger sums by kind against the stock on hand."""
    returned = moves.get(LedgerKind.RETURNED, 0)
    restocked = moves.get(LedgerKind.RESTOCKED, 0)
    return LotBalance(
        account_book=account_book,
        sku=sku,
        lot=lot,
        received=moves.get(LedgerKind.RECEIVED, 0),
        adjusted=moves.get(LedgerKind.ADJUSTED, 0),
        in_stock=in_stock,
        released=moves.get(LedgerKind.RELEASED, 0) - returned,
        returned=returned - restocked,
        held=moves.get(LedgerKind.HELD, 0),
        restocked=restocked,
        rejected=moves.get(LedgerKind.REJECTED, 0),
    )


def ledger_report(engine: Engine) -> dict[str, Any]:
    """Per-lot reconciliation, totals per account book, and whether every lot balances."""
    with Session(engine) as s:
        moves: dict[str, dict[str, int]] = defaultdict(dict)
        rows = s.exec(
            select(LedgerEntry.lot, LedgerEntry.kind, func.sum(LedgerEntry.qty)).group_by(
                LedgerEntry.lot, LedgerEntry.kind
            )
        ).all()
        for lot, kind, qty in rows:
            moves[lot][kind] = int(qty or 0)
        lots = s.exec(select(LotRow)).all()
    balances = [
        balance(moves[lot.lot], lot.qty_on_hand, lot.account_book, lot.sku, lot.lot)
        for lot in sorted(lots, key=lambda r: (r.account_book, r.sku, r.lot))
    ]
    orphans = sorted(set(moves) - {b.lot for b in balances})
    books: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in balances:
        for key in BALANCE_KEYS:
            books[b.account_book][key] += getattr(b, key)
    unbalanced = [asdict(b) | {"difference": b.difference} for b in balances if b.difference]
    return {
        "balanced": not unbalanced and not orphans,
        "lots": len(balances),
        "account_books": {k: dict(v) for k, v in books.items()},
        "unbalanced_lots": unbalanced,
        "ledger_entries_without_lot": orphans,
    }


def sla_report(
    engine: Engine, now: float | None = None, at_risk_after_s: float = 20 * 3600.0
) -> dict[str, Any]:
    """Share of orders dispatched within 24 hours, order-to-dispatch times, and open orders at risk now."""
    with Session(engine) as s:
        rows = s.exec(
            select(
                ParcelRow.order_no,
                ParcelRow.state,
                ParcelRow.carrier,
                ParcelRow.done_at,
                OrderRow.received_at,
            ).join(OrderRow, OrderRow.order_no == ParcelRow.order_no)  # type: ignore[arg-type]
        ).all()
    if now is None:
        now = max((r[3] or r[4] for r in rows), default=0.0)
    dispatched = sorted(
        r.done_at - r.received_at for r in rows if r.state == ParcelState.DISPATCHED and r.done_at is not None
    )
    terminal = {s.value for s in TERMINAL_STATES}
    open_rows = [r for r in rows if r.state not in terminal]
    risky = sorted(
        (r for r in open_rows if now - r.received_at >= at_risk_after_s), key=lambda r: r.received_at
    )

    def pct(q: float) -> float | None:
        return (
            round(dispatched[min(len(dispatched) - 1, int(q * len(dispatched)))], 1) if dispatched else None
        )

    within = sum(1 for d in dispatched if d <= SLA_S)
    return {
        "orders": len(rows),
        "dispatched": len(dispatched),
        "dispatched_within_24h_pct": round(100.0 * within / len(dispatched), 3) if dispatched else None,
        "order_to_dispatch_s": {
            "p50": pct(0.5),
            "p99": pct(0.99),
            "max": dispatched[-1] if dispatched else None,
        },
        "open": len(open_rows),
        "at_risk": [
            {
                "order_no": r.order_no,
                "state": r.state,
                "carrier": r.carrier,
                "age_s": round(now - r.received_at, 1),
            }
            for r in risky
        ],
        "now": now,
    }
