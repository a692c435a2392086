"""The broker stops and starts again mid-shift: every client reconnects by itself and the shift completes."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from wms.bus.broker import EmbeddedBroker
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.shift import ShiftOptions, run_mqtt


@pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs the mosquitto binary to restart a broker")
def test_shift_survives_a_broker_restart(tmp_path: Path) -> None:
    broker = EmbeddedBroker(prefer="mosquitto").start()
    bounced = threading.Event()

    def bounce() -> None:
        time.sleep(6.0)
        broker.stop()
        time.sleep(3.0)  # 180 simulated seconds without a broker
        broker.start()
        bounced.set()

    threading.Thread(target=bounce, daemon=True).start()
    opts = ShiftOptions(
        duration_s=300.0,
        orders_per_hour=1200.0,
        speed=60.0,
        db_url=f"sqlite:///{tmp_path / 'r.db'}",
        mqtt_url=broker.url,
        drain_limit_s=3600.0,
    )
    try:
        result = run_mqtt(
            load_warehouse(CONFIG_DIR / "warehouse.toml"), load_customs(CONFIG_DIR / "customs.toml"), opts
        )
    finally:
        broker.close()
    assert bounced.is_set(), "the shift ended before the broker came back"
    assert result["lost"] == 0 and result["in_progress"] == 0, {
        k: result[k]
        for k in (
            "lost",
            "open_by_state",
            "orders_sent",
            "orders_in",
            "alarms_by_source",
            "resent",
            "open_tasks",
        )
    }
    assert result["orders_in"] == result["dispatched"] + result["held"] + result["rejected"]
    assert result["ledger_balanced"] and result["internal_errors"] == 0
