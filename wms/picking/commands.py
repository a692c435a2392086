"""The picking commands: ``wms route``, ``wms batch`` and ``wms bench picking``.

Every input is read and checked before anything is planned, so a bad row stops the command with a
message naming it (exit 2) and nothing half-planned is printed.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wms.console.stderr import err, fail
from wms.picking import bench as bench_mod
from wms.picking.batch import BATCH_METHODS, Cart, make_batches, monotone, router
from wms.picking.block import PickError
from wms.picking.io import read_layout, read_orders, read_picks
from wms.picking.ortools_route import METHODS, route

out = Console()
_OUT = out
WIDE = 150  # the bench tables' width, also when piped

LayoutOpt = Annotated[
    Path, typer.Option("--layout", help="layout TOML: aisles, aisle_length_m, aisle_pitch_m, …")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
TimeOpt = Annotated[float, typer.Option("--time-limit", help="OR-Tools search time per route, seconds")]


def route_cmd(
    layout: LayoutOpt,
    picks: Annotated[Path, typer.Option("--picks", help="CSV with columns aisle,position_m")],
    method: Annotated[str, typer.Option(help=f"one of {', '.join(METHODS)}")] = "exact",
    time_limit: TimeOpt = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Route a picker from the depot through the picks and back."""
    try:
        if method not in METHODS:
            raise PickError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if not time_limit > 0:
            raise PickError(f"--time-limit must be positive, got {time_limit}")
        block = read_layout(layout)
        pts = read_picks(picks, block)
        t = time.perf_counter()
        r = route(block, pts, method, time_limit)
        seconds = time.perf_counter() - t
    except PickError as exc:
        raise fail(exc) from None
    doc = {
        "method": r.method,
        "length_m": round(r.length_m, 6),
        "sequence": list(r.sequence),
        "seconds": seconds,
    }
    if as_json:
        print(json.dumps(doc))
        return
    out.print(f"{r.method}: {r.length_m:.2f} m through {len(pts)} picks in {seconds * 1000:.1f} ms")
    if not math.isnan(r.walk_m) and r.walk_m > r.length_m + 1e-6:
        out.print(f"(the heuristic's own walk is {r.walk_m:.2f} m)")
    out.print("sequence: " + " ".join(str(i) for i in r.sequence))


def batch_cmd(
    layout: LayoutOpt,
    orders: Annotated[
        Path, typer.Option("--orders", help="CSV: order,aisle,position_m,qty[,volume_l][,due]")
    ],
    capacity: Annotated[int, typer.Option("--capacity", help="cart capacity in items")],
    volume: Annotated[float, typer.Option("--volume", help="cart capacity in litres")] = math.inf,
    method: Annotated[str, typer.Option(help=f"one of {', '.join(BATCH_METHODS)}")] = "savings+ls",
    routing: Annotated[str, typer.Option("--routing", help="routing method for batch lengths")] = "exact",
    time_limit: TimeOpt = 0.1,
    as_json: JsonOpt = False,
) -> None:
    """Batch orders onto carts and route each batch; compares with FCFS + S-shape."""
    try:
        if method not in BATCH_METHODS:
            raise PickError(f"unknown batching method {method!r}; choose one of {', '.join(BATCH_METHODS)}")
        if routing not in METHODS:
            raise PickError(f"unknown routing method {routing!r}; choose one of {', '.join(METHODS)}")
        if not time_limit > 0:
            raise PickError(f"--time-limit must be positive, got {time_limit}")
        cart = Cart(capacity, volume)
        if capacity < 1 or not volume > 0:
            raise PickError(f"--capacity and --volume must be positive, got {capacity} and {volume}")
        block = read_layout(layout)
        rows = read_orders(orders, block, cart)
        t = time.perf_counter()
        lengths = router(block, routing, time_limit)
        plan = make_batches(rows, cart, lengths, method, monotone=monotone(routing))
        seconds = time.perf_counter() - t
        base = make_batches(rows, cart, router(block, "sshape"), "fcfs").total_m
        batches = []
        for b, length in zip(plan.batches, plan.lengths_m, strict=True):
            picks = [p for i in b for p in rows[i].picks]
            r = route(block, picks, routing, time_limit)
            batches.append(
                {
                    "orders": [rows[i].order for i in b],
                    "items": sum(rows[i].items for i in b),
                    "volume_l": sum(rows[i].volume_l for i in b),
                    "length_m": round(length, 6),
                    "sequence": list(r.sequence),
                }
            )
    except PickError as exc:
        raise fail(exc) from None
    doc = {
        "method": method,
        "routing": routing,
        "total_m": round(plan.total_m, 6),
        "fcfs_sshape_m": round(base, 6),
        "saving_pct": round(100 * (1 - plan.total_m / base), 3) if base else 0.0,
        "late": list(plan.late),
        "batches": batches,
        "seconds": seconds,
    }
    if as_json:
        print(json.dumps(doc))
        return
    table = Table(title=f"{method} batches, {routing} routes")
    for col in ("batch", "orders", "items", "length m"):
        table.add_column(col)
    for k, b in enumerate(batches):
        table.add_row(str(k), " ".join(b["orders"]), str(b["items"]), f"{b['length_m']:.1f}")
    out.print(table)
    out.print(f"total {plan.total_m:.1f} m vs FCFS + S-shape {base:.1f} m: saving {doc['saving_pct']:.1f} %")
    if plan.late:
        out.print(Text.assemble(("late even alone:", "yellow"), " ", " ".join(plan.late)))


def bench_cmd(
    quick: Annotated[bool, typer.Option(help="a small grid, for a quick look")] = False,
    instances: Annotated[
        int | None, typer.Option(help="instances per routing cell (default 30; 5 quick)")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="directory for picking.json and picking.png")] = Path(
        "bench-results"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Benchmark routing heuristics and OR-Tools against exact routes, and batching against FCFS."""
    grid = bench_mod.QUICK if quick else bench_mod.FULL
    if instances is not None:
        if instances < 1:
            raise fail(PickError("--instances must be at least 1"))
        grid = replace(grid, instances=instances)
    progress = None if as_json else (lambda msg: err.print(msg, style="dim", highlight=False, markup=False))
    report = bench_mod.run(grid, seed, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "picking.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    bench_mod.plot(report, str(out_dir / "picking.png"))
    if as_json:
        print(json.dumps(report))
        return
    _print_report(report, out_dir)


def _print_report(report: dict, out_dir: Path) -> None:
    out = Console(width=max(_OUT.width, WIDE))  # the tables stay readable when piped
    methods = [*bench_mod.HEURISTICS, f"ortools@{report['grid']['ortools_fast_s']:g}s"]
    table = Table(
        title="mean gap to exact over all aisle counts, % (sequence under the oracle / heuristic's own walk)"
    )
    for col in ("cross", "storage", "picks", *methods, "exact ms median", "exact ms mean"):
        table.add_column(col, justify="right")
    cells = report["routing"]
    for cross, storage, picks in sorted({(c["cross_aisles"], c["storage"], c["picks"]) for c in cells}):
        sel = [c for c in cells if (c["cross_aisles"], c["storage"], c["picks"]) == (cross, storage, picks)]
        row = [str(cross), storage, str(picks)]
        for m in methods:
            gap = sum(c["methods"][m]["gap_pct"] for c in sel) / len(sel)
            walk = sum(c["methods"][m]["walk_gap_pct"] for c in sel) / len(sel)
            row.append(f"{gap:.1f}" if abs(walk - gap) < 0.05 else f"{gap:.1f}/{walk:.1f}")
        row.append(f"{statistics.median(c['exact_ms_median'] for c in sel):.2f}")
        row.append(f"{statistics.fmean(c['exact_ms'] for c in sel):.2f}")
        table.add_row(*row)
    out.print(table)
    slow = Table(title="OR-Tools with more time (random storage)")
    for col in (
        "cross",
        "aisles",
        "picks",
        "n",
        "time limit",
        "mean gap %",
        "max gap %",
        "ms/route",
        "exact ms median",
    ):
        slow.add_column(col, justify="right")
    for c in report["ortools_slow"]:
        ((name, s),) = c["methods"].items()
        slow.add_row(
            str(c["cross_aisles"]),
            str(c["aisles"]),
            str(c["picks"]),
            str(c["instances"]),
            name,
            f"{s['gap_pct']:.2f}",
            f"{s['max_gap_pct']:.2f}",
            f"{s['ms']:.0f}",
            f"{c['exact_ms_median']:.2f}",
        )
    out.print(slow)
    bt = Table(title="batching: saving vs FCFS + S-shape, % (exact routes)")
    for col in (
        "storage",
        "capacity",
        "fcfs",
        "seed",
        "savings",
        "savings+ls",
        "batches s+ls",
        "s+ls seconds",
    ):
        bt.add_column(col, justify="right")
    for r in report["batching"]:
        bt.add_row(
            r["storage"],
            str(r["capacity"]),
            *(f"{r[f'{m}_saving_pct']:.1f}" for m in ("fcfs", "seed", "savings", "savings+ls")),
            f"{r['savings+ls_batches']:.1f}",
            f"{r['savings+ls_s']:.2f}",
        )
    out.print(bt)
    out.print(
        f"{report['seconds']:.0f} s; wrote {out_dir / 'picking.json'} and {out_dir / 'picking.png'}",
        markup=False,
    )


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``route`` and ``batch`` to ``app`` and ``picking`` to ``bench``."""
    app.command("route")(route_cmd)
    app.command("batch")(batch_cmd)
    bench.command("picking")(bench_cmd)
