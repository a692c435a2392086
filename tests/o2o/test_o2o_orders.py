"""O2O order builder: consistent documents that pass every gate rule, for a counter, with exact tax."""

from __future__ import annotations

import pytest
from helpers_o2o import BY_ID, CFG, CUSTOMS, assortment

from simulators.order_feed import make_buyer
from wms.control.controller import O2O_CARRIER
from wms.inspection.rules import BuyerHistory, check_order
from wms.inspection.tax import compute_tax
from wms.o2o.orders import (
    CARRIER,
    STORE_ADDRESS,
    O2OOrderError,
    o2o_bundle,
    parse_line,
    shopper,
    valid_id_number,
)
from wms.shift import start_time

NOW = start_time(CFG, "2026-11-11T10:15:30")
BUYER = make_buyer(7, 1_000_001)


def _findings(bundle):  # type: ignore[no-untyped-def]
    history = BuyerHistory.for_customs(CUSTOMS, CFG.site.utc_offset_h)
    return check_order(bundle.order, bundle.payment, bundle.waybill, BY_ID, CUSTOMS, history, NOW)


def test_a_normal_o2o_order_passes_every_rule() -> None:
    skus = assortment()
    bundle = o2o_bundle([(skus[0], 2), (skus[3], 1)], BUYER, "C1", NOW, BY_ID, CUSTOMS, seq=7)
    assert _findings(bundle) == []
    order, payment, waybill = bundle.order, bundle.payment, bundle.waybill
    assert payment is not None and waybill is not None
    assert order.order_type == "o2o" and waybill.carrier == O2O_CARRIER == CARRIER and waybill.route == "C1"
    assert order.order_no == "O2O20261111101530C1-000007" == payment.order_no == waybill.order_no
    assert order.freight_fen == waybill.freight_fen == 0
    assert order.goods_value_fen == BY_ID[skus[0]].unit_value_fen * 2 + BY_ID[skus[3]].unit_value_fen
    assert order.tax_total_fen == compute_tax(order, waybill, BY_ID, CUSTOMS) > 0
    assert order.actural_paid_fen == order.goods_value_fen + order.tax_total_fen == payment.amount_paid_fen
    assert payment.pay_time == "20261111101525"  # paid a few seconds before the order is placed


def test_a_walk_in_shopper_collects_at_the_store_address() -> None:
    buyer = shopper(BUYER.id_number, "张三", "13800000000")
    assert buyer.address == STORE_ADDRESS and buyer.consignee == "张三"
    bundle = o2o_bundle([(assortment()[1], 1)], buyer, "C1", NOW, BY_ID, CUSTOMS)
    assert _findings(bundle) == []
    assert bundle.order.consignee_address == bundle.waybill.consignee_address == STORE_ADDRESS  # type: ignore[union-attr]


def test_repeated_skus_merge_into_one_line() -> None:
    sku = assortment()[0]
    bundle = o2o_bundle([(sku, 1), (sku, 2)], BUYER, "C1", NOW, BY_ID, CUSTOMS)
    assert [(ln.sku, ln.qty) for ln in bundle.order.lines] == [(sku, 3)]


@pytest.mark.parametrize(
    ("lines", "match"),
    [([], "at least one line"), ([("NOPE", 1)], "not in the catalogue"), ([("SKU00001", 0)], "at least 1")],
)
def test_bad_lines_are_refused_before_sending(lines: list[tuple[str, int]], match: str) -> None:
    with pytest.raises(O2OOrderError, match=match):
        o2o_bundle(lines, BUYER, "C1", NOW, BY_ID, CUSTOMS)


def test_parse_line_and_shopper_identity() -> None:
    assert parse_line("SKU00001") == ("SKU00001", 1)
    assert parse_line(" SKU00002:3 ") == ("SKU00002", 3)
    for bad in (":2", "SKU1:x", "SKU1:0"):
        with pytest.raises(O2OOrderError):
            parse_line(bad)
    assert valid_id_number(BUYER.id_number)
    wrong = BUYER.id_number[:17] + ("0" if BUYER.id_number[17] != "0" else "1")
    with pytest.raises(O2OOrderError, match="resident ID"):
        shopper(wrong, "张三", "")
    with pytest.raises(O2OOrderError, match="name"):
        shopper(BUYER.id_number, " ", "")
