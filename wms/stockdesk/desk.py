"""Send a consumer return or a stock adjustment to the controller and wait for its answer on the bus.

Works on any `Bus` and clock (MQTT and a wall clock for ``wms stock …``, the in-process broker and the
virtual clock in tests). The message is sent at QoS 1 and again every ``resend_s`` until answered: the
controller books each return or adjustment number once, so a repeat is harmless.
"""

from __future__ import annotations

from typing import Any

from wms import topics
from wms.bus.base import Bus
from wms.messages import ReturnNotice, StockAdjustment, StockResult


class StockDesk:
    """Sends returns and adjustments for one partition and collects the controller's results."""

    def __init__(self, bus: Bus, clock: Any, partition: str, *, resend_s: float = 5.0) -> None:
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.resend_s = resend_s
        self._results: dict[str, StockResult] = {}
        bus.subscribe(topics.stock_results(partition), self._on_result, qos=1)

    def _on_result(self, _topic: str, data: bytes) -> None:
        try:
            result = StockResult.model_validate_json(data)
        except ValueError:
            return
        self._results.setdefault(result.ref, result)

    def send_return(self, notice: ReturnNotice, timeout_s: float = 30.0) -> StockResult | None:
        """Book a consumer return; the controller's result, or None without an answer in time."""
        return self._send(
            topics.stock_returns(self.partition), notice.return_no, notice.model_dump_json(), timeout_s
        )

    def send_adjustment(self, adj: StockAdjustment, timeout_s: float = 30.0) -> StockResult | None:
        """Book a stock adjustment; the controller's result, or None without an answer in time."""
        return self._send(
            topics.stock_adjustments(self.partition), adj.adjustment_no, adj.model_dump_json(), timeout_s
        )

    def _send(self, topic: str, ref: str, payload: str, timeout_s: float) -> StockResult | None:
        timers: list[Any] = []

        def send() -> None:
            if ref in self._results:
                return
            self.bus.publish(topic, payload, qos=1)
            timers.append(self.clock.call_later(self.resend_s, send))

        send()
        try:
            self.clock.run(until=self.clock.now() + timeout_s, stop=lambda: ref in self._results)
        finally:
            for t in timers:
                t.cancel()
        return self._results.get(ref)
