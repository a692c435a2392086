"""``wms bench fleet``: tiny runs on the embedded Mosquitto through a throwaway Typer app (no timings)."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema.validators import validator_for
from typer.testing import CliRunner

from wms.robots.bench import LoadGenerator, LoadSpec, _Robot, grid_map, host_probe_ms
from wms.robots.commands import register
from wms.robots.orders import build_order, make_action
from wms.robots.vda5050 import parse_state

needs_mosquitto = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto binary not on PATH")

RUN_KEYS = {
    "robots",
    "hz",
    "states_sent",
    "handled",
    "dropped",
    "handled_per_s",
    "commands_sent",
    "commands_received",
    "commands_dropped",
    "latency_ms",
    "master_cpu_pct",
    "load_cpu_pct",
    "broker_cpu_pct",
    "broker",
    "clients",
    "host_probe_ms",
}


def _app() -> typer.Typer:
    app = typer.Typer()
    bench = typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    return app


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(_app(), ["bench", "fleet", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)


@needs_mosquitto
def test_tiny_run_on_the_embedded_broker_handles_everything(tmp_path: Path) -> None:
    """10 robots × 2 Hz × 3 s: the JSON has the figures, the master handled states and nothing was lost."""
    out = tmp_path / "fleet.json"
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    _invoke(["--robots", "10", "--hz", "2", "--duration", "3", "--warmup", "1", "--json", str(out)])
    assert gc.get_threshold() == threshold  # the collector is left as the run found it
    assert (gc.get_freeze_count() > 0) == bool(frozen)
    result = json.loads(out.read_text())
    assert result["bench"] == "fleet"
    assert result["first_n_p99_over_limit"] is None
    [run] = result["runs"]
    assert set(run) >= RUN_KEYS
    assert set(run["latency_ms"]) == {"n", "p50", "p90", "p99", "max"}
    assert run["broker"].startswith("mosquitto (embedded")
    assert run["handled"] > 0
    assert run["dropped"] == 0
    assert run["commands_sent"] > 0
    assert run["commands_dropped"] == 0
    assert run["latency_ms"]["n"] > 0
    assert run["tasks_done"] > 0
    assert run["tasks_failed"] == 0
    assert run["rejected"] == 0
    assert run["host_probe_ms"]["before"] > 0 and run["host_probe_ms"]["after"] > 0


def test_the_host_probe_takes_longer_for_a_longer_loop() -> None:
    """The probe times its loop: ten times the loop takes clearly longer (not a constant)."""
    short, long = host_probe_ms(repeat=3, loops=20_000), host_probe_ms(repeat=3, loops=200_000)
    assert 0 < short < long


@needs_mosquitto
def test_sweep_writes_a_plot_and_names_the_first_n_over_the_limit(tmp_path: Path) -> None:
    """A sweep of two sizes runs each and draws p99 against N."""
    out = tmp_path / "sweep.json"
    args = ["--sweep", "8,4", "--hz", "2", "--duration", "2.5", "--warmup", "1", "--per-client", "4"]
    _invoke([*args, "--json", str(out)])
    result = json.loads(out.read_text())
    assert [r["robots"] for r in result["runs"]] == [4, 8]
    assert [r["clients"] for r in result["runs"]] == [1, 2]
    assert "first_n_p99_over_limit" in result
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _vda_dir() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "vda5050" / "2.0.0").is_dir():
            return parent / "shared" / "vda5050" / "2.0.0"
    return None


@pytest.mark.skipif(_vda_dir() is None, reason="VDA 5050 schemas (shared/vda5050) not found")
def test_emulated_robot_states_are_schema_valid_through_an_order() -> None:
    """The load generator's states (idle, order accepted, base driven) are valid VDA 5050 2.0.0 states."""
    folder = _vda_dir()
    assert folder is not None
    schema: dict[str, Any] = json.loads((folder / "state.schema").read_text(encoding="utf-8"))
    validator = validator_for(schema)(schema)
    fmap = grid_map()
    spec = LoadSpec("mqtt://127.0.0.1:1", "m", ["r1"], [("G0-0", 0.0, 0.0)], [0.0], 5.0, 1, True, "t")
    gen = LoadGenerator(spec)
    robot = _Robot("r1", None, "G0-0", 0.0, 0.0, "uagv/v2/m/r1/state")  # type: ignore[arg-type]
    path = fmap.path("G0-0", "G3-4")
    order = build_order(
        manufacturer="m",
        serial="r1",
        order_id="o1",
        order_update_id=0,
        path=[(n, *fmap.pos[n]) for n in path],
        actions={path[-1]: [make_action("drop", "a1", {"loadId": "L1"})]},
        released=3,
        header_id=0,
        now=1_700_000_000.0,
    )
    states = [gen.state(robot)]
    gen._order(robot, json.loads(order.model_dump_json(exclude_none=True)))
    states.append(gen.state(robot))
    assert gen.advance(robot)
    states.append(gen.state(robot))
    base_end = json.loads(states[-1])
    assert base_end["lastNodeId"] == path[2]
    assert base_end["lastNodeSequenceId"] == 4
    assert [n["released"] for n in base_end["nodeStates"]] == [False] * (len(path) - 3)
    assert base_end["actionStates"] == []  # the drop sits on a horizon node: reported once released
    update = build_order(
        manufacturer="m",
        serial="r1",
        order_id="o1",
        order_update_id=1,
        path=[(n, *fmap.pos[n]) for n in path[2:]],
        actions={path[-1]: [make_action("drop", "a1", {"loadId": "L1"})]},
        start_sequence_id=4,
        header_id=1,
        now=1_700_000_001.0,
    )
    gen._order(robot, json.loads(update.model_dump_json(exclude_none=True)))
    states.append(gen.state(robot))
    assert json.loads(states[-1])["actionStates"][0]["actionStatus"] == "WAITING"
    assert gen.advance(robot)
    states.append(gen.state(robot))
    done = json.loads(states[-1])
    assert (done["lastNodeId"], done["nodeStates"], done["edgeStates"]) == (path[-1], [], [])
    assert done["actionStates"] == [{"actionId": "a1", "actionType": "drop", "actionStatus": "FINISHED"}]
    for payload in states:
        msg = json.loads(payload)
        assert [e.message for e in validator.iter_errors(msg)] == []
        parse_state(payload)


def test_the_bench_floor_plans_a_path_once_and_gives_each_caller_its_own_list() -> None:
    fmap = grid_map()
    first = fmap.path("G0-0", "G2-3")
    assert first == ["G0-0", "G0-1", "G0-2", "G0-3", "G1-3", "G2-3"]
    first.append("G9-9")
    assert fmap.path("G0-0", "G2-3") == first[:-1]
