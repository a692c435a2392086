"""The controller SIGKILLed mid-shift over MQTT and restarted from its database loses nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wms.chaos import ChaosOptions, run_chaos
from wms.config import CONFIG_DIR, load_customs, load_warehouse


def test_sigkilled_controller_resumes_from_its_database(tmp_path: Path) -> None:
    """On the CI's Mosquitto when given (own partition and manufacturer), else an embedded broker."""
    opts = ChaosOptions(
        kills=3,
        duration_s=600.0,
        speed=20.0,
        mqtt_url=os.environ.get("WMS_TEST_MQTT_URL"),
        db_url=f"sqlite:///{tmp_path / 'chaos.db'}",
        log_dir=tmp_path / "logs",
        seed=7,
    )
    result = run_chaos(
        load_warehouse(CONFIG_DIR / "warehouse.toml"), load_customs(CONFIG_DIR / "customs.toml"), opts
    )
    summary = {k: v for k, v in result.items() if k != "per_kill"}
    assert result["kills"] == 3, summary
    assert result["orders_sent"] > 100 and result["lost"] == 0 and result["open_at_end"] == 0, summary
    assert result["double_closed"] == 0 and result["double_closed_after_any_kill"] == 0, summary
    assert result["robots_with_two_tasks"] == 0, summary
    assert result["ledger_balanced_after_every_kill"] and result["ledger_balanced_at_end"], summary
    assert result["restarts_not_serving_in_60s"] == 0 and result["controller_internal_errors"] == 0, summary
    assert all(k["open_parcels"] > 0 for k in result["per_kill"][1:]), result[
        "per_kill"
    ]  # kills hit live work
    assert result["ok"]


@pytest.mark.parametrize("bad", ["12", "a:b"])
def test_run_refuses_a_malformed_time_anchor(bad: str) -> None:
    from typer.testing import CliRunner

    from wms.cli import app

    res = CliRunner().invoke(app, ["run", "--time-anchor", bad, "--db", "sqlite://"])
    assert res.exit_code == 2 and "--time-anchor" in res.output
