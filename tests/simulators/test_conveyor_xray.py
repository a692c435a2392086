"""Conveyor and X-ray gate simulators: virtual-time timing, FIFO lanes, suspect rate, repeats, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulators.conveyor import ConveyorSim, parcel_weight_kg
from simulators.xray import XrayGateSim
from wms import topics
from wms.bus import InProcBroker
from wms.bus.inproc import InProcBus
from wms.clock import VirtualClock
from wms.messages import ConveyorEvent, XrayResult

P = "t1"


class Rig:
    """A virtual clock, a broker, a controller-side client and the messages it received (with times)."""

    def __init__(self, result_topic: str) -> None:
        self.clock = VirtualClock(start=1000.0)
        self.broker = InProcBroker(self.clock)
        self.ctl: InProcBus = self.broker.client("controller")
        self.got: list[tuple[float, bytes]] = []
        self.ctl.subscribe(result_topic, lambda _t, d: self.got.append((self.clock.now(), d)), qos=1)

    def send(self, topic: str, payload: bytes | dict[str, Any]) -> None:
        """Publish as the controller would."""
        self.ctl.publish(topic, payload, qos=1)


def conveyor_rig(**kw: Any) -> tuple[Rig, ConveyorSim]:
    """A started conveyor simulator on a fresh rig."""
    rig = Rig(topics.conveyor_event(P))
    sim = ConveyorSim(rig.broker.client("conveyors"), rig.clock, P, **kw)
    sim.start()
    return rig, sim


def xray_rig(**kw: Any) -> tuple[Rig, XrayGateSim]:
    """A started X-ray gate simulator on a fresh rig."""
    rig = Rig(topics.xray_result(P))
    sim = XrayGateSim(rig.broker.client("gate"), rig.clock, P, **kw)
    sim.start()
    return rig, sim


def cmd(cmd_id: str, kind: str = "move", seconds: float = 10.0, parcel: str = "P1") -> dict[str, Any]:
    """A conveyor command as a dict."""
    return {
        "cmd_id": cmd_id,
        "parcel": parcel,
        "kind": kind,
        "origin": "A",
        "destination": "B",
        "seconds": seconds,
    }


def events(rig: Rig) -> list[tuple[float, ConveyorEvent]]:
    """Conveyor events received so far."""
    return [(t, ConveyorEvent.model_validate_json(d)) for t, d in rig.got]


def results(rig: Rig) -> list[tuple[float, XrayResult]]:
    """X-ray results received so far."""
    return [(t, XrayResult.model_validate_json(d)) for t, d in rig.got]


def test_conveyor_exact_timing_without_jitter() -> None:
    rig, sim = conveyor_rig(jitter=0.0)
    rig.send(topics.conveyor_cmd(P), cmd("c1", "move", 12.5))
    rig.send(topics.conveyor_cmd(P), cmd("c2", "pack", 40.0, parcel="P2"))
    rig.clock.run()
    (t1, e1), (t2, e2) = events(rig)
    assert t1 == pytest.approx(1012.5) and t2 == pytest.approx(1040.0)
    assert (e1.cmd_id, e1.kind, e1.location, e1.weight_kg) == ("c1", "arrived", "B", None)
    assert (e2.cmd_id, e2.kind, e2.parcel, e2.location) == ("c2", "packed", "P2", "B")
    assert e2.weight_kg == parcel_weight_kg("P2") and 0.2 <= e2.weight_kg <= 15.0
    assert sim.completed == 2 and sim.in_flight == 0


def test_conveyor_jitter_stays_within_bounds_and_varies() -> None:
    rig, _ = conveyor_rig(jitter=0.1, seed=3)
    for i in range(200):
        rig.send(topics.conveyor_cmd(P), cmd(f"c{i}", seconds=100.0, parcel=f"P{i}"))
    rig.clock.run()
    durations = [t - 1000.0 for t, _ in events(rig)]
    assert len(durations) == 200
    assert all(90.0 <= d <= 110.0 for d in durations)
    assert max(durations) - min(durations) > 10.0  # actually jittered, not constant


def test_conveyor_duplicate_in_flight_ignored_and_completed_republished() -> None:
    rig, sim = conveyor_rig(jitter=0.0)
    topic = topics.conveyor_cmd(P)
    rig.send(topic, cmd("c1", "pack"))
    rig.clock.run(until=1005.0)
    rig.send(topic, cmd("c1", "pack"))  # repeat while in flight: no second operation
    rig.clock.run()
    assert len(rig.got) == 1 and rig.got[0][0] == pytest.approx(1010.0)
    rig.send(topic, cmd("c1", "pack"))  # repeat after completion: the same event again, at once
    rig.clock.run()
    assert len(rig.got) == 2 and rig.got[1][1] == rig.got[0][1] and rig.got[1][0] == pytest.approx(1010.0)
    assert (sim.accepted, sim.completed, sim.duplicates, sim.republished) == (1, 1, 2, 1)


def test_conveyor_reused_cmd_id_for_other_parcel_is_rejected() -> None:
    rig, sim = conveyor_rig(jitter=0.0)
    rig.send(topics.conveyor_cmd(P), cmd("c1", parcel="P1"))
    rig.send(topics.conveyor_cmd(P), cmd("c1", parcel="P9"))
    rig.clock.run()
    assert [e.parcel for _, e in events(rig)] == ["P1"]
    assert sim.rejected == 1


def test_conveyor_malformed_commands_are_counted_not_fatal() -> None:
    rig, sim = conveyor_rig(jitter=0.0)
    topic = topics.conveyor_cmd(P)
    bad: list[bytes | dict[str, Any]] = [
        b"not json",
        b"",
        b"\xff\xfe",
        {"cmd_id": "x"},
        {**cmd("x"), "seconds": 0},
        {**cmd("x"), "kind": "teleport"},
        {**cmd("x"), "extra": 1},
        b'{"cmd_id":"x","parcel":"P","kind":"move","origin":"A","destination":"B","seconds":1e999}',
    ]
    for payload in bad:
        rig.send(topic, payload)
    rig.send(topic, cmd("ok"))
    rig.clock.run()
    assert sim.rejected == len(bad)
    assert [e.cmd_id for _, e in events(rig)] == ["ok"]
    assert rig.clock.errors == []


def test_conveyor_stop_drops_work_in_flight_and_ignores_commands() -> None:
    rig, sim = conveyor_rig(jitter=0.0)
    rig.send(topics.conveyor_cmd(P), cmd("c1"))
    rig.clock.run(until=1001.0)
    sim.stop()
    rig.send(topics.conveyor_cmd(P), cmd("c2"))
    rig.clock.run()
    assert rig.got == [] and sim.in_flight == 0 and sim.received == 1
    sim.start()
    rig.send(topics.conveyor_cmd(P), cmd("c1"))  # the controller's retry goes through after restart
    rig.clock.run()
    assert [e.cmd_id for _, e in events(rig)] == ["c1"]


def test_xray_lanes_are_fifo_and_scan_one_at_a_time() -> None:
    rig, sim = xray_rig(lanes=2, scan_s=5.0, suspect_rate=0.0)
    topic = topics.xray_cmd(P)
    for parcel, lane in [("a", 0), ("b", 0), ("x", 1), ("c", 0)]:
        rig.send(topic, {"parcel": parcel, "lane": lane})
    rig.clock.run(until=1000.0)
    assert (sim.queue_length(0), sim.queue_length(1), sim.queued) == (3, 1, 4)
    rig.clock.run()
    got = [(t, r.lane, r.parcel) for t, r in results(rig)]
    assert sorted(got) == [(1005.0, 0, "a"), (1005.0, 1, "x"), (1010.0, 0, "b"), (1015.0, 0, "c")]
    assert all(r.verdict == "clear" for _, r in results(rig))
    assert sim.scanned == 4 and sim.queued == 0


def test_xray_lane_idle_restarts_on_new_parcel() -> None:
    rig, _ = xray_rig(lanes=1, scan_s=3.0, suspect_rate=0.0)
    rig.send(topics.xray_cmd(P), {"parcel": "a", "lane": 0})
    rig.clock.run(until=1100.0)
    rig.send(topics.xray_cmd(P), {"parcel": "b", "lane": 0})
    rig.clock.run()
    assert [t for t, _ in results(rig)] == [pytest.approx(1003.0), pytest.approx(1103.0)]


def test_xray_suspect_rate_near_configured_and_image_ids_unique() -> None:
    rig, sim = xray_rig(lanes=4, scan_s=2.0, suspect_rate=0.1, seed=11)
    n = 2000
    for i in range(n):
        rig.send(topics.xray_cmd(P), {"parcel": f"p{i}", "lane": i % 4})
    rig.clock.run()
    got = [r for _, r in results(rig)]
    assert len(got) == n
    suspects = sum(r.verdict == "suspect" for r in got)
    sd = (n * 0.1 * 0.9) ** 0.5
    assert abs(suspects - n * 0.1) < 4 * sd
    assert suspects == sim.suspects
    assert len({r.image_id for r in got}) == n
    assert rig.clock.now() == pytest.approx(1000.0 + 500 * 2.0)  # 4 lanes in parallel, 500 each


def test_xray_same_seed_same_verdicts() -> None:
    verdicts = []
    for _ in range(2):
        rig, _ = xray_rig(lanes=2, scan_s=1.0, suspect_rate=0.3, seed=5)
        for i in range(100):
            rig.send(topics.xray_cmd(P), {"parcel": f"p{i}", "lane": i % 2})
        rig.clock.run()
        verdicts.append([(r.parcel, r.verdict) for _, r in results(rig)])
    assert verdicts[0] == verdicts[1]


def test_xray_duplicate_while_queued_ignored_but_rescan_later_allowed() -> None:
    rig, sim = xray_rig(lanes=2, scan_s=5.0, suspect_rate=0.0)
    topic = topics.xray_cmd(P)
    rig.send(topic, {"parcel": "a", "lane": 0})
    rig.send(topic, {"parcel": "b", "lane": 0})
    rig.send(topic, {"parcel": "b", "lane": 0})  # queued
    rig.send(topic, {"parcel": "a", "lane": 1})  # being scanned, on another lane
    rig.clock.run()
    assert [r.parcel for _, r in results(rig)] == ["a", "b"] and sim.duplicates == 2
    rig.send(topic, {"parcel": "a", "lane": 1})  # a second inspection after the first finished
    rig.clock.run()
    assert [r.parcel for _, r in results(rig)] == ["a", "b", "a"]


def test_xray_unknown_lane_and_malformed_counted() -> None:
    rig, sim = xray_rig(lanes=2, scan_s=1.0, suspect_rate=0.5)
    topic = topics.xray_cmd(P)
    for payload in [{"parcel": "a", "lane": 2}, {"parcel": "a", "lane": -1}, {"parcel": "a"}, b"{", b""]:
        rig.send(topic, payload)
    rig.send(topic, json.dumps({"parcel": "ok", "lane": 1}).encode())
    rig.clock.run()
    assert sim.rejected == 5
    assert [r.parcel for _, r in results(rig)] == ["ok"]
    assert sim.counters()["received"] == 6


def test_xray_stop_drops_queues() -> None:
    rig, sim = xray_rig(lanes=1, scan_s=5.0, suspect_rate=0.0)
    for p in "abc":
        rig.send(topics.xray_cmd(P), {"parcel": p, "lane": 0})
    rig.clock.run(until=1001.0)
    sim.stop()
    rig.clock.run()
    assert rig.got == [] and sim.queued == 0 and sim.queue_length(0) == 0


@pytest.mark.parametrize(
    "kw",
    [
        {"lanes": 0, "scan_s": 1.0, "suspect_rate": 0.1},
        {"lanes": 1, "scan_s": 0.0, "suspect_rate": 0.1},
        {"lanes": 1, "scan_s": 1.0, "suspect_rate": 1.5},
    ],
)
def test_xray_bad_settings_refused(kw: dict[str, Any]) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError):
        XrayGateSim(InProcBroker(clock).client("g"), clock, P, **kw)


def test_conveyor_bad_jitter_refused() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError):
        ConveyorSim(InProcBroker(clock).client("c"), clock, P, jitter=1.0)
