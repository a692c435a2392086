"""Command ``wms fuzz``; `register` adds it to the ``wms`` app (hypothesis is imported only when it runs)."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from wms.console.stderr import err, problem

if TYPE_CHECKING:
    from wms.fuzz.runner import Result

out = Console(width=None if sys.stdout.isatty() else 120)


def fuzz(
    examples: Annotated[
        int, typer.Option("--examples", "-n", min=1, help="generated inputs per parser")
    ] = 10_000,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="parsers whose name contains this (repeatable)")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed: the same seed generates the same inputs")] = 0,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="parsers fuzzed in parallel processes")
    ] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the figures as JSON here")
    ] = None,
    list_targets: Annotated[
        bool, typer.Option("--list", help="list the parsers and their typed errors")
    ] = False,
) -> None:
    """Fuzz every inbound parser with hypothesis; exit 1 if any input raised anything but a typed error."""
    try:
        from wms.fuzz.runner import fuzz as run
        from wms.fuzz.targets import select
    except ImportError as exc:
        problem("wms fuzz needs hypothesis (pip install -e '.[test]')", exc)
        raise typer.Exit(2) from None
    try:
        targets = select(only)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    if list_targets:
        for t in targets:
            typer.echo(f"{t.name:26} {t.what:48} {' | '.join(e.__name__ for e in t.typed)}")
        return

    def done(r: Result) -> None:
        status = "[red]CRASH[/]" if r.crashes else "ok"
        err.print(f"{r.name:26} {r.generated:>7} inputs {r.seconds:7.1f} s  {status}", highlight=False)

    start = time.perf_counter()
    results = run(targets, examples, seed=seed, jobs=jobs, done=done)
    wall = time.perf_counter() - start
    _print(results, wall)
    if json_out is not None:
        report = {
            "examples_per_parser": examples,
            "seed": seed,
            "jobs": jobs,
            "wall_s": round(wall, 1),
            "python": platform.python_version(),
            "crashes": sum(r.crashes for r in results),
            "parsers": [r.to_json() for r in results],
        }
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    raise typer.Exit(1 if any(r.crashes for r in results) else 0)


def _print(results: list[Result], wall: float) -> None:
    """The figures per parser, the totals and every crash with its smallest input."""
    table = Table(title="Hostile input: generated inputs per parser")
    for col in ("parser", "inputs", "typed errors", "accepted", "crashes", "slowest ms", "s"):
        table.add_column(col, justify="left" if col == "parser" else "right")
    for r in results:
        crashes = f"[bold red]{r.crashes}[/]" if r.crashes else "0"
        row = (r.generated, r.typed, r.accepted)
        table.add_row(r.name, *map(str, row), crashes, f"{r.slowest_s * 1000:.0f}", f"{r.seconds:.1f}")
    total = [sum(getattr(r, k) for r in results) for k in ("generated", "typed", "accepted", "crashes")]
    table.add_row("total", *map(str, total), "", f"{wall:.1f}", style="bold")
    out.print(table)
    for r in results:
        for c in r.crash_kinds.values():
            out.print(
                f"[red]{r.name}[/]: {c.kind} ×{c.count}: {c.message}\n  smallest input: {c.example!r:.300}"
            )


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``wms fuzz``."""
    app.command("fuzz")(fuzz)
