"""Readers for the picking commands: layout.toml, picks.csv and orders.csv, with errors naming the row.

Rows are counted from 0 over data rows (the numbering of a route's ``sequence``), and each error also
gives the file line, so ``picks.csv row 3 (line 5): aisle 12 does not exist`` points at the exact spot.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path

from wms.limits import check_file
from wms.picking.batch import BatchOrder, Cart
from wms.picking.block import Block, Pick, PickError

LAYOUT_KEYS = {"aisles", "aisle_length_m", "aisle_pitch_m", "cross_aisles", "depot_aisle"}


def read_layout(path: Path) -> Block:
    """The block a layout TOML file describes (``LAYOUT_KEYS``; cross_aisles 2, depot 0 by default)."""
    try:
        check_file(path, error=PickError)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PickError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PickError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or an integer too long to convert
        raise PickError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - LAYOUT_KEYS)
    if unknown:
        raise PickError(f"{path}: unknown key {unknown[0]!r} (expected {', '.join(sorted(LAYOUT_KEYS))})")
    for key in ("aisles", "aisle_length_m", "aisle_pitch_m"):
        if key not in data:
            raise PickError(f"{path}: {key}: missing")
    for key in ("aisles", "cross_aisles", "depot_aisle"):
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int)):
            raise PickError(f"{path}: {key}: must be a whole number, got {data[key]!r}")
    try:
        return Block(
            aisles=data["aisles"],
            aisle_length_m=data["aisle_length_m"],
            aisle_pitch_m=data["aisle_pitch_m"],
            cross_aisles=data.get("cross_aisles", 2),
            depot_aisle=data.get("depot_aisle", 0),
        )
    except PickError as exc:
        raise PickError(f"{path}: {exc}") from None


def _rows(
    path: Path, required: list[str], optional: list[str] = ()
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(row, line, fields) for each data row, after checking the header."""
    try:
        check_file(path, error=PickError)
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PickError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PickError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        yield from _dict_rows(path, csv.DictReader(text.splitlines()), required, optional)
    except csv.Error as exc:
        raise PickError(f"{path}: malformed CSV: {exc}") from None


def _dict_rows(
    path: Path, reader: csv.DictReader[str], required: list[str], optional: list[str]
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """The rows of ``_rows`` from an open reader (``csv.Error`` passes through)."""
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise PickError(f"{path}: header must have columns {','.join(required)}; missing {','.join(missing)}")
    extra = [c for c in header if c not in required and c not in optional]
    if extra:
        raise PickError(f"{path}: unknown column {extra[0]!r}")
    reader.fieldnames = header
    row = 0
    for fields in reader:
        line = reader.line_num
        overflow = fields.pop(None, None) or []  # values beyond the header (csv.DictReader's restkey)
        if not any(v.strip() for v in [*overflow, *(v for v in fields.values() if v is not None)]):
            continue  # blank line
        if overflow or any(fields.get(c) is None for c in header):
            raise PickError(f"{path} row {row} (line {line}): expected {len(header)} fields")
        yield row, line, {k: v.strip() for k, v in fields.items()}
        row += 1


def _int(where: str, key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PickError(f"{where}: {key} must be a whole number, got {text!r}") from None


def _float(where: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PickError(f"{where}: {key} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise PickError(f"{where}: {key} must be finite, got {text!r}")
    return value


def _point(block: Block, where: str, fields: dict[str, str]) -> Pick:
    aisle = _int(where, "aisle", fields["aisle"])
    pos = _float(where, "position_m", fields["position_m"])
    try:
        return block.check([(aisle, pos)])[0]
    except PickError as exc:
        raise PickError(f"{where}: {str(exc).removeprefix('pick 0: ')}") from None


def read_picks(path: Path, block: Block) -> list[Pick]:
    """Picks from a CSV with columns aisle,position_m, each checked against the block."""
    picks = [
        _point(block, f"{path} row {r} (line {ln})", f) for r, ln, f in _rows(path, ["aisle", "position_m"])
    ]
    if not picks:
        raise PickError(f"{path}: no picks")
    return picks


def read_orders(path: Path, block: Block, cart: Cart | None = None) -> list[BatchOrder]:
    """Orders from a CSV of lines (order,aisle,position_m,qty; optional volume_l, due), first seen first.

    ``volume_l`` is the line's total volume, ``due`` the order's cut-off in seconds; with ``cart`` an
    order that cannot fit one cart is refused, naming its rows.
    """
    lines: dict[str, list[tuple[int, int, Pick, int, float, float]]] = {}
    for r, ln, f in _rows(path, ["order", "aisle", "position_m", "qty"], ["volume_l", "due"]):
        where = f"{path} row {r} (line {ln})"
        if not f["order"]:
            raise PickError(f"{where}: order is empty")
        qty = _int(where, "qty", f["qty"])
        if qty < 1:
            raise PickError(f"{where}: qty must be at least 1, got {qty}")
        vol = _float(where, "volume_l", f["volume_l"]) if f.get("volume_l") else 0.0
        if vol < 0:
            raise PickError(f"{where}: volume_l must not be negative, got {vol:g}")
        due = _float(where, "due", f["due"]) if f.get("due") else math.inf
        lines.setdefault(f["order"], []).append((r, ln, _point(block, where, f), qty, vol, due))
    if not lines:
        raise PickError(f"{path}: no orders")
    orders = []
    for name, rows in lines.items():
        where = f"{path} order {name!r} (rows {', '.join(str(x[0]) for x in rows)})"
        dues = {x[5] for x in rows}
        if len(dues) > 1:
            raise PickError(f"{where}: lines give different due times {sorted(dues)}")
        order = BatchOrder(
            name, tuple(x[2] for x in rows), sum(x[3] for x in rows), sum(x[4] for x in rows), dues.pop()
        )
        if cart is not None and order.items > cart.items:
            raise PickError(f"{where}: {order.items} items is more than the cart's {cart.items}")
        if cart is not None and order.volume_l > cart.volume_l:
            raise PickError(f"{where}: {order.volume_l:g} l is more than the cart's {cart.volume_l:g} l")
        orders.append(order)
    return orders
