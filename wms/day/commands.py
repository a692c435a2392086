"""Command ``wms bench day``: a simulated 24-hour day through the whole flow, or a sweep of fleet sizes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from wms.bus.lockstep import DEFAULT_LATENCY_S
from wms.config import CONFIG_DIR, ConfigError, CustomsConfig, WarehouseConfig, load_customs, load_warehouse
from wms.console.stderr import fail, problem

CITY_ABOVE = 50_000  # orders a day above which the default warehouse is config/city.toml


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``day`` to the ``bench`` group."""
    bench.command("day")(bench_day)


def default_config(orders: int) -> Path:
    """config/city.toml for a city-scale day (more than 50,000 orders), else the reference warehouse."""
    name = "city.toml" if orders > CITY_ABOVE else "warehouse.toml"
    local = Path("config") / name
    return local if local.exists() else CONFIG_DIR / name


def _configs(config: Path, customs: Path | None) -> tuple[WarehouseConfig, CustomsConfig]:
    try:
        return load_warehouse(config), load_customs(customs)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def bench_day(
    orders: Annotated[
        int, typer.Option(min=1, help="orders placed over the day (mean rate ORDERS/24 per hour)")
    ] = 250_000,
    db: Annotated[
        list[str] | None,
        typer.Option(
            "--db",
            help="database URL; repeat to run the day on each, side by side (e.g. --db sqlite --db "
            "postgresql://…). 'sqlite' (default): a temporary SQLite file. The tables of a given "
            "database are dropped and recreated.",
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every figure here")] = None,
    png: Annotated[
        Path | None, typer.Option("--plot", help="PNG of the day (of the sweep with --sweep)")
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            help="fleet sizes to try: robots=40,60 (both fleets) or robots=picking:40,60 and/or "
            "robots=sorting:30,50; reports the smallest keeping the 24-hour target",
        ),
    ] = None,
    promotion: Annotated[
        list[str] | None,
        typer.Option(
            "--promotion",
            help="HH:MM+HOURSh*FACTOR, e.g. 20:00+2h*3 (repeatable; replaces the config's); 'none' for none",
        ),
    ] = None,
    picking: Annotated[int | None, typer.Option(min=1, help="picking robots (default from config)")] = None,
    sorting: Annotated[int | None, typer.Option(min=1, help="sorting robots (default from config)")] = None,
    target: Annotated[float, typer.Option(min=0, max=100, help="% of orders to dispatch within 24 h")] = 99.9,
    seed: Annotated[int | None, typer.Option(help="random seed (default from config)")] = None,
    start: Annotated[str, typer.Option(help="local start of the day")] = "2026-11-11T00:00:00",
    drain_limit: Annotated[
        float, typer.Option(min=0.0, help="simulated hours allowed to drain after 24 h")
    ] = 24.0,
    sample: Annotated[float, typer.Option(min=1.0, help="simulated seconds between samples")] = 60.0,
    size_feed: Annotated[
        bool, typer.Option(help="bonded stock and buyer pool sized for ORDERS, so neither runs out")
    ] = True,
    jobs: Annotated[int, typer.Option(min=1, help="sweep runs in parallel processes (SQLite only)")] = 2,
    in_process: Annotated[
        bool,
        typer.Option("--in-process", help="run in this process (for profilers; memory shared with the CLI)"),
    ] = False,
    world_process: Annotated[
        bool | None,
        typer.Option(
            "--world-process/--one-process",
            help="the simulated world in a process of its own, in lockstep with the controller over a link "
            "with --link-latency (uses the second core); --one-process: world and controller on one clock "
            "(default: a process of its own above 50,000 orders, where it saves time, unless a sweep runs "
            "more than one day at a time: those days already use both cores)",
            show_default=False,
        ),
    ] = None,
    link_latency: Annotated[
        float,
        typer.Option(min=0.001, help="virtual seconds a message takes between controller and world process"),
    ] = DEFAULT_LATENCY_S,
    progress: Annotated[bool, typer.Option(help="progress bar while running")] = True,
    hourly: Annotated[bool, typer.Option(help="print the orders per hour by stage")] = True,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="warehouse TOML (default config/city.toml above 50,000 orders, else warehouse.toml)",
        ),
    ] = None,
    customs: Annotated[
        Path | None, typer.Option("--customs", help="customs TOML (default config/customs.toml)")
    ] = None,
) -> None:
    """One simulated 24-hour day through the whole flow in virtual time, with the production planners.

    Orders arrive along the daily curve (evening peak, promotion windows) from local midnight; the
    warehouse then drains. Reports orders per hour by stage, the share dispatched within 24 hours,
    order-to-dispatch p50/p99, gate holds and rejects, robot utilisation and charging, chute fill, wall time
    and peak memory. Exit 0 when every target is met (with --sweep: when a passing fleet was found).
    """
    from wms.day.bench import DayOptions, parse_promotion
    from wms.day.sweep import SweepError, parse_sweeps

    cfg_path = config or default_config(orders)
    cfg, cust = _configs(cfg_path, customs)
    promotions = None
    if promotion:
        if [p.strip().lower() for p in promotion] == ["none"]:
            promotions = []
        else:
            try:
                promotions = [parse_promotion(p) for p in promotion]
            except ValueError as exc:
                raise fail(str(exc)) from None
    try:
        sweeps = parse_sweeps(sweep or [])
    except SweepError as exc:
        raise fail(str(exc)) from None
    urls = [None if u.strip().lower() == "sqlite" else u for u in (db or ["sqlite"])]
    if sweeps and len(urls) > 1:
        raise fail("--sweep runs on one database: give at most one --db")
    base = DayOptions(
        orders=orders,
        start_local=start,
        drain_limit_h=drain_limit,
        seed=seed,
        sample_s=sample,
        promotions=promotions,
        size_feed=size_feed,
        picking=picking,
        sorting=sorting,
        target_pct=target,
        world_process=(orders > CITY_ABOVE and not (sweeps and jobs > 1))
        if world_process is None
        else world_process,
        link_latency_s=link_latency,
    )
    out = Console() if sys.stdout.isatty() else Console(width=140)
    out.print(f"config: {cfg_path}", highlight=False, markup=False)
    if sweeps:
        result = _sweep(cfg, cust, base, sweeps, urls[0], jobs, progress, out)
        ok = result["answer"]["found"]
    else:
        result = _days(cfg, cust, base, urls, in_process, progress, out, hourly)
        ok = all(r.get("ok", False) for r in result["runs"])
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if png is not None:
        _plot(result, png, target)
    raise typer.Exit(0 if ok else 1)


def _days(
    cfg: WarehouseConfig,
    cust: CustomsConfig,
    base: Any,
    urls: list[str | None],
    in_process: bool,
    progress: bool,
    out: Console,
    hourly: bool,
) -> dict[str, Any]:
    """The day on each database, one after another (so that their wall times compare), side by side."""
    from dataclasses import replace

    from wms.day.bench import database_label, run_cases, run_day
    from wms.day.render import errors, hourly_table, summary_table, verdict

    cases = []
    for url in urls:
        label = database_label(url) if url else "sqlite"
        if any(c[0] == label for c in cases):
            label = f"{label} #{len(cases) + 1}"
        cases.append((label, cfg, cust, replace(base, db_url=url, label=label)))
    with _Bar(out, enabled=progress) as bar:
        if in_process:
            from wms.day.bench import quiet_logs

            quiet_logs()
            results = {}
            for key, c, cu, opts in cases:
                bar.start(key)
                results[key] = run_day(c, cu, opts, progress=lambda p, k=key: bar.update(k, p))
        else:
            results = run_cases(cases, jobs=1, on_progress=bar.update, on_start=bar.start)
    runs = [results[key] for key, *_ in cases]
    done = [r for r in runs if "error" not in r]
    if done and hourly:
        out.print(hourly_table(done[0]))
    if done:
        out.print(summary_table(done, title=f"Simulated day: {base.orders:,} orders requested"))
    for r in done:
        out.print(r["label"], style="bold", markup=False)
        out.print(verdict(r), highlight=False)
    for e in errors(runs):
        problem("run failed", e)
    return {"bench": "day", "runs": runs}


def _sweep(
    cfg: WarehouseConfig,
    cust: CustomsConfig,
    base: Any,
    sweeps: list[Any],
    url: str | None,
    jobs: int,
    progress: bool,
    out: Console,
) -> dict[str, Any]:
    """Every fleet size of the sweep, then the smallest passing ones together; the answer."""
    from dataclasses import replace

    from wms.day.bench import run_cases
    from wms.day.render import sweep_table
    from wms.day.sweep import answer, confirmation, plan, smallest

    cases = plan(sweeps, cfg.fleet.picking.count, cfg.fleet.sorting.count)
    if url is not None and not url.startswith("sqlite"):
        jobs = 1  # one PostgreSQL database: the runs take turns

    def options(c: Any) -> Any:
        return replace(
            base, picking=c.picking, sorting=c.sorting, db_url=url, label=c.key, stop_when_missed=True
        )

    results: dict[str, dict[str, Any]] = {}
    with _Bar(out, enabled=progress) as bar:
        batch = [(c.key, cfg, cust, options(c)) for c in cases]
        results.update(run_cases(batch, jobs=jobs, on_progress=bar.update, on_start=bar.start))
        found = smallest(cases, results)
        confirm = confirmation(cases, found)
        if confirm is not None:
            cases.append(confirm)
            results.update(
                run_cases([(confirm.key, cfg, cust, options(confirm))], 1, bar.update, on_start=bar.start)
            )
    out.print(sweep_table(cases, results, base.target_pct))
    result = answer(cases, found, results)
    swept = ", ".join(f"{k} {found[k]}" for k in result["swept"])
    held = ", ".join(f"{k} {result[k]}" for k in ("picking", "sorting") if k not in result["swept"])
    if result["found"]:
        out.print(
            f"[green]smallest fleets keeping >= {base.target_pct:g}% within 24 h:[/] {swept}"
            + (f" (with {held})" if held else ""),
            highlight=False,
        )
    else:
        out.print(
            f"[red]no swept fleet size kept >= {base.target_pct:g}% within 24 h[/] ({swept})", highlight=False
        )
    rows = [_sweep_row(c, results.get(c.key, {"error": "not run"})) for c in cases]
    return {
        "bench": "day-sweep",
        "orders": base.orders,
        "target_pct": base.target_pct,
        "answer": result,
        "cases": rows,
    }


def _sweep_row(case: Any, r: dict[str, Any]) -> dict[str, Any]:
    """A sweep case for the JSON: its fleet, pass/fail and the run's figures (without per-minute series)."""
    from wms.day.sweep import passes

    row = {"picking": case.picking, "sorting": case.sorting, "role": case.role, "passes": passes(r)}
    if "error" in r:
        return row | {"error": r["error"], "within_24h_pct": None}
    slim = {k: v for k, v in r.items() if k != "queues"}
    return row | {"within_24h_pct": r["sla"]["within_24h_pct"], "run": slim}


def _plot(result: dict[str, Any], path: Path, target: float) -> None:
    from wms.day.plot import plot_day, plot_sweep

    if result["bench"] == "day-sweep":
        plot_sweep(result["cases"], target, path)
        return
    done = [r for r in result["runs"] if "error" not in r]
    if done:
        plot_day(done[0], path)


class _Bar:
    """Rich progress: one bar per running day over its 24 hours, then its drain; silent if disabled."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def start(self, key: str) -> None:
        """A run began."""
        if self.enabled and key not in self.tasks:
            self.tasks[key] = self.progress.add_task(key, total=24 * 3600.0, clock="starting", info="")

    def update(self, key: str, p: dict[str, Any]) -> None:
        """A sample of a run: simulated time, orders placed and dispatched, orders per wall second."""
        if not self.enabled:
            return
        self.start(key)
        t, day = p["t_s"], p["day_s"]
        m = int(t // 60)
        clock = f"{m // 60:02d}:{m % 60:02d}" if t <= day else f"drain +{(t - day) / 3600:.1f} h"
        rate = p["generated"] / p["wall_s"] if p["wall_s"] > 0 else 0.0
        info = (
            f"placed {p['generated']:,}  dispatched {p['dispatched']:,}  open {p['open']:,}  "
            f"{rate:,.0f} orders/s  {p['rss_mb']:,.0f} MB"
        )
        self.progress.update(self.tasks[key], completed=min(t, day), clock=clock, info=info)
