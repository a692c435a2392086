"""Domain types every planner, simulator and the controller share: plain data, no I/O.

Money is in fen (1/100 CNY) as integers so that the customs arithmetic is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Zone(StrEnum):
    """Customs status of a storage area."""

    BONDED = "bonded"
    DUTY_PAID = "duty_paid"


class ParcelState(StrEnum):
    """Where a consumer order's parcel is on its path through the warehouse."""

    RECEIVED = "received"
    REJECTED = "rejected"
    ALLOCATED = "allocated"
    WAVED = "waved"
    PICKING = "picking"
    PICKED = "picked"
    PACKED = "packed"
    AT_INDUCT = "at_induct"
    SORTING = "sorting"
    SORTED = "sorted"
    AT_GATE = "at_gate"
    INSPECTING = "inspecting"
    RELEASED = "released"
    HELD = "held"
    DISPATCHED = "dispatched"


TERMINAL_STATES = frozenset({ParcelState.REJECTED, ParcelState.HELD, ParcelState.DISPATCHED})
OPEN_STATES = frozenset(ParcelState) - TERMINAL_STATES  # the warehouse still has the parcel
SLA_S = 24 * 3600.0  # every order leaves within 24 hours of its arrival


class LedgerKind(StrEnum):
    """Bonded ledger movements; received = in stock + released + returned + held (see `wms.reports`).

    RETURNED units came back from consumers into the returns area (so they count as released no longer);
    RESTOCKED ones left the returns area for sellable stock; ADJUSTED is a signed stock-count correction;
    REJECTED records a rejected order's units going back to available stock (no balance changes).
    """

    RECEIVED = "received"
    RELEASED = "released"
    RETURNED = "returned"
    RESTOCKED = "restocked"
    HELD = "held"
    ADJUSTED = "adjusted"
    REJECTED = "rejected"


class Strict(BaseModel):
    """Base of inbound messages: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sku(Strict):
    """A stock-keeping unit as registered in the bonded account book."""

    sku: str = Field(min_length=1, max_length=64)
    name: str
    hs_code: str = Field(pattern=r"^\d{10}$")
    category: str
    unit_value_fen: int = Field(gt=0)
    weight_kg: float = Field(gt=0)
    volume_l: float = Field(gt=0)
    zone: Zone = Zone.BONDED
    hazard: bool = False


class LotReceipt(Strict):
    """Bonded stock received under a customs entry (one SKU, one lot)."""

    lot: str = Field(min_length=1, max_length=64)
    sku: str
    qty: int = Field(gt=0)
    entry_no: str = Field(min_length=1, description="customs import entry (declaration) number")
    account_book: str = Field(min_length=1, description="bonded account book number (emsNo)")
    expiry: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class OrderLine(Strict):
    """One line of a CEB311 order."""

    gnum: int = Field(ge=1, le=99)
    sku: str = Field(min_length=1)
    name: str
    qty: int = Field(gt=0)
    price_fen: int = Field(ge=0)
    total_fen: int = Field(ge=0)


class CustomsOrder(Strict):
    """The e-commerce platform's order declaration (CEB311)."""

    order_no: str = Field(min_length=1, max_length=60)
    order_type: Literal["regular", "o2o"] = "regular"
    ebp_code: str
    ebc_code: str
    goods_value_fen: int = Field(ge=0)
    freight_fen: int = Field(ge=0)
    discount_fen: int = Field(ge=0)
    tax_total_fen: int = Field(ge=0)
    actural_paid_fen: int = Field(ge=0)
    buyer_reg_no: str
    buyer_name: str
    buyer_phone: str
    buyer_id_type: int
    buyer_id_number: str
    pay_code: str
    pay_transaction_id: str
    consignee: str
    consignee_phone: str
    consignee_address: str
    lines: list[OrderLine] = Field(min_length=1, max_length=99)


class Payment(Strict):
    """The payment company's declaration (CEB411)."""

    pay_code: str
    pay_transaction_id: str
    order_no: str
    payer_id_type: int
    payer_id_number: str
    payer_name: str
    amount_paid_fen: int = Field(ge=0)
    pay_time: str = Field(pattern=r"^\d{14}$")


class Waybill(Strict):
    """The logistics company's declaration (CEB511); ``carrier`` is the logistics code."""

    carrier: str
    logistics_no: str
    order_no: str
    freight_fen: int = Field(ge=0)
    insured_fee_fen: int = Field(ge=0)
    weight_kg: float = Field(gt=0)
    consignee: str
    consignee_phone: str
    consignee_address: str
    route: str = Field(default="", description="destination region used to pick a chute")


class OrderBundle(Strict):
    """What the order feed sends: an order with whatever documents have arrived."""

    order: CustomsOrder
    payment: Payment | None = None
    waybill: Waybill | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """A position on the floor, in metres."""

    x: float
    y: float
