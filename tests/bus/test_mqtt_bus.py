"""The MQTT bus against real brokers: the embedded one (Mosquitto or amqtt) and the CI's Mosquitto."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest

from wms.bus.base import Will
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import MqttBus, parse_mqtt_url
from wms.clock import WallClock


def _roundtrip(url: str) -> None:
    clock = WallClock()
    ns = uuid.uuid4().hex[:8]
    got: list[tuple[str, bytes]] = []
    sub = MqttBus(url, f"sub-{ns}", clock)
    sub.subscribe(f"t/{ns}/+", lambda t, d: got.append((t, d)), qos=1)
    dev = MqttBus(url, f"dev-{ns}", clock, will=Will(f"t/{ns}/connection", b"CONNECTIONBROKEN"))
    time.sleep(0.2)
    dev.publish(f"t/{ns}/state", {"ok": True}, qos=1)
    clock.run(until=clock.now() + 1.0, stop=lambda: len(got) >= 1)
    assert got == [(f"t/{ns}/state", b'{"ok":true}')]
    dev.crash()  # no DISCONNECT: the broker must publish the will
    clock.run(until=clock.now() + 5.0, stop=lambda: len(got) >= 2)
    assert got[-1] == (f"t/{ns}/connection", b"CONNECTIONBROKEN")
    sub.close()


@pytest.mark.parametrize("prefer", ["mosquitto", "amqtt"])
def test_embedded_broker_roundtrip_and_last_will(prefer: str) -> None:
    if prefer == "mosquitto" and not shutil.which("mosquitto"):
        pytest.skip("mosquitto binary not installed")
    with EmbeddedBroker(prefer=prefer) as broker:
        assert broker.kind == prefer
        _roundtrip(broker.url)


@pytest.mark.integration
def test_external_broker_roundtrip_and_last_will(mqtt_url: str) -> None:
    _roundtrip(mqtt_url)


def test_url_parsing() -> None:
    assert parse_mqtt_url("mqtt://u:p@host:1884") == ("host", 1884, "u", "p", False)
    assert parse_mqtt_url("mqtts://host") == ("host", 8883, None, None, True)
    with pytest.raises(ValueError, match="scheme"):
        parse_mqtt_url("http://host")


def test_unreachable_broker_is_a_clear_error() -> None:
    from wms.bus.broker import free_port

    with pytest.raises(ConnectionError, match="no connection"):
        MqttBus(f"mqtt://127.0.0.1:{free_port()}", "x", WallClock(), connect_timeout=1.0)
