"""Turn-in-place model (``--rotation``): turn-aware distances, sound runs, the checker's heading rules."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.sorting.test_sort_bench_cli import SMALL, cli
from tests.sorting.test_sort_traffic import deliveries, maps_dir, ring_grid, traced
from wms.sorting.bench import BenchConfig, run_bench
from wms.sorting.distances import TurnDistances
from wms.sorting.maps import DIRS, SortMap, load_sort_map, parse_map
from wms.sorting.trace import check_trace

# headings by (dx, dy), independent of the code under test: a 90-degree turn swaps the axis
PERPENDICULAR = {
    h: [k for k, (dx, dy) in enumerate(DIRS) if dx * DIRS[h][0] + dy * DIRS[h][1] == 0] for h in range(4)
}


def small_map() -> SortMap:
    return parse_map(SMALL, "small.map")


def brute_force(m: SortMap, goal_cells: set[int]) -> dict[tuple[int, int], int]:
    """Fewest steps (forward in the heading along an allowed move, or a 90-degree turn) from every state."""
    out: dict[tuple[int, int], int] = {}
    for start in np.flatnonzero(m.passable).tolist():
        for h0 in range(4):
            seen = {(start, h0): 0}
            queue = deque([(start, h0)])
            found = -1
            while queue:
                c, h = queue.popleft()
                if c in goal_cells:
                    found = seen[(c, h)]
                    break
                x, y = m.xy(c)
                dx, dy = DIRS[h]
                nexts = [(c, k) for k in PERPENDICULAR[h]]
                if m.moves[c, h] and 0 <= x + dx < m.width and 0 <= y + dy < m.height:
                    f = (y + dy) * m.width + x + dx
                    if m.passable[f]:
                        nexts.append((f, h))
                for s in nexts:
                    if s not in seen:
                        seen[s] = seen[(c, h)] + 1
                        queue.append(s)
            out[(start, h0)] = found
    return out


@pytest.mark.parametrize("which", ["ring", "small"])
def test_turn_distances_match_brute_force(which: str) -> None:
    m = ring_grid() if which == "ring" else small_map()
    dist = TurnDistances(m)
    goals = [int(c) for c in m.inducts] + [m.cells + k for k in range(m.chutes)]
    for goal in goals:
        cells = {goal} if goal < m.cells else set(m.ejects(goal - m.cells).tolist())
        want = brute_force(m, cells)
        got = dist.turn_to(goal)
        for (c, h), d in want.items():
            assert int(got[c * 4 + h]) == (dist.turn_unreachable if d < 0 else d), (goal, m.xy(c), h)
    # turning costs time: somewhere a turn-aware distance exceeds the plain one
    plain, turn = dist.to(goals[0]), dist.turn_to(goals[0]).reshape(-1, 4)
    free = np.flatnonzero(m.passable)
    assert (turn[free].min(axis=1) >= plain[free]).all() and (turn[free].max(axis=1) > plain[free]).any()


def _headings(lines: list[str]) -> list[list[int]]:
    return [json.loads(raw)["heading"] for raw in lines[1:]]


def _assert_rotation_sound(m: SortMap, lines: list[str]) -> None:
    """Re-check the heading rules here too, step by step, beside the checker."""
    report = check_trace(lines, m)
    assert report.ok, report.violations
    header = json.loads(lines[0])
    assert header["headings"] == [list(d) for d in DIRS]
    prev_pos = prev_head = None
    for raw in lines[1:]:
        rec = json.loads(raw)
        pos, head = rec["pos"], rec["heading"]
        assert len(set(pos)) == len(pos)
        if prev_pos is not None:
            for r, (a, b) in enumerate(zip(prev_pos, pos, strict=True)):
                if a != b:
                    dx, dy = DIRS[prev_head[r]]
                    assert b == a + dy * m.width + dx and head[r] == prev_head[r]
                else:
                    assert head[r] == prev_head[r] or head[r] in PERPENDICULAR[prev_head[r]]
        prev_pos, prev_head = pos, head


def test_rotation_run_on_small_maps_is_sound_and_delivers() -> None:
    m = small_map()
    lines, result = traced(m, BenchConfig(robots=10, steps=300, seed=2, planner="pibt", rotation=True))
    _assert_rotation_sound(m, lines)
    assert result.tasks > 20 and 0 < result.efficiency <= 1.0
    assert check_trace(lines, m).tasks == result.tasks
    ring = ring_grid()  # one-way lanes: a robot may only go forward along them
    lines, result = traced(ring, BenchConfig(robots=6, steps=400, seed=1, rules="rhcr", rotation=True))
    _assert_rotation_sound(ring, lines)
    assert deliveries(lines, 6).min() >= 5  # every robot keeps delivering: no deadlock, no livelock


def test_rotation_run_on_rhcr_map_is_sound() -> None:
    m = load_sort_map(maps_dir() / "rhcr-sorting_map.grid")
    lines, result = traced(m, BenchConfig(robots=800, steps=150, seed=5, planner="pibt", rotation=True))
    _assert_rotation_sound(m, lines)
    report = check_trace(lines, m)
    assert (report.steps, report.tasks, report.parcels) == (150, result.tasks, result.parcels)
    assert result.tasks > 0 and 0 < result.efficiency <= 1.0
    assert set(_headings(lines)[0]) == {0, 1, 2, 3}  # seeded starting headings


def test_lone_robot_follows_turn_aware_shortest_paths() -> None:
    """The bound counts turns: one robot alone runs at about the bound, never above it."""
    m = small_map()
    result = run_bench(m, BenchConfig(robots=1, steps=400, seed=3, rotation=True))
    assert 0.9 < result.efficiency <= 1.0
    plain = run_bench(m, BenchConfig(robots=1, steps=400, seed=3))
    assert result.bound_tasks_per_step < plain.bound_tasks_per_step


def test_lns_refuses_rotation() -> None:
    with pytest.raises(ValueError, match="turn-in-place"):
        run_bench(small_map(), BenchConfig(robots=2, steps=5, planner="lns", rotation=True))


def _trace(m: SortMap, steps: list[tuple[list[int], list[int]]]) -> list[str]:
    header = {"map": m.name, "width": m.width, "height": m.height, "robots": len(steps[0][0])}
    header["headings"] = [list(d) for d in DIRS]
    lines = [json.dumps(header)]
    for t, (pos, head) in enumerate(steps):
        lines.append(json.dumps({"t": t, "pos": pos, "done": [], "heading": head}))
    return lines


def test_checker_catches_planted_rotation_faults() -> None:
    m = ring_grid()
    w = m.width
    a, b = 1 * w + 2, 2 * w + 2  # the two-way shortcut: (2, 1) and (2, 2) above it
    north, east, west = DIRS.index((0, 1)), DIRS.index((1, 0)), DIRS.index((-1, 0))
    ok = _trace(m, [([a], [east]), ([a], [north]), ([b], [north])])  # turn, then forward
    assert check_trace(ok, m).ok
    sideways = _trace(m, [([a], [east]), ([b], [east])])  # moves north while heading east
    assert any("off its heading" in v for v in check_trace(sideways, m).violations)
    half = _trace(m, [([a], [east]), ([a], [west])])  # 180 degrees in one step
    assert any("more than 90 degrees" in v for v in check_trace(half, m).violations)
    both = _trace(m, [([a], [east]), ([b], [north])])  # a turn and a move in the same step
    found = check_trace(both, m).violations
    assert any("turns in the same step" in v for v in found)
    backwards = _trace(m, [([b], [north]), ([a], [north])])  # reverses without turning
    assert any("off its heading" in v for v in check_trace(backwards, m).violations)
    bad_value = _trace(m, [([a], [east]), ([a], [4])])
    assert any("headings" in v for v in check_trace(bad_value, m).violations)
    missing = ok[:2] + [json.dumps({"t": 1, "pos": [a], "done": []})]
    assert any("headings" in v for v in check_trace(missing, m).violations)
    # a real run's trace with one planted fault: a robot that moved is given a turned heading
    lines, _ = traced(m, BenchConfig(robots=6, steps=60, seed=3, rules="rhcr", rotation=True))
    assert check_trace(lines, m).ok
    recs = [json.loads(raw) for raw in lines[1:]]
    t, r = next(
        (t, r) for t in range(1, len(recs)) for r in range(6) if recs[t]["pos"][r] != recs[t - 1]["pos"][r]
    )
    recs[t]["heading"][r] = PERPENDICULAR[recs[t]["heading"][r]][0]
    planted = lines[:1] + [json.dumps(rec) for rec in recs]
    assert any(
        f"robot {r} " in v and "turns in the same step" in v for v in check_trace(planted, m).violations
    )


def test_cli_rotation_trace_json_and_refusal(tmp_path: Path) -> None:
    area = tmp_path / "small.map"
    area.write_text(SMALL)
    trace, out = tmp_path / "t.jsonl", tmp_path / "o.json"
    args = ["bench", "sort", "--map", str(area), "--robots", "8", "--steps", "80", "--planner", "pibt"]
    res = CliRunner().invoke(cli(), [*args, "--rotation", "--trace", str(trace), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "pibt+turns" in res.output
    data = json.loads(out.read_text())
    assert data["rotation"] is True and data["tasks"] > 0
    lines = trace.read_text().splitlines()
    assert all("heading" in json.loads(raw) for raw in lines[1:])
    check = CliRunner().invoke(cli(), ["check-sort-trace", str(trace), "--map", str(area)])
    assert check.exit_code == 0 and "0 violations" in check.output
    recs = [json.loads(raw) for raw in lines]
    recs[5]["heading"][0] = [1, 0, 3, 2][recs[4]["heading"][0]]  # robot 0 turns 180 degrees at t=4
    trace.write_text("\n".join(json.dumps(rec) for rec in recs) + "\n")
    check = CliRunner().invoke(cli(), ["check-sort-trace", str(trace), "--map", str(area)])
    assert check.exit_code == 1 and "more than 90 degrees" in check.output
    refused = CliRunner().invoke(cli(), [*args[:-1], "lns", "--rotation"])
    assert refused.exit_code == 2 and "--rotation" in refused.output
    helped = CliRunner().invoke(cli(), ["bench", "sort", "--help"])
    assert "--rotation" in helped.output and "turns" in helped.output
