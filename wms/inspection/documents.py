"""Inputs of ``wms inspect``: docs.jsonl lines with official CEB field names, a SKU catalogue, year-to-date.

A docs.jsonl line is ``{"order": {CEB311 head fields…, "lines": [{CEB311 list fields…}]}, "payment":
{CEB411 fields…}, "waybill": {CEB511 fields…}}``; an absent document is an absent key (or null). Amounts are
CNY with at most 2 decimals, as JSON numbers or strings, and become integer fen exactly. Fields of the
official messages the warehouse does not use are accepted and dropped; any other key is an error, so a
typo never passes silently. Errors name the input line and the field (``order.lines[0].price``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wms.domain import CustomsOrder, OrderBundle, OrderLine, Payment, Sku, Waybill
from wms.inspection.ceb import (
    CURRENCY,
    CebError,
    parse_ceb311,
    parse_ceb411,
    parse_ceb511,
    route_of_address,
    yuan,
)
from wms.inspection.receipts import KINDS as RECEIPT_KINDS
from wms.inspection.receipts import Receipt, message_kind, parse_receipts
from wms.limits import check_file, check_size

_PLAIN = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)$")
_MAX_DIGITS = 15  # whole digits of any amount or number: far beyond real values, cheap to convert
_FEN = Decimal("0.01")


def _names(text: str) -> frozenset[str]:
    """A set of field names from a space-separated list."""
    return frozenset(text.split())


# Every field of the official documents (ceb-import-202205.xsd), used or not.
ORDER_HEAD_FIELDS = _names(
    "guid appType appTime appStatus orderType orderNo ebpCode ebpName ebcCode ebcName goodsValue "
    "freight discount taxTotal acturalPaid currency buyerRegNo buyerName buyerTelephone buyerIdType "
    "buyerIdNumber payCode payName payTransactionId batchNumbers consignee consigneeTelephone "
    "consigneeAddress consigneeDistrict note"
)
ORDER_LIST_FIELDS = _names(
    "gnum itemNo itemName gmodel itemDescribe barCode unit qty price totalPrice currency country note"
)
PAYMENT_FIELDS = _names(
    "guid appType appTime appStatus payCode payName payTransactionId orderNo ebpCode ebpName "
    "payerIdType payerIdNumber payerName telephone amountPaid currency payTime note"
)
LOGISTICS_FIELDS = _names(
    "guid appType appTime appStatus logisticsCode logisticsName logisticsNo billNo orderNo freight "
    "insuredFee currency weight packNo goodsInfo consignee consigneeAddress consigneeTelephone note"
)

# official name → (domain name, kind, required); kinds: str, fen, int, float
Spec = dict[str, tuple[str, str, bool]]
ORDER_SPEC: Spec = {
    "orderNo": ("order_no", "str", True),
    "ebpCode": ("ebp_code", "str", True),
    "ebcCode": ("ebc_code", "str", True),
    "goodsValue": ("goods_value_fen", "fen", True),
    "freight": ("freight_fen", "fen", True),
    "discount": ("discount_fen", "fen", True),
    "taxTotal": ("tax_total_fen", "fen", True),
    "acturalPaid": ("actural_paid_fen", "fen", True),
    "buyerRegNo": ("buyer_reg_no", "str", True),
    "buyerName": ("buyer_name", "str", True),
    "buyerTelephone": ("buyer_phone", "str", True),
    "buyerIdType": ("buyer_id_type", "int", True),
    "buyerIdNumber": ("buyer_id_number", "str", True),
    "payCode": ("pay_code", "str", False),
    "payTransactionId": ("pay_transaction_id", "str", False),
    "consignee": ("consignee", "str", True),
    "consigneeTelephone": ("consignee_phone", "str", True),
    "consigneeAddress": ("consignee_address", "str", True),
}
LINE_SPEC: Spec = {
    "gnum": ("gnum", "int", True),
    "itemNo": ("sku", "str", True),
    "itemName": ("name", "str", True),
    "qty": ("qty", "int", True),
    "price": ("price_fen", "fen", True),
    "totalPrice": ("total_fen", "fen", True),
}
PAYMENT_SPEC: Spec = {
    "payCode": ("pay_code", "str", True),
    "payTransactionId": ("pay_transaction_id", "str", True),
    "orderNo": ("order_no", "str", True),
    "payerIdType": ("payer_id_type", "int", True),
    "payerIdNumber": ("payer_id_number", "str", True),
    "payerName": ("payer_name", "str", True),
    "amountPaid": ("amount_paid_fen", "fen", True),
    "payTime": ("pay_time", "str", True),
}
WAYBILL_SPEC: Spec = {
    "logisticsCode": ("carrier", "str", True),
    "logisticsNo": ("logistics_no", "str", True),
    "orderNo": ("order_no", "str", True),
    "freight": ("freight_fen", "fen", False),
    "insuredFee": ("insured_fee_fen", "fen", False),
    "weight": ("weight_kg", "float", True),
    "consignee": ("consignee", "str", True),
    "consigneeTelephone": ("consignee_phone", "str", True),
    "consigneeAddress": ("consignee_address", "str", True),
}


class DocumentError(ValueError):
    """One docs.jsonl line cannot be read; ``problems`` are ``(field, problem)`` pairs."""

    def __init__(self, line: int, problems: list[tuple[str, str]], order_no: str | None = None) -> None:
        self.line = line
        self.problems = problems
        self.order_no = order_no
        super().__init__(f"line {line}: " + "; ".join(f"{f}: {p}" if f else p for f, p in problems))

    @property
    def fields(self) -> list[str]:
        """The fields named, in order."""
        return [f for f, _ in self.problems if f]


class InputError(ValueError):
    """An input file as a whole (catalogue, year-to-date totals) is missing or invalid."""


# ---------------------------------------------------------------------------------------------- values


def to_fen(value: object) -> int:
    """A non-negative CNY amount (JSON number or decimal string, at most 2 decimals) as integer fen."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a CNY amount")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, str) and _PLAIN.match(value.strip()):
        amount = Decimal(value.strip())
    else:
        raise ValueError(f"{value!r} is not a CNY amount")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} is not a non-negative CNY amount")
    if amount.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"{_short(value)} is too large")
    if amount != amount.quantize(_FEN):
        raise ValueError(f"{value!r} has more than 2 decimals")
    return int(amount * 100)


def _number(value: object) -> Decimal:
    """A finite JSON number or plain decimal string of at most 15 whole digits as a Decimal."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | Decimal):
        n = Decimal(value)
    elif isinstance(value, float):
        n = Decimal(repr(value))
    elif isinstance(value, str) and _PLAIN.match(value.strip()):
        n = Decimal(value.strip())
    else:
        raise ValueError(f"{_short(value)} is not a number")
    if not n.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if n.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"{_short(value)} is too large")
    return n


def _short(value: object) -> str:
    """``repr`` of a value, cut to 40 characters for messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value: object) -> int:
    """A whole number given as a JSON number or digit string."""
    n = _number(value)
    if not n.is_finite() or n != n.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(n)


def _text(value: object) -> str:
    """A JSON string, stripped."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value.strip()


_CONVERT: dict[str, Callable[[object], Any]] = {
    "str": _text,
    "fen": to_fen,
    "int": _whole,
    "float": lambda v: float(_number(v)),
}


# ---------------------------------------------------------------------------------------------- documents


class _Reader:
    """Collects ``(field, problem)`` pairs while converting the documents of one line."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fields(
        self, raw: dict[str, Any], spec: Spec, where: str, known: frozenset[str]
    ) -> dict[str, Any] | None:
        """Domain keyword arguments from an official-name dict, or None after noting every problem."""
        before = len(self.problems)
        out: dict[str, Any] = {}
        for key in raw:
            if key not in known:
                self.problems.append((f"{where}.{key}", "not a field of the official document"))
        for official, (name, kind, required) in spec.items():
            value = raw.get(official)
            if value is None or (isinstance(value, str) and not value.strip()):
                if required:
                    self.problems.append((f"{where}.{official}", "missing or empty"))
                else:
                    out[name] = 0 if kind == "fen" else ""
                continue
            try:
                out[name] = _CONVERT[kind](value)
            except (ValueError, InvalidOperation) as exc:
                self.problems.append((f"{where}.{official}", str(exc)))
        currency = raw.get("currency")
        if currency is not None and str(currency).strip() != CURRENCY:
            self.problems.append((f"{where}.currency", f"{currency!r} is not CNY ({CURRENCY})"))
        return out if len(self.problems) == before else None

    def build(self, model: type[BaseModel], kwargs: dict[str, Any] | None, spec: Spec, where: str) -> Any:
        """The domain model, or None with its validation problems named by official field."""
        if kwargs is None:
            return None
        official = {name: key for key, (name, _, _) in spec.items()}
        try:
            return model(**kwargs)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                name = official.get(loc[0], loc[0]) if loc else ""
                self.problems.append((f"{where}.{name}" if name else where, err["msg"]))
            return None

    def document(self, raw: object, where: str) -> dict[str, Any] | None:
        """A document object, or None when absent; anything else is a problem."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problems.append((where, "not a JSON object"))
            return None
        return raw


def _order(r: _Reader, raw: dict[str, Any]) -> CustomsOrder | None:
    """The CEB311 order of a line."""
    kwargs = r.fields(raw, ORDER_SPEC, "order", ORDER_HEAD_FIELDS | {"lines"})
    kind = raw.get("orderType")
    if kind is not None and kind != "I":
        r.problems.append(("order.orderType", f"{kind!r} is not an import order (I)"))
    raw_lines = raw.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        r.problems.append(("order.lines", "missing, empty or not a list"))
        return None
    lines = []
    for i, item in enumerate(raw_lines):
        where = f"order.lines[{i}]"
        if not isinstance(item, dict):
            r.problems.append((where, "not a JSON object"))
            continue
        line = r.build(OrderLine, r.fields(item, LINE_SPEC, where, ORDER_LIST_FIELDS), LINE_SPEC, where)
        if line is not None:
            lines.append(line)
    if r.problems or kwargs is None:
        return None
    order_type = "o2o" if raw.get("note") == "o2o" else "regular"
    return r.build(CustomsOrder, {**kwargs, "order_type": order_type, "lines": lines}, ORDER_SPEC, "order")


def _payment(r: _Reader, raw: dict[str, Any]) -> Payment | None:
    """The CEB411 payment of a line."""
    kwargs = r.fields(raw, PAYMENT_SPEC, "payment", PAYMENT_FIELDS)
    return r.build(Payment, kwargs, PAYMENT_SPEC, "payment")


def _waybill(r: _Reader, raw: dict[str, Any]) -> Waybill | None:
    """The CEB511 waybill of a line; the route comes from the consignee address."""
    kwargs = r.fields(raw, WAYBILL_SPEC, "waybill", LOGISTICS_FIELDS)
    if kwargs is not None:
        kwargs["route"] = route_of_address(kwargs["consignee_address"])
    return r.build(Waybill, kwargs, WAYBILL_SPEC, "waybill")


def order_no_of(data: object) -> str | None:
    """The order number of a raw line, when it has a readable one."""
    if isinstance(data, dict) and isinstance(data.get("order"), dict):
        value = data["order"].get("orderNo")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_bundle(data: object, line: int) -> OrderBundle:
    """One decoded docs.jsonl line as an `OrderBundle`; raises `DocumentError` naming every bad field."""
    order_no = order_no_of(data)
    if not isinstance(data, dict):
        raise DocumentError(line, [("", "not a JSON object")])
    r = _Reader()
    for key in data:
        if key not in ("order", "payment", "waybill"):
            r.problems.append((key, "not one of order, payment, waybill"))
    raw_order = r.document(data.get("order"), "order")
    raw_payment = r.document(data.get("payment"), "payment")
    raw_waybill = r.document(data.get("waybill"), "waybill")
    if raw_order is None and all(name != "order" for name, _ in r.problems):
        r.problems.append(("order", "missing"))
    order = _order(r, raw_order) if raw_order is not None else None
    payment = _payment(r, raw_payment) if raw_payment is not None else None
    waybill = _waybill(r, raw_waybill) if raw_waybill is not None else None
    if r.problems or order is None:
        raise DocumentError(line, r.problems, order_no)
    return OrderBundle(order=order, payment=payment, waybill=waybill)


def _no_constant(name: str) -> object:
    """JSON has no NaN or Infinity."""
    raise ValueError(f"{name} is not a JSON number")


def decode(text: str, line: int) -> object:
    """A docs.jsonl line as JSON with exact decimals; raises `DocumentError` if it is not valid JSON."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(line, [("", f"not valid JSON: {exc}")]) from None


def read_documents(lines: Iterable[str | bytes]) -> Iterator[tuple[int, OrderBundle | DocumentError]]:
    """``(line number, bundle or error)`` for each non-blank line (text, or UTF-8 bytes), in input order."""
    for number, raw in enumerate(lines, 1):
        try:
            text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            yield number, DocumentError(number, [("", f"not UTF-8: {exc.reason} at byte {exc.start}")])
            continue
        if not text.strip():
            continue
        try:
            check_size(text, "line", error=ValueError)
        except ValueError as exc:
            yield number, DocumentError(number, [("", str(exc))])
            continue
        try:
            yield number, parse_bundle(decode(text, number), number)
        except DocumentError as exc:
            yield number, exc


@dataclass
class CebBatch:
    """The documents and receipts of a folder of CEB messages, with the files that could not be read."""

    orders: list[tuple[str, CustomsOrder]] = field(default_factory=list)
    payments: dict[str, Payment] = field(default_factory=dict)
    waybills: dict[str, Waybill] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_ceb_dir(path: str | Path) -> CebBatch:
    """Every ``*.xml`` CEB message of a folder, in name order: 311 orders, 411/511 by order, receipts.

    The first payment and waybill of an order count. A file that is malformed is listed in ``errors``
    (all its documents are lost: CEB parsing is per message); other message kinds go to ``skipped``.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    batch = CebBatch()
    for file in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".xml"):
        try:
            check_file(file, file.name, error=CebError)
            raw = file.read_bytes()
            kind = message_kind(raw)
            if kind == "CEB311":
                batch.orders += [(f"{file.name} #{i}", o) for i, o in enumerate(parse_ceb311(raw), 1)]
            elif kind == "CEB411":
                for p in parse_ceb411(raw):
                    batch.payments.setdefault(p.order_no, p)
            elif kind == "CEB511":
                for w in parse_ceb511(raw):
                    batch.waybills.setdefault(w.order_no, w)
            elif kind in RECEIPT_KINDS:
                batch.receipts += parse_receipts(raw)
            else:
                batch.skipped.append((file.name, f"{kind} is not read by the gate"))
        except CebError as exc:
            batch.errors.append((file.name, str(exc)))
        except OSError as exc:
            batch.errors.append((file.name, f"cannot read: {exc.strerror or exc}"))
    return batch


def bundle_to_json(bundle: OrderBundle) -> dict[str, Any]:
    """A bundle as a docs.jsonl object with official field names and CNY amounts (the inverse of reading)."""
    out: dict[str, Any] = {"order": _official(bundle.order, ORDER_SPEC)}
    out["order"]["lines"] = [_official(line, LINE_SPEC) for line in bundle.order.lines]
    if bundle.order.order_type == "o2o":
        out["order"]["note"] = "o2o"
    if bundle.payment is not None:
        out["payment"] = _official(bundle.payment, PAYMENT_SPEC)
    if bundle.waybill is not None:
        out["waybill"] = _official(bundle.waybill, WAYBILL_SPEC)
    return out


def _official(model: BaseModel, spec: Spec) -> dict[str, Any]:
    """A domain model's fields under their official names; amounts as CNY strings, numbers as text."""
    out: dict[str, Any] = {}
    for official, (name, kind, _) in spec.items():
        value = getattr(model, name)
        out[official] = yuan(value) if kind == "fen" else value if kind == "str" else str(value)
    return out


# ---------------------------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class _Csv:
    """Rows of a CSV file with required columns, as dicts, with their line numbers."""

    path: Path
    columns: tuple[str, ...]

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(line, row)`` pairs; raises `InputError` if the file or a column is missing."""
        try:
            check_file(self.path, error=InputError)
            text = self.path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
        reader = csv.DictReader(text.splitlines())
        try:
            missing = [c for c in self.columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{self.path}: missing column(s) {', '.join(missing)}")
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}
        except csv.Error as exc:
            raise InputError(f"{self.path}: line {max(reader.line_num, 1)}: malformed CSV: {exc}") from None


def load_catalog_csv(path: str | Path) -> dict[str, Sku]:
    """A catalogue from CSV: sku,hs_code,category,unit_value_cny,weight_kg,volume_l (and optionally name)."""
    source = _Csv(Path(path), ("sku", "hs_code", "category", "unit_value_cny", "weight_kg", "volume_l"))
    catalog: dict[str, Sku] = {}
    for line, row in source.rows():
        try:
            value = to_fen(row["unit_value_cny"])
            sku = Sku(
                sku=row["sku"],
                name=row.get("name") or row["sku"],
                hs_code=row["hs_code"],
                category=row["category"],
                unit_value_fen=value,
                weight_kg=float(_number(row["weight_kg"])),
                volume_l=float(_number(row["volume_l"])),
            )
        except ValueError as exc:  # ValidationError is a ValueError
            raise InputError(f"{path}: line {line}: {_problem(exc)}") from None
        if sku.sku in catalog:
            raise InputError(f"{path}: line {line}: SKU {sku.sku} appears twice")
        catalog[sku.sku] = sku
    return catalog


def load_ytd(path: str | Path) -> dict[str, int]:
    """Year-to-date released value (fen) per buyer ID number from CSV buyerIdNumber,released_cny (summed)."""
    totals: dict[str, int] = {}
    for line, row in _Csv(Path(path), ("buyerIdNumber", "released_cny")).rows():
        buyer = row["buyerIdNumber"]
        if not buyer:
            raise InputError(f"{path}: line {line}: buyerIdNumber is empty")
        try:
            fen = to_fen(row["released_cny"])
        except ValueError as exc:
            raise InputError(f"{path}: line {line}: released_cny: {exc}") from None
        totals[buyer] = totals.get(buyer, 0) + fen
    return totals


def _problem(exc: ValueError) -> str:
    """A short description of a conversion or validation error."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)
