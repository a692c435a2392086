"""The controller's outbox: commands leave only after the database has committed what caused them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from wms.bus.base import Bus, Handler


class Outbox:
    """A `Bus` for the controller's parts: publishes are held while a unit of work runs, then flushed.

    Subscribed handlers and timers run inside ``unit`` (one database transaction each), so an event's
    state change and its commands either both happen or neither does.
    """

    def __init__(self, bus: Bus, unit: Callable[[], Any]) -> None:
        self.bus = bus
        self.client_id = bus.client_id
        self._unit = unit
        self._held: list[tuple[str, Any, int, bool]] | None = None
        self.published = 0

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any] | BaseModel,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        """Queue while a unit runs, else send at once."""
        if self._held is not None:
            self._held.append((topic, payload, qos, retain))
        else:
            self.bus.publish(topic, payload, qos=qos, retain=retain)
            self.published += 1

    def atomic(self, fn: Callable[..., None]) -> Callable[..., None]:
        """Wrap ``fn`` so it runs as one unit of work: commit, then send what it published."""

        def run(*args: Any) -> None:
            if self._held is not None:  # already inside a unit
                fn(*args)
                return
            self._held = []
            try:
                with self._unit():
                    fn(*args)
            except BaseException:
                self._held = None
                raise
            held, self._held = self._held, None
            for topic, payload, qos, retain in held:
                self.bus.publish(topic, payload, qos=qos, retain=retain)
            self.published += len(held)

        run.inner = fn  # type: ignore[attr-defined]  # what it wraps, for meters (`wms.day.split.handler_name`)
        return run

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        """Subscribe with the handler run as a unit of work."""
        self.bus.subscribe(pattern, self.atomic(handler), qos=qos)

    def close(self) -> None:
        """Close the underlying bus."""
        self.bus.close()
