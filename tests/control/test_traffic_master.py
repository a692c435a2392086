"""The VDA 5050 master with traffic control, against hand-written robot states on small grids.

Bases stop short of cells other robots hold, waiting robots go on the moment a cell frees, deadlocks
are broken, a robot out of service keeps only its cell, idle robots park, and a restart rebuilds it all.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_core import from_json
from rich.console import Console

from tests.control.test_fleet_master import Bus, Events
from wms.clock import VirtualClock
from wms.config import CONFIG_DIR, load_warehouse
from wms.console.dashboard import _robots
from wms.control.fleet import ActiveTask, FleetManager, FleetMap, RobotView
from wms.control.traffic import Traffic
from wms.messages import RobotStatus
from wms.robots.orders import make_action
from wms.robots.vda5050 import BatteryState, NodeState, SafetyState, State, header_fields

M = "acme"
CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")


def grid(w: int, h: int) -> tuple[dict[str, tuple[float, float]], dict[str, list[str]]]:
    """Cells G{x}_{y} of a w x h grid and their neighbours."""
    pos = {f"G{x}_{y}": (float(x), float(y)) for x in range(w) for y in range(h)}
    adjacent = {
        f"G{x}_{y}": [
            f"G{x + dx}_{y + dy}"
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
            if f"G{x + dx}_{y + dy}" in pos
        ]
        for x in range(w)
        for y in range(h)
    }
    return pos, adjacent


def master(
    pos: dict[str, tuple[float, float]], adjacent: dict[str, list[str]], parking: list[str] | None = None
) -> tuple[FleetManager, Bus, Events, Traffic]:
    traffic = Traffic(adjacent, parking or [], quiet=frozenset(parking or []), wait_s=20.0)

    def path(a: str, b: str) -> list[str]:
        found = traffic.route(a, b)
        assert found is not None
        return found

    def distance(a: str, b: str) -> float:
        return float(len(path(a, b)) - 1)

    bus, events = Bus(), Events()
    fleet = FleetManager(
        bus,  # type: ignore[arg-type]
        VirtualClock(1000.0),
        {"sorting": FleetMap(pos, [], path, distance, traffic)},
        {"sorting": CFG.fleet.sorting},
        events,
        timeout_s=60.0,
        manufacturers=[M],
    )
    return fleet, bus, events, traffic


def state(robot: RobotView, node: str, header: int, **kw: Any) -> bytes:
    """The robot's state standing on ``node``: of its task's order if it has one, where ``node`` is."""
    task = robot.task
    seq = 2 * task.path.index(node, task.reached) if task is not None else 0
    st = State(
        **header_fields(header, M, robot.serial, 1000.0),
        orderId=task.order_id if task is not None else "",
        orderUpdateId=task.update_id if task is not None else 0,
        lastNodeId=node,
        lastNodeSequenceId=seq,
        driving=False,
        operatingMode="AUTOMATIC",
        nodeStates=[
            NodeState(nodeId=n, sequenceId=seq + 2 * i, released=True)
            for i, n in enumerate(task.path[seq // 2 + 1 : task.base_end + 1], start=1)
        ]
        if task is not None
        else [],
        edgeStates=[],
        actionStates=[],
        batteryState=BatteryState(batteryCharge=kw.get("battery", 80.0), charging=False),
        errors=[],
        safetyState=SafetyState(eStop="NONE", fieldViolation=False),
    )
    return st.model_dump_json().encode()


def at(fleet: FleetManager, serial: str, node: str) -> RobotView:
    """Report ``serial`` at ``node`` (a new robot appears there); return its view."""
    robot = fleet.robots.get(serial) or RobotView(serial, M, "sorting")
    header = robot.last_header + 1
    fleet._on_state(f"uagv/v2/{M}/{serial}/state", state(robot, node, header))
    return fleet.robots[serial]


def orders(bus: Bus, serial: str) -> list[dict[str, Any]]:
    return [from_json(p) for t, p in bus.sent if t.endswith(f"/{serial}/order")]


def base(order: dict[str, Any]) -> list[str]:
    return [n["nodeId"] for n in order["nodes"] if n["released"]]


def disjoint(traffic: Traffic) -> bool:
    cells = [c for held in traffic.cells.held().values() for c in held]
    return len(cells) == len(set(cells))


def test_a_base_stops_short_of_a_held_cell_and_goes_on_the_moment_it_is_freed() -> None:
    fleet, bus, _, traffic = master(*grid(10, 1))
    a, b = at(fleet, "sort-01", "G0_0"), at(fleet, "sort-02", "G3_0")
    fleet.send(b, "T-B", "sort", ["G3_0", "G9_0"], {})
    fleet.send(a, "T-A", "sort", ["G0_0", "G8_0"], {})
    assert base(orders(bus, "sort-02")[-1]) == ["G3_0", "G4_0", "G5_0", "G6_0"]  # three cells ahead
    assert base(orders(bus, "sort-01")[-1]) == ["G0_0", "G1_0", "G2_0"]  # G3_0 is B's
    assert traffic.cells.blocker("sort-01") == "sort-02" and disjoint(traffic)
    at(fleet, "sort-01", "G2_0")  # A waits at the end of its base
    assert len(orders(bus, "sort-01")) == 1 and traffic.cells.holds("sort-01") == ["G2_0"]
    at(fleet, "sort-02", "G4_0")  # B passed G3_0: A is given it at once, not on a timer
    update = orders(bus, "sort-01")[-1]
    assert update["orderUpdateId"] == 1 and base(update) == ["G2_0", "G3_0"]
    assert traffic.cells.waiting["sort-01"].cell == "G4_0" and disjoint(traffic)  # B's again
    assert traffic.cells.holds("sort-02") == ["G4_0", "G5_0", "G6_0"]


def test_two_robots_head_on_are_untangled_by_re_routing_one_around_the_other() -> None:
    fleet, bus, _, traffic = master(*grid(4, 3))
    a, b = at(fleet, "sort-01", "G1_1"), at(fleet, "sort-02", "G2_1")
    fleet.paused = True  # both get their orders before either is looked at
    fleet.send(a, "T-A", "sort", ["G1_1", "G3_1"], {})
    fleet.send(b, "T-B", "sort", ["G2_1", "G0_1"], {})
    fleet.paused = False
    assert traffic.cells.cycle("sort-01") == ["sort-01", "sort-02"]
    at(fleet, "sort-01", "G1_1")
    update = orders(bus, "sort-01")[-1]
    assert update["orderUpdateId"] == 1 and "G2_1" not in [n["nodeId"] for n in update["nodes"]]
    assert base(update)[:2] in (["G1_1", "G1_0"], ["G1_1", "G1_2"])
    assert a.task is not None and a.task.path[-1] == "G3_1" and traffic.cells.reroutes["sort-01"] == 1
    assert disjoint(traffic)
    at(fleet, "sort-01", base(update)[1])  # A stepped off the line: B may pass
    assert "G1_1" in base(orders(bus, "sort-02")[-1]) and disjoint(traffic)


def test_three_robots_waiting_in_a_ring_are_untangled_by_one_stepping_aside() -> None:
    # a triangle t0 t1 t2, each corner with two dead ends o and p (no way round: someone must back off)
    pos = {f"{k}{i}": (float(i), float(j)) for i in range(3) for j, k in enumerate("top")}
    adjacent: dict[str, list[str]] = {f"t{i}": [f"t{(i + 1) % 3}", f"t{(i + 2) % 3}"] for i in range(3)}
    for i in range(3):
        adjacent[f"t{i}"] += [f"o{i}", f"p{i}"]
        adjacent[f"o{i}"] = adjacent[f"p{i}"] = [f"t{i}"]
    fleet, bus, _, traffic = master(pos, adjacent)
    robots = [at(fleet, f"sort-0{i + 1}", f"t{i}") for i in range(3)]
    fleet.paused = True
    for i, robot in enumerate(robots):  # each to the dead end behind the next corner
        fleet.send(robot, f"T{i}", "sort", [f"t{i}", f"o{(i + 1) % 3}"], {})
    fleet.paused = False
    assert sorted(traffic.cells.cycle("sort-01") or []) == ["sort-01", "sort-02", "sort-03"]
    at(fleet, "sort-01", "t0")
    moved = [r for r in robots if r.task is not None and r.task.update_id > 0]
    assert len(moved) == 1 and disjoint(traffic)
    mover = moved[0]
    assert mover.task is not None
    side = base(orders(bus, mover.serial)[-1])[1]
    assert side.startswith("p")  # into its own dead end, off the others' ways
    at(fleet, mover.serial, side)  # it left its corner: the robot behind it goes on
    behind = next(r for r in robots if r.task is not None and r.task.path[1] == mover.node.replace("p", "t"))
    assert mover.node.replace("p", "t") in base(orders(bus, behind.serial)[-1]) and disjoint(traffic)


def test_a_robot_may_step_aside_into_a_cell_it_holds_itself() -> None:
    # a corridor G0_0 G1_0 G2_0 with one side cell G1_1 above G1_0: A (G1_0) and B (G2_0) head on
    pos = {"G0_0": (0.0, 0.0), "G1_0": (1.0, 0.0), "G2_0": (2.0, 0.0), "G1_1": (1.0, 1.0)}
    adjacent = {"G0_0": ["G1_0"], "G1_0": ["G0_0", "G2_0", "G1_1"], "G2_0": ["G1_0"], "G1_1": ["G1_0"]}
    fleet, bus, _, traffic = master(pos, adjacent)
    a, b = at(fleet, "sort-01", "G1_0"), at(fleet, "sort-02", "G2_0")
    fleet.paused = True  # no deadlock breaking yet
    fleet.send(a, "T-A", "sort", ["G1_0", "G2_0"], {})
    fleet.send(b, "T-B", "sort", ["G2_0", "G0_0"], {})
    fleet.paused = False
    # A still holds the side cell it came from (as a robot's state may list a passed node as released)
    traffic.cells.hold("sort-01", ["G1_0", "G1_1"])
    assert "G0_0" in fleet._ways(["sort-01", "sort-02"], "sort-01")  # B's way out: A must go up
    assert fleet._step_aside(traffic, a, fleet._ways(["sort-01", "sort-02"], "sort-01"))
    assert base(orders(bus, "sort-01")[-1]) == ["G1_0", "G1_1"]
    assert not set(traffic.cells.holds("sort-01")) & set(traffic.cells.holds("sort-02"))


def test_a_robot_steps_aside_where_it_need_not_come_back_the_same_way() -> None:
    # A (G1_0) and B (G2_0) head on along y = 0; A may step into the dead end D or up to G1_1, from where
    # G2_1 leads round to its stop G2_0 without passing G1_0 again, where B's followers would meet it
    pos = {"G0_0": (0.0, 0.0), "G1_0": (1.0, 0.0), "G2_0": (2.0, 0.0), "D": (1.0, -1.0)}
    pos |= {"G1_1": (1.0, 1.0), "G2_1": (2.0, 1.0)}
    adjacent = {
        "G0_0": ["G1_0"],
        "G1_0": ["D", "G0_0", "G2_0", "G1_1"],  # the dead end first: taken before, when it came first
        "G2_0": ["G1_0", "G2_1"],
        "D": ["G1_0"],
        "G1_1": ["G1_0", "G2_1"],
        "G2_1": ["G1_1", "G2_0"],
    }
    fleet, bus, _, traffic = master(pos, adjacent)
    a, b = at(fleet, "sort-01", "G1_0"), at(fleet, "sort-02", "G2_0")
    fleet.paused = True
    fleet.send(a, "T-A", "sort", ["G1_0", "G2_0"], {})
    fleet.send(b, "T-B", "sort", ["G2_0", "G0_0"], {})
    fleet.paused = False
    assert fleet._step_aside(traffic, a, fleet._ways(["sort-01", "sort-02"], "sort-01"))
    assert base(orders(bus, "sort-01")[-1]) == ["G1_0", "G1_1"]
    assert a.task is not None and a.task.path[a.task.base_end :] == ["G1_1", "G2_1", "G2_0"]


def test_a_robot_out_of_service_keeps_only_its_cell_and_others_go_round_it() -> None:
    fleet, bus, events, traffic = master(*grid(6, 3))
    a, b = at(fleet, "sort-01", "G0_1"), at(fleet, "sort-02", "G2_1")
    fleet.send(b, "T-B", "sort", ["G2_1", "G5_1"], {})
    fleet.send(a, "T-A", "sort", ["G0_1", "G5_1"], {})
    assert traffic.cells.holds("sort-02") == ["G2_1", "G3_1", "G4_1", "G5_1"]
    assert traffic.cells.blocker("sort-01") == "sort-02"
    fleet._on_connection(
        f"uagv/v2/{M}/sort-02/connection",
        b'{"headerId": 9, "timestamp": "2026-01-01T00:00:00.00Z", "version": "2.0.0", '
        b'"manufacturer": "acme", "serialNumber": "sort-02", "connectionState": "CONNECTIONBROKEN"}',
    )
    assert events.failed == [("sort-02", "connection CONNECTIONBROKEN")]
    assert traffic.cells.holds("sort-02") == ["G2_1"]  # it still stands there
    assert fleet.blocked("sorting") == {"G2_1"}
    route = [n["nodeId"] for n in orders(bus, "sort-01")[-1]["nodes"]]
    assert "G2_1" not in route and route[-1] == "G5_1"  # re-routed round it at once
    assert disjoint(traffic)


def test_an_idle_robot_in_the_way_parks_and_a_robot_going_to_park_can_be_given_work() -> None:
    parking = ["G0_2", "G4_2"]
    fleet, bus, _, traffic = master(*grid(5, 3), parking=parking)
    a, b = at(fleet, "sort-01", "G0_1"), at(fleet, "sort-02", "G2_1")
    fleet.send(a, "T-A", "sort", ["G0_1", "G4_1"], {})
    assert b.task is not None and b.task.kind == "park" and b.task.final_node in parking
    assert b.status == "idle" and fleet.idle("sorting") == [b]  # on its way to park, it can take work
    park = orders(bus, "sort-02")[-1]
    at(fleet, "sort-02", base(park)[-1])
    fleet.send(b, "T-B", "sort", [b.node, "G2_0"], {1: [("pick", {"parcel": "P1"})]})
    update = orders(bus, "sort-02")[-1]
    assert update["orderId"] == park["orderId"] and update["orderUpdateId"] == b.task.update_id > 0
    assert b.task.kind == "sort" and b.task.path[-1] == "G2_0" and b.task.order_id == park["orderId"]
    assert disjoint(traffic)
    assert not fleet.park(b)  # busy


def test_idle_robots_packed_round_a_robots_stop_move_up_one_cell_each_to_let_it_in() -> None:
    fleet, bus, _, traffic = master(*grid(4, 1))  # one lane, nowhere to park: no free cell beside b
    a, b, c = at(fleet, "sort-01", "G0_0"), at(fleet, "sort-02", "G1_0"), at(fleet, "sort-03", "G2_0")
    fleet.send(a, "T-A", "sort", ["G0_0", "G1_0"], {1: [("drop", {"chute": "C1"})]})
    assert a.task is not None and a.task.base_end == 0  # b stands on its stop
    assert c.task is not None and c.task.path == ["G2_0", "G3_0"]  # the front of the chain moves first
    assert b.task is not None and b.task.path == ["G1_0", "G2_0"] and b.task.base_end == 0
    (waits,) = fleet.open_tasks()  # robots going to park are left out
    assert waits["task"] == "T-A" and waits["waiting_for"] == "G1_0" and waits["blocker"] == "sort-02"
    at(fleet, "sort-03", "G3_0")
    assert b.task.base_end == 1  # c's cell freed: b moves up
    at(fleet, "sort-02", "G2_0")
    assert a.task.base_end == 1 and base(orders(bus, "sort-01")[-1])[-1] == "G1_0"
    assert disjoint(traffic)


def test_a_robot_moving_out_of_the_way_head_on_with_the_robot_it_makes_way_for_goes_elsewhere() -> None:
    pos = {c: (float(i), 0.0) for i, c in enumerate(["G0_0", "G1_0", "G2_0", "G3_0"])} | {"G1_1": (1.0, 1.0)}
    adjacent = {"G0_0": ["G1_0"], "G1_0": ["G0_0", "G2_0", "G1_1"], "G1_1": ["G1_0"]}
    adjacent |= {"G2_0": ["G1_0", "G3_0"], "G3_0": ["G2_0"]}  # one way from G1_0 to G3_0: through G2_0
    fleet, bus, _, traffic = master(pos, adjacent)
    a, b = at(fleet, "sort-01", "G2_0"), at(fleet, "sort-02", "G1_0")
    fleet.send(b, "PARK-B", "park", ["G1_0", "G3_0"], {})  # through a's cell, and a has nowhere to go
    assert b.task is not None and traffic.cells.blocker("sort-02") == "sort-01"
    fleet.send(a, "T-A", "sort", ["G2_0", "G1_0"], {1: [("drop", {"chute": "C1"})]})
    assert traffic.cells.blocker("sort-01") == "sort-02"  # a waits for b's cell; b now moves off its way
    assert b.task.final_node in ("G0_0", "G1_1") and "G2_0" not in b.task.path[b.task.base_end :]
    at(fleet, "sort-02", b.task.final_node)
    assert a.task is not None and a.task.base_end == 1 and base(orders(bus, "sort-01")[-1])[-1] == "G1_0"
    assert disjoint(traffic)


def test_the_way_to_the_nearest_free_cell_crosses_no_held_or_quiet_cell_and_no_lane_backwards() -> None:
    pos, adjacent = grid(4, 1)
    traffic = Traffic(adjacent, ["G1_0"], quiet=frozenset({"G1_0"}))
    assert traffic.nearest("G0_0", lambda c: c == "G3_0") is None  # only through the parking cell
    traffic = Traffic(adjacent, [])
    assert traffic.nearest("G0_0", lambda c: c == "G3_0") == ["G0_0", "G1_0", "G2_0", "G3_0"]
    traffic.cells.hold("sort-09", ["G2_0"])
    assert traffic.nearest("G0_0", lambda c: c == "G3_0") is None
    traffic = Traffic(adjacent, [], against=frozenset({("G1_0", "G2_0")}))
    assert traffic.nearest("G0_0", lambda c: c == "G3_0") is None


def test_a_restarted_master_holds_what_the_robots_may_stand_on() -> None:
    fleet, _, _, traffic = master(*grid(6, 1))
    task = ActiveTask("T-A", "sort", "T-A.1", "G5_0", set(), path=[f"G{i}_0" for i in range(6)])
    task.base_end, task.reached = 4, 1
    fleet.adopt("sort-01", M, "sorting", "G0_0", ActiveTask.from_plan(task.plan()))
    fleet.adopt("sort-02", M, "sorting", "G5_0")
    assert traffic.cells.holds("sort-01") == ["G0_0", "G1_0", "G2_0", "G3_0", "G4_0"]
    assert traffic.cells.holds("sort-02") == ["G5_0"]
    robot = at(fleet, "sort-01", "G3_0")  # its first state after the restart
    assert traffic.cells.holds("sort-01") == ["G3_0", "G4_0"] and robot.task is not None


def test_releases_within_the_stored_plan_are_not_stored_and_a_restart_takes_them_from_the_robot() -> None:
    fleet, bus, events, traffic = master(*grid(30, 1))
    robot = at(fleet, "sort-01", "G0_0")
    fleet.send(robot, "T-A", "sort", ["G0_0", "G29_0"], {})
    for x in range(1, 8):
        at(fleet, "sort-01", f"G{x}_0")
    task = robot.task
    assert task is not None and len(orders(bus, "sort-01")) > 3  # the order and its updates went out
    assert len(events.released) == 1  # stored once: the base G0_0-G3_0, allowing for it to grow to G15_0
    stored = ActiveTask.from_plan(events.released[-1])
    assert stored.bound == 15 and stored.update_id < task.update_id and stored.base_end < task.base_end
    # a restarted master holds every cell up to the stored bound until the robot says where it is
    fleet2, bus2, _, traffic2 = master(*grid(30, 1))
    fleet2.adopt("sort-01", M, "sorting", "G0_0", stored)
    assert traffic2.cells.holds("sort-01") == [f"G{x}_0" for x in range(16)]
    fleet2._on_state("uagv/v2/acme/sort-01/state", state(robot, "G7_0", robot.last_header + 1))
    again = fleet2.robots["sort-01"].task
    assert again is not None and (again.update_id, again.base_end) == (task.update_id, task.base_end)
    assert traffic2.cells.holds("sort-01") == traffic.cells.holds("sort-01")
    # the next release is the update the robot expects, not one it already has
    for x in range(8, 12):
        at(fleet2, "sort-01", f"G{x}_0")
    sent = orders(bus2, "sort-01")
    assert sent and sent[0]["orderUpdateId"] == task.update_id + 1
    assert [o["orderUpdateId"] for o in sent] == list(range(task.update_id + 1, again.update_id + 1))


def test_a_plan_is_stored_again_when_its_path_changes_or_its_base_outgrows_the_bound() -> None:
    task = ActiveTask("T", "sort", "O", "G20_0", set(), path=[f"G{i}_0" for i in range(21)])
    assert task.to_store()
    task.base_end = 3
    task.storing(12)
    assert task.bound == 15 and not task.to_store()
    task.base_end = 15
    assert not task.to_store()
    task.base_end = 16
    assert task.to_store()
    task.storing(12)
    assert task.bound == 20  # not beyond the path
    task.splice(16, ["G16_0", "G16_1", "G17_1", "G18_1", "G19_1", "G20_1", "G20_0"])
    assert task.to_store()


def test_the_console_shows_a_robot_waiting_on_traffic_with_its_waits_and_re_routes() -> None:
    robot = RobotStatus(
        serial="sort-01",
        kind="sorting",
        state="busy",
        battery_pct=80,
        task="SORT-1",
        waiting=True,
        waits=4,
        reroutes=1,
    )
    console = Console(width=100, record=True)
    console.print(_robots([robot]))
    assert "SORT-1 waiting 4w/1r" in console.export_text()


def test_a_new_order_reported_with_the_last_orders_sequence_id_frees_nothing_ahead() -> None:
    # sort-02 sorts from the induct G2_0 to the chute above it, eject G2_1, again and again: each order
    # is G2_1 -> G2_0 -> G2_1, so the previous order's last sequenceId (4) names G2_1 in the new one too
    fleet, bus, events, traffic = master(*grid(4, 2))
    b, a = at(fleet, "sort-02", "G2_1"), at(fleet, "sort-01", "G0_0")
    fleet.send(b, "T1", "sort", ["G2_1", "G2_0", "G2_1"], {})
    at(fleet, "sort-02", "G2_0")
    at(fleet, "sort-02", "G2_1")  # T1 done: its last state says G2_1, sequenceId 4
    assert b.task is None and traffic.cells.holds("sort-02") == ["G2_1"]
    fleet.send(b, "T2", "sort", ["G2_1", "G2_0", "G2_1"], {})
    fleet.send(a, "T-A", "sort", ["G0_0", "G2_0"], {})  # to the induct: it waits for sort-02 there
    assert traffic.cells.waiting["sort-01"].cell == "G2_0"
    # the robot takes T2 and says so before it has moved: the new orderId, still its last sequenceId
    assert b.task is not None
    stale = State(
        **header_fields(b.last_header + 1, M, "sort-02", 1000.0),
        orderId=b.task.order_id,
        orderUpdateId=0,
        lastNodeId="G2_1",
        lastNodeSequenceId=4,
        driving=False,
        operatingMode="AUTOMATIC",
        nodeStates=[NodeState(nodeId=n, sequenceId=2 * i, released=True) for i, n in enumerate(b.task.path)],
        edgeStates=[],
        actionStates=[],
        batteryState=BatteryState(batteryCharge=80.0, charging=False),
        errors=[],
        safetyState=SafetyState(eStop="NONE", fieldViolation=False),
    )
    fleet._on_state(f"uagv/v2/{M}/sort-02/state", stale.model_dump_json().encode())
    assert "G2_0" in traffic.cells.holds("sort-02")  # it has yet to drive there: not sort-01's
    assert "G2_0" not in base(orders(bus, "sort-01")[-1]) and disjoint(traffic)
    assert b.task.reached == 0
    at(fleet, "sort-02", "G2_1")  # it leaves for the induct
    at(fleet, "sort-02", "G2_0")  # and picks there
    assert "G2_0" not in base(orders(bus, "sort-01")[-1]) and disjoint(traffic)
    at(fleet, "sort-02", "G2_1")  # it left the induct: now sort-01 may go there
    assert base(orders(bus, "sort-01")[-1])[-1] == "G2_0" and disjoint(traffic)
    at(fleet, "sort-01", "G1_0")
    at(fleet, "sort-01", "G2_0")
    assert not events.alarms


def test_a_stored_plan_leaves_out_the_passed_path_and_resumes_at_the_same_indices() -> None:
    task = ActiveTask("T", "sort", "O", "G9_0", set(), path=[f"G{i}_0" for i in range(10)])
    task.actions = {3: [], 9: []}
    task.reached, task.release_start, task.base_end, task.update_id, task.asides = 6, 5, 8, 4, 2
    plan = task.plan()
    assert "G4_0" not in plan and "G5_0" in plan  # behind the robot and the last release: left out
    back = ActiveTask.from_plan(plan)
    assert back.path[5:] == task.path[5:] and len(back.path) == len(task.path)
    assert (back.reached, back.release_start, back.base_end, back.update_id, back.asides) == (6, 5, 8, 4, 2)
    assert back.next_stop(6) == 9


def test_a_plan_stored_again_after_a_splice_has_the_new_path_and_the_moved_actions() -> None:
    task = ActiveTask("T", "sort", "O", "G3_0", {"D"}, payload=["P1"], path=[f"G{i}_0" for i in range(4)])
    task.actions = {3: [make_action("drop", "D", {"loadId": "P1"})]}
    first = ActiveTask.from_plan(task.plan())
    task.splice(0, ["G0_0", "G0_1", "G1_1", "G2_1", "G3_1", "G3_0"])  # round a robot on G1_0
    task.base_end, task.update_id = 2, 1
    back = ActiveTask.from_plan(task.plan())
    assert first.path == [f"G{i}_0" for i in range(4)] and list(first.actions) == [3]
    assert back.path == task.path and back.actions == task.actions and list(back.actions) == [5]
    assert (back.base_end, back.update_id, back.action_ids, back.payload) == (2, 1, {"D"}, ["P1"])


def test_a_tasks_first_stop_moves_with_a_splice() -> None:
    task = ActiveTask("T", "sort", "O", "G3_0", {"P", "D"}, path=[f"G{i}_0" for i in range(4)])
    assert task.first_stop() is None  # no actions yet
    task.actions = {1: [make_action("pick", "P")], 3: [make_action("drop", "D")]}
    assert task.first_stop() == 1 and task.first_stop() == 1  # the second answer is the kept one
    task.splice(0, ["G0_0", "G0_1", "G1_1", "G1_0"])  # round a robot on the way to the pick
    assert list(task.actions) == [3, 5] and task.first_stop() == 3
    assert task.path[task.first_stop()] == "G1_0"


def test_a_task_driven_too_long_raises_one_alarm_naming_what_it_waits_for() -> None:
    fleet, _, events, _ = master(*grid(4, 1))  # one lane: robots that never move block it for good
    fleet.task_alarm_s = 900.0
    robots = [at(fleet, "sort-01", "G0_0"), at(fleet, "sort-02", "G1_0"), at(fleet, "sort-03", "G2_0")]
    fleet.send(robots[0], "T-A", "sort", ["G0_0", "G1_0"], {1: [("drop", {"chute": "C1"})]})
    clock = fleet.clock
    assert isinstance(clock, VirtualClock)
    for t in (1899.0, 1901.0, 2500.0):  # sent at 1000
        clock.run(until=t)
        for r in robots:
            at(fleet, r.serial, r.node)  # still reporting, still where they were
        fleet.check_timeouts()
        if t == 1899.0:
            assert not [m for m in events.alarms if "T-A" in m]
    (alarm,) = [m for m in events.alarms if "T-A" in m]  # once, not at every check
    assert alarm.startswith("sort task T-A on sort-01 running 901 s: at G0_0")
    assert "bound for G1_0, 1 nodes left" in alarm and "waiting for G1_0 held by sort-02 (idle," in alarm
    assert not [m for m in events.alarms if "park task" in m.split(":")[0]]  # parking is left out


def _chute_lane() -> tuple[FleetManager, Bus, Events, Traffic, RobotView]:
    """The lane x = 1 between a parking column (x = 0) and a chute at G2_2, as in the 250,000-order day.

    A sorts to the chute's left side G1_2. B stands there, going to park down the lane through A's cell;
    C, behind B, also goes to park down the lane. Nobody can go round anybody, and B cannot move aside.
    """
    pos, adjacent = grid(4, 5)
    del pos["G2_2"]
    adjacent = {c: [n for n in ns if n != "G2_2"] for c, ns in adjacent.items() if c != "G2_2"}
    fleet, bus, events, traffic = master(pos, adjacent, parking=[f"G0_{y}" for y in range(5)])
    a, b, c = at(fleet, "sort-01", "G1_1"), at(fleet, "sort-02", "G1_2"), at(fleet, "sort-03", "G1_3")
    fleet.paused = True  # every order out before any deadlock is looked at
    fleet.send(b, "PARK-B", "park", ["G1_2", "G0_0"], {})
    fleet.send(c, "PARK-C", "park", ["G1_3", "G0_1"], {})
    ejects = ["G2_1", "G1_2", "G3_2", "G2_3"]
    fleet.send(a, "T-A", "sort", ["G1_1", "G1_2"], {1: [("drop", {"chute": "C1"})]}, alternatives=ejects)
    fleet.paused = False
    assert traffic.cells.cycle("sort-01") == ["sort-01", "sort-02"]
    return fleet, bus, events, traffic, a


def test_a_robot_whose_drop_cell_stays_out_of_reach_drops_from_another_side_of_the_chute() -> None:
    fleet, bus, _, traffic, a = _chute_lane()
    assert a.task is not None and a.task.alternatives == ["G2_1", "G3_2", "G2_3"]
    at(fleet, "sort-01", "G1_1")
    task = a.task
    assert task.final_node == "G2_1" and task.path[task.base_end - 1 :] == ["G1_1", "G2_1"]
    assert task.asides == 0 and task.alternatives == ["G3_2", "G2_3"]  # never back to G1_2
    (drop,) = task.actions.values()
    assert task.actions == {len(task.path) - 1: drop} and drop[0].actionType == "drop"
    last = orders(bus, "sort-01")[-1]["nodes"][-1]
    assert last["nodeId"] == "G2_1" and [x["actionType"] for x in last["actions"]] == ["drop"]
    assert ActiveTask.from_plan(task.plan()).alternatives == task.alternatives
    at(fleet, "sort-01", "G2_1")  # A left the lane: B goes down it
    assert "G1_1" in base(orders(bus, "sort-02")[-1]) and disjoint(traffic)


def test_without_another_side_the_robot_steps_aside_as_before() -> None:
    fleet, _, events, traffic, a = _chute_lane()
    assert a.task is not None
    a.task.alternatives = ["G1_1"]  # its own base end: an update's first node carries no actions
    at(fleet, "sort-01", "G1_1")
    assert a.task.final_node == "G1_2" and a.task.asides == 1 and disjoint(traffic)
    fleet.task_alarm_s = 900.0
    clock = fleet.clock
    assert isinstance(clock, VirtualClock)
    clock.run(until=1901.0)
    fleet.check_timeouts()
    (alarm,) = [m for m in events.alarms if "T-A" in m]  # it names whom it made way for
    assert "1 steps aside, the last for sort-02 (idle, park task PARK-B, at G1_2)" in alarm


@pytest.mark.parametrize(
    ("bound", "side"),
    [((), "G2_1"), (("G2_1",), "G3_2"), (("G2_1", "G3_2", "G2_3"), "G2_1")],
)
def test_a_side_no_other_robot_is_bound_for_is_preferred_then_the_nearest(
    bound: tuple[str, ...], side: str
) -> None:
    fleet, _, _, _, a = _chute_lane()
    for i, cell in enumerate(bound):  # robots far off (not on the grid's cells), each bound for a side
        other = fleet.robots[f"sort-1{i}"] = RobotView(f"sort-1{i}", M, "sorting", node=f"far{i}")
        other.task = ActiveTask(f"T-{i}", "sort", f"T-{i}.1", cell, set(), path=[f"far{i}", cell])
    at(fleet, "sort-01", "G1_1")
    assert a.task is not None and a.task.final_node == side


def test_the_slow_task_alarm_follows_the_chain_of_robots_the_task_waits_behind() -> None:
    fleet, _, events, traffic = master(*grid(4, 1))  # one lane, no parking: nobody can make way
    fleet.task_alarm_s = 900.0
    robots = [at(fleet, f"sort-0{i + 1}", f"G{i}_0") for i in range(3)]
    fleet.send(robots[1], "PARK-B", "park", ["G1_0", "G3_0"], {})  # waits for sort-03, idle
    fleet.send(robots[0], "T-A", "sort", ["G0_0", "G1_0"], {1: [("drop", {"chute": "C1"})]})
    assert traffic.cells.chain("sort-01") == ["sort-01", "sort-02", "sort-03"]
    clock = fleet.clock
    assert isinstance(clock, VirtualClock)
    clock.run(until=1901.0)
    for r in robots:
        at(fleet, r.serial, r.node)
    fleet.check_timeouts()
    (alarm,) = [m for m in events.alarms if "T-A" in m]
    assert alarm.endswith(
        "waiting for G1_0 held by sort-02 (idle, park task PARK-B, at G1_0), "
        "which waits for G2_0 held by sort-03 (idle, no task, at G2_0)"
    )


def test_robots_of_a_kind_follow_the_fleet_however_a_robot_joined_it() -> None:
    """The scans by kind see a robot that reported itself and one put into the registry directly."""
    fleet, _, _, _ = master(*grid(3, 1))
    a = at(fleet, "sort-01", "G0_0")
    assert fleet.of_kind("sorting") == [a] and fleet.of_kind("picking") == []
    b = fleet.robots["pick-01"] = RobotView("pick-01", M, "picking", node="P1")
    c = at(fleet, "sort-02", "G2_0")
    assert fleet.of_kind("sorting") == [a, c] and fleet.of_kind("picking") == [b]
    assert fleet.idle("sorting") == [a, c]
