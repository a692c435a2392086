"""Commands ``wms stock return`` (a consumer return) and ``wms stock adjust`` (a counted correction)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from wms.config import ConfigError, load_warehouse
from wms.console.stderr import EXIT_NO_ANSWER, EXIT_REFUSED, err, fail
from wms.messages import ReturnLine, ReturnNotice, StockAdjustment, StockResult

stock_app = typer.Typer(help="Consumer returns and stock adjustments, booked by the running controller.")

MqttOpt = Annotated[str, typer.Option("--mqtt", help="broker URL the controller uses")]
PartitionOpt = Annotated[str | None, typer.Option(help="partition (default from config)")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="warehouse TOML (default config/warehouse.toml)")
]
TimeoutOpt = Annotated[float, typer.Option(min=1.0, help="seconds to wait for the controller's answer")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON only")]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the ``stock`` group (``return``, ``adjust``) to ``app``."""
    app.add_typer(stock_app, name="stock")


def _line(text: str) -> ReturnLine:
    """``SKU`` or ``SKU:QTY`` as a return line."""
    sku, _, qty = text.partition(":")
    try:
        return ReturnLine(sku=sku, qty=int(qty) if qty else 1)
    except (ValueError, ValidationError):
        raise fail(f"--line {text!r}: expected SKU or SKU:QTY with a positive whole quantity") from None


def _first_error(exc: ValidationError) -> str:
    """The first problem of a message, naming its field."""
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"


def _send(mqtt: str, partition: str | None, config: Path | None, send) -> StockResult | None:  # type: ignore[no-untyped-def]
    from wms.bus.mqtt import MqttBus
    from wms.clock import WallClock
    from wms.stockdesk.desk import StockDesk

    try:
        part = partition or load_warehouse(config).site.partition
    except ConfigError as exc:
        raise fail(str(exc)) from None
    clock = WallClock()
    try:
        bus = MqttBus(mqtt, f"wms-stock-{uuid.uuid4().hex[:8]}", clock)
    except (ConnectionError, OSError, ValueError) as exc:
        raise fail(f"cannot reach the broker: {exc}") from None
    try:
        return send(StockDesk(bus, clock, part))
    finally:
        bus.close()


def _report(result: StockResult | None, as_json: bool, timeout: float) -> None:
    if result is None:
        err.print(f"no answer from the controller within {timeout:g} s")
        raise typer.Exit(EXIT_NO_ANSWER)
    if as_json:
        print(json.dumps(result.model_dump(), indent=2))
    elif result.accepted:
        quota = (
            f"; {result.quota_restored_fen / 100:.2f} CNY of annual quota restored"
            if result.quota_restored_fen
            else ""
        )
        print(f"booked: {result.kind} {result.ref}: {result.detail}{quota}")
    else:
        print(f"REFUSED: {result.kind} {result.ref}: {result.detail}")
    if not result.accepted:
        raise typer.Exit(EXIT_REFUSED)


@stock_app.command("return")
def return_(
    order: Annotated[str, typer.Argument(help="the dispatched order's number")],
    return_no: Annotated[
        str | None, typer.Option("--return-no", help="the return's number (default: new)")
    ] = None,
    line: Annotated[
        list[str] | None,
        typer.Option("--line", help="SKU or SKU:QTY returned; repeat; default the whole order"),
    ] = None,
    restock: Annotated[
        bool, typer.Option("--restock/--quarantine", help="back on sale now, or hold in the returns area")
    ] = True,
    mqtt: MqttOpt = "mqtt://127.0.0.1:1883",
    partition: PartitionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Book a consumer return of a dispatched order back into bond (quota restored within 30 days).

    Exit 0 booked, 1 refused (the reason is printed), 2 bad input, 3 no answer. Sending the same
    --return-no again with --restock puts what waited in the returns area back on sale.
    """
    lines = [_line(t) for t in line] if line else None
    try:
        notice = ReturnNotice(
            return_no=return_no or f"RT-{uuid.uuid4().hex[:12]}", order_no=order, lines=lines, restock=restock
        )
    except ValidationError as exc:
        raise fail(_first_error(exc)) from None
    _report(_send(mqtt, partition, config, lambda desk: desk.send_return(notice, timeout)), as_json, timeout)


@stock_app.command("adjust")
def adjust(
    lot: Annotated[str, typer.Option(help="the lot counted")],
    qty: Annotated[int, typer.Option(help="units found (positive) or missing (negative)")],
    reason: Annotated[str, typer.Option(help="why: what the count found")],
    adjustment_no: Annotated[
        str | None, typer.Option("--adjustment-no", help="the adjustment's number (default: new)")
    ] = None,
    mqtt: MqttOpt = "mqtt://127.0.0.1:1883",
    partition: PartitionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Book a counted stock correction of one lot on the bonded ledger (never below what orders reserved).

    Exit 0 booked, 1 refused (the reason is printed), 2 bad input, 3 no answer.
    """
    try:
        adj = StockAdjustment(
            adjustment_no=adjustment_no or f"ADJ-{uuid.uuid4().hex[:12]}", lot=lot, qty=qty, reason=reason
        )
    except ValidationError as exc:
        raise fail(_first_error(exc)) from None
    _report(_send(mqtt, partition, config, lambda desk: desk.send_adjustment(adj, timeout)), as_json, timeout)
