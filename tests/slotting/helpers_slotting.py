"""Small instance builders shared by the slotting tests."""

from __future__ import annotations

import itertools
import random

from wms.domain import Zone
from wms.slotting.model import Instance, SkuItem, SlotItem, SlottingRules

RULES = SlottingRules(heavy_kg=10.0, heavy_max_level=0)


def random_instance(rng: random.Random, max_skus: int = 5, max_slots: int = 6) -> tuple[list, list]:
    """A tiny instance mixing zones, hazards, heavy and bulky SKUs, and equal travels (aggregation)."""
    skus = [
        SkuItem(
            sku=f"K{i}",
            velocity=rng.choice([0.0, 0.5, 1.0, 2.0, 3.0, 7.25]),
            volume_l=rng.choice([1.0, 5.0, 9.0]),
            weight_kg=rng.choice([1.0, 12.0]),
            zone=Zone.DUTY_PAID if rng.random() < 0.3 else Zone.BONDED,
            hazard=rng.random() < 0.2,
        )
        for i in range(rng.randint(1, max_skus))
    ]
    slots = [
        SlotItem(
            slot=f"S{j}",
            zone=Zone.DUTY_PAID if rng.random() < 0.3 else Zone.BONDED,
            volume_l=rng.choice([4.0, 10.0]),
            max_kg=rng.choice([5.0, 20.0]),
            hazard_ok=rng.random() < 0.3,
            level=rng.randint(0, 2),
            travel_m=rng.choice([1.5, 2.0, 3.25, 7.0, 7.0]),
            aisle=f"A{j % 3}",
        )
        for j in range(rng.randint(1, max_slots))
    ]
    return skus, slots


def brute_force(skus: list[SkuItem], slots: list[SlotItem], rules: SlottingRules) -> tuple[int, int]:
    """(−placed, exact cost) of the best plan by enumeration: most placed first, then least cost."""
    inst = Instance(skus, slots, rules)
    best: tuple[int, int] | None = None
    for choice in itertools.product(range(-1, len(slots)), repeat=len(skus)):
        used = [c for c in choice if c >= 0]
        if len(set(used)) != len(used) or any(c >= 0 and not inst.fits(i, c) for i, c in enumerate(choice)):
            continue
        pairs = {skus[i].sku: slots[c].slot for i, c in enumerate(choice) if c >= 0}
        key = (-len(pairs), inst.cost(pairs))
        if best is None or key < best:
            best = key
    assert best is not None
    return best
