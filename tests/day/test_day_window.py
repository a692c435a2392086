"""``tools/day_window.py``: a window of a day, its messages per order by kind and its CPU."""

from __future__ import annotations

import sys

import pytest

from tools.day_window import _kind, main
from wms.config import CONFIG_DIR


def test_message_kinds_name_the_robot_kind_or_the_controller_topic() -> None:
    assert _kind("uagv/v2/wmssim/sort-07/state") == "state (sort)"
    assert _kind("uagv/v2/wmssim/pick-12/order") == "order (pick)"
    assert _kind("wms/zz1/conveyor/cmd") == "conveyor/cmd"


def test_a_short_window_counts_every_message_once(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = [
        "day_window",
        "--config",
        str(CONFIG_DIR / "warehouse.toml"),
        "--orders",
        "20000",
        "--hours",
        "0.1",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    main()
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    placed = int(out.split(" orders placed")[0].split()[-1].replace(",", ""))
    assert placed > 50
    counts = {" ".join(r[2:]): int(r[0].replace(",", "")) for r in rows}
    assert counts["orders"] == placed  # the feed's order messages: one per order placed
    assert counts["state (pick)"] > 0 and counts["state (sort)"] > 0
    assert counts["all"] == sum(n for k, n in counts.items() if k != "all")
    assert "CPU s: this process" in out
