"""Assigning work looks for idle robots only when there is work: the 2-second sort tick stays cheap."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.shift import ShiftOptions, virtual_shift

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def test_no_fleet_scan_without_queued_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shift, _ = virtual_shift(CFG, CUSTOMS, ShiftOptions(db_url=f"sqlite:///{tmp_path / 'a.db'}", seed=3))
    shift.clock.run(until=shift.clock.now() + 30.0)
    ctl = shift.controller
    scans: list[str] = []
    idle = ctl.fleet.idle
    monkeypatch.setattr(ctl.fleet, "idle", lambda kind: scans.append(kind) or idle(kind))
    assert not ctl.pick_queue and not any(ctl.induct_queues.values())
    ctl._assign_picks()
    ctl._assign_sorts()
    assert scans == []
    ctl.pick_queue.append(("PICK-X", []))  # work queued: the idle robots are looked up
    ctl.induct_queues[next(iter(ctl.induct_queues))].append("NO-SUCH-ORDER")
    monkeypatch.setattr(ctl.fleet, "paused", True)  # ... but none is idle, so nothing is started
    ctl._assign_picks()
    ctl._assign_sorts()
    assert scans == ["picking", "sorting"]
