"""What a restarted controller reads back from its database to resume a shift where it stopped.

Everything here is a query into plain data; the controller decides what to do with it. The gate's buyer
history is not read back: it stays in the database (`wms.control.history.DbHistory`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms.domain import SLA_S, TERMINAL_STATES, ParcelState
from wms.store.models import (
    AllocationRow,
    CommandRow,
    LotRow,
    OrderRow,
    ParcelRow,
    RobotRow,
    SlotRow,
    TaskRow,
)


@dataclass
class ParcelRecord:
    """One parcel as stored: its row, the order as received and its stock reservations."""

    row: ParcelRow
    document: str
    received_at: float
    picks: list[tuple[str, str, int, str]] = field(default_factory=list)  # (lot, sku, qty, node)


@dataclass
class Closed:
    """Parcels that reached one terminal state: how many, how many within 24 hours (dispatched)."""

    state: str
    count: int
    in_sla: int


@dataclass
class Snapshot:
    """The state of a shift as the database holds it."""

    slots: dict[str, tuple[str, str]]  # sku -> (slot, node)
    lots: list[LotRow]
    parcels: list[ParcelRecord]  # open parcels only: closed ones are counted in ``closed``
    tasks: list[TaskRow]  # tasks not finished, oldest first
    commands: list[CommandRow]
    robots: dict[str, RobotRow]
    chutes: dict[tuple[str, str], str]  # (carrier, route) -> chute, as parcels were sorted
    closed: list[Closed]
    holds: list[tuple[str, str]]  # the last parcels held: (order, reason), oldest first


def load_snapshot(engine: Engine) -> Snapshot:
    """Read what the controller needs to resume a shift."""
    with Session(engine) as s:
        slots = {
            r.sku: (r.slot, r.node)
            for r in s.exec(select(SlotRow).where(SlotRow.sku.is_not(None))).all()  # type: ignore[union-attr]
        }
        lots = list(s.exec(select(LotRow)).all())
        open_ = ParcelRow.state.not_in([t.value for t in TERMINAL_STATES])  # type: ignore[attr-defined]
        rows = s.exec(
            select(ParcelRow, OrderRow.document, OrderRow.received_at)
            .join(OrderRow, OrderRow.order_no == ParcelRow.order_no)  # type: ignore[arg-type]
            .where(open_)
            .order_by(OrderRow.received_at, OrderRow.order_no)
        ).all()
        picks: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
        allocs = s.exec(
            select(AllocationRow)
            .join(ParcelRow, ParcelRow.order_no == AllocationRow.order_no)  # type: ignore[arg-type]
            .where(open_)
            .order_by(AllocationRow.id)  # type: ignore[arg-type]
        ).all()
        for a in allocs:
            picks[a.order_no].append((a.lot, a.sku, a.qty, a.node))
        parcels = [
            ParcelRecord(row, doc, received, picks.get(row.order_no, [])) for row, doc, received in rows
        ]
        tasks = list(
            s.exec(
                select(TaskRow).where(TaskRow.state.in_(["queued", "assigned"])).order_by(TaskRow.created_at)
            ).all()  # type: ignore[attr-defined]
        )
        commands = list(s.exec(select(CommandRow).order_by(CommandRow.sent_at)).all())
        robots = {r.serial: r for r in s.exec(select(RobotRow)).all()}
        chutes = {
            (carrier, route): chute
            for carrier, route, chute in s.exec(
                select(ParcelRow.carrier, ParcelRow.route, ParcelRow.chute)
                .where(ParcelRow.chute.is_not(None))  # type: ignore[union-attr]
                .distinct()
            ).all()
        }
        in_sla = case((ParcelRow.done_at - OrderRow.received_at <= SLA_S, 1), else_=0)  # type: ignore[operator]
        closed = [
            Closed(state, int(n), int(ok or 0))
            for state, n, ok in s.exec(
                select(ParcelRow.state, func.count(), func.sum(in_sla))
                .join(OrderRow, OrderRow.order_no == ParcelRow.order_no)  # type: ignore[arg-type]
                .where(~open_)
                .group_by(ParcelRow.state)
            ).all()
        ]
        holds = [
            (o, r)
            for o, r in reversed(
                s.exec(
                    select(ParcelRow.order_no, ParcelRow.reason)
                    .where(ParcelRow.state == ParcelState.HELD.value)
                    .order_by(ParcelRow.done_at.desc())  # type: ignore[union-attr]
                    .limit(10)
                ).all()
            )
        ]
    return Snapshot(slots, lots, parcels, tasks, commands, robots, chutes, closed, holds)
