"""Simulated pack stations and conveyors: carry out `ConveyorCmd`s after their (jittered) duration.

Each command completes independently (capacity is the controller's business); the simulator only has to be
a faithful, idempotent device: one event per command id, re-sent when a controller repeats a finished command.
"""

from __future__ import annotations

import logging
import math
import random
from collections import OrderedDict

from wms import topics
from wms.bus.base import Bus
from wms.clock import Clock, Timer
from wms.messages import ConveyorCmd, ConveyorEvent

log = logging.getLogger(__name__)


class ConveyorSim:
    """Conveyors and pack stations of one partition: `ConveyorCmd` in, one `ConveyorEvent` per command out."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        partition: str,
        *,
        jitter: float = 0.1,
        seed: int = 0,
        remember: int = 2_000,
    ) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if remember < 1:
            raise ValueError(f"remember must be >= 1, got {remember}")
        self.bus = bus
        self.clock = clock
        self.partition = partition
        self.jitter = jitter
        self.seed = seed
        self.remember = remember
        self.cmd_topic = topics.conveyor_cmd(partition)
        self.event_topic = topics.conveyor_event(partition)
        self._rng = random.Random(seed)
        self._inflight: dict[str, tuple[ConveyorCmd, Timer]] = {}
        # finished operations, compactly (what was done, the event as sent), for repeated commands
        self._done: OrderedDict[str, tuple[tuple[str, str, str, str], str]] = OrderedDict()
        self._subscribed = False
        self.running = False
        self.received = 0
        self.accepted = 0
        self.completed = 0
        self.duplicates = 0
        self.republished = 0
        self.rejected = 0

    def start(self) -> None:
        """Begin accepting commands (subscribes on first start)."""
        if not self._subscribed:
            self.bus.subscribe(self.cmd_topic, self._on_cmd, qos=1)
            self._subscribed = True
        self.running = True

    def stop(self) -> None:
        """Stop like a power cut: ignore commands and drop the operations in flight (they never complete)."""
        self.running = False
        for _, timer in self._inflight.values():
            timer.cancel()
        self._inflight.clear()

    @property
    def in_flight(self) -> int:
        """Number of operations under way."""
        return len(self._inflight)

    def counters(self) -> dict[str, int]:
        """All counters in one dict, for logs and the status page."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "completed": self.completed,
            "duplicates": self.duplicates,
            "republished": self.republished,
            "rejected": self.rejected,
            "in_flight": self.in_flight,
        }

    def _reject(self, reason: str, data: bytes) -> None:
        """Count and log a command that cannot be carried out."""
        self.rejected += 1
        log.warning("conveyor sim %s: rejected command (%s): %.200r", self.partition, reason, data)

    def _on_cmd(self, topic: str, data: bytes) -> None:
        """Validate a command, then start it, ignore it (duplicate in flight) or re-send its event (done)."""
        if not self.running:
            return
        self.received += 1
        try:
            cmd = ConveyorCmd.model_validate_json(data)
        except ValueError as exc:
            self._reject(str(exc).splitlines()[0], data)
            return
        if not math.isfinite(cmd.seconds):
            self._reject(f"duration {cmd.seconds} is not finite", data)
            return
        known = self._inflight.get(cmd.cmd_id)
        done = self._done.get(cmd.cmd_id)
        original = _what(known[0]) if known else done[0] if done else None
        if original is not None and original != _what(cmd):
            self._reject(f"cmd_id {cmd.cmd_id} reused for a different operation", data)
            return
        if known is not None:
            self.duplicates += 1
            return
        if done is not None:
            self.duplicates += 1
            self.republished += 1
            self._done.move_to_end(cmd.cmd_id)
            self.bus.publish(self.event_topic, done[1], qos=1)
            return
        self.accepted += 1
        factor = 1.0 + self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 1.0
        timer = self.clock.call_later(cmd.seconds * factor, lambda: self._complete(cmd.cmd_id))
        self._inflight[cmd.cmd_id] = (cmd, timer)

    def _complete(self, cmd_id: str) -> None:
        """Publish the event of a finished operation and remember it for repeats."""
        entry = self._inflight.pop(cmd_id, None)
        if entry is None:
            return
        cmd = entry[0]
        if cmd.kind == "pack":
            event = ConveyorEvent(
                cmd_id=cmd.cmd_id,
                parcel=cmd.parcel,
                kind="packed",
                location=cmd.destination,
                weight_kg=parcel_weight_kg(cmd.parcel, self.seed),
            )
        else:
            event = ConveyorEvent(
                cmd_id=cmd.cmd_id, parcel=cmd.parcel, kind="arrived", location=cmd.destination
            )
        self._done[cmd_id] = (_what(cmd), event.model_dump_json())
        while len(self._done) > self.remember:
            self._done.popitem(last=False)
        self.completed += 1
        self.bus.publish(self.event_topic, event, qos=1)


def _what(cmd: ConveyorCmd) -> tuple[str, str, str, str]:
    """What a command does, ignoring its duration, to tell a repeat from a reused command id."""
    return cmd.parcel, cmd.kind, cmd.origin, cmd.destination


def parcel_weight_kg(parcel: str, seed: int = 0) -> float:
    """A plausible packed weight (goods and carton, about 0.2–15 kg, median 1.2 kg), stable per parcel."""
    rng = random.Random(f"{seed}:{parcel}")
    return round(min(max(rng.lognormvariate(math.log(1.2), 0.7), 0.2), 15.0), 3)
