"""A handler's commands leave only after its database changes commit; a failed handler sends nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from wms.bus.inproc import InProcBroker
from wms.clock import VirtualClock
from wms.control.outbox import Outbox
from wms.control.repo import Repo
from wms.store.db import connect
from wms.store.models import AlarmRow


def test_publish_waits_for_commit_and_failure_sends_nothing(tmp_path: Path) -> None:
    clock = VirtualClock()
    broker = InProcBroker(clock)
    repo = Repo(connect(f"sqlite:///{tmp_path / 'o.db'}"))
    outbox = Outbox(broker.client("ctl"), repo.unit)
    seen: list[tuple[bytes, int]] = []

    def committed() -> int:
        with repo.session() as s:
            return len(s.exec(select(AlarmRow)).all())

    broker.client("watch").subscribe("cmd", lambda t, d: seen.append((d, committed())))

    def handler(msg: str) -> None:
        repo.alarm(AlarmRow(ts=0.0, severity="info", source="t", message=msg))
        outbox.publish("cmd", msg)
        if msg == "boom":
            raise RuntimeError("handler failed")

    outbox.atomic(handler)("first")
    with pytest.raises(RuntimeError):
        outbox.atomic(handler)("boom")
    clock.run()
    assert seen == [(b"first", 1)]  # the command arrived after its row was committed; "boom" never left
    assert committed() == 1  # the failed handler's row was rolled back
