"""Inspection-gate rules of bonded cross-border imports (1210): a pure checker over plain data.

`check_order` returns every finding (empty = clean). Check an order before recording it in the buyer
history, so that the order itself is counted once (frequency and address rules add it). The rules read
any `GateHistory`: `BuyerHistory` here keeps it in memory; the controller keeps it in its database
(`wms.control.history.DbHistory`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

from wms.config import CustomsConfig
from wms.domain import CustomsOrder, Payment, Sku, Waybill
from wms.inspection.ceb import NOT_XML_CHAR
from wms.inspection.tax import TaxError, compute_tax

DOC_MISSING = "DOC_MISSING"
DOC_TEXT = "DOC_TEXT"
DUPLICATE_ORDER = "DUPLICATE_ORDER"
UNKNOWN_SKU = "UNKNOWN_SKU"
AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
PAYER_MISMATCH = "PAYER_MISMATCH"
CONSIGNEE_MISMATCH = "CONSIGNEE_MISMATCH"
NOT_ON_POSITIVE_LIST = "NOT_ON_POSITIVE_LIST"
SINGLE_LIMIT = "SINGLE_LIMIT"
ANNUAL_LIMIT = "ANNUAL_LIMIT"
TAX_MISMATCH = "TAX_MISMATCH"
RISK_CATEGORY = "RISK:category"
RISK_BUYER_FREQUENCY = "RISK:buyer_frequency"
RISK_LOW_PRICE = "RISK:low_price"
RISK_SHARED_ADDRESS = "RISK:shared_address"
RISK_CODES = (RISK_CATEGORY, RISK_BUYER_FREQUENCY, RISK_LOW_PRICE, RISK_SHARED_ADDRESS)

ALL_CODES = (
    DOC_MISSING,
    DOC_TEXT,
    DUPLICATE_ORDER,
    UNKNOWN_SKU,
    AMOUNT_MISMATCH,
    PAYER_MISMATCH,
    CONSIGNEE_MISMATCH,
    NOT_ON_POSITIVE_LIST,
    SINGLE_LIMIT,
    ANNUAL_LIMIT,
    TAX_MISMATCH,
    RISK_CATEGORY,
    RISK_BUYER_FREQUENCY,
    RISK_LOW_PRICE,
    RISK_SHARED_ADDRESS,
)
ID_CARD = 1
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason an order cannot pass the gate as declared (or a risk to look at)."""

    code: str
    detail: str


def normalize_address(address: str) -> str:
    """An address with whitespace collapsed, so trivial spacing differences count as the same place."""
    return "".join(address.split()).casefold()


def local_year(ts: float, utc_offset_h: float) -> int:
    """Calendar year of an instant in local time."""
    tz = UTC if utc_offset_h == 0 else timezone(timedelta(hours=utc_offset_h))
    return datetime.fromtimestamp(ts, tz).year


class GateHistory(Protocol):
    """What the gate remembers about earlier orders: read by the rules, recorded into at each decision."""

    return_window_days: int
    utc_offset_h: float

    def declared(self, order_no: str) -> bool:
        """Whether an order with this number was declared before."""
        ...

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        """Goods value (fen) released to this buyer in this local calendar year, less restored quota."""
        ...

    def orders_in_window(self, buyer_id: str, since: float) -> int:
        """Orders declared for this buyer at or after ``since``."""
        ...

    def buyers_at_address(self, address: str, including: str | None = None) -> int:
        """Distinct buyers declared at this address (normalized), counting ``including`` too if given."""
        ...

    def record_order(self, order: CustomsOrder, now: float) -> None:
        """Remember a declared order."""
        ...

    def note_order(self, order_no: str, buyer_id: str, address: str, order_type: str, now: float) -> None:
        """`record_order` from an order's stored columns."""
        ...

    def record_release(self, order: CustomsOrder, now: float) -> None:
        """Count a released order's goods value against its buyer's quota for the year of release."""
        ...

    def note_release(self, order_no: str, buyer_id: str, value_fen: int, now: float) -> None:
        """`record_release` from an order's stored columns."""
        ...

    def record_return(self, order: CustomsOrder, now: float, released_at: float) -> bool:
        """A returned order restores the quota if returned within the window; True if it did."""
        ...

    def within_return_window(self, now: float, released_at: float) -> bool:
        """Whether a return now of goods released at ``released_at`` gives the buyer's quota back."""
        ...

    def restore_quota(self, order_no: str, value_fen: int) -> int:
        """Take up to ``value_fen`` of a released order off its buyer's yearly total; the fen restored."""
        ...


@dataclass(frozen=True, slots=True)
class _Release:
    """One released order as the annual quota sees it."""

    buyer_id: str
    value_fen: int
    year: int


class BuyerHistory:
    """What the gate remembers about earlier orders: plain in-memory data the caller can rebuild.

    Buyers are keyed by ID number (the customs quota is per person). Years are local calendar years.
    """

    def __init__(self, return_window_days: int = 30, utc_offset_h: float = 8.0) -> None:
        self.return_window_days = return_window_days
        self.utc_offset_h = utc_offset_h
        self._declared: set[str] = set()
        self._order_times: dict[str, list[float]] = defaultdict(list)
        self._address_buyers: dict[str, set[str]] = defaultdict(set)
        self._releases: dict[str, _Release] = {}
        self._released_totals: dict[tuple[str, int], int] = defaultdict(int)  # (buyer, year) -> fen

    @classmethod
    def for_customs(cls, customs: CustomsConfig, utc_offset_h: float = 8.0) -> BuyerHistory:
        """An empty history using the return window of a customs config."""
        return cls(customs.return_window_days, utc_offset_h)

    def declared(self, order_no: str) -> bool:
        """Whether an order with this number was declared before."""
        return order_no in self._declared

    def released_value_in_year(self, buyer_id: str, year: int) -> int:
        """Goods value (fen) released to this buyer in this calendar year, less returns within the window."""
        return self._released_totals.get((buyer_id, year), 0)

    def orders_in_window(self, buyer_id: str, since: float) -> int:
        """Orders recorded for this buyer at or after ``since``."""
        times = self._order_times.get(buyer_id, [])
        return len(times) - bisect.bisect_left(times, since)

    def buyers_at_address(self, address: str, including: str | None = None) -> int:
        """Distinct buyers recorded at this address, counting ``including`` too if given."""
        buyers = self._address_buyers.get(normalize_address(address), set())
        return len(buyers | {including}) if including is not None else len(buyers)

    def record_order(self, order: CustomsOrder, now: float) -> None:
        """Remember a declared order: its number, its time for the buyer, its buyer at its address."""
        self.note_order(order.order_no, order.buyer_id_number, order.consignee_address, order.order_type, now)

    def note_order(self, order_no: str, buyer_id: str, address: str, order_type: str, now: float) -> None:
        """`record_order` from the stored columns of an order (a restarted controller's history)."""
        self._declared.add(order_no)
        bisect.insort(self._order_times[buyer_id], now)
        if order_type != "o2o":  # the store's counter is nobody's delivery address
            self._address_buyers[normalize_address(address)].add(buyer_id)

    def record_release(self, order: CustomsOrder, now: float) -> None:
        """Count a released order's goods value against its buyer's quota for the year of release."""
        self.note_release(order.order_no, order.buyer_id_number, order.goods_value_fen, now)

    def note_release(self, order_no: str, buyer_id: str, value_fen: int, now: float) -> None:
        """`record_release` from the stored columns of an order."""
        year = local_year(now, self.utc_offset_h)
        old = self._releases.get(order_no)
        if old is not None:  # released again: count it once
            self._released_totals[(old.buyer_id, old.year)] -= old.value_fen
        self._releases[order_no] = _Release(buyer_id, value_fen, year)
        self._released_totals[(buyer_id, year)] += value_fen

    def record_return(self, order: CustomsOrder, now: float, released_at: float) -> bool:
        """A returned order restores the quota if returned within the window; True if it did."""
        release = self._releases.get(order.order_no)
        if release is None or not self.within_return_window(now, released_at):
            return False
        return self.restore_quota(order.order_no, release.value_fen) > 0

    def within_return_window(self, now: float, released_at: float) -> bool:
        """Whether a return now of goods released at ``released_at`` gives the buyer's quota back."""
        return now - released_at <= self.return_window_days * DAY_S

    def restore_quota(self, order_no: str, value_fen: int) -> int:
        """Take up to ``value_fen`` of a released order off its buyer's yearly total; the fen restored."""
        release = self._releases.get(order_no)
        if release is None or value_fen <= 0:
            return 0
        take = min(value_fen, release.value_fen)
        self._released_totals[(release.buyer_id, release.year)] -= take
        if take == release.value_fen:
            del self._releases[order_no]
        else:
            self._releases[order_no] = _Release(release.buyer_id, release.value_fen - take, release.year)
        return take


# ---------------------------------------------------------------------------------------------- rules


def check_documents(order: CustomsOrder, payment: Payment | None, waybill: Waybill | None) -> list[Finding]:
    """All three documents present and referring to the same order and payment."""
    out: list[Finding] = []
    if payment is None:
        out.append(Finding(DOC_MISSING, "no payment (CEB411)"))
    else:
        if payment.order_no != order.order_no:
            out.append(Finding(DOC_MISSING, f"payment is for order {payment.order_no}, not {order.order_no}"))
        if payment.pay_transaction_id != order.pay_transaction_id:
            out.append(
                Finding(
                    DOC_MISSING,
                    f"payment transaction {payment.pay_transaction_id} ≠ order's {order.pay_transaction_id}",
                )
            )
    if waybill is None:
        out.append(Finding(DOC_MISSING, "no waybill (CEB511)"))
    elif waybill.order_no != order.order_no:
        out.append(Finding(DOC_MISSING, f"waybill is for order {waybill.order_no}, not {order.order_no}"))
    return out


def check_text(order: CustomsOrder, payment: Payment | None, waybill: Waybill | None) -> list[Finding]:
    """Every text of the documents can go into the CEB XML the gate declares (no control characters)."""
    docs = [
        ("order", order),
        *(("line", line) for line in order.lines),
        ("payment", payment),
        ("waybill", waybill),
    ]
    return [
        Finding(DOC_TEXT, f"{what} {name}: {value!r} has a character XML cannot carry")
        for what, doc in docs
        if doc is not None
        for name, value in vars(doc).items()
        if isinstance(value, str) and NOT_XML_CHAR.search(value)
    ]


def check_duplicate(order: CustomsOrder, history: GateHistory) -> list[Finding]:
    """The order number was not declared before."""
    if history.declared(order.order_no):
        return [Finding(DUPLICATE_ORDER, f"order {order.order_no} was already declared")]
    return []


def check_skus(order: CustomsOrder, catalog: dict[str, Sku]) -> list[Finding]:
    """Every line's SKU is registered in the account book."""
    return [
        Finding(UNKNOWN_SKU, f"line {line.gnum}: SKU {line.sku!r} is not in the catalog")
        for line in order.lines
        if line.sku not in catalog
    ]


def check_amounts(order: CustomsOrder, payment: Payment | None) -> list[Finding]:
    """Lines, goods value, amount paid and the payment agree to the fen."""
    out: list[Finding] = []
    for line in order.lines:
        if line.total_fen != line.qty * line.price_fen:
            out.append(
                Finding(
                    AMOUNT_MISMATCH,
                    f"line {line.gnum}: total {line.total_fen} ≠ {line.qty} × {line.price_fen}",
                )
            )
    lines_total = sum(line.total_fen for line in order.lines)
    if order.goods_value_fen != lines_total:
        out.append(Finding(AMOUNT_MISMATCH, f"goods value {order.goods_value_fen} ≠ lines {lines_total}"))
    expected = order.goods_value_fen + order.freight_fen + order.tax_total_fen - order.discount_fen
    if order.actural_paid_fen != expected:
        out.append(
            Finding(
                AMOUNT_MISMATCH,
                f"acturalPaid {order.actural_paid_fen} ≠ goods + freight + tax − discount = {expected}",
            )
        )
    if payment is not None and payment.amount_paid_fen != order.actural_paid_fen:
        out.append(
            Finding(
                AMOUNT_MISMATCH,
                f"payment amount {payment.amount_paid_fen} ≠ order's acturalPaid {order.actural_paid_fen}",
            )
        )
    return out


def check_payer(order: CustomsOrder, payment: Payment | None) -> list[Finding]:
    """The buyer is identified by ID card and is the payer."""
    out: list[Finding] = []
    if order.buyer_id_type != ID_CARD:
        out.append(Finding(PAYER_MISMATCH, f"buyer id type {order.buyer_id_type} is not an ID card (1)"))
    if payment is None:
        return out
    if payment.payer_id_type != ID_CARD:
        out.append(Finding(PAYER_MISMATCH, f"payer id type {payment.payer_id_type} is not an ID card (1)"))
    if payment.payer_id_number != order.buyer_id_number:
        out.append(Finding(PAYER_MISMATCH, "payer ID number differs from the buyer's"))
    if payment.payer_name != order.buyer_name:
        out.append(Finding(PAYER_MISMATCH, f"payer {payment.payer_name!r} is not buyer {order.buyer_name!r}"))
    return out


def check_consignee(order: CustomsOrder, waybill: Waybill | None) -> list[Finding]:
    """Consignee name, phone and address on the order equal the waybill's."""
    if waybill is None:
        return []
    pairs = (
        ("name", order.consignee, waybill.consignee),
        ("phone", order.consignee_phone, waybill.consignee_phone),
        ("address", order.consignee_address, waybill.consignee_address),
    )
    return [
        Finding(CONSIGNEE_MISMATCH, f"consignee {what}: order {a!r} ≠ waybill {b!r}")
        for what, a, b in pairs
        if a != b
    ]


def on_positive_list(hs_code: str, positive_list: list[str]) -> bool:
    """Whether an HS code is listed: 10-digit entries match exactly, 8-digit ones the first 8 digits."""
    return any(hs_code == entry if len(entry) == 10 else hs_code[:8] == entry for entry in positive_list)


def check_positive_list(
    order: CustomsOrder, catalog: dict[str, Sku], customs: CustomsConfig
) -> list[Finding]:
    """Every known line's HS code is on the positive list of cross-border retail imports."""
    out: list[Finding] = []
    for line in order.lines:
        sku = catalog.get(line.sku)
        if sku is not None and not on_positive_list(sku.hs_code, customs.positive_list):
            detail = f"line {line.gnum}: HS {sku.hs_code} ({sku.sku}) is not listed"
            out.append(Finding(NOT_ON_POSITIVE_LIST, detail))
    return out


def check_single_limit(order: CustomsOrder, customs: CustomsConfig) -> list[Finding]:
    """Goods value within the single-transaction limit, unless it is one indivisible item (if allowed)."""
    if order.goods_value_fen <= customs.single_limit_fen:
        return []
    if customs.single_item_exception and len(order.lines) == 1 and order.lines[0].qty == 1:
        return []
    return [Finding(SINGLE_LIMIT, f"goods value {order.goods_value_fen} > limit {customs.single_limit_fen}")]


def check_annual_limit(
    order: CustomsOrder, customs: CustomsConfig, history: GateHistory, now: float
) -> list[Finding]:
    """This year's released value for the buyer plus this order stays within the annual limit."""
    year = local_year(now, history.utc_offset_h)
    used = history.released_value_in_year(order.buyer_id_number, year)
    if used + order.goods_value_fen > customs.annual_limit_fen:
        return [
            Finding(
                ANNUAL_LIMIT,
                f"{year}: released {used} + order {order.goods_value_fen} > limit {customs.annual_limit_fen}",
            )
        ]
    return []


def check_tax(
    order: CustomsOrder, waybill: Waybill | None, catalog: dict[str, Sku], customs: CustomsConfig
) -> list[Finding]:
    """The declared tax equals the computed one (skipped when a SKU or its category is unknown)."""
    try:
        expected = compute_tax(order, waybill, catalog, customs)
    except TaxError:
        return []
    if order.tax_total_fen != expected:
        return [Finding(TAX_MISMATCH, f"declared tax {order.tax_total_fen} ≠ computed {expected}")]
    return []


def check_risk(
    order: CustomsOrder, catalog: dict[str, Sku], customs: CustomsConfig, history: GateHistory, now: float
) -> list[Finding]:
    """Configurable risk rules: category, buyer frequency, low price, many buyers at one address."""
    risk = customs.risk
    out: list[Finding] = []
    for line in order.lines:
        sku = catalog.get(line.sku)
        if sku is None:
            continue
        if sku.category in risk.high_risk_categories:
            out.append(Finding(RISK_CATEGORY, f"line {line.gnum}: category {sku.category} is high-risk"))
        floor = risk.min_price_ratio * sku.unit_value_fen
        if line.price_fen < floor:
            out.append(Finding(RISK_LOW_PRICE, f"line {line.gnum}: price {line.price_fen} < {floor:.0f}"))
    recent = history.orders_in_window(order.buyer_id_number, now - DAY_S) + 1
    if recent > risk.max_orders_per_buyer_per_day:
        out.append(
            Finding(RISK_BUYER_FREQUENCY, f"{recent} orders in 24 h > {risk.max_orders_per_buyer_per_day}")
        )
    if order.order_type == "o2o":  # collected in person at the store's counter: no delivery address
        return out
    buyers = history.buyers_at_address(order.consignee_address, including=order.buyer_id_number)
    if buyers > risk.max_buyers_per_address:
        out.append(
            Finding(RISK_SHARED_ADDRESS, f"{buyers} buyers at one address > {risk.max_buyers_per_address}")
        )
    return out


_Rule = Callable[
    [CustomsOrder, Payment | None, Waybill | None, dict[str, Sku], CustomsConfig, GateHistory, float],
    list[Finding],
]
# Every rule in order, with the finding codes it can give (built once: the gate checks every parcel).
RULES: tuple[tuple[tuple[str, ...], _Rule], ...] = (
    ((DOC_MISSING,), lambda o, p, w, cat, cus, h, now: check_documents(o, p, w)),
    ((DOC_TEXT,), lambda o, p, w, cat, cus, h, now: check_text(o, p, w)),
    ((DUPLICATE_ORDER,), lambda o, p, w, cat, cus, h, now: check_duplicate(o, h)),
    ((UNKNOWN_SKU,), lambda o, p, w, cat, cus, h, now: check_skus(o, cat)),
    ((AMOUNT_MISMATCH,), lambda o, p, w, cat, cus, h, now: check_amounts(o, p)),
    ((PAYER_MISMATCH,), lambda o, p, w, cat, cus, h, now: check_payer(o, p)),
    ((CONSIGNEE_MISMATCH,), lambda o, p, w, cat, cus, h, now: check_consignee(o, w)),
    ((NOT_ON_POSITIVE_LIST,), lambda o, p, w, cat, cus, h, now: check_positive_list(o, cat, cus)),
    ((SINGLE_LIMIT,), lambda o, p, w, cat, cus, h, now: check_single_limit(o, cus)),
    ((ANNUAL_LIMIT,), lambda o, p, w, cat, cus, h, now: check_annual_limit(o, cus, h, now)),
    ((TAX_MISMATCH,), lambda o, p, w, cat, cus, h, now: check_tax(o, w, cat, cus)),
    (RISK_CODES, lambda o, p, w, cat, cus, h, now: check_risk(o, cat, cus, h, now)),
)


def check_order(
    order: CustomsOrder,
    payment: Payment | None,
    waybill: Waybill | None,
    catalog: dict[str, Sku],
    customs: CustomsConfig,
    history: GateHistory,
    now: float,
    codes: AbstractSet[str] | None = None,
) -> list[Finding]:
    """Every finding against an order and its documents, in rule order; empty means it may pass.

    With ``codes``, only findings of those codes, and only the rules that can give one are run (the
    intake looks for a few codes: the buyer's history is not read for the ones the gate checks later).
    """
    docs = (order, payment, waybill, catalog, customs, history, now)
    if codes is None:
        return [f for _, rule in RULES for f in rule(*docs)]
    return [f for gives, rule in RULES if not codes.isdisjoint(gives) for f in rule(*docs) if f.code in codes]
