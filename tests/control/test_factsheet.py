"""The master reads factsheets: robots that cannot do our work take none, order lengths follow the limits."""

from __future__ import annotations

import json
from typing import Any

from tests.control.test_fleet_master import M, _fleet, _state, _topic
from wms.bus.base import encode
from wms.fuzz import seeds
from wms.robots.vda5050 import parse_instant_actions, parse_order

ALL_ACTIONS = [{"actionType": t, "actionScopes": ["NODE"]} for t in ("pick", "drop")] + [
    {"actionType": t, "actionScopes": ["INSTANT"]}
    for t in ("startPause", "stopPause", "startCharging", "stopCharging", "cancelOrder", "stateRequest")
]


def _factsheet(serial: str, actions: list[dict[str, Any]] | None = None, **arrays: int) -> bytes:
    fs = seeds.vda_factsheet()
    fs["manufacturer"], fs["serialNumber"] = M, serial
    fs["protocolFeatures"]["agvActions"] = ALL_ACTIONS if actions is None else actions
    fs["protocolLimits"]["maxArrayLens"] = {k.replace("_", "."): v for k, v in arrays.items()}
    return json.dumps(fs).encode()


def _ft(serial: str, kind: str) -> str:
    return f"uagv/v2/{M}/{serial}/{kind}"


def _online(serial: str, header: int = 0) -> bytes:
    return json.dumps(
        {
            "headerId": header,
            "timestamp": "2026-12-05T06:00:00.000Z",
            "version": "2.0.0",
            "manufacturer": M,
            "serialNumber": serial,
            "connectionState": "ONLINE",
        }
    ).encode()


def _orders(bus: Any, serial: str) -> list[dict[str, Any]]:
    out = []
    for topic, payload in bus.sent:
        if topic == _ft(serial, "order"):
            out.append(parse_order(encode(payload)).model_dump(mode="json", exclude_none=True))
    return out


def test_a_robot_whose_factsheet_lacks_drop_takes_no_tasks_until_a_factsheet_has_it() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    assert [r.serial for r in fleet.idle("picking")] == ["pick-01"]
    pick_only = [a for a in ALL_ACTIONS if a["actionType"] != "drop"]
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01", pick_only))
    robot = fleet.robots["pick-01"]
    assert robot.status == "error" and fleet.idle("picking") == []
    assert any("pick-01 takes no tasks" in a and "no drop action" in a for a in events.alarms)
    fleet._on_state(_topic("pick-01"), _state("pick-01", 2))  # a state does not clear it
    assert fleet.idle("picking") == []
    events.free.clear()
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01"))
    assert robot.status == "idle" and events.free == ["pick-01"]


def test_an_unfit_robot_gives_back_its_task() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet.send(fleet.robots["pick-01"], "T1", "pick", ["n0", "n9"], {1: [("drop", {"station": "P1"})]})
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01", ALL_ACTIONS[:1]))
    assert fleet.robots["pick-01"].task is None
    assert events.failed == [("pick-01", "its factsheet lists no drop action on nodes")]


def test_missing_instant_actions_and_an_empty_list_warn_without_unfitting() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01", ALL_ACTIONS[:2]))
    assert fleet.robots["pick-01"].status == "idle"
    assert any(
        "no instant action startPause, stopPause, startCharging, stopCharging" in a for a in events.alarms
    )
    fleet._on_factsheet(_ft("pick-02", "factsheet"), _factsheet("pick-02", []))
    assert fleet.robots["pick-02"].unfit == ""
    assert any("pick-02: its factsheet lists no actions" in a for a in events.alarms)


def test_orders_and_updates_stay_within_the_robots_node_limit_and_the_task_completes() -> None:
    fleet, bus, events, _clock = _fleet()
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01", order_nodes=4, order_edges=5))
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    robot = fleet.robots["pick-01"]
    fleet.send(robot, "T1", "pick", ["n0", "n9"], {1: [("drop", {"station": "P1"})]})
    header, node = 2, "n0"
    for _ in range(20):
        order = _orders(bus, "pick-01")[-1]
        assert len(order["nodes"]) <= 4 and len(order["edges"]) <= 3
        base = [n for n in order["nodes"] if n["released"]]
        node = base[-1]["nodeId"]  # drive to the end of the base, then report
        task = robot.task
        if task is None:
            break
        seq = base[-1]["sequenceId"]
        body = json.loads(_state("pick-01", header, node=node, order_id=task.order_id))
        body.update(orderUpdateId=task.update_id, lastNodeSequenceId=seq)
        done = node == "n9"
        body["actionStates"] = [
            {"actionId": a, "actionType": "drop", "actionStatus": "FINISHED" if done else "WAITING"}
            for a in task.action_ids
        ]
        fleet._on_state(_topic("pick-01"), json.dumps(body).encode())
        header += 1
    assert node == "n9" and robot.task is None and robot.tasks_done == 1
    assert len(_orders(bus, "pick-01")) >= 3  # the path of 10 nodes went out in pieces


def test_online_asks_for_a_factsheet_once_none_is_known() -> None:
    fleet, bus, _events, _clock = _fleet()
    fleet._on_connection(_ft("pick-01", "connection"), _online("pick-01"))
    requests = [
        a.actionType
        for t, p in bus.sent
        if t == _ft("pick-01", "instantActions")
        for a in parse_instant_actions(encode(p)).actions
    ]
    assert requests == ["stateRequest", "factsheetRequest"]
    fleet._on_factsheet(_ft("pick-01", "factsheet"), _factsheet("pick-01"))
    bus.sent.clear()
    fleet._on_connection(_ft("pick-01", "connection"), _online("pick-01", 1))
    assert [t.rsplit("/", 1)[1] for t, _ in bus.sent] == ["instantActions"]  # the state request only


def test_visualization_moves_the_robot_and_a_bad_one_is_counted() -> None:
    fleet, _bus, events, _clock = _fleet()
    fleet._on_state(_topic("pick-01"), _state("pick-01", 1))
    vis = {
        "headerId": 1,
        "timestamp": "2026-12-05T06:00:00.000Z",
        "version": "2.0.0",
        "manufacturer": M,
        "serialNumber": "pick-01",
        "agvPosition": {"x": 3.25, "y": 0.5, "theta": 0.0, "mapId": "site", "positionInitialized": True},
    }
    fleet._on_visualization(_ft("pick-01", "visualization"), json.dumps(vis).encode())
    robot = fleet.robots["pick-01"]
    assert (robot.x, robot.y) == (3.25, 0.5)
    rejected = fleet.rejected
    vis["agvPosition"] = {"x": "far"}
    fleet._on_visualization(_ft("pick-01", "visualization"), json.dumps(vis).encode())
    assert fleet.rejected == rejected + 1 and (robot.x, robot.y) == (3.25, 0.5)
    assert "visualization: agvPosition.x" in events.alarms[-1]
