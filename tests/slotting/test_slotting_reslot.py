"""Re-slotting: at most K moves, each valid and saving, never worse, measured against the full re-slot."""

from __future__ import annotations

import random

import pytest
from helpers_slotting import RULES, random_instance

from wms.domain import Zone
from wms.slotting.baselines import solve_random
from wms.slotting.bench import RULES as BENCH_RULES
from wms.slotting.bench import drift, make_instance
from wms.slotting.model import Instance, SkuItem, SlotItem, SlottingError
from wms.slotting.optimal import solve_optimal
from wms.slotting.reslot import plan_reslot


def _check(plan, inst: Instance, current: dict[str, str], budget: int) -> None:  # type: ignore[no-untyped-def]
    assert len(plan.moves) <= budget
    assert plan.after <= plan.before + 1e-9
    assert inst.violations(plan.assignment) == []
    assert set(plan.assignment) == set(current)
    assert all(m.saving > 0 for m in plan.moves)
    assert abs(sum(m.saving for m in plan.moves) - plan.saving) < 1e-6
    state = dict(current)  # replay the moves one by one: each is what it says and saves what it says
    for m in plan.moves:
        holder = {slot: sku for sku, slot in state.items()}
        assert state[m.sku] == m.from_slot and holder.get(m.to_slot) == m.other
        before = inst.cost(state)
        state[m.sku] = m.to_slot
        if m.other:
            state[m.other] = m.from_slot
        assert abs((before - inst.cost(state)) / 1e6 - m.saving) < 1e-9
        assert inst.violations(state) == []
    assert state == plan.assignment


@pytest.mark.parametrize("budget", [0, 1, 3, 50])
def test_budget_respected_and_never_worse_on_random_small_instances(budget: int) -> None:
    rng = random.Random(budget)
    for _ in range(60):
        skus, slots = random_instance(rng, max_skus=6, max_slots=8)
        inst = Instance(skus, slots, RULES)
        current = solve_random(skus, slots, RULES, seed=rng.randint(0, 99)).slots
        plan = plan_reslot(skus, slots, RULES, current, budget)
        _check(plan, inst, current, budget)
        assert plan.full <= plan.before + 1e-9 or len(current) < solve_optimal(skus, slots, RULES).placed


def test_recovers_most_of_the_saving_from_random_storage() -> None:
    skus, slots = make_instance(2000, 4)
    best = solve_optimal(skus, slots, BENCH_RULES)
    current = solve_random(skus, slots, BENCH_RULES, seed=4).slots
    plan = plan_reslot(skus, slots, BENCH_RULES, current, 100, optimum=best)
    _check(plan, Instance(skus, slots, BENCH_RULES), current, 100)
    assert plan.full == best.objective
    assert 0.5 < plan.recovery <= 1.0


def test_drifted_demand_and_an_optimal_current_plan() -> None:
    skus, slots = make_instance(1500, 6)
    current = solve_optimal(skus, slots, BENCH_RULES).slots
    later = drift(skus, 7)
    plan = plan_reslot(later, slots, BENCH_RULES, current, 75)
    _check(plan, Instance(later, slots, BENCH_RULES), current, 75)
    assert plan.saving > 0
    unchanged = plan_reslot(skus, slots, BENCH_RULES, current, 75)
    assert unchanged.moves == [] and unchanged.recovery == 1.0


def test_swap_and_relocation() -> None:
    slots = [SlotItem(f"S{j}", Zone.BONDED, 10.0, 10.0, False, 0, float(1 + j)) for j in range(4)]
    skus = [SkuItem("SLOW", 1.0, 1.0, 1.0), SkuItem("FAST", 10.0, 1.0, 1.0), SkuItem("MID", 5.0, 1.0, 1.0)]
    current = {"SLOW": "S0", "FAST": "S3", "MID": "S2"}
    plan = plan_reslot(skus, slots, RULES, current, 1)
    assert [(m.kind, m.sku, m.to_slot, m.other) for m in plan.moves] == [("swap", "FAST", "S0", "SLOW")]
    assert plan.saving == (10 - 1) * 3
    plan = plan_reslot(skus, slots, RULES, current, 2)
    assert {m.kind for m in plan.moves} == {"swap", "relocate"}
    assert (plan.after, plan.full) == (24.0, 23.0)
    assert plan_reslot(skus, slots, RULES, current, 3).after == 23.0


def test_current_assignment_must_name_known_skus_and_slots() -> None:
    slots = [SlotItem("S0", Zone.BONDED, 10.0, 10.0, False, 0, 1.0)]
    with pytest.raises(SlottingError, match="unknown SKU or slot"):
        plan_reslot([SkuItem("A", 1.0, 1.0, 1.0)], slots, RULES, {"A": "NOPE"}, 1)
