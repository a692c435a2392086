"""Assigning work looks for idle robots only when there is work: the 2-second sort tick stays cheap."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.controller import INDUCT_ROBOTS, Controller
from wms.shift import ShiftOptions, virtual_shift

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def _counting_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Controller, list[str]]:
    """A controller 30 s into a shift, and the list its fleet's idle-robot scans append their kind to."""
    shift, _ = virtual_shift(CFG, CUSTOMS, ShiftOptions(db_url=f"sqlite:///{tmp_path / 'a.db'}", seed=3))
    shift.clock.run(until=shift.clock.now() + 30.0)
    ctl = shift.controller
    scans: list[str] = []
    idle = ctl.fleet.idle
    monkeypatch.setattr(ctl.fleet, "idle", lambda kind: scans.append(kind) or idle(kind))
    return ctl, scans


def test_no_fleet_scan_without_queued_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl, scans = _counting_scans(tmp_path, monkeypatch)
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


def test_no_fleet_scan_while_every_induct_with_parcels_has_its_robot_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl, scans = _counting_scans(tmp_path, monkeypatch)
    monkeypatch.setattr(ctl.fleet, "paused", True)  # nothing is started whatever the scan finds
    first = next(iter(ctl.induct_queues))
    ctl.induct_queues[first].append("NO-SUCH-ORDER")
    room = dict.fromkeys(ctl.induct_queues, 1)
    room[first] = 0  # a robot is bound for the one induct with a parcel; room only at empty ones
    monkeypatch.setattr(ctl, "_induct_room", lambda: room)
    ctl._assign_sorts()
    assert scans == []
    room[first] = 1  # room where a parcel waits: the idle robots are looked up
    ctl._assign_sorts()
    assert scans == ["sorting"]


def test_robots_sent_to_one_chute_drop_from_different_sides(tmp_path: Path) -> None:
    shift, _ = virtual_shift(CFG, CUSTOMS, ShiftOptions(db_url=f"sqlite:///{tmp_path / 'a.db'}", seed=3))
    ctl = shift.controller
    shift.clock.run(until=shift.clock.now() + 5.0)
    ctl.fleet.paused = True  # orders come in, but no robot is given work: they wait, allocated
    shift.clock.run(until=shift.clock.now() + 600.0)
    by_dest: dict[tuple[str, str], list[str]] = {}
    for p in ctl.parcels.values():
        if p.state.value in ("received", "allocated"):
            by_dest.setdefault((p.carrier, p.route), []).append(p.order_no)
    first, second = next(nos for nos in by_dest.values() if len(nos) >= 2)[:2]
    robots = [r for r in ctl.fleet.robots.values() if r.kind == "sorting" and r.task is None][:2]
    induct = ctl.grid.inducts[0]
    ctl.fleet.paused = False  # (sends nothing by itself: the controller's ticks do not run here)
    ctl.induct_queues[induct].extend([first, second])
    assert ctl._induct_room()[induct] == INDUCT_ROBOTS == 1  # one robot at a time goes to an induct
    ctl._start_sort(robots[0], first, induct)
    assert ctl._induct_room()[induct] == 0 and ctl._induct_room()[ctl.grid.inducts[1]] == 1
    ctl._start_sort(robots[1], second, induct)
    ends = [r.task.final_node for r in robots if r.task is not None]
    chute = ctl._chute_by_id[ctl.chute_plan.chute_for(*by_dest_key(ctl, first), induct) or ""]
    assert len(ends) == 2 and ends[0] != ends[1] and set(ends) <= set(chute.eject)


def by_dest_key(ctl: object, order_no: str) -> tuple[str, str]:
    p = ctl.parcels[order_no]  # type: ignore[attr-defined]
    return p.carrier, p.route


def test_parcels_coming_to_each_induct_are_counted_as_the_conveyor_jobs_come_and_go(tmp_path: Path) -> None:
    shift, _ = virtual_shift(CFG, CUSTOMS, ShiftOptions(db_url=f"sqlite:///{tmp_path / 'a.db'}", seed=3))
    ctl = shift.controller
    seen = 0
    for _ in range(60):
        shift.clock.run(until=shift.clock.now() + 20.0)
        recount = Counter(dest for _, kind, dest in ctl.conveyor_jobs.values() if kind == "move")
        assert +ctl._coming == recount and min(ctl._coming.values(), default=0) >= 0
        seen += sum(recount.values())
    assert seen > 0  # parcels were on their way to the inducts at some of those instants
