"""``wms bench sort``: figures, trace, JSON, plot and sweep on a small map; bad input stops before the run."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from wms.sorting.commands import register
from wms.sorting.maps import load_sort_map
from wms.sorting.trace import check_trace

SMALL = (
    "type octile\nheight 6\nwidth 9\nmap\nE.......E\n.S.S.S.S.\n.S@S@S@S.\n.S.S.S.S.\n.........\nE.......E\n"
)
KEYS = {
    "map",
    "rules",
    "robots",
    "steps",
    "tasks",
    "parcels",
    "tasks_per_step",
    "bound_tasks_per_step",
    "efficiency",
    "parcels_per_hour",
    "plan_ms",
    "seconds",
}


def cli() -> typer.Typer:
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    return app


def test_bench_writes_trace_json_and_plot(tmp_path: Path) -> None:
    area = tmp_path / "small.map"
    area.write_text(SMALL)
    trace, out, png = tmp_path / "t.jsonl", tmp_path / "o.json", tmp_path / "o.png"
    res = CliRunner().invoke(
        cli(),
        [
            "bench",
            "sort",
            "--map",
            str(area),
            "--robots",
            "10",
            "--steps",
            "120",
            "--seed",
            "4",
            "--rules",
            "rhcr",
            "--trace",
            str(trace),
            "--json",
            str(out),
            "--plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data) == KEYS and set(data["plan_ms"]) == {"p50", "p99", "max"}
    assert data["rules"] == "rhcr" and data["steps"] == 120 and data["tasks"] > 0
    assert abs(data["efficiency"] - data["tasks_per_step"] / data["bound_tasks_per_step"]) < 1e-3
    assert data["parcels_per_hour"] == round(data["parcels"] / (120 * 0.5) * 3600, 1)
    lines = trace.read_text().splitlines()
    assert len(lines) == 122
    report = check_trace(lines, load_sort_map(area))
    assert report.ok and report.tasks == data["tasks"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    check = CliRunner().invoke(cli(), ["check-sort-trace", str(trace), "--map", str(area)])
    assert check.exit_code == 0 and "0 violations" in check.output


def test_sweep_gives_one_result_per_count_and_planner(tmp_path: Path) -> None:
    area = tmp_path / "small.map"
    area.write_text(SMALL)
    out, png = tmp_path / "sweep.json", tmp_path / "sweep.png"
    res = CliRunner().invoke(
        cli(),
        [
            "bench",
            "sort",
            "--map",
            str(area),
            "--robots",
            "4,8",
            "--steps",
            "40",
            "--planner",
            "pibt,lns",
            "--destinations",
            "zipf:1.2:5",
            "--json",
            str(out),
            "--plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert [d["robots"] for d in data] == [4, 4, 8, 8]
    assert png.stat().st_size > 0


def test_bad_input_stops_before_the_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.map"
    bad.write_text(SMALL.replace(".S@S@S@S.\n", ".S@S?S@S.\n"))
    res = CliRunner().invoke(cli(), ["bench", "sort", "--map", str(bad), "--robots", "4", "--steps", "5"])
    assert res.exit_code == 2 and "bad.map:7:5: unknown map character '?'" in res.output
    area = tmp_path / "small.map"
    area.write_text(SMALL)
    res = CliRunner().invoke(cli(), ["bench", "sort", "--map", str(area), "--robots", "60", "--steps", "5"])
    assert res.exit_code == 2 and "60 robots do not fit" in res.output
    walled = tmp_path / "walled.map"
    walled.write_text(
        SMALL.replace("E.......E\n.S", "E......@E\n.S", 1).replace(".S.S.S.S.\n.S@", ".S.S.S.S@\n.S@", 1)
    )
    res = CliRunner().invoke(cli(), ["bench", "sort", "--map", str(walled), "--robots", "4", "--steps", "5"])
    assert res.exit_code == 2 and "cannot be reached" in res.output
