"""Cross-border retail import tax (trade mode 1210): exact integer-fen arithmetic, pure functions.

Within the limits the tariff is 0 and import VAT plus consumption tax are levied at ``tax_discount`` (70%):
per line, tax = dutiable share × (ct + vat) / (1 − ct) × tax_discount, rounded half-up to the fen.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction

from wms.config import CustomsConfig
from wms.domain import CustomsOrder, Sku, Waybill


class TaxError(ValueError):
    """The tax of an order cannot be computed (unknown SKU or category)."""


def _exact(x: float) -> Fraction:
    """A configured rate as the decimal the file says (0.13 is 13/100, not its binary approximation)."""
    return Fraction(Decimal(repr(x)))


@functools.cache  # a handful of (vat, ct, discount) triples; exact fractions are slow to rebuild per line
def combined_rate(vat: float, ct: float, tax_discount: float) -> Fraction:
    """(ct + vat) / (1 − ct) × tax_discount, exactly; 13% VAT alone at 70% gives 0.091."""
    c, v = _exact(ct), _exact(vat)
    return (c + v) / (1 - c) * _exact(tax_discount)


def dutiable_value(order: CustomsOrder, waybill: Waybill | None) -> int:
    """Goods value − discount + freight (+ the waybill's insured fee), never below zero, in fen."""
    insured = waybill.insured_fee_fen if waybill is not None else 0
    return max(order.goods_value_fen - order.discount_fen + order.freight_fen + insured, 0)


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` by largest remainder so the parts sum exactly.

    Ties go to the earlier weight; all-zero weights split evenly.
    """
    if not weights:
        return []
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be >= 0, got {weights}")
    if sum(weights) == 0:
        weights = [1] * len(weights)
    total = sum(weights)
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


def _half_up(x: Fraction) -> int:
    """Round a non-negative exact amount to the nearest fen, halves up."""
    return int((x + Fraction(1, 2)) // 1)


def line_taxes(
    order: CustomsOrder, waybill: Waybill | None, catalog: dict[str, Sku], customs: CustomsConfig
) -> list[int]:
    """Tax of each order line in fen, using the line SKU's category rates; raises `TaxError` if unknown."""
    shares = allocate(dutiable_value(order, waybill), [line.total_fen for line in order.lines])
    taxes: list[int] = []
    for line, share in zip(order.lines, shares, strict=True):
        sku = catalog.get(line.sku)
        if sku is None:
            raise TaxError(f"order {order.order_no} line {line.gnum}: unknown SKU {line.sku!r}")
        cat = customs.categories.get(sku.category)
        if cat is None:
            raise TaxError(f"SKU {sku.sku}: category {sku.category!r} has no tax rates in the customs config")
        taxes.append(_half_up(share * combined_rate(cat.vat, cat.ct, customs.tax_discount)))
    return taxes


def compute_tax(
    order: CustomsOrder, waybill: Waybill | None, catalog: dict[str, Sku], customs: CustomsConfig
) -> int:
    """Total cross-border tax of an order in fen: the sum of the rounded line taxes."""
    return sum(line_taxes(order, waybill, catalog, customs))
