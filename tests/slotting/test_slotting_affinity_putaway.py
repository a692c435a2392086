"""Affinity refinement, the controller's putaway and re-slot entry points, and layout travel."""

from __future__ import annotations

import random

import pytest

from wms.config import CONFIG_DIR, load_warehouse
from wms.domain import Sku, Zone
from wms.layout import Layout
from wms.slotting.affinity import refine_affinity
from wms.slotting.bench import RULES, make_instance
from wms.slotting.io import layout_slots
from wms.slotting.model import Instance, SkuItem, SlotItem, SlottingError
from wms.slotting.optimal import solve_optimal
from wms.slotting.putaway import plan_putaway, propose_reslot

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")


def test_affinity_refinement_is_feasible_never_worse_and_reports_its_gap() -> None:
    skus, slots = make_instance(600, 3)
    base = solve_optimal(skus, slots, RULES)
    rng = random.Random(3)
    bonded = sorted((s for s in skus if s.zone == Zone.BONDED), key=lambda s: -s.velocity)[50:250]
    pairs = [(a.sku, b.sku, 3.0) for a, b in (rng.sample(bonded, 2) for _ in range(25))]
    result = refine_affinity(skus, slots, RULES, base, pairs, credit_m=30.0, time_limit_s=3.0, max_skus=30)
    assert result.status in {"OPTIMAL", "FEASIBLE"}
    assert Instance(skus, slots, RULES).violations(result.assignment.slots) == []
    assert result.assignment.placed == base.placed
    start = base.objective - 30.0 * result.same_aisle_before
    assert result.objective <= start + 1e-6
    assert result.bound <= result.objective + 1e-6
    assert result.gap == pytest.approx((result.objective - result.bound) / result.objective)
    assert result.same_aisle_after >= result.same_aisle_before


def test_affinity_needs_aisles_and_known_skus() -> None:
    skus = [SkuItem("A", 1.0, 1.0, 1.0), SkuItem("B", 1.0, 1.0, 1.0)]
    slots = [SlotItem(f"S{j}", Zone.BONDED, 10.0, 10.0, False, 0, 1.0 + j) for j in range(2)]
    base = solve_optimal(skus, slots, RULES)
    with pytest.raises(SlottingError, match="aisle"):
        refine_affinity(skus, slots, RULES, base, [("A", "B", 1.0)])
    slots = [SlotItem(f"S{j}", Zone.BONDED, 10.0, 10.0, False, 0, 1.0 + j, aisle=f"A{j}") for j in range(2)]
    with pytest.raises(SlottingError, match="unknown SKU 'C'"):
        refine_affinity(skus, slots, RULES, base, [("A", "C", 1.0)])


def _sku(name: str, **kw: object) -> Sku:
    base: dict[str, object] = {"sku": name, "name": name, "hs_code": "3304990099", "category": "cosmetics"}
    base.update(unit_value_fen=100, weight_kg=1.0, volume_l=1.0)
    base.update(kw)
    return Sku(**base)  # type: ignore[arg-type]


def test_plan_putaway_for_the_controller() -> None:
    layout = Layout(CFG.storage, CFG.pack.stations, 3)
    skus = [_sku("FAST"), _sku("SLOW"), _sku("HAZ", hazard=True), _sku("HEAVY", weight_kg=40.0)]
    skus += [_sku("DUTY", zone=Zone.DUTY_PAID), _sku("HUGE", volume_l=10_000.0)]
    velocity = {"FAST": 100.0, "SLOW": 1.0, "HAZ": 5.0, "HEAVY": 3.0, "DUTY": 2.0}
    for method in ("optimal", "coi", "abc", "random"):
        assignment, unplaced = plan_putaway(skus, layout.slots, CFG.storage, velocity, method)
        assert [u[0] for u in unplaced] == ["HUGE"]
        assert "volume 10000 l" in unplaced[0][1]
        by_id = {s.slot: s for s in layout.slots}
        assert by_id[assignment["HAZ"]].hazard_ok
        assert by_id[assignment["HEAVY"]].level <= CFG.storage.heavy_max_level
        assert by_id[assignment["DUTY"]].zone == Zone.DUTY_PAID
    assignment, _ = plan_putaway(skus, layout.slots, CFG.storage, velocity)
    nearest = min(s.travel_m for s in layout.slots if s.zone == Zone.BONDED)
    assert {s.slot: s for s in layout.slots}[assignment["FAST"]].travel_m == nearest
    with pytest.raises(ValueError, match="unknown slotting method"):
        plan_putaway(skus, layout.slots, CFG.storage, velocity, "best")


def test_propose_reslot_for_the_controller() -> None:
    layout = Layout(CFG.storage, CFG.pack.stations, 3)
    skus = [_sku(f"K{i}") for i in range(40)]
    velocity = {f"K{i}": float(i) for i in range(40)}
    far = sorted((s for s in layout.slots if s.zone == Zone.BONDED), key=lambda s: -s.travel_m)
    current = {f"K{i}": far[i].slot for i in range(40)}
    plan = propose_reslot(skus, layout.slots, CFG.storage, velocity, current)
    assert 0 < len(plan.moves) <= 2  # 5% of 40 SKUs
    assert plan.after < plan.before


def test_depot_only_layout_gives_the_layout_travel() -> None:
    layout = Layout(CFG.storage, CFG.pack.stations, 3)
    mine = {s.slot: s for s in layout_slots(CFG.storage, CFG.pack.stations)}
    assert len(mine) == len(layout.slots)
    for s in layout.slots:
        assert mine[s.slot].travel_m == s.travel_m
        assert mine[s.slot].aisle == f"A{s.aisle:02d}"
