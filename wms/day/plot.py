"""PNG of a simulated day: arrivals, throughput per stage, queues and robots over the hours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# queue groups of the plot: label -> open states (from wms.domain.ParcelState)
QUEUE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("to pick", ("received", "allocated", "waved")),
    ("picking", ("picking",)),
    ("pack, conveyor", ("picked", "packed")),
    ("sortation", ("at_induct", "sorting")),
    ("in chutes and bags", ("sorted",)),
    ("customs gate", ("at_gate", "inspecting")),
    ("released, awaiting truck", ("released",)),
)
STAGES = ("allocated", "picked", "packed", "sorted", "released", "dispatched")


def plot_day(run: dict[str, Any], path: Path) -> None:
    """Four panels against hours from local midnight: orders per hour, stages per hour, queues, robots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ph = run["per_hour"]
    hours = [h + 0.5 for h in range(len(ph["placed"]))]
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    ax1, ax2, ax3, ax4 = axes
    ax1.bar(hours, ph["placed"], width=0.9, color="#c8d8ea", label="placed")
    ax1.plot(hours, ph["received"], marker=".", label="received by the controller")
    ax1.plot(hours, ph["dispatched"], marker=".", label="dispatched")
    for p in run["config"]["promotions"]:
        a = int(p["start"][:2]) + int(p["start"][3:]) / 60
        for ax in axes:
            ax.axvspan(a, a + p["hours"], color="orange", alpha=0.08, linewidth=0)
    ax1.set_ylabel("orders per hour")
    ax1.set_title(
        f"wms bench day: {run['orders']['placed']:,} orders, {run['config']['site']} (shaded: promotions)",
        fontsize=10,
    )
    for stage in STAGES:
        ax2.plot(hours, ph[stage], label=stage)
    ax2.set_ylabel("parcels per hour entering")
    period_h = run["queues"]["period_s"] / 3600.0
    by = run["queues"]["by_state"]
    n = len(next(iter(by.values()), []))
    t = [(k + 1) * period_h for k in range(n)]
    stacks = [[sum(by.get(s, [0] * n)[k] for s in states) for k in range(n)] for _, states in QUEUE_GROUPS]
    ax3.stackplot(t, stacks, labels=[label for label, _ in QUEUE_GROUPS], alpha=0.85)
    ax3.set_ylabel("open parcels by stage")
    for kind in ("picking", "sorting"):
        count = run["robots"][kind]["robots"] or 1
        busy = hourly_share(run["queues"]["samples"], kind, "busy", count)
        charging = hourly_share(run["queues"]["samples"], kind, "charging", count)
        (line,) = ax4.plot(
            [h + 0.5 for h in range(len(busy))], busy, marker=".", label=f"{kind} busy ({count})"
        )
        ax4.plot(
            [h + 0.5 for h in range(len(charging))],
            charging,
            color=line.get_color(),
            linestyle=":",
            label=f"{kind} charging",
        )
    ax4.set_ylabel("% of fleet (hourly mean)")
    top = max((max(line.get_ydata(), default=0.0) for line in ax4.get_lines()), default=0.0)
    ax4.set_ylim(0, min(105.0, max(5.0, 1.2 * float(top))))
    ax4.set_xlabel("hours from local midnight (orders stop at 24)")
    for ax in axes:
        ax.axvline(24, color="grey", linestyle=":")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def hourly_share(samples: list[dict[str, Any]], kind: str, state: str, count: int) -> list[float]:
    """Mean share (%) of a fleet in ``state`` per hour, from the samples."""
    sums: dict[int, list[float]] = {}
    for s in samples:
        h = int(max(s["t_s"] - 1e-6, 0.0) // 3600)
        sums.setdefault(h, []).append(s["robots"].get(kind, {}).get(state, 0))
    return [
        100.0 * sum(sums.get(h, [0])) / (len(sums.get(h, [0])) * count)
        for h in range(max(sums, default=-1) + 1)
    ]


def plot_sweep(cases: list[dict[str, Any]], target: float, path: Path) -> None:
    """Share within 24 h against fleet size, one line per swept fleet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for role in ("both", "picking", "sorting"):
        pts = sorted(
            (c["picking"] if role != "sorting" else c["sorting"], c["within_24h_pct"])
            for c in cases
            if role in c["role"].split("+") and c["within_24h_pct"] is not None
        )
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{role} fleet swept")
    ax.axhline(target, color="red", linestyle=":", label=f"target {target:g}%")
    ax.set_xlabel("robots")
    ax.set_ylabel("% dispatched within 24 h")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
