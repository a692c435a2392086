"""The live status snapshot the controller publishes for consoles."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from wms.dispatch.cutoffs import local_hhmm, next_cutoff
from wms.domain import OPEN_STATES, ParcelState
from wms.messages import AtRisk, O2OView, RobotStatus, Status

if TYPE_CHECKING:
    from wms.control.controller import Controller
    from wms.control.fleet import RobotView

AT_RISK_AFTER_S = 20 * 3600.0
MAX_AT_RISK = 20  # the oldest at-risk orders a status lists


def sla_met_pct(ctl: Controller) -> float:
    """Share of dispatched parcels that left within 24 hours of their order."""
    return ctl.tally.sla_met_pct()


def _robot_status(ctl: Controller, r: RobotView) -> RobotStatus:
    """One robot's line of the status: the one shown last time if nothing in it changed (most robots idle)."""
    traffic = ctl.fleet.maps[r.kind].traffic
    fields = (
        r.kind,
        r.status,
        round(r.battery, 1),
        r.task.task_id if r.task else None,
        r.x,
        r.y,
        traffic is not None and r.serial in traffic.cells.waiting,
        traffic.cells.waits[r.serial] if traffic else 0,
        traffic.cells.reroutes[r.serial] if traffic else 0,
    )
    shown = ctl.robot_status_shown.get(r.serial)
    if shown is not None and shown[0] == fields:
        return shown[1]
    kind, state, battery, task, x, y, waiting, waits, reroutes = fields
    status = RobotStatus(
        serial=r.serial,
        kind=kind,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        battery_pct=battery,
        task=task,
        x=x,
        y=y,
        waiting=waiting,
        waits=waits,
        reroutes=reroutes,
    )
    ctl.robot_status_shown[r.serial] = (fields, status)
    return status


def build_status(ctl: Controller) -> Status:
    """Counts by stage, last-hour throughput, robots, gate, holds, risks, alarms, ledger."""
    now = ctl.clock.now()
    # Up to tens of thousands of open parcels in a backlog, every 10 s: read by state, not scanned.
    by_state = Counter({s.value: n for s, n in ctl.parcels.counts().items()}) + ctl.tally.by_state
    throughput = ctl.throughput_last_hour()
    robots = [_robot_status(ctl, r) for r in sorted(ctl.fleet.robots.values(), key=lambda r: r.serial)]
    oldest = ctl.parcels.oldest(MAX_AT_RISK, OPEN_STATES)
    risky = [p for p in oldest if now - p.received_at >= AT_RISK_AFTER_S]
    holds = list(ctl.tally.holds)
    utc = ctl.cfg.site.utc_offset_h
    target = ctl.cfg.o2o.target_s
    o2o = [p for p in ctl.parcels.o2o() if p.state in OPEN_STATES] + list(reversed(ctl.o2o_closed))
    o2o_views = []
    for p in o2o[:30]:
        elapsed = (p.done_at if p.done_at is not None else now) - p.received_at
        stage = "handed_over" if p.state == ParcelState.DISPATCHED else p.state.value
        o2o_views.append(
            O2OView(
                order_no=p.order_no,
                counter=p.route,
                stage=stage,
                elapsed_s=round(elapsed, 1),
                late=elapsed > target,
                reason=p.reason,
            )
        )
    return Status(
        ts=now,
        partition=ctl.part,
        started=ctl.started,
        boot=ctl.boot,
        o2o=o2o_views,
        o2o_target_s=target,
        paused=ctl.fleet.paused,
        orders_in=len(ctl.parcels) + ctl.tally.total,
        by_state=dict(by_state),
        throughput_per_h={k: float(v) for k, v in throughput.items()},
        dispatched=by_state.get(ParcelState.DISPATCHED.value, 0),
        held=by_state.get(ParcelState.HELD.value, 0),
        rejected=by_state.get(ParcelState.REJECTED.value, 0),
        sla_met_pct=sla_met_pct(ctl),
        robots=robots,
        gate_queue=sum(ctl.lane_queue),
        hold_lane=ctl.hold_lane,
        holds=holds,
        at_risk=[
            AtRisk(order_no=p.order_no, state=p.state.value, age_s=now - p.received_at, carrier=p.carrier)
            for p in risky
        ],
        alarms_total=sum(ctl.alarm_counts.values()),
        alarms_by_source=dict(ctl.alarm_counts),
        alarms=list(ctl.alarms)[:10],
        ledger_balanced=ctl.ledger_ok,
        next_cutoffs={c.code: local_hhmm(next_cutoff(c, now, utc), utc) for c in ctl.carriers.values()},
    )
