"""Time as the controller and simulators see it: a discrete-event clock or a (scaled) wall clock.

Both clocks are also the single-threaded event loop of everything attached to them: timers and
inbound messages run one at a time, so components never need locks.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

Callback = Callable[[], None]
IO_TURN_S = 0.002  # while timers are due back to back, sockets are still polled this often


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


def split_seconds(ts: float) -> tuple[int, int]:
    """The whole second and the microseconds of ``ts``, rounded as `datetime.fromtimestamp` rounds them
    (so that a timestamp formatted once per second agrees with datetime's)."""
    frac, whole = math.modf(ts)
    second, rest = int(whole), round(frac * 1_000_000)
    if rest >= 1_000_000 or rest < 0:
        second, rest = second + rest // 1_000_000, rest % 1_000_000
    return second, rest


def iso(ts: float) -> str:
    """ISO 8601 UTC timestamp with milliseconds, as VDA 5050 wants it.

    The date and time of day are formatted once per second (every message carries a timestamp).
    """
    global _iso_second, _iso_prefix
    second, rest = split_seconds(ts)
    if second != _iso_second:
        _iso_prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _iso_second = second
    return f"{_iso_prefix}{rest // 1000:03d}Z"


_iso_second, _iso_prefix = -1, ""


GC_YOUNG = 50_000  # new container objects between young collections (CPython's default: 700)


def quiet_gc() -> None:
    """Keep the garbage collector's passes short and rare: what exists after start-up is never scanned
    again, and young collections wait for `GC_YOUNG` new objects.

    A loop answering robots in milliseconds cannot stop for a full collection over every module,
    model class and cached plan (tens of milliseconds); call once set up, before the work starts. Most
    of a message's objects die young by reference counting anyway: with CPython's default threshold the
    collector ran over 900 times in 15 busy simulated minutes, for about 5% of the CPU.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


@contextlib.contextmanager
def quiet_gc_while() -> Iterator[None]:
    """`quiet_gc` for one run in a process that goes on afterwards (a bench's day, a test): the threshold is
    set back after it, and the heap unfrozen unless it was frozen before (the collector unfreezes all or
    nothing)."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    quiet_gc()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()
        gc.set_threshold(*threshold)


class _Loop:
    """A heap of timers shared by both clocks."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self.errors: list[BaseException] = []
        self.on_error: Callable[[BaseException], None] | None = None
        # told each callback the loop ran and its wall seconds (benches split the time by whose it was)
        self.meter: Callable[[Callback, float], None] | None = None

    def _push(self, at: float, fn: Callback) -> Timer:
        timer = Timer(at, fn)
        heapq.heappush(self._heap, (at, next(self._seq), timer))
        return timer

    def _run_one(self, timer: Timer) -> None:
        if timer.cancelled:
            return
        if self.meter is None:
            self._guard(timer.fn)
            return
        t0 = time.perf_counter()
        self._guard(timer.fn)
        self.meter(timer.fn, time.perf_counter() - t0)

    def _guard(self, fn: Callback) -> None:
        """Run a callback; a faulty one is recorded (and reported) but must not stop the loop."""
        try:
            fn()
        except Exception as exc:
            self.errors.append(exc)
            if self.on_error is not None:
                self.on_error(exc)
            else:
                raise

    def guard(self, fn: Callable[..., None], *args: object) -> None:
        """``fn(*args)`` as the loop runs its callbacks: a failure is recorded, reported or raised."""
        self._guard(lambda: fn(*args))


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

    def run_before(self, end: float) -> None:
        """Process every event due before ``end`` (not at it), then stand at ``end``: one window of a
        lockstep run (`wms.bus.lockstep`), where what arrives from elsewhere is due at ``end`` or later."""
        heap, pop, run_one = self._heap, heapq.heappop, self._run_one
        while heap and heap[0][0] < end:
            at, _, timer = pop(heap)
            self._now = at
            run_one(timer)
        self._now = max(self._now, end)

    def next_at(self) -> float:
        """When the earliest queued timer is due (cancelled ones included); infinity if none is."""
        return self._heap[0][0] if self._heap else math.inf


class WallClock(_Loop):
    """Real time, optionally sped up: ``speed`` simulated seconds pass per real second.

    Its loop also waits on sockets (`watch`), so a network client can live on the loop's thread: no
    hand-off between threads per message, which is what costs most at thousands of messages a second.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None, anchor: float | None = None) -> None:
        """``start`` is the clock's time at wall time ``anchor`` (epoch seconds; default: now)."""
        super().__init__()
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.speed = speed
        self._t0 = time.monotonic() - (0.0 if anchor is None else time.time() - anchor)
        self._start = time.time() if start is None else start
        self._lock = threading.Lock()
        self._stopped = False
        self._asleep = False  # the loop is (about to be) blocked in select: a timer from elsewhere wakes it
        self._loop_thread: int | None = None
        self._polled_at = 0.0
        self._watched: dict[socket.socket, int] = {}
        self._before_wait: list[Callback] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speed

    def twin(self) -> WallClock:
        """Another loop on the same time line, for a component that must not wait on this one's work."""
        other = WallClock(self.speed, self._start)
        other._t0 = self._t0
        return other

    def call_at(self, at: float, fn: Callback) -> Timer:
        with self._lock:
            timer = self._push(at, fn)
            wake, self._asleep = self._asleep, False
        if wake:
            self._wake()
        return timer

    def call_later(self, delay: float, fn: Callback) -> Timer:
        return self.call_at(self.now() + max(delay, 0.0), fn)

    def call_soon_threadsafe(self, fn: Callback) -> None:
        self.call_at(self.now(), fn)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe already wakes it
            self._wake_w.send(b"\0")

    def stop(self) -> None:
        """Make ``run`` return, now and for good (thread-safe)."""
        with self._lock:
            self._stopped = True
        self._wake()

    def running_here(self) -> bool:
        """Whether the calling thread is running this loop right now."""
        return self._loop_thread == threading.get_ident()

    def before_wait(self, fn: Callback) -> None:
        """Run ``fn`` once before the loop next waits on its sockets (call from the loop's thread)."""
        self._before_wait.append(fn)

    def in_loop(self) -> bool:
        """Whether the caller may act for the loop: it is the loop's thread, or no thread runs the loop."""
        return self._loop_thread is None or self._loop_thread == threading.get_ident()

    def watch(self, sock: socket.socket, on_read: Callback, on_write: Callback) -> None:
        """Call ``on_read`` whenever ``sock`` is readable (and ``on_write`` when writable, see `writing`)."""
        fd = sock.fileno()  # kept: a closed socket no longer knows its descriptor

        def add() -> None:
            self._watched[sock] = fd
            self._selector.register(fd, selectors.EVENT_READ, (on_read, on_write))

        self._on_loop(add)

    def writing(self, sock: socket.socket, wanted: bool) -> None:
        """Also wait for ``sock`` to be writable (a send would block), or stop doing so."""

        def change() -> None:
            fd = self._watched.get(sock)
            key = None if fd is None else self._selector.get_map().get(fd)
            if key is not None:
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wanted else 0)
                if key.events != events:
                    self._selector.modify(fd, events, key.data)

        self._on_loop(change)

    def unwatch(self, sock: socket.socket) -> None:
        """Stop waiting on ``sock`` (it may be closed already)."""

        def drop() -> None:
            fd = self._watched.pop(sock, None)
            if fd is not None:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(fd)

        self._on_loop(drop)

    def _on_loop(self, fn: Callback) -> None:
        if self.in_loop():
            fn()
        else:
            self.call_soon_threadsafe(fn)

    def run(self, until: float | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Run due callbacks and ready sockets in the calling thread until ``until``, ``stop()`` or `stop`."""
        self._loop_thread = threading.get_ident()
        try:
            while True:
                with self._lock:
                    if self._stopped:
                        return
                    now = self.now()
                    if until is not None and now >= until:
                        return
                    timer = None
                    if self._heap and self._heap[0][0] <= now:
                        _, _, timer = heapq.heappop(self._heap)
                        wait = 0.0
                    else:
                        wake = self._heap[0][0] if self._heap else (until if until is not None else now + 1.0)
                        if until is not None:
                            wake = min(wake, until)
                        wait = max((wake - now) / self.speed, 0.0005)
                        self._asleep = True
                if timer is not None:
                    self._run_one(timer)
                    if stop is not None and stop():
                        return
                    # sockets get their turn between timers, so a busy timer queue does not starve them
                    if time.monotonic() - self._polled_at > IO_TURN_S and self._watched:
                        self._poll(0.0)
                    continue
                self._poll(wait)
                if stop is not None and stop():
                    return
        finally:
            self._run_before_wait()  # nothing stays buffered while no loop runs
            self._loop_thread = None
            with self._lock:
                self._asleep = False

    def _run_before_wait(self) -> None:
        while self._before_wait:
            hooks, self._before_wait = self._before_wait, []
            for fn in hooks:
                self._guard(fn)

    def _poll(self, wait: float) -> None:
        self._run_before_wait()
        events = self._selector.select(wait)
        self._polled_at = time.monotonic()
        with self._lock:
            self._asleep = False
        for key, mask in events:
            if key.data is None:
                with contextlib.suppress(BlockingIOError, OSError):
                    self._wake_r.recv(4096)
                continue
            on_read, on_write = key.data
            if mask & selectors.EVENT_WRITE:
                self._guard(on_write)
            if mask & selectors.EVENT_READ:
                self._guard(on_read)
