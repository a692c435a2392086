"""The real FleetManager drives a vehicle it did not write: vda-5050-lib's virtual AGV (npm, MIT), over MQTT.

The Node package is installed once into a cache outside the repository (``$WMS_INTEROP_CACHE`` or
``~/.cache/wms-interop``, keyed by the hash of ``interop/package.json``); the test skips, saying why, when
node or npm is missing or the install fails. Every message the foreign vehicle publishes is checked against
the official VDA 5050 2.0.0 schemas in ``shared/vda5050`` (found upwards from this file).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from jsonschema.validators import validator_for
from paho.mqtt.enums import CallbackAPIVersion

from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import MqttBus, parse_mqtt_url
from wms.clock import WallClock
from wms.config import RobotClass
from wms.control.fleet import ActiveTask, FleetManager, FleetMap, RobotView
from wms.topics import vda_parse

HERE = Path(__file__).resolve().parent
INTEROP = HERE / "interop"
MANUFACTURER = "coatyvirtual"
SERIAL = "vagv-001"
KIND = "interop"
TIME_LAPSE = 10  # the virtual AGV drives and acts ten times faster than real time
AGV_KINDS = ("state", "connection", "visualization", "factsheet")
SCHEMA_FILES = {
    "state": "state.schema",
    "connection": "connection.schema",
    "visualization": "visualization.schema",
    "factsheet": "factsheet.json",
    "order": "order.schema",
    "instantActions": "instantActions.schema",
}
# An L-shaped corridor; the virtual AGV starts on N0 (its initial position is given on its command line).
NODES: dict[str, tuple[float, float]] = {
    "N0": (0.0, 0.0),
    "N1": (1.0, 0.0),
    "N2": (2.0, 0.0),
    "N3": (3.0, 0.0),
    "N4": (3.0, 1.0),
    "N5": (3.0, 2.0),
}
CHAIN = list(NODES)


def _vda_schema_dir() -> Path | None:
    """``shared/vda5050/2.0.0`` beside the repository, searched upwards from this file."""
    for parent in HERE.parents:
        candidate = parent / "shared" / "vda5050" / "2.0.0"
        if candidate.is_dir():
            return candidate
    return None


def _install_dir() -> Path:
    """Where vda-5050-lib is installed: a cache directory keyed by the package.json it was installed from."""
    digest = hashlib.sha256((INTEROP / "package.json").read_bytes()).hexdigest()[:16]
    base = Path(os.environ.get("WMS_INTEROP_CACHE", Path.home() / ".cache" / "wms-interop"))
    return base / digest


@pytest.fixture(scope="module")
def agv_script() -> Path:
    """The virtual AGV script in a directory with vda-5050-lib installed (npm install on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run vda-5050-lib's virtual AGV")
    target = _install_dir()
    if not (target / "node_modules" / "vda-5050-lib" / "package.json").is_file():
        staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(INTEROP / "package.json", staging / "package.json")
        try:
            proc = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"],
                cwd=staging,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.skip("npm install of vda-5050-lib took longer than 300 s")
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.skip(f"npm install of vda-5050-lib failed: {proc.stderr.strip()[-400:]}")
        try:
            staging.rename(target)  # atomic: a concurrent run that got there first wins
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    shutil.copy2(INTEROP / "virtual_agv.js", target / "virtual_agv.js")
    return target / "virtual_agv.js"


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    """Validators of the official VDA 5050 2.0.0 schemas by topic kind (and 2.1.0 state as ``state-2.1``)."""
    folder = _vda_schema_dir()
    if folder is None:
        pytest.skip("VDA 5050 schemas (shared/vda5050/2.0.0) not found")
    out = {}
    for kind, path in [
        *((k, folder / name) for k, name in SCHEMA_FILES.items()),
        ("state-2.1", folder.parent / "2.1.0" / "state.schema"),
    ]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        out[kind] = validator_for(schema)(schema)
    return out


def _theta_quirk(kind: str, error: Any) -> bool:
    """The 2.0.0 state schema alone requires ``theta`` in ``nodeStates[].nodePosition``.

    The order schema, the 2.0 PDF (authoritative) and the 2.1.0 schemas make it optional; a vehicle that
    echoes the order's node positions (as vda-5050-lib does, and as the master sends no theta) trips it.
    """
    path = list(error.absolute_path)
    return (
        kind == "state"
        and error.validator == "required"
        and "'theta'" in error.message
        and len(path) == 3
        and path[0] == "nodeStates"
        and path[2] == "nodePosition"
    )


class Recorder:
    """Every message on one vehicle's topics, as (kind, JSON), from a plain paho client."""

    def __init__(self, url: str, manufacturer: str, serial: str) -> None:
        host, port, *_ = parse_mqtt_url(url)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="interop-recorder")
        topic = f"uagv/v2/{manufacturer}/{serial}/#"
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("recorder did not subscribe")

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        parsed = vda_parse(msg.topic)
        if parsed is None or not msg.payload:
            return
        with self._lock:
            self.messages.append((parsed[2], json.loads(msg.payload)))

    def of(self, *kinds: str) -> list[tuple[str, dict[str, Any]]]:
        """The recorded messages of the given kinds, in arrival order."""
        with self._lock:
            return [(k, m) for k, m in self.messages if k in kinds]

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


class Events:
    """FleetEvents that record what the fleet manager reports."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.failed: list[str] = []
        self.alarms: list[str] = []

    def task_done(self, robot: RobotView, task: ActiveTask) -> None:
        """Record a finished task."""
        self.done.append(task.task_id)

    def task_failed(self, robot: RobotView, task: ActiveTask, reason: str) -> None:
        """Record a failed task and why."""
        self.failed.append(f"{task.task_id}: {reason}")

    def robot_free(self, robot: RobotView) -> None:
        """Nothing to assign in this test."""

    def robot_changed(self, robot: RobotView) -> None:
        """Nothing to persist in this test."""

    def task_released(self, robot: RobotView, task: ActiveTask) -> None:
        """Nothing to persist in this test."""

    def alarm(self, severity: str, source: str, message: str) -> None:
        """Record an alarm."""
        self.alarms.append(f"{severity} {source}: {message}")


def _chain_path(a: str, b: str) -> list[str]:
    i, j = CHAIN.index(a), CHAIN.index(b)
    return CHAIN[i : j + 1] if i <= j else CHAIN[j : i + 1][::-1]


def _distance(a: str, b: str) -> float:
    path = _chain_path(a, b)
    return sum(
        ((NODES[p][0] - NODES[q][0]) ** 2 + (NODES[p][1] - NODES[q][1]) ** 2) ** 0.5
        for p, q in zip(path, path[1:], strict=False)
    )


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Site:
    """A broker, the foreign virtual AGV, a recorder of its topics and the real fleet manager driving it."""

    agv: subprocess.Popen[str]
    info: dict[str, Any]
    clock: WallClock
    fleet: FleetManager
    events: Events
    recorder: Recorder

    @property
    def robot(self) -> RobotView:
        """The fleet manager's view of the virtual AGV."""
        return self.fleet.robots[SERIAL]

    def on_master(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the master's loop thread (the fleet manager is single-threaded)."""

        def run() -> None:
            fn()

        self.clock.call_soon_threadsafe(run)

    def check_schemas(self, validators: dict[str, Any]) -> int:
        """Every message of the vehicle, and every command to it, is valid against the 2.0.0 schemas.

        States that break only the 2.0.0 schema's ``theta`` quirk must be valid against 2.1.0's state
        schema instead; returns how many states needed that.
        """
        quirky = 0
        for kind, msg in self.recorder.of(*SCHEMA_FILES):
            errors = list(validators[kind].iter_errors(msg))
            problems = [f"{list(e.absolute_path)}: {e.message}" for e in errors if not _theta_quirk(kind, e)]
            if kind == "factsheet" and problems:
                continue  # see bare_factsheets
            assert problems == [], f"{kind} {msg}: {problems}"
            if errors:
                quirky += 1
                assert [e.message for e in validators["state-2.1"].iter_errors(msg)] == [], msg
        return quirky

    def bare_factsheets(self, validators: dict[str, Any]) -> int:
        """Factsheets that break the schema, each rejected by the master with the fields it lacks.

        vda-5050-lib 1.4.0's virtual AGV answers the master's factsheetRequest with the header alone.
        """
        bare = [m for _, m in self.recorder.of("factsheet") if list(validators["factsheet"].iter_errors(m))]
        said = [a for a in self.events.alarms if "/factsheet: factsheet: typeSpecification: " in a]
        assert len(said) == len(bare), self.events.alarms
        return len(bare)


@pytest.fixture()
def site(agv_script: Path) -> Iterator[Site]:
    """A fresh site with the virtual AGV on N0, known to the fleet manager; stopped cleanly afterwards."""
    with EmbeddedBroker() as broker:
        recorder = Recorder(broker.url, MANUFACTURER, SERIAL)
        x0, y0 = NODES["N0"]
        cmd = ["node", str(agv_script), broker.url, MANUFACTURER, SERIAL, str(x0), str(y0), "site", "N0"]
        agv = subprocess.Popen(
            [*cmd, str(TIME_LAPSE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        clock = WallClock()
        bus = MqttBus(broker.url, "interop-master", clock)
        events = Events()
        cls = RobotClass(
            count=1,
            speed_mps=2.0,
            battery_drain_pct_per_h=0,
            charge_pct_per_min=1,
            low_battery_pct=5,
            charged_pct=90,
            charging_spots=1,
            action_s=1,
        )
        fmap = FleetMap(pos=NODES, chargers=[], path=_chain_path, distance=_distance)
        fleet = FleetManager(
            bus, clock, {KIND: fmap}, {KIND: cls}, events, 60.0, [MANUFACTURER], release_nodes=2
        )
        fleet.expect(SERIAL, KIND)
        loop = threading.Thread(target=clock.run, name="master", daemon=True)
        try:
            ready = agv.stdout.readline() if agv.stdout else ""
            if not ready.strip():
                pytest.fail(f"virtual AGV did not start: {agv.stderr.read() if agv.stderr else ''}")
            clock.call_soon_threadsafe(fleet.start)
            loop.start()
            _wait(lambda: SERIAL in fleet.robots and fleet.robots[SERIAL].node == "N0", 15, "the AGV on N0")
            yield Site(agv, json.loads(ready), clock, fleet, events, recorder)
        finally:
            if agv.poll() is None:
                agv.kill()
                agv.wait(5)
            clock.stop()
            if loop.is_alive():
                loop.join(5)
            bus.close()
            recorder.close()


def test_fleet_manager_drives_an_order_on_vda_5050_lib_virtual_agv(
    site: Site, schemas: dict[str, Any]
) -> None:
    """Base + horizon released by order updates, a pick and a drop: task_done; all messages valid."""
    floor = {"stationType": "floor", "loadType": "EPAL", "duration": 5}
    robot = site.robot
    site.on_master(
        lambda: site.fleet.send(
            robot, "T1", "move", ["N0", "N2", "N5"], {1: [("pick", floor)], 2: [("drop", floor)]}
        )
    )
    _wait(lambda: bool(site.events.done or site.events.failed), 30, "task T1 to end")
    assert site.events.failed == []
    assert site.events.done == ["T1"]
    assert robot.node == "N5"
    orders = [m for _, m in site.recorder.of("order")]
    assert [o["orderUpdateId"] for o in orders] == [0, 1, 2]  # 3 base nodes, then two updates of 2 more
    assert [sum(n["released"] for n in o["nodes"]) for o in orders] == [3, 3, 2]

    site.agv.terminate()
    site.agv.wait(10)
    _wait(lambda: not robot.online, 10, "the AGV's OFFLINE")
    assert site.fleet.rejected == site.bare_factsheets(schemas), site.events.alarms

    sent = site.recorder.of(*AGV_KINDS)
    assert {k for k, _ in sent} >= {"state", "connection", "visualization"}
    assert all(m["version"] == "2.0.0" for _, m in sent)
    states = [m for k, m in sent if k == "state"]
    assert [s["errors"] for s in states if s["errors"]] == []
    finished = {a["actionId"] for s in states for a in s["actionStates"] if a["actionStatus"] == "FINISHED"}
    assert {"T1-1-0", "T1-2-0"} <= finished
    pinned = json.loads((INTEROP / "package.json").read_text())["dependencies"]["vda-5050-lib"]
    assert site.info["version"] == pinned
    site.check_schemas(schemas)


def test_estop_and_resume_reach_vda_5050_lib_virtual_agv(site: Site, schemas: dict[str, Any]) -> None:
    """startPause / stopPause instant actions pause and resume the foreign vehicle."""
    robot = site.robot
    site.on_master(site.fleet.estop)

    def refused() -> bool:
        return any(
            e["errorType"] == "validationError" for _, s in site.recorder.of("state") for e in s["errors"]
        )

    _wait(lambda: robot.paused or refused(), 10, "the AGV to pause or refuse startPause")
    site.check_schemas(schemas)
    assert not refused(), [s["errors"] for _, s in site.recorder.of("state") if s["errors"]]
    assert robot.paused
    site.on_master(site.fleet.resume)
    _wait(lambda: not robot.paused or refused(), 10, "the AGV to resume")
    assert not refused()
    assert not robot.paused
