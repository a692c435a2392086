"""Bad input never crashes the controller: it is named, counted as an alarm, and the shift goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from wms import topics
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import CustomsOrder, ParcelState, Waybill
from wms.inspection.receipts import parse_receipts
from wms.inspection.tax import compute_tax
from wms.shift import ShiftOptions, virtual_shift
from wms.store.models import ParcelEvent, ParcelRow

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


@pytest.fixture()
def shift(tmp_path: Path):  # type: ignore[no-untyped-def]
    opts = ShiftOptions(duration_s=120.0, orders_per_hour=600.0, db_url=f"sqlite:///{tmp_path / 'b.db'}")
    shift, broker = virtual_shift(CFG, CUSTOMS, opts)
    shift.clock.run(until=shift.start + 5.0)  # stock booked, robots online
    return shift, broker


def _valid_bundle(shift) -> dict:  # type: ignore[no-untyped-def]
    model = shift.feed.model
    while True:
        bundle = model.next_bundle(shift.clock.now())
        if model.last_defect is None:
            return json.loads(bundle.model_dump_json())


def _consistent_with_qty(shift, data: dict, qty: int) -> dict:  # type: ignore[no-untyped-def]
    """The same order for ``qty`` units of its first line, with amounts and tax made consistent again."""
    o = data["order"]
    o["lines"] = [dict(o["lines"][0], qty=qty, total_fen=qty * o["lines"][0]["price_fen"])]
    o["goods_value_fen"] = o["lines"][0]["total_fen"]
    order = CustomsOrder.model_validate(o)
    waybill = Waybill.model_validate(data["waybill"])
    o["tax_total_fen"] = compute_tax(order, waybill, shift.controller.catalog, CUSTOMS)
    o["actural_paid_fen"] = o["goods_value_fen"] + o["freight_fen"] + o["tax_total_fen"] - o["discount_fen"]
    data["payment"]["amount_paid_fen"] = o["actural_paid_fen"]
    return data


def test_malformed_and_invalid_orders_are_alarms_not_crashes(shift) -> None:  # type: ignore[no-untyped-def]
    shift, broker = shift
    ctl = shift.controller
    pub = broker.client("hostile")
    part = CFG.site.partition
    pub.publish(topics.orders(part), b"{not json")
    missing = _valid_bundle(shift)
    del missing["order"]["buyer_name"]
    pub.publish(topics.orders(part), json.dumps(missing))
    unknown_sku = _valid_bundle(shift)
    unknown_sku["order"]["lines"][0]["sku"] = "NO-SUCH-SKU"
    pub.publish(topics.orders(part), json.dumps(unknown_sku))
    impossible = _consistent_with_qty(shift, _valid_bundle(shift), 10**6)
    pub.publish(topics.orders(part), json.dumps(impossible))
    good = _valid_bundle(shift)
    pub.publish(topics.orders(part), json.dumps(good))
    pub.publish(topics.orders(part), json.dumps(good))  # a redelivery changes nothing
    pub.publish(topics.inbound(part), b'{"lot": "X"}')
    shift.clock.run(until=shift.clock.now() + 1.0)

    assert ctl.alarm_counts["orders"] == 2
    assert ctl.alarm_counts["inbound"] == 1
    messages = [a.message for a in ctl.alarms]
    assert any("order.buyer_name" in m and "Field required" in m for m in messages)
    assert any("Invalid JSON" in m for m in messages)
    with ctl.repo.session() as s:  # closed parcels leave the controller's memory; the database keeps them
        rejected = s.get(ParcelRow, unknown_sku["order"]["order_no"])
        short = s.get(ParcelRow, impossible["order"]["order_no"])
    assert unknown_sku["order"]["order_no"] not in ctl.parcels
    assert rejected is not None and rejected.state == ParcelState.REJECTED
    assert "UNKNOWN_SKU" in rejected.reason
    assert short is not None and short.state == ParcelState.REJECTED and "OUT_OF_STOCK" in short.reason
    assert ctl.tally.by_state[ParcelState.REJECTED.value] == 2
    assert ctl.parcels[good["order"]["order_no"]].state == ParcelState.ALLOCATED
    assert ctl.counters.get("duplicate_messages") == 1
    assert ctl.repo.ledger_check()["balanced"]

    # a closed order sent again is recognised from the database: same content is a quiet redelivery
    pub.publish(topics.orders(part), json.dumps(unknown_sku))
    changed = json.loads(json.dumps(unknown_sku))
    changed["order"]["buyer_name"] = "Someone Else"
    pub.publish(topics.orders(part), json.dumps(changed))
    shift.clock.run(until=shift.clock.now() + 1.0)
    assert ctl.counters.get("duplicate_messages") == 3
    assert sum("DUPLICATE_ORDER" in a.message for a in ctl.alarms) == 1
    assert ctl.tally.by_state[ParcelState.REJECTED.value] == 2


def test_an_order_whose_text_xml_cannot_carry_is_refused_at_intake(shift) -> None:  # type: ignore[no-untyped-def]
    """Its CEB621 could not be written at release (`CebError`), so it never gets that far."""
    shift, broker = shift
    ctl = shift.controller
    bad = _valid_bundle(shift)
    bad["order"]["buyer_name"] = bad["payment"]["payer_name"] = "张\x01三"  # the payer still matches
    broker.client("shop").publish(topics.orders(CFG.site.partition), json.dumps(bad))
    shift.clock.run(until=shift.clock.now() + 1.0)

    with ctl.repo.session() as s:
        row = s.get(ParcelRow, bad["order"]["order_no"])
    assert row is not None and row.state == ParcelState.REJECTED
    assert row.reason.startswith("DOC_TEXT: order buyer_name: '张\\x01三' has a character XML cannot carry")
    assert "PAYER_MISMATCH" not in row.reason
    assert ctl.repo.ledger_check()["balanced"]


def test_bad_robot_messages_are_counted_and_ignored(shift) -> None:  # type: ignore[no-untyped-def]
    shift, broker = shift
    ctl = shift.controller
    robot = ctl.fleet.robots["pick-01"]
    battery = robot.battery
    rogue = broker.client("rogue")
    man = CFG.site.manufacturer
    rogue.publish(topics.vda(man, "pick-01", "state"), b'{"headerId": 1}')
    lie = {
        "headerId": 10**6,
        "timestamp": "2026-11-11T01:00:00.000Z",
        "version": "2.0.0",
        "manufacturer": man,
        "serialNumber": "pick-02",
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "",
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "operatingMode": "AUTOMATIC",
        "batteryState": {"batteryCharge": 1.0, "charging": False},
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    rogue.publish(topics.vda(man, "pick-01", "state"), json.dumps(lie))  # serial disagrees with topic
    shift.clock.run(until=shift.clock.now() + 1.0)
    assert ctl.fleet.rejected == 2
    assert ctl.alarm_counts["robots"] == 2
    assert any("batteryState" in a.message or "field required" in a.message.lower() for a in ctl.alarms)
    assert any("disagrees with the topic" in a.message for a in ctl.alarms)
    assert robot.battery == battery  # nothing of the lie was taken


def test_robot_connection_broken_requeues_its_task(shift) -> None:  # type: ignore[no-untyped-def]
    shift, _ = shift
    ctl = shift.controller
    # run until some picking robot is busy, then crash it
    for _ in range(600):
        busy = [r for r in ctl.fleet.robots.values() if r.kind == "picking" and r.task is not None]
        if busy:
            break
        shift.clock.run(until=shift.clock.now() + 1.0)
    assert busy, "no picking robot got a task"
    victim = busy[0]
    task = victim.task
    sim = next(s for s in shift.robots if s.serial == victim.serial)
    sim.crash()
    shift.clock.run(until=shift.clock.now() + 1.0)
    assert not victim.online and victim.task is None
    assert any(f"task {task.task_id} re-queued" in a.message for a in ctl.alarms)
    nos = task.payload[0]
    assert all(ctl.parcels[o].state in (ParcelState.WAVED, ParcelState.PICKING) for o in nos)
    shift.clock.run(until=shift.clock.now() + 1800.0)
    with ctl.repo.session() as s:  # some may have left memory by now (dispatched)
        states = [s.get(ParcelRow, o).state for o in nos]  # type: ignore[union-attr]
    assert all(st not in (ParcelState.WAVED, ParcelState.PICKING) for st in states)


def test_other_fleets_and_lying_devices_change_nothing(shift) -> None:  # type: ignore[no-untyped-def]
    shift, broker = shift
    ctl = shift.controller
    other = broker.client("other-fleet")
    conn = {
        "headerId": 0,
        "timestamp": "2026-11-11T01:00:00.000Z",
        "version": "2.0.0",
        "manufacturer": "othermaker",
        "serialNumber": "pick-01",
        "connectionState": "OFFLINE",
    }
    other.publish(topics.vda("othermaker", "pick-01", "connection"), json.dumps(conn), retain=True)
    part = CFG.site.partition
    other.publish(
        topics.xray_result(part),
        json.dumps({"parcel": "NOPE", "lane": 0, "verdict": "clear", "image_id": "i"}),
    )
    other.publish(
        topics.conveyor_event(part),
        json.dumps({"cmd_id": "CV-9999999", "parcel": "NOPE", "kind": "arrived", "location": "GATE"}),
    )
    shift.clock.run(until=shift.clock.now() + 1.0)
    robot = ctl.fleet.robots["pick-01"]
    assert robot.online and robot.manufacturer == CFG.site.manufacturer  # another fleet is not ours
    assert ctl.counters["duplicate_messages"] == 2  # unknown results and events are ignored, counted
    assert ctl.alarm_counts.get("robots", 0) == 0


def test_customs_receipts_go_into_the_parcel_history(shift, shared_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shift, broker = shift
    ctl = shift.controller
    good = _valid_bundle(shift)
    order_no = good["order"]["order_no"]
    pub = broker.client("customs-gateway")
    part = CFG.site.partition
    pub.publish(topics.orders(part), json.dumps(good))
    sample = (shared_dir / "customs" / "ceb-202205" / "samples" / "CEB312Message.xml").read_bytes()
    pub.publish(topics.customs_receipts(part), sample.replace(b"order20160321116420545", order_no.encode()))
    pub.publish(topics.customs_receipts(part), sample)  # answers orders we never had
    pub.publish(topics.customs_receipts(part), b"<not-a-receipt/>")
    shift.clock.run(until=shift.clock.now() + 1.0)
    with ctl.repo.session() as s:
        notes = s.exec(
            select(ParcelEvent).where(
                ParcelEvent.order_no == order_no, ParcelEvent.detail.startswith("CEB312")
            )  # type: ignore[attr-defined]
        ).all()
    expected = len(parse_receipts(sample))
    assert len(notes) == expected > 0
    assert all(n.from_state == n.to_state for n in notes)  # history, not a state change
    assert ctl.counters["unmatched_receipts"] == expected
    assert any("customs/receipts" in a.message and a.source == "customs" for a in ctl.alarms)  # the bad XML
