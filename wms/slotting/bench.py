"""The slotting benchmark: Pareto-demand instances on a generated storage block, every method timed.

An instance of n SKUs has round(1.2 n) slots in a block of 5 levels (level 0 holds large, strong pallet
slots), the last sixth of the aisles duty-paid and one hazard-rated aisle per zone; travel comes from the
layout graph. Demand is 80/20: expected picks per day fall with popularity rank r as r^-θ, θ chosen so
the top fifth of SKUs draw 80% of picks. Some SKUs are hazardous, heavy or bulky.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from wms.config import Storage
from wms.domain import Zone
from wms.slotting.io import layout_slots
from wms.slotting.model import Assignment, SkuItem, SlotItem, SlottingRules

HISTORY_DAYS = 90
RULES = SlottingRules(heavy_kg=15.0, heavy_max_level=1)


def make_slots(n_slots: int, pack_stations: int = 4) -> list[SlotItem]:
    """About ``n_slots`` slots of a generated block (the farthest dropped to hit the count exactly)."""
    positions = math.ceil(n_slots / 10)
    aisles = max(2, round(math.sqrt(positions / 2.4)))
    bays = math.ceil(positions / aisles)
    duty = max(1, aisles // 6)
    storage = Storage(
        aisles=aisles,
        bays_per_aisle=bays,
        levels=5,
        bay_width_m=1.2,
        aisle_pitch_m=3.0,
        duty_paid_aisles=duty,
        slot_volume_l=200,
        slot_max_kg=60,
        heavy_kg=RULES.heavy_kg,
        heavy_max_level=RULES.heavy_max_level,
        hazard_aisles=[aisles - duty - 1, aisles - 1],
    )
    slots = layout_slots(storage, pack_stations)
    slots.sort(key=lambda s: (s.travel_m, s.slot))
    out = [replace(s, volume_l=400.0, max_kg=300.0) if s.level == 0 else s for s in slots[:n_slots]]
    return sorted(out, key=lambda s: s.slot)


def pareto_exponent(n: int, top: float = 0.2, share: float = 0.8) -> float:
    """θ such that with picks ∝ rank^-θ the top ``top`` of ``n`` SKUs draw ``share`` of all picks."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    lo, hi = 0.0, 4.0
    for _ in range(60):
        mid = (lo + hi) / 2
        w = ranks**-mid
        lo, hi = (mid, hi) if w[: max(1, int(n * top))].sum() / w.sum() < share else (lo, mid)
    return (lo + hi) / 2


def make_skus(n: int, slots: list[SlotItem], seed: int, picks_per_sku: float = 2.0) -> list[SkuItem]:
    """``n`` SKUs with 80/20 demand, zones in proportion to the slots, some hazardous, heavy or bulky.

    Velocity is picks counted over a 90-day history (Poisson around rank^-θ) divided by 90.
    """
    rng = np.random.default_rng(seed)
    duty_share = sum(s.zone == Zone.DUTY_PAID for s in slots) / max(1, len(slots))
    weight = np.arange(1, n + 1, dtype=np.float64) ** -pareto_exponent(n)
    rate = rng.permutation(weight / weight.mean() * picks_per_sku)
    velocity = rng.poisson(rate * HISTORY_DAYS) / HISTORY_DAYS
    heavy = rng.random(n) < 0.12
    kg = np.where(heavy, rng.uniform(15.5, 55.0, n), np.minimum(rng.lognormal(0.7, 0.8, n), 14.0))
    bulky = rng.random(n) < 0.03
    litres = np.where(bulky, rng.uniform(210.0, 380.0, n), np.minimum(rng.lognormal(2.8, 0.9, n), 190.0))
    duty = rng.random(n) < duty_share
    hazard = rng.random(n) < 0.015
    return [
        SkuItem(
            sku=f"K{k:06d}",
            velocity=round(float(velocity[k]), 3),
            volume_l=round(max(0.1, float(litres[k])), 1),
            weight_kg=round(max(0.05, float(kg[k])), 2),
            zone=Zone.DUTY_PAID if duty[k] else Zone.BONDED,
            hazard=bool(hazard[k]),
        )
        for k in range(n)
    ]


def make_instance(
    n_skus: int, seed: int = 1, slots_per_sku: float = 1.2
) -> tuple[list[SkuItem], list[SlotItem]]:
    """A benchmark instance: SKUs and slots."""
    slots = make_slots(round(n_skus * slots_per_sku))
    return make_skus(n_skus, slots, seed), slots


def drift(skus: list[SkuItem], seed: int, share: float = 0.1) -> list[SkuItem]:
    """The same SKUs later: a fresh 90-day count of picks, and ``share`` of SKUs trading popularity."""
    rng = np.random.default_rng(seed)
    rate = np.array([s.velocity for s in skus], dtype=np.float64)
    movers = rng.choice(len(skus), size=int(len(skus) * share) // 2 * 2, replace=False)
    rate[movers] = rate[movers[::-1]]
    velocity = rng.poisson(rate * HISTORY_DAYS) / HISTORY_DAYS
    return [replace(s, velocity=round(float(v), 3)) for s, v in zip(skus, velocity, strict=True)]


def timed(fn: Callable[[], Assignment]) -> Assignment:
    """Run a planner and record its wall time (from raw rows to result) in the result."""
    start = time.perf_counter()
    result = fn()
    result.seconds = time.perf_counter() - start
    return result


def _share_of_top(skus: list[SkuItem], top: float = 0.2) -> float:
    """Share of all picks drawn by the fastest ``top`` of SKUs (0.8 for an 80/20 profile)."""
    v = np.sort(np.array([s.velocity for s in skus]))[::-1]
    return float(v[: max(1, int(len(v) * top))].sum() / max(v.sum(), 1e-12))


def run(
    sizes: list[int], *, seed: int = 1, moves_fraction: float = 0.05, progress: Console | None = None
) -> dict[str, Any]:
    """Every method at every size, and the re-slot from random storage and from drifted demand."""
    from wms.slotting.putaway import PLANNERS
    from wms.slotting.reslot import plan_reslot

    rows: list[dict[str, Any]] = []
    reslots: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    for n in sizes:
        skus, slots = make_instance(n, seed)
        instances.append({"skus": n, "slots": len(slots), "top20_share": round(_share_of_top(skus), 4)})
        results: dict[str, Assignment] = {}
        for name, planner in PLANNERS.items():
            if progress:
                progress.print(f"{n} SKUs: {name}…")
            kwargs = {"seed": seed} if name in ("random", "abc") else {}
            results[name] = timed(partial(planner, skus, slots, RULES, **kwargs))
        best = results["optimal"]
        for name, r in results.items():
            rows.append(
                {
                    "skus": n,
                    "slots": len(slots),
                    "method": name,
                    "objective": round(r.objective, 3),
                    "ratio": round(r.objective / best.objective, 4) if best.objective else None,
                    "seconds": round(r.seconds, 3),
                    "placed": r.placed,
                    "optimal": r.optimal,
                    "lower_bound": r.lower_bound,
                }
            )
        budget = max(1, round(moves_fraction * n))
        if progress:
            progress.print(f"{n} SKUs: re-slot…")
        start = time.perf_counter()
        plan = plan_reslot(skus, slots, RULES, results["random"].slots, budget, optimum=best)
        reslots.append(_reslot_row(n, "random", budget, plan, time.perf_counter() - start))
        later = drift(skus, seed + 1)
        new_best = timed(partial(PLANNERS["optimal"], later, slots, RULES))
        start = time.perf_counter()
        plan = plan_reslot(later, slots, RULES, best.slots, budget, optimum=new_best)
        reslots.append(_reslot_row(n, "drifted", budget, plan, time.perf_counter() - start))
    return {
        "profile": {
            "slots_per_sku": 1.2,
            "demand": "picks/day ∝ rank^-θ, top 20% of SKUs = 80% of picks, 90-day Poisson counts",
            "seed": seed,
            "moves_fraction": moves_fraction,
            "reslot_from": {
                "random": "random storage",
                "drifted": "yesterday's optimal plan after a fresh 90-day count, 10% of SKUs trading demand",
            },
            "cpus": os.cpu_count(),
        },
        "instances": instances,
        "methods": rows,
        "reslot": reslots,
    }


def _reslot_row(n: int, current: str, budget: int, plan: Any, seconds: float) -> dict[str, Any]:
    """One re-slot result as a JSON row."""
    return {
        "skus": n,
        "current": current,
        "budget": budget,
        "moves": len(plan.moves),
        "swaps": sum(m.other is not None for m in plan.moves),
        "before": round(plan.before, 3),
        "after": round(plan.after, 3),
        "full": round(plan.full, 3),
        "saving": round(plan.saving, 3),
        "full_saving": round(plan.full_saving, 3),
        "recovery": round(plan.recovery, 4),
        "full_moved": plan.full_moved,
        "seconds": round(seconds, 3),
    }


def print_table(report: dict[str, Any], console: Console) -> None:
    """The benchmark as Rich tables."""
    table = Table(title="slotting methods: expected travel (m/day) as a ratio to the proven optimum")
    for col in ("SKUs", "slots", "method", "objective m/day", "ratio", "seconds", "placed", "proven"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in report["methods"]:
        table.add_row(
            f"{r['skus']:,}",
            f"{r['slots']:,}",
            r["method"],
            f"{r['objective']:,.1f}",
            f"{r['ratio']:.3f}",
            f"{r['seconds']:.2f}",
            f"{r['placed']:,}",
            "yes" if r["optimal"] else "",
        )
    console.print(table)
    table = Table(title=f"re-slot with a budget of {report['profile']['moves_fraction']:.0%} of SKUs")
    for col in (
        "SKUs",
        "from",
        "moves",
        "swaps",
        "saving m/day",
        "full saving",
        "recovery",
        "seconds",
    ):
        table.add_column(col, justify="left" if col == "from" else "right")
    for r in report["reslot"]:
        table.add_row(
            f"{r['skus']:,}",
            r["current"],
            f"{r['moves']:,}",
            f"{r['swaps']:,}",
            f"{r['saving']:,.0f}",
            f"{r['full_saving']:,.0f}",
            f"{r['recovery']:.1%}",
            f"{r['seconds']:.2f}",
        )
    console.print(table)
