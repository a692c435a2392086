"""The live status: a robot's line is rebuilt when anything in it changes, else the last one is reused."""

from __future__ import annotations

from pathlib import Path

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.parcels import Parcel
from wms.control.status import build_status
from wms.domain import ParcelState
from wms.shift import ShiftOptions, virtual_shift

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def test_unchanged_robot_lines_are_reused_and_changed_ones_rebuilt(tmp_path: Path) -> None:
    opts = ShiftOptions(duration_s=60.0, db_url=f"sqlite:///{tmp_path / 's.db'}", seed=3)
    shift, _ = virtual_shift(CFG, CUSTOMS, opts)
    shift.clock.run(until=shift.clock.now() + 30.0)
    ctl = shift.controller
    first = build_status(ctl)
    assert len(first.robots) == CFG.fleet.picking.count + CFG.fleet.sorting.count
    second = build_status(ctl)
    assert all(a is b for a, b in zip(first.robots, second.robots, strict=True))
    robot = ctl.fleet.robots[first.robots[0].serial]
    robot.battery -= 5.0
    robot.x += 1.5
    third = build_status(ctl)
    line = third.robots[0]
    assert line is not first.robots[0]
    assert (line.battery_pct, line.x) == (round(robot.battery, 1), robot.x)
    assert all(a is b for a, b in zip(first.robots[1:], third.robots[1:], strict=True))
    robot.paused = True
    assert build_status(ctl).robots[0].state == "paused"
    robot.paused = False
    ctl.robot_status_shown.clear()  # built from scratch: the same status
    assert build_status(ctl).model_dump_json() == third.model_dump_json()


def test_counts_by_state_and_the_oldest_orders_at_risk(tmp_path: Path) -> None:
    """Open parcels counted by state; at risk: the 20 oldest of those open for 20 hours, oldest first."""
    opts = ShiftOptions(duration_s=60.0, db_url=f"sqlite:///{tmp_path / 's.db'}", seed=3)
    shift, _ = virtual_shift(CFG, CUSTOMS, opts)
    shift.clock.run(until=shift.clock.now() + 30.0)
    ctl = shift.controller
    now = ctl.clock.now()
    ctl.parcels.clear()
    ages_h = [21.0, 30.0, 5.0, 20.5, *[25.0] * 30]  # 33 of 34 at risk; the ties keep their order
    for k, age in enumerate(ages_h):
        state = ParcelState.ALLOCATED if k % 2 else ParcelState.PICKING
        ctl.parcels[f"ORD-{k:03d}"] = Parcel(f"ORD-{k:03d}", state, now - age * 3600, "SF", "north", None)
    status = build_status(ctl)
    assert status.by_state["allocated"] == 17 and status.by_state["picking"] == 17
    expected = sorted((k for k, a in enumerate(ages_h) if a >= 20.0), key=lambda k: -ages_h[k])[:20]
    assert [r.order_no for r in status.at_risk] == [f"ORD-{k:03d}" for k in expected]
    assert status.at_risk[0].age_s == 30.0 * 3600
