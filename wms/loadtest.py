"""``wms bench load``: a virtual-time shift at a multiple of the configured order rate, sampled every minute.

Each run is a whole shift (controller, robots, conveyors, X-ray gate, order feed) on the discrete-event
clock and the in-process bus, in a fresh process of its own so that its memory figures are its own; the
baseline (1x) and the load (e.g. 2x) run side by side. Every simulated minute the harness samples the
controller's queues (open parcels by state, pick queue, induct queues, open bags, commands awaiting an
answer), the order feed (unacknowledged, held back), the process RSS and the wall time. It reports whether
the backlog stays bounded (its growth over the second half of the order period, beside the first half's),
the RSS peak and slope, every order sent against those in the database and those terminal (nothing
dropped), and how long the warehouse takes to drain after the feed stops.

The backlog is the controller's parcels not yet released, held or rejected (`wms.control.admission.backlog`);
open parcels (released ones waiting for their truck included) are sampled too.

Back-pressure is the controller's own (``[intake]`` of the config; ``backlog_limit`` here overrides it, 0
turns it off): it publishes its signal retained on ``wms/{partition}/intake`` and the feed holds orders.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlmodel import select

from wms import topics
from wms.config import CustomsConfig, WarehouseConfig
from wms.control.admission import IntakeSignal, backlog
from wms.domain import ParcelState
from wms.shift import Shift, ShiftOptions, summary, virtual_shift
from wms.store.models import ParcelRow

BOUNDED_SHARE = 0.10  # backlog growth over the order period's 2nd half below this share of the rate: bounded
FLAT_MB_PER_H = 10.0  # RSS growth over the order period's second half below this: flat


@dataclass
class LoadOptions:
    """What to run: the rate factor, how long orders arrive, the drain limit, optional admission."""

    factor: float = 2.0
    hours: float = 1.0
    baseline: bool = True
    seed: int | None = None
    drain_limit_h: float = 3.0
    sample_s: float = 60.0
    backlog_limit: int | None = None
    resume_below: int | None = None
    scale_stock: bool = True
    db_dir: str | None = None


@dataclass
class Sample:
    """One look at the running shift."""

    t_s: float
    wall_s: float
    backlog: int
    open_parcels: int
    by_state: dict[str, int]
    pick_queue: int
    induct_queue: int
    open_bags: int
    gate_queue: int
    pending_cmds: int
    unacked: int
    holding: int
    sent: int
    received: int
    terminal: int
    accepting: bool
    rss_mb: float


@dataclass
class Intake:
    """The intake signal as seen on the bus: current state and every change."""

    accepting: bool = True
    changes: list[dict[str, Any]] = field(default_factory=list)

    def on_signal(self, _topic: str, data: bytes, now: float) -> None:
        """Record a signal if it changes the state (a malformed one is the feed's concern, not ours)."""
        try:
            sig = IntakeSignal.model_validate_json(data)
        except ValueError:
            return
        if sig.accepting != self.accepting or not self.changes:
            self.changes.append({"t_s": round(now, 1), "accepting": sig.accepting, "backlog": sig.backlog})
        self.accepting = sig.accepting


def rss_mb() -> float:
    """Resident set size of this process in MB (psutil, else /proc/self/statm, else the peak)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, KB on Linux


def backlog_of(shift: Shift) -> int:
    """The controller's parcels not yet released, held or rejected."""
    return backlog(shift.controller.parcels.counts())


def take_sample(shift: Shift, intake: Intake, wall0: float) -> Sample:
    """The controller's queues, the feed's counters, RSS and wall time now."""
    ctl, feed = shift.controller, shift.feed
    by_state: dict[str, int] = {}
    for p in ctl.parcels.values():  # open parcels: closed ones are counted in the controller's tally
        by_state[p.state.value] = by_state.get(p.state.value, 0) + 1
    terminal = ctl.tally.total
    return Sample(
        t_s=round(shift.clock.now() - shift.start, 1),
        wall_s=round(time.perf_counter() - wall0, 2),
        backlog=len(ctl.parcels) - by_state.get(ParcelState.RELEASED.value, 0),
        open_parcels=len(ctl.parcels),
        by_state=dict(sorted(by_state.items())),
        pick_queue=len(ctl.pick_queue),
        induct_queue=sum(len(q) for q in ctl.induct_queues.values()),
        open_bags=sum(1 for c in ctl.chutes.values() if c.parcels) + len(ctl.bags),
        gate_queue=sum(ctl.lane_queue),
        pending_cmds=len(ctl.pending),
        unacked=feed.unacked,
        holding=feed.holding,
        sent=feed.sent,
        received=len(ctl.parcels) + terminal,
        terminal=terminal,
        accepting=intake.accepting,
        rss_mb=round(rss_mb(), 1),
    )


def _drained(shift: Shift) -> bool:
    """The feed stopped, sent everything it held, saw every ack, and every order is terminal."""
    feed = shift.feed
    return (
        shift.clock.now() >= shift.feed_until
        and feed.holding == 0
        and feed.unacked == 0
        and shift.controller.all_done()
    )


def run_once(
    cfg: WarehouseConfig,
    customs: CustomsConfig,
    factor: float,
    opts: LoadOptions,
    prepare: Callable[[Shift], None] | None = None,
) -> dict[str, Any]:
    """One shift at ``factor`` times the configured rate: samples, end summary and analysis.

    ``prepare`` is called on the new shift before it runs (tests use it to configure the controller).
    """
    wall0 = time.perf_counter()
    rate = factor * cfg.feed.orders_per_hour
    if opts.scale_stock and factor > 1.0:  # stock for the rate, so that stock-outs do not mask the load
        lot_qty = math.ceil(cfg.feed.lot_qty * factor)
        cfg = cfg.model_copy(update={"feed": cfg.feed.model_copy(update={"lot_qty": lot_qty})})
    if opts.backlog_limit is not None:  # the controller's own back-pressure, at these limits (0: off)
        resume = opts.resume_below or max(1, round(0.8 * opts.backlog_limit))
        limits = {"backlog_limit": opts.backlog_limit, "resume_below": resume}
        cfg = cfg.model_copy(update={"intake": cfg.intake.model_copy(update=limits)})
    with tempfile.TemporaryDirectory(dir=opts.db_dir) as tmp:
        sopts = ShiftOptions(
            duration_s=opts.hours * 3600.0,
            orders_per_hour=rate,
            db_url=f"sqlite:///{Path(tmp) / 'load.db'}",
            seed=opts.seed,
        )
        shift, broker = virtual_shift(cfg, customs, sopts)
        if prepare is not None:
            prepare(shift)
        intake = Intake()
        spy = broker.client("load-harness")
        spy.subscribe(
            topics.intake(cfg.site.partition),
            lambda t, d: intake.on_signal(t, d, shift.clock.now() - shift.start),
        )
        source = "controller" if shift.controller.admission is not None else "none"
        samples = [take_sample(shift, intake, wall0)]
        limit = shift.feed_until + opts.drain_limit_h * 3600.0
        drained_at: float | None = None
        while shift.clock.now() < limit:
            shift.clock.run(until=shift.clock.now() + opts.sample_s)
            samples.append(take_sample(shift, intake, wall0))
            if _drained(shift):
                drained_at = shift.clock.now()
                break
        shift.controller.publish_status()
        end = summary(shift, time.perf_counter() - wall0, "virtual", "in-process")
        reasons = _reasons(shift)
        shift.controller.repo.engine.dispose()
    result = {
        "factor": factor,
        "orders_per_hour": rate,
        "hours": opts.hours,
        "lot_qty": cfg.feed.lot_qty,
        "admission": source,
        "backlog_limit": cfg.intake.backlog_limit or None,
        "reasons": reasons,
        "summary": {k: v for k, v in end.items() if k not in ("ledger", "database")},
        "held_back": shift.feed.held_back,
        "holding_at_end": shift.feed.holding,
        "intake_changes": intake.changes,
        "drain_s": None if drained_at is None else round(drained_at - shift.feed_until, 1),
        "wall_s": round(time.perf_counter() - wall0, 2),
        "samples": [asdict(s) for s in samples],
    }
    result["analysis"] = analyse(result)
    return result


def _reasons(shift: Shift) -> dict[str, int]:
    """Held and rejected parcels by the code of their first reason (none goes without one)."""
    out: dict[str, int] = {}
    with shift.controller.repo.session() as s:
        rows = s.exec(
            select(ParcelRow.state, ParcelRow.reason).where(
                ParcelRow.state.in_([ParcelState.HELD.value, ParcelState.REJECTED.value])  # type: ignore[attr-defined]
            )
        ).all()
    for state, reason in rows:
        key = f"{state}: {reason.split(':', 1)[0] or '(no reason)'}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def slope_per_h(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour; 0 for fewer than two points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / sxx * 3600.0


def analyse(run: dict[str, Any]) -> dict[str, Any]:
    """Bounded backlog, flat memory, nothing dropped, drain time, throughput of one run."""
    samples, s = run["samples"], run["summary"]
    feed_s = run["hours"] * 3600.0
    during = [x for x in samples if x["t_s"] <= feed_s + 1e-6]
    first = [x for x in during if x["t_s"] <= feed_s / 2]
    second = [x for x in during if x["t_s"] >= feed_s / 2]
    after = [x for x in samples if x["t_s"] >= feed_s]

    def slope(xs: list[dict[str, Any]], key: Any) -> float:
        return round(slope_per_h([(x["t_s"], key(x)) for x in xs]), 1)

    growth_2 = slope(second, lambda x: x["backlog"])
    rss_2 = slope(second, lambda x: x["rss_mb"])
    orders_2 = second[-1]["received"] - second[0]["received"] if second else 0
    rss_gain_2 = second[-1]["rss_mb"] - second[0]["rss_mb"] if second else 0.0
    closed = sum(1 for c in run["intake_changes"] if not c["accepting"])
    terminal = s["dispatched"] + s["held"] + s["rejected"]
    return {
        "backlog_growth_first_half_per_h": slope(first, lambda x: x["backlog"]),
        "backlog_growth_second_half_per_h": growth_2,
        "backlog_peak": max(x["backlog"] for x in samples),
        "backlog_at_feed_stop": during[-1]["backlog"] if during else 0,
        "open_parcels_peak": max(x["open_parcels"] for x in samples),
        "bounded": growth_2 <= BOUNDED_SHARE * run["orders_per_hour"],
        "intake_closed_times": closed,
        "intake_closed_s": round(sum(b - a for a, b in _closed_spans(run)), 1),
        "back_pressured": closed > 0,
        "received_per_h_second_half": slope(second, lambda x: x["received"]),
        "worked_per_h_second_half": slope(second, lambda x: x["received"] - x["backlog"]),
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_at_feed_stop_mb": during[-1]["rss_mb"] if during else None,
        "rss_peak_mb": max(x["rss_mb"] for x in samples),
        "rss_final_mb": samples[-1]["rss_mb"],
        "rss_slope_second_half_mb_per_h": rss_2,
        "rss_kb_per_order_second_half": round(1024 * rss_gain_2 / orders_2, 1) if orders_2 else None,
        "rss_slope_drain_mb_per_h": slope(after, lambda x: x["rss_mb"]),
        "memory_flat": rss_2 <= FLAT_MB_PER_H,
        "orders_generated": s["orders_sent"] + run["holding_at_end"],
        "orders_sent": s["orders_sent"],
        "orders_in_db": s["orders_in"],
        "orders_terminal": terminal,
        "lost": s["lost"],
        "nothing_dropped": s["lost"] == 0 and run["holding_at_end"] == 0 and terminal == s["orders_in"],
        "drain_s": run["drain_s"],
    }


def checks(run: dict[str, Any]) -> dict[str, bool]:
    """The load targets of one run: bounded or back-pressured, memory flat, nothing dropped, drained."""
    a = run["analysis"]
    return {
        "backlog bounded or intake back-pressured": a["bounded"] or a["back_pressured"],
        "memory flat": a["memory_flat"],
        "nothing dropped": a["nothing_dropped"],
        "drained after the feed stopped": a["drain_s"] is not None,
        "no internal errors": run["summary"]["internal_errors"] == 0,
    }


def ok(run: dict[str, Any]) -> bool:
    """Every load target of the run met."""
    return all(checks(run).values())


def verdict(result: dict[str, Any]) -> str:
    """One line per target of the load run, and the held and rejected orders by reason."""
    run = result["runs"][-1]
    lines = [f"{'[green]pass[/]' if v else '[red]FAIL[/]'}  {k}" for k, v in checks(run).items()]
    for r in result["runs"]:
        reasons = ", ".join(f"{k} {v}" for k, v in r["reasons"].items()) or "none"
        lines.append(f"{r['factor']:g}x held/rejected by reason: {reasons}")
    return "\n".join(lines)


RATIO_KEYS = (
    "orders_sent",
    "backlog_peak",
    "backlog_at_feed_stop",
    "worked_per_h_second_half",
    "rss_peak_mb",
    "rss_slope_second_half_mb_per_h",
    "drain_s",
)


def _run_child(args: tuple[WarehouseConfig, CustomsConfig, float, LoadOptions]) -> dict[str, Any]:
    """Entry point of a worker process: one run."""
    return run_once(*args)


def run_load(
    cfg: WarehouseConfig, customs: CustomsConfig, opts: LoadOptions, jobs: int = 2
) -> dict[str, Any]:
    """The baseline (1x) and the load run, each in a fresh process (in parallel with ``jobs`` > 1)."""
    factors = [1.0, opts.factor] if opts.baseline and opts.factor != 1.0 else [opts.factor]
    wall0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(factors))), mp_context=ctx) as pool:
        runs = list(pool.map(_run_child, [(cfg, customs, f, opts) for f in factors]))
    out: dict[str, Any] = {
        "config_orders_per_hour": cfg.feed.orders_per_hour,
        "factor": opts.factor,
        "hours": opts.hours,
        "options": asdict(opts),
        "runs": runs,
        "wall_s": round(time.perf_counter() - wall0, 2),
    }
    if len(runs) == 2:
        base, load = runs[0]["analysis"], runs[1]["analysis"]
        out["ratios"] = {k: _ratio(load[k], base[k]) for k in RATIO_KEYS}
    out["checks"] = checks(runs[-1])
    out["ok"] = ok(runs[-1])
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def _a(key: str) -> Any:
    """Getter of one analysis figure of a run."""
    return lambda r: r["analysis"][key]


# (label, figure of a run, key of its load/baseline ratio or "")
ROWS: tuple[tuple[str, Any, str], ...] = (
    ("orders/h offered", lambda r: r["orders_per_hour"], ""),
    ("orders sent", _a("orders_sent"), "orders_sent"),
    ("orders received /h (2nd half)", _a("received_per_h_second_half"), ""),
    ("orders worked /h (2nd half)", _a("worked_per_h_second_half"), "worked_per_h_second_half"),
    ("held back by the feed", lambda r: r["held_back"], ""),
    ("intake closed (times)", _a("intake_closed_times"), ""),
    ("intake closed (min)", lambda r: round(r["analysis"]["intake_closed_s"] / 60, 1), ""),
    ("backlog growth 1st half /h", _a("backlog_growth_first_half_per_h"), ""),
    ("backlog growth 2nd half /h", _a("backlog_growth_second_half_per_h"), ""),
    ("backlog peak", _a("backlog_peak"), "backlog_peak"),
    ("backlog at feed stop", _a("backlog_at_feed_stop"), "backlog_at_feed_stop"),
    ("open parcels peak (+released)", _a("open_parcels_peak"), ""),
    ("bounded", _a("bounded"), ""),
    ("RSS start/feed stop/peak MB", lambda r: _rss(r["analysis"]), ""),
    ("RSS slope 2nd half MB/h", _a("rss_slope_second_half_mb_per_h"), "rss_slope_second_half_mb_per_h"),
    ("RSS KB per order (2nd half)", _a("rss_kb_per_order_second_half"), ""),
    ("RSS slope while draining MB/h", _a("rss_slope_drain_mb_per_h"), ""),
    ("memory flat", _a("memory_flat"), ""),
    ("sent / in DB / terminal", lambda r: _counts(r["analysis"]), ""),
    ("dispatched / held / rejected", lambda r: _dhr(r["summary"]), ""),
    ("lost", _a("lost"), ""),
    ("nothing dropped", _a("nothing_dropped"), ""),
    ("drain after feed stop (min)", lambda r: _minutes(r["analysis"]["drain_s"]), "drain_s"),
    ("ledger balanced", lambda r: r["summary"]["ledger_balanced"], ""),
    ("internal errors", lambda r: r["summary"]["internal_errors"], ""),
    ("wall time (s)", lambda r: r["wall_s"], ""),
)


def _rss(a: dict[str, Any]) -> str:
    return f"{a['rss_start_mb']:.0f} / {a['rss_at_feed_stop_mb']:.0f} / {a['rss_peak_mb']:.0f}"


def _counts(a: dict[str, Any]) -> str:
    return f"{a['orders_sent']} / {a['orders_in_db']} / {a['orders_terminal']}"


def _dhr(s: dict[str, Any]) -> str:
    return f"{s['dispatched']} / {s['held']} / {s['rejected']}"


def _minutes(seconds: float | None) -> str:
    return "not drained" if seconds is None else f"{seconds / 60:.0f}"


def render(result: dict[str, Any]) -> Table:
    """The runs side by side, with the load/baseline ratio where it means something."""
    runs = result["runs"]
    rate = result["config_orders_per_hour"]
    table = Table(title=f"Load: {result['hours']:g} simulated h of orders, configured rate {rate:g}/h")
    table.add_column("", no_wrap=True)
    for r in runs:
        label = f"{r['factor']:g}x" + (f" (admission: {r['admission']})" if r["admission"] != "none" else "")
        table.add_column(label, justify="right")
    if "ratios" in result:
        table.add_column("ratio", justify="right")
    for name, get, ratio in ROWS:
        cells = [_cell(get(r)) for r in runs]
        if "ratios" in result:
            cells.append(_cell(result["ratios"][ratio]) if ratio else "")
        table.add_row(name, *cells)
    return table


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "[green]yes[/]" if v else "[red]no[/]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def plot(result: dict[str, Any], path: Path) -> None:
    """Backlog (open parcels) and RSS against simulated time for every run, intake closures shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for r in result["runs"]:
        t = [x["t_s"] / 60 for x in r["samples"]]
        label = f"{r['factor']:g}x ({r['orders_per_hour']:g}/h)"
        (line,) = ax1.plot(t, [x["backlog"] for x in r["samples"]], label=label)
        ax2.plot(t, [x["rss_mb"] for x in r["samples"]], label=label)
        for a, b in _closed_spans(r):
            ax1.axvspan(a / 60, b / 60, color=line.get_color(), alpha=0.12, linewidth=0)
    for ax in (ax1, ax2):
        ax.axvline(result["hours"] * 60, color="grey", linestyle=":", label="feed stops")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("backlog (parcels not yet released)")
    ax2.set_ylabel("process RSS (MB)")
    ax2.set_xlabel("simulated minutes")
    ax1.set_title("wms bench load: backlog and memory (shaded: intake closed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _closed_spans(run: dict[str, Any]) -> list[tuple[float, float]]:
    """(start, end) seconds of every interval in which the intake was closed."""
    spans, start = [], None
    for c in run["intake_changes"]:
        if not c["accepting"] and start is None:
            start = c["t_s"]
        elif c["accepting"] and start is not None:
            spans.append((start, c["t_s"]))
            start = None
    if start is not None:
        spans.append((start, run["samples"][-1]["t_s"]))
    return spans


def write_json(result: dict[str, Any], path: Path) -> None:
    """The result as indented JSON."""
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
