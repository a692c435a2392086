"""Commands ``wms o2o order`` (a counter clerk places an order) and ``wms bench o2o``."""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wms.config import ConfigError, CustomsConfig, WarehouseConfig, load_customs, load_warehouse
from wms.console.stderr import EXIT_NO_ANSWER, EXIT_REFUSED, err, fail
from wms.messages import O2OEvent

o2o_app = typer.Typer(help="O2O on-site pickup at the experience store's counters.")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="warehouse TOML (default config/warehouse.toml)")
]
CustomsOpt = Annotated[
    Path | None, typer.Option("--customs", help="customs TOML (default config/customs.toml)")
]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the ``o2o`` group (``order``) to ``app`` and ``o2o`` to the ``bench`` group."""
    app.add_typer(o2o_app, name="o2o")
    bench.command("o2o")(bench_o2o)


def _configs(config: Path | None, customs: Path | None) -> tuple[WarehouseConfig, CustomsConfig]:
    try:
        return load_warehouse(config), load_customs(customs)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _stage_line(event: O2OEvent, previous: float) -> str:
    """One stage as the clerk sees it: name, time since the order, time of this stage."""
    return f"  {event.stage:<12} {event.elapsed_s:7.1f} s  (+{event.elapsed_s - previous:.1f} s)"


@o2o_app.command("order")
def order(
    sku: Annotated[list[str], typer.Option("--sku", help="SKU or SKU:QTY; repeat for more lines")],
    counter: Annotated[str, typer.Option(help="pickup counter id, e.g. C1")] = "C1",
    buyer_id: Annotated[
        str | None, typer.Option("--buyer-id", help="the shopper's 18-character resident ID number")
    ] = None,
    name: Annotated[str | None, typer.Option(help="the shopper's name (with --buyer-id)")] = None,
    phone: Annotated[str, typer.Option(help="the shopper's mobile number")] = "",
    address: Annotated[
        str | None, typer.Option(help="consignee address (default: the store's pickup counter)")
    ] = None,
    mqtt: Annotated[
        str, typer.Option("--mqtt", help="broker URL the controller uses")
    ] = "mqtt://127.0.0.1:1883",
    partition: Annotated[str | None, typer.Option(help="partition (default from config)")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the stages to the handover")] = False,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="seconds to wait for the answer (or handover)")
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON only")] = False,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """Place an O2O order for a shopper at the counter and show the controller's answer.

    Prints "accepted" or "REFUSED: <reason>" (exit 1); with --wait, each stage with its elapsed time until
    the handover (exit 0) or a hold or rejection at the customs gate (exit 1). Exit 3 without an answer.
    """
    from wms.bus.mqtt import MqttBus
    from wms.catalog import generate_catalog
    from wms.clock import WallClock
    from wms.o2o.clerk import CounterClerk
    from wms.o2o.feed import SHOPPER_INDEX0
    from wms.o2o.orders import STORE_ADDRESS, O2OOrderError, o2o_bundle, parse_line, shopper

    cfg, cust = _configs(config, customs)
    part = partition or cfg.site.partition
    clock = WallClock()
    try:
        lines = [parse_line(s) for s in sku]
        if buyer_id is None:
            from simulators.order_feed import make_buyer

            demo = make_buyer(cfg.feed.seed, SHOPPER_INDEX0 + secrets.randbelow(10**6))
            buyer = shopper(demo.id_number, demo.name, phone or demo.phone, address or STORE_ADDRESS)
        else:
            if not name:
                raise O2OOrderError("--name is required with --buyer-id")
            buyer = shopper(buyer_id, name, phone, address or STORE_ADDRESS)
        catalog = {s.sku: s for s in generate_catalog(cfg.feed, cust)}
        bundle = o2o_bundle(
            lines,
            buyer,
            counter,
            clock.now(),
            catalog,
            cust,
            seq=secrets.randbelow(10**6),
            utc_offset_h=cfg.site.utc_offset_h,
        )
    except O2OOrderError as exc:
        raise fail(str(exc)) from None
    try:
        bus = MqttBus(mqtt, f"wms-o2o-{uuid.uuid4().hex[:8]}", clock)
    except (ConnectionError, OSError, ValueError) as exc:
        raise fail(f"cannot reach the broker: {exc}") from None
    say = (lambda _text: None) if as_json else print
    order_no = bundle.order.order_no
    seen = [0.0]

    def show(event: O2OEvent) -> None:
        if event.stage == "accepted":
            say(f"accepted: order {order_no} for counter {counter}")
        elif event.stage == "refused":
            say(f"REFUSED: {event.reason}")
        elif wait:
            say(_stage_line(event, seen[0]))
            if event.stage in ("held", "rejected"):
                say(f"{event.stage.upper()}: {event.reason}")
        seen[0] = event.elapsed_s

    try:
        outcome = CounterClerk(bus, clock, part).place(bundle, wait=wait, timeout_s=timeout, on_event=show)
    finally:
        bus.close()
    if as_json:
        print(json.dumps(outcome.to_json(), indent=2))
    last = outcome.last
    if last is None:
        err.print(f"no answer from the controller of partition {part} within {timeout:g} s")
        raise typer.Exit(EXIT_NO_ANSWER)
    if not outcome.accepted or last.stage in ("held", "rejected"):
        raise typer.Exit(EXIT_REFUSED)
    if wait and last.stage != "handed_over":
        err.print(f"order {order_no} still at {last.stage} after {timeout:g} s", markup=False)
        raise typer.Exit(EXIT_NO_ANSWER)
    if wait:
        say(f"handed over after {last.elapsed_s:.1f} s")


def bench_o2o(
    rate: Annotated[
        float, typer.Option(min=0.1, help="O2O orders per hour on top of the regular flow")
    ] = 60.0,
    hours: Annotated[float, typer.Option(min=0.05, help="simulated hours of order arrivals")] = 0.5,
    seed: Annotated[int | None, typer.Option(help="random seed (default from config)")] = None,
    pick: Annotated[str | None, typer.Option(help="override the config's o2o.pick: forward | robot")] = None,
    address: Annotated[str, typer.Option(help="shoppers' consignee address: home | store")] = "home",
    start: Annotated[str, typer.Option(help="local start time of the shift")] = "2026-11-11T09:00:00",
    jobs: Annotated[int, typer.Option(min=1, help="runs in parallel processes")] = 2,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    config: ConfigOpt = None,
    customs: CustomsOpt = None,
) -> None:
    """Regular flow at the reference rate without and with O2O orders at RATE per hour, in virtual time.

    Reports O2O order-to-handover p50/p95/max and stage times, refusals and holds, and the regular flow's
    throughput and 24-hour SLA side by side. Exit 0 when the issue's targets are met.
    """
    from wms.o2o.bench import BenchOptions, physical_text, render, run_bench

    if pick not in (None, "forward", "robot"):
        raise fail(f"--pick must be forward or robot, not {pick!r}")
    if address not in ("home", "store"):
        raise fail(f"--address must be home or store, not {address!r}")
    cfg, cust = _configs(config, customs)
    opts = BenchOptions(rate=rate, hours=hours, seed=seed, pick=pick, address=address, start_local=start)
    result = run_bench(cfg, cust, opts, jobs=jobs)
    out = Console() if sys.stdout.isatty() else Console(width=120)
    out.print(render(result))
    out.print(physical_text(result), highlight=False)
    targets = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["targets"].items())
    out.print(f"targets: {targets}", highlight=False, markup=False)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2))
    raise typer.Exit(0 if result["ok"] else 1)
