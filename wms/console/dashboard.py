"""The operator's live dashboard: renders a controller `Status` with rich and sends e-stop/resume over a bus.

`render` is a pure function of a status snapshot so that it can be tested and reused (``wms status``);
`ConsoleClient` keeps the latest snapshot from the bus; `run_console` shows it live against an MQTT broker.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from io import StringIO

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wms import topics
from wms.bus.base import Bus
from wms.clock import WallClock
from wms.messages import Alarm, AtRisk, ControlCmd, O2OView, RobotStatus, Status

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = (
    "received",
    "allocated",
    "waved",
    "picking",
    "picked",
    "packed",
    "at_induct",
    "sorting",
    "sorted",
    "at_gate",
    "inspecting",
    "released",
    "dispatched",
    "held",
    "rejected",
)
"""Parcel states in the order a parcel flows through the warehouse (terminal exceptions last)."""

_FINAL = frozenset({"dispatched", "held", "rejected"})
MAX_ROBOTS = 10
MAX_HOLDS = 4
MAX_AT_RISK = 6
MAX_CUTOFFS = 5
MAX_ALARMS = 5
MAX_ALARM_SOURCES = 4
MAX_O2O = 5
O2O_CLOSED = frozenset({"handed_over", "refused", "held", "rejected", "dispatched"})
LOW_BATTERY_PCT = 20.0
STALE_S = 5.0

_STATE_STYLE = {
    "idle": "white",
    "busy": "green",
    "charging": "cyan",
    "paused": "yellow",
    "offline": "bold red",
    "error": "bold white on red",
}
_STATE_RANK = {"error": 0, "offline": 1, "paused": 3, "charging": 4, "busy": 5, "idle": 6}
_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "error": "bold red"}
_SEVERITY_LABEL = {"info": "info", "warning": "WARN", "error": "ERR!"}


def _tz(utc_offset_h: float | None) -> timezone | None:
    """The display time zone: a fixed offset, or None for the host's local zone."""
    return None if utc_offset_h is None else timezone(timedelta(hours=utc_offset_h))


def _clock_text(ts: float, utc_offset_h: float | None, fmt: str) -> str:
    """Format an epoch instant in the display time zone."""
    tz = _tz(utc_offset_h)
    dt = datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()
    return dt.strftime(fmt)


def _zone_label(utc_offset_h: float | None) -> str:
    """Short name of the display time zone, e.g. ``UTC+8``."""
    if utc_offset_h is None:
        return "local"
    hours = int(utc_offset_h)
    minutes = round(abs(utc_offset_h - hours) * 60)
    sign = "+" if utc_offset_h >= 0 else "-"
    return f"UTC{sign}{abs(hours)}" + (f":{minutes:02d}" if minutes else "")


def hmm(seconds: float) -> str:
    """A duration as ``h:mm`` (hours may exceed 24), so ages compare at a glance against the 24 h limit."""
    total_min = max(int(seconds // 60), 0)
    return f"{total_min // 60}:{total_min % 60:02d}"


def battery(pct: float, width: int = 6) -> Text:
    """A coloured battery bar with percentage; red under 20 % so that low robots stand out."""
    pct = min(max(pct, 0.0), 100.0)
    filled = round(pct / 100 * width)
    style = "bold red" if pct < LOW_BATTERY_PCT else "yellow" if pct < 40 else "green"
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"), (f" {pct:3.0f}%", style))


def _more(n: int) -> Text:
    """The "… and N more" line shown below a truncated list."""
    return Text(f"… and {n} more", style="dim italic")


def _title(text: str) -> Text:
    """A section title."""
    return Text(text, style="bold underline")


def _header(
    status: Status,
    now: float | None,
    connected: bool,
    malformed: int,
    age_s: float | None,
    utc_offset_h: float | None,
) -> RenderableType:
    """Partition, simulated local time, uptime, connection state and the running/PAUSED banner."""
    at = status.ts if now is None else now
    line = Text.assemble(
        ("Bonded warehouse ", "bold"),
        (status.partition, "bold cyan"),
        "  ",
        (_clock_text(at, utc_offset_h, "%Y-%m-%d %H:%M:%S"), "bold"),
        (f" ({_zone_label(utc_offset_h)})", "dim"),
        f"  up {hmm(at - status.started)}",
        "  ",
        ("● connected", "green") if connected else ("○ DISCONNECTED", "bold red"),
    )
    if age_s is not None and age_s >= STALE_S:
        line.append(f"  no update for {age_s:.0f}s", style="bold red" if age_s >= 6 * STALE_S else "yellow")
    elif now is not None and now - status.ts >= STALE_S:
        line.append(f"  status {now - status.ts:.0f}s old", style="yellow")
    if malformed:
        line.append(f"  malformed: {malformed}", style="bold red")
    banner = Table.grid(expand=True)
    banner.add_column(justify="center")
    if status.paused:
        banner.add_row(
            Text("■ PAUSED (emergency stop): robots and conveyors halted ■"), style="bold white on red"
        )
    else:
        banner.add_row(Text("▶ RUNNING"), style="bold black on green")
    return Group(line, banner)


def _stages(status: Status) -> RenderableType:
    """Orders by stage in flow order, with last-hour throughput of each stage."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title=_title("Orders by stage"),
        title_justify="left",
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("stage", no_wrap=True)
    table.add_column("now", justify="right", no_wrap=True)
    table.add_column("/h", justify="right", no_wrap=True)
    extra = [k for k in (*status.by_state, *status.throughput_per_h) if k not in STAGES]
    for stage in (*STAGES, *dict.fromkeys(extra)):
        count = status.by_state.get(stage, 0)
        rate = status.throughput_per_h.get(stage)
        style = "dim" if not count else "bold red" if stage in ("held", "rejected") else ""
        table.add_row(
            Text(stage, style=style),
            Text(f"{count:,}", style=style),
            Text("" if rate is None else f"{rate:,.0f}", style="dim" if not rate else "cyan"),
        )
    return table


def _totals(status: Status) -> RenderableType:
    """Orders in, in progress, dispatched, held, rejected, SLA met and the ledger check."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    in_progress = sum(n for state, n in status.by_state.items() if state not in _FINAL)
    sla = status.sla_met_pct
    sla_style = "green" if sla >= 99.0 else "yellow" if sla >= 95.0 else "bold red"
    table.add_row("orders in", f"{status.orders_in:,}")
    table.add_row("in progress", f"{in_progress:,}")
    table.add_row("dispatched", Text(f"{status.dispatched:,}", style="green"))
    table.add_row("held", Text(f"{status.held:,}", style="yellow" if status.held else ""))
    table.add_row("rejected", Text(f"{status.rejected:,}", style="red" if status.rejected else ""))
    table.add_row("SLA met (24 h)", Text(f"{sla:.1f}%", style=sla_style))
    table.add_row(
        "ledger balanced",
        Text("yes", style="green") if status.ledger_balanced else Text(" NO ", style="bold white on red"),
    )
    return Group(_title("Totals"), table)


def _robot_key(robot: RobotStatus) -> tuple[int, str]:
    """Problems first (error, offline, low battery), then serial, so a truncated list shows what matters."""
    rank = _STATE_RANK.get(robot.state, 6)
    if robot.battery_pct < LOW_BATTERY_PCT and robot.state != "charging" and rank > 2:
        rank = 2
    return rank, robot.serial


def _task(robot: RobotStatus) -> Text:
    """The robot's task, and whether it waits on traffic (with its waits and re-routes so far)."""
    text = Text(robot.task or "—", style="" if robot.task else "dim")
    if robot.waiting:
        text.append(" waiting", style="yellow")
    if robot.waits or robot.reroutes:
        text.append(f" {robot.waits}w/{robot.reroutes}r", style="dim")
    return text


def _robots(robots: Sequence[RobotStatus]) -> RenderableType:
    """Fleet summary by kind and state, and the robots table (problems first)."""
    parts: list[RenderableType] = [_title(f"Robots ({len(robots)})")]
    for kind in ("picking", "sorting"):
        states = Counter(r.state for r in robots if r.kind == kind)
        if not states:
            continue
        line = Text(f"{kind} {sum(states.values())}:", style="bold")
        for state in (s for s in _STATE_STYLE if s in states):
            line.append(f" {states[state]} ")
            line.append(state, style=_STATE_STYLE[state])
        parts.append(line)
    if not robots:
        parts.append(Text("no robots reported", style="dim"))
        return Group(*parts)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=True, collapse_padding=True)
    table.add_column("serial", no_wrap=True, overflow="ellipsis", min_width=6, max_width=12)
    table.add_column("kind", no_wrap=True, min_width=4)
    table.add_column("state", no_wrap=True, min_width=8)
    table.add_column("battery", no_wrap=True, min_width=11)
    table.add_column("task", no_wrap=True, overflow="ellipsis", ratio=1)
    shown = sorted(robots, key=_robot_key)
    for r in shown[:MAX_ROBOTS]:
        table.add_row(
            r.serial,
            "pick" if r.kind == "picking" else "sort",
            Text(r.state, style=_STATE_STYLE.get(r.state, "")),
            battery(r.battery_pct),
            _task(r),
        )
    parts.append(table)
    if len(shown) > MAX_ROBOTS:
        parts.append(_more(len(shown) - MAX_ROBOTS))
    return Group(*parts)


def _inspection(status: Status) -> RenderableType:
    """The customs gate queue and the most recent holds."""
    queue_style = "bold red" if status.gate_queue >= 50 else "yellow" if status.gate_queue >= 10 else "green"
    parts: list[RenderableType] = [
        _title("Inspection gate"),
        Text.assemble(
            "queue ",
            (f"{status.gate_queue:,}", queue_style),
            f"   inspecting {status.by_state.get('inspecting', 0):,}",
            f"   hold lane {status.hold_lane:,}",
        ),
        Text(f"recent holds ({status.held:,} held in total)", style="bold"),
    ]
    if not status.holds:
        parts.append(Text("none", style="dim"))
    for hold in status.holds[:MAX_HOLDS]:
        parts.append(Text(f"• {hold}", style="yellow", no_wrap=True, overflow="ellipsis"))
    if len(status.holds) > MAX_HOLDS:
        parts.append(_more(len(status.holds) - MAX_HOLDS))
    return Group(*parts)


def _at_risk(items: Sequence[AtRisk]) -> RenderableType:
    """Orders closest to missing the 24-hour dispatch, oldest first."""
    parts: list[RenderableType] = [_title(f"At risk of missing 24 h dispatch ({len(items)})")]
    if not items:
        parts.append(Text("none", style="green"))
        return Group(*parts)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("order", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("state", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("age", justify="right", no_wrap=True)
    table.add_column("carrier", no_wrap=True, overflow="ellipsis", max_width=8)
    ordered = sorted(items, key=lambda a: -a.age_s)
    for item in ordered[:MAX_AT_RISK]:
        style = "bold red" if item.age_s >= 22 * 3600 else "yellow" if item.age_s >= 18 * 3600 else ""
        table.add_row(item.order_no, item.state, Text(hmm(item.age_s), style=style), item.carrier or "—")
    parts.append(table)
    if len(ordered) > MAX_AT_RISK:
        parts.append(_more(len(ordered) - MAX_AT_RISK))
    return Group(*parts)


def _cutoffs(cutoffs: dict[str, str]) -> RenderableType:
    """The next departure of each carrier, soonest first."""
    parts: list[RenderableType] = [_title("Next carrier cut-offs")]
    if not cutoffs:
        parts.append(Text("none scheduled", style="dim"))
        return Group(*parts)
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column(no_wrap=True)
    ordered = sorted(cutoffs.items(), key=lambda kv: (kv[1], kv[0]))
    for carrier, when in ordered[:MAX_CUTOFFS]:
        table.add_row(carrier, Text(when, style="bold"))
    parts.append(table)
    if len(ordered) > MAX_CUTOFFS:
        parts.append(_more(len(ordered) - MAX_CUTOFFS))
    return Group(*parts)


def _merge_alarms(snapshot: Sequence[Alarm], live: Iterable[Alarm]) -> list[Alarm]:
    """Alarms of the snapshot plus those received since, most recent first, without repeats."""
    seen: set[tuple[float, str, str]] = set()
    merged: list[Alarm] = []
    for alarm in (*live, *snapshot):
        key = (alarm.ts, alarm.source, alarm.message)
        if key not in seen:
            seen.add(key)
            merged.append(alarm)
    merged.sort(key=lambda a: -a.ts)
    return merged


def _alarms(status: Status, live: Sequence[Alarm], utc_offset_h: float | None) -> RenderableType:
    """Alarm totals by source and the most recent alarms coloured by severity."""
    parts: list[RenderableType] = [_title(f"Alarms ({status.alarms_total:,})")]
    by_source = sorted(status.alarms_by_source.items(), key=lambda kv: (-kv[1], kv[0]))
    if by_source:
        line = Text(
            " · ".join(f"{src} {n:,}" for src, n in by_source[:MAX_ALARM_SOURCES]),
            no_wrap=True,
            overflow="ellipsis",
        )
        if len(by_source) > MAX_ALARM_SOURCES:
            line.append(f" · +{len(by_source) - MAX_ALARM_SOURCES} sources", style="dim")
        parts.append(line)
    recent = _merge_alarms(status.alarms, live)
    if not recent:
        parts.append(Text("none", style="green"))
        return Group(*parts)
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, min_width=8)
    table.add_column(no_wrap=True, min_width=4)
    table.add_column(no_wrap=True, overflow="ellipsis", min_width=4, max_width=10)
    table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for alarm in recent[:MAX_ALARMS]:
        style = _SEVERITY_STYLE.get(alarm.severity, "")
        table.add_row(
            Text(_clock_text(alarm.ts, utc_offset_h, "%H:%M:%S"), style="dim"),
            Text(_SEVERITY_LABEL.get(alarm.severity, alarm.severity), style=style),
            alarm.source,
            Text(alarm.message, style=style),
        )
    parts.append(table)
    if len(recent) > MAX_ALARMS:
        parts.append(_more(len(recent) - MAX_ALARMS))
    return Group(*parts)


def _o2o_late(view: O2OView, target_s: float) -> bool:
    """Whether an O2O order took (or is taking) longer than the target."""
    return view.late or view.elapsed_s > target_s


def _counter(status: Status) -> RenderableType:
    """The counter view: each O2O order's counter, stage and elapsed time, red past the target."""
    target = status.o2o_target_s
    open_ = sorted((v for v in status.o2o if v.stage not in O2O_CLOSED), key=lambda v: -v.elapsed_s)
    closed = [v for v in status.o2o if v.stage in O2O_CLOSED]
    late = sum(_o2o_late(v, target) for v in open_)
    title = f"Counter view (O2O): {len(open_)} open, {late} past the {target:g} s target"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True, expand=True)
    table.add_column("order", no_wrap=True, overflow="ellipsis", max_width=30)
    table.add_column("counter", no_wrap=True, max_width=8)
    table.add_column("stage", no_wrap=True, max_width=12)
    table.add_column("elapsed", justify="right", no_wrap=True)
    table.add_column("reason", no_wrap=True, overflow="ellipsis", ratio=1)
    shown = [*open_, *closed]
    for v in shown[:MAX_O2O]:
        is_late = _o2o_late(v, target)
        style = "bold red" if is_late else "yellow" if v.stage in ("refused", "held", "rejected") else ""
        if not is_late and v.stage == "handed_over":
            style = "green"
        table.add_row(
            Text(v.order_no, style=style),
            v.counter,
            Text(v.stage, style=style),
            Text(f"{v.elapsed_s:,.0f} s", style=style),
            Text(v.reason or "", style="dim"),
        )
    parts: list[RenderableType] = [_title(title), table]
    if len(shown) > MAX_O2O:
        parts.append(_more(len(shown) - MAX_O2O))
    return Group(*parts)


def _gap() -> Text:
    """A blank line between sections."""
    return Text("")


def render(
    status: Status | None,
    *,
    now: float | None = None,
    connected: bool = True,
    topic: str | None = None,
    malformed: int = 0,
    age_s: float | None = None,
    live_alarms: Sequence[Alarm] = (),
    utc_offset_h: float | None = None,
) -> RenderableType:
    """The whole operator view of one status snapshot, laid out to fit a 120×40 terminal.

    ``now`` is the simulated instant shown in the header (default: the snapshot's own time), ``topic`` the
    status topic named while waiting, ``malformed`` the count of rejected payloads, ``age_s`` real seconds
    since the snapshot arrived, ``live_alarms`` alarms received since, ``utc_offset_h`` the display zone
    (None: the host's).
    """
    if status is None:
        where = f" on {topic}" if topic else ""
        lines: list[RenderableType] = [
            Text(f"waiting for the controller{where}…", style="bold yellow"),
            Text("● connected to the broker", style="green")
            if connected
            else Text("○ DISCONNECTED from the broker", style="bold red"),
        ]
        if malformed:
            lines.append(Text(f"malformed messages: {malformed}", style="bold red"))
        return Group(*lines)
    body = _Columns(
        [_stages(status), _gap(), _totals(status)],
        [_robots(status.robots), _gap(), _inspection(status)],
        [
            _at_risk(status.at_risk),
            _gap(),
            _cutoffs(status.next_cutoffs),
            _gap(),
            _alarms(status, live_alarms, utc_offset_h),
        ],
    )
    head = _header(status, now, connected, malformed, age_s, utc_offset_h)
    if status.o2o:  # the counter view only where the store has O2O orders
        return Group(head, body, _gap(), _counter(status))
    return Group(head, body)


class _Columns:
    """Three columns side by side on wide terminals (≥ 100), two on narrower ones, so nothing is squeezed."""

    def __init__(
        self, left: list[RenderableType], middle: list[RenderableType], right: list[RenderableType]
    ) -> None:
        self.left, self.middle, self.right = left, middle, right

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(vertical="top", width=26)
        if options.max_width >= 100:
            grid.add_column(ratio=50, vertical="top")
            grid.add_column(ratio=40, vertical="top")
            grid.add_row(Group(*self.left), Group(*self.middle), Group(*self.right))
        else:
            grid.add_column(ratio=1, vertical="top")
            grid.add_row(Group(*self.left), Group(*self.middle, _gap(), *self.right))
        yield grid


def snapshot_text(
    status: Status | None, width: int = 120, *, topic: str | None = None, utc_offset_h: float | None = None
) -> str:
    """The dashboard as plain text (no colours), for tests, logs and ``wms status``."""
    buf = StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None, record=False)
    console.print(render(status, topic=topic, utc_offset_h=utc_offset_h))
    return buf.getvalue()


class ConsoleClient:
    """Follows one partition's status and alarms over a bus, and sends the operator's e-stop and resume."""

    def __init__(self, bus: Bus, partition: str, *, operator: str = "console", keep_alarms: int = 50) -> None:
        self.bus = bus
        self.partition = partition
        self.operator = operator
        self.status_topic = topics.status(partition)
        self.status: Status | None = None
        self.received = 0
        self.malformed = 0
        self.malformed_alarms = 0
        self.alarms_received = 0
        self.alarms: deque[Alarm] = deque(maxlen=keep_alarms)
        self._last_update: float | None = None
        bus.subscribe(self.status_topic, self._on_status, qos=1)
        bus.subscribe(topics.alarms(partition), self._on_alarm, qos=1)

    def _on_status(self, topic: str, data: bytes) -> None:
        """Keep the newest valid snapshot; count and log anything else."""
        if not data:  # a cleared retained message: the controller is gone for good
            return
        try:
            status = Status.model_validate_json(data)
        except ValueError as exc:
            self.malformed += 1
            log.warning("console: malformed status on %s (%s): %.200r", topic, _first_line(exc), data)
            return
        if status.partition != self.partition:
            self.malformed += 1
            log.warning("console: status of partition %r on %s ignored", status.partition, topic)
            return
        self.status = status
        self.received += 1
        self._last_update = time.monotonic()

    def _on_alarm(self, topic: str, data: bytes) -> None:
        """Remember recent alarms so they show before the next snapshot lists them."""
        try:
            alarm = Alarm.model_validate_json(data)
        except ValueError as exc:
            self.malformed_alarms += 1
            log.warning("console: malformed alarm on %s (%s): %.200r", topic, _first_line(exc), data)
            return
        self.alarms_received += 1
        self.alarms.appendleft(alarm)

    @property
    def age_s(self) -> float | None:
        """Real seconds since the last valid snapshot arrived, or None before the first."""
        return None if self._last_update is None else time.monotonic() - self._last_update

    def _command(self, command: str) -> ControlCmd:
        """Publish one operator command at QoS 1."""
        cmd = ControlCmd.model_validate({"command": command, "operator": self.operator})
        self.bus.publish(topics.control(self.partition), cmd, qos=1)
        log.info("console: %s sent by %s", command, self.operator)
        return cmd

    def estop(self) -> ControlCmd:
        """Ask the controller for an emergency stop of everything that moves."""
        return self._command("estop")

    def resume(self) -> ControlCmd:
        """Ask the controller to resume after an emergency stop."""
        return self._command("resume")

    def view(self, *, connected: bool = True, utc_offset_h: float | None = None) -> RenderableType:
        """The dashboard of everything this client knows right now."""
        return render(
            self.status,
            connected=connected,
            topic=self.status_topic,
            malformed=self.malformed + self.malformed_alarms,
            age_s=self.age_s,
            live_alarms=list(self.alarms),
            utc_offset_h=utc_offset_h,
        )


def _first_line(exc: BaseException) -> str:
    """The first line of an exception message, for one-line log entries."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def run_console(
    url: str,
    partition: str,
    *,
    refresh_hz: float = 4.0,
    duration_s: float | None = None,
    utc_offset_h: float | None = None,
) -> None:
    """Show the live dashboard of ``partition`` from the broker at ``url`` until Ctrl-C or ``duration_s``."""
    if refresh_hz <= 0:
        raise ValueError(f"refresh_hz must be > 0, got {refresh_hz}")
    from wms.bus.mqtt import MqttBus  # paho is only needed for live runs

    clock = WallClock()
    clock.on_error = lambda exc: log.error("console: callback failed: %r", exc)
    bus = MqttBus(url, f"console-{uuid.uuid4().hex[:12]}", clock)
    client = ConsoleClient(bus, partition)
    period = 1.0 / refresh_hz
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        with Live(
            client.view(connected=bus.connected, utc_offset_h=utc_offset_h),
            auto_refresh=False,
            redirect_stderr=False,
        ) as live:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                clock.run(until=clock.now() + (period if left is None else min(period, left)))
                live.update(client.view(connected=bus.connected, utc_offset_h=utc_offset_h), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        bus.close()
