"""``wms bench fleet``: the VDA 5050 master (FleetManager) under N robots publishing state at H Hz over MQTT.

The master is the real `FleetManager` on its own `MqttBus` and its own `WallClock` loop thread, as in a
shift. Its `FleetEvents` keep every robot busy: when a task ends (``robot_free``) it sends the next one, so
each periodic state answers with a command: an order update releasing more base (``_extend_base``) or,
at the end of a task, a new order. Robots are emulated by load processes (``multiprocessing``, so they do
not share the master's GIL): each runs many robot identities on a few paho clients driven by one selector
loop (TCP_NODELAY on their sockets). A robot jumps to the end of its released base at each periodic state
and, on every order it receives, publishes an event-driven state (order accepted) that asks for nothing.

State-to-command latency is measured inside the load process on one clock: from publishing the first
periodic state that asks for a command to receiving that command. Reported: messages per second handled
by the master, latency p50/p99/max, CPU of the master process (and of the load processes and the embedded
broker), states and commands dropped (sent − handled), and for a sweep over N the first N whose p99
exceeds 50 ms, with a plot of p99 against N.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import multiprocessing as mp
import os
import random
import resource
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel
from pydantic_core import from_json, to_json
from rich.table import Table

from wms.bus.base import Handler
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import BufferedSocket, LoopClient, MqttBus, parse_mqtt_url
from wms.clock import WallClock, iso, quiet_gc, quiet_gc_while
from wms.config import RobotClass
from wms.control.fleet import ActiveTask, FleetManager, FleetMap, RobotView
from wms.robots.vda5050 import VERSION
from wms.topics import vda, vda_parse

KIND = "bench"
MAP_ID = "site"  # the map the FleetManager's orders name
P99_LIMIT_MS = 50.0  # the sweep reports the first N whose p99 exceeds this
TARGET = {"robots": 1000, "hz": 5.0, "p99_ms": 20.0, "dropped": 0}
GRID = 10  # the bench floor: GRID × GRID nodes, 1 m apart
BURST = 50  # an emulator publishes at most this many due states before it reads and writes its sockets
PROBE_LOOPS = 100_000  # the host probe's loop: about 5 ms of one core here
DRAIN_S = 60.0  # at most this long for the master to handle what is queued after the last state


# ----------------------------------------------------------------------------- the floor


def grid_map(size: int = GRID) -> FleetMap:
    """A square grid of nodes ``G{row}-{col}`` 1 m apart; paths go along x first, then along y."""
    pos = {f"G{r}-{c}": (float(c), float(r)) for r in range(size) for c in range(size)}

    def rc(node: str) -> tuple[int, int]:
        r, c = node[1:].split("-")
        return int(r), int(c)

    @functools.lru_cache(maxsize=size**4)  # a static map: every path is planned once
    def planned(a: str, b: str) -> tuple[str, ...]:
        (r0, c0), (r1, c1) = rc(a), rc(b)
        step_c = 1 if c1 >= c0 else -1
        step_r = 1 if r1 >= r0 else -1
        out = [f"G{r0}-{c}" for c in range(c0, c1 + step_c, step_c)]
        out += [f"G{r}-{c1}" for r in range(r0 + step_r, r1 + step_r, step_r)]
        return tuple(out)

    def path(a: str, b: str) -> list[str]:
        return list(planned(a, b))  # each caller its own list, as `Layout.path` gives

    def distance(a: str, b: str) -> float:
        (r0, c0), (r1, c1) = rc(a), rc(b)
        return float(abs(r1 - r0) + abs(c1 - c0))

    return FleetMap(pos=pos, chargers=[], path=path, distance=distance)


# ----------------------------------------------------------------------------- the master


class MeteredBus:
    """A `Bus` around an `MqttBus` that counts messages by VDA 5050 topic kind and times the handlers."""

    def __init__(self, inner: MqttBus) -> None:
        self.inner = inner
        self.client_id = inner.client_id
        self.handled: dict[str, int] = {}
        self.published: dict[str, int] = {}
        self.recording = False
        self.handler_s: list[float] = []

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any] | BaseModel,
        qos: int = 0,
        retain: bool = False,
    ) -> None:
        """Publish through the inner bus and count it."""
        kind = topic.rsplit("/", 1)[-1]
        self.published[kind] = self.published.get(kind, 0) + 1
        self.inner.publish(topic, payload, qos, retain)

    def subscribe(self, pattern: str, handler: Handler, qos: int = 0) -> None:
        """Subscribe with a handler that is counted and timed."""
        kind = pattern.rsplit("/", 1)[-1]

        def metered(topic: str, data: bytes) -> None:
            t0 = time.perf_counter()
            handler(topic, data)
            if self.recording:
                self.handler_s.append(time.perf_counter() - t0)
            self.handled[kind] = self.handled.get(kind, 0) + 1

        self.inner.subscribe(pattern, metered, qos)

    def close(self) -> None:
        """Close the inner bus."""
        self.inner.close()


class BenchMaster:
    """FleetEvents of the bench: every robot that becomes free gets the next task at once."""

    def __init__(
        self, bus: MeteredBus, clock: WallClock, manufacturer: str, release_nodes: int, seed: int
    ) -> None:
        self.clock = clock
        self.fmap = grid_map()
        self.nodes = sorted(self.fmap.pos)
        self.rng = random.Random(seed)
        cls = RobotClass(
            count=0,
            speed_mps=1.0,
            battery_drain_pct_per_h=0.0,
            charge_pct_per_min=1.0,
            low_battery_pct=5.0,
            charged_pct=90.0,
            charging_spots=1,
            action_s=1.0,
        )
        self.fleet = FleetManager(
            bus,
            clock,
            {KIND: self.fmap},
            {KIND: cls},
            self,
            30.0,
            [manufacturer],
            release_nodes=release_nodes,
        )
        self.tasks_sent = 0
        self.tasks_done = 0
        self.failed: list[str] = []
        self.alarms: list[str] = []
        self.alarm_count = 0

    def start(self) -> None:
        """Listen to robots (call on the clock's loop) and assign work to idle ones every 0.1 s."""
        self.fleet.start()
        self._dispatch()
        self._timeouts()

    def _dispatch(self) -> None:
        for robot in self.fleet.idle(KIND):
            self._assign(robot)
        self.clock.call_later(0.1, self._dispatch)

    def _timeouts(self) -> None:
        self.fleet.check_timeouts()
        self.clock.call_later(1.0, self._timeouts)

    def _assign(self, robot: RobotView) -> None:
        target = robot.node
        while target == robot.node:
            target = self.rng.choice(self.nodes)
        self.tasks_sent += 1
        task_id = f"T{self.tasks_sent}"
        self.fleet.send(
            robot, task_id, "move", [robot.node, target], {1: [("drop", {"loadId": f"L{task_id}"})]}
        )

    def task_done(self, robot: RobotView, task: ActiveTask) -> None:
        """Count it; `robot_free` follows and sends the next task."""
        self.tasks_done += 1

    def task_failed(self, robot: RobotView, task: ActiveTask, reason: str) -> None:
        """Keep the reason (a bench run should have none)."""
        self.failed.append(f"{robot.serial} {task.task_id}: {reason}")

    def robot_free(self, robot: RobotView) -> None:
        """Send the next task right away: this is the command answering the state just handled."""
        if robot.node in self.fmap.pos:
            self._assign(robot)

    def robot_changed(self, robot: RobotView) -> None:
        """Nothing is persisted in the bench."""

    def task_released(self, robot: RobotView, task: ActiveTask) -> None:
        """Nothing is persisted in the bench."""

    def alarm(self, severity: str, source: str, message: str) -> None:
        """Count alarms; keep the first few."""
        self.alarm_count += 1
        if len(self.alarms) < 5:
            self.alarms.append(f"{severity} {source}: {message}")


# ----------------------------------------------------------------------------- the load processes


@dataclass
class LoadSpec:
    """What one load process runs: which robots, how fast, through how many clients."""

    url: str
    manufacturer: str
    serials: list[str]
    starts: list[tuple[str, float, float]]
    phases: list[float]  # seconds after the start at which each robot's first periodic state is due
    hz: float
    per_client: int
    events: bool
    name: str


@dataclass
class _Node:
    """A node of the order an emulated robot drives."""

    node_id: str
    seq: int
    released: bool
    x: float
    y: float
    actions: list[tuple[str, str]]  # (actionId, actionType)


@dataclass
class _Robot:
    """One emulated robot: where it is, its order, and the state awaiting the master's command."""

    serial: str
    client: LoopClient
    node: str
    x: float
    y: float
    state_topic: str
    seq_at: int = 0  # sequenceId of lastNodeId
    header: int = -1  # last state headerId
    conn_header: int = -1  # last connection headerId
    order_id: str = ""
    update_id: int = 0
    route: list[_Node] = field(default_factory=list)
    edges: list[tuple[str, int, bool]] = field(default_factory=list)
    actions: dict[str, tuple[str, str]] = field(default_factory=dict)  # actionId -> (type, status)
    instant: list[dict[str, str]] = field(default_factory=list)
    pending: float | None = None  # perf_counter time of the first periodic state still awaiting a command
    body: bytes | None = None  # the state's JSON after headerId and timestamp; None when it must be rebuilt


class LoadGenerator:
    """Many emulated VDA 5050 robots on a few paho clients driven by one selector loop (no paho threads)."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.host, self.port, self.user, self.password, self.tls = parse_mqtt_url(spec.url)
        self.sel = selectors.DefaultSelector()
        self.clients: list[LoopClient] = []
        self.robots: dict[str, _Robot] = {}
        self.subscribed = 0
        self.sent_periodic = 0
        self.sent_event = 0
        self.commands = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.window = (math.inf, math.inf)  # perf_counter interval whose states are measured
        self._misc_at = 0.0
        self._dirty: set[LoopClient] = set()

    # -- connection

    def connect(self, timeout: float = 60.0) -> None:
        """Connect all clients, subscribe every robot's order and instantActions, announce ONLINE."""
        s = self.spec
        for i in range(0, len(s.serials), s.per_client):
            client = LoopClient(  # reads its socket in chunks, writes in one send per poll
                CallbackAPIVersion.VERSION2,
                client_id=f"{s.name}-c{i // s.per_client}",
                protocol=paho.MQTTv311,
                clean_session=True,
            )
            if self.user:
                client.username_pw_set(self.user, self.password)
            if self.tls:
                client.tls_set()
            serials = s.serials[i : i + s.per_client]
            for serial, (node, x, y) in zip(serials, s.starts[i : i + s.per_client], strict=True):
                topic = vda(s.manufacturer, serial, "state")
                self.robots[serial] = _Robot(serial, client, node, x, y, topic)
            client.user_data_set(serials)
            client.on_connect = self._on_connect
            client.on_subscribe = self._on_subscribe
            client.on_message = self._on_message
            client.connect(self.host, self.port, keepalive=60)
            sock = client.socket()
            assert isinstance(sock, BufferedSocket)
            with contextlib.suppress(OSError, AttributeError):
                sock.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.on_output = functools.partial(self._dirty.add, client)
            self.sel.register(sock, selectors.EVENT_READ, client)
            self.clients.append(client)
        deadline = time.monotonic() + timeout
        while self.subscribed < len(self.clients):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{s.name}: {self.subscribed}/{len(self.clients)} clients subscribed")
            self.poll(0.05)
        for robot in self.robots.values():
            topic = vda(s.manufacturer, robot.serial, "connection")
            self.publish(robot, topic, self._connection(robot, "ONLINE"), qos=1, retain=True)
        self.poll(0.0)

    def _on_connect(
        self, client: paho.Client, serials: list[str], flags: Any, reason: Any, props: Any
    ) -> None:
        m = self.spec.manufacturer
        topics = [(vda(m, s, kind), 0) for s in serials for kind in ("order", "instantActions")]
        client.subscribe(topics)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self.subscribed += 1

    def _connection(self, robot: _Robot, state: str) -> bytes:
        robot.conn_header += 1
        msg = {
            "headerId": robot.conn_header,
            "timestamp": iso(time.time()),
            "version": VERSION,
            "manufacturer": self.spec.manufacturer,
            "serialNumber": robot.serial,
            "connectionState": state,
        }
        return to_json(msg)

    def poll(self, timeout: float) -> None:
        """Read what the sockets have, write what is queued, keep the connections alive."""
        dirty = self._dirty
        for key, _ in self.sel.select(timeout):
            client = key.data
            client.loop_read()
            sock = client.socket()
            while isinstance(sock, BufferedSocket) and sock.pending():  # the rest of the chunk it read
                client.loop_read()
                sock = client.socket()
            if client.want_write():  # what its callbacks published is queued, not yet written
                dirty.add(client)
        now = time.monotonic()
        if now >= self._misc_at:
            self._misc_at = now + 1.0
            for client in self.clients:
                client.loop_misc()
                if client.want_write():
                    dirty.add(client)
        for client in list(dirty):
            client.loop_write()
            sock = client.socket()
            if (not isinstance(sock, BufferedSocket) or sock.flush()) and not client.want_write():
                dirty.discard(client)

    def publish(self, robot: _Robot, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> Any:
        """Publish (written to the socket buffer, sent at the next poll); QoS 1 goes through paho."""
        if qos == 0 and robot.client.publish_now(topic, payload, retain):
            return None
        info = robot.client.publish(topic, payload, qos=qos, retain=retain)
        if robot.client.want_write():
            self._dirty.add(robot.client)
        return info

    # -- robots

    def state(self, robot: _Robot) -> bytes:
        """A schema-valid VDA 5050 2.0 state of the robot as it is now.

        Only headerId and timestamp change from one state to the next while the robot stands still, so the
        rest is serialised once per change of order or position and reused.
        """
        robot.header += 1
        if robot.body is None:
            body = {
                "version": VERSION,
                "manufacturer": self.spec.manufacturer,
                "serialNumber": robot.serial,
                "orderId": robot.order_id,
                "orderUpdateId": robot.update_id,
                "lastNodeId": robot.node,
                "lastNodeSequenceId": robot.seq_at,
                "driving": False,
                "paused": False,
                "operatingMode": "AUTOMATIC",
                "nodeStates": [
                    {"nodeId": n.node_id, "sequenceId": n.seq, "released": n.released} for n in robot.route
                ],
                "edgeStates": [{"edgeId": e, "sequenceId": q, "released": r} for e, q, r in robot.edges],
                "agvPosition": {
                    "x": robot.x,
                    "y": robot.y,
                    "theta": 0.0,
                    "mapId": MAP_ID,
                    "positionInitialized": True,
                },
                "actionStates": [
                    {"actionId": a, "actionType": t, "actionStatus": st}
                    for a, (t, st) in robot.actions.items()
                ]
                + robot.instant,
                "batteryState": {"batteryCharge": 100.0, "charging": False},
                "errors": [],
                "safetyState": {"eStop": "NONE", "fieldViolation": False},
            }
            robot.body = to_json(body)[1:]  # without the opening brace
        return b'{"headerId":%d,"timestamp":"%s",%s' % (robot.header, iso(time.time()).encode(), robot.body)

    def advance(self, robot: _Robot) -> bool:
        """Jump to the end of the released base; True if the robot holds an order (so it awaits a command)."""
        while robot.route and robot.route[0].released:
            robot.body = None
            node = robot.route.pop(0)
            robot.node, robot.seq_at, robot.x, robot.y = node.node_id, node.seq, node.x, node.y
            for aid, atype in node.actions:
                robot.actions[aid] = (atype, "FINISHED")
        while robot.edges and robot.edges[0][2]:
            robot.edges.pop(0)
        return bool(robot.order_id)

    def periodic(self, robot: _Robot) -> None:
        """The robot's periodic state (it has driven its base); it asks the master for a command."""
        asks = self.advance(robot)
        payload = self.state(robot)
        if asks and robot.pending is None:
            robot.pending = time.perf_counter()
        self.publish(robot, robot.state_topic, payload)
        self.sent_periodic += 1

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        parsed = vda_parse(msg.topic)
        robot = self.robots.get(parsed[1]) if parsed else None
        if robot is None or parsed is None:
            return
        self.commands += 1
        if robot.pending is not None:
            if self.window[0] <= robot.pending <= self.window[1]:
                self.latencies.append(now - robot.pending)
            robot.pending = None
        data = from_json(msg.payload)
        if parsed[2] == "order":
            self._order(robot, data)
        else:
            robot.instant = [
                {"actionId": a["actionId"], "actionType": a.get("actionType", ""), "actionStatus": "FINISHED"}
                for a in data.get("actions", [])
            ][-5:]
            robot.body = None
        if self.spec.events and self.window[0] < math.inf and now <= self.window[1]:
            self.publish(robot, robot.state_topic, self.state(robot))
            self.sent_event += 1

    def _order(self, robot: _Robot, order: dict[str, Any]) -> None:
        nodes = [
            _Node(
                n["nodeId"],
                n["sequenceId"],
                n["released"],
                n["nodePosition"]["x"],
                n["nodePosition"]["y"],
                [(a["actionId"], a["actionType"]) for a in n["actions"]],
            )
            for n in order["nodes"]
        ]
        edges = [(e["edgeId"], e["sequenceId"], e["released"]) for e in order["edges"]]
        first = nodes[0]
        if order["orderId"] != robot.order_id:
            robot.order_id = order["orderId"]
            robot.actions = {}
            robot.route, robot.edges = nodes[1:], edges
            robot.node, robot.seq_at, robot.x, robot.y = first.node_id, first.seq, first.x, first.y
        else:  # an update: keep the base up to the stitch node, replace the rest
            robot.route = [n for n in robot.route if n.released and n.seq < first.seq] + nodes[1:]
            robot.edges = [e for e in robot.edges if e[2] and e[1] < first.seq] + edges
        robot.update_id = order["orderUpdateId"]
        robot.body = None
        for node in nodes:
            if node.released:
                for aid, atype in node.actions:
                    robot.actions.setdefault(aid, (atype, "WAITING"))

    # -- the run

    def run(self, t_start: float, duration: float, warmup: float) -> dict[str, Any]:
        """Publish periodic states from ``t_start`` (perf_counter) for ``duration`` s; the counts sent."""
        period = 1.0 / self.spec.hz
        order = sorted(zip(self.spec.phases, self.robots.values(), strict=True), key=lambda pr: pr[0])
        due = [t_start + phase for phase, _ in order]
        robots = [r for _, r in order]
        t_end = t_start + duration
        self.window = (t_start + warmup, t_end)
        cpu0: float | None = None
        i, n = 0, len(robots)
        while True:
            now = time.perf_counter()
            if cpu0 is None and now >= self.window[0]:
                cpu0 = _cpu()
            if now >= t_end:
                break
            burst = 0
            while due[i] <= now and burst < BURST:  # then read the commands that came meanwhile
                if due[i] >= self.window[0]:
                    self.lags.append(now - due[i])
                self.periodic(robots[i])
                due[i] += period
                i = (i + 1) % n
                burst += 1
            self.poll(max(0.0, min(due[i] - time.perf_counter(), 0.005)))
        cpu1 = _cpu()
        return {
            "states_periodic": self.sent_periodic,
            "states_event": self.sent_event,
            "cpu_s": cpu1 - (cpu0 if cpu0 is not None else cpu1),
        }

    def report(self) -> dict[str, Any]:
        """What arrived by now: commands, latencies of the measured states, states still unanswered."""
        return {
            "commands_received": self.commands,
            "unanswered": sum(r.pending is not None for r in self.robots.values()),
            "latencies_s": self.latencies,
            "lag_p99_s": _quantile(self.lags, 0.99),
        }

    def close(self) -> None:
        """Clear the retained connection messages (say OFFLINE, then nothing) and disconnect."""
        infos = []
        for robot in self.robots.values():
            topic = vda(self.spec.manufacturer, robot.serial, "connection")
            infos.append(self.publish(robot, topic, self._connection(robot, "OFFLINE"), qos=1, retain=True))
            infos.append(self.publish(robot, topic, b"", qos=1, retain=True))
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not all(i.is_published() for i in infos):
            self.poll(0.01)
        for client in self.clients:
            client.disconnect()
            with contextlib.suppress(Exception):
                client.loop_write()


def _cpu() -> float:
    """CPU seconds (user + system) of this process, all threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def host_probe_ms(repeat: int = 5, loops: int = PROBE_LOOPS) -> float:
    """Milliseconds a fixed pure-Python loop takes on this host now (median of ``repeat``).

    A shared machine's speed drifts (a third either way within minutes was seen here): a run's latency
    is read beside how fast the host ran around it. Higher is slower.
    """
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        total = 0
        for i in range(loops):
            total += i * i
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def load_main(spec: LoadSpec, conn: Connection) -> None:
    """Entry point of a load process: connect, say ready, run on ``go``, report, clean up on ``bye``."""
    gen = LoadGenerator(spec)
    try:
        gen.connect()
        conn.send(("ready", len(gen.clients)))
        msg = None
        while msg is None:
            gen.poll(0.01)
            if conn.poll():
                msg = conn.recv()
        _, t_start_wall, duration, warmup = msg
        t_start = time.perf_counter() + (t_start_wall - time.time())
        # The emulator's garbage is acyclic (reference counting frees it), but its order objects live long
        # enough to reach the old generation, whose full passes (50-90 ms, seen) would stall every robot
        # at once and count as the master's latency: no collections while it measures.
        quiet_gc()
        gc.disable()
        try:
            sent = gen.run(t_start, duration, warmup)
        finally:
            gc.enable()
        conn.send(("sent", sent))
        for expected in ("final", "bye"):  # keep receiving (commands still on their way) until asked
            while not conn.poll():
                gen.poll(0.01)
            tag = conn.recv()[0]
            if tag != expected:
                raise RuntimeError(f"parent sent {tag!r}, expected {expected!r}")
            if tag == "final":
                conn.send(("result", gen.report()))
        gen.close()
    except Exception as exc:  # report, do not hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


# ----------------------------------------------------------------------------- one run, a sweep


@dataclass
class FleetBenchOptions:
    """Parameters of one run."""

    robots: int
    hz: float
    duration_s: float = 10.0
    warmup_s: float = 2.0
    mqtt_url: str | None = None
    per_client: int = 50  # 1 is the real pattern, but leaves one load process lagging at 1,000 robots
    procs: int = 1
    events: bool = True
    release_nodes: int = 6
    seed: int = 1


def _broker_cpu_s(broker: EmbeddedBroker | None) -> float | None:
    """CPU seconds of the embedded mosquitto child (psutil), or None when unknown."""
    if broker is None:
        return None
    try:
        import psutil
    except ImportError:
        return None
    total = None
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.name() == "mosquitto":
                t = child.cpu_times()
                total = (total or 0.0) + t.user + t.system
    return total


def _start_load(
    opts: FleetBenchOptions, url: str, manufacturer: str, nodes: list[str], fmap: FleetMap
) -> list[tuple[Any, Connection]]:
    """Start the load processes (spawned: no thread of this process is copied), robots dealt round-robin."""
    ctx = mp.get_context("spawn")
    period = 1.0 / opts.hz
    procs: list[tuple[Any, Connection]] = []
    n_procs = max(1, min(opts.procs, opts.robots))
    for p in range(n_procs):
        idx = list(range(p, opts.robots, n_procs))
        spec = LoadSpec(
            url=url,
            manufacturer=manufacturer,
            serials=[f"bench-{i:05d}" for i in idx],
            starts=[(n, *fmap.pos[n]) for n in (nodes[i % len(nodes)] for i in idx)],
            phases=[period * i / opts.robots for i in idx],  # evenly spread over one period
            hz=opts.hz,
            per_client=opts.per_client,
            events=opts.events,
            name=f"{manufacturer}-load{p}",
        )
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=load_main, args=(spec, child), name=f"fleet-load-{p}", daemon=True)
        proc.start()
        procs.append((proc, parent))
    return procs


def _stop_load(procs: list[tuple[Any, Connection]]) -> None:
    """Tell the load processes to clear their retained messages and leave; terminate stragglers."""
    for _, conn in procs:
        with contextlib.suppress(OSError):
            conn.send(("bye",))
    for proc, _ in procs:
        proc.join(15.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(5.0)


def run_fleet(opts: FleetBenchOptions, log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """One run: broker (embedded Mosquitto unless ``mqtt_url``), master, load processes; the figures."""
    if opts.robots < 1 or opts.hz <= 0 or opts.duration_s <= opts.warmup_s or opts.per_client < 1:
        raise ValueError("need robots >= 1, hz > 0, duration > warmup and per_client >= 1")
    loadavg = os.getloadavg()[0]
    probe_before = host_probe_ms()
    manufacturer = f"wmsbench{os.getpid()}x{random.randrange(10**6)}"
    clock = WallClock()
    broker: EmbeddedBroker | None = None
    bus: MeteredBus | None = None
    loop: threading.Thread | None = None
    procs: list[tuple[Any, Connection]] = []
    quiet = contextlib.ExitStack()  # the collector as the run found it, for whoever called it (a test, say)
    try:
        if opts.mqtt_url is None:
            broker = EmbeddedBroker(prefer="mosquitto").start()
        url = opts.mqtt_url or broker.url  # type: ignore[union-attr]
        bus = MeteredBus(MqttBus(url, f"{manufacturer}-master", clock))
        master = BenchMaster(bus, clock, manufacturer, opts.release_nodes, opts.seed)
        clock.on_error = lambda exc: master.alarm("error", "bench", f"handler failed: {exc!r}")
        for i in range(opts.robots):
            master.fleet.expect(f"bench-{i:05d}", KIND)
        loop = threading.Thread(target=clock.run, name="fleet-master", daemon=True)
        clock.call_soon_threadsafe(master.start)
        loop.start()
        procs = _start_load(opts, url, manufacturer, master.nodes, master.fmap)
        clients = sum(_expect(conn, "ready", 120.0) for _, conn in procs)
        log(f"{opts.robots} robots on {clients} clients in {len(procs)} load process(es), broker {url}")
        if not _wait_until(lambda: len(master.fleet.robots) >= opts.robots, 30.0):
            raise TimeoutError(f"the master saw {len(master.fleet.robots)} of {opts.robots} robots connect")
        quiet.enter_context(quiet_gc_while())
        t_start = time.time() + 0.5
        for _, conn in procs:
            conn.send(("go", t_start, opts.duration_s, opts.warmup_s))
        _sleep_until(t_start + opts.warmup_s)
        before = (_cpu(), _broker_cpu_s(broker), bus.handled.get("state", 0))
        bus.recording = True
        _sleep_until(t_start + opts.duration_s)
        after = (_cpu(), _broker_cpu_s(broker), bus.handled.get("state", 0))
        bus.recording = False
        sent_counts = [_expect(conn, "sent", 60.0) for _, conn in procs]
        sent = sum(r["states_periodic"] + r["states_event"] for r in sent_counts)
        metered = bus
        _drain(lambda: metered.handled.get("state", 0), sent)  # the master works off its backlog
        _drain(lambda: metered.published.get("order", 0), None)  # and sends its last commands
        time.sleep(0.5)  # which travel to the robots
        for _, conn in procs:
            conn.send(("final",))
        results = [
            {**c, **_expect(conn, "result", 60.0)} for c, (_, conn) in zip(sent_counts, procs, strict=True)
        ]
        run = _figures(opts, master, bus, results, before, after)
        kind = f"{broker.kind} (embedded, set_tcp_nodelay true)" if broker else "external"
        run.update(broker=kind, url=url, clients=clients, load_procs=len(procs), loadavg_1m_before=loadavg)
        run["host_probe_ms"] = {"before": round(probe_before, 2), "after": round(host_probe_ms(), 2)}
        return run
    finally:
        clock.stop()
        if loop is not None:
            loop.join(5.0)
        if bus is not None:
            bus.close()
        _stop_load(procs)
        if broker is not None:
            broker.stop()
        quiet.close()


def _figures(
    opts: FleetBenchOptions,
    master: BenchMaster,
    bus: MeteredBus,
    results: list[dict[str, Any]],
    before: tuple[float, float | None, int],
    after: tuple[float, float | None, int],
) -> dict[str, Any]:
    """The figures of one run from the master's counters and the load processes' reports."""
    measured = opts.duration_s - opts.warmup_s
    latencies = sorted(x for r in results for x in r["latencies_s"])
    sent = sum(r["states_periodic"] + r["states_event"] for r in results)
    handled = bus.handled.get("state", 0)
    commands_sent = bus.published.get("order", 0) + bus.published.get("instantActions", 0)
    commands_received = sum(r["commands_received"] for r in results)
    lags = [r["lag_p99_s"] for r in results if r["lag_p99_s"] is not None]
    (cpu0, brk0, handled0), (cpu1, brk1, handled1) = before, after
    p99 = _ms(_quantile(latencies, 0.99))
    return {
        "robots": opts.robots,
        "hz": opts.hz,
        "duration_s": opts.duration_s,
        "warmup_s": opts.warmup_s,
        "per_client": opts.per_client,
        "event_states": opts.events,
        "release_nodes": opts.release_nodes,
        "states_sent": sent,
        "states_periodic": sum(r["states_periodic"] for r in results),
        "states_event": sum(r["states_event"] for r in results),
        "handled": handled,
        "dropped": sent - handled,
        "handled_per_s": (handled1 - handled0) / measured,
        "offered_state_per_s": opts.robots * opts.hz,
        "commands_sent": commands_sent,
        "commands_received": commands_received,
        "commands_dropped": commands_sent - commands_received,
        "unanswered": sum(r["unanswered"] for r in results),
        "latency_ms": {
            "n": len(latencies),
            "p50": _ms(_quantile(latencies, 0.50)),
            "p90": _ms(_quantile(latencies, 0.90)),
            "p99": p99,
            "max": _ms(latencies[-1] if latencies else None),
        },
        "master_cpu_pct": 100.0 * (cpu1 - cpu0) / measured,
        "master_cpu_us_per_state": 1e6 * (cpu1 - cpu0) / max(handled1 - handled0, 1),
        "master_handler_us": {
            "p50": _us(_quantile(bus.handler_s, 0.50)),
            "p99": _us(_quantile(bus.handler_s, 0.99)),
            "busy_pct": 100.0 * sum(bus.handler_s) / measured,
        },
        "load_cpu_pct": 100.0 * sum(r["cpu_s"] for r in results) / measured,
        "broker_cpu_pct": None if brk0 is None or brk1 is None else 100.0 * (brk1 - brk0) / measured,
        "generator_lag_p99_ms": _ms(max(lags) if lags else None),
        "tasks_sent": master.tasks_sent,
        "tasks_done": master.tasks_done,
        "tasks_failed": len(master.failed),
        "rejected": master.fleet.rejected,
        "alarms": master.alarm_count,
        "alarm_samples": master.alarms + master.failed[:5],
        "meets_target_p99_20ms_no_drop": p99 is not None
        and p99 <= TARGET["p99_ms"]
        and sent == handled
        and commands_sent == commands_received,
    }


def _expect(conn: Connection, what: str, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"load process sent no {what!r} within {timeout:g} s")
    tag, value = conn.recv()
    if tag == "error":
        raise RuntimeError(f"load process failed: {value}")
    if tag != what:
        raise RuntimeError(f"load process sent {tag!r}, expected {what!r}")
    return value


def _wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _drain(count: Callable[[], int], target: int | None, still_s: float = 2.0) -> None:
    """Wait until ``count()`` reaches ``target`` or stops growing for ``still_s`` (at most `DRAIN_S`).

    Lost messages never arrive: without the stall rule the master would sit until its robots time out.
    """
    deadline = time.monotonic() + DRAIN_S
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline and (target is None or last < target):
        time.sleep(0.1)
        now, value = time.monotonic(), count()
        if value != last:
            last, since = value, now
        elif now - since >= (still_s if target is not None else 0.5):
            return


def _sleep_until(wall: float) -> None:
    while (left := wall - time.time()) > 0:
        time.sleep(min(left, 0.5))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e6, 1)


def run_bench(
    opts: FleetBenchOptions, sweep: list[int] | None = None, log: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """One run, or one per N of ``sweep``, with the first N whose p99 exceeds 50 ms."""
    runs = []
    for n in sweep or [opts.robots]:
        one = FleetBenchOptions(**{**asdict(opts), "robots": n})
        log(f"run: {n} robots × {opts.hz:g} Hz for {opts.duration_s:g} s")
        runs.append(run_fleet(one, log))
    over = [
        r["robots"] for r in runs if r["latency_ms"]["p99"] is None or r["latency_ms"]["p99"] > P99_LIMIT_MS
    ]
    return {
        "bench": "fleet",
        "broker": runs[0]["broker"],
        "url": opts.mqtt_url or "embedded",
        "hz": opts.hz,
        "target": TARGET,
        "p99_limit_ms": P99_LIMIT_MS,
        "first_n_p99_over_limit": min(over) if sweep and over else None,
        "host": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
        "runs": runs,
    }


# ----------------------------------------------------------------------------- output


def render(result: dict[str, Any]) -> Table:
    """A Rich table of the runs: rates per second, latency in ms, CPU in % of one core."""
    table = Table(title=f"FleetManager over MQTT, state → command ({result['broker']}, {result['url']})")
    for col in ("N", "Hz", "clients", "offered/s", "handled/s", "drop", "cmd lost", "p50", "p99", "max"):
        table.add_column(col, justify="right")
    for col in ("master", "load", "broker", "gen lag"):
        table.add_column(col, justify="right")
    for r in result["runs"]:
        lat = r["latency_ms"]
        table.add_row(
            f"{r['robots']:,}",
            f"{r['hz']:g}",
            f"{r['clients']:,}",
            f"{r['offered_state_per_s']:,.0f}",
            f"{r['handled_per_s']:,.0f}",
            f"{r['dropped']:,}",
            f"{r['commands_dropped']:,}",
            _fmt(lat["p50"]),
            _fmt(lat["p99"]),
            _fmt(lat["max"]),
            f"{r['master_cpu_pct']:.0f}%",
            f"{r['load_cpu_pct']:.0f}%",
            "–" if r["broker_cpu_pct"] is None else f"{r['broker_cpu_pct']:.0f}%",
            _fmt(r["generator_lag_p99_ms"]),
        )
    notes = [
        "latency and generator lag (p99) in ms; CPU in % of one core; offered = periodic states only",
        "host load average (1 min) before each run: "
        + ", ".join(f"{r['loadavg_1m_before']:.1f}" for r in result["runs"]),
        "host probe (ms for a fixed Python loop, higher = slower host) before/after each run: "
        + ", ".join(
            f"{p['before']:.1f}/{p['after']:.1f}" for r in result["runs"] if (p := r.get("host_probe_ms"))
        ),
    ]
    if len(result["runs"]) > 1:
        over = result["first_n_p99_over_limit"]
        notes.append(
            f"first N with p99 > {P99_LIMIT_MS:g} ms: {over if over is not None else 'none in the sweep'}"
        )
    t = TARGET
    notes.append(
        f"target: {t['robots']} robots × {t['hz']:g} Hz on Mosquitto, p99 ≤ {t['p99_ms']:g} ms, 0 dropped"
    )
    table.caption = "\n".join(notes)
    return table


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def plot(result: dict[str, Any], path: Path) -> None:
    """p50 and p99 against N as a PNG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in result["runs"] if r["latency_ms"]["p99"] is not None]
    ns = [r["robots"] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ns, [r["latency_ms"]["p99"] for r in runs], "o-", label="p99")
    ax.plot(ns, [r["latency_ms"]["p50"] for r in runs], "s--", label="p50")
    ax.axhline(P99_LIMIT_MS, color="red", linestyle=":", label=f"{P99_LIMIT_MS:g} ms")
    ax.axhline(TARGET["p99_ms"], color="orange", linestyle=":", label=f"target {TARGET['p99_ms']:g} ms")
    ax.set_xlabel(f"robots (state at {result['hz']:g} Hz each)")
    ax.set_ylabel("state → command latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"FleetManager over MQTT: {result['broker']} ({result['url']})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_json(result: dict[str, Any], path: Path) -> None:
    """The result as indented JSON."""
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
