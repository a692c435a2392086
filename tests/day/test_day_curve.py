"""The day's arrival curve: evening peak, promotion windows that keep the daily mean, their configuration."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from simulators.order_feed import DAILY_PROFILE, ArrivalCurve, OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, ConfigError, Feed, Promotion, load_customs, load_warehouse
from wms.day.bench import parse_promotion

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)
T0 = datetime(2026, 11, 11, 0, 0, tzinfo=timezone(timedelta(hours=8))).timestamp()  # local midnight
EVENING = Promotion(start="20:00", hours=2, factor=3)


def _model(promotions: list[Promotion] | None = None, seed: int = 3) -> OrderFeedModel:
    feed = WAREHOUSE.feed.model_copy(update={"promotions": promotions or []})
    return OrderFeedModel(CATALOG, WAREHOUSE.carriers, feed, CUSTOMS, seed)


def _arrivals_per_hour(model: OrderFeedModel, rate: float, days: int) -> tuple[Counter[int], int]:
    now, hours, n = T0, Counter[int](), 0
    while True:
        now += model.interarrival(now, rate)
        if now >= T0 + days * 86400:
            return hours, n
        hours[int((now - T0) // 3600) % 24] += 1
        n += 1


def _day_mean(curve: ArrivalCurve, step_s: float = 30.0) -> float:
    n = int(86400 / step_s)
    return sum(curve.value(T0 + (k + 0.5) * step_s) for k in range(n)) / n


def test_peak_hour_is_in_the_evening_and_the_night_is_quiet() -> None:
    hours, n = _arrivals_per_hour(_model(), 1000.0, days=3)
    assert abs(n / (3 * 24) - 1000.0) / 1000.0 < 0.03  # the mean rate holds over whole days
    peak = max(hours, key=lambda h: hours[h])
    assert 19 <= peak <= 22, hours
    assert hours[peak] > 5 * min(hours[3], hours[4], hours[5])


def test_without_promotions_the_curve_is_the_hourly_profile_unchanged() -> None:
    curve = _model().curve()
    mean = sum(DAILY_PROFILE) / 24
    for h in range(24):
        assert curve.value(T0 + h * 3600) == pytest.approx(DAILY_PROFILE[h] / mean, rel=1e-12)
    assert curve.peak == pytest.approx(max(DAILY_PROFILE) / mean)


def test_a_promotion_raises_its_window_and_keeps_the_days_total() -> None:
    plain = _model().curve()
    promo = _model([EVENING]).curve()
    assert _day_mean(promo) == pytest.approx(1.0, abs=2e-3)  # the promotion's orders come out of the day
    inside, outside = T0 + 20.5 * 3600, T0 + 12.5 * 3600
    assert promo.value(inside) / promo.value(outside) == pytest.approx(
        3 * plain.value(inside) / plain.value(outside)
    )
    assert promo.value(outside) < plain.value(outside)
    assert promo.value(T0 + 19.99 * 3600) < promo.value(T0 + 20.01 * 3600) / 2  # a step at 20:00
    hours, n = _arrivals_per_hour(_model([EVENING]), 1000.0, days=2)
    base, _ = _arrivals_per_hour(_model(), 1000.0, days=2)
    assert abs(n / (2 * 24) - 1000.0) / 1000.0 < 0.03
    assert hours[20] + hours[21] > 2.2 * (base[20] + base[21])  # about 3 x the scale-down (0.81) = 2.4
    assert hours[12] < base[12]


def test_a_window_across_midnight_wraps_and_windows_that_overlap_multiply() -> None:
    curve = _model([Promotion(start="23:00", hours=2, factor=2)]).curve()
    plain = _model().curve()
    for h in (23.5, 0.5):
        ratio = curve.value(T0 + h * 3600) / plain.value(T0 + h * 3600)
        assert ratio == pytest.approx(2 * curve.scale)
    assert curve.value(T0 + 1.5 * 3600) / plain.value(T0 + 1.5 * 3600) == pytest.approx(curve.scale)
    both = ArrivalCurve(DAILY_PROFILE, [EVENING, Promotion(start="21:00", hours=1, factor=2)], 8.0)
    assert both.promotion_factor(21.5) == 6 and both.promotion_factor(20.5) == 3
    assert _day_mean(both) == pytest.approx(1.0, abs=2e-3)
    assert both.peak >= max(both.value(T0 + k * 60.0) for k in range(1440))  # thinning stays exact


def test_promotions_and_profile_in_the_feed_config() -> None:
    feed = Feed.model_validate(
        WAREHOUSE.feed.model_dump() | {"promotions": [{"start": "11:00", "hours": 1.5, "factor": 2}]}
    )
    assert feed.promotions[0].start_h == 11.0
    for bad in ({"start": "24:00", "hours": 1, "factor": 2}, {"start": "20:00", "hours": 0, "factor": 2}):
        with pytest.raises(ValueError):
            Feed.model_validate(WAREHOUSE.feed.model_dump() | {"promotions": [bad]})
    with pytest.raises(ValueError, match="24 non-negative"):
        Feed.model_validate(WAREHOUSE.feed.model_dump() | {"daily_profile": [1.0] * 23})
    flat = OrderFeedModel(
        CATALOG,
        WAREHOUSE.carriers,
        WAREHOUSE.feed.model_copy(update={"daily_profile": [1.0] * 24}),
        CUSTOMS,
        1,
    )
    assert flat.rate_multiplier(T0 + 3 * 3600) == pytest.approx(1.0)


def test_city_config_loads_with_its_flash_sale(tmp_path) -> None:  # type: ignore[no-untyped-def]
    city = load_warehouse(CONFIG_DIR / "city.toml")
    assert city.fleet.picking.count > WAREHOUSE.fleet.picking.count
    assert city.fleet.sorting.count > WAREHOUSE.fleet.sorting.count
    assert city.gate.xray_lanes > WAREHOUSE.gate.xray_lanes and city.pack.stations > WAREHOUSE.pack.stations
    assert city.feed.promotions and city.feed.buyers >= 250_000 // 10
    bad = tmp_path / "city.toml"
    bad.write_text(
        (CONFIG_DIR / "city.toml").read_text().replace('start = "20:00"', 'start = "8pm"'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="feed.promotions.0.start"):
        load_warehouse(bad)


def test_promotion_option_syntax() -> None:
    p = parse_promotion("20:00+2h*3")
    assert (p.start, p.hours, p.factor) == ("20:00", 2.0, 3.0)
    assert parse_promotion(" 09:30+0.5h*1.5 ").hours == 0.5
    for bad in ("20:00+2*3", "20:00", "8pm+2h*3", "20:00+2h"):
        with pytest.raises(ValueError, match=r"HH:MM\+HOURSh\*FACTOR"):
            parse_promotion(bad)
    with pytest.raises(ValueError, match="25:00"):
        parse_promotion("25:00+1h*2")
