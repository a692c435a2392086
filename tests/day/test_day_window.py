"""``tools/day_window.py``: a window of a day, its messages per order by kind and its CPU."""

from __future__ import annotations

import gc
import sys

import pytest

from tools.day_window import _CollectorTimes, _kind, main
from wms.config import CONFIG_DIR

WINDOW = ["day_window", "--config", str(CONFIG_DIR / "warehouse.toml"), "--orders", "20000", "--hours", "0.1"]


def test_message_kinds_name_the_robot_kind_or_the_controller_topic() -> None:
    assert _kind("uagv/v2/wmssim/sort-07/state") == "state (sort)"
    assert _kind("uagv/v2/wmssim/pick-12/order") == "order (pick)"
    assert _kind("wms/zz1/conveyor/cmd") == "conveyor/cmd"


def test_a_short_window_counts_every_message_once(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", WINDOW)
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


def test_sizes_give_each_kinds_mean_payload(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", [*WINDOW, "--sizes"])
    main()
    out = capsys.readouterr().out
    assert "mean B" in out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    mean = {" ".join(r[3:]): int(r[2].replace(",", "")) for r in rows}
    assert mean["state (sort)"] > 300 and mean["order (pick)"] > mean["acks"] > 0  # a state is no ack
    assert min(mean[k] for k in ("state (pick)", "orders", "conveyor/cmd")) > 50


def test_gc_counts_the_collectors_passes_in_the_window(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", [*WINDOW, "--gc"])
    main()
    rows = capsys.readouterr().out.split("collector generation\n")[1].splitlines()[:3]
    assert [int(line.split()[2]) for line in rows] == [0, 1, 2]
    times = _CollectorTimes()
    gc.callbacks.append(times)
    try:
        gc.collect(1)
        gc.collect(1)
        gc.collect(2)
    finally:
        gc.callbacks.remove(times)
    assert times.passes == [0, 2, 1] and times.seconds[1] > 0 and times.seconds[2] > 0


def test_saved_waves_are_batched_again_to_the_same_carts(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``--save-waves`` keeps every wave the worker got; ``tools/wave_cost.py`` batches each again."""
    from tools import wave_cost
    from wms.bus.inproc import InProcBus
    from wms.control.planner import WavePlanner

    text = (CONFIG_DIR / "warehouse.toml").read_text()
    config = tmp_path / "warehouse.toml"
    config.write_text(text.replace("[waves]\n", "[waves]\nplanner_process = true\nplan_s = 5\n", 1))
    waves = tmp_path / "waves"
    argv = ["day_window", "--config", str(config), "--orders", "20000", "--hours", "0.1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--save-waves", str(waves)])
    submit, publish = WavePlanner.submit, InProcBus.publish
    main()
    assert (WavePlanner.submit, InProcBus.publish) == (submit, publish)  # both hooks undone
    capsys.readouterr()
    saved = sorted(waves.glob("wave*.pkl"))
    assert len(saved) >= 3
    digests = []
    for _ in range(2):
        monkeypatch.setattr(sys, "argv", ["wave_cost", str(waves), "--config", str(config)])
        wave_cost.main()
        rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:-1]]
        assert [r[0] for r in rows] == [p.stem for p in saved]
        assert [int(r[1].replace(",", "")) for r in rows] == [int(p.stem.split("_")[1]) for p in saved]
        assert all(0 < int(r[2].replace(",", "")) <= int(r[1].replace(",", "")) for r in rows)
        digests.append([r[4] for r in rows])
    assert digests[0] == digests[1]


def test_split_gives_the_loop_time_to_controller_simulators_and_the_loop(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``--split``: every callback has a known owner, and the shares add up to the loop's wall."""
    monkeypatch.setattr(sys, "argv", [*WINDOW, "--split"])
    main()
    out = capsys.readouterr().out
    wall = float(out.split("wall ")[1].split(" s;")[0])
    rows = [line.split(None, 2) for line in out.split("whose callbacks\n")[1].splitlines()]
    spent = {owner: float(t) for t, _, owner in rows}
    assert set(spent) == {"controller", "simulators", "bench", "other", "loop"}
    assert spent["controller"] > 0 and spent["simulators"] > 0 and spent["other"] == 0
    assert sum(spent.values()) == pytest.approx(wall, abs=0.3)


def test_handlers_name_the_costliest_callbacks(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """``--handlers``: rows of seconds, calls and µs per call by handler, the robots' states among them."""
    monkeypatch.setattr(sys, "argv", [*WINDOW, "--handlers"])
    main()
    out = capsys.readouterr().out
    wall = float(out.split("wall ")[1].split(" s;")[0])
    rows = [line.split() for line in out.split("  handler\n")[1].splitlines() if line.strip()]
    by_name = {r[4]: (float(r[0]), int(r[2].replace(",", ""))) for r in rows}
    assert by_name["FleetManager._on_state"][1] > 0 and by_name["Controller._on_order"][1] > 0
    assert by_name["RobotSim._activity_done"][1] > 0  # the simulators' own callbacks, by name too
    assert not any(name.startswith(("Outbox.", "Controller._guard")) for name in by_name)  # unwrapped
    assert sum(t for t, _ in by_name.values()) <= wall + 0.05


def test_a_window_with_the_world_in_its_own_process(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", [*WINDOW, "--world-process"])
    main()
    out = capsys.readouterr().out
    placed = int(out.split(" orders placed")[0].split()[-1].replace(",", ""))
    assert placed > 50  # the feed's counters, read off the other process
    rows = {
        " ".join(r[2:]): int(r[0].replace(",", ""))
        for r in (line.split() for line in out.splitlines())
        if r and r[0][0].isdigit()
    }
    assert "orders" not in rows and rows["order (sort)"] > 0  # only this process's messages are counted
    world = next(line for line in out.splitlines() if line.startswith("world process:"))
    assert " windows (" in world and "exchanges), this process waited" in world
