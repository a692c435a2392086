"""Inputs that crashed or stalled a parser before the hostile-input work: each is now a fast typed error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wms.fuzz.targets import TARGETS

BIG_FIELD = b'"' + b"x" * 200_000 + b'"'
FOUND: list[tuple[str, str, bytes | str]] = [
    # (target, what it used to raise, input)
    ("config.warehouse", "UnicodeDecodeError", b"\xff"),
    ("config.customs", "RecursionError", b"a = " + b"[" * 100_000),
    ("config.customs", "ValueError (int too long for tomllib)", b"single_limit_fen = " + b"9" * 5000),
    ("picking.layout", "UnicodeDecodeError", b"aisles = 3\n\xff"),
    ("picking.layout", "ValueError (int too long for tomllib)", b"aisles = " + b"9" * 5000),
    ("picking.picks", "AttributeError (extra value after blank cells)", b"aisle,position_m\n,,3\n"),
    ("picking.picks", "csv.Error (field over the csv limit)", b"aisle,position_m\n1," + BIG_FIELD + b"\n"),
    ("picking.orders", "UnicodeDecodeError", b"order,aisle,position_m,qty\no1,\xff,1,1\n"),
    (
        "slotting.slots",
        "ValueError (int('²'))",
        "slot,zone,volume_l,max_kg,hazard_ok,level,travel_m\nA,bonded,1,1,0,²,1\n".encode(),
    ),
    ("slotting.skus", "csv.Error in the header", BIG_FIELD + b"\n"),
    ("inspect.catalog_csv", "UnicodeDecodeError", b"\xff"),
    (
        "inspect.ytd_csv",
        "csv.Error (field over the csv limit)",
        b"buyerIdNumber,released_cny\nB," + BIG_FIELD + b"\n",
    ),
    ("inspect.docs_jsonl", "decimal.Overflow", b'{"order": {"goodsValue": 1e999999}}'),
    ("inspect.docs_jsonl", "40 s stall (int of 1e999990)", b'{"order": {"goodsValue": 1e999990}}'),
    ("inspect.docs_jsonl", "40 s stall (int of 1e999990)", b'{"order": {"buyerIdType": 1e999990}}'),
    ("ceb.receipts", "UnicodeEncodeError (str with a lone surrogate)", "<a>\ud800</a>"),
]


@pytest.mark.parametrize(("name", "was", "data"), FOUND, ids=[f"{n}: {w}" for n, w, _ in FOUND])
def test_a_found_crash_is_now_a_typed_error(name: str, was: str, data: bytes | str, tmp_path: Path) -> None:
    target = TARGETS[name]
    start = time.perf_counter()
    with pytest.raises(target.typed):
        target.parse(data, tmp_path)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 1.0


def test_a_config_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    from wms.config import ConfigError, load_warehouse

    with pytest.raises(ConfigError, match="cannot read"):
        load_warehouse(tmp_path)


def test_ceb_amounts_beyond_the_schema_are_refused_not_rounded() -> None:
    from wms.fuzz.seeds import ceb_documents
    from wms.inspection.ceb import CebError, parse_ceb311

    xml = ceb_documents()["CEB311"][0]
    start = xml.index(b"<ceb:goodsValue>") + len(b"<ceb:goodsValue>")
    end = xml.index(b"</ceb:goodsValue>")
    for amount in (b"1" * 5000, b"12345678901234567890123456789.01"):
        with pytest.raises(CebError, match="whole digits"):
            parse_ceb311(xml[:start] + amount + xml[end:])
