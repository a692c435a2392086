"""One simulated AGV/AMR speaking VDA 5050 2.0 over a `Bus`: it drives orders node by node in clock time.

The vehicle drives released (base) nodes only, one edge after another, taking distance/speed seconds per
edge, runs node actions one at a time, and reports state on every event and at least every
``state_period_s``. Pause, stall and FATAL errors freeze whatever is in progress (the remaining time is
kept, so resuming continues where it stopped); charging is HARD-blocking, so nothing new starts while it
lasts. The battery drains only while driving; one found empty at the start of an edge is a FATAL
``batteryEmpty`` error until charging lifts it above zero.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from wms.bus.base import Bus, Will, encode
from wms.clock import Clock, Timer
from wms.robots.vda5050 import (
    ActionStatus,
    AgvAction,
    AgvActionParameter,
    AgvGeometry,
    Connection,
    ConnectionState,
    Envelope2d,
    Error,
    ErrorLevel,
    ErrorReference,
    Factsheet,
    HeaderCounter,
    InstantAction,
    LoadSet,
    LoadSpecification,
    OrderDict,
    PhysicalParameters,
    PolygonPoint,
    ProtocolFeatures,
    ProtocolLimits,
    Timing,
    TypeSpecification,
    VdaError,
    make_header,
    parse_instant_actions,
    read_order,
)
from wms.topics import vda

log = logging.getLogger(__name__)

POSITION_TOLERANCE_M = 0.5  # a new order must start at the vehicle's node or this close to it
MAX_ERRORS = 20  # oldest errors are dropped beyond this, so a flood of bad messages cannot grow state
_ORDER_ERRORS = frozenset({"orderUpdateError", "validationError", "noOrderToCancel"})
_INSTANT_TYPES = (
    "cancelOrder",
    "startPause",
    "stopPause",
    "stateRequest",
    "factsheetRequest",
    "startCharging",
    "stopCharging",
)


# The Nodes, Edges and Actions of an order as `read_order` gives them: wire form, checked.
NodeDict = dict[str, Any]
EdgeDict = dict[str, Any]
ActionDict = dict[str, Any]


def _plain(**fields: Any) -> dict[str, Any]:
    """A VDA 5050 object in wire form: the fields given, those that are None left out."""
    return {k: v for k, v in fields.items() if v is not None}


def _param(action: ActionDict, key: str, default: Any = None) -> Any:
    """Value of the action's parameter ``key``, or ``default``."""
    for p in action.get("actionParameters") or ():
        if p["key"] == key:
            return p["value"]
    return default


@dataclass
class _Activity:
    """A timed piece of work (driving an edge or running an action) that can be frozen and resumed."""

    kind: Literal["edge", "action"]
    total: float
    remaining: float
    on_done: Callable[[], None]
    start: tuple[float, float] = (0.0, 0.0)
    end: tuple[float, float] = (0.0, 0.0)
    resumed_at: float = 0.0
    timer: Timer | None = None

    def fraction(self, now: float) -> float:
        """Share of the work done at ``now`` (1.0 for zero-length work)."""
        if self.total <= 0:
            return 1.0
        left = self.remaining - (now - self.resumed_at if self.timer is not None else 0.0)
        return min(max(1.0 - left / self.total, 0.0), 1.0)


class RobotSim:
    """A simulated vehicle; it knows the controller only through VDA 5050 messages on the bus."""

    def __init__(
        self,
        bus_factory: Callable[[Will], Bus],
        clock: Clock,
        manufacturer: str,
        serial: str,
        *,
        speed_mps: float,
        start: tuple[str, float, float],
        battery_pct: float = 100.0,
        drain_pct_per_h: float = 10.0,
        charge_pct_per_min: float = 1.0,
        action_s: float = 2.0,
        state_period_s: float = 30.0,
        kind: str = "picking",
    ) -> None:
        if speed_mps <= 0:
            raise ValueError(f"speed_mps must be > 0, got {speed_mps}")
        if not 0 <= battery_pct <= 100:
            raise ValueError(f"battery_pct must be within 0..100, got {battery_pct}")
        if state_period_s <= 0 or action_s < 0 or drain_pct_per_h < 0 or charge_pct_per_min <= 0:
            raise ValueError("state_period_s and charge_pct_per_min must be > 0, action_s and drain >= 0")
        self._bus_factory = bus_factory
        self.clock = clock
        self.manufacturer = manufacturer
        self.serial = serial
        self.kind = kind
        self.speed_mps = speed_mps
        self.drain_pct_per_h = drain_pct_per_h
        self.charge_pct_per_min = charge_pct_per_min
        self.action_s = action_s
        self.state_period_s = state_period_s
        self._counter = HeaderCounter()
        self._bus: Bus | None = None
        self._booted = False
        self.running = False
        node_id, x, y = start
        self._x, self._y, self._theta, self._map_id = float(x), float(y), 0.0, "site"
        self.last_node_id, self.last_node_seq = node_id, 0
        self.battery = float(battery_pct)
        self._battery_t = clock.now()
        self.driving = False
        self.paused = False
        self.charging = False
        self._stall_until = -math.inf
        self._errors: list[Error] = []
        self._loads: list[dict[str, Any]] = []  # the Loads on the deck, in wire form
        self.orders_done = 0
        self.orders_cancelled = 0
        self.orders_refused = 0
        self._last_done_order = ""
        self._timers: dict[str, Timer] = {}
        self._clear_order()
        self.order_id, self.order_update_id = "", 0

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Connect with a last will, subscribe, announce ONLINE and publish factsheet and state.

        Starting again after `stop` or `crash` is a reboot: the vehicle keeps its place but has no order.
        """
        if self.running:
            return
        if self._booted:
            self._reboot()
        self._booted = True
        will = Will(
            self._topic("connection"), encode(self._connection("CONNECTIONBROKEN")), qos=1, retain=True
        )
        self._bus = self._bus_factory(will)
        self.running = True
        self._battery_t = self.clock.now()
        self._bus.subscribe(self._topic("order"), self._on_order)
        self._bus.subscribe(self._topic("instantActions"), self._on_instant_actions)
        self._send("connection", self._connection("ONLINE"), qos=1, retain=True)
        self._send("factsheet", self.factsheet())
        self._publish_state()

    def stop(self) -> None:
        """Say OFFLINE (QoS 1, retained) and disconnect cleanly."""
        if not self.running or self._bus is None:
            return
        self._integrate()
        self._send("connection", self._connection("OFFLINE"), qos=1, retain=True)
        self._power_off()
        self._bus.close()
        self._bus = None

    def crash(self) -> None:
        """Fault: the vehicle vanishes without OFFLINE, so the broker publishes its CONNECTIONBROKEN will."""
        if not self.running or self._bus is None:
            return
        self._integrate()
        self._power_off()
        crash = getattr(self._bus, "crash", None)
        if crash is None:
            raise RuntimeError(f"bus {type(self._bus).__name__} cannot crash")
        crash()
        self._bus = None

    def _power_off(self) -> None:
        self._freeze()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.running = False
        self.driving = False

    def _reboot(self) -> None:
        self._x, self._y = self.position()
        self._clear_order()
        self.order_id, self.order_update_id = "", 0
        self.paused = self.charging = False
        self._stall_until = -math.inf
        self._errors = []

    def _clear_order(self) -> None:
        self._nodes: list[NodeDict] = []
        self._edges: list[EdgeDict] = []
        self._queue: list[ActionDict] = []
        self._activity: _Activity | None = None
        self._cancel_ids: list[str] = []
        self._actions: dict[str, dict[str, Any]] = {}  # actionId -> its ActionState, in wire form
        self.order_active = False

    # ----------------------------------------------------------------- fault injection

    def stall(self, seconds: float) -> None:
        """Fault: stop moving for ``seconds`` (an obstacle in the protective field) but keep reporting."""
        if not self.running:
            return
        self._integrate()
        self._stall_until = max(self._stall_until, self.clock.now() + seconds)
        self._set_timer("stall", self._stall_until - self.clock.now(), self._on_timer)
        self._advance()
        self._publish_state()

    def raise_error(
        self,
        level: ErrorLevel = "FATAL",
        description: str = "simulated fault",
        error_type: str = "simulatedError",
    ) -> None:
        """Fault: report an error; a FATAL one stops the vehicle until `clear_errors`."""
        if not self.running:
            return
        self._integrate()
        self._add_error(error_type, level, description)
        self._advance()
        self._publish_state()

    def clear_errors(self) -> None:
        """Resolve all errors (an operator fixed the vehicle); it resumes if nothing else holds it."""
        if not self.running:
            return
        self._integrate()
        self._errors = []
        self._advance()
        self._publish_state()

    # ----------------------------------------------------------------- observation

    def position(self) -> tuple[float, float]:
        """Current (x, y), interpolated along the edge being driven."""
        act = self._activity
        if act is None or act.kind != "edge":
            return self._x, self._y
        f = act.fraction(self.clock.now())
        return act.start[0] + (act.end[0] - act.start[0]) * f, act.start[1] + (act.end[1] - act.start[1]) * f

    def summary(self) -> dict[str, object]:
        """Plain facts for tests and logs."""
        if self.running:
            self._integrate()
        x, y = self.position()
        return {
            "serial": self.serial,
            "kind": self.kind,
            "running": self.running,
            "position": (round(x, 6), round(y, 6)),
            "lastNodeId": self.last_node_id,
            "orderId": self.order_id,
            "orderUpdateId": self.order_update_id,
            "orderActive": self.order_active,
            "driving": self.driving,
            "paused": self.paused,
            "charging": self.charging,
            "battery": round(self.battery, 6),
            "ordersDone": self.orders_done,
            "ordersCancelled": self.orders_cancelled,
            "loads": [ld.get("loadId") for ld in self._loads],
            "errors": [e.errorType for e in self._errors],
        }

    # ----------------------------------------------------------------- messages out

    def _topic(self, kind: str) -> str:
        return vda(self.manufacturer, self.serial, kind)

    def _header(self, kind: str) -> dict[str, object]:
        return make_header(self._counter, kind, self.manufacturer, self.serial, self.clock.now())

    def _send(
        self, kind: str, msg: Connection | Factsheet | dict[str, Any], qos: int = 0, retain: bool = False
    ) -> None:
        if self._bus is not None:
            self._bus.publish(self._topic(kind), msg, qos=qos, retain=retain)

    def _connection(self, state: ConnectionState) -> Connection:
        return Connection(**self._header("connection"), connectionState=state)

    def factsheet(self) -> Factsheet:
        """What this vehicle is and can do (consumes a factsheet headerId)."""
        small = self.kind == "sorting"
        length, width = (0.6, 0.5) if small else (1.2, 0.8)
        loadid = [AgvActionParameter(key="loadId", valueDataType="STRING", isOptional=True)]
        return Factsheet(
            **self._header("factsheet"),
            typeSpecification=TypeSpecification(
                seriesName=f"wmssim-{self.kind}",
                seriesDescription=f"simulated {self.kind} robot",
                agvKinematic="DIFF",
                agvClass="CARRIER",
                maxLoadMass=30.0 if small else 150.0,
                localizationTypes=["NATURAL"],
                navigationTypes=["AUTONOMOUS"],
            ),
            physicalParameters=PhysicalParameters(
                speedMin=0.0,
                speedMax=self.speed_mps,
                accelerationMax=1.0,
                decelerationMax=1.0,
                heightMax=0.4 if small else 1.8,
                width=width,
                length=length,
            ),
            protocolLimits=ProtocolLimits(
                timing=Timing(
                    minOrderInterval=0.1, minStateInterval=0.1, defaultStateInterval=self.state_period_s
                )
            ),
            protocolFeatures=ProtocolFeatures(
                optionalParameters=[],
                agvActions=[
                    AgvAction(actionType="pick", actionScopes=["NODE"], actionParameters=loadid),
                    AgvAction(actionType="drop", actionScopes=["NODE"], actionParameters=loadid),
                    *(AgvAction(actionType=t, actionScopes=["INSTANT"]) for t in _INSTANT_TYPES),
                ],
            ),
            agvGeometry=AgvGeometry(
                envelopes2d=[
                    Envelope2d(
                        set="default",
                        polygonPoints=[
                            PolygonPoint(x=sx * length / 2, y=sy * width / 2)
                            for sx, sy in ((1, 1), (1, -1), (-1, -1), (-1, 1))
                        ],
                    )
                ]
            ),
            loadSpecification=LoadSpecification(
                loadPositions=["deck"],
                loadSets=[LoadSet(setName="tote", loadType="tote", loadPositions=["deck"], maxWeigth=30.0)],
            ),
        )

    def _build_state(self) -> dict[str, Any]:
        """The state message as a plain dict: the wire form of `State`, fields in its order, no nulls.

        Simulated robots publish thousands of states a second; building the pydantic objects only to
        serialise them again cost more than the rest of the message. `State.model_validate` of the
        result gives back the same JSON (``tests/robots/test_robot_sim.py`` holds it to that).
        """
        x, y = self.position()
        waiting_for_base = (
            self.order_active and self._activity is None and not self._queue and bool(self._edges)
        )
        state = self._header("state")
        state.update(
            orderId=self.order_id,
            orderUpdateId=self.order_update_id,
            lastNodeId=self.last_node_id,
            lastNodeSequenceId=self.last_node_seq,
            driving=self.driving,
            paused=self.paused,
            newBaseRequest=waiting_for_base and not self._edges[0]["released"],
            operatingMode="AUTOMATIC",
            nodeStates=[
                {"nodeId": n["nodeId"], "sequenceId": n["sequenceId"], "released": n["released"]}
                for n in self._nodes
            ],
            edgeStates=[
                {"edgeId": e["edgeId"], "sequenceId": e["sequenceId"], "released": e["released"]}
                for e in self._edges
            ],
            agvPosition={
                "x": float(x),
                "y": float(y),
                "theta": float(self._theta),
                "mapId": self._map_id,
                "positionInitialized": True,
                "localizationScore": 1.0,
            },
            velocity={"vx": float(self._speed_now()), "vy": 0.0, "omega": 0.0},
            loads=list(self._loads),
            actionStates=list(self._actions.values()),
            batteryState={"batteryCharge": float(round(self.battery, 3)), "charging": self.charging},
            errors=[e.model_dump(exclude_none=True) for e in self._errors],
            safetyState={"eStop": "NONE", "fieldViolation": self._stalled()},
        )
        return state

    def _speed_now(self) -> float:
        act = self._activity
        if not self.driving or act is None or act.total <= 0:
            return 0.0
        return math.dist(act.start, act.end) / act.total

    def _publish_state(self) -> None:
        """Publish state now and make sure the next one follows within ``state_period_s``."""
        if not self.running:
            return
        self._send("state", self._build_state())
        self._set_timer("state", self.state_period_s, self._on_timer)

    def _set_timer(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        self._timers[name] = self.clock.call_later(max(delay, 0.0), fn)

    def _on_timer(self) -> None:
        """Periodic state, end of a stall: catch up on the battery, resume if possible, report."""
        if not self.running:
            return
        self._integrate()
        self._advance()
        self._publish_state()

    # ----------------------------------------------------------------- errors and action states

    def _add_error(self, error_type: str, level: ErrorLevel, description: str, **refs: str) -> None:
        references = [ErrorReference(referenceKey=k, referenceValue=v) for k, v in refs.items()] or None
        self._errors.append(
            Error(
                errorType=error_type,
                errorLevel=level,
                errorDescription=description,
                errorReferences=references,
            )
        )
        del self._errors[:-MAX_ERRORS]
        log.info("%s: %s %s: %s", self.serial, level, error_type, description)

    def _set_action(self, action: ActionDict, status: ActionStatus, result: str | None = None) -> None:
        """Record the state of an order action (or of an instant action in the same wire form)."""
        self._actions[action["actionId"]] = _plain(
            actionId=action["actionId"],
            actionType=action["actionType"],
            actionDescription=action.get("actionDescription"),
            actionStatus=status,
            resultDescription=result,
        )

    def _set_instant(self, action: InstantAction, status: ActionStatus, result: str | None = None) -> None:
        """Record the state of an instant action."""
        self._set_action(
            {
                "actionId": action.actionId,
                "actionType": action.actionType,
                "actionDescription": action.actionDescription,
            },
            status,
            result,
        )

    def _fatal(self) -> bool:
        return any(e.errorLevel == "FATAL" for e in self._errors)

    def _stalled(self) -> bool:
        return self.clock.now() < self._stall_until

    # ----------------------------------------------------------------- battery

    def _integrate(self) -> None:
        """Bring the battery up to now: drain while driving, charge while charging."""
        now = self.clock.now()
        dt = max(now - self._battery_t, 0.0)
        self._battery_t = now
        if self.charging:
            self.battery = min(100.0, self.battery + self.charge_pct_per_min * dt / 60.0)
        elif self.driving:
            self.battery = max(0.0, self.battery - self.drain_pct_per_h * dt / 3600.0)

    def _charged(self) -> None:
        if not self.running:
            return
        self._integrate()
        self._timers.pop("charge", None)
        self.battery = 100.0
        self.charging = False
        self._advance()
        self._publish_state()

    # ----------------------------------------------------------------- execution

    def _blocked(self) -> bool:
        return not self.running or self.paused or self.charging or self._stalled() or self._fatal()

    def _freeze(self) -> None:
        act = self._activity
        if act is not None and act.timer is not None:
            act.timer.cancel()
            act.timer = None
            act.remaining = max(act.remaining - (self.clock.now() - act.resumed_at), 0.0)
        self.driving = False

    def _run_activity(self) -> None:
        act = self._activity
        if act is None or act.timer is not None:
            return
        act.resumed_at = self.clock.now()
        act.timer = self.clock.call_later(act.remaining, self._activity_done)
        self.driving = act.kind == "edge"

    def _activity_done(self) -> None:
        self._integrate()
        act = self._activity
        if act is None:
            return
        self._activity = None
        self.driving = False
        act.on_done()
        self._advance()
        self._publish_state()

    def _advance(self) -> None:
        """Start or resume whatever comes next, unless something holds the vehicle; never publishes."""
        if self.battery > 0:
            self._errors = [e for e in self._errors if e.errorType != "batteryEmpty"]
        if self._activity is None and self._cancel_ids:
            self._finish_cancel()  # standing still: a cancel completes even while paused or charging
        if self._blocked():
            self._freeze()
            return
        if self._activity is not None:
            self._run_activity()
            return
        if self._queue:
            self._start_action(self._queue.pop(0))
        elif self.order_active and self._edges and self._edges[0]["released"]:
            if self.battery <= 0:
                self._add_error("batteryEmpty", "FATAL", "battery is empty; charge before driving on")
                return
            self._start_edge(self._edges[0], self._nodes[0])
        elif self.order_active and not self._nodes:
            self.order_active = False
            if self.order_id != self._last_done_order:
                self._last_done_order = self.order_id
                self.orders_done += 1
            log.info("%s: order %s done at %s", self.serial, self.order_id, self.last_node_id)

    def _start_action(self, action: ActionDict) -> None:
        self._set_action(action, "RUNNING")
        duration = _param(action, "duration", self.action_s)
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            duration = self.action_s
        self._activity = _Activity(
            "action", float(duration), float(duration), lambda: self._finish_action(action)
        )
        self._run_activity()

    def _finish_action(self, action: ActionDict) -> None:
        load_id = _param(action, "loadId")
        load_id = str(load_id) if load_id is not None else None
        if action["actionType"] == "pick":
            load_type = _param(action, "loadType")
            load_type = str(load_type) if load_type is not None else None
            self._loads.append(_plain(loadId=load_id, loadType=load_type, loadPosition="deck"))
        elif action["actionType"] == "drop" and self._loads:
            match = [ld for ld in self._loads if load_id is not None and ld.get("loadId") == load_id]
            if match:
                self._loads.remove(match[0])
            else:  # no load named: the whole deck is unloaded (a picking cart at its pack station)
                self._loads.clear()
        self._set_action(action, "FINISHED")

    def _start_edge(self, edge: EdgeDict, node: NodeDict) -> None:
        pos = node["nodePosition"]  # present: checked when the order was accepted
        start, end = (self._x, self._y), (pos["x"], pos["y"])
        dist = math.dist(start, end)
        max_speed = edge.get("maxSpeed")
        speed = min(self.speed_mps, max_speed) if max_speed and max_speed > 0 else self.speed_mps
        if dist > 0:
            self._theta = math.atan2(end[1] - start[1], end[0] - start[0])
        for action in edge["actions"]:
            self._set_action(action, "RUNNING")
        t = dist / speed
        self._activity = _Activity("edge", t, t, lambda: self._arrive(edge, node), start=start, end=end)
        self._run_activity()

    def _arrive(self, edge: EdgeDict, node: NodeDict) -> None:
        for action in edge["actions"]:
            self._set_action(action, "FINISHED")
        self._edges.pop(0)
        self._reach(self._nodes.pop(0))

    def _reach(self, node: NodeDict) -> None:
        pos = node.get("nodePosition")
        if pos is not None:
            self._x, self._y, self._map_id = pos["x"], pos["y"], pos["mapId"]
        self.last_node_id, self.last_node_seq = node["nodeId"], node["sequenceId"]
        self._queue.extend(node["actions"])
        log.debug("%s: at %s (seq %d)", self.serial, node["nodeId"], node["sequenceId"])

    def _finish_cancel(self) -> None:
        for state in list(self._actions.values()):
            if state["actionStatus"] in ("WAITING", "RUNNING") and state["actionId"] not in self._cancel_ids:
                self._actions[state["actionId"]] = {**state, "actionStatus": "FAILED"}
        for action_id in self._cancel_ids:
            self._actions[action_id] = {**self._actions[action_id], "actionStatus": "FINISHED"}
        self._cancel_ids = []
        self._nodes, self._edges, self._queue = [], [], []
        self.order_active = False
        self.orders_cancelled += 1
        log.info("%s: order %s cancelled at %s", self.serial, self.order_id, self.last_node_id)

    # ----------------------------------------------------------------- orders in

    def _on_order(self, topic: str, data: bytes) -> None:
        if not self.running:
            return
        self._integrate()
        try:
            order = read_order(data)
        except VdaError as exc:
            self._add_error("validationError", "WARNING", str(exc), topic=topic)
            self._publish_state()
            return
        order_id, update_id = order["orderId"], order["orderUpdateId"]
        same_order = bool(self.order_id) and order_id == self.order_id
        problem = self._check_order(order)
        if same_order and update_id <= self.order_update_id:
            log.debug("%s: ignoring stale update %s/%d", self.serial, order_id, update_id)
        elif problem is not None:
            self._reject(order, "validationError", problem)
        elif self._cancel_ids:
            self._reject(order, "orderUpdateError", f"order {self.order_id} is being cancelled")
        elif same_order and not self._cancelled_order():
            self._update_order(order)
        elif self.order_active:
            self._reject(order, "orderUpdateError", f"order {self.order_id} is still running")
        else:
            self._new_order(order)

    def _cancelled_order(self) -> bool:
        """Whether the current orderId was cancelled (it cannot be continued by an update)."""
        return not self.order_active and self._last_done_order != self.order_id

    def _reject(self, order: OrderDict, error_type: str, problem: str) -> None:
        self.orders_refused += 1
        order_id, update_id = order["orderId"], order["orderUpdateId"]
        self._add_error(
            error_type,
            "WARNING",
            f"order {order_id}/{update_id} rejected: {problem}",
            orderId=order_id,
            orderUpdateId=str(update_id),
        )
        self._publish_state()

    def _check_order(self, order: OrderDict) -> str | None:
        """What makes an order unusable for this vehicle, or None."""
        if order["manufacturer"] != self.manufacturer or order["serialNumber"] != self.serial:
            return f"addressed to {order['manufacturer']}/{order['serialNumber']}"
        nodes, edges = order["nodes"], order["edges"]
        if not nodes:
            return "no nodes"
        if len(edges) != len(nodes) - 1:
            return f"{len(nodes)} nodes need {len(nodes) - 1} edges, got {len(edges)}"
        first_seq = nodes[0]["sequenceId"]
        if first_seq % 2:
            return f"node sequenceIds must be even, got {first_seq}"
        if not nodes[0]["released"]:
            return "the first node is not released"
        for i, node in enumerate(nodes):
            node_id, seq, expected = node["nodeId"], node["sequenceId"], first_seq + 2 * i
            if seq != expected:
                return f"node {node_id} has sequenceId {seq}, expected {expected}"
            if node.get("nodePosition") is None:
                return f"node {node_id} has no nodePosition"
            if i and node["released"] and not nodes[i - 1]["released"]:
                return f"released node {node_id} follows a horizon node"
        for i, edge in enumerate(edges):
            a, b = nodes[i], nodes[i + 1]
            edge_id, seq, released = edge["edgeId"], edge["sequenceId"], edge["released"]
            if seq != a["sequenceId"] + 1:
                return f"edge {edge_id} has sequenceId {seq}, expected {a['sequenceId'] + 1}"
            if (edge["startNodeId"], edge["endNodeId"]) != (a["nodeId"], b["nodeId"]):
                return f"edge {edge_id} does not join {a['nodeId']} to {b['nodeId']}"
            if released != b["released"]:
                return f"edge {edge_id} released={released} but its end node released={b['released']}"
        ids = [a["actionId"] for item in [*nodes, *edges] for a in item["actions"]]
        if len(set(ids)) != len(ids):
            return "actionIds repeat"
        return None

    def _new_order(self, order: OrderDict) -> None:
        first_id, pos = order["nodes"][0]["nodeId"], order["nodes"][0]["nodePosition"]
        x, y = self.position()
        if first_id != self.last_node_id and math.hypot(pos["x"] - x, pos["y"] - y) > POSITION_TOLERANCE_M:
            self._reject(order, "validationError", f"first node {first_id} is not where the vehicle is")
            return
        self._drop_order_errors()
        self._clear_order()
        self.order_id, self.order_update_id = order["orderId"], order["orderUpdateId"]
        self.order_active = True
        self._nodes, self._edges = list(order["nodes"]), list(order["edges"])
        self._register_actions(self._nodes, self._edges)
        log.info("%s: order %s accepted (%d nodes)", self.serial, self.order_id, len(order["nodes"]))
        self._reach(self._nodes.pop(0))
        self._advance()
        # one state for the order received and the first node taken: VDA 5050 asks for one state update,
        # not several, where events go together
        self._publish_state()

    def _update_order(self, order: OrderDict) -> None:
        """Stitch an update onto the base: its first node must be the current last base node."""
        base = [n for n in self._nodes if n["released"]]
        if base:
            stitch_id, stitch_seq = base[-1]["nodeId"], base[-1]["sequenceId"]
        else:
            stitch_id, stitch_seq = self.last_node_id, self.last_node_seq
        nodes, edges = order["nodes"], order["edges"]
        first_id, first_seq = nodes[0]["nodeId"], nodes[0]["sequenceId"]
        if (first_id, first_seq) != (stitch_id, stitch_seq):
            self._reject(
                order,
                "orderUpdateError",
                f"update starts at {first_id}/{first_seq}, base ends at {stitch_id}/{stitch_seq}",
            )
            return
        self._drop_order_errors()
        self._nodes = base + nodes[1:]
        self._edges = [e for e in self._edges if e["released"]] + edges
        self._register_actions(nodes[1:], edges)
        self.order_update_id = order["orderUpdateId"]
        self.order_active = True
        log.info("%s: order %s updated to %d", self.serial, self.order_id, self.order_update_id)
        self._advance()
        self._publish_state()

    def _register_actions(self, nodes: list[NodeDict], edges: list[EdgeDict]) -> None:
        """Report the actions of released nodes and edges as WAITING (horizon ones come with the update)."""
        for item in [*nodes, *edges]:
            if item["released"]:
                for action in item["actions"]:
                    self._set_action(action, "WAITING")

    def _drop_order_errors(self) -> None:
        self._errors = [e for e in self._errors if e.errorType not in _ORDER_ERRORS]

    # ----------------------------------------------------------------- instant actions in

    def _on_instant_actions(self, topic: str, data: bytes) -> None:
        if not self.running:
            return
        self._integrate()
        try:
            msg = parse_instant_actions(data)
        except VdaError as exc:
            self._add_error("validationError", "WARNING", str(exc), topic=topic)
            self._publish_state()
            return
        if msg.manufacturer != self.manufacturer or msg.serialNumber != self.serial:
            self._add_error(
                "validationError",
                "WARNING",
                f"instantActions addressed to {msg.manufacturer}/{msg.serialNumber}",
            )
            self._publish_state()
            return
        handlers: dict[str, Callable[[InstantAction], None]] = {
            "cancelOrder": self._cancel_order,
            "startPause": self._start_pause,
            "stopPause": self._stop_pause,
            "stateRequest": lambda a: self._set_instant(a, "FINISHED"),
            "factsheetRequest": self._factsheet_request,
            "startCharging": self._start_charging,
            "stopCharging": self._stop_charging,
        }
        for action in msg.actions:
            handler = handlers.get(action.actionType)
            if handler is None:
                self._set_instant(action, "FAILED", "not supported")
                self._add_error(
                    "validationError", "WARNING", f"instant action {action.actionType} not supported"
                )
            else:
                handler(action)
        self._advance()
        self._publish_state()

    def _cancel_order(self, action: InstantAction) -> None:
        if not self.order_active:
            self._set_instant(action, "FAILED", "no order to cancel")
            self._add_error("noOrderToCancel", "WARNING", "cancelOrder without an active order")
            return
        self._set_instant(action, "RUNNING")
        self._cancel_ids.append(action.actionId)
        # Stop at the next node: what has not been started yet is dropped right away.
        self._queue = []
        self._nodes = self._nodes[:1] if self._activity is not None and self._activity.kind == "edge" else []
        self._edges = self._edges[:1] if self._nodes else []

    def _start_pause(self, action: InstantAction) -> None:
        self.paused = True
        self._set_instant(action, "FINISHED")

    def _stop_pause(self, action: InstantAction) -> None:
        self.paused = False
        self._set_instant(action, "FINISHED")

    def _factsheet_request(self, action: InstantAction) -> None:
        self._send("factsheet", self.factsheet())
        self._set_instant(action, "FINISHED")

    def _start_charging(self, action: InstantAction) -> None:
        if self._activity is not None:
            self._set_instant(action, "FAILED", "vehicle is busy (driving or running an action)")
            return
        if self.battery < 100.0:
            self.charging = True
            self._freeze()
            minutes = (100.0 - self.battery) / self.charge_pct_per_min
            self._set_timer("charge", minutes * 60.0, self._charged)
        self._set_instant(action, "FINISHED")

    def _stop_charging(self, action: InstantAction) -> None:
        if self.charging:
            self.charging = False
            timer = self._timers.pop("charge", None)
            if timer is not None:
                timer.cancel()
        self._set_instant(action, "FINISHED")
