"""Deterministic synthetic SKU catalog and bonded lot receipts, drawn from the feed's seed.

Prices are lognormal within a plausible retail band per category; weights, volumes and shelf lives come
from per-product profiles. Categories not profiled here get a generic profile, so any customs config works.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wms.config import CustomsConfig, Feed
from wms.domain import LotReceipt, Sku, Zone


@dataclass(frozen=True, slots=True)
class Product:
    """One kind of product within a category: name, plausible weight/volume bands, HS hint, hazard."""

    name: str
    kg: tuple[float, float]
    litres: tuple[float, float]
    hs_hint: str = ""
    hazard: bool = False


@dataclass(frozen=True, slots=True)
class CategoryProfile:
    """How a category's SKUs look: price band (CNY), relative frequency, shelf life and products."""

    price_cny: tuple[float, float]
    weight: float
    shelf_days: tuple[int, int]
    products: tuple[Product, ...]


PROFILES: dict[str, CategoryProfile] = {
    "cosmetics": CategoryProfile(
        (50, 800),
        0.28,
        (720, 1080),
        (
            Product("面霜 50ml", (0.15, 0.30), (0.2, 0.4)),
            Product("精华液 30ml", (0.10, 0.20), (0.15, 0.3)),
            Product("口红 3.5g", (0.03, 0.06), (0.03, 0.08), hs_hint="3304100090"),
            Product("眼影盘", (0.05, 0.15), (0.1, 0.2)),
            Product("防晒乳 60ml", (0.08, 0.15), (0.1, 0.25)),
            Product("面膜 10片", (0.25, 0.40), (0.4, 0.8)),
            Product("卸妆油 150ml", (0.20, 0.30), (0.25, 0.4)),
            Product("香水 50ml", (0.20, 0.40), (0.3, 0.6), hazard=True),
            Product("定妆喷雾 100ml", (0.12, 0.20), (0.2, 0.35), hazard=True),
        ),
    ),
    "infant_formula": CategoryProfile(
        (150, 400),
        0.15,
        (540, 720),
        (
            Product("婴幼儿配方奶粉 1段 800g", (0.95, 1.10), (2.0, 2.6)),
            Product("婴幼儿配方奶粉 2段 800g", (0.95, 1.10), (2.0, 2.6)),
            Product("婴幼儿配方奶粉 3段 900g", (1.05, 1.20), (2.2, 2.8)),
        ),
    ),
    "supplements": CategoryProfile(
        (80, 500),
        0.12,
        (540, 900),
        (
            Product("深海鱼油软胶囊 200粒", (0.25, 0.45), (0.4, 0.7)),
            Product("维生素C咀嚼片 120片", (0.10, 0.30), (0.2, 0.4)),
            Product("益生菌粉 30袋", (0.10, 0.25), (0.3, 0.6)),
            Product("胶原蛋白口服液 10瓶", (0.50, 0.80), (0.6, 1.0)),
        ),
    ),
    "baby_care": CategoryProfile(
        (60, 250),
        0.12,
        (900, 1080),
        (
            Product("纸尿裤 M号 64片", (2.0, 3.2), (12.0, 22.0)),
            Product("拉拉裤 L号 44片", (1.8, 2.8), (10.0, 18.0)),
            Product("成长裤 XL号 36片", (1.6, 2.4), (9.0, 16.0)),
        ),
    ),
    "food": CategoryProfile(
        (20, 200),
        0.12,
        (180, 365),
        (
            Product("黄油曲奇 454g", (0.50, 0.70), (1.5, 2.5)),
            Product("夹心饼干 300g", (0.30, 0.45), (0.8, 1.5)),
            Product("华夫饼 250g", (0.25, 0.40), (0.8, 1.4)),
        ),
    ),
    "wine": CategoryProfile(
        (80, 600),
        0.06,
        (1825, 3650),
        (
            Product("干红葡萄酒 750ml", (1.20, 1.60), (1.2, 1.8)),
            Product("干白葡萄酒 750ml", (1.20, 1.55), (1.2, 1.8)),
        ),
    ),
    "appliances": CategoryProfile(
        (200, 3000),
        0.06,
        (1825, 1825),
        (
            Product("电动牙刷", (0.30, 0.60), (1.0, 2.0)),
            Product("电动洁面仪", (0.20, 0.50), (0.8, 1.6)),
            Product("便携冲牙器", (0.40, 0.80), (1.2, 2.5)),
        ),
    ),
    "personal_care": CategoryProfile(
        (30, 200),
        0.09,
        (720, 1080),
        (
            Product("洗发水 500ml", (0.55, 0.70), (0.6, 0.9), hs_hint="3305100000"),
            Product("护发素 500ml", (0.55, 0.70), (0.6, 0.9), hs_hint="3305100000"),
            Product("沐浴露 750ml", (0.80, 1.00), (0.9, 1.3), hs_hint="3401300000"),
            Product("洗手液 250ml", (0.28, 0.40), (0.3, 0.5), hs_hint="3401300000"),
        ),
    ),
}
GENERIC = CategoryProfile((50, 500), 0.05, (365, 730), (Product("进口商品", (0.2, 1.5), (0.3, 3.0)),))
BRANDS = (
    "Aurelle",
    "Bellamy",
    "Cosmo",
    "Dalma",
    "Elanor",
    "Fjord",
    "Gaia",
    "Hanami",
    "Isola",
    "Juniper",
    "Kirei",
    "Lumen",
    "Maple",
    "Nordia",
    "Orchid",
    "Pacifica",
    "Quill",
    "Rosen",
    "Sakura",
    "Tundra",
)


def profile(category: str) -> CategoryProfile:
    """The profile of a category, or the generic one for categories this module does not know."""
    return PROFILES.get(category, GENERIC)


def _price_fen(rng: random.Random, band: tuple[float, float]) -> int:
    """A lognormal retail price within the band (about 95% inside before clamping), ending in 9 yuan."""
    low, high = band
    median = math.sqrt(low * high)
    sigma = math.log(high / low) / 4
    yuan = min(max(rng.lognormvariate(math.log(median), sigma), low), high)
    whole = int(yuan)
    if whole >= 20:
        whole = whole - whole % 10 + 9
    return max(min(whole, int(high)), 1) * 100


def generate_catalog(feed: Feed, customs: CustomsConfig, storage_duty_paid_share: float = 0.15) -> list[Sku]:
    """``feed.skus`` SKUs over the customs categories, the same for the same ``feed.seed``."""
    if not 0 <= storage_duty_paid_share <= 1:
        raise ValueError(f"storage_duty_paid_share must be within [0, 1], got {storage_duty_paid_share}")
    rng = random.Random(f"catalog:{feed.seed}")
    names = sorted(customs.categories)
    cap = customs.single_limit_fen / 100  # no single unit above the per-transaction limit
    weights = [profile(c).weight for c in names]
    skus: list[Sku] = []
    for i in range(1, feed.skus + 1):
        category = rng.choices(names, weights)[0]
        prof = profile(category)
        product = rng.choice(prof.products)
        reference = customs.categories[category].reference_hs
        hs = product.hs_hint if product.hs_hint in reference else rng.choice(reference)
        skus.append(
            Sku(
                sku=f"SKU{i:05d}",
                name=f"{rng.choice(BRANDS)} {product.name}",
                hs_code=hs,
                category=category,
                unit_value_fen=_price_fen(rng, (min(prof.price_cny[0], cap), min(prof.price_cny[1], cap))),
                weight_kg=round(rng.uniform(*product.kg), 3),
                volume_l=round(rng.uniform(*product.litres), 2),
                zone=Zone.DUTY_PAID if rng.random() < storage_duty_paid_share else Zone.BONDED,
                hazard=product.hazard and category == "cosmetics",
            )
        )
    return skus


def generate_lots(
    catalog: list[Sku], feed: Feed, now: float, *, customs_code: str = "4601", account_book: str | None = None
) -> list[LotReceipt]:
    """``feed.lots_per_sku`` lots of ``feed.lot_qty`` per bonded SKU, with distinct future expiry dates.

    Entry numbers follow the 18-digit customs pattern (district, year, import flag 1, sequence); the account
    book defaults to ``T{customs_code}W000001``.
    """
    if not (len(customs_code) == 4 and customs_code.isdigit()):
        raise ValueError(f"customs_code must be 4 digits, got {customs_code!r}")
    rng = random.Random(f"lots:{feed.seed}")
    book = account_book or f"T{customs_code}W{1:06d}"
    today = datetime.fromtimestamp(now, UTC).date()
    seq = rng.randrange(10**8)
    lots: list[LotReceipt] = []
    for sku in catalog:
        if sku.zone != Zone.BONDED:
            continue
        lo, hi = profile(sku.category).shelf_days
        used: set[int] = set()
        for k in range(feed.lots_per_sku):
            days = int(rng.uniform(0.35, 0.95) * rng.uniform(lo, hi))
            days = max(days, 30)
            while days in used:
                days += 1
            used.add(days)
            seq += 1
            lots.append(
                LotReceipt(
                    lot=f"{sku.sku}-L{k + 1:02d}",
                    sku=sku.sku,
                    qty=feed.lot_qty,
                    entry_no=f"{customs_code}{today.year:04d}1{seq % 10**9:09d}",
                    account_book=book,
                    expiry=(today + timedelta(days=days)).isoformat(),
                )
            )
    return lots
