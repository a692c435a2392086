"""Exclusive cell reservations: holds, freeing, waiting, the wait-for graph, routes around held cells."""

from __future__ import annotations

from wms.sorting.reservations import Reservations, route


def test_a_cell_is_granted_to_one_robot_only_and_the_refused_robot_waits_for_it() -> None:
    cells = Reservations()
    cells.hold("A", ["a0"])
    assert cells.grant("A", ["a1", "x", "a3"], now=0.0) == 3
    cells.hold("B", ["b0"])
    assert cells.grant("B", ["b1", "x", "b3"], now=1.0) == 1  # x is A's: B gets b1 and stops there
    assert cells.holds("B") == ["b0", "b1"] and cells.holders("x") == {"A"}
    assert cells.waiting["B"].cell == "x" and cells.blocker("B") == "A"
    assert cells.waits["B"] == 1 and "A" not in cells.waiting
    assert not cells.check()


def test_cells_are_freed_as_the_robot_passes_them_and_the_robot_waiting_for_one_goes_on() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "x", "a2"])
    cells.hold("B", ["b0"])
    cells.grant("B", ["x"], now=0.0)
    assert cells.waiters(["x"]) == ["B"]
    assert cells.hold("A", ["a2"]) == ["a0", "x"]  # A reports standing on a2: what it left is free
    assert cells.waiters(["a0", "x"]) == ["B"]
    assert cells.grant("B", ["x"], now=2.0) == 1
    assert cells.holds("B") == ["b0", "x"] and "B" not in cells.waiting


def test_holding_the_same_cells_again_changes_nothing_and_a_changed_order_is_a_new_hold() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "x"])
    cells.hold("B", ["b0"])
    cells.grant("B", ["x"], now=0.0)
    assert cells.hold("A", ["a0", "x"]) == [] and cells.holds("A") == ["a0", "x"]
    assert cells.holders("x") == {"A"} and cells.waiters([]) == [] and cells.waiters(["x"]) == ["B"]
    assert cells.hold("A", ["x", "a0"]) == [] and cells.holds("A") == ["x", "a0"]  # stands on x now
    assert cells.hold("A", ["x"]) == ["a0"] and not cells.held_by_any("a0")
    assert not cells.check()


def test_a_robot_that_got_some_cells_waits_afresh_where_it_will_stop() -> None:
    cells = Reservations()
    cells.hold("A", ["y"])
    cells.hold("B", ["b0"])
    cells.grant("B", ["y"], now=0.0)
    cells.grant("B", ["y"], now=5.0)  # still refused: the same wait goes on
    assert cells.waiting["B"].since == 0.0 and cells.overdue(now=40.0, after_s=30.0) == ["B"]
    cells.hold("A", ["z"])
    cells.grant("B", ["y", "z"], now=41.0)  # moved on by one cell, refused the next
    assert cells.waiting["B"].since == 41.0 and cells.overdue(now=42.0, after_s=30.0) == []
    assert cells.waits["B"] == 1


def test_head_on_robots_are_a_deadlock() -> None:
    cells = Reservations()
    cells.hold("A", ["a"])
    cells.hold("B", ["b"])
    cells.grant("A", ["b"], now=0.0)
    assert cells.cycle("A") is None  # B does not wait: it will move on
    cells.grant("B", ["a"], now=0.0)
    assert cells.cycle("A") == ["A", "B"] and cells.cycle("B") == ["B", "A"]


def test_three_robots_waiting_in_a_ring_are_a_deadlock_and_one_waiting_on_it_is_not_part_of_it() -> None:
    cells = Reservations()
    for robot, cell in (("A", "a"), ("B", "b"), ("C", "c"), ("D", "d")):
        cells.hold(robot, [cell])
    cells.grant("A", ["b"], now=0.0)
    cells.grant("B", ["c"], now=0.0)
    cells.grant("C", ["a"], now=0.0)
    cells.grant("D", ["a"], now=0.0)
    assert cells.cycle("A") == ["A", "B", "C"] and cells.cycle("C") == ["C", "A", "B"]
    assert cells.cycle("D") is None and cells.chain("D") == ["D", "A", "B", "C"]


def test_waiting_for_a_cell_the_blocker_will_pass_is_no_deadlock() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "x", "a2"])  # x is in A's base, not where A stops
    cells.hold("B", ["b0"])
    cells.grant("B", ["x"], now=0.0)
    cells.grant("A", ["b0"], now=0.0)
    assert cells.blocker("B") == "A" and not cells.stuck("B") and cells.cycle("A") is None


def test_a_robot_out_of_service_keeps_only_the_cell_it_stands_on() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "a1", "a2"])
    cells.hold("B", ["b0"])
    cells.grant("B", ["a1"], now=0.0)
    assert cells.release("A", keep="a0") == ["a1", "a2"]
    assert cells.holds("A") == ["a0"] and cells.waiters(["a1"]) == ["B"]
    assert cells.release("B") == ["b0"] and "B" not in cells.waiting and cells.held() == {"A": ["a0"]}


def test_after_a_restart_a_cell_may_be_held_twice_until_the_robots_report() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "x"])
    cells.hold("B", ["x", "b1"])
    assert cells.check() == ["x held by A, B"] and not cells.free_for("A", "x")
    assert cells.hold("A", ["a0"]) == []  # x is still B's
    assert cells.holders("x") == {"B"} and not cells.check()


def test_routes_go_around_avoided_cells_and_prefer_the_lanes() -> None:
    #  a - b - c
    #  |   |   |
    #  d - e - f
    adjacent = {
        "a": ["b", "d"],
        "b": ["a", "c", "e"],
        "c": ["b", "f"],
        "d": ["a", "e"],
        "e": ["b", "d", "f"],
        "f": ["c", "e"],
    }
    assert route(adjacent, "a", "c") == ["a", "b", "c"]
    assert route(adjacent, "a", "c", avoid={"b"}) == ["a", "d", "e", "f", "c"]
    assert route(adjacent, "a", "c", avoid={"b", "e"}) is None
    assert route(adjacent, "a", "c", avoid={"c"}) is None
    against = {("a", "b"), ("b", "c")}  # the top row runs west
    assert route(adjacent, "a", "c", against=against, penalty=3) == ["a", "d", "e", "f", "c"]
    assert route(adjacent, "a", "c", against=against, penalty=0) == ["a", "b", "c"]


def test_held_by_any_says_what_holders_says() -> None:
    cells = Reservations()
    cells.hold("A", ["a0", "x"])
    cells.hold("B", ["b0"])
    for cell in ("a0", "x", "b0", "nowhere"):
        assert cells.held_by_any(cell) == bool(cells.holders(cell))
    cells.hold("A", ["x"])  # a0 freed: its owner set is left empty
    assert not cells.held_by_any("a0") and not cells.holders("a0") and cells.held_by_any("x")
