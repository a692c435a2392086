"""A light O2O site for tests: controller, conveyors, X-ray gate and bonded stock, without robots or feed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.conveyor import ConveyorSim
from simulators.hold_lane import HoldLaneSim
from simulators.xray import XrayGateSim
from wms import topics
from wms.bus.inproc import InProcBroker
from wms.catalog import generate_catalog, generate_lots
from wms.clock import VirtualClock
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.control.controller import Controller
from wms.o2o.assortment import assortment as o2o_assortment
from wms.shift import start_time
from wms.store.db import connect

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml").model_copy(
    update={"sampling_rate": 0.0, "xray_suspect_rate": 0.0}  # no random holds: deterministic answers
)
CATALOG = generate_catalog(CFG.feed, CUSTOMS)
BY_ID = {s.sku: s for s in CATALOG}
PART = CFG.site.partition


@dataclass
class Site:
    """The running pieces of a test site."""

    clock: VirtualClock
    broker: InProcBroker
    controller: Controller


def stock_up(bus: Any, clock: Any) -> None:
    """Publish the bonded lots of the catalogue on the inbound topic."""
    for lot in generate_lots(CATALOG, CFG.feed, clock.now()):
        bus.publish(topics.inbound(PART), lot.model_dump_json(), qos=1)


def site(tmp: Path, local: str = "2026-11-11T10:00:00") -> Site:
    """A controller on the in-process broker in virtual time at ``local``, stocked and idle."""
    clock = VirtualClock(start_time(CFG, local))
    broker = InProcBroker(clock)
    ctl = Controller(
        broker.client("controller"),
        clock,
        connect(f"sqlite:///{tmp / 'o2o.db'}", fresh=True),
        CFG,
        CUSTOMS,
        CATALOG,
    )
    ctl.start()
    ConveyorSim(broker.client("conveyor"), clock, PART).start()
    XrayGateSim(
        broker.client("xray"),
        clock,
        PART,
        lanes=CFG.gate.xray_lanes,
        scan_s=CFG.gate.xray_s,
        suspect_rate=0.0,
    ).start()
    HoldLaneSim(
        broker.client("hold-lane"),
        clock,
        PART,
        officers=CFG.gate.manual_officers,
        check_s=CFG.gate.manual_check_s,
    ).start()
    stock_up(broker.client("stock"), clock)
    clock.run(until=clock.now() + 2.0)
    return Site(clock, broker, ctl)


def assortment() -> list[str]:
    """The store's O2O assortment (the first N bonded SKUs of the catalogue)."""
    return o2o_assortment(CATALOG, CFG.o2o.assortment_skus)


def outside_assortment() -> str:
    """A bonded SKU that is not in the store's assortment."""
    inside = set(assortment())
    return next(s.sku for s in CATALOG if s.zone == "bonded" and s.sku not in inside)
