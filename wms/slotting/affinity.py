"""Affinity refinement: SKUs often ordered together moved into one aisle, by CP-SAT within a time limit.

Starting from a plan (normally the optimal one), the SKUs of the strongest affinity pairs may trade their
slots among themselves and take free slots of their zone. CP-SAT minimises travel minus a credit of
``credit_m`` metres for each co-order of a pair that shares an aisle, starting from the given plan (so
the result is never worse by that measure), and reports its best bound and the gap (objective − bound) /
objective, both for the whole site's objective (travel − credits). Only this neighbourhood is re-solved,
so the bound holds for plans that keep every other SKU where it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from wms.slotting.model import (
    COST_SCALE,
    Assignment,
    Instance,
    SkuItem,
    SlotItem,
    SlottingError,
    SlottingRules,
)


@dataclass(slots=True)
class AffinityResult:
    """The refined plan and what CP-SAT proved about it."""

    assignment: Assignment
    status: str
    objective: float
    bound: float
    gap: float
    same_aisle_before: float
    same_aisle_after: float
    skus_considered: int


def refine_affinity(
    skus: Iterable[SkuItem],
    slots: Iterable[SlotItem],
    rules: SlottingRules,
    base: Assignment,
    pairs: Iterable[tuple[str, str, float]],
    *,
    credit_m: float = 10.0,
    time_limit_s: float = 10.0,
    max_skus: int = 60,
    free_slots: int = 60,
    workers: int = 2,
) -> AffinityResult:
    """Regroup the strongest affinity pairs of ``base`` into shared aisles (see the module docstring).

    ``pairs`` are (sku_a, sku_b, co-orders per day); objective and bound are in metres per day.
    """
    inst = Instance(skus, slots, rules)
    if any(not s.aisle for s in inst.slots):
        raise SlottingError("affinity needs every slot's aisle (slots.csv column aisle, or --layout)")
    chosen, weights = _strongest(inst, base, pairs, max_skus)
    same_before = _same_aisle(inst, base.slots, weights)
    start = base.objective - credit_m * same_before
    if not chosen:
        return AffinityResult(base, "NOTHING_TO_DO", start, start, 0.0, same_before, same_before, 0)
    groups = _slot_groups(inst, _candidate_slots(inst, base, chosen, free_slots))
    model = cp_model.CpModel()
    credit = round(credit_m * COST_SCALE)
    # x[i, g]: SKU i takes a slot of group g (same aisle, kind and travel, so its slots are alike)
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for i in chosen:
        for g, members in enumerate(groups):
            if inst.fits(i, members[0]):
                x[i, g] = model.new_bool_var(f"x{i}_{g}")
    for i in chosen:
        model.add_exactly_one(v for (a, _), v in x.items() if a == i)
    for g, members in enumerate(groups):
        model.add(sum(v for (_, b), v in x.items() if b == g) <= len(members))
    in_aisle: dict[tuple[int, str], list[cp_model.IntVar]] = {}
    for (i, g), v in x.items():
        in_aisle.setdefault((i, inst.slots[groups[g][0]].aisle), []).append(v)
    terms = [int(inst.vel[i]) * int(inst.travel[groups[g][0]]) * v for (i, g), v in x.items()]
    bonus = []
    for (a, b), w in weights.items():
        for aisle in {inst.slots[m[0]].aisle for m in groups}:
            if (a, aisle) in in_aisle and (b, aisle) in in_aisle:
                z = model.new_bool_var(f"z{a}_{b}_{aisle}")
                model.add(z <= sum(in_aisle[a, aisle]))
                model.add(z <= sum(in_aisle[b, aisle]))
                bonus.append(round(w * credit) * z)
    model.minimize(sum(terms) - sum(bonus))
    group_of = {j: g for g, members in enumerate(groups) for j in members}
    for (i, g), v in x.items():
        model.add_hint(v, group_of[inst.slot_index[base.slots[inst.skus[i].sku]]] == g)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        name = solver.status_name(status)
        return AffinityResult(base, name, start, -np.inf, 1.0, same_before, same_before, len(chosen))
    plan = {k: s for k, s in base.slots.items() if inst.sku_index[k] not in set(chosen)}
    left = {g: list(members) for g, members in enumerate(groups)}
    for (i, g), v in x.items():
        if solver.value(v):
            plan[inst.skus[i].sku] = inst.slots[left[g].pop(0)].slot
    value, bound = solver.objective_value, solver.best_objective_bound
    same_after = _same_aisle(inst, plan, weights)
    objective = inst.cost(plan) / COST_SCALE - credit_m * same_after
    lower = objective - (value - bound) / COST_SCALE
    gap = (objective - lower) / abs(objective) if objective else 0.0
    result = inst.result(
        f"{base.method}+affinity",
        plan,
        list(base.unplaced),
        shortfalls=list(base.shortfalls),
        notes=[f"CP-SAT {solver.status_name(status)} on {len(chosen)} SKUs, gap {gap:.2%}"],
    )
    return AffinityResult(
        assignment=result,
        status=solver.status_name(status),
        objective=objective,
        bound=lower,
        gap=gap,
        same_aisle_before=same_before,
        same_aisle_after=same_after,
        skus_considered=len(chosen),
    )


def _strongest(
    inst: Instance, base: Assignment, pairs: Iterable[tuple[str, str, float]], max_skus: int
) -> tuple[list[int], dict[tuple[int, int], float]]:
    """SKUs of the heaviest pairs that are placed and share a zone, up to ``max_skus``, and their pairs."""
    total: dict[tuple[int, int], float] = {}
    for a, b, w in pairs:
        for name in (a, b):
            if name not in inst.sku_index:
                raise SlottingError(f"affinity pair ({a}, {b}) names an unknown SKU {name!r}")
        if a == b or w <= 0 or a not in base.slots or b not in base.slots:
            continue
        i, j = inst.sku_index[a], inst.sku_index[b]
        if inst.skus[i].zone != inst.skus[j].zone:
            continue
        key = (min(i, j), max(i, j))
        total[key] = total.get(key, 0.0) + w
    chosen: list[int] = []
    seen: set[int] = set()
    kept: dict[tuple[int, int], float] = {}
    for (i, j), w in sorted(total.items(), key=lambda kv: (-kv[1], kv[0])):
        new = [k for k in (i, j) if k not in seen]
        if len(seen) + len(new) > max_skus:
            continue
        chosen += new
        seen.update(new)
        kept[i, j] = w
    return chosen, kept


def _candidate_slots(inst: Instance, base: Assignment, chosen: list[int], free_slots: int) -> list[int]:
    """The chosen SKUs' own slots and the nearest free slots of their zones that one of them fits."""
    own = [inst.slot_index[base.slots[inst.skus[i].sku]] for i in chosen]
    taken = {inst.slot_index[s] for s in base.slots.values()}
    types = {int(inst.sku_type[i]) for i in chosen}
    fit_kinds = inst.compat[sorted(types)].any(axis=0)
    free = [j for j in range(len(inst.slots)) if j not in taken and fit_kinds[inst.slot_kind[j]]]
    free.sort(key=lambda j: (int(inst.travel[j]), j))
    return own + free[:free_slots]


def _slot_groups(inst: Instance, cand: list[int]) -> list[list[int]]:
    """Candidate slots grouped by aisle, kind and travel: slots of a group are interchangeable."""
    groups: dict[tuple[str, int, int], list[int]] = {}
    for j in cand:
        groups.setdefault((inst.slots[j].aisle, int(inst.slot_kind[j]), int(inst.travel[j])), []).append(j)
    return list(groups.values())


def _same_aisle(inst: Instance, plan: dict[str, str], weights: dict[tuple[int, int], float]) -> float:
    """Co-orders per day of the pairs whose SKUs share an aisle in ``plan``."""
    aisle = {k: inst.slots[inst.slot_index[s]].aisle for k, s in plan.items()}
    return sum(
        w for (i, j), w in weights.items() if aisle.get(inst.skus[i].sku) == aisle.get(inst.skus[j].sku)
    )
