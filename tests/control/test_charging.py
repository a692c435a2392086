"""Robots with low batteries go to a free charging spot, charge, and come back to work."""

from __future__ import annotations

from pathlib import Path

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.shift import ShiftOptions, run_until_drained, summary, virtual_shift


def test_low_battery_robots_charge_and_return(tmp_path: Path) -> None:
    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    picking = cfg.fleet.picking.model_copy(
        update={"count": 4, "battery_drain_pct_per_h": 120.0, "low_battery_pct": 90.0, "charged_pct": 97.0}
    )
    cfg = cfg.model_copy(update={"fleet": cfg.fleet.model_copy(update={"picking": picking})})
    opts = ShiftOptions(duration_s=900.0, orders_per_hour=600.0, db_url=f"sqlite:///{tmp_path / 'c.db'}")
    shift, broker = virtual_shift(cfg, load_customs(CONFIG_DIR / "customs.toml"), opts)
    events: list[tuple[str, str]] = []  # (serial, what) in the order they were sent

    def spy(topic: str, data: bytes) -> None:
        serial = topic.split("/")[3]
        for what in (b"CHG-", b"PICK-", b"startCharging", b"stopCharging"):
            if what in data:
                events.append((serial, what.decode().rstrip("-")))

    broker.client("spy").subscribe("uagv/v2/+/+/order", spy)
    broker.client("spy2").subscribe("uagv/v2/+/+/instantActions", spy)
    run_until_drained(shift, opts.drain_limit_s)
    result = summary(shift, 0.0, "virtual", "in-process")
    assert result["in_progress"] == 0 and result["lost"] == 0 and result["ledger_balanced"]
    back_to_work = set()
    for serial in {s for s, _ in events}:
        mine = [w for s, w in events if s == serial]
        for i, w in enumerate(mine):
            if w == "CHG" and mine[i + 1 : i + 4] == ["startCharging", "stopCharging", "PICK"]:
                back_to_work.add(serial)
    assert back_to_work, f"no robot charged and went back to picking: {events[:20]}"
