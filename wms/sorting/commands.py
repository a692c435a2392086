"""The ``wms bench sort`` command (and ``wms check-sort-trace``): lifelong sorting benchmark on a map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from wms.console.stderr import err, problem
from wms.sorting.bench import BenchConfig, BenchResult, run_bench
from wms.sorting.maps import MapError, SortMap, from_sort_grid, load_sort_map
from wms.sorting.tasks import RULES
from wms.sorting.trace import TraceWriter, check_trace
from wms.sorting.traffic import PLANNERS, TURN_PLANNERS

out = Console()
if not out.is_terminal:
    out = Console(width=140)


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what}: expected integers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{what}: expected positive integers, got {text!r}")
    return values


def _load(path: Path | None, config: Path | None) -> tuple[SortMap, float]:
    """The map (a file, or the project's grid from the warehouse config) and the config's seconds per step."""
    from wms.config import ConfigError, load_warehouse
    from wms.sorting.grid import build_grid

    try:
        cfg = load_warehouse(config)
    except ConfigError as exc:
        problem("config error", exc)
        raise typer.Exit(2) from None
    step_s = cfg.sortation.cell_m / cfg.fleet.sorting.speed_mps
    try:
        if path is None:
            return from_sort_grid(build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots)), step_s
        return load_sort_map(path), step_s
    except MapError as exc:
        problem("map error", exc)
        raise typer.Exit(2) from None


def _destinations(spec: str, m: SortMap, seed: int) -> np.ndarray | None:
    """Chute weights: ``uniform``, or ``zipf:S[:D]`` (D destinations, Zipf volumes, OR-Tools chute plan)."""
    if spec == "uniform":
        return None
    parts = spec.split(":")
    try:
        if parts[0] != "zipf" or len(parts) not in (2, 3):
            raise ValueError
        s = float(parts[1])
        count = int(parts[2]) if len(parts) == 3 else max(1, m.chutes // 4)
    except ValueError:
        raise typer.BadParameter(
            f"--destinations: expected 'uniform' or 'zipf:S[:D]', got {spec!r}"
        ) from None
    from wms.sorting.chutes import Destination, plan_chutes, sites_from_map
    from wms.sorting.distances import Distances

    rng = np.random.default_rng(seed)
    volumes = 1.0 / np.arange(1, count + 1) ** s
    rng.shuffle(volumes)
    dests = [Destination(f"K{i % 4}", f"R{i:04d}", float(v)) for i, v in enumerate(volumes)]
    try:
        plan = plan_chutes(dests, sites_from_map(m, Distances(m)), overflow=0)
    except ValueError as exc:
        raise typer.BadParameter(f"--destinations: {exc}") from None
    return plan.weights(m.chute_names)


def _label(r: BenchResult) -> str:
    """The planner's name, marked when the run used the turn-in-place model."""
    return f"{r.planner}+turns" if r.rotation else r.planner


def _table(results: list[BenchResult]) -> Table:
    t = Table(title="lifelong sorting benchmark")
    for col in (
        "planner",
        "rules",
        "robots",
        "steps",
        "tasks/step",
        "bound",
        "eff.",
        "parcels/h",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 CPU ms",
        "longest task",
        "s",
    ):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(
            _label(r),
            r.rules,
            str(r.robots),
            str(r.steps),
            f"{r.tasks_per_step:.2f}",
            f"{r.bound_tasks_per_step:.2f}",
            f"{r.efficiency:.1%}",
            f"{r.parcels_per_hour:,.0f}",
            f"{r.plan_ms['p50']:.1f}",
            f"{r.plan_ms['p99']:.1f}",
            f"{r.plan_ms['max']:.1f}",
            f"{r.plan_cpu_p99:.1f}",
            str(r.longest_task),
            f"{r.seconds:.0f}",
        )
    return t


def plot(results: list[BenchResult], path: Path) -> None:
    """PNG of throughput (with its no-congestion bound) and planning time against robots, per planner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in sorted({(_label(r), r.rules) for r in results}):
        rs = sorted((r for r in results if (_label(r), r.rules) == name), key=lambda r: r.robots)
        x = [r.robots for r in rs]
        label = f"{name[0]} ({name[1]})"
        ax1.plot(x, [r.tasks_per_step for r in rs], "o-", label=label)
        ax1.plot(
            x,
            [r.bound_tasks_per_step for r in rs],
            ":",
            color=ax1.lines[-1].get_color(),
            label=f"{label} bound",
        )
        ax2.plot(x, [r.plan_ms["p99"] for r in rs], "o-", label=f"{label} p99")
        ax2.plot(
            x, [r.plan_ms["p50"] for r in rs], "x--", color=ax2.lines[-1].get_color(), label=f"{label} p50"
        )
    ax1.set(xlabel="robots", ylabel="tasks per timestep", title=f"throughput on {results[0].map}")
    ax2.set(xlabel="robots", ylabel="planning ms per timestep", title="planning time")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``sort`` to ``bench`` and ``check-sort-trace`` to ``app``."""

    @bench.command("sort")
    def sort(
        map_file: Annotated[
            Path | None, typer.Option("--map", help=".grid or .map file (default: config grid)")
        ] = None,
        robots: Annotated[str, typer.Option(help="robot count, or a sweep: 100,200,...")] = "800",
        steps: Annotated[int, typer.Option(min=1, help="timesteps")] = 5000,
        seed: Annotated[int, typer.Option(help="random seed")] = 0,
        rules: Annotated[str, typer.Option(help="goal rules: rhcr or free")] = "free",
        planner: Annotated[
            str, typer.Option(help=f"traffic planner(s), comma-separated: {', '.join(PLANNERS)}")
        ] = "lns",
        destinations: Annotated[
            str, typer.Option(help="chute distribution: uniform or zipf:S[:D]")
        ] = "uniform",
        seconds_per_step: Annotated[
            float | None, typer.Option(help="default: cell size / robot speed")
        ] = None,
        window: Annotated[int, typer.Option(min=1, help="lns: planning window (steps)")] = 10,
        iters: Annotated[int, typer.Option(min=0, help="lns: neighbourhoods repaired per step")] = 600,
        rotation: Annotated[
            bool,
            typer.Option(
                "--rotation",
                help="turn-in-place model (pibt only): per step a robot moves one cell forward in its "
                "heading, turns 90° or waits; starting headings seeded; the trace gains headings; the "
                "bound is then robots / mean shortest task length counting turns (from the robot's cell "
                "and heading when the task is handed out)",
            ),
        ] = False,
        trace: Annotated[Path | None, typer.Option(help="write the run's trace (JSON lines)")] = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="write the figures as JSON")] = None,
        plot_out: Annotated[
            Path | None, typer.Option("--plot", help="PNG of throughput and plan time")
        ] = None,
        config: Annotated[
            Path | None, typer.Option(help="warehouse TOML (default config/warehouse.toml)")
        ] = None,
    ) -> None:
        """Lifelong sorting benchmark: robots shuttle parcels between inducts and chutes, conflict-free.

        The bound is robots / mean shortest length of the tasks handed out (no congestion); with --rotation
        those lengths count the 90° turns too.
        """
        counts = _ints(robots, "--robots")
        planners = [p.strip() for p in planner.split(",") if p.strip()]
        bad = [p for p in planners if p not in PLANNERS]
        if bad or not planners:
            raise typer.BadParameter(
                f"--planner: unknown {bad or planner!r} (choose from {', '.join(PLANNERS)})"
            )
        if rules not in RULES:
            raise typer.BadParameter(f"--rules: expected one of {', '.join(RULES)}, got {rules!r}")
        if rotation and any(p not in TURN_PLANNERS for p in planners):
            raise typer.BadParameter(
                f"--rotation: the turn-in-place model is planned by {', '.join(TURN_PLANNERS)} only, "
                f"not {', '.join(p for p in planners if p not in TURN_PLANNERS)}"
            )
        if trace is not None and len(counts) * len(planners) > 1:
            raise typer.BadParameter("--trace needs a single run (one robot count, one planner)")
        m, step_s = _load(map_file, config)
        weights = _destinations(destinations, m, seed)
        results: list[BenchResult] = []
        for n in counts:
            for p in planners:
                cfg = BenchConfig(
                    robots=n,
                    steps=steps,
                    seed=seed,
                    rules=rules,
                    planner=p,
                    seconds_per_step=seconds_per_step or step_s,
                    chute_weights=weights,
                    options={"window": window, "iters": iters} if p == "lns" else {},
                    rotation=rotation,
                )
                try:
                    if trace is not None:
                        with trace.open("w") as fh:
                            writer = TraceWriter(fh, m, n, rotation)
                            results.append(run_bench(m, cfg, writer.step))
                    else:
                        results.append(run_bench(m, cfg))
                except MapError as exc:
                    problem("map error", exc)
                    raise typer.Exit(2) from None
                out.print(
                    f"{_label(results[-1])} {rules} {n} robots: {results[-1].tasks_per_step:.2f} tasks/step",
                    highlight=False,
                )
        out.print(_table(results))
        if json_out is not None:
            data = [r.to_json() for r in results]
            json_out.write_text(json.dumps(data[0] if len(data) == 1 else data, indent=2) + "\n")
        if plot_out is not None:
            plot(results, plot_out)

    @app.command("check-sort-trace")
    def check_sort_trace(
        trace_file: Annotated[Path, typer.Argument(help="trace written by wms bench sort --trace")],
        map_file: Annotated[
            Path | None, typer.Option("--map", help=".grid or .map file (default: config grid)")
        ] = None,
        config: Annotated[
            Path | None, typer.Option(help="warehouse TOML (default config/warehouse.toml)")
        ] = None,
    ) -> None:
        """Replay a sorting trace; exit 1 on any collision, swap, illegal move or misplaced task."""
        m, _ = _load(map_file, config)
        with trace_file.open() as fh:
            report = check_trace(fh, m)
        for v in report.violations:
            err.print(v, highlight=False, markup=False)
        out.print(
            f"{report.steps} steps, {report.tasks} tasks, {report.parcels} parcels, "
            f"{len(report.violations)} violations",
            highlight=False,
        )
        if not report.ok:
            raise typer.Exit(1)
