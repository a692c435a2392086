"""Time as the controller and simulators see it: a discrete-event clock or a (scaled) wall clock.

Both clocks are also the single-threaded event loop of everything attached to them: timers and
inbound messages run one at a time, so components never need locks.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

Callback = Callable[[], None]


class Timer:
    """A scheduled callback that can be cancelled before it runs."""

    __slots__ = ("at", "fn", "cancelled")

    def __init__(self, at: float, fn: Callback) -> None:
        self.at = at
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the callback from running."""
        self.cancelled = True


class Clock(Protocol):
    """What components know about time: the current instant and how to be woken later."""

    def now(self) -> float:
        """Seconds since the Unix epoch, in simulated (or real) time."""
        ...

    def call_at(self, at: float, fn: Callback) -> Timer:
        """Run ``fn`` at instant ``at`` (or as soon as possible if it has passed)."""
        ...

    def call_later(self, delay: float, fn: Callback) -> Timer:
        """Run ``fn`` after ``delay`` seconds of clock time."""
        ...

    def call_soon_threadsafe(self, fn: Callback) -> None:
        """Queue ``fn`` from any thread (used by network callbacks)."""
        ...


def iso(ts: float) -> str:
    """ISO 8601 UTC timestamp with milliseconds, as VDA 5050 wants it."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Loop:
    """A heap of timers shared by both clocks."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self.errors: list[BaseException] = []
        self.on_error: Callable[[BaseException], None] | None = None

    def _push(self, at: float, fn: Callback) -> Timer:
        timer = Timer(at, fn)
        heapq.heappush(self._heap, (at, next(self._seq), timer))
        return timer

    def _run_one(self, timer: Timer) -> None:
        if timer.cancelled:
            return
        try:
            timer.fn()
        except Exception as exc:  # a faulty callback must not stop the loop
            self.errors.append(exc)
            if self.on_error is not None:
                self.on_error(exc)
            else:
                raise


class VirtualClock(_Loop):
    """Discrete-event clock: time jumps to the next event, as fast as the CPU allows."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def call_at(self, at: float, fn: Callback) -> Timer:
        return self._push(max(at, self._now), fn)

    def call_later(self, delay: float, fn: Callback) -> Timer:
        return self._push(self._now + max(delay, 0.0), fn)

    def call_soon_threadsafe(self, fn: Callback) -> None:
        with self._lock:
            self._push(self._now, fn)

    def pending(self) -> int:
        """Number of timers still queued (cancelled ones included)."""
        return len(self._heap)

    def run(self, until: float | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Process events in time order until ``until``, until ``stop()`` is true, or until none are left."""
        while self._heap:
            at, _, timer = self._heap[0]
            if until is not None and at > until:
                break
            heapq.heappop(self._heap)
            self._now = at
            self._run_one(timer)
            if stop is not None and not timer.cancelled and stop():
                return
        if until is not None and (not self._heap or self._heap[0][0] > until):
            self._now = max(self._now, until)


class WallClock(_Loop):
    """Real time, optionally sped up: ``speed`` simulated seconds pass per real second."""

    def __init__(self, speed: float = 1.0, start: float | None = None, anchor: float | None = None) -> None:
        """``start`` is the clock's time at wall time ``anchor`` (epoch seconds; default: now)."""
        super().__init__()
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.speed = speed
        self._t0 = time.monotonic() - (0.0 if anchor is None else time.time() - anchor)
        self._start = time.time() if start is None else start
        self._cv = threading.Condition()
        self._stopped = False

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speed

    def twin(self) -> WallClock:
        """Another loop on the same time line, for a component that must not wait on this one's work."""
        other = WallClock(self.speed, self._start)
        other._t0 = self._t0
        return other

    def call_at(self, at: float, fn: Callback) -> Timer:
        with self._cv:
            timer = self._push(at, fn)
            self._cv.notify()
        return timer

    def call_later(self, delay: float, fn: Callback) -> Timer:
        return self.call_at(self.now() + max(delay, 0.0), fn)

    def call_soon_threadsafe(self, fn: Callback) -> None:
        self.call_at(self.now(), fn)

    def stop(self) -> None:
        """Make ``run`` return, now and for good (thread-safe)."""
        with self._cv:
            self._stopped = True
            self._cv.notify()

    def run(self, until: float | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Run callbacks as they fall due, in the calling thread, until ``until``, ``stop()`` or `stop`."""
        while True:
            with self._cv:
                while True:
                    if self._stopped:
                        return
                    now = self.now()
                    if until is not None and now >= until:
                        return
                    if self._heap and self._heap[0][0] <= now:
                        _, _, timer = heapq.heappop(self._heap)
                        break
                    wake = self._heap[0][0] if self._heap else (until if until is not None else now + 1.0)
                    if until is not None:
                        wake = min(wake, until)
                    self._cv.wait(timeout=max((wake - now) / self.speed, 0.0005))
            self._run_one(timer)
            if stop is not None and stop():
                return
