"""The VDA 5050 master against hand-written robot states: replays, silence, lies and resumed tasks."""

from __future__ import annotations

import json
from typing import Any

from wms.clock import VirtualClock
from wms.config import CONFIG_DIR, load_warehouse
from wms.control.fleet import ActiveTask, FleetManager, FleetMap, RobotView
from wms.robots.vda5050 import BatteryState, NodeState, SafetyState, State, header_fields

M = "acme"
CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
NODES = {f"n{i}": (float(i), 0.0) for i in range(10)}


class Bus:
    """Records what the master publishes."""

    client_id = "master"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload))

    def subscribe(self, pattern: str, handler: Any, qos: int = 0) -> None:
        pass

    def kinds(self, serial: str) -> list[str]:
        return [t.rsplit("/", 1)[1] for t, _ in self.sent if f"/{serial}/" in t]


class Events:
    """Records what the master tells the controller."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []
        self.alarms: list[str] = []
        self.free: list[str] = []
        self.released: list[str] = []

    def task_done(self, robot: RobotView, task: ActiveTask) -> None:
        pass

    def task_failed(self, robot: RobotView, task: ActiveTask, reason: str) -> None:
        self.failed.append((robot.serial, reason))

    def robot_free(self, robot: RobotView) -> None:
        self.free.append(robot.serial)

    def robot_changed(self, robot: RobotView) -> None:
        pass

    def task_released(self, robot: RobotView, task: ActiveTask) -> None:
        self.released.append(task.plan())

    def alarm(self, severity: str, source: str, message: str) -> None:
        self.alarms.append(message)


def _path(a: str, b: str) -> list[str]:
    i, j = int(a[1:]), int(b[1:])
    step = 1 if j >= i else -1
    return [f"n{k}" for k in range(i, j + step, step)]


def _fleet() -> tuple[FleetManager, Bus, Events, VirtualClock]:
    clock, bus, events = VirtualClock(1000.0), Bus(), Events()
    fmap = FleetMap(NODES, ["n9"], _path, lambda a, b: abs(NODES[a][0] - NODES[b][0]))
    fleet = FleetManager(
        bus,  # type: ignore[arg-type]
        clock,
        {"picking": fmap},
        {"picking": CFG.fleet.picking},
        events,
        timeout_s=60.0,
        manufacturers=[M],
    )
    for s in ("pick-01", "pick-02"):
        fleet.expect(s, "picking")
    return fleet, bus, events, clock


def _state(
    serial: str, header: int, node: str = "n0", order_id: str = "", nodes: int = 0, **kw: Any
) -> bytes:
    st = State(
        **header_fields(header, M, serial, 1000.0),
        orderId=order_id,
        orderUpdateId=kw.pop("update_id", 0),
        lastNodeId=node,
        lastNodeSequenceId=0,
        driving=False,
        operatingMode="AUTOMATIC",
        nodeStates=[NodeState(nodeId=f"n{i}", sequenceId=2 * i, released=True) for i in range(1, nodes + 1)],
        edgeStates=[],
        actionStates=[],
        batteryState=BatteryState(batteryCharge=kw.pop("battery", 80.0), charging=kw.pop("charging", False)),
        paused=kw.pop("paused", False),
        errors=[],
        safetyState=SafetyState(eStop="NONE", fieldViolation=False),
    )
    return st.model_dump_json().encode()


def _topic(serial: str) -> str:
    return f"uagv/v2/{M}/{serial}/state"


def test_a_replayed_or_out_of_order_state_changes_nothing() -> None:
    fleet, _bus, _events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 5, node="n3"))
    fleet._on_state(_topic("pick-01"), _state("pick-01", 4, node="n1"))  # older headerId
    fleet._on_state(_topic("pick-01"), _state("pick-01", 5, node="n2"))  # the same headerId again
    assert fleet.robots["pick-01"].node == "n3"
    fleet._on_state(_topic("pick-01"), _state("pick-01", 6, node="n4"))
    assert fleet.robots["pick-01"].node == "n4"


def test_a_state_whose_serial_number_disagrees_with_its_topic_is_ignored_and_counted() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-02", 1, node="n3"))
    assert "pick-01" not in fleet.robots and "pick-02" not in fleet.robots
    assert fleet.rejected == 1 and "disagrees with the topic" in events.alarms[0]


def test_a_silent_robot_is_taken_out_of_service_but_general_silence_is_not_blamed_on_robots() -> None:
    fleet, _bus, events, clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet._on_state(_topic("pick-02"), _state("pick-02", 1))
    fleet.send(fleet.robots["pick-02"], "T1", "pick", ["n0", "n3"], {})
    clock.run(until=clock.now() + 90.0)
    fleet.check_timeouts()  # nobody reported for 90 s: this master's link, not 2 robots at once
    assert all(r.online for r in fleet.robots.values()) and not events.failed
    assert any("broker link" in a for a in events.alarms)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2))  # pick-01 speaks again, pick-02 stays silent
    fleet.check_timeouts()
    assert fleet.robots["pick-01"].online and not fleet.robots["pick-02"].online
    assert events.failed and events.failed[0][0] == "pick-02"


def test_an_adopted_task_is_resent_when_the_robot_lacks_it_and_not_otherwise() -> None:
    fleet, bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet.send(fleet.robots["pick-01"], "T1", "pick", ["n0", "n9"], {1: [("drop", {"station": "P1"})]})
    plan = events.released[-1]
    assert json.loads(plan)["base_end"] == 6  # a window of the path released, the rest as horizon

    for has_it, expect_resend in ((False, True), (True, False)):
        other, bus2, _events2, _clock2 = _fleet()
        other.adopt("pick-01", M, "picking", "n2", ActiveTask.from_plan(plan))
        order_id = json.loads(plan)["order_id"] if has_it else ""
        other._on_state(_topic("pick-01"), _state("pick-01", 1, node="n2", order_id=order_id, nodes=4))
        assert ("order" in bus2.kinds("pick-01")) == expect_resend
        assert other.robots["pick-01"].task is not None and other.robots["pick-01"].status == "busy"
    assert bus.kinds("pick-01") == ["order"]


def test_a_robot_driving_an_order_nobody_owns_is_cancelled_and_busy_until_it_stops() -> None:
    fleet, bus, events, clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1, order_id="OLD.1", nodes=3))
    assert bus.kinds("pick-01") == ["instantActions"] and fleet.robots["pick-01"].status == "busy"
    assert "pick-01" not in events.free
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2, order_id="OLD.1", nodes=3))
    assert bus.kinds("pick-01") == ["instantActions"]  # told once: it may not have had it yet
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 3, order_id="OLD.1", nodes=3))  # it missed it
    assert bus.kinds("pick-01") == ["instantActions"] * 2 and fleet.resent == 1
    fleet._on_state(_topic("pick-01"), _state("pick-01", 4, order_id="OLD.1", nodes=0))
    assert fleet.robots["pick-01"].status == "idle" and events.free == ["pick-01"]


def test_a_robot_found_charging_after_a_restart_is_left_to_charge() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1, node="n9", battery=40.0, charging=True))
    assert fleet.robots["pick-01"].charging and fleet.robots["pick-01"].status == "charging"
    assert "pick-01" not in events.free


def test_a_robot_on_its_charger_that_does_not_start_charging_is_asked_again() -> None:
    fleet, bus, _events, clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1, node="n5", battery=15.0))
    robot = fleet.robots["pick-01"]
    assert fleet.send_to_charger(robot) and robot.task is not None and robot.task.final_node == "n9"
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2, node="n9", order_id=robot.task.order_id))
    assert robot.charging and bus.kinds("pick-01")[-1] == "instantActions"
    sent = len(bus.sent)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 3, node="n9", battery=15.0))
    assert len(bus.sent) == sent  # the robot may not have had it yet
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 4, node="n9", battery=15.0))  # lost: not charging
    assert len(bus.sent) == sent + 1 and fleet.resent == 1
    assert [a.actionType for a in bus.sent[-1][1].actions] == ["startCharging"]
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 5, node="n9", battery=16.0, charging=True))
    assert len(bus.sent) == sent + 1 and robot.status == "charging"


def test_the_estop_holds_for_a_robot_that_missed_it_and_is_lifted_only_from_robots_it_paused() -> None:
    fleet, bus, _events, clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet._on_state(_topic("pick-02"), _state("pick-02", 1, paused=True))  # paused by hand

    def pauses(serial: str) -> list[str]:
        return [a.actionType for t, m in bus.sent if f"/{serial}/instantActions" in t for a in m.actions]

    fleet.estop()
    assert pauses("pick-01") == ["startPause"]
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2))  # it never got the pause
    assert pauses("pick-01") == ["startPause", "startPause"] and fleet.resent == 1
    fleet._on_state(_topic("pick-01"), _state("pick-01", 3, paused=True))
    fleet.estop()  # pressed again while it holds
    fleet.resume()
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 4, paused=True))  # it never got the resume
    assert pauses("pick-01")[-3:] == ["startPause", "stopPause", "stopPause"]
    fleet._on_state(_topic("pick-01"), _state("pick-01", 5))
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 6, paused=True))  # now paused by hand: left so
    assert len(pauses("pick-01")) == 5
    fleet._on_state(_topic("pick-02"), _state("pick-02", 2, paused=True))
    assert pauses("pick-02") == ["startPause"] * 2  # paused by hand before the e-stop: left paused


def test_a_robot_offline_when_the_estop_is_lifted_is_unpaused_when_it_is_back() -> None:
    fleet, bus, _events, clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet.estop()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2, paused=True))
    fleet.robots["pick-01"].online = False  # its link dropped
    fleet.resume()
    assert bus.kinds("pick-01") == ["instantActions"]  # the stop only: nothing reaches it now
    clock.run(until=clock.now() + fleet.resend_after_s)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 3, paused=True))  # back, still paused
    assert bus.kinds("pick-01") == ["instantActions"] * 2
    assert [a.actionType for a in bus.sent[-1][1].actions] == ["stopPause"]


def test_an_order_the_robot_refuses_goes_back_with_the_robots_reason() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet.send(fleet.robots["pick-01"], "T1", "pick", ["n0", "n9"], {1: [("drop", {"station": "P1"})]})
    order_id = fleet.robots["pick-01"].task.order_id  # type: ignore[union-attr]
    body = json.loads(_state("pick-01", 2))  # still without the order: it refused it
    body["errors"] = [
        {
            "errorType": "orderError",
            "errorLevel": "WARNING",
            "errorDescription": "node n9 unknown",
            "errorReferences": [{"referenceKey": "orderId", "referenceValue": order_id}],
        }
    ]
    fleet._on_state(_topic("pick-01"), json.dumps(body).encode())
    assert events.failed == [("pick-01", "order refused: orderError node n9 unknown")]
    assert fleet.robots["pick-01"].task is None


def test_a_short_horizon_announces_a_few_nodes_beyond_the_base_and_the_task_still_completes() -> None:
    fleet, bus, _events, _clock = _fleet()
    fleet.horizon_nodes = 2
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    robot = fleet.robots["pick-01"]
    fleet.send(robot, "T1", "pick", ["n0", "n9"], {1: [("drop", {"station": "P1"})]})
    header, orders = 2, []
    while robot.task is not None and header < 20:
        task = robot.task
        order = json.loads(bus.sent[-1][1])
        orders.append(order)
        base = [n for n in order["nodes"] if n["released"]]
        horizon = [n["nodeId"] for n in order["nodes"] if not n["released"]]
        assert len(horizon) == min(2, 9 - task.base_end)  # two more, unless the path ends sooner
        at_end = base[-1]["nodeId"] == "n9"
        body = json.loads(_state("pick-01", header, node=base[-1]["nodeId"], order_id=task.order_id))
        body.update(orderUpdateId=task.update_id, lastNodeSequenceId=base[-1]["sequenceId"])
        body["nodeStates"] = [
            {"nodeId": n["nodeId"], "sequenceId": n["sequenceId"], "released": False}
            for n in order["nodes"]
            if not n["released"]
        ]
        body["actionStates"] = [
            {"actionId": a, "actionType": "drop", "actionStatus": "FINISHED" if at_end else "WAITING"}
            for a in task.action_ids
        ]
        fleet._on_state(_topic("pick-01"), json.dumps(body).encode())
        header += 1
    assert robot.task is None and robot.tasks_done == 1 and robot.node == "n9"
    assert [n["nodeId"] for n in orders[0]["nodes"]] == [f"n{i}" for i in range(9)]  # base n0-n6, then n7, n8
    drops = [(i, n["nodeId"]) for i, o in enumerate(orders) for n in o["nodes"] if n["actions"]]
    assert drops and drops[0][0] > 0 and {n for _, n in drops} == {"n9"}  # the drop went out with an update
