"""Run traces (JSON lines) and an independent checker that replays them against the map.

Line 1: ``{"map", "width", "height", "robots"}``; then one line per timestep t = 0..T:
``{"t": t, "pos": [cell of robot 0, ...], "done": [[robot, "pickup" | "drop", cell], ...]}``, cells as
``y * width + x``. The checker uses only the map's passable cells, allowed moves, inducts and eject cells.

A run of the turn-in-place model (``--rotation``) adds ``"heading": [h of robot 0, ...]`` to every line, and
the header names the convention: ``"headings": [[1, 0], [-1, 0], [0, 1], [0, -1]]``, the (dx, dy) of
headings 0..3 (``DIRS``). Where headings are present the checker also requires every move to go one cell
in the robot's heading, no heading to change by more than 90° in one step, and no robot to move and turn
in the same step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from wms.sorting.maps import DIRS, SortMap


class TraceWriter:
    """Writes a trace to an open text stream."""

    def __init__(self, out: IO[str], m: SortMap, robots: int, rotation: bool = False) -> None:
        self.out = out
        header: dict[str, object] = {"map": m.name, "width": m.width, "height": m.height, "robots": robots}
        if rotation:
            header["headings"] = [list(d) for d in DIRS]
        out.write(json.dumps(header) + "\n")

    def step(
        self,
        t: int,
        pos: Sequence[int],
        done: Sequence[tuple[int, str, int]],
        heading: Sequence[int] | None = None,
    ) -> None:
        """Append timestep ``t`` (with the robots' headings in a rotation run)."""
        line: dict[str, object] = {
            "t": t,
            "pos": [int(p) for p in pos],
            "done": [[int(r), k, int(c)] for r, k, c in done],
        }
        if heading is not None:
            line["heading"] = [int(h) for h in heading]
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")


@dataclass
class TraceCheck:
    """What the checker found: violations (empty when the trace is sound) and what it counted."""

    steps: int = 0
    tasks: int = 0
    parcels: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No violation found."""
        return not self.violations


def check_trace(lines: Iterable[str], m: SortMap, max_violations: int = 50) -> TraceCheck:
    """Replay a trace; report collisions, swaps, illegal or one-way-violating moves and misplaced tasks.

    Where lines carry headings: also moves off the robot's heading, turns of 180° and a move with a turn."""
    report = TraceCheck()

    def bad(msg: str) -> None:
        if len(report.violations) < max_violations:
            report.violations.append(msg)

    it = iter(lines)
    try:
        header = json.loads(next(it))
    except (StopIteration, json.JSONDecodeError) as exc:
        report.violations.append(f"header: unreadable ({exc})")
        return report
    if (header.get("width"), header.get("height")) != (m.width, m.height):
        bad(
            f"header: size {header.get('width')}x{header.get('height')} is not the map's {m.width}x{m.height}"
        )
        return report
    robots = int(header.get("robots", -1))
    rotation = "headings" in header
    if rotation and [tuple(d) for d in header["headings"]] != list(DIRS):
        bad(f"header: headings {header['headings']} are not {[list(d) for d in DIRS]}")
        return report
    inducts = set(m.inducts.tolist())
    ejects = set(m.chute_cells.tolist())
    offsets = {(dy * m.width + dx): (dx, dy, d) for d, (dx, dy) in enumerate(DIRS)}
    opposite = np.array([DIRS.index((-dx, -dy)) for dx, dy in DIRS], dtype=np.int64)
    carrying = np.zeros(robots, dtype=bool)
    prev: np.ndarray | None = None
    prev_head: np.ndarray | None = None
    for n, raw in enumerate(it, start=2):
        try:
            rec = json.loads(raw)
            t, pos, done = int(rec["t"]), np.asarray(rec["pos"], dtype=np.int64), rec["done"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            bad(f"line {n}: unreadable ({exc})")
            return report
        if t != n - 2:
            bad(f"line {n}: t={t}, expected {n - 2}")
        if pos.shape != (robots,):
            bad(f"t={t}: {pos.size} positions for {robots} robots")
            return report
        head: np.ndarray | None = None
        if "heading" in rec or rotation:
            try:
                head = np.asarray(rec["heading"], dtype=np.int64)
            except (KeyError, TypeError, ValueError) as exc:
                bad(f"t={t}: headings unreadable or missing ({exc!r})")
                return report
            if head.shape != (robots,) or ((head < 0) | (head > 3)).any():
                bad(f"t={t}: headings {head.tolist()[:10]} are not one of 0..3 for each of {robots} robots")
                return report
        if ((pos < 0) | (pos >= m.cells)).any() or not m.passable[pos].all():
            r = int(
                np.flatnonzero((pos < 0) | (pos >= m.cells) | ~m.passable[np.clip(pos, 0, m.cells - 1)])[0]
            )
            bad(f"t={t}: robot {r} on blocked or outside cell {int(pos[r])}")
        uniq, counts = np.unique(pos, return_counts=True)
        for c in uniq[counts > 1].tolist():
            who = np.flatnonzero(pos == c).tolist()
            bad(f"t={t}: collision of robots {who} at {m.xy(c)}")
        if prev is not None:
            moved = np.flatnonzero(pos != prev)
            for r in moved.tolist():
                a, b = int(prev[r]), int(pos[r])
                step = offsets.get(b - a)
                ok = step is not None and (a % m.width) + step[0] == b % m.width
                if not ok:
                    bad(f"t={t}: robot {r} jumps from {m.xy(a)} to {m.xy(b)}")
                elif not m.moves[a, step[2]]:
                    bad(f"t={t}: robot {r} moves {m.xy(a)} -> {m.xy(b)} against a one-way rule")
                if ok and head is not None and prev_head is not None:
                    if step[2] != prev_head[r]:
                        bad(
                            f"t={t}: robot {r} moves {m.xy(a)} -> {m.xy(b)} off its heading "
                            f"{DIRS[int(prev_head[r])]}"
                        )
                    if head[r] != prev_head[r]:
                        bad(f"t={t}: robot {r} moves {m.xy(a)} -> {m.xy(b)} and turns in the same step")
            if head is not None and prev_head is not None:
                for r in np.flatnonzero(head == opposite[prev_head]).tolist():
                    bad(
                        f"t={t}: robot {r} turns from {DIRS[int(prev_head[r])]} to {DIRS[int(head[r])]}, "
                        "more than 90 degrees in one step"
                    )
            where = {int(prev[r]): r for r in moved.tolist()}
            for r in moved.tolist():
                o = where.get(int(pos[r]))
                if o is not None and o != r and int(pos[o]) == int(prev[r]) and r < o:
                    bad(f"t={t}: robots {r} and {o} swap cells {m.xy(int(prev[r]))} <-> {m.xy(int(pos[r]))}")
        for entry in done:
            try:
                r, kind, c = int(entry[0]), str(entry[1]), int(entry[2])
            except (TypeError, ValueError, IndexError):
                bad(f"t={t}: malformed task entry {entry!r}")
                continue
            if not 0 <= r < robots or int(pos[r]) != c:
                bad(f"t={t}: task {kind} counted for robot {r} at {c}, but the robot is not there")
                continue
            if kind == "pickup":
                if c not in inducts:
                    bad(f"t={t}: robot {r} picks up at {m.xy(c)}, not an induct")
                elif carrying[r]:
                    bad(f"t={t}: robot {r} picks up while carrying a parcel")
                carrying[r] = True
            elif kind == "drop":
                if c not in ejects:
                    bad(f"t={t}: robot {r} drops at {m.xy(c)}, not an eject cell")
                elif not carrying[r]:
                    bad(f"t={t}: robot {r} drops without a parcel")
                carrying[r] = False
                report.parcels += 1
            else:
                bad(f"t={t}: unknown task kind {kind!r}")
                continue
            report.tasks += 1
        prev = pos
        prev_head = head
        report.steps = t
    return report
