"""Two clocks in lockstep over a link: a message crosses in exactly the link's latency, idle time is
skipped, and the other side's failure or silence is an error that says so, not a hang."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from wms.bus.inproc import InProcBroker
from wms.bus.lockstep import Leader, LinkError, Side, follow
from wms.clock import VirtualClock

LATENCY = 0.1


def side(start: float = 0.0) -> Side:
    clock = VirtualClock(start)
    return Side(clock, InProcBroker(clock), LATENCY)


@contextmanager
def linked(
    follower: Side, answer: Callable[[str], Any] = lambda q: q.upper()
) -> Iterator[tuple[Side, Leader]]:
    """A leader here and ``follower`` served on a thread, over a pipe."""
    here, there = mp.Pipe()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            follow(follower, there, answer)
        except BaseException as exc:  # the leader hears of it; the test looks at it too
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    leader = side()
    yield leader, Leader(leader, here)
    thread.join(5.0)


def test_a_message_crosses_in_the_latency_each_way_and_local_ones_stay_local() -> None:
    world = side()
    got: list[tuple[str, str, float]] = []
    robot = world.broker.client("robot")
    robot.subscribe(
        "order", lambda t, d: (got.append(("robot", t, world.clock.now())), robot.publish("state", d))
    )
    with linked(world) as (ctl, link):
        controller = ctl.broker.client("controller")
        controller.subscribe("state", lambda t, d: got.append(("controller", t, ctl.clock.now())))
        controller.subscribe("local", lambda t, d: got.append(("controller", t, ctl.clock.now())))
        ctl.clock.call_at(10.0, lambda: controller.publish("order", b"go"))
        ctl.clock.call_at(11.0, lambda: controller.publish("local", b"me"))
        link.run_before(20.0)
        assert link.ask("snapshot") == "SNAPSHOT"
        link.close()
    assert got == [
        ("robot", "order", pytest.approx(10.1)),
        ("controller", "state", pytest.approx(10.2)),
        ("controller", "local", 11.0),
    ]
    assert ctl.clock.now() == 20.0 and (ctl.sent, ctl.received) == (2, 1)  # "local" crossed too, unheard
    assert world.sent == 1 and world.received == 2


def test_a_retained_message_crosses_and_is_kept_for_a_later_subscriber_there() -> None:
    world = side()
    got: list[bytes] = []

    def join(topic: str, data: bytes) -> None:
        world.broker.client("late").subscribe("config", lambda t, d: got.append(d))

    world.broker.client("robot").subscribe("hello", join)
    with linked(world) as (ctl, link):
        controller = ctl.broker.client("controller")
        controller.publish("config", b"v1", retain=True)
        ctl.clock.call_at(2.0, lambda: controller.publish("hello", b""))
        link.run_before(3.0)
        link.close()
    assert got == [b"v1"]  # kept by the world's broker for a subscriber that came two seconds later


def test_idle_time_is_skipped_and_a_side_with_nothing_to_do_is_left_alone() -> None:
    world = side()
    ticks: list[float] = []
    with linked(world) as (ctl, link):
        for t in (0.0, 0.05, 5.0, 1000.0):
            ctl.clock.call_at(t, lambda: ticks.append(ctl.clock.now()))
        link.run_before(2000.0)
        link.close()
    assert ticks == [0.0, 0.05, 5.0, 1000.0]
    assert link.windows == 3 and link.exchanges == 0  # one window for the first two; the world idle


def test_a_failure_on_the_other_side_is_raised_here_with_its_traceback() -> None:
    world = side()

    def broken(topic: str, data: bytes) -> None:
        raise RuntimeError("robot exploded")

    world.broker.client("robot").subscribe("order", broken)
    with linked(world) as (ctl, link):
        ctl.clock.call_at(1.0, lambda: ctl.broker.client("controller").publish("order", b"go"))
        with pytest.raises(LinkError, match="robot exploded"):
            link.run_before(5.0)


def test_the_other_side_vanishing_is_an_error_not_a_hang() -> None:
    here, there = mp.Pipe()
    there.send(("ok", ([], float("inf"))))
    there.close()
    link = Leader(side(), here)
    with pytest.raises(LinkError, match="ended without a word"):
        link.ask("snapshot")


def test_a_link_needs_a_latency() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="latency > 0"):
        Side(clock, InProcBroker(clock), 0.0)
