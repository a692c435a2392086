"""Property tests: no method ever breaks a rule, and the optimum places as many SKUs as possible."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wms.domain import Zone
from wms.slotting.baselines import solve_abc, solve_coi, solve_random
from wms.slotting.model import Instance, SkuItem, SlotItem, SlottingRules
from wms.slotting.optimal import solve_optimal

zones = st.sampled_from([Zone.BONDED, Zone.DUTY_PAID])
skus = st.lists(
    st.builds(
        SkuItem,
        sku=st.just(""),
        velocity=st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 2)),
        volume_l=st.sampled_from([0.5, 20.0, 150.0, 260.0]),
        weight_kg=st.sampled_from([0.2, 8.0, 16.0, 70.0]),
        zone=zones,
        hazard=st.booleans(),
    ),
    max_size=25,
)
slots = st.lists(
    st.builds(
        SlotItem,
        slot=st.just(""),
        zone=zones,
        volume_l=st.sampled_from([100.0, 200.0, 400.0]),
        max_kg=st.sampled_from([20.0, 60.0, 300.0]),
        hazard_ok=st.booleans(),
        level=st.integers(0, 4),
        travel_m=st.sampled_from([2.0, 3.6, 5.125, 9.0, 14.4, 30.0]),
        aisle=st.sampled_from(["A00", "A01"]),
    ),
    max_size=30,
)
RULES = SlottingRules(heavy_kg=15.0, heavy_max_level=1)


def _named(sku_list: list[SkuItem], slot_list: list[SlotItem]) -> tuple[list[SkuItem], list[SlotItem]]:
    from dataclasses import replace

    return (
        [replace(s, sku=f"K{i}") for i, s in enumerate(sku_list)],
        [replace(s, slot=f"S{j}") for j, s in enumerate(slot_list)],
    )


@settings(max_examples=60, deadline=None)
@given(skus, slots)
def test_every_method_respects_every_rule(sku_list: list[SkuItem], slot_list: list[SlotItem]) -> None:
    sku_list, slot_list = _named(sku_list, slot_list)
    inst = Instance(sku_list, slot_list, RULES)
    most, _ = inst.max_placed()
    for result in (
        solve_optimal(sku_list, slot_list, RULES),
        solve_coi(sku_list, slot_list, RULES),
        solve_abc(sku_list, slot_list, RULES, seed=1),
        solve_random(sku_list, slot_list, RULES, seed=1),
    ):
        assert inst.violations(result.slots) == [], result.method
        assert len(set(result.slots.values())) == len(result.slots)
        assert result.placed + len(result.unplaced) == len(sku_list)
        assert {u.sku for u in result.unplaced}.isdisjoint(result.slots)
        assert all(u.reason for u in result.unplaced)
        assert result.placed <= most
    best = solve_optimal(sku_list, slot_list, RULES)
    assert best.placed == most
    assert best.optimal and best.lower_bound == best.objective
    for other in (solve_coi(sku_list, slot_list, RULES), solve_random(sku_list, slot_list, RULES, seed=2)):
        if other.placed == most:
            assert best.objective <= other.objective + 1e-9
