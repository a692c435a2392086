"""The controller's buyer history lives in its database and decides exactly as the in-memory one would.

A virtual shift (with consumer returns after it) runs with the controller's `DbHistory` paired with an
in-memory `BuyerHistory` in a `Twin`: every question the gate asks and every quota a return restores
must agree. The database then answers every question as the history rebuilt from the parcel events,
inventory lists and returns (what a restart used to rebuild), also after an older database is upgraded
in place.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from tests.inspection.helpers_history import Twin, assert_same_answers, rebuilt_from_events
from wms import topics
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.history import DbHistory
from wms.control.repo import Repo
from wms.domain import OrderBundle, ParcelState
from wms.inspection.rules import BuyerHistory
from wms.messages import StockResult
from wms.shift import ShiftOptions, run_until_drained, virtual_shift
from wms.store.db import connect
from wms.store.migrate import upgrade
from wms.store.models import OrderRow, ParcelRow

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
NEW_COLUMNS = ("at_gate", "address_key", "released_at", "quota_fen")


@pytest.fixture(scope="module")
def twin_shift(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("history") / "h.db"
    opts = ShiftOptions(duration_s=900.0, orders_per_hour=2400.0, db_url=f"sqlite:///{db}")
    shift, broker = virtual_shift(CFG, CUSTOMS, opts)
    ctl = shift.controller
    assert isinstance(ctl.history, DbHistory)
    memory = BuyerHistory.for_customs(CUSTOMS, CFG.site.utc_offset_h)
    twin = Twin(ctl.history, memory)
    ctl.history = twin  # type: ignore[assignment]
    assert run_until_drained(shift, opts.drain_limit_s)
    desk = broker.client("returns-desk")
    results: list[StockResult] = []
    desk.subscribe(
        topics.stock_results(CFG.site.partition),
        lambda _t, d: results.append(StockResult.model_validate_json(d)),
        qos=1,
    )
    with ctl.repo.session() as s:
        dispatched = sorted(
            s.exec(select(ParcelRow.order_no).where(ParcelRow.state == ParcelState.DISPATCHED)).all()
        )
    for k, order_no in enumerate(dispatched[:12]):  # all of it, or one unit of the first line
        order = OrderBundle.model_validate_json(ctl.repo.order_document(order_no) or "").order
        lines = None if k % 2 else [{"sku": order.lines[0].sku, "qty": 1}]
        notice = {"return_no": f"RT-{k}", "order_no": order_no, "lines": lines}
        desk.publish(topics.stock_returns(CFG.site.partition), json.dumps(notice), qos=1)
        shift.clock.run(until=shift.clock.now() + 1.0)
    assert len(results) == 12 and all(r.accepted for r in results), [r.detail for r in results]
    assert sum(r.quota_restored_fen > 0 for r in results) == 12
    return shift, twin, memory, db


def test_every_answer_of_a_shift_agrees_with_the_in_memory_history(twin_shift) -> None:  # type: ignore[no-untyped-def]
    shift, twin, memory, _db = twin_shift
    ctl = shift.controller
    assert not shift.clock.errors and not ctl.alarm_counts.get("orders")
    # the gate asked every question of every parcel it decided on (the intake only whether an order
    # was declared before), many answers were not empty, and returns gave quota back
    decided = twin.calls["record_order"]  # one per parcel the gate decided on
    assert decided > 0.9 * shift.feed.sent, (decided, shift.feed.sent)
    for name in ("released_value_in_year", "orders_in_window", "buyers_at_address"):
        assert twin.calls[name] == decided, (name, twin.calls)
    assert twin.calls["declared"] == shift.feed.sent + decided, twin.calls
    for name in ("released_value_in_year", "orders_in_window", "buyers_at_address"):
        assert twin.nonzero[name] > 0, (name, twin.nonzero)
    assert twin.calls["record_order"] > 0 and twin.calls["record_release"] > 0
    assert twin.nonzero["restore_quota"] == 12
    assert assert_same_answers(twin.first, memory, ctl.repo.engine) > 0


def test_the_database_holds_what_the_event_log_says(twin_shift) -> None:  # type: ignore[no-untyped-def]
    shift, twin, _memory, _db = twin_shift
    engine = shift.controller.repo.engine
    rebuilt = rebuilt_from_events(engine, CUSTOMS.return_window_days, CFG.site.utc_offset_h)
    assert assert_same_answers(twin.first, rebuilt, engine) > 0


def test_an_older_database_is_upgraded_in_place_with_the_same_answers(twin_shift, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shift, twin, memory, db = twin_shift
    old = tmp_path / "old.db"
    shutil.copy(db, old)
    for suffix in ("-wal", "-shm"):  # a copy of a WAL database needs its log too
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", f"{old}{suffix}")
    _downgrade(f"sqlite:///{old}")
    engine = connect(f"sqlite:///{old}")  # upgrades, and fills the history from the events
    with Session(engine) as s:
        assert s.exec(select(OrderRow.at_gate).where(OrderRow.at_gate.is_not(None))).first()  # type: ignore[union-attr]
    upgraded = DbHistory.for_customs(Repo(engine).unit, CUSTOMS, CFG.site.utc_offset_h)
    assert assert_same_answers(upgraded, memory, engine) > 0
    assert upgrade(engine) == {}  # a second start changes nothing


def _downgrade(url: str) -> None:
    """The ``order_`` table as code before the database history made it (no history columns or indexes)."""
    engine = connect(url)
    with engine.begin() as conn:
        for index in OrderRow.__table__.indexes:  # type: ignore[attr-defined]
            conn.execute(text(f"DROP INDEX {index.name}"))
        for column in NEW_COLUMNS:
            conn.execute(text(f"ALTER TABLE order_ DROP COLUMN {column}"))
        conn.execute(text("CREATE INDEX ix_order__buyer_id ON order_ (buyer_id)"))
    engine.dispose()
