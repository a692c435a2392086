"""Seeded generator of O2O orders: shoppers in the experience store buying from its assortment.

Pure (time passed in, no I/O). Arrivals are Poisson at a constant rate during the counters' opening hours
only. It has its own random stream and its own shoppers, so adding O2O orders to a feed leaves the regular
orders exactly as they were (a paired comparison in ``wms bench o2o``).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import Literal

from simulators.order_feed import Buyer, make_buyer
from wms.config import CustomsConfig
from wms.domain import OrderBundle, Sku, Zone
from wms.inspection.ceb import timestamp
from wms.inspection.rules import on_positive_list
from wms.o2o.orders import STORE_ADDRESS, o2o_bundle, order_number

DAY = 86400.0
SHOPPER_INDEX0 = 1_000_000  # shoppers are buyers of the pool from this index on, apart from online buyers


def hhmm_s(text: str) -> int:
    """``HH:MM`` as seconds after midnight."""
    return int(text[:2]) * 3600 + int(text[3:5]) * 60


def is_open(now: float, opens: str, closes: str, utc_offset_h: float) -> bool:
    """Whether the counters are open at ``now`` (local time, opens inclusive, closes exclusive)."""
    secs = (now + utc_offset_h * 3600.0) % DAY
    return hhmm_s(opens) <= secs < hhmm_s(closes)


def open_until(now: float, opens: str, closes: str, utc_offset_h: float) -> tuple[float, float] | None:
    """The open period ``(start, end)`` containing ``now`` or the next one; None if never open."""
    o, c = hhmm_s(opens), hhmm_s(closes)
    if c <= o:
        return None
    local = now + utc_offset_h * 3600.0
    midnight = local - local % DAY - utc_offset_h * 3600.0
    for day in (0.0, DAY):
        start, end = midnight + day + o, midnight + day + c
        if now < end:
            return max(start, now), end
    return None  # pragma: no cover (the next day always has an open period)


def eligible_skus(skus: Sequence[str], catalog: Mapping[str, Sku], customs: CustomsConfig) -> list[str]:
    """The assortment SKUs a clean O2O order may contain: bonded, listed, taxable, within the limits."""
    out = []
    for code in skus:
        s = catalog.get(code)
        if (
            s is not None
            and s.zone == Zone.BONDED
            and s.category in customs.categories
            and on_positive_list(s.hs_code, customs.positive_list)
            and s.unit_value_fen <= min(customs.single_limit_fen, customs.annual_limit_fen)
        ):
            out.append(code)
    return out


class O2OOrderModel:
    """O2O order bundles from a store's assortment for its counters, with the arrival times between them."""

    def __init__(
        self,
        catalog: Mapping[str, Sku] | Sequence[Sku],
        customs: CustomsConfig,
        skus: Sequence[str],
        counters: Sequence[str],
        *,
        opens: str = "09:00",
        closes: str = "22:00",
        seed: int = 7,
        utc_offset_h: float = 8.0,
        shoppers: int = 5000,
        repeat_share: float = 0.1,
        address: Literal["home", "store"] = "home",
        pareto_alpha: float = 1.16,
    ) -> None:
        if not counters:
            raise ValueError("at least one counter is needed")
        self.catalog = dict(catalog) if isinstance(catalog, Mapping) else {s.sku: s for s in catalog}
        self.customs = customs
        self.skus = eligible_skus(skus, self.catalog, customs)
        if not self.skus:
            raise ValueError("no SKU of the assortment can be ordered (bonded, listed, within the limits)")
        self.counters = list(counters)
        self.opens, self.closes = opens, closes
        self.seed = seed
        self.utc_offset_h = utc_offset_h
        self.shoppers = shoppers
        self.repeat_share = repeat_share
        self.address = address
        self.rng = random.Random(f"o2o:{seed}")
        n = len(self.skus)
        self.weights = [((r + 0.5) / n) ** (-1 / pareto_alpha) for r in range(n)]  # assortment rank order
        self._seq = 0
        self._seen: list[int] = []
        self._recent: dict[int, deque[float]] = defaultdict(deque)
        self._spent: dict[tuple[int, str], int] = defaultdict(int)

    def interarrival(self, now: float, rate_per_h: float) -> float | None:
        """Seconds to the next O2O order (Poisson in opening time), or None if the counters never open."""
        if rate_per_h <= 0:
            raise ValueError(f"rate_per_h must be > 0, got {rate_per_h}")
        left = self.rng.expovariate(rate_per_h / 3600.0)
        t = now
        while True:
            period = open_until(t, self.opens, self.closes, self.utc_offset_h)
            if period is None:
                return None
            start, end = period
            if start + left < end:
                return start + left - now
            left -= end - start
            t = end

    def _shopper(self, now: float) -> tuple[int, Buyer]:
        """A returning shopper now and then, else a new one; never one at the daily order limit."""
        limit = self.customs.risk.max_orders_per_buyer_per_day
        for _ in range(20):
            if self._seen and self.rng.random() < self.repeat_share:
                index = self.rng.choice(self._seen)
            else:
                index = self.rng.randrange(self.shoppers)
            times = self._recent[index]
            while times and times[0] < now - DAY:
                times.popleft()
            if len(times) < limit:
                break
        b = make_buyer(self.seed, SHOPPER_INDEX0 + index)
        address = STORE_ADDRESS if self.address == "store" else b.address
        return index, Buyer(b.reg_no, b.name, b.id_number, b.phone, address, "", b.name, b.phone)

    def _lines(self, quota: int) -> list[tuple[str, int]]:
        """1-3 distinct assortment SKUs, mostly one unit each, within the single limit and ``quota``."""
        n = min(1 + self.rng.choices((0, 1, 2), (0.7, 0.25, 0.05))[0], len(self.skus))
        chosen: dict[str, int] = {}
        while len(chosen) < n:
            sku = self.rng.choices(self.skus, self.weights)[0]
            chosen[sku] = 1 + (self.rng.random() < 0.2)
        cap = min(self.customs.single_limit_fen, quota)
        lines = list(chosen.items())
        while len(lines) > 1 and sum(self.catalog[s].unit_value_fen * q for s, q in lines) > cap:
            lines.pop()
        sku, qty = lines[0]
        if len(lines) == 1 and qty > 1 and self.catalog[sku].unit_value_fen * qty > cap:
            lines = [(sku, 1)]
        return lines

    def next_bundle(self, now: float) -> OrderBundle:
        """The next shopper's order, for a counter chosen at random."""
        year = timestamp(now, self.utc_offset_h)[:4]
        for _ in range(20):
            index, buyer = self._shopper(now)
            quota = self.customs.annual_limit_fen - self._spent[(index, year)]
            lines = self._lines(quota)
            value = sum(self.catalog[s].unit_value_fen * q for s, q in lines)
            if value <= quota:
                break
        else:
            raise RuntimeError("no shopper with enough annual quota left: raise shoppers")
        self._seq += 1
        counter = self.rng.choice(self.counters)
        no = order_number(counter, now, self._seq, self.utc_offset_h)
        bundle = o2o_bundle(
            lines,
            buyer,
            counter,
            now,
            self.catalog,
            self.customs,
            order_no=no,
            utc_offset_h=self.utc_offset_h,
        )
        self._seen.append(index)
        self._recent[index].append(now)
        self._spent[(index, year)] += value
        return bundle
