"""Whose work a virtual day's event loop did: the controller's, the simulated world's, or the bench's.

In virtual time one process runs both the product (the controller, its fleet manager and planners) and
the world it drives (simulated robots, conveyors, X-ray lanes, the order feed). The wall time of a day
says how fast the two together are; what a site needs to know is what the controller alone costs per
order, since in production the world is real. `LoopSplit` is a clock meter (`wms.clock._Loop.meter`):
it adds each callback's wall seconds to the owner of the code it runs, found by the module of the
function (a bus delivery's by its subscriber's handler).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from wms.bus.inproc import Delivery

OWNERS = ("controller", "simulators", "bench", "other")


def owner_of(module: str) -> str:
    """The owner of code in ``module``: the simulators' package, the benches' and tools, else the product."""
    if module.startswith("simulators"):
        return "simulators"
    if module.startswith(("wms.day", "tools")) or module in ("__main__", "day_window"):
        return "bench"
    return "controller" if module.startswith("wms") else "other"


def _innermost(fn: Any) -> Any:
    """The code a callback runs: a partial's function, and what a wrapper wraps when it says so in
    ``inner`` (the controller's unit of work, input guard and periodic ticks)."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif hasattr(fn, "inner"):
            fn = fn.inner
        else:
            return fn


def _module(fn: Any) -> str:
    """The module of the code a callback runs."""
    return getattr(_innermost(fn), "__module__", None) or ""


class LoopSplit:
    """Wall seconds and callbacks by owner, as a clock's loop runs them."""

    def __init__(self) -> None:
        # plain dicts: an item of a Counter (a dict subclass) costs four times as much to add to
        self.seconds: dict[str, float] = dict.fromkeys(OWNERS, 0.0)
        self.events: dict[str, int] = dict.fromkeys(OWNERS, 0)
        self._by_code: dict[object, str] = {}  # owners by code object: one look-up per event

    def __call__(self, fn: Callable[[], None], seconds: float) -> None:
        """Book one callback (the clock's meter); it runs for every event of a day, so it is kept short."""
        target: Any = fn.handler if type(fn) is Delivery else fn  # a bus message: its subscriber's work
        code = getattr(target, "__code__", None)  # functions, closures and bound methods have one
        owner = None if code is None else self._by_code.get(code)
        if owner is None:
            owner = owner_of(_module(target))
            if code is not None:
                self._by_code[code] = owner
        self.seconds[owner] += seconds
        self.events[owner] += 1

    def report(self, loop_s: float, orders: int) -> dict[str, Any]:
        """Seconds and callbacks by owner; ``loop`` is what the loop spent outside callbacks in ``loop_s``
        (its heap of timers, the metering itself, the bench's sampling between steps)."""
        seconds = {o: round(self.seconds[o], 2) for o in OWNERS}
        seconds["loop"] = round(max(loop_s - sum(self.seconds.values()), 0.0), 2)
        per_order = {
            f"{o}_ms_per_order": round(1000.0 * self.seconds[o] / orders, 3) if orders else None
            for o in ("controller", "simulators")
        }
        return {"seconds": seconds, "events": {o: self.events[o] for o in OWNERS}, **per_order}


def handler_name(fn: Callable[[], None]) -> str:
    """The qualified name of the code a callback runs (`_innermost`; a bus delivery's: its handler's)."""
    target = _innermost(fn.handler if type(fn) is Delivery else fn)
    return getattr(target, "__qualname__", type(target).__qualname__)


class HandlerTimes:
    """Wall seconds and calls by handler (`handler_name`), as a clock meter; for finding which kind of
    event costs what (`tools/day_window.py --handlers`), not for a whole day: it names every callback."""

    def __init__(self, then: Callable[[Callable[[], None], float], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._then = then  # another meter to pass each callback on to (e.g. a `LoopSplit`)

    def __call__(self, fn: Callable[[], None], seconds: float) -> None:
        """Book one callback."""
        name = handler_name(fn)
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._then is not None:
            self._then(fn, seconds)
