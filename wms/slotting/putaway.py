"""Putaway policy of the walking skeleton: fastest movers first, each into the nearest slot that fits."""

from __future__ import annotations

from collections.abc import Iterable

from wms.config import Storage
from wms.domain import Sku
from wms.layout import Slot


def fits(sku: Sku, slot: Slot, storage: Storage) -> bool:
    """Whether ``sku`` may go into ``slot``: zone, hazard rating, one unit's volume and weight, heavy low."""
    if sku.zone != slot.zone or (sku.hazard and not slot.hazard_ok):
        return False
    if sku.volume_l > slot.volume_l or sku.weight_kg > slot.max_kg:
        return False
    return not (sku.weight_kg > storage.heavy_kg and slot.level > storage.heavy_max_level)


def nearest_free_slots(
    skus: Iterable[Sku], slots: list[Slot], occupied: set[str], storage: Storage, velocity: dict[str, float]
) -> tuple[dict[str, str], list[str]]:
    """Give SKUs (fastest first) the nearest free slot that fits; return (assignment, unplaced SKUs)."""
    free = sorted((s for s in slots if s.slot not in occupied), key=lambda s: (s.travel_m, s.slot))
    taken: set[str] = set()
    assignment: dict[str, str] = {}
    unplaced: list[str] = []
    for sku in sorted(skus, key=lambda k: (-velocity.get(k.sku, 0.0), k.sku)):
        slot = next((s for s in free if s.slot not in taken and fits(sku, s, storage)), None)
        if slot is None:
            unplaced.append(sku.sku)
            continue
        taken.add(slot.slot)
        assignment[sku.sku] = slot.slot
    return assignment, unplaced
