"""The ACL the generator writes: robots on their own topics, each service on the few it needs."""

from __future__ import annotations

import pytest

from wms.security.accounts import Account, Role, fleet_accounts
from wms.security.acl import mosquitto_acl, rules_by_user

ACCOUNTS = fleet_accounts("zz1", ["pick-01", "sort-01"])


def test_robot_rights_are_patterns_on_the_user_name() -> None:
    text = mosquitto_acl(ACCOUNTS, "zz1", "wmssim")
    patterns = [ln for ln in text.splitlines() if ln.startswith("pattern ")]
    assert patterns == [
        "pattern write uagv/v2/wmssim/%u/state",
        "pattern write uagv/v2/wmssim/%u/connection",
        "pattern write uagv/v2/wmssim/%u/factsheet",
        "pattern write uagv/v2/wmssim/%u/visualization",
        "pattern read uagv/v2/wmssim/%u/order",
        "pattern read uagv/v2/wmssim/%u/instantActions",
    ]
    assert "user pick-01" not in text  # one set of patterns serves every robot


def test_controller_block() -> None:
    text = mosquitto_acl(ACCOUNTS, "zz1", "wmssim")
    block = text.split("user zz1-controller\n")[1].split("\n\n")[0].splitlines()
    assert block == [
        "topic read uagv/v2/wmssim/+/state",
        "topic read uagv/v2/wmssim/+/connection",
        "topic read uagv/v2/wmssim/+/factsheet",
        "topic read uagv/v2/wmssim/+/visualization",
        "topic write uagv/v2/wmssim/+/order",
        "topic write uagv/v2/wmssim/+/instantActions",
        "topic readwrite wms/zz1/#",
    ]


def test_expanded_rights_per_user() -> None:
    rules = {
        u: {(r.access, r.topic) for r in rs} for u, rs in rules_by_user(ACCOUNTS, "zz1", "wmssim").items()
    }
    assert ("write", "uagv/v2/wmssim/pick-01/state") in rules["pick-01"]
    assert ("read", "uagv/v2/wmssim/sort-01/order") in rules["sort-01"]
    assert all("pick-01" not in t for _, t in rules["sort-01"])
    assert rules["zz1-console"] == {("read", "wms/zz1/#")}
    assert rules["zz1-cli"] == {
        ("write", "wms/zz1/control"),
        ("write", "wms/zz1/orders"),
        ("read", "wms/zz1/o2o"),
        ("write", "wms/zz1/stock/returns"),
        ("write", "wms/zz1/stock/adjustments"),
        ("read", "wms/zz1/stock/results"),
    }
    assert rules["zz1-conveyor"] == {("read", "wms/zz1/conveyor/cmd"), ("write", "wms/zz1/conveyor/event")}
    assert rules["zz1-xray"] == {("read", "wms/zz1/xray/cmd"), ("write", "wms/zz1/xray/result")}
    assert rules["zz1-order-feed"] == {
        ("write", "wms/zz1/orders"),
        ("write", "wms/zz1/inbound"),
        ("read", "wms/zz1/acks"),
        ("read", "wms/zz1/intake"),
    }
    for user, rs in rules.items():  # nobody but a robot writes robot telemetry
        if not user.startswith(("pick-", "sort-")):
            assert not [t for a, t in rs if "write" in a and t.startswith("uagv/") and t.endswith("/state")]


def test_accounts() -> None:
    assert Account("zz1-controller", Role.CONTROLLER) in ACCOUNTS
    assert Account("pick-01", Role.ROBOT) in ACCOUNTS
    assert len(ACCOUNTS) == len(Role) - 1 + 2
    assert len(fleet_accounts("zz1", ["pick-01", "pick-01"])) == len(ACCOUNTS) - 1  # repeats collapse


@pytest.mark.parametrize("serial", ["a/b", "+", "#", "a b", "", "zz1-controller"])
def test_unsafe_or_colliding_serials_are_refused(serial: str) -> None:
    """``/``, ``+``, ``#`` would widen a ``%u`` pattern; a service's name would give it a robot's rights."""
    with pytest.raises(ValueError, match="robot serial"):
        fleet_accounts("zz1", [serial])
