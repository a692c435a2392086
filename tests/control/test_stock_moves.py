"""Consumer returns and stock adjustments through the controller: booked once, refused with the reason."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from wms import topics
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import OrderBundle, ParcelState
from wms.inspection.rules import local_year
from wms.messages import StockResult
from wms.reports import ledger_report
from wms.shift import ShiftOptions, run_until_drained, virtual_shift
from wms.store.models import ParcelRow

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


@pytest.fixture(scope="module")
def drained(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("stock") / "s.db"
    opts = ShiftOptions(duration_s=300.0, orders_per_hour=600.0, db_url=f"sqlite:///{db}")
    shift, broker = virtual_shift(CFG, CUSTOMS, opts)
    run_until_drained(shift, opts.drain_limit_s)
    desk = broker.client("returns-desk")
    results: list[StockResult] = []
    desk.subscribe(
        topics.stock_results(CFG.site.partition),
        lambda _t, d: results.append(StockResult.model_validate_json(d)),
        qos=1,
    )
    return shift, desk, results


def _send(shift, desk, results, topic: str, payload: dict) -> StockResult:  # type: ignore[no-untyped-def]
    n = len(results)
    desk.publish(topic, json.dumps(payload), qos=1)
    shift.clock.run(until=shift.clock.now() + 1.0)
    assert len(results) == n + 1, "no answer"
    return results[-1]


def _dispatched(shift) -> list[OrderBundle]:  # type: ignore[no-untyped-def]
    repo = shift.controller.repo
    with repo.session() as s:
        nos = s.exec(select(ParcelRow.order_no).where(ParcelRow.state == ParcelState.DISPATCHED)).all()
    return [OrderBundle.model_validate_json(repo.order_document(no) or "") for no in sorted(nos)]


def test_a_return_books_units_back_restores_the_quota_and_is_booked_once(drained) -> None:  # type: ignore[no-untyped-def]
    shift, desk, results = drained
    ctl = shift.controller
    part = CFG.site.partition
    order = _dispatched(shift)[0].order
    line = order.lines[0]
    _state, _at, released = ctl.repo.released_units(order.order_no)
    lot = next(lot for lot, sku, _ in released if sku == line.sku)
    free = ctl.lots[lot].available
    year = local_year(shift.clock.now(), CFG.site.utc_offset_h)
    before = ctl.history.released_value_in_year(order.buyer_id_number, year)

    notice = {"return_no": "RT-1", "order_no": order.order_no, "lines": [{"sku": line.sku, "qty": 1}]}
    res = _send(shift, desk, results, topics.stock_returns(part), notice)
    assert res.accepted and res.kind == "return", res.detail
    assert res.quota_restored_fen == round(line.total_fen / line.qty)
    assert ctl.history.released_value_in_year(order.buyer_id_number, year) == before - res.quota_restored_fen
    assert ctl.lots[lot].available == free + 1
    assert ledger_report(ctl.repo.engine)["balanced"]

    again = _send(shift, desk, results, topics.stock_returns(part), notice)  # a redelivery changes nothing
    assert again.accepted and again.detail == "already booked" and ctl.lots[lot].available == free + 1

    too_many = {
        "return_no": "RT-2",
        "order_no": order.order_no,
        "lines": [{"sku": line.sku, "qty": line.qty}],
    }
    res = _send(shift, desk, results, topics.stock_returns(part), too_many)
    assert not res.accepted and f"only {line.qty - 1} of {line.qty} left" in res.detail
    assert ctl.counters["returns_refused"] == 1


def test_a_return_to_the_returns_area_is_restocked_later(drained) -> None:  # type: ignore[no-untyped-def]
    shift, desk, results = drained
    ctl = shift.controller
    part = CFG.site.partition
    order = _dispatched(shift)[1].order
    notice = {"return_no": "RT-9", "order_no": order.order_no, "restock": False}
    res = _send(shift, desk, results, topics.stock_returns(part), notice)
    units = sum(ln.qty for ln in order.lines)
    assert res.accepted and res.detail == f"{units} units in the returns area"
    assert ctl.repo.ledger_check()["returned"] >= units  # counted as returned, not in stock
    res = _send(shift, desk, results, topics.stock_returns(part), notice | {"restock": True})
    assert res.accepted and res.detail == f"restocked {units} units"
    assert ledger_report(ctl.repo.engine)["balanced"]


def test_returns_that_cannot_be_booked_are_refused_with_the_reason(drained) -> None:  # type: ignore[no-untyped-def]
    shift, desk, results = drained
    part = CFG.site.partition
    res = _send(shift, desk, results, topics.stock_returns(part), {"return_no": "RT-X", "order_no": "NOPE"})
    assert not res.accepted and res.detail == "order NOPE: unknown order"
    with shift.controller.repo.session() as s:
        rejected = s.exec(select(ParcelRow.order_no).where(ParcelRow.state == ParcelState.REJECTED)).first()
    if rejected is not None:
        res = _send(
            shift, desk, results, topics.stock_returns(part), {"return_no": "RT-Y", "order_no": rejected}
        )
        assert not res.accepted and "not dispatched" in res.detail
    errors = shift.controller.alarm_counts.get("returns", 0)
    desk.publish(topics.stock_returns(part), b'{"return_no": "RT-Z"}', qos=1)  # no order number: invalid
    shift.clock.run(until=shift.clock.now() + 1.0)
    assert shift.controller.alarm_counts.get("returns", 0) == errors + 1


def test_adjustments_change_free_stock_only(drained) -> None:  # type: ignore[no-untyped-def]
    shift, desk, results = drained
    ctl = shift.controller
    topic = topics.stock_adjustments(CFG.site.partition)
    lot = next(iter(ctl.lots))
    free = ctl.lots[lot].available
    adj = {"adjustment_no": "ADJ-1", "lot": lot, "qty": -2, "reason": "two units damaged in the count"}
    res = _send(shift, desk, results, topic, adj)
    assert res.accepted and ctl.lots[lot].available == free - 2
    assert _send(shift, desk, results, topic, adj).detail == "already booked"
    res = _send(shift, desk, results, topic, adj | {"qty": 5})
    assert not res.accepted and "number already used" in res.detail
    res = _send(shift, desk, results, topic, {**adj, "adjustment_no": "ADJ-2", "qty": -(free + 1)})
    assert not res.accepted and "would take reserved ones" in res.detail
    res = _send(shift, desk, results, topic, {**adj, "adjustment_no": "ADJ-3", "lot": "NOPE"})
    assert not res.accepted and res.detail == "unknown lot NOPE"
    report = ledger_report(ctl.repo.engine)
    assert report["balanced"] and sum(b["adjusted"] for b in report["account_books"].values()) == -2


def test_the_stock_desk_sends_until_answered(drained) -> None:  # type: ignore[no-untyped-def]
    shift, bus, _results = drained
    from wms.messages import ReturnNotice, StockAdjustment
    from wms.stockdesk.desk import StockDesk

    ctl = shift.controller
    desk = StockDesk(bus.broker.client("desk-2"), shift.clock, CFG.site.partition)
    order = _dispatched(shift)[2].order
    res = desk.send_return(ReturnNotice(return_no="RT-D", order_no=order.order_no), timeout_s=10.0)
    assert res is not None and res.accepted
    lot = next(iter(ctl.lots))
    res = desk.send_adjustment(StockAdjustment(adjustment_no="ADJ-D", lot=lot, qty=1, reason="found"), 10.0)
    assert res is not None and res.accepted and res.detail == f"lot {lot} +1"


def test_stock_commands_name_bad_input_before_sending() -> None:
    from typer.testing import CliRunner

    from wms.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["stock", "return", "O1", "--line", "SKU1:zero", "--mqtt", "mqtt://127.0.0.1:9"])
    assert out.exit_code == 2 and "--line 'SKU1:zero'" in out.output
    out = runner.invoke(
        app, ["stock", "adjust", "--lot", "L1", "--qty", "1", "--reason", "", "--mqtt", "mqtt://x"]
    )
    assert out.exit_code == 2 and "reason" in out.output
