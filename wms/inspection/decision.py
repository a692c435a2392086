"""Gate decision of one order: release, hold or reject, from the rule findings and a seeded sample draw.

Reject on any document, amount, identity, list or limit failure (every finding that is not a risk); hold
for a risk rule or a random sample (the parcel goes to an X-ray / manual lane whose result then releases
or rejects it); otherwise release. `decide` is pure: it reads the history, and `commit` records the order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wms.config import CustomsConfig
from wms.domain import CustomsOrder, Payment, Sku, Waybill
from wms.inspection.ceb import yuan
from wms.inspection.rules import TAX_MISMATCH, BuyerHistory, Finding, GateHistory, check_order, local_year
from wms.inspection.tax import TaxError, compute_tax

MALFORMED = "MALFORMED"
SAMPLED = "SAMPLED"
RISK_PREFIX = "RISK:"
RELEASE = "release"
HOLD = "hold"
REJECT = "reject"
Verdict = Literal["release", "hold", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gate does with one order, why, and the tax it computed against the one declared (fen)."""

    order_no: str | None
    decision: Verdict
    reasons: tuple[Finding, ...]
    tax_computed_fen: int | None
    tax_declared_fen: int | None
    sampled: bool = False

    @property
    def codes(self) -> list[str]:
        """The reason codes, in rule order."""
        return [f.code for f in self.reasons]

    def to_json(self) -> dict[str, Any]:
        """The JSON record of ``wms inspect``; tax amounts in CNY with 2 decimals (strings, exact)."""
        return {
            "orderNo": self.order_no,
            "decision": self.decision,
            "reasons": [{"code": f.code, "detail": f.detail} for f in self.reasons],
            "tax": {"computed": _cny(self.tax_computed_fen), "declared": _cny(self.tax_declared_fen)},
        }


def _cny(fen: int | None) -> str | None:
    """Fen as a CNY string, or None."""
    return None if fen is None else yuan(fen)


def is_hold(code: str) -> bool:
    """Whether a reason code sends the parcel to an inspection lane rather than rejecting it."""
    return code.startswith(RISK_PREFIX) or code == SAMPLED


def decide(
    order: CustomsOrder,
    payment: Payment | None,
    waybill: Waybill | None,
    catalog: dict[str, Sku],
    customs: CustomsConfig,
    history: GateHistory,
    now: float,
    rng: random.Random,
) -> Decision:
    """Decide one order at ``now``; draws exactly one number from ``rng`` so sampling replays with a seed."""
    findings = check_order(order, payment, waybill, catalog, customs, history, now)
    computed = _computed_tax(order, waybill, catalog, customs, findings)
    drawn = rng.random() < customs.sampling_rate
    if any(not is_hold(f.code) for f in findings):
        return Decision(order.order_no, REJECT, tuple(findings), computed, order.tax_total_fen)
    reasons = list(findings)
    if drawn:
        reasons.append(Finding(SAMPLED, f"random manual check at rate {customs.sampling_rate:g}"))
    verdict: Verdict = HOLD if reasons else RELEASE
    return Decision(order.order_no, verdict, tuple(reasons), computed, order.tax_total_fen, drawn)


def _computed_tax(
    order: CustomsOrder,
    waybill: Waybill | None,
    catalog: dict[str, Sku],
    customs: CustomsConfig,
    findings: list[Finding],
) -> int | None:
    """The tax `check_tax` computed: None if a SKU or category is unknown, else the declared one unless it
    reported TAX_MISMATCH (only then is it computed again), so a clean order costs one tax computation."""
    for line in order.lines:
        sku = catalog.get(line.sku)
        if sku is None or sku.category not in customs.categories:
            return None
    if all(f.code != TAX_MISMATCH for f in findings):
        return order.tax_total_fen
    try:
        return compute_tax(order, waybill, catalog, customs)
    except TaxError:
        return None


def malformed(order_no: str | None, detail: str) -> Decision:
    """The rejection of an order whose documents could not be read; ``detail`` names the field."""
    return Decision(order_no, REJECT, (Finding(MALFORMED, detail),), None, None)


def commit(history: GateHistory, order: CustomsOrder, decision: Decision, now: float) -> None:
    """Record a decided order: always as declared; its value against the quota unless rejected.

    A held parcel reserves its quota, since its lane may still release it; a later rejection gives it
    back through `GateHistory.record_return`.
    """
    history.record_order(order, now)
    if decision.decision != REJECT:
        history.record_release(order, now)


class QuotaHistory(BuyerHistory):
    """A `BuyerHistory` with running quota totals per buyer and year, and an optional year-to-date baseline.

    ``ytd`` (buyer ID number → fen released elsewhere) counts in ``ytd_year``, as from a ``ytd.csv``.
    """

    def __init__(
        self,
        return_window_days: int = 30,
        utc_offset_h: float = 8.0,
        *,
        ytd: Mapping[str, int] | None = None,
        ytd_year: int | None = None,
    ) -> None:
        super().__init__(return_window_days, utc_offset_h)
        if ytd and ytd_year is None:
            raise ValueError("a year-to-date baseline needs its year")
        self.ytd = dict(ytd or {})
        self.ytd_year = ytd_year
        self._totals: dict[tuple[str, int], int] = defaultdict(int)
        self._counted: dict[str, tuple[tuple[str, int], int]] = {}

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        """Goods value (fen) released to this buyer in this year, the carried-in year-to-date included."""
        base = self.ytd.get(buyer_id, 0) if year == self.ytd_year else 0
        return base + self._totals.get((buyer_id, year), 0)

    def record_release(self, order: CustomsOrder, now: float) -> None:
        """Count a released order's goods value for its buyer and year (a repeat replaces the first)."""
        super().record_release(order, now)
        self._uncount(order.order_no)
        key = (order.buyer_id_number, local_year(now, self.utc_offset_h))
        self._totals[key] += order.goods_value_fen
        self._counted[order.order_no] = (key, order.goods_value_fen)

    def record_return(self, order: CustomsOrder, now: float, released_at: float) -> bool:
        """A return within the window restores the quota; True if it did."""
        restored = super().record_return(order, now, released_at)
        if restored:
            self._uncount(order.order_no)
        return restored

    def _uncount(self, order_no: str) -> None:
        """Take an order's value back out of its buyer's total, if it was counted."""
        counted = self._counted.pop(order_no, None)
        if counted is not None:
            self._totals[counted[0]] -= counted[1]
