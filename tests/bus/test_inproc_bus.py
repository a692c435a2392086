"""The in-process broker has MQTT semantics: wildcards, retained messages, last wills."""

from __future__ import annotations

from wms.bus.base import Will, topic_matches
from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock


def test_topic_filters() -> None:
    assert topic_matches("uagv/v2/+/+/state", "uagv/v2/m/r1/state")
    assert not topic_matches("uagv/v2/+/+/state", "uagv/v2/m/r1/order")
    assert topic_matches("wms/#", "wms/a/b/c")
    assert not topic_matches("wms/+", "wms/a/b")
    assert topic_matches("a/b", "a/b") and not topic_matches("a/b", "a/b/c")


def test_delivery_is_deferred_retained_and_wills_fire() -> None:
    clock = VirtualClock()
    broker = InProcBroker(clock)
    got: list[tuple[str, bytes]] = []
    pub = broker.client("pub", will=Will("dev/x/connection", b"BROKEN"))
    pub.publish("dev/x/status", {"v": 1}, retain=True)
    sub = broker.client("sub")
    sub.subscribe("dev/+/#", lambda t, d: got.append((t, d)))
    assert got == []  # never re-entrant: delivery happens on the clock
    clock.run()
    assert got == [("dev/x/status", b'{"v":1}')]
    pub.crash()
    clock.run()
    assert got[-1] == ("dev/x/connection", b"BROKEN")
    sub.close()
    broker.client("other").publish("dev/y/status", b"z")
    clock.run()
    assert len(got) == 2  # a closed client receives nothing
