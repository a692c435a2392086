"""An in-process broker for virtual-time runs: MQTT semantics, no sockets."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from wms.bus.base import Handler, Will, encode, topic_matches
from wms.clock import Clock

MAX_CACHED_TOPICS = 100_000  # topics whose subscribers are remembered; beyond that the cache starts over


class InProcBroker:
    """Routes messages between `InProcBus` clients on one clock, with retained messages and last wills."""

    def __init__(self, clock: Clock, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self._subs: list[tuple[str, Handler, InProcBus]] = []
        self._exact: dict[str, list[tuple[Handler, InProcBus]]] = {}
        self._retained: dict[str, bytes] = {}
        # Subscribers of each topic published so far, in delivery order (exact ones, then wildcard ones in
        # the order they subscribed): robots publish on the same few topics all day. Any subscribe or
        # disconnect clears it.
        self._targets: dict[str, list[tuple[Handler, InProcBus]]] = {}
        self.delivered = 0
        # told (topic, payload, retain) of every message a client of this broker publishes: a lockstep
        # link (`wms.bus.lockstep`) carries them to the clients of a broker in another process
        self.outbound: Callable[[str, bytes, bool], None] | None = None

    def client(self, client_id: str, will: Will | None = None) -> InProcBus:
        """Connect a new client."""
        return InProcBus(self, client_id, will)

    def inject(self, topic: str, data: bytes, retain: bool = False) -> None:
        """Deliver a message that a client of another broker published (not sent on to `outbound`)."""
        self._route(topic, data, retain, local=False)

    def inject_at(self, at: float, topic: str, data: bytes, retain: bool = False) -> None:
        """`inject` at instant ``at``; a message that is not retained goes to the subscribers of now, as a
        broker routes a message when it is published, not when it arrives."""
        if retain:
            self.clock.call_at(at, functools.partial(self.inject, topic, data, retain))
            return
        call_at = self.clock.call_at
        for handler, client in self._targets_of(topic):
            call_at(at, Delivery(client, handler, topic, data))

    def _targets_of(self, topic: str) -> list[tuple[Handler, InProcBus]]:
        targets = self._targets.get(topic)
        if targets is None:
            targets = list(self._exact.get(topic, ()))
            targets += [(h, c) for pattern, h, c in self._subs if topic_matches(pattern, topic)]
            if len(self._targets) >= MAX_CACHED_TOPICS:
                self._targets.clear()
            self._targets[topic] = targets
        return targets

    def _route(self, topic: str, data: bytes, retain: bool, local: bool = True) -> None:
        if retain:
            if data:
                self._retained[topic] = data
            else:
                self._retained.pop(topic, None)
        for handler, client in self._targets_of(topic):
            self.clock.call_later(self.latency, Delivery(client, handler, topic, data))
        if local and self.outbound is not None:
            self.outbound(topic, data, retain)

    def _subscribe(self, pattern: str, handler: Handler, client: InProcBus) -> None:
        self._targets.clear()
        if "+" in pattern or "#" in pattern:
            self._subs.append((pattern, handler, client))
        else:
            self._exact.setdefault(pattern, []).append((handler, client))
        for topic, data in list(self._retained.items()):
            if topic_matches(pattern, topic):
                self.clock.call_later(self.latency, Delivery(client, handler, topic, data))

    def _drop(self, client: InProcBus) -> None:
        self._targets.clear()
        self._subs = [s for s in self._subs if s[2] is not client]
        for topic in list(self._exact):
            self._exact[topic] = [s for s in self._exact[topic] if s[1] is not client]


class Delivery:
    """One message on its way to one subscriber: the clock runs it (``handler`` says whose work it is)."""

    __slots__ = ("client", "handler", "topic", "data")

    def __init__(self, client: InProcBus, handler: Handler, topic: str, data: bytes) -> None:
        self.client = client
        self.handler = handler
        self.topic = topic
        self.data = data

    def __call__(self) -> None:
        if self.client.connected:
            self.client.broker.delivered += 1
            self.handler(self.topic, self.data)


class InProcBus:
    """One client of an `InProcBroker`."""

    def __init__(self, broker: InProcBroker, client_id: str, will: Will | None) -> None:
        self.broker = broker
        self.client_id = client_id
        self.will = will
        self.connected = True

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any] | BaseModel,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        if self.connected:
            self.broker._route(topic, encode(payload), retain)

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        self.broker._subscribe(pattern, handler, self)

    def close(self) -> None:
        self.connected = False
        self.broker._drop(self)

    def crash(self) -> None:
        """Vanish without a goodbye: the broker publishes the last will."""
        self.close()
        if self.will is not None:
            self.broker._route(self.will.topic, self.will.payload, self.will.retain)
