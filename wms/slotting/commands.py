"""The ``wms slot`` and ``wms bench slotting`` commands: files in, plan or benchmark out."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from wms.config import ConfigError, load_warehouse
from wms.console.stderr import err, fail
from wms.slotting.model import Assignment, SlotItem, SlottingError, SlottingRules


class Method(StrEnum):
    """Slotting methods the command offers."""

    OPTIMAL = "optimal"
    COI = "coi"
    ABC = "abc"
    RANDOM = "random"


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``slot`` to ``app`` and ``slotting`` to the ``bench`` group."""
    app.command("slot")(slot)
    bench.command("slotting")(bench_slotting)


def _layout(path: Path | None) -> tuple[SlottingRules, dict[str, SlotItem]]:
    """The heavy-SKU rule and every slot (with travel) of the warehouse TOML (default: the configured one)."""
    from wms.slotting.io import layout_slots

    cfg = load_warehouse(path)
    slots = {s.slot: s for s in layout_slots(cfg.storage, cfg.pack.stations)}
    return SlottingRules.from_storage(cfg.storage), slots


def slot(
    skus: Annotated[
        Path, typer.Option("--skus", help="skus.csv: sku,velocity,volume_l,weight_kg,zone,hazard")
    ],
    slots: Annotated[
        Path,
        typer.Option("--slots", help="slots.csv: slot,zone,volume_l,max_kg,hazard_ok,level[,travel_m,aisle]"),
    ],
    method: Annotated[Method, typer.Option(help="slotting method")] = Method.OPTIMAL,
    current: Annotated[Path | None, typer.Option(help="current assignment.csv: re-slot from it")] = None,
    moves: Annotated[int | None, typer.Option(help="move budget of the re-slot (with --current)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the assignment (sku,slot) here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON only")] = False,
    layout: Annotated[
        Path | None,
        typer.Option(help="warehouse TOML: travel_m when slots.csv lacks it, and the heavy-SKU rule"),
    ] = None,
    heavy_kg: Annotated[float | None, typer.Option(help="override: SKUs heavier than this go low")] = None,
    heavy_max_level: Annotated[
        int | None, typer.Option(help="override: highest level for heavy SKUs")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the random and abc methods")] = 0,
    affinity: Annotated[
        Path | None, typer.Option(help="affinity.csv (sku_a,sku_b,weight): CP-SAT refinement of the plan")
    ] = None,
    credit_m: Annotated[
        float, typer.Option(help="metres credited per co-order of a pair sharing an aisle")
    ] = 10.0,
    time_limit: Annotated[float, typer.Option(help="CP-SAT time limit of the affinity refinement, s")] = 10.0,
) -> None:
    """Assign SKUs to slots (optimal or a baseline), or propose the best K moves from a current assignment."""
    from wms.slotting import io
    from wms.slotting.affinity import refine_affinity
    from wms.slotting.bench import timed
    from wms.slotting.putaway import PLANNERS
    from wms.slotting.reslot import plan_reslot

    if (current is None) != (moves is None):
        raise fail("--current and --moves go together")
    if moves is not None and moves < 0:
        raise fail("--moves must be ≥ 0")
    try:
        rules, known = _layout(layout)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    rules = SlottingRules(
        heavy_kg=rules.heavy_kg if heavy_kg is None else heavy_kg,
        heavy_max_level=rules.heavy_max_level if heavy_max_level is None else heavy_max_level,
    )
    try:
        sku_list = io.read_skus(skus)
        slot_list = io.read_slots(slots, known)
        cur = io.read_assignment(current) if current else None
        if cur is not None:
            io.check_names(cur, sku_list, slot_list, str(current))
        pairs = io.read_affinity(affinity) if affinity else None
        planner = PLANNERS[method.value]
        kwargs: dict[str, Any] = {"seed": seed} if method in (Method.RANDOM, Method.ABC) else {}
        result = timed(lambda: planner(sku_list, slot_list, rules, **kwargs))
        extra: dict[str, Any] = {}
        if pairs is not None:
            start = time.perf_counter()
            refined = refine_affinity(
                sku_list, slot_list, rules, result, pairs, credit_m=credit_m, time_limit_s=time_limit
            )
            refined.assignment.seconds = result.seconds + time.perf_counter() - start
            extra["affinity"] = {
                "status": refined.status,
                "objective": refined.objective,
                "bound": refined.bound,
                "gap": refined.gap,
                "same_aisle_before": refined.same_aisle_before,
                "same_aisle_after": refined.same_aisle_after,
                "skus": refined.skus_considered,
                "credit_m": credit_m,
            }
            result = refined.assignment
        if cur is not None and moves is not None:
            start = time.perf_counter()
            plan = plan_reslot(sku_list, slot_list, rules, cur, moves, optimum=result)
            reference = result
            result = Assignment(
                method=f"reslot({result.method})",
                slots=plan.assignment,
                objective=plan.after,
                lower_bound=reference.lower_bound,
                optimal=reference.optimal and plan.after == reference.objective,
                unplaced=[u for u in reference.unplaced if u.sku not in plan.assignment],
                seconds=reference.seconds + time.perf_counter() - start,
                shortfalls=reference.shortfalls,
                notes=plan.notes,
            )
            extra["reslot"] = {
                "budget": moves,
                "moves": [
                    {
                        "sku": m.sku,
                        "from": m.from_slot,
                        "to": m.to_slot,
                        "swap_with": m.other,
                        "saving": m.saving,
                    }
                    for m in plan.moves
                ],
                "before": plan.before,
                "after": plan.after,
                "full": plan.full,
                "saving": plan.saving,
                "full_saving": plan.full_saving,
                "recovery": plan.recovery,
                "full_moved": plan.full_moved,
            }
        if out is not None:
            io.write_assignment(out, result.slots)
    except SlottingError as exc:
        raise fail(str(exc)) from None
    summary = _summary(result, len(sku_list), len(slot_list)) | extra
    if as_json:
        typer.echo(json.dumps(summary))
        return
    _print(summary)


def _summary(result: Assignment, n_skus: int, n_slots: int) -> dict[str, Any]:
    """The ``--json`` document of a result."""
    return {
        "method": result.method,
        "skus": n_skus,
        "slots": n_slots,
        "placed": result.placed,
        "objective": result.objective,
        "lower_bound": result.lower_bound,
        "optimal": result.optimal,
        "unplaced": [{"sku": u.sku, "reason": u.reason} for u in result.unplaced],
        "seconds": result.seconds,
        "shortfalls": result.shortfalls,
    }


def _print(summary: dict[str, Any]) -> None:
    """The result for people: a table, the shortfalls and the first unplaced SKUs."""
    out = Console()
    table = Table(title="slotting", show_header=False)
    for key in ("method", "skus", "slots", "placed", "objective", "lower_bound", "optimal", "seconds"):
        value = summary[key]
        text = f"{value:,.3f}" if isinstance(value, float) else "—" if value is None else str(value)
        table.add_row(key, text)
    if "reslot" in summary:
        r = summary["reslot"]
        table.add_row("moves", f"{len(r['moves'])} of {r['budget']}")
        table.add_row("saving m/day", f"{r['saving']:,.1f} of {r['full_saving']:,.1f} ({r['recovery']:.1%})")
    if "affinity" in summary:
        a = summary["affinity"]
        table.add_row(
            "affinity",
            f"{a['status']}, gap {a['gap']:.1%}, same-aisle co-orders "
            f"{a['same_aisle_before']:.1f} → {a['same_aisle_after']:.1f}",
        )
    out.print(table)
    for line in summary["shortfalls"]:
        out.print(line, style="yellow", highlight=False, markup=False)
    for u in summary["unplaced"][:20]:
        out.print(f"unplaced {u['sku']}: {u['reason']}", highlight=False, markup=False)
    if len(summary["unplaced"]) > 20:
        out.print(f"… and {len(summary['unplaced']) - 20} more unplaced")


def bench_slotting(
    sizes: Annotated[str, typer.Option(help="comma-separated SKU counts")] = "1000,10000,50000",
    seed: Annotated[int, typer.Option(help="instance seed")] = 1,
    moves_fraction: Annotated[float, typer.Option(help="re-slot budget as a share of SKUs")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON only")] = False,
    save: Annotated[Path | None, typer.Option(help="also write the JSON here")] = None,
) -> None:
    """Benchmark the slotting methods at 1.2 slots per SKU on 80/20 demand: objective / optimum, seconds."""
    from wms.slotting.bench import print_table, run

    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise fail(f"--sizes {sizes!r} is not a comma-separated list of whole numbers") from None
    if not counts or min(counts) < 1:
        raise fail("--sizes needs positive SKU counts")
    report = run(counts, seed=seed, moves_fraction=moves_fraction, progress=None if as_json else err)
    text = json.dumps(report, indent=2)
    if save is not None:
        save.write_text(text + "\n", encoding="utf-8")
    if as_json:
        typer.echo(text)
    else:
        print_table(report, Console())
