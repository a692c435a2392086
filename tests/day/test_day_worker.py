"""A day's worker process leaves when the bench that started it is killed, instead of running on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_BENCH = """
from wms.config import CONFIG_DIR, load_customs, load_warehouse
from wms.day.bench import DayOptions, run_cases

if __name__ == "__main__":
    cfg = load_warehouse(CONFIG_DIR / "warehouse.toml")
    customs = load_customs(CONFIG_DIR / "customs.toml")
    opts = DayOptions(orders=50_000, seed=3)  # far longer than the test waits
    run_cases([("day", cfg, customs, opts)], on_progress=lambda *_: print("progress", flush=True))
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker in /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_day_worker_leaves_when_the_bench_is_killed(tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "bench.py"
    script.write_text(_BENCH)
    bench = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    workers: list[int] = []
    try:
        assert bench.stdout is not None
        assert bench.stdout.readline().strip() == "progress"  # the day is running in its worker
        workers = [p for p in _children(bench.pid) if _alive(p)]
        assert workers, "no worker process found"
        bench.send_signal(sig)
        bench.wait(10)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), f"a day's worker outlived the bench ({sig.name})"
    finally:
        bench.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
