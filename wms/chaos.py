"""Chaos run: the controller SIGKILLed at random moments of a shift over MQTT and restarted from its database.

The simulators (robots, conveyor, X-ray gate, order feed) run in this process and keep running; the
controller is a separate ``wms run`` process on the same (sped-up) time line. After every kill the
database is checked, and at the end the whole shift: every order closed exactly once, nothing lost or
duplicated, the bonded ledger balanced, no robot given two tasks.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wms import topics
from wms.bus.broker import EmbeddedBroker
from wms.bus.mqtt import MqttBus
from wms.catalog import generate_catalog
from wms.clock import WallClock
from wms.config import CustomsConfig, WarehouseConfig
from wms.domain import TERMINAL_STATES
from wms.messages import Status
from wms.shift import PERSISTENT_CLIENTS, ShiftOptions, start_simulators, start_time
from wms.store.db import connect
from wms.store.models import ParcelEvent, ParcelRow, TaskRow

log = logging.getLogger(__name__)
TERMINAL = [s.value for s in TERMINAL_STATES]


@dataclass
class ChaosOptions:
    """How hard to shake: kills, shift length and speed, where the broker and database are."""

    kills: int = 5
    duration_s: float = 1800.0
    orders_per_hour: float | None = None
    speed: float = 20.0
    min_up_s: float = 0.5  # wall seconds a restarted controller serves before the next kill, at least
    max_up_s: float = 4.0
    drain_limit_s: float = 6 * 3600.0
    mqtt_url: str | None = None
    db_url: str | None = None
    seed: int = 0
    config: Path | None = None
    customs: Path | None = None
    start_local: str = "2026-11-11T09:00:00"
    log_dir: Path | None = None


@dataclass
class KillRecord:
    """One kill: when, what the database held right after it, and how fast the controller served again."""

    n: int
    sim_time_s: float
    open_parcels: int
    ledger_balanced: bool
    double_closed: int
    robots_with_two_tasks: int
    recovery_s: float | None = None


def db_checks(engine: Engine) -> dict[str, Any]:
    """Invariants that must hold in the database at any commit: ledger, closings, robot tasks."""
    from wms.control.repo import Repo

    ledger = Repo(engine).ledger_check()
    with Session(engine) as s:
        closings = Counter(
            s.exec(select(ParcelEvent.order_no).where(ParcelEvent.to_state.in_(TERMINAL))).all()  # type: ignore[attr-defined]
        )
        assigned = Counter(
            r for r in s.exec(select(TaskRow.robot).where(TaskRow.state == "assigned")).all() if r is not None
        )
        states = dict(s.exec(select(ParcelRow.state, func.count()).group_by(ParcelRow.state)).all())
    return {
        "ledger_balanced": bool(ledger["balanced"]),
        "ledger": ledger,
        "double_closed": sum(1 for n in closings.values() if n > 1),
        "robots_with_two_tasks": sum(1 for n in assigned.values() if n > 1),
        "states": states,
        "parcels": sum(states.values()),
        "open": sum(v for k, v in states.items() if k not in TERMINAL),
    }


class ControllerProcess:
    """``wms run`` as a child process on the harness's time line; killed with SIGKILL, restarted at will."""

    def __init__(self, args: list[str], log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start a new controller process (its output goes to a log file per start)."""
        self.starts += 1
        out = (self.log_dir / f"controller-{self.starts:03d}.log").open("wb")
        self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)
        out.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last commit, exactly like a power cut of the controller host."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """Stop for good at the end of the run (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        """Whether the current process is running."""
        return self.proc is not None and self.proc.poll() is None


class StatusWatch:
    """Waits for the retained status of a given controller start (the sign that it serves)."""

    def __init__(self, bus: MqttBus, partition: str) -> None:
        self._cv = threading.Condition()
        self.boot = -1
        bus.subscribe(topics.status(partition), self._on_status)

    def _on_status(self, _topic: str, data: bytes) -> None:
        st = Status.model_validate_json(data)
        with self._cv:
            self.boot = max(self.boot, st.boot)
            self._cv.notify_all()

    def wait_for(self, boot: int, timeout_s: float) -> bool:
        """Block until a status of start ``boot`` (or later) arrived; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self.boot >= boot, timeout_s)


def run_chaos(cfg: WarehouseConfig, customs: CustomsConfig, opts: ChaosOptions) -> dict[str, Any]:
    """Run a shift while killing the controller ``opts.kills`` times; return what was checked."""
    rng = random.Random(opts.seed)
    ns = uuid.uuid4().hex[:6]
    site = {"partition": f"chaos{ns}", "manufacturer": f"chaos{ns}"}
    cfg = cfg.model_copy(update={"site": cfg.site.model_copy(update=site)})
    tmp = tempfile.TemporaryDirectory(prefix="wms-chaos-")
    log_dir = opts.log_dir or Path(tmp.name)
    log_dir.mkdir(parents=True, exist_ok=True)
    db_url = opts.db_url or f"sqlite:///{Path(tmp.name) / 'chaos.db'}"
    engine = connect(db_url, fresh=True)
    broker = None if opts.mqtt_url else EmbeddedBroker().start()
    url = opts.mqtt_url or broker.url  # type: ignore[union-attr]
    wall0, sim0 = time.time(), start_time(cfg, opts.start_local)
    clock = WallClock(opts.speed, sim0, anchor=wall0)
    clock.on_error = lambda exc: log.error("simulator handler failed", exc_info=exc)
    args = [sys.executable, "-m", "wms", "run", "--mqtt", url, "--db", db_url, "--speed", str(opts.speed)]
    args += ["--time-anchor", f"{wall0}:{sim0}", "--partition", site["partition"]]
    args += ["--manufacturer", site["manufacturer"]]
    if opts.config:
        args += ["--config", str(opts.config)]
    if opts.customs:
        args += ["--customs", str(opts.customs)]
    ctl = ControllerProcess(args, log_dir)
    buses: list[MqttBus] = []

    def bus(name: str, will: Any = None) -> MqttBus:
        b = MqttBus(
            url, f"{site['partition']}-{name}", clock, will=will, persistent=name in PERSISTENT_CLIENTS
        )
        buses.append(b)
        return b

    watch = StatusWatch(bus("chaos-watch"), site["partition"])
    kills: list[KillRecord] = []
    robots: list[Any] = []
    runner = threading.Thread(target=clock.run, name="simulators", daemon=True)
    t0 = time.perf_counter()
    try:
        runner.start()  # bus handlers (the status watch too) run on the clock's loop
        ctl.start()
        first_ready = watch.wait_for(0, 60.0)
        if not first_ready:
            raise RuntimeError(f"the controller did not start; see {log_dir}/controller-001.log")
        seed = cfg.feed.seed
        catalog = generate_catalog(cfg.feed, customs)
        shift_opts = ShiftOptions(duration_s=opts.duration_s, orders_per_hour=opts.orders_per_hour, seed=seed)
        robots, _conveyor, _xray, _hold, feed = start_simulators(
            cfg, customs, shift_opts, clock, bus, catalog, seed
        )
        feed_until = clock.now() + opts.duration_s
        limit = feed_until + opts.drain_limit_s

        def drained() -> bool:
            if clock.now() < feed_until or feed.unacked:
                return False
            with Session(engine) as s:
                open_n = s.exec(
                    select(func.count()).select_from(ParcelRow).where(ParcelRow.state.not_in(TERMINAL))
                ).one()  # type: ignore[attr-defined]
            return int(open_n) == 0

        next_kill = time.monotonic() + rng.uniform(opts.min_up_s, opts.max_up_s)
        while clock.now() < limit:
            if len(kills) < opts.kills and time.monotonic() >= next_kill:
                ctl.kill()
                c = db_checks(engine)
                rec = KillRecord(
                    len(kills) + 1,
                    round(clock.now() - sim0, 1),
                    c["open"],
                    c["ledger_balanced"],
                    c["double_closed"],
                    c["robots_with_two_tasks"],
                )
                t_restart = time.perf_counter()
                ctl.start()
                if watch.wait_for(len(kills) + 1, 60.0):
                    rec.recovery_s = round(time.perf_counter() - t_restart, 2)
                kills.append(rec)
                next_kill = time.monotonic() + rng.uniform(opts.min_up_s, opts.max_up_s)
                continue
            if not ctl.alive():
                raise RuntimeError(f"the controller exited by itself; see {log_dir}")
            if len(kills) >= opts.kills and drained():
                break
            time.sleep(0.2)
        final = db_checks(engine)
        wall = time.perf_counter() - t0
        sent = feed.sent
    finally:
        ctl.stop()
        clock.stop()
        for r in robots:
            r.stop()
        for b in buses:
            b.close()
        if broker is not None:
            broker.close()
    errors = _log_errors(log_dir)
    recoveries = [k.recovery_s for k in kills if k.recovery_s is not None]
    result = {
        "kills": len(kills),
        "orders_sent": sent,
        "parcels_in_db": final["parcels"],
        "lost": sent - final["parcels"],
        "open_at_end": final["open"],
        "states": final["states"],
        "double_closed": final["double_closed"],
        "robots_with_two_tasks": max(
            [final["robots_with_two_tasks"], *(k.robots_with_two_tasks for k in kills)]
        ),
        "robot_orders_refused": sum(r.orders_refused for r in robots),
        "ledger_balanced_at_end": final["ledger_balanced"],
        "ledger_balanced_after_every_kill": all(k.ledger_balanced for k in kills),
        "double_closed_after_any_kill": sum(k.double_closed for k in kills),
        "recovery_s_max": max(recoveries) if recoveries else None,
        "recovery_s_mean": round(sum(recoveries) / len(recoveries), 2) if recoveries else None,
        "restarts_not_serving_in_60s": sum(1 for k in kills if k.recovery_s is None),
        "controller_internal_errors": errors,
        "sim_s": round(clock.now() - sim0, 1),
        "wall_s": round(wall, 1),
        "speed": opts.speed,
        "broker": f"{broker.kind if broker else 'external'} {url}",
        "database": engine.url.render_as_string(hide_password=True),
        "per_kill": [k.__dict__ for k in kills],
        "log_dir": str(log_dir) if opts.log_dir else None,
    }
    result["ok"] = bool(
        result["lost"] == 0
        and result["open_at_end"] == 0
        and result["double_closed"] == 0
        and result["robots_with_two_tasks"] == 0
        and result["ledger_balanced_at_end"]
        and result["ledger_balanced_after_every_kill"]
        and result["restarts_not_serving_in_60s"] == 0
        and result["controller_internal_errors"] == 0
    )
    tmp.cleanup()
    return result


def _log_errors(log_dir: Path) -> int:
    """Unhandled errors the controller logged (handler failures, tracebacks)."""
    n = 0
    for f in sorted(log_dir.glob("controller-*.log")):
        text = f.read_text(errors="replace")
        n += text.count("handler failed") + text.count("internal error on")
    return n
