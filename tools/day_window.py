"""A window of the city day: its bus messages per order by kind, and the CPU it cost.

Runs ``--hours`` of virtual time from ``--start`` (local) on a config sized as ``wms bench day --orders N``
sizes it (stock, buyers, the feed at ``N / 24`` orders an hour along the daily curve), from an empty
warehouse (on a temporary SQLite file, or on ``--db``), and prints every message kind the in-process
bus carried (per order placed in the window) and the CPU seconds of this process and of the wave
planner's worker. Two commits compare by running this in a checkout of each::

    python tools/day_window.py --config config/city.toml --hours 0.5 --start 10:00

``--split`` also times every callback the clock runs and says whose it was (`wms.day.split`): the
controller's (the product), the simulators' (robots, conveyors, X-ray lanes, the order feed: the
stand-in for the world), or the bench's; what is left of the loop's time is the loop itself.

``--handlers`` also times every callback by the function it runs (`wms.day.split.HandlerTimes`: a bus
message by its subscriber's handler, through the controller's unit of work) and prints the costliest:
seconds, calls and microseconds per call, e.g. a sorting robot's state in the fleet manager against an
order at the intake. Naming every callback costs a little, so compare wall times without it.

``--sizes`` also prints each kind's mean payload in bytes (encoding every payload once more, so leave it
out when timing).

``--gc`` also prints the garbage collector's passes in the window by generation and their seconds.

``--save-waves DIR`` also pickles every wave handed to the planner's worker (its orders, cart, timing and
method) into ``DIR``, numbered in order, for ``tools/wave_cost.py`` to batch again.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest.mock import patch

from wms.bus import inproc
from wms.bus.base import encode
from wms.bus.lockstep import DEFAULT_LATENCY_S
from wms.clock import quiet_gc_while
from wms.config import load_customs, load_warehouse
from wms.control.planner import WavePlanner
from wms.day.bench import DayOptions, day_config, quiet_logs
from wms.day.split import HandlerTimes, LoopSplit
from wms.day.world import linked_shift
from wms.shift import ShiftOptions, virtual_shift

HANDLER_ROWS = 25  # handlers printed by --handlers, costliest first


def _kind(topic: str) -> str:
    """``state (sort)`` for a VDA 5050 topic of robot sort-07, else the topic after ``wms/<partition>/``."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[0] == "uagv":
        return f"{parts[4]} ({parts[3].split('-')[0]})"
    return "/".join(parts[2:]) if parts[0] == "wms" else topic


class _CollectorTimes:
    """A `gc.callbacks` entry: the collector's passes and their seconds, by generation."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.passes[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started


def _wave_saver(folder: Path) -> Callable[..., Any]:
    """A `WavePlanner.submit` that first pickles its wave (orders, cart, timing, method) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    submit = WavePlanner.submit
    saved = 0

    def saving(self: WavePlanner, orders: Any, *rest: Any) -> Any:
        nonlocal saved
        saved += 1
        orders = list(orders)
        with (folder / f"wave{saved:04d}_{len(orders)}.pkl").open("wb") as f:
            pickle.dump((orders, *rest), f)
        return submit(self, orders, *rest)

    return saving


def main() -> None:
    """Run the window and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("config/city.toml"))
    ap.add_argument("--orders", type=int, default=250_000, help="orders of the whole day (sets the rate)")
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--start", default="10:00", help="local start, HH:MM")
    ap.add_argument("--db", help="database URL (tables dropped first); default: a temporary SQLite file")
    ap.add_argument("--split", action="store_true", help="time callbacks: controller, simulators, the loop")
    ap.add_argument("--sizes", action="store_true", help="also each message kind's mean payload in bytes")
    ap.add_argument("--gc", action="store_true", help="also the collector's passes and seconds by generation")
    ap.add_argument(
        "--handlers", action="store_true", help="also the costliest handlers: seconds, calls, µs per call"
    )
    ap.add_argument(
        "--world-process",
        action="store_true",
        help="the simulators in a process of their own, in lockstep (`wms.day.world`); messages, --split "
        "and --handlers then count this process only",
    )
    ap.add_argument(
        "--link-latency", type=float, default=DEFAULT_LATENCY_S, help="with --world-process: seconds"
    )
    ap.add_argument(
        "--save-waves", type=Path, metavar="DIR", help="pickle each wave the worker gets into DIR"
    )
    args = ap.parse_args()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()  # payload bytes by kind, with --sizes
    publish = inproc.InProcBus.publish

    def counted(self: inproc.InProcBus, topic: str, payload: Any, *a: Any, **kw: Any) -> None:
        kind = _kind(topic)
        counts[kind] += 1
        if args.sizes:
            sizes[kind] += len(encode(payload))
        publish(self, topic, payload, *a, **kw)

    saver = (
        nullcontext()
        if args.save_waves is None
        else patch.object(WavePlanner, "submit", _wave_saver(args.save_waves))
    )
    split = LoopSplit()
    handlers = HandlerTimes(then=split if args.split else None)
    quiet_logs()
    customs = load_customs(None)
    cfg, _ = day_config(load_warehouse(args.config), customs, DayOptions(orders=args.orders))
    with (
        patch.object(inproc.InProcBus, "publish", counted),
        saver,
        tempfile.TemporaryDirectory(prefix="wms-window-") as tmp,
    ):
        opts = ShiftOptions(
            duration_s=args.hours * 3600.0,
            orders_per_hour=args.orders / 24.0,
            db_url=args.db or f"sqlite:///{Path(tmp) / 'window.db'}",
            start_local=f"2026-11-11T{args.start}:00",
        )
        world = None
        if args.world_process:
            shift, _, world = linked_shift(cfg, customs, opts, args.link_latency)
        else:
            shift, _ = virtual_shift(cfg, customs, opts)
        counts.clear()  # the window's messages, not the set-up's (stock received, robots connecting)
        sizes.clear()
        if args.handlers:
            shift.clock.meter = handlers
        elif args.split:
            shift.clock.meter = split
        collector = _CollectorTimes()
        with quiet_gc_while():  # as `wms bench day` runs its day (its first full pass left out of the timing)
            if args.gc:
                gc.callbacks.append(collector)
            cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            shift.run_to(shift.clock.now() + args.hours * 3600.0)
            wall = time.perf_counter() - wall0
            if args.gc:
                gc.callbacks.remove(collector)
        shift.clock.meter = None
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        ctl = shift.controller
        worker_cpu, _ = ctl.planner.usage() if ctl.planner is not None else (0.0, 0.0)
        if world is not None:
            world.close()
        ctl.stop()
        placed, states = shift.feed.sent, ctl.repo.parcel_states()
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(f"{args.config}: {args.hours:g} h from {args.start}, {placed:,} orders placed")
    print(f"parcel states at the end: {dict(sorted(states.items()))}")
    print(f"wall {wall:.1f} s; CPU s: this process {cpu:.1f}, the planner worker {worker_cpu:.1f} (its life)")
    if world is not None:
        u = world.usage
        print(
            f"world process: CPU {u['cpu_s']} s (its life), {u['windows']:,} windows "
            f"({u['exchanges']:,} exchanges), this process waited {u['controller_waited_s']} s for it; "
            f"messages to it {u['messages_to_world']:,}, from it {u['messages_from_world']:,}"
        )
    print(f"{'messages':>10} {'per order':>10}{'  mean B' if args.sizes else ''}  kind")
    for kind, n in [*counts.most_common(), ("all", sum(counts.values()))]:
        size = sum(sizes.values()) if kind == "all" else sizes[kind]
        mean = f" {size / max(n, 1):>7,.0f}" if args.sizes else ""
        print(f"{n:>10,} {n / max(placed, 1):>10.2f}{mean}  {kind}")
    if args.gc:
        print(f"{'passes':>10} {'seconds':>10}  collector generation")
        for generation in range(3):
            print(f"{collector.passes[generation]:>10,} {collector.seconds[generation]:>10.2f}  {generation}")
    if args.split:
        seconds = split.report(wall, placed)["seconds"]
        print(f"{'wall s':>10} {'share':>10}  whose callbacks")
        for owner, t in sorted(seconds.items(), key=lambda kv: -kv[1]):
            print(f"{t:>10.1f} {100 * t / wall:>9.1f}%  {owner}")
    if args.handlers:
        print(f"{'wall s':>10} {'share':>10} {'calls':>10} {'µs/call':>10}  handler")
        for name, t in sorted(handlers.seconds.items(), key=lambda kv: -kv[1])[:HANDLER_ROWS]:
            n = handlers.calls[name]
            print(f"{t:>10.2f} {100 * t / wall:>9.1f}% {n:>10,} {1e6 * t / n:>10,.0f}  {name}")


if __name__ == "__main__":
    main()
