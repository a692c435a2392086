"""``wms bench day``: one simulated 24-hour day through the whole flow, in virtual time.

The day is a normal virtual shift (`wms.shift`): the production controller with its planners (putaway
slotting, FEFO allocation, waves and batching, exact pick routes, robot assignment, chutes and bags, the
customs gate, carrier cut-offs) driving simulated robots, conveyors and X-ray lanes over the in-process
bus. It starts at local midnight with the day's bonded stock received and slotted; orders arrive for 24
hours along the daily curve (evening peak, promotion windows) at a mean rate of ``orders / 24`` per hour;
then the warehouse drains until every order is dispatched, held or rejected.

While it runs, the harness samples, every simulated minute, what the controller keeps in memory and is
cheap to read: queues of carts, inducts and X-ray lanes, open chutes, the fleet's robot states. Everything
else is read back from the database at the end (`wms.day.report`). Each run can go in a process of its own
(`run_cases`), so that its peak memory is its own.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import queue
import re
import resource
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wms import topics
from wms.bus.lockstep import DEFAULT_LATENCY_S
from wms.catalog import generate_catalog
from wms.clock import quiet_gc_while
from wms.config import CustomsConfig, Promotion, WarehouseConfig
from wms.day import report
from wms.day.split import LoopSplit
from wms.day.world import linked_shift
from wms.domain import SLA_S
from wms.lifeline import exit_with_parent
from wms.loadtest import rss_mb
from wms.messages import Status
from wms.shift import Shift, ShiftOptions, run_until_drained, summary, virtual_shift

DAY_S = 24 * 3600.0
WALL_TARGET_S = 600.0  # the targets for a 250,000-order day
MEMORY_TARGET_MB = 4096.0
ROBOT_STATES = ("busy", "charging", "idle", "other")
Progress = Callable[[dict[str, Any]], None]


@dataclass
class DayOptions:
    """What to run: how many orders in the day, from when, on which database, with which fleet."""

    orders: int = 250_000
    start_local: str = "2026-11-11T00:00:00"  # local midnight: the day's curve from its start
    drain_limit_h: float = 24.0
    seed: int | None = None
    db_url: str | None = None  # None: a fresh SQLite file in a temporary directory, deleted afterwards
    db_dir: str | None = None
    sample_s: float = 60.0
    promotions: list[Promotion] | None = None  # None: the config's [feed] promotions
    size_feed: bool = True  # bonded stock and buyer pool large enough for ``orders``
    picking: int | None = None  # fleet sizes (None: the config's)
    sorting: int | None = None
    target_pct: float = 99.9
    stop_when_missed: bool = False  # sweeps: stop draining once the 24-hour target is certainly missed
    label: str = ""
    world_process: bool = False  # the simulated world in a process of its own, in lockstep (`wms.day.world`)
    link_latency_s: float = DEFAULT_LATENCY_S  # with it: seconds a message takes between controller and world


# ---------------------------------------------------------------------------------------------- config


def stock_for(
    cfg: WarehouseConfig, customs: CustomsConfig, orders: int, seed: int | None = None, sample: int = 2000
) -> int:
    """Units per lot so that the day's fastest mover does not run out: its demand over a sample of orders
    from the feed's own model (the run's catalogue), scaled to ``orders`` with half again as margin."""
    from simulators.order_feed import OrderFeedModel

    seed = cfg.feed.seed if seed is None else seed
    feed = cfg.feed.model_copy(update={"buyers": max(cfg.feed.buyers, sample), "seed": seed})
    model = OrderFeedModel(generate_catalog(feed, customs), cfg.carriers, feed, customs, seed=seed + 1)
    units: Counter[str] = Counter()
    t = 0.0
    for _ in range(sample):
        t += 30.0
        for line in model.next_bundle(1.7e9 + t).order.lines:
            units[line.sku] += line.qty
    top = max(units.values(), default=0)
    return math.ceil((1.5 * top * orders / sample + 50) / cfg.feed.lots_per_sku)


def day_config(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: DayOptions
) -> tuple[WarehouseConfig, dict[str, Any]]:
    """The configuration of the day: fleet sizes, promotions, stock and buyers as the options ask."""
    feed: dict[str, Any] = {"orders_per_hour": opts.orders / 24.0}
    if opts.promotions is not None:
        feed["promotions"] = list(opts.promotions)
    sizing = {"lot_qty": cfg.feed.lot_qty, "buyers": cfg.feed.buyers, "scaled": False}
    if opts.size_feed:
        lot_qty = stock_for(cfg, customs, opts.orders, opts.seed)
        buyers = opts.orders  # a buyer orders at most a few times a day: never run out of them
        if lot_qty > cfg.feed.lot_qty:
            feed["lot_qty"] = sizing["lot_qty"] = lot_qty
            sizing["scaled"] = True
        if buyers > cfg.feed.buyers:
            feed["buyers"] = sizing["buyers"] = buyers
            sizing["scaled"] = True
    fleet: dict[str, Any] = {}
    for kind, n in (("picking", opts.picking), ("sorting", opts.sorting)):
        if n is not None:
            fleet[kind] = getattr(cfg.fleet, kind).model_copy(update={"count": n})
    cfg = cfg.model_copy(
        update={
            "feed": cfg.feed.model_copy(update=feed),
            "fleet": cfg.fleet.model_copy(update=fleet),
        }
    )
    return cfg, sizing


def describe(cfg: WarehouseConfig) -> dict[str, Any]:
    """The figures of the site that size its capacity."""
    from wms.sorting.grid import build_grid

    grid = build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots)
    return {
        "site": cfg.site.name,
        "picking_robots": cfg.fleet.picking.count,
        "sorting_robots": cfg.fleet.sorting.count,
        "cart_orders": cfg.fleet.picking.cart_orders,
        "pack_stations": cfg.pack.stations,
        "xray_lanes": cfg.gate.xray_lanes,
        "aisles": cfg.storage.aisles,
        "slots": cfg.storage.aisles * cfg.storage.bays_per_aisle * cfg.storage.levels * 2,
        "skus": cfg.feed.skus,
        "sort_grid": f"{cfg.sortation.width}x{cfg.sortation.height}",
        "chutes": len(grid.chutes),
        "inducts": cfg.sortation.inducts,
        "bag_capacity": cfg.sortation.bag_capacity,
        "intake_backlog_limit": cfg.intake.backlog_limit or None,
        "carriers": [c.code for c in cfg.carriers],
        "lot_qty": cfg.feed.lot_qty,
        "buyers": cfg.feed.buyers,
        "promotions": [p.model_dump() for p in cfg.feed.promotions],
    }


# ---------------------------------------------------------------------------------------------- sampling


@dataclass
class Probe:
    """Watches a running day: arrivals as the feed generates them, and every step a look at the queues."""

    shift: Shift
    sample_s: float
    target_pct: float = 99.9
    stop_when_missed: bool = False
    progress: Progress | None = None
    wall0: float = field(default_factory=time.perf_counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    arrivals: Counter[int] = field(default_factory=Counter)  # orders placed per hour since the start
    placed_at: dict[str, float] = field(default_factory=dict)  # orders the feed held back: when placed
    generated: int = 0
    robot_s: dict[str, Counter[str]] = field(default_factory=dict)  # robot-seconds by state in the day
    on_charger_s: Counter[str] = field(default_factory=Counter)
    charging_by_robot: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> serial -> seconds
    stopped_early: str | None = None
    split: LoopSplit | None = None  # the clock's meter, if any: each sample has its seconds so far
    _status: bytes = b""

    def attach(self, broker: Any) -> None:
        """Count arrivals through the feed's hook; keep the controller's latest published status."""
        self.shift.feed.on_generated = self._generated
        spy = broker.client("day-bench")
        spy.subscribe(topics.status(self.shift.controller.part), self._on_status)

    def _generated(self, order_no: str, ts: float, held: bool) -> None:
        self.generated += 1
        self.arrivals[int((ts - self.shift.start) // 3600)] += 1
        if held:
            self.placed_at[order_no] = ts

    def _on_status(self, _topic: str, data: bytes) -> None:
        self._status = data

    def status(self) -> Status | None:
        """The controller's last published status (what a console sees), if any."""
        try:
            return Status.model_validate_json(self._status) if self._status else None
        except ValueError:
            return None

    def step(self, shift: Shift) -> bool:
        """One sample; True when the run should stop (the 24-hour target already missed, if asked)."""
        sample = self.take()
        self.samples.append(sample)
        if self.progress is not None:
            st = self.status()
            self.progress(
                {
                    "t_s": sample["t_s"],
                    "day_s": DAY_S,
                    "wall_s": sample["wall_s"],
                    "generated": self.generated,
                    "sent": shift.feed.sent,
                    "dispatched": st.dispatched if st else 0,
                    "received": st.orders_in if st else 0,
                    "open": (st.orders_in - st.dispatched - st.held - st.rejected) if st else 0,
                    "rss_mb": sample["rss_mb"],
                }
            )
        if self.stop_when_missed and sample["t_s"] >= DAY_S and int(sample["t_s"]) % 3600 < self.sample_s:
            missed = self.certainly_missed()
            allowed = (1.0 - self.target_pct / 100.0) * self.generated
            if missed > allowed:
                self.stopped_early = (
                    f"{missed} orders already past 24 h at +{sample['t_s'] / 3600:.1f} h "
                    f"(the target allows {allowed:.0f})"
                )
                return True
        return False

    def certainly_missed(self) -> int:
        """Orders that can no longer make 24 h: dispatched late, refused for want of stock, or still open
        (in the controller or held back in the feed) and already older than 24 h. Read from the database."""
        now = self.shift.clock.now()
        sla = report.sla(self.shift.controller.repo.engine, self.placed_at, now)
        holding = self.shift.feed.holding  # the feed sends held orders oldest first: the last ones wait
        waiting = list(self.placed_at.values())[-holding:] if holding else []
        late_in_feed = sum(1 for t in waiting if now - t > SLA_S)
        return sla["dispatched_late"] + sla["out_of_stock"] + sla["open_at_end_late"] + late_in_feed

    def take(self) -> dict[str, Any]:
        """The controller's queues and fleet, the feed's counters, RSS, wall and CPU time now."""
        shift, ctl = self.shift, self.shift.controller
        t = shift.clock.now() - shift.start
        robots: dict[str, Counter[str]] = {}
        for r in ctl.fleet.robots.values():
            status = r.status if r.status in ROBOT_STATES else "other"
            robots.setdefault(r.kind, Counter())[status] += 1
            if t <= DAY_S:
                self.robot_s.setdefault(r.kind, Counter())[status] += self.sample_s
                if status == "charging":
                    self.charging_by_robot.setdefault(r.kind, Counter())[r.serial] += self.sample_s
        on_charger = Counter(sim.kind for sim in shift.robots if sim.charging)
        if t <= DAY_S:
            for kind, n in on_charger.items():
                self.on_charger_s[kind] += n * self.sample_s
        cap = ctl.cfg.sortation.bag_capacity
        open_bags = [len(c.parcels) for c in ctl.chutes.values() if c.parcels]
        return {
            "t_s": round(t, 1),
            "wall_s": round(time.perf_counter() - self.wall0, 2),
            "cpu_s": round(time.process_time(), 2),
            "controller_s": round(self.split.seconds["controller"], 2) if self.split else None,
            "simulators_s": round(self.split.seconds["simulators"], 2) if self.split else None,
            "rss_mb": round(rss_mb(), 1),
            "generated": self.generated,
            "sent": shift.feed.sent,
            "holding": shift.feed.holding,
            "pick_queue": sum(len(nos) for _, nos in list(ctl.pick_queue)),
            "induct_queue": sum(len(q) for q in ctl.induct_queues.values()),
            "gate_queue": sum(ctl.lane_queue),
            "open_chutes": len(open_bags),
            "chute_fill_pct": round(100.0 * sum(open_bags) / (len(open_bags) * cap), 1) if open_bags else 0.0,
            "bags_to_gate": len(ctl.bags),
            "robots": {k: dict(v) for k, v in sorted(robots.items())},
            "on_charger": dict(on_charger),
        }


def robot_figures(probe: Probe, cfg: WarehouseConfig, sim_s: float, engine: Any) -> dict[str, Any]:
    """Utilisation and charging per fleet over the day (sampled every ``sample_s``), task times, traffic."""
    day_s = min(DAY_S, sim_s)
    out: dict[str, Any] = {}
    tasks = _robot_orders(probe.shift)
    took = report.tasks(engine)
    fleet = probe.shift.controller.fleet
    for kind, task_kind in (("picking", "pick"), ("sorting", "sort")):
        count = getattr(cfg.fleet, kind).count
        secs = probe.robot_s.get(kind, Counter())
        total = sum(secs.values()) or 1.0
        charging = list(probe.charging_by_robot.get(kind, Counter()).values())
        out[kind] = {
            "robots": count,
            "utilisation_pct": round(100.0 * secs["busy"] / total, 1),
            "charging_pct": round(100.0 * secs["charging"] / total, 1),
            "idle_pct": round(100.0 * secs["idle"] / total, 1),
            "other_pct": round(100.0 * secs["other"] / total, 1),
            "busy_robot_h": round(secs["busy"] / 3600.0, 1),
            "charging_robot_h": round(secs["charging"] / 3600.0, 1),
            "on_charger_robot_h": round(probe.on_charger_s[kind] / 3600.0, 1),
            "charging_min_per_robot_mean": round(sum(charging) / 60.0 / count, 1) if count else None,
            "charging_min_per_robot_max": round(max(charging, default=0.0) / 60.0, 1),
            "orders_driven": tasks.get(kind, 0),
            "window_h": round(day_s / 3600.0, 2),
            "task_s": took.get(task_kind),
        }
        traffic = fleet.maps[kind].traffic
        if traffic is not None:
            out[kind]["traffic"] = {
                "waits": sum(traffic.cells.waits.values()),
                "reroutes": sum(traffic.cells.reroutes.values()),
            }
    return out


def _robot_orders(shift: Shift) -> dict[str, int]:
    """VDA 5050 orders each fleet's simulated robots completed (task trips and charger trips)."""
    out: Counter[str] = Counter()
    for sim in shift.robots:
        out[sim.kind] += sim.orders_done
    return dict(out)


def chute_figures(probe: Probe, engine: Any, cfg: WarehouseConfig) -> dict[str, Any]:
    """Bags closed (from the database) and open chutes over the day (sampled)."""
    from wms.sorting.grid import build_grid

    chutes = len(build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots).chutes)
    day = [s for s in probe.samples if s["t_s"] <= DAY_S] or probe.samples
    open_now = [s["open_chutes"] for s in day]
    fills = [s["chute_fill_pct"] for s in day if s["open_chutes"]]
    return {
        "chutes": chutes,
        "open_chutes_peak": max(open_now, default=0),
        "open_chutes_mean": round(sum(open_now) / len(open_now), 1) if open_now else 0.0,
        "open_bag_fill_pct_mean": round(sum(fills) / len(fills), 1) if fills else None,
        "open_bag_fill_pct_peak": max(fills, default=None),
        **report.bags(engine, cfg.sortation.bag_capacity),
    }


# ---------------------------------------------------------------------------------------------- the day


def run_day(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: DayOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """One simulated day, in this process: every figure of the report, as a JSON-ready dict."""
    wall0 = time.perf_counter()
    cfg, sizing = day_config(cfg, customs, opts)
    with tempfile.TemporaryDirectory(dir=opts.db_dir, prefix="wms-day-") as tmp:
        url = opts.db_url or f"sqlite:///{Path(tmp) / 'day.db'}"
        sopts = ShiftOptions(
            duration_s=DAY_S,
            orders_per_hour=opts.orders / 24.0,
            drain_limit_s=opts.drain_limit_h * 3600.0,
            db_url=url,
            start_local=opts.start_local,
            seed=opts.seed,
        )
        world = None
        if opts.world_process:
            shift, broker, world = linked_shift(cfg, customs, sopts, opts.link_latency_s)
        else:
            shift, broker = virtual_shift(cfg, customs, sopts)
        try:
            result, split, build_s, run_s, end = _simulate(
                shift, broker, world, cfg, opts, sopts, progress, wall0
            )
        except BaseException:
            if world is not None:
                world.kill()  # the failure (its own, if it was the world's) says what went wrong
            raise
        if world is not None:
            world.close()
        planner = shift.controller.planner
        planner_cpu_s, planner_rss_mb = planner.usage() if planner is not None else (0.0, 0.0)
        shift.controller.stop()
        shift.controller.repo.close()
        shift.controller.repo.engine.dispose()
    wall_s = time.perf_counter() - wall0
    own = resource.getrusage(resource.RUSAGE_SELF)
    world_usage = world.usage if world is not None else {}
    placed = result["orders"]["placed"]
    world_rss_mb = world_usage.get("peak_rss_mb", 0.0)
    peak = own.ru_maxrss / 1024.0 + planner_rss_mb + world_rss_mb  # ru_maxrss in KB (Linux); all ran at once
    result.update(
        {
            "label": opts.label,
            "options": _options(opts),
            "feed_sizing": sizing,
            "config": describe(cfg),
            "database": end["database"] if opts.db_url else "sqlite (temporary file)",
            "database_kind": "sqlite" if url.startswith("sqlite") else url.split(":", 1)[0],
            "summary": {k: v for k, v in end.items() if k not in ("ledger", "database", "open_by_state")},
            "wall": {
                "total_s": round(wall_s, 2),
                "build_s": round(build_s, 2),
                "simulate_s": round(run_s - build_s, 2),
                "report_s": round(wall_s - run_s, 2),
                "orders_per_s": round(placed / (run_s - build_s), 1) if run_s > build_s else None,
                "sim_s_per_wall_s": round(result["sim_s"] / (run_s - build_s), 1)
                if run_s > build_s
                else None,
            },
            "peak_rss_mb": round(peak, 1),
            "planner_peak_rss_mb": round(planner_rss_mb, 1),
            "world_peak_rss_mb": round(world_rss_mb, 1) if world is not None else None,
            "cpu_s": {
                "controller": round(own.ru_utime + own.ru_stime, 1),
                "planner": round(planner_cpu_s, 1),
                "world": world_usage.get("cpu_s"),
            },
            "split": split.report(run_s - build_s, placed),
            "world": {"process": world is not None, "link_latency_s": opts.link_latency_s if world else 0.0}
            | world_usage,
        }
    )
    result["checks"] = checks(result)
    result["targets"] = targets(result)
    result["ok"] = all(result["targets"].values())
    return result


def _simulate(
    shift: Shift,
    broker: Any,
    world: Any,
    cfg: WarehouseConfig,
    opts: DayOptions,
    sopts: ShiftOptions,
    progress: Progress | None,
    wall0: float,
) -> tuple[dict[str, Any], LoopSplit, float, float, dict[str, Any]]:
    """Run a built day to its end, sampling it; its measures, the loop's split, build and run seconds (from
    ``wall0``) and the shift's summary."""
    build_s = time.perf_counter() - wall0
    split = LoopSplit()
    probe = Probe(shift, opts.sample_s, opts.target_pct, opts.stop_when_missed, progress, wall0, split=split)
    probe.attach(broker)
    shift.clock.meter = split
    with quiet_gc_while():  # as the controller's own loop runs (`wms run`)
        drained = run_until_drained(shift, sopts.drain_limit_s, step_s=opts.sample_s, on_step=probe.step)
    shift.clock.meter = None
    shift.controller.publish_status()
    run_s = time.perf_counter() - wall0
    mode = "virtual, world in its own process" if world is not None else "virtual"
    end = summary(shift, run_s, mode, "in-process" if world is None else "in-process, lockstep link")
    return measure(shift, probe, cfg, opts, drained), split, build_s, run_s, end


def _options(opts: DayOptions) -> dict[str, Any]:
    """The options as JSON, without the database password."""
    from sqlalchemy.engine import make_url

    d = asdict(opts)
    if opts.db_url:
        d["db_url"] = make_url(opts.db_url).render_as_string(hide_password=True)
    d["promotions"] = None if opts.promotions is None else [p.model_dump() for p in opts.promotions]
    return d


def measure(
    shift: Shift, probe: Probe, cfg: WarehouseConfig, opts: DayOptions, drained: bool
) -> dict[str, Any]:
    """Everything measured at the end: counts, SLA, per-hour stages, queues, gate, robots, chutes, ledger."""
    engine = shift.controller.repo.engine
    sim_s = shift.clock.now() - shift.start
    hours = max(24, math.ceil(sim_s / 3600.0))
    periods = max(1, math.ceil(sim_s / opts.sample_s))
    c = report.counts(engine)
    feed = shift.feed
    per_hour = report.per_period(engine, shift.start, 3600.0, hours)
    per_hour = {"placed": [probe.arrivals.get(h, 0) for h in range(hours)]} | per_hour
    orders = {
        "requested": opts.orders,
        "placed": probe.generated,
        "sent": feed.sent,
        "held_back_by_intake": feed.held_back,
        "still_held_back": feed.holding,
        "unacknowledged": feed.unacked,
        "in_db": c["orders_in_db"],
        "parcels_in_db": c["parcels_in_db"],
        "dispatched": c["dispatched"],
        "held": c["held"],
        "rejected": c["rejected"],
        "terminal": c["terminal"],
        "open": c["open"],
        "open_by_state": {k: v for k, v in c["by_state"].items() if k not in report.TERMINAL},
        "lost": feed.sent - c["orders_in_db"],
    }
    sla = report.sla(engine, probe.placed_at, shift.clock.now(), feed.holding, opts.target_pct)
    return {
        "orders": orders,
        "sla": sla,
        "drained": drained,
        "stopped_early": probe.stopped_early,
        "sim_s": round(sim_s, 1),
        "drain_s": round(max(0.0, sim_s - DAY_S), 1) if drained else None,
        "per_hour": per_hour,
        "queues": {
            "period_s": opts.sample_s,
            "by_state": report.occupancy(engine, shift.start, opts.sample_s, periods),
            "samples": probe.samples,
        },
        "gate": report.gate(engine),
        "robots": robot_figures(probe, cfg, sim_s, engine),
        "slow_tasks": report.slow_tasks(engine, shift.start) | {"alarm_after_s": cfg.fleet.task_alarm_s},
        "chutes": chute_figures(probe, engine, cfg),
        "ledger": report.ledger(engine),
        "internal_errors": len(shift.clock.errors),
        "alarms_by_source": dict(shift.controller.alarm_counts),
    }


def checks(result: dict[str, Any]) -> dict[str, bool]:
    """The correctness of the run: every order accounted for, the ledger balanced, no handler failed."""
    o = result["orders"]
    return {
        "accounted_for": (
            o["placed"] == o["sent"] + o["still_held_back"]
            and o["lost"] == 0
            and o["in_db"] == o["parcels_in_db"]
            and o["in_db"] == o["terminal"] + o["open"]
            and o["open"] == 0
            and o["still_held_back"] == 0
        ),
        "ledger_balanced": result["ledger"]["balanced"],
        "no_internal_errors": result["internal_errors"] == 0,
        "within_24h": bool(result["sla"]["met"]),
    }


def targets(result: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets: wall time and memory (set for 250,000 orders), 24-hour share, correctness."""
    c = result["checks"]
    return {
        f"wall time <= {WALL_TARGET_S:.0f} s": result["wall"]["total_s"] <= WALL_TARGET_S,
        f"peak memory <= {MEMORY_TARGET_MB / 1024:.0f} GB": result["peak_rss_mb"] <= MEMORY_TARGET_MB,
        f">= {result['sla']['target_pct']:g}% dispatched within 24 h": c["within_24h"],
        "every parcel accounted for": c["accounted_for"],
        "ledger balanced": c["ledger_balanced"],
        "no internal errors": c["no_internal_errors"],
    }


# ---------------------------------------------------------------------------------------------- processes


def quiet_logs() -> None:
    """Only errors on stderr: the controller's alarms (intake closed, re-slot proposals) are counted."""
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger().setLevel(logging.ERROR)


def _child(key: str, cfg: WarehouseConfig, customs: CustomsConfig, opts: DayOptions, out: Any) -> None:
    """Entry point of a worker process: one day, its progress and result sent back on ``out``."""
    exit_with_parent()  # a bench stopped by SIGTERM or SIGKILL leaves no day running on
    quiet_logs()
    try:
        result = run_day(cfg, customs, opts, progress=lambda p: out.put(("progress", key, p)))
    except Exception:  # the parent reports it beside the other runs
        result = {"label": opts.label, "error": traceback.format_exc()}
    out.put(("done", key, result))


def run_cases(
    cases: Sequence[tuple[str, WarehouseConfig, CustomsConfig, DayOptions]],
    jobs: int = 1,
    on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run each day in a fresh process (``jobs`` at a time); results by key, an ``error`` for a failed one."""
    ctx = mp.get_context("spawn")
    inbox = ctx.Queue()
    waiting = list(cases)
    running: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                key, cfg, customs, opts = waiting.pop(0)
                proc = ctx.Process(target=_child, args=(key, cfg, customs, opts, inbox), name=f"day-{key}")
                proc.start()
                running[key] = proc
                if on_start is not None:
                    on_start(key)
            try:
                kind, key, payload = inbox.get(timeout=0.5)
            except queue.Empty:
                for key, proc in list(running.items()):
                    if not proc.is_alive() and proc.exitcode not in (0, None):
                        results[key] = {
                            "label": key,
                            "error": f"worker process died (exit code {proc.exitcode})",
                        }
                        del running[key]
                continue
            if kind == "progress":
                if on_progress is not None:
                    on_progress(key, payload)
            else:
                results[key] = payload
                running.pop(key).join()
    finally:
        for proc in running.values():
            proc.terminate()
            proc.join(5.0)
    return results


# ---------------------------------------------------------------------------------------------- options

_PROMOTION = re.compile(r"^(?P<start>\d{2}:\d{2})\+(?P<hours>\d+(?:\.\d+)?)h\*(?P<factor>\d+(?:\.\d+)?)$")


def parse_promotion(spec: str) -> Promotion:
    """``HH:MM+Hh*F``, e.g. ``20:00+2h*3``: from 20:00 for 2 hours at 3 times the curve; ValueError if not."""
    m = _PROMOTION.match(spec.strip())
    if m is None:
        raise ValueError(f"--promotion {spec!r}: expected HH:MM+HOURSh*FACTOR, e.g. 20:00+2h*3")
    try:
        return Promotion(start=m["start"], hours=float(m["hours"]), factor=float(m["factor"]))
    except ValueError as exc:
        problems = "; ".join(e["msg"] for e in getattr(exc, "errors", lambda: [])()) or str(exc)
        raise ValueError(f"--promotion {spec!r}: {problems}") from None


def database_label(url: str) -> str:
    """``sqlite`` or ``postgresql`` (the dialect of a database URL)."""
    return url.split(":", 1)[0].split("+", 1)[0]
