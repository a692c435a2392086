"""``wms bench o2o``: the reference warehouse's regular flow without and with O2O orders, side by side.

Each run is a whole shift on the discrete-event clock and the in-process bus (controller, robots,
conveyors, X-ray gate, order feed), in its own process; both runs get the same seed, so the regular orders
are the same and only the O2O orders differ (they come from their own random stream). Figures are read
back from the database: an O2O order's order-to-handover time runs from its first parcel event (received)
to its DISPATCHED event (manifest ``HANDOVER-…``); its stages from the events in between.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlmodel import Session, select

from wms.config import CustomsConfig, WarehouseConfig
from wms.domain import SLA_S
from wms.o2o.assortment import assortment
from wms.store.models import OrderRow, ParcelEvent, ParcelRow

# (name, from state, to state) of the O2O express path, as the controller records it
STAGES: tuple[tuple[str, str, str], ...] = (
    ("to_pick", "allocated", "picking"),
    ("pick", "picking", "picked"),
    ("pack", "picked", "packed"),
    ("conveyor_to_gate", "packed", "at_gate"),
    ("gate", "at_gate", "released"),
    ("to_counter", "released", "dispatched"),
)


# The regular flow's throughput is counted in a window as long as the order period, shifted by one pass
# through the warehouse (a bag closes at the latest 15 minutes after it opens), so that the empty
# warehouse's first quarter hour is not counted and the last orders are.
PIPELINE_LAG_S = 900.0


@dataclass
class BenchOptions:
    """What to run: O2O rate, hours of arrivals, seed, start, pick mode and the shoppers' address."""

    rate: float = 60.0
    hours: float = 0.5
    seed: int | None = None
    start_local: str = "2026-11-11T09:00:00"
    drain_limit_h: float = 3.0
    pick: str | None = None  # override [o2o] pick: "forward" or "robot"
    address: str = "home"  # "store": every shopper's consignee address is the store's
    db_dir: str | None = None


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by the nearest-rank method, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Count, mean, p50, p95 and max, rounded to 0.1."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 1)

    mean = sum(values) / len(values) if values else None
    return {
        "n": len(values),
        "mean": r(mean),
        "p50": r(percentile(values, 0.5)),
        "p95": r(percentile(values, 0.95)),
        "max": r(max(values) if values else None),
    }


def physical_times(cfg: WarehouseConfig) -> dict[str, Any]:
    """The physical times the simulation assumes, from the configuration."""
    o = cfg.o2o
    return {
        "o2o_pick": o.pick,
        "forward_pick_s": o.forward_pick_s,
        "forward_line_s": o.forward_line_s,
        "o2o_pack_s": o.pack_s,
        "o2o_conveyor_to_gate_s": o.conveyor_to_gate_s,
        "gate_to_counter_s": o.gate_to_counter_s,
        "xray_s": cfg.gate.xray_s,
        "xray_lanes": cfg.gate.xray_lanes,
        "manual_check_s": cfg.gate.manual_check_s,
        "picking_robot_speed_mps": cfg.fleet.picking.speed_mps,
        "picking_robot_action_s": cfg.fleet.picking.action_s,
        "conveyor_jitter": "±10% on every conveyor and pack time",
        "counters": o.counters,
        "opening_hours": f"{o.opens}-{o.closes}",
        "assortment_skus": o.assortment_skus,
        "target_s": o.target_s,
    }


def measure(engine: Any, window: tuple[float, float]) -> dict[str, Any]:
    """O2O handover times and stages, refusals and holds; the regular flow's throughput (in ``window``)."""
    with Session(engine) as s:
        kinds = dict(s.exec(select(OrderRow.order_no, OrderRow.order_type)).all())
        parcels = {p.order_no: p for p in s.exec(select(ParcelRow)).all()}
        events: dict[str, list[ParcelEvent]] = {}
        for e in s.exec(select(ParcelEvent).order_by(ParcelEvent.id)).all():  # type: ignore[arg-type]
            events.setdefault(e.order_no, []).append(e)
    o2o = [o for o, k in kinds.items() if k == "o2o"]
    regular = [o for o, k in kinds.items() if k != "o2o"]
    return {"o2o": _o2o(o2o, parcels, events), "regular": _regular(regular, parcels, events, window)}


def _first(evs: list[ParcelEvent], state: str) -> float | None:
    return next((e.ts for e in evs if e.to_state == state), None)


def _o2o(
    nos: list[str], parcels: dict[str, ParcelRow], events: dict[str, list[ParcelEvent]]
) -> dict[str, Any]:
    handover: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    refused: Counter[str] = Counter()
    bad_handover = 0
    for no in nos:
        p, evs = parcels[no], events.get(no, [])
        if p.state == "rejected" and len(evs) == 1:
            refused[p.reason.split(":", 1)[0]] += 1
        dispatched = [e for e in evs if e.to_state == "dispatched"]
        if not dispatched:
            continue
        if len(dispatched) != 1 or not dispatched[0].detail.startswith("HANDOVER-"):
            bad_handover += 1
        handover.append(dispatched[0].ts - evs[0].ts)
        for name, a, b in STAGES:
            ta, tb = _first(evs, a), _first(evs, b)
            if ta is not None and tb is not None:
                stages[name].append(tb - ta)
    states = Counter(parcels[no].state for no in nos)
    return {
        "orders": len(nos),
        "handed_over": len(handover),
        "refused": sum(refused.values()),
        "refused_by_reason": dict(refused),
        "held": states.get("held", 0),
        "rejected_at_gate": states.get("rejected", 0) - sum(refused.values()),
        "open": len(nos) - sum(states.get(s, 0) for s in ("dispatched", "held", "rejected")),
        "handover_not_single_or_not_HANDOVER": bad_handover,
        "order_to_handover_s": spread(handover),
        "stages_s": {name: spread(v) for name, v in stages.items()},
    }


def _regular(
    nos: list[str],
    parcels: dict[str, ParcelRow],
    events: dict[str, list[ParcelEvent]],
    window: tuple[float, float],
) -> dict[str, Any]:
    """Throughput in the window (released by the gate, dispatched), order-to-release and -dispatch, SLA."""
    start, end = window
    hours = (end - start) / 3600.0
    to_release, to_dispatch, released_in, dispatched_in = [], [], 0, 0
    for no in nos:
        evs = events.get(no, [])
        t_rel, t_dis = _first(evs, "released"), _first(evs, "dispatched")
        released_in += t_rel is not None and start <= t_rel < end
        dispatched_in += t_dis is not None and start <= t_dis < end
        if t_rel is not None:
            to_release.append(t_rel - evs[0].ts)
        if t_dis is not None:
            to_dispatch.append(t_dis - evs[0].ts)
    dispatched = len(to_dispatch)
    sla = round(100.0 * sum(t <= SLA_S for t in to_dispatch) / dispatched, 3) if dispatched else None
    return {
        "orders": len(nos),
        "dispatched": dispatched,
        "held": sum(1 for no in nos if parcels[no].state == "held"),
        "rejected": sum(1 for no in nos if parcels[no].state == "rejected"),
        "dispatched_per_h": round(dispatched_in / hours, 1),
        "released_per_h": round(released_in / hours, 1),
        "sla_24h_pct": sla,
        "order_to_release_s": spread(to_release),
        "order_to_dispatch_s": spread(to_dispatch),
    }


def run_one(cfg: WarehouseConfig, customs: CustomsConfig, opts: BenchOptions, rate: float) -> dict[str, Any]:
    """One virtual shift at the reference rate with O2O orders at ``rate`` per hour (0: none)."""
    from wms.shift import ShiftOptions, run_until_drained, virtual_shift

    if opts.pick is not None:
        cfg = _with_pick(cfg, opts.pick)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=opts.db_dir) as tmp:
        sopts = ShiftOptions(
            duration_s=opts.hours * 3600.0,
            orders_per_hour=cfg.feed.orders_per_hour,
            drain_limit_s=opts.drain_limit_h * 3600.0,
            db_url=f"sqlite:///{Path(tmp) / 'o2o-bench.db'}",
            start_local=opts.start_local,
            seed=opts.seed,
            status_interval_s=60.0,
        )
        shift, _ = virtual_shift(cfg, customs, sopts)
        if rate > 0:
            skus = assortment(shift.controller.catalog.values(), cfg.o2o.assortment_skus)
            hours = (cfg.o2o.opens, cfg.o2o.closes)
            shift.feed.enable_o2o(rate, cfg.o2o.counters, skus, hours, opts.address)
        run_until_drained(shift, sopts.drain_limit_s)
        ctl = shift.controller
        lag = min(PIPELINE_LAG_S, opts.hours * 3600.0)
        out = measure(ctl.repo.engine, (shift.start + lag, shift.feed_until + lag))
        out.update(
            rate_per_h=rate,
            throughput_window_s=[round(lag, 1), round(opts.hours * 3600.0 + lag, 1)],
            orders_sent=shift.feed.sent,
            o2o_sent=shift.feed.o2o_sent,
            ledger_balanced=bool(ctl.repo.ledger_check(whole=True)["balanced"]),
            internal_errors=len(ctl.clock.errors),
            sim_s=round(ctl.clock.now() - shift.start, 1),
            wall_s=round(time.perf_counter() - t0, 1),
        )
        ctl.repo.close()
        ctl.repo.engine.dispose()
    return out


def _run_child(args: tuple[WarehouseConfig, CustomsConfig, BenchOptions, float]) -> dict[str, Any]:
    return run_one(*args)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 4)


def run_bench(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: BenchOptions, jobs: int = 2
) -> dict[str, Any]:
    """Both runs (in parallel with ``jobs`` > 1) and the comparison against the issue's targets."""
    wall0 = time.perf_counter()
    args = [(cfg, customs, opts, 0.0), (cfg, customs, opts, opts.rate)]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as pool:
            base, with_o2o = pool.map(_run_child, args)
    else:
        base, with_o2o = (_run_child(a) for a in args)
    result = compare(cfg if opts.pick is None else _with_pick(cfg, opts.pick), base, with_o2o)
    return {"options": asdict(opts), **result, "wall_s": round(time.perf_counter() - wall0, 1)}


def compare(cfg: WarehouseConfig, base: dict[str, Any], with_o2o: dict[str, Any]) -> dict[str, Any]:
    """The two runs side by side, their ratios (with / without) and the issue's targets met or not."""
    rb, rw = base["regular"], with_o2o["regular"]
    p95 = with_o2o["o2o"]["order_to_handover_s"]["p95"]
    thr = _ratio(rw["dispatched_per_h"], rb["dispatched_per_h"])
    ratios = {
        "dispatched_per_h": thr,
        "released_per_h": _ratio(rw["released_per_h"], rb["released_per_h"]),
        "sla_24h_pct": _ratio(rw["sla_24h_pct"], rb["sla_24h_pct"]),
        "order_to_release_p95": _ratio(rw["order_to_release_s"]["p95"], rb["order_to_release_s"]["p95"]),
        "order_to_dispatch_p95": _ratio(rw["order_to_dispatch_s"]["p95"], rb["order_to_dispatch_s"]["p95"]),
    }
    targets = {
        "handover_p95_s_le_target": p95 is not None and p95 <= cfg.o2o.target_s,
        "regular_throughput_fall_le_2pct": thr is not None and thr >= 0.98,
        "regular_sla_not_falling": (rw["sla_24h_pct"] or 0) >= (rb["sla_24h_pct"] or 0),
    }
    return {
        "regular_orders_per_hour": cfg.feed.orders_per_hour,
        "physical_times": physical_times(cfg),
        "without_o2o": base,
        "with_o2o": with_o2o,
        "ratios_with_over_without": ratios,
        "targets": targets,
        "ok": all(targets.values()),
    }


def _with_pick(cfg: WarehouseConfig, pick: str) -> WarehouseConfig:
    return cfg.model_copy(update={"o2o": cfg.o2o.model_copy(update={"pick": pick})})


def render(result: dict[str, Any]) -> Table:
    """The two runs side by side, with the ratios and the targets."""
    base, o2o = result["without_o2o"], result["with_o2o"]
    rate = o2o["rate_per_h"]
    table = Table(title=f"O2O at {rate:g}/h on top of {result['regular_orders_per_hour']:g} regular orders/h")
    table.add_column("")
    table.add_column("without O2O", justify="right")
    table.add_column(f"with O2O {rate:g}/h", justify="right")
    table.add_column("ratio", justify="right")

    def row(label: str, a: Any, b: Any, ratio: Any = "") -> None:
        table.add_row(label, "—" if a is None else str(a), "—" if b is None else str(b), str(ratio or ""))

    h = o2o["o2o"]["order_to_handover_s"]
    row("O2O orders sent / handed over", "", f"{o2o['o2o_sent']} / {o2o['o2o']['handed_over']}")
    row("O2O order-to-handover p50 / p95 / max s", "", f"{h['p50']} / {h['p95']} / {h['max']}")
    for name, st in o2o["o2o"]["stages_s"].items():
        row(f"  stage {name} mean / p95 s", "", f"{st['mean']} / {st['p95']}")
    row("O2O refused / held / rejected at gate", "", _refusals(o2o["o2o"]))
    rb, rw, ratios = base["regular"], o2o["regular"], result["ratios_with_over_without"]
    row("regular orders", rb["orders"], rw["orders"])
    row(
        "regular dispatched per h (window)",
        rb["dispatched_per_h"],
        rw["dispatched_per_h"],
        ratios["dispatched_per_h"],
    )
    row(
        "regular released per h (window)",
        rb["released_per_h"],
        rw["released_per_h"],
        ratios["released_per_h"],
    )
    row(
        "regular order-to-release p95 s",
        rb["order_to_release_s"]["p95"],
        rw["order_to_release_s"]["p95"],
        ratios["order_to_release_p95"],
    )
    row(
        "regular order-to-dispatch p95 s",
        rb["order_to_dispatch_s"]["p95"],
        rw["order_to_dispatch_s"]["p95"],
        ratios["order_to_dispatch_p95"],
    )
    row("regular 24-h SLA %", rb["sla_24h_pct"], rw["sla_24h_pct"], ratios["sla_24h_pct"])
    row("ledger balanced", base["ledger_balanced"], o2o["ledger_balanced"])
    row("simulated / wall s", f"{base['sim_s']} / {base['wall_s']}", f"{o2o['sim_s']} / {o2o['wall_s']}")
    return table


def _refusals(o: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(o["refused_by_reason"].items()))
    return f"{o['refused']}{f' ({reasons})' if reasons else ''} / {o['held']} / {o['rejected_at_gate']}"


def physical_text(result: dict[str, Any]) -> str:
    """The physical times assumed, one line."""
    p = result["physical_times"]
    parts = [
        f"O2O pick {p['o2o_pick']} (clerk {p['forward_pick_s']:g} s + {p['forward_line_s']:g} s/line more)",
        f"pack {p['o2o_pack_s']:g} s",
        f"conveyor to gate {p['o2o_conveyor_to_gate_s']:g} s",
        f"X-ray {p['xray_s']:g} s on {p['xray_lanes']} lanes (O2O first)",
        f"manual check {p['manual_check_s']:g} s",
        f"gate to counter {p['gate_to_counter_s']:g} s",
        "conveyor and pack times ±10%",
        f"picking robots {p['picking_robot_speed_mps']:g} m/s, {p['picking_robot_action_s']:g} s per action",
        f"counters {', '.join(p['counters'])} open {p['opening_hours']}",
        f"target {p['target_s']:g} s",
    ]
    return "assumed: " + "; ".join(parts)
