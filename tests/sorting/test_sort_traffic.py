"""Conflict-free lifelong traffic: traces of real runs replayed by the independent checker; planted faults."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from wms.sorting.bench import BenchConfig, BenchResult, run_bench
from wms.sorting.distances import Distances
from wms.sorting.maps import SortMap, load_sort_map, parse_grid, parse_map
from wms.sorting.tasks import TaskRules
from wms.sorting.trace import TraceWriter, check_trace


def maps_dir() -> Path:
    """``shared/maps`` in a folder above this file; skip when there is none."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "maps").is_dir():
            return parent / "shared" / "maps"
    pytest.skip("no shared/maps folder above the tests (public sortation maps live there)")


def ring_grid() -> SortMap:
    """A hand-made 6 x 4 RHCR grid: a one-way ring round two chutes, a two-way shortcut, two inducts."""
    lines = ["Grid size (x, y)", "6,4", "id,type,station,x,y,north,west,south,east,wait"]
    blocked = {(1, 1), (4, 1), (1, 2), (4, 2)}
    ejects = {(0, 1): "C1", (1, 0): "C1", (5, 2): "C2", (4, 3): "C2"}
    inducts = {(3, 3): "I1", (2, 0): "I2"}
    for x in range(6):
        for y in range(4):
            n = w = s = e = "inf"
            if (x, y) in blocked:
                kind = "Obstacle"
            else:
                kind = "Eject" if (x, y) in ejects else "Induct" if (x, y) in inducts else "Travel"
                if y == 3 and x < 5:
                    e = "1"  # top row runs east
                if x == 5 and y > 0:
                    s = "1"  # right column runs south
                if y == 0 and x > 0:
                    w = "1"  # bottom row runs west
                if x == 0 and y < 3:
                    n = "1"  # left column runs north
                if x in (2, 3) and 0 < y < 3:
                    n = s = "1"  # the shortcut is two-way
                if x in (2, 3) and y in (0, 3):
                    n = "1" if y == 0 else n
                    s = "1" if y == 3 else s
            station = ejects.get((x, y)) or inducts.get((x, y)) or "None"
            lines.append(f"{len(lines) - 3},{kind},{station},{x},{y},{n},{w},{s},{e},1")
    return parse_grid("\n".join(lines) + "\n", "ring.grid")


def traced(m: SortMap, cfg: BenchConfig) -> tuple[list[str], BenchResult]:
    """Run the bench with a trace (headings too with ``cfg.rotation``); its lines and the result."""
    buf = io.StringIO()
    writer = TraceWriter(buf, m, cfg.robots, rotation=cfg.rotation)
    result = run_bench(m, cfg, writer.step)
    return buf.getvalue().splitlines(), result


def deliveries(lines: list[str], robots: int) -> np.ndarray:
    """Tasks each robot finished, from a trace's lines."""
    per_robot = np.zeros(robots, dtype=int)
    for raw in lines[1:]:
        for r, _, _ in json.loads(raw)["done"]:
            per_robot[r] += 1
    return per_robot


@pytest.mark.parametrize("planner", ["pibt", "lns"])
@pytest.mark.parametrize("rules", ["rhcr", "free"])
def test_rhcr_map_run_replays_clean(planner: str, rules: str) -> None:
    m = load_sort_map(maps_dir() / "rhcr-sorting_map.grid")
    cfg = BenchConfig(robots=800, steps=60, seed=5, rules=rules, planner=planner)
    lines, result = traced(m, cfg)
    report = check_trace(lines, m)
    assert report.ok, report.violations
    assert (report.steps, report.tasks, report.parcels) == (60, result.tasks, result.parcels)
    assert result.tasks > 0 and 0 < result.efficiency <= 1.0
    header = json.loads(lines[0])
    assert header == {"map": m.name, "width": 77, "height": 37, "robots": 800}


@pytest.mark.parametrize("planner", ["pibt", "lns"])
def test_tiny_one_way_map_runs_long_without_deadlock(planner: str) -> None:
    m = ring_grid()
    cfg = BenchConfig(robots=6, steps=400, seed=1, rules="rhcr", planner=planner, options={})
    lines, result = traced(m, cfg)
    report = check_trace(lines, m)
    assert report.ok, report.violations
    assert deliveries(lines, 6).min() >= 10  # every robot keeps delivering: no deadlock, no livelock


def test_two_way_map_run_replays_clean() -> None:
    m = parse_map(
        "type octile\nheight 5\nwidth 7\nmap\nE.....E\n.S.S.S.\n.S@S@S.\n.S.S.S.\nE.....E\n", "small.map"
    )
    for planner in ("pibt", "lns"):
        lines, result = traced(m, BenchConfig(robots=12, steps=200, seed=2, planner=planner))
        assert check_trace(lines, m).ok
        assert result.parcels > 0


def _plant(lines: list[str], t: int, **change: object) -> list[str]:
    out = list(lines)
    rec = json.loads(out[t + 1])
    rec.update(change)
    out[t + 1] = json.dumps(rec)
    return out


def test_checker_catches_planted_faults() -> None:
    m = ring_grid()
    lines, _ = traced(m, BenchConfig(robots=6, steps=50, seed=3, rules="rhcr", planner="pibt"))
    assert check_trace(lines, m).ok
    pos = json.loads(lines[11])["pos"]
    collided = _plant(lines, 10, pos=[pos[1]] + pos[1:])
    assert any("collision" in v for v in check_trace(collided, m).violations)
    w = m.width
    # robot 0 walks west along the top row, against the one-way rule
    header = json.dumps({"map": "ring.grid", "width": 6, "height": 4, "robots": 1})
    against = [
        header,
        json.dumps({"t": 0, "pos": [3 * w + 2], "done": []}),
        json.dumps({"t": 1, "pos": [3 * w + 1], "done": []}),
    ]
    assert any("one-way" in v for v in check_trace(against, m).violations)
    jump = [
        header,
        json.dumps({"t": 0, "pos": [3 * w + 0], "done": []}),
        json.dumps({"t": 1, "pos": [3 * w + 2], "done": []}),
    ]
    assert any("jumps" in v for v in check_trace(jump, m).violations)
    # two robots swap on the two-way shortcut
    two = json.dumps({"map": "ring.grid", "width": 6, "height": 4, "robots": 2})
    swap = [
        two,
        json.dumps({"t": 0, "pos": [1 * w + 2, 2 * w + 2], "done": []}),
        json.dumps({"t": 1, "pos": [2 * w + 2, 1 * w + 2], "done": []}),
    ]
    assert any("swap" in v for v in check_trace(swap, m).violations)
    # a task counted where the robot is not, and a drop away from any chute
    rec = json.loads(lines[21])
    elsewhere = _plant(
        lines,
        20,
        done=[[0, "pickup", int(m.inducts[0]) if rec["pos"][0] != int(m.inducts[0]) else int(m.inducts[1])]],
    )
    assert any("not there" in v for v in check_trace(elsewhere, m).violations)
    wrong_cell = _plant(lines, 20, done=[[0, "drop", rec["pos"][0]]])
    found = check_trace(wrong_cell, m).violations
    assert any("not an eject cell" in v or "without a parcel" in v for v in found)
    blocked = _plant(lines, 20, pos=[1 * w + 1] + rec["pos"][1:])
    assert any("blocked" in v for v in check_trace(blocked, m).violations)


def test_rhcr_rules_pick_induct_by_distance_plus_eight_per_robot() -> None:
    m = ring_grid()
    dist = Distances(m)
    rules = TaskRules("rhcr", dist, None, np.random.default_rng(0))
    start = 0 * m.width + 5  # bottom-right corner
    d = [int(dist.to(int(c))[start]) for c in m.inducts]
    picks = []
    for robot in range(4):
        goal = rules.pickup(robot, start)
        picks.append(goal.goal)
        i = list(m.inducts).index(goal.goal)
        costs = [d[k] + 8 * (rules.heading[k] - (1 if k == i else 0)) for k in range(len(d))]
        assert costs[i] == min(costs)
    drop = rules.drop(0)
    assert drop.kind == "drop" and drop.goal in m.ejects(drop.chute).tolist()
    free = TaskRules("free", dist, None, np.random.default_rng(0))
    free.pickup(0, start)
    goal = free.drop(0)
    assert goal.goal == m.cells + goal.chute  # the whole chute: the planner picks the eject cell
    with pytest.raises(ValueError, match="fix the induct penalty"):
        TaskRules("rhcr", dist, None, np.random.default_rng(0), induct_penalty=2.0)
