"""Traffic control of a fleet on a grid: how the fleet manager keeps and uses exclusive cell reservations.

A mixin of `FleetManager`, active for the maps that carry a `Traffic` (the sorting grid). A robot's base
is extended only over cells no other robot holds, at most ``release_nodes`` ahead of where it is; cells
are freed as its state shows it passed them, and robots waiting for a freed cell are looked at again at
once. An idle robot in the way is parked (or steps aside); robots stuck behind each other in a cycle are
untangled by re-routing one around the others' cells, by sending one to another of the nodes its last
stop may be at (another side of its chute), or by stepping one aside; a robot waiting longer than
``wait_s`` is re-routed around what blocks it (or to another side of its chute), or gives its task back
if that is out of service.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wms.robots.vda5050 import StateDict
from wms.sorting.reservations import Reservations, route

if TYPE_CHECKING:
    from wms.control.fleet import ActiveTask, FleetManager, RobotView


@dataclass
class Traffic:
    """Traffic control of one map: the grid's neighbours, its parking cells and the reservations."""

    adjacent: Mapping[str, Sequence[str]]
    parking: list[str]
    quiet: frozenset[str] = frozenset()  # start or end of a route, never crossed (parking, chargers)
    against: frozenset[tuple[str, str]] = frozenset()  # moves against a lane's direction (cost more)
    wait_s: float = 30.0
    ahead: int = 3  # cells a robot may hold ahead of the one it stands on (at most release_nodes)
    cells: Reservations = field(default_factory=Reservations)
    parking_cells: frozenset[str] = field(init=False)  # ``parking`` as a set

    def __post_init__(self) -> None:
        self.parking_cells = frozenset(self.parking)

    def route(self, a: str, b: str, avoid: Collection[str] = ()) -> list[str] | None:
        """Cheapest route from ``a`` to ``b`` around ``avoid``, with the lanes, crossing no quiet cell."""
        return route(self.adjacent, a, b, (self.quiet - {a, b}) | set(avoid), self.against)

    def nearest(self, start: str, ok: Callable[[str], bool]) -> list[str] | None:
        """The way from ``start`` to the nearest cell for which ``ok`` holds, over free cells, with the lanes.

        Breadth-first: every cell of the way is free now, so a robot sent along it is held up by nobody.
        It crosses no quiet cell and no lane against its direction (a one-cell move against a lane could
        be routed round a block).
        """
        came: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            for nxt in self.adjacent.get(cell, ()):
                if (
                    nxt in came
                    or nxt in self.quiet
                    or self.cells.held_by_any(nxt)
                    or (cell, nxt) in self.against
                ):
                    continue
                came[nxt] = cell
                if ok(nxt):
                    return _back(came, nxt)
                queue.append(nxt)
        return None

    def shove(
        self, start: str, ok: Callable[[str], bool], movable: Callable[[str], bool]
    ) -> list[str] | None:
        """Shortest chain of cells from ``start`` to a free cell, every cell on it ``ok``; None if none.

        The cells between are held by robots that ``movable`` says may shift one cell on along the chain,
        with the lanes. Where idle robots stand packed round each other, none has a free cell beside it;
        a chain lets each move up one cell, the last one into the free cell.
        """
        came: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            for nxt in self.adjacent.get(cell, ()):
                if nxt in came or not ok(nxt) or (cell, nxt) in self.against:
                    continue  # against a lane, a one-cell move could be routed round a block
                holders = self.cells.holders(nxt)
                if holders and not all(movable(h) for h in holders):
                    continue
                came[nxt] = cell
                if not holders:
                    return _back(came, nxt)
                queue.append(nxt)
        return None


def _back(came: Mapping[str, str | None], end: str) -> list[str]:
    """The breadth-first search's way to ``end``, from where it started."""
    way = [end]
    while (prev := came[way[-1]]) is not None:
        way.append(prev)
    return way[::-1]


def last_occurrences(cells: Sequence[str]) -> list[str]:
    """``cells`` without repeats, each kept where it last occurs (the robot's stop stays last)."""
    return list(dict.fromkeys(reversed(cells)))[::-1]


class TrafficControl:
    """Cell reservations as `FleetManager` keeps them, for the maps with traffic control."""

    def _traffic(self: FleetManager, robot: RobotView) -> Traffic | None:
        return self.maps[robot.kind].traffic

    def _window_end(self: FleetManager, robot: RobotView, task: ActiveTask, start: int) -> int:
        """Index of the last node a release from ``start`` may reach (over cells nobody else holds)."""
        last = len(task.path) - 1
        caps = robot.factsheet
        if caps is not None and caps.max_nodes is not None:  # an order carries its first node too
            last = min(last, start + caps.max_nodes - 1)
        traffic = self._traffic(robot)
        if traffic is None:
            return min(last, start + self.release_nodes)
        ahead = task.path[start + 1 : min(last, task.reached + self._ahead(traffic)) + 1]
        return start + traffic.cells.grant(robot.serial, ahead, self.clock.now())

    def _ahead(self: FleetManager, traffic: Traffic) -> int:
        return max(1, min(traffic.ahead, self.release_nodes))

    def _due(self: FleetManager, robot: RobotView, task: ActiveTask) -> bool:
        """Whether to release more: the robot is within half a window of the end of its base."""
        traffic = self._traffic(robot)
        window = self.release_nodes if traffic is None else self._ahead(traffic)
        return task.base_end - task.reached <= window // 2

    def _reached(self: FleetManager, robot: RobotView, task: ActiveTask, st: StateDict) -> int:
        """Path index of the node the robot stands on or passed last, from its lastNodeSequenceId."""
        i = st["lastNodeSequenceId"] // 2
        if self._traffic(robot) is None:
            return i
        # A robot may report its new orderId with the sequenceId of its previous order. The node may match
        # by chance (a path back to where it starts: induct and eject side by side), so trust the
        # sequenceId only if the robot no longer lists a node up to it among those it has to traverse.
        stale = any(n["sequenceId"] <= st["lastNodeSequenceId"] for n in st["nodeStates"])
        if not stale and i <= task.base_end and task.path[i] == st["lastNodeId"]:
            return max(task.reached, i)
        return task.reached

    def _sync_cells(self: FleetManager, robot: RobotView, st: StateDict) -> None:
        """Hold what the robot may occupy by its state; robots waiting for freed cells go on."""
        traffic = self._traffic(robot)
        if traffic is None:
            return
        task = robot.task
        if task is not None and st["orderId"] == task.order_id:
            # and any released node the robot still lists to traverse, should its progress be misread
            listed = [n["nodeId"] for n in st["nodeStates"] if n["released"]]
            cells = [robot.node, *listed, *task.path[task.reached : task.base_end + 1]]
        elif task is not None:  # its base is granted but its state does not show the order yet
            cells = [robot.node, *task.path[1 : task.base_end + 1]]
        else:  # idle, or still driving an order being cancelled
            cells = [robot.node, *(n["nodeId"] for n in st["nodeStates"] if n["released"] and robot.stray)]
        for other in traffic.cells.holders(robot.node) - {robot.serial}:
            if self.robots[other].node == robot.node and self.robots[other].last_seen > 0:
                self.events.alarm("error", "traffic", f"{robot.serial} and {other} both report {robot.node}")
        self._free(traffic, traffic.cells.hold(robot.serial, last_occurrences(cells)))

    def _free(self: FleetManager, traffic: Traffic, freed: list[str]) -> None:
        """Look again at once at the robots waiting for one of the ``freed`` cells."""
        for serial in traffic.cells.waiters(freed):
            robot = self.robots[serial]
            if robot.task is not None:
                self._extend(robot, robot.task)

    def _release_cells(self: FleetManager, robot: RobotView) -> None:
        """The robot has no task any more: it holds only the cell it stands on, which others go round."""
        traffic = self._traffic(robot)
        if traffic is not None:
            self._free(traffic, traffic.cells.release(robot.serial, robot.node or None))
            for serial in traffic.cells.waiters(traffic.cells.holds(robot.serial)):
                self._unstick(self.robots[serial])

    def _hold_adopted(self: FleetManager, robot: RobotView, task: ActiveTask | None) -> None:
        """After a restart: hold where the robot was and every cell of its base it may not have passed, up
        to the furthest base its stored plan allows for (its state soon says how far it was released)."""
        traffic = self._traffic(robot)
        if traffic is not None:
            ahead = task.path[task.reached : max(task.base_end, task.bound) + 1] if task else []
            traffic.cells.hold(robot.serial, last_occurrences([robot.node, *ahead]))

    def blocked(self: FleetManager, kind: str) -> set[str]:
        """Cells where robots of ``kind`` stand out of service (offline or in error): no work there."""
        traffic = self.maps[kind].traffic
        if traffic is None:
            return set()
        # status offline or error, asked directly
        out = (r for r in self.of_kind(kind) if not r.online or r.error or r.unfit)
        return {c for r in out for c in traffic.cells.holds(r.serial)}

    def park(self: FleetManager, robot: RobotView) -> bool:
        """Send an idle robot out of the traffic, to the nearest free parking cell; False if it stays."""
        traffic = self._traffic(robot)
        if traffic is None or self.paused or robot.node in traffic.parking_cells or robot.task is not None:
            return False
        if not self._ready(robot):
            return False
        unheld = [c for c in traffic.parking if not traffic.cells.held_by_any(c)]
        if not unheld:  # every parking cell taken (checked every 15 s for each robot that could not park)
            return False
        goals = {r.task.final_node for r in self.of_kind(robot.kind) if r.task is not None}  # on its map
        free = [c for c in unheld if c not in goals]
        if not free:
            return False
        distance = self.maps[robot.kind].distance
        self._park_at(robot, [robot.node, min(free, key=lambda c: (distance(robot.node, c), c))])
        return True

    def _park_at(self: FleetManager, robot: RobotView, stops: list[str]) -> None:
        """Send the robot through ``stops`` to stand at the last (as a park task: it can take work)."""
        self._seq += 1
        self.send(robot, f"PARK-{robot.serial}-{self._seq}", "park", stops, {})

    def _unstick(self: FleetManager, robot: RobotView) -> None:
        """A robot waits: an idle robot in its way gives way; a deadlock it is part of is broken."""
        traffic = self._traffic(robot)
        if traffic is None or self.paused or robot.serial not in traffic.cells.waiting:
            return
        blocker = self.robots.get(traffic.cells.blocker(robot.serial) or "")
        if blocker is not None and self._shiftable(blocker.serial):
            self._make_way(traffic, blocker, robot)
            return
        if (
            blocker is not None
            and self._head_on_move(traffic, blocker, robot)
            and self._make_way(traffic, blocker, robot)
        ):
            return
        if blocker is not None and blocker.status in ("offline", "error"):
            self._reroute(robot, self._standing(traffic, robot.serial))
            return
        cycle = traffic.cells.cycle(robot.serial)
        if cycle is None:
            return
        order = sorted(cycle, key=lambda s: (traffic.cells.reroutes[s], s))
        for serial in order:
            if self._reroute(self.robots[serial], self._standing(traffic, serial)):
                return
        for serial in order:  # nobody can go round the others: one drops where it can get, if it may
            if self._retarget(self.robots[serial], self._standing(traffic, serial)):
                return
        for serial in order:  # nobody can go round the others (they stand on its goal): one steps aside
            if self._step_aside(traffic, self.robots[serial], self._ways(cycle, serial)):
                return

    def _standing(self: FleetManager, traffic: Traffic, serial: str) -> set[str]:
        """Cells held by the robots other than ``serial`` that do not move now (waiting or without a task)."""
        return {
            cell
            for other, cells in traffic.cells.held().items()
            if other != serial and (other in traffic.cells.waiting or self.robots[other].task is None)
            for cell in cells
        }

    def _make_way(self: FleetManager, traffic: Traffic, idle: RobotView, waiting: RobotView) -> bool:
        """A robot in the way parks, or moves off the waiting robot's way; False if it cannot.

        ``idle`` has no task, or is on a park move (`_head_on_move`), which goes on from its base end.
        Off the way means along free cells to the nearest free cell, or, where other idle robots hem it
        in, along a chain of them: each moves up one cell, the last one into a free cell off the way.
        """
        traffic.cells.reroutes[idle.serial] += 1
        if self.park(idle):
            return True
        start = idle.task.path[idle.task.base_end] if idle.task is not None else idle.node
        task = waiting.task
        way = set(task.path[task.base_end :]) if task else set()

        def off_way(c: str) -> bool:
            return c not in way and c not in traffic.quiet

        cells = traffic.nearest(start, off_way)
        if cells is not None:
            self._park_at(idle, cells)
            return True
        chain = traffic.shove(start, off_way, lambda s: s != waiting.serial and self._shiftable(s))
        if chain is None:
            return False
        movers = [idle.serial] + [next(iter(traffic.cells.holders(c))) for c in chain[1:-1]]
        for i in reversed(range(len(movers))):  # the front first, so each cell is free for the one behind
            self._park_at(self.robots[movers[i]], chain[i : i + 2])
        return True

    def _head_on_move(self: FleetManager, traffic: Traffic, mover: RobotView, waiting: RobotView) -> bool:
        """``mover``, on a park move (parking, or making way), waits for a cell ``waiting`` holds, while
        ``waiting`` waits for ``mover``'s: neither gives, so the move is planned again round ``waiting``."""
        return (
            mover.task is not None
            and mover.task.kind == "park"
            and traffic.cells.blocker(mover.serial) == waiting.serial
        )

    def _shiftable(self: FleetManager, serial: str) -> bool:
        """An idle robot without a task (so it holds only the cell it stands on): it may be moved."""
        robot = self.robots[serial]
        return robot.task is None and self._ready(robot)

    def _reroute(self: FleetManager, robot: RobotView, avoid: set[str]) -> bool:
        """Route the robot from its base end to its next stop around ``avoid``; False if there is no way."""
        traffic, task = self._traffic(robot), robot.task
        if traffic is None or task is None or task.base_end >= len(task.path) - 1:
            return False
        at = task.base_end
        stop = task.next_stop(at)
        segment = traffic.route(task.path[at], task.path[stop], avoid - {task.path[at]})
        if segment is None or segment == task.path[at : stop + 1]:
            return False
        return self._take(traffic, robot, task, segment)

    def _retarget(self: FleetManager, robot: RobotView, avoid: set[str]) -> bool:
        """Move the task's last stop to the nearest of its alternatives reachable around ``avoid``.

        A sorting robot may drop a parcel from any eject cell of its chute. Where robots going to park
        or charge crowd the single lane beside a chute, the planned cell can stay out of reach while the
        robot steps aside again and again; another side of the chute ends the task, and an idle robot
        can be moved. Not the base end itself: an update's first node carries no actions. A cell no
        other robot holds or is bound for is preferred; behind a robot that drops there, this one waits
        its turn. A robot goes to each alternative at most once and never back to a cell it gave up, so
        it cannot swing between two sides of a chute. False if nothing changed.
        """
        traffic, task = self._traffic(robot), robot.task
        if traffic is None or task is None or not task.alternatives:
            return False
        at = task.base_end
        if task.next_stop(at) != len(task.path) - 1:  # only the last stop moves
            return False
        here = task.path[at]
        bound = {r.task.final_node for r in self.robots.values() if r.task is not None and r is not robot}
        ways = []
        for alt in task.alternatives:
            way = traffic.route(here, alt, avoid - {here}) if alt != here else None
            if way is not None:
                taken = alt in bound or not traffic.cells.free_for(robot.serial, alt)
                ways.append((taken, len(way), alt, way))
        if not ways:
            return False
        *_, best = min(ways)
        task.alternatives = [c for c in task.alternatives if c != best[-1]]
        task.final_node = best[-1]
        return self._take(traffic, robot, task, best)

    def _ways(self: FleetManager, serials: list[str], but: str) -> set[str]:
        """The cells the robots ``serials`` other than ``but`` mean to drive to their next stops."""
        ways: set[str] = set()
        for serial in serials:
            task = self.robots[serial].task
            if serial != but and task is not None:
                ways.update(task.path[task.base_end + 1 : task.next_stop(task.base_end) + 1])
        return ways

    def _step_aside(self: FleetManager, traffic: Traffic, robot: RobotView, ways: set[str]) -> bool:
        """Move the robot from its base end to a free neighbouring cell off the others' ``ways``.

        From there it goes on to its next stop. A side cell from which it can get there without coming
        back through the cell it leaves is preferred: from a dead end it would come straight back into
        the robots it made way for, and may shuttle in and out for as long as they keep coming. Then a
        side cell not next to the stop, so that the robot does not wait in the way of whoever leaves it.
        """
        task = robot.task
        if task is None or task.base_end >= len(task.path) - 1:
            return False
        at = task.base_end
        here, stop = task.path[at], task.path[task.next_stop(at)]
        sides = [
            c
            for c in traffic.adjacent.get(here, ())
            if traffic.cells.free_for(robot.serial, c)  # a cell it holds itself is free for it
            and c not in traffic.quiet
            and c not in ways
            and c != stop
        ]
        ranked = sorted(sides, key=lambda c: stop in traffic.adjacent.get(c, ()))
        for side in ranked:  # routes are searched only until one side will do
            around = traffic.route(side, stop, {here})
            if around is not None:
                return self._take(traffic, robot, task, [here, *around], aside=True)
        for side in ranked:
            back = traffic.route(side, stop)
            if back is not None:
                return self._take(traffic, robot, task, [here, *back], aside=True)
        return False

    def _take(
        self: FleetManager,
        traffic: Traffic,
        robot: RobotView,
        task: ActiveTask,
        segment: list[str],
        aside: bool = False,
    ) -> bool:
        """Drive ``segment`` from the base end instead of the planned way to the next stop.

        ``aside``: only the first cell of ``segment`` is released, so that the cell the robot leaves is
        free for the others even if its way comes back through it.
        """
        if aside:
            task.aside_for = traffic.cells.blocker(robot.serial) or task.aside_for
        task.splice(task.base_end, segment)
        task.asides += aside
        traffic.cells.reroutes[robot.serial] += 1
        traffic.cells.waiting.pop(robot.serial, None)
        if not aside:
            self._extend(robot, task, resolve=False)
        elif traffic.cells.grant(robot.serial, segment[1:2], self.clock.now()):
            task.update_id += 1
            self._release(robot, task, task.base_end, task.base_end + 1)
        return True

    def _overdue_waits(self: FleetManager) -> None:
        """Robots waiting past ``wait_s``: re-route them round what blocks them, or take their task back."""
        if self.paused:
            return
        now = self.clock.now()
        for fmap in self.maps.values():
            traffic = fmap.traffic
            if traffic is None:
                continue
            for serial in traffic.cells.overdue(now, traffic.wait_s):
                robot = self.robots[serial]
                blocker = self.robots.get(traffic.cells.blocker(serial) or "")
                if robot.task is None or serial not in traffic.cells.waiting:
                    traffic.cells.waiting.pop(serial, None)
                elif blocker is None:
                    self._extend(robot, robot.task)
                elif (
                    self._shiftable(blocker.serial) or self._head_on_move(traffic, blocker, robot)
                ) and self._make_way(traffic, blocker, robot):
                    continue  # the robot in the way moved
                elif self._reroute(
                    robot,
                    around := self._standing(traffic, serial).union(traffic.cells.holds(blocker.serial)),
                ) or self._retarget(robot, around):
                    continue  # round what blocks it, or to another side of its chute
                elif blocker.status in ("offline", "error"):
                    waited = now - traffic.cells.waiting[serial].since
                    self._give_up(robot, f"waited {waited:.0f} s behind {blocker.serial}, out of service")
                elif traffic.cells.cycle(serial):
                    self._unstick(robot)
                else:  # at the back of a jam: make room for those in front
                    self._step_aside(traffic, robot, self._ways(traffic.cells.chain(serial), serial))

    def _give_up(self: FleetManager, robot: RobotView, reason: str) -> None:
        """Take a task back from a robot that cannot finish it; it is busy until it has dropped the order."""
        assert robot.task is not None
        robot.stray, robot.cancelling, robot.cancel_asked_at = True, robot.task.order_id, self.clock.now()
        self._instant(robot, "cancelOrder")
        self._fail_task(robot, reason)
