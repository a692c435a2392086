"""The nightly re-slot proposal: moves within the budget, stored for review, never applied by itself."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.shift import ShiftOptions, virtual_shift
from wms.store.models import ReslotRow


def test_nightly_proposal_is_stored_and_leaves_slots_alone(tmp_path: Path) -> None:
    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"reslot_at": "09:20"})})
    opts = ShiftOptions(duration_s=1800.0, db_url=f"sqlite:///{tmp_path / 'r.db'}")  # 09:00 to 09:30
    shift, _ = virtual_shift(cfg, load_customs(CONFIG_DIR / "customs.toml"), opts)
    slots_before = dict(shift.controller.sku_slot)
    shift.clock.run(until=shift.start + 1500.0)
    with shift.controller.repo.session() as s:
        rows = s.exec(select(ReslotRow)).all()
    assert len(rows) == 1
    moves = json.loads(rows[0].moves)
    assert 0 < len(moves) <= max(1, round(0.05 * len(shift.controller.catalog)))
    assert rows[0].saving_m_per_day > 0 and rows[0].saving_m_per_day <= rows[0].full_saving_m_per_day + 1e-6
    assert shift.controller.sku_slot == slots_before  # a proposal, not an action
    assert any("re-slot proposal" in a.message for a in shift.controller.alarms)
