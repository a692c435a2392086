"""Simulated hold lane of the customs gate: officers open held parcels, first come first served.

Each officer checks one parcel at a time for ``check_s``; a seeded share ``reject_rate`` of checks finds
a problem and rejects the parcel. A repeated command for a parcel waiting or under check changes
nothing; one already answered is answered again (the controller re-sends when an answer is lost).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict, deque

from wms import topics
from wms.bus.base import Bus
from wms.clock import Clock, Timer
from wms.messages import ManualCheckCmd, ManualCheckResult

log = logging.getLogger(__name__)
REMEMBER = 5000  # answered parcels kept to answer a repeat


class HoldLaneSim:
    """The hold lane of one partition: `ManualCheckCmd` in, one `ManualCheckResult` per parcel out."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        partition: str,
        *,
        officers: int,
        check_s: float,
        reject_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        if officers < 1:
            raise ValueError(f"officers must be >= 1, got {officers}")
        if not check_s > 0:
            raise ValueError(f"check_s must be > 0, got {check_s}")
        if not 0.0 <= reject_rate <= 1.0:
            raise ValueError(f"reject_rate must be in [0, 1], got {reject_rate}")
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.officers = officers
        self.check_s = check_s
        self.reject_rate = reject_rate
        self.cmd_topic = topics.manual_cmd(partition)
        self.result_topic = topics.manual_result(partition)
        self._rng = random.Random(f"hold-lane:{seed}")
        self._queue: deque[str] = deque()
        self._checking: dict[str, Timer] = {}  # parcel -> its check's timer
        self._answered: OrderedDict[str, ManualCheckResult] = OrderedDict()
        self._subscribed = False
        self.running = False
        self.received = 0
        self.checked = 0
        self.rejects = 0
        self.duplicates = 0
        self.rejected_cmds = 0

    def start(self) -> None:
        """Begin accepting parcels (subscribes on first start)."""
        if not self._subscribed:
            self.bus.subscribe(self.cmd_topic, self._on_cmd, qos=1)
            self._subscribed = True
        self.running = True

    def stop(self) -> None:
        """Stop like a power cut: the queue and the checks under way are dropped."""
        self.running = False
        for timer in self._checking.values():
            timer.cancel()
        self._checking.clear()
        self._queue.clear()

    @property
    def waiting(self) -> int:
        """Parcels waiting for an officer or under check."""
        return len(self._queue) + len(self._checking)

    def _on_cmd(self, topic: str, data: bytes) -> None:
        if not self.running:
            return
        self.received += 1
        try:
            cmd = ManualCheckCmd.model_validate_json(data)
        except ValueError as exc:
            self.rejected_cmds += 1
            log.warning("hold lane %s: rejected command (%s)", self.partition, str(exc).splitlines()[0])
            return
        answered = self._answered.get(cmd.parcel)
        if answered is not None:
            self.duplicates += 1
            self.bus.publish(self.result_topic, answered, qos=1)
            return
        if cmd.parcel in self._checking or cmd.parcel in self._queue:
            self.duplicates += 1
            return
        self._queue.append(cmd.parcel)
        self._next()

    def _next(self) -> None:
        """Give waiting parcels to free officers."""
        while self._queue and len(self._checking) < self.officers:
            parcel = self._queue.popleft()
            self._checking[parcel] = self.clock.call_later(self.check_s, lambda p=parcel: self._finish(p))

    def _finish(self, parcel: str) -> None:
        if self._checking.pop(parcel, None) is None:
            return
        reject = self._rng.random() < self.reject_rate
        result = ManualCheckResult(
            parcel=parcel,
            verdict="reject" if reject else "release",
            officer=f"officer-{self.checked % self.officers + 1}",
            finding="contents do not match the declared goods" if reject else "",
        )
        self.checked += 1
        self.rejects += reject
        self._answered[parcel] = result
        if len(self._answered) > REMEMBER:
            self._answered.popitem(last=False)
        self.bus.publish(self.result_topic, result, qos=1)
        self._next()
