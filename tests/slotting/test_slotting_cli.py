"""The ``slot`` and ``bench slotting`` commands on a throwaway Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wms.slotting.baselines import solve_random
from wms.slotting.bench import RULES, make_instance
from wms.slotting.commands import register
from wms.slotting.io import read_assignment, write_assignment, write_skus, write_slots

KEYS = {"method", "skus", "slots", "placed", "objective", "lower_bound", "optimal", "unplaced", "seconds"}


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root, bench = typer.Typer(), typer.Typer()
    root.add_typer(bench, name="bench")
    register(root, bench)
    return root


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    skus, slots = make_instance(200, 2)
    write_skus(tmp_path / "skus.csv", skus)
    write_slots(tmp_path / "slots.csv", slots)
    write_assignment(tmp_path / "cur.csv", solve_random(skus, slots, RULES, seed=2).slots)
    (tmp_path / "aff.csv").write_text(
        "sku_a,sku_b,weight\n" + "".join(f"{skus[i].sku},{skus[i + 1].sku},2\n" for i in range(0, 40, 2))
    )
    return tmp_path


def _run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("method", ["optimal", "coi", "abc", "random"])
def test_slot_json_and_out(app: typer.Typer, files: Path, method: str) -> None:
    paths = ["--skus", str(files / "skus.csv"), "--slots", str(files / "slots.csv")]
    code, out = _run(app, "slot", *paths, "--method", method, "--out", str(files / "a.csv"), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert set(data) >= KEYS
    assert data["method"] == method and data["skus"] == 200 and data["slots"] == 240
    assert data["optimal"] == (method == "optimal")
    assert (data["lower_bound"] == data["objective"]) == (method == "optimal")
    assert len(read_assignment(files / "a.csv")) == data["placed"]


def test_reslot_and_affinity_from_the_command(app: typer.Typer, files: Path) -> None:
    base = ["slot", "--skus", str(files / "skus.csv"), "--slots", str(files / "slots.csv"), "--json"]
    code, out = _run(app, *base, "--current", str(files / "cur.csv"), "--moves", "10")
    assert code == 0, out
    data = json.loads(out)
    assert len(data["reslot"]["moves"]) <= 10
    assert data["reslot"]["after"] <= data["reslot"]["before"]
    assert data["objective"] == data["reslot"]["after"]
    code, out = _run(app, *base, "--affinity", str(files / "aff.csv"), "--time-limit", "2")
    assert code == 0, out
    data = json.loads(out)
    assert data["affinity"]["status"] in {"OPTIMAL", "FEASIBLE"}
    assert data["affinity"]["gap"] >= 0
    code, out = _run(app, *base[:-1])
    assert code == 0 and "slotting" in out


def test_bad_input_exits_2_naming_the_problem(app: typer.Typer, files: Path) -> None:
    bad = files / "bad.csv"
    bad.write_text("sku,velocity,volume_l,weight_kg,zone,hazard\nA,fast,1,1,bonded,0\n")
    code, out = _run(app, "slot", "--skus", str(bad), "--slots", str(files / "slots.csv"))
    assert code == 2
    # Rich wraps the message at the terminal's width, wherever the (long) temporary path ends
    assert "bad.csv:2:columnvelocity:'fast'isnotanumber" in "".join(out.split())
    paths = ["--skus", str(files / "skus.csv"), "--slots", str(files / "slots.csv")]
    code, out = _run(app, "slot", *paths, "--moves", "3")
    assert code == 2 and "--current and --moves go together" in out


def test_travel_from_the_layout(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "skus.csv").write_text("sku,velocity,volume_l,weight_kg,zone,hazard\nA,5,1,1,bonded,0\n")
    (tmp_path / "slots.csv").write_text(
        "slot,zone,volume_l,max_kg,hazard_ok,level\nS00L00-0,bonded,200,80,0,0\nS05L19-0,bonded,200,80,0,0\n"
    )
    paths = ["--skus", str(tmp_path / "skus.csv"), "--slots", str(tmp_path / "slots.csv")]
    code, out = _run(app, "slot", *paths, "--out", str(tmp_path / "a.csv"), "--json")
    assert code == 0, out
    assert read_assignment(tmp_path / "a.csv") == {"A": "S00L00-0"}
    assert json.loads(out)["optimal"] is True


def test_bench_json(app: typer.Typer, tmp_path: Path) -> None:
    code, out = _run(app, "bench", "slotting", "--sizes", "150", "--json", "--save", str(tmp_path / "b.json"))
    assert code == 0, out
    data = json.loads(out)
    assert data == json.loads((tmp_path / "b.json").read_text())
    ratios = {r["method"]: r["ratio"] for r in data["methods"]}
    assert ratios["optimal"] == 1.0 and min(ratios.values()) == 1.0
    assert {r["current"] for r in data["reslot"]} == {"random", "drifted"}
