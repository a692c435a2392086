"""Waves batched in a worker process: the same carts as inline, collected on time, a dead worker survived."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from wms.config import CONFIG_DIR, WarehouseConfig, load_customs, load_warehouse
from wms.control.controller import Controller
from wms.control.planner import WavePlanner
from wms.domain import ParcelState
from wms.layout import Layout, bay_node
from wms.picking.batch import Cart, Timing, batch_pick_orders
from wms.picking.batching import PickOrder
from wms.shift import ShiftOptions, run_until_drained, virtual_shift

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def _in_worker(cfg: WarehouseConfig) -> WarehouseConfig:
    return cfg.model_copy(update={"waves": cfg.waves.model_copy(update={"planner_process": True})})


def test_the_worker_plans_the_same_carts_as_the_controller_inline() -> None:
    rng = random.Random(5)
    orders = [
        PickOrder(
            f"N{k}",
            rng.choice([5000.0, 9000.0]),
            float(k),
            tuple(bay_node(rng.randrange(12), rng.randrange(20)) for _ in range(rng.randint(1, 3))),
        )
        for k in range(40)
    ]
    timing = Timing(now=4000.0, speed_m_s=1.5, pick_s=2.0)
    cart = Cart(CFG.fleet.picking.cart_orders)
    args = (CFG.storage, CFG.pack.stations, CFG.fleet.picking.charging_spots)
    inline = batch_pick_orders(Layout(*args), orders, cart, timing, method="savings+ls")
    planner = WavePlanner(*args)
    try:
        got = planner.collect(planner.submit(orders, cart, timing, "savings+ls"))
    finally:
        planner.close()
    assert got == [[o.order_no for o in b] for b in inline]
    assert len(got) > 1 and planner.plans == 1


def _drained_shift(tmp_path: Path) -> Controller:
    """A quarter of an hour of orders with waves in the worker, run until every order is closed."""
    opts = ShiftOptions(duration_s=900.0, orders_per_hour=600.0, db_url=f"sqlite:///{tmp_path / 'w.db'}")
    shift, _ = virtual_shift(_in_worker(CFG), CUSTOMS, opts)
    try:
        assert run_until_drained(shift, 3 * 3600.0)
    finally:
        shift.controller.stop()
    return shift.controller


def test_a_shift_with_waves_in_the_worker_ships_every_order(tmp_path: Path) -> None:
    ctl = _drained_shift(tmp_path)
    assert ctl.planner is not None and ctl.planner.plans > 0 and ctl.planner.workers == 1
    assert not ctl.clock.errors and not ctl.alarm_counts.get("picking")
    states = ctl.repo.parcel_states()
    assert states.get("dispatched", 0) > 50
    assert set(states) <= {"dispatched", "rejected", "held"}


def test_a_dead_worker_is_an_alarm_the_wave_is_batched_inline_and_a_new_worker_starts(tmp_path: Path) -> None:
    opts = ShiftOptions(duration_s=1800.0, orders_per_hour=600.0, db_url=f"sqlite:///{tmp_path / 'd.db'}")
    shift, _ = virtual_shift(_in_worker(CFG), CUSTOMS, opts)
    ctl = shift.controller
    planner = ctl.planner
    assert planner is not None
    try:
        while ctl._plan is None:  # run until a wave is in the worker
            shift.clock.run(until=shift.clock.now() + 1.0)
        waiting = [p.order_no for p in ctl.parcels.values() if p.state == ParcelState.ALLOCATED]
        pool = planner._pool
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        shift.clock.run(until=shift.clock.now() + CFG.waves.plan_s + 1.0)
        assert ctl.counters.get("wave_planner_failed") == 1
        assert any("wave planner failed (BrokenProcessPool" in a.message for a in ctl.alarms)
        assert all(ctl.parcels[no].state != ParcelState.ALLOCATED for no in waiting if no in ctl.parcels)
        assert run_until_drained(shift, 3 * 3600.0)
    finally:
        ctl.stop()
    assert planner.workers == 2 and not ctl.clock.errors
    assert set(ctl.repo.parcel_states()) <= {"dispatched", "rejected", "held"}


_ORPHAN = """
import sys, time
from wms.config import CONFIG_DIR, load_warehouse
from wms.control.controller import Controller
from wms.control.planner import WavePlanner
from wms.picking.batch import Cart, Timing

cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
planner = WavePlanner(cfg.storage, cfg.pack.stations, cfg.fleet.picking.charging_spots)
planner.collect(planner.submit([], Cart(4), Timing(), "savings"))
print(next(iter(planner._pool._processes)), flush=True)
time.sleep(600)
"""


def test_the_worker_leaves_when_the_controller_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE, text=True)
    worker = 0
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # running
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.2)
        assert not _alive(worker), "the planner's worker outlived its controller"
    finally:
        parent.kill()
        if worker and _alive(worker):
            os.kill(worker, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_worker_that_cannot_start_is_an_alarm_and_the_wave_is_batched_inline(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def no_process(*_: object, **__: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("wms.control.planner.ProcessPoolExecutor", no_process)
    ctl = _drained_shift(tmp_path)
    assert ctl.planner is not None and ctl.planner.plans == 0
    assert ctl.counters.get("wave_planner_failed", 0) > 0 and not ctl.clock.errors
    assert any("Resource temporarily unavailable" in a.message for a in ctl.alarms)
    assert ctl.repo.parcel_states().get("dispatched", 0) > 50
