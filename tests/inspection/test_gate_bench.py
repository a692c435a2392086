"""``wms bench gate``: the X-ray lane model on hand-checked cases, and a small run through the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.inspection.bench import GateModel, percentile, run_bench, simulate_gate
from wms.inspection.commands import register

CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
WAREHOUSE = load_warehouse(CONFIG_DIR / "warehouse.toml")
ONE_LANE = GateModel(lanes=1, xray_s=5.0, manual_check_s=100.0, conveyor_to_gate_s=0.0, suspect_rate=0.0)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3, 1, 2], 50) == 2 and percentile([3, 1, 2], 99) == 3
    assert percentile(list(range(1, 101)), 95) == 95


def test_one_lane_queues_in_arrival_order() -> None:
    g = simulate_gate([(0.0, "release"), (1.0, "release"), (2.0, "release")], ONE_LANE, 0.0, seed=1)
    assert (g["at_gate"], g["queue_max"], g["hold_rate"]) == (3, 1, 0.0)
    assert (g["wait_p50_s"], g["wait_p99_s"]) == (4.0, 8.0)  # waits 0, 4, 8
    assert (g["sort_to_release_p50_s"], g["sort_to_release_p99_s"]) == (9.0, 13.0)  # released 5, 10, 15


def test_holds_get_a_manual_check_and_rejects_no_lane() -> None:
    gate = GateModel(lanes=1, xray_s=5.0, manual_check_s=100.0, conveyor_to_gate_s=10.0, suspect_rate=0.0)
    g = simulate_gate([(0.0, "hold"), (50.0, "reject"), (60.0, "release")], gate, 0.0, seed=1)
    assert (g["at_gate"], g["rejected_no_lane"], g["held_by_rules"]) == (2, 1, 1)
    assert g["hold_rate"] == 0.5
    assert sorted([g["sort_to_release_p50_s"], g["sort_to_release_p99_s"]]) == [15.0, 115.0]


def test_parcels_join_the_shortest_lane() -> None:
    two = GateModel(lanes=2, xray_s=10.0, manual_check_s=1.0, conveyor_to_gate_s=0.0, suspect_rate=0.0)
    g = simulate_gate([(0.0, "release")] * 4, two, 0.0, seed=1)
    assert g["queue_max"] == g["queue_max_one_lane"] == 1  # the 4th finds one waiting on lane 0, none on 1
    assert (g["sort_to_release_p50_s"], g["sort_to_release_p99_s"]) == (10.0, 20.0)


def test_xray_suspects_are_drawn_at_their_rate() -> None:
    gate = GateModel(lanes=4, xray_s=1.0, manual_check_s=60.0, conveyor_to_gate_s=0.0, suspect_rate=0.1)
    parcels = [(float(i), "release") for i in range(5000)]
    g = simulate_gate(parcels, gate, 0.0, seed=3)
    assert 0.07 < g["xray_suspects"] / 5000 < 0.13
    assert g == simulate_gate(parcels, gate, 0.0, seed=3)


def test_run_bench_counts_add_up() -> None:
    result = run_bench(400, WAREHOUSE, CUSTOMS, seed=5)
    engine, gate = result["engine"], result["gate"]
    assert sum(engine["decisions"].values()) == 400
    assert engine["decisions_per_s"] > 0 and engine["target_per_s"] == 20_000
    assert sum(engine["injected_defects"].values()) <= engine["decisions"].get("reject", 0)
    assert gate["at_gate"] + gate["rejected_no_lane"] == gate["parcels_sorted"] == 400  # all within the day
    assert gate["lanes"] == WAREHOUSE.gate.xray_lanes
    again = run_bench(400, WAREHOUSE, CUSTOMS, seed=5)
    assert again["engine"]["reasons"] == engine["reasons"] and again["gate"] == gate
    with pytest.raises(ValueError):
        run_bench(0, WAREHOUSE, CUSTOMS)


def test_bench_gate_command_prints_tables_and_writes_json(tmp_path: Path) -> None:
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    out = tmp_path / "gate.json"
    result = CliRunner().invoke(
        app, ["bench", "gate", "--parcels", "300", "--json", str(out), "--lanes", "3"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "decisions/s" in result.stdout and "sort → release" in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["parcels"] == 300 and data["gate"]["lanes"] == 3
    assert set(data["engine"]["decisions"]) <= {"release", "hold", "reject"}


def test_held_parcels_wait_for_a_free_officer() -> None:
    gate = GateModel(
        lanes=3, xray_s=5.0, manual_check_s=100.0, conveyor_to_gate_s=0.0, suspect_rate=0.0, manual_officers=1
    )
    g = simulate_gate([(0.0, "hold"), (0.0, "hold"), (0.0, "hold")], gate, 0.0, seed=1)
    # three lanes scan at once; one officer checks them one after the other
    assert (g["hold_lane_wait_p50_s"], g["hold_lane_wait_p99_s"]) == (100.0, 200.0)
    assert g["sort_to_release_p99_s"] == 305.0 and g["last_release_h"] == 305.0 / 3600
