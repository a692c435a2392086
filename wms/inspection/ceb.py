"""CEB messages of China Customs' cross-border e-commerce system (202205): writers, parsers, XSD check.

Element order follows ``ceb-import-202205.xsd``; amounts are CNY with 2 decimals (currency 142), times
``YYYYMMDDhhmmss`` local. Domain ↔ CEB mapping, where they differ:

- ``OrderLine.sku`` ↔ ``itemNo`` (optional in CEB, required here); ``CustomsOrder.order_type`` has no CEB
  field: CEB's ``orderType`` is always ``I`` and an ``o2o`` order is marked by the order ``note`` ``o2o``.
- ``Waybill.carrier`` ↔ ``logisticsCode``; ``Waybill.route`` has no CEB field and is derived from
  ``consigneeAddress`` by `route_of_address` ("" when the province is not recognised).
- Enterprise names, units, origin countries, GUIDs and BaseTransfer are CEB-only: writers take them as
  arguments (names default to the codes), parsers drop them.
- Money must be whole fen and quantities whole units; a message the strict domain models cannot represent
  raises `CebError`, as does malformed or incomplete XML.
- CEB621 must carry a ``ds:Signature``: the writer emits an unsigned SM2/SM3 skeleton with ``appStatus`` 1
  (stored, not declared) for a signing service to fill in before declaring.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from lxml import etree
from pydantic import ValidationError

from wms.clock import split_seconds
from wms.domain import CustomsOrder, OrderLine, Payment, Sku, Waybill
from wms.inspection.safexml import parse_xml
from wms.inspection.safexml import parser as safe_parser
from wms.limits import MAX_FILE_BYTES

NS = "http://www.chinaport.gov.cn/ceb"
DS = "http://www.w3.org/2000/09/xmldsig#"
CURRENCY = "142"
VERSION = "1.0"
MAX_DOCS = 100
_Q = f"{{{NS}}}"
_GUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, NS)
_DECIMAL = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)$")
_MAX_INT_DIGITS = 14  # xs:decimal totalDigits 19, fractionDigits 5
_FEN = Decimal("0.01")
T = TypeVar("T")


class CebError(ValueError):
    """A CEB message is malformed, incomplete, or cannot be represented by the domain models."""


REGION_OF_PROVINCE: dict[str, str] = {
    **dict.fromkeys(("北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江"), "north"),
    **dict.fromkeys(("上海", "江苏", "浙江", "安徽", "山东"), "east"),
    **dict.fromkeys(("广东", "广西", "福建", "海南"), "south"),
    **dict.fromkeys(("河南", "湖北", "湖南", "江西"), "central"),
    **dict.fromkeys(("重庆", "四川", "贵州", "云南", "陕西", "甘肃", "宁夏"), "west"),
    **dict.fromkeys(("新疆", "西藏", "青海"), "remote"),
}

# Deal unit per category (JGS-20 unit codes: 011 piece, 122 can, 142 bottle, 001 set); default 011.
UNIT_BY_CATEGORY: dict[str, str] = {"infant_formula": "122", "wine": "142", "appliances": "001"}
UNIT_KG = "035"


def route_of_address(address: str) -> str:
    """Delivery region of a Chinese address from its province prefix, or "" if not recognised."""
    text = address.strip()
    for province, region in REGION_OF_PROVINCE.items():
        if text.startswith(province):
            return region
    return ""


def timestamp(now: float, utc_offset_h: float = 8.0) -> str:
    """``YYYYMMDDhhmmss`` in local time at ``utc_offset_h`` (each second formatted once: every order and
    every inventory list asks for a few)."""
    return _timestamp(split_seconds(now)[0], utc_offset_h)


@functools.lru_cache(maxsize=4096)
def _timestamp(second: int, utc_offset_h: float) -> str:
    tz = UTC if utc_offset_h == 0 else timezone(timedelta(hours=utc_offset_h))
    return datetime.fromtimestamp(second, tz).strftime("%Y%m%d%H%M%S")


def yuan(fen: int) -> str:
    """Fen as a CNY decimal with 2 decimals ("123.45")."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _decimal_text(x: float) -> str:
    """A float as a plain decimal with at most 5 fraction digits (the XSD's fractionDigits)."""
    text = repr(round(x, 5))
    if "." in text and "e" not in text:  # plain notation: normalising only drops trailing zeros
        return text.rstrip("0").rstrip(".")
    return format(Decimal(text).normalize(), "f")


def _guid(*parts: str) -> str:
    """A deterministic 36-character upper-case GUID for a message or document."""
    return str(uuid.uuid5(_GUID_NS, "|".join(parts))).upper()


# ---------------------------------------------------------------------------------------------- writing


def _sub(parent: etree._Element, name: str, text: str | int | None) -> etree._Element:
    """Append ``<ceb:name>text</ceb:name>``."""
    el = etree.SubElement(parent, _Q + name)
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: etree._Element, name: str, text: str) -> None:
    """Append an optional element only when it has a value."""
    if text:
        _sub(parent, name, text)


def _message(kind: str, guid: str) -> etree._Element:
    """The root element of a CEB message."""
    return etree.Element(_Q + f"{kind}Message", {"guid": guid, "version": VERSION}, nsmap={"ceb": NS})


def _app_fields(guid: str, stamp: str, app_status: str) -> dict[str, str]:
    """The four leading fields every document head has."""
    return {"guid": guid, "appType": "1", "appTime": stamp, "appStatus": app_status}


def _app(head: etree._Element, guid: str, now: float, utc_offset_h: float, app_status: str) -> None:
    for name, value in _app_fields(guid, timestamp(now, utc_offset_h), app_status).items():
        _sub(head, name, value)


def _sender_fields(cop_code: str, cop_name: str, dxp_id: str | None) -> dict[str, str]:
    """The fields of the sender block (BaseTransfer) required after the documents."""
    return {
        "copCode": cop_code,
        "copName": cop_name,
        "dxpMode": "DXP",
        "dxpId": dxp_id or f"DXPENT{cop_code}"[:30],
    }


def _base_transfer(root: etree._Element, cop_code: str, cop_name: str, dxp_id: str | None) -> None:
    bt = _sub(root, "BaseTransfer", None)
    for name, value in _sender_fields(cop_code, cop_name, dxp_id).items():
        _sub(bt, name, value)


def _serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _check_count(kind: str, docs: list[object]) -> None:
    """A message carries 1..100 documents."""
    if not 1 <= len(docs) <= MAX_DOCS:
        raise CebError(f"{kind}: a message carries 1..{MAX_DOCS} documents, got {len(docs)}")


def _name(names: Mapping[str, str] | None, code: str) -> str:
    """An enterprise's registered name, or its code when unknown."""
    return (names or {}).get(code) or code


def ceb311(
    orders: list[CustomsOrder],
    catalog: Mapping[str, Sku],
    *,
    now: float,
    ebp_name: str | None = None,
    names: Mapping[str, str] | None = None,
    origin: Mapping[str, str] | None = None,
    default_origin: str = "116",
    utc_offset_h: float = 8.0,
    app_status: str = "2",
    cop_code: str | None = None,
    cop_name: str | None = None,
    dxp_id: str | None = None,
) -> bytes:
    """CEB311 order message; ``names`` maps enterprise codes to names, ``origin`` SKU to country code."""
    _check_count("CEB311", orders)
    stamp = timestamp(now, utc_offset_h)
    root = _message("CEB311", _guid("311", stamp, *(o.order_no for o in orders)))
    for order in orders:
        doc = _sub(root, "Order", None)
        head = _sub(doc, "OrderHead", None)
        _app(head, _guid("311", stamp, order.order_no), now, utc_offset_h, app_status)
        for name, value in (
            ("orderType", "I"),
            ("orderNo", order.order_no),
            ("ebpCode", order.ebp_code),
            ("ebpName", ebp_name or _name(names, order.ebp_code)),
            ("ebcCode", order.ebc_code),
            ("ebcName", _name(names, order.ebc_code)),
            ("goodsValue", yuan(order.goods_value_fen)),
            ("freight", yuan(order.freight_fen)),
            ("discount", yuan(order.discount_fen)),
            ("taxTotal", yuan(order.tax_total_fen)),
            ("acturalPaid", yuan(order.actural_paid_fen)),
            ("currency", CURRENCY),
            ("buyerRegNo", order.buyer_reg_no),
            ("buyerName", order.buyer_name),
            ("buyerTelephone", order.buyer_phone),
            ("buyerIdType", str(order.buyer_id_type)),
            ("buyerIdNumber", order.buyer_id_number),
        ):
            _sub(head, name, value)
        _opt(head, "payCode", order.pay_code)
        _opt(head, "payName", _name(names, order.pay_code) if order.pay_code else "")
        _opt(head, "payTransactionId", order.pay_transaction_id)
        _sub(head, "consignee", order.consignee)
        _sub(head, "consigneeTelephone", order.consignee_phone)
        _sub(head, "consigneeAddress", order.consignee_address)
        _opt(head, "note", "o2o" if order.order_type == "o2o" else "")
        for line in order.lines:
            sku = catalog.get(line.sku)
            item = _sub(doc, "OrderList", None)
            _sub(item, "gnum", line.gnum)
            _sub(item, "itemNo", line.sku)
            _sub(item, "itemName", line.name)
            _sub(item, "gmodel", sku.name if sku else line.name)
            _sub(item, "unit", UNIT_BY_CATEGORY.get(sku.category, "011") if sku else "011")
            _sub(item, "qty", line.qty)
            _sub(item, "price", yuan(line.price_fen))
            _sub(item, "totalPrice", yuan(line.total_fen))
            _sub(item, "currency", CURRENCY)
            _sub(item, "country", (origin or {}).get(line.sku, default_origin))
    sender = cop_code or orders[0].ebp_code
    _base_transfer(root, sender, cop_name or ebp_name or _name(names, sender), dxp_id)
    return _serialize(root)


def ceb411(
    payments: list[Payment],
    *,
    now: float,
    ebp_code: str,
    ebp_name: str | None = None,
    names: Mapping[str, str] | None = None,
    utc_offset_h: float = 8.0,
    app_status: str = "2",
    cop_code: str | None = None,
    cop_name: str | None = None,
    dxp_id: str | None = None,
) -> bytes:
    """CEB411 payment message; the payment lacks the platform, so ``ebp_code`` is given here."""
    _check_count("CEB411", payments)
    stamp = timestamp(now, utc_offset_h)
    root = _message("CEB411", _guid("411", stamp, *(p.pay_transaction_id for p in payments)))
    for pay in payments:
        head = _sub(_sub(root, "Payment", None), "PaymentHead", None)
        _app(head, _guid("411", stamp, pay.pay_transaction_id), now, utc_offset_h, app_status)
        for name, value in (
            ("payCode", pay.pay_code),
            ("payName", _name(names, pay.pay_code)),
            ("payTransactionId", pay.pay_transaction_id),
            ("orderNo", pay.order_no),
            ("ebpCode", ebp_code),
            ("ebpName", ebp_name or _name(names, ebp_code)),
            ("payerIdType", str(pay.payer_id_type)),
            ("payerIdNumber", pay.payer_id_number),
            ("payerName", pay.payer_name),
            ("amountPaid", yuan(pay.amount_paid_fen)),
            ("currency", CURRENCY),
            ("payTime", pay.pay_time),
        ):
            _sub(head, name, value)
    sender = cop_code or payments[0].pay_code
    _base_transfer(root, sender, cop_name or _name(names, sender), dxp_id)
    return _serialize(root)


def ceb511(
    waybills: list[Waybill],
    *,
    now: float,
    names: Mapping[str, str] | None = None,
    utc_offset_h: float = 8.0,
    app_status: str = "2",
    cop_code: str | None = None,
    cop_name: str | None = None,
    dxp_id: str | None = None,
) -> bytes:
    """CEB511 waybill message; ``Waybill.carrier`` is written as ``logisticsCode``, one parcel each."""
    _check_count("CEB511", waybills)
    stamp = timestamp(now, utc_offset_h)
    root = _message("CEB511", _guid("511", stamp, *(w.logistics_no for w in waybills)))
    for wb in waybills:
        head = _sub(_sub(root, "Logistics", None), "LogisticsHead", None)
        _app(head, _guid("511", stamp, wb.logistics_no), now, utc_offset_h, app_status)
        for name, value in (
            ("logisticsCode", wb.carrier),
            ("logisticsName", _name(names, wb.carrier)),
            ("logisticsNo", wb.logistics_no),
            ("orderNo", wb.order_no),
            ("freight", yuan(wb.freight_fen)),
            ("insuredFee", yuan(wb.insured_fee_fen)),
            ("currency", CURRENCY),
            ("weight", _decimal_text(wb.weight_kg)),
            ("packNo", "1"),
            ("consignee", wb.consignee),
            ("consigneeAddress", wb.consignee_address),
            ("consigneeTelephone", wb.consignee_phone),
        ):
            _sub(head, name, value)
    sender = cop_code or waybills[0].carrier
    _base_transfer(root, sender, cop_name or _name(names, sender), dxp_id)
    return _serialize(root)


# The unsigned ds:Signature skeleton (SM2/SM3) that a signing service completes, as lxml pretty-prints it.
_CEB621_SIGNATURE = f"""\
  <ds:Signature xmlns:ds="{DS}">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
      <ds:SignatureMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"/>
      <ds:Reference URI="">
        <ds:Transforms>
          <ds:Transform Algorithm="{DS}enveloped-signature"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue></ds:SignatureValue>
  </ds:Signature>
"""
_NOT_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"  # not XML 1.0 Chars: lxml refuses them
NOT_XML_CHAR = re.compile(f"[{_NOT_XML}]")  # a character no CEB message can carry (the gate's DOC_TEXT)
_TEXT_SPECIAL = re.compile(f"[&<>\r{_NOT_XML}]")  # and those that element text escapes


def _text_fields(kind: str, indent: str, fields: dict[str, str]) -> str:
    """``<ceb:name>text</ceb:name>`` lines, text escaped as lxml escapes it; `CebError` if XML forbids it."""
    if _TEXT_SPECIAL.search("".join(fields.values())) is not None:
        fields = {name: _escape_text(kind, name, text) for name, text in fields.items()}
    return _fields_template(indent, tuple(fields)) % tuple(fields.values())


@functools.lru_cache(maxsize=16)
def _fields_template(indent: str, names: tuple[str, ...]) -> str:
    """A ``%`` template of ``<ceb:name>%s</ceb:name>`` lines (every CEB621 has the same few field lists)."""
    return "".join(f"{indent}<ceb:{name}>%s</ceb:{name}>\n" for name in names)


def _escape_text(kind: str, name: str, text: str) -> str:
    """Element text escaped as lxml escapes it; `CebError` for a character XML 1.0 forbids."""
    if NOT_XML_CHAR.search(text):
        raise CebError(f"{kind}: <{name}> {text!r} has a character that XML does not allow")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def ceb621(
    order: CustomsOrder,
    waybill: Waybill,
    catalog: Mapping[str, Sku],
    *,
    ems_no: str,
    customs_code: str,
    port_code: str,
    now: float,
    agent_code: str | None = None,
    agent_name: str | None = None,
    area_code: str | None = None,
    area_name: str | None = None,
    assure_code: str | None = None,
    item_records: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    origin: Mapping[str, str] | None = None,
    default_origin: str = "116",
    traf_mode: str = "4",
    utc_offset_h: float = 8.0,
    app_status: str = "1",
    dxp_id: str | None = None,
) -> bytes:
    """CEB621 bonded (1210) import inventory list of one parcel, with an unsigned signature skeleton.

    ``agent_code`` (the declarant) defaults to the seller, ``area_code`` (the bonded warehouse) to the agent,
    ``item_records`` maps SKU to the account-book item number (default: the SKU). Text with a character
    that XML 1.0 does not allow (NUL, control characters) raises `CebError`.
    """
    if waybill.order_no != order.order_no:
        raise CebError(
            f"CEB621: waybill {waybill.logistics_no} is for order {waybill.order_no}, not {order.order_no}"
        )
    missing = [line.sku for line in order.lines if line.sku not in catalog]
    if missing:
        raise CebError(f"CEB621: order {order.order_no} has SKUs not in the catalog: {missing}")
    agent = agent_code or order.ebc_code
    area = area_code or agent
    net = sum(catalog[line.sku].weight_kg * line.qty for line in order.lines)
    stamp = timestamp(now, utc_offset_h)
    head = {
        **_app_fields(_guid("621", stamp, order.order_no, waybill.logistics_no), stamp, app_status),
        "orderNo": order.order_no,
        "ebpCode": order.ebp_code,
        "ebpName": _name(names, order.ebp_code),
        "ebcCode": order.ebc_code,
        "ebcName": _name(names, order.ebc_code),
        "logisticsNo": waybill.logistics_no,
        "logisticsCode": waybill.carrier,
        "logisticsName": _name(names, waybill.carrier),
        "copNo": order.order_no[-20:],
        "assureCode": assure_code or order.ebc_code,
        "emsNo": ems_no,
        "ieFlag": "I",
        "declTime": stamp[:8],
        "customsCode": customs_code,
        "portCode": port_code,
        "buyerIdType": str(order.buyer_id_type),
        "buyerIdNumber": order.buyer_id_number,
        "buyerName": order.buyer_name,
        "buyerTelephone": order.buyer_phone,
        "consigneeAddress": order.consignee_address,
        "agentCode": agent,
        "agentName": agent_name or _name(names, agent),
        "areaCode": area,
        "areaName": area_name or _name(names, area),
        "tradeMode": "1210",
        "trafMode": traf_mode,
        "country": "142",
        "freight": yuan(waybill.freight_fen),
        "insuredFee": yuan(waybill.insured_fee_fen),
        "currency": CURRENCY,
        "packNo": "1",
        "grossWeight": _decimal_text(max(waybill.weight_kg, net)),
        "netWeight": _decimal_text(net),
    }
    message_guid = _guid("621", stamp, order.order_no)
    # Text laid out exactly as lxml pretty-prints the tree (2-space indent, empty text as <a></a>).
    xml = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<ceb:CEB621Message xmlns:ceb="{NS}" guid="{message_guid}" version="{VERSION}">\n',
        "  <ceb:Inventory>\n    <ceb:InventoryHead>\n",
        _text_fields("CEB621", "      ", head),
        "    </ceb:InventoryHead>\n",
    ]
    for line in order.lines:
        sku = catalog[line.sku]
        legal_unit, legal_qty = (
            ("001", float(line.qty))
            if sku.hs_code.startswith("8509")
            else (UNIT_KG, max(sku.weight_kg * line.qty, 0.001))
        )
        item = {
            "gnum": str(line.gnum),
            "itemRecordNo": (item_records or {}).get(line.sku, line.sku),
            "itemNo": line.sku,
            "itemName": line.name,
            "gcode": sku.hs_code,
            "gname": line.name,
            "gmodel": sku.name,
            "country": (origin or {}).get(line.sku, default_origin),
            "currency": CURRENCY,
            "qty": str(line.qty),
            "unit": UNIT_BY_CATEGORY.get(sku.category, "011"),
            "qty1": _decimal_text(legal_qty),
            "unit1": legal_unit,
            "price": yuan(line.price_fen),
            "totalPrice": yuan(line.total_fen),
        }
        xml += (
            "    <ceb:InventoryList>\n",
            _text_fields("CEB621", "      ", item),
            "    </ceb:InventoryList>\n",
        )
    sender = _sender_fields(agent, agent_name or _name(names, agent), dxp_id)
    xml += (
        "  </ceb:Inventory>\n  <ceb:BaseTransfer>\n",
        _text_fields("CEB621", "    ", sender),
        "  </ceb:BaseTransfer>\n",
        _CEB621_SIGNATURE,
        "</ceb:CEB621Message>\n",
    )
    return "".join(xml).encode()


# ---------------------------------------------------------------------------------------------- parsing


def _root(xml: bytes, kind: str) -> etree._Element:
    """Parse safely (size-limited, no DTD, entities or network) and check the root element."""
    root = parse_xml(xml, kind, CebError, MAX_FILE_BYTES)
    if root.tag != f"{_Q}{kind}Message":
        raise CebError(f"{kind}: root element is {root.tag!r}, expected {{{NS}}}{kind}Message")
    return root


class _Fields:
    """Typed access to the child fields of one document element, with errors naming the document."""

    def __init__(self, el: etree._Element, where: str) -> None:
        self.el = el
        self.where = where

    def text(self, name: str, required: bool = True) -> str:
        """Stripped text of ``<ceb:name>``; "" if optional and absent."""
        child = self.el.find(_Q + name)
        value = (child.text or "").strip() if child is not None else ""
        if required and not value:
            raise CebError(f"{self.where}: missing or empty <{name}>")
        return value

    def decimal(self, name: str, required: bool = True) -> Decimal | None:
        """A non-negative xs:decimal field, or None if optional and absent."""
        raw = self.text(name, required)
        if not raw:
            return None
        if not _DECIMAL.match(raw):
            raise CebError(f"{self.where}: <{name}> {raw!r} is not a non-negative decimal")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise CebError(f"{self.where}: <{name}> {raw!r} is not a decimal") from None
        if value.adjusted() >= _MAX_INT_DIGITS:
            raise CebError(f"{self.where}: <{name}> {raw[:30]!r} has over {_MAX_INT_DIGITS} whole digits")
        return value

    def fen(self, name: str, required: bool = True) -> int:
        """A CNY amount as whole fen (0 if optional and absent)."""
        value = self.decimal(name, required)
        if value is None:
            return 0
        if value != value.quantize(_FEN):
            raise CebError(f"{self.where}: <{name}> {value} CNY is not a whole number of fen")
        return int(value * 100)

    def whole(self, name: str) -> int:
        """A required whole number (quantities, gnum, id types)."""
        value = self.decimal(name)
        assert value is not None
        if value != value.to_integral_value():
            raise CebError(f"{self.where}: <{name}> {value} is not a whole number")
        return int(value)

    def number(self, name: str) -> float:
        """A required decimal as float (weights)."""
        value = self.decimal(name)
        assert value is not None
        return float(value)


def _build(where: str, factory: Callable[..., T], **fields: object) -> T:
    """Construct a strict domain model, turning validation errors into `CebError`."""
    try:
        return factory(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CebError(f"{where}: cannot be represented: {problems}") from None


def _documents(root: etree._Element, kind: str, doc: str, head: str) -> list[tuple[str, etree._Element]]:
    """``(where, head element)`` of each document; at least one is required."""
    docs = root.findall(_Q + doc)
    if not docs:
        raise CebError(f"{kind}: no <{doc}> document")
    out = []
    for i, el in enumerate(docs, 1):
        h = el.find(_Q + head)
        if h is None:
            raise CebError(f"{kind} {doc} #{i}: missing <{head}>")
        out.append((f"{kind} {doc} #{i}", h))
    return out


def _currency(f: _Fields) -> None:
    """Amounts must be in CNY."""
    cur = f.text("currency", required=False)
    if cur and cur != CURRENCY:
        raise CebError(f"{f.where}: currency {cur!r} is not CNY ({CURRENCY})")


def _order_line(el: etree._Element, where: str) -> OrderLine:
    """One ``OrderList`` as an `OrderLine`."""
    f = _Fields(el, where)
    _currency(f)
    sku = f.text("itemNo", required=False)
    if not sku:
        raise CebError(f"{where}: missing <itemNo>; the warehouse needs the SKU")
    return _build(
        where,
        OrderLine,
        gnum=f.whole("gnum"),
        sku=sku,
        name=f.text("itemName"),
        qty=f.whole("qty"),
        price_fen=f.fen("price"),
        total_fen=f.fen("totalPrice"),
    )


def parse_ceb311(xml: bytes) -> list[CustomsOrder]:
    """Orders of a CEB311 message (import orders only)."""
    root = _root(xml, "CEB311")
    orders = []
    for where, head in _documents(root, "CEB311", "Order", "OrderHead"):
        f = _Fields(head, where)
        _currency(f)
        if (kind := f.text("orderType")) != "I":
            raise CebError(f"{where}: orderType {kind!r} is not an import order (I)")
        items = head.getparent().findall(_Q + "OrderList")
        if not items:
            raise CebError(f"{where}: no <OrderList> line")
        lines = [_order_line(el, f"{where} line #{i}") for i, el in enumerate(items, 1)]
        orders.append(
            _build(
                where,
                CustomsOrder,
                order_no=f.text("orderNo"),
                order_type="o2o" if f.text("note", required=False) == "o2o" else "regular",
                ebp_code=f.text("ebpCode"),
                ebc_code=f.text("ebcCode"),
                goods_value_fen=f.fen("goodsValue"),
                freight_fen=f.fen("freight"),
                discount_fen=f.fen("discount"),
                tax_total_fen=f.fen("taxTotal"),
                actural_paid_fen=f.fen("acturalPaid"),
                buyer_reg_no=f.text("buyerRegNo"),
                buyer_name=f.text("buyerName"),
                buyer_phone=f.text("buyerTelephone"),
                buyer_id_type=f.whole("buyerIdType"),
                buyer_id_number=f.text("buyerIdNumber"),
                pay_code=f.text("payCode", required=False),
                pay_transaction_id=f.text("payTransactionId", required=False),
                consignee=f.text("consignee"),
                consignee_phone=f.text("consigneeTelephone"),
                consignee_address=f.text("consigneeAddress"),
                lines=lines,
            )
        )
    return orders


def parse_ceb411(xml: bytes) -> list[Payment]:
    """Payments of a CEB411 message."""
    root = _root(xml, "CEB411")
    payments = []
    for where, head in _documents(root, "CEB411", "Payment", "PaymentHead"):
        f = _Fields(head, where)
        _currency(f)
        payments.append(
            _build(
                where,
                Payment,
                pay_code=f.text("payCode"),
                pay_transaction_id=f.text("payTransactionId"),
                order_no=f.text("orderNo"),
                payer_id_type=f.whole("payerIdType"),
                payer_id_number=f.text("payerIdNumber"),
                payer_name=f.text("payerName"),
                amount_paid_fen=f.fen("amountPaid"),
                pay_time=f.text("payTime"),
            )
        )
    return payments


def parse_ceb511(xml: bytes) -> list[Waybill]:
    """Waybills of a CEB511 message; the route is derived from the consignee address."""
    root = _root(xml, "CEB511")
    waybills = []
    for where, head in _documents(root, "CEB511", "Logistics", "LogisticsHead"):
        f = _Fields(head, where)
        _currency(f)
        address = f.text("consigneeAddress")
        waybills.append(
            _build(
                where,
                Waybill,
                carrier=f.text("logisticsCode"),
                logistics_no=f.text("logisticsNo"),
                order_no=f.text("orderNo"),
                freight_fen=f.fen("freight", required=False),
                insured_fee_fen=f.fen("insuredFee", required=False),
                weight_kg=f.number("weight"),
                consignee=f.text("consignee"),
                consignee_phone=f.text("consigneeTelephone"),
                consignee_address=address,
                route=route_of_address(address),
            )
        )
    return waybills


# ---------------------------------------------------------------------------------------------- validation


@functools.lru_cache(maxsize=4)
def _schema(path: str) -> etree.XMLSchema:
    """The compiled XSD (imports resolved relative to its file), cached per path."""
    return etree.XMLSchema(etree.parse(path))


def validate(xml: bytes, xsd_path: str | Path) -> list[str]:
    """XSD validation errors of a message ("line N: message"), empty when it is valid."""
    schema = _schema(str(Path(xsd_path).resolve()))
    try:
        doc = etree.fromstring(xml, safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        return [f"not well-formed XML: {exc}"]
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
