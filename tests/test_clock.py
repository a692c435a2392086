"""Both clocks run callbacks in time order, one at a time."""

from __future__ import annotations

import gc
import threading
import time

from wms.clock import GC_YOUNG, VirtualClock, WallClock, iso, quiet_gc_while


def test_virtual_clock_runs_in_time_order_and_jumps() -> None:
    clock = VirtualClock(start=100.0)
    seen: list[tuple[float, str]] = []
    clock.call_later(5, lambda: seen.append((clock.now(), "b")))
    clock.call_later(1, lambda: seen.append((clock.now(), "a")))
    t = clock.call_later(3, lambda: seen.append((clock.now(), "cancelled")))
    t.cancel()
    clock.call_at(50, lambda: seen.append((clock.now(), "past")))  # in the past: runs now
    clock.run()
    assert seen == [(100.0, "past"), (101.0, "a"), (105.0, "b")]


def test_virtual_clock_run_until_stops_and_advances() -> None:
    clock = VirtualClock(start=0.0)
    seen: list[float] = []
    clock.call_later(10, lambda: seen.append(clock.now()))
    clock.run(until=5)
    assert seen == [] and clock.now() == 5
    clock.run(until=20)
    assert seen == [10] and clock.now() == 20


def test_wall_clock_speed_and_threadsafe_post() -> None:
    clock = WallClock(speed=100.0, start=0.0)
    seen: list[str] = []
    clock.call_later(20.0, lambda: seen.append("timer"))  # 0.2 s real
    threading.Thread(target=lambda: clock.call_soon_threadsafe(lambda: seen.append("post"))).start()
    t0 = time.monotonic()
    clock.run(until=30.0)
    assert seen == ["post", "timer"]
    assert 0.25 <= time.monotonic() - t0 < 2.0


def test_iso_timestamp_is_utc_with_z() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"


def test_iso_timestamp_agrees_with_datetime_at_every_edge() -> None:
    """The per-second cache rounds to microseconds as datetime does, then cuts to milliseconds."""
    import random
    from datetime import UTC, datetime

    rng = random.Random(7)
    edges = (0.0, 0.0000004, 0.0000005, 0.0005, 0.9994999, 0.9995, 0.9999994, 0.9999995, 0.9999996)
    stamps = [rng.uniform(0, 2e9) for _ in range(20_000)]
    stamps += [rng.randint(0, 2_000_000_000) + e for e in edges for _ in range(2_000)]
    stamps += [1e9 + k / 1000 for k in range(3_000)]  # in order, across seconds
    for ts in stamps:
        want = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert iso(ts) == want, ts


def test_the_collector_is_quieted_for_a_run_and_set_back_after_it() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with quiet_gc_while():
        assert gc.get_threshold() == (GC_YOUNG, *before[1:])
        inside = gc.get_freeze_count()
        assert inside > frozen  # what lives when the run starts is never scanned in it
    assert gc.get_threshold() == before
    # unfrozen again, unless something froze the heap before (another test's `quiet_gc`, in this process)
    assert (gc.get_freeze_count() > 0) == bool(frozen)


def test_a_run_leaves_a_heap_frozen_before_it_frozen() -> None:
    gc.freeze()  # as `quiet_gc` leaves it for the rest of a process
    with quiet_gc_while():
        pass
    assert gc.get_freeze_count() > 0  # a frozen object leaves the count only when it is freed
