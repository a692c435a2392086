"""Order batching under cart capacity (items and volume) with carrier cut-offs, minimising route length.

Constructive rules from de Koster, van der Poort & Wolters (1999): FCFS, seed (earliest cut-off as the
seed, then the order adding the least route length) and Clarke–Wright savings (variant ii, savings
recomputed after every merge), then a local search that relocates and swaps orders between batches
while the total route length falls (Henn et al. 2010). Route lengths come from any router (exact by
default) and are memoised per set of orders. Due times are respected: a batch released now is
estimated to take setup + route / speed + items × pick time, and a batch may only hold an order whose
cut-off it meets, unless that order cannot meet it even alone (then it travels alone, listed as late).
Batches come back in release order, earliest cut-off first.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from wms.picking.batching import PickOrder
from wms.picking.block import Block, Pick, PickError, layout_point
from wms.picking.exact import exact_length
from wms.picking.ortools_route import route

if TYPE_CHECKING:
    from wms.layout import Layout

RouteLength = Callable[[Sequence[Pick]], float]
BATCH_METHODS = ("fcfs", "seed", "savings", "fcfs+ls", "seed+ls", "savings+ls")
ROUTE_LENGTHS_KEPT = 1 << 16  # exact route lengths the controller's waves remember (a few MB)


@dataclass(frozen=True, slots=True)
class BatchOrder:
    """An allocated order as batching sees it: where its lines are picked, its size, its cut-off."""

    order: str
    picks: tuple[Pick, ...]
    items: int
    volume_l: float = 0.0
    due: float = math.inf


@dataclass(frozen=True, slots=True)
class Cart:
    """What one picking trip can carry."""

    items: int
    volume_l: float = math.inf


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a batch released now takes, to check cut-offs (seconds, metres per second)."""

    now: float = 0.0
    speed_m_s: float = 1.0
    pick_s: float = 5.0
    setup_s: float = 30.0


@dataclass(frozen=True)
class BatchPlan:
    """Batches as order indices in release order, each batch's route length, and the total."""

    method: str
    batches: tuple[tuple[int, ...], ...]
    lengths_m: tuple[float, ...]
    late: tuple[str, ...] = field(default=())

    @property
    def total_m(self) -> float:
        """Total route length of the plan."""
        return float(sum(self.lengths_m))


def monotone(method: str) -> bool:
    """Whether routes by ``method`` never get shorter as points are added: exact ones (not heuristics')."""
    return method == "exact"


def router(block: Block, method: str = "exact", time_limit_s: float = 0.1) -> RouteLength:
    """Route length of a set of picks on ``block`` by the named routing method."""

    if method == "exact":
        return lambda picks: exact_length(block, picks)

    def length(picks: Sequence[Pick]) -> float:
        return route(block, picks, method, time_limit_s).length_m

    return length


# A pure function of plain data (the exact route depends on the set of points only, not on their order
# or repeats), so it is remembered across the controller's waves: the same pick faces, alone and in
# pairs, come back wave after wave.
@lru_cache(maxsize=ROUTE_LENGTHS_KEPT)
def route_length(block: Block, points: frozenset[Pick]) -> float:
    """Exact length of the shortest route from the depot through a set of valid points and back."""
    return exact_length(block, sorted(points))


def check_orders(orders: Sequence[BatchOrder], cart: Cart) -> None:
    """Refuse orders that no cart can carry or that are malformed, naming the order."""
    if cart.items < 1 or not cart.volume_l > 0:
        raise PickError(f"cart capacity must be positive, got {cart.items} items and {cart.volume_l} l")
    seen: set[str] = set()
    for i, o in enumerate(orders):
        name = f"order {o.order!r} (#{i})"
        if o.order in seen:
            raise PickError(f"{name}: order appears twice")
        seen.add(o.order)
        if o.items < 1 or not o.picks:
            raise PickError(f"{name}: an order needs at least one item and one pick")
        if o.items > cart.items:
            raise PickError(f"{name}: {o.items} items is more than the cart's {cart.items}")
        if o.volume_l > cart.volume_l:
            raise PickError(f"{name}: {o.volume_l:g} l is more than the cart's {cart.volume_l:g} l")


class _Planner:
    """Shared state of one batching run: capacities, memoised lengths, cut-off checks."""

    def __init__(
        self,
        orders: Sequence[BatchOrder],
        cart: Cart,
        length: RouteLength,
        timing: Timing,
        pitch_m: float = 1.0,
        monotone: bool = False,
    ) -> None:
        check_orders(orders, cart)
        self.orders, self.cart, self._length, self.timing = orders, cart, length, timing
        self.pitch_m = pitch_m  # metres between aisles, to compare orders by where their picks lie
        self.monotone = monotone  # a route through more points is never shorter (exact routes)
        self.memo: dict[frozenset[int], float] = {}
        self.alone_late = {i for i, o in enumerate(orders) if self.finish((i,)) > o.due}

    def length(self, batch: Sequence[int]) -> float:
        key = frozenset(batch)
        if key not in self.memo:
            self.memo[key] = self._length([p for i in sorted(key) for p in self.orders[i].picks])
        return self.memo[key]

    def finish(self, batch: Sequence[int]) -> float:
        t = self.timing
        items = sum(self.orders[i].items for i in batch)
        return t.now + t.setup_s + self.length(batch) / t.speed_m_s + items * t.pick_s

    def fits(self, batch: Sequence[int]) -> bool:
        """Capacity holds and every order meets its cut-off (an order late even alone travels alone)."""
        if sum(self.orders[i].items for i in batch) > self.cart.items:
            return False
        if sum(self.orders[i].volume_l for i in batch) > self.cart.volume_l + 1e-9:
            return False
        if len(batch) == 1:
            return True
        if any(i in self.alone_late for i in batch):
            return False
        if all(math.isinf(self.orders[i].due) for i in batch):
            return True
        end = self.finish(batch)
        return all(end <= self.orders[i].due for i in batch)

    def plan(self, method: str, batches: list[list[int]]) -> BatchPlan:
        batches = [sorted(b) for b in batches if b]
        batches.sort(key=lambda b: (min(self.orders[i].due for i in b), b[0]))
        late = tuple(o.order for i, o in enumerate(self.orders) if i in self.alone_late)
        return BatchPlan(
            method, tuple(tuple(b) for b in batches), tuple(self.length(b) for b in batches), late
        )

    def release_order(self) -> list[int]:
        return sorted(range(len(self.orders)), key=lambda i: (self.orders[i].due, i))


def _fcfs(p: _Planner) -> list[list[int]]:
    """Fill carts in (cut-off, arrival) order; a full cart or a missed cut-off starts the next."""
    out: list[list[int]] = []
    for i in p.release_order():
        if out and p.fits([*out[-1], i]):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _seed(p: _Planner) -> list[list[int]]:
    """Seed: the earliest cut-off (then the longest single route) opens a batch; add the cheapest order."""
    left = set(range(len(p.orders)))
    out: list[list[int]] = []
    while left:
        seed = min(left, key=lambda i: (p.orders[i].due, -p.length([i]), i))
        batch = [seed]
        left.remove(seed)
        while True:
            base = p.length(batch)
            best, best_add = None, math.inf
            for i in sorted(left):
                cand = [*batch, i]
                if p.fits(cand):
                    add = p.length(cand) - base
                    if add < best_add - 1e-9:
                        best, best_add = i, add
            if best is None:
                break
            batch.append(best)
            left.remove(best)
        out.append(batch)
    return out


GRANULAR_ABOVE = 60  # orders; above this, savings are scored only between near neighbours
NEIGHBOURS = 40
_NEIGHBOUR_ROWS = 256  # rows of the centroid distance matrix held at once
_BOUND_SLACK_M = 1e-6  # over the shorter route: a saving may exceed it by rounding, never by this


def _neighbours(p: _Planner, k: int) -> dict[int, set[int]]:
    """Each order's ``k`` nearest orders by the distance between their picks' centroids (symmetric).

    Ties go to the lower index. Distances are taken a block of rows at a time, so a wave of any size
    needs a bounded matrix.
    """
    pitch = p.pitch_m
    cent = np.array(
        [
            (
                sum(q.aisle for q in o.picks) * pitch / len(o.picks),
                sum(q.position_m for q in o.picks) / len(o.picks),
            )
            for o in p.orders
        ],
        dtype=float,
    ).reshape(-1, 2)
    n = len(cent)
    near: dict[int, set[int]] = {i: set() for i in range(n)}
    keep = min(k, n - 1)
    for lo in range(0, n, _NEIGHBOUR_ROWS):
        rows = cent[lo : lo + _NEIGHBOUR_ROWS]
        dist = np.abs(rows[:, :1] - cent[:, 0]) + np.abs(rows[:, 1:] - cent[:, 1])
        dist[np.arange(len(rows)), np.arange(lo, lo + len(rows))] = np.inf  # not its own neighbour
        ranked = np.argsort(dist, axis=1, kind="stable")[:, :keep]
        for i, js in enumerate(ranked.tolist(), start=lo):
            for j in js:
                near[i].add(j)
                near[j].add(i)
    return near


def _savings(p: _Planner) -> list[list[int]]:
    """Clarke–Wright (ii): merge the pair of batches with the largest saving that fits, recompute, repeat.

    Large waves use granular savings: only pairs of batches holding near-neighbour orders are scored,
    which keeps the number of exact route evaluations linear in the wave instead of quadratic. Savings
    wait in a heap; a merge makes its batch's older entries stale (by a version per batch) instead of
    rebuilding the heap, so each merge costs the pairs it rescores, not every pair of the wave. With a
    monotone length (exact routes) a pair enters the heap with a bound on its saving (a route through
    both batches is at least as long as either's, so the saving is at most the shorter one) and is
    routed only when it reaches the top: pairs that never do are never routed, and the pair merged is
    the one the exact savings would pick. Otherwise every pair is routed as it enters.
    """
    n = len(p.orders)
    batches: dict[int, list[int]] = {i: [i] for i in range(n)}
    near = _neighbours(p, NEIGHBOURS) if n > GRANULAR_ABOVE else {i: set(range(n)) - {i} for i in range(n)}
    version = [0] * n
    items = [o.items for o in p.orders]
    volume = [o.volume_l for o in p.orders]
    cart = p.cart
    # heap entries (-saving or -bound, a, b, version of a, version of b, exact): the largest first, then
    # the lowest pair; a bound is never below the saving it stands for

    def bound(a: int, b: int) -> tuple[float, int, int, int, int, bool] | None:
        if items[a] + items[b] > cart.items or volume[a] + volume[b] > cart.volume_l + 1e-6:
            return None  # over capacity (looser than `fits`, which decides at the top): never fits
        top = min(p.length(batches[a]), p.length(batches[b])) + _BOUND_SLACK_M if p.monotone else math.inf
        return (-top, a, b, version[a], version[b], False)

    heap = [e for a in range(n) for b in near[a] if a < b and (e := bound(a, b)) is not None]
    heapq.heapify(heap)
    while heap:
        neg, a, b, va, vb, exact = heapq.heappop(heap)
        if a not in batches or b not in batches or version[a] != va or version[b] != vb:
            continue  # stale: one of the two batches has grown or gone since this entry was pushed
        if -neg < -1e-9:
            break
        if not exact:
            merged = batches[a] + batches[b]
            if p.fits(merged):
                saving = p.length(batches[a]) + p.length(batches[b]) - p.length(merged)
                heapq.heappush(heap, (-saving, a, b, va, vb, True))
            continue
        batches[a] = batches[a] + batches.pop(b)
        items[a] += items[b]
        volume[a] += volume[b]
        version[a] += 1
        near[a] = (near[a] | near.pop(b)) - {a, b}
        for c in near[a]:
            near[c].discard(b)
            near[c].add(a)
            if (e := bound(min(a, c), max(a, c))) is not None:
                heapq.heappush(heap, e)
    return list(batches.values())


def _improve(p: _Planner, batches: list[list[int]], max_passes: int = 20) -> list[list[int]]:
    """Relocate and swap orders between batches while that shortens the total route."""
    batches = [list(b) for b in batches]
    for _ in range(max_passes):
        improved = False
        for a in range(len(batches)):
            for b in range(len(batches)):
                if a != b and batches[a]:
                    improved |= _best_move(p, batches, a, b)
        batches = [b for b in batches if b]
        if not improved:
            break
    return batches


def _best_move(p: _Planner, batches: list[list[int]], a: int, b: int) -> bool:
    """Apply the best relocation of an order from batch a to b, or swap between them, if it shortens."""

    def cost(batch: list[int]) -> float:
        return p.length(batch) if batch else 0.0

    src, dst = batches[a], batches[b]
    best_total = cost(src) + cost(dst) - 1e-6
    best: tuple[list[int], list[int]] | None = None
    for i in src:
        rest = [x for x in src if x != i]
        moves = [(rest, [*dst, i])]
        if a < b:
            moves += [([*rest, j], [x for x in dst if x != j] + [i]) for j in dst]
        for new_src, new_dst in moves:
            if (not new_src or p.fits(new_src)) and p.fits(new_dst):
                total = cost(new_src) + cost(new_dst)
                if total < best_total:
                    best_total, best = total, (new_src, new_dst)
    if best is None:
        return False
    batches[a], batches[b] = best
    return True


_BUILD = {"fcfs": _fcfs, "seed": _seed, "savings": _savings}


def make_batches(
    orders: Sequence[BatchOrder],
    cart: Cart,
    length: RouteLength,
    method: str = "savings+ls",
    timing: Timing | None = None,
    pitch_m: float = 1.0,
    monotone: bool = False,
) -> BatchPlan:
    """Batch orders by ``method`` (``fcfs``, ``seed`` or ``savings``, ``+ls`` to improve by local search).

    ``monotone``: ``length`` never shrinks when points are added (true of exact routes, not of heuristic
    or time-limited ones), which lets savings route only the pairs that can be best.
    """
    build, _, ls = method.partition("+")
    if build not in _BUILD or ls not in ("", "ls"):
        raise PickError(f"unknown batching method {method!r}; choose one of {', '.join(BATCH_METHODS)}")
    p = _Planner(orders, cart, length, timing or Timing(), pitch_m, monotone)
    batches = _BUILD[build](p)
    if ls:
        batches = _improve(p, batches)
    return p.plan(method, batches)


def batch_pick_orders(
    layout: Layout,
    orders: Sequence[PickOrder],
    cart: Cart,
    timing: Timing,
    items: Mapping[str, int] | None = None,
    method: str = "savings+ls",
) -> list[list[PickOrder]]:
    """The controller's wave: its allocated orders batched on the Layout with exact route lengths.

    ``items`` gives each order's item count (one per order when omitted, so ``Cart(items=cart_orders)``
    keeps today's orders-per-cart limit); ``timing.now`` is the clock's now and each order's ``due``
    its carrier cut-off on the same clock. Batches come back in release order, earliest cut-off first.
    """
    block = Block.from_storage(layout.storage)
    queue = sorted(orders, key=lambda o: (o.received_at, o.order_no))
    rows = []
    for o in queue:
        pts = []
        for node in o.nodes:
            p = layout_point(layout, block, node)
            if p is None:
                raise PickError(f"order {o.order_no!r}: node {node!r} is not a position in the storage block")
            pts.append(p)
        count = 1 if items is None else items[o.order_no]
        rows.append(BatchOrder(o.order_no, tuple(pts), count, 0.0, o.due))

    # every point came from layout_point (a valid Pick): their set is the key of the remembered lengths
    def exact(picks: Sequence[Pick]) -> float:
        return route_length(block, frozenset(picks))

    plan = make_batches(rows, cart, exact, method, timing, block.aisle_pitch_m, monotone=True)
    return [[queue[i] for i in b] for b in plan.batches]
