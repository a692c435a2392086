"""The `Bus` interface that controller and simulators use instead of a broker client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic_core
from pydantic import BaseModel

Handler = Callable[[str, bytes], None]


@dataclass(frozen=True)
class Will:
    """Last will: published by the broker when a client vanishes without saying goodbye."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def encode(payload: bytes | str | dict[str, Any] | BaseModel) -> bytes:
    """Turn a message into bytes: pydantic models and dicts become JSON."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(exclude_none=True).encode()
    return pydantic_core.to_json(payload)


class Bus(Protocol):
    """Publish/subscribe with MQTT semantics (topic wildcards ``+`` and ``#``, QoS, retain)."""

    client_id: str

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any] | BaseModel,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        """Send a message; delivery happens on the subscriber's clock, never re-entrantly."""
        ...

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        """Call ``handler(topic, payload)`` for every message matching ``pattern``."""
        ...

    def close(self) -> None:
        """Disconnect cleanly (no last will)."""
        ...


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter match with ``+`` (one level) and ``#`` (the rest)."""
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return True
        if i >= len(t_parts):
            return False
        if p != "+" and p != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)
