"""A consistent O2O order bundle (order, payment, waybill) for a shopper at a pickup counter: pure, no I/O.

The parcel's destination is the counter: the waybill's carrier is ``O2O`` and its route the counter id.
Freight is 0 (nothing is shipped); tax and the amount paid are computed exactly as the gate checks them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from simulators.order_feed import PARTY_NAMES, PAY_COMPANIES, PLATFORM_CODE, SELLERS, Buyer, id_check_digit
from wms.config import CustomsConfig
from wms.domain import CustomsOrder, OrderBundle, OrderLine, Payment, Sku, Waybill
from wms.inspection.ceb import timestamp
from wms.inspection.tax import compute_tax

CARRIER = "O2O"  # the same as wms.control.controller.O2O_CARRIER (a test keeps them equal)
STORE_ADDRESS = "河南省郑州市经开区跨境电商体验店O2O自提柜台"
STORE_SELLER = SELLERS[0]
NAMES = {**PARTY_NAMES, CARRIER: "体验店自提"}


class O2OOrderError(ValueError):
    """The lines or the shopper cannot make an O2O order (unknown SKU, bad quantity, no lines)."""


def parse_line(text: str) -> tuple[str, int]:
    """``SKU`` or ``SKU:QTY`` as ``(sku, qty)``; quantity 1 when omitted."""
    sku, _, qty = text.strip().partition(":")
    if not sku:
        raise O2OOrderError(f"line {text!r}: no SKU")
    try:
        n = int(qty) if qty else 1
    except ValueError:
        raise O2OOrderError(f"line {text!r}: quantity {qty!r} is not a whole number") from None
    if not 1 <= n <= 999:
        raise O2OOrderError(f"line {text!r}: quantity must be 1..999")
    return sku, n


def valid_id_number(id_number: str) -> bool:
    """Whether an 18-character resident ID number has the right form and GB 11643 check character."""
    return (
        len(id_number) == 18
        and id_number[:17].isdigit()
        and id_number[17].upper() == id_check_digit(id_number[:17])
    )


def shopper(id_number: str, name: str, phone: str, address: str = STORE_ADDRESS) -> Buyer:
    """A walk-in shopper as a `Buyer`: consignee is the shopper, the address the store's unless given."""
    if not valid_id_number(id_number):
        raise O2OOrderError(f"ID number {id_number!r} is not a valid 18-character resident ID")
    if not name.strip():
        raise O2OOrderError("the shopper's name is empty")
    reg = hashlib.sha256(id_number.upper().encode()).hexdigest()[:9].upper()
    return Buyer(
        reg_no=f"S{reg}",
        name=name.strip(),
        id_number=id_number.upper(),
        phone=phone,
        address=address,
        region="",
        consignee=name.strip(),
        consignee_phone=phone,
    )


def order_number(counter: str, now: float, seq: int, utc_offset_h: float = 8.0) -> str:
    """``O2O`` + local date and time + counter + sequence, e.g. ``O2O20261111093012C1-000007``."""
    return f"O2O{timestamp(now, utc_offset_h)}{counter}-{seq:06d}"


def o2o_bundle(
    lines: Sequence[tuple[str, int]],
    buyer: Buyer,
    counter: str,
    now: float,
    catalog: Mapping[str, Sku],
    customs: CustomsConfig,
    *,
    seq: int = 1,
    order_no: str | None = None,
    utc_offset_h: float = 8.0,
    paid_s_ago: float = 5.0,
) -> OrderBundle:
    """The order, payment and waybill of an O2O purchase of ``lines`` (sku, qty) picked up at ``counter``."""
    if not lines:
        raise O2OOrderError("an O2O order needs at least one line")
    merged: dict[str, int] = {}
    for sku, qty in lines:
        if sku not in catalog:
            raise O2OOrderError(f"SKU {sku!r} is not in the catalogue")
        if qty < 1:
            raise O2OOrderError(f"SKU {sku}: quantity {qty} must be at least 1")
        merged[sku] = merged.get(sku, 0) + qty
    if len(merged) > 99:
        raise O2OOrderError("an order has at most 99 lines")
    order_no = order_no or order_number(counter, now, seq, utc_offset_h)
    skus = [(catalog[s], q) for s, q in merged.items()]
    goods = sum(s.unit_value_fen * q for s, q in skus)
    waybill = Waybill(
        carrier=CARRIER,
        logistics_no=f"{CARRIER}{order_no.removeprefix('O2O')}",
        order_no=order_no,
        freight_fen=0,
        insured_fee_fen=0,
        weight_kg=round(sum(s.weight_kg * q for s, q in skus) * 1.05 + 0.1, 3),
        consignee=buyer.consignee,
        consignee_phone=buyer.consignee_phone,
        consignee_address=buyer.address,
        route=counter,
    )
    fields = dict(
        order_no=order_no,
        order_type="o2o",
        ebp_code=PLATFORM_CODE,
        ebc_code=STORE_SELLER,
        goods_value_fen=goods,
        freight_fen=0,
        discount_fen=0,
        tax_total_fen=0,
        actural_paid_fen=0,
        buyer_reg_no=buyer.reg_no,
        buyer_name=buyer.name,
        buyer_phone=buyer.phone,
        buyer_id_type=1,
        buyer_id_number=buyer.id_number,
        pay_code=PAY_COMPANIES[0],
        pay_transaction_id=f"P{order_no}",
        consignee=buyer.consignee,
        consignee_phone=buyer.consignee_phone,
        consignee_address=buyer.address,
        lines=[
            OrderLine(
                gnum=i,
                sku=s.sku,
                name=s.name,
                qty=q,
                price_fen=s.unit_value_fen,
                total_fen=q * s.unit_value_fen,
            )
            for i, (s, q) in enumerate(skus, 1)
        ],
    )
    by_id = catalog if isinstance(catalog, dict) else dict(catalog)
    tax = compute_tax(CustomsOrder(**fields), waybill, by_id, customs)
    order = CustomsOrder(**{**fields, "tax_total_fen": tax, "actural_paid_fen": goods + tax})
    payment = Payment(
        pay_code=order.pay_code,
        pay_transaction_id=order.pay_transaction_id,
        order_no=order_no,
        payer_id_type=1,
        payer_id_number=buyer.id_number,
        payer_name=buyer.name,
        amount_paid_fen=order.actural_paid_fen,
        pay_time=timestamp(now - paid_s_ago, utc_offset_h),
    )
    return OrderBundle(order=order, payment=payment, waybill=waybill)
