"""Rich tables of a simulated day: runs side by side, orders per hour by stage, a fleet sweep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

from wms.day.sweep import Case, passes

Row = tuple[str, Callable[[dict[str, Any]], Any]]


def hhmm(seconds: float | None) -> str:
    """Seconds as h:mm (``-`` for none)."""
    if seconds is None:
        return "-"
    m = round(seconds / 60.0)
    return f"{m // 60}:{m % 60:02d}"


def _peak(series: Sequence[int]) -> str:
    if not series:
        return "-"
    i = max(range(len(series)), key=lambda k: series[k])
    return f"{series[i]:,} (hour {i})"


def _queue_peak(r: dict[str, Any], states: Sequence[str]) -> str:
    by = r["queues"]["by_state"]
    n = len(next(iter(by.values()), []))
    if not n:
        return "-"
    totals = [sum(by[s][k] for s in states if s in by) for k in range(n)]
    k = max(range(n), key=lambda i: totals[i])
    return f"{totals[k]:,} at {hhmm(k * r['queues']['period_s'])}"


def _robots(r: dict[str, Any], kind: str) -> str:
    x = r["robots"][kind]
    return f"{x['robots']}: {x['utilisation_pct']:g}% busy, {x['charging_pct']:g}% charging"


def _charging(r: dict[str, Any], kind: str) -> str:
    x = r["robots"][kind]
    return f"{x['charging_robot_h']:g} robot-h ({x['charging_min_per_robot_mean']:g} min/robot)"


def _took(r: dict[str, Any], kind: str) -> str:
    t = r["robots"][kind].get("task_s")
    if not t:
        return "-"
    return " / ".join(_duration(t[k]) for k in ("p50_s", "p99_s", "max_s")) + f" ({t['done']:,} done)"


def _slow(r: dict[str, Any]) -> str:
    slow = r.get("slow_tasks")
    if slow is None:
        return "-"
    return f"{slow['count']:,} (over {_duration(slow['alarm_after_s'])}; the first in the JSON)"


def _duration(seconds: float) -> str:
    """Seconds under an hour, else h:mm."""
    return f"{seconds:,.0f} s" if seconds < 3600 else f"{hhmm(seconds)} h"


def _wall(r: dict[str, Any]) -> str:
    w = r["wall"]
    parts = f"build {w['build_s']:.0f}, run {w['simulate_s']:,.0f}, report {w['report_s']:.0f}"
    return f"{w['total_s']:,.1f} ({parts})"


def _cpu(r: dict[str, Any]) -> str:
    cpu = r.get("cpu_s")
    if cpu is None:
        return "-"
    world = cpu.get("world")
    return f"{cpu['controller']:,.0f} / {cpu['planner']:,.0f}" + ("" if world is None else f" / {world:,.0f}")


def _split(r: dict[str, Any]) -> str:
    split = r.get("split")
    if split is None:
        return "-"
    s = split["seconds"]
    per_order = split["controller_ms_per_order"]
    ms = "" if per_order is None else f" ({per_order:.1f} ms per order)"
    world = (r.get("world") or {}).get("callbacks_s")
    simulators = f"{s['simulators']:,.0f}" if world is None else f"{world['simulators']:,.0f} (own process)"
    return f"{s['controller']:,.0f}{ms} / {simulators} / {s['bench'] + s['other'] + s['loop']:,.0f}"


def _link(r: dict[str, Any]) -> str:
    w = r.get("world") or {}
    if not w.get("process"):
        return "-"
    return (
        f"{w['link_latency_s']:g} s; {w['windows']:,} windows, {w['exchanges']:,} exchanged; "
        f"waited {w['controller_waited_s']:,.0f} s"
    )


def _memory(r: dict[str, Any]) -> str:
    worker = r.get("planner_peak_rss_mb") or 0.0
    world = r.get("world_peak_rss_mb") or 0.0
    parts = [f"planner worker {worker:,.0f}"] if worker else []
    parts += [f"world {world:,.0f}"] if world else []
    return f"{r['peak_rss_mb']:,.0f}" + (f" ({', '.join(parts)})" if parts else "")


ROWS: tuple[Row, ...] = (
    ("config", lambda r: f"{r['config']['site']}"),
    ("database", lambda r: r["database_kind"]),
    ("orders placed / requested", lambda r: f"{r['orders']['placed']:,} / {r['orders']['requested']:,}"),
    ("received / in database", lambda r: f"{r['orders']['sent']:,} / {r['orders']['in_db']:,}"),
    (
        "dispatched / held / rejected / open",
        lambda r: (
            f"{r['orders']['dispatched']:,} / {r['orders']['held']:,} / {r['orders']['rejected']:,} / "
            f"{r['orders']['open']:,}"
        ),
    ),
    (
        "lost / held back by intake",
        lambda r: f"{r['orders']['lost']} / {r['orders']['held_back_by_intake']:,}",
    ),
    ("every parcel accounted for", lambda r: r["checks"]["accounted_for"]),
    ("within 24 h (of orders owed)", lambda r: _pct(r["sla"]["within_24h_pct"], r["sla"]["owed"])),
    (
        "order-to-dispatch p50 / p99 / max",
        lambda r: " / ".join(hhmm(r["sla"]["order_to_dispatch_s"][k]) for k in ("p50", "p99", "max")),
    ),
    ("placed per hour, peak", lambda r: _peak(r["per_hour"]["placed"])),
    ("dispatched per hour, peak", lambda r: _peak(r["per_hour"]["dispatched"])),
    ("to pick, peak (allocated+waved)", lambda r: _queue_peak(r, ("allocated", "waved"))),
    ("at sortation, peak", lambda r: _queue_peak(r, ("packed", "at_induct", "sorting"))),
    ("at the gate, peak", lambda r: _queue_peak(r, ("at_gate", "inspecting"))),
    ("released awaiting truck, peak", lambda r: _queue_peak(r, ("released",))),
    (
        "gate: inspected / manual / held",
        lambda r: (
            f"{r['gate']['inspected']:,} / {r['gate']['released_after_manual_check']:,} / "
            f"{r['gate']['held']:,}"
        ),
    ),
    (
        "rejected at gate / at intake",
        lambda r: f"{r['gate']['rejected_at_gate']:,} / {r['gate']['rejected_at_intake']:,}",
    ),
    ("picking robots", lambda r: _robots(r, "picking")),
    ("picking charging", lambda r: _charging(r, "picking")),
    ("sorting robots", lambda r: _robots(r, "sorting")),
    ("sorting charging", lambda r: _charging(r, "sorting")),
    ("pick task p50 / p99 / max", lambda r: _took(r, "picking")),
    ("sort task p50 / p99 / max", lambda r: _took(r, "sorting")),
    ("tasks over the alarm time", _slow),
    (
        "bags: closed / mean fill / full",
        lambda r: (
            f"{r['chutes']['bags_closed']:,} / {_num(r['chutes']['mean_fill_pct'])}% / "
            f"{_num(r['chutes']['closed_full_pct'])}%"
        ),
    ),
    ("open chutes peak / of", lambda r: f"{r['chutes']['open_chutes_peak']} / {r['chutes']['chutes']}"),
    ("drain after 24 h", lambda r: hhmm(r["drain_s"]) if r["drained"] else "NOT drained"),
    ("ledger balanced", lambda r: r["checks"]["ledger_balanced"]),
    ("internal errors", lambda r: r["internal_errors"]),
    ("wall time s", _wall),
    ("orders / wall s", lambda r: r["wall"]["orders_per_s"]),
    ("CPU s: day's process / planner worker / world", _cpu),
    ("run s: controller / simulated world / rest", _split),
    ("world process link: latency, windows, wait", _link),
    ("peak memory MB", _memory),
)


def _lost(r: dict[str, Any]) -> str:
    return f"{r['orders']['lost']} / {r['orders']['held_back_by_intake']:,}"


def _pct(x: float | None, owed: int) -> str:
    return "-" if x is None else f"{x:.3f}% of {owed:,}"


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:g}"


def cell(v: Any) -> str:
    """A table cell: booleans in colour."""
    if isinstance(v, bool):
        return "[green]yes[/]" if v else "[red]no[/]"
    return "-" if v is None else str(v)


def summary_table(runs: Sequence[dict[str, Any]], title: str = "Simulated day") -> Table:
    """Every run in a column (e.g. SQLite beside PostgreSQL); a failed run shows its error."""
    table = Table(title=title)
    table.add_column("", no_wrap=True)
    ok = [r for r in runs if "error" not in r]
    for r in ok:
        table.add_column(r.get("label") or r["database_kind"], justify="right")
    for name, get in ROWS:
        table.add_row(name, *(cell(get(r)) for r in ok))
    return table


def errors(runs: Sequence[dict[str, Any]]) -> list[str]:
    """The failure of every run that did not finish."""
    return [f"{r.get('label', '?')}: {r['error']}" for r in runs if "error" in r]


def verdict(run: dict[str, Any]) -> str:
    """One line per target."""
    lines = [f"{'[green]pass[/]' if v else '[red]FAIL[/]'}  {k}" for k, v in run["targets"].items()]
    if run.get("stopped_early"):
        lines.append(f"[yellow]stopped early:[/] {run['stopped_early']}")
    return "\n".join(lines)


HOUR_COLUMNS = (
    "placed",
    "received",
    "picked",
    "packed",
    "sorted",
    "released",
    "dispatched",
    "held",
    "rejected",
)


def hourly_table(run: dict[str, Any]) -> Table:
    """Orders per hour by stage (hours from local midnight; past 24 the drain)."""
    ph = run["per_hour"]
    table = Table(title="Orders per hour by stage")
    table.add_column("hour", justify="right")
    for c in HOUR_COLUMNS:
        table.add_column(c, justify="right")
    for h in range(len(ph["placed"])):
        table.add_row(str(h), *(f"{ph[c][h]:,}" for c in HOUR_COLUMNS))
    table.add_row("total", *(f"{sum(ph[c]):,}" for c in HOUR_COLUMNS), style="bold")
    return table


def sweep_table(cases: Sequence[Case], results: dict[str, dict[str, Any]], target: float) -> Table:
    """Each fleet size tried: share within 24 h, p99, utilisation, whether it passes."""
    table = Table(title=f"Fleet sweep: smallest fleets keeping >= {target:g}% within 24 h")
    for c in (
        "picking",
        "sorting",
        "swept",
        "within 24 h",
        "p99",
        "pick busy",
        "sort busy",
        "drained",
        "wall s",
        "",
    ):
        table.add_column(c, justify="right")
    for case in cases:
        r = results.get(case.key, {"error": "not run"})
        if "error" in r:
            table.add_row(
                str(case.picking), str(case.sorting), case.role, "-", "-", "-", "-", "-", "-", "[red]error[/]"
            )
            continue
        table.add_row(
            str(case.picking),
            str(case.sorting),
            case.role,
            _num(r["sla"]["within_24h_pct"]),
            hhmm(r["sla"]["order_to_dispatch_s"]["p99"]),
            f"{r['robots']['picking']['utilisation_pct']:g}%",
            f"{r['robots']['sorting']['utilisation_pct']:g}%",
            cell(r["drained"]),
            f"{r['wall']['total_s']:,.0f}",
            "[green]pass[/]" if passes(r) else "[red]fail[/]",
        )
    return table
