"""``wms gate verdict``: an officer at the hold lane gives the verdict on a held parcel they opened.

The hold lane is a device to the controller (``ManualCheckCmd`` out, ``ManualCheckResult`` back). Where
it is people at a terminal rather than an integrated station, this command is their terminal: it
publishes the verdict at QoS 1, under the hold lane's MQTT account (`wms security url hold-lane`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from wms import topics
from wms.config import ConfigError, load_warehouse
from wms.console.stderr import fail
from wms.messages import ManualCheckResult

gate_app = typer.Typer(help="The customs gate's hold lane: officers' verdicts on held parcels.")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the ``gate`` group (``verdict``) to ``app``."""
    app.add_typer(gate_app, name="gate")


@gate_app.command("verdict")
def verdict(
    parcel: Annotated[str, typer.Argument(help="the held parcel's order number")],
    officer: Annotated[str, typer.Option(help="who checked it")],
    release: Annotated[bool, typer.Option("--release/--reject", help="the verdict")] = True,
    finding: Annotated[str, typer.Option(help="what was found (with --reject)")] = "",
    mqtt: Annotated[str, typer.Option("--mqtt", help="broker URL (with the hold lane's login)")] = (
        "mqtt://127.0.0.1:1883"
    ),
    partition: Annotated[str | None, typer.Option(help="partition (default from config)")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="warehouse TOML")] = None,
) -> None:
    """Release a held parcel after its manual check, or reject it with the finding (exit 2 on bad input)."""
    from wms.bus.mqtt import MqttBus
    from wms.clock import WallClock

    if not release and not finding.strip():
        raise fail("--reject needs --finding: what the check found")
    try:
        part = partition or load_warehouse(config).site.partition
        result = ManualCheckResult(
            parcel=parcel, verdict="release" if release else "reject", officer=officer, finding=finding
        )
    except (ConfigError, ValidationError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
    clock = WallClock()
    try:
        bus = MqttBus(mqtt, f"wms-officer-{uuid.uuid4().hex[:8]}", clock)
    except (ConnectionError, OSError, ValueError) as exc:
        raise fail(f"cannot reach the broker: {exc}") from None
    try:
        bus.publish(topics.manual_result(part), result, qos=1)
    finally:
        bus.close()
    print(f"{result.verdict}: {parcel} ({officer})")
