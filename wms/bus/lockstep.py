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
import math
import pickle
import select
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock

Message = tuple[float, str, bytes, bool]  # published at, topic, payload, retain
DEFAULT_LATENCY_S = 0.1  # virtual seconds a message takes across (MQTT on a site's network: 1-100 ms)
LEADER_SPIN_S = 0.0002  # wall seconds the leader polls for the follower's answer before it blocks
FOLLOWER_SPIN_S = 0.0002  # the same for the follower (2 ms: the whole day 27% slower, docs/day.md)


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
        inject_at, latency = self.broker.inject_at, self.latency
        for at, topic, data, retain in messages:
            inject_at(at + latency, topic, data, retain)
        self.received += len(messages)


class Leader:
    """The side that drives the windows; the other side runs `follow` on the other end of ``conn``."""

    def __init__(self, side: Side, conn: Connection) -> None:
        self.side = side
        self.conn = conn
        self._receive = _Receiver(conn, LEADER_SPIN_S)
        self.windows = 0
        self.exchanges = 0  # windows the follower ran too
        self.waited_s = 0.0  # wall seconds spent waiting for the follower to finish its window
        self._other_next = math.inf
        self._reply()  # the follower's start-up messages and its first event

    def _send(self, message: tuple[str, Any, Any]) -> None:
        try:
            _send(self.conn, message)
        except OSError as exc:
            raise LinkError(f"the other side of the link ended without a word ({exc!r})") from None

    def _recv(self) -> Any:
        t0 = time.perf_counter()
        try:
            kind, payload = self._receive()
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
            self._send(("run", end, side.take()))
            clock.run_before(end)
            self.exchanges += 1
            self._reply()
        clock.run_before(until)

    def ask(self, question: str) -> Any:
        """The follower's answer to ``question`` (between windows)."""
        self._send(("ask", question, None))
        return self._recv()

    def close(self, question: str = "stop") -> Any:
        """Stop the follower; its answer to ``question``, given as it stops."""
        self._send(("stop", question, None))
        return self._recv()


def follow(side: Side, conn: Connection, answer: Callable[[str], Any]) -> None:
    """Run ``side`` as the leader says until it says stop; ``answer`` answers its questions. A failure is
    sent to the leader (as `LinkError`) before it is raised here."""
    receive = _Receiver(conn, FOLLOWER_SPIN_S)
    try:
        _send(conn, ("ok", (side.take(), side.clock.next_at())))
        while True:
            kind, arg, messages = receive()
            if kind == "run":
                side.receive(messages)
                side.clock.run_before(arg)
                _send(conn, ("ok", (side.take(), side.clock.next_at())))
            else:
                _send(conn, ("ok", answer(arg)))
                if kind == "stop":
                    return
    except BaseException:
        with contextlib.suppress(OSError):  # the leader may be gone already
            _send(conn, ("error", traceback.format_exc()))
        raise


class _Receiver:
    """Reads objects off ``conn``, polling it for a moment before blocking: the other side usually answers
    within a window's work, and waking a blocked process costs more than that. (`Connection.poll` builds a
    selector on each call; one `select.poll` object is kept instead.)"""

    def __init__(self, conn: Connection, spin_s: float) -> None:
        self.conn = conn
        self.spin_s = spin_s
        self._poller = select.poll()
        self._poller.register(conn.fileno(), select.POLLIN)

    def __call__(self) -> Any:
        ready = self._poller.poll
        if not ready(0):
            deadline = time.perf_counter() + self.spin_s
            while not ready(0) and time.perf_counter() < deadline:
                pass
        return pickle.loads(self.conn.recv_bytes())


def _send(conn: Connection, message: Any) -> None:
    """Send ``message`` pickled plainly: what crosses is tuples, floats, strings and bytes, which need
    none of the reducers that `Connection.send` sets up a pickler for on each call."""
    conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
