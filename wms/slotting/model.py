"""Plain data of the slotting planners: SKUs, slots, rules, results, and the shared feasibility index.

Travel and demand are compared exactly: velocity is taken to 1/1000 pick per day and travel to the
millimetre, so every objective is an integer number of (milli-pick × mm) and the optimum is exact.
Objective (metres per day) = Σ over placed SKUs of velocity × travel_m, plus velocity × the overflow
travel (1 mm beyond the farthest slot) for each SKU that fits some slot but was left unplaced, so that
when slots run short the fastest movers keep them. SKUs that fit no slot at all add nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import max_flow

from wms.config import Storage
from wms.domain import Zone

VEL_SCALE = 1000
TRAVEL_SCALE = 1000
COST_SCALE = VEL_SCALE * TRAVEL_SCALE


class SlottingError(ValueError):
    """Input the slotting planners cannot work with (the message says what and where)."""


@dataclass(frozen=True, slots=True)
class SkuItem:
    """An SKU as the slotting planner sees it: picks per day, one unit's size and weight, zone, hazard."""

    sku: str
    velocity: float
    volume_l: float
    weight_kg: float
    zone: Zone = Zone.BONDED
    hazard: bool = False


@dataclass(frozen=True, slots=True)
class SlotItem:
    """A slot as the slotting planner sees it; ``aisle`` only matters to the affinity refinement."""

    slot: str
    zone: Zone
    volume_l: float
    max_kg: float
    hazard_ok: bool
    level: int
    travel_m: float
    aisle: str = ""


@dataclass(frozen=True, slots=True)
class SlottingRules:
    """Site rules beyond size and zone: SKUs heavier than ``heavy_kg`` only up to ``heavy_max_level``."""

    heavy_kg: float = 15.0
    heavy_max_level: int = 1

    @classmethod
    def from_storage(cls, storage: Storage) -> SlottingRules:
        """The rules configured for a storage block."""
        return cls(heavy_kg=storage.heavy_kg, heavy_max_level=storage.heavy_max_level)


@dataclass(frozen=True, slots=True)
class Unplaced:
    """An SKU left without a slot, and why."""

    sku: str
    reason: str


@dataclass(slots=True)
class Assignment:
    """A slotting plan: SKU → slot, its objective and, for exact methods, the proven lower bound."""

    method: str
    slots: dict[str, str]
    objective: float
    lower_bound: float | None = None
    optimal: bool = False
    unplaced: list[Unplaced] = field(default_factory=list)
    seconds: float = 0.0
    shortfalls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def placed(self) -> int:
        """Number of SKUs with a slot."""
        return len(self.slots)


def fits(sku: SkuItem, slot: SlotItem, rules: SlottingRules) -> bool:
    """Whether one unit of ``sku`` may go into ``slot``: zone, hazard rating, volume, weight, heavy low."""
    if sku.zone != slot.zone or (sku.hazard and not slot.hazard_ok):
        return False
    if sku.volume_l > slot.volume_l or sku.weight_kg > slot.max_kg:
        return False
    return not (sku.weight_kg > rules.heavy_kg and slot.level > rules.heavy_max_level)


def _slot_key(slot: SlotItem, rules: SlottingRules) -> tuple:
    """A slot's kind: what decides which SKUs it takes."""
    return (str(slot.zone), slot.hazard_ok, slot.level <= rules.heavy_max_level, slot.volume_l, slot.max_kg)


def _need_key(sku: SkuItem, rules: SlottingRules) -> tuple:
    """What an SKU needs of a slot."""
    return (str(sku.zone), sku.hazard, sku.weight_kg > rules.heavy_kg, sku.volume_l, sku.weight_kg)


def _key_fits(need: tuple, kind: tuple) -> bool:
    """Whether a need is met by a slot kind (the same rule as :func:`fits`)."""
    zone, hazard, heavy, volume, weight = need
    s_zone, hazard_ok, low, s_volume, s_kg = kind
    return (
        zone == s_zone
        and (hazard_ok or not hazard)
        and (low or not heavy)
        and volume <= s_volume
        and weight <= s_kg
    )


def _no_fit_reason(need: tuple, kinds: list[tuple], rules: SlottingRules) -> str:
    """Why no slot kind meets a need: the first rule, in the order zone, hazard, volume, weight, heavy."""
    zone, hazard, heavy, volume, weight = need
    cands = [k for k in kinds if k[0] == zone]
    if not cands:
        return f"no slot in zone {zone}"
    if hazard:
        cands = [k for k in cands if k[1]]
        if not cands:
            return f"hazardous and no hazard-rated slot in zone {zone}"
    big = [k for k in cands if volume <= k[3]]
    if not big:
        return f"volume {volume:g} l exceeds every candidate slot (largest {max(k[3] for k in cands):g} l)"
    strong = [k for k in big if weight <= k[4]]
    if not strong:
        strongest = max(k[4] for k in big)
        return f"weight {weight:g} kg exceeds every candidate slot's limit (largest {strongest:g} kg)"
    low = rules.heavy_max_level
    return f"heavy ({weight:g} kg > {rules.heavy_kg:g} kg) and no slot it fits at level ≤ {low}"


def _describe(short: list[tuple], zone: list[tuple], rules: SlottingRules) -> str:
    """What sets the scarce slots apart from the rest of their zone, e.g. " (hazard-rated, level ≤ 1)"."""
    if len(short) == len(zone):
        return " (all of the zone)"
    parts = []
    if all(k[1] for k in short) and not all(k[1] for k in zone):
        parts.append("hazard-rated")
    if all(k[2] for k in short) and not all(k[2] for k in zone):
        parts.append(f"level ≤ {rules.heavy_max_level}")
    for i, unit in ((3, "l"), (4, "kg")):
        if min(k[i] for k in short) > min(k[i] for k in zone):
            parts.append(f"≥ {min(k[i] for k in short):g} {unit}")
    return f" ({', '.join(parts)})" if parts else ""


class Instance:
    """SKUs and slots indexed for the planners: quantised numbers, slot kinds, SKU types, what fits what.

    A slot *kind* is (zone, hazard_ok, low level, volume, max_kg); an SKU *type* is the set of kinds it
    fits, so SKUs of one type are interchangeable for feasibility and slots of one kind likewise.
    """

    def __init__(self, skus: Iterable[SkuItem], slots: Iterable[SlotItem], rules: SlottingRules) -> None:
        self.skus = list(skus)
        self.slots = list(slots)
        self.rules = rules
        self._check_unique()
        self.sku_index = {s.sku: i for i, s in enumerate(self.skus)}
        self.slot_index = {s.slot: j for j, s in enumerate(self.slots)}
        self.vel = np.array([round(s.velocity * VEL_SCALE) for s in self.skus], dtype=np.int64)
        self.travel = np.array([round(s.travel_m * TRAVEL_SCALE) for s in self.slots], dtype=np.int64)
        self.overflow = int(self.travel.max()) + 1 if len(self.slots) else 0  # 1 mm beyond the farthest slot
        self.sku_zone = np.array([str(s.zone) for s in self.skus], dtype=object)
        self.slot_zone = np.array([str(s.zone) for s in self.slots], dtype=object)
        kind_ids: dict[tuple, int] = {}
        self.slot_kind = np.array(
            [kind_ids.setdefault(_slot_key(s, rules), len(kind_ids)) for s in self.slots], dtype=np.int64
        )
        self.kinds = list(kind_ids)
        need_ids: dict[tuple, int] = {}
        self.sku_need = [need_ids.setdefault(_need_key(s, rules), len(need_ids)) for s in self.skus]
        type_ids: dict[tuple[int, ...], int] = {}
        need_type: list[int] = []
        self.no_fit_reason: dict[int, str] = {}
        for n, need in enumerate(need_ids):
            fit = tuple(k for k, kind in enumerate(self.kinds) if _key_fits(need, kind))
            need_type.append(type_ids.setdefault(fit, len(type_ids)))
            if not fit:
                self.no_fit_reason[n] = _no_fit_reason(need, self.kinds, rules)
        self.types = list(type_ids)
        self.sku_type = np.array([need_type[n] for n in self.sku_need], dtype=np.int64)
        self.compat = np.zeros((len(self.types), len(self.kinds)), dtype=bool)
        for t, fit in enumerate(self.types):
            self.compat[t, list(fit)] = True
        self.placeable = self.compat.any(axis=1)[self.sku_type] if len(self.skus) else np.zeros(0, bool)

    def _check_unique(self) -> None:
        """Fail on an SKU or slot named twice."""
        for what, names in (("SKU", [s.sku for s in self.skus]), ("slot", [s.slot for s in self.slots])):
            if len(set(names)) != len(names):
                seen: set[str] = set()
                dup = next(n for n in names if n in seen or seen.add(n))  # type: ignore[func-returns-value]
                raise SlottingError(f"{what} {dup!r} appears twice")

    def max_placed(self) -> tuple[int, dict[str, str]]:
        """Most SKUs any plan can place (max flow over types and kinds) and, per short zone, by how much.

        The shortfall message names the zone, the missing slot count and the slots the short SKUs fit
        (read off the minimum cut), e.g. ``zone bonded is short by 12 slots: 40 SKUs fit only 28 slots``.
        """
        n_types, n_kinds = len(self.types), len(self.kinds)
        demand = np.bincount(self.sku_type, minlength=n_types)
        supply = np.bincount(self.slot_kind, minlength=n_kinds)
        t_idx, k_idx = np.nonzero(self.compat)
        flow = max_flow.SimpleMaxFlow()
        src, dst = 0, 1
        tails = np.concatenate([np.zeros(n_types), 2 + t_idx, 2 + n_types + np.arange(n_kinds)])
        heads = np.concatenate([2 + np.arange(n_types), 2 + n_types + k_idx, np.ones(n_kinds)])
        caps = np.concatenate([demand, demand[t_idx], supply])
        flow.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64))
        if n_types == 0 or flow.solve(src, dst) != flow.OPTIMAL:
            return 0, {}
        best = flow.optimal_flow()
        cut = set(flow.get_source_side_min_cut())
        messages: dict[str, str] = {}
        for zone in sorted({k[0] for k in self.kinds} | {str(s.zone) for s in self.skus}):
            types = [t for t in range(n_types) if self.types[t] and self.kinds[self.types[t][0]][0] == zone]
            kinds = [k for k in range(n_kinds) if self.kinds[k][0] == zone]
            short_types = [t for t in types if 2 + t in cut]
            short_kinds = [k for k in kinds if 2 + n_types + k in cut]
            need, have = int(demand[short_types].sum()), int(supply[short_kinds].sum())
            if need > have:
                what = _describe(
                    [self.kinds[k] for k in short_kinds], [self.kinds[k] for k in kinds], self.rules
                )
                short = f"zone {zone} is short by {need - have} slot(s)"
                messages[zone] = f"{short}: {need} SKUs fit only {have} slot(s){what}"
        return best, messages

    def fits(self, i: int, j: int) -> bool:
        """Whether SKU index ``i`` fits slot index ``j``."""
        return bool(self.compat[self.sku_type[i], self.slot_kind[j]])

    def cost(self, pairs: Mapping[str, str]) -> int:
        """Exact objective of an assignment in milli-pick × mm per day (see the module docstring)."""
        placed = np.zeros(len(self.skus), dtype=bool)
        total = 0
        if pairs:
            i = np.array([self.sku_index[k] for k in pairs], dtype=np.int64)
            j = np.array([self.slot_index[v] for v in pairs.values()], dtype=np.int64)
            placed[i] = True
            total = int((self.vel[i] * self.travel[j]).sum())
        left = self.placeable & ~placed
        return total + int(self.vel[left].sum()) * self.overflow

    def violations(self, pairs: Mapping[str, str]) -> list[str]:
        """Every broken rule of an assignment: unknown names, a slot used twice, an SKU that does not fit."""
        out = []
        used: dict[str, str] = {}
        for sku, slot in pairs.items():
            if sku not in self.sku_index or slot not in self.slot_index:
                out.append(f"{sku} → {slot}: unknown SKU or slot")
                continue
            if slot in used:
                out.append(f"slot {slot} holds both {used[slot]} and {sku}")
            used[slot] = sku
            if not self.fits(self.sku_index[sku], self.slot_index[slot]):
                out.append(f"{sku} does not fit {slot}")
        return out

    def result(
        self, method: str, pairs: dict[str, str], unplaced: list[Unplaced], **kw: object
    ) -> Assignment:
        """An :class:`Assignment` for ``pairs`` with its exact objective in metres per day."""
        return Assignment(
            method=method, slots=pairs, objective=self.cost(pairs) / COST_SCALE, unplaced=unplaced, **kw
        )

    def unplaced_reasons(
        self, pairs: Mapping[str, str], capacity_reason: Mapping[str, str]
    ) -> list[Unplaced]:
        """Unplaced SKUs with why: nothing fits them, or ``capacity_reason[zone]`` when slots ran out."""
        out = []
        for i, s in enumerate(self.skus):
            if s.sku in pairs:
                continue
            reason = self.no_fit_reason.get(self.sku_need[i]) or capacity_reason.get(
                str(s.zone), f"every fitting slot in zone {s.zone} is taken"
            )
            out.append(Unplaced(s.sku, reason))
        return out


def group_sorted(keys: np.ndarray) -> list[np.ndarray]:
    """Indices grouped by equal key, in ascending key order (stable within a group)."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    cuts = np.flatnonzero(np.diff(keys[order])) + 1
    return np.split(order, cuts)
