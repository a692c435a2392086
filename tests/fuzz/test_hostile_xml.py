"""XML hardening: external entities never read a file, entity bombs are refused at once, DTDs are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from wms.fuzz.seeds import receipts
from wms.fuzz.xmldocs import LAUGHS, QUADRATIC
from wms.inspection.ceb import NS, CebError, parse_ceb311, validate
from wms.inspection.receipts import message_kind, parse_receipts
from wms.inspection.safexml import parse_xml, parser

SECRET = "TOP-SECRET-7f3a"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _xxe_receipt(doctype: str) -> bytes:
    """A CEB312 receipt whose orderNo is the entity ``&xxe;``."""
    return (
        f'<?xml version="1.0"?>{doctype}<CEB312Message xmlns="{NS}"><OrderReturn>'
        "<guid>G</guid><orderNo>&xxe;</orderNo><returnStatus>120</returnStatus>"
        "<returnTime>20240310120000</returnTime><returnInfo>&xxe;</returnInfo>"
        "</OrderReturn></CEB312Message>"
    ).encode()


PARSERS = [parse_receipts, message_kind, parse_ceb311]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda f: f.__name__)
def test_an_external_entity_is_refused_and_the_file_never_read(parse, secret_file: Path) -> None:  # type: ignore[no-untyped-def]
    for doctype in (
        f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret_file}">]>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "file://{secret_file}"> %p;]>',
        f'<!DOCTYPE r SYSTEM "file://{secret_file}">',
        '<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>',
    ):
        with pytest.raises(CebError) as info:
            parse(_xxe_receipt(doctype))
        assert SECRET not in str(info.value)
        assert "DOCTYPE" in str(info.value) or "not well-formed" in str(info.value)


def test_the_parser_itself_resolves_no_entity_even_when_a_doctype_gets_through(secret_file: Path) -> None:
    xml = _xxe_receipt(f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')
    root = etree.fromstring(xml, parser())
    assert SECRET not in etree.tostring(root).decode()
    assert root.findtext(f".//{{{NS}}}orderNo") in (None, "")


@pytest.mark.parametrize(("what", "doctype"), [("billion laughs", LAUGHS), ("quadratic blowup", QUADRATIC)])
def test_entity_expansion_bombs_are_refused_at_once(what: str, doctype: bytes) -> None:
    body = b"<r>" + b"&xxe;" * 10_000 + b"</r>" if what.startswith("quadratic") else b"<r>&l9;</r>"
    xml = b'<?xml version="1.0"?>' + doctype + body
    for parse in PARSERS:
        start = time.perf_counter()
        with pytest.raises(CebError):
            parse(xml)
        assert time.perf_counter() - start < 0.5
    start = time.perf_counter()
    try:  # the hardened parser alone: it does not expand, whether or not libxml2 refuses
        root = etree.fromstring(xml, parser())
        assert len(etree.tostring(root)) < 2 * len(xml)
    except etree.XMLSyntaxError:
        pass
    assert time.perf_counter() - start < 0.5


def test_any_doctype_is_refused_even_a_harmless_one() -> None:
    xml = receipts()[0].replace(b"?>", b"?><!DOCTYPE CEB312Message>", 1)
    with pytest.raises(CebError, match="DOCTYPE"):
        parse_receipts(xml)
    assert parse_receipts(receipts()[0])  # the same receipt without it is fine


def test_deep_nesting_and_huge_text_nodes_are_refused() -> None:
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(CebError, match="not well-formed"):
        parse_receipts(deep)
    huge = f'<CEB311Message xmlns="{NS}"><x>'.encode() + b"a" * 10_000_001 + b"</x></CEB311Message>"
    with pytest.raises(CebError, match="not well-formed"):
        parse_ceb311(huge)


@pytest.mark.parametrize(
    "data",
    ["<a>\ud800</a>", 42, None, b"", b"   ", "<?xml version='1.0' encoding='UTF-16'?><a/>", b"\xff\xfe<\x00"],
    ids=["lone surrogate", "int", "None", "empty", "blank", "str with encoding", "bad utf-16"],
)
def test_odd_payload_types_raise_the_typed_error(data: object) -> None:
    with pytest.raises(CebError):
        parse_xml(data, "test", CebError)


def test_schema_validation_uses_the_hardened_parser(secret_file: Path, shared_dir: Path) -> None:
    xsd = shared_dir / "customs" / "ceb-202205" / "xsd" / "ceb-import-202205.xsd"
    xml = _xxe_receipt(f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')
    errors = validate(xml, xsd)
    assert errors and SECRET not in " ".join(errors)
