"""Operator dashboard: rendering of empty and full snapshots, and the console client on an in-process bus."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from wms import topics
from wms.bus import InProcBroker
from wms.clock import VirtualClock
from wms.console.dashboard import STAGES, ConsoleClient, battery, hmm, render, snapshot_text
from wms.messages import Alarm, AtRisk, ControlCmd, RobotStatus, Status

T0 = 1_700_000_000.0


def full_status(**over: object) -> Status:
    """A busy snapshot with more robots, holds, risks, cut-offs and alarms than fit on screen."""
    robots = [
        RobotStatus(
            serial=f"pk-{i:02d}",
            kind="picking" if i < 14 else "sorting",
            state=("idle", "busy", "charging", "offline", "error", "paused")[i % 6],
            battery_pct=(i * 7) % 100,
            task=f"ORD-{1000 + i}" if i % 2 else None,
        )
        for i in range(20)
    ]
    data: dict[str, object] = {
        "ts": T0 + 5000,
        "partition": "site1",
        "started": T0,
        "orders_in": 12345,
        "by_state": {
            "received": 3,
            "picking": 40,
            "packed": 12,
            "dispatched": 9000,
            "held": 7,
            "rejected": 21,
        },
        "throughput_per_h": {"picked": 410.0, "dispatched": 395.0},
        "dispatched": 9000,
        "held": 7,
        "rejected": 21,
        "sla_met_pct": 97.3,
        "robots": robots,
        "gate_queue": 14,
        "holds": [f"ORD-{i}: x-ray suspect" for i in range(7)],
        "at_risk": [
            AtRisk(order_no=f"ORD-{i:06d}", state="at_gate", age_s=20 * 3600 + i * 60, carrier="SF")
            for i in range(9)
        ],
        "alarms_total": 55,
        "alarms_by_source": {"robots": 30, "feed": 10, "gate": 15},
        "alarms": [
            Alarm(ts=T0 + 4000 - i, severity="warning", source="robots", message=f"robot pk-0{i} battery low")
            for i in range(8)
        ],
        "ledger_balanced": True,
        "next_cutoffs": {
            "SF": "14:30",
            "EMS": "16:00",
            "YTO": "15:00",
            "ZTO": "18:00",
            "JD": "13:45",
            "DHL": "20:00",
        },
    }
    data.update(over)
    return Status.model_validate(data)


def test_waiting_view_names_the_topic() -> None:
    text = snapshot_text(None, topic=topics.status("site1"))
    assert "waiting for the controller on wms/site1/status…" in text


def test_empty_status_renders_all_stages_and_totals() -> None:
    text = snapshot_text(Status(ts=T0, partition="p1", started=T0), width=120)
    assert "p1" in text and "RUNNING" in text and "PAUSED" not in text
    positions = [text.index(f"\n{stage} ") for stage in STAGES]
    assert positions == sorted(positions)  # flow order
    assert "100.0%" in text and "no robots reported" in text and "ledger balanced" in text
    assert "yes" in text


def test_full_status_shows_key_figures_and_fits_120x40() -> None:
    text = snapshot_text(full_status(), width=120, utc_offset_h=8.0)
    for figure in ("12,345", "9,000", "97.3%", "410", "ORD-000008", "20:08", "JD", "13:45", "Alarms (55)"):
        assert figure in text, figure
    assert "robot pk-00" in text
    assert "… and 10 more" in text  # robots
    assert "… and 3 more" in text  # holds / at risk / alarms
    assert "2023-11-15 07:36:40 (UTC+8)" in text and "up 1:23" in text
    assert "pk-04" in text  # robots in error are listed first
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 40 and max(len(line) for line in lines) <= 120


def test_narrow_terminal_stacks_columns_without_truncating_figures() -> None:
    text = snapshot_text(full_status(orders_in=123456), width=80)
    assert "123,456" in text and "dispatched" in text and "Alarms (55)" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_paused_banner_and_unbalanced_ledger() -> None:
    text = snapshot_text(full_status(paused=True, ledger_balanced=False))
    assert "PAUSED (emergency stop)" in text and "RUNNING" not in text
    assert re.search(r"ledger balanced\s+NO", text)


def test_ledger_no_is_red() -> None:
    console = Console(width=120, force_terminal=True, color_system="truecolor")
    segments = list(console.render(render(full_status(ledger_balanced=False))))
    no = [seg for seg in segments if seg.text.strip() == "NO"]
    assert no and no[0].style is not None and no[0].style.bgcolor is not None
    assert no[0].style.bgcolor.name == "red"


def test_battery_bar_red_under_20_percent() -> None:
    low, ok = battery(12.0), battery(80.0)
    assert isinstance(low, Text) and "12%" in low.plain and "80%" in ok.plain
    assert any("red" in str(span.style) for span in low.spans)
    assert not any("red" in str(span.style) for span in ok.spans)


def test_hmm_formats_ages() -> None:
    assert hmm(0) == "0:00" and hmm(3599) == "0:59" and hmm(25 * 3600 + 120) == "25:02"


def test_disconnected_and_stale_are_shown() -> None:
    console = Console(width=120, force_terminal=False, color_system=None, record=True)
    console.print(render(full_status(), connected=False, age_s=42.0, malformed=3))
    text = console.export_text()
    assert "DISCONNECTED" in text and "no update for 42s" in text and "malformed: 3" in text


def rig() -> tuple[VirtualClock, InProcBroker, ConsoleClient]:
    """A virtual clock, a broker and a console client on partition site1."""
    clock = VirtualClock(start=T0)
    broker = InProcBroker(clock)
    return clock, broker, ConsoleClient(broker.client("console"), "site1")


def test_client_keeps_latest_status_and_counts_malformed() -> None:
    clock, broker, client = rig()
    ctl = broker.client("controller")
    assert client.status is None
    ctl.publish(topics.status("site1"), full_status(orders_in=1), qos=1, retain=True)
    clock.run()
    assert client.status is not None and client.status.orders_in == 1
    for bad in (b"{not json", b'{"ts": 1}', b'{"ts":1,"partition":"site1","started":0,"bogus":1}'):
        ctl.publish(topics.status("site1"), bad, qos=1)
    ctl.publish(topics.status("site1"), full_status(partition="other"), qos=1)
    clock.run()
    assert client.malformed == 4 and client.status.orders_in == 1
    ctl.publish(topics.status("site1"), full_status(orders_in=2), qos=1)
    clock.run()
    assert client.status.orders_in == 2 and client.received == 2
    console = Console(width=120, force_terminal=False, color_system=None, record=True)
    console.print(client.view())
    assert "malformed: 4" in console.export_text()


def test_client_before_status_shows_waiting_on_its_topic() -> None:
    _, _, client = rig()
    console = Console(width=120, force_terminal=False, color_system=None, record=True)
    console.print(client.view(connected=False))
    text = console.export_text()
    assert "waiting for the controller on wms/site1/status…" in text and "DISCONNECTED" in text


def test_client_shows_live_alarms_before_next_snapshot() -> None:
    clock, broker, client = rig()
    ctl = broker.client("controller")
    ctl.publish(topics.status("site1"), full_status(alarms=[]), qos=1)
    ctl.publish(
        topics.alarms("site1"), Alarm(ts=T0 + 4999, severity="error", source="gate", message="lane 2 jam")
    )
    ctl.publish(topics.alarms("site1"), b"garbage")
    clock.run()
    assert client.alarms_received == 1 and client.malformed_alarms == 1
    console = Console(width=120, force_terminal=False, color_system=None, record=True)
    console.print(client.view())
    assert "lane 2 jam" in console.export_text()


def test_estop_and_resume_publish_control_commands() -> None:
    clock, broker, client = rig()
    got: list[ControlCmd] = []
    broker.client("controller").subscribe(
        topics.control("site1"), lambda _t, d: got.append(ControlCmd.model_validate_json(d)), qos=1
    )
    sent = client.estop()
    client.resume()
    clock.run()
    assert [c.command for c in got] == ["estop", "resume"]
    assert got[0] == sent and got[0].operator == "console"
