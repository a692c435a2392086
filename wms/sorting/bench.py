"""Lifelong sorting benchmark: robots shuttle parcels from inducts to chutes under a traffic planner.

Each timestep: robots standing on their goal complete a task and get the next one (rules from
``wms.sorting.tasks``), then the planner moves every robot one cell or lets it wait. The figures follow
RHCR: a task is one goal reached, so a parcel is two tasks.

With ``rotation`` (the turn-in-place model) a robot also has a heading (``DIRS`` index, seeded at random at
the start): per timestep it moves one cell forward in its heading, turns 90° in place, or waits. A task is
completed on the goal cell at any heading, and the bound counts the turns of the shortest task lengths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from wms.sorting.distances import Distances, TurnDistances
from wms.sorting.maps import SortMap, check_sort_map
from wms.sorting.tasks import Goal, TaskRules
from wms.sorting.traffic import PLANNERS, TURN_PLANNERS, make_planner, make_turn_planner, warm_up

StepSink = Callable[..., None]
"""``sink(t, pos, done)``, or ``sink(t, pos, done, heading)`` in a rotation run."""


@dataclass
class BenchConfig:
    """One benchmark run."""

    robots: int
    steps: int
    seed: int = 0
    rules: str = "free"
    planner: str = "pibt"
    seconds_per_step: float = 0.5
    chute_weights: Sequence[float] | None = None
    induct_penalty: float | None = None
    options: dict[str, float] = field(default_factory=dict)
    rotation: bool = False


@dataclass
class BenchResult:
    """Figures of one run (the keys of the benchmark JSON)."""

    map: str
    rules: str
    robots: int
    steps: int
    tasks: int
    parcels: int
    tasks_per_step: float
    bound_tasks_per_step: float
    efficiency: float
    parcels_per_hour: float
    plan_ms: dict[str, float]
    seconds: float
    planner: str = field(default="pibt", repr=False)
    longest_task: int = field(default=0, repr=False)
    plan_cpu_p99: float = field(default=0.0, repr=False)
    rotation: bool = field(default=False, repr=False)

    def to_json(self) -> dict[str, object]:
        """The JSON object of the run (the figures named in the benchmark's format only; ``rotation: true``
        is added for a turn-in-place run)."""
        out = asdict(self)
        out.pop("planner")
        out.pop("longest_task")
        out.pop("plan_cpu_p99")
        if not self.rotation:
            out.pop("rotation")
        return out


def _starts(m: SortMap, cells: np.ndarray, robots: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct start cells among ``cells``, off inducts and eject cells when there is room."""
    goals = np.isin(cells, np.concatenate([m.inducts, m.chute_cells]))
    pool = cells[~goals] if (~goals).sum() >= robots else cells
    return rng.choice(pool, size=robots, replace=False).astype(np.int64)


def run_bench(m: SortMap, cfg: BenchConfig, sink: StepSink | None = None) -> BenchResult:
    """Run the lifelong benchmark; ``sink(t, pos, done)`` receives every timestep (for traces), with the
    robots' headings as a fourth argument in a rotation run."""
    if cfg.planner not in PLANNERS:
        raise ValueError(f"unknown planner {cfg.planner!r} (expected one of {', '.join(PLANNERS)})")
    if cfg.rotation and cfg.planner not in TURN_PLANNERS:
        raise ValueError(
            f"planner {cfg.planner!r} has no turn-in-place model (rotation needs {', '.join(TURN_PLANNERS)})"
        )
    cells = check_sort_map(m, cfg.robots)
    warm_up(cfg.rotation)
    started = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    dist = TurnDistances(m) if cfg.rotation else Distances(m)
    weights = None if cfg.chute_weights is None else np.asarray(cfg.chute_weights, dtype=float)
    rules = TaskRules(cfg.rules, dist, weights, np.random.default_rng(cfg.seed + 1), cfg.induct_penalty)
    n = cfg.robots
    pos = _starts(m, cells, n, rng)
    head = np.random.default_rng(cfg.seed + 3).integers(0, 4, size=n).astype(np.int64)
    if isinstance(dist, TurnDistances):
        turner = make_turn_planner(cfg.planner, dist, np.random.default_rng(cfg.seed + 2))
    else:
        planner = make_planner(cfg.planner, dist, np.random.default_rng(cfg.seed + 2), **cfg.options)

    def length(s: int, cell: int, h: int) -> int:
        """Shortest length of the task in slot ``s`` from ``cell`` (and heading ``h`` in a rotation run)."""
        if isinstance(dist, TurnDistances):
            return int(dist.turn[s, cell * 4 + h])
        return int(dist.table[s, cell])

    def emit(t: int) -> None:
        if sink is not None:
            if cfg.rotation:
                sink(t, pos, done, head)
            else:
                sink(t, pos, done)

    goals: list[Goal] = [rules.pickup(a, int(p)) for a, p in enumerate(pos)]
    slot = np.array([dist.pin(g.goal) for g in goals], dtype=np.int64)
    nslot = np.zeros(n, dtype=np.int64)
    d12 = np.zeros(n, dtype=np.int64)

    def look_ahead(a: int) -> None:
        nslot[a] = dist.pin(rules.after(a, goals[a]))
        d12[a] = int(dist.table[nslot[a], dist.sources(goals[a].goal)].min())

    for a in range(n):
        look_ahead(a)
    since = np.zeros(n, dtype=np.int64)
    tasks = parcels = 0
    lengths: list[int] = [length(int(s), int(p), int(h)) for s, p, h in zip(slot, pos, head, strict=True)]
    plan_ms: list[float] = []
    cpu_ms: list[float] = []
    longest = 0
    for t in range(cfg.steps + 1):
        t0, c0 = time.perf_counter(), time.thread_time()
        done: list[tuple[int, str, int]] = []
        for a in np.flatnonzero(dist.table[slot, pos] == 0).tolist():
            g = goals[a]
            cell = int(pos[a])
            done.append((a, g.kind, cell))
            rules.reached(g)
            new = rules.drop(a) if g.kind == "pickup" else rules.pickup(a, cell)
            dist.unpin(int(slot[a]))
            dist.unpin(int(nslot[a]))
            slot[a] = dist.pin(new.goal)
            goals[a] = new
            look_ahead(a)
            longest = max(longest, int(since[a]))
            since[a] = 0
            lengths.append(length(int(slot[a]), cell, int(head[a])))
        tasks += len(done)
        parcels += sum(1 for _, k, _ in done if k == "drop")
        if t == cfg.steps:
            emit(t)
            break
        if isinstance(dist, TurnDistances):
            nxt, nxt_head = turner.step(pos, head, slot, since)
        else:
            nxt, nxt_head = planner.step(pos, slot, since, nslot, d12), head
        plan_ms.append((time.perf_counter() - t0) * 1000.0)
        cpu_ms.append((time.thread_time() - c0) * 1000.0)
        emit(t)
        pos, head = nxt, nxt_head
        since += 1
    steps = max(cfg.steps, 1)
    mean_len = float(np.mean(lengths)) if lengths else 0.0
    bound = n / mean_len if mean_len > 0 else 0.0
    tps = tasks / steps
    ms = np.array(plan_ms or [0.0])
    return BenchResult(
        map=m.name,
        rules=cfg.rules,
        robots=n,
        steps=cfg.steps,
        tasks=tasks,
        parcels=parcels,
        tasks_per_step=round(tps, 3),
        bound_tasks_per_step=round(bound, 3),
        efficiency=round(tps / bound, 4) if bound else 0.0,
        parcels_per_hour=round(parcels / (steps * cfg.seconds_per_step) * 3600.0, 1),
        plan_ms={
            "p50": round(float(np.percentile(ms, 50)), 3),
            "p99": round(float(np.percentile(ms, 99)), 3),
            "max": round(float(ms.max()), 3),
        },
        seconds=round(time.perf_counter() - started, 2),
        planner=cfg.planner,
        longest_task=max(longest, int(since.max())),
        plan_cpu_p99=round(float(np.percentile(cpu_ms or [0.0], 99)), 3),
        rotation=cfg.rotation,
    )
