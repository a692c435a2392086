"""The counter clerk's side of an O2O order: send it, then follow the controller's answers on the bus.

`CounterClerk` works on any `Bus` and `Clock` (MQTT and a wall clock for ``wms o2o order``, the in-process
broker and the virtual clock in tests): it subscribes to ``wms/{partition}/o2o`` before sending, publishes
the bundle at QoS 1 on the orders topic, sends it again until the controller acknowledges it, and runs the
clock until the answer (or, when waiting, the handover, a hold or a rejection) arrives or time runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wms import topics
from wms.bus.base import Bus
from wms.domain import OrderBundle
from wms.messages import Ack, O2OEvent

FINAL_STAGES = frozenset({"refused", "handed_over", "held", "rejected"})
STAGE_ORDER = ("accepted", "picked", "packed", "at_gate", "released", "handed_over")


@dataclass
class Outcome:
    """What the controller said about one order: its events in arrival order."""

    order_no: str
    events: list[O2OEvent] = field(default_factory=list)
    acked: bool = False
    sends: int = 0

    @property
    def answered(self) -> bool:
        """Whether the controller accepted or refused the order."""
        return bool(self.events)

    @property
    def accepted(self) -> bool:
        """Whether the order was accepted (False also when there was no answer)."""
        return bool(self.events) and self.events[0].accepted

    @property
    def last(self) -> O2OEvent | None:
        """The latest event."""
        return self.events[-1] if self.events else None

    @property
    def final(self) -> bool:
        """Whether the order is closed: refused, handed over, held or rejected."""
        return self.last is not None and self.last.stage in FINAL_STAGES

    def to_json(self) -> dict[str, Any]:
        """Stages with elapsed seconds, for scripts."""
        last = self.last
        return {
            "order_no": self.order_no,
            "accepted": self.accepted,
            "stage": last.stage if last else None,
            "reason": last.reason if last else "",
            "elapsed_s": last.elapsed_s if last else None,
            "stages": [{"stage": e.stage, "elapsed_s": e.elapsed_s} for e in self.events],
        }


class CounterClerk:
    """Places O2O orders for one partition and follows their events."""

    def __init__(self, bus: Bus, clock: Any, partition: str, *, resend_s: float = 5.0) -> None:
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.resend_s = resend_s
        self._open: dict[str, Outcome] = {}
        self._listeners: dict[str, Callable[[O2OEvent], None]] = {}
        bus.subscribe(topics.o2o(partition), self._on_event, qos=1)
        bus.subscribe(topics.acks(partition), self._on_ack, qos=1)

    def _on_event(self, _topic: str, data: bytes) -> None:
        try:
            event = O2OEvent.model_validate_json(data)
        except ValueError:
            return
        out = self._open.get(event.order_no)
        if out is None or any(e.stage == event.stage for e in out.events):
            return  # another order's, or a repeat
        out.events.append(event)
        listener = self._listeners.get(event.order_no)
        if listener is not None:
            listener(event)

    def _on_ack(self, _topic: str, data: bytes) -> None:
        try:
            ack = Ack.model_validate_json(data)
        except ValueError:
            return
        out = self._open.get(ack.ref)
        if ack.kind == "order" and out is not None:
            out.acked = True

    def place(
        self,
        bundle: OrderBundle,
        *,
        wait: bool = False,
        timeout_s: float = 30.0,
        on_event: Callable[[O2OEvent], None] | None = None,
    ) -> Outcome:
        """Send ``bundle`` and run the clock until it is answered (``wait``: closed), or ``timeout_s``."""
        order_no = bundle.order.order_no
        out = self._open.setdefault(order_no, Outcome(order_no))
        if on_event is not None:
            self._listeners[order_no] = on_event
        payload = bundle.model_dump_json()

        def send() -> None:
            if out.acked or out.answered:
                return
            self.bus.publish(topics.orders(self.partition), payload, qos=1)
            out.sends += 1
            timers.append(self.clock.call_later(self.resend_s, send))

        def done() -> bool:
            return out.final if wait else out.answered

        timers: list[Any] = []
        send()
        try:
            self.clock.run(until=self.clock.now() + timeout_s, stop=done)
        finally:
            for t in timers:
                t.cancel()
            self._listeners.pop(order_no, None)
        return out
