"""What a restarted controller reads back from its database to resume a shift where it stopped.

Everything here is a query into plain data; the controller decides what to do with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms.domain import ParcelState
from wms.store.models import (
    AllocationRow,
    CommandRow,
    DeclarationRow,
    LotRow,
    OrderRow,
    ParcelEvent,
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
class Snapshot:
    """The state of a shift as the database holds it."""

    slots: dict[str, tuple[str, str]]  # sku -> (slot, node)
    lots: list[LotRow]
    parcels: list[ParcelRecord]
    tasks: list[TaskRow]  # tasks not finished, oldest first
    commands: list[CommandRow]
    robots: dict[str, RobotRow]
    chutes: dict[tuple[str, str], str]  # (carrier, route) -> chute, as parcels were sorted
    at_gate: dict[str, float]  # order -> when it reached the gate (its declaration to customs)
    released: dict[str, float]  # order -> when customs released it


def load_snapshot(engine: Engine) -> Snapshot:
    """Read what the controller needs to resume a shift."""
    with Session(engine) as s:
        slots = {
            r.sku: (r.slot, r.node)
            for r in s.exec(select(SlotRow).where(SlotRow.sku.is_not(None))).all()  # type: ignore[union-attr]
        }
        lots = list(s.exec(select(LotRow)).all())
        rows = s.exec(
            select(ParcelRow, OrderRow.document, OrderRow.received_at)
            .join(OrderRow, OrderRow.order_no == ParcelRow.order_no)  # type: ignore[arg-type]
            .order_by(OrderRow.received_at, OrderRow.order_no)
        ).all()
        picks: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
        for a in s.exec(select(AllocationRow).order_by(AllocationRow.id)).all():  # type: ignore[arg-type]
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
                select(ParcelRow.carrier, ParcelRow.route, ParcelRow.chute).where(
                    ParcelRow.chute.is_not(None)
                )  # type: ignore[union-attr]
            ).all()
        }
        at_gate = dict(
            s.exec(
                select(ParcelEvent.order_no, func.min(ParcelEvent.ts))
                .where(ParcelEvent.to_state == ParcelState.AT_GATE.value)
                .group_by(ParcelEvent.order_no)
            ).all()
        )
        released = dict(s.exec(select(DeclarationRow.order_no, DeclarationRow.ts)).all())
    return Snapshot(slots, lots, parcels, tasks, commands, robots, chutes, at_gate, released)
