"""Load: a warehouse pushed past its capacity back-pressures the order intake and drops nothing.

A reduced site (three picking robots instead of twelve) saturates within minutes at the configured order
rate, so the test stays short; ``wms bench load`` runs the full site at twice the rate for an hour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wms.config import CONFIG_DIR, WarehouseConfig, load_customs, load_warehouse
from wms.control.admission import Admission
from wms.loadtest import LoadOptions, plot, render, run_once, verdict
from wms.shift import Shift

CFG = load_warehouse(CONFIG_DIR / "warehouse.toml")
CUSTOMS = load_customs(CONFIG_DIR / "customs.toml")
LIMIT, RESUME = 40, 25


def _reduced(cfg: WarehouseConfig) -> WarehouseConfig:
    """Three picking and four sorting robots: picking saturates at the configured order rate."""
    fleet = cfg.fleet.model_copy(
        update={
            "picking": cfg.fleet.picking.model_copy(update={"count": 3}),
            "sorting": cfg.fleet.sorting.model_copy(update={"count": 4}),
        }
    )
    return cfg.model_copy(update={"fleet": fleet})


def _assert_nothing_dropped(run: dict[str, Any]) -> None:
    a, s = run["analysis"], run["summary"]
    assert run["holding_at_end"] == 0  # every order the feed held back went out in the end
    assert a["orders_sent"] == a["orders_in_db"] == a["orders_terminal"] > 0, a
    assert s["lost"] == 0 and s["in_progress"] == 0
    assert a["orders_terminal"] == s["dispatched"] + s["held"] + s["rejected"]
    assert sum(run["reasons"].values()) == s["held"] + s["rejected"]  # each with its reason
    assert "held: (no reason)" not in run["reasons"] and "rejected: (no reason)" not in run["reasons"]
    assert s["ledger_balanced"] and s["internal_errors"] == 0
    assert a["drain_s"] is not None


def test_admission_closes_and_reopens_the_intake_and_every_order_ends_terminal(tmp_path: Path) -> None:
    # the controller's own admission ([intake] of the config) at low limits on a reduced site
    opts = LoadOptions(hours=5 / 60, backlog_limit=LIMIT, resume_below=RESUME, drain_limit_h=2.0)
    run = run_once(_reduced(CFG), CUSTOMS, 1.0, opts)
    assert run["admission"] == "controller"
    closes = [c for c in run["intake_changes"] if not c["accepting"]]
    reopens = [c for c in run["intake_changes"][1:] if c["accepting"]]
    assert closes and reopens, run["intake_changes"]  # the intake went off and on again
    assert all(c["backlog"] >= LIMIT for c in closes) and all(c["backlog"] < RESUME for c in reopens)
    assert run["held_back"] > 0 and run["analysis"]["back_pressured"]
    # bounded: the admission checks every 10 s, so the backlog overshoots the limit by a few orders only
    assert run["analysis"]["backlog_peak"] <= LIMIT + 15, run["analysis"]
    assert any(not x["accepting"] and x["holding"] > 0 for x in run["samples"])
    _assert_nothing_dropped(run)
    result = {"runs": [run], "hours": opts.hours, "config_orders_per_hour": CFG.feed.orders_per_hour}
    assert "nothing dropped" in verdict(result)
    render(result)
    plot(result, tmp_path / "load.png")
    assert (tmp_path / "load.png").stat().st_size > 10_000


def test_controller_publishes_the_intake_signal_itself(tmp_path: Path) -> None:
    def prepare(shift: Shift) -> None:
        shift.controller.admission = Admission(LIMIT, RESUME)  # type: ignore[attr-defined]

    opts = LoadOptions(hours=5 / 60, drain_limit_h=2.0)  # no harness-side admission
    run = run_once(_reduced(CFG), CUSTOMS, 1.0, opts, prepare=prepare)
    assert run["admission"] == "controller"
    assert any(not c["accepting"] for c in run["intake_changes"])
    assert run["held_back"] > 0 and run["analysis"]["backlog_peak"] <= LIMIT + 15
    _assert_nothing_dropped(run)
