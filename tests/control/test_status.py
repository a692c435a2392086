"""The live status: a robot's line is rebuilt when anything in it changes, else the last one is reused."""

from __future__ import annotations

from pathlib import Path

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.status import build_status
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
