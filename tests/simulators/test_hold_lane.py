"""Hold lane simulator: officers in parallel, first come first served, repeats answered once more."""

from __future__ import annotations

import json

from simulators.hold_lane import HoldLaneSim
from wms import topics
from wms.bus import InProcBroker
from wms.clock import VirtualClock
from wms.messages import ManualCheckResult

P = "t1"


def _rig(**kw: object) -> tuple[VirtualClock, object, list[tuple[float, ManualCheckResult]], HoldLaneSim]:
    clock = VirtualClock(start=0.0)
    broker = InProcBroker(clock)
    ctl = broker.client("controller")
    got: list[tuple[float, ManualCheckResult]] = []
    ctl.subscribe(
        topics.manual_result(P),
        lambda _t, d: got.append((clock.now(), ManualCheckResult.model_validate_json(d))),
        1,
    )
    sim = HoldLaneSim(broker.client("hold"), clock, P, **kw)  # type: ignore[arg-type]
    sim.start()
    return clock, ctl, got, sim


def test_two_officers_check_three_parcels_in_arrival_order() -> None:
    clock, ctl, got, sim = _rig(officers=2, check_s=100.0)
    for parcel in ("A", "B", "C"):
        ctl.publish(topics.manual_cmd(P), json.dumps({"parcel": parcel}), qos=1)  # type: ignore[attr-defined]
    ctl.publish(topics.manual_cmd(P), json.dumps({"parcel": "A"}), qos=1)  # type: ignore[attr-defined]
    clock.run(until=1000.0)
    assert [(t, r.parcel, r.verdict) for t, r in got] == [
        (100.0, "A", "release"),
        (100.0, "B", "release"),
        (200.0, "C", "release"),
    ]
    assert sim.duplicates == 1 and sim.waiting == 0


def test_a_repeat_after_the_answer_is_answered_again_and_bad_commands_are_counted() -> None:
    clock, ctl, got, sim = _rig(officers=1, check_s=10.0, reject_rate=1.0)
    ctl.publish(topics.manual_cmd(P), json.dumps({"parcel": "A"}), qos=1)  # type: ignore[attr-defined]
    clock.run(until=50.0)
    ctl.publish(topics.manual_cmd(P), json.dumps({"parcel": "A"}), qos=1)  # type: ignore[attr-defined]
    ctl.publish(topics.manual_cmd(P), b"{not json", qos=1)  # type: ignore[attr-defined]
    clock.run(until=100.0)
    assert [r.verdict for _, r in got] == ["reject", "reject"] and got[0][1] == got[1][1]
    assert got[0][1].finding and sim.checked == 1 and sim.rejected_cmds == 1
