"""Baseline slotting policies behind the same interface as the optimum: random, ABC classes, COI greedy.

All three respect every rule (zone, hazard, size, weight, heavy low) and report unplaced SKUs with reasons;
none claims optimality. Slots of one kind are interchangeable for feasibility, so each policy keeps, per
kind, its free slots in the order it draws them and takes the best head among the kinds an SKU fits.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import numpy as np

from wms.slotting.model import Assignment, Instance, SkuItem, SlotItem, SlottingRules, group_sorted


def greedy_fill(inst: Instance, order: Sequence[int]) -> dict[str, str]:
    """SKUs in ``order`` each take the nearest free slot they fit (ties by slot order)."""
    by_kind = [g[np.argsort(inst.travel[g], kind="stable")] for g in group_sorted(inst.slot_kind)]
    kind_ids = [int(inst.slot_kind[g[0]]) for g in by_kind]
    heads = [0] * len(by_kind)
    fit_groups = [[q for q, k in enumerate(kind_ids) if inst.compat[t, k]] for t in range(len(inst.types))]
    out: dict[str, str] = {}
    for i in order:
        best, where = None, -1
        for q in fit_groups[inst.sku_type[i]]:
            h = heads[q]
            if h < len(by_kind[q]):
                j = by_kind[q][h]
                if best is None or (inst.travel[j], j) < (inst.travel[best], best):
                    best, where = j, q
        if best is not None:
            heads[where] += 1
            out[inst.skus[i].sku] = inst.slots[best].slot
    return out


def _reasons(inst: Instance, pairs: dict[str, str], method: str) -> Assignment:
    """The result of a baseline, with each unplaced SKU's reason and the zones' shortfalls."""
    _, short = inst.max_placed()
    return inst.result(method, pairs, inst.unplaced_reasons(pairs, short), shortfalls=list(short.values()))


def solve_coi(skus: Iterable[SkuItem], slots: Iterable[SlotItem], rules: SlottingRules) -> Assignment:
    """Cube-per-order index: lowest volume per pick first, each into the nearest free slot it fits."""
    inst = Instance(skus, slots, rules)
    coi = [s.volume_l / s.velocity if s.velocity > 0 else float("inf") for s in inst.skus]
    order = sorted(range(len(inst.skus)), key=lambda i: (coi[i], inst.skus[i].sku))
    return _reasons(inst, greedy_fill(inst, order), "coi")


class _Pools:
    """Free slots per (region, kind), shuffled, drawn uniformly among the kinds an SKU fits."""

    def __init__(self, inst: Instance, region: np.ndarray, rng: random.Random) -> None:
        self.inst, self.rng = inst, rng
        self.pool: dict[tuple[int, int], list[int]] = {}
        for j in range(len(inst.slots)):
            self.pool.setdefault((int(region[j]), int(inst.slot_kind[j])), []).append(j)
        for lst in self.pool.values():
            rng.shuffle(lst)

    def draw(self, i: int, region: int) -> int | None:
        """A random free slot of ``region`` that SKU ``i`` fits (taken from the pool), or None."""
        inst = self.inst
        kinds = [
            k for (r, k), lst in self.pool.items() if r == region and lst and inst.compat[inst.sku_type[i], k]
        ]
        if not kinds:
            return None
        weights = [len(self.pool[region, k]) for k in kinds]
        k = self.rng.choices(kinds, weights=weights)[0]
        return self.pool[region, k].pop()


def solve_random(
    skus: Iterable[SkuItem], slots: Iterable[SlotItem], rules: SlottingRules, *, seed: int = 0
) -> Assignment:
    """Random storage: SKUs in random order, each into a uniformly random free slot it fits."""
    inst = Instance(skus, slots, rules)
    rng = random.Random(seed)
    pools = _Pools(inst, np.zeros(len(inst.slots), dtype=np.int64), rng)
    order = list(range(len(inst.skus)))
    rng.shuffle(order)
    pairs: dict[str, str] = {}
    for i in order:
        j = pools.draw(i, 0)
        if j is not None:
            pairs[inst.skus[i].sku] = inst.slots[j].slot
    return _reasons(inst, pairs, "random")


def solve_abc(
    skus: Iterable[SkuItem], slots: Iterable[SlotItem], rules: SlottingRules, *, seed: int = 0
) -> Assignment:
    """Class-based storage: A/B/C thirds of SKUs by velocity into the near/middle/far third of slots.

    Per zone, SKUs are ranked by velocity and slots by travel; within its region an SKU takes a random
    free slot it fits, and when its region has none, the next region outwards, then inwards.
    """
    inst = Instance(skus, slots, rules)
    rng = random.Random(seed)
    region = np.zeros(len(inst.slots), dtype=np.int64)
    sku_class = np.zeros(len(inst.skus), dtype=np.int64)
    zones_slot, zones_sku = inst.slot_zone, inst.sku_zone
    for zone in set(zones_slot.tolist()) | set(zones_sku.tolist()):
        mine = np.flatnonzero(zones_slot == zone)
        ranked = mine[np.lexsort((mine, inst.travel[mine]))]
        region[ranked] = np.arange(len(ranked)) * 3 // max(1, len(ranked))
        mine = np.flatnonzero(zones_sku == zone)
        ranked = mine[np.lexsort((mine, -inst.vel[mine]))]
        sku_class[ranked] = np.arange(len(ranked)) * 3 // max(1, len(ranked))
    pools = _Pools(inst, region, rng)
    order = sorted(range(len(inst.skus)), key=lambda i: (sku_class[i], rng.random()))
    pairs: dict[str, str] = {}
    for i in order:
        c = int(sku_class[i])
        for r in [*range(c, 3), *range(c - 1, -1, -1)]:
            j = pools.draw(i, r)
            if j is not None:
                pairs[inst.skus[i].sku] = inst.slots[j].slot
                break
    return _reasons(inst, pairs, "abc")
