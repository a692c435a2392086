"""End-to-end shifts: every order ends dispatched, held or rejected exactly once, the ledger balances.

One in virtual time on the in-process bus (with every VDA 5050 message checked against the official
schemas), one over the embedded broker, and one over the CI's Mosquitto and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.inspection.ceb import validate
from wms.reports import ledger_report, sla_report
from wms.shift import ShiftOptions, run_mqtt, run_until_drained, summary, virtual_shift
from wms.store.models import DeclarationRow

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")


def _assert_shift_ok(result: dict[str, Any]) -> None:
    assert result["lost"] == 0, result
    assert result["in_progress"] == 0, result
    assert result["orders_in"] == result["orders_sent"] > 0
    assert result["orders_in"] == result["dispatched"] + result["held"] + result["rejected"]
    assert result["dispatched"] > 0
    assert result["ledger_balanced"], result["ledger"]
    assert result["sla_met_pct"] == 100.0


def test_virtual_shift_end_to_end_with_schema_valid_vda5050(tmp_path: Path, vda_schemas: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validators = {
        kind: jsonschema.Draft7Validator(json.loads((vda_schemas / f"{kind}.schema").read_text()))
        for kind in ("order", "state", "connection", "instantActions")
    }
    opts = ShiftOptions(duration_s=900.0, orders_per_hour=1500.0, db_url=f"sqlite:///{tmp_path / 'v.db'}")
    shift, broker = virtual_shift(CFG, CUSTOMS, opts)
    seen: dict[str, int] = {}
    bad: list[str] = []

    def check(topic: str, data: bytes) -> None:
        kind = topic.rsplit("/", 1)[1]
        if kind in validators:
            seen[kind] = seen.get(kind, 0) + 1
            msg = json.loads(data)
            if kind == "order":
                released = [n["released"] for n in msg["nodes"]]
                if released != sorted(released, reverse=True):
                    bad.append(f"{topic}: a released node follows a horizon node")
                if msg["orderUpdateId"] > 0:
                    seen["order_updates"] = seen.get("order_updates", 0) + 1
            errors = list(validators[kind].iter_errors(msg))
            if errors:
                bad.append(f"{topic}: {errors[0].message}")

    broker.client("schema-spy").subscribe("uagv/#", check)
    run_until_drained(shift, opts.drain_limit_s)
    result = summary(shift, 0.0, "virtual", "in-process")
    _assert_shift_ok(result)
    assert result["rejected"] > 0  # the feed sends some orders with bad documents
    assert not bad, bad[:5]
    assert seen.get("order", 0) > 50 and seen.get("state", 0) > 100 and seen.get("connection", 0) >= 24
    assert seen.get("order_updates", 0) > 20  # paths go out as base + horizon, extended by updates
    ctl = shift.controller
    ledger = ledger_report(ctl.repo.engine)
    assert ledger["balanced"] and ledger["lots"] > 0, ledger["unbalanced_lots"][:3]
    with ctl.repo.session() as s:
        declarations = s.exec(select(DeclarationRow)).all()
    assert len(declarations) == result["dispatched"]  # one CEB621 inventory list per released parcel
    xsd = vda_schemas.parents[1] / "customs" / "ceb-202205" / "xsd" / "ceb-import-202205.xsd"
    for row in declarations[:5]:
        assert validate(row.xml.encode("utf-8"), xsd) == [], row.order_no
    sla = sla_report(ctl.repo.engine)
    assert sla["dispatched"] == result["dispatched"] and sla["dispatched_within_24h_pct"] == 100.0
    assert all(r.tasks_done > 0 for r in ctl.fleet.robots.values() if r.kind == "picking")
    assert ctl.alarm_counts.get("orders", 0) == 0
    assert not [t for t in result["open_tasks"] if t["kind"] in ("pick", "sort")]  # drained: none left


def test_the_shift_summary_names_the_oldest_robot_task_and_what_it_waits_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wms.cli import _report

    monkeypatch.setenv("COLUMNS", "200")
    keys = "mode broker database orders_sent orders_in dispatched held rejected in_progress lost sla_met_pct"
    more = "throughput_per_h ledger_balanced robots alarms internal_errors sim_s wall_s"
    result: dict[str, Any] = dict.fromkeys(f"{keys} {more}".split(), 0)
    task = {"task": "SORT-000681", "robot": "sort-91", "node": "G1_22", "age_s": 59646.4}
    result["open_tasks"] = [task | {"waiting_for": "G1_21", "blocker": "sort-45"}]
    _report(result, as_json=False)
    out = capsys.readouterr().out
    assert "SORT-000681 on sort-91 at G1_22, 59646 s, waiting for G1_21 held by sort-45" in out
    result["open_tasks"] = []
    _report(result, as_json=False)
    assert "oldest robot task" not in capsys.readouterr().out


def test_shift_over_embedded_mqtt_broker(tmp_path: Path) -> None:
    opts = ShiftOptions(
        duration_s=300.0, orders_per_hour=1200.0, speed=60.0, db_url=f"sqlite:///{tmp_path / 'm.db'}"
    )
    result = run_mqtt(CFG, CUSTOMS, opts)
    assert result["mode"] == "mqtt"
    _assert_shift_ok(result)


def test_a_picking_robot_dropped_mid_task_over_mqtt_hands_its_task_on_within_5_s(tmp_path: Path) -> None:
    """A busy picking robot vanishes (its socket closed, no OFFLINE): the broker's CONNECTIONBROKEN will
    reaches the controller, whose task goes to another robot within 5 wall seconds and still finishes."""
    import time

    opts = ShiftOptions(
        duration_s=300.0, orders_per_hour=1200.0, speed=60.0, db_url=f"sqlite:///{tmp_path / 'd.db'}"
    )
    seen: dict[str, Any] = {}

    def on_tick(shift: Any) -> None:
        robots = list(shift.controller.fleet.robots.values())  # read from the simulators' thread
        if "victim" not in seen:
            busy = [r for r in robots if r.kind == "picking" and r.task is not None and r.task.kind == "pick"]
            if busy:
                seen.update(victim=busy[0].serial, task=busy[0].task.task_id, at=time.perf_counter())
                next(s for s in shift.robots if s.serial == busy[0].serial).crash()
        elif "after_s" not in seen:
            took = [r.serial for r in robots if r.task is not None and r.task.task_id == seen["task"]]
            if took and took[0] != seen["victim"]:
                seen.update(after_s=time.perf_counter() - seen["at"], by=took[0])

    result = run_mqtt(CFG, CUSTOMS, opts, on_tick=on_tick, tick_s=0.05)
    _assert_shift_ok(result)  # its parcels were picked by another robot and dispatched: nothing lost
    assert "after_s" in seen, seen
    assert seen["after_s"] <= 5.0, seen
    print(f"task {seen['task']} of {seen['victim']} taken on by {seen['by']} after {seen['after_s']:.2f} s")


@pytest.mark.integration
def test_shift_over_mosquitto_and_postgresql(mqtt_url: str, pg_url: str) -> None:
    ns = uuid.uuid4().hex[:6]  # own topics on a shared broker
    cfg = CFG.model_copy(
        update={"site": CFG.site.model_copy(update={"partition": f"ci{ns}", "manufacturer": f"ci{ns}"})}
    )
    opts = ShiftOptions(
        duration_s=300.0, orders_per_hour=1200.0, speed=60.0, db_url=pg_url, mqtt_url=mqtt_url
    )
    result = run_mqtt(cfg, CUSTOMS, opts)
    assert result["database"].startswith("postgresql")
    _assert_shift_ok(result)
