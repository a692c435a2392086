"""Customs receipts (回执) CEB312 / 412 / 512 / 622 as plain records for a parcel's history.

Each receipt answers one declared document: CEB312 an order (by ``orderNo``), CEB412 a payment
(``payTransactionId``), CEB512 a waybill (``logisticsNo``), CEB622 an inventory list (``copNo``, with the
pre-entry ``preNo`` and, once assigned, the inventory number ``invtNo``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lxml import etree

from wms.inspection.ceb import NS, CebError
from wms.inspection.safexml import parse_xml
from wms.limits import MAX_FILE_BYTES, MAX_PAYLOAD_BYTES

# returnStatus values as ceb-import-202205.xsd documents them; below 0 is a processing error.
STATUS_TEXT: dict[str, str] = {
    "1": "电子口岸已暂存",
    "2": "电子口岸申报中",
    "3": "发送海关成功",
    "4": "发送海关失败",
    "100": "海关退单",
    "120": "海关入库",
    "300": "人工审核",
    "399": "海关审结",
    "500": "查验",
    "501": "扣留移送通关",
    "502": "扣留移送缉私",
    "503": "扣留移送法规",
    "599": "其它扣留",
    "700": "退运",
    "800": "放行",
    "899": "结关",
}
FAILED = frozenset({"4", "100"})
_Q = f"{{{NS}}}"
_STATUS = re.compile(r"^(?=.{1,10}$)-?\d+$")  # xs:string maxLength 10
_TIME = re.compile(r"^\d{14}(\d{3})?$")

# message → (document element, key fields it must carry)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CEB312": ("OrderReturn", ("orderNo",)),
    "CEB412": ("PaymentReturn", ("payTransactionId",)),
    "CEB512": ("LogisticsReturn", ("logisticsNo",)),
    "CEB622": ("InventoryReturn", ("copNo", "preNo")),
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """One receipt: which document it answers, the status customs returned, when, and its text."""

    message: str
    guid: str
    return_status: str
    return_time: str
    return_info: str
    order_no: str = ""
    pay_transaction_id: str = ""
    logistics_no: str = ""
    cop_no: str = ""
    pre_no: str = ""
    invt_no: str = ""

    @property
    def status_text(self) -> str:
        """The meaning of ``returnStatus``."""
        if self.return_status.startswith("-"):
            return "处理异常"
        return STATUS_TEXT.get(self.return_status, "未知状态")

    @property
    def failed(self) -> bool:
        """Whether the declaration failed: not sent, returned by customs, or a processing error."""
        return self.return_status in FAILED or self.return_status.startswith("-")

    def timestamp(self, utc_offset_h: float = 8.0) -> float:
        """``returnTime`` (local, YYYYMMDDhhmmss[SSS]) as a UNIX timestamp."""
        tz = timezone(timedelta(hours=utc_offset_h))
        base = datetime.strptime(self.return_time[:14], "%Y%m%d%H%M%S").replace(tzinfo=tz).timestamp()
        return base + int(self.return_time[14:] or 0) / 1000

    def to_json(self) -> dict[str, str]:
        """The receipt with official field names (empty ones left out)."""
        fields = {
            "message": self.message,
            "guid": self.guid,
            "returnStatus": self.return_status,
            "returnTime": self.return_time,
            "returnInfo": self.return_info,
            "orderNo": self.order_no,
            "payTransactionId": self.pay_transaction_id,
            "logisticsNo": self.logistics_no,
            "copNo": self.cop_no,
            "preNo": self.pre_no,
            "invtNo": self.invt_no,
        }
        return {k: v for k, v in fields.items() if v}


def message_kind(xml: bytes) -> str:
    """``CEBnnn`` of a message's root element; raises `CebError` if it is not a well-formed CEB message."""
    root = _parse(xml, "CEB message", MAX_FILE_BYTES)
    tag = root.tag if isinstance(root.tag, str) else ""
    match = re.fullmatch(rf"{re.escape(_Q)}(CEB\d{{3}})Message", tag)
    if not match:
        raise CebError(f"root element {root.tag!r} is not a CEB message in namespace {NS}")
    return match.group(1)


def _parse(xml: bytes, what: str, limit: int = MAX_PAYLOAD_BYTES) -> etree._Element:
    """Parse safely: size-limited, no DTD, entities or network (see `wms.inspection.safexml`)."""
    return parse_xml(xml, what, CebError, limit)


def _text(el: etree._Element, name: str, where: str, required: bool = True) -> str:
    """Stripped text of child ``name``; raises `CebError` if required and absent (empty is allowed)."""
    child = el.find(_Q + name)
    if child is None:
        if required:
            raise CebError(f"{where}: missing <{name}>")
        return ""
    return (child.text or "").strip()


def _receipt(kind: str, el: etree._Element, where: str) -> Receipt:
    """One return element as a `Receipt`."""
    values = {name: _text(el, name, where) for name in ("guid", "returnStatus", "returnTime", "returnInfo")}
    for name in ("guid", "returnStatus", "returnTime"):
        if not values[name]:
            raise CebError(f"{where}: empty <{name}>")
    if not _STATUS.match(values["returnStatus"]):
        raise CebError(f"{where}: <returnStatus> {values['returnStatus']!r} is not a status code")
    if not _TIME.match(values["returnTime"]):
        raise CebError(f"{where}: <returnTime> {values['returnTime']!r} is not YYYYMMDDhhmmss[SSS]")
    keys = {name: _text(el, name, where) for name in KINDS[kind][1]}
    for name, value in keys.items():
        if not value:
            raise CebError(f"{where}: empty <{name}>")
    return Receipt(
        message=kind,
        guid=values["guid"],
        return_status=values["returnStatus"],
        return_time=values["returnTime"],
        return_info=values["returnInfo"],
        order_no=_text(el, "orderNo", where, required=False),
        pay_transaction_id=keys.get("payTransactionId", ""),
        logistics_no=keys.get("logisticsNo", ""),
        cop_no=keys.get("copNo", ""),
        pre_no=keys.get("preNo", ""),
        invt_no=_text(el, "invtNo", where, required=False),
    )


def parse_receipts(xml: bytes) -> list[Receipt]:
    """Every receipt of a CEB312/412/512/622 message; raises `CebError` if malformed or of another kind."""
    root = _parse(xml, "receipt")
    tag = root.tag if isinstance(root.tag, str) else ""
    kind = tag[len(_Q) : -len("Message")] if tag.startswith(_Q) and tag.endswith("Message") else ""
    if kind not in KINDS:
        raise CebError(f"root element {tag!r} is not a CEB312/412/512/622 receipt")
    element = KINDS[kind][0]
    docs = root.findall(_Q + element)
    if not docs:
        raise CebError(f"{kind}: no <{element}>")
    return [_receipt(kind, el, f"{kind} {element} #{i}") for i, el in enumerate(docs, 1)]


def for_order(
    receipts: list[Receipt], order_no: str, pay_transaction_id: str, logistics_no: str
) -> list[Receipt]:
    """The receipts answering an order's documents; a CEB622 matches the CEB621 ``copNo`` (order number)."""
    cop_nos = {order_no, order_no[-20:]}
    return [
        r
        for r in receipts
        if (r.message == "CEB312" and r.order_no == order_no)
        or (r.message == "CEB412" and pay_transaction_id and r.pay_transaction_id == pay_transaction_id)
        or (r.message == "CEB512" and logistics_no and r.logistics_no == logistics_no)
        or (r.message == "CEB622" and r.cop_no in cop_nos)
    ]
