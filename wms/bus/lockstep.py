"""Two virtual-time processes in lockstep: each runs its own clock and in-process broker, and a message
between them takes ``latency`` virtual seconds, so both can run the same span of virtual time at once.

This is conservative parallel discrete-event simulation with a lookahead: a message published at t on
one side is delivered at t + latency on the other. If both sides run a window [S, S + latency) at the
same time, nothing either sends in it is due on the other side before the window's end, so neither can
receive a message in its past. Between windows the two swap what their clients published, and the next
window starts at the earliest thing due on either side (idle stretches are skipped). The result is a
deterministic run that differs from a one-process run only by that latency, like a real network's.

The leader (`Leader`) drives the windows and may ask the follower (`follow`) questions between them.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock

Message = tuple[float, str, bytes, bool]  # published at, topic, payload, retain
SPIN_S = 0.0002  # wall seconds a side polls for the other's answer before it blocks


class LinkError(RuntimeError):
    """The other side of a lockstep link failed or vanished."""


class Side:
    """One process's end of a link: its clock and broker, and what its clients published since the last
    exchange."""

    def __init__(self, clock: VirtualClock, broker: InProcBroker, latency: float) -> None:
        if latency <= 0:
            raise ValueError(f"a lockstep link needs a latency > 0 s, got {latency}")
        self.clock = clock
        self.broker = broker
        self.latency = latency
        self.outbox: list[Message] = []
        self.sent = 0
        self.received = 0
        broker.outbound = self._published

    def _published(self, topic: str, data: bytes, retain: bool) -> None:
        self.outbox.append((self.clock.now(), topic, data, retain))

    def take(self) -> list[Message]:
        """The messages published since the last call, in the order published."""
        out, self.outbox = self.outbox, []
        self.sent += len(out)
        return out

    def outbox_due(self) -> float:
        """When the first message waiting to be sent is due on the other side (infinity if none waits)."""
        return self.outbox[0][0] + self.latency if self.outbox else math.inf

    def receive(self, messages: list[Message]) -> None:
        """Queue messages from the other side for delivery ``latency`` after they were published."""
        inject, call_at, latency = self.broker.inject, self.clock.call_at, self.latency
        for at, topic, data, retain in messages:
            call_at(at + latency, functools.partial(inject, topic, data, retain))
        self.received += len(messages)


class Leader:
    """The side that drives the windows; the other side runs `follow` on the other end of ``conn``."""

    def __init__(self, side: Side, conn: Connection) -> None:
        self.side = side
        self.conn = conn
        self.windows = 0
        self.exchanges = 0  # windows the follower ran too
        self.waited_s = 0.0  # wall seconds spent waiting for the follower to finish its window
        self._other_next = math.inf
        self._reply()  # the follower's start-up messages and its first event

    def _recv(self) -> Any:
        t0 = time.perf_counter()
        try:
            kind, payload = _recv(self.conn)
        except (EOFError, OSError) as exc:
            raise LinkError(f"the other side of the link ended without a word ({exc!r})") from None
        finally:
            self.waited_s += time.perf_counter() - t0
        if kind == "error":
            raise LinkError(f"the other side of the link failed:\n{payload}")
        return payload

    def _reply(self) -> None:
        messages, self._other_next = self._recv()
        self.side.receive(messages)

    def run_before(self, until: float) -> None:
        """Run both sides through every event due before ``until``; both then stand at ``until``."""
        side, clock = self.side, self.side.clock
        latency = side.latency
        while True:
            start = min(clock.next_at(), self._other_next, side.outbox_due())
            if start >= until:
                break
            end = min(start + latency, until)
            self.windows += 1
            if self._other_next >= end and not side.outbox:
                clock.run_before(end)  # nothing for the other side to do before ``end``: no exchange
                continue
            self.conn.send(("run", end, side.take()))
            clock.run_before(end)
            self.exchanges += 1
            self._reply()
        clock.run_before(until)

    def ask(self, question: str) -> Any:
        """The follower's answer to ``question`` (between windows)."""
        self.conn.send(("ask", question, None))
        return self._recv()

    def close(self, question: str = "stop") -> Any:
        """Stop the follower; its answer to ``question``, given as it stops."""
        self.conn.send(("stop", question, None))
        return self._recv()


def follow(side: Side, conn: Connection, answer: Callable[[str], Any]) -> None:
    """Run ``side`` as the leader says until it says stop; ``answer`` answers its questions. A failure is
    sent to the leader (as `LinkError`) before it is raised here."""
    try:
        conn.send(("ok", (side.take(), side.clock.next_at())))
        while True:
            kind, arg, messages = _recv(conn)
            if kind == "run":
                side.receive(messages)
                side.clock.run_before(arg)
                conn.send(("ok", (side.take(), side.clock.next_at())))
            else:
                conn.send(("ok", answer(arg)))
                if kind == "stop":
                    return
    except BaseException:
        with contextlib.suppress(OSError):  # the leader may be gone already
            conn.send(("error", traceback.format_exc()))
        raise


def _recv(conn: Connection) -> Any:
    """The next object on ``conn``: polled for a moment before blocking, since the other side usually
    answers within a window's work and waking a blocked process costs more than that."""
    if SPIN_S > 0 and not conn.poll():
        deadline = time.perf_counter() + SPIN_S
        while not conn.poll() and time.perf_counter() < deadline:
            pass
    return conn.recv()
