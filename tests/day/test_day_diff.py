"""``tools/day_diff.py``: two day JSONs compare equal apart from wall time and memory, and differ by name."""

from __future__ import annotations

import json
from pathlib import Path

from tools.day_diff import diff, main


def test_timing_fields_are_ignored_and_everything_else_is_named(tmp_path: Path) -> None:
    old = {"wall_s": 90.1, "peak_rss_mb": 180, "orders": {"placed": 10, "hours": [1, 2]}, "ok": True}
    new = {"wall_s": 70.3, "peak_rss_mb": 182, "orders": {"placed": 10, "hours": [1, 2]}, "ok": True}
    assert diff(old, new) == []
    split = {"seconds": {"controller": 60.0}, "events": {"controller": 700}, "controller_ms_per_order": 30.4}
    sample = {"t_s": 60, "controller_s": 1.2, "simulators_s": 0.4, "sent": 3}
    old |= {"split": split, "samples": [sample]}
    new |= {"split": split | {"seconds": {"controller": 20.0}, "controller_ms_per_order": 10.1}}
    new["samples"] = [sample | {"controller_s": 0.5, "simulators_s": 0.2}]
    assert diff(old, new) == []  # the loop's seconds by owner are timing too
    world = {"callbacks_s": {"simulators": 70.2}, "callbacks": {"simulators": 89}, "controller_waited_s": 2.7}
    old |= {"world": world, "world_peak_rss_mb": 205.8}
    new |= {"world": world | {"callbacks_s": {"simulators": 634.6}, "controller_waited_s": 223.2}}
    new["world_peak_rss_mb"] = 205.0
    assert diff(old, new) == []  # so are the world process's
    new["world"] = world | {"callbacks": {"simulators": 90}}
    assert diff(old, new) == ["world.callbacks.simulators: 89 != 90"]
    new["world"] = world
    new["split"] = split | {"events": {"controller": 701}}
    assert diff(old, new) == ["split.events.controller: 700 != 701"]  # callbacks run are not
    new["split"] = split
    new["orders"] = {"placed": 11, "hours": [1, 2, 3]}
    new["ok"] = 1  # equal in Python, but not the same JSON
    assert diff(old, new) == [
        "ok: True != 1",
        "orders.hours: 2 items != 3 items",
        "orders.placed: 10 != 11",
    ]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(old | {"wall_s": 1.0}))
    assert main([str(a), str(b)]) == 0
    b.write_text(json.dumps(new))
    assert main([str(a), str(b)]) == 1
    assert main([str(a)]) == 2
