"""FEFO allocation: reserve bonded stock from the lots that expire first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LotView:
    """What allocation needs to know of a lot."""

    lot: str
    sku: str
    expiry: str
    available: int


def allocate_fefo(lines: list[tuple[str, int]], lots: list[LotView]) -> list[tuple[str, str, int]] | None:
    """Reserve each (sku, qty) from lots in expiry order, splitting across lots; None if stock is short."""
    left = {lot.lot: lot.available for lot in lots}
    by_sku: dict[str, list[LotView]] = {}
    for lot in sorted(lots, key=lambda v: (v.expiry, v.lot)):
        by_sku.setdefault(lot.sku, []).append(lot)
    out: list[tuple[str, str, int]] = []
    for sku, qty in lines:
        need = qty
        for lot in by_sku.get(sku, []):
            take = min(need, left[lot.lot])
            if take > 0:
                out.append((lot.lot, sku, take))
                left[lot.lot] -= take
                need -= take
            if need == 0:
                break
        if need > 0:
            return None
    return out
