"""Putaway: the walking skeleton's nearest-free-slot policy, and the controller's entry points to the
slotting planners (optimal or baseline putaway of inbound stock, the nightly re-slot proposal)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from wms.config import Storage
from wms.domain import Sku
from wms.layout import Slot
from wms.slotting.baselines import solve_abc, solve_coi, solve_random
from wms.slotting.model import Assignment, SkuItem, SlotItem, SlottingRules
from wms.slotting.optimal import solve_optimal
from wms.slotting.reslot import Reslot, plan_reslot


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


PLANNERS: dict[str, Callable[[list[SkuItem], list[SlotItem], SlottingRules], Assignment]] = {
    "optimal": solve_optimal,
    "coi": solve_coi,
    "abc": solve_abc,
    "random": solve_random,
}


def sku_items(skus: Iterable[Sku], velocity: dict[str, float]) -> list[SkuItem]:
    """Domain SKUs as the slotting planners see them, with their picks per day (0 when unknown)."""
    return [
        SkuItem(
            sku=s.sku,
            velocity=float(velocity.get(s.sku, 0.0)),
            volume_l=s.volume_l,
            weight_kg=s.weight_kg,
            zone=s.zone,
            hazard=s.hazard,
        )
        for s in skus
    ]


def slot_items(slots: Iterable[Slot]) -> list[SlotItem]:
    """Layout slots as the slotting planners see them."""
    return [
        SlotItem(
            slot=s.slot,
            zone=s.zone,
            volume_l=s.volume_l,
            max_kg=s.max_kg,
            hazard_ok=s.hazard_ok,
            level=s.level,
            travel_m=s.travel_m,
            aisle=f"A{s.aisle:02d}",
        )
        for s in slots
    ]


def plan_putaway(
    skus: Iterable[Sku],
    slots: list[Slot],
    storage: Storage,
    velocity: dict[str, float],
    method: str = "optimal",
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Slots for inbound SKUs (pass only free slots): (SKU → slot, [(unplaced SKU, reason)]).

    ``method`` is one of :data:`PLANNERS`; "optimal" places as many SKUs as possible with the least
    expected travel, provably.
    """
    if method not in PLANNERS:
        raise ValueError(f"unknown slotting method {method!r}; one of {', '.join(PLANNERS)}")
    result = PLANNERS[method](
        sku_items(skus, velocity), slot_items(slots), SlottingRules.from_storage(storage)
    )
    return result.slots, [(u.sku, u.reason) for u in result.unplaced]


def propose_reslot(
    skus: Iterable[Sku],
    slots: list[Slot],
    storage: Storage,
    velocity: dict[str, float],
    current: dict[str, str],
    max_moves: int | None = None,
) -> Reslot:
    """The nightly re-slot proposal: the best moves from ``current`` within a budget (default 5% of SKUs)."""
    items = sku_items(skus, velocity)
    budget = max(1, round(0.05 * len(items))) if max_moves is None else max_moves
    return plan_reslot(items, slot_items(slots), SlottingRules.from_storage(storage), current, budget)
