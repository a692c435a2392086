"""The in-process broker has MQTT semantics: wildcards, retained messages, last wills."""

from __future__ import annotations

import pytest

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


def test_routing_follows_subscriptions_made_and_dropped_after_a_topic_was_used() -> None:
    clock = VirtualClock()
    broker = InProcBroker(clock)
    got: list[tuple[str, str, bytes]] = []
    pub = broker.client("pub")
    a = broker.client("a")
    a.subscribe("dev/x/state", lambda t, d: got.append(("a-exact", t, d)))
    pub.publish("dev/x/state", b"1")
    clock.run()
    b = broker.client("b")
    b.subscribe("dev/+/state", lambda t, d: got.append(("b-wild", t, d)))
    a.subscribe("dev/#", lambda t, d: got.append(("a-wild", t, d)))
    pub.publish("dev/x/state", b"2")
    pub.publish("dev/y/state", b"3")
    clock.run()
    assert got == [
        ("a-exact", "dev/x/state", b"1"),
        ("a-exact", "dev/x/state", b"2"),  # exact subscribers first, then wildcards as they subscribed
        ("b-wild", "dev/x/state", b"2"),
        ("a-wild", "dev/x/state", b"2"),
        ("b-wild", "dev/y/state", b"3"),
        ("a-wild", "dev/y/state", b"3"),
    ]
    a.close()
    got.clear()
    pub.publish("dev/x/state", b"4")
    clock.run()
    assert got == [("b-wild", "dev/x/state", b"4")]
    b.close()
    pub.publish("dev/x/state", b"5")
    clock.run()
    assert got == [("b-wild", "dev/x/state", b"4")]


def test_wildcard_filters_are_matched_once_per_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    import wms.bus.inproc as inproc

    calls: list[tuple[str, str]] = []

    def counted(pattern: str, topic: str) -> bool:
        calls.append((pattern, topic))
        return topic_matches(pattern, topic)

    monkeypatch.setattr(inproc, "topic_matches", counted)
    clock = VirtualClock()
    broker = InProcBroker(clock)
    got: list[bytes] = []
    broker.client("sub").subscribe("dev/+/state", lambda t, d: got.append(d))
    pub = broker.client("pub")
    for k in range(5):
        pub.publish("dev/x/state", str(k).encode())
    clock.run()
    assert got == [b"0", b"1", b"2", b"3", b"4"] and calls == [("dev/+/state", "dev/x/state")]
