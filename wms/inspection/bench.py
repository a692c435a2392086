"""``wms bench gate``: decisions per second of the rule engine, and the inspection gate over a simulated day.

Orders come from the seeded `OrderFeedModel` (with its bad-document rate) at the feed's hourly rate shaped
by its daily curve (evening peak), starting at local midnight. The engine part times `decide` alone over
all of them, in arrival order with the history committed between calls. The gate part takes the first
local day of the same parcels and decisions: each parcel reaches the gate ``conveyor_to_gate_s`` after it
leaves the sorter (taken as its order time; the fulfilment lead is a constant shift), joins the X-ray lane
with the fewest parcels, and is released after its scan; held parcels (risk, sampled) and X-ray suspects
then queue on the hold lane for the first of ``manual_officers`` officers, each check taking
``manual_check_s`` (as in the controller). Rejected parcels never enter a lane.
"""

from __future__ import annotations

import heapq
import math
import os
import platform
import random
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.table import Table

from simulators.order_feed import OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CustomsConfig, WarehouseConfig
from wms.domain import OrderBundle
from wms.inspection.decision import HOLD, REJECT, Decision, QuotaHistory, commit, decide

TARGET_PER_S = 20_000
DAY_S = 86_400.0
FIRST_DAY = (2024, 3, 11)  # a Monday


def day_start(utc_offset_h: float) -> float:
    """Local midnight of the simulated day as a UNIX timestamp."""
    tz = timezone(timedelta(hours=utc_offset_h))
    return datetime(*FIRST_DAY, tzinfo=tz).timestamp()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)])


def generate(
    n: int, warehouse: WarehouseConfig, customs: CustomsConfig, seed: int, orders_per_hour: float
) -> tuple[OrderFeedModel, list[tuple[float, OrderBundle]]]:
    """``n`` timed order bundles from local midnight, at ``orders_per_hour`` on the feed's daily curve."""
    model = OrderFeedModel(
        generate_catalog(warehouse.feed, customs),
        warehouse.carriers,
        warehouse.feed,
        customs,
        seed,
        utc_offset_h=warehouse.site.utc_offset_h,
    )
    now = day_start(warehouse.site.utc_offset_h)
    items = []
    for _ in range(n):
        now += model.interarrival(now, orders_per_hour)
        items.append((now, model.next_bundle(now)))
    return model, items


@dataclass(frozen=True, slots=True)
class EngineRun:
    """Decisions of a run and the time they took."""

    decisions: list[Decision]
    decide_s: float
    total_s: float
    total_cpu_s: float


def run_engine(
    items: list[tuple[float, OrderBundle]], model: OrderFeedModel, customs: CustomsConfig, seed: int
) -> EngineRun:
    """Decide every bundle in order, timing `decide` alone (wall clock) and with the commits (wall and CPU).

    On a shared machine the CPU time shows how much of the wall time the process actually ran.
    """
    history = QuotaHistory(customs.return_window_days, model.utc_offset_h)
    rng = random.Random(f"sampling:{seed}")  # independent of the feed's draws of the same seed
    catalog = model.catalog
    decisions = []
    spent = 0.0
    clock = time.perf_counter
    begin, begin_cpu = clock(), time.process_time()
    for now, b in items:
        t0 = clock()
        d = decide(b.order, b.payment, b.waybill, catalog, customs, history, now, rng)
        spent += clock() - t0
        commit(history, b.order, d, now)
        decisions.append(d)
    return EngineRun(decisions, spent, clock() - begin, time.process_time() - begin_cpu)


@dataclass(frozen=True, slots=True)
class GateModel:
    """The gate as the simulation sees it."""

    lanes: int
    xray_s: float
    manual_check_s: float
    conveyor_to_gate_s: float
    suspect_rate: float
    manual_officers: int = 1_000_000


def simulate_gate(
    parcels: list[tuple[float, str]], gate: GateModel, start: float, seed: int
) -> dict[str, Any]:
    """Run ``(sorted at, decision)`` parcels through the X-ray lanes; queue, hold and release statistics."""
    rng = random.Random(f"gate:{seed}")  # independent of the sampling draws of the same seed
    lanes: list[deque[float]] = [deque() for _ in range(gate.lanes)]  # finish times, in service first
    seen: list[int] = []
    waits: list[float] = []
    to_release: list[float] = []
    arrivals_by_hour: Counter[int] = Counter()
    max_queue_by_hour: Counter[int] = Counter()
    held = suspects = rejected = 0
    max_lane_queue = 0
    last_release = start
    to_check: list[tuple[float, int]] = []  # (x-ray done, index into to_release) of held parcels
    for sorted_at, verdict in sorted(parcels):
        suspect = rng.random() < gate.suspect_rate
        if verdict == REJECT:
            rejected += 1
            continue
        t = sorted_at + gate.conveyor_to_gate_s
        for q in lanes:
            while q and q[0] <= t:
                q.popleft()
        waiting = [max(len(q) - 1, 0) for q in lanes]
        queue = sum(waiting)
        hour = int((t - start) // 3600)
        arrivals_by_hour[hour] += 1
        max_queue_by_hour[hour] = max(max_queue_by_hour[hour], queue)
        seen.append(queue)
        max_lane_queue = max(max_lane_queue, *waiting)
        lane = min(range(gate.lanes), key=lambda i: (len(lanes[i]), i))
        begin = max(t, lanes[lane][-1]) if lanes[lane] else t
        lanes[lane].append(begin + gate.xray_s)
        manual = verdict == HOLD or suspect
        held += verdict == HOLD
        suspects += suspect and verdict != HOLD
        released = begin + gate.xray_s
        if manual:
            to_check.append((released, len(to_release)))
        last_release = max(last_release, released)
        waits.append(begin - t)
        to_release.append(released - sorted_at)
    officers = [start] * min(gate.manual_officers, max(len(to_check), 1))  # when each is next free
    hold_waits: list[float] = []
    for done, i in sorted(to_check):
        free = heapq.heappop(officers)
        begin = max(done, free)
        end = begin + gate.manual_check_s
        heapq.heappush(officers, end)
        hold_waits.append(begin - done)
        to_release[i] += end - done
        last_release = max(last_release, end)
    at_gate = len(seen)
    capacity_per_h = gate.lanes * 3600 / gate.xray_s
    peak_hour, peak_arrivals = max(arrivals_by_hour.items(), key=lambda kv: (kv[1], -kv[0]), default=(0, 0))
    hours = max(arrivals_by_hour, default=-1) + 1
    span_h = (max(p[0] for p in parcels) - start) / 3600 if parcels else 0.0
    return {
        "lanes": gate.lanes,
        "xray_s": gate.xray_s,
        "manual_check_s": gate.manual_check_s,
        "manual_officers": gate.manual_officers,
        "hold_lane_wait_p50_s": percentile(hold_waits, 50),
        "hold_lane_wait_p99_s": percentile(hold_waits, 99),
        "conveyor_to_gate_s": gate.conveyor_to_gate_s,
        "parcels_sorted": len(parcels),
        "rejected_no_lane": rejected,
        "at_gate": at_gate,
        "held_by_rules": held,
        "xray_suspects": suspects,
        "hold_rate": (held + suspects) / at_gate if at_gate else 0.0,
        "queue_max": max(seen, default=0),
        "queue_max_one_lane": max_lane_queue,
        "queue_p95": percentile(seen, 95),
        "wait_p50_s": percentile(waits, 50),
        "wait_p99_s": percentile(waits, 99),
        "sort_to_release_p50_s": percentile(to_release, 50),
        "sort_to_release_p99_s": percentile(to_release, 99),
        "capacity_per_h": capacity_per_h,
        "mean_load": at_gate / span_h / capacity_per_h if span_h > 0 else 0.0,
        "peak_hour": peak_hour,
        "peak_load": peak_arrivals / capacity_per_h,
        "last_release_h": (last_release - start) / 3600,
        "hourly": [
            {"hour": h, "arrivals": arrivals_by_hour[h], "max_queue": max_queue_by_hour[h]}
            for h in range(hours)
        ],
    }


def run_bench(
    parcels: int,
    warehouse: WarehouseConfig,
    customs: CustomsConfig,
    *,
    seed: int | None = None,
    lanes: int | None = None,
    orders_per_hour: float | None = None,
) -> dict[str, Any]:
    """The whole benchmark as a JSON-ready dict."""
    if parcels < 1:
        raise ValueError(f"parcels must be >= 1, got {parcels}")
    seed = warehouse.feed.seed if seed is None else seed
    rate = orders_per_hour or warehouse.feed.orders_per_hour
    t0 = time.perf_counter()
    model, items = generate(parcels, warehouse, customs, seed, rate)
    generate_s = time.perf_counter() - t0
    run = run_engine(items, model, customs, seed)
    start = day_start(warehouse.site.utc_offset_h)
    day = [(now, d.decision) for (now, _), d in zip(items, run.decisions, strict=True) if now < start + DAY_S]
    gate = GateModel(
        lanes or warehouse.gate.xray_lanes,
        warehouse.gate.xray_s,
        warehouse.gate.manual_check_s,
        warehouse.sortation.conveyor_to_gate_s,
        customs.xray_suspect_rate,
        warehouse.gate.manual_officers,
    )
    per_s = parcels / run.decide_s if run.decide_s > 0 else float("inf")
    return {
        "parcels": parcels,
        "seed": seed,
        "orders_per_hour": rate,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "generate_s": generate_s,
        "engine": {
            "decide_s": run.decide_s,
            "decisions_per_s": per_s,
            "with_history_per_s": parcels / run.total_s if run.total_s > 0 else float("inf"),
            "with_history_per_cpu_s": parcels / run.total_cpu_s if run.total_cpu_s > 0 else float("inf"),
            "cpu_share": run.total_cpu_s / run.total_s if run.total_s > 0 else 1.0,
            "target_per_s": TARGET_PER_S,
            "meets_target": per_s >= TARGET_PER_S,
            "decisions": dict(Counter(d.decision for d in run.decisions)),
            "reasons": dict(Counter(code for d in run.decisions for code in dict.fromkeys(d.codes))),
            "injected_defects": dict(model.defects),
        },
        "gate": {
            "hours_covered": min((items[-1][0] - start) / 3600, 24.0),
            **simulate_gate(day, gate, start, seed),
        },
    }


def _s(seconds: float) -> str:
    """Seconds as a short human duration."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def render(result: dict[str, Any]) -> list[Table]:
    """Rich tables of a benchmark result: engine, reasons, gate, gate by hour."""
    e, g = result["engine"], result["gate"]
    engine = Table(title=f"Rule engine: {result['parcels']:,} parcels, seed {result['seed']}")
    engine.add_column("measure")
    engine.add_column("value", justify="right")
    engine.add_row("decisions/s (decide only, wall clock)", f"{e['decisions_per_s']:,.0f}")
    engine.add_row("decisions/s (with history)", f"{e['with_history_per_s']:,.0f}")
    engine.add_row("decisions per CPU-second (with history)", f"{e['with_history_per_cpu_s']:,.0f}")
    engine.add_row("CPU share while timing", f"{e['cpu_share']:.0%} (below 100%: other load)")
    engine.add_row("target", f"≥ {e['target_per_s']:,}/s: {'met' if e['meets_target'] else 'NOT met'}")
    engine.add_row("generation", _s(result["generate_s"]))
    for verdict in ("release", "hold", "reject"):
        engine.add_row(verdict, f"{e['decisions'].get(verdict, 0):,}")
    reasons = Table(title="Decisions by reason (orders)")
    reasons.add_column("reason")
    reasons.add_column("orders", justify="right")
    for code, count in sorted(e["reasons"].items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.add_row(code, f"{count:,}")
    gate = Table(title=f"Gate over a simulated day ({g['hours_covered']:.1f} h of arrivals)")
    gate.add_column("measure")
    gate.add_column("value", justify="right")
    for label, value in (
        ("lanes × X-ray", f"{g['lanes']} × {g['xray_s']:g} s ({g['capacity_per_h']:,.0f} parcels/h)"),
        ("parcels at the gate", f"{g['at_gate']:,} (rejected before a lane {g['rejected_no_lane']:,})"),
        ("hold rate", f"{g['hold_rate']:.2%} (rules {g['held_by_rules']:,}, X-ray {g['xray_suspects']:,})"),
        ("load mean / peak hour", f"{g['mean_load']:.0%} / {g['peak_load']:.0%} at {g['peak_hour']:02d}:00"),
        ("queue max (one lane)", f"{g['queue_max']:,} ({g['queue_max_one_lane']:,})"),
        ("queue p95 (seen on arrival)", f"{g['queue_p95']:,.0f}"),
        ("wait p50 / p99", f"{_s(g['wait_p50_s'])} / {_s(g['wait_p99_s'])}"),
        (
            f"hold lane wait p50 / p99 ({g['manual_officers']} officers × {g['manual_check_s']:g} s)",
            f"{_s(g['hold_lane_wait_p50_s'])} / {_s(g['hold_lane_wait_p99_s'])}",
        ),
        ("sort → release p50 / p99", f"{_s(g['sort_to_release_p50_s'])} / {_s(g['sort_to_release_p99_s'])}"),
        ("last release", f"{g['last_release_h']:.1f} h after midnight"),
    ):
        gate.add_row(label, value)
    hourly = Table(title="Gate by hour")
    hourly.add_column("hour")
    hourly.add_column("arrivals", justify="right")
    hourly.add_column("max queue", justify="right")
    for row in g["hourly"]:
        hourly.add_row(f"{row['hour']:02d}:00", f"{row['arrivals']:,}", f"{row['max_queue']:,}")
    return [engine, reasons, gate, hourly]
