"""The ``wms`` command: demo, run, console, e-stop, config check."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wms.config import ConfigError, load_customs, load_warehouse
from wms.console.stderr import err, problem

app = typer.Typer(
    help="Control system of an intelligent bonded warehouse for cross-border e-commerce imports."
)
report_app = typer.Typer(help="Reports from the database: bonded ledger, 24-hour dispatch SLA.")
bench_app = typer.Typer(
    help="Benchmarks: each prints the baseline and our method side by side and writes JSON."
)
app.add_typer(report_app, name="report")
app.add_typer(bench_app, name="bench")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="warehouse TOML (default config/warehouse.toml)")
]
CustomsOpt = Annotated[
    Path | None, typer.Option("--customs", help="customs TOML (default config/customs.toml)")
]
MqttOpt = Annotated[str | None, typer.Option("--mqtt", help="broker URL, e.g. mqtt://user:pw@host:1883")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (default WMS_DATABASE_URL or SQLite)")]
CredsOpt = Annotated[
    Path | None,
    typer.Option("--creds", help="MQTT credentials from `wms security creds` (directory or secrets.toml)"),
]


def _configs(config: Path | None, customs: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_warehouse(config), load_customs(customs)
    except ConfigError as exc:
        problem("config error", exc)
        raise typer.Exit(2) from None


def _creds(path: Path | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    from wms.security import Credentials

    try:
        return Credentials.load(path)
    except ValueError as exc:
        problem("credentials", exc)
        raise typer.Exit(2) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


@app.command()
def demo(
    minutes: Annotated[float, typer.Option(help="simulated minutes of order arrivals")] = 10.0,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second (MQTT mode)")] = 30.0,
    orders_per_hour: Annotated[float | None, typer.Option(help="arrival rate (default from config)")] = None,
    o2o_per_hour: Annotated[
        float, typer.Option(help="O2O orders per hour at the store's counters, on top of the regular flow")
    ] = 0.0,
    virtual: Annotated[bool, typer.Option(help="in-process bus and virtual time instead of MQTT")] = False,
    headless: Annotated[bool, typer.Option(help="no live console")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print only the summary as JSON")] = False,
    db: DbOpt = "sqlite:///wms-demo.db",
    mqtt: MqttOpt = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default from config)")] = None,
    secure: Annotated[
        bool, typer.Option(help="every MQTT client logs in with its own account; the broker enforces ACLs")
    ] = False,
    creds: CredsOpt = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a shift with simulated robots, conveyors, X-ray gate and order feed, then print a summary.

    The database starts clean on every run (its tables are dropped and recreated).
    """
    from wms.shift import ShiftOptions, run_mqtt, run_virtual

    _logging(verbose)
    cfg, cust = _configs(config, customs)
    opts = ShiftOptions(
        duration_s=minutes * 60.0,
        orders_per_hour=orders_per_hour,
        o2o_per_hour=o2o_per_hour,
        speed=speed,
        db_url=db,
        mqtt_url=mqtt,
        seed=seed,
        creds=_creds(creds),
        secure=secure,
    )
    if virtual:
        result = run_virtual(cfg, cust, opts)
    elif headless or as_json:
        result = run_mqtt(cfg, cust, opts)
    else:
        result = _run_with_console(cfg, cust, opts)
    _report(result, as_json)
    ok = result["lost"] == 0 and result["ledger_balanced"] and result["dispatched"] > 0
    ok = ok and result["internal_errors"] == 0
    raise typer.Exit(0 if ok else 1)


def _run_with_console(cfg, cust, opts) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Run over MQTT with the live console attached through the broker like any other console."""
    from rich.live import Live

    from wms.bus.mqtt import MqttBus
    from wms.console.dashboard import ConsoleClient, render
    from wms.shift import Shift, run_mqtt

    state: dict[str, Any] = {}

    def tick(shift: Shift) -> None:
        if "client" not in state:
            url = shift.url_for("console") if shift.url_for else shift.buses[0].url  # type: ignore[attr-defined]
            bus = MqttBus(url, f"{cfg.site.partition}-console-{uuid.uuid4().hex[:8]}", shift.clock)
            state["client"] = ConsoleClient(bus, cfg.site.partition)
            shift.buses.append(bus)
        c = state["client"]
        live.update(
            render(
                c.status,
                now=shift.clock.now(),
                connected=True,
                malformed=c.malformed,
                live_alarms=list(c.alarms),
                utc_offset_h=cfg.site.utc_offset_h,
            )
        )

    with Live(render(None), console=Console(), refresh_per_second=4, screen=False) as live:
        return run_mqtt(cfg, cust, opts, on_tick=tick)


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    from rich.table import Table

    table = Table(title="Shift summary", show_header=False)
    for key in (
        "mode",
        "broker",
        "database",
        "orders_sent",
        "orders_in",
        "dispatched",
        "held",
        "rejected",
        "in_progress",
        "lost",
        "sla_met_pct",
        "throughput_per_h",
        "ledger_balanced",
        "robots",
        "alarms",
        "internal_errors",
        "sim_s",
        "wall_s",
    ):
        table.add_row(key, str(result[key]))
    for t in result.get("open_tasks", [])[:1]:
        waits = f", waiting for {t['waiting_for']} held by {t['blocker']}" if t["waiting_for"] else ""
        table.add_row(
            "oldest robot task", f"{t['task']} on {t['robot']} at {t['node']}, {t['age_s']:.0f} s{waits}"
        )
    Console().print(table)


@app.command()
def run(
    mqtt: MqttOpt = None,
    db: DbOpt = None,
    speed: Annotated[float, typer.Option(help="clock speed factor (1 = real time)")] = 1.0,
    fresh: Annotated[bool, typer.Option(help="drop the data of an earlier run and start clean")] = False,
    time_anchor: Annotated[
        str | None,
        typer.Option(
            help="WALL:SIM epoch seconds: the clock reads SIM at wall time WALL (to share the time line of "
            "simulators started elsewhere)"
        ),
    ] = None,
    partition: Annotated[str | None, typer.Option(help="site partition (default from config)")] = None,
    manufacturer: Annotated[
        str | None, typer.Option(help="VDA 5050 manufacturer of the fleet (default from config)")
    ] = None,
    creds: CredsOpt = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the controller alone against real (or externally simulated) robots, conveyors and order feed.

    A database that holds an earlier run is resumed where it stopped (after a crash, say): open parcels,
    robot tasks and device commands are taken back. ``--fresh`` starts clean instead.
    """
    from wms.bus.broker import EmbeddedBroker
    from wms.bus.mqtt import MqttBus
    from wms.catalog import generate_catalog
    from wms.clock import WallClock, quiet_gc
    from wms.control.controller import Controller
    from wms.store.db import connect

    _logging(verbose)
    cfg, cust = _configs(config, customs)
    site = {k: v for k, v in (("partition", partition), ("manufacturer", manufacturer)) if v}
    cfg = cfg.model_copy(update={"site": cfg.site.model_copy(update=site)})
    start = anchor = None
    if time_anchor is not None:
        try:
            anchor, start = (float(x) for x in time_anchor.split(":"))
        except ValueError:
            problem(f"--time-anchor {time_anchor!r}", "expected WALL:SIM epoch seconds")
            raise typer.Exit(2) from None
    engine = connect(db, fresh=fresh)
    accounts = _creds(creds)
    broker = None if mqtt else EmbeddedBroker(auth=accounts).start()
    url = mqtt or broker.url  # type: ignore[union-attr]
    clock = WallClock(speed, start, anchor)
    clock.on_error = lambda exc: logging.getLogger("wms").exception("handler failed: %s", exc)
    login = accounts.url(url, "controller") if accounts else url
    bus = MqttBus(login, f"{cfg.site.partition}-controller", clock, persistent=True)
    ctl = Controller(bus, clock, engine, cfg, cust, generate_catalog(cfg.feed, cust))
    ctl.start()
    how = f"resumed (start {ctl.boot + 1})" if ctl.resumed else "started on a clean database"
    err.print(
        f"controller of partition [bold]{cfg.site.partition}[/] {how} on {url}, database {engine.url}; "
        "Ctrl-C stops"
    )
    quiet_gc()
    try:
        clock.run()
    except KeyboardInterrupt:
        pass
    finally:
        ctl.stop()
        bus.close()
        if broker:
            broker.close()


@app.command()
def chaos(
    kills: Annotated[int, typer.Option(min=0, help="SIGKILLs of the controller during the shift")] = 5,
    duration: Annotated[float, typer.Option(help="simulated seconds of order arrivals")] = 1800.0,
    rate: Annotated[float | None, typer.Option(help="orders per hour (default from config)")] = None,
    speed: Annotated[float, typer.Option(help="clock speed factor")] = 20.0,
    mqtt: MqttOpt = None,
    db: DbOpt = None,
    seed: Annotated[int, typer.Option(help="seed of the kill times")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    logs: Annotated[Path | None, typer.Option(help="keep the controller logs in this directory")] = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """Kill the controller (SIGKILL) at random moments of a shift over MQTT; check nothing is lost."""
    from rich.table import Table

    from wms.chaos import ChaosOptions, run_chaos

    cfg, cust = _configs(config, customs)
    opts = ChaosOptions(
        kills=kills,
        duration_s=duration,
        orders_per_hour=rate,
        speed=speed,
        mqtt_url=mqtt,
        db_url=db,
        seed=seed,
        config=config,
        customs=customs,
        log_dir=logs,
    )
    result = run_chaos(cfg, cust, opts)
    table = Table(title=f"chaos: {result['kills']} SIGKILLs of the controller")
    table.add_column("check")
    table.add_column("result", justify="right")
    for key in (
        "orders_sent",
        "parcels_in_db",
        "lost",
        "open_at_end",
        "double_closed",
        "double_closed_after_any_kill",
        "robots_with_two_tasks",
        "robot_orders_refused",
        "ledger_balanced_after_every_kill",
        "ledger_balanced_at_end",
        "recovery_s_mean",
        "recovery_s_max",
        "restarts_not_serving_in_60s",
        "controller_internal_errors",
        "sim_s",
        "wall_s",
    ):
        table.add_row(key, str(result[key]))
    table.add_row("states", ", ".join(f"{k} {v}" for k, v in sorted(result["states"].items())))
    Console().print(table)
    Console().print("[bold green]OK[/]" if result["ok"] else "[bold red]FAILED[/]")
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
    raise typer.Exit(0 if result["ok"] else 1)


@app.command()
def console(
    mqtt: Annotated[
        str, typer.Option("--mqtt", help="broker URL the controller uses")
    ] = "mqtt://127.0.0.1:1883",
    partition: Annotated[str | None, typer.Option(help="partition to watch (default from config)")] = None,
    duration: Annotated[float | None, typer.Option(help="seconds to run (default until Ctrl-C)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Attach the live operator console to a running controller."""
    from wms.console.dashboard import run_console

    part = partition or _configs(config, None)[0].site.partition
    with contextlib.suppress(KeyboardInterrupt):
        run_console(mqtt, part, duration_s=duration)


def _control(command: str, mqtt: str, partition: str | None, config: Path | None) -> None:
    from wms import topics
    from wms.bus.mqtt import MqttBus
    from wms.clock import WallClock
    from wms.messages import ControlCmd

    part = partition or _configs(config, None)[0].site.partition
    bus = MqttBus(mqtt, f"wms-cli-{uuid.uuid4().hex[:8]}", WallClock())
    bus.publish(topics.control(part), ControlCmd(command=command, operator="cli"), qos=1)  # type: ignore[arg-type]
    bus.close()
    err.print(f"{command} sent to partition {part}", markup=False)


@app.command()
def estop(
    mqtt: Annotated[str, typer.Option("--mqtt")] = "mqtt://127.0.0.1:1883",
    partition: Annotated[str | None, typer.Option()] = None,
    config: ConfigOpt = None,
) -> None:
    """Emergency stop: pause every robot of the partition."""
    _control("estop", mqtt, partition, config)


@app.command()
def resume(
    mqtt: Annotated[str, typer.Option("--mqtt")] = "mqtt://127.0.0.1:1883",
    partition: Annotated[str | None, typer.Option()] = None,
    config: ConfigOpt = None,
) -> None:
    """Lift the emergency stop."""
    _control("resume", mqtt, partition, config)


@app.command("check-config")
def check_config(config: ConfigOpt = None, customs: CustomsOpt = None) -> None:
    """Load and check the configuration files; exit 2 naming the file, key and problem if one is bad."""
    cfg, cust = _configs(config, customs)
    err.print(
        f"ok: {cfg.storage.aisles} aisles, {len(cfg.carriers)} carriers, "
        f"{cfg.fleet.picking.count}+{cfg.fleet.sorting.count} robots, "
        f"{len(cust.positive_list)} positive-list codes"
    )


def _print_report(result: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    from rich.pretty import Pretty

    Console().print(f"[bold]{title}[/]")
    Console().print(Pretty(result))


@report_app.command("ledger")
def report_ledger(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Bonded ledger reconciliation per lot and account book; exit 1 if any lot does not balance."""
    from wms.reports import ledger_report
    from wms.store.db import connect

    result = ledger_report(connect(db))
    if as_json:
        _print_report(result, as_json, "")
    else:
        _print_ledger(result)
    raise typer.Exit(0 if result["balanced"] else 1)


def _print_ledger(result: dict[str, Any]) -> None:
    """The reconciliation as an account-book table, then every lot that does not balance."""
    from rich.table import Table

    from wms.reports import BALANCE_KEYS

    table = Table(
        title="Bonded ledger: received (+ adjusted) = in stock + released + returned + held",
        caption="released is net of consumer returns; returned waits in the returns area; "
        "restocked and rejected are the audit trail",
    )
    table.add_column("account book")
    for key in BALANCE_KEYS:
        table.add_column(key.replace("_", " "), justify="right")
    for book, sums in sorted(result["account_books"].items()):
        table.add_row(book, *(f"{sums.get(k, 0):,}" for k in BALANCE_KEYS))
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a file or pipe: keep each row on one line
    console.print(table)
    for lot in result["unbalanced_lots"]:
        console.print(
            f"lot {lot['lot']} ({lot['sku']}): {lot['difference']:+d} units unaccounted for",
            style="red",
            markup=False,
        )
    for lot in result["ledger_entries_without_lot"]:
        console.print(f"ledger entries for unknown lot {lot}", style="red", markup=False)
    verdict = "[green]balanced[/]" if result["balanced"] else "[bold red]NOT balanced[/]"
    console.print(f"{result['lots']:,} lots: {verdict}")


@report_app.command("sla")
def report_sla(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Share of orders dispatched within 24 hours, order-to-dispatch times, orders at risk now."""
    from wms.reports import sla_report
    from wms.store.db import connect

    _print_report(sla_report(connect(db)), as_json, "24-hour dispatch")


@bench_app.command("load")
def bench_load(
    factor: Annotated[float, typer.Option(min=0.1, help="order rate as a multiple of the config's")] = 2.0,
    hours: Annotated[float, typer.Option(min=0.05, help="simulated hours of order arrivals")] = 1.0,
    baseline: Annotated[bool, typer.Option(help="also run 1x, side by side")] = True,
    backlog_limit: Annotated[
        int | None,
        typer.Option(
            "--backlog-limit",
            min=0,
            help="the controller's back-pressure ([intake] of the config by default; 0: off): close the "
            "intake at this many parcels not yet released",
        ),
    ] = None,
    resume_below: Annotated[
        int | None, typer.Option("--resume-below", min=1, help="admission: reopen below (default 80%)")
    ] = None,
    drain_limit: Annotated[float, typer.Option(min=0.0, help="simulated hours allowed to drain")] = 3.0,
    scale_stock: Annotated[
        bool, typer.Option(help="bonded stock per lot times FACTOR, so stock-outs do not mask the load")
    ] = True,
    seed: Annotated[int | None, typer.Option(help="random seed (default from config)")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="runs in parallel processes")] = 2,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the result (with samples) here")
    ] = None,
    png: Annotated[Path | None, typer.Option("--plot", help="PNG of backlog and RSS over time")] = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """A virtual-time shift at FACTOR x the configured order rate beside 1x: backlog, memory, nothing lost.

    Exit 0 when the load run's backlog stays bounded or the intake back-pressures it, its memory is flat,
    every order sent ends dispatched, held or rejected and the warehouse drains.
    """
    from wms.loadtest import LoadOptions, plot, render, run_load, verdict, write_json

    cfg, cust = _configs(config, customs)
    opts = LoadOptions(
        factor=factor,
        hours=hours,
        baseline=baseline,
        seed=seed,
        drain_limit_h=drain_limit,
        backlog_limit=backlog_limit,
        resume_below=resume_below,
        scale_stock=scale_stock,
    )
    result = run_load(cfg, cust, opts, jobs=jobs)
    Console().print(render(result))
    Console().print(verdict(result))
    if json_out is not None:
        write_json(result, json_out)
    if png is not None:
        plot(result, png)
    raise typer.Exit(0 if result["ok"] else 1)


def _register_commands() -> None:
    """Commands that live beside their planners (each module's ``register(app, bench)``)."""
    from wms.day.commands import register as day
    from wms.fuzz.commands import register as fuzz
    from wms.inspection.commands import register as inspection
    from wms.inspection.verdict import register as gate
    from wms.o2o.commands import register as o2o
    from wms.picking.commands import register as picking
    from wms.robots.commands import register as robots
    from wms.security.commands import register as security
    from wms.slotting.commands import register as slotting
    from wms.sorting.commands import register as sorting
    from wms.stockdesk.commands import register as stock

    for register in (day, fuzz, gate, inspection, o2o, picking, robots, security, slotting, sorting, stock):
        register(app, bench_app)


_register_commands()


def main() -> None:
    """Entry point for ``python -m wms``."""
    app()


if __name__ == "__main__":
    sys.exit(main())
