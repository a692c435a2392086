"""A whole shift with every client logged in under its own account and the broker enforcing the ACLs."""

from __future__ import annotations

from pathlib import Path

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.shift import ShiftOptions, run_mqtt


def test_a_shift_runs_with_authentication_and_acls_enforced(tmp_path: Path) -> None:
    opts = ShiftOptions(
        duration_s=180.0,
        orders_per_hour=1200.0,
        speed=60.0,
        db_url=f"sqlite:///{tmp_path / 's.db'}",
        secure=True,
    )
    result = run_mqtt(
        load_warehouse(CONFIG_DIR / "warehouse.toml"), load_customs(CONFIG_DIR / "customs.toml"), opts
    )
    assert "with authentication" in result["broker"]
    assert result["lost"] == 0 and result["in_progress"] == 0 and result["dispatched"] > 0, result
    assert result["ledger_balanced"] and result["internal_errors"] == 0
    assert "robots" not in result["alarms_by_source"], result[
        "alarms_by_source"
    ]  # no right the flow needs is denied
