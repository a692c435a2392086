"""Oversize payloads and files are refused before any parsing, with the parser's typed error."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from wms.config import ConfigError, load_warehouse
from wms.inspection import safexml
from wms.inspection.ceb import CebError
from wms.inspection.documents import DocumentError, read_documents
from wms.inspection.receipts import parse_receipts
from wms.limits import MAX_FILE_BYTES, MAX_PAYLOAD_BYTES, PayloadTooLarge, check_file, check_size, size_of
from wms.robots import vda5050

VDA = [
    (vda5050.parse_state, vda5050.State),
    (vda5050.parse_connection, vda5050.Connection),
    (vda5050.parse_factsheet, vda5050.Factsheet),
    (vda5050.parse_order, vda5050.Order),
    (vda5050.parse_instant_actions, vda5050.InstantActions),
]


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("an oversize payload reached the parser")


def test_check_size_counts_utf8_bytes_and_names_what() -> None:
    check_size(b"x" * MAX_PAYLOAD_BYTES, "state")
    with pytest.raises(PayloadTooLarge, match=rf"^state: {MAX_PAYLOAD_BYTES + 1} bytes is over the limit"):
        check_size(b"x" * (MAX_PAYLOAD_BYTES + 1), "state")
    emoji = "🙂" * (MAX_PAYLOAD_BYTES // 4 + 1)  # fewer characters than the limit, more bytes
    assert len(emoji) < MAX_PAYLOAD_BYTES < size_of(emoji)
    with pytest.raises(PayloadTooLarge):
        check_size(emoji, "text")
    check_size("é" * (MAX_PAYLOAD_BYTES // 2), "text")
    with pytest.raises(ValueError, match="limit of 10"):
        check_size(bytearray(11), "x", limit=10, error=ValueError)
    check_size(None, "not a payload")  # the parser's own type check names it


@pytest.mark.parametrize(("parse", "model"), VDA, ids=[m.__name__ for _, m in VDA])
def test_oversize_vda_messages_are_refused_unparsed(parse, model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(model, "model_validate_json", _never)
    for payload in (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", "[" * (MAX_PAYLOAD_BYTES + 1)):
        start = time.perf_counter()
        with pytest.raises(vda5050.VdaError, match="over the limit"):
            parse(payload)
        assert time.perf_counter() - start < 0.5


def test_an_oversize_receipt_is_refused_unparsed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(safexml, "parser", _never)
    with pytest.raises(CebError, match="over the limit"):
        parse_receipts(b"<a>" + b"x" * MAX_PAYLOAD_BYTES + b"</a>")


def test_an_oversize_docs_jsonl_line_is_a_document_error() -> None:
    line = b'{"order": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}\n'
    ((number, error),) = list(read_documents(io.BytesIO(line)))
    assert number == 1 and isinstance(error, DocumentError) and "over the limit" in str(error)


def test_an_oversize_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "warehouse.toml"
    with big.open("wb") as fh:  # sparse: no disk is used
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="over the limit"):
        load_warehouse(big)
    with pytest.raises(PayloadTooLarge):
        check_file(big)
    check_file(big, limit=MAX_FILE_BYTES + 1)
