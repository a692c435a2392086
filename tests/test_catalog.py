"""Synthetic catalog and lots: deterministic, plausible, consistent with the customs config."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime

from wms.catalog import PROFILES, generate_catalog, generate_lots
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import Zone
from wms.inspection.rules import on_positive_list

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
FEED = WAREHOUSE.feed
NOW = 1_710_000_000.0


def test_catalog_is_deterministic_per_seed() -> None:
    assert generate_catalog(FEED, CUSTOMS) == generate_catalog(FEED, CUSTOMS)
    other = generate_catalog(FEED.model_copy(update={"seed": FEED.seed + 1}), CUSTOMS)
    assert other != generate_catalog(FEED, CUSTOMS)


def test_catalog_ids_categories_and_hs_codes() -> None:
    catalog = generate_catalog(FEED, CUSTOMS)
    assert len(catalog) == FEED.skus
    assert [s.sku for s in catalog] == [f"SKU{i:05d}" for i in range(1, FEED.skus + 1)]
    assert {s.category for s in catalog} == set(CUSTOMS.categories)
    for sku in catalog:
        assert sku.hs_code in CUSTOMS.categories[sku.category].reference_hs
        assert on_positive_list(sku.hs_code, CUSTOMS.positive_list)


def test_values_weights_and_volumes_are_plausible() -> None:
    catalog = generate_catalog(FEED, CUSTOMS)
    for sku in catalog:
        low, high = PROFILES[sku.category].price_cny
        assert low * 100 <= sku.unit_value_fen <= high * 100, sku
        assert sku.unit_value_fen % 100 == 0
        assert 0 < sku.weight_kg < 5 and 0 < sku.volume_l < 25
    under = sum(s.unit_value_fen <= CUSTOMS.single_limit_fen / 3 for s in catalog)
    assert under / len(catalog) > 0.95  # three of almost any SKU stay under the single limit
    formula = [s.unit_value_fen for s in catalog if s.category == "infant_formula"]
    assert all(15_000 <= v <= 40_000 for v in formula)


def test_unit_values_are_capped_by_the_single_limit() -> None:
    tight = CUSTOMS.model_copy(update={"single_limit_fen": 50_000})
    assert max(s.unit_value_fen for s in generate_catalog(FEED, tight)) <= 50_000


def test_duty_paid_share_and_hazards() -> None:
    catalog = generate_catalog(FEED, CUSTOMS, storage_duty_paid_share=0.15)
    share = sum(s.zone == Zone.DUTY_PAID for s in catalog) / len(catalog)
    assert 0.08 < share < 0.22
    hazards = [s for s in catalog if s.hazard]
    assert hazards and all(s.category == "cosmetics" for s in hazards)
    assert all(("香水" in s.name or "喷雾" in s.name) for s in hazards)
    assert all(s.zone == Zone.BONDED for s in generate_catalog(FEED, CUSTOMS, storage_duty_paid_share=0.0))


def test_lots_per_bonded_sku_with_distinct_future_expiries() -> None:
    catalog = generate_catalog(FEED, CUSTOMS)
    lots = generate_lots(catalog, FEED, NOW)
    assert lots == generate_lots(catalog, FEED, NOW)
    bonded = {s.sku for s in catalog if s.zone == Zone.BONDED}
    assert len(lots) == len(bonded) * FEED.lots_per_sku
    assert {lot.sku for lot in lots} == bonded
    assert len({lot.lot for lot in lots}) == len(lots)
    today = datetime.fromtimestamp(NOW, UTC).date()
    by_sku: dict[str, list[str]] = defaultdict(list)
    for lot in lots:
        assert lot.qty == FEED.lot_qty
        assert re.fullmatch(r"\d{18}", lot.entry_no)
        assert re.fullmatch(r"T\d{4}W\d{6}", lot.account_book)
        assert date.fromisoformat(lot.expiry) > today
        by_sku[lot.sku].append(lot.expiry)
    assert all(len(set(v)) == len(v) for v in by_sku.values())
    assert len({lot.entry_no for lot in lots}) == len(lots)
