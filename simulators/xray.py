"""Simulated customs X-ray gate: several lanes, each scanning its FIFO queue one parcel at a time.

Each lane also has a scan tunnel and a scale: the parcel's physical contents are modelled as its
declared lines, except that a seeded share of parcels was packed one unit short (``mispack_rate``),
and the scale reads the declared unit weights within ±1%.
"""

from __future__ import annotations

import itertools
import logging
import random
import uuid
from collections import deque

from wms import topics
from wms.bus.base import Bus
from wms.clock import Clock, Timer
from wms.messages import XrayCmd, XrayItem, XrayResult

log = logging.getLogger(__name__)


class XrayGateSim:
    """The X-ray gate of one partition: `XrayCmd` in, one `XrayResult` per scanned parcel out."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        partition: str,
        *,
        lanes: int,
        scan_s: float,
        suspect_rate: float,
        seed: int = 0,
        mispack_rate: float = 0.0,
    ) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes}")
        if not scan_s > 0:
            raise ValueError(f"scan_s must be > 0, got {scan_s}")
        if not 0.0 <= suspect_rate <= 1.0:
            raise ValueError(f"suspect_rate must be in [0, 1], got {suspect_rate}")
        if not 0.0 <= mispack_rate <= 1.0:
            raise ValueError(f"mispack_rate must be in [0, 1], got {mispack_rate}")
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.lanes = lanes
        self.scan_s = scan_s
        self.suspect_rate = suspect_rate
        self.mispack_rate = mispack_rate
        self.cmd_topic = topics.xray_cmd(partition)
        self.result_topic = topics.xray_result(partition)
        self._rng = random.Random(f"xray-gate:{seed}")  # not the gate's sampling stream: flags independent
        self._run_id = uuid.uuid4().hex[:8]  # image ids stay unique across restarts of the simulator
        self._image_no = itertools.count(1)
        self._queues: list[deque[str]] = [deque() for _ in range(lanes)]
        self._priority: set[str] = set()
        self._scanning: list[str | None] = [None] * lanes
        self._timers: list[Timer | None] = [None] * lanes
        self._present: set[str] = set()
        self._declared: dict[str, list[XrayItem]] = {}
        self._subscribed = False
        self.running = False
        self.received = 0
        self.accepted = 0
        self.scanned = 0
        self.suspects = 0
        self.mispacked = 0
        self.duplicates = 0
        self.rejected = 0

    def start(self) -> None:
        """Begin accepting parcels (subscribes on first start)."""
        if not self._subscribed:
            self.bus.subscribe(self.cmd_topic, self._on_cmd, qos=1)
            self._subscribed = True
        self.running = True

    def stop(self) -> None:
        """Stop like a power cut: ignore commands and drop the queues and the scans under way."""
        self.running = False
        for timer in self._timers:
            if timer is not None:
                timer.cancel()
        self._timers = [None] * self.lanes
        self._scanning = [None] * self.lanes
        for queue in self._queues:
            queue.clear()
        self._priority.clear()
        self._present.clear()
        self._declared.clear()

    def queue_length(self, lane: int) -> int:
        """Parcels on ``lane`` waiting or being scanned."""
        return len(self._queues[lane]) + (self._scanning[lane] is not None)

    @property
    def queued(self) -> int:
        """Parcels at the gate (waiting or being scanned), all lanes."""
        return len(self._present)

    def counters(self) -> dict[str, int]:
        """All counters in one dict, for logs and the status page."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "scanned": self.scanned,
            "suspects": self.suspects,
            "mispacked": self.mispacked,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "queued": self.queued,
        }

    def _reject(self, reason: str, data: bytes) -> None:
        """Count and log a command the gate cannot carry out."""
        self.rejected += 1
        log.warning("x-ray sim %s: rejected command (%s): %.200r", self.partition, reason, data)

    def _on_cmd(self, topic: str, data: bytes) -> None:
        """Queue a parcel on its lane; unknown lanes are rejected, parcels already at the gate ignored."""
        if not self.running:
            return
        self.received += 1
        try:
            cmd = XrayCmd.model_validate_json(data)
        except ValueError as exc:
            self._reject(str(exc).splitlines()[0], data)
            return
        if cmd.lane >= self.lanes:
            self._reject(f"unknown lane {cmd.lane} (gate has {self.lanes})", data)
            return
        if cmd.parcel in self._present:
            self.duplicates += 1
            return
        self.accepted += 1
        self._present.add(cmd.parcel)
        self._declared[cmd.parcel] = list(cmd.declared)
        if cmd.priority:  # an express parcel goes ahead of the regular ones, behind earlier express ones
            queue = self._queues[cmd.lane]
            ahead = sum(1 for p in queue if p in self._priority)
            queue.insert(ahead, cmd.parcel)
            self._priority.add(cmd.parcel)
        else:
            self._queues[cmd.lane].append(cmd.parcel)
        if self._scanning[cmd.lane] is None:
            self._next(cmd.lane)

    def _next(self, lane: int) -> None:
        """Start scanning the head of ``lane``'s queue, if any."""
        queue = self._queues[lane]
        if not queue:
            self._scanning[lane] = None
            self._timers[lane] = None
            return
        parcel = queue.popleft()
        self._scanning[lane] = parcel
        self._timers[lane] = self.clock.call_later(self.scan_s, lambda: self._finish(lane, parcel))

    def _finish(self, lane: int, parcel: str) -> None:
        """Publish the verdict of the parcel just scanned and move the lane on."""
        if self._scanning[lane] != parcel:
            return
        suspect = self._rng.random() < self.suspect_rate
        items, weight = self._scan(self._declared.pop(parcel, []))
        result = XrayResult(
            parcel=parcel,
            lane=lane,
            verdict="suspect" if suspect else "clear",
            image_id=f"xr-{self._run_id}-{lane}-{next(self._image_no):07d}",
            items=items,
            weight_kg=weight,
        )
        self._present.discard(parcel)
        self._priority.discard(parcel)
        self.scanned += 1
        self.suspects += suspect
        self.bus.publish(self.result_topic, result, qos=1)
        self._next(lane)

    def _scan(self, declared: list[XrayItem]) -> tuple[list[XrayItem] | None, float | None]:
        """What the tunnel reads and the scale weighs: the declared lines, one unit short if mispacked."""
        if not declared:
            return None, None  # nothing declared with the command: image only, like a gate without a tunnel
        lines = [(d.sku, d.qty, d.unit_kg) for d in declared]
        if self.mispack_rate and self._rng.random() < self.mispack_rate:
            self.mispacked += 1
            k = self._rng.randrange(len(lines))
            sku, qty, kg = lines[k]
            lines[k] = (sku, qty - 1, kg)
        items = [XrayItem(sku=sku, qty=qty) for sku, qty, _ in lines if qty > 0]
        if any(kg is None for _, _, kg in lines):
            return items, None
        weight = sum(qty * kg for _, qty, kg in lines if kg is not None)
        return items, round(weight * self._rng.uniform(0.99, 1.01), 3)
