"""CSV files of the slotting command, read with errors that name file, line and column; slots of a layout.

skus.csv: sku,velocity,volume_l,weight_kg,zone,hazard · slots.csv: slot,zone,volume_l,max_kg,hazard_ok,level
and optionally travel_m and aisle · assignment.csv: sku,slot · affinity.csv: sku_a,sku_b,weight.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import networkx as nx
import numpy as np

from wms.config import Storage
from wms.domain import Zone
from wms.layout import Layout
from wms.limits import check_file
from wms.slotting.model import SkuItem, SlotItem, SlottingError

T = TypeVar("T")

SKU_COLUMNS = ("sku", "velocity", "volume_l", "weight_kg", "zone", "hazard")
SLOT_COLUMNS = ("slot", "zone", "volume_l", "max_kg", "hazard_ok", "level")
ASSIGNMENT_COLUMNS = ("sku", "slot")
AFFINITY_COLUMNS = ("sku_a", "sku_b", "weight")


class _Row:
    """One data row with its place in the file, for error messages."""

    __slots__ = ("where", "line", "fields", "index")

    def __init__(self, where: str, line: int, fields: list[str], index: dict[str, int]) -> None:
        """A row's ``fields``; ``index`` maps column name to position."""
        self.where, self.line, self.fields, self.index = where, line, fields, index

    def get(self, column: str) -> str:
        """The raw value of an optional column ('' when the file has no such column)."""
        at = self.index.get(column)
        return "" if at is None else self.fields[at].strip()

    def fail(self, column: str, problem: str) -> SlottingError:
        """The error naming this file, line and ``column``."""
        return SlottingError(f"{self.where}:{self.line}: column {column}: {problem}")

    def text(self, column: str) -> str:
        """A required value, stripped."""
        value = self.fields[self.index[column]].strip()
        if not value:
            raise self.fail(column, "missing value")
        return value

    def number(self, column: str, low: float = 0.0, strict: bool = False) -> float:
        """A finite number ≥ ``low`` (> ``low`` when ``strict``)."""
        raw = self.text(column)
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(column, f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.fail(column, f"{raw!r} is not a finite number")
        if value < low or (strict and value == low):
            raise self.fail(column, f"{raw!r} must be {'>' if strict else '≥'} {low:g}")
        return value

    def integer(self, column: str) -> int:
        """A whole number ≥ 0."""
        raw = self.text(column)
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise self.fail(column, f"{raw[:30]!r} is not a whole number ≥ 0")
        return int(raw)

    def flag(self, column: str) -> bool:
        """A 0/1 flag."""
        raw = self.text(column)
        if raw not in ("0", "1"):
            raise self.fail(column, f"{raw!r} is not 0 or 1")
        return raw == "1"

    def zone(self, column: str = "zone") -> Zone:
        """A customs zone name."""
        raw = self.text(column)
        try:
            return Zone(raw)
        except ValueError:
            raise self.fail(column, f"{raw!r} is not one of {', '.join(z.value for z in Zone)}") from None


def _rows(path: str | Path, required: tuple[str, ...]) -> Iterator[_Row]:
    """Data rows of a CSV file that has at least the ``required`` columns; blank lines are skipped."""
    where = str(path)
    try:
        check_file(path, where, error=SlottingError)
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise SlottingError(f"{where}: file not found") from None
    except OSError as exc:
        raise SlottingError(f"{where}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SlottingError(f"{where}: empty file, expected the header {','.join(required)}") from None
        except UnicodeDecodeError:
            raise SlottingError(f"{where}: not UTF-8 text") from None
        except csv.Error as exc:
            raise SlottingError(f"{where}:1: malformed CSV: {exc}") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise SlottingError(f"{where}:1: missing column(s) {', '.join(missing)}")
        index = {name: i for i, name in reversed(list(enumerate(header)))}
        try:
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue
                if len(fields) != len(header):
                    raise SlottingError(
                        f"{where}:{reader.line_num}: {len(fields)} values for {len(header)} columns"
                    )
                yield _Row(where, reader.line_num, fields, index)
        except UnicodeDecodeError:
            raise SlottingError(f"{where}: not UTF-8 text") from None
        except csv.Error as exc:
            raise SlottingError(f"{where}:{reader.line_num}: malformed CSV: {exc}") from None


def _unique(rows: Iterator[_Row], key: str, parse: Callable[[_Row], T]) -> list[T]:
    """Parsed rows, failing on the second row with an already seen ``key``."""
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        name = row.text(key)
        if name in seen:
            raise row.fail(key, f"{name!r} repeats (first on line {seen[name]})")
        seen[name] = row.line
        out.append(parse(row))
    return out


def read_skus(path: str | Path) -> list[SkuItem]:
    """SKUs from ``skus.csv``."""

    def parse(r: _Row) -> SkuItem:
        return SkuItem(
            sku=r.text("sku"),
            velocity=r.number("velocity"),
            volume_l=r.number("volume_l", strict=True),
            weight_kg=r.number("weight_kg", strict=True),
            zone=r.zone(),
            hazard=r.flag("hazard"),
        )

    return _unique(_rows(path, SKU_COLUMNS), "sku", parse)


def read_slots(path: str | Path, layout: Mapping[str, SlotItem] | None = None) -> list[SlotItem]:
    """Slots from ``slots.csv``; a missing or blank ``travel_m`` (and ``aisle``) comes from ``layout``."""

    def parse(r: _Row) -> SlotItem:
        name = r.text("slot")
        known = layout.get(name) if layout is not None else None
        if r.get("travel_m"):
            travel = r.number("travel_m")
        elif layout is None:
            raise r.fail("travel_m", "missing value, and no layout given to compute it (--layout)")
        elif known is None:
            raise r.fail("slot", f"{name!r} is not a slot of the layout, so its travel_m is unknown")
        else:
            travel = known.travel_m
        aisle = r.get("aisle") or (known.aisle if known else "")
        return SlotItem(
            slot=name,
            zone=r.zone(),
            volume_l=r.number("volume_l", strict=True),
            max_kg=r.number("max_kg", strict=True),
            hazard_ok=r.flag("hazard_ok"),
            level=r.integer("level"),
            travel_m=travel,
            aisle=aisle,
        )

    return _unique(_rows(path, SLOT_COLUMNS), "slot", parse)


def read_assignment(path: str | Path) -> dict[str, str]:
    """SKU → slot from ``assignment.csv``; an SKU or a slot named twice is an error."""
    out: dict[str, str] = {}
    holder: dict[str, int] = {}
    seen: dict[str, int] = {}
    for r in _rows(path, ASSIGNMENT_COLUMNS):
        sku, slot = r.text("sku"), r.text("slot")
        if sku in seen:
            raise r.fail("sku", f"{sku!r} repeats (first on line {seen[sku]})")
        if slot in holder:
            raise r.fail("slot", f"{slot!r} already holds an SKU (line {holder[slot]})")
        seen[sku], holder[slot] = r.line, r.line
        out[sku] = slot
    return out


def read_affinity(path: str | Path) -> list[tuple[str, str, float]]:
    """Pairs of SKUs often ordered together, with a weight (e.g. co-orders per day)."""
    return [(r.text("sku_a"), r.text("sku_b"), r.number("weight")) for r in _rows(path, AFFINITY_COLUMNS)]


def check_names(pairs: Mapping[str, str], skus: list[SkuItem], slots: list[SlotItem], where: str) -> None:
    """Fail, naming the file, when an assignment mentions an SKU or slot that is not in the inputs."""
    sku_names, slot_names = {s.sku for s in skus}, {s.slot for s in slots}
    for sku, slot in pairs.items():
        if sku not in sku_names:
            raise SlottingError(f"{where}: SKU {sku!r} is not in the SKU file")
        if slot not in slot_names:
            raise SlottingError(f"{where}: slot {slot!r} (of SKU {sku!r}) is not in the slot file")


def write_assignment(path: str | Path, pairs: Mapping[str, str]) -> None:
    """Write ``sku,slot`` rows in SKU order."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(ASSIGNMENT_COLUMNS)
        w.writerows(sorted(pairs.items()))


def write_skus(path: str | Path, skus: list[SkuItem]) -> None:
    """Write SKUs in the ``skus.csv`` format."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(SKU_COLUMNS)
        for s in skus:
            w.writerow([s.sku, repr(s.velocity), s.volume_l, s.weight_kg, s.zone.value, int(s.hazard)])


def write_slots(path: str | Path, slots: list[SlotItem]) -> None:
    """Write slots in the ``slots.csv`` format, travel and aisle included."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow((*SLOT_COLUMNS, "travel_m", "aisle"))
        for s in slots:
            w.writerow(
                [s.slot, s.zone.value, s.volume_l, s.max_kg, int(s.hazard_ok), s.level, s.travel_m, s.aisle]
            )


class DepotLayout(Layout):
    """The layout graph with distances from the pick/drop point only: big blocks need no all-pairs matrix."""

    def _distances(self) -> np.ndarray:
        """Shortest travel from the pick/drop point to every node, by Dijkstra."""
        lengths = nx.single_source_dijkstra_path_length(self.graph, self.depot)
        return np.round(np.array([lengths.get(n, np.inf) for n in self.nodes]), 9)  # as Layout rounds

    def distance(self, a: str, b: str) -> float:
        """Travel from the pick/drop point to ``b`` (``a`` must be that point)."""
        if a != self.depot:
            raise ValueError(f"this layout only knows distances from {self.depot}")
        return float(self.dist[self.index[b]])


def layout_slots(storage: Storage, pack_stations: int) -> list[SlotItem]:
    """Every slot of a storage block with travel from the pick/drop point along the layout graph."""
    from wms.slotting.putaway import slot_items  # putaway pulls in the planners; only this needs it

    return slot_items(DepotLayout(storage, pack_stations, 1).slots)
