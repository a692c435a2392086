"""Load the sortation of a simulated shift at a fixed order rate and print how it keeps up.

Usage: ``python tools/sort_load.py [--config config/city.toml] [--rate 10000] [--hours 1] [--sorting N]
[--batching fcfs] [--map]``. Runs `wms.shift.virtual_shift` (the production controller, simulated
robots, in-process bus) from local midnight with the feed at ``--rate`` orders an hour along its daily
curve, and every 5 simulated minutes prints the sort tasks finished so far, the parcels queued at the
inducts and the sorting robots busy and waiting for a cell. ``--batching fcfs`` (the default) keeps
savings batching from dominating the wall time; ``--map`` prints where the sorting robots stand at the
end (W waiting, r moving, i idle, # chute, I induct). The oldest sort task still running and the
longest path of one (re-routes and steps aside make it longer) and its steps aside show a robot that
cannot get through. At the end it prints the sort cycle, from sort tasks sent after the first 5 minutes:
the robot's way to the induct, its time there (pick and leaving), its way on to the chute, and how long an
induct stood empty between one robot leaving and the next arriving.
A diagnostic for traffic control, not a benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.day.bench import DayOptions, day_config, quiet_logs
from wms.shift import Shift, ShiftOptions, virtual_shift


def robot_map(shift: Shift) -> str:
    """The sort grid with the sorting robots on it, top row first."""
    ctl = shift.controller
    grid = ctl.grid
    traffic = ctl.fleet.maps["sorting"].traffic
    held = traffic.cells.waiting if traffic is not None else {}
    where = {
        r.node: "W" if r.serial in held else "r" if r.task else "i"
        for r in ctl.fleet.robots.values()
        if r.kind == "sorting"
    }
    chutes = {f"G{c.x}_{c.y}" for c in grid.chutes}
    inducts = set(grid.inducts)
    rows = []
    for y in range(grid.height - 1, -1, -1):
        cells = (f"G{x}_{y}" for x in range(grid.width))
        rows.append(
            f"{y:3d} "
            + "".join(where.get(c) or ("#" if c in chutes else "I" if c in inducts else ".") for c in cells)
        )
    return "\n".join(rows)


def stuck(shift: Shift, task_id: str) -> str:
    """The robot driving ``task_id``, where it goes, and the chain of robots it waits behind."""
    fleet = shift.controller.fleet
    cells = fleet.maps["sorting"].traffic.cells  # type: ignore[union-attr]
    robot = next(r for r in fleet.robots.values() if r.task is not None and r.task.task_id == task_id)
    lines = []
    for serial in cells.chain(robot.serial):
        r = fleet.robots[serial]
        t = r.task
        wait = cells.waiting.get(serial)
        ahead = t.path[t.base_end : t.base_end + 6] if t else []
        stop = t.path[t.next_stop(t.base_end)] if t else None
        lines.append(
            f"{serial} at {r.node} status {r.status} task {t.task_id if t else None} "
            f"steps aside {t.asides if t else 0} holds {cells.holds(serial)} "
            f"waits for {wait.cell if wait else None} ahead {ahead} stop {stop}"
        )
    return "\n".join(lines)


def spread(xs: list[float]) -> str:
    """Mean, median and 90th percentile of ``xs``."""
    if not xs:
        return "none"
    xs = sorted(xs)
    return f"mean {statistics.fmean(xs):5.1f}  p50 {xs[len(xs) // 2]:5.1f}  p90 {xs[int(len(xs) * 0.9)]:5.1f}"


def cycle(tasks: dict[str, dict[str, float | str]]) -> str:
    """The sort cycle of the tasks that finished: to the induct, at it, to the chute, induct empty."""
    full = [t for t in tasks.values() if {"at", "left", "done"} <= t.keys()]
    by_induct: dict[str, list[dict[str, float | str]]] = defaultdict(list)
    for t in full:
        by_induct[str(t["induct"])].append(t)
    empty = []
    for ts in by_induct.values():
        ts.sort(key=lambda t: t["at"])
        empty += [float(b["at"]) - float(a["left"]) for a, b in zip(ts, ts[1:], strict=False)]

    def f(a: str, b: str) -> list[float]:
        return [float(t[b]) - float(t[a]) for t in full]

    return (
        f"sort cycle of {len(full)} tasks, seconds:\n"
        f"  to the induct      {spread(f('sent', 'at'))}\n"
        f"  at the induct      {spread(f('at', 'left'))}\n"
        f"  to the chute       {spread(f('left', 'done'))}\n"
        f"  induct empty       {spread(empty)}  (between one robot leaving and the next arriving)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG_DIR / "city.toml")
    ap.add_argument("--rate", type=float, default=10_000.0, help="orders an hour (the daily curve's mean)")
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--sorting", type=int, default=None, help="sorting robots (default: the config's)")
    ap.add_argument("--batching", default="fcfs", help="[waves] batching for the run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--map", action="store_true", help="print the robots on the grid at the end")
    args = ap.parse_args()
    quiet_logs()
    customs = load_customs(CONFIG_DIR / "customs.toml")
    cfg, _ = day_config(
        load_warehouse(args.config), customs, DayOptions(orders=int(args.rate * 24), sorting=args.sorting)
    )
    cfg = cfg.model_copy(update={"waves": cfg.waves.model_copy(update={"batching": args.batching})})
    with tempfile.TemporaryDirectory(prefix="wms-sort-load-") as tmp:
        opts = ShiftOptions(
            duration_s=args.hours * 3600.0,
            orders_per_hour=args.rate,
            db_url=f"sqlite:///{Path(tmp) / 'load.db'}",
            start_local="2026-11-11T00:00:00",
            seed=args.seed,
        )
        shift, _ = virtual_shift(cfg, customs, opts)
        ctl = shift.controller
        done = Counter[str]()
        task_done = ctl.task_done

        def counted(robot, task):  # type: ignore[no-untyped-def]
            done[task.kind] += 1
            if task.task_id in times:
                times[task.task_id]["done"] = shift.clock.now()
            return task_done(robot, task)

        ctl.task_done = counted  # type: ignore[method-assign]
        started: dict[str, float] = {}
        send = ctl.fleet.send

        def sent(robot, task_id, *args, **kw):  # type: ignore[no-untyped-def]
            started.setdefault(task_id, shift.clock.now())
            if args[0] == "sort" and shift.clock.now() >= warm:
                times.setdefault(task_id, {"sent": shift.clock.now()})
            return send(robot, task_id, *args, **kw)

        ctl.fleet.send = sent  # type: ignore[method-assign]
        warm = shift.clock.now() + 300.0
        times: dict[str, dict[str, float | str]] = {}  # sort task -> sent, at, left (induct), done
        apply_state = ctl.fleet._apply_state

        def applied(robot, st):  # type: ignore[no-untyped-def]
            task = robot.task
            apply_state(robot, st)
            t = times.get(task.task_id) if task is not None else None
            if t is None:
                return
            pick = min(task.actions)
            if "at" not in t and task.reached >= pick:
                t["at"], t["induct"] = shift.clock.now(), task.path[pick]
            if "left" not in t and task.reached > pick:
                t["left"] = shift.clock.now()

        ctl.fleet._apply_state = applied  # type: ignore[method-assign]
        traffic = ctl.fleet.maps["sorting"].traffic
        t0, w0 = shift.clock.now(), time.perf_counter()
        while shift.clock.now() < t0 + args.hours * 3600.0:
            shift.clock.run(until=shift.clock.now() + 300.0)
            robots = [r for r in ctl.fleet.robots.values() if r.kind == "sorting"]
            tasks = [r.task for r in robots if r.task is not None and r.task.kind == "sort"]
            oldest = max(
                (shift.clock.now() - started.get(t.task_id, shift.clock.now()) for t in tasks), default=0
            )
            print(
                f"+{(shift.clock.now() - t0) / 60:4.0f} min  sorted {done['sort']:6d}  "
                f"at inducts {sum(len(q) for q in ctl.induct_queues.values()):5d}  "
                f"busy {sum(1 for r in robots if r.task is not None):3d}/{len(robots)}  "
                f"waiting {len(traffic.cells.waiting) if traffic else 0:3d}  "
                f"oldest task {oldest / 60:5.1f} min  "
                f"longest path {max((len(t.path) for t in tasks), default=0):5d}  "
                f"most steps aside {max((t.asides for t in tasks), default=0):4d}  "
                f"wall {time.perf_counter() - w0:6.1f} s",
                flush=True,
            )
        hours = (shift.clock.now() - t0) / 3600.0
        n = done["sort"]
        print(f"sorted {n} parcels in {hours:.2f} simulated hours: {n / hours:.0f} an hour")
        print(cycle(times))
        if args.map:
            print(robot_map(shift))
            if tasks:
                print(stuck(shift, min(tasks, key=lambda t: started.get(t.task_id, 0.0)).task_id))
        ctl.repo.close()
        ctl.repo.engine.dispose()


if __name__ == "__main__":
    main()
