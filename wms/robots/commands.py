"""Command ``wms bench fleet``; `register` adds it to the ``wms`` Typer apps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wms.console.stderr import err, problem


def _sweep(text: str | None) -> list[int] | None:
    """``100,200,500`` into sorted robot counts."""
    if text is None:
        return None
    try:
        ns = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise typer.BadParameter(f"--sweep {text!r}: expected robot counts like 100,200,500,1000") from None
    if not ns or ns[0] < 1:
        raise typer.BadParameter("--sweep needs robot counts >= 1")
    return ns


def fleet(
    robots: Annotated[int, typer.Option("--robots", min=1, help="simulated robots")] = 100,
    hz: Annotated[
        float, typer.Option("--hz", min=0.01, help="periodic state messages per robot per second")
    ] = 5.0,
    mqtt: Annotated[
        str | None,
        typer.Option("--mqtt", help="broker URL; default: an embedded Mosquitto (set_tcp_nodelay)"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the result as JSON here")
    ] = None,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="run once per robot count, e.g. 100,200,500,1000")
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="plot of p99 against N (sweep; default: beside --json)")
    ] = None,
    duration: Annotated[float, typer.Option(min=1.0, help="seconds of state publishing per run")] = 10.0,
    warmup: Annotated[float, typer.Option(min=0.0, help="first seconds left out of the figures")] = 2.0,
    per_client: Annotated[
        int,
        typer.Option(
            "--per-client", min=1, help="robots per MQTT client of the load generator (1 = one each)"
        ),
    ] = 50,
    procs: Annotated[int, typer.Option("--procs", min=1, help="load-generator processes")] = 1,
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="robots also publish a state on every command")
    ] = True,
    release_nodes: Annotated[
        int, typer.Option(min=1, help="nodes the master releases per order (update)")
    ] = 6,
    seed: Annotated[int, typer.Option(help="seed of the task targets")] = 1,
) -> None:
    """N simulated robots publish VDA 5050 state at H Hz; the real FleetManager answers each with a command.

    Reports messages handled per second, state-to-command latency p50/p99, CPU of the master, dropped
    messages; with --sweep, the first N whose p99 exceeds 50 ms and a PNG of p99 against N.
    """
    from wms.robots.bench import FleetBenchOptions, plot, render, run_bench, write_json

    if duration <= warmup:
        raise typer.BadParameter("--duration must be longer than --warmup")
    ns = _sweep(sweep)
    opts = FleetBenchOptions(
        robots=robots,
        hz=hz,
        duration_s=duration,
        warmup_s=warmup,
        mqtt_url=mqtt,
        per_client=per_client,
        procs=procs,
        events=events,
        release_nodes=release_nodes,
        seed=seed,
    )
    try:
        result = run_bench(opts, ns, log=lambda msg: err.print(msg, highlight=False, markup=False))
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
        problem("fleet bench failed", exc)
        raise typer.Exit(1) from None
    (Console() if sys.stdout.isatty() else Console(width=150)).print(render(result))  # piped: do not wrap
    if json_out is not None:
        write_json(result, json_out)
    if ns is not None:
        target = png or (json_out.with_suffix(".png") if json_out else Path("fleet-sweep.png"))
        plot(result, target)
        err.print(f"plot: {target}", highlight=False, markup=False)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``fleet`` to the ``bench`` group (``app`` gets no command of its own)."""
    bench.command("fleet")(fleet)


def main() -> None:
    """Run the command stand-alone (``python -m wms.robots.commands fleet …``)."""
    app = typer.Typer(help="Robot fleet.")
    bench = typer.Typer(help="Benchmarks.")
    app.add_typer(bench, name="bench")
    register(app, bench)
    app()


if __name__ == "__main__":
    main()
