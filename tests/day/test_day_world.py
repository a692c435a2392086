"""The bench's views of a world in another process: taken in from its snapshots, nothing dropped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from wms.day.world import World


def snapshot(generated: list[tuple[str, float, bool]], charging: bool, sent: int) -> dict[str, Any]:
    return {
        "feed": {"sent": sent, "holding": 1, "held_back": 2, "unacked": 0, "resent": 0},
        "generated": generated,
        "robots": [("picking", "pick-01", charging, 3), ("sorting", "sort-01", False, 7)],
        "usage": {"cpu_s": 1.5},
    }


def test_views_follow_the_snapshots_and_orders_wait_for_a_listener() -> None:
    link = SimpleNamespace(windows=4, exchanges=3, waited_s=0.25, side=SimpleNamespace(sent=10, received=20))
    world = World(link, process=None)  # type: ignore[arg-type]
    world.update(snapshot([("A", 1.0, False)], charging=False, sent=1))
    heard: list[tuple[str, float, bool]] = []
    world.feed.on_generated = lambda *order: heard.append(order)
    world.update(snapshot([("B", 2.0, True)], charging=True, sent=2))
    assert heard == [("A", 1.0, False), ("B", 2.0, True)]  # the first, from before anyone listened, too
    assert (world.feed.sent, world.feed.holding, world.feed.held_back) == (2, 1, 2)
    pick, sort = world.robots
    assert (pick.kind, pick.serial, pick.charging, pick.orders_done) == ("picking", "pick-01", True, 3)
    assert (sort.kind, sort.orders_done) == ("sorting", 7)
    assert world.usage == {
        "cpu_s": 1.5,
        "windows": 4,
        "exchanges": 3,
        "messages_to_world": 10,
        "messages_from_world": 20,
        "controller_waited_s": 0.25,
    }
