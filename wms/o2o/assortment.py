"""The experience store's O2O assortment: what a shopper may order at the counter."""

from __future__ import annotations

from collections.abc import Iterable

from wms.domain import Sku, Zone


def assortment(catalog: Iterable[Sku], n: int) -> list[str]:
    """The ``n`` most popular SKUs with bonded stock (the catalogue is in popularity order)."""
    return [s.sku for s in catalog if s.zone == Zone.BONDED][:n]
