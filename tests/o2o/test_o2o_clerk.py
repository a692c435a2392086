"""The counter clerk's command: accepted and followed to the handover, or refused at once with the reason."""

from __future__ import annotations

import threading
from pathlib import Path

from helpers_o2o import BY_ID, CATALOG, CFG, CUSTOMS, PART, assortment, outside_assortment, site, stock_up
from sqlmodel import select
from typer.testing import CliRunner

from simulators.conveyor import ConveyorSim
from simulators.hold_lane import HoldLaneSim
from simulators.order_feed import make_buyer
from simulators.xray import XrayGateSim
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import MqttBus
from wms.clock import WallClock
from wms.control.controller import Controller
from wms.o2o.clerk import CounterClerk
from wms.o2o.orders import o2o_bundle
from wms.shift import start_time
from wms.store.db import connect
from wms.store.models import ParcelEvent

BUYER = make_buyer(7, 1_000_002)


def _order(clock, lines, counter: str = "C1", seq: int = 1):  # type: ignore[no-untyped-def]
    return o2o_bundle(lines, BUYER, counter, clock.now(), BY_ID, CUSTOMS, seq=seq)


def test_accepted_then_followed_to_the_handover(tmp_path: Path) -> None:
    s = site(tmp_path)
    clerk = CounterClerk(s.broker.client("clerk"), s.clock, PART)
    seen: list[str] = []
    out = clerk.place(
        _order(s.clock, [(assortment()[0], 1), (assortment()[2], 1)]),
        wait=True,
        timeout_s=600,
        on_event=lambda e: seen.append(e.stage),
    )
    assert out.accepted and out.final and out.acked and out.sends == 1
    assert seen == ["accepted", "picked", "packed", "at_gate", "released", "handed_over"]
    elapsed = [e.elapsed_s for e in out.events]
    assert elapsed == sorted(elapsed) and 50 < elapsed[-1] <= CFG.o2o.target_s
    assert s.controller.repo.ledger_check()["balanced"]
    with s.controller.repo.session() as db:
        events = db.exec(select(ParcelEvent).where(ParcelEvent.order_no == out.order_no)).all()
    dispatched = [e for e in events if e.to_state == "dispatched"]
    assert len(dispatched) == 1 and dispatched[0].detail == f"HANDOVER-{out.order_no}"


def test_refused_at_once_outside_the_assortment_or_counter(tmp_path: Path) -> None:
    s = site(tmp_path)
    clerk = CounterClerk(s.broker.client("clerk"), s.clock, PART)
    t0 = s.clock.now()
    out = clerk.place(_order(s.clock, [(outside_assortment(), 1)]), timeout_s=30)
    assert out.answered and not out.accepted and out.last.stage == "refused"  # type: ignore[union-attr]
    assert out.last.reason.startswith("O2O_NOT_ALLOWED") and s.clock.now() - t0 < 1.0  # type: ignore[union-attr]
    out = clerk.place(_order(s.clock, [(assortment()[0], 1)], counter="C9", seq=2), timeout_s=30)
    assert not out.accepted and out.last.reason.startswith("COUNTER_UNKNOWN")  # type: ignore[union-attr]
    assert s.controller.repo.ledger_check()["balanced"]
    assert not s.controller.conveyor_jobs  # nothing was picked or packed


def test_refused_when_the_counter_is_closed(tmp_path: Path) -> None:
    s = site(tmp_path, "2026-11-11T22:30:00")
    out = CounterClerk(s.broker.client("clerk"), s.clock, PART).place(
        _order(s.clock, [(assortment()[0], 1)]), timeout_s=30
    )
    assert not out.accepted and out.last.reason.startswith("COUNTER_CLOSED")  # type: ignore[union-attr]


def test_no_controller_no_answer(tmp_path: Path) -> None:
    from wms.bus.inproc import InProcBroker
    from wms.clock import VirtualClock

    clock = VirtualClock(start_time(CFG, "2026-11-11T10:00:00"))
    clerk = CounterClerk(InProcBroker(clock).client("clerk"), clock, PART, resend_s=5.0)
    out = clerk.place(_order(clock, [(assortment()[0], 1)]), timeout_s=12)
    assert not out.answered and out.sends == 3  # sent again every 5 s until the time ran out


def _mqtt_site(url: str, db: Path, clock: WallClock) -> list[MqttBus]:
    """Controller, conveyors, X-ray gate and stock on one sped-up wall clock over MQTT."""
    buses = [MqttBus(url, f"t-{n}", clock) for n in ("controller", "conveyor", "xray", "stock", "hold-lane")]
    ctl = Controller(buses[0], clock, connect(f"sqlite:///{db}", fresh=True), CFG, CUSTOMS, CATALOG)
    ctl.start()
    ConveyorSim(buses[1], clock, PART).start()
    XrayGateSim(
        buses[2], clock, PART, lanes=CFG.gate.xray_lanes, scan_s=CFG.gate.xray_s, suspect_rate=0.0
    ).start()
    HoldLaneSim(
        buses[4], clock, PART, officers=CFG.gate.manual_officers, check_s=CFG.gate.manual_check_s
    ).start()
    stock_up(buses[3], clock)
    return buses


def test_wms_o2o_order_over_the_embedded_broker(tmp_path: Path) -> None:
    from wms.cli import app

    with EmbeddedBroker() as broker:
        clock = WallClock(20.0, start_time(CFG, "2026-11-11T10:00:00"))
        buses = _mqtt_site(broker.url, tmp_path / "c.db", clock)
        loop = threading.Thread(target=clock.run, daemon=True)
        loop.start()
        try:
            common = ["--mqtt", broker.url, "--partition", PART, "--timeout", "20"]
            ok = CliRunner().invoke(app, ["o2o", "order", "--sku", f"{assortment()[0]}:2", "--wait", *common])
            refused = CliRunner().invoke(app, ["o2o", "order", "--sku", outside_assortment(), *common])
        finally:
            clock.stop()
            loop.join(5)
            for b in buses:
                b.close()
    assert ok.exit_code == 0, ok.output
    lines = ok.output.splitlines()
    assert lines[0].startswith("accepted: order O2O") and lines[-1].startswith("handed over after")
    assert [ln.split()[0] for ln in lines[1:-1]] == ["picked", "packed", "at_gate", "released", "handed_over"]
    assert refused.exit_code == 1 and refused.output.startswith("REFUSED: O2O_NOT_ALLOWED"), refused.output
