"""Bad input: unplaceable SKUs are listed with their reason, malformed files name file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from wms.domain import Zone
from wms.slotting.baselines import solve_coi
from wms.slotting.io import read_affinity, read_assignment, read_skus, read_slots
from wms.slotting.model import SkuItem, SlotItem, SlottingError, SlottingRules
from wms.slotting.optimal import solve_optimal

RULES = SlottingRules(heavy_kg=15.0, heavy_max_level=1)
SLOTS = [
    SlotItem("LOW", Zone.BONDED, 200.0, 60.0, False, 2, 4.0),
    SlotItem("HAZ", Zone.BONDED, 200.0, 60.0, True, 3, 9.0),
    SlotItem("BIG", Zone.BONDED, 400.0, 300.0, False, 0, 6.0),
]


@pytest.mark.parametrize("solve", [solve_optimal, solve_coi])
def test_unplaceable_skus_come_back_with_their_reason(solve) -> None:  # type: ignore[no-untyped-def]
    skus = [
        SkuItem("OK", 3.0, 10.0, 1.0),
        SkuItem("DUTY", 1.0, 1.0, 1.0, zone=Zone.DUTY_PAID),
        SkuItem("HUGE", 1.0, 500.0, 1.0),
        SkuItem("LEAD", 1.0, 10.0, 400.0),
        SkuItem("HEAVY_HAZ", 1.0, 10.0, 20.0, hazard=True),
    ]
    result = solve(skus, SLOTS, RULES)
    reasons = {u.sku: u.reason for u in result.unplaced}
    assert reasons == {
        "DUTY": "no slot in zone duty_paid",
        "HUGE": "volume 500 l exceeds every candidate slot (largest 400 l)",
        "LEAD": "weight 400 kg exceeds every candidate slot's limit (largest 300 kg)",
        "HEAVY_HAZ": "heavy (20 kg > 15 kg) and no slot it fits at level ≤ 1",
    }
    assert result.slots["OK"] == "LOW"


def test_hazardous_sku_without_rated_slot() -> None:
    result = solve_optimal([SkuItem("H", 1.0, 1.0, 1.0, hazard=True)], SLOTS[:1], RULES)
    assert [u.reason for u in result.unplaced] == ["hazardous and no hazard-rated slot in zone bonded"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SKU_HEAD = "sku,velocity,volume_l,weight_kg,zone,hazard\n"
SLOT_HEAD = "slot,zone,volume_l,max_kg,hazard_ok,level,travel_m\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("A,1,2,3,bonded,0\nB,abc,2,3,bonded,0\n", "skus.csv:3: column velocity: 'abc' is not a number"),
        ("A,1,2,3,bonded,0\nB,1,2,3,bonded,2\n", "skus.csv:3: column hazard: '2' is not 0 or 1"),
        ("A,1,2,3,free,0\n", "skus.csv:2: column zone: 'free' is not one of bonded, duty_paid"),
        ("A,1,-2,3,bonded,0\n", "skus.csv:2: column volume_l: '-2' must be > 0"),
        ("A,1,2,nan,bonded,0\n", "skus.csv:2: column weight_kg: 'nan' is not a finite number"),
        ("A,1,2,3,bonded,0\nA,1,2,3,bonded,0\n", "skus.csv:3: column sku: 'A' repeats (first on line 2)"),
        ("A,1,2,3,bonded\n", "skus.csv:2: 5 values for 6 columns"),
        ("A,,2,3,bonded,0\n", "skus.csv:2: column velocity: missing value"),
    ],
)
def test_malformed_sku_rows_name_file_line_and_column(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, "skus.csv", SKU_HEAD + body)
    with pytest.raises(SlottingError) as info:
        read_skus(path)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_missing_columns_and_files(tmp_path: Path) -> None:
    path = _write(tmp_path, "skus.csv", "sku,velocity,volume_l\nA,1,2\n")
    with pytest.raises(SlottingError, match=r"skus.csv:1: missing column\(s\) weight_kg, zone, hazard$"):
        read_skus(path)
    with pytest.raises(SlottingError, match="nothere.csv: file not found"):
        read_skus(tmp_path / "nothere.csv")
    with pytest.raises(SlottingError, match="empty file"):
        read_skus(_write(tmp_path, "empty.csv", ""))


def test_slot_rows_and_travel_from_the_layout(tmp_path: Path) -> None:
    path = _write(tmp_path, "slots.csv", SLOT_HEAD + "S1,bonded,200,60,1,x,3.5\n")
    with pytest.raises(SlottingError, match=r"slots.csv:2: column level: 'x' is not a whole number"):
        read_slots(path)
    path = _write(tmp_path, "slots2.csv", "slot,zone,volume_l,max_kg,hazard_ok,level\nS1,bonded,200,60,0,1\n")
    with pytest.raises(SlottingError, match=r"slots2.csv:2: column travel_m: missing value, and no layout"):
        read_slots(path)
    known = {"S1": SlotItem("S1", Zone.BONDED, 200.0, 60.0, False, 1, 12.5, "A03")}
    assert read_slots(path, known)[0].travel_m == 12.5
    assert read_slots(path, known)[0].aisle == "A03"
    with pytest.raises(SlottingError, match=r"slots2.csv:2: column slot: 'S1' is not a slot of the layout"):
        read_slots(path, {})


def test_assignment_and_affinity_files(tmp_path: Path) -> None:
    path = _write(tmp_path, "cur.csv", "sku,slot\nA,S1\nB,S1\n")
    with pytest.raises(SlottingError, match=r"cur.csv:3: column slot: 'S1' already holds an SKU \(line 2\)"):
        read_assignment(path)
    path = _write(tmp_path, "aff.csv", "sku_a,sku_b,weight\nA,B,x\n")
    with pytest.raises(SlottingError, match=r"aff.csv:2: column weight: 'x' is not a number"):
        read_affinity(path)
