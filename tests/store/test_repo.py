"""Storage: state changes with their events in one transaction; the bonded ledger balances."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlmodel import col, select

from wms.control.repo import Repo
from wms.domain import CustomsOrder, LedgerKind, LotReceipt, OrderBundle, OrderLine, ParcelState
from wms.reports import ledger_report, sla_report
from wms.store.db import connect
from wms.store.models import LedgerEntry, LotRow, ParcelEvent, ParcelRow


def _bundle(order_no: str, sku: str = "SKU1", qty: int = 2) -> OrderBundle:
    order = CustomsOrder(
        order_no=order_no,
        ebp_code="E",
        ebc_code="E",
        goods_value_fen=1000 * qty,
        freight_fen=0,
        discount_fen=0,
        tax_total_fen=0,
        actural_paid_fen=1000 * qty,
        buyer_reg_no="b",
        buyer_name="Li",
        buyer_phone="1",
        buyer_id_type=1,
        buyer_id_number="110101199001010011",
        pay_code="P",
        pay_transaction_id=f"T{order_no}",
        consignee="Li",
        consignee_phone="1",
        consignee_address="Zhengzhou",
        lines=[OrderLine(gnum=1, sku=sku, name=sku, qty=qty, price_fen=1000, total_fen=1000 * qty)],
    )
    return OrderBundle(order=order)


def _exercise(url: str) -> None:
    repo = Repo(connect(url, fresh=True))
    lot = LotReceipt(lot="LOT1", sku="SKU1", qty=10, entry_no="E1", account_book="T1", expiry="2027-01-01")
    assert repo.receive_lot(lot, "S1", 0.0)
    assert not repo.receive_lot(lot, "S1", 1.0)  # a redelivered receipt books nothing twice
    for no in ("O1", "O2", "O3"):
        repo.record_order(
            _bundle(no), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")]
        )
    repo.record_order(_bundle("O4"), ParcelState.REJECTED, 1.0, reason="DOC_MISSING: no payment")
    assert repo.ledger_check()["balanced"]  # the open orders' reservations are the lot's allocated units
    with repo.session() as s:
        s.exec(update(LotRow).where(LotRow.lot == "LOT1").values(qty_allocated=LotRow.qty_allocated + 1))
        s.commit()
    assert repo.ledger_check()["balanced"] is False  # a reservation nobody holds
    with repo.session() as s:
        s.exec(update(LotRow).where(LotRow.lot == "LOT1").values(qty_allocated=LotRow.qty_allocated - 1))
        s.commit()
    repo.transition(["O1", "O2", "O3"], ParcelState.RELEASED, 2.0, "gate")
    repo.dispatch("M1", "SF", ["O1"], 3.0)
    repo.close_out("O2", ParcelState.HELD, 3.0, LedgerKind.HELD, "XRAY_SUSPECT")
    repo.close_out("O3", ParcelState.REJECTED, 3.0, None, "ANNUAL_LIMIT")
    check = repo.ledger_check()
    assert check == {
        "received": 10,
        "adjusted": 0,
        "in_stock": 6,
        "released": 2,
        "returned": 0,
        "held": 2,
        "balanced": True,
    }
    with repo.session() as s:
        rejected = s.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REJECTED)).all()
        assert [(e.ref, e.qty) for e in rejected] == [("O3", 2)]  # on the audit trail, no balance change
    assert repo.parcel_states() == {"dispatched": 1, "held": 1, "rejected": 2}
    report = ledger_report(repo.engine)
    assert report["balanced"] and report["account_books"]["T1"]["released"] == 2
    sla = sla_report(repo.engine, now=4.0)
    assert sla["dispatched"] == 1 and sla["dispatched_within_24h_pct"] == 100.0 and sla["open"] == 0
    with repo.session() as s:
        events = s.exec(
            select(ParcelEvent).where(ParcelEvent.order_no == "O1").order_by(ParcelEvent.id)
        ).all()
        assert [(e.from_state, e.to_state) for e in events] == [
            ("", "allocated"),
            ("allocated", "released"),
            ("released", "dispatched"),
        ]
        assert s.get(ParcelRow, "O1").manifest == "M1"  # type: ignore[union-attr]
    # a consumer sends a unit back: to the returns area, then on sale again; a count finds one more
    repo.book_return("R1", "O1", [("LOT1", "SKU1", 1)], restock=False, quota_fen=1000, now=5.0)
    c = repo.ledger_check()
    assert (c["in_stock"], c["released"], c["returned"], c["balanced"]) == (6, 1, 1, True)
    assert repo.restock_return("R1", 6.0) == [("LOT1", "SKU1", 1)]
    assert repo.restock_return("R1", 6.5) == []  # a repeat restocks nothing
    repo.adjust("ADJ1", "LOT1", 1, "cycle count found one", 7.0)
    c = repo.ledger_check()
    assert (c["adjusted"], c["in_stock"], c["released"], c["returned"], c["balanced"]) == (1, 8, 1, 0, True)
    assert [r.quota_restored_fen for r in repo.returns_of("O1")] == [1000]
    with repo.session() as s:
        # tamper with the ledger: the check must notice
        s.add(LedgerEntry(ts=4.0, lot="LOT1", sku="SKU1", kind=LedgerKind.RELEASED, qty=1))
        s.commit()
    assert repo.ledger_check()["balanced"] is False
    unbalanced = ledger_report(repo.engine)["unbalanced_lots"]
    assert [(u["lot"], u["difference"]) for u in unbalanced] == [("LOT1", -1)]
    assert ledger_report(repo.engine)["account_books"]["T1"]["adjusted"] == 1
    with pytest.raises(KeyError, match="no parcel"):
        repo.transition(["NOPE"], ParcelState.PACKED, 5.0)


def _stocked(url: str) -> Repo:
    """A repository on a fresh database holding one received lot, LOT1 of SKU1 (10 units in slot S1)."""
    repo = Repo(connect(url, fresh=True))
    lot = LotReceipt(lot="LOT1", sku="SKU1", qty=10, entry_no="E1", account_book="T1", expiry="2027-01-01")
    repo.receive_lot(lot, "S1", 0.0)
    return repo


def test_repo_on_sqlite(tmp_path: Path) -> None:
    _exercise(f"sqlite:///{tmp_path / 'wms.db'}")


def test_sqlite_uses_wal_a_large_page_cache_and_rare_checkpoints(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -128 * 1024
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000


@pytest.mark.integration
def test_repo_on_postgresql(pg_url: str) -> None:
    _exercise(pg_url)


def _book_elsewhere(repo: Repo, entry_id: int, qty: int) -> None:
    """A stock correction by another writer in one transaction: ledger entry ``entry_id``, LOT1's stock."""
    with repo.session() as s:
        s.add(LedgerEntry(id=entry_id, ts=9.0, lot="LOT1", sku="SKU1", kind=LedgerKind.ADJUSTED, qty=qty))
        s.exec(update(LotRow).where(LotRow.lot == "LOT1").values(qty_on_hand=LotRow.qty_on_hand + qty))
        s.commit()


def _ledger_summed_as_it_grows(url: str) -> None:
    repo = _stocked(url)
    assert repo.ledger_check()["balanced"]
    _book_elsewhere(repo, 1000, 2)
    assert repo.ledger_check()["adjusted"] == 2  # added to the sums the first check kept
    # committed after entry 1000 was summed, under a lower number (concurrent writers on PostgreSQL):
    # the entries after 1000 miss it, so the check sums the whole ledger before it says anything is wrong
    _book_elsewhere(repo, 500, 3)
    check = repo.ledger_check()
    assert (check["adjusted"], check["in_stock"], check["balanced"]) == (5, 15, True)
    # a check reads only what was added since the last one: an entry deleted behind its back (the
    # ledger is append-only) is found by a whole count, as a restarted controller's first check makes
    with repo.session() as s:
        s.exec(delete(LedgerEntry).where(col(LedgerEntry.id) == 500))
        s.commit()
    assert repo.ledger_check()["balanced"]
    assert repo.ledger_check(whole=True)["balanced"] is False
    assert Repo(repo.engine).ledger_check()["balanced"] is False
    assert [u["lot"] for u in ledger_report(repo.engine)["unbalanced_lots"]] == ["LOT1"]


def test_the_ledger_check_adds_new_entries_and_counts_again_before_it_says_unbalanced(tmp_path: Path) -> None:
    _ledger_summed_as_it_grows(f"sqlite:///{tmp_path / 'wms.db'}")


@pytest.mark.integration
def test_the_ledger_check_adds_new_entries_on_postgresql(pg_url: str) -> None:
    _ledger_summed_as_it_grows(pg_url)


def test_report_ledger_command_prints_the_account_books_and_names_a_lot_that_does_not_balance(
    tmp_path: Path,
) -> None:
    import json

    from typer.testing import CliRunner

    from wms.cli import app

    url = f"sqlite:///{tmp_path / 'r.db'}"
    repo = _stocked(url)
    runner = CliRunner()
    out = runner.invoke(app, ["report", "ledger", "--db", url])
    assert out.exit_code == 0, out.output
    assert "received (+ adjusted) = in stock + released + returned + held" in out.output
    assert "T1" in out.output and "1 lots: balanced" in out.output
    with repo.session() as s:
        s.add(LedgerEntry(ts=1.0, lot="LOT1", sku="SKU1", kind=LedgerKind.HELD, qty=2))
        s.commit()
    out = runner.invoke(app, ["report", "ledger", "--db", url])
    assert out.exit_code == 1 and "lot LOT1 (SKU1): -2 units unaccounted for" in out.output
    out = runner.invoke(app, ["report", "ledger", "--db", url, "--json"])
    assert out.exit_code == 1 and json.loads(out.output)["balanced"] is False


def test_a_unit_that_touches_nothing_skips_the_commit_and_every_other_unit_commits(tmp_path: Path) -> None:
    repo = _stocked(f"sqlite:///{tmp_path / 'c.db'}")
    commits: list[int] = []
    real_commit = repo._work.commit

    def counted() -> None:
        commits.append(1)
        real_commit()

    repo._work.commit = counted  # type: ignore[method-assign]

    def stored_qty() -> int:
        with repo.session() as s:
            row = s.get(LotRow, "LOT1")
            assert row is not None
            return row.qty_on_hand

    with repo.unit() as s:  # a held row read from memory: no transaction, nothing to write
        assert repo._get(s, LotRow, "LOT1") is not None
    assert commits == []
    with repo.unit() as s:  # a held row changed by its statement: committed
        row = repo._get(s, LotRow, "LOT1")
        assert row is not None
        repo._write(s, LotRow, row, {"qty_on_hand": 9})
        assert row.qty_on_hand == 9
    assert len(commits) == 1 and stored_qty() == 9
    repo.adjust("ADJ1", "LOT1", -1, "count", 1.0)  # rows added and an append queued
    assert len(commits) == 2 and stored_qty() == 8
    assert not repo.has_order("O1")  # a read began a transaction: it is committed (its connection freed)
    assert len(commits) == 3
    with pytest.raises(RuntimeError), repo.unit() as s:  # a failed unit rolls back and commits nothing
        row = repo._get(s, LotRow, "LOT1")
        assert row is not None
        repo._write(s, LotRow, row, {"qty_on_hand": 1})
        raise RuntimeError("handler failed")
    assert len(commits) == 3 and stored_qty() == 8
    with repo.unit() as s:  # the row was reloaded as stored
        row = repo._get(s, LotRow, "LOT1")
        assert row is not None and row.qty_on_hand == 8
    with pytest.raises(RuntimeError), repo.unit():  # a failed unit that touched nothing
        raise RuntimeError("handler failed")
    repo.adjust("ADJ2", "LOT1", -1, "count", 2.0)
    assert stored_qty() == 7


def test_appended_rows_go_in_on_the_units_connection_after_the_orm_rows_without_an_orm_statement(
    tmp_path: Path,
) -> None:
    """Events and ledger entries are Core inserts in the unit's transaction, in order, after its ORM rows."""
    from sqlalchemy import event

    repo = _stocked(f"sqlite:///{tmp_path / 'a.db'}")
    orm_statements: list[str] = []
    event.listen(repo._work, "do_orm_execute", lambda ctx: orm_statements.append(str(ctx.statement)))
    with repo.unit():  # a new parcel (ORM) and its events (appended) in one unit
        repo.record_order(
            _bundle("O1"), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")]
        )
        repo.transition(["O1"], ParcelState.WAVED, 2.0, "wave 1")
        repo.transition(["O1"], ParcelState.PICKING, 3.0, "pick-01")
    assert orm_statements == []  # nothing went through the ORM's execute: no autoflush, no ORM bulk insert
    with repo.session() as s:
        events = s.exec(
            select(ParcelEvent).where(ParcelEvent.order_no == "O1").order_by(ParcelEvent.id)
        ).all()
        assert [(e.from_state, e.to_state, e.detail) for e in events] == [
            ("", "allocated", ""),
            ("allocated", "waved", "wave 1"),
            ("waved", "picking", "pick-01"),
        ]
        parcel = s.get(ParcelRow, "O1")
        assert parcel is not None and parcel.state == "picking"
    with pytest.raises(RuntimeError), repo.unit():  # a failed unit stores none of its appended rows
        repo.transition(["O1"], ParcelState.PICKED, 4.0, "PACK1")
        raise RuntimeError("handler failed")
    with repo.session() as s:
        assert len(s.exec(select(ParcelEvent).where(ParcelEvent.order_no == "O1")).all()) == 3


def test_a_unit_whose_rows_the_database_refuses_at_its_end_rolls_back_whole_and_the_next_one_works(
    tmp_path: Path,
) -> None:
    import sqlite3

    repo = _stocked(f"sqlite:///{tmp_path / 'e.db'}")
    repo.record_order(_bundle("O1"), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")])
    with pytest.raises(sqlite3.IntegrityError), repo.unit():  # the driver's: statements run on its cursor
        repo.transition(["O1"], ParcelState.WAVED, 2.0, "wave 1")
        repo._append(ParcelEvent, order_no="O1")  # no time or states: refused as the unit writes its appends
    with repo.session() as s:
        assert s.get(ParcelRow, "O1").state == "allocated"  # type: ignore[union-attr]
        assert len(s.exec(select(ParcelEvent).where(ParcelEvent.order_no == "O1")).all()) == 1
    repo.transition(["O1"], ParcelState.WAVED, 3.0, "wave 2")  # from the stored row, not the failed unit's
    with repo.session() as s:
        assert s.get(ParcelRow, "O1").state == "waved"  # type: ignore[union-attr]
        events = s.exec(select(ParcelEvent).where(ParcelEvent.order_no == "O1")).all()
        assert [(e.from_state, e.to_state, e.detail) for e in events][1:] == [
            ("allocated", "waved", "wave 2")
        ]


def test_on_sqlite_the_units_keep_one_connection_instead_of_one_from_the_pool_each(tmp_path: Path) -> None:
    """No pool checkout per unit on SQLite; failed units still roll back and report sessions see commits."""
    from sqlalchemy import event

    engine = connect(f"sqlite:///{tmp_path / 'k.db'}", fresh=True)
    repo = Repo(engine)
    checkouts: list[int] = []
    event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    lot = LotReceipt(lot="LOT1", sku="SKU1", qty=10, entry_no="E1", account_book="T1", expiry="2027-01-01")
    repo.receive_lot(lot, "S1", 0.0)
    for no in ("O1", "O2"):
        repo.record_order(
            _bundle(no), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")]
        )
    repo.transition(["O1", "O2"], ParcelState.WAVED, 2.0, "wave")
    assert checkouts == []
    with pytest.raises(RuntimeError), repo.unit():
        repo.transition(["O1"], ParcelState.PICKING, 3.0, "pick-01")
        raise RuntimeError("handler failed")
    assert checkouts == []
    assert repo.parcel_states() == {"waved": 2}  # a session of its own (one checkout) sees every commit
    assert len(checkouts) == 1
    repo.close()


def test_stored_rows_change_by_core_statements_that_leave_the_orm_nothing_to_flush(tmp_path: Path) -> None:
    """Parcel, task, robot, lot and command changes: UPDATE or DELETE by key now; the objects agree."""
    from sqlalchemy import event

    from wms.store.models import CommandRow, RobotRow, TaskRow

    repo = _stocked(f"sqlite:///{tmp_path / 'u.db'}")
    repo.record_order(_bundle("O1"), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")])
    repo.upsert_task("T1", kind="pick", state="queued", orders="O1", created_at=1.0)
    repo.upsert_robot("R1", manufacturer="m", kind="picking", state="idle")
    repo.expect_command("K1", "cv", "{}", 30.0, 1.0)
    dirty: list[object] = []
    event.listen(repo._work, "before_flush", lambda s, *_: dirty.extend([*s.dirty, *s.deleted]))
    repo.transition(["O1"], ParcelState.WAVED, 2.0, "T1", task_id="T1")
    repo.save_plan("T1", "pick", "R1", '{"plan": 1}', 3.0)
    repo.upsert_robot("R1", manufacturer="m", kind="picking", state="busy", task_id="T1")
    repo.adjust("ADJ1", "LOT1", -1, "count", 3.0)
    repo.command_done("K1")
    repo.finish_task("T1", "pick", "done", "R1", 4.0)
    assert dirty == []
    with repo.session() as s:
        parcel, task = s.get(ParcelRow, "O1"), s.get(TaskRow, "T1")
        robot, row = s.get(RobotRow, "R1"), s.get(LotRow, "LOT1")
        assert parcel is not None and (parcel.state, parcel.task_id, parcel.updated_at) == (
            "waved",
            "T1",
            2.0,
        )
        assert task is not None and (task.state, task.robot, task.plan) == ("done", "R1", '{"plan": 1}')
        assert (task.assigned_at, task.done_at, task.orders) == (3.0, 4.0, "O1")
        assert robot is not None and (robot.state, robot.task_id) == ("busy", "T1")
        assert row is not None and (row.qty_on_hand, row.qty_allocated) == (9, 2)
        assert s.get(CommandRow, "K1") is None
    with repo.unit() as s:  # the held objects carry what was stored
        held = repo._get(s, ParcelRow, "O1")
        assert held is not None and (held.state, held.task_id) == ("waved", "T1")
    with pytest.raises(RuntimeError), repo.unit():  # a failed unit's statements roll back with it
        repo.transition(["O1"], ParcelState.PICKING, 5.0, "R1")
        repo.adjust("ADJ2", "LOT1", -5, "count", 5.0)
        raise RuntimeError("handler failed")
    assert repo.parcel_states() == {"waved": 1}
    with repo.unit() as s:
        held = repo._get(s, ParcelRow, "O1")
        lot_row = repo._get(s, LotRow, "LOT1")
        assert held is not None and held.state == "waved"
        assert lot_row is not None and lot_row.qty_on_hand == 9
    repo.expect_command("K1", "cv", "{}", 30.0, 6.0)  # a key answered before is a new row
    with repo.session() as s:
        assert s.get(CommandRow, "K1") is not None
    repo.close()


def test_an_order_is_stored_without_an_orm_flush_and_documents_stored_before_are_kept(tmp_path: Path) -> None:
    """Payment and waybill are looked up by Core selects and every row inserted by Core: no ORM flush."""
    from sqlalchemy import event

    from wms.domain import Payment, Waybill
    from wms.store.models import PaymentRow, WaybillRow

    def full(order_no: str, pay_id: str, name: str) -> OrderBundle:
        b = _bundle(order_no)
        pay = Payment(
            pay_code="P",
            pay_transaction_id=pay_id,
            order_no=order_no,
            payer_id_type=1,
            payer_id_number="110101199001010011",
            payer_name=name,
            amount_paid_fen=2000,
            pay_time="20261111120000",
        )
        way = Waybill(
            carrier="SF",
            logistics_no=f"W{pay_id}",
            order_no=order_no,
            freight_fen=0,
            insured_fee_fen=0,
            weight_kg=1.0,
            consignee="Li",
            consignee_phone="1",
            consignee_address="Zhengzhou",
        )
        return b.model_copy(update={"payment": pay, "waybill": way})

    repo = Repo(connect(f"sqlite:///{tmp_path / 'o.db'}", fresh=True))
    flushes: list[int] = []
    event.listen(repo._work, "after_flush", lambda *_: flushes.append(1))
    repo.record_order(full("O1", "T1", "Li"), ParcelState.ALLOCATED, 1.0)
    assert flushes == []  # its rows went in as Core inserts: nothing for the ORM to flush
    repo.record_order(full("O2", "T1", "Wang"), ParcelState.REJECTED, 2.0, reason="DUPLICATE")
    with repo.session() as s:
        pay = s.get(PaymentRow, "T1")
        assert pay is not None and (pay.order_no, pay.payer_name) == ("O1", "Li")  # the first one stays
        assert s.get(WaybillRow, "WT1") is not None
    assert repo.has_order("O2") and not repo.has_order("O3")
    doc = repo.order_document("O1")
    assert doc is not None and OrderBundle.model_validate_json(doc) == full("O1", "T1", "Li")
    assert repo.order_document("O3") is None
    repo.close()


def test_new_rows_go_in_by_core_inserts_held_as_stored_and_a_failed_unit_leaves_none_behind(
    tmp_path: Path,
) -> None:
    """A new parcel, task or command is in the database at once; what is held of it is what was stored,
    and the session holds no object of it (nothing for a flush to look at)."""
    from wms.store.models import CommandRow, TaskRow

    repo = Repo(connect(f"sqlite:///{tmp_path / 'n.db'}", fresh=True))
    lot = LotReceipt(lot="LOT1", sku="SKU1", qty=10, entry_no="E1", account_book="T1", expiry="2027-01-01")
    with repo.unit() as s:
        repo.receive_lot(lot, "S1", 0.0)
        repo.record_order(
            _bundle("O1"), ParcelState.ALLOCATED, 1.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")]
        )
        repo.upsert_task("T1", kind="pick", state="queued", orders="O1", created_at=1.0)
        repo.save_plan("T2", "sort", "R1", "{}", 1.0)
        repo.expect_command("K1", "cv", "{}", 30.0, 1.0)
        assert not (s.new or s.dirty or s.identity_map)  # nothing left for a flush
        held = {
            (cls, key): repo._get(s, cls, key)
            for cls, key in (
                (ParcelRow, "O1"),
                (TaskRow, "T1"),
                (TaskRow, "T2"),
                (CommandRow, "K1"),
                (LotRow, "LOT1"),
            )
        }
    with repo.session() as s:
        for (cls, key), row in held.items():
            stored = s.get(cls, key)
            assert row is not None and stored is not None and vars(row) == stored.model_dump()
        task = s.get(TaskRow, "T2")
        assert task is not None and (task.state, task.robot, task.assigned_at) == ("assigned", "R1", 1.0)
    with pytest.raises(RuntimeError), repo.unit():
        repo.record_order(
            _bundle("O2"), ParcelState.ALLOCATED, 2.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")]
        )
        raise RuntimeError("handler failed")
    repo.record_order(_bundle("O2"), ParcelState.ALLOCATED, 3.0, allocations=[("LOT1", "SKU1", 2, "S1", "n")])
    assert repo.parcel_states() == {"allocated": 2}
    assert repo.ledger_check()["balanced"]
    repo.close()
