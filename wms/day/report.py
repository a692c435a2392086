"""Figures of a simulated day read back from the database, with GROUP BY queries (SQLite and PostgreSQL).

Every parcel state change is a ``parcel_event`` row (order, time, from, to), written by the controller in
the same transaction as the change itself, so the day's throughput per stage, the queue in front of every
stage at any minute and each order's time to dispatch are exact, not sampled: they come from what the
controller committed, not from hooks in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms.domain import SLA_S, TERMINAL_STATES, ParcelState
from wms.o2o.bench import percentile
from wms.reports import ledger_report
from wms.store.models import AlarmRow, InspectionRow, OrderRow, ParcelEvent, ParcelRow, TaskRow

# The flow's states in the order a parcel passes them (terminal ones last).
FLOW: tuple[str, ...] = tuple(s.value for s in ParcelState)
OPEN_STATES: tuple[str, ...] = tuple(s.value for s in ParcelState if s not in TERMINAL_STATES)
TERMINAL: frozenset[str] = frozenset(s.value for s in TERMINAL_STATES)
# Intake rejections that are the warehouse's failure, not the documents': they count against the 24 h share.
WAREHOUSE_REJECTS: frozenset[str] = frozenset({"OUT_OF_STOCK"})


def _bucket(column: Any, start: float, width_s: float, dialect: str) -> Any:
    """SQL expression: whole ``width_s`` periods since ``start`` (times before start are not expected)."""
    x = (column - start) / width_s
    return cast(x, Integer) if dialect == "sqlite" else cast(func.floor(x), Integer)


def per_period(engine: Engine, start: float, width_s: float, periods: int) -> dict[str, list[int]]:
    """Parcels entering each state per period (``received``: orders the controller took in).

    A parcel re-queued after a failed robot task enters a state again and counts again there; a terminal
    state is entered once, so its periods sum to its total. Events past the last period fall in it.
    """
    dialect = engine.dialect.name
    b_ev = _bucket(ParcelEvent.ts, start, width_s, dialect).label("b")
    b_in = _bucket(OrderRow.received_at, start, width_s, dialect).label("b")
    with Session(engine) as s:
        moves = s.exec(
            select(b_ev, ParcelEvent.to_state, func.count())
            .where(ParcelEvent.from_state != ParcelEvent.to_state)
            .group_by(b_ev, ParcelEvent.to_state)
        ).all()
        received = s.exec(select(b_in, func.count()).group_by(b_in)).all()
    out: dict[str, list[int]] = {"received": [0] * periods} | {state: [0] * periods for state in FLOW}
    for b, n in received:
        out["received"][_clamp(b, periods)] += int(n)
    for b, state, n in moves:
        out.setdefault(state, [0] * periods)[_clamp(b, periods)] += int(n)
    return out


def occupancy(engine: Engine, start: float, width_s: float, periods: int) -> dict[str, list[int]]:
    """Parcels in each open state at the end of every period: entries minus exits, accumulated."""
    dialect = engine.dialect.name
    b = _bucket(ParcelEvent.ts, start, width_s, dialect).label("b")
    moved = ParcelEvent.from_state != ParcelEvent.to_state
    with Session(engine) as s:
        entries = s.exec(
            select(b, ParcelEvent.to_state, func.count()).where(moved).group_by(b, ParcelEvent.to_state)
        ).all()
        exits = s.exec(
            select(b, ParcelEvent.from_state, func.count())
            .where(moved, ParcelEvent.from_state != "")
            .group_by(b, ParcelEvent.from_state)
        ).all()
    delta = {state: [0] * periods for state in OPEN_STATES}
    for k, state, n in entries:
        if state in delta:
            delta[state][_clamp(k, periods)] += int(n)
    for k, state, n in exits:
        if state in delta:
            delta[state][_clamp(k, periods)] -= int(n)
    out = {}
    for state, d in delta.items():
        level, series = 0, []
        for x in d:
            level += x
            series.append(level)
        out[state] = series
    return out


def _clamp(k: Any, periods: int) -> int:
    return min(max(int(k), 0), periods - 1)


def counts(engine: Engine) -> dict[str, Any]:
    """Orders stored, and parcels by state."""
    with Session(engine) as s:
        orders = int(s.exec(select(func.count()).select_from(OrderRow)).one())
        parcels = int(s.exec(select(func.count()).select_from(ParcelRow)).one())
        states = dict(s.exec(select(ParcelRow.state, func.count()).group_by(ParcelRow.state)).all())
    by_state = {k: int(v) for k, v in states.items()}
    terminal = sum(v for k, v in by_state.items() if k in TERMINAL)
    return {
        "orders_in_db": orders,
        "parcels_in_db": parcels,
        "by_state": by_state,
        "dispatched": by_state.get("dispatched", 0),
        "held": by_state.get("held", 0),
        "rejected": by_state.get("rejected", 0),
        "terminal": terminal,
        "open": parcels - terminal,
    }


def sla(
    engine: Engine,
    placed_at: Mapping[str, float],
    end: float,
    never_received: int = 0,
    target_pct: float = 99.9,
) -> dict[str, Any]:
    """Share of the day's orders dispatched within 24 hours of being placed, and order-to-dispatch times.

    An order's clock starts when the customer placed it: ``placed_at`` for orders the feed had to hold
    back while the intake was closed, else when the controller received it. The share is over every order
    the warehouse owed a dispatch: all of them except those customs held or rejected and those refused at
    intake for their documents (an order refused for want of stock counts as missed), including orders
    still open at the end (missed if already older than 24 h; counted as missed too, since they were not
    dispatched within the run) and orders the feed never managed to send (``never_received``).
    """
    with Session(engine) as s:
        rows = s.exec(
            select(
                OrderRow.order_no, OrderRow.received_at, ParcelRow.state, ParcelRow.done_at, ParcelRow.reason
            ).join(ParcelRow, ParcelRow.order_no == OrderRow.order_no)  # type: ignore[arg-type]
        ).all()
    to_dispatch: list[float] = []
    owed = never_received
    open_late = open_young = warehouse_rejects = 0
    for order_no, received_at, state, done_at, reason in rows:
        t0 = placed_at.get(order_no, received_at)
        if state == "dispatched" and done_at is not None:
            owed += 1
            to_dispatch.append(done_at - t0)
        elif state == "rejected":
            if reason.split(":", 1)[0] in WAREHOUSE_REJECTS:
                owed += 1
                warehouse_rejects += 1
        elif state != "held":
            owed += 1
            if end - t0 > SLA_S:
                open_late += 1
            else:
                open_young += 1
    to_dispatch.sort()
    within = sum(1 for d in to_dispatch if d <= SLA_S)
    pct = round(100.0 * within / owed, 4) if owed else None
    return {
        "target_pct": target_pct,
        "owed": owed,
        "dispatched": len(to_dispatch),
        "within_24h": within,
        "within_24h_pct": pct,
        "met": pct is not None and pct >= target_pct,
        "dispatched_late": len(to_dispatch) - within,
        "open_at_end_late": open_late,
        "open_at_end_not_yet_late": open_young,
        "never_received": never_received,
        "out_of_stock": warehouse_rejects,
        "within_24h_of_dispatched_pct": round(100.0 * within / len(to_dispatch), 4) if to_dispatch else None,
        "order_to_dispatch_s": {
            "p50": _r(percentile(to_dispatch, 0.5)),
            "p90": _r(percentile(to_dispatch, 0.9)),
            "p99": _r(percentile(to_dispatch, 0.99)),
            "max": _r(to_dispatch[-1] if to_dispatch else None),
        },
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _code(reason: str) -> str:
    return reason.split(":", 1)[0].strip() or "(no reason)"


def gate(engine: Engine) -> dict[str, Any]:
    """Decisions of the inspection gate (X-ray, manual checks, holds, rejects) and intake refusals."""
    with Session(engine) as s:
        decisions = s.exec(
            select(InspectionRow.decision, InspectionRow.xray, func.count()).group_by(
                InspectionRow.decision, InspectionRow.xray
            )
        ).all()
        manual = int(
            s.exec(
                select(func.count())
                .select_from(InspectionRow)
                .where(InspectionRow.decision == "release", InspectionRow.reasons.like("manual check%"))  # type: ignore[attr-defined]
            ).one()
        )
        flagged = s.exec(
            select(InspectionRow.decision, InspectionRow.reasons).where(InspectionRow.decision != "release")
        ).all()
        at_gate = select(InspectionRow.order_no).where(InspectionRow.decision == "reject")
        refused = s.exec(
            select(ParcelRow.reason).where(
                ParcelRow.state == "rejected",
                ParcelRow.order_no.not_in(at_gate),  # type: ignore[attr-defined]
            )
        ).all()
        lanes = s.exec(
            select(InspectionRow.lane, func.count())
            .where(InspectionRow.lane.is_not(None))  # type: ignore[union-attr]
            .group_by(InspectionRow.lane)
        ).all()
    by_decision: Counter[str] = Counter()
    xray: Counter[str] = Counter()
    for decision, image, n in decisions:
        by_decision[decision] += int(n)
        if image:
            xray[image] += int(n)
    holds: Counter[str] = Counter()
    gate_rejects: Counter[str] = Counter()
    for decision, reasons in flagged:
        codes = {_code(r) for r in reasons.split(";") if r.strip()} or {"(no reason)"}
        for code in codes:
            (holds if decision == "hold" else gate_rejects)[code] += 1
    return {
        "inspected": sum(by_decision.values()),
        "released": by_decision.get("release", 0),
        "released_after_manual_check": manual,
        "held": by_decision.get("hold", 0),
        "rejected_at_gate": by_decision.get("reject", 0),
        "xray": dict(xray),
        "holds_by_reason": dict(holds.most_common()),
        "gate_rejects_by_reason": dict(gate_rejects.most_common()),
        "rejected_at_intake": len(refused),
        "intake_rejects_by_reason": dict(Counter(_code(r) for r in refused).most_common()),
        "xray_lanes_used": len(lanes),
        "parcels_per_lane_min": min((int(n) for _, n in lanes), default=0),
        "parcels_per_lane_max": max((int(n) for _, n in lanes), default=0),
    }


def bags(engine: Engine, capacity: int) -> dict[str, Any]:
    """Bags closed at the chutes: how many, how full (share of ``capacity``) and how many closed full."""
    with Session(engine) as s:
        sizes = [
            int(n)
            for _, n in s.exec(
                select(ParcelRow.bag, func.count())
                .where(ParcelRow.bag.is_not(None))  # type: ignore[union-attr]
                .group_by(ParcelRow.bag)
            ).all()
        ]
    n = len(sizes)
    parcels = sum(sizes)
    return {
        "bag_capacity": capacity,
        "bags_closed": n,
        "parcels_bagged": parcels,
        "mean_parcels_per_bag": round(parcels / n, 2) if n else None,
        "mean_fill_pct": round(100.0 * parcels / (n * capacity), 1) if n else None,
        "closed_full_pct": round(100.0 * sum(1 for x in sizes if x >= capacity) / n, 1) if n else None,
    }


def tasks(engine: Engine) -> dict[str, dict[str, Any]]:
    """Robot tasks done, by kind: how many, and how long each took from assignment to done (seconds).

    A sort move takes well under a minute when traffic flows; a maximum of hours shows a robot that was
    stuck, which the share within 24 hours can hide.
    """
    with Session(engine) as s:
        rows = s.exec(
            select(TaskRow.kind, TaskRow.assigned_at, TaskRow.done_at).where(
                TaskRow.state == "done",
                TaskRow.assigned_at.is_not(None),  # type: ignore[union-attr]
                TaskRow.done_at.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
    took: dict[str, list[float]] = {}
    for kind, assigned, done in rows:
        took.setdefault(kind, []).append(done - assigned)
    out: dict[str, dict[str, Any]] = {}
    for kind, xs in sorted(took.items()):
        xs.sort()
        out[kind] = {
            "done": len(xs),
            "p50_s": _r(percentile(xs, 0.5)),
            "p99_s": _r(percentile(xs, 0.99)),
            "max_s": _r(xs[-1]),
        }
    return out


def slow_tasks(engine: Engine, start: float, limit: int = 20) -> dict[str, Any]:
    """The fleet's alarms for tasks that ran past ``[fleet] task_alarm_s``: how many, and the first
    ``limit`` of them (seconds into the day, message), each naming where its robot stood and what it
    waited for when the alarm was raised."""
    with Session(engine) as s:
        n = s.exec(select(func.count()).select_from(AlarmRow).where(AlarmRow.source == "tasks")).one()
        rows = s.exec(
            select(AlarmRow.ts, AlarmRow.message)
            .where(AlarmRow.source == "tasks")
            .order_by(AlarmRow.ts, AlarmRow.id)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
    return {"count": n, "first": [{"at_s": _r(ts - start), "message": m} for ts, m in rows]}


def ledger(engine: Engine) -> dict[str, Any]:
    """The bonded ledger reconciliation, without the per-lot detail of balanced lots."""
    rep = ledger_report(engine)
    return {
        "balanced": bool(rep["balanced"]),
        "lots": rep["lots"],
        "account_books": rep["account_books"],
        "unbalanced_lots": rep["unbalanced_lots"][:20],
        "ledger_entries_without_lot": rep["ledger_entries_without_lot"][:20],
    }
