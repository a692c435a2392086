"""Cross-border tax: combined rate, dutiable value, largest-remainder split and half-up rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.order_feed import OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import CustomsOrder, OrderLine, Sku, Waybill
from wms.inspection.tax import TaxError, allocate, combined_rate, compute_tax, dutiable_value, line_taxes

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
SKUS = {
    "FOOD": Sku(
        sku="FOOD",
        name="曲奇",
        hs_code="1905310000",
        category="food",
        unit_value_fen=10000,
        weight_kg=0.5,
        volume_l=1.0,
    ),
    "CREAM": Sku(
        sku="CREAM",
        name="面霜",
        hs_code="3304990099",
        category="cosmetics",
        unit_value_fen=20000,
        weight_kg=0.2,
        volume_l=0.3,
    ),
    "WINE": Sku(
        sku="WINE",
        name="红酒",
        hs_code="2204210000",
        category="wine",
        unit_value_fen=30000,
        weight_kg=1.4,
        volume_l=1.5,
    ),
}


def _order(lines: list[tuple[str, int, int]], freight: int = 0, discount: int = 0) -> CustomsOrder:
    """An order of ``(sku, qty, price)`` lines; tax and payment fields are irrelevant here."""
    items = [
        OrderLine(gnum=i, sku=s, name=s, qty=q, price_fen=p, total_fen=q * p)
        for i, (s, q, p) in enumerate(lines, 1)
    ]
    goods = sum(x.total_fen for x in items)
    return CustomsOrder(
        order_no="T1",
        ebp_code="P",
        ebc_code="E",
        goods_value_fen=goods,
        freight_fen=freight,
        discount_fen=discount,
        tax_total_fen=0,
        actural_paid_fen=0,
        buyer_reg_no="U1",
        buyer_name="王伟",
        buyer_phone="13800000000",
        buyer_id_type=1,
        buyer_id_number="110101199001011234",
        pay_code="PAY",
        pay_transaction_id="TX1",
        consignee="王伟",
        consignee_phone="13800000000",
        consignee_address="北京市",
        lines=items,
    )


def _waybill(insured: int = 0, freight: int = 0) -> Waybill:
    return Waybill(
        carrier="SF",
        logistics_no="SF1",
        order_no="T1",
        freight_fen=freight,
        insured_fee_fen=insured,
        weight_kg=1.0,
        consignee="王伟",
        consignee_phone="13800000000",
        consignee_address="北京市",
    )


def _half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_vat_alone_is_9_1_percent() -> None:
    assert combined_rate(0.13, 0.0, 0.7) == Fraction(91, 1000)
    assert compute_tax(_order([("FOOD", 1, 10000)]), None, SKUS, CUSTOMS) == 910


def test_cosmetics_with_consumption_tax_include_freight_and_insurance() -> None:
    order = _order([("CREAM", 1, 20000)], freight=1000)
    dutiable = 20000 + 1000 + 200
    assert dutiable_value(order, _waybill(insured=200)) == dutiable
    expected = _half_up(
        Decimal(dutiable) * (Decimal("0.15") + Decimal("0.13")) / Decimal("0.85") * Decimal("0.7")
    )
    assert compute_tax(order, _waybill(insured=200), SKUS, CUSTOMS) == expected == 4888


def test_discount_lowers_the_dutiable_value_and_waybill_freight_is_not_counted_twice() -> None:
    order = _order([("FOOD", 2, 10000)], freight=500, discount=1500)
    assert dutiable_value(order, _waybill(freight=500)) == 20000 - 1500 + 500
    assert compute_tax(order, _waybill(freight=500), SKUS, CUSTOMS) == _half_up(
        Decimal(19000) * Decimal("0.091")
    )


def test_mixed_lines_use_each_category_rate_on_its_share() -> None:
    order = _order([("FOOD", 1, 10000), ("CREAM", 1, 20000), ("WINE", 1, 30000)], freight=1001)
    shares = allocate(dutiable_value(order, None), [10000, 20000, 30000])
    assert sum(shares) == 61001
    rates = [
        Decimal("0.091"),
        Decimal("0.28") / Decimal("0.85") * Decimal("0.7"),
        Decimal("0.23") / Decimal("0.9") * Decimal("0.7"),
    ]
    expected = [_half_up(Decimal(s) * r) for s, r in zip(shares, rates, strict=True)]
    assert line_taxes(order, None, SKUS, CUSTOMS) == expected
    assert compute_tax(order, None, SKUS, CUSTOMS) == sum(expected)


def test_allocate_largest_remainder() -> None:
    assert allocate(1001, [1, 1, 1]) == [334, 334, 333]
    assert allocate(10, [0, 0]) == [5, 5]
    assert allocate(7, [1, 2, 4]) == [1, 2, 4]
    assert allocate(0, [3, 5]) == [0, 0]
    assert allocate(5, []) == []


@given(amount=st.integers(0, 10**9), weights=st.lists(st.integers(0, 10**7), min_size=1, max_size=20))
def test_allocate_sums_exactly_and_stays_within_one_fen(amount: int, weights: list[int]) -> None:
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    total = sum(weights) or len(weights)
    for part, w in zip(parts, weights if sum(weights) else [1] * len(weights), strict=True):
        assert abs(part - Fraction(amount * w, total)) < 1


@given(price=st.integers(1, 2_000_000))
def test_rounding_is_half_up_to_the_fen(price: int) -> None:
    order = _order([("FOOD", 1, price)])
    assert compute_tax(order, None, SKUS, CUSTOMS) == _half_up(Decimal(price) * Decimal("0.091"))


def test_exact_half_fen_rounds_up() -> None:
    price = next(d for d in range(1, 10_000) if (91 * d) % 2000 == 500)  # tax = even fen + 0.5
    assert compute_tax(_order([("FOOD", 1, price)]), None, SKUS, CUSTOMS) == (91 * price + 500) // 1000


def test_unknown_sku_or_category_raises() -> None:
    with pytest.raises(TaxError, match="unknown SKU"):
        compute_tax(_order([("NOPE", 1, 100)]), None, SKUS, CUSTOMS)
    odd = {"X": SKUS["FOOD"].model_copy(update={"sku": "X", "category": "toys"})}
    with pytest.raises(TaxError, match="category"):
        compute_tax(_order([("X", 1, 100)]), None, odd, CUSTOMS)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_generated_orders_carry_the_computed_tax(seed: int) -> None:
    catalog = generate_catalog(WAREHOUSE.feed, CUSTOMS)
    model = OrderFeedModel(
        catalog, WAREHOUSE.carriers, WAREHOUSE.feed.model_copy(update={"bad_document_rate": 0}), CUSTOMS, seed
    )
    by_id = {s.sku: s for s in catalog}
    for i in range(20):
        b = model.next_bundle(1_710_000_000 + 60 * i)
        assert b.order.tax_total_fen == compute_tax(b.order, b.waybill, by_id, CUSTOMS)
