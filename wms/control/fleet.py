"""Fleet manager: the VDA 5050 master side of the controller (robot registry, orders, charging, e-stop)."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from wms.bus.base import Bus
from wms.clock import Clock
from wms.config import RobotClass
from wms.control.factsheet import Capabilities, capabilities
from wms.control.traffic import Traffic, TrafficControl
from wms.robots.orders import instant_action, instant_actions, make_action, order_json
from wms.robots.vda5050 import (
    Action,
    HeaderCounter,
    StateDict,
    VdaError,
    parse_connection,
    parse_factsheet,
    read_state,
    read_visualization,
)
from wms.topics import vda, vda_all, vda_parse

log = logging.getLogger(__name__)
T = TypeVar("T")
# A task's stored plan allows for its base growing this many nodes (`ActiveTask.storing`): most releases
# of a task then go out without storing it again.
PLAN_AHEAD_NODES = 12


@dataclass
class FleetMap:
    """The floor one kind of robot drives on: node positions, chargers and a path finder."""

    pos: dict[str, tuple[float, float]]
    chargers: list[str]
    path: Callable[[str, str], list[str]]
    distance: Callable[[str, str], float]
    traffic: Traffic | None = None  # exclusive cell reservations (the sorting grid); None: no traffic control


@dataclass
class ActiveTask:
    """The task a robot is executing as one VDA 5050 order."""

    task_id: str
    kind: str
    order_id: str
    final_node: str
    action_ids: set[str]
    payload: object = None
    path: list[str] = field(default_factory=list)
    actions: dict[int, list[Action]] = field(default_factory=dict)  # by path index
    base_end: int = 0  # index of the last released node
    update_id: int = 0
    release_start: int = 0  # path index the last order or update started at
    last_message: bytes | None = None  # the order last sent, for a re-send
    sent_at: float = 0.0
    reached: int = 0  # path index of the node the robot last reported standing on or passing
    asides: int = 0  # times it stepped aside to break a deadlock (see `TrafficControl._step_aside`)
    started_at: float = 0.0  # when this master sent it (or adopted it after a restart)
    aside_for: str = ""  # the robot it last stepped aside for (named in the slow-task alarm)
    # other nodes where the last stop's actions may be done instead (the other eject cells of a chute)
    alternatives: list[str] = field(default_factory=list)
    # the furthest base end the stored plan allows for: releases up to it need not store the plan again
    bound: int = 0
    # `plan`'s JSON of what a task never changes (its actions only by a new dict), with that dict: a
    # release encodes only what moves
    _fixed: tuple[object, str] | None = field(default=None, repr=False, compare=False)
    # the path and actions (by identity: a splice makes new ones) the stored plan has
    _stored: tuple[object, object] | None = field(default=None, repr=False, compare=False)
    # `first_stop` of the actions dict it was computed for
    _first: tuple[object, int | None] | None = field(default=None, repr=False, compare=False)

    def first_stop(self) -> int | None:
        """Path index of the first node with actions (None if none): asked of every sorting robot's task
        whenever parcels wait at the inducts, so kept until a splice gives the task new actions."""
        first = self._first
        if first is None or first[0] is not self.actions:
            first = self._first = (self.actions, min(self.actions, default=None))
        return first[1]

    def next_stop(self, after: int) -> int:
        """Path index of the first node after ``after`` with actions, else of the last node."""
        return min((i for i in self.actions if i > after), default=len(self.path) - 1)

    def splice(self, at: int, segment: list[str]) -> None:
        """Drive ``segment`` (from ``path[at]`` to the next stop) instead of the planned way there."""
        stop = self.next_stop(at)
        shift = len(segment) - (stop - at + 1)
        self.path = self.path[:at] + segment + self.path[stop + 1 :]
        self.actions = {i + shift if i >= stop else i: acts for i, acts in self.actions.items()}

    def to_store(self) -> bool:
        """Whether the plan must be stored (again) before this release goes out: the stored one lacks
        its path or actions, or allows for a shorter base."""
        stored = self._stored
        return (
            stored is None
            or stored[0] is not self.path
            or stored[1] is not self.actions
            or self.base_end > self.bound
        )

    def storing(self, ahead: int) -> None:
        """Note that the plan is stored now, allowing for releases up to ``ahead`` nodes further."""
        self.bound = min(len(self.path) - 1, self.base_end + ahead)
        self._stored = (self.path, self.actions)

    def plan(self) -> str:
        """The task as JSON, enough to resume driving it after a restart of the master.

        ``bound`` (see `storing`) lets the releases up to it go out without storing the plan again: a
        master that resumes from it holds the cells up to there until the robot's state says how far it
        was released (`FleetManager._catch_up`).

        The part of the path behind both the robot and the last release is left out (``offset`` says how
        long it was): nothing reads it again, and a path can grow long when a robot is re-routed often.
        """
        offset = min(self.reached, self.release_start)
        if self._fixed is None or self._fixed[0] is not self.actions:
            actions = {
                str(i): [a.model_dump(mode="json", exclude_none=True) for a in acts]
                for i, acts in self.actions.items()
            }
            fixed = {
                "task_id": self.task_id,
                "kind": self.kind,
                "order_id": self.order_id,
                "action_ids": sorted(self.action_ids),
                "payload": self.payload,
                "actions": actions,
            }
            self._fixed = (self.actions, json.dumps(fixed)[:-1])
        moving = {
            "final_node": self.final_node,
            "offset": offset,
            "path": self.path[offset:],
            "base_end": self.base_end,
            "update_id": self.update_id,
            "release_start": self.release_start,
            "reached": self.reached,
            "asides": self.asides,
            "alternatives": self.alternatives,
            "bound": self.bound,
        }
        return f"{self._fixed[1]}, {json.dumps(moving)[1:]}"

    @classmethod
    def from_plan(cls, plan: str) -> ActiveTask:
        """The task a `plan` describes."""
        d = json.loads(plan)
        task = cls(
            task_id=d["task_id"],
            kind=d["kind"],
            order_id=d["order_id"],
            final_node=d["final_node"],
            action_ids=set(d["action_ids"]),
            payload=d["payload"],
            path=[""] * d.get("offset", 0) + list(d["path"]),  # indices as they were; passed nodes blank
            actions={int(i): [Action.model_validate(a) for a in acts] for i, acts in d["actions"].items()},
            base_end=d["base_end"],
            update_id=d["update_id"],
            release_start=d["release_start"],
            reached=d.get("reached", 0),
            asides=d.get("asides", 0),
            alternatives=list(d.get("alternatives", [])),
            bound=d.get("bound", d["base_end"]),
        )
        task._stored = (task.path, task.actions)
        return task


@dataclass
class RobotView:
    """What the master knows about one robot."""

    serial: str
    manufacturer: str
    kind: str
    online: bool = False
    battery: float = 100.0
    node: str = ""
    x: float = 0.0
    y: float = 0.0
    last_seen: float = 0.0
    last_header: int = -1
    task: ActiveTask | None = None
    charging: bool = False
    charger: str | None = None
    charge_asked_at: float = 0.0  # when startCharging last went to it
    pause_asked_at: float = 0.0  # when startPause or stopPause last went to it for the e-stop
    unpausing: bool = False  # the e-stop was lifted: it is to report itself unpaused
    paused_by_hand: bool = False  # it was paused already when the e-stop came: lifting it leaves it so
    error: str = ""
    paused: bool = False
    tasks_done: int = 0
    cancelling: str = ""  # the orderId it was told to cancel
    cancel_asked_at: float = 0.0
    stray: bool = False  # still driving an order the master does not own (being cancelled)
    factsheet: Capabilities | None = None  # from its last factsheet
    unfit: str = ""  # why its factsheet rules it out for tasks
    headers: HeaderCounter = field(default_factory=HeaderCounter)

    @property
    def status(self) -> str:
        """Console state: offline, error, paused, charging, busy or idle."""
        if not self.online:
            return "offline"
        if self.error or self.unfit:
            return "error"
        if self.paused:
            return "paused"
        if self.charging or (self.task is not None and self.task.kind == "charge"):
            return "charging"
        working = self.task is not None and self.task.kind != "park"  # a robot going to park can take work
        return "busy" if working or self.stray else "idle"


class FleetEvents(Protocol):
    """What the fleet manager tells the controller."""

    def task_done(self, robot: RobotView, task: ActiveTask) -> None:
        """A robot finished every node and action of a task."""
        ...

    def task_failed(self, robot: RobotView, task: ActiveTask, reason: str) -> None:
        """A task cannot be completed by this robot (fault, disconnection, failed action)."""
        ...

    def robot_free(self, robot: RobotView) -> None:
        """A robot became available for work."""
        ...

    def robot_changed(self, robot: RobotView) -> None:
        """A robot's connection, task, charging or error changed (persist it)."""
        ...

    def task_released(self, robot: RobotView, task: ActiveTask) -> None:
        """An order or order update of a task is going out that its stored plan does not cover: store the
        task (`ActiveTask.plan`) to resume it after a restart, before the order leaves."""
        ...

    def alarm(self, severity: str, source: str, message: str) -> None:
        """Raise an operator alarm."""
        ...


class FleetManager(TrafficControl):
    """Registry of robots discovered over MQTT and the orders and instant actions sent to them."""

    def __init__(
        self,
        bus: Bus,
        clock: Clock,
        maps: dict[str, FleetMap],
        classes: dict[str, RobotClass],
        events: FleetEvents,
        timeout_s: float,
        manufacturers: list[str],
        release_nodes: int = 6,
        seq_start: int = 0,
        task_alarm_s: float = 900.0,
        horizon_nodes: int | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.maps = maps
        self.classes = classes
        self.events = events
        self.timeout_s = timeout_s
        self.manufacturers = manufacturers
        self.release_nodes = release_nodes
        self.horizon_nodes = horizon_nodes  # nodes announced beyond the base; None: the rest of the path
        self.resend_after_s = 10.0
        self.resent = 0
        self.robots: dict[str, RobotView] = {}
        self._by_kind: dict[str, list[RobotView]] = {}  # `robots` by kind, as of ``_indexed`` robots
        self._indexed = 0
        self.expected: dict[str, str] = {}
        self.paused = False
        self.rejected = 0
        self._all_silent = False
        self.task_alarm_s = task_alarm_s
        self._overdue: set[str] = set()  # tasks already alarmed as running too long
        self._seq = seq_start  # orderIds and actionIds of a restarted master never repeat earlier ones

    def expect(self, serial: str, kind: str) -> None:
        """Declare a robot from config so that its kind is known when it appears."""
        self.expected[serial] = kind

    def adopt(
        self, serial: str, manufacturer: str, kind: str, node: str, task: ActiveTask | None = None
    ) -> None:
        """Resume a robot known before a restart, and its task (sent again if the robot lacks the order)."""
        robot = self.robots.setdefault(serial, RobotView(serial, manufacturer, kind, node=node))
        self._hold_adopted(robot, task)
        if task is None:
            return
        robot.task = task
        task.last_message = self._order_message(robot, task, task.release_start)
        task.sent_at = float("-inf")
        task.started_at = self.clock.now()

    def start(self) -> None:
        """Listen to the state and connection of every robot of this fleet's manufacturers."""
        for m in self.manufacturers:
            self.bus.subscribe(vda_all("state", m), self._on_state)
            self.bus.subscribe(vda_all("connection", m), self._on_connection, qos=1)
            self.bus.subscribe(vda_all("factsheet", m), self._on_factsheet)
            self.bus.subscribe(vda_all("visualization", m), self._on_visualization)

    def _kind_of(self, serial: str) -> str | None:
        if serial in self.expected:
            return self.expected[serial]
        for kind in self.maps:
            if serial.startswith(kind[:4]):
                return kind
        return None

    def _robot(self, topic: str, serial_in_payload: str) -> RobotView | None:
        parsed = vda_parse(topic)
        if parsed is None:
            return None
        manufacturer, serial, _ = parsed
        if serial_in_payload != serial:
            self._reject(topic, f"serialNumber {serial_in_payload!r} disagrees with the topic")
            return None
        robot = self.robots.get(serial)
        if robot is not None and robot.manufacturer != manufacturer:
            self._reject(topic, f"serial {serial} already belongs to {robot.manufacturer}")
            return None
        if robot is None:
            kind = self._kind_of(serial)
            if kind is None:
                self._reject(topic, f"robot {serial} is of no known kind; add it to the fleet config")
                return None
            robot = self.robots[serial] = RobotView(serial, manufacturer, kind)
        return robot

    def of_kind(self, kind: str) -> list[RobotView]:
        """The robots of ``kind``: the hot scans (idle robots, parking goals) want one kind of the fleet."""
        if len(self.robots) != self._indexed:  # robots join and never leave: a new count is a new robot
            self._by_kind = {}
            for r in self.robots.values():
                self._by_kind.setdefault(r.kind, []).append(r)
            self._indexed = len(self.robots)
        return self._by_kind.get(kind, [])

    def _reject(self, topic: str, reason: str) -> None:
        self.rejected += 1
        self.events.alarm("warning", "robots", f"{topic}: {reason}")

    def _sender(self, topic: str, data: bytes, parse: Callable[[bytes], T]) -> tuple[T, RobotView] | None:
        """The message, checked, and the robot that sent it; None once refused (counted and alarmed)."""
        try:
            msg = parse(data)
        except VdaError as exc:
            self._reject(topic, str(exc))
            return None
        serial = msg["serialNumber"] if isinstance(msg, dict) else cast(Any, msg).serialNumber
        robot = self._robot(topic, serial)
        return None if robot is None else (msg, robot)

    def _on_connection(self, topic: str, data: bytes) -> None:
        got = self._sender(topic, data, parse_connection)
        if got is None:
            return
        msg, robot = got
        before = (robot.status, robot.task)
        if msg.connectionState == "ONLINE":
            robot.online = True
            robot.last_header = -1
            robot.last_seen = self.clock.now()
            # its state of this session may have gone out before we subscribed: ask rather than wait 30 s
            self._instant(robot, "stateRequest")
            if robot.factsheet is None:  # a message of its own: vda-5050-lib stalls on the pair
                self._instant(robot, "factsheetRequest")
        else:
            self._out_of_service(robot, f"connection {msg.connectionState}")
        if (robot.status, robot.task) != before:
            self.events.robot_changed(robot)

    def _on_factsheet(self, topic: str, data: bytes) -> None:
        """Note what the robot can do; a robot that cannot pick and drop on nodes takes no tasks."""
        got = self._sender(topic, data, parse_factsheet)
        if got is None:
            return
        msg, robot = got
        caps = capabilities(msg, self.classes[robot.kind].charging_spots > 0)
        was_ready, before = self._ready(robot), robot.factsheet
        robot.factsheet = caps
        if caps.unfit and caps.unfit != robot.unfit:
            self.events.alarm("error", "robots", f"{robot.serial} takes no tasks: {caps.unfit}")
            if robot.task is not None and robot.task.kind not in ("charge", "park"):
                self._fail_task(robot, caps.unfit)
        robot.unfit = caps.unfit
        if before is None or before.warnings != caps.warnings:
            for warning in caps.warnings:
                self.events.alarm("warning", "robots", f"{robot.serial}: {warning}")
        self.events.robot_changed(robot)
        if not was_ready and self._ready(robot):
            self.events.robot_free(robot)

    def _on_visualization(self, topic: str, data: bytes) -> None:
        """Position between states, for the console (decisions wait for the state)."""
        got = self._sender(topic, data, read_visualization)
        position = None if got is None else got[0].get("agvPosition")
        if got is not None and position is not None:
            got[1].x, got[1].y = position["x"], position["y"]

    def _on_state(self, topic: str, data: bytes) -> None:
        got = self._sender(topic, data, read_state)
        if got is None:
            return
        st, robot = got
        before = (robot.status, robot.task)
        was_ready = self._ready(robot)
        self._apply_state(robot, st)
        if (robot.status, robot.task) != before:
            self.events.robot_changed(robot)
        if not was_ready and self._ready(robot):
            self.events.robot_free(robot)

    def _apply_state(self, robot: RobotView, st: StateDict) -> None:
        """Take in one state message of a known robot."""
        if st["headerId"] <= robot.last_header:
            return  # a replayed or out-of-order state changes nothing
        robot.last_header = st["headerId"]
        robot.last_seen = self.clock.now()
        robot.online = True
        robot.battery = float(st["batteryState"]["batteryCharge"])
        robot.paused = bool(st.get("paused"))
        self._hold_estop(robot)
        if st["lastNodeId"] and st["lastNodeId"] != robot.node:
            robot.node = st["lastNodeId"]
            if robot.node not in self.maps[robot.kind].pos:
                self.events.alarm(
                    "warning", "robots", f"{robot.serial} is at {robot.node}, not on the {robot.kind} map"
                )
        position = st.get("agvPosition")
        if position is not None:
            robot.x, robot.y = position["x"], position["y"]
        elif robot.node in self.maps[robot.kind].pos:
            robot.x, robot.y = self.maps[robot.kind].pos[robot.node]
        fatal = [e["errorType"] for e in st["errors"] if e["errorLevel"] == "FATAL"]
        if fatal and not robot.error:
            robot.error = fatal[0]
            self.events.alarm("error", "robots", f"{robot.serial}: FATAL {fatal[0]}")
            self._fail_task(robot, f"FATAL error {fatal[0]}")
            return
        robot.error = fatal[0] if fatal else ""
        self._catch_up(robot, st)
        if self._order_refused(robot, st):
            return
        self._cancel_stray_order(robot, st)
        self._resend_if_lost(robot, st)
        self._track_charging(robot, st)
        synced = self._extend_base(robot, st)
        self._track_task(robot, st)
        task = robot.task
        if (
            synced is None
            or task is not synced[0]
            or task.path is not synced[1]
            or task.base_end != synced[2]
        ):
            self._sync_cells(robot, st)  # else it would hold what it holds

    def _catch_up(self, robot: RobotView, st: StateDict) -> None:
        """After a restart: take the task's base from the robot, which may have been released more of it
        than the stored plan says (up to its ``bound``; only this master sends updates, so a robot ahead of
        it is one sent releases before the restart)."""
        task = robot.task
        if task is None or st["orderId"] != task.order_id or st["orderUpdateId"] <= task.update_id:
            return
        released = [n["sequenceId"] // 2 for n in st["nodeStates"] if n["released"]]
        end = max(released) if released else st["lastNodeSequenceId"] // 2  # else it stands at the base end
        task.update_id = st["orderUpdateId"]
        task.base_end = min(max(task.base_end, end), len(task.path) - 1)

    def _order_refused(self, robot: RobotView, st: StateDict) -> bool:
        """The robot reports an error against the task's order: the task goes back to the controller."""
        task = robot.task
        if task is None or st["orderId"] == task.order_id:
            return False
        for e in st["errors"]:
            refs = {(r["referenceKey"], r["referenceValue"]) for r in e.get("errorReferences") or []}
            if ("orderId", task.order_id) in refs:
                self._fail_task(
                    robot, f"order refused: {e['errorType']} {e.get('errorDescription') or ''}".strip()
                )
                return True
        return False

    def _resend_if_lost(self, robot: RobotView, st: StateDict) -> None:
        """Orders go at QoS 0: if the robot's state still lacks the last order or update, send it again."""
        task = robot.task
        if task is None or task.last_message is None or self.clock.now() - task.sent_at < self.resend_after_s:
            return
        if st["orderId"] != task.order_id or st["orderUpdateId"] < task.update_id:
            task.sent_at = self.clock.now()
            self.resent += 1
            self.bus.publish(vda(robot.manufacturer, robot.serial, "order"), task.last_message)

    def _cancel_stray_order(self, robot: RobotView, st: StateDict) -> None:
        """A robot driving an order the master no longer owns (e.g. after a reconnect) is told to drop it.

        Until it has, the robot counts as busy, so no new order goes to it only to be refused.
        """
        mine = robot.task.order_id if robot.task else None
        running = bool(st["nodeStates"] or st["edgeStates"]) or any(
            a["actionStatus"] not in ("FINISHED", "FAILED") for a in st["actionStates"]
        )
        robot.stray = bool(st["orderId"] and st["orderId"] != mine and running)
        if not robot.stray:
            return
        now = self.clock.now()
        if robot.cancelling == st["orderId"]:  # told before: again if it may have missed it (QoS 0)
            if now - robot.cancel_asked_at < self.resend_after_s:
                return
            self.resent += 1
        robot.cancelling, robot.cancel_asked_at = st["orderId"], now
        self._instant(robot, "cancelOrder")

    def _track_task(self, robot: RobotView, st: StateDict) -> None:
        task = robot.task
        if task is None or st["orderId"] != task.order_id:
            return
        mine = [a for a in st["actionStates"] if a["actionId"] in task.action_ids]
        failed = [a for a in mine if a["actionStatus"] == "FAILED"]
        if failed:
            self._fail_task(robot, f"action {failed[0].get('actionType')} failed")
            return
        finished = len([a for a in mine if a["actionStatus"] == "FINISHED"]) == len(task.action_ids)
        if finished and not st["nodeStates"] and robot.node == task.final_node:
            robot.task = None
            robot.tasks_done += 1
            if task.kind == "charge":
                self._instant(robot, "startCharging")
                robot.charging, robot.charge_asked_at = True, self.clock.now()
                robot.charger = task.final_node
            self.events.task_done(robot, task)
            if robot.task is None and not robot.charging:
                self.events.robot_free(robot)

    def _track_charging(self, robot: RobotView, st: StateDict) -> None:
        cls = self.classes[robot.kind]
        if st["batteryState"]["charging"] and not robot.charging and robot.task is None:
            robot.charging = True  # charging since before a restart of the master
            robot.charger = robot.node
        if robot.charging and st["batteryState"]["batteryCharge"] >= cls.charged_pct:
            self._instant(robot, "stopCharging")
            robot.charging = False
            robot.charger = None
            self.events.robot_free(robot)
        elif (
            robot.charging
            and not st["batteryState"]["charging"]
            and self.clock.now() - robot.charge_asked_at >= self.resend_after_s
        ):  # instant actions go at QoS 0: on its charger and still not charging, it is asked again
            robot.charge_asked_at = self.clock.now()
            self.resent += 1
            self._instant(robot, "startCharging")

    def _fail_task(self, robot: RobotView, reason: str) -> None:
        task = robot.task
        robot.task = None
        self._release_cells(robot)
        if task is not None:
            self.events.task_failed(robot, task, reason)

    def _out_of_service(self, robot: RobotView, reason: str) -> None:
        if robot.online:
            self.events.alarm("warning", "robots", f"{robot.serial} out of service: {reason}")
        robot.online = False
        robot.charging = False
        robot.charger = None
        self._fail_task(robot, reason)

    def check_timeouts(self) -> None:
        """Take robots that fell silent out of service and send idle robots with low batteries to charge.

        Silence is measured against the latest state heard from any robot: when every robot seems silent,
        the fault is more likely this master's link or its own backlog, so tasks stay where they are (a
        robot that really went away is also reported by its last will).
        """
        now = self.clock.now()
        heard = max((r.last_seen for r in self.robots.values() if r.online), default=now)
        if now - heard > self.timeout_s and not self._all_silent:
            self.events.alarm("warning", "robots", f"no robot state for {now - heard:.0f} s: broker link?")
        self._all_silent = now - heard > self.timeout_s
        for robot in self.robots.values():
            if robot.online and heard - robot.last_seen > self.timeout_s:
                self._out_of_service(robot, f"no state for {now - robot.last_seen:.0f} s")
            elif self.needs_charge(robot):
                self.send_to_charger(robot)
            else:
                self.park(robot)
        self._overdue_waits()
        self._overdue_tasks(now)

    def open_tasks(self, limit: int = 5) -> list[dict[str, object]]:
        """The oldest tasks robots are driving (parking left out): what an operator looks at first when
        parcels stop moving, with where each robot stands and, under traffic control, what it waits for."""
        now = self.clock.now()
        driving = [(r.task, r) for r in self.robots.values() if r.task is not None and r.task.kind != "park"]
        driving.sort(key=lambda tr: (tr[0].started_at, tr[1].serial))
        return [self._task_view(robot, task, now) for task, robot in driving[:limit]]

    def _task_view(self, robot: RobotView, task: ActiveTask, now: float) -> dict[str, object]:
        """A task as `open_tasks` shows it."""
        traffic = self.maps[robot.kind].traffic
        wait = traffic.cells.waiting.get(robot.serial) if traffic is not None else None
        return {
            "robot": robot.serial,
            "status": robot.status,
            "task": task.task_id,
            "kind": task.kind,
            "age_s": round(now - task.started_at, 1),
            "node": robot.node,
            "to": task.final_node,
            "nodes_left": len(task.path) - 1 - task.reached,
            "asides": task.asides,
            "waiting_for": wait.cell if wait is not None else None,
            "blocker": traffic.cells.blocker(robot.serial) if traffic is not None else None,
        }

    def _overdue_tasks(self, now: float) -> None:
        """One alarm for each task (parking left out) driven longer than ``task_alarm_s``: a stuck robot
        shows to the operator, with what it waits for, even while every order still leaves in time."""
        running: set[str] = set()
        for robot in self.robots.values():
            task = robot.task
            if task is None or task.kind == "park":
                continue
            running.add(task.task_id)
            if now - task.started_at < self.task_alarm_s or task.task_id in self._overdue:
                continue
            self._overdue.add(task.task_id)
            v = self._task_view(robot, task, now)
            waits = f", waiting for {v['waiting_for']}" if v["waiting_for"] else ""
            other = self.robots.get(v["blocker"]) if isinstance(v["blocker"], str) else None
            if other is not None:
                waits += f" held by {self._doing(other)}" + self._behind(robot)
            aside = self.robots.get(task.aside_for) if task.asides else None
            last = f", the last for {self._doing(aside)}" if aside is not None else ""
            self.events.alarm(
                "warning",
                "tasks",
                f"{task.kind} task {task.task_id} on {robot.serial} running {v['age_s']:.0f} s: "
                f"at {robot.node} ({robot.status}) bound for {task.final_node}, "
                f"{v['nodes_left']} nodes left, {task.asides} steps aside{last}{waits}",
            )
        self._overdue &= running

    def _behind(self, robot: RobotView, links: int = 5) -> str:
        """What the robot's blocker waits for in turn, and so on along the chain (at most ``links``)."""
        traffic = self.maps[robot.kind].traffic
        if traffic is None:
            return ""
        chain = traffic.cells.chain(robot.serial)[1:]
        told = [
            f", which waits for {traffic.cells.waiting[a].cell} held by {self._doing(self.robots[b])}"
            for a, b in itertools.pairwise(chain[: links + 1])
        ]
        return "".join(told) + (", …" if len(chain) > links + 1 else "")

    def _doing(self, robot: RobotView) -> str:
        """The robot, what it does and where it is, for an alarm."""
        doing = f"{robot.task.kind} task {robot.task.task_id}" if robot.task else "no task"
        return f"{robot.serial} ({robot.status}, {doing}, at {robot.node})"

    def _ready(self, robot: RobotView) -> bool:
        """Idle, online, on its map and not paused: the moment it becomes so, the controller hears of it."""
        return robot.status == "idle" and robot.node in self.maps[robot.kind].pos

    def needs_charge(self, robot: RobotView) -> bool:
        """An idle robot on its map whose battery is below the threshold."""
        low = self.classes[robot.kind].low_battery_pct
        on_map = robot.node in self.maps[robot.kind].pos
        return robot.status == "idle" and on_map and not self.paused and robot.battery < low

    def idle(self, kind: str) -> list[RobotView]:
        """Robots of ``kind`` ready for a task."""
        if self.paused:
            return []
        low = self.classes[kind].low_battery_pct
        pos = self.maps[kind].pos
        return [
            r
            for r in self.of_kind(kind)
            # a robot with a task other than parking is not idle: asked first, as status costs more
            if (r.task is None or r.task.kind == "park")
            and r.status == "idle"
            and r.battery >= low
            and r.node in pos
        ]

    def send_to_charger(self, robot: RobotView) -> bool:
        """Send a robot to a free charging spot of its map; False if all are taken."""
        fmap = self.maps[robot.kind]
        taken = {r.charger for r in self.robots.values() if r.charger} | {
            r.task.final_node for r in self.robots.values() if r.task is not None and r.task.kind == "charge"
        }
        if fmap.traffic is not None:
            taken |= {c for c in fmap.chargers if fmap.traffic.cells.holders(c) - {robot.serial}}
        free = [c for c in fmap.chargers if c not in taken]
        if not free:
            return False
        spot = min(free, key=lambda c: fmap.distance(robot.node, c))
        self._seq += 1
        self.send(robot, f"CHG-{robot.serial}-{self._seq}", "charge", [robot.node, spot], {})
        return True

    def send(
        self,
        robot: RobotView,
        task_id: str,
        kind: str,
        stops: list[str],
        actions: dict[int, list[tuple[str, dict[str, str | int | float]]]],
        payload: object = None,
        alternatives: Sequence[str] = (),
    ) -> float:
        """Send a task as one VDA 5050 order through ``stops`` (actions by stop index); return metres.

        A robot on its way to park takes the task on from the end of its base, as an update of that order.
        ``alternatives``: other nodes where the last stop's actions may be done, should traffic block it
        (`TrafficControl._retarget`).
        """
        fmap = self.maps[robot.kind]
        parking = robot.task if robot.task is not None and robot.task.kind == "park" else None
        if parking is not None:
            stops = [parking.path[parking.base_end], *stops[1:]]
        path: list[str] = [stops[0]]
        stop_at: dict[int, int] = {0: 0}
        for i, (a, b) in enumerate(zip(stops, stops[1:], strict=False), start=1):
            path += fmap.path(a, b)[1:]
            stop_at[i] = len(path) - 1
        others = [c for c in alternatives if c != path[-1]]
        by_index: dict[int, list[Action]] = {}
        action_ids: set[str] = set()
        for stop, acts in actions.items():  # by position: a node may occur twice on one path
            for n, (atype, params) in enumerate(acts):
                aid = f"{task_id}-{stop}-{n}"
                action_ids.add(aid)
                by_index.setdefault(stop_at[stop], []).append(make_action(atype, aid, params))
        if parking is None:
            self._seq += 1  # a re-queued task goes out under a new orderId: VDA 5050 orders are never reused
            order_id = f"{task_id}.{self._seq}"
            task = robot.task = ActiveTask(
                task_id,
                kind,
                order_id,
                path[-1],
                action_ids,
                payload,
                path,
                by_index,
                started_at=self.clock.now(),
                alternatives=others,
            )
            self._release(robot, task, 0, self._window_end(robot, task, 0))
        else:
            start = parking.base_end
            task = robot.task = ActiveTask(
                task_id,
                kind,
                parking.order_id,
                path[-1],
                action_ids,
                payload,
                parking.path[:start] + path,
                {start + i: acts for i, acts in by_index.items()},
                base_end=start,
                update_id=parking.update_id + 1,
                reached=parking.reached,
                started_at=self.clock.now(),
                alternatives=others,
            )
            self._release(robot, task, start, self._window_end(robot, task, start))
        self.events.robot_changed(robot)
        self._unstick(robot)
        return sum(fmap.distance(a, b) for a, b in zip(stops, stops[1:], strict=False))

    def _release(self, robot: RobotView, task: ActiveTask, start: int, end: int) -> None:
        """Send the order (``start`` = 0) or an update from the last base node, with base up to ``end``.

        The rest of the path (or its next ``horizon_nodes``) travels as horizon, so the robot knows where it
        is heading but stops at the end of the base until the master releases more (as far as traffic
        control lets it).
        """
        task.base_end = end
        task.release_start = start
        task.last_message, task.sent_at = self._order_message(robot, task, start), self.clock.now()
        if task.to_store():
            task.storing(PLAN_AHEAD_NODES)
            self.events.task_released(robot, task)
        self.bus.publish(vda(robot.manufacturer, robot.serial, "order"), task.last_message)

    def _order_message(self, robot: RobotView, task: ActiveTask, start: int) -> bytes:
        """The order (``start`` = 0) or update from ``start`` up to the task's base end, plus horizon."""
        fmap = self.maps[robot.kind]
        base = task.base_end - start + 1
        nodes = (
            task.path[start:]
            if self.horizon_nodes is None
            else task.path[start : start + base + self.horizon_nodes]
        )
        if robot.factsheet is not None and robot.factsheet.max_nodes is not None:  # less horizon, then
            nodes = nodes[: max(robot.factsheet.max_nodes, base)]
        # an update's first node is the previous base end, whose actions went out before
        first = 0 if start == 0 else 1
        return order_json(
            manufacturer=robot.manufacturer,
            serial=robot.serial,
            order_id=task.order_id,
            order_update_id=task.update_id,
            path=[(n, *fmap.pos[n]) for n in nodes],
            actions_at={
                i - start: acts for i, acts in task.actions.items() if start + first <= i < start + len(nodes)
            },
            released=task.base_end - start + 1,
            start_sequence_id=2 * start,
            header_id=robot.headers.next("order"),
            now=self.clock.now(),
        )

    def _extend_base(self, robot: RobotView, st: StateDict) -> tuple[ActiveTask, list[str], int] | None:
        """Note how far the robot got along its task's path and release more of it if due.

        Returns the task, its path and base end as its cells were held by the state, before the release.
        """
        task = robot.task
        if task is None or st["orderId"] != task.order_id:
            return None
        task.reached = self._reached(robot, task, st)
        self._sync_cells(robot, st)  # what it passed is free before it asks for more
        synced = (task, task.path, task.base_end)
        self._extend(robot, task)
        return synced

    def _extend(self, robot: RobotView, task: ActiveTask, resolve: bool = True) -> None:
        """Release more of the path once the robot is within half a window of the end of its base."""
        if task.base_end >= len(task.path) - 1 or not self._due(robot, task):
            return
        end = self._window_end(robot, task, task.base_end)
        if end > task.base_end:
            task.update_id += 1
            self._release(robot, task, task.base_end, end)
        if resolve:
            self._unstick(robot)

    def _instant(self, robot: RobotView, *action_types: str) -> None:
        """One instantActions message with these actions, in this order."""
        self._seq += 1
        topic = vda(robot.manufacturer, robot.serial, "instantActions")
        msg = instant_actions(
            manufacturer=robot.manufacturer,
            serial=robot.serial,
            actions=[instant_action(t, f"{t}-{self._seq}") for t in action_types],
            header_id=robot.headers.next("instantActions"),
            now=self.clock.now(),
        )
        self.bus.publish(topic, msg)

    def estop(self) -> None:
        """Emergency stop: pause every robot (and any that comes online while it holds)."""
        for robot in self.robots.values():
            if not self.paused:  # a second stop while one holds finds robots paused by the first
                robot.paused_by_hand = robot.paused and robot.online
            robot.unpausing = False
            if robot.online:
                self._pause(robot, "startPause")
        self.paused = True

    def resume(self) -> None:
        """Lift the emergency stop (a robot that was paused by hand before it stays paused)."""
        self.paused = False
        for robot in self.robots.values():
            if robot.paused_by_hand:
                continue
            robot.unpausing = True  # one offline now is told when it is back, if it reports paused
            if robot.online:
                self._pause(robot, "stopPause")
                if robot.task is None:
                    self.events.robot_free(robot)

    def _pause(self, robot: RobotView, action: str) -> None:
        robot.pause_asked_at = self.clock.now()
        self._instant(robot, action)

    def _hold_estop(self, robot: RobotView) -> None:
        """Instant actions go at QoS 0: a robot whose state disagrees with the e-stop is told again.

        While the stop holds, every robot must report itself paused, one that reconnects included. Once
        lifted, only the robots it paused are unpaused again: a robot paused by hand stays paused.
        """
        if not robot.paused:
            robot.unpausing = False
        if self.clock.now() - robot.pause_asked_at < self.resend_after_s:
            return
        if self.paused and not robot.paused:
            self.resent += 1
            self._pause(robot, "startPause")
        elif robot.unpausing:
            self.resent += 1
            self._pause(robot, "stopPause")
