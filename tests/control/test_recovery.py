"""A controller that dies mid-shift and is restarted on its database resumes every parcel where it was."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from tests.inspection.helpers_history import assert_same_answers, rebuilt_from_events
from wms.bus.inproc import InProcBroker
from wms.clock import Timer, VirtualClock
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.controller import BOOT_ID_SPAN, Controller
from wms.control.history import DbHistory
from wms.domain import TERMINAL_STATES, ParcelState
from wms.shift import ShiftOptions, build_shift, run_until_drained, start_time
from wms.store.db import connect
from wms.store.models import CommandRow, ParcelEvent, ParcelRow, TaskRow

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
TERMINAL = [s.value for s in TERMINAL_STATES]


class ControllerClock:
    """The shared virtual time line as one controller sees it: its timers die with it."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.timers: list[Timer] = []
        self.errors = clock.errors

    def now(self) -> float:
        return self.clock.now()

    def call_at(self, at: float, fn: Any) -> Timer:
        timer = self.clock.call_at(at, fn)
        self.timers.append(timer)
        return timer

    def call_later(self, delay: float, fn: Any) -> Timer:
        return self.call_at(self.clock.now() + delay, fn)

    def call_soon_threadsafe(self, fn: Any) -> None:
        self.call_at(self.clock.now(), fn)

    def kill(self) -> None:
        for timer in self.timers:
            timer.cancel()


def test_restarts_mid_shift_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'recovery.db'}"
    opts = ShiftOptions(duration_s=1200.0, orders_per_hour=1800.0, db_url=db_url, drain_limit_s=6 * 3600.0)
    clock = VirtualClock(start_time(CFG, opts.start_local))
    broker = InProcBroker(clock)
    ctl_clock = ControllerClock(clock)
    shift = build_shift(
        CFG, CUSTOMS, opts, clock, lambda name, will, _c: broker.client(name, will=will), ctl_clock=ctl_clock
    )
    catalog = list(shift.controller.catalog.values())
    seen_open: Counter[str] = Counter()
    resumed_with: list[dict[str, int]] = []
    for at in (240.0, 600.0, 900.0, 1300.0):
        clock.run(until=shift.start + at)
        old = shift.controller
        old.parcels.check()  # every state change went through its groups
        seen_open.update(p.state.value for p in old.parcels.values() if p.state not in TERMINAL_STATES)
        ctl_clock.kill()
        old.bus.crash()  # type: ignore[attr-defined]
        with Session(old.repo.engine) as s:
            open_rows = s.exec(select(ParcelRow).where(ParcelRow.state.not_in(TERMINAL))).all()  # type: ignore[attr-defined]
            pending = len(s.exec(select(CommandRow)).all())
            assigned = len(s.exec(select(TaskRow).where(TaskRow.state == "assigned")).all())
        ctl_clock = ControllerClock(clock)
        new = Controller(broker.client("controller"), ctl_clock, connect(db_url), CFG, CUSTOMS, catalog)
        new.start()
        assert new.resumed and new.boot == len(resumed_with) + 1
        new.parcels.check()
        assert set(new.parcels) == set(old.parcels)
        assert {o: p.state for o, p in new.parcels.items()} == {o: p.state for o, p in old.parcels.items()}
        assert new.tally == old.tally  # closed parcels counted from the database, the last holds too
        assert new.tally.total > 0 or at == 240.0
        # the buyer history is the database's: nothing rebuilt, and what the event log says
        assert isinstance(new.history, DbHistory)
        rebuilt = rebuilt_from_events(new.repo.engine, CUSTOMS.return_window_days, CFG.site.utc_offset_h)
        assert assert_same_answers(new.history, rebuilt, new.repo.engine) > 0
        assert {lot: v.available for lot, v in new.lots.items()} == {
            lot: v.available for lot, v in old.lots.items()
        }
        assert len(new.pending) == pending
        taken_back = sum(1 for r in new.fleet.robots.values() if r.task is not None)
        assert taken_back == assigned
        resumed_with.append({"open": len(open_rows), "commands": pending, "tasks": taken_back})
        shift.controller = new
    # the restarts fell on parcels in every stage of the flow
    for state in (ParcelState.PICKING, ParcelState.PACKED, ParcelState.SORTED, ParcelState.INSPECTING):
        assert seen_open[state.value] > 0, (state, seen_open)
    assert sum(r["commands"] for r in resumed_with) > 0 and sum(r["tasks"] for r in resumed_with) > 0
    run_until_drained(shift, opts.drain_limit_s)
    ctl = shift.controller
    assert next(ctl._ids) > 4 * BOOT_ID_SPAN  # identifiers of the last start do not repeat earlier ones
    with Session(ctl.repo.engine) as s:
        states = Counter(s.exec(select(ParcelRow.state)).all())
        closings = Counter(
            s.exec(select(ParcelEvent.order_no).where(ParcelEvent.to_state.in_(TERMINAL))).all()  # type: ignore[attr-defined]
        )
    assert sum(states.values()) == shift.feed.sent and shift.feed.unacked == 0
    assert set(states) <= set(TERMINAL), states
    assert len(closings) == shift.feed.sent and max(closings.values()) == 1
    assert ctl.repo.ledger_check()["balanced"]
    assert not clock.errors
