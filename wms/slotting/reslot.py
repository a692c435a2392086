"""Re-slotting under a move budget: the K relocations or swaps that save the most travel.

A move takes one placed SKU nearer: into a free slot (relocation) or into a slot held by a slower SKU,
which takes the mover's old slot (swap). Moves in one plan touch disjoint SKUs and slots, so each saves
exactly what it claims and the total is their sum. The optimal full re-slot tells where SKUs belong: the
SKUs whose travel × velocity would fall most are the candidate movers, each offered the slots near its
optimal travel in every kind it fits; a min-cost flow (OR-Tools) then picks the best set of at most K
independent moves among those candidates, and repeats on what is left of the budget while that helps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

from wms.slotting.model import (
    COST_SCALE,
    Assignment,
    Instance,
    SkuItem,
    SlotItem,
    SlottingError,
    SlottingRules,
    group_sorted,
)
from wms.slotting.optimal import optimise


@dataclass(frozen=True, slots=True)
class Move:
    """One relocation (``other`` is None) or swap with ``other``, and the metres per day it saves."""

    sku: str
    from_slot: str
    to_slot: str
    other: str | None
    saving: float

    @property
    def kind(self) -> str:
        """``relocate`` or ``swap``."""
        return "relocate" if self.other is None else "swap"


@dataclass(slots=True)
class Reslot:
    """A re-slot proposal: the moves, the assignment after them and how it compares to a full re-slot."""

    moves: list[Move]
    assignment: dict[str, str]
    before: float
    after: float
    full: float
    full_moved: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def saving(self) -> float:
        """Metres per day the moves save."""
        return self.before - self.after

    @property
    def full_saving(self) -> float:
        """Metres per day the optimal full re-slot would save."""
        return self.before - self.full

    @property
    def recovery(self) -> float:
        """Share of the full re-slot's saving the moves recover (1.0 when there is nothing to save)."""
        return self.saving / self.full_saving if self.full_saving > 0 else 1.0


def plan_reslot(
    skus: Iterable[SkuItem],
    slots: Iterable[SlotItem],
    rules: SlottingRules,
    current: Mapping[str, str],
    max_moves: int,
    *,
    optimum: Assignment | None = None,
    window: int = 12,
) -> Reslot:
    """At most ``max_moves`` moves from ``current`` that save the most travel (see the module docstring).

    ``optimum`` is the full re-slot if already known (it is solved otherwise). Misplaced SKUs in
    ``current`` (breaking a rule) stay where they are and are noted; no move breaks a rule.
    """
    inst = Instance(skus, slots, rules)
    notes = _check_current(inst, current)
    best = optimum if optimum is not None else optimise(inst)
    state = _State(inst, current)
    before = inst.cost(current)
    moves: list[Move] = []
    budget = max(0, max_moves)
    target = np.full(len(inst.skus), -1, dtype=np.int64)
    for sku, slot in best.slots.items():
        target[inst.sku_index[sku]] = inst.travel[inst.slot_index[slot]]
    while budget > 0:
        found = _best_moves(state, target, budget, window)
        if not found:
            break
        for i, b in found:
            moves.append(state.apply(i, b))
        budget -= len(found)
    after = inst.cost(state.assignment())
    if after > before:
        raise AssertionError("re-slot moves increased travel")  # each move saves, so this cannot happen
    full_moved = sum(1 for sku, slot in best.slots.items() if current.get(sku) != slot)
    return Reslot(
        moves=moves,
        assignment=state.assignment(),
        before=before / COST_SCALE,
        after=after / COST_SCALE,
        full=inst.cost(best.slots) / COST_SCALE,
        full_moved=full_moved,
        notes=notes,
    )


def _check_current(inst: Instance, current: Mapping[str, str]) -> list[str]:
    """Fail on unknown names or a slot held twice; note SKUs that break a rule where they are."""
    notes = []
    for problem in inst.violations(current):
        if "unknown" in problem or "holds both" in problem:
            raise SlottingError(f"current assignment: {problem}")
        notes.append(f"current assignment: {problem}; left in place")
    return notes


class _State:
    """Where every SKU is and who holds every slot, updated move by move."""

    def __init__(self, inst: Instance, current: Mapping[str, str]) -> None:
        self.inst = inst
        self.slot_of = np.full(len(inst.skus), -1, dtype=np.int64)
        self.holder = np.full(len(inst.slots), -1, dtype=np.int64)
        for sku, slot in current.items():
            i, j = inst.sku_index[sku], inst.slot_index[slot]
            self.slot_of[i], self.holder[j] = j, i
        self.misfit = np.zeros(len(inst.skus), dtype=bool)
        for i in np.flatnonzero(self.slot_of >= 0).tolist():
            self.misfit[i] = not inst.fits(i, int(self.slot_of[i]))
        self.by_kind = [g[np.lexsort((g, inst.travel[g]))] for g in group_sorted(inst.slot_kind)]
        self.kind_ids = [int(inst.slot_kind[g[0]]) for g in self.by_kind]

    def saving(self, i: int, b: int) -> int:
        """Exact saving of moving SKU ``i`` into slot ``b`` (swapping with its holder, if any)."""
        inst = self.inst
        a, k = int(self.slot_of[i]), int(self.holder[b])
        v_k = int(inst.vel[k]) if k >= 0 else 0
        return (int(inst.vel[i]) - v_k) * (int(inst.travel[a]) - int(inst.travel[b]))

    def apply(self, i: int, b: int) -> Move:
        """Carry out the move of SKU ``i`` into slot ``b``."""
        inst = self.inst
        a, k = int(self.slot_of[i]), int(self.holder[b])
        saving = self.saving(i, b)
        self.slot_of[i], self.holder[b] = b, i
        self.holder[a] = k
        if k >= 0:
            self.slot_of[k] = a
        return Move(
            sku=inst.skus[i].sku,
            from_slot=inst.slots[a].slot,
            to_slot=inst.slots[b].slot,
            other=inst.skus[k].sku if k >= 0 else None,
            saving=saving / COST_SCALE,
        )

    def assignment(self) -> dict[str, str]:
        """SKU → slot as it stands."""
        inst = self.inst
        return {inst.skus[i].sku: inst.slots[j].slot for i, j in enumerate(self.slot_of.tolist()) if j >= 0}


def _best_moves(state: _State, target: np.ndarray, budget: int, window: int) -> list[tuple[int, int]]:
    """The best set of at most ``budget`` independent saving moves among the candidates."""
    inst = state.inst
    placed = (state.slot_of >= 0) & ~state.misfit & (target >= 0)
    gain = np.zeros(len(inst.skus), dtype=np.int64)
    idx = np.flatnonzero(placed)
    gain[idx] = inst.vel[idx] * (inst.travel[state.slot_of[idx]] - target[idx])
    movers = np.flatnonzero(gain > 0)
    movers = movers[np.argsort(-gain[movers], kind="stable")][: 3 * budget]
    if len(movers) == 0:
        return []
    mover_slot = np.zeros(len(inst.slots), dtype=bool)
    mover_slot[state.slot_of[movers]] = True
    is_mover = np.zeros(len(inst.skus), dtype=bool)
    is_mover[movers] = True
    rows, cols = [], []
    for g, kind in zip(state.by_kind, state.kind_ids, strict=True):
        fit = movers[inst.compat[inst.sku_type[movers], kind]]
        if len(fit) == 0:
            continue
        pos = np.searchsorted(inst.travel[g], target[fit])
        lo = np.clip(pos - window, 0, len(g))
        hi = np.clip(pos + window // 3 + 1, 0, len(g))
        counts = hi - lo
        rows.append(np.repeat(fit, counts))
        cols.append(g[np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))])
    if not rows:
        return []
    i, b = np.concatenate(rows), np.concatenate(cols)
    a, k = state.slot_of[i], state.holder[b]
    holder_fits = (k < 0) | inst.compat[inst.sku_type[np.maximum(k, 0)], inst.slot_kind[a]]
    ok = ~mover_slot[b] & holder_fits & ((k < 0) | ~is_mover[np.maximum(k, 0)])
    v_k = np.where(k >= 0, inst.vel[np.maximum(k, 0)], 0)
    saving = (inst.vel[i] - v_k) * (inst.travel[a] - inst.travel[b])
    ok &= saving > 0
    i, b, saving = i[ok], b[ok], saving[ok]
    if len(i) == 0:
        return []
    return _match(i, b, saving, budget)


def _match(i: np.ndarray, b: np.ndarray, saving: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Max-saving matching of movers to slots with at most ``budget`` pairs (OR-Tools min-cost flow)."""
    mov, mi = np.unique(i, return_inverse=True)
    slo, bi = np.unique(b, return_inverse=True)
    n_m, n_b = len(mov), len(slo)
    src, dst = 0, 1
    m_node, b_node = 2 + np.arange(n_m), 2 + n_m + np.arange(n_b)
    tails = np.concatenate([[src], np.full(n_m, src), m_node[mi.ravel()], b_node])
    heads = np.concatenate([[dst], m_node, b_node[bi.ravel()], np.full(n_b, dst)])
    caps = np.concatenate([[budget], np.ones(n_m + len(i) + n_b, np.int64)])
    costs = np.concatenate([np.zeros(1 + n_m, np.int64), -saving, np.zeros(n_b, np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs
    )
    mcf.set_nodes_supplies(np.array([src, dst], np.int32), np.array([budget, -budget], np.int64))
    if mcf.solve() != mcf.OPTIMAL:
        raise RuntimeError("re-slot matching failed")
    used = mcf.flows(np.arange(1 + n_m, 1 + n_m + len(i), dtype=np.int32)) > 0
    return list(zip(i[used].tolist(), b[used].tolist(), strict=True))
