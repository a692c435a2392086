"""Benchmark of pick routing and batching against the exact routes, on the grid of the literature.

Routing: blocks of 5–30 aisles with 2 or 3 cross aisles, 5–60 picks under random or ABC storage, at
least 30 instances per cell; each heuristic and OR-Tools (0.1 s) is compared with the exact route of the
same instance (mean gap, and ms per route), OR-Tools at 1 s on a named subset (it costs a second per
route). Batching: the saving of FCFS, seed and savings (plus local search) with exact routes over FCFS
with S-shape routes, at cart capacities of 30, 45 and 60 items. The geometry is the reference
warehouse's aisles (24 m long, 3 m apart, depot in front of the first aisle).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from wms.picking.batch import BatchOrder, Cart, make_batches, router
from wms.picking.block import Block, Pick
from wms.picking.exact import exact_route
from wms.picking.heuristics import HEURISTICS
from wms.picking.ortools_route import ortools_route

STORAGES = ("random", "abc")
ABC = ((0.2, 0.8), (0.3, 0.15), (0.5, 0.05))  # share of aisles (nearest the depot first), share of picks


@dataclass(frozen=True)
class Grid:
    """What to run: the routing grid, the OR-Tools 1 s subset, and the batching instances."""

    aisles: tuple[int, ...] = (5, 10, 15, 20, 30)
    picks: tuple[int, ...] = (5, 10, 20, 30, 60)
    cross_aisles: tuple[int, ...] = (2, 3)
    storages: tuple[str, ...] = STORAGES
    instances: int = 30
    ortools_fast_s: float = 0.1
    slow_cells: tuple[tuple[int, int], ...] = ((10, 30), (10, 200), (30, 200))  # (aisles, picks)
    slow_instances: int = 10
    slow_s: float = 1.0
    capacities: tuple[int, ...] = (30, 45, 60)
    batch_orders: int = 60
    batch_instances: int = 10
    aisle_length_m: float = 24.0
    aisle_pitch_m: float = 3.0


FULL = Grid()
QUICK = Grid(
    aisles=(5, 10),
    picks=(5, 30),
    instances=5,
    slow_cells=((10, 200),),
    slow_instances=2,
    batch_orders=30,
    batch_instances=1,
)


def storage_picks(rng: np.random.Generator, block: Block, n: int, storage: str) -> list[Pick]:
    """``n`` picks: uniform over the block, or ABC by aisle (20/30/50 % of aisles take 80/15/5 % of picks)."""
    if storage == "random":
        aisles = rng.integers(0, block.aisles, n)
    elif storage == "abc":
        order = sorted(range(block.aisles), key=lambda a: (abs(a - block.depot_aisle), a))
        weights = np.zeros(block.aisles)
        start = 0
        for k, (share, demand) in enumerate(ABC):
            count = block.aisles - start if k == len(ABC) - 1 else max(1, round(share * block.aisles))
            members = order[start : start + count]
            if members:
                weights[members] = demand / len(members)
            start += count
        aisles = rng.choice(block.aisles, n, p=weights / weights.sum())
    else:
        raise ValueError(f"unknown storage {storage!r}")
    ys = np.round(rng.uniform(0.0, block.aisle_length_m, n), 3)
    return [Pick(int(a), float(y)) for a, y in zip(aisles, ys, strict=True)]


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000


@dataclass
class _Acc:
    gap: list[float] = field(default_factory=list)
    walk_gap: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    def add(self, length: float, walk: float, exact: float, ms: float) -> None:
        self.gap.append(100 * (length / exact - 1) if exact > 0 else 0.0)
        self.walk_gap.append(100 * (walk / exact - 1) if exact > 0 else 0.0)
        self.ms.append(ms)

    def summary(self) -> dict[str, float]:
        return {
            "gap_pct": statistics.fmean(self.gap),
            "walk_gap_pct": statistics.fmean(self.walk_gap),
            "max_gap_pct": max(self.gap),
            "ms": statistics.fmean(self.ms),
            "ms_median": statistics.median(self.ms),
        }


def _cell(
    grid: Grid,
    rng: np.random.Generator,
    aisles: int,
    picks: int,
    cross: int,
    storage: str,
    instances: int,
    ortools_s: float,
    heuristics: bool,
) -> dict:
    block = Block(aisles, grid.aisle_length_m, grid.aisle_pitch_m, cross, 0)
    acc: dict[str, _Acc] = {}
    exact_ms = []
    for _ in range(instances):
        pts = storage_picks(rng, block, picks, storage)
        ex, ms = _timed(lambda pts=pts: exact_route(block, pts))
        exact_ms.append(ms)
        methods: dict[str, Callable[[], object]] = {}
        if heuristics:
            methods.update({m: (lambda f=f, pts=pts: f(block, pts)) for m, f in HEURISTICS.items()})
        methods[f"ortools@{ortools_s:g}s"] = lambda pts=pts: ortools_route(block, pts, ortools_s)
        for name, fn in methods.items():
            r, ms = _timed(fn)
            acc.setdefault(name, _Acc()).add(r.length_m, r.walk_m, ex.length_m, ms)  # type: ignore[attr-defined]
    return {
        "aisles": aisles,
        "picks": picks,
        "cross_aisles": cross,
        "storage": storage,
        "instances": instances,
        "exact_ms": statistics.fmean(exact_ms),
        "exact_ms_median": statistics.median(exact_ms),
        "exact_ms_max": max(exact_ms),
        "methods": {name: a.summary() for name, a in acc.items()},
    }


def _batching(grid: Grid, rng: np.random.Generator, storage: str) -> list[dict]:
    block = Block(10, grid.aisle_length_m, grid.aisle_pitch_m, 2, 0)
    sshape, exact = router(block, "sshape"), router(block, "exact")
    rows: dict[int, dict[str, list[float]]] = {c: {} for c in grid.capacities}
    for _ in range(grid.batch_instances):
        orders = []
        for k in range(grid.batch_orders):
            lines = int(rng.integers(1, 5))
            pts = storage_picks(rng, block, lines, storage)
            orders.append(BatchOrder(f"O{k}", tuple(pts), int(rng.integers(1, 4, lines).sum())))
        for cap in grid.capacities:
            cart = Cart(cap)
            base = make_batches(orders, cart, sshape, "fcfs").total_m
            out = rows[cap]
            out.setdefault("fcfs+sshape_m", []).append(base)
            for method in ("fcfs", "seed", "savings", "savings+ls"):
                plan, ms = _timed(
                    lambda m=method, o=orders, c=cart: make_batches(o, c, exact, m, monotone=True)
                )
                out.setdefault(f"{method}_saving_pct", []).append(100 * (1 - plan.total_m / base))  # type: ignore[attr-defined]
                out.setdefault(f"{method}_s", []).append(ms / 1000)
                out.setdefault(f"{method}_batches", []).append(len(plan.batches))  # type: ignore[attr-defined]
    return [
        {
            "storage": storage,
            "capacity": cap,
            "orders": grid.batch_orders,
            "instances": grid.batch_instances,
            **{k: statistics.fmean(v) for k, v in vals.items()},
        }
        for cap, vals in rows.items()
    ]


def run(grid: Grid = FULL, seed: int = 1, progress: Callable[[str], None] | None = None) -> dict:
    """Run the benchmark and return its report (plain data, JSON-ready)."""
    rng = np.random.default_rng(seed)
    for cross in grid.cross_aisles:  # build the programme's tables before anything is timed
        exact_route(Block(2, 1.0, 1.0, cross), [(1, 0.5)])
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    routing = []
    for cross in grid.cross_aisles:
        for storage in grid.storages:
            for aisles in grid.aisles:
                for picks in grid.picks:
                    say(f"routing {cross} cross aisles, {storage}, {aisles} aisles, {picks} picks")
                    routing.append(
                        _cell(
                            grid,
                            rng,
                            aisles,
                            picks,
                            cross,
                            storage,
                            grid.instances,
                            grid.ortools_fast_s,
                            True,
                        )
                    )
    slow = []
    for cross in grid.cross_aisles:
        for aisles, picks in grid.slow_cells:
            say(f"OR-Tools {grid.slow_s:g} s: {cross} cross aisles, {aisles} aisles, {picks} picks")
            slow.append(
                _cell(grid, rng, aisles, picks, cross, "random", grid.slow_instances, grid.slow_s, False)
            )
    batching = []
    for storage in grid.storages:
        say(f"batching, {storage} storage")
        batching += _batching(grid, rng, storage)
    return {
        "grid": asdict(grid),
        "seed": seed,
        "routing": routing,
        "ortools_slow": slow,
        "batching": batching,
        "summary": summarise(routing),
        "seconds": time.perf_counter() - t0,
    }


def summarise(routing: list[dict]) -> list[dict]:
    """Mean gap and ms per method over all cells of each (cross aisles, storage)."""
    out = []
    keys = sorted({(c["cross_aisles"], c["storage"]) for c in routing})
    for cross, storage in keys:
        cells = [c for c in routing if (c["cross_aisles"], c["storage"]) == (cross, storage)]
        methods = sorted({m for c in cells for m in c["methods"]})
        row = {"cross_aisles": cross, "storage": storage}
        for m in methods:
            vals = [c["methods"][m] for c in cells if m in c["methods"]]
            row[m] = {k: statistics.fmean(v[k] for v in vals) for k in ("gap_pct", "walk_gap_pct", "ms")}
        row["exact_ms"] = statistics.fmean(c["exact_ms"] for c in cells)
        row["exact_ms_median"] = statistics.median(c["exact_ms_median"] for c in cells)
        out.append(row)
    return out


def plot(report: dict, path: str) -> None:
    """Gap to exact against picks per (cross aisles, storage), batching savings, and exact ms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(c["cross_aisles"], c["storage"]) for c in report["routing"]})
    cols = 3
    rows = (len(keys) + 2 + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.8 * rows), squeeze=False)
    panels = list(axes.flat)
    for ax, (cross, storage) in zip(panels, keys, strict=False):
        cells = [c for c in report["routing"] if (c["cross_aisles"], c["storage"]) == (cross, storage)]
        picks = sorted({c["picks"] for c in cells})
        for m in sorted({m for c in cells for m in c["methods"]}):
            ys = [
                statistics.fmean(c["methods"][m]["gap_pct"] for c in cells if c["picks"] == p) for p in picks
            ]
            ax.plot(picks, ys, marker="o", label=m)
        ax.set_title(f"{cross} cross aisles, {storage} storage (mean over aisle counts)", fontsize=9)
        ax.set_xlabel("picks per route")
        ax.set_ylabel("mean gap to exact (%)")
        ax.grid(alpha=0.3)
    panels[0].legend(fontsize=7)
    ax = panels[len(keys)]
    batch = report["batching"]
    width = 0.2
    for k, m in enumerate(("fcfs", "seed", "savings", "savings+ls")):
        xs = np.arange(len(batch)) + (k - 1.5) * width
        ax.bar(xs, [r[f"{m}_saving_pct"] for r in batch], width, label=m)
    ax.set_xticks(np.arange(len(batch)), [f"{r['storage']} {r['capacity']}" for r in batch], fontsize=7)
    ax.set_title("batching: saving vs FCFS + S-shape (exact routes)", fontsize=9)
    ax.set_ylabel("saving (%)")
    ax.legend(fontsize=7)
    ax = panels[len(keys) + 1]
    for cross in sorted({c["cross_aisles"] for c in report["routing"]}):
        cells = [c for c in report["routing"] if c["cross_aisles"] == cross]
        aisles = sorted({c["aisles"] for c in cells})
        ys = [statistics.median(c["exact_ms_median"] for c in cells if c["aisles"] == a) for a in aisles]
        ax.plot(aisles, ys, marker="o", label=f"{cross} cross aisles")
    ax.set_title("exact route: median ms per route", fontsize=9)
    ax.set_xlabel("aisles")
    ax.set_ylabel("ms")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    for ax in panels[len(keys) + 2 :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
