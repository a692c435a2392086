"""Wave batching in a worker process, so that a large wave does not stall the controller's loop.

Savings batching on exact route lengths is the controller's heaviest planner: a wave of a few thousand
orders takes seconds of CPU. Inline, robot states and conveyor events wait behind it. `WavePlanner` runs
`batch_pick_orders` in one long-lived worker process (which also keeps its memo of route lengths across
waves) while the loop goes on; the controller collects the plan a fixed ``plan_s`` after the wave started.
On a virtual clock that fixed delay keeps a run deterministic: the loop blocks at that instant until the
plan is there, however long the worker took.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from wms.config import Storage
from wms.layout import Layout
from wms.lifeline import exit_with_parent
from wms.picking.batch import Cart, Timing, batch_pick_orders
from wms.picking.batching import PickOrder

_layout: Layout | None = None  # the worker's own copy, built once when it starts


def _start_worker(storage: Storage, pack_stations: int, chargers: int) -> None:
    global _layout
    _layout = Layout(storage, pack_stations, chargers)
    exit_with_parent()  # a SIGKILL of the controller leaves no one to stop the pool


def _plan(orders: Sequence[PickOrder], cart: Cart, timing: Timing, method: str) -> list[list[str]]:
    """In the worker: the wave's batches as order numbers, in release order."""
    assert _layout is not None, "the worker starts with its layout"
    return [[o.order_no for o in b] for b in batch_pick_orders(_layout, orders, cart, timing, method=method)]


def _usage() -> tuple[float, float]:
    """In the worker: its CPU seconds and peak resident memory in MB so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0  # KB on Linux


class WavePlanner:
    """One worker process that batches waves; started on the first wave, stopped by `close`."""

    def __init__(self, storage: Storage, pack_stations: int, chargers: int) -> None:
        self._args = (storage, pack_stations, chargers)
        self._pool: ProcessPoolExecutor | None = None
        self.plans = 0  # waves batched in the worker
        self.workers = 0  # worker processes started (more than one: a worker died and was replaced)

    def submit(
        self, orders: Sequence[PickOrder], cart: Cart, timing: Timing, method: str
    ) -> Future[list[list[str]]]:
        """Start batching a wave; `collect` gives its batches as order numbers."""
        if self._pool is None:
            # spawn, not fork: a live controller has MQTT and database threads that fork would copy mid-use
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=mp.get_context("spawn"),
                initializer=_start_worker,
                initargs=self._args,
            )
            self.workers += 1
        try:
            plan = self._pool.submit(_plan, list(orders), cart, timing, method)
        except (BrokenProcessPool, OSError, RuntimeError):  # the worker died, or none could start
            self.close()
            raise
        self.plans += 1
        return plan

    def collect(self, plan: Future[list[list[str]]]) -> list[list[str]]:
        """The wave's batches, waiting for them if the worker is not done; a dead worker is replaced.

        Raises what the planner raised (a refused wave) or `BrokenProcessPool` if the worker died; the next
        `submit` then starts a new one.
        """
        try:
            return plan.result()
        except BrokenProcessPool:
            self.close()
            raise

    def usage(self) -> tuple[float, float]:
        """CPU seconds and peak resident MB of the current worker; zeros if none is running."""
        if self._pool is None:
            return 0.0, 0.0
        try:
            return self._pool.submit(_usage).result()
        except BrokenProcessPool:
            return 0.0, 0.0

    def close(self) -> None:
        """Stop the worker (a plan in flight is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
