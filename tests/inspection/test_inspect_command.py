"""``wms inspect`` via a throwaway Typer app: JSON lines, limits, sampling, bad input, CEB folders, CEB621."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from simulators.order_feed import PLATFORM_CODE, OrderFeedModel
from wms.catalog import generate_catalog
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.domain import OrderBundle
from wms.inspection.ceb import ceb311, ceb411, ceb511, validate
from wms.inspection.commands import register
from wms.inspection.documents import bundle_to_json
from wms.inspection.signing import NoSigner, is_signed, load_signer

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
CATALOG = generate_catalog(WAREHOUSE.feed, CUSTOMS)
BY_ID = {s.sku: s for s in CATALOG}
NOW = 1_710_050_000.0
NS = "http://www.chinaport.gov.cn/ceb"


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


def _app() -> typer.Typer:
    app = typer.Typer()
    bench = typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    return app


APP = _app()


def _bundles(n: int, seed: int = 21) -> list[OrderBundle]:
    feed = WAREHOUSE.feed.model_copy(update={"bad_document_rate": 0.0})
    model = OrderFeedModel(CATALOG, WAREHOUSE.carriers, feed, CUSTOMS, seed)
    return [model.next_bundle(NOW + 53 * i) for i in range(n)]


BUNDLES = _bundles(40)


def _jsonl(path: Path, items: list[object]) -> Path:
    lines = [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(*args: str | Path) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(APP, ["inspect", *map(str, args)])
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, rows, result.stderr


def test_one_json_line_per_order(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(b) for b in BUNDLES[:10]])
    code, rows, _ = _run("--documents", docs, "--json", "--sample-rate", "0", "--seed", "1")
    assert code == 0
    assert [r["orderNo"] for r in rows] == [b.order.order_no for b in BUNDLES[:10]]
    assert {r["decision"] for r in rows} == {"release"}
    first = rows[0]
    assert set(first) == {"orderNo", "decision", "reasons", "tax"}
    tax = BUNDLES[0].order.tax_total_fen
    assert first["tax"] == {
        "computed": f"{tax // 100}.{tax % 100:02d}",
        "declared": f"{tax // 100}.{tax % 100:02d}",
    }


def test_malformed_lines_are_rejected_naming_the_field_and_the_others_decided(tmp_path: Path) -> None:
    good = [bundle_to_json(b) for b in BUNDLES[:4]]
    text = bundle_to_json(BUNDLES[4])
    text["order"]["goodsValue"] = "about 100"
    missing = bundle_to_json(BUNDLES[5])
    del missing["payment"]["payTime"]
    docs = _jsonl(tmp_path / "docs.jsonl", [good[0], text, good[1], "{oops", missing, good[2], "", good[3]])
    code, rows, _ = _run("--documents", docs, "--json", "--sample-rate", "0", "--seed", "1")
    assert code == 0
    assert [r["decision"] for r in rows] == [
        "release",
        "reject",
        "release",
        "reject",
        "reject",
        "release",
        "release",
    ]
    details = [r["reasons"][0]["detail"] for r in rows if r["decision"] == "reject"]
    assert [r["reasons"][0]["code"] for r in rows if r["decision"] == "reject"] == ["MALFORMED"] * 3
    assert details[0].startswith("line 2: order.goodsValue")
    assert details[1].startswith("line 4: not valid JSON")
    assert details[2].startswith("line 5: payment.payTime")
    assert rows[1]["orderNo"] == BUNDLES[4].order.order_no and rows[3]["orderNo"] is None


def _renumber(b: OrderBundle, no: str) -> OrderBundle:
    """The same purchase under another order number (and payment transaction)."""
    assert b.payment is not None and b.waybill is not None
    order = b.order.model_copy(update={"order_no": no, "pay_transaction_id": f"P{no}"})
    payment = b.payment.model_copy(update={"order_no": no, "pay_transaction_id": f"P{no}"})
    waybill = b.waybill.model_copy(update={"order_no": no, "logistics_no": f"L{no}"})
    return OrderBundle(order=order, payment=payment, waybill=waybill)


def test_annual_limit_accumulates_across_lines_from_the_year_to_date(tmp_path: Path) -> None:
    b = BUNDLES[0]
    value = b.order.goods_value_fen
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(_renumber(b, f"EOA{i}")) for i in range(3)])
    code, rows, _ = _run("--documents", docs, "--json", "--sample-rate", "0", "--seed", "1")
    assert code == 0 and [r["decision"] for r in rows] == ["release"] * 3
    used = CUSTOMS.annual_limit_fen - 2 * value - 1  # room for exactly two more of these orders
    ytd = tmp_path / "ytd.csv"
    ytd.write_text(
        f"buyerIdNumber,released_cny\n{b.order.buyer_id_number},{used // 100}.{used % 100:02d}\n"
        "110101199001010000,25999.99\n",
        encoding="utf-8",
    )
    code, rows, _ = _run("--documents", docs, "--year-to-date", ytd, "--json", "--sample-rate", "0")
    assert code == 0
    assert [r["decision"] for r in rows] == ["release", "release", "reject"]
    assert [x["code"] for x in rows[2]["reasons"]] == ["ANNUAL_LIMIT"]


def test_sampling_is_reproducible_with_a_seed(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(b) for b in BUNDLES])
    args = ("--documents", docs, "--json", "--sample-rate", "0.5")
    _, first, _ = _run(*args, "--seed", "3")
    _, again, _ = _run(*args, "--seed", "3")
    _, other, _ = _run(*args, "--seed", "4")
    assert first == again and first != other
    held = [r for r in first if r["decision"] == "hold"]
    assert held and all(r["reasons"][-1]["code"] == "SAMPLED" for r in held)
    _, _, stderr = _run(*args)
    assert "sampling seed" in stderr


def test_duplicate_order_lines(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(BUNDLES[0])] * 2)
    _, rows, _ = _run("--documents", docs, "--json", "--sample-rate", "0", "--seed", "1")
    assert [r["decision"] for r in rows] == ["release", "reject"]
    assert [x["code"] for x in rows[1]["reasons"]] == ["DUPLICATE_ORDER"]


def test_catalog_csv(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(b) for b in BUNDLES[:8]])
    dropped = BUNDLES[3].order.lines[0].sku
    rows = [
        f"{s.sku},{s.hs_code},{s.category},{s.unit_value_fen / 100:.2f},{s.weight_kg},{s.volume_l}"
        for s in CATALOG
    ]
    csv = tmp_path / "skus.csv"
    csv.write_text(
        "sku,hs_code,category,unit_value_cny,weight_kg,volume_l\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    args = ("--documents", docs, "--json", "--sample-rate", "0", "--seed", "2")
    assert _run(*args, "--catalog", csv)[1] == _run(*args)[1]
    kept = [r for r, s in zip(rows, CATALOG, strict=True) if s.sku != dropped]
    csv.write_text(
        "sku,hs_code,category,unit_value_cny,weight_kg,volume_l\n" + "\n".join(kept) + "\n", encoding="utf-8"
    )
    out = _run(*args, "--catalog", csv)[1]
    assert out[3]["decision"] == "reject" and "UNKNOWN_SKU" in [x["code"] for x in out[3]["reasons"]]


def test_human_output(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(b) for b in BUNDLES[:3]])
    result = CliRunner().invoke(
        APP, ["inspect", "--documents", str(docs), "--seed", "1", "--sample-rate", "0"]
    )
    assert result.exit_code == 0
    assert "release" in result.stdout and "3 orders: release 3, hold 0, reject 0" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--documents", "x.jsonl", "--ceb", "."],
        ["--documents", "absent.jsonl"],
        ["--ceb", "absent-folder"],
        ["--documents", "{docs}", "--catalog", "absent.csv"],
        ["--documents", "{docs}", "--year-to-date", "{bad_ytd}"],
        ["--documents", "{docs}", "--signer", "no_such_module_here:Signer"],
        ["--documents", "{docs}", "--sample-rate", "1.5"],
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(BUNDLES[0])])
    bad_ytd = tmp_path / "ytd.csv"
    bad_ytd.write_text("buyerIdNumber,released_cny\nX,lots\n", encoding="utf-8")
    filled = [a.format(docs=docs, bad_ytd=bad_ytd) for a in args]
    result = CliRunner().invoke(APP, ["inspect", *filled])
    assert result.exit_code == 2, result.stdout + result.stderr


def test_bad_year_to_date_names_the_line(tmp_path: Path) -> None:
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(BUNDLES[0])])
    ytd = tmp_path / "ytd.csv"
    ytd.write_text("buyerIdNumber,released_cny\nX,1\nY,lots\n", encoding="utf-8")
    _, rows, stderr = _run("--documents", docs, "--year-to-date", ytd)
    assert rows == [] and "line 3: released_cny" in stderr


@needs_spec
def test_ceb_folder_of_the_official_samples() -> None:
    assert SPEC is not None
    code, rows, stderr = _run("--ceb", SPEC / "samples", "--json", "--seed", "1")
    assert code == 0
    assert len(rows) == 6 and {r["decision"] for r in rows} == {"reject"}
    assert all(r["orderNo"] == "order20160321116421002" for r in rows)
    assert "UNKNOWN_SKU" in [x["code"] for x in rows[0]["reasons"]]
    assert all("DUPLICATE_ORDER" in [x["code"] for x in r["reasons"]] for r in rows[1:])
    assert "40 receipt(s) read" in stderr and "skipped CEB621Message.xml" in stderr


def _receipt_312(order_no: str) -> bytes:
    return (
        f'<CEB312Message xmlns="{NS}" guid="G" version="1.0"><OrderReturn>'
        "<guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</guid><ebpCode>E</ebpCode><ebcCode>E</ebcCode>"
        f"<orderNo>{order_no}</orderNo><returnStatus>120</returnStatus><returnTime>20240310120000000</returnTime>"
        "<returnInfo>海关入库</returnInfo></OrderReturn></CEB312Message>"
    ).encode()


def _ceb_folder(folder: Path, bundles: list[OrderBundle]) -> Path:
    folder.mkdir()
    orders = [b.order for b in bundles]
    (folder / "a_orders.xml").write_bytes(ceb311(orders, BY_ID, now=NOW))
    (folder / "b_payments.xml").write_bytes(
        ceb411([b.payment for b in bundles if b.payment], now=NOW, ebp_code=PLATFORM_CODE)
    )
    (folder / "c_waybills.xml").write_bytes(ceb511([b.waybill for b in bundles if b.waybill], now=NOW))
    (folder / "d_receipt.xml").write_bytes(_receipt_312(orders[0].order_no))
    (folder / "e_broken.xml").write_bytes(
        b"<ceb:CEB311Message xmlns:ceb='http://www.chinaport.gov.cn/ceb'><ceb:Order>"
    )
    return folder


def test_ceb_folder_decides_orders_with_receipts_and_reports_broken_files(tmp_path: Path) -> None:
    folder = _ceb_folder(tmp_path / "ceb", BUNDLES[:5])
    code, rows, _ = _run("--ceb", folder, "--json", "--sample-rate", "0", "--seed", "1")
    assert code == 0
    assert rows[0]["decision"] == "reject" and rows[0]["orderNo"] is None
    assert rows[0]["reasons"][0]["code"] == "MALFORMED" and "e_broken.xml" in rows[0]["reasons"][0]["detail"]
    assert [r["decision"] for r in rows[1:]] == ["release"] * 5
    assert rows[1]["receipts"] == [
        {
            "message": "CEB312",
            "guid": "4CDE1CFD-EDED-46B1-946C-B8022E42FC94",
            "returnStatus": "120",
            "returnTime": "20240310120000000",
            "returnInfo": "海关入库",
            "orderNo": BUNDLES[0].order.order_no,
        }
    ]
    assert all("receipts" not in r for r in rows[2:])


@needs_spec
def test_ceb621_of_released_orders_validates_and_is_left_unsigned(tmp_path: Path) -> None:
    assert SPEC is not None
    broken = bundle_to_json(BUNDLES[1])
    del broken["waybill"]
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(BUNDLES[0]), broken, bundle_to_json(BUNDLES[2])])
    out = tmp_path / "621"
    code, rows, _ = _run("--documents", docs, "--json", "--sample-rate", "0", "--seed", "1", "--ceb621", out)
    assert code == 0 and [r["decision"] for r in rows] == ["release", "reject", "release"]
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"CEB621_{BUNDLES[i].order.order_no}.xml" for i in (0, 2)]
    for f in files:
        xml = f.read_bytes()
        assert validate(xml, SPEC / "xsd" / "ceb-import-202205.xsd") == []
        assert not is_signed(xml)


SIGNER = """
class FilledSigner:
    def sign(self, xml: bytes) -> bytes:
        for name, value in ((b"DigestValue", b"ZA=="), (b"SignatureValue", b"c2ln")):
            xml = xml.replace(b"<ds:%s></ds:%s>" % (name, name), b"<ds:%s>%s</ds:%s>" % (name, value, name))
        return xml

INSTANCE = FilledSigner()
NOT_A_SIGNER = 42
"""


def test_a_signer_plugs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wms_test_signer.py").write_text(SIGNER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert isinstance(load_signer(None), NoSigner)
    assert type(load_signer("wms_test_signer:FilledSigner")).__name__ == "FilledSigner"
    assert type(load_signer("wms_test_signer:INSTANCE")).__name__ == "FilledSigner"
    for bad in ("wms_test_signer", "wms_test_signer:NOT_A_SIGNER", "wms_test_signer:Absent"):
        with pytest.raises(ValueError):
            load_signer(bad)
    docs = _jsonl(tmp_path / "docs.jsonl", [bundle_to_json(BUNDLES[0])])
    out = tmp_path / "621"
    args = ("--documents", docs, "--sample-rate", "0", "--seed", "1", "--ceb621", out)
    code, _, _ = _run(*args, "--json", "--signer", "wms_test_signer:FilledSigner")
    assert code == 0
    (signed,) = out.iterdir()
    assert is_signed(signed.read_bytes())
