"""`wms.day.split`: the event loop's time split by whose callback it ran."""

from __future__ import annotations

import contextlib
import functools
import time

import pytest

from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock
from wms.control.outbox import Outbox
from wms.day.split import HandlerTimes, LoopSplit, handler_name, owner_of


def test_owners_by_module() -> None:
    assert owner_of("simulators.robot") == "simulators"
    assert owner_of("wms.control.fleet") == "controller"
    assert owner_of("wms.control.outbox") == "controller"
    assert owner_of("wms.day.bench") == "bench"
    assert owner_of("tools.day_window") == "bench"
    assert owner_of("sqlalchemy.engine") == "other"


def _sleeper(seconds: float) -> None:
    time.sleep(seconds)


_sleeper.__module__ = "simulators.conveyor"


def test_the_meter_books_each_callback_run_and_no_cancelled_one() -> None:
    clock = VirtualClock(start=0.0)
    split = LoopSplit()
    clock.meter = split
    clock.call_later(1, functools.partial(_sleeper, 0.02))  # a partial: its function's module
    clock.call_later(2, functools.partial(_sleeper, 0.01)).cancel()
    clock.call_later(3, lambda: None)  # this test module: no owner of ours
    clock.run()
    assert split.events == {"controller": 0, "simulators": 1, "bench": 0, "other": 1}
    assert split.seconds["simulators"] >= 0.02
    report = split.report(loop_s=1.0, orders=4)
    assert report["events"] == {"controller": 0, "simulators": 1, "bench": 0, "other": 1}
    assert report["seconds"]["loop"] == pytest.approx(1.0 - sum(split.seconds.values()), abs=0.01)
    per_order = 1000 * split.seconds["simulators"] / 4
    assert report["simulators_ms_per_order"] == pytest.approx(per_order, abs=1e-3)
    assert report["controller_ms_per_order"] == 0.0
    assert LoopSplit().report(loop_s=1.0, orders=0)["controller_ms_per_order"] is None


def test_a_bus_delivery_is_booked_to_its_handler() -> None:
    clock = VirtualClock(start=0.0)
    broker = InProcBroker(clock)
    split = LoopSplit()
    clock.meter = split
    got: list[bytes] = []

    def robot_handler(topic: str, data: bytes) -> None:
        got.append(data)

    def controller_handler(topic: str, data: bytes) -> None:
        got.append(data)

    robot_handler.__module__ = "simulators.robot"
    controller_handler.__module__ = "wms.control.fleet"
    broker.client("robot").subscribe("a/order", robot_handler)
    broker.client("master").subscribe("a/state", controller_handler)
    broker.client("x").publish("a/order", b"1")
    broker.client("y").publish("a/state", b"2")
    broker.client("z").publish("a/state", b"3")
    clock.run()
    assert got == [b"1", b"2", b"3"]
    assert split.events == {"controller": 2, "simulators": 1, "bench": 0, "other": 0}


class _Fleet:
    def on_state(self, topic: str, data: bytes) -> None:
        time.sleep(0.002)


_Fleet.on_state.__module__ = "wms.control.fleet"


def test_handler_times_name_the_code_under_the_controllers_wrappers() -> None:
    """A delivery is named by its subscriber's handler, through partials and the unit-of-work wrapper."""
    clock = VirtualClock(start=0.0)
    broker = InProcBroker(clock)
    split = LoopSplit()
    times = HandlerTimes(then=split)
    clock.meter = times
    outbox = Outbox(broker.client("controller"), unit=contextlib.nullcontext)
    outbox.subscribe("a/state", _Fleet().on_state)
    clock.call_later(1, functools.partial(_sleeper, 0.001))
    for _ in range(3):
        broker.client("robot").publish("a/state", b"{}")
    clock.run()
    assert times.calls == {"_Fleet.on_state": 3, "_sleeper": 1}
    assert times.seconds["_Fleet.on_state"] >= 0.006 and times.seconds["_sleeper"] >= 0.001
    assert split.events["controller"] == 3 and split.events["simulators"] == 1  # passed on; owned by the code
    assert handler_name(lambda: None).endswith("_wrappers.<locals>.<lambda>")  # a closure by where it is
