"""The controller: receives events, calls the planners, persists, and emits commands.

It sees only a `Bus`, a `Clock` and the database; robots, conveyors, the X-ray gate and the order feed
are on the other side of the bus, real or simulated.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import json
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import select

from wms import topics
from wms.bus.base import Bus
from wms.clock import Clock
from wms.config import CustomsConfig, WarehouseConfig
from wms.control.admission import Admission, backlog
from wms.control.fleet import ActiveTask, FleetManager, FleetMap, RobotView
from wms.control.history import DbHistory
from wms.control.outbox import Outbox
from wms.control.parcels import OpenParcels, Parcel
from wms.control.pending import PendingCommands
from wms.control.planner import WavePlanner
from wms.control.recovery import Snapshot, load_snapshot
from wms.control.repo import Repo
from wms.control.status import build_status
from wms.control.stock import StockMoves
from wms.control.tally import Tally
from wms.control.traffic import Traffic
from wms.dispatch.cutoffs import local_minute, next_cutoff, next_daily
from wms.domain import LedgerKind, LotReceipt, OrderBundle, ParcelState, Sku
from wms.inspection.ceb import ceb621
from wms.inspection.decision import decide
from wms.inspection.receipts import parse_receipts
from wms.inspection.rules import Finding, check_order
from wms.inspection.scan import scan_findings
from wms.layout import Layout
from wms.limits import check_size
from wms.messages import (
    Ack,
    Alarm,
    ControlCmd,
    ConveyorCmd,
    ConveyorEvent,
    ManualCheckCmd,
    ManualCheckResult,
    O2OEvent,
    RobotStatus,
    XrayCmd,
    XrayItem,
    XrayResult,
)
from wms.o2o.assortment import assortment
from wms.picking.allocation import LotView, allocate_fefo
from wms.picking.batch import Cart, Timing, batch_pick_orders
from wms.picking.batching import PickOrder, fcfs_batches
from wms.picking.ortools_route import route_on_layout
from wms.picking.routing import nearest_neighbour
from wms.robots.assignment import min_cost_assignment
from wms.slotting.putaway import plan_putaway, propose_reslot
from wms.sorting.chute_plan import SpreadChutePlan, destinations
from wms.sorting.grid import SortGrid, build_grid
from wms.store.models import (
    AlarmRow,
    ParcelRow,
    ReslotRow,
    SlotRow,
)

log = logging.getLogger(__name__)
INDUCT_QUEUE_M = 4.0  # the travel one more parcel queued at an induct is worth, in choosing an induct
EJECT_QUEUE_M = 4.0  # the travel one more robot bound for an eject cell is worth, in choosing a chute's side
SORT_PATHS_KEPT = 1 << 16  # planned routes on the sorting grid remembered (by their two ends)
INDUCT_ROBOTS = 1  # under traffic control, sorting robots bound for one induct at most (more jam the aisles)
LEDGER_CHECK_S = 300.0  # how often the live status re-checks the ledger against the lots

INTAKE_CODES = frozenset(
    {
        "DOC_MISSING",
        "DOC_TEXT",
        "UNKNOWN_SKU",
        "AMOUNT_MISMATCH",
        "PAYER_MISMATCH",
        "CONSIGNEE_MISMATCH",
        "DUPLICATE_ORDER",
    }
)
# An O2O shopper waits at the counter: what the gate would refuse later is refused at once instead.
O2O_INTAKE_CODES = INTAKE_CODES | {"NOT_ON_POSITIVE_LIST", "SINGLE_LIMIT", "ANNUAL_LIMIT", "TAX_MISMATCH"}
O2O_CARRIER = "O2O"
DAY = 86400.0
BOOT_ID_SPAN = 1_000_000


@dataclass
class Chute:
    """A chute's open bag."""

    chute: str
    parcels: list[str] = field(default_factory=list)
    opened_at: float = 0.0


class Controller(StockMoves):
    """Sequences the flow of a bonded warehouse shift."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        engine: Engine,
        cfg: WarehouseConfig,
        customs: CustomsConfig,
        catalog: list[Sku],
        *,
        status_interval_s: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.cfg = cfg
        self.customs = customs
        self.part = cfg.site.partition
        self.repo = Repo(engine)
        self.rng = random.Random(seed)
        self.catalog = {s.sku: s for s in catalog}
        self.layout = Layout(cfg.storage, cfg.pack.stations, cfg.fleet.picking.charging_spots)
        self.grid: SortGrid = build_grid(cfg.sortation, cfg.fleet.sorting.charging_spots)
        self.carriers = {c.code: c for c in cfg.carriers}
        # the gate's buyer history lives in the database, written in the unit of the decision
        self.history = DbHistory.for_customs(self.repo.unit, customs, cfg.site.utc_offset_h)
        self.parcels = OpenParcels()  # open parcels only: closed ones are counted in the tally
        self.tally = Tally()
        self.lots: dict[str, LotView] = {}
        self.sku_lots: dict[str, list[str]] = {}  # sku -> its lots: an order looks at its own SKUs' lots only
        self.account_books: dict[str, str] = {}  # lot -> bonded account book (emsNo)
        self.picked_units: Counter[str] = Counter()  # demand since the last re-slot proposal
        self.sku_slot: dict[str, tuple[str, str]] = {}
        self.pick_queue: deque[tuple[str, list[str]]] = deque()
        self.induct_queues: dict[str, deque[str]] = {i: deque() for i in self.grid.inducts}
        self._induct_turn = 0
        self.chute_plan = SpreadChutePlan(self.grid.chutes, destinations(cfg.carriers), self.grid.distance)
        self.chutes: dict[str, Chute] = {}
        self.bags: dict[str, list[str]] = {}
        self.conveyor_jobs: dict[str, tuple[str, str, str]] = {}  # cmd_id → (parcel or bag, kind, to)
        self._coming: Counter[str] = Counter()  # parcels on a conveyor to each induct (``move`` jobs)
        self.lane_queue = [0] * cfg.gate.xray_lanes
        self.hold_lane = 0  # held parcels sent to the officers and not yet answered
        self.pending = PendingCommands()
        self.pack_load = dict.fromkeys(self.layout.pack_nodes, 0)
        self.alarms: deque[Alarm] = deque(maxlen=50)
        self.alarm_counts: dict[str, int] = {}
        # each robot's last status line and the fields it was made of (`wms.control.status`)
        self.robot_status_shown: dict[str, tuple[tuple[object, ...], RobotStatus]] = {}
        self.counters: dict[str, int] = {}
        self.stage_counts: deque[tuple[int, Counter[str]]] = deque()  # per minute, the last hour
        self.status_interval_s = status_interval_s
        self.resumed = self.repo.has_state()
        self.boot = self.repo.boot(clock.now(), self.resumed)
        self._ids = itertools.count(self.boot * BOOT_ID_SPAN + 1)  # identifiers never repeat across restarts
        self.started = clock.now()
        self.ledger_ok = True
        self._ledger_checked_at = -LEDGER_CHECK_S
        self.outbox = Outbox(bus, self.repo.unit)
        self.fleet = FleetManager(
            self.outbox,
            clock,
            maps={"picking": self._pick_map(), "sorting": self._sort_map()},
            classes={"picking": cfg.fleet.picking, "sorting": cfg.fleet.sorting},
            events=self,
            timeout_s=cfg.fleet.state_timeout_s,
            manufacturers=[cfg.site.manufacturer],
            seq_start=self.boot * BOOT_ID_SPAN,
            task_alarm_s=cfg.fleet.task_alarm_s,
            horizon_nodes=cfg.fleet.horizon_nodes,
        )
        self._chute_by_id = {c.chute: c for c in self.grid.chutes}
        self.planner = (
            WavePlanner(cfg.storage, cfg.pack.stations, cfg.fleet.picking.charging_spots)
            if cfg.waves.planner_process
            else None
        )
        self._plan: Future[list[list[str]]] | None = None  # the wave in the planner's worker
        self.o2o_skus = set(assortment(self.catalog.values(), cfg.o2o.assortment_skus))
        self.o2o_picker_free_at = 0.0
        self.o2o_closed: deque[Parcel] = deque(maxlen=10)
        limit = cfg.intake.backlog_limit
        self.admission: Admission | None = (
            Admission(limit, cfg.intake.resume_below or max(1, round(0.8 * limit))) if limit else None
        )

    # set-up ----------------------------------------------------------------------------------------

    def _pick_map(self) -> FleetMap:
        pos = {n: (p.x, p.y) for n, p in self.layout.pos.items()}
        return FleetMap(pos, self.layout.charger_nodes, self.layout.turns, self.layout.distance)

    def _sort_map(self) -> FleetMap:
        grid, cfg = self.grid, self.cfg.sortation
        if not cfg.traffic:
            return FleetMap(grid.pos, grid.chargers, grid.path, grid.distance)
        quiet = frozenset(grid.parking + grid.chargers + grid.inducts)  # robots stop there: not crossed
        lanes = grid.against_lanes(cfg.chute_spacing)
        traffic = Traffic(grid.adjacent(), grid.parking, quiet, lanes, cfg.wait_timeout_s, cfg.hold_ahead)

        # A planned route depends on its two ends only (it goes round the quiet cells, not round robots,
        # which traffic control handles as the robot drives): the same pairs come back all day.
        @functools.lru_cache(maxsize=SORT_PATHS_KEPT)
        def planned(a: str, b: str) -> tuple[str, ...]:
            return tuple(traffic.route(a, b) or grid.path(a, b))

        def path(a: str, b: str) -> list[str]:
            return list(planned(a, b))

        return FleetMap(grid.pos, grid.chargers, path, grid.distance, traffic)

    def start(self) -> None:
        """Slot the catalogue (or resume what the database holds), subscribe, start the periodic work."""
        snapshot = load_snapshot(self.repo.engine) if self.resumed else None
        if snapshot is not None and snapshot.slots:
            self.sku_slot = dict(snapshot.slots)
        else:
            self._slot_catalog()
        if snapshot is not None:
            self._resume(snapshot)
        p = self.part
        for topic, source, handler in (
            (topics.inbound(p), "inbound", self._on_inbound),
            (topics.orders(p), "orders", self._on_order),
            (topics.conveyor_event(p), "conveyor", self._on_conveyor),
            (topics.xray_result(p), "xray", self._on_xray),
            (topics.manual_result(p), "gate", self._on_manual),
            (topics.stock_returns(p), "returns", self._on_return),
            (topics.stock_adjustments(p), "stock", self._on_adjustment),
            (topics.control(p), "control", self._on_control),
            (topics.customs_receipts(p), "customs", self._on_receipts),
        ):
            self.bus.subscribe(topic, self._guard(source, self.outbox.atomic(handler)), qos=1)
        self.fleet.start()
        for k in range(self.cfg.fleet.picking.count):
            self.fleet.expect(f"pick-{k + 1:02d}", "picking")
        for k in range(self.cfg.fleet.sorting.count):
            self.fleet.expect(f"sort-{k + 1:02d}", "sorting")
        self._every(self.cfg.waves.interval_s, self._wave)
        self._every(60.0, self._sweep_bags)
        self._every(15.0, self.fleet.check_timeouts)
        if self.fleet.maps["sorting"].traffic is not None:  # robots leaving an induct make room for the next
            self._every(2.0, self._assign_sorts)
        self._every(30.0, self._resend_overdue)
        self._every(self.status_interval_s, self.publish_status)
        self._every(10.0, self._admit)
        if self.admission is not None:  # retained: replaces a stale "closed" left from before a restart
            self.admission.update(backlog(self.parcels.counts()))
            self.outbox.atomic(self._publish_intake)()
        for carrier in self.carriers.values():
            self._schedule_departure(carrier.code)
        self._schedule_reslot()
        if snapshot is not None:
            self.outbox.atomic(self._after_resume)()
        self.outbox.atomic(self.publish_status)()  # consoles (and watchdogs) see at once that it serves

    def stop(self) -> None:
        """Stop the wave planner's worker process, if any (the database and bus belong to the caller)."""
        if self.planner is not None:
            self.planner.close()
        self._plan = None

    def _every(self, period: float, fn) -> None:  # type: ignore[no-untyped-def]
        work = self.outbox.atomic(fn)

        def tick() -> None:
            work()
            self.clock.call_later(period, tick)

        tick.inner = fn  # type: ignore[attr-defined]  # what it runs, for meters (`wms.day.split.handler_name`)
        self.clock.call_later(period, tick)

    def _later(self, delay: float, fn) -> None:  # type: ignore[no-untyped-def]
        """Run ``fn`` after ``delay`` as its own unit of work."""
        self.clock.call_later(delay, self.outbox.atomic(fn))

    def _slot_catalog(self) -> None:
        """Putaway: every SKU a pick face with the least expected travel (proven optimal, OR-Tools flow).

        Velocity is the catalogue rank until pick history exists (the feed's popularity follows the rank).
        """
        rank = {sku: float(len(self.catalog) - i) for i, sku in enumerate(self.catalog)}
        assignment, unplaced = plan_putaway(
            self.catalog.values(), self.layout.slots, self.cfg.storage, rank, method=self.cfg.storage.slotting
        )
        for sku, reason in unplaced:
            self.alarm("warning", "slotting", f"SKU {sku}: not placed: {reason}")
        by_id = {s.slot: s for s in self.layout.slots}
        rows = []
        for sku, slot_id in assignment.items():
            s = by_id[slot_id]
            self.sku_slot[sku] = (slot_id, s.node)
            rows.append(SlotRow(**dataclasses.asdict(s), sku=sku))
        self.repo.save_catalog(self.catalog.values(), rows)

    def _schedule_reslot(self) -> None:
        hh, mm = self.cfg.storage.reslot_at.split(":")
        at = next_daily([int(hh) * 60 + int(mm)], self.clock.now(), self.cfg.site.utc_offset_h)
        self.clock.call_at(at, self.outbox.atomic(self._nightly_reslot))

    def _nightly_reslot(self) -> None:
        """Propose the best moves (5% of SKUs) for the demand seen since the last proposal, for review."""
        self._schedule_reslot()
        if not self.picked_units:
            return
        plan = propose_reslot(
            self.catalog.values(),
            self.layout.slots,
            self.cfg.storage,
            dict(self.picked_units),
            {sku: slot for sku, (slot, _node) in self.sku_slot.items()},
        )
        moves = [
            {
                "sku": m.sku,
                "from": m.from_slot,
                "to": m.to_slot,
                "swap_with": m.other,
                "saving_m_per_day": m.saving,
            }
            for m in plan.moves
        ]
        self.repo.propose_reslot(
            ReslotRow(
                ts=self.clock.now(),
                moves=json.dumps(moves),
                saving_m_per_day=plan.saving,
                full_saving_m_per_day=plan.full_saving,
            )
        )
        self.alarm(
            "info",
            "slotting",
            f"re-slot proposal: {len(moves)} moves save {plan.saving:.0f} m/day "
            f"({100 * plan.recovery:.0f}% of a full re-slot)",
        )
        self.picked_units.clear()

    # recovery after a restart ----------------------------------------------------------------------

    def _resume(self, snap: Snapshot) -> None:
        """Rebuild the in-memory view of the shift from the database, as it was at the last commit."""
        for lot in snap.lots:
            self.lots[lot.lot] = LotView(lot.lot, lot.sku, lot.expiry, lot.qty_on_hand - lot.qty_allocated)
            self.sku_lots.setdefault(lot.sku, []).append(lot.lot)
            self.account_books[lot.lot] = lot.account_book
        self.chute_plan.restore(snap.chutes)
        for c in snap.closed:
            self.tally.restore(c.state, c.count, c.in_sla)
        for order_no, reason in snap.holds:
            self.tally.holds.append(f"{order_no}: {reason}")
        waved: dict[str, list[str]] = {}
        at_induct: list[tuple[float, str, str]] = []
        for rec in snap.parcels:
            row = rec.row
            bundle = OrderBundle.model_validate_json(rec.document)
            p = Parcel(row.order_no, ParcelState(row.state), rec.received_at, row.carrier, row.route, bundle)
            p.picks, p.done_at, p.sampled, p.reason = list(rec.picks), row.done_at, row.sampled, row.reason
            self.parcels[p.order_no] = p
            if p.state == ParcelState.WAVED:
                waved.setdefault(row.task_id or "", []).append(p.order_no)
            elif p.state == ParcelState.AT_INDUCT:
                at_induct.append((row.updated_at, p.order_no, row.induct or ""))
            elif p.state == ParcelState.SORTED and row.bag:
                self.bags.setdefault(row.bag, []).append(p.order_no)
            elif p.state == ParcelState.SORTED and row.chute:
                self.chutes.setdefault(row.chute, Chute(row.chute, opened_at=row.updated_at)).parcels.append(
                    p.order_no
                )
            elif p.state == ParcelState.INSPECTING:
                p.hold_reasons, p.reason = row.reason, ""
        for _ts, order_no, induct in sorted(at_induct):
            queue = self.induct_queues.get(induct) or min(self.induct_queues.values(), key=len)
            queue.append(order_no)
        for t in snap.tasks:
            if t.state == "assigned" and t.plan and t.robot:
                self._adopt(t.robot, ActiveTask.from_plan(t.plan), snap)
        for row in snap.robots.values():  # the others still stand where they were: traffic control holds it
            if row.kind == "sorting" and row.serial not in self.fleet.robots:
                self.fleet.adopt(row.serial, row.manufacturer, row.kind, row.node)
        for task_id, nos in waved.items():  # queued, or re-queued after a failure
            self.pick_queue.append((task_id, nos))
        for c in snap.commands:
            if c.topic == topics.conveyor_cmd(self.part):
                cmd: ConveyorCmd | XrayCmd | ManualCheckCmd = ConveyorCmd.model_validate_json(c.payload)
                self._conveyor_job(cmd.cmd_id, cmd.parcel, cmd.kind, cmd.destination)
            elif c.topic == topics.manual_cmd(self.part):
                cmd = ManualCheckCmd.model_validate_json(c.payload)
                self.parcels[cmd.parcel].manual_lane = self._lane_of(cmd.parcel)
                self.hold_lane += 1
            else:
                cmd = XrayCmd.model_validate_json(c.payload)
                self.parcels[cmd.parcel].xray_lane = cmd.lane
                self.lane_queue[cmd.lane] += 1
            self.pending.expect(c.key, c.topic, cmd, c.timeout_s, self.clock.now())

    def _adopt(self, serial: str, task: ActiveTask, snap: Snapshot) -> None:
        """Take back a task a robot was driving when the controller stopped."""
        kind = "picking" if task.kind == "pick" else "sorting"
        row = snap.robots.get(serial)
        manufacturer = row.manufacturer if row else self.cfg.site.manufacturer
        self.fleet.adopt(serial, manufacturer, kind, row.node if row else task.path[task.reached], task)
        if task.kind == "pick":
            nos, pack = task.payload  # type: ignore[misc]
            self.pack_load[pack] += len(nos)

    def _after_resume(self) -> None:
        """Send again what may not have left before the stop, and finish work that was in hand."""
        now = self.clock.now()
        owned = {r.task.task_id for r in self.fleet.robots.values() if r.task is not None}
        resent = self.pending.overdue(now + 1e12)
        for p in resent:
            self.outbox.publish(p.topic, p.message, qos=1)
        orphans = {ParcelState.PICKING: 0, ParcelState.SORTING: 0, ParcelState.AT_GATE: 0}
        for p in list(self.parcels.values()):
            if p.state == ParcelState.INSPECTING and p.xray_lane is None and p.manual_lane is None:
                self._manual_check(p, self._lane_of(p.order_no))
            elif p.state == ParcelState.AT_GATE:
                orphans[p.state] += 1
                self._inspect(p.order_no)
        for task_id, nos in self._tasks_without_robot(owned).items():
            kind = self.parcels[nos[0]].state
            orphans[kind] += len(nos)
            if kind == ParcelState.PICKING:
                self._set(nos, ParcelState.WAVED, "re-queued after a restart", task_id=task_id)
                self.pick_queue.appendleft((task_id, nos))
            else:
                induct = min(self.induct_queues, key=lambda i: len(self.induct_queues[i]))
                self._set(nos, ParcelState.AT_INDUCT, "re-queued after a restart", induct=induct)
                self.induct_queues[induct].extend(nos)
        self._wave()  # work for the robots at once, not one wave interval after the restart
        open_parcels = len(self.parcels)
        self.alarm(
            "info",
            "controller",
            f"resumed (start {self.boot + 1} on this database): {open_parcels} open parcels, "
            f"{len(owned)} robot tasks taken back, {len(resent)} device commands sent again, "
            f"{sum(orphans.values())} parcels re-queued",
        )

    def _tasks_without_robot(self, owned: set[str]) -> dict[str, list[str]]:
        """Parcels in a robot's hands whose task no robot holds any more, by task."""
        out: dict[str, list[str]] = {}
        with self.repo.session() as s:
            rows = s.exec(
                select(ParcelRow.order_no, ParcelRow.task_id).where(
                    ParcelRow.state.in_([ParcelState.PICKING, ParcelState.SORTING])  # type: ignore[attr-defined]
                )
            ).all()
        for order_no, task_id in rows:
            if task_id not in owned:
                out.setdefault(task_id or f"RQ-{order_no}", []).append(order_no)
        return out

    def _lane_of(self, order_no: str) -> int:
        with self.repo.session() as s:
            row = s.get(ParcelRow, order_no)
        return row.lane if row is not None and row.lane is not None else 0

    # alarms and guarded handlers --------------------------------------------------------------------

    def alarm(self, severity: str, source: str, message: str) -> None:
        """Log, count, store and publish an operator alarm."""
        now = self.clock.now()
        log.log(logging.ERROR if severity == "error" else logging.WARNING, "%s: %s", source, message)
        a = Alarm(ts=now, severity=severity, source=source, message=message[:500])  # type: ignore[arg-type]
        self.alarms.appendleft(a)
        self.alarm_counts[source] = self.alarm_counts.get(source, 0) + 1
        self.repo.alarm(AlarmRow(ts=now, severity=severity, source=source, message=a.message))
        self.outbox.publish(topics.alarms(self.part), a, qos=1)

    def _guard(self, source: str, fn):  # type: ignore[no-untyped-def]
        """Wrap a handler: invalid input becomes a counted alarm; the controller keeps running."""

        def handler(topic: str, data: bytes) -> None:
            try:
                check_size(data, topic)  # refused before any parsing
                fn(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "(message)"
                self.alarm("warning", source, f"rejected message on {topic}: {where}: {err['msg']}")
            except ValueError as exc:
                self.alarm("warning", source, f"rejected message on {topic}: {exc}")
            except Exception as exc:  # a bug must not stop the warehouse: loud, counted, logged
                log.exception("handler for %s failed", topic)
                self.alarm("error", source, f"internal error on {topic}: {type(exc).__name__}: {exc}")

        handler.inner = fn  # type: ignore[attr-defined]  # what it wraps, for meters (`wms.day.split.handler_name`)
        return handler

    def _count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    # inbound stock and orders -----------------------------------------------------------------------

    def _on_inbound(self, data: bytes) -> None:
        lot = LotReceipt.model_validate_json(data)
        if lot.sku not in self.catalog:
            raise ValueError(f"lot {lot.lot}: unknown SKU {lot.sku}")
        slot = self.sku_slot.get(lot.sku)
        if self.repo.receive_lot(lot, slot[0] if slot else None, self.clock.now()):
            self.lots[lot.lot] = LotView(lot.lot, lot.sku, lot.expiry, lot.qty)
            self.sku_lots.setdefault(lot.sku, []).append(lot.lot)
            self.account_books[lot.lot] = lot.account_book
        self._ack("lot", lot.lot)

    def _on_order(self, data: bytes) -> None:
        bundle = OrderBundle.model_validate_json(data)
        order = bundle.order
        now = self.clock.now()
        known = self.parcels.get(order.order_no)
        stored = None if known is not None else self.repo.order_document(order.order_no)
        if known is not None or stored is not None:
            self._count("duplicate_messages")
            first = known.bundle if known is not None else OrderBundle.model_validate_json(stored or "")
            if first != bundle:
                self.alarm("warning", "orders", f"order {order.order_no}: DUPLICATE_ORDER with other content")
            self._ack("order", order.order_no)  # the sender missed our first ack
            return
        self._ack("order", order.order_no)  # sent after this unit commits, whatever the intake decides
        codes = O2O_INTAKE_CODES if order.order_type == "o2o" else INTAKE_CODES
        findings = check_order(
            order, bundle.payment, bundle.waybill, self.catalog, self.customs, self.history, now, codes
        )
        carrier = bundle.waybill.carrier if bundle.waybill else ""
        if order.order_type == "o2o":
            findings = findings or self._o2o_findings(bundle, now)
        elif not findings and carrier not in self.carriers:
            findings = [Finding("UNKNOWN_CARRIER", f"waybill carrier {carrier!r} is not configured")]
        parcel = Parcel(
            order.order_no,
            ParcelState.RECEIVED,
            now,
            carrier,
            bundle.waybill.route if bundle.waybill else "",
            bundle,
        )
        self.parcels[order.order_no] = parcel
        if findings:
            self._reject_intake(parcel, _reason(findings))
            return
        skus = {ln.sku for ln in order.lines}
        lots = [self.lots[lot] for sku in skus for lot in self.sku_lots.get(sku, ())]
        alloc = allocate_fefo([(ln.sku, ln.qty) for ln in order.lines], lots)
        if alloc is None:
            self._reject_intake(parcel, "OUT_OF_STOCK: not enough bonded stock for every line")
            return
        rows = []
        for lot_id, sku, qty in alloc:
            lv = self.lots[lot_id]
            self.lots[lot_id] = LotView(lv.lot, lv.sku, lv.expiry, lv.available - qty)
            slot, node = self.sku_slot.get(sku, (None, self.layout.depot))
            rows.append((lot_id, sku, qty, slot, node))
            parcel.picks.append((lot_id, sku, qty, node))
            self.picked_units[sku] += qty
        self.parcels.move(parcel, ParcelState.ALLOCATED)
        self.repo.record_order(bundle, ParcelState.ALLOCATED, now, "", rows)
        self._stage("allocated")
        if parcel.o2o:
            self._o2o_event(parcel, "accepted")
            self._o2o_pick(parcel)

    def _ack(self, kind: str, ref: str) -> None:
        self.outbox.publish(topics.acks(self.part), Ack(kind=kind, ref=ref), qos=1)  # type: ignore[arg-type]

    def _reject_intake(self, parcel: Parcel, reason: str) -> None:
        self.parcels.move(parcel, ParcelState.REJECTED)
        parcel.done_at = self.clock.now()
        parcel.reason = reason
        self.repo.record_order(bundle_of(parcel), ParcelState.REJECTED, self.clock.now(), reason)
        self._stage("rejected")
        self._retire(parcel)
        if parcel.o2o:
            self._o2o_event(parcel, "refused", accepted=False)
            self.o2o_closed.append(parcel)

    def _set(self, order_nos: list[str], state: ParcelState, detail: str = "", **fields: object) -> None:
        self.repo.transition(order_nos, state, self.clock.now(), detail, **fields)
        for o in order_nos:
            self.parcels.move(self.parcels[o], state)
        self._stage(state.value, len(order_nos))

    def _stage(self, stage: str, n: int = 1) -> None:
        minute = int(self.clock.now() // 60)
        if not self.stage_counts or self.stage_counts[-1][0] != minute:
            self.stage_counts.append((minute, Counter()))
            while self.stage_counts[0][0] <= minute - 60:
                self.stage_counts.popleft()
        self.stage_counts[-1][1][stage] += n

    def throughput_last_hour(self) -> Counter[str]:
        """Parcels that reached each stage over the last 60 minutes (by whole minutes)."""
        minute = int(self.clock.now() // 60)
        out: Counter[str] = Counter()
        for m, counts in self.stage_counts:
            if m > minute - 60:
                out.update(counts)
        return out

    def _retire(self, p: Parcel) -> None:
        """A parcel reached a terminal state: it leaves memory and is counted (the database keeps it)."""
        self.parcels.pop(p.order_no, None)
        self.tally.add(p.state, p.received_at, p.done_at, p.order_no, p.reason)
        p.close()

    # picking ----------------------------------------------------------------------------------------

    def _due(self, parcel: Parcel) -> float:
        """The departure an order's cart aims at: the first more than [waves] departure_lead_s away."""
        if parcel.o2o:
            return parcel.received_at + self.cfg.o2o.target_s
        carrier = self.carriers.get(parcel.carrier)
        if carrier is None:
            return parcel.received_at + DAY
        earliest = self.clock.now() + self.cfg.waves.departure_lead_s
        return next_cutoff(carrier, earliest, self.cfg.site.utc_offset_h)

    def _wave(self) -> None:
        """Release allocated orders to picking in carts, earliest departure first.

        With ``[waves] planner_process`` the batching runs in a worker process and the carts are queued
        ``plan_s`` later (`_collect_plan`); until then no other wave starts.
        """
        if self._plan is not None:
            return
        ready = self._wave_orders()
        if not ready:
            return
        waves = self.cfg.waves
        if self.planner is not None and waves.batching != "fcfs":
            cart = Cart(self.cfg.fleet.picking.cart_orders)
            try:
                self._plan = self.planner.submit(ready, cart, self._timing(), waves.batching)
            except Exception as exc:  # noqa: BLE001 - no worker could start: batch this wave here
                self._planner_failed(exc)
            else:
                self._later(waves.plan_s, self._collect_plan)
                return
        self._queue_carts([[o.order_no for o in b] for b in self._batches(ready)])

    def _wave_orders(self) -> list[PickOrder]:
        """A wave's orders: the most urgent allocated ones, as many as the picking fleet starts on soon.

        None while enough carts are already waiting: batching effort stays bounded after a backlog.
        """
        rc = self.cfg.fleet.picking
        if len(self.pick_queue) >= 2 * rc.count:
            return []
        due = self._dues()
        ready = [p for p in self.parcels.in_state(ParcelState.ALLOCATED).values() if not p.o2o]
        cap = self.cfg.waves.max_orders or 2 * rc.count * rc.cart_orders
        if len(ready) > cap:  # a backlog: the most urgent, without building the others' orders
            ready = heapq.nsmallest(cap, ready, key=lambda p: (due(p), p.received_at, p.order_no))
        return [PickOrder(p.order_no, due(p), p.received_at, tuple(n for *_, n in p.picks)) for p in ready]

    def _dues(self) -> Callable[[Parcel], float]:
        """`_due` for the orders of one wave, a carrier's next departure worked out once for all of them."""
        known: dict[str, float] = {}

        def due(parcel: Parcel) -> float:
            if parcel.o2o or parcel.carrier not in self.carriers:
                return self._due(parcel)
            at = known.get(parcel.carrier)
            if at is None:
                at = known[parcel.carrier] = self._due(parcel)
            return at

        return due

    def _collect_plan(self) -> None:
        """Queue the carts the worker planned, with the orders that still wait for one."""
        plan, self._plan = self._plan, None
        if plan is None or self.planner is None:
            return
        try:
            batches = self.planner.collect(plan)
        except Exception as exc:  # noqa: BLE001 - a dead worker or a refused wave: batch it here instead
            self._planner_failed(exc)
            self._queue_carts([[o.order_no for o in b] for b in self._batches(self._wave_orders())])
            return
        waiting = [[no for no in b if self._allocated(no)] for b in batches]  # none left or taken meanwhile
        self._queue_carts(waiting)

    def _planner_failed(self, exc: Exception) -> None:
        why = f"{type(exc).__name__}: {exc}"
        self.alarm("error", "picking", f"wave planner failed ({why}); the wave is batched inline")
        self._count("wave_planner_failed")

    def _allocated(self, order_no: str) -> bool:
        parcel = self.parcels.get(order_no)
        return parcel is not None and parcel.state == ParcelState.ALLOCATED

    def _queue_carts(self, batches: list[list[str]]) -> None:
        """Each batch of order numbers becomes a queued pick task; then idle robots take the most urgent."""
        for nos in batches:
            if not nos:
                continue
            task_id = f"PICK-{next(self._ids):06d}"
            self.repo.upsert_task(
                task_id, kind="pick", state="queued", orders=",".join(nos), created_at=self.clock.now()
            )
            self._set(nos, ParcelState.WAVED, task_id, task_id=task_id)
            self.pick_queue.append((task_id, nos))
        self._assign_picks()

    def _timing(self) -> Timing:
        rc = self.cfg.fleet.picking
        return Timing(now=self.clock.now(), speed_m_s=rc.speed_mps, pick_s=rc.action_s)

    def _batches(self, ready: list[PickOrder]) -> list[list[PickOrder]]:
        """Orders onto carts: FCFS, or savings batching on exact route lengths with cut-offs respected."""
        method = self.cfg.waves.batching
        if method == "fcfs":
            return fcfs_batches(ready, self.cfg.fleet.picking.cart_orders)
        cart = Cart(self.cfg.fleet.picking.cart_orders)
        return batch_pick_orders(self.layout, ready, cart, self._timing(), method=method)

    def _assign_picks(self) -> None:
        if not self.pick_queue:  # before looking for idle robots (every robot state may call this)
            return
        robots = {r.serial: r for r in self.fleet.idle("picking")}
        if not robots:
            return
        tasks = {tid: nos for tid, nos in list(self.pick_queue)[: len(robots)]}
        faces = {tid: {node for o in nos for *_, node in self.parcels[o].picks} for tid, nos in tasks.items()}
        distance = self.layout.distance

        def cost(tid: str, serial: str) -> float:
            here = robots[serial].node
            return min(distance(here, n) for n in faces[tid])

        for tid, serial in min_cost_assignment(list(tasks), list(robots), cost):
            self.pick_queue.remove((tid, tasks[tid]))
            self._start_pick(robots[serial], tid, tasks[tid])

    def _start_pick(self, robot: RobotView, task_id: str, nos: list[str]) -> None:
        lines = [(o, lot, sku, qty, node) for o in nos for lot, sku, qty, node in self.parcels[o].picks]
        pack = min(self.pack_load, key=lambda n: (self.pack_load[n], n))
        self.pack_load[pack] += len(nos)
        stops = [ln[4] for ln in lines]
        if self.cfg.waves.routing == "exact":
            order = route_on_layout(self.layout, robot.node, stops, pack, time_limit_s=0.1)
        else:
            order = nearest_neighbour(robot.node, stops, pack, self.layout.distance)
        index = {node: i for i, node in enumerate(order)}
        actions: dict[int, list[tuple[str, dict[str, str | int | float]]]] = {}
        for o, lot, sku, qty, node in lines:
            actions.setdefault(index[node], []).append(
                ("pick", {"sku": sku, "lot": lot, "qty": qty, "orderNo": o})
            )
        actions[len(order) - 1] = [("drop", {"station": pack, "orders": len(nos)})]
        now = self.clock.now()
        self.repo.upsert_task(
            task_id,
            kind="pick",
            state="assigned",
            robot=robot.serial,
            orders=",".join(nos),
            created_at=now,
            assigned_at=now,
            travel_m=sum(self.layout.distance(a, b) for a, b in itertools.pairwise(order)),
        )
        self.fleet.send(robot, task_id, "pick", order, actions, payload=(nos, pack))
        self._set(nos, ParcelState.PICKING, robot.serial)

    # fleet events -----------------------------------------------------------------------------------

    def task_done(self, robot: RobotView, task: ActiveTask) -> None:
        """A robot finished a task: move its parcels on."""
        if task.kind == "park":  # nothing to record: a parked robot is simply idle
            return
        now = self.clock.now()
        self.repo.finish_task(task.task_id, task.kind, "done", robot.serial, now)
        if task.kind == "pick":
            nos, pack = task.payload  # type: ignore[misc]
            self.pack_load[pack] -= len(nos)
            self._set(nos, ParcelState.PICKED, pack)
            for o in nos:
                if self.parcels[o].o2o:
                    self._o2o_pack(self.parcels[o], pack)
                else:
                    self._conveyor(o, "pack", pack, pack, self.cfg.pack.pack_s)
        elif task.kind == "sort":
            order_no, chute = task.payload  # type: ignore[misc]
            self._set([order_no], ParcelState.SORTED, chute, chute=chute)
            bag = self.chutes.setdefault(chute, Chute(chute, opened_at=now))
            if not bag.parcels:
                bag.opened_at = now
            bag.parcels.append(order_no)
            if len(bag.parcels) >= self.cfg.sortation.bag_capacity:
                self._close_bag(chute)

    def task_failed(self, robot: RobotView, task: ActiveTask, reason: str) -> None:
        """Re-queue the work of a task its robot could not finish."""
        if task.kind == "park":
            return
        now = self.clock.now()
        self.alarm("warning", "robots", f"{robot.serial}: task {task.task_id} re-queued: {reason}")
        self.repo.finish_task(task.task_id, task.kind, "failed", robot.serial, now)
        if task.kind == "pick":
            nos, pack = task.payload  # type: ignore[misc]
            self.pack_load[pack] -= len(nos)
            self._set(nos, ParcelState.WAVED, f"re-queued: {reason}")
            self.pick_queue.appendleft((task.task_id, nos))
            self._assign_picks()
        elif task.kind == "sort":
            order_no, _ = task.payload  # type: ignore[misc]
            induct = min(self._open_inducts(), key=lambda i: len(self.induct_queues[i]))
            self._set([order_no], ParcelState.AT_INDUCT, f"re-queued: {reason}", induct=induct)
            self.induct_queues[induct].appendleft(order_no)
            self._assign_sorts()

    def robot_changed(self, robot: RobotView) -> None:
        """Keep the robot table current (connection, task, charging, error)."""
        self.repo.upsert_robot(
            robot.serial,
            manufacturer=robot.manufacturer,
            kind=robot.kind,
            state=robot.status,
            battery_pct=robot.battery,
            node=robot.node,
            last_seen=robot.last_seen,
            task_id=robot.task.task_id if robot.task else None,
        )

    def task_released(self, robot: RobotView, task: ActiveTask) -> None:
        """Store the order a robot drives for a task, so that a restarted controller resumes it."""
        if task.kind not in ("charge", "park"):  # a trip to a charger or to park is simply sent again
            self.repo.save_plan(task.task_id, task.kind, robot.serial, task.plan(), self.clock.now())

    def robot_free(self, robot: RobotView) -> None:
        """A robot became available: give it work, or send it to charge."""
        if self.fleet.needs_charge(robot) and self.fleet.send_to_charger(robot):
            return
        if robot.kind == "picking":
            self._assign_picks()
        else:
            self._assign_sorts()
            if robot.task is None:
                self.fleet.park(robot)

    # pack and conveyors -----------------------------------------------------------------------------

    def _conveyor_job(self, cmd_id: str, parcel: str, kind: str, dest: str) -> None:
        """Remember a conveyor command until its event comes (and count what moves to each induct)."""
        self.conveyor_jobs[cmd_id] = (parcel, kind, dest)
        if kind == "move":
            self._coming[dest] += 1

    def _conveyor_job_done(self, cmd_id: str) -> None:
        """Forget a conveyor command whose event came (a parcel moved to an induct is there now)."""
        _, kind, dest = self.conveyor_jobs.pop(cmd_id)
        if kind == "move":
            self._coming[dest] -= 1

    def _conveyor(self, parcel: str, kind: str, origin: str, dest: str, seconds: float) -> None:
        cmd_id = f"CV-{next(self._ids):07d}"
        self._conveyor_job(cmd_id, parcel, kind, dest)
        cmd = ConveyorCmd(
            cmd_id=cmd_id, parcel=parcel, kind=kind, origin=origin, destination=dest, seconds=seconds
        )  # type: ignore[arg-type]
        self._command(cmd_id, topics.conveyor_cmd(self.part), cmd, 1.5 * seconds + 30.0)

    def _command(
        self, key: str, topic: str, cmd: ConveyorCmd | XrayCmd | ManualCheckCmd, timeout_s: float
    ) -> None:
        """Send a device command and keep it (in memory and stored) until its answer arrives."""
        now = self.clock.now()
        self.pending.expect(key, topic, cmd, timeout_s, now)
        self.repo.expect_command(key, topic, cmd.model_dump_json(), timeout_s, now)
        self.outbox.publish(topic, cmd, qos=1)

    def _answered(self, key: str) -> None:
        self.pending.done(key)
        self.repo.command_done(key)

    def _on_conveyor(self, data: bytes) -> None:
        ev = ConveyorEvent.model_validate_json(data)
        job = self.conveyor_jobs.get(ev.cmd_id)
        if job is None:
            self._count("duplicate_messages")  # a redelivered or unknown event changes nothing
            return
        parcel, kind, dest = job
        if (ev.parcel, ev.kind, ev.location) != (parcel, "packed" if kind == "pack" else "arrived", dest):
            raise ValueError(f"conveyor event {ev.cmd_id} says {ev.parcel} {ev.kind} at {ev.location}")
        self._conveyor_job_done(ev.cmd_id)
        self._answered(ev.cmd_id)
        p = self.parcels.get(parcel)
        if p is not None and p.o2o:
            self._o2o_conveyed(p, kind, dest)
        elif kind == "pack":
            self._set([parcel], ParcelState.PACKED, dest)
            self._conveyor(parcel, "move", dest, self._next_induct(parcel), self.cfg.pack.conveyor_to_sort_s)
        elif parcel in self.bags:
            self._on_bag_at_gate(parcel)
        else:
            self._set([parcel], ParcelState.AT_INDUCT, dest, induct=dest)
            self.induct_queues[dest].append(parcel)
            self._assign_sorts()

    def _resend_overdue(self) -> None:
        """Send again the conveyor and X-ray commands whose answers are overdue (they answer idempotently)."""
        for p in self.pending.overdue(self.clock.now()):
            if p.resends == 3:
                self.alarm("warning", "devices", f"no answer to {p.topic} {p.message} after 3 resends")
            self.outbox.publish(p.topic, p.message, qos=1)

    # sorting ----------------------------------------------------------------------------------------

    def _open_inducts(self) -> list[str]:
        """The inducts no robot out of service stands on (all of them if it stands on every one)."""
        blocked = self.fleet.blocked("sorting")
        return [i for i in self.induct_queues if i not in blocked] or list(self.induct_queues)

    def _next_induct(self, order_no: str) -> str:
        """The induct for a packed parcel: near a chute of its destination, unless parcels queue there.

        Each parcel queued at an induct or on the conveyor to it counts as ``INDUCT_QUEUE_M`` metres more
        of travel, so that parcels spread over the inducts rather than all robots (one per cell) queueing
        at one; among equals the inducts take turns.
        """
        p = self.parcels[order_no]
        coming = self._coming
        inducts = self._open_inducts()
        self._induct_turn = (self._induct_turn + 1) % len(inducts)
        turn = inducts[self._induct_turn :] + inducts[: self._induct_turn]

        def cost(i: str) -> float:
            near = self.chute_plan.eject_m(p.carrier, p.route, i) or 0.0  # 0 without a chute
            return near + INDUCT_QUEUE_M * (len(self.induct_queues[i]) + coming[i])

        return min(turn, key=cost)

    def _assign_sorts(self) -> None:
        """Parcels waiting at the inducts (longest queues first) to idle sorting robots, least travel."""
        if not any(self.induct_queues.values()):  # before looking for idle robots (runs every 2 s)
            return
        room = self._induct_room()
        take = {i: min(len(q), room[i]) for i, q in self.induct_queues.items()}  # parcels served now
        most = max(take.values())
        if not most:  # every induct with parcels has its robots coming: no need to look for idle ones
            return
        robots = {r.serial: r for r in self.fleet.idle("sorting")}
        if not robots:
            return
        waiting: dict[str, str] = {}  # parcel -> induct, in the order they should be served
        order = sorted(self.induct_queues, key=lambda i: (-len(self.induct_queues[i]), i))
        for depth in range(most):  # not the whole queue: at most ``room`` from each induct
            for induct in order:
                if depth < take[induct]:
                    waiting[self.induct_queues[induct][depth]] = induct
        for order_no, serial in min_cost_assignment(
            list(waiting), list(robots), lambda o, s: self.grid.distance(robots[s].node, waiting[o])
        ):
            self._start_sort(robots[serial], order_no, waiting[order_no])

    def _induct_room(self) -> dict[str, int]:
        """How many more robots may be sent to each induct: under traffic control, ``INDUCT_ROBOTS`` less
        those on their way there or picking there."""
        if self.fleet.maps["sorting"].traffic is None:
            return {i: len(q) for i, q in self.induct_queues.items()}
        bound: Counter[str] = Counter()
        for r in self.fleet.of_kind("sorting"):
            task = r.task
            if task is not None and task.kind == "sort":
                pick = task.first_stop()
                if pick is not None and task.reached <= pick:
                    bound[task.path[pick]] += 1
        return {i: max(0, INDUCT_ROBOTS - bound[i]) for i in self.induct_queues}

    def _start_sort(self, robot: RobotView, order_no: str, induct: str) -> None:
        p = self.parcels[order_no]
        chute_id = self.chute_plan.chute_for(p.carrier, p.route, induct)
        if chute_id is None:
            self.alarm("error", "sorting", f"no free chute for {p.carrier}/{p.route}; {order_no} waits")
            return
        self.induct_queues[induct].remove(order_no)
        chute = self._chute_by_id[chute_id]
        blocked = self.fleet.blocked("sorting")
        ejects = [c for c in chute.eject if c not in blocked] or chute.eject
        robots = self.fleet.of_kind("sorting")
        bound = Counter(r.task.final_node for r in robots if r.task is not None)
        eject = min(ejects, key=lambda c: (self.grid.distance(induct, c) + EJECT_QUEUE_M * bound[c], c))
        task_id = f"SORT-{next(self._ids):06d}"
        actions: dict[int, list[tuple[str, dict[str, str | int | float]]]] = {
            1: [("pick", {"parcel": order_no})],
            2: [("drop", {"chute": chute_id})],
        }
        self.fleet.send(
            robot,
            task_id,
            "sort",
            [robot.node, induct, eject],
            actions,
            payload=(order_no, chute_id),
            alternatives=ejects,  # any eject cell of the chute will do, should traffic block this one
        )
        self._set([order_no], ParcelState.SORTING, robot.serial, task_id=task_id)

    def _close_bag(self, chute_id: str) -> None:
        bag = self.chutes[chute_id]
        if not bag.parcels:
            return
        bag_id = f"BAG-{next(self._ids):06d}"
        self.bags[bag_id] = bag.parcels
        self.repo.transition(
            bag.parcels, ParcelState.SORTED, self.clock.now(), f"bagged {bag_id}", bag=bag_id
        )
        bag.parcels = []
        self._conveyor(bag_id, "move", chute_id, "GATE", self.cfg.sortation.conveyor_to_gate_s)

    def _sweep_bags(self) -> None:
        """Close bags that are old or whose carrier leaves soon, so nothing misses its truck."""
        now = self.clock.now()
        for chute_id, bag in self.chutes.items():
            if not bag.parcels:
                continue
            carrier = self.parcels[bag.parcels[0]].carrier
            leaves = next_cutoff(self.carriers[carrier], now, self.cfg.site.utc_offset_h)
            margin = self.cfg.sortation.conveyor_to_gate_s + self.cfg.gate.manual_check_s + 300.0
            if leaves - now <= margin or now - bag.opened_at >= 900.0:
                self._close_bag(chute_id)

    # inspection gate --------------------------------------------------------------------------------

    def _on_bag_at_gate(self, bag_id: str) -> None:
        for order_no in self.bags.pop(bag_id):
            self._set([order_no], ParcelState.AT_GATE, bag_id)
            self._inspect(order_no)

    def _inspect(self, order_no: str) -> None:
        p = self.parcels[order_no]
        if p.o2o:
            self._o2o_event(p, "at_gate")
        b = bundle_of(p)
        now = self.clock.now()
        d = decide(b.order, b.payment, b.waybill, self.catalog, self.customs, self.history, now, self.rng)
        self.history.record_order(b.order, now)  # declared at the gate, whatever the decision
        if d.decision == "reject":
            self._decide(p, "reject", _reason(list(d.reasons)))
            return
        # a hold (risk rule or random sample) goes through the X-ray and then a manual check
        p.sampled = d.sampled
        p.hold_reasons = _reason(list(d.reasons)) if d.decision == "hold" else ""
        lane = min(range(len(self.lane_queue)), key=lambda i: (self.lane_queue[i], i))
        self.lane_queue[lane] += 1
        p.xray_lane = lane
        self._set(
            [order_no],
            ParcelState.INSPECTING,
            f"x-ray lane {lane}",
            lane=lane,
            sampled=p.sampled,
            reason=p.hold_reasons,
        )
        timeout = (self.lane_queue[lane] + 1) * self.cfg.gate.xray_s + 60.0
        cmd = XrayCmd(parcel=order_no, lane=lane, priority=p.o2o, declared=self._declared(p))
        self._command(f"xray:{order_no}", topics.xray_cmd(self.part), cmd, timeout)

    def _declared(self, p: Parcel) -> list[XrayItem]:
        """The parcel's inventory-list lines with unit weights, for the X-ray lane and the hold lane."""
        lines = bundle_of(p).order.lines
        kg = {ln.sku: sku.weight_kg for ln in lines if (sku := self.catalog.get(ln.sku))}
        return [XrayItem(sku=ln.sku, qty=ln.qty, unit_kg=kg.get(ln.sku)) for ln in lines]

    def _on_xray(self, data: bytes) -> None:
        res = XrayResult.model_validate_json(data)
        p = self.parcels.get(res.parcel)
        if p is None or p.xray_lane is None:
            self._count("duplicate_messages")  # not waiting for an image: a repeat changes nothing
            return
        if res.lane != p.xray_lane:
            raise ValueError(f"x-ray result for {res.parcel} from lane {res.lane}, sent to {p.xray_lane}")
        p.xray_lane = None
        self._answered(f"xray:{res.parcel}")
        self.lane_queue[res.lane] = max(0, self.lane_queue[res.lane] - 1)
        mismatch = self._scan_findings(p, res)
        if res.verdict == "suspect" or mismatch:
            image = [f"XRAY_SUSPECT: image {res.image_id}"] if res.verdict == "suspect" else []
            reason = "; ".join(r for r in (*image, *mismatch, p.hold_reasons) if r)
            self._decide(p, "hold", reason, xray=res.verdict, lane=res.lane, sampled=p.sampled)
        elif p.hold_reasons:
            self._manual_check(p, res.lane)
        else:
            self._decide(p, "release", "", xray="clear", lane=res.lane)

    def _scan_findings(self, p: Parcel, res: XrayResult) -> list[str]:
        """The scan tunnel's items and the scale's weight against the parcel's inventory-list lines."""
        if res.items is None and res.weight_kg is None:
            return []
        lines = bundle_of(p).order.lines
        declared_kg = sum(ln.qty * sku.weight_kg for ln in lines if (sku := self.catalog.get(ln.sku)))
        scanned = None if res.items is None else [(i.sku, i.qty) for i in res.items]
        found = scan_findings(
            [(ln.sku, ln.qty) for ln in lines],
            declared_kg,
            scanned,
            res.weight_kg,
            tolerance_pct=self.cfg.gate.weight_tolerance_pct,
        )
        if found:
            self._count("scan_mismatches")
        return found

    def _manual_check(self, p: Parcel, lane: int) -> None:
        """Divert a held parcel with a clear image to the hold lane, where an officer opens and checks it."""
        p.manual_lane = lane
        self.hold_lane += 1
        self.repo.note(p.order_no, self.clock.now(), f"diverted to the hold lane ({self.hold_lane} there)")
        cmd = ManualCheckCmd(parcel=p.order_no, reasons=p.hold_reasons, declared=self._declared(p))
        gate = self.cfg.gate
        timeout = (self.hold_lane / gate.manual_officers + 1) * gate.manual_check_s + 120.0
        self._command(f"manual:{p.order_no}", topics.manual_cmd(self.part), cmd, timeout)

    def _on_manual(self, data: bytes) -> None:
        """An officer's verdict: the held parcel is released, or rejected with what was found."""
        res = ManualCheckResult.model_validate_json(data)
        p = self.parcels.get(res.parcel)
        if p is None or p.manual_lane is None:
            self._count("duplicate_messages")  # not waiting for a check: a repeat changes nothing
            return
        lane, p.manual_lane = p.manual_lane, None
        self.hold_lane = max(0, self.hold_lane - 1)
        self._answered(f"manual:{res.parcel}")
        if res.verdict == "release":
            reason = f"manual check by {res.officer} passed after {p.hold_reasons}"
            self._decide(p, "release", reason, xray="clear", lane=lane, sampled=p.sampled)
        else:
            reason = f"MANUAL_CHECK: {res.finding or 'rejected'} ({res.officer}, held for {p.hold_reasons})"
            self._decide(p, "reject", reason, xray="clear", lane=lane, sampled=p.sampled)

    def _declare(self, p: Parcel, now: float) -> None:
        """Write the CEB621 import inventory list of a released order (signing is a pluggable later step)."""
        b = bundle_of(p)
        assert b.waybill is not None  # intake refuses orders without a waybill
        ems_no = self.account_books.get(p.picks[0][0], "") if p.picks else ""
        xml = ceb621(
            b.order,
            b.waybill,
            self.catalog,
            ems_no=ems_no,
            customs_code=self.customs.customs_code,
            port_code=self.customs.port_code,
            now=now,
            utc_offset_h=self.cfg.site.utc_offset_h,
        )
        self.repo.declare(p.order_no, now, ems_no, xml.decode("utf-8"))

    def _decide(
        self,
        p: Parcel,
        decision: str,
        reason: str,
        xray: str = "",
        lane: int | None = None,
        sampled: bool = False,
    ) -> None:
        now = self.clock.now()
        self.repo.inspection(p.order_no, now, decision, reason, xray, lane, sampled)
        p.reason = reason
        if decision == "release":
            self.history.record_release(bundle_of(p).order, now)
            self._declare(p, now)
            self._set([p.order_no], ParcelState.RELEASED, "released by the gate")
            if p.o2o:
                self._o2o_event(p, "released")
                counter = f"COUNTER-{p.route}"
                self._conveyor(p.order_no, "move", "GATE", counter, self.cfg.o2o.gate_to_counter_s)
            return
        state, kind = (
            (ParcelState.HELD, LedgerKind.HELD) if decision == "hold" else (ParcelState.REJECTED, None)
        )
        self.repo.close_out(p.order_no, state, now, kind, reason)
        if kind is None:  # rejected goods go back to stock
            for lot, _sku, qty, _node in p.picks:
                lv = self.lots[lot]
                self.lots[lot] = LotView(lv.lot, lv.sku, lv.expiry, lv.available + qty)
        self.parcels.move(p, state)
        p.done_at = now
        self._stage(state.value)
        if p.o2o:  # the shopper at the counter is told
            self._o2o_event(p, state.value, accepted=False)
            self.o2o_closed.append(p)
        self._retire(p)

    # back-pressure ------------------------------------------------------------------------------------

    def _admit(self) -> None:
        """Close or reopen the order intake on the backlog (order sources hold new orders meanwhile)."""
        if self.admission is None:
            return
        if self.admission.update(backlog(self.parcels.counts())):
            self._publish_intake()
            self.alarm("info" if self.admission.accepting else "warning", "intake", self.admission.reason())

    def _publish_intake(self) -> None:
        if self.admission is not None:
            signal = self.admission.signal(self.part, self.clock.now())
            self.outbox.publish(topics.intake(self.part), signal, qos=1, retain=True)

    # O2O: on-site pickup at the experience store's counter ------------------------------------------

    def _o2o_findings(self, bundle: OrderBundle, now: float) -> list[Finding]:
        """What refuses an O2O order at once: an unknown or closed counter, goods outside the assortment."""
        o2o, w = self.cfg.o2o, bundle.waybill
        counter = w.route if w else ""
        if w is None or w.carrier != O2O_CARRIER or counter not in o2o.counters:
            known = ", ".join(o2o.counters)
            return [Finding("COUNTER_UNKNOWN", f"pickup counter {counter!r} is not one of {known}")]
        minute = local_minute(now, self.cfg.site.utc_offset_h)
        opens, closes = (int(t[:2]) * 60 + int(t[3:]) for t in (o2o.opens, o2o.closes))
        if not opens <= minute < closes:
            return [Finding("COUNTER_CLOSED", f"counter {counter} is open {o2o.opens}-{o2o.closes}")]
        outside = [ln.sku for ln in bundle.order.lines if ln.sku not in self.o2o_skus]
        if outside:
            return [Finding("O2O_NOT_ALLOWED", f"not in the store's O2O assortment: {', '.join(outside)}")]
        return []

    def _o2o_event(self, p: Parcel, stage: str, accepted: bool = True) -> None:
        """Tell the counter clerk (and consoles) where an O2O order is."""
        now = self.clock.now()
        event = O2OEvent(
            order_no=p.order_no,
            stage=stage,
            counter=p.route,
            accepted=accepted,
            reason=p.reason,
            elapsed_s=round(now - p.received_at, 1),
            ts=now,
        )
        self.outbox.publish(topics.o2o(self.part), event, qos=1)

    def _o2o_pick(self, p: Parcel) -> None:
        """Express pick: a clerk at the forward face by the counter, or the first free picking robot."""
        task_id = f"O2O-{next(self._ids):06d}"
        self.repo.upsert_task(
            task_id, kind="pick", state="queued", orders=p.order_no, created_at=p.received_at
        )
        self._set([p.order_no], ParcelState.WAVED, "express (O2O)", task_id=task_id)
        if self.cfg.o2o.pick == "robot":
            self.pick_queue.appendleft((task_id, [p.order_no]))  # ahead of every waiting cart
            self._assign_picks()
            return
        o2o, now = self.cfg.o2o, self.clock.now()
        start = max(now, self.o2o_picker_free_at)
        self.o2o_picker_free_at = start + o2o.forward_pick_s + o2o.forward_line_s * (len(p.picks) - 1)
        self._set([p.order_no], ParcelState.PICKING, "forward pick face")
        self._later(self.o2o_picker_free_at - now, lambda: self._o2o_picked(p, task_id))

    def _o2o_picked(self, p: Parcel, task_id: str) -> None:
        self.repo.finish_task(task_id, "pick", "done", "forward-face", self.clock.now())
        self._set([p.order_no], ParcelState.PICKED, "forward pick face")
        self._o2o_pack(p, f"O2O-{p.route}")

    def _o2o_pack(self, p: Parcel, station: str) -> None:
        self._o2o_event(p, "picked")
        self._conveyor(p.order_no, "pack", station, station, self.cfg.o2o.pack_s)

    def _o2o_conveyed(self, p: Parcel, kind: str, dest: str) -> None:
        """Packed: straight to the gate (no sortation). At the counter: handed over, the order closes."""
        if kind == "pack":
            self._set([p.order_no], ParcelState.PACKED, dest)
            self._o2o_event(p, "packed")
            self._conveyor(p.order_no, "move", dest, "GATE", self.cfg.o2o.conveyor_to_gate_s)
        elif dest == "GATE":
            self._set([p.order_no], ParcelState.AT_GATE, "express conveyor")
            self._inspect(p.order_no)
        else:
            now = self.clock.now()
            self.repo.dispatch(f"HANDOVER-{p.order_no}", O2O_CARRIER, [p.order_no], now)
            self.parcels.move(p, ParcelState.DISPATCHED)
            p.done_at = now
            self._stage("dispatched")
            self._o2o_event(p, "handed_over")
            self.o2o_closed.append(p)
            self._retire(p)

    # dispatch ---------------------------------------------------------------------------------------

    def _schedule_departure(self, code: str) -> None:
        at = next_cutoff(self.carriers[code], self.clock.now(), self.cfg.site.utc_offset_h)
        self.clock.call_at(at, self.outbox.atomic(lambda: self._depart(code)))

    def _depart(self, code: str) -> None:
        """A carrier's truck leaves: every released parcel of that carrier goes on its manifest."""
        nos = [
            p.order_no for p in self.parcels.values() if p.carrier == code and p.state == ParcelState.RELEASED
        ]
        if nos:
            now = self.clock.now()
            manifest = f"M-{code}-{next(self._ids):06d}"
            self.repo.dispatch(manifest, code, nos, now)
            for o in nos:
                p = self.parcels[o]
                self.parcels.move(p, ParcelState.DISPATCHED)
                p.done_at = now
                self._retire(p)
            self._stage("dispatched", len(nos))
        self._schedule_departure(code)

    def _on_receipts(self, data: bytes) -> None:
        """Customs receipts go into the history of the parcel they answer; failures raise an alarm."""
        now = self.clock.now()
        for r in parse_receipts(data):
            order_no = r.order_no or r.cop_no
            if order_no not in self.parcels and not self.repo.has_order(order_no):
                self._count("unmatched_receipts")
                self.alarm("info", "customs", f"{r.message} receipt for unknown order {order_no!r}")
                continue
            detail = f"{r.message} returnStatus={r.return_status} ({r.status_text}) {r.return_info}".strip()
            self.repo.note(order_no, now, detail[:500])
            if r.failed:
                self.alarm("warning", "customs", f"order {order_no}: {detail}")

    # operator ---------------------------------------------------------------------------------------

    def _on_control(self, data: bytes) -> None:
        cmd = ControlCmd.model_validate_json(data)
        if cmd.command == "estop":
            self.fleet.estop()
            self.alarm("error", "operator", f"EMERGENCY STOP by {cmd.operator}")
        else:
            self.fleet.resume()
            self.alarm("info", "operator", f"resumed by {cmd.operator}")

    # status -----------------------------------------------------------------------------------------

    def all_done(self) -> bool:
        """Whether every order known so far has reached a terminal state."""
        return not self.parcels

    def publish_status(self) -> None:
        """Publish the retained live status for consoles."""
        now = self.clock.now()
        if now >= self._ledger_checked_at + LEDGER_CHECK_S:  # sums over the whole ledger: not every status
            self._ledger_checked_at = now
            self.ledger_ok = bool(self.repo.ledger_check()["balanced"])
        self.outbox.publish(topics.status(self.part), build_status(self), qos=0, retain=True)


def bundle_of(p: Parcel) -> OrderBundle:
    """The order of an open parcel (closed ones no longer carry it)."""
    if p.bundle is None:
        raise ValueError(f"parcel {p.order_no} is closed ({p.state.value})")
    return p.bundle


def _reason(findings: list[Finding]) -> str:
    return "; ".join(f"{f.code}: {f.detail}" for f in findings)
