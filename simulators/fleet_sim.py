"""Run a fleet of simulated robots: a helper for tests and a command line against a real MQTT broker.

python -m simulators.fleet_sim --mqtt mqtt://127.0.0.1:1883 --robots 5 --fault crash:picking-002@60
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulators.robot import RobotSim
from wms.bus.base import Bus, Will
from wms.clock import Clock, WallClock
from wms.config import ConfigError, RobotClass, load_warehouse

log = logging.getLogger(__name__)

FAULT_KINDS = ("crash", "stall", "error")


def start_fleet(
    bus_factory_for_serial: Callable[[str, Will], Bus],
    clock: Clock,
    manufacturer: str,
    robots: list[tuple[str, str, tuple[str, float, float]]],
    robot_class: RobotClass,
) -> list[RobotSim]:
    """Create and start one `RobotSim` per ``(serial, kind, start node)`` with the class's rates."""
    sims = []
    for serial, kind, start in robots:
        sim = RobotSim(
            _factory_for(bus_factory_for_serial, serial),
            clock,
            manufacturer,
            serial,
            speed_mps=robot_class.speed_mps,
            start=start,
            drain_pct_per_h=robot_class.battery_drain_pct_per_h,
            charge_pct_per_min=robot_class.charge_pct_per_min,
            action_s=robot_class.action_s,
            kind=kind,
        )
        sim.start()
        sims.append(sim)
    return sims


def _factory_for(factory: Callable[[str, Will], Bus], serial: str) -> Callable[[Will], Bus]:
    return lambda will: factory(serial, will)


@dataclass(frozen=True)
class Fault:
    """A fault to inject: ``kind`` on robot ``serial`` at ``at`` seconds after the start."""

    kind: str
    serial: str
    at: float


def parse_fault(text: str) -> Fault:
    """``crash:SERIAL@T``, ``stall:SERIAL@T`` or ``error:SERIAL@T`` (T in seconds of clock time)."""
    kind, sep, rest = text.partition(":")
    serial, at_sep, at = rest.rpartition("@")
    if not sep or not at_sep or kind not in FAULT_KINDS or not serial:
        raise ValueError(f"fault {text!r}: expected KIND:SERIAL@T with KIND one of {', '.join(FAULT_KINDS)}")
    try:
        seconds = float(at)
    except ValueError:
        raise ValueError(f"fault {text!r}: T must be a number of seconds, got {at!r}") from None
    if seconds < 0:
        raise ValueError(f"fault {text!r}: T must be >= 0")
    return Fault(kind, serial, seconds)


def inject(sim: RobotSim, fault: Fault, stall_s: float) -> None:
    """Apply one fault to a running robot."""
    log.warning("fault %s on %s", fault.kind, sim.serial)
    if fault.kind == "crash":
        sim.crash()
    elif fault.kind == "stall":
        sim.stall(stall_s)
    else:
        sim.raise_error("FATAL", description=f"injected fault at t+{fault.at:g}s")


def _fault_arg(text: str) -> Fault:
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.fleet_sim", description="Simulated VDA 5050 robots against an MQTT broker."
    )
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker URL (default %(default)s)")
    p.add_argument("--robots", type=int, default=5, help="number of robots (default %(default)s)")
    p.add_argument("--kind", choices=("picking", "sorting"), default="picking", help="fleet robot class")
    p.add_argument("--config", default=None, help="warehouse.toml (default: config/warehouse.toml)")
    p.add_argument("--manufacturer", default=None, help="VDA 5050 manufacturer (default: site.manufacturer)")
    p.add_argument("--prefix", default=None, help="serial number prefix (default: the kind)")
    p.add_argument("--spacing", type=float, default=2.0, help="metres between start nodes on the x axis")
    p.add_argument("--speed", type=float, default=1.0, help="clock speed: simulated seconds per real second")
    p.add_argument("--duration", type=float, default=None, help="stop after this many clock seconds")
    p.add_argument("--stall-s", type=float, default=60.0, help="length of a stall fault in seconds")
    p.add_argument(
        "--fault", type=_fault_arg, action="append", default=[], help="KIND:SERIAL@T, KIND crash|stall|error"
    )
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run N robots against an MQTT broker until Ctrl-C or ``--duration``; returns the exit code."""
    from wms.bus.mqtt import MqttBus  # paho is only needed for the command line

    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.robots < 1:
        print("--robots must be >= 1", file=sys.stderr)
        return 2
    try:
        cfg = load_warehouse(args.config)
        clock = WallClock(speed=args.speed)
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    manufacturer = args.manufacturer or cfg.site.manufacturer
    prefix = args.prefix or args.kind
    robots = [
        (f"{prefix}-{i:03d}", args.kind, (f"S{i}", i * args.spacing, 0.0)) for i in range(1, args.robots + 1)
    ]
    serials = {serial for serial, _, _ in robots}
    for fault in args.fault:
        if fault.serial not in serials:
            print(f"fault {fault}: no robot {fault.serial} (robots are {prefix}-001…)", file=sys.stderr)
            return 2
    robot_class = cfg.fleet.picking if args.kind == "picking" else cfg.fleet.sorting
    try:
        sims = start_fleet(
            lambda serial, will: MqttBus(args.mqtt, serial, clock, will=will),
            clock,
            manufacturer,
            robots,
            robot_class,
        )
    except (ConnectionError, ValueError) as exc:
        print(f"cannot connect to {args.mqtt}: {exc}", file=sys.stderr)
        return 1
    by_serial = {s.serial: s for s in sims}
    t0 = clock.now()
    for fault in args.fault:
        clock.call_at(t0 + fault.at, lambda f=fault: inject(by_serial[f.serial], f, args.stall_s))
    log.info("%d %s robots of %s online at %s", len(sims), args.kind, manufacturer, args.mqtt)
    try:
        clock.run(until=None if args.duration is None else t0 + args.duration)
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        for sim in sims:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
