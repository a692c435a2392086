"""docs.jsonl lines with official CEB field names, exact CNY → fen, MALFORMED naming line and field; CSVs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from simulators.order_feed import OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import OrderBundle
from wms.inspection.ceb import route_of_address
from wms.inspection.documents import (
    DocumentError,
    InputError,
    bundle_to_json,
    decode,
    load_catalog_csv,
    load_ytd,
    parse_bundle,
    read_ceb_dir,
    read_documents,
    to_fen,
)

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)


def _spec_dir() -> Path | None:
    """``shared/customs/ceb-202205`` in a folder above this file, if there is one."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "customs" / "ceb-202205").is_dir():
            return parent / "shared" / "customs" / "ceb-202205"
    return None


SPEC = _spec_dir()
needs_spec = pytest.mark.skipif(
    SPEC is None, reason="shared/customs/ceb-202205 (official CEB samples) not found"
)


def _bundles(n: int, bad: float = 0.0, seed: int = 4) -> list[OrderBundle]:
    feed = WAREHOUSE.feed.model_copy(update={"bad_document_rate": bad})
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, feed, CUSTOMS, seed)
    return [model.next_bundle(1_710_050_000.0 + 41 * i) for i in range(n)]


BUNDLES = _bundles(80, bad=0.2)
LINE = {
    "order": {
        "orderNo": "EO1",
        "orderType": "I",
        "ebpCode": "4101966001",
        "ebpName": "平台",
        "ebcCode": "4101966101",
        "goodsValue": 199.9,
        "freight": "10",
        "discount": 0,
        "taxTotal": "19.10",
        "acturalPaid": "229.00",
        "currency": "142",
        "buyerRegNo": "U1",
        "buyerName": "王伟",
        "buyerTelephone": "13800000000",
        "buyerIdType": "1",
        "buyerIdNumber": "110101199001011234",
        "payCode": "3120966201",
        "payTransactionId": "P1",
        "consignee": "王伟",
        "consigneeTelephone": "13800000000",
        "consigneeAddress": "北京市海淀区人民路1号",
        "lines": [
            {
                "gnum": 1,
                "itemNo": "SKU00001",
                "itemName": "面霜",
                "qty": 2,
                "price": "99.95",
                "totalPrice": 199.9,
            }
        ],
    },
    "payment": {
        "payCode": "3120966201",
        "payTransactionId": "P1",
        "orderNo": "EO1",
        "payerIdType": 1,
        "payerIdNumber": "110101199001011234",
        "payerName": "王伟",
        "amountPaid": "229.00",
        "payTime": "20240310120000",
    },
    "waybill": {
        "logisticsCode": "SF",
        "logisticsNo": "SF1",
        "orderNo": "EO1",
        "freight": "10.00",
        "weight": "0.52",
        "consignee": "王伟",
        "consigneeTelephone": "13800000000",
        "consigneeAddress": "北京市海淀区人民路1号",
    },
}


def _text(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def _edit(doc: str, field: str, value: object, line: int | None = None) -> dict:
    """LINE with one field changed (``...`` removes it); ``line`` selects an order line."""
    data = json.loads(json.dumps(LINE))
    target = data[doc] if line is None else data[doc]["lines"][line]
    if value is ...:
        del target[field]
    else:
        target[field] = value
    return data


def _error(data: object, number: int = 3) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        parse_bundle(decode(_text(data), number), number)
    return info.value


def test_official_names_map_to_the_domain_with_exact_fen() -> None:
    b = parse_bundle(decode(_text(LINE), 1), 1)
    o = b.order
    assert (o.goods_value_fen, o.freight_fen, o.tax_total_fen, o.actural_paid_fen) == (
        19990,
        1000,
        1910,
        22900,
    )
    assert [(x.sku, x.qty, x.price_fen, x.total_fen) for x in o.lines] == [("SKU00001", 2, 9995, 19990)]
    assert (o.buyer_phone, o.buyer_id_type, o.pay_transaction_id) == ("13800000000", 1, "P1")
    assert b.payment is not None and (b.payment.amount_paid_fen, b.payment.payer_id_type) == (22900, 1)
    assert b.waybill is not None
    assert (b.waybill.carrier, b.waybill.insured_fee_fen, b.waybill.weight_kg) == ("SF", 0, 0.52)
    assert b.waybill.route == "north"


def test_generated_bundles_round_trip() -> None:
    lines = [_text(bundle_to_json(b)) for b in BUNDLES]
    back = [item for _, item in read_documents(lines)]
    for b, got in zip(BUNDLES, back, strict=True):
        assert isinstance(got, OrderBundle)
        assert got.order == b.order and got.payment == b.payment
        if b.waybill is not None:
            assert got.waybill == b.waybill.model_copy(
                update={"route": route_of_address(b.waybill.consignee_address)}
            )
        else:
            assert got.waybill is None


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        (0, 0),
        (1, 100),
        ("0.1", 10),
        (Decimal("0.30"), 30),
        ("12.34", 1234),
        (0.07, 7),
        (Decimal("1E+2"), 10000),
    ],
)
def test_to_fen_is_exact(value: object, fen: int) -> None:
    assert to_fen(value) == fen


@pytest.mark.parametrize(
    "value", ["ten", "", "1.005", "-1", "1e3", True, None, [], "NaN", Decimal("NaN"), -0.5]
)
def test_to_fen_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        to_fen(value)


BAD: list[tuple[str, dict, str]] = [
    ("non-numeric amount", _edit("order", "goodsValue", "ten"), "order.goodsValue"),
    ("fraction of a fen", _edit("order", "taxTotal", "1.234"), "order.taxTotal"),
    ("negative", _edit("order", "freight", -1), "order.freight"),
    ("missing field", _edit("payment", "payTime", ...), "payment.payTime"),
    ("empty field", _edit("order", "buyerName", "  "), "order.buyerName"),
    ("bad pay time", _edit("payment", "payTime", "2024"), "payment.payTime"),
    ("line price", _edit("order", "price", "x", line=0), "order.lines[0].price"),
    ("line qty", _edit("order", "qty", 1.5, line=0), "order.lines[0].qty"),
    ("line gnum", _edit("order", "gnum", 100, line=0), "order.lines[0].gnum"),
    ("no itemNo", _edit("order", "itemNo", ..., line=0), "order.lines[0].itemNo"),
    ("no lines", _edit("order", "lines", []), "order.lines"),
    ("weight zero", _edit("waybill", "weight", 0), "waybill.weight"),
    ("typo", _edit("waybill", "insuredFe", "1.00"), "waybill.insuredFe"),
    ("foreign currency", _edit("order", "currency", "502"), "order.currency"),
    ("export order", _edit("order", "orderType", "E"), "order.orderType"),
    ("id type text", _edit("order", "buyerIdType", "ID"), "order.buyerIdType"),
    ("number for text", _edit("order", "buyerRegNo", 7), "order.buyerRegNo"),
    ("unknown document", {**LINE, "invoice": {}}, "invoice"),
    ("document not an object", {**LINE, "payment": [1]}, "payment"),
    ("no order", {"payment": LINE["payment"]}, "order"),
]


@pytest.mark.parametrize(("what", "data", "field"), BAD, ids=[w for w, _, _ in BAD])
def test_malformed_names_line_and_field(what: str, data: dict, field: str) -> None:
    e = _error(data, 3)
    assert field in e.fields, what
    assert str(e).startswith("line 3: ") and field in str(e)


def test_every_problem_of_a_line_is_named() -> None:
    data = _edit("order", "goodsValue", "ten")
    data["payment"]["amountPaid"] = "lots"
    e = _error(data)
    assert e.fields == ["order.goodsValue", "payment.amountPaid"]
    assert e.order_no == "EO1"


def test_absent_documents_are_absent_keys_or_null() -> None:
    data = {"order": LINE["order"], "waybill": None}
    b = parse_bundle(decode(_text(data), 1), 1)
    assert b.payment is None and b.waybill is None


def test_bad_lines_do_not_stop_the_others() -> None:
    good = [_text(bundle_to_json(b)) for b in BUNDLES[:3]]
    lines: list[str | bytes] = [
        good[0],
        "{not json",
        "",
        _text(_edit("order", "acturalPaid", "abc")),
        "[1, 2]",
        good[1],
        "NaN",
        good[2],
    ]
    lines.append(b"\xff\xfe{}")
    out = list(read_documents(lines))
    assert [n for n, _ in out] == [1, 2, 4, 5, 6, 7, 8, 9]
    kinds = [type(x).__name__ for _, x in out]
    assert kinds == ["OrderBundle", "DocumentError", "DocumentError", "DocumentError"] + [
        "OrderBundle",
        "DocumentError",
        "OrderBundle",
        "DocumentError",
    ]
    assert "not valid JSON" in str(out[1][1]) and "order.acturalPaid" in str(out[2][1])
    assert "not UTF-8" in str(out[-1][1])


def test_catalog_csv(tmp_path: Path) -> None:
    path = tmp_path / "skus.csv"
    path.write_text(
        "sku,hs_code,category,unit_value_cny,weight_kg,volume_l\n"
        "A1,3304990099,cosmetics,129.00,0.2,0.3\n"
        "B2,1901101000,infant_formula,299,1.0,2.2\n",
        encoding="utf-8",
    )
    catalog = load_catalog_csv(path)
    assert catalog["A1"].unit_value_fen == 12900 and catalog["B2"].category == "infant_formula"
    path.write_text(path.read_text(encoding="utf-8") + "C3,33049900,cosmetics,1,1,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 4.*hs_code"):
        load_catalog_csv(path)
    (tmp_path / "cols.csv").write_text("sku,hs_code\nA,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="category"):
        load_catalog_csv(tmp_path / "cols.csv")
    with pytest.raises(InputError, match="cannot read"):
        load_catalog_csv(tmp_path / "absent.csv")


def test_year_to_date_csv(tmp_path: Path) -> None:
    path = tmp_path / "ytd.csv"
    path.write_text("buyerIdNumber,released_cny\nX1,100.50\nX2,0\nX1,1.25\n", encoding="utf-8")
    assert load_ytd(path) == {"X1": 10175, "X2": 0}
    path.write_text("buyerIdNumber,released_cny\nX1,a lot\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: released_cny"):
        load_ytd(path)


@needs_spec
def test_ceb_folder_of_official_samples() -> None:
    assert SPEC is not None
    batch = read_ceb_dir(SPEC / "samples")
    assert len(batch.orders) == 6 and batch.errors == []
    assert len(batch.payments) >= 1 and len(batch.waybills) >= 1
    assert {r.message for r in batch.receipts} == {"CEB312", "CEB412", "CEB512", "CEB622"}
    assert sorted(name for name, _ in batch.skipped) == [
        "CEB621Message.xml",
        "CEB623Message.xml",
        "CEB625Message.xml",
        "CEB711Message.xml",
    ]


def test_ceb_folder_reports_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"<broken")
    (tmp_path / "b.xml").write_bytes(b"<x/>")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    batch = read_ceb_dir(tmp_path)
    assert [name for name, _ in batch.errors] == ["a.xml", "b.xml"] and batch.orders == []
    with pytest.raises(InputError):
        read_ceb_dir(tmp_path / "absent")
