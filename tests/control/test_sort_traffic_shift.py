"""Sorting robots under traffic control in a real shift: never two on one cell, every parcel sorted.

The controller drives simulated VDA 5050 robots on a small, crowded sort grid over the in-process bus,
and one robot breaks down on the way; every robot state is checked as it is published, against the
other robots' reports and against the master's cell reservations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from wms.config import CONFIG_DIR, WarehouseConfig, load_customs, load_warehouse
from wms.control.status import build_status
from wms.control.traffic import Traffic
from wms.shift import Shift, ShiftOptions, run_until_drained, summary, virtual_shift
from wms.store.models import ParcelEvent

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def small_site(
    robots: int, traffic: bool = True, induct_sides: int = 1, hold_ahead: int = 3
) -> WarehouseConfig:
    """A 14 x 11 sort grid (12 chutes, 3 inducts) for ``robots`` sorting robots."""
    sortation = CFG.sortation.model_copy(
        update={
            "width": 14,
            "height": 11,
            "inducts": 3,
            "induct_sides": induct_sides,
            "traffic": traffic,
            "wait_timeout_s": 20.0,
            "hold_ahead": hold_ahead,
        }
    )
    sorting = CFG.fleet.sorting.model_copy(update={"count": robots, "charging_spots": 2})
    return CFG.model_copy(
        update={"sortation": sortation, "fleet": CFG.fleet.model_copy(update={"sorting": sorting})}
    )


def watch(shift: Shift, broker: Any, problems: list[str]) -> Callable[[], float]:
    """Check every sorting robot's state as it is published; return a probe of the longest wait seen."""
    traffic = shift.controller.fleet.maps["sorting"].traffic
    assert isinstance(traffic, Traffic)
    reported: dict[str, str] = {}
    longest = [0.0]

    def on_state(topic: str, data: bytes) -> None:
        msg = json.loads(data)
        serial = msg["serialNumber"]
        if not serial.startswith("sort"):
            return
        reported[serial] = msg["lastNodeId"]
        now = shift.clock.now()
        at = [n for s, n in reported.items() if s != serial and n == msg["lastNodeId"]]
        if at:
            problems.append(f"{now:.1f}: {serial} reports {msg['lastNodeId']}, where another robot is")
        held = traffic.cells.held()
        seen: dict[str, str] = {}
        for robot, cells in held.items():
            for cell in cells:
                if seen.setdefault(cell, robot) != robot:
                    problems.append(f"{now:.1f}: {cell} reserved by {seen[cell]} and {robot}")
        for robot, node in reported.items():
            if node not in held.get(robot, []):
                problems.append(f"{now:.1f}: {robot} reports {node}, outside its cells {held.get(robot)}")
        waits = [now - w.since for w in traffic.cells.waiting.values()]
        longest[0] = max([longest[0], *waits])

    broker.client("traffic-spy").subscribe("uagv/v2/+/+/state", on_state)
    return lambda: longest[0]


@pytest.mark.parametrize(("induct_sides", "hold_ahead"), [(1, 3), (2, 3), (1, 5)])
def test_a_crowded_sort_grid_has_one_robot_per_cell_and_sorts_every_parcel(
    tmp_path: Path, induct_sides: int, hold_ahead: int
) -> None:
    cfg = small_site(robots=8, induct_sides=induct_sides, hold_ahead=hold_ahead)
    opts = ShiftOptions(duration_s=900.0, orders_per_hour=1500.0, db_url=f"sqlite:///{tmp_path / 't.db'}")
    shift, broker = virtual_shift(cfg, CUSTOMS, opts)
    problems: list[str] = []
    longest_wait = watch(shift, broker, problems)
    sims = {sim.serial: sim for sim in shift.robots if sim.kind == "sorting"}
    crashed = sims.pop("sort-03")
    shift.clock.call_at(shift.start + 300.0, crashed.crash)  # it stays where it is, out of service
    drained = run_until_drained(shift, opts.drain_limit_s)
    result = summary(shift, 0.0, "virtual", "in-process")
    assert not problems, problems[:5]
    assert drained and result["lost"] == 0 and result["in_progress"] == 0, result
    assert result["ledger_balanced"] and not result["internal_errors"]
    with Session(shift.controller.repo.engine) as s:
        events = s.exec(select(ParcelEvent.order_no, ParcelEvent.to_state)).all()
        packed_to_induct = (ParcelEvent.from_state == "packed") & (ParcelEvent.to_state == "at_induct")
        inducted = set(s.exec(select(ParcelEvent.detail).where(packed_to_induct)).all())  # not re-queues
    assert inducted == set(shift.controller.grid.inducts)  # on two sides, the top row's induct too
    sorting = {o for o, state in events if state == "sorting"}
    sorted_ = {o for o, state in events if state == "sorted"}
    left = {o for o, state in events if state in ("dispatched", "held")}
    assert left and left <= sorted_ and sorting <= sorted_
    traffic = shift.controller.fleet.maps["sorting"].traffic
    assert traffic is not None and traffic.ahead == hold_ahead
    assert sum(traffic.cells.waits.values()) > 0  # the robots did get in each other's way
    assert not traffic.cells.waiting  # nobody is left waiting
    assert longest_wait() < 3 * cfg.sortation.wait_timeout_s, longest_wait()
    assert traffic.cells.holds("sort-03") == [crashed.last_node_id]  # where it broke down, nothing more
    assert shift.controller.alarm_counts.get("traffic", 0) == 0
    shown = [r for r in build_status(shift.controller).robots if r.kind == "sorting"]
    assert sum(r.waits for r in shown) == sum(traffic.cells.waits.values()) and not any(
        r.waiting for r in shown
    )
    assert all(sim.orders_done > 0 for sim in sims.values())
    parked = set(shift.controller.grid.parking) | set(shift.controller.grid.chargers)
    assert {sim.last_node_id for sim in sims.values()} <= parked  # idle robots wait out of the traffic
