"""The route, batch and bench commands on a throwaway Typer app, and their bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wms.picking import bench
from wms.picking.block import Block
from wms.picking.commands import register

LAYOUT = "aisles = 6\naisle_length_m = 20.0\naisle_pitch_m = 3.0\ncross_aisles = 3\ndepot_aisle = 1\n"


@pytest.fixture()
def cli() -> typer.Typer:
    app, bench_app = typer.Typer(), typer.Typer()
    app.add_typer(bench_app, name="bench")
    register(app, bench_app)
    return app


def _files(
    tmp: Path,
    picks: str = "aisle,position_m\n0,3.5\n4,18\n2,10\n4,2\n",
    orders: str = "order,aisle,position_m,qty\nA,0,3,2\nA,4,18,1\nB,2,10,3\nC,5,5,1\n",
) -> dict[str, str]:
    (tmp / "layout.toml").write_text(LAYOUT)
    (tmp / "picks.csv").write_text(picks)
    (tmp / "orders.csv").write_text(orders)
    return {
        k: str(tmp / f)
        for k, f in (("layout", "layout.toml"), ("picks", "picks.csv"), ("orders", "orders.csv"))
    }


@pytest.mark.parametrize(
    "method", ["exact", "ortools", "sshape", "return", "midpoint", "largest-gap", "combined"]
)
def test_route_json(cli: typer.Typer, tmp_path: Path, method: str) -> None:
    f = _files(tmp_path)
    res = CliRunner().invoke(
        cli,
        [
            "route",
            "--layout",
            f["layout"],
            "--picks",
            f["picks"],
            "--method",
            method,
            "--time-limit",
            "0.05",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == {"method", "length_m", "sequence", "seconds"} and doc["method"] == method
    assert sorted(doc["sequence"]) == [0, 1, 2, 3]
    block = Block(6, 20.0, 3.0, 3, 1)
    picks = [(0, 3.5), (4, 18.0), (2, 10.0), (4, 2.0)]
    assert doc["length_m"] == pytest.approx(block.sequence_length(picks, doc["sequence"]))


def test_batch_json(cli: typer.Typer, tmp_path: Path) -> None:
    f = _files(tmp_path)
    res = CliRunner().invoke(
        cli, ["batch", "--layout", f["layout"], "--orders", f["orders"], "--capacity", "5", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert sorted(o for b in doc["batches"] for o in b["orders"]) == ["A", "B", "C"]
    assert all(b["items"] <= 5 for b in doc["batches"]) and doc["total_m"] <= doc["fcfs_sshape_m"] + 1e-9


@pytest.mark.parametrize(
    ("picks", "orders", "args", "message"),
    [
        ("aisle,position_m\n0,3\n9,2\n", None, [], "picks.csv row 1 (line 3): aisle 9 does not exist"),
        ("aisle,position_m\n0,3\n1,25\n", None, [], "row 1 (line 3): position_m 25.0 is outside aisle 1"),
        ("aisle,position_m\n0,abc\n", None, [], "row 0 (line 2): position_m must be a number"),
        ("aisle,pos\n0,3\n", None, [], "missing position_m"),
        (
            None,
            "order,aisle,position_m,qty\nA,0,3,2\nB,1,4,9\nB,2,4,1\n",
            ["--capacity", "8"],
            "order 'B' (rows 1, 2): 10 items is more than the cart's 8",
        ),
        (
            None,
            "order,aisle,position_m,qty\nA,0,3,0\n",
            ["--capacity", "8"],
            "row 0 (line 2): qty must be at least 1",
        ),
        (
            None,
            "order,aisle,position_m,qty\nA,7,3,1\n",
            ["--capacity", "8"],
            "row 0 (line 2): aisle 7 does not exist",
        ),
    ],
)
def test_bad_input_names_the_row_and_plans_nothing(
    cli: typer.Typer, tmp_path: Path, picks: str | None, orders: str | None, args: list[str], message: str
) -> None:
    f = _files(tmp_path, **{k: v for k, v in (("picks", picks), ("orders", orders)) if v is not None})
    if picks is not None:
        cmd = ["route", "--layout", f["layout"], "--picks", f["picks"], "--json"]
    else:
        cmd = ["batch", "--layout", f["layout"], "--orders", f["orders"], "--json", *args]
    res = CliRunner().invoke(cli, cmd)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert message in " ".join(res.stderr.split())


def test_bad_layout_and_method(cli: typer.Typer, tmp_path: Path) -> None:
    f = _files(tmp_path)
    Path(f["layout"]).write_text("aisles = 6\naisle_length_m = 20.0\naisle_pitch_m = 3.0\ndepot_aisle = 6\n")
    res = CliRunner().invoke(cli, ["route", "--layout", f["layout"], "--picks", f["picks"]])
    assert res.exit_code == 2 and "depot_aisle 6" in res.stderr
    res = CliRunner().invoke(cli, ["route", "--layout", f["layout"], "--picks", f["picks"], "--method", "x"])
    assert res.exit_code == 2 and "unknown method 'x'" in res.stderr


def test_bench_runs_a_tiny_grid_and_plots(tmp_path: Path) -> None:
    grid = bench.Grid(
        aisles=(5,),
        picks=(6,),
        instances=2,
        ortools_fast_s=0.02,
        slow_cells=((5, 12),),
        slow_instances=1,
        slow_s=0.05,
        capacities=(10,),
        batch_orders=8,
        batch_instances=1,
    )
    report = bench.run(grid, seed=3)
    assert len(report["routing"]) == 4 and len(report["ortools_slow"]) == 2 and len(report["batching"]) == 2
    for cell in report["routing"]:
        for name, m in cell["methods"].items():
            assert m["gap_pct"] >= -1e-9 and m["walk_gap_pct"] >= m["gap_pct"] - 1e-9, name
    json.dumps(report)
    bench.plot(report, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bench_command_is_registered(cli: typer.Typer) -> None:
    res = CliRunner().invoke(cli, ["bench", "picking", "--help"])
    assert res.exit_code == 0 and "--quick" in res.stdout


def test_an_error_naming_a_path_with_brackets_prints_it_whole(cli: typer.Typer, tmp_path: Path) -> None:
    folder = tmp_path / "a[" / "x] [bold]"  # the path reads "a[/x] [bold]": Rich markup, were it parsed
    folder.mkdir(parents=True)
    f = _files(folder, picks="aisle,position_m\n0,3\n9,2\n")
    res = CliRunner().invoke(cli, ["route", "--layout", f["layout"], "--picks", f["picks"], "--json"])
    assert res.exit_code == 2, res.output
    assert f"{f['picks']} row 1 (line 3): aisle 9 does not exist" in res.stderr
