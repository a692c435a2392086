"""A shift of the warehouse: the controller with its simulators, in virtual time or over MQTT.

This is the site assembly used by ``wms demo`` and the end-to-end tests; the controller
itself knows nothing of simulators.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from simulators.conveyor import ConveyorSim
from simulators.hold_lane import HoldLaneSim
from simulators.order_feed import OrderFeed, OrderFeedModel
from simulators.robot import RobotSim
from simulators.xray import XrayGateSim
from wms.bus.base import Bus, Will
from wms.bus.broker import EmbeddedBroker
from wms.bus.inproc import InProcBroker
from wms.bus.mqtt import MqttBus
from wms.catalog import generate_catalog, generate_lots
from wms.clock import VirtualClock, WallClock, quiet_gc_while
from wms.config import CustomsConfig, WarehouseConfig
from wms.control.controller import Controller
from wms.control.status import sla_met_pct
from wms.domain import TERMINAL_STATES, ParcelState
from wms.layout import Layout
from wms.o2o.assortment import assortment
from wms.sorting.grid import build_grid
from wms.store.db import connect
from wms.store.models import ParcelRow

log = logging.getLogger(__name__)

# Consumers of QoS 1 commands and events keep their broker session, so nothing sent to them while they
# reconnect is lost; robots take their orders at QoS 0 (VDA 5050) and the master re-sends those.
PERSISTENT_CLIENTS = frozenset({"controller", "conveyor", "xray", "hold-lane"})
TERMINAL_VALUES = {s.value for s in TERMINAL_STATES}
BusFactory = Callable[[str, Will | None, Any], Bus]  # (client name, last will, clock) -> connected bus


@dataclass
class ShiftOptions:
    """What to run: how long orders arrive, how fast, where to store, which broker."""

    duration_s: float = 600.0
    orders_per_hour: float | None = None
    drain_limit_s: float = 4 * 3600.0
    speed: float = 30.0
    db_url: str | None = None
    fresh_db: bool = True
    mqtt_url: str | None = None
    start_local: str = "2026-11-11T09:00:00"
    seed: int | None = None
    status_interval_s: float = 10.0
    o2o_per_hour: float = 0.0  # O2O orders at the store's counters on top of the regular flow
    creds: Any = None  # a wms.security.Credentials: every client logs in with its own account
    secure: bool = False  # without ``creds``: generate fresh ones (the embedded broker enforces them)


@dataclass
class Shift:
    """Everything of one running shift, for tests and the console."""

    controller: Controller
    robots: list[Any]  # RobotSims, or views of those in another process (`wms.day.world`)
    feed: Any  # the OrderFeed, or a view of it
    conveyor: ConveyorSim | None
    xray: XrayGateSim | None
    clock: Any
    start: float
    feed_until: float
    buses: list[Bus] = field(default_factory=list)
    url_for: Callable[[str], str] | None = None  # MQTT URL (with credentials) of a client by name
    hold_lane: HoldLaneSim | None = None
    advance: Callable[[float], None] | None = None  # runs a virtual shift to a time (default: its clock)

    def run_to(self, until: float) -> None:
        """Run a virtual shift to ``until``: its ``advance`` if it has one (a world in another process),
        else its clock."""
        if self.advance is not None:
            self.advance(until)
        else:
            self.clock.run(until=until)


def start_time(cfg: WarehouseConfig, local: str) -> float:
    """Epoch seconds of a local wall time at the site."""
    tz = timezone(timedelta(hours=cfg.site.utc_offset_h))
    return datetime.fromisoformat(local).replace(tzinfo=tz).timestamp()


def build_shift(
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    opts: ShiftOptions,
    clock: Any,
    make_bus: BusFactory,
    ctl_clock: Any = None,
) -> Shift:
    """Create the controller and every simulator and start them.

    Simulators run on ``clock``; the controller on ``ctl_clock`` if given (its own loop, as in a real
    deployment where it is another process), else on ``clock`` too.
    """
    ctl_clock = ctl_clock or clock
    seed, catalog = seed_and_catalog(cfg, customs, opts)
    buses: list[Bus] = []

    def bus(name: str, will: Will | None = None, on: Any = clock) -> Bus:
        b = make_bus(name, will, on)
        buses.append(b)
        return b

    ctl = start_controller(cfg, customs, opts, ctl_clock, bus("controller", None, ctl_clock), catalog, seed)
    robots, conveyor, xray, hold, feed = start_simulators(cfg, customs, opts, clock, bus, catalog, seed)
    now = clock.now()
    return Shift(ctl, robots, feed, conveyor, xray, clock, now, now + opts.duration_s, buses, hold_lane=hold)


def seed_and_catalog(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: ShiftOptions
) -> tuple[int, list[Any]]:
    """The shift's seed and its catalogue (the same for the controller and the simulators)."""
    seed = cfg.feed.seed if opts.seed is None else opts.seed
    return seed, generate_catalog(cfg.feed.model_copy(update={"seed": seed}), customs)


def start_controller(
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    opts: ShiftOptions,
    clock: Any,
    bus: Bus,
    catalog: list[Any],
    seed: int,
) -> Controller:
    """The controller of a shift on its database, started on ``clock``."""
    ctl = Controller(
        bus,
        clock,
        connect(opts.db_url, fresh=opts.fresh_db),
        cfg,
        customs,
        catalog,
        status_interval_s=opts.status_interval_s,
        seed=seed,
    )
    ctl.start()
    return ctl


def start_simulators(
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    opts: ShiftOptions,
    clock: Any,
    bus: Callable[..., Bus],
    catalog: list[Any],
    seed: int,
) -> tuple[list[RobotSim], ConveyorSim, XrayGateSim, HoldLaneSim, OrderFeed]:
    """Start every simulator on ``clock``; ``bus(name, will=None)`` connects one client each."""
    layout = Layout(cfg.storage, cfg.pack.stations, cfg.fleet.picking.charging_spots)
    grid = build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots)
    feed_cfg = cfg.feed.model_copy(update={"seed": seed})
    robots: list[RobotSim] = []
    starts = {
        "picking": [(n, layout.pos[n].x, layout.pos[n].y) for n in layout.pack_nodes],
        "sorting": [(n, *grid.pos[n]) for n in grid.homes()],
    }
    for kind, prefix, rc in (("picking", "pick", cfg.fleet.picking), ("sorting", "sort", cfg.fleet.sorting)):
        for k in range(rc.count):
            serial = f"{prefix}-{k + 1:02d}"
            sim = RobotSim(
                lambda will, s=serial: bus(s, will),
                clock,
                cfg.site.manufacturer,
                serial,
                speed_mps=rc.speed_mps,
                start=starts[kind][k % len(starts[kind])],
                battery_pct=100.0 - 3.0 * (k % 5),
                drain_pct_per_h=rc.battery_drain_pct_per_h,
                charge_pct_per_min=rc.charge_pct_per_min,
                action_s=rc.action_s,
                kind=kind,
            )
            sim.start()
            robots.append(sim)
    part = cfg.site.partition
    conveyor = ConveyorSim(bus("conveyor"), clock, part, seed=seed)
    conveyor.start()
    xray = XrayGateSim(
        bus("xray"),
        clock,
        part,
        lanes=cfg.gate.xray_lanes,
        scan_s=cfg.gate.xray_s,
        suspect_rate=customs.xray_suspect_rate,
        seed=seed,
        mispack_rate=customs.mispack_rate,
    )
    xray.start()
    hold = HoldLaneSim(
        bus("hold-lane"),
        clock,
        part,
        officers=cfg.gate.manual_officers,
        check_s=cfg.gate.manual_check_s,
        reject_rate=customs.manual_reject_rate,
        seed=seed,
    )
    hold.start()
    now = clock.now()
    model = OrderFeedModel(catalog, cfg.carriers, feed_cfg, customs, seed)
    feed = OrderFeed(
        bus("order-feed"),
        clock,
        part,
        model,
        opts.orders_per_hour or cfg.feed.orders_per_hour,
        until=now + opts.duration_s,
        utc_offset_h=cfg.site.utc_offset_h,
        o2o_per_hour=opts.o2o_per_hour,
        o2o_counters=cfg.o2o.counters,
        o2o_skus=assortment(catalog, cfg.o2o.assortment_skus),
        o2o_hours=(cfg.o2o.opens, cfg.o2o.closes),
    )
    feed.publish_lots(generate_lots(catalog, feed_cfg, now))
    clock.call_later(1.0, feed.start)  # stock first, then orders
    return robots, conveyor, xray, hold, feed


def summary(shift: Shift, wall_s: float, mode: str, broker: str) -> dict[str, Any]:
    """The end-of-shift report: counts, SLA, throughput, lost parcels, ledger."""
    ctl = shift.controller
    with ctl.repo.session() as s:
        in_db = s.exec(select(func.count()).select_from(ParcelRow)).one()
    states = ctl.repo.parcel_states()
    ledger = ctl.repo.ledger_check(whole=True)  # the day's verdict: every entry, not the running sums
    sim_s = ctl.clock.now() - shift.start
    dispatched = states.get(ParcelState.DISPATCHED.value, 0)
    terminal = sum(
        states.get(s.value, 0) for s in (ParcelState.DISPATCHED, ParcelState.HELD, ParcelState.REJECTED)
    )
    return {
        "mode": mode,
        "broker": broker,
        "database": ctl.repo.engine.url.render_as_string(hide_password=True),
        "orders_sent": shift.feed.sent,
        "orders_in": int(in_db),
        "dispatched": dispatched,
        "held": states.get(ParcelState.HELD.value, 0),
        "rejected": states.get(ParcelState.REJECTED.value, 0),
        "in_progress": int(in_db) - terminal,
        "open_by_state": {k: v for k, v in states.items() if k not in TERMINAL_VALUES},
        "lost": shift.feed.sent - int(in_db),
        "held_back_by_intake": shift.feed.held_back,
        "still_held_back": shift.feed.holding,
        "resent": {
            "orders_unconfirmed": shift.feed.resent,
            "robot_orders": ctl.fleet.resent,
            "device_commands": ctl.pending.resent,
        },
        "sla_met_pct": sla_met_pct(ctl),
        "throughput_per_h": round(dispatched / (sim_s / 3600.0), 1) if sim_s > 0 else 0.0,
        "ledger_balanced": bool(ledger["balanced"]),
        "ledger": ledger,
        "robots": len(shift.robots),
        "alarms": sum(ctl.alarm_counts.values()),
        "alarms_by_source": dict(ctl.alarm_counts),
        "open_tasks": ctl.fleet.open_tasks(),
        "internal_errors": len(ctl.clock.errors)
        + (len(shift.clock.errors) if shift.clock is not ctl.clock else 0),
        "sim_s": round(sim_s, 1),
        "wall_s": round(wall_s, 2),
    }


def _drained(shift: Shift) -> bool:
    feed = shift.feed
    return (
        shift.clock.now() >= shift.feed_until
        and feed.unacked == 0
        and feed.holding == 0
        and shift.controller.all_done()
    )


def virtual_shift(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: ShiftOptions
) -> tuple[Shift, InProcBroker]:
    """A shift on a discrete-event clock and the in-process broker (not yet run)."""
    clock = VirtualClock(start_time(cfg, opts.start_local))
    broker = InProcBroker(clock)
    return build_shift(
        cfg, customs, opts, clock, lambda name, will, _clock: broker.client(name, will=will)
    ), broker


def run_until_drained(
    shift: Shift,
    drain_limit_s: float,
    step_s: float = 60.0,
    on_step: Callable[[Shift], bool | None] | None = None,
) -> bool:
    """Advance a virtual shift until the feed stopped and every order is closed, or the limit passes.

    ``on_step`` is called after every step (benches sample the shift there); returning True stops the run.
    Returns whether the shift drained.
    """
    limit = shift.feed_until + drain_limit_s
    while shift.clock.now() < limit and not _drained(shift):
        shift.run_to(shift.clock.now() + step_s)
        if on_step is not None and on_step(shift):
            break
    return _drained(shift)


def run_virtual(cfg: WarehouseConfig, customs: CustomsConfig, opts: ShiftOptions) -> dict[str, Any]:
    """A whole shift in virtual time on the in-process bus: as fast as the CPU allows."""
    t0 = time.perf_counter()
    shift, _ = virtual_shift(cfg, customs, opts)
    try:
        with quiet_gc_while():
            run_until_drained(shift, opts.drain_limit_s)
        shift.controller.publish_status()
        return summary(shift, time.perf_counter() - t0, "virtual", "in-process")
    finally:
        shift.controller.stop()


def run_mqtt(
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    opts: ShiftOptions,
    on_tick: Callable[[Shift], None] | None = None,
    tick_s: float = 0.25,
) -> dict[str, Any]:
    """A shift over a real MQTT broker on a sped-up wall clock; every robot is its own MQTT client.

    Without ``opts.mqtt_url`` an embedded broker is started and stopped here.
    """
    t0 = time.perf_counter()
    creds = opts.creds
    if creds is None and opts.secure:
        from wms.security import Credentials

        creds = Credentials.for_config(cfg)
    broker = None if opts.mqtt_url else EmbeddedBroker(auth=creds).start()
    url = opts.mqtt_url or broker.url  # type: ignore[union-attr]
    kind = (broker.kind if broker else "external") + (" with authentication" if creds else "")

    def url_for(name: str) -> str:
        return creds.url(url, name) if creds is not None else url

    clock = WallClock(opts.speed, start_time(cfg, opts.start_local))
    ctl_clock = clock.twin()
    for c in (clock, ctl_clock):
        c.on_error = lambda exc: log.error("handler failed", exc_info=exc)  # counted in the summary
    part = cfg.site.partition
    shift: Shift | None = None
    controller_thread: threading.Thread | None = None
    try:
        shift = build_shift(
            cfg,
            customs,
            opts,
            clock,
            lambda name, will, on: MqttBus(
                url_for(name), f"{part}-{name}", on, will=will, persistent=name in PERSISTENT_CLIENTS
            ),
            ctl_clock=ctl_clock,
        )
        shift.url_for = url_for
        limit = shift.feed_until + opts.drain_limit_s
        done = shift  # bound for the closure below

        def check_drained() -> None:
            if _drained(done):
                done.controller.publish_status()
                ctl_clock.stop()
            else:
                ctl_clock.call_later(10.0, check_drained)

        ctl_clock.call_later(10.0, check_drained)
        controller_thread = threading.Thread(
            target=ctl_clock.run, kwargs={"until": limit}, name="controller", daemon=True
        )
        controller_thread.start()
        while controller_thread.is_alive():
            clock.run(until=clock.now() + tick_s * opts.speed)
            if on_tick is not None:
                on_tick(shift)
        clock.run(until=clock.now() + 0.2 * opts.speed)  # let the last status reach the consoles
        return summary(shift, time.perf_counter() - t0, "mqtt", f"{kind} {url}")
    finally:
        ctl_clock.stop()
        if controller_thread is not None:
            controller_thread.join(10.0)
        if shift is not None:
            shift.controller.stop()
            for robot in shift.robots:
                robot.stop()
            for b in shift.buses:
                b.close()
        if broker is not None:
            broker.close()
