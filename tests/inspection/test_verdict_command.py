"""``wms gate verdict``: an officer's verdict goes out on the hold lane's result topic; bad input exits 2."""

from __future__ import annotations

import threading

from typer.testing import CliRunner

from wms import topics
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import MqttBus
from wms.clock import WallClock
from wms.messages import ManualCheckResult


def test_a_verdict_is_published_for_the_controller() -> None:
    from wms.cli import app

    got: list[ManualCheckResult] = []
    arrived = threading.Event()

    def on_result(_topic: str, data: bytes) -> None:
        got.append(ManualCheckResult.model_validate_json(data))
        arrived.set()

    with EmbeddedBroker() as broker:
        clock = WallClock()
        listener = MqttBus(broker.url, "controller-side", clock)
        listener.subscribe(topics.manual_result("p1"), on_result, qos=1)
        loop = threading.Thread(target=clock.run, daemon=True)
        loop.start()
        try:
            args = ["gate", "verdict", "EO1", "--officer", "li", "--reject", "--finding", "not as declared"]
            out = CliRunner().invoke(app, [*args, "--mqtt", broker.url, "--partition", "p1"])
            arrived.wait(10)
        finally:
            clock.stop()
            loop.join(5)
            listener.close()
    assert out.exit_code == 0 and out.output.strip() == "reject: EO1 (li)", out.output
    assert [(r.parcel, r.verdict, r.officer, r.finding) for r in got] == [
        ("EO1", "reject", "li", "not as declared")
    ]


def test_a_reject_without_a_finding_is_refused() -> None:
    from wms.cli import app

    out = CliRunner().invoke(
        app, ["gate", "verdict", "EO1", "--officer", "li", "--reject", "--mqtt", "mqtt://x"]
    )
    assert out.exit_code == 2 and "--finding" in out.output
