"""CEB311/411/511/621: generated messages validate against the XSD, samples parse, bad XML is refused."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from simulators.order_feed import PLATFORM_CODE, OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import CustomsOrder, OrderBundle, Waybill
from wms.inspection.ceb import (
    NS,
    CebError,
    _decimal_text,
    ceb311,
    ceb411,
    ceb511,
    ceb621,
    parse_ceb311,
    parse_ceb411,
    parse_ceb511,
    route_of_address,
    timestamp,
    validate,
    yuan,
)

CEB_DIR = Path(__file__).resolve().parents[3] / "shared" / "customs" / "ceb-202205"  # beside the repo
XSD = CEB_DIR / "xsd" / "ceb-import-202205.xsd"
SAMPLES = CEB_DIR / "samples"
needs_spec = pytest.mark.skipif(not XSD.exists(), reason=f"CEB 202205 specification not found at {CEB_DIR}")

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)
BY_ID = {s.sku: s for s in CATALOG}
NOW = 1_710_050_000.0


def _bundles(n: int, seed: int = 5) -> tuple[OrderFeedModel, list[OrderBundle]]:
    feed = WAREHOUSE.feed.model_copy(update={"bad_document_rate": 0})
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, feed, CUSTOMS, seed)
    return model, [model.next_bundle(NOW + 37 * i) for i in range(n)]


MODEL, BUNDLES = _bundles(100)
ORDERS = [b.order for b in BUNDLES]
PAYMENTS = [b.payment for b in BUNDLES if b.payment is not None]
WAYBILLS = [b.waybill for b in BUNDLES if b.waybill is not None]
XML311 = ceb311(ORDERS, BY_ID, now=NOW, ebp_name="模拟跨境电商平台", names=MODEL.names)


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _edit(xml: bytes, path: str, text: str | None, remove: bool = False) -> bytes:
    """Change (or remove) the first element at ``path`` (ceb: prefixed XPath) of a message."""
    root = etree.fromstring(xml)
    el = root.xpath(path, namespaces={"ceb": NS})[0]
    if remove:
        el.getparent().remove(el)
    else:
        el.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_amounts_are_two_decimal_yuan() -> None:
    assert [yuan(0), yuan(5), yuan(12345), yuan(100)] == ["0.00", "0.05", "123.45", "1.00"]


@needs_spec
def test_ceb311_validates_and_round_trips() -> None:
    assert validate(XML311, XSD) == []
    assert parse_ceb311(XML311) == ORDERS
    assert b"<ceb:currency>142</ceb:currency>" in XML311


@needs_spec
def test_ceb411_validates_and_round_trips() -> None:
    xml = ceb411(PAYMENTS, now=NOW, ebp_code=PLATFORM_CODE, names=MODEL.names)
    assert validate(xml, XSD) == []
    assert parse_ceb411(xml) == PAYMENTS


@needs_spec
def test_ceb511_validates_and_round_trips_with_route_from_address() -> None:
    xml = ceb511(WAYBILLS, now=NOW, names=MODEL.names)
    assert validate(xml, XSD) == []
    assert parse_ceb511(xml) == WAYBILLS


@needs_spec
def test_ceb621_validates_for_generated_parcels() -> None:
    for b in BUNDLES[:25]:
        assert b.waybill is not None
        xml = ceb621(
            b.order,
            b.waybill,
            BY_ID,
            ems_no="T4601W000001",
            customs_code="4601",
            port_code="4601",
            now=NOW,
            names=MODEL.names,
        )
        assert validate(xml, XSD) == [], b.order.order_no
    root = etree.fromstring(xml)
    head = root.find(f"{_q('Inventory')}/{_q('InventoryHead')}")
    assert head.findtext(_q("tradeMode")) == "1210"
    assert head.findtext(_q("emsNo")) == "T4601W000001"
    assert head.findtext(_q("logisticsNo")) == BUNDLES[24].waybill.logistics_no
    gcodes = [el.text for el in root.iter(_q("gcode"))]
    assert gcodes == [BY_ID[line.sku].hs_code for line in BUNDLES[24].order.lines]


def test_ceb621_refuses_mismatched_or_unknown_documents() -> None:
    b, other = BUNDLES[0], BUNDLES[1]
    assert b.waybill is not None and other.waybill is not None
    kwargs = dict(ems_no="T4601W000001", customs_code="4601", port_code="4601", now=NOW)
    with pytest.raises(CebError, match="waybill"):
        ceb621(b.order, other.waybill, BY_ID, **kwargs)
    with pytest.raises(CebError, match="not in the catalog"):
        ceb621(b.order, b.waybill, {}, **kwargs)


def _pretty(xml: bytes) -> bytes:
    """lxml's own pretty form of a message: indentation rebuilt, text fields kept as text ("" included)."""
    root = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    for el in root.iter():
        if len(el) == 0 and not el.attrib and el.text is None:  # <a></a> parses as no text at all
            el.text = ""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _ceb621(order: CustomsOrder, waybill: Waybill, **kwargs: object) -> bytes:
    return ceb621(
        order, waybill, BY_ID, ems_no="T4601W000001", customs_code="4601", port_code="4601", **kwargs
    )


def test_ceb621_is_written_as_lxml_pretty_prints_it() -> None:
    for b in BUNDLES:
        assert b.waybill is not None
        for names in (None, MODEL.names):
            xml = _ceb621(b.order, b.waybill, now=NOW + 3_600 * b.order.lines[0].qty, names=names)
            assert _pretty(xml) == xml, b.order.order_no


AWKWARD = st.text(
    st.one_of(
        st.sampled_from("&<>\"'\r\n\t ;#]中é😀\x7f\x85\u2028"),
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
    ),
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BUNDLES), st.lists(AWKWARD, min_size=7, max_size=7))
def test_ceb621_escapes_awkward_text_as_lxml_does(bundle: OrderBundle, texts: list[str]) -> None:
    order_no, buyer, address, phone, item, platform, agent = texts
    assert bundle.waybill is not None
    order = bundle.order.model_copy(
        update={
            "order_no": order_no,
            "buyer_name": buyer,
            "consignee_address": address,
            "buyer_phone": phone,
            "lines": [line.model_copy(update={"name": item}) for line in bundle.order.lines],
        }
    )
    waybill = bundle.waybill.model_copy(update={"order_no": order_no})
    xml = _ceb621(order, waybill, now=NOW, names={order.ebp_code: platform}, agent_name=agent)
    assert _pretty(xml) == xml
    head = etree.fromstring(xml).find(f"{_q('Inventory')}/{_q('InventoryHead')}")
    assert [head.findtext(_q(n)) for n in ("orderNo", "buyerName", "consigneeAddress", "buyerTelephone")] == [
        order_no,
        buyer,
        address,
        phone,
    ]
    assert head.findtext(_q("ebpName")) == (platform or order.ebp_code)
    assert head.findtext(_q("agentName")) == (agent or order.ebc_code)
    gnames = [el.text or "" for el in head.getparent().iter(_q("gname"))]
    assert gnames == [item] * len(order.lines)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ud800", "\ufffe"])
def test_ceb621_refuses_text_xml_cannot_carry(char: str) -> None:
    b = BUNDLES[0]
    assert b.waybill is not None
    order = b.order.model_copy(update={"buyer_name": f"张{char}三"})
    with pytest.raises(CebError, match="buyerName"):  # a ValueError, as lxml raises
        _ceb621(order, b.waybill, now=NOW)
    if char < " ":
        with pytest.raises(ValueError):
            etree.Element("a").text = order.buyer_name


@given(st.floats() | st.floats(0, 100).map(lambda x: round(x, 3)))
def test_decimal_text_is_the_normalised_decimal(x: float) -> None:
    assert _decimal_text(x) == format(Decimal(repr(round(x, 5))).normalize(), "f")


def test_o2o_orders_round_trip_via_the_note() -> None:
    o2o = ORDERS[0].model_copy(update={"order_type": "o2o"})
    assert parse_ceb311(ceb311([o2o], BY_ID, now=NOW)) == [o2o]


def test_message_size_limits() -> None:
    with pytest.raises(CebError, match="1..100"):
        ceb311([], BY_ID, now=NOW)
    with pytest.raises(CebError, match="1..100"):
        ceb311(ORDERS + ORDERS[:1], BY_ID, now=NOW)


@needs_spec
@pytest.mark.parametrize("kind", ["311", "411", "511", "621"])
def test_official_samples_validate(kind: str) -> None:
    assert validate((SAMPLES / f"CEB{kind}Message.xml").read_bytes(), XSD) == []


@needs_spec
def test_official_samples_parse() -> None:
    raw = (SAMPLES / "CEB311Message.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    orders = parse_ceb311(raw)
    assert len(orders) == 6
    first = orders[0]
    assert (first.order_no, first.goods_value_fen, first.freight_fen, first.actural_paid_fen) == (
        "order20160321116421002",
        1_400_000,
        500_000,
        1_905_000,
    )
    assert [(x.sku, x.qty, x.price_fen) for x in first.lines] == [
        ("AF001-001", 100, 2000),
        ("AF001-002", 200, 1000),
    ]
    payments = parse_ceb411((SAMPLES / "CEB411Message.xml").read_bytes())
    assert payments[0].amount_paid_fen == 1_905_000 and payments[0].pay_time == "20160315153555"
    waybills = parse_ceb511((SAMPLES / "CEB511Message.xml").read_bytes())
    assert waybills[0].carrier == "1101180326" and waybills[0].insured_fee_fen == 20_000
    assert waybills[0].route == "north"


def test_route_of_address() -> None:
    assert route_of_address("广东省深圳市南山区") == "south"
    assert route_of_address(" 新疆维吾尔自治区乌鲁木齐市") == "remote"
    assert route_of_address("Somewhere else") == ""


FIRST = "/ceb:CEB311Message/ceb:Order[1]/ceb:OrderHead"
LINE = "/ceb:CEB311Message/ceb:Order[1]/ceb:OrderList[1]"
MALFORMED_311: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not xml", b"hello"),
    ("unclosed", b"<ceb:CEB311Message xmlns:ceb='http://www.chinaport.gov.cn/ceb'><ceb:Order>"),
    ("truncated", XML311[: len(XML311) // 2]),
    ("wrong root", ceb411(PAYMENTS[:1], now=NOW, ebp_code=PLATFORM_CODE)),
    ("no namespace", b"<CEB311Message><Order/></CEB311Message>"),
    ("no orders", b"<ceb:CEB311Message xmlns:ceb='http://www.chinaport.gov.cn/ceb'/>"),
    ("no head", _edit(XML311, FIRST, None, remove=True)),
    ("no orderNo", _edit(XML311, f"{FIRST}/ceb:orderNo", None, remove=True)),
    ("empty orderNo", _edit(XML311, f"{FIRST}/ceb:orderNo", "  ")),
    ("fraction of a fen", _edit(XML311, f"{FIRST}/ceb:goodsValue", "1.234")),
    ("negative amount", _edit(XML311, f"{FIRST}/ceb:freight", "-1.00")),
    ("text amount", _edit(XML311, f"{FIRST}/ceb:taxTotal", "ten")),
    ("exponent amount", _edit(XML311, f"{FIRST}/ceb:taxTotal", "1e3")),
    ("foreign currency", _edit(XML311, f"{FIRST}/ceb:currency", "502")),
    ("export order", _edit(XML311, f"{FIRST}/ceb:orderType", "E")),
    ("id type not a number", _edit(XML311, f"{FIRST}/ceb:buyerIdType", "X")),
    ("no itemNo", _edit(XML311, f"{LINE}/ceb:itemNo", None, remove=True)),
    ("fractional qty", _edit(XML311, f"{LINE}/ceb:qty", "1.5")),
    ("zero qty", _edit(XML311, f"{LINE}/ceb:qty", "0")),
    ("gnum over 99", _edit(XML311, f"{LINE}/ceb:gnum", "100")),
    ("entity bomb", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><x>&a;</x>'),
]


@pytest.mark.parametrize(("what", "xml"), MALFORMED_311, ids=[w for w, _ in MALFORMED_311])
def test_malformed_ceb311_raises_ceb_error(what: str, xml: bytes) -> None:
    with pytest.raises(CebError):
        parse_ceb311(xml)


def test_malformed_411_and_511_raise_ceb_error() -> None:
    xml411 = ceb411(PAYMENTS[:3], now=NOW, ebp_code=PLATFORM_CODE)
    head411 = "/ceb:CEB411Message/ceb:Payment[1]/ceb:PaymentHead"
    with pytest.raises(CebError, match="payTime"):
        parse_ceb411(_edit(xml411, f"{head411}/ceb:payTime", None, remove=True))
    with pytest.raises(CebError, match="pay_time"):
        parse_ceb411(_edit(xml411, f"{head411}/ceb:payTime", "2024031012"))
    xml511 = ceb511(WAYBILLS[:3], now=NOW)
    head511 = "/ceb:CEB511Message/ceb:Logistics[1]/ceb:LogisticsHead"
    with pytest.raises(CebError, match="weight"):
        parse_ceb511(_edit(xml511, f"{head511}/ceb:weight", "0"))
    with pytest.raises(CebError, match="consigneeAddress"):
        parse_ceb511(_edit(xml511, f"{head511}/ceb:consigneeAddress", None, remove=True))
    optional = parse_ceb511(_edit(xml511, f"{head511}/ceb:insuredFee", None, remove=True))
    assert optional[0].insured_fee_fen == 0
    with pytest.raises(CebError):
        parse_ceb511(xml411)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, len(XML311)), length=st.integers(1, 400), parser=st.sampled_from([0, 1, 2]))
def test_damaged_messages_parse_or_raise_ceb_error(start: int, length: int, parser: int) -> None:
    sources = [XML311, ceb411(PAYMENTS[:5], now=NOW, ebp_code=PLATFORM_CODE), ceb511(WAYBILLS[:5], now=NOW)]
    parse = [parse_ceb311, parse_ceb411, parse_ceb511][parser]
    src = sources[parser]
    damaged = src[:start] + src[start + length :]
    with contextlib.suppress(CebError):
        parse(damaged)


@given(st.floats(min_value=-1e9, max_value=4e9, allow_nan=False), st.sampled_from([8.0, 0.0, -5.5, 14.0]))
def test_timestamp_is_the_local_second_datetime_gives(now: float, offset: float) -> None:
    tz = timezone(timedelta(hours=offset))
    assert timestamp(now, offset) == datetime.fromtimestamp(now, tz).strftime("%Y%m%d%H%M%S")


def test_timestamp_rounds_to_microseconds_as_datetime_does() -> None:
    tz = timezone(timedelta(hours=8))
    for now in (1_710_050_000.9999996, 1_710_050_000.9999994, -0.0000004, -0.0000006, 59.9999995, 0.0):
        assert timestamp(now) == datetime.fromtimestamp(now, tz).strftime("%Y%m%d%H%M%S"), now
