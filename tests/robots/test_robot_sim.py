"""The simulated robot in virtual time (in-process broker) and once over a real MQTT broker."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from simulators.fleet_sim import main, parse_fault, start_fleet
from simulators.robot import RobotSim
from wms.bus import InProcBroker
from wms.clock import VirtualClock, WallClock
from wms.config import RobotClass
from wms.robots.orders import build_order, instant_action, instant_actions, make_action
from wms.robots.vda5050 import InstantAction, State, parse_connection, parse_state, to_json
from wms.topics import vda, vda_parse

T0 = 1_700_000_000.0
MFR = "acme"


def _vda_dir() -> Path | None:
    """The shared ``shared/vda5050`` folder next to the repository (searched upwards from this file)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vda5050"
        if candidate.is_dir():
            return candidate
    return None


VDA_DIR = _vda_dir()
needs_schemas = pytest.mark.skipif(VDA_DIR is None, reason="VDA 5050 schemas (shared/vda5050) not found")


@functools.cache
def _schemas(kind: str) -> list[dict[str, Any]]:
    """Schemas a message of ``kind`` must satisfy: 2.0.0 (factsheet: also fixed, and 2.1.0)."""
    assert VDA_DIR is not None
    if kind != "factsheet":
        return [json.loads((VDA_DIR / "2.0.0" / f"{kind}.schema").read_text(encoding="utf-8"))]
    raw = json.loads((VDA_DIR / "2.0.0" / "factsheet.json").read_text(encoding="utf-8"))
    # The published 2.0.0 factsheet schema has its property definitions at the top level, where they check
    # nothing: validate against it as published and with them moved under "properties", plus 2.1.0.
    fixed = {**raw, "properties": {k: v for k, v in raw.items() if isinstance(v, dict)}}
    newer = json.loads((VDA_DIR / "2.1.0" / "factsheet.schema").read_text(encoding="utf-8"))
    return [raw, fixed, newer]


def validate(kind: str, msg: dict[str, Any]) -> None:
    for schema in _schemas(kind):
        validator_for(schema)(schema).validate(msg)


class Rig:
    """A robot on an in-process broker in virtual time, a master client and a spy on all VDA topics."""

    def __init__(
        self, serial: str = "r1", start: tuple[str, float, float] = ("A", 0.0, 0.0), **kw: Any
    ) -> None:
        self.clock = VirtualClock(T0)
        self.broker = InProcBroker(self.clock)
        self.serial = serial
        self.seen: list[tuple[float, str, str, dict[str, Any]]] = []  # time, serial, kind, message
        self.spy = self.broker.client("spy")
        self.spy.subscribe("uagv/v2/#", self._record)
        self.master = self.broker.client("master")
        self.headers = {"order": 0, "instantActions": 0}
        options: dict[str, Any] = {"speed_mps": 1.0, "action_s": 2.0, "start": start}
        options.update(kw)
        self.robot = RobotSim(
            lambda will: self.broker.client(serial, will=will), self.clock, MFR, serial, **options
        )

    def _record(self, topic: str, data: bytes) -> None:
        parsed = vda_parse(topic)
        assert parsed is not None
        try:
            msg = json.loads(data)
        except ValueError:
            msg = {"_raw": data.decode(errors="replace")}
        self.seen.append((self.clock.now(), parsed[1], parsed[2], msg))

    def run(self, seconds: float) -> None:
        self.clock.run(until=self.clock.now() + seconds)

    def run_until(self, pred: Callable[[], bool], limit: float = 3600.0) -> float:
        """Run until ``pred()`` holds after some event; returns the clock time then."""
        deadline = self.clock.now() + limit
        self.clock.run(until=deadline, stop=pred)
        assert pred(), "condition not reached in time"
        now = self.clock.now()
        self.clock.run(until=now)  # deliver what was published at this instant
        return now

    def _next(self, kind: str) -> int:
        self.headers[kind] += 1
        return self.headers[kind]

    def order(
        self, path: list[tuple[str, float, float]], order_id: str = "o1", update: int = 0, **kw: Any
    ) -> None:
        msg = build_order(
            manufacturer=MFR,
            serial=self.serial,
            order_id=order_id,
            order_update_id=update,
            path=path,
            header_id=self._next("order"),
            now=self.clock.now(),
            **kw,
        )
        self.master.publish(vda(MFR, self.serial, "order"), msg)

    def instant(self, *actions: str | InstantAction) -> None:
        msg = instant_actions(
            manufacturer=MFR,
            serial=self.serial,
            actions=list(actions),
            header_id=self._next("instantActions"),
            now=self.clock.now(),
        )
        self.master.publish(vda(MFR, self.serial, "instantActions"), msg)

    def raw(self, kind: str, payload: bytes) -> None:
        self.master.publish(vda(MFR, self.serial, kind), payload)

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, s, k, m in self.seen if s == self.serial and k == kind]

    def states(self) -> list[dict[str, Any]]:
        return self.sent("state")

    def state(self) -> dict[str, Any]:
        return self.states()[-1]

    def state_times(self) -> list[float]:
        return [t for t, s, k, _ in self.seen if s == self.serial and k == "state"]

    def action(self, action_id: str) -> str | None:
        for a in self.state()["actionStates"]:
            if a["actionId"] == action_id:
                return a["actionStatus"]
        return None

    def errors(self) -> list[tuple[str, str]]:
        return [(e["errorType"], e["errorLevel"]) for e in self.state()["errors"]]


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.robot.start()
    r.run(0)
    return r


PICK_DROP_PATH = [("A", 0.0, 0.0), ("B", 3.0, 4.0), ("C", 3.0, 10.0)]
PICK_DROP = {
    "B": [make_action("pick", "p1", {"loadId": "L1"})],
    "C": [make_action("drop", "d1", {"loadId": "L1"})],
}


def test_start_announces_online_factsheet_and_state(rig: Rig) -> None:
    (online,) = rig.sent("connection")
    assert online["connectionState"] == "ONLINE"
    assert len(rig.sent("factsheet")) == 1
    state = rig.state()
    assert (state["lastNodeId"], state["orderId"], state["driving"]) == ("A", "", False)
    assert state["agvPosition"]["positionInitialized"] and state["batteryState"]["batteryCharge"] == 100.0


def test_executes_order_with_pick_and_drop_on_time(rig: Rig) -> None:
    before = len(rig.states())
    rig.order(PICK_DROP_PATH, actions=PICK_DROP)
    rig.run(0)
    # one state for the order taken and its first node reached, not one for each (VDA 5050: events
    # that go together make one state update)
    (accepted,) = rig.states()[before:]
    assert (accepted["orderId"], accepted["lastNodeId"], accepted["lastNodeSequenceId"]) == ("o1", "A", 0)
    assert [n["nodeId"] for n in accepted["nodeStates"]] == ["B", "C"]
    assert {a["actionId"]: a["actionStatus"] for a in accepted["actionStates"]} == {
        "p1": "WAITING",
        "d1": "WAITING",
    }
    assert accepted["driving"]
    done = rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    # 5 m + 6 m at 1 m/s plus pick and drop of 2 s each
    assert done - T0 == pytest.approx(5 + 2 + 6 + 2)
    final = rig.state()
    assert (final["lastNodeId"], final["lastNodeSequenceId"]) == ("C", 4)
    assert final["nodeStates"] == [] and final["edgeStates"] == [] and not final["driving"]
    assert {a["actionId"]: a["actionStatus"] for a in final["actionStates"]} == {
        "p1": "FINISHED",
        "d1": "FINISHED",
    }
    assert (final["agvPosition"]["x"], final["agvPosition"]["y"]) == (3.0, 10.0)
    assert final["loads"] == []
    # node reached and actions WAITING → RUNNING → FINISHED were each reported when they happened
    by_time = {round(t - T0, 6): m for t, s, k, m in rig.seen if k == "state"}
    at_b = by_time[5.0]
    assert at_b["lastNodeId"] == "B" and at_b["lastNodeSequenceId"] == 2
    assert [n["nodeId"] for n in at_b["nodeStates"]] == ["C"] and [
        e["edgeId"] for e in at_b["edgeStates"]
    ] == ["B-C"]
    assert {a["actionId"]: a["actionStatus"] for a in at_b["actionStates"]}["p1"] == "RUNNING"
    assert by_time[7.0]["loads"] == [{"loadId": "L1", "loadPosition": "deck"}]
    assert by_time[7.0]["driving"] and by_time[13.0]["lastNodeId"] == "C"
    assert by_time[7.0]["agvPosition"]["theta"] == pytest.approx(math.pi / 2)


def test_a_drop_naming_no_load_unloads_the_whole_deck(rig: Rig) -> None:
    """A picking cart takes several loads and drops them all at its pack station."""
    picks = {
        "B": [make_action("pick", "p1", {"sku": "S1"}), make_action("pick", "p2", {"sku": "S2"})],
        "C": [make_action("drop", "d1")],
    }
    rig.order(PICK_DROP_PATH, actions=picks)
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert any(len(m["loads"]) == 2 for m in rig.states())
    assert rig.state()["loads"] == []


def test_stops_at_end_of_base_and_continues_after_update(rig: Rig) -> None:
    path = [("A", 0.0, 0.0), ("B", 10.0, 0.0), ("C", 20.0, 0.0), ("D", 30.0, 0.0)]
    rig.order(path, released=2)
    rig.run(100)
    state = rig.state()
    assert state["lastNodeId"] == "B" and not state["driving"] and state["newBaseRequest"]
    assert [(n["nodeId"], n["released"]) for n in state["nodeStates"]] == [("C", False), ("D", False)]
    assert [(e["edgeId"], e["released"]) for e in state["edgeStates"]] == [("B-C", False), ("C-D", False)]
    assert rig.robot.summary()["position"] == (10.0, 0.0) and rig.robot.summary()["ordersDone"] == 0
    # An update that does not start at the end of the base is refused; a stale one is ignored.
    rig.order(path[2:], update=1, start_sequence_id=4)
    rig.run(0)
    assert rig.errors() == [("orderUpdateError", "WARNING")]
    rig.order(path[1:], update=0, start_sequence_id=2)
    rig.run(1)
    assert rig.robot.summary()["lastNodeId"] == "B" and rig.state()["orderUpdateId"] == 0
    # The proper update extends the base: C and D released now.
    t_update = rig.clock.now()
    rig.order(path[1:], update=1, start_sequence_id=2)
    done = rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert done - t_update == pytest.approx(20.0)
    final = rig.state()
    assert (final["lastNodeId"], final["lastNodeSequenceId"], final["orderUpdateId"]) == ("D", 6, 1)
    assert final["errors"] == [] and not final["newBaseRequest"]
    rig.order(path[1:], update=0, start_sequence_id=2)  # older than the current update: ignored
    rig.run(60)
    assert rig.state()["orderUpdateId"] == 1 and rig.state()["errors"] == []
    assert rig.robot.summary()["lastNodeId"] == "D"


def test_update_after_order_finished_continues_it(rig: Rig) -> None:
    rig.order([("A", 0, 0), ("B", 4, 0)])
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    rig.order([("B", 4, 0), ("C", 4, 3)], update=1, start_sequence_id=2)
    rig.run(10)
    assert (rig.state()["lastNodeId"], rig.state()["lastNodeSequenceId"]) == ("C", 4)
    assert rig.robot.summary()["ordersDone"] == 1  # still the same order


def test_refuses_orders_it_cannot_take(rig: Rig) -> None:
    rig.order([("X", 50.0, 50.0), ("Y", 60.0, 50.0)])  # does not start where the robot is
    rig.run(0)
    assert rig.errors() == [("validationError", "WARNING")]
    assert "not where the vehicle is" in rig.state()["errors"][0]["errorDescription"]
    rig.order([("A", 0, 0), ("B", 100, 0)])
    rig.run(1)
    rig.order([("B", 100, 0), ("A", 0, 0)], order_id="o2")  # o1 still running
    rig.run(0)
    assert ("orderUpdateError", "WARNING") in rig.errors() and rig.state()["orderId"] == "o1"
    rig.raw("order", b'{"headerId": 1, "orderId": 5}')
    rig.raw("order", b"\xff not json")
    rig.run(0)
    descriptions = [
        e["errorDescription"] for e in rig.state()["errors"] if e["errorType"] == "validationError"
    ]
    assert any(d.startswith("order: timestamp: field required") for d in descriptions)
    assert any("orderId: input should be a valid string" in d for d in descriptions)
    assert any("order: not valid JSON" in d for d in descriptions)
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)  # still drives on


def test_pause_freezes_motion_until_stop_pause(rig: Rig) -> None:
    rig.order([("A", 0.0, 0.0), ("B", 10.0, 0.0)])
    rig.run(4)
    rig.instant("startPause")
    rig.run(0)
    paused = rig.state()
    assert paused["paused"] and not paused["driving"]
    assert paused["agvPosition"]["x"] == pytest.approx(4.0)
    rig.run(16)
    assert rig.robot.summary()["position"] == pytest.approx((4.0, 0.0))
    assert rig.state()["lastNodeId"] == "A"
    rig.instant("stopPause")
    done = rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert done - T0 == pytest.approx(26.0)
    assert rig.state()["paused"] is False


def test_pause_also_freezes_a_running_action(rig: Rig) -> None:
    rig.order([("A", 0.0, 0.0)], actions={"A": [make_action("pick", "p1", {"duration": 10})]})
    rig.run(3)
    assert rig.action("p1") == "RUNNING"
    rig.instant("startPause")
    rig.run(20)
    assert rig.action("p1") == "RUNNING"
    rig.instant("stopPause")
    done = rig.run_until(lambda: rig.action("p1") == "FINISHED")
    assert done - T0 == pytest.approx(30.0)


def test_cancel_stops_at_next_node(rig: Rig) -> None:
    path = [("A", 0.0, 0.0), ("B", 5.0, 0.0), ("C", 10.0, 0.0), ("D", 15.0, 0.0)]
    rig.order(path, actions={"C": [make_action("drop", "d1")]})
    rig.run(2)
    rig.instant(instant_action("cancelOrder", "cancel-1"))
    rig.run(0)
    assert rig.action("cancel-1") == "RUNNING"
    stopped = rig.run_until(lambda: rig.action("cancel-1") == "FINISHED")
    assert stopped - T0 == pytest.approx(5.0)
    rig.run(60)
    state = rig.state()
    assert (state["lastNodeId"], state["orderId"], state["driving"]) == ("B", "o1", False)
    assert state["nodeStates"] == [] and state["edgeStates"] == []
    assert rig.action("d1") == "FAILED"
    summary = rig.robot.summary()
    assert (
        summary["position"] == (5.0, 0.0) and summary["ordersCancelled"] == 1 and summary["ordersDone"] == 0
    )
    # a new order from where it stopped is accepted; a cancel without an order fails
    rig.order([("B", 5.0, 0.0), ("A", 0.0, 0.0)], order_id="o2")
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    rig.instant(instant_action("cancelOrder", "cancel-2"))
    rig.run(0)
    assert rig.action("cancel-2") == "FAILED" and ("noOrderToCancel", "WARNING") in rig.errors()


def test_state_request_and_periodic_state(rig: Rig) -> None:
    n = len(rig.states())
    rig.run(95)
    times = rig.state_times()
    assert len(rig.states()) == n + 3 and times[-1] - T0 == pytest.approx(90.0)
    rig.instant("stateRequest", "factsheetRequest")
    rig.run(0)
    assert len(rig.states()) == n + 4 and len(rig.sent("factsheet")) == 2
    assert {a["actionType"]: a["actionStatus"] for a in rig.state()["actionStates"]} == {
        "stateRequest": "FINISHED",
        "factsheetRequest": "FINISHED",
    }


def test_bad_instant_actions_are_reported_not_fatal(rig: Rig) -> None:
    rig.raw("instantActions", b'{"actions": "nope"}')
    rig.run(0)
    assert rig.errors() == [("validationError", "WARNING")]
    assert "instantActions: headerId: field required" in rig.state()["errors"][0]["errorDescription"]
    unknown = InstantAction(actionType="selfDestruct", actionId="x1", blockingType="HARD")
    rig.instant(unknown)
    rig.run(0)
    assert rig.action("x1") == "FAILED"
    rig.order([("A", 0, 0), ("B", 1, 0)])
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert rig.state()["errors"] == []  # order warnings are resolved by the next accepted order


def test_crash_publishes_connection_broken_via_last_will(rig: Rig) -> None:
    rig.order([("A", 0.0, 0.0), ("B", 10.0, 0.0)])
    rig.run(3)
    n_states = len(rig.states())
    rig.robot.crash()
    rig.run(120)
    assert [m["connectionState"] for m in rig.sent("connection")] == ["ONLINE", "CONNECTIONBROKEN"]
    assert len(rig.states()) == n_states  # silent from now on
    late = rig.broker.client("late")  # the will is retained
    got: list[str] = []
    late.subscribe(vda(MFR, "r1", "connection"), lambda t, d: got.append(parse_connection(d).connectionState))
    rig.run(0)
    assert got == ["CONNECTIONBROKEN"]
    rig.robot.start()  # reboot: online again, where it was, without an order
    rig.run(0)
    assert rig.sent("connection")[-1]["connectionState"] == "ONLINE"
    assert rig.state()["orderId"] == "" and rig.state()["agvPosition"]["x"] == pytest.approx(3.0)
    rig.robot.stop()
    rig.run(0)
    assert rig.sent("connection")[-1]["connectionState"] == "OFFLINE"


def test_stall_and_fatal_error_hold_the_robot(rig: Rig) -> None:
    rig.order([("A", 0.0, 0.0), ("B", 10.0, 0.0)])
    rig.run(2)
    rig.robot.stall(5)
    rig.run(0)
    assert rig.state()["safetyState"]["fieldViolation"] and not rig.state()["driving"]
    rig.run(4)
    rig.robot.raise_error("FATAL", description="motor overheated")
    rig.run(0)
    assert rig.errors() == [("simulatedError", "FATAL")]
    rig.run(100)
    assert rig.robot.summary()["position"] == pytest.approx((2.0, 0.0))
    rig.robot.clear_errors()
    done = rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert done - T0 == pytest.approx(106.0 + 8.0)
    assert not rig.state()["safetyState"]["fieldViolation"]
    rig.robot.raise_error("WARNING", description="dirty sensor", error_type="sensorWarning")
    rig.run(0)
    assert rig.errors() == [("sensorWarning", "WARNING")]


def test_battery_drains_while_driving_and_charges() -> None:
    rig = Rig(drain_pct_per_h=36.0, charge_pct_per_min=1.0, battery_pct=50.0)
    rig.robot.start()
    rig.order([("A", 0.0, 0.0), ("B", 100.0, 0.0)])
    rig.run(1000)
    assert rig.robot.summary()["battery"] == pytest.approx(49.0)  # 100 s of driving at 0.01 %/s
    assert rig.state()["batteryState"] == {"batteryCharge": 49.0, "charging": False}
    rig.instant("startCharging")
    rig.run(0)
    assert rig.state()["batteryState"]["charging"]
    rig.run(60)
    assert rig.robot.summary()["battery"] == pytest.approx(50.0)
    rig.instant("stopCharging")
    rig.run(0)
    assert not rig.state()["batteryState"]["charging"] and rig.robot.summary()["battery"] == pytest.approx(
        50.0
    )
    rig.run(600)
    assert rig.robot.summary()["battery"] == pytest.approx(50.0)  # idle: no drain
    t_charge = rig.clock.now()
    rig.instant("startCharging")
    full = rig.run_until(lambda: not rig.robot.summary()["charging"])
    assert full - t_charge == pytest.approx(50 * 60.0)  # stops by itself at 100 %
    assert rig.robot.summary()["battery"] == 100.0
    assert rig.state()["batteryState"] == {"batteryCharge": 100.0, "charging": False}


def test_charging_holds_orders_and_cannot_start_while_driving() -> None:
    rig = Rig(battery_pct=90.0, charge_pct_per_min=1.0)
    rig.robot.start()
    rig.order([("A", 0.0, 0.0), ("B", 10.0, 0.0)])
    rig.run(1)
    rig.instant(instant_action("startCharging", "ch1"))
    rig.run(0)
    assert rig.action("ch1") == "FAILED" and not rig.state()["batteryState"]["charging"]
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    rig.instant("startCharging")
    rig.run(1)
    rig.order([("B", 10.0, 0.0), ("C", 20.0, 0.0)], order_id="o2")
    rig.run(30)
    assert rig.robot.summary()["lastNodeId"] == "B"  # charging is HARD-blocking: no driving
    rig.instant("stopCharging")
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 2)


def test_empty_battery_is_fatal_until_charged() -> None:
    rig = Rig(battery_pct=0.0)
    rig.robot.start()
    rig.order([("A", 0.0, 0.0), ("B", 10.0, 0.0)])
    rig.run(5)
    assert rig.errors() == [("batteryEmpty", "FATAL")] and rig.robot.summary()["position"] == (0.0, 0.0)
    rig.instant("startCharging")
    rig.run(120)
    rig.instant("stopCharging")
    rig.run_until(lambda: rig.robot.summary()["ordersDone"] == 1)
    assert rig.state()["errors"] == []


def _pause_update_cancel_charge(rig: Rig, *requests: str) -> None:
    """Drive the order just sent through a pause (with ``requests``), an update, a cancel and a charge."""
    rig.run(6)
    rig.instant("startPause", *requests)
    rig.run(3)
    rig.instant("stopPause")
    rig.run(10)
    rig.order(PICK_DROP_PATH[1:], update=1, start_sequence_id=2, actions={"C": PICK_DROP["C"]})
    rig.run(2)
    rig.instant("cancelOrder")
    rig.run(30)
    rig.instant("startCharging")
    rig.run(30)
    rig.instant("stopCharging", "cancelOrder")


@needs_schemas
def test_every_message_sent_and_built_is_schema_valid() -> None:
    rig = Rig(drain_pct_per_h=50.0, state_period_s=10.0)
    rig.robot.start()
    rig.order(PICK_DROP_PATH, actions=PICK_DROP, released=2)
    _pause_update_cancel_charge(rig, "stateRequest", "factsheetRequest")
    rig.raw("order", b"{}")
    rig.raw("instantActions", b"[]")
    rig.run(1)
    rig.robot.stall(3)
    rig.robot.raise_error()
    rig.run(35)
    rig.robot.crash()
    rig.robot.start()
    rig.robot.stop()
    rig.run(1)
    kinds = {k for _, _, k, _ in rig.seen}
    assert kinds == {"connection", "factsheet", "state", "order", "instantActions"}
    for _, _, kind, msg in rig.seen:
        if "_raw" in msg or msg in ({}, []):
            continue  # the deliberately malformed payloads
        validate(kind, msg)
        if kind == "state":
            parse_state(json.dumps(msg).encode())
    states = rig.states()
    assert any(s["errors"] for s in states) and any(s["paused"] for s in states)
    assert any(s["batteryState"]["charging"] for s in states) and any(s["newBaseRequest"] for s in states)
    assert [m["connectionState"] for m in rig.sent("connection")] == [
        "ONLINE",
        "CONNECTIONBROKEN",
        "ONLINE",
        "OFFLINE",
    ]
    headers = [m["headerId"] for m in rig.states()]
    assert headers == list(range(len(headers)))  # one count per topic, +1 per message


def test_state_bytes_are_exactly_the_state_models_wire_form() -> None:
    """The sim builds its states as plain dicts: parsed into `State` and dumped again, each is unchanged."""
    rig = Rig(drain_pct_per_h=50.0, state_period_s=10.0, start=("A", 0, 0))  # integer start coordinates
    raw: list[bytes] = []
    rig.spy.subscribe(vda(MFR, rig.serial, "state"), lambda _t, d: raw.append(d))
    rig.robot.start()
    pick = make_action("pick", "p1", {"loadId": "L1", "loadType": "tote"}).model_copy(
        update={"actionDescription": "take the tote"}
    )
    rig.order(PICK_DROP_PATH, actions={"B": [pick], "C": PICK_DROP["C"]}, released=2)
    _pause_update_cancel_charge(rig, "stateRequest")
    rig.order(PICK_DROP_PATH, order_id="o2", actions=PICK_DROP)  # refused: not where the vehicle is
    rig.raw("order", b"{}")
    rig.run(1)
    rig.robot.stall(3)
    rig.robot.raise_error()
    rig.run(35)
    assert len(raw) > 20
    for data in raw:
        assert State.model_validate_json(data).model_dump_json(exclude_none=True).encode() == data
    states = [json.loads(d) for d in raw]
    assert any(s["loads"] for s in states) and any(s["errors"] for s in states)
    assert any(e.get("errorReferences") for s in states for e in s["errors"])
    assert {a["actionStatus"] for s in states for a in s["actionStates"]} >= {
        "WAITING",
        "RUNNING",
        "FINISHED",
        "FAILED",
    }


@needs_schemas
def test_builder_messages_match_the_schemas_used_by_the_sim() -> None:
    order = to_json(
        build_order(
            manufacturer=MFR,
            serial="r1",
            order_id="o",
            order_update_id=0,
            path=PICK_DROP_PATH,
            actions=PICK_DROP,
            header_id=0,
            now=T0,
        )
    )
    validate("order", order)
    ia = instant_actions(
        manufacturer=MFR, serial="r1", actions=["cancelOrder", "startPause"], header_id=1, now=T0
    )
    validate("instantActions", to_json(ia))


def test_start_fleet_brings_robots_online() -> None:
    clock = VirtualClock(T0)
    broker = InProcBroker(clock)
    online: list[str] = []
    spy = broker.client("spy")
    spy.subscribe("uagv/v2/+/+/connection", lambda t, d: online.append(parse_connection(d).serialNumber))
    robot_class = RobotClass(
        count=2,
        speed_mps=2.0,
        battery_drain_pct_per_h=12,
        charge_pct_per_min=1.5,
        low_battery_pct=20,
        charged_pct=90,
        charging_spots=1,
        action_s=3,
    )
    sims = start_fleet(
        lambda serial, will: broker.client(serial, will=will),
        clock,
        MFR,
        [("s1", "sorting", ("N1", 0.0, 0.0)), ("s2", "sorting", ("N2", 2.0, 0.0))],
        robot_class,
    )
    clock.run(until=T0)
    assert sorted(online) == ["s1", "s2"]
    assert [(s.speed_mps, s.action_s, s.kind) for s in sims] == [(2.0, 3, "sorting")] * 2
    assert sims[1].summary()["position"] == (2.0, 0.0)


def test_parse_fault() -> None:
    assert parse_fault("crash:picking-001@12.5").at == 12.5
    assert parse_fault("stall:a:b@3").serial == "a:b"
    for bad in ("explode:r1@3", "crash:r1", "crash:@3", "crash:r1@soon", "crash:r1@-1"):
        with pytest.raises(ValueError):
            parse_fault(bad)


# ----------------------------------------------------------------------------- real broker


@pytest.fixture(scope="module")
def broker_url() -> Any:
    from wms.bus.broker import EmbeddedBroker

    try:
        broker = EmbeddedBroker().start()
    except Exception as exc:  # no broker available here
        pytest.skip(f"cannot start an embedded MQTT broker: {exc}")
    yield broker.url
    broker.stop()


def _finished(state: dict[str, Any]) -> bool:
    actions = state["actionStates"]
    return (
        state["lastNodeId"] == "C" and bool(actions) and all(a["actionStatus"] == "FINISHED" for a in actions)
    )


def test_order_completes_over_a_real_mqtt_broker(broker_url: str) -> None:
    from wms.bus.mqtt import MqttBus

    clock = WallClock(speed=20)
    states: list[dict[str, Any]] = []
    spy = MqttBus(broker_url, "spy", clock)
    spy.subscribe(vda(MFR, "m1", "state"), lambda t, d: states.append(json.loads(d)), qos=0)
    robot = RobotSim(
        lambda will: MqttBus(broker_url, "m1", clock, will=will),
        clock,
        MFR,
        "m1",
        speed_mps=1.0,
        start=("A", 0.0, 0.0),
        action_s=2.0,
    )
    master = MqttBus(broker_url, "master", clock)
    try:
        robot.start()
        clock.run(until=clock.now() + 4, stop=lambda: bool(states))
        assert states, "no state from the robot over MQTT"
        order = build_order(
            manufacturer=MFR,
            serial="m1",
            order_id="mq1",
            order_update_id=0,
            path=PICK_DROP_PATH,
            actions=PICK_DROP,
            header_id=0,
            now=clock.now(),
        )
        t_sent = clock.now()
        master.publish(vda(MFR, "m1", "order"), order)
        clock.run(until=t_sent + 60, stop=lambda: _finished(states[-1]))
        assert robot.summary()["ordersDone"] == 1, robot.summary()
        assert clock.now() - t_sent == pytest.approx(15.0, abs=4.0)  # 11 m at 1 m/s + 2 actions of 2 s
        final = states[-1]
        assert final["orderId"] == "mq1" and final["lastNodeId"] == "C"
        assert [a["actionStatus"] for a in final["actionStates"]] == ["FINISHED", "FINISHED"]
        assert clock.errors == []
    finally:
        robot.stop()
        master.close()
        spy.close()


def test_fleet_sim_command_line_with_a_crash(broker_url: str) -> None:
    from wms.bus.mqtt import MqttBus

    clock = WallClock(speed=1)
    seen: dict[str, list[str]] = {}

    def record(topic: str, data: bytes) -> None:
        msg = parse_connection(data)
        seen.setdefault(msg.serialNumber, []).append(msg.connectionState)

    spy = MqttBus(broker_url, "cli-spy", clock)
    spy.subscribe("uagv/v2/+/+/connection", record, qos=1)
    try:
        code = main(
            [
                "--mqtt",
                broker_url,
                "--robots",
                "2",
                "--speed",
                "50",
                "--duration",
                "20",
                "--manufacturer",
                "clitest",
                "--fault",
                "crash:picking-001@5",
                "--log-level",
                "WARNING",
            ]
        )
        assert code == 0
        clock.run(
            until=clock.now() + 2,
            stop=lambda: len(seen.get("picking-002", [])) >= 2 and len(seen.get("picking-001", [])) >= 2,
        )
        assert seen["picking-001"][-1] == "CONNECTIONBROKEN"
        assert seen["picking-002"] == ["ONLINE", "OFFLINE"]
    finally:
        spy.close()
    assert main(["--mqtt", broker_url, "--robots", "1", "--fault", "crash:nobody@1", "--duration", "0"]) == 2
