"""Batching: capacity in items and volume, cut-offs, every order once, improvement never worsens."""

from __future__ import annotations

import math
import random

import pytest

from wms.picking.batch import BatchOrder, Cart, Timing, make_batches, router
from wms.picking.block import Block, Pick, PickError

BLOCK = Block(10, 24.0, 3.0)


def _orders(seed: int, n: int = 24) -> list[BatchOrder]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        picks = tuple(Pick(rng.randrange(10), round(rng.uniform(0, 24), 1)) for _ in range(rng.randint(1, 3)))
        out.append(BatchOrder(f"O{k}", picks, rng.randint(1, 6), rng.uniform(1, 20)))
    return out


@pytest.mark.parametrize("method", ["fcfs", "seed", "savings", "fcfs+ls", "seed+ls", "savings+ls"])
def test_plans_respect_capacity_and_cover_every_order_once(method: str) -> None:
    orders, cart = _orders(1), Cart(15, 60.0)
    plan = make_batches(orders, cart, router(BLOCK), method)
    assert sorted(i for b in plan.batches for i in b) == list(range(len(orders)))
    for b, length in zip(plan.batches, plan.lengths_m, strict=True):
        assert sum(orders[i].items for i in b) <= cart.items
        assert sum(orders[i].volume_l for i in b) <= cart.volume_l + 1e-9
        assert length == pytest.approx(router(BLOCK)([p for i in b for p in orders[i].picks]))


def test_local_search_and_better_rules_do_not_lose_to_fcfs() -> None:
    length = router(BLOCK)
    for seed in (2, 3):
        orders, cart = _orders(seed, 16), Cart(20)
        fcfs = make_batches(orders, cart, length, "fcfs").total_m
        assert make_batches(orders, cart, length, "fcfs+ls").total_m <= fcfs + 1e-9
        savings = make_batches(orders, cart, length, "savings").total_m
        assert make_batches(orders, cart, length, "savings+ls").total_m <= savings + 1e-9


def test_cut_offs_are_met_and_release_is_earliest_first() -> None:
    orders = [
        BatchOrder("early", (Pick(0, 2.0),), 1, due=100.0),
        BatchOrder("far", (Pick(9, 20.0),), 1, due=1000.0),
        BatchOrder("near", (Pick(1, 3.0),), 1, due=1000.0),
        BatchOrder("hopeless", (Pick(9, 23.0),), 1, due=10.0),
    ]
    timing = Timing(now=0.0, speed_m_s=1.0, pick_s=5.0, setup_s=30.0)
    plan = make_batches(orders, Cart(10), router(BLOCK), "savings+ls", timing)
    length = router(BLOCK)
    for b in plan.batches:
        if len(b) > 1:
            finish = 30.0 + length([p for i in b for p in orders[i].picks]) + 5.0 * len(b)
            assert all(finish <= orders[i].due for i in b)
    assert (3,) in plan.batches and plan.late == ("hopeless",)
    assert plan.batches[0] == (3,) and 0 in plan.batches[1]
    # with no cut-offs the same orders share one cart
    free = [BatchOrder(o.order, o.picks, o.items) for o in orders]
    assert len(make_batches(free, Cart(10), length, "savings+ls").batches) == 1


def test_orders_that_do_not_fit_are_named() -> None:
    big = [*_orders(4, 3), BatchOrder("HUGE", (Pick(0, 1.0),), 31)]
    with pytest.raises(PickError, match="order 'HUGE' .*31 items is more than the cart's 30"):
        make_batches(big, Cart(30), router(BLOCK))
    bulky = [BatchOrder("BULKY", (Pick(0, 1.0),), 1, 80.0)]
    with pytest.raises(PickError, match="BULKY.*80 l"):
        make_batches(bulky, Cart(30, 50.0), router(BLOCK))
    with pytest.raises(PickError, match="unknown batching method"):
        make_batches(_orders(4, 2), Cart(30), router(BLOCK), "magic")


def test_controller_wave_on_the_reference_layout() -> None:
    from wms.config import CONFIG_DIR, load_warehouse
    from wms.layout import Layout, bay_node
    from wms.picking.batch import batch_pick_orders
    from wms.picking.batching import PickOrder, fcfs_batches

    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    lay = Layout(cfg.storage, 4, 3)
    rng = random.Random(9)
    orders = [
        PickOrder(
            f"N{k}",
            rng.choice([5000.0, 9000.0]),
            float(k),
            tuple(bay_node(rng.randrange(12), rng.randrange(20)) for _ in range(rng.randint(1, 3))),
        )
        for k in range(14)
    ]
    timing = Timing(now=4000.0, speed_m_s=cfg.fleet.picking.speed_mps, pick_s=cfg.fleet.picking.action_s)
    cart = Cart(cfg.fleet.picking.cart_orders)
    waves = batch_pick_orders(lay, orders, cart, timing)
    assert sorted(o.order_no for w in waves for o in w) == sorted(o.order_no for o in orders)
    assert all(len(w) <= cart.items for w in waves)
    assert [min(o.due for o in w) for w in waves] == sorted(min(o.due for o in w) for w in waves)
    block = Block.from_storage(cfg.storage)
    length = router(block)

    def total(batches: list[list[PickOrder]]) -> float:
        pts = [
            [Pick(int(lay.pos[n].x / block.aisle_pitch_m), lay.pos[n].y) for o in b for n in o.nodes]
            for b in batches
        ]
        return sum(length(p) for p in pts)

    assert total(waves) <= total(fcfs_batches(orders, cfg.fleet.picking.cart_orders)) + 1e-9
    with pytest.raises(PickError, match="order 'X'.*PACK1"):
        batch_pick_orders(lay, [PickOrder("X", 1.0, 0.0, ("PACK1",))], cart, timing)


def test_large_waves_use_granular_savings_with_few_route_evaluations(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Above GRANULAR_ABOVE orders only near pairs are scored: fewer exact routes, same league of length."""
    import random

    from wms.picking import batch as batch_mod
    from wms.picking.batch import BatchOrder, Cart, make_batches, router
    from wms.picking.block import Block, Pick

    block = Block(12, 24.0, 3.0, 2, 0)
    rng = random.Random(3)
    n = 150
    orders = [
        BatchOrder(f"O{i}", tuple(Pick(rng.randrange(12), rng.uniform(0.5, 23.5)) for _ in range(2)), 1)
        for i in range(n)
    ]
    exact = router(block)

    def run() -> tuple[float, int, list[int]]:
        calls = 0

        def counted(picks):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return exact(picks)

        plan = make_batches(orders, Cart(6), counted, "savings", None, block.aisle_pitch_m)
        return plan.total_m, calls, sorted(i for b in plan.batches for i in b)

    assert n > batch_mod.GRANULAR_ABOVE
    granular, granular_calls, covered = run()
    monkeypatch.setattr(batch_mod, "GRANULAR_ABOVE", 10**9)
    full, full_calls, _ = run()
    assert covered == list(range(n))
    assert granular_calls < 0.6 * full_calls
    assert granular < 1.08 * full
    assert granular < 0.8 * make_batches(orders, Cart(6), exact, "fcfs").total_m


def test_route_length_depends_on_the_set_of_points_only() -> None:
    """The remembered length of a set of points is the exact length of any list of them, repeats included."""
    from wms.picking.batch import route_length
    from wms.picking.exact import exact_length

    rng = random.Random(5)
    for cross in (2, 3):
        block = Block(10, 24.0, 3.0, cross)
        for _ in range(60):
            picks = [Pick(rng.randrange(10), rng.choice([0.0, 12.0, 24.0, round(rng.uniform(0, 24), 1)]))]
            picks += [Pick(rng.randrange(10), round(rng.uniform(0, 24), 1)) for _ in range(rng.randint(0, 5))]
            listed = picks + rng.sample(picks, k=min(2, len(picks)))
            rng.shuffle(listed)
            assert route_length(block, frozenset(listed)) == exact_length(block, picks)


def test_a_later_wave_on_the_same_pick_faces_computes_no_route_again(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Waves share their exact route lengths: new orders on faces batched before cost no new route."""
    from wms.config import CONFIG_DIR, load_warehouse
    from wms.layout import Layout, bay_node
    from wms.picking import batch as batch_mod
    from wms.picking.batch import batch_pick_orders
    from wms.picking.batching import PickOrder

    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    lay = Layout(cfg.storage, 4, 3)
    rng = random.Random(11)
    faces = [
        tuple(bay_node(rng.randrange(12), rng.randrange(20)) for _ in range(rng.randint(1, 3)))
        for _ in range(9)
    ]
    timing = Timing(now=4000.0, speed_m_s=cfg.fleet.picking.speed_mps, pick_s=cfg.fleet.picking.action_s)
    cart = Cart(cfg.fleet.picking.cart_orders)
    calls: list[int] = []
    exact = batch_mod.exact_length

    def counted(block, picks):  # type: ignore[no-untyped-def]
        calls.append(1)
        return exact(block, picks)

    monkeypatch.setattr(batch_mod, "exact_length", counted)
    batch_mod.route_length.cache_clear()

    def wave(prefix: str, t0: float) -> list[list[str]]:
        orders = [PickOrder(f"{prefix}{k}", 9000.0, t0 + k, nodes) for k, nodes in enumerate(faces)]
        return [[o.order_no[len(prefix) :] for o in b] for b in batch_pick_orders(lay, orders, cart, timing)]

    first = wave("A", 0.0)
    assert calls  # the first wave computed its routes
    calls.clear()
    assert wave("B", 60.0) == first  # the same batches, from the remembered lengths alone
    assert calls == []


def _reference_savings(p):  # type: ignore[no-untyped-def]
    """The textbook loop the heap replaces: rescan every saving for the best, drop the merged pair's."""
    from wms.picking import batch as batch_mod

    n = len(p.orders)
    batches = {i: [i] for i in range(n)}
    if n > batch_mod.GRANULAR_ABOVE:
        cent = [
            (
                sum(q.aisle for q in o.picks) * p.pitch_m / len(o.picks),
                sum(q.position_m for q in o.picks) / len(o.picks),
            )
            for o in p.orders
        ]
        near: dict[int, set[int]] = {i: set() for i in range(n)}
        for i, (x, y) in enumerate(cent):
            ranked = sorted((abs(x - cx) + abs(y - cy), j) for j, (cx, cy) in enumerate(cent) if j != i)
            for _, j in ranked[: batch_mod.NEIGHBOURS]:
                near[i].add(j)
                near[j].add(i)
    else:
        near = {i: set(range(n)) - {i} for i in range(n)}
    saving: dict[tuple[int, int], float] = {}

    def score(a: int, b: int) -> None:
        merged = batches[a] + batches[b]
        if p.fits(merged):
            saving[(a, b)] = p.length(batches[a]) + p.length(batches[b]) - p.length(merged)

    for a in range(n):
        for b in near[a]:
            if a < b:
                score(a, b)
    while saving:
        (a, b), s = max(saving.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        if s < -1e-9:
            break
        batches[a] = batches[a] + batches.pop(b)
        saving = {k: v for k, v in saving.items() if a not in k and b not in k}
        near[a] = (near[a] | near.pop(b)) - {a, b}
        for c in near[a]:
            near[c].discard(b)
            near[c].add(a)
            score(min(a, c), max(a, c))
    return list(batches.values())


@pytest.mark.parametrize(
    ("seed", "n", "spots", "monotone"),
    [(5, 40, 23, True), (6, 150, 23, True), (7, 300, 23, True), (8, 120, 2, True), (6, 150, 23, False)],
)
def test_lazy_savings_plan_exactly_what_the_rescanning_loop_plans(
    monkeypatch, seed: int, n: int, spots: int, monotone: bool
) -> None:  # type: ignore[no-untyped-def]
    """Same batches, same order, with cut-offs binding and (few ``spots`` per aisle) many equal savings;
    from fewer routes when the length is monotone, from every pair's otherwise."""
    from wms.picking import batch as batch_mod

    rng = random.Random(seed)
    block = Block(12, 24.0, 3.0, 2, 0)
    orders = [
        BatchOrder(
            f"O{i}",
            tuple(
                Pick(rng.randrange(12), float(rng.randrange(1, 1 + spots))) for _ in range(rng.randint(1, 3))
            ),
            rng.randint(1, 3),
            due=rng.choice([math.inf, rng.uniform(60, 300)]),
        )
        for i in range(n)
    ]
    timing = Timing(now=0.0, speed_m_s=1.5, pick_s=6.0)
    exact = router(block)
    routed: list[int] = []

    def plan():  # type: ignore[no-untyped-def]
        seen: set[frozenset[Pick]] = set()  # distinct point sets routed (the planner memoises by batch)

        def counted(picks):  # type: ignore[no-untyped-def]
            seen.add(frozenset(picks))
            return exact(picks)

        out = make_batches(
            orders, Cart(6), counted, "savings", timing, block.aisle_pitch_m, monotone=monotone
        )
        routed.append(len(seen))
        return out

    ours = plan()
    monkeypatch.setitem(batch_mod._BUILD, "savings", _reference_savings)
    theirs = plan()
    assert ours == theirs
    if monotone:  # pairs are routed only when their bound reaches the top of the heap
        assert routed[0] < routed[1]
    else:
        assert routed[0] == routed[1]
    assert any(len(b) > 1 for b in ours.batches) and any(len(b) == 1 for b in ours.batches)
