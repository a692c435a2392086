"""A small simulated day through the whole flow: every order accounted for, figures consistent with the DB.

The reference warehouse for a day of a few hundred orders keeps the test short (the harness is the same for
250,000 orders on config/city.toml; ``wms bench day`` runs that).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from wms.config import CONFIG_DIR, Promotion, load_customs, load_warehouse
from wms.day.bench import DayOptions, checks, run_day, targets
from wms.day.plot import plot_day
from wms.day.render import hourly_table, summary_table, verdict
from wms.day.report import OPEN_STATES

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
ALARM_S = 20.0  # below most pick trips, so that the day's slow-task alarms are many
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "orders",
    "sla",
    "per_hour",
    "queues",
    "gate",
    "robots",
    "chutes",
    "ledger",
    "wall",
    "peak_rss_mb",
    "checks",
    "targets",
    "config",
    "drained",
}


@pytest.fixture(scope="module")
def day() -> dict[str, Any]:
    """A 400-order day with an evening flash sale, on a temporary SQLite file."""
    opts = DayOptions(
        orders=400, seed=11, drain_limit_h=6.0, promotions=[Promotion(start="20:00", hours=2, factor=2)]
    )
    cfg = CFG.model_copy(update={"fleet": CFG.fleet.model_copy(update={"task_alarm_s": ALARM_S})})
    return run_day(cfg, CUSTOMS, opts)


def test_every_order_is_accounted_for_and_the_ledger_balances(day: dict[str, Any]) -> None:
    o = day["orders"]
    assert day["checks"] == {
        "accounted_for": True,
        "ledger_balanced": True,
        "no_internal_errors": True,
        "within_24h": True,
    }
    assert 300 < o["placed"] < 500  # about the 400 requested
    assert o["placed"] == o["sent"] == o["in_db"] == o["parcels_in_db"]
    assert o["in_db"] == o["dispatched"] + o["held"] + o["rejected"] and o["open"] == 0 and o["lost"] == 0
    assert o["dispatched"] > 0.9 * o["placed"]
    assert day["drained"] and day["drain_s"] is not None and day["drain_s"] < 6 * 3600
    assert day["ledger"]["balanced"] and day["ledger"]["lots"] > 0


def test_the_same_day_with_the_world_in_a_process_of_its_own(day: dict[str, Any]) -> None:
    """Only the link's latency differs from the one-process day: the same orders arrive, and the views of
    the world (feed, robots) and its costs reach the report."""
    opts = DayOptions(**{**day["options"], "promotions": [Promotion(start="20:00", hours=2, factor=2)]})
    opts.world_process = True
    cfg = CFG.model_copy(update={"fleet": CFG.fleet.model_copy(update={"task_alarm_s": ALARM_S})})
    linked = run_day(cfg, CUSTOMS, opts)
    assert linked["checks"] == day["checks"] and all(linked["checks"].values())
    o, one = linked["orders"], day["orders"]
    assert o["placed"] == one["placed"] and o["sent"] == o["in_db"] == o["placed"] and o["open"] == 0
    assert linked["per_hour"]["placed"] == day["per_hour"]["placed"]  # the feed's arrivals, hour by hour
    assert abs(o["dispatched"] - one["dispatched"]) <= 0.02 * one["dispatched"]
    w = linked["world"]
    assert (
        w["process"] and w["link_latency_s"] == 0.1 and w["cpu_s"] > 0 and w["callbacks_s"]["simulators"] > 0
    )
    assert w["windows"] >= w["exchanges"] > 0 and w["messages_from_world"] > w["messages_to_world"] > 0
    assert linked["cpu_s"]["world"] == w["cpu_s"] and 0 < linked["world_peak_rss_mb"] < linked["peak_rss_mb"]
    assert linked["split"]["seconds"]["simulators"] == 0  # none of the world's callbacks ran here
    for kind in ("picking", "sorting"):  # read off the robots in the other process
        robots = linked["robots"][kind]
        assert robots["orders_driven"] > 0 and robots["on_charger_robot_h"] >= 0
        assert robots["utilisation_pct"] > 0
    console = Console(record=True, width=160)
    console.print(summary_table([linked]))
    text = console.export_text()
    assert "(own process)" in text and "0.1 s; " in text and "world " in text


def test_stage_counts_per_hour_add_up_to_the_totals(day: dict[str, Any]) -> None:
    ph, o, g = day["per_hour"], day["orders"], day["gate"]
    assert len(ph["placed"]) == len(ph["dispatched"]) >= 24
    assert sum(ph["placed"]) == o["placed"]
    assert sum(ph["received"]) == o["in_db"]
    assert sum(ph["dispatched"]) == o["dispatched"]
    assert sum(ph["held"]) == o["held"]
    assert sum(ph["rejected"]) == o["rejected"]
    assert sum(ph["allocated"]) == o["in_db"] - g["rejected_at_intake"]  # the rest refused at intake
    assert sum(ph["released"]) == o["dispatched"]
    assert sum(ph["placed"][24:]) == 0  # nothing placed after the day
    # the flash sale: the evening hours bring more orders than any other two hours of the day
    evening = ph["placed"][20] + ph["placed"][21]
    assert all(evening > ph["placed"][h] + ph["placed"][h + 1] for h in range(0, 19))


def test_queues_from_the_events_never_go_negative_and_end_empty(day: dict[str, Any]) -> None:
    by = day["queues"]["by_state"]
    assert set(by) == set(OPEN_STATES)
    for state, series in by.items():
        assert min(series) >= 0, state
        assert series[-1] == 0, state  # drained: nothing open at the end
    assert max(max(s) for s in by.values()) > 0
    samples = day["queues"]["samples"]
    assert samples and all(s["t_s"] > 0 for s in samples)
    assert samples[-1]["generated"] == day["orders"]["placed"]
    cpu = [s["cpu_s"] for s in samples]
    assert cpu == sorted(cpu) and cpu[-1] > cpu[0] > 0  # the day's process's CPU so far, never going back


def test_the_run_is_split_between_controller_simulators_and_the_loop(day: dict[str, Any]) -> None:
    split = day["split"]
    s, events = split["seconds"], split["events"]
    assert s["controller"] > 0 and s["simulators"] > 0 and s["other"] == 0 and events["other"] == 0
    assert events["controller"] > 0 and events["simulators"] > 0 and events["bench"] > 0  # the status spy
    assert sum(s.values()) == pytest.approx(day["wall"]["simulate_s"], rel=0.02, abs=0.05)
    for owner in ("controller", "simulators"):  # each sample: the owner's seconds so far
        so_far = [sample[f"{owner}_s"] for sample in day["queues"]["samples"]]
        assert so_far == sorted(so_far) and 0 < so_far[-1] <= s[owner]
    placed = day["orders"]["placed"]
    assert split["controller_ms_per_order"] == pytest.approx(1000 * s["controller"] / placed, abs=0.05)


def test_sla_gate_robots_and_chutes_agree_with_the_counts(day: dict[str, Any]) -> None:
    s, o, g = day["sla"], day["orders"], day["gate"]
    assert s["owed"] == o["dispatched"] + s["out_of_stock"] + o["open"] + s["never_received"]
    assert s["within_24h"] + s["dispatched_late"] == s["dispatched"] == o["dispatched"]
    assert s["within_24h_pct"] == pytest.approx(100.0 * s["within_24h"] / s["owed"], abs=1e-3)
    t = s["order_to_dispatch_s"]
    assert 0 < t["p50"] <= t["p90"] <= t["p99"] <= t["max"] <= 24 * 3600
    assert g["inspected"] == g["released"] + g["held"] + g["rejected_at_gate"]
    assert g["released"] == o["dispatched"] and g["held"] == o["held"]
    assert g["rejected_at_gate"] + g["rejected_at_intake"] == o["rejected"]
    assert sum(g["intake_rejects_by_reason"].values()) == g["rejected_at_intake"]
    assert g["xray"].get("clear", 0) + g["xray"].get("suspect", 0) == g["released"] + g["held"]
    for kind, count in (("picking", CFG.fleet.picking.count), ("sorting", CFG.fleet.sorting.count)):
        r = day["robots"][kind]
        assert r["robots"] == count
        shares = r["utilisation_pct"] + r["charging_pct"] + r["idle_pct"] + r["other_pct"]
        assert shares == pytest.approx(100.0, abs=0.5)
        assert 0 < r["utilisation_pct"] < 100 and r["orders_driven"] > 0
        took = r["task_s"]
        assert 0 < took["p50_s"] <= took["p99_s"] <= took["max_s"] < 3600, took
    sorts = day["robots"]["sorting"]
    assert sorts["task_s"]["done"] == g["inspected"]  # one sort move per parcel at the gate
    assert sorts["traffic"]["waits"] >= 0 and "traffic" not in day["robots"]["picking"]
    c = day["chutes"]
    assert c["parcels_bagged"] == g["inspected"]  # every parcel at the gate came in a bag
    assert c["bags_closed"] > 0 and 0 < c["mean_fill_pct"] <= 100
    assert 0 < c["open_chutes_peak"] <= c["chutes"]


def test_tasks_over_the_alarm_time_are_counted_and_the_first_named(day: dict[str, Any]) -> None:
    slow = day["slow_tasks"]
    assert slow["alarm_after_s"] == ALARM_S and slow["count"] == day["alarms_by_source"]["tasks"]
    assert day["robots"]["picking"]["task_s"]["max_s"] > ALARM_S + 15  # checked every 15 s: alarmed
    assert len(slow["first"]) == 20 and slow["count"] > 20
    ats = [a["at_s"] for a in slow["first"]]
    assert ats == sorted(ats) and ats[0] > ALARM_S
    for a in slow["first"]:
        running = int(a["message"].split(" running ")[1].split(" s:")[0])
        assert ALARM_S <= running < ALARM_S + 15, a
        assert a["message"].startswith(("pick task ", "sort task ", "charge task ")), a


def test_json_table_and_plot(day: dict[str, Any], tmp_path: Path) -> None:
    assert set(day) >= KEYS
    back = json.loads(json.dumps(day))
    assert back["orders"] == day["orders"]
    assert day["wall"]["total_s"] > 0 and day["peak_rss_mb"] > 0 and day["wall"]["orders_per_s"] > 0
    console = Console(record=True, width=160)
    console.print(summary_table([day]))
    console.print(hourly_table(day))
    console.print(verdict(day))
    text = console.export_text()
    assert "every parcel accounted for" in text and "FAIL" not in text
    assert "sort task p50 / p99 / max" in text and "tasks over the alarm time" in text
    plot_day(day, tmp_path / "day.png")
    assert (tmp_path / "day.png").stat().st_size > 20_000


def test_the_checks_catch_a_lost_parcel_an_open_one_and_an_unbalanced_ledger(day: dict[str, Any]) -> None:
    lost = copy.deepcopy(day)
    lost["orders"]["lost"] = 1
    assert not checks(lost)["accounted_for"]
    still_open = copy.deepcopy(day)
    still_open["orders"]["open"], still_open["orders"]["terminal"] = 1, day["orders"]["terminal"] - 1
    assert not checks(still_open)["accounted_for"]
    unbalanced = copy.deepcopy(day)
    unbalanced["ledger"]["balanced"] = False
    unbalanced["checks"] = checks(unbalanced)
    assert not targets(unbalanced)["ledger balanced"]
    late = copy.deepcopy(day)
    late["sla"]["met"] = False
    late["checks"] = checks(late)
    assert not all(targets(late).values())


def _wms(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wms", "bench", "day", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_day_and_sweep_in_worker_processes(tmp_path: Path) -> None:
    cfg = str(CONFIG_DIR / "warehouse.toml")
    common = ["--orders", "120", "--config", cfg, "--drain-limit", "4", "--no-progress", "--seed", "5"]
    day = ["--json", str(tmp_path / "day.json"), "--plot", str(tmp_path / "day.png"), "--world-process"]
    out = _wms(*common, *day, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads((tmp_path / "day.json").read_text())
    (run,) = result["runs"]
    assert run["checks"]["accounted_for"] and run["database_kind"] == "sqlite"
    assert run["options"]["world_process"] and run["world"]["exchanges"] > 0
    assert "Orders per hour by stage" in out.stdout and "pass  every parcel accounted for" in out.stdout
    assert (tmp_path / "day.png").stat().st_size > 20_000
    sweep = _wms(*common, "--sweep", "robots=2,3", "--json", str(tmp_path / "sweep.json"), cwd=ROOT)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    answer = json.loads((tmp_path / "sweep.json").read_text())["answer"]
    assert answer == {
        "picking": 2,
        "sorting": 2,
        "swept": ["picking", "sorting"],
        "confirmed_together": True,
        "found": True,
    }
    bad = _wms(*common, "--sweep", "robots=picking:4,x", cwd=ROOT)
    assert bad.returncode == 2 and "'x' is not a whole number of robots" in bad.stderr


@pytest.mark.integration
def test_the_same_day_on_postgresql(pg_url: str) -> None:
    result = run_day(CFG, CUSTOMS, DayOptions(orders=120, seed=5, drain_limit_h=4.0, db_url=pg_url))
    assert result["database_kind"] == "postgresql"
    assert result["checks"]["accounted_for"] and result["checks"]["ledger_balanced"]
    ph, o = result["per_hour"], result["orders"]
    assert sum(ph["received"]) == o["in_db"] and sum(ph["dispatched"]) == o["dispatched"]  # FLOOR buckets
    assert all(series[-1] == 0 for series in result["queues"]["by_state"].values())


def test_a_day_with_waves_in_the_planner_worker_counts_its_cpu_and_memory(tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"waves": CFG.waves.model_copy(update={"planner_process": True})})
    day = run_day(cfg, CUSTOMS, DayOptions(orders=150, seed=3, drain_limit_h=6.0, promotions=[]))
    assert day["checks"]["accounted_for"] and day["checks"]["no_internal_errors"]
    assert day["cpu_s"]["planner"] > 0 and day["cpu_s"]["controller"] > day["cpu_s"]["planner"]
    assert 0 < day["planner_peak_rss_mb"] < day["peak_rss_mb"]
    console = Console(record=True, width=160)
    console.print(summary_table([day]))
    assert "(planner worker" in console.export_text()
