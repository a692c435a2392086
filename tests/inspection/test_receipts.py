"""Receipts CEB312/412/512/622: official samples parse into plain records; malformed ones raise CebError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wms.inspection.ceb import CebError
from wms.inspection.receipts import Receipt, for_order, message_kind, parse_receipts


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
NS = "http://www.chinaport.gov.cn/ceb"


def _sample(kind: str) -> bytes:
    assert SPEC is not None
    return (SPEC / "samples" / f"CEB{kind}Message.xml").read_bytes()


def _receipt(kind: str, body: str) -> bytes:
    element = {
        "312": "OrderReturn",
        "412": "PaymentReturn",
        "512": "LogisticsReturn",
        "622": "InventoryReturn",
    }
    return (
        f'<CEB{kind}Message xmlns="{NS}" guid="G" version="1.0"><{element[kind]}>{body}</{element[kind]}>'
        f"</CEB{kind}Message>"
    ).encode()


GUID = "<guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</guid>"
STATUS = (
    "<returnStatus>100</returnStatus><returnTime>20240310120000123</returnTime><returnInfo>退单</returnInfo>"
)


@needs_spec
def test_order_receipts_sample() -> None:
    receipts = parse_receipts(_sample("312"))
    assert len(receipts) == 10
    first = receipts[0]
    assert (first.message, first.order_no, first.return_status, first.return_time) == (
        "CEB312",
        "order20160321116420545",
        "2",
        "20160428182238000",
    )
    assert first.guid == "4CDE1CFD-EDED-46B1-946C-B8022E42FC94"
    assert first.return_info.startswith("新增申报成功")
    assert first.status_text == "电子口岸申报中" and not first.failed


@needs_spec
def test_payment_and_waybill_receipt_samples() -> None:
    pay = parse_receipts(_sample("412"))[0]
    assert (pay.message, pay.pay_transaction_id, pay.return_status) == ("CEB412", "P0321000433", "120")
    assert pay.status_text == "海关入库"
    wb = parse_receipts(_sample("512"))[0]
    assert (wb.message, wb.logistics_no, wb.guid) == (
        "CEB512",
        "L20160321114400001",
        "4CDE1CFD-EDED-46B1-946C-B8022E42FC96",
    )


@needs_spec
def test_inventory_receipt_sample_has_pre_entry_number() -> None:
    inv = parse_receipts(_sample("622"))[0]
    assert (inv.message, inv.cop_no, inv.pre_no, inv.invt_no) == (
        "CEB622",
        "cop2016032211000",
        "B20160512000001882",
        "",
    )
    assert (inv.return_status, inv.return_info, inv.status_text) == ("1", "暂存", "电子口岸已暂存")
    cst = timezone(timedelta(hours=8))
    assert inv.timestamp() == datetime(2016, 5, 12, 10, 26, 46, 1000, tzinfo=cst).timestamp()
    assert inv.to_json() == {
        "message": "CEB622",
        "guid": "4CDE1CFD-EDED-46B1-946C-B8022E42FC94",
        "returnStatus": "1",
        "returnTime": "20160512102646001",
        "returnInfo": "暂存",
        "copNo": "cop2016032211000",
        "preNo": "B20160512000001882",
    }


@needs_spec
@pytest.mark.parametrize(
    "kind", ["311", "312", "411", "412", "511", "512", "621", "622", "623", "625", "711"]
)
def test_message_kind_of_every_sample(kind: str) -> None:
    assert message_kind(_sample(kind)) == f"CEB{kind}"


@needs_spec
def test_documents_are_not_receipts() -> None:
    with pytest.raises(CebError, match="receipt"):
        parse_receipts(_sample("311"))


def test_invt_no_and_failure() -> None:
    xml = _receipt("622", GUID + "<copNo>C1</copNo><preNo>B1</preNo><invtNo>I1</invtNo>" + STATUS)
    r = parse_receipts(xml)[0]
    assert (r.invt_no, r.failed, r.status_text) == ("I1", True, "海关退单")
    neg = parse_receipts(
        _receipt(
            "312",
            GUID + "<orderNo>O</orderNo><returnStatus>-301010</returnStatus>"
            "<returnTime>20240310120000</returnTime><returnInfo>格式错误</returnInfo>",
        )
    )
    assert neg[0].failed and neg[0].status_text == "处理异常"


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not xml", b"receipt"),
    ("unclosed", b'<CEB312Message xmlns="http://www.chinaport.gov.cn/ceb"><OrderReturn>'),
    ("no namespace", b"<CEB312Message><OrderReturn/></CEB312Message>"),
    ("no documents", f'<CEB312Message xmlns="{NS}"/>'.encode()),
    ("missing key", _receipt("312", GUID + STATUS)),
    (
        "missing status",
        _receipt(
            "312",
            GUID + "<orderNo>O</orderNo><returnTime>20240310120000</returnTime><returnInfo>x</returnInfo>",
        ),
    ),
    (
        "status not a number",
        _receipt("412", GUID + "<payTransactionId>P</payTransactionId>" + STATUS.replace(">100<", ">ok<")),
    ),
    (
        "bad time",
        _receipt("512", GUID + "<logisticsNo>L</logisticsNo>" + STATUS.replace("20240310120000123", "2024")),
    ),
    ("622 without preNo", _receipt("622", GUID + "<copNo>C1</copNo>" + STATUS)),
    ("entity", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'),
]


@pytest.mark.parametrize(("what", "xml"), MALFORMED, ids=[w for w, _ in MALFORMED])
def test_malformed_receipts_raise_ceb_error(what: str, xml: bytes) -> None:
    with pytest.raises(CebError):
        parse_receipts(xml)


def test_receipts_match_the_documents_of_an_order() -> None:
    def make(message: str, **keys: str) -> Receipt:
        return Receipt(message, "G", "2", "20240310120000", "", **keys)

    receipts = [
        make("CEB312", order_no="EO2024031000000001"),
        make("CEB312", order_no="EO-OTHER"),
        make("CEB412", pay_transaction_id="P1"),
        make("CEB512", logistics_no="SF1"),
        make("CEB622", cop_no="EO2024031000000001"[-20:], pre_no="B1"),
    ]
    found = for_order(receipts, "EO2024031000000001", "P1", "SF1")
    assert [r.message for r in found] == ["CEB312", "CEB412", "CEB512", "CEB622"]
    assert for_order(receipts, "EO9", "", "") == []
