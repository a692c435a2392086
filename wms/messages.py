"""Pydantic models of the project's own messages under ``wms/{partition}/…`` (see `wms.topics`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wms.domain import Strict


class Ack(Strict):
    """Controller → sender: the order (or lot) is in the database, whatever was decided about it."""

    kind: Literal["order", "lot"]
    ref: str


class ConveyorCmd(Strict):
    """Controller → conveyors: pack a parcel at a station, or carry it from one place to another."""

    cmd_id: str
    parcel: str
    kind: Literal["pack", "move"]
    origin: str
    destination: str
    seconds: float = Field(gt=0, description="nominal duration of the operation")


class ConveyorEvent(Strict):
    """Conveyors → controller: the operation of ``cmd_id`` is done; the parcel is at ``location``."""

    cmd_id: str
    parcel: str
    kind: Literal["packed", "arrived"]
    location: str
    weight_kg: float | None = None


class XrayItem(Strict):
    """One line of a parcel's contents: declared on the inventory list, or read by the gate's scanner."""

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1)
    unit_kg: float | None = Field(default=None, gt=0, description="declared unit weight (commands only)")


class XrayCmd(Strict):
    """Controller → X-ray gate: scan this parcel on this lane (its inventory list shown to the officer)."""

    parcel: str
    lane: int = Field(ge=0)
    priority: bool = Field(default=False, description="an express (O2O) parcel: scanned before the queue")
    declared: list[XrayItem] = Field(default_factory=list, description="the parcel's inventory-list lines")


class XrayResult(Strict):
    """X-ray gate → controller: the verdict on one image, and what the scan tunnel read and weighed.

    ``items`` and ``weight_kg`` are optional: a gate without a scan tunnel or scale sends the image
    verdict only, and the controller then matches nothing.
    """

    parcel: str
    lane: int = Field(ge=0)
    verdict: Literal["clear", "suspect"]
    image_id: str
    items: list[XrayItem] | None = None
    weight_kg: float | None = Field(default=None, ge=0)


class ManualCheckCmd(Strict):
    """Controller → hold lane: open this held parcel and check it against its declaration."""

    parcel: str
    reasons: str = Field(default="", description="why it is held (risk rules, sampling)")
    declared: list[XrayItem] = Field(default_factory=list, description="the parcel's inventory-list lines")


class ManualCheckResult(Strict):
    """Hold lane → controller: the officer's verdict on one opened parcel."""

    parcel: str
    verdict: Literal["release", "reject"]
    officer: str = Field(min_length=1, max_length=64)
    finding: str = Field(default="", max_length=500, description="what the officer found (with a reject)")


class Alarm(Strict):
    """Something an operator should see: bad input, a robot fault, an order at risk."""

    ts: float
    severity: Literal["info", "warning", "error"]
    source: str
    message: str


class RobotStatus(Strict):
    """One robot as the console shows it."""

    serial: str
    kind: Literal["picking", "sorting"]
    state: Literal["idle", "busy", "charging", "offline", "error", "paused"]
    battery_pct: float
    task: str | None = None
    x: float = 0.0
    y: float = 0.0
    waiting: bool = False  # held up by traffic: the next cell is another robot's
    waits: int = 0  # times it had to wait on traffic
    reroutes: int = 0  # times it was re-routed, stepped aside or made way


class AtRisk(Strict):
    """An order getting close to its 24-hour dispatch deadline."""

    order_no: str
    state: str
    age_s: float
    carrier: str = ""


class O2OEvent(Strict):
    """Controller → counter clerks and consoles: where an O2O order is, or why it was refused or held."""

    order_no: str
    stage: str
    counter: str = ""
    accepted: bool = True
    reason: str = ""
    elapsed_s: float = 0.0
    ts: float


class O2OView(Strict):
    """One O2O order on the console's counter view."""

    order_no: str
    counter: str
    stage: str
    elapsed_s: float
    late: bool = False
    reason: str = ""


class Status(Strict):
    """The controller's live snapshot, published retained for any number of consoles."""

    ts: float
    partition: str
    started: float
    boot: int = Field(default=0, description="how many times the controller started before on this database")
    o2o: list[O2OView] = Field(default_factory=list, description="open and recently closed O2O orders")
    o2o_target_s: float = 120.0
    paused: bool = False
    orders_in: int = 0
    by_state: dict[str, int] = Field(default_factory=dict)
    throughput_per_h: dict[str, float] = Field(default_factory=dict, description="last hour, by stage")
    dispatched: int = 0
    held: int = 0
    rejected: int = 0
    sla_met_pct: float = 100.0
    robots: list[RobotStatus] = Field(default_factory=list)
    gate_queue: int = 0
    hold_lane: int = Field(default=0, description="parcels waiting for or under a manual check")
    holds: list[str] = Field(default_factory=list, description="recent held orders with reason")
    at_risk: list[AtRisk] = Field(default_factory=list)
    alarms_total: int = 0
    alarms_by_source: dict[str, int] = Field(default_factory=dict)
    alarms: list[Alarm] = Field(default_factory=list, description="most recent first")
    ledger_balanced: bool = True
    next_cutoffs: dict[str, str] = Field(default_factory=dict, description="carrier → next departure, local")


class ControlCmd(Strict):
    """Console → controller: an operator command."""

    command: Literal["estop", "resume"]
    operator: str = "console"


class ReturnLine(Strict):
    """Units of one SKU a consumer sent back."""

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1)


class ReturnNotice(Strict):
    """Returns desk → controller: a dispatched order's parcel came back (all of it, or the lines named).

    ``restock`` puts the units back on sale at once; without it they wait in the returns area (still
    bonded, counted as returned) for a later notice of the same ``return_no`` with ``restock``.
    """

    return_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    order_no: str = Field(min_length=1, max_length=60)
    lines: list[ReturnLine] | None = None
    restock: bool = True


class StockAdjustment(Strict):
    """Stock controller → controller: a counted correction of one lot (signed), with its reason."""

    adjustment_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    lot: str = Field(min_length=1, max_length=64)
    qty: int = Field(description="units found (+) or missing (-)")
    reason: str = Field(min_length=1, max_length=500)


class StockResult(Strict):
    """Controller → returns desk / stock controller: a return or adjustment booked, or refused and why."""

    ref: str
    kind: Literal["return", "adjustment"]
    accepted: bool
    detail: str = ""
    quota_restored_fen: int = 0
