"""Inspection rules: each fires on a crafted defect, none fires on clean generated orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.order_feed import OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, CustomsConfig, load_customs, load_warehouse
from wms.domain import CustomsOrder, OrderBundle, Payment, Waybill
from wms.inspection import rules as r
from wms.inspection.rules import BuyerHistory, Finding, check_annual_limit, check_order, on_positive_list
from wms.inspection.tax import compute_tax

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)
BY_ID = {s.sku: s for s in CATALOG}
CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=CST).timestamp()
Docs = tuple[CustomsOrder, Payment | None, Waybill | None]


def _model(seed: int = 1, bad: float = 0.0) -> OrderFeedModel:
    feed = WAREHOUSE.feed.model_copy(update={"bad_document_rate": bad})
    return OrderFeedModel(CATALOG, WAREHOUSE.carriers, feed, CUSTOMS, seed)


def _bundle(multi: bool = False, seed: int = 3) -> OrderBundle:
    """A clean generated bundle (with several lines or units if ``multi``)."""
    model = _model(seed)
    for i in range(1000):
        b = model.next_bundle(T0 + i)
        if not multi or len(b.order.lines) > 1:
            return b
    raise AssertionError("no multi-line order generated")


def _codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def _check(docs: Docs, customs: CustomsConfig = CUSTOMS, history: BuyerHistory | None = None) -> set[str]:
    order, payment, waybill = docs
    return _codes(check_order(order, payment, waybill, BY_ID, customs, history or BuyerHistory(), T0))


def _docs(b: OrderBundle) -> Docs:
    return b.order, b.payment, b.waybill


def _order(b: OrderBundle, **update: object) -> Docs:
    return b.order.model_copy(update=update), b.payment, b.waybill


def _payment(b: OrderBundle, **update: object) -> Docs:
    assert b.payment is not None
    return b.order, b.payment.model_copy(update=update), b.waybill


def _waybill(b: OrderBundle, **update: object) -> Docs:
    assert b.waybill is not None
    return b.order, b.payment, b.waybill.model_copy(update=update)


def _line(b: OrderBundle, **update: object) -> Docs:
    lines = [b.order.lines[0].model_copy(update=update), *b.order.lines[1:]]
    return _order(b, lines=lines)


def _paid(b: OrderBundle, delta_tax: int) -> Docs:
    """Declared tax off by ``delta_tax`` with acturalPaid and the payment adjusted to match."""
    assert b.payment is not None
    order = b.order.model_copy(
        update={
            "tax_total_fen": b.order.tax_total_fen + delta_tax,
            "actural_paid_fen": b.order.actural_paid_fen + delta_tax,
        }
    )
    return order, b.payment.model_copy(update={"amount_paid_fen": order.actural_paid_fen}), b.waybill


DEFECTS: list[tuple[str, str, Callable[[OrderBundle], Docs]]] = [
    (r.DOC_MISSING, "no payment", lambda b: (b.order, None, b.waybill)),
    (r.DOC_MISSING, "no waybill", lambda b: (b.order, b.payment, None)),
    (r.DOC_MISSING, "payment for another order", lambda b: _payment(b, order_no="OTHER")),
    (r.DOC_MISSING, "other transaction", lambda b: _payment(b, pay_transaction_id="TX-OTHER")),
    (r.DOC_MISSING, "waybill for another order", lambda b: _waybill(b, order_no="OTHER")),
    (r.DOC_TEXT, "control character in the buyer's name", lambda b: _order(b, buyer_name="张\x01三")),
    (r.DOC_TEXT, "unit separator in a line's name", lambda b: _line(b, name="面霜\x1f50ml")),
    (r.DOC_TEXT, "NUL in the payment's transaction id", lambda b: _payment(b, pay_transaction_id="TX\x00")),
    (r.DOC_TEXT, "form feed in the address", lambda b: _waybill(b, consignee_address="上海\x0c1号")),
    (r.UNKNOWN_SKU, "sku not in catalog", lambda b: _line(b, sku="NOPE-1")),
    (
        r.AMOUNT_MISMATCH,
        "acturalPaid off",
        lambda b: _order(b, actural_paid_fen=b.order.actural_paid_fen + 1),
    ),
    (
        r.AMOUNT_MISMATCH,
        "payment amount off",
        lambda b: _payment(b, amount_paid_fen=b.payment.amount_paid_fen - 1),
    ),
    (
        r.AMOUNT_MISMATCH,
        "goods value off",
        lambda b: _order(b, goods_value_fen=b.order.goods_value_fen + 100),
    ),
    (r.AMOUNT_MISMATCH, "line total off", lambda b: _line(b, total_fen=b.order.lines[0].total_fen + 1)),
    (r.PAYER_MISMATCH, "payer name", lambda b: _payment(b, payer_name="李四")),
    (r.PAYER_MISMATCH, "payer id number", lambda b: _payment(b, payer_id_number="110101199001010000")),
    (r.PAYER_MISMATCH, "buyer not by ID card", lambda b: _order(b, buyer_id_type=2)),
    (r.CONSIGNEE_MISMATCH, "consignee name", lambda b: _waybill(b, consignee="张三")),
    (r.CONSIGNEE_MISMATCH, "consignee phone", lambda b: _waybill(b, consignee_phone="13900000000")),
    (r.CONSIGNEE_MISMATCH, "consignee address", lambda b: _waybill(b, consignee_address="上海市浦东新区1号")),
    (r.TAX_MISMATCH, "tax one fen low", lambda b: _paid(b, -1)),
    (r.TAX_MISMATCH, "tax one fen high", lambda b: _paid(b, +1)),
    (r.RISK_LOW_PRICE, "price below 30% of value", lambda b: _line(b, price_fen=1)),
]


@pytest.mark.parametrize(("code", "what", "mutate"), DEFECTS, ids=[f"{c}:{w}" for c, w, _ in DEFECTS])
def test_rule_fires_on_crafted_defect(code: str, what: str, mutate: Callable[[OrderBundle], Docs]) -> None:
    b = _bundle()
    assert _check(_docs(b)) == set()
    assert code in _check(mutate(b)), what


def test_tax_mismatch_alone_when_only_the_tax_is_wrong() -> None:
    assert _check(_paid(_bundle(), 1)) == {r.TAX_MISMATCH}


def test_duplicate_order() -> None:
    b = _bundle()
    history = BuyerHistory()
    assert r.DUPLICATE_ORDER not in _check(_docs(b), history=history)
    history.record_order(b.order, T0 - 60)
    assert history.declared(b.order.order_no)
    assert r.DUPLICATE_ORDER in _check(_docs(b), history=history)


def test_positive_list_eight_digit_entries_match_prefixes() -> None:
    b = _bundle()
    hs = BY_ID[b.order.lines[0].sku].hs_code
    others = [c for c in CUSTOMS.positive_list if c != hs]
    assert r.NOT_ON_POSITIVE_LIST in _check(_docs(b), CUSTOMS.model_copy(update={"positive_list": others}))
    eight = CUSTOMS.model_copy(update={"positive_list": [*others, hs[:8]]})
    assert r.NOT_ON_POSITIVE_LIST not in _check(_docs(b), eight)
    assert on_positive_list("3304990099", ["33049900"]) and not on_positive_list("3304990099", ["3304990090"])


def test_single_limit_and_single_item_exception() -> None:
    multi = _bundle(multi=True)
    low = CUSTOMS.model_copy(update={"single_limit_fen": multi.order.goods_value_fen - 1})
    assert r.SINGLE_LIMIT in _check(_docs(multi), low)
    single = _bundle()
    one = _line(single, qty=1, total_fen=single.order.lines[0].price_fen)
    one = _order_value(one)
    tight = CUSTOMS.model_copy(update={"single_limit_fen": one[0].goods_value_fen - 1})
    assert r.SINGLE_LIMIT not in _check(one, tight)
    no_exception = tight.model_copy(update={"single_item_exception": False})
    assert r.SINGLE_LIMIT in _check(one, no_exception)


def _order_value(docs: Docs) -> Docs:
    """Recompute goods value, tax, acturalPaid and payment of crafted one-line docs so only limits matter."""
    order, payment, waybill = docs
    lines = order.lines[:1]
    order = order.model_copy(update={"lines": lines, "goods_value_fen": lines[0].total_fen})
    tax = compute_tax(order, waybill, BY_ID, CUSTOMS)
    paid = order.goods_value_fen + order.freight_fen + tax - order.discount_fen
    order = order.model_copy(update={"tax_total_fen": tax, "actural_paid_fen": paid})
    assert payment is not None
    return order, payment.model_copy(update={"amount_paid_fen": paid}), waybill


def test_risk_category() -> None:
    b = _bundle()
    category = BY_ID[b.order.lines[0].sku].category
    risky = CUSTOMS.model_copy(
        update={"risk": CUSTOMS.risk.model_copy(update={"high_risk_categories": [category]})}
    )
    assert _check(_docs(b), risky) == {r.RISK_CATEGORY}


def test_risk_buyer_frequency_counts_the_last_24_hours() -> None:
    b = _bundle()
    limit = CUSTOMS.risk.max_orders_per_buyer_per_day
    history = BuyerHistory()
    for i in range(limit):
        history.record_order(b.order.model_copy(update={"order_no": f"OLD{i}"}), T0 - 86401 - 60 * i)
    assert r.RISK_BUYER_FREQUENCY not in _check(_docs(b), history=history)
    for i in range(limit - 1):
        history.record_order(b.order.model_copy(update={"order_no": f"NEW{i}"}), T0 - 3600 * (i + 1) / limit)
    assert history.orders_in_window(b.order.buyer_id_number, T0 - 86400) == limit - 1
    assert r.RISK_BUYER_FREQUENCY not in _check(
        _docs(b), history=history
    )  # this order makes it exactly `limit`
    history.record_order(b.order.model_copy(update={"order_no": "NEWLAST"}), T0 - 1)
    assert r.RISK_BUYER_FREQUENCY in _check(_docs(b), history=history)


def test_risk_shared_address_counts_distinct_buyers() -> None:
    b = _bundle()
    history = BuyerHistory()
    limit = CUSTOMS.risk.max_buyers_per_address
    for i in range(limit - 1):
        other = b.order.model_copy(update={"order_no": f"O{i}", "buyer_id_number": f"11010119900101{i:04d}"})
        history.record_order(other, T0 - 7200)
    history.record_order(b.order.model_copy(update={"order_no": "MINE"}), T0 - 7200)
    assert history.buyers_at_address(b.order.consignee_address) == limit
    assert r.RISK_SHARED_ADDRESS not in _check(_docs(b), history=history)  # same buyer again
    spaced = b.order.model_copy(
        update={"buyer_id_number": "110101199001019999", "consignee_address": " " + b.order.consignee_address}
    )
    assert r.RISK_SHARED_ADDRESS in _check((spaced, b.payment, b.waybill), history=history)


def _year(y: int, month: int = 6, day: int = 1, hour: int = 12) -> float:
    return datetime(y, month, day, hour, tzinfo=CST).timestamp()


def _valued(b: OrderBundle, no: str, value: int) -> CustomsOrder:
    return b.order.model_copy(update={"order_no": no, "goods_value_fen": value})


def test_annual_limit_and_return_window() -> None:
    b = _bundle()
    history = BuyerHistory(return_window_days=30)
    limit = CUSTOMS.annual_limit_fen
    released_at = _year(2024, 5, 1)
    history.record_release(_valued(b, "A", limit - 200_000), released_at)
    history.record_release(_valued(b, "B", 100_000), released_at)
    assert history.released_value_in_year(b.order.buyer_id_number, 2024) == limit - 100_000
    now = _year(2024, 5, 20)
    assert check_annual_limit(_valued(b, "C", 100_000), CUSTOMS, history, now) == []
    assert [f.code for f in check_annual_limit(_valued(b, "C", 100_001), CUSTOMS, history, now)] == [
        r.ANNUAL_LIMIT
    ]
    # a return after the window does not restore the quota, one within it does
    assert not history.record_return(_valued(b, "B", 100_000), released_at + 31 * 86400, released_at)
    assert check_annual_limit(_valued(b, "C", 100_001), CUSTOMS, history, now)
    assert history.record_return(_valued(b, "B", 100_000), released_at + 29 * 86400, released_at)
    assert history.released_value_in_year(b.order.buyer_id_number, 2024) == limit - 200_000
    assert check_annual_limit(_valued(b, "C", 200_000), CUSTOMS, history, now) == []
    # another buyer and another calendar year (local time) start from zero
    stranger = _valued(b, "D", limit).model_copy(update={"buyer_id_number": "110101199001010001"})
    assert check_annual_limit(stranger, CUSTOMS, history, now) == []
    history.record_release(_valued(b, "E", 300_000), _year(2024, 12, 31, 23))
    assert check_annual_limit(_valued(b, "F", limit), CUSTOMS, history, _year(2025, 1, 1, 0)) == []
    assert r.ANNUAL_LIMIT in _check(
        (_valued(b, "G", b.order.goods_value_fen), b.payment, b.waybill), history=_full_history(b)
    )


def _full_history(b: OrderBundle) -> BuyerHistory:
    history = BuyerHistory()
    history.record_release(_valued(b, "FULL", CUSTOMS.annual_limit_fen), T0 - 86400)
    return history


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_clean_generated_orders_pass_every_rule(seed: int) -> None:
    model = _model(seed)
    history = BuyerHistory.for_customs(CUSTOMS)
    now = T0
    for _ in range(40):
        now += model.interarrival(now, 1800)
        b = model.next_bundle(now)
        assert check_order(b.order, b.payment, b.waybill, BY_ID, CUSTOMS, history, now) == []
        history.record_order(b.order, now)
        history.record_release(b.order, now)


EXPECTED = {
    "missing_payment": r.DOC_MISSING,
    "missing_waybill": r.DOC_MISSING,
    "amount_mismatch": r.AMOUNT_MISMATCH,
    "consignee_mismatch": r.CONSIGNEE_MISMATCH,
    "unknown_sku": r.UNKNOWN_SKU,
}


def test_generated_defects_are_caught_by_the_matching_rule() -> None:
    model = _model(11, bad=1.0)
    seen = set()
    for i in range(150):
        b = model.next_bundle(T0 + 60 * i)
        assert model.last_defect is not None
        seen.add(model.last_defect)
        assert EXPECTED[model.last_defect] in _check(_docs(b))
    assert seen == set(EXPECTED)


class _AskedHistory(BuyerHistory):
    """A history that notes which of its questions were asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def declared(self, order_no: str) -> bool:
        self.asked.add("declared")
        return super().declared(order_no)

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        self.asked.add("released_value_in_year")
        return super().released_value_in_year(buyer_id, year)

    def orders_in_window(self, buyer_id: str, since: float) -> int:
        self.asked.add("orders_in_window")
        return super().orders_in_window(buyer_id, since)

    def buyers_at_address(self, address: str, including: str | None = None) -> int:
        self.asked.add("buyers_at_address")
        return super().buyers_at_address(address, including)


@pytest.mark.parametrize(
    "codes",
    [
        frozenset({r.DOC_MISSING, r.UNKNOWN_SKU, r.AMOUNT_MISMATCH, r.DUPLICATE_ORDER}),
        frozenset({r.TAX_MISMATCH, r.RISK_LOW_PRICE}),
        frozenset({r.ANNUAL_LIMIT}),
    ],
)
def test_only_the_asked_codes_and_only_their_rules(codes: frozenset[str]) -> None:
    """With ``codes``, the findings are the full check's of those codes; the other rules do not run."""
    b = _bundle()
    full_history = _full_history(b)  # over the annual limit: that rule has something to say
    for _, _, mutate in DEFECTS:
        order, payment, waybill = mutate(b)
        every = check_order(order, payment, waybill, BY_ID, CUSTOMS, full_history, T0)
        some = check_order(order, payment, waybill, BY_ID, CUSTOMS, full_history, T0, codes)
        assert some == [f for f in every if f.code in codes]
    asked = _AskedHistory()
    check_order(b.order, b.payment, b.waybill, BY_ID, CUSTOMS, asked, T0, codes)
    assert ("declared" in asked.asked) == (r.DUPLICATE_ORDER in codes)
    assert ("released_value_in_year" in asked.asked) == (r.ANNUAL_LIMIT in codes)
    assert ("orders_in_window" in asked.asked) == (r.RISK_LOW_PRICE in codes)  # the risk rules run together
