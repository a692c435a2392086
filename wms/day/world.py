"""The simulated world of a virtual day in a process of its own, in lockstep with the controller's.

In one process, a day's controller and the world it drives (robots, conveyor, X-ray lanes, hold lane,
order feed) take turns on one core, and a 2-core machine leaves the other core to the wave planner. Here
the world runs in a second process, as it is elsewhere in production, and the two exchange their bus
messages over a `wms.bus.lockstep` link: every message between controller and world takes the link's
latency (virtual seconds, like a network's), and both processes run each window of that length at once.

The bench still reads the world between steps: the feed's counters and the orders it generated, and each
simulated robot's charging state and orders done, as views the world process refreshes on request.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from wms.bus.inproc import InProcBroker
from wms.bus.lockstep import DEFAULT_LATENCY_S, Leader, Side, follow
from wms.clock import VirtualClock, quiet_gc_while
from wms.config import CustomsConfig, WarehouseConfig
from wms.day.split import LoopSplit
from wms.lifeline import exit_with_parent
from wms.loadtest import rss_mb
from wms.shift import Shift, ShiftOptions, seed_and_catalog, start_controller, start_simulators, start_time

FEED_COUNTERS = ("sent", "holding", "held_back", "unacked", "resent")


@dataclass
class FeedView:
    """The world's order feed as the bench reads it: its counters, and its hook for generated orders."""

    sent: int = 0
    holding: int = 0
    held_back: int = 0
    unacked: int = 0
    resent: int = 0
    on_generated: Any = None  # called (order_no, placed at, held back) for each order the feed generated


@dataclass
class RobotView:
    """A simulated robot as the bench reads it."""

    kind: str
    serial: str
    charging: bool = False
    orders_done: int = 0


@dataclass
class World:
    """The leader's handle on the world process: the link, the process, and views of what it holds."""

    link: Leader
    process: Any
    feed: FeedView = field(default_factory=FeedView)
    robots: list[RobotView] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)  # its CPU, peak memory and loop split so far
    _generated: list[tuple[str, float, bool]] = field(default_factory=list)  # not yet told to the feed's hook

    def advance(self, until: float) -> None:
        """Run controller and world to ``until``, then refresh the views."""
        self.link.run_before(until)
        self.update(self.link.ask("snapshot"))

    def update(self, snap: dict[str, Any]) -> None:
        """Take in a snapshot of the world (`snapshot`)."""
        for name in FEED_COUNTERS:
            setattr(self.feed, name, snap["feed"][name])
        self._generated += snap["generated"]
        if self.feed.on_generated is not None:  # else kept until someone listens
            for order_no, ts, held in self._generated:
                self.feed.on_generated(order_no, ts, held)
            self._generated.clear()
        if len(self.robots) != len(snap["robots"]):
            self.robots[:] = [RobotView(kind, serial) for kind, serial, _, _ in snap["robots"]]
        for view, (_, _, charging, done) in zip(self.robots, snap["robots"], strict=True):
            view.charging, view.orders_done = charging, done
        self.usage = snap["usage"] | {
            "windows": self.link.windows,
            "exchanges": self.link.exchanges,
            "messages_to_world": self.link.side.sent,
            "messages_from_world": self.link.side.received,
            "controller_waited_s": round(self.link.waited_s, 2),
        }

    def close(self) -> None:
        """Stop the world process (its last snapshot taken in) and wait for it to end."""
        try:
            self.update(self.link.close("snapshot"))
        finally:
            self.process.join(10.0)
            self.kill()

    def kill(self) -> None:
        """End the world process now, whatever it was doing (after a failure on either side)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10.0)
        self.link.conn.close()


def linked_shift(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: ShiftOptions, latency: float = DEFAULT_LATENCY_S
) -> tuple[Shift, InProcBroker, World]:
    """A virtual shift with the controller here and the simulated world in a process of its own (started;
    not yet run). Close the world when done."""
    clock = VirtualClock(start_time(cfg, opts.start_local))
    broker = InProcBroker(clock)
    side = Side(clock, broker, latency)  # before the controller starts: what it publishes goes across
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    process = ctx.Process(
        target=world_main,
        args=(there, cfg, customs, opts, clock.now(), latency),
        name="day-world",
        daemon=True,
    )
    process.start()  # the world builds itself while the controller does
    there.close()
    try:
        seed, catalog = seed_and_catalog(cfg, customs, opts)
        ctl = start_controller(cfg, customs, opts, clock, broker.client("controller"), catalog, seed)
        world = World(Leader(side, here), process)
        world.update(world.link.ask("snapshot"))
    except BaseException:
        process.terminate()
        raise
    now = clock.now()
    shift = Shift(
        ctl, world.robots, world.feed, None, None, clock, now, now + opts.duration_s, advance=world.advance
    )
    return shift, broker, world


def world_main(
    conn: Connection,
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    opts: ShiftOptions,
    start: float,
    latency: float,
) -> None:
    """Entry point of the world process: every simulator of the shift, run as the controller's side says."""
    exit_with_parent()
    logging.basicConfig(level=logging.ERROR)
    clock = VirtualClock(start)
    broker = InProcBroker(clock)
    side = Side(clock, broker, latency)
    seed, catalog = seed_and_catalog(cfg, customs, opts)
    robots, _, _, _, feed = start_simulators(
        cfg, customs, opts, clock, lambda name, will=None: broker.client(name, will=will), catalog, seed
    )
    generated: list[tuple[str, float, bool]] = []
    feed.on_generated = lambda order_no, ts, held: generated.append((order_no, ts, held))
    split = LoopSplit()
    clock.meter = split
    wall0 = time.perf_counter()

    def answer(question: str) -> dict[str, Any]:
        if question != "snapshot":
            raise ValueError(f"the world process has no answer to {question!r}")
        news = generated[:]
        generated.clear()
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "feed": {name: getattr(feed, name) for name in FEED_COUNTERS},
            "generated": news,
            "robots": [(r.kind, r.serial, r.charging, r.orders_done) for r in robots],
            "usage": {
                "cpu_s": round(own.ru_utime + own.ru_stime, 1),
                "peak_rss_mb": round(own.ru_maxrss / 1024.0, 1),
                "rss_mb": round(rss_mb(), 1),
                "wall_s": round(time.perf_counter() - wall0, 2),
                "callbacks_s": {owner: round(s, 2) for owner, s in split.seconds.items()},
                "callbacks": dict(split.events),
            },
        }

    with quiet_gc_while():
        follow(side, conn, answer)
