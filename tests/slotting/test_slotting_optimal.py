"""The optimal method: exact against enumeration and against an independent full SKU × slot flow."""

from __future__ import annotations

import random

import numpy as np
import pytest
from helpers_slotting import RULES, brute_force, random_instance
from ortools.graph.python import min_cost_flow

from wms.domain import Zone
from wms.slotting import optimal
from wms.slotting.baselines import greedy_fill
from wms.slotting.bench import RULES as BENCH_RULES
from wms.slotting.bench import make_instance
from wms.slotting.model import COST_SCALE, Instance, SkuItem, SlotItem
from wms.slotting.optimal import solve_optimal


def test_matches_enumeration_on_small_random_instances() -> None:
    rng = random.Random(11)
    for _ in range(300):
        skus, slots = random_instance(rng)
        result = solve_optimal(skus, slots, RULES)
        inst = Instance(skus, slots, RULES)
        assert (-result.placed, inst.cost(result.slots)) == brute_force(skus, slots, RULES)
        assert result.optimal and result.lower_bound == result.objective
        assert inst.violations(result.slots) == []


def _full_flow_optimum(skus: list[SkuItem], slots: list[SlotItem]) -> tuple[int, int]:
    """Max placed, then min cost, on the plain SKU × slot graph with every fitting arc (no aggregation)."""
    inst = Instance(skus, slots, BENCH_RULES)
    n, m = len(skus), len(slots)
    fit = inst.compat[inst.sku_type][:, inst.slot_kind]
    i, j = np.nonzero(fit)
    mcf = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.zeros(n), 2 + i, 2 + n + np.arange(m)]).astype(np.int32)
    heads = np.concatenate([2 + np.arange(n), 2 + n + j, np.ones(m)]).astype(np.int32)
    costs = np.concatenate([np.zeros(n), inst.vel[i] * (inst.travel[j] - inst.overflow), np.zeros(m)])
    mcf.add_arcs_with_capacity_and_unit_cost(
        tails, heads, np.ones(len(tails), np.int64), costs.astype(np.int64)
    )
    mcf.set_node_supply(0, n)
    mcf.set_node_supply(1, -n)
    assert mcf.solve_max_flow_with_min_cost() == mcf.OPTIMAL
    placeable_velocity = int(inst.vel[inst.placeable].sum())
    return mcf.maximum_flow(), mcf.optimal_cost() + placeable_velocity * inst.overflow


def test_equals_an_independent_full_graph_flow_on_generated_instances() -> None:
    for n, seed in ((400, 3), (900, 5)):
        skus, slots = make_instance(n, seed)
        result = solve_optimal(skus, slots, BENCH_RULES)
        placed, cost = _full_flow_optimum(skus, slots)
        assert result.optimal
        assert result.placed == placed
        assert round(result.objective * COST_SCALE) == cost


def test_short_zone_places_the_fastest_and_names_the_shortfall() -> None:
    slots = [SlotItem(f"S{j}", Zone.BONDED, 10.0, 10.0, False, 0, 1.0 + j) for j in range(2)]
    skus = [SkuItem(f"K{i}", float(v), 1.0, 1.0) for i, v in enumerate([1.0, 9.0, 5.0, 0.5])]
    result = solve_optimal(skus, slots, RULES)
    assert result.slots == {"K1": "S0", "K2": "S1"}
    assert result.optimal
    assert result.shortfalls == [
        "zone bonded is short by 2 slot(s): 4 SKUs fit only 2 slot(s) (all of the zone)"
    ]
    assert {u.sku: u.reason for u in result.unplaced} == {
        "K0": result.shortfalls[0],
        "K3": result.shortfalls[0],
    }


def test_shortfall_names_the_scarce_kind_of_slot() -> None:
    slots = [SlotItem("H", Zone.BONDED, 10.0, 10.0, True, 0, 5.0)] + [
        SlotItem(f"S{j}", Zone.BONDED, 10.0, 10.0, False, 0, 1.0) for j in range(3)
    ]
    skus = [SkuItem(f"K{i}", 1.0, 1.0, 1.0, hazard=True) for i in range(3)]
    result = solve_optimal(skus, slots, RULES)
    assert result.placed == 1
    assert result.shortfalls == [
        "zone bonded is short by 2 slot(s): 3 SKUs fit only 1 slot(s) (hazard-rated)"
    ]


def test_empty_inputs() -> None:
    assert solve_optimal([], [], RULES).placed == 0
    result = solve_optimal([SkuItem("K", 1.0, 1.0, 1.0)], [], RULES)
    assert [u.reason for u in result.unplaced] == ["no slot in zone bonded"]
    assert result.optimal and result.objective == 0.0


def test_envelope_minimum_is_exact() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        m = int(rng.integers(1, 40))
        slopes = -rng.integers(0, 10**6, m)
        icpts = rng.integers(-(10**12), 10**12, m)
        xs = rng.integers(0, 10**6, 50)
        best, arg = optimal._envelope_min(slopes, icpts, xs)
        brute = (xs[:, None] * slopes[None, :] + icpts[None, :]).min(axis=1)
        assert np.array_equal(best, brute)
        assert np.array_equal(xs * slopes[arg] + icpts[arg], brute)


def test_pricing_finds_the_arcs_a_poor_start_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    skus, slots = make_instance(900, 8)

    def far_first(inst: Instance, order: list[int]) -> dict[str, str]:
        return greedy_fill(inst, order[::-1])  # slowest first: the fast SKUs start far away

    monkeypatch.setattr(optimal, "greedy_fill", far_first)
    monkeypatch.setattr(
        optimal._Graph, "zone_targets", lambda self: self.travel_range(self.c_vel[:0], self.c_vel[:0])
    )
    result = optimal.optimise(Instance(skus, slots, BENCH_RULES), window=0)
    assert result.optimal
    assert int(result.notes[0].split()[0]) > 1, result.notes
    assert (result.placed, round(result.objective * COST_SCALE)) == _full_flow_optimum(skus, slots)
