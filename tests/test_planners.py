"""The walking skeleton's simple planners: putaway, FEFO, batching, routing, chutes, cut-offs, assignment."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from itertools import permutations

from wms.config import CONFIG_DIR, Carrier, load_warehouse
from wms.dispatch.cutoffs import local_hhmm, next_cutoff
from wms.domain import Sku, Zone
from wms.layout import Layout
from wms.picking.allocation import LotView, allocate_fefo
from wms.picking.batching import PickOrder, fcfs_batches
from wms.picking.routing import nearest_neighbour, route_length
from wms.robots.assignment import min_cost_assignment, nearest_idle
from wms.slotting.putaway import fits, nearest_free_slots
from wms.sorting.chute_plan import SpreadChutePlan, seat_order
from wms.sorting.grid import Chute

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")


def _sku(sku: str, **kw: object) -> Sku:
    base = dict(
        sku=sku,
        name=sku,
        hs_code="3304990099",
        category="cosmetics",
        unit_value_fen=100,
        weight_kg=1.0,
        volume_l=1.0,
    )
    base.update(kw)
    return Sku(**base)  # type: ignore[arg-type]


def test_putaway_respects_zone_hazard_weight_and_prefers_near_slots() -> None:
    lay = Layout(CFG.storage, 4, 3)
    skus = [
        _sku("FAST"),
        _sku("SLOW"),
        _sku("HAZ", hazard=True),
        _sku("HEAVY", weight_kg=40.0),
        _sku("DUTY", zone=Zone.DUTY_PAID),
        _sku("HUGE", volume_l=10_000.0),
    ]
    velocity = {"FAST": 100.0, "SLOW": 1.0}
    assignment, unplaced = nearest_free_slots(skus, lay.slots, set(), CFG.storage, velocity)
    slots = {s.slot: s for s in lay.slots}
    assert unplaced == ["HUGE"]
    assert slots[assignment["FAST"]].travel_m <= slots[assignment["SLOW"]].travel_m
    assert slots[assignment["HAZ"]].hazard_ok
    assert slots[assignment["HEAVY"]].level <= CFG.storage.heavy_max_level
    assert slots[assignment["DUTY"]].zone == Zone.DUTY_PAID
    assert len(set(assignment.values())) == len(assignment)
    for sku in skus[:-1]:
        assert fits(sku, slots[assignment[sku.sku]], CFG.storage)


def test_fefo_takes_earliest_expiry_and_splits() -> None:
    lots = [
        LotView("L2", "A", "2027-06-01", 5),
        LotView("L1", "A", "2027-01-01", 3),
        LotView("L3", "B", "2027-01-01", 1),
    ]
    assert allocate_fefo([("A", 4)], lots) == [("L1", "A", 3), ("L2", "A", 1)]
    assert allocate_fefo([("A", 4), ("B", 2)], lots) is None
    assert allocate_fefo([("C", 1)], lots) is None


def test_batches_go_by_due_time_then_arrival() -> None:
    orders = [PickOrder(f"O{i}", due=100.0 * (i % 2), received_at=float(i), nodes=()) for i in range(5)]
    batches = fcfs_batches(orders, 2)
    assert [[o.order_no for o in b] for b in batches] == [["O0", "O2"], ["O4", "O1"], ["O3"]]


def test_nearest_neighbour_route_visits_all_and_ends_at_pack() -> None:
    lay = Layout(CFG.storage, 4, 3)
    stops = ["A05-10", "A01-02", "A01-05", "A05-10"]
    route = nearest_neighbour(lay.depot, stops, "PACK2", lay.distance)
    assert route[0] == lay.depot and route[-1] == "PACK2" and sorted(route[1:-1]) == sorted(set(stops))
    assert route[1] in ("A01-02", "A01-05")  # the near aisle first
    assert route_length(route, lay.distance) > 0


def test_seat_order_gives_one_seat_each_then_follows_dhondt() -> None:
    assert seat_order([1.0, 3.0], 5) == [1, 0, 1, 1, 1]  # 3/2, 3/3 and 3/4 all beat 1/2
    assert seat_order([1.0, 1.0, 3.0], 8) == [2, 0, 1, 2, 2, 2, 2, 0]  # at 3/6 = 1/2 the lowest index first
    assert sorted(seat_order([5.0, 1.0, 1.0], 2)) == [0, 1]  # fewer seats than destinations: largest first
    assert seat_order([2.0, 1.0], 0) == []


def test_chute_plan_deals_rows_to_every_destination_and_sends_a_parcel_to_the_nearest_chute() -> None:
    # two rows of three chutes above inducts at x = 0 and x = 10; distance: metres along x, rows 1 apart
    chutes = [Chute(f"C{y}{x}", x, y, [f"E{y}{x}"], float(y)) for y in (1, 2) for x in (0, 5, 10)]
    pos = {f"E{y}{x}": (x, y) for y in (1, 2) for x in (0, 5, 10)} | {"I0": (0, 0), "I10": (10, 0)}

    def distance(a: str, b: str) -> float:
        return abs(pos[a][0] - pos[b][0]) + abs(pos[a][1] - pos[b][1])

    plan = SpreadChutePlan(chutes, [(("SF", "north"), 3.0), (("EMS", "south"), 2.0)], distance, spare=1)
    assert plan.spare == ["C210"]  # the farthest chute stays spare
    sf, ems = plan.chute_ids("SF", "north"), plan.chute_ids("EMS", "south")
    assert len(sf) == 3 and len(ems) == 2 and not set(sf) & set(ems)
    assert {c[1] for c in sf} == {"1", "2"} and ems[0].startswith("C1")  # both destinations on the first row
    for induct in ("I0", "I10"):
        for dest, ids in ((("SF", "north"), sf), (("EMS", "south"), ems)):
            best = min(distance(induct, f"E{c[1:]}") for c in ids)
            got = plan.chute_for(*dest, induct)
            assert got in ids and distance(induct, f"E{got[1:]}") == best == plan.eject_m(*dest, induct)
    # a destination outside the plan takes the spare chute, and keeps it; then there is none left
    assert plan.chute_for("YTO", "east", "I0") == "C210" == plan.chute_for("YTO", "east", "I10")
    assert plan.chute_for("JD", "west", "I0") is None and plan.eject_m("JD", "west", "I0") is None
    again = SpreadChutePlan(chutes, [(("SF", "north"), 3.0), (("EMS", "south"), 2.0)], distance, spare=1)
    again.restore({("YTO", "east"): "C210", ("SF", "north"): "C10"})  # planned destinations keep the plan
    assert again.assigned == {("YTO", "east"): "C210"}


def test_next_cutoff_in_local_time() -> None:
    carrier = Carrier(code="SF", name="SF", routes=["x"], cutoffs=["18:00", "09:30"])
    # 2026-11-11 10:00 in UTC+8 is 02:00 UTC
    now = datetime(2026, 11, 11, 2, 0, tzinfo=UTC).timestamp()
    nxt = next_cutoff(carrier, now, 8.0)
    assert local_hhmm(nxt, 8.0) == "18:00" and nxt - now == 8 * 3600
    after = next_cutoff(carrier, nxt, 8.0)  # strictly after: the next day's first
    assert local_hhmm(after, 8.0) == "09:30" and after - nxt == 15.5 * 3600


def test_nearest_idle_assignment() -> None:
    pos = {"t1": 0.0, "t2": 10.0, "r1": 9.0, "r2": 1.0, "r3": 50.0}
    pairs = nearest_idle(["t1", "t2"], ["r1", "r2", "r3"], lambda t, r: abs(pos[t] - pos[r]))
    assert pairs == [("t1", "r2"), ("t2", "r1")]


def test_min_cost_assignment_beats_greedy_and_keeps_queue_order() -> None:
    pos = {"a": 0.0, "b": 1.0, "x": 0.9, "y": -5.0}

    def cost(t: str, r: str) -> float:
        return abs(pos[t] - pos[r])

    greedy = nearest_idle(["a", "b"], ["x", "y"], cost)
    best = min_cost_assignment(["a", "b"], ["x", "y"], cost)
    assert sum(cost(t, r) for t, r in best) < sum(cost(t, r) for t, r in greedy)
    assert best == [("a", "y"), ("b", "x")]
    # more tasks than robots: the first ones in the queue are served
    assert [t for t, _ in min_cost_assignment(["a", "b"], ["y"], cost)] == ["a"]
    assert min_cost_assignment([], ["x"], cost) == [] and min_cost_assignment(["a"], [], cost) == []


def test_min_cost_assignment_with_more_robots_than_tasks_is_least_cost_too() -> None:
    """The solver wants a square matrix: fewer tasks than robots once fell back to the greedy pairs."""
    pos = {"a": 0.0, "b": 1.0, "x": 0.9, "y": -5.0, "z": 100.0}

    def cost(t: str, r: str) -> float:
        return abs(pos[t] - pos[r])

    assert nearest_idle(["a", "b"], ["x", "y", "z"], cost) == [("a", "x"), ("b", "y")]  # 6.9 m
    assert min_cost_assignment(["a", "b"], ["x", "y", "z"], cost) == [("a", "y"), ("b", "x")]  # 5.1 m
    rng = random.Random(7)
    for _ in range(300):
        k, m = rng.randint(1, 5), rng.randint(1, 7)
        tasks, robots = [f"t{i}" for i in range(k)], [f"r{j}" for j in range(m)]
        table = {(t, r): float(rng.randint(0, 9)) for t in tasks for r in robots}
        pairs = min_cost_assignment(tasks, robots, lambda t, r, c=table: c[t, r])
        served = tasks[: min(k, m)]
        assert [t for t, _ in pairs] == served and len({r for _, r in pairs}) == len(pairs)
        best = min(
            sum(table[t, r] for t, r in zip(served, p, strict=True))
            for p in permutations(robots, len(served))
        )
        assert sum(table[t, r] for t, r in pairs) == best


def test_a_wave_aims_each_order_at_the_first_departure_it_can_still_catch() -> None:
    """A truck leaving ``[waves] departure_lead_s`` after the wave or sooner is out of reach."""
    from types import SimpleNamespace

    from wms.control.controller import Controller

    every = Carrier(code="SF", name="SF", routes=["x"], cutoffs=["22:30"], every_min=15)
    daily = Carrier(code="SF", name="SF", routes=["x"], cutoffs=["22:30"])
    now = datetime(2026, 11, 11, 12, 2, tzinfo=UTC).timestamp()  # 20:02 local (UTC+8)

    def due(lead_s: float, carrier: Carrier = every, code: str = "SF") -> float:
        cfg = CFG.model_copy(update={"waves": CFG.waves.model_copy(update={"departure_lead_s": lead_s})})
        ctl = SimpleNamespace(cfg=cfg, carriers={"SF": carrier}, clock=SimpleNamespace(now=lambda: now))
        parcel = SimpleNamespace(o2o=False, carrier=code, received_at=now - 60.0)
        return Controller._due(ctl, parcel)  # type: ignore[arg-type]

    assert CFG.site.utc_offset_h == 8.0 and CFG.waves.departure_lead_s == 900
    assert local_hhmm(due(0.0), 8.0) == "20:15"  # the next truck, 13 minutes away: rushed before
    assert local_hhmm(due(900.0), 8.0) == "20:30"  # the first more than 15 minutes away
    assert local_hhmm(due(779.0), 8.0) == "20:15" and local_hhmm(due(780.0), 8.0) == "20:30"
    assert due(900.0, daily) - now == 2.5 * 3600 - 120  # one departure a day: today's 22:30 ...
    assert due(9000.0, daily) - now == 2.5 * 3600 - 120 + 86400  # ... or, out of reach, tomorrow's
    assert due(900.0, every, "ZZ") == now - 60.0 + 86400  # no such carrier: within a day of receipt
