"""Gate decision: reject, hold or release per reason code; seeded sampling; quota history and commits."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from simulators.order_feed import OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, CustomsConfig, load_customs, load_warehouse
from wms.domain import CustomsOrder, OrderBundle, Payment, Waybill
from wms.inspection import rules as r
from wms.inspection.decision import (
    HOLD,
    MALFORMED,
    REJECT,
    RELEASE,
    SAMPLED,
    Decision,
    QuotaHistory,
    commit,
    decide,
    malformed,
)
from wms.inspection.rules import BuyerHistory
from wms.inspection.tax import compute_tax

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml").model_copy(update={"sampling_rate": 0.0})
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
BY_ID = {s.sku: s for s in generate_catalog(WAREHOUSE.feed, CUSTOMS)}
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()
Docs = tuple[CustomsOrder, Payment | None, Waybill | None]


def _clean(n: int, seed: int = 11) -> list[OrderBundle]:
    feed = WAREHOUSE.feed.model_copy(update={"bad_document_rate": 0.0})
    model = OrderFeedModel(list(BY_ID.values()), WAREHOUSE.carriers, feed, CUSTOMS, seed)
    return [model.next_bundle(T0 + 30 * i) for i in range(n)]


BUNDLES = _clean(60)
B = next(b for b in BUNDLES if len(b.order.lines) > 1)


def _run(docs: Docs, customs: CustomsConfig = CUSTOMS, history: BuyerHistory | None = None, seed: int = 0):
    order, payment, waybill = docs
    return decide(order, payment, waybill, BY_ID, customs, history or QuotaHistory(), T0, random.Random(seed))


def _docs(b: OrderBundle = B) -> Docs:
    return b.order, b.payment, b.waybill


def _with_tax(b: OrderBundle, delta: int) -> Docs:
    """Declared tax off by ``delta`` with acturalPaid and the payment adjusted so only the tax is wrong."""
    assert b.payment is not None
    tax = b.order.tax_total_fen + delta
    order = b.order.model_copy(
        update={"tax_total_fen": tax, "actural_paid_fen": b.order.actural_paid_fen + delta}
    )
    return order, b.payment.model_copy(update={"amount_paid_fen": order.actural_paid_fen}), b.waybill


def _unknown_sku(b: OrderBundle) -> Docs:
    lines = [b.order.lines[0].model_copy(update={"sku": "NOPE"}), *b.order.lines[1:]]
    return b.order.model_copy(update={"lines": lines}), b.payment, b.waybill


def _declared(b: OrderBundle) -> QuotaHistory:
    h = QuotaHistory()
    h.record_order(b.order, T0 - 60)
    return h


def _near_limit(b: OrderBundle) -> QuotaHistory:
    left = b.order.goods_value_fen - 1
    year = datetime.fromtimestamp(T0, timezone(timedelta(hours=8))).year
    return QuotaHistory(ytd={b.order.buyer_id_number: CUSTOMS.annual_limit_fen - left}, ytd_year=year)


def _unlisted() -> CustomsConfig:
    hs = {BY_ID[line.sku].hs_code for line in B.order.lines}
    return CUSTOMS.model_copy(update={"positive_list": [c for c in CUSTOMS.positive_list if c not in hs]})


def _low_single() -> CustomsConfig:
    return CUSTOMS.model_copy(update={"single_limit_fen": B.order.goods_value_fen - 1})


def _risky() -> CustomsConfig:
    category = BY_ID[B.order.lines[0].sku].category
    return CUSTOMS.model_copy(
        update={"risk": CUSTOMS.risk.model_copy(update={"high_risk_categories": [category]})}
    )


Case = tuple[str, Callable[[], Docs], Callable[[], CustomsConfig], Callable[[], BuyerHistory | None]]
REJECTS: list[Case] = [
    (r.DOC_MISSING, lambda: (B.order, None, B.waybill), lambda: CUSTOMS, lambda: None),
    (r.DUPLICATE_ORDER, _docs, lambda: CUSTOMS, lambda: _declared(B)),
    (r.UNKNOWN_SKU, lambda: _unknown_sku(B), lambda: CUSTOMS, lambda: None),
    (
        r.AMOUNT_MISMATCH,
        lambda: (B.order, B.payment.model_copy(update={"amount_paid_fen": 1}), B.waybill),
        lambda: CUSTOMS,
        lambda: None,
    ),
    (
        r.PAYER_MISMATCH,
        lambda: (B.order, B.payment.model_copy(update={"payer_name": "李四"}), B.waybill),
        lambda: CUSTOMS,
        lambda: None,
    ),
    (
        r.CONSIGNEE_MISMATCH,
        lambda: (B.order, B.payment, B.waybill.model_copy(update={"consignee_phone": "13900000000"})),
        lambda: CUSTOMS,
        lambda: None,
    ),
    (r.NOT_ON_POSITIVE_LIST, _docs, _unlisted, lambda: None),
    (r.SINGLE_LIMIT, _docs, _low_single, lambda: None),
    (r.ANNUAL_LIMIT, _docs, lambda: CUSTOMS, lambda: _near_limit(B)),
    (r.TAX_MISMATCH, lambda: _with_tax(B, 1), lambda: CUSTOMS, lambda: None),
]


def test_clean_order_is_released_with_its_tax() -> None:
    d = _run(_docs())
    assert (d.decision, d.reasons, d.sampled) == (RELEASE, (), False)
    assert d.tax_computed_fen == d.tax_declared_fen == compute_tax(B.order, B.waybill, BY_ID, CUSTOMS)
    assert d.to_json()["tax"]["computed"] == f"{d.tax_computed_fen // 100}.{d.tax_computed_fen % 100:02d}"


@pytest.mark.parametrize(("code", "docs", "customs", "history"), REJECTS, ids=[c[0] for c in REJECTS])
def test_every_failure_rejects_with_its_code(
    code: str,
    docs: Callable[[], Docs],
    customs: Callable[[], CustomsConfig],
    history: Callable[[], BuyerHistory | None],
) -> None:
    d = _run(docs(), customs(), history(), seed=0)
    assert d.decision == REJECT
    assert code in d.codes
    assert not d.sampled and SAMPLED not in d.codes


def test_sampled_rejects_stay_rejected_even_at_rate_one() -> None:
    always = CUSTOMS.model_copy(update={"sampling_rate": 1.0})
    assert _run((B.order, None, B.waybill), always).decision == REJECT


def test_tax_mismatch_reports_computed_and_declared() -> None:
    d = _run(_with_tax(B, 7))
    assert d.codes == [r.TAX_MISMATCH]
    assert d.tax_computed_fen == compute_tax(B.order, B.waybill, BY_ID, CUSTOMS)
    assert d.tax_declared_fen == B.order.tax_total_fen + 7


def test_unknown_sku_has_no_computed_tax() -> None:
    d = _run(_unknown_sku(B))
    assert d.codes == [r.UNKNOWN_SKU] and d.tax_computed_fen is None


def test_risk_holds() -> None:
    d = _run(_docs(), _risky())
    assert (d.decision, d.codes) == (HOLD, [r.RISK_CATEGORY])
    low = B.order.model_copy(update={"lines": [B.order.lines[0].model_copy(update={"price_fen": 1})]})
    assert r.RISK_LOW_PRICE in _run((low, B.payment, B.waybill)).codes  # with amount failures: reject
    assert _run((low, B.payment, B.waybill)).decision == REJECT


def test_sampling_holds_at_rate_one() -> None:
    d = _run(_docs(), CUSTOMS.model_copy(update={"sampling_rate": 1.0}))
    assert (d.decision, d.codes, d.sampled) == (HOLD, [SAMPLED], True)


def _sampled(bundles: list[OrderBundle], seed: int, rate: float = 0.3) -> list[bool]:
    customs = CUSTOMS.model_copy(update={"sampling_rate": rate})
    rng = random.Random(seed)
    history = QuotaHistory()
    out = []
    for i, b in enumerate(bundles):
        d = decide(b.order, b.payment, b.waybill, BY_ID, customs, history, T0 + i, rng)
        commit(history, b.order, d, T0 + i)
        out.append(d.sampled)
    return out


def test_sampling_is_reproducible_with_a_seed() -> None:
    first = _sampled(BUNDLES, seed=5)
    assert first == _sampled(BUNDLES, seed=5)
    assert first != _sampled(BUNDLES, seed=6)
    assert 0.1 < sum(first) / len(first) < 0.5


def test_one_draw_per_order_so_a_reject_does_not_shift_later_samples() -> None:
    broken = OrderBundle(order=BUNDLES[0].order, payment=None, waybill=BUNDLES[0].waybill)
    assert _sampled([broken, *BUNDLES[1:]], seed=9)[1:] == _sampled(BUNDLES, seed=9)[1:]


def test_commit_counts_released_and_held_against_the_quota_not_rejected() -> None:
    year = datetime.fromtimestamp(T0, timezone(timedelta(hours=8))).year
    buyer = B.order.buyer_id_number
    for verdict, counted in ((RELEASE, True), (HOLD, True), (REJECT, False)):
        h = QuotaHistory()
        d = _run(_docs())
        commit(h, B.order, Decision(d.order_no, verdict, d.reasons, None, None), T0)
        assert h.declared(B.order.order_no)
        assert h.released_value_in_year(buyer, year) == (B.order.goods_value_fen if counted else 0)


def test_quota_history_matches_the_plain_history() -> None:
    rng = random.Random(3)
    plain, fast = BuyerHistory(), QuotaHistory()
    released: list[tuple[CustomsOrder, float]] = []
    year_start = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=8))).timestamp()
    for i in range(400):
        b = BUNDLES[rng.randrange(len(BUNDLES))]
        order = b.order.model_copy(update={"order_no": f"Q{i % 150}"})
        now = year_start + rng.uniform(-40, 400) * 86400
        if released and rng.random() < 0.3:
            o, at = released.pop(rng.randrange(len(released)))
            back = at + rng.uniform(0, 60) * 86400  # within the 30-day window or not
            assert plain.record_return(o, back, at) == fast.record_return(o, back, at)
        else:
            plain.record_release(order, now)
            fast.record_release(order, now)
            released.append((order, now))
    for b in BUNDLES:
        for year in (2023, 2024, 2025):
            buyer = b.order.buyer_id_number
            assert fast.released_value_in_year(buyer, year) == plain.released_value_in_year(buyer, year)


def test_year_to_date_counts_only_in_its_year() -> None:
    h = QuotaHistory(ytd={"B1": 12_345}, ytd_year=2024)
    assert (h.released_value_in_year("B1", 2024), h.released_value_in_year("B1", 2025)) == (12_345, 0)
    with pytest.raises(ValueError, match="year"):
        QuotaHistory(ytd={"B1": 1})


def test_malformed_decision() -> None:
    d = malformed("EO1", "line 3: order.goodsValue: 'ten' is not a CNY amount")
    assert d.to_json() == {
        "orderNo": "EO1",
        "decision": "reject",
        "reasons": [{"code": MALFORMED, "detail": "line 3: order.goodsValue: 'ten' is not a CNY amount"}],
        "tax": {"computed": None, "declared": None},
    }
