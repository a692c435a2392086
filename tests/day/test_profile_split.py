"""``tools/profile_split.py``: a py-spy profile of a day, split by what each process's loop ran."""

from __future__ import annotations

from tools.profile_split import (
    COMMIT,
    LINK,
    LOOP,
    OTHER,
    THREADS,
    category,
    report,
    split,
    within,
    within_report,
)

CTL = 'process 10:"python -m wms bench day"'
LOOP_TO = [
    "run_day (wms/day/bench.py:368)",
    "Leader.run_before (wms/bus/lockstep.py:124)",
    "VirtualClock.run_before (wms/clock.py:207)",
    "_Loop._run_one (wms/clock.py:142)",
    "_Loop._guard (wms/clock.py:148)",
    "Delivery.__call__ (wms/bus/inproc.py:105)",
    "Outbox.atomic.<locals>.run (wms/control/outbox.py:51)",
]
SAMPLES = [
    ([CTL, *LOOP_TO, "FleetManager._on_state (wms/control/fleet.py:415)", "read_state (x.py:5)"], 30),
    ([CTL, *LOOP_TO, "_Outer.__exit__ (wms/control/repo.py:93)", "Repo._end (wms/control/repo.py:183)"], 20),
    ([CTL, "run_day (wms/day/bench.py:368)", "Leader.run_before (x.py:1)", "Leader._reply (x.py:2)"], 10),
    ([CTL, "Thread._bootstrap (threading.py:1002)", "Checkpointer._run (wms/store/checkpoint.py:58)"], 5),
    ([CTL, "<module> (wms/__main__.py:3)"], 5),
    (
        [
            CTL,
            'process 11:"python -B -c spawn_main"',
            "_process_worker (futures/process.py:256)",
            "_plan (x.py:9)",
        ],
        25,
    ),
]
PROFILE = [*(";".join(frames) + f" {n}" for frames, n in SAMPLES), "not a sample line"]


def test_a_sample_goes_to_the_callback_its_loop_ran() -> None:
    ran = category(["Leader.run_before", "_Loop._guard", "Delivery.__call__", "Controller._on_order", "x"])
    assert ran == "Controller._on_order"
    assert category(["_Loop._guard", "Outbox.atomic.<locals>.run", "_Outer.__exit__", "Repo._end"]) == COMMIT
    assert category(["_Loop._guard", "Delivery.__call__"]) == LOOP
    assert (
        category(["Leader.run_before", "VirtualClock.run_before", "_Loop._run_one", "LoopSplit.__call__"])
        == LOOP
    )
    assert category(["follow", "_Receiver.__call__"]) == LINK
    assert category(["Thread._bootstrap", "_Loop._guard", "x"]) == THREADS
    assert category(["main", "build_shift"]) == OTHER


def test_samples_are_split_by_process_and_shown_in_seconds() -> None:
    samples = split(PROFILE)
    assert set(samples) == {"process 10: python -m wms bench day", "process 11: python -B -c spawn_main"}
    ctl, worker = (
        samples["process 10: python -m wms bench day"],
        samples["process 11: python -B -c spawn_main"],
    )
    assert ctl == {"FleetManager._on_state": 30, COMMIT: 20, LINK: 10, THREADS: 5, OTHER: 5}
    assert worker == {"_plan": 25}
    lines = report(samples, rate=10.0, top=2).splitlines()
    assert lines[0] == "process 10: python -m wms bench day: 7 s in 70 samples"
    assert lines[1].split() == ["3.0", "s", "42.9%", "FleetManager._on_state"]
    assert lines[3].split() == ["2.0", "s", "28.6%", "(the", "rest)"]  # the 20 samples beyond the top two
    assert lines[4] == "process 11: python -B -c spawn_main: 2 s in 25 samples"


def test_within_a_function_counts_its_samples_self_and_inclusive() -> None:
    total, own, incl = within(PROFILE, "Outbox.atomic.<locals>.run")
    assert total == 50
    assert own == {"read_state": 30, "Repo._end": 20}
    assert incl["Outbox.atomic.<locals>.run"] == 50 and incl["FleetManager._on_state"] == 30
    assert "run_day" not in incl  # only what runs under the function
    text = within_report(total, own, incl, rate=10.0, top=3)
    assert text.splitlines()[0] == "5.0 s in 50 samples"
    assert text.splitlines()[2].split() == ["3.0", "s", "60.0%", "read_state"]
